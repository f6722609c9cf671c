//! Vigil inside an application worker. The application keeps its own router; its `fetch` hands
//! each request to [`Vigil::serve`] with the handler, and its `scheduled` calls
//! [`Vigil::flush`]. Every request then gets a request id, `Server-Timing`, the JSON access-log
//! line, an Analytics Engine datapoint and RED metrics under the application's route
//! templates; Vigil serves the application's own `/livez`, `/readyz`, `/readyz/{check}` and
//! `/health` (at the root or under a prefix); and the handler's [`Scope`] hands out an
//! instrumented D1 handle. Counts travel to the hub's aggregator through the `AGGREGATOR`
//! Durable Object binding (`script_name` = the hub).
//!
//! ```text
//! thread_local! {
//!     static VIGIL: Vigil = Vigil::new("notes")
//!         .routes(&["/notes", "/notes/:id"])
//!         .d1("DB")
//!         .kv("CACHE");
//! }
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
//!     let vigil = VIGIL.with(Vigil::clone);
//!     vigil.serve(req, env, ctx, |req, env, scope| app::route(req, env, scope)).await
//! }
//! ```

mod d1;
mod delivery;
mod health;
mod scope;

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use worker::{Context, Delay, Env, Request, Response, Result};

use crate::clock::now_ms;
use crate::console::SINK;
use crate::serving::{self, Incoming};
use crate::telemetry::log::{error_field, Level, Logger};
use crate::telemetry::metrics::Served;
use crate::telemetry::pipeline;
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::templates::RouteTemplates;
use vigil_core::http::timing::ServerTiming;
use vigil_core::telemetry::ingest::MAX_LABEL_LEN;

pub use d1::{Database, Statement};
pub use health::CheckFuture;
pub use scope::Scope;

use health::{Binding, CustomCheck, HealthEndpoints};

/// How the wrapper behaves; every field has a default that suits most applications.
#[derive(Debug, Clone)]
struct Options {
    /// Least interval between two shipments of this isolate's counts to the hub.
    flush_seconds: u32,
    /// Each readiness check's own timeout.
    check_timeout_ms: u32,
    /// A check slower than this shows `warn` in `/health`.
    slow_check_ms: u32,
    /// A D1 statement slower than this is logged at `warn`.
    slow_query_ms: u32,
}

#[derive(Clone)]
struct Inner {
    service: String,
    routes: RouteTemplates,
    endpoints: HealthEndpoints,
    bindings: Vec<Binding>,
    checks: Vec<CustomCheck>,
    options: Options,
    /// Writes the access lines: service and environment are fixed once built.
    logger: Logger,
    /// What the builder refused (a malformed template, an invalid name), logged with every
    /// request's access line until fixed; the application keeps serving meanwhile.
    problems: Vec<String>,
}

/// Vigil for one application: its service name, route templates, readiness checks and
/// options. Cheap to clone; build it once per isolate (e.g. in a `thread_local!`).
#[derive(Clone)]
pub struct Vigil(Rc<Inner>);

impl Vigil {
    /// Vigil for the application `service` (its `service` label at the hub: 1 to 200 bytes).
    pub fn new(service: &str) -> Vigil {
        let mut problems = Vec::new();
        let service = if service.is_empty() || service.len() > MAX_LABEL_LEN {
            problems.push(format!(
                "service name must have 1 to {MAX_LABEL_LEN} bytes; counting as \"app\""
            ));
            "app".to_string()
        } else {
            service.to_string()
        };
        Vigil(Rc::new(Inner {
            routes: RouteTemplates::default(),
            endpoints: HealthEndpoints::at(""),
            bindings: Vec::new(),
            checks: Vec::new(),
            options: Options {
                flush_seconds: 10,
                check_timeout_ms: 2_000,
                slow_check_ms: 500,
                slow_query_ms: 100,
            },
            logger: Logger::new(Level::Info, &service, "production", SINK),
            service,
            problems,
        }))
    }

