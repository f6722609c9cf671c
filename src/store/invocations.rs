//! Tailed workers' invocations: running totals per `(service, event, outcome)` with CPU and
//! wall time histograms, exceptions by name and log lines by level.

use std::collections::BTreeMap;

use wasm_bindgen::JsValue;

use super::{adding, bucket_placeholders, Statement, Store, StoreResult};
use vigil_core::records::{BucketColumns, InvocationTotal, LabelledTotal, WallBucketColumns};
use vigil_core::telemetry::invocations::{InvocationLedger, InvocationStats};
use vigil_core::telemetry::metrics::BUCKETS;
use vigil_core::telemetry::trace::{EventKind, Outcome};

fn totals_sql() -> String {
    let (cpu, wall) = (BucketColumns::NAMES, WallBucketColumns::NAMES);
    format!(
        "INSERT INTO invocation_totals (service, event, outcome, count, cpu_sum, wall_sum, {cpu}, {wall})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, {cpu_values}, {wall_values})
         ON CONFLICT (service, event, outcome) DO UPDATE SET {sums}, {cpu_adds}, {wall_adds}",
        cpu_values = bucket_placeholders(7),
        wall_values = bucket_placeholders(7 + BUCKETS),
        sums = adding("invocation_totals", "count, cpu_sum, wall_sum"),
        cpu_adds = adding("invocation_totals", cpu),
        wall_adds = adding("invocation_totals", wall),
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
        self.labelled_totals("worker_exception_totals", "name")
            .await
    }

    /// Log lines by level per service (at most six levels each).
    pub async fn log_totals(&self) -> StoreResult<Vec<LabelledTotal>> {
        self.labelled_totals("worker_log_totals", "level").await
    }

    async fn labelled_totals(&self, table: &str, label: &str) -> StoreResult<Vec<LabelledTotal>> {
        self.prepare(format!(
            "SELECT service, {label} AS label, count FROM {table}
             ORDER BY service, {label} LIMIT 5000"
        ))
        .all()
        .await
    }
}
