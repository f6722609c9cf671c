"""D1 rows read by the public status page, measured by D1 itself, and what a burst costs.

Three fresh hubs differ in how many services the page shows (1 or 10) and how much history
they hold: 1 day of per-minute running totals, or 90 days as retention leaves them (35 days of
minutes, then one row per day). Each gets a burst of REQUESTS requests to /status from THREADS
concurrent visitors. The page's reads are billed to `vigil_store_rows_read_total{operation=
"status"}` (D1's own `rows_read`), written by the next cron run's flush; builds are the hub's
"status page built" log lines; cache hits its `X-Vigil-Cache: hit` answers.

Goals: a burst costs one build (the Cache API and the isolate's memo answer the rest), and a
first build reads a few rows (one primary-key seek) per component and day shown, however many
rows each day holds; later builds of the same isolate read only the current minute's (the past
days' totals are kept, once the day is 10 minutes old). With 1 day of history most of the 91
points find no row, hence fewer reads than with 90.
"""

import http.client
import threading
import time

from common import Worker, get, row, vigil_config
from d1_reads import counter, run_cron

REQUESTS = 1000
THREADS = 32
DAYS_SHOWN = 91  # 90 daily bars: 91 running-total points
MINUTE_DAYS = 35  # retention keeps every minute this long, then the last row of each day
STATUS = 'vigil_store_rows_read_total{operation="status"}'
MAX_AGE = 30  # seconds a built page is served


def seed_sql(now_minute, days, services):
    """`days` of running totals for `services` services, as retention would have left them,
    and each service's request series (so that the page lists it)."""
    origin = now_minute - days * 1440
    minute_rows = min(days, MINUTE_DAYS) * 1440
    daily_rows = max(days - MINUTE_DAYS, 0)
    first_minute = now_minute - minute_rows
    columns = "service, minute, requests, errors, b0, probes, probes_failed"
    statements = []
    for name in ["vigil"] + [f"svc{i}" for i in range(1, services)]:
        # Totals grow by 100 requests (1 error) and one self-probe a minute.
        values = f"'{name}', mm, (mm - {origin}) * 100, mm - {origin}, (mm - {origin}) * 100, " \
                 f"mm - {origin}, 0"
        statements.append(
            f"WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < "
            f"{minute_rows}), t(mm) AS (SELECT {first_minute} + x FROM m) "
            f"INSERT INTO service_cumulative ({columns}) SELECT {values} FROM t")
        if daily_rows:
            statements.append(
                f"WITH RECURSIVE d(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM d WHERE x < "
                f"{daily_rows}), t(mm) AS (SELECT ({first_minute} / 1440 - x) * 1440 + 1439 "
                f"FROM d) INSERT INTO service_cumulative ({columns}) SELECT {values} FROM t")
        statements.append(
            "INSERT INTO request_totals (service, route, method, code, count, duration_sum) "
            f"VALUES ('{name}', '/', 'GET', 200, {days * 1440 * 100}, 1.0)")
    return ";\n".join(statements)


def burst(base):
    """REQUESTS GETs of /status from THREADS keep-alive connections that start together.
    Returns (answers by status, cache hits)."""
    statuses, hits, lock = {}, [0], threading.Lock()
    start = threading.Barrier(THREADS)

    def visitor(t):
        conn = http.client.HTTPConnection(base, timeout=60)
        start.wait()
        for _ in range(t, REQUESTS, THREADS):
            status, headers, _ = get(base, "/status", conn)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                hits[0] += headers.get("x-vigil-cache") == "hit"
        conn.close()

    threads = [threading.Thread(target=visitor, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, hits[0]


def warm_build(worker, now_ms, rows_before):
    """Rows read by a build once the page has expired (MAX_AGE) in an isolate that already
    read the past days."""
    time.sleep(MAX_AGE + 1)
    statuses, hits = burst(worker.base)
    time.sleep(1)
    run_cron(worker, now_ms + 60_000)
    builds = sum(1 for line in worker.log_lines() if line.get("message") == "status page built")
    rows = counter(worker, STATUS) - rows_before
    print(f"after {MAX_AGE + 1} s: answers {statuses}, {hits} cache hits, {builds} builds in "
          f"all, {rows:.0f} rows read")
    return rows / max(builds - 1, 1)


def main():
    now_ms = int(time.time() * 1000)
    config = vigil_config({"METRICS_FLUSH_SECONDS": "0"})
    per_build = {}
    for services, days in ((1, 90), (10, 1), (10, 90)):
        with Worker(config, seed_sql=seed_sql(now_ms // 60_000 - 1, days, services)) as worker:
            started = time.monotonic()
            statuses, hits = burst(worker.base)
            elapsed = time.monotonic() - started
            time.sleep(1)
            run_cron(worker, now_ms)
            rows = counter(worker, STATUS)
            builds = sum(1 for line in worker.log_lines()
                         if line.get("message") == "status page built")
            per_build[services, days] = rows / max(builds, 1)
            label = f"{services} service(s), {days} d"
            print(f"{label}: {REQUESTS} requests in {elapsed:.1f} s, answers {statuses}, "
                  f"{hits} cache hits, {builds} build(s), {rows:.0f} rows read")
            row("status", f"builds per {REQUESTS} requests at {THREADS} connections, {label}",
                builds, "<= 3")
            row("status", f"cache hit ratio, {label}", f"{hits / REQUESTS:.3f}", ">= 0.9")
            row("status", f"rows read per build, {label}", f"{per_build[services, days]:.0f}")
            row("status", f"rows read per build ÷ (components × {DAYS_SHOWN} days), {label}",
                f"{per_build[services, days] / (services * DAYS_SHOWN):.2f}", "<= 4")
            if (services, days) == (10, 90):
                warm = warm_build(worker, now_ms, rows)
                row("status", f"rows read per later build (past days kept), {label}",
                    f"{warm:.0f}", "")
                row("status", f"later build ÷ first build, {label}",
                    f"{warm / per_build[services, days]:.3f}", "<= 0.1")
    ratio = per_build[10, 90] / per_build[10, 1]
    row("status", "rows read per build, 90 d ÷ 1 d of history, 10 services", f"{ratio:.2f}", "")


if __name__ == "__main__":
    main()
