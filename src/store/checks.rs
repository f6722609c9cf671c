//! Check ledgers (probes, status components): a check writes rows only when it breaks the
//! latest row's pattern; which rows is the core's decision (`probes::ledger`).

use std::collections::BTreeMap;

use super::{Ledger, Statement, Store, StoreResult};
use vigil_core::probes::ledger::{rows_for_check, Check, Checks, LedgerRow};

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
        let mut latest = self.latest_rows(ledger, &subjects).await?;
        let mut statements = Vec::new();
        for (subject, check) in checks {
            for row in rows_for_check(latest.get(subject), check) {
                statements.push(self.put_row(ledger, subject, &row)?);
                if latest.get(subject).is_none_or(|l| l.minute <= row.minute) {
                    latest.insert(subject.clone(), row);
                }
            }
        }
        Ok(statements)
    }

    /// Each subject's newest row.
    async fn latest_rows(
        &self,
        ledger: &Ledger,
        subjects: &[&str],
    ) -> StoreResult<BTreeMap<String, LedgerRow>> {
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
                   AND c.minute = (SELECT MAX(minute) FROM {table} WHERE {key} = s.value)"
            ))
            .bind(&[names.into()])?
            .all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
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
                (r.subject, row)
            })
            .collect())
    }

    fn put_row(
        &self,
        ledger: &Ledger,
        subject: &str,
        row: &LedgerRow,
    ) -> StoreResult<Statement<'_>> {
        let Ledger { table, key, .. } = ledger;
        self.prepare(format!(
            "INSERT INTO {table} ({key}, minute, probes, probes_failed, rate_probes, rate_failed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT ({key}, minute) DO UPDATE SET probes = excluded.probes,
               probes_failed = excluded.probes_failed, rate_probes = excluded.rate_probes,
               rate_failed = excluded.rate_failed"
        ))
        .bind(&[
            subject.into(),
            (row.minute as f64).into(),
            (row.totals.checks as f64).into(),
            (row.totals.failed as f64).into(),
            (row.per_minute.checks as f64).into(),
            (row.per_minute.failed as f64).into(),
        ])
    }
}
