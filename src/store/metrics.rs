//! Request metrics: running totals per series and per service minute, and counters.

use std::collections::BTreeMap;

use wasm_bindgen::JsValue;

use super::{adding, bucket_placeholders, Statement, Store, StoreResult, SERVICES};
use vigil_core::alerting::window::minute_deltas;
use vigil_core::records::{BucketColumns, QueryTotal, RequestTotal};
use vigil_core::telemetry::counters::{
    AGGREGATOR_WATERMARK, DROPPED_INVOCATIONS, DROPPED_REQUESTS, FLUSH_BATCHES, HEALTH_CHECKS,
    MALFORMED_TRACE_ITEMS,
};
use vigil_core::telemetry::invocations::InvocationLedger;
use vigil_core::telemetry::metrics::{Flush, SeriesKey, SeriesStats, BUCKETS};
use vigil_core::telemetry::queries::QueryLedger;

const BUCKET_COLUMNS: &str = BucketColumns::NAMES;

/// A flush's series summed over its minutes: the running totals have no minute.
fn series_totals(flush: &Flush) -> BTreeMap<SeriesKey, SeriesStats> {
    let mut totals: BTreeMap<SeriesKey, SeriesStats> = BTreeMap::new();
    for (key, stats) in &flush.series {
        let key = SeriesKey {
            minute: 0,
            ..key.clone()
        };
        totals.entry(key).or_default().add(stats);
    }
    totals
}

/// The upsert adding one `(service, outcome)`'s query stats to its running totals.
fn query_totals_sql() -> String {
    format!(
        "INSERT INTO d1_query_totals (service, outcome, count, duration_sum, rows_read, rows_written, {BUCKET_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, {buckets})
         ON CONFLICT (service, outcome) DO UPDATE SET {sums}, {add}",
        buckets = bucket_placeholders(7),
        sums = adding("d1_query_totals", "count, duration_sum, rows_read, rows_written"),
        add = adding("d1_query_totals", BUCKET_COLUMNS),
    )
}

/// Labels already stored, read by the aggregator when it starts.
pub struct StoredLabels {
    pub routes: Vec<(String, String)>,
    pub tailed_services: Vec<String>,
    pub exceptions: Vec<(String, String)>,
}

impl Store {
    /// Adds a flush's series and tailed invocations to their services' running totals per
    /// minute (what windows read) and per series (what `/metrics` exposes), applications' D1
    /// query stats to theirs, and `counters` (`(name, increment)`), in one D1 batch (one round
    /// trip, one transaction), and counts the batch. Each series is one upsert however many
    /// minutes the flush spans.
    pub async fn write_series(
        &self,
        flush: &Flush,
        queries: &QueryLedger,
        invocations: &InvocationLedger,
        counters: &[(String, u64)],
        watermark: Option<u64>,
    ) -> StoreResult<()> {
        let totals_sql = format!(
            "INSERT INTO request_totals (route, method, code, count, duration_sum, {BUCKET_COLUMNS}, service)
             VALUES (?1, ?2, ?3, ?4, ?{sum}, {placeholders}, ?{service})
             ON CONFLICT (service, route, method, code) DO UPDATE SET {sums}, {buckets}",
            placeholders = bucket_placeholders(5),
            sum = 5 + BUCKETS,
            service = 6 + BUCKETS,
            sums = adding("request_totals", "count, duration_sum"),
            buckets = adding("request_totals", BUCKET_COLUMNS),
        );
        let mut statements = Vec::with_capacity(flush.series.len() + counters.len() + 4);
        for (key, stats) in series_totals(flush) {
            let mut values: Vec<JsValue> = vec![
                key.route.as_str().into(),
                key.method.as_str().into(),
                key.code.into(),
                (stats.count as f64).into(),
            ];
            values.extend(stats.buckets.iter().map(|&b| JsValue::from(b as f64)));
            values.push(stats.duration_sum_seconds.into());
            values.push(key.service.as_str().into());
            statements.push(self.prepare(&totals_sql).bind(&values)?);
        }
        statements.extend(self.add_invocations(invocations)?);
        for ((service, minute), delta) in minute_deltas(flush, invocations) {
            statements.extend(self.add_to_totals(&SERVICES, service, minute, &delta)?);
        }
        for ((service, outcome), stats) in &queries.entries {
            let mut values: Vec<JsValue> = vec![
                service.as_str().into(),
                outcome.as_str().into(),
                (stats.timing.count as f64).into(),
                stats.timing.duration_sum_seconds.into(),
                (stats.rows_read as f64).into(),
                (stats.rows_written as f64).into(),
            ];
            values.extend(
                stats
                    .timing
                    .buckets
                    .iter()
                    .map(|&b| JsValue::from(b as f64)),
            );
            statements.push(self.prepare(query_totals_sql()).bind(&values)?);
        }
        let dropped = [
            (DROPPED_REQUESTS, flush.dropped),
            (HEALTH_CHECKS, flush.health_checks),
            (DROPPED_INVOCATIONS, invocations.dropped),
            (MALFORMED_TRACE_ITEMS, invocations.malformed),
        ];
        let increments: Vec<(String, u64)> = [(FLUSH_BATCHES.to_string(), 1)]
            .into_iter()
            .chain(counters.iter().cloned())
            .chain(dropped.into_iter().map(|(name, n)| (name.to_string(), n)))
            .collect();
        statements.extend(self.increment_counters(&increments)?);
        if let Some(seq) = watermark {
            statements.push(self.raise_watermark(seq)?);
        }
        self.batch(statements).await?;
        Ok(())
    }

