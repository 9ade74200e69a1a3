/*
 * progress.c - the stored position (see progress.h for the rule it keeps).
 *
 * Set-up, reads and the identity check run as plain blocking statements on
 * the applier's session before it enters pipeline mode; the store itself
 * is a statement of each batch's transaction, sent by apply/batch.c.
 * Statement text is progress_sql.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/names.h"
#include "common/conn.h"
#include "common/log.h"
#include "progress.h"

#define ORIGIN_WAIT_TRIES  60 /* x 250 ms */
#define IDLE_PERSIST_BYTES (1024 * 1024)
#define IDLE_PERSIST_MS    60000

struct wb_progress {
    PGconn *conn; /* the applier's, borrowed */
    const wb_config *cfg;
    wb_progress_mode mode;
    char *origin;     /* origin name */
    char roident[16]; /* its id (origin mode) */
    char *rel;        /* quoted progress_schema.progress_table */
    char *store_sql;  /* upsert of the progress row (table mode) */
    char *guard_sql;  /* table mode: is that position stored? */
    bool sync_commit;
    wb_progress_ring ring;
};

static int exec_ok(wb_progress *p, const char *sql, int nparams,
                   const char *const *params, ExecStatusType want,
                   PGresult **out, const char *what, wb_error *err)
{
    return wb_conn_expect(
        p->conn,
        PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0), want,
        out, what, err);
}

/* Run one statement built by a wb_sql_* function (no parameters). */
static int exec_built(wb_progress *p, wb_strbuf *sql, const char *what,
                      wb_error *err)
{
    int rc = sql->err ? wb_error_set(err, WB_ENOMEM, "out of memory")
                      : exec_ok(p, sql->data, 0, NULL, PGRES_COMMAND_OK, NULL,
                                what, err);
    wb_strbuf_free(sql);
    return rc;
}

/* The text of fn(rel), malloc'd; NULL when out of memory. */
static char *sql_for(int (*fn)(wb_strbuf *, const char *), const char *rel)
{
    wb_strbuf b = {0};
    char *sql = fn(&b, rel) == 0 ? strdup(b.data) : NULL;
    wb_strbuf_free(&b);
    return sql;
}

static bool is_sqlstate(const wb_error *err, const char *state)
{
    return err && strcmp(err->sqlstate, state) == 0;
}

