//! Notifications stay correct while receivers fail: in order per alert and channel, refreshed
//! rather than piled up, dead-lettered when the failure is permanent, and never dropped when a
//! rule disappears.

use crate::harness::{now_ms, Options, Worker};
use crate::notifications::only;
use crate::receiver::{Behavior, Received, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    pagerduty_down_while_an_alert_fires_and_resolves_gets_trigger_then_resolve_once_each,
    alertmanager_down_while_an_alert_fires_and_resolves_gets_firing_then_resolved_once_each,
    a_firing_alert_refreshes_alertmanager_every_run_without_adding_rows,
    a_receiver_answering_404_is_dead_lettered_after_five_attempts_and_stays_visible,
    a_firing_alert_whose_rule_is_removed_is_resolved_and_notified,
);

const MINUTE: u64 = 60_000;

/// `dependency-down` plus an optional extra rule, firing on the first failing run and resolving
/// on the first good one.
fn rules(extra: &str) -> String {
    only(&format!(
        r#"{{"id": "dependency-down", "kind": "dependency_down", "component": "any",
            "for": "0s", "keep_firing_for": "0s", "severity": "page"}}{extra}"#
    ))
}

fn options(kv: bool, alert_rules: String, secrets: Vec<(&'static str, String)>) -> Options {
    let mut all = secrets;
    all.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    Options {
        without_bindings: if kv { vec![] } else { vec!["KV"] },
        vars: vec![
            ("ALERT_RULES", alert_rules),
            ("NOTIFY_TIMEOUT_MS", "1500".into()),
        ],
        secrets: all,
        ..Options::default()
    }
}

fn admin_json(worker: &Worker, path: &str) -> serde_json::Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    worker
        .request("GET", path, &[("Authorization", &auth)])
        .json()
}

