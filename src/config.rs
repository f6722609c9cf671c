//! Every configuration variable, parsed in one place into a typed [`Config`].
//!
//! Parsing is pure: it takes a lookup function, so the rules (defaults, ranges, the error that
//! names the bad variable) are unit-tested on the host and the shell only supplies `Env`.

use std::fmt;

use crate::telemetry::log::Level;
use crate::telemetry::metrics::BUCKET_BOUNDS_SECONDS;

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
    /// Operator rule overrides: a JSON array (`ALERT_RULES`), validated by `alerting::rules`.
    pub alert_rules: Option<String>,
    /// Where `runbook_url` annotations point: `<base>/<rule id>.md`.
    pub runbook_base_url: String,
    pub slo_availability_objective: f64,
    pub slo_latency_objective: f64,
    /// Requests slower than this are bad for the latency SLO; a histogram bucket bound.
    pub slo_latency_threshold_seconds: f64,
    /// Reminder interval for alerts that keep firing.
    pub repeat_interval_minutes: u32,
    /// Each notification delivery attempt is abandoned (and retried later) after this.
    pub notify_timeout_ms: u32,
    pub channels: Channels,
}

/// Notification receivers; a channel is on when its secret is set.
#[derive(Clone, Default, PartialEq)]
pub struct Channels {
    pub slack_webhook_url: Option<String>,
    /// Generic webhook URL and the HMAC secret its payloads are signed with.
    pub webhook: Option<(String, String)>,
    /// PagerDuty routing key and Events API v2 URL.
    pub pagerduty: Option<(String, String)>,
    /// Alertmanager base URL (`/api/v2/alerts` is appended).
    pub alertmanager_url: Option<String>,
}

/// Receiver URLs and keys are secrets: they never reach a log line, not even through `{:?}`.
impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("slack", &self.slack_webhook_url.is_some())
            .field("webhook", &self.webhook.is_some())
            .field("pagerduty", &self.pagerduty.is_some())
            .field("alertmanager", &self.alertmanager_url.is_some())
            .finish()
    }
}

/// The PagerDuty Events API v2 endpoint used unless `PAGERDUTY_EVENTS_URL` overrides it.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A configuration variable that is set but cannot be used, with what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration variable {}: {}",
            self.variable, self.problem
        )
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
            alert_rules: get("ALERT_RULES"),
            runbook_base_url: get("RUNBOOK_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "docs/runbooks".into()),
            slo_availability_objective: objective(&get, "SLO_AVAILABILITY_OBJECTIVE", 0.999)?,
            slo_latency_objective: objective(&get, "SLO_LATENCY_OBJECTIVE", 0.99)?,
            slo_latency_threshold_seconds: latency_threshold(&get)?,
            repeat_interval_minutes: number(&get, "REPEAT_INTERVAL_MINUTES", 240, 1..=10_080)?,
            notify_timeout_ms: number(&get, "NOTIFY_TIMEOUT_MS", 5000, 100..=30_000)?,
            channels: Channels {
                slack_webhook_url: url(&get, "SLACK_WEBHOOK_URL")?,
                webhook: match (url(&get, "WEBHOOK_URL")?, get("WEBHOOK_SECRET")) {
                    (Some(u), Some(secret)) => Some((u, secret)),
                    (None, _) => None,
                    (Some(_), None) => {
                        return Err(ConfigError {
                            variable: "WEBHOOK_SECRET",
                            problem: "WEBHOOK_URL is set but its signing secret is not; `wrangler secret put WEBHOOK_SECRET`".into(),
                        })
                    }
                },
                pagerduty: match get("PAGERDUTY_ROUTING_KEY") {
                    Some(key) => Some((
                        key,
                        url(&get, "PAGERDUTY_EVENTS_URL")?
                            .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.into()),
                    )),
                    None => None,
                },
                alertmanager_url: url(&get, "ALERTMANAGER_URL")?
                    .map(|u| u.trim_end_matches('/').to_string()),
            },
        })
    }
}

