//! Tail-fed invocation counts: per `(service, minute, event, outcome)` the invocations with
//! their CPU and wall time histograms, plus exceptions by name and log lines by level. A tail
//! handler's isolate sums them here between flushes; the batch carries them to the aggregator,
//! which adds them to running totals (`vigil_worker_*`) and to each service's minute windows.
//!
//! Fetch invocations that answered also count as HTTP requests, through the request
//! aggregator; [`InvocationStats`] remembers how many did (and how many with 5xx), so the
//! availability SLO counts each invocation exactly once (see `alerting::window`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ingest::OVERFLOW;
use super::metrics::{SeriesStats, MAX_SERIES};
use super::trace::{EventKind, Invocation, LogLevel, Outcome};

/// Exception and log entries an isolate holds; further names count as `other`.
pub const MAX_NAMED_ENTRIES: usize = 1_000;

/// One invocation row's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InvocationKey {
    pub service: String,
    /// Epoch minute (epoch ms / 60 000).
    pub minute: i64,
    pub event: EventKind,
    pub outcome: Outcome,
}

/// What one invocation row accumulated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationStats {
    /// Invocations and their CPU time (the count is the invocation count).
    pub cpu: SeriesStats,
    pub wall: SeriesStats,
    /// Of them, fetch invocations that answered, and so also counted as HTTP requests.
    pub responses: u64,
    /// Of those, answered with a 5xx status.
    pub server_errors: u64,
}

impl InvocationStats {
    pub fn count(&self) -> u64 {
        self.cpu.count
    }

    fn add(&mut self, other: &InvocationStats) {
        self.cpu.add(&other.cpu);
        self.wall.add(&other.wall);
        self.responses += other.responses;
        self.server_errors += other.server_errors;
    }
}

/// Unflushed invocation counts of one isolate, or pending at the aggregator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "LedgerWire", into = "LedgerWire")]
pub struct InvocationLedger {
    pub entries: BTreeMap<InvocationKey, InvocationStats>,
    pub exceptions: BTreeMap<(String, String), u64>,
    pub logs: BTreeMap<(String, LogLevel), u64>,
    /// Invocations not counted because the isolate held [`MAX_SERIES`] rows.
    pub dropped: u64,
    /// Elements of tail batches that were not trace items.
    pub malformed: u64,
    /// When the oldest unflushed count was recorded.
    first_ms: Option<f64>,
}

impl InvocationLedger {
    /// Counts one invocation, mapped from a trace item, in the minute of `now_ms`.
    pub fn record(&mut self, now_ms: f64, invocation: &Invocation) {
        self.first_ms.get_or_insert(now_ms);
        let key = InvocationKey {
            service: invocation.service.clone(),
            minute: (now_ms / 60_000.0).floor() as i64,
            event: invocation.event,
            outcome: invocation.outcome,
        };
        let responded = invocation.request.as_ref();
        let stats = InvocationStats {
            cpu: SeriesStats::one(invocation.cpu_ms),
            wall: SeriesStats::one(invocation.wall_ms),
            responses: u64::from(responded.is_some()),
            server_errors: u64::from(responded.is_some_and(|r| r.code >= 500)),
        };
        self.add_entry(key, &stats);
        for name in &invocation.exceptions {
            let key = (invocation.service.clone(), name.clone());
            count_named(&mut self.exceptions, key, OVERFLOW.to_string(), 1);
        }
        for &(level, lines) in &invocation.logs {
            let key = (invocation.service.clone(), level);
            count_named(&mut self.logs, key, LogLevel::Unknown, lines);
        }
    }

    /// Adds `stats` to the row of `key` (a new row only while under [`MAX_SERIES`]).
    pub fn add_entry(&mut self, key: InvocationKey, stats: &InvocationStats) {
        if let Some(existing) = self.entries.get_mut(&key) {
            existing.add(stats);
        } else if self.entries.len() < MAX_SERIES {
            self.entries.insert(key, stats.clone());
        } else {
            self.dropped += stats.count();
        }
    }

    /// Adds another ledger: a failed flush put back, or a sender's batch at the aggregator.
    pub fn absorb(&mut self, other: InvocationLedger) {
        self.dropped += other.dropped;
        self.malformed += other.malformed;
        self.add_all(other.entries, other.exceptions, other.logs);
        if let Some(first) = other.first_ms {
            self.first_ms = Some(self.first_ms.map_or(first, |mine| mine.min(first)));
        }
    }

    /// Adds rows, exception counts and log-line counts, each held to its cap.
    fn add_all(
        &mut self,
        entries: impl IntoIterator<Item = (InvocationKey, InvocationStats)>,
        exceptions: impl IntoIterator<Item = ((String, String), u64)>,
        logs: impl IntoIterator<Item = ((String, LogLevel), u64)>,
    ) {
        for (key, stats) in entries {
            self.add_entry(key, &stats);
        }
        for (key, n) in exceptions {
            count_named(&mut self.exceptions, key, OVERFLOW.to_string(), n);
        }
        for (key, n) in logs {
            count_named(&mut self.logs, key, LogLevel::Unknown, n);
        }
    }

    /// Takes everything, leaving the ledger empty.
    pub fn take(&mut self) -> InvocationLedger {
        std::mem::take(self)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.dropped == 0 && self.malformed == 0
    }

    /// Whether a flush is due: `interval_ms` after the oldest unflushed count.
    pub fn flush_due(&self, now_ms: f64, interval_ms: f64) -> bool {
        self.first_ms
            .is_some_and(|first| now_ms - first >= interval_ms)
    }

