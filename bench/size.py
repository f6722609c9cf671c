"""Size: what Vigil adds to the module a deploy uploads, over a bare worker built the same way.

Gzipped (`gzip -9`) size of build/index_bg.wasm against bench/baseline/build/index_bg.wasm
(same `worker` crate, release profile and wasm-opt). The ratio says how much of the size is
Vigil's own code rather than the runtime glue every Rust worker carries.
"""

import subprocess

from common import BENCH, ROOT, row


def gzipped(path):
    """`gzip -9 -c < path | wc -c`."""
    with open(path, "rb") as f:
        return len(subprocess.run(["gzip", "-9", "-c"], stdin=f, capture_output=True, check=True).stdout)


def main():
    vigil = gzipped(ROOT / "build/index_bg.wasm")
    baseline = gzipped(BENCH / "baseline/build/index_bg.wasm")
    row("size", "gzipped index_bg.wasm: Vigil, baseline",
        f"{vigil / 1024:.1f} KiB, {baseline / 1024:.1f} KiB", "")
    row("size", "Vigil / baseline gzipped size", f"{vigil / baseline:.2f}", "")


if __name__ == "__main__":
    main()
