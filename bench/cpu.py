"""CPU per invocation: does every kind of invocation fit the Free plan's 10 ms?

Local trace events report CPU 0, and the workerd process's own CPU includes the local D1, KV
and R2 simulators. So each Worker isolate is measured by V8's sampling profiler, reached
through workerd's inspector (bench/cpu_profiler.mjs): one profile per invocation, started
before the request and stopped after its answer. The isolate's CPU is the time of the samples
that are not `(idle)`; the profiler samples only while the isolate runs, so a sample after an
idle gap carries the whole gap as its delta, and each sample counts at most CAP_US.
`CPU_PROFILES=dir` keeps every profile (bench/cpu_top.py sums them by script and function).

Calibration, in the same run:
- the bare baseline worker (bench/baseline: answers "ok", one log line), the floor every
  invocation pays locally (wrangler's dev middleware, the log line through the inspector);
- the workerd process's CPU over the same invocations (every thread's schedstat), an
  independent upper bound that includes the simulators: the isolate's figure must stay below it.

Invocation kinds, in the Free scenario of bench/day.py (30 days of history, 40 probes of a
loopback target, 5 heartbeats, a 10-component status page, the embedded app's batches), each
in an isolate of its own (see `split_configs`): the minute cron run's coordinator and each of
its stages (observe, probes, evaluate, deliver), the probe batches, the aggregator's batch and
minute write, the hourly run and its housekeeping job, a status-page build (a new cache key
each time), a `/metrics` scrape, `/livez`, `/health` and a heartbeat ping. Then a tail batch
(one trace event of the example's JavaScript shop; tail consumers need the Paid plan, whose
limit is 30 s) and the embedded request: the example application's `GET /notes/:id` with
Vigil against the same handlers built without it (`--features bare`); goal ≤ 0.3 ms over the
bare app.

Figures: p50 and p99 (nearest rank: with fewer than 100 samples, p99 is the slowest) in ms,
against 10 ms. A run's five probe batches run concurrently in one isolate, so each run's figure
is their mean.
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
    """V8's sampling profiler attached to one worker's isolate: the first worker of a `wrangler
    dev` through wrangler's inspector, or a named one (`wrangler dev` with several configs)
    through workerd's own."""

    def __init__(self, worker, name=None):
        self.worker = worker
        self.saved = 0
        if name:
            url = isolate_targets(worker)[name]
        else:
            args = worker.proc.args
            port = args[args.index("--inspector-port") + 1]
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json",
                                                       timeout=30))
            url = targets[0]["webSocketDebuggerUrl"]
        for _ in range(5):  # workerd's inspector now and then drops a new session at once
            self.helper = subprocess.Popen(
                ["node", str(BENCH / "cpu_profiler.mjs"), url, str(INTERVAL_US)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True)
            line = self.helper.stdout.readline()
            if line:
                break
            self.helper.kill()
            self.helper.wait()
            time.sleep(1)
        assert line, f"the profiler did not attach to {url}: {self.helper.stderr.read()[-800:]}"
        assert json.loads(line) == {"ready": True}

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


def isolate_targets(worker):
    """Each worker's inspector URL in workerd's own inspector (`core:user:{name}`), found on
    the ports the worker's workerd processes listen on."""
    targets = {}
    for pid in worker.workerd:
        for port in listening_ports(pid):
            try:
                listed = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                                          timeout=5))
            except (OSError, ValueError):
                continue
            for target in listed:
                if isinstance(target, dict) and target.get("id", "").startswith("core:user:"):
                    targets[target["id"].removeprefix("core:user:")] = \
                        target["webSocketDebuggerUrl"]
    return targets


