//! Alert state, its history and the SLO summaries.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::snapshot::kind;
use super::StoreResult;
use super::{finite, silences, windows, GroupSlot, OutboxEntry, Statement, Store, StoreError};
use vigil_core::alerting::slo::SloReport;
use vigil_core::alerting::state::Transition;
use vigil_core::records::{AlertRow, HistoryRow};
use vigil_core::silencing::maintenance::Maintenance;
use vigil_core::silencing::silence::Silence;

/// How long alert history stays in D1 before it is archived to R2.
pub const HISTORY_RETENTION_MS: f64 = 90.0 * 86_400_000.0;

/// What an alerting pass reads before it evaluates ([`Store::alert_context`]).
pub struct AlertContext {
    pub services: Vec<String>,
    pub alerts: Vec<AlertRow>,
    pub silences: Vec<Silence>,
    pub maintenances: Vec<Maintenance>,
}

/// One alert's evaluation, to persist atomically: its new state (compare-and-set against the
/// `last_eval_ms` it was computed from), the transition for the history and what it notifies.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub row: AlertRow,
    pub previous_eval_ms: Option<f64>,
    pub transition: Option<Transition>,
    pub outbox: Vec<OutboxEntry>,
}

/// An instance's latest evaluation, kept in the run's snapshot rather than in its row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvaluatedValue {
    pub alert_key: String,
    pub value: f64,
    pub at_ms: Option<f64>,
}

impl EvaluatedValue {
    pub fn of(change: &AlertChange) -> EvaluatedValue {
        EvaluatedValue {
            alert_key: change.row.alert_key.clone(),
            value: finite(change.row.state.last_value),
            at_ms: change.row.state.last_eval_ms,
        }
    }
}

