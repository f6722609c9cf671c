//! What senders hand to the aggregator, and the per-service cap on route labels.
//!
//! Every isolate (the hub's, an embedded application's, a tail handler's) sends its unflushed
//! counts as one [`Batch`] to the aggregator, which merges them and writes each series' minute
//! row to D1 once per minute. The aggregator is reachable only through a Durable Object
//! binding, but a batch is still checked before it is merged: one bad sender must not poison
//! the counts of the others.

use std::collections::{BTreeMap, BTreeSet};

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

/// The series labels already stored, so new ones can be held to the caps.
#[derive(Debug, Default)]
pub struct LabelCap {
    routes: BTreeMap<String, BTreeSet<String>>,
    exceptions: BTreeMap<String, BTreeSet<String>>,
}

impl LabelCap {
    /// Registers a stored service that may have no routes (a tailed worker with no fetch
    /// traffic).
    pub fn learn_service(&mut self, service: &str) {
        self.routes.entry(service.to_string()).or_default();
    }

    /// Registers a stored `(service, exception name)`.
    pub fn learn_exception(&mut self, service: &str, name: &str) {
        self.exceptions
            .entry(service.to_string())
            .or_default()
            .insert(name.to_string());
    }

    /// Holds tailed invocations to the caps: services beyond the service cap count as
    /// [`OVERFLOW`], and so do exception names beyond [`MAX_EXCEPTION_NAMES_PER_SERVICE`].
    pub fn apply_to_invocations(&mut self, ledger: &mut InvocationLedger) {
        let taken = ledger.take();
        let mut capped = InvocationLedger::default();
        capped.dropped = taken.dropped;
        capped.malformed = taken.malformed;
        for (mut key, stats) in taken.entries {
            key.service = self.admit_service(key.service);
            capped.add_entry(key, &stats);
        }
        for ((service, name), n) in taken.exceptions {
            let service = self.admit_service(service);
            let name = self.admit_exception(&service, name);
            *capped.exceptions.entry((service, name)).or_default() += n;
        }
        for ((service, level), n) in taken.logs {
            let service = self.admit_service(service);
            *capped.logs.entry((service, level)).or_default() += n;
        }
        *ledger = capped;
    }

    /// The service's own label if it is known or there is room for it, else [`OVERFLOW`].
    fn admit_service(&mut self, service: String) -> String {
        if self.routes.contains_key(&service) || service == OVERFLOW {
            service
        } else if self.routes.len() < MAX_SERVICES {
            self.learn_service(&service);
            service
        } else {
            OVERFLOW.to_string()
        }
    }

    fn admit_exception(&mut self, service: &str, name: String) -> String {
        let names = self.exceptions.entry(service.to_string()).or_default();
        if names.contains(&name) || name == OVERFLOW {
            name
        } else if names.len() < MAX_EXCEPTION_NAMES_PER_SERVICE {
            names.insert(name.clone());
            name
        } else {
            OVERFLOW.to_string()
        }
    }

    /// Registers a stored `(service, route)`, e.g. read back from D1 when the aggregator starts.
    pub fn learn(&mut self, service: &str, route: &str) {
        self.routes
            .entry(service.to_string())
            .or_default()
            .insert(route.to_string());
    }

    /// Relabels the series a flush would add beyond the caps to [`OVERFLOW`], and returns how
    /// many series were folded per service (the service they claimed to be).
    pub fn apply(&mut self, flush: &mut Flush) -> BTreeMap<String, u64> {
        let mut folded: BTreeMap<String, u64> = BTreeMap::new();
        for (key, _) in &mut flush.series {
            if self.admit(&key.service, &key.route) {
                continue;
            }
            *folded.entry(key.service.clone()).or_default() += 1;
            if !self.routes.contains_key(&key.service) {
                key.service = OVERFLOW.to_string();
            }
            key.route = OVERFLOW.to_string();
        }
        if !folded.is_empty() {
            // Folding can merge series: keep one row per key, as a flush promises.
            let mut merged = super::metrics::Aggregator::default();
            merged.absorb(std::mem::take(flush));
            *flush = merged.take(0.0);
        }
        folded
    }

    /// Relabels query stats of services beyond the service cap to [`OVERFLOW`] (a service is
    /// admitted by its requests, which come with its queries).
    pub fn apply_to_queries(&self, queries: &mut QueryLedger) {
        let known = |service: &str| self.routes.contains_key(service);
        if queries.entries.iter().all(|((s, _), _)| known(s)) {
            return;
        }
        let mut capped = QueryLedger::default();
        for ((service, outcome), stats) in queries.take().entries {
            let service = if known(&service) {
                service
            } else {
                OVERFLOW.to_string()
            };
            capped.add((service, outcome), &stats);
        }
        *queries = capped;
    }

