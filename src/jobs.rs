//! Work the cron hands to invocations of their own, so that each invocation fits the Free
//! plan's 10 ms of CPU and 50 D1 queries: the minute run's stages, a batch of probe checks,
//! and the hourly housekeeping.
//! They run in the hub's `HubJobs` entrypoint (see `src/entry.mjs`), reached only through the
//! `HUB_JOBS` service binding, never from the Internet.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
// The `#[wasm_bindgen]` expansion of an async export names one of these crates.
#[allow(unused_imports)]
use worker::{js_sys, wasm_bindgen_futures};
use worker::{Env, Fetcher, Method, RequestInit};

use crate::cron::stages;
use crate::errors::describe;
use crate::telemetry::pipeline;
use crate::{housekeeping, synthetic};
use vigil_core::telemetry::store_cost::CostLedger;

/// The service binding to this worker's `HubJobs` entrypoint.
pub const BINDING: &str = "HUB_JOBS";

/// A job the cron can hand off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Observe,
    Probes,
    ProbeBatch,
    Evaluate,
    Deliver,
    Housekeeping,
}

impl Job {
    const ALL: [Job; 6] = [
        Job::Observe,
        Job::Probes,
        Job::ProbeBatch,
        Job::Evaluate,
        Job::Deliver,
        Job::Housekeeping,
    ];

    fn path(self) -> &'static str {
        match self {
            Job::Observe => "/observe",
            Job::Probes => "/probes",
            Job::ProbeBatch => "/probe-batch",
            Job::Evaluate => "/evaluate",
            Job::Deliver => "/deliver",
            Job::Housekeeping => "/housekeeping",
        }
    }

    fn from_path(path: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|job| job.path() == path)
    }
}

/// The binding, when the deployment has it (without it the cron does the work itself).
pub fn binding(env: &Env) -> Option<Fetcher> {
    env.service(BINDING).ok()
}

/// Runs `job` in an invocation of its own with `body` (JSON); returns its answer (JSON).
pub async fn send(binding: &Fetcher, job: Job, body: String) -> Result<String, String> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let url = format!("https://vigil.internal{}", job.path());
    let mut response = binding
        .fetch(url, Some(init))
        .await
        .map_err(|e| format!("the job could not be sent: {}", describe(&e)))?;
    let text = response
        .text()
        .await
        .map_err(|e| format!("the job's answer is unreadable: {}", describe(&e)))?;
    match response.status_code() {
        200 => Ok(text),
        status => Err(format!("the job answered {status}: {text}")),
    }
}

/// How a stage ran: in an invocation of its own or not, and why not when its invocation
/// failed.
pub struct HowRan {
    pub elsewhere: bool,
    pub failure: Option<String>,
}

/// Runs a stage in an invocation of its own when the deployment has the binding, else here.
/// A stage whose invocation failed (unreachable, or an error answer) runs here instead, so
/// nothing is skipped; the failure is reported. A stage is safe to run twice (alert writes
/// compare-and-set, deliveries are claimed with a lease, a probe checked twice is only extra).
pub async fn hand_off<Q, A, F, Fut>(env: &Env, job: Job, request: Q, here: F) -> (A, HowRan)
where
    Q: Serialize,
    A: DeserializeOwned,
    F: FnOnce(Q) -> Fut,
    Fut: Future<Output = A>,
{
    let Some(binding) = binding(env) else {
        let how = HowRan {
            elsewhere: false,
            failure: None,
        };
        return (here(request).await, how);
    };
    let sent = match serde_json::to_string(&request) {
        Ok(body) => send(&binding, job, body).await,
        Err(e) => Err(e.to_string()),
    };
    let failure = match sent.map(|text| serde_json::from_str::<Envelope<A>>(&text)) {
        Ok(Ok(Envelope { answer, cost })) => {
            pipeline::restore_cost(cost);
            let how = HowRan {
                elsewhere: true,
                failure: None,
            };
            return (answer, how);
        }
        Ok(Err(e)) => format!("{}: unreadable answer: {e}", job.path()),
        Err(e) => format!("{}: {e}", job.path()),
    };
    let how = HowRan {
        elsewhere: false,
        failure: Some(failure),
    };
    (here(request).await, how)
}

/// A stage's answer, and the D1 rows it cost: they are billed where it was called, since the
/// job's isolate may never ship a metrics batch of its own.
#[derive(Serialize, Deserialize)]
struct Envelope<A> {
    answer: A,
    cost: CostLedger,
}

/// Runs a stage on a job request's body and answers its JSON.
async fn run_stage<Q, A, F, Fut>(body: &str, stage: F) -> Result<String, String>
where
    Q: DeserializeOwned,
    A: Serialize,
    F: FnOnce(Q) -> Fut,
    Fut: Future<Output = A>,
{
    let request = serde_json::from_str(body).map_err(|e| format!("not a job request: {e}"))?;
    let answer = stage(request).await;
    let cost = pipeline::take_cost();
    serde_json::to_string(&Envelope { answer, cost }).map_err(|e| e.to_string())
}

/// The `HubJobs` entrypoint (called by `src/entry.mjs` with the request's path and body).
#[wasm_bindgen]
pub async fn hub_job(path: String, body: String, env: Env) -> Result<String, JsValue> {
    let env = &env;
    let answer = match Job::from_path(&path) {
        Some(Job::Observe) => run_stage(&body, |q| stages::observe(env, q)).await,
        Some(Job::Probes) => run_stage(&body, |q| stages::probes(env, q)).await,
        Some(Job::Evaluate) => run_stage(&body, |q| stages::evaluate(env, q)).await,
        Some(Job::Deliver) => run_stage(&body, |q| stages::deliver(env, q)).await,
        Some(Job::ProbeBatch) => synthetic::run_batch(&body, env).await,
        Some(Job::Housekeeping) => run_stage(&body, |q| housekeeping::stage(env, q)).await,
        None => Err(format!("no job at {path}")),
    };
    answer.map_err(|e| JsValue::from_str(&e))
}
