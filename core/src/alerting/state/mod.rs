//! The alert state machine, with Prometheus semantics: inactive → pending (condition true, `for`
//! not yet elapsed) → firing → resolved (condition false for `keep_firing_for`).
//!
//! It is a pure step function over the stored state so that D1 remains the only truth: any
//! isolate, after any restart, computes the same next state from the same row. Notifying
//! transitions stamp `last_notified_ms` themselves, so the caller must persist the new state and
//! enqueue the notification in the same D1 batch; then a notification is neither lost nor sent
//! twice for one transition.

use serde::{Deserialize, Serialize};

use super::evaluation::Evaluation;
use super::rules::Rule;
use crate::notify::NotificationKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertPhase {
    #[default]
    Inactive,
    Pending,
    Firing,
    Resolved,
}

impl AlertPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertPhase::Inactive => "inactive",
            AlertPhase::Pending => "pending",
            AlertPhase::Firing => "firing",
            AlertPhase::Resolved => "resolved",
        }
    }
}

/// One rule's alert, as stored between cron runs. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    pub phase: AlertPhase,
    /// When the condition became true for the current episode (Prometheus `activeAt`).
    pub active_since_ms: Option<f64>,
    pub fired_at_ms: Option<f64>,
    pub resolved_at_ms: Option<f64>,
    /// The last evaluation at which the condition held; `keep_firing_for` counts from here.
    pub last_true_ms: Option<f64>,
    pub last_value: f64,
    pub last_eval_ms: Option<f64>,
    /// When a firing, repeat or resolved notification was last due; reminders count from here.
    pub last_notified_ms: Option<f64>,
    /// What receivers were last told: firing or resolved (`None`: nothing yet). A silenced
    /// instance is told nothing; once the silence ends, it is told its state if this differs.
    #[serde(default)]
    pub last_sent: Option<NotificationKind>,
}

/// A change worth logging; [`Transition::notification`] says which ones reach receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transition {
    Pending,
    Firing,
    Resolved,
    /// Reminder while still firing, every `repeat_interval`.
    Repeat,
    /// Pending → inactive before `for` elapsed: nothing was ever announced, so nothing is sent.
    Cleared,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Pending => "pending",
            Transition::Firing => "firing",
            Transition::Resolved => "resolved",
            Transition::Repeat => "repeat",
            Transition::Cleared => "cleared",
        }
    }

    /// The notification this transition sends, if any.
    pub fn notification(self) -> Option<NotificationKind> {
        match self {
            Transition::Firing => Some(NotificationKind::Firing),
            Transition::Resolved => Some(NotificationKind::Resolved),
            Transition::Repeat => Some(NotificationKind::Repeat),
            Transition::Pending | Transition::Cleared => None,
        }
    }

    pub fn notifies(self) -> bool {
        self.notification().is_some()
    }
}

/// Steps `prev` by one evaluation at `now_ms`. An evaluation at or before the last one (a retried
/// or concurrent cron run) changes nothing, so a transition is never emitted twice. A
/// `repeat_interval_ms` that is not a positive finite number disables reminders.
pub fn advance(
    prev: &AlertState,
    eval: &Evaluation,
    rule: &Rule,
    now_ms: f64,
    repeat_interval_ms: f64,
) -> (AlertState, Option<Transition>) {
    if !now_ms.is_finite() || prev.last_eval_ms.is_some_and(|last| now_ms <= last) {
        return (prev.clone(), None);
    }
    let mut next = AlertState {
        last_value: eval.value,
        last_eval_ms: Some(now_ms),
        ..prev.clone()
    };
    if eval.condition {
        next.last_true_ms = Some(now_ms);
    }
    // A missing timestamp (only from a damaged row) counts as long ago, so the alert moves on.
    let since = |t: Option<f64>| t.map_or(f64::INFINITY, |t| now_ms - t);
    let reminders = repeat_interval_ms.is_finite() && repeat_interval_ms > 0.0;
    let transition = match prev.phase {
        AlertPhase::Inactive | AlertPhase::Resolved if eval.condition => {
            next.active_since_ms = Some(now_ms);
            next.fired_at_ms = None;
            next.resolved_at_ms = None;
            Some(fire_when_due(&mut next, rule, now_ms).unwrap_or(Transition::Pending))
        }
        AlertPhase::Inactive | AlertPhase::Resolved => None,
        AlertPhase::Pending if eval.condition => fire_when_due(&mut next, rule, now_ms),
        AlertPhase::Pending => {
            next.phase = AlertPhase::Inactive;
            next.active_since_ms = None;
            Some(Transition::Cleared)
        }
        AlertPhase::Firing
            if !eval.condition && since(prev.last_true_ms) >= rule.keep_firing_for.0 as f64 =>
        {
            next.phase = AlertPhase::Resolved;
            next.resolved_at_ms = Some(now_ms);
            Some(Transition::Resolved)
        }
        AlertPhase::Firing
            if reminders
                && since(prev.last_notified_ms.or(prev.fired_at_ms)) >= repeat_interval_ms =>
        {
            Some(Transition::Repeat)
        }
        AlertPhase::Firing => None,
    };
    if transition.is_some_and(Transition::notifies) {
        next.last_notified_ms = Some(now_ms);
    }
    (next, transition)
}

/// The state of an alert whose rule is gone. A firing alert resolves now, so receivers hear
/// that it ended; any other state announced nothing that needs closing, so the row is simply
/// dropped (`None`). A run at or before the last evaluation changes nothing either.
pub fn retire(prev: &AlertState, now_ms: f64) -> Option<(AlertState, Option<Transition>)> {
    if prev.last_eval_ms.is_some_and(|last| now_ms <= last) || !now_ms.is_finite() {
        return Some((prev.clone(), None));
    }
    (prev.phase == AlertPhase::Firing).then(|| {
        let next = AlertState {
            phase: AlertPhase::Resolved,
            resolved_at_ms: Some(now_ms),
            last_eval_ms: Some(now_ms),
            last_notified_ms: Some(now_ms),
            ..prev.clone()
        };
        (next, Some(Transition::Resolved))
    })
}

/// Moves a pending episode to firing once `for` has elapsed since it became active.
fn fire_when_due(next: &mut AlertState, rule: &Rule, now_ms: f64) -> Option<Transition> {
    let active_since = *next.active_since_ms.get_or_insert(now_ms);
    if now_ms - active_since >= rule.for_.0 as f64 {
        next.phase = AlertPhase::Firing;
        next.fired_at_ms = Some(now_ms);
        Some(Transition::Firing)
    } else {
        next.phase = AlertPhase::Pending;
        None
    }
}

#[cfg(test)]
mod tests;
