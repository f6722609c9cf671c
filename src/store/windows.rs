//! Running totals per service and per probe, and the windows rules and SLOs read as their
//! differences.
//!
//! Every write adds its delta to the row of its minute and to every later row of the subject
//! (there are none unless a flush arrives late), so each row always holds the totals up to the
//! end of its minute. A window then costs two one-row reads per subject, whatever the history.

use std::collections::BTreeMap;

use wasm_bindgen::JsValue;

use super::{Answer, Statement, Store, StoreResult};
use vigil_core::alerting::window::{WindowStats, Windows};
use vigil_core::records::BucketColumns;
use vigil_core::telemetry::metrics::BUCKETS;

/// A table of running totals: its name, the column naming the subject, and the counts it holds.
pub struct Ledger {
    pub(super) table: &'static str,
    pub(super) key: &'static str,
    columns: &'static str,
    /// Check ledgers: each row also holds what every later minute adds (`rate_probes`,
    /// `rate_failed`), and rows are written when that changes (see `probes::ledger`).
    rated: bool,
}

/// Services: requests, latency buckets, self-probes and tailed invocations.
pub const SERVICES: Ledger = Ledger {
    table: "service_cumulative",
    key: "service",
    columns: "requests, errors, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, \
        probes, probes_failed, invocations, invocations_crashed, other_events, other_failures",
    rated: false,
};

/// Probes: their checks, and the failed ones.
pub const PROBES: Ledger = Ledger {
    table: "probe_cumulative",
    key: "probe",
    columns: "probes, probes_failed",
    rated: true,
};

/// Status-page components without a ledger of their own: public heartbeat monitors and the
/// dependencies the page shows (`monitor:<name>`, `dependency:<name>`), one check per cron run.
pub const COMPONENTS: Ledger = Ledger {
    table: "component_cumulative",
    key: "component",
    columns: "probes, probes_failed",
    rated: true,
};

