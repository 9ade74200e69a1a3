/*
 * dispatch.c - one handler per message of the replication stream.
 *
 * The shape is PostgreSQL's apply worker (worker.c): apply_dispatch picks
 * the handler by message type, and each handle_* does what that message
 * means.  Every CopyData message is decoded into the per-message arena,
 * routed and applied before the next one is read; the arena is reset after
 * each message, so memory does not grow with transaction size.
 *
 * Transaction state: Begin opens a source transaction, Commit closes it.
 * A transaction is skipped (its changes not even routed) when it ended
 * before the stored position (applied by an earlier session) or when it is
 * an echo of walbridge's own writes (our Origin, or our marker message).
 * A transaction that queued no target write still moves the position: its
 * end is "pending" for the loop to store (run.c).
 *
 * Streamed transactions (Stream Start ... Stream Stop blocks, then Stream
 * Commit or Stream Abort) are spooled; the commit decides, and the spooled
 * messages are replayed through the same handlers as one transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "source/spool.h"
#include "common/arena.h"
#include "source/copydata.h"
#include "check/startup.h"
#include "common/log.h"
#include "common/names.h"
#include "decode/pgoutput.h"
#include "decode/relcache.h"

#define MAX_STREAMS     1024
#define REPLAY_DRAIN_MS (10 * 60 * 1000)
#define MSG_ARENA_LIMIT ((size_t)1100 * 1024 * 1024)

struct wb_dispatch {
    const wb_config *cfg; /* in force: the one given, or the latest reload */
    wb_router *router;    /* cfg's (owned) */
    wb_apply *apply;      /* the session's; NULL between sessions */
    wb_relcache *relcache;
    wb_arena *msg_arena;
    wb_spool *spool; /* streamed transactions until their commit */
    wb_run_stats *stats;
    wb_dispatch_hooks hooks;
    wb_error *err;

    wb_lsn resume; /* stored position at session start */
    wb_stream_pos pos;

    /* The source transaction being received (or replayed). */
    bool in_txn;
    bool skip_txn;
    bool own_txn;        /* an echo of walbridge's own writes */
    bool applied_before; /* the transaction ended before the stored position */
    bool txn_wrote;      /* it queued target writes */
    wb_lsn txn_final_lsn;
    int64_t txn_commit_time;
    uint32_t txn_xid;

    bool in_stream; /* between Stream Start and Stream Stop */
    uint32_t stream_xid;

    bool reload_requested; /* SIGHUP: reload at the next transaction end */
    wb_config *owned;      /* the latest reloaded configuration, or NULL */
    /* Earlier reloaded configurations the open target session may still
     * point into; freed when the session ends. */
    size_t nretired;
    wb_config *retired[16];
};

static void reload(wb_dispatch *d);

static int proto_error(wb_dispatch *d, const char *fmt, const char *what)
{
    wb_error_set(d->err, WB_EPROTO, fmt, what);
    wb_error_lsn(d->err, d->txn_final_lsn);
    return WB_EPROTO;
}

/* Open a source transaction (Begin, or a Stream Commit before replay). */
static void begin_txn(wb_dispatch *d, wb_lsn final_lsn, int64_t commit_time,
                      uint32_t xid)
{
    d->in_txn = true;
    d->txn_final_lsn = final_lsn;
    d->txn_commit_time = commit_time;
    d->txn_xid = xid;
    /* Commits that start before the stored position are applied. */
    d->applied_before = final_lsn < d->resume;
    d->txn_wrote = false;
    d->own_txn = false;
    d->skip_txn = d->applied_before;
}

/* The loop's hook before a transaction; it may route copied rows, which
 * reset the message arena: the caller keeps what it needs of the message
 * in locals. */
static int before_txn(wb_dispatch *d, wb_lsn commit_lsn)
{
    int rc = 0;
    if (d->hooks.txn_begin &&
        (rc = d->hooks.txn_begin(d->hooks.ud, commit_lsn, d->err)) != 0 &&
        !d->err->lsn)
        wb_error_lsn(d->err, commit_lsn);
    return rc;
}

