-- Request metrics, flushed by each isolate with an adding upsert (see src/telemetry/metrics.rs).
-- b0..b11 are non-cumulative latency bucket counts: <=5ms, <=10ms, <=25ms, <=50ms, <=100ms,
-- <=250ms, <=500ms, <=1s, <=2.5s, <=5s, <=10s, +Inf.

-- Minute rollups: the windows alert rules and SLOs evaluate. Keyed by minute first, so every
-- window query is a range scan of the primary key.
CREATE TABLE request_rollups (
    minute INTEGER NOT NULL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    code INTEGER NOT NULL,
    count INTEGER NOT NULL,
    duration_sum REAL NOT NULL,
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
    PRIMARY KEY (minute, route, method, code)
) WITHOUT ROWID;

-- Running totals since the database was created: what /metrics exposes as counters. Kept apart
-- from the rollups so rollup retention never makes a counter go backwards.
CREATE TABLE request_totals (
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    code INTEGER NOT NULL,
    count INTEGER NOT NULL,
    duration_sum REAL NOT NULL,
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
    PRIMARY KEY (route, method, code)
) WITHOUT ROWID;

-- Named monotonic counters (e.g. metric flush batches written).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
