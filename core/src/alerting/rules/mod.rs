//! Alert rules: what they measure, the defaults Vigil ships, and their `ALERT_RULES` shape.
//!
//! A rule is data so operators can tune or add alerts without a code change. Its serde shape is
//! exactly what an operator writes in `ALERT_RULES` (`kind` tags the variant, and each kind
//! carries only its own fields), so `/api/alerts` shows rules in a form that can be copied back.
//! Loading overrides lives in `load`, evaluation in `eval`.

mod eval;
mod load;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use eval::{evaluate, EvalInput};
pub use load::{load_rules, RuleError};

use super::instances::SubjectKind;
use super::severity::Severity;
use super::slo::{SloName, SloTier};
use crate::health::checks::Check;
use crate::time::{format_duration, parse_duration, MINUTE_MS};

/// One alerting rule, in the shape operators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub kind: RuleKind,
    /// How long the condition must hold before the alert fires.
    #[serde(rename = "for", default)]
    pub for_: Duration,
    /// How long a firing alert stays firing after the condition stops holding.
    #[serde(default)]
    pub keep_firing_for: Duration,
    pub severity: Severity,
    /// Which series a per-service rule watches, by label (`{"service": "api"}`); without it, every
    /// service gets its own alert instance.
    #[serde(rename = "match", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matchers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What a rule measures and when its condition holds; each kind has exactly its own fields.
/// Unknown fields are rejected, so a typo such as `"treshold"` is reported, not ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// 5xx / all requests over the window > threshold; false without requests.
    ErrorRatio { threshold: f64, window: Window },
    /// Histogram-interpolated latency quantile (seconds) over the window > threshold.
    LatencyQuantile {
        quantile: f64,
        threshold: f64,
        window: Window,
    },
    /// The latest self-probe of the component failed.
    DependencyDown { component: DependencySelector },
    /// Seconds since the previous successful cron run > threshold.
    CronStale { threshold: f64 },
    /// No requests at all over the window.
    NoTraffic { window: Window },
    /// Crashed tailed invocations (outcome `exception`, `exceededCpu` or `exceededMemory`) /
    /// all tailed invocations over the window > threshold; false without invocations.
    InvocationFailureRatio { threshold: f64, window: Window },
    /// Multi-window, multi-burn-rate SLO alert (see `slo`).
    SloBurnRate { slo: SloName, tier: SloTier },
    /// The probe is down: `failure_threshold` checks in a row failed.
    ProbeDown {},
    /// The monitor was not pinged within `period + grace`, or its job reported a failure.
    HeartbeatMissed {},
}

impl RuleKind {
    /// What the rule yields an alert instance for: each service (rules on requests), each
    /// probe, each monitor; availability SLOs hold for services and probes alike. Rules on the
    /// hub itself (its dependencies, its cron) have no scope and yield one instance.
    pub fn scopes(&self) -> &'static [SubjectKind] {
        match self {
            RuleKind::ErrorRatio { .. }
            | RuleKind::LatencyQuantile { .. }
            | RuleKind::NoTraffic { .. }
            | RuleKind::InvocationFailureRatio { .. }
            | RuleKind::SloBurnRate {
                slo: SloName::Latency,
                ..
            } => &[SubjectKind::Service],
            RuleKind::SloBurnRate {
                slo: SloName::Availability,
                ..
            } => &[SubjectKind::Service, SubjectKind::Probe],
            RuleKind::ProbeDown {} => &[SubjectKind::Probe],
            RuleKind::HeartbeatMissed {} => &[SubjectKind::Monitor],
            RuleKind::DependencyDown { .. } | RuleKind::CronStale { .. } => &[],
        }
    }
}

/// A duration written the Prometheus way (`30s`, `5m`, `1h30m`), held in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration(pub u64);

impl TryFrom<String> for Duration {
    type Error = String;
    fn try_from(text: String) -> Result<Duration, String> {
        parse_duration(&text).map(Duration)
    }
}

impl From<Duration> for String {
    fn from(duration: Duration) -> String {
        format_duration(duration.0)
    }
}

/// A request window: a whole, non-zero number of minutes, since rollups are per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Window(u64);

