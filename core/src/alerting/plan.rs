//! What a rule's new state means for receivers: which notifications to enqueue, on which
//! channels, under which idempotency key. Pure, so "exactly one notification per transition per
//! channel" is decided (and tested) in one place.

use std::collections::BTreeMap;

use super::instances::SERVICE_LABEL;
use super::severity::Severity;
use super::state::{AlertPhase, AlertState, Transition};
use crate::notify::{AlertNotification, Channel, NotificationKind};
use crate::records::AlertRow;

/// What receivers are told an alert instance is: its identity, rule, severity, labels
/// (the instance's included) and annotations, as stored with its state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subject<'a> {
    /// The instance key: notifications of one instance share it.
    pub key: &'a str,
    /// The rule's id.
    pub alertname: &'a str,
    pub severity: Severity,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
}

impl AlertRow {
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            key: &self.alert_key,
            alertname: &self.rule_id,
            severity: self.severity,
            labels: &self.labels,
            annotations: &self.annotations,
        }
    }
}

/// Who this service is, for notification labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin<'a> {
    pub service: &'a str,
    pub environment: &'a str,
}

/// A notification for one channel and its idempotency key in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub channel: Channel,
    pub dedup_key: String,
    pub notification: AlertNotification,
    /// Replaces its earlier copy (same key) instead of adding a row: Alertmanager's refresh.
    pub refresh: bool,
}

/// What receivers are told about an instance this run, given its new `state` (whose
/// `last_sent` is still what they were last told): nothing while it is silenced; else firing
/// when it fires and they have not heard so, resolved when it no longer fires and they last heard
/// it firing, and a reminder on a `Repeat`. So a silence that ends sends the current state only
/// if it differs from the last one sent. Returns the kind and the time its idempotency key holds.
pub fn announcement(
    state: &AlertState,
    transition: Option<Transition>,
    silenced: bool,
    now_ms: f64,
) -> Option<(NotificationKind, f64)> {
    if silenced {
        return None;
    }
    let told_firing = state.last_sent == Some(NotificationKind::Firing);
    match (state.phase == AlertPhase::Firing, told_firing) {
        (true, false) => Some((
            NotificationKind::Firing,
            state.fired_at_ms.unwrap_or(now_ms),
        )),
        (false, true) => Some((
            NotificationKind::Resolved,
            state.resolved_at_ms.unwrap_or(now_ms),
        )),
        (true, true) if transition == Some(Transition::Repeat) => {
            Some((NotificationKind::Repeat, now_ms))
        }
        _ => None,
    }
}

/// The notifications due for an instance in `state` that receivers are told `announced` (see
/// [`announcement`]), one per channel.
///
/// Firing and resolved go to every channel once: the key holds the transition's own time, so
/// overlapping runs produce the same key and the outbox keeps one row. Alertmanager also gets
/// the firing alert again on every run (its `endsAt` must keep moving ahead, or it resolves the
/// alert by itself) through one refresh row per firing episode that each run re-arms, so the
/// outbox does not grow while an alert fires; it takes no `repeat_interval` reminders, the other
/// channels do. A silenced instance gets nothing, Alertmanager's refresh included.
pub fn plan(
    subject: Subject<'_>,
    state: &AlertState,
    announced: Option<(NotificationKind, f64)>,
    silenced: bool,
    channels: &[Channel],
    origin: &Origin<'_>,
    now_ms: f64,
) -> Vec<Planned> {
    let refresh_alertmanager = !silenced
        && state.phase == AlertPhase::Firing
        && state.last_sent == Some(NotificationKind::Firing);

    let mut planned = Vec::new();
    for &channel in channels {
        let due = match (channel, announced) {
            (Channel::Alertmanager, _) if refresh_alertmanager => {
                let episode = state.fired_at_ms.unwrap_or(now_ms);
                Some((NotificationKind::Repeat, "refresh", episode, true))
            }
            (Channel::Alertmanager, Some((NotificationKind::Repeat, _))) => None,
            (_, Some((kind, at))) => Some((kind, kind.as_str(), at, false)),
            (_, None) => None,
        };
        if let Some((kind, key_kind, at, refresh)) = due {
            planned.push(Planned {
                channel,
                dedup_key: format!("{}/{key_kind}/{}", subject.key, at as i64),
                notification: notification(subject, state, kind, origin),
                refresh,
            });
        }
    }
    planned
}

