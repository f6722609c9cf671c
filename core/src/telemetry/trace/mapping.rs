//! From the runtime's trace items (JSON) to [`Invocation`]s: the service, event, outcome,
//! times, the HTTP request a fetch served, exception names and log lines by level.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{
    EventKind, LogLevel, Outcome, MAX_BATCH_BYTES, MAX_EXCEPTIONS_PER_ITEM, MAX_EXCEPTION_NAME,
};
use crate::http::templates::RouteTemplates;
use crate::telemetry::ingest::{MAX_LABEL_LEN, OVERFLOW};

/// What the mapping needs besides the events.
#[derive(Debug, Clone, Copy)]
pub struct TailContext<'a> {
    /// The service of items without a `scriptName` (local `wrangler dev` sends none).
    pub unnamed_service: &'a str,
    /// Route templates per service (`ROUTES`).
    pub routes: &'a BTreeMap<String, RouteTemplates>,
}

/// One invocation, as Vigil counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub service: String,
    pub event: EventKind,
    pub outcome: Outcome,
    pub cpu_ms: f64,
    pub wall_ms: f64,
    /// The HTTP request a fetch invocation answered (none when it produced no response).
    pub request: Option<RequestSeen>,
    /// Names of its uncaught exceptions (label-safe).
    pub exceptions: Vec<String>,
    /// Log lines per level.
    pub logs: Vec<(LogLevel, u64)>,
    /// The runtime cut the item's logs or exceptions short.
    pub truncated: bool,
}

/// The request of a fetch invocation, labelled like every other source's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSeen {
    /// The route template (from `ROUTES`, else the normalised path).
    pub route: String,
    pub method: String,
    pub code: u16,
}

/// A batch of trace items, mapped.
#[derive(Debug, Default, PartialEq)]
pub struct TailBatch {
    pub invocations: Vec<Invocation>,
    /// Items that were not trace items (skipped).
    pub malformed: usize,
}

/// Reads the JSON text of a `tail()` handler's events. The batch is refused only when it is
/// not a JSON array at all (or is too large to read); single bad items are counted and skipped.
pub fn read_batch(json: &str, context: &TailContext<'_>) -> Result<TailBatch, String> {
    if json.len() > MAX_BATCH_BYTES {
        return Err(format!(
            "trace batch of {} bytes is over the {MAX_BATCH_BYTES}-byte limit",
            json.len()
        ));
    }
    let items: Vec<Lenient> =
        serde_json::from_str(json).map_err(|e| format!("trace batch is not a JSON array: {e}"))?;
    let mut batch = TailBatch::default();
    for item in items {
        match item {
            Lenient::Item(raw) => batch.invocations.push(map_item(raw, context)),
            Lenient::Malformed(_) => batch.malformed += 1,
        }
    }
    Ok(batch)
}

/// An element of the batch: a trace item, or anything else.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient {
    Item(RawItem),
    Malformed(IgnoredAny),
}

/// The fields of a trace item Vigil reads (each may be missing or null); the rest (headers,
/// log messages) is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    script_name: Option<String>,
    outcome: Option<String>,
    cpu_time: Option<f64>,
    wall_time: Option<f64>,
    truncated: Option<bool>,
    event: Option<RawEvent>,
    exceptions: Option<Vec<RawException>>,
    logs: Option<Vec<RawLog>>,
    /// Every trace item has one (possibly null); requiring it keeps `{}` or `{"a": 1}` from
    /// passing as an item.
    #[serde(rename = "eventTimestamp")]
    _event_timestamp: IgnoredAny,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEvent {
    request: Option<RawRequest>,
    response: Option<RawResponse>,
    cron: Option<IgnoredAny>,
    scheduled_time: Option<IgnoredAny>,
    queue: Option<IgnoredAny>,
    mail_from: Option<IgnoredAny>,
    rpc_method: Option<IgnoredAny>,
    consumed_events: Option<IgnoredAny>,
    get_web_socket_event: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRequest {
    url: String,
    method: String,
}

#[derive(Deserialize)]
struct RawResponse {
    status: u16,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawException {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLog {
    level: Option<String>,
}

fn map_item(raw: RawItem, context: &TailContext<'_>) -> Invocation {
    let service = match raw.script_name {
        Some(name) if !name.is_empty() && name.len() <= MAX_LABEL_LEN => name,
        _ => context.unnamed_service.to_string(),
    };
    let event = raw.event.unwrap_or_default();
    let kind = event_kind(&event);
    let request = match (event.request, event.response) {
        (Some(request), Some(response)) if (100..=599).contains(&response.status) => {
            let path = path_of(&request.url);
            let route = match context.routes.get(&service) {
                Some(templates) => templates.label(path, response.status),
                None => RouteTemplates::default().label(path, response.status),
            };
            Some(RequestSeen {
                route,
                method: request.method,
                code: response.status,
            })
        }
        _ => None,
    };
    let exceptions = raw
        .exceptions
        .unwrap_or_default()
        .into_iter()
        .take(MAX_EXCEPTIONS_PER_ITEM)
        .map(|e| exception_label(e.name.as_deref().unwrap_or("")))
        .collect();
    let mut logs: BTreeMap<LogLevel, u64> = BTreeMap::new();
    for line in raw.logs.unwrap_or_default() {
        *logs
            .entry(LogLevel::parse(line.level.as_deref().unwrap_or("")))
            .or_default() += 1;
    }
    Invocation {
        service,
        event: kind,
        outcome: Outcome::parse(raw.outcome.as_deref().unwrap_or("")),
        cpu_ms: milliseconds(raw.cpu_time),
        wall_ms: milliseconds(raw.wall_time),
        request,
        exceptions,
        logs: logs.into_iter().collect(),
        truncated: raw.truncated.unwrap_or(false),
    }
}

/// The event type, from which of its type's fields the event carries.
fn event_kind(event: &RawEvent) -> EventKind {
    let has = |field: &Option<IgnoredAny>| field.is_some();
    if event.request.is_some() {
        EventKind::Fetch
    } else if has(&event.cron) {
        EventKind::Scheduled
    } else if has(&event.queue) {
        EventKind::Queue
    } else if has(&event.mail_from) {
        EventKind::Email
    } else if has(&event.rpc_method) {
        EventKind::Rpc
    } else if has(&event.consumed_events) {
        EventKind::Tail
    } else if has(&event.get_web_socket_event) {
        EventKind::Websocket
    } else if has(&event.scheduled_time) {
        // A scheduled event carries a cron too; a time alone is an alarm.
        EventKind::Alarm
    } else {
        EventKind::Unknown
    }
}

/// A URL's path: after the authority, before the query or fragment (`/` when empty).
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// An exception's name as a label: a class name (`TypeError`, `D1_ERROR`, `MyApp.Oops`), or
/// `other` for empty, long or unusual names, which are not class names and must not become
/// labels.
fn exception_label(name: &str) -> String {
    let class_like = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | '-');
    if name.is_empty() || name.len() > MAX_EXCEPTION_NAME || !name.chars().all(class_like) {
        OVERFLOW.to_string()
    } else {
        name.to_string()
    }
}

/// A reported time in milliseconds; missing, negative or non-finite reads as 0.
fn milliseconds(value: Option<f64>) -> f64 {
    value.filter(|v| v.is_finite() && *v > 0.0).unwrap_or(0.0)
}
