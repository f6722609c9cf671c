//! Structured JSON logs: one object per line, as `wrangler tail --format json` shows them.
//!
//! Formatting is pure (`Logger::format`); `Logger::emit` hands the line to a [`Sink`], which the
//! shell points at the runtime's console and clock. Every value goes through serde_json, so
//! newlines and control characters in any field stay escaped and an event is always one line.

use serde_json::{Map, Value};

use crate::time::iso_timestamp;

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

/// Where lines go and what time it is; the shell passes the runtime's console and clock.
#[derive(Debug, Clone, Copy)]
pub struct Sink {
    pub now_ms: fn() -> f64,
    pub write: fn(&str),
}

#[cfg(test)]
impl Sink {
    /// Drops every line: tests check formatting, not the console.
    pub const DISCARD: Sink = Sink {
        now_ms: || 0.0,
        write: |_| {},
    };
}

/// Writes log lines with the fields every line shares (service, environment, version).
#[derive(Debug, Clone)]
pub struct Logger {
    minimum: Level,
    service: String,
    environment: String,
    sink: Sink,
}

impl Logger {
    pub fn new(minimum: Level, service: &str, environment: &str, sink: Sink) -> Logger {
        Logger {
            minimum,
            service: service.to_string(),
            environment: environment.to_string(),
            sink,
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
        line.insert("version".into(), crate::VERSION.into());
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        Some(Value::Object(line).to_string())
    }

    /// Formats an event at the sink's time and writes it to the sink.
    pub fn emit(&self, level: Level, message: &str, fields: Map<String, Value>) {
        if let Some(line) = self.format(level, message, fields, (self.sink.now_ms)()) {
            (self.sink.write)(&line);
        }
    }
}

/// Builds the `error` field: `{type, message}`.
pub fn error_field(kind: &str, message: &str) -> Value {
    serde_json::json!({ "type": kind, "message": message })
}

/// Fragments that mark a parameter name as a credential wherever they appear in it.
const SENSITIVE_FRAGMENTS: [&str; 10] = [
    "token",
    "secret",
    "passw",
    "credential",
    "signature",
    "session",
    "auth",
    "bearer",
    "apikey",
    "jwt",
];

/// Words that mark a credential only as a whole word of the name (`sig`, but not `design`).
const SENSITIVE_WORDS: [&str; 8] = ["key", "sig", "pwd", "otp", "pin", "code", "pass", "sid"];

/// Whether a query parameter's value must never be logged, judged by its name
/// (case-insensitive; words split at `_`, `-`, `.` and camelCase boundaries).
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if SENSITIVE_FRAGMENTS.iter().any(|f| lower.contains(f)) {
        return true;
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        let boundary = !c.is_ascii_alphanumeric() || (c.is_ascii_uppercase() && previous_lower);
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    words.push(word);
    words.iter().any(|w| SENSITIVE_WORDS.contains(&w.as_str()))
}

/// The query string as it may be logged: values of parameters named like a credential are
/// replaced by `[redacted]`.
pub fn redact_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let shown = if is_sensitive(name) {
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
        let logger = Logger::new(Level::Info, "vigil", "test", Sink::DISCARD);
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
        assert_eq!(parsed["version"], crate::VERSION);
        assert_eq!(parsed["route"], "/livez");
    }

    #[test]
    fn lines_below_the_minimum_level_are_dropped() {
        let logger = Logger::new(Level::Warn, "vigil", "test", Sink::DISCARD);
        assert!(logger.format(Level::Info, "x", Map::new(), 0.0).is_none());
        assert!(logger.format(Level::Error, "x", Map::new(), 0.0).is_some());
    }

    #[test]
    fn control_characters_never_break_the_line() {
        let logger = Logger::new(Level::Debug, "vigil", "test", Sink::DISCARD);
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
    fn every_kind_of_credential_name_is_redacted_case_insensitively() {
        for name in [
            "passwd",
            "PWD",
            "jwt",
            "sig",
            "X-Amz-Signature",
            "credential",
            "otp",
            "pin",
            "code",
            "bearer",
            "access_token",
            "refresh_token",
            "client_secret",
            "apiKey",
            "API_KEY",
            "sessionId",
            "Authorization",
            "id_token",
            "user.password",
            "oauth_code",
        ] {
            assert!(is_sensitive(name), "{name} must be redacted");
        }
    }

    #[test]
    fn ordinary_names_that_merely_contain_a_short_word_are_kept() {
        for name in [
            "design", "shipping", "zipcode", "encoding", "monkey", "verbose", "exclude",
        ] {
            assert!(!is_sensitive(name), "{name} is not a credential");
        }
    }

    #[test]
    fn truncation_cuts_on_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }

    #[test]
    fn event_fields_cannot_overwrite_shared_fields() {
        let logger = Logger::new(Level::Debug, "vigil", "test", Sink::DISCARD);
        let line = logger
            .format(Level::Info, "m", fields(json!({"service": "spoof"})), 0.0)
            .unwrap();
        assert!(line.contains("\"service\":\"vigil\""));
    }
}
