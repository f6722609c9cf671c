//! Alert instances: a rule yields one alert per label set it selects, Prometheus-style. A rule
//! on a service's requests yields one instance per service (`high-error-ratio{service="api"}`),
//! narrowed by its `match`; a rule on the hub itself yields one instance. Each instance has its
//! own state, history and notifications, under its key.

use std::collections::BTreeMap;

use super::rules::Rule;

/// The label that tells instances of a per-service rule apart.
pub const SERVICE_LABEL: &str = "service";

/// One alert instance of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance<'a> {
    pub rule: &'a Rule,
    /// The service whose requests it measures; `None` for a rule on the hub itself.
    pub service: Option<&'a str>,
}

impl Instance<'_> {
    /// The instance's identity: the rule id and its instance labels, as Prometheus writes a
    /// series (`high-error-ratio{service="api"}`); a hub rule's key is its id.
    pub fn key(&self) -> String {
        key(&self.rule.id, self.service)
    }

    /// The labels receivers see: the rule's, then the instance's (which win).
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.rule.labels.clone();
        if let Some(service) = self.service {
            labels.insert(SERVICE_LABEL.into(), service.into());
        }
        labels
    }
}

/// An instance key from its parts (see [`Instance::key`]).
pub fn key(rule_id: &str, service: Option<&str>) -> String {
    match service {
        Some(service) => format!("{rule_id}{{{SERVICE_LABEL}={service:?}}}"),
        None => rule_id.to_string(),
    }
}

/// The instances `rule` yields over the known `services`.
pub fn instances<'a>(rule: &'a Rule, services: &'a [String]) -> Vec<Instance<'a>> {
    if !rule.kind.per_service() {
        return vec![Instance {
            rule,
            service: None,
        }];
    }
    services
        .iter()
        .filter(|service| {
            rule.matchers
                .get(SERVICE_LABEL)
                .is_none_or(|wanted| wanted == *service)
        })
        .map(|service| Instance {
            rule,
            service: Some(service.as_str()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::{builtin_rules, load_rules};

    fn rule(id: &str) -> Rule {
        builtin_rules(None)
            .into_iter()
            .find(|r| r.id == id)
            .expect("built-in rule")
    }

    #[test]
    fn a_service_rule_yields_one_instance_per_service_with_its_label() {
        let services = vec!["api".to_string(), "web".to_string()];
        let rule = rule("high-error-ratio");
        let found = instances(&rule, &services);
        let keys: Vec<String> = found.iter().map(Instance::key).collect();
        assert_eq!(
            keys,
            [
                r#"high-error-ratio{service="api"}"#,
                r#"high-error-ratio{service="web"}"#
            ]
        );
        assert_eq!(found[1].labels()["service"], "web");
    }

    #[test]
    fn a_hub_rule_yields_one_instance_without_labels() {
        let services = vec!["api".to_string()];
        let rule = rule("cron-stale");
        let found = instances(&rule, &services);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key(), "cron-stale");
        assert!(!found[0].labels().contains_key("service"));
    }

    #[test]
    fn match_narrows_a_rule_to_one_service() {
        let (rules, errors) = load_rules(
            Vec::new(),
            Some(
                r#"[{"id": "api-errors", "kind": "error_ratio", "threshold": 0.01,
                    "window": "5m", "severity": "page", "match": {"service": "api"}}]"#,
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let services = vec!["api".to_string(), "web".to_string()];
        let found = instances(&rules[0], &services);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].service, Some("api"));
    }

    #[test]
    fn match_on_other_labels_or_hub_rules_is_refused() {
        let (_, errors) = load_rules(
            Vec::new(),
            Some(
                r#"[{"id": "a", "kind": "error_ratio", "threshold": 0.01, "window": "5m",
                     "severity": "page", "match": {"route": "/x"}},
                    {"id": "b", "kind": "cron_stale", "threshold": 60, "severity": "page",
                     "match": {"service": "api"}}]"#,
            ),
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].message.contains("route"), "{}", errors[0].message);
        assert!(errors[1].message.contains("only"), "{}", errors[1].message);
    }
}
