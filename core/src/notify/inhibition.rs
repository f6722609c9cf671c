//! Inhibition (`INHIBIT_RULES`, Alertmanager's `inhibit_rules` shape): while an alert matching
//! a rule's source matchers fires, alerts matching its target matchers that share the values of
//! its `equal` labels notify nobody. Unset, a page firing for a service mutes that service's
//! tickets; `[]` turns inhibition off.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::receivers::EntryProblem;
use super::routing::matchers;
use crate::silencing::silence::Matcher;

#[derive(Debug, Clone, PartialEq)]
pub struct InhibitRule {
    source: Vec<Matcher>,
    target: Vec<Matcher>,
    equal: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    #[serde(default)]
    source_match: BTreeMap<String, String>,
    #[serde(default)]
    source_match_re: BTreeMap<String, String>,
    #[serde(default)]
    target_match: BTreeMap<String, String>,
    #[serde(default)]
    target_match_re: BTreeMap<String, String>,
    #[serde(default)]
    equal: Vec<String>,
}

/// The rule in force when `INHIBIT_RULES` is unset.
const DEFAULT_RULES: &str = r#"[{"source_match": {"severity": "page"},
    "target_match": {"severity": "ticket"}, "equal": ["service"]}]"#;

/// Parses `INHIBIT_RULES` (the default when `None`); bad entries are skipped into `problems`.
pub(super) fn parse_inhibit_rules(
    text: Option<&str>,
    problems: &mut Vec<EntryProblem>,
) -> Vec<InhibitRule> {
    let entries: Vec<serde_json::Value> = match serde_json::from_str(text.unwrap_or(DEFAULT_RULES))
    {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(EntryProblem {
                entry: "INHIBIT_RULES".into(),
                problem: format!("is not a JSON array of inhibit rules: {e}"),
            });
            return Vec::new();
        }
    };
    let mut rules = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let parsed = serde_json::from_value::<Written>(entry)
            .map_err(|e| e.to_string())
            .and_then(|w| {
                let source = matchers(&w.source_match, &w.source_match_re)
                    .map_err(|e| format!("source_{e}"))?;
                let target = matchers(&w.target_match, &w.target_match_re)
                    .map_err(|e| format!("target_{e}"))?;
                Ok(InhibitRule {
                    source,
                    target,
                    equal: w.equal,
                })
            });
        match parsed {
            Ok(rule) => rules.push(rule),
            Err(problem) => problems.push(EntryProblem {
                entry: format!("INHIBIT_RULES[{i}]"),
                problem,
            }),
        }
    }
    rules
}

/// Whether an alert with `labels` is muted by one of `firing` (the label sets of the alerts
/// firing now). An alert never inhibits itself.
pub fn inhibited(
    rules: &[InhibitRule],
    labels: &BTreeMap<String, String>,
    firing: &[BTreeMap<String, String>],
) -> bool {
    let all = |matchers: &[Matcher], labels| matchers.iter().all(|m| m.matches(labels));
    rules.iter().any(|rule| {
        all(&rule.target, labels)
            && firing.iter().any(|source| {
                source != labels
                    && all(&rule.source, source)
                    && rule.equal.iter().all(|l| source.get(l) == labels.get(l))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn by_default_a_page_mutes_the_tickets_of_its_own_service_only() {
        let rules = parse_inhibit_rules(None, &mut vec![]);
        let page = labels(&[("severity", "page"), ("service", "api"), ("alertname", "a")]);
        let ticket = labels(&[
            ("severity", "ticket"),
            ("service", "api"),
            ("alertname", "b"),
        ]);
        let other = labels(&[
            ("severity", "ticket"),
            ("service", "www"),
            ("alertname", "b"),
        ]);
        assert!(inhibited(&rules, &ticket, std::slice::from_ref(&page)));
        assert!(!inhibited(&rules, &other, std::slice::from_ref(&page)));
        assert!(!inhibited(&rules, &page, std::slice::from_ref(&page)));
        assert!(!inhibited(&rules, &ticket, &[]));
    }

    #[test]
    fn rules_take_regexes_an_empty_list_turns_inhibition_off_and_bad_ones_are_named() {
        let mut problems = vec![];
        let text = r#"[{"source_match_re": {"alertname": "probe-.*"}, "target_match": {"team": "db"}},
            {"source_match_re": {"alertname": "("}}, {"sauce": {}}]"#;
        let rules = parse_inhibit_rules(Some(text), &mut problems);
        assert_eq!(rules.len(), 1);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].entry, "INHIBIT_RULES[1]");
        assert!(problems[0]
            .problem
            .starts_with("source_match_re \"alertname\": invalid regex"));
        let probe = labels(&[("alertname", "probe-down")]);
        assert!(inhibited(
            &rules,
            &labels(&[("team", "db")]),
            std::slice::from_ref(&probe)
        ));
        assert!(parse_inhibit_rules(Some("[]"), &mut problems).is_empty());
    }
}
