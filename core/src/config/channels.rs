//! Secrets, values that never reach a log line, and the receivers of the single-channel
//! secrets.

use std::fmt;

use super::{url, ConfigError};
use crate::notify::receivers::{Receiver, Target};

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

/// The receivers of the single-channel secrets, each named after its kind (`slack`,
/// `webhook`, `pagerduty`, `alertmanager`): on when its secret is set, and the default route's
/// receivers unless `NOTIFY_ROUTES` names others. Receiver URLs carry credentials (Slack's and
/// most webhooks' are the credential), so they are secrets too.
pub(super) fn channels(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<Receiver>, ConfigError> {
    let webhook = match (url(get, "WEBHOOK_URL")?, get("WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => Some(Target::Webhook {
            url,
            signing_secret: Some(Secret::new(secret)),
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
        Some(key) => Some(Target::PagerDuty {
            routing_key: Secret::new(key),
            events_url: url(get, "PAGERDUTY_EVENTS_URL")?
                .map_or_else(|| PAGERDUTY_EVENTS_URL.into(), |u| u.expose().to_string()),
        }),
        None => None,
    };
    let slack = url(get, "SLACK_WEBHOOK_URL")?.map(|url| Target::Slack { url });
    let alertmanager = url(get, "ALERTMANAGER_URL")?.map(|u| Target::alertmanager(&u));
    Ok([slack, webhook, pagerduty, alertmanager]
        .into_iter()
        .flatten()
        .map(|target| Receiver {
            name: target.channel().as_str().to_string(),
            target,
        })
        .collect())
}
