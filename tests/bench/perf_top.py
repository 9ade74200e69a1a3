#!/usr/bin/env python3
"""perf_top.py PID [N] < `perf script -F pid,ip,sym,dso -i perf.data`

Top N leaf symbols (self time) of one process, from perf script's raw
samples, plus the first caller of each when call chains were recorded.
Counted here rather than with `perf report --pid`, which on this machine
attributed libc samples to ld.so symbols (pids are reused quickly).
"""
import collections
import sys


def main():
    pid = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    leaf = collections.Counter()
    caller = collections.defaultdict(collections.Counter)
    total = 0
    frames = None
    cur = None

    def done():
        nonlocal total
        if cur == pid and frames:
            total += 1
            leaf[frames[0]] += 1
            if len(frames) > 1:
                caller[frames[0]][frames[1]] += 1

    for line in sys.stdin:
        if not line.strip():
            continue
        if not line[0].isspace() or not line.startswith("\t"):
            parts = line.split()
            if parts and parts[0].isdigit() and line.rstrip().endswith(":"):
                done()
                cur, frames = parts[0], []
                continue
        parts = line.split(None, 1)
        if frames is None or len(parts) < 2:
            continue
        rest = parts[1].rsplit(" (", 1)
        sym = rest[0].strip()
        dso = rest[1].rstrip(")\n").rsplit("/", 1)[-1] if len(rest) > 1 else "?"
        if sym == "[unknown]":
            sym = "0x" + parts[0]
        frames.append(f"{sym} [{dso}]")
    done()
    print(f"pid {pid}: {total} samples")
    for sym, n in leaf.most_common(top):
        via = caller[sym].most_common(1)
        via = f"  (from {via[0][0]})" if via else ""
        print(f"{100.0 * n / total:6.2f}% {n:6d}  {sym}{via}")


if __name__ == "__main__":
    main()
