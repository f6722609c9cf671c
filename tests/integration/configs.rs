//! The wrangler configs the harness runs: the project's `wrangler.toml` adapted per test, the
//! test sender's and the example application's.

use std::fs;
use std::path::Path;

use crate::app::AppOptions;
use crate::harness::{project_dir, Options};

/// The test sender's wrangler.toml with its entry point made absolute.
pub fn sender_config() -> String {
    let dir = project_dir().join("tests/sender");
    let text = fs::read_to_string(dir.join("wrangler.toml")).expect("tests/sender/wrangler.toml");
    let mut config: toml::Table = text.parse().expect("sender wrangler.toml is valid TOML");
    let main = dir.join("build/worker/shim.mjs");
    config.insert("main".into(), main.to_string_lossy().into_owned().into());
    toml::to_string(&config).expect("config serializes")
}

/// The example application's wrangler.toml, adapted: no build step, absolute paths, bindings
/// removed.
pub fn app_config(options: &AppOptions) -> String {
    let dir = project_dir().join("examples/app");
    let text = fs::read_to_string(dir.join("wrangler.toml")).expect("examples/app/wrangler.toml");
    let mut config: toml::Table = text.parse().expect("the app's wrangler.toml is valid TOML");
    config.remove("build");
    let main = dir.join("build/worker/shim.mjs");
    config.insert("main".into(), main.to_string_lossy().into_owned().into());
    adapt_bindings(&mut config, &dir, &options.without_bindings);
    toml::to_string(&config).expect("config serializes")
}

/// Removes the storage bindings named in `without` and makes migration folders absolute
/// (relative to `base`, the config's own folder).
fn adapt_bindings(config: &mut toml::Table, base: &Path, without: &[&str]) {
    for section in [
        "d1_databases",
        "kv_namespaces",
        "r2_buckets",
        "analytics_engine_datasets",
        "services",
    ] {
        if let Some(toml::Value::Array(bindings)) = config.get_mut(section) {
            bindings.retain(|b| {
                let name = b.get("binding").and_then(|n| n.as_str()).unwrap_or("");
                !without.contains(&name)
            });
            for binding in bindings.iter_mut() {
                if let Some(dir) = binding.get_mut("migrations_dir") {
                    let path = base.join(dir.as_str().unwrap_or("migrations"));
                    *dir = path.to_string_lossy().into_owned().into();
                }
            }
        }
    }
}

/// The project's wrangler.toml, adapted: no build step (the harness built once), absolute paths,
/// bindings removed, vars added and `vigil.config.json` replaced (by `config_file`, written
/// next to it) as `options` says.
pub fn test_config(options: &Options, dir: &Path) -> String {
    let text = fs::read_to_string(project_dir().join("wrangler.toml")).expect("wrangler.toml");
    let mut config: toml::Table = text.parse().expect("wrangler.toml is valid TOML");
    config.remove("build");
    let main = config.get("main").and_then(|m| m.as_str()).expect("main");
    let main = project_dir().join(main);
    config.insert("main".into(), main.to_string_lossy().into_owned().into());
    adapt_bindings(&mut config, project_dir(), &options.without_bindings);
    if let (Some(service), Some(toml::Value::Array(services))) =
        (options.jobs_service, config.get_mut("services"))
    {
        for binding in services
            .iter_mut()
            .filter(|b| b["binding"].as_str() == Some("HUB_JOBS"))
        {
            binding["service"] = service.into();
        }
    }
    let file = match &options.config_file {
        Some(text) => {
            let path = dir.join("vigil.config.json");
            fs::write(&path, text).expect("temp dir is writable");
            path
        }
        None => project_dir().join("vigil.config.json"),
    };
    let mut alias = toml::Table::new();
    alias.insert(
        "vigil-config".into(),
        file.to_string_lossy().into_owned().into(),
    );
    config.insert("alias".into(), alias.into());
    if let Some(toml::Value::Table(objects)) = config.get_mut("durable_objects") {
        if let Some(toml::Value::Array(bindings)) = objects.get_mut("bindings") {
            bindings.retain(|b| {
                let name = b.get("name").and_then(|n| n.as_str()).unwrap_or("");
                !options.without_bindings.contains(&name)
            });
        }
    }
    // The project ships its `send_email` binding commented out (it needs Email Routing on a
    // domain); the tests run as an operator who enabled it, unless told otherwise.
    if !options.without_bindings.contains(&"EMAIL") {
        let mut email = toml::Table::new();
        email.insert("name".into(), "EMAIL".into());
        config.insert("send_email".into(), vec![toml::Value::Table(email)].into());
    }
    let vars = config
        .entry("vars")
        .or_insert_with(|| toml::Value::Table(Default::default()));
    if let toml::Value::Table(vars) = vars {
        vars.insert("ENVIRONMENT".into(), "test".into());
        for (name, value) in &options.vars {
            vars.insert(name.to_string(), value.clone().into());
        }
    }
    toml::to_string(&config).expect("config serializes")
}
