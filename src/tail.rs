//! The hub as a Tail Worker: any worker that lists it in `tail_consumers` hands it its trace
//! events, which become the same aggregates as every other source's (through the isolate's
//! pipeline and the aggregator), under the producer's script name.
//!
//! `worker` has no tail handler, so `src/entry.mjs` (the hub's JavaScript entry module) calls
//! [`tail_into_hub`] from its `tail()` with the runtime's events, `env` and `ctx`. Everything
//! here is cheap and bounded: no D1, no log line per event; a flush when one is due.

use serde_json::Map;
use wasm_bindgen::prelude::*;
use worker::js_sys::JSON;
// The `#[wasm_bindgen]` expansion of an async export names one of these crates, which one
// depending on how worker-build invokes it.
#[allow(unused_imports)]
use worker::{js_sys, wasm_bindgen_futures};
use worker::{Context, Env};

use crate::aggregator::client::Delivery;
use crate::aggregator::hub;
use crate::clock::now_ms;
use crate::settings;
use crate::telemetry::log::{error_field, Level, Logger};
use crate::telemetry::pipeline;
use crate::telemetry::trace::{read_batch, TailContext, MAX_BATCH_BYTES};

/// Counts one batch of trace events. Never throws: a batch it cannot read is logged and
/// dropped, so a producer's odd event can never fail the hub's tail invocations.
#[wasm_bindgen]
pub async fn tail_into_hub(events: JsValue, env: Env, ctx: worker::worker_sys::Context) {
    let ctx = Context::new(ctx);
    let now = now_ms();
    let settings = settings::load(&env);
    let Ok(config) = &settings.config else {
        let reason = "the hub's configuration is invalid (see its error log)";
        return refused(&settings.logger, reason);
    };
    let json = match JSON::stringify(&events).ok().filter(|s| s.is_string()) {
        // UTF-16 length: a cheap bound before copying the text into Wasm memory.
        Some(text) if text.length() as usize > MAX_BATCH_BYTES => {
            let reason = format!("batch of {} characters is over the limit", text.length());
            return refused(&settings.logger, &reason);
        }
        Some(text) => String::from(text),
        None => return refused(&settings.logger, "events are not serializable"),
    };
    let context = TailContext {
        unnamed_service: &config.tail_unnamed_service,
        routes: &config.routes,
    };
    let batch = match read_batch(&json, &context) {
        Ok(batch) => batch,
        Err(reason) => return refused(&settings.logger, &reason),
    };
    for invocation in &batch.invocations {
        pipeline::record_invocation(now, invocation);
    }
    if batch.malformed > 0 {
        pipeline::count_malformed(batch.malformed);
        let mut fields = Map::new();
        fields.insert("malformedItems".into(), batch.malformed.into());
        let message = "tail batch had items that are not trace items; they were skipped";
        settings.logger.emit(Level::Warn, message, fields);
    }
    if pipeline::flush_due(now, config.metrics_flush_seconds) {
        let logger = settings.logger.clone();
        ctx.wait_until(async move {
            let outcome = hub::flush(&env, now, Delivery::Merge).await;
            hub::report(&logger, &outcome, Map::new());
        });
    }
}

fn refused(logger: &Logger, reason: &str) {
    let mut fields = Map::new();
    fields.insert("error".into(), error_field("InvalidTraceBatch", reason));
    logger.emit(Level::Warn, "tail batch dropped", fields);
}
