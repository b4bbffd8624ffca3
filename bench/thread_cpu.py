#!/usr/bin/env python3
"""CPU time of each thread of one `deadweight` run: the critical path, which a loaded machine hides.

Usage: [DEADWEIGHT_THREADS=N] python bench/thread_cpu.py inspect --format json oci:PATH > /dev/null

On a shared 2-core machine wall times swing by 2-3x with the other sessions' load; per-thread CPU does
not. With layers read ahead (docs/sources.md) the wall on an otherwise idle machine is about the
busiest thread's CPU (when the total CPU / cores is below it), so comparing that figure with the inline
run's main thread (DEADWEIGHT_THREADS=1) tells what reading ahead buys. Prints, on stderr, the CPU seconds
of the main thread and of each read-ahead stage (summed over layers), the process CPU and the wall.
"""

from __future__ import annotations

import resource
import sys
import time
from collections import defaultdict

from deadweight.cli.main import main
from deadweight.sources import readahead

cpu: defaultdict[str, float] = defaultdict(float)
_run = readahead.ReadAhead._run


def _timed_run(self: readahead.ReadAhead) -> None:
    start = time.thread_time()
    try:
        _run(self)
    finally:
        cpu[self._thread.name.removeprefix("deadweight-")] += time.thread_time() - start


readahead.ReadAhead._run = _timed_run  # type: ignore[method-assign]

if __name__ == "__main__":
    start_cpu, start_wall = time.thread_time(), time.perf_counter()
    code = main(sys.argv[1:])
    cpu["main"] = time.thread_time() - start_cpu
    usage = resource.getrusage(resource.RUSAGE_SELF)
    threads = ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
    print(
        f"thread CPU s: {threads}; process CPU {usage.ru_utime + usage.ru_stime:.2f} s;"
        f" wall {time.perf_counter() - start_wall:.2f} s",
        file=sys.stderr,
    )
    sys.exit(code)