/* Attach the session to the origin, creating it first when missing. */
static int setup_origin(wb_progress *p, wb_error *err)
{
    const char *prm[1] = {p->origin};
    PGresult *res;
    int rc;

    rc = exec_ok(p, WB_PROGRESS_SQL_ORIGIN_OID, 1, prm, PGRES_TUPLES_OK, &res,
                 "could not look up replication origin", err);
    if (rc)
        return rc;
    bool missing = PQgetisnull(res, 0, 0);
    if (missing) {
        PQclear(res);
        rc = exec_ok(p, WB_PROGRESS_SQL_ORIGIN_CREATE, 1, prm, PGRES_TUPLES_OK,
                     &res, "could not create replication origin", err);
        if (rc)
            return rc;
        wb_log(WB_LOG_INFO, "created replication origin \"%s\"", p->origin);
    }
    /* Its id names our own writes in conflict logs. */
    snprintf(p->roident, sizeof(p->roident), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* A backend of ours that just lost its client may still hold the
     * origin for a moment: retry "already active" for a bounded time. */
    for (int i = 0;; i++) {
        rc = exec_ok(p, WB_PROGRESS_SQL_ORIGIN_SESSION, 1, prm, PGRES_TUPLES_OK,
                     NULL, "could not use replication origin", err);
        if (!rc || !is_sqlstate(err, "55006") || i >= ORIGIN_WAIT_TRIES)
            break;
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc && is_sqlstate(err, "55006")) {
        err->code = rc = WB_ESTATE;
        wb_error_hint(err, "Is another walbridge running with the same "
                           "slot and origin?");
    }
    return rc;
}

static int setup_table(wb_progress *p, wb_error *err)
{
    wb_strbuf sql = {0};
    int rc;

    wb_names_create_schema(&sql, p->cfg->target.progress_schema);
    if ((rc = exec_built(p, &sql, "could not create the progress schema",
                         err)) != 0)
        return rc;
    wb_progress_sql_create(&sql, p->rel);
    return exec_built(p, &sql, "could not create the progress table", err);
}

/* The quoted progress table of cfg, malloc'd; NULL when out of memory. */
static char *progress_rel(const wb_config *cfg)
{
    wb_strbuf r = {0};
    wb_strbuf_append_rel(&r, cfg->target.progress_schema,
                         cfg->target.progress_table);
    char *rel = r.err ? NULL : strdup(r.data);
    wb_strbuf_free(&r);
    return rel;
}

int wb_progress_open(PGconn *conn, const wb_config *cfg, wb_progress_mode mode,
                     bool sync_commit, wb_progress **out, wb_error *err)
{
    wb_progress *p = calloc(1, sizeof(*p));
    int rc;

    *out = NULL;
    if (!p)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    p->conn = conn;
    p->cfg = cfg;
    p->mode = mode;
    p->sync_commit = sync_commit;
    p->origin = strdup(cfg->target.origin);
    p->rel = progress_rel(cfg);
    if (!p->origin || !p->rel) {
        wb_progress_close(p);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if (cfg->target.progress == WB_PROGRESS_AUTO && mode == WB_PROGRESS_TABLE)
        wb_log(WB_LOG_INFO,
               "role may not use replication origins, storing progress "
               "in table %s",
               p->rel);
    rc =
        mode == WB_PROGRESS_ORIGIN ? setup_origin(p, err) : setup_table(p, err);
    if (rc) {
        wb_progress_close(p);
        return rc;
    }
    p->store_sql = sql_for(wb_progress_sql_store, p->rel);
    p->guard_sql = sql_for(wb_progress_sql_guard, p->rel);
    if (!p->store_sql || !p->guard_sql) {
        wb_progress_close(p);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

void wb_progress_close(wb_progress *p)
{
    if (!p)
        return;
    free(p->origin);
    free(p->rel);
    free(p->store_sql);
    free(p->guard_sql);
    free(p);
}

wb_progress_mode wb_progress_get_mode(const wb_progress *p)
{
    return p->mode;
}

const char *wb_progress_origin_name(const wb_progress *p)
{
    return p->origin;
}

const char *wb_progress_origin_id(const wb_progress *p)
{
    return p->roident;
}

static int lsn_from_result(PGresult *res, wb_lsn *lsn, wb_error *err)
{
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
        return 0;
    wb_lsn v;
    if (wb_lsn_parse(PQgetvalue(res, 0, 0), &v) != 0)
        return wb_error_set(err, WB_ESQL, "invalid stored position \"%s\"",
                            PQgetvalue(res, 0, 0));
    if (v > *lsn)
        *lsn = v;
    return 0;
}

int wb_progress_stored_lsn(wb_progress *p, wb_lsn *lsn, wb_error *err)
{
    PGresult *res;
    int rc;

    *lsn = WB_INVALID_LSN;
    if (p->mode == WB_PROGRESS_ORIGIN) {
        rc = exec_ok(p, WB_PROGRESS_SQL_ORIGIN_SESSION_PROGRESS, 0, NULL,
                     PGRES_TUPLES_OK, &res,
                     "could not read replication origin progress", err);
        if (rc)
            return rc;
        rc = lsn_from_result(res, lsn, err);
        PQclear(res);
        if (rc)
            return rc;
    }
    /* The table may hold progress from a run without origin privileges. */
    const char *prm[2] = {p->rel, p->cfg->source.slot};
    rc = exec_ok(p, WB_SQL_REL_EXISTS, 1, prm, PGRES_TUPLES_OK, &res,
                 "could not look up the progress table", err);
    if (rc)
        return rc;
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists)
        return 0;
    char *sql = sql_for(wb_progress_sql_read, p->rel);
    if (!sql)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    rc = exec_ok(p, sql, 1, prm + 1, PGRES_TUPLES_OK, &res,
                 "could not read the progress table", err);
    free(sql);
    if (rc)
        return rc;
    rc = lsn_from_result(res, lsn, err);
    PQclear(res);
    return rc;
}

/* The position in the first field of one statement's result, or 0 when
 * the statement failed or returned none (status: unknown, not an error). */
static wb_lsn peek_lsn(PGconn *conn, const char *sql, const char *param)
{
    const char *prm[1] = {param};
    PGresult *r = PQexecParams(conn, sql, 1, NULL, prm, NULL, NULL, 0);
    wb_lsn v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
        !PQgetisnull(r, 0, 0))
        wb_lsn_parse(PQgetvalue(r, 0, 0), &v);
    PQclear(r);
    return v;
}

void wb_progress_peek(PGconn *conn, const wb_config *cfg, wb_lsn *lsn,
                      const char **where)
{
    char *rel = progress_rel(cfg);
    char *sql = rel ? sql_for(wb_progress_sql_read, rel) : NULL;
    wb_lsn v =
        peek_lsn(conn, WB_PROGRESS_SQL_ORIGIN_PROGRESS, cfg->target.origin);

    *lsn = WB_INVALID_LSN;
    *where = "";
    if (v) {
        *lsn = v;
        *where = "origin";
    }
    if (sql) {
        /* A missing table is not an error for status. */
        const char *prm[1] = {rel};
        PGresult *r =
            PQexecParams(conn, WB_SQL_REL_EXISTS, 1, NULL, prm, NULL, NULL, 0);
        bool exists = PQresultStatus(r) == PGRES_TUPLES_OK &&
                      PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (exists && (v = peek_lsn(conn, sql, cfg->source.slot)) > *lsn) {
            *lsn = v;
            *where = "table";
        }
    }
    free(rel);
    free(sql);
}

/* The identity row stored for the slot differs from the source's. */
static int identity_changed(wb_progress *p, PGresult *res,
                            const char *system_id, const char *tl,
                            wb_error *err)
{
    if (strcmp(PQgetvalue(res, 0, 0), system_id) != 0) {
        wb_error_set(err, WB_ESTATE,
                     "source system identifier changed for slot \"%s\"",
                     p->cfg->source.slot);
        wb_error_detail(err,
                        "The progress was stored for system %s; the "
                        "source is now system %s.",
                        PQgetvalue(res, 0, 0), system_id);
        wb_error_hint(err, "The connection string points at another cluster. "
                           "If that is intended, resynchronise and delete the "
                           "slot's row in " WB_OWN_SOURCE_IDENTITY
                           " and its progress.");
        return WB_ESTATE;
    }
    if (strcmp(PQgetvalue(res, 0, 1), tl) != 0) {
        wb_error_set(err, WB_ESTATE,
                     "source timeline changed for slot \"%s\" from %s to %s",
                     p->cfg->source.slot, PQgetvalue(res, 0, 1), tl);
        wb_error_detail(err, "The source was promoted or restored: changes "
                             "decoded on the old timeline may be missing from "
                             "the new one.");
        wb_error_hint(
            err, "Check that the slot was carried over (failover "
                 "slots), then update the slot's row in " WB_OWN_SOURCE_IDENTITY
                 " to the new timeline.");
        return WB_ESTATE;
    }
    return 0;
}

/* Create the identity table if need be.  1: the role may not (warned). */
static int identity_table(wb_progress *p, wb_error *err)
{
    const char *schema = p->cfg->target.progress_schema;
    wb_strbuf sql = {0};
    wb_error e;
    int rc;

    wb_error_clear(&e);
    wb_names_create_schema(&sql, schema);
    rc = exec_built(p, &sql, "could not create the progress schema", &e);
    if (rc == 0) {
        wb_progress_sql_identity_create(&sql, schema);
        rc = exec_built(p, &sql, "could not create the source identity table",
                        &e);
    }
    if (rc == WB_ECONN || rc == WB_ENOMEM) {
        if (err)
            *err = e;
        return rc;
    }
    if (rc) {
        wb_log(WB_LOG_WARNING,
               "cannot record the source's identity, so a failover or a "
               "different source server will not be detected: %s",
               e.message);
        return 1;
    }
    return 0;
}

int wb_progress_check_source(wb_progress *p, const char *system_id,
                             uint32_t timeline, wb_error *err)
{
    const char *schema = p->cfg->target.progress_schema;
    wb_strbuf sql = {0};
    char tl[16];
    PGresult *res;
    int rc;

    snprintf(tl, sizeof(tl), "%u", timeline);
    if ((rc = identity_table(p, err)) != 0)
        return rc < 0 ? rc : 0;
    const char *prm[3] = {p->cfg->source.slot, system_id, tl};
    if (wb_progress_sql_identity_read(&sql, schema) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    rc = exec_ok(p, sql.data, 1, prm, PGRES_TUPLES_OK, &res,
                 "could not read the source identity", err);
    wb_strbuf_free(&sql);
    if (rc)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        if (wb_progress_sql_identity_insert(&sql, schema) != 0) {
            wb_strbuf_free(&sql);
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        }
        rc = exec_ok(p, sql.data, 3, prm, PGRES_COMMAND_OK, NULL,
                     "could not record the source identity", err);
        wb_strbuf_free(&sql);
        return rc;
    }
    rc = identity_changed(p, res, system_id, tl, err);
    PQclear(res);
    return rc;
}

void wb_progress_store_stmt(const wb_progress *p, wb_lsn end,
                            int64_t commit_time, wb_progress_stmt *s)
{
    wb_lsn_format(end, s->lsn);
    snprintf(s->ts, sizeof(s->ts), "%lld", (long long)commit_time);
    if (p->mode == WB_PROGRESS_ORIGIN) {
        s->sql = WB_PROGRESS_SQL_ORIGIN_XACT_SETUP;
        s->nparams = 2;
        s->params[0] = s->lsn;
        s->params[1] = s->ts;
        s->params[2] = NULL;
    } else {
        s->sql = p->store_sql;
        s->nparams = 3;
        s->params[0] = p->cfg->source.slot;
        s->params[1] = s->lsn;
        s->params[2] = s->ts;
    }
}

void wb_progress_guard_stmt(const wb_progress *p, wb_lsn end,
                            wb_progress_stmt *s)
{
    s->params[0] = wb_lsn_format(end, s->lsn);
    s->params[2] = NULL;
    s->ts[0] = '\0';
    if (p->mode == WB_PROGRESS_ORIGIN) {
        s->sql = WB_PROGRESS_SQL_ORIGIN_GUARD;
        s->nparams = 1;
        s->params[1] = NULL;
    } else {
        s->sql = p->guard_sql;
        s->nparams = 2;
        s->params[1] = p->cfg->source.slot;
    }
}

int wb_progress_resume(const char *slot_name, wb_lsn stored,
                       const wb_progress_slot *slot, wb_lsn *start, bool *store,
                       wb_error *err)
{
    char a[WB_LSN_BUFLEN], b[WB_LSN_BUFLEN];

    *store = false;
    *start = stored;
    if (slot->created) {
        *start = slot->consistent_point;
        *store = true;
    } else if (slot->active_pid) {
        wb_error_set(err, WB_ESTATE,
                     "replication slot \"%s\" is active for PID %d", slot_name,
                     slot->active_pid);
        wb_error_hint(err, "Is another walbridge using this slot?");
        return WB_ESTATE;
    } else if (stored == WB_INVALID_LSN) {
        wb_log(WB_LOG_WARNING,
               "no progress stored for existing slot \"%s\": starting at its "
               "confirmed_flush_lsn %s",
               slot_name, wb_lsn_format(slot->confirmed_flush, a));
        *start = slot->confirmed_flush;
        *store = true;
    } else if (slot->confirmed_flush > stored) {
        wb_error_set(err, WB_ESTATE,
                     "replication slot \"%s\" has confirmed %s, past the "
                     "stored position %s",
                     slot_name, wb_lsn_format(slot->confirmed_flush, a),
                     wb_lsn_format(stored, b));
        wb_error_detail(err, "Changes between the two positions will "
                             "never be sent again.");
        wb_error_hint(err, "Was the target restored from a backup, or the "
                           "slot used by another consumer?  Resynchronise "
                           "the tables before starting again.");
        return WB_ESTATE;
    }
    return 0;
}

wb_lsn wb_progress_idle_due(const wb_progress_idle *in, bool force)
{
    wb_lsn cand = in->pending > in->keepalive ? in->pending : in->keepalive;

    if (cand <= in->stored)
        return WB_INVALID_LSN;
    if (!force) {
        bool due = in->now_ms - in->last_ms >= in->interval_ms;
        bool worth = in->pending > in->stored ||
                     cand - in->stored >= IDLE_PERSIST_BYTES ||
                     in->now_ms - in->last_ms >= IDLE_PERSIST_MS;
        if (!due || !worth)
            return WB_INVALID_LSN;
    }
    return cand;
}

void wb_progress_ring_push(wb_progress_ring *r, wb_lsn local, wb_lsn end)
{
    size_t i = (r->head + r->n) % WB_PROGRESS_RING;
    r->e[i].local = local;
    r->e[i].end = end;
    r->n++;
}

wb_lsn wb_progress_ring_flushed(wb_progress_ring *r, wb_lsn flushed)
{
    while (r->n > 0 && r->e[r->head].local <= flushed) {
        if (r->e[r->head].end > r->durable)
            r->durable = r->e[r->head].end;
        r->head = (r->head + 1) % WB_PROGRESS_RING;
        r->n--;
    }
    return r->durable;
}

void wb_progress_committed(wb_progress *p, wb_lsn end)
{
    if (p->sync_commit)
        p->ring.durable = end;
}

void wb_progress_committed_at(wb_progress *p, wb_lsn local, wb_lsn end)
{
    wb_progress_ring_push(&p->ring, local, end);
}

void wb_progress_flushed(wb_progress *p, wb_lsn flushed)
{
    wb_progress_ring_flushed(&p->ring, flushed);
}

wb_lsn wb_progress_durable(const wb_progress *p)
{
    return p->ring.durable;
}

size_t wb_progress_unflushed(const wb_progress *p)
{
    return p->ring.n;
}

bool wb_progress_sync_commit(const wb_progress *p)
{
    return p->sync_commit;
}
