"""A simulated day on the Free plan: everything Vigil costs, summed over 1,440 cron minutes.

One hub with 30 days of history plays a whole day (DAY_MINUTES cron runs one simulated minute
apart, the 24 hourly housekeeping runs included, after 10 unmeasured minutes that create the
states 30 days would have left) with the traffic that day brings:
- an embedded application (the test sender, which ships through the `vigil` library like any
  embedded app): 30,000 requests a day on 10 routes, sent as 3 isolates' flushes every 10 s;
- 40 probes of a loopback target, every minute;
- 5 heartbeat monitors, each pinged every 5 minutes;
- a status page of 10 components (5 public probes, 2 services, 3 dependencies) loaded every
  10 s: with its 30 s cache, two builds a minute reach D1, the other loads are cache hits;
- a Prometheus scrape every 60 s; the built-in rules.

D1 figures are D1's own `rows_read` / `rows_written`, as Vigil adds them up per operation
(`vigil_store_rows_*_total`); Durable Object requests are the aggregator's batches (and at
most one alarm a minute); Workers requests are the hub's HTTP requests and cron runs (the
application's own 30,000 requests are its own, whatever monitors it). Each daily total is set
against the Free plan's daily quota as a headroom ratio (quota ÷ use; the goal is ≥ 2).

The simulated day lies in the past, so the hub's own requests (served at the real time) fall
after it; their rows are removed every simulated hour so that they do not make the day's
self-probe writes touch them (they would not exist in production, where both share one clock).

A shorter run at 1 and at 30 days of history (GROWTH_MINUTES, housekeeping included) gives the
growth of rows read with history.
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import tempfile
import threading
import time

from common import Worker, get, replace_in_readme, row, sender_config, vigil_config
from d1_reads import counter
from probes import Target

DAY_MINUTES = int(os.environ.get("DAY_MINUTES", "1440"))
GROWTH_MINUTES = int(os.environ.get("GROWTH_MINUTES", "120"))
WARMUP_MINUTES = 10
MINUTE = 60_000
DAY = 1440 * MINUTE
PROBES = 40
MONITORS = 5
ROUTES = 10
APP_REQUESTS_PER_DAY = 30_000
BATCHES_PER_MINUTE = 3 * 6  # three isolates, each flushing every 10 s
TOKEN = "bench-heartbeat-token"
# Free plan daily quotas.
QUOTAS = {
    "D1 rows read": 5_000_000,
    "D1 rows written": 100_000,
    "Durable Object requests": 100_000,
    "Workers requests": 100_000,
    "Durable Object storage rows written": 100_000,
}
OPERATIONS = ("cron", "housekeeping", "flush", "scrape", "status", "api", "health", "ping")


def hub_config(target_url):
    probes = [{"name": f"p{i}", "url": f"{target_url}/{i}", "timeout": "5s", "public": i < 5}
              for i in range(PROBES)]
    monitors = [{"name": f"job{i}", "period": "5m", "grace": "2m"} for i in range(MONITORS)]
    components = {"services": ["app", "vigil"], "dependencies": ["d1", "kv", "r2"]}
    return vigil_config({"PROBES": json.dumps(probes), "HEARTBEATS": json.dumps(monitors),
                         "STATUS_COMPONENTS": json.dumps(components), "SUBREQUEST_BUDGET": "50",
                         "HEARTBEAT_TOKEN": TOKEN})


def history_sql(start_minute, days):
    """`days` of history before `start_minute`: per-minute running totals of both services (one
    row a minute, as active services write), and each probe's check ledger as this version
    writes it: a row when its result changes, here a 5-minute outage every third day."""
    minutes = days * 1440
    statements = [
        f"WITH RECURSIVE m(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM m WHERE x < {minutes}) "
        "INSERT INTO service_cumulative (service, minute, requests, b0, probes) "
        f"SELECT '{name}', {start_minute} - {minutes} - 1 + x, x * 20, x * 20, x FROM m"
        for name in ("app", "vigil")]
    first = start_minute - minutes
    for i in range(PROBES):
        rows = [(first, 1, 0, 1, 0)]
        for outage in range(first + 1440 + i, start_minute - 10, 3 * 1440):
            checks = outage - first + 1
            failed = (len(rows) // 2) * 5
            rows.append((outage, checks, failed + 1, 1, 1))
            rows.append((outage + 5, checks + 5, failed + 5, 1, 0))
        values = ", ".join(f"('p{i}', {m}, {c}, {f}, {rp}, {rf})" for m, c, f, rp, rf in rows)
        statements.append("INSERT INTO probe_cumulative (probe, minute, probes, probes_failed, "
                          f"rate_probes, rate_failed) VALUES {values}")
    statements += [f"INSERT INTO request_totals (service, route, method, code, count, duration_sum) "
                   f"VALUES ('app', '/r{r}', 'GET', 200, {minutes * 2}, 1.0)" for r in range(ROUTES)]
    return ";\n".join(statements)


class Day:
    """Plays simulated minutes against a hub and its embedded app."""

    def __init__(self, hub, app, start_ms):
        self.hub, self.app, self.start_ms = hub, app, start_ms
        self.pool = concurrent.futures.ThreadPoolExecutor(6)
        self.hub_requests = 0
        self.retried = 0
        self.lock = threading.Lock()

    def hub_get(self, path, headers=None):
        with self.lock:
            self.hub_requests += 1
        status, _, body = get(self.hub.base, path) if headers is None else _get_with(
            self.hub.base, path, headers)
        assert status < 500, f"{path} answered {status}: {body[:300]}"

    def cron(self, at):
        """Runs the cron at `at`. A connection the local proxy drops under load is retried: a
        second run of the same minute is a no-op for what the first one stored."""
        for attempt in range(3):
            try:
                return _ok(get(self.hub.base, f"/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={at}"))
            except (ConnectionError, http.client.HTTPException) as e:
                self.retried += 1
                print(f"  cron at {at}: {e!r}, attempt {attempt + 1}", flush=True)
        raise RuntimeError(f"cron at {at} failed three times")

    def minute(self, i):
        at = self.start_ms + i * MINUTE
        per_batch = APP_REQUESTS_PER_DAY / 1440 / BATCHES_PER_MINUTE
        sends = []
        for b in range(BATCHES_PER_MINUTE):
            count = int((i * BATCHES_PER_MINUTE + b + 1) * per_batch) - int(
                (i * BATCHES_PER_MINUTE + b) * per_batch)
            if count:
                route = f"/r{(i + b) % ROUTES}"
                sends.append(f"/send?service=app&route={route}&count={count}&at={at + b * 3000}")
        list(self.pool.map(lambda p: _ok(get(self.app.base, p)), sends))
        if i % 5 == 0:
            for m in range(MONITORS):
                self.hub_get(f"/api/heartbeats/job{m}", {"Authorization": f"Bearer {TOKEN}"})
        self.cron(at)
        self.hub_get("/metrics")
        for half in range(6):
            # Two builds a minute (the cache's 30 s), four cache hits.
            self.hub_get(f"/status?b={i}-{half // 3}")
        return len(sends)


def _get_with(base, path, headers):
    c = http.client.HTTPConnection(base, timeout=60)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, {}, r.read().decode(errors="replace")
    finally:
        c.close()


def _ok(answer):
    status, _, body = answer
    assert status == 200, f"answered {status}: {body[:300]}"


def costs(hub):
    """Vigil's own counters now: D1 rows per operation and aggregator batches."""
    values = {}
    for op in OPERATIONS:
        for kind in ("read", "written"):
            values[op, kind] = counter(hub, f'vigil_store_rows_{kind}_total{{operation="{op}"}}')
    values["batches"] = counter(hub, "vigil_aggregator_batches_total")
    return values


