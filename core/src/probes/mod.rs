//! Outside-in monitoring: synthetic HTTP probes the cron runs (`PROBES`), and heartbeat
//! monitors that scheduled jobs ping (`HEARTBEATS`). What to check, how to judge an answer,
//! the up/down state over consecutive checks and which probes a run can afford are decided
//! here; the shell only sends the requests and stores the states.

pub mod batch;
pub mod heartbeats;
pub mod ledger;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod verdict;
pub mod views;

#[cfg(test)]
mod tests;

/// Probe and monitor names end up in alert keys, label values and URL paths, so keep them
/// plain.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
