//! Silences in Alertmanager's API v2 shapes: `matchers[{name, value, isRegex, isEqual}]`,
//! `startsAt`, `endsAt`, `createdBy`, `comment`; states pending, active and expired.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{text, time_range, InvalidInput, Phase};
use crate::time::iso_timestamp;

/// Matchers one silence may have.
const MAX_MATCHERS: usize = 32;

/// One label matcher, as Alertmanager takes it. A label the alert lacks reads as "".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "equal")]
    pub is_equal: bool,
    /// The compiled, fully anchored `value` of a regex matcher.
    #[serde(skip)]
    regex: Option<Regex>,
}

fn equal() -> bool {
    true
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        (&self.name, &self.value, self.is_regex, self.is_equal)
            == (&other.name, &other.value, other.is_regex, other.is_equal)
    }
}

impl Matcher {
    /// A positive matcher (`name = value`, or `name =~ value` when `is_regex`), checked and
    /// compiled; `field` names it in the error.
    pub fn positive(
        name: &str,
        value: &str,
        is_regex: bool,
        field: &str,
    ) -> Result<Matcher, InvalidInput> {
        let matcher = Matcher {
            name: name.to_string(),
            value: value.to_string(),
            is_regex,
            is_equal: true,
            regex: None,
        };
        matcher.compile(field)
    }

    /// Checks the matcher and compiles its regex, anchored as Alertmanager anchors it.
    fn compile(mut self, field: &str) -> Result<Matcher, InvalidInput> {
        if !valid_label_name(&self.name) {
            let problem = format!(
                "{:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                self.name
            );
            return Err(InvalidInput::new(format!("{field}.name"), problem));
        }
        text(&format!("{field}.value"), &self.value, 1024, false)?;
        if self.is_regex {
            let anchored = format!("^(?:{})$", self.value);
            let regex = Regex::new(&anchored).map_err(|e| {
                InvalidInput::new(format!("{field}.value"), format!("invalid regex: {e}"))
            })?;
            self.regex = Some(regex);
        }
        Ok(self)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        let hit = match &self.regex {
            Some(regex) => regex.is_match(value),
            None if self.is_regex => false,
            None => value == self.value,
        };
        hit == self.is_equal
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: f64,
    pub ends_at_ms: f64,
    pub created_by: String,
    pub comment: String,
    pub updated_at_ms: f64,
}

impl Silence {
    pub fn phase(&self, now_ms: f64) -> Phase {
        Phase::at(self.starts_at_ms, self.ends_at_ms, now_ms)
    }

    pub fn is_active(&self, now_ms: f64) -> bool {
        self.phase(now_ms) == Phase::Active
    }

    /// Whether every matcher matches `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// Alertmanager's `gettableSilence`.
    pub fn view(&self, now_ms: f64) -> Value {
        let state = match self.phase(now_ms) {
            Phase::Pending => "pending",
            Phase::Active => "active",
            Phase::Expired => "expired",
        };
        json!({
            "id": self.id,
            "status": {"state": state},
            "updatedAt": iso_timestamp(self.updated_at_ms),
            "matchers": self.matchers,
            "startsAt": iso_timestamp(self.starts_at_ms),
            "endsAt": iso_timestamp(self.ends_at_ms),
            "createdBy": self.created_by,
            "comment": self.comment,
        })
    }

    /// The matchers as stored (JSON text).
    pub fn matchers_json(&self) -> String {
        serde_json::to_string(&self.matchers).unwrap_or_else(|_| "[]".into())
    }

    /// Reads stored matchers back; text that no longer parses or compiles matches nothing
    /// rather than everything.
    pub fn stored_matchers(text: &str) -> Vec<Matcher> {
        let never = Matcher {
            name: "__never__".into(),
            value: "\u{0}".into(),
            is_regex: false,
            is_equal: true,
            regex: None,
        };
        let parsed: Result<Vec<Matcher>, _> = serde_json::from_str(text);
        let compiled = parsed.ok().and_then(|matchers| {
            matchers
                .into_iter()
                .map(|m| m.compile("matchers").ok())
                .collect::<Option<Vec<_>>>()
        });
        compiled.unwrap_or_else(|| vec![never])
    }
}

/// `postableSilence`: an `id` updates that silence instead of creating one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Postable {
    #[serde(default)]
    id: Option<String>,
    matchers: Vec<Matcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

/// A posted silence, checked: `id` is the silence it updates, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSilence {
    pub id: Option<String>,
    pub silence: Silence,
}

/// Parses a posted silence at `now_ms` (the new silence's id is left empty for the caller).
pub fn parse_silence(body: &str, now_ms: f64) -> Result<NewSilence, InvalidInput> {
    let posted: Postable = serde_json::from_str(body).map_err(InvalidInput::body)?;
    if posted.matchers.is_empty() {
        return Err(InvalidInput::new(
            "matchers",
            "at least one matcher is required",
        ));
    }
    if posted.matchers.len() > MAX_MATCHERS {
        let problem = format!(
            "{} matchers (at most {MAX_MATCHERS})",
            posted.matchers.len()
        );
        return Err(InvalidInput::new("matchers", problem));
    }
    let matchers = posted
        .matchers
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.compile(&format!("matchers[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    // A silence whose every matcher matches an alert without labels would silence everything.
    let empty = BTreeMap::new();
    if matchers.iter().all(|m| m.matches(&empty)) {
        let problem = "every matcher matches the empty string: the silence would match every alert";
        return Err(InvalidInput::new("matchers", problem));
    }
    let (starts_at_ms, ends_at_ms) = time_range(&posted.starts_at, &posted.ends_at, now_ms)?;
    text("createdBy", &posted.created_by, 256, true)?;
    text("comment", &posted.comment, 4096, true)?;
    if let Some(id) = &posted.id {
        text("id", id, 64, true)?;
    }
    Ok(NewSilence {
        id: posted.id,
        silence: Silence {
            id: String::new(),
            matchers,
            starts_at_ms,
            ends_at_ms,
            created_by: posted.created_by,
            comment: posted.comment,
            updated_at_ms: now_ms,
        },
    })
}
