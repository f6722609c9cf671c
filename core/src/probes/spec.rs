//! `PROBES`: the synthetic HTTP checks the cron runs, read into typed specs with errors that
//! name the probe and the field.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::valid_name;
use crate::time::{format_duration, parse_duration, MINUTE_MS};

/// Probes one configuration may hold: every one is a row read by each cron run.
pub const MAX_PROBES: usize = 200;
/// A probe's timeout when it sets none, and the longest it may set.
pub const DEFAULT_TIMEOUT_MS: u32 = 5_000;
pub const MAX_TIMEOUT_MS: u32 = 30_000;
/// Redirects followed when a probe sets no `max_redirects`, and the most it may set.
pub const DEFAULT_MAX_REDIRECTS: u8 = 3;
pub const MAX_REDIRECTS: u8 = 10;

/// The request methods a probe may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl ProbeMethod {
    const ALL: [ProbeMethod; 7] = [
        ProbeMethod::Get,
        ProbeMethod::Head,
        ProbeMethod::Post,
        ProbeMethod::Put,
        ProbeMethod::Patch,
        ProbeMethod::Delete,
        ProbeMethod::Options,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMethod::Get => "GET",
            ProbeMethod::Head => "HEAD",
            ProbeMethod::Post => "POST",
            ProbeMethod::Put => "PUT",
            ProbeMethod::Patch => "PATCH",
            ProbeMethod::Delete => "DELETE",
            ProbeMethod::Options => "OPTIONS",
        }
    }

    fn parse(text: &str) -> Option<ProbeMethod> {
        let upper = text.to_ascii_uppercase();
        Self::ALL.into_iter().find(|m| m.as_str() == upper)
    }
}

/// A header's value: written in `PROBES`, or read from a secret (`secret:NAME`) when the probe
/// runs, so it never appears in configuration, logs or the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Plain(String),
    Secret(String),
}

/// What a response must look like to pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    /// Accepted status codes; any 2xx when `None`.
    pub status: Option<Vec<u16>>,
    pub body_contains: Option<String>,
    pub body_not_contains: Option<String>,
    /// JSON fields (dotted paths, array indices as numbers) and the values they must equal.
    pub json: Vec<(String, serde_json::Value)>,
    /// Slower than this but otherwise fine is degraded, not down.
    pub max_latency_ms: Option<u64>,
}

impl Expect {
    /// Whether an assertion needs the body. A check that needs none does not download it: on
    /// the Free plan's 10 ms of CPU a body read costs more than the request itself.
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || self.body_not_contains.is_some() || !self.json.is_empty()
    }
}

/// One configured probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub name: String,
    pub url: String,
    pub method: ProbeMethod,
    pub headers: Vec<(String, HeaderValue)>,
    pub body: Option<String>,
    /// A whole number of minutes: the cron runs once a minute.
    pub interval_ms: u64,
    pub timeout_ms: u32,
    pub expect: Expect,
    /// Consecutive failures that make the probe down, and successes that make it up again.
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub max_redirects: u8,
    /// Whether the status page may show it.
    pub public: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: String,
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    expect: RawExpect,
    failure_threshold: Option<u32>,
    success_threshold: Option<u32>,
    max_redirects: Option<u8>,
    #[serde(default)]
    public: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Option<Vec<u16>>,
    body_contains: Option<String>,
    body_not_contains: Option<String>,
    json: Option<BTreeMap<String, serde_json::Value>>,
    max_latency: Option<String>,
}

/// Reads `PROBES` (a JSON array), or says what is wrong, naming the probe.
pub fn parse_probes(text: &str) -> Result<Vec<ProbeSpec>, String> {
    let raw: Vec<RawProbe> =
        serde_json::from_str(text).map_err(|e| format!("is not a JSON array of probes ({e})"))?;
    if raw.len() > MAX_PROBES {
        return Err(format!("has {} probes (at most {MAX_PROBES})", raw.len()));
    }
    let mut names = BTreeSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, probe)| {
            let label = if probe.name.is_empty() {
                format!("probe #{}", i + 1)
            } else {
                format!("probe {:?}", probe.name)
            };
            if !names.insert(probe.name.clone()) {
                return Err(format!("{label}: the name is used twice"));
            }
            spec(probe).map_err(|problem| format!("{label}: {problem}"))
        })
        .collect()
}

