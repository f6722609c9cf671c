//! Every configuration variable, parsed in one place into a typed [`Config`].
//!
//! Parsing is pure: it takes a lookup function, so the rules (defaults, ranges, the error that
//! names the bad variable) are unit-tested on the host and the shell only supplies `Env`.

use std::collections::BTreeMap;
use std::fmt;

mod channels;
mod check;
mod file;
#[cfg(test)]
mod tests;

use channels::channels;
pub use channels::{Secret, PAGERDUTY_EVENTS_URL};
pub use check::{problems, summary};
pub use file::{ConfigFile, Source, FILE_NAME, SECTIONS};

use crate::alerting::slo::maintenance::MaintenanceInSlos;
use crate::alerting::slo::{SloConfig, SloObjectives};
use crate::http::templates::RouteTemplates;
use crate::notify::receivers::{parse_receivers, EntryProblem, Receiver};
use crate::notify::routing::Routing;
use crate::probes::heartbeats::{parse_heartbeats, HeartbeatSpec};
use crate::probes::schedule::SubrequestBudget;
use crate::probes::spec::{is_http_url, parse_probes, ProbeSpec};
use crate::status::StatusConfig;
use crate::telemetry::ingest::MAX_LABEL_LEN;
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
    /// SLO objectives: defaults (`SLO_AVAILABILITY_OBJECTIVE`, `SLO_LATENCY_OBJECTIVE`,
    /// `SLO_LATENCY_THRESHOLD_SECONDS`) and per-service overrides (`SLOS`).
    pub slos: SloObjectives,
    /// Whether minutes under maintenance count against SLOs (`SLO_MAINTENANCE`).
    pub maintenance_in_slos: MaintenanceInSlos,
    /// Reminder interval for alerts that keep firing.
    pub repeat_interval_minutes: u32,
    /// Each notification delivery attempt is abandoned (and retried later) after this.
    pub notify_timeout_ms: u32,
    pub notify: NotifyConfig,
    /// Route templates per service (`ROUTES`), labelling tailed workers' requests.
    pub routes: BTreeMap<String, RouteTemplates>,
    /// The service of trace events without a script name (`TAIL_UNNAMED_SERVICE`): local
    /// `wrangler dev` sends none; Cloudflare always does.
    pub tail_unnamed_service: String,
    /// Synthetic HTTP checks the cron runs (`PROBES`).
    pub probes: Vec<ProbeSpec>,
    /// Push monitors for scheduled jobs (`HEARTBEATS`), and the token their pings carry.
    pub heartbeats: Vec<HeartbeatSpec>,
    pub heartbeat_token: Option<Secret>,
    /// Subrequests one cron run may make (`SUBREQUEST_BUDGET`: 50 on the Free plan), shared by
    /// probes and notification deliveries.
    pub subrequest_budget: SubrequestBudget,
    /// The public status page (`STATUS_TITLE`, `STATUS_COMPONENTS`).
    pub status: StatusConfig,
    /// Where each section of `vigil.config.json` came from (`/api/config`); empty when parsed
    /// without the file layer.
    pub sources: Vec<(&'static str, Source)>,
}

/// Receivers, routes and inhibition. Unlike other variables, a bad `RECEIVERS`,
/// `NOTIFY_ROUTES` or `INHIBIT_RULES` entry does not stop the worker: it is skipped and listed
/// in `problems`, so the alerts it would have routed still reach the default route.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    pub receivers: Vec<Receiver>,
    pub routing: Routing,
    pub problems: Vec<EntryProblem>,
}

fn notify_config(get: &impl Fn(&str) -> Option<String>) -> Result<NotifyConfig, ConfigError> {
    let mut receivers = channels(get)?;
    let defaults: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    let (named, mut problems) = match get("RECEIVERS") {
        Some(text) => {
            let taken: Vec<&str> = defaults.iter().map(String::as_str).collect();
            parse_receivers(&text, get, get("EMAIL_FROM").as_deref(), &taken)
        }
        None => (Vec::new(), Vec::new()),
    };
    receivers.extend(named);
    let (routing, routing_problems) = Routing::parse(
        get("NOTIFY_ROUTES").as_deref(),
        get("INHIBIT_RULES").as_deref(),
        &receivers,
        defaults,
    );
    problems.extend(routing_problems);
    Ok(NotifyConfig {
        receivers,
        routing,
        problems,
    })
}

