use crate::harness::{now_ms, Options, Worker};
use crate::ADMIN_TOKEN;

crate::tests!(
    real_5xx_responses_fire_the_error_ratio_alert_after_for_and_resolve_after_keep_firing_for,
    a_missing_kv_binding_fires_dependency_down_which_resolves_once_kv_is_back,
    an_invalid_override_is_reported_and_the_other_rules_still_run,
    history_older_than_90_days_is_archived_to_r2_before_it_leaves_d1,
    two_services_alert_and_resolve_independently_with_their_own_slos,
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

/// The rule's only instance: the hub's (`service="vigil"` for a rule on requests).
fn instance(alerts: &serde_json::Value, id: &str) -> serde_json::Value {
    let rule = rule(alerts, id);
    let instances = rule["instances"].as_array().cloned().unwrap_or_default();
    assert_eq!(instances.len(), 1, "one instance of {id}: {rule}");
    instances[0].clone()
}

fn state(worker: &Worker, id: &str) -> String {
    instance(&admin(worker, "/api/alerts"), id)["state"]
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
    let firing = instance(&alerts, "high-error-ratio");
    assert_eq!(firing["state"], "firing", "{firing}");
    assert_eq!(firing["labels"]["service"], "vigil", "{firing}");
    assert_eq!(firing["alert"], r#"high-error-ratio{service="vigil"}"#);
    let firing = serde_json::json!({
        "rule": rule(&alerts, "high-error-ratio")["rule"],
        "lastValue": firing["lastValue"],
    });
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
            .sample(r#"vigil_alerts{alertname="high-error-ratio",severity="page",state="firing",service="vigil"}"#),
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
        .filter(|h| h["alert"] == r#"high-error-ratio{service="vigil"}"#)
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
        instance(&alerts, "quiet-service")["state"],
        "firing",
        "{alerts}"
    );
    assert_eq!(instance(&alerts, "high-error-ratio")["state"], "inactive");
    let logged = worker.wait_for_log(|l| l["message"] == "alert rule skipped");
    assert!(!logged.is_empty(), "the bad rule is logged");
}

fn history_older_than_90_days_is_archived_to_r2_before_it_leaves_d1() {
    let worker = Worker::start(Options::default());
    let hour = 60 * MINUTE;
    let now = (now_ms() / hour + 1) * hour; // housekeeping runs on the hour
    let old = now - 91 * 24 * hour;
    worker.d1(&format!(
        "INSERT INTO alert_history (alert_key, transition, at_ms, value) VALUES ('high-error-ratio{{service=\"vigil\"}}', 'firing', {old}, 0.5)"
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
    assert_eq!(line["alert"], r#"high-error-ratio{service="vigil"}"#);
    assert_eq!(line["transition"], "firing");
}

/// Running totals of two services as the aggregator writes them: `(service, minute, requests,
/// errors)`, and their request series so the hub knows the services.
fn seed_totals(worker: &Worker, rows: &[(&str, u64, u64, u64)]) {
    for (service, minute, requests, errors) in rows {
        worker.d1(&format!(
            "INSERT INTO service_cumulative (service, minute, requests, errors)
             VALUES ('{service}', {minute}, {requests}, {errors});
             INSERT INTO request_totals (service, route, method, code, count, duration_sum)
             VALUES ('{service}', '/', 'GET', 200, 1, 0.01) ON CONFLICT DO NOTHING;"
        ));
    }
}

fn two_services_alert_and_resolve_independently_with_their_own_slos() {
    let rules = r#"[{"id": "high-error-ratio", "disabled": true},
        {"id": "errors", "kind": "error_ratio", "threshold": 0.5, "window": "5m",
         "for": "0s", "keep_firing_for": "0s", "severity": "page"}]"#;
    let worker = Worker::start(Options {
        vars: vec![
            ("ALERT_RULES", rules.into()),
            ("SLOS", r#"{"api": {"availability": 0.99}}"#.into()),
        ],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    let states = |worker: &Worker| -> Vec<(String, String)> {
        let alerts = admin(worker, "/api/alerts");
        let instances = rule(&alerts, "errors")["instances"].clone();
        let mut states: Vec<(String, String)> = instances
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let service = i["labels"]["service"].as_str().unwrap_or("?");
                (
                    service.to_string(),
                    i["state"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect();
        states.sort();
        states
    };
    let pair = |s: &str, state: &str| (s.to_string(), state.to_string());

    // api fails every request, web none.
    let t0 = now_ms() - 60 * MINUTE;
    let m0 = t0 / MINUTE;
    seed_totals(&worker, &[("api", m0, 10, 10), ("web", m0, 10, 0)]);
    worker.run_cron(t0 + 30_000);
    let expected = vec![
        pair("api", "firing"),
        pair("vigil", "inactive"),
        pair("web", "inactive"),
    ];
    assert_eq!(states(&worker), expected);
    let metrics = worker.get("/metrics");
    let firing = r#"vigil_alerts{alertname="errors",severity="page",state="firing",service="api"}"#;
    assert_eq!(metrics.sample(firing), Some(1.0), "{}", metrics.body);

    // Ten minutes later the roles swap: api's next ten requests succeed, web's fail.
    let t1 = t0 + 10 * MINUTE;
    seed_totals(
        &worker,
        &[("api", m0 + 10, 20, 10), ("web", m0 + 10, 20, 10)],
    );
    worker.run_cron(t1 + 30_000);
    let expected = vec![
        pair("api", "resolved"),
        pair("vigil", "inactive"),
        pair("web", "firing"),
    ];
    assert_eq!(states(&worker), expected);

    let metrics = worker.get("/metrics");
    let objective = |service: &str| {
        metrics.sample(&format!(
            r#"vigil_slo_objective_ratio{{slo="availability",service="{service}"}}"#
        ))
    };
    assert_eq!(objective("api"), Some(0.99), "{}", metrics.body);
    assert_eq!(objective("web"), Some(0.999), "{}", metrics.body);
    // The hub served no request in these windows: its SLOs stay defined, with budget left.
    let budget =
        metrics.sample(r#"vigil_slo_error_budget_remaining_ratio{slo="latency",service="vigil"}"#);
    assert_eq!(budget, Some(1.0), "{}", metrics.body);
    assert!(!metrics.body.contains("NaN"), "{}", metrics.body);
}
