//! Configuration as code: `vigil.config.json` holds more than a variable's 5 KB, and a variable
//! that is set wins over its section.

use std::collections::BTreeSet;

use crate::harness::{now_ms, Options, Worker};
use crate::receiver::{Behavior, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    forty_fully_specified_probes_in_the_file_are_all_checked_in_one_run,
    a_probes_variable_wins_over_the_files_probes,
    without_the_batch_binding_the_cron_checks_every_probe_itself,
    when_the_jobs_binding_reaches_no_worker_the_cron_runs_every_stage_itself,
);

/// What Cloudflare allows one variable to hold.
const VARIABLE_LIMIT: usize = 5 * 1024;

/// A file of `count` probes of `target`, each with every field set.
fn forty_probes(target: &Receiver) -> String {
    let probes: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"name": "probe-{i:02}", "url": "{url}/p{i}", "method": "GET",
                "headers": {{"Accept": "text/plain", "X-Check": "vigil"}},
                "interval": "1m", "timeout": "5s",
                "expect": {{"status": [200, 204], "max_latency": "4s"}},
                "failure_threshold": 2, "success_threshold": 1, "public": {public}}}"#,
                url = target.url,
                public = i % 2 == 0,
            )
        })
        .collect();
    format!(r#"{{"probes": [{}]}}"#, probes.join(",\n"))
}

fn paths_checked(target: &Receiver) -> BTreeSet<String> {
    target.received().into_iter().map(|r| r.path).collect()
}

fn sections(worker: &Worker) -> serde_json::Value {
    let config = worker.admin_send("GET", "/api/config", "");
    assert_eq!(config.status, 200, "{}", config.body);
    config.json()["sections"].clone()
}

fn forty_fully_specified_probes_in_the_file_are_all_checked_in_one_run() {
    let target = Receiver::start(Behavior::Status(200));
    let file = forty_probes(&target);
    assert!(file.len() > VARIABLE_LIMIT, "{} bytes", file.len());
    let worker = Worker::start(Options {
        config_file: Some(file),
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    worker.run_cron(now_ms());
    let expected: BTreeSet<String> = (0..40).map(|i| format!("/p{i}")).collect();
    assert_eq!(paths_checked(&target), expected);
    let sections = sections(&worker);
    assert_eq!(sections["probes"]["source"], "file", "{sections}");
    assert_eq!(sections["heartbeats"]["source"], "default", "{sections}");
    let probes = worker.admin_send("GET", "/api/probes", "");
    assert_eq!(probes.json()["probes"].as_array().map(Vec::len), Some(40));
    // Five batches of eight, each an invocation of its own. The busiest invocation of the run
    // is the probes stage's, with one call per batch (the cron's own makes the aggregator
    // call and one per stage): within the Free plan's per-invocation limits.
    let used = invocation_use(&worker);
    assert_eq!(
        used,
        [
            ("d1_statements", used[0].1),
            ("subrequests", 5.0),
            ("connections", 5.0)
        ]
    );
    assert!(used[0].1 > 0.0 && used[0].1 <= 50.0, "{used:?}");
}

/// What the last cron run used of each per-invocation limit, from `/metrics`.
fn invocation_use(worker: &Worker) -> Vec<(&'static str, f64)> {
    let metrics = worker.get("/metrics");
    ["d1_statements", "subrequests", "connections"]
        .into_iter()
        .map(|resource| {
            let series =
                format!(r#"vigil_invocation_use{{operation="cron",resource="{resource}"}}"#);
            let value = metrics.sample(&series);
            (
                resource,
                value.unwrap_or_else(|| panic!("{series}:\n{}", metrics.body)),
            )
        })
        .collect()
}

fn without_the_batch_binding_the_cron_checks_every_probe_itself() {
    let target = Receiver::start(Behavior::Status(200));
    let worker = Worker::start(Options {
        config_file: Some(forty_probes(&target)),
        without_bindings: vec!["HUB_JOBS"],
        ..Options::default()
    });
    worker.run_cron(now_ms());
    assert_eq!(paths_checked(&target).len(), 40);
    let used = invocation_use(&worker);
    // 40 checks and the aggregator call: within 50, six connections at most.
    assert_eq!(used[1], ("subrequests", 41.0));
    assert_eq!(used[2], ("connections", 6.0));
}

/// A `HUB_JOBS` binding that reaches no running worker (the hub deployed under another name,
/// its binding not changed): every stage's invocation fails, so the cron runs each stage itself,
/// checks every probe, evaluates, and names each failed hand-off in its heartbeat.
fn when_the_jobs_binding_reaches_no_worker_the_cron_runs_every_stage_itself() {
    let target = Receiver::start(Behavior::Status(200));
    let worker = Worker::start(Options {
        config_file: Some(forty_probes(&target)),
        jobs_service: Some("no-such-hub"),
        ..Options::default()
    });
    worker.run_cron(now_ms());
    assert_eq!(paths_checked(&target).len(), 40);
    let evaluated =
        worker.d1("SELECT COUNT(*) AS n FROM alert_state WHERE alert_key LIKE '%probe-%'");
    assert!(evaluated[0]["n"].as_f64() >= Some(40.0), "{evaluated:?}");
    let rows = worker.d1("SELECT last_error FROM cron_heartbeat WHERE job = 'minute'");
    let error = rows[0]["last_error"].as_str().unwrap_or_default();
    for stage in ["/observe: ", "/probes: ", "/evaluate: ", "/deliver: "] {
        assert!(error.contains(stage), "{stage} not in {error}");
    }
}

fn a_probes_variable_wins_over_the_files_probes() {
    let target = Receiver::start(Behavior::Status(200));
    let only = format!(r#"[{{"name": "only", "url": "{}/only"}}]"#, target.url);
    let worker = Worker::start(Options {
        config_file: Some(forty_probes(&target)),
        vars: vec![("PROBES", only)],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    worker.run_cron(now_ms());
    assert_eq!(
        paths_checked(&target),
        BTreeSet::from(["/only".to_string()])
    );
    assert_eq!(sections(&worker)["probes"]["source"], "variable");
}
