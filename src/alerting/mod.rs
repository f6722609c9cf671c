//! Alerting: rules, their Prometheus-style state machine, SLO burn rates, and notifications.

pub mod dispatch;
pub mod engine;
pub mod notify;
pub mod plan;
pub mod rules;
pub mod slo;
pub mod state;
