//! Judging one check: what the target answered against what the probe expects.

use serde::{Deserialize, Serialize};

use super::spec::Expect;

/// A probe reads at most this much of a body: a gigabyte answer costs no more than this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the target answered (after redirects), as the shell observed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: u16,
    /// From sending the request to the end of the body read (to the response's headers when
    /// the probe asserts nothing about the body, which is then not read).
    pub latency_ms: f64,
    /// The body's first [`MAX_BODY_BYTES`] at most.
    pub body: Vec<u8>,
    /// The body went on past what was read.
    pub truncated: bool,
}

/// A check's result: the label value of `vigil_probe_checks_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    /// Every assertion held.
    Pass,
    /// Every assertion held but the latency bound: degraded, not down.
    Slow,
    Fail,
}

impl CheckResult {
    pub const ALL: [CheckResult; 3] = [CheckResult::Pass, CheckResult::Slow, CheckResult::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pass => "pass",
            CheckResult::Slow => "slow",
            CheckResult::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<CheckResult> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn succeeded(self) -> bool {
        self != CheckResult::Fail
    }
}

/// A check's result and, unless it passed, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub result: CheckResult,
    pub reason: Option<String>,
}

impl Verdict {
    pub fn fail(reason: impl Into<String>) -> Verdict {
        Verdict {
            result: CheckResult::Fail,
            reason: Some(reason.into()),
        }
    }
}

/// Judges an observation; `Err` is a request that got no answer (timeout, network, redirects),
/// which fails with its reason.
pub fn judge(expect: &Expect, observed: &Result<Observation, String>) -> Verdict {
    let seen = match observed {
        Ok(seen) => seen,
        Err(reason) => return Verdict::fail(reason.clone()),
    };
    if let Err(reason) = assert_answer(expect, seen) {
        return Verdict::fail(reason);
    }
    match expect.max_latency_ms {
        Some(max) if seen.latency_ms > max as f64 => Verdict {
            result: CheckResult::Slow,
            reason: Some(format!(
                "took {:.0} ms (max_latency {max} ms)",
                seen.latency_ms
            )),
        },
        _ => Verdict {
            result: CheckResult::Pass,
            reason: None,
        },
    }
}

/// Status, body and JSON assertions, in that order; the first that fails says why.
fn assert_answer(expect: &Expect, seen: &Observation) -> Result<(), String> {
    match &expect.status {
        Some(list) if !list.contains(&seen.status) => {
            return Err(format!("HTTP {} (expected {list:?})", seen.status));
        }
        None if !(200..300).contains(&seen.status) => {
            return Err(format!("HTTP {} (expected 2xx)", seen.status));
        }
        _ => {}
    }
    let body = String::from_utf8_lossy(&seen.body);
    let read = if seen.truncated {
        format!(" in its first {} KiB", MAX_BODY_BYTES / 1024)
    } else {
        String::new()
    };
    if let Some(wanted) = &expect.body_contains {
        if !body.contains(wanted.as_str()) {
            return Err(format!("body does not contain {wanted:?}{read}"));
        }
    }
    if let Some(unwanted) = &expect.body_not_contains {
        if body.contains(unwanted.as_str()) {
            return Err(format!("body contains {unwanted:?}"));
        }
    }
    if expect.json.is_empty() {
        return Ok(());
    }
    if seen.truncated {
        return Err(format!(
            "body is over {} KiB: not read as JSON",
            MAX_BODY_BYTES / 1024
        ));
    }
    let document: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("body is not JSON ({e})"))?;
    for (path, wanted) in &expect.json {
        match field(&document, path) {
            None => return Err(format!("JSON field {path} is missing")),
            Some(found) if found != wanted => {
                return Err(format!("JSON field {path} is {found} (expected {wanted})"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The value at a dotted path (`checks.0.status`): object keys, or array indices.
fn field<'a>(document: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.')
        .try_fold(document, |value, step| match value {
            serde_json::Value::Array(items) => items.get(step.parse::<usize>().ok()?),
            other => other.get(step),
        })
}
