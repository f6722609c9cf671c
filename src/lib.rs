//! Vigil: an operations worker for Cloudflare Workers.
//!
//! This crate is the shell: the entry points below and the modules that touch the runtime
//! (`http`, `cron`, `store`, `health::probes`, `alerting::{engine, dispatch}`). Everything they
//! decide is delegated to the pure `vigil-core` crate, re-exported here under the same module
//! names so a path reads the same from either side.

mod alerting;
mod build_info;
mod console;
mod cron;
mod health;
mod housekeeping;
mod http;
mod settings;
mod store;
mod telemetry;

use vigil_core::config;

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
