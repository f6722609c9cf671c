//! The admin API: alert rules with their instances' states, and SLOs per service.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{require_admin, store_unavailable, RequestInfo};
use crate::alerting::engine;
use crate::alerting::notify::inhibition::inhibited;
use crate::alerting::plan::{alert_labels, Origin};
use crate::alerting::state::AlertPhase;
use crate::clock::now_ms;
use crate::config::{Config, FILE_NAME};
use crate::health::diagnostics::backlog_report;
use crate::store::StoreError;
use vigil_core::alerting::rules::Rule;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;
use vigil_core::records::AlertRow;
use vigil_core::silencing::maintenance::Maintenance;
use vigil_core::silencing::silence::Silence;
use vigil_core::silencing::silenced_by;
use vigil_core::time::iso_timestamp;

/// Rules (in the shape operators write them in `ALERT_RULES`) with their instances (labels and
/// state), invalid overrides, the notification outbox and recent transitions.
pub async fn alerts(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let (rules, errors) = engine::rules_in_force(req.config);
    let started = now_ms();
    let read = async {
        let store = req.store()?;
        let (states, backlog, history, silences, maintenances) = futures::join!(
            store.alert_rows_evaluated(),
            store.outbox_backlog(),
            store.recent_history(50),
            store.silences(started),
            store.maintenances(started),
        );
        let states = states?;
        let quiet = Quiet {
            silences: silences?,
            maintenances: maintenances?,
            firing: firing_labels(&states, req.config),
            now_ms: started,
        };
        Ok::<_, StoreError>((states, backlog?, history?, quiet))
    };
    let read = read.await;
    timing.record("d1", now_ms() - started);
    let (states, backlog, history, quiet) = read.map_err(|e| store_unavailable(req, e))?;
    let rules: Vec<Value> = rules
        .iter()
        .map(|rule| rule_with_instances(rule, &states, &quiet, req.config))
        .collect();
    let body = json!({
        "rules": rules,
        "invalidRules": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "notifications": {
            "receivers": req.config.notify.receivers.iter().map(|r| json!({
                "name": r.name,
                "type": r.target.channel().as_str(),
            })).collect::<Vec<_>>(),
            "routingErrors": req.config.notify.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "outbox": backlog_report(&backlog, now_ms()).1["outbox"],
        },
        "history": history.iter().map(|h| json!({
            "alert": h.alert_key,
            "transition": h.transition,
            "at": iso_timestamp(h.at_ms),
            "value": h.value,
        })).collect::<Vec<_>>(),
    });
    Ok(Reply::json(200, "application/json", &body))
}

/// Where each `vigil.config.json` section came from (a variable, the file or the default), and
/// how much each configures.
pub fn config(req: &RequestInfo<'_>) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let config = req.config;
    let sections: serde_json::Map<String, Value> = config
        .sources
        .iter()
        .map(|(section, source)| (section.to_string(), json!({"source": source.as_str()})))
        .collect();
    let body = json!({
        "file": FILE_NAME,
        "sections": sections,
        "probes": config.probes.len(),
        "heartbeats": config.heartbeats.len(),
        "receivers": config.notify.receivers.len(),
        "routingErrors": config.notify.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    Ok(Reply::json(200, "application/json", &body))
}

/// What silences instances now.
struct Quiet {
    silences: Vec<Silence>,
    maintenances: Vec<Maintenance>,
    /// The labels of the firing instances, which may inhibit others.
    firing: Vec<BTreeMap<String, String>>,
    now_ms: f64,
}

fn origin(config: &Config) -> Origin<'_> {
    Origin {
        service: &config.service_name,
        environment: &config.environment,
    }
}

fn firing_labels(rows: &[AlertRow], config: &Config) -> Vec<BTreeMap<String, String>> {
    rows.iter()
        .filter(|row| row.state.phase == AlertPhase::Firing)
        .map(|row| alert_labels(row.subject(), &origin(config)))
        .collect()
}

/// `{"rule": <as written in ALERT_RULES>, "instances": [{labels, state, receivers, …}]}`, so a
/// rule can be copied back. An instance that was never evaluated yet is not listed.
fn rule_with_instances(rule: &Rule, rows: &[AlertRow], quiet: &Quiet, config: &Config) -> Value {
    let notify = &config.notify;
    let instances: Vec<Value> = rows
        .iter()
        .filter(|row| row.rule_id == rule.id)
        .map(|row| {
            let mut view = instance(row);
            let by = silenced_by(
                &row.labels,
                &quiet.silences,
                &quiet.maintenances,
                quiet.now_ms,
            );
            view["silencedBy"] = json!(by);
            let labels = alert_labels(row.subject(), &origin(config));
            let rules = &notify.routing.inhibit_rules;
            view["inhibited"] = json!(inhibited(rules, &labels, &quiet.firing));
            let receivers: Vec<&str> = notify
                .routing
                .destinations(&labels, &notify.receivers)
                .iter()
                .map(|d| d.receiver.name.as_str())
                .collect();
            view["receivers"] = json!(receivers);
            view
        })
        .collect();
    json!({"rule": rule, "instances": instances})
}

fn instance(row: &AlertRow) -> Value {
    let iso = |ms: Option<f64>| ms.map(iso_timestamp);
    let state = &row.state;
    json!({
        "alert": row.alert_key,
        "labels": row.labels,
        "state": state.phase.as_str(),
        "since": iso(state.active_since_ms),
        "firedAt": iso(state.fired_at_ms),
        "resolvedAt": iso(state.resolved_at_ms),
        "lastValue": state.last_value,
        "lastEvaluation": iso(state.last_eval_ms),
        "lastNotification": iso(state.last_notified_ms),
        "lastSent": state.last_sent.map(|kind| kind.as_str()),
    })
}

/// SLOs: objective, 30-day SLI, remaining error budget and burn rates, as the last cron run
/// computed them.
pub async fn slos(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let started = now_ms();
    let reports = match req.store() {
        Ok(store) => store.slo_reports().await,
        Err(e) => Err(e),
    };
    timing.record("d1", now_ms() - started);
    let reports = reports.map_err(|e| store_unavailable(req, e))?;
    let slos: Vec<Value> = reports
        .iter()
        .map(|r| {
            let objectives = req.config.slos.for_service(&r.service);
            let mut report = json!(r);
            report["latencyThresholdSeconds"] = objectives.latency_threshold_seconds.into();
            report
        })
        .collect();
    let body = json!({"window": "30d", "slos": slos});
    Ok(Reply::json(200, "application/json", &body))
}
