#!/usr/bin/env python3
"""tests/bench/cpu_sampler.py - where the time of one consumer run went:
CPU seconds, and seconds spent runnable but waiting for a CPU (the run
queue: other processes on the machine), of the consumer process and of the
PostgreSQL processes serving it.  This tells a consumer that is slow
because it is busy (CPU), starved (run-queue wait) or blocked on its peer
(neither) apart, even on a shared machine.

    cpu_sampler.py run OUT TREE_PID POSTMASTER_PID...
    cpu_sampler.py summary OUT          print "category cpu_s wait_s" lines

`run` polls /proc every 100 ms until SIGTERM/SIGINT and keeps, per process,
the counters at the first and the last sample: the children of the given
postmasters, and walbridge / pg_recvlogical processes descending from
TREE_PID (the benchmark script).  A process that started after the sampler
counts from zero, one that was running counts from its first sample; what a
process spends after the last sample before it exits (at most one interval)
is lost.  Counters come from /proc/PID/schedstat (nanoseconds: on CPU,
waiting on a run queue), or /proc/PID/stat (CPU only) without it.

Categories: walbridge, pg_recvlogical, walsender, apply_worker (logical
replication workers), backend_<database> (client backends), other.
Standard library only.
"""
import json
import os
import re
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
INTERVAL = 0.1
CONSUMERS = ("walbridge", "pg_recvlogical")


def boot_time():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1])
    return 0


def read_stat(pid):
    """(ppid, comm, cpu s, start s since boot) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.find("(") + 1:s.rfind(")")]
    rest = s[s.rfind(")") + 2:].split()
    return int(rest[1]), comm, (int(rest[11]) + int(rest[12])) / TICK, int(rest[19]) / TICK


def read_sched(pid, cpu_fallback):
    """(cpu s, run-queue wait s)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run_ns, wait_ns = f.read().split()[:2]
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return cpu_fallback, 0.0


def title(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def children(pid):
    """Direct children of pid (from /proc, no full scan), or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return None


def candidates(tree, parents):
    """(pid, kind) of the processes to sample: the postmasters' children
    (kind None) and the consumers below tree."""
    found = []
    fallback = False
    for pm in parents:
        c = children(pm)
        if c is None:
            fallback = True
            break
        found.extend((pid, None) for pid in c)
    todo, depth = [tree], 0
    while todo and depth < 6 and not fallback:
        nxt = []
        for pid in todo:
            c = children(pid)
            if c is None:
                fallback = True
                break
            nxt.extend(c)
        found.extend((pid, "consumer") for pid in nxt)
        todo, depth = nxt, depth + 1
    if not fallback:
        return found
    # No /proc/PID/task/PID/children: scan everything.
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(name)
            if st:
                stats[int(name)] = st[0]
    found = []
    for pid, ppid in stats.items():
        if ppid in parents:
            found.append((pid, None))
            continue
        p = pid
        for _ in range(6):
            p = stats.get(p)
            if p == tree:
                found.append((pid, "consumer"))
                break
            if p is None:
                break
    return found


def run(out, tree, parents):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    t_start = time.time() - boot_time()  # seconds since boot
    procs = {}
    while True:
        for pid, kind in candidates(tree, parents):
            st = read_stat(pid)
            if not st:
                continue
            _, comm, cpu, start = st
            if kind == "consumer":
                if comm not in CONSUMERS:
                    continue
                kind = comm
            cpu, wait = read_sched(pid, cpu)
            key = str(pid)
            p = procs.get(key)
            if p is None or p["start"] != start:
                new = start >= t_start
                p = procs[key] = {"start": start, "cpu0": 0.0 if new else cpu,
                                  "wait0": 0.0 if new else wait, "kind": kind,
                                  "title": title(pid)}
            p["cpu"], p["wait"] = cpu, wait
            t = title(pid)
            if t:
                p["title"] = t  # a backend's title changes as it works
        if stop:
            break
        time.sleep(INTERVAL)
    with open(out, "w") as f:
        json.dump(procs, f)


def category(p):
    if p.get("kind"):
        return p["kind"]
    t = p["title"]
    if "logical replication launcher" in t:
        return "other"
    if "walsender" in t:
        return "walsender"
    if "logical replication" in t:
        return "apply_worker"
    if re.match(r"postgres: (checkpointer|background writer|walwriter|autovacuum|"
                r"stats|archiver|startup|logger)", t):
        return "other"
    m = re.match(r"postgres: (\S+) (\S+) ", t)
    if m:
        return "backend_" + m.group(2)
    return "other"


def summary(out):
    with open(out) as f:
        procs = json.load(f)
    tot = {}
    for p in procs.values():
        c = category(p)
        cpu, wait = tot.get(c, (0.0, 0.0))
        tot[c] = (cpu + max(0.0, p["cpu"] - p["cpu0"]), wait + max(0.0, p["wait"] - p["wait0"]))
    for c in sorted(tot):
        print(f"{c} {tot[c][0]:.2f} {tot[c][1]:.2f}")


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]), {int(x) for x in sys.argv[4:]})
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
