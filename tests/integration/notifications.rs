use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::daemons::Daemon;
use crate::harness::{now_ms, Options, Worker};
use crate::receiver::{Behavior, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(
    a_firing_alert_reaches_every_receiver_once_and_its_resolution_follows,
    a_receiver_answering_500_gets_the_notification_on_a_later_run_exactly_once,
    a_hanging_receiver_costs_one_timeout_and_the_other_channels_still_deliver,
    overlapping_cron_runs_send_each_notification_once,
    a_real_alertmanager_shows_the_alert_while_firing_and_drops_it_once_resolved,
);

const MINUTE: u64 = 60_000;
const WEBHOOK_SECRET: &str = "it-webhook-secret";
const ROUTING_KEY: &str = "it-routing-key";

/// `ALERT_RULES` with `rules` (JSON objects, comma-separated) and every built-in they do not
/// redefine disabled, so a test reasons only about the alerts it defines.
pub fn only(rules: &str) -> String {
    let disabled = [
        "high-error-ratio",
        "high-latency-p95",
        "dependency-down",
        "cron-stale",
        "slo-availability-page",
        "slo-availability-ticket",
        "slo-latency-page",
        "slo-latency-ticket",
    ]
    .into_iter()
    .filter(|id| !rules.contains(&format!(r#""id": "{id}""#)))
    .map(|id| format!(r#"{{"id": "{id}", "disabled": true}}"#))
    .chain((!rules.is_empty()).then(|| rules.to_string()))
    .collect::<Vec<_>>()
    .join(", ");
    format!("[{disabled}]")
}

/// Only dependency-down, firing on the first failing run and resolving on the first good one,
/// so each test reasons about one alert.
fn rules() -> String {
    only(
        r#"{"id": "dependency-down", "kind": "dependency_down", "component": "any",
            "for": "0s", "keep_firing_for": "0s", "severity": "page",
            "annotations": {"summary": "A dependency is down <!channel> & more",
                            "runbook_url": "https://runbooks.example/dependency-down.md"}}"#,
    )
}

/// Options for an instance whose KV binding is missing (the fault) or present, with the given
/// receivers configured through secrets.
fn options(kv: bool, secrets: Vec<(&'static str, String)>) -> Options {
    let mut all = secrets;
    all.push(("ADMIN_TOKEN", ADMIN_TOKEN.into()));
    Options {
        without_bindings: if kv { vec![] } else { vec!["KV"] },
        vars: vec![
            ("ALERT_RULES", rules()),
            ("NOTIFY_TIMEOUT_MS", "1500".into()),
        ],
        secrets: all,
        ..Options::default()
    }
}

fn outbox(worker: &Worker, channel: &str) -> serde_json::Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let alerts = worker
        .request("GET", "/api/alerts", &[("Authorization", &auth)])
        .json();
    alerts["notifications"]["outbox"]
        .as_array()
        .and_then(|o| o.iter().find(|c| c["channel"] == channel).cloned())
        .unwrap_or_else(|| panic!("no outbox entry for {channel}: {alerts}"))
}

fn hmac_hex(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn a_firing_alert_reaches_every_receiver_once_and_its_resolution_follows() {
    let slack = Receiver::start(Behavior::Status(200));
    let webhook = Receiver::start(Behavior::Status(200));
    let pagerduty = Receiver::start(Behavior::Status(202));
    let secrets = vec![
        (
            "SLACK_WEBHOOK_URL",
            format!("{}/services/T0/B0/SLACKSECRET", slack.url),
        ),
        ("WEBHOOK_URL", format!("{}/hook", webhook.url)),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ("PAGERDUTY_ROUTING_KEY", ROUTING_KEY.into()),
        (
            "PAGERDUTY_EVENTS_URL",
            format!("{}/v2/enqueue", pagerduty.url),
        ),
    ];
    let worker = Worker::start(options(false, secrets.clone()));
    let t0 = now_ms();
    worker.run_cron(t0);

    let [slack_firing] = slack.received().try_into().expect("one Slack message");
    let text = slack_firing.body.clone();
    assert!(
        text.contains("&lt;!channel&gt; &amp; more"),
        "escaped: {text}"
    );
    assert!(
        !text.contains("<!channel>"),
        "cannot ping the channel: {text}"
    );
    let message = slack_firing.json();
    assert!(message["attachments"][0]["blocks"].is_array(), "{message}");
    assert!(message["attachments"][0]["color"].is_string(), "{message}");
    assert!(text.contains("https://runbooks.example/dependency-down.md"));

    let [hook_firing] = webhook.received().try_into().expect("one webhook call");
    assert_eq!(hook_firing.path, "/hook");
    let signature = hook_firing
        .headers
        .get("x-vigil-signature")
        .cloned()
        .unwrap_or_default();
    assert_eq!(signature, format!("sha256={}", hmac_hex(&hook_firing.body)));
    let payload = hook_firing.json();
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(
        payload["alerts"][0]["labels"]["alertname"],
        "dependency-down"
    );
    assert!(payload["alerts"][0]["fingerprint"].is_string());

    let [pd_trigger] = pagerduty
        .received()
        .try_into()
        .expect("one PagerDuty event");
    assert_eq!(pd_trigger.path, "/v2/enqueue");
    let trigger = pd_trigger.json();
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["payload"]["severity"], "critical");

    // A second run while still firing sends nothing new.
    worker.run_cron(t0 + MINUTE);
    assert_eq!(slack.received().len(), 1);

    // The fault is removed: the resolution reaches every receiver once.
    let worker = worker.restart(options(true, secrets));
    worker.run_cron(t0 + 2 * MINUTE);
    let slack_all = slack.received();
    assert_eq!(slack_all.len(), 2, "{slack_all:?}");
    let hooks = webhook.received();
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[1].json()["status"], "resolved");
    assert_eq!(
        hooks[1]
            .headers
            .get("x-vigil-signature")
            .cloned()
            .unwrap_or_default(),
        format!("sha256={}", hmac_hex(&hooks[1].body))
    );
    let events = pagerduty.received();
    assert_eq!(events.len(), 2);
    let resolve = events[1].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"], "same incident");

    let logs = worker.logs();
    assert!(
        !logs.contains("SLACKSECRET")
            && !logs.contains(ROUTING_KEY)
            && !logs.contains(WEBHOOK_SECRET)
    );
    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics.sample(r#"vigil_notifications_total{channel="slack",outcome="success"}"#),
        Some(2.0),
        "{}",
        metrics.body
    );
}

fn a_receiver_answering_500_gets_the_notification_on_a_later_run_exactly_once() {
    let slack = Receiver::start(Behavior::Status(500));
    let worker = Worker::start(options(
        false,
        vec![("SLACK_WEBHOOK_URL", slack.url.clone())],
    ));
    let t0 = now_ms();
    worker.run_cron(t0);
    assert_eq!(slack.received().len(), 1);
    let pending = outbox(&worker, "slack");
    assert_eq!(pending["pending"], 1, "{pending}");
    assert!(
        pending["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 500"),
        "{pending}"
    );
    let metrics = worker.get("/metrics");
    assert_eq!(
        metrics.sample(r#"vigil_notifications_total{channel="slack",outcome="failure"}"#),
        Some(1.0)
    );

    slack.set(Behavior::Status(200));
    worker.run_cron(t0 + MINUTE); // past the 30 s backoff
    worker.run_cron(t0 + 2 * MINUTE);
    let received = slack.received();
    assert_eq!(
        received.len(),
        2,
        "one failed attempt, one delivery: {received:?}"
    );
    assert_eq!(
        received[0].body, received[1].body,
        "the same notification, retried"
    );
    assert_eq!(outbox(&worker, "slack")["pending"], 0);
}

fn a_hanging_receiver_costs_one_timeout_and_the_other_channels_still_deliver() {
    let slack = Receiver::start(Behavior::Status(200));
    let webhook = Receiver::start(Behavior::Hang);
    let worker = Worker::start(options(
        false,
        vec![
            ("SLACK_WEBHOOK_URL", slack.url.clone()),
            ("WEBHOOK_URL", webhook.url.clone()),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ],
    ));
    worker.run_cron(now_ms());
    assert_eq!(
        slack.received().len(),
        1,
        "Slack delivered despite the hanging webhook"
    );
    assert_eq!(webhook.received().len(), 1);
    let stuck = outbox(&worker, "webhook");
    assert_eq!(stuck["pending"], 1, "kept for retry: {stuck}");
    assert!(
        stuck["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("timeout after 1500ms"),
        "{stuck}"
    );
}

fn overlapping_cron_runs_send_each_notification_once() {
    let slack = Receiver::start(Behavior::Status(200));
    let worker = Worker::start(options(
        false,
        vec![("SLACK_WEBHOOK_URL", slack.url.clone())],
    ));
    let t0 = now_ms();
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| worker.run_cron(t0));
        }
    });
    std::thread::scope(|scope| {
        for offset in [MINUTE, MINUTE + 1] {
            let worker = &worker;
            scope.spawn(move || worker.run_cron(t0 + offset));
        }
    });
    let received = slack.received();
    assert_eq!(received.len(), 1, "{received:?}");
}

/// Debian's Alertmanager on loopback, routing everything nowhere, with `config`.
pub fn alertmanager(config: &str) -> Daemon {
    Daemon::start(
        "prometheus-alertmanager",
        |dir| std::fs::write(dir.join("alertmanager.yml"), config).expect("config written"),
        |dir, port| {
            vec![
                "--config.file=alertmanager.yml".into(),
                format!("--storage.path={}", dir.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".into(),
            ]
        },
        "/-/ready",
    )
}

/// The alerts Alertmanager holds.
pub fn alerts_in(alertmanager: &Daemon) -> Vec<serde_json::Value> {
    let body: serde_json::Value = ureq::get(&format!("{}/api/v2/alerts", alertmanager.url))
        .call()
        .expect("Alertmanager answers")
        .into_json()
        .expect("JSON");
    body.as_array().cloned().unwrap_or_default()
}

fn a_real_alertmanager_shows_the_alert_while_firing_and_drops_it_once_resolved() {
    let alertmanager = alertmanager("route:\n  receiver: none\nreceivers:\n  - name: none\n");
    let secrets = vec![("ALERTMANAGER_URL", alertmanager.url.clone())];
    let worker = Worker::start(options(false, secrets.clone()));
    let t0 = now_ms();
    worker.run_cron(t0);
    let alerts = alerts_in(&alertmanager);
    let alert = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "dependency-down")
        .unwrap_or_else(|| panic!("alert in Alertmanager: {alerts:?}"));
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    assert_eq!(alert["labels"]["severity"], "page");

    // Alertmanager judges endsAt by its own clock, so the resolving run uses the real time.
    let worker = worker.restart(options(true, secrets));
    worker.run_cron(now_ms());
    let alerts = alerts_in(&alertmanager);
    assert!(
        alerts
            .iter()
            .all(|a| a["labels"]["alertname"] != "dependency-down"),
        "resolved alerts leave Alertmanager's list: {alerts:?}"
    );
}
