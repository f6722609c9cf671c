//! The application itself: notes stored in D1, each note cached in KV for five minutes.
//!
//! - `GET /notes` lists the latest notes; `POST /notes` adds one (`{"text": "…"}`).
//! - `GET /notes/:id` reads one (KV first); `DELETE /notes/:id` removes it.
//! - `GET /export` returns every note; `?fail=1` makes it fail as if a downstream system
//!   were down, to see Vigil's error-ratio alert fire.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil::embed::Scope;
use worker::{Date, Env, Request, Response, Result, RouteContext, Router};

/// The route templates the application serves; Vigil labels its metrics with them.
pub const ROUTES: &[&str] = &["/notes", "/notes/:id", "/export"];

/// Longest note accepted.
const MAX_TEXT: usize = 10_000;
/// How long a note stays in the KV cache.
const CACHE_SECONDS: u64 = 300;

#[derive(Debug, Serialize, Deserialize)]
struct Note {
    id: i64,
    text: String,
    created_ms: f64,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

pub async fn route(req: Request, env: Env, scope: Scope) -> Result<Response> {
    Router::with_data(scope)
        .get_async("/notes", list)
        .post_async("/notes", create)
        .get_async("/notes/:id", read)
        .delete_async("/notes/:id", delete)
        .get_async("/export", export)
        .run(req, env)
        .await
}

async fn list(_req: Request, ctx: RouteContext<Scope>) -> Result<Response> {
    let db = ctx.data.d1(&ctx.env, "DB")?;
    let notes: Vec<Note> = db
        .prepare("SELECT id, text, created_ms FROM notes ORDER BY id DESC LIMIT 50")
        .all()
        .await?
        .results()?;
    Response::from_json(&notes)
}

async fn create(mut req: Request, ctx: RouteContext<Scope>) -> Result<Response> {
    let Ok(new) = req.json::<NewNote>().await else {
        return problem(400, "the body must be JSON like {\"text\": \"…\"}");
    };
    if new.text.is_empty() || new.text.len() > MAX_TEXT {
        return problem(400, &format!("text must have 1 to {MAX_TEXT} bytes"));
    }
    let db = ctx.data.d1(&ctx.env, "DB")?;
    let created: Option<Note> = db
        .prepare(
            "INSERT INTO notes (text, created_ms) VALUES (?1, ?2) RETURNING id, text, created_ms",
        )
        .bind(&[new.text.into(), (Date::now().as_millis() as f64).into()])?
        .first()
        .await?;
    match created {
        Some(note) => Ok(Response::from_json(&note)?.with_status(201)),
        None => problem(500, "the note was not stored"),
    }
}

async fn read(_req: Request, ctx: RouteContext<Scope>) -> Result<Response> {
    let Some(id) = note_id(&ctx) else {
        return problem(404, "no such note");
    };
    let cache = ctx.env.kv("CACHE")?;
    let key = format!("note:{id}");
    if let Some(note) = cache.get(&key).json::<Note>().await? {
        return Response::from_json(&note);
    }
    let db = ctx.data.d1(&ctx.env, "DB")?;
    let note: Option<Note> = db
        .prepare("SELECT id, text, created_ms FROM notes WHERE id = ?1")
        .bind(&[(id as f64).into()])?
        .first()
        .await?;
    let Some(note) = note else {
        return problem(404, "no such note");
    };
    cache
        .put(&key, &note)?
        .expiration_ttl(CACHE_SECONDS)
        .execute()
        .await?;
    Response::from_json(&note)
}

async fn delete(_req: Request, ctx: RouteContext<Scope>) -> Result<Response> {
    let Some(id) = note_id(&ctx) else {
        return problem(404, "no such note");
    };
    let db = ctx.data.d1(&ctx.env, "DB")?;
    db.prepare("DELETE FROM notes WHERE id = ?1")
        .bind(&[(id as f64).into()])?
        .run()
        .await?;
    ctx.env.kv("CACHE")?.delete(&format!("note:{id}")).await?;
    Ok(Response::empty()?.with_status(204))
}

async fn export(req: Request, ctx: RouteContext<Scope>) -> Result<Response> {
    let failing = req
        .url()?
        .query_pairs()
        .any(|(k, v)| k == "fail" && v == "1");
    if failing {
        return Err(worker::Error::RustError(
            "export store unavailable (simulated with ?fail=1)".into(),
        ));
    }
    let db = ctx.data.d1(&ctx.env, "DB")?;
    let notes: Vec<Note> = db
        .prepare("SELECT id, text, created_ms FROM notes ORDER BY id LIMIT 10000")
        .all()
        .await?
        .results()?;
    Response::from_json(&json!({ "notes": notes }))
}

/// The `:id` parameter, if it is a note id at all.
fn note_id(ctx: &RouteContext<Scope>) -> Option<i64> {
    ctx.param("id")
        .and_then(|id| id.parse().ok())
        .filter(|&id| id > 0)
}

/// An RFC 9457 problem document.
fn problem(status: u16, detail: &str) -> Result<Response> {
    let body = json!({ "type": "about:blank", "title": title(status), "status": status, "detail": detail });
    let mut response = Response::from_json(&body)?.with_status(status);
    response
        .headers_mut()
        .set("Content-Type", "application/problem+json")?;
    Ok(response)
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    }
}
