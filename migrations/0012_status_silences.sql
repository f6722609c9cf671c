-- Silences (Alertmanager API v2 shapes) and planned maintenance. Both are read by every cron run
-- while they last: the index on ends_ms keeps that read to the ones not yet over.
CREATE TABLE silence (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_ms REAL NOT NULL,
    ends_ms REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_ms REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX silence_by_end ON silence (ends_ms);

CREATE TABLE maintenance (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    components TEXT NOT NULL,
    starts_ms REAL NOT NULL,
    ends_ms REAL NOT NULL,
    created_ms REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX maintenance_by_end ON maintenance (ends_ms);

-- What receivers were last told of each alert instance ('firing' or 'resolved'), so that when a
-- silence ends the current state is sent only if it differs. Instances firing now were told.
ALTER TABLE alert_state ADD COLUMN last_sent TEXT;
UPDATE alert_state SET last_sent = phase WHERE phase IN ('firing', 'resolved');

-- Running totals of status-page components that have no other ledger: public heartbeat
-- monitors and the dependencies STATUS_COMPONENTS shows ('monitor:<name>', 'dependency:<name>').
CREATE TABLE component_cumulative (
    component TEXT NOT NULL,
    minute INTEGER NOT NULL,
    probes INTEGER NOT NULL DEFAULT 0,
    probes_failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (component, minute)
) WITHOUT ROWID;
