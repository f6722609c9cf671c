//! What an embedded application's traffic is: its health endpoints are not (an uptime monitor
//! leaves its counts and SLO alone), and its counts reach the hub without its cron.

use crate::embedded::{deliver, fleet};
use crate::harness::{now_ms, Options, Worker};

crate::tests!(
    an_uptime_monitor_leaves_the_apps_counts_and_slo_unchanged,
    counts_reach_the_hub_without_the_apps_cron,
);

const MINUTE: u64 = 60_000;

/// The application's availability SLO as `/api/slos` reports it.
fn notes_slo(hub: &Worker) -> serde_json::Value {
    let reply = hub.admin_send("GET", "/api/slos", "");
    let slos = reply.json()["slos"].as_array().cloned().unwrap_or_default();
    slos.into_iter()
        .find(|s| s["service"] == "notes" && s["name"] == "availability")
        .unwrap_or_else(|| panic!("no SLO for notes: {}", reply.body))
}

fn an_uptime_monitor_leaves_the_apps_counts_and_slo_unchanged() {
    let hub = fleet(Options::default());
    let app = hub.app();
    for _ in 0..3 {
        assert_eq!(app.get("/notes").status, 200);
    }
    // One failure in four: 100 successful checks counted as traffic would hide it.
    assert_eq!(app.get("/export?fail=1").status, 500);
    let at = now_ms();
    deliver(&hub, at);
    let before = notes_slo(&hub);
    let checks_before = hub.get("/metrics").sample("vigil_health_checks_total");
    for _ in 0..100 {
        assert_eq!(app.get("/_vigil/readyz").status, 200);
    }
    deliver(&hub, at + MINUTE);
    let metrics = hub.get("/metrics");
    let total: f64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("vigil_http_requests_total{service=\"notes\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 4.0, "{}", metrics.body);
    let checks = metrics.sample("vigil_health_checks_total").unwrap_or(0.0);
    assert_eq!(
        checks - checks_before.unwrap_or(0.0),
        100.0,
        "{}",
        metrics.body
    );
    let after = notes_slo(&hub);
    assert_eq!(before["sli30d"], 0.75, "{before}");
    for field in ["sli30d", "errorBudgetRemaining"] {
        assert_eq!(
            before[field], after[field],
            "{field}: {before} then {after}"
        );
    }
}

fn counts_reach_the_hub_without_the_apps_cron() {
    let hub = fleet(Options::default());
    let app = hub.app();
    assert_eq!(app.get("/notes").status, 200);
    // No scheduled event reaches the application (wrangler dev never fires one): its isolate
    // ships on its own within the flush interval (10 s) of its first unshipped count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let series =
        r#"vigil_http_requests_total{service="notes",route="/notes",method="GET",code="200"}"#;
    loop {
        hub.run_cron(now_ms());
        if hub.get("/metrics").sample(series) == Some(1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the count never reached the hub:\n{}",
            app.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