static int handle_begin(wb_dispatch *d, const wb_pgoutput_begin *b)
{
    wb_lsn final_lsn = b->final_lsn;
    int64_t commit_time = b->commit_time;
    uint32_t xid = b->xid;
    int rc;

    if (d->in_txn)
        return proto_error(d, "%s message inside a transaction", "Begin");
    if ((rc = before_txn(d, final_lsn)) != 0)
        return rc;
    begin_txn(d, final_lsn, commit_time, xid);
    return 0;
}

static int handle_commit(wb_dispatch *d, const wb_pgoutput_commit *c)
{
    char a[WB_LSN_BUFLEN];
    int rc;

    if (!d->in_txn)
        return proto_error(d, "%s message outside a transaction", "Commit");
    d->in_txn = false;
    if (d->txn_wrote) {
        d->txn_wrote = false;
        rc = wb_apply_txn_done(d->apply, c->end_lsn, c->commit_time, true,
                               d->err);
        if (rc) {
            wb_error_lsn(d->err, c->end_lsn);
            return rc;
        }
        d->stats->txns_applied++;
        wb_log(WB_LOG_DEBUG, "applied transaction %u ending at %s", d->txn_xid,
               wb_lsn_format(c->end_lsn, a));
    } else {
        d->stats->txns_skipped++;
        if (d->own_txn) {
            /* Our own echo: worth storing no more than a keepalive (else
             * each stored position would echo and be stored again). */
            if (c->end_lsn > d->pos.keepalive)
                d->pos.keepalive = c->end_lsn;
        } else if (!d->applied_before && c->end_lsn > d->pos.pending) {
            d->pos.pending = c->end_lsn;
            d->pos.pending_time = c->commit_time;
            /* Rides along with an open batch, if any. */
            rc = wb_apply_txn_done(d->apply, c->end_lsn, c->commit_time, false,
                                   d->err);
            if (rc)
                return rc;
        }
    }
    if (c->end_lsn > d->pos.recv)
        d->pos.recv = c->end_lsn;
    /* The only moment the configuration may change. */
    reload(d);
    return 0;
}

static int handle_origin(wb_dispatch *d, const wb_pgoutput_origin *o)
{
    /* Our own writes coming back through the slot. */
    if (strcmp(o->name, d->cfg->target.origin) == 0)
        d->skip_txn = d->own_txn = true;
    return 0;
}

static int handle_message(wb_dispatch *d, const wb_pgoutput_message *m)
{
    /* walbridge's own non-transactional messages (watermarks, wake-ups),
     * decoded at their position in the WAL, outside any transaction. */
    if (!(m->flags & WB_MESSAGE_TRANSACTIONAL) &&
        strncmp(m->prefix, "walbridge.", 10) == 0 && d->hooks.message) {
        int rc = d->hooks.message(d->hooks.ud, m, d->err);
        if (rc && !d->err->lsn)
            wb_error_lsn(d->err, m->lsn);
        /* Outside a transaction, every commit before it has been handled:
         * it is as good a position as a keepalive's (`walbridge compare`
         * waits for it to be stored). */
        if (rc == 0 && !d->in_txn && m->lsn > d->pos.keepalive)
            d->pos.keepalive = m->lsn;
        return rc;
    }
    /* The marker walbridge writes into its own transactions when no
     * replication origin can be used (common/names.h). */
    if (d->in_txn && (m->flags & WB_MESSAGE_TRANSACTIONAL) &&
        strcmp(m->prefix, WB_MARKER_PREFIX) == 0 &&
        strcmp(m->content, d->cfg->target.origin) == 0)
        d->skip_txn = d->own_txn = true;
    return 0;
}

static int handle_relation(wb_dispatch *d, const wb_pgoutput_relation *r)
{
    if (!wb_relcache_update(d->relcache, r, d->err))
        return d->err ? d->err->code : WB_ENOMEM;
    return 0;
}

static int handle_type(wb_dispatch *d, const wb_pgoutput_type *t)
{
    /* Nothing to learn: column values are passed on as text. */
    (void)d;
    (void)t;
    return 0;
}

/*
 * Route one change, then apply what the router made of it: data flows one
 * way, the applier gets the router's output and never the decoded row.
 */
