/*
 * source/tablecopy.c - source tables read under the slot's snapshot (see
 * tablecopy.h).
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/bintext.h"
#include "common/conn.h"
#include "common/pgarray.h"
#include "common/strbuf.h"
#include "source/tablecopy.h"

struct wb_tablecopy {
    PGconn *conn;
};

/*
 * The columns pgoutput sends (attnum > 0, not dropped, not generated), in
 * order, with the replica identity flag as logicalrep_write_attrs sets it
 * (every column under REPLICA IDENTITY FULL; else the primary key's, or
 * the replica identity index's), each column's place in the ordering key
 * (the replica identity index under REPLICA IDENTITY USING INDEX, else the
 * primary key: the key a streamed delete carries; 0: not in it), and its
 * type's name (for the cursor's casts).
 */
static const char describe_sql[] =
    "SELECT c.oid, c.relreplident, c.relkind, "
    "greatest(c.reltuples, 0)::bigint, a.attname, a.atttypid, a.atttypmod, "
    "(c.relreplident = 'f' OR a.attnum = ANY ((CASE c.relreplident "
    "WHEN 'd' THEN pk.indkey WHEN 'i' THEN ri.indkey END)::int2[])), "
    "coalesce((SELECT k.n FROM unnest((CASE WHEN c.relreplident = 'i' "
    "THEN ri.indkey ELSE coalesce(pk.indkey, ri.indkey) END)::int2[]) "
    "WITH ORDINALITY k(att, n) WHERE k.att = a.attnum), 0), "
    "format_type(a.atttypid, NULL) "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "AND NOT a.attisdropped AND a.attgenerated = '' "
    "LEFT JOIN pg_catalog.pg_index pk ON pk.indrelid = c.oid "
    "AND pk.indisprimary "
    "LEFT JOIN pg_catalog.pg_index ri ON ri.indrelid = c.oid "
    "AND ri.indisreplident "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
    "ORDER BY a.attnum";

static int exec(wb_tablecopy *tc, const char *sql, int n,
                const char *const *params, ExecStatusType want, PGresult **out,
                const char *what, wb_error *err)
{
    return wb_conn_expect(
        tc->conn, PQexecParams(tc->conn, sql, n, NULL, params, NULL, NULL, 0),
        want, out, what, err);
}

int wb_tablecopy_open(const char *conninfo, const char *snapshot,
                      wb_tablecopy **out, wb_error *err)
{
    wb_tablecopy *tc = calloc(1, sizeof(*tc));
    wb_strbuf sql = {0};
    int rc;

    *out = NULL;
    if (!tc)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    tc->conn = wb_conn_open(conninfo, false, "walbridge copy", "source", err);
    if (!tc->conn) {
        free(tc);
        return err ? err->code : WB_ECONN;
    }
    if (!snapshot) {
        *out = tc;
        return 0;
    }
    if ((rc = wb_tablecopy_begin(tc, err)) != 0)
        goto fail;
    wb_strbuf_add(&sql, "SET TRANSACTION SNAPSHOT ");
    wb_strbuf_append_literal(&sql, snapshot);
    if (sql.err) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto fail;
    }
    rc = exec(tc, sql.data, 0, NULL, PGRES_COMMAND_OK, NULL,
              "could not import the slot's snapshot", err);
    if (rc == WB_ESQL)
        rc = err->code = WB_ESTATE;
    if (rc)
        goto fail;
    wb_strbuf_free(&sql);
    *out = tc;
    return 0;
fail:
    wb_strbuf_free(&sql);
    wb_tablecopy_close(tc);
    return rc;
}

/*
 * One command's result on a connection that stays responsive: creating a
 * slot waits for every transaction running in the cluster, a long one
 * elsewhere included, and the caller's stream must be answered meanwhile.
 */
static PGresult *result_waiting(PGconn *c, void (*waiting)(void *ud), void *ud)
{
    PGresult *res = NULL, *next;
    for (;;) {
        while (PQisBusy(c)) {
            struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
            poll(&pfd, 1, 100);
            if (waiting)
                waiting(ud);
            if (!PQconsumeInput(c))
                break; /* PQgetResult reports the broken connection */
        }
        if (!(next = PQgetResult(c)))
            return res;
        /* Keep the first result, or the first error after it. */
        if (!res || (PQresultStatus(next) == PGRES_FATAL_ERROR &&
                     PQresultStatus(res) != PGRES_FATAL_ERROR)) {
            PQclear(res);
            res = next;
        } else {
            PQclear(next);
        }
    }
}

