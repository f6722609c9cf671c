//! Health in the shell: running the checks against the bindings (`probes`) and the round trips
//! of `/health/detailed` (`detailed`), around the pure reports of `vigil-core`.

pub use vigil_core::health::*;

pub mod detailed;
pub mod probes;
