//! Every metric Vigil exposes, by name, built from plain data read out of D1. One place, so
//! names, help texts and label sets stay consistent and promtool-clean.

use std::collections::BTreeMap;

mod probes;
mod workers;

use super::exposition::{Family, Histogram};
use super::metrics::{BUCKETS, BUCKET_BOUNDS_SECONDS};

use super::counters::PipelineCounters;
use super::limits::{self, InvocationUse};
use crate::alerting::slo::SloReport;
use crate::probes::heartbeats::LastPing;
use crate::probes::state::ProbeState;
use crate::records::{
    ChannelBacklog, DependencyStatus, InvocationTotal, LabelledTotal, NotificationCount,
    QueryTotal, RequestTotal,
};

/// One alert instance's state, as `vigil_alerts` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSample {
    pub alertname: String,
    /// The instance's label (`service`, `probe` or `monitor`) and value; `None` for rules on
    /// the hub itself.
    pub subject: Option<(&'static str, String)>,
    pub severity: String,
    pub state: String,
}

/// Everything `/metrics` shows, as read from D1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub environment: String,
    /// The git revision the worker was built from.
    pub revision: String,
    pub requests: Vec<RequestTotal>,
    /// Embedded applications' D1 statements.
    pub queries: Vec<QueryTotal>,
    /// Tailed workers' invocations, exceptions by name and log lines by level.
    pub invocations: Vec<InvocationTotal>,
    pub exceptions: Vec<LabelledTotal>,
    pub log_lines: Vec<LabelledTotal>,
    pub dependencies: Vec<DependencyStatus>,
    pub cron_last_success_ms: Option<f64>,
    /// What the last cron run used of the per-invocation limits.
    pub cron_last_use: Option<InvocationUse>,
    /// The pipeline's own counters (flushes, aggregator, caps, D1 cost).
    pub counters: PipelineCounters,
    pub alerts: Vec<AlertSample>,
    pub slos: Vec<SloReport>,
    /// Each configured probe's state, and each pinged monitor's last ping.
    pub probes: Vec<(String, ProbeState)>,
    pub heartbeats: Vec<(String, LastPing)>,
    pub notifications: Vec<NotificationCount>,
    /// The outbox per channel, and the time its ages are measured at.
    pub outbox: Vec<ChannelBacklog>,
    pub now_ms: f64,
}

/// The metric families for a snapshot, in a stable order.
pub fn families(s: &Snapshot) -> Vec<Family> {
    [
        requests(s),
        workers::invocations(s),
        queries(s),
        dependencies(s),
        probes::probes(s),
        operations(s),
        store_costs(s),
        alerting(s),
        notifications(s),
    ]
    .concat()
}

/// RED of the HTTP surface: requests by route, method and code; durations by route and method.
fn requests(s: &Snapshot) -> Vec<Family> {
    let mut requests = Family::counter(
        "vigil_http_requests",
        "HTTP requests served, by service, route template, method and status code.",
    );
    let mut durations = Family::histogram(
        "vigil_http_request_duration_seconds",
        "HTTP request duration, by service, route template and method.",
    )
    .with_unit("seconds");
    // The histogram is per (service, route, method): the per-code rows are summed.
    type Route<'a> = (&'a str, &'a str, &'a str);
    let mut per_route: BTreeMap<Route<'_>, ([u64; BUCKETS], f64)> = BTreeMap::new();
    for row in &s.requests {
        requests.push(
            [
                ("service", row.service.clone()),
                ("route", row.route.clone()),
                ("method", row.method.clone()),
                ("code", row.code.to_string()),
            ],
            row.count as f64,
        );
        let (buckets, sum) = per_route
            .entry((&row.service, &row.route, &row.method))
            .or_insert(([0; BUCKETS], 0.0));
        for (total, add) in buckets.iter_mut().zip(row.buckets.counts()) {
            *total += add;
        }
        *sum += row.duration_sum;
    }
    for ((service, route, method), (buckets, sum)) in per_route {
        let labels = [
            ("service", service.to_string()),
            ("route", route.to_string()),
            ("method", method.to_string()),
        ];
        let histogram = Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &buckets, sum);
        durations.push_histogram(labels, histogram);
    }
    vec![requests, durations]
}

