-- Scratch rows for the D1 round trip of /health/detailed: written, read back and deleted by
-- each smoke test, so the table stays empty.
CREATE TABLE health_smoke (
    id TEXT PRIMARY KEY,
    written_ms INTEGER NOT NULL
);
