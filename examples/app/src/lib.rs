//! An example application worker: a small notes API on D1 and KV, with Vigil embedded.
//!
//! Vigil wraps the fetch handler (request id, `Server-Timing`, access log, Analytics Engine
//! datapoint, RED metrics per route template), serves the application's health endpoints under
//! `/_vigil`, instruments its D1 statements, and ships its counts to the Vigil hub. The
//! application's own code is in `notes`; this file is all it takes to embed Vigil.

mod notes;

use vigil::embed::{CheckFuture, Vigil};
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

thread_local! {
    static VIGIL: Vigil = Vigil::new("notes")
        .routes(notes::ROUTES)
        .health_at("/_vigil")
        .d1("DB")
        .kv("CACHE")
        .check("notes-schema", notes_schema);
}

/// A custom readiness check: the notes table exists (the database is migrated).
fn notes_schema(env: Env) -> CheckFuture {
    Box::pin(async move {
        let db = env
            .d1("DB")
            .map_err(|_| "D1 binding DB is not configured")?;
        db.prepare("SELECT id FROM notes LIMIT 1")
            .all()
            .await
            .map(|_| ())
            .map_err(|_| "the notes table cannot be read; apply the migrations".to_string())
    })
}

#[cfg(not(feature = "bare"))]
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let vigil = VIGIL.with(Vigil::clone);
    vigil.serve(req, env, ctx, notes::route).await
}

/// The same handlers without Vigil (`--features bare`), for the benchmark only. It writes one
/// console line per request, as Vigil writes the access line, unless `QUIET` is set: locally,
/// console output dominates a request's cost, so the benchmark measures it apart.
#[cfg(feature = "bare")]
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let quiet = env.var("QUIET").is_ok();
    let path = req.path();
    let response = notes::route(req, env, vigil::embed::Scope::unobserved()).await;
    if !quiet {
        worker::console_log!("{{\"message\":\"request\",\"path\":{path:?}}}");
    }
    response
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let vigil = VIGIL.with(Vigil::clone);
    vigil.flush(&env).await;
}
