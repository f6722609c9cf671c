//! Named receivers (`RECEIVERS`): where notifications go, several of a kind. Values written
//! `secret:NAME` are read from the secret `NAME`, so credentials stay out of `[vars]`; they are
//! held as [`Secret`]s and never appear in an error, a log line or a response.

use serde::Deserialize;
use serde_json::Value;

use super::Channel;
use crate::config::Secret;
use crate::probes::spec::is_http_url;

/// A receiver: a name routes refer to, and where it delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Slack {
        url: Secret,
    },
    /// A webhook in Alertmanager's format, signed when it has a `signing_secret`.
    Webhook {
        url: Secret,
        signing_secret: Option<Secret>,
    },
    PagerDuty {
        routing_key: Secret,
        events_url: String,
    },
    /// Alertmanager's base URL (`/api/v2/alerts` is appended).
    Alertmanager {
        url: Secret,
    },
    /// Mail through the `send_email` binding.
    Email {
        from: String,
        to: Vec<String>,
    },
}

impl Target {
    /// An Alertmanager at `base` (a trailing `/` is dropped: `/api/v2/alerts` is appended).
    pub fn alertmanager(base: &Secret) -> Target {
        Target::Alertmanager {
            url: Secret::new(base.expose().trim_end_matches('/')),
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Target::Slack { .. } => Channel::Slack,
            Target::Webhook { .. } => Channel::Webhook,
            Target::PagerDuty { .. } => Channel::PagerDuty,
            Target::Alertmanager { .. } => Channel::Alertmanager,
            Target::Email { .. } => Channel::Email,
        }
    }
}

/// A configuration entry that cannot be used, named (`RECEIVERS[1] "pager"`), with why. It is
/// skipped; everything else still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    pub entry: String,
    pub problem: String,
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.entry, self.problem)
    }
}

/// One `RECEIVERS` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    secret: Option<String>,
    routing_key: Option<String>,
    events_url: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
}

/// Parses `RECEIVERS` (a JSON array). `lookup` reads secrets; `email_from` is `EMAIL_FROM`;
/// `taken` are the names already in use (the default receivers). Bad entries are skipped and
/// reported; the good ones are returned.
pub fn parse_receivers(
    text: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    email_from: Option<&str>,
    taken: &[&str],
) -> (Vec<Receiver>, Vec<EntryProblem>) {
    let entries: Vec<Value> = match serde_json::from_str(text) {
        Ok(entries) => entries,
        Err(e) => {
            let problem = format!("is not a JSON array of receivers: {e}");
            return (vec![], vec![problem_at("RECEIVERS", problem)]);
        }
    };
    let mut names: Vec<String> = taken.iter().map(|n| n.to_string()).collect();
    let mut receivers = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        let label = format!("RECEIVERS[{i}] {name:?}");
        let parsed = serde_json::from_value::<Written>(entry)
            .map_err(|e| e.to_string())
            .and_then(|w| receiver(w, lookup, email_from));
        match parsed {
            Ok(r) if names.contains(&r.name) => {
                let problem = format!("the name {:?} is already used by a receiver", r.name);
                problems.push(problem_at(&label, problem));
            }
            Ok(r) => {
                names.push(r.name.clone());
                receivers.push(r);
            }
            Err(problem) => problems.push(problem_at(&label, problem)),
        }
    }
    (receivers, problems)
}

fn problem_at(entry: &str, problem: String) -> EntryProblem {
    EntryProblem {
        entry: entry.to_string(),
        problem,
    }
}

fn receiver(
    w: Written,
    lookup: &impl Fn(&str) -> Option<String>,
    email_from: Option<&str>,
) -> Result<Receiver, String> {
    if !valid_name(&w.name) {
        return Err("name must be 1 to 64 letters, digits, '-', '_' or '.'".into());
    }
    let value = |field: &str, written: Option<String>| -> Result<Secret, String> {
        let written = written.ok_or_else(|| format!("{field} is required for {}", w.kind))?;
        resolve(field, &written, lookup)
    };
    let url = |written: Option<String>| -> Result<Secret, String> {
        let url = value("url", written)?;
        is_http_url(url.expose())
            .then_some(url)
            .ok_or_else(|| "url is not an http(s) URL".to_string())
    };
    let target = match w.kind.as_str() {
        "slack" => Target::Slack { url: url(w.url)? },
        "webhook" => Target::Webhook {
            url: url(w.url)?,
            signing_secret: w
                .secret
                .map(|s| resolve("secret", &s, lookup))
                .transpose()?,
        },
        "pagerduty" => Target::PagerDuty {
            routing_key: value("routing_key", w.routing_key)?,
            events_url: match w.events_url {
                Some(u) if is_http_url(&u) => u,
                Some(_) => return Err("events_url is not an http(s) URL".into()),
                None => crate::config::PAGERDUTY_EVENTS_URL.into(),
            },
        },
        "alertmanager" => Target::alertmanager(&url(w.url)?),
        "email" => email(w.from.as_deref().or(email_from), w.to)?,
        other => {
            return Err(format!(
                "type {other:?} is not one of slack, webhook, pagerduty, alertmanager, email"
            ))
        }
    };
    Ok(Receiver {
        name: w.name,
        target,
    })
}

