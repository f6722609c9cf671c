-- What the last cron run used of the per-invocation limits (D1 statements, subrequests,
-- connections), as JSON; written with the heartbeat row the run writes anyway.
ALTER TABLE cron_heartbeat ADD COLUMN last_use TEXT;
