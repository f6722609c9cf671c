//! `ALERT_RULES`: operator overrides merged into the built-in rules. A bad entry is reported and
//! skipped so one typo never silences the other alerts.

use std::fmt;

use serde_json::Value;

use super::{Rule, RuleKind};

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

/// What one entry asks for.
enum Entry {
    Disable(String),
    Define(Rule),
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
                vec![whole_value_error("is not a JSON array of rules")],
            )
        }
        Err(e) => {
            return (
                builtin,
                vec![whole_value_error(&format!("is not valid JSON: {e}"))],
            )
        }
    };
    let mut rules = builtin;
    let mut errors = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let rule_id = entry.get("id").and_then(Value::as_str).map(str::to_owned);
        let error = |message: String| RuleError {
            rule_id: rule_id.clone(),
            index,
            message,
        };
        let parsed = match &rule_id {
            Some(id) if seen.contains(id) => {
                Err("duplicate id in ALERT_RULES; the first entry wins".into())
            }
            _ => parse_entry(entry),
        };
        if let Some(id) = &rule_id {
            seen.push(id.clone());
        }
        let applied = parsed.and_then(|entry| apply(&mut rules, entry));
        if let Err(message) = applied {
            errors.push(error(message));
        }
    }
    (rules, errors)
}

fn apply(rules: &mut Vec<Rule>, entry: Entry) -> Result<(), String> {
    match entry {
        Entry::Disable(id) => {
            let at = rules
                .iter()
                .position(|r| r.id == id)
                .ok_or("cannot disable: no built-in rule has this id")?;
            rules.remove(at);
        }
        Entry::Define(rule) => match rules.iter().position(|r| r.id == rule.id) {
            Some(at) => rules[at] = rule,
            None => rules.push(rule),
        },
    }
    Ok(())
}

fn parse_entry(mut entry: Value) -> Result<Entry, String> {
    let Some(fields) = entry.as_object_mut() else {
        return Err("missing `id`: each rule must be an object with a string `id`".into());
    };
    let id = match fields.get("id") {
        Some(Value::String(id)) if valid_id(id) => id.clone(),
        Some(Value::String(_)) => {
            return Err("`id` must be 1-128 characters of A-Z a-z 0-9 . _ -".into())
        }
        _ => return Err("missing `id`: each rule must be an object with a string `id`".into()),
    };
    match fields.remove("disabled") {
        Some(Value::Bool(true)) => return Ok(Entry::Disable(id)),
        None | Some(Value::Bool(false)) => {}
        Some(_) => return Err("`disabled` must be true or false".into()),
    }
    let rule: Rule = serde_json::from_value(entry).map_err(|e| e.to_string())?;
    validate(&rule)?;
    Ok(Entry::Define(rule))
}

fn whole_value_error(why: &str) -> RuleError {
    RuleError {
        rule_id: None,
        index: 0,
        message: format!("ALERT_RULES {why}; using the built-in rules"),
    }
}

