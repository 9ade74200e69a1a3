/*
 * apply.c - target writes with prepared statements, and stored progress.
 *
 * One target transaction per source transaction (issue 4 batches several).
 * Every statement is prepared once per operation shape (kind, target,
 * key columns, set columns) and cached; identifiers are quoted with
 * PQescapeIdentifier and every value is a text parameter, never spliced into
 * SQL.  The session keeps Heroku Connect's triggers working: no
 * session_replication_role = replica, nothing that would make walbridge's
 * writes invisible to the triggers on the target tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "apply_int.h"
#include "conn_int.h"
#include "walbridge/log.h"

#define MAX_STATEMENTS 512
#define ORIGIN_WAIT_TRIES 60 /* x 250 ms */
#define SQL_MAX (64 * 1024)

typedef struct stmt {
    char *key;
    char name[24];
} stmt;

struct wb_apply {
    PGconn *conn;
    const wb_config *cfg;
    wb_progress_mode mode;
    bool in_txn;
    char *origin;        /* origin name */
    char *progress_rel;  /* quoted schema.table */
    stmt stmts[MAX_STATEMENTS];
    size_t nstmts;
    uint64_t stmt_seq;
    wb_apply_stats stats;
};

static int exec_ok(wb_apply *a, const char *sql, int nparams,
                   const char *const *params, ExecStatusType want,
                   PGresult **out, const char *what, wb_error *err)
{
    PGresult *res = PQexecParams(a->conn, sql, nparams, NULL, params, NULL,
                                 NULL, 0);
    if (PQresultStatus(res) != want) {
        int code = PQstatus(a->conn) == CONNECTION_OK ? WB_ESQL : WB_ECONN;
        wb_conn_result_error(err, code, a->conn, res, what);
        PQclear(res);
        return code;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static bool is_sqlstate(const wb_error *err, const char *state)
{
    return err && strcmp(err->sqlstate, state) == 0;
}

/* Attach the session to the origin, creating it first when missing. */
static int setup_origin(wb_apply *a, wb_error *err)
{
    const char *p[1] = {a->origin};
    PGresult *res;
    int rc;

    rc = exec_ok(a, "SELECT pg_replication_origin_oid($1)", 1, p,
                 PGRES_TUPLES_OK, &res, "could not look up replication origin",
                 err);
    if (rc)
        return rc;
    bool missing = PQgetisnull(res, 0, 0);
    PQclear(res);
    if (missing) {
        rc = exec_ok(a, "SELECT pg_replication_origin_create($1)", 1, p,
                     PGRES_TUPLES_OK, NULL,
                     "could not create replication origin", err);
        if (rc)
            return rc;
        wb_log(WB_LOG_INFO, "created replication origin \"%s\"", a->origin);
    }
    /* A backend of ours that just lost its client may still hold the
     * origin for a moment: retry "already active" for a bounded time. */
    for (int i = 0;; i++) {
        rc = exec_ok(a, "SELECT pg_replication_origin_session_setup($1)", 1,
                     p, PGRES_TUPLES_OK, NULL,
                     "could not use replication origin", err);
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

static int setup_table(wb_apply *a, wb_error *err)
{
    char sql[1024];
    char *schema = wb_conn_quote_ident(a->conn, a->cfg->target.progress_schema);
    int rc;

    if (!schema)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", schema);
    free(schema);
    rc = exec_ok(a, sql, 0, NULL, PGRES_COMMAND_OK, NULL,
                 "could not create the progress schema", err);
    if (rc)
        return rc;
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s ("
             "slot text PRIMARY KEY, end_lsn pg_lsn NOT NULL, "
             "commit_time timestamptz, "
             "updated_at timestamptz NOT NULL DEFAULT now())",
             a->progress_rel);
    return exec_ok(a, sql, 0, NULL, PGRES_COMMAND_OK, NULL,
                   "could not create the progress table", err);
}

int wb_apply_open(const wb_config *cfg, wb_apply **out, wb_error *err)
{
    const char *conninfo = cfg->target.conninfo && *cfg->target.conninfo
                               ? cfg->target.conninfo
                               : cfg->source.conninfo;
    wb_apply *a = calloc(1, sizeof(*a));
    int rc;

    if (!a)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    a->cfg = cfg;
    a->origin = strdup(cfg->target.origin);
    a->conn = wb_conn_open(conninfo, false, "walbridge", "target", err);
    if (!a->conn) {
        wb_apply_close(a);
        return err ? err->code : WB_ECONN;
    }
    {
        char *s = wb_conn_quote_ident(a->conn, cfg->target.progress_schema);
        char *t = wb_conn_quote_ident(a->conn, cfg->target.progress_table);
        size_t n = (s ? strlen(s) : 0) + (t ? strlen(t) : 0) + 2;
        a->progress_rel = s && t ? malloc(n) : NULL;
        if (a->progress_rel)
            snprintf(a->progress_rel, n, "%s.%s", s, t);
        free(s);
        free(t);
        if (!a->progress_rel || !a->origin) {
            wb_apply_close(a);
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        }
    }
    /* COMMIT must mean durable: only then may feedback confirm it. */
    rc = exec_ok(a, "SET synchronous_commit = on", 0, NULL, PGRES_COMMAND_OK,
                 NULL, "could not configure the target session", err);
    if (rc)
        goto fail;

    a->mode = cfg->target.progress;
    if (a->mode == WB_PROGRESS_ORIGIN || a->mode == WB_PROGRESS_AUTO) {
        wb_error oerr;
        wb_error_clear(&oerr);
        rc = setup_origin(a, &oerr);
        if (rc == 0) {
            a->mode = WB_PROGRESS_ORIGIN;
        } else if (a->mode == WB_PROGRESS_AUTO &&
                   is_sqlstate(&oerr, "42501")) {
            wb_log(WB_LOG_INFO,
                   "role may not use replication origins, storing progress "
                   "in table %s",
                   a->progress_rel);
            a->mode = WB_PROGRESS_TABLE;
        } else {
            if (err)
                *err = oerr;
            goto fail;
        }
    }
    if (a->mode == WB_PROGRESS_TABLE && (rc = setup_table(a, err)) != 0)
        goto fail;
    *out = a;
    return 0;
fail:
    wb_apply_close(a);
    return rc;
}

void wb_apply_close(wb_apply *a)
{
    if (!a)
        return;
    if (a->conn)
        PQfinish(a->conn);
    for (size_t i = 0; i < a->nstmts; i++)
        free(a->stmts[i].key);
    free(a->origin);
    free(a->progress_rel);
    free(a);
}

wb_progress_mode wb_apply_mode(const wb_apply *a) { return a->mode; }

bool wb_apply_in_txn(const wb_apply *a) { return a->in_txn; }

void wb_apply_get_stats(const wb_apply *a, wb_apply_stats *out)
{
    *out = a->stats;
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

int wb_apply_stored_lsn(wb_apply *a, wb_lsn *lsn, wb_error *err)
{
    PGresult *res;
    char sql[1024];
    int rc;

    *lsn = WB_INVALID_LSN;
    if (a->mode == WB_PROGRESS_ORIGIN) {
        rc = exec_ok(a, "SELECT pg_replication_origin_session_progress(true)",
                     0, NULL, PGRES_TUPLES_OK, &res,
                     "could not read replication origin progress", err);
        if (rc)
            return rc;
        rc = lsn_from_result(res, lsn, err);
        PQclear(res);
        if (rc)
            return rc;
    }
    /* The table may hold progress from a run without origin privileges. */
    const char *p[2] = {a->progress_rel, a->cfg->source.slot};
    rc = exec_ok(a, "SELECT to_regclass($1) IS NOT NULL", 1, p,
                 PGRES_TUPLES_OK, &res, "could not look up the progress table",
                 err);
    if (rc)
        return rc;
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists)
        return 0;
    snprintf(sql, sizeof(sql), "SELECT end_lsn FROM %s WHERE slot = $1",
             a->progress_rel);
    rc = exec_ok(a, sql, 1, p + 1, PGRES_TUPLES_OK, &res,
                 "could not read the progress table", err);
    if (rc)
        return rc;
    rc = lsn_from_result(res, lsn, err);
    PQclear(res);
    return rc;
}

int wb_apply_begin(wb_apply *a, wb_error *err)
{
    int rc;
    if (a->in_txn)
        return 0;
    rc = exec_ok(a, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL,
                 "could not begin a target transaction", err);
    if (rc)
        return rc;
    a->in_txn = true;
    if (a->mode == WB_PROGRESS_TABLE) {
        /* Without an origin, this message is how walbridge recognises its
         * own transactions when they come back through the slot. */
        const char *p[1] = {a->origin};
        rc = exec_ok(a,
                     "SELECT pg_logical_emit_message(true, '"
                     WB_APPLY_MARKER_PREFIX "', $1)",
                     1, p, PGRES_TUPLES_OK, NULL,
                     "could not write the walbridge marker message", err);
    }
    return rc;
}

void wb_apply_rollback(wb_apply *a)
{
    if (!a->in_txn)
        return;
    PGresult *res = PQexec(a->conn, "ROLLBACK");
    PQclear(res);
    a->in_txn = false;
}

/* Append to a bounded SQL buffer; false when it would overflow. */
static bool sql_add(char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > SQL_MAX)
        return false;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return true;
}

static bool sql_ident(PGconn *conn, char *buf, size_t *len, const char *id)
{
    char *q = PQescapeIdentifier(conn, id, strlen(id));
    bool ok = q && sql_add(buf, len, q);
    PQfreemem(q);
    return ok;
}

static bool sql_param(char *buf, size_t *len, int n)
{
    char p[16];
    snprintf(p, sizeof(p), "$%d", n);
    return sql_add(buf, len, p);
}

/* Build the statement text for op's shape; false on overflow. */
static bool build_sql(PGconn *conn, const wb_target_op *op, char *sql)
{
    size_t len = 0;
    bool ok = true;
    int param = 1;
    char rel[1024];
    size_t rlen = 0;

    rel[0] = '\0';
    ok = sql_ident(conn, rel, &rlen, op->schema) &&
         sql_add(rel, &rlen, ".") && sql_ident(conn, rel, &rlen, op->table);
    if (!ok)
        return false;
    sql[0] = '\0';
    switch (op->kind) {
    case WB_OP_UPSERT:
        ok = sql_add(sql, &len, "INSERT INTO ") && sql_add(sql, &len, rel) &&
             sql_add(sql, &len, " (");
        for (size_t i = 0; ok && i < op->nkeys + op->nset; i++) {
            const wb_op_value *v =
                i < op->nkeys ? &op->keys[i] : &op->set[i - op->nkeys];
            ok = (i == 0 || sql_add(sql, &len, ", ")) &&
                 sql_ident(conn, sql, &len, v->column);
        }
        ok = ok && sql_add(sql, &len, ") VALUES (");
        for (size_t i = 0; ok && i < op->nkeys + op->nset; i++)
            ok = (i == 0 || sql_add(sql, &len, ", ")) &&
                 sql_param(sql, &len, param++);
        ok = ok && sql_add(sql, &len, ") ON CONFLICT (");
        for (size_t i = 0; ok && i < op->nkeys; i++)
            ok = (i == 0 || sql_add(sql, &len, ", ")) &&
                 sql_ident(conn, sql, &len, op->keys[i].column);
        if (op->nset == 0)
            return ok && sql_add(sql, &len, ") DO NOTHING");
        ok = ok && sql_add(sql, &len, ") DO UPDATE SET ");
        for (size_t i = 0; ok && i < op->nset; i++)
            ok = (i == 0 || sql_add(sql, &len, ", ")) &&
                 sql_ident(conn, sql, &len, op->set[i].column) &&
                 sql_add(sql, &len, " = EXCLUDED.") &&
                 sql_ident(conn, sql, &len, op->set[i].column);
        return ok;
    case WB_OP_UPDATE:
        ok = sql_add(sql, &len, "UPDATE ") && sql_add(sql, &len, rel) &&
             sql_add(sql, &len, " SET ");
        for (size_t i = 0; ok && i < op->nset; i++)
            ok = (i == 0 || sql_add(sql, &len, ", ")) &&
                 sql_ident(conn, sql, &len, op->set[i].column) &&
                 sql_add(sql, &len, " = ") && sql_param(sql, &len, param++);
        break;
    case WB_OP_DELETE:
        ok = sql_add(sql, &len, "DELETE FROM ") && sql_add(sql, &len, rel);
        break;
    case WB_OP_TRUNCATE:
        return sql_add(sql, &len, "TRUNCATE ") && sql_add(sql, &len, rel);
    }
    ok = ok && sql_add(sql, &len, " WHERE ");
    for (size_t i = 0; ok && i < op->nkeys; i++)
        ok = (i == 0 || sql_add(sql, &len, " AND ")) &&
             sql_ident(conn, sql, &len, op->keys[i].column) &&
             sql_add(sql, &len, " = ") && sql_param(sql, &len, param++);
    return ok;
}

/* The cache key: every part of the op that changes the statement text. */
static char *shape_key(const wb_target_op *op)
{
    size_t n = 64 + strlen(op->schema) + strlen(op->table);
    for (size_t i = 0; i < op->nkeys; i++)
        n += strlen(op->keys[i].column) + 1;
    for (size_t i = 0; i < op->nset; i++)
        n += strlen(op->set[i].column) + 1;
    char *k = malloc(n);
    if (!k)
        return NULL;
    size_t len = (size_t)snprintf(k, n, "%d\x1f%s\x1f%s\x1f", (int)op->kind,
                                  op->schema, op->table);
    for (size_t i = 0; i < op->nkeys; i++)
        len += (size_t)snprintf(k + len, n - len, "%s\x1e",
                                op->keys[i].column);
    k[len++] = '\x1f';
    for (size_t i = 0; i < op->nset; i++)
        len += (size_t)snprintf(k + len, n - len, "%s\x1e", op->set[i].column);
    k[len] = '\0';
    return k;
}

static int data_error_for(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                          PGresult *res, const char *what, wb_error *err)
{
    int code = PQstatus(a->conn) == CONNECTION_OK ? WB_EDATA : WB_ECONN;
    wb_conn_result_error(err, code, a->conn, res, what);
    wb_error_relation(err, op->schema, op->table);
    const char *col = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
    if (col)
        wb_error_column(err, col);
    wb_error_lsn(err, lsn);
    return code;
}

/* Find or prepare the statement for op's shape. */
static int get_stmt(wb_apply *a, const wb_target_op *op, const char **name,
                    wb_lsn lsn, wb_error *err)
{
    *name = NULL;
    char *key = shape_key(op);
    if (!key)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    for (size_t i = 0; i < a->nstmts; i++) {
        if (strcmp(a->stmts[i].key, key) == 0) {
            free(key);
            *name = a->stmts[i].name;
            return 0;
        }
    }
    if (a->nstmts == MAX_STATEMENTS) {
        /* Bounded cache: start over rather than grow. */
        PGresult *r = PQexec(a->conn, "DEALLOCATE ALL");
        PQclear(r);
        for (size_t i = 0; i < a->nstmts; i++)
            free(a->stmts[i].key);
        a->nstmts = 0;
    }
    char *sql = malloc(SQL_MAX);
    if (!sql) {
        free(key);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if (!build_sql(a->conn, op, sql)) {
        free(sql);
        free(key);
        wb_error_set(err, WB_EDATA, "statement for mapping \"%s\" too long",
                     op->mapping);
        wb_error_relation(err, op->schema, op->table);
        wb_error_lsn(err, lsn);
        return WB_EDATA;
    }
    stmt *s = &a->stmts[a->nstmts];
    snprintf(s->name, sizeof(s->name), "wb_%llu",
             (unsigned long long)++a->stmt_seq);
    PGresult *res = PQprepare(a->conn, s->name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[256];
        snprintf(what, sizeof(what),
                 "could not prepare statement for mapping \"%s\"",
                 op->mapping);
        int rc = data_error_for(a, op, lsn, res, what, err);
        wb_error_detail(err, "%s", sql);
        PQclear(res);
        free(sql);
        free(key);
        return rc;
    }
    wb_log(WB_LOG_DEBUG, "prepared %s: %s", s->name, sql);
    PQclear(res);
    free(sql);
    s->key = key;
    a->nstmts++;
    a->stats.statements_prepared++;
    *name = s->name;
    return 0;
}

static const char *op_verb(wb_op_kind k)
{
    switch (k) {
    case WB_OP_UPSERT: return "upsert into";
    case WB_OP_UPDATE: return "update";
    case WB_OP_DELETE: return "delete from";
    case WB_OP_TRUNCATE: return "truncate";
    }
    return "write";
}

static int exec_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                   long *rows, wb_error *err)
{
    const char *name = NULL;
    size_t n = op->nkeys + op->nset;
    const char *params[n ? n : 1];
    size_t p = 0;
    int rc;

    if ((rc = get_stmt(a, op, &name, lsn, err)) != 0)
        return rc;
    if (op->kind == WB_OP_UPSERT) {
        for (size_t i = 0; i < op->nkeys; i++)
            params[p++] = op->keys[i].value;
        for (size_t i = 0; i < op->nset; i++)
            params[p++] = op->set[i].value;
    } else if (op->kind != WB_OP_TRUNCATE) {
        for (size_t i = 0; i < op->nset; i++)
            params[p++] = op->set[i].value;
        for (size_t i = 0; i < op->nkeys; i++)
            params[p++] = op->keys[i].value;
    }
    PGresult *res =
        PQexecPrepared(a->conn, name, (int)p, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[256];
        snprintf(what, sizeof(what), "could not %s \"%s.%s\" for mapping \"%s\"",
                 op_verb(op->kind), op->schema, op->table, op->mapping);
        rc = data_error_for(a, op, lsn, res, what, err);
        PQclear(res);
        return rc;
    }
    *rows = atol(PQcmdTuples(res));
    PQclear(res);
    a->stats.ops++;
    return 0;
}

int wb_apply_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                wb_error *err)
{
    long rows = 0;
    int rc;

    if (!a->in_txn && (rc = wb_apply_begin(a, err)) != 0)
        return rc;
    if ((rc = exec_op(a, op, lsn, &rows, err)) != 0)
        return rc;
    if (rows > 0 || op->kind == WB_OP_UPSERT || op->kind == WB_OP_TRUNCATE)
        return 0;

    char lsnbuf[WB_LSN_BUFLEN];
    if (op->kind == WB_OP_UPDATE && op->insert_if_missing &&
        op->nset >= op->nkeys) {
        /* The row is not there (it was never mapped, or was deleted on the
         * target): converge by inserting it with the new values. */
        wb_target_op up = *op;
        up.kind = WB_OP_UPSERT;
        up.keys = op->set;
        up.nkeys = op->nkeys;
        up.set = op->set + op->nkeys;
        up.nset = op->nset - op->nkeys;
        wb_log(WB_LOG_DEBUG,
               "row to update not found in \"%s.%s\" for mapping \"%s\" at "
               "%s, inserting it",
               op->schema, op->table, op->mapping, wb_lsn_format(lsn, lsnbuf));
        return exec_op(a, &up, lsn, &rows, err);
    }
    wb_log(op->kind == WB_OP_UPDATE ? WB_LOG_WARNING : WB_LOG_DEBUG,
           "row to %s not found in \"%s.%s\" for mapping \"%s\" at %s",
           op->kind == WB_OP_UPDATE ? "update" : "delete", op->schema,
           op->table, op->mapping, wb_lsn_format(lsn, lsnbuf));
    return 0;
}

/* Record end_lsn inside the open transaction. */
static int record_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                           wb_error *err)
{
    char lsnbuf[WB_LSN_BUFLEN];
    char tsbuf[32];
    const char *p[3];

    wb_lsn_format(end_lsn, lsnbuf);
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)commit_time);
    if (a->mode == WB_PROGRESS_ORIGIN) {
        p[0] = lsnbuf;
        p[1] = tsbuf;
        return exec_ok(a,
                       "SELECT pg_replication_origin_xact_setup($1::pg_lsn, "
                       "'2000-01-01 00:00:00+00'::timestamptz + "
                       "$2::bigint * interval '1 microsecond')",
                       2, p, PGRES_TUPLES_OK, NULL,
                       "could not record progress in the replication origin",
                       err);
    }
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s (slot, end_lsn, commit_time, updated_at) "
             "VALUES ($1, $2::pg_lsn, '2000-01-01 00:00:00+00'::timestamptz "
             "+ $3::bigint * interval '1 microsecond', now()) "
             "ON CONFLICT (slot) DO UPDATE SET end_lsn = EXCLUDED.end_lsn, "
             "commit_time = EXCLUDED.commit_time, updated_at = now()",
             a->progress_rel);
    p[0] = a->cfg->source.slot;
    p[1] = lsnbuf;
    p[2] = tsbuf;
    return exec_ok(a, sql, 3, p, PGRES_COMMAND_OK, NULL,
                   "could not record progress in the progress table", err);
}

