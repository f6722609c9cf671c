//! The example application (`examples/app`, a notes API that embeds Vigil) next to the hub:
//! its requests and D1 statements reach the hub's `/metrics` and alerts, its own health
//! endpoints reflect its bindings, and bad input or a missing hub cost it nothing.

use std::fs;

use crate::app::{App, AppOptions};
use crate::harness::{now_ms, Options, Reply, Worker};
use crate::receiver::{Behavior, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    requests_and_statements_reach_the_hub_counted_exactly,
    a_failing_route_fires_the_apps_alert_and_notifies,
    readiness_reflects_the_apps_bindings_and_custom_check,
    bad_input_to_the_app_is_bounded_and_never_logged,
    without_the_hub_the_app_keeps_serving_and_says_so,
);

const MINUTE: u64 = 60_000;

pub fn fleet(options: Options) -> Worker {
    let mut secrets = options.secrets.clone();
    secrets.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    Worker::start(Options {
        app: Some(AppOptions::default()),
        secrets,
        ..options
    })
}

/// Ships the application's counts and has the hub write them (its minute cron), so `/metrics`
/// shows them.
pub fn deliver(hub: &Worker, at_ms: u64) {
    hub.app().run_scheduled();
    hub.run_cron(at_ms);
}

fn create_note(app: &App, text: &str) -> i64 {
    let reply = app.post_json("/notes", &format!(r#"{{"text": "{text}"}}"#));
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_i64().expect("an id")
}

/// The application's access-log line for the request with `request_id`.
fn access_line(app: &App, request_id: &str) -> serde_json::Value {
    let lines = app.wait_for_log(|l| l["message"] == "request" && l["requestId"] == request_id);
    lines
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no access line for {request_id}:\n{}", app.logs()))
}

fn requests_and_statements_reach_the_hub_counted_exactly() {
    let hub = fleet(Options::default());
    let app = hub.app();
    let ids: Vec<i64> = (0..3)
        .map(|i| create_note(app, &format!("note {i}")))
        .collect();
    // The first read of each note misses the KV cache (one D1 statement), the next two hit it.
    for id in &ids {
        for _ in 0..3 {
            assert_eq!(app.get(&format!("/notes/{id}")).status, 200);
        }
    }
    assert_eq!(app.get("/notes").status, 200);
    assert_eq!(app.get("/notes/999999").status, 404);
    assert_eq!(app.get("/wp-login.php").status, 404);
    assert_eq!(app.get("/_vigil/readyz").status, 200);

    // d1Operations: what each request ran.
    let traced = |method: &str, path: &str, id: &str| {
        let reply = app.request(method, path, &[("X-Request-Id", id)]);
        assert_eq!(reply.header("x-request-id"), Some(id));
        assert!(reply
            .header("server-timing")
            .is_some_and(|t| t.contains("total;dur=")));
        access_line(app, id)
    };
    let hit = traced("GET", &format!("/notes/{}", ids[0]), "trace-hit");
    assert_eq!(
        (hit["route"].clone(), hit["d1Operations"].clone()),
        ("/notes/:id".into(), 0.into())
    );
    let list = traced("GET", "/notes", "trace-list");
    assert_eq!(list["d1Operations"], 1);
    let ready = traced("GET", "/_vigil/readyz", "trace-ready");
    assert_eq!(ready["d1Operations"], 1, "the d1 check's SELECT 1: {ready}");

    deliver(&hub, now_ms());
    let metrics = hub.get("/metrics");
    let requests = |route: &str, method: &str, code: u16| {
        metrics.sample(&format!(
            r#"vigil_http_requests_total{{service="notes",route="{route}",method="{method}",code="{code}"}}"#
        ))
    };
    assert_eq!(
        requests("/notes", "POST", 201),
        Some(3.0),
        "{}",
        metrics.body
    );
    assert_eq!(requests("/notes/:id", "GET", 200), Some(10.0));
    assert_eq!(requests("/notes/:id", "GET", 404), Some(1.0));
    assert_eq!(requests("/notes", "GET", 200), Some(2.0));
    assert_eq!(requests("unmatched", "GET", 404), Some(1.0));
    // Health checks are counted on their own, never as the application's traffic.
    assert_eq!(requests("/_vigil/readyz", "GET", 200), None);
    // Two here, and the harness's wait for `/_vigil/livez` to answer.
    let checks = metrics.sample("vigil_health_checks_total").unwrap_or(0.0);
    assert!(checks >= 2.0, "{}", metrics.body);
    for id in &ids {
        assert!(
            !metrics.body.contains(&format!("/notes/{id}\"")),
            "raw id label: {}",
            metrics.body
        );
    }
    assert!(!metrics.body.contains("wp-login"));

    // Statements: 3 inserts, 3 cache misses + 1 missing note, 2 lists, 2 readiness pings.
    let queries = metrics.sample(r#"vigil_d1_queries_total{service="notes",outcome="ok"}"#);
    assert_eq!(queries, Some(11.0), "{}", metrics.body);
    let timed = metrics.sample(r#"vigil_d1_query_duration_seconds_count{service="notes"}"#);
    assert_eq!(timed, Some(11.0));
    // Each INSERT writes its row and the AUTOINCREMENT sequence (D1's own figure).
    let written = metrics.sample(r#"vigil_d1_rows_written_total{service="notes"}"#);
    assert!(written.is_some_and(|w| w >= 3.0), "{}", metrics.body);
    let read = metrics.sample(r#"vigil_d1_rows_read_total{service="notes"}"#);
    assert!(read.is_some_and(|r| r >= 3.0), "{}", metrics.body);
    crate::harness::promtool_check(&metrics.body).expect("promtool accepts the exposition");
}

fn a_failing_route_fires_the_apps_alert_and_notifies() {
    let webhook = Receiver::start(Behavior::Status(200));
    let hub = fleet(Options {
        vars: vec![("WEBHOOK_URL", format!("{}/hook", webhook.url))],
        secrets: vec![("WEBHOOK_SECRET", "it-webhook-secret".into())],
        ..Options::default()
    });
    let app = hub.app();
    for _ in 0..10 {
        assert_eq!(app.get("/export").status, 200);
        let failed = app.get("/export?fail=1");
        assert_eq!(failed.status, 500, "{}", failed.body);
    }
    let t0 = now_ms();
    deliver(&hub, t0);
    hub.run_cron(t0 + 3 * MINUTE);

    let (firing, alerts) = hub.firing_alerts();
    assert!(
        firing.contains(&("high-error-ratio".into(), "notes".into())),
        "{firing:?}\n{alerts}"
    );
    assert!(
        firing.iter().all(|(_, service)| service == "notes"),
        "only the app's alerts fire: {firing:?}"
    );

    let calls = webhook.received();
    let notified = calls.iter().map(|c| c.json()).any(|p| {
        p["status"] == "firing"
            && p["alerts"][0]["labels"]["alertname"] == "high-error-ratio"
            && p["alerts"][0]["labels"]["service"] == "notes"
    });
    assert!(
        notified,
        "{:?}",
        calls.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
}

fn readiness_reflects_the_apps_bindings_and_custom_check() {
    let hub = Worker::start(Options {
        app: Some(AppOptions {
            without_bindings: vec!["CACHE"],
            unmigrated: true,
        }),
        ..Options::default()
    });
    let app = hub.app();
    let verbose = app.get("/_vigil/readyz?verbose");
    assert_eq!(verbose.status, 503, "{}", verbose.body);
    assert_eq!(
        verbose.body,
        "[+]d1 ok\n[-]kv failed: reason withheld\n[-]notes-schema failed: reason withheld\nreadyz check failed"
    );
    let excluded = app.get("/_vigil/readyz?exclude=kv&exclude=notes-schema");
    assert_eq!(excluded.status, 200, "{}", excluded.body);
    assert_eq!(app.get("/_vigil/readyz/d1").status, 200);
    let schema = app.get("/_vigil/readyz/notes-schema");
    assert_eq!(schema.status, 503);
    assert!(
        !schema.body.contains("migrations"),
        "reason withheld: {}",
        schema.body
    );
    assert_eq!(app.get("/_vigil/readyz/nonsense").status, 404);
    assert_eq!(
        app.get("/_vigil/livez").status,
        200,
        "liveness touches no binding"
    );

    let health = app.get("/_vigil/health");
    assert_eq!(health.status, 503);
    let body = health.json();
    assert_eq!(body["serviceId"], "notes");
    assert_eq!(body["checks"]["kv:responseTime"][0]["status"], "fail");
    assert_eq!(body["checks"]["d1:responseTime"][0]["status"], "pass");

    // The reasons are in the log.
    let failures = app.wait_for_log(|l| l["message"] == "readiness check failed");
    let reasons: Vec<String> = failures
        .iter()
        .map(|l| l["error"]["message"].to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("KV binding CACHE is not configured")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("apply the migrations")),
        "{reasons:?}"
    );
}

fn bad_input_to_the_app_is_bounded_and_never_logged() {
    let hub = fleet(Options::default());
    let app = hub.app();
    let huge = format!("/notes/{}", "x".repeat(8_000));
    let reply = app.get(&huge);
    assert_eq!(reply.status, 404);
    assert!(reply.body.len() < 2_000);

    let junk = app.request(
        "GET",
        "/notes",
        &[("X-Request-Id", "<script>alert(1)</script> ../../etc")],
    );
    let id = junk.header("x-request-id").unwrap_or_default().to_string();
    assert_eq!(id.len(), 36, "a fresh UUID replaces the junk id: {id}");

    // An unknown method is refused before the worker (501); a known one the router does not
    // serve is the application's answer (405), counted under the template.
    let brew = app.request("BREW", "/notes", &[]);
    assert!([404, 405, 501].contains(&brew.status), "{}", brew.status);
    let patch = app.request("PATCH", "/export", &[]);
    assert!([404, 405].contains(&patch.status), "{}", patch.status);
    let post = app.request("POST", "/_vigil/readyz", &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        post.header("content-type"),
        Some("application/problem+json")
    );

    let secret = "s3cr3t-token-value";
    let failed = app.request(
        "GET",
        &format!("/export?fail=1&token={secret}"),
        &[
            ("Authorization", &format!("Bearer {secret}")),
            ("X-Request-Id", "bad-input-500"),
        ],
    );
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        failed.body.len() < 1_000 && !failed.body.contains("simulated"),
        "{}",
        failed.body
    );
    let line = access_line(app, "bad-input-500");
    assert_eq!(line["level"], "error");
    assert_eq!(line["route"], "/export");
    assert!(
        line["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("simulated"),
        "{line}"
    );

    hub.app().run_scheduled();
    hub.run_cron(now_ms());
    let metrics = hub.get("/metrics");
    assert!(
        !metrics.body.contains("xxxxxxxx"),
        "no raw path becomes a label"
    );
    let patched = format!(
        r#"vigil_http_requests_total{{service="notes",route="/export",method="PATCH",code="{}"}}"#,
        patch.status
    );
    assert_eq!(metrics.sample(&patched), Some(1.0), "{}", metrics.body);
    assert!(!app.logs().contains(secret), "the secret reached the log");
    let panicked = app.logs().contains("panicked");
    assert!(!panicked, "{}", app.logs());
}

fn without_the_hub_the_app_keeps_serving_and_says_so() {
    let dir = std::env::temp_dir().join(format!("vigil-it-alone-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let app = App::start(&dir, &dir.join("registry"), &AppOptions::default());
    let id = create_note(&app, "kept");
    let read: Reply = app.get(&format!("/notes/{id}"));
    assert_eq!(read.status, 200, "{}", read.body);
    app.run_scheduled();
    let warned = app.wait_for_log(|l| l["error"]["type"] == "HubUnreachable");
    assert!(!warned.is_empty(), "{}", app.logs());
    let health = app.get("/_vigil/health");
    assert_eq!(health.status, 200, "{}", health.body);
    let body = health.json();
    assert_eq!(body["status"], "warn");
    assert_eq!(body["checks"]["vigil-hub:delivery"][0]["status"], "warn");
    assert_eq!(
        app.get("/_vigil/readyz").status,
        200,
        "the hub is not the app's dependency"
    );
    drop(app);
    let _ = fs::remove_dir_all(&dir);
}
