-- Tailed workers (any worker listing the hub in tail_consumers): running totals of their
-- invocations per service, event type and outcome, with CPU-time (b0..b11) and wall-time
-- (w0..w11) histograms on the request buckets' bounds.
CREATE TABLE invocation_totals (
    service TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    cpu_sum REAL NOT NULL,
    b0 INTEGER NOT NULL DEFAULT 0,
    b1 INTEGER NOT NULL DEFAULT 0,
    b2 INTEGER NOT NULL DEFAULT 0,
    b3 INTEGER NOT NULL DEFAULT 0,
    b4 INTEGER NOT NULL DEFAULT 0,
    b5 INTEGER NOT NULL DEFAULT 0,
    b6 INTEGER NOT NULL DEFAULT 0,
    b7 INTEGER NOT NULL DEFAULT 0,
    b8 INTEGER NOT NULL DEFAULT 0,
    b9 INTEGER NOT NULL DEFAULT 0,
    b10 INTEGER NOT NULL DEFAULT 0,
    b11 INTEGER NOT NULL DEFAULT 0,
    wall_sum REAL NOT NULL,
    w0 INTEGER NOT NULL DEFAULT 0,
    w1 INTEGER NOT NULL DEFAULT 0,
    w2 INTEGER NOT NULL DEFAULT 0,
    w3 INTEGER NOT NULL DEFAULT 0,
    w4 INTEGER NOT NULL DEFAULT 0,
    w5 INTEGER NOT NULL DEFAULT 0,
    w6 INTEGER NOT NULL DEFAULT 0,
    w7 INTEGER NOT NULL DEFAULT 0,
    w8 INTEGER NOT NULL DEFAULT 0,
    w9 INTEGER NOT NULL DEFAULT 0,
    w10 INTEGER NOT NULL DEFAULT 0,
    w11 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, event, outcome)
) WITHOUT ROWID;

-- Uncaught exceptions by name and log lines by console level, per tailed service.
CREATE TABLE worker_exception_totals (
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (service, name)
) WITHOUT ROWID;

CREATE TABLE worker_log_totals (
    service TEXT NOT NULL,
    level TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (service, level)
) WITHOUT ROWID;

-- The windows rules and SLOs read gain tailed invocations: all of them, the crashed ones, and
-- what availability adds to requests (invocations that are not requests, failures not 5xx).
ALTER TABLE service_cumulative ADD COLUMN invocations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_cumulative ADD COLUMN invocations_crashed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_cumulative ADD COLUMN other_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_cumulative ADD COLUMN other_failures INTEGER NOT NULL DEFAULT 0;