static int commit(wb_apply *a, wb_error *err)
{
    PGresult *res = PQexec(a->conn, "COMMIT");
    int rc = 0;
    a->in_txn = false;
    /* An aborted transaction "commits" as ROLLBACK with status OK. */
    if (PQresultStatus(res) != PGRES_COMMAND_OK ||
        strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        rc = PQstatus(a->conn) == CONNECTION_OK ? WB_ESQL : WB_ECONN;
        wb_conn_result_error(err, rc, a->conn, res,
                             "could not commit the target transaction");
    }
    PQclear(res);
    return rc;
}

int wb_apply_commit(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                    wb_error *err)
{
    int rc;
    if (!a->in_txn && (rc = wb_apply_begin(a, err)) != 0)
        return rc;
    if ((rc = record_progress(a, end_lsn, commit_time, err)) != 0) {
        wb_apply_rollback(a);
        return rc;
    }
    if ((rc = commit(a, err)) != 0)
        return rc;
    a->stats.txns++;
    return 0;
}

int wb_apply_store_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                            wb_error *err)
{
    int rc;
    if (a->in_txn)
        return wb_error_set(err, WB_EINVAL,
                            "cannot store progress alone inside a transaction");
    rc = exec_ok(a, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL,
                 "could not begin a target transaction", err);
    if (rc)
        return rc;
    a->in_txn = true;
    if (a->mode == WB_PROGRESS_ORIGIN) {
        /* Origin progress is written with the commit record, and a
         * transaction without an xid writes none: assign one. */
        rc = exec_ok(a, "SELECT pg_current_xact_id()", 0, NULL,
                     PGRES_TUPLES_OK, NULL, "could not assign a transaction id",
                     err);
        if (rc) {
            wb_apply_rollback(a);
            return rc;
        }
    }
    if ((rc = record_progress(a, end_lsn, commit_time, err)) != 0) {
        wb_apply_rollback(a);
        return rc;
    }
    return commit(a, err);
}

