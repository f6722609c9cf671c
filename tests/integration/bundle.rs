//! `wrangler deploy --dry-run` for the hub and the example application, offline: each bundles
//! within the Free plan's script size, and no variable is over the 5 KB Cloudflare allows one
//! (limits local `wrangler dev` never checks).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::app::AppOptions;
use crate::configs::{app_config, test_config};
use crate::harness::{build_once, project_dir, Options};

crate::tests!(the_hub_and_the_example_app_bundle_for_deploy_within_the_free_plan);

/// The Free plan's limit on a Worker's compressed size.
const FREE_SCRIPT_GZIP_KIB: f64 = 3.0 * 1024.0;
/// What one variable may hold, on every plan.
const VARIABLE_LIMIT: usize = 5 * 1024;

/// Bundles `config` as `wrangler deploy --dry-run` would upload it; returns its gzip size.
fn dry_run(dir: &Path, config: &str) -> f64 {
    fs::create_dir_all(dir).expect("a temp dir");
    let path = dir.join("wrangler.toml");
    fs::write(&path, config).expect("written");
    let output = Command::new(project_dir().join("node_modules/.bin/wrangler"))
        .args(["deploy", "--dry-run", "--outdir"])
        .arg(dir.join("out"))
        .arg("--config")
        .arg(&path)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "1")
        .output()
        .expect("wrangler is installed (make tools)");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "dry run failed:\n{printed}");
    let gzip = printed
        .split("gzip: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok());
    gzip.unwrap_or_else(|| panic!("no gzip size in:\n{printed}"))
}

/// Every `[vars]` value's size in bytes, by name.
fn variable_sizes(config: &str) -> Vec<(String, usize)> {
    let table: toml::Table = config.parse().expect("valid TOML");
    let vars = table.get("vars").and_then(|v| v.as_table()).cloned();
    vars.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            (name, text.len())
        })
        .collect()
}

fn the_hub_and_the_example_app_bundle_for_deploy_within_the_free_plan() {
    build_once();
    let dir = std::env::temp_dir().join(format!("vigil-bundle-{}", std::process::id()));
    let hub = test_config(&Options::default(), &dir);
    let app = app_config(&AppOptions::default());
    for (name, config) in [("hub", hub), ("app", app)] {
        let gzip = dry_run(&dir.join(name), &config);
        assert!(
            gzip > 10.0 && gzip < FREE_SCRIPT_GZIP_KIB,
            "{name}: {gzip} KiB gzipped"
        );
        for (variable, bytes) in variable_sizes(&config) {
            assert!(
                bytes <= VARIABLE_LIMIT,
                "{name}: {variable} is {bytes} bytes"
            );
        }
    }
    fs::remove_dir_all(&dir).ok();
}