impl Store {
    /// Every stored alert instance with its latest evaluation (from the snapshot when newer
    /// than its row), as the APIs show it.
    pub async fn alert_rows_evaluated(&self) -> StoreResult<Vec<AlertRow>> {
        let (rows, values) = futures::join!(
            self.alert_rows(),
            self.snapshot::<Vec<EvaluatedValue>>(kind::ALERT_VALUES)
        );
        let values: BTreeMap<String, EvaluatedValue> = values?
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.alert_key.clone(), v))
            .collect();
        let mut rows = rows?;
        for row in &mut rows {
            let Some(latest) = values.get(&row.alert_key) else {
                continue;
            };
            if latest.at_ms > row.state.last_eval_ms {
                row.state.last_value = latest.value;
                row.state.last_eval_ms = latest.at_ms;
            }
        }
        Ok(rows)
    }

    /// Every stored alert instance (bounded by rules × services). Columns are
    /// aliased to `AlertState`'s field names so rows deserialize straight into it.
    pub async fn alert_rows(&self) -> StoreResult<Vec<AlertRow>> {
        self.alert_rows_query().all().await
    }

    pub(super) fn alert_rows_query(&self) -> Statement<'_> {
        self.prepare(
            "SELECT alert_key, rule_id, severity, labels, annotations, phase,
                    active_since_ms AS activeSinceMs, fired_at_ms AS firedAtMs,
                    resolved_at_ms AS resolvedAtMs, last_true_ms AS lastTrueMs,
                    last_value AS lastValue, last_eval_ms AS lastEvalMs,
                    last_notified_ms AS lastNotifiedMs, last_sent AS lastSent
             FROM alert_state ORDER BY alert_key LIMIT 1000",
        )
    }

    /// What an alerting pass reads before it evaluates, in one round trip: the services with
    /// traffic (and the hub), every alert instance, and the silences and maintenances not over
    /// at `now_ms`.
    pub async fn alert_context(&self, hub: &str, now_ms: f64) -> StoreResult<AlertContext> {
        let statements = vec![
            self.services_query(),
            self.alert_rows_query(),
            self.silences_query(now_ms)?,
            self.maintenances_query(now_ms)?,
        ];
        let mut answers = self.batch(statements).await?.into_iter();
        let mut next = || {
            answers
                .next()
                .ok_or_else(|| StoreError("D1 answered a batch in part".into()))
        };
        Ok(AlertContext {
            services: windows::with_hub(windows::services(next()?)?, hub),
            alerts: next()?.rows()?,
            silences: silences::silences(next()?)?,
            maintenances: silences::maintenances(next()?)?,
        })
    }

    /// Writes every change in one batch (one transaction), with every instance's latest
    /// evaluation (`values`) and the SLO summaries (`reports`) as one snapshot row each: the states with compare-and-set on
    /// `last_eval_ms`, and the history lines and outbox rows of the states whose write won.
    /// `retired` rows (alerts whose rule is gone and that need no notification) are deleted.
    /// Each kind of row is one statement however many instances changed (all 40 probes going
    /// down at once stays within the Free plan's 50 D1 queries per invocation). Returns, per
    /// change, whether this run's write won; a run that lost raced another and must not log.
    pub async fn persist_alerts(
        &self,
        now_ms: f64,
        changes: &[AlertChange],
        retired: &[String],
        slots: &[GroupSlot],
        values: &[EvaluatedValue],
        reports: &[SloReport],
    ) -> StoreResult<Vec<bool>> {
        let mut statements = Vec::new();
        if !changes.is_empty() {
            let states: Vec<Value> = changes.iter().map(state_row).collect();
            statements.push(self.save_states(&states)?);
        }
        let history: Vec<Value> = changes
            .iter()
            .filter_map(|change| {
                let transition = change.transition?;
                let key = change.row.alert_key.as_str();
                let value = finite(change.row.state.last_value);
                Some(json!([key, transition.as_str(), now_ms, value]))
            })
            .collect();
        if !history.is_empty() {
            statements.push(self.append_history(&history)?);
        }
        let entries: Vec<(&OutboxEntry, &str)> = changes
            .iter()
            .flat_map(|c| c.outbox.iter().map(|e| (e, c.row.alert_key.as_str())))
            .collect();
        statements.extend(self.enqueue_all(&entries, now_ms)?);
        if !retired.is_empty() {
            let ids = serde_json::to_string(retired).unwrap_or_else(|_| "[]".into());
            statements.push(
                self.prepare(
                    "DELETE FROM alert_state WHERE alert_key IN (SELECT value FROM json_each(?1))",
                )
                .bind(&[ids.into()])?,
            );
        }
        for slot in slots {
            statements.push(self.save_slot(slot)?);
        }
        statements.push(self.put_snapshot(kind::ALERT_VALUES, &values, now_ms)?);
        let mut reports: Vec<&SloReport> = reports.iter().collect();
        reports.sort_by_key(|r| slo_key(r));
        statements.push(self.put_snapshot(kind::SLO_REPORTS, &reports, now_ms)?);
        let results = self.batch(statements).await?;
        let won = match (changes.is_empty(), results.first()) {
            (false, Some(written)) => keys_written(written)?,
            _ => BTreeSet::new(),
        };
        Ok(changes
            .iter()
            .map(|c| won.contains(&c.row.alert_key))
            .collect())
    }

    /// Upserts the states (each from [`state_row`]), each only if its stored `last_eval_ms`
    /// is still the one this run read; returns the keys written.
    fn save_states(&self, rows: &[Value]) -> StoreResult<Statement<'_>> {
        self.each_row(
            "INSERT INTO alert_state (alert_key, phase, severity, active_since_ms, fired_at_ms,
               resolved_at_ms, last_true_ms, last_value, last_eval_ms, last_notified_ms,
               labels, annotations, rule_id, last_sent)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
               value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 11, value ->> 12,
               value ->> 13, value ->> 14
             FROM json_each(?1) WHERE true
             ON CONFLICT (alert_key) DO UPDATE SET phase = excluded.phase,
               severity = excluded.severity, active_since_ms = excluded.active_since_ms,
               fired_at_ms = excluded.fired_at_ms, resolved_at_ms = excluded.resolved_at_ms,
               last_true_ms = excluded.last_true_ms, last_value = excluded.last_value,
               last_eval_ms = excluded.last_eval_ms, last_notified_ms = excluded.last_notified_ms,
               labels = excluded.labels, annotations = excluded.annotations,
               last_sent = excluded.last_sent
             WHERE alert_state.last_eval_ms IS (
               SELECT value ->> 10 FROM json_each(?1) WHERE value ->> 0 = excluded.alert_key)
             RETURNING alert_key"
                .into(),
            rows,
        )
    }

    /// History lines (`[alert_key, transition, at_ms, value]`), each only if its state's
    /// write won.
    fn append_history(&self, rows: &[Value]) -> StoreResult<Statement<'_>> {
        self.each_row(
            "INSERT INTO alert_history (alert_key, transition, at_ms, value)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)
             WHERE EXISTS (SELECT 1 FROM alert_state
                           WHERE alert_key = value ->> 0 AND last_eval_ms = value ->> 2)
             ON CONFLICT (alert_key, transition, at_ms) DO NOTHING"
                .into(),
            rows,
        )
    }

    /// Replaces the stored SLO summaries (one snapshot row, whatever their number).
    /// The stored SLO summaries (none before the first cron run).
    pub async fn slo_reports(&self) -> StoreResult<Vec<SloReport>> {
        Ok(self.snapshot(kind::SLO_REPORTS).await?.unwrap_or_default())
    }

    /// The oldest history lines from before `cutoff_ms` (at most `limit`), oldest first.
    pub async fn history_before(&self, cutoff_ms: f64, limit: u32) -> StoreResult<Vec<HistoryRow>> {
        self.prepare(
            "SELECT id, alert_key, transition, at_ms, value FROM alert_history
             WHERE at_ms < ?1 ORDER BY at_ms, id LIMIT ?2",
        )
        .bind(&[cutoff_ms.into(), limit.into()])?
        .all()
        .await
    }

    /// Deletes history lines once archived (by id, so only what was archived goes).
    pub async fn delete_history(&self, ids: &[f64]) -> StoreResult<()> {
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.prepare("DELETE FROM alert_history WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(&[ids.into()])?
            .run()
            .await?;
        Ok(())
    }

    /// The newest `limit` transitions, newest first.
    pub async fn recent_history(&self, limit: u32) -> StoreResult<Vec<HistoryRow>> {
        self.prepare(
            "SELECT id, alert_key, transition, at_ms, value FROM alert_history
             ORDER BY at_ms DESC, id DESC LIMIT ?1",
        )
        .bind(&[limit.into()])?
        .all()
        .await
    }
}

