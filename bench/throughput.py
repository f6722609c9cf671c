"""Throughput: what does Vigil's per-request work (routing, config, headers, access log,
metric aggregation, Analytics Engine datapoint) cost on the cheapest route, `GET /livez`?

Compared with a bare baseline worker (bench/baseline: same `worker` crate and release profile,
answers "ok", writes one console line per request as Vigil writes one access log line) in the
same harness — `wrangler dev --local` on this machine — so the figure is a ratio: Vigil's
requests/s over the baseline's (goal >= 0.95). Absolute numbers depend on the machine and on
local logging, which travels through the inspector to wrangler and dominates (TOOLCHAIN.md).

Each run: wrk -t2 -c16 --latency, 3 s warm-up then 15 s measured, alternating A B A B so
drift on a shared machine hits both alike.
"""

import re
import statistics
import subprocess

from common import BENCH, Worker, row, vigil_config

WRK = ["wrk", "-t2", "-c16", "--latency", "--timeout", "5s"]
UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}


def wrk(url, seconds):
    """Runs wrk for `seconds`; returns (requests/s, p50 ms, p99 ms)."""
    out = subprocess.run([*WRK, f"-d{seconds}s", url], capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"  warning, {url}: {errors.group(0)}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)$", out, re.M)}
    return rps, pct["50"], pct["99"]


def compare(bench, targets, rounds=2):
    """Runs wrk on every `{name: url}` in turn, `rounds` times (a 3 s warm-up, then 15 s
    measured), prints each run and adds one summary row per target; returns the mean
    requests/s per name."""
    runs = {name: [] for name in targets}
    for round_ in range(1, rounds + 1):
        for name, url in targets.items():
            wrk(url, 3)
            runs[name].append(wrk(url, 15))
            rps, p50, p99 = runs[name][-1]
            print(f"round {round_} {name}: {rps:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    mean_rps = {}
    for name, results in runs.items():
        mean_rps[name] = statistics.mean(r[0] for r in results)
        p50 = statistics.mean(r[1] for r in results)
        p99 = statistics.mean(r[2] for r in results)
        row(bench, f"{name}: req/s, p50, p99 (mean of {rounds} runs)",
            f"{mean_rps[name]:.0f}/s, {p50:.1f} ms, {p99:.1f} ms", "")
    return mean_rps


def main():
    baseline_config = BENCH / "baseline/wrangler.toml"
    with Worker(vigil_config()) as vigil, Worker(config_path=baseline_config, migrate=False) as base:
        targets = {"vigil /livez": f"http://{vigil.base}/livez", "baseline /": f"http://{base.base}/"}
        mean_rps = compare("throughput", targets)
    ratio = mean_rps["vigil /livez"] / mean_rps["baseline /"]
    row("throughput", "Vigil / baseline requests/s", f"{ratio:.3f}", ">= 0.95")


if __name__ == "__main__":
    main()
