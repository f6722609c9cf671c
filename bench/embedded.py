"""Embedded: what does Vigil cost an application? The example application (examples/app)'s
busiest route, `GET /notes/:id` served from the KV cache, with Vigil embedded (request id,
Server-Timing, access log, Analytics Engine datapoint, RED metrics, shipping to a hub) and
without it (the same handlers built with `--features bare`), in the same harness.

Locally every console line travels through the inspector to wrangler and dominates a request's
cost (TOOLCHAIN.md), so the bare build writes one console line per request, as Vigil writes its
access line, and the goal ratio compares those two; the bare build without any line
(`QUIET`) is measured too, to show what the access line itself costs locally.

Each run: wrk -t2 -c16 --latency, 3 s warm-up then 15 s measured, alternating between the
variants, two rounds, so drift on a shared machine hits all alike.
"""

import statistics
import subprocess
import tempfile
from pathlib import Path

from common import ROOT, Worker, app_config, get, row, vigil_config
from throughput import wrk

APP = ROOT / "examples/app"


def build_bare():
    """The example's handlers without Vigil, into examples/app/build-bare."""
    subprocess.run(["worker-build", "--release", "--out-dir", "build-bare", "--features", "bare"],
                   cwd=APP, check=True, capture_output=True)


def note_url(worker):
    """Creates one note and warms its cache entry; returns the URL wrk hammers."""
    import http.client
    conn = http.client.HTTPConnection(worker.base, timeout=30)
    conn.request("POST", "/notes", body='{"text": "benchmark"}',
                 headers={"Content-Type": "application/json"})
    reply = conn.getresponse()
    body = reply.read().decode()
    assert reply.status == 201, body
    note = __import__("json").loads(body)["id"]
    status = get(worker.base, f"/notes/{note}")[0]
    assert status == 200, status
    return f"http://{worker.base}/notes/{note}"


def main():
    build_bare()
    registry = Path(tempfile.mkdtemp(prefix="vigil-bench-registry-"))
    probe = "/notes"
    with Worker(vigil_config(), registry=registry) as _hub, \
            Worker(app_config(), registry=registry, probe=probe) as vigil, \
            Worker(app_config("build-bare"), probe=probe) as bare, \
            Worker(app_config("build-bare", {"QUIET": "1"}), probe=probe) as quiet:
        targets = {
            "with Vigil": note_url(vigil),
            "without Vigil, one log line": note_url(bare),
            "without Vigil, no log line": note_url(quiet),
        }
        runs = {name: [] for name in targets}
        for round_ in (1, 2):
            for name, url in targets.items():
                wrk(url, 3)
                runs[name].append(wrk(url, 15))
                rps, p50, p99 = runs[name][-1]
                print(f"round {round_} {name}: {rps:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        shipped = [l for l in vigil.log_lines() if l.get("error", {}).get("type") == "HubUnreachable"]
        print(f"shipments that failed during the run: {len(shipped)}")
    mean_rps = {}
    for name, results in runs.items():
        mean_rps[name] = statistics.mean(r[0] for r in results)
        p50 = statistics.mean(r[1] for r in results)
        p99 = statistics.mean(r[2] for r in results)
        row("embedded", f"GET /notes/:id {name}: req/s, p50, p99 (mean of 2 runs)",
            f"{mean_rps[name]:.0f}/s, {p50:.1f} ms, {p99:.1f} ms", "")
    ratio = mean_rps["with Vigil"] / mean_rps["without Vigil, one log line"]
    row("embedded", "with / without Vigil requests/s (same log lines)", f"{ratio:.3f}", ">= 0.95")
    logging = mean_rps["without Vigil, one log line"] / mean_rps["without Vigil, no log line"]
    row("embedded", "one local log line per request: requests/s ratio", f"{logging:.3f}", "")


if __name__ == "__main__":
    main()
