"""Routing cost: what grouping saves receivers and costs D1.

Two fresh hubs probe the same 10 loopback targets and post to the same loopback webhook. The
baseline routes by default (one group per alert instance, as before routing existed); the other
sends every probe-down alert through one route with `group_by: ["alertname"]`. Each hub gets a
warm-up run with the targets up, a run in which all 10 fail (probe-down fires 10 times), then
STEADY runs while they stay down. Figures: webhook requests in the firing run, and D1's own
`rows_read`/`rows_written` (`operation="cron"`, billed with the next run's flush) of the firing run
and of a steady run, as grouped ÷ baseline. Goal: one request instead of ten; no extra D1 rows
while nothing changes (a group's slot is read only in runs where the group has news).
"""

import contextlib
import http.server
import json
import threading
import time

from common import Worker, metric, row, vigil_config
from cron_cost import cron_run

PROBES = 10
STEADY = 3


class Target(http.server.ThreadingHTTPServer):
    """Probe targets (GET, answering `status`) and a webhook receiver (POST, counted per path)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self):
        self.status = 200
        self.posts = {}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(server.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server.lock:
                    server.posts[self.path] = server.posts.get(self.path, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def rows(worker):
    """D1 rows the cron has read and written so far (0 before the first flush)."""
    def counter(kind):
        try:
            return metric(worker.base, f'vigil_store_rows_{kind}_total{{operation="cron"}}')
        except KeyError:
            return 0.0
    return [counter("read"), counter("written")]


def main():
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}"
    probes = [{"name": f"p{i}", "url": f"{url}/p{i}", "failure_threshold": 1, "timeout": "5s"}
              for i in range(PROBES)]
    # Only probe-down: the burn-rate rules would fire for the probes too, in later runs.
    others = ["cron-stale", "dependency-down", "heartbeat-missed", "high-error-ratio",
              "high-latency-p95", "slo-availability-page", "slo-availability-ticket",
              "slo-latency-page", "slo-latency-ticket", "worker-invocation-failures"]
    rules = [{"id": rule, "disabled": True} for rule in others]
    common = {"PROBES": json.dumps(probes), "SUBREQUEST_BUDGET": "200",
              "ALERT_RULES": json.dumps(rules)}
    hubs = {
        "baseline": {**common, "RECEIVERS": json.dumps(
            [{"name": "hook", "type": "webhook", "url": f"{url}/baseline"}]),
            "NOTIFY_ROUTES": json.dumps([{"default": True, "receivers": ["hook"]}])},
        "grouped": {**common, "RECEIVERS": json.dumps(
            [{"name": "hook", "type": "webhook", "url": f"{url}/grouped"}]),
            "NOTIFY_ROUTES": json.dumps([{"match": {"alertname": "probe-down"},
                                          "receivers": ["hook"], "group_by": ["alertname"]},
                                         {"default": True, "receivers": ["hook"]}])},
    }
    now_ms = int(time.time() * 1000)
    cost = {}
    with contextlib.ExitStack() as stack:
        workers = {name: stack.enter_context(Worker(vigil_config(vars)))
                   for name, vars in hubs.items()}
        readings = {name: [] for name in workers}
        for i in range(3 + STEADY):
            target.status = 200 if i == 0 else 503
            for name, worker in workers.items():
                cron_run(worker, now_ms + i * 60_000)
                readings[name].append(rows(worker))
        for name, seen in readings.items():
            # Reading i holds the runs before run i: run 1 (firing) is billed by reading 2.
            diff = [[b - a for a, b in zip(x, y)] for x, y in zip(seen, seen[1:])]
            print(f"{name}: rows read, written per run: {diff}")
            firing, steady = diff[1], diff[2:]
            steady = [sum(d[k] for d in steady) / len(steady) for k in (0, 1)]
            cost[name] = firing, steady
            print(f"{name}: firing run read {firing[0]:.0f}, wrote {firing[1]:.0f}; "
                  f"steady run read {steady[0]:.0f}, wrote {steady[1]:.0f}; "
                  f"webhook requests {target.posts.get('/' + name, 0)}")
    target.shutdown()
    requests = {name: target.posts.get("/" + name, 0) for name in hubs}
    row("routing", "webhook requests when 10 alerts fire: baseline; grouped",
        f"{requests['baseline']}; {requests['grouped']}", "10; 1")
    (bf, bs), (gf, gs) = cost["baseline"], cost["grouped"]
    row("routing", "D1 rows read, written by the firing run: baseline; grouped",
        f"{bf[0]:.0f}, {bf[1]:.0f}; {gf[0]:.0f}, {gf[1]:.0f}")
    row("routing", "grouped ÷ baseline, steady run: rows read; rows written",
        f"{gs[0] / bs[0]:.2f}; {gs[1] / bs[1]:.2f}", "1.00; 1.00")


if __name__ == "__main__":
    main()
