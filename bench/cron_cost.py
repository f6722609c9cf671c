"""Cron cost vs traffic: does a cron run cost the same whatever the request volume?

The cron evaluates every rule over windows (up to the 30-day SLO window) read as differences of
per-minute running totals, which hold one row per minute however many requests it counted, so
the work should not depend on traffic. Two fresh instances with 20 rules
(8 built-ins + 12 via ALERT_RULES) and 30 days of per-minute running totals for 10 routes, identical but for
the counts (100 vs 1000 requests per minute and route), each get 15 cron runs one simulated
minute apart, alternating between the two so drift on a shared machine hits both alike. The
figure is the 10× instance's median run time over the 1× instance's (goal: 1 within noise), both
from the worker's own `"cron run"` log line and as the client sees it.
"""

import contextlib
import json
import statistics
import time

from common import Worker, get, p90, row, vigil_config

RUNS = 15
MINUTES = 30 * 24 * 60
EXTRA_RULES = [
    {"id": f"extra-err-{i}", "kind": "error_ratio", "threshold": 0.5, "window": w,
     "for": "5m", "keep_firing_for": "5m", "severity": "ticket"}
    for i, w in enumerate(("5m", "30m", "1h", "2h", "6h", "1d"))
] + [
    {"id": f"extra-p95-{i}", "kind": "latency_quantile", "quantile": 0.95, "threshold": 2,
     "window": w, "for": "5m", "keep_firing_for": "5m", "severity": "ticket"}
    for i, w in enumerate(("5m", "30m", "1h", "6h", "1d", "3d"))
]
# Share of each minute's requests per latency bucket (<=5ms, <=10ms, <=25ms, <=50ms, <=100ms).
BUCKET_SHARES = (0.4, 0.3, 0.2, 0.07, 0.03)


def seed_sql(now_minute, count):
    """One statement: 30 days of the hub's running totals for 10 routes at `count` requests a
    minute each."""
    buckets = ", ".join(f"b{i}" for i in range(len(BUCKET_SHARES)))
    per_minute = 10 * count
    values = ", ".join(f"x * {round(per_minute * s)}" for s in BUCKET_SHARES)
    return (
        "WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < "
        f"{MINUTES}) INSERT INTO service_cumulative (service, minute, requests, {buckets}) "
        f"SELECT 'vigil', {now_minute} - {MINUTES} + x, x * {per_minute}, {values} FROM m"
    )


def cron_run(worker, at):
    """Runs the cron at `at`; returns (server ms from the log line, client ms)."""
    start = time.perf_counter()
    status, _, body = get(worker.base, f"/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={at}")
    client = (time.perf_counter() - start) * 1000
    assert status == 200, f"scheduled handler answered {status}: {body[:300]}"
    return cron_log_duration(worker, at), client


def cron_log_duration(worker, at):
    """`durationMs` of the "cron run" line for the run at `at` (console lines reach wrangler's
    output asynchronously, so wait up to 10 s for it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in worker.log_lines():
            if line.get("message") == "cron run" and line.get("scheduledTime") == at:
                if line.get("level") != "info":
                    print(f"  cron run at {at} reported: {line.get('error')}")
                return float(line["durationMs"])
        time.sleep(0.1)
    raise RuntimeError(f'no "cron run" log line for time={at}')


def main():
    now_ms = int(time.time() * 1000)
    config = vigil_config({"ALERT_RULES": json.dumps(EXTRA_RULES)})
    volumes = {"1x": 100, "10x": 1000}
    results = {volume: [] for volume in volumes}
    with contextlib.ExitStack() as stack:
        workers = {v: stack.enter_context(Worker(config, seed_sql=seed_sql(now_ms // 60_000, count)))
                   for v, count in volumes.items()}
        for i in range(RUNS):  # alternating, so drift on a shared machine hits both alike
            for volume, worker in workers.items():
                results[volume].append(cron_run(worker, now_ms + i * 60_000))
    medians = {}
    for volume, runs in results.items():
        server, client = zip(*runs)
        print(f"{volume} server ms: {[round(v) for v in server]}")
        print(f"{volume} client ms: {[round(v) for v in client]}")
        medians[volume] = statistics.median(server), statistics.median(client)
        row("cron cost", f"{volume} traffic: cron run ms, median / p90 (server; client)",
            f"{medians[volume][0]:.0f} / {p90(server):.0f}; {medians[volume][1]:.0f} / {p90(client):.0f}", "")
    row("cron cost", "10x / 1x median cron run (server; client)",
        f"{medians['10x'][0] / medians['1x'][0]:.2f}; {medians['10x'][1] / medians['1x'][1]:.2f}", "~1.0")


if __name__ == "__main__":
    main()
