"""Where an invocation's CPU goes: sums the profiles `CPU_PROFILES=dir bench/cpu.py` kept.

Usage: python3 bench/cpu_top.py DIR PREFIX [N]. For the profiles whose names start with
PREFIX (e.g. `cron run`), prints the mean isolate ms per run spent in each script (self time)
and the N functions with the most self time, so a change aims at what costs.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from cpu import CAP_US


def self_times(profile):
    """Self time in µs per (script, function), each sample capped as bench/cpu.py counts it."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    times = Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[sample]
        if frame["functionName"] == "(idle)":
            continue
        script = frame["url"].rsplit("/", 1)[-1] or "(native)"
        times[(script, frame["functionName"] or "(anonymous)")] += min(delta, CAP_US)
    return times


def main():
    directory, prefix = Path(sys.argv[1]), sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    files = sorted(p for p in directory.glob("*.cpuprofile") if p.name.startswith(prefix))
    assert files, f"no profile in {directory} starts with {prefix!r}"
    total = Counter()
    for path in files:
        total.update(self_times(json.loads(path.read_text())))
    runs = len(files)
    scripts = Counter()
    for (script, _), us in total.items():
        scripts[script] += us
    print(f"{runs} profiles, mean {sum(total.values()) / runs / 1000:.2f} ms per run")
    for script, us in scripts.most_common(10):
        print(f"  {us / runs / 1000:7.3f} ms  {script}")
    print("functions (self time):")
    for (script, function), us in total.most_common(top):
        print(f"  {us / runs / 1000:7.3f} ms  {function}  [{script}]")


if __name__ == "__main__":
    main()