fn notification(
    subject: Subject<'_>,
    state: &AlertState,
    kind: NotificationKind,
    origin: &Origin<'_>,
) -> AlertNotification {
    AlertNotification {
        alertname: subject.alertname.to_string(),
        severity: subject.severity,
        kind,
        labels: subject.labels.clone(),
        annotations: subject.annotations.clone(),
        value: state.last_value,
        starts_at_ms: state
            .active_since_ms
            .or(state.fired_at_ms)
            .or(state.last_eval_ms)
            .unwrap_or(0.0),
        ends_at_ms: (kind == NotificationKind::Resolved)
            .then_some(state.resolved_at_ms)
            .flatten(),
        // An instance of a per-service rule is about its service, not the hub.
        service: subject
            .labels
            .get(SERVICE_LABEL)
            .map_or(origin.service, String::as_str)
            .to_string(),
        environment: origin.environment.to_string(),
        generator_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::instances::{Instance, SubjectKind};
    use crate::alerting::rules::builtin_rules;

    const ORIGIN: Origin<'static> = Origin {
        service: "vigil",
        environment: "test",
    };

    /// `plan` for an instance that moved to `state` through `transition`.
    fn plan_for(
        subject: Subject<'_>,
        state: &AlertState,
        transition: Option<Transition>,
        silenced: bool,
        channels: &[Channel],
        origin: &Origin<'_>,
        now_ms: f64,
    ) -> Vec<Planned> {
        let announced = announcement(state, transition, silenced, now_ms);
        plan(
            subject, state, announced, silenced, channels, origin, now_ms,
        )
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
            row().subject(),
            &just_fired(600_000.0),
            Some(Transition::Firing),
            false,
            &Channel::ALL,
            &ORIGIN,
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
        let planned = plan_for(
            row().subject(),
            &firing_state(0.0),
            None,
            false,
            &Channel::ALL,
            &ORIGIN,
            60_000.0,
        );
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].channel, Channel::Alertmanager);
        assert_eq!(planned[0].notification.kind, NotificationKind::Repeat);
        assert!(planned[0].refresh, "one row per episode, re-armed");
        let later = plan_for(
            row().subject(),
            &firing_state(0.0),
            None,
            false,
            &Channel::ALL,
            &ORIGIN,
            120_000.0,
        );
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
            row().subject(),
            &firing_state(0.0),
            Some(Transition::Repeat),
            false,
            &Channel::ALL,
            &ORIGIN,
            60_000.0,
        );
        assert_eq!(planned.len(), 4);
        assert_eq!(
            planned
                .iter()
                .filter(|p| p.channel == Channel::Alertmanager)
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
            row().subject(),
            &resolved,
            Some(Transition::Resolved),
            false,
            &[Channel::PagerDuty],
            &ORIGIN,
            900_000.0,
        );
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].notification.ends_at_ms, Some(900_000.0));
        assert!(planned[0].dedup_key.ends_with("/resolved/900000"));

        let pending = AlertState {
            phase: AlertPhase::Pending,
            ..AlertState::default()
        };
        assert!(plan_for(
            row().subject(),
            &pending,
            Some(Transition::Pending),
            false,
            &Channel::ALL,
            &ORIGIN,
            0.0
        )
        .is_empty());
    }

    #[test]
    fn a_silenced_instance_is_told_nothing_and_its_state_once_the_silence_ends() {
        let during = plan_for(
            row().subject(),
            &just_fired(600_000.0),
            Some(Transition::Firing),
            true,
            &Channel::ALL,
            &ORIGIN,
            600_000.0,
        );
        assert!(during.is_empty(), "{during:?}");
        // Still firing when the silence ends, a few runs later: firing, once, keyed as before.
        let after = plan_for(
            row().subject(),
            &just_fired(600_000.0),
            None,
            false,
            &Channel::ALL,
            &ORIGIN,
            900_000.0,
        );
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
        assert!(plan_for(
            row().subject(),
            &quiet,
            None,
            false,
            &Channel::ALL,
            &ORIGIN,
            900_000.0
        )
        .is_empty());
        // Resolved within a silence after receivers heard it fire: the resolve follows.
        let resolved = AlertState {
            phase: AlertPhase::Resolved,
            resolved_at_ms: Some(700_000.0),
            ..firing_state(600_000.0)
        };
        let after = plan_for(
            row().subject(),
            &resolved,
            None,
            false,
            &Channel::ALL,
            &ORIGIN,
            9e5,
        );
        assert_eq!(after.len(), 4);
        assert!(after
            .iter()
            .all(|p| p.notification.kind == NotificationKind::Resolved));
    }
}
