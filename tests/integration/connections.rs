//! The runtime allows an invocation six connections at once; local workerd allows any number.
//! Deliveries must stay within six by themselves.

use crate::harness::{now_ms, Options, Worker};
use crate::notifications::only;
use crate::receiver::{Behavior, Receiver};

crate::tests!(ten_pages_are_delivered_six_at_a_time);

fn ten_pages_are_delivered_six_at_a_time() {
    let target = Receiver::start(Behavior::Status(500));
    // PagerDuty gets one event per alert; each answer takes a second.
    let pagerduty = Receiver::start(Behavior::Slow(1_000));
    let probes: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"name": "p{i}", "url": "{}/p{i}", "failure_threshold": 1}}"#,
                target.url
            )
        })
        .collect();
    let hub = Worker::start(Options {
        vars: vec![
            ("PROBES", format!("[{}]", probes.join(", "))),
            ("ALERT_RULES", only("")),
            ("PAGERDUTY_EVENTS_URL", format!("{}/enqueue", pagerduty.url)),
        ],
        secrets: vec![("PAGERDUTY_ROUTING_KEY", "it-routing-key".into())],
        ..Options::default()
    });
    hub.run_cron(now_ms());
    let events = pagerduty.received();
    assert_eq!(events.len(), 10, "one event per probe: {events:?}");
    let most = pagerduty.most_in_flight();
    assert!((2..=6).contains(&most), "{most} deliveries at once");
    let metrics = hub.get("/metrics");
    let connections = r#"vigil_invocation_use{operation="cron",resource="connections"}"#;
    assert_eq!(metrics.sample(connections), Some(6.0), "{}", metrics.body);
}
