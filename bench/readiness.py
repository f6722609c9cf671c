"""Readiness: are the four `/readyz` checks (D1, KV, R2, migrations) really run concurrently?

Server side, per request: `total` / max(d1, kv, r2, migrations) from `Server-Timing`. Run one
after another, the total would be the sum of the checks; run concurrently, it is the slowest
check plus a little. A ratio of durations in the same request is independent of how fast this
machine is, hence the goal: <= 1.2.

Client side: median latency of `/readyz` over the median of the slowest single `/readyz/{check}`
— the same question asked through HTTP, including the request overhead both share.
"""

import http.client
import statistics
import time

from common import Worker, get, p90, row, vigil_config

REQUESTS = 300
CHECKS = ("d1", "kv", "r2", "migrations")


def timing(header):
    """`d1;dur=3.1, total;dur=5.0` → {"d1": 3.1, "total": 5.0}."""
    entries = (part.strip().split(";dur=") for part in header.split(","))
    return {name: float(dur) for name, dur in entries}


def latencies(base, path):
    """Client-side latency (ms) of REQUESTS sequential GETs on one keep-alive connection, and
    each response's Server-Timing."""
    conn = http.client.HTTPConnection(base, timeout=30)
    results = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        status, headers, body = get(base, path, conn)
        results.append(((time.perf_counter() - start) * 1000, timing(headers["server-timing"])))
        assert status == 200, f"{path} answered {status}: {body[:300]}"
    conn.close()
    return results


def main():
    with Worker(vigil_config()) as worker:
        ready = latencies(worker.base, "/readyz")
        ratios = [t["total"] / m for _, t in ready if (m := max(t[c] for c in CHECKS)) > 0]
        print(f"server-side ratios: {len(ratios)} of {REQUESTS} requests had a non-zero check time")
        figure = "Server-Timing total / slowest check"
        row("readiness", f"{figure}, median", f"{statistics.median(ratios):.2f}", "<= 1.2")
        row("readiness", f"{figure}, p90", f"{p90(ratios):.2f}", "")
        row("readiness", f"{figure}, mean", f"{statistics.mean(ratios):.2f}", "")

        ready_median = statistics.median(ms for ms, _ in ready)
        singles = {c: statistics.median(ms for ms, _ in latencies(worker.base, f"/readyz/{c}"))
                   for c in CHECKS}
        slowest = max(singles, key=singles.get)
        for check, ms in singles.items():
            print(f"client median /readyz/{check}: {ms:.2f} ms")
        print(f"client median /readyz: {ready_median:.2f} ms")
        ratio = f"{ready_median / singles[slowest]:.2f} ({ready_median:.1f} / {singles[slowest]:.1f} ms)"
        row("readiness", f"client median /readyz / median /readyz/{slowest}", ratio, "<= 1.2")


if __name__ == "__main__":
    main()
