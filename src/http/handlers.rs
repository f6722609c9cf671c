//! One function per endpoint; each reads like its contract in DESIGN.md §2.

use serde_json::json;
use worker::Env;

use super::auth::require_bearer;
use super::reply::{ApiError, Reply};
use super::routes::Endpoint;
use super::timing::ServerTiming;
use crate::alerting::dispatch::enabled_channels;
use crate::alerting::engine;
use crate::alerting::rules::format_duration;
use crate::alerting::state::AlertPhase;
use crate::build_info::{self, MIGRATIONS};
use crate::config::Config;
use crate::cron;
use crate::health::checks::{self, Check, CheckResult, ServiceIdentity, Status};
use crate::health::{detailed, probes};
use crate::store;
use crate::telemetry::catalog::{self, AlertSample, Snapshot};
use crate::telemetry::exposition;
use crate::telemetry::log::{iso_timestamp, Level, Logger};

/// What a handler may read of the request and its environment.
pub struct RequestInfo<'a> {
    pub env: &'a Env,
    pub config: &'a Config,
    pub logger: &'a Logger,
    pub request_id: &'a str,
    pub accept: &'a str,
    pub authorization: Option<&'a str>,
    /// Query parameters in order; repeated names appear repeatedly.
    pub query: &'a [(String, String)],
}

impl RequestInfo<'_> {
    fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    fn params(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Serves `endpoint`, recording each dependency it touches in `timing`.
pub async fn handle(
    endpoint: Endpoint,
    req: &RequestInfo<'_>,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    match endpoint {
        Endpoint::Livez => Ok(livez(req.accept, req.has_param("verbose"))),
        Endpoint::Readyz => Ok(readyz(req, timing).await),
        Endpoint::ReadyzCheck(check) => Ok(readyz_check(req, check, timing).await),
        Endpoint::Health => Ok(health(req, timing).await),
        Endpoint::HealthDetailed => health_detailed(req, timing).await,
        Endpoint::Metrics => metrics(req, timing).await,
        Endpoint::Alerts => alerts(req, timing).await,
        Endpoint::Slo => slo(req, timing).await,
    }
}

/// Rules with their current state, invalid overrides, the notification outbox and recent
/// transitions.
async fn alerts(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let (rules, errors) = engine::rules_in_force(req.config);
    let started = probes::now_ms();
    let read = async {
        let db = store::database(req.env)?;
        let (states, backlog, history) = futures::join!(
            store::alert_rows(&db),
            store::outbox_backlog(&db),
            store::recent_history(&db, 50)
        );
        Ok::<_, store::StoreError>((states?, backlog?, history?))
    };
    let read = read.await;
    timing.record("d1", probes::now_ms() - started);
    let (states, backlog, history) = read.map_err(|e| store_unavailable(req, e))?;
    let iso = |ms: Option<f64>| ms.map(iso_timestamp);
    let rules: Vec<serde_json::Value> = rules
        .iter()
        .map(|rule| {
            let state = states.iter().find(|s| s.rule_id == rule.id);
            json!({
                "id": rule.id,
                "kind": rule.kind.as_str(),
                "severity": rule.severity,
                "threshold": rule.threshold,
                "window": format_duration(rule.window_ms),
                "for": format_duration(rule.for_ms),
                "keepFiringFor": format_duration(rule.keep_firing_for_ms),
                "labels": rule.labels,
                "annotations": rule.annotations,
                "state": state.map_or("inactive", |s| s.state.phase.as_str()),
                "since": iso(state.and_then(|s| s.state.active_since_ms)),
                "firedAt": iso(state.and_then(|s| s.state.fired_at_ms)),
                "resolvedAt": iso(state.and_then(|s| s.state.resolved_at_ms)),
                "lastValue": state.map(|s| s.state.last_value),
                "lastEvaluation": iso(state.and_then(|s| s.state.last_eval_ms)),
                "lastNotification": iso(state.and_then(|s| s.state.last_notified_ms)),
            })
        })
        .collect();
    let body = json!({
        "rules": rules,
        "invalidRules": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "notifications": {
            "channels": enabled_channels(&req.config.channels).iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "outbox": detailed::backlog_report(&backlog, probes::now_ms()).1["outbox"],
        },
        "history": history.iter().map(|h| json!({
            "rule": h.rule_id,
            "transition": h.transition,
            "at": iso_timestamp(h.at_ms),
            "value": h.value,
        })).collect::<Vec<_>>(),
    });
    Ok(Reply::json(200, "application/json", &body))
}