static int apply_change(wb_dispatch *d, wb_change *c)
{
    wb_routed out;
    bool due;
    int rc;

    if ((rc = wb_router_route_change(d->router, c, d->msg_arena, &out,
                                     d->err)) != 0)
        return rc;
    if (out.changed_table) {
        if ((rc = wb_apply_lookup_changed(d->apply, out.changed_schema,
                                          out.changed_table, &due, d->err)))
            return rc;
        d->txn_wrote = d->txn_wrote || due;
    }
    for (size_t i = 0; i < out.nclock; i++) {
        if ((rc = wb_apply_clock_change(d->apply, &out.clock[i], &due, d->err)))
            return rc;
        d->txn_wrote = d->txn_wrote || due;
    }
    if (!out.mapped)
        return 0;
    d->stats->changes++;
    for (size_t i = 0; i < out.nops; i++) {
        if ((rc = wb_apply_op(d->apply, &out.ops[i], c->lsn, d->err)) != 0)
            return rc;
        d->txn_wrote = true;
        d->stats->ops++;
    }
    return 0;
}

int wb_dispatch_copied_row(wb_dispatch *d, const wb_copied_row *row)
{
    wb_change c;

    if (d->in_txn || !d->apply)
        return wb_error_set(d->err, WB_EINVAL,
                            "a copied row arrived inside a transaction or "
                            "outside a session");
    memset(&c, 0, sizeof(c));
    c.kind = WB_CHANGE_INSERT;
    c.rel = row->rel;
    c.rel_version = row->rel_version;
    c.newtup = row->tup;
    c.lsn = row->lsn;
    c.commit_time = row->commit_time;
    c.only = row->only;
    c.nonly = row->nonly;
    c.rewrite_only_changed = row->rewrite_only_changed;
    wb_arena_reset(d->msg_arena);
    int rc = apply_change(d, &c);
    d->txn_wrote = false; /* the caller ends its chunk itself */
    return rc;
}

static wb_relcache_entry *relation_for(wb_dispatch *d, uint32_t relid, int *rc)
{
    wb_relcache_entry *e = wb_relcache_lookup(d->relcache, relid);
    if (!e) {
        wb_error_set(d->err, WB_EPROTO,
                     "change for relation %u arrived before its Relation "
                     "message",
                     relid);
        wb_error_lsn(d->err, d->txn_final_lsn);
        *rc = WB_EPROTO;
    }
    return e;
}

/*
 * Changes belong inside a transaction; those of a skipped one are not
 * routed.  Returns 1 to skip, 0 to go on, or an error.
 */
static int change_wanted(wb_dispatch *d, wb_pgoutput_msgtype type)
{
    if (!d->in_txn)
        return proto_error(d, "%s message outside a transaction",
                           wb_pgoutput_msgtype_name(type));
    return d->skip_txn ? 1 : 0;
}

static void init_change(const wb_dispatch *d, wb_change *c, wb_change_kind kind,
                        const wb_relcache_entry *e)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->lsn = d->txn_final_lsn;
    c->commit_time = d->txn_commit_time;
    if (e) {
        c->rel = &e->rel;
        c->rel_version = e->generation;
    }
}

/* Tuples must match the latest Relation for the relid. */
static int apply_row_change(wb_dispatch *d, wb_change *c)
{
    if ((c->newtup && c->newtup->ncols != c->rel->natts) ||
        (c->oldtup && c->oldtup->ncols != c->rel->natts)) {
        wb_error_set(
            d->err, WB_EPROTO, "tuple has %u columns but relation has %u",
            (unsigned)(c->newtup ? c->newtup->ncols : c->oldtup->ncols),
            (unsigned)c->rel->natts);
        wb_error_relation(d->err, c->rel->nspname, c->rel->relname);
        wb_error_lsn(d->err, d->txn_final_lsn);
        return WB_EPROTO;
    }
    return apply_change(d, c);
}

/* Every row change, of skipped transactions too, goes to the row hook
 * (the online re-sync marks the keys its chunk must not overwrite,
 * resync.h). */
static void seen(wb_dispatch *d, const wb_change *c)
{
    if (d->hooks.row_change)
        d->hooks.row_change(d->hooks.ud, c, d->txn_xid);
}

static int handle_insert(wb_dispatch *d, const wb_pgoutput_insert *ins)
{
    wb_relcache_entry *e;
    wb_change c;
    int rc, skip;

    if ((skip = change_wanted(d, WB_PGO_INSERT)) < 0)
        return skip;
    if (skip && !wb_relcache_lookup(d->relcache, ins->relid))
        return 0;
    if (!(e = relation_for(d, ins->relid, &rc)))
        return rc;
    init_change(d, &c, WB_CHANGE_INSERT, e);
    c.newtup = &ins->newtup;
    seen(d, &c);
    return skip ? 0 : apply_row_change(d, &c);
}

