//! Vigil's pure core: everything that decides, computes or renders, over plain data.
//!
//! The crate has no dependency on the Workers runtime, so the compiler keeps I/O out of it and
//! every rule here is unit-tested on the host. The hub worker (the root crate) is the shell: it
//! reads bindings, sends requests and hands this crate plain values.

pub mod alerting;
pub mod config;
pub mod health;
pub mod http;
pub mod notify;
pub mod probes;
pub mod records;
pub mod silencing;
pub mod status;
pub mod telemetry;
pub mod time;

/// The release version, shared by every crate of the workspace; reported in logs, health+json,
/// `X-Vigil-Version` and `vigil_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