/// SLOs: objective, 30-day SLI, remaining error budget and burn rates, as the last cron run
/// computed them.
async fn slo(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let started = probes::now_ms();
    let reports = match store::database(req.env) {
        Ok(db) => store::slo_reports(&db).await,
        Err(e) => Err(e),
    };
    timing.record("d1", probes::now_ms() - started);
    let reports = reports.map_err(|e| store_unavailable(req, e))?;
    let config = engine::slo_config(req.config);
    let body = json!({
        "window": "30d",
        "latencyThresholdSeconds": config.latency_threshold_seconds,
        "slos": reports,
    });
    Ok(Reply::json(200, "application/json", &body))
}

/// A D1 failure: logged with its reason, answered with 503.
fn store_unavailable(req: &RequestInfo<'_>, error: store::StoreError) -> ApiError {
    let mut fields = serde_json::Map::new();
    fields.insert("requestId".into(), req.request_id.into());
    fields.insert(
        "error".into(),
        json!({"type": "StoreError", "message": error.to_string()}),
    );
    req.logger.emit(Level::Error, "D1 read failed", fields);
    ApiError::new(
        503,
        "Store Unavailable",
        "D1 could not be read; the reason is in the log",
    )
}

/// Prometheus exposition of the cluster-wide totals in D1 (text 0.0.4, or OpenMetrics 1.0 when
/// the scraper asks for it).
async fn metrics(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    if let Some(token) = &req.config.metrics_token {
        require_bearer(req.authorization, token)?;
    }
    let started = probes::now_ms();
    let snapshot = read_snapshot(req).await;
    timing.record("d1", probes::now_ms() - started);
    let snapshot = snapshot.map_err(|e| store_unavailable(req, e))?;
    let format = exposition::negotiate(req.accept);
    Ok(Reply {
        status: 200,
        content_type: exposition::content_type(format),
        body: exposition::render(&catalog::families(&snapshot), format),
        headers: Vec::new(),
    })
}

async fn read_snapshot(req: &RequestInfo<'_>) -> Result<Snapshot, store::StoreError> {
    let db = store::database(req.env)?;
    let (requests, dependencies, heartbeat, (flush_batches, dropped), alerts, slos, notifications) = futures::join!(
        store::request_totals(&db),
        store::dependency_statuses(&db),
        store::read_heartbeat(&db, cron::JOB),
        futures::future::join(
            store::counter(&db, store::FLUSH_BATCHES),
            store::counter(&db, store::DROPPED_REQUESTS)
        ),
        store::alert_rows(&db),
        store::slo_reports(&db),
        store::notification_counts(&db),
    );
    Ok(Snapshot {
        environment: req.config.environment.clone(),
        requests: requests?,
        dependencies: dependencies?,
        cron_last_success_ms: heartbeat?.and_then(|hb| hb.last_success_ms),
        flush_batches: flush_batches?,
        dropped_requests: dropped?,
        alerts: alerts?
            .into_iter()
            .map(|row| AlertSample {
                alertname: row.rule_id,
                severity: row.severity,
                state: row.state.phase.as_str().to_string(),
            })
            .collect(),
        slos: slos?
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        notifications: notifications?,
    })
}

/// Liveness: the isolate runs and can answer. It touches no binding, so a failing dependency
/// never makes an orchestrator restart a healthy process.
pub fn livez(accept: &str, verbose: bool) -> Reply {
    if accept.contains("application/json") {
        return Reply::json(200, "application/json", &json!({"status": "ok"}));
    }
    let report = checks::render_probe("livez", &[], &[], verbose);
    Reply::text(report.status, report.body)
}

async fn readyz(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, timing).await;
    let report = checks::render_probe(
        "readyz",
        &results,
        &req.params("exclude"),
        req.has_param("verbose"),
    );
    Reply::text(report.status, report.body)
}

async fn readyz_check(req: &RequestInfo<'_>, check: Check, timing: &mut ServerTiming) -> Reply {
    let result = probes::run_one(req.env, check, req.config.check_timeout_ms).await;
    record(req, std::slice::from_ref(&result), timing);
    let report = checks::render_single(&result);
    Reply::text(report.status, report.body)
}

async fn health(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, timing).await;
    let (status, body) = checks::render_health(
        &identity(req.config),
        &results,
        f64::from(req.config.slow_check_ms),
        probes::now_ms(),
        false,
    );
    Reply::json(status.http_status(), "application/health+json", &body)
}

