//! Alerting: rules, their Prometheus-style state machine, SLO burn rates, and notifications.

pub mod notify;
pub mod rules;
pub mod slo;
pub mod state;
