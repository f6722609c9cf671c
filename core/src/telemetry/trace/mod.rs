//! Trace events a Tail Worker receives, and what Vigil counts of them.
//!
//! A worker that lists the hub in `tail_consumers` hands it one trace item per invocation:
//! the script, the event that started it (fetch, cron, queue, alarm, RPC, email, …), how it
//! ended, its CPU and wall time, its uncaught exceptions and its log lines. The hub's shell
//! passes the items here as the JSON text the runtime's objects serialize to; [`read_batch`]
//! turns them into [`Invocation`]s, one per item, whatever the input: unknown event shapes and
//! outcomes get labels of their own (`unknown`), and an item that is not a trace item is
//! counted as malformed and skipped, never failing the items around it.

mod mapping;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use mapping::{read_batch, Invocation, RequestSeen, TailBatch, TailContext};

/// Largest trace batch read, in bytes of JSON: far above what the runtime hands a tail handler
/// (it truncates an invocation's logs), low enough that a hostile batch cannot exhaust memory.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// Exceptions counted per invocation; an invocation normally has at most one uncaught.
pub const MAX_EXCEPTIONS_PER_ITEM: usize = 10;

/// Longest exception name kept as a label; longer or unusual names count as `other`.
pub const MAX_EXCEPTION_NAME: usize = 64;

/// What started an invocation, told apart by the shape of the trace item's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Fetch,
    Scheduled,
    Alarm,
    Queue,
    Email,
    /// A JavaScript RPC call to one of the worker's methods.
    Rpc,
    /// The worker is itself a tail consumer.
    Tail,
    /// A hibernatable WebSocket event of a Durable Object.
    Websocket,
    /// An event with no details of its own (a custom event).
    Custom,
    /// No event, or one of a shape this version does not know.
    Unknown,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::Fetch,
        EventKind::Scheduled,
        EventKind::Alarm,
        EventKind::Queue,
        EventKind::Email,
        EventKind::Rpc,
        EventKind::Tail,
        EventKind::Websocket,
        EventKind::Custom,
        EventKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Fetch => "fetch",
            EventKind::Scheduled => "scheduled",
            EventKind::Alarm => "alarm",
            EventKind::Queue => "queue",
            EventKind::Email => "email",
            EventKind::Rpc => "rpc",
            EventKind::Tail => "tail",
            EventKind::Websocket => "websocket",
            EventKind::Custom => "custom",
            EventKind::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// How an invocation ended, as the runtime reports it; anything else is `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Ok,
    Exception,
    ExceededCpu,
    ExceededMemory,
    Canceled,
    ScriptNotFound,
    KillSwitch,
    DaemonDown,
    LoadShed,
    ResponseStreamDisconnected,
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 11] = [
        Outcome::Ok,
        Outcome::Exception,
        Outcome::ExceededCpu,
        Outcome::ExceededMemory,
        Outcome::Canceled,
        Outcome::ScriptNotFound,
        Outcome::KillSwitch,
        Outcome::DaemonDown,
        Outcome::LoadShed,
        Outcome::ResponseStreamDisconnected,
        Outcome::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Exception => "exception",
            Outcome::ExceededCpu => "exceededCpu",
            Outcome::ExceededMemory => "exceededMemory",
            Outcome::Canceled => "canceled",
            Outcome::ScriptNotFound => "scriptNotFound",
            Outcome::KillSwitch => "killSwitch",
            Outcome::DaemonDown => "daemonDown",
            Outcome::LoadShed => "loadShed",
            Outcome::ResponseStreamDisconnected => "responseStreamDisconnected",
            Outcome::Unknown => "unknown",
        }
    }

    /// The runtime's outcome name; an unknown or missing one reads as [`Outcome::Unknown`].
    pub fn parse(text: &str) -> Outcome {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == text)
            .unwrap_or(Outcome::Unknown)
    }

    /// The invocation crashed: it threw, or the runtime stopped it for exceeding its CPU or
    /// memory limit. What the `invocation_failure_ratio` rule counts.
    pub fn crashed(self) -> bool {
        matches!(
            self,
            Outcome::Exception | Outcome::ExceededCpu | Outcome::ExceededMemory
        )
    }
}

/// A `console` method a log line was written with; anything else is `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Log,
    Info,
    Warn,
    Error,
    Unknown,
}

impl LogLevel {
    pub const ALL: [LogLevel; 6] = [
        LogLevel::Debug,
        LogLevel::Log,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Log => "log",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> LogLevel {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == text)
            .unwrap_or(LogLevel::Unknown)
    }
}