fn spec(raw: RawProbe) -> Result<ProbeSpec, String> {
    if !valid_name(&raw.name) {
        return Err("`name` must be 1 to 64 of [A-Za-z0-9._-]".into());
    }
    let url = raw.url.trim().to_string();
    if !is_http_url(&url) {
        return Err(format!("`url` {url:?} is not an http(s) URL"));
    }
    let method = match raw.method.as_deref() {
        None => ProbeMethod::Get,
        Some(m) => ProbeMethod::parse(m).ok_or_else(|| {
            format!("`method` {m:?} is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
        })?,
    };
    let interval_ms = match raw.interval.as_deref() {
        None => MINUTE_MS,
        Some(text) => match parse_duration(text)? {
            ms if ms >= MINUTE_MS && ms % MINUTE_MS == 0 => ms,
            _ => {
                return Err(format!(
                    "`interval` {text:?} must be whole minutes, at least 1m"
                ))
            }
        },
    };
    let timeout_ms = match raw.timeout.as_deref() {
        None => DEFAULT_TIMEOUT_MS,
        Some(text) => match parse_duration(text)? {
            ms if (100..=u64::from(MAX_TIMEOUT_MS)).contains(&ms) => ms as u32,
            _ => {
                let max = format_duration(u64::from(MAX_TIMEOUT_MS));
                return Err(format!("`timeout` {text:?} must be from 100ms to {max}"));
            }
        },
    };
    let max_redirects = raw.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS);
    if max_redirects > MAX_REDIRECTS {
        return Err(format!("`max_redirects` must be at most {MAX_REDIRECTS}"));
    }
    Ok(ProbeSpec {
        name: raw.name,
        url,
        method,
        headers: headers(raw.headers)?,
        body: raw.body,
        interval_ms,
        timeout_ms,
        expect: expect(raw.expect)?,
        failure_threshold: threshold("failure_threshold", raw.failure_threshold)?,
        success_threshold: threshold("success_threshold", raw.success_threshold)?,
        max_redirects,
        public: raw.public,
    })
}

/// An http(s) URL with a host and no whitespace or control characters.
pub(crate) fn is_http_url(url: &str) -> bool {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .unwrap_or("");
    !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn threshold(field: &str, value: Option<u32>) -> Result<u32, String> {
    match value.unwrap_or(1) {
        n @ 1..=100 => Ok(n),
        n => Err(format!("`{field}` {n} must be from 1 to 100")),
    }
}

fn headers(raw: BTreeMap<String, String>) -> Result<Vec<(String, HeaderValue)>, String> {
    raw.into_iter()
        .map(|(name, value)| {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                return Err(format!(
                    "header name {name:?} is not a valid HTTP header name"
                ));
            }
            let value = match value.strip_prefix("secret:") {
                Some(secret) if valid_secret_name(secret) => HeaderValue::Secret(secret.into()),
                Some(secret) => {
                    return Err(format!(
                        "header {name:?}: {secret:?} is not a secret name ([A-Za-z0-9_]+)"
                    ))
                }
                None if value.chars().any(|c| c.is_control()) => {
                    return Err(format!("header {name:?} has a control character"))
                }
                None => HeaderValue::Plain(value),
            };
            Ok((name, value))
        })
        .collect()
}

fn valid_secret_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn expect(raw: RawExpect) -> Result<Expect, String> {
    if let Some(bad) = raw
        .status
        .iter()
        .flatten()
        .find(|s| !(100..=599).contains(*s))
    {
        return Err(format!("`expect.status` {bad} is not an HTTP status code"));
    }
    if raw.status.as_ref().is_some_and(Vec::is_empty) {
        return Err("`expect.status` is empty (leave it out to accept any 2xx)".into());
    }
    let max_latency_ms = raw
        .max_latency
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| format!("`expect.max_latency`: {e}"))?;
    Ok(Expect {
        status: raw.status,
        body_contains: raw.body_contains,
        body_not_contains: raw.body_not_contains,
        json: raw.json.unwrap_or_default().into_iter().collect(),
        max_latency_ms,
    })
}
