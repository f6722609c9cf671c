//! Runs the readiness checks against the real bindings, concurrently, each under its own
//! timeout, so readiness takes as long as the slowest check rather than the sum.

use std::cell::Cell;
use std::rc::Rc;

use futures::future::join_all;
use worker::Env;

use crate::clock::now_ms;
use crate::timeout::with_timeout;

use super::checks::{migration_gap, Check, CheckResult};
use crate::build_info::MIGRATIONS;
use crate::store::{describe, Store};
use vigil_core::telemetry::store_cost::Operation;

/// Key read by the KV check and object headed by the R2 check; they need not exist.
pub const PROBE_KEY: &str = "vigil:readiness-probe";
pub const KV_BINDING: &str = "KV";
pub const R2_BINDING: &str = "BUCKET";

/// Counts the D1 statements the checks of one request run (shared with its other queries).
pub type D1Statements = Rc<Cell<u32>>;

/// Who runs the checks: the D1 operation they are billed to and the request's statement count.
#[derive(Clone)]
pub struct Caller {
    pub operation: Operation,
    pub statements: D1Statements,
}

impl Caller {
    /// The cron's self-probe.
    pub fn cron() -> Caller {
        Caller {
            operation: Operation::Cron,
            statements: D1Statements::default(),
        }
    }
}

/// Runs `checks` concurrently, each limited to `timeout_ms`.
pub async fn run_all(
    env: &Env,
    caller: &Caller,
    checks: &[Check],
    timeout_ms: u32,
) -> Vec<CheckResult> {
    let each = checks
        .iter()
        .map(|&check| run_one(env, caller.clone(), check, timeout_ms));
    join_all(each).await
}

/// Runs one check under `timeout_ms`; a check that takes longer fails with `timeout after Nms`.
pub async fn run_one(env: &Env, caller: Caller, check: Check, timeout_ms: u32) -> CheckResult {
    let started = now_ms();
    let error = match with_timeout(probe(env, caller, check), timeout_ms).await {
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

async fn probe(env: &Env, caller: Caller, check: Check) -> Result<(), String> {
    let store = || Store::counted(env, caller.operation, caller.statements.clone());
    match check {
        Check::D1 => {
            let store = store().map_err(|e| e.to_string())?;
            store.ping().await.map_err(|e| e.to_string())
        }
        Check::Migrations => {
            let store = store().map_err(|e| e.to_string())?;
            let applied = store
                .applied_migrations()
                .await
                .map_err(|e| e.to_string())?;
            migration_gap(MIGRATIONS, &applied)
        }
        Check::Kv => {
            let kv = env
                .kv(KV_BINDING)
                .map_err(|_| format!("KV binding {KV_BINDING} is not configured"))?;
            kv.get(PROBE_KEY)
                .text()
                .await
                .map(|_| ())
                .map_err(|e| format!("KV read failed: {e}"))
        }
        Check::R2 => {
            let bucket = env
                .bucket(R2_BINDING)
                .map_err(|_| format!("R2 binding {R2_BINDING} is not configured"))?;
            bucket
                .head(PROBE_KEY)
                .await
                .map(|_| ())
                .map_err(|e| format!("R2 head failed: {}", describe(&e)))
        }
    }
}
