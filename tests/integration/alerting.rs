use crate::harness::{now_ms, Options, Worker};
use crate::ADMIN_TOKEN;

crate::tests!(
    real_5xx_responses_fire_the_error_ratio_alert_after_for_and_resolve_after_keep_firing_for,
    a_missing_kv_binding_fires_dependency_down_which_resolves_once_kv_is_back,
    an_invalid_override_is_reported_and_the_other_rules_still_run,
    history_older_than_90_days_is_archived_to_r2_before_it_leaves_d1,
);

const MINUTE: u64 = 60_000;

fn admin(worker: &Worker, path: &str) -> serde_json::Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let reply = worker.request("GET", path, &[("Authorization", &auth)]);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

fn rule(alerts: &serde_json::Value, id: &str) -> serde_json::Value {
    alerts["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["rule"]["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("rule {id} in {alerts}"))
}

fn state(worker: &Worker, id: &str) -> String {
    rule(&admin(worker, "/api/alerts"), id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn without_kv() -> Options {
    Options {
        without_bindings: vec!["KV"],
        vars: vec![("RUNBOOK_BASE_URL", "https://runbooks.example/vigil".into())],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    }
}

fn real_5xx_responses_fire_the_error_ratio_alert_after_for_and_resolve_after_keep_firing_for() {
    // Without KV, /readyz really answers 503: 20 of 25 requests fail.
    let worker = Worker::start(without_kv());
    for _ in 0..20 {
        assert_eq!(worker.get("/readyz").status, 503);
    }
    for _ in 0..5 {
        worker.get("/livez");
    }
    let t0 = now_ms();
    worker.run_cron(t0);
    assert_eq!(
        state(&worker, "high-error-ratio"),
        "pending",
        "for 2m not yet elapsed"
    );
    worker.run_cron(t0 + MINUTE);
    assert_eq!(state(&worker, "high-error-ratio"), "pending");
    worker.run_cron(t0 + 2 * MINUTE);
    let alerts = admin(&worker, "/api/alerts");
    let firing = rule(&alerts, "high-error-ratio");
    assert_eq!(firing["state"], "firing", "{firing}");
    // 20 of the window's requests were 503s (the harness's own probes are the rest).
    assert!(
        firing["lastValue"].as_f64().unwrap_or(0.0) > 0.5,
        "{firing}"
    );
    assert_eq!(
        firing["rule"]["annotations"]["runbook_url"],
        "https://runbooks.example/vigil/high-error-ratio.md"
    );
    assert_eq!(
        firing["rule"]["kind"], "error_ratio",
        "the shape operators write"
    );
    assert_eq!(firing["rule"]["window"], "5m");

    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics
            .sample(r#"vigil_alerts{alertname="high-error-ratio",severity="page",state="firing"}"#),
        Some(1.0),
        "{}",
        metrics.body
    );

    // The 5xx leave the 5-minute window; the alert holds for keep_firing_for (5m) after the
    // condition was last true (t0 + 2m), then resolves.
    worker.run_cron(t0 + 6 * MINUTE);
    assert_eq!(state(&worker, "high-error-ratio"), "firing", "kept firing");
    worker.run_cron(t0 + 7 * MINUTE);
    assert_eq!(state(&worker, "high-error-ratio"), "resolved");
    let history: Vec<String> = admin(&worker, "/api/alerts")["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["rule"] == "high-error-ratio")
        .filter_map(|h| h["transition"].as_str().map(str::to_string))
        .collect();
    assert_eq!(history, ["resolved", "firing", "pending"], "newest first");
    let resolved = worker.wait_for_log(|l| {
        l["message"] == "alert transition"
            && l["rule"] == "high-error-ratio"
            && l["to"] == "resolved"
    });
    assert_eq!(resolved.len(), 1, "the resolution is logged once");
    let logged = worker
        .log_lines()
        .into_iter()
        .filter(|l| l["message"] == "alert transition" && l["rule"] == "high-error-ratio")
        .count();
    assert_eq!(logged, 3, "every transition is logged once");
}

fn a_missing_kv_binding_fires_dependency_down_which_resolves_once_kv_is_back() {
    let worker = Worker::start(without_kv());
    let t0 = now_ms();
    for minute in 0..3 {
        worker.run_cron(t0 + minute * MINUTE);
    }
    assert_eq!(state(&worker, "dependency-down"), "firing");
    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics.sample(r#"vigil_dependency_up{component="kv"}"#),
        Some(0.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        metrics.sample(r#"vigil_dependency_up{component="d1"}"#),
        Some(1.0)
    );

    // The fault is removed: the same state, restarted with the KV binding back.
    let worker = worker.restart(Options {
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    worker.run_cron(t0 + 3 * MINUTE);
    assert_eq!(
        state(&worker, "dependency-down"),
        "firing",
        "keep_firing_for 2m"
    );
    worker.run_cron(t0 + 4 * MINUTE);
    assert_eq!(state(&worker, "dependency-down"), "resolved");
    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics.sample(r#"vigil_dependency_up{component="kv"}"#),
        Some(1.0)
    );
}

fn an_invalid_override_is_reported_and_the_other_rules_still_run() {
    let rules = r#"[
        {"id": "broken", "kind": "no_such_kind", "severity": "page"},
        {"id": "quiet-service", "kind": "no_traffic", "window": "5m", "for": "0s",
         "keep_firing_for": "0s", "severity": "ticket",
         "annotations": {"summary": "no requests for 5 minutes"}}
    ]"#;
    let worker = Worker::start(Options {
        vars: vec![("ALERT_RULES", rules.into())],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    // An hour from now no request falls in the 5-minute window.
    worker.run_cron(now_ms() + 60 * MINUTE);
    let alerts = admin(&worker, "/api/alerts");
    let invalid = alerts["invalidRules"].to_string();
    assert!(invalid.contains("broken"), "{alerts}");
    assert_eq!(
        rule(&alerts, "quiet-service")["state"],
        "firing",
        "{alerts}"
    );
    assert_eq!(rule(&alerts, "high-error-ratio")["state"], "inactive");
    let logged = worker.wait_for_log(|l| l["message"] == "alert rule skipped");
    assert!(!logged.is_empty(), "the bad rule is logged");
}

fn history_older_than_90_days_is_archived_to_r2_before_it_leaves_d1() {
    let worker = Worker::start(Options::default());
    let hour = 60 * MINUTE;
    let now = (now_ms() / hour + 1) * hour; // housekeeping runs on the hour
    let old = now - 91 * 24 * hour;
    worker.d1(&format!(
        "INSERT INTO alert_history (rule_id, transition, at_ms, value) VALUES ('high-error-ratio', 'firing', {old}, 0.5)"
    ));
    worker.run_cron(now);
    let left = worker.d1(&format!("SELECT id FROM alert_history WHERE at_ms = {old}"));
    assert!(left.is_empty(), "archived history leaves D1: {left:?}");
    let iso = chrono::DateTime::from_timestamp_millis(now as i64)
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let archive = worker
        .r2_get(&format!("alert-history/{iso}.jsonl"))
        .unwrap_or_else(|| {
            panic!(
                "archive object alert-history/{iso}.jsonl:\n{}",
                worker.logs()
            )
        });
    let line: serde_json::Value = serde_json::from_str(archive.trim()).expect("one JSON line");
    assert_eq!(line["rule"], "high-error-ratio");
    assert_eq!(line["transition"], "firing");
}
