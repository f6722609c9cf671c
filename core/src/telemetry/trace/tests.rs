//! The mapping on trace items shaped as the runtime sends them: one captured from local
//! `workerd` (no script name, zero times), the others as production sends them.

use std::collections::BTreeMap;

use super::*;
use crate::http::templates::{RouteTemplates, UNMATCHED};

/// A fetch item exactly as local workerd delivered it to a tail consumer (headers and `cf`
/// shortened).
const LOCAL_FETCH: &str = r#"{"wallTime":0,"cpuTime":0,"truncated":false,"executionModel":"stateless","outcome":"ok","scriptName":null,"diagnosticsChannelEvents":[],"exceptions":[],"logs":[{"message":["hello","/users/42"],"level":"log","timestamp":1795477367277},{"message":["w"],"level":"warn","timestamp":1795477367279}],"eventTimestamp":1795477367277,"event":{"request":{"url":"http://127.0.0.1:9902/users/42?x=1","method":"GET","headers":{"accept":"*/*","host":"127.0.0.1:9902"},"cf":{"colo":"DFW","country":"US"}},"response":{"status":200}}}"#;

/// A production item: the script threw, so there is no response.
const THREW: &str = r#"{"scriptName":"api","outcome":"exception","cpuTime":12,"wallTime":40,"truncated":false,"eventTimestamp":1795477367277,"event":{"request":{"url":"https://api.example.com/orders/7f9c2ba4-e88f-4e8f-9c0a-1c2b3d4e5f60","method":"POST","headers":{}}},"exceptions":[{"name":"TypeError","message":"x is undefined","timestamp":1795477367280}],"logs":[{"level":"error","message":["boom"],"timestamp":1795477367279}]}"#;

fn item(script: &str, outcome: &str, event: &str) -> String {
    format!(
        r#"{{"scriptName":"{script}","outcome":"{outcome}","cpuTime":3,"wallTime":9,"truncated":false,"eventTimestamp":1795477367277,"event":{event},"exceptions":[],"logs":[]}}"#
    )
}

fn read(json: &str) -> TailBatch {
    let routes = BTreeMap::from([(
        "api".to_string(),
        RouteTemplates::parse(&["/users/:id", "/orders/:id"]).expect("valid templates"),
    )]);
    let context = TailContext {
        unnamed_service: "local-worker",
        routes: &routes,
    };
    read_batch(json, &context).expect("a JSON array")
}

fn one(json: &str) -> Invocation {
    let mut batch = read(&format!("[{json}]"));
    assert_eq!(batch.malformed, 0, "{json}");
    batch.invocations.remove(0)
}

#[test]
fn a_local_fetch_item_counts_under_the_unnamed_service_with_its_route_and_logs() {
    let invocation = one(LOCAL_FETCH);
    assert_eq!(invocation.service, "local-worker");
    assert_eq!(
        (invocation.event, invocation.outcome),
        (EventKind::Fetch, Outcome::Ok)
    );
    let request = invocation.request.expect("a response");
    // No templates for the unnamed service: ids are normalised away, the query dropped.
    assert_eq!(
        (
            request.route.as_str(),
            request.method.as_str(),
            request.code
        ),
        ("/users/:id", "GET", 200)
    );
    assert_eq!(
        invocation.logs,
        vec![(LogLevel::Log, 1), (LogLevel::Warn, 1)]
    );
    assert_eq!((invocation.cpu_ms, invocation.wall_ms), (0.0, 0.0));
}

#[test]
fn a_thrown_exception_is_counted_by_name_without_a_request() {
    let invocation = one(THREW);
    assert_eq!(invocation.service, "api");
    assert_eq!(invocation.outcome, Outcome::Exception);
    assert!(invocation.outcome.crashed());
    assert_eq!(invocation.request, None, "no response, no HTTP request");
    assert_eq!(invocation.exceptions, vec!["TypeError".to_string()]);
    assert_eq!(invocation.logs, vec![(LogLevel::Error, 1)]);
    assert_eq!((invocation.cpu_ms, invocation.wall_ms), (12.0, 40.0));
}

#[test]
fn routes_with_ids_collapse_to_the_service_templates() {
    let fetch = |url: &str, status: u16| {
        let event = format!(
            r#"{{"request":{{"url":"{url}","method":"GET","headers":{{}}}},"response":{{"status":{status}}}}}"#
        );
        one(&item("api", "ok", &event)).request.expect("a response")
    };
    assert_eq!(
        fetch("https://a.example/users/123", 200).route,
        "/users/:id"
    );
    assert_eq!(
        fetch("https://a.example/orders/ab12?x=1#y", 503).route,
        "/orders/:id"
    );
    assert_eq!(
        fetch("https://a.example/wp-login.php", 404).route,
        UNMATCHED
    );
    assert_eq!(
        fetch("https://a.example/teams/0f3e9a1b2c3d4e5f6a7b/members", 200).route,
        "/teams/:id/members",
        "no template matches: long hex ids normalised"
    );
    assert_eq!(fetch("https://a.example", 200).route, "/");
}

