//! What every cron run recomputes and the APIs show between changes (SLO reports, alert
//! instances' last values, probes' last checks, the self-probe's dependencies): one row per kind, rewritten by each run, so
//! its cost does not grow with the number of subjects.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Statement, Store, StoreError, StoreResult};

/// The snapshot kinds (row names).
pub mod kind {
    pub const SLO_REPORTS: &str = "slo_reports";
    pub const ALERT_VALUES: &str = "alert_values";
    pub const PROBE_CHECKS: &str = "probe_checks";
    pub const DEPENDENCIES: &str = "dependencies";
}

impl Store {
    /// The statement that replaces the `name` snapshot with `body`.
    pub(super) fn put_snapshot<T: Serialize>(
        &self,
        name: &str,
        body: &T,
        now_ms: f64,
    ) -> StoreResult<Statement<'_>> {
        let json = serde_json::to_string(body)
            .map_err(|e| StoreError(format!("snapshot {name} does not serialize: {e}")))?;
        self.prepare(
            "INSERT INTO snapshot (name, body, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body,
               updated_ms = excluded.updated_ms",
        )
        .bind(&[name.into(), json.into(), now_ms.into()])
    }

    /// The `name` snapshot; `None` before the first run wrote it, or if it no longer reads as
    /// `T` (an older version's shape: the next run replaces it).
    pub(super) async fn snapshot<T: DeserializeOwned>(&self, name: &str) -> StoreResult<Option<T>> {
        #[derive(serde::Deserialize)]
        struct Row {
            body: String,
        }
        let row: Option<Row> = self
            .prepare("SELECT body FROM snapshot WHERE name = ?1")
            .bind(&[name.into()])?
            .first()
            .await?;
        Ok(row.and_then(|r| serde_json::from_str(&r.body).ok()))
    }
}
