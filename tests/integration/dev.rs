//! `wrangler dev` processes for the integration tests: started in their own process group and
//! dev registry, waited for, read (their JSON log lines), and ended by group id — one at a time,
//! or all that are still running when the run ends.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::harness::project_dir;

/// Process groups of every instance still running, so `stop_all` can end them.
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn wrangler() -> PathBuf {
    project_dir().join("node_modules/.bin/wrangler")
}

/// Starts `wrangler dev` for `configs` (the first gets `port`) on `dir`'s local state, in its
/// own process group, registered in the dev registry at `registry` (so workers of different
/// `wrangler dev` processes sharing it can bind each other, and nothing else can).
pub fn spawn_dev(dir: &Path, configs: &[&Path], port: u16, registry: &Path, log: &Path) -> Child {
    let log_file = fs::File::create(log).expect("temp dir is writable");
    let mut command = Command::new(wrangler());
    command.arg("dev");
    for config in configs {
        command.arg("--config").arg(config);
    }
    let child = command
        .args(["--local", "--ip", "127.0.0.1", "--test-scheduled"])
        .args(["--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(dir.join("state"))
        .args(["--show-interactive-dev-session=false", "--log-level", "log"])
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_REGISTRY_PATH", registry)
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .expect("wrangler is installed (make tools)");
    RUNNING.lock().unwrap().push(child.id() as i32);
    child
}

/// Waits until `probe_url` answers, or says why it never will (with the log).
pub fn wait_until_serving(child: &mut Child, probe_url: &str, log: &Path) -> Result<(), String> {
    let logs = || fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("wrangler dev exited with {status}:\n{}", logs()));
        }
        if ureq::get(probe_url)
            .timeout(Duration::from_secs(2))
            .call()
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("worker did not answer within 120 s:\n{}", logs()))
}

/// Starts `command` in its own process group, ended by [`stop`] or [`stop_all`].
pub fn spawn_tracked(command: &mut Command) -> Child {
    let child = command
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} could not start: {e}"));
    RUNNING.lock().unwrap().push(child.id() as i32);
    child
}

/// Ends a process we started (its whole group) and forgets it.
pub fn stop(child: &mut Child) {
    let pgid = child.id() as i32;
    stop_group(pgid);
    let _ = child.wait();
    RUNNING.lock().unwrap().retain(|&p| p != pgid);
}

/// See [`Worker::wait_for_log`].
pub fn wait_for_log(
    log: &Path,
    predicate: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<_> = log_lines(log)
            .into_iter()
            .filter(|l| predicate(l))
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The structured log lines (one JSON object per line) in a wrangler log.
pub fn log_lines(log: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.find('{').map(|start| &line[start..]))
        .filter_map(|json| serde_json::from_str(json).ok())
        .filter(|v: &serde_json::Value| v.get("service").is_some())
        .collect()
}

/// Ends every instance still running (the shared ones live until the run ends).
pub fn stop_all() {
    let groups = std::mem::take(&mut *RUNNING.lock().unwrap());
    for pgid in groups {
        stop_group(pgid);
    }
}

/// Ends one process group we started: SIGTERM, then SIGKILL if it lingers.
fn stop_group(pgid: i32) {
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if unsafe { libc::kill(-pgid, 0) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Runs a wrangler command against an instance's local state (offline, no prompts).
pub fn wrangler_on_state(dir: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(wrangler())
        .args(args)
        .arg("--local")
        .arg("--persist-to")
        .arg(dir.join("state"))
        .arg("--config")
        .arg(config)
        .env("CI", "1")
        .env("WRANGLER_SEND_METRICS", "false")
        .output()
        .expect("wrangler is installed (make tools)")
}

pub fn apply_migrations(dir: &Path, config: &Path) {
    let output = wrangler_on_state(dir, config, &["d1", "migrations", "apply", "DB"]);
    assert!(
        output.status.success(),
        "migrations failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A free loopback port below Linux's ephemeral range (32768+), where ports the kernel hands
/// out to other sockets (wrangler's and workerd's own among them) cannot land on it.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = std::process::id() as usize * 7;
    for _ in 0..12_000 {
        let port = 20_000 + (start + NEXT.fetch_add(1, Ordering::SeqCst)) % 12_000;
        let port = port as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 20000 and 32000")
}
