-- Embedded applications' D1 statements: running totals per service and outcome (ok, error),
-- with their latency histogram (the request buckets' bounds) and the rows D1 reported.
CREATE TABLE d1_query_totals (
    service TEXT NOT NULL,
    outcome TEXT NOT NULL,
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
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_written INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, outcome)
) WITHOUT ROWID;
