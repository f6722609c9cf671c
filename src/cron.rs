//! The minute cron, its steps in order, each logged, none able to stop the others: flush
//! metrics, self-probe, due probes, heartbeat monitors, alerting, delivery, hourly
//! housekeeping, the cron's own heartbeat.
//!
//! "Now" is the scheduled event's time, never a clock read elsewhere, so tests drive time
//! through the scheduled test endpoint.

use std::collections::BTreeMap;

use serde_json::{json, Map};
use worker::{Date, Env, ScheduledEvent};

use crate::aggregator::client::Delivery;
use crate::aggregator::hub::{self, Flushed};
use crate::alerting::{dispatch, engine};
use crate::config::Config;
use crate::health::checks::Check;
use crate::health::probes;
use crate::health::probes::D1Statements;
use crate::housekeeping;
use crate::settings;
use crate::store::Store;
use crate::synthetic::{self, heartbeats};
use crate::telemetry::log::{error_field, Level, Logger};
use vigil_core::probes::heartbeats::MonitorStatus;
use vigil_core::status::model::ComponentKind;
use vigil_core::telemetry::limits::{self, InvocationUse};
use vigil_core::telemetry::store_cost::Operation;

/// The job name under which the minute cron records its heartbeat.
pub const JOB: &str = "minute";

