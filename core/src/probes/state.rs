//! A probe's status over consecutive checks (Gatus' semantics): `failure_threshold` failures
//! in a row make it down, `success_threshold` successes in a row bring it back, so one blip
//! pages nobody.

use serde::{Deserialize, Serialize};

use super::spec::ProbeSpec;
use super::verdict::{CheckResult, Verdict};

/// Where a probe stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeStatus {
    /// Not checked yet, or failing below the threshold since it was added.
    #[default]
    Unknown,
    Up,
    /// Answering correctly but slower than `max_latency`.
    Degraded,
    Down,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Unknown => "unknown",
            ProbeStatus::Up => "up",
            ProbeStatus::Degraded => "degraded",
            ProbeStatus::Down => "down",
        }
    }

    pub fn parse(text: &str) -> ProbeStatus {
        [ProbeStatus::Up, ProbeStatus::Degraded, ProbeStatus::Down]
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or_default()
    }
}

/// A probe's state between checks, with its last check and running check counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeState {
    pub status: ProbeStatus,
    /// Consecutive failed and successful checks up to the last one.
    pub failures: u32,
    pub successes: u32,
    /// When the status last changed.
    pub changed_ms: Option<f64>,
    pub last: Option<LastCheck>,
    /// Checks so far by result: pass, slow, fail.
    pub checks: [u64; 3],
}

/// The latest check, as `/api/probes` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastCheck {
    pub at_ms: f64,
    pub result: CheckResult,
    pub reason: Option<String>,
    pub duration_ms: f64,
    /// The final answer's status, when there was one.
    pub http_status: Option<u16>,
}

/// The state after one more check.
pub fn advance(prev: &ProbeState, spec: &ProbeSpec, check: LastCheck) -> ProbeState {
    let mut next = prev.clone();
    let result = check.result;
    next.checks[CheckResult::ALL
        .iter()
        .position(|&r| r == result)
        .unwrap_or(2)] += 1;
    next.status = if result.succeeded() {
        next.successes = prev.successes.saturating_add(1);
        next.failures = 0;
        let recovering = prev.status == ProbeStatus::Down;
        match result {
            _ if recovering && next.successes < spec.success_threshold => ProbeStatus::Down,
            CheckResult::Slow => ProbeStatus::Degraded,
            _ => ProbeStatus::Up,
        }
    } else {
        next.failures = prev.failures.saturating_add(1);
        next.successes = 0;
        if next.failures >= spec.failure_threshold {
            ProbeStatus::Down
        } else {
            prev.status
        }
    };
    if next.status != prev.status {
        next.changed_ms = Some(check.at_ms);
    }
    next.last = Some(check);
    next
}

/// Whether a check changed what the probe's status row holds (its status, and since when):
/// only then is the row written.
pub fn status_changed(previous: &ProbeState, next: &ProbeState) -> bool {
    previous.status != next.status || previous.changed_ms != next.changed_ms
}

impl LastCheck {
    pub fn new(at_ms: f64, verdict: Verdict, duration_ms: f64, http_status: Option<u16>) -> Self {
        LastCheck {
            at_ms,
            result: verdict.result,
            reason: verdict.reason,
            duration_ms,
            http_status,
        }
    }
}
