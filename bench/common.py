"""Shared pieces of the benchmarks: local workers, HTTP, statistics and the summary rows.

Every worker runs under `wrangler dev --local` with its own generated config, a fresh
`--persist-to` directory, free ports, and its own process group (setsid), which is killed by
group id when the benchmark ends — also on an exception, Ctrl-C or SIGTERM.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WRANGLER = str(ROOT / "node_modules/.bin/wrangler")
ENV = {**os.environ, "CI": "1", "WRANGLER_SEND_METRICS": "false"}

_running = []  # Workers not yet stopped, for the exit hooks.
atexit.register(lambda: [w.stop() for w in list(_running)])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so atexit and `finally` run


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def vigil_config(extra_vars=None):
    """The project's wrangler.toml as harness.rs `test_config` adapts it: no `[build]`,
    absolute `main`, `migrations_dir` and `vigil.config.json`, `extra_vars` added to `[vars]`."""
    config = tomllib.loads((ROOT / "wrangler.toml").read_text())
    config.pop("build", None)
    config["main"] = str(ROOT / config["main"])
    for db in config.get("d1_databases", []):
        db["migrations_dir"] = str(ROOT / db.get("migrations_dir", "migrations"))
    config["alias"] = {"vigil-config": str(ROOT / "vigil.config.json")}
    config["vars"] = {**config.get("vars", {}), "ENVIRONMENT": "bench", **(extra_vars or {})}
    return toml_text(config)


def _is_tables(value):
    return isinstance(value, list) and value and isinstance(value[0], dict)


def toml_text(config, prefix=""):
    """`config` (as tomllib reads it) back to TOML: plain keys first, then tables and arrays of
    tables (nested ones as `[a.b]` / `[[a.b]]`)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items()
             if not isinstance(v, dict) and not _is_tables(v)] + [""]
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines += [f"[{name}]", toml_text(value, f"{name}.")]
        elif _is_tables(value):
            for entry in value:
                lines += [f"[[{name}]]", toml_text(entry, f"{name}.")]
    return "\n".join(lines)


def sender_config():
    """The test sender worker (tests/sender) with an absolute `main`: it ships request counts
    to the hub's aggregator through the `vigil` library and forwards other requests to the hub."""
    config = tomllib.loads((ROOT / "tests/sender/wrangler.toml").read_text())
    config["main"] = str(ROOT / "tests/sender/build/worker/shim.mjs")
    return toml_text(config)


def app_config(build_dir="build", extra_vars=None):
    """The example application (examples/app) with an absolute `main` (from `build_dir`) and
    migrations folder, without its build step."""
    app = ROOT / "examples/app"
    config = tomllib.loads((app / "wrangler.toml").read_text())
    config.pop("build", None)
    config["main"] = str(app / build_dir / "worker/shim.mjs")
    for db in config.get("d1_databases", []):
        db["migrations_dir"] = str(app / db.get("migrations_dir", "migrations"))
    if extra_vars:
        config["vars"] = extra_vars
    return toml_text(config)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    """One `wrangler dev` instance. `config_text` is written to a temp dir; a `config_path`
    (the baseline's own wrangler.toml) is used as is. Use as a context manager."""

    def __init__(self, config_text=None, config_path=None, migrate=True, seed_sql=None,
                 front_config=None, registry=None, probe="/livez", behind_configs=()):
        """`front_config`: a second worker's config, run first in the same `wrangler dev` (it
        gets the port), e.g. `sender_config()` in front of the hub. `behind_configs`: more
        workers' configs run after it in the same `wrangler dev` (no port of their own).
        `registry`: a wrangler dev registry folder shared with other instances, so their
        workers can bind each other. `probe`: the path that answers once the worker serves."""
        self.env = {**ENV, **({"WRANGLER_REGISTRY_PATH": str(registry)} if registry else {})}
        self.probe = probe
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
        self.front = None
        if front_config:
            self.front = self.dir / "front.toml"
            self.front.write_text(front_config)
        self.behind = []
        for i, text in enumerate(behind_configs):
            self.behind.append(self.dir / f"behind-{i}.toml")
            self.behind[-1].write_text(text)
        self.state = self.dir / "state"
        self.config = Path(config_path) if config_path else self.dir / "wrangler.toml"
        if config_text:
            self.config.write_text(config_text)
        self.log = self.dir / "wrangler.log"
        self.proc = None
        if migrate:
            self._wrangler("d1", "migrations", "apply", "DB")
        if seed_sql:
            self.d1(seed_sql)

    def _wrangler(self, *args):
        cmd = [WRANGLER, *args, "--local", "--persist-to", str(self.state), "--config", str(self.config)]
        done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def d1(self, sql):
        """Runs SQL against the local D1 (before `start`, or while running)."""
        return self._wrangler("d1", "execute", "DB", "--command", sql)

    def __enter__(self):
        port = free_port()
        self.base = f"127.0.0.1:{port}"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [WRANGLER, "dev", *(["--config", str(self.front)] if self.front else []),
                 "--config", str(self.config),
                 *[arg for path in self.behind for arg in ("--config", str(path))],
                 "--local", "--ip", "127.0.0.1",
                 "--port", str(port), "--inspector-port", str(free_port()),
                 "--persist-to", str(self.state),
                 "--show-interactive-dev-session=false", "--log-level", "log"],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        _running.append(self)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited:\n{self.log.read_text()[-3000:]}")
            try:
                if get(self.base, self.probe, timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not serving after 120 s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *_):
        self.stop()

    def stop(self):
        """Ends this instance's process group (SIGTERM, then SIGKILL) and removes its state."""
        if self in _running:
            _running.remove(self)
        if self.proc:
            pgid = self.proc.pid
            for sig in (signal.SIGTERM, signal.SIGKILL):
                _signal_group(pgid, sig)
                deadline = time.monotonic() + 5
                while (self.proc.poll() is None or _group_alive(pgid)) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if self.proc.poll() is not None and not _group_alive(pgid):
                    break
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_lines(self):
        """The worker's JSON log lines so far (wrangler may prefix them; JSON starts at `{`)."""
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            start = line.find("{")
            if start >= 0:
                try:
                    lines.append(json.loads(line[start:]))
                except ValueError:
                    pass
        return lines


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def get(base, path, conn=None, timeout=60):
    """GET `path`; returns (status, headers dict with lower-case names, body text). Reuses
    `conn` (keep-alive) when given."""
    c = conn or http.client.HTTPConnection(base, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        if conn is None:
            c.close()


def metric(base, series):
    """The value of the Prometheus sample `series` in /metrics."""
    status, _, body = get(base, "/metrics")
    assert status == 200, f"/metrics answered {status}: {body[:300]}"
    for line in body.splitlines():
        name, _, value = line.partition(" ")
        if name == series:
            return float(value.split(" ")[0])
    raise KeyError(f"{series} not in /metrics")


def p90(values):
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def row(benchmark, figure, value, goal=""):
    """Prints one summary row and appends it to $BENCH_SUMMARY (collected by run.sh)."""
    text = f"| {benchmark} | {figure} | {value} | {goal} |"
    print(text, flush=True)
    if os.environ.get("BENCH_SUMMARY"):
        with open(os.environ["BENCH_SUMMARY"], "a") as f:
            f.write(text + "\n")


def replace_in_readme(start, end, text):
    """Replaces what the README holds between the markers `start` and `end` with `text` (a
    generated table); leaves the README alone when a marker is missing."""
    readme = ROOT / "README.md"
    content = readme.read_text()
    if start in content and end in content:
        head, rest = content.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{text}\n{end}{tail}")