/// Fires while `receiver` answers 500, resolves while it still does, then lets it recover and
/// returns what it received after recovering.
fn fire_and_resolve_while_down(
    receiver: &Receiver,
    secrets: Vec<(&'static str, String)>,
) -> Vec<Received> {
    let worker = Worker::start(options(false, rules(""), secrets.clone()));
    let t0 = now_ms();
    worker.run_cron(t0); // fires; the first attempt fails
    let worker = worker.restart(options(true, rules(""), secrets));
    worker.run_cron(t0 + MINUTE); // resolves; the trigger is retried and fails again
    let while_down = receiver.received();
    assert!(!while_down.is_empty(), "attempts were made while down");
    receiver.set(Behavior::Status(202));
    for minute in [3, 4, 5, 6] {
        worker.run_cron(t0 + minute * MINUTE);
    }
    let all = receiver.received();
    all[while_down.len()..].to_vec()
}

fn pagerduty_down_while_an_alert_fires_and_resolves_gets_trigger_then_resolve_once_each() {
    let pagerduty = Receiver::start(Behavior::Status(500));
    let secrets = vec![
        ("PAGERDUTY_ROUTING_KEY", "it-routing-key".to_string()),
        (
            "PAGERDUTY_EVENTS_URL",
            format!("{}/v2/enqueue", pagerduty.url),
        ),
    ];
    let before = pagerduty.received().len();
    assert_eq!(before, 0);
    let after = fire_and_resolve_while_down(&pagerduty, secrets);
    let actions: Vec<String> = after
        .iter()
        .map(|r| r.json()["event_action"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(actions, ["trigger", "resolve"], "{after:?}");
    for attempt in pagerduty.received() {
        if attempt.json()["event_action"] == "resolve" {
            assert_eq!(
                attempt.body, after[1].body,
                "resolve sent once, after the trigger"
            );
        }
    }
}

fn alertmanager_down_while_an_alert_fires_and_resolves_gets_firing_then_resolved_once_each() {
    let alertmanager = Receiver::start(Behavior::Status(500));
    let secrets = vec![("ALERTMANAGER_URL", alertmanager.url.clone())];
    let after = fire_and_resolve_while_down(&alertmanager, secrets);
    // startsAt is the firing run (t0) and the alert resolved at t0 + 1 min: a firing alert's
    // endsAt lies 5 minutes past its delivery, a resolved one's is the resolve time.
    let span_ms = |r: &Received| {
        let alert = r.json()[0].clone();
        let at = |field: &str| {
            let text = alert[field].as_str().unwrap_or("").to_string();
            chrono::DateTime::parse_from_rfc3339(&text).map_or(0, |t| t.timestamp_millis())
        };
        assert_eq!(alert["labels"]["alertname"], "dependency-down");
        at("endsAt") - at("startsAt")
    };
    let spans: Vec<i64> = after.iter().map(span_ms).collect();
    assert_eq!(spans.len(), 2, "firing once, resolved once: {after:?}");
    assert!(spans[0] >= 5 * MINUTE as i64, "firing first: {spans:?}");
    assert_eq!(
        spans[1], MINUTE as i64,
        "then the resolve, never re-opened: {spans:?}"
    );
}

fn a_firing_alert_refreshes_alertmanager_every_run_without_adding_rows() {
    let alertmanager = Receiver::start(Behavior::Status(200));
    let secrets = vec![("ALERTMANAGER_URL", alertmanager.url.clone())];
    let worker = Worker::start(options(false, rules(""), secrets));
    let t0 = now_ms();
    for minute in 0..5 {
        worker.run_cron(t0 + minute * MINUTE);
    }
    assert_eq!(alertmanager.received().len(), 5, "sent on every run");
    let rows = worker.d1("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'alertmanager'");
    assert_eq!(
        rows[0]["n"], 2,
        "the firing row and one refresh row: {rows:?}"
    );
}

fn a_receiver_answering_404_is_dead_lettered_after_five_attempts_and_stays_visible() {
    let slack = Receiver::start(Behavior::Status(404));
    let secrets = vec![("SLACK_WEBHOOK_URL", slack.url.clone())];
    let worker = Worker::start(options(false, rules(""), secrets));
    let t0 = now_ms();
    // Backoff 30 s, 1, 2 and 4 min: attempts at 0, 1, 2, 4 and 8 minutes, then no more.
    for minute in [0, 1, 2, 4, 8, 9, 20, 40] {
        worker.run_cron(t0 + minute * MINUTE);
    }
    assert_eq!(
        slack.received().len(),
        5,
        "a handful of attempts, then none"
    );
    let alerts = admin_json(&worker, "/api/alerts");
    let outbox = &alerts["notifications"]["outbox"][0];
    assert_eq!(
        (outbox["channel"].as_str(), outbox["dead"].as_u64()),
        (Some("slack"), Some(1))
    );
    assert_eq!(outbox["pending"], 0, "{outbox}");
    assert!(outbox["lastError"]
        .as_str()
        .unwrap_or("")
        .contains("HTTP 404"));
    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics.sample(r#"vigil_notifications_dead_letter{channel="slack"}"#),
        Some(1.0),
        "{}",
        metrics.body
    );
    let detailed = admin_json(&worker, "/health/detailed");
    assert_eq!(detailed["notifications"]["status"], "warn", "{detailed}");
    let logs = worker.log_lines();
    assert!(logs.iter().any(|l| l["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("notification dead-lettered")));
}

fn a_firing_alert_whose_rule_is_removed_is_resolved_and_notified() {
    let webhook = Receiver::start(Behavior::Status(200));
    let secrets = vec![
        ("WEBHOOK_URL", webhook.url.clone()),
        ("WEBHOOK_SECRET", "it-secret".to_string()),
    ];
    // A page, like dependency-down: a ticket would be inhibited while that page fires.
    let kv_rule = r#", {"id": "kv-gone", "kind": "dependency_down", "component": "kv",
        "for": "0s", "severity": "page", "labels": {"team": "storage"}}"#;
    let worker = Worker::start(options(false, rules(kv_rule), secrets.clone()));
    let t0 = now_ms();
    worker.run_cron(t0);
    let fired = |r: &Received| r.json()["alerts"][0]["labels"]["alertname"] == "kv-gone";
    assert_eq!(webhook.received().iter().filter(|r| fired(r)).count(), 1);

    // The operator removes the rule while its alert fires (KV is still missing).
    let worker = worker.restart(options(false, rules(""), secrets));
    worker.run_cron(t0 + MINUTE);
    let kv: Vec<serde_json::Value> = webhook
        .received()
        .iter()
        .filter(|r| fired(r))
        .map(Received::json)
        .collect();
    assert_eq!(kv.len(), 2, "firing, then resolved: {kv:?}");
    assert_eq!(kv[1]["status"], "resolved");
    assert_eq!(
        kv[1]["alerts"][0]["labels"]["team"], "storage",
        "same labels"
    );
    worker.run_cron(t0 + 2 * MINUTE);
    let left = worker.d1("SELECT alert_key FROM alert_state WHERE rule_id = 'kv-gone'");
    assert!(
        left.is_empty(),
        "the resolved alert of a removed rule is dropped: {left:?}"
    );
}
