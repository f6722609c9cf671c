//! Notification routing end to end: named receivers on loopback (PagerDuty, Slack and webhook
//! receivers are real HTTP servers), routes, the local `send_email` binding, and failing probes
//! as the alerts, with the cron's clock driven through the scheduled handler.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::{now_ms, Options, Worker};
use crate::notifications::only;
use crate::receiver::{Behavior, Received, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    pages_and_tickets_reach_their_own_receivers_and_a_service_route_wins,
    bad_receivers_and_routes_are_named_and_alerts_still_reach_the_default_route,
    without_the_send_email_binding_mail_waits_in_the_outbox_with_a_clear_error,
);

pub const MINUTE: u64 = 60_000;
const PD_KEY: &str = "it-pd-routing-key";

/// A hub checking `probes` (name → URL, failing after one bad check) with `rules`, and `vars`
/// and `secrets` besides.
pub fn hub(
    probes: &[(&str, String)],
    rules: String,
    vars: Vec<(&'static str, String)>,
    secrets: Vec<(&'static str, String)>,
) -> Worker {
    Worker::start(options(probes, rules, vars, secrets))
}

fn options(
    probes: &[(&str, String)],
    rules: String,
    vars: Vec<(&'static str, String)>,
    mut secrets: Vec<(&'static str, String)>,
) -> Options {
    let probes: Vec<String> = probes
        .iter()
        .map(|(name, url)| {
            format!(
                r#"{{"name": "{name}", "url": "{url}", "failure_threshold": 1, "timeout": "2s"}}"#
            )
        })
        .collect();
    secrets.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    let mut all = vec![
        ("PROBES", format!("[{}]", probes.join(", "))),
        ("ALERT_RULES", rules),
        ("SUBREQUEST_BUDGET", "200".into()),
    ];
    all.extend(vars);
    Options {
        vars: all,
        secrets,
        ..Options::default()
    }
}

/// A `probe_down` rule firing at once for the probes `match` selects, with `labels`.
pub fn probe_rule(id: &str, severity: &str, matchers: &str, labels: &str) -> String {
    format!(
        r#"{{"id": "{id}", "kind": "probe_down", "for": "0s", "severity": "{severity}",
            "match": {matchers}, "labels": {labels},
            "annotations": {{"summary": "{id} fired",
                            "runbook_url": "https://runbooks.example/{id}.md"}}}}"#
    )
}

/// `/api/alerts`.
pub fn api_alerts(worker: &Worker) -> Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    worker
        .request("GET", "/api/alerts", &[("Authorization", &auth)])
        .json()
}

/// The first instance of rule `id` in `/api/alerts`.
pub fn instance_of(alerts: &Value, id: &str) -> Value {
    let rules = alerts["rules"].as_array().cloned().unwrap_or_default();
    let rule = rules.iter().find(|r| r["rule"]["id"] == id);
    rule.map(|r| r["instances"][0].clone())
        .unwrap_or_else(|| panic!("no instance of {id}: {alerts}"))
}

/// What the receiver got on `path`.
pub fn on(receiver: &Receiver, path: &str) -> Vec<Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with(path))
        .collect()
}

