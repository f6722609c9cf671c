//! Bounding the runtime's calls in time: a binding or a receiver that never answers must not
//! hold a request or the cron.

use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};
use worker::Delay;

/// `Some(output)` when `future` finishes within `timeout_ms`, `None` on timeout.
pub async fn with_timeout<T>(future: impl Future<Output = T>, timeout_ms: u32) -> Option<T> {
    let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    match select(Box::pin(future), timer).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}
