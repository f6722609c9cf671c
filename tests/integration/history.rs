//! Alert windows read as differences of running totals: the cost of a cron run does not grow
//! with history, and the upgrade from minute rollups keeps what was counted.

use crate::harness::{now_ms, project_dir, Options, Worker};

crate::tests!(
    a_cron_run_reads_a_few_dozen_rows_with_thirty_days_of_history,
    housekeeping_reads_what_it_deletes_not_the_history_it_keeps,
    the_upgrade_turns_minute_rollups_into_running_totals,
);

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY_MINUTES: u64 = 1440;
const CRON_READS: &str = r#"vigil_store_rows_read_total{operation="cron"}"#;
const HOUSEKEEPING_READS: &str = r#"vigil_store_rows_read_total{operation="housekeeping"}"#;

fn a_cron_run_reads_a_few_dozen_rows_with_thirty_days_of_history() {
    let worker = Worker::start(Options::default());
    let t0 = now_ms() - 10 * MINUTE;
    let minutes = 30 * 24 * 60;
    worker.d1(&format!(
        "WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < {minutes})
         INSERT INTO service_cumulative (service, minute, requests, errors, b0, probes)
         SELECT 'vigil', {start} + x, x * 100, x, x * 100, x FROM m",
        start = t0 / MINUTE - 1 - minutes
    ));
    let mut reads = Vec::new();
    for i in 0..4 {
        worker.run_cron(t0 + i * MINUTE);
        reads.push(worker.get("/metrics").sample(CRON_READS).unwrap_or(0.0));
    }
    // Run k's cost is recorded by run k + 1's flush.
    let per_run: Vec<f64> = reads.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    for rows in &per_run {
        assert!(
            (1.0..=200.0).contains(rows),
            "a cron run read {rows} rows over 30 days of history: {per_run:?}"
        );
    }

    // The SLO report sees the 30 days: 1% of requests failed.
    let slos = worker.get("/metrics");
    let budget = slos
        .sample(r#"vigil_slo_error_budget_remaining_ratio{slo="availability",service="vigil"}"#);
    assert!(
        budget.is_some_and(|b| b < 0.0),
        "1% errors overspend a 99.9% objective: {budget:?}"
    );
}

/// Adds one `probe_cumulative` row per minute of `minutes` for `probe`.
fn seed_probe_minutes(worker: &Worker, probe: &str, minutes: std::ops::Range<u64>) {
    worker.d1(&format!(
        "WITH RECURSIVE m(x) AS (SELECT {start} UNION ALL SELECT x + 1 FROM m WHERE x < {last})
         INSERT INTO probe_cumulative (probe, minute, probes, probes_failed)
         SELECT '{probe}', x, x, 0 FROM m",
        start = minutes.start,
        last = minutes.end - 1,
    ));
}

/// Runs housekeeping (the cron at minute 0 of an hour) and returns the rows it read, recorded
/// by the run a minute later.
fn housekeeping_reads(worker: &Worker, hour_ms: u64) -> f64 {
    let before = worker.get("/metrics").sample(HOUSEKEEPING_READS);
    worker.run_cron(hour_ms);
    worker.run_cron(hour_ms + MINUTE);
    let after = worker.get("/metrics").sample(HOUSEKEEPING_READS);
    after.unwrap_or(0.0) - before.unwrap_or(0.0)
}

fn housekeeping_reads_what_it_deletes_not_the_history_it_keeps() {
    let worker = Worker::start(Options {
        vars: vec![("METRICS_FLUSH_SECONDS", "0".into())],
        ..Options::default()
    });
    // Every run is in the past, on hour boundaries (housekeeping runs at minute 0).
    let first = (now_ms() / HOUR - 3) * HOUR;
    let first_minute = first / MINUTE;
    seed_probe_minutes(&worker, "api", first_minute - DAY_MINUTES..first_minute);
    let one_day = housekeeping_reads(&worker, first);
    seed_probe_minutes(
        &worker,
        "api",
        first_minute - 30 * DAY_MINUTES..first_minute - DAY_MINUTES,
    );
    let thirty_days = housekeeping_reads(&worker, first + HOUR);
    assert!(
        one_day > 0.0 && thirty_days <= one_day * 1.1,
        "housekeeping read {one_day} rows at 1 day of history, {thirty_days} at 30 days"
    );

    // Rows around both retention bounds: minute rows across the 35-day cutoff, and a few
    // daily rows before the 90 days the status page keeps.
    let at = first + 2 * HOUR;
    let cutoff = (at - 35 * DAY_MINUTES * MINUTE) / MINUTE;
    let daily_from = (at / (DAY_MINUTES * MINUTE) - 90) * DAY_MINUTES;
    seed_probe_minutes(
        &worker,
        "edge",
        cutoff - 2 * DAY_MINUTES..cutoff + DAY_MINUTES,
    );
    let old_days = [
        daily_from - 3 * DAY_MINUTES + 5,
        daily_from - 2 * DAY_MINUTES,
        daily_from - 100,
    ];
    for minute in old_days {
        worker.d1(&format!(
            "INSERT INTO probe_cumulative (probe, minute, probes, probes_failed)
             VALUES ('edge', {minute}, 1, 0)"
        ));
    }
    let seeded: Vec<u64> = old_days
        .into_iter()
        .chain(cutoff - 2 * DAY_MINUTES..cutoff + DAY_MINUTES)
        .collect();
    worker.run_cron(at);
    // A row before the cutoff stays only if no later row of its own day (of the days before
    // `daily_from`, taken as one) makes it redundant.
    let mut expected: Vec<u64> = seeded
        .iter()
        .copied()
        .filter(|&m| {
            let day_end = daily_from.max((m / DAY_MINUTES + 1) * DAY_MINUTES);
            m >= cutoff || !seeded.iter().any(|&later| later > m && later < day_end)
        })
        .collect();
    expected.sort_unstable();
    let kept: Vec<u64> = worker
        .d1("SELECT minute FROM probe_cumulative WHERE probe = 'edge' ORDER BY minute")
        .iter()
        .filter_map(|r| r["minute"].as_u64())
        .collect();
    assert_eq!(kept.len(), expected.len(), "kept {kept:?}");
    assert_eq!(kept, expected);
    assert_eq!(
        kept.iter().filter(|&&m| m >= cutoff).count() as u64,
        DAY_MINUTES,
        "nothing younger than the retention is deleted"
    );
}

fn the_upgrade_turns_minute_rollups_into_running_totals() {
    let worker = Worker::start(Options {
        unmigrated: true,
        ..Options::default()
    });
    let migrations = project_dir().join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&migrations)
        .expect("migrations folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let (before, upgrade): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n < "0006"));
    for file in &before {
        worker.d1_file(file);
    }
    worker.d1(
        "INSERT INTO request_rollups (minute, route, method, code, count, duration_sum, b0, b11)
         VALUES (100, '/a', 'GET', 200, 5, 0.1, 5, 0), (100, '/a', 'GET', 503, 2, 0.1, 0, 2),
                (102, '/b', 'GET', 200, 3, 0.1, 3, 0);
         INSERT INTO probe_rollups (minute, probes, failed) VALUES (101, 1, 1), (102, 1, 0);",
    );
    worker.d1_file(&upgrade[0]);
    let rows = worker.d1(
        "SELECT minute, requests, errors, b0, b11, probes, probes_failed
         FROM service_cumulative WHERE service = 'vigil' ORDER BY minute",
    );
    let got: Vec<[u64; 7]> = rows
        .iter()
        .map(|r| {
            [
                "minute",
                "requests",
                "errors",
                "b0",
                "b11",
                "probes",
                "probes_failed",
            ]
            .map(|c| r[c].as_u64().unwrap_or(u64::MAX))
        })
        .collect();
    assert_eq!(
        got,
        [
            [100, 7, 2, 5, 2, 0, 0],
            [101, 7, 2, 5, 2, 1, 1],
            [102, 10, 2, 8, 2, 2, 1]
        ]
    );
    let gone = worker.d1("SELECT name FROM sqlite_master WHERE name = 'request_rollups'");
    assert!(gone.is_empty(), "the rollups are replaced: {gone:?}");
}
