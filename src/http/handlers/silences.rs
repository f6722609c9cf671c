//! Silences (Alertmanager API v2 shapes) and planned maintenance, for operators (admin token).

use serde_json::{json, Map, Value};

use super::{require_admin, store_unavailable, RequestInfo};
use crate::clock::now_ms;
use crate::store::{StoreError, MAX_LIVE};
use crate::telemetry::log::Level;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;
use vigil_core::silencing::maintenance::parse_maintenance;
use vigil_core::silencing::silence::parse_silence;
use vigil_core::silencing::InvalidInput;

/// `GET` lists silences (live and recently expired); `POST` creates one, or updates the live
/// silence its `id` names, and answers `{"silenceID": …}`.
pub async fn silences(req: &RequestInfo<'_>, timing: &mut ServerTiming) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let now = now_ms();
    let store = req.store().map_err(|e| store_unavailable(req, e))?;
    if req.incoming.method != "POST" {
        let listed = timed(timing, store.listed_silences(now)).await;
        let listed = listed.map_err(|e| store_unavailable(req, e))?;
        let views: Vec<Value> = listed.iter().map(|s| s.view(now)).collect();
        return Ok(Reply::json(200, "application/json", &json!(views)));
    }
    let posted = parse_silence(body(req)?, now).map_err(invalid)?;
    let update = posted.id.is_some();
    let mut silence = posted.silence;
    silence.id = posted
        .id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let saved = timed(timing, store.save_silence(&silence, update, now)).await;
    if !saved.map_err(|e| store_unavailable(req, e))? {
        return Err(if update {
            ApiError::new(404, "Not Found", "no live silence has that id")
        } else {
            too_many("silences")
        });
    }
    log(req, "silence saved", "silence", &silence.id);
    Ok(Reply::json(
        200,
        "application/json",
        &json!({"silenceID": silence.id}),
    ))
}

/// `GET` one silence; `DELETE` expires it.
pub async fn silence(
    req: &RequestInfo<'_>,
    id: &str,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let now = now_ms();
    let store = req.store().map_err(|e| store_unavailable(req, e))?;
    if req.incoming.method == "DELETE" {
        let expired = timed(timing, store.expire_silence(id, now)).await;
        if !expired.map_err(|e| store_unavailable(req, e))? {
            return Err(ApiError::new(
                404,
                "Not Found",
                "no live silence has that id",
            ));
        }
        log(req, "silence expired", "silence", id);
        return Ok(Reply::json(
            200,
            "application/json",
            &json!({"silenceID": id}),
        ));
    }
    let listed = timed(timing, store.listed_silences(now)).await;
    let listed = listed.map_err(|e| store_unavailable(req, e))?;
    match listed.iter().find(|s| s.id == id) {
        Some(s) => Ok(Reply::json(200, "application/json", &s.view(now))),
        None => Err(ApiError::new(404, "Not Found", "no silence has that id")),
    }
}

/// `GET` lists maintenances (upcoming, active, recently completed); `POST` plans one.
pub async fn maintenances(
    req: &RequestInfo<'_>,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let now = now_ms();
    let store = req.store().map_err(|e| store_unavailable(req, e))?;
    if req.incoming.method != "POST" {
        let listed = timed(timing, store.listed_maintenances(now)).await;
        let listed = listed.map_err(|e| store_unavailable(req, e))?;
        let views: Vec<Value> = listed.iter().map(|m| m.view(now)).collect();
        return Ok(Reply::json(200, "application/json", &json!(views)));
    }
    let mut maintenance = parse_maintenance(body(req)?, now).map_err(invalid)?;
    maintenance.id = uuid::Uuid::new_v4().to_string();
    let saved = timed(timing, store.save_maintenance(&maintenance, now)).await;
    if !saved.map_err(|e| store_unavailable(req, e))? {
        return Err(too_many("maintenances"));
    }
    log(req, "maintenance planned", "maintenance", &maintenance.id);
    Ok(Reply::json(201, "application/json", &maintenance.view(now)))
}

/// `GET` one maintenance; `DELETE` ends it now.
pub async fn maintenance(
    req: &RequestInfo<'_>,
    id: &str,
    timing: &mut ServerTiming,
) -> Result<Reply, ApiError> {
    require_admin(req)?;
    let now = now_ms();
    let store = req.store().map_err(|e| store_unavailable(req, e))?;
    if req.incoming.method == "DELETE" {
        let ended = timed(timing, store.end_maintenance(id, now)).await;
        if !ended.map_err(|e| store_unavailable(req, e))? {
            let detail = "no upcoming or active maintenance has that id";
            return Err(ApiError::new(404, "Not Found", detail));
        }
        log(req, "maintenance ended", "maintenance", id);
        return Ok(Reply::json(200, "application/json", &json!({"id": id})));
    }
    let listed = timed(timing, store.listed_maintenances(now)).await;
    let listed = listed.map_err(|e| store_unavailable(req, e))?;
    match listed.iter().find(|m| m.id == id) {
        Some(m) => Ok(Reply::json(200, "application/json", &m.view(now))),
        None => Err(ApiError::new(
            404,
            "Not Found",
            "no maintenance has that id",
        )),
    }
}

/// The request body, already read and bounded by the shell.
fn body<'a>(req: &'a RequestInfo<'_>) -> Result<&'a str, ApiError> {
    req.body
        .as_deref()
        .ok_or_else(|| invalid(InvalidInput::new("body", "a JSON object is required")))
}

fn invalid(error: InvalidInput) -> ApiError {
    ApiError::new(400, "Bad Request", error.to_string())
}

fn too_many(what: &str) -> ApiError {
    let detail = format!("{MAX_LIVE} {what} are already live; expire some first");
    ApiError::new(409, "Too Many Live Entries", detail)
}

async fn timed<T>(
    timing: &mut ServerTiming,
    read: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = now_ms();
    let result = read.await;
    timing.record("d1", now_ms() - started);
    result
}

fn log(req: &RequestInfo<'_>, message: &str, field: &str, id: &str) {
    let mut fields = Map::new();
    fields.insert(field.into(), id.into());
    fields.insert("requestId".into(), req.incoming.request_id.as_str().into());
    req.logger.emit(Level::Info, message, fields);
}
