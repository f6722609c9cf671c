//! `HEARTBEATS`: push monitors for scheduled jobs. A job pings when it ran (or reports that it
//! failed); a monitor not heard from within `period + grace` is late.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::valid_name;
use crate::time::parse_duration;

/// Monitors one configuration may hold.
pub const MAX_HEARTBEATS: usize = 200;

/// One configured monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatSpec {
    pub name: String,
    /// How often the job runs.
    pub period_ms: u64,
    /// How late a ping may be before the monitor is late.
    pub grace_ms: u64,
    pub public: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeartbeat {
    name: String,
    period: String,
    grace: Option<String>,
    #[serde(default)]
    public: bool,
}

/// Reads `HEARTBEATS` (a JSON array), or says what is wrong, naming the monitor.
pub fn parse_heartbeats(text: &str) -> Result<Vec<HeartbeatSpec>, String> {
    let raw: Vec<RawHeartbeat> =
        serde_json::from_str(text).map_err(|e| format!("is not a JSON array of monitors ({e})"))?;
    if raw.len() > MAX_HEARTBEATS {
        return Err(format!(
            "has {} monitors (at most {MAX_HEARTBEATS})",
            raw.len()
        ));
    }
    let mut names = BTreeSet::new();
    raw.into_iter()
        .map(|m| {
            let label = format!("monitor {:?}", m.name);
            if !valid_name(&m.name) {
                return Err(format!("{label}: `name` must be 1 to 64 of [A-Za-z0-9._-]"));
            }
            if !names.insert(m.name.clone()) {
                return Err(format!("{label}: the name is used twice"));
            }
            let period_ms = match parse_duration(&m.period) {
                Ok(ms) if ms >= 1_000 => ms,
                Ok(_) => return Err(format!("{label}: `period` must be at least 1s")),
                Err(e) => return Err(format!("{label}: `period`: {e}")),
            };
            let grace_ms = m
                .grace
                .as_deref()
                .map_or(Ok(0), parse_duration)
                .map_err(|e| format!("{label}: `grace`: {e}"))?;
            Ok(HeartbeatSpec {
                name: m.name,
                period_ms,
                grace_ms,
                public: m.public,
            })
        })
        .collect()
}

/// The last ping a monitor received, as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastPing {
    pub at_ms: f64,
    /// The job reported a failure (`/fail`).
    pub failed: bool,
}

/// Where a monitor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorStatus {
    /// Never pinged: nothing to be late against yet.
    New,
    Up,
    /// No ping within `period + grace`.
    Late,
    /// The last ping reported a failure.
    Failed,
}

impl MonitorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorStatus::New => "new",
            MonitorStatus::Up => "up",
            MonitorStatus::Late => "late",
            MonitorStatus::Failed => "failed",
        }
    }

    /// Whether `heartbeat-missed` holds; `None` while there is nothing to judge.
    pub fn down(self) -> Option<bool> {
        match self {
            MonitorStatus::New => None,
            MonitorStatus::Up => Some(false),
            MonitorStatus::Late | MonitorStatus::Failed => Some(true),
        }
    }
}

/// The monitor's status at `now_ms`.
pub fn monitor_status(spec: &HeartbeatSpec, last: Option<LastPing>, now_ms: f64) -> MonitorStatus {
    match last {
        None => MonitorStatus::New,
        Some(ping) if ping.failed => MonitorStatus::Failed,
        Some(ping) if now_ms - ping.at_ms > (spec.period_ms + spec.grace_ms) as f64 => {
            MonitorStatus::Late
        }
        Some(_) => MonitorStatus::Up,
    }
}
