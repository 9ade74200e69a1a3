/*
 * dispatch.h - what each message of the replication stream does.
 *
 * The loop (run.c) reads CopyData messages from the source and hands each
 * one here; this file decodes it and runs the handler for its type, the
 * way PostgreSQL's apply worker does (worker.c, apply_dispatch and its
 * apply_handle_* functions): Begin opens a source transaction, its changes
 * go to the router and the applier, Commit closes it; streamed
 * transactions are spooled until their Stream Commit and replayed through
 * the same handlers.  It owns the transaction state, the relation cache,
 * and the configuration in force with its router (a reload swaps them
 * between source transactions); the loop owns connections, timers, signals
 * and when positions are stored and reported.
 */
#ifndef WB_DISPATCH_INT_H
#define WB_DISPATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply/apply.h"
#include "check/binary.h"
#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"
#include "map/change.h"
#include "map/router.h"
#include "run.h"

typedef struct wb_dispatch wb_dispatch;

/* Calls back into the loop. */
typedef struct wb_dispatch_hooks {
    void *ud;
    /* A streamed transaction's replay waited for the target to catch up:
     * more of it may be durable now. */
    void (*target_waited)(void *ud);
    /* Every row change decoded (of skipped transactions too), before it
     * is routed, with its top-level transaction's xid; NULL: none
     * wanted. */
    void (*row_change)(void *ud, const wb_change *c, uint32_t xid);
    /* A non-transactional message whose prefix starts "walbridge.",
     * outside any transaction; it may queue target writes (the batch is
     * the open one).  0 or an error with err. */
    int (*message)(void *ud, const wb_pgoutput_message *m, wb_error *err);
    /* A source transaction that commits at commit_lsn is about to be
     * applied (Begin, Stream Commit), outside any transaction: it may
     * queue target writes first (a blocking re-sync, resync.h).  0 or
     * an error with err; NULL: none wanted. */
    int (*txn_begin)(void *ud, wb_lsn commit_lsn, wb_error *err);
} wb_dispatch_hooks;

/*
 * Positions the stream has taught (end-of-commit LSNs of the source); the
 * loop decides when to store and report them (see run.c).
 */
typedef struct wb_stream_pos {
    wb_lsn pending;       /* latest transaction that needed no target write */
    int64_t pending_time; /* its commit time */
    wb_lsn keepalive;     /* walsender's position while no transaction was
                             open, or the end of an echo of our own writes */
    wb_lsn recv;          /* everything before it has been handled */
} wb_stream_pos;

/*
 * cfg is borrowed (it must outlive the dispatcher); its router (mappings
 * and plugins, map/router.h) is created here; stats are counted into the
 * caller's struct.  Returns NULL with err set (a plugin that cannot be
 * loaded or rejects its configuration is WB_ECONFIG).
 */
wb_dispatch *wb_dispatch_create(const wb_config *cfg, wb_run_stats *stats,
                                const wb_dispatch_hooks *hooks, wb_error *err);
void wb_dispatch_destroy(wb_dispatch *d);

/*
 * SIGHUP: load the configuration file again at the next end of a source
 * transaction (now when none is open) and, when only mappings and log
 * settings changed and the new mappings pass the start-up checks, map the
 * following transactions with it (the router rebuilt, the applier
 * reconfigured).  Otherwise the reason is logged and the configuration in
 * force stays.
 */
void wb_dispatch_request_reload(wb_dispatch *d);

/*
 * Values come in binary format for the mappings plan marks (plan computed
 * on wb_dispatch_config(d)); NULL or a text plan: text for all.  Call
 * before a session streams.  0, or WB_ENOMEM/WB_EINVAL (then text).  A
 * reload makes a router that reads text: its first change of a mapping
 * fails with WB_EFORMAT, and the next session chooses again.
 */
int wb_dispatch_set_binary(wb_dispatch *d, const wb_binary_plan *plan);
/* The configuration in force. */
const wb_config *wb_dispatch_config(const wb_dispatch *d);

/* A session starts: changes go to apply; commits before resume were
 * applied by an earlier session.  Positions that needed no write are
 * learnt again from the new stream. */
int wb_dispatch_start_session(wb_dispatch *d, wb_apply *apply, wb_lsn resume);
/* The session is gone: open transactions and streams are sent again from
 * the start, and a new walsender sends every Relation again. */
void wb_dispatch_end_session(wb_dispatch *d);
/* Stopping: forget the transaction and streams still arriving (the
 * server sends them again). */
void wb_dispatch_abandon(wb_dispatch *d);

/*
 * Handle one CopyData message of the replication stream (a keepalive or
 * one pgoutput message).  *reply is set when the server asked for a status
 * update.  Returns 0 or a negative WB_E* with err set.
 */
int wb_dispatch_copydata(wb_dispatch *d, const char *buf, size_t len,
                         bool *reply);

/*
 * One row of the initial copy (sync.h), read from the source table rel
 * under the slot's snapshot: routed as an insert committed at lsn (the
 * snapshot's) and commit_time to the mappings only[] (of the
 * configuration in force, wb_dispatch_config) and queued on the session's
 * applier, in the same router and applier as streamed changes.  Only
 * between source transactions; the caller ends its chunks with
 * wb_apply_txn_done.  0, or the router's or applier's error (err of
 * wb_dispatch_create).
 */
typedef struct wb_copied_row {
    const wb_pgoutput_relation *rel;
    uint64_t rel_version; /* the caller's relation cache generation */
    const wb_tuple *tup;
    const wb_config_mapping *const *only;
    size_t nonly;
    wb_lsn lsn;
    int64_t commit_time;
    bool rewrite_only_changed; /* a re-sync's row: write only target rows
                                  that differ (map/change.h) */
} wb_copied_row;
int wb_dispatch_copied_row(wb_dispatch *d, const wb_copied_row *row);

bool wb_dispatch_in_txn(const wb_dispatch *d);
/* The open source transaction queued target writes. */
bool wb_dispatch_txn_wrote(const wb_dispatch *d);
/* No transaction open, no stream open, nothing spooled. */
bool wb_dispatch_idle(const wb_dispatch *d);
const wb_stream_pos *wb_dispatch_pos(const wb_dispatch *d);

#endif