async fn health_detailed(
    req: &RequestInfo<'_>,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let timeout = req.config.check_timeout_ms;
    let (results, smoke) = futures::join!(
        probes::run_all(req.env, &Check::ALL, timeout),
        detailed::smoke_tests(req.env, timeout)
    );
    record(req, &results, timing);
    let now = probes::now_ms();
    let (mut status, mut body) = checks::render_health(
        &identity(req.config),
        &results,
        f64::from(req.config.slow_check_ms),
        now,
        true,
    );

    let text = |e: store::StoreError| e.to_string();
    let (applied, heartbeat, alerting) = match store::database(req.env) {
        Ok(db) => {
            let (applied, heartbeat, alerts, slos, backlog) = futures::join!(
                store::applied_migrations(&db),
                store::read_heartbeat(&db, cron::JOB),
                store::alert_rows(&db),
                store::slo_reports(&db),
                store::outbox_backlog(&db)
            );
            let alerting = match (alerts, slos, backlog) {
                (Ok(a), Ok(s), Ok(b)) => Ok((a, s, b)),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(text(e)),
            };
            (applied.map_err(text), heartbeat.map_err(text), alerting)
        }
        Err(e) => (Err(text(e.clone())), Err(text(e.clone())), Err(text(e))),
    };
    let (heartbeat_status, heartbeat_report) = match &heartbeat {
        Ok(hb) => detailed::heartbeat_report(hb.as_ref(), now),
        Err(e) => (Status::Fail, json!({"status": "fail", "output": e})),
    };
    let smoke_failed = smoke.iter().any(|s| s.error.is_some());
    status = status.max(heartbeat_status).max(if smoke_failed {
        Status::Fail
    } else {
        Status::Pass
    });

    body["smokeTests"] = smoke
        .iter()
        .map(|s| (s.component.to_string(), s.report()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    body["migrations"] = match applied {
        Ok(applied) => json!({
            "expected": MIGRATIONS,
            "applied": applied,
            "upToDate": checks::migration_gap(MIGRATIONS, &applied).is_ok(),
        }),
        Err(e) => json!({"expected": MIGRATIONS, "error": e}),
    };
    body["cronHeartbeat"] = heartbeat_report;
    match alerting {
        Ok((alerts, slos, backlog)) => {
            let (backlog_status, backlog_report) = detailed::backlog_report(&backlog, now);
            status = status.max(backlog_status);
            body["activeAlerts"] = alerts
                .iter()
                .filter(|a| matches!(a.state.phase, AlertPhase::Firing | AlertPhase::Pending))
                .map(|a| json!({"alertname": a.rule_id, "severity": a.severity, "state": a.state.phase.as_str(), "value": a.state.last_value}))
                .collect::<Vec<_>>()
                .into();
            body["slo"] = slos.into();
            body["notifications"] = backlog_report;
        }
        Err(e) => {
            status = status.max(Status::Warn);
            body["alerting"] = json!({"status": "warn", "output": e});
        }
    }
    body["status"] = status.as_str().into();
    Ok(Reply::json(
        status.http_status(),
        "application/health+json",
        &body,
    ))
}

/// Runs every check concurrently, records their timings and logs every failure with its real
/// reason (the response withholds it).
async fn run_checks(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Vec<CheckResult> {
    let results = probes::run_all(req.env, &Check::ALL, req.config.check_timeout_ms).await;
    record(req, &results, timing);
    results
}

fn record(req: &RequestInfo<'_>, results: &[CheckResult], timing: &mut ServerTiming) {
    for result in results {
        timing.record(result.check.name(), result.duration_ms);
        if let Some(reason) = &result.error {
            let mut fields = serde_json::Map::new();
            fields.insert("requestId".into(), req.request_id.into());
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

/// The admin endpoints need `ADMIN_TOKEN`; without one configured they refuse and say how to
/// set it, rather than serve diagnostics to anyone.
fn require_admin(req: &RequestInfo<'_>) -> Result<(), ApiError> {
    match &req.config.admin_token {
        Some(token) => require_bearer(req.authorization, token),
        None => Err(ApiError::new(
            403,
            "Admin Token Not Configured",
            "this endpoint is disabled until ADMIN_TOKEN is set: `wrangler secret put ADMIN_TOKEN` (or ADMIN_TOKEN in .dev.vars locally)",
        )),
    }
}
