//! Request metrics: minute rollups, running totals and the windows rules read.

use wasm_bindgen::JsValue;

use super::{Statement, Store, StoreError, StoreResult};
use vigil_core::alerting::window::{WindowStats, Windows};
use vigil_core::records::RequestTotal;
use vigil_core::telemetry::metrics::{Flush, BUCKETS};
use vigil_core::telemetry::store_cost::CostLedger;

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

/// The first epoch minute inside a window of `window_ms` ending at `now_ms` (the current,
/// partial minute included).
pub fn window_start_minute(now_ms: f64, window_ms: u64) -> i64 {
    let now_minute = (now_ms / 60_000.0).floor() as i64;
    now_minute - (window_ms / 60_000).max(1) as i64 + 1
}

impl Store {
    /// Adds a flush's series to the minute rollups and the running totals, in one D1 batch (one
    /// round trip, one transaction), and counts the batch.
    pub async fn flush_request_metrics(&self, flush: &Flush, cost: &CostLedger) -> StoreResult<()> {
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
            statements.push(self.prepare(&totals_sql).bind(&values)?);
            values.push((key.minute as f64).into());
            statements.push(self.prepare(&rollup_sql).bind(&values)?);
        }
        statements.push(self.increment_counter(FLUSH_BATCHES, 1)?);
        for (name, by) in cost.increments() {
            statements.push(self.increment_counter(&name, by)?);
        }
        if flush.dropped > 0 {
            statements.push(self.increment_counter(DROPPED_REQUESTS, flush.dropped)?);
        }
        self.batch(statements).await?;
        Ok(())
    }

    fn increment_counter(&self, name: &str, by: u64) -> StoreResult<Statement<'_>> {
        self.prepare(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
        )
        .bind(&[name.into(), (by as f64).into()])
    }

    /// Every request series' running totals (bounded by route templates × methods × codes).
    pub async fn request_totals(&self) -> StoreResult<Vec<RequestTotal>> {
        self.prepare(format!(
            "SELECT route, method, code, count, duration_sum, {BUCKET_COLUMNS}
             FROM request_totals ORDER BY route, method, code LIMIT 10000"
        ))
        .all()
        .await
    }

    /// The running totals of Vigil's own D1 cost, as `(counter name, value)`.
    pub async fn cost_counters(&self) -> StoreResult<Vec<(String, u64)>> {
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
            value: u64,
        }
        let rows: Vec<Row> = self
            .prepare(
                "SELECT name, value FROM counters
                 WHERE name >= 'store_rows_' AND name < 'store_rows`' ORDER BY name LIMIT 100",
            )
            .all()
            .await?;
        Ok(rows.into_iter().map(|r| (r.name, r.value)).collect())
    }

    /// A named counter's value (0 when never incremented).
    pub async fn counter(&self, name: &str) -> StoreResult<u64> {
        #[derive(serde::Deserialize)]
        struct Row {
            value: u64,
        }
        let row = self
            .prepare("SELECT value FROM counters WHERE name = ?1")
            .bind(&[name.into()])?
            .first::<Row>()
            .await?;
        Ok(row.map_or(0, |r| r.value))
    }

    /// Request and self-probe sums for each window ending at `now_ms`, in one D1 batch (two
    /// range scans of a primary key per window, whatever the traffic volume).
    pub async fn load_windows(&self, now_ms: f64, windows_ms: &[u64]) -> StoreResult<Windows> {
        let bucket_sums = (0..BUCKETS)
            .map(|i| format!("SUM(b{i}) AS b{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let requests_sql = format!(
            "SELECT SUM(count) AS requests,
                    SUM(CASE WHEN code >= 500 THEN count ELSE 0 END) AS errors, {bucket_sums}
             FROM request_rollups WHERE minute >= ?1"
        );
        let probes_sql = "SELECT SUM(probes) AS probes, SUM(failed) AS failed
                          FROM probe_rollups WHERE minute >= ?1";
        let mut statements = Vec::with_capacity(windows_ms.len() * 2);
        for &window in windows_ms {
            let start = window_start_minute(now_ms, window) as f64;
            statements.push(self.prepare(&requests_sql).bind(&[start.into()])?);
            statements.push(self.prepare(probes_sql).bind(&[start.into()])?);
        }
        let results = self.batch(statements).await?;
        let mut windows = Windows::new();
        for (&window, pair) in windows_ms.iter().zip(results.chunks(2)) {
            let [requests, probes] = pair else {
                let why = "D1 returned fewer results than the batch had statements";
                return Err(StoreError(why.into()));
            };
            let requests = requests.results::<RequestSums>()?.into_iter().next();
            let probes = probes.results::<ProbeSums>()?.into_iter().next();
            windows.insert(window, window_stats(requests, probes));
        }
        Ok(windows)
    }
}

/// One window's request sums (`NULL` when no minute falls in it).
#[derive(serde::Deserialize)]
struct RequestSums {
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

/// One window's self-probe sums.
#[derive(serde::Deserialize)]
struct ProbeSums {
    probes: Option<u64>,
    failed: Option<u64>,
}

fn window_stats(requests: Option<RequestSums>, probes: Option<ProbeSums>) -> WindowStats {
    let mut stats = WindowStats::default();
    if let Some(r) = requests {
        stats.requests = r.requests.unwrap_or(0);
        stats.errors = r.errors.unwrap_or(0);
        stats.buckets = [
            r.b0, r.b1, r.b2, r.b3, r.b4, r.b5, r.b6, r.b7, r.b8, r.b9, r.b10, r.b11,
        ]
        .map(|b| b.unwrap_or(0));
    }
    if let Some(p) = probes {
        stats.probes = p.probes.unwrap_or(0);
        stats.probes_failed = p.failed.unwrap_or(0);
    }
    stats
}
