//! The cron's outside-in step: run the due probes within the run's subrequest budget and store
//! their states; read the heartbeat monitors' last pings. The decisions (what is due, how an
//! answer is judged, up/down) are the core's; this module sends and stores.

mod batch;
mod check;
pub mod heartbeats;

use std::collections::BTreeMap;

use serde_json::{json, Map};
use worker::Env;

use crate::config::Config;
use crate::store::{ProbeCheck, Store, StoreError};
use crate::telemetry::log::{error_field, Level, Logger};
pub use batch::run_batch;
use batch::run_checks;
use vigil_core::probes::schedule::schedule;
use vigil_core::probes::spec::ProbeSpec;
use vigil_core::probes::state::{advance, ProbeState, ProbeStatus};
use vigil_core::probes::verdict::CheckResult;
use vigil_core::telemetry::limits::InvocationUse;

/// A probe checked at least this often is checked in every minute's cron run.
const MINUTE_MS: u64 = 60_000;

/// What the probe step leaves for the rest of the run.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ProbeRun {
    /// Every configured probe's status after this run (checked or not).
    pub statuses: BTreeMap<String, ProbeStatus>,
    /// Subrequests the checks used (first requests and redirect hops), wherever they ran.
    pub subrequests: u32,
    /// What this invocation used: its own checks, or one call per batch.
    pub used: InvocationUse,
}

/// Runs the probes due at `now_ms` and stores what they found.
pub async fn run_due(
    env: &Env,
    store: &Store,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
) -> Result<ProbeRun, StoreError> {
    if config.probes.is_empty() {
        return Ok(ProbeRun {
            statuses: BTreeMap::new(),
            subrequests: 0,
            used: InvocationUse::default(),
        });
    }
    let mut states: BTreeMap<String, ProbeState> =
        store.probe_states().await?.into_iter().collect();
    let capacity = config.subrequest_budget.for_probes();
    let last_run = |name: &str| states.get(name)?.last.as_ref().map(|l| l.at_ms);
    let plan = schedule(&config.probes, last_run, now_ms, capacity);
    let hops_available = capacity.saturating_sub(plan.run.len() as u32);
    let specs: Vec<&ProbeSpec> = plan.run.iter().map(|&i| &config.probes[i]).collect();
    let (results, hops_used, used) = run_checks(env, logger, specs, hops_available).await;
    let mut deferred = plan.deferred.len() as u64;
    let mut checked: Vec<(&ProbeSpec, ProbeState)> = Vec::with_capacity(results.len());
    for (spec, outcome) in results {
        let Some(last) = outcome.last_check(now_ms) else {
            deferred += 1;
            continue;
        };
        let previous = states.get(&spec.name).cloned().unwrap_or_default();
        let next = advance(&previous, spec, last);
        log_check(logger, &spec.name, &previous, &next);
        states.insert(spec.name.clone(), next);
        checked.push((spec, previous));
    }
    if deferred > 0 {
        let mut fields = Map::new();
        fields.insert("deferred".into(), deferred.into());
        fields.insert(
            "subrequestBudget".into(),
            config.subrequest_budget.total.into(),
        );
        logger.emit(Level::Info, "probes deferred to the next run", fields);
    }
    let saved = probe_checks(&checked, &states);
    store
        .save_probe_checks(now_ms, &saved, &states, deferred)
        .await?;
    let statuses = config
        .probes
        .iter()
        .map(|spec| {
            let status = states.get(&spec.name).map(|s| s.status).unwrap_or_default();
            (spec.name.clone(), status)
        })
        .collect();
    Ok(ProbeRun {
        statuses,
        subrequests: saved.len() as u32 + hops_used,
        used,
    })
}

/// What the run stores of each probe it checked: its state before and after.
fn probe_checks<'a>(
    checked: &'a [(&'a ProbeSpec, ProbeState)],
    states: &'a BTreeMap<String, ProbeState>,
) -> Vec<ProbeCheck<'a>> {
    checked
        .iter()
        .filter_map(|(spec, previous)| {
            Some(ProbeCheck {
                probe: &spec.name,
                previous,
                next: states.get(&spec.name)?,
                every_minute: spec.interval_ms <= MINUTE_MS,
            })
        })
        .collect()
}

/// A failed check is a warning with its reason; a status change says from what to what.
fn log_check(logger: &Logger, probe: &str, previous: &ProbeState, next: &ProbeState) {
    let Some(last) = &next.last else {
        return;
    };
    let mut fields = Map::new();
    fields.insert("probe".into(), probe.into());
    fields.insert("result".into(), last.result.as_str().into());
    fields.insert("durationMs".into(), json!(last.duration_ms));
    if let Some(status) = last.http_status {
        fields.insert("status".into(), status.into());
    }
    if next.status != previous.status {
        fields.insert("from".into(), previous.status.as_str().into());
        fields.insert("to".into(), next.status.as_str().into());
    }
    let reason = last.reason.as_deref().unwrap_or_default();
    match last.result {
        CheckResult::Fail => {
            fields.insert("error".into(), error_field("ProbeCheckFailed", reason));
            logger.emit(Level::Warn, "probe check failed", fields);
        }
        _ if next.status != previous.status => {
            logger.emit(Level::Info, "probe status changed", fields)
        }
        _ => logger.emit(Level::Debug, "probe check passed", fields),
    }
}
