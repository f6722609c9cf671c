//! The runtime's clock. `std::time` does not work on wasm; the runtime's `Date` does (and only
//! advances across I/O, as Workers freeze time during pure computation).

use worker::Date;

/// Epoch milliseconds now.
pub fn now_ms() -> f64 {
    Date::now().as_millis() as f64
}
