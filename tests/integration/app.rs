//! The example application (`examples/app`) in its own `wrangler dev`, next to a hub. Wrangler
//! gives a port only to the first worker of one `wrangler dev`, so the application runs in a
//! second one; the two find each other through a dev registry private to the test, which is how
//! the application's `AGGREGATOR` binding (`script_name = "vigil"`) reaches this hub.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::configs::app_config;
use crate::dev::{
    apply_migrations, free_port, log_lines, spawn_dev, stop, wait_for_log, wait_until_serving,
};
use crate::harness::Reply;

/// How the application differs from `examples/app/wrangler.toml`.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Bindings to remove (e.g. `"CACHE"`).
    pub without_bindings: Vec<&'static str>,
    /// Leave the application's D1 database unmigrated.
    pub unmigrated: bool,
}

/// A running example application.
pub struct App {
    pub base: String,
    log: PathBuf,
    child: Child,
}

impl App {
    /// Starts the application on `dir`'s state, registered in `registry`; a hub registered
    /// there receives its counts.
    pub fn start(dir: &Path, registry: &Path, options: &AppOptions) -> App {
        fs::create_dir_all(dir).expect("temp dir is writable");
        let config = dir.join("wrangler.toml");
        fs::write(&config, app_config(options)).expect("temp dir is writable");
        if !options.unmigrated {
            apply_migrations(dir, &config);
        }
        let port = free_port();
        let log = dir.join("wrangler.log");
        let mut child = spawn_dev(dir, &[&config], port, registry, &log);
        let base = format!("http://127.0.0.1:{port}");
        let probe = format!("{base}/_vigil/livez");
        if let Err(why) = wait_until_serving(&mut child, &probe, &log) {
            stop(&mut child);
            panic!("{why}");
        }
        App { base, log, child }
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(method, path, headers, None)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        let headers = [("Content-Type", "application/json")];
        self.send("POST", path, &headers, Some(body))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::request(method, &url).timeout(Duration::from_secs(30));
        for (name, value) in headers {
            req = req.set(name, value);
        }
        Reply::from(match body {
            Some(body) => req.send_string(body),
            None => req.call(),
        })
    }

    /// Runs the application's scheduled handler, which ships its counts to the hub.
    pub fn run_scheduled(&self) {
        let reply = self.get("/cdn-cgi/handler/scheduled?cron=*+*+*+*+*");
        assert_eq!(reply.status, 200, "scheduled handler: {}", reply.body);
    }

    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        log_lines(&self.log)
    }

    pub fn wait_for_log(
        &self,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        wait_for_log(&self.log, predicate)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
