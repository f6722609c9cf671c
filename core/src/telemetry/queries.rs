//! D1 query metrics of embedded applications: statements per service and outcome, their
//! latency histogram and the rows D1 reports they read and wrote. An application's isolate sums
//! them here between flushes; the batch carries them to the aggregator, which adds them to
//! running totals (`vigil_d1_queries_total`, `vigil_d1_query_duration_seconds`,
//! `vigil_d1_rows_read_total`, `vigil_d1_rows_written_total`).

use serde::{Deserialize, Serialize};

use super::metrics::SeriesStats;

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryOutcome {
    Ok,
    Error,
}

impl QueryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryOutcome::Ok => "ok",
            QueryOutcome::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<QueryOutcome> {
        [QueryOutcome::Ok, QueryOutcome::Error]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// One statement an application ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query<'a> {
    pub service: &'a str,
    pub outcome: QueryOutcome,
    pub duration_ms: f64,
    pub rows_read: u64,
    pub rows_written: u64,
}

/// What one `(service, outcome)` accumulated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryStats {
    /// Statement count, duration sum and histogram.
    pub timing: SeriesStats,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl QueryStats {
    fn add(&mut self, other: &QueryStats) {
        self.timing.add(&other.timing);
        self.rows_read = self.rows_read.saturating_add(other.rows_read);
        self.rows_written = self.rows_written.saturating_add(other.rows_written);
    }
}

/// Unflushed query stats, one entry per `(service, outcome)`: a handful per isolate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryLedger {
    pub entries: Vec<((String, QueryOutcome), QueryStats)>,
}

impl QueryLedger {
    pub fn record(&mut self, query: &Query<'_>) {
        let stats = QueryStats {
            timing: SeriesStats::one(query.duration_ms),
            rows_read: query.rows_read,
            rows_written: query.rows_written,
        };
        self.add((query.service.to_string(), query.outcome), &stats);
    }

    /// Adds `stats` to the entry of `key`.
    pub fn add(&mut self, key: (String, QueryOutcome), stats: &QueryStats) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => existing.add(stats),
            None => self.entries.push((key, stats.clone())),
        }
    }

    /// Adds another ledger: a failed flush put back, or a sender's batch at the aggregator.
    pub fn absorb(&mut self, other: QueryLedger) {
        for (key, stats) in other.entries {
            self.add(key, &stats);
        }
    }

    pub fn take(&mut self) -> QueryLedger {
        std::mem::take(self)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(service: &str, outcome: QueryOutcome, ms: f64) -> Query<'_> {
        Query {
            service,
            outcome,
            duration_ms: ms,
            rows_read: 3,
            rows_written: 1,
        }
    }

    #[test]
    fn statements_sum_per_service_and_outcome() {
        let mut ledger = QueryLedger::default();
        ledger.record(&query("notes", QueryOutcome::Ok, 2.0));
        ledger.record(&query("notes", QueryOutcome::Ok, 30.0));
        ledger.record(&query("notes", QueryOutcome::Error, 1.0));
        let mut other = QueryLedger::default();
        other.record(&query("notes", QueryOutcome::Ok, 2.0));
        ledger.absorb(other);
        let taken = ledger.take();
        assert!(ledger.is_empty());
        assert_eq!(taken.entries.len(), 2);
        let ((service, outcome), ok) = &taken.entries[0];
        assert_eq!((service.as_str(), *outcome), ("notes", QueryOutcome::Ok));
        assert_eq!(ok.timing.count, 3);
        assert_eq!((ok.rows_read, ok.rows_written), (9, 3));
        assert_eq!(ok.timing.buckets[0], 2, "2 ms twice in the 5 ms bucket");
        assert_eq!(ok.timing.buckets[3], 1, "30 ms in the 50 ms bucket");
        assert!((ok.timing.duration_sum_seconds - 0.034).abs() < 1e-9);
    }

    #[test]
    fn outcomes_read_back_from_their_labels() {
        assert_eq!(QueryOutcome::parse("error"), Some(QueryOutcome::Error));
        assert_eq!(QueryOutcome::parse("ok"), Some(QueryOutcome::Ok));
        assert_eq!(QueryOutcome::parse("meh"), None);
    }
}
