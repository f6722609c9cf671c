//! Sending one notification: an HTTP POST to a receiver (signed for webhooks that have a
//! secret), or a mail through the `send_email` binding. Outcomes are classified for the retry
//! policy; errors never carry a receiver's URL or key, which are secrets.

use wasm_bindgen::JsValue;
use worker::{AbortController, EmailMessage, Env, Fetch, Headers, Method, Request, RequestInit};

use super::notify::delivery::{classify, Failure, Outcome};
use super::notify::payloads::{alertmanager, email, pagerduty, slack, webhook, Batch};
use super::notify::receivers::Target;
use super::notify::signature::sign;
use crate::timeout::with_timeout;

/// The `send_email` binding email receivers use.
pub const EMAIL_BINDING: &str = "EMAIL";

/// Sends `batch` to `target` (one request, or one mail per recipient).
pub async fn send(
    env: &Env,
    target: &Target,
    batch: &Batch<'_>,
    timeout_ms: u32,
    now_ms: f64,
) -> Result<(), Failure> {
    let (url, body, secret) = match target {
        Target::Slack { url } => (url.expose().to_string(), slack(batch), None),
        Target::Webhook {
            url,
            signing_secret,
        } => (
            url.expose().to_string(),
            webhook(batch, now_ms),
            signing_secret.as_ref(),
        ),
        Target::PagerDuty {
            routing_key,
            events_url,
        } => {
            // PagerDuty takes one event per alert: its batches hold one row.
            let Some(alert) = batch.alerts.first() else {
                return Ok(());
            };
            let body = pagerduty(alert, now_ms, routing_key.expose());
            (events_url.clone(), body, None)
        }
        Target::Alertmanager { url } => (
            format!("{}/api/v2/alerts", url.expose()),
            alertmanager(batch.alerts, now_ms),
            None,
        ),
        Target::Email { from, to } => return mail(env, from, to, batch, timeout_ms, now_ms).await,
    };
    let secret = secret.map(|s| s.expose());
    post(&url, &body.to_string(), secret, timeout_ms).await
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

/// Mails `batch` to each of `to` through the `send_email` binding (its messages have one
/// envelope recipient each). A missing binding is permanent: it needs a deploy to heal.
async fn mail(
    env: &Env,
    from: &str,
    to: &[String],
    batch: &Batch<'_>,
    timeout: u32,
    now_ms: f64,
) -> Result<(), Failure> {
    let binding = env.send_email(EMAIL_BINDING).map_err(|_| {
        Failure::permanent(format!(
            "the {EMAIL_BINDING} send_email binding is missing; add it to wrangler.toml"
        ))
    })?;
    let domain = from.rsplit('@').next().unwrap_or("vigil.invalid");
    let message_id = format!("<{}@{domain}>", uuid::Uuid::new_v4());
    let raw = email::message(batch, from, to, now_ms, &message_id);
    for recipient in to {
        let message = EmailMessage::new(from, recipient, &raw)
            .map_err(|_| Failure::permanent("the mail could not be built".into()))?;
        match with_timeout(binding.send(&message), timeout).await {
            None => return Err(Failure::retryable(format!("timeout after {timeout}ms"))),
            Some(Err(e)) => {
                let reason = String::from(e.message());
                return Err(Failure::retryable(format!("send_email: {reason}")));
            }
            Some(Ok(_)) => {}
        }
    }
    Ok(())
}
