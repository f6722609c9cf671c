//! Vigil: an operations worker for Cloudflare Workers.
//!
//! The crate is split into a pure core (plain functions over plain data, unit-tested on the host)
//! and a thin shell that adapts it to the Workers runtime. The shell is the two entry points
//! below plus the modules that touch bindings: `http::serve`, `health::probes`, `store`, `cron`.

mod alerting;
mod build_info;
mod config;
mod cron;
mod health;
mod housekeeping;
mod http;
mod settings;
mod store;
mod telemetry;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    http::serve(req, env, ctx).await
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    cron::run(event, env).await;
}
