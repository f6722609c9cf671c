//! Retry policy for the notification outbox.
//!
//! A transient failure (timeout, network error, 408, 429, 5xx) is retried with backoff for as
//! long as it takes: losing a page because a receiver was down for an afternoon would be worse
//! than retrying it. A permanent failure (another 4xx, a channel no longer configured, a payload
//! that cannot be read) will not heal by itself, so after [`PERMANENT_ATTEMPTS`] it is
//! dead-lettered: kept, reported and no longer retried.

/// Delay after the first failed attempt.
const BASE_BACKOFF_MS: f64 = 30_000.0;
/// Longest delay between attempts.
pub const MAX_BACKOFF_MS: f64 = 30.0 * 60_000.0;

/// When to try again after `attempts` failed attempts: 30 s × 2^(attempts−1), capped at 30 min.
/// Zero attempts is treated as one.
pub fn next_attempt_ms(attempts: u32, now_ms: f64) -> f64 {
    // 2^6 × 30 s already exceeds the cap, so a larger exponent is never needed (nor can overflow).
    let exponent = attempts.saturating_sub(1).min(6);
    now_ms + (BASE_BACKOFF_MS * f64::from(1u32 << exponent)).min(MAX_BACKOFF_MS)
}

/// Attempts a permanent failure gets before it is dead-lettered: a receiver being reconfigured
/// gets a few minutes (30 s, 1, 2 and 4 min of backoff), not hundreds of pointless calls.
pub const PERMANENT_ATTEMPTS: u32 = 5;
const _: () = assert!(
    PERMANENT_ATTEMPTS <= 10,
    "a handful of attempts, not hundreds"
);

/// Why one delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub retryable: bool,
}

impl Failure {
    pub fn retryable(reason: String) -> Failure {
        Failure {
            reason,
            retryable: true,
        }
    }

    pub fn permanent(reason: String) -> Failure {
        Failure {
            reason,
            retryable: false,
        }
    }
}

/// What becomes of a row after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Retry,
    Dead,
}

/// A failure after `attempts` attempts (this one included): retried, or dead-lettered once a
/// permanent failure has had its attempts.
pub fn settle(failure: &Failure, attempts: u32) -> Settled {
    if !failure.retryable && attempts >= PERMANENT_ATTEMPTS {
        Settled::Dead
    } else {
        Settled::Retry
    }
}

/// What a receiver's HTTP status means for the outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// `retryable: false` marks a failure that looks permanent (a 4xx such as a revoked webhook
    /// or a rejected payload); see [`settle`].
    Failed {
        retryable: bool,
    },
}

/// Classifies a receiver's HTTP status. Network errors never reach here; the caller records
/// them as `Failed { retryable: true }`.
pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Failed { retryable: true },
        _ => Outcome::Failed { retryable: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds() {
        assert_eq!(next_attempt_ms(1, 1_000.0), 31_000.0);
        assert_eq!(next_attempt_ms(2, 0.0), 60_000.0);
        assert_eq!(next_attempt_ms(3, 0.0), 120_000.0);
        assert_eq!(next_attempt_ms(6, 0.0), 960_000.0);
    }

    #[test]
    fn backoff_is_capped_at_thirty_minutes_even_for_huge_attempt_counts() {
        assert_eq!(next_attempt_ms(7, 0.0), MAX_BACKOFF_MS);
        assert_eq!(next_attempt_ms(40, 0.0), MAX_BACKOFF_MS);
        assert_eq!(next_attempt_ms(u32::MAX, 5.0), MAX_BACKOFF_MS + 5.0);
    }

    #[test]
    fn zero_attempts_waits_like_the_first() {
        assert_eq!(next_attempt_ms(0, 0.0), 30_000.0);
    }

    #[test]
    fn a_permanent_failure_is_dead_lettered_after_a_handful_of_attempts() {
        let permanent = Failure::permanent("receiver answered HTTP 404".into());
        for attempts in 1..PERMANENT_ATTEMPTS {
            assert_eq!(settle(&permanent, attempts), Settled::Retry, "{attempts}");
        }
        assert_eq!(settle(&permanent, PERMANENT_ATTEMPTS), Settled::Dead);
    }

    #[test]
    fn a_transient_failure_is_retried_for_ever() {
        let transient = Failure::retryable("timeout after 5000ms".into());
        assert_eq!(settle(&transient, 10_000), Settled::Retry);
    }

    #[test]
    fn success_statuses_are_delivered() {
        assert_eq!(classify(200), Outcome::Delivered);
        assert_eq!(classify(202), Outcome::Delivered);
    }

    #[test]
    fn timeouts_rate_limits_and_server_errors_are_retryable() {
        for status in [408, 429, 500, 502, 503, 599] {
            assert_eq!(
                classify(status),
                Outcome::Failed { retryable: true },
                "{status}"
            );
        }
    }

    #[test]
    fn other_client_errors_look_permanent() {
        for status in [301, 400, 401, 403, 404, 410] {
            assert_eq!(
                classify(status),
                Outcome::Failed { retryable: false },
                "{status}"
            );
        }
    }
}
