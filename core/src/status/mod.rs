//! The public status page: which components it shows (`STATUS_TITLE`, `STATUS_COMPONENTS`), how
//! their state and 90 daily bars are judged, and its HTML, JSON and badges.

pub mod badge;
pub mod build;
pub mod html;
pub mod model;
#[cfg(test)]
mod tests;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::health::checks::Check;

/// What the page shows beyond the public probes and monitors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusConfig {
    pub title: String,
    /// Services shown; `None` shows every service the hub watches.
    pub services: Option<Vec<String>>,
    /// Dependencies of the hub shown (none unless chosen): each costs a running-totals row per
    /// minute.
    pub dependencies: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    services: Option<Vec<String>>,
    #[serde(default)]
    dependencies: Vec<String>,
}

impl StatusConfig {
    /// `STATUS_TITLE` (default "Status") and `STATUS_COMPONENTS`:
    /// `{"services": ["api"], "dependencies": ["d1", "kv", "r2"]}`, both keys optional.
    pub fn parse(
        title: Option<&str>,
        components: Option<&str>,
    ) -> Result<StatusConfig, ConfigError> {
        let error = |variable, problem| ConfigError { variable, problem };
        let title = title.map_or("Status", str::trim).to_string();
        if title.len() > 200 {
            return Err(error("STATUS_TITLE", "is longer than 200 bytes".into()));
        }
        let Some(text) = components else {
            return Ok(StatusConfig {
                title,
                ..StatusConfig::default()
            });
        };
        let raw: Raw = serde_json::from_str(text).map_err(|e| {
            let problem = format!("is not {{\"services\": [...], \"dependencies\": [...]}}: {e}");
            error("STATUS_COMPONENTS", problem)
        })?;
        let dependencies = raw
            .dependencies
            .iter()
            .map(|name| match Check::parse(name) {
                Some(Check::Migrations) | None => Err(error(
                    "STATUS_COMPONENTS",
                    format!("dependency {name:?} is not one of d1, kv, r2"),
                )),
                Some(check) => Ok(check),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StatusConfig {
            title,
            services: raw.services,
            dependencies,
        })
    }

    pub fn shows_service(&self, service: &str) -> bool {
        self.services
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == service))
    }
}