    fn change(mut self, edit: impl FnOnce(&mut Inner)) -> Vigil {
        edit(Rc::make_mut(&mut self.0));
        self
    }

    /// The application's route templates (`/notes/:id`, `/assets/*`): request metrics are
    /// labelled with the one a path matches. A handler may name its route itself
    /// ([`Scope::set_route`]); a path neither names is `unmatched` when answered 404, else its
    /// ids are replaced by `:id`.
    pub fn routes(self, templates: &[&str]) -> Vigil {
        self.change(|inner| match RouteTemplates::parse(templates) {
            Ok(routes) => inner.routes = routes,
            Err(problem) => inner.problems.push(problem),
        })
    }

    /// Serves the health endpoints under `prefix` (e.g. `/_vigil`) instead of the root, so
    /// they cannot collide with the application's routes.
    pub fn health_at(self, prefix: &str) -> Vigil {
        self.change(|inner| match HealthEndpoints::parse(prefix) {
            Ok(endpoints) => inner.endpoints = endpoints,
            Err(problem) => inner.problems.push(problem),
        })
    }

    /// Checks the D1 database bound as `binding` (readiness check `d1`, or `d1-<binding>`
    /// when the application checks several).
    pub fn d1(self, binding: &str) -> Vigil {
        self.change(|inner| inner.bindings.push(Binding::d1(binding)))
    }

    /// Checks the KV namespace bound as `binding`.
    pub fn kv(self, binding: &str) -> Vigil {
        self.change(|inner| inner.bindings.push(Binding::kv(binding)))
    }

    /// Checks the R2 bucket bound as `binding`.
    pub fn r2(self, binding: &str) -> Vigil {
        self.change(|inner| inner.bindings.push(Binding::r2(binding)))
    }

    /// Registers a readiness check: `check(env)` resolves to `Ok(())` or the reason it failed
    /// (logged and shown nowhere public). It runs with the others, under the check timeout.
    pub fn check(self, name: &str, check: fn(Env) -> CheckFuture) -> Vigil {
        self.change(|inner| match CustomCheck::new(name, check) {
            Ok(check) => inner.checks.push(check),
            Err(problem) => inner.problems.push(problem),
        })
    }

    /// Logs D1 statements slower than `ms` at `warn` (default 100 ms).
    pub fn slow_query_ms(self, ms: u32) -> Vigil {
        self.change(|inner| inner.options.slow_query_ms = ms)
    }

    /// Ships counts to the hub at most every `seconds` (default 10; 0 = after every request).
    pub fn flush_seconds(self, seconds: u32) -> Vigil {
        self.change(|inner| inner.options.flush_seconds = seconds)
    }

    /// The `environment` field of log lines (default `production`).
    pub fn environment(self, environment: &str) -> Vigil {
        self.change(|inner| {
            inner.logger = Logger::new(Level::Info, &inner.service, environment, SINK);
        })
    }

    fn logger(&self) -> &Logger {
        &self.0.logger
    }

