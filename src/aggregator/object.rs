//! The aggregator Durable Object: one per fleet. Senders post their batches at most every flush
//! interval; it merges them in memory and writes each series' minute row to D1 once per minute
//! (its alarm, or the hub's minute cron asking for a write), so D1 rows written grow with the
//! number of active series, not with the number of isolates or flushes.
//!
//! Counts merged since the last write live in memory: if the object is evicted before its next
//! write they are lost (at most one minute of the fleet's counts). A failed write keeps them
//! for the next attempt.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Map;
use worker::{durable_object, Env, Method, Request, Response, Result, State};

use super::client::path;
use crate::clock::now_ms;
use crate::settings;
use crate::store::Store;
use crate::telemetry::caps::LabelCap;
use crate::telemetry::counters::{AGGREGATOR_BATCHES, FOLDED_PREFIX};
use crate::telemetry::ingest::{parse_batch, AggregatorStatus};
use crate::telemetry::invocations::InvocationLedger;
use crate::telemetry::log::{error_field, Level};
use crate::telemetry::metrics::{Aggregator, Flush};
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
    /// Stored labels, read from D1 at the first write.
    labels: RefCell<Option<LabelCap>>,
    alarm_set: Cell<bool>,
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
            labels: RefCell::default(),
            alarm_set: Cell::new(false),
            last_write_ms: Cell::new(None),
            last_error: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        match (req.method(), url.path()) {
            (Method::Get, path::STATUS) => Response::from_json(&self.status()),
            (Method::Post, path::INGEST) => {
                let body = req.bytes().await?;
                if body.len() > MAX_BODY_BYTES {
                    return Response::error(format!("batch over {MAX_BODY_BYTES} bytes"), 413);
                }
                if let Err(reason) = self.merge(&body).await {
                    self.log_problem("aggregator refused a batch", "InvalidBatch", &reason);
                    return Response::error(reason, 400);
                }
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
    /// Adds a sender's batch to what is pending and makes sure a write is scheduled.
    async fn merge(&self, body: &[u8]) -> std::result::Result<(), String> {
        let batch = parse_batch(body)?;
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
        if !self.alarm_set.get() {
            let at = now_ms() + WRITE_INTERVAL_MS;
            self.schedule(at).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn schedule(&self, at_ms: f64) -> Result<()> {
        self.state.storage().set_alarm(at_ms as i64).await?;
        self.alarm_set.set(true);
        Ok(())
    }

    /// Writes everything pending to D1 in one batch; on failure it stays pending.
    async fn write(&self) -> std::result::Result<(), String> {
        let now = now_ms();
        // This isolate's own counts and D1 cost (earlier writes) go with the fleet's; the
        // isolate may also run the hub's tail handler, whose invocations must not be lost.
        let own = pipeline::take(now);
        self.pending.borrow_mut().absorb(own.flush);
        self.pending_queries.borrow_mut().absorb(own.queries);
        self.pending_invocations
            .borrow_mut()
            .absorb(own.invocations);
        let mut pending = Pending {
            flush: self.pending.borrow_mut().take(now),
            queries: self.pending_queries.borrow_mut().take(),
            invocations: self.pending_invocations.borrow_mut().take(),
            counters: std::mem::take(&mut *self.counters.borrow_mut()),
        };
        add_counts(&mut pending.counters, own.cost.increments());
        if pending.is_empty() {
            return Ok(());
        }
        let result = self.write_to_d1(&mut pending).await;
        match &result {
            Ok(()) => {
                self.last_write_ms.set(Some(now));
                self.last_error.replace(None);
            }
            Err(reason) => {
                self.pending.borrow_mut().absorb(pending.flush);
                self.pending_queries.borrow_mut().absorb(pending.queries);
                self.pending_invocations
                    .borrow_mut()
                    .absorb(pending.invocations);
                add_counts(&mut self.counters.borrow_mut(), pending.counters);
                self.last_error.replace(Some((now, reason.clone())));
                let message = "aggregator write failed; counts kept for the next write";
                self.log_problem(message, "AggregatorWriteFailed", reason);
            }
        }
        result
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
            )
            .await
            .map_err(|e| e.to_string())
    }

    fn status(&self) -> AggregatorStatus {
        let error = self.last_error.borrow();
        AggregatorStatus {
            pending_series: self.pending.borrow().len(),
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

/// Everything one write takes out of the aggregator (and puts back if it fails).
struct Pending {
    flush: Flush,
    queries: QueryLedger,
    invocations: InvocationLedger,
    counters: BTreeMap<String, u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.flush.is_empty()
            && self.queries.is_empty()
            && self.invocations.is_empty()
            && self.counters.is_empty()
    }
}

/// Adds `(counter name, increment)` pairs to pending counter increments.
fn add_counts(
    counters: &mut BTreeMap<String, u64>,
    counts: impl IntoIterator<Item = (String, u64)>,
) {
    for (name, by) in counts {
        *counters.entry(name).or_default() += by;
    }
}
