//! The minute run's stages: observe (self-probe, heartbeat monitors, status components),
//! probes (whose checks run in batches of their own), evaluate (alerting and SLOs) and deliver
//! (the notification outbox). With the `HUB_JOBS` binding each runs in an invocation of its
//! own, so that each fits the Free plan's 10 ms of CPU and 50 D1 queries; the cron run only
//! coordinates. Each takes and answers JSON, and answers what it used of its invocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Map;
use worker::Env;

use crate::alerting::{dispatch, engine};
use crate::config::Config;
use crate::health::checks::Check;
use crate::health::probes::{self, D1Statements};
use crate::settings::{self, Settings};
use crate::store::Store;
use crate::synthetic::{self, heartbeats, ProbeRun};
use crate::telemetry::log::Level;
use vigil_core::health::checks::CheckResult;
use vigil_core::probes::heartbeats::MonitorStatus;
use vigil_core::probes::state::ProbeStatus;
use vigil_core::status::model::ComponentKind;
use vigil_core::telemetry::limits::{self, InvocationUse};
use vigil_core::telemetry::store_cost::Operation;

/// What every stage answers besides its own findings.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    /// What went wrong (a failed step never stops the next).
    pub failures: Vec<String>,
    /// What the stage used of its invocation.
    pub used: InvocationUse,
}

impl Done {
    pub fn failed(failure: String) -> Done {
        Done {
            failures: vec![failure],
            used: InvocationUse::default(),
        }
    }
}

impl From<Done> for Observed {
    fn from(done: Done) -> Observed {
        Observed {
            done,
            ..Observed::default()
        }
    }
}

impl From<Done> for Probed {
    fn from(done: Done) -> Probed {
        Probed {
            done,
            ..Probed::default()
        }
    }
}

/// What a stage runs with: the configuration and a store whose statements `statements` counts.
fn ready<'a>(
    env: &Env,
    settings: &'a Settings,
    statements: &D1Statements,
) -> Result<(&'a Config, Store), String> {
    let config = settings.config.as_ref().map_err(|e| e.to_string())?;
    let store =
        Store::counted(env, Operation::Cron, statements.clone()).map_err(|e| e.to_string())?;
    Ok((config, store))
}

