"""Probe cost: cron run time and subrequests with 1, 10 and 40 probes.

Three fresh hubs (Free-plan budget: SUBREQUEST_BUDGET=50, of which probes may use 40) probe a
loopback target that answers at once. Each gets RUNS cron runs one simulated minute apart,
alternating between the hubs so drift on a shared machine hits all alike. Figures: the median
cron run time (the worker's own "cron run" log line) and the target's requests per run, each as
a ratio to the 1-probe hub. Probes run six at a time (the runtime's connection limit), so run
time should grow by about one round trip per six probes, and subrequests one per probe, staying
within the 40 the budget gives probes. D1 rows per cron run come from D1's own counts
(`vigil_store_rows_*_total{operation="cron"}`, written with the next run's flush, hence one
extra run at the end).
"""

import contextlib
import http.server
import json
import statistics
import threading
import time

from common import Worker, metric, row, vigil_config
from cron_cost import cron_run

RUNS = 8
SIZES = (1, 10, 40)


class Target(http.server.ThreadingHTTPServer):
    """Answers every request with 200 "ok" and counts them."""

    daemon_threads = True
    request_queue_size = 128  # six connections at once from each hub, never refused

    def __init__(self):
        self.hits = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                # Said out loud, so the runtime does not reuse a connection this HTTP/1.0
                # server closes (a reused one fails as "Network connection lost").
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def main():
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}"
    now_ms = int(time.time() * 1000)
    runs = {n: [] for n in SIZES}
    with contextlib.ExitStack() as stack:
        workers = {}
        for n in SIZES:
            probes = [{"name": f"p{i}", "url": f"{url}/{n}/{i}", "timeout": "5s"} for i in range(n)]
            config = vigil_config({"PROBES": json.dumps(probes), "SUBREQUEST_BUDGET": "50"})
            workers[n] = stack.enter_context(Worker(config))
        for i in range(RUNS):
            for n, worker in workers.items():
                before = target.hits
                server_ms, _ = cron_run(worker, now_ms + i * 60_000)
                runs[n].append((server_ms, target.hits - before))
        rows = {}
        for n, worker in workers.items():
            cron_run(worker, now_ms + RUNS * 60_000)  # flushes the last measured run's cost
            rows[n] = [metric(worker.base, f'vigil_store_rows_{kind}_total{{operation="cron"}}') / RUNS
                       for kind in ("read", "written")]
    target.shutdown()
    medians = {}
    for n, results in runs.items():
        times, hits = zip(*results)
        print(f"{n} probes: cron ms {[round(t) for t in times]}, subrequests {list(hits)}")
        medians[n] = statistics.median(times), statistics.median(hits)
        row("probes", f"{n} probes: median cron run ms; probe subrequests per run; D1 rows read, written per run",
            f"{medians[n][0]:.0f}; {medians[n][1]:.0f}; {rows[n][0]:.0f}, {rows[n][1]:.0f}",
            "subrequests ≤ 40")
    for n in SIZES[1:]:
        row("probes", f"{n} / 1 probes: cron run time; subrequests",
            f"{medians[n][0] / medians[1][0]:.2f}; {medians[n][1] / medians[1][1]:.0f}",
            f"subrequests = {n}")


if __name__ == "__main__":
    main()
