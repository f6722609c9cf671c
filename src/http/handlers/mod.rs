//! One function per endpoint, each reading like its contract: health and readiness in `health`,
//! the admin API in `api`, Prometheus in `metrics`, probes and heartbeat pings in `probes`. This module dispatches and holds what they
//! share: the request's view, admin auth and the store-failure answer.

mod api;
mod health;
mod metrics;
mod probes;
mod silences;
mod status;

use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;
use worker::Env;

use crate::config::Config;
use crate::health::probes::Caller;
use crate::serving::Incoming;
use crate::store::{Store, StoreError};
use crate::telemetry::log::{Level, Logger};
use vigil_core::http::auth::require_bearer;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::routes::Endpoint;
use vigil_core::http::timing::ServerTiming;
use vigil_core::telemetry::store_cost::Operation;

/// What a handler may read of the request and its environment.
pub struct RequestInfo<'a> {
    pub env: &'a Env,
    pub config: &'a Config,
    pub logger: &'a Logger,
    /// The request's id, headers and query, as read once.
    pub incoming: &'a Incoming,
    /// D1 statements run for this request (`d1Operations` in the access log).
    pub d1_statements: Rc<Cell<u32>>,
    /// What this request's D1 rows are billed to.
    pub operation: Operation,
    /// A POST's body, read and bounded by the HTTP layer.
    pub body: Option<String>,
}

impl RequestInfo<'_> {
    /// The database, counting its statements for this request.
    fn store(&self) -> Result<Store, StoreError> {
        Store::counted(self.env, self.operation, self.d1_statements.clone())
    }

    /// The readiness checks run on behalf of this request.
    fn caller(&self) -> Caller {
        Caller {
            operation: self.operation,
            statements: self.d1_statements.clone(),
        }
    }

    fn has_param(&self, name: &str) -> bool {
        self.incoming.has_param(name)
    }

    fn params(&self, name: &str) -> Vec<String> {
        self.incoming.params(name)
    }
}

/// What an endpoint's D1 rows are billed to.
pub fn operation(endpoint: &Endpoint) -> Operation {
    match endpoint {
        Endpoint::Metrics => Operation::Scrape,
        Endpoint::Alerts
        | Endpoint::Slos
        | Endpoint::Probes
        | Endpoint::Config
        | Endpoint::Silences
        | Endpoint::Silence { .. }
        | Endpoint::Maintenances
        | Endpoint::Maintenance { .. } => Operation::Api,
        Endpoint::Status { .. } | Endpoint::Badge { .. } => Operation::Status,
        Endpoint::Heartbeat { .. } => Operation::Ping,
        _ => Operation::Health,
    }
}

/// Serves `endpoint`, recording each dependency it touches in `timing`.
pub async fn handle(
    endpoint: Endpoint,
    req: &RequestInfo<'_>,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    match endpoint {
        Endpoint::Livez => Ok(crate::serving::livez(
            &req.incoming.accept,
            req.has_param("verbose"),
        )),
        Endpoint::Readyz => Ok(health::readyz(req, timing).await),
        Endpoint::ReadyzCheck(check) => Ok(health::readyz_check(req, check, timing).await),
        Endpoint::Health => Ok(health::health(req, timing).await),
        Endpoint::HealthDetailed => health::detailed(req, timing).await,
        Endpoint::Metrics => metrics::metrics(req, timing).await,
        Endpoint::Alerts => api::alerts(req, timing).await,
        Endpoint::Slos => api::slos(req, timing).await,
        Endpoint::Probes => probes::probes(req, timing).await,
        Endpoint::Config => api::config(req),
        Endpoint::Heartbeat { monitor, failed } => {
            probes::heartbeat(req, &monitor, failed, timing).await
        }
        Endpoint::Status { json } => status::status(req, json, timing).await,
        Endpoint::Badge { component, json } => status::badge(req, &component, json, timing).await,
        Endpoint::Silences => silences::silences(req, timing).await,
        Endpoint::Silence { id } => silences::silence(req, &id, timing).await,
        Endpoint::Maintenances => silences::maintenances(req, timing).await,
        Endpoint::Maintenance { id } => silences::maintenance(req, &id, timing).await,
    }
}

/// A D1 failure: logged with its reason, answered with 503.
fn store_unavailable(req: &RequestInfo<'_>, error: StoreError) -> ApiError {
    let mut fields = serde_json::Map::new();
    fields.insert("requestId".into(), req.incoming.request_id.as_str().into());
    fields.insert(
        "error".into(),
        json!({"type": "StoreError", "message": error.to_string()}),
    );
    req.logger.emit(Level::Error, "D1 read failed", fields);
    ApiError::new(
        503,
        "Store Unavailable",
        "D1 could not be read; the reason is in the log",
    )
}

/// The admin endpoints need `ADMIN_TOKEN`; without one configured they refuse and say how to
/// set it, rather than serve diagnostics to anyone.
fn require_admin(req: &RequestInfo<'_>) -> Result<(), ApiError> {
    match &req.config.admin_token {
        Some(token) => require_bearer(req.incoming.authorization.as_deref(), token.expose()),
        None => Err(ApiError::new(
            403,
            "Admin Token Not Configured",
            "this endpoint is disabled until ADMIN_TOKEN is set: `wrangler secret put ADMIN_TOKEN` (or ADMIN_TOKEN in .dev.vars locally)",
        )),
    }
}
