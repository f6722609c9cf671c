-- One row per scheduled job: when it last ran and last succeeded (epoch milliseconds, taken from
-- the scheduled event's time). /health/detailed and vigil_cron_last_success_timestamp_seconds
-- read it.
CREATE TABLE cron_heartbeat (
    job TEXT PRIMARY KEY,
    last_run_ms INTEGER NOT NULL,
    last_success_ms INTEGER,
    last_duration_ms REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
