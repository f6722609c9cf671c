//! Tailed workers' invocations: running totals per `(service, event, outcome)` with CPU and
//! wall time histograms, exceptions by name and log lines by level.

use std::collections::BTreeMap;

use wasm_bindgen::JsValue;

use super::{Statement, Store, StoreResult};
use vigil_core::records::{BucketColumns, InvocationTotal, LabelledTotal, WallBucketColumns};
use vigil_core::telemetry::invocations::{InvocationLedger, InvocationStats};
use vigil_core::telemetry::metrics::BUCKETS;
use vigil_core::telemetry::trace::{EventKind, Outcome};

/// `?first, ?first+1, …` for the twelve bucket values starting at placeholder `first`.
fn placeholders(first: usize) -> String {
    (first..first + BUCKETS)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `col = table.col + excluded.col` for each of `columns`.
fn adds(table: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn totals_sql() -> String {
    let (cpu, wall) = (BucketColumns::NAMES, WallBucketColumns::NAMES);
    format!(
        "INSERT INTO invocation_totals (service, event, outcome, count, cpu_sum, wall_sum, {cpu}, {wall})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, {cpu_values}, {wall_values})
         ON CONFLICT (service, event, outcome) DO UPDATE SET {sums}, {cpu_adds}, {wall_adds}",
        cpu_values = placeholders(7),
        wall_values = placeholders(7 + BUCKETS),
        sums = adds("invocation_totals", "count, cpu_sum, wall_sum"),
        cpu_adds = adds("invocation_totals", cpu),
        wall_adds = adds("invocation_totals", wall),
    )
}

fn labelled_sql(table: &str, label: &str) -> String {
    format!(
        "INSERT INTO {table} (service, {label}, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (service, {label}) DO UPDATE SET count = {table}.count + excluded.count"
    )
}

fn numbers(buckets: &[u64; BUCKETS]) -> impl Iterator<Item = JsValue> + '_ {
    buckets.iter().map(|&b| JsValue::from(b as f64))
}

impl Store {
    /// The upserts adding a ledger to the running totals: one per `(service, event, outcome)`
    /// however many minutes it spans, one per exception name and one per log level.
    pub(super) fn add_invocations(
        &self,
        ledger: &InvocationLedger,
    ) -> StoreResult<Vec<Statement<'_>>> {
        let mut totals: BTreeMap<(&str, EventKind, Outcome), InvocationStats> = BTreeMap::new();
        for (key, stats) in &ledger.entries {
            let total = totals
                .entry((&key.service, key.event, key.outcome))
                .or_default();
            total.cpu.add(&stats.cpu);
            total.wall.add(&stats.wall);
        }
        let mut statements = Vec::new();
        let sql = totals_sql();
        for ((service, event, outcome), stats) in totals {
            let mut values: Vec<JsValue> = vec![
                service.into(),
                event.as_str().into(),
                outcome.as_str().into(),
                (stats.count() as f64).into(),
                stats.cpu.duration_sum_seconds.into(),
                stats.wall.duration_sum_seconds.into(),
            ];
            values.extend(numbers(&stats.cpu.buckets));
            values.extend(numbers(&stats.wall.buckets));
            statements.push(self.prepare(&sql).bind(&values)?);
        }
        let sql = labelled_sql("worker_exception_totals", "name");
        for ((service, name), n) in &ledger.exceptions {
            let values = [service.into(), name.into(), (*n as f64).into()];
            statements.push(self.prepare(&sql).bind(&values)?);
        }
        let sql = labelled_sql("worker_log_totals", "level");
        for ((service, level), n) in &ledger.logs {
            let values = [service.into(), level.as_str().into(), (*n as f64).into()];
            statements.push(self.prepare(&sql).bind(&values)?);
        }
        Ok(statements)
    }

    /// Every tailed invocation row (bounded: services × event types × outcomes).
    pub async fn invocation_totals(&self) -> StoreResult<Vec<InvocationTotal>> {
        self.prepare(format!(
            "SELECT service, event, outcome, count, cpu_sum, wall_sum, {}, {}
             FROM invocation_totals ORDER BY service, event, outcome LIMIT 10000",
            BucketColumns::NAMES,
            WallBucketColumns::NAMES
        ))
        .all()
        .await
    }

    /// Exceptions by name per service (bounded by the per-service name cap).
    pub async fn exception_totals(&self) -> StoreResult<Vec<LabelledTotal>> {
        self.prepare(
            "SELECT service, name AS label, count FROM worker_exception_totals
             ORDER BY service, name LIMIT 5000",
        )
        .all()
        .await
    }

    /// Log lines by level per service (at most six levels each).
    pub async fn log_totals(&self) -> StoreResult<Vec<LabelledTotal>> {
        self.prepare(
            "SELECT service, level AS label, count FROM worker_log_totals
             ORDER BY service, level LIMIT 5000",
        )
        .all()
        .await
    }
}
