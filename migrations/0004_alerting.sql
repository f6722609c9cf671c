-- Latest self-probe result per dependency (written by the cron; vigil_dependency_* metrics).
CREATE TABLE dependency_status (
    component TEXT PRIMARY KEY,
    up INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    checked_ms INTEGER NOT NULL,
    error TEXT
) WITHOUT ROWID;

-- Cron self-probes per minute: the probe half of the availability SLI.
CREATE TABLE probe_rollups (
    minute INTEGER PRIMARY KEY,
    probes INTEGER NOT NULL,
    failed INTEGER NOT NULL
);

-- One row per rule: where its state machine stands. `last_eval_ms` doubles as the version for
-- compare-and-set, so two overlapping cron runs cannot both advance the same alert.
CREATE TABLE alert_state (
    rule_id TEXT PRIMARY KEY,
    phase TEXT NOT NULL,
    severity TEXT NOT NULL,
    active_since_ms INTEGER,
    fired_at_ms INTEGER,
    resolved_at_ms INTEGER,
    last_true_ms INTEGER,
    last_value REAL NOT NULL DEFAULT 0,
    last_eval_ms INTEGER,
    last_notified_ms INTEGER
) WITHOUT ROWID;

-- Every transition, for /api/alerts and post-incident review.
CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id TEXT NOT NULL,
    transition TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX alert_history_by_time ON alert_history (at_ms);

-- Notifications waiting for (or done with) delivery. UNIQUE (channel, dedup_key) makes enqueueing
-- idempotent: one row per transition per channel, however many cron runs overlap. A row is
-- claimed by setting lease_until_ms, so only one run delivers it.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_ms INTEGER,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel, dedup_key)
);
CREATE INDEX outbox_due ON outbox (delivered_ms, next_attempt_ms);

-- Delivery attempts per channel and outcome: vigil_notifications_total.
CREATE TABLE notification_counts (
    channel TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (channel, outcome)
) WITHOUT ROWID;

-- The SLO summary the last cron run computed (JSON), served by /api/slo and /metrics without
-- scanning 30 days of rollups per scrape.
CREATE TABLE slo_report (
    slo TEXT PRIMARY KEY,
    report TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
