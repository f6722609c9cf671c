//! Outside-in endpoints: the probes' and monitors' standing (admin), and jobs' pings.

use std::collections::BTreeMap;

use serde_json::{json, Map};

use super::{require_admin, store_unavailable, RequestInfo};
use crate::clock::now_ms;
use crate::store::StoreError;
use crate::telemetry::log::Level;
use vigil_core::http::auth::require_bearer;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;
use vigil_core::probes::heartbeats::LastPing;
use vigil_core::probes::state::ProbeState;
use vigil_core::probes::views::{monitor_view, probe_view};
use vigil_core::time::iso_timestamp;

/// Every configured probe with its last result, and every heartbeat monitor.
pub async fn probes(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let started = now_ms();
    let read = async {
        let store = req.store()?;
        let (states, pings) = futures::join!(store.probe_states(), store.last_pings());
        Ok::<_, StoreError>((states?, pings?))
    };
    let read = read.await;
    timing.record("d1", now_ms() - started);
    let (states, pings) = read.map_err(|e| store_unavailable(req, e))?;
    let mut body = views(
        req,
        &states.into_iter().collect(),
        &pings.into_iter().collect(),
    );
    body["subrequestBudget"] = json!({
        "total": req.config.subrequest_budget.total,
        "probes": req.config.subrequest_budget.for_probes(),
    });
    Ok(Reply::json(200, "application/json", &body))
}

/// The probe and monitor views of `/api/probes` and `/health/detailed`.
pub fn views(
    req: &RequestInfo<'_>,
    states: &BTreeMap<String, ProbeState>,
    pings: &BTreeMap<String, LastPing>,
) -> serde_json::Value {
    let now = now_ms();
    json!({
        "probes": req.config.probes.iter()
            .map(|spec| probe_view(spec, states.get(&spec.name), now))
            .collect::<Vec<_>>(),
        "heartbeats": req.config.heartbeats.iter()
            .map(|spec| monitor_view(spec, pings.get(&spec.name).copied(), now))
            .collect::<Vec<_>>(),
    })
}

/// A job reports in (`failed` for `/fail`). The token comes first, so monitor names cannot be
/// discovered without it; an unknown monitor is 404 and creates nothing.
pub async fn heartbeat(
    req: &RequestInfo<'_>,
    monitor: &str,
    failed: bool,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    let Some(token) = &req.config.heartbeat_token else {
        return Err(ApiError::new(
            403,
            "Heartbeat Token Not Configured",
            "pings are refused until HEARTBEAT_TOKEN is set: `wrangler secret put HEARTBEAT_TOKEN` (or HEARTBEAT_TOKEN in .dev.vars locally)",
        ));
    };
    require_bearer(req.incoming.authorization.as_deref(), token.expose())?;
    if !req.config.heartbeats.iter().any(|m| m.name == monitor) {
        return Err(ApiError::new(
            404,
            "Unknown Monitor",
            "no monitor of that name is configured in HEARTBEATS",
        ));
    }
    let at_ms = now_ms();
    let written = match req.store() {
        Ok(store) => store.record_ping(monitor, at_ms, failed).await,
        Err(e) => Err(e),
    };
    timing.record("d1", now_ms() - at_ms);
    written.map_err(|e| store_unavailable(req, e))?;
    let mut fields = Map::new();
    fields.insert("monitor".into(), monitor.into());
    fields.insert("failed".into(), failed.into());
    let level = if failed { Level::Warn } else { Level::Info };
    req.logger.emit(level, "heartbeat ping", fields);
    let body = json!({"monitor": monitor, "failed": failed, "at": iso_timestamp(at_ms)});
    Ok(Reply::json(200, "application/json", &body))
}
