//! `SLO_MAINTENANCE=exclude`: the minutes each service and probe spent under maintenance in
//! the last 30 days are taken out of its windows before rules and SLOs read them. Costs one
//! read of the maintenance table, plus, per ledger with a subject under maintenance, one
//! statement reading two rows per subject and span boundary.

use std::collections::BTreeMap;

use super::slo::maintenance::{exclude, points, spans, Span};
use super::slo::BUDGET_WINDOW_MS;
use super::window::Windows;
use crate::store::{Ledger, Store, StoreError, PROBES, SERVICES};
use vigil_core::silencing::maintenance::Maintenance;

/// Leaves maintenance out of the services' and probes' windows ending at `now_ms`.
pub async fn leave_out(
    store: &Store,
    now_ms: f64,
    services: &mut BTreeMap<String, Windows>,
    probes: &mut BTreeMap<String, Windows>,
) -> Result<(), StoreError> {
    let maintenances = store.maintenances(now_ms - BUDGET_WINDOW_MS as f64).await?;
    if maintenances.is_empty() {
        return Ok(());
    }
    let now_minute = (now_ms / 60_000.0).floor() as i64;
    let (from_services, from_probes) = futures::join!(
        leave_out_of(store, &SERVICES, services, &maintenances, now_minute),
        leave_out_of(store, &PROBES, probes, &maintenances, now_minute),
    );
    from_services.and(from_probes)
}

async fn leave_out_of(
    store: &Store,
    ledger: &Ledger,
    windows: &mut BTreeMap<String, Windows>,
    maintenances: &[Maintenance],
    now_minute: i64,
) -> Result<(), StoreError> {
    let spans: BTreeMap<String, Vec<Span>> = windows
        .keys()
        .map(|subject| (subject.clone(), spans(maintenances, subject, now_minute)))
        .filter(|(_, spans)| !spans.is_empty())
        .collect();
    if spans.is_empty() {
        return Ok(());
    }
    let subjects: Vec<String> = spans.keys().cloned().collect();
    let mut all_points: Vec<i64> = spans.values().flat_map(|s| points(s)).collect();
    all_points.sort_unstable();
    all_points.dedup();
    let totals = store
        .totals_at_minutes(ledger, &subjects, &all_points, Some(now_minute))
        .await?;
    let none = BTreeMap::new();
    for (subject, spans) in &spans {
        if let Some(subject_windows) = windows.get_mut(subject) {
            let at = totals.get(subject).unwrap_or(&none);
            exclude(subject_windows, now_minute, spans, at);
        }
    }
    Ok(())
}