/// An SLO objective: a ratio strictly between 0 and 1.
fn objective(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: f64,
) -> Result<f64, ConfigError> {
    let Some(text) = get(variable) else {
        return Ok(default);
    };
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(ConfigError {
            variable,
            problem: format!("{text:?} is not a ratio between 0 and 1 (e.g. 0.999)"),
        }),
    }
}

fn latency_threshold(get: &impl Fn(&str) -> Option<String>) -> Result<f64, ConfigError> {
    const VARIABLE: &str = "SLO_LATENCY_THRESHOLD_SECONDS";
    let Some(text) = get(VARIABLE) else {
        return Ok(0.5);
    };
    match text.trim().parse::<f64>() {
        Ok(v) if BUCKET_BOUNDS_SECONDS.contains(&v) => Ok(v),
        _ => Err(ConfigError {
            variable: VARIABLE,
            problem: format!(
                "{text:?} is not one of the latency histogram bounds {BUCKET_BOUNDS_SECONDS:?}"
            ),
        }),
    }
}

/// An http(s) URL, or `None` when unset.
fn url(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(text) = get(variable) else {
        return Ok(None);
    };
    let text = text.trim().to_string();
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .unwrap_or("");
    if host.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        // The value may be a secret: the error names the variable, never the value.
        return Err(ConfigError {
            variable,
            problem: "is not an http(s) URL".into(),
        });
    }
    Ok(Some(text))
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
        assert_eq!(
            parse(&[("CHECK_TIMEOUT_MS", " 250 ")])
                .unwrap()
                .check_timeout_ms,
            250
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = parse(&[("ADMIN_TOKEN", ""), ("LOG_LEVEL", " ")]).unwrap();
        assert_eq!(config.admin_token, None);
        assert_eq!(config.log_level, Level::Info);
    }

    #[test]
    fn a_channel_is_on_when_its_secret_is_set() {
        let config = parse(&[
            ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack"),
            ("PAGERDUTY_ROUTING_KEY", "rk"),
        ])
        .unwrap();
        assert!(config.channels.slack_webhook_url.is_some());
        assert_eq!(
            config.channels.pagerduty,
            Some(("rk".into(), PAGERDUTY_EVENTS_URL.into()))
        );
        assert_eq!(config.channels.webhook, None);
        assert_eq!(config.channels.alertmanager_url, None);
    }

    #[test]
    fn a_webhook_without_its_signing_secret_is_refused() {
        let err = parse(&[("WEBHOOK_URL", "https://hooks.example/x")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_SECRET");
    }

    #[test]
    fn bad_urls_name_the_variable_but_never_echo_the_value() {
        let err = parse(&[("SLACK_WEBHOOK_URL", "not a url with-secret-part")]).unwrap_err();
        assert_eq!(err.variable, "SLACK_WEBHOOK_URL");
        assert!(!err.to_string().contains("secret-part"));
        assert!(parse(&[("ALERTMANAGER_URL", "ftp://x")]).is_err());
    }

    #[test]
    fn channel_secrets_are_hidden_from_debug_output() {
        let config = parse(&[("SLACK_WEBHOOK_URL", "https://hooks.example/T000/SECRET")]).unwrap();
        assert!(!format!("{config:?}").contains("SECRET"));
    }

    #[test]
    fn slo_settings_are_validated() {
        assert!(parse(&[("SLO_AVAILABILITY_OBJECTIVE", "1")]).is_err());
        assert!(parse(&[("SLO_AVAILABILITY_OBJECTIVE", "99.9")]).is_err());
        assert_eq!(
            parse(&[("SLO_LATENCY_THRESHOLD_SECONDS", "0.25")])
                .unwrap()
                .slo_latency_threshold_seconds,
            0.25
        );
        let err = parse(&[("SLO_LATENCY_THRESHOLD_SECONDS", "0.3")]).unwrap_err();
        assert!(err.problem.contains("histogram bounds"), "{err}");
    }

    #[test]
    fn invalid_log_level_names_the_variable_and_the_choices() {
        let err = parse(&[("LOG_LEVEL", "verbose")]).unwrap_err();
        assert_eq!(err.variable, "LOG_LEVEL");
        assert!(
            err.to_string().contains("debug, info, warn, error"),
            "{err}"
        );
    }
}
