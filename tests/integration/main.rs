//! Integration tests: the real worker in local `workerd`, over real HTTP, with real local D1, KV
//! and R2. One binary with a libtest-compatible runner, so the instances it starts are ended once
//! every test has run, whatever the outcome.

mod app;
mod browser;
mod configs;
mod daemons;
mod dev;
mod harness;
mod mail;
mod producer;

mod aggregation;
mod alerting;
mod bundle;
mod config_file;
mod connections;
mod cron;
mod delivery_order;
mod deploy;
mod embedded;
mod embedded_traffic;
mod grouping;
mod health;
mod history;
mod liveness;
mod metrics;
mod notifications;
mod probes;
mod prometheus_stack;
mod quiet_runs;
mod receiver;
mod reply;
mod routing;
mod slo_maintenance;
mod status;
mod status_days;
mod tail;
mod telemetry;

use std::sync::OnceLock;

use harness::{Options, Worker};
use libtest_mimic::{Arguments, Trial};

/// `ADMIN_TOKEN` of the instances that set one.
pub const ADMIN_TOKEN: &str = "it-admin-token";

/// The instance most tests share: the project's configuration, migrated, all bindings present.
pub fn shared() -> &'static Worker {
    static SHARED: OnceLock<Worker> = OnceLock::new();
    SHARED.get_or_init(|| {
        Worker::start(Options {
            secrets: vec![("ADMIN_TOKEN", ADMIN_TOKEN.into())],
            ..Options::default()
        })
    })
}

/// Declares the test functions of a module as `(name, fn)` pairs.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub fn all() -> Vec<(&'static str, fn())> {
            vec![$((concat!(module_path!(), "::", stringify!($name)), $name as fn())),*]
        }
    };
}

fn main() {
    let args = Arguments::from_args();
    let trials = [
        liveness::all(),
        health::all(),
        telemetry::all(),
        metrics::all(),
        aggregation::all(),
        history::all(),
        config_file::all(),
        connections::all(),
        cron::all(),
        alerting::all(),
        quiet_runs::all(),
        notifications::all(),
        delivery_order::all(),
        routing::all(),
        grouping::all(),
        embedded::all(),
        embedded_traffic::all(),
        tail::all(),
        probes::all(),
        status::all(),
        slo_maintenance::all(),
        status_days::all(),
        deploy::all(),
        bundle::all(),
        prometheus_stack::all(),
    ]
    .into_iter()
    .flatten()
    .map(|(name, test)| {
        let name = name.trim_start_matches("integration::");
        Trial::test(name, move || {
            test();
            Ok(())
        })
    })
    .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    dev::stop_all();
    conclusion.exit();
}
