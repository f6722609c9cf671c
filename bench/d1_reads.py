"""D1 rows read per cron run and per /metrics scrape, measured by D1 itself.

Vigil adds every statement's `meta.rows_read` to `vigil_store_rows_read_total{operation}`, so
the figures here are D1's own billing counts. Two fresh instances, identical but for how much
history they hold (1 day and 30 days of per-minute request data for ROUTES routes), each get
RUNS cron runs one simulated minute apart; a run's cost is recorded by the next run's flush, so
the per-run figure is the difference between successive scrapes. Goal: reads do not grow with
history (30 d ÷ 1 d ≤ 1.1). Then SCRAPES scrapes of /metrics give the rows one scrape reads.
"""

import contextlib
import statistics
import time

from common import Worker, get, metric, row, vigil_config

RUNS = 6
SCRAPES = 5
ROUTES = 5
CRON = 'vigil_store_rows_read_total{operation="cron"}'
SCRAPE = 'vigil_store_rows_read_total{operation="scrape"}'


def seed_sql(now_minute, days):
    """One statement: `days` of running totals of the hub's traffic, 100 requests a minute on
    each of ROUTES routes, 1% of them 5xx."""
    minutes = days * 24 * 60
    per_minute = 100 * ROUTES
    return (
        "WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < "
        f"{minutes}) INSERT INTO service_cumulative (service, minute, requests, errors, b0, b2, "
        "probes, probes_failed) "
        f"SELECT 'vigil', {now_minute} - {minutes} + x, x * {per_minute}, x * {per_minute // 100}, "
        f"x * {per_minute // 2}, x * {per_minute // 2}, x, 0 FROM m"
    )


def counter(worker, series):
    """A counter's value; 0 before anything was recorded."""
    try:
        return metric(worker.base, series)
    except KeyError:
        return 0.0


def cron_reads(worker, start_ms):
    """Rows read by each cron run after the first."""
    counts = []
    for i in range(RUNS):
        status, _, body = get(worker.base, f"/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={start_ms + i * 60_000}")
        assert status == 200, f"scheduled handler answered {status}: {body[:300]}"
        counts.append(counter(worker, CRON))
    return [b - a for a, b in zip(counts[1:], counts[2:])]


def scrape_reads(worker):
    """Rows one /metrics scrape reads (each scrape's cost is flushed right after it)."""
    before = counter(worker, SCRAPE)
    for _ in range(SCRAPES):
        get(worker.base, "/metrics")
    time.sleep(1)
    return (counter(worker, SCRAPE) - before) / (SCRAPES + 1)


def main():
    now_ms = int(time.time() * 1000)
    # Crons run in the past, so a cron's flush never stamps a future time on the isolate.
    start_ms = now_ms - (RUNS + 2) * 60_000
    config = vigil_config({"METRICS_FLUSH_SECONDS": "0"})
    per_run = {}
    with contextlib.ExitStack() as stack:
        for days in (1, 30):
            worker = stack.enter_context(
                Worker(config, seed_sql=seed_sql(start_ms // 60_000 - 1, days)))
            reads = cron_reads(worker, start_ms)
            print(f"{days} d of history: rows read per cron run {reads}")
            per_run[days] = statistics.median(reads)
            row("d1 reads", f"rows read per cron run, {days} d of history (median)",
                f"{per_run[days]:.0f}", "")
            if days == 30:
                row("d1 reads", "rows read per /metrics scrape", f"{scrape_reads(worker):.0f}", "")
    row("d1 reads", "cron rows read, 30 d ÷ 1 d of history", f"{per_run[30] / per_run[1]:.2f}",
        "<= 1.1")


if __name__ == "__main__":
    main()
