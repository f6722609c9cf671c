//! What Vigil tells operators: structured logs, metrics and their exposition, and Analytics
//! Engine datapoints.

pub mod analytics;
pub mod caps;
pub mod catalog;
pub mod counters;
pub mod exposition;
pub mod ingest;
pub mod invocations;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod queries;
pub mod store_cost;
pub mod trace;