    /// Every service the ledger counts under.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|k| k.service.as_str())
    }
}

/// Adds `n` to `key`; at [`MAX_NAMED_ENTRIES`] a new name counts under `other` instead.
fn count_named<N: Ord + Clone>(
    map: &mut BTreeMap<(String, N), u64>,
    key: (String, N),
    other: N,
    n: u64,
) {
    let key = if map.len() < MAX_NAMED_ENTRIES || map.contains_key(&key) {
        key
    } else {
        (key.0, other)
    };
    *map.entry(key).or_default() += n;
}

/// The ledger as JSON carries it: maps with compound keys as lists of pairs.
#[derive(Serialize, Deserialize)]
struct LedgerWire {
    entries: Vec<(InvocationKey, InvocationStats)>,
    exceptions: Vec<((String, String), u64)>,
    logs: Vec<((String, LogLevel), u64)>,
    dropped: u64,
    malformed: u64,
}

impl From<LedgerWire> for InvocationLedger {
    fn from(wire: LedgerWire) -> InvocationLedger {
        let mut ledger = InvocationLedger {
            dropped: wire.dropped,
            malformed: wire.malformed,
            ..InvocationLedger::default()
        };
        ledger.add_all(wire.entries, wire.exceptions, wire.logs);
        ledger
    }
}

impl From<InvocationLedger> for LedgerWire {
    fn from(ledger: InvocationLedger) -> LedgerWire {
        LedgerWire {
            entries: ledger.entries.into_iter().collect(),
            exceptions: ledger.exceptions.into_iter().collect(),
            logs: ledger.logs.into_iter().collect(),
            dropped: ledger.dropped,
            malformed: ledger.malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::trace::RequestSeen;

    fn invocation(outcome: Outcome, code: Option<u16>) -> Invocation {
        Invocation {
            service: "api".into(),
            event: EventKind::Fetch,
            outcome,
            cpu_ms: 2.0,
            wall_ms: 30.0,
            request: code.map(|code| RequestSeen {
                route: "/".into(),
                method: "GET".into(),
                code,
            }),
            exceptions: vec!["TypeError".into()],
            logs: vec![(LogLevel::Log, 2)],
            truncated: false,
        }
    }

    #[test]
    fn invocations_sum_per_minute_event_and_outcome_with_times_and_names() {
        let mut ledger = InvocationLedger::default();
        ledger.record(60_000.0, &invocation(Outcome::Ok, Some(200)));
        ledger.record(61_000.0, &invocation(Outcome::Ok, Some(503)));
        ledger.record(62_000.0, &invocation(Outcome::Exception, None));
        ledger.record(120_000.0, &invocation(Outcome::Ok, Some(200)));
        let ok = &ledger.entries[&InvocationKey {
            service: "api".into(),
            minute: 1,
            event: EventKind::Fetch,
            outcome: Outcome::Ok,
        }];
        assert_eq!((ok.count(), ok.responses, ok.server_errors), (2, 2, 1));
        assert_eq!(ok.cpu.buckets[0], 2, "2 ms in the first bucket");
        assert_eq!(ok.wall.buckets[3], 2, "30 ms in the 50 ms bucket");
        assert_eq!(ledger.entries.len(), 3);
        assert_eq!(ledger.exceptions[&("api".into(), "TypeError".into())], 4);
        assert_eq!(ledger.logs[&("api".into(), LogLevel::Log)], 8);
    }

    #[test]
    fn a_ledger_round_trips_through_json_and_merges() {
        let mut ledger = InvocationLedger::default();
        ledger.record(0.0, &invocation(Outcome::ExceededCpu, None));
        let json = serde_json::to_string(&ledger).expect("serializes");
        let mut back: InvocationLedger = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back.entries, ledger.entries);
        assert_eq!(back.exceptions, ledger.exceptions);
        back.absorb(ledger.take());
        assert!(ledger.is_empty());
        assert_eq!(back.entries.values().next().map(|s| s.count()), Some(2));
    }

    #[test]
    fn flush_is_due_an_interval_after_the_oldest_count() {
        let mut ledger = InvocationLedger::default();
        assert!(!ledger.flush_due(1e9, 10_000.0));
        ledger.record(1_000.0, &invocation(Outcome::Ok, Some(200)));
        assert!(!ledger.flush_due(5_000.0, 10_000.0));
        assert!(ledger.flush_due(11_000.0, 10_000.0));
        ledger.take();
        assert!(!ledger.flush_due(1e9, 10_000.0));
    }

    #[test]
    fn rows_and_names_are_bounded() {
        let mut ledger = InvocationLedger::default();
        for minute in 0..MAX_SERIES as i64 + 3 {
            ledger.record(minute as f64 * 60_000.0, &invocation(Outcome::Ok, None));
        }
        assert_eq!(ledger.entries.len(), MAX_SERIES);
        assert_eq!(ledger.dropped, 3, "counted, not silently lost");
        let mut names = InvocationLedger::default();
        for i in 0..MAX_NAMED_ENTRIES + 5 {
            let mut inv = invocation(Outcome::Exception, None);
            inv.exceptions = vec![format!("E{i}")];
            names.record(0.0, &inv);
        }
        assert_eq!(names.exceptions.len(), MAX_NAMED_ENTRIES + 1);
        assert_eq!(names.exceptions[&("api".into(), OVERFLOW.into())], 5);
    }
}
