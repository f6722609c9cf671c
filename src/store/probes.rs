//! Probe states and check totals, and heartbeat pings.

use wasm_bindgen::JsValue;

use super::{nullable, Store, StoreResult, PROBES};
use vigil_core::alerting::window::WindowStats;
use vigil_core::probes::heartbeats::LastPing;
use vigil_core::probes::state::{LastCheck, ProbeState, ProbeStatus};
use vigil_core::probes::verdict::CheckResult;
use vigil_core::telemetry::counters::PROBES_DEFERRED;

/// A stored `probe_state` row.
#[derive(serde::Deserialize)]
struct ProbeRow {
    probe: String,
    status: String,
    failures: u32,
    successes: u32,
    changed_ms: Option<f64>,
    last_run_ms: Option<f64>,
    last_result: Option<String>,
    last_reason: Option<String>,
    last_duration_ms: Option<f64>,
    last_http_status: Option<u16>,
    checks_pass: u64,
    checks_slow: u64,
    checks_fail: u64,
}

impl From<ProbeRow> for (String, ProbeState) {
    fn from(row: ProbeRow) -> (String, ProbeState) {
        let last = match (row.last_run_ms, row.last_result.as_deref()) {
            (Some(at_ms), Some(result)) => CheckResult::parse(result).map(|result| LastCheck {
                at_ms,
                result,
                reason: row.last_reason,
                duration_ms: row.last_duration_ms.unwrap_or(0.0),
                http_status: row.last_http_status,
            }),
            _ => None,
        };
        let state = ProbeState {
            status: ProbeStatus::parse(&row.status),
            failures: row.failures,
            successes: row.successes,
            changed_ms: row.changed_ms,
            last,
            checks: [row.checks_pass, row.checks_slow, row.checks_fail],
        };
        (row.probe, state)
    }
}

impl Store {
    /// Every probe's stored state (bounded by the probe cap).
    pub async fn probe_states(&self) -> StoreResult<Vec<(String, ProbeState)>> {
        let rows: Vec<ProbeRow> = self
            .prepare("SELECT * FROM probe_state ORDER BY probe LIMIT 1000")
            .all()
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Stores the probes checked this run (their new states, and one check each in their
    /// minute's running totals) and counts the deferred ones, in one batch.
    pub async fn save_probe_checks(
        &self,
        checked: &[(String, ProbeState)],
        deferred: u64,
    ) -> StoreResult<()> {
        let mut statements = Vec::with_capacity(checked.len() * 3 + 1);
        for (probe, state) in checked {
            let Some(last) = &state.last else {
                continue;
            };
            let values: Vec<JsValue> = vec![
                probe.as_str().into(),
                state.status.as_str().into(),
                state.failures.into(),
                state.successes.into(),
                nullable(state.changed_ms),
                last.at_ms.into(),
                last.result.as_str().into(),
                last.reason.as_deref().map_or(JsValue::NULL, JsValue::from),
                last.duration_ms.into(),
                last.http_status.map_or(JsValue::NULL, JsValue::from),
                (state.checks[0] as f64).into(),
                (state.checks[1] as f64).into(),
                (state.checks[2] as f64).into(),
            ];
            statements.push(
                self.prepare(
                    "INSERT OR REPLACE INTO probe_state (probe, status, failures, successes,
                       changed_ms, last_run_ms, last_result, last_reason, last_duration_ms,
                       last_http_status, checks_pass, checks_slow, checks_fail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .bind(&values)?,
            );
            let delta = WindowStats {
                probes: 1,
                probes_failed: u64::from(!last.result.succeeded()),
                ..WindowStats::default()
            };
            let minute = (last.at_ms / 60_000.0).floor() as i64;
            statements.extend(self.add_to_totals(&PROBES, probe, minute, &delta)?);
        }
        if deferred > 0 {
            statements.push(self.increment_counter(PROBES_DEFERRED, deferred)?);
        }
        self.batch(statements).await?;
        Ok(())
    }

    /// Records a monitor's ping (a failure report when `failed`).
    pub async fn record_ping(&self, monitor: &str, at_ms: f64, failed: bool) -> StoreResult<()> {
        self.prepare(
            "INSERT OR REPLACE INTO heartbeat_ping (monitor, last_ping_ms, failed)
             VALUES (?1, ?2, ?3)",
        )
        .bind(&[monitor.into(), at_ms.into(), u8::from(failed).into()])?
        .run()
        .await?;
        Ok(())
    }

    /// Every pinged monitor's last ping (bounded by the monitor cap).
    pub async fn last_pings(&self) -> StoreResult<Vec<(String, LastPing)>> {
        #[derive(serde::Deserialize)]
        struct Row {
            monitor: String,
            last_ping_ms: f64,
            failed: u8,
        }
        let rows: Vec<Row> = self
            .prepare("SELECT monitor, last_ping_ms, failed FROM heartbeat_ping LIMIT 1000")
            .all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let ping = LastPing {
                    at_ms: r.last_ping_ms,
                    failed: r.failed != 0,
                };
                (r.monitor, ping)
            })
            .collect())
    }
}
