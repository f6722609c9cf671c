//! All SQL lives under this module, one file per concern: health and heartbeats (`health`),
//! request metrics (`metrics`), tailed invocations (`invocations`), probes and heartbeat pings
//! (`probes`), silences and maintenance (`silences`), running totals and their windows
//! (`windows`), check ledgers (`checks`), what each cron run rewrites (`snapshot`), alert state
//! and history (`alerts`), the notification outbox (`outbox`), retention (`retention`). Every
//! query is bounded and served by an index (see `migrations/`).
//!
//! Statements run through [`Store`], which counts them, so a request can report how many D1
//! statements it cost (`d1Operations`), and adds each statement's `rows_read` / `rows_written`
//! to the isolate's cost ledger (`telemetry::pipeline`) under the store's [`Operation`]; the
//! ledger travels with the isolate's next metrics batch into the stored
//! `vigil_store_rows_*_total` counters.

mod alerts;
mod checks;
mod health;
mod invocations;
mod metrics;
mod outbox;
mod probes;
mod retention;
mod silences;
mod snapshot;
mod windows;

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{self, Array, Promise};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::D1Database as D1DatabaseSys;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::telemetry::pipeline;
use vigil_core::telemetry::metrics::BUCKETS;
use vigil_core::telemetry::store_cost::Operation;

pub use alerts::{AlertChange, EvaluatedValue, HISTORY_RETENTION_MS};
pub use outbox::{ClaimedNotification, DeliveryOutcome, DeliveryRecord, GroupSlot, OutboxEntry};
pub use probes::ProbeCheck;
pub use silences::MAX_LIVE;
pub use windows::{Ledger, COMPONENTS, PROBES, SERVICES};

/// The D1 binding's name in `wrangler.toml`.
pub const DB_BINDING: &str = "DB";

/// A failed D1 operation, with the reason D1 gave.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<worker::Error> for StoreError {
    fn from(error: worker::Error) -> StoreError {
        StoreError(describe(&error))
    }
}

pub use crate::errors::describe;

pub type StoreResult<T> = Result<T, StoreError>;

/// The D1 database, the operation its statements are billed to, and a count of them.
pub struct Store {
    db: D1Database,
    operation: Operation,
    statements: Rc<Cell<u32>>,
}

impl Store {
    /// The database for `operation`, or an error naming the missing binding.
    pub fn open(env: &Env, operation: Operation) -> StoreResult<Store> {
        Store::counted(env, operation, Rc::default())
    }

    /// Like [`Store::open`], adding every statement to `statements` (shared by one request).
    pub fn counted(
        env: &Env,
        operation: Operation,
        statements: Rc<Cell<u32>>,
    ) -> StoreResult<Store> {
        let db = env
            .d1(DB_BINDING)
            .map_err(|_| StoreError(format!("D1 binding {DB_BINDING} is not configured")))?;
        Ok(Store {
            db,
            operation,
            statements,
        })
    }

    fn prepare(&self, sql: impl Into<String>) -> Statement<'_> {
        Statement {
            store: self,
            inner: self.db.prepare(sql),
        }
    }

    /// One statement over many rows: `sql` reads each row of `rows` (a JSON array of column
    /// values) as `value ->> 0, value ->> 1, … FROM json_each(?1)`. However many subjects
    /// change at once (40 probes created, or all going down), their rows cost one statement of
    /// the invocation's D1 queries (50 on the Free plan), not one each.
    fn each_row(&self, sql: String, rows: &[serde_json::Value]) -> StoreResult<Statement<'_>> {
        let rows = serde_json::to_string(rows).map_err(|e| StoreError(e.to_string()))?;
        self.prepare(sql).bind(&[rows.into()])
    }

    /// The count this store adds to, for another store of the same invocation to share.
    pub fn statements(&self) -> Rc<Cell<u32>> {
        self.statements.clone()
    }

    fn count(&self, statements: usize) {
        let total = self.statements.get().saturating_add(statements as u32);
        self.statements.set(total);
    }

    /// Adds a finished statement's billed rows to the ledger.
    fn bill(&self, meta: &Meta) {
        pipeline::bill(self.operation, meta.rows_read, meta.rows_written);
    }

    /// Runs `statements` as one batch: one round trip and one transaction.
    async fn batch(&self, statements: Vec<Statement<'_>>) -> StoreResult<Vec<Answer>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        self.count(statements.len());
        let inner: Array = statements
            .iter()
            .map(|s| JsValue::from(s.inner.inner()))
            .collect();
        let db: &D1DatabaseSys = self.db.as_ref().unchecked_ref();
        let answers: Vec<Answer> = read_json(&settle(db.batch(inner)).await?)?;
        answers.iter().for_each(|a| self.bill(&a.meta));
        Ok(answers)
    }
}

