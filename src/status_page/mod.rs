//! The status page's data, read from D1 at most once per isolate per [`MAX_AGE_SECONDS`]:
//! while one request reads, the isolate's other requests wait for its result, later ones
//! reuse it, and the HTTP layer puts the rendered answer in the Cache API so other isolates
//! of the colo reuse it too.
//!
//! Waiters look again on a timer of their own rather than awaiting the reader's future:
//! workerd cancels a request whose only pending work is another request's I/O as hung
//! ("the Workers runtime canceled this request ... code had hung"), which a shared future
//! does under load.

mod components;
mod past_days;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Map;
use worker::{Delay, Env};

use crate::clock::now_ms;
use crate::config::Config;
use crate::settings;
use crate::store::Store;
use crate::telemetry::log::Level;
use vigil_core::status::build::{build, PageInput};
use vigil_core::status::model::StatusPage;
use vigil_core::telemetry::store_cost::Operation;

/// How long a built page is served: here, and as the responses' `max-age`.
pub const MAX_AGE_SECONDS: u32 = 30;
/// How often a request waiting for another's read looks again.
const WAIT_STEP: Duration = Duration::from_millis(20);
/// How long a read is waited for before a waiter reads itself: the reading request may have
/// been cancelled mid-read, leaving no result behind.
const PATIENCE_MS: f64 = 10_000.0;

/// The isolate's page: none, being read since a time, or read and servable until a time.
enum Slot {
    Empty,
    Reading { since_ms: f64 },
    Ready { until_ms: f64, page: Rc<StatusPage> },
}

/// What a request does next with the [`Slot`] as it finds it.
enum Turn {
    Serve(Rc<StatusPage>),
    Wait,
    Read { since_ms: f64 },
}

thread_local! {
    static SLOT: RefCell<Slot> = const { RefCell::new(Slot::Empty) };
}

/// The status page as of at most [`MAX_AGE_SECONDS`] ago. A failed read is not kept: the
/// next request (or a waiter) reads again.
pub async fn current(env: &Env, config: &Config) -> Result<Rc<StatusPage>, String> {
    let since_ms = loop {
        match take_turn(now_ms()) {
            Turn::Serve(page) => return Ok(page),
            Turn::Wait => Delay::from(WAIT_STEP).await,
            Turn::Read { since_ms } => break since_ms,
        }
    };
    let reading = Reading { since_ms };
    let result = read(env, config, since_ms).await;
    if let Ok(page) = &result {
        let until_ms = since_ms + f64::from(MAX_AGE_SECONDS) * 1000.0;
        SLOT.with(|s| {
            s.replace(Slot::Ready {
                until_ms,
                page: page.clone(),
            })
        });
    }
    drop(reading);
    result
}

/// Decides, in one step (the isolate is single-threaded), whether to serve, wait or read;
/// a request that is to read marks the slot as being read.
fn take_turn(now_ms: f64) -> Turn {
    SLOT.with(|slot| {
        let mut slot = slot.borrow_mut();
        match &*slot {
            Slot::Ready { until_ms, page } if now_ms < *until_ms => Turn::Serve(page.clone()),
            Slot::Reading { since_ms } if now_ms - since_ms < PATIENCE_MS => Turn::Wait,
            _ => {
                *slot = Slot::Reading { since_ms: now_ms };
                Turn::Read { since_ms: now_ms }
            }
        }
    })
}

/// Marks the end of one read: if the slot still says this read is in flight (it failed, or
/// its request was cancelled), it is emptied so that a waiter reads next.
struct Reading {
    since_ms: f64,
}

impl Drop for Reading {
    fn drop(&mut self) {
        SLOT.with(|slot| {
            let mut slot = slot.borrow_mut();
            if matches!(&*slot, Slot::Reading { since_ms } if *since_ms == self.since_ms) {
                *slot = Slot::Empty;
            }
        });
    }
}

async fn read(env: &Env, config: &Config, now_ms: f64) -> Result<Rc<StatusPage>, String> {
    let store = Store::open(env, Operation::Status).map_err(|e| e.to_string())?;
    let (inputs, alerts, maintenances) = futures::join!(
        components::read(&store, config, now_ms),
        store.alert_rows(),
        store.maintenances(now_ms),
    );
    let (alerts, maintenances) = (
        alerts.map_err(|e| e.to_string())?,
        maintenances.map_err(|e| e.to_string())?,
    );
    let page = build(PageInput {
        title: &config.status.title,
        now_ms,
        components: inputs.map_err(|e| e.to_string())?,
        alerts: &alerts,
        maintenances: &maintenances,
    });
    // One line per D1 read of the page: how often a burst of visitors reaches the database.
    let mut fields = Map::new();
    fields.insert("components".into(), page.components.len().into());
    settings::load(env)
        .logger
        .emit(Level::Info, "status page built", fields);
    Ok(Rc::new(page))
}