/// A report's sort key: `{service}/{slo}`, or `probe:{probe}/{slo}`.
fn slo_key(report: &SloReport) -> String {
    match &report.probe {
        Some(probe) => format!("probe:{probe}/{}", report.name.as_str()),
        None => format!("{}/{}", report.service, report.name.as_str()),
    }
}

/// An `alert_state` row as [`Store::save_states`] reads it; element 10 is the `last_eval_ms`
/// this run read (the compare-and-set's expected value), not a column.
fn state_row(change: &AlertChange) -> Value {
    let (row, state) = (&change.row, &change.row.state);
    let json = |map| serde_json::to_string(map).unwrap_or_else(|_| "{}".into());
    json!([
        row.alert_key,
        state.phase.as_str(),
        row.severity.as_str(),
        state.active_since_ms,
        state.fired_at_ms,
        state.resolved_at_ms,
        state.last_true_ms,
        finite(state.last_value),
        state.last_eval_ms,
        state.last_notified_ms,
        change.previous_eval_ms,
        json(&row.labels),
        json(&row.annotations),
        row.rule_id,
        state.last_sent.map(|kind| kind.as_str()),
    ])
}

/// The alert keys [`Store::save_states`] returned: the states whose write won.
fn keys_written(result: &super::Answer) -> StoreResult<BTreeSet<String>> {
    #[derive(serde::Deserialize)]
    struct Won {
        alert_key: String,
    }
    let won = result.rows::<Won>()?;
    Ok(won.into_iter().map(|w| w.alert_key).collect())
}
