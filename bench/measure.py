#!/usr/bin/env python3
"""Runs a command several times and prints one line of statistics:

    <median wall ms> <median cpu ms (user+sys)> <peak rss KiB> <min wall ms> <max wall ms>

    measure.py RUNS [--setup 'shell command'] [--no-rss] -- command args...

--setup runs (through sh, untimed) before every run, e.g. to remove the output directory
so each build starts fresh. Wall time is time.perf_counter around spawn + wait; CPU time
(user + sys) comes from the child's rusage (os.wait4). Peak RSS comes from one extra run
under `/usr/bin/time -f %M` (the rusage of a child forked from Python would count the
Python pages it held before exec), kept out of the timed runs so the wrapper's own
start-up is not timed; --no-rss skips that run (the RSS column then reads 0). The command's stdout is discarded; a failing run aborts the benchmark.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    argv = sys.argv[1:]
    if "--" not in argv or not argv:
        sys.exit(__doc__)
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1 :]
    runs = int(opts[0])
    setup = None
    if "--setup" in opts:
        setup = opts[opts.index("--setup") + 1]
    no_rss = "--no-rss" in opts
    walls, cpus, rss = [], [], 0
    rss_file = tempfile.NamedTemporaryFile(prefix="measure-rss-", delete=False).name
    for i in range(runs + (0 if no_rss else 1)):
        rss_run = i == runs
        run_cmd = (["/usr/bin/time", "-f", "%M", "-o", rss_file] if rss_run else []) + cmd
        if setup:
            subprocess.run(setup, shell=True, check=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(run_cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        t1 = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"measure.py: {' '.join(cmd)} exited with {proc.returncode}")
        if rss_run:
            with open(rss_file) as f:
                rss = int(f.read().split()[-1])
        else:
            walls.append((t1 - t0) * 1000)
            cpus.append((ru.ru_utime + ru.ru_stime) * 1000)
    os.unlink(rss_file)
    print(
        f"{statistics.median(walls):.1f} {statistics.median(cpus):.1f} {rss} "
        f"{min(walls):.1f} {max(walls):.1f}"
    )


if __name__ == "__main__":
    main()
