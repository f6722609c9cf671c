-- Notification routing: the outbox's `channel` column now holds the receiver's name (the
-- receivers of the single-channel secrets are named after their kind, so older rows still
-- deliver). Rows of one group of one receiver go out together: `group_key` names the group
-- (its labels as JSON; empty for receivers that take one alert per request).
ALTER TABLE outbox ADD COLUMN group_key TEXT NOT NULL DEFAULT '';

-- When each group's latest notification is scheduled, so a later change waits for the group's
-- group_interval. Read only for the groups a cron run has news for; kept 7 days.
CREATE TABLE notify_group (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    slot_ms INTEGER NOT NULL,
    PRIMARY KEY (receiver, group_key)
) WITHOUT ROWID;
