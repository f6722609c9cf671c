//! What `deploy/` ships next to Vigil: the Prometheus rules and their unit tests, the scrape,
//! Alertmanager and blackbox exporter configurations and the Grafana dashboard, checked by the
//! tools that load them, and the series they read checked against what a real hub exports.

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

/// The dashboard's PromQL, with Grafana's variables given values Prometheus accepts.
fn dashboard_exprs() -> Vec<String> {
    let path = project_dir().join("deploy/grafana/vigil.json");
    let text = std::fs::read_to_string(path).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .map(|e| {
            e.replace("$__rate_interval", "5m")
                .replace("$service", ".*")
        })
        .collect()
}

/// `exprs` as a rules file of recording rules, so that promtool parses each one.
fn as_rules_file(exprs: &[String]) -> String {
    let rules: String = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let quoted = e.replace('\'', "''");
            format!("      - record: dashboard:query_{i}\n        expr: '{quoted}'\n")
        })
        .collect();
    format!("groups:\n  - name: dashboard\n    rules:\n{rules}")
}

/// The recorded names (`level:metric:operations`) an expression reads.
fn recorded_names(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.matches(':').count() == 2 && !word.starts_with(':'))
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
    let alertmanager = deploy.join("alertmanager");
    run_tool(
        &alertmanager,
        "amtool",
        &["check-config", "alertmanager.yml"],
    );
    let blackbox = deploy.join("blackbox");
    let args = ["--config.file=blackbox.yml", "--config.check"];
    run_tool(&blackbox, "prometheus-blackbox-exporter", &args);

    // The scrape config names a token file that only a deployment has, and the dashboard's
    // queries become rules promtool parses: both checked in a scratch directory.
    let scratch = std::env::temp_dir().join(format!("vigil-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a temp dir");
    for file in ["prometheus.yml", "vigil.rules.yml"] {
        std::fs::copy(prometheus.join(file), scratch.join(file)).expect("copied");
    }
    std::fs::write(scratch.join("vigil-metrics-token"), "t").expect("token file");
    run_tool(&scratch, "promtool", &["check", "config", "prometheus.yml"]);
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 20, "{exprs:?}");
    std::fs::write(scratch.join("dashboard.yml"), as_rules_file(&exprs)).expect("written");
    run_tool(&scratch, "promtool", &["check", "rules", "dashboard.yml"]);
    std::fs::remove_dir_all(&scratch).ok();

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

    // The recorded series the dashboard reads are ones the rules record.
    let recorded: BTreeSet<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .collect();
    for name in exprs.iter().flat_map(|e| recorded_names(e)) {
        assert!(
            recorded.contains(name),
            "{name} is not recorded by the rules"
        );
    }

    // Every series the rules and the dashboard read is one a hub exports (after a cron run
    // with a failing probe, a heartbeat and a webhook, so that every family has samples).
    let target = Receiver::start(Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let heartbeat = r#"[{"name": "nightly", "period": "1d"}]"#;
    let hub = hub(
        &[("www", format!("{}/down", target.url))],
        &receiver,
        vec![("HEARTBEATS", heartbeat.into())],
    );
    hub.run_cron(now_ms());
    let exported = exported_names(&hub.get("/metrics").body);
    let read = vigil_names(&rules)
        .into_iter()
        .chain(vigil_names(&exprs.join("\n")));
    let unknown: Vec<String> = read.filter(|n| !exported.contains(n)).collect();
    assert!(
        unknown.is_empty(),
        "not exported: {unknown:?}\nexported: {exported:?}"
    );
}
