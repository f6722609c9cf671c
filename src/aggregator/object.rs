//! The aggregator Durable Object: one per fleet. Senders post their batches at most every flush
//! interval; it merges them in memory and writes each series' minute row to D1 once per minute
//! (its alarm, or the hub's minute cron asking for a write), so D1 rows written grow with the
//! number of active series, not with the number of isolates or flushes.
//!
//! Every accepted batch is journalled in the object's own storage before the sender is
//! answered (see `journal`), so counts survive an eviction, a deploy or a restart, and a
//! failed write keeps them for the next attempt.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Map;
use worker::{durable_object, Env, Method, Request, Response, Result, State};

use super::client::path;
use super::journal::{self, Recovered};
use super::pending::{add_counts, Pending};
use crate::clock::now_ms;
use crate::settings;
use crate::store::Store;
use crate::telemetry::caps::LabelCap;
use crate::telemetry::counters::{
    AGGREGATOR_BATCHES, AGGREGATOR_BATCHES_RECOVERED, AGGREGATOR_BATCHES_UNREADABLE, FOLDED_PREFIX,
};
use crate::telemetry::ingest::{parse_batch, AggregatorStatus, Batch};
use crate::telemetry::invocations::InvocationLedger;
use crate::telemetry::log::{error_field, Level};
use crate::telemetry::metrics::Aggregator;
use crate::telemetry::pipeline;
use crate::telemetry::queries::QueryLedger;
use crate::telemetry::store_cost::Operation;

/// The write interval: each series' minute row once per minute.
const WRITE_INTERVAL_MS: f64 = 60_000.0;
/// After a write, the alarm waits this much longer than the interval, so the hub's minute cron
/// (which asks for a write) normally comes first and the alarm finds nothing to do.
const ALARM_SLACK_MS: f64 = 5_000.0;
/// A failed write is retried this soon.
const RETRY_MS: f64 = 30_000.0;
/// Largest batch body accepted (a full sender batch is well under 2 MB of JSON).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[durable_object(alarm)]
pub struct MetricsAggregator {
    state: State,
    env: Env,
    pending: RefCell<Aggregator>,
    /// Applications' D1 query stats waiting for the next write.
    pending_queries: RefCell<QueryLedger>,
    /// Tailed workers' invocations waiting for the next write.
    pending_invocations: RefCell<InvocationLedger>,
    /// Counter increments waiting for the next write (D1 cost, batches, folded series).
    counters: RefCell<BTreeMap<String, u64>>,
    /// The journalled batches whose counts are in the pending fields above.
    held: RefCell<Vec<u64>>,
    /// Batches an earlier instance journalled, found at start; whether each was written is
    /// known only at the next write (the watermark is in D1).
    recovered: RefCell<Vec<(u64, Batch)>>,
    /// Whether this instance has read the journal yet.
    journal_read: Cell<bool>,
    last_seq: Cell<Option<u64>>,
    /// Stored labels, read from D1 at the first write.
    labels: RefCell<Option<LabelCap>>,
    alarm_set: Cell<bool>,
    /// A write is waiting on D1. Writes never overlap: a later write's watermark would cover
    /// the batches of an earlier one that then failed.
    writing: Cell<bool>,
    last_write_ms: Cell<Option<f64>>,
    last_error: RefCell<Option<(f64, String)>>,
}

