//! One probe check: the request (redirects followed by hand, each hop a subrequest drawn from
//! the run's budget), a body read of at most `MAX_BODY_BYTES` when an assertion needs it, all
//! under the probe's timeout.
//! Whatever the target does (never answers, trickles, loops, sends gigabytes, fails DNS or
//! TLS), the check ends within its timeout with a reason.

use std::cell::Cell;

use futures::StreamExt;
use wasm_bindgen::JsValue;
use worker::{AbortController, AbortSignal, Env, Fetch, Headers, Request, RequestInit, Url};
use worker::{Method, RequestRedirect, Response};

use crate::clock::now_ms;
use crate::errors::describe;
use crate::timeout::with_timeout;
use vigil_core::probes::batch::Outcome;
use vigil_core::probes::spec::{HeaderValue, ProbeMethod, ProbeSpec};
use vigil_core::probes::verdict::{judge, Observation, MAX_BODY_BYTES};

/// Runs one check and judges it; `spare` holds the subrequests left for redirect hops.
pub async fn check(spec: &ProbeSpec, env: &Env, spare: &Cell<u32>) -> Outcome {
    let started = now_ms();
    let controller = AbortController::default();
    let signal = controller.signal();
    let outcome = with_timeout(follow(spec, env, &signal, spare, started), spec.timeout_ms).await;
    // Ends whatever is still open: a trickling body, a hung connection, an unread body.
    controller.abort();
    let observed = match outcome {
        Some(Hop::Deferred) => return Outcome::Deferred,
        Some(Hop::Done(observed)) => observed,
        None => Err(format!("timeout after {} ms", spec.timeout_ms)),
    };
    let http_status = observed.as_ref().ok().map(|o| o.status);
    Outcome::done(
        judge(&spec.expect, &observed),
        now_ms() - started,
        http_status,
    )
}

enum Hop {
    Done(Result<Observation, String>),
    Deferred,
}

async fn follow(
    spec: &ProbeSpec,
    env: &Env,
    signal: &AbortSignal,
    spare: &Cell<u32>,
    started: f64,
) -> Hop {
    let headers = match headers(spec, env) {
        Ok(headers) => headers,
        Err(reason) => return Hop::Done(Err(reason)),
    };
    let mut url = spec.url.clone();
    let mut method = spec.method;
    let mut body = spec.body.clone();
    for hop in 0..=spec.max_redirects {
        let response = match send(&url, method, &headers, body.as_deref(), signal).await {
            Ok(response) => response,
            Err(reason) => return Hop::Done(Err(reason)),
        };
        let status = response.status_code();
        let location = response.headers().get("Location").ok().flatten();
        let (true, Some(location)) = ((300..400).contains(&status), location) else {
            return Hop::Done(read(response, spec, method, started).await);
        };
        if spec.max_redirects == 0 {
            return Hop::Done(read(response, spec, method, started).await);
        }
        if hop == spec.max_redirects {
            let max = spec.max_redirects;
            return Hop::Done(Err(format!("more than {max} redirects (max_redirects)")));
        }
        match spare.get().checked_sub(1) {
            Some(left) => spare.set(left),
            None => return Hop::Deferred,
        }
        url = match Url::parse(&url).and_then(|base| base.join(&location)) {
            Ok(next) => next.to_string(),
            Err(_) => {
                return Hop::Done(Err(format!(
                    "HTTP {status} redirects to an invalid Location"
                )))
            }
        };
        // As browsers do: 303 (and 301/302 after a POST) become GET without a body.
        if status == 303 || (matches!(status, 301 | 302) && method == ProbeMethod::Post) {
            method = ProbeMethod::Get;
            body = None;
        }
    }
    Hop::Done(Err("redirects not followed".into()))
}

/// The probe's headers, secrets read from the environment. A missing secret fails the check
/// with its name, never a value.
fn headers(spec: &ProbeSpec, env: &Env) -> Result<Headers, String> {
    let headers = Headers::new();
    let agent = concat!("vigil-probe/", env!("CARGO_PKG_VERSION"));
    let _ = headers.set("User-Agent", agent);
    for (name, value) in &spec.headers {
        let value = match value {
            HeaderValue::Plain(value) => value.clone(),
            HeaderValue::Secret(secret) => env
                .secret(secret)
                .map(|s| s.to_string())
                .map_err(|_| format!("secret {secret} (header {name}) is not set"))?,
        };
        headers
            .set(name, &value)
            .map_err(|_| format!("header {name} cannot be sent"))?;
    }
    Ok(headers)
}

async fn send(
    url: &str,
    method: ProbeMethod,
    headers: &Headers,
    body: Option<&str>,
    signal: &AbortSignal,
) -> Result<Response, String> {
    let mut init = RequestInit::new();
    init.with_method(Method::from(method.as_str().to_string()))
        .with_headers(headers.clone())
        .with_redirect(RequestRedirect::Manual)
        .with_body(body.map(JsValue::from_str));
    let request = Request::new_with_init(url, &init)
        .map_err(|e| format!("invalid request: {}", describe(&e)))?;
    Fetch::Request(request)
        .send_with_signal(signal)
        .await
        .map_err(|e| format!("request failed: {}", describe(&e)))
}

/// Reads at most `MAX_BODY_BYTES` of the body when an assertion needs it (the timeout bounds a
/// slow one); an unread body is cancelled by the check's abort.
async fn read(
    mut response: Response,
    spec: &ProbeSpec,
    method: ProbeMethod,
    started: f64,
) -> Result<Observation, String> {
    let status = response.status_code();
    let mut body = Vec::new();
    let mut truncated = false;
    if method != ProbeMethod::Head && spec.expect.reads_body() {
        let mut stream = response
            .stream()
            .map_err(|e| format!("HTTP {status}, body unreadable: {}", describe(&e)))?;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| format!("HTTP {status}, body read failed: {}", describe(&e)))?;
            let room = MAX_BODY_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(Observation {
        status,
        latency_ms: now_ms() - started,
        body,
        truncated,
    })
}
