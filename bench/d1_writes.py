"""D1 writes: do metric writes scale with flushes rather than with requests?

Each isolate aggregates request metrics in memory and writes them to D1 in one batch per flush
(every METRICS_FLUSH_SECONDS, default 10, plus one per cron run). The figure is
`vigil_metrics_flush_batches_total` gained per 10,000 requests — a ratio of batches to requests
(goal <= 20; one write per request would be 10,000). It depends on how long the requests take
only through the flush interval.

10,000 `GET /livez` from 16 threads, each on its own keep-alive connection, bounded by count and
by a 300 s limit; then one cron run flushes what is left.
"""

import http.client
import threading
import time

from common import Worker, get, metric, row, vigil_config

REQUESTS = 10_000
THREADS = 16
TIME_LIMIT_S = 300
SERIES = "vigil_metrics_flush_batches_total"


def run_cron(base):
    status, _, body = get(base, f"/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time={int(time.time() * 1000)}")
    assert status == 200, f"scheduled handler answered {status}: {body[:300]}"


def load(base):
    """Sends REQUESTS GETs to /livez; returns (sent, non-200 answers, seconds)."""
    lock = threading.Lock()
    counts = {"sent": 0, "failed": 0}
    deadline = time.monotonic() + TIME_LIMIT_S

    def worker():
        conn = http.client.HTTPConnection(base, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                if counts["sent"] == REQUESTS:
                    break
                counts["sent"] += 1
            status = get(base, "/livez", conn)[0]
            if status != 200:
                with lock:
                    counts["failed"] += 1
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts["sent"], counts["failed"], time.monotonic() - start


def main():
    with Worker(vigil_config()) as worker:
        run_cron(worker.base)  # flush the start-up probes, so only the load is counted
        before = metric(worker.base, SERIES)
        sent, failed, seconds = load(worker.base)
        run_cron(worker.base)
        batches = metric(worker.base, SERIES) - before
    print(f"{sent} requests ({failed} not 200) in {seconds:.1f} s ({sent / seconds:.0f}/s); "
          f"{batches:.0f} flush batches incl. the final cron flush")
    assert sent == REQUESTS, f"only {sent} requests within {TIME_LIMIT_S} s"
    row("d1 writes", "D1 write batches per 10,000 requests", f"{batches * 10_000 / sent:.0f}", "<= 20")


if __name__ == "__main__":
    main()
