//! Silences and maintenance windows.

use super::{Answer, Statement, Store, StoreResult};
use vigil_core::silencing::maintenance::Maintenance;
use vigil_core::silencing::silence::Silence;

/// Silences or maintenances one read returns at most; creating more is refused.
pub const MAX_LIVE: u32 = 500;

/// Expired silences and completed maintenance stay listed this long (Alertmanager keeps
/// expired silences 5 days).
const KEEP_EXPIRED_MS: f64 = 5.0 * 86_400_000.0;

/// Completed maintenance is kept as long as minute totals (35 days), so that
/// `SLO_MAINTENANCE=exclude` still cuts it out of the 30-day SLO window.
const KEEP_MAINTENANCE_MS: f64 = 35.0 * 86_400_000.0;

#[derive(serde::Deserialize)]
struct SilenceRow {
    id: String,
    matchers: String,
    starts_ms: f64,
    ends_ms: f64,
    created_by: String,
    comment: String,
    updated_ms: f64,
}

impl From<SilenceRow> for Silence {
    fn from(row: SilenceRow) -> Silence {
        Silence {
            id: row.id,
            matchers: Silence::stored_matchers(&row.matchers),
            starts_at_ms: row.starts_ms,
            ends_at_ms: row.ends_ms,
            created_by: row.created_by,
            comment: row.comment,
            updated_at_ms: row.updated_ms,
        }
    }
}

#[derive(serde::Deserialize)]
struct MaintenanceRow {
    id: String,
    title: String,
    components: String,
    starts_ms: f64,
    ends_ms: f64,
}

impl From<MaintenanceRow> for Maintenance {
    fn from(row: MaintenanceRow) -> Maintenance {
        Maintenance {
            id: row.id,
            title: row.title,
            components: serde_json::from_str(&row.components).unwrap_or_default(),
            starts_at_ms: row.starts_ms,
            ends_at_ms: row.ends_ms,
        }
    }
}

impl Store {
    /// Silences that end after `after_ms`, soonest end first.
    pub async fn silences(&self, after_ms: f64) -> StoreResult<Vec<Silence>> {
        silences(self.silences_query(after_ms)?.run().await?)
    }

