//! Readiness probes of KV and R2 bindings, shared by the hub's checks and an embedded
//! application's: one cheap read each, of a key that need not exist.

use worker::Env;

use crate::errors::describe;

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
