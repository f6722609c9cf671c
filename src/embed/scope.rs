//! What the application's handler gets for one request: its id, the route it may name, the
//! logger, and D1 handles that count their statements for the access log.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::{Env, Result};

use super::d1::Database;
use super::Vigil;
use crate::telemetry::log::Logger;

struct Inner {
    /// The application's Vigil: service, logger and slow-query threshold.
    vigil: Vigil,
    request_id: String,
    d1_statements: Cell<u32>,
    route: RefCell<Option<String>>,
    /// False only for [`Scope::unobserved`].
    observed: bool,
}

/// One request's view of Vigil. Cheap to clone.
#[derive(Clone)]
pub struct Scope(Rc<Inner>);

impl Scope {
    pub(super) fn new(vigil: &Vigil, request_id: &str) -> Scope {
        Scope::build(vigil, request_id, true)
    }

    fn build(vigil: &Vigil, request_id: &str, observed: bool) -> Scope {
        Scope(Rc::new(Inner {
            vigil: vigil.clone(),
            request_id: request_id.to_string(),
            d1_statements: Cell::new(0),
            route: RefCell::new(None),
            observed,
        }))
    }

    /// A scope that observes nothing: for running the application's handlers without Vigil,
    /// e.g. to measure what Vigil costs. Its D1 handles count and log nothing.
    pub fn unobserved() -> Scope {
        Scope::build(&Vigil::new("unobserved"), "", false)
    }

    /// The request id (the caller's `X-Request-Id` if valid, else a new UUID), for the
    /// application's own log lines and outbound calls.
    pub fn request_id(&self) -> &str {
        &self.0.request_id
    }

    /// The logger Vigil writes the access line with (same service, environment and version).
    pub fn logger(&self) -> &Logger {
        self.0.vigil.logger()
    }

    /// Names the request's route template, e.g. from the application's router, in place of
    /// the declared templates.
    pub fn set_route(&self, template: &str) {
        self.0.route.replace(Some(template.to_string()));
    }

    /// The D1 database bound as `binding`, instrumented: each statement is counted for this
    /// request (`d1Operations`) and in `vigil_d1_*`, and slow ones are logged.
    pub fn d1(&self, env: &Env, binding: &str) -> Result<Database> {
        Ok(Database::new(env.d1(binding)?, self.clone()))
    }

    pub(super) fn route(&self) -> Option<String> {
        self.0.route.borrow().clone()
    }

    pub(super) fn d1_statements(&self) -> u32 {
        self.0.d1_statements.get()
    }

    pub(super) fn count_statements(&self, n: usize) {
        let total = self.0.d1_statements.get().saturating_add(n as u32);
        self.0.d1_statements.set(total);
    }

    pub(super) fn observed(&self) -> bool {
        self.0.observed
    }

    pub(super) fn service(&self) -> &str {
        &self.0.vigil.0.service
    }

    pub(super) fn slow_query_ms(&self) -> u32 {
        self.0.vigil.0.options.slow_query_ms
    }
}
