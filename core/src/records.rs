//! What the store hands back: one plain type per kind of stored row. The shell's store module
//! fills them from D1; the core reads them, and never the store itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::alerting::severity::Severity;
use crate::alerting::state::{AlertState, Transition};
use crate::telemetry::limits::InvocationUse;
use crate::telemetry::metrics::BUCKETS;

/// A job's last cron run, as `cron_heartbeat` records it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Heartbeat {
    pub last_run_ms: f64,
    pub last_success_ms: Option<f64>,
    pub last_error: Option<String>,
    /// What the last run used of the per-invocation limits (JSON text in D1).
    #[serde(default, deserialize_with = "optional_json_text")]
    pub last_use: Option<InvocationUse>,
}

/// A JSON column read back as its value; unreadable text reads as absent.
fn optional_json_text<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// A latency histogram stored as one column per bucket (`b0` … `b11`, non-cumulative, `+Inf`
/// last), read back flattened into the row that holds it; a missing column reads as 0.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BucketColumns {
    pub b0: u64,
    pub b1: u64,
    pub b2: u64,
    pub b3: u64,
    pub b4: u64,
    pub b5: u64,
    pub b6: u64,
    pub b7: u64,
    pub b8: u64,
    pub b9: u64,
    pub b10: u64,
    pub b11: u64,
}

impl BucketColumns {
    /// The column names, in order, for SQL.
    pub const NAMES: &'static str = "b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11";

    /// Non-cumulative bucket counts, `+Inf` last.
    pub fn counts(&self) -> [u64; BUCKETS] {
        [
            self.b0, self.b1, self.b2, self.b3, self.b4, self.b5, self.b6, self.b7, self.b8,
            self.b9, self.b10, self.b11,
        ]
    }
}

/// The wall-time histogram of an invocation row (`w0` … `w11`), beside its CPU-time one in
/// the `bN` columns.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct WallBucketColumns {
    pub w0: u64,
    pub w1: u64,
    pub w2: u64,
    pub w3: u64,
    pub w4: u64,
    pub w5: u64,
    pub w6: u64,
    pub w7: u64,
    pub w8: u64,
    pub w9: u64,
    pub w10: u64,
    pub w11: u64,
}

impl WallBucketColumns {
    pub const NAMES: &'static str = "w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11";

    pub fn counts(&self) -> [u64; BUCKETS] {
        [
            self.w0, self.w1, self.w2, self.w3, self.w4, self.w5, self.w6, self.w7, self.w8,
            self.w9, self.w10, self.w11,
        ]
    }
}

/// A tailed worker's invocations of one event type and outcome: running totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InvocationTotal {
    pub service: String,
    pub event: String,
    pub outcome: String,
    pub count: u64,
    pub cpu_sum: f64,
    #[serde(flatten)]
    pub cpu: BucketColumns,
    pub wall_sum: f64,
    #[serde(flatten)]
    pub wall: WallBucketColumns,
}

/// A running count per service and label: exceptions by name, log lines by level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LabelledTotal {
    pub service: String,
    pub label: String,
    pub count: u64,
}

/// One request series' running totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestTotal {
    pub service: String,
    pub route: String,
    pub method: String,
    pub code: u16,
    pub count: u64,
    pub duration_sum: f64,
    #[serde(flatten)]
    pub buckets: BucketColumns,
}

/// An application's D1 statements of one outcome: running totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryTotal {
    pub service: String,
    /// `ok` or `error`.
    pub outcome: String,
    pub count: u64,
    pub duration_sum: f64,
    #[serde(flatten)]
    pub buckets: BucketColumns,
    pub rows_read: u64,
    pub rows_written: u64,
}

/// A dependency's latest self-probe result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyStatus {
    pub component: String,
    pub up: u8,
    pub duration_ms: f64,
    pub checked_ms: f64,
}

/// One alert's stored state and the severity it was stored with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertRow {
    /// The instance's identity (`high-error-ratio{service="api"}`; a hub rule's is its id).
    pub alert_key: String,
    /// The rule the instance belongs to (its `alertname`).
    pub rule_id: String,
    pub severity: Severity,
    /// The labels and annotations receivers were given, stored as JSON text.
    #[serde(deserialize_with = "json_text")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "json_text")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub state: AlertState,
}

impl AlertRow {
    /// Whether this row, the outcome of an evaluation, changes anything of `previous` (the
    /// stored row) beyond the evaluation's own time and value: only then is it written, so a
    /// quiet instance costs no row per run. The time and value go to the run's snapshot.
    pub fn changes(&self, previous: Option<&AlertRow>) -> bool {
        let Some(previous) = previous else {
            return true;
        };
        let evaluation = |row: &AlertRow| {
            let mut state = row.state.clone();
            state.last_value = 0.0;
            state.last_eval_ms = None;
            state
        };
        self.rule_id != previous.rule_id
            || self.severity != previous.severity
            || self.labels != previous.labels
            || self.annotations != previous.annotations
            || evaluation(self) != evaluation(previous)
    }
}

/// A map stored as JSON text in a D1 column; unreadable text reads as empty rather than
/// failing the whole row.
fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let text = Option::<String>::deserialize(d)?.unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// Per-channel outbox health: rows waiting, rows given up on, the oldest waiting row's creation
/// time and the latest error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChannelBacklog {
    pub channel: String,
    pub pending: u64,
    /// Dead-lettered rows: permanent failures that are no longer retried.
    pub dead: u64,
    pub oldest_created_ms: Option<f64>,
    pub last_error: Option<String>,
}

/// Delivery attempts per (channel, outcome): `vigil_notifications_total`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NotificationCount {
    pub channel: String,
    pub outcome: String,
    pub count: u64,
}

/// One line of alert history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HistoryRow {
    pub id: f64,
    pub alert_key: String,
    pub transition: Transition,
    pub at_ms: f64,
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::state::AlertPhase;

    fn stored() -> AlertRow {
        AlertRow {
            alert_key: "probe-down{probe=\"www\"}".into(),
            rule_id: "probe-down".into(),
            severity: Severity::Page,
            labels: BTreeMap::from([("probe".into(), "www".into())]),
            annotations: BTreeMap::new(),
            state: AlertState {
                last_value: 0.0,
                last_eval_ms: Some(60_000.0),
                ..AlertState::default()
            },
        }
    }

    #[test]
    fn a_new_evaluation_of_a_quiet_instance_changes_no_row() {
        let mut next = stored();
        next.state.last_eval_ms = Some(120_000.0);
        next.state.last_value = 0.5;
        assert!(!next.changes(Some(&stored())));
    }

    #[test]
    fn a_new_instance_a_phase_or_an_annotation_changes_the_row() {
        let next = stored();
        assert!(next.changes(None));
        let mut pending = stored();
        pending.state.phase = AlertPhase::Pending;
        assert!(pending.changes(Some(&stored())));
        let mut annotated = stored();
        annotated
            .annotations
            .insert("summary".into(), "down".into());
        assert!(annotated.changes(Some(&stored())));
    }
}
