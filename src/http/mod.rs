//! The HTTP shell: resolves the route, runs the handler, and gives every response its common
//! headers (request id, `Server-Timing`, version, `Cache-Control`), the access-log line, the
//! metric counts and the Analytics Engine datapoint. What it decides is delegated to the pure
//! `vigil_core::http` modules; this file only adapts them to the runtime.

mod handlers;

use std::cell::Cell;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use worker::{AnalyticsEngineDataPointBuilder, Context, Env, Headers, Request, Response, Result};

use crate::aggregator::client::Delivery;
use crate::aggregator::hub;
use crate::clock::now_ms;
use crate::settings;
use crate::telemetry::analytics::{self, RequestFacts};
use crate::telemetry::log::{error_field, redact_query, truncate, Level, Logger};
use crate::telemetry::metrics::Served;
use crate::telemetry::pipeline;
use reply::{ApiError, Reply};
use routes::{Endpoint, Outcome};
use timing::ServerTiming;
use vigil_core::http::{reply, request_id, routes, timing};
use vigil_core::VERSION;

/// The Analytics Engine binding's name in `wrangler.toml`.
const ANALYTICS_BINDING: &str = "ANALYTICS";

/// What the shell reads of a request, once.
struct Incoming {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    request_id: String,
    route: routes::RouteMatch,
    accept: String,
    authorization: Option<String>,
    ray_id: Option<String>,
    user_agent: Option<String>,
}

impl Incoming {
    fn read(req: &Request) -> Incoming {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let method = req.method().to_string();
        let path = req.path();
        Incoming {
            route: routes::resolve(&method, &path),
            query: query_pairs(&req.inner().url()),
            request_id: request_id::accept_or_generate(header("x-request-id").as_deref()),
            accept: header("accept").unwrap_or_default(),
            authorization: header("authorization"),
            ray_id: header("cf-ray"),
            user_agent: header("user-agent"),
            method,
            path,
        }
    }
}

/// Serves one request. Every error becomes a problem+json response and a log line.
pub async fn serve(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let started_ms = now_ms();
    let incoming = Incoming::read(&req);
    let settings = settings::load(&env);
    let mut timing = ServerTiming::default();
    let d1_statements = Rc::new(Cell::new(0));
    let result = answer(&incoming, &env, &settings, &mut timing, &d1_statements).await;
    let (reply, error) = match result {
        Ok(reply) => (reply, None),
        Err(e) => {
            let error = (e.status >= 500).then(|| error_field(e.title, &e.detail));
            (e.into_reply(&incoming.path, &incoming.request_id), error)
        }
    };

    let finished_ms = now_ms();
    let duration_ms = finished_ms - started_ms;
    let cf = req.cf();
    let colo = cf.map(|cf| cf.colo()).unwrap_or_default();
    let country = cf.and_then(|cf| cf.country()).unwrap_or_default();
    let facts = RequestFacts {
        method: &incoming.method,
        route: incoming.route.template,
        status: reply.status,
        colo: &colo,
        country: &country,
        request_id: &incoming.request_id,
        duration_ms,
        d1_operations: d1_statements.get(),
    };
    observe(&incoming, &facts, error, &env, &settings.logger);
    record_metrics(&incoming, &facts, finished_ms, &env, &ctx, &settings);

    let head = incoming.method == "HEAD";
    to_response(
        reply,
        head,
        &incoming.request_id,
        &timing.header(duration_ms),
    )
}

/// Routes the request and runs its handler.
async fn answer(
    incoming: &Incoming,
    env: &Env,
    settings: &settings::Settings,
    timing: &mut ServerTiming,
    d1_statements: &Rc<Cell<u32>>,
) -> std::result::Result<Reply, ApiError> {
    let (method, path) = (&incoming.method, &incoming.path);
    match (&incoming.route.outcome, &settings.config) {
        (Outcome::NotFound, _) => Err(ApiError::not_found(path)),
        (Outcome::MethodNotAllowed { allow }, _) => {
            Err(ApiError::method_not_allowed(method, allow))
        }
        // Liveness needs neither bindings nor configuration: it stays up whatever is wrong.
        (Outcome::Found(Endpoint::Livez), _) => Ok(handlers::livez(
            &incoming.accept,
            incoming.query.iter().any(|(k, _)| k == "verbose"),
        )),
        (Outcome::Found(_), Err(e)) => {
            Err(ApiError::new(500, "Invalid Configuration", e.to_string()))
        }
        (Outcome::Found(endpoint), Ok(config)) => {
            let info = handlers::RequestInfo {
                env,
                config,
                logger: &settings.logger,
                request_id: &incoming.request_id,
                accept: &incoming.accept,
                authorization: incoming.authorization.as_deref(),
                query: &incoming.query,
                d1_statements: d1_statements.clone(),
                operation: handlers::operation(endpoint),
            };
            handlers::handle(endpoint.clone(), &info, timing).await
        }
    }
}

/// The request's access line and Analytics Engine datapoint.
fn observe(
    incoming: &Incoming,
    facts: &RequestFacts<'_>,
    error: Option<Value>,
    env: &Env,
    logger: &Logger,
) {
    let fields = access_fields(
        facts,
        incoming.ray_id.clone(),
        &incoming.path,
        &incoming.query,
        incoming.user_agent.clone(),
        error,
    );
    if let Err(e) = write_datapoint(env, facts) {
        let fields = event(&incoming.request_id, e);
        logger.emit(Level::Warn, "analytics engine write failed", fields);
    }
    logger.emit(level_for(facts.status), "request", fields);
}

