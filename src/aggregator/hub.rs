//! How the hub's isolates flush: their batch goes to the aggregator like any sender's. Without
//! an aggregator binding (an older `wrangler.toml`) the hub still has the database, so it
//! writes the batch itself, one D1 batch per flush as before, and counts the fallback.

use serde_json::{Map, Value};
use worker::Env;

use super::client::{self, Ack, Delivery, SendError};
use crate::store::{Store, StoreError};
use crate::telemetry::counters::AGGREGATOR_FALLBACKS;
use crate::telemetry::log::{error_field, Level, Logger};
use crate::telemetry::pipeline;
use crate::telemetry::store_cost::Operation;

/// How a flush went.
#[derive(Debug, Clone, PartialEq)]
pub enum Flushed {
    /// Nothing to write (no aggregator binding, and nothing counted).
    Nothing,
    /// Merged by the aggregator (and written, if asked).
    Aggregated,
    /// Merged, but the write asked for failed; the aggregator keeps the counts.
    WriteFailed(String),
    /// No aggregator binding: written to D1 by this isolate.
    Direct,
}

/// Why a flush failed; the isolate keeps its counts for the next flush.
#[derive(Debug, Clone, PartialEq)]
pub enum FlushError {
    Send(SendError),
    Store(StoreError),
}

impl std::fmt::Display for FlushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlushError::Send(e) => write!(f, "{e}"),
            FlushError::Store(e) => write!(f, "{e}"),
        }
    }
}

/// Sends this isolate's batch to the aggregator (or, without one, to D1).
pub async fn flush(env: &Env, now_ms: f64, delivery: Delivery) -> Result<Flushed, FlushError> {
    if env.durable_object(client::BINDING).is_err() {
        return write_directly(env, now_ms, delivery).await;
    }
    match client::ship(env, now_ms, delivery).await {
        Ok(Ack::Merged) => Ok(Flushed::Aggregated),
        Ok(Ack::WriteFailed(reason)) => Ok(Flushed::WriteFailed(reason)),
        Err(e) => Err(FlushError::Send(e)),
    }
}

/// Without an aggregator the hub writes its batch itself (one D1 batch), counting the fallback;
/// a failed write puts the batch back.
async fn write_directly(env: &Env, now_ms: f64, delivery: Delivery) -> Result<Flushed, FlushError> {
    let batch = pipeline::take(now_ms);
    if batch.is_empty() && delivery == Delivery::Merge {
        return Ok(Flushed::Nothing);
    }
    let mut counters = batch.cost.increments();
    counters.push((AGGREGATOR_FALLBACKS.to_string(), 1));
    let written = match Store::open(env, Operation::Flush) {
        Ok(store) => {
            store
                .write_series(
                    &batch.flush,
                    &batch.queries,
                    &batch.invocations,
                    &counters,
                    None,
                )
                .await
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => Ok(Flushed::Direct),
        Err(e) => {
            pipeline::restore(batch);
            Err(FlushError::Store(e))
        }
    }
}

/// Logs what an operator must see about a flush: a missing aggregator (counts written
/// directly), a failed write in the aggregator, a batch that could not be sent. `fields` carry
/// the context (request id, cron time).
pub fn report(
    logger: &Logger,
    outcome: &Result<Flushed, FlushError>,
    mut fields: Map<String, Value>,
) {
    let (message, kind, reason) = match outcome {
        Ok(Flushed::Nothing | Flushed::Aggregated) => return,
        Ok(Flushed::Direct) => (
            "aggregator binding missing; metrics written to D1 by this isolate",
            "AggregatorMissing",
            format!(
                "Durable Object binding {} is not configured",
                client::BINDING
            ),
        ),
        Ok(Flushed::WriteFailed(reason)) => (
            "aggregator write failed; counts kept for its next write",
            "AggregatorWriteFailed",
            reason.clone(),
        ),
        Err(e) => (
            "metrics flush failed; counts kept for the next flush",
            "TelemetryWriteFailed",
            e.to_string(),
        ),
    };
    fields.insert("error".into(), error_field(kind, &reason));
    logger.emit(Level::Warn, message, fields);
}
