//! Every configuration variable, parsed in one place into a typed [`Config`].
//!
//! Parsing is pure: it takes a lookup function, so the rules (defaults, ranges, the error that
//! names the bad variable) are unit-tested on the host and the shell only supplies `Env`.

use std::fmt;

use crate::telemetry::log::Level;

/// The typed configuration of one worker invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub service_name: String,
    pub environment: String,
    pub log_level: Level,
    /// Bearer token for `/health/detailed` and `/api/*`; those endpoints refuse without it.
    pub admin_token: Option<String>,
    /// Bearer token for `/metrics`; the endpoint is open when unset.
    pub metrics_token: Option<String>,
    /// Each readiness check fails when it takes longer than this.
    pub check_timeout_ms: u32,
    /// A check that succeeds but takes longer than this reports `warn` in `/health`.
    pub slow_check_ms: u32,
    /// How often an isolate flushes its request metrics to D1 (0 = after every request).
    pub metrics_flush_seconds: u32,
}

/// A configuration variable that is set but cannot be used, with what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration variable {}: {}", self.variable, self.problem)
    }
}

impl Config {
    /// Parses the configuration from `lookup`, which returns a variable's value if it is set.
    /// Empty values count as unset, so `KEY = ""` in `.dev.vars` switches a feature off.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Config {
            service_name: get("SERVICE_NAME").unwrap_or_else(|| "vigil".into()),
            environment: get("ENVIRONMENT").unwrap_or_else(|| "production".into()),
            log_level: match get("LOG_LEVEL") {
                None => Level::Info,
                Some(v) => Level::parse(&v).ok_or_else(|| ConfigError {
                    variable: "LOG_LEVEL",
                    problem: format!("{v:?} is not one of debug, info, warn, error"),
                })?,
            },
            admin_token: get("ADMIN_TOKEN"),
            metrics_token: get("METRICS_TOKEN"),
            check_timeout_ms: number(&get, "CHECK_TIMEOUT_MS", 2000, 1..=60_000)?,
            slow_check_ms: number(&get, "SLOW_CHECK_MS", 1000, 0..=60_000)?,
            metrics_flush_seconds: number(&get, "METRICS_FLUSH_SECONDS", 10, 0..=3600)?,
        })
    }
}

/// An integer variable within `range`, or `default` when unset.
fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(text) = get(variable) else {
        return Ok(default);
    };
    match text.trim().parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(ConfigError {
            variable,
            problem: format!(
                "{text:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.service_name, "vigil");
        assert_eq!(config.environment, "production");
        assert_eq!(config.log_level, Level::Info);
        assert_eq!(config.admin_token, None);
        assert_eq!(config.check_timeout_ms, 2000);
    }

    #[test]
    fn numbers_outside_their_range_name_the_variable() {
        for bad in ["0", "-5", "abc", "1.5", "99999999999"] {
            let err = parse(&[("CHECK_TIMEOUT_MS", bad)]).unwrap_err();
            assert_eq!(err.variable, "CHECK_TIMEOUT_MS", "{bad}");
            assert!(err.problem.contains("from 1 to 60000"), "{err}");
        }
        assert_eq!(parse(&[("CHECK_TIMEOUT_MS", " 250 ")]).unwrap().check_timeout_ms, 250);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = parse(&[("ADMIN_TOKEN", ""), ("LOG_LEVEL", " ")]).unwrap();
        assert_eq!(config.admin_token, None);
        assert_eq!(config.log_level, Level::Info);
    }

    #[test]
    fn invalid_log_level_names_the_variable_and_the_choices() {
        let err = parse(&[("LOG_LEVEL", "verbose")]).unwrap_err();
        assert_eq!(err.variable, "LOG_LEVEL");
        assert!(err.to_string().contains("debug, info, warn, error"), "{err}");
    }
}
