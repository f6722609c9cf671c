//! All SQL lives here: the D1 side of heartbeats, metric rollups, alert state and the outbox.
//! Every query is bounded and served by an index (see `migrations/`).

use std::fmt;

use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::telemetry::metrics::{SeriesKey, SeriesStats, BUCKETS};

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

/// Name of the counter of metric flush batches (one D1 batch per flush).
pub const FLUSH_BATCHES: &str = "metric_flush_batches";

const BUCKET_COLUMNS: &str = "b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11";

/// `bN = table.bN + excluded.bN` for every bucket column, for the adding upserts.
fn add_buckets(table: &str) -> String {
    (0..BUCKETS)
        .map(|i| format!("b{i} = {table}.b{i} + excluded.b{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds a flush's series to the minute rollups and the running totals, in one D1 batch (one
/// round trip, one transaction), and counts the batch.
pub async fn flush_request_metrics(
    db: &D1Database,
    series: &[(SeriesKey, SeriesStats)],
) -> StoreResult<()> {
    let placeholders = (5..5 + BUCKETS)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rollup_sql = format!(
        "INSERT INTO request_rollups (route, method, code, count, duration_sum, {BUCKET_COLUMNS}, minute)
         VALUES (?1, ?2, ?3, ?4, ?{sum}, {placeholders}, ?{minute})
         ON CONFLICT (minute, route, method, code) DO UPDATE SET
           count = request_rollups.count + excluded.count,
           duration_sum = request_rollups.duration_sum + excluded.duration_sum, {buckets}",
        sum = 5 + BUCKETS,
        minute = 6 + BUCKETS,
        buckets = add_buckets("request_rollups"),
    );
    let totals_sql = format!(
        "INSERT INTO request_totals (route, method, code, count, duration_sum, {BUCKET_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?{sum}, {placeholders})
         ON CONFLICT (route, method, code) DO UPDATE SET
           count = request_totals.count + excluded.count,
           duration_sum = request_totals.duration_sum + excluded.duration_sum, {buckets}",
        sum = 5 + BUCKETS,
        buckets = add_buckets("request_totals"),
    );
    let mut statements = Vec::with_capacity(series.len() * 2 + 1);
    for (key, stats) in series {
        let mut values: Vec<JsValue> = vec![
            key.route.as_str().into(),
            key.method.as_str().into(),
            key.code.into(),
            (stats.count as f64).into(),
        ];
        values.extend(stats.buckets.iter().map(|&b| JsValue::from(b as f64)));
        values.push(stats.duration_sum_seconds.into());
        statements.push(db.prepare(&totals_sql).bind(&values)?);
        values.push((key.minute as f64).into());
        statements.push(db.prepare(&rollup_sql).bind(&values)?);
    }
    statements.push(increment_counter(db, FLUSH_BATCHES, 1)?);
    db.batch(statements).await?;
    Ok(())
}

fn increment_counter(
    db: &D1Database,
    name: &str,
    by: u64,
) -> StoreResult<worker::D1PreparedStatement> {
    Ok(db
        .prepare(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
        )
        .bind(&[name.into(), (by as f64).into()])?)
}

/// One row of `request_totals`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct RequestTotal {
    pub route: String,
    pub method: String,
    pub code: u16,
    pub count: u64,
    pub duration_sum: f64,
    pub b0: u64,
    pub b1: u64,
    pub b2: u64,
    pub b3: u64,
    pub b4: u64,
    pub b5: u64,
    pub b6: u64,
    pub b7: u64,
    pub b8: u64,
    pub b9: u64,
    pub b10: u64,
    pub b11: u64,
}

impl RequestTotal {
    /// Non-cumulative bucket counts, `+Inf` last.
    pub fn buckets(&self) -> [u64; BUCKETS] {
        [
            self.b0, self.b1, self.b2, self.b3, self.b4, self.b5, self.b6, self.b7, self.b8,
            self.b9, self.b10, self.b11,
        ]
    }
}

/// Every request series' running totals (bounded by route templates × methods × codes).
pub async fn request_totals(db: &D1Database) -> StoreResult<Vec<RequestTotal>> {
    Ok(db
        .prepare(format!(
            "SELECT route, method, code, count, duration_sum, {BUCKET_COLUMNS}
             FROM request_totals ORDER BY route, method, code LIMIT 10000"
        ))
        .all()
        .await?
        .results()?)
}

/// A named counter's value (0 when never incremented).
pub async fn counter(db: &D1Database, name: &str) -> StoreResult<u64> {
    Ok(db
        .prepare("SELECT value FROM counters WHERE name = ?1")
        .bind(&[name.into()])?
        .first::<u64>(Some("value"))
        .await?
        .unwrap_or(0))
}