/// Counts the request in the isolate's aggregator and flushes it in `waitUntil` when due.
fn record_metrics(
    incoming: &Incoming,
    facts: &RequestFacts<'_>,
    finished_ms: f64,
    env: &Env,
    ctx: &Context,
    settings: &settings::Settings,
) {
    // Without a valid configuration there is no service name to count under.
    let Ok(config) = &settings.config else {
        return;
    };
    let served = Served {
        service: &config.service_name,
        route: incoming.route.template,
        method: &incoming.method,
        code: facts.status,
        duration_ms: facts.duration_ms,
    };
    pipeline::record(finished_ms, &served);
    if pipeline::flush_due(finished_ms, config.metrics_flush_seconds) {
        let (env, logger) = (env.clone(), settings.logger.clone());
        let request_id = incoming.request_id.clone();
        ctx.wait_until(async move {
            let outcome = hub::flush(&env, finished_ms, Delivery::Merge).await;
            let mut fields = Map::new();
            fields.insert("requestId".into(), request_id.into());
            hub::report(&logger, &outcome, fields);
        });
    }
}

/// The access-log line's fields: who asked what, and how it went. Paths and user agents are
/// truncated and credential-like query values redacted; headers are never logged.
fn access_fields(
    facts: &RequestFacts<'_>,
    ray_id: Option<String>,
    path: &str,
    query: &[(String, String)],
    user_agent: Option<String>,
    error: Option<Value>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("requestId".into(), facts.request_id.into());
    fields.insert("rayId".into(), ray_id.into());
    fields.insert("colo".into(), facts.colo.into());
    fields.insert("method".into(), facts.method.into());
    fields.insert("route".into(), facts.route.into());
    fields.insert("path".into(), truncate(path, 256).into());
    if !query.is_empty() {
        fields.insert("query".into(), truncate(&redact_query(query), 512).into());
    }
    fields.insert("status".into(), facts.status.into());
    fields.insert("durationMs".into(), json!(facts.duration_ms));
    fields.insert("d1Operations".into(), facts.d1_operations.into());
    if let Some(agent) = user_agent {
        fields.insert("userAgent".into(), truncate(&agent, 256).into());
    }
    if let Some(error) = error {
        fields.insert("error".into(), error);
    }
    fields
}

/// The query parameters of a raw request URL, in order. Parsed here rather than with the `url`
/// crate, whose IDNA tables would add ~150 KB to the module for no use.
fn query_pairs(raw_url: &str) -> Vec<(String, String)> {
    let without_fragment = raw_url.split('#').next().unwrap_or("");
    match without_fragment.split_once('?') {
        Some((_, query)) => form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        None => Vec::new(),
    }
}

fn level_for(status: u16) -> Level {
    if status >= 500 {
        Level::Error
    } else {
        Level::Info
    }
}

fn event(request_id: &str, error: impl std::fmt::Display) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("requestId".into(), request_id.into());
    fields.insert(
        "error".into(),
        error_field("TelemetryWriteFailed", &error.to_string()),
    );
    fields
}

/// Writes the request's datapoint; a missing binding or failed write never fails the request.
fn write_datapoint(env: &Env, facts: &RequestFacts<'_>) -> Result<()> {
    let point = analytics::datapoint(facts);
    let dataset = env.analytics_engine(ANALYTICS_BINDING)?;
    let index = point.indexes[0].as_str();
    AnalyticsEngineDataPointBuilder::new()
        .indexes([index])
        .blobs(point.blobs)
        .doubles(point.doubles)
        .write_to(&dataset)
}

fn to_response(
    reply: Reply,
    head: bool,
    request_id: &str,
    server_timing: &str,
) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", reply.content_type)?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Request-Id", request_id)?;
    headers.set("Server-Timing", server_timing)?;
    headers.set("X-Vigil-Version", VERSION)?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let body = if head {
        Vec::new()
    } else {
        reply.body.into_bytes()
    };
    Ok(Response::from_bytes(body)?
        .with_status(reply.status)
        .with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_decoded_in_order_and_the_fragment_ignored() {
        let pairs = query_pairs("http://h/readyz?verbose&exclude=kv&exclude=r%32&a=b+c#x=y");
        let expected = [
            ("verbose", ""),
            ("exclude", "kv"),
            ("exclude", "r2"),
            ("a", "b c"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(query_pairs("http://h/livez").is_empty());
    }

    #[test]
    fn access_fields_redact_credentials_and_truncate_long_values() {
        let facts = RequestFacts {
            method: "GET",
            route: "unmatched",
            status: 404,
            colo: "DFW",
            country: "US",
            request_id: "r1",
            duration_ms: 1.5,
            d1_operations: 0,
        };
        let query = vec![("token".to_string(), "s3cret".to_string())];
        let long_path = format!("/{}", "a".repeat(1000));
        let fields = access_fields(&facts, None, &long_path, &query, Some("ua".into()), None);
        let line = Value::Object(fields).to_string();
        assert!(!line.contains("s3cret"), "{line}");
        assert!(line.contains("token=[redacted]"), "{line}");
        assert!(
            line.len() < 600,
            "the 1000-character path is cut: {}",
            line.len()
        );
        assert!(line.contains("\"route\":\"unmatched\"") && line.contains("\"status\":404"));
    }
}
