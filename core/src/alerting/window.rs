//! Request windows: the counts a rule or SLO reads over the last N minutes, and the latency
//! quantile of a window's histogram.

use std::collections::BTreeMap;

use crate::telemetry::invocations::InvocationLedger;
use crate::telemetry::metrics::{Flush, BUCKETS, BUCKET_BOUNDS_SECONDS};
use crate::telemetry::trace::Outcome;
use crate::time::format_duration;

/// Request counts over one window, summed from minute rollups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    pub requests: u64,
    /// Responses with a 5xx status.
    pub errors: u64,
    /// Non-cumulative per-bucket counts; the last is `+Inf`.
    pub buckets: [u64; BUCKETS],
    /// Cron self-probes in the window, and how many of them failed.
    pub probes: u64,
    pub probes_failed: u64,
    /// Tailed invocations, and how many of them crashed (exception, exceeded CPU or memory).
    pub invocations: u64,
    pub invocations_crashed: u64,
    /// Tailed invocations not counted in `requests` (no fetch, or no response), and failed
    /// invocations not counted in `errors` (a non-`ok` outcome without a 5xx response): what
    /// availability adds to requests so that each invocation counts once.
    pub other_events: u64,
    pub other_failures: u64,
}

impl WindowStats {
    /// The counts between two running totals (`self` at the end of a window, `start` just
    /// before it). Running totals only grow, so a negative difference can only come from a
    /// damaged row; it reads as zero rather than wrapping.
    pub fn since(&self, start: &WindowStats) -> WindowStats {
        let mut buckets = [0; BUCKETS];
        for (i, b) in buckets.iter_mut().enumerate() {
            *b = self.buckets[i].saturating_sub(start.buckets[i]);
        }
        WindowStats {
            requests: self.requests.saturating_sub(start.requests),
            errors: self.errors.saturating_sub(start.errors),
            buckets,
            probes: self.probes.saturating_sub(start.probes),
            probes_failed: self.probes_failed.saturating_sub(start.probes_failed),
            invocations: self.invocations.saturating_sub(start.invocations),
            invocations_crashed: self
                .invocations_crashed
                .saturating_sub(start.invocations_crashed),
            other_events: self.other_events.saturating_sub(start.other_events),
            other_failures: self.other_failures.saturating_sub(start.other_failures),
        }
    }
}

/// What a flush and tailed invocations add to each service's running totals, per
/// `(service, epoch minute)`.
pub fn minute_deltas<'a>(
    flush: &'a Flush,
    invocations: &'a InvocationLedger,
) -> BTreeMap<(&'a str, i64), WindowStats> {
    let mut deltas: BTreeMap<(&str, i64), WindowStats> = BTreeMap::new();
    for (key, stats) in &flush.series {
        let delta = deltas
            .entry((key.service.as_str(), key.minute))
            .or_default();
        delta.requests += stats.count;
        if key.code >= 500 {
            delta.errors += stats.count;
        }
        for (total, add) in delta.buckets.iter_mut().zip(stats.buckets) {
            *total += add;
        }
    }
    for (key, stats) in &invocations.entries {
        let delta = deltas
            .entry((key.service.as_str(), key.minute))
            .or_default();
        let count = stats.count();
        delta.invocations += count;
        if key.outcome.crashed() {
            delta.invocations_crashed += count;
        }
        // Answered fetches are already in `requests`, their 5xx in `errors`.
        delta.other_events += count.saturating_sub(stats.responses);
        if key.outcome != Outcome::Ok {
            delta.other_failures += count.saturating_sub(stats.server_errors);
        }
    }
    deltas
}

/// Window statistics keyed by window length in milliseconds.
pub type Windows = BTreeMap<u64, WindowStats>;

/// The stats of one window, or an error naming it; a missing window is a caller bug, not "no
/// traffic", so it must not read as zero.
pub fn window(windows: &Windows, window_ms: u64) -> Result<&WindowStats, String> {
    windows.get(&window_ms).ok_or_else(|| {
        format!(
            "no request stats loaded for the {} window",
            format_duration(window_ms)
        )
    })
}

