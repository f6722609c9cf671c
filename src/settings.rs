//! The isolate's configuration and logger, read from `Env` once per isolate.
//!
//! Vars and secrets are fixed for an isolate's lifetime (changing one deploys a new version,
//! which runs in new isolates), so parsing them on every request would only add ~25 calls
//! across the JS boundary to each request.

use std::cell::OnceCell;
use std::rc::Rc;

use worker::Env;

use crate::config::{Config, ConfigError};
use crate::console::SINK;
use crate::telemetry::log::{Level, Logger};

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
            let config = Config::parse(|name| env.var(name).ok().map(|v| v.to_string()));
            let logger = match &config {
                Ok(c) => Logger::new(c.log_level, &c.service_name, &c.environment, SINK),
                Err(_) => Logger::new(Level::Info, "vigil", "unknown", SINK),
            };
            Rc::new(Settings { config, logger })
        }))
    })
}
