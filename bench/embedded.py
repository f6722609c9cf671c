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

import http.client
import json
import subprocess
import tempfile
from pathlib import Path

from common import ROOT, Worker, app_config, get, row, vigil_config
from throughput import compare

APP = ROOT / "examples/app"


def build_bare():
    """The example's handlers without Vigil, into examples/app/build-bare."""
    subprocess.run(["worker-build", "--release", "--out-dir", "build-bare", "--features", "bare"],
                   cwd=APP, check=True, capture_output=True)


def note_url(worker):
    """Creates one note and warms its cache entry; returns the URL wrk hammers."""
    conn = http.client.HTTPConnection(worker.base, timeout=30)
    conn.request("POST", "/notes", body='{"text": "benchmark"}',
                 headers={"Content-Type": "application/json"})
    reply = conn.getresponse()
    body = reply.read().decode()
    assert reply.status == 201, body
    note = json.loads(body)["id"]
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
            "GET /notes/:id with Vigil": note_url(vigil),
            "GET /notes/:id without Vigil, one log line": note_url(bare),
            "GET /notes/:id without Vigil, no log line": note_url(quiet),
        }
        mean_rps = compare("embedded", targets)
        shipped = [l for l in vigil.log_lines() if l.get("error", {}).get("type") == "HubUnreachable"]
        print(f"shipments that failed during the run: {len(shipped)}")
    with_vigil, without, silent = (mean_rps[name] for name in targets)
    row("embedded", "with / without Vigil requests/s (same log lines)",
        f"{with_vigil / without:.3f}", ">= 0.95")
    row("embedded", "one local log line per request: requests/s ratio", f"{without / silent:.3f}", "")


if __name__ == "__main__":
    main()