    /// Records that the aggregator's batches up to `seq` are written (it never goes down).
    fn raise_watermark(&self, seq: u64) -> StoreResult<Statement<'_>> {
        self.prepare(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = MAX(counters.value, excluded.value)",
        )
        .bind(&[AGGREGATOR_WATERMARK.into(), (seq as f64).into()])
    }

    /// The highest journalled batch the aggregator has written (0 before its first write).
    pub async fn aggregator_watermark(&self) -> StoreResult<u64> {
        #[derive(serde::Deserialize)]
        struct Row {
            value: f64,
        }
        let row: Option<Row> = self
            .prepare("SELECT value FROM counters WHERE name = ?1")
            .bind(&[AGGREGATOR_WATERMARK.into()])?
            .first()
            .await?;
        Ok(row.map_or(0, |r| r.value as u64))
    }

    /// The stored labels the aggregator holds new series to the caps with: every
    /// `(service, route)`, every tailed service and every `(service, exception name)`.
    pub async fn stored_labels(&self) -> StoreResult<StoredLabels> {
        #[derive(serde::Deserialize)]
        struct Row {
            service: String,
            label: Option<String>,
        }
        let statements = vec![
            self.prepare(
                "SELECT DISTINCT service, route AS label FROM request_totals
                 ORDER BY service, route LIMIT 20000",
            ),
            self.prepare(
                "SELECT DISTINCT service, NULL AS label FROM invocation_totals
                 ORDER BY service LIMIT 1000",
            ),
            self.prepare(
                "SELECT service, name AS label FROM worker_exception_totals
                 ORDER BY service, name LIMIT 5000",
            ),
        ];
        let mut results = self.batch(statements).await?.into_iter();
        let mut next = || -> StoreResult<Vec<(String, String)>> {
            let rows: Vec<Row> = match results.next() {
                Some(result) => result.rows()?,
                None => Vec::new(),
            };
            Ok(rows
                .into_iter()
                .map(|r| (r.service, r.label.unwrap_or_default()))
                .collect())
        };
        Ok(StoredLabels {
            routes: next()?,
            tailed_services: next()?.into_iter().map(|(s, _)| s).collect(),
            exceptions: next()?,
        })
    }

    /// Adds `increments` (`(name, by)`) to the pipeline's counters in one statement, which
    /// writes one row whatever their number (`None` when there is nothing to add).
    pub(super) fn increment_counters(
        &self,
        increments: &[(String, u64)],
    ) -> StoreResult<Option<Statement<'_>>> {
        let mut added: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, by) in increments.iter().filter(|(_, by)| *by > 0) {
            *added.entry(name).or_default() += by;
        }
        if added.is_empty() {
            return Ok(None);
        }
        let json = serde_json::to_string(&added).unwrap_or_else(|_| "{}".into());
        self.prepare(
            "INSERT INTO counter_set (name, body) VALUES ('pipeline', json(?1))
             ON CONFLICT (name) DO UPDATE SET body = (
               SELECT json_group_object(key, total) FROM (
                 SELECT key, SUM(value) AS total FROM (
                   SELECT key, value FROM json_each(counter_set.body)
                   UNION ALL SELECT key, value FROM json_each(?1))
                 GROUP BY key))",
        )
        .bind(&[json.into()])
        .map(Some)
    }

    /// Every request series' running totals (bounded by route templates × methods × codes).
    pub async fn request_totals(&self) -> StoreResult<Vec<RequestTotal>> {
        self.prepare(format!(
            "SELECT service, route, method, code, count, duration_sum, {BUCKET_COLUMNS}
             FROM request_totals ORDER BY service, route, method, code LIMIT 10000"
        ))
        .all()
        .await
    }

    /// Every application's D1 statement totals (a service has at most two rows).
    pub async fn query_totals(&self) -> StoreResult<Vec<QueryTotal>> {
        self.prepare(format!(
            "SELECT service, outcome, count, duration_sum, {BUCKET_COLUMNS}, rows_read, rows_written
             FROM d1_query_totals ORDER BY service, outcome LIMIT 1000"
        ))
        .all()
        .await
    }

    /// Every stored running counter, as `(name, value)` (bounded: a fixed set of names plus one
    /// per service for the route cap).
    pub async fn counters(&self) -> StoreResult<Vec<(String, u64)>> {
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
            value: u64,
        }
        let rows: Vec<Row> = self
            .prepare(
                "SELECT key AS name, value FROM json_each(
                   (SELECT body FROM counter_set WHERE name = 'pipeline'))
                 ORDER BY key LIMIT 1000",
            )
            .all()
            .await?;
        Ok(rows.into_iter().map(|r| (r.name, r.value)).collect())
    }
}
