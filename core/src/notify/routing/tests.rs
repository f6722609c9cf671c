use super::*;
use crate::config::Secret;
use crate::notify::receivers::Target;

fn receivers() -> Vec<Receiver> {
    ["pager", "slack-critical", "monitoring", "team-api", "slack"]
        .into_iter()
        .map(|name| Receiver {
            name: name.into(),
            target: Target::Slack {
                url: Secret::new("https://hooks.slack.test/x"),
            },
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ROUTES: &str = r#"[
    {"match": {"service": "api"}, "receivers": ["team-api"], "continue": true,
     "group_by": ["service"], "group_interval": "5m"},
    {"match": {"severity": "page"}, "receivers": ["pager", "slack-critical"]},
    {"match_re": {"severity": "ticket|info"}, "receivers": ["monitoring"], "repeat_interval": "1d"}
]"#;

fn names(routing: &Routing, receivers: &[Receiver], l: &BTreeMap<String, String>) -> Vec<String> {
    routing
        .destinations(l, receivers)
        .iter()
        .map(|d| d.receiver.name.clone())
        .collect()
}

#[test]
fn the_first_matching_route_wins_unless_it_continues() {
    let receivers = receivers();
    let (routing, problems) = Routing::parse(Some(ROUTES), None, &receivers, vec!["slack".into()]);
    assert_eq!(problems, vec![]);
    let page = labels(&[("severity", "page"), ("service", "www"), ("alertname", "a")]);
    assert_eq!(
        names(&routing, &receivers, &page),
        ["pager", "slack-critical"]
    );
    let ticket = labels(&[("severity", "ticket"), ("service", "www")]);
    assert_eq!(names(&routing, &receivers, &ticket), ["monitoring"]);
    let api_page = labels(&[("severity", "page"), ("service", "api"), ("alertname", "a")]);
    let destinations = routing.destinations(&api_page, &receivers);
    let got: Vec<&str> = destinations
        .iter()
        .map(|d| d.receiver.name.as_str())
        .collect();
    assert_eq!(got, ["team-api", "pager", "slack-critical"]);
    assert_eq!(destinations[0].group, labels(&[("service", "api")]));
    assert_eq!(destinations[0].timing.group_interval_ms, 300_000.0);
    assert_eq!(
        destinations[1].group,
        labels(&[("alertname", "a"), ("service", "api")])
    );
    // Nothing matches: the default route.
    let none = labels(&[("severity", "none")]);
    assert_eq!(names(&routing, &receivers, &none), ["slack"]);
    let info = routing.destinations(&labels(&[("severity", "info")]), &receivers);
    assert_eq!(info[0].timing.repeat_interval_ms, Some(86_400_000.0));
}

#[test]
fn bad_routes_are_named_and_skipped_so_their_alerts_reach_the_default_route() {
    let receivers = receivers();
    let text = r#"[
        {"match": {"severity": "page"}, "receivers": ["nobody"]},
        {"match_re": {"service": "(api"}, "receivers": ["pager"]},
        {"match": {"severity": "page"}, "receivers": ["pager"], "group_wait": "soon"},
        {"match": {"severity": "page"}, "receivers": ["pager"], "repeat_interval": "10s"},
        {"default": true, "match": {"a": "b"}, "receivers": ["pager"]},
        {"recievers": ["pager"]}
    ]"#;
    let (routing, problems) = Routing::parse(Some(text), None, &receivers, vec!["slack".into()]);
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 6, "{shown:?}");
    assert!(shown[0].starts_with("NOTIFY_ROUTES[0]: receiver \"nobody\" is not defined"));
    assert!(shown[1].starts_with("NOTIFY_ROUTES[1]: match_re \"service\": invalid regex"));
    assert!(shown[2].starts_with("NOTIFY_ROUTES[2]: group_wait: invalid duration \"soon\""));
    assert!(shown[3].contains("repeat_interval: must be at least 1m"));
    assert!(shown[4].contains("the default route matches every alert"));
    assert!(shown[5].contains("unknown field `recievers`"));
    let page = labels(&[("severity", "page")]);
    assert_eq!(names(&routing, &receivers, &page), ["slack"]);

    let (routing, problems) = Routing::parse(Some("{"), None, &receivers, vec!["slack".into()]);
    assert_eq!(problems[0].entry, "NOTIFY_ROUTES");
    assert_eq!(names(&routing, &receivers, &page), ["slack"]);
}

#[test]
fn a_default_entry_replaces_the_default_route_and_empty_receivers_drop_alerts() {
    let receivers = receivers();
    let text = r#"[{"match": {"severity": "info"}, "receivers": []},
                   {"default": true, "receivers": ["monitoring"], "group_by": []}]"#;
    let (routing, problems) = Routing::parse(Some(text), None, &receivers, vec!["slack".into()]);
    assert_eq!(problems, vec![]);
    assert!(names(&routing, &receivers, &labels(&[("severity", "info")])).is_empty());
    let page = routing.destinations(&labels(&[("severity", "page")]), &receivers);
    assert_eq!(page[0].receiver.name, "monitoring");
    assert!(page[0].group.is_empty(), "one group for every alert");
}

#[test]
fn default_grouping_keeps_one_group_per_instance() {
    let receivers = receivers();
    let (routing, _) = Routing::parse(None, None, &receivers, vec!["slack".into()]);
    let probe = labels(&[
        ("alertname", "probe-down"),
        ("probe", "www"),
        ("severity", "page"),
    ]);
    let d = routing.destinations(&probe, &receivers);
    assert_eq!(
        d[0].group,
        labels(&[("alertname", "probe-down"), ("probe", "www")])
    );
    assert_eq!(d[0].timing.group_wait_ms, 0.0);
}
