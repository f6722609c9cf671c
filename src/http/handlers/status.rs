//! The public status page, its JSON and the badges. No auth; answers are cached briefly (see
//! `status_page`).

use super::RequestInfo;
use crate::status_page::{self, MAX_AGE_SECONDS};
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;
use vigil_core::status::badge::{endpoint_json, svg, BadgeKind};
use vigil_core::status::html::render;

pub async fn status(
    req: &RequestInfo<'_>,
    json: bool,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    let page = page(req, timing).await?;
    let reply = if json {
        Reply::json(200, "application/json", &serde_json::json!(*page))
    } else {
        Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: render(&page),
            headers: Vec::new(),
        }
    };
    Ok(cacheable(reply))
}

/// `?type=status` (the default) or `?type=uptime` (30 days).
pub async fn badge(
    req: &RequestInfo<'_>,
    component: &str,
    json: bool,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    let kind = match req.params("type").first().map(String::as_str) {
        None => BadgeKind::Status,
        Some(text) => BadgeKind::parse(text)
            .ok_or_else(|| ApiError::new(400, "Bad Request", "type: use status or uptime"))?,
    };
    let page = page(req, timing).await?;
    let Some(found) = page.components.iter().find(|c| c.name == component) else {
        return Err(ApiError::new(
            404,
            "Unknown Component",
            "no component of that name is on the status page",
        ));
    };
    let reply = if json {
        Reply::json(200, "application/json", &endpoint_json(found, kind))
    } else {
        Reply {
            status: 200,
            content_type: "image/svg+xml",
            body: svg(found, kind),
            headers: Vec::new(),
        }
    };
    Ok(cacheable(reply))
}

async fn page(
    req: &RequestInfo<'_>,
    timing: &mut ServerTiming,
) -> Result<std::rc::Rc<vigil_core::status::model::StatusPage>, ApiError> {
    let started = crate::clock::now_ms();
    let page = status_page::current(req.env, req.config).await;
    timing.record("d1", crate::clock::now_ms() - started);
    page.map_err(|e| super::store_unavailable(req, crate::store::StoreError(e)))
}

/// Public answers may be kept `MAX_AGE_SECONDS` by browsers, proxies and the Cache API.
fn cacheable(mut reply: Reply) -> Reply {
    let value = format!("public, max-age={MAX_AGE_SECONDS}");
    reply.headers.push(("Cache-Control", value));
    reply
}
