//! Per-isolate request metrics: counters and latency histograms aggregated in memory and flushed
//! to D1 minute rollups (see `store`), so D1 writes grow with flushes, not with requests.
//!
//! Workers run in many short-lived isolates; counts held here mean nothing until flushed, and
//! `/metrics` renders the cluster-wide sums from D1. The aggregator is pure; the shell owns the
//! one per-isolate instance and decides when to flush.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Upper bounds, in seconds, of the latency histogram buckets (5 ms to 10 s); `+Inf` follows.
pub const BUCKET_BOUNDS_SECONDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Number of histogram buckets including `+Inf`.
pub const BUCKETS: usize = BUCKET_BOUNDS_SECONDS.len() + 1;

/// Most series an isolate holds between flushes. Route templates, a closed set of methods and
/// status codes bound the real number far below this; the cap only matters when D1 has been
/// failing for long. At the cap the oldest minute is dropped (and counted), so memory stays
/// bounded and recent data wins.
pub const MAX_SERIES: usize = 5_000;

/// One rollup row's identity: the minute and the labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The service the requests were served by (the hub itself: `SERVICE_NAME`).
    pub service: String,
    /// Epoch minute (epoch ms / 60 000).
    pub minute: i64,
    pub route: String,
    pub method: String,
    pub code: u16,
}

/// One served request, as the aggregator counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Served<'a> {
    pub service: &'a str,
    /// The route template, never the raw path.
    pub route: &'a str,
    pub method: &'a str,
    pub code: u16,
    pub duration_ms: f64,
}

/// What one series accumulated: request count, duration sum and per-bucket counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesStats {
    pub count: u64,
    pub duration_sum_seconds: f64,
    /// Non-cumulative counts per bucket; the last is `+Inf`.
    pub buckets: [u64; BUCKETS],
}

impl SeriesStats {
    /// One observation taking `duration_ms` (negative durations count as 0).
    pub fn one(duration_ms: f64) -> SeriesStats {
        let seconds = (duration_ms / 1000.0).max(0.0);
        let mut stats = SeriesStats {
            count: 1,
            duration_sum_seconds: seconds,
            ..SeriesStats::default()
        };
        stats.buckets[bucket_index(seconds)] = 1;
        stats
    }

    pub fn add(&mut self, other: &SeriesStats) {
        self.count += other.count;
        self.duration_sum_seconds += other.duration_sum_seconds;
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
    }
}

/// The index of the bucket a duration falls into.
pub fn bucket_index(duration_seconds: f64) -> usize {
    BUCKET_BOUNDS_SECONDS
        .iter()
        .position(|&bound| duration_seconds <= bound)
        .unwrap_or(BUCKETS - 1)
}

/// Request methods outside this set count as `OTHER`, keeping the label bounded.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|&m| m == method).unwrap_or("OTHER")
}

/// An isolate's unflushed request metrics.
#[derive(Debug, Default)]
pub struct Aggregator {
    series: BTreeMap<SeriesKey, SeriesStats>,
    /// When the last flush started; `None` until the first request.
    last_flush_ms: Option<f64>,
    /// Requests dropped at the series cap since the last flush.
    dropped: u64,
    /// Requests to an embedded application's health endpoints since the last flush.
    health_checks: u64,
}

impl Aggregator {
    /// Counts one request to an embedded application's health endpoints: on its own, never in
    /// the application's RED metrics and SLOs (an uptime monitor is not a user).
    pub fn record_health_check(&mut self, now_ms: f64) {
        self.last_flush_ms.get_or_insert(now_ms);
        self.health_checks += 1;
    }

    /// Counts one request.
    pub fn record(&mut self, now_ms: f64, served: &Served<'_>) {
        self.last_flush_ms.get_or_insert(now_ms);
        let stats = SeriesStats::one(served.duration_ms);
        let key = SeriesKey {
            service: served.service.to_string(),
            minute: (now_ms / 60_000.0).floor() as i64,
            route: served.route.to_string(),
            method: method_label(served.method).to_string(),
            code: served.code,
        };
        self.merge(key, &stats);
    }

    fn merge(&mut self, key: SeriesKey, stats: &SeriesStats) {
        if let Some(existing) = self.series.get_mut(&key) {
            existing.add(stats);
            return;
        }
        while self.series.len() >= MAX_SERIES {
            let Some((_, oldest)) = self.series.pop_first() else {
                break;
            };
            self.dropped += oldest.count;
        }
        self.series.insert(key, stats.clone());
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.dropped == 0 && self.health_checks == 0
    }

    /// Whether a flush is due: `interval_ms` after the last one (0 = every request).
    pub fn flush_due(&self, now_ms: f64, interval_ms: f64) -> bool {
        !(self.series.is_empty() && self.health_checks == 0)
            && self
                .last_flush_ms
                .is_none_or(|last| now_ms - last >= interval_ms)
    }

    /// Takes everything unflushed (series, and the count of requests dropped at the cap),
    /// leaving the aggregator empty, and marks the flush time.
    pub fn take(&mut self, now_ms: f64) -> Flush {
        self.last_flush_ms = Some(now_ms);
        Flush {
            series: std::mem::take(&mut self.series).into_iter().collect(),
            dropped: std::mem::take(&mut self.dropped),
            health_checks: std::mem::take(&mut self.health_checks),
        }
    }

