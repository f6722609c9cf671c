use crate::harness::{Options, Worker};
use crate::{shared, ADMIN_TOKEN};

crate::tests!(
    the_bearer_scheme_is_case_insensitive_and_trailing_whitespace_is_tolerated,
    a_problem_for_a_huge_path_stays_small,
    readyz_passes_plainly_and_verbosely_with_one_timing_per_check,
    every_single_check_passes_and_unknown_checks_are_404,
    health_is_health_json_with_a_response_time_per_component,
    detailed_health_needs_the_admin_token,
    detailed_health_round_trips_every_store_and_reports_the_heartbeat,
    readyz_reports_503_and_names_kv_when_kv_binding_is_missing,
    readyz_fails_on_r2_when_the_bucket_binding_is_missing,
    unmigrated_database_fails_the_migrations_check_only,
    an_invalid_variable_is_named_in_a_500_problem_while_liveness_stays_up,
);

const CHECKS: [&str; 4] = ["d1", "kv", "r2", "migrations"];

fn readyz_passes_plainly_and_verbosely_with_one_timing_per_check() {
    let worker = shared();
    for path in ["/readyz", "/health/readiness"] {
        let reply = worker.get(path);
        assert_eq!((reply.status, reply.body.as_str()), (200, "ok"), "{path}");
        let timing = reply.header("server-timing").unwrap_or_default();
        for check in CHECKS {
            assert!(timing.contains(&format!("{check};dur=")), "{timing}");
        }
        assert!(timing.contains("total;dur="), "{timing}");
    }
    let verbose = worker.get("/readyz?verbose");
    assert_eq!(verbose.status, 200);
    assert_eq!(
        verbose.body,
        "[+]d1 ok\n[+]kv ok\n[+]r2 ok\n[+]migrations ok\nreadyz check passed"
    );
    assert_eq!(worker.request("HEAD", "/readyz", &[]).status, 200);
}

fn every_single_check_passes_and_unknown_checks_are_404() {
    let worker = shared();
    for check in CHECKS {
        let reply = worker.get(&format!("/readyz/{check}"));
        assert_eq!((reply.status, reply.body.as_str()), (200, "ok"), "{check}");
    }
    assert_eq!(worker.get("/readyz/nope").status, 404);
}

fn health_is_health_json_with_a_response_time_per_component() {
    let reply = shared().get("/health");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/health+json")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert!(
        ["pass", "warn"].contains(&body["status"].as_str().unwrap_or("")),
        "{body}"
    );
    assert_eq!(body["serviceId"], "vigil");
    assert!(body["version"].is_string() && body["releaseId"].is_string());
    for check in CHECKS {
        let entry = &body["checks"][format!("{check}:responseTime")][0];
        assert_eq!(entry["observedUnit"], "ms", "{body}");
        assert!(entry["observedValue"].is_number(), "{body}");
        assert!(entry["time"].is_string(), "{body}");
    }
}

fn detailed_health_needs_the_admin_token() {
    let worker = shared();
    for auth in [None, Some("Bearer wrong"), Some("test-admin-token")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let reply = worker.request("GET", "/health/detailed", &headers);
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert!(reply.header("www-authenticate").is_some());
    }
}

fn the_bearer_scheme_is_case_insensitive_and_trailing_whitespace_is_tolerated() {
    let worker = shared();
    for header in [
        format!("BEARER {ADMIN_TOKEN}"),
        format!("bearer {ADMIN_TOKEN}"),
        format!("Bearer {ADMIN_TOKEN}  "),
    ] {
        let reply = worker.request("GET", "/api/slos", &[("Authorization", &header)]);
        assert_eq!(reply.status, 200, "{header:?}: {}", reply.body);
    }
}

fn a_problem_for_a_huge_path_stays_small() {
    let worker = shared();
    let path = format!("/{}", "a".repeat(8_000));
    let reply = worker.get(&path);
    assert_eq!(reply.status, 404);
    assert!(reply.body.len() < 1_024, "{} bytes", reply.body.len());
    assert_eq!(reply.json()["type"], "about:blank");
}

