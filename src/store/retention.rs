//! Retention, for every table: the hourly housekeeping run deletes what has aged out, by key
//! seeks, so it costs what it deletes and never what it keeps.

use super::{Ledger, Statement, Store, StoreResult, COMPONENTS, PROBES, SERVICES};

/// How far back before a retention bound housekeeping looks: the hourly runs delete what
/// crossed the bound since the last one, so a week covers a week of missed runs. Rows older
/// than that (housekeeping down for longer) are kept, which costs space, never correctness.
const TRIM_LOOKBACK_MINUTES: i64 = 7 * 1440;

impl Store {
    /// Retention: running totals beyond the 30-day SLO window (plus a margin) but for one row
    /// per day for 90 days, notifications delivered over a week ago, dead letters over 30 days
    /// old, silences over for five days and maintenance for 35. Waiting notifications are never
    /// deleted.
    pub async fn apply_retention(&self, now_ms: f64) -> StoreResult<()> {
        const DAY_MS: f64 = 86_400_000.0;
        let minute_cutoff = ((now_ms - 35.0 * DAY_MS) / 60_000.0).floor();
        // Daily rows stay for the status page's 90 days (and the base before the first).
        let daily_from = ((now_ms / DAY_MS).floor() - 90.0) * 1440.0;
        let [silences, maintenances] = self.trim_silences(now_ms)?;
        let mut statements = Vec::new();
        for ledger in [&SERVICES, &PROBES, &COMPONENTS] {
            statements.extend(self.trim_totals(ledger, minute_cutoff, daily_from)?);
        }
        statements.extend([
            silences,
            maintenances,
            self.prepare("DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?1")
                .bind(&[(now_ms - 7.0 * DAY_MS).into()])?,
            self.prepare("DELETE FROM outbox WHERE delivered_ms IS NULL AND dead_ms IS NOT NULL AND dead_ms < ?1")
                .bind(&[(now_ms - 30.0 * DAY_MS).into()])?,
            self.prepare("DELETE FROM notify_group WHERE slot_ms < ?1")
                .bind(&[(now_ms - 7.0 * DAY_MS).into()])?,
        ]);
        self.batch(statements).await?;
        Ok(())
    }

    /// Retention: deletes `ledger`'s rows before `minute`, except the last row of each day
    /// since `daily_from` (the status page's daily bars subtract them) and each subject's
    /// newest row before that, the base every older window subtracts.
    ///
    /// Each statement seeks: it walks the subjects one key seek at a time and reads only the
    /// rows in the last [`TRIM_LOOKBACK_MINUTES`] before each bound (what earlier runs left:
    /// the new rows to delete plus a few kept daily rows), never the history it keeps.
    pub(super) fn trim_totals(
        &self,
        ledger: &Ledger,
        minute: f64,
        daily_from: f64,
    ) -> StoreResult<[Statement<'_>; 2]> {
        Ok([
            self.trim_range(ledger, minute, daily_from)?,
            self.trim_range(ledger, daily_from.min(minute), daily_from)?,
        ])
    }

    /// Deletes `ledger`'s rows in the lookback before `end` that a later row of the same
    /// subject makes redundant (see [`Store::trim_totals`]).
    fn trim_range(&self, ledger: &Ledger, end: f64, daily_from: f64) -> StoreResult<Statement<'_>> {
        let Ledger { table, key, .. } = ledger;
        // `subjects` is a loose index scan (one seek per subject); a plain DISTINCT would read
        // every row of the table.
        self.prepare(format!(
            "WITH RECURSIVE subjects(s) AS (
               SELECT MIN({key}) FROM {table}
               UNION ALL
               SELECT (SELECT MIN({key}) FROM {table} WHERE {key} > subjects.s)
               FROM subjects WHERE subjects.s IS NOT NULL
             )
             DELETE FROM {table} WHERE ({key}, minute) IN (
               SELECT c.{key}, c.minute FROM subjects CROSS JOIN {table} AS c
                 ON c.{key} = subjects.s AND c.minute >= ?1 - ?3 AND c.minute < ?1
               WHERE c.minute < (
                 SELECT MAX(d.minute) FROM {table} AS d
                 WHERE d.{key} = c.{key} AND d.minute < MAX(?2, (c.minute / 1440 + 1) * 1440)))"
        ))
        .bind(&[
            end.into(),
            daily_from.into(),
            (TRIM_LOOKBACK_MINUTES as f64).into(),
        ])
    }
}
