//! The Cache API in front of the public status page and badges: within `max-age`, a colo's
//! visitors are answered from its cache and never reach D1. The request body of a POST is
//! read here too, bounded, before it reaches a handler.

use worker::{Cache, Request, Response};

use vigil_core::http::reply::ApiError;
use vigil_core::http::routes::{Endpoint, Outcome, RouteMatch};
use vigil_core::silencing::MAX_BODY_BYTES;

/// The header that says whether a public answer came from the cache (`hit`) or was built.
pub const CACHE_HEADER: &str = "X-Vigil-Cache";

/// Whether the answer to this request may come from (and go to) the cache: GETs of the public
/// pages.
pub fn cacheable(method: &str, route: &RouteMatch) -> bool {
    method == "GET"
        && matches!(
            route.outcome,
            Outcome::Found(Endpoint::Status { .. } | Endpoint::Badge { .. })
        )
}

/// The cached answer to `url`, if the colo's cache holds a fresh one. A cache that cannot be
/// read counts as a miss.
pub async fn lookup(url: &str) -> Option<Response> {
    Cache::default().get(url, false).await.ok().flatten()
}

/// Keeps a copy of a successful public answer (its `Cache-Control` says for how long). A
/// failed put only costs the next visitor a rebuild.
pub async fn keep(url: String, copy: Response) {
    if copy.status_code() == 200 {
        let _ = Cache::default().put(url.as_str(), copy).await;
    }
}

/// A POST's body as text: at most [`MAX_BODY_BYTES`], judged by `Content-Length` first so a
/// huge body is refused unread.
pub async fn read_body(req: &mut Request) -> Result<Option<String>, ApiError> {
    let too_large = || {
        let detail = format!("body: larger than {MAX_BODY_BYTES} bytes");
        ApiError::new(400, "Bad Request", detail)
    };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let text = req
        .text()
        .await
        .map_err(|_| ApiError::new(400, "Bad Request", "body: not readable as UTF-8 text"))?;
    if text.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok((!text.trim().is_empty()).then_some(text))
}