static int handle_update(wb_dispatch *d, const wb_pgoutput_update *upd)
{
    wb_relcache_entry *e;
    wb_change c;
    int rc, skip;

    if ((skip = change_wanted(d, WB_PGO_UPDATE)) < 0)
        return skip;
    if (skip && !wb_relcache_lookup(d->relcache, upd->relid))
        return 0;
    if (!(e = relation_for(d, upd->relid, &rc)))
        return rc;
    init_change(d, &c, WB_CHANGE_UPDATE, e);
    c.oldkind = upd->oldkind;
    c.oldtup = upd->oldkind ? &upd->oldtup : NULL;
    c.newtup = &upd->newtup;
    seen(d, &c);
    return skip ? 0 : apply_row_change(d, &c);
}

static int handle_delete(wb_dispatch *d, const wb_pgoutput_delete *del)
{
    wb_relcache_entry *e;
    wb_change c;
    int rc, skip;

    if ((skip = change_wanted(d, WB_PGO_DELETE)) < 0)
        return skip;
    if (skip && !wb_relcache_lookup(d->relcache, del->relid))
        return 0;
    if (!(e = relation_for(d, del->relid, &rc)))
        return rc;
    init_change(d, &c, WB_CHANGE_DELETE, e);
    c.oldkind = del->oldkind;
    c.oldtup = &del->oldtup;
    seen(d, &c);
    return skip ? 0 : apply_row_change(d, &c);
}

static int handle_truncate(wb_dispatch *d, const wb_pgoutput_truncate *t)
{
    wb_relcache_entry *e;
    wb_change c;
    int rc, skip;

    if ((skip = change_wanted(d, WB_PGO_TRUNCATE)) < 0)
        return skip;
    /* One change per relation, in the order sent. */
    for (uint32_t i = 0; i < t->nrelids; i++) {
        if (skip && !wb_relcache_lookup(d->relcache, t->relids[i]))
            continue;
        if (!(e = relation_for(d, t->relids[i], &rc)))
            return rc;
        init_change(d, &c, WB_CHANGE_TRUNCATE, e);
        c.truncate_flags = t->flags;
        seen(d, &c);
        if (!skip && (rc = apply_change(d, &c)) != 0)
            return rc;
    }
    return 0;
}

/*
 * The messages of one transaction, received as they happen or replayed
 * from the spool at its Stream Commit.
 */
static int dispatch_txn_message(wb_dispatch *d, const wb_pgoutput_msg *m)
{
    switch (m->type) {
    case WB_PGO_BEGIN:
        return handle_begin(d, &m->u.begin);
    case WB_PGO_COMMIT:
        return handle_commit(d, &m->u.commit);
    case WB_PGO_ORIGIN:
        return handle_origin(d, &m->u.origin);
    case WB_PGO_MESSAGE:
        return handle_message(d, &m->u.message);
    case WB_PGO_RELATION:
        return handle_relation(d, &m->u.relation);
    case WB_PGO_TYPE:
        return handle_type(d, &m->u.type);
    case WB_PGO_INSERT:
        return handle_insert(d, &m->u.insert);
    case WB_PGO_UPDATE:
        return handle_update(d, &m->u.update);
    case WB_PGO_DELETE:
        return handle_delete(d, &m->u.del);
    case WB_PGO_TRUNCATE:
        return handle_truncate(d, &m->u.truncate);
    default:
        /* Two-phase messages (never requested) and stream messages
         * outside a stream. */
        return proto_error(d, "unexpected %s message",
                           wb_pgoutput_msgtype_name(m->type));
    }
}

static int handle_stream_start(wb_dispatch *d, const wb_pgoutput_msg *m)
{
    if (d->in_stream || d->in_txn)
        return proto_error(d, "%s message inside a transaction",
                           "Stream Start");
    d->in_stream = true;
    d->stream_xid = m->xid;
    return 0;
}

static int handle_stream_stop(wb_dispatch *d)
{
    d->in_stream = false;
    return 0;
}

