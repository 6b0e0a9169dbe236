#!/usr/bin/env python3
"""Runs a command several times and prints one line of statistics:

    <median wall ms> <median cpu ms (user+sys)> <peak rss KiB> <min wall ms> <max wall ms>

    measure.py RUNS [--setup 'shell command'] -- command args...

--setup runs (through sh, untimed) before every run, e.g. to remove the output directory
so each build starts fresh. Wall time is time.perf_counter around spawn + wait; CPU time
and peak RSS come from the child's rusage (os.wait4), the same source GNU time's %U, %S
and %M read. The command's stdout is discarded; a failing run aborts the benchmark.
"""

import os
import statistics
import subprocess
import sys
import time


def main():
    argv = sys.argv[1:]
    if "--" not in argv or not argv:
        sys.exit(__doc__)
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1 :]
    runs = int(opts[0])
    setup = None
    if len(opts) >= 3 and opts[1] == "--setup":
        setup = opts[2]
    walls, cpus, rss = [], [], 0
    for _ in range(runs):
        if setup:
            subprocess.run(setup, shell=True, check=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        t1 = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"measure.py: {' '.join(cmd)} exited with {proc.returncode}")
        walls.append((t1 - t0) * 1000)
        cpus.append((ru.ru_utime + ru.ru_stime) * 1000)
        rss = max(rss, ru.ru_maxrss)
    print(
        f"{statistics.median(walls):.1f} {statistics.median(cpus):.1f} {rss} "
        f"{min(walls):.1f} {max(walls):.1f}"
    )


if __name__ == "__main__":
    main()
