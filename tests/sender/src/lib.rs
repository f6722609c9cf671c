//! A sender for the integration tests and benchmarks. Each
//! `POST /send?service=S&route=R&code=C&count=N[&at=MS][&hold=1][&write=now]` counts N requests
//! of one series in this isolate, as a worker serving them would, and ships the isolate's batch
//! to the hub's aggregator with the library's client: each call stands for one isolate's flush.
//! Every other request goes to the hub, which `wrangler dev` exposes only through this worker
//! (the first config gets the port).

use vigil::aggregator::client::{self, Ack, Delivery};
use vigil::telemetry::metrics::Served;
use vigil::telemetry::pipeline;
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
            // `at` (epoch ms) places the requests in another minute, so tests can drive time.
            let now = param("at")
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| Date::now().as_millis() as f64);
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
            // `hold=1` keeps the counts for a later call: one batch can carry many series.
            if param("hold").is_some() {
                return Response::ok("held");
            }
            // `write=now` asks the aggregator to write at once instead of at its minute.
            let delivery = match param("write").as_deref() {
                Some("now") => Delivery::MergeAndWrite,
                _ => Delivery::Merge,
            };
            match client::ship(&env, now, delivery).await {
                Ok(Ack::Merged) => Response::ok("sent"),
                Ok(Ack::WriteFailed(reason)) => Response::error(reason, 502),
                Err(e) => Response::error(e.to_string(), 503),
            }
        }
        _ => env.service("HUB")?.fetch_request(req).await,
    }
}
