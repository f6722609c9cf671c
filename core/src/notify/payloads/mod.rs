//! Request bodies for each receiver, rendered from an [`AlertNotification`] at delivery time.
//!
//! Alert text comes from rules and label values, so it is treated as untrusted: Slack text is
//! escaped so it can neither mention `<!channel>` nor forge links, only http(s) runbook URLs
//! become links, and every field with a receiver-side length limit is clipped on a character
//! boundary so an oversized annotation cannot make a notification undeliverable forever.

use super::{AlertNotification, Channel};
use crate::time::iso_timestamp;
use serde_json::{json, Value};

mod pagerduty;
mod slack;

/// How far ahead `endsAt` is set while firing, so Alertmanager resolves the alert by itself if
/// Vigil stops re-sending it (Prometheus does the same with a few evaluation intervals).
pub const ALERTMANAGER_RESOLVE_LEAD_MS: f64 = 5.0 * 60_000.0;
/// Alertmanager's "no end yet" in its webhook format.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The JSON body for `channel`. `now_ms` is the delivery time; `routing_key` is only used by
/// PagerDuty (without it the key is empty and PagerDuty rejects the event).
pub fn render(
    channel: Channel,
    n: &AlertNotification,
    now_ms: f64,
    routing_key: Option<&str>,
) -> Value {
    match channel {
        Channel::Slack => slack::slack(n),
        Channel::Webhook => webhook(n, now_ms),
        Channel::PagerDuty => pagerduty::pagerduty(n, now_ms, routing_key.unwrap_or_default()),
        Channel::Alertmanager => alertmanager(n, now_ms),
    }
}

pub(super) fn status(n: &AlertNotification) -> &'static str {
    if n.kind.is_resolved() {
        "resolved"
    } else {
        "firing"
    }
}

pub(super) fn resolved_at_ms(n: &AlertNotification, now_ms: f64) -> f64 {
    n.ends_at_ms.unwrap_or(now_ms)
}

/// `text` limited to `max_chars` characters, ending in "…" when it was cut.
pub(super) fn clip(text: &str, max_chars: usize) -> String {
    match cut_point(text, max_chars) {
        Some(end) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Where to cut `text` (a char boundary) so that it plus "…" fits in `max_chars`;
/// `None` when it fits as is.
pub(super) fn cut_point(text: &str, max_chars: usize) -> Option<usize> {
    text.char_indices().nth(max_chars)?;
    text.char_indices()
        .nth(max_chars.saturating_sub(1))
        .map(|(i, _)| i)
}

/// Alertmanager's webhook format (version 4) with a single alert, so receivers written for
/// Alertmanager work unchanged.
fn webhook(n: &AlertNotification, now_ms: f64) -> Value {
    let labels = n.all_labels();
    let ends_at = if n.kind.is_resolved() {
        iso_timestamp(resolved_at_ms(n, now_ms))
    } else {
        ZERO_TIME.to_owned()
    };
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname={}}}", Value::from(n.alertname.as_str())),
        "truncatedAlerts": 0,
        "status": status(n),
        "receiver": "vigil",
        "groupLabels": { "alertname": n.alertname },
        "commonLabels": labels,
        "commonAnnotations": n.annotations,
        "externalURL": "",
        "alerts": [{
            "status": status(n),
            "labels": labels,
            "annotations": n.annotations,
            "startsAt": iso_timestamp(n.starts_at_ms),
            "endsAt": ends_at,
            "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
            "fingerprint": n.fingerprint(),
        }],
    })
}

/// Alertmanager API v2 `POST /api/v2/alerts` body: an array of one postableAlert.
fn alertmanager(n: &AlertNotification, now_ms: f64) -> Value {
    let ends_at_ms = if n.kind.is_resolved() {
        resolved_at_ms(n, now_ms)
    } else {
        now_ms + ALERTMANAGER_RESOLVE_LEAD_MS
    };
    json!([{
        "labels": n.all_labels(),
        "annotations": n.annotations,
        "startsAt": iso_timestamp(n.starts_at_ms),
        "endsAt": iso_timestamp(ends_at_ms),
        "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::sample;
    use crate::notify::NotificationKind::{Firing, Repeat, Resolved};

    const NOW_MS: f64 = 1_700_000_900_000.0;
    #[test]
    fn webhook_mirrors_the_alertmanager_webhook_format() {
        let n = sample(Firing);
        let body = render(Channel::Webhook, &n, NOW_MS, None);
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["receiver"], "vigil");
        assert_eq!(body["groupKey"], r#"{}:{alertname="high_error_ratio"}"#);
        assert_eq!(
            body["groupLabels"],
            json!({ "alertname": "high_error_ratio" })
        );
        let alert = &body["alerts"][0];
        assert_eq!(alert["status"], "firing");
        assert_eq!(
            alert["labels"],
            json!({
                "alertname": "high_error_ratio", "severity": "page", "service": "api",
                "environment": "production", "team": "ops",
            })
        );
        assert_eq!(body["commonLabels"], alert["labels"]);
        assert_eq!(alert["annotations"]["summary"], "Error ratio above 5%");
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(
            alert["generatorURL"],
            "https://vigil.example/alerts/high_error_ratio"
        );
        assert_eq!(alert["fingerprint"], n.fingerprint());
    }

    #[test]
    fn webhook_reports_resolution_time_and_treats_repeat_as_firing() {
        let resolved = render(Channel::Webhook, &sample(Resolved), NOW_MS, None);
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["alerts"][0]["status"], "resolved");
        assert_eq!(resolved["alerts"][0]["endsAt"], "2023-11-14T22:23:20.000Z");
        let repeat = render(Channel::Webhook, &sample(Repeat), NOW_MS, None);
        assert_eq!(repeat["status"], "firing");
    }

    #[test]
    fn alertmanager_ends_at_is_ahead_while_firing() {
        for kind in [Firing, Repeat] {
            let body = render(Channel::Alertmanager, &sample(kind), NOW_MS, None);
            assert_eq!(body.as_array().map(Vec::len), Some(1));
            assert_eq!(body[0]["startsAt"], "2023-11-14T22:13:20.000Z");
            assert_eq!(
                body[0]["endsAt"],
                iso_timestamp(NOW_MS + ALERTMANAGER_RESOLVE_LEAD_MS)
            );
            assert_eq!(body[0]["endsAt"], "2023-11-14T22:33:20.000Z");
            assert_eq!(body[0]["labels"]["alertname"], "high_error_ratio");
        }
    }

    #[test]
    fn alertmanager_ends_at_is_the_resolve_time_when_resolved() {
        let body = render(Channel::Alertmanager, &sample(Resolved), NOW_MS, None);
        assert_eq!(body[0]["endsAt"], "2023-11-14T22:23:20.000Z");
        let mut unknown_end = sample(Resolved);
        unknown_end.ends_at_ms = None;
        let body = render(Channel::Alertmanager, &unknown_end, NOW_MS, None);
        assert_eq!(body[0]["endsAt"], iso_timestamp(NOW_MS));
    }

    #[test]
    fn rendering_survives_hostile_numbers_and_empty_fields() {
        let mut n = sample(Firing);
        n.value = f64::NAN;
        n.starts_at_ms = f64::INFINITY;
        n.service.clear();
        n.annotations.clear();
        for channel in Channel::ALL {
            assert!(!render(channel, &n, f64::NAN, None).is_null());
        }
        assert_eq!(
            render(Channel::PagerDuty, &n, NOW_MS, Some("R0UT1NGKEY"))["payload"]["source"],
            "vigil"
        );
    }
}
