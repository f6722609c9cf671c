//! Runs the real worker in local `workerd` (through `wrangler dev`) for the integration tests.
//!
//! Each [`Worker`] gets its own wrangler config (derived from the project's `wrangler.toml`, so
//! tests exercise the real bindings), its own `--persist-to` directory (fresh D1, KV and R2
//! state), a free port, and its own process group, which is killed when the `Worker` is dropped
//! — also when a test panics — and by `dev::stop_all` when the run ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::app::{App, AppOptions};
use crate::configs::{sender_config, test_config};
use crate::dev::{
    apply_migrations, free_port, log_lines, spawn_dev, stop, wait_for_log, wait_until_serving,
    wrangler_on_state,
};
use crate::producer::Producer;
pub use crate::reply::{promtool_check, Reply};

static BUILD: Once = Once::new();
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

pub fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the hub, the test sender and the example application once per test run (`make build
/// build-test-sender build-example`: worker-build with the cached tools).
pub fn build_once() {
    BUILD.call_once(|| {
        let status = Command::new("make")
            .arg("--no-print-directory")
            .args(["build", "build-test-sender", "build-example"])
            .current_dir(project_dir())
            .status()
            .expect("make is installed");
        assert!(
            status.success(),
            "`make build` failed; see its output above"
        );
    });
}

