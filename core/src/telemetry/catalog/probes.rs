//! The families of outside-in monitoring: probe checks and heartbeat pings.

use super::{Family, Snapshot};
use crate::probes::verdict::CheckResult;

/// Each probe's last check and its checks by result; each monitor's last ping.
pub(super) fn probes(s: &Snapshot) -> Vec<Family> {
    let mut success = Family::gauge(
        "vigil_probe_success",
        "Whether the probe's last check succeeded (1, slow included) or failed (0).",
    );
    let mut duration = Family::gauge(
        "vigil_probe_duration_seconds",
        "Duration of the probe's last check, redirects and body read included.",
    )
    .with_unit("seconds");
    let mut checks = Family::counter(
        "vigil_probe_checks",
        "Probe checks by result (pass; slow: passed but slower than max_latency; fail).",
    );
    for (probe, state) in &s.probes {
        let label = || ("probe", probe.clone());
        if let Some(last) = &state.last {
            success.push([label()], f64::from(u8::from(last.result.succeeded())));
            duration.push([label()], last.duration_ms / 1000.0);
        }
        for (result, count) in CheckResult::ALL.iter().zip(state.checks) {
            checks.push([label(), ("result", result.as_str().into())], count as f64);
        }
    }
    let deferred = Family::counter(
        "vigil_probes_deferred",
        "Due probe checks a cron run left to a later run to stay within its subrequest budget.",
    )
    .with(Vec::new(), s.counters.probes_deferred as f64);
    let mut pinged = Family::gauge(
        "vigil_heartbeat_last_ping_timestamp_seconds",
        "When the monitor was last pinged (Unix time), failure reports included.",
    )
    .with_unit("seconds");
    for (monitor, ping) in &s.heartbeats {
        pinged.push([("monitor", monitor.clone())], ping.at_ms / 1000.0);
    }
    vec![success, duration, checks, deferred, pinged]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::heartbeats::LastPing;
    use crate::probes::state::{LastCheck, ProbeState};
    use crate::telemetry::exposition::{render, Format};

    #[test]
    fn a_probe_shows_its_last_check_and_counts_and_a_monitor_its_last_ping() {
        let checked = ProbeState {
            last: Some(LastCheck {
                at_ms: 0.0,
                result: CheckResult::Slow,
                reason: None,
                duration_ms: 2_500.0,
                http_status: Some(200),
            }),
            checks: [7, 1, 2],
            ..ProbeState::default()
        };
        let snapshot = Snapshot {
            probes: vec![
                ("www".into(), checked),
                ("new".into(), ProbeState::default()),
            ],
            heartbeats: vec![(
                "backup".into(),
                LastPing {
                    at_ms: 5_000.0,
                    failed: false,
                },
            )],
            ..Snapshot::default()
        };
        let text = render(&probes(&snapshot), Format::Text004);
        for line in [
            "vigil_probe_success{probe=\"www\"} 1",
            "vigil_probe_duration_seconds{probe=\"www\"} 2.5",
            "vigil_probe_checks_total{probe=\"www\",result=\"fail\"} 2",
            "vigil_probe_checks_total{probe=\"new\",result=\"pass\"} 0",
            "vigil_probes_deferred_total 0",
            "vigil_heartbeat_last_ping_timestamp_seconds{monitor=\"backup\"} 5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(
            !text.contains("vigil_probe_success{probe=\"new\"}"),
            "never checked"
        );
    }
}
