//! Runs the readiness checks against the real bindings, concurrently, each under its own
//! timeout, so readiness takes as long as the slowest check rather than the sum.

use std::cell::Cell;
use std::rc::Rc;

use futures::future::join_all;
use worker::Env;

use super::checks::{migration_gap, Check, CheckResult};
use crate::bindings::{probe_kv, probe_r2, timed};
use crate::build_info::MIGRATIONS;
use crate::store::Store;
use vigil_core::telemetry::store_cost::Operation;

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
    timed(check, probe(env, caller, check), timeout_ms).await
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
        Check::Kv => probe_kv(env, KV_BINDING).await,
        Check::R2 => probe_r2(env, R2_BINDING).await,
    }
}
