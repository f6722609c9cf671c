//! A sender for the integration tests. `POST /send?service=S&route=R&code=C&count=N` counts N
//! requests of one series in this isolate, as a worker serving them would, and ships the
//! isolate's batch to the hub's aggregator with the library's client: each call stands for one
//! isolate's flush. `/hub-cron?time=MS` runs the hub's scheduled handler at `MS`; every other
//! request goes to the hub, which `wrangler dev` exposes only through this worker.

use vigil::aggregator::client;
use vigil::telemetry::metrics::Served;
use vigil::telemetry::pipeline;
use worker::js_sys::{Function, Object, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Date, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match url.path() {
        "/send" => {
            let service = param("service").unwrap_or_else(|| "api".into());
            let route = param("route").unwrap_or_else(|| "/".into());
            let code: u16 = param("code").and_then(|c| c.parse().ok()).unwrap_or(200);
            let count: u32 = param("count").and_then(|c| c.parse().ok()).unwrap_or(1);
            let now = Date::now().as_millis() as f64;
            for _ in 0..count {
                let served = Served {
                    service: &service,
                    route: &route,
                    method: "GET",
                    code,
                    duration_ms: 12.0,
                };
                pipeline::record(now, &served);
            }
            match client::ship(&env, now).await {
                Ok(()) => Response::ok("sent"),
                Err(e) => Response::error(e.to_string(), 503),
            }
        }
        "/hub-cron" => {
            let time: f64 = param("time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
            run_hub_cron(&env, time).await?;
            Response::ok("ran")
        }
        _ => env.service("HUB")?.fetch_request(req).await,
    }
}

/// Runs the hub's scheduled handler through the service binding (workerd's `Fetcher.scheduled`,
/// which the `worker` crate does not wrap).
async fn run_hub_cron(env: &Env, time_ms: f64) -> Result<()> {
    let hub = env.service("HUB")?;
    let scheduled: Function = Reflect::get(hub.as_ref(), &"scheduled".into())?.dyn_into()?;
    let options = Object::new();
    Reflect::set(&options, &"scheduledTime".into(), &JsValue::from(time_ms))?;
    Reflect::set(&options, &"cron".into(), &"* * * * *".into())?;
    let promise: Promise = scheduled.call1(hub.as_ref(), &options)?.dyn_into()?;
    JsFuture::from(promise).await?;
    Ok(())
}
