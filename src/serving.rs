//! What every served request gets, from the hub and from an application that embeds Vigil
//! alike: the request's facts read once, the access-log line, the Analytics Engine datapoint and
//! the common response headers (request id, `Server-Timing`, version, `Cache-Control`).

use std::cell::Cell;

use serde_json::{json, Map, Value};
use worker::{
    AnalyticsEngineDataPointBuilder, AnalyticsEngineDataset, Env, Headers, Request, Response,
    Result,
};

use crate::telemetry::analytics::{self, RequestFacts};
use crate::telemetry::log::{error_field, redact_query, truncate, Level, Logger};
use vigil_core::http::reply::Reply;
use vigil_core::http::request_id;
use vigil_core::VERSION;

/// The Analytics Engine binding's name in `wrangler.toml`.
const ANALYTICS_BINDING: &str = "ANALYTICS";

/// What the shell reads of a request, once.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub request_id: String,
    pub accept: String,
    /// Only the hub's admin endpoints read it.
    #[cfg(feature = "hub")]
    pub authorization: Option<String>,
    pub ray_id: Option<String>,
    pub user_agent: Option<String>,
    pub colo: String,
    pub country: String,
}

impl Incoming {
    pub fn read(req: &Request) -> Incoming {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let cf = req.cf();
        Incoming {
            method: req.method().to_string(),
            path: req.path(),
            query: query_pairs(&req.inner().url()),
            request_id: request_id::accept_or_generate(header("x-request-id").as_deref()),
            accept: header("accept").unwrap_or_default(),
            #[cfg(feature = "hub")]
            authorization: header("authorization"),
            ray_id: header("cf-ray"),
            user_agent: header("user-agent"),
            colo: cf.map(|cf| cf.colo()).unwrap_or_default(),
            country: cf.and_then(|cf| cf.country()).unwrap_or_default(),
        }
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// Every value of the query parameter `name`, in order.
    pub fn params(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The request's facts once it is answered.
    pub fn facts<'a>(
        &'a self,
        route: &'a str,
        status: u16,
        duration_ms: f64,
        d1_operations: u32,
    ) -> RequestFacts<'a> {
        RequestFacts {
            method: &self.method,
            route,
            status,
            colo: &self.colo,
            country: &self.country,
            request_id: &self.request_id,
            duration_ms,
            d1_operations,
        }
    }
}

/// Writes the request's access line and Analytics Engine datapoint; `error` is the failure of
/// a 5xx answer.
pub fn observe(
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
    match env.analytics_engine(ANALYTICS_BINDING) {
        Ok(dataset) => {
            if let Err(e) = write_datapoint(&dataset, facts) {
                let fields = event(&incoming.request_id, e);
                logger.emit(Level::Warn, "analytics engine write failed", fields);
            }
        }
        Err(_) => warn_once_missing_analytics(logger),
    }
    logger.emit(level_for(facts.status), "request", fields);
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

thread_local! {
    static ANALYTICS_MISSING_REPORTED: Cell<bool> = const { Cell::new(false) };
}

/// The optional `ANALYTICS` binding's absence is a deployment fact, not a per-request event:
/// said once per isolate, so it cannot flood the log.
fn warn_once_missing_analytics(logger: &Logger) {
    if ANALYTICS_MISSING_REPORTED.with(|reported| reported.replace(true)) {
        return;
    }
    let mut fields = Map::new();
    fields.insert("binding".into(), ANALYTICS_BINDING.into());
    fields.insert(
        "error".into(),
        error_field(
            "BindingMissing",
            "optional binding ANALYTICS is not configured: request datapoints are not written",
        ),
    );
    logger.emit(Level::Warn, "optional binding missing", fields);
}

/// Writes the request's datapoint; a failed write never fails the request.
fn write_datapoint(dataset: &AnalyticsEngineDataset, facts: &RequestFacts<'_>) -> Result<()> {
    let point = analytics::datapoint(facts);
    let index = point.indexes[0].as_str();
    AnalyticsEngineDataPointBuilder::new()
        .indexes([index])
        .blobs(point.blobs)
        .doubles(point.doubles)
        .write_to(dataset)
}

/// The response for `reply`, with the headers every response carries.
pub fn to_response(
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

/// Adds the common headers to a response the application built. A response whose headers are
/// immutable (one passed through from `fetch`) is copied first.
pub fn stamp(response: Response, request_id: &str, server_timing: &str) -> Result<Response> {
    let mut response = response;
    let set = |headers: &Headers| -> Result<()> {
        headers.set("X-Request-Id", request_id)?;
        headers.set("Server-Timing", server_timing)?;
        headers.set("X-Vigil-Version", VERSION)
    };
    if set(response.headers_mut()).is_ok() {
        return Ok(response);
    }
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    set(&headers)?;
    Ok(response.with_headers(headers))
}

/// Liveness: the isolate runs and can answer. It touches no binding, so a failing dependency
/// never makes an orchestrator restart a healthy process.
pub fn livez(accept: &str, verbose: bool) -> Reply {
    if accept.contains("application/json") {
        return Reply::json(200, "application/json", &json!({"status": "ok"}));
    }
    let none: &[vigil_core::health::checks::CheckResult] = &[];
    let report = vigil_core::health::checks::render_probe("livez", none, &[], verbose);
    Reply::text(report.status, report.body)
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
