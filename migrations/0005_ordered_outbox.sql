-- Notifications are delivered in order per alert and channel: `alert_key` names the alert a row
-- belongs to, and only the oldest undelivered row of each (channel, alert_key) may be claimed.
ALTER TABLE outbox ADD COLUMN alert_key TEXT NOT NULL DEFAULT '';
UPDATE outbox SET alert_key = substr(dedup_key, 1, instr(dedup_key, '/') - 1)
WHERE instr(dedup_key, '/') > 0;
-- A permanent failure stops being retried after a few attempts: the row is dead-lettered, kept
-- and reported, never deleted by retention while it matters.
ALTER TABLE outbox ADD COLUMN dead_ms INTEGER;
CREATE INDEX outbox_by_alert ON outbox (channel, alert_key, id);
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (delivered_ms, dead_ms, next_attempt_ms);

-- A transition is recorded once, however many cron runs overlap.
DELETE FROM alert_history WHERE id NOT IN (
    SELECT MIN(id) FROM alert_history GROUP BY rule_id, transition, at_ms
);
CREATE UNIQUE INDEX alert_history_once ON alert_history (rule_id, transition, at_ms);

-- What receivers were told about an alert, kept with its state, so an alert whose rule was
-- removed can still be resolved with the same labels.
ALTER TABLE alert_state ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alert_state ADD COLUMN annotations TEXT NOT NULL DEFAULT '{}';
