//! The fleet's path: senders (the test sender worker, through the `vigil` library) ship batches
//! to the hub's aggregator Durable Object, which writes them to D1 once per minute.

use crate::harness::{Options, Worker};

crate::tests!(
    counts_from_many_senders_land_exactly_once_after_the_aggregator_writes,
    counts_the_aggregator_accepted_land_exactly_once_after_it_is_evicted,
    a_quiet_service_is_counted_exactly_across_an_eviction,
    a_hub_without_the_aggregator_binding_writes_its_counts_itself_and_says_so,
);

const API_OK: &str =
    r#"vigil_http_requests_total{service="api",route="/notes/:id",method="GET",code="200"}"#;
const WEB_ERRORS: &str =
    r#"vigil_http_requests_total{service="web",route="/",method="GET",code="503"}"#;

fn fleet() -> Worker {
    Worker::start(Options {
        with_sender: true,
        ..Options::default()
    })
}

/// Asks the aggregator to write what it holds now (as the hub's minute cron does).
fn write_now(worker: &Worker) {
    let written = worker.request("POST", "/send?count=0&write=now", &[]);
    assert_eq!(written.status, 200, "{}", written.body);
}

fn counts_from_many_senders_land_exactly_once_after_the_aggregator_writes() {
    let worker = fleet();
    // Twenty isolates' flushes, each carrying part of the traffic of two services.
    for _ in 0..20 {
        let sent = worker.request("POST", "/send?service=api&route=/notes/:id&count=5", &[]);
        assert_eq!(sent.status, 200, "{}", sent.body);
        let sent = worker.request("POST", "/send?service=web&route=/&code=503&count=2", &[]);
        assert_eq!(sent.status, 200, "{}", sent.body);
    }
    let before = worker.get("/metrics");
    assert_eq!(
        before.sample(API_OK),
        None,
        "nothing is written before the aggregator's write: {}",
        before.body
    );

    write_now(&worker);
    let after = worker.get("/metrics");
    assert_eq!(after.sample(API_OK), Some(100.0), "{}", after.body);
    assert_eq!(after.sample(WEB_ERRORS), Some(40.0), "{}", after.body);
    let batches = after
        .sample("vigil_aggregator_batches_total")
        .unwrap_or(0.0);
    assert!(batches >= 40.0, "every batch is counted: {}", after.body);

    // A second write adds nothing twice.
    write_now(&worker);
    let again = worker.get("/metrics");
    assert_eq!(again.sample(API_OK), Some(100.0), "{}", again.body);
    let rows = worker.d1("SELECT count(*) AS n FROM request_totals WHERE service = 'api'");
    assert_eq!(rows[0]["n"], 1, "one stored series: {rows:?}");
}

fn counts_the_aggregator_accepted_land_exactly_once_after_it_is_evicted() {
    let worker = fleet();
    for _ in 0..20 {
        let sent = worker.request("POST", "/send?service=api&route=/notes/:id&count=5", &[]);
        assert_eq!(sent.status, 200, "{}", sent.body);
    }
    // The hub stopped and started on the same state: the object's memory is gone, as after an
    // eviction, a deploy or a restart.
    let worker = worker.restart(Options {
        with_sender: true,
        ..Options::default()
    });
    write_now(&worker);
    let after = worker.get("/metrics");
    assert_eq!(after.sample(API_OK), Some(100.0), "{}", after.body);
    let recovered = after.sample("vigil_aggregator_batches_recovered_total");
    assert!(recovered >= Some(20.0), "{}", after.body);

    // Evicted again after the write: nothing is written twice.
    let worker = worker.restart(Options {
        with_sender: true,
        ..Options::default()
    });
    write_now(&worker);
    let again = worker.get("/metrics");
    assert_eq!(again.sample(API_OK), Some(100.0), "{}", again.body);
}

fn a_quiet_service_is_counted_exactly_across_an_eviction() {
    let mut worker = fleet();
    // One request every 30 s for 10 minutes, each flushed on its own, the object evicted
    // halfway (the hub restarted on the same state).
    let t0 = crate::harness::now_ms() - 15 * 60_000;
    for k in 0..20 {
        let at = t0 + k * 30_000;
        let path = format!("/send?service=quiet&route=/ping&count=1&at={at}");
        let sent = worker.request("POST", &path, &[]);
        assert_eq!(sent.status, 200, "{}", sent.body);
        if k == 9 {
            worker = worker.restart(Options {
                with_sender: true,
                ..Options::default()
            });
        }
    }
    write_now(&worker);
    let series =
        r#"vigil_http_requests_total{service="quiet",route="/ping",method="GET",code="200"}"#;
    let metrics = worker.get("/metrics");
    assert_eq!(metrics.sample(series), Some(20.0), "{}", metrics.body);
    let windows = worker.d1(
        "SELECT requests FROM service_cumulative WHERE service = 'quiet'
         ORDER BY minute DESC LIMIT 1",
    );
    assert_eq!(windows[0]["requests"].as_u64(), Some(20), "{windows:?}");
}

fn a_hub_without_the_aggregator_binding_writes_its_counts_itself_and_says_so() {
    let worker = Worker::start(Options {
        without_bindings: vec!["AGGREGATOR"],
        vars: vec![("METRICS_FLUSH_SECONDS", "0".into())],
        secrets: vec![("ADMIN_TOKEN", crate::ADMIN_TOKEN.into())],
        ..Options::default()
    });
    // (The harness waits on /livez; /health/liveness is counted only for these three.)
    for _ in 0..3 {
        assert_eq!(worker.get("/health/liveness").status, 200);
    }
    let warned = worker.wait_for_log(|l| l["error"]["type"] == "AggregatorMissing");
    assert!(
        !warned.is_empty(),
        "the fallback is logged:\n{}",
        worker.logs()
    );
    let metrics = worker.get("/metrics");
    let livez = r#"vigil_http_requests_total{service="vigil",route="/health/liveness",method="GET",code="200"}"#;
    assert_eq!(
        metrics.sample(livez),
        Some(3.0),
        "no count lost: {}",
        metrics.body
    );
    let fallbacks = metrics.sample("vigil_aggregator_fallbacks_total");
    assert!(fallbacks >= Some(3.0), "{}", metrics.body);

    let auth = format!("Bearer {}", crate::ADMIN_TOKEN);
    let detailed = worker.request("GET", "/health/detailed", &[("Authorization", &auth)]);
    let aggregator = &detailed.json()["aggregator"];
    assert_eq!(aggregator["status"], "warn", "{}", detailed.body);
    let output = aggregator["output"].as_str().unwrap_or_default();
    assert!(output.contains("AGGREGATOR"), "{}", detailed.body);
}