static int handle_stream_abort(wb_dispatch *d, const wb_pgoutput_msg *m)
{
    return wb_spool_abort(d->spool, m->xid, m->u.stream_abort.subxid, d->err);
}

/* Replay one spooled message of a committed streamed transaction. */
static int replay_one(void *ud, const char *msg, size_t len)
{
    wb_dispatch *d = ud;
    wb_pgoutput_msg m;
    int rc;

    /* A replay is one long callback: the source cannot be paused, so wait
     * for the target here when its queue is full (back-pressure). */
    if (wb_apply_backlogged(d->apply)) {
        if ((rc = wb_apply_make_room(d->apply, REPLAY_DRAIN_MS, d->err)) != 0)
            return rc;
        if (d->hooks.target_waited)
            d->hooks.target_waited(d->hooks.ud);
    }
    wb_arena_reset(d->msg_arena);
    rc = wb_pgoutput_decode(msg, len, true, d->msg_arena, &m, d->err);
    if (rc == 0)
        rc = dispatch_txn_message(d, &m);
    if (rc)
        wb_error_lsn(d->err, d->txn_final_lsn);
    return rc;
}

static int handle_stream_commit(wb_dispatch *d, const wb_pgoutput_msg *m)
{
    /* The commit decides: replay the spooled changes as one transaction,
     * exactly like a non-streamed one. */
    wb_pgoutput_commit c = {
        m->u.stream_commit.flags, m->u.stream_commit.commit_lsn,
        m->u.stream_commit.end_lsn, m->u.stream_commit.commit_time};
    uint32_t xid = m->xid;
    bool own;
    int rc;

    if (d->in_txn || d->in_stream)
        return proto_error(d, "%s message inside a transaction",
                           "Stream Commit");
    if ((rc = before_txn(d, c.commit_lsn)) != 0)
        return rc;
    begin_txn(d, c.commit_lsn, c.commit_time, xid);
    if (d->skip_txn) {
        wb_spool_abort(d->spool, xid, xid, NULL);
    } else {
        /* The Origin message came before the changes: the flag is known
         * before the replay starts. */
        own = wb_spool_is_flagged(d->spool, xid);
        d->skip_txn = d->own_txn = own;
        rc = wb_spool_replay(d->spool, xid, replay_one, d, &own, d->err);
        if (rc)
            return rc;
    }
    return handle_commit(d, &c);
}

/* Inside a Stream Start ... Stream Stop block. */
static int dispatch_in_stream(wb_dispatch *d, const wb_pgoutput_msg *m,
                              const char *raw, size_t len)
{
    switch (m->type) {
    case WB_PGO_STREAM_START:
        return handle_stream_start(d, m);
    case WB_PGO_STREAM_STOP:
        return handle_stream_stop(d);
    case WB_PGO_STREAM_ABORT:
        return handle_stream_abort(d, m);
    case WB_PGO_STREAM_COMMIT:
        return handle_stream_commit(d, m);
    case WB_PGO_ORIGIN:
        /* Marks the streamed transaction as our own echo for its replay. */
        if (strcmp(m->u.origin.name, d->cfg->target.origin) == 0)
            return wb_spool_set_flag(d->spool, d->stream_xid, true, d->err);
        return 0;
    default:
        /* R, Y, I, U, D, T, M of an open stream: kept until its commit. */
        return wb_spool_append(d->spool, d->stream_xid,
                               m->has_xid ? m->xid : d->stream_xid, raw, len,
                               d->err);
    }
}

static int apply_dispatch(wb_dispatch *d, const wb_pgoutput_msg *m,
                          const char *raw, size_t len)
{
    if (d->in_stream)
        return dispatch_in_stream(d, m, raw, len);
    switch (m->type) {
    case WB_PGO_STREAM_START:
        return handle_stream_start(d, m);
    case WB_PGO_STREAM_ABORT:
        return handle_stream_abort(d, m);
    case WB_PGO_STREAM_COMMIT:
        return handle_stream_commit(d, m);
    default:
        return dispatch_txn_message(d, m);
    }
}

/* The walsender's position counts only while no transaction is open:
 * then every commit before it has been received and handled. */
static void handle_keepalive(wb_dispatch *d, const wb_copydata *cd)
{
    if (!d->in_txn && cd->wal_end > d->pos.keepalive) {
        d->pos.keepalive = cd->wal_end;
        if (cd->wal_end > d->pos.recv)
            d->pos.recv = cd->wal_end;
    }
}

