//! What Vigil tells operators about itself: structured logs, metrics and Analytics Engine
//! datapoints.

pub mod analytics;
pub mod catalog;
pub mod exposition;
pub mod log;
pub mod metrics;
pub mod pipeline;