    /// Adds a flush's counts: one that failed to be written (the next flush retries it), or a
    /// sender's batch arriving at the aggregator.
    pub fn absorb(&mut self, flush: Flush) {
        self.dropped += flush.dropped;
        self.health_checks += flush.health_checks;
        for (key, stats) in flush.series {
            self.merge(key, &stats);
        }
    }
}

/// What one flush writes.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Flush {
    pub series: Vec<(SeriesKey, SeriesStats)>,
    /// Requests dropped at [`MAX_SERIES`] since the previous flush.
    pub dropped: u64,
    /// Requests to embedded applications' health endpoints since the previous flush.
    #[serde(default)]
    pub health_checks: u64,
}

impl Flush {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.dropped == 0 && self.health_checks == 0
    }
}

/// A flush of one `GET` answered 200 in 1 ms per `(service, route)`, for other modules' tests.
#[cfg(test)]
pub(crate) fn flush_of(requests: &[(&str, &str)]) -> Flush {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn served<'a>(route: &'a str, method: &'a str, code: u16, duration_ms: f64) -> Served<'a> {
        Served {
            service: "vigil",
            route,
            method,
            code,
            duration_ms,
        }
    }

    #[test]
    fn durations_fall_into_the_first_bucket_whose_bound_they_do_not_exceed() {
        assert_eq!(bucket_index(0.0), 0);
        assert_eq!(bucket_index(0.005), 0);
        assert_eq!(bucket_index(0.0051), 1);
        assert_eq!(bucket_index(10.0), 10);
        assert_eq!(bucket_index(10.5), 11);
    }

    #[test]
    fn requests_of_one_series_in_one_minute_share_a_row() {
        let mut agg = Aggregator::default();
        agg.record(60_000.0, &served("/livez", "GET", 200, 3.0));
        agg.record(119_999.0, &served("/livez", "GET", 200, 300.0));
        agg.record(120_000.0, &served("/livez", "GET", 200, 1.0));
        agg.record(120_000.0, &served("unmatched", "BREW", 404, 1.0));
        let rows = agg.take(120_000.0).series;
        assert_eq!(rows.len(), 3);
        let (key, stats) = &rows[0];
        assert_eq!((key.minute, key.code), (1, 200));
        assert_eq!(stats.count, 2);
        assert!((stats.duration_sum_seconds - 0.303).abs() < 1e-9);
        assert_eq!(stats.buckets[0], 1);
        assert_eq!(stats.buckets[6], 1);
        assert!(rows.iter().any(|(k, _)| k.method == "OTHER"));
    }

    #[test]
    fn flush_is_due_after_the_interval_and_only_with_data() {
        let mut agg = Aggregator::default();
        assert!(!agg.flush_due(0.0, 10_000.0));
        agg.record(1_000.0, &served("/livez", "GET", 200, 1.0));
        assert!(!agg.flush_due(5_000.0, 10_000.0));
        assert!(agg.flush_due(11_000.0, 10_000.0));
        assert!(agg.flush_due(1_000.0, 0.0));
        agg.take(11_000.0);
        agg.record(12_000.0, &served("/livez", "GET", 200, 1.0));
        assert!(!agg.flush_due(12_000.0, 10_000.0));
    }

    #[test]
    fn a_failed_flush_is_restored_and_merged_with_new_counts() {
        let mut agg = Aggregator::default();
        agg.record(0.0, &served("/livez", "GET", 200, 1.0));
        let batch = agg.take(0.0);
        agg.record(1.0, &served("/livez", "GET", 200, 1.0));
        agg.absorb(batch);
        let rows = agg.take(2.0).series;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.count, 2);
    }

    #[test]
    fn health_checks_are_counted_apart_and_make_a_flush_due() {
        let mut agg = Aggregator::default();
        assert!(!agg.flush_due(0.0, 10_000.0));
        agg.record_health_check(0.0);
        agg.record_health_check(1.0);
        assert!(!agg.is_empty());
        assert!(agg.flush_due(10_000.0, 10_000.0));
        let flush = agg.take(10_000.0);
        assert_eq!((flush.series.len(), flush.health_checks), (0, 2));
        agg.absorb(flush);
        assert_eq!(agg.take(20_000.0).health_checks, 2);
        assert!(agg.is_empty());
    }

    #[test]
    fn at_the_series_cap_the_oldest_minute_is_dropped_and_counted() {
        let mut agg = Aggregator::default();
        for i in 0..MAX_SERIES {
            agg.record(0.0, &served(&format!("/r{i}"), "GET", 200, 1.0));
        }
        agg.record(60_000.0, &served("/new", "GET", 200, 1.0));
        let flush = agg.take(60_000.0);
        assert_eq!(flush.dropped, 1);
        assert_eq!(flush.series.len(), MAX_SERIES);
        assert!(flush.series.iter().any(|(k, _)| k.route == "/new"));
        assert_eq!(agg.take(60_000.0), Flush::default());
    }
}
