//! Probe states and check totals, and heartbeat pings.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::snapshot::kind;
use super::{Statement, Store, StoreResult, PROBES};
use vigil_core::probes::heartbeats::LastPing;
use vigil_core::probes::ledger::Check;
use vigil_core::probes::state::{status_changed, LastCheck, ProbeState, ProbeStatus};
use vigil_core::probes::verdict::CheckResult;
use vigil_core::telemetry::counters::PROBES_DEFERRED;

/// A probe's state as the run's snapshot row keeps it for every probe (written in the same
/// batch as any status row, so never older than one).
#[derive(serde::Serialize, serde::Deserialize, Clone, Default)]
struct Snapshotted {
    status: String,
    changed_ms: Option<f64>,
    #[serde(flatten)]
    latest: Latest,
}

/// What a probe's every check changes: its consecutive counts, its last check and its running
/// counts by result. Kept in the `probe_state` row when the status changes, and in the
/// snapshot.
#[derive(serde::Serialize, serde::Deserialize, Clone, Default)]
struct Latest {
    failures: u32,
    successes: u32,
    last_run_ms: Option<f64>,
    last_result: Option<String>,
    last_reason: Option<String>,
    last_duration_ms: Option<f64>,
    last_http_status: Option<u16>,
    checks_pass: u64,
    checks_slow: u64,
    checks_fail: u64,
}

/// A stored `probe_state` row: the status, written when it changes.
#[derive(serde::Deserialize)]
struct ProbeRow {
    probe: String,
    status: String,
    changed_ms: Option<f64>,
    #[serde(flatten)]
    latest: Latest,
}

impl Latest {
    fn of(state: &ProbeState) -> Latest {
        let last = state.last.as_ref();
        Latest {
            failures: state.failures,
            successes: state.successes,
            last_run_ms: last.map(|l| l.at_ms),
            last_result: last.map(|l| l.result.as_str().to_string()),
            last_reason: last.and_then(|l| l.reason.clone()),
            last_duration_ms: last.map(|l| l.duration_ms),
            last_http_status: last.and_then(|l| l.http_status),
            checks_pass: state.checks[0],
            checks_slow: state.checks[1],
            checks_fail: state.checks[2],
        }
    }

    fn into_state(self, status: ProbeStatus, changed_ms: Option<f64>) -> ProbeState {
        let last = match (self.last_run_ms, self.last_result.as_deref()) {
            (Some(at_ms), Some(result)) => CheckResult::parse(result).map(|result| LastCheck {
                at_ms,
                result,
                reason: self.last_reason,
                duration_ms: self.last_duration_ms.unwrap_or(0.0),
                http_status: self.last_http_status,
            }),
            _ => None,
        };
        ProbeState {
            status,
            failures: self.failures,
            successes: self.successes,
            changed_ms,
            last,
            checks: [self.checks_pass, self.checks_slow, self.checks_fail],
        }
    }
}

/// One probe checked by a cron run.
pub struct ProbeCheck<'a> {
    pub probe: &'a str,
    pub previous: &'a ProbeState,
    pub next: &'a ProbeState,
    pub every_minute: bool,
}

impl Store {
    /// Every probe's state: the run's snapshot, or before the first run that wrote one, the
    /// status rows (bounded by the probe cap).
    pub async fn probe_states(&self) -> StoreResult<Vec<(String, ProbeState)>> {
        let snapshot = self
            .snapshot::<BTreeMap<String, Snapshotted>>(kind::PROBE_CHECKS)
            .await?;
        if let Some(snapshot) = snapshot {
            return Ok(snapshot
                .into_iter()
                .map(|(probe, s)| {
                    let status = ProbeStatus::parse(&s.status);
                    (probe, s.latest.into_state(status, s.changed_ms))
                })
                .collect());
        }
        let rows: Vec<ProbeRow> = self
            .prepare("SELECT * FROM probe_state ORDER BY probe LIMIT 1000")
            .all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let status = ProbeStatus::parse(&row.status);
                (row.probe, row.latest.into_state(status, row.changed_ms))
            })
            .collect())
    }

    /// Stores a run's probe checks in one batch: a probe's status row when its status
    /// changed, each check in the rated ledger (rows only when the pattern breaks), every
    /// probe's latest state (`all`) as one snapshot row, and the deferred checks.
    pub async fn save_probe_checks(
        &self,
        now_ms: f64,
        checked: &[ProbeCheck<'_>],
        all: &BTreeMap<String, ProbeState>,
        deferred: u64,
    ) -> StoreResult<()> {
        let mut statements = Vec::with_capacity(4);
        let mut changed = Vec::new();
        let mut checks = Vec::with_capacity(checked.len());
        for c in checked {
            let Some(last) = &c.next.last else {
                continue;
            };
            if status_changed(c.previous, c.next) {
                changed.push(probe_state_row(c.probe, c.next));
            }
            let minute_of = |ms: f64| (ms / 60_000.0).floor() as i64;
            let check = Check {
                minute: minute_of(last.at_ms),
                failed: !last.result.succeeded(),
                previous: c.previous.last.as_ref().map(|l| minute_of(l.at_ms)),
                every_minute: c.every_minute,
            };
            checks.push((c.probe.to_string(), check));
        }
        if !changed.is_empty() {
            statements.push(self.save_probe_states(&changed)?);
        }
        statements.extend(self.record_checks(&PROBES, &checks).await?);
        let latest: BTreeMap<&String, Snapshotted> = all
            .iter()
            .map(|(name, s)| {
                let snapshotted = Snapshotted {
                    status: s.status.as_str().to_string(),
                    changed_ms: s.changed_ms,
                    latest: Latest::of(s),
                };
                (name, snapshotted)
            })
            .collect();
        statements.push(self.put_snapshot(kind::PROBE_CHECKS, &latest, now_ms)?);
        statements.extend(self.increment_counters(&[(PROBES_DEFERRED.to_string(), deferred)])?);
        self.batch(statements).await?;
        Ok(())
    }

    /// Writes the probes' state rows (each from [`probe_state_row`]) in one statement.
    fn save_probe_states(&self, rows: &[Value]) -> StoreResult<Statement<'_>> {
        self.each_row(
            "INSERT OR REPLACE INTO probe_state (probe, status, failures, successes,
               changed_ms, last_run_ms, last_result, last_reason, last_duration_ms,
               last_http_status, checks_pass, checks_slow, checks_fail)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
               value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10,
               value ->> 11, value ->> 12
             FROM json_each(?1)"
                .into(),
            rows,
        )
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

/// A `probe_state` row as [`Store::save_probe_states`] reads it.
fn probe_state_row(probe: &str, state: &ProbeState) -> Value {
    let l = Latest::of(state);
    json!([
        probe,
        state.status.as_str(),
        l.failures,
        l.successes,
        state.changed_ms,
        l.last_run_ms,
        l.last_result,
        l.last_reason,
        l.last_duration_ms,
        l.last_http_status,
        l.checks_pass,
        l.checks_slow,
        l.checks_fail
    ])
}
