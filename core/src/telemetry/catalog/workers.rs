//! The families of tailed workers: invocations, CPU and wall time, exceptions, log lines.

use std::collections::BTreeMap;

use super::{Family, Histogram, Snapshot};
use crate::records::LabelledTotal;
use crate::telemetry::metrics::{BUCKETS, BUCKET_BOUNDS_SECONDS};

/// Tailed workers: invocations by event and outcome, CPU and wall time by event, exceptions
/// by name, log lines by level.
pub(super) fn invocations(s: &Snapshot) -> Vec<Family> {
    let mut invocations = Family::counter(
        "vigil_worker_invocations",
        "Invocations of a tailed worker, by service, event type and outcome.",
    );
    let mut cpu = Family::histogram(
        "vigil_worker_cpu_time_seconds",
        "CPU time of a tailed worker's invocations, by service and event type.",
    )
    .with_unit("seconds");
    let mut wall = Family::histogram(
        "vigil_worker_wall_time_seconds",
        "Wall time of a tailed worker's invocations, by service and event type.",
    )
    .with_unit("seconds");
    // The histograms are per (service, event): the per-outcome rows are summed.
    type Times = ([u64; BUCKETS], f64, [u64; BUCKETS], f64);
    let mut per_event: BTreeMap<(&str, &str), Times> = BTreeMap::new();
    for row in &s.invocations {
        let labels = [
            ("service", row.service.clone()),
            ("event", row.event.clone()),
            ("outcome", row.outcome.clone()),
        ];
        invocations.push(labels, row.count as f64);
        let (cpu_buckets, cpu_sum, wall_buckets, wall_sum) = per_event
            .entry((&row.service, &row.event))
            .or_insert(([0; BUCKETS], 0.0, [0; BUCKETS], 0.0));
        for (total, add) in cpu_buckets.iter_mut().zip(row.cpu.counts()) {
            *total += add;
        }
        for (total, add) in wall_buckets.iter_mut().zip(row.wall.counts()) {
            *total += add;
        }
        *cpu_sum += row.cpu_sum;
        *wall_sum += row.wall_sum;
    }
    for ((service, event), (cpu_buckets, cpu_sum, wall_buckets, wall_sum)) in per_event {
        let labels = [
            ("service", service.to_string()),
            ("event", event.to_string()),
        ];
        let histogram = Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &cpu_buckets, cpu_sum);
        cpu.push_histogram(labels.clone(), histogram);
        let histogram = Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &wall_buckets, wall_sum);
        wall.push_histogram(labels, histogram);
    }
    let exceptions = labelled(
        "vigil_worker_exceptions",
        "Uncaught exceptions of a tailed worker, by service and exception name.",
        "name",
        &s.exceptions,
    );
    let logs = labelled(
        "vigil_worker_log_lines",
        "Log lines a tailed worker wrote, by service and console level.",
        "level",
        &s.log_lines,
    );
    vec![invocations, cpu, wall, exceptions, logs]
}

/// A counter family of running counts per service and one more label.
fn labelled(
    name: &'static str,
    help: &'static str,
    label: &'static str,
    rows: &[LabelledTotal],
) -> Family {
    let mut family = Family::counter(name, help);
    for row in rows {
        let labels = [("service", row.service.clone()), (label, row.label.clone())];
        family.push(labels, row.count as f64);
    }
    family
}