    pub(super) fn silences_query(&self, after_ms: f64) -> StoreResult<Statement<'_>> {
        self.prepare("SELECT * FROM silence WHERE ends_ms > ?1 ORDER BY ends_ms LIMIT ?2")
            .bind(&[after_ms.into(), MAX_LIVE.into()])
    }

    /// Listed silences: live ones and those expired within the last five days.
    pub async fn listed_silences(&self, now_ms: f64) -> StoreResult<Vec<Silence>> {
        self.silences(now_ms - KEEP_EXPIRED_MS).await
    }

    /// Saves a new silence, or updates the live one with its id. Returns whether a row was
    /// written (an update of an unknown or expired silence writes none).
    pub async fn save_silence(&self, s: &Silence, update: bool, now_ms: f64) -> StoreResult<bool> {
        let conflict = if update {
            "ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers,
               starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms,
               created_by = excluded.created_by, comment = excluded.comment,
               updated_ms = excluded.updated_ms WHERE silence.ends_ms > ?8"
        } else {
            "ON CONFLICT (id) DO NOTHING"
        };
        // An update must find its silence: the INSERT part only runs for a new id.
        let result = self
            .prepare(format!(
                "INSERT INTO silence (id, matchers, starts_ms, ends_ms, created_by, comment, updated_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE (?9 = 0 OR EXISTS (SELECT 1 FROM silence WHERE id = ?1))
                   AND (SELECT COUNT(*) FROM silence WHERE ends_ms > ?8) < ?10
                 {conflict}"
            ))
            .bind(&[
                s.id.as_str().into(),
                s.matchers_json().into(),
                s.starts_at_ms.into(),
                s.ends_at_ms.into(),
                s.created_by.as_str().into(),
                s.comment.as_str().into(),
                s.updated_at_ms.into(),
                now_ms.into(),
                u8::from(update).into(),
                MAX_LIVE.into(),
            ])?
            .run()
            .await?;
        Ok(result.changed_any())
    }

    /// Expires a live silence now (a pending one ends before it starts). Returns whether one
    /// was live.
    pub async fn expire_silence(&self, id: &str, now_ms: f64) -> StoreResult<bool> {
        self.expire("silence", id, now_ms).await
    }

    /// Maintenances that end after `after_ms`, soonest start first.
    pub async fn maintenances(&self, after_ms: f64) -> StoreResult<Vec<Maintenance>> {
        maintenances(self.maintenances_query(after_ms)?.run().await?)
    }

    pub(super) fn maintenances_query(&self, after_ms: f64) -> StoreResult<Statement<'_>> {
        self.prepare(
            "SELECT id, title, components, starts_ms, ends_ms FROM maintenance
             WHERE ends_ms > ?1 ORDER BY starts_ms LIMIT ?2",
        )
        .bind(&[after_ms.into(), MAX_LIVE.into()])
    }

    pub async fn listed_maintenances(&self, now_ms: f64) -> StoreResult<Vec<Maintenance>> {
        self.maintenances(now_ms - KEEP_EXPIRED_MS).await
    }

    /// Saves a new maintenance; `false` when [`MAX_LIVE`] are already upcoming or active.
    pub async fn save_maintenance(&self, m: &Maintenance, now_ms: f64) -> StoreResult<bool> {
        let components = serde_json::to_string(&m.components).unwrap_or_else(|_| "[]".into());
        let result = self
            .prepare(
                "INSERT INTO maintenance (id, title, components, starts_ms, ends_ms, created_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE (SELECT COUNT(*) FROM maintenance WHERE ends_ms > ?6) < ?7",
            )
            .bind(&[
                m.id.as_str().into(),
                m.title.as_str().into(),
                components.into(),
                m.starts_at_ms.into(),
                m.ends_at_ms.into(),
                now_ms.into(),
                MAX_LIVE.into(),
            ])?
            .run()
            .await?;
        Ok(result.changed_any())
    }

    /// Ends a maintenance now. Returns whether one was upcoming or active.
    pub async fn end_maintenance(&self, id: &str, now_ms: f64) -> StoreResult<bool> {
        self.expire("maintenance", id, now_ms).await
    }

    async fn expire(&self, table: &str, id: &str, now_ms: f64) -> StoreResult<bool> {
        let result = self
            .prepare(format!(
                "UPDATE {table} SET ends_ms = ?2, starts_ms = MIN(starts_ms, ?2)
                 WHERE id = ?1 AND ends_ms > ?2"
            ))
            .bind(&[id.into(), now_ms.into()])?
            .run()
            .await?;
        Ok(result.changed_any())
    }

    /// Retention: silences over for more than five days, maintenances for more than 35.
    pub(super) fn trim_silences(&self, now_ms: f64) -> StoreResult<[super::Statement<'_>; 2]> {
        Ok([
            self.prepare("DELETE FROM silence WHERE ends_ms < ?1")
                .bind(&[(now_ms - KEEP_EXPIRED_MS).into()])?,
            self.prepare("DELETE FROM maintenance WHERE ends_ms < ?1")
                .bind(&[(now_ms - KEEP_MAINTENANCE_MS).into()])?,
        ])
    }
}

pub(super) fn silences(answer: Answer) -> StoreResult<Vec<Silence>> {
    let rows: Vec<SilenceRow> = answer.rows()?;
    Ok(rows.into_iter().map(Silence::from).collect())
}

pub(super) fn maintenances(answer: Answer) -> StoreResult<Vec<Maintenance>> {
    let rows: Vec<MaintenanceRow> = answer.rows()?;
    Ok(rows.into_iter().map(Maintenance::from).collect())
}