fn detailed_health_round_trips_every_store_and_reports_the_heartbeat() {
    let worker = Worker::start(Options {
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let before = worker.request("GET", "/health/detailed", &[("Authorization", &auth)]);
    assert_eq!(before.status, 200, "{}", before.body);
    let body = before.json();
    for store in ["kv", "r2", "d1"] {
        assert_eq!(body["smokeTests"][store]["status"], "pass", "{body}");
    }
    assert_eq!(body["migrations"]["upToDate"], true, "{body}");
    assert_eq!(
        body["cronHeartbeat"]["status"], "warn",
        "no cron has run yet: {body}"
    );
    assert_eq!(body["status"], "warn");

    worker.run_cron(crate::harness::now_ms());
    let after = worker
        .request("GET", "/health/detailed", &[("Authorization", &auth)])
        .json();
    assert_eq!(after["cronHeartbeat"]["status"], "pass", "{after}");
    assert!(after["cronHeartbeat"]["ageSeconds"].as_f64().unwrap() < 60.0);
}

fn readyz_reports_503_and_names_kv_when_kv_binding_is_missing() {
    let worker = Worker::start(Options {
        without_bindings: vec!["KV"],
        ..Options::default()
    });
    let reply = worker.get("/readyz");
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        "[+]d1 ok\n[-]kv failed: reason withheld\n[+]r2 ok\n[+]migrations ok\nreadyz check failed"
    );
    let excluded = worker.get("/readyz?exclude=kv");
    assert_eq!((excluded.status, excluded.body.as_str()), (200, "ok"));
    let excluded = worker.get("/readyz?verbose&exclude=kv&exclude=r2");
    assert_eq!(excluded.status, 200, "{}", excluded.body);
    assert!(
        excluded.body.contains("[+]kv excluded: ok"),
        "{}",
        excluded.body
    );
    assert!(
        excluded.body.contains("[+]r2 excluded: ok"),
        "{}",
        excluded.body
    );

    let single = worker.get("/readyz/kv");
    assert_eq!(single.status, 503);
    assert!(
        single.body.starts_with("internal server error: "),
        "{}",
        single.body
    );
    assert!(!single.body.contains("binding"));

    let health = worker.get("/health");
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "fail");
    assert!(!health.body.contains("not configured"), "{}", health.body);

    assert_eq!(
        worker.get("/livez").status,
        200,
        "liveness ignores dependencies"
    );
    let logged = worker.wait_for_log(|line| {
        line["check"] == "kv"
            && line["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("KV binding KV is not configured"))
    });
    assert!(
        !logged.is_empty(),
        "the real reason is logged:\n{}",
        worker.logs()
    );

    let detailed = worker.get("/health/detailed");
    assert_eq!(detailed.status, 403, "no ADMIN_TOKEN configured here");
    assert!(
        detailed.body.contains("wrangler secret put ADMIN_TOKEN"),
        "{}",
        detailed.body
    );
}

fn readyz_fails_on_r2_when_the_bucket_binding_is_missing() {
    // Analytics Engine goes too: a failing datapoint write must not fail any request.
    let worker = Worker::start(Options {
        without_bindings: vec!["BUCKET", "ANALYTICS"],
        ..Options::default()
    });
    let reply = worker.get("/readyz");
    assert_eq!(reply.status, 503);
    assert!(
        reply.body.contains("[-]r2 failed: reason withheld"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("[+]kv ok"), "{}", reply.body);
    assert_eq!(worker.get("/readyz?exclude=r2").status, 200);
    assert_eq!(worker.get("/readyz/r2").status, 503);
    assert_eq!(worker.get("/health/liveness").status, 200);
    // The missing optional binding is said once per isolate, not once per request.
    let warned = worker.wait_for_log(|l| l["message"] == "optional binding missing");
    assert_eq!(warned.len(), 1, "{}", worker.logs());
    assert_eq!(warned[0]["binding"], "ANALYTICS");
    let lines = worker.log_lines();
    let requests = lines.iter().filter(|l| l["message"] == "request").count();
    let warnings = lines
        .iter()
        .filter(|l| l["message"] == "optional binding missing")
        .count();
    assert!(requests >= 2, "{}", worker.logs());
    assert_eq!(warnings, 1, "{}", worker.logs());
}

fn an_invalid_variable_is_named_in_a_500_problem_while_liveness_stays_up() {
    let worker = Worker::start(Options {
        vars: vec![("CHECK_TIMEOUT_MS", "soon".into())],
        ..Options::default()
    });
    let reply = worker.get("/readyz");
    assert_eq!(reply.status, 500);
    let problem = reply.json();
    assert_eq!(problem["title"], "Invalid Configuration");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("CHECK_TIMEOUT_MS"),
        "{problem}"
    );
    assert_eq!(worker.get("/livez").status, 200);
    let logged = worker.wait_for_log(|l| l["status"] == 500 && l["level"] == "error");
    assert!(!logged.is_empty(), "the 500 is logged with its error");
    assert!(logged[0]["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("CHECK_TIMEOUT_MS"));
}

fn unmigrated_database_fails_the_migrations_check_only() {
    let worker = Worker::start(Options {
        unmigrated: true,
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    assert_eq!(worker.get("/readyz/d1").status, 200);
    assert_eq!(worker.get("/readyz/migrations").status, 503);
    let reply = worker.get("/readyz");
    assert!(
        reply.body.contains("[-]migrations failed: reason withheld"),
        "{}",
        reply.body
    );
    let detailed = worker
        .request(
            "GET",
            "/health/detailed",
            &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        )
        .json();
    assert_eq!(detailed["status"], "fail");
    assert_eq!(detailed["migrations"]["upToDate"], false, "{detailed}");
    let output = detailed["checks"]["migrations:responseTime"][0]["output"]
        .as_str()
        .unwrap_or_default();
    assert!(output.contains("0 of"), "{detailed}");
}
