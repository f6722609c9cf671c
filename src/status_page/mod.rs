//! The status page's data, read from D1 at most once per isolate per [`MAX_AGE_SECONDS`]:
//! concurrent requests share one read in flight, later ones its result, and the HTTP layer
//! puts the rendered answer in the Cache API so other isolates of the colo reuse it too.

mod components;

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use serde_json::Map;
use worker::Env;

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

type PageFuture = Shared<LocalBoxFuture<'static, Result<Rc<StatusPage>, String>>>;

thread_local! {
    /// The page being read or last read, and until when it may be served.
    static CURRENT: RefCell<Option<(f64, PageFuture)>> = const { RefCell::new(None) };
}

/// The status page as of at most [`MAX_AGE_SECONDS`] ago. A failed read is not kept.
pub async fn current(env: &Env, config: &Config) -> Result<Rc<StatusPage>, String> {
    let now = now_ms();
    let fresh = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(until, _)| now < *until)
            .map(|(_, page)| page.clone())
    });
    let page = fresh.unwrap_or_else(|| {
        let (env, config) = (env.clone(), config.clone());
        let page = async move { read(&env, &config, now).await }
            .boxed_local()
            .shared();
        let until = now + f64::from(MAX_AGE_SECONDS) * 1000.0;
        CURRENT.with(|c| *c.borrow_mut() = Some((until, page.clone())));
        page
    });
    let result = page.await;
    if result.is_err() {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
    result
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