/// Embedded applications' D1 statements: by outcome, their latency and the rows D1 billed.
fn queries(s: &Snapshot) -> Vec<Family> {
    let mut queries = Family::counter(
        "vigil_d1_queries",
        "D1 statements run by an application, by service and outcome (ok, error).",
    );
    let mut durations = Family::histogram(
        "vigil_d1_query_duration_seconds",
        "D1 statement duration as the application saw it, by service.",
    )
    .with_unit("seconds");
    let mut read = Family::counter(
        "vigil_d1_rows_read",
        "Rows D1 reported read by an application's statements, by service.",
    );
    let mut written = Family::counter(
        "vigil_d1_rows_written",
        "Rows D1 reported written by an application's statements, by service.",
    );
    // Histogram and rows are per service: the per-outcome rows are summed.
    let mut per_service: BTreeMap<&str, ([u64; BUCKETS], f64, u64, u64)> = BTreeMap::new();
    for row in &s.queries {
        let labels = [
            ("service", row.service.clone()),
            ("outcome", row.outcome.clone()),
        ];
        queries.push(labels, row.count as f64);
        let (buckets, sum, rows_read, rows_written) =
            per_service
                .entry(&row.service)
                .or_insert(([0; BUCKETS], 0.0, 0, 0));
        for (total, add) in buckets.iter_mut().zip(row.buckets.counts()) {
            *total += add;
        }
        *sum += row.duration_sum;
        *rows_read += row.rows_read;
        *rows_written += row.rows_written;
    }
    for (service, (buckets, sum, rows_read, rows_written)) in per_service {
        let labels = [("service", service.to_string())];
        let histogram = Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &buckets, sum);
        durations.push_histogram(labels.clone(), histogram);
        read.push(labels.clone(), rows_read as f64);
        written.push(labels, rows_written as f64);
    }
    vec![queries, durations, read, written]
}

/// The latest self-probe of each dependency.
fn dependencies(s: &Snapshot) -> Vec<Family> {
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
    vec![up, check_duration]
}

/// Vigil's own operation: cron, build, metric flushes.
fn operations(s: &Snapshot) -> Vec<Family> {
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
            ("version", crate::VERSION.to_string()),
            ("revision", s.revision.clone()),
            ("environment", s.environment.clone()),
        ],
        1.0,
    );

    [
        vec![cron, build],
        invocation_use(s.cron_last_use),
        pipeline_counters(&s.counters),
    ]
    .concat()
}

/// What the last cron run used of each per-invocation limit, and the Free plan's limit.
fn invocation_use(last: Option<InvocationUse>) -> Vec<Family> {
    let mut used = Family::gauge(
        "vigil_invocation_use",
        "What the last invocation of an operation used of a per-invocation limit.",
    );
    let mut limit = Family::gauge(
        "vigil_invocation_limit",
        "The Free plan's per-invocation limit (D1 statements, subrequests, connections).",
    );
    for (resource, value, most) in last.unwrap_or_default().resources(&limits::FREE) {
        if last.is_some() {
            let labels = [
                ("operation", "cron".to_string()),
                ("resource", resource.into()),
            ];
            used.push(labels, f64::from(value));
        }
        limit.push([("resource", resource.to_string())], f64::from(most));
    }
    vec![used, limit]
}

