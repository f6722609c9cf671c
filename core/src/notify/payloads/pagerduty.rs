//! PagerDuty Events API v2: `trigger` while firing, `resolve` when resolved, one `dedup_key`
//! per alert.

use serde_json::{json, Value};

use super::{clip, resolved_at_ms, slack::http_url};
use crate::alerting::severity::Severity;
use crate::notify::AlertNotification;
use crate::time::iso_timestamp;

const PAGERDUTY_SUMMARY_MAX_CHARS: usize = 1024;
/// Keeps the PagerDuty `dedup_key` within its 255-character limit.
const DEDUP_SERVICE_MAX_CHARS: usize = 200;

/// PagerDuty Events API v2. One `dedup_key` per alert makes a repeat a no-op for an open
/// incident and lets `resolve` close it.
pub fn pagerduty(n: &AlertNotification, now_ms: f64, routing_key: &str) -> Value {
    let resolved = n.kind.is_resolved();
    let summary = match n.annotation("summary") {
        "" => n.alertname.clone(),
        summary => format!("{}: {summary}", n.alertname),
    };
    let links: Vec<Value> = http_url(n.annotation("runbook_url"))
        .map(|href| json!({ "href": href, "text": "Runbook" }))
        .into_iter()
        .collect();
    let event_ms = if resolved {
        resolved_at_ms(n, now_ms)
    } else {
        n.starts_at_ms
    };
    json!({
        "routing_key": routing_key,
        "event_action": if resolved { "resolve" } else { "trigger" },
        "dedup_key": format!("vigil/{}/{}", clip(&n.service, DEDUP_SERVICE_MAX_CHARS), n.fingerprint()),
        "payload": {
            "summary": clip(&summary, PAGERDUTY_SUMMARY_MAX_CHARS),
            // PagerDuty requires a non-empty source.
            "source": if n.service.is_empty() { "vigil" } else { &n.service },
            "severity": pagerduty_severity(n.severity),
            "timestamp": iso_timestamp(event_ms),
            "component": n.service,
            "group": n.environment,
            "class": n.alertname,
            "custom_details": {
                "labels": n.all_labels(),
                "annotations": n.annotations,
                "value": n.value,
            },
        },
        "links": links,
    })
}

fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Page => "critical",
        Severity::Ticket => "warning",
        Severity::Info => "info",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::sample;
    use crate::notify::NotificationKind::{Firing, Repeat, Resolved};

    const NOW_MS: f64 = 1_700_000_900_000.0;
    fn pagerduty_body(n: &AlertNotification) -> Value {
        pagerduty(n, NOW_MS, "R0UT1NGKEY")
    }

    #[test]
    fn pagerduty_dedup_key_matches_across_transitions_of_one_alert() {
        let keys: Vec<Value> = [Firing, Repeat, Resolved]
            .map(|kind| pagerduty_body(&sample(kind))["dedup_key"].clone())
            .to_vec();
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0], keys[2]);
        assert_eq!(
            keys[0],
            format!("vigil/api/{}", sample(Firing).fingerprint())
        );
    }

    #[test]
    fn pagerduty_dedup_key_differs_between_alerts() {
        let mut other = sample(Firing);
        other.alertname = "high_latency".into();
        assert_ne!(
            pagerduty_body(&sample(Firing))["dedup_key"],
            pagerduty_body(&other)["dedup_key"]
        );
    }

    #[test]
    fn pagerduty_triggers_while_firing_and_resolves_on_resolved() {
        let firing = pagerduty_body(&sample(Firing));
        assert_eq!(firing["routing_key"], "R0UT1NGKEY");
        assert_eq!(firing["event_action"], "trigger");
        assert_eq!(firing["payload"]["source"], "api");
        assert_eq!(
            firing["payload"]["summary"],
            "high_error_ratio: Error ratio above 5%"
        );
        assert_eq!(firing["payload"]["custom_details"]["value"], 0.12);
        assert_eq!(
            firing["links"],
            json!([{ "href": "https://runbooks.example/errors", "text": "Runbook" }])
        );
        assert_eq!(pagerduty_body(&sample(Repeat))["event_action"], "trigger");
        assert_eq!(pagerduty_body(&sample(Resolved))["event_action"], "resolve");
    }

    #[test]
    fn pagerduty_severity_maps_page_ticket_and_others() {
        let mut n = sample(Firing);
        for (severity, expected) in [
            (Severity::Page, "critical"),
            (Severity::Ticket, "warning"),
            (Severity::Info, "info"),
        ] {
            n.severity = severity;
            assert_eq!(pagerduty_body(&n)["payload"]["severity"], expected);
        }
    }

    #[test]
    fn pagerduty_summary_is_truncated_on_a_character_boundary() {
        let mut n = sample(Firing);
        n.annotations.insert("summary".into(), "é🔥".repeat(1000));
        let summary = pagerduty_body(&n)["payload"]["summary"]
            .as_str()
            .map(str::to_owned);
        let summary = summary.unwrap_or_default();
        assert_eq!(summary.chars().count(), PAGERDUTY_SUMMARY_MAX_CHARS);
        assert!(summary.ends_with('…'));
        assert!(summary.starts_with("high_error_ratio: é🔥"));
    }
}