int wb_tablecopy_export(const char *conninfo, const char *name, PGconn **repl,
                        char *snapshot, size_t snaplen,
                        wb_lsn *consistent_point, void (*waiting)(void *ud),
                        void *ud, wb_error *err)
{
    char sql[256];
    PGresult *res;
    PGconn *c = wb_conn_open(conninfo, true, "walbridge copy", "source", err);
    int rc;

    *repl = NULL;
    if (!c)
        return err->code ? err->code : WB_ECONN;
    /* name is walbridge's own: [a-z0-9_]. */
    if (PQserverVersion(c) >= 150000)
        snprintf(sql, sizeof(sql),
                 "CREATE_REPLICATION_SLOT \"%s\" TEMPORARY LOGICAL pgoutput "
                 "(SNAPSHOT 'export')",
                 name);
    else
        snprintf(sql, sizeof(sql),
                 "CREATE_REPLICATION_SLOT \"%s\" TEMPORARY LOGICAL pgoutput "
                 "EXPORT_SNAPSHOT",
                 name);
    res = PQsendQuery(c, sql) ? result_waiting(c, waiting, ud) : NULL;
    if ((rc = wb_conn_expect(c, res, PGRES_TUPLES_OK, &res,
                             "could not export a snapshot", err)) != 0) {
        PQfinish(c);
        return rc;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 2) ||
        wb_lsn_parse(PQgetvalue(res, 0, 1), consistent_point) != 0) {
        PQclear(res);
        PQfinish(c);
        return wb_error_set(err, WB_EPROTO,
                            "invalid answer to CREATE_REPLICATION_SLOT");
    }
    snprintf(snapshot, snaplen, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    *repl = c;
    return 0;
}

int wb_tablecopy_begin(wb_tablecopy *tc, wb_error *err)
{
    int rc;
    /* A long copy must not be cut by the role's statement_timeout. */
    if ((rc = exec(tc, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
                   NULL, PGRES_COMMAND_OK, NULL,
                   "could not begin the copy's transaction", err)) != 0 ||
        (rc = exec(tc, "SET LOCAL statement_timeout = 0", 0, NULL,
                   PGRES_COMMAND_OK, NULL,
                   "could not begin the copy's transaction", err)) != 0)
        return rc;
    return 0;
}

int wb_tablecopy_commit(wb_tablecopy *tc, wb_error *err)
{
    return exec(tc, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL,
                "could not end the copy's transaction", err);
}

int wb_tablecopy_watermark(wb_tablecopy *tc, const char *prefix,
                           const char *content, bool flush, wb_lsn *lsn,
                           wb_error *err)
{
    const char *p[2] = {prefix, content};
    PGresult *res;
    int rc;
    /* A non-transactional message is not flushed (PostgreSQL 17 added a
     * flush argument): the walsender sends WAL only once it is flushed,
     * which the WAL writer does within wal_writer_delay (200 ms).  A
     * transaction that takes an xid and commits synchronously right after
     * it flushes it at once; it writes no row, so pgoutput sends
     * nothing of it. */
    static const char what[] = "could not write a watermark into the stream";
    if (flush && ((rc = exec(tc, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, what,
                             err)) != 0 ||
                  (rc = exec(tc, "SET LOCAL synchronous_commit = on", 0, NULL,
                             PGRES_COMMAND_OK, NULL, what, err)) != 0)) {
        PQclear(PQexec(tc->conn, "ROLLBACK"));
        return rc;
    }
    rc = exec(tc, "SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)", 2,
              p, PGRES_TUPLES_OK, &res,
              "could not write a watermark into the stream", err);
    if (rc == 0) {
        if (PQntuples(res) != 1 ||
            wb_lsn_parse(PQgetvalue(res, 0, 0), lsn) != 0)
            rc = wb_error_set(err, WB_EPROTO, "invalid LSN from a watermark");
        PQclear(res);
    }
    if (flush && rc == 0 &&
        (rc = exec(tc, "SELECT pg_catalog.pg_current_xact_id()", 0, NULL,
                   PGRES_TUPLES_OK, NULL, what, err)) == 0)
        rc = exec(tc, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, what, err);
    if (flush && rc)
        PQclear(PQexec(tc->conn, "ROLLBACK"));
    return rc;
}

