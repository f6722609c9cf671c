//! Every metric Vigil exposes, by name, built from plain data read out of D1. One place, so
//! names, help texts and label sets stay consistent and promtool-clean.

use std::collections::BTreeMap;

use super::exposition::{Family, Histogram};
use super::metrics::{BUCKETS, BUCKET_BOUNDS_SECONDS};
use crate::build_info;
use crate::store::{DependencyStatus, NotificationCount, RequestTotal};

/// One alert's state, as `vigil_alerts` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSample {
    pub alertname: String,
    pub severity: String,
    pub state: String,
}

/// One SLO's gauges, read from the stored `alerting::slo::SloReport` JSON.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloGauges {
    #[serde(rename = "name")]
    pub slo: String,
    pub objective: f64,
    pub error_budget_remaining: f64,
    /// `(window label, burn rate)`, e.g. `("1h", 2.5)`.
    pub burn_rates: Vec<(String, f64)>,
}

/// Everything `/metrics` shows, as read from D1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub environment: String,
    pub requests: Vec<RequestTotal>,
    pub dependencies: Vec<DependencyStatus>,
    pub cron_last_success_ms: Option<f64>,
    pub flush_batches: u64,
    pub dropped_requests: u64,
    pub alerts: Vec<AlertSample>,
    pub slos: Vec<SloGauges>,
    pub notifications: Vec<NotificationCount>,
}

/// The metric families for a snapshot, in a stable order.
pub fn families(s: &Snapshot) -> Vec<Family> {
    let mut requests = Family::counter(
        "vigil_http_requests",
        "HTTP requests served, by route template, method and status code.",
    );
    let mut durations = Family::histogram(
        "vigil_http_request_duration_seconds",
        "HTTP request duration, by route template and method.",
    )
    .with_unit("seconds");
    // The histogram is per (route, method): the per-code rows are summed.
    let mut per_route: BTreeMap<(&str, &str), ([u64; BUCKETS], f64)> = BTreeMap::new();
    for row in &s.requests {
        requests.push(
            [
                ("route", row.route.clone()),
                ("method", row.method.clone()),
                ("code", row.code.to_string()),
            ],
            row.count as f64,
        );
        let (buckets, sum) = per_route
            .entry((&row.route, &row.method))
            .or_insert(([0; BUCKETS], 0.0));
        for (total, add) in buckets.iter_mut().zip(row.buckets()) {
            *total += add;
        }
        *sum += row.duration_sum;
    }
    for ((route, method), (buckets, sum)) in per_route {
        durations.push_histogram(
            [("route", route.to_string()), ("method", method.to_string())],
            Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &buckets, sum),
        );
    }

    let mut up = Family::gauge(
        "vigil_dependency_up",
        "Whether the last cron self-probe found the dependency healthy (1) or not (0).",
    );
    let mut check_duration = Family::gauge(
        "vigil_dependency_check_duration_seconds",
        "Duration of the last cron self-probe of the dependency.",
    )
    .with_unit("seconds");
    for d in &s.dependencies {
        up.push([("component", d.component.clone())], f64::from(d.up));
        check_duration.push([("component", d.component.clone())], d.duration_ms / 1000.0);
    }

    let mut cron = Family::gauge(
        "vigil_cron_last_success_timestamp_seconds",
        "When the minute cron last completed successfully (Unix time).",
    )
    .with_unit("seconds");
    if let Some(ms) = s.cron_last_success_ms {
        cron.push(Vec::new(), ms / 1000.0);
    }

    let build = Family::gauge("vigil_build_info", "Build of the running worker; always 1.").with(
        [
            ("version", build_info::VERSION.to_string()),
            ("revision", build_info::REVISION.to_string()),
            ("environment", s.environment.clone()),
        ],
        1.0,
    );

    let flushes = Family::counter(
        "vigil_metrics_flush_batches",
        "D1 write batches made by isolates flushing request metrics.",
    )
    .with(Vec::new(), s.flush_batches as f64);
    let dropped = Family::counter(
        "vigil_metrics_dropped_requests",
        "Requests an isolate could not count because its unflushed series hit the cap.",
    )
    .with(Vec::new(), s.dropped_requests as f64);

    let mut alerts = Family::gauge(
        "vigil_alerts",
        "Alert rules by their current state (inactive, pending, firing, resolved); always 1.",
    );
    for a in &s.alerts {
        alerts.push(
            [
                ("alertname", a.alertname.clone()),
                ("severity", a.severity.clone()),
                ("state", a.state.clone()),
            ],
            1.0,
        );
    }

    let mut objective = Family::gauge("vigil_slo_objective_ratio", "SLO objective over 30 days.");
    let mut budget = Family::gauge(
        "vigil_slo_error_budget_remaining_ratio",
        "Share of the 30-day error budget left (negative when overspent).",
    );
    let mut burn = Family::gauge(
        "vigil_slo_burn_rate",
        "Error budget burn rate over a window (1 = spending exactly the budget).",
    );
    for slo in &s.slos {
        objective.push([("slo", slo.slo.clone())], slo.objective);
        budget.push([("slo", slo.slo.clone())], slo.error_budget_remaining);
        for (window, rate) in &slo.burn_rates {
            burn.push(
                [("slo", slo.slo.clone()), ("window", window.clone())],
                *rate,
            );
        }
    }

    let mut notifications = Family::counter(
        "vigil_notifications",
        "Notification delivery attempts, by channel and outcome (success, failure).",
    );
    for n in &s.notifications {
        notifications.push(
            [
                ("channel", n.channel.clone()),
                ("outcome", n.outcome.clone()),
            ],
            n.count as f64,
        );
    }

    vec![
        requests,
        durations,
        up,
        check_duration,
        cron,
        build,
        flushes,
        dropped,
        alerts,
        objective,
        budget,
        burn,
        notifications,
    ]
}