impl Ledger {
    fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.columns.split(',').map(str::trim)
    }

    /// A statement's `values`, with the last minute checked (`?3`) for a rated ledger (`None`:
    /// the cron's last run).
    fn values(&self, mut values: Vec<JsValue>, checked_through: Option<i64>) -> Vec<JsValue> {
        if self.rated {
            values.push(checked_through.map_or(JsValue::NULL, |m| JsValue::from(m as f64)));
        }
        values
    }

    /// The select list of row `c`'s totals at the end of minute `point` (an SQL expression),
    /// named as the columns. A rated ledger adds its rate for the minutes since the row, up to
    /// the last minute checked: `?3` when bound, else the cron's last run (a stopped cron
    /// checks nothing, and must not look like passing checks).
    fn totals_at_point(&self, point: &str) -> String {
        let through = format!(
            "MIN({point}, COALESCE(?3, (SELECT CAST(last_run_ms / 60000 AS INTEGER) \
             FROM cron_heartbeat WHERE job = 'minute'), {point}))"
        );
        self.columns()
            .map(|col| match (self.rated, col) {
                (true, "probes" | "probes_failed") => {
                    let rate = if col == "probes" {
                        "rate_probes"
                    } else {
                        "rate_failed"
                    };
                    format!("c.{col} + c.{rate} * MAX(0, {through} - c.minute) AS {col}")
                }
                _ => format!("c.{col}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The minute before each window ending at `now_minute` starts: the totals a window subtracts.
pub(super) fn window_starts(now_minute: i64, windows_ms: &[u64]) -> Vec<i64> {
    windows_ms
        .iter()
        .map(|&w| now_minute - (w / 60_000).max(1) as i64)
        .collect()
}

/// The value of one counts column in a delta (the column names are the field names).
fn column_value(delta: &WindowStats, column: &str) -> u64 {
    let bucket = column
        .strip_prefix('b')
        .and_then(|i| i.parse::<usize>().ok());
    match (column, bucket) {
        (_, Some(i)) => delta.buckets.get(i).copied().unwrap_or(0),
        ("requests", _) => delta.requests,
        ("errors", _) => delta.errors,
        ("probes", _) => delta.probes,
        ("probes_failed", _) => delta.probes_failed,
        ("invocations", _) => delta.invocations,
        ("invocations_crashed", _) => delta.invocations_crashed,
        ("other_events", _) => delta.other_events,
        ("other_failures", _) => delta.other_failures,
        _ => 0,
    }
}

/// One subject's stored row of running totals; a ledger without a column reads it as 0.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Totals {
    subject: String,
    requests: u64,
    errors: u64,
    #[serde(flatten)]
    buckets: BucketColumns,
    probes: u64,
    probes_failed: u64,
    invocations: u64,
    invocations_crashed: u64,
    other_events: u64,
    other_failures: u64,
}

impl From<Totals> for WindowStats {
    fn from(t: Totals) -> WindowStats {
        WindowStats {
            requests: t.requests,
            errors: t.errors,
            buckets: t.buckets.counts(),
            probes: t.probes,
            probes_failed: t.probes_failed,
            invocations: t.invocations,
            invocations_crashed: t.invocations_crashed,
            other_events: t.other_events,
            other_failures: t.other_failures,
        }
    }
}

impl Store {
    /// The two statements that add `delta` to `subject`'s running totals in `ledger` from
    /// `minute` on: the first creates the minute's row from the latest earlier one plus
    /// `delta` (or adds to the row that exists: one row written either way), the second adds
    /// to later rows, which exist only when a flush arrives late.
    pub(super) fn add_to_totals(
        &self,
        ledger: &Ledger,
        subject: &str,
        minute: i64,
        delta: &WindowStats,
    ) -> StoreResult<[Statement<'_>; 2]> {
        let Ledger {
            table,
            key,
            columns,
            ..
        } = ledger;
        let each = |template: &dyn Fn(&str, usize) -> String| {
            ledger
                .columns()
                .enumerate()
                .map(|(i, c)| template(c, i + 3))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let carried = each(&|c, i| format!("COALESCE(p.{c}, 0) + ?{i}"));
        let added = each(&|c, i| format!("{c} = {table}.{c} + ?{i}"));
        let mut values: Vec<JsValue> = vec![subject.into(), (minute as f64).into()];
        values.extend(
            ledger
                .columns()
                .map(|c| JsValue::from(column_value(delta, c) as f64)),
        );
        let create = self
            .prepare(format!(
                "INSERT INTO {table} ({key}, minute, {columns})
                 SELECT ?1, ?2, {carried} FROM (SELECT 1) AS one LEFT JOIN (
                   SELECT {columns} FROM {table}
                   WHERE {key} = ?1 AND minute < ?2 ORDER BY minute DESC LIMIT 1
                 ) AS p ON 1
                 WHERE 1 ON CONFLICT ({key}, minute) DO UPDATE SET {added}"
            ))
            .bind(&values)?;
        let later = self
            .prepare(format!(
                "UPDATE {table} SET {added} WHERE {key} = ?1 AND minute > ?2"
            ))
            .bind(&values)?;
        Ok([create, later])
    }

    /// Each subject's running totals at each of `minutes`, in one statement (two row seeks per
    /// subject and minute). A subject without a row by then is missing from that minute's map.
    pub async fn totals_at_minutes(
        &self,
        ledger: &Ledger,
        subjects: &[String],
        minutes: &[i64],
        checked_through: Option<i64>,
    ) -> StoreResult<BTreeMap<String, BTreeMap<i64, WindowStats>>> {
        #[derive(serde::Deserialize)]
        struct AtPoint {
            point: i64,
            #[serde(flatten)]
            totals: Totals,
        }
        if subjects.is_empty() {
            return Ok(BTreeMap::new());
        }
        let Ledger { table, key, .. } = ledger;
        let columns = ledger.totals_at_point("p.value");
        let names = serde_json::to_string(subjects).unwrap_or_else(|_| "[]".into());
        let points = serde_json::to_string(minutes).unwrap_or_else(|_| "[]".into());
        // CROSS JOIN fixes the loop order: with a plain JOIN, SQLite put `c` before the
        // points and scanned every row of the subject once per point (millions of rows read
        // for a 90-day page); this way each (subject, point) is one primary-key seek.
        let rows: Vec<AtPoint> = self
            .prepare(format!(
                "SELECT c.{key} AS subject, p.value AS point, {columns}
                 FROM json_each(?1) AS s CROSS JOIN json_each(?2) AS p
                 CROSS JOIN {table} AS c ON c.{key} = s.value AND c.minute = (
                   SELECT MAX(minute) FROM {table} WHERE {key} = s.value AND minute <= p.value)"
            ))
            .bind(&ledger.values(vec![names.into(), points.into()], checked_through))?
            .all()
            .await?;
        let mut totals: BTreeMap<String, BTreeMap<i64, WindowStats>> = BTreeMap::new();
        for row in rows {
            let subject = row.totals.subject.clone();
            totals
                .entry(subject)
                .or_default()
                .insert(row.point, row.totals.into());
        }
        Ok(totals)
    }

    /// Every service with stored requests or tailed invocations (bounded by the aggregator's
    /// service cap).
    pub async fn services(&self) -> StoreResult<Vec<String>> {
        services(self.services_query().run().await?)
    }

    pub(super) fn services_query(&self) -> Statement<'_> {
        self.prepare(
            "SELECT service FROM request_totals UNION SELECT service FROM invocation_totals
             ORDER BY service LIMIT 1000",
        )
    }

    /// [`Store::services`] and `hub`, the hub's own service, sorted: the hub is watched (its
    /// self-probes count towards its availability) even before it has served a request.
    pub async fn services_with(&self, hub: &str) -> StoreResult<Vec<String>> {
        Ok(with_hub(self.services().await?, hub))
    }

    /// Each subject's counts in `ledger` over each window ending at `now_ms` (the current,
    /// partial minute included), as differences of running totals. One statement per point in
    /// time reads one row per subject, so a run costs (windows + 1) × subjects rows whatever
    /// the history, in one batch.
    pub async fn load_windows(
        &self,
        ledger: &Ledger,
        services: &[String],
        now_ms: f64,
        windows_ms: &[u64],
    ) -> StoreResult<BTreeMap<String, Windows>> {
        let now_minute = (now_ms / 60_000.0).floor() as i64;
        let points: Vec<i64> = std::iter::once(now_minute)
            .chain(window_starts(now_minute, windows_ms))
            .collect();
        let wanted = points.iter().map(|&m| (m, services.to_vec())).collect();
        let totals = self.totals_at_points(ledger, &wanted).await?;
        let empty = WindowStats::default();
        Ok(services
            .iter()
            .map(|service| {
                let at = totals.get(service);
                let get = |minute: i64| at.and_then(|m| m.get(&minute)).unwrap_or(&empty);
                let end = get(now_minute);
                let windows = windows_ms
                    .iter()
                    .zip(&points[1..])
                    .map(|(&window, &start)| (window, end.since(get(start))))
                    .collect();
                (service.clone(), windows)
            })
            .collect())
    }

    /// The running totals of the subjects wanted at each point (`wanted[minute]`), as
    /// `totals[subject][minute]`: one statement per point in one batch; a subject without a row
    /// by then is missing.
    pub(super) async fn totals_at_points(
        &self,
        ledger: &Ledger,
        wanted: &BTreeMap<i64, Vec<String>>,
    ) -> StoreResult<BTreeMap<String, BTreeMap<i64, WindowStats>>> {
        let mut statements = Vec::with_capacity(wanted.len());
        for (&minute, subjects) in wanted {
            statements.push(self.totals_at(ledger, subjects, minute)?);
        }
        let mut totals: BTreeMap<String, BTreeMap<i64, WindowStats>> = BTreeMap::new();
        for (result, &minute) in self.batch(statements).await?.into_iter().zip(wanted.keys()) {
            for row in result.rows::<Totals>()? {
                let entry = totals.entry(row.subject.clone()).or_default();
                entry.insert(minute, row.into());
            }
        }
        Ok(totals)
    }

    /// One statement: each subject's latest running totals at or before `minute`. The inner
    /// `MAX` is a seek on the primary key (subject, minute), so each subject costs a row or two
    /// whatever the history (the subjects are the outer loop: see `totals_at_minutes`). D1
    /// caps compound SELECTs at a few terms, hence no UNION. One statement per minute rather
    /// than `totals_at_minutes`' single one: measured, that reads one row less per subject.
    fn totals_at(
        &self,
        ledger: &Ledger,
        subjects: &[String],
        minute: i64,
    ) -> StoreResult<Statement<'_>> {
        let Ledger { table, key, .. } = ledger;
        let columns = ledger.totals_at_point("?1");
        let names = serde_json::to_string(subjects).unwrap_or_else(|_| "[]".into());
        self.prepare(format!(
            "SELECT c.{key} AS subject, {columns} FROM json_each(?2) AS s
             CROSS JOIN {table} AS c ON c.{key} = s.value AND c.minute = (
               SELECT MAX(minute) FROM {table}
               WHERE {key} = s.value AND minute <= ?1)"
        ))
        .bind(&ledger.values(vec![(minute as f64).into(), names.into()], Some(minute)))
    }
}

/// Keeps the bucket count in step with the columns above.
const _: () = assert!(BUCKETS == 12);

pub(super) fn services(answer: Answer) -> StoreResult<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Row {
        service: String,
    }
    let rows: Vec<Row> = answer.rows()?;
    Ok(rows.into_iter().map(|r| r.service).collect())
}

/// `services` with the hub's own among them (it has traffic of its own before any is stored).
pub(super) fn with_hub(mut services: Vec<String>, hub: &str) -> Vec<String> {
    if !services.iter().any(|s| s == hub) {
        services.push(hub.to_string());
        services.sort();
    }
    services
}