int wb_dispatch_copydata(wb_dispatch *d, const char *buf, size_t len,
                         bool *reply)
{
    wb_copydata cd;
    wb_pgoutput_msg m;
    int rc;

    *reply = false;
    if ((rc = wb_copydata_parse(buf, len, &cd, d->err)) != 0)
        return rc;
    if (cd.type == 'k') {
        handle_keepalive(d, &cd);
        *reply = cd.reply_requested;
        return 0;
    }
    rc = wb_pgoutput_decode(cd.payload, cd.payload_len, d->in_stream,
                            d->msg_arena, &m, d->err);
    if (rc)
        wb_error_lsn(d->err, cd.wal_start ? cd.wal_start : d->txn_final_lsn);
    else
        rc = apply_dispatch(d, &m, cd.payload, cd.payload_len);
    wb_arena_reset(d->msg_arena);
    return rc;
}

/*
 * SIGHUP: load the file again and swap the mappings, only between source
 * transactions (never inside one, so every transaction is mapped by one
 * configuration), and only when nothing but mappings and log changed.
 * Anything else is refused with a message and the old configuration stays
 * in force: never a half-changed mapping.
 */

/* The reloaded file, if it may replace the one in force; NULL (logged)
 * when it may not. */
static wb_config *load_next(wb_dispatch *d)
{
    wb_config *next = NULL;
    wb_error e;
    const char *key;

    wb_error_clear(&e);
    if (wb_config_load(d->cfg->path, &next, &e) != 0) {
        wb_error_hint(&e, "The previous configuration stays in force.");
        wb_log_error(WB_LOG_ERROR, &e);
        return NULL;
    }
    if ((key = wb_config_restart_key(d->cfg, next)) != NULL) {
        wb_error_set(&e, WB_ECONFIG,
                     "configuration reload refused: \"%s\" changed", key);
        wb_error_hint(&e,
                      "Only mappings and log settings change on reload; "
                      "restart walbridge to change \"%s\".",
                      key);
        wb_log_error(WB_LOG_ERROR, &e);
        wb_config_free(next);
        return NULL;
    }
    /* The same checks as at start (the session's own follow, in
     * wb_apply_reconfigure): mappings that do not fit the catalog would
     * stop walbridge at their first change instead. */
    if (wb_startup_verify_classes(next, WB_STARTUP_FILE | WB_STARTUP_CATALOG,
                                  &e) != 0) {
        wb_error_hint(&e, "The previous configuration stays in force.");
        wb_log_error(WB_LOG_ERROR, &e);
        wb_config_free(next);
        return NULL;
    }
    if (d->nretired == sizeof(d->retired) / sizeof(d->retired[0])) {
        wb_log(WB_LOG_ERROR,
               "configuration reload refused: too many reloads "
               "in one session (%zu)",
               d->nretired);
        wb_config_free(next);
        return NULL;
    }
    return next;
}

static void reload(wb_dispatch *d)
{
    wb_config *next;
    wb_router *router;
    wb_error e;

    if (!d->reload_requested || d->in_txn)
        return;
    d->reload_requested = false;
    if (!(next = load_next(d)))
        return;
    wb_error_clear(&e);
    if (!(router = wb_router_create(next, &e))) {
        wb_error_hint(&e, "The previous configuration stays in force.");
        wb_log_error(WB_LOG_ERROR, &e);
        wb_config_free(next);
        return;
    }
    /* A changed log.level applies; an unchanged one leaves --log-level. */
    if (strcmp(d->cfg->log.level, next->log.level) != 0) {
        wb_log_level lvl;
        if (wb_log_level_parse(next->log.level, &lvl) == 0)
            wb_log_set_level(lvl);
    }
    if (d->apply && wb_apply_reconfigure(d->apply, next, &e) != 0) {
        /* The applier keeps working with the previous configuration. */
        wb_error_hint(&e, "The previous configuration stays in force.");
        wb_log_error(WB_LOG_ERROR, &e);
        wb_router_destroy(router);
        wb_config_free(next);
        return;
    }
    wb_router_inherit_binary(router, d->router);
    wb_router_destroy(d->router);
    d->router = router;
    if (d->owned)
        d->retired[d->nretired++] = d->owned;
    d->owned = next;
    d->cfg = next;
    wb_log(WB_LOG_INFO, "reloaded configuration \"%s\": %zu mappings",
           next->path, next->nmappings);
}

