use std::collections::BTreeMap;

use super::badge::{endpoint_json, svg, BadgeKind};
use super::build::{build, day_points, ComponentInput, DayCount, PageInput, DAYS};
use super::html::{percent, render};
use super::model::{ComponentKind, ComponentState, DayState};
use super::StatusConfig;
use crate::alerting::severity::Severity;
use crate::alerting::state::{AlertPhase, AlertState};
use crate::records::AlertRow;
use crate::silencing::maintenance::Maintenance;

const NOW: f64 = 1_800_000_000_000.0; // 2027-01-15T08:00:00Z

fn input(name: &str, kind: ComponentKind, state: ComponentState, bad_today: u64) -> ComponentInput {
    let mut days = vec![DayCount::default(); DAYS];
    days[DAYS - 2] = DayCount {
        bad: 0,
        total: 1440,
    };
    days[DAYS - 1] = DayCount {
        bad: bad_today,
        total: 480,
    };
    ComponentInput {
        name: name.into(),
        kind,
        state,
        days,
    }
}

fn firing(label: &str, name: &str, severity: Severity) -> AlertRow {
    AlertRow {
        alert_key: format!("x{{{label}=\"{name}\"}}"),
        rule_id: "probe-down".into(),
        severity,
        labels: BTreeMap::from([(label.to_string(), name.to_string())]),
        annotations: BTreeMap::from([("summary".to_string(), "<b>down</b>".to_string())]),
        state: AlertState {
            phase: AlertPhase::Firing,
            fired_at_ms: Some(NOW - 60_000.0),
            ..AlertState::default()
        },
    }
}

fn maintenance(components: &[&str]) -> Maintenance {
    Maintenance {
        id: "m1".into(),
        title: "Upgrade & <migrate>".into(),
        components: components.iter().map(|c| c.to_string()).collect(),
        starts_at_ms: NOW - 60_000.0,
        ends_at_ms: NOW + 3_600_000.0,
    }
}

#[test]
fn a_failing_probe_beside_healthy_ones_is_a_partial_outage_with_an_incident() {
    let alerts = [firing("probe", "www", Severity::Page)];
    let maintenances = [maintenance(&["vigil"])];
    let page = build(PageInput {
        title: "Acme",
        now_ms: NOW,
        components: vec![
            input(
                "api",
                ComponentKind::Service,
                ComponentState::Operational,
                0,
            ),
            input(
                "vigil",
                ComponentKind::Service,
                ComponentState::Operational,
                0,
            ),
            input(
                "www",
                ComponentKind::Probe,
                ComponentState::MajorOutage,
                240,
            ),
        ],
        alerts: &alerts,
        maintenances: &maintenances,
    });
    let states: Vec<_> = page.components.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [
            ComponentState::Operational,
            ComponentState::Maintenance,
            ComponentState::MajorOutage
        ]
    );
    assert_eq!(page.overall.state, ComponentState::PartialOutage);
    assert_eq!(page.incidents.len(), 1);
    assert_eq!(page.incidents[0].component, "www");
    assert_eq!(page.maintenances[0].state, "active");
    let www = &page.components[2];
    assert_eq!(www.days.len(), DAYS);
    assert_eq!(www.days[DAYS - 1].date, "2027-01-15");
    assert_eq!(www.days[DAYS - 1].availability, Some(0.5));
    assert_eq!(www.days[DAYS - 1].state, DayState::Outage);
    assert_eq!(www.days[0].state, DayState::NoData);
    assert_eq!(www.uptime_30d, Some(1.0 - 240.0 / 1920.0));
}

#[test]
fn the_banner_says_major_outage_only_when_everything_is_down_and_maintenance_when_all_is_well() {
    let down = |name: &str| input(name, ComponentKind::Probe, ComponentState::MajorOutage, 0);
    let page = |components, maintenances: &[Maintenance]| {
        build(PageInput {
            title: "t",
            now_ms: NOW,
            components,
            alerts: &[],
            maintenances,
        })
        .overall
        .state
    };
    assert_eq!(
        page(vec![down("a"), down("b")], &[]),
        ComponentState::MajorOutage
    );
    let ok = input("c", ComponentKind::Service, ComponentState::Operational, 0);
    assert_eq!(
        page(vec![ok.clone()], &[maintenance(&["x"])]),
        ComponentState::Operational
    );
    assert_eq!(
        page(vec![ok.clone(), down("x")], &[maintenance(&["x"])]),
        ComponentState::Maintenance
    );
    assert_eq!(page(vec![ok], &[]), ComponentState::Operational);
}

#[test]
fn the_html_escapes_every_user_string_and_has_90_bars_with_text_per_component() {
    let alerts = [firing(
        "service",
        "<script>alert(1)</script>",
        Severity::Ticket,
    )];
    let page = build(PageInput {
        title: "<i>Acme</i>",
        now_ms: NOW,
        components: vec![input(
            "<script>alert(1)</script>",
            ComponentKind::Service,
            ComponentState::Operational,
            0,
        )],
        alerts: &alerts,
        maintenances: &[maintenance(&["<img src=x>"])],
    });
    let html = render(&page);
    assert!(!html.contains("<script>"), "unescaped");
    assert!(!html.contains("<img") && !html.contains("<b>") && !html.contains("<i>A"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("<li class=\"bar ").count(), DAYS);
    assert!(html.contains("2027-01-15: 100.00% available, Operational"));
    assert!(
        html.contains("Degraded performance"),
        "a ticket alert degrades"
    );
    assert!(!html.contains("<script"), "no JavaScript at all");
}

#[test]
fn percentages_never_round_up_to_100() {
    assert_eq!(percent(0.99999), "99.99%");
    assert_eq!(percent(1.0), "100.00%");
}

#[test]
fn day_points_bound_90_days_ending_now() {
    let points = day_points(NOW);
    assert_eq!(points.len(), DAYS + 1);
    let minute = (NOW / 60_000.0) as i64;
    assert_eq!(points[DAYS], minute);
    assert_eq!(
        points[DAYS - 1],
        (minute / 1440) * 1440 - 1,
        "end of yesterday"
    );
    assert!(points.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn badges_follow_shields_endpoint_schema_and_escape_names() {
    let page = build(PageInput {
        title: "t",
        now_ms: NOW,
        components: vec![input(
            "a&b",
            ComponentKind::Probe,
            ComponentState::MajorOutage,
            48,
        )],
        alerts: &[],
        maintenances: &[],
    });
    let c = &page.components[0];
    let status = endpoint_json(c, BadgeKind::Status);
    assert_eq!(status["schemaVersion"], 1);
    assert_eq!(status["message"], "major outage");
    assert_eq!(status["color"], "red");
    let uptime = endpoint_json(c, BadgeKind::Uptime);
    assert_eq!(uptime["message"], "97.50%");
    assert!(svg(c, BadgeKind::Status).contains("a&amp;b: major outage"));
}

#[test]
fn status_components_are_checked() {
    let c = StatusConfig::parse(
        Some("Acme"),
        Some(r#"{"services": ["api"], "dependencies": ["d1"]}"#),
    )
    .unwrap();
    assert!(c.shows_service("api") && !c.shows_service("shop"));
    assert_eq!(c.dependencies.len(), 1);
    assert!(StatusConfig::parse(None, None)
        .unwrap()
        .shows_service("any"));
    let err = StatusConfig::parse(None, Some(r#"{"dependencies": ["migrations"]}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"migrations\""), "{err}");
    let err = StatusConfig::parse(None, Some(r#"{"probes": []}"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `probes`"), "{err}");
}
