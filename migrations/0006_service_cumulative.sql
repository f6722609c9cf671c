-- Running totals per service at the end of every minute that had traffic or a self-probe. A
-- window's counts are the difference of two rows (the window's end, and the minute before it
-- starts), so a cron run reads the same few rows whether the database holds one day of history
-- or thirty. b0..b11 are latency bucket counts as in request_totals.
CREATE TABLE service_cumulative (
    service TEXT NOT NULL,
    minute INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
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
    probes INTEGER NOT NULL DEFAULT 0,
    probes_failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, minute)
) WITHOUT ROWID;

-- The minute rollups become running totals. Earlier versions counted only the hub's own
-- traffic, under its default service name, so the history is kept as service 'vigil'.
INSERT INTO service_cumulative (service, minute, requests, errors, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, probes, probes_failed)
SELECT 'vigil', minute, SUM(requests) OVER w, SUM(errors) OVER w, SUM(b0) OVER w, SUM(b1) OVER w, SUM(b2) OVER w, SUM(b3) OVER w, SUM(b4) OVER w, SUM(b5) OVER w, SUM(b6) OVER w, SUM(b7) OVER w, SUM(b8) OVER w, SUM(b9) OVER w, SUM(b10) OVER w, SUM(b11) OVER w,
       SUM(probes) OVER w, SUM(failed) OVER w
FROM (
    SELECT minute, SUM(requests) AS requests, SUM(errors) AS errors, SUM(b0) AS b0, SUM(b1) AS b1, SUM(b2) AS b2, SUM(b3) AS b3, SUM(b4) AS b4, SUM(b5) AS b5, SUM(b6) AS b6, SUM(b7) AS b7, SUM(b8) AS b8, SUM(b9) AS b9, SUM(b10) AS b10, SUM(b11) AS b11,
           SUM(probes) AS probes, SUM(failed) AS failed
    FROM (
        SELECT minute, count AS requests, CASE WHEN code >= 500 THEN count ELSE 0 END AS errors,
               b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, 0 AS probes, 0 AS failed
        FROM request_rollups
        UNION ALL
        SELECT minute, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, probes, failed FROM probe_rollups
    )
    GROUP BY minute
)
WINDOW w AS (ORDER BY minute);

DROP TABLE request_rollups;
DROP TABLE probe_rollups;
