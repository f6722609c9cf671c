//! Each component the page shows, with its own state and 90 days of counts, from the store:
//! services (`STATUS_COMPONENTS` narrows them), public probes and heartbeat monitors, and the
//! dependencies `STATUS_COMPONENTS` names.

use std::collections::BTreeMap;

use super::past_days::{self, Subjects, Totals};
use crate::config::Config;
use crate::store::{Store, StoreResult};
use vigil_core::alerting::slo::SloName;
use vigil_core::alerting::window::WindowStats;
use vigil_core::probes::heartbeats::monitor_status;
use vigil_core::status::build::{day_points, ComponentInput, DayCount, DAYS};
use vigil_core::status::model::{ComponentKind, ComponentState};

pub async fn read(store: &Store, config: &Config, now_ms: f64) -> StoreResult<Vec<ComponentInput>> {
    let points = day_points(now_ms);
    let mut services = store.services_with(&config.service_name).await?;
    services.retain(|s| config.status.shows_service(s));
    let probes: Vec<String> = config
        .probes
        .iter()
        .filter(|p| p.public)
        .map(|p| p.name.clone())
        .collect();
    let monitors = config.heartbeats.iter().filter(|m| m.public);
    let keyed: Vec<String> = monitors
        .clone()
        .map(|m| ComponentKind::Monitor.ledger_key(&m.name))
        .chain(
            config
                .status
                .dependencies
                .iter()
                .map(|d| ComponentKind::Dependency.ledger_key(d.name())),
        )
        .collect();
    let subjects = Subjects {
        services: &services,
        probes: &probes,
        components: &keyed,
    };
    let (states, pings, dependencies, totals) = futures::join!(
        store.probe_states(),
        store.last_pings(),
        store.dependency_statuses(),
        past_days::totals(store, &subjects, &points),
    );
    let (states, pings): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (states?.into_iter().collect(), pings?.into_iter().collect());
    let dependencies = dependencies?;
    let [service_days, probe_days, other_days] = totals?;
    let days = |totals: &Totals, key: &str| daily(totals.get(key), &points, config);

    let mut inputs: Vec<ComponentInput> = services
        .iter()
        .map(|s| ComponentInput {
            name: s.clone(),
            kind: ComponentKind::Service,
            state: ComponentState::Operational,
            days: days(&service_days, s),
        })
        .collect();
    inputs.extend(probes.iter().map(|p| ComponentInput {
        name: p.clone(),
        kind: ComponentKind::Probe,
        state: states.get(p).map(|s| s.status).unwrap_or_default().into(),
        days: days(&probe_days, p),
    }));
    inputs.extend(monitors.map(|m| ComponentInput {
        name: m.name.clone(),
        kind: ComponentKind::Monitor,
        state: monitor_status(m, pings.get(&m.name).copied(), now_ms).into(),
        days: days(&other_days, &ComponentKind::Monitor.ledger_key(&m.name)),
    }));
    inputs.extend(config.status.dependencies.iter().map(|d| {
        let up = dependencies
            .iter()
            .find(|s| s.component == d.name())
            .map(|s| s.up == 1);
        ComponentInput {
            name: d.name().to_string(),
            kind: ComponentKind::Dependency,
            state: match up {
                None => ComponentState::Unknown,
                Some(true) => ComponentState::Operational,
                Some(false) => ComponentState::MajorOutage,
            },
            days: days(&other_days, &ComponentKind::Dependency.ledger_key(d.name())),
        }
    }));
    Ok(inputs)
}

/// Each day's availability events: the differences of the running totals at `points`.
fn daily(
    totals: Option<&BTreeMap<i64, WindowStats>>,
    points: &[i64],
    config: &Config,
) -> Vec<DayCount> {
    let empty = WindowStats::default();
    let at = |minute: &i64| totals.and_then(|t| t.get(minute)).unwrap_or(&empty);
    points
        .windows(2)
        .take(DAYS)
        .map(|pair| {
            let stats = at(&pair[1]).since(at(&pair[0]));
            let (bad, total) = SloName::Availability.events(&stats, &config.slos.defaults);
            DayCount { bad, total }
        })
        .collect()
}
