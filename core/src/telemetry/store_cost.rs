//! What Vigil's own storage costs: D1 rows read and written, by the operation that caused them.
//!
//! Cloudflare bills D1 by rows read and written, so Vigil measures its own cost from D1's
//! `meta.rows_read` / `meta.rows_written` of every statement, keeps per-isolate sums in a
//! [`CostLedger`], and adds them to running counters on its next flush.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why Vigil touched D1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Isolates writing their request metrics.
    Flush,
    /// The minute cron: self-probe, alerting, delivery, heartbeat.
    Cron,
    /// The hourly retention and archive step.
    Housekeeping,
    /// A Prometheus scrape of `/metrics`.
    Scrape,
    /// The admin API (`/api/*`).
    Api,
    /// Readiness and health endpoints.
    Health,
    /// Jobs pinging their heartbeat monitors.
    Ping,
    /// The public status page and badges (on a cache miss).
    Status,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::Flush,
        Operation::Cron,
        Operation::Housekeeping,
        Operation::Scrape,
        Operation::Api,
        Operation::Health,
        Operation::Ping,
        Operation::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Flush => "flush",
            Operation::Cron => "cron",
            Operation::Housekeeping => "housekeeping",
            Operation::Scrape => "scrape",
            Operation::Api => "api",
            Operation::Health => "health",
            Operation::Ping => "ping",
            Operation::Status => "status",
        }
    }

    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// The running counters this operation's rows are added to.
    pub fn counter_names(self) -> (String, String) {
        let op = self.as_str();
        (
            format!("{READ_PREFIX}{op}"),
            format!("{WRITTEN_PREFIX}{op}"),
        )
    }
}

/// Counter-name prefixes of the running totals (`store_rows_read:cron`, …).
pub const READ_PREFIX: &str = "store_rows_read:";
pub const WRITTEN_PREFIX: &str = "store_rows_written:";

/// Rows read and written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    pub read: u64,
    pub written: u64,
}

/// Rows per operation, not yet added to the stored counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostLedger(BTreeMap<Operation, Rows>);

impl CostLedger {
    pub fn add(&mut self, operation: Operation, read: u64, written: u64) {
        let rows = self.0.entry(operation).or_default();
        rows.read = rows.read.saturating_add(read);
        rows.written = rows.written.saturating_add(written);
    }

    /// Hands over what was recorded, leaving the ledger empty.
    pub fn take(&mut self) -> CostLedger {
        std::mem::take(self)
    }

    /// Puts back what a failed write took, so it is counted next time.
    pub fn restore(&mut self, other: CostLedger) {
        for (operation, rows) in other.0 {
            self.add(operation, rows.read, rows.written);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|r| *r == Rows::default())
    }

    /// `(counter name, increment)` pairs to add to the stored counters; zero rows are skipped.
    pub fn increments(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (operation, rows) in &self.0 {
            let (read, written) = operation.counter_names();
            out.extend([(read, rows.read), (written, rows.written)]);
        }
        out.retain(|(_, by)| *by > 0);
        out
    }
}

/// Stored counters back to `(operation, rows)`; names that are not cost counters are ignored.
pub fn from_counters(counters: &[(String, u64)]) -> BTreeMap<Operation, Rows> {
    let mut rows: BTreeMap<Operation, Rows> = BTreeMap::new();
    for (name, value) in counters {
        if let Some(op) = name.strip_prefix(READ_PREFIX).and_then(Operation::parse) {
            rows.entry(op).or_default().read = *value;
        } else if let Some(op) = name.strip_prefix(WRITTEN_PREFIX).and_then(Operation::parse) {
            rows.entry(op).or_default().written = *value;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_sums_per_operation_and_hands_over_increments_once() {
        let mut ledger = CostLedger::default();
        ledger.add(Operation::Cron, 10, 2);
        ledger.add(Operation::Cron, 5, 0);
        ledger.add(Operation::Scrape, 7, 0);
        let taken = ledger.take();
        assert!(ledger.is_empty());
        assert_eq!(
            taken.increments(),
            [
                ("store_rows_read:cron".to_string(), 15),
                ("store_rows_written:cron".to_string(), 2),
                ("store_rows_read:scrape".to_string(), 7),
            ]
        );
        ledger.restore(taken.clone());
        assert_eq!(ledger, taken, "a failed write puts the rows back");
    }

    #[test]
    fn stored_counters_read_back_per_operation() {
        let counters = [
            ("store_rows_read:cron".to_string(), 100),
            ("store_rows_written:cron".to_string(), 4),
            ("store_rows_read:nonsense".to_string(), 9),
            ("metric_flush_batches".to_string(), 3),
        ];
        let rows = from_counters(&counters);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[&Operation::Cron],
            Rows {
                read: 100,
                written: 4
            }
        );
    }
}
