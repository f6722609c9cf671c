//! Builds the status page from what the store holds: each component's own state, its daily
//! counts, the firing alerts and the maintenance windows.

use crate::alerting::instances::SubjectKind;
use crate::alerting::severity::Severity;
use crate::alerting::state::AlertPhase;
use crate::records::AlertRow;
use crate::silencing::maintenance::Maintenance;
use crate::silencing::Phase;
use crate::time::iso_timestamp;

use super::model::{
    Component, ComponentKind, ComponentState, DayBar, DayState, Incident, Notice, Overall,
    StatusPage,
};

const DAY_MS: f64 = 86_400_000.0;

/// Days of bars on the page (today last).
pub const DAYS: usize = 90;

/// One day's events: how many, and how many bad.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayCount {
    pub bad: u64,
    pub total: u64,
}

impl DayCount {
    fn availability(self) -> Option<f64> {
        (self.total > 0).then(|| 1.0 - self.bad.min(self.total) as f64 / self.total as f64)
    }
}

/// A component as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentInput {
    pub name: String,
    pub kind: ComponentKind,
    /// Its own state (a probe's or monitor's status, a dependency's last check); the page
    /// also weighs its firing alerts and maintenance.
    pub state: ComponentState,
    /// [`DAYS`] days, oldest first, today (so far) last.
    pub days: Vec<DayCount>,
}

/// Everything the page is built from.
pub struct PageInput<'a> {
    pub title: &'a str,
    pub now_ms: f64,
    pub components: Vec<ComponentInput>,
    pub alerts: &'a [AlertRow],
    pub maintenances: &'a [Maintenance],
}

/// The minutes whose running totals bound the page's days: the last minute of each of the
/// [`DAYS`] days before today's, then `now`'s minute. Day `i`'s counts are the difference of
/// points `i + 1` and `i`.
pub fn day_points(now_ms: f64) -> Vec<i64> {
    let today = (now_ms / DAY_MS).floor() as i64;
    let mut points: Vec<i64> = (0..DAYS as i64)
        .map(|back| (today - DAYS as i64 + back + 1) * 1440 - 1)
        .collect();
    points.push((now_ms / 60_000.0).floor() as i64);
    points
}

pub fn build(input: PageInput<'_>) -> StatusPage {
    let now = input.now_ms;
    let components: Vec<Component> = input
        .components
        .iter()
        .map(|c| component(c, input.alerts, input.maintenances, now))
        .collect();
    let incidents = input
        .alerts
        .iter()
        .filter(|row| row.state.phase == AlertPhase::Firing)
        .filter_map(|row| incident(row, &components))
        .collect();
    let maintenances = input
        .maintenances
        .iter()
        .filter_map(|m| {
            let state = match m.phase(now) {
                Phase::Active => "active",
                Phase::Pending => "upcoming",
                Phase::Expired => return None,
            };
            Some(Notice {
                title: m.title.clone(),
                components: m.components.clone(),
                starts_at: iso_timestamp(m.starts_at_ms),
                ends_at: iso_timestamp(m.ends_at_ms),
                state,
            })
        })
        .collect();
    let overall = overall(&components);
    StatusPage {
        title: input.title.to_string(),
        overall: Overall {
            state: overall,
            description: overall.banner(),
        },
        components,
        incidents,
        maintenances,
        updated_at: iso_timestamp(now),
    }
}

fn component(
    input: &ComponentInput,
    alerts: &[AlertRow],
    maintenances: &[Maintenance],
    now_ms: f64,
) -> Component {
    let in_maintenance = maintenances
        .iter()
        .any(|m| m.is_active(now_ms) && m.names(&input.name));
    let from_alerts = alerts
        .iter()
        .filter(|row| row.state.phase == AlertPhase::Firing && about(row, input))
        .map(|row| match row.severity {
            Severity::Page => ComponentState::PartialOutage,
            Severity::Ticket | Severity::Info => ComponentState::Degraded,
        })
        .max();
    let state = if in_maintenance {
        ComponentState::Maintenance
    } else {
        from_alerts.map_or(input.state, |s| s.max(input.state))
    };
    let today = (now_ms / DAY_MS).floor();
    let days = input
        .days
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let day = today - (input.days.len() - 1 - i) as f64;
            let availability = count.availability();
            DayBar {
                date: iso_timestamp(day * DAY_MS)[..10].to_string(),
                availability,
                state: DayState::of(availability),
            }
        })
        .collect();
    Component {
        name: input.name.clone(),
        kind: input.kind,
        state,
        days,
        uptime_30d: uptime(&input.days, 30),
        uptime_90d: uptime(&input.days, DAYS),
    }
}

/// Availability over the last `days` days.
fn uptime(days: &[DayCount], last: usize) -> Option<f64> {
    let sum = days
        .iter()
        .rev()
        .take(last)
        .fold(DayCount::default(), |a, d| DayCount {
            bad: a.bad + d.bad.min(d.total),
            total: a.total + d.total,
        });
    sum.availability()
}

/// Whether an alert instance is about `component` (same kind and name).
fn about(row: &AlertRow, component: &ComponentInput) -> bool {
    let kind = match component.kind {
        ComponentKind::Service => SubjectKind::Service,
        ComponentKind::Probe => SubjectKind::Probe,
        ComponentKind::Monitor => SubjectKind::Monitor,
        ComponentKind::Dependency => return false,
    };
    row.labels.get(kind.label()) == Some(&component.name)
}

/// A firing alert is an incident when it is about a component on the page that is not under
/// maintenance (planned work is not an incident).
fn incident(row: &AlertRow, components: &[Component]) -> Option<Incident> {
    let (kind, name) = SubjectKind::of(&row.labels)?;
    let shown = components.iter().find(|c| {
        c.name == name
            && c.state != ComponentState::Maintenance
            && matches!(
                (kind, c.kind),
                (SubjectKind::Service, ComponentKind::Service)
                    | (SubjectKind::Probe, ComponentKind::Probe)
                    | (SubjectKind::Monitor, ComponentKind::Monitor)
            )
    })?;
    let started = row.state.fired_at_ms.or(row.state.active_since_ms)?;
    Some(Incident {
        component: shown.name.clone(),
        alertname: row.rule_id.clone(),
        severity: row.severity.as_str().into(),
        summary: row
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_else(|| row.rule_id.clone()),
        started_at: iso_timestamp(started),
    })
}

/// The banner: the worst state of the components not under maintenance; a major outage only
/// when every one of them with data is down, else a partial one; maintenance when nothing is
/// wrong but some work is under way.
fn overall(components: &[Component]) -> ComponentState {
    let judged: Vec<ComponentState> = components
        .iter()
        .map(|c| c.state)
        .filter(|s| !matches!(s, ComponentState::Maintenance | ComponentState::Unknown))
        .collect();
    let worst = judged.iter().copied().max();
    match worst {
        Some(ComponentState::MajorOutage)
            if judged.iter().any(|s| *s != ComponentState::MajorOutage) =>
        {
            ComponentState::PartialOutage
        }
        Some(state) if state > ComponentState::Operational => state,
        _ if components
            .iter()
            .any(|c| c.state == ComponentState::Maintenance) =>
        {
            ComponentState::Maintenance
        }
        _ => ComponentState::Operational,
    }
}
