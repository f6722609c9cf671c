//! How probes and monitors read in `/api/probes` and `/health/detailed`: configuration without
//! header values, status, last check and when the next one is due.

use serde_json::{json, Value};

use super::heartbeats::{monitor_status, HeartbeatSpec, LastPing};
use super::spec::ProbeSpec;
use super::state::ProbeState;
use super::verdict::CheckResult;
use crate::time::{format_duration, iso_timestamp};

/// One probe: what it checks (header names only: values may be secrets), where it stands, its
/// last check, and when it is due (`overdue` when a run deferred it past its interval).
pub fn probe_view(spec: &ProbeSpec, state: Option<&ProbeState>, now_ms: f64) -> Value {
    let default = ProbeState::default();
    let state = state.unwrap_or(&default);
    let due_ms = state
        .last
        .as_ref()
        .map(|l| l.at_ms + spec.interval_ms as f64);
    let checks: serde_json::Map<String, Value> = CheckResult::ALL
        .iter()
        .zip(state.checks)
        .map(|(result, n)| (result.as_str().to_string(), n.into()))
        .collect();
    json!({
        "name": spec.name,
        "url": spec.url,
        "method": spec.method.as_str(),
        "headers": spec.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "interval": format_duration(spec.interval_ms),
        "timeout": format_duration(u64::from(spec.timeout_ms)),
        "failureThreshold": spec.failure_threshold,
        "successThreshold": spec.success_threshold,
        "public": spec.public,
        "status": state.status.as_str(),
        "since": state.changed_ms.map(iso_timestamp),
        "consecutiveFailures": state.failures,
        "consecutiveSuccesses": state.successes,
        "lastCheck": state.last.as_ref().map(|l| json!({
            "at": iso_timestamp(l.at_ms),
            "result": l.result.as_str(),
            "reason": l.reason,
            "durationMs": l.duration_ms,
            "httpStatus": l.http_status,
        })),
        "nextDue": due_ms.map(iso_timestamp),
        "overdue": due_ms.is_some_and(|due| now_ms - due >= 60_000.0),
        "checks": checks,
    })
}

/// One heartbeat monitor: its period, grace, status and last ping.
pub fn monitor_view(spec: &HeartbeatSpec, last: Option<LastPing>, now_ms: f64) -> Value {
    json!({
        "name": spec.name,
        "period": format_duration(spec.period_ms),
        "grace": format_duration(spec.grace_ms),
        "public": spec.public,
        "status": monitor_status(spec, last, now_ms).as_str(),
        "lastPing": last.map(|p| iso_timestamp(p.at_ms)),
        "lastPingFailed": last.map(|p| p.failed),
        "lateAfter": last.map(|p| iso_timestamp(p.at_ms + (spec.period_ms + spec.grace_ms) as f64)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::heartbeats::parse_heartbeats;
    use crate::probes::spec::parse_probes;
    use crate::probes::state::{LastCheck, ProbeStatus};

    #[test]
    fn a_probe_view_names_headers_without_values_and_shows_the_last_check() {
        let spec = parse_probes(
            r#"[{"name": "api", "url": "https://x/h", "headers": {"Authorization": "secret:T",
                 "X-Key": "plain-value"}}]"#,
        )
        .expect("valid")
        .remove(0);
        let state = ProbeState {
            status: ProbeStatus::Down,
            failures: 2,
            last: Some(LastCheck {
                at_ms: 0.0,
                result: CheckResult::Fail,
                reason: Some("timeout after 5000 ms".into()),
                duration_ms: 5_000.0,
                http_status: None,
            }),
            ..ProbeState::default()
        };
        let view = probe_view(&spec, Some(&state), 180_000.0);
        assert_eq!(view["headers"], json!(["Authorization", "X-Key"]));
        assert!(!view.to_string().contains("plain-value"));
        assert_eq!(view["status"], "down");
        assert_eq!(view["lastCheck"]["reason"], "timeout after 5000 ms");
        assert_eq!(view["overdue"], true, "due at 1m, not run by 3m");
        let new = probe_view(&spec, None, 0.0);
        assert_eq!(
            (new["status"].as_str(), new["overdue"].as_bool()),
            (Some("unknown"), Some(false))
        );
    }

    #[test]
    fn a_monitor_view_says_when_it_is_late() {
        let spec = parse_heartbeats(r#"[{"name": "b", "period": "1h", "grace": "5m"}]"#)
            .expect("valid")
            .remove(0);
        let ping = LastPing {
            at_ms: 0.0,
            failed: false,
        };
        let view = monitor_view(&spec, Some(ping), 4_000_000.0);
        assert_eq!(view["status"], "late");
        assert_eq!(view["lateAfter"], "1970-01-01T01:05:00.000Z");
        assert_eq!(monitor_view(&spec, None, 0.0)["status"], "new");
    }
}
