//! `/health/detailed`: the diagnostics an operator wants at 3 a.m. — real round trips through
//! KV, R2 and D1, migration status, cron heartbeat age and per-check latency, with the real
//! failure reasons (the endpoint is authenticated).

use futures::future::join3;
use serde_json::{json, Value};
use worker::Env;

use super::checks::round_ms;
use super::probes::{KV_BINDING, R2_BINDING};
use crate::clock::now_ms;
use crate::store::Store;
use crate::timeout::with_timeout;
use vigil_core::telemetry::store_cost::Operation;

/// One write → read back → delete round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeTest {
    pub component: &'static str,
    pub duration_ms: f64,
    pub error: Option<String>,
}

impl SmokeTest {
    pub fn report(&self) -> Value {
        json!({
            "status": if self.error.is_some() { "fail" } else { "pass" },
            "durationMs": round_ms(self.duration_ms),
            "error": self.error,
        })
    }
}

/// Runs the KV, R2 and D1 round trips concurrently, each under `timeout_ms`.
pub async fn smoke_tests(env: &Env, timeout_ms: u32) -> [SmokeTest; 3] {
    let id = uuid::Uuid::new_v4().to_string();
    let (kv, r2, d1) = join3(
        timed("kv", timeout_ms, kv_round_trip(env, &id)),
        timed("r2", timeout_ms, r2_round_trip(env, &id)),
        timed("d1", timeout_ms, d1_round_trip(env, &id)),
    )
    .await;
    [kv, r2, d1]
}

async fn timed(
    component: &'static str,
    timeout_ms: u32,
    round_trip: impl std::future::Future<Output = Result<(), String>>,
) -> SmokeTest {
    let started = now_ms();
    let error = match with_timeout(round_trip, timeout_ms).await {
        Some(result) => result.err(),
        None => Some(format!("timeout after {timeout_ms}ms")),
    };
    SmokeTest {
        component,
        duration_ms: now_ms() - started,
        error,
    }
}

async fn kv_round_trip(env: &Env, id: &str) -> Result<(), String> {
    let kv = env
        .kv(KV_BINDING)
        .map_err(|_| format!("KV binding {KV_BINDING} is not configured"))?;
    let key = format!("vigil:smoke:{id}");
    // The TTL removes the key even if the delete below never runs.
    kv.put(&key, id)
        .map_err(|e| format!("KV put: {e}"))?
        .expiration_ttl(60)
        .execute()
        .await
        .map_err(|e| format!("KV put: {e}"))?;
    let read = kv
        .get(&key)
        .text()
        .await
        .map_err(|e| format!("KV get: {e}"))?;
    kv.delete(&key)
        .await
        .map_err(|e| format!("KV delete: {e}"))?;
    expect_same("KV", read.as_deref(), id)
}

async fn r2_round_trip(env: &Env, id: &str) -> Result<(), String> {
    let bucket = env
        .bucket(R2_BINDING)
        .map_err(|_| format!("R2 binding {R2_BINDING} is not configured"))?;
    let key = format!("vigil-smoke/{id}");
    let describe =
        |step: &str, e: worker::Error| format!("R2 {step}: {}", crate::store::describe(&e));
    bucket
        .put(&key, id.as_bytes().to_vec())
        .execute()
        .await
        .map_err(|e| describe("put", e))?;
    let read = match bucket
        .get(&key)
        .execute()
        .await
        .map_err(|e| describe("get", e))?
    {
        Some(object) => match object.body() {
            Some(body) => Some(body.text().await.map_err(|e| describe("read", e))?),
            None => None,
        },
        None => None,
    };
    bucket
        .delete(&key)
        .await
        .map_err(|e| describe("delete", e))?;
    expect_same("R2", read.as_deref(), id)
}

async fn d1_round_trip(env: &Env, id: &str) -> Result<(), String> {
    let store = Store::open(env, Operation::Health).map_err(|e| e.to_string())?;
    let read = store
        .smoke_round_trip(id, now_ms())
        .await
        .map_err(|e| format!("D1: {e}"))?;
    expect_same("D1", read.as_deref(), id)
}

fn expect_same(component: &str, read: Option<&str>, written: &str) -> Result<(), String> {
    match read {
        Some(value) if value == written => Ok(()),
        Some(_) => Err(format!(
            "{component} returned a different value than was written"
        )),
        None => Err(format!("{component} lost the value just written")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_values_must_match() {
        assert_eq!(expect_same("KV", Some("a"), "a"), Ok(()));
        assert!(expect_same("KV", Some("b"), "a").is_err());
        assert!(expect_same("KV", None, "a").unwrap_err().contains("lost"));
    }
}
