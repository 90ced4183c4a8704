#!/usr/bin/env python3
"""Interleaved A/B timing of stoffel-bench binaries: runs `BIN --child CASE` for every binary in
turn, N rounds, and prints each binary's median and minimum (ms) with the ratio to the first.

    cp target/release/stoffel-bench /tmp/before   # build, copy, change, build, copy again
    python3 stoffel-bench/tools/ab.py 9 fib,loop /tmp/before /tmp/after

Whole-process wall time, so start-up is included; compare binaries, not cases. On a shared
machine the loop case is multimodal (code layout and neighbours): read min and median together,
and judge a change by `stoffel-bench --instructions` first.
"""
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, cases, binaries = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
    for case in cases:
        times = {binary: [] for binary in binaries}
        for _ in range(rounds):
            for binary in binaries:
                start = time.perf_counter()
                subprocess.run([binary, "--child", case], stdout=subprocess.DEVNULL, check=True)
                times[binary].append(time.perf_counter() - start)
        median0, min0 = statistics.median(times[binaries[0]]), min(times[binaries[0]])
        cells = []
        for binary in binaries:
            median, least = statistics.median(times[binary]), min(times[binary])
            cells.append(
                f"{binary.split('/')[-1]} {median * 1000:.1f} ms ({median / median0:.3f}), "
                f"min {least * 1000:.1f} ({least / min0:.3f})"
            )
        print(f"{case}: " + " | ".join(cells))


if __name__ == "__main__":
    main()
