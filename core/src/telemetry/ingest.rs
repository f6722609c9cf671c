//! What senders hand to the aggregator, and the limits a batch is checked against (the caps
//! themselves are applied in `caps`).
//!
//! Every isolate (the hub's, an embedded application's, a tail handler's) sends its unflushed
//! counts as one [`Batch`] to the aggregator, which merges them and writes each series' minute
//! row to D1 once per minute. The aggregator is reachable only through a Durable Object
//! binding, but a batch is still checked before it is merged: one bad sender must not poison
//! the counts of the others.

use serde::{Deserialize, Serialize};

use super::invocations::InvocationLedger;
use super::metrics::{Flush, MAX_SERIES};
use super::queries::QueryLedger;
use super::store_cost::CostLedger;

/// The batch format's version; a sender built for another version is refused with a reason.
pub const VERSION: u32 = 1;

/// Longest service or route label kept; longer ones are refused (they are not templates).
pub const MAX_LABEL_LEN: usize = 200;

/// Routes kept per service; further routes are counted under [`OVERFLOW`].
pub const MAX_ROUTES_PER_SERVICE: usize = 100;

/// Services kept; series of further services are counted under [`OVERFLOW`] as service and route.
pub const MAX_SERVICES: usize = 100;

/// The label value that collects what the caps leave out.
pub const OVERFLOW: &str = "other";

/// Exception names kept per service; further names are counted under [`OVERFLOW`].
pub const MAX_EXCEPTION_NAMES_PER_SERVICE: usize = 20;

/// One sender's unflushed counts: request series, the D1 rows the hub's own statements cost
/// (hub isolates only), an application's D1 query stats (embedded applications only) and
/// tailed workers' invocations (the hub's tail handler only).
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub version: u32,
    pub flush: Flush,
    #[serde(default)]
    pub cost: CostLedger,
    #[serde(default)]
    pub queries: QueryLedger,
    #[serde(default)]
    pub invocations: InvocationLedger,
}

impl Batch {
    pub fn new(flush: Flush, cost: CostLedger) -> Batch {
        Batch {
            version: VERSION,
            flush,
            cost,
            queries: QueryLedger::default(),
            invocations: InvocationLedger::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.flush.is_empty()
            && self.cost.is_empty()
            && self.queries.is_empty()
            && self.invocations.is_empty()
    }
}

/// What the aggregator reports about itself (its `/status`, shown in `/health/detailed`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregatorStatus {
    /// Series merged and not yet written.
    pub pending_series: usize,
    /// Accepted batches held in the aggregator's storage until their counts are in D1.
    #[serde(default)]
    pub journalled_batches: usize,
    pub last_write_ms: Option<f64>,
    /// The last write's failure, cleared by the next successful write.
    pub last_error: Option<String>,
    pub last_error_ms: Option<f64>,
}

/// Reads a batch a sender posted, or says what is wrong with it.
pub fn parse_batch(body: &[u8]) -> Result<Batch, String> {
    let batch: Batch =
        serde_json::from_slice(body).map_err(|e| format!("batch is not valid JSON: {e}"))?;
    if batch.version != VERSION {
        return Err(format!(
            "batch version {} is not supported (expected {VERSION}); deploy the same Vigil \
             version to the hub and its senders",
            batch.version
        ));
    }
    if batch.flush.series.len() > MAX_SERIES {
        return Err(format!(
            "batch carries {} series (at most {MAX_SERIES})",
            batch.flush.series.len()
        ));
    }
    for (key, _) in &batch.flush.series {
        check_label("service", &key.service)?;
        check_label("route", &key.route)?;
        if !(100..=599).contains(&key.code) {
            return Err(format!("status code {} is not an HTTP status", key.code));
        }
    }
    if batch.queries.entries.len() > 2 * MAX_SERVICES {
        return Err(format!(
            "batch carries query stats of {} services (at most {MAX_SERVICES})",
            batch.queries.entries.len()
        ));
    }
    for ((service, _), _) in &batch.queries.entries {
        check_label("service", service)?;
    }
    check_invocations(&batch.invocations)?;
    Ok(batch)
}

fn check_invocations(ledger: &InvocationLedger) -> Result<(), String> {
    let rows = ledger.entries.len() + ledger.exceptions.len() + ledger.logs.len();
    if rows > 3 * MAX_SERIES {
        return Err(format!(
            "batch carries {rows} invocation rows (at most {})",
            3 * MAX_SERIES
        ));
    }
    let services = ledger
        .services()
        .chain(ledger.exceptions.keys().map(|(s, _)| s.as_str()))
        .chain(ledger.logs.keys().map(|(s, _)| s.as_str()));
    for service in services {
        check_label("service", service)?;
    }
    for (_, name) in ledger.exceptions.keys() {
        check_label("exception name", name)?;
    }
    Ok(())
}

fn check_label(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_LABEL_LEN {
        return Err(format!(
            "{name} label must have 1 to {MAX_LABEL_LEN} bytes, got {}",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::flush_of;

    #[test]
    fn a_batch_round_trips_through_json() {
        let batch = Batch::new(flush_of(&[("api", "/notes/:id")]), CostLedger::default());
        let body = serde_json::to_vec(&batch).unwrap();
        assert_eq!(parse_batch(&body).unwrap(), batch);
    }

    #[test]
    fn bad_batches_are_refused_with_a_reason() {
        let mut batch = Batch::new(flush_of(&[("api", "/x")]), CostLedger::default());
        batch.version = 99;
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
        assert!(err.contains("version 99"), "{err}");

        let long = "x".repeat(MAX_LABEL_LEN + 1);
        let batch = Batch::new(flush_of(&[("api", &long)]), CostLedger::default());
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
        assert!(err.contains("route label"), "{err}");

        let mut batch = Batch::new(flush_of(&[("api", "/x")]), CostLedger::default());
        batch.flush.series[0].0.code = 42;
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
        assert!(err.contains("42"), "{err}");

        assert!(parse_batch(b"{\"version\":1").is_err());
    }

    #[test]
    fn query_stats_with_bad_service_labels_are_refused() {
        use crate::telemetry::queries::QueryOutcome;
        let mut batch = Batch::new(Flush::default(), CostLedger::default());
        batch
            .queries
            .entries
            .push(((String::new(), QueryOutcome::Ok), Default::default()));
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
        assert!(err.contains("service label"), "{err}");
    }
}