/// What D1 answered for one statement, read from its JSON text: one `JSON.stringify` in the
/// runtime and one serde_json pass in wasm. Reading the result object field by field
/// (serde_wasm_bindgen, a JS call per value) was the largest share of a cron run's CPU.
#[derive(Deserialize)]
struct Answer {
    results: Option<Box<RawValue>>,
    #[serde(default)]
    meta: Meta,
}

/// The part of D1's `meta` the store uses.
#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    rows_read: u64,
    #[serde(default)]
    rows_written: u64,
    #[serde(default)]
    changes: u64,
}

impl Answer {
    /// The statement's rows, as `T`.
    fn rows<T: DeserializeOwned>(&self) -> StoreResult<Vec<T>> {
        match &self.results {
            Some(rows) => read_json(rows.get().as_bytes()),
            None => Ok(Vec::new()),
        }
    }

    /// Whether a write changed any row (an insert or update its `WHERE` let through).
    fn changed_any(&self) -> bool {
        self.meta.changes > 0
    }
}

#[wasm_bindgen]
extern "C" {
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, text: &js_sys::JsString) -> js_sys::Uint8Array;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// Waits for a D1 call and returns its answer as JSON text (UTF-8). The text crosses into wasm
/// as the runtime's `TextEncoder` bytes, one copy: as a string it would be copied a character
/// at a time in JavaScript.
async fn settle(call: Result<Promise, JsValue>) -> StoreResult<Vec<u8>> {
    let answer = JsFuture::from(call.map_err(d1_error)?)
        .await
        .map_err(d1_error)?;
    let text = js_sys::JSON::stringify(&answer).map_err(d1_error)?;
    Ok(ENCODER.with(|encoder| encoder.encode(&text).to_vec()))
}

fn read_json<T: DeserializeOwned>(text: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(text).map_err(|e| StoreError(format!("unexpected D1 answer: {e}")))
}

/// A failed D1 call's reason: D1's errors carry SQLite's as their cause.
fn d1_error(error: JsValue) -> StoreError {
    let cause = error.dyn_ref::<js_sys::Error>().map(|e| e.cause());
    match cause.and_then(|c| c.dyn_into::<js_sys::Error>().ok()) {
        Some(cause) => StoreError(cause.message().into()),
        None => StoreError::from(worker::Error::from(error)),
    }
}

/// A prepared statement that is counted when it runs.
struct Statement<'a> {
    store: &'a Store,
    inner: D1PreparedStatement,
}

impl Statement<'_> {
    fn bind(self, values: &[JsValue]) -> StoreResult<Self> {
        Ok(Statement {
            store: self.store,
            inner: self.inner.bind(values)?,
        })
    }

    /// The statement's rows as `T`, read in one pass.
    async fn all<T: DeserializeOwned>(self) -> StoreResult<Vec<T>> {
        #[derive(Deserialize)]
        struct Rows<T> {
            results: Option<Vec<T>>,
            #[serde(default)]
            meta: Meta,
        }
        self.store.count(1);
        let answer: Rows<T> = read_json(&settle(self.inner.inner().all()).await?)?;
        self.store.bill(&answer.meta);
        Ok(answer.results.unwrap_or_default())
    }

    async fn first<T: DeserializeOwned>(self) -> StoreResult<Option<T>> {
        Ok(self.all().await?.into_iter().next())
    }

    async fn run(self) -> StoreResult<Answer> {
        self.store.count(1);
        let answer: Answer = read_json(&settle(self.inner.inner().all()).await?)?;
        self.store.bill(&answer.meta);
        Ok(answer)
    }
}

/// `?first, ?first+1, …`: the placeholders of one histogram's bucket values in an upsert.
fn bucket_placeholders(first: usize) -> String {
    (first..first + BUCKETS)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `col = table.col + excluded.col` for each of `columns` (comma-separated): what an adding
/// upsert sets on conflict.
fn adding(table: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// NaN and infinities cannot be stored in D1; they are recorded as 0.
fn finite(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}
