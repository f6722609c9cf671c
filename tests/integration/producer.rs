//! The plain JavaScript worker of `examples/tail-js` ("shop") in its own `wrangler dev`, next to
//! a hub: it lists the hub in `tail_consumers`, and the dev registry private to the test routes
//! its trace events to this hub's `tail()`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::dev::{free_port, spawn_dev, stop, wait_until_serving};
use crate::harness::{project_dir, Reply};

/// A running tailed producer.
pub struct Producer {
    base: String,
    child: Child,
}

impl Producer {
    /// Starts the producer on `dir`, registered in `registry`.
    pub fn start(dir: &Path, registry: &Path) -> Producer {
        fs::create_dir_all(dir).expect("temp dir is writable");
        let config = dir.join("wrangler.toml");
        fs::write(&config, producer_config()).expect("temp dir is writable");
        let port = free_port();
        let log = dir.join("wrangler.log");
        let mut child = spawn_dev(dir, &[&config], port, registry, &log);
        let base = format!("http://127.0.0.1:{port}");
        if let Err(why) = wait_until_serving(&mut child, &format!("{base}/healthz"), &log) {
            stop(&mut child);
            panic!("{why}");
        }
        Producer { base, child }
    }

    pub fn get(&self, path: &str) -> Reply {
        let url = format!("{}{}", self.base, path);
        Reply::from(ureq::get(&url).timeout(Duration::from_secs(30)).call())
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `examples/tail-js/wrangler.toml` with its entry point made absolute.
fn producer_config() -> String {
    let dir: PathBuf = project_dir().join("examples/tail-js");
    let text = fs::read_to_string(dir.join("wrangler.toml")).expect("examples/tail-js config");
    let mut config: toml::Table = text.parse().expect("the producer's config is valid TOML");
    let main = dir.join("src/index.js");
    config.insert("main".into(), main.to_string_lossy().into_owned().into());
    config.remove("triggers");
    toml::to_string(&config).expect("config serializes")
}
