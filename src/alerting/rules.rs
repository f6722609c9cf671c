//! Alert rules: what they measure, the defaults Vigil ships, operator overrides from
//! `ALERT_RULES`, and the pure evaluation of one rule against request statistics.
//!
//! Rules are data so operators can tune or add alerts without a code change; a bad override is
//! reported and skipped so one typo never silences the other alerts. Evaluation reads only what
//! the cron hands it (window sums from the D1 rollups, the latest self-probe, the last heartbeat),
//! which keeps every rule testable on the host.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::slo::{self, SloConfig, SloName, SloTier};
use crate::health::checks::Check;
use crate::telemetry::metrics::{BUCKETS, BUCKET_BOUNDS_SECONDS};

pub const MINUTE_MS: u64 = 60_000;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Severities a rule may carry; receivers map them (e.g. PagerDuty urgency).
pub const SEVERITIES: [&str; 3] = ["page", "ticket", "info"];

/// `DependencyDown` component meaning "whichever check failed".
pub const ANY_COMPONENT: &str = "any";

/// One alerting rule. Durations are milliseconds; `window_ms` is 0 for kinds without a window
/// and `threshold` is 0 for kinds that do not compare against one.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    pub threshold: f64,
    pub window_ms: u64,
    pub for_ms: u64,
    pub keep_firing_for_ms: u64,
    /// One of [`SEVERITIES`].
    pub severity: String,
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
}

/// What a rule measures and when its condition holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// 5xx / all requests over the window > threshold; false without requests.
    ErrorRatio,
    /// Histogram-interpolated latency quantile (seconds) over the window > threshold.
    LatencyQuantile { quantile: f64 },
    /// The latest self-probe of the component (a readiness check name, or `any`) failed.
    DependencyDown { component: String },
    /// Seconds since the previous successful cron run > threshold.
    CronStale,
    /// No requests at all over the window.
    NoTraffic,
    /// Multi-window, multi-burn-rate SLO alert (see `slo`).
    SloBurnRate { slo: SloName, tier: SloTier },
}

impl RuleKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleKind::ErrorRatio => "error_ratio",
            RuleKind::LatencyQuantile { .. } => "latency_quantile",
            RuleKind::DependencyDown { .. } => "dependency_down",
            RuleKind::CronStale => "cron_stale",
            RuleKind::NoTraffic => "no_traffic",
            RuleKind::SloBurnRate { .. } => "slo_burn_rate",
        }
    }

    fn uses_threshold(&self) -> bool {
        matches!(
            self,
            RuleKind::ErrorRatio | RuleKind::LatencyQuantile { .. } | RuleKind::CronStale
        )
    }

    fn uses_window(&self) -> bool {
        matches!(
            self,
            RuleKind::ErrorRatio | RuleKind::LatencyQuantile { .. } | RuleKind::NoTraffic
        )
    }
}

/// Why one entry of `ALERT_RULES` was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub rule_id: Option<String>,
    /// Position in the `ALERT_RULES` array (0 when the whole value is unusable).
    pub index: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule_id {
            Some(id) => write!(f, "ALERT_RULES[{}] ({id}): {}", self.index, self.message),
            None => write!(f, "ALERT_RULES[{}]: {}", self.index, self.message),
        }
    }
}

/// Parses a Prometheus duration (`30s`, `5m`, `1h30m`, `0`) into milliseconds. Units, largest
/// first and each at most once: `y` (365 d), `w`, `d`, `h`, `m`, `s`, `ms`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * DAY_MS),
        ("w", 7 * DAY_MS),
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", 1_000),
        ("ms", 1),
    ];
    let invalid = |why: String| format!("invalid duration {text:?}: {why}");
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid("empty (use e.g. 30s, 5m, 1h)".into()));
    }
    let (mut rest, mut total, mut previous) = (text, 0u64, None);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        if number.is_empty() {
            return Err(invalid(format!("expected a number before {unit:?}")));
        }
        if unit.is_empty() {
            return Err(invalid(format!(
                "missing unit after {number} (e.g. {number}s)"
            )));
        }
        let rank = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| invalid(format!("unknown unit {unit:?} (use ms, s, m, h, d, w, y)")))?;
        if previous.is_some_and(|p| rank <= p) {
            return Err(invalid(
                "units must go from largest to smallest, each once".into(),
            ));
        }
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[rank].1))
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| invalid("too large".into()))?;
        previous = Some(rank);
        rest = tail;
    }
    Ok(total)
}

