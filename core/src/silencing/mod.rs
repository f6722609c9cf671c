//! What keeps an alert instance quiet without stopping its evaluation: silences (Alertmanager's
//! API v2 shapes) and planned maintenance windows. Both are parsed and judged here; the shell
//! stores them and asks [`silenced_by`] each run.

use std::collections::BTreeMap;
use std::fmt;

pub mod maintenance;
pub mod silence;
#[cfg(test)]
mod tests;

use maintenance::Maintenance;
use silence::Silence;

/// Largest request body the silence and maintenance endpoints read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why an instance with `labels` is quiet at `now_ms`: the ids of the active silences that
/// match it, and `maintenance:{id}` for each active maintenance of one of its components.
pub fn silenced_by(
    labels: &BTreeMap<String, String>,
    silences: &[Silence],
    maintenances: &[Maintenance],
    now_ms: f64,
) -> Vec<String> {
    let silenced = silences
        .iter()
        .filter(|s| s.is_active(now_ms) && s.matches(labels))
        .map(|s| s.id.clone());
    let maintained = maintenances
        .iter()
        .filter(|m| m.is_active(now_ms) && m.covers(labels))
        .map(|m| format!("maintenance:{}", m.id));
    silenced.chain(maintained).collect()
}

/// A request body that cannot be used, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    pub field: String,
    pub problem: String,
}

impl InvalidInput {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> InvalidInput {
        InvalidInput {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// A body that is not the expected JSON object (serde names unknown and missing fields).
    fn body(error: serde_json::Error) -> InvalidInput {
        InvalidInput::new("body", error.to_string())
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Where a silence or maintenance stands at a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Starts later (Alertmanager's `pending`; "upcoming" for maintenance).
    Pending,
    Active,
    Expired,
}

impl Phase {
    fn at(starts_at_ms: f64, ends_at_ms: f64, now_ms: f64) -> Phase {
        if now_ms >= ends_at_ms {
            Phase::Expired
        } else if now_ms < starts_at_ms {
            Phase::Pending
        } else {
            Phase::Active
        }
    }
}

/// A time range from a request: both ends RFC 3339, the end after the start and not yet
/// passed. A start in the past means now.
fn time_range(starts_at: &str, ends_at: &str, now_ms: f64) -> Result<(f64, f64), InvalidInput> {
    let starts = crate::time::parse_timestamp(starts_at)
        .map_err(|problem| InvalidInput::new("startsAt", problem))?;
    let ends = crate::time::parse_timestamp(ends_at)
        .map_err(|problem| InvalidInput::new("endsAt", problem))?;
    if ends <= starts {
        return Err(InvalidInput::new("endsAt", "must be after startsAt"));
    }
    if ends <= now_ms {
        return Err(InvalidInput::new("endsAt", "is in the past"));
    }
    Ok((starts.max(now_ms), ends))
}

/// A free-text field: at most `max` bytes, no control characters but newlines and tabs.
fn text(field: &str, value: &str, max: usize, required: bool) -> Result<(), InvalidInput> {
    if required && value.trim().is_empty() {
        return Err(InvalidInput::new(field, "is required"));
    }
    if value.len() > max {
        let problem = format!("is {} bytes long (at most {max})", value.len());
        return Err(InvalidInput::new(field, problem));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(InvalidInput::new(field, "contains control characters"));
    }
    Ok(())
}
