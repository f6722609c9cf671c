//! Alerting: rules, their Prometheus-style state machine, SLO burn rates, and which
//! notifications a transition causes.

pub mod evaluation;
pub mod instances;
pub mod plan;
pub mod rules;
pub mod severity;
pub mod slo;
pub mod state;
pub mod window;