/// Formats milliseconds the way [`parse_duration`] reads them (`5m`, `1h30m`, `0s`).
pub fn format_duration(ms: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", 1_000),
        ("ms", 1),
    ];
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
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

/// The built-in rules. `runbook_base_url` is where `docs/runbooks/` is published; each rule
/// links `{base}/{id}.md`.
pub fn builtin_rules(runbook_base_url: &str) -> Vec<Rule> {
    let base = runbook_base_url.trim_end_matches('/');
    // A constant that the tests prove loads without errors.
    let (mut rules, _) = load_rules(Vec::new(), Some(BUILTIN_RULES_JSON));
    for rule in &mut rules {
        let url = format!("{base}/{}.md", rule.id);
        rule.annotations.insert("runbook_url".into(), url);
    }
    rules
}

/// One `ALERT_RULES` entry as written, minus `id` (read first, so even an entry that fails to
/// parse is reported under its id). Unknown fields are rejected so a typo such as
/// `"treshold"` is reported instead of silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(default)]
    disabled: bool,
    kind: Option<String>,
    threshold: Option<f64>,
    window: Option<String>,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    quantile: Option<f64>,
    component: Option<String>,
    slo: Option<String>,
    tier: Option<String>,
}

/// Merges `ALERT_RULES` (a JSON array) into the built-ins: an entry with a built-in's id replaces
/// it, a new id is appended, `{"id":"x","disabled":true}` removes one. Every unusable entry is
/// reported and skipped; the rest still load. Unset or blank JSON means the built-ins alone.
pub fn load_rules(builtin: Vec<Rule>, overrides_json: Option<&str>) -> (Vec<Rule>, Vec<RuleError>) {
    let Some(json) = overrides_json.filter(|j| !j.trim().is_empty()) else {
        return (builtin, Vec::new());
    };
    let entries = match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => {
            return (
                builtin,
                vec![whole_value_error("is not a JSON array of rules".into())],
            )
        }
        Err(e) => {
            return (
                builtin,
                vec![whole_value_error(format!("is not valid JSON: {e}"))],
            )
        }
    };
    let mut rules = builtin;
    let mut errors = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (index, mut entry) in entries.into_iter().enumerate() {
        let rule_id = match entry.as_object_mut().and_then(|fields| fields.remove("id")) {
            Some(Value::String(id)) => Some(id),
            _ => None,
        };
        let mut report = |message: String| {
            errors.push(RuleError {
                rule_id: rule_id.clone(),
                index,
                message,
            });
        };
        let id = match &rule_id {
            Some(id) if valid_id(id) => id.clone(),
            Some(_) => {
                report("`id` must be 1-128 characters of A-Z a-z 0-9 . _ -".into());
                continue;
            }
            None => {
                report("missing `id`: each rule must be an object with a string `id`".into());
                continue;
            }
        };
        if seen.contains(&id) {
            report("duplicate id in ALERT_RULES; the first entry wins".into());
            continue;
        }
        seen.push(id.clone());
        let spec = match serde_json::from_value::<RuleSpec>(entry) {
            Ok(spec) => spec,
            Err(e) => {
                report(e.to_string());
                continue;
            }
        };
        let existing = rules.iter().position(|r| r.id == id);
        if spec.disabled {
            match existing {
                Some(at) => {
                    rules.remove(at);
                }
                None => report("cannot disable: no built-in rule has this id".into()),
            }
            continue;
        }
        match (build_rule(id, spec), existing) {
            (Ok(rule), Some(at)) => rules[at] = rule,
            (Ok(rule), None) => rules.push(rule),
            (Err(message), _) => report(message),
        }
    }
    (rules, errors)
}

fn whole_value_error(why: String) -> RuleError {
    RuleError {
        rule_id: None,
        index: 0,
        message: format!("ALERT_RULES {why}; using the built-in rules"),
    }
}