    /// Serves one request: Vigil's health endpoints itself, everything else through `handler`,
    /// observing both. An `Err` from the handler becomes a problem+json 500 whose reason goes
    /// to the log only.
    pub async fn serve<H, F>(
        &self,
        req: Request,
        env: Env,
        ctx: Context,
        handler: H,
    ) -> Result<Response>
    where
        H: FnOnce(Request, Env, Scope) -> F,
        F: Future<Output = Result<Response>>,
    {
        let started_ms = now_ms();
        let incoming = Incoming::read(&req);
        let scope = Scope::new(self, &incoming.request_id);
        let mut timing = ServerTiming::default();
        let endpoint = self.0.endpoints.resolve(&incoming.method, &incoming.path);
        let health_check = endpoint.is_some();
        let (answer, route, error) = match endpoint {
            Some(endpoint) => {
                let reply =
                    health::answer(self, &endpoint, &incoming, &env, &scope, &mut timing).await;
                (Answer::Vigil(reply), endpoint.template, None)
            }
            None => {
                let outcome = handler(req, env.clone(), scope.clone()).await;
                self.app_answer(outcome, &incoming, &scope)
            }
        };
        let finished_ms = now_ms();
        let duration_ms = finished_ms - started_ms;
        let status = answer.status();
        let facts = incoming.facts(&route, status, duration_ms, scope.d1_statements());
        let error = error.or_else(|| self.problems_field());
        serving::observe(&incoming, &facts, error, &env, self.logger());
        if health_check {
            pipeline::record_health_check(finished_ms);
        } else {
            self.count(&incoming, &route, status, duration_ms, finished_ms);
        }
        self.ship_when_due(&env, &ctx, finished_ms);
        let server_timing = timing.header(duration_ms);
        match answer {
            Answer::Vigil(reply) => serving::to_response(
                reply,
                incoming.method == "HEAD",
                &incoming.request_id,
                &server_timing,
            ),
            Answer::App(response) => serving::stamp(response, &incoming.request_id, &server_timing),
        }
    }

    /// Ships the isolate's counts when the flush interval has passed; otherwise, for the first
    /// unshipped count, within the interval even if no request follows, so no cron (which
    /// `wrangler dev` never fires) is needed.
    fn ship_when_due(&self, env: &Env, ctx: &Context, finished_ms: f64) {
        let flush_seconds = self.0.options.flush_seconds;
        if pipeline::flush_due(finished_ms, flush_seconds) {
            let (env, vigil) = (env.clone(), self.clone());
            ctx.wait_until(async move { delivery::ship(&env, vigil.logger(), finished_ms).await });
        } else if delivery::arm_delayed_ship() {
            let (env, vigil) = (env.clone(), self.clone());
            ctx.wait_until(async move {
                Delay::from(Duration::from_secs(u64::from(flush_seconds))).await;
                delivery::ship_delayed(&env, vigil.logger()).await;
            });
        }
    }

    /// The application's answer, its route label and, for an `Err`, the error to log: the
    /// caller gets a problem+json 500 without the reason.
    fn app_answer(
        &self,
        outcome: Result<Response>,
        incoming: &Incoming,
        scope: &Scope,
    ) -> (Answer, String, Option<serde_json::Value>) {
        let label = |status| {
            scope
                .route()
                .unwrap_or_else(|| self.0.routes.label(&incoming.path, status))
        };
        match outcome {
            Ok(response) => {
                let route = label(response.status_code());
                (Answer::App(response), route, None)
            }
            Err(e) => {
                let detail = "the request failed; the reason is in the log under its request id";
                let problem = ApiError::new(500, "Internal Server Error", detail);
                let reply = problem.into_reply(&incoming.path, &incoming.request_id);
                let error = error_field("HandlerError", &crate::errors::describe(&e));
                (Answer::Vigil(reply), label(500), Some(error))
            }
        }
    }

    /// Counts the request in the isolate's pipeline under the application's service.
    fn count(&self, incoming: &Incoming, route: &str, code: u16, duration_ms: f64, at_ms: f64) {
        let served = Served {
            service: &self.0.service,
            route,
            method: &incoming.method,
            code,
            duration_ms,
        };
        pipeline::record(at_ms, &served);
    }

    /// Ships this isolate's counts to the hub now: call it from the application's `scheduled`
    /// handler, so an isolate that went quiet does not sit on its counts.
    pub async fn flush(&self, env: &Env) {
        delivery::ship(env, self.logger(), now_ms()).await;
    }

    fn problems_field(&self) -> Option<serde_json::Value> {
        (!self.0.problems.is_empty())
            .then(|| error_field("VigilConfiguration", &self.0.problems.join("; ")))
    }
}

/// Who answered a request.
enum Answer {
    /// Vigil itself: a health endpoint, or the problem document of a failed handler.
    Vigil(Reply),
    App(Response),
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Vigil(reply) => reply.status,
            Answer::App(response) => response.status_code(),
        }
    }
}
