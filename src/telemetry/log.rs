//! Structured JSON logs: one object per line, as `wrangler tail --format json` shows them.
//!
//! Formatting is pure (`Logger::format`); only `Logger::emit` writes to the console. Every value
//! goes through serde_json, so newlines and control characters in any field stay escaped and an
//! event is always exactly one line.

use serde_json::{Map, Value};

use crate::build_info;

/// Log severity, ordered so that `level >= minimum` decides whether a line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes log lines with the fields every line shares (service, environment, version).
#[derive(Debug, Clone)]
pub struct Logger {
    minimum: Level,
    service: String,
    environment: String,
}

impl Logger {
    pub fn new(minimum: Level, service: &str, environment: &str) -> Logger {
        Logger {
            minimum,
            service: service.to_string(),
            environment: environment.to_string(),
        }
    }

    /// The JSON line for an event at `now_ms`, or `None` when `LOG_LEVEL` filters it out.
    /// `fields` are event fields; they cannot overwrite the shared ones.
    pub fn format(
        &self,
        level: Level,
        message: &str,
        fields: Map<String, Value>,
        now_ms: f64,
    ) -> Option<String> {
        if level < self.minimum {
            return None;
        }
        let mut line = Map::new();
        line.insert("timestamp".into(), iso_timestamp(now_ms).into());
        line.insert("level".into(), level.as_str().into());
        line.insert("message".into(), message.into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("environment".into(), self.environment.clone().into());
        line.insert("version".into(), build_info::VERSION.into());
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        Some(Value::Object(line).to_string())
    }

    /// Formats and writes an event to the console (the shell's side of logging).
    pub fn emit(&self, level: Level, message: &str, fields: Map<String, Value>) {
        if let Some(line) = self.format(
            level,
            message,
            fields,
            worker::Date::now().as_millis() as f64,
        ) {
            worker::console_log!("{line}");
        }
    }
}

/// An RFC 3339 UTC timestamp with milliseconds for epoch milliseconds.
pub fn iso_timestamp(epoch_ms: f64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Builds the `error` field: `{type, message}`.
pub fn error_field(kind: &str, message: &str) -> Value {
    serde_json::json!({ "type": kind, "message": message })
}

/// Query parameter names whose values never reach a log line.
const SENSITIVE: [&str; 7] = [
    "token",
    "key",
    "secret",
    "password",
    "auth",
    "signature",
    "session",
];

/// The query string as it may be logged: values of parameters named like a credential are
/// replaced by `[redacted]`.
pub fn redact_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let shown = if SENSITIVE.iter().any(|s| lower.contains(s)) {
                "[redacted]"
            } else {
                value.as_str()
            };
            format!("{name}={shown}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// At most `max` characters of `text`, cut on a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_line_carries_the_shared_fields_and_the_event_fields() {
        let logger = Logger::new(Level::Info, "vigil", "test");
        let line = logger
            .format(
                Level::Info,
                "hello",
                fields(json!({"route": "/livez"})),
                0.0,
            )
            .unwrap();
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(parsed["level"], "info");
        assert_eq!(parsed["message"], "hello");
        assert_eq!(parsed["service"], "vigil");
        assert_eq!(parsed["environment"], "test");
        assert_eq!(parsed["version"], build_info::VERSION);
        assert_eq!(parsed["route"], "/livez");
    }

    #[test]
    fn lines_below_the_minimum_level_are_dropped() {
        let logger = Logger::new(Level::Warn, "vigil", "test");
        assert!(logger.format(Level::Info, "x", Map::new(), 0.0).is_none());
        assert!(logger.format(Level::Error, "x", Map::new(), 0.0).is_some());
    }

    #[test]
    fn control_characters_never_break_the_line() {
        let logger = Logger::new(Level::Debug, "vigil", "test");
        let line = logger
            .format(
                Level::Info,
                "a\nb\r\u{0}c",
                fields(json!({"path": "/x\n{\"level\":\"error\"}"})),
                0.0,
            )
            .unwrap();
        assert!(!line.contains('\n') && !line.contains('\r'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["message"], "a\nb\r\u{0}c");
    }

    #[test]
    fn credential_like_query_values_are_redacted() {
        let pairs = [
            ("verbose".to_string(), "".to_string()),
            ("api_key".to_string(), "k1".to_string()),
            ("Token".to_string(), "t1".to_string()),
            ("password".to_string(), "p1".to_string()),
            ("exclude".to_string(), "kv".to_string()),
        ];
        assert_eq!(
            redact_query(&pairs),
            "verbose=&api_key=[redacted]&Token=[redacted]&password=[redacted]&exclude=kv"
        );
    }

    #[test]
    fn truncation_cuts_on_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }

    #[test]
    fn event_fields_cannot_overwrite_shared_fields() {
        let logger = Logger::new(Level::Debug, "vigil", "test");
        let line = logger
            .format(Level::Info, "m", fields(json!({"service": "spoof"})), 0.0)
            .unwrap();
        assert!(line.contains("\"service\":\"vigil\""));
    }
}
