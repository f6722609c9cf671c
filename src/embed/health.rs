//! The application's own health endpoints, with the hub's semantics: `/livez` touches nothing,
//! `/readyz` runs every check concurrently (each under its timeout; `?verbose`, `?exclude=`,
//! reasons withheld), `/readyz/{check}` runs one, `/health` answers health+json. The checks are
//! the application's bindings and the checks it registered.

use std::future::Future;
use std::pin::Pin;

use futures::future::join_all;
use serde_json::{json, Map};
use worker::Env;

use super::{delivery, Scope, Vigil};
use crate::bindings::{probe_kv, probe_r2, timed};
use crate::clock::now_ms;
use crate::serving::{self, Incoming};
use crate::telemetry::log::{error_field, Level};
use vigil_core::health::checks::{self, CheckResult, NamedCheck, ServiceIdentity, Status};
use vigil_core::http::reply::{ApiError, Reply};
use vigil_core::http::timing::ServerTiming;

/// What a registered check returns: `Ok(())`, or why it failed.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;

const ALLOW: &str = "GET, HEAD";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    D1,
    Kv,
    R2,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::D1 => "d1",
            Kind::Kv => "kv",
            Kind::R2 => "r2",
        }
    }
}

/// A binding the application asked to be checked.
#[derive(Debug, Clone)]
pub(super) struct Binding {
    kind: Kind,
    binding: String,
}

impl Binding {
    pub fn d1(binding: &str) -> Binding {
        Binding::of(Kind::D1, binding)
    }

    pub fn kv(binding: &str) -> Binding {
        Binding::of(Kind::Kv, binding)
    }

    pub fn r2(binding: &str) -> Binding {
        Binding::of(Kind::R2, binding)
    }

    fn of(kind: Kind, binding: &str) -> Binding {
        Binding {
            kind,
            binding: binding.to_string(),
        }
    }

    /// `d1`, or `d1-<binding>` when the application checks more than one D1 database.
    fn check_name(&self, all: &[Binding]) -> String {
        let alone = all.iter().filter(|b| b.kind == self.kind).count() == 1;
        if alone {
            self.kind.name().to_string()
        } else {
            format!("{}-{}", self.kind.name(), self.binding.to_ascii_lowercase())
        }
    }
}

/// A check the application registered.
#[derive(Clone)]
pub(super) struct CustomCheck {
    name: String,
    run: fn(Env) -> CheckFuture,
}

impl CustomCheck {
    pub fn new(name: &str, run: fn(Env) -> CheckFuture) -> Result<CustomCheck, String> {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "check name {name:?} must be 1 to 64 of [a-z0-9_-]; the check is skipped"
            ));
        }
        Ok(CustomCheck {
            name: name.to_string(),
            run,
        })
    }
}

/// Where the endpoints are mounted.
#[derive(Debug, Clone)]
pub(super) struct HealthEndpoints {
    prefix: String,
}

/// A request for one of the endpoints.
pub(super) struct Endpoint {
    kind: EndpointKind,
    /// The route label (`/readyz/:check`, with the prefix).
    pub template: String,
}

enum EndpointKind {
    Livez,
    Readyz,
    ReadyzCheck(String),
    Health,
    WrongMethod,
}

impl HealthEndpoints {
    pub fn at(prefix: &str) -> HealthEndpoints {
        HealthEndpoints {
            prefix: prefix.to_string(),
        }
    }

    /// A prefix such as `/_vigil` (no trailing slash; empty for the root).
    pub fn parse(prefix: &str) -> Result<HealthEndpoints, String> {
        let prefix = prefix.trim_end_matches('/');
        let valid = prefix.is_empty()
            || (prefix.starts_with('/')
                && prefix.len() <= 64
                && prefix[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)));
        if !valid {
            return Err(format!(
                "health prefix {prefix:?} must be like \"/_vigil\"; serving at the root"
            ));
        }
        Ok(HealthEndpoints::at(prefix))
    }

    pub fn resolve(&self, method: &str, path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        let (kind, template) = match rest {
            "/livez" => (EndpointKind::Livez, "/livez"),
            "/readyz" => (EndpointKind::Readyz, "/readyz"),
            "/health" => (EndpointKind::Health, "/health"),
            _ => {
                let check = rest.strip_prefix("/readyz/")?;
                (
                    EndpointKind::ReadyzCheck(check.to_string()),
                    "/readyz/:check",
                )
            }
        };
        let kind = if method == "GET" || method == "HEAD" {
            kind
        } else {
            EndpointKind::WrongMethod
        };
        Some(Endpoint {
            kind,
            template: format!("{}{template}", self.prefix),
        })
    }
}

