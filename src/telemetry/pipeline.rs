//! This isolate's unflushed telemetry: one request-metrics [`Aggregator`], one ledger of the
//! D1 rows the hub's own statements cost, one of an application's D1 query stats and one of
//! tailed invocations. A flush takes them out as one [`Batch`] before sending it, so
//! concurrent requests never double count; a failed send puts the batch back.

use std::cell::RefCell;

use super::ingest::Batch;
use super::invocations::InvocationLedger;
use super::metrics::{Aggregator, Served};
use super::queries::{Query, QueryLedger};
use super::store_cost::{CostLedger, Operation};
use super::trace::Invocation;

thread_local! {
    // Wasm isolates are single-threaded: these are the isolate's.
    static AGGREGATOR: RefCell<Aggregator> = RefCell::new(Aggregator::default());
    static LEDGER: RefCell<CostLedger> = RefCell::new(CostLedger::default());
    static QUERIES: RefCell<QueryLedger> = RefCell::new(QueryLedger::default());
    static INVOCATIONS: RefCell<InvocationLedger> = RefCell::new(InvocationLedger::default());
}

/// Counts one served request.
pub fn record(now_ms: f64, served: &Served<'_>) {
    AGGREGATOR.with(|a| a.borrow_mut().record(now_ms, served));
}

/// Counts one request to an embedded application's health endpoints, apart from its traffic.
pub fn record_health_check(now_ms: f64) {
    AGGREGATOR.with(|a| a.borrow_mut().record_health_check(now_ms));
}

/// Adds the rows one D1 statement read and wrote to the isolate's ledger.
pub fn bill(operation: Operation, read: u64, written: u64) {
    LEDGER.with(|l| l.borrow_mut().add(operation, read, written));
}

/// Takes the rows billed so far, for a job to hand back to the invocation that called it.
pub fn take_cost() -> CostLedger {
    LEDGER.with(|l| l.borrow_mut().take())
}

/// Adds rows billed elsewhere (a job's) to this isolate's ledger.
pub fn restore_cost(cost: CostLedger) {
    LEDGER.with(|l| l.borrow_mut().restore(cost));
}

/// Counts one D1 statement an application ran.
pub fn record_query(query: &Query<'_>) {
    QUERIES.with(|q| q.borrow_mut().record(query));
}

/// Counts one tailed invocation; a fetch that answered also counts as an HTTP request.
pub fn record_invocation(now_ms: f64, invocation: &Invocation) {
    if let Some(request) = &invocation.request {
        let served = Served {
            service: &invocation.service,
            route: &request.route,
            method: &request.method,
            code: request.code,
            duration_ms: invocation.wall_ms,
        };
        record(now_ms, &served);
    }
    INVOCATIONS.with(|l| l.borrow_mut().record(now_ms, invocation));
}

/// Counts elements of a tail batch that were not trace items.
pub fn count_malformed(items: usize) {
    INVOCATIONS.with(|l| l.borrow_mut().malformed += items as u64);
}

/// Whether this isolate should flush now, given the flush interval.
pub fn flush_due(now_ms: f64, interval_seconds: u32) -> bool {
    let interval_ms = f64::from(interval_seconds) * 1000.0;
    AGGREGATOR.with(|a| a.borrow().flush_due(now_ms, interval_ms))
        || INVOCATIONS.with(|l| l.borrow().flush_due(now_ms, interval_ms))
}

/// Takes everything unflushed out of the isolate.
pub fn take(now_ms: f64) -> Batch {
    let flush = AGGREGATOR.with(|a| a.borrow_mut().take(now_ms));
    let cost = LEDGER.with(|l| l.borrow_mut().take());
    let mut batch = Batch::new(flush, cost);
    batch.queries = QUERIES.with(|q| q.borrow_mut().take());
    batch.invocations = INVOCATIONS.with(|l| l.borrow_mut().take());
    batch
}

/// Puts back a batch that could not be delivered, so the next flush carries it.
pub fn restore(batch: Batch) {
    AGGREGATOR.with(|a| a.borrow_mut().absorb(batch.flush));
    LEDGER.with(|l| l.borrow_mut().restore(batch.cost));
    QUERIES.with(|q| q.borrow_mut().absorb(batch.queries));
    INVOCATIONS.with(|l| l.borrow_mut().absorb(batch.invocations));
}
