#!/usr/bin/env python3
"""hc_simulator.py - plays Heroku Connect against the stand-in triggers of
tests/harness/heroku_connect.sql.

Every session runs with SET xmlbinary = 'hex', the setting by which Connect's
triggers recognise Connect's own sessions: what the simulator writes sets
_hc_lastop = 'SYNCED' and is never logged in salesforce._trigger_log.

Modes:
  sync    take NEW rows of salesforce._trigger_log (in id order, FOR UPDATE
          SKIP LOCKED, --batch at a time), as Connect does when it pushes
          local changes to Salesforce: for an INSERT or UPDATE write back
          what Salesforce assigns (sfid, only when the row has none: 18
          characters, Salesforce-like, stable per record; systemmodstamp =
          now()), then mark the log row SUCCESS with processed_at and
          processed_tx; a DELETE is just marked SUCCESS.
  inject  edits "coming from Salesforce" at --rate transactions a second:
          updates of existing rows that have an sfid (--columns get new
          values, systemmodstamp = now(); --hot N: only the first N such
          rows by id, to contend with the apps' hot sets) and, with
          --new-ratio, new records that carry an sfid and no external id.

Loops are bounded: they stop after --duration seconds, after --max-txns
transactions, once the file --stop-file exists, or (sync with --until-idle)
once no NEW row has been seen for --idle seconds.  At the end one line of JSON goes to stdout with the counts.

Connection: --dsn (libpq conninfo); empty means libpq's defaults (PGHOST,
PGPORT, PGDATABASE, ...).
"""

import argparse
import hashlib
import json
import os
import random
import sys
import time

import psycopg2
import psycopg2.errors
import psycopg2.extensions

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Key prefixes of the standard objects the tests use; custom objects get a0X.
KEY_PREFIX = {"account": "001", "contact": "003", "lead": "00Q", "opportunity": "006"}


