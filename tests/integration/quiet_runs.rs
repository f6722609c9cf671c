//! Writes follow changes: a cron run in which nothing changed writes the same few rows whatever
//! the number of probes, and a probe's windows, status-page bar and uptime badge stay exact
//! although its check totals are written only when its result changes.

use serde_json::Value;

use crate::harness::{now_ms, Options, Worker};
use crate::receiver::{Behavior, Receiver};
use crate::status::{hub, MINUTE};
use crate::ADMIN_TOKEN;

crate::tests!(
    a_quiet_cron_run_writes_as_many_rows_with_forty_probes_as_with_one,
    a_probe_down_seven_of_thirty_minutes_reads_exactly_in_slos_bars_and_badges,
);

const CRON_WRITES: &str = r#"vigil_store_rows_written_total{operation="cron"}"#;
const DAY: u64 = 1440 * MINUTE;

fn probes_hub(target: &Receiver, probes: usize) -> Worker {
    let specs: Vec<String> = (0..probes)
        .map(|i| {
            format!(
                r#"{{"name": "p{i}", "url": "{}/p{i}", "timeout": "2s"}}"#,
                target.url
            )
        })
        .collect();
    Worker::start(Options {
        vars: vec![("PROBES", format!("[{}]", specs.join(", ")))],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    })
}

/// Rows written by each of `runs` cron runs a minute apart from `t0` (a run's cost is recorded
/// by the next run's flush).
fn rows_written_per_run(worker: &Worker, t0: u64, runs: u64) -> Vec<f64> {
    let mut totals = Vec::new();
    for i in 0..=runs {
        worker.run_cron(t0 + i * MINUTE);
        totals.push(worker.get("/metrics").sample(CRON_WRITES).unwrap_or(0.0));
    }
    totals.windows(2).map(|w| w[1] - w[0]).collect()
}

fn a_quiet_cron_run_writes_as_many_rows_with_forty_probes_as_with_one() {
    let target = Receiver::start(Behavior::Status(200));
    let t0 = now_ms() - 20 * MINUTE;
    let mut quiet = Vec::new();
    for probes in [1, 40] {
        let worker = probes_hub(&target, probes);
        let per_run = rows_written_per_run(&worker, t0, 6);
        // The first runs create the probes' states, alert instances and ledger rows; the
        // last runs change nothing. (Run k's figure is the cost of run k − 1.)
        quiet.push(per_run[5]);
        assert!(
            per_run[5] <= 30.0,
            "{probes} probes: a quiet run wrote {} rows: {per_run:?}",
            per_run[5]
        );
        let ledger = worker.d1("SELECT count(*) AS n FROM probe_cumulative");
        assert_eq!(
            ledger[0]["n"].as_u64(),
            Some(probes as u64),
            "one ledger row per steady probe: {ledger:?}"
        );
    }
    assert!(
        quiet[1] <= quiet[0] * 1.2,
        "a quiet run wrote {} rows with 1 probe and {} with 40",
        quiet[0],
        quiet[1]
    );
}

/// The one bar of `name` in `/status.json` that has an availability.
fn the_only_bar(status: &Value, name: &str) -> f64 {
    let components = status["components"].as_array().cloned().unwrap_or_default();
    let component = components
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {status}"));
    let days = component["days"].as_array().cloned().unwrap_or_default();
    let measured: Vec<f64> = days
        .iter()
        .filter_map(|d| d["availability"].as_f64())
        .collect();
    assert_eq!(measured.len(), 1, "one day with checks: {component}");
    measured[0]
}

fn a_probe_down_seven_of_thirty_minutes_reads_exactly_in_slos_bars_and_badges() {
    let target = Receiver::start(Behavior::Status(200));
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(
        &[("www", format!("{}/health", target.url))],
        &receiver,
        vec![],
    );
    // Thirty runs within yesterday's last hour, the target down for runs 10 to 16.
    let t0 = now_ms() / DAY * DAY - 40 * MINUTE;
    for i in 0..30 {
        let answer = if (10..17).contains(&i) { 503 } else { 200 };
        target.set_path("/health", Behavior::Status(answer));
        hub.run_cron(t0 + i * MINUTE);
    }
    let good = 23.0 / 30.0;
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;

    let slos = hub.admin_send("GET", "/api/slos", "").json();
    let report = slos["slos"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["probe"] == "www").cloned())
        .unwrap_or_else(|| panic!("no SLO of www: {slos}"));
    let sli = report["sli30d"].as_f64().unwrap_or(f64::NAN);
    assert!(close(sli, good), "SLI {sli}: {report}");
    let rates = report["burnRates"].as_array().cloned().unwrap_or_default();
    let hour = rates
        .iter()
        .find(|r| r[0] == "1h")
        .and_then(|r| r[1].as_f64());
    let expected = (7.0 / 30.0) / (1.0 - report["objective"].as_f64().unwrap_or(0.999));
    assert!(
        hour.is_some_and(|h| (h - expected).abs() < 1e-6),
        "1h burn {hour:?}, expected {expected}: {report}"
    );
    let five = rates
        .iter()
        .find(|r| r[0] == "5m")
        .and_then(|r| r[1].as_f64());
    assert_eq!(five, Some(0.0), "the last five checks passed: {report}");

    let bar = the_only_bar(&hub.get("/status.json").json(), "www");
    assert!(close(bar, good), "bar {bar}");
    let badge = hub.get("/badge/www.json?type=uptime").json();
    assert_eq!(badge["message"], "76.66%", "{badge}");

    let rows = hub.d1("SELECT count(*) AS n FROM probe_cumulative WHERE probe = 'www'");
    assert_eq!(
        rows[0]["n"].as_u64(),
        Some(3),
        "a row per change of result: {rows:?}"
    );
}
