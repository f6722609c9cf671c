use super::heartbeats::{monitor_status, parse_heartbeats, LastPing, MonitorStatus};
use super::schedule::{schedule, SubrequestBudget};
use super::spec::{parse_probes, HeaderValue, ProbeMethod, ProbeSpec};
use super::state::{advance, LastCheck, ProbeState, ProbeStatus};
use super::verdict::{judge, CheckResult, Observation, Verdict};

fn probe(json: &str) -> ProbeSpec {
    parse_probes(&format!("[{json}]"))
        .expect("valid probe")
        .remove(0)
}

fn answer(status: u16, body: &str, latency_ms: f64) -> Result<Observation, String> {
    Ok(Observation {
        status,
        latency_ms,
        body: body.as_bytes().to_vec(),
        truncated: false,
    })
}

#[test]
fn a_probe_reads_with_defaults_and_secret_headers() {
    let spec = probe(
        r#"{"name": "api", "url": "https://api.example.com/health", "method": "post",
            "headers": {"Authorization": "secret:API_TOKEN", "X-Env": "prod"},
            "interval": "5m", "timeout": "2s",
            "expect": {"status": [200, 204], "body_contains": "pass", "max_latency": "1s"},
            "failure_threshold": 2, "public": true}"#,
    );
    assert_eq!(spec.method, ProbeMethod::Post);
    assert_eq!(
        spec.headers,
        [
            (
                "Authorization".into(),
                HeaderValue::Secret("API_TOKEN".into())
            ),
            ("X-Env".into(), HeaderValue::Plain("prod".into()))
        ]
    );
    assert_eq!((spec.interval_ms, spec.timeout_ms), (300_000, 2_000));
    assert_eq!((spec.failure_threshold, spec.success_threshold), (2, 1));
    assert_eq!(spec.expect.max_latency_ms, Some(1_000));
    assert_eq!(spec.max_redirects, 3);
    let plain = probe(r#"{"name": "web", "url": "http://127.0.0.1:9/"}"#);
    assert_eq!((plain.interval_ms, plain.timeout_ms), (60_000, 5_000));
    assert!(!plain.public && plain.expect.status.is_none());
}

#[test]
fn a_bad_probe_is_refused_naming_it_and_the_field() {
    let error = |json: &str| parse_probes(json).expect_err(json);
    let cases = [
        (r#"[{"name": "a", "url": "ftp://x"}]"#, "probe \"a\": `url`"),
        (r#"[{"name": "a b", "url": "http://x"}]"#, "`name`"),
        (
            r#"[{"name": "a", "url": "http://x", "interval": "90s"}]"#,
            "`interval`",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "timeout": "1m"}]"#,
            "`timeout`",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "method": "BREW"}]"#,
            "`method`",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "failure_threshold": 0}]"#,
            "failure_threshold",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "headers": {"A": "secret:"}}]"#,
            "secret name",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "expect": {"status": [999]}}]"#,
            "999",
        ),
        (
            r#"[{"name": "a", "url": "http://x", "treshold": 1}]"#,
            "treshold",
        ),
        (
            r#"[{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]"#,
            "twice",
        ),
        (r#"{"name": "a"}"#, "JSON array"),
    ];
    for (json, wanted) in cases {
        let message = error(json);
        assert!(message.contains(wanted), "{json}: {message}");
    }
}

#[test]
fn status_body_json_and_latency_are_judged_in_order() {
    let spec = probe(
        r#"{"name": "a", "url": "http://x", "expect": {"status": [200],
            "body_contains": "pass", "body_not_contains": "error",
            "json": {"status": "pass", "checks.0.up": true}, "max_latency": "500ms"}}"#,
    );
    let good = r#"{"status": "pass", "checks": [{"up": true}]}"#;
    let verdict = |status, body, ms| judge(&spec.expect, &answer(status, body, ms));
    assert_eq!(verdict(200, good, 20.0).result, CheckResult::Pass);
    let slow = verdict(200, good, 800.0);
    assert_eq!(slow.result, CheckResult::Slow);
    assert!(slow.reason.unwrap_or_default().contains("max_latency"));
    let reasons = [
        (verdict(500, good, 1.0), "HTTP 500 (expected [200])"),
        (verdict(200, "fail", 1.0), "does not contain \"pass\""),
        (verdict(200, "pass error", 1.0), "body contains \"error\""),
        (verdict(200, "pass", 1.0), "not JSON"),
        (
            verdict(200, r#"{"status": "pass", "checks": []}"#, 1.0),
            "checks.0.up is missing",
        ),
        (
            verdict(
                200,
                r#"{"status": "passed", "checks": [{"up": true}]}"#,
                1.0,
            ),
            "status is \"passed\" (expected \"pass\")",
        ),
    ];
    for (verdict, wanted) in reasons {
        assert_eq!(verdict.result, CheckResult::Fail, "{wanted}");
        let reason = verdict.reason.unwrap_or_default();
        assert!(reason.contains(wanted), "{reason} lacks {wanted}");
    }
    let unanswered = judge(&spec.expect, &Err("timeout after 5000 ms".into()));
    assert_eq!(unanswered, Verdict::fail("timeout after 5000 ms"));
}

