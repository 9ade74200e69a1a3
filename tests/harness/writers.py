#!/usr/bin/env python3
"""writers.py - the two application writers of the three-writer tests.

  php    the legacy PHP portal on portal.users: each transaction (one web
         request, autocommit) changes one or two of email, first_name,
         last_name, phone of a user of the hot set, and sometimes
         (--insert-ratio) creates a user.
  rails  the Rails API on public.customers: each transaction changes email
         or name (and bumps updated_at, as Rails does), or creates a
         customer.

An update is written as UPDATE ... WHERE id = $1 AND (col, ...) IS DISTINCT
FROM ($new, ...), so "rows_changed" counts rows whose mapped values really
changed: the figure the three-writer test compares walbridge's writes with.

Bounded by --duration and --max-txns; paced at --rate transactions a second
over --clients sessions.
Deadlocks and serialization failures (the rows are contended by walbridge
and the other writers) are retried and counted.  At the end one line of
JSON goes to stdout.
"""

import argparse
import json
import random
import sys
import threading
import time

import psycopg2
import psycopg2.errors

TABLES = {
    "php": ("portal.users", ["email", "first_name", "last_name", "phone"]),
    "rails": ("public.customers", ["email", "name"]),
}


def new_value(mode, col, tag):
    if col == "email":
        return f"{tag}@{mode}.example.com"
    if col == "phone":
        return "555-" + tag[-12:]
    return tag.capitalize()


def client(args, k, table, cols, stats, lock, deadline, errors):
    try:
        run_client(args, k, table, cols, stats, lock, deadline)
    except BaseException as e:  # reported by main
        errors.append(repr(e))


def run_client(args, k, table, cols, stats, lock, deadline):
    rng = random.Random(args.seed * 1000 + k)
    conn = psycopg2.connect(args.dsn, application_name=args.mode)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"SELECT id FROM {table} ORDER BY id LIMIT %s", (args.hot,))
    ids = [r[0] for r in cur.fetchall()]
    if not ids:
        raise SystemExit(f"writers.py: {table} has no rows to edit")
    mine = {"txns": 0, "updates": 0, "inserts": 0, "rows_changed": 0, "no_op_updates": 0, "retries": 0}
    rate = args.rate / args.clients
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    n = 0
    while time.monotonic() < deadline and mine["txns"] * args.clients < args.max_txns:
        n += 1
        tag = f"{args.mode[0]}{args.seed}x{k}x{n}"
        for attempt in range(20):
            try:
                if rng.random() < args.insert_ratio:
                    if args.mode == "php":
                        cur.execute(
                            "INSERT INTO portal.users (email, first_name, last_name, phone)"
                            " VALUES (%s, %s, %s, %s)",
                            (new_value("php", "email", tag), "New", tag.capitalize(), "555-0"))
                    else:
                        cur.execute(
                            "INSERT INTO public.customers (email, name, created_at, updated_at)"
                            " VALUES (%s, %s, now(), now())",
                            (new_value("rails", "email", tag), "New " + tag.capitalize()))
                    mine["inserts"] += 1
                    mine["rows_changed"] += 1
                else:
                    rid = rng.choice(ids)
                    chosen = rng.sample(cols, 2 if args.mode == "php" and rng.random() < 0.3 else 1)
                    vals = [new_value(args.mode, c, tag) for c in chosen]
                    sets = ", ".join(f"{c} = %s" for c in chosen)
                    if args.mode == "rails":
                        sets += ", updated_at = now()"
                    cur.execute(
                        f"UPDATE {table} SET {sets} WHERE id = %s"
                        f" AND ({', '.join(chosen)}, NULL) IS DISTINCT FROM"
                        f" ({', '.join(['%s'] * len(chosen))}, NULL)",
                        vals + [rid] + vals)
                    mine["updates"] += 1
                    mine["rows_changed"] += cur.rowcount
                    if cur.rowcount == 0:
                        mine["no_op_updates"] += 1
                break
            except (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure):
                mine["retries"] += 1
                time.sleep(0.01 * (attempt + 1))
        else:
            raise SystemExit("writers.py: a transaction failed 20 times")
        mine["txns"] += 1
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                next_at = time.monotonic()  # fell behind: do not burst
    conn.close()
    with lock:
        for key, v in mine.items():
            stats[key] += v


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=sorted(TABLES))
    p.add_argument("--dsn", default="")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--max-txns", type=int, default=10**9)
    p.add_argument("--rate", type=float, default=100.0, help="transactions/s (0: flat out)")
    p.add_argument("--hot", type=int, default=100, help="rows edited: the first N ids")
    p.add_argument("--insert-ratio", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--clients", type=int, default=4, help="sessions, each at rate/clients")
    args = p.parse_args()

    table, cols = TABLES[args.mode]
    stats = {"mode": args.mode, "txns": 0, "updates": 0, "inserts": 0, "rows_changed": 0,
             "no_op_updates": 0, "retries": 0}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + args.duration
    errors = []
    # Several sessions, as a web app has: a request that waits for a row
    # lock (walbridge's batch, Connect's sync) does not stall the others.
    workers = [threading.Thread(target=client, args=(args, k, table, cols, stats, lock, deadline, errors))
               for k in range(args.clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise SystemExit("writers.py: %s" % errors[0])
    secs = time.monotonic() - start
    stats["seconds"] = round(secs, 3)
    stats["tps"] = round(stats["txns"] / secs, 1) if secs > 0 else 0.0
    print(json.dumps(stats, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
