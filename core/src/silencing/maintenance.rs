//! Planned maintenance: `{title, components, startsAt, endsAt}`. Shown on the status page while
//! upcoming and active; while active, the alerts of its components are silenced.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{text, time_range, InvalidInput, Phase};
use crate::alerting::instances::SubjectKind;
use crate::time::iso_timestamp;

/// Components one maintenance may name.
const MAX_COMPONENTS: usize = 50;

/// The longest maintenance window.
const MAX_DURATION_MS: f64 = 31.0 * 86_400_000.0;

/// A stored maintenance window.
#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    pub id: String,
    pub title: String,
    /// Component names: services, probes, heartbeat monitors or dependencies.
    pub components: Vec<String>,
    pub starts_at_ms: f64,
    pub ends_at_ms: f64,
}

impl Maintenance {
    pub fn phase(&self, now_ms: f64) -> Phase {
        Phase::at(self.starts_at_ms, self.ends_at_ms, now_ms)
    }

    pub fn is_active(&self, now_ms: f64) -> bool {
        self.phase(now_ms) == Phase::Active
    }

    pub fn names(&self, component: &str) -> bool {
        self.components.iter().any(|c| c == component)
    }

    /// Whether an alert instance with `labels` is about one of the components.
    pub fn covers(&self, labels: &BTreeMap<String, String>) -> bool {
        SubjectKind::ALL
            .into_iter()
            .filter_map(|kind| labels.get(kind.label()))
            .any(|name| self.names(name))
    }

    pub fn view(&self, now_ms: f64) -> Value {
        let state = match self.phase(now_ms) {
            Phase::Pending => "upcoming",
            Phase::Active => "active",
            Phase::Expired => "completed",
        };
        json!({
            "id": self.id,
            "title": self.title,
            "components": self.components,
            "startsAt": iso_timestamp(self.starts_at_ms),
            "endsAt": iso_timestamp(self.ends_at_ms),
            "state": state,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Postable {
    title: String,
    components: Vec<String>,
    starts_at: String,
    ends_at: String,
}

/// Parses a posted maintenance at `now_ms` (its id is left empty for the caller).
pub fn parse_maintenance(body: &str, now_ms: f64) -> Result<Maintenance, InvalidInput> {
    let posted: Postable = serde_json::from_str(body).map_err(InvalidInput::body)?;
    text("title", &posted.title, 200, true)?;
    if posted.components.is_empty() || posted.components.len() > MAX_COMPONENTS {
        let problem = format!("name 1 to {MAX_COMPONENTS} components");
        return Err(InvalidInput::new("components", problem));
    }
    for (i, name) in posted.components.iter().enumerate() {
        text(&format!("components[{i}]"), name, 200, true)?;
    }
    let (starts_at_ms, ends_at_ms) = time_range(&posted.starts_at, &posted.ends_at, now_ms)?;
    if ends_at_ms - starts_at_ms > MAX_DURATION_MS {
        return Err(InvalidInput::new(
            "endsAt",
            "is more than 31 days after startsAt",
        ));
    }
    Ok(Maintenance {
        id: String::new(),
        title: posted.title,
        components: posted.components,
        starts_at_ms,
        ends_at_ms,
    })
}
