//! The minute cron: the steps of DESIGN.md §4, each logged, none able to stop the others.
//!
//! "Now" is the scheduled event's time, never a clock read elsewhere, so tests drive time through
//! the scheduled test endpoint.

use serde_json::{json, Map};
use worker::{Date, Env, ScheduledEvent};

use crate::config::Config;
use crate::http;
use crate::store;
use crate::telemetry::pipeline;
use crate::telemetry::log::{error_field, Level};

/// The job name under which the minute cron records its heartbeat.
pub const JOB: &str = "minute";

pub async fn run(event: ScheduledEvent, env: Env) {
    let now_ms = event.schedule();
    let started = Date::now().as_millis() as f64;
    let config = Config::parse(|name| http::env_string(&env, name));
    let logger = http::logger_for(&config);
    let mut failures: Vec<String> = Vec::new();
    if let Err(e) = &config {
        failures.push(e.to_string());
    }

    if let Err(e) = pipeline::flush(&env, now_ms).await {
        failures.push(format!("metrics flush: {e}"));
    }

    let heartbeat = async {
        let db = store::database(&env)?;
        let duration = Date::now().as_millis() as f64 - started;
        let error = (!failures.is_empty()).then(|| failures.join("; "));
        store::record_heartbeat(&db, JOB, now_ms, duration, error.as_deref()).await
    };
    if let Err(e) = heartbeat.await {
        failures.push(format!("heartbeat: {e}"));
    }

    let mut fields = Map::new();
    fields.insert("cron".into(), event.cron().into());
    fields.insert("scheduledTime".into(), json!(now_ms));
    fields.insert(
        "durationMs".into(),
        json!(Date::now().as_millis() as f64 - started),
    );
    if failures.is_empty() {
        logger.emit(Level::Info, "cron run", fields);
    } else {
        fields.insert("error".into(), error_field("CronStepFailed", &failures.join("; ")));
        logger.emit(Level::Error, "cron run", fields);
    }
}