impl Window {
    pub fn ms(self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for Window {
    type Error = String;
    fn try_from(text: String) -> Result<Window, String> {
        match parse_duration(&text)? {
            ms if ms > 0 && ms % MINUTE_MS == 0 => Ok(Window(ms)),
            _ => Err(format!(
                "window {text:?} must be a whole number of minutes (rollups are per minute)"
            )),
        }
    }
}

impl From<Window> for String {
    fn from(window: Window) -> String {
        format_duration(window.0)
    }
}

/// Which dependency a `dependency_down` rule watches: one readiness check, or any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DependencySelector {
    Any,
    One(Check),
}

impl DependencySelector {
    pub fn matches(self, check: Check) -> bool {
        self == DependencySelector::Any || self == DependencySelector::One(check)
    }
}

impl TryFrom<String> for DependencySelector {
    type Error = String;
    fn try_from(name: String) -> Result<DependencySelector, String> {
        match name.as_str() {
            "any" => Ok(DependencySelector::Any),
            other => Check::parse(other)
                .map(DependencySelector::One)
                .ok_or_else(|| {
                    format!("unknown component {other:?} (use d1, kv, r2, migrations or any)")
                }),
        }
    }
}

impl From<DependencySelector> for String {
    fn from(selector: DependencySelector) -> String {
        match selector {
            DependencySelector::Any => "any".into(),
            DependencySelector::One(check) => check.name().into(),
        }
    }
}

/// The rules Vigil ships with, written in the `ALERT_RULES` format so operators can copy one
/// and adjust it. `runbook_url` is added by [`builtin_rules`].
pub const BUILTIN_RULES_JSON: &str = r#"[
  {"id": "high-error-ratio", "kind": "error_ratio", "threshold": 0.05, "window": "5m",
   "for": "2m", "keep_firing_for": "5m", "severity": "page",
   "annotations": {"summary": "More than 5% of requests fail with 5xx",
     "description": "The share of 5xx responses over the last 5 minutes is above 5%."}},
  {"id": "high-latency-p95", "kind": "latency_quantile", "quantile": 0.95, "threshold": 1.0,
   "window": "5m", "for": "5m", "keep_firing_for": "5m", "severity": "ticket",
   "annotations": {"summary": "p95 latency above 1 s",
     "description": "The 95th percentile of request duration over 5 minutes is above 1 second."}},
  {"id": "worker-invocation-failures", "kind": "invocation_failure_ratio", "threshold": 0.05,
   "window": "5m", "for": "2m", "keep_firing_for": "5m", "severity": "page",
   "annotations": {"summary": "More than 5% of a worker's invocations crash",
     "description": "Over the last 5 minutes, more than 5% of the tailed worker's invocations ended in an uncaught exception or exceeded their CPU or memory limit."}},
  {"id": "probe-down", "kind": "probe_down", "for": "0s", "keep_firing_for": "0s",
   "severity": "page",
   "annotations": {"summary": "A synthetic probe is down",
     "description": "The probe failed its checks failure_threshold times in a row; it is up again after success_threshold passing checks."}},
  {"id": "heartbeat-missed", "kind": "heartbeat_missed", "for": "0s", "keep_firing_for": "0s",
   "severity": "page",
   "annotations": {"summary": "A scheduled job did not check in",
     "description": "The monitor got no ping within its period and grace, or the job reported a failure."}},
  {"id": "dependency-down", "kind": "dependency_down", "component": "any",
   "for": "2m", "keep_firing_for": "2m", "severity": "page",
   "annotations": {"summary": "A dependency fails its readiness check",
     "description": "The cron self-probe of D1, KV, R2 or the migrations keeps failing."}},
  {"id": "cron-stale", "kind": "cron_stale", "threshold": 300,
   "for": "0s", "keep_firing_for": "5m", "severity": "page",
   "annotations": {"summary": "The alerting cron has not succeeded for 5 minutes",
     "description": "No cron run succeeded for over 5 minutes; alert and SLO data may be stale."}},
  {"id": "slo-availability-page", "kind": "slo_burn_rate", "slo": "availability", "tier": "page",
   "for": "2m", "keep_firing_for": "5m", "severity": "page",
   "annotations": {"summary": "Availability error budget burning fast",
     "description": "14.4x burn over 1h and 5m, or 6x over 6h and 30m: budget gone in days."}},
  {"id": "slo-availability-ticket", "kind": "slo_burn_rate", "slo": "availability",
   "tier": "ticket", "for": "1h", "keep_firing_for": "5m", "severity": "ticket",
   "annotations": {"summary": "Availability error budget burning steadily",
     "description": "3x burn over 1d and 2h, or 1x over 3d and 6h: budget gone within the month."}},
  {"id": "slo-latency-page", "kind": "slo_burn_rate", "slo": "latency", "tier": "page",
   "for": "2m", "keep_firing_for": "5m", "severity": "page",
   "annotations": {"summary": "Latency error budget burning fast",
     "description": "Too many slow requests: 14.4x burn over 1h and 5m, or 6x over 6h and 30m."}},
  {"id": "slo-latency-ticket", "kind": "slo_burn_rate", "slo": "latency", "tier": "ticket",
   "for": "1h", "keep_firing_for": "5m", "severity": "ticket",
   "annotations": {"summary": "Latency error budget burning steadily",
     "description": "Slow requests: 3x burn over 1d and 2h, or 1x over 3d and 6h."}}
]"#;

