//! Delivers what the outbox holds: claims due rows, sends each to its receiver with a timeout,
//! and records the outcome. The shell around the pure `notify` module.
//!
//! Rows are claimed atomically (a lease), so overlapping cron runs never send the same row; all
//! claimed rows are sent concurrently, so a hanging receiver costs the run one timeout, not one
//! per row; a failure stays in the outbox with its error and a backoff, so nothing is lost.

use futures::future::join_all;
use serde_json::{json, Map};
use wasm_bindgen::JsValue;
use worker::{AbortController, D1Database, Fetch, Headers, Method, Request, RequestInit};

use super::notify::delivery::{classify, next_attempt_ms, Outcome};
use super::notify::payloads::render;
use super::notify::signature::sign;
use super::notify::{AlertNotification, Channel};
use crate::config::{Channels, Config};
use crate::health::probes::with_timeout;
use crate::store::{self, ClaimedNotification, DeliveryRecord, StoreResult};
use crate::telemetry::log::{error_field, Level, Logger};

/// Rows one cron run claims at most; the rest wait for the next run.
const CLAIM_LIMIT: u32 = 50;

/// How long a claim holds: beyond any delivery's timeout, so a crashed run's rows come back.
const LEASE_MS: f64 = 5.0 * 60_000.0;

/// Sends every due notification; returns how many were delivered and how many failed.
pub async fn deliver_due(
    db: &D1Database,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
) -> StoreResult<(usize, usize)> {
    let claimed =
        store::claim_due_notifications(db, now_ms, now_ms + LEASE_MS, CLAIM_LIMIT).await?;
    let records: Vec<DeliveryRecord> = join_all(
        claimed
            .iter()
            .map(|row| deliver(row, config, logger, now_ms)),
    )
    .await;
    store::record_deliveries(db, now_ms, &records).await?;
    let failed = records.iter().filter(|r| r.failure.is_some()).count();
    Ok((records.len() - failed, failed))
}

async fn deliver(
    row: &ClaimedNotification,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
) -> DeliveryRecord {
    let result = send(row, config, now_ms).await;
    let mut fields = Map::new();
    fields.insert("channel".into(), row.channel.as_str().into());
    fields.insert("outboxId".into(), json!(row.id));
    fields.insert("attempt".into(), (row.attempts + 1).into());
    let failure = match result {
        Ok(()) => {
            logger.emit(Level::Info, "notification delivered", fields);
            None
        }
        Err(error) => {
            let retry_at = next_attempt_ms(row.attempts.saturating_add(1), now_ms);
            fields.insert("error".into(), error_field("DeliveryFailed", &error));
            fields.insert("nextAttemptMs".into(), json!(retry_at));
            logger.emit(
                Level::Warn,
                "notification delivery failed; kept in the outbox",
                fields,
            );
            Some((error, retry_at))
        }
    };
    DeliveryRecord {
        id: row.id,
        channel: row.channel.clone(),
        failure,
    }
}

/// One attempt. Errors never contain receiver URLs or keys: those are secrets.
async fn send(row: &ClaimedNotification, config: &Config, now_ms: f64) -> Result<(), String> {
    let channel =
        Channel::parse(&row.channel).ok_or_else(|| format!("unknown channel {:?}", row.channel))?;
    let notification: AlertNotification = serde_json::from_str(&row.payload)
        .map_err(|e| format!("unreadable outbox payload: {e}"))?;
    let (url, routing_key, secret) = receiver(&config.channels, channel).ok_or_else(|| {
        format!(
            "{} is not configured any more; set its secret to deliver",
            channel.as_str()
        )
    })?;
    let body = render(channel, &notification, now_ms, routing_key).to_string();

    let headers = Headers::new();
    let header_error = |_| "could not build the request headers".to_string();
    headers
        .set("Content-Type", "application/json")
        .map_err(header_error)?;
    headers
        .set("User-Agent", concat!("vigil/", env!("CARGO_PKG_VERSION")))
        .map_err(header_error)?;
    if let Some(secret) = secret {
        headers
            .set(
                "X-Vigil-Signature",
                &sign(secret.as_bytes(), body.as_bytes()),
            )
            .map_err(header_error)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request =
        Request::new_with_init(&url, &init).map_err(|_| "invalid receiver URL".to_string())?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let timeout = config.notify_timeout_ms;
    let fetch = Fetch::Request(request);
    match with_timeout(fetch.send_with_signal(&signal), timeout).await {
        None => {
            controller.abort();
            Err(format!("timeout after {timeout}ms"))
        }
        Some(Err(_)) => Err("network error: the receiver could not be reached".into()),
        Some(Ok(response)) => match classify(response.status_code()) {
            Outcome::Delivered => Ok(()),
            Outcome::Failed { retryable } => Err(format!(
                "receiver answered HTTP {}{}",
                response.status_code(),
                if retryable {
                    ""
                } else {
                    " (needs attention: retried, but unlikely to succeed)"
                }
            )),
        },
    }
}

/// The URL to post to, the PagerDuty routing key and the webhook signing secret of `channel`.
fn receiver(channels: &Channels, channel: Channel) -> Option<(String, Option<&str>, Option<&str>)> {
    match channel {
        Channel::Slack => channels.slack_webhook_url.clone().map(|u| (u, None, None)),
        Channel::Webhook => channels
            .webhook
            .as_ref()
            .map(|(u, secret)| (u.clone(), None, Some(secret.as_str()))),
        Channel::PagerDuty => channels
            .pagerduty
            .as_ref()
            .map(|(key, u)| (u.clone(), Some(key.as_str()), None)),
        Channel::Alertmanager => channels
            .alertmanager_url
            .as_ref()
            .map(|u| (format!("{u}/api/v2/alerts"), None, None)),
    }
}

/// The channels that are on: each gets its own copy of every notification.
pub fn enabled_channels(channels: &Channels) -> Vec<Channel> {
    Channel::ALL
        .into_iter()
        .filter(|&c| receiver(channels, c).is_some())
        .collect()
}
