//! Which probes a cron run checks, within the run's subrequest budget.
//!
//! A worker invocation may make a bounded number of subrequests (50 on the Free plan), and the
//! cron's notification deliveries need some too. Probes get what is left after a reserve; the
//! due probes beyond that wait for the next minute, most overdue first, so every probe still
//! runs, just later, and the wait shows as deferrals.

use super::spec::ProbeSpec;

/// Subrequests the cron keeps for itself (the aggregator flush) whatever else runs.
pub const CRON_OWN_SUBREQUESTS: u32 = 2;
/// Subrequests always left to notification deliveries, however many probes are due.
pub const NOTIFICATION_FLOOR: u32 = 8;
/// A probe whose interval is this close to having passed counts as due: cron runs jitter.
const DUE_SLACK_MS: f64 = 10_000.0;

/// How one run's subrequests are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubrequestBudget {
    pub total: u32,
}

impl SubrequestBudget {
    /// The most subrequests probes may use (first requests and redirect hops).
    pub fn for_probes(self) -> u32 {
        self.total
            .saturating_sub(CRON_OWN_SUBREQUESTS + NOTIFICATION_FLOOR)
    }

    /// What deliveries may use once probes used `probes_used`.
    pub fn for_notifications(self, probes_used: u32) -> u32 {
        self.total
            .saturating_sub(CRON_OWN_SUBREQUESTS)
            .saturating_sub(probes_used)
    }
}

/// The due probes this run checks, and those that wait for a later run (indices into specs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    pub run: Vec<usize>,
    pub deferred: Vec<usize>,
}

/// Picks the due probes at `now_ms` given each one's last check (`last_run(name)`), at most
/// `capacity` of them: never-checked first, then the longest waiting.
pub fn schedule(
    specs: &[ProbeSpec],
    last_run: impl Fn(&str) -> Option<f64>,
    now_ms: f64,
    capacity: u32,
) -> Schedule {
    let mut due: Vec<(f64, usize)> = specs
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| match last_run(&spec.name) {
            None => Some((f64::NEG_INFINITY, i)),
            Some(at) if now_ms - at + DUE_SLACK_MS >= spec.interval_ms as f64 => Some((at, i)),
            Some(_) => None,
        })
        .collect();
    due.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let capacity = capacity as usize;
    let deferred = due.split_off(capacity.min(due.len()));
    Schedule {
        run: due.into_iter().map(|(_, i)| i).collect(),
        deferred: deferred.into_iter().map(|(_, i)| i).collect(),
    }
}
