//! Any worker observed through `tail_consumers`: the plain JavaScript shop of
//! `examples/tail-js` serves 200s, 503s and thrown errors, and the hub counts them under the
//! shop's service and route templates, fires its alerts, and stays bounded under floods of
//! invocations, junk paths and megabytes of logs.
//!
//! Locally the runtime sends trace items without a script name (so the hub's
//! `TAIL_UNNAMED_SERVICE` names the service), with zero CPU and wall time, and reports a
//! thrown error as outcome `ok` with status 500; the mapping of production's values is covered
//! by the core's unit tests.

use std::time::{Duration, Instant};

use crate::harness::{now_ms, Options, Reply, Worker};
use crate::ADMIN_TOKEN;

crate::tests!(
    tailed_invocations_reach_the_hub_counted_exactly_and_fire_alerts,
    floods_junk_paths_and_huge_logs_stay_bounded,
);

const MINUTE: u64 = 60_000;

fn tailed_hub() -> Worker {
    Worker::start(Options {
        tailed: true,
        vars: vec![
            ("TAIL_UNNAMED_SERVICE", "shop".into()),
            ("ROUTES", r#"{"shop": ["/products/:id"]}"#.into()),
            // Every tail batch is sent to the aggregator at once.
            ("METRICS_FLUSH_SECONDS", "0".into()),
        ],
        secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
        ..Options::default()
    })
}

/// Trace events reach the hub after the producer has answered; this runs the hub's cron at
/// `at_ms` (which writes what the aggregator holds) until `series` reads `expected`.
fn metrics_once_delivered(hub: &Worker, at_ms: u64, series: &str, expected: f64) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        hub.run_cron(at_ms);
        let metrics = hub.get("/metrics");
        let seen = metrics.sample(series);
        if seen == Some(expected) || Instant::now() > deadline {
            assert_eq!(seen, Some(expected), "{series}\n{}", metrics.body);
            return metrics;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn shop(metrics: &Reply, family: &str, labels: &str) -> Option<f64> {
    metrics.sample(&format!(r#"{family}{{service="shop",{labels}}}"#))
}

fn tailed_invocations_reach_the_hub_counted_exactly_and_fire_alerts() {
    let hub = tailed_hub();
    let producer = hub.producer();
    let mut served = vec![("/products/1", 200); 5];
    served.push(("/products/404", 404));
    served.extend([("/checkout", 200); 2]);
    served.extend([("/checkout?unavailable=1", 503); 4]);
    // A thrown error: locally, status 500 with outcome ok (see the module comment).
    served.extend([("/crash", 500); 3]);
    for (path, status) in &served {
        assert_eq!(producer.get(path).status, *status, "{path}");
    }

    let t0 = now_ms();
    let requests =
        |route: &str, code: u16| format!(r#"route="{route}",method="GET",code="{code}""#);
    let crash = format!(
        r#"vigil_http_requests_total{{service="shop",{}}}"#,
        requests("/crash", 500)
    );
    let metrics = metrics_once_delivered(&hub, t0, &crash, 3.0);
    let family = "vigil_http_requests_total";
    assert_eq!(
        shop(&metrics, family, &requests("/products/:id", 200)),
        Some(5.0)
    );
    assert_eq!(
        shop(&metrics, family, &requests("/products/:id", 404)),
        Some(1.0)
    );
    assert_eq!(
        shop(&metrics, family, &requests("/checkout", 200)),
        Some(2.0)
    );
    assert_eq!(
        shop(&metrics, family, &requests("/checkout", 503)),
        Some(4.0)
    );
    assert!(
        !metrics.body.contains("/products/1\""),
        "raw ids never label"
    );
    // Every invocation is a fetch, also counted as a request (the readiness probe's included).
    let probes = shop(&metrics, family, &requests("/healthz", 200)).unwrap_or(0.0);
    assert!(probes >= 1.0, "{}", metrics.body);
    let invocations = shop(
        &metrics,
        "vigil_worker_invocations_total",
        r#"event="fetch",outcome="ok""#,
    );
    assert_eq!(invocations, Some(served.len() as f64 + probes));
    let lines = |level: &str| {
        shop(
            &metrics,
            "vigil_worker_log_lines_total",
            &format!(r#"level="{level}""#),
        )
    };
    assert_eq!(lines("log"), Some(5.0), "one line per product viewed");
    assert_eq!(lines("warn"), Some(4.0), "one per unavailable checkout");
    let cpu = r#"vigil_worker_cpu_time_seconds_count{service="shop",event="fetch"}"#;
    assert_eq!(metrics.sample(cpu), invocations);
    crate::harness::promtool_check(&metrics.body).expect("promtool accepts the exposition");

    // 7 of the shop's requests failed: its error ratio and availability SLO fire, not the hub's.
    hub.run_cron(t0 + 3 * MINUTE);
    let (firing, alerts) = hub.firing_alerts();
    for alertname in ["high-error-ratio", "slo-availability-page"] {
        assert!(
            firing.contains(&(alertname.into(), "shop".into())),
            "{alertname}: {firing:?}\n{alerts}"
        );
    }
    assert!(
        firing.iter().all(|(_, service)| service == "shop"),
        "only the shop's alerts fire: {firing:?}"
    );
}

fn floods_junk_paths_and_huge_logs_stay_bounded() {
    let hub = tailed_hub();
    let producer = hub.producer();
    // Two megabytes of logs in one invocation, then a flood of junk paths from 8 clients.
    let chatty = producer.get("/chatty?lines=2000&size=1000");
    assert_eq!(chatty.status, 200);
    let clients = 8;
    let per_client = 40;
    std::thread::scope(|scope| {
        for client in 0..clients {
            scope.spawn(move || {
                for i in 0..per_client {
                    let path = format!("/wp-admin/{client}-{i}/setup-config.php");
                    assert_eq!(producer.get(&path).status, 404);
                }
            });
        }
    });
    let junk =
        r#"vigil_http_requests_total{service="shop",route="unmatched",method="GET",code="404"}"#;
    let metrics = metrics_once_delivered(&hub, now_ms(), junk, f64::from(clients * per_client));
    let chatty =
        r#"vigil_http_requests_total{service="shop",route="/chatty",method="GET",code="200"}"#;
    assert_eq!(metrics.sample(chatty), Some(1.0));
    let shop_routes: std::collections::BTreeSet<&str> = metrics
        .body
        .lines()
        .filter(|l| l.starts_with(r#"vigil_http_requests_total{service="shop""#))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        shop_routes,
        ["/chatty", "/healthz", "unmatched"].into(),
        "junk paths never become labels"
    );
    let logged = metrics
        .sample(r#"vigil_worker_log_lines_total{service="shop",level="log"}"#)
        .unwrap_or(0.0);
    assert!(
        logged >= 1.0,
        "the chatty invocation's lines count: {}",
        metrics.body
    );
    // The hub itself never failed: it answers, and logged no crash.
    assert_eq!(hub.get("/livez").status, 200);
    let logs = hub.logs();
    for crash in ["panicked", "Critical", "tail batch dropped"] {
        assert!(!logs.contains(crash), "{crash}:\n{logs}");
    }
}