fn pages_and_tickets_reach_their_own_receivers_and_a_service_route_wins() {
    let target = Receiver::start(Behavior::Status(503));
    let inbox = Receiver::start(Behavior::Status(200));
    let receivers = format!(
        r#"[{{"name": "pager", "type": "pagerduty", "routing_key": "secret:PD_KEY",
              "events_url": "{0}/v2/enqueue"}},
            {{"name": "slack-critical", "type": "slack", "url": "secret:SLACK_CRITICAL"}},
            {{"name": "monitoring", "type": "slack", "url": "{0}/monitoring"}},
            {{"name": "team-api", "type": "webhook", "url": "{0}/team-api"}},
            {{"name": "oncall-mail", "type": "email", "to": ["oncall@example.com"]}}]"#,
        inbox.url
    );
    let routes = r#"[
        {"match": {"service": "api"}, "receivers": ["team-api"]},
        {"match": {"severity": "page"}, "receivers": ["pager", "slack-critical", "oncall-mail"]},
        {"match_re": {"severity": "ticket|info"}, "receivers": ["monitoring"]}]"#;
    let rules = only(
        &[
            r#"{"id": "probe-down", "disabled": true}"#.to_string(),
            probe_rule("www-down", "page", r#"{"probe": "www"}"#, "{}"),
            probe_rule("db-slow", "ticket", r#"{"probe": "db"}"#, "{}"),
            probe_rule(
                "api-down",
                "page",
                r#"{"probe": "api"}"#,
                r#"{"service": "api"}"#,
            ),
        ]
        .join(", "),
    );
    let probes = ["www", "db", "api"].map(|p| (p, format!("{}/{p}", target.url)));
    let hub = hub(
        &probes,
        rules,
        vec![
            ("RECEIVERS", receivers),
            ("NOTIFY_ROUTES", routes.into()),
            ("INHIBIT_RULES", "[]".into()),
            ("EMAIL_FROM", "vigil@example.com".into()),
        ],
        vec![
            ("PD_KEY", PD_KEY.into()),
            (
                "SLACK_CRITICAL",
                format!("{}/slack-critical/T0/SLACKSECRET", inbox.url),
            ),
        ],
    );
    hub.run_cron(now_ms());

    let names = |got: Vec<Received>| -> Vec<String> {
        let alertname = |r: &Received| {
            let body = r.json();
            let pd = body["payload"]["summary"].as_str().map(str::to_string);
            let hook = body["alerts"][0]["labels"]["alertname"]
                .as_str()
                .map(str::to_string);
            let slack = body["text"].as_str().map(str::to_string);
            pd.or(hook).or(slack).unwrap_or_default()
        };
        got.iter().map(alertname).collect()
    };
    let pager = names(on(&inbox, "/v2/enqueue"));
    assert_eq!(pager.len(), 1, "{pager:?}");
    assert!(pager[0].starts_with("www-down"), "{pager:?}");
    let critical = names(on(&inbox, "/slack-critical/"));
    assert_eq!(critical.len(), 1, "{critical:?}");
    assert!(critical[0].contains("www-down"), "{critical:?}");
    let monitoring = names(on(&inbox, "/monitoring"));
    assert_eq!(monitoring.len(), 1, "{monitoring:?}");
    assert!(monitoring[0].contains("db-slow"), "{monitoring:?}");
    assert_eq!(names(on(&inbox, "/team-api")), ["api-down"]);
    assert_eq!(on(&inbox, "/v2/enqueue")[0].json()["routing_key"], PD_KEY);

    let alerts = api_alerts(&hub);
    assert_eq!(
        instance_of(&alerts, "www-down")["receivers"],
        serde_json::json!(["pager", "slack-critical", "oncall-mail"])
    );
    assert_eq!(
        instance_of(&alerts, "db-slow")["receivers"],
        serde_json::json!(["monitoring"])
    );
    assert_eq!(
        instance_of(&alerts, "api-down")["receivers"],
        serde_json::json!(["team-api"])
    );
    let text = alerts.to_string();
    assert!(
        !text.contains("SLACKSECRET") && !text.contains(PD_KEY),
        "{text}"
    );
    assert!(!hub.logs().contains("SLACKSECRET") && !hub.logs().contains(PD_KEY));

    let [mail] = crate::mail::sent(&hub).try_into().expect("one mail");
    assert_eq!(mail.header("From"), "Vigil <vigil@example.com>");
    assert_eq!(mail.header("To"), "oncall@example.com");
    assert_eq!(
        mail.header("Subject"),
        "[FIRING:1] alertname=www-down probe=www service=vigil"
    );
    assert!(mail.header("Message-ID").ends_with("@example.com>"));
    assert!(mail
        .header("Content-Type")
        .starts_with("multipart/alternative"));
    for fact in [
        "Severity: page",
        "Summary: www-down fired",
        "Value: 1",
        "Service: vigil",
        "Started: 20",
        "Runbook: https://runbooks.example/www-down.md",
    ] {
        assert!(mail.text.contains(fact), "{fact} in {}", mail.text);
    }
    assert!(mail
        .html
        .contains(r#"<a href="https://runbooks.example/www-down.md">"#));
}

fn bad_receivers_and_routes_are_named_and_alerts_still_reach_the_default_route() {
    let target = Receiver::start(Behavior::Status(503));
    let inbox = Receiver::start(Behavior::Status(200));
    let receivers = format!(
        r#"[{{"name": "good", "type": "slack", "url": "{}/good"}},
            {{"name": "pager", "type": "pagerduty", "routing_key": "secret:NOT_SET"}}]"#,
        inbox.url
    );
    let routes = r#"[
        {"match": {"severity": "page"}, "receivers": ["pager"]},
        {"match_re": {"probe": "(www"}, "receivers": ["good"]},
        {"match": {"severity": "page"}, "receivers": ["good"], "group_wait": "soon"}]"#;
    let hub = hub(
        &[("www", format!("{}/www", target.url))],
        only(""),
        vec![("RECEIVERS", receivers), ("NOTIFY_ROUTES", routes.into())],
        vec![
            ("WEBHOOK_URL", format!("{}/default", inbox.url)),
            ("WEBHOOK_SECRET", "it-secret".into()),
        ],
    );
    hub.run_cron(now_ms());

    let defaults = on(&inbox, "/default");
    assert_eq!(defaults.len(), 1, "{:?}", inbox.received());
    assert_eq!(
        defaults[0].json()["alerts"][0]["labels"]["alertname"],
        "probe-down"
    );
    assert!(on(&inbox, "/good").is_empty());

    let alerts = api_alerts(&hub);
    let errors: Vec<String> = alerts["notifications"]["routingErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    let expected = [
        r#"RECEIVERS[1] "pager": routing_key refers to the secret NOT_SET, which is not set"#,
        r#"NOTIFY_ROUTES[0]: receiver "pager" is not defined (defined: webhook, good)"#,
        r#"NOTIFY_ROUTES[1]: match_re "probe": invalid regex"#,
        r#"NOTIFY_ROUTES[2]: group_wait: invalid duration "soon""#,
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for (error, start) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(start),
            "{error:?} should start with {start:?}"
        );
    }
    assert_eq!(
        instance_of(&alerts, "probe-down")["receivers"],
        serde_json::json!(["webhook"])
    );
    let logged = hub.wait_for_log(|l| l["message"] == "notification routing entry skipped");
    let logged: BTreeMap<String, Value> = logged
        .into_iter()
        .map(|l| (l["error"]["message"].as_str().unwrap_or("").to_string(), l))
        .collect();
    for start in expected {
        assert!(
            logged.keys().any(|m| m.starts_with(start)),
            "{start} in {logged:?}"
        );
    }
}

