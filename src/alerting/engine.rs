//! One alerting pass of the cron: load the windows, evaluate every rule, advance each alert's
//! state, resolve alerts whose rule is gone, and persist states, history and notifications in
//! one batch; then store the SLO summary.

use serde_json::{json, Map};

use super::dispatch::enabled_channels;
use super::plan::{plan, Origin, Subject};
use super::rules::{builtin_rules, evaluate, load_rules, windows_ms, EvalInput, Rule, RuleError};
use super::slo::{report, report_windows_ms, SloConfig};
use super::state::{advance, retire, AlertState, Transition};
use crate::config::Config;
use crate::health::checks::Check;
use crate::store::{AlertChange, OutboxEntry, Store, StoreError};
use crate::telemetry::log::{error_field, Level, Logger};
use vigil_core::records::AlertRow;

/// The rules in force: built-ins with the operator's `ALERT_RULES` applied, and what was wrong
/// with any override (those are skipped).
pub fn rules_in_force(config: &Config) -> (Vec<Rule>, Vec<RuleError>) {
    load_rules(
        builtin_rules(config.runbook_base_url.as_deref()),
        config.alert_rules.as_deref(),
    )
}

pub fn slo_config(config: &Config) -> SloConfig {
    SloConfig {
        availability_objective: config.slo_availability_objective,
        latency_objective: config.slo_latency_objective,
        latency_threshold_seconds: config.slo_latency_threshold_seconds,
    }
}

/// What the cron measured before the pass: the self-probe and the last successful run.
pub struct Observations<'a> {
    pub dependencies: &'a [(Check, bool)],
    pub last_cron_success_ms: Option<f64>,
}

/// One alert's step in this pass: where it was, and what to persist.
struct Step {
    from: AlertState,
    change: AlertChange,
}

/// Runs the pass at `now_ms`. Rules that cannot be evaluated are logged and keep their state;
/// the others still run.
pub async fn run(
    store: &Store,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
    seen: Observations<'_>,
) -> Result<(), StoreError> {
    let (rules, errors) = rules_in_force(config);
    for error in &errors {
        let mut fields = Map::new();
        let message = error.to_string();
        fields.insert("error".into(), error_field("InvalidRule", &message));
        logger.emit(Level::Error, "alert rule skipped", fields);
    }
    let slo = slo_config(config);
    let mut needed = windows_ms(&rules);
    needed.extend(report_windows_ms());
    needed.sort_unstable();
    needed.dedup();
    let windows = store
        .load_windows(&config.service_name, now_ms, &needed)
        .await?;
    let input = EvalInput {
        now_ms,
        windows: &windows,
        dependencies: seen.dependencies,
        last_cron_success_ms: seen.last_cron_success_ms,
    };
    let previous = store.alert_rows().await?;
    let mut steps = evaluate_rules(&rules, &input, &slo, &previous, config, logger);
    let (retiring, retired) = retire_vanished(&rules, &previous, now_ms);
    steps.extend(retiring);
    let origin = Origin {
        service: &config.service_name,
        environment: &config.environment,
    };
    let channels = enabled_channels(&config.channels);
    for step in &mut steps {
        step.change.outbox = outbox_entries(&step.change, &channels, &origin, now_ms)?;
    }
    let changes: Vec<AlertChange> = steps.iter().map(|s| s.change.clone()).collect();
    let won = store.persist_alerts(now_ms, &changes, &retired).await?;
    for (step, won) in steps.iter().zip(won) {
        if won {
            log_transition(logger, step);
        }
    }
    store
        .save_slo_reports(now_ms, &report(&windows, &slo))
        .await
}

/// Steps every rule's alert by one evaluation.
fn evaluate_rules(
    rules: &[Rule],
    input: &EvalInput<'_>,
    slo: &SloConfig,
    previous: &[AlertRow],
    config: &Config,
    logger: &Logger,
) -> Vec<Step> {
    let repeat_ms = f64::from(config.repeat_interval_minutes) * 60_000.0;
    let mut steps = Vec::with_capacity(rules.len());
    for rule in rules {
        let evaluation = match evaluate(rule, input, slo) {
            Ok(evaluation) => evaluation,
            Err(reason) => {
                let mut fields = Map::new();
                fields.insert("rule".into(), rule.id.as_str().into());
                fields.insert("error".into(), error_field("EvaluationFailed", &reason));
                logger.emit(Level::Warn, "alert rule not evaluated", fields);
                continue;
            }
        };
        let prev = previous.iter().find(|row| row.rule_id == rule.id);
        let from = prev.map(|row| row.state.clone()).unwrap_or_default();
        let (next, transition) = advance(&from, &evaluation, rule, input.now_ms, repeat_ms);
        let row = AlertRow {
            rule_id: rule.id.clone(),
            severity: rule.severity,
            labels: rule.labels.clone(),
            annotations: rule.annotations.clone(),
            state: next,
        };
        steps.push(step(from, row, transition));
    }
    steps
}

/// Alerts whose rule is no longer in force (removed from `ALERT_RULES`, or `ALERT_RULES` stopped
/// parsing): a firing one resolves and notifies; the others are deleted (returned as ids).
fn retire_vanished(rules: &[Rule], previous: &[AlertRow], now_ms: f64) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut retired = Vec::new();
    for row in previous
        .iter()
        .filter(|row| !rules.iter().any(|r| r.id == row.rule_id))
    {
        match retire(&row.state, now_ms) {
            Some((next, transition)) => {
                let resolved = AlertRow {
                    state: next,
                    ..row.clone()
                };
                steps.push(step(row.state.clone(), resolved, transition));
            }
            None => retired.push(row.rule_id.clone()),
        }
    }
    (steps, retired)
}

fn step(from: AlertState, row: AlertRow, transition: Option<Transition>) -> Step {
    Step {
        change: AlertChange {
            previous_eval_ms: from.last_eval_ms,
            row,
            transition,
            outbox: Vec::new(),
        },
        from,
    }
}

/// The outbox rows an alert's change causes on every enabled channel.
fn outbox_entries(
    change: &AlertChange,
    channels: &[super::notify::Channel],
    origin: &Origin<'_>,
    now_ms: f64,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let subject: Subject<'_> = change.row.subject();
    plan(
        subject,
        &change.row.state,
        change.transition,
        channels,
        origin,
        now_ms,
    )
    .into_iter()
    .map(|planned| {
        Ok(OutboxEntry {
            channel: planned.channel,
            alert_key: change.row.rule_id.clone(),
            dedup_key: planned.dedup_key,
            payload: serde_json::to_string(&planned.notification)
                .map_err(|e| StoreError(format!("notification does not serialize: {e}")))?,
            refresh: planned.refresh,
        })
    })
    .collect()
}

/// Every alert transition is logged, once, by the run that persisted it.
fn log_transition(logger: &Logger, step: &Step) {
    let Some(transition) = step.change.transition else {
        return;
    };
    let row = &step.change.row;
    let mut fields = Map::new();
    fields.insert("rule".into(), row.rule_id.as_str().into());
    fields.insert("severity".into(), row.severity.as_str().into());
    fields.insert("from".into(), step.from.phase.as_str().into());
    fields.insert("to".into(), row.state.phase.as_str().into());
    fields.insert("transition".into(), transition.as_str().into());
    fields.insert("value".into(), json!(row.state.last_value));
    logger.emit(Level::Warn, "alert transition", fields);
}
