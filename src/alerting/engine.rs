//! One alerting pass of the cron: load every service's windows, evaluate every rule's alert
//! instances (one per service for rules on requests), advance each instance's state, resolve
//! instances no rule yields any more, and persist states, history and notifications in
//! one batch with the SLO summary.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map};

use super::instances::{instances, Instance, SubjectKind, Subjects, SERVICE_LABEL};
use super::maintenance;
use super::notifications::{enqueue, Quiet};
use super::plan::Origin;
use super::rules::{builtin_rules, evaluate, load_rules, windows_ms, EvalInput, Rule, RuleError};
use super::slo::maintenance::MaintenanceInSlos;
use super::slo::{probe_report, report, report_windows_ms, SloReport};
use super::state::{advance, retire, AlertState, Transition};
use super::window::Windows;
use crate::config::Config;
use crate::health::checks::Check;
use crate::store::{AlertChange, EvaluatedValue, Store, StoreError, PROBES, SERVICES};
use crate::telemetry::log::{error_field, Level, Logger};
use vigil_core::probes::heartbeats::MonitorStatus;
use vigil_core::probes::state::ProbeStatus;
use vigil_core::records::AlertRow;

/// The rules in force: built-ins with the operator's `ALERT_RULES` applied, and what was wrong
/// with any override (those are skipped).
pub fn rules_in_force(config: &Config) -> (Vec<Rule>, Vec<RuleError>) {
    load_rules(
        builtin_rules(config.runbook_base_url.as_deref()),
        config.alert_rules.as_deref(),
    )
}

/// What the cron measured before the pass: the self-probe, the last successful run, the
/// probes' and monitors' statuses (`None` when they could not be read: their alerts then keep
/// their state rather than resolve).
pub struct Observations<'a> {
    pub dependencies: &'a [(Check, bool)],
    pub last_cron_success_ms: Option<f64>,
    pub probes: Option<&'a BTreeMap<String, ProbeStatus>>,
    pub monitors: Option<&'a BTreeMap<String, MonitorStatus>>,
}

impl Observations<'_> {
    /// Whether the instance's probe or monitor is down (`Ok(None)` before its first result).
    fn down(&self, instance: &Instance<'_>) -> Result<Option<bool>, String> {
        let unread = |what: &str| format!("the {what} statuses could not be read this run");
        match instance.subject {
            Some((SubjectKind::Probe, name)) => {
                let statuses = self.probes.ok_or_else(|| unread("probe"))?;
                Ok(statuses.get(name).map(|&s| s == ProbeStatus::Down))
            }
            Some((SubjectKind::Monitor, name)) => {
                let statuses = self.monitors.ok_or_else(|| unread("monitor"))?;
                Ok(statuses.get(name).and_then(|s| s.down()))
            }
            _ => Ok(None),
        }
    }
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
    let mut needed = windows_ms(&rules);
    needed.extend(report_windows_ms());
    needed.sort_unstable();
    needed.dedup();
    let context = store.alert_context(&config.service_name, now_ms).await?;
    let (services, previous) = (context.services, context.alerts);
    let (silences, maintenances) = (context.silences, context.maintenances);
    let probes: Vec<String> = config.probes.iter().map(|p| p.name.clone()).collect();
    let monitors: Vec<String> = config.heartbeats.iter().map(|m| m.name.clone()).collect();
    let mut windows = store
        .load_windows(&SERVICES, &services, now_ms, &needed)
        .await?;
    let mut probe_windows = if probes.is_empty() {
        BTreeMap::new()
    } else {
        store
            .load_check_windows(&PROBES, &probes, now_ms, &needed)
            .await?
    };
    if config.maintenance_in_slos == MaintenanceInSlos::Excluded {
        maintenance::leave_out(store, now_ms, &mut windows, &mut probe_windows).await?;
    }
    let pass = Pass {
        now_ms,
        windows: &windows,
        probe_windows: &probe_windows,
        seen: &seen,
        config,
        logger,
    };
    let subjects = Subjects {
        services: &services,
        probes: &probes,
        monitors: &monitors,
    };
    let (mut steps, evaluated) = evaluate_rules(&rules, &subjects, &pass, &previous);
    let (retiring, retired) = retire_vanished(&evaluated, &previous, now_ms);
    steps.extend(retiring);
    let origin = Origin {
        service: &config.service_name,
        environment: &config.environment,
    };
    for problem in &config.notify.problems {
        let mut fields = Map::new();
        let message = problem.to_string();
        fields.insert("error".into(), error_field("InvalidRouting", &message));
        logger.emit(Level::Error, "notification routing entry skipped", fields);
    }
    let quiet = Quiet {
        silences: &silences,
        maintenances: &maintenances,
    };
    let mut changes: Vec<AlertChange> = steps.iter().map(|s| s.change.clone()).collect();
    let slots = enqueue(store, &config.notify, &mut changes, &quiet, &origin, now_ms).await?;
    let values: Vec<EvaluatedValue> = changes.iter().map(EvaluatedValue::of).collect();
    let (steps, changes) = changed_only(steps, changes, &previous);
    let reports = slo_reports(config, &windows, &probe_windows);
    let won = store
        .persist_alerts(now_ms, &changes, &retired, &slots, &values, &reports)
        .await?;
    for (step, won) in steps.iter().zip(won) {
        if won {
            log_transition(logger, step);
        }
    }
    Ok(())
}

/// The SLO summary of every service and probe over the windows the pass loaded.
fn slo_reports(
    config: &Config,
    windows: &BTreeMap<String, Windows>,
    probe_windows: &BTreeMap<String, Windows>,
) -> Vec<SloReport> {
    let services = windows
        .iter()
        .flat_map(|(service, w)| report(service, w, &config.slos.for_service(service)));
    let probes = probe_windows
        .iter()
        .map(|(probe, w)| probe_report(probe, w, &config.slos.defaults));
    services.chain(probes).collect()
}

