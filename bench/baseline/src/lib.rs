//! Baseline worker: answers "ok" to every request and writes exactly one console line, as Vigil
//! writes one access log line per request (locally, logging dominates the cost of a request).

use worker::{console_log, event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    console_log!("{} {}", req.method().to_string(), req.path());
    Response::ok("ok")
}
