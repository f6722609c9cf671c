//! Alert state, its history and the SLO summaries.

use wasm_bindgen::JsValue;

use super::{
    finite, nullable, GroupSlot, OutboxEntry, Store, StoreResult, COMPONENTS, PROBES, SERVICES,
};
use vigil_core::alerting::slo::SloReport;
use vigil_core::alerting::state::Transition;
use vigil_core::records::{AlertRow, HistoryRow};

/// How long alert history stays in D1 before it is archived to R2.
pub const HISTORY_RETENTION_MS: f64 = 90.0 * 86_400_000.0;

/// One alert's evaluation, to persist atomically: its new state (compare-and-set against the
/// `last_eval_ms` it was computed from), the transition for the history and what it notifies.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub row: AlertRow,
    pub previous_eval_ms: Option<f64>,
    pub transition: Option<Transition>,
    pub outbox: Vec<OutboxEntry>,
}

impl Store {
    /// Every stored alert instance (bounded by rules × services). Columns are
    /// aliased to `AlertState`'s field names so rows deserialize straight into it.
    pub async fn alert_rows(&self) -> StoreResult<Vec<AlertRow>> {
        self.prepare(
            "SELECT alert_key, rule_id, severity, labels, annotations, phase,
                    active_since_ms AS activeSinceMs, fired_at_ms AS firedAtMs,
                    resolved_at_ms AS resolvedAtMs, last_true_ms AS lastTrueMs,
                    last_value AS lastValue, last_eval_ms AS lastEvalMs,
                    last_notified_ms AS lastNotifiedMs, last_sent AS lastSent
             FROM alert_state ORDER BY alert_key LIMIT 1000",
        )
        .all()
        .await
    }

    /// Writes every change in one batch (one transaction): each state with compare-and-set on
    /// `last_eval_ms`, and its history line and outbox rows only if that write won. `retired`
    /// rows (alerts whose rule is gone and that need no notification) are deleted. Returns, per
    /// change, whether this run's write won; a run that lost raced another and must not log.
    pub async fn persist_alerts(
        &self,
        now_ms: f64,
        changes: &[AlertChange],
        retired: &[String],
        slots: &[GroupSlot],
    ) -> StoreResult<Vec<bool>> {
        let mut statements = Vec::new();
        let mut state_writes = Vec::with_capacity(changes.len());
        for change in changes {
            state_writes.push(statements.len());
            statements.push(self.save_state(change)?);
            if let Some(transition) = change.transition {
                statements.push(self.append_history(change, transition, now_ms)?);
            }
            for entry in &change.outbox {
                statements.push(self.enqueue(entry, &change.row.alert_key, now_ms)?);
            }
        }
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
        let results = self.batch(statements).await?;
        state_writes
            .into_iter()
            .map(|at| results.get(at).map_or(Ok(false), super::changed_any))
            .collect()
    }

