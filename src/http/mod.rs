//! The HTTP shell: resolves the route, runs the handler, and gives every response the headers
//! and the access-log line DESIGN.md §2–3 promise. Everything it decides is delegated to the
//! pure modules below; this file only adapts them to the runtime.

mod auth;
mod handlers;
mod reply;
mod request_id;
mod routes;
mod timing;

use serde_json::{json, Map};
use worker::{Context, Date, Env, Headers, Request, Response, Result};

use crate::build_info;
use crate::config::Config;
use crate::telemetry::log::{error_field, Level, Logger};
use reply::{ApiError, Reply};
use routes::Outcome;
use timing::ServerTiming;

/// Serves one request. Never fails: every error becomes a problem+json response and a log line.
pub async fn serve(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let started_ms = Date::now().as_millis() as f64;
    let method = req.method().to_string();
    let url = req.url()?;
    let path = url.path().to_string();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let request_id = request_id::accept_or_generate(header("x-request-id").as_deref());
    let route = routes::resolve(&method, &path);
    let config = Config::parse(|name| env_string(&env, name));
    let logger = match &config {
        Ok(c) => Logger::new(c.log_level, &c.service_name, &c.environment),
        Err(_) => Logger::new(Level::Info, "vigil", "unknown"),
    };
    let mut timing = ServerTiming::default();

    let result = match (route.outcome, &config) {
        (Outcome::NotFound, _) => Err(ApiError::not_found(&path)),
        (Outcome::MethodNotAllowed { allow }, _) => {
            Err(ApiError::method_not_allowed(&method, allow))
        }
        (Outcome::Found(endpoint), Ok(config)) => {
            let accept = header("accept").unwrap_or_default();
            let authorization = header("authorization");
            let info = handlers::RequestInfo {
                env: &env,
                config,
                logger: &logger,
                request_id: &request_id,
                accept: &accept,
                authorization: authorization.as_deref(),
                query: &query,
            };
            handlers::handle(endpoint, &info, &mut timing).await
        }
        (Outcome::Found(_), Err(e)) => Err(ApiError::new(
            500,
            "Invalid Configuration",
            e.to_string(),
        )),
    };
    let (reply, error) = match result {
        Ok(reply) => (reply, None),
        Err(e) => {
            let error = (e.status >= 500).then(|| error_field(e.title, &e.detail));
            (e.into_reply(&path, &request_id), error)
        }
    };

    let total_ms = Date::now().as_millis() as f64 - started_ms;
    let mut fields = Map::new();
    fields.insert("requestId".into(), request_id.clone().into());
    fields.insert("rayId".into(), header("cf-ray").into());
    fields.insert("colo".into(), req.cf().map(|cf| cf.colo()).into());
    fields.insert("method".into(), method.clone().into());
    fields.insert("route".into(), route.template.into());
    fields.insert("status".into(), reply.status.into());
    fields.insert("durationMs".into(), json!(total_ms));
    let level = match reply.status {
        500.. => Level::Error,
        _ => Level::Info,
    };
    if let Some(error) = error {
        fields.insert("error".into(), error);
    }
    logger.emit(level, "request", fields);

    to_response(reply, method == "HEAD", &request_id, &timing.header(total_ms))
}

/// A variable or secret as a string, if the environment has it.
fn env_string(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn to_response(reply: Reply, head: bool, request_id: &str, server_timing: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", reply.content_type)?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Request-Id", request_id)?;
    headers.set("Server-Timing", server_timing)?;
    headers.set("X-Vigil-Version", build_info::VERSION)?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let body = if head { Vec::new() } else { reply.body.into_bytes() };
    Ok(Response::from_bytes(body)?
        .with_status(reply.status)
        .with_headers(headers))
}

