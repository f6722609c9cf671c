//! Readiness and health: `/readyz`, `/readyz/{check}`, `/health` and `/health/detailed`.

use serde_json::json;

use super::{require_admin, RequestInfo};
use crate::aggregator::client;
use crate::build_info::{self, MIGRATIONS};
use crate::clock::now_ms;
use crate::config::Config;
use crate::cron;
use crate::health::checks::{self, Check, CheckResult, ServiceIdentity, Status};
use crate::health::diagnostics::{aggregator_report, backlog_report, heartbeat_report};
use crate::health::{detailed as round_trips, probes};
use crate::store::StoreError;
use crate::telemetry::log::Level;
use vigil_core::alerting::state::AlertPhase;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;

pub async fn readyz(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, timing).await;
    let report = checks::render_probe(
        "readyz",
        &results,
        &req.params("exclude"),
        req.has_param("verbose"),
    );
    Reply::text(report.status, report.body)
}

pub async fn readyz_check(req: &RequestInfo<'_>, check: Check, timing: &mut ServerTiming) -> Reply {
    let result = probes::run_one(req.env, req.caller(), check, req.config.check_timeout_ms).await;
    record(req, std::slice::from_ref(&result), timing);
    let report = checks::render_single(&result);
    Reply::text(report.status, report.body)
}

pub async fn health(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, timing).await;
    let (status, body) = checks::render_health(
        &identity(req.config),
        &results,
        f64::from(req.config.slow_check_ms),
        now_ms(),
        false,
    );
    Reply::json(status.http_status(), "application/health+json", &body)
}

pub async fn detailed(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let timeout = req.config.check_timeout_ms;
    let caller = req.caller();
    let (results, smoke, aggregator) = futures::join!(
        probes::run_all(req.env, &caller, &Check::ALL, timeout),
        round_trips::smoke_tests(req.env, timeout),
        client::status(req.env)
    );
    record(req, &results, timing);
    let now = now_ms();
    let slow_ms = f64::from(req.config.slow_check_ms);
    let identity = identity(req.config);
    let (mut status, mut body) = checks::render_health(&identity, &results, slow_ms, now, true);
    if smoke.iter().any(|s| s.error.is_some()) {
        status = Status::Fail;
    }
    body["smokeTests"] = smoke
        .iter()
        .map(|s| (s.component.to_string(), s.report()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let (aggregator_status, aggregator) =
        aggregator_report(aggregator.as_ref().map_err(|e| e.reason()));
    status = status.max(aggregator_status);
    body["aggregator"] = aggregator;
    let (stored_status, stored) = stored_diagnostics(req, now).await;
    status = status.max(stored_status);
    for (key, value) in stored {
        body[key] = value;
    }
    body["status"] = status.as_str().into();
    let content_type = "application/health+json";
    Ok(Reply::json(status.http_status(), content_type, &body))
}

/// What `/health/detailed` reads from D1: migrations, the cron heartbeat, active alerts, SLOs
/// and the notification outbox, each with the status it implies.
async fn stored_diagnostics(
    req: &RequestInfo<'_>,
    now: f64,
) -> (Status, Vec<(&'static str, serde_json::Value)>) {
    let text = |e: StoreError| e.to_string();
    let store = match req.store() {
        Ok(store) => store,
        Err(e) => {
            let error = json!({"status": "fail", "output": text(e)});
            let migrations = json!({"expected": MIGRATIONS, "error": error["output"]});
            return (
                Status::Fail,
                vec![("migrations", migrations), ("cronHeartbeat", error)],
            );
        }
    };
    let (applied, heartbeat, alerts, slos, backlog) = futures::join!(
        store.applied_migrations(),
        store.read_heartbeat(cron::JOB),
        store.alert_rows_evaluated(),
        store.slo_reports(),
        store.outbox_backlog()
    );
    let migrations = match applied {
        Ok(applied) => json!({
            "expected": MIGRATIONS,
            "applied": applied,
            "upToDate": checks::migration_gap(MIGRATIONS, &applied).is_ok(),
        }),
        Err(e) => json!({"expected": MIGRATIONS, "error": text(e)}),
    };
    let (mut status, heartbeat) = match heartbeat {
        Ok(hb) => heartbeat_report(hb.as_ref(), now),
        Err(e) => (Status::Fail, json!({"status": "fail", "output": text(e)})),
    };
    let mut out = vec![("migrations", migrations), ("cronHeartbeat", heartbeat)];
    match (alerts, slos, backlog) {
        (Ok(alerts), Ok(slos), Ok(backlog)) => {
            let (backlog_status, notifications) = backlog_report(&backlog, now);
            status = status.max(backlog_status);
            let active: Vec<serde_json::Value> = alerts
                .iter()
                .filter(|a| matches!(a.state.phase, AlertPhase::Firing | AlertPhase::Pending))
                .map(|a| json!({"alert": a.alert_key, "alertname": a.rule_id, "labels": a.labels, "severity": a.severity, "state": a.state.phase.as_str(), "value": a.state.last_value}))
                .collect();
            out.push(("activeAlerts", active.into()));
            out.push(("slo", json!(slos)));
            out.push(("notifications", notifications));
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            status = status.max(Status::Warn);
            out.push(("alerting", json!({"status": "warn", "output": text(e)})));
        }
    }
    // The targets' health is theirs, not the hub's: it is shown, not folded into the status.
    if !req.config.probes.is_empty() || !req.config.heartbeats.is_empty() {
        let (states, pings) = futures::join!(store.probe_states(), store.last_pings());
        match (states, pings) {
            (Ok(states), Ok(pings)) => {
                let views = super::probes::views(
                    req,
                    &states.into_iter().collect(),
                    &pings.into_iter().collect(),
                );
                out.push(("probes", views["probes"].clone()));
                out.push(("heartbeats", views["heartbeats"].clone()));
            }
            (Err(e), _) | (_, Err(e)) => {
                status = status.max(Status::Warn);
                out.push(("probes", json!({"status": "warn", "output": text(e)})));
            }
        }
    }
    (status, out)
}

/// Runs every check concurrently, records their timings and logs every failure with its real
/// reason (the response withholds it).
async fn run_checks(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Vec<CheckResult> {
    let timeout = req.config.check_timeout_ms;
    let results = probes::run_all(req.env, &req.caller(), &Check::ALL, timeout).await;
    record(req, &results, timing);
    results
}

fn record(req: &RequestInfo<'_>, results: &[CheckResult], timing: &mut ServerTiming) {
    for result in results {
        timing.record(result.check.name(), result.duration_ms);
        if let Some(reason) = &result.error {
            let mut fields = serde_json::Map::new();
            fields.insert("requestId".into(), req.incoming.request_id.as_str().into());
            fields.insert("check".into(), result.check.name().into());
            fields.insert(
                "error".into(),
                json!({"type": "CheckFailed", "message": reason}),
            );
            req.logger
                .emit(Level::Warn, "readiness check failed", fields);
        }
    }
}

fn identity(config: &Config) -> ServiceIdentity<'_> {
    ServiceIdentity {
        service_id: &config.service_name,
        version: build_info::VERSION,
        release_id: build_info::REVISION,
        description: "Vigil operations worker",
    }
}