def listening_ports(pid):
    """The TCP ports process `pid` listens on (its socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


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


def attach(worker, name=None):
    worker.workerd = workerd_pids(worker)
    assert worker.workerd, "no workerd process in the worker's process group"
    return Profiler(worker, name)


def ok(answer):
    assert answer[0] == 200, f"answered {answer[0]}: {answer[2][:300]}"


def baseline(kinds):
    with Worker(config_path=BENCH / "baseline/wrangler.toml", migrate=False, probe="/") as w:
        profiler = attach(w)
        for _ in range(RUNS):
            kinds.add("baseline worker, GET /", profiler.measure("baseline", lambda: ok(get(w.base, "/"))))
        profiler.close()
    return percentile(kinds.isolate["baseline worker, GET /"], 50)


# The hub's jobs, each run by a copy of the hub of its own (`vigil-{job}`), and what the
# figures call each.
JOBS = {"observe": "observe stage (self-probe, monitors, components)",
        "probes": "probes stage (states, 5 batch calls, results)",
        "probe-batch": "probe batch (8 probes), mean of a run's 5",
        "evaluate": "evaluate stage (alerting, SLOs)",
        "deliver": "deliver stage (outbox)",
        "housekeeping": "hourly housekeeping job"}


def split_configs(target_url):
    """The Free scenario as workers of one `wrangler dev` (one local D1), so that each isolate
    holds one kind of invocation; in production they are all the hub. `vigil` coordinates the
    cron and serves requests; its HUB_JOBS binding reaches `vigil-jobs` (bench/jobs_router.mjs),
    which sends each job to its copy; `vigil-aggregator` hosts the aggregator object (a
    Durable Object runs in an isolate of its own in production too). Also the embedded app's
    configuration, bound to that object."""
    hub = tomllib.loads(hub_config(target_url))
    elsewhere = [{**b, "script_name": "vigil-aggregator"} for b in
                 hub["durable_objects"]["bindings"]]

    def copy(name, hosts_aggregator=False):
        config = {**hub, "name": name, "services": [{"binding": "HUB_JOBS",
                                                     "service": "vigil-jobs"}]}
        if not hosts_aggregator:
            config["durable_objects"] = {"bindings": elsewhere}
            config.pop("migrations", None)
        return toml_text(config)

    router = {"name": "vigil-jobs", "main": str(BENCH / "jobs_router.mjs"),
              "compatibility_date": hub["compatibility_date"],
              "services": [{"binding": job.replace("-", "_").upper(), "service": f"vigil-{job}",
                            "entrypoint": "HubJobs"} for job in JOBS]}
    behind = [toml_text(router), copy("vigil-aggregator", hosts_aggregator=True)]
    behind += [copy(f"vigil-{job}") for job in JOBS]
    app = tomllib.loads(sender_config())
    app["durable_objects"] = {"bindings": [{**b, "script_name": "vigil-aggregator"} for b in
                                           app["durable_objects"]["bindings"]]}
    return copy("vigil"), behind, toml_text(app)


class Isolates:
    """A profiler on each of the scenario's isolates, started and stopped together."""

    def __init__(self, hub):
        self.profilers = {name: attach(hub, name) for name in
                          ["vigil", "vigil-aggregator", *[f"vigil-{job}" for job in JOBS]]}

    def measure(self, kinds, action, names):
        """Runs `action`, adding each named isolate's figures to `kinds` under `names[isolate]`
        (a probe batch's: the run's mean)."""
        before = {name: self.profilers[name].start() for name in names}
        action()
        if "vigil-aggregator" in names:
            time.sleep(0.3)  # an application's batch is shipped after its response
        for name, kind in names.items():
            isolate, process = self.profilers[name].stop(before[name], kind)
            if name == "vigil-probe-batch":
                isolate, process = isolate / BATCHES, process / BATCHES
            kinds.add(kind, (isolate, process))

    def close(self):
        for profiler in self.profilers.values():
            profiler.close()


def free_scenario(kinds, target):
    """The hub of the Free scenario: every hub invocation kind, one simulated minute apart."""
    start_ms = int(time.time() * 1000) // (24 * HOUR) * 24 * HOUR - 2 * 24 * HOUR
    registry = tempfile.mkdtemp(prefix="vigil-bench-registry-")
    seed = history_sql(start_ms // MINUTE, 30)
    hub_text, behind, app_text = split_configs(target.url)
    with Worker(hub_text, seed_sql=seed, registry=registry, behind_configs=behind) as hub, \
            Worker(app_text, migrate=False, registry=registry) as app:
        isolates = Isolates(hub)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        cron = "/cdn-cgi/handler/scheduled?cron=*+*+*+*+*&time="
        minute_jobs = {f"vigil-{job}": JOBS[job] for job in JOBS if job != "housekeeping"}
        for i in range(-5, RUNS):
            at = start_ms + 30 * MINUTE + i * MINUTE

            def sample(names, action):
                if i < 0:
                    action()
                else:
                    isolates.measure(kinds, action, names)

            send = f"/send?service=app&route=/r{i % 10}&count=20&at={at}"
            sample({"vigil-aggregator": "aggregator batch (1 series)"},
                   lambda: ok(get(app.base, send)))
            ping = f"/api/heartbeats/job{i % MONITORS}"
            sample({"vigil": "heartbeat ping"}, lambda: ok(_get_with(hub.base, ping, auth)))
            sample({"vigil": "cron run (coordinator)",
                    "vigil-aggregator": "aggregator minute write (in the cron run)",
                    **minute_jobs}, lambda: ok(get(hub.base, f"{cron}{at}")))
            for kind, path in (("/metrics scrape", "/metrics"),
                               ("status page build", f"/status?cpu={i}"), ("/livez", "/livez")):
                sample({"vigil": kind}, lambda: ok(get(hub.base, path)))
            sample({"vigil": "/health"}, lambda: get(hub.base, "/health"))
        for h in range(1, RUNS // 4 + 1):
            at = start_ms + h * HOUR + 24 * HOUR
            isolates.measure(kinds, lambda: ok(get(hub.base, f"{cron}{at}")),
                             {"vigil": "hourly cron run (coordinator)",
                              "vigil-housekeeping": JOBS["housekeeping"]})
        isolates.close()
        return invocation_limits(hub)


def invocation_limits(hub):
    """The most one invocation of any cron run used of each per-invocation limit: the cron's
    own or one of its jobs' (its `cron run` log lines)."""
    runs = [use for line in hub.log_lines() if line.get("message") == "cron run"
            for use in (line.get("invocation"), line.get("jobs")) if use]
    assert runs, "no cron run logged what it used"
    most = {key: max(run[key] for run in runs) for key in runs[0]}
    for key, limit in (("d1Statements", 50), ("subrequests", 50), ("connections", 6)):
        row("cpu", f"cron run, most {key} in one invocation of {len(runs) // 2} runs", f"{most[key]}",
            f"≤ {limit}")
    return most, len(runs) // 2


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
    limits = (f"The most one invocation of {runs} cron runs used (the cron's own or one of its "
              f"jobs'): {most['d1Statements']} D1 statements, {most['subrequests']} subrequests, "
              f"{most['connections']} connections at once (Free plan: 50, 50, 6).")
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
