//! Evaluating one rule at one time, against what the cron gathered: window sums from the
//! rollups, the latest self-probe and the last successful cron run.

use super::{Rule, RuleKind};
use crate::alerting::evaluation::Evaluation;
use crate::alerting::slo::{self, SloConfig};
use crate::alerting::window::{histogram_quantile, window, Windows};
use crate::health::checks::Check;

/// Everything a rule may look at, gathered by the cron for one evaluation time.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    pub now_ms: f64,
    /// Keyed by window length in ms (see `windows_ms`).
    pub windows: &'a Windows,
    /// The latest self-probe: each check and whether it passed.
    pub dependencies: &'a [(Check, bool)],
    pub last_cron_success_ms: Option<f64>,
    /// Whether the instance's probe or monitor is down; `None` before its first result.
    pub down: Option<bool>,
}

/// Evaluates one rule. An `Err` means the rule could not be evaluated (missing data); the
/// caller should log it and leave the alert's state unchanged.
pub fn evaluate(rule: &Rule, input: &EvalInput, slo: &SloConfig) -> Result<Evaluation, String> {
    match &rule.kind {
        RuleKind::ErrorRatio {
            threshold,
            window: w,
        } => {
            let stats = window(input.windows, w.ms())?;
            Ok(match stats.requests {
                0 => Evaluation::NO_DATA,
                n => Evaluation::above(stats.errors as f64 / n as f64, *threshold),
            })
        }
        RuleKind::LatencyQuantile {
            quantile,
            threshold,
            window: w,
        } => {
            let stats = window(input.windows, w.ms())?;
            Ok(histogram_quantile(*quantile, &stats.buckets)
                .map_or(Evaluation::NO_DATA, |v| Evaluation::above(v, *threshold)))
        }
        RuleKind::DependencyDown { component } => {
            let mut probed = input
                .dependencies
                .iter()
                .filter(|(check, _)| component.matches(*check))
                .peekable();
            if probed.peek().is_none() {
                let name = String::from(*component);
                return Err(format!("no self-probe result for component {name:?}"));
            }
            let down = probed.any(|(_, up)| !up);
            Ok(Evaluation {
                condition: down,
                value: if down { 1.0 } else { 0.0 },
            })
        }
        // Without any recorded success (a fresh deployment) there is nothing to be stale
        // against; a cron that never succeeds still shows in its heartbeat errors.
        RuleKind::CronStale { threshold } => Ok(input
            .last_cron_success_ms
            .map_or(Evaluation::NO_DATA, |last| {
                Evaluation::above(((input.now_ms - last) / 1_000.0).max(0.0), *threshold)
            })),
        RuleKind::NoTraffic { window: w } => {
            let requests = window(input.windows, w.ms())?.requests;
            Ok(Evaluation {
                condition: requests == 0,
                value: requests as f64,
            })
        }
        RuleKind::InvocationFailureRatio {
            threshold,
            window: w,
        } => {
            let stats = window(input.windows, w.ms())?;
            Ok(match stats.invocations {
                0 => Evaluation::NO_DATA,
                n => Evaluation::above(stats.invocations_crashed as f64 / n as f64, *threshold),
            })
        }
        RuleKind::SloBurnRate { slo: name, tier } => {
            slo::slo_condition(*name, *tier, input.windows, slo)
        }
        // Nothing to judge before the first check or ping: no alert, and no warning either.
        RuleKind::ProbeDown {} | RuleKind::HeartbeatMissed {} => {
            Ok(input.down.map_or(Evaluation::NO_DATA, |down| Evaluation {
                condition: down,
                value: if down { 1.0 } else { 0.0 },
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{builtin_rules, DependencySelector, Window};
    use super::*;
    use crate::alerting::window::WindowStats;
    use crate::telemetry::metrics::BUCKETS;

    const FIVE_MINUTES: u64 = 5 * crate::time::MINUTE_MS;

    fn stats(requests: u64, errors: u64) -> WindowStats {
        let mut buckets = [0; BUCKETS];
        buckets[0] = requests;
        WindowStats {
            requests,
            errors,
            buckets,
            ..WindowStats::default()
        }
    }

    fn builtin(id: &str) -> Rule {
        builtin_rules(None)
            .into_iter()
            .find(|r| r.id == id)
            .expect("built-in rule exists")
    }

    fn eval(rule: &Rule, windows: &Windows) -> Result<Evaluation, String> {
        let input = EvalInput {
            now_ms: 1_000_000.0,
            windows,
            dependencies: &[],
            last_cron_success_ms: None,
            down: None,
        };
        evaluate(rule, &input, &SloConfig::default())
    }

    fn outcome(condition: bool, value: f64) -> Result<Evaluation, String> {
        Ok(Evaluation { condition, value })
    }

    #[test]
    fn error_ratio_compares_5xx_share_with_threshold() {
        let rule = builtin("high-error-ratio");
        let high = Windows::from([(FIVE_MINUTES, stats(100, 6))]);
        assert_eq!(eval(&rule, &high), outcome(true, 0.06));
        let low = Windows::from([(FIVE_MINUTES, stats(100, 5))]);
        assert!(!eval(&rule, &low).map(|e| e.condition).unwrap_or(true));
        let idle = Windows::from([(FIVE_MINUTES, stats(0, 0))]);
        assert_eq!(eval(&rule, &idle), outcome(false, 0.0));
    }

    #[test]
    fn invocation_failure_ratio_compares_crashed_share_with_threshold() {
        let rule = builtin("worker-invocation-failures");
        let at = |invocations, invocations_crashed| {
            let stats = WindowStats {
                invocations,
                invocations_crashed,
                ..stats(0, 0)
            };
            eval(&rule, &Windows::from([(FIVE_MINUTES, stats)]))
        };
        assert_eq!(at(100, 6), outcome(true, 0.06));
        assert_eq!(at(100, 5), outcome(false, 0.05));
        assert_eq!(at(0, 0), outcome(false, 0.0), "no invocations, no alert");
    }

    #[test]
    fn missing_window_is_an_error_not_zero() {
        let err = eval(&builtin("high-error-ratio"), &Windows::new()).unwrap_err();
        assert!(err.contains("5m window"), "{err}");
        let err = eval(&builtin("slo-availability-page"), &Windows::new()).unwrap_err();
        assert!(err.contains("window"), "{err}");
    }

    #[test]
    fn latency_quantile_fires_above_threshold_and_not_without_traffic() {
        let rule = builtin("high-latency-p95");
        let mut slow = stats(0, 0);
        slow.buckets[8] = 100; // (1, 2.5]
        let windows = Windows::from([(FIVE_MINUTES, slow)]);
        let result = eval(&rule, &windows).expect("evaluates");
        assert!(result.condition && result.value > 1.0);
        let idle = Windows::from([(FIVE_MINUTES, stats(0, 0))]);
        assert_eq!(eval(&rule, &idle), outcome(false, 0.0));
    }

    #[test]
    fn dependency_down_reads_the_latest_probe() {
        let deps = vec![(Check::D1, true), (Check::Kv, false)];
        let windows = Windows::new();
        let input = EvalInput {
            now_ms: 0.0,
            windows: &windows,
            dependencies: &deps,
            last_cron_success_ms: None,
            down: None,
        };
        let run = |component: DependencySelector| {
            let rule = Rule {
                kind: RuleKind::DependencyDown { component },
                ..builtin("dependency-down")
            };
            evaluate(&rule, &input, &SloConfig::default())
        };
        assert_eq!(run(DependencySelector::Any), outcome(true, 1.0));
        assert_eq!(run(DependencySelector::One(Check::Kv)), outcome(true, 1.0));
        assert_eq!(run(DependencySelector::One(Check::D1)), outcome(false, 0.0));
        let err = run(DependencySelector::One(Check::R2)).unwrap_err();
        assert!(
            err.contains("no self-probe result for component \"r2\""),
            "{err}"
        );
    }

    #[test]
    fn cron_stale_measures_seconds_since_last_success() {
        let rule = builtin("cron-stale");
        let windows = Windows::new();
        let run = |last| {
            let input = EvalInput {
                now_ms: 1_000_000.0,
                windows: &windows,
                dependencies: &[],
                last_cron_success_ms: last,
                down: None,
            };
            evaluate(&rule, &input, &SloConfig::default())
        };
        assert_eq!(run(Some(600_000.0)), outcome(true, 400.0));
        assert_eq!(run(Some(940_000.0)), outcome(false, 60.0));
        assert_eq!(run(None), outcome(false, 0.0));
    }

    #[test]
    fn probe_and_heartbeat_rules_follow_their_subject_and_wait_for_a_first_result() {
        let windows = Windows::new();
        for id in ["probe-down", "heartbeat-missed"] {
            let run = |down| {
                let input = EvalInput {
                    now_ms: 0.0,
                    windows: &windows,
                    dependencies: &[],
                    last_cron_success_ms: None,
                    down,
                };
                evaluate(&builtin(id), &input, &SloConfig::default())
            };
            assert_eq!(run(Some(true)), outcome(true, 1.0), "{id}");
            assert_eq!(run(Some(false)), outcome(false, 0.0), "{id}");
            assert_eq!(run(None), outcome(false, 0.0), "{id}");
        }
    }

    #[test]
    fn no_traffic_holds_only_for_an_empty_window() {
        let rule = Rule {
            kind: RuleKind::NoTraffic {
                window: Window::try_from("5m".to_string()).expect("a whole number of minutes"),
            },
            ..builtin("high-error-ratio")
        };
        let idle = Windows::from([(FIVE_MINUTES, stats(0, 0))]);
        assert_eq!(eval(&rule, &idle), outcome(true, 0.0));
        let busy = Windows::from([(FIVE_MINUTES, stats(3, 0))]);
        assert_eq!(eval(&rule, &busy), outcome(false, 3.0));
    }
}