/// How an instance differs from the project's `wrangler.toml`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Bindings to remove (e.g. `"KV"`), to produce a missing-binding fault for real.
    pub without_bindings: Vec<&'static str>,
    /// The worker the `HUB_JOBS` binding names instead of the hub itself (one that is not
    /// running makes every job's invocation fail for real).
    pub jobs_service: Option<&'static str>,
    /// Leave the local D1 database unmigrated.
    pub unmigrated: bool,
    /// Extra `[vars]`.
    pub vars: Vec<(&'static str, String)>,
    /// The text of `vigil.config.json` instead of the project's.
    pub config_file: Option<String>,
    /// Secrets, written to the instance's `.dev.vars` (wrangler prints them as hidden).
    pub secrets: Vec<(&'static str, String)>,
    /// Run the test sender worker (`tests/sender`) in front of the hub, in the same `wrangler
    /// dev`: it gets the port, ships counts to the hub's aggregator on `/send`, and forwards
    /// every other request to the hub (its scheduled handler is then out of reach).
    pub with_sender: bool,
    /// Run the example application (`examples/app`) next to the hub, in its own `wrangler dev`
    /// on its own port, bound to this hub's aggregator through wrangler's dev registry.
    pub app: Option<AppOptions>,
    /// Run the plain JavaScript worker of `examples/tail-js`, which lists this hub in
    /// `tail_consumers`, in its own `wrangler dev` on its own port (same dev registry).
    pub tailed: bool,
}

/// A running worker instance.
pub struct Worker {
    pub base: String,
    /// Kept when the instance is restarted, so its D1, KV and R2 state survives.
    keep_dir: bool,
    dir: PathBuf,
    config: PathBuf,
    sender: Option<PathBuf>,
    log: PathBuf,
    child: Child,
    /// The example application, when `Options::app` asked for it.
    pub app: Option<App>,
    /// The tailed producer, when `Options::tailed` asked for it.
    producer: Option<Producer>,
}

impl Worker {
    pub fn start(options: Options) -> Worker {
        build_once();
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("vigil-it-{}-{id}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir is writable");
        Worker::launch(dir, options)
    }

    /// Stops this instance and starts it again with `options`, on the same local state — to
    /// remove (or introduce) a fault such as a missing binding.
    pub fn restart(mut self, options: Options) -> Worker {
        self.keep_dir = true;
        let dir = self.dir.clone();
        drop(self);
        Worker::launch(
            dir,
            Options {
                unmigrated: true,
                ..options
            },
        )
    }

    fn launch(dir: PathBuf, options: Options) -> Worker {
        let config = dir.join("wrangler.toml");
        fs::write(&config, test_config(&options, &dir)).expect("temp dir is writable");
        let sender = options.with_sender.then(|| {
            let path = dir.join("sender.toml");
            fs::write(&path, sender_config()).expect("temp dir is writable");
            path
        });
        let dev_vars: String = options
            .secrets
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        fs::write(dir.join(".dev.vars"), dev_vars).expect("temp dir is writable");

        if !options.unmigrated {
            apply_migrations(&dir, &config);
        }

        // A port picked free can be taken before workerd binds it; such a start is retried.
        for attempt in 1..=3 {
            let mut worker = Worker::spawn(&dir, &config, sender.as_deref());
            match worker.wait_until_serving() {
                Ok(()) => {
                    let registry = dir.join("registry");
                    if let Some(app) = &options.app {
                        worker.app = Some(App::start(&dir.join("app"), &registry, app));
                    }
                    if options.tailed {
                        worker.producer = Some(Producer::start(&dir.join("shop"), &registry));
                    }
                    return worker;
                }
                Err(why) if attempt < 3 && why.contains("Address already in use") => {
                    let mut failed = worker;
                    failed.keep_dir = true;
                }
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn spawn(dir: &Path, config: &Path, sender: Option<&Path>) -> Worker {
        let port = free_port();
        let log = dir.join("wrangler.log");
        // The first config's worker gets the port.
        let configs: Vec<&Path> = sender.into_iter().chain([config]).collect();
        let child = spawn_dev(dir, &configs, port, &dir.join("registry"), &log);
        Worker {
            base: format!("http://127.0.0.1:{port}"),
            keep_dir: false,
            dir: dir.to_path_buf(),
            config: config.to_path_buf(),
            sender: sender.map(Path::to_path_buf),
            log,
            child,
            app: None,
            producer: None,
        }
    }

    fn wait_until_serving(&mut self) -> Result<(), String> {
        let probe = self.url("/livez");
        wait_until_serving(&mut self.child, &probe, &self.log)
    }

    /// Applies the D1 migrations to this (running) instance's local database.
    pub fn migrate(&self) {
        apply_migrations(&self.dir, &self.config);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request and returns the response whatever its status.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = ureq::request(method, &self.url(path)).timeout(Duration::from_secs(30));
        for (name, value) in headers {
            req = req.set(name, value);
        }
        Reply::from(req.call())
    }

    /// Sends `body` as JSON with the admin token.
    pub fn admin_send(&self, method: &str, path: &str, body: &str) -> Reply {
        let auth = format!("Bearer {}", crate::ADMIN_TOKEN);
        let req = ureq::request(method, &self.url(path))
            .timeout(Duration::from_secs(30))
            .set("Authorization", &auth)
            .set("Content-Type", "application/json");
        Reply::from(if body.is_empty() {
            req.call()
        } else {
            req.send_string(body)
        })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    /// Runs the scheduled handler as if the minute cron fired at `time_ms` (epoch milliseconds).
    pub fn run_cron(&self, time_ms: u64) {
        assert!(
            self.sender.is_none(),
            "the hub's cron is not reachable behind the test sender"
        );
        // A run waits for the aggregator, which answers batches one at a time: behind a flood
        // of them on a busy machine that can take longer than a request's usual 30 s.
        let url = self.url(&format!(
            "/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={time_ms}"
        ));
        let reply = Reply::from(ureq::get(&url).timeout(Duration::from_secs(120)).call());
        assert_eq!(reply.status, 200, "scheduled handler: {}", reply.body);
    }

    /// Runs `sql` against this instance's local D1 through wrangler and returns the rows.
    pub fn d1(&self, sql: &str) -> Vec<serde_json::Value> {
        let output = wrangler_on_state(
            &self.dir,
            &self.config,
            &["d1", "execute", "DB", "--json", "--command", sql],
        );
        assert!(
            output.status.success(),
            "d1 execute failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let parsed: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("wrangler --json prints JSON");
        parsed[0]["results"].as_array().cloned().unwrap_or_default()
    }

    /// Runs a SQL file (e.g. one migration) against this instance's local D1 through wrangler.
    pub fn d1_file(&self, path: &Path) {
        let path = path.to_string_lossy();
        let args = ["d1", "execute", "DB", "--file", path.as_ref()];
        let output = wrangler_on_state(&self.dir, &self.config, &args);
        assert!(
            output.status.success(),
            "d1 execute --file {path} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The object at `key` in this instance's local R2 bucket, if any.
    pub fn r2_get(&self, key: &str) -> Option<String> {
        let object = format!("vigil/{key}");
        let output = wrangler_on_state(
            &self.dir,
            &self.config,
            &["r2", "object", "get", &object, "--pipe"],
        );
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Everything wrangler and the worker printed so far.
    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 10 s) until a structured log line matching `predicate` has been printed —
    /// console output reaches wrangler asynchronously — and returns every matching line.
    pub fn wait_for_log(
        &self,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        wait_for_log(&self.log, predicate)
    }

    /// The worker's structured log lines (one JSON object per line) printed so far.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        log_lines(&self.log)
    }

    /// The example application next to this hub (`Options::app`).
    pub fn app(&self) -> &App {
        self.app.as_ref().expect("started with Options::app")
    }

    /// The firing alert instances in `/api/alerts`, as `(alertname, service)` (`(hub)` for
    /// rules on the hub), and the whole answer for failure messages. Needs `ADMIN_TOKEN`.
    pub fn firing_alerts(&self) -> (Vec<(String, String)>, serde_json::Value) {
        let auth = format!("Bearer {}", crate::ADMIN_TOKEN);
        let alerts = self
            .request("GET", "/api/alerts", &[("Authorization", &auth)])
            .json();
        let mut firing = Vec::new();
        for rule in alerts["rules"].as_array().into_iter().flatten() {
            let instances = rule["instances"].as_array().cloned().unwrap_or_default();
            for instance in instances.iter().filter(|i| i["state"] == "firing") {
                let service = instance["labels"]["service"].as_str().unwrap_or("(hub)");
                let alertname = rule["rule"]["id"].as_str().unwrap_or("?");
                firing.push((alertname.to_string(), service.to_string()));
            }
        }
        (firing, alerts)
    }

    pub fn producer(&self) -> &Producer {
        self.producer
            .as_ref()
            .expect("started with Options::tailed")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.app = None;
        self.producer = None;
        stop(&mut self.child);
        if !self.keep_dir && !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Epoch milliseconds now, for cron runs that should look current.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
