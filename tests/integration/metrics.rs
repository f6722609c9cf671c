use crate::harness::{now_ms, promtool_check, Options, Worker};
use crate::ADMIN_TOKEN;

crate::tests!(
    metrics_count_exactly_the_requests_served_per_series_and_pass_promtool,
    metrics_need_the_token_when_one_is_set_and_speak_openmetrics_on_request,
    counts_survive_a_failed_aggregator_write_and_land_once_the_database_is_back,
    vigil_reports_the_d1_rows_it_reads_and_writes_per_operation,
);

const METRICS_TOKEN: &str = "it-metrics-token";

fn metrics_worker() -> Worker {
    Worker::start(Options {
        secrets: vec![("METRICS_TOKEN", METRICS_TOKEN.into())],
        ..Options::default()
    })
}

fn scrape(worker: &Worker, accept: &str) -> crate::harness::Reply {
    let auth = format!("Bearer {METRICS_TOKEN}");
    worker.request(
        "GET",
        "/metrics",
        &[("Authorization", &auth), ("Accept", accept)],
    )
}

fn metrics_count_exactly_the_requests_served_per_series_and_pass_promtool() {
    let worker = metrics_worker();
    let plan: [(&str, &str, usize); 5] = [
        ("GET", "/health/liveness", 5),
        ("GET", "/does-not-exist", 3),
        ("GET", "/wp-login.php?token=x", 2),
        ("POST", "/livez", 2),
        ("GET", "/readyz/bogus", 1),
    ];
    for (method, path, times) in plan {
        for _ in 0..times {
            worker.request(method, path, &[]);
        }
    }
    worker.run_cron(now_ms()); // flushes this isolate's counts to D1

    let reply = scrape(&worker, "text/plain");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &reply;
    assert_eq!(
        body.sample(
            r#"vigil_http_requests_total{service="vigil",route="/health/liveness",method="GET",code="200"}"#
        ),
        Some(5.0),
        "{}",
        reply.body
    );
    assert_eq!(
        body.sample(r#"vigil_http_requests_total{service="vigil",route="unmatched",method="GET",code="404"}"#),
        Some(5.0),
        "raw paths never become labels:\n{}",
        reply.body
    );
    assert_eq!(
        body.sample(
            r#"vigil_http_requests_total{service="vigil",route="/livez",method="POST",code="405"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        body.sample(
            r#"vigil_http_requests_total{service="vigil",route="/readyz/{check}",method="GET",code="404"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        body.sample(
            r#"vigil_http_request_duration_seconds_count{service="vigil",route="/health/liveness",method="GET"}"#
        ),
        Some(5.0)
    );
    assert_eq!(body.sample(r#"vigil_http_request_duration_seconds_bucket{service="vigil",route="/health/liveness",method="GET",le="+Inf"}"#), Some(5.0));
    assert!(
        !reply.body.contains("wp-login"),
        "raw paths never become labels"
    );
    assert!(
        reply.body.contains("vigil_build_info{version="),
        "{}",
        reply.body
    );
    assert!(body
        .sample("vigil_cron_last_success_timestamp_seconds")
        .is_some());
    assert_eq!(
        body.sample(r#"vigil_dependency_up{component="kv"}"#),
        Some(1.0),
        "{}",
        reply.body
    );
    let batches = body
        .sample("vigil_metrics_flush_batches_total")
        .unwrap_or(0.0);
    assert!(
        (1.0..=3.0).contains(&batches),
        "13 requests, few D1 writes: {batches}"
    );

    if let Err(complaints) = promtool_check(&reply.body) {
        panic!(
            "promtool check metrics failed:\n{complaints}\n{}",
            reply.body
        );
    }
}

fn metrics_need_the_token_when_one_is_set_and_speak_openmetrics_on_request() {
    let worker = metrics_worker();
    let anonymous = worker.get("/metrics");
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("content-type"),
        Some("application/problem+json")
    );

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = scrape(&worker, prometheus_accept);
    assert_eq!(open.status, 200);
    assert!(open
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert!(
        open.body.contains("# TYPE vigil_http_requests counter"),
        "{}",
        open.body
    );
}

fn counts_survive_a_failed_aggregator_write_and_land_once_the_database_is_back() {
    let worker = Worker::start(Options {
        unmigrated: true,
        vars: vec![("METRICS_FLUSH_SECONDS", "0".into())],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    // /readyz/d1 passes without migrations; the harness never calls it.
    for _ in 0..4 {
        assert_eq!(worker.get("/readyz/d1").status, 200);
    }
    // The cron asks the aggregator to write what it merged: D1 has no tables, so the write fails.
    worker.run_cron(now_ms());
    let failed = worker.wait_for_log(|l| {
        l["message"] == "aggregator write failed; counts kept for the next write"
            && l["error"]["type"] == "AggregatorWriteFailed"
    });
    assert!(
        !failed.is_empty(),
        "the failed write is logged:\n{}",
        worker.logs()
    );

    // The object is evicted before the database is back (forced: the hub restarts on the same
    // state), so what it holds must come from its own storage.
    let worker = worker.restart(Options {
        vars: vec![("METRICS_FLUSH_SECONDS", "0".into())],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    });
    worker.migrate();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let detailed = worker.request("GET", "/health/detailed", &[("Authorization", &auth)]);
    let aggregator = &detailed.json()["aggregator"];
    assert!(
        aggregator["pendingSeries"].as_u64() > Some(0),
        "{}",
        detailed.body
    );
    assert!(
        aggregator["journalledBatches"].as_u64() > Some(0),
        "{}",
        detailed.body
    );
    assert!(aggregator["lastError"].is_string(), "{}", detailed.body);

    worker.run_cron(now_ms());
    let reply = worker.get("/metrics");
    assert_eq!(
        reply.sample(
            r#"vigil_http_requests_total{service="vigil",route="/readyz/{check}",method="GET",code="200"}"#
        ),
        Some(4.0),
        "every request counted once, after the write succeeded: {}",
        reply.body
    );
}

fn vigil_reports_the_d1_rows_it_reads_and_writes_per_operation() {
    let worker = Worker::start(Options {
        vars: vec![("METRICS_FLUSH_SECONDS", "0".into())],
        ..Options::default()
    });
    // Runs in the past: a cron's flush marks its scheduled time as the isolate's last flush.
    let t0 = now_ms() - 120_000;
    worker.run_cron(t0);
    // The next run's flush records what the first run cost.
    worker.run_cron(t0 + 60_000);
    let metrics = worker.get("/metrics");
    let series = |name: &str, op: &str| {
        metrics
            .sample(&format!(
                r#"vigil_store_rows_{name}_total{{operation="{op}"}}"#
            ))
            .unwrap_or(0.0)
    };
    assert!(series("read", "cron") > 0.0, "{}", metrics.body);
    assert!(series("written", "cron") > 0.0, "{}", metrics.body);
    assert!(series("written", "flush") > 0.0, "{}", metrics.body);

    // A scrape's own reads go to the aggregator after it (flush interval 0) and are written
    // with the next cron run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        worker.get("/metrics");
        worker.run_cron(now_ms() - 1_000);
        let reply = worker.get("/metrics");
        let read = reply.sample(r#"vigil_store_rows_read_total{operation="scrape"}"#);
        if read.is_some_and(|rows| rows > 0.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scrape cost: {}",
            reply.body
        );
    }
}
