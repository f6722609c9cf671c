//! The application's D1 database, instrumented. Every statement is counted for its request
//! (`d1Operations` in the access log) and in the isolate's query stats (outcome, duration, and
//! the rows D1's result meta reports), and one slower than the threshold is logged at `warn`
//! with its SQL text (never its bound parameters). Errors come back as plain worker errors
//! whose text is safe to display.

use serde::de::DeserializeOwned;
use serde_json::Map;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Error, Result};

use super::scope::Scope;
use crate::clock::now_ms;
use crate::errors::describe;
use crate::telemetry::log::{truncate, Level};
use crate::telemetry::pipeline;
use crate::telemetry::queries::{Query, QueryOutcome};

/// SQL text kept in a slow-query log line.
const MAX_SQL_LOGGED: usize = 300;

/// A D1 database whose statements Vigil observes.
pub struct Database {
    db: D1Database,
    scope: Scope,
}

impl Database {
    pub(super) fn new(db: D1Database, scope: Scope) -> Database {
        Database { db, scope }
    }

    pub fn prepare(&self, sql: &str) -> Statement {
        Statement {
            inner: self.db.prepare(sql),
            sql: sql.to_string(),
            scope: self.scope.clone(),
        }
    }

    /// Runs `statements` as one batch (one round trip, one transaction). Each counts as one
    /// statement with its own rows and an equal share of the batch's duration.
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<D1Result>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let count = statements.len();
        let sql = statements
            .first()
            .map(|s| s.sql.clone())
            .unwrap_or_default();
        let inner = statements.into_iter().map(|s| s.inner).collect();
        let started = now_ms();
        let result = self.db.batch(inner).await;
        let share = (now_ms() - started) / count as f64;
        match &result {
            Ok(results) => {
                for r in results {
                    observe(&self.scope, &sql, share, Some(r));
                }
            }
            Err(_) => (0..count).for_each(|_| observe(&self.scope, &sql, share, None)),
        }
        result.map_err(plain)
    }
}

/// A prepared statement; it is observed when it runs.
pub struct Statement {
    inner: D1PreparedStatement,
    sql: String,
    scope: Scope,
}

impl Statement {
    pub fn bind(self, values: &[JsValue]) -> Result<Statement> {
        Ok(Statement {
            inner: self.inner.bind(values).map_err(plain)?,
            ..self
        })
    }

    /// Every row, with D1's meta.
    pub async fn all(&self) -> Result<D1Result> {
        self.observed(self.inner.all()).await
    }

    /// Runs a statement that returns no rows (or whose rows are not needed).
    pub async fn run(&self) -> Result<D1Result> {
        self.observed(self.inner.run()).await
    }

    /// The first row, if any. (Read through `all`, whose result carries the meta that D1's
    /// `first` does not.)
    pub async fn first<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let rows: Vec<T> = self.all().await?.results()?;
        Ok(rows.into_iter().next())
    }

    async fn observed(
        &self,
        run: impl std::future::Future<Output = Result<D1Result>>,
    ) -> Result<D1Result> {
        let started = now_ms();
        let result = run.await;
        let duration_ms = now_ms() - started;
        observe(&self.scope, &self.sql, duration_ms, result.as_ref().ok());
        result.map_err(plain)
    }
}

/// Counts one statement (`result` is `None` when it failed) and logs it if slow.
fn observe(scope: &Scope, sql: &str, duration_ms: f64, result: Option<&D1Result>) {
    if !scope.observed() {
        return;
    }
    scope.count_statements(1);
    let meta = result.and_then(|r| r.meta().ok().flatten());
    let (rows_read, rows_written) = meta
        .map(|m| (m.rows_read.unwrap_or(0), m.rows_written.unwrap_or(0)))
        .unwrap_or((0, 0));
    pipeline::record_query(&Query {
        service: scope.service(),
        outcome: if result.is_some() {
            QueryOutcome::Ok
        } else {
            QueryOutcome::Error
        },
        duration_ms,
        rows_read: rows_read as u64,
        rows_written: rows_written as u64,
    });
    let threshold = f64::from(scope.slow_query_ms());
    if duration_ms > threshold {
        let mut fields = Map::new();
        fields.insert("requestId".into(), scope.request_id().into());
        fields.insert("sql".into(), truncate(sql, MAX_SQL_LOGGED).into());
        fields.insert("durationMs".into(), duration_ms.into());
        fields.insert("thresholdMs".into(), threshold.into());
        scope
            .logger()
            .emit(Level::Warn, "slow D1 statement", fields);
    }
}

/// A D1 error as a plain error: `D1Error`'s `Display` panics in worker 0.8.7.
fn plain(error: Error) -> Error {
    Error::RustError(describe(&error))
}
