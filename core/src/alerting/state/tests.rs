//! The alert state machine's tests: Prometheus semantics step by step.

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
