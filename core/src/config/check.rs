//! Every problem a configuration file has, for `make check-config`.
//!
//! The Worker stops at the first invalid setting; the check goes on past each one (it parses
//! again without the section that failed), and adds what the Worker skips rather than stops
//! for: invalid rule overrides and notification entries.

use super::file::{in_file, ConfigFile, FILE_NAME, SECTIONS};
use super::Config;
use crate::alerting::rules::{builtin_rules, load_rules};

/// The file's problems, one line each, as the Worker would word them; empty when valid.
pub fn problems(text: &str) -> Vec<String> {
    let file = match ConfigFile::parse(text) {
        Ok(file) => file,
        Err(e) => return vec![e.to_string()],
    };
    let sources = file.sources(|_| None);
    let mut skipped: Vec<&'static str> = Vec::new();
    let mut found = Vec::new();
    loop {
        let from_file = file.layered(|_| None);
        match Config::parse(|name| {
            (!skipped.contains(&name))
                .then(|| from_file(name))
                .flatten()
        }) {
            Ok(config) => {
                found.extend(skipped_entries(&config));
                return found;
            }
            Err(e) if skipped.contains(&e.variable) => {
                found.push(e.to_string());
                return found;
            }
            Err(e) => {
                skipped.push(e.variable);
                found.push(in_file(e, &sources).to_string());
            }
        }
    }
}

/// The rule overrides and notification entries the Worker would skip.
fn skipped_entries(config: &Config) -> Vec<String> {
    let builtin = builtin_rules(config.runbook_base_url.as_deref());
    let (_, rule_errors) = load_rules(builtin, config.alert_rules.as_deref());
    let rules = rule_errors
        .iter()
        .map(|e| format!("{FILE_NAME}: section \"alert_rules\": {e}"));
    let notify = config.notify.problems.iter().map(|p| {
        let entry = SECTIONS
            .iter()
            .find_map(|(section, variable)| {
                let rest = p.entry.strip_prefix(variable)?;
                Some(format!("section {section:?}{rest}"))
            })
            .unwrap_or_else(|| p.entry.clone());
        format!("{FILE_NAME}: {entry}: {}", p.problem)
    });
    rules.chain(notify).collect()
}

/// What a valid file configures, for the check's one-line answer.
pub fn summary(config: &Config) -> String {
    format!(
        "{} probes, {} heartbeats, {} receivers, {} services with routes",
        config.probes.len(),
        config.heartbeats.len(),
        config.notify.receivers.len(),
        config.routes.len()
    )
}