int wb_dispatch_set_binary(wb_dispatch *d, const wb_binary_plan *plan)
{
    wb_router_set_text(d->router);
    for (size_t i = 0; plan && i < plan->nmappings; i++) {
        int rc = plan->types[i]
                     ? wb_router_set_binary(d->router, &d->cfg->mappings[i],
                                            plan->types[i], plan->text[i])
                     : 0;
        if (rc) {
            wb_router_set_text(d->router);
            return rc;
        }
    }
    return 0;
}

void wb_dispatch_request_reload(wb_dispatch *d)
{
    d->reload_requested = true;
    reload(d);
}

const wb_config *wb_dispatch_config(const wb_dispatch *d)
{
    return d->cfg;
}

static void free_retired(wb_dispatch *d)
{
    for (size_t i = 0; i < d->nretired; i++)
        wb_config_free(d->retired[i]);
    d->nretired = 0;
}

wb_dispatch *wb_dispatch_create(const wb_config *cfg, wb_run_stats *stats,
                                const wb_dispatch_hooks *hooks, wb_error *err)
{
    /* Reports its own errors (a plugin that cannot be loaded or rejects
     * its config is WB_ECONFIG, with the file position). */
    wb_router *router = wb_router_create(cfg, err);
    if (!router)
        return NULL;
    wb_dispatch *d = calloc(1, sizeof(*d));
    if (!d) {
        wb_router_destroy(router);
        wb_error_set(err, WB_ENOMEM, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->router = router;
    d->stats = stats;
    d->hooks = *hooks;
    d->err = err;
    d->relcache = wb_relcache_create();
    d->msg_arena = wb_arena_create(64 * 1024, MSG_ARENA_LIMIT);
    if (!d->relcache || !d->msg_arena) {
        wb_error_set(err, WB_ENOMEM, "out of memory");
        wb_dispatch_destroy(d);
        return NULL;
    }
    /* Reports its own error (the spool directory). */
    if (!(d->spool =
              wb_spool_create(cfg->source.spool_dir, MAX_STREAMS, err))) {
        if (!err->code)
            wb_error_set(err, WB_ENOMEM, "out of memory");
        wb_dispatch_destroy(d);
        return NULL;
    }
    return d;
}

void wb_dispatch_destroy(wb_dispatch *d)
{
    if (!d)
        return;
    wb_relcache_destroy(d->relcache);
    wb_arena_destroy(d->msg_arena);
    wb_spool_destroy(d->spool);
    wb_router_destroy(d->router);
    free_retired(d);
    wb_config_free(d->owned);
    free(d);
}

int wb_dispatch_start_session(wb_dispatch *d, wb_apply *apply, wb_lsn resume)
{
    d->pos.pending = d->pos.keepalive = WB_INVALID_LSN;
    if (!d->relcache)
        return wb_error_set(d->err, WB_ENOMEM, "out of memory");
    d->apply = apply;
    d->resume = resume;
    return 0;
}

void wb_dispatch_abandon(wb_dispatch *d)
{
    d->in_txn = false;
    d->in_stream = false;
    wb_spool_clear(d->spool);
}

void wb_dispatch_end_session(wb_dispatch *d)
{
    d->apply = NULL;
    d->in_txn = false;
    d->skip_txn = false;
    d->txn_wrote = false;
    d->in_stream = false;
    /* Uncommitted streamed transactions are sent again from the start. */
    wb_spool_clear(d->spool);
    /* The session's applier is closed: nothing points into them any more. */
    free_retired(d);
    /* A new walsender sends every Relation again before using it. */
    wb_relcache_destroy(d->relcache);
    d->relcache = wb_relcache_create();
}

bool wb_dispatch_in_txn(const wb_dispatch *d)
{
    return d->in_txn;
}

bool wb_dispatch_txn_wrote(const wb_dispatch *d)
{
    return d->txn_wrote;
}

bool wb_dispatch_idle(const wb_dispatch *d)
{
    return !d->in_txn && !d->in_stream && wb_spool_open_count(d->spool) == 0;
}

const wb_stream_pos *wb_dispatch_pos(const wb_dispatch *d)
{
    return &d->pos;
}
