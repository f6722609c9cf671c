//! Work the cron hands to invocations of their own, so that each invocation fits the Free
//! plan's 10 ms of CPU and 50 D1 queries: a batch of probe checks, and the hourly housekeeping.
//! They run in the hub's `HubJobs` entrypoint (see `src/entry.mjs`), reached only through the
//! `HUB_JOBS` service binding, never from the Internet.

use wasm_bindgen::prelude::*;
// The `#[wasm_bindgen]` expansion of an async export names one of these crates.
#[allow(unused_imports)]
use worker::{js_sys, wasm_bindgen_futures};
use worker::{Env, Fetcher, Method, RequestInit};

use crate::errors::describe;
use crate::{housekeeping, synthetic};

/// The service binding to this worker's `HubJobs` entrypoint.
pub const BINDING: &str = "HUB_JOBS";

/// A job the cron can hand off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    ProbeBatch,
    Housekeeping,
}

impl Job {
    fn path(self) -> &'static str {
        match self {
            Job::ProbeBatch => "/probe-batch",
            Job::Housekeeping => "/housekeeping",
        }
    }

    fn from_path(path: &str) -> Option<Job> {
        [Job::ProbeBatch, Job::Housekeeping]
            .into_iter()
            .find(|job| job.path() == path)
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

/// The `HubJobs` entrypoint (called by `src/entry.mjs` with the request's path and body).
#[wasm_bindgen]
pub async fn hub_job(path: String, body: String, env: Env) -> Result<String, JsValue> {
    let answer = match Job::from_path(&path) {
        Some(Job::ProbeBatch) => synthetic::run_batch(&body, &env).await,
        Some(Job::Housekeeping) => housekeeping::run_job(&body, &env).await,
        None => Err(format!("no job at {path}")),
    };
    answer.map_err(|e| JsValue::from_str(&e))
}
