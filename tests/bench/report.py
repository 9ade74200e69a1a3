#!/usr/bin/env python3
"""tests/bench/report.py - turn the raw figures of tests/bench/run.sh into
latest.md (one table, the machine, notes), latest.json (raw and derived
figures, targets) and latest.png (gnuplot: throughput and lag).

    report.py RESULTS.tsv OUTDIR
    report.py latest.json OUTDIR      re-render from a previous run's JSON

RESULTS.tsv has one "key<TAB>value" line per figure (run.sh's `record`).
Standard library only.  Targets are reported, never asserted: the exit
status is 0 whatever the figures are.
"""
import json
import os
import shutil
import subprocess
import sys


def load(path):
    if path.endswith(".json"):
        # A previous latest.json: re-render its report.
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        raw = {f"meta.{k}": str(v) for k, v in doc.get("meta", {}).items()}
        raw.update({k: str(v) for k, v in doc.get("raw", {}).items()})
        return raw
    raw = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            key, _, value = line.partition("\t")
            raw[key] = value
    return raw


def num(raw, key):
    try:
        v = float(raw[key])
    except (KeyError, ValueError):
        return None
    return v


def div(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_int(v):
    return "n/a" if v is None else f"{v:,.0f}"


def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def fmt_x(v):
    return "n/a" if v is None else f"{v:.2f}x"


def met(ok):
    if ok is None:
        return "n/a"
    return "yes" if ok else "**no**"


def baseline_table(raw, g):
    """walbridge against the baseline binary (WB_BENCH_BASELINE), same run,
    same WAL: time, CPU and peak RSS per case, and the ratio."""
    out = ["", f"walbridge vs baseline `{raw['meta.baseline']}` "
           f"({raw.get('meta.baseline_version', '?')}), each alone on the same WAL, "
           "the baseline right after walbridge:", ""]
    rows = [["case", "walbridge s", "baseline s", "baseline time / walbridge time",
             "CPU s (wb / base)", "peak RSS MiB (wb / base)"]]
    for case, name in (("bulk_id", "bulk, identity"), ("backlog_id", "backlog, identity")):
        a, b = g(f"{case}.wb.secs"), g(f"{case}.wb0.secs")
        if b is None:
            continue
        rss = lambda who: None if g(f"{case}.{who}.rss_kb") is None else g(f"{case}.{who}.rss_kb") / 1024.0  # noqa: E731
        rows.append([name, fmt(a), fmt(b), fmt_x(div(b, a)),
                     f"{fmt(g(f'{case}.wb.cpu_s'))} / {fmt(g(f'{case}.wb0.cpu_s'))}",
                     f"{fmt(rss('wb'), 1)} / {fmt(rss('wb0'), 1)}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.append("")
    out.append("A ratio above 1.00x: walbridge is faster than the baseline.")
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    raw = load(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    g = lambda k: num(raw, k)  # noqa: E731

    d = {}  # derived figures
    # Throughput of the bulk cases: rows per second.
    for case in ("bulk_id", "bulk_portal"):
        rows = g(f"{case}.rows")
        for who in ("wb", "native", "recv"):
            d[f"{case}.{who}.rows_per_s"] = div(rows, g(f"{case}.{who}.secs"))
        d[f"{case}.wb_vs_recv"] = div(d[f"{case}.wb.rows_per_s"], d[f"{case}.recv.rows_per_s"])
        d[f"{case}.wb_vs_native"] = div(d[f"{case}.wb.rows_per_s"], d[f"{case}.native.rows_per_s"])
    # Backlog: catch-up time and transactions per second.
    for case in ("backlog_id", "backlog_portal"):
        txns = g(f"{case}.txns")
        for who in ("wb", "native", "recv"):
            d[f"{case}.{who}.txns_per_s"] = div(txns, g(f"{case}.{who}.secs"))
        # > 1: walbridge catches up faster than the peer.
        d[f"{case}.speedup_vs_native"] = div(g(f"{case}.native.secs"), g(f"{case}.wb.secs"))
        d[f"{case}.speed_vs_recv"] = div(g(f"{case}.recv.secs"), g(f"{case}.wb.secs"))
    # The expression mapping decodes the identity cases' WAL: no PostgreSQL
    # tool runs its expressions, so it is compared with the identity
    # consumers of the same run (walbridge's own identity figure, the
    # native subscription, pg_recvlogical).
    for case, kind, unit, n in (("bulk_expr", "bulk", "rows_per_s", "rows"),
                                ("backlog_expr", "backlog", "txns_per_s", "txns")):
        ident = f"{kind}_id"
        x = d[f"{case}.wb.{unit}"] = div(g(f"{case}.{n}"), g(f"{case}.wb.secs"))
        d[f"{case}.wb_vs_identity"] = div(x, d[f"{ident}.wb.{unit}"])
        d[f"{case}.wb_vs_native"] = div(x, d[f"{ident}.native.{unit}"])
        d[f"{case}.wb_vs_recv"] = div(x, d[f"{ident}.recv.{unit}"])
    d["steady.wb_vs_native_tps"] = div(g("steady.wb.tps"), g("steady.native.tps"))
    d["steady.wb_vs_none_tps"] = div(g("steady.wb.tps"), g("steady.none.tps"))
    d["steady.native_vs_none_tps"] = div(g("steady.native.tps"), g("steady.none.tps"))
    d["steady.notify_vs_none_tps"] = div(g("steady.notify.tps"), g("steady.none.tps"))
    # CPU seconds per million changes, peak RSS in MiB.
    for case in ("bulk_id", "backlog_id", "bulk_expr", "backlog_expr", "bulk_portal", "backlog_portal",
                 "big", "steady"):
        d[f"{case}.wb.cpu_s_per_m"] = div(g(f"{case}.wb.cpu_s"), div(g(f"{case}.wb.changes"), 1e6))
        rss = g(f"{case}.wb.rss_kb")
        d[f"{case}.wb.rss_mib"] = None if rss is None else rss / 1024.0

    rss_bulk = d["bulk_id.wb.rss_mib"]
    rss_big = d["big.wb.rss_mib"]
    rss_max = max([v for v in (rss_bulk, rss_big) if v is not None], default=None)

    def ge(v, t):
        return None if v is None else v >= t

    def le(v, t):
        return None if v is None else v <= t

    targets = [
        ("bulk: walbridge rows/s >= 0.9x pg_recvlogical (identity)",
         fmt_x(d["bulk_id.wb_vs_recv"]), ge(d["bulk_id.wb_vs_recv"], 0.9)),
        ("backlog: catch-up >= 2x faster than the native subscription",
         fmt_x(d["backlog_id.speedup_vs_native"]), ge(d["backlog_id.speedup_vs_native"], 2.0)),
        (f"steady: walbridge lag p99 <= 50 ms at a fixed {fmt_int(g('steady.rate'))} tps",
         f"{fmt(g('steady.wb.rate.lag_p99_ms'), 1)} ms", le(g("steady.wb.rate.lag_p99_ms"), 50.0)),
        ("peak RSS <= 32 MiB (bulk and big transaction)",
         f"{fmt(rss_max, 1)} MiB", le(rss_max, 32.0)),
        ("source tps with walbridge >= with the native subscription",
         fmt_x(d["steady.wb_vs_native_tps"]), ge(d["steady.wb_vs_native_tps"], 1.0)),
        ("bulk, expressions: walbridge rows/s >= 1.5x the native subscription's (identity)",
         fmt_x(d["bulk_expr.wb_vs_native"]), ge(d["bulk_expr.wb_vs_native"], 1.5)),
        ("bulk, expressions: walbridge rows/s >= 0.9x pg_recvlogical's (same WAL)",
         fmt_x(d["bulk_expr.wb_vs_recv"]), ge(d["bulk_expr.wb_vs_recv"], 0.9)),
        ("backlog, expressions: catch-up >= 2x faster than the native subscription's (identity)",
         fmt_x(d["backlog_expr.wb_vs_native"]), ge(d["backlog_expr.wb_vs_native"], 2.0)),
        ("bulk: walbridge rows/s >= 1.5x the native subscription (identity)",
         fmt_x(d["bulk_id.wb_vs_native"]), ge(d["bulk_id.wb_vs_native"], 1.5)),
    ]
    tmet = {t[0]: t[2] for t in targets}

    def rate_cell(case, who, unit_key, note=""):
        v = d.get(f"{case}.{who}.{unit_key}")
        s = g(f"{case}.{who}.secs")
        if v is None:
            return "n/a"
        return f"{fmt_int(v)} ({fmt(s)} s){note}"

    def met_all(*names):
        oks = [tmet[n] for n in names]
        if False in oks:
            return False
        return None if None in oks else True

    rows_n = fmt_int(g("bulk_id.rows"))
    txns_n = fmt_int(g("backlog_id.txns"))
    big_n = fmt_int(g("big.rows"))
    tbl = []
    H = ["case", "figure", "walbridge", "native subscription", "pg_recvlogical",
         "trigger + NOTIFY", "nothing", "ratios", "target", "met?"]
    tbl.append(H)
    tbl.append([f"bulk: 1 txn of {rows_n} inserts, identity", "rows/s (time)",
                rate_cell("bulk_id", "wb", "rows_per_s"), rate_cell("bulk_id", "native", "rows_per_s"),
                rate_cell("bulk_id", "recv", "rows_per_s"), "", "",
                f"wb/native {fmt_x(d['bulk_id.wb_vs_native'])}; wb/recvlogical {fmt_x(d['bulk_id.wb_vs_recv'])}",
                ">= 1.5x native, >= 0.9x pg_recvlogical", met(met_all(targets[8][0], targets[0][0]))])
    tbl.append([f"bulk: 1 txn of {fmt_int(g('bulk_expr.rows'))} inserts, expressions (same WAL as identity)",
                "rows/s (time)", rate_cell("bulk_expr", "wb", "rows_per_s"),
                rate_cell("bulk_id", "native", "rows_per_s", ", identity"),
                rate_cell("bulk_id", "recv", "rows_per_s", ", identity"), "", "",
                f"wb/wb identity {fmt_x(d['bulk_expr.wb_vs_identity'])}; wb/native {fmt_x(d['bulk_expr.wb_vs_native'])}; "
                f"wb/recvlogical {fmt_x(d['bulk_expr.wb_vs_recv'])}",
                ">= 1.5x native, >= 0.9x pg_recvlogical", met(met_all(targets[5][0], targets[6][0]))])
    tbl.append([f"bulk: 1 txn of {fmt_int(g('bulk_portal.rows'))} inserts, portal.users -> salesforce.account",
                "rows/s (time)", rate_cell("bulk_portal", "wb", "rows_per_s"), "n/a (other table)",
                rate_cell("bulk_portal", "recv", "rows_per_s"), "", "",
                f"wb/recvlogical {fmt_x(d['bulk_portal.wb_vs_recv'])}", "", ""])
    tbl.append([f"backlog: {txns_n} 1-row UPDATE txns, identity", "catch-up txn/s (time)",
                rate_cell("backlog_id", "wb", "txns_per_s"), rate_cell("backlog_id", "native", "txns_per_s"),
                rate_cell("backlog_id", "recv", "txns_per_s"), "", "",
                f"native time / wb time {fmt_x(d['backlog_id.speedup_vs_native'])}; "
                f"recvlogical time / wb time {fmt_x(d['backlog_id.speed_vs_recv'])}",
                ">= 2x faster than native", met(tmet[targets[1][0]])])
    tbl.append([f"backlog: {fmt_int(g('backlog_expr.txns'))} 1-row UPDATE txns, expressions (same WAL as identity)",
                "catch-up txn/s (time)", rate_cell("backlog_expr", "wb", "txns_per_s"),
                rate_cell("backlog_id", "native", "txns_per_s", ", identity"),
                rate_cell("backlog_id", "recv", "txns_per_s", ", identity"), "", "",
                f"wb identity time / wb time {fmt_x(d['backlog_expr.wb_vs_identity'])}; "
                f"native time / wb time {fmt_x(d['backlog_expr.wb_vs_native'])}; "
                f"recvlogical time / wb time {fmt_x(d['backlog_expr.wb_vs_recv'])}",
                ">= 2x faster than native", met(tmet[targets[7][0]])])
    tbl.append([f"backlog: {fmt_int(g('backlog_portal.txns'))} 1-row UPDATE txns, portal.users -> salesforce.account",
                "catch-up txn/s (time)", rate_cell("backlog_portal", "wb", "txns_per_s"), "n/a (other table)",
                rate_cell("backlog_portal", "recv", "txns_per_s"), "", "",
                f"recvlogical time / wb time {fmt_x(d['backlog_portal.speed_vs_recv'])}", "", ""])
    # The initial copy (copy_id, copy_portal): rows per second from start
    # to ready, beside psql COPY TO | COPY FROM, the native subscription's
    # copy_data, and one INSERT ... SELECT ... ON CONFLICT.
    for case, peers in (("copy_id", ("wb", "pipe", "native")), ("copy_portal", ("wb", "sql"))):
        for who in peers:
            d[f"{case}.{who}.rows_per_s"] = div(g(f"{case}.rows"), g(f"{case}.{who}.secs"))
    d["copy_id.wb_vs_pipe"] = div(d["copy_id.wb.rows_per_s"], d["copy_id.pipe.rows_per_s"])
    d["copy_id.wb_vs_native"] = div(d["copy_id.wb.rows_per_s"], d["copy_id.native.rows_per_s"])
    d["copy_portal.wb_vs_sql"] = div(d["copy_portal.wb.rows_per_s"], d["copy_portal.sql.rows_per_s"])
    # copy_id runs its three consumers in interleaved rounds (run.sh):
    # the rates above are of the medians; each round's wb/native too.
    rounds = int(g("copy_id.rounds") or 1)
    per_round = [div(g(f"copy_id.native.r{r}.secs"), g(f"copy_id.wb.r{r}.secs"))
                 for r in range(1, rounds + 1)]
    d["copy_id.wb_vs_native_rounds"] = per_round
    if g("copy_id.rows") is not None:
        rss = g("copy_id.wb.rss_kb")
        tbl.append([f"initial copy: {fmt_int(g('copy_id.rows'))} rows, identity, into the target cluster",
                    "rows/s (time)" if rounds == 1 else f"rows/s (time), median of {rounds} rounds",
                    rate_cell("copy_id", "wb", "rows_per_s"),
                    rate_cell("copy_id", "native", "rows_per_s", ", copy_data"),
                    "", "", f"psql COPY | COPY: {rate_cell('copy_id', 'pipe', 'rows_per_s')}",
                    f"wb/pipe {fmt_x(d['copy_id.wb_vs_pipe'])}; wb/native {fmt_x(d['copy_id.wb_vs_native'])}"
                    + ("" if rounds == 1 else
                       " (rounds: " + ", ".join(fmt_x(x) for x in per_round) + ")")
                    + "; "
                    f"peak RSS {fmt(None if rss is None else rss / 1024.0, 1)} MiB",
                    ">= 0.8x pipe, > native; RSS <= 32 MiB",
                    met(None if d["copy_id.wb_vs_pipe"] is None else
                        (d["copy_id.wb_vs_pipe"] >= 0.8 and (d["copy_id.wb_vs_native"] or 0) > 1.0
                         and (rss or 0) <= 32 * 1024))])
    if g("copy_portal.rows") is not None:
        tbl.append([f"initial copy: {fmt_int(g('copy_portal.rows'))} rows, portal.users -> salesforce.account",
                    "rows/s (time)", rate_cell("copy_portal", "wb", "rows_per_s"), "", "", "",
                    f"INSERT ... SELECT ... ON CONFLICT: {rate_cell('copy_portal', 'sql', 'rows_per_s')}",
                    f"wb/SQL {fmt_x(d['copy_portal.wb_vs_sql'])}", "compared", ""])
    # The online re-sync: its rate beside the initial copy's (copy_id, same
    # run), and the stream's lag p99 before and during it.
    d["resync_id.wb.rows_per_s"] = div(g("resync_id.rows"), g("resync_id.wb.secs"))
    d["resync_id.vs_copy"] = div(d["resync_id.wb.rows_per_s"], d.get("copy_id.wb.rows_per_s"))
    p99b, p99d = g("resync_id.before.lag_p99_ms"), g("resync_id.during.lag_p99_ms")
    d["resync_id.lag_p99_rise_ms"] = None if p99b is None or p99d is None else p99d - p99b
    if g("resync_id.rows") is not None:
        rss = g("resync_id.wb.rss_kb")
        rise = d["resync_id.lag_p99_rise_ms"]
        rrounds = int(g("resync_id.rounds") or 1)
        tbl.append([f"online re-sync: {fmt_int(g('resync_id.rows'))} rows, identity, while the stream runs "
                    f"{fmt_int(g('resync_id.rate'))} tps",
                    "rows/s (time)" if rrounds == 1 else f"rows/s (time), median of {rrounds} re-syncs",
                    rate_cell("resync_id", "wb", "rows_per_s"), "", "", "",
                    f"initial copy (copy_id): {rate_cell('copy_id', 'wb', 'rows_per_s')}",
                    f"re-sync/copy {fmt_x(d['resync_id.vs_copy'])}"
                    + ("" if rrounds == 1 else " (re-syncs: " + ", ".join(
                        fmt_x(div(div(g("resync_id.rows"), g(f"resync_id.wb.r{r}.secs")),
                                  d.get("copy_id.wb.rows_per_s")))
                        for r in range(1, rrounds + 1)) + ")")
                    + "; stream lag p99 "
                    f"{fmt(p99b, 1)} ms before, {fmt(p99d, 1)} ms during (p50 "
                    f"{fmt(g('resync_id.before.lag_p50_ms'), 1)} / {fmt(g('resync_id.during.lag_p50_ms'), 1)}); "
                    f"peak RSS {fmt(None if rss is None else rss / 1024.0, 1)} MiB",
                    ">= 0.5x copy; lag p99 +<= 10 ms; RSS <= 32 MiB",
                    met(None if d["resync_id.vs_copy"] is None or rise is None else
                        (d["resync_id.vs_copy"] >= 0.5 and rise <= 10 and (rss or 0) <= 32 * 1024))])
    # compare: rows per second of the source, beside one FULL JOIN query.
    for who in ("wb", "buckets", "sql"):
        d[f"compare_portal.{who}.rows_per_s"] = div(g("compare_portal.rows"), g(f"compare_portal.{who}.secs"))
    d["compare_portal.wb_vs_sql"] = div(d["compare_portal.wb.rows_per_s"], d["compare_portal.sql.rows_per_s"])
    d["compare_portal.buckets_vs_sql"] = div(d["compare_portal.buckets.rows_per_s"], d["compare_portal.sql.rows_per_s"])
    if g("compare_portal.rows") is not None:
        rss = g("compare_portal.wb.rss_kb")
        tbl.append([f"compare: {fmt_int(g('compare_portal.rows'))} rows, portal.users -> salesforce.account",
                    "rows/s (time)", rate_cell("compare_portal", "wb", "rows_per_s"), "", "", "",
                    f"one FULL JOIN query: {rate_cell('compare_portal', 'sql', 'rows_per_s')}",
                    f"wb/SQL {fmt_x(d['compare_portal.wb_vs_sql'])}; "
                    f"peak RSS {fmt(None if rss is None else rss / 1024.0, 1)} MiB; "
                    f"across databases (per-bucket sums): {rate_cell('compare_portal', 'buckets', 'rows_per_s')}, "
                    f"{fmt_x(d['compare_portal.buckets_vs_sql'])}, peak RSS "
                    f"{fmt(None if g('compare_portal.buckets.rss_kb') is None else g('compare_portal.buckets.rss_kb') / 1024.0, 1)} MiB",
                    ">= 0.7x FULL JOIN; RSS <= 32 MiB",
                    met(None if d["compare_portal.wb_vs_sql"] is None else
                        (d["compare_portal.wb_vs_sql"] >= 0.7 and (rss or 0) <= 32 * 1024))])
    secs = fmt_int(g("steady.secs"))
    tbl.append([f"steady: pgbench {fmt_int(g('steady.clients'))} clients x {secs} s, 1-row UPDATE",
                "source tps", fmt_int(g("steady.wb.tps")), fmt_int(g("steady.native.tps")), "",
                fmt_int(g("steady.notify.tps")),
                f"{fmt_int(g('steady.none.tps'))} (before {fmt_int(g('steady.none1.tps'))}, after {fmt_int(g('steady.none2.tps'))})",
                f"wb/native {fmt_x(d['steady.wb_vs_native_tps'])}; wb/nothing {fmt_x(d['steady.wb_vs_none_tps'])}; "
                f"native/nothing {fmt_x(d['steady.native_vs_none_tps'])}; NOTIFY/nothing {fmt_x(d['steady.notify_vs_none_tps'])}",
                ">= native", met(tmet[targets[4][0]])])
    tbl.append(["steady: lag, source UPDATE -> row written on the target", "p50 / p99 ms",
                f"{fmt(g('steady.wb.lag_p50_ms'), 1)} / {fmt(g('steady.wb.lag_p99_ms'), 1)}",
                f"{fmt(g('steady.native.lag_p50_ms'), 1)} / {fmt(g('steady.native.lag_p99_ms'), 1)}",
                "", "", "", f"max: wb {fmt(g('steady.wb.lag_max_ms'), 0)} ms, native {fmt(g('steady.native.lag_max_ms'), 0)} ms",
                "", ""])
    tbl.append([f"steady: lag at a fixed {fmt_int(g('steady.rate'))} tps ({fmt_int(g('steady.rate_secs'))} s, pgbench -R)",
                "p50 / p99 ms",
                f"{fmt(g('steady.wb.rate.lag_p50_ms'), 1)} / {fmt(g('steady.wb.rate.lag_p99_ms'), 1)}",
                f"{fmt(g('steady.native.rate.lag_p50_ms'), 1)} / {fmt(g('steady.native.rate.lag_p99_ms'), 1)}",
                "", "", "", f"max: wb {fmt(g('steady.wb.rate.lag_max_ms'), 0)} ms, native {fmt(g('steady.native.rate.lag_max_ms'), 0)} ms",
                "p99 <= 50 ms", met(tmet[targets[2][0]])])
    tbl.append(["steady: still to apply when pgbench stopped", "drain s",
                fmt(g("steady.wb.drain_secs")), fmt(g("steady.native.drain_secs")), "",
                fmt(g("steady.notify.drain_secs")), "", "", "", ""])
    tbl.append([f"memory: bulk ({rows_n} rows, identity)", "walbridge peak RSS MiB",
                fmt(rss_bulk, 1), "", "", "", "", "", "<= 32 MiB", met(le(rss_bulk, 32.0))])
    tbl.append([f"memory: one txn of {big_n} rows, identity", "walbridge peak RSS MiB",
                fmt(rss_big, 1), "", "", "", "", f"{fmt_int(div(g('big.rows'), g('big.wb.secs')))} rows/s",
                "<= 32 MiB", met(le(rss_big, 32.0))])
    tbl.append(["memory: other runs (expressions bulk, portal bulk, backlog, steady)", "walbridge peak RSS MiB",
                " / ".join(fmt(d[f"{c}.wb.rss_mib"], 1) for c in ("bulk_expr", "bulk_portal", "backlog_id", "steady")),
                "", "", "", "", "", "", ""])
    # Time per million changes of each process in the chain: CPU, and in
    # brackets the time it was runnable but waiting for a CPU (run queue),
    # sampled from /proc by cpu_sampler.py.  Wall time minus both is time
    # the process was blocked (on its peer, on I/O, idle).
    cpu_cases = (("bulk_id", "bulk identity", "backend_wbtarget", "rows"),
                 ("bulk_expr", "bulk expressions", "backend_wbtarget", "rows"),
                 ("bulk_portal", "bulk portal", "backend_bench", "rows"),
                 ("backlog_id", "backlog identity", "backend_wbtarget", "txns"),
                 ("backlog_expr", "backlog expressions", "backend_wbtarget", "txns"),
                 ("backlog_portal", "backlog portal", "backend_bench", "txns"),
                 ("big", "big txn", "backend_wbtarget", "rows"))
    for case, label, backend, unit in cpu_cases:
        n = g(f"{case}.{unit}")
        per_m = lambda key: div(g(key), div(n, 1e6))  # noqa: E731
        for who in ("wb", "native", "recv"):
            d[f"{case}.{who}.wall_per_m"] = per_m(f"{case}.{who}.secs")
            for cat in ("walbridge", "pg_recvlogical", "walsender", "apply_worker", backend, "other"):
                d[f"{case}.{who}.cpu_per_m.{cat}"] = per_m(f"{case}.{who}.pgcpu.{cat}")
                d[f"{case}.{who}.rqwait_per_m.{cat}"] = per_m(f"{case}.{who}.rqwait.{cat}")

        def part(who, cat, name):
            c = d[f"{case}.{who}.cpu_per_m.{cat}"]
            w = d[f"{case}.{who}.rqwait_per_m.{cat}"]
            if c is None:
                return f"? {name}"
            return f"{c:.1f} (+{w or 0:.1f}) {name}"

        def cell(who, parts):
            if g(f"{case}.{who}.secs") is None:
                return "n/a"
            return f"wall {fmt(d[f'{case}.{who}.wall_per_m'], 1)}: " + ", ".join(part(who, c, nm) for c, nm in parts)

        tbl.append([f"time: {label}", "s per million changes: wall: CPU (+ run-queue wait) per process",
                    cell("wb", (("walbridge", "walbridge"), (backend, "target backend"), ("walsender", "walsender"))),
                    cell("native", (("apply_worker", "apply worker"), ("walsender", "walsender"))),
                    cell("recv", (("pg_recvlogical", "pg_recvlogical"), ("walsender", "walsender"))),
                    "", "", "", "", ""])
    tbl.append(["CPU: steady (whole walbridge session)", "CPU s per million changes",
                f"{fmt(d['steady.wb.cpu_s_per_m'], 1)} walbridge", "", "", "", "", "", "", ""])

    ver = {k: v for k, v in raw.items() if k.endswith(".verified")}
    bad = sorted(k for k, v in ver.items() if v != "ok")
    ram_gib = (g("meta.ram_kb") or 0) / 1024 / 1024

    lines = []
    lines.append(f"### walbridge benchmark ({raw.get('meta.mode', '?')} run, {raw.get('meta.date', '?')})")
    lines.append("")
    lines.append(f"Machine: {raw.get('meta.nproc', '?')} CPUs ({raw.get('meta.cpu', '?')}), "
                 f"{ram_gib:.1f} GiB RAM, {raw.get('meta.kernel', '?')}; "
                 f"{raw.get('meta.pg_version', '?')} (two local clusters, unix sockets, fsync={raw.get('meta.fsync', '?')}); "
                 f"{raw.get('meta.wb_version', 'walbridge')} at commit {raw.get('meta.wb_commit', '?')}; "
                 f"run time {fmt_int(g('meta.runtime_s'))} s; load average at start {raw.get('meta.loadavg_start', '?')}, "
                 f"at end {raw.get('meta.loadavg_end', '?')}.")
    try:
        load1 = float(raw.get("meta.loadavg_start", "0").split()[0])
        ncpu = float(raw.get("meta.nproc", "1"))
    except ValueError:
        load1, ncpu = 0.0, 1.0
    if load1 > 0.5 * ncpu:
        lines.append("")
        lines.append(f"**Caution:** the machine was busy when the run started (1-minute load {load1:.1f} "
                     f"on {ncpu:.0f} CPUs): other processes competed for the CPUs, so the absolute figures "
                     "are low and noisy; compare ratios, and re-run on an idle machine.")
    n1, n2 = g("steady.none1.tps"), g("steady.none2.tps")
    if n1 and n2 and abs(n1 - n2) / max(n1, n2) > 0.10:
        lines.append("")
        lines.append(f"**Noise:** the two steady-state runs with nothing attached differ by "
                     f"{abs(n1 - n2) / max(n1, n2) * 100:.0f}% ({fmt_int(n1)} vs {fmt_int(n2)} tps): "
                     "differences in source tps smaller than that are not significant.")
    lines.append("")
    widths = [max(len(r[i]) for r in tbl) for i in range(len(H))]
    for n, r in enumerate(tbl):
        lines.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append("")
    if bad:
        lines.append("**Data check FAILED** (target table differs from the source): " + ", ".join(bad))
    else:
        lines.append(f"Data check: every target table equalled its source after each run ({len(ver)} checks).")
    for who, name in (("wb", "walbridge"), ("native", "the native subscription")):
        dr = g(f"steady.{who}.drain_secs")
        if dr is not None and dr > 1.0:
            lines.append(f"Steady state: {name} did not keep up with the unthrottled load ({dr:.1f} s still to "
                         "apply when pgbench stopped), so its lag there is backlog, and the source got the CPU "
                         "it did not use.")
    if raw.get("meta.baseline"):
        lines.extend(baseline_table(raw, g))
    if raw.get("meta.wb_target_yaml"):
        lines.append(f"walbridge target settings: `{raw['meta.wb_target_yaml']}` (otherwise defaults).")
    nrecv = g("steady.notify.received")
    lines.append(f"trigger + NOTIFY: the listener received {fmt_int(nrecv)} notifications "
                 f"for {fmt_int(g('steady.notify.txns'))} transactions.")
    lines.append("")
    lines.append("How: each consumer runs alone on the same WAL (every consumer's slot exists before the "
                 "workload); bulk and backlog times run from the consumer's start (walbridge `run --until now`, "
                 "`ALTER SUBSCRIPTION ... ENABLE`, `pg_recvlogical --start --endpos`) until it has applied or "
                 "received the last workload commit.  Lag: clock_timestamp() of the source UPDATE to the target "
                 "row's insert/update trigger.  Time rows: per million changes, wall time of the run, and per "
                 "process CPU (+ time runnable but waiting for a CPU), sampled from /proc.  Expressions: "
                 "walbridge through a mapping with a rename, upper(), a concatenation and a cast, on its own slot "
                 "over the identity case's WAL; no PostgreSQL tool runs expressions, so it stands beside the "
                 "identity figures of the same run.  fsync=off on both "
                 "clusters: this measures CPU and round trips, not the disk.")
    lines.append("")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out, "latest.md"), "w", encoding="utf-8") as f:
        f.write(md)

    meta = {k[5:]: v for k, v in raw.items() if k.startswith("meta.")}
    doc = {
        "meta": meta,
        "raw": {k: (num(raw, k) if num(raw, k) is not None else v)
                for k, v in raw.items() if not k.startswith("meta.")},
        "derived": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()},
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets],
    }
    with open(os.path.join(out, "latest.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")

    plot(out, raw, d, g)
    return 0


def plot(out, raw, d, g):
    gp = shutil.which("gnuplot")
    if not gp:
        print("report: gnuplot not found, no latest.png", file=sys.stderr)
        return

    def v(x):
        return "?" if x is None else f"{x:.3f}"

    tmp = os.path.join(out, ".plot")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, "bulk.dat"), "w") as f:
        f.write("case walbridge native pg_recvlogical\n")
        f.write(f"identity {v(d['bulk_id.wb.rows_per_s'])} {v(d['bulk_id.native.rows_per_s'])} {v(d['bulk_id.recv.rows_per_s'])}\n")
        f.write(f"expressions {v(d['bulk_expr.wb.rows_per_s'])} ? ?\n")
        f.write(f"portal->salesforce {v(d['bulk_portal.wb.rows_per_s'])} ? {v(d['bulk_portal.recv.rows_per_s'])}\n")
    with open(os.path.join(tmp, "backlog.dat"), "w") as f:
        f.write("case walbridge native pg_recvlogical\n")
        f.write(f"identity {v(d['backlog_id.wb.txns_per_s'])} {v(d['backlog_id.native.txns_per_s'])} {v(d['backlog_id.recv.txns_per_s'])}\n")
        f.write(f"expressions {v(d['backlog_expr.wb.txns_per_s'])} ? ?\n")
        f.write(f"portal->salesforce {v(d['backlog_portal.wb.txns_per_s'])} ? {v(d['backlog_portal.recv.txns_per_s'])}\n")
    with open(os.path.join(tmp, "steady.dat"), "w") as f:
        f.write("variant tps\n")
        for name, key in (("nothing", "none"), ("walbridge", "wb"), ("native", "native"),
                          ("trigger+NOTIFY", "notify")):
            f.write(f"{name} {v(g(f'steady.{key}.tps'))}\n")
    with open(os.path.join(tmp, "lag.dat"), "w") as f:
        f.write("consumer p50 p99\n")
        rate = fmt_int(g("steady.rate"))
        for name, key in (("walbridge", "wb"), ("native", "native"),
                          (f"walbridge@{rate}tps", "wb.rate"), (f"native@{rate}tps", "native.rate")):
            f.write(f"{name} {v(g(f'steady.{key}.lag_p50_ms'))} {v(g(f'steady.{key}.lag_p99_ms'))}\n")
    title = (f"walbridge benchmark, {raw.get('meta.mode', '')} run {raw.get('meta.date', '')}: "
             f"{raw.get('meta.nproc', '?')} CPUs, {raw.get('meta.pg_version', '')}, commit {raw.get('meta.wb_commit', '?')}")
    script = f"""
set terminal pngcairo size 1400,900 font "sans,10" noenhanced
set output "{os.path.join(out, 'latest.png')}"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key below horizontal
set grid ytics
set yrange [0:*]
set multiplot layout 2,2 title "{title}"
set title "bulk: one large transaction (rows/s, higher is better)"
set ylabel "rows/s"
plot "{tmp}/bulk.dat" using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), '' using 4 title columnheader(4)
set title "backlog catch-up (transactions/s, higher is better)"
set ylabel "txn/s"
plot "{tmp}/backlog.dat" using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), '' using 4 title columnheader(4)
set title "steady state: source tps with each consumer attached (higher is better)"
set ylabel "tps"
set key off
plot "{tmp}/steady.dat" using 2:xtic(1) title columnheader(2) lc rgb "#4477aa"
set title "steady state: lag source UPDATE -> target row (ms, lower is better; log scale)"
set ylabel "ms"
set key below horizontal
set logscale y
set yrange [0.1:*]
set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb "red" front
set label "target: p99 <= 50 ms" at graph 0.99, first 62 right tc rgb "red" front
plot "{tmp}/lag.dat" using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
unset multiplot
"""
    sp = os.path.join(tmp, "plot.gp")
    with open(sp, "w") as f:
        f.write(script)
    r = subprocess.run([gp, sp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed:\n" + r.stderr, file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
