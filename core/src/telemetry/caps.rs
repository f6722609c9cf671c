//! The per-service caps on labels: what the aggregator holds a batch to before writing it, so
//! cardinality stays bounded whatever senders claim. Series of routes beyond the route cap, and
//! of services beyond the service cap, are counted under [`OVERFLOW`]; so are exception names
//! beyond the per-service name cap.

use std::collections::{BTreeMap, BTreeSet};

use super::ingest::{
    MAX_EXCEPTION_NAMES_PER_SERVICE, MAX_ROUTES_PER_SERVICE, MAX_SERVICES, OVERFLOW,
};
use super::invocations::InvocationLedger;
use super::metrics::Flush;
use super::queries::QueryLedger;

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
    use crate::telemetry::metrics::flush_of;

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
}
