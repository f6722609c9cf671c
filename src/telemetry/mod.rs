//! What Vigil tells operators about itself: structured logs, metrics and Analytics Engine
//! datapoints.

pub mod analytics;
pub mod exposition;
pub mod pipeline;
pub mod log;
pub mod metrics;
