//! The alert state machine, with Prometheus semantics: inactive → pending (condition true, `for`
//! not yet elapsed) → firing → resolved (condition false for `keep_firing_for`).
//!
//! It is a pure step function over the stored state so that D1 remains the only truth: any
//! isolate, after any restart, computes the same next state from the same row. Notifying
//! transitions stamp `last_notified_ms` themselves, so the caller must persist the new state and
//! enqueue the notification in the same D1 batch; then a notification is neither lost nor sent
//! twice for one transition.

use serde::{Deserialize, Serialize};

use super::rules::{Evaluation, Rule};
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
mod tests {
    use super::*;

    #[test]
    fn a_firing_alert_whose_rule_is_gone_resolves_and_others_are_dropped() {
        let firing = AlertState {
            phase: AlertPhase::Firing,
            fired_at_ms: Some(0.0),
            last_eval_ms: Some(60_000.0),
            ..AlertState::default()
        };
        let (next, transition) = retire(&firing, 120_000.0).expect("kept to announce the end");
        assert_eq!(next.phase, AlertPhase::Resolved);
        assert_eq!(next.resolved_at_ms, Some(120_000.0));
        assert_eq!(transition, Some(Transition::Resolved));
        for phase in [
            AlertPhase::Pending,
            AlertPhase::Inactive,
            AlertPhase::Resolved,
        ] {
            let state = AlertState {
                phase,
                ..firing.clone()
            };
            assert_eq!(retire(&state, 120_000.0), None, "{phase:?}");
        }
        assert_eq!(
            retire(&firing, 60_000.0),
            Some((firing.clone(), None)),
            "stale run"
        );
    }
    use crate::alerting::rules::{builtin_rules, Duration};
    use crate::time::MINUTE_MS;

    const T0: f64 = 1_700_000_000_000.0;
    const MIN: f64 = MINUTE_MS as f64;
    const REPEAT: f64 = 60.0 * MIN;

    fn rule(for_min: u64, keep_min: u64) -> Rule {
        let mut rule = builtin_rules(None).remove(0);
        rule.for_ = Duration(for_min * MINUTE_MS);
        rule.keep_firing_for = Duration(keep_min * MINUTE_MS);
        rule
    }

    /// Runs one evaluation per minute from T0 with the given conditions; returns the final state
    /// and every transition with its minute.
    fn run(rule: &Rule, conditions: &[bool]) -> (AlertState, Vec<(usize, Transition)>) {
        let mut state = AlertState::default();
        let mut transitions = Vec::new();
        for (minute, &condition) in conditions.iter().enumerate() {
            let eval = Evaluation {
                condition,
                value: if condition { 1.0 } else { 0.0 },
            };
            let (next, transition) = advance(&state, &eval, rule, T0 + minute as f64 * MIN, REPEAT);
            transitions.extend(transition.map(|t| (minute, t)));
            state = next;
        }
        (state, transitions)
    }

    #[test]
    fn condition_true_makes_inactive_pending() {
        let (state, transitions) = run(&rule(2, 0), &[false, true]);
        assert_eq!(transitions, [(1, Transition::Pending)]);
        assert_eq!(state.phase, AlertPhase::Pending);
        assert_eq!(state.active_since_ms, Some(T0 + MIN));
    }

    #[test]
    fn pending_becomes_firing_once_for_has_elapsed() {
        let (state, transitions) = run(&rule(2, 0), &[true, true, true, true]);
        assert_eq!(
            transitions,
            [(0, Transition::Pending), (2, Transition::Firing)]
        );
        assert_eq!(state.phase, AlertPhase::Firing);
        assert_eq!(state.active_since_ms, Some(T0));
        assert_eq!(state.fired_at_ms, Some(T0 + 2.0 * MIN));
        assert_eq!(state.last_notified_ms, Some(T0 + 2.0 * MIN));
    }

    #[test]
    fn for_zero_fires_on_the_first_true_evaluation() {
        let (state, transitions) = run(&rule(0, 0), &[true]);
        assert_eq!(transitions, [(0, Transition::Firing)]);
        assert_eq!(state.fired_at_ms, Some(T0));
    }

    #[test]
    fn pending_that_turns_false_is_cleared_without_notification() {
        let (state, transitions) = run(&rule(5, 0), &[true, true, false]);
        assert_eq!(
            transitions,
            [(0, Transition::Pending), (2, Transition::Cleared)]
        );
        assert!(!Transition::Cleared.notifies() && !Transition::Pending.notifies());
        assert_eq!(state.phase, AlertPhase::Inactive);
        assert_eq!(state.active_since_ms, None);
        assert_eq!(state.last_notified_ms, None);
    }

    #[test]
    fn firing_resolves_only_after_keep_firing_for() {
        let (state, transitions) = run(&rule(0, 3), &[true, false, false, false, false]);
        assert_eq!(
            transitions,
            [(0, Transition::Firing), (3, Transition::Resolved)]
        );
        assert_eq!(state.phase, AlertPhase::Resolved);
        assert_eq!(state.resolved_at_ms, Some(T0 + 3.0 * MIN));
        assert_eq!(state.last_notified_ms, Some(T0 + 3.0 * MIN));
    }

