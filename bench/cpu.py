"""CPU per invocation: does every kind of invocation fit the Free plan's 10 ms?

Local trace events report CPU 0, and the workerd process's own CPU includes the local D1, KV
and R2 simulators. So the Worker's isolate is measured by V8's sampling profiler, reached
through `wrangler dev --inspector-port` (bench/cpu_profiler.mjs): one profile per invocation,
started before the request and stopped after its answer. The isolate's CPU is the time of the
samples that are not `(idle)`; the profiler samples only while the isolate runs, so a sample
after an idle gap carries the whole gap as its delta, and each sample counts at most CAP_US.

Calibration, in the same run:
- the bare baseline worker (bench/baseline: answers "ok", one log line), the floor every
  invocation pays locally (wrangler's dev middleware, the log line through the inspector);
- the workerd process's CPU over the same invocations (every thread's schedstat), an
  independent upper bound that includes the simulators: the isolate's figure must stay below it.

Invocation kinds, in the Free scenario of bench/day.py (30 days of history, 40 probes of a
loopback target, 5 heartbeats, a 10-component status page, the embedded app's batches): the
minute cron run (which also asks the aggregator to write its minute: the same isolate), the
hourly run (its housekeeping handed to a job), a status-page build (a new cache key each time), a `/metrics`
scrape, `/livez`, `/health`, a heartbeat ping and an aggregator batch. Then a tail batch (one
trace event of the example's JavaScript shop; tail consumers need the Paid plan, whose limit is
30 s) and the embedded request: the example application's `GET /notes/:id` with Vigil against
the same handlers built without it (`--features bare`); goal ≤ 0.3 ms over the bare app.

Figures: p50 and p99 (with RUNS samples, p99 is the worst but one) in ms, against 10 ms. The
probe batches run concurrently in their own isolate, so each run's figure is their mean.
"""

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

from common import (BENCH, Worker, app_config, get, replace_in_readme, row, sender_config,
                    toml_text, vigil_config)
from day import MINUTE, MONITORS, TOKEN, _get_with, history_sql, hub_config
from embedded import build_bare, note_url
from probes import Target
from tail import shop_config

INTERVAL_US = 100
CAP_US = 3 * INTERVAL_US
RUNS = int(os.environ.get("CPU_RUNS", "40"))
# A directory to keep every profile in (Chrome DevTools opens them; bench/cpu_top.py sums them).
PROFILES = os.environ.get("CPU_PROFILES")
HOUR = 60 * MINUTE
FREE_CPU_MS = 10.0
BATCHES = 5  # 40 probes, 8 per invocation