fn email(from: Option<&str>, to: Vec<String>) -> Result<Target, String> {
    let from = from.ok_or("an email receiver needs \"from\" (or set EMAIL_FROM)")?;
    if to.is_empty() {
        return Err("an email receiver needs at least one address in \"to\"".into());
    }
    for address in std::iter::once(from).chain(to.iter().map(String::as_str)) {
        if !email_address(address) {
            return Err(format!("{address:?} is not a plain email address"));
        }
    }
    Ok(Target::Email {
        from: from.to_string(),
        to,
    })
}

/// `written`, or the secret it names when written `secret:NAME`.
fn resolve(
    field: &str,
    written: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    match written.strip_prefix("secret:") {
        Some(name) => lookup(name).map(Secret::new).ok_or_else(|| {
            format!("{field} refers to the secret {name}, which is not set; `wrangler secret put {name}`")
        }),
        None => Ok(Secret::new(written)),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `local@domain` with nothing that could break out of a mail header.
fn email_address(text: &str) -> bool {
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c);
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.contains('@')
                && !text.chars().any(forbidden)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(name: &str) -> Option<String> {
        (name == "PD_KEY").then(|| "rk-123".to_string())
    }

    #[test]
    fn receivers_of_every_kind_parse_and_secrets_resolve() {
        let text = r#"[
            {"name": "pager", "type": "pagerduty", "routing_key": "secret:PD_KEY"},
            {"name": "slack-critical", "type": "slack", "url": "https://hooks.slack.test/a"},
            {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h", "secret": "s"},
            {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093/"},
            {"name": "oncall-mail", "type": "email", "to": ["oncall@example.com"]}
        ]"#;
        let (receivers, problems) = parse_receivers(text, &secrets, Some("vigil@example.com"), &[]);
        assert_eq!(problems, vec![]);
        assert_eq!(receivers.len(), 5);
        assert_eq!(
            receivers[0].target,
            Target::PagerDuty {
                routing_key: Secret::new("rk-123"),
                events_url: crate::config::PAGERDUTY_EVENTS_URL.into()
            }
        );
        assert_eq!(
            receivers[3].target,
            Target::Alertmanager {
                url: Secret::new("http://127.0.0.1:9093")
            }
        );
        assert_eq!(
            receivers[4].target,
            Target::Email {
                from: "vigil@example.com".into(),
                to: vec!["oncall@example.com".into()]
            }
        );
    }

    #[test]
    fn a_bad_entry_is_named_skipped_and_never_shows_a_secret() {
        let text = r#"[
            {"name": "pager", "type": "pagerduty", "routing_key": "secret:MISSING"},
            {"name": "x", "type": "sms", "url": "https://a.test"},
            {"name": "ok", "type": "slack", "url": "https://hooks.slack.test/secret-token"},
            {"name": "ok", "type": "slack", "url": "https://hooks.slack.test/b"},
            {"name": "slack", "type": "slack", "url": "https://hooks.slack.test/c"},
            {"name": "mail", "type": "email", "to": ["a@b.test\r\nBcc: x@y.test"]},
            {"name": "bad url", "type": "slack", "url": "ftp://x"}
        ]"#;
        let (receivers, problems) = parse_receivers(text, &secrets, Some("v@x.test"), &["slack"]);
        assert_eq!(receivers.len(), 1);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 6, "{shown:?}");
        assert!(shown[0]
            .starts_with("RECEIVERS[0] \"pager\": routing_key refers to the secret MISSING"));
        assert!(shown[1].contains("type \"sms\" is not one of"));
        assert!(shown[2].contains("\"ok\" is already used"));
        assert!(shown[3].contains("\"slack\" is already used"));
        assert!(shown[4].contains("is not a plain email address"));
        assert!(shown[5].contains("name must be"));
        assert!(!format!("{shown:?}{receivers:?}").contains("secret-token"));
    }

    #[test]
    fn text_that_is_not_a_list_is_one_problem() {
        let (receivers, problems) = parse_receivers("{", &secrets, None, &[]);
        assert!(receivers.is_empty());
        assert_eq!(problems[0].entry, "RECEIVERS");
        let (_, problems) = parse_receivers(
            r#"[{"name": "m", "type": "email", "to": ["a@b.test"]}]"#,
            &secrets,
            None,
            &[],
        );
        assert!(problems[0].problem.contains("EMAIL_FROM"));
    }
}
