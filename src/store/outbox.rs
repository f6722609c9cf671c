//! The notification outbox: enqueueing, claiming in order, delivery outcomes and backlog.
//!
//! Rows of one alert for one receiver form a queue: only its oldest undelivered, live row can be
//! claimed, so a resolve never overtakes its trigger however the retries of each are spaced.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;

use super::{Statement, Store, StoreResult};
use vigil_core::records::{ChannelBacklog, NotificationCount};

/// A notification to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The receiver's name (the `channel` column).
    pub receiver: String,
    /// The alert the row belongs to: rows of one alert and receiver are delivered in order.
    pub alert_key: String,
    /// Idempotency key: one row per (channel, dedup_key), however many runs overlap.
    pub dedup_key: String,
    pub payload: String,
    /// A refresh replaces the payload of its earlier row and re-arms it once delivered,
    /// instead of adding a row every run.
    pub refresh: bool,
    /// The group it goes out with (empty: on its own).
    pub group_key: String,
    /// When it is first due: its group's slot.
    pub due_ms: f64,
}

/// When a group of a receiver next (or last) notifies.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSlot {
    pub receiver: String,
    pub group_key: String,
    pub slot_ms: f64,
}

/// An outbox row claimed for delivery.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClaimedNotification {
    pub id: f64,
    /// The receiver's name.
    pub channel: String,
    pub payload: String,
    pub attempts: u32,
    pub group_key: String,
}

/// The result of one delivery attempt of a claimed row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: f64,
    pub channel: String,
    pub outcome: DeliveryOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again at `retry_at_ms`.
    Retry {
        error: String,
        retry_at_ms: f64,
    },
    /// Failed for good: kept, visible, and no longer retried.
    Dead {
        error: String,
    },
}

impl DeliveryOutcome {
    fn counted_as(&self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "success",
            DeliveryOutcome::Retry { .. } | DeliveryOutcome::Dead { .. } => "failure",
        }
    }
}