    #[test]
    fn keep_firing_for_zero_resolves_on_the_first_false_evaluation() {
        let (state, transitions) = run(&rule(0, 0), &[true, false, false]);
        assert_eq!(
            transitions,
            [(0, Transition::Firing), (1, Transition::Resolved)]
        );
        assert_eq!(state.phase, AlertPhase::Resolved);
    }

    #[test]
    fn resolved_stays_resolved_while_false_and_restarts_when_true() {
        let (state, transitions) = run(&rule(2, 0), &[true, true, true, false, false, true]);
        assert_eq!(
            transitions,
            [
                (0, Transition::Pending),
                (2, Transition::Firing),
                (3, Transition::Resolved),
                (5, Transition::Pending)
            ]
        );
        assert_eq!(state.phase, AlertPhase::Pending);
        assert_eq!(state.active_since_ms, Some(T0 + 5.0 * MIN));
        assert_eq!((state.fired_at_ms, state.resolved_at_ms), (None, None));
    }

    #[test]
    fn firing_repeats_a_reminder_every_repeat_interval() {
        let (state, transitions) = run(&rule(0, 0), &[true; 121]);
        assert_eq!(
            transitions,
            [
                (0, Transition::Firing),
                (60, Transition::Repeat),
                (120, Transition::Repeat)
            ]
        );
        assert_eq!(state.last_notified_ms, Some(T0 + 120.0 * MIN));
    }

    #[test]
    fn reminders_continue_while_kept_firing() {
        let mut conditions = vec![true; 59];
        conditions.extend([false; 3]);
        let (state, transitions) = run(&rule(0, 5), &conditions);
        assert_eq!(
            transitions,
            [(0, Transition::Firing), (60, Transition::Repeat)]
        );
        assert_eq!(state.phase, AlertPhase::Firing);
    }

    #[test]
    fn non_positive_repeat_interval_disables_reminders() {
        let rule = rule(0, 0);
        let firing = Evaluation {
            condition: true,
            value: 1.0,
        };
        let (state, _) = advance(&AlertState::default(), &firing, &rule, T0, REPEAT);
        for interval in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let (_, transition) = advance(&state, &firing, &rule, T0 + 1e9, interval);
            assert_eq!(transition, None, "{interval}");
        }
    }

    #[test]
    fn flapping_within_keep_firing_for_stays_firing_silently() {
        let flaps = [true, false, true, false, false, true, false];
        let (state, transitions) = run(&rule(0, 3), &flaps);
        assert_eq!(transitions, [(0, Transition::Firing)]);
        assert_eq!(state.phase, AlertPhase::Firing);
        assert_eq!(state.last_true_ms, Some(T0 + 5.0 * MIN));
    }

    #[test]
    fn flapping_without_keep_firing_for_notifies_each_episode() {
        let (_, transitions) = run(&rule(0, 0), &[true, false, true]);
        let kinds: Vec<_> = transitions.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            kinds,
            [Transition::Firing, Transition::Resolved, Transition::Firing]
        );
    }

    #[test]
    fn flapping_shorter_than_for_never_fires() {
        let (state, transitions) = run(&rule(2, 0), &[true, false, true, false, true, true]);
        assert!(
            transitions.iter().all(|(_, t)| !t.notifies()),
            "{transitions:?}"
        );
        assert_eq!(state.phase, AlertPhase::Pending);
    }

    #[test]
    fn evaluation_at_or_before_the_last_one_is_a_no_op() {
        let rule = rule(0, 0);
        let firing = Evaluation {
            condition: true,
            value: 1.0,
        };
        let (state, transition) = advance(&AlertState::default(), &firing, &rule, T0, REPEAT);
        assert_eq!(transition, Some(Transition::Firing));
        for now in [T0, T0 - MIN, f64::NAN] {
            let (again, transition) = advance(&state, &firing, &rule, now, REPEAT);
            assert_eq!((again, transition), (state.clone(), None));
        }
    }

    #[test]
    fn evaluation_records_value_and_time() {
        let eval = Evaluation {
            condition: false,
            value: 0.25,
        };
        let (state, transition) = advance(&AlertState::default(), &eval, &rule(0, 0), T0, REPEAT);
        assert_eq!(transition, None);
        assert_eq!(
            (state.phase, state.last_value, state.last_eval_ms),
            (AlertPhase::Inactive, 0.25, Some(T0))
        );
    }

    #[test]
    fn transitions_map_to_notifications() {
        assert_eq!(
            Transition::Firing.notification(),
            Some(NotificationKind::Firing)
        );
        assert_eq!(
            Transition::Resolved.notification(),
            Some(NotificationKind::Resolved)
        );
        assert_eq!(
            Transition::Repeat.notification(),
            Some(NotificationKind::Repeat)
        );
        assert_eq!(Transition::Cleared.notification(), None);
    }

    #[test]
    fn phase_names_are_what_storage_reads_back() {
        // D1 stores `as_str()`; rows are read back through serde.
        let all = [
            AlertPhase::Inactive,
            AlertPhase::Pending,
            AlertPhase::Firing,
            AlertPhase::Resolved,
        ];
        for phase in all {
            let read: AlertPhase = serde_json::from_value(phase.as_str().into()).unwrap();
            assert_eq!(read, phase);
        }
        assert!(serde_json::from_value::<AlertPhase>("FIRING".into()).is_err());
        assert_eq!(AlertState::default().phase, AlertPhase::Inactive);
    }
}
