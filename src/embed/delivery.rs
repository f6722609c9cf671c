//! Shipping an application isolate's counts to the hub. A shipment that does not arrive is
//! kept for the next one (bounded: at most 5,000 series per isolate, the oldest minute dropped
//! and counted beyond), logged, and shown in the application's `/health` until one succeeds;
//! the application keeps serving either way.

use std::cell::{Cell, RefCell};

use serde_json::Map;
use worker::Env;

use crate::aggregator::client::{self, Delivery, SendError};
use crate::clock::now_ms;
use crate::telemetry::log::{error_field, Level, Logger};

thread_local! {
    /// The last shipment's failure, cleared by the next success.
    static LAST_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
    static DELAYED_SHIP_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the caller should schedule a delayed shipment: true once until it has shipped, so
/// an isolate holds at most one pending.
pub fn arm_delayed_ship() -> bool {
    !DELAYED_SHIP_PENDING.with(|pending| pending.replace(true))
}

/// The delayed shipment [`arm_delayed_ship`] asked for.
pub async fn ship_delayed(env: &Env, logger: &Logger) {
    DELAYED_SHIP_PENDING.with(|pending| pending.set(false));
    ship(env, logger, now_ms()).await;
}

pub async fn ship(env: &Env, logger: &Logger, now_ms: f64) {
    let failure = match client::ship(env, now_ms, Delivery::Merge).await {
        Ok(_) => None,
        Err(e) => {
            let (message, kind) = match e {
                SendError::Unreachable(_) => (
                    "counts not delivered to the Vigil hub; kept for the next flush",
                    "HubUnreachable",
                ),
                SendError::Refused(_) => (
                    "the Vigil hub refused this isolate's counts; they were dropped",
                    "BatchRefused",
                ),
            };
            let mut fields = Map::new();
            fields.insert("error".into(), error_field(kind, e.reason()));
            logger.emit(Level::Warn, message, fields);
            Some(e.reason().to_string())
        }
    };
    LAST_FAILURE.with(|last| last.replace(failure));
}

/// Why the last shipment failed, if it did.
pub fn last_failure() -> Option<String> {
    LAST_FAILURE.with(|last| last.borrow().clone())
}
