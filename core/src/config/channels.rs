//! Receivers and secrets: which notification channels are on, and values that never reach a
//! log line.

use std::fmt;

use super::{url, ConfigError};

/// The PagerDuty Events API v2 endpoint used unless `PAGERDUTY_EVENTS_URL` overrides it.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A value that must never reach a log line or a response: its `Debug` shows only that it is
/// set. Read it with [`Secret::expose`] where it is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Notification receivers; a channel is on when its secret is set. Receiver URLs carry
/// credentials (Slack's and most webhooks' are the credential), so they are secrets too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channels {
    pub slack: Option<Secret>,
    pub webhook: Option<WebhookReceiver>,
    pub pagerduty: Option<PagerDutyReceiver>,
    /// Alertmanager base URL (`/api/v2/alerts` is appended).
    pub alertmanager: Option<Secret>,
}

/// A generic webhook and the HMAC secret its payloads are signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReceiver {
    pub url: Secret,
    pub signing_secret: Secret,
}

/// A PagerDuty service's Events API v2 routing key, and where events go.
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyReceiver {
    pub routing_key: Secret,
    pub events_url: String,
}

pub(super) fn channels(get: &impl Fn(&str) -> Option<String>) -> Result<Channels, ConfigError> {
    let webhook = match (url(get, "WEBHOOK_URL")?, get("WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => Some(WebhookReceiver {
            url,
            signing_secret: Secret::new(secret),
        }),
        (None, _) => None,
        (Some(_), None) => {
            return Err(ConfigError {
                variable: "WEBHOOK_SECRET",
                problem: "WEBHOOK_URL is set but its signing secret is not; `wrangler secret put WEBHOOK_SECRET`".into(),
            })
        }
    };
    let pagerduty = match get("PAGERDUTY_ROUTING_KEY") {
        Some(key) => Some(PagerDutyReceiver {
            routing_key: Secret::new(key),
            events_url: url(get, "PAGERDUTY_EVENTS_URL")?
                .map_or_else(|| PAGERDUTY_EVENTS_URL.into(), |u| u.expose().to_string()),
        }),
        None => None,
    };
    Ok(Channels {
        slack: url(get, "SLACK_WEBHOOK_URL")?,
        webhook,
        pagerduty,
        alertmanager: url(get, "ALERTMANAGER_URL")?
            .map(|u| Secret::new(u.expose().trim_end_matches('/'))),
    })
}
