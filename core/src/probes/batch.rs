//! Probe batches: a cron run's checks split across invocations of the hub's jobs
//! entrypoint, so that every invocation fits the Free plan's 10 ms of CPU (a check costs about
//! half a millisecond of it, measured in `bench/cpu.py`).

use serde::{Deserialize, Serialize};

use super::state::LastCheck;
use super::verdict::{CheckResult, Verdict};

/// Checks one invocation runs; a run with no more than this checks them itself.
pub const PROBES_PER_INVOCATION: usize = 8;

/// What one batch invocation is asked to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// Probe names, as configured (the batch runs the same version, so the same probes).
    pub probes: Vec<String>,
    /// Redirect hops the batch may follow beyond one request per probe.
    pub hops: u32,
}

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    Done {
        result: CheckResult,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        duration_ms: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
    },
    /// A redirect hop found the budget spent: checked again next run.
    Deferred,
}

impl Outcome {
    pub fn done(verdict: Verdict, duration_ms: f64, http_status: Option<u16>) -> Outcome {
        Outcome::Done {
            result: verdict.result,
            reason: verdict.reason,
            duration_ms,
            http_status,
        }
    }

    /// The check as the probe's state records it, or `None` when it was deferred.
    pub fn last_check(self, at_ms: f64) -> Option<LastCheck> {
        match self {
            Outcome::Done {
                result,
                reason,
                duration_ms,
                http_status,
            } => Some(LastCheck::new(
                at_ms,
                Verdict { result, reason },
                duration_ms,
                http_status,
            )),
            Outcome::Deferred => None,
        }
    }
}

/// What a batch invocation answers: each probe's outcome and the hops it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReply {
    pub checks: Vec<(String, Outcome)>,
    pub hops_used: u32,
}

/// `probes` in batches of at most [`PROBES_PER_INVOCATION`], as even as they can be, with the
/// spare redirect hops shared out (the first batches get the remainder).
pub fn batches(probes: Vec<String>, hops: u32) -> Vec<BatchRequest> {
    let count = probes.len().div_ceil(PROBES_PER_INVOCATION).max(1);
    let (size, longer) = (probes.len() / count, probes.len() % count);
    let mut rest = probes.into_iter();
    (0..count)
        .map(|i| BatchRequest {
            probes: rest.by_ref().take(size + usize::from(i < longer)).collect(),
            hops: hops / count as u32 + u32::from((i as u32) < hops % count as u32),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("p{i}")).collect()
    }

    #[test]
    fn forty_probes_make_five_batches_of_eight_sharing_the_hops() {
        let split = batches(names(40), 7);
        assert_eq!(split.len(), 5);
        assert!(split.iter().all(|b| b.probes.len() == 8));
        let hops: Vec<u32> = split.iter().map(|b| b.hops).collect();
        assert_eq!(hops, [2, 2, 1, 1, 1]);
        let all: Vec<String> = split.into_iter().flat_map(|b| b.probes).collect();
        assert_eq!(all, names(40));
    }

    #[test]
    fn batches_are_as_even_as_they_can_be() {
        let sizes: Vec<usize> = batches(names(17), 0)
            .iter()
            .map(|b| b.probes.len())
            .collect();
        assert_eq!(sizes, [6, 6, 5]);
        assert_eq!(batches(names(8), 3).len(), 1);
        assert_eq!(batches(Vec::new(), 0)[0].probes.len(), 0);
    }

    #[test]
    fn an_outcome_crosses_the_wire_and_becomes_the_last_check() {
        let done = Outcome::done(Verdict::fail("HTTP 503"), 12.5, Some(503));
        let reply = BatchReply {
            checks: vec![("api".into(), done), ("www".into(), Outcome::Deferred)],
            hops_used: 1,
        };
        let wire = serde_json::to_string(&reply).unwrap();
        let back: BatchReply = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, reply);
        let last = back.checks[0].1.clone().last_check(1000.0).unwrap();
        assert_eq!(last.result, CheckResult::Fail);
        assert_eq!(last.reason.as_deref(), Some("HTTP 503"));
        assert_eq!(last.http_status, Some(503));
        assert!(back.checks[1].1.clone().last_check(1000.0).is_none());
    }
}
