//! The verdicts of `/health/detailed` that need no I/O: is the cron heartbeat fresh, is the
//! notification outbox draining, is the aggregator writing.

use serde_json::{json, Value};

use super::checks::Status;
use crate::records::{ChannelBacklog, Heartbeat};
use crate::telemetry::ingest::AggregatorStatus;
use crate::time::iso_timestamp;

/// A heartbeat older than this means the cron is not running.
pub const HEARTBEAT_STALE_MS: f64 = 3.0 * 60_000.0;

/// An undelivered notification older than this means a receiver has been failing for a while.
pub const BACKLOG_STALE_MS: f64 = 10.0 * 60_000.0;

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

/// The aggregator's report and status: warn when it cannot be reached (each isolate then keeps
/// its counts, or, without the binding, the hub writes them itself) or its last write failed.
pub fn aggregator_report(status: Result<&AggregatorStatus, &str>) -> (Status, Value) {
    match status {
        Err(reason) => (
            Status::Warn,
            json!({"status": "warn", "output": format!("aggregator unavailable: {reason}")}),
        ),
        Ok(s) => {
            let verdict = if s.last_error.is_some() {
                Status::Warn
            } else {
                Status::Pass
            };
            (
                verdict,
                json!({
                    "status": verdict.as_str(),
                    "pendingSeries": s.pending_series,
                    "journalledBatches": s.journalled_batches,
                    // Accepted batches are durable; what an isolate has not sent yet is not.
                    "lossBound": "an isolate evicted before its next flush loses what it counted \
                                  since its last one (at most METRICS_FLUSH_SECONDS)",
                    "lastWrite": s.last_write_ms.map(iso_timestamp),
                    "lastError": s.last_error,
                    "lastErrorAt": s.last_error_ms.map(iso_timestamp),
                }),
            )
        }
    }
}

/// The notification outbox per channel; warn when something has waited over 10 minutes or was
/// dead-lettered (a permanent failure that needs a human).
pub fn backlog_report(backlog: &[ChannelBacklog], now_ms: f64) -> (Status, Value) {
    let stale = backlog
        .iter()
        .filter_map(|b| b.oldest_created_ms)
        .any(|oldest| now_ms - oldest > BACKLOG_STALE_MS);
    let dead = backlog.iter().any(|b| b.dead > 0);
    let status = if stale || dead {
        Status::Warn
    } else {
        Status::Pass
    };
    let channels: Vec<Value> = backlog
        .iter()
        .map(|b| {
            json!({
                "channel": b.channel,
                "pending": b.pending,
                "dead": b.dead,
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
            last_use: None,
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
            ..ChannelBacklog::default()
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
    fn a_dead_lettered_notification_warns_and_is_counted() {
        let dead = ChannelBacklog {
            channel: "pagerduty".into(),
            dead: 1,
            ..ChannelBacklog::default()
        };
        let (status, report) = backlog_report(&[dead], 0.0);
        assert_eq!(status, Status::Warn);
        assert_eq!(report["outbox"][0]["dead"], 1);
    }
}
