//! One function per endpoint; each reads like its contract in DESIGN.md §2.

use serde_json::json;
use worker::Env;

use super::auth::require_bearer;
use super::reply::{ApiError, Reply};
use super::routes::Endpoint;
use super::timing::ServerTiming;
use crate::build_info::{self, MIGRATIONS};
use crate::config::Config;
use crate::cron;
use crate::health::checks::{self, Check, CheckResult, ServiceIdentity, Status};
use crate::health::{detailed, probes};
use crate::store;
use crate::telemetry::log::{Level, Logger};

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
        Endpoint::Livez => Ok(livez(req)),
        Endpoint::Readyz => Ok(readyz(req, timing).await),
        Endpoint::ReadyzCheck(check) => Ok(readyz_check(req, check, timing).await),
        Endpoint::Health => Ok(health(req, timing).await),
        Endpoint::HealthDetailed => health_detailed(req, timing).await,
    }
}

/// Liveness: the isolate runs and can answer. It touches no binding, so a failing dependency
/// never makes an orchestrator restart a healthy process.
fn livez(req: &RequestInfo<'_>) -> Reply {
    if req.accept.contains("application/json") {
        return Reply::json(200, "application/json", &json!({"status": "ok"}));
    }
    let report = checks::render_probe("livez", &[], &[], req.has_param("verbose"));
    Reply::text(report.status, report.body)
}

async fn readyz(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, &Check::ALL, timing).await;
    let report = checks::render_probe(
        "readyz",
        &results,
        &req.params("exclude"),
        req.has_param("verbose"),
    );
    Reply::text(report.status, report.body)
}

async fn readyz_check(req: &RequestInfo<'_>, check: Check, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, &[check], timing).await;
    let report = checks::render_single(&results[0]);
    Reply::text(report.status, report.body)
}

async fn health(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Reply {
    let results = run_checks(req, &Check::ALL, timing).await;
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

    let (applied, heartbeat) = match store::database(req.env) {
        Ok(db) => (
            store::applied_migrations(&db).await.map_err(|e| e.to_string()),
            store::read_heartbeat(&db, cron::JOB).await.map_err(|e| e.to_string()),
        ),
        Err(e) => (Err(e.to_string()), Err(e.to_string())),
    };
    let (heartbeat_status, heartbeat_report) = match &heartbeat {
        Ok(hb) => detailed::heartbeat_report(hb.as_ref(), now),
        Err(e) => (Status::Fail, json!({"status": "fail", "output": e})),
    };
    let smoke_failed = smoke.iter().any(|s| s.error.is_some());
    status = status
        .max(heartbeat_status)
        .max(if smoke_failed { Status::Fail } else { Status::Pass });

    body["status"] = status.as_str().into();
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
    Ok(Reply::json(
        status.http_status(),
        "application/health+json",
        &body,
    ))
}

/// Runs `which` checks concurrently, records their timings and logs every failure with its real
/// reason (the response withholds it).
async fn run_checks(
    req: &RequestInfo<'_>,
    which: &[Check],
    timing: &mut ServerTiming,
) -> Vec<CheckResult> {
    let results = probes::run_all(req.env, which, req.config.check_timeout_ms).await;
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
            req.logger.emit(Level::Warn, "readiness check failed", fields);
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