/// The `q` quantile (seconds) of a latency histogram, like PromQL's `histogram_quantile`:
/// linear interpolation inside the bucket holding the rank, 0 as the first bucket's lower bound,
/// and the highest finite bound when the rank falls in `+Inf`. `None` for an empty histogram or
/// a `q` outside [0, 1].
pub fn histogram_quantile(q: f64, buckets: &[u64; BUCKETS]) -> Option<f64> {
    // f64 sums: u64 could overflow on corrupt counts, and ranks are fractional anyway.
    let total: f64 = buckets.iter().map(|&c| c as f64).sum();
    if total == 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let mut below = 0.0;
    for (i, &count) in buckets.iter().enumerate() {
        let count = count as f64;
        // Skipping empty buckets keeps q = 0 from interpolating inside a bucket with no samples.
        if count > 0.0 && below + count >= rank {
            let Some(&upper) = BUCKET_BOUNDS_SECONDS.get(i) else {
                return BUCKET_BOUNDS_SECONDS.last().copied();
            };
            let lower = if i == 0 {
                0.0
            } else {
                BUCKET_BOUNDS_SECONDS[i - 1]
            };
            return Some(lower + (upper - lower) * (rank - below) / count);
        }
        below += count;
    }
    BUCKET_BOUNDS_SECONDS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        let mut buckets = [0; BUCKETS];
        buckets[0] = 50; // (0, 5ms]
        buckets[5] = 50; // (0.1, 0.25]
        assert_eq!(histogram_quantile(0.5, &buckets), Some(0.005));
        let p75 = histogram_quantile(0.75, &buckets).unwrap_or_default();
        assert!((p75 - 0.175).abs() < 1e-12, "{p75}");
        assert_eq!(histogram_quantile(1.0, &buckets), Some(0.25));
        assert_eq!(histogram_quantile(0.25, &buckets), Some(0.0025));
    }

    #[test]
    fn histogram_quantile_in_inf_bucket_returns_highest_bound() {
        let mut buckets = [0; BUCKETS];
        buckets[BUCKETS - 1] = 10;
        assert_eq!(histogram_quantile(0.5, &buckets), Some(10.0));
    }

    #[test]
    fn histogram_quantile_of_nothing_is_none() {
        assert_eq!(histogram_quantile(0.5, &[0; BUCKETS]), None);
        assert_eq!(histogram_quantile(f64::NAN, &[1; BUCKETS]), None);
        assert_eq!(histogram_quantile(1.5, &[1; BUCKETS]), None);
        let mut buckets = [0; BUCKETS];
        buckets[3] = 4;
        assert_eq!(histogram_quantile(0.0, &buckets), Some(0.025));
        assert!(histogram_quantile(0.9, &[u64::MAX; BUCKETS]).is_some());
    }

    #[test]
    fn a_window_is_the_difference_of_two_running_totals() {
        let at = |requests, errors, probes| WindowStats {
            requests,
            errors,
            probes,
            buckets: [requests; BUCKETS],
            ..WindowStats::default()
        };
        let window = at(1_000, 10, 60).since(&at(400, 4, 30));
        assert_eq!(
            (window.requests, window.errors, window.probes),
            (600, 6, 30)
        );
        assert_eq!(window.buckets, [600; BUCKETS]);
        assert_eq!(at(1, 0, 0).since(&at(5, 0, 0)).requests, 0, "never wraps");
    }

    #[test]
    fn a_flush_adds_requests_errors_and_buckets_per_minute() {
        use crate::telemetry::metrics::{SeriesKey, SeriesStats};
        let series = |minute, code, count| {
            let key = SeriesKey {
                service: "api".into(),
                minute,
                route: "/r".into(),
                method: "GET".into(),
                code,
            };
            let mut stats = SeriesStats {
                count,
                ..SeriesStats::default()
            };
            stats.buckets[1] = count;
            (key, stats)
        };
        let flush = Flush {
            series: vec![series(7, 200, 5), series(7, 503, 2), series(8, 200, 1)],
            ..Flush::default()
        };
        let none = InvocationLedger::default();
        let deltas = minute_deltas(&flush, &none);
        let at = |minute| &deltas[&("api", minute)];
        assert_eq!((at(7).requests, at(7).errors), (7, 2));
        assert_eq!(at(7).buckets[1], 7);
        assert_eq!((at(8).requests, at(8).errors), (1, 0));
    }

    #[test]
    fn each_tailed_invocation_counts_once_for_availability() {
        use crate::telemetry::trace::{EventKind, Invocation, RequestSeen};
        let fetch = |outcome, code: Option<u16>| Invocation {
            service: "api".into(),
            event: EventKind::Fetch,
            outcome,
            cpu_ms: 1.0,
            wall_ms: 1.0,
            request: code.map(|code| RequestSeen {
                route: "/".into(),
                method: "GET".into(),
                code,
            }),
            exceptions: Vec::new(),
            logs: Vec::new(),
            truncated: false,
        };
        let mut ledger = InvocationLedger::default();
        // Served 200, served 503, threw before answering, threw after a 200, cron crashed.
        ledger.record(0.0, &fetch(Outcome::Ok, Some(200)));
        ledger.record(0.0, &fetch(Outcome::Ok, Some(503)));
        ledger.record(0.0, &fetch(Outcome::Exception, None));
        ledger.record(0.0, &fetch(Outcome::Exception, Some(200)));
        let mut cron = fetch(Outcome::ExceededCpu, None);
        cron.event = EventKind::Scheduled;
        ledger.record(0.0, &cron);
        let no_requests = Flush::default();
        let deltas = minute_deltas(&no_requests, &ledger);
        let delta = &deltas[&("api", 0)];
        assert_eq!((delta.invocations, delta.invocations_crashed), (5, 3));
        // Three invocations were answered (and so are requests): two are other events.
        assert_eq!(delta.other_events, 2);
        // Non-ok without a 5xx: the two exceptions and the cron; the 503 is an error already.
        assert_eq!(delta.other_failures, 3);
    }

    #[test]
    fn a_missing_window_is_an_error_naming_it() {
        let err = window(&Windows::new(), 5 * crate::time::MINUTE_MS).unwrap_err();
        assert!(err.contains("5m window"), "{err}");
    }
}
