//! The minute cron, its steps in order, each logged, none able to stop the others: flush
//! metrics, then the stages (self-probe with heartbeat monitors, due probes, alerting,
//! delivery; each in an invocation of its own when the deployment can), hourly housekeeping,
//! the cron's own heartbeat.
//!
//! "Now" is the scheduled event's time, never a clock read elsewhere, so tests drive time
//! through the scheduled test endpoint.

pub mod stages;

use serde_json::{json, Map};
use worker::{Date, Env, ScheduledEvent};

use crate::aggregator::client::Delivery;
use crate::aggregator::hub::{self, Flushed};
use crate::config::Config;
use crate::health::probes::D1Statements;
use crate::housekeeping::{self, HousekeepingRequest};
use crate::jobs::{self, HowRan, Job};
use crate::settings;
use crate::store::Store;
use crate::telemetry::log::{error_field, Level};
use stages::{DeliverRequest, Done, EvaluateRequest, ObserveRequest, ProbesRequest};
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
    let mut jobs = InvocationUse::default();
    match (&settings.config, &store) {
        (Err(e), _) => failures.push(e.to_string()),
        (Ok(_), Err(e)) => failures.push(e.to_string()),
        (Ok(config), Ok(store)) => {
            let run = minute(&env, store, config, now_ms).await;
            failures.extend(run.failures);
            used = used.and(run.own);
            jobs = run.jobs;
        }
    }

    let duration = Date::now().as_millis() as f64 - started;
    let error = (!failures.is_empty()).then(|| failures.join("; "));
    // The heartbeat's own statement is counted before it is written.
    used.d1_statements += statements.get() + 1;
    // What the heartbeat keeps: the most one invocation of the run used.
    let most = used.most(jobs);
    let heartbeat = match &store {
        Ok(store) => {
            let error = error.as_deref();
            store
                .record_heartbeat(JOB, now_ms, duration, error, &most)
                .await
        }
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = heartbeat {
        failures.push(format!("heartbeat: {e}"));
    }

    let fields = run_fields(&event, now_ms, duration, &used, &jobs);
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
/// limits: its own invocation and the most any of its jobs used (naming any Free-plan limit
/// either went past).
fn run_fields(
    event: &ScheduledEvent,
    now_ms: f64,
    duration: f64,
    used: &InvocationUse,
    jobs: &InvocationUse,
) -> Map<String, serde_json::Value> {
    let mut fields = Map::new();
    fields.insert("cron".into(), event.cron().into());
    fields.insert("scheduledTime".into(), json!(now_ms));
    fields.insert("durationMs".into(), json!(duration));
    fields.insert("invocation".into(), json!(used));
    fields.insert("jobs".into(), json!(jobs));
    let exceeded = used.most(*jobs).exceeded(&limits::FREE);
    if !exceeded.is_empty() {
        fields.insert("overFreePlanLimits".into(), json!(exceeded));
    }
    fields
}

/// What the steps that need the database leave: what failed, what the cron's invocation used,
/// and the most any of the stages that ran in invocations of their own used.
#[derive(Default)]
struct MinuteRun {
    failures: Vec<String>,
    own: InvocationUse,
    jobs: InvocationUse,
}

impl MinuteRun {
    /// Takes in a stage's failures and use: its own invocation's, or added to the cron's.
    fn absorb(&mut self, done: Done, how: HowRan) {
        self.failures.extend(how.failure);
        self.failures.extend(done.failures);
        if how.elsewhere {
            self.own.subrequests += 1;
            self.own.connections = self.own.connections.max(1);
            self.jobs = self.jobs.most(done.used);
        } else {
            self.own = self.own.and(done.used);
        }
    }
}

/// The steps that need the database, as stages (see [`stages`]): observe, probes, evaluate,
/// deliver, then the hourly housekeeping. A failed step never stops the next.
async fn minute(env: &Env, store: &Store, config: &Config, now_ms: f64) -> MinuteRun {
    let mut run = MinuteRun::default();
    let previous_run = store.read_heartbeat(JOB).await.ok().flatten();
    let request = ObserveRequest {
        now_ms,
        previous_run_ms: previous_run.as_ref().map(|hb| hb.last_run_ms),
    };
    let (observed, how) =
        jobs::hand_off(env, Job::Observe, request, |q| stages::observe(env, q)).await;
    run.absorb(observed.done, how);
    let request = ProbesRequest { now_ms };
    let (probed, how) = jobs::hand_off(env, Job::Probes, request, |q| stages::probes(env, q)).await;
    run.absorb(probed.done, how);
    let probe_run = probed.run;
    let request = EvaluateRequest {
        now_ms,
        last_cron_success_ms: previous_run.and_then(|hb| hb.last_success_ms),
        dependencies: observed.dependencies,
        probes: probe_run.as_ref().map(|r| r.statuses.clone()),
        monitors: observed.monitors,
    };
    let (done, how) =
        jobs::hand_off(env, Job::Evaluate, request, |q| stages::evaluate(env, q)).await;
    run.absorb(done, how);
    let probe_subrequests =
        probe_run.map_or(config.subrequest_budget.for_probes(), |r| r.subrequests);
    let limit = config
        .subrequest_budget
        .for_notifications(probe_subrequests);
    let request = DeliverRequest { now_ms, limit };
    let (done, how) = jobs::hand_off(env, Job::Deliver, request, |q| stages::deliver(env, q)).await;
    run.absorb(done, how);
    if housekeeping::due(now_ms) {
        let request = HousekeepingRequest { now_ms };
        let (kept, how) = jobs::hand_off(env, Job::Housekeeping, request, |q| {
            housekeeping::stage(env, q)
        })
        .await;
        if kept.archived > 0 {
            let mut fields = Map::new();
            fields.insert("archived".into(), kept.archived.into());
            let logger = &settings::load(env).logger;
            logger.emit(Level::Info, "alert history archived to R2", fields);
        }
        run.absorb(kept.done, how);
    }
    run
}
