//! The isolate's configuration and logger, read from `Env` and `vigil.config.json` once per
//! isolate.
//!
//! Vars, secrets and the bundled file are fixed for an isolate's lifetime (changing one deploys
//! a new version, which runs in new isolates), so parsing them on every request would only add
//! ~25 calls across the JS boundary to each request.

use std::cell::OnceCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::{js_sys, Env};

use crate::config::{Config, ConfigError, ConfigFile};
use crate::console::SINK;
use crate::telemetry::log::{Level, Logger};

/// Where `src/entry.mjs` leaves the bundled `vigil.config.json` (absent in workers that embed
/// the library rather than run the hub).
const FILE_GLOBAL: &str = "VIGIL_CONFIG_FILE";

pub struct Settings {
    pub config: Result<Config, ConfigError>,
    /// Logs at the configured level; at `info` as service `vigil` when the configuration is
    /// invalid, so that error can still be logged.
    pub logger: Logger,
}

thread_local! {
    static SETTINGS: OnceCell<Rc<Settings>> = const { OnceCell::new() };
}

pub fn load(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let vars = |name: &str| env.var(name).ok().map(|v| v.to_string());
            let config = bundled_file().and_then(|file| file.parse_config(vars));
            let logger = match &config {
                Ok(c) => Logger::new(c.log_level, &c.service_name, &c.environment, SINK),
                Err(_) => Logger::new(Level::Info, "vigil", "unknown", SINK),
            };
            Rc::new(Settings { config, logger })
        }))
    })
}

/// The bundled `vigil.config.json`, or an empty one when this worker bundles none.
fn bundled_file() -> Result<ConfigFile, ConfigError> {
    let text = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(FILE_GLOBAL))
        .ok()
        .and_then(|value| value.as_string());
    text.map_or(Ok(ConfigFile::default()), |text: String| {
        ConfigFile::parse(&text)
    })
}
