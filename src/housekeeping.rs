//! Housekeeping, on its own schedule (the first cron run of each hour): retention of rollups and
//! delivered notifications, and archiving of old alert history to R2 before it leaves D1. It is a
//! stage of the cron run, so with the jobs binding it runs in an invocation of its own and the
//! hourly cron run costs no more CPU and D1 queries than any other.

use serde::{Deserialize, Serialize};
use worker::Env;

use crate::cron::stages::Done;
use crate::health::probes::D1Statements;
use crate::health::probes::R2_BINDING;
use crate::store::{describe, Store, HISTORY_RETENTION_MS};
use vigil_core::telemetry::limits::InvocationUse;
use vigil_core::telemetry::store_cost::Operation;
use vigil_core::time::iso_timestamp;

/// History lines archived per run; a backlog drains over the following hours.
const ARCHIVE_BATCH: u32 = 1000;

/// Whether housekeeping is due at the cron time `now_ms`: once an hour, on minute 0.
pub fn due(now_ms: f64) -> bool {
    ((now_ms / 60_000.0).floor() as i64).rem_euclid(60) == 0
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HousekeepingRequest {
    pub now_ms: f64,
}

/// What the hourly step did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Housekept {
    /// History lines archived to R2.
    pub archived: usize,
    pub done: Done,
}

/// The hourly step, as a stage of the cron run (see `cron::stages`).
pub async fn stage(env: &Env, request: HousekeepingRequest) -> Housekept {
    let statements = D1Statements::default();
    let (archived, failures) = match run(env, request.now_ms, statements.clone()).await {
        Ok(archived) => (archived, Vec::new()),
        Err(e) => (0, vec![format!("housekeeping: {e}")]),
    };
    let used = InvocationUse {
        d1_statements: statements.get(),
        ..InvocationUse::default()
    };
    Housekept {
        archived,
        done: Done { failures, used },
    }
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
