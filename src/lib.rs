//! Vigil: an operations worker for Cloudflare Workers.
//!
//! This crate is the shell: the entry points below and the modules that touch the runtime
//! (`http`, `cron`, `store`, `health::probes`, `alerting::{engine, dispatch}`, `aggregator`).
//! Everything they decide is delegated to the pure `vigil-core` crate, re-exported here under
//! the same module names so a path reads the same from either side.
//!
//! The hub (entry points, store, alerting, the aggregator Durable Object) is the default
//! `hub` feature. Without it the crate is a library for other workers: `telemetry::pipeline`
//! counts their requests and `aggregator::client` ships the counts to the hub.

pub mod aggregator;
mod bindings;
mod clock;
mod console;
pub mod embed;
mod errors;
mod serving;
pub mod telemetry;
mod timeout;

#[cfg(feature = "hub")]
mod alerting;
#[cfg(feature = "hub")]
mod build_info;
#[cfg(feature = "hub")]
mod cron;
#[cfg(feature = "hub")]
mod health;
#[cfg(feature = "hub")]
mod housekeeping;
#[cfg(feature = "hub")]
mod http;
#[cfg(feature = "hub")]
mod jobs;
#[cfg(feature = "hub")]
mod settings;
#[cfg(feature = "hub")]
mod status_page;
#[cfg(feature = "hub")]
mod store;
#[cfg(feature = "hub")]
mod synthetic;
#[cfg(feature = "hub")]
mod tail;

#[cfg(feature = "hub")]
use vigil_core::config;

#[cfg(feature = "hub")]
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[cfg(feature = "hub")]
#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[cfg(feature = "hub")]
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    http::serve(req, env, ctx).await
}

#[cfg(feature = "hub")]
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    cron::run(event, env).await;
}
