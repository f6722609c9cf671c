//! What the aggregator holds for its next write.

use std::collections::BTreeMap;

use crate::telemetry::invocations::InvocationLedger;
use crate::telemetry::metrics::Flush;
use crate::telemetry::queries::QueryLedger;

/// Everything one write takes out of the aggregator (and puts back if it fails).
pub(super) struct Pending {
    pub flush: Flush,
    pub queries: QueryLedger,
    pub invocations: InvocationLedger,
    pub counters: BTreeMap<String, u64>,
    /// The journalled batches these counts came from.
    pub held: Vec<u64>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.flush.is_empty()
            && self.queries.is_empty()
            && self.invocations.is_empty()
            && self.counters.is_empty()
    }
}

/// Adds `(counter name, increment)` pairs to pending counter increments.
pub(super) fn add_counts(
    counters: &mut BTreeMap<String, u64>,
    counts: impl IntoIterator<Item = (String, u64)>,
) {
    for (name, by) in counts {
        *counters.entry(name).or_default() += by;
    }
}
