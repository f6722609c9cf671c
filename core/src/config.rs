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
    pub admin_token: Option<Secret>,
    /// Bearer token for `/metrics`; the endpoint is open when unset.
    pub metrics_token: Option<Secret>,
    /// Each readiness check fails when it takes longer than this.
    pub check_timeout_ms: u32,
    /// A check that succeeds but takes longer than this reports `warn` in `/health`.
    pub slow_check_ms: u32,
    /// How often an isolate flushes its request metrics to D1 (0 = after every request).
    pub metrics_flush_seconds: u32,
    /// Operator rule overrides: a JSON array (`ALERT_RULES`), validated by `alerting::rules`.
    pub alert_rules: Option<String>,
    /// Where `runbook_url` annotations point: `<base>/<rule id>.md`; no link when unset.
    pub runbook_base_url: Option<String>,
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

/// A value that must never reach a log line or a response: its `Debug` shows only that it is
/// set. Read it with [`Secret::expose`] where it is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Notification receivers; a channel is on when its secret is set. Receiver URLs carry
/// credentials (Slack's and most webhooks' are the credential), so they are secrets too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channels {
    pub slack: Option<Secret>,
    pub webhook: Option<WebhookReceiver>,
    pub pagerduty: Option<PagerDutyReceiver>,
    /// Alertmanager base URL (`/api/v2/alerts` is appended).
    pub alertmanager: Option<Secret>,
}

/// A generic webhook and the HMAC secret its payloads are signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReceiver {
    pub url: Secret,
    pub signing_secret: Secret,
}

/// A PagerDuty service's Events API v2 routing key, and where events go.
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyReceiver {
    pub routing_key: Secret,
    pub events_url: String,
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
            admin_token: get("ADMIN_TOKEN").map(Secret),
            metrics_token: get("METRICS_TOKEN").map(Secret),
            check_timeout_ms: number(&get, "CHECK_TIMEOUT_MS", 2000, 1..=60_000)?,
            slow_check_ms: number(&get, "SLOW_CHECK_MS", 1000, 0..=60_000)?,
            metrics_flush_seconds: number(&get, "METRICS_FLUSH_SECONDS", 10, 0..=3600)?,
            alert_rules: get("ALERT_RULES"),
            runbook_base_url: url(&get, "RUNBOOK_BASE_URL")?
                .map(|u| u.expose().trim_end_matches('/').to_string()),
            slo_availability_objective: objective(&get, "SLO_AVAILABILITY_OBJECTIVE", 0.999)?,
            slo_latency_objective: objective(&get, "SLO_LATENCY_OBJECTIVE", 0.99)?,
            slo_latency_threshold_seconds: latency_threshold(&get)?,
            repeat_interval_minutes: number(&get, "REPEAT_INTERVAL_MINUTES", 240, 1..=10_080)?,
            notify_timeout_ms: number(&get, "NOTIFY_TIMEOUT_MS", 5000, 100..=30_000)?,
            channels: channels(&get)?,
        })
    }
}

fn channels(get: &impl Fn(&str) -> Option<String>) -> Result<Channels, ConfigError> {
    let webhook = match (url(get, "WEBHOOK_URL")?, get("WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => Some(WebhookReceiver {
            url,
            signing_secret: Secret(secret),
        }),
        (None, _) => None,
        (Some(_), None) => {
            return Err(ConfigError {
                variable: "WEBHOOK_SECRET",
                problem: "WEBHOOK_URL is set but its signing secret is not; `wrangler secret put WEBHOOK_SECRET`".into(),
            })
        }
    };
    let pagerduty = match get("PAGERDUTY_ROUTING_KEY") {
        Some(key) => Some(PagerDutyReceiver {
            routing_key: Secret(key),
            events_url: url(get, "PAGERDUTY_EVENTS_URL")?
                .map_or_else(|| PAGERDUTY_EVENTS_URL.into(), |u| u.0),
        }),
        None => None,
    };
    Ok(Channels {
        slack: url(get, "SLACK_WEBHOOK_URL")?,
        webhook,
        pagerduty,
        alertmanager: url(get, "ALERTMANAGER_URL")?
            .map(|u| Secret(u.0.trim_end_matches('/').to_string())),
    })
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

/// An http(s) URL, or `None` when unset. Held as a secret: receiver URLs carry credentials.
fn url(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<Secret>, ConfigError> {
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
    Ok(Some(Secret(text)))
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
        assert!(config.channels.slack.is_some());
        assert_eq!(
            config.channels.pagerduty,
            Some(PagerDutyReceiver {
                routing_key: Secret::new("rk"),
                events_url: PAGERDUTY_EVENTS_URL.into()
            })
        );
        assert_eq!(config.channels.webhook, None);
        assert_eq!(config.channels.alertmanager, None);
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

    /// Every secret the configuration holds, by variable, each with a value that a leak would show.
    const SECRETS: [(&str, &str); 7] = [
        ("ADMIN_TOKEN", "leak-admin-token"),
        ("METRICS_TOKEN", "leak-metrics-token"),
        ("SLACK_WEBHOOK_URL", "https://hooks.example/leak-slack"),
        ("WEBHOOK_URL", "https://hooks.example/leak-webhook-url"),
        ("WEBHOOK_SECRET", "leak-webhook-secret"),
        ("PAGERDUTY_ROUTING_KEY", "leak-routing-key"),
        ("ALERTMANAGER_URL", "https://am.example/leak-alertmanager"),
    ];

    #[test]
    fn debug_output_shows_no_secret() {
        let config = parse(&SECRETS).unwrap();
        let shown = format!("{config:?} {config:#?}");
        for (variable, value) in SECRETS {
            assert!(
                !shown.contains(value),
                "{variable} leaks through Debug: {shown}"
            );
        }
        assert!(
            shown.contains("[redacted]"),
            "secrets are shown as set: {shown}"
        );
    }

    #[test]
    fn each_secret_alone_stays_hidden_from_debug_output() {
        for (variable, value) in SECRETS {
            let mut vars = vec![(variable, value)];
            if variable == "WEBHOOK_URL" {
                vars.push(("WEBHOOK_SECRET", "other"));
            }
            if variable == "WEBHOOK_SECRET" {
                vars.push(("WEBHOOK_URL", "https://hooks.example/x"));
            }
            let config = parse(&vars).unwrap();
            assert!(!format!("{config:?}").contains(value), "{variable}");
        }
    }

    #[test]
    fn runbook_links_need_a_real_url() {
        assert_eq!(parse(&[]).unwrap().runbook_base_url, None);
        let config = parse(&[("RUNBOOK_BASE_URL", "https://runbooks.example/vigil/")]).unwrap();
        assert_eq!(
            config.runbook_base_url.as_deref(),
            Some("https://runbooks.example/vigil")
        );
        assert!(parse(&[("RUNBOOK_BASE_URL", "docs/runbooks")]).is_err());
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