int wb_tablecopy_snapshot(wb_tablecopy *tc, char **out, wb_error *err)
{
    PGresult *res;
    int rc =
        exec(tc, "SELECT pg_catalog.pg_current_snapshot()::text", 0, NULL,
             PGRES_TUPLES_OK, &res, "could not read the copy's snapshot", err);
    if (rc)
        return rc;
    *out = PQntuples(res) == 1 ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return *out ? 0 : wb_error_set(err, WB_ENOMEM, "out of memory");
}

PGcancel *wb_tablecopy_cancel_handle(wb_tablecopy *tc)
{
    return PQgetCancel(tc->conn);
}

void wb_tablecopy_close(wb_tablecopy *tc)
{
    if (!tc)
        return;
    if (tc->conn)
        PQfinish(tc->conn);
    free(tc);
}

int wb_tablecopy_describe(wb_tablecopy *tc, const wb_config_table *t,
                          wb_arena *arena, wb_tablecopy_rel *out, wb_error *err)
{
    const char *p[2] = {t->schema, t->table};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = exec(tc, describe_sql, 2, p, PGRES_TUPLES_OK, &res,
                   "could not describe a table to copy", err)) != 0)
        return rc;
    int n = PQntuples(res);
    if (n == 0 || n > UINT16_MAX) {
        PQclear(res);
        wb_error_set(err, WB_ECATALOG, "table \"%s.%s\" %s", t->schema,
                     t->table,
                     n ? "has too many columns"
                       : "does not exist or has "
                         "no columns to copy");
        wb_error_relation(err, t->schema, t->table);
        return WB_ECATALOG;
    }
    wb_pgoutput_relation *rel = &out->rel;
    rel->relid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    rel->replident = PQgetvalue(res, 0, 1)[0];
    out->relkind = PQgetvalue(res, 0, 2)[0];
    out->reltuples = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
    rel->nspname = wb_arena_strdup(arena, t->schema);
    rel->relname = wb_arena_strdup(arena, t->table);
    rel->natts = (uint16_t)n;
    rel->atts = wb_arena_alloc(arena, (size_t)n * sizeof(*rel->atts));
    out->order = wb_arena_alloc(arena, (size_t)n * sizeof(*out->order));
    out->types = wb_arena_alloc(arena, (size_t)n * sizeof(*out->types));
    if (!rel->nspname || !rel->relname || !rel->atts || !out->order ||
        !out->types) {
        PQclear(res);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    /* Key positions are 1-based within the index (at most INDEX_MAX_KEYS,
     * 32); columns come by attnum. */
    uint16_t pos[32];
    size_t maxpos = 0;
    for (int i = 0; i < n; i++) {
        wb_pgoutput_column *c = &rel->atts[i];
        c->name = wb_arena_strdup(arena, PQgetvalue(res, i, 4));
        if (!c->name) {
            PQclear(res);
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        }
        c->typoid = (uint32_t)strtoul(PQgetvalue(res, i, 5), NULL, 10);
        c->typmod = (int32_t)strtol(PQgetvalue(res, i, 6), NULL, 10);
        c->flags = PQgetvalue(res, i, 7)[0] == 't' ? WB_PGO_COLUMN_KEY : 0;
        out->types[i] = wb_arena_strdup(arena, PQgetvalue(res, i, 9));
        if (!out->types[i]) {
            PQclear(res);
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        }
        long k = strtol(PQgetvalue(res, i, 8), NULL, 10);
        if (k > 0 && (size_t)k <= sizeof(pos) / sizeof(pos[0])) {
            pos[k - 1] = (uint16_t)i;
            if ((size_t)k > maxpos)
                maxpos = (size_t)k;
        }
    }
    PQclear(res);
    /* Every key column must be one of the copied columns (an index on an
     * expression or a generated column gives no usable order). */
    out->norder = maxpos;
    for (size_t k = 0; k < maxpos; k++) {
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = pos[k] == i;
        if (!found) {
            out->norder = 0;
            break;
        }
        out->order[k] = pos[k];
    }
    out->local_cursor = wb_tablecopy_local_cursor_ok(out);
    return 0;
}