/// Ids end up in runbook URLs, label values and D1 keys, so keep them plain.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn build_rule(id: String, spec: RuleSpec) -> Result<Rule, String> {
    let kind_name = spec.kind.as_deref().ok_or("missing `kind`")?;
    let required = |field: Option<&String>, name: &str| {
        field
            .cloned()
            .ok_or_else(|| format!("kind {kind_name} needs `{name}`"))
    };
    let kind = match kind_name {
        "error_ratio" => RuleKind::ErrorRatio,
        "latency_quantile" => match spec.quantile {
            Some(q) if q > 0.0 && q < 1.0 => RuleKind::LatencyQuantile { quantile: q },
            Some(q) => {
                return Err(format!(
                    "`quantile` must be between 0 and 1 (exclusive), got {q}"
                ))
            }
            None => return Err("kind latency_quantile needs `quantile`".into()),
        },
        "dependency_down" => {
            let component = required(spec.component.as_ref(), "component")?;
            if component != ANY_COMPONENT && Check::parse(&component).is_none() {
                return Err(format!(
                    "unknown component {component:?} (use d1, kv, r2, migrations or any)"
                ));
            }
            RuleKind::DependencyDown { component }
        }
        "cron_stale" => RuleKind::CronStale,
        "no_traffic" => RuleKind::NoTraffic,
        "slo_burn_rate" => {
            let slo = required(spec.slo.as_ref(), "slo")?;
            let tier = required(spec.tier.as_ref(), "tier")?;
            RuleKind::SloBurnRate {
                slo: SloName::parse(&slo)
                    .ok_or(format!("unknown slo {slo:?} (use availability or latency)"))?,
                tier: SloTier::parse(&tier)
                    .ok_or(format!("unknown tier {tier:?} (use page or ticket)"))?,
            }
        }
        other => {
            return Err(format!(
                "unknown kind {other:?} (use error_ratio, latency_quantile, dependency_down, \
                 cron_stale, no_traffic or slo_burn_rate)"
            ))
        }
    };
    // A field the kind ignores is almost always a mistake (wrong kind, or a misplaced setting).
    let ignored = [
        ("threshold", spec.threshold.is_some(), kind.uses_threshold()),
        ("window", spec.window.is_some(), kind.uses_window()),
        (
            "quantile",
            spec.quantile.is_some(),
            kind_name == "latency_quantile",
        ),
        (
            "component",
            spec.component.is_some(),
            kind_name == "dependency_down",
        ),
        ("slo", spec.slo.is_some(), kind_name == "slo_burn_rate"),
        ("tier", spec.tier.is_some(), kind_name == "slo_burn_rate"),
    ];
    if let Some((field, ..)) = ignored.iter().find(|(_, given, used)| *given && !*used) {
        return Err(format!("`{field}` does not apply to kind {kind_name}"));
    }
    let threshold = match spec.threshold {
        Some(t) if t.is_finite() => t,
        Some(t) => return Err(format!("`threshold` must be a finite number, got {t}")),
        None if kind.uses_threshold() => return Err(format!("kind {kind_name} needs `threshold`")),
        None => 0.0,
    };
    let duration = |text: Option<&String>, name: &str| match text {
        Some(text) => parse_duration(text).map_err(|e| format!("`{name}`: {e}")),
        None => Ok(0),
    };
    let window_ms = duration(spec.window.as_ref(), "window")?;
    if kind.uses_window() && (window_ms == 0 || window_ms % MINUTE_MS != 0) {
        return Err(format!(
            "kind {kind_name} needs `window`, a whole number of minutes (rollups are per minute)"
        ));
    }
    let severity = spec
        .severity
        .ok_or("missing `severity` (page, ticket or info)")?;
    if !SEVERITIES.contains(&severity.as_str()) {
        return Err(format!(
            "unknown severity {severity:?} (use page, ticket or info)"
        ));
    }
    // Alertmanager rejects a whole POST over one bad label name, so check them here.
    if let Some(bad) = spec.labels.keys().find(|name| !valid_label_name(name)) {
        return Err(format!(
            "label name {bad:?} is not valid (use [a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    Ok(Rule {
        id,
        kind,
        threshold,
        window_ms,
        for_ms: duration(spec.for_.as_ref(), "for")?,
        keep_firing_for_ms: duration(spec.keep_firing_for.as_ref(), "keep_firing_for")?,
        severity,
        labels: spec.labels,
        annotations: spec.annotations,
    })
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
            kind if kind.uses_window() => vec![rule.window_ms],
            _ => Vec::new(),
        })
        .collect();
    windows.sort_unstable();
    windows.dedup();
    windows
}

