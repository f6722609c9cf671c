//! The cron's checks, split across invocations: more than [`PROBES_PER_INVOCATION`] due probes
//! go in batches to the hub's own jobs entrypoint (`jobs`), each batch an invocation with its
//! own CPU and subrequest limits. Without the binding, or when a batch fails, the checks run
//! here instead: a probe is never left unchecked because of how it was scheduled.

use std::cell::Cell;

use futures::StreamExt;
use serde_json::Map;
use worker::{Env, Fetcher};

use super::check::check;
use crate::jobs::{self, Job};
use crate::settings;
use crate::telemetry::log::{error_field, Level, Logger};
use vigil_core::probes::batch::{
    batches, BatchReply, BatchRequest, Outcome, PROBES_PER_INVOCATION,
};
use vigil_core::probes::spec::ProbeSpec;
use vigil_core::telemetry::limits::{InvocationUse, CONNECTIONS};

/// Checks `specs` (the due probes, in order), `hops` redirect hops to spare; returns each
/// probe's outcome, the hops used, and what this invocation used for them.
pub async fn run_checks<'a>(
    env: &Env,
    logger: &Logger,
    specs: Vec<&'a ProbeSpec>,
    hops: u32,
) -> (Vec<(&'a ProbeSpec, Outcome)>, u32, InvocationUse) {
    let Some(binding) = jobs::binding(env).filter(|_| specs.len() > PROBES_PER_INVOCATION) else {
        let (outcomes, hops_used) = check_here(env, specs, hops).await;
        let used = requests_made(outcomes.len() as u32 + hops_used);
        return (outcomes, hops_used, used);
    };
    let names = specs.iter().map(|s| s.name.clone()).collect();
    let requests = batches(names, hops);
    let replies: Vec<(BatchRequest, Result<BatchReply, String>)> = futures::stream::iter(requests)
        .map(|request| async {
            let reply = send(&binding, &request).await;
            (request, reply)
        })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    let mut used = requests_made(replies.len() as u32);
    let mut outcomes = Vec::with_capacity(specs.len());
    let mut hops_used = 0;
    for (request, reply) in replies {
        let batch: Vec<&ProbeSpec> = specs
            .iter()
            .copied()
            .filter(|s| request.probes.contains(&s.name))
            .collect();
        let (checked, used_hops) = match reply {
            Ok(reply) => (matched(&batch, reply.checks), reply.hops_used),
            Err(reason) => {
                log_failed_batch(logger, &request, &reason);
                let (checked, hops) = check_here(env, batch, request.hops).await;
                let here = requests_made(checked.len() as u32 + hops);
                used.subrequests += here.subrequests;
                used.connections = used.connections.max(here.connections);
                (checked, hops)
            }
        };
        outcomes.extend(checked);
        hops_used += used_hops;
    }
    (outcomes, hops_used, used)
}

/// `requests` subrequests, at most [`CONNECTIONS`] of them at once.
fn requests_made(requests: u32) -> InvocationUse {
    InvocationUse {
        subrequests: requests,
        connections: requests.min(CONNECTIONS as u32),
        ..InvocationUse::default()
    }
}

/// Runs the checks in this invocation, six at a time.
async fn check_here<'a>(
    env: &Env,
    specs: Vec<&'a ProbeSpec>,
    hops: u32,
) -> (Vec<(&'a ProbeSpec, Outcome)>, u32) {
    let spare = Cell::new(hops);
    let spare_hops = &spare;
    let outcomes = futures::stream::iter(specs)
        .map(|spec| async move { (spec, check(spec, env, spare_hops).await) })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    (outcomes, hops - spare.get())
}

/// A batch's outcomes joined to the specs asked for (a probe it did not answer for is
/// deferred, not judged).
fn matched<'a>(
    batch: &[&'a ProbeSpec],
    checks: Vec<(String, Outcome)>,
) -> Vec<(&'a ProbeSpec, Outcome)> {
    batch
        .iter()
        .map(|spec| {
            let outcome = checks
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map_or(Outcome::Deferred, |(_, o)| o.clone());
            (*spec, outcome)
        })
        .collect()
}

async fn send(binding: &Fetcher, request: &BatchRequest) -> Result<BatchReply, String> {
    let body = serde_json::to_string(request).map_err(|e| e.to_string())?;
    let text = jobs::send(binding, Job::ProbeBatch, body).await?;
    serde_json::from_str(&text).map_err(|e| format!("the batch's answer is not a reply: {e}"))
}

fn log_failed_batch(logger: &Logger, request: &BatchRequest, reason: &str) {
    let mut fields = Map::new();
    fields.insert("probes".into(), request.probes.len().into());
    fields.insert("error".into(), error_field("ProbeBatchFailed", reason));
    logger.emit(
        Level::Error,
        "probe batch failed; checked in the cron run",
        fields,
    );
}

/// A batch job (see `jobs`): checks the named probes and answers with their outcomes as JSON.
pub async fn run_batch(body: &str, env: &Env) -> Result<String, String> {
    let settings = settings::load(env);
    let Ok(config) = &settings.config else {
        return Err("the hub's configuration is invalid".into());
    };
    let request: BatchRequest =
        serde_json::from_str(body).map_err(|e| format!("not a probe batch: {e}"))?;
    let specs: Vec<&ProbeSpec> = config
        .probes
        .iter()
        .filter(|spec| request.probes.contains(&spec.name))
        .collect();
    let (checks, hops_used) = check_here(env, specs, request.hops).await;
    let reply = BatchReply {
        checks: checks
            .into_iter()
            .map(|(spec, outcome)| (spec.name.clone(), outcome))
            .collect(),
        hops_used,
    };
    serde_json::to_string(&reply).map_err(|e| e.to_string())
}