/// The built-in rules. With a `runbook_base_url` (where `docs/runbooks/` is published), each
/// rule links `{base}/{id}.md`; without one the link is left out rather than made up.
pub fn builtin_rules(runbook_base_url: Option<&str>) -> Vec<Rule> {
    // A constant that the tests prove loads without errors.
    let (mut rules, _) = load_rules(Vec::new(), Some(BUILTIN_RULES_JSON));
    if let Some(base) = runbook_base_url {
        let base = base.trim_end_matches('/');
        for rule in &mut rules {
            let url = format!("{base}/{}.md", rule.id);
            rule.annotations.insert("runbook_url".into(), url);
        }
    }
    rules
}

/// Every request-window length (ms) the rules need, sorted and deduplicated, so the cron can
/// load them all from the rollups in one query.
pub fn windows_ms(rules: &[Rule]) -> Vec<u64> {
    let mut windows: Vec<u64> = rules
        .iter()
        .flat_map(|rule| match &rule.kind {
            RuleKind::SloBurnRate { tier, .. } => tier
                .burn_windows()
                .iter()
                .flat_map(|w| [w.long_ms, w.short_ms])
                .collect(),
            RuleKind::ErrorRatio { window, .. }
            | RuleKind::LatencyQuantile { window, .. }
            | RuleKind::NoTraffic { window }
            | RuleKind::InvocationFailureRatio { window, .. } => vec![window.ms()],
            RuleKind::DependencyDown { .. }
            | RuleKind::CronStale { .. }
            | RuleKind::ProbeDown {}
            | RuleKind::HeartbeatMissed {} => Vec::new(),
        })
        .collect();
    windows.sort_unstable();
    windows.dedup();
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY_MS, HOUR_MS};

    fn builtin(id: &str) -> Rule {
        builtin_rules(Some("https://x/runbooks"))
            .into_iter()
            .find(|r| r.id == id)
            .expect("built-in rule exists")
    }

    #[test]
    fn builtins_link_runbooks_and_carry_summaries() {
        let rules = builtin_rules(Some("https://example.com/docs/runbooks/"));
        assert_eq!(rules.len(), 11);
        for rule in &rules {
            let url = format!("https://example.com/docs/runbooks/{}.md", rule.id);
            assert_eq!(rule.annotations.get("runbook_url"), Some(&url));
            assert!(rule.annotations.contains_key("summary"));
            assert!(rule.annotations.contains_key("description"));
        }
        let errors = builtin("high-error-ratio");
        assert_eq!(
            errors.kind,
            RuleKind::ErrorRatio {
                threshold: 0.05,
                window: Window(5 * MINUTE_MS)
            }
        );
        assert_eq!(
            (errors.for_, errors.keep_firing_for),
            (Duration(2 * MINUTE_MS), Duration(5 * MINUTE_MS))
        );
        let stale = builtin("cron-stale");
        assert_eq!(stale.kind, RuleKind::CronStale { threshold: 300.0 });
        assert_eq!(stale.for_, Duration(0));
        assert_eq!(builtin("slo-latency-ticket").for_, Duration(HOUR_MS));
    }

    #[test]
    fn without_a_runbook_base_no_link_is_made_up() {
        for rule in builtin_rules(None) {
            assert!(!rule.annotations.contains_key("runbook_url"), "{}", rule.id);
        }
    }

    #[test]
    fn a_rule_serializes_to_the_shape_operators_write_and_loads_back_the_same() {
        for rule in builtin_rules(Some("https://x")) {
            let written = serde_json::to_value(&rule).expect("serializes");
            assert!(written["kind"].is_string(), "{written}");
            let again: Rule = serde_json::from_value(written.clone()).expect("loads back");
            assert_eq!(again, rule, "{written}");
        }
        let written = serde_json::to_value(builtin("high-error-ratio")).expect("serializes");
        assert_eq!(written["window"], "5m");
        assert_eq!(written["for"], "2m");
        assert_eq!(written["severity"], "page");
        assert!(written.get("quantile").is_none(), "only its own fields");
    }

    #[test]
    fn windows_cover_rule_and_slo_windows_once() {
        let windows = windows_ms(&builtin_rules(None));
        let expected = [5, 30, 60, 120, 360, 1_440, 4_320].map(|m| m * MINUTE_MS);
        assert_eq!(windows, expected);
        assert_eq!(windows.last(), Some(&(3 * DAY_MS)));
    }
}
