//! What readiness checks share, the hub's and an embedded application's alike: running a
//! check under its timeout, and the KV and R2 probes (one cheap read each, of a key that need
//! not exist).

use std::future::Future;

use worker::Env;

use crate::clock::now_ms;
use crate::errors::describe;
use crate::timeout::with_timeout;
use vigil_core::health::checks::CheckResult;

/// Runs `probe` for `check` under `timeout_ms`, timing it; a probe that takes longer fails
/// with `timeout after Nms`.
pub async fn timed<C>(
    check: C,
    probe: impl Future<Output = Result<(), String>>,
    timeout_ms: u32,
) -> CheckResult<C> {
    let started = now_ms();
    let error = match with_timeout(probe, timeout_ms).await {
        Some(Ok(())) => None,
        Some(Err(reason)) => Some(reason),
        None => Some(format!("timeout after {timeout_ms}ms")),
    };
    CheckResult {
        check,
        duration_ms: now_ms() - started,
        error,
    }
}

/// Key read by the KV probe and object headed by the R2 probe.
pub const PROBE_KEY: &str = "vigil:readiness-probe";

pub async fn probe_kv(env: &Env, binding: &str) -> Result<(), String> {
    let kv = env
        .kv(binding)
        .map_err(|_| format!("KV binding {binding} is not configured"))?;
    kv.get(PROBE_KEY)
        .text()
        .await
        .map(|_| ())
        .map_err(|e| format!("KV read failed: {e}"))
}

pub async fn probe_r2(env: &Env, binding: &str) -> Result<(), String> {
    let bucket = env
        .bucket(binding)
        .map_err(|_| format!("R2 binding {binding} is not configured"))?;
    bucket
        .head(PROBE_KEY)
        .await
        .map(|_| ())
        .map_err(|e| format!("R2 head failed: {}", describe(&e)))
}
