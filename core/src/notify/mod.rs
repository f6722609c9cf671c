//! Notifications: the alert event that leaves Vigil and everything pure about delivering it.
//!
//! The cron routes each alert to its receivers (`receivers`, `routing`, `inhibition`), stores
//! each [`AlertNotification`] as JSON in a D1 outbox row per receiver, and renders it (with the
//! rest of its group, `grouping`) for the receiver's [`Channel`] only at delivery time, so a
//! receiver's format (or a secret such as the PagerDuty routing key) never ends up in storage.
//! Keeping routing, rendering, signing, backoff and outcome classification free of I/O and
//! clocks lets the host test them exhaustively; the shell only sends the bytes and records what
//! happened.

pub mod delivery;
pub mod grouping;
pub mod inhibition;
pub mod payloads;
pub mod receivers;
pub mod routing;
pub mod signature;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::alerting::severity::Severity;

/// A receiver kind. The receivers of the single-channel secrets are named after theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Slack,
    Webhook,
    PagerDuty,
    Alertmanager,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Webhook => "webhook",
            Channel::PagerDuty => "pagerduty",
            Channel::Alertmanager => "alertmanager",
            Channel::Email => "email",
        }
    }

    /// Whether the receiver takes a group's alerts in one notification. PagerDuty takes one
    /// event per alert (its `dedup_key`); Alertmanager groups by itself and gets every alert.
    pub fn groups(self) -> bool {
        matches!(self, Channel::Slack | Channel::Webhook | Channel::Email)
    }
}

/// Which transition a notification reports. `Repeat` is a reminder while still firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Firing,
    Resolved,
    Repeat,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Firing => "firing",
            NotificationKind::Resolved => "resolved",
            NotificationKind::Repeat => "repeat",
        }
    }

    /// Receivers only know firing and resolved; a repeat is the alert still firing.
    fn is_resolved(self) -> bool {
        self == NotificationKind::Resolved
    }
}

/// One alert transition, as stored in the outbox and rendered per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotification {
    /// The rule's id, under the name receivers key on. (Outbox rows written by earlier
    /// versions also carry it as `rule_id`; serde ignores that field.)
    pub alertname: String,
    pub severity: Severity,
    pub kind: NotificationKind,
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
    /// The rule's measured value. JSON has no NaN: serde_json writes it as `null`, which reads
    /// back as NaN so such a row still delivers instead of failing to parse forever.
    #[serde(deserialize_with = "null_as_nan")]
    pub value: f64,
    pub starts_at_ms: f64,
    /// When the alert resolved; set for `Resolved`.
    pub ends_at_ms: Option<f64>,
    pub service: String,
    pub environment: String,
    pub generator_url: Option<String>,
}

impl AlertNotification {
    /// The label set receivers see: the rule's labels plus `alertname`, `severity`, `service`
    /// and `environment`, which win over rule labels of the same name so the alert's identity
    /// cannot be overridden. Empty values are dropped, as Prometheus treats them as absent.
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let own = [
            ("alertname", self.alertname.as_str()),
            ("severity", self.severity.as_str()),
            ("service", self.service.as_str()),
            ("environment", self.environment.as_str()),
        ];
        with_own_labels(&self.labels, own)
    }

    /// A stable id for the alert (16 hex chars of SHA-256 over its sorted label set, like
    /// Alertmanager's): it does not depend on the kind, so firing and resolved match.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        for (name, value) in self.all_labels() {
            // 0xff never occurs in UTF-8, so it separates names and values unambiguously.
            hash.update(name);
            hash.update([0xff]);
            hash.update(value);
            hash.update([0xff]);
        }
        hex::encode(&hash.finalize()[..8])
    }

    fn annotation(&self, name: &str) -> &str {
        self.annotations.get(name).map_or("", String::as_str)
    }
}

/// `labels` with an alert's own labels (`alertname`, `severity`, `service`, `environment`) put
/// over them and empty values dropped: the label set receivers, routes and inhibition see.
pub fn with_own_labels(
    labels: &BTreeMap<String, String>,
    own: [(&str, &str); 4],
) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels.extend(own.map(|(k, v)| (k.to_owned(), v.to_owned())));
    labels.retain(|_, v| !v.is_empty());
    labels
}

fn null_as_nan<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(kind: NotificationKind) -> AlertNotification {
        AlertNotification {
            alertname: "high_error_ratio".into(),
            severity: Severity::Page,
            kind,
            labels: BTreeMap::from([("team".into(), "ops".into())]),
            annotations: BTreeMap::from([
                ("summary".into(), "Error ratio above 5%".into()),
                (
                    "description".into(),
                    "5xx responses are too frequent".into(),
                ),
                (
                    "runbook_url".into(),
                    "https://runbooks.example/errors".into(),
                ),
            ]),
            value: 0.12,
            starts_at_ms: 1_700_000_000_000.0,
            ends_at_ms: (kind == NotificationKind::Resolved).then_some(1_700_000_600_000.0),
            service: "api".into(),
            environment: "production".into(),
            generator_url: Some("https://vigil.example/alerts/high_error_ratio".into()),
        }
    }

    #[test]
    fn outbox_rows_of_earlier_versions_with_a_rule_id_still_read() {
        let mut stored = serde_json::to_value(sample(NotificationKind::Firing)).unwrap();
        stored["rule_id"] = "high_error_ratio".into();
        let read: AlertNotification = serde_json::from_value(stored).expect("reads");
        assert_eq!(read, sample(NotificationKind::Firing));
    }

    #[test]
    fn fingerprint_is_the_same_for_firing_and_resolved_of_one_alert() {
        let firing = sample(NotificationKind::Firing);
        let resolved = sample(NotificationKind::Resolved);
        assert_eq!(firing.fingerprint(), resolved.fingerprint());
        assert_eq!(firing.fingerprint().len(), 16);
    }

    #[test]
    fn fingerprint_differs_when_labels_differ() {
        let a = sample(NotificationKind::Firing);
        let mut b = a.clone();
        b.labels.insert("team".into(), "db".into());
        let mut c = a.clone();
        c.service = "billing".into();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn own_labels_override_rule_labels_and_empty_ones_are_dropped() {
        let mut n = sample(NotificationKind::Firing);
        n.labels.insert("service".into(), "spoofed".into());
        n.environment.clear();
        let labels = n.all_labels();
        assert_eq!(labels["service"], "api");
        assert_eq!(labels["alertname"], "high_error_ratio");
        assert!(!labels.contains_key("environment"));
    }

    #[test]
    fn notification_round_trips_through_json_even_with_a_nan_value() {
        let mut n = sample(NotificationKind::Resolved);
        let json = serde_json::to_string(&n).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<AlertNotification>(&json).ok(),
            Some(n.clone())
        );

        n.value = f64::NAN;
        let json = serde_json::to_string(&n).unwrap_or_default();
        let back: Option<AlertNotification> = serde_json::from_str(&json).ok();
        assert!(back.is_some_and(|b| b.value.is_nan()));
    }
}
