//! `vigil.config.json`: configuration as code, past the 5 KB Cloudflare allows each variable.
//!
//! Each section takes exactly the JSON its variable takes, so one parser serves both; a
//! variable that is set wins over its section, so a deploy can still override one setting
//! without editing the file.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Config, ConfigError};

/// The file's name, next to `wrangler.toml`.
pub const FILE_NAME: &str = "vigil.config.json";

/// Each section of the file and the variable it stands in for.
pub const SECTIONS: [(&str, &str); 9] = [
    ("probes", "PROBES"),
    ("heartbeats", "HEARTBEATS"),
    ("alert_rules", "ALERT_RULES"),
    ("receivers", "RECEIVERS"),
    ("notify_routes", "NOTIFY_ROUTES"),
    ("inhibit_rules", "INHIBIT_RULES"),
    ("slos", "SLOS"),
    ("routes", "ROUTES"),
    ("status", "STATUS_COMPONENTS"),
];

/// Where a section's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Variable,
    File,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Variable => "variable",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// The sections a file sets, each as the JSON text its variable would hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFile {
    by_variable: BTreeMap<&'static str, String>,
}

impl ConfigFile {
    /// Parses the file's text: a JSON object of known sections (`$schema` is allowed too).
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        let error = |problem: String| ConfigError {
            variable: FILE_NAME,
            problem,
        };
        let object: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| error(format!("is not a JSON object of sections: {e}")))?;
        let mut by_variable = BTreeMap::new();
        for (key, value) in object {
            if key == "$schema" {
                continue;
            }
            let Some((_, variable)) = SECTIONS.iter().find(|(section, _)| *section == key) else {
                let known: Vec<&str> = SECTIONS.iter().map(|(section, _)| *section).collect();
                return Err(error(format!(
                    "unknown section {key:?} (known: {})",
                    known.join(", ")
                )));
            };
            by_variable.insert(*variable, value.to_string());
        }
        Ok(ConfigFile { by_variable })
    }

    /// `vars` with the file filling in the variables that are unset (or empty).
    pub fn layered<'a>(
        &'a self,
        vars: impl Fn(&str) -> Option<String> + 'a,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars(name)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| self.by_variable.get(name).cloned())
        }
    }

    /// Where each section comes from, given the variables that are set.
    pub fn sources(&self, vars: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, Source)> {
        SECTIONS
            .iter()
            .map(|(section, variable)| {
                let source = if vars(variable).is_some_and(|v| !v.trim().is_empty()) {
                    Source::Variable
                } else if self.by_variable.contains_key(variable) {
                    Source::File
                } else {
                    Source::Default
                };
                (*section, source)
            })
            .collect()
    }

    /// The configuration from `vars` over this file. An error in a section that came from the
    /// file names the file and the section, not the variable the operator never set.
    pub fn parse_config(
        &self,
        vars: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let sources = self.sources(&vars);
        let config = Config::parse(self.layered(vars)).map_err(|e| in_file(e, &sources))?;
        Ok(Config { sources, ..config })
    }
}

/// `error` renamed after its section when the file supplied it.
pub(super) fn in_file(error: ConfigError, sources: &[(&'static str, Source)]) -> ConfigError {
    let from_file = SECTIONS
        .iter()
        .zip(sources)
        .find(|((_, variable), (_, source))| {
            *variable == error.variable && *source == Source::File
        });
    match from_file {
        Some(((section, _), _)) => ConfigError {
            variable: FILE_NAME,
            problem: format!("section {section:?}: {}", error.problem),
        },
        None => error,
    }
}