#[test]
fn every_event_type_is_told_apart_by_its_shape() {
    let cases = [
        (
            r#"{"cron":"* * * * *","scheduledTime":1795477367000}"#,
            EventKind::Scheduled,
        ),
        (r#"{"scheduledTime":1795477367000}"#, EventKind::Alarm),
        (r#"{"queue":"jobs","batchSize":10}"#, EventKind::Queue),
        (
            r#"{"mailFrom":"a@example.com","rcptTo":"b@example.com","rawSize":120}"#,
            EventKind::Email,
        ),
        (r#"{"rpcMethod":"getUser"}"#, EventKind::Rpc),
        (
            r#"{"consumedEvents":[{"scriptName":"api"}]}"#,
            EventKind::Tail,
        ),
        (
            r#"{"getWebSocketEvent":{"webSocketEventType":"message"}}"#,
            EventKind::Websocket,
        ),
        (
            r#"{"request":{"url":"https://x/","method":"GET","headers":{}}}"#,
            EventKind::Fetch,
        ),
        ("{}", EventKind::Unknown),
        ("null", EventKind::Unknown),
    ];
    for (event, kind) in cases {
        let invocation = one(&item("api", "ok", event));
        assert_eq!(invocation.event, kind, "{event}");
        assert_eq!(invocation.request, None, "{event}");
    }
}

#[test]
fn every_runtime_outcome_keeps_its_name_and_others_read_as_unknown() {
    for outcome in Outcome::ALL {
        let invocation = one(&item("api", outcome.as_str(), "null"));
        assert_eq!(invocation.outcome, outcome);
    }
    assert_eq!(
        one(&item("api", "exceededWallTime", "null")).outcome,
        Outcome::Unknown
    );
    let crashed: Vec<&str> = Outcome::ALL
        .into_iter()
        .filter(|o| o.crashed())
        .map(Outcome::as_str)
        .collect();
    assert_eq!(crashed, ["exception", "exceededCpu", "exceededMemory"]);
}

#[test]
fn a_truncated_item_is_still_counted() {
    let json = LOCAL_FETCH.replace(r#""truncated":false"#, r#""truncated":true"#);
    let invocation = one(&json);
    assert!(invocation.truncated);
    assert_eq!(invocation.request.map(|r| r.code), Some(200));
}

#[test]
fn odd_fields_fall_back_to_safe_values() {
    let json = r#"{"scriptName":"","outcome":null,"cpuTime":-5,"wallTime":null,"eventTimestamp":null,"event":{"request":{"url":"/x","method":"BREW"},"response":{"status":42}},"exceptions":[{"name":"<script>"},{"name":""},{}],"logs":[{"level":"trace"},{}]}"#;
    let invocation = one(json);
    assert_eq!(invocation.service, "local-worker", "empty script name");
    assert_eq!(invocation.outcome, Outcome::Unknown);
    assert_eq!((invocation.cpu_ms, invocation.wall_ms), (0.0, 0.0));
    assert_eq!(invocation.request, None, "status 42 is no HTTP response");
    assert_eq!(invocation.exceptions, vec!["other"; 3]);
    assert_eq!(invocation.logs, vec![(LogLevel::Unknown, 2)]);
    let long = item(&"s".repeat(300), "ok", "null");
    assert_eq!(one(&long).service, "local-worker", "over-long script name");
}

#[test]
fn malformed_items_are_skipped_and_counted_and_non_arrays_refused() {
    let json = format!(
        r#"[{LOCAL_FETCH}, 42, "x", {{}}, {{"outcome": 7, "eventTimestamp": 1}}, {THREW}]"#
    );
    let batch = read(&json);
    assert_eq!(batch.invocations.len(), 2);
    assert_eq!(batch.malformed, 4);
    let context = TailContext {
        unnamed_service: "w",
        routes: &BTreeMap::new(),
    };
    assert!(read_batch("{\"a\":1}", &context).is_err());
    assert!(read_batch("[{", &context).is_err(), "truncated JSON");
    let huge = " ".repeat(MAX_BATCH_BYTES + 1);
    let err = read_batch(&huge, &context).unwrap_err();
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn thousands_of_items_with_large_logs_are_read_and_bounded() {
    let message = "x".repeat(500);
    let logs: Vec<String> = (0..20)
        .map(|_| format!(r#"{{"level":"log","message":["{message}"],"timestamp":1}}"#))
        .collect();
    let exceptions: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"name":"E{i}","message":"m"}}"#))
        .collect();
    let one_item = format!(
        r#"{{"scriptName":"api","outcome":"exception","eventTimestamp":1,"event":null,"logs":[{}],"exceptions":[{}]}}"#,
        logs.join(","),
        exceptions.join(",")
    );
    let json = format!("[{}]", vec![one_item; 2_000].join(","));
    assert!(json.len() > 20_000_000, "megabytes of logs");
    let batch = read(&json);
    assert_eq!(batch.invocations.len(), 2_000);
    let first = &batch.invocations[0];
    assert_eq!(first.logs, vec![(LogLevel::Log, 20)]);
    assert_eq!(first.exceptions.len(), MAX_EXCEPTIONS_PER_ITEM);
}
