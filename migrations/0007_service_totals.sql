-- Every request series belongs to a service: the hub's own traffic counts under SERVICE_NAME,
-- other sources under theirs. The running totals gain the service in their key; what earlier
-- versions counted was the hub's own traffic, under its default name 'vigil'.
CREATE TABLE request_totals_by_service (
    service TEXT NOT NULL,
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
    PRIMARY KEY (service, route, method, code)
) WITHOUT ROWID;
INSERT INTO request_totals_by_service (service, route, method, code, count, duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
SELECT 'vigil', route, method, code, count, duration_sum, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11 FROM request_totals;
DROP TABLE request_totals;
ALTER TABLE request_totals_by_service RENAME TO request_totals;
