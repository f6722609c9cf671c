//! What `deploy/` ships next to Vigil: the Prometheus rules and their unit tests, the scrape,
//! Alertmanager and blackbox exporter configurations, checked by the tools that load them, and
//! the rules' series checked against what a real hub exports.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::harness::{now_ms, project_dir};
use crate::receiver::{Behavior, Receiver};
use crate::status::hub;

crate::tests!(the_shipped_rules_and_configs_load_and_name_only_exported_series);

/// Runs `program` with `args` in `dir`; panics with what it printed unless it succeeds.
pub fn run_tool(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (`make test-tools` installs it): {e}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {args:?}:\n{printed}");
    printed
}

/// The metric names an expression text refers to: `vigil_…` names and `up`.
fn vigil_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("vigil_") {
        let before = rest[..at].chars().last();
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // Recorded names (`service:vigil_…:rate5m`) are the rules' own.
        if before != Some(':') && !rest[at + name.len()..].starts_with(':') {
            names.insert(name.clone());
        }
        rest = &rest[at + name.len()..];
    }
    names
}

/// The names a `/metrics` exposition declares, with a histogram's `_bucket`, `_sum`, `_count`.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.insert(name.to_string());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

fn the_shipped_rules_and_configs_load_and_name_only_exported_series() {
    let deploy = project_dir().join("deploy");
    let prometheus = deploy.join("prometheus");
    let checked = run_tool(
        &prometheus,
        "promtool",
        &["check", "rules", "vigil.rules.yml"],
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run_tool(
        &prometheus,
        "promtool",
        &["test", "rules", "vigil.rules.test.yml"],
    );
    assert!(tested.contains("SUCCESS"), "{tested}");
    // The scrape config names a token file that only a deployment has: checked on a copy.
    let copy = std::env::temp_dir().join(format!("vigil-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&copy).expect("a temp dir");
    for file in ["prometheus.yml", "vigil.rules.yml"] {
        std::fs::copy(prometheus.join(file), copy.join(file)).expect("copied");
    }
    std::fs::write(copy.join("vigil-metrics-token"), "t").expect("token file");
    run_tool(&copy, "promtool", &["check", "config", "prometheus.yml"]);
    std::fs::remove_dir_all(&copy).ok();
    let alertmanager = deploy.join("alertmanager");
    run_tool(
        &alertmanager,
        "amtool",
        &["check-config", "alertmanager.yml"],
    );
    let blackbox = deploy.join("blackbox");
    let args = ["--config.file=blackbox.yml", "--config.check"];
    run_tool(&blackbox, "prometheus-blackbox-exporter", &args);

    // Every runbook the rules link is in docs/runbooks/.
    let rules = std::fs::read_to_string(prometheus.join("vigil.rules.yml")).expect("rules");
    let base = "https://runbooks.example.com/vigil/";
    let linked: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runbook_url: "))
        .collect();
    assert!(!linked.is_empty());
    for url in linked {
        let page = url
            .strip_prefix(base)
            .unwrap_or_else(|| panic!("{url} under {base}"));
        let path = project_dir().join("docs/runbooks").join(page);
        assert!(path.is_file(), "{url}: no {}", path.display());
    }

    // Every series the rules read is one a hub exports (after a cron run with a failing probe,
    // a heartbeat and a webhook, so that every family has samples).
    let target = Receiver::start(Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(
        &[("www", format!("{}/down", target.url))],
        &receiver,
        vec![(
            "HEARTBEATS",
            r#"[{"name": "nightly", "period": "1d"}]"#.into(),
        )],
    );
    hub.run_cron(now_ms());
    let exported = exported_names(&hub.get("/metrics").body);
    let unknown: Vec<String> = vigil_names(&rules)
        .into_iter()
        .filter(|n| !exported.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "not exported: {unknown:?}\nexported: {exported:?}"
    );
}
