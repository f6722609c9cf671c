use super::*;
use crate::alerting::instances::{Instance, SubjectKind};
use crate::alerting::rules::builtin_rules;
use crate::config::Secret;
use crate::notify::receivers::{Receiver, Target};
use crate::notify::routing::Routing;

const ORIGIN: Origin<'static> = Origin {
    service: "vigil",
    environment: "test",
};

/// `plan` for the instance of [`row`] that moved to `state` through `transition`.
fn plan_for(
    state: &AlertState,
    transition: Option<Transition>,
    silenced: bool,
    receivers: &[Receiver],
    now_ms: f64,
) -> Vec<Planned> {
    let row = row();
    let (subject, origin) = (row.subject(), &ORIGIN);
    let names = receivers.iter().map(|r| r.name.clone()).collect();
    let (routing, _) = Routing::parse(None, None, receivers, names);
    let destinations = routing.destinations(&alert_labels(subject, origin), receivers);
    let step = Step {
        announced: announcement(state, transition, silenced, now_ms),
        silenced,
        previous_eval_ms: Some(now_ms - 60_000.0),
        now_ms,
    };
    plan(subject, state, step, &destinations, origin)
}

/// A receiver of each kind that takes HTTP requests, named after its kind.
fn all() -> Vec<Receiver> {
    let url = || Secret::new("http://127.0.0.1:9/");
    [
        Target::Slack { url: url() },
        Target::Webhook {
            url: url(),
            signing_secret: None,
        },
        Target::PagerDuty {
            routing_key: url(),
            events_url: "http://127.0.0.1:9/".into(),
        },
        Target::Alertmanager { url: url() },
    ]
    .into_iter()
    .map(|target| Receiver {
        name: target.channel().as_str().into(),
        target,
    })
    .collect()
}

fn only(name: &str) -> Vec<Receiver> {
    all().into_iter().filter(|r| r.name == name).collect()
}

/// An instance firing since `fired_at`, whose firing receivers have heard.
fn firing_state(fired_at: f64) -> AlertState {
    AlertState {
        phase: AlertPhase::Firing,
        active_since_ms: Some(fired_at - 120_000.0),
        fired_at_ms: Some(fired_at),
        last_value: 0.5,
        last_sent: Some(NotificationKind::Firing),
        ..AlertState::default()
    }
}

/// The same instance in the run it starts firing: receivers have heard nothing yet.
fn just_fired(fired_at: f64) -> AlertState {
    AlertState {
        last_sent: None,
        ..firing_state(fired_at)
    }
}

/// The stored row of the first built-in rule's instance for service `api`.
fn row() -> AlertRow {
    let rule = builtin_rules(Some("https://runbooks.example"))
        .into_iter()
        .next()
        .expect("built-in rules exist");
    let instance = Instance {
        rule: &rule,
        subject: Some((SubjectKind::Service, "api")),
    };
    AlertRow {
        alert_key: instance.key(),
        rule_id: rule.id.clone(),
        severity: rule.severity,
        labels: instance.labels(),
        annotations: rule.annotations.clone(),
        state: AlertState::default(),
    }
}

#[test]
fn firing_goes_to_every_channel_once_with_a_key_from_the_firing_time() {
    let planned = plan_for(
        &just_fired(600_000.0),
        Some(Transition::Firing),
        false,
        &all(),
        600_000.0,
    );
    assert_eq!(planned.len(), 4);
    for p in &planned {
        assert_eq!(p.notification.kind, NotificationKind::Firing);
        assert!(p.dedup_key.ends_with("/firing/600000"), "{}", p.dedup_key);
        assert_eq!(p.notification.starts_at_ms, 480_000.0);
    }
}

#[test]
fn while_firing_only_alertmanager_is_refreshed_every_run() {
    let planned = plan_for(&firing_state(0.0), None, false, &all(), 60_000.0);
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].receiver, "alertmanager");
    assert_eq!(planned[0].notification.kind, NotificationKind::Repeat);
    assert!(planned[0].refresh, "one row per episode, re-armed");
    let later = plan_for(&firing_state(0.0), None, false, &all(), 120_000.0);
    assert_eq!(later[0].dedup_key, planned[0].dedup_key, "the same row");
    assert!(
        planned[0].dedup_key.ends_with("/refresh/0"),
        "{}",
        planned[0].dedup_key
    );
}

#[test]
fn reminders_skip_alertmanager_which_is_refreshed_anyway() {
    let planned = plan_for(
        &firing_state(0.0),
        Some(Transition::Repeat),
        false,
        &all(),
        60_000.0,
    );
    assert_eq!(planned.len(), 4);
    assert_eq!(
        planned
            .iter()
            .filter(|p| p.receiver == "alertmanager")
            .count(),
        1
    );
}

