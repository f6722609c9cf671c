//! What each kind of receiver is sent for a [`Batch`] of alerts, rendered at delivery time: JSON
//! bodies, and a MIME message for email (`email`).
//!
//! Alert text comes from rules and label values, so it is treated as untrusted: Slack text is
//! escaped so it can neither mention `<!channel>` nor forge links, only http(s) runbook URLs
//! become links, and every field with a receiver-side length limit is clipped on a character
//! boundary so an oversized annotation cannot make a notification undeliverable forever.

use std::collections::BTreeMap;

use super::AlertNotification;
use crate::time::iso_timestamp;
use serde_json::{json, Map, Value};

pub mod email;
mod pagerduty;
mod slack;

pub use pagerduty::pagerduty;
pub use slack::slack;

/// How far ahead `endsAt` is set while firing, so Alertmanager resolves the alert by itself if
/// Vigil stops re-sending it (Prometheus does the same with a few evaluation intervals).
pub const ALERTMANAGER_RESOLVE_LEAD_MS: f64 = 5.0 * 60_000.0;
/// Alertmanager's "no end yet" in its webhook format.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Alerts that go out as one notification: those of one group of one receiver (a single alert
/// for receivers that take one alert per request, such as PagerDuty).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub receiver: &'a str,
    /// The group's labels (its route's `group_by` values).
    pub group: &'a BTreeMap<String, String>,
    pub alerts: &'a [AlertNotification],
}

impl Batch<'_> {
    /// `[FIRING:2, RESOLVED:1] alertname=… service=…`: what a subject line or headline says.
    pub fn headline(&self) -> String {
        let resolved = self.alerts.iter().filter(|n| n.kind.is_resolved()).count();
        let firing = self.alerts.len() - resolved;
        let counts = match (firing, resolved) {
            (f, 0) => format!("FIRING:{f}"),
            (0, r) => format!("RESOLVED:{r}"),
            (f, r) => format!("FIRING:{f}, RESOLVED:{r}"),
        };
        let labels: Vec<String> = self.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("[{counts}] {}", labels.join(" "))
            .trim_end()
            .to_string()
    }

    /// Firing while any alert of the batch fires (Alertmanager's group status).
    fn status(&self) -> &'static str {
        if self.alerts.iter().all(|n| n.kind.is_resolved()) {
            "resolved"
        } else {
            "firing"
        }
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

/// Alertmanager's webhook format (version 4), so receivers written for Alertmanager work
/// unchanged: the group's alerts, its labels, and the labels and annotations they share.
pub fn webhook(batch: &Batch<'_>, now_ms: f64) -> Value {
    let alerts: Vec<Value> = batch
        .alerts
        .iter()
        .map(|n| {
            let ends_at = if n.kind.is_resolved() {
                iso_timestamp(resolved_at_ms(n, now_ms))
            } else {
                ZERO_TIME.to_owned()
            };
            json!({
                "status": status(n),
                "labels": n.all_labels(),
                "annotations": n.annotations,
                "startsAt": iso_timestamp(n.starts_at_ms),
                "endsAt": ends_at,
                "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
                "fingerprint": n.fingerprint(),
            })
        })
        .collect();
    let group: Vec<String> = batch
        .group
        .iter()
        .map(|(k, v)| format!("{k}={}", Value::from(v.as_str())))
        .collect();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{{}}}", group.join(",")),
        "truncatedAlerts": 0,
        "status": batch.status(),
        "receiver": batch.receiver,
        "groupLabels": batch.group,
        "commonLabels": common(batch.alerts.iter().map(|n| n.all_labels())),
        "commonAnnotations": common(batch.alerts.iter().map(|n| n.annotations.clone())),
        "externalURL": "",
        "alerts": alerts,
    })
}

/// The pairs every map has.
fn common(mut maps: impl Iterator<Item = BTreeMap<String, String>>) -> Map<String, Value> {
    let mut shared = maps.next().unwrap_or_default();
    for map in maps {
        shared.retain(|k, v| map.get(k) == Some(v));
    }
    shared.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// Alertmanager API v2 `POST /api/v2/alerts` body: an array of postableAlerts.
pub fn alertmanager(alerts: &[AlertNotification], now_ms: f64) -> Value {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|n| {
            let ends_at_ms = if n.kind.is_resolved() {
                resolved_at_ms(n, now_ms)
            } else {
                now_ms + ALERTMANAGER_RESOLVE_LEAD_MS
            };
            json!({
                "labels": n.all_labels(),
                "annotations": n.annotations,
                "startsAt": iso_timestamp(n.starts_at_ms),
                "endsAt": iso_timestamp(ends_at_ms),
                "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
            })
        })
        .collect();
    Value::Array(alerts)
}

#[cfg(test)]
mod tests;
