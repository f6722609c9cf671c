//! Whether planned maintenance counts against SLOs (`SLO_MAINTENANCE`). When it does not, the
//! minutes a maintenance of a service or probe covered are taken out of that subject's
//! windows: their events count neither as good nor as bad.
//!
//! Windows are differences of running totals kept per minute, so a maintenance is cut out the
//! same way: the totals at the end of its last minute minus those just before its first. It
//! works in whole minutes: the minute a maintenance starts in and the one it ends in are out.

use std::collections::BTreeMap;

use crate::alerting::window::{WindowStats, Windows};
use crate::silencing::maintenance::Maintenance;
use crate::time::MINUTE_MS;

/// The `SLO_MAINTENANCE` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MaintenanceInSlos {
    /// Events during maintenance count like any others (the default: users saw them).
    #[default]
    Counts,
    /// Minutes under maintenance are left out of the subject's SLO windows.
    Excluded,
}

impl MaintenanceInSlos {
    /// `count` or `exclude`, or what is wrong with the value.
    pub fn parse(value: &str) -> Result<MaintenanceInSlos, String> {
        match value.trim() {
            "count" => Ok(MaintenanceInSlos::Counts),
            "exclude" => Ok(MaintenanceInSlos::Excluded),
            other => Err(format!("{other:?} is not one of count, exclude")),
        }
    }
}

/// Minutes under maintenance, as running-total points: the counts of minutes `after + 1`
/// through `through` are `totals(through) − totals(after)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub after: i64,
    pub through: i64,
}

/// The spans `subject` was under maintenance up to `now_minute`, merged, oldest first.
pub fn spans(maintenances: &[Maintenance], subject: &str, now_minute: i64) -> Vec<Span> {
    let mut spans: Vec<Span> = maintenances
        .iter()
        .filter(|m| m.names(subject))
        .map(|m| Span {
            after: (m.starts_at_ms / MINUTE_MS as f64).floor() as i64 - 1,
            // `ends_at_ms` is exclusive: a maintenance ending on a minute boundary leaves
            // that minute in.
            through: ((m.ends_at_ms - 1.0) / MINUTE_MS as f64).floor() as i64,
        })
        .map(|s| Span {
            through: s.through.min(now_minute),
            ..s
        })
        .filter(|s| s.through > s.after)
        .collect();
    spans.sort_by_key(|s| s.after);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.after <= last.through => {
                last.through = last.through.max(span.through)
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// The running-total points the spans need read.
pub fn points(spans: &[Span]) -> Vec<i64> {
    let mut points: Vec<i64> = spans.iter().flat_map(|s| [s.after, s.through]).collect();
    points.sort_unstable();
    points.dedup();
    points
}

/// Takes the spans out of each window ending at `now_minute`. `totals` holds the running
/// totals at the spans' points; a point without totals had none yet (zero).
pub fn exclude(
    windows: &mut Windows,
    now_minute: i64,
    spans: &[Span],
    totals: &BTreeMap<i64, WindowStats>,
) {
    let zero = WindowStats::default();
    let at = |minute: i64| totals.get(&minute).unwrap_or(&zero);
    for (&window_ms, stats) in windows.iter_mut() {
        let window_start = now_minute - (window_ms / MINUTE_MS).max(1) as i64;
        for span in spans {
            let (after, through) = (span.after.max(window_start), span.through);
            if through > after {
                *stats = stats.since(&at(through).since(at(after)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: f64 = MINUTE_MS as f64;

    fn maintenance(components: &[&str], starts_at_ms: f64, ends_at_ms: f64) -> Maintenance {
        Maintenance {
            id: "m".into(),
            title: "planned".into(),
            components: components.iter().map(|c| c.to_string()).collect(),
            starts_at_ms,
            ends_at_ms,
        }
    }

    /// A probe that failed one check every minute from minute 0: totals at each minute.
    fn failing_every_minute(through: i64) -> BTreeMap<i64, WindowStats> {
        (0..=through)
            .map(|m| {
                let n = (m + 1) as u64;
                let stats = WindowStats {
                    probes: n,
                    probes_failed: n,
                    ..WindowStats::default()
                };
                (m, stats)
            })
            .collect()
    }

    #[test]
    fn the_setting_reads_count_or_exclude() {
        assert_eq!(
            MaintenanceInSlos::parse("count"),
            Ok(MaintenanceInSlos::Counts)
        );
        assert_eq!(
            MaintenanceInSlos::parse(" exclude "),
            Ok(MaintenanceInSlos::Excluded)
        );
        let error = MaintenanceInSlos::parse("yes").unwrap_err();
        assert!(error.contains("count, exclude"), "{error}");
        assert_eq!(MaintenanceInSlos::default(), MaintenanceInSlos::Counts);
    }

    #[test]
    fn spans_cover_whole_minutes_of_the_subject_merged_and_up_to_now() {
        let list = [
            maintenance(&["www"], 90.5 * M, 96.0 * M),
            maintenance(&["www", "api"], 94.0 * M, 97.5 * M),
            maintenance(&["api"], 10.0 * M, 20.0 * M),
            maintenance(&["www"], 99.0 * M, 200.0 * M),
            maintenance(&["www"], 150.0 * M, 160.0 * M),
        ];
        let expected = [
            Span {
                after: 89,
                through: 97,
            },
            Span {
                after: 98,
                through: 100,
            },
        ];
        assert_eq!(spans(&list, "www", 100), expected);
        assert_eq!(points(&expected), [89, 97, 98, 100]);
        assert_eq!(spans(&list, "db", 100), []);
    }

    #[test]
    fn excluded_minutes_leave_each_window_they_overlap() {
        let totals = failing_every_minute(100);
        let list = [maintenance(&["www"], 90.5 * M, 96.0 * M)];
        let spans = spans(&list, "www", 100);
        let mut windows: Windows = [5 * MINUTE_MS, 60 * MINUTE_MS, 8 * MINUTE_MS]
            .into_iter()
            .map(|w| {
                let start = 100 - (w / MINUTE_MS) as i64;
                (w, totals[&100].since(&totals[&start]))
            })
            .collect();
        exclude(&mut windows, 100, &spans, &totals);
        // 5m: minutes 96-100, after the maintenance (minutes 90-95).
        assert_eq!(windows[&(5 * MINUTE_MS)].probes, 5);
        // 8m: minutes 93-100, of which 93-95 were under maintenance.
        assert_eq!(windows[&(8 * MINUTE_MS)].probes_failed, 5);
        // 1h: 60 checks, 6 of them under maintenance.
        assert_eq!(windows[&(60 * MINUTE_MS)].probes, 54);
    }

    #[test]
    fn a_maintenance_before_any_totals_removes_what_there_is() {
        let totals = failing_every_minute(10);
        let list = [maintenance(&["www"], 0.0, 60.0 * M)];
        let mut windows: Windows = [(60 * MINUTE_MS, totals[&10].clone())].into();
        exclude(&mut windows, 10, &spans(&list, "www", 10), &totals);
        assert_eq!(windows[&(60 * MINUTE_MS)], WindowStats::default());
    }
}
