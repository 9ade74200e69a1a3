/*
 * syncstate.c - the sync state's statements and reader (see syncstate.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/conn.h"
#include "common/names.h"
#include "syncstate.h"

static const char *const kind_names[] = {"", "copying", "done", "skipped"};

const char *wb_sync_kind_name(wb_sync_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0])
               ? kind_names[k]
               : "";
}

wb_sync_kind wb_sync_kind_parse(const char *s)
{
    for (size_t i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(s, kind_names[i]) == 0)
            return (wb_sync_kind)i;
    return WB_SYNC_NONE;
}

int wb_syncstate_sql_create(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "CREATE TABLE IF NOT EXISTS %s ("
        "slot text NOT NULL, mapping text NOT NULL, digest text NOT NULL, "
        "state text NOT NULL, snapshot_lsn pg_lsn, key_cursor text[], "
        "rows_copied bigint NOT NULL DEFAULT 0, "
        "started_at timestamptz NOT NULL DEFAULT now(), "
        "finished_at timestamptz, "
        "updated_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (slot, mapping))",
        rel);
}

int wb_syncstate_sql_read(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "SELECT mapping, digest, state, snapshot_lsn, key_cursor::text, "
        "rows_copied, started_at, finished_at FROM %s WHERE slot = $1 "
        "ORDER BY mapping",
        rel);
}

int wb_syncstate_sql_start(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "INSERT INTO %s (slot, mapping, digest, state, snapshot_lsn, "
        "key_cursor, rows_copied, started_at, finished_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5::pg_lsn, NULL, 0, now(), NULL, now()) "
        "ON CONFLICT (slot, mapping) DO UPDATE SET digest = EXCLUDED.digest, "
        "state = EXCLUDED.state, snapshot_lsn = EXCLUDED.snapshot_lsn, "
        "key_cursor = NULL, rows_copied = 0, started_at = now(), "
        "finished_at = NULL, updated_at = now()",
        rel);
}

int wb_syncstate_sql_advance(wb_strbuf *b, const char *rel)
{
    /* The cast of a word to int fails the transaction, as the stored
     * position's guard does (progress_sql.c). */
    return wb_strbuf_append_fmt(
        b,
        "WITH u AS (UPDATE %s SET key_cursor = $3::text[], "
        "rows_copied = $4::bigint, state = $5, "
        "finished_at = CASE WHEN $5 = 'done' THEN now() END, "
        "updated_at = now() WHERE slot = $1 AND mapping = $2 "
        "AND state = 'copying' AND rows_copied = $6::bigint RETURNING 1) "
        "SELECT (CASE WHEN EXISTS (SELECT 1 FROM u) THEN '1' ELSE "
        "'walbridge: the previous copy batch was not committed' END)::int",
        rel);
}

void wb_sync_rows_free(wb_sync_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].mapping);
        free(r->rows[i].cursor);
        free(r->rows[i].started_at);
        free(r->rows[i].finished_at);
    }
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

const wb_sync_row *wb_sync_rows_find(const wb_sync_rows *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].mapping, name) == 0)
            return &r->rows[i];
    return NULL;
}

static char *dup_or_null(const PGresult *res, int row, int col, bool *oom)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(res, row, col));
    if (!s)
        *oom = true;
    return s;
}

int wb_syncstate_read(PGconn *conn, const wb_config *cfg, wb_sync_rows *out,
                      wb_error *err)
{
    return wb_syncstate_read_slot(conn, cfg->target.progress_schema,
                                  cfg->source.slot, out, err);
}

int wb_syncstate_read_slot(PGconn *conn, const char *schema, const char *slot,
                           wb_sync_rows *out, wb_error *err)
{
    wb_strbuf rel = {0}, sql = {0};
    PGresult *res = NULL;
    bool oom = false;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    wb_names_rel(&rel, schema, WB_OWN_SYNC_STATE);
    wb_syncstate_sql_read(&sql, rel.data ? rel.data : "");
    if (rel.err || sql.err) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    const char *rp[1] = {rel.data};
    rc = wb_conn_expect(
        conn, PQexecParams(conn, WB_SQL_REL_EXISTS, 1, NULL, rp, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not look up the sync state table", err);
    if (rc)
        goto out;
    bool exists =
        PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    res = NULL;
    if (!exists)
        goto out;
    const char *p[1] = {slot};
    rc = wb_conn_expect(
        conn, PQexecParams(conn, sql.data, 1, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not read the sync state", err);
    if (rc)
        goto out;
    int n = PQntuples(res);
    out->rows = calloc(n ? (size_t)n : 1, sizeof(*out->rows));
    if (!out->rows) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        wb_sync_row *r = &out->rows[i];
        out->n++;
        r->mapping = dup_or_null(res, i, 0, &oom);
        snprintf(r->digest, sizeof(r->digest), "%s", PQgetvalue(res, i, 1));
        r->kind = wb_sync_kind_parse(PQgetvalue(res, i, 2));
        if (!PQgetisnull(res, i, 3))
            wb_lsn_parse(PQgetvalue(res, i, 3), &r->snapshot_lsn);
        r->cursor = dup_or_null(res, i, 4, &oom);
        r->rows = atoll(PQgetvalue(res, i, 5));
        r->started_at = dup_or_null(res, i, 6, &oom);
        r->finished_at = dup_or_null(res, i, 7, &oom);
        if (!r->mapping)
            oom = true;
    }
    if (oom) {
        wb_sync_rows_free(out);
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
    }
out:
    PQclear(res);
    wb_strbuf_free(&rel);
    wb_strbuf_free(&sql);
    return rc;
}
