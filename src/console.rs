//! The runtime's console and clock as a log sink for the core's `Logger`.

use vigil_core::telemetry::log::Sink;

pub const SINK: Sink = Sink {
    now_ms: || worker::Date::now().as_millis() as f64,
    write: |line| worker::console_log!("{line}"),
};
