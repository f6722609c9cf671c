//! The hub's HTTP shell: resolves the route, runs the handler, and gives every response what
//! `serving` gives every served request (common headers, access-log line, Analytics Engine
//! datapoint) plus the metric counts. What it decides is delegated to the pure
//! `vigil_core::http` modules; this file only adapts them to the runtime.

mod cache;
mod handlers;

use std::cell::Cell;
use std::rc::Rc;

use serde_json::Map;
use worker::{Context, Env, Request, Response, Result};

use crate::aggregator::client::Delivery;
use crate::aggregator::hub;
use crate::clock::now_ms;
use crate::serving::{self, Incoming};
use crate::settings;
use crate::telemetry::analytics::RequestFacts;
use crate::telemetry::log::error_field;
use crate::telemetry::metrics::Served;
use crate::telemetry::pipeline;
use reply::{ApiError, Reply};
use routes::{Endpoint, Outcome, RouteMatch};
use timing::ServerTiming;
use vigil_core::http::{reply, routes, timing};

/// Serves one request. Every error becomes a problem+json response and a log line.
pub async fn serve(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let started_ms = now_ms();
    let incoming = Incoming::read(&req);
    let route = routes::resolve(&incoming.method, &incoming.path);
    let settings = settings::load(&env);
    let cacheable = cache::cacheable(&incoming.method, &route);
    // Only the public pages need their URL, as their cache key.
    let url = if cacheable {
        let url = req.url()?.to_string();
        if let Some(hit) = cache::lookup(&url).await {
            return from_cache(hit, &incoming, &route, started_ms, &env, &ctx, &settings);
        }
        Some(url)
    } else {
        None
    };
    let mut timing = ServerTiming::default();
    let d1_statements = Rc::new(Cell::new(0));
    let result = match incoming.method.as_str() {
        "POST" => cache::read_body(&mut req).await,
        _ => Ok(None),
    };
    let result = match result {
        Ok(body) => {
            let request = Answering {
                incoming: &incoming,
                route: &route,
                env: &env,
                settings: &settings,
                d1_statements: &d1_statements,
                body,
            };
            answer(&request, &mut timing).await
        }
        Err(e) => Err(e),
    };
    let (reply, error) = match result {
        Ok(reply) => (reply, None),
        Err(e) => {
            let error = (e.status >= 500).then(|| error_field(e.title, &e.detail));
            (e.into_reply(&incoming.path, &incoming.request_id), error)
        }
    };

    let finished_ms = now_ms();
    let duration_ms = finished_ms - started_ms;
    let facts = incoming.facts(
        route.template,
        reply.status,
        duration_ms,
        d1_statements.get(),
    );
    serving::observe(&incoming, &facts, error, &env, &settings.logger);
    record_metrics(&incoming, &facts, finished_ms, &env, &ctx, &settings);

    let head = incoming.method == "HEAD";
    let server_timing = timing.header(duration_ms);
    let keep = url.filter(|_| reply.status == 200);
    let mut response = serving::to_response(reply, head, &incoming.request_id, &server_timing)?;
    if let Some(url) = keep {
        response.headers_mut().set(cache::CACHE_HEADER, "miss")?;
        if let Ok(copy) = response.cloned() {
            ctx.wait_until(cache::keep(url, copy));
        }
    }
    Ok(response)
}

/// Answers from the colo's cache: logged and counted like any request, with this request's id.
fn from_cache(
    hit: Response,
    incoming: &Incoming,
    route: &RouteMatch,
    started_ms: f64,
    env: &Env,
    ctx: &Context,
    settings: &settings::Settings,
) -> Result<Response> {
    let finished_ms = now_ms();
    let duration_ms = finished_ms - started_ms;
    let facts = incoming.facts(route.template, hit.status_code(), duration_ms, 0);
    serving::observe(incoming, &facts, None, env, &settings.logger);
    record_metrics(incoming, &facts, finished_ms, env, ctx, settings);
    let server_timing = ServerTiming::default().header(duration_ms);
    let mut response = serving::stamp(hit, &incoming.request_id, &server_timing)?;
    response.headers_mut().set(cache::CACHE_HEADER, "hit")?;
    Ok(response)
}

/// What `answer` needs of the request being served.
struct Answering<'a> {
    incoming: &'a Incoming,
    route: &'a RouteMatch,
    env: &'a Env,
    settings: &'a settings::Settings,
    d1_statements: &'a Rc<Cell<u32>>,
    body: Option<String>,
}

/// Routes the request and runs its handler.
async fn answer(
    request: &Answering<'_>,
    timing: &mut ServerTiming,
) -> std::result::Result<Reply, ApiError> {
    let incoming = request.incoming;
    let (method, path) = (&incoming.method, &incoming.path);
    match (&request.route.outcome, &request.settings.config) {
        (Outcome::NotFound, _) => Err(ApiError::not_found(path)),
        (Outcome::MethodNotAllowed { allow }, _) => {
            Err(ApiError::method_not_allowed(method, allow))
        }
        // Liveness needs neither bindings nor configuration: it stays up whatever is wrong.
        (Outcome::Found(Endpoint::Livez), _) => Ok(serving::livez(
            &incoming.accept,
            incoming.has_param("verbose"),
        )),
        (Outcome::Found(_), Err(e)) => {
            Err(ApiError::new(500, "Invalid Configuration", e.to_string()))
        }
        (Outcome::Found(endpoint), Ok(config)) => {
            let info = handlers::RequestInfo {
                env: request.env,
                config,
                logger: &request.settings.logger,
                incoming,
                d1_statements: request.d1_statements.clone(),
                operation: handlers::operation(endpoint),
                body: request.body.clone(),
            };
            handlers::handle(endpoint.clone(), &info, timing).await
        }
    }
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
        route: facts.route,
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
