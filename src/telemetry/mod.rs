//! Telemetry in the shell: the per-isolate metrics pipeline, around the pure logs, metrics and
//! exposition of `vigil-core`.

pub use vigil_core::telemetry::*;

pub mod pipeline;