pub async fn run(event: ScheduledEvent, env: Env) {
    let now_ms = event.schedule();
    let started = Date::now().as_millis() as f64;
    let settings = settings::load(&env);
    let logger = &settings.logger;
    let mut failures: Vec<String> = Vec::new();

    // The aggregator writes what the fleet sent (this isolate's batch too) before rules read it.
    match hub::flush(&env, now_ms, Delivery::MergeAndWrite).await {
        Ok(Flushed::WriteFailed(e)) => failures.push(format!("aggregator write: {e}")),
        Err(e) => failures.push(format!("metrics flush: {e}")),
        outcome @ Ok(_) => hub::report(logger, &outcome, Map::new()),
    }
    let statements = D1Statements::default();
    let store = Store::counted(&env, Operation::Cron, statements.clone());
    // The aggregator call is a subrequest.
    let mut used = InvocationUse {
        subrequests: 1,
        ..InvocationUse::default()
    };
    match (&settings.config, &store) {
        (Err(e), _) => failures.push(e.to_string()),
        (Ok(_), Err(e)) => failures.push(e.to_string()),
        (Ok(config), Ok(store)) => {
            let run = minute(&env, store, config, logger, now_ms).await;
            failures.extend(run.failures);
            used.subrequests += run.used.subrequests;
            used.connections = run.used.connections;
        }
    }

    let duration = Date::now().as_millis() as f64 - started;
    let error = (!failures.is_empty()).then(|| failures.join("; "));
    // The heartbeat's own statement is counted before it is written.
    used.d1_statements = statements.get() + 1;
    let heartbeat = match &store {
        Ok(store) => {
            let error = error.as_deref();
            store
                .record_heartbeat(JOB, now_ms, duration, error, &used)
                .await
        }
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = heartbeat {
        failures.push(format!("heartbeat: {e}"));
    }

    let fields = run_fields(&event, now_ms, duration, &used);
    if failures.is_empty() {
        logger.emit(Level::Info, "cron run", fields);
    } else {
        let mut fields = fields;
        let failed = error_field("CronStepFailed", &failures.join("; "));
        fields.insert("error".into(), failed);
        logger.emit(Level::Error, "cron run", fields);
    }
}

/// The `cron run` line's fields: when, how long, and what the run used of the per-invocation
/// limits (naming any Free-plan limit it went past).
fn run_fields(
    event: &ScheduledEvent,
    now_ms: f64,
    duration: f64,
    used: &InvocationUse,
) -> Map<String, serde_json::Value> {
    let mut fields = Map::new();
    fields.insert("cron".into(), event.cron().into());
    fields.insert("scheduledTime".into(), json!(now_ms));
    fields.insert("durationMs".into(), json!(duration));
    fields.insert("invocation".into(), json!(used));
    let exceeded = used.exceeded(&limits::FREE);
    if !exceeded.is_empty() {
        fields.insert("overFreePlanLimits".into(), json!(exceeded));
    }
    fields
}

/// This run's check of each status-page component without a ledger of its own: the
/// dependencies the page shows and its public monitors (once they have been pinged).
fn status_checks(
    config: &Config,
    results: &[vigil_core::health::checks::CheckResult],
    monitors: Option<&BTreeMap<String, MonitorStatus>>,
) -> Vec<(String, bool)> {
    let dependencies = config.status.dependencies.iter().filter_map(|d| {
        let result = results.iter().find(|r| r.check == *d)?;
        Some((
            ComponentKind::Dependency.ledger_key(d.name()),
            !result.passed(),
        ))
    });
    let public = config.heartbeats.iter().filter(|m| m.public);
    let monitors = public.filter_map(|m| {
        let down = monitors?.get(&m.name)?.down()?;
        Some((ComponentKind::Monitor.ledger_key(&m.name), down))
    });
    dependencies.chain(monitors).collect()
}

/// What the steps that need the database leave: what failed, and the subrequests and
/// connections they used.
struct MinuteRun {
    failures: Vec<String>,
    used: InvocationUse,
}

/// The steps that need the database: self-probe, probes, monitors, alerting, delivery,
/// housekeeping. A failed step never stops the next.
async fn minute(
    env: &Env,
    store: &Store,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
) -> MinuteRun {
    let mut failures = Vec::new();
    let previous_run = store.read_heartbeat(JOB).await.ok().flatten();
    let last_success = previous_run.as_ref().and_then(|hb| hb.last_success_ms);

    // The self-probe: the readiness checks, recorded as the availability SLI's probe half and
    // as vigil_dependency_* metrics.
    let caller = probes::Caller {
        operation: Operation::Cron,
        statements: store.statements(),
    };
    let results = probes::run_all(env, &caller, &Check::ALL, config.check_timeout_ms).await;
    let service = &config.service_name;
    if let Err(e) = store.record_self_probe(service, now_ms, &results).await {
        failures.push(format!("self-probe: {e}"));
    }
    let dependencies: Vec<(Check, bool)> = results.iter().map(|r| (r.check, r.passed())).collect();
    let probes = synthetic::run_due(env, store, config, logger, now_ms).await;
    let monitors = heartbeats::statuses(store, config, now_ms).await;
    let shown = status_checks(config, &results, monitors.as_ref().ok());
    let previous_ms = previous_run.map(|hb| hb.last_run_ms);
    if let Err(e) = store
        .record_component_checks(now_ms, previous_ms, &shown)
        .await
    {
        failures.push(format!("status components: {e}"));
    }
    let seen = engine::Observations {
        dependencies: &dependencies,
        last_cron_success_ms: last_success,
        probes: probes.as_ref().ok().map(|run| &run.statuses),
        monitors: monitors.as_ref().ok(),
    };
    if let Err(e) = engine::run(store, config, logger, now_ms, seen).await {
        failures.push(format!("alerting: {e}"));
    }
    let (probe_subrequests, mut used) = match probes {
        Ok(run) => (run.subrequests, run.used),
        Err(e) => {
            failures.push(format!("probes: {e}"));
            // Whatever ran before the failure may have used the probes' whole share.
            let share = config.subrequest_budget.for_probes();
            let used = InvocationUse {
                subrequests: share,
                connections: limits::CONNECTIONS as u32,
                ..InvocationUse::default()
            };
            (share, used)
        }
    };
    if let Err(e) = monitors {
        failures.push(format!("heartbeat monitors: {e}"));
    }
    let limit = config
        .subrequest_budget
        .for_notifications(probe_subrequests);
    match dispatch::deliver_due(env, store, config, logger, now_ms, limit).await {
        Ok((delivered, failed)) if delivered + failed > 0 => {
            // At most one request per row, at most six at once.
            used.subrequests += (delivered + failed) as u32;
            let open = (delivered + failed).min(limits::CONNECTIONS) as u32;
            used.connections = used.connections.max(open);
            let mut fields = Map::new();
            fields.insert("delivered".into(), delivered.into());
            fields.insert("failed".into(), failed.into());
            logger.emit(Level::Info, "notifications sent", fields);
        }
        Ok(_) => {}
        Err(e) => failures.push(format!("notifications: {e}")),
    }
    if housekeeping::due(now_ms) {
        match housekeeping::run_due(env, now_ms, store.statements()).await {
            Ok(done) => {
                used.subrequests += done.subrequests;
                if done.archived > 0 {
                    let mut fields = Map::new();
                    fields.insert("archived".into(), done.archived.into());
                    logger.emit(Level::Info, "alert history archived to R2", fields);
                }
            }
            Err(e) => failures.push(format!("housekeeping: {e}")),
        }
    }
    MinuteRun { failures, used }
}
