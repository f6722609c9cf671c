//! One alerting pass of the cron: load the windows, evaluate every rule, advance and persist
//! each alert's state, record history, enqueue notifications and store the SLO summary.

use std::collections::BTreeMap;

use serde_json::{json, Map};
use worker::D1Database;

use super::dispatch::enabled_channels;
use super::plan::{plan, Origin};
use super::rules::{builtin_rules, evaluate, load_rules, windows_ms, EvalInput, Rule, RuleError};
use super::slo::{report, report_windows_ms, SloConfig};
use super::state::advance;
use crate::config::Config;
use crate::store::{self, AlertRow, OutboxEntry, StoreError};
use crate::telemetry::log::{error_field, Level, Logger};

/// The rules in force: built-ins with the operator's `ALERT_RULES` applied, and what was wrong
/// with any override (those are skipped).
pub fn rules_in_force(config: &Config) -> (Vec<Rule>, Vec<RuleError>) {
    load_rules(
        builtin_rules(&config.runbook_base_url),
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

/// Runs the pass at `now_ms`. Rules that cannot be evaluated are logged and keep their state;
/// the others still run.
pub async fn run(
    db: &D1Database,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
    dependencies: &[(String, bool)],
    last_cron_success_ms: Option<f64>,
) -> Result<(), StoreError> {
    let (rules, errors) = rules_in_force(config);
    for error in &errors {
        let mut fields = Map::new();
        fields.insert(
            "error".into(),
            error_field("InvalidRule", &error.to_string()),
        );
        logger.emit(Level::Error, "alert rule skipped", fields);
    }
    let slo = slo_config(config);
    let mut needed = windows_ms(&rules);
    needed.extend(report_windows_ms());
    needed.sort_unstable();
    needed.dedup();
    let windows = store::load_windows(db, now_ms, &needed).await?;
    let input = EvalInput {
        now_ms,
        windows: &windows,
        dependencies,
        last_cron_success_ms,
    };

    let previous: BTreeMap<String, AlertRow> = store::alert_rows(db)
        .await?
        .into_iter()
        .map(|row| (row.rule_id.clone(), row))
        .collect();
    let repeat_ms = f64::from(config.repeat_interval_minutes) * 60_000.0;
    let mut advanced = Vec::new();
    for rule in &rules {
        let evaluation = match evaluate(rule, &input, &slo) {
            Ok(evaluation) => evaluation,
            Err(reason) => {
                let mut fields = Map::new();
                fields.insert("rule".into(), rule.id.as_str().into());
                fields.insert("error".into(), error_field("EvaluationFailed", &reason));
                logger.emit(Level::Warn, "alert rule not evaluated", fields);
                continue;
            }
        };
        let prev_row = previous.get(&rule.id);
        let prev = prev_row.map(|row| row.state.clone()).unwrap_or_default();
        let (next, transition) = advance(&prev, &evaluation, rule, now_ms, repeat_ms);
        advanced.push((rule, prev, next, transition));
    }

    // Compare-and-set: a run that lost the race to an overlapping run must not notify.
    let rows: Vec<(AlertRow, Option<f64>)> = advanced
        .iter()
        .map(|(rule, prev, next, _)| {
            let row = AlertRow {
                rule_id: rule.id.clone(),
                severity: rule.severity.clone(),
                state: next.clone(),
            };
            (row, prev.last_eval_ms)
        })
        .collect();
    let won = store::save_alert_rows(db, &rows).await?;
    let rule_ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
    store::delete_alert_rows_except(db, &rule_ids).await?;

    let channels = enabled_channels(&config.channels);
    let origin = Origin {
        service: &config.service_name,
        environment: &config.environment,
    };
    let mut history = Vec::new();
    let mut outbox = Vec::new();
    for ((rule, prev, next, transition), won) in advanced.iter().zip(won) {
        if !won {
            continue;
        }
        if let Some(t) = transition {
            history.push((rule.id.clone(), t.as_str().to_string(), next.last_value));
            let mut fields = Map::new();
            fields.insert("rule".into(), rule.id.as_str().into());
            fields.insert("severity".into(), rule.severity.as_str().into());
            fields.insert("from".into(), prev.phase.as_str().into());
            fields.insert("to".into(), next.phase.as_str().into());
            fields.insert("transition".into(), t.as_str().into());
            fields.insert("value".into(), json!(next.last_value));
            logger.emit(Level::Warn, "alert transition", fields);
        }
        for planned in plan(rule, next, *transition, &channels, &origin, now_ms) {
            outbox.push(OutboxEntry {
                channel: planned.channel.as_str().to_string(),
                dedup_key: planned.dedup_key,
                payload: serde_json::to_string(&planned.notification)
                    .map_err(|e| StoreError(format!("notification does not serialize: {e}")))?,
            });
        }
    }
    store::record_transitions(db, now_ms, &history, &outbox).await?;

    let reports: Vec<(String, String)> = report(&windows, &slo)
        .iter()
        .filter_map(|r| Some((r.name.as_str().to_string(), serde_json::to_string(r).ok()?)))
        .collect();
    store::save_slo_reports(db, now_ms, &reports).await
}
