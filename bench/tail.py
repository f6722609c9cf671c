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
  aggregator's write (`vigil_store_rows_written_total{operation="flush"}`). Locally trace
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


def until_counted(hub, expected, timeout=120):
    """Writes (the hub's cron) until the hub counted `expected` invocations."""
    deadline = time.monotonic() + timeout
    while True:
        write_now(hub)
        seen = counted(hub.base, INVOCATIONS)
        if seen >= expected or time.monotonic() > deadline:
            assert seen == expected, f"hub counted {seen} of {expected} events"
            return
        time.sleep(0.5)


def settled(hub):
    """Writes until the hub's invocation count stops changing (events in flight arrived);
    returns the count and when it last changed (monotonic seconds)."""
    seen, changed = counted(hub.base, INVOCATIONS), time.monotonic()
    while True:
        time.sleep(1.0)
        write_now(hub)
        now_seen = counted(hub.base, INVOCATIONS)
        if now_seen == seen:
            return seen, changed
        seen, changed = now_seen, time.monotonic()


def fleet(registry, producers):
    hub = Worker(vigil_config({"TAIL_UNNAMED_SERVICE": "shop", "METRICS_FLUSH_SECONDS": "1",
                               "ROUTES": '{"shop": ["/products/:id"]}'}),
                 registry=registry)
    shops = [shop_config(f"shop{i}") for i in range(producers)]
    front = Worker(front_config(producers), migrate=False, registry=registry,
                   probe="/healthz", behind_configs=shops)
    return hub, front


def events_per_second(tmp):
    hub, front = fleet(tmp / "registry-rate", 1)
    with hub, front:
        before, _ = settled(hub)
        started = time.monotonic()
        rps, _, _ = wrk(f"http://{front.base}/products/1", 15)
        after, last_change = settled(hub)
        events = after - before
        hub_rate = events / (last_change - started)
        print(f"shop served {rps:.0f} req/s for 15 s; the hub counted {events:.0f} events, "
              f"the last {last_change - started - 15:.1f} s after the load ended "
              f"(within a 1 s poll): {hub_rate:.0f} events/s")
        row("tail", "events processed by one hub isolate (events/s)", f"{hub_rate:.0f}/s", "")
        row("tail", "hub events/s ÷ shop requests/s (same run)", f"{hub_rate / rps:.2f}",
            ">= 0.95")


def rows_written(tmp, producers):
    hub, front = fleet(tmp / f"registry-{producers}", producers)
    with hub, front:
        before, _ = settled(hub)
        written = counted(hub.base, WRITTEN)
        for i in range(REQUESTS):
            status = get(front.base, f"/products/{1 + i % 2}")[0]
            assert status == 200, status
        until_counted(hub, before + REQUESTS)
        write_now(hub)  # a write's own cost is recorded with the next write
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