    fn save_state(&self, change: &AlertChange) -> StoreResult<super::Statement<'_>> {
        let (row, state) = (&change.row, &change.row.state);
        let json = |map| serde_json::to_string(map).unwrap_or_else(|_| "{}".into());
        self.prepare(
            "INSERT INTO alert_state (alert_key, phase, severity, active_since_ms, fired_at_ms,
               resolved_at_ms, last_true_ms, last_value, last_eval_ms, last_notified_ms,
               labels, annotations, rule_id, last_sent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15)
             ON CONFLICT (alert_key) DO UPDATE SET phase = excluded.phase,
               severity = excluded.severity, active_since_ms = excluded.active_since_ms,
               fired_at_ms = excluded.fired_at_ms, resolved_at_ms = excluded.resolved_at_ms,
               last_true_ms = excluded.last_true_ms, last_value = excluded.last_value,
               last_eval_ms = excluded.last_eval_ms, last_notified_ms = excluded.last_notified_ms,
               labels = excluded.labels, annotations = excluded.annotations,
               last_sent = excluded.last_sent
             WHERE alert_state.last_eval_ms IS ?11",
        )
        .bind(&[
            row.alert_key.as_str().into(),
            state.phase.as_str().into(),
            row.severity.as_str().into(),
            nullable(state.active_since_ms),
            nullable(state.fired_at_ms),
            nullable(state.resolved_at_ms),
            nullable(state.last_true_ms),
            finite(state.last_value).into(),
            nullable(state.last_eval_ms),
            nullable(state.last_notified_ms),
            nullable(change.previous_eval_ms),
            json(&row.labels).into(),
            json(&row.annotations).into(),
            row.rule_id.as_str().into(),
            state
                .last_sent
                .map_or(JsValue::NULL, |kind| kind.as_str().into()),
        ])
    }

    fn append_history(
        &self,
        change: &AlertChange,
        transition: Transition,
        now_ms: f64,
    ) -> StoreResult<super::Statement<'_>> {
        self.prepare(
            "INSERT INTO alert_history (alert_key, transition, at_ms, value)
             SELECT ?1, ?2, ?3, ?4
             WHERE EXISTS (SELECT 1 FROM alert_state WHERE alert_key = ?1 AND last_eval_ms = ?3)
             ON CONFLICT (alert_key, transition, at_ms) DO NOTHING",
        )
        .bind(&[
            change.row.alert_key.as_str().into(),
            transition.as_str().into(),
            now_ms.into(),
            finite(change.row.state.last_value).into(),
        ])
    }

    /// Replaces the stored SLO summaries, and forgets those of probes no longer configured.
    pub async fn save_slo_reports(&self, now_ms: f64, reports: &[SloReport]) -> StoreResult<()> {
        let probes: Vec<&str> = reports.iter().filter_map(|r| r.probe.as_deref()).collect();
        let names = serde_json::to_string(&probes).unwrap_or_else(|_| "[]".into());
        let mut statements = vec![self
            .prepare(
                "DELETE FROM slo_report WHERE slo LIKE 'probe:%'
                   AND substr(slo, 7, instr(slo, '/') - 7) NOT IN (SELECT value FROM json_each(?1))",
            )
            .bind(&[names.into()])?];
        for report in reports {
            let json = serde_json::to_string(report)
                .map_err(|e| super::StoreError(format!("SLO report does not serialize: {e}")))?;
            statements.push(
                self.prepare(
                    "INSERT INTO slo_report (slo, report, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (slo) DO UPDATE SET report = excluded.report,
                       updated_ms = excluded.updated_ms",
                )
                .bind(&[slo_key(report).into(), json.into(), now_ms.into()])?,
            );
        }
        self.batch(statements).await?;
        Ok(())
    }

    /// The stored SLO summaries; a row that no longer reads as a report is skipped.
    pub async fn slo_reports(&self) -> StoreResult<Vec<SloReport>> {
        #[derive(serde::Deserialize)]
        struct Row {
            report: String,
        }
        let rows: Vec<Row> = self
            .prepare("SELECT report FROM slo_report ORDER BY slo LIMIT 1000")
            .all()
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r.report).ok())
            .collect())
    }

    /// Retention: running totals beyond the 30-day SLO window (plus a margin) but for one row
    /// per day for 90 days, notifications delivered over a week ago, dead letters over 30 days
    /// old, silences over for five days and maintenance for 35. Waiting notifications are never
    /// deleted.
    pub async fn apply_retention(&self, now_ms: f64) -> StoreResult<()> {
        const DAY_MS: f64 = 86_400_000.0;
        let minute_cutoff = ((now_ms - 35.0 * DAY_MS) / 60_000.0).floor();
        // Daily rows stay for the status page's 90 days (and the base before the first).
        let daily_from = ((now_ms / DAY_MS).floor() - 90.0) * 1440.0;
        let [silences, maintenances] = self.trim_silences(now_ms)?;
        self.batch(vec![
            self.trim_totals(&SERVICES, minute_cutoff, daily_from)?,
            self.trim_totals(&PROBES, minute_cutoff, daily_from)?,
            self.trim_totals(&COMPONENTS, minute_cutoff, daily_from)?,
            silences,
            maintenances,
            self.prepare("DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?1")
                .bind(&[(now_ms - 7.0 * DAY_MS).into()])?,
            self.prepare("DELETE FROM outbox WHERE dead_ms IS NOT NULL AND dead_ms < ?1")
                .bind(&[(now_ms - 30.0 * DAY_MS).into()])?,
            self.prepare("DELETE FROM notify_group WHERE slot_ms < ?1")
                .bind(&[(now_ms - 7.0 * DAY_MS).into()])?,
        ])
        .await?;
        Ok(())
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

/// A report's row key: `{service}/{slo}`, or `probe:{probe}/{slo}`.
fn slo_key(report: &SloReport) -> String {
    match &report.probe {
        Some(probe) => format!("probe:{probe}/{}", report.name.as_str()),
        None => format!("{}/{}", report.service, report.name.as_str()),
    }
}
