//! What Vigil tells operators: structured logs, metrics and their exposition, and Analytics
//! Engine datapoints.

pub mod analytics;
pub mod catalog;
pub mod exposition;
pub mod log;
pub mod metrics;
pub mod store_cost;