/// Request counts over one window, summed from minute rollups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    pub requests: u64,
    /// Responses with a 5xx status.
    pub errors: u64,
    /// Non-cumulative per-bucket counts; the last is `+Inf`.
    pub buckets: [u64; BUCKETS],
    /// Cron self-probes in the window, and how many of them failed.
    pub probes: u64,
    pub probes_failed: u64,
}

/// Everything a rule may look at, gathered by the cron for one evaluation time.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    pub now_ms: f64,
    /// Keyed by window length in ms (see [`windows_ms`]).
    pub windows: &'a BTreeMap<u64, WindowStats>,
    /// The latest self-probe: (readiness check name, passed).
    pub dependencies: &'a [(String, bool)],
    pub last_cron_success_ms: Option<f64>,
}

/// A rule's outcome at one time: whether its condition holds and the measured value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub condition: bool,
    pub value: f64,
}

/// The stats of one window, or an error naming it; a missing window is a caller bug, not "no
/// traffic", so it must not read as zero.
pub fn window(
    windows: &BTreeMap<u64, WindowStats>,
    window_ms: u64,
) -> Result<&WindowStats, String> {
    windows.get(&window_ms).ok_or_else(|| {
        format!(
            "no request stats loaded for the {} window",
            format_duration(window_ms)
        )
    })
}

/// Evaluates one rule. An `Err` means the rule could not be evaluated (missing data); the
/// caller should log it and leave the alert's state unchanged.
pub fn evaluate(rule: &Rule, input: &EvalInput, slo: &SloConfig) -> Result<Evaluation, String> {
    let above = |value: f64| Evaluation {
        condition: value > rule.threshold,
        value,
    };
    let no_data = Evaluation {
        condition: false,
        value: 0.0,
    };
    match &rule.kind {
        RuleKind::ErrorRatio => {
            let stats = window(input.windows, rule.window_ms)?;
            Ok(match stats.requests {
                0 => no_data,
                n => above(stats.errors as f64 / n as f64),
            })
        }
        RuleKind::LatencyQuantile { quantile } => {
            let stats = window(input.windows, rule.window_ms)?;
            Ok(histogram_quantile(*quantile, &stats.buckets).map_or(no_data, above))
        }
        RuleKind::DependencyDown { component } => {
            let mut probed = input
                .dependencies
                .iter()
                .filter(|(name, _)| component == ANY_COMPONENT || name == component)
                .peekable();
            if probed.peek().is_none() {
                return Err(format!("no self-probe result for component {component:?}"));
            }
            let down = probed.any(|(_, up)| !up);
            Ok(Evaluation {
                condition: down,
                value: if down { 1.0 } else { 0.0 },
            })
        }
        // Without any recorded success (a fresh deployment) there is nothing to be stale
        // against; a cron that never succeeds still shows in its heartbeat errors.
        RuleKind::CronStale => Ok(input.last_cron_success_ms.map_or(no_data, |last| {
            above(((input.now_ms - last) / 1_000.0).max(0.0))
        })),
        RuleKind::NoTraffic => {
            let requests = window(input.windows, rule.window_ms)?.requests;
            Ok(Evaluation {
                condition: requests == 0,
                value: requests as f64,
            })
        }
        RuleKind::SloBurnRate { slo: name, tier } => {
            slo::slo_condition(*name, *tier, input.windows, slo)
        }
    }
}

