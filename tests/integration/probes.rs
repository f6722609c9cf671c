//! Synthetic probes and heartbeat monitors against real loopback targets, with the cron's
//! clock driven through the scheduled handler.

use serde_json::Value;

use crate::harness::{now_ms, promtool_check, Options, Reply, Worker};
use crate::notifications::only;
use crate::receiver::{Behavior, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    a_probe_goes_up_down_degraded_up_and_pages_once_per_transition,
    hostile_targets_fail_within_their_timeout_and_the_cron_finishes,
    probes_beyond_the_subrequest_budget_wait_for_the_next_run,
    a_silent_heartbeat_fires_after_period_and_grace_and_a_ping_resolves_it,
);

const MINUTE: u64 = 60_000;
const HEARTBEAT_TOKEN: &str = "it-heartbeat-token";

fn hub(probes: String, rules: String, mut secrets: Vec<(&'static str, String)>) -> Worker {
    secrets.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    secrets.push(("HEARTBEAT_TOKEN", HEARTBEAT_TOKEN.into()));
    Worker::start(Options {
        vars: vec![
            ("PROBES", probes),
            ("ALERT_RULES", rules),
            (
                "HEARTBEATS",
                r#"[{"name": "backup", "period": "1m", "grace": "30s"}]"#.into(),
            ),
        ],
        secrets,
        ..Options::default()
    })
}

fn admin(worker: &Worker, path: &str) -> Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    worker
        .request("GET", path, &[("Authorization", &auth)])
        .json()
}

