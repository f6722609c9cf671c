//! Worker errors as text.

/// A worker error as text. `D1Error`'s `Display` panics in worker 0.8.7, so D1 errors are read
/// through `cause()`.
pub fn describe(error: &worker::Error) -> String {
    match error {
        worker::Error::D1(e) => e.cause(),
        other => other.to_string(),
    }
}
