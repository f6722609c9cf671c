//! Health, liveness and readiness: what the checks are, how their results are reported
//! (`checks`), how they run against the bindings (`probes`) and the deeper round trips of
//! `/health/detailed` (`detailed`).

pub mod checks;
pub mod detailed;
pub mod probes;
