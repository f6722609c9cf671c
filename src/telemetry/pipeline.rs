//! The shell side of request metrics: this isolate's one [`Aggregator`], and its flush to D1.
//!
//! A flush takes the counts out before writing, so concurrent requests never double count; a
//! failed write puts them back for the next flush.

use std::cell::RefCell;

use worker::Env;

use super::metrics::{Aggregator, Served};
use crate::store::{self, Store, StoreError};
use vigil_core::telemetry::store_cost::Operation;

thread_local! {
    // Wasm isolates are single-threaded: this is the isolate's aggregator.
    static AGGREGATOR: RefCell<Aggregator> = RefCell::new(Aggregator::default());
}

/// Counts one served request.
pub fn record(now_ms: f64, served: &Served<'_>) {
    AGGREGATOR.with(|a| a.borrow_mut().record(now_ms, served));
}

/// Whether this isolate should flush now, given the flush interval.
pub fn flush_due(now_ms: f64, interval_seconds: u32) -> bool {
    AGGREGATOR.with(|a| {
        a.borrow()
            .flush_due(now_ms, f64::from(interval_seconds) * 1000.0)
    })
}

/// Writes everything unflushed to D1 (request metrics and the isolate's own D1 cost); on
/// failure the counts stay for the next flush.
pub async fn flush(env: &Env, now_ms: f64) -> Result<(), StoreError> {
    let batch = AGGREGATOR.with(|a| a.borrow_mut().take(now_ms));
    let cost = store::take_cost();
    if batch.is_empty() && cost.is_empty() {
        return Ok(());
    }
    let written = match Store::open(env, Operation::Flush) {
        Ok(store) => store.flush_request_metrics(&batch, &cost).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        AGGREGATOR.with(|a| a.borrow_mut().restore(batch));
        store::restore_cost(cost);
    }
    written
}