/// `/api/probes`'s entry for `name`.
fn probe(worker: &Worker, name: &str) -> Value {
    let all = admin(worker, "/api/probes");
    all["probes"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no probe {name}: {all}"))
}

fn metrics(worker: &Worker) -> Reply {
    let reply = worker.get("/metrics");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

fn a_probe_goes_up_down_degraded_up_and_pages_once_per_transition() {
    let target = Receiver::start(Behavior::Status(200));
    let receiver = Receiver::start(Behavior::Status(200));
    let probes = format!(
        r#"[{{"name": "www", "url": "{}/health", "timeout": "2s", "failure_threshold": 2,
             "expect": {{"status": [200], "body_contains": "ok", "max_latency": "1s"}}}}]"#,
        target.url
    );
    let rules = only("");
    let secrets = vec![
        ("WEBHOOK_URL", format!("{}/hook", receiver.url)),
        ("WEBHOOK_SECRET", "it-secret".into()),
    ];
    let hub = hub(probes, rules, secrets);
    let start = now_ms();
    // (target behaviour, status after the check, probe-down firing, checks by result)
    let steps = [
        (Behavior::Status(200), "up", false, [1, 0, 0]),
        (Behavior::Status(500), "up", false, [1, 0, 1]),
        (Behavior::Hang, "down", true, [1, 0, 2]),
        (Behavior::Slow(1_300), "degraded", false, [1, 1, 2]),
        (Behavior::Status(200), "up", false, [2, 1, 2]),
    ];
    for (i, (behavior, status, firing, checks)) in steps.into_iter().enumerate() {
        target.set(behavior);
        hub.run_cron(start + i as u64 * MINUTE);
        let seen = probe(&hub, "www");
        assert_eq!(seen["status"], status, "step {i}: {seen}");
        let (alerts, all) = hub.firing_alerts();
        let fired = alerts.iter().any(|(name, _)| name == "probe-down");
        assert_eq!(fired, firing, "step {i}: {all}");
        let text = metrics(&hub);
        let success = text.sample(r#"vigil_probe_success{probe="www"}"#);
        let passed = if matches!(behavior, Behavior::Status(500) | Behavior::Hang) {
            0.0
        } else {
            1.0
        };
        assert_eq!(success, Some(passed), "step {i}: {}", text.body);
        for (result, count) in ["pass", "slow", "fail"].into_iter().zip(checks) {
            let series = format!(r#"vigil_probe_checks_total{{probe="www",result="{result}"}}"#);
            assert_eq!(
                text.sample(&series),
                Some(count as f64),
                "step {i} {series}"
            );
        }
        assert!(text
            .sample(r#"vigil_probe_duration_seconds{probe="www"}"#)
            .is_some());
        promtool_check(&text.body).unwrap_or_else(|e| panic!("step {i}: {e}"));
    }
    let hang = hub.wait_for_log(|l| l["message"] == "probe check failed" && l["to"] == "down");
    let reason = hang[0]["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(reason, "timeout after 2000 ms", "{hang:?}");
    // One firing and one resolved notification: one per transition, not one per run.
    let sent: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(sent, ["firing", "resolved"], "{:?}", receiver.received());
    let slos = admin(&hub, "/api/slos");
    let www = slos["slos"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["probe"] == "www").cloned());
    let www = www.unwrap_or_else(|| panic!("no probe SLO: {slos}"));
    assert_eq!(www["name"], "availability");
    assert!(
        (www["sli30d"].as_f64().unwrap_or(0.0) - 0.6).abs() < 1e-9,
        "{www}"
    );
}

fn hostile_targets_fail_within_their_timeout_and_the_cron_finishes() {
    let target = Receiver::start(Behavior::Status(200));
    for (path, behavior) in [
        ("/hang", Behavior::Hang),
        ("/huge", Behavior::Huge),
        ("/loop", Behavior::RedirectLoop),
        ("/trickle", Behavior::Trickle),
    ] {
        target.set_path(path, behavior);
    }
    let port = target.url.rsplit(':').next().unwrap_or_default();
    let urls = [
        ("hang", format!("{}/hang", target.url)),
        ("huge", format!("{}/huge", target.url)),
        ("loop", format!("{}/loop", target.url)),
        ("trickle", format!("{}/trickle", target.url)),
        ("tls", format!("https://127.0.0.1:{port}/")),
        ("dns", "http://vigil-probe-test.invalid/".to_string()),
    ];
    let probes: Vec<String> = urls
        .iter()
        .map(|(name, url)| {
            format!(
                r#"{{"name": "{name}", "url": "{url}", "timeout": "3s",
                     "expect": {{"body_contains": "pass"}}}}"#
            )
        })
        .collect();
    let hub = hub(format!("[{}]", probes.join(", ")), only(""), Vec::new());
    let at = now_ms();
    hub.run_cron(at);
    let wanted = [
        ("hang", "timeout after 3000 ms"),
        ("huge", "body does not contain \"pass\" in its first 64 KiB"),
        ("loop", "more than 3 redirects"),
        ("trickle", "timeout after 3000 ms"),
        ("tls", "request failed"),
        ("dns", "request failed"),
    ];
    for (name, reason) in wanted {
        let seen = probe(&hub, name);
        let last = &seen["lastCheck"];
        assert_eq!(last["result"], "fail", "{seen}");
        let said = last["reason"].as_str().unwrap_or_default();
        assert!(said.contains(reason), "{name}: {said:?} lacks {reason:?}");
        let took = last["durationMs"].as_f64().unwrap_or(f64::MAX);
        assert!(took < 3_000.0 + 1_000.0, "{name} took {took} ms: {seen}");
    }
    // The loop was followed exactly max_redirects times after the first request.
    let hops = target
        .received()
        .iter()
        .filter(|r| r.path == "/loop")
        .count();
    assert_eq!(hops, 4);
    // The steps after the probes ran: the run counts as a success.
    let text = metrics(&hub);
    let last_success = text.sample("vigil_cron_last_success_timestamp_seconds");
    assert_eq!(last_success, Some(at as f64 / 1000.0), "{}", text.body);
}

