//! The fleet's path: senders (the test sender worker, through the `vigil` library) ship batches
//! to the hub's aggregator Durable Object, which writes them to D1 once per minute.

use crate::harness::{Options, Worker};

crate::tests!(
    counts_from_many_senders_land_exactly_once_after_the_aggregator_writes,
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
