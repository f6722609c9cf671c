-- Synthetic probes: each probe's state between checks (status over consecutive checks, the
-- last check, running counts by result), and its running check totals per minute, which
-- availability windows read as differences (as service_cumulative does for services).
CREATE TABLE probe_state (
    probe TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    changed_ms REAL,
    last_run_ms REAL,
    last_result TEXT,
    last_reason TEXT,
    last_duration_ms REAL,
    last_http_status INTEGER,
    checks_pass INTEGER NOT NULL DEFAULT 0,
    checks_slow INTEGER NOT NULL DEFAULT 0,
    checks_fail INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE probe_cumulative (
    probe TEXT NOT NULL,
    minute INTEGER NOT NULL,
    probes INTEGER NOT NULL DEFAULT 0,
    probes_failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (probe, minute)
) WITHOUT ROWID;

-- Heartbeat monitors: the last ping of each (one row per configured monitor that was pinged).
CREATE TABLE heartbeat_ping (
    monitor TEXT PRIMARY KEY,
    last_ping_ms REAL NOT NULL,
    failed INTEGER NOT NULL
) WITHOUT ROWID;
