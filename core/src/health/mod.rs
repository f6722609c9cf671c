//! Health, liveness and readiness reports, and the verdicts of `/health/detailed`.

pub mod checks;
pub mod diagnostics;
