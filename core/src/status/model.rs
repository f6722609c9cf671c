//! What the status page says, as plain data: served as `/status.json` and rendered as HTML.

use serde::Serialize;

/// What a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Service,
    Probe,
    Monitor,
    Dependency,
}

impl ComponentKind {
    /// The key of a monitor or dependency in the components' running-totals ledger.
    pub fn ledger_key(self, name: &str) -> String {
        let prefix = match self {
            ComponentKind::Service => "service",
            ComponentKind::Probe => "probe",
            ComponentKind::Monitor => "monitor",
            ComponentKind::Dependency => "dependency",
        };
        format!("{prefix}:{name}")
    }
}

/// Where a component (or, as the banner, the whole page) stands now, worst last but for
/// maintenance and no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    Unknown,
    Maintenance,
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
}

impl ComponentState {
    /// What the page prints: the state in words, never colour alone.
    pub fn label(self) -> &'static str {
        match self {
            ComponentState::Unknown => "No data",
            ComponentState::Maintenance => "Under maintenance",
            ComponentState::Operational => "Operational",
            ComponentState::Degraded => "Degraded performance",
            ComponentState::PartialOutage => "Partial outage",
            ComponentState::MajorOutage => "Major outage",
        }
    }

    /// The banner's sentence for the page as a whole.
    pub fn banner(self) -> &'static str {
        match self {
            ComponentState::Operational | ComponentState::Unknown => "All systems operational",
            ComponentState::Maintenance => "Scheduled maintenance in progress",
            ComponentState::Degraded => "Degraded performance",
            ComponentState::PartialOutage => "Partial outage",
            ComponentState::MajorOutage => "Major outage",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentState::Unknown => "unknown",
            ComponentState::Maintenance => "maintenance",
            ComponentState::Operational => "operational",
            ComponentState::Degraded => "degraded",
            ComponentState::PartialOutage => "partial_outage",
            ComponentState::MajorOutage => "major_outage",
        }
    }
}

/// How one day went, from its availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    NoData,
    Operational,
    Degraded,
    Outage,
}

impl DayState {
    /// At least 99.9 % is operational, at least 99 % degraded, below that an outage.
    pub fn of(availability: Option<f64>) -> DayState {
        match availability {
            None => DayState::NoData,
            Some(a) if a >= 0.999 => DayState::Operational,
            Some(a) if a >= 0.99 => DayState::Degraded,
            Some(_) => DayState::Outage,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DayState::NoData => "No data",
            DayState::Operational => "Operational",
            DayState::Degraded => "Degraded",
            DayState::Outage => "Outage",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DayState::NoData => "no_data",
            DayState::Operational => "operational",
            DayState::Degraded => "degraded",
            DayState::Outage => "outage",
        }
    }
}

/// One of the 90 daily bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayBar {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Good events over all events that day; `None` without any.
    pub availability: Option<f64>,
    pub state: DayState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub name: String,
    pub kind: ComponentKind,
    pub state: ComponentState,
    /// Oldest first; the last is today so far.
    pub days: Vec<DayBar>,
    pub uptime_30d: Option<f64>,
    pub uptime_90d: Option<f64>,
}

/// A firing alert about a component on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub component: String,
    pub alertname: String,
    pub severity: String,
    pub summary: String,
    pub started_at: String,
}

/// Active or upcoming maintenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub title: String,
    pub components: Vec<String>,
    pub starts_at: String,
    pub ends_at: String,
    /// `active` or `upcoming`.
    pub state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overall {
    pub state: ComponentState,
    pub description: &'static str,
}

/// The whole page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusPage {
    pub title: String,
    pub overall: Overall,
    pub components: Vec<Component>,
    pub incidents: Vec<Incident>,
    pub maintenances: Vec<Notice>,
    pub updated_at: String,
}

impl From<crate::probes::state::ProbeStatus> for ComponentState {
    fn from(status: crate::probes::state::ProbeStatus) -> ComponentState {
        use crate::probes::state::ProbeStatus;
        match status {
            ProbeStatus::Unknown => ComponentState::Unknown,
            ProbeStatus::Up => ComponentState::Operational,
            ProbeStatus::Degraded => ComponentState::Degraded,
            ProbeStatus::Down => ComponentState::MajorOutage,
        }
    }
}

impl From<crate::probes::heartbeats::MonitorStatus> for ComponentState {
    fn from(status: crate::probes::heartbeats::MonitorStatus) -> ComponentState {
        use crate::probes::heartbeats::MonitorStatus;
        match status {
            MonitorStatus::New => ComponentState::Unknown,
            MonitorStatus::Up => ComponentState::Operational,
            MonitorStatus::Late | MonitorStatus::Failed => ComponentState::MajorOutage,
        }
    }
}