def play(days_of_history, minutes, target):
    """Plays `minutes` simulated minutes on top of `days_of_history`; returns Vigil's cost
    deltas, the hub's requests and the simulated day's last minute."""
    start_ms = _now_ms() // DAY * DAY - 2 * DAY
    end_minute = start_ms // MINUTE + minutes
    registry = tempfile.mkdtemp(prefix="vigil-bench-registry-")
    seed = history_sql(start_ms // MINUTE, days_of_history)
    try:
        with Worker(hub_config(target.url), seed_sql=seed, registry=registry) as hub, \
                Worker(sender_config(), migrate=False, registry=registry) as app:
            day = Day(hub, app, start_ms)
            # The minutes before the day create what 30 days of history would have left: the
            # probes' states, alert instances and ledger rows.
            for i in range(-WARMUP_MINUTES, 0):
                day.minute(i)
            before = costs(hub)
            hits = target.hits
            requests_before = day.hub_requests
            sent = 0
            try:
                for i in range(minutes):
                    sent += day.minute(i)
                    if i % 60 == 59:
                        hub.d1("DELETE FROM service_cumulative WHERE service = 'vigil' "
                               f"AND minute >= {end_minute}")
                        print(f"  {days_of_history} d of history: {i + 1} minutes played",
                              flush=True)
            except Exception:
                shutil.copy(hub.log, "/tmp/vigil-day-hub.log")
                print("the hub's log is in /tmp/vigil-day-hub.log", flush=True)
                raise
            # The last run's cost is written with the next run's flush.
            day.cron(start_ms + minutes * MINUTE)
            after = costs(hub)
            delta = {k: after[k] - before[k] for k in after}
            delta["hub requests"] = day.hub_requests - requests_before + minutes  # + cron runs
            delta["app batches"] = sent
            delta["probe checks"] = target.hits - hits
            delta["cron retries"] = day.retried
            return delta
    finally:
        shutil.rmtree(registry, ignore_errors=True)


def _now_ms():
    return int(time.time() * 1000)


def report_day(delta, minutes):
    """Summary rows, and the README's cost table (between its `cost-table` markers)."""
    scale = 1440 / minutes
    per_op = {op: (delta[op, "read"] * scale, delta[op, "written"] * scale) for op in OPERATIONS
              if delta[op, "read"] or delta[op, "written"]}
    use = {
        "D1 rows read": sum(r for r, _ in per_op.values()),
        "D1 rows written": sum(w for _, w in per_op.values()),
        # Batches, plus at most one alarm a minute (the cron's write usually comes first).
        "Durable Object requests": (delta["batches"] + minutes) * scale,
        "Workers requests": delta["hub requests"] * scale,
        # The aggregator's journal: each batch is put, then deleted once written; plus its alarm.
        "Durable Object storage rows written": (2 * delta["batches"] + minutes) * scale,
    }
    table = ["| quota (Free plan, a day) | Vigil's use | quota | headroom |", "|---|---|---|---|"]
    for name, value in use.items():
        headroom = QUOTAS[name] / max(value, 1)
        row("day", f"Free scenario, {name} a day (headroom: quota ÷ use)",
            f"{value:,.0f} ({headroom:.1f}×)", "≥ 2×")
        table.append(f"| {name} | {value:,.0f} | {QUOTAS[name]:,} | {headroom:.1f}× |")
    table += ["", "| operation | D1 rows read a day | D1 rows written a day |", "|---|---|---|"]
    for op, (read, written) in per_op.items():
        row("day", f"Free scenario, D1 rows read / written a day by {op}",
            f"{read:,.0f} / {written:,.0f}", "")
        table.append(f"| {op} | {read:,.0f} | {written:,.0f} |")
    if minutes == 1440:
        update_readme("\n".join(table))


def update_readme(table):
    """Replaces the README's generated cost table."""
    replace_in_readme("<!-- cost-table:start (bench/day.py) -->", "<!-- cost-table:end -->", table)


def main():
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}"
    target.url = url
    day = play(30, DAY_MINUTES, target)
    print(json.dumps({f"{k[0]}:{k[1]}" if isinstance(k, tuple) else k: v
                      for k, v in day.items()}, indent=1))
    report_day(day, DAY_MINUTES)
    checks = day["probe checks"] / DAY_MINUTES
    row("day", "Free scenario, probes checked per minute", f"{checks:.1f}", f"= {PROBES}")
    growth = {days: play(days, GROWTH_MINUTES, target) for days in (1, 30)}
    for op in ("cron", "housekeeping"):
        ratio = growth[30][op, "read"] / max(growth[1][op, "read"], 1)
        row("day", f"{op} rows read, 30 d ÷ 1 d of history ({GROWTH_MINUTES} min)",
            f"{ratio:.2f}", "≤ 1.1")
    target.shutdown()


if __name__ == "__main__":
    main()
