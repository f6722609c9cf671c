"""D1 rows read per cron run and per /metrics scrape, measured by D1 itself.

Vigil adds every statement's `meta.rows_read` to `vigil_store_rows_read_total{operation}`, so
the figures here are D1's own billing counts. Fresh instances, identical but for how much
history they hold (1 day and 30 days of per-minute request data) and for how many services
(1 and 10, ROUTES routes each), each get
RUNS cron runs one simulated minute apart; a run's cost is recorded by the next run's flush, so
the per-run figure is the difference between successive scrapes. Goal: reads do not grow with
history (30 d ÷ 1 d ≤ 1.1). Then SCRAPES scrapes of /metrics give the rows one scrape reads.
"""

import statistics
import time

from common import Worker, get, metric, row, vigil_config

RUNS = 6
SCRAPES = 5
ROUTES = 5
CRON = 'vigil_store_rows_read_total{operation="cron"}'
SCRAPE = 'vigil_store_rows_read_total{operation="scrape"}'


def seed_sql(now_minute, days, services):
    """`days` of running totals of `services` services (the hub, `vigil`, and svc1…), each
    100 requests a minute on each of ROUTES routes, 1% of them 5xx, and their request series."""
    minutes = days * 24 * 60
    per_minute = 100 * ROUTES
    names = ["vigil"] + [f"svc{i}" for i in range(1, services)]
    statements = []
    for name in names:
        statements.append(
            "WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < "
            f"{minutes}) INSERT INTO service_cumulative (service, minute, requests, errors, b0, "
            "b2, probes, probes_failed) "
            f"SELECT '{name}', {now_minute} - {minutes} + x, x * {per_minute}, "
            f"x * {per_minute // 100}, x * {per_minute // 2}, x * {per_minute // 2}, x, 0 FROM m")
        for route in range(ROUTES):
            statements.append(
                "INSERT INTO request_totals (service, route, method, code, count, duration_sum) "
                f"VALUES ('{name}', '/r{route}', 'GET', 200, {minutes * 100}, 1.0)")
    return ";\n".join(statements)


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
        run_cron(worker, start_ms + i * 60_000)
        counts.append(counter(worker, CRON))
    return [b - a for a, b in zip(counts[1:], counts[2:])]


def scrape_reads(worker, cron_ms):
    """Rows one /metrics scrape reads (each scrape's cost goes to the aggregator right after
    it, and is written by the next cron run)."""
    run_cron(worker, cron_ms)
    before = counter(worker, SCRAPE)
    for _ in range(SCRAPES):
        get(worker.base, "/metrics")
    time.sleep(1)
    run_cron(worker, cron_ms + 60_000)
    return (counter(worker, SCRAPE) - before) / (SCRAPES + 1)


def run_cron(worker, time_ms):
    status, _, body = get(worker.base, f"/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={time_ms}")
    assert status == 200, f"scheduled handler answered {status}: {body[:300]}"


def main():
    now_ms = int(time.time() * 1000)
    # Crons run in the past, so a cron's flush never stamps a future time on the isolate.
    start_ms = now_ms - (RUNS + 4) * 60_000
    config = vigil_config({"METRICS_FLUSH_SECONDS": "0"})
    per_run = {}
    for services in (1, 10):
        for days in (1, 30):
            seed = seed_sql(start_ms // 60_000 - 1, days, services)
            with Worker(config, seed_sql=seed) as worker:
                reads = cron_reads(worker, start_ms)
                print(f"{services} service(s) × {ROUTES} routes, {days} d of history: "
                      f"rows read per cron run {reads}")
                per_run[services, days] = statistics.median(reads)
                row("d1 reads", f"rows read per cron run, {services} service(s), {days} d "
                    "(median)", f"{per_run[services, days]:.0f}",
                    "<= 2000" if services == 10 else "")
                if (services, days) == (10, 30):
                    scrape = scrape_reads(worker, start_ms + RUNS * 60_000)
                    row("d1 reads", "rows read per /metrics scrape, 10 services",
                        f"{scrape:.0f}", "")
        ratio = per_run[services, 30] / per_run[services, 1]
        row("d1 reads", f"cron rows read, 30 d ÷ 1 d, {services} service(s)", f"{ratio:.2f}",
            "<= 1.1")


if __name__ == "__main__":
    main()
