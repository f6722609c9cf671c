//! Delivers what the outbox holds: claims due rows, sends each to its receiver with a timeout,
//! and records the outcome. The shell around the pure `notify` module.
//!
//! Rows are claimed atomically (a lease), so overlapping cron runs never send the same row, and
//! in order per alert and channel; all claimed rows are sent concurrently, so a hanging receiver
//! costs the run one timeout, not one per row. A failure stays in the outbox with its error and a
//! backoff; a permanent one is dead-lettered after a few attempts and stays visible.

use futures::future::join_all;
use serde_json::{json, Map};
use wasm_bindgen::JsValue;
use worker::{AbortController, Fetch, Headers, Method, Request, RequestInit};

use super::notify::delivery::{classify, next_attempt_ms, settle, Failure, Outcome, Settled};
use super::notify::payloads::render;
use super::notify::signature::sign;
use super::notify::{AlertNotification, Channel};
use crate::config::{Channels, Config};
use crate::store::{ClaimedNotification, DeliveryOutcome, DeliveryRecord, Store, StoreResult};
use crate::telemetry::log::{error_field, Level, Logger};
use crate::timeout::with_timeout;

/// Rows one cron run claims at most (within its subrequest budget); the rest wait for the next
/// run.
const CLAIM_LIMIT: u32 = 50;

/// How long a claim holds: beyond any delivery's timeout, so a crashed run's rows come back.
const LEASE_MS: f64 = 5.0 * 60_000.0;

/// Sends the due notifications, at most `subrequests` of them (each is one request); returns
/// how many were delivered and how many failed.
pub async fn deliver_due(
    store: &Store,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
    subrequests: u32,
) -> StoreResult<(usize, usize)> {
    let limit = CLAIM_LIMIT.min(subrequests);
    if limit == 0 {
        return Ok((0, 0));
    }
    let claimed = store
        .claim_due_notifications(now_ms, now_ms + LEASE_MS, limit)
        .await?;
    let records: Vec<DeliveryRecord> = join_all(
        claimed
            .iter()
            .map(|row| deliver(row, config, logger, now_ms)),
    )
    .await;
    store.record_deliveries(now_ms, &records).await?;
    let failed = records
        .iter()
        .filter(|r| r.outcome != DeliveryOutcome::Delivered)
        .count();
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
    let attempts = row.attempts.saturating_add(1);
    let outcome = match result {
        Ok(()) => {
            logger.emit(Level::Info, "notification delivered", fields);
            DeliveryOutcome::Delivered
        }
        Err(failure) => {
            fields.insert(
                "error".into(),
                error_field("DeliveryFailed", &failure.reason),
            );
            match settle(&failure, attempts) {
                Settled::Retry => {
                    let retry_at_ms = next_attempt_ms(attempts, now_ms);
                    fields.insert("nextAttemptMs".into(), json!(retry_at_ms));
                    let message = "notification delivery failed; kept in the outbox";
                    logger.emit(Level::Warn, message, fields);
                    DeliveryOutcome::Retry {
                        error: failure.reason,
                        retry_at_ms,
                    }
                }
                Settled::Dead => {
                    let message =
                        "notification dead-lettered: a permanent failure, no more retries";
                    logger.emit(Level::Error, message, fields);
                    DeliveryOutcome::Dead {
                        error: failure.reason,
                    }
                }
            }
        }
    };
    DeliveryRecord {
        id: row.id,
        channel: row.channel.clone(),
        outcome,
    }
}

/// One attempt. Errors never contain receiver URLs or keys: those are secrets.
async fn send(row: &ClaimedNotification, config: &Config, now_ms: f64) -> Result<(), Failure> {
    let channel = Channel::parse(&row.channel)
        .ok_or_else(|| Failure::permanent(format!("unknown channel {:?}", row.channel)))?;
    let notification: AlertNotification = serde_json::from_str(&row.payload)
        .map_err(|e| Failure::permanent(format!("unreadable outbox payload: {e}")))?;
    let (url, routing_key, secret) = receiver(&config.channels, channel).ok_or_else(|| {
        Failure::permanent(format!(
            "{} is not configured any more; set its secret to deliver",
            channel.as_str()
        ))
    })?;
    let body = render(channel, &notification, now_ms, routing_key).to_string();
    post(&url, &body, secret, config.notify_timeout_ms).await
}

/// Posts `body` as JSON, signed when there is a `secret`, and classifies the answer.
async fn post(url: &str, body: &str, secret: Option<&str>, timeout: u32) -> Result<(), Failure> {
    let headers = Headers::new();
    let header_error = |_| Failure::retryable("could not build the request headers".into());
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
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(url, &init)
        .map_err(|_| Failure::permanent("invalid receiver URL".into()))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    match with_timeout(fetch.send_with_signal(&signal), timeout).await {
        None => {
            controller.abort();
            Err(Failure::retryable(format!("timeout after {timeout}ms")))
        }
        Some(Err(_)) => Err(Failure::retryable(
            "network error: the receiver could not be reached".into(),
        )),
        Some(Ok(response)) => match classify(response.status_code()) {
            Outcome::Delivered => Ok(()),
            Outcome::Failed { retryable } => Err(Failure {
                reason: format!("receiver answered HTTP {}", response.status_code()),
                retryable,
            }),
        },
    }
}

/// The URL to post to, the PagerDuty routing key and the webhook signing secret of `channel`.
fn receiver(channels: &Channels, channel: Channel) -> Option<(String, Option<&str>, Option<&str>)> {
    match channel {
        Channel::Slack => channels
            .slack
            .as_ref()
            .map(|u| (u.expose().to_string(), None, None)),
        Channel::Webhook => channels.webhook.as_ref().map(|w| {
            let secret = Some(w.signing_secret.expose());
            (w.url.expose().to_string(), None, secret)
        }),
        Channel::PagerDuty => channels.pagerduty.as_ref().map(|p| {
            let key = Some(p.routing_key.expose());
            (p.events_url.clone(), key, None)
        }),
        Channel::Alertmanager => channels
            .alertmanager
            .as_ref()
            .map(|u| (format!("{}/api/v2/alerts", u.expose()), None, None)),
    }
}

/// The channels that are on: each gets its own copy of every notification.
pub fn enabled_channels(channels: &Channels) -> Vec<Channel> {
    Channel::ALL
        .into_iter()
        .filter(|&c| receiver(channels, c).is_some())
        .collect()
}
