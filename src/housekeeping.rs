//! Housekeeping, on its own schedule (the first cron run of each hour): retention of rollups and
//! delivered notifications, and archiving of old alert history to R2 before it leaves D1. It
//! runs as a job of its own (`jobs`), so the hourly cron run costs no more CPU and D1 queries
//! than any other; without the jobs binding the cron runs it itself.

use worker::Env;

use crate::aggregator::client::Delivery;
use crate::aggregator::hub;
use crate::health::probes::D1Statements;
use crate::health::probes::R2_BINDING;
use crate::jobs::{self, Job};
use crate::settings;
use crate::store::{describe, Store, HISTORY_RETENTION_MS};
use crate::telemetry::log::{error_field, Level};
use vigil_core::telemetry::store_cost::Operation;
use vigil_core::time::iso_timestamp;

/// History lines archived per run; a backlog drains over the following hours.
const ARCHIVE_BATCH: u32 = 1000;

/// Whether housekeeping is due at the cron time `now_ms`: once an hour, on minute 0.
pub fn due(now_ms: f64) -> bool {
    ((now_ms / 60_000.0).floor() as i64).rem_euclid(60) == 0
}

/// What the cron's housekeeping step did.
pub struct Housekept {
    /// History lines archived to R2.
    pub archived: usize,
    /// Subrequests the cron made for it (the job's call).
    pub subrequests: u32,
}

/// The hourly step: as a job of its own when the binding is there, else in this invocation
/// (its D1 statements then count in `statements`).
pub async fn run_due(
    env: &Env,
    now_ms: f64,
    statements: D1Statements,
) -> Result<Housekept, String> {
    let Some(binding) = jobs::binding(env) else {
        let archived = run(env, now_ms, statements).await?;
        return Ok(Housekept {
            archived,
            subrequests: 0,
        });
    };
    let body = serde_json::to_string(&JobRequest { now_ms }).map_err(|e| e.to_string())?;
    let answer = jobs::send(&binding, Job::Housekeeping, body).await?;
    let done: JobAnswer =
        serde_json::from_str(&answer).map_err(|e| format!("housekeeping's answer: {e}"))?;
    Ok(Housekept {
        archived: done.archived,
        subrequests: 1,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JobRequest {
    #[serde(rename = "nowMs")]
    now_ms: f64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JobAnswer {
    archived: usize,
}

/// The housekeeping job (see `jobs`): `{"nowMs": …}` in, `{"archived": n}` out.
pub async fn run_job(body: &str, env: &Env) -> Result<String, String> {
    let request: JobRequest =
        serde_json::from_str(body).map_err(|e| format!("not a housekeeping job: {e}"))?;
    let archived = run(env, request.now_ms, D1Statements::default()).await;
    // The rows it cost are billed from this invocation's isolate, which may not be the cron's.
    if let Err(e) = hub::flush(env, request.now_ms, Delivery::Merge).await {
        let settings = settings::load(env);
        let mut fields = serde_json::Map::new();
        fields.insert(
            "error".into(),
            error_field("MetricsFlushFailed", &e.to_string()),
        );
        settings
            .logger
            .emit(Level::Warn, "housekeeping's cost not sent", fields);
    }
    serde_json::to_string(&JobAnswer {
        archived: archived?,
    })
    .map_err(|e| e.to_string())
}

/// Applies retention and archives history older than 90 days as one JSON-lines object per run
/// under `alert-history/` in R2. History is deleted only after its archive is written, so an
/// R2 failure loses nothing: it is retried next hour.
async fn run(env: &Env, now_ms: f64, statements: D1Statements) -> Result<usize, String> {
    let store =
        Store::counted(env, Operation::Housekeeping, statements).map_err(|e| e.to_string())?;
    store
        .apply_retention(now_ms)
        .await
        .map_err(|e| format!("retention: {e}"))?;
    let old = store
        .history_before(now_ms - HISTORY_RETENTION_MS, ARCHIVE_BATCH)
        .await
        .map_err(|e| format!("history: {e}"))?;
    if old.is_empty() {
        return Ok(0);
    }
    let lines: String = old
        .iter()
        .map(|h| {
            serde_json::json!({
                "alert": h.alert_key,
                "transition": h.transition,
                "at": iso_timestamp(h.at_ms),
                "value": h.value,
            })
            .to_string()
                + "\n"
        })
        .collect();
    let bucket = env
        .bucket(R2_BINDING)
        .map_err(|_| format!("R2 binding {R2_BINDING} is not configured; history kept in D1"))?;
    let key = format!("alert-history/{}.jsonl", iso_timestamp(now_ms));
    bucket
        .put(&key, lines.into_bytes())
        .execute()
        .await
        .map_err(|e| format!("archive to R2: {}; history kept in D1", describe(&e)))?;
    let ids: Vec<f64> = old.iter().map(|h| h.id).collect();
    store
        .delete_history(&ids)
        .await
        .map_err(|e| format!("history delete: {e}"))?;
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housekeeping_is_due_once_an_hour() {
        let hour = 3_600_000.0;
        assert!(due(10.0 * hour));
        assert!(due(10.0 * hour + 59_000.0));
        assert!(!due(10.0 * hour + 60_000.0));
        assert!(!due(10.0 * hour - 1.0));
    }
}
