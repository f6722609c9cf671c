//! Check ledgers (probes, status components): a check writes rows only when it breaks the
//! latest row's pattern; which rows is the core's decision (`probes::ledger`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::windows::window_starts;
use super::{Ledger, Statement, Store, StoreResult};
use vigil_core::alerting::window::{WindowStats, Windows};
use vigil_core::probes::ledger::{rows_for_check, totals_from_newest, Check, Checks, LedgerRow};

/// Newest rows read per subject for its windows (each costs about three rows as D1 counts
/// them: the subquery's, the row's and the seek's). A steady probe has
/// one or two and needs nothing else; one with a recent outage finds its alert windows in them
/// and reads its 30-day start by point; a denser history (a row per minute, as versions before
/// the rated ledger wrote) reads the window starts beyond them by point.
const NEWEST_ROWS: usize = 4;

fn stats(checks: Checks) -> WindowStats {
    WindowStats {
        probes: checks.checks,
        probes_failed: checks.failed,
        ..WindowStats::default()
    }
}

impl Store {
    /// The statements that record `checks` (`(subject, check)`) in `ledger`, after reading each
    /// subject's latest row (one key seek each).
    pub(super) async fn record_checks(
        &self,
        ledger: &Ledger,
        checks: &[(String, Check)],
    ) -> StoreResult<Vec<Statement<'_>>> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let subjects: Vec<&str> = checks.iter().map(|(s, _)| s.as_str()).collect();
        let mut latest: BTreeMap<String, LedgerRow> = self
            .newest_rows(ledger, &subjects, i64::MAX / 2, 1)
            .await?
            .into_iter()
            .filter_map(|(subject, rows)| Some((subject, *rows.first()?)))
            .collect();
        let mut rows = Vec::new();
        for (subject, check) in checks {
            for row in rows_for_check(latest.get(subject), check) {
                rows.push(json!([
                    subject,
                    row.minute,
                    row.totals.checks,
                    row.totals.failed,
                    row.per_minute.checks,
                    row.per_minute.failed
                ]));
                if latest.get(subject).is_none_or(|l| l.minute <= row.minute) {
                    latest.insert(subject.clone(), row);
                }
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![self.put_rows(ledger, &rows)?])
    }

    /// Each subject's newest rows up to `through` (at most `limit`, newest first), in one
    /// statement: key seeks, never the subject's older history.
    async fn newest_rows(
        &self,
        ledger: &Ledger,
        subjects: &[&str],
        through: i64,
        limit: usize,
    ) -> StoreResult<BTreeMap<String, Vec<LedgerRow>>> {
        #[derive(serde::Deserialize)]
        struct Row {
            subject: String,
            minute: i64,
            probes: u64,
            probes_failed: u64,
            rate_probes: u64,
            rate_failed: u64,
        }
        let Ledger { table, key, .. } = ledger;
        let names = serde_json::to_string(subjects).unwrap_or_else(|_| "[]".into());
        let rows: Vec<Row> = self
            .prepare(format!(
                "SELECT c.{key} AS subject, c.minute, c.probes, c.probes_failed, c.rate_probes,
                        c.rate_failed
                 FROM json_each(?1) AS s CROSS JOIN {table} AS c ON c.{key} = s.value
                   AND c.minute IN (SELECT minute FROM {table} WHERE {key} = s.value
                                    AND minute <= ?2 ORDER BY minute DESC LIMIT ?3)"
            ))
            .bind(&[names.into(), (through as f64).into(), (limit as f64).into()])?
            .all()
            .await?;
        let mut newest: BTreeMap<String, Vec<LedgerRow>> = BTreeMap::new();
        for r in rows {
            let row = LedgerRow {
                minute: r.minute,
                totals: Checks {
                    checks: r.probes,
                    failed: r.probes_failed,
                },
                per_minute: Checks {
                    checks: r.rate_probes,
                    failed: r.rate_failed,
                },
            };
            newest.entry(r.subject).or_default().push(row);
        }
        for rows in newest.values_mut() {
            rows.sort_by_key(|r| std::cmp::Reverse(r.minute));
        }
        Ok(newest)
    }

    /// Each subject's checks over each window ending at `now_ms`, from its newest rows (one
    /// statement): a subject whose result seldom changes has a few rows in 30 days, so every
    /// window costs it nothing more. Window starts beyond those rows are read by point.
    pub async fn load_check_windows(
        &self,
        ledger: &Ledger,
        subjects: &[String],
        now_ms: f64,
        windows_ms: &[u64],
    ) -> StoreResult<BTreeMap<String, Windows>> {
        let now = (now_ms / 60_000.0).floor() as i64;
        let starts = window_starts(now, windows_ms);
        let names: Vec<&str> = subjects.iter().map(String::as_str).collect();
        let newest = self.newest_rows(ledger, &names, now, NEWEST_ROWS).await?;
        let none = Vec::new();
        let at = |subject: &str, minute: i64| {
            let rows = newest.get(subject).unwrap_or(&none);
            totals_from_newest(rows, minute, rows.len() < NEWEST_ROWS)
        };
        // The window starts older than a subject's newest rows, read by point for it alone.
        let mut beyond: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for subject in subjects {
            for &start in starts.iter().filter(|&&m| at(subject, m).is_none()) {
                beyond.entry(start).or_default().push(subject.clone());
            }
        }
        let read = self.totals_at_points(ledger, &beyond).await?;
        Ok(subjects
            .iter()
            .map(|subject| {
                let totals = |minute: i64| match at(subject, minute) {
                    Some(checks) => stats(checks),
                    None => read
                        .get(subject)
                        .and_then(|m| m.get(&minute))
                        .cloned()
                        .unwrap_or_default(),
                };
                let end = totals(now);
                let windows = windows_ms
                    .iter()
                    .zip(&starts)
                    .map(|(&window, &start)| (window, end.since(&totals(start))))
                    .collect();
                (subject.clone(), windows)
            })
            .collect())
    }

    /// Writes ledger rows (`[subject, minute, probes, probes_failed, rate_probes,
    /// rate_failed]` each) in one statement.
    fn put_rows(&self, ledger: &Ledger, rows: &[Value]) -> StoreResult<Statement<'_>> {
        let Ledger { table, key, .. } = ledger;
        self.each_row(
            format!(
                "INSERT INTO {table} ({key}, minute, probes, probes_failed, rate_probes, rate_failed)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
                 FROM json_each(?1) WHERE true
                 ON CONFLICT ({key}, minute) DO UPDATE SET probes = excluded.probes,
                   probes_failed = excluded.probes_failed, rate_probes = excluded.rate_probes,
                   rate_failed = excluded.rate_failed"
            ),
            rows,
        )
    }
}