/// The metrics pipeline's own counters: flushes, aggregator batches, what the caps dropped.
fn pipeline_counters(c: &PipelineCounters) -> Vec<Family> {
    let plain = [
        (
            "vigil_metrics_flush_batches",
            "D1 write batches made by isolates flushing request metrics.",
            c.flush_batches,
        ),
        (
            "vigil_metrics_dropped_requests",
            "Requests an isolate could not count because its unflushed series hit the cap.",
            c.dropped_requests,
        ),
        (
            "vigil_health_checks",
            "Requests to embedded applications' health endpoints, left out of their RED metrics and SLOs.",
            c.health_checks,
        ),
        (
            "vigil_aggregator_batches",
            "Batches the aggregator merged from isolates (one Durable Object request each).",
            c.aggregator_batches,
        ),
        (
            "vigil_aggregator_batches_recovered",
            "Batches a new aggregator instance found in its storage (after an eviction, deploy or restart) and wrote.",
            c.aggregator_batches_recovered,
        ),
        (
            "vigil_aggregator_batches_unreadable",
            "Stored batches the aggregator could not read back (another version's format) and dropped.",
            c.aggregator_batches_unreadable,
        ),
        (
            "vigil_aggregator_fallbacks",
            "Metric flushes the hub wrote to D1 itself because it has no aggregator binding.",
            c.aggregator_fallbacks,
        ),
        (
            "vigil_tail_invocations_dropped",
            "Tailed invocations an isolate could not count because its unflushed rows hit the cap.",
            c.dropped_invocations,
        ),
        (
            "vigil_tail_items_malformed",
            "Elements of tail batches that were not trace items, skipped.",
            c.malformed_trace_items,
        ),
    ]
    .map(|(name, help, value)| Family::counter(name, help).with(Vec::new(), value as f64));
    let mut folded = Family::counter(
        "vigil_series_folded",
        "Series relabelled route=\"other\" by the per-service route cap, per service and minute.",
    );
    for (service, n) in &c.series_folded {
        folded.push([("service", service.clone())], *n as f64);
    }
    [plain.into(), vec![folded]].concat()
}

/// What Vigil's own D1 use costs, from D1's `rows_read` / `rows_written` of every statement.
fn store_costs(s: &Snapshot) -> Vec<Family> {
    let mut read = Family::counter(
        "vigil_store_rows_read",
        "D1 rows Vigil read (as D1 bills them), by operation.",
    );
    let mut written = Family::counter(
        "vigil_store_rows_written",
        "D1 rows Vigil wrote (as D1 bills them), by operation.",
    );
    for (operation, rows) in &s.counters.store_costs {
        let label = || [("operation", operation.as_str().to_string())];
        read.push(label(), rows.read as f64);
        written.push(label(), rows.written as f64);
    }
    vec![read, written]
}

/// Alert states and SLO standings.
fn alerting(s: &Snapshot) -> Vec<Family> {
    let mut alerts = Family::gauge(
        "vigil_alerts",
        "Alert instances by their current state (inactive, pending, firing, resolved); always 1.",
    );
    for a in &s.alerts {
        let mut labels = vec![
            ("alertname", a.alertname.clone()),
            ("severity", a.severity.clone()),
            ("state", a.state.clone()),
        ];
        labels.extend(a.subject.clone());
        alerts.push(labels, 1.0);
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
        let name = || ("slo", slo.name.as_str().to_string());
        let service = || match &slo.probe {
            Some(probe) => ("probe", probe.clone()),
            None => ("service", slo.service.clone()),
        };
        objective.push([name(), service()], slo.objective);
        budget.push([name(), service()], slo.error_budget_remaining);
        for (window, rate) in &slo.burn_rates {
            burn.push([name(), service(), ("window", window.clone())], *rate);
        }
    }
    vec![alerts, objective, budget, burn]
}

/// Delivery attempts, and the outbox that waits: what is stuck, for how long, what is dead.
fn notifications(s: &Snapshot) -> Vec<Family> {
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

    let mut pending = Family::gauge(
        "vigil_notifications_pending",
        "Notifications waiting for delivery (retrying or not yet sent), by channel.",
    );
    let mut oldest = Family::gauge(
        "vigil_notifications_oldest_pending_age_seconds",
        "Age of the oldest notification waiting for delivery, by channel (0 when none waits).",
    )
    .with_unit("seconds");
    let mut dead = Family::gauge(
        "vigil_notifications_dead_letter",
        "Notifications given up on after a permanent failure, kept for review, by channel.",
    );
    for b in &s.outbox {
        let channel = || [("channel", b.channel.clone())];
        pending.push(channel(), b.pending as f64);
        let age_ms = b.oldest_created_ms.map_or(0.0, |t| (s.now_ms - t).max(0.0));
        oldest.push(channel(), age_ms / 1000.0);
        dead.push(channel(), b.dead as f64);
    }
    vec![notifications, pending, oldest, dead]
}
