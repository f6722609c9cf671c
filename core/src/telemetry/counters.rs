//! The stored running counters of Vigil's own pipeline (one D1 table of `name → value`), by
//! name, and how `/metrics` reads them back.

use std::collections::BTreeMap;

use super::store_cost::{from_counters, Operation, Rows};

/// D1 write batches of request metrics (the aggregator's minute writes, or direct flushes).
pub const FLUSH_BATCHES: &str = "metric_flush_batches";
/// Requests an isolate could not count (its unflushed series hit the cap).
pub const DROPPED_REQUESTS: &str = "metric_requests_dropped";
/// Requests to embedded applications' health endpoints, counted apart from their traffic.
pub const HEALTH_CHECKS: &str = "embedded_health_checks";
/// Batches the aggregator merged (one Durable Object request each).
pub const AGGREGATOR_BATCHES: &str = "aggregator_batches";
/// Batches the aggregator found journalled after an eviction, deploy or restart, and wrote.
pub const AGGREGATOR_BATCHES_RECOVERED: &str = "aggregator_batches_recovered";
/// Journalled batches that no longer parsed (another version's format) and were dropped.
pub const AGGREGATOR_BATCHES_UNREADABLE: &str = "aggregator_batches_unreadable";
/// The highest journalled batch written to D1: not a count, and not exported.
pub const AGGREGATOR_WATERMARK: &str = "aggregator_written_through";
/// Flushes the hub wrote to D1 itself because it has no aggregator binding.
pub const AGGREGATOR_FALLBACKS: &str = "aggregator_fallbacks";
/// Tailed invocations an isolate could not count (its unflushed rows hit the cap).
pub const DROPPED_INVOCATIONS: &str = "tail_invocations_dropped";
/// Elements of tail batches that were not trace items (skipped).
pub const MALFORMED_TRACE_ITEMS: &str = "tail_items_malformed";
/// Due probe checks a cron run deferred to stay within its subrequest budget.
pub const PROBES_DEFERRED: &str = "probes_deferred";
/// Series folded into `route="other"` by the caps, per service: `series_folded:{service}`.
pub const FOLDED_PREFIX: &str = "series_folded:";

/// The pipeline's counters, read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineCounters {
    pub flush_batches: u64,
    pub dropped_requests: u64,
    pub health_checks: u64,
    pub aggregator_batches: u64,
    pub aggregator_batches_recovered: u64,
    pub aggregator_batches_unreadable: u64,
    pub aggregator_fallbacks: u64,
    pub dropped_invocations: u64,
    pub malformed_trace_items: u64,
    pub probes_deferred: u64,
    pub series_folded: BTreeMap<String, u64>,
    /// D1 rows Vigil itself read and wrote, per operation.
    pub store_costs: BTreeMap<Operation, Rows>,
}

impl PipelineCounters {
    /// Sorts stored `(name, value)` pairs into the counters; unknown names are ignored.
    pub fn from_stored(stored: &[(String, u64)]) -> PipelineCounters {
        let mut counters = PipelineCounters {
            store_costs: from_counters(stored),
            ..PipelineCounters::default()
        };
        for (name, value) in stored {
            match name.as_str() {
                FLUSH_BATCHES => counters.flush_batches = *value,
                DROPPED_REQUESTS => counters.dropped_requests = *value,
                HEALTH_CHECKS => counters.health_checks = *value,
                AGGREGATOR_BATCHES => counters.aggregator_batches = *value,
                AGGREGATOR_BATCHES_RECOVERED => counters.aggregator_batches_recovered = *value,
                AGGREGATOR_BATCHES_UNREADABLE => counters.aggregator_batches_unreadable = *value,
                AGGREGATOR_FALLBACKS => counters.aggregator_fallbacks = *value,
                DROPPED_INVOCATIONS => counters.dropped_invocations = *value,
                MALFORMED_TRACE_ITEMS => counters.malformed_trace_items = *value,
                PROBES_DEFERRED => counters.probes_deferred = *value,
                other => {
                    if let Some(service) = other.strip_prefix(FOLDED_PREFIX) {
                        counters.series_folded.insert(service.to_string(), *value);
                    }
                }
            }
        }
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_counters_are_sorted_by_name() {
        let stored = [
            (FLUSH_BATCHES.to_string(), 3),
            (AGGREGATOR_BATCHES.to_string(), 40),
            ("series_folded:api".to_string(), 2),
            ("store_rows_read:cron".to_string(), 9),
            ("something_else".to_string(), 1),
        ];
        let counters = PipelineCounters::from_stored(&stored);
        assert_eq!(counters.flush_batches, 3);
        assert_eq!(counters.aggregator_batches, 40);
        assert_eq!(counters.series_folded["api"], 2);
        assert_eq!(counters.store_costs[&Operation::Cron].read, 9);
        assert_eq!(counters.aggregator_fallbacks, 0);
    }
}
