//! Configuration parsing: defaults, ranges, receivers, and secrets kept out of `Debug`.

use super::*;
use crate::notify::receivers::Target;
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
    let receivers = &config.notify.receivers;
    let names: Vec<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["slack", "pagerduty"]);
    assert_eq!(
        receivers[1].target,
        Target::PagerDuty {
            routing_key: Secret::new("rk"),
            events_url: PAGERDUTY_EVENTS_URL.into()
        }
    );
    assert_eq!(config.notify.problems, vec![]);
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
            .slos
            .defaults
            .latency_threshold_seconds,
        0.25
    );
    let err = parse(&[("SLO_LATENCY_THRESHOLD_SECONDS", "0.3")]).unwrap_err();
    assert!(err.problem.contains("histogram bounds"), "{err}");
    let slos = parse(&[("SLOS", r#"{"api": {"availability": 0.99}}"#)])
        .unwrap()
        .slos;
    assert_eq!(slos.for_service("api").availability_objective, 0.99);
    let err = parse(&[("SLOS", r#"{"api": {"availability": 2}}"#)]).unwrap_err();
    assert_eq!(err.variable, "SLOS");
    let excluded = parse(&[("SLO_MAINTENANCE", "exclude")]).unwrap();
    assert_eq!(excluded.maintenance_in_slos, MaintenanceInSlos::Excluded);
    let err = parse(&[("SLO_MAINTENANCE", "no")]).unwrap_err();
    assert_eq!(err.variable, "SLO_MAINTENANCE");
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

#[test]
fn routes_are_templates_per_service_and_errors_name_the_service() {
    let config = parse(&[("ROUTES", r#"{"api": ["/users/:id", "/notes"]}"#)]).unwrap();
    assert_eq!(
        config.routes["api"].matching("/users/7"),
        Some("/users/:id")
    );
    assert!(parse(&[]).unwrap().routes.is_empty());
    let err = parse(&[("ROUTES", r#"{"api": ["users"]}"#)]).unwrap_err();
    assert_eq!(err.variable, "ROUTES");
    assert!(err.problem.contains("\"api\""), "{err}");
    let err = parse(&[("ROUTES", r#"["/users/:id"]"#)]).unwrap_err();
    assert!(err.problem.contains("JSON object"), "{err}");
}

#[test]
fn the_unnamed_tail_service_has_a_default_and_a_bound() {
    assert_eq!(parse(&[]).unwrap().tail_unnamed_service, "unnamed");
    let config = parse(&[("TAIL_UNNAMED_SERVICE", " shop ")]).unwrap();
    assert_eq!(config.tail_unnamed_service, "shop");
    let long = "x".repeat(201);
    let err = parse(&[("TAIL_UNNAMED_SERVICE", long.as_str())]).unwrap_err();
    assert_eq!(err.variable, "TAIL_UNNAMED_SERVICE");
}

#[test]
fn probes_heartbeats_and_the_subrequest_budget_name_their_variable() {
    let config = parse(&[
        (
            "PROBES",
            r#"[{"name": "api", "url": "https://api.example.com/health"}]"#,
        ),
        (
            "HEARTBEATS",
            r#"[{"name": "backup", "period": "1d", "grace": "1h"}]"#,
        ),
        ("SUBREQUEST_BUDGET", "1000"),
    ])
    .unwrap();
    assert_eq!(config.probes[0].name, "api");
    assert_eq!(config.heartbeats[0].grace_ms, 3_600_000);
    assert_eq!(config.subrequest_budget.total, 1000);
    assert_eq!(parse(&[]).unwrap().subrequest_budget.total, 50);
    for (variable, value) in [
        ("PROBES", r#"[{"name": "api"}]"#),
        ("HEARTBEATS", r#"[{"name": "b", "period": "soon"}]"#),
        ("SUBREQUEST_BUDGET", "5"),
    ] {
        let err = parse(&[(variable, value)]).unwrap_err();
        assert_eq!(err.variable, variable, "{err}");
    }
}

#[test]
fn named_receivers_join_the_default_ones_and_bad_routing_never_fails_the_config() {
    let config = parse(&[
        ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack"),
        ("PD_KEY", "rk"),
        (
            "RECEIVERS",
            r#"[{"name": "pager", "type": "pagerduty", "routing_key": "secret:PD_KEY"}]"#,
        ),
        (
            "NOTIFY_ROUTES",
            r#"[{"match": {"severity": "page"}, "receivers": ["pagr"]}]"#,
        ),
        ("INHIBIT_RULES", "nope"),
    ])
    .unwrap();
    let names: Vec<&str> = config
        .notify
        .receivers
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["slack", "pager"]);
    let problems: Vec<String> = config
        .notify
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("INHIBIT_RULES: is not a JSON array"));
    assert!(problems[1].starts_with("NOTIFY_ROUTES[0]: receiver \"pagr\" is not defined"));
}

mod file {
    use crate::config::{problems, ConfigFile, Source, FILE_NAME};

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const PROBE: &str = r#"{"name": "api", "url": "https://api.example.com/health"}"#;

    #[test]
    fn a_section_stands_in_for_its_variable_and_a_set_variable_wins() {
        let file = ConfigFile::parse(&format!(
            r#"{{"probes": [{PROBE}], "heartbeats": [{{"name": "backup", "period": "1d"}}]}}"#
        ))
        .unwrap();
        let config = file
            .parse_config(vars(&[(
                "PROBES",
                r#"[{"name": "web", "url": "https://example.com"}]"#,
            )]))
            .unwrap();
        assert_eq!(config.probes.len(), 1);
        assert_eq!(config.probes[0].name, "web");
        assert_eq!(config.heartbeats[0].name, "backup");
        let sources = file.sources(vars(&[("PROBES", "[]"), ("HEARTBEATS", " ")]));
        assert_eq!(sources[0], ("probes", Source::Variable));
        assert_eq!(sources[1], ("heartbeats", Source::File));
        assert_eq!(sources[2], ("alert_rules", Source::Default));
    }

    #[test]
    fn an_error_in_a_section_names_the_file_and_the_section() {
        let file = ConfigFile::parse(r#"{"probes": [{"name": "api"}]}"#).unwrap();
        let error = file.parse_config(|_| None).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{FILE_NAME}: section \"probes\": ")),
            "{error}"
        );
        // The same entry in the variable names the variable.
        let error = file
            .parse_config(vars(&[("PROBES", r#"[{"name": "api"}]"#)]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("configuration variable PROBES: "),
            "{error}"
        );
    }

    #[test]
    fn a_file_that_is_not_an_object_of_known_sections_is_refused() {
        for (text, expected) in [
            ("[1]", "is not a JSON object"),
            ("{\"probes\": [", "is not a JSON object"),
            ("{\"probe\": []}", "unknown section \"probe\""),
        ] {
            let error = ConfigFile::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        assert!(ConfigFile::parse(r#"{"$schema": "x", "routes": {}}"#).is_ok());
    }

    #[test]
    fn the_check_names_every_bad_entry_past_the_first() {
        let text = r#"{
            "probes": [{"name": "api", "url": "ftp://nope"}],
            "heartbeats": [{"name": "backup", "period": "soon"}],
            "receivers": [{"name": "ops", "type": "webhook", "url": "https://hooks.example.com/x"}],
            "notify_routes": [{"match": {"severity": "page"}, "receivers": ["pager"]}]
        }"#;
        let found = problems(text);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("section \"probes\"") && found[0].contains("api"),
            "{found:#?}"
        );
        assert!(
            found[1].contains("section \"heartbeats\"") && found[1].contains("soon"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("section \"notify_routes\"[0]") && found[2].contains("pager"),
            "{found:#?}"
        );
        assert!(problems(&format!(r#"{{"probes": [{PROBE}]}}"#)).is_empty());
    }
}
