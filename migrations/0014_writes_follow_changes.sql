-- Writes follow changes.
--
-- Probe and component check totals gain a rate: what each minute after a row adds (one check,
-- failed or not) until the next row, so a subject whose result does not change needs no new
-- row. Existing rows have no rate and read as before.
ALTER TABLE probe_cumulative ADD COLUMN rate_probes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE probe_cumulative ADD COLUMN rate_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE component_cumulative ADD COLUMN rate_probes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE component_cumulative ADD COLUMN rate_failed INTEGER NOT NULL DEFAULT 0;

-- What the APIs show between changes and every cron run recomputes (SLO reports, alert
-- instances' last values, probes' last checks, the self-probe's dependencies), one row per
-- kind rewritten per run, instead of one row per subject.
CREATE TABLE snapshot (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_ms REAL NOT NULL
) WITHOUT ROWID;

-- SLO reports and dependency results live in the snapshot; the next cron run writes them.
DROP TABLE slo_report;
DROP TABLE dependency_status;

-- The pipeline's counters (D1 rows per operation, batches, what the caps dropped) as one JSON
-- object, so the aggregator's minute write adds to all of them in one row instead of one row
-- each. `counters` keeps what is not a sum (the aggregator's watermark).
CREATE TABLE counter_set (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO counter_set (name, body)
SELECT 'pipeline', json_group_object(name, value) FROM counters HAVING count(*) > 0;
DELETE FROM counters;