#[test]
fn without_expectations_any_2xx_passes_and_a_cut_body_is_not_read_as_json() {
    let plain = probe(r#"{"name": "a", "url": "http://x"}"#);
    assert_eq!(
        judge(&plain.expect, &answer(204, "", 1.0)).result,
        CheckResult::Pass
    );
    let reason = judge(&plain.expect, &answer(301, "", 1.0)).reason;
    assert_eq!(reason.as_deref(), Some("HTTP 301 (expected 2xx)"));
    let json = probe(r#"{"name": "a", "url": "http://x", "expect": {"json": {"a": 1}}}"#);
    let cut = Ok(Observation {
        status: 200,
        latency_ms: 1.0,
        body: b"{\"a\": 1".to_vec(),
        truncated: true,
    });
    let verdict = judge(&json.expect, &cut);
    assert!(verdict
        .reason
        .unwrap_or_default()
        .contains("not read as JSON"));
}

fn check(at_ms: f64, result: CheckResult) -> LastCheck {
    LastCheck {
        at_ms,
        result,
        reason: None,
        duration_ms: 1.0,
        http_status: Some(200),
    }
}

#[test]
fn thresholds_debounce_down_and_up() {
    let spec = probe(
        r#"{"name": "a", "url": "http://x", "failure_threshold": 2, "success_threshold": 2}"#,
    );
    let mut state = ProbeState::default();
    let mut seen = Vec::new();
    use CheckResult::{Fail, Pass, Slow};
    for (i, result) in [Pass, Fail, Pass, Fail, Fail, Slow, Slow, Pass]
        .into_iter()
        .enumerate()
    {
        state = advance(&state, &spec, check(i as f64, result));
        seen.push(state.status);
    }
    use ProbeStatus::{Degraded, Down, Up};
    // One blip stays up; two failures in a row are down; two successes bring it back.
    assert_eq!(seen, [Up, Up, Up, Up, Down, Down, Degraded, Up]);
    assert_eq!(state.checks, [3, 2, 3]);
    assert_eq!(state.changed_ms, Some(7.0));
}

#[test]
fn a_new_probe_stays_unknown_until_it_passes_or_reaches_the_threshold() {
    let spec = probe(r#"{"name": "a", "url": "http://x", "failure_threshold": 3}"#);
    let once = advance(&ProbeState::default(), &spec, check(0.0, CheckResult::Fail));
    assert_eq!((once.status, once.failures), (ProbeStatus::Unknown, 1));
    let up = advance(&once, &spec, check(1.0, CheckResult::Pass));
    assert_eq!(
        (up.status, up.failures, up.successes),
        (ProbeStatus::Up, 0, 1)
    );
}

#[test]
fn the_schedule_runs_due_probes_most_overdue_first_within_capacity() {
    let specs: Vec<ProbeSpec> = (0..5)
        .map(|i| {
            probe(&format!(
                r#"{{"name": "p{i}", "url": "http://x", "interval": "2m"}}"#
            ))
        })
        .collect();
    let last = |name: &str| match name {
        "p0" => Some(1_000_000.0),       // checked 1 minute ago: not due
        "p1" => Some(1_060_000.0 - 3e5), // 5 minutes ago
        "p2" => Some(1_060_000.0 - 2e5), // 3m20s ago
        _ => None,                       // never
    };
    let plan = schedule(&specs, last, 1_060_000.0, 3);
    assert_eq!(plan.run, [3, 4, 1]);
    assert_eq!(plan.deferred, [2]);
    let all = schedule(&specs, |_| None, 0.0, 50);
    assert_eq!((all.run.len(), all.deferred.len()), (5, 0));
}

#[test]
fn the_budget_leaves_deliveries_a_floor_on_the_free_plan() {
    let free = SubrequestBudget { total: 50 };
    assert_eq!(free.for_probes(), 40);
    assert_eq!(free.for_notifications(40), 8);
    assert_eq!(free.for_notifications(3), 45);
    assert_eq!(SubrequestBudget { total: 5 }.for_probes(), 0);
}

#[test]
fn a_monitor_is_late_after_period_and_grace_and_failed_when_told() {
    let spec = parse_heartbeats(r#"[{"name": "backup", "period": "1d", "grace": "1h"}]"#)
        .expect("valid")
        .remove(0);
    let day = 86_400_000.0;
    let hour = 3_600_000.0;
    let ping = |at_ms, failed| Some(LastPing { at_ms, failed });
    assert_eq!(monitor_status(&spec, None, day), MonitorStatus::New);
    assert_eq!(
        monitor_status(&spec, ping(0.0, false), day + hour),
        MonitorStatus::Up
    );
    let late = monitor_status(&spec, ping(0.0, false), day + hour + 1.0);
    assert_eq!((late, late.down()), (MonitorStatus::Late, Some(true)));
    assert_eq!(
        monitor_status(&spec, ping(0.0, true), 1.0),
        MonitorStatus::Failed
    );
    assert_eq!(MonitorStatus::New.down(), None);
    for bad in [
        r#"[{"name": "x", "period": "0"}]"#,
        r#"[{"name": "x/y", "period": "1h"}]"#,
        r#"[{"name": "x", "period": "1h", "grace": "soon"}]"#,
        r#"[{"name": "x", "period": "1h"}, {"name": "x", "period": "2h"}]"#,
    ] {
        let message = parse_heartbeats(bad).expect_err(bad);
        assert!(message.contains("monitor \"x"), "{bad}: {message}");
    }
}