fn without_the_send_email_binding_mail_waits_in_the_outbox_with_a_clear_error() {
    let target = Receiver::start(Behavior::Status(503));
    let receivers = r#"[{"name": "mail", "type": "email", "from": "vigil@example.com",
        "to": ["oncall@example.com"]}]"#;
    let routes = r#"[{"default": true, "receivers": ["mail"]}]"#;
    let vars = vec![
        ("RECEIVERS", receivers.into()),
        ("NOTIFY_ROUTES", routes.into()),
    ];
    let probes = [("www", format!("{}/www", target.url))];
    let hub = Worker::start(Options {
        without_bindings: vec!["EMAIL"],
        ..options(&probes, only(""), vars, vec![])
    });
    hub.run_cron(now_ms());

    let alerts = api_alerts(&hub);
    assert_eq!(
        instance_of(&alerts, "probe-down")["receivers"],
        serde_json::json!(["mail"])
    );
    let outbox = alerts["notifications"]["outbox"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mail = outbox.iter().find(|o| o["channel"] == "mail");
    let mail = mail.unwrap_or_else(|| panic!("no outbox entry for mail: {alerts}"));
    assert_eq!(mail["pending"], 1, "{mail}");
    let error = mail["lastError"].as_str().unwrap_or("");
    assert!(
        error.contains("the EMAIL send_email binding is missing"),
        "{mail}"
    );
    assert!(crate::mail::sent(&hub).is_empty());
}
