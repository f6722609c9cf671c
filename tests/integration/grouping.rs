//! Grouping and inhibition end to end: ten failing probes in one group of one route, and a page
//! muting its service's ticket, against real loopback receivers.

use crate::harness::now_ms;
use crate::notifications::only;
use crate::receiver::{Behavior, Received, Receiver};
use crate::routing::{api_alerts, hub, instance_of, on, probe_rule, MINUTE};

crate::tests!(
    ten_alerts_of_one_group_make_one_message_and_a_resolve_follows_in_the_next,
    a_ticket_stays_quiet_while_its_services_page_fires_and_notifies_once_it_resolves,
);

fn ten_alerts_of_one_group_make_one_message_and_a_resolve_follows_in_the_next() {
    let target = Receiver::start(Behavior::Status(503));
    let inbox = Receiver::start(Behavior::Status(200));
    let receivers = format!(
        r#"[{{"name": "pager", "type": "pagerduty", "routing_key": "it-key",
              "events_url": "{0}/v2/enqueue"}},
            {{"name": "slack-critical", "type": "slack", "url": "{0}/slack"}},
            {{"name": "hook", "type": "webhook", "url": "{0}/hook"}}]"#,
        inbox.url
    );
    let routes = r#"[{"match": {"alertname": "fleet-down"},
        "receivers": ["pager", "slack-critical", "hook"],
        "group_by": ["alertname"], "group_wait": "0s", "group_interval": "2m"}]"#;
    let rules = only(&format!(
        r#"{{"id": "probe-down", "disabled": true}}, {}"#,
        probe_rule("fleet-down", "page", "{}", "{}")
    ));
    let probes: Vec<(&str, String)> = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]
        .into_iter()
        .map(|p| (p, format!("{}/{p}", target.url)))
        .collect();
    let hub = hub(
        &probes,
        rules,
        vec![("RECEIVERS", receivers), ("NOTIFY_ROUTES", routes.into())],
        vec![],
    );
    let t0 = now_ms();
    hub.run_cron(t0);

    let [message] = on(&inbox, "/slack").try_into().expect("one Slack message");
    let message = message.json();
    assert_eq!(message["text"], "[FIRING:10] alertname=fleet-down");
    assert_eq!(message["attachments"].as_array().map(Vec::len), Some(10));
    let [call] = on(&inbox, "/hook").try_into().expect("one webhook call");
    let body = call.json();
    assert_eq!(body["alerts"].as_array().map(Vec::len), Some(10), "{body}");
    assert_eq!(
        body["groupLabels"],
        serde_json::json!({"alertname": "fleet-down"})
    );
    assert_eq!(body["receiver"], "hook");
    let events: Vec<serde_json::Value> = on(&inbox, "/v2/enqueue")
        .iter()
        .map(Received::json)
        .collect();
    assert_eq!(events.len(), 10, "one PagerDuty event per alert");
    let mut keys: Vec<&str> = events
        .iter()
        .filter_map(|e| e["dedup_key"].as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 10, "{keys:?}");

    // p0 recovers: PagerDuty hears at once; the group waits for its group_interval.
    target.set_path("/p0", Behavior::Status(200));
    hub.run_cron(t0 + MINUTE);
    let events = on(&inbox, "/v2/enqueue");
    assert_eq!(events.len(), 11);
    assert_eq!(events[10].json()["event_action"], "resolve");
    assert_eq!(
        on(&inbox, "/hook").len(),
        1,
        "held until the group's next slot"
    );
    assert_eq!(on(&inbox, "/slack").len(), 1);

    hub.run_cron(t0 + 2 * MINUTE);
    let calls = on(&inbox, "/hook");
    assert_eq!(calls.len(), 2, "the group's next notification");
    let next = calls[1].json();
    assert_eq!(next["status"], "resolved", "{next}");
    assert_eq!(next["alerts"].as_array().map(Vec::len), Some(1), "{next}");
    assert_eq!(next["alerts"][0]["labels"]["probe"], "p0");
    let slack = on(&inbox, "/slack");
    assert_eq!(slack.len(), 2);
    assert!(slack[1].body.contains("RESOLVED"), "{}", slack[1].body);
}

fn a_ticket_stays_quiet_while_its_services_page_fires_and_notifies_once_it_resolves() {
    let target = Receiver::start(Behavior::Status(503));
    let inbox = Receiver::start(Behavior::Status(200));
    let api = r#"{"service": "api"}"#;
    let rules = only(
        &[
            r#"{"id": "probe-down", "disabled": true}"#.to_string(),
            probe_rule("api-down", "page", r#"{"probe": "api-page"}"#, api),
            probe_rule("api-degraded", "ticket", r#"{"probe": "api-ticket"}"#, api),
            probe_rule(
                "www-degraded",
                "ticket",
                r#"{"probe": "www-ticket"}"#,
                r#"{"service": "www"}"#,
            ),
        ]
        .join(", "),
    );
    let probes =
        ["api-page", "api-ticket", "www-ticket"].map(|p| (p, format!("{}/{p}", target.url)));
    let hub = hub(
        &probes,
        rules,
        vec![],
        vec![
            ("WEBHOOK_URL", format!("{}/hook", inbox.url)),
            ("WEBHOOK_SECRET", "it-secret".into()),
        ],
    );
    let told = || -> Vec<(String, String)> {
        on(&inbox, "/hook")
            .iter()
            .map(|r| {
                let body = r.json();
                let name = body["alerts"][0]["labels"]["alertname"]
                    .as_str()
                    .unwrap_or("");
                (
                    name.to_string(),
                    body["status"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let t0 = now_ms();
    hub.run_cron(t0);
    let mut first = told();
    first.sort();
    let firing = |name: &str| (name.to_string(), "firing".to_string());
    assert_eq!(
        first,
        [firing("api-down"), firing("www-degraded")],
        "the api ticket is inhibited"
    );
    let alerts = api_alerts(&hub);
    assert_eq!(
        instance_of(&alerts, "api-degraded")["inhibited"],
        true,
        "{alerts}"
    );
    assert_eq!(instance_of(&alerts, "www-degraded")["inhibited"], false);

    hub.run_cron(t0 + MINUTE);
    assert_eq!(told().len(), 2, "still quiet while the page fires");

    target.set_path("/api-page", Behavior::Status(200));
    hub.run_cron(t0 + 2 * MINUTE);
    let mut after = told().split_off(2);
    after.sort();
    assert_eq!(
        after,
        [
            firing("api-degraded"),
            ("api-down".to_string(), "resolved".to_string())
        ],
        "the page resolved and the ticket, still firing, is heard"
    );
    hub.run_cron(t0 + 3 * MINUTE);
    assert_eq!(told().len(), 4, "once");
    let alerts = api_alerts(&hub);
    assert_eq!(
        instance_of(&alerts, "api-degraded")["inhibited"],
        false,
        "{alerts}"
    );
}