class Profiler:
    """V8's sampling profiler attached to one `wrangler dev`'s worker isolate."""

    def __init__(self, worker):
        args = worker.proc.args
        port = args[args.index("--inspector-port") + 1]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=30))
        self.worker = worker
        self.saved = 0
        self.helper = subprocess.Popen(
            ["node", str(BENCH / "cpu_profiler.mjs"), targets[0]["webSocketDebuggerUrl"],
             str(INTERVAL_US)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert json.loads(self.helper.stdout.readline()) == {"ready": True}

    def _say(self, line):
        self.helper.stdin.write(line + "\n")
        self.helper.stdin.flush()
        return json.loads(self.helper.stdout.readline())

    def start(self):
        """Starts a profile; returns the workerd process's CPU so far (ns)."""
        self._say("start")
        return process_cpu_ns(self.worker)

    def stop(self, process_before, kind):
        """Ends the profile; returns (isolate CPU, workerd process CPU) since `start` in ms."""
        process = (process_cpu_ns(self.worker) - process_before) / 1e6
        profile = self._say("stop")
        if PROFILES:
            self.saved += 1
            name = f"{kind.split(' (')[0].replace('/', '')}-{self.saved}.cpuprofile"
            (Path(PROFILES) / name).write_text(json.dumps(profile))
        return isolate_busy_us(profile) / 1000, process

    def measure(self, kind, action):
        """Runs `action`; returns (isolate CPU, workerd process CPU) in ms."""
        before = self.start()
        action()
        return self.stop(before, kind)

    def close(self):
        self.helper.stdin.close()
        self.helper.wait(timeout=30)


def isolate_busy_us(profile):
    """The time of a profile's non-idle samples, each counted at most CAP_US."""
    idle = {n["id"] for n in profile["nodes"] if n["callFrame"]["functionName"] == "(idle)"}
    return sum(min(delta, CAP_US) for sample, delta in zip(profile["samples"],
                                                            profile["timeDeltas"])
               if sample not in idle)


def workerd_pids(worker):
    """The workerd processes of one `wrangler dev` (its process group)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == worker.proc.pid and "workerd" in stat[:stat.rindex(")")]:
            pids.append(entry.name)
    return pids


def process_cpu_ns(worker):
    """The CPU every thread of the worker's workerd process has run, in ns (schedstat)."""
    total = 0
    for pid in worker.workerd:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except OSError:
                pass
    return total


class Kinds:
    """Samples per invocation kind: isolate ms and process ms."""

    def __init__(self):
        self.isolate, self.process = {}, {}

    def add(self, kind, figures):
        self.isolate.setdefault(kind, []).append(figures[0])
        self.process.setdefault(kind, []).append(figures[1])

    def report(self, baseline_p50):
        table = ["| invocation | isolate CPU p50 | isolate CPU p99 | workerd process, mean "
                 "(upper bound) | Free plan |", "|---|---|---|---|---|"]
        for kind, values in self.isolate.items():
            p50, p99 = percentile(values, 50), percentile(values, 99)
            bound = statistics.mean(self.process[kind])
            mean = statistics.mean(values)
            print(f"{kind}: n={len(values)} isolate p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean "
                  f"{mean:.2f} ms; workerd process mean {bound:.2f} ms "
                  f"({'below' if mean <= bound else 'ABOVE'} the bound)", flush=True)
            row("cpu", f"{kind}: isolate CPU p50 / p99 (ms), × baseline p50",
                f"{p50:.2f} / {p99:.2f}, {p50 / baseline_p50:.1f}×", f"p99 ≤ {FREE_CPU_MS:g}")
            verdict = "fits" if p99 <= FREE_CPU_MS else "over"
            if kind.startswith("tail"):
                verdict = "Paid only (30 s)"  # no Tail Workers on the Free plan
            table.append(f"| {kind} | {p50:.2f} ms | {p99:.2f} ms | {bound:.2f} ms | {verdict} |")
        return table


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def attach(worker):
    worker.workerd = workerd_pids(worker)
    assert worker.workerd, "no workerd process in the worker's process group"
    return Profiler(worker)


def ok(answer):
    assert answer[0] == 200, f"answered {answer[0]}: {answer[2][:300]}"


def baseline(kinds):
    with Worker(config_path=BENCH / "baseline/wrangler.toml", migrate=False, probe="/") as w:
        profiler = attach(w)
        for _ in range(RUNS):
            kinds.add("baseline worker, GET /", profiler.measure("baseline", lambda: ok(get(w.base, "/"))))
        profiler.close()
    return percentile(kinds.isolate["baseline worker, GET /"], 50)


def split_configs(target_url):
    """The Free scenario's hub, with its probe batches sent to a copy of itself named
    `vigil-probes` (same build and configuration) so that each isolate holds one kind of
    invocation; in production both are the same worker."""
    hub = tomllib.loads(hub_config(target_url))
    copy = {**hub, "name": "vigil-probes"}
    hub["services"] = [{**s, "service": "vigil-probes"} for s in hub.get("services", [])]
    return toml_text(hub), toml_text(copy)


def free_scenario(kinds, target):
    """The hub of the Free scenario: every hub invocation kind, one simulated minute apart."""
    start_ms = int(time.time() * 1000) // (24 * HOUR) * 24 * HOUR - 2 * 24 * HOUR
    registry = tempfile.mkdtemp(prefix="vigil-bench-registry-")
    seed = history_sql(start_ms // MINUTE, 30)
    hub_text, copy_text = split_configs(target.url)
    with Worker(copy_text, registry=registry) as copy, \
            Worker(hub_text, seed_sql=seed, registry=registry) as hub, \
            Worker(sender_config(), migrate=False, registry=registry) as app:
        profiler = attach(hub)
        batches = attach(copy)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        cron = "/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time="
        for i in range(-5, RUNS):
            at = start_ms + 30 * MINUTE + i * MINUTE
            sample = (lambda kind, action: kinds.add(kind, profiler.measure(kind, action))) \
                if i >= 0 else (lambda kind, action: action())
            send = f"/send?service=app&route=/r{i % 10}&count=20&at={at}"
            sample("aggregator batch (1 series)", lambda: ok(get(app.base, send)))
            ping = f"/api/heartbeats/job{i % MONITORS}"
            sample("heartbeat ping", lambda: ok(_get_with(hub.base, ping, auth)))
            if i >= 0:
                copy_before = batches.start()
            sample("cron run (40 probes in 5 batches)", lambda: ok(get(hub.base, f"{cron}{at}")))
            if i >= 0:
                # The five batches ran concurrently in the copy's isolate: their mean.
                isolate, process = batches.stop(copy_before, "probe batches")
                kinds.add("probe batch (8 probes), mean of a run's 5",
                          (isolate / BATCHES, process / BATCHES))
            sample("/metrics scrape", lambda: ok(get(hub.base, "/metrics")))
            sample("status page build", lambda: ok(get(hub.base, f"/status?cpu={i}")))
            sample("/livez", lambda: ok(get(hub.base, "/livez")))
            sample("/health", lambda: get(hub.base, "/health"))
        for h in range(1, RUNS // 4 + 1):
            at = start_ms + h * HOUR + 24 * HOUR
            kinds.add("hourly cron run (housekeeping handed off)",
                      profiler.measure("hourly", lambda: ok(get(hub.base, f"{cron}{at}"))))
        profiler.close()
        batches.close()
        return invocation_limits(hub)


def invocation_limits(hub):
    """The most any cron run used of each per-invocation limit (its `cron run` log lines)."""
    runs = [line["invocation"] for line in hub.log_lines()
            if line.get("message") == "cron run" and "invocation" in line]
    assert runs, "no cron run logged what it used"
    most = {key: max(run[key] for run in runs) for key in runs[0]}
    for key, limit in (("d1Statements", 50), ("subrequests", 50), ("connections", 6)):
        row("cpu", f"cron run, most {key} in one of {len(runs)} runs", f"{most[key]}",
            f"≤ {limit}")
    return most, len(runs)


def tail_batches(kinds):
    registry = tempfile.mkdtemp(prefix="vigil-bench-registry-")
    hub = Worker(vigil_config({"TAIL_UNNAMED_SERVICE": "shop"}), registry=registry)
    shop = Worker(shop_config("shop"), migrate=False, registry=registry, probe="/healthz")
    with hub, shop:
        profiler = attach(hub)

        def one_event():
            ok(get(shop.base, "/products/1"))
            time.sleep(1.0)  # the trace event reaches the hub after the answer

        for i in range(RUNS):
            kinds.add("tail batch (1 event)", profiler.measure("tail", one_event))
        profiler.close()


def embedded(kinds):
    build_bare()
    registry = tempfile.mkdtemp(prefix="vigil-bench-registry-")
    with Worker(vigil_config(), registry=registry), \
            Worker(app_config(), registry=registry, probe="/notes") as vigil, \
            Worker(app_config("build-bare"), probe="/notes") as bare:
        apps = {"app request with Vigil": vigil, "app request without Vigil": bare}
        urls = {kind: note_url(w).split(w.base, 1)[1] for kind, w in apps.items()}
        profilers = {kind: attach(w) for kind, w in apps.items()}
        for _ in range(RUNS):
            for kind, w in apps.items():
                kinds.add(kind, profilers[kind].measure(kind, lambda: ok(get(w.base, urls[kind]))))
        for p in profilers.values():
            p.close()
    # Means: at this sampling interval a p50 moves by whole samples (0.1 ms) between runs.
    overhead = (statistics.mean(kinds.isolate["app request with Vigil"])
                - statistics.mean(kinds.isolate["app request without Vigil"]))
    row("cpu", "embedded request: isolate CPU over the bare app, mean (ms)", f"{overhead:.2f}",
        "≤ 0.3")


def update_readme(table, most, runs):
    """Replaces the README's generated CPU table."""
    limits = (f"The most one of {runs} cron runs used: {most['d1Statements']} D1 statements, "
              f"{most['subrequests']} subrequests, {most['connections']} connections at once "
              "(Free plan: 50, 50, 6).")
    replace_in_readme("<!-- cpu-table:start (bench/cpu.py) -->", "<!-- cpu-table:end -->",
                      "\n".join(table) + "\n\n" + limits)


def main():
    kinds = Kinds()
    base = baseline(kinds)
    target = Target()
    threading.Thread(target=target.serve_forever, daemon=True).start()
    target.url = f"http://127.0.0.1:{target.server_address[1]}"
    most, runs = free_scenario(kinds, target)
    target.shutdown()
    tail_batches(kinds)
    embedded(kinds)
    update_readme(kinds.report(base), most, runs)


if __name__ == "__main__":
    main()