/// A configuration variable that is set but cannot be used, with what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.variable == FILE_NAME {
            write!(f, "{FILE_NAME}: {}", self.problem)
        } else {
            write!(
                f,
                "configuration variable {}: {}",
                self.variable, self.problem
            )
        }
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
            admin_token: get("ADMIN_TOKEN").map(Secret::new),
            metrics_token: get("METRICS_TOKEN").map(Secret::new),
            check_timeout_ms: number(&get, "CHECK_TIMEOUT_MS", 2000, 1..=60_000)?,
            slow_check_ms: number(&get, "SLOW_CHECK_MS", 1000, 0..=60_000)?,
            metrics_flush_seconds: number(&get, "METRICS_FLUSH_SECONDS", 10, 0..=3600)?,
            alert_rules: get("ALERT_RULES"),
            runbook_base_url: url(&get, "RUNBOOK_BASE_URL")?
                .map(|u| u.expose().trim_end_matches('/').to_string()),
            slos: slo_objectives(&get)?,
            maintenance_in_slos: match get("SLO_MAINTENANCE") {
                None => MaintenanceInSlos::default(),
                Some(v) => MaintenanceInSlos::parse(&v).map_err(|problem| ConfigError {
                    variable: "SLO_MAINTENANCE",
                    problem,
                })?,
            },
            repeat_interval_minutes: number(&get, "REPEAT_INTERVAL_MINUTES", 240, 1..=10_080)?,
            notify_timeout_ms: number(&get, "NOTIFY_TIMEOUT_MS", 5000, 100..=30_000)?,
            notify: notify_config(&get)?,
            routes: routes(get("ROUTES").as_deref())?,
            tail_unnamed_service: label(&get, "TAIL_UNNAMED_SERVICE", "unnamed")?,
            probes: json_list(&get, "PROBES", parse_probes)?,
            heartbeats: json_list(&get, "HEARTBEATS", parse_heartbeats)?,
            heartbeat_token: get("HEARTBEAT_TOKEN").map(Secret::new),
            subrequest_budget: SubrequestBudget {
                total: number(&get, "SUBREQUEST_BUDGET", 50, 20..=10_000)?,
            },
            status: StatusConfig::parse(
                get("STATUS_TITLE").as_deref(),
                get("STATUS_COMPONENTS").as_deref(),
            )?,
            // Only the file knows which sections it supplied: `ConfigFile::parse_config` fills
            // this in.
            sources: Vec::new(),
        })
    }
}

/// A JSON list variable read by `parse`, or empty when unset.
fn json_list<T>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    parse: fn(&str) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, ConfigError> {
    get(variable)
        .map_or(Ok(Vec::new()), |text| parse(&text))
        .map_err(|problem| ConfigError { variable, problem })
}

/// `ROUTES`: `{"service": ["/users/:id", …]}`.
fn routes(text: Option<&str>) -> Result<BTreeMap<String, RouteTemplates>, ConfigError> {
    let error = |problem: String| ConfigError {
        variable: "ROUTES",
        problem,
    };
    let Some(text) = text else {
        return Ok(BTreeMap::new());
    };
    let raw: BTreeMap<String, Vec<String>> = serde_json::from_str(text).map_err(|e| {
        error(format!(
            "is not a JSON object of service → route templates, e.g. {{\"api\": [\"/users/:id\"]}}: {e}"
        ))
    })?;
    raw.into_iter()
        .map(|(service, templates)| {
            RouteTemplates::parse(&templates)
                .map(|parsed| (service.clone(), parsed))
                .map_err(|problem| error(format!("service {service:?}: {problem}")))
        })
        .collect()
}

/// A label value (1 to 200 bytes), or `default` when unset.
fn label(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = get(variable).map_or_else(|| default.to_string(), |v| v.trim().to_string());
    if value.len() > MAX_LABEL_LEN {
        return Err(ConfigError {
            variable,
            problem: format!("is {} bytes long (at most {MAX_LABEL_LEN})", value.len()),
        });
    }
    Ok(value)
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

fn slo_objectives(get: &impl Fn(&str) -> Option<String>) -> Result<SloObjectives, ConfigError> {
    let defaults = SloConfig {
        availability_objective: objective(get, "SLO_AVAILABILITY_OBJECTIVE", 0.999)?,
        latency_objective: objective(get, "SLO_LATENCY_OBJECTIVE", 0.99)?,
        latency_threshold_seconds: latency_threshold(get)?,
    };
    SloObjectives::parse(defaults, get("SLOS").as_deref()).map_err(|problem| ConfigError {
        variable: "SLOS",
        problem,
    })
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
pub(super) fn url(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    let Some(text) = get(variable) else {
        return Ok(None);
    };
    let text = text.trim().to_string();
    if !is_http_url(&text) {
        // The value may be a secret: the error names the variable, never the value.
        return Err(ConfigError {
            variable,
            problem: "is not an http(s) URL".into(),
        });
    }
    Ok(Some(Secret::new(text)))
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