/// `done` with the statements the stage ran.
fn counted(mut done: Done, statements: &D1Statements) -> Done {
    done.used.d1_statements += statements.get();
    done
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObserveRequest {
    pub now_ms: f64,
    /// When the cron last ran: the status components' checks count from there.
    pub previous_run_ms: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    /// Each readiness check (by name) and whether it passed.
    pub dependencies: Vec<(String, bool)>,
    /// The heartbeat monitors' statuses (`None` when they could not be read).
    pub monitors: Option<BTreeMap<String, MonitorStatus>>,
    pub done: Done,
}

/// The self-probe (the availability SLI's probe half and the `vigil_dependency_*` metrics),
/// the heartbeat monitors, and the status components without a ledger of their own.
pub async fn observe(env: &Env, request: ObserveRequest) -> Observed {
    let (settings, statements) = (settings::load(env), D1Statements::default());
    let (config, store) = match ready(env, &settings, &statements) {
        Ok(ready) => ready,
        Err(e) => return Done::failed(e).into(),
    };
    let (store, mut failures) = (&store, Vec::new());
    let caller = probes::Caller {
        operation: Operation::Cron,
        statements: store.statements(),
    };
    let now_ms = request.now_ms;
    let results = probes::run_all(env, &caller, &Check::ALL, config.check_timeout_ms).await;
    let service = &config.service_name;
    if let Err(e) = store.record_self_probe(service, now_ms, &results).await {
        failures.push(format!("self-probe: {e}"));
    }
    let monitors = heartbeats::statuses(store, config, now_ms).await;
    let shown = status_checks(config, &results, monitors.as_ref().ok());
    if let Err(e) = store
        .record_component_checks(now_ms, request.previous_run_ms, &shown)
        .await
    {
        failures.push(format!("status components: {e}"));
    }
    let monitors = monitors
        .map_err(|e| failures.push(format!("heartbeat monitors: {e}")))
        .ok();
    // KV and R2 calls are not external subrequests (Cloudflare's own services have a limit
    // of their own, 1,000); D1's are counted as statements.
    let used = InvocationUse::default();
    Observed {
        dependencies: results
            .iter()
            .map(|r| (r.check.name().to_string(), r.passed()))
            .collect(),
        monitors,
        done: counted(Done { failures, used }, &statements),
    }
}

/// This run's check of each status-page component without a ledger of its own: the
/// dependencies the page shows and its public monitors (once they have been pinged).
fn status_checks(
    config: &Config,
    results: &[CheckResult],
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbesRequest {
    pub now_ms: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probed {
    /// The run's probe statuses and subrequests (`None` when the probes could not run).
    pub run: Option<ProbeRun>,
    pub done: Done,
}

/// The probes due: their states read, their checks run in batches, what they found stored.
pub async fn probes(env: &Env, request: ProbesRequest) -> Probed {
    let (settings, statements) = (settings::load(env), D1Statements::default());
    let (config, store) = match ready(env, &settings, &statements) {
        Ok(ready) => ready,
        Err(e) => return Done::failed(e).into(),
    };
    let logger = &settings.logger;
    match synthetic::run_due(env, &store, config, logger, request.now_ms).await {
        Ok(run) => {
            let used = run.used;
            let done = Done {
                failures: Vec::new(),
                used,
            };
            let done = counted(done, &statements);
            Probed {
                run: Some(run),
                done,
            }
        }
        Err(e) => {
            // Whatever ran before the failure may have used the probes' whole share.
            let used = InvocationUse {
                subrequests: config.subrequest_budget.for_probes(),
                connections: limits::CONNECTIONS as u32,
                ..InvocationUse::default()
            };
            let failures = vec![format!("probes: {e}")];
            Probed {
                run: None,
                done: counted(Done { failures, used }, &statements),
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateRequest {
    pub now_ms: f64,
    pub last_cron_success_ms: Option<f64>,
    pub dependencies: Vec<(String, bool)>,
    pub probes: Option<BTreeMap<String, ProbeStatus>>,
    pub monitors: Option<BTreeMap<String, MonitorStatus>>,
}

/// One alerting pass over what the other stages observed, and the SLO summary.
pub async fn evaluate(env: &Env, request: EvaluateRequest) -> Done {
    let (settings, statements) = (settings::load(env), D1Statements::default());
    let (config, store) = match ready(env, &settings, &statements) {
        Ok(ready) => ready,
        Err(e) => return Done::failed(e),
    };
    let dependencies: Vec<(Check, bool)> = request
        .dependencies
        .iter()
        .filter_map(|(name, passed)| Some((Check::parse(name)?, *passed)))
        .collect();
    let seen = engine::Observations {
        dependencies: &dependencies,
        last_cron_success_ms: request.last_cron_success_ms,
        probes: request.probes.as_ref(),
        monitors: request.monitors.as_ref(),
    };
    let mut failures = Vec::new();
    if let Err(e) = engine::run(&store, config, &settings.logger, request.now_ms, seen).await {
        failures.push(format!("alerting: {e}"));
    }
    let done = Done {
        failures,
        used: InvocationUse::default(),
    };
    counted(done, &statements)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliverRequest {
    pub now_ms: f64,
    /// Notifications this run may send (subrequests the probes left).
    pub limit: u32,
}

/// Sends the outbox's due notifications: at most one request per row, six at once.
pub async fn deliver(env: &Env, request: DeliverRequest) -> Done {
    let (settings, statements) = (settings::load(env), D1Statements::default());
    let (config, store) = match ready(env, &settings, &statements) {
        Ok(ready) => ready,
        Err(e) => return Done::failed(e),
    };
    let logger = &settings.logger;
    let (now_ms, limit) = (request.now_ms, request.limit);
    let mut done = Done::default();
    match dispatch::deliver_due(env, &store, config, logger, now_ms, limit).await {
        Ok((delivered, failed)) if delivered + failed > 0 => {
            done.used.subrequests = (delivered + failed) as u32;
            done.used.connections = (delivered + failed).min(limits::CONNECTIONS) as u32;
            let mut fields = Map::new();
            fields.insert("delivered".into(), delivered.into());
            fields.insert("failed".into(), failed.into());
            logger.emit(Level::Info, "notifications sent", fields);
        }
        Ok(_) => {}
        Err(e) => done.failures.push(format!("notifications: {e}")),
    }
    counted(done, &statements)
}