impl Store {
    /// Queues `entries` (each with the key of the alert whose change made it), each only if
    /// that alert's state write won (its `last_eval_ms` is `now_ms`): a run that lost the
    /// compare-and-set enqueues nothing. One statement for the entries that refresh an
    /// existing row, one for those that never do. `created_ms` is when the row is first due
    /// (its group's slot), so a row waiting for its group's `group_interval` does not count as
    /// a stuck notification.
    pub(super) fn enqueue_all(
        &self,
        entries: &[(&OutboxEntry, &str)],
        now_ms: f64,
    ) -> StoreResult<Vec<Statement<'_>>> {
        let mut statements = Vec::new();
        for refresh in [true, false] {
            let rows: Vec<Value> = entries
                .iter()
                .filter(|(entry, _)| entry.refresh == refresh)
                .map(|(entry, alert_key)| {
                    json!([
                        entry.receiver,
                        entry.alert_key,
                        entry.dedup_key,
                        entry.payload,
                        now_ms,
                        alert_key,
                        entry.due_ms,
                        entry.group_key
                    ])
                })
                .collect();
            if !rows.is_empty() {
                statements.push(self.enqueue(&rows, refresh)?);
            }
        }
        Ok(statements)
    }

    fn enqueue(&self, rows: &[Value], refresh: bool) -> StoreResult<Statement<'_>> {
        let on_conflict = if refresh {
            "DO UPDATE SET payload = excluded.payload,
               created_ms = CASE WHEN outbox.delivered_ms IS NULL THEN outbox.created_ms ELSE excluded.created_ms END,
               next_attempt_ms = CASE WHEN outbox.delivered_ms IS NULL THEN outbox.next_attempt_ms ELSE excluded.next_attempt_ms END,
               attempts = CASE WHEN outbox.delivered_ms IS NULL THEN outbox.attempts ELSE 0 END,
               delivered_ms = NULL
             WHERE outbox.dead_ms IS NULL"
        } else {
            "DO NOTHING"
        };
        self.each_row(
            format!(
                "INSERT INTO outbox
                   (channel, alert_key, dedup_key, payload, created_ms, next_attempt_ms, group_key)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 6,
                   value ->> 6, value ->> 7
                 FROM json_each(?1)
                 WHERE EXISTS (SELECT 1 FROM alert_state
                               WHERE alert_key = value ->> 5 AND last_eval_ms = value ->> 4)
                 ON CONFLICT (channel, dedup_key) {on_conflict}"
            ),
            rows,
        )
    }

    /// The latest slots of `groups` (receiver, group key) that have one.
    pub async fn group_slots(
        &self,
        groups: &[(String, String)],
    ) -> StoreResult<BTreeMap<(String, String), f64>> {
        #[derive(Deserialize)]
        struct Row {
            receiver: String,
            group_key: String,
            slot_ms: f64,
        }
        let wanted = serde_json::to_string(groups).unwrap_or_else(|_| "[]".into());
        let rows: Vec<Row> = self
            .prepare(
                "SELECT g.receiver, g.group_key, g.slot_ms
                 FROM json_each(?1) AS w CROSS JOIN notify_group AS g
                 WHERE g.receiver = json_extract(w.value, '$[0]')
                   AND g.group_key = json_extract(w.value, '$[1]')",
            )
            .bind(&[wanted.into()])?
            .all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.receiver, r.group_key), r.slot_ms))
            .collect())
    }

    /// The statement moving a group's slot forward (never back: overlapping runs agree).
    pub(super) fn save_slot(&self, slot: &GroupSlot) -> StoreResult<Statement<'_>> {
        self.prepare(
            "INSERT INTO notify_group (receiver, group_key, slot_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (receiver, group_key)
             DO UPDATE SET slot_ms = MAX(notify_group.slot_ms, excluded.slot_ms)",
        )
        .bind(&[
            slot.receiver.as_str().into(),
            slot.group_key.as_str().into(),
            slot.slot_ms.into(),
        ])
    }

    /// Atomically claims up to `limit` due rows until `lease_until_ms`, so an overlapping cron
    /// run cannot deliver the same row. Only the head of each (channel, alert) queue qualifies.
    pub async fn claim_due_notifications(
        &self,
        now_ms: f64,
        lease_until_ms: f64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedNotification>> {
        self.prepare(
            "UPDATE outbox SET lease_until_ms = ?2
             WHERE id IN (
               SELECT o.id FROM outbox o
               WHERE o.delivered_ms IS NULL AND o.dead_ms IS NULL
                 AND o.next_attempt_ms <= ?1 AND o.lease_until_ms <= ?1
                 AND NOT EXISTS (
                   SELECT 1 FROM outbox p
                   WHERE p.channel = o.channel AND p.alert_key = o.alert_key AND p.id < o.id
                     AND p.delivered_ms IS NULL AND p.dead_ms IS NULL)
               ORDER BY o.id LIMIT ?3)
             RETURNING id, channel, payload, attempts, group_key",
        )
        .bind(&[now_ms.into(), lease_until_ms.into(), limit.into()])?
        .all()
        .await
    }

    /// Records delivery outcomes and counts them per channel and outcome, in one batch.
    pub async fn record_deliveries(
        &self,
        now_ms: f64,
        records: &[DeliveryRecord],
    ) -> StoreResult<()> {
        let mut statements = Vec::with_capacity(records.len() * 2);
        for record in records {
            let id = JsValue::from(record.id);
            statements.push(match &record.outcome {
                DeliveryOutcome::Delivered => self
                    .prepare(
                        "UPDATE outbox SET delivered_ms = ?2, attempts = attempts + 1,
                         last_error = NULL, lease_until_ms = 0 WHERE id = ?1",
                    )
                    .bind(&[id, now_ms.into()])?,
                DeliveryOutcome::Retry { error, retry_at_ms } => self
                    .prepare(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                         next_attempt_ms = ?3, lease_until_ms = 0 WHERE id = ?1",
                    )
                    .bind(&[id, error.as_str().into(), (*retry_at_ms).into()])?,
                DeliveryOutcome::Dead { error } => self
                    .prepare(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                         dead_ms = ?3, lease_until_ms = 0 WHERE id = ?1",
                    )
                    .bind(&[id, error.as_str().into(), now_ms.into()])?,
            });
            statements.push(
                self.prepare(
                    "INSERT INTO notification_counts (channel, outcome, count) VALUES (?1, ?2, 1)
                     ON CONFLICT (channel, outcome) DO UPDATE SET count = notification_counts.count + 1",
                )
                .bind(&[
                    record.channel.as_str().into(),
                    record.outcome.counted_as().into(),
                ])?,
            );
        }
        self.batch(statements).await?;
        Ok(())
    }

    /// Per channel: rows waiting, rows dead-lettered, the oldest waiting row, the last error.
    pub async fn outbox_backlog(&self) -> StoreResult<Vec<ChannelBacklog>> {
        self.prepare(
            "SELECT channel,
                    SUM(CASE WHEN delivered_ms IS NULL AND dead_ms IS NULL THEN 1 ELSE 0 END) AS pending,
                    SUM(CASE WHEN dead_ms IS NOT NULL THEN 1 ELSE 0 END) AS dead,
                    MIN(CASE WHEN delivered_ms IS NULL AND dead_ms IS NULL THEN created_ms END)
                      AS oldest_created_ms,
                    (SELECT o2.last_error FROM outbox o2 WHERE o2.channel = outbox.channel
                       AND o2.last_error IS NOT NULL ORDER BY o2.id DESC LIMIT 1) AS last_error
             FROM outbox GROUP BY channel ORDER BY channel LIMIT 10",
        )
        .all()
        .await
    }

    /// Delivery counts per (channel, outcome): `vigil_notifications_total`.
    pub async fn notification_counts(&self) -> StoreResult<Vec<NotificationCount>> {
        self.prepare(
            "SELECT channel, outcome, count FROM notification_counts
             ORDER BY channel, outcome LIMIT 100",
        )
        .all()
        .await
    }
}
