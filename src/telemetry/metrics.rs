//! Per-isolate request metrics: counters and latency histograms aggregated in memory and flushed
//! to D1 minute rollups (see `store`), so D1 writes grow with flushes, not with requests.

/// Upper bounds, in seconds, of the latency histogram buckets (5 ms to 10 s); `+Inf` follows.
pub const BUCKET_BOUNDS_SECONDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Number of histogram buckets including `+Inf`.
pub const BUCKETS: usize = BUCKET_BOUNDS_SECONDS.len() + 1;