impl worker::DurableObject for MetricsAggregator {
    fn new(state: State, env: Env) -> Self {
        MetricsAggregator {
            state,
            env,
            pending: RefCell::default(),
            pending_queries: RefCell::default(),
            pending_invocations: RefCell::default(),
            counters: RefCell::default(),
            held: RefCell::default(),
            recovered: RefCell::default(),
            journal_read: Cell::new(false),
            last_seq: Cell::new(None),
            labels: RefCell::default(),
            alarm_set: Cell::new(false),
            writing: Cell::new(false),
            last_write_ms: Cell::new(None),
            last_error: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.read_journal().await?;
        let url = req.url()?;
        match (req.method(), url.path()) {
            (Method::Get, path::STATUS) => Response::from_json(&self.status()),
            (Method::Post, path::INGEST) => {
                let body = req.bytes().await?;
                if body.len() > MAX_BODY_BYTES {
                    return Response::error(format!("batch over {MAX_BODY_BYTES} bytes"), 413);
                }
                let batch = match parse_batch(&body) {
                    Ok(batch) => batch,
                    Err(reason) => {
                        self.log_problem("aggregator refused a batch", "InvalidBatch", &reason);
                        return Response::error(reason, 400);
                    }
                };
                // Journalled before it is acknowledged: a sender that got no answer keeps it.
                let text = String::from_utf8_lossy(&body);
                self.merge(batch, &text).await?;
                // Merged either way; a failed write is reported, and the counts stay pending.
                if url.query() == Some("write=now") {
                    if let Err(reason) = self.write().await {
                        return Ok(Response::ok(reason)?.with_status(202));
                    }
                }
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.read_journal().await?;
        self.alarm_set.set(false);
        let now = now_ms();
        let recent = self
            .last_write_ms
            .get()
            .filter(|&last| now - last < WRITE_INTERVAL_MS - ALARM_SLACK_MS);
        if let Some(last) = recent {
            // Someone (the cron) wrote moments ago: come back one interval after that write.
            self.schedule(last + WRITE_INTERVAL_MS + ALARM_SLACK_MS)
                .await?;
        } else if self.write().await.is_err() {
            self.schedule(now + RETRY_MS).await?;
        }
        Response::empty()
    }
}

impl MetricsAggregator {
    /// Once per instance: what earlier instances journalled and did not remove.
    async fn read_journal(&self) -> Result<()> {
        if self.journal_read.get() {
            return Ok(());
        }
        let Recovered {
            batches,
            unreadable,
            last_error,
        } = journal::recover(&self.state.storage()).await?;
        let last = batches.last().map(|(seq, _)| *seq);
        self.last_seq
            .set(last.max(unreadable.iter().max().copied()));
        if !unreadable.is_empty() {
            journal::remove(&self.state.storage(), &unreadable).await?;
            let dropped = [(
                AGGREGATOR_BATCHES_UNREADABLE.to_string(),
                unreadable.len() as u64,
            )];
            add_counts(&mut self.counters.borrow_mut(), dropped);
        }
        if !batches.is_empty() {
            // Written on the alarm's schedule even if no sender comes back.
            self.schedule(now_ms() + RETRY_MS).await?;
        }
        self.recovered.replace(batches);
        self.last_error.replace(last_error);
        self.journal_read.set(true);
        Ok(())
    }

    /// Journals a sender's batch, adds it to what is pending and makes sure a write is
    /// scheduled.
    async fn merge(&self, batch: Batch, text: &str) -> Result<()> {
        let seq = journal::next_seq(now_ms(), self.last_seq.get());
        journal::append(&self.state.storage(), seq, text).await?;
        self.last_seq.set(Some(seq));
        self.absorb(seq, batch);
        if !self.alarm_set.get() {
            self.schedule(now_ms() + WRITE_INTERVAL_MS).await?;
        }
        Ok(())
    }

    /// Adds a journalled batch to what is pending.
    fn absorb(&self, seq: u64, batch: Batch) {
        self.pending.borrow_mut().absorb(batch.flush);
        self.pending_queries.borrow_mut().absorb(batch.queries);
        self.pending_invocations
            .borrow_mut()
            .absorb(batch.invocations);
        let batches = (AGGREGATOR_BATCHES.to_string(), 1);
        add_counts(
            &mut self.counters.borrow_mut(),
            batch.cost.increments().into_iter().chain([batches]),
        );
        self.held.borrow_mut().push(seq);
    }

    async fn schedule(&self, at_ms: f64) -> Result<()> {
        self.state.storage().set_alarm(at_ms as i64).await?;
        self.alarm_set.set(true);
        Ok(())
    }

    /// Writes everything pending to D1 in one batch, then removes it from the journal; on
    /// failure it stays pending (and journalled). While another write is under way this one
    /// leaves its counts pending for the next (the alarm is set).
    async fn write(&self) -> std::result::Result<(), String> {
        if self.writing.replace(true) {
            return Ok(());
        }
        let result = self.write_pending().await;
        self.writing.set(false);
        result
    }

    async fn write_pending(&self) -> std::result::Result<(), String> {
        let now = now_ms();
        self.settle_recovered().await?;
        // This isolate's own counts and D1 cost (earlier writes) go with the fleet's, journalled
        // like a sender's batch; the isolate may also run the hub's tail handler.
        let own = pipeline::take(now);
        if !own.is_empty() {
            let text = serde_json::to_string(&own).map_err(|e| e.to_string())?;
            if let Err(e) = self.merge(own, &text).await {
                return Err(format!("journal: {e}"));
            }
        }
        let mut pending = Pending {
            flush: self.pending.borrow_mut().take(now),
            queries: self.pending_queries.borrow_mut().take(),
            invocations: self.pending_invocations.borrow_mut().take(),
            counters: std::mem::take(&mut *self.counters.borrow_mut()),
            held: std::mem::take(&mut *self.held.borrow_mut()),
        };
        if pending.is_empty() {
            return Ok(());
        }
        match self.write_to_d1(&mut pending).await {
            Ok(()) => {
                self.written(now, pending.held).await;
                Ok(())
            }
            Err(reason) => {
                self.keep_after_failure(now, pending, &reason).await;
                Err(reason)
            }
        }
    }

    /// After a write: its batches leave the journal. If removing them fails they are under
    /// the watermark, so the next write removes them without counting them again.
    async fn written(&self, now: f64, held: Vec<u64>) {
        self.last_write_ms.set(Some(now));
        if journal::remove(&self.state.storage(), &held).await.is_err() {
            let stale = held.into_iter().map(|seq| (seq, Batch::default()));
            self.recovered.borrow_mut().extend(stale);
        }
        if self.last_error.replace(None).is_some() {
            let _ = journal::set_last_error(&self.state.storage(), None).await;
        }
    }

    /// After a failed write: everything stays pending (and journalled) for the next.
    async fn keep_after_failure(&self, now: f64, pending: Pending, reason: &str) {
        self.pending.borrow_mut().absorb(pending.flush);
        self.pending_queries.borrow_mut().absorb(pending.queries);
        self.pending_invocations
            .borrow_mut()
            .absorb(pending.invocations);
        add_counts(&mut self.counters.borrow_mut(), pending.counters);
        self.held.borrow_mut().extend(pending.held);
        let error = (now, reason.to_string());
        let _ = journal::set_last_error(&self.state.storage(), Some(&error)).await;
        self.last_error.replace(Some(error));
        let message = "aggregator write failed; counts kept for the next write";
        self.log_problem(message, "AggregatorWriteFailed", reason);
    }

    /// Settles the batches an earlier instance journalled: those above D1's watermark join
    /// what is pending; the others were written by an instance that stopped before removing
    /// them, and are removed now.
    async fn settle_recovered(&self) -> std::result::Result<(), String> {
        if self.recovered.borrow().is_empty() {
            return Ok(());
        }
        let store = Store::open(&self.env, Operation::Flush).map_err(|e| e.to_string())?;
        let watermark = store
            .aggregator_watermark()
            .await
            .map_err(|e| e.to_string())?;
        let recovered = std::mem::take(&mut *self.recovered.borrow_mut());
        let (fresh, written): (Vec<_>, Vec<_>) =
            recovered.into_iter().partition(|(seq, _)| *seq > watermark);
        let written: Vec<u64> = written.into_iter().map(|(seq, _)| seq).collect();
        if let Err(e) = journal::remove(&self.state.storage(), &written).await {
            return Err(format!("journal: {e}"));
        }
        let count = (AGGREGATOR_BATCHES_RECOVERED.to_string(), fresh.len() as u64);
        add_counts(&mut self.counters.borrow_mut(), [count]);
        for (seq, batch) in fresh {
            self.absorb(seq, batch);
        }
        Ok(())
    }

    async fn write_to_d1(&self, pending: &mut Pending) -> std::result::Result<(), String> {
        let store = Store::open(&self.env, Operation::Flush).map_err(|e| e.to_string())?;
        if self.labels.borrow().is_none() {
            let stored = store.stored_labels().await.map_err(|e| e.to_string())?;
            let mut cap = LabelCap::default();
            for (service, route) in &stored.routes {
                cap.learn(service, route);
            }
            for service in &stored.tailed_services {
                cap.learn_service(service);
            }
            for (service, name) in &stored.exceptions {
                cap.learn_exception(service, name);
            }
            self.labels.replace(Some(cap));
        }
        let folded = match self.labels.borrow_mut().as_mut() {
            Some(cap) => {
                let folded = cap.apply(&mut pending.flush);
                cap.apply_to_queries(&mut pending.queries);
                cap.apply_to_invocations(&mut pending.invocations);
                folded
            }
            None => BTreeMap::new(),
        };
        let folded = folded
            .into_iter()
            .map(|(service, n)| (format!("{FOLDED_PREFIX}{service}"), n));
        add_counts(&mut pending.counters, folded);
        let counters: Vec<(String, u64)> = pending
            .counters
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        store
            .write_series(
                &pending.flush,
                &pending.queries,
                &pending.invocations,
                &counters,
                pending.held.iter().max().copied(),
            )
            .await
            .map_err(|e| e.to_string())
    }

    fn status(&self) -> AggregatorStatus {
        let error = self.last_error.borrow();
        let recovered = self.recovered.borrow();
        let recovered_series: usize = recovered.iter().map(|(_, b)| b.flush.series.len()).sum();
        AggregatorStatus {
            pending_series: self.pending.borrow().len() + recovered_series,
            journalled_batches: self.held.borrow().len() + recovered.len(),
            last_write_ms: self.last_write_ms.get(),
            last_error: error.as_ref().map(|(_, reason)| reason.clone()),
            last_error_ms: error.as_ref().map(|(at, _)| *at),
        }
    }

    fn log_problem(&self, message: &str, kind: &str, reason: &str) {
        let mut fields = Map::new();
        fields.insert("error".into(), error_field(kind, reason));
        settings::load(&self.env)
            .logger
            .emit(Level::Warn, message, fields);
    }
}