fn probes_beyond_the_subrequest_budget_wait_for_the_next_run() {
    let target = Receiver::start(Behavior::Status(200));
    let probes: Vec<String> = (0..14)
        .map(|i| format!(r#"{{"name": "p{i:02}", "url": "{}/p{i:02}"}}"#, target.url))
        .collect();
    let hub = Worker::start(Options {
        vars: vec![
            ("PROBES", format!("[{}]", probes.join(", "))),
            ("SUBREQUEST_BUDGET", "20".into()),
            ("ALERT_RULES", only("")),
        ],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    let start = now_ms();
    hub.run_cron(start);
    // 20 subrequests: 2 for the cron itself, 8 kept for notifications, 10 for probes.
    assert_eq!(target.received().len(), 10);
    let all = admin(&hub, "/api/probes");
    let waiting: Vec<&Value> = all["probes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["lastCheck"].is_null())
        .collect();
    assert_eq!(waiting.len(), 4, "{all}");
    assert_eq!(all["subrequestBudget"]["probes"], 10);
    let deferred = metrics(&hub).sample("vigil_probes_deferred_total");
    assert_eq!(deferred, Some(4.0));
    hub.run_cron(start + MINUTE);
    // The four that waited ran first; six of the others wait now.
    assert_eq!(target.received().len(), 20);
    let all = admin(&hub, "/api/probes");
    let never = all["probes"].as_array().into_iter().flatten();
    assert_eq!(
        never.filter(|p| p["lastCheck"].is_null()).count(),
        0,
        "{all}"
    );
    let line = hub.wait_for_log(|l| l["message"] == "probes deferred to the next run");
    assert_eq!(line[0]["deferred"], 4, "{line:?}");
}

fn a_silent_heartbeat_fires_after_period_and_grace_and_a_ping_resolves_it() {
    let rules = only("");
    let hub = hub("[]".into(), rules, Vec::new());
    let token = format!("Bearer {HEARTBEAT_TOKEN}");
    let ping = |path: &str, auth: &str| hub.request("POST", path, &[("Authorization", auth)]);
    assert_eq!(ping("/api/heartbeats/backup", "").status, 401);
    assert_eq!(ping("/api/heartbeats/backup", "Bearer wrong").status, 401);
    let unknown = ping("/api/heartbeats/nightly", &token);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(
        unknown.header("content-type"),
        Some("application/problem+json")
    );
    let last_ping = || {
        metrics(&hub)
            .sample(r#"vigil_heartbeat_last_ping_timestamp_seconds{monitor="backup"}"#)
            .map(|s| (s * 1000.0).round() as u64)
    };
    assert_eq!(last_ping(), None, "an unknown name created nothing");
    let ok = ping("/api/heartbeats/backup", &token);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let first = last_ping().expect("the ping is recorded");
    let firing = |hub: &Worker| {
        let (alerts, all) = hub.firing_alerts();
        (
            alerts.iter().any(|(name, _)| name == "heartbeat-missed"),
            all,
        )
    };
    // Within period + grace (1m30s): quiet. Just past it: firing.
    hub.run_cron(first + 90_000);
    assert!(!firing(&hub).0, "{}", firing(&hub).1);
    hub.run_cron(first + 90_001);
    let (fired, all) = firing(&hub);
    assert!(fired, "{all}");
    // The API judges at the real clock, so it tells when the monitor turns late.
    let monitor = &admin(&hub, "/api/probes")["heartbeats"][0];
    let late_after = vigil_core::time::iso_timestamp((first + 90_000) as f64);
    assert_eq!(monitor["lateAfter"], late_after.as_str(), "{monitor}");
    // The next ping resolves it at the next run.
    assert_eq!(ping("/api/heartbeats/backup", &token).status, 200);
    let second = last_ping().expect("recorded");
    assert!(second > first + 2, "{first} {second}");
    hub.run_cron(first + 90_002);
    assert!(!firing(&hub).0, "{}", firing(&hub).1);
    // A job that reports a failure fires it again.
    let get = hub.request(
        "GET",
        "/api/heartbeats/backup/fail",
        &[("Authorization", &token)],
    );
    assert_eq!(get.status, 200, "{}", get.body);
    hub.run_cron(first + 90_003);
    assert!(firing(&hub).0, "{}", firing(&hub).1);
    let monitor = &admin(&hub, "/api/probes")["heartbeats"][0];
    assert_eq!(monitor["status"], "failed", "{monitor}");
}
