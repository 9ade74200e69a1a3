/*
 * status.c - `walbridge status`: slot, stored position and lag.
 *
 * Everything is read with plain SQL on short-lived ordinary connections,
 * never through the replication protocol or the origin session, so asking
 * for the status never disturbs a running walbridge (a replication origin
 * can be attached to only one session at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/conn.h"
#include "apply/sqlgen.h"
#include "progress.h"
#include "status.h"
#include "syncstate.h"

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static void lsn_field(PGresult *r, int col, wb_lsn *out)
{
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, col))
        wb_lsn_parse(PQgetvalue(r, 0, col), out);
}

/* Lookups waiting for their parent (apply/link.h); -1 without the table. */
static void pending_links(const wb_config *cfg, PGconn *t, wb_status *st)
{
    wb_strbuf rel = {0}, sql = {0};
    st->pending_links = -1;
    wb_names_rel(&rel, cfg->target.progress_schema, WB_OWN_PENDING_LINK);
    if (rel.err || wb_sql_pending_summary(&sql, rel.data) != 0)
        goto out;
    const char *rp[1] = {rel.data};
    PGresult *r = q(t, WB_SQL_REL_EXISTS, 1, rp);
    bool exists = r && PQntuples(r) && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists)
        goto out;
    r = q(t, sql.data, 0, NULL);
    if (r && PQntuples(r) == 1) {
        st->pending_links = atoll(PQgetvalue(r, 0, 0));
        st->oldest_pending_s = atof(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
out:
    wb_strbuf_free(&rel);
    wb_strbuf_free(&sql);
}

/* Each enabled mapping's initial copy as the sync state says (sync.h);
 * a table that cannot be read leaves every mapping "never". */
static void copy_states(const wb_config *cfg, PGconn *t, wb_status *st)
{
    wb_sync_rows rows = {0};
    wb_error err;
    wb_error_clear(&err);
    if (wb_syncstate_read(t, cfg, &rows, &err) != 0)
        memset(&rows, 0, sizeof(rows));
    for (size_t i = 0;
         i < cfg->nmappings && st->nmappings < WB_STATUS_MAX_TABLES; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled)
            continue;
        const wb_sync_row *r = wb_sync_rows_find(&rows, m->name);
        int k = st->nmappings++;
        snprintf(st->mappings[k].name, sizeof(st->mappings[k].name), "%s",
                 m->name);
        snprintf(st->mappings[k].copy, sizeof(st->mappings[k].copy), "%s",
                 r ? wb_sync_kind_name(r->kind) : "never");
        st->mappings[k].rows = r ? r->rows : 0;
        st->mappings[k].same_def = r && strcmp(r->digest, m->digest) == 0;
        st->mappings[k].wanted = m->initial_copy;
        snprintf(st->mappings[k].updated, sizeof(st->mappings[k].updated), "%s",
                 r ? (r->finished_at ? r->finished_at : r->started_at) : "");
    }
    wb_sync_rows_free(&rows);
}

int wb_status_collect(const wb_config *cfg, wb_status *st, wb_error *err)
{
    PGconn *src, *tgt;
    PGresult *r;
    const char *p[1];

    memset(st, 0, sizeof(*st));
    st->lag_bytes = -1;
    st->lag_seconds = -1;
    snprintf(st->slot, sizeof(st->slot), "%s", cfg->source.slot);
    snprintf(st->publication, sizeof(st->publication), "%s",
             cfg->source.publication);

    src = wb_conn_open(cfg->source.conninfo, false, "walbridge status",
                       "source", err);
    if (!src)
        return err ? err->code : WB_ECONN;
    p[0] = cfg->source.slot;
    r = q(src,
          "SELECT s.active_pid, s.confirmed_flush_lsn, s.restart_lsn, "
          "s.wal_status, s.safe_wal_size, "
          "extract(epoch FROM r.flush_lag), pg_current_wal_lsn() "
          "FROM pg_replication_slots s "
          "LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "
          "WHERE s.slot_name = $1",
          1, p);
    if (!r) {
        int rc = wb_conn_result_error(err, WB_ESQL, src, NULL,
                                      "could not read the replication slot");
        PQfinish(src);
        return rc;
    }
    if (PQntuples(r) > 0) {
        st->slot_exists = true;
        st->active_pid = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
        lsn_field(r, 1, &st->confirmed_flush);
        lsn_field(r, 2, &st->restart_lsn);
        snprintf(st->wal_status, sizeof(st->wal_status), "%s",
                 PQgetvalue(r, 0, 3));
        if (!PQgetisnull(r, 0, 4)) {
            st->has_safe_wal_size = true;
            st->safe_wal_size = atoll(PQgetvalue(r, 0, 4));
        }
        if (!PQgetisnull(r, 0, 5))
            st->lag_seconds = atof(PQgetvalue(r, 0, 5));
    }
    PQclear(r);
    r = q(src, "SELECT pg_current_wal_lsn()", 0, NULL);
    lsn_field(r, 0, &st->current_lsn);
    PQclear(r);

    p[0] = cfg->source.publication;
    r = q(src, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p);
    st->publication_exists = r && PQntuples(r) > 0;
    PQclear(r);
    r = q(src,
          "SELECT format('%I.%I', schemaname, tablename) "
          "FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
          1, p);
    for (int i = 0; r && i < PQntuples(r) && i < WB_STATUS_MAX_TABLES; i++)
        snprintf(st->tables[st->ntables++], sizeof(st->tables[0]), "%s",
                 PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(src);

    const char *tci = wb_config_target_conninfo(cfg);
    tgt = wb_conn_open(tci, false, "walbridge status", "target", err);
    if (!tgt)
        return err ? err->code : WB_ECONN;
    const char *where;
    wb_progress_peek(tgt, cfg, &st->stored, &where);
    snprintf(st->stored_in, sizeof(st->stored_in), "%s", where);
    pending_links(cfg, tgt, st);
    copy_states(cfg, tgt, st);
    PQfinish(tgt);
    if (st->stored && st->current_lsn >= st->stored)
        st->lag_bytes = (int64_t)(st->current_lsn - st->stored);
    return 0;
}