/// What serde cannot say about a rule: ranges, finiteness and label names.
fn validate(rule: &Rule) -> Result<(), String> {
    let finite = |t: f64| {
        if t.is_finite() {
            Ok(())
        } else {
            Err(format!("`threshold` must be a finite number, got {t}"))
        }
    };
    match rule.kind {
        RuleKind::LatencyQuantile { quantile, .. } if !(quantile > 0.0 && quantile < 1.0) => {
            return Err(format!(
                "`quantile` must be between 0 and 1 (exclusive), got {quantile}"
            ))
        }
        RuleKind::ErrorRatio { threshold, .. }
        | RuleKind::LatencyQuantile { threshold, .. }
        | RuleKind::CronStale { threshold } => finite(threshold)?,
        _ => {}
    }
    let scopes = rule.kind.scopes();
    if !rule.matchers.is_empty() && scopes.is_empty() {
        return Err(
            "`match` applies only to rules with one instance per service, probe or monitor".into(),
        );
    }
    if let Some(name) = rule
        .matchers
        .keys()
        .find(|name| !scopes.iter().any(|kind| kind.label() == name.as_str()))
    {
        let labels: Vec<&str> = scopes.iter().map(|kind| kind.label()).collect();
        return Err(format!(
            "`match` on label {name:?} is not supported (this rule selects by {})",
            labels.join(" or ")
        ));
    }
    // Alertmanager rejects a whole POST over one bad label name, so check them here.
    if let Some(bad) = rule.labels.keys().find(|name| !valid_label_name(name)) {
        return Err(format!(
            "label name {bad:?} is not valid (use [a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    Ok(())
}

/// Ids end up in runbook URLs, label values and D1 keys, so keep them plain.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::{builtin_rules, DependencySelector, Duration, Window, BUILTIN_RULES_JSON};
    use super::*;
    use crate::alerting::slo::{SloName, SloTier};
    use crate::health::checks::Check;
    use crate::time::MINUTE_MS;

    #[test]
    fn builtins_load_without_errors() {
        let (rules, errors) = load_rules(Vec::new(), Some(BUILTIN_RULES_JSON));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 11);
    }

    #[test]
    fn no_overrides_means_builtins_only() {
        for json in [None, Some(""), Some("  ")] {
            let (rules, errors) = load_rules(builtin_rules(None), json);
            assert_eq!(rules, builtin_rules(None));
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
        let (rules, errors) = load_rules(builtin_rules(None), Some(json));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 11);
        assert_eq!(rules[0].id, "high-error-ratio");
        assert_eq!(
            rules[0].kind,
            RuleKind::ErrorRatio {
                threshold: 0.1,
                window: Window(10 * MINUTE_MS)
            }
        );
        assert_eq!(rules[0].for_, Duration(MINUTE_MS));
        assert_eq!(rules[0].keep_firing_for, Duration(0));
        assert_eq!(rules[0].labels.get("team").map(String::as_str), Some("api"));
        assert!(!rules.iter().any(|r| r.id == "cron-stale"));
        let quiet = rules.last().expect("appended");
        assert_eq!(quiet.id, "quiet");
        assert_eq!(
            quiet.kind,
            RuleKind::NoTraffic {
                window: Window(15 * MINUTE_MS)
            }
        );
        let (_, errors) = load_rules(
            Vec::new(),
            Some(
                r#"[{"id":"x","kind":"no_traffic","window":"5m","severity":"info","labels":{"bad-name":"v"}}]"#,
            ),
        );
        assert!(errors[0].message.contains("bad-name"), "{}", errors[0]);
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
        assert_eq!(
            rules[0].kind,
            RuleKind::LatencyQuantile {
                quantile: 0.99,
                threshold: 2.0,
                window: Window(5 * MINUTE_MS)
            }
        );
        assert_eq!(
            rules[1].kind,
            RuleKind::DependencyDown {
                component: DependencySelector::One(Check::Kv)
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
            7,
            {"id":"l","severity":"page"}
        ]"#;
        let (rules, errors) = load_rules(Vec::new(), Some(json));
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].kind,
            RuleKind::NoTraffic {
                window: Window(5 * MINUTE_MS)
            },
            "first of a duplicate id wins"
        );
        let message = |index: usize| {
            let found = errors.iter().find(|e| e.index == index);
            found.map(ToString::to_string).unwrap_or_default()
        };
        let expect = |index: usize, part: &str| {
            assert!(message(index).contains(part), "{index}: {}", message(index));
        };
        expect(0, "unknown variant `nope`");
        assert!(message(1).starts_with("ALERT_RULES[1] (b): invalid duration \"5x\""));
        expect(2, "between 0 and 1");
        expect(3, "missing `id`");
        expect(
            4,
            "unknown variant `critical`, expected one of `page`, `ticket`, `info`",
        );
        expect(6, "duplicate id");
        expect(7, "unknown field `treshold`");
        expect(8, "unknown component \"s3\"");
        expect(9, "unknown field `threshold`");
        expect(10, "invalid type");
        expect(11, "missing field `tier`");
        expect(12, "whole number of minutes");
        expect(13, "missing field `quantile`");
        expect(14, "`id` must be");
        expect(15, "cannot disable");
        expect(16, "missing `id`");
        expect(17, "missing field `kind`");
        assert_eq!(errors.len(), 17);
        assert_eq!(errors[0].rule_id.as_deref(), Some("a"));
    }

    #[test]
    fn non_array_overrides_fall_back_to_builtins_with_one_error() {
        for json in [r#"{"id":"x"}"#, "not json"] {
            let (rules, errors) = load_rules(builtin_rules(None), Some(json));
            assert_eq!(rules, builtin_rules(None));
            assert_eq!(errors.len(), 1);
            assert!(errors[0].to_string().contains("using the built-in rules"));
        }
    }
}
