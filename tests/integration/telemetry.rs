use std::io::{Read, Write};
use std::net::TcpStream;

use crate::shared;

crate::tests!(
    a_valid_request_id_is_echoed_and_an_invalid_one_replaced,
    junk_request_ids_get_a_new_id_and_one_intact_log_line,
    every_request_logs_exactly_one_access_line_with_its_fields,
    secrets_never_reach_the_logs,
);

fn a_valid_request_id_is_echoed_and_an_invalid_one_replaced() {
    let worker = shared();
    let kept = worker.request("GET", "/livez", &[("X-Request-Id", "abc.DEF_123-x")]);
    assert_eq!(kept.header("x-request-id"), Some("abc.DEF_123-x"));
    let replaced = worker.request("GET", "/livez", &[("X-Request-Id", "has space")]);
    let id = replaced.header("x-request-id").unwrap_or_default();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let fresh = worker.get("/livez");
    assert_ne!(fresh.header("x-request-id"), Some(id), "ids are not reused");
    assert!(fresh
        .header("server-timing")
        .unwrap_or_default()
        .contains("total;dur="));
}

/// Sends raw bytes, since HTTP clients refuse to send such headers.
fn raw_get(base: &str, path: &str, extra_header: &[u8]) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("worker listens");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n").into_bytes();
    request.extend_from_slice(extra_header);
    request.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&request).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn junk_request_ids_get_a_new_id_and_one_intact_log_line() {
    let worker = shared();
    let junk = format!("X-Request-Id: {}", "\u{1}<junk>{}".repeat(1500));
    let response = raw_get(&worker.base, "/livez?case=junk", junk.as_bytes());
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{}",
        &response[..response.len().min(300)]
    );
    let id = response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-request-id: ")
                .map(str::to_string)
        })
        .expect("X-Request-Id header");
    assert_eq!(id.trim().len(), 36, "a fresh UUID, not the junk: {id}");

    // A bare CR inside the value: either the proxy refuses the request, or the id is replaced.
    let response = raw_get(&worker.base, "/livez?case=cr", b"X-Request-Id: abc\rdef");
    assert!(!response.contains("abc\rdef"), "{response}");

    worker.wait_for_log(|l| l["path"] == "/livez" && l["query"] == "case=cr");
    let logs = worker.logs();
    let junk_lines: Vec<&str> = logs.lines().filter(|l| l.contains("case=junk")).collect();
    assert_eq!(junk_lines.len(), 1, "{junk_lines:?}");
    let line: serde_json::Value =
        serde_json::from_str(&junk_lines[0][junk_lines[0].find('{').unwrap()..])
            .expect("the access line is one JSON object");
    assert_eq!(line["requestId"].as_str().map(str::len), Some(36));
}

fn every_request_logs_exactly_one_access_line_with_its_fields() {
    let worker = shared();
    let id = "it-access-line";
    worker.request(
        "GET",
        "/readyz",
        &[("X-Request-Id", id), ("cf-ray", "ray-123")],
    );
    let lines = worker.wait_for_log(|l| l["requestId"] == id && l["message"] == "request");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    for field in [
        "timestamp",
        "level",
        "service",
        "environment",
        "version",
        "colo",
        "durationMs",
    ] {
        assert!(!line[field].is_null(), "{field} missing: {line}");
    }
    assert_eq!(line["rayId"], "ray-123");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/readyz");
    assert_eq!(line["status"], 200);
    assert_eq!(line["environment"], "test");
    // /readyz runs two D1 statements: `SELECT 1` and the migrations list.
    assert_eq!(line["d1Operations"], 2, "{line}");
    worker.request("GET", "/livez", &[("X-Request-Id", "it-livez-line")]);
    let livez =
        worker.wait_for_log(|l| l["requestId"] == "it-livez-line" && l["message"] == "request");
    assert_eq!(livez[0]["d1Operations"], 0, "liveness touches no binding");
}

fn secrets_never_reach_the_logs() {
    let worker = shared();
    worker.request(
        "GET",
        "/readyz?verbose&token=tok-SECRET-1&api_key=key-SECRET-2&password=pw-SECRET-3",
        &[
            ("Authorization", "Bearer auth-SECRET-4"),
            ("Cookie", "session=cookie-SECRET-5"),
            ("X-Request-Id", "it-secrets"),
        ],
    );
    worker.request(
        "GET",
        "/health/detailed",
        &[("Authorization", "Bearer auth-SECRET-6")],
    );
    let logged = worker.wait_for_log(|l| l["requestId"] == "it-secrets");
    assert_eq!(logged.len(), 1, "the request was logged once");
    worker.wait_for_log(|l| l["route"] == "/health/detailed" && l["status"] == 401);
    let logs = worker.logs();
    assert!(
        !logs.contains("SECRET"),
        "a secret leaked into the logs:\n{logs}"
    );
    assert!(!logs.contains(crate::ADMIN_TOKEN), "the admin token leaked");
}
