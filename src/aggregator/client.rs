//! Sending an isolate's batch to the aggregator Durable Object. Any worker with a Durable Object
//! binding to the hub's aggregator class (`script_name` = the hub) can send: the hub itself, an
//! embedded application, a tail handler.

use std::fmt;

use worker::{Env, Method, Request, RequestInit};

use crate::telemetry::ingest::{AggregatorStatus, Batch};
use crate::telemetry::pipeline;
use crate::timeout::with_timeout;

/// The Durable Object binding's name, in the hub's and every sender's `wrangler.toml`.
pub const BINDING: &str = "AGGREGATOR";

/// One aggregator for the whole fleet: at the volumes Vigil's cost model targets (a batch per
/// isolate per flush interval) one object serves them all, and one object means each series'
/// minute row is written once.
const OBJECT_NAME: &str = "fleet";

/// The aggregator is a sibling in the same data centre or a short hop away; a sender waits no
/// longer than this before keeping its batch for the next flush.
const SEND_TIMEOUT_MS: u32 = 5_000;

/// What the aggregator is asked to do with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Merge it; the aggregator writes on its own minute schedule.
    Merge,
    /// Merge it and write everything pending to D1 now (the hub's minute cron, so rules see the
    /// latest counts).
    MergeAndWrite,
}

/// Why a batch did not reach the aggregator.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Not delivered (no binding, no answer, an error): the sender keeps the batch for its
    /// next flush.
    Unreachable(String),
    /// The aggregator refused the batch as invalid: sending it again cannot succeed, so it is
    /// dropped rather than kept to poison every later flush.
    Refused(String),
}

impl SendError {
    pub fn reason(&self) -> &str {
        match self {
            SendError::Unreachable(reason) | SendError::Refused(reason) => reason,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Paths of the aggregator's internal API.
pub mod path {
    pub const INGEST: &str = "/ingest";
    pub const INGEST_AND_WRITE: &str = "/ingest?write=now";
    pub const STATUS: &str = "/status";
}

/// What the aggregator did with a batch it took.
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// Merged (and written, if asked).
    Merged,
    /// Merged, but the write asked for failed; the counts stay pending in the aggregator.
    WriteFailed(String),
}

/// Sends `batch` to the aggregator and waits for it to be merged (and written, if asked).
pub async fn send(env: &Env, batch: &Batch, delivery: Delivery) -> Result<Ack, SendError> {
    let body = serde_json::to_string(batch)
        .map_err(|e| SendError::Refused(format!("batch does not serialize: {e}")))?;
    let target = match delivery {
        Delivery::Merge => path::INGEST,
        Delivery::MergeAndWrite => path::INGEST_AND_WRITE,
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init(&format!("https://aggregator{target}"), &init)
        .map_err(|e| SendError::Unreachable(format!("request: {e}")))?;
    match call(env, request).await? {
        (202, reason) => Ok(Ack::WriteFailed(reason)),
        (code, _) if code / 100 == 2 => Ok(Ack::Merged),
        (code @ (400 | 413), reason) => Err(SendError::Refused(format!(
            "aggregator refused the batch ({code}): {reason}"
        ))),
        (code, reason) => Err(SendError::Unreachable(format!(
            "aggregator answered {code}: {reason}"
        ))),
    }
}

/// Takes this isolate's unsent counts and sends them; if they did not arrive they go back for
/// the next send. An empty batch is sent only when a write is asked for.
pub async fn ship(env: &Env, now_ms: f64, delivery: Delivery) -> Result<Ack, SendError> {
    let batch = pipeline::take(now_ms);
    if batch.is_empty() && delivery == Delivery::Merge {
        return Ok(Ack::Merged);
    }
    let sent = send(env, &batch, delivery).await;
    if let Err(SendError::Unreachable(_)) = sent {
        pipeline::restore(batch);
    }
    sent
}

/// Asks the aggregator what it holds (for `/health/detailed`).
pub async fn status(env: &Env) -> Result<AggregatorStatus, SendError> {
    let request = Request::new(&format!("https://aggregator{}", path::STATUS), Method::Get)
        .map_err(|e| SendError::Unreachable(format!("request: {e}")))?;
    let (code, body) = call(env, request).await?;
    if code != 200 {
        return Err(SendError::Unreachable(format!(
            "aggregator answered {code}: {body}"
        )));
    }
    serde_json::from_str(&body)
        .map_err(|e| SendError::Unreachable(format!("status is not JSON: {e}")))
}

/// One request to the fleet's aggregator: its status and body, bounded in time.
async fn call(env: &Env, request: Request) -> Result<(u16, String), SendError> {
    let namespace = env.durable_object(BINDING).map_err(|_| {
        SendError::Unreachable(format!(
            "Durable Object binding {BINDING} is not configured"
        ))
    })?;
    let stub = namespace
        .get_by_name(OBJECT_NAME)
        .map_err(|e| SendError::Unreachable(format!("aggregator stub: {e}")))?;
    let exchange = async {
        let mut response = stub.fetch_with_request(request).await?;
        let body = response.text().await?;
        Ok::<_, worker::Error>((response.status_code(), body))
    };
    match with_timeout(exchange, SEND_TIMEOUT_MS).await {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(e)) => Err(SendError::Unreachable(format!(
            "aggregator unreachable: {e}"
        ))),
        None => Err(SendError::Unreachable(format!(
            "aggregator did not answer within {SEND_TIMEOUT_MS} ms"
        ))),
    }
}
