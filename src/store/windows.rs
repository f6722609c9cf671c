//! Running totals per service, and the windows rules and SLOs read as their differences.
//!
//! Every write adds its delta to the row of its minute and to every later row of the service
//! (there are none unless a flush arrives late), so each row always holds the totals up to the
//! end of its minute. A window then costs two one-row reads, whatever the history.

use wasm_bindgen::JsValue;

use super::{Statement, Store, StoreResult};
use vigil_core::alerting::window::{WindowStats, Windows};
use vigil_core::telemetry::metrics::BUCKETS;

const COLUMNS: &str = "requests, errors, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, \
    probes, probes_failed";

/// One stored row of running totals.
#[derive(serde::Deserialize)]
struct Totals {
    requests: u64,
    errors: u64,
    b0: u64,
    b1: u64,
    b2: u64,
    b3: u64,
    b4: u64,
    b5: u64,
    b6: u64,
    b7: u64,
    b8: u64,
    b9: u64,
    b10: u64,
    b11: u64,
    probes: u64,
    probes_failed: u64,
}

impl From<Totals> for WindowStats {
    fn from(t: Totals) -> WindowStats {
        WindowStats {
            requests: t.requests,
            errors: t.errors,
            buckets: [
                t.b0, t.b1, t.b2, t.b3, t.b4, t.b5, t.b6, t.b7, t.b8, t.b9, t.b10, t.b11,
            ],
            probes: t.probes,
            probes_failed: t.probes_failed,
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
                .map(|v| JsValue::from(v as f64)),
        );
        let add = self
            .prepare(format!(
                "UPDATE service_cumulative SET {adds} WHERE service = ?1 AND minute >= ?2"
            ))
            .bind(&values)?;
        Ok([create, add])
    }

    /// `service`'s counts over each window ending at `now_ms` (the current, partial minute
    /// included), as differences of running totals: one batch of one-row reads.
    pub async fn load_windows(
        &self,
        service: &str,
        now_ms: f64,
        windows_ms: &[u64],
    ) -> StoreResult<Windows> {
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
            statements.push(
                self.prepare(format!(
                    "SELECT {COLUMNS} FROM service_cumulative
                     WHERE service = ?1 AND minute <= ?2 ORDER BY minute DESC LIMIT 1"
                ))
                .bind(&[service.into(), (minute as f64).into()])?,
            );
        }
        let mut totals = Vec::with_capacity(points.len());
        for result in self.batch(statements).await? {
            let row = result.results::<Totals>()?.into_iter().next();
            totals.push(row.map(WindowStats::from).unwrap_or_default());
        }
        let Some((end, starts)) = totals.split_first() else {
            return Ok(Windows::new());
        };
        Ok(windows_ms
            .iter()
            .zip(starts)
            .map(|(&window, start)| (window, end.since(start)))
            .collect())
    }
}

/// Keeps the bucket count in step with the columns above.
const _: () = assert!(BUCKETS == 12);
