//! All SQL lives here: the D1 side of heartbeats, metric rollups, alert state and the outbox.
//! Every query is bounded and served by an index (see `migrations/`).

use std::collections::BTreeMap;
use std::fmt;

use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::alerting::rules::WindowStats;
use crate::alerting::state::AlertState;
use crate::health::checks::CheckResult;
use crate::telemetry::metrics::{Flush, BUCKETS};

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
    db.prepare("SELECT 1 AS one")
        .first::<serde_json::Value>(None)
        .await?;
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
        Ok(result) => Ok(result
            .results::<Row>()?
            .into_iter()
            .map(|r| r.name)
            .collect()),
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
pub async fn smoke_round_trip(
    db: &D1Database,
    id: &str,
    now_ms: f64,
) -> StoreResult<Option<String>> {
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

/// Name of the counter of requests isolates could not count (series cap reached).
pub const DROPPED_REQUESTS: &str = "metric_requests_dropped";

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
pub async fn flush_request_metrics(db: &D1Database, flush: &Flush) -> StoreResult<()> {
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
    let mut statements = Vec::with_capacity(flush.series.len() * 2 + 2);
    for (key, stats) in &flush.series {
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
    if flush.dropped > 0 {
        statements.push(increment_counter(db, DROPPED_REQUESTS, flush.dropped)?);
    }
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

/// The first epoch minute inside a window of `window_ms` ending at `now_ms` (the current,
/// partial minute included).
pub fn window_start_minute(now_ms: f64, window_ms: u64) -> i64 {
    let now_minute = (now_ms / 60_000.0).floor() as i64;
    now_minute - (window_ms / 60_000).max(1) as i64 + 1
}

/// Request and self-probe sums for each window ending at `now_ms`, in one D1 batch (two
/// range scans of a primary key per window, whatever the traffic volume).
pub async fn load_windows(
    db: &D1Database,
    now_ms: f64,
    windows_ms: &[u64],
) -> StoreResult<BTreeMap<u64, WindowStats>> {
    #[derive(serde::Deserialize)]
    struct Requests {
        requests: Option<u64>,
        errors: Option<u64>,
        b0: Option<u64>,
        b1: Option<u64>,
        b2: Option<u64>,
        b3: Option<u64>,
        b4: Option<u64>,
        b5: Option<u64>,
        b6: Option<u64>,
        b7: Option<u64>,
        b8: Option<u64>,
        b9: Option<u64>,
        b10: Option<u64>,
        b11: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Probes {
        probes: Option<u64>,
        failed: Option<u64>,
    }
    let bucket_sums = (0..BUCKETS)
        .map(|i| format!("SUM(b{i}) AS b{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let requests_sql = format!(
        "SELECT SUM(count) AS requests, SUM(CASE WHEN code >= 500 THEN count ELSE 0 END) AS errors, {bucket_sums}
         FROM request_rollups WHERE minute >= ?1"
    );
    let probes_sql =
        "SELECT SUM(probes) AS probes, SUM(failed) AS failed FROM probe_rollups WHERE minute >= ?1";
    let mut statements = Vec::with_capacity(windows_ms.len() * 2);
    for &window in windows_ms {
        let start = window_start_minute(now_ms, window) as f64;
        statements.push(db.prepare(&requests_sql).bind(&[start.into()])?);
        statements.push(db.prepare(probes_sql).bind(&[start.into()])?);
    }
    let results = db.batch(statements).await?;
    let mut windows = BTreeMap::new();
    for (&window, pair) in windows_ms.iter().zip(results.chunks(2)) {
        let [requests, probes] = pair else {
            return Err(StoreError(
                "D1 returned fewer results than the batch had statements".into(),
            ));
        };
        let r = requests.results::<Requests>()?.into_iter().next();
        let p = probes.results::<Probes>()?.into_iter().next();
        let mut stats = WindowStats::default();
        if let Some(r) = r {
            stats.requests = r.requests.unwrap_or(0);
            stats.errors = r.errors.unwrap_or(0);
            stats.buckets = [
                r.b0, r.b1, r.b2, r.b3, r.b4, r.b5, r.b6, r.b7, r.b8, r.b9, r.b10, r.b11,
            ]
            .map(|b| b.unwrap_or(0));
        }
        if let Some(p) = p {
            stats.probes = p.probes.unwrap_or(0);
            stats.probes_failed = p.failed.unwrap_or(0);
        }
        windows.insert(window, stats);
    }
    Ok(windows)
}

/// Records the cron's self-probe: each dependency's latest status and the minute's probe count.
pub async fn record_self_probe(
    db: &D1Database,
    now_ms: f64,
    results: &[CheckResult],
) -> StoreResult<()> {
    let mut statements = Vec::with_capacity(results.len() + 1);
    for r in results {
        statements.push(
            db.prepare(
                "INSERT INTO dependency_status (component, up, duration_ms, checked_ms, error)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (component) DO UPDATE SET up = excluded.up,
                   duration_ms = excluded.duration_ms, checked_ms = excluded.checked_ms,
                   error = excluded.error",
            )
            .bind(&[
                r.check.name().into(),
                u8::from(r.passed()).into(),
                r.duration_ms.into(),
                now_ms.into(),
                r.error.as_deref().map_or(JsValue::NULL, JsValue::from),
            ])?,
        );
    }
    let failed = results.iter().any(|r| !r.passed());
    statements.push(
        db.prepare(
            "INSERT INTO probe_rollups (minute, probes, failed) VALUES (?1, 1, ?2)
             ON CONFLICT (minute) DO UPDATE SET probes = probes + 1, failed = failed + excluded.failed",
        )
        .bind(&[
            ((now_ms / 60_000.0).floor()).into(),
            u8::from(failed).into(),
        ])?,
    );
    db.batch(statements).await?;
    Ok(())
}

/// A dependency's latest self-probe result.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct DependencyStatus {
    pub component: String,
    pub up: u8,
    pub duration_ms: f64,
    pub checked_ms: f64,
}

pub async fn dependency_statuses(db: &D1Database) -> StoreResult<Vec<DependencyStatus>> {
    Ok(db
        .prepare(
            "SELECT component, up, duration_ms, checked_ms FROM dependency_status
             ORDER BY component LIMIT 100",
        )
        .all()
        .await?
        .results()?)
}

/// One `alert_state` row: a rule's alert state and the severity it was stored with.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct AlertRow {
    pub rule_id: String,
    pub severity: String,
    #[serde(flatten)]
    pub state: AlertState,
}

const ALERT_COLUMNS: &str = "rule_id, phase, severity, active_since_ms, fired_at_ms, \
    resolved_at_ms, last_true_ms, last_value, last_eval_ms, last_notified_ms";

/// Every stored alert state (one row per rule, so bounded by the rule count). Columns are
/// aliased to `AlertState`'s field names so rows deserialize straight into it.
pub async fn alert_rows(db: &D1Database) -> StoreResult<Vec<AlertRow>> {
    Ok(db
        .prepare(
            "SELECT rule_id, severity, phase, active_since_ms AS activeSinceMs,
                    fired_at_ms AS firedAtMs, resolved_at_ms AS resolvedAtMs,
                    last_true_ms AS lastTrueMs, last_value AS lastValue,
                    last_eval_ms AS lastEvalMs, last_notified_ms AS lastNotifiedMs
             FROM alert_state ORDER BY rule_id LIMIT 1000",
        )
        .all()
        .await?
        .results()?)
}

fn nullable(value: Option<f64>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from)
}

/// Writes new alert states with compare-and-set on `last_eval_ms` (each `(row, previous
/// last_eval_ms)`), in one batch. Returns, per row, whether this run's write won; a run that
/// lost raced another cron run and must not notify.
pub async fn save_alert_rows(
    db: &D1Database,
    rows: &[(AlertRow, Option<f64>)],
) -> StoreResult<Vec<bool>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let statements = rows
        .iter()
        .map(|(row, previous)| {
            db.prepare(format!(
                "INSERT INTO alert_state ({ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (rule_id) DO UPDATE SET phase = excluded.phase,
                   severity = excluded.severity, active_since_ms = excluded.active_since_ms,
                   fired_at_ms = excluded.fired_at_ms, resolved_at_ms = excluded.resolved_at_ms,
                   last_true_ms = excluded.last_true_ms, last_value = excluded.last_value,
                   last_eval_ms = excluded.last_eval_ms, last_notified_ms = excluded.last_notified_ms
                 WHERE alert_state.last_eval_ms IS ?11"
            ))
            .bind(&[
                row.rule_id.as_str().into(),
                row.state.phase.as_str().into(),
                row.severity.as_str().into(),
                nullable(row.state.active_since_ms),
                nullable(row.state.fired_at_ms),
                nullable(row.state.resolved_at_ms),
                nullable(row.state.last_true_ms),
                finite(row.state.last_value).into(),
                nullable(row.state.last_eval_ms),
                nullable(row.state.last_notified_ms),
                nullable(*previous),
            ])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = db.batch(statements).await?;
    results
        .iter()
        .map(|r| Ok(r.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0))
        .collect()
}

/// NaN and infinities cannot be stored in D1; they are recorded as 0.
fn finite(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

/// Removes states of rules that no longer exist, so they stop being reported.
pub async fn delete_alert_rows_except(db: &D1Database, keep: &[String]) -> StoreResult<()> {
    let keep_json = serde_json::to_string(keep).unwrap_or_else(|_| "[]".into());
    db.prepare("DELETE FROM alert_state WHERE rule_id NOT IN (SELECT value FROM json_each(?1))")
        .bind(&[keep_json.into()])?
        .run()
        .await?;
    Ok(())
}

/// A notification to enqueue: channel, idempotency key and the serialized notification.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub channel: String,
    pub dedup_key: String,
    pub payload: String,
}

/// Appends history lines and enqueues notifications in one batch. Enqueueing is idempotent:
/// an entry whose (channel, dedup_key) exists already is ignored.
pub async fn record_transitions(
    db: &D1Database,
    now_ms: f64,
    history: &[(String, String, f64)],
    entries: &[OutboxEntry],
) -> StoreResult<()> {
    let mut statements = Vec::with_capacity(history.len() + entries.len());
    for (rule_id, transition, value) in history {
        statements.push(
            db.prepare(
                "INSERT INTO alert_history (rule_id, transition, at_ms, value) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&[
                rule_id.as_str().into(),
                transition.as_str().into(),
                now_ms.into(),
                finite(*value).into(),
            ])?,
        );
    }
    for entry in entries {
        statements.push(
            db.prepare(
                "INSERT INTO outbox (channel, dedup_key, payload, created_ms, next_attempt_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (channel, dedup_key) DO NOTHING",
            )
            .bind(&[
                entry.channel.as_str().into(),
                entry.dedup_key.as_str().into(),
                entry.payload.as_str().into(),
                now_ms.into(),
            ])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// An outbox row claimed for delivery.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ClaimedNotification {
    pub id: f64,
    pub channel: String,
    pub payload: String,
    pub attempts: u32,
}

/// Atomically claims up to `limit` due, undelivered notifications until `lease_until_ms`, so
/// an overlapping cron run cannot deliver the same row.
pub async fn claim_due_notifications(
    db: &D1Database,
    now_ms: f64,
    lease_until_ms: f64,
    limit: u32,
) -> StoreResult<Vec<ClaimedNotification>> {
    Ok(db
        .prepare(
            "UPDATE outbox SET lease_until_ms = ?2
             WHERE id IN (SELECT id FROM outbox
                          WHERE delivered_ms IS NULL AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1
                          ORDER BY id LIMIT ?3)
             RETURNING id, channel, payload, attempts",
        )
        .bind(&[now_ms.into(), lease_until_ms.into(), limit.into()])?
        .all()
        .await?
        .results()?)
}

/// The result of one delivery attempt of a claimed row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: f64,
    pub channel: String,
    /// `None` when delivered; otherwise the error and when to retry.
    pub failure: Option<(String, f64)>,
}

/// Records delivery outcomes and counts them per channel and outcome, in one batch.
pub async fn record_deliveries(
    db: &D1Database,
    now_ms: f64,
    records: &[DeliveryRecord],
) -> StoreResult<()> {
    let mut statements = Vec::with_capacity(records.len() * 2);
    for record in records {
        let (update, outcome) = match &record.failure {
            None => (
                db.prepare(
                    "UPDATE outbox SET delivered_ms = ?2, attempts = attempts + 1, last_error = NULL,
                     lease_until_ms = 0 WHERE id = ?1",
                )
                .bind(&[record.id.into(), now_ms.into()])?,
                "success",
            ),
            Some((error, retry_at)) => (
                db.prepare(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3,
                     lease_until_ms = 0 WHERE id = ?1",
                )
                .bind(&[record.id.into(), error.as_str().into(), (*retry_at).into()])?,
                "failure",
            ),
        };
        statements.push(update);
        statements.push(
            db.prepare(
                "INSERT INTO notification_counts (channel, outcome, count) VALUES (?1, ?2, 1)
                 ON CONFLICT (channel, outcome) DO UPDATE SET count = notification_counts.count + 1",
            )
            .bind(&[record.channel.as_str().into(), outcome.into()])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// Per-channel backlog: undelivered rows, the oldest one's creation time, the last error.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ChannelBacklog {
    pub channel: String,
    pub pending: u64,
    pub oldest_created_ms: Option<f64>,
    pub last_error: Option<String>,
}

pub async fn outbox_backlog(db: &D1Database) -> StoreResult<Vec<ChannelBacklog>> {
    Ok(db
        .prepare(
            "SELECT channel,
                    SUM(CASE WHEN delivered_ms IS NULL THEN 1 ELSE 0 END) AS pending,
                    MIN(CASE WHEN delivered_ms IS NULL THEN created_ms END) AS oldest_created_ms,
                    (SELECT o2.last_error FROM outbox o2 WHERE o2.channel = outbox.channel
                       AND o2.last_error IS NOT NULL ORDER BY o2.id DESC LIMIT 1) AS last_error
             FROM outbox GROUP BY channel ORDER BY channel LIMIT 10",
        )
        .all()
        .await?
        .results()?)
}

/// Delivery counts per (channel, outcome): vigil_notifications_total.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct NotificationCount {
    pub channel: String,
    pub outcome: String,
    pub count: u64,
}

pub async fn notification_counts(db: &D1Database) -> StoreResult<Vec<NotificationCount>> {
    Ok(db
        .prepare("SELECT channel, outcome, count FROM notification_counts ORDER BY channel, outcome LIMIT 100")
        .all()
        .await?
        .results()?)
}

/// Replaces the stored SLO summaries (`(slo name, JSON report)`).
pub async fn save_slo_reports(
    db: &D1Database,
    now_ms: f64,
    reports: &[(String, String)],
) -> StoreResult<()> {
    let statements = reports
        .iter()
        .map(|(slo, report)| {
            db.prepare(
                "INSERT INTO slo_report (slo, report, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (slo) DO UPDATE SET report = excluded.report, updated_ms = excluded.updated_ms",
            )
            .bind(&[slo.as_str().into(), report.as_str().into(), now_ms.into()])
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// The stored SLO summaries as JSON values.
pub async fn slo_reports(db: &D1Database) -> StoreResult<Vec<serde_json::Value>> {
    #[derive(serde::Deserialize)]
    struct Row {
        report: String,
    }
    let rows: Vec<Row> = db
        .prepare("SELECT report FROM slo_report ORDER BY slo LIMIT 100")
        .all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.report).ok())
        .collect())
}

/// How long alert history stays in D1 before it is archived to R2.
pub const HISTORY_RETENTION_MS: f64 = 90.0 * 86_400_000.0;

/// Retention: minute rollups and probes beyond the 30-day SLO window (plus a margin) and
/// notifications delivered over a week ago. Undelivered notifications are never deleted.
pub async fn apply_retention(db: &D1Database, now_ms: f64) -> StoreResult<()> {
    const DAY_MS: f64 = 86_400_000.0;
    let minute_cutoff = ((now_ms - 35.0 * DAY_MS) / 60_000.0).floor();
    db.batch(vec![
        db.prepare("DELETE FROM request_rollups WHERE minute < ?1")
            .bind(&[minute_cutoff.into()])?,
        db.prepare("DELETE FROM probe_rollups WHERE minute < ?1")
            .bind(&[minute_cutoff.into()])?,
        db.prepare("DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?1")
            .bind(&[(now_ms - 7.0 * DAY_MS).into()])?,
    ])
    .await?;
    Ok(())
}

/// The oldest history lines from before `cutoff_ms` (at most `limit`), oldest first.
pub async fn history_before(
    db: &D1Database,
    cutoff_ms: f64,
    limit: u32,
) -> StoreResult<Vec<HistoryRow>> {
    Ok(db
        .prepare(
            "SELECT id, rule_id, transition, at_ms, value FROM alert_history
             WHERE at_ms < ?1 ORDER BY at_ms, id LIMIT ?2",
        )
        .bind(&[cutoff_ms.into(), limit.into()])?
        .all()
        .await?
        .results()?)
}

/// Deletes history lines once archived (by id, so only what was archived goes).
pub async fn delete_history(db: &D1Database, ids: &[f64]) -> StoreResult<()> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    db.prepare("DELETE FROM alert_history WHERE id IN (SELECT value FROM json_each(?1))")
        .bind(&[ids.into()])?
        .run()
        .await?;
    Ok(())
}

/// One `alert_history` line.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct HistoryRow {
    pub id: f64,
    pub rule_id: String,
    pub transition: String,
    pub at_ms: f64,
    pub value: f64,
}

/// The newest `limit` transitions, newest first.
pub async fn recent_history(db: &D1Database, limit: u32) -> StoreResult<Vec<HistoryRow>> {
    Ok(db
        .prepare(
            "SELECT id, rule_id, transition, at_ms, value FROM alert_history ORDER BY at_ms DESC, id DESC LIMIT ?1",
        )
        .bind(&[limit.into()])?
        .all()
        .await?
        .results()?)
}
