"""Tail: what does observing workers through `tail_consumers` cost the hub?

Copies of the plain JavaScript shop (examples/tail-js, which lists the hub in
`tail_consumers`) run behind a small front worker that spreads requests over them round robin,
in one `wrangler dev`; the hub runs in its own, joined by a dev registry.

- Events processed per second by one hub isolate: wrk drives the shop for 15 s (its
  `GET /products/:id`, one trace event per request); the figure is the events the hub counted
  (`vigil_worker_invocations_total`) over the time from the load's start until the last one
  was counted, against the events the shop served over the load's duration in the same run
  (ratio 1.00: the hub keeps up with everything the producer can serve here).
- D1 rows written per minute with 1 vs 10 producers: the same 300 requests served by 1 shop or
  spread over 10, then the hub's minute write; the figure is D1's own `rows_written` of the
  aggregator's write (`vigil_store_rows_written_total{operation="flush"}`). The hub sends its
  counts only with its cron (`METRICS_FLUSH_SECONDS=3600`), so the measurement is: write twice
  (settle), read the counter, serve the traffic, wait 5 s for its trace events, write twice
  (the second records the first's cost), read the counter, and check that every event was
  counted. Locally trace
  events carry no script name, so all copies count as one service (`TAIL_UNNAMED_SERVICE`);
  in production each script is its own service and rows grow with its series.
"""

import tempfile
import time
import tomllib
from pathlib import Path

from common import BENCH, ROOT, Worker, get, metric, row, toml_text, vigil_config
from throughput import wrk

SHOP = ROOT / "examples/tail-js"
INVOCATIONS = 'vigil_worker_invocations_total{service="shop",event="fetch",outcome="ok"}'
WRITTEN = 'vigil_store_rows_written_total{operation="flush"}'
REQUESTS = 300


def shop_config(name):
    config = tomllib.loads((SHOP / "wrangler.toml").read_text())
    config.pop("triggers", None)
    config["name"] = name
    config["main"] = str(SHOP / "src/index.js")
    return toml_text(config)


def front_config(producers):
    config = {
        "name": "front",
        "main": str(BENCH / "tail_front/index.js"),
        "compatibility_date": "2026-04-01",
        "vars": {"PRODUCERS": str(producers)},
        "services": [{"binding": f"P{i}", "service": f"shop{i}"} for i in range(producers)],
    }
    return toml_text(config)


def counted(base, series):
    try:
        return metric(base, series)
    except KeyError:
        return 0.0


def write_now(hub):
    status = get(hub.base, "/cdn-cgi/handler/scheduled?cron=*+*+*+*+*")[0]
    assert status == 200, status


def settled(hub):
    """Writes until the hub's invocation count stops changing for a second (events in flight
    arrived); returns the count and when it last changed (monotonic seconds)."""
    seen, changed = counted(hub.base, INVOCATIONS), time.monotonic()
    while True:
        time.sleep(0.25)
        write_now(hub)
        now_seen = counted(hub.base, INVOCATIONS)
        if now_seen != seen:
            seen, changed = now_seen, time.monotonic()
        elif time.monotonic() - changed > 1.0:
            return seen, changed


def fleet(registry, producers, flush_seconds):
    hub = Worker(vigil_config({"TAIL_UNNAMED_SERVICE": "shop",
                               "METRICS_FLUSH_SECONDS": str(flush_seconds),
                               "ROUTES": '{"shop": ["/products/:id"]}'}),
                 registry=registry)
    shops = [shop_config(f"shop{i}") for i in range(producers)]
    front = Worker(front_config(producers), migrate=False, registry=registry,
                   probe="/healthz", behind_configs=shops)
    return hub, front


def events_per_second(tmp):
    hub, front = fleet(tmp / "registry-rate", 1, 1)
    with hub, front:
        before, _ = settled(hub)
        started = time.monotonic()
        rps, _, _ = wrk(f"http://{front.base}/products/1", 15)
        after, last_change = settled(hub)
        events = after - before
        hub_rate = events / (last_change - started)
        print(f"shop served {rps:.0f} req/s for 15 s (≈{rps * 15:.0f} requests); the hub "
              f"counted {events:.0f} events, the last {last_change - started - 15:.1f} s after "
              f"the load ended (polled every 0.25 s): {hub_rate:.0f} events/s")
        row("tail", "events processed by one hub isolate (events/s)", f"{hub_rate:.0f}/s", "")
        row("tail", "hub events/s ÷ shop requests/s (same run)", f"{hub_rate / rps:.2f}",
            ">= 0.95")


def rows_written(tmp, producers):
    hub, front = fleet(tmp / f"registry-{producers}", producers, 3600)
    with hub, front:
        time.sleep(5)  # the readiness probe's trace event
        write_now(hub)
        write_now(hub)
        before = counted(hub.base, INVOCATIONS)
        written = counted(hub.base, WRITTEN)
        for i in range(REQUESTS):
            status = get(front.base, f"/products/{1 + i % 2}")[0]
            assert status == 200, status
        time.sleep(5)  # trace events arrive after the responses
        write_now(hub)
        write_now(hub)  # a write's own cost is recorded with the next write
        after = counted(hub.base, INVOCATIONS)
        assert after - before == REQUESTS, f"hub counted {after - before} of {REQUESTS} events"
        return counted(hub.base, WRITTEN) - written


def main():
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-tail-"))
    events_per_second(tmp)
    results = {}
    for producers in (1, 10):
        results[producers] = rows_written(tmp, producers)
        print(f"{producers} producer(s), {REQUESTS} requests: {results[producers]:.0f} D1 rows written")
        row("tail", f"D1 rows written per minute, {producers} producer(s)",
            f"{results[producers]:.0f}", "")
    row("tail", "rows written, 10 producers ÷ 1", f"{results[10] / results[1]:.2f}", "<= 1.1")


if __name__ == "__main__":
    main()
