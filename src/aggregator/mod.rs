//! The fleet's metrics aggregation: senders (`client`) post their isolate's batch to one
//! aggregator Durable Object (`object`, part of the hub), which writes each series' minute row
//! to D1 once per minute. `hub` is how the hub's own isolates flush.

pub mod client;
#[cfg(feature = "hub")]
pub mod hub;
#[cfg(feature = "hub")]
mod journal;
#[cfg(feature = "hub")]
mod object;
#[cfg(feature = "hub")]
mod pending;

#[cfg(feature = "hub")]
pub use object::MetricsAggregator;