int wb_tablecopy_start(wb_tablecopy *tc, const wb_tablecopy_rel *r, bool binary,
                       wb_error *err)
{
    return wb_tablecopy_start_chunk(tc, r, binary, NULL, 0, err);
}

int wb_tablecopy_sql(wb_strbuf *sql, const wb_tablecopy_rel *r, bool binary,
                     const char *cursor, long limit)
{
    const wb_pgoutput_relation *rel = &r->rel;

    wb_strbuf_add(sql, "COPY (SELECT ");
    for (uint16_t i = 0; i < rel->natts; i++) {
        if (i)
            wb_strbuf_add(sql, ", ");
        wb_strbuf_append_ident(sql, rel->atts[i].name);
    }
    for (size_t k = 0; binary && !r->local_cursor && k < r->norder; k++) {
        wb_strbuf_add(sql, ", ");
        wb_strbuf_append_ident(sql, rel->atts[r->order[k]].name);
        wb_strbuf_add(sql, "::text");
    }
    /* PG epoch microseconds, as the stream's commit times. */
    if (r->commit_times)
        wb_strbuf_add(sql, ", (extract(epoch FROM "
                           "pg_catalog.pg_xact_commit_timestamp(xmin)) * "
                           "1000000 - 946684800000000)::int8");
    /* ONLY: an inheritance child's rows come from the child's own
     * relation in the stream; a partitioned table has no rows of its own. */
    wb_strbuf_add(sql, r->relkind == 'p' ? " FROM " : " FROM ONLY ");
    wb_strbuf_append_rel(sql, rel->nspname, rel->relname);
    /* After the cursor, in the key's own order: a row comparison of the
     * key's columns with the cursor's text cast to their types (COPY
     * takes no parameters: the cursor is a quoted literal). */
    if (cursor && r->norder) {
        wb_strbuf_add(sql, " WHERE (");
        for (size_t k = 0; k < r->norder; k++) {
            if (k)
                wb_strbuf_add(sql, ", ");
            wb_strbuf_append_rel(sql, rel->nspname, rel->relname);
            wb_strbuf_add(sql, ".");
            wb_strbuf_append_ident(sql, rel->atts[r->order[k]].name);
        }
        wb_strbuf_add(sql, ") > (");
        for (size_t k = 0; k < r->norder; k++) {
            if (k)
                wb_strbuf_add(sql, ", ");
            wb_strbuf_add(sql, "(");
            wb_strbuf_append_literal(sql, cursor);
            wb_strbuf_append_fmt(sql, "::text[])[%zu]::%s", k + 1,
                                 r->types[r->order[k]]);
        }
        wb_strbuf_add(sql, ")");
    }
    /* Qualified: the key's text columns of a binary copy bear its names. */
    for (size_t k = 0; k < r->norder; k++) {
        wb_strbuf_add(sql, k ? ", " : " ORDER BY ");
        wb_strbuf_append_rel(sql, rel->nspname, rel->relname);
        wb_strbuf_add(sql, ".");
        wb_strbuf_append_ident(sql, rel->atts[r->order[k]].name);
    }
    if (limit > 0)
        wb_strbuf_append_fmt(sql, " LIMIT %ld", limit);
    return wb_strbuf_add(sql, binary ? ") TO STDOUT WITH (FORMAT binary)"
                                     : ") TO STDOUT");
}

