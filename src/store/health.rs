//! Heartbeats, readiness probes, smoke round trips and the cron's self-probe.

use wasm_bindgen::JsValue;

use super::snapshot::kind;
use super::{Store, StoreError, StoreResult, COMPONENTS, SERVICES};
use vigil_core::alerting::window::WindowStats;
use vigil_core::health::checks::CheckResult;
use vigil_core::probes::ledger::Check;
use vigil_core::records::{DependencyStatus, Heartbeat};
use vigil_core::telemetry::limits::InvocationUse;

impl Store {
    /// Records a cron run of `job` at `run_ms`; a failed run keeps the last success time.
    pub async fn record_heartbeat(
        &self,
        job: &str,
        run_ms: f64,
        duration_ms: f64,
        error: Option<&str>,
        used: &InvocationUse,
    ) -> StoreResult<()> {
        let used = serde_json::to_string(used).map_err(|e| StoreError(e.to_string()))?;
        self.prepare(
            "INSERT INTO cron_heartbeat (job, last_run_ms, last_success_ms, last_duration_ms, last_error, last_use)
             VALUES (?1, ?2, CASE WHEN ?4 IS NULL THEN ?2 END, ?3, ?4, ?5)
             ON CONFLICT (job) DO UPDATE SET
               last_run_ms = excluded.last_run_ms,
               last_success_ms = COALESCE(excluded.last_success_ms, cron_heartbeat.last_success_ms),
               last_duration_ms = excluded.last_duration_ms,
               last_error = excluded.last_error,
               last_use = excluded.last_use",
        )
        .bind(&[
            job.into(),
            run_ms.into(),
            duration_ms.into(),
            error.map_or(JsValue::NULL, JsValue::from),
            used.into(),
        ])?
        .run()
        .await?;
        Ok(())
    }

    /// `SELECT 1`: the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.prepare("SELECT 1 AS one")
            .first::<serde_json::Value>()
            .await?;
        Ok(())
    }

    /// Names of the migrations wrangler has applied; none when its table does not exist yet.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
        }
        match self
            .prepare("SELECT name FROM d1_migrations ORDER BY id LIMIT 1000")
            .all::<Row>()
            .await
        {
            Ok(rows) => Ok(rows.into_iter().map(|r| r.name).collect()),
            Err(e) if e.0.contains("no such table") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub async fn read_heartbeat(&self, job: &str) -> StoreResult<Option<Heartbeat>> {
        self.prepare(
            "SELECT last_run_ms, last_success_ms, last_error, last_use FROM cron_heartbeat WHERE job = ?1",
        )
        .bind(&[job.into()])?
        .first::<Heartbeat>()
        .await
    }

    /// Writes `id`, reads it back and deletes it, in one batch; returns what was read.
    pub async fn smoke_round_trip(&self, id: &str, now_ms: f64) -> StoreResult<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            id: String,
        }
        let results = self
            .batch(vec![
                self.prepare("INSERT INTO health_smoke (id, written_ms) VALUES (?1, ?2)")
                    .bind(&[id.into(), now_ms.into()])?,
                self.prepare("SELECT id FROM health_smoke WHERE id = ?1")
                    .bind(&[id.into()])?,
                self.prepare("DELETE FROM health_smoke WHERE id = ?1")
                    .bind(&[id.into()])?,
            ])
            .await?;
        let read = results
            .get(1)
            .map(|r| r.rows::<Row>())
            .transpose()?
            .and_then(|rows| rows.into_iter().next())
            .map(|row| row.id);
        Ok(read)
    }

    /// Records the cron's self-probe: each dependency's latest status, and one probe (failed if
    /// any check failed) in `service`'s running totals.
    pub async fn record_self_probe(
        &self,
        service: &str,
        now_ms: f64,
        results: &[CheckResult],
    ) -> StoreResult<()> {
        let dependencies: Vec<DependencyStatus> = results
            .iter()
            .map(|r| DependencyStatus {
                component: r.check.name().to_string(),
                up: u8::from(r.passed()),
                duration_ms: r.duration_ms,
                checked_ms: now_ms,
            })
            .collect();
        let mut statements = vec![self.put_snapshot(kind::DEPENDENCIES, &dependencies, now_ms)?];
        let failed = results.iter().any(|r| !r.passed());
        let probe = WindowStats {
            probes: 1,
            probes_failed: u64::from(failed),
            ..WindowStats::default()
        };
        let minute = (now_ms / 60_000.0).floor() as i64;
        statements.extend(self.add_to_totals(&SERVICES, service, minute, &probe)?);
        self.batch(statements).await?;
        Ok(())
    }

    /// Records one check per component (`(ledger key, failed)`) in the components' rated
    /// ledger, given the minute of the previous run's checks: what the status page's daily
    /// bars of monitors and dependencies read.
    pub async fn record_component_checks(
        &self,
        now_ms: f64,
        previous_ms: Option<f64>,
        checks: &[(String, bool)],
    ) -> StoreResult<()> {
        let minute_of = |ms: f64| (ms / 60_000.0).floor() as i64;
        let checks: Vec<(String, Check)> = checks
            .iter()
            .map(|(key, failed)| {
                let check = Check {
                    minute: minute_of(now_ms),
                    failed: *failed,
                    previous: previous_ms.map(minute_of),
                    every_minute: true,
                };
                (key.clone(), check)
            })
            .collect();
        let statements = self.record_checks(&COMPONENTS, &checks).await?;
        if !statements.is_empty() {
            self.batch(statements).await?;
        }
        Ok(())
    }

    /// The last self-probe's result per dependency (none before the first cron run).
    pub async fn dependency_statuses(&self) -> StoreResult<Vec<DependencyStatus>> {
        Ok(self.snapshot(kind::DEPENDENCIES).await?.unwrap_or_default())
    }
}
