//! `/health/detailed`: the diagnostics an operator wants at 3 a.m. — real round trips through
//! KV, R2 and D1, migration status, cron heartbeat age and per-check latency, with the real
//! failure reasons (the endpoint is authenticated).

use futures::future::join3;
use serde_json::{json, Value};
use worker::Env;

use super::checks::{round_ms, Status};
use super::probes::{now_ms, with_timeout, KV_BINDING, R2_BINDING};
use crate::store::{self, ChannelBacklog, Heartbeat};
use crate::telemetry::log::iso_timestamp;

/// A heartbeat older than this means the cron is not running.
pub const HEARTBEAT_STALE_MS: f64 = 3.0 * 60_000.0;

/// An undelivered notification older than this means a receiver has been failing for a while.
pub const BACKLOG_STALE_MS: f64 = 10.0 * 60_000.0;

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
    let describe = |step: &str, e: worker::Error| format!("R2 {step}: {}", store::describe(&e));
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
    let db = store::database(env).map_err(|e| e.to_string())?;
    let read = store::smoke_round_trip(&db, id, now_ms())
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

/// The cron heartbeat's report and status: warn when missing or older than 3 minutes.
pub fn heartbeat_report(heartbeat: Option<&Heartbeat>, now_ms: f64) -> (Status, Value) {
    let Some(hb) = heartbeat else {
        return (
            Status::Warn,
            json!({"status": "warn", "output": "the cron has never run; check [triggers] crons"}),
        );
    };
    let age_s = hb
        .last_success_ms
        .map(|ms| ((now_ms - ms) / 1000.0).max(0.0).round());
    let stale = hb
        .last_success_ms
        .is_none_or(|ms| now_ms - ms > HEARTBEAT_STALE_MS);
    let status = if stale { Status::Warn } else { Status::Pass };
    (
        status,
        json!({
            "status": status.as_str(),
            "lastRun": iso_timestamp(hb.last_run_ms),
            "lastSuccess": hb.last_success_ms.map(iso_timestamp),
            "ageSeconds": age_s,
            "lastError": hb.last_error,
        }),
    )
}

/// The notification outbox per channel; warn when something has waited over 10 minutes.
pub fn backlog_report(backlog: &[ChannelBacklog], now_ms: f64) -> (Status, Value) {
    let stale = backlog
        .iter()
        .filter_map(|b| b.oldest_created_ms)
        .any(|oldest| now_ms - oldest > BACKLOG_STALE_MS);
    let status = if stale { Status::Warn } else { Status::Pass };
    let channels: Vec<Value> = backlog
        .iter()
        .map(|b| {
            json!({
                "channel": b.channel,
                "pending": b.pending,
                "oldestPending": b.oldest_created_ms.map(iso_timestamp),
                "lastError": b.last_error,
            })
        })
        .collect();
    (
        status,
        json!({"status": status.as_str(), "outbox": channels}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(success_ms: Option<f64>) -> Heartbeat {
        Heartbeat {
            last_run_ms: 1_000_000.0,
            last_success_ms: success_ms,
            last_error: None,
        }
    }

    #[test]
    fn a_fresh_heartbeat_passes_and_reports_its_age() {
        let (status, report) = heartbeat_report(Some(&heartbeat(Some(1_000_000.0))), 1_060_000.0);
        assert_eq!(status, Status::Pass);
        assert_eq!(report["ageSeconds"], 60.0);
    }

    #[test]
    fn a_heartbeat_older_than_three_minutes_or_missing_warns() {
        let now = 1_000_000.0 + HEARTBEAT_STALE_MS + 1.0;
        assert_eq!(
            heartbeat_report(Some(&heartbeat(Some(1_000_000.0))), now).0,
            Status::Warn
        );
        assert_eq!(
            heartbeat_report(Some(&heartbeat(None)), now).0,
            Status::Warn
        );
        assert_eq!(heartbeat_report(None, now).0, Status::Warn);
    }

    #[test]
    fn a_notification_waiting_over_ten_minutes_warns() {
        let backlog = |oldest: Option<f64>| ChannelBacklog {
            channel: "slack".into(),
            pending: u64::from(oldest.is_some()),
            oldest_created_ms: oldest,
            last_error: Some("receiver answered HTTP 500".into()),
        };
        let now = 3_600_000.0;
        assert_eq!(backlog_report(&[backlog(None)], now).0, Status::Pass);
        assert_eq!(
            backlog_report(&[backlog(Some(now - 60_000.0))], now).0,
            Status::Pass
        );
        let (status, report) = backlog_report(&[backlog(Some(now - BACKLOG_STALE_MS - 1.0))], now);
        assert_eq!(status, Status::Warn);
        assert_eq!(
            report["outbox"][0]["lastError"],
            "receiver answered HTTP 500"
        );
    }

    #[test]
    fn round_trip_values_must_match() {
        assert_eq!(expect_same("KV", Some("a"), "a"), Ok(()));
        assert!(expect_same("KV", Some("b"), "a").is_err());
        assert!(expect_same("KV", None, "a").unwrap_err().contains("lost"));
    }
}