/// What one alerting pass evaluates against.
struct Pass<'a> {
    now_ms: f64,
    windows: &'a BTreeMap<String, Windows>,
    probe_windows: &'a BTreeMap<String, Windows>,
    seen: &'a Observations<'a>,
    config: &'a Config,
    logger: &'a Logger,
}

/// Steps every alert instance by one evaluation. Returns the steps and the key of every
/// instance the rules yield (evaluated or not), so instances that vanished can be retired.
fn evaluate_rules(
    rules: &[Rule],
    subjects: &Subjects<'_>,
    pass: &Pass<'_>,
    previous: &[AlertRow],
) -> (Vec<Step>, BTreeSet<String>) {
    let repeat_ms = f64::from(pass.config.repeat_interval_minutes) * 60_000.0;
    let no_windows = Windows::new();
    let mut steps = Vec::new();
    let mut keys = BTreeSet::new();
    for rule in rules {
        for instance in instances(rule, subjects) {
            let key = instance.key();
            keys.insert(key.clone());
            let (windows, slo) = match instance.subject {
                Some((SubjectKind::Probe, probe)) => {
                    (pass.probe_windows.get(probe), pass.config.slos.defaults)
                }
                Some((SubjectKind::Monitor, _)) => (None, pass.config.slos.defaults),
                _ => {
                    let service = instance.service().unwrap_or(&pass.config.service_name);
                    (
                        pass.windows.get(service),
                        pass.config.slos.for_service(service),
                    )
                }
            };
            let evaluation = pass.seen.down(&instance).and_then(|down| {
                let input = EvalInput {
                    now_ms: pass.now_ms,
                    windows: windows.unwrap_or(&no_windows),
                    dependencies: pass.seen.dependencies,
                    last_cron_success_ms: pass.seen.last_cron_success_ms,
                    down,
                };
                evaluate(rule, &input, &slo)
            });
            let evaluation = match evaluation {
                Ok(evaluation) => evaluation,
                Err(reason) => {
                    let mut fields = Map::new();
                    fields.insert("rule".into(), rule.id.as_str().into());
                    fields.insert("alert".into(), key.as_str().into());
                    fields.insert("error".into(), error_field("EvaluationFailed", &reason));
                    pass.logger
                        .emit(Level::Warn, "alert rule not evaluated", fields);
                    continue;
                }
            };
            let prev = previous.iter().find(|row| row.alert_key == key);
            let from = prev.map(|row| row.state.clone()).unwrap_or_default();
            let (next, transition) = advance(&from, &evaluation, rule, pass.now_ms, repeat_ms);
            let row = AlertRow {
                alert_key: key,
                rule_id: rule.id.clone(),
                severity: rule.severity,
                labels: instance.labels(),
                annotations: rule.annotations.clone(),
                state: next,
            };
            steps.push(step(from, row, transition));
        }
    }
    (steps, keys)
}

/// Instances no rule yields any more (the rule was removed from `ALERT_RULES`, `ALERT_RULES`
/// stopped parsing, or a `match` changed): a firing one resolves and notifies; the others are
/// deleted (returned as keys).
fn retire_vanished(
    yielded: &BTreeSet<String>,
    previous: &[AlertRow],
    now_ms: f64,
) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut retired = Vec::new();
    for row in previous
        .iter()
        .filter(|row| !yielded.contains(&row.alert_key))
    {
        match retire(&row.state, now_ms) {
            Some((next, transition)) => {
                let resolved = AlertRow {
                    state: next,
                    ..row.clone()
                };
                steps.push(step(row.state.clone(), resolved, transition));
            }
            None => retired.push(row.alert_key.clone()),
        }
    }
    (steps, retired)
}

/// The steps and changes that change a stored row (a transition, a notification, or a new
/// phase, label or time): a quiet instance writes no row, its value goes to the snapshot.
fn changed_only(
    steps: Vec<Step>,
    changes: Vec<AlertChange>,
    previous: &[AlertRow],
) -> (Vec<Step>, Vec<AlertChange>) {
    let stored: BTreeMap<&str, &AlertRow> =
        previous.iter().map(|r| (r.alert_key.as_str(), r)).collect();
    steps
        .into_iter()
        .zip(changes)
        .filter(|(_, change)| {
            change.transition.is_some()
                || !change.outbox.is_empty()
                || change
                    .row
                    .changes(stored.get(change.row.alert_key.as_str()).copied())
        })
        .unzip()
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

/// Every alert transition is logged, once, by the run that persisted it.
fn log_transition(logger: &Logger, step: &Step) {
    let Some(transition) = step.change.transition else {
        return;
    };
    let row = &step.change.row;
    let mut fields = Map::new();
    fields.insert("rule".into(), row.rule_id.as_str().into());
    fields.insert("alert".into(), row.alert_key.as_str().into());
    if let Some(service) = row.labels.get(SERVICE_LABEL) {
        fields.insert("alertService".into(), service.as_str().into());
    }
    for kind in [SubjectKind::Probe, SubjectKind::Monitor] {
        if let Some(name) = row.labels.get(kind.label()) {
            fields.insert(kind.label().into(), name.as_str().into());
        }
    }
    fields.insert("severity".into(), row.severity.as_str().into());
    fields.insert("from".into(), step.from.phase.as_str().into());
    fields.insert("to".into(), row.state.phase.as_str().into());
    fields.insert("transition".into(), transition.as_str().into());
    fields.insert("value".into(), json!(row.state.last_value));
    logger.emit(Level::Warn, "alert transition", fields);
}
