//! Running totals per service, and the windows rules and SLOs read as their differences.
//!
//! Every write adds its delta to the row of its minute and to every later row of the service
//! (there are none unless a flush arrives late), so each row always holds the totals up to the
//! end of its minute. A window then costs two one-row reads per service, whatever the history.

use std::collections::BTreeMap;

use wasm_bindgen::JsValue;

use super::{Statement, Store, StoreResult};
use vigil_core::alerting::window::{WindowStats, Windows};
use vigil_core::records::BucketColumns;
use vigil_core::telemetry::metrics::BUCKETS;

const COLUMNS: &str = "requests, errors, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, \
    probes, probes_failed, invocations, invocations_crashed, other_events, other_failures";

/// One service's stored row of running totals.
#[derive(serde::Deserialize)]
struct Totals {
    service: String,
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
    /// The two statements that add `delta` to `service`'s running totals from `minute` on: the
    /// first creates the minute's row from the latest earlier one, the second adds.
    pub(super) fn add_to_totals(
        &self,
        service: &str,
        minute: i64,
        delta: &WindowStats,
    ) -> StoreResult<[Statement<'_>; 2]> {
        let carried = COLUMNS
            .split(", ")
            .map(|c| format!("COALESCE(p.{c}, 0)"))
            .collect::<Vec<_>>()
            .join(", ");
        let create = self
            .prepare(format!(
                "INSERT INTO service_cumulative (service, minute, {COLUMNS})
                 SELECT ?1, ?2, {carried} FROM (SELECT 1) AS one LEFT JOIN (
                   SELECT {COLUMNS} FROM service_cumulative
                   WHERE service = ?1 AND minute < ?2 ORDER BY minute DESC LIMIT 1
                 ) AS p ON 1
                 WHERE 1 ON CONFLICT (service, minute) DO NOTHING"
            ))
            .bind(&[service.into(), (minute as f64).into()])?;
        let adds = COLUMNS
            .split(", ")
            .enumerate()
            .map(|(i, c)| format!("{c} = {c} + ?{}", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let mut values: Vec<JsValue> = vec![service.into(), (minute as f64).into()];
        values.extend(
            [delta.requests, delta.errors]
                .into_iter()
                .chain(delta.buckets)
                .chain([delta.probes, delta.probes_failed])
                .chain([
                    delta.invocations,
                    delta.invocations_crashed,
                    delta.other_events,
                    delta.other_failures,
                ])
                .map(|v| JsValue::from(v as f64)),
        );
        let add = self
            .prepare(format!(
                "UPDATE service_cumulative SET {adds} WHERE service = ?1 AND minute >= ?2"
            ))
            .bind(&values)?;
        Ok([create, add])
    }

    /// Every service with stored requests or tailed invocations (bounded by the aggregator's
    /// service cap).
    pub async fn services(&self) -> StoreResult<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            service: String,
        }
        let rows: Vec<Row> = self
            .prepare(
                "SELECT service FROM request_totals UNION SELECT service FROM invocation_totals
                 ORDER BY service LIMIT 1000",
            )
            .all()
            .await?;
        Ok(rows.into_iter().map(|r| r.service).collect())
    }

    /// Each service's counts over each window ending at `now_ms` (the current, partial minute
    /// included), as differences of running totals. One statement per point in time reads one
    /// row per service, so a run costs (windows + 1) × services rows whatever the history, in
    /// one batch.
    pub async fn load_windows(
        &self,
        services: &[String],
        now_ms: f64,
        windows_ms: &[u64],
    ) -> StoreResult<BTreeMap<String, Windows>> {
        let now_minute = (now_ms / 60_000.0).floor() as i64;
        let points: Vec<i64> = std::iter::once(now_minute)
            .chain(
                windows_ms
                    .iter()
                    .map(|&w| now_minute - (w / 60_000).max(1) as i64),
            )
            .collect();
        let mut statements = Vec::with_capacity(points.len());
        for &minute in &points {
            statements.push(self.totals_at(services, minute)?);
        }
        // totals[service][minute]
        let mut totals: BTreeMap<String, BTreeMap<i64, WindowStats>> = BTreeMap::new();
        for (result, &minute) in self.batch(statements).await?.into_iter().zip(&points) {
            for row in result.results::<Totals>()? {
                let entry = totals.entry(row.service.clone()).or_default();
                entry.insert(minute, row.into());
            }
        }
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

    /// One statement: each service's latest running totals at or before `minute`. The inner
    /// `MAX` is a seek on the primary key (service, minute), so each service costs a row or two
    /// whatever the history. (D1 caps compound SELECTs at a few terms, hence no UNION.)
    fn totals_at(&self, services: &[String], minute: i64) -> StoreResult<Statement<'_>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let names = serde_json::to_string(services).unwrap_or_else(|_| "[]".into());
        self.prepare(format!(
            "SELECT c.service, {columns} FROM json_each(?2) AS s
             JOIN service_cumulative AS c ON c.service = s.value AND c.minute = (
               SELECT MAX(minute) FROM service_cumulative
               WHERE service = s.value AND minute <= ?1)"
        ))
        .bind(&[(minute as f64).into(), names.into()])
    }
}

/// Keeps the bucket count in step with the columns above.
const _: () = assert!(BUCKETS == 12);
