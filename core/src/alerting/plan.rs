//! What a rule's new state means for receivers: which notifications to enqueue, for which
//! receivers, under which idempotency key. Pure, so "exactly one notification per transition
//! per receiver" is decided (and tested) in one place.

use std::collections::BTreeMap;

use super::instances::SERVICE_LABEL;
use super::severity::Severity;
use super::state::{AlertPhase, AlertState, Transition};
use crate::notify::grouping::group_key;
use crate::notify::routing::{Destination, Timing};
use crate::notify::{with_own_labels, AlertNotification, Channel, NotificationKind};
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

/// A notification for one receiver and its idempotency key in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub receiver: String,
    pub dedup_key: String,
    pub notification: AlertNotification,
    /// Replaces its earlier copy (same key) instead of adding a row: Alertmanager's refresh.
    pub refresh: bool,
    /// For receivers that group: the group's key and timing, which decide when it goes out.
    pub group: Option<(String, Timing)>,
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

/// The labels routes and inhibition see for an instance: those receivers are told.
pub fn alert_labels(subject: Subject<'_>, origin: &Origin<'_>) -> BTreeMap<String, String> {
    let own = [
        ("alertname", subject.alertname),
        ("severity", subject.severity.as_str()),
        ("service", service(subject, origin)),
        ("environment", origin.environment),
    ];
    with_own_labels(subject.labels, own)
}

/// An instance of a per-service rule is about its service, not the hub.
fn service<'a>(subject: Subject<'a>, origin: &Origin<'a>) -> &'a str {
    subject
        .labels
        .get(SERVICE_LABEL)
        .map_or(origin.service, String::as_str)
}

/// What the pass knows about an instance's step beyond its new state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What receivers are told this run (see [`announcement`]).
    pub announced: Option<(NotificationKind, f64)>,
    pub silenced: bool,
    /// The evaluation before this one: a route's own reminders fall due in between.
    pub previous_eval_ms: Option<f64>,
    pub now_ms: f64,
}

/// The notifications due for an instance in `state`, one per destination.
///
/// Firing and resolved go to every destination once: the key holds the transition's own time,
/// so overlapping runs produce the same key and the outbox keeps one row. Alertmanager also
/// gets the firing alert again on every run (its `endsAt` must keep moving ahead, or it
/// resolves the alert by itself) through one refresh row per firing episode that each run
/// re-arms, so the outbox does not grow while an alert fires; it takes no reminders, the other
/// receivers do: every `REPEAT_INTERVAL_MINUTES`, or at their route's own `repeat_interval`
/// after the alert fired. A silenced (or inhibited) instance gets nothing, Alertmanager's
/// refresh included.
pub fn plan(
    subject: Subject<'_>,
    state: &AlertState,
    step: Step,
    destinations: &[Destination<'_>],
    origin: &Origin<'_>,
) -> Vec<Planned> {
    let told_firing = !step.silenced
        && state.phase == AlertPhase::Firing
        && state.last_sent == Some(NotificationKind::Firing);
    let episode = state.fired_at_ms.unwrap_or(step.now_ms);

    let mut planned = Vec::new();
    for destination in destinations {
        let channel = destination.receiver.target.channel();
        let own_repeat = destination.timing.repeat_interval_ms;
        let due = match (channel, step.announced) {
            (Channel::Alertmanager, _) if told_firing => {
                Some((NotificationKind::Repeat, "refresh", episode, true))
            }
            (Channel::Alertmanager, Some((NotificationKind::Repeat, _))) => None,
            (_, Some((NotificationKind::Repeat, _))) if own_repeat.is_some() => None,
            (_, Some((kind, at))) => Some((kind, kind.as_str(), at, false)),
            (_, None) if told_firing => own_repeat
                .and_then(|every| reminder_due(episode, every, step))
                .map(|at| (NotificationKind::Repeat, "repeat", at, false)),
            (_, None) => None,
        };
        if let Some((kind, key_kind, at, refresh)) = due {
            planned.push(Planned {
                receiver: destination.receiver.name.clone(),
                dedup_key: format!("{}/{key_kind}/{}", subject.key, at as i64),
                notification: notification(subject, state, kind, origin),
                refresh,
                group: channel
                    .groups()
                    .then(|| (group_key(&destination.group), destination.timing)),
            });
        }
    }
    planned
}

/// The reminder time (`fired + k × every`, k ≥ 1) that fell after the previous evaluation and
/// by now, if any: reminders need no state of their own.
fn reminder_due(fired_ms: f64, every_ms: f64, step: Step) -> Option<f64> {
    let k = ((step.now_ms - fired_ms) / every_ms).floor();
    let at = fired_ms + k * every_ms;
    (k >= 1.0 && step.previous_eval_ms.is_none_or(|previous| previous < at)).then_some(at)
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
        service: service(subject, origin).to_string(),
        environment: origin.environment.to_string(),
        generator_url: None,
    }
}

#[cfg(test)]
mod tests;
