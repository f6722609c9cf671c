//! All SQL lives here: the D1 side of heartbeats, metric rollups, alert state and the outbox.
//! Every query is bounded and served by an index (see `migrations/`).

use std::fmt;

use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

/// The D1 binding's name in `wrangler.toml`.
pub const DB_BINDING: &str = "DB";

/// A failed D1 operation, with the reason D1 gave.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<worker::Error> for StoreError {
    fn from(error: worker::Error) -> StoreError {
        StoreError(describe(&error))
    }
}

/// A worker error as text. `D1Error`'s `Display` panics in worker 0.8.7, so D1 errors are read
/// through `cause()`.
pub fn describe(error: &worker::Error) -> String {
    match error {
        worker::Error::D1(e) => e.cause(),
        other => other.to_string(),
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The D1 database, or an error naming the missing binding.
pub fn database(env: &Env) -> StoreResult<D1Database> {
    env.d1(DB_BINDING)
        .map_err(|_| StoreError(format!("D1 binding {DB_BINDING} is not configured")))
}

/// Records a cron run of `job` at `run_ms`; a failed run keeps the last success time.
pub async fn record_heartbeat(
    db: &D1Database,
    job: &str,
    run_ms: f64,
    duration_ms: f64,
    error: Option<&str>,
) -> StoreResult<()> {
    db.prepare(
        "INSERT INTO cron_heartbeat (job, last_run_ms, last_success_ms, last_duration_ms, last_error)
         VALUES (?1, ?2, CASE WHEN ?4 IS NULL THEN ?2 END, ?3, ?4)
         ON CONFLICT (job) DO UPDATE SET
           last_run_ms = excluded.last_run_ms,
           last_success_ms = COALESCE(excluded.last_success_ms, cron_heartbeat.last_success_ms),
           last_duration_ms = excluded.last_duration_ms,
           last_error = excluded.last_error",
    )
    .bind(&[
        job.into(),
        run_ms.into(),
        duration_ms.into(),
        error.map_or(JsValue::NULL, JsValue::from),
    ])?
    .run()
    .await?;
    Ok(())
}

/// `SELECT 1`: the database answers.
pub async fn ping(db: &D1Database) -> StoreResult<()> {
    db.prepare("SELECT 1 AS one").first::<serde_json::Value>(None).await?;
    Ok(())
}

/// Names of the migrations wrangler has applied; none when its table does not exist yet.
pub async fn applied_migrations(db: &D1Database) -> StoreResult<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Row {
        name: String,
    }
    match db
        .prepare("SELECT name FROM d1_migrations ORDER BY id LIMIT 1000")
        .all()
        .await
    {
        Ok(result) => Ok(result.results::<Row>()?.into_iter().map(|r| r.name).collect()),
        Err(e) if describe(&e).contains("no such table") => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// A job's last cron run, as `cron_heartbeat` records it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Heartbeat {
    pub last_run_ms: f64,
    pub last_success_ms: Option<f64>,
    pub last_error: Option<String>,
}

pub async fn read_heartbeat(db: &D1Database, job: &str) -> StoreResult<Option<Heartbeat>> {
    Ok(db
        .prepare(
            "SELECT last_run_ms, last_success_ms, last_error FROM cron_heartbeat WHERE job = ?1",
        )
        .bind(&[job.into()])?
        .first::<Heartbeat>(None)
        .await?)
}

/// Writes `id`, reads it back and deletes it, in one batch; returns what was read.
pub async fn smoke_round_trip(db: &D1Database, id: &str, now_ms: f64) -> StoreResult<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Row {
        id: String,
    }
    let results = db
        .batch(vec![
            db.prepare("INSERT INTO health_smoke (id, written_ms) VALUES (?1, ?2)")
                .bind(&[id.into(), now_ms.into()])?,
            db.prepare("SELECT id FROM health_smoke WHERE id = ?1")
                .bind(&[id.into()])?,
            db.prepare("DELETE FROM health_smoke WHERE id = ?1")
                .bind(&[id.into()])?,
        ])
        .await?;
    let read = results
        .get(1)
        .map(|r| r.results::<Row>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .map(|row| row.id);
    Ok(read)
}