def sf18(id15):
    """The 18-character case-insensitive form of a 15-character Salesforce id:
    three checksum characters, one per 5-character chunk, encoding which
    characters of the chunk are upper case."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += alphabet[bits]
    return id15 + suffix


def make_sfid(table, record_key, seed):
    """A Salesforce-like id, derived from (seed, table, record): every sync
    worker assigns a record the same one, and distinct records get distinct
    ones (9 base-62 digits of a hash: collisions are negligible)."""
    prefix = KEY_PREFIX.get(table, "a0X")
    h = int.from_bytes(hashlib.sha1(f"{seed}/{table}/{record_key}".encode()).digest()[:8], "big")
    digits = ""
    for _ in range(9):
        h, r = divmod(h, 62)
        digits += B62[r]
    return sf18(prefix + "5g0" + digits)  # 3 + 3 + 9 = 15


def connect(dsn, appname):
    conn = psycopg2.connect(dsn, application_name=appname)
    with conn.cursor() as cur:
        cur.execute("SET xmlbinary = 'hex'")
        cur.execute("SHOW xmlbinary")
        if cur.fetchone()[0] != "hex":
            raise SystemExit("hc_simulator: could not set xmlbinary = 'hex'")
    conn.commit()
    return conn


def qualified(cur, table):
    return psycopg2.extensions.quote_ident("salesforce", cur) + "." + \
        psycopg2.extensions.quote_ident(table, cur)


RETRYABLE = (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)


def retrying(step, conn, stats):
    """Run step() (one transaction), again after a deadlock or serialization
    failure: rows are contended by walbridge and the apps, and Connect too
    retries a failed transaction."""
    for attempt in range(50):
        try:
            return step()
        except RETRYABLE:
            conn.rollback()
            stats["retries"] += 1
            time.sleep(0.005 * (attempt + 1))
    raise SystemExit("hc_simulator: a transaction failed 50 times")


def stopped(args):
    return bool(args.stop_file) and os.path.exists(args.stop_file)


def run_sync(args, conn, stats, deadline):
    while time.monotonic() < deadline and stats["txns"] < args.max_txns and not stopped(args):
        if retrying(lambda: sync_once(args, conn, stats), conn, stats) == "stop":
            break


def sync_once(args, conn, stats):
    """One sync transaction; "stop" when --until-idle has seen enough."""
    cur = conn.cursor()
    idle_since = stats.setdefault("_idle_since", time.monotonic())
    polled_at = time.monotonic()
    cur.execute(
        "SELECT id, table_name, record_id, action FROM salesforce._trigger_log"
        " WHERE state = 'NEW' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (args.batch,))
    rows = cur.fetchall()
    if not rows:
        conn.rollback()
        if args.until_idle and time.monotonic() - idle_since >= args.idle:
            return "stop"
        time.sleep(args.poll)
        return None
    busy_from = polled_at
    by_table = {}
    written = assigned = deletes = 0
    for log_id, table, record_id, action in rows:
        if action in ("INSERT", "UPDATE") and record_id is not None:
            by_table.setdefault(table, set()).add(record_id)
        else:
            deletes += 1
    for table, ids in sorted(by_table.items()):
        ids = sorted(ids)
        sfids = [make_sfid(table, i, args.seed) for i in ids]
        # The row's own sfid is kept: it is assigned once per record.
        # Rows are locked in id order (no deadlock between two workers).
        cur.execute(
            f"WITH locked AS (SELECT r.id, r.sfid IS NULL AS was_null, v.sfid AS new_sfid"
            f"   FROM {qualified(cur, table)} r"
            "    JOIN unnest(%s::integer[], %s::text[]) AS v(id, sfid) ON r.id = v.id"
            "   ORDER BY r.id FOR UPDATE OF r)"
            f" UPDATE {qualified(cur, table)} AS r"
            "   SET sfid = coalesce(r.sfid, l.new_sfid), systemmodstamp = now()"
            "  FROM locked l WHERE r.id = l.id"
            " RETURNING l.was_null",
            (ids, sfids))
        for (was_null,) in cur.fetchall():
            written += 1
            if was_null:
                assigned += 1
    cur.execute(
        "UPDATE salesforce._trigger_log"
        "   SET state = 'SUCCESS', processed_at = now(), processed_tx = txid_current(),"
        "       updated_at = now()"
        " WHERE id = ANY(%s)",
        ([r[0] for r in rows],))
    synced = cur.rowcount
    conn.commit()
    # Counted once committed: a retried transaction counts once.
    stats["synced"] += synced
    stats["written_back"] += written
    stats["sfids_assigned"] += assigned
    stats["deletes"] += deletes
    stats["txns"] += 1
    stats["busy_seconds"] += time.monotonic() - busy_from
    stats["_idle_since"] = time.monotonic()
    return None


def run_inject(args, conn, stats, deadline):
    rng = random.Random(args.seed)
    cur = conn.cursor()
    tbl = qualified(cur, args.table)
    columns = [c for c in args.columns.split(",") if c]
    ids = []
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()
    n = 0
    while time.monotonic() < deadline and stats["txns"] < args.max_txns and not stopped(args):
        if n % 200 == 0:
            # Salesforce only knows records that have an sfid.
            cur.execute(f"SELECT id FROM {tbl} WHERE sfid IS NOT NULL ORDER BY id"
                        + (" LIMIT %d" % args.hot if args.hot > 0 else ""))
            ids = [r[0] for r in cur.fetchall()]
            conn.commit()
        n += 1
        retrying(lambda: inject_once(args, conn, cur, tbl, columns, ids, rng, n, stats), conn, stats)
        stats["txns"] += 1
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                next_at = time.monotonic()  # fell behind: do not burst


def inject_once(args, conn, cur, tbl, columns, ids, rng, n, stats):
    """One injected Salesforce-side edit (a transaction)."""
    tag = f"sf{args.seed}-{n}"
    if not ids or rng.random() < args.new_ratio:
        key = f"inj-{args.seed}-{n}-{time.time_ns()}"
        sfid = make_sfid(args.table, key, args.seed)
        cur.execute(
            f"INSERT INTO {tbl} (sfid, name, systemmodstamp) VALUES (%s, %s, now())"
            " RETURNING id",
            (sfid, "Salesforce " + tag))
        new_id = cur.fetchone()[0]
        conn.commit()
        ids.append(new_id)
        stats["injected_inserts"] += 1
    else:
        rid = rng.choice(ids)
        sets = ", ".join(f"{psycopg2.extensions.quote_ident(c, cur)} = %s" for c in columns)
        cur.execute(
            f"UPDATE {tbl} SET {sets}{', ' if sets else ''}systemmodstamp = now()"
            " WHERE id = %s AND sfid IS NOT NULL",
            [f"{tag}-{c}" for c in columns] + [rid])
        updated = cur.rowcount
        conn.commit()
        stats["injected_updates"] += updated


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["sync", "inject"])
    p.add_argument("--dsn", default="")
    p.add_argument("--duration", type=float, default=10.0, help="seconds, at most")
    p.add_argument("--max-txns", type=int, default=10**9)
    p.add_argument("--stop-file", default="", help="stop once this file exists")
    p.add_argument("--rate", type=float, default=200.0, help="inject: transactions/s (0: flat out)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=50, help="sync: log rows per transaction")
    p.add_argument("--poll", type=float, default=0.02, help="sync: seconds between empty polls")
    p.add_argument("--until-idle", action="store_true", help="sync: stop when the log stays empty")
    p.add_argument("--idle", type=float, default=0.5, help="sync: seconds of empty log for --until-idle")
    p.add_argument("--table", default="account", help="inject: salesforce table")
    p.add_argument("--columns", default="phone", help="inject: comma-separated columns to edit")
    p.add_argument("--new-ratio", type=float, default=0.1, help="inject: share of new records")
    p.add_argument("--hot", type=int, default=0,
                   help="inject: edit only the first N records by id (0: all)")
    args = p.parse_args()

    stats = {"mode": args.mode, "txns": 0, "busy_seconds": 0.0, "synced": 0, "written_back": 0, "sfids_assigned": 0,
             "deletes": 0, "injected_updates": 0, "injected_inserts": 0, "retries": 0}
    conn = connect(args.dsn, "hc_simulator_" + args.mode)
    start = time.monotonic()
    deadline = start + args.duration
    try:
        if args.mode == "sync":
            run_sync(args, conn, stats, deadline)
        else:
            run_inject(args, conn, stats, deadline)
    finally:
        conn.close()
    secs = time.monotonic() - start
    stats["seconds"] = round(secs, 3)
    stats["tps"] = round(stats["txns"] / secs, 1) if secs > 0 else 0.0
    if args.mode == "inject":
        stats["busy_seconds"] = secs
    # Transactions a second while there was work (sync waits for the log).
    busy = stats["busy_seconds"]
    stats["busy_tps"] = round(stats["txns"] / busy, 1) if busy > 0 else 0.0
    stats["busy_seconds"] = round(busy, 3)
    stats.pop("_idle_since", None)
    print(json.dumps(stats, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
