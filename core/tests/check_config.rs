//! `make check-config`'s program, run as a process on real files: what it prints and its exit
//! status.

use std::path::PathBuf;
use std::process::{Command, Output};

fn check(name: &str, text: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("vigil-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_check-config"))
        .arg(&path)
        .output()
        .expect("check-config runs");
    std::fs::remove_file(&path).ok();
    output
}

#[test]
fn the_shipped_file_and_a_full_file_pass() {
    let shipped = Command::new(env!("CARGO_BIN_EXE_check-config"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../vigil.config.json"))
        .output()
        .expect("check-config runs");
    assert!(shipped.status.success(), "{shipped:?}");
    let good = r#"{
        "probes": [{"name": "api", "url": "https://api.example.com/health", "interval": "1m",
                    "expect": {"status": [200], "body_contains": "ok"}}],
        "heartbeats": [{"name": "backup", "period": "1d", "grace": "1h"}],
        "alert_rules": [{"id": "cron-stale", "disabled": true}],
        "receivers": [{"name": "ops", "type": "webhook", "url": "https://hooks.example.com/x"}],
        "notify_routes": [{"match": {"severity": "page"}, "receivers": ["ops"]}],
        "routes": {"api": ["/users/:id"]},
        "status": {"services": ["api"], "dependencies": ["d1"]}
    }"#;
    let output = check("good.json", good);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        printed.contains("valid (1 probes, 1 heartbeats"),
        "{printed}"
    );
}

#[test]
fn a_bad_probe_an_unknown_receiver_and_a_bad_duration_are_each_named() {
    let bad = r#"{
        "probes": [{"name": "ok", "url": "https://example.com"},
                   {"name": "broken", "url": "https://example.com", "method": "FETCH"}],
        "heartbeats": [{"name": "backup", "period": "every night"}],
        "notify_routes": [{"match": {"severity": "page"}, "receivers": ["nobody"]}]
    }"#;
    let output = check("bad.json", bad);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 4, "{printed}");
    assert!(
        lines[0].contains("\"probes\"") && lines[0].contains("broken"),
        "{printed}"
    );
    assert!(
        lines[1].contains("\"heartbeats\"") && lines[1].contains("every night"),
        "{printed}"
    );
    assert!(
        lines[2].contains("\"notify_routes\"[0]") && lines[2].contains("nobody"),
        "{printed}"
    );
    assert!(lines[3].ends_with("3 problem(s)"), "{printed}");
}

#[test]
fn a_file_that_cannot_be_read_or_parsed_fails() {
    let output = check("broken.json", "{\"probes\": [");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a JSON object"));
    let missing = Command::new(env!("CARGO_BIN_EXE_check-config"))
        .arg("/nonexistent/vigil.config.json")
        .output()
        .expect("check-config runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot be read"));
}