/// Answers a request for one of the endpoints.
pub(super) async fn answer(
    vigil: &Vigil,
    endpoint: &Endpoint,
    incoming: &Incoming,
    env: &Env,
    scope: &Scope,
    timing: &mut ServerTiming,
) -> Reply {
    let verbose = incoming.has_param("verbose");
    match &endpoint.kind {
        EndpointKind::Livez => serving::livez(&incoming.accept, verbose),
        EndpointKind::WrongMethod => ApiError::method_not_allowed(&incoming.method, ALLOW)
            .into_reply(&incoming.path, &incoming.request_id),
        EndpointKind::Readyz => {
            let results = run_checks(vigil, env, scope, None, timing).await;
            let excluded = incoming.params("exclude");
            let report = checks::render_probe("readyz", &results, &excluded, verbose);
            Reply::text(report.status, report.body)
        }
        EndpointKind::ReadyzCheck(name) => {
            let results = run_checks(vigil, env, scope, Some(name), timing).await;
            match results.first() {
                Some(result) => {
                    let report = checks::render_single(result);
                    Reply::text(report.status, report.body)
                }
                None => ApiError::not_found(&incoming.path)
                    .into_reply(&incoming.path, &incoming.request_id),
            }
        }
        EndpointKind::Health => {
            let results = run_checks(vigil, env, scope, None, timing).await;
            health(vigil, &results)
        }
    }
}

/// `/health`: the checks, plus a warning while the hub does not take this isolate's counts.
fn health(vigil: &Vigil, results: &[CheckResult<NamedCheck>]) -> Reply {
    let identity = ServiceIdentity {
        service_id: &vigil.0.service,
        version: vigil_core::VERSION,
        release_id: "",
        description: "application observed by Vigil",
    };
    let slow_ms = f64::from(vigil.0.options.slow_check_ms);
    let (mut status, mut body) =
        checks::render_health(&identity, results, slow_ms, now_ms(), false);
    if delivery::last_failure().is_some() {
        status = status.max(Status::Warn);
        body["checks"]["vigil-hub:delivery"] = json!([{
            "componentId": "vigil-hub",
            "componentType": "component",
            "status": "warn",
            "output": "metrics are not reaching the Vigil hub; they are kept and retried",
        }]);
        body["status"] = status.as_str().into();
    }
    Reply::json(status.http_status(), "application/health+json", &body)
}

/// Runs every check (or only the one named `only`) concurrently, each under the timeout,
/// records their timings and logs each failure with its reason.
async fn run_checks(
    vigil: &Vigil,
    env: &Env,
    scope: &Scope,
    only: Option<&str>,
    timing: &mut ServerTiming,
) -> Vec<CheckResult<NamedCheck>> {
    let inner = &vigil.0;
    let timeout = inner.options.check_timeout_ms;
    let bindings = inner.bindings.iter().map(|b| {
        let check = NamedCheck {
            name: b.check_name(&inner.bindings),
            component_type: if b.kind == Kind::D1 {
                "datastore"
            } else {
                "component"
            },
        };
        (check, Box::pin(probe_binding(env, scope, b)) as CheckFuture)
    });
    let custom = inner.checks.iter().map(|c| {
        let check = NamedCheck {
            name: c.name.clone(),
            component_type: "component",
        };
        (check, (c.run)(env.clone()))
    });
    let selected = bindings
        .chain(custom)
        .filter(|(check, _)| only.is_none_or(|name| check.name == name));
    let results = join_all(selected.map(|(check, run)| timed(check, run, timeout))).await;
    for result in &results {
        timing.record(&result.check.name, result.duration_ms);
        if let Some(reason) = &result.error {
            let mut fields = Map::new();
            fields.insert("requestId".into(), scope.request_id().into());
            fields.insert("check".into(), result.check.name.clone().into());
            fields.insert("error".into(), error_field("CheckFailed", reason));
            scope
                .logger()
                .emit(Level::Warn, "readiness check failed", fields);
        }
    }
    results
}

fn probe_binding(env: &Env, scope: &Scope, binding: &Binding) -> CheckFuture {
    let (env, scope, binding) = (env.clone(), scope.clone(), binding.clone());
    Box::pin(async move {
        let name = &binding.binding;
        match binding.kind {
            Kind::D1 => {
                let db = scope
                    .d1(&env, name)
                    .map_err(|_| format!("D1 binding {name} is not configured"))?;
                db.prepare("SELECT 1")
                    .all()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Kind::Kv => probe_kv(&env, name).await,
            Kind::R2 => probe_r2(&env, name).await,
        }
    })
}