int wb_tablecopy_start_chunk(wb_tablecopy *tc, const wb_tablecopy_rel *r,
                             bool binary, const char *cursor, long limit,
                             wb_error *err)
{
    const wb_pgoutput_relation *rel = &r->rel;
    wb_strbuf sql = {0};
    PGresult *res;

    wb_tablecopy_sql(&sql, r, binary, cursor, limit);
    if (sql.err) {
        wb_strbuf_free(&sql);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    int rc = exec(tc, sql.data, 0, NULL, PGRES_COPY_OUT, &res,
                  "could not start copying a table", err);
    wb_strbuf_free(&sql);
    if (rc) {
        wb_error_relation(err, rel->nspname, rel->relname);
        return rc;
    }
    PQclear(res);
    return 0;
}

int wb_tablecopy_read(wb_tablecopy *tc, char **buf, wb_error *err)
{
    int n = PQgetCopyData(tc->conn, buf, 0);
    if (n > 0)
        return n;
    *buf = NULL;
    if (n == -2)
        return wb_conn_result_error(err, WB_ECONN, tc->conn, NULL,
                                    "could not read a copied table");
    /* The COPY ended: its result says whether it went well. */
    PGresult *res = PQgetResult(tc->conn);
    int rc = wb_conn_expect(tc->conn, res, PGRES_COMMAND_OK, NULL,
                            "could not copy a table", err);
    while ((res = PQgetResult(tc->conn)) != NULL)
        PQclear(res);
    return rc;
}

void wb_tablecopy_freemem(char *buf)
{
    PQfreemem(buf);
}

/* The key's text columns a row read with r in this format carries. */
static size_t key_text_cols(const wb_tablecopy_rel *r, bool binary)
{
    return binary && !r->local_cursor ? r->norder : 0;
}

uint16_t wb_tablecopy_ncols(const wb_tablecopy_rel *r, bool binary)
{
    return (uint16_t)(r->rel.natts + key_text_cols(r, binary) +
                      (r->commit_times ? 1 : 0));
}

/* text, varchar, bpchar: their binary format is their text (in the
 * client encoding, as the text format). */
static bool text_like(uint32_t typoid)
{
    return typoid == 25 || typoid == 1043 || typoid == 1042;
}

bool wb_tablecopy_local_cursor_ok(const wb_tablecopy_rel *r)
{
    for (size_t k = 0; k < r->norder; k++) {
        uint32_t typoid = r->rel.atts[r->order[k]].typoid;
        if (!text_like(typoid) && !wb_bintext_supported(typoid))
            return false;
    }
    return true;
}

int wb_tablecopy_cursor(const wb_tablecopy_rel *r, bool binary,
                        const wb_tuple *t, wb_arena *arena, wb_strbuf *out,
                        wb_error *err)
{
    /* The key's text columns (text in either format), or the key's own. */
    bool text_cols = key_text_cols(r, binary) > 0;
    wb_strbuf_reset(out);
    if (r->norder == 0)
        return 0;
    for (size_t k = 0; k < r->norder; k++) {
        const wb_tuple_value *v =
            &t->cols[text_cols ? r->rel.natts + k : r->order[k]];
        const char *text = NULL;
        if (v->kind == WB_TUPLE_BINARY && !text_cols) {
            uint32_t typoid = r->rel.atts[r->order[k]].typoid;
            text = text_like(typoid) ? v->data
                                     : wb_bintext(arena, typoid, v->data);
            if (!text) {
                wb_error_set(err, WB_EPROTO,
                             "could not make the text of key column \"%s\" "
                             "for the copy's cursor",
                             r->rel.atts[r->order[k]].name);
                wb_error_relation(err, r->rel.nspname, r->rel.relname);
                return WB_EPROTO;
            }
        } else if (v->kind != WB_TUPLE_NULL) {
            text = v->data;
        }
        wb_pgarray_add(out, text);
    }
    wb_pgarray_finish(out);
    return out->err ? wb_error_set(err, out->err, "out of memory") : 0;
}

int64_t wb_tablecopy_row_commit_time(const wb_tablecopy_rel *r, bool binary,
                                     const wb_tuple *t, int64_t fallback)
{
    size_t i = r->rel.natts + key_text_cols(r, binary);
    if (!r->commit_times || i >= t->ncols)
        return fallback;
    const wb_tuple_value *v = &t->cols[i];
    if (v->kind == WB_TUPLE_BINARY && v->len == 8) {
        const unsigned char *b = (const unsigned char *)v->data;
        uint64_t u = 0;
        for (int k = 0; k < 8; k++)
            u = u << 8 | b[k];
        return (int64_t)u;
    }
    if (v->kind == WB_TUPLE_TEXT && v->data)
        return strtoll(v->data, NULL, 10);
    return fallback;
}

int wb_tablecopy_tracks_commit_times(wb_tablecopy *tc, bool *on, wb_error *err)
{
    PGresult *res;
    int rc = exec(
        tc, "SELECT pg_catalog.current_setting('track_commit_timestamp')::bool",
        0, NULL, PGRES_TUPLES_OK, &res, "could not read the source's settings",
        err);
    if (rc)
        return rc;
    *on = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}