/// The `q` quantile (seconds) of a latency histogram, like PromQL's `histogram_quantile`:
/// linear interpolation inside the bucket holding the rank, 0 as the first bucket's lower bound,
/// and the highest finite bound when the rank falls in `+Inf`. `None` for an empty histogram or
/// a `q` outside [0, 1].
pub fn histogram_quantile(q: f64, buckets: &[u64; BUCKETS]) -> Option<f64> {
    // f64 sums: u64 could overflow on corrupt counts, and ranks are fractional anyway.
    let total: f64 = buckets.iter().map(|&c| c as f64).sum();
    if total == 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let mut below = 0.0;
    for (i, &count) in buckets.iter().enumerate() {
        let count = count as f64;
        // Skipping empty buckets keeps q = 0 from interpolating inside a bucket with no samples.
        if count > 0.0 && below + count >= rank {
            let Some(&upper) = BUCKET_BOUNDS_SECONDS.get(i) else {
                return BUCKET_BOUNDS_SECONDS.last().copied();
            };
            let lower = if i == 0 {
                0.0
            } else {
                BUCKET_BOUNDS_SECONDS[i - 1]
            };
            return Some(lower + (upper - lower) * (rank - below) / count);
        }
        below += count;
    }
    BUCKET_BOUNDS_SECONDS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, errors: u64) -> WindowStats {
        let mut buckets = [0; BUCKETS];
        buckets[0] = requests;
        WindowStats {
            requests,
            errors,
            buckets,
            ..WindowStats::default()
        }
    }

    fn builtin(id: &str) -> Rule {
        builtin_rules("https://x/runbooks")
            .into_iter()
            .find(|r| r.id == id)
            .expect("built-in rule exists")
    }

    fn eval(rule: &Rule, windows: &BTreeMap<u64, WindowStats>) -> Result<Evaluation, String> {
        let input = EvalInput {
            now_ms: 1_000_000.0,
            windows,
            dependencies: &[],
            last_cron_success_ms: None,
        };
        evaluate(rule, &input, &SloConfig::default())
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1w"), Ok(7 * DAY_MS));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let err = |text: &str| parse_duration(text).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("30").contains("missing unit"));
        assert!(err("5 m").contains("unknown unit \" m\""));
        assert!(err("5min").contains("unknown unit \"min\""));
        assert!(err("m").contains("expected a number"));
        assert!(err("-5m").contains("expected a number"));
        assert!(err("30m1h").contains("largest to smallest"));
        assert!(err("5m5m").contains("largest to smallest"));
        assert!(err("99999999999999999999s").contains("too large"));
        assert!(err("9999999999999y").contains("too large"));
    }

    #[test]
    fn durations_format_back_to_what_parses() {
        for ms in [0, 250, 30_000, 300_000, 5_400_000, DAY_MS, 30 * DAY_MS] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
        }
        assert_eq!(format_duration(5 * MINUTE_MS), "5m");
        assert_eq!(format_duration(3 * DAY_MS), "3d");
    }

    #[test]
    fn builtins_load_without_errors() {
        let (rules, errors) = load_rules(Vec::new(), Some(BUILTIN_RULES_JSON));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 8);
    }

    #[test]
    fn builtins_link_runbooks_and_carry_summaries() {
        let rules = builtin_rules("https://example.com/docs/runbooks/");
        assert_eq!(rules.len(), 8);
        for rule in &rules {
            let url = format!("https://example.com/docs/runbooks/{}.md", rule.id);
            assert_eq!(rule.annotations.get("runbook_url"), Some(&url));
            assert!(rule.annotations.contains_key("summary"));
            assert!(rule.annotations.contains_key("description"));
            assert!(SEVERITIES.contains(&rule.severity.as_str()));
        }
        assert!(!rules.iter().any(|r| r.kind == RuleKind::NoTraffic));
        let errors = builtin("high-error-ratio");
        assert_eq!((errors.threshold, errors.window_ms), (0.05, 5 * MINUTE_MS));
        assert_eq!(
            (errors.for_ms, errors.keep_firing_for_ms),
            (2 * MINUTE_MS, 5 * MINUTE_MS)
        );
        let stale = builtin("cron-stale");
        assert_eq!((stale.threshold, stale.for_ms), (300.0, 0));
        assert_eq!(builtin("slo-latency-ticket").for_ms, HOUR_MS);
    }

    #[test]
    fn no_overrides_means_builtins_only() {
        for json in [None, Some(""), Some("  ")] {
            let (rules, errors) = load_rules(builtin_rules("u"), json);
            assert_eq!(rules, builtin_rules("u"));
            assert!(errors.is_empty());
        }
    }

    #[test]
    fn override_replaces_adds_and_disables() {
        let json = r#"[
            {"id":"high-error-ratio","kind":"error_ratio","threshold":0.1,"window":"10m",
             "for":"1m","keep_firing_for":"0s","severity":"ticket","labels":{"team":"api"}},
            {"id":"quiet","kind":"no_traffic","window":"15m","severity":"info"},
            {"id":"cron-stale","disabled":true}
        ]"#;
        let (rules, errors) = load_rules(builtin_rules("u"), Some(json));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 8);
        assert_eq!(rules[0].id, "high-error-ratio");
        assert_eq!(rules[0].threshold, 0.1);
        assert_eq!(rules[0].window_ms, 10 * MINUTE_MS);
        assert_eq!(rules[0].for_ms, MINUTE_MS);
        assert_eq!(rules[0].keep_firing_for_ms, 0);
        assert_eq!(rules[0].labels.get("team").map(String::as_str), Some("api"));
        let (_, errors) = load_rules(
            Vec::new(),
            Some(
                r#"[{"id":"x","kind":"no_traffic","window":"5m","severity":"info","labels":{"bad-name":"v"}}]"#,
            ),
        );
        assert!(errors[0].message.contains("bad-name"), "{}", errors[0]);
        assert!(!rules.iter().any(|r| r.id == "cron-stale"));
        let quiet = rules.last().expect("appended");
        assert_eq!(
            (quiet.id.as_str(), &quiet.kind),
            ("quiet", &RuleKind::NoTraffic)
        );
    }

    #[test]
    fn kind_specific_fields_are_read() {
        let json = r#"[
            {"id":"p99","kind":"latency_quantile","quantile":0.99,"threshold":2,"window":"5m","severity":"page"},
            {"id":"kv-down","kind":"dependency_down","component":"kv","for":"1m","severity":"page"},
            {"id":"burn","kind":"slo_burn_rate","slo":"latency","tier":"ticket","severity":"ticket"}
        ]"#;
        let (rules, errors) = load_rules(Vec::new(), Some(json));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules[0].kind, RuleKind::LatencyQuantile { quantile: 0.99 });
        assert_eq!(
            rules[1].kind,
            RuleKind::DependencyDown {
                component: "kv".into()
            }
        );
        assert_eq!(
            rules[2].kind,
            RuleKind::SloBurnRate {
                slo: SloName::Latency,
                tier: SloTier::Ticket
            }
        );
    }

    #[test]
    fn bad_rules_are_reported_and_skipped_while_good_ones_load() {
        let json = r#"[
            {"id":"a","kind":"nope","severity":"page"},
            {"id":"b","kind":"error_ratio","threshold":0.1,"window":"5x","severity":"page"},
            {"id":"c","kind":"latency_quantile","quantile":1.5,"threshold":1,"window":"5m","severity":"page"},
            {"kind":"error_ratio"},
            {"id":"d","kind":"error_ratio","threshold":0.1,"window":"5m","severity":"critical"},
            {"id":"good","kind":"no_traffic","window":"5m","severity":"info"},
            {"id":"good","kind":"no_traffic","window":"10m","severity":"info"},
            {"id":"e","kind":"error_ratio","treshold":0.1,"window":"5m","severity":"page"},
            {"id":"f","kind":"dependency_down","component":"s3","severity":"page"},
            {"id":"g","kind":"no_traffic","window":"5m","threshold":1,"severity":"info"},
            {"id":"h","kind":"error_ratio","threshold":"high","window":"5m","severity":"page"},
            {"id":"i","kind":"slo_burn_rate","slo":"availability","severity":"page"},
            {"id":"j","kind":"error_ratio","threshold":0.1,"window":"90s","severity":"page"},
            {"id":"k","kind":"latency_quantile","threshold":1,"window":"5m","severity":"page"},
            {"id":"bad id!","kind":"no_traffic","window":"5m","severity":"info"},
            {"id":"missing","disabled":true},
            7
        ]"#;
        let (rules, errors) = load_rules(Vec::new(), Some(json));
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].window_ms,
            5 * MINUTE_MS,
            "first of a duplicate id wins"
        );
        let message = |index: usize| {
            let found = errors.iter().find(|e| e.index == index);
            found.map(ToString::to_string).unwrap_or_default()
        };
        assert!(
            message(0).contains("unknown kind \"nope\""),
            "{}",
            message(0)
        );
        assert!(message(1).starts_with("ALERT_RULES[1] (b): `window`: invalid duration"));
        assert!(message(2).contains("between 0 and 1"));
        assert!(message(3).contains("missing `id`"));
        assert!(message(4).contains("unknown severity \"critical\""));
        assert!(message(6).contains("duplicate id"));
        assert!(
            message(7).contains("unknown field `treshold`"),
            "{}",
            message(7)
        );
        assert!(message(8).contains("unknown component \"s3\""));
        assert!(message(9).contains("`threshold` does not apply to kind no_traffic"));
        assert!(message(10).contains("invalid type"), "{}", message(10));
        assert!(message(11).contains("needs `tier`"));
        assert!(message(12).contains("whole number of minutes"));
        assert!(message(13).contains("needs `quantile`"));
        assert!(message(14).contains("`id` must be"));
        assert!(message(15).contains("cannot disable"));
        assert!(message(16).contains("missing `id`"));
        assert_eq!(errors.len(), 16);
        assert_eq!(errors[0].rule_id.as_deref(), Some("a"));
    }

    #[test]
    fn non_array_overrides_fall_back_to_builtins_with_one_error() {
        for json in [r#"{"id":"x"}"#, "not json"] {
            let (rules, errors) = load_rules(builtin_rules("u"), Some(json));
            assert_eq!(rules, builtin_rules("u"));
            assert_eq!(errors.len(), 1);
            assert!(errors[0].to_string().contains("using the built-in rules"));
        }
    }

    #[test]
    fn windows_cover_rule_and_slo_windows_once() {
        let windows = windows_ms(&builtin_rules("u"));
        let expected = [5, 30, 60, 120, 360, 1_440, 4_320].map(|m| m * MINUTE_MS);
        assert_eq!(windows, expected);
    }

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        let mut buckets = [0; BUCKETS];
        buckets[0] = 50; // (0, 5ms]
        buckets[5] = 50; // (0.1, 0.25]
        assert_eq!(histogram_quantile(0.5, &buckets), Some(0.005));
        let p75 = histogram_quantile(0.75, &buckets).unwrap_or_default();
        assert!((p75 - 0.175).abs() < 1e-12, "{p75}");
        assert_eq!(histogram_quantile(1.0, &buckets), Some(0.25));
        assert_eq!(histogram_quantile(0.25, &buckets), Some(0.0025));
    }

    #[test]
    fn histogram_quantile_in_inf_bucket_returns_highest_bound() {
        let mut buckets = [0; BUCKETS];
        buckets[BUCKETS - 1] = 10;
        assert_eq!(histogram_quantile(0.5, &buckets), Some(10.0));
    }

    #[test]
    fn histogram_quantile_of_nothing_is_none() {
        assert_eq!(histogram_quantile(0.5, &[0; BUCKETS]), None);
        assert_eq!(histogram_quantile(f64::NAN, &[1; BUCKETS]), None);
        assert_eq!(histogram_quantile(1.5, &[1; BUCKETS]), None);
        let mut buckets = [0; BUCKETS];
        buckets[3] = 4;
        assert_eq!(histogram_quantile(0.0, &buckets), Some(0.025));
        assert!(histogram_quantile(0.9, &[u64::MAX; BUCKETS]).is_some());
    }

    #[test]
    fn error_ratio_compares_5xx_share_with_threshold() {
        let rule = builtin("high-error-ratio");
        let high = BTreeMap::from([(rule.window_ms, stats(100, 6))]);
        assert_eq!(
            eval(&rule, &high),
            Ok(Evaluation {
                condition: true,
                value: 0.06
            })
        );
        let low = BTreeMap::from([(rule.window_ms, stats(100, 5))]);
        assert!(!eval(&rule, &low).map(|e| e.condition).unwrap_or(true));
        let idle = BTreeMap::from([(rule.window_ms, stats(0, 0))]);
        assert_eq!(
            eval(&rule, &idle),
            Ok(Evaluation {
                condition: false,
                value: 0.0
            })
        );
    }

    #[test]
    fn missing_window_is_an_error_not_zero() {
        let err = eval(&builtin("high-error-ratio"), &BTreeMap::new()).unwrap_err();
        assert!(err.contains("5m window"), "{err}");
        let err = eval(&builtin("slo-availability-page"), &BTreeMap::new()).unwrap_err();
        assert!(err.contains("window"), "{err}");
    }

    #[test]
    fn latency_quantile_fires_above_threshold_and_not_without_traffic() {
        let rule = builtin("high-latency-p95");
        let mut slow = stats(0, 0);
        slow.buckets[8] = 100; // (1, 2.5]
        let windows = BTreeMap::from([(rule.window_ms, slow)]);
        let result = eval(&rule, &windows).expect("evaluates");
        assert!(result.condition && result.value > 1.0);
        let idle = BTreeMap::from([(rule.window_ms, stats(0, 0))]);
        assert_eq!(
            eval(&rule, &idle),
            Ok(Evaluation {
                condition: false,
                value: 0.0
            })
        );
    }

    #[test]
    fn dependency_down_reads_the_latest_probe() {
        let deps = vec![("d1".to_string(), true), ("kv".to_string(), false)];
        let windows = BTreeMap::new();
        let input = EvalInput {
            now_ms: 0.0,
            windows: &windows,
            dependencies: &deps,
            last_cron_success_ms: None,
        };
        let rule_for = |component: &str| Rule {
            kind: RuleKind::DependencyDown {
                component: component.into(),
            },
            ..builtin("dependency-down")
        };
        let run = |c: &str| evaluate(&rule_for(c), &input, &SloConfig::default());
        assert_eq!(
            run("any"),
            Ok(Evaluation {
                condition: true,
                value: 1.0
            })
        );
        assert_eq!(
            run("kv"),
            Ok(Evaluation {
                condition: true,
                value: 1.0
            })
        );
        assert_eq!(
            run("d1"),
            Ok(Evaluation {
                condition: false,
                value: 0.0
            })
        );
        assert!(run("r2").unwrap_err().contains("no self-probe result"));
    }

    #[test]
    fn cron_stale_measures_seconds_since_last_success() {
        let rule = builtin("cron-stale");
        let windows = BTreeMap::new();
        let at = |last| EvalInput {
            now_ms: 1_000_000.0,
            windows: &windows,
            dependencies: &[],
            last_cron_success_ms: last,
        };
        let run = |last| evaluate(&rule, &at(last), &SloConfig::default());
        assert_eq!(
            run(Some(600_000.0)),
            Ok(Evaluation {
                condition: true,
                value: 400.0
            })
        );
        assert_eq!(
            run(Some(940_000.0)),
            Ok(Evaluation {
                condition: false,
                value: 60.0
            })
        );
        assert_eq!(
            run(None),
            Ok(Evaluation {
                condition: false,
                value: 0.0
            })
        );
    }

    #[test]
    fn no_traffic_holds_only_for_an_empty_window() {
        let rule = Rule {
            kind: RuleKind::NoTraffic,
            ..builtin("high-error-ratio")
        };
        let idle = BTreeMap::from([(rule.window_ms, stats(0, 0))]);
        assert_eq!(
            eval(&rule, &idle),
            Ok(Evaluation {
                condition: true,
                value: 0.0
            })
        );
        let busy = BTreeMap::from([(rule.window_ms, stats(3, 0))]);
        assert_eq!(
            eval(&rule, &busy),
            Ok(Evaluation {
                condition: false,
                value: 3.0
            })
        );
    }
}