#[test]
fn resolved_carries_its_end_time_and_pending_notifies_nobody() {
    let resolved = AlertState {
        phase: AlertPhase::Resolved,
        resolved_at_ms: Some(900_000.0),
        ..firing_state(0.0)
    };
    let planned = plan_for(
        &resolved,
        Some(Transition::Resolved),
        false,
        &only("pagerduty"),
        900_000.0,
    );
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].notification.ends_at_ms, Some(900_000.0));
    assert!(planned[0].dedup_key.ends_with("/resolved/900000"));

    let pending = AlertState {
        phase: AlertPhase::Pending,
        ..AlertState::default()
    };
    assert!(plan_for(&pending, Some(Transition::Pending), false, &all(), 0.0).is_empty());
}

#[test]
fn a_silenced_instance_is_told_nothing_and_its_state_once_the_silence_ends() {
    let during = plan_for(
        &just_fired(600_000.0),
        Some(Transition::Firing),
        true,
        &all(),
        600_000.0,
    );
    assert!(during.is_empty(), "{during:?}");
    // Still firing when the silence ends, a few runs later: firing, once, keyed as before.
    let after = plan_for(&just_fired(600_000.0), None, false, &all(), 900_000.0);
    assert_eq!(after.len(), 4);
    assert!(after
        .iter()
        .all(|p| p.dedup_key.ends_with("/firing/600000")));
    // Fired and resolved within the silence: receivers never heard it fire, so nothing.
    let quiet = AlertState {
        phase: AlertPhase::Resolved,
        resolved_at_ms: Some(700_000.0),
        ..just_fired(600_000.0)
    };
    assert!(plan_for(&quiet, None, false, &all(), 900_000.0).is_empty());
    // Resolved within a silence after receivers heard it fire: the resolve follows.
    let resolved = AlertState {
        phase: AlertPhase::Resolved,
        resolved_at_ms: Some(700_000.0),
        ..firing_state(600_000.0)
    };
    let after = plan_for(&resolved, None, false, &all(), 9e5);
    assert_eq!(after.len(), 4);
    assert!(after
        .iter()
        .all(|p| p.notification.kind == NotificationKind::Resolved));
}

#[test]
fn a_route_with_its_own_repeat_interval_reminds_at_its_pace_only() {
    let receivers = only("slack");
    let text =
        r#"[{"match": {"service": "api"}, "receivers": ["slack"], "repeat_interval": "10m"}]"#;
    let (routing, problems) = Routing::parse(Some(text), None, &receivers, vec![]);
    assert_eq!(problems, vec![]);
    let subject_row = row();
    let subject = subject_row.subject();
    let destinations = routing.destinations(&alert_labels(subject, &ORIGIN), &receivers);
    let state = firing_state(0.0);
    let at = |now_ms: f64, announced| {
        let step = Step {
            announced,
            silenced: false,
            previous_eval_ms: Some(now_ms - 60_000.0),
            now_ms,
        };
        plan(subject, &state, step, &destinations, &ORIGIN)
    };
    assert!(at(540_000.0, None).is_empty());
    let due = at(600_000.0, None);
    assert_eq!(due.len(), 1);
    assert!(
        due[0].dedup_key.ends_with("/repeat/600000"),
        "{}",
        due[0].dedup_key
    );
    assert!(at(660_000.0, None).is_empty());
    assert_eq!(
        at(1_230_000.0, None).len(),
        1,
        "the second reminder at 20m, seen by 20m30s"
    );
    // The global reminder does not apply to this route.
    assert!(at(700_000.0, Some((NotificationKind::Repeat, 700_000.0))).is_empty());
}

#[test]
fn grouping_receivers_carry_their_group_and_the_others_do_not() {
    let planned = plan_for(
        &just_fired(600_000.0),
        Some(Transition::Firing),
        false,
        &all(),
        600_000.0,
    );
    let grouped: Vec<&str> = planned
        .iter()
        .filter(|p| p.group.is_some())
        .map(|p| p.receiver.as_str())
        .collect();
    assert_eq!(grouped, ["slack", "webhook"]);
    let key = planned[0]
        .group
        .as_ref()
        .map_or("", |(key, _)| key.as_str());
    assert!(key.contains("\"service\":\"api\""), "{key}");
}

#[test]
fn routes_see_the_labels_receivers_are_sent() {
    let row = row();
    for kind in [NotificationKind::Firing, NotificationKind::Resolved] {
        let sent = notification(row.subject(), &firing_state(0.0), kind, &ORIGIN);
        assert_eq!(alert_labels(row.subject(), &ORIGIN), sent.all_labels());
    }
    assert_eq!(alert_labels(row.subject(), &ORIGIN)["service"], "api");
}
