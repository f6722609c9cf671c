//! Alert instances: a rule yields one alert per label set it selects, Prometheus-style. A rule
//! on a service's requests yields one instance per service (`high-error-ratio{service="api"}`),
//! a probe rule one per probe (`probe-down{probe="www"}`), a heartbeat rule one per monitor,
//! narrowed by its `match`; a rule on the hub itself yields one instance. Each instance has its
//! own state, history and notifications, under its key.

use std::collections::BTreeMap;

use super::rules::Rule;

/// The label that tells instances of a per-service rule apart.
pub const SERVICE_LABEL: &str = "service";

/// What an instance is about, beside the hub itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubjectKind {
    Service,
    Probe,
    Monitor,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 3] = [
        SubjectKind::Service,
        SubjectKind::Probe,
        SubjectKind::Monitor,
    ];

    /// The subject an instance's labels name, if any (the inverse of [`Instance::labels`]).
    pub fn of(labels: &BTreeMap<String, String>) -> Option<(SubjectKind, &str)> {
        Self::ALL
            .into_iter()
            .find_map(|kind| Some((kind, labels.get(kind.label())?.as_str())))
    }

    /// The instance label that carries the subject's name.
    pub fn label(self) -> &'static str {
        match self {
            SubjectKind::Service => SERVICE_LABEL,
            SubjectKind::Probe => "probe",
            SubjectKind::Monitor => "monitor",
        }
    }
}

/// The known subjects of each kind: stored services, configured probes and monitors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subjects<'a> {
    pub services: &'a [String],
    pub probes: &'a [String],
    pub monitors: &'a [String],
}

impl<'a> Subjects<'a> {
    fn of(&self, kind: SubjectKind) -> &'a [String] {
        match kind {
            SubjectKind::Service => self.services,
            SubjectKind::Probe => self.probes,
            SubjectKind::Monitor => self.monitors,
        }
    }
}

/// One alert instance of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance<'a> {
    pub rule: &'a Rule,
    /// The service, probe or monitor it measures; `None` for a rule on the hub itself.
    pub subject: Option<(SubjectKind, &'a str)>,
}

impl Instance<'_> {
    /// The instance's identity: the rule id and its instance label, as Prometheus writes a
    /// series (`high-error-ratio{service="api"}`); a hub rule's key is its id.
    pub fn key(&self) -> String {
        match self.subject {
            Some((kind, name)) => format!("{}{{{}={name:?}}}", self.rule.id, kind.label()),
            None => self.rule.id.clone(),
        }
    }

    /// The labels receivers see: the rule's, then the instance's (which win).
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.rule.labels.clone();
        if let Some((kind, name)) = self.subject {
            labels.insert(kind.label().into(), name.into());
        }
        labels
    }

    /// The service it measures, if it measures one.
    pub fn service(&self) -> Option<&str> {
        match self.subject {
            Some((SubjectKind::Service, name)) => Some(name),
            _ => None,
        }
    }
}

/// The instances `rule` yields over the known subjects. A `match` selects like a Prometheus
/// matcher: an instance without the label has it empty, so `{"service": "api"}` leaves out
/// every probe.
pub fn instances<'a>(rule: &'a Rule, subjects: &Subjects<'a>) -> Vec<Instance<'a>> {
    let scopes = rule.kind.scopes();
    if scopes.is_empty() {
        return vec![Instance {
            rule,
            subject: None,
        }];
    }
    scopes
        .iter()
        .flat_map(|&kind| {
            subjects
                .of(kind)
                .iter()
                .map(move |name| (kind, name.as_str()))
        })
        .filter(|(kind, name)| {
            rule.matchers.iter().all(|(label, wanted)| {
                let value = if label == kind.label() { *name } else { "" };
                value == wanted
            })
        })
        .map(|subject| Instance {
            rule,
            subject: Some(subject),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::{builtin_rules, load_rules};

    fn on(services: &[String]) -> Subjects<'_> {
        Subjects {
            services,
            ..Subjects::default()
        }
    }

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
        let found = instances(&rule, &on(&services));
        let keys: Vec<String> = found.iter().map(Instance::key).collect();
        assert_eq!(
            keys,
            [
                r#"high-error-ratio{service="api"}"#,
                r#"high-error-ratio{service="web"}"#
            ]
        );
        assert_eq!(found[1].labels()["service"], "web");
        let labels = found[1].labels();
        assert_eq!(
            SubjectKind::of(&labels),
            Some((SubjectKind::Service, "web"))
        );
    }

    #[test]
    fn a_hub_rule_yields_one_instance_without_labels() {
        let services = vec!["api".to_string()];
        let rule = rule("cron-stale");
        let found = instances(&rule, &on(&services));
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
        let found = instances(&rules[0], &on(&services));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].service(), Some("api"));
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

    #[test]
    fn probe_and_monitor_rules_yield_one_instance_each_and_availability_covers_probes() {
        let services = vec!["api".to_string()];
        let probes = vec!["www".to_string()];
        let monitors = vec!["backup".to_string()];
        let subjects = Subjects {
            services: &services,
            probes: &probes,
            monitors: &monitors,
        };
        let keys = |id: &str| -> Vec<String> {
            instances(&rule(id), &subjects)
                .iter()
                .map(Instance::key)
                .collect()
        };
        assert_eq!(keys("probe-down"), [r#"probe-down{probe="www"}"#]);
        assert_eq!(
            keys("heartbeat-missed"),
            [r#"heartbeat-missed{monitor="backup"}"#]
        );
        assert_eq!(
            keys("slo-availability-page"),
            [
                r#"slo-availability-page{service="api"}"#,
                r#"slo-availability-page{probe="www"}"#
            ]
        );
        assert_eq!(
            keys("slo-latency-page"),
            [r#"slo-latency-page{service="api"}"#]
        );
        let (rules, errors) = load_rules(
            Vec::new(),
            Some(
                r#"[{"id": "www-only", "kind": "slo_burn_rate", "slo": "availability",
                      "tier": "page", "severity": "page", "match": {"probe": "www"}}]"#,
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let found = instances(&rules[0], &subjects);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].labels()["probe"], "www");
    }
}
