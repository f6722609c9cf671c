-- Alerts are instances of a rule per label set: a rule on requests yields one per service,
-- e.g. high-error-ratio{service="api"}. Each instance has its own state, history and
-- notifications under its key; rule_id names the rule it belongs to. Existing alerts were the
-- hub's only instances: their key stays their rule id, and the next cron run resolves or
-- removes them in favour of the per-service instances.
ALTER TABLE alert_state RENAME COLUMN rule_id TO alert_key;
ALTER TABLE alert_state ADD COLUMN rule_id TEXT NOT NULL DEFAULT '';
UPDATE alert_state SET rule_id = alert_key;
ALTER TABLE alert_history RENAME COLUMN rule_id TO alert_key;

-- SLO reports are per service now, keyed "<service>/<slo>"; the next cron run rewrites them.
DELETE FROM slo_report;
