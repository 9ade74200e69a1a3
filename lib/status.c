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
#include "common/strbuf.h"
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
/* How many rows the source table has: the planner's estimate, or, for a
 * table never analyzed that is small (under 100 MB), a count; 0 when
 * unknown. */
double wb_status_table_rows(PGconn *src, const wb_config_table *t)
{
    wb_strbuf rn = {0}, sql = {0};
    double n = 0;
    wb_strbuf_append_rel(&rn, t->schema, t->table);
    const char *p[1] = {rn.data};
    PGresult *r = rn.err ? NULL
                         : PQexecParams(src,
                                        "SELECT reltuples, pg_relation_size("
                                        "oid) < 104857600 FROM "
                                        "pg_catalog.pg_class WHERE oid = "
                                        "$1::regclass",
                                        1, NULL, p, NULL, NULL, 0);
    bool small = false;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        n = atof(PQgetvalue(r, 0, 0));
        small = PQgetvalue(r, 0, 1)[0] == 't';
    }
    PQclear(r);
    if (n <= 0 && small) {
        n = 0;
        wb_strbuf_add(&sql, "SELECT count(*) FROM ");
        wb_strbuf_add(&sql, rn.data);
        r = sql.err ? NULL : PQexec(src, sql.data);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = atof(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    wb_strbuf_free(&rn);
    wb_strbuf_free(&sql);
    return n > 0 ? n : 0;
}

/* A copy under way: its rate since it started (the target's clock), the
 * source table's estimated rows and the time left at that rate. */
static void copy_rate(const wb_config_mapping *m, const wb_sync_row *r,
                      PGconn *s, PGconn *t, double *rate, double *estimate,
                      double *eta)
{
    PGresult *res;
    *rate = *estimate = *eta = -1;
    const char *p[1] = {r->started_at};
    res = r->started_at ? PQexecParams(t,
                                       "SELECT extract(epoch FROM now() - "
                                       "$1::timestamptz)",
                                       1, NULL, p, NULL, NULL, 0)
                        : NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        double secs = atof(PQgetvalue(res, 0, 0));
        if (secs > 0)
            *rate = (double)r->rows / secs;
    }
    PQclear(res);
    double n = wb_status_table_rows(s, &m->from);
    if (n > 0)
        *estimate = n;
    if (*rate > 0 && *estimate >= 0)
        *eta = *estimate > (double)r->rows
                   ? (*estimate - (double)r->rows) / *rate
                   : 0;
}

static void copy_states(const wb_config *cfg, PGconn *s, PGconn *t,
                        wb_status *st)
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
        st->mappings[k].rate = st->mappings[k].estimate =
            st->mappings[k].eta_s = -1;
        if (r && r->kind == WB_SYNC_COPYING)
            copy_rate(m, r, s, t, &st->mappings[k].rate,
                      &st->mappings[k].estimate, &st->mappings[k].eta_s);
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

    /* The source stays open for the copies' estimates (copy_states). */
    const char *tci = wb_config_target_conninfo(cfg);
    tgt = wb_conn_open(tci, false, "walbridge status", "target", err);
    if (!tgt) {
        PQfinish(src);
        return err ? err->code : WB_ECONN;
    }
    const char *where;
    wb_progress_peek(tgt, cfg, &st->stored, &where);
    snprintf(st->stored_in, sizeof(st->stored_in), "%s", where);
    pending_links(cfg, tgt, st);
    copy_states(cfg, src, tgt, st);
    PQfinish(tgt);
    PQfinish(src);
    if (st->stored && st->current_lsn >= st->stored)
        st->lag_bytes = (int64_t)(st->current_lsn - st->stored);
    return 0;
}
