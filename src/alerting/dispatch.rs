//! Delivers what the outbox holds: claims due rows, sends each group's rows to its receiver as
//! one notification with a timeout, and records the outcome of every row. The shell around the
//! pure `notify` module.
//!
//! Rows are claimed atomically (a lease), so overlapping cron runs never send the same row, and
//! in order per alert and receiver; all claimed batches are sent concurrently, so a hanging
//! receiver costs the run one timeout, not one per row. A failure stays in the outbox with its
//! error and a backoff; a permanent one is dead-lettered after a few attempts and stays visible.

use futures::StreamExt;
use serde_json::{json, Map};
use worker::Env;

use super::notify::delivery::{next_attempt_ms, settle, Failure, Settled};
use super::notify::grouping::group_labels;
use super::notify::payloads::Batch;
use super::notify::receivers::Receiver;
use super::notify::AlertNotification;
use super::senders::send;
use crate::config::Config;
use crate::store::{ClaimedNotification, DeliveryOutcome, DeliveryRecord, Store, StoreResult};
use crate::telemetry::log::{error_field, Level, Logger};
use vigil_core::telemetry::limits::CONNECTIONS;

/// Rows one cron run claims at most (within its subrequest budget); the rest wait for the next
/// run.
const CLAIM_LIMIT: u32 = 50;

/// How long a claim holds: beyond any delivery's timeout, so a crashed run's rows come back.
const LEASE_MS: f64 = 5.0 * 60_000.0;

/// Sends the due notifications, at most `subrequests` rows of them (a batch is one request);
/// returns how many rows were delivered and how many failed.
pub async fn deliver_due(
    env: &Env,
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
    let receivers = &config.notify.receivers;
    // In order, and never more connections at once than the runtime allows an invocation.
    let records: Vec<DeliveryRecord> = futures::stream::iter(batches(&claimed, receivers))
        .map(|rows| deliver(env, rows, config, logger, now_ms))
        .buffered(CONNECTIONS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    store.record_deliveries(now_ms, &records).await?;
    let failed = records
        .iter()
        .filter(|r| r.outcome != DeliveryOutcome::Delivered)
        .count();
    Ok((records.len() - failed, failed))
}

/// The claimed rows in the notifications they go out as: the rows of one group of a grouping
/// receiver together, every other row alone.
fn batches<'a>(
    claimed: &'a [ClaimedNotification],
    receivers: &[Receiver],
) -> Vec<Vec<&'a ClaimedNotification>> {
    let groups = |row: &ClaimedNotification| {
        let receiver = receivers.iter().find(|r| r.name == row.channel);
        !row.group_key.is_empty() && receiver.is_some_and(|r| r.target.channel().groups())
    };
    let mut batches: Vec<Vec<&ClaimedNotification>> = Vec::new();
    for row in claimed {
        let joins = batches.iter_mut().find(|batch| {
            let first = batch[0];
            groups(row) && first.channel == row.channel && first.group_key == row.group_key
        });
        match joins {
            Some(batch) => batch.push(row),
            None => batches.push(vec![row]),
        }
    }
    batches
}

/// Sends one batch and records the outcome for each of its rows.
async fn deliver(
    env: &Env,
    rows: Vec<&ClaimedNotification>,
    config: &Config,
    logger: &Logger,
    now_ms: f64,
) -> Vec<DeliveryRecord> {
    let first = rows[0];
    let result = attempt(env, &rows, config, now_ms).await;
    let mut fields = Map::new();
    fields.insert("receiver".into(), first.channel.as_str().into());
    fields.insert(
        "outboxIds".into(),
        json!(rows.iter().map(|r| r.id).collect::<Vec<_>>()),
    );
    fields.insert("attempt".into(), (first.attempts + 1).into());
    let failure = match result {
        Ok(()) => {
            logger.emit(Level::Info, "notification delivered", fields);
            None
        }
        Err(failure) => {
            let reason = error_field("DeliveryFailed", &failure.reason);
            fields.insert("error".into(), reason);
            let (level, message) = match settle(&failure, first.attempts.saturating_add(1)) {
                Settled::Retry => (
                    Level::Warn,
                    "notification delivery failed; kept in the outbox",
                ),
                Settled::Dead => (
                    Level::Error,
                    "notification dead-lettered: a permanent failure, no more retries",
                ),
            };
            logger.emit(level, message, fields);
            Some(failure)
        }
    };
    rows.iter()
        .map(|row| DeliveryRecord {
            id: row.id,
            channel: row.channel.clone(),
            outcome: outcome(failure.as_ref(), row.attempts.saturating_add(1), now_ms),
        })
        .collect()
}

/// What becomes of a row after its attempt number `attempts`.
fn outcome(failure: Option<&Failure>, attempts: u32, now_ms: f64) -> DeliveryOutcome {
    match failure {
        None => DeliveryOutcome::Delivered,
        Some(failure) => match settle(failure, attempts) {
            Settled::Retry => DeliveryOutcome::Retry {
                error: failure.reason.clone(),
                retry_at_ms: next_attempt_ms(attempts, now_ms),
            },
            Settled::Dead => DeliveryOutcome::Dead {
                error: failure.reason.clone(),
            },
        },
    }
}

/// One attempt for a batch. Errors never contain receiver URLs or keys: those are secrets.
async fn attempt(
    env: &Env,
    rows: &[&ClaimedNotification],
    config: &Config,
    now_ms: f64,
) -> Result<(), Failure> {
    let name = &rows[0].channel;
    let receiver = config
        .notify
        .receivers
        .iter()
        .find(|r| &r.name == name)
        .ok_or_else(|| {
            Failure::permanent(format!(
                "receiver {name:?} is not configured any more; define it to deliver"
            ))
        })?;
    let alerts = rows
        .iter()
        .map(|row| serde_json::from_str::<AlertNotification>(&row.payload))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::permanent(format!("unreadable outbox payload: {e}")))?;
    let group = group_labels(&rows[0].group_key);
    let batch = Batch {
        receiver: name,
        group: &group,
        alerts: &alerts,
    };
    send(
        env,
        &receiver.target,
        &batch,
        config.notify_timeout_ms,
        now_ms,
    )
    .await
}