int wb_apply_check_source(wb_apply *a, const char *system_id,
                          uint32_t timeline, wb_error *err)
{
    char sql[1024], tl[16];
    char *schema = wb_conn_quote_ident(a->conn, a->cfg->target.progress_schema);
    PGresult *res;
    wb_error e;
    int rc;

    if (!schema)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    snprintf(tl, sizeof(tl), "%u", timeline);
    wb_error_clear(&e);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", schema);
    rc = exec_ok(a, sql, 0, NULL, PGRES_COMMAND_OK, NULL,
                 "could not create the progress schema", &e);
    if (rc == 0) {
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS %s.source_identity ("
                 "slot text PRIMARY KEY, system_identifier text NOT NULL, "
                 "timeline integer NOT NULL, "
                 "recorded_at timestamptz NOT NULL DEFAULT now())",
                 schema);
        rc = exec_ok(a, sql, 0, NULL, PGRES_COMMAND_OK, NULL,
                     "could not create the source identity table", &e);
    }
    if (rc) {
        free(schema);
        if (rc == WB_ECONN) {
            if (err)
                *err = e;
            return rc;
        }
        wb_log(WB_LOG_WARNING,
               "cannot record the source's identity, so a failover or a "
               "different source server will not be detected: %s",
               e.message);
        return 0;
    }
    const char *p[3] = {a->cfg->source.slot, system_id, tl};
    snprintf(sql, sizeof(sql),
             "SELECT system_identifier, timeline FROM %s.source_identity "
             "WHERE slot = $1",
             schema);
    rc = exec_ok(a, sql, 1, p, PGRES_TUPLES_OK, &res,
                 "could not read the source identity", err);
    if (rc) {
        free(schema);
        return rc;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s.source_identity (slot, system_identifier, "
                 "timeline) VALUES ($1, $2, $3) ON CONFLICT (slot) DO NOTHING",
                 schema);
        free(schema);
        return exec_ok(a, sql, 3, p, PGRES_COMMAND_OK, NULL,
                       "could not record the source identity", err);
    }
    free(schema);
    if (strcmp(PQgetvalue(res, 0, 0), system_id) != 0) {
        wb_error_set(err, WB_ESTATE,
                     "source system identifier changed for slot \"%s\"",
                     a->cfg->source.slot);
        wb_error_detail(err, "The progress was stored for system %s; the "
                             "source is now system %s.",
                        PQgetvalue(res, 0, 0), system_id);
        wb_error_hint(err, "The connection string points at another cluster. "
                           "If that is intended, resynchronise and delete the "
                           "slot's row in source_identity and its progress.");
        PQclear(res);
        return WB_ESTATE;
    }
    if (strcmp(PQgetvalue(res, 0, 1), tl) != 0) {
        wb_error_set(err, WB_ESTATE,
                     "source timeline changed for slot \"%s\" from %s to %s",
                     a->cfg->source.slot, PQgetvalue(res, 0, 1), tl);
        wb_error_detail(err, "The source was promoted or restored: changes "
                             "decoded on the old timeline may be missing from "
                             "the new one.");
        wb_error_hint(err, "Check that the slot was carried over (failover "
                           "slots), then update the slot's row in "
                           "source_identity to the new timeline.");
        PQclear(res);
        return WB_ESTATE;
    }
    PQclear(res);
    return 0;
}