    /// Whether `(service, route)` is, or may become, a stored series of its own.
    fn admit(&mut self, service: &str, route: &str) -> bool {
        if route == OVERFLOW {
            return true;
        }
        let services = self.routes.len();
        match self.routes.get_mut(service) {
            Some(routes) if routes.contains(route) => true,
            Some(routes) if routes.len() < MAX_ROUTES_PER_SERVICE => {
                routes.insert(route.to_string());
                true
            }
            Some(_) => false,
            None if services < MAX_SERVICES => {
                self.learn(service, route);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::{Aggregator, Served};

    fn flush_of(requests: &[(&str, &str)]) -> Flush {
        let mut agg = Aggregator::default();
        for (service, route) in requests {
            let served = Served {
                service,
                route,
                method: "GET",
                code: 200,
                duration_ms: 1.0,
            };
            agg.record(0.0, &served);
        }
        agg.take(0.0)
    }

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
    fn routes_beyond_the_cap_are_folded_into_other_and_counted() {
        let mut cap = LabelCap::default();
        cap.learn("api", "/kept");
        let routes: Vec<String> = (0..MAX_ROUTES_PER_SERVICE + 5)
            .map(|i| format!("/r{i}"))
            .collect();
        let mut requests: Vec<(&str, &str)> = routes.iter().map(|r| ("api", r.as_str())).collect();
        requests.push(("api", "/kept"));
        requests.push(("web", "/"));
        let mut flush = flush_of(&requests);
        let folded = cap.apply(&mut flush);
        // 100 routes fit ("/kept" and 99 new ones); 6 fold.
        assert_eq!(folded, BTreeMap::from([("api".to_string(), 6)]));
        let other = flush
            .series
            .iter()
            .find(|(k, _)| k.service == "api" && k.route == OVERFLOW)
            .expect("an other series");
        assert_eq!(other.1.count, 6, "folded requests are all counted");
        let total: u64 = flush.series.iter().map(|(_, s)| s.count).sum();
        assert_eq!(total as usize, requests.len(), "no request is lost");
        assert!(flush.series.iter().any(|(k, _)| k.service == "web"));
    }

    #[test]
    fn services_beyond_the_cap_are_counted_as_other() {
        let mut cap = LabelCap::default();
        for i in 0..MAX_SERVICES {
            cap.learn(&format!("s{i}"), "/");
        }
        let mut flush = flush_of(&[("late", "/a")]);
        let folded = cap.apply(&mut flush);
        assert_eq!(folded, BTreeMap::from([("late".to_string(), 1)]));
        let (key, stats) = &flush.series[0];
        assert_eq!(
            (key.service.as_str(), key.route.as_str()),
            (OVERFLOW, OVERFLOW)
        );
        assert_eq!(stats.count, 1);
    }

    #[test]
    fn query_stats_of_unknown_services_fold_into_other() {
        use crate::telemetry::queries::{Query, QueryOutcome};
        let mut cap = LabelCap::default();
        cap.learn("notes", "/notes");
        let mut queries = QueryLedger::default();
        for service in ["notes", "ghost", "phantom"] {
            queries.record(&Query {
                service,
                outcome: QueryOutcome::Ok,
                duration_ms: 1.0,
                rows_read: 2,
                rows_written: 0,
            });
        }
        cap.apply_to_queries(&mut queries);
        let services: Vec<&str> = queries
            .entries
            .iter()
            .map(|((s, _), _)| s.as_str())
            .collect();
        assert_eq!(services, ["notes", OVERFLOW]);
        assert_eq!(queries.entries[1].1.timing.count, 2, "nothing is lost");
    }

    #[test]
    fn tailed_services_and_exception_names_are_held_to_the_caps() {
        use crate::telemetry::trace::{EventKind, Invocation, Outcome};
        let mut cap = LabelCap::default();
        for i in 0..MAX_SERVICES - 1 {
            cap.learn(&format!("s{i}"), "/");
        }
        let mut ledger = InvocationLedger::default();
        for (service, exception) in [("cron-only", "E0"), ("late", "E1")] {
            let invocation = Invocation {
                service: service.into(),
                event: EventKind::Scheduled,
                outcome: Outcome::Exception,
                cpu_ms: 1.0,
                wall_ms: 1.0,
                request: None,
                exceptions: (0..MAX_EXCEPTION_NAMES_PER_SERVICE + 2)
                    .map(|i| format!("{exception}x{i}"))
                    .collect(),
                logs: Vec::new(),
                truncated: false,
            };
            ledger.record(0.0, &invocation);
        }
        cap.apply_to_invocations(&mut ledger);
        let services: Vec<&str> = ledger.services().collect();
        assert_eq!(
            services,
            ["cron-only", OVERFLOW],
            "the last free place, then other"
        );
        let kept = ledger
            .exceptions
            .keys()
            .filter(|(s, n)| s == "cron-only" && n != OVERFLOW)
            .count();
        assert_eq!(kept, MAX_EXCEPTION_NAMES_PER_SERVICE);
        assert_eq!(ledger.exceptions[&("cron-only".into(), OVERFLOW.into())], 2);
        let total: u64 = ledger.exceptions.values().sum();
        assert_eq!(total as usize, 2 * (MAX_EXCEPTION_NAMES_PER_SERVICE + 2));
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
