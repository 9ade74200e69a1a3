/*
 * apply/conflict.c - conflict policies on the target: the parameters and
 * results of conflict statements, their logs, and the column clock.
 *
 * A mapping with a conflict policy writes each row with one statement
 * (apply/sqlgen.h, wb_sql_conflict) that reads the row, decides per
 * column and returns what it found; its result is read here, where both
 * sides are known, and a conflict is logged (never with values: they may
 * be personal data).
 *
 * The column clock, for last_writer_wins by commit time: per target row
 * and column, the commit LSN of the change that wrote its current value
 * (and the value's md5, to know it is still the current one).  Written by
 * walbridge's own conflict statements and, for changes of other writers,
 * as walbridge decodes them (wb_apply_clock_change).  Row timestamps alone
 * are not enough: a later write of one column makes the whole row look
 * newer, and an edit of another column made on the other side before it
 * would then lose on one side and win on the other.  The clock settles a
 * conflict in commit order, per column: a value walbridge has seen in the
 * stream before the incoming change is older than it; one it has not seen
 * yet comes from a later commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply/apply_int.h"
#include "apply/sqlgen.h"
#include "common/log.h"
#include "common/pgarray.h"

bool wb_apply_clock_needed(const wb_config *cfg)
{
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_conflict *c = &cfg->mappings[i].conflict;
        if (cfg->mappings[i].enabled &&
            c->resolve == WB_CONFLICT_LAST_WRITER_WINS && c->by_commit_time)
            return true;
    }
    return false;
}

int wb_apply_setup_clock(wb_apply *a, wb_error *err)
{
    wb_strbuf sql = {0};
    int rc;
    if (!wb_apply_clock_needed(a->cfg) || a->cf.clock_rel)
        return 0;
    if ((rc = wb_apply_own_table(a, WB_OWN_COLUMN_CLOCK, "the column clock",
                                 &a->cf.clock_rel, err)) != 0)
        return rc;
    wb_sql_clock_create(&sql, a->cf.clock_rel);
    return wb_apply_exec_built(a, &sql,
                               "could not create the column clock table", err);
}

void wb_apply_conflicts_free(wb_apply_conflicts *cf)
{
    free(cf->clock_rel);
    cf->clock_rel = NULL;
    wb_strbuf_free(&cf->karr);
    wb_strbuf_free(&cf->cols);
    wb_strbuf_free(&cf->vals);
    wb_strbuf_free(&cf->ucols);
    wb_strbuf_free(&cf->uvals);
}

/* A decoded change, recorded in the clock (apply/sqlgen.h). */
static int build_clock_sql(const void *rel, wb_strbuf *sql)
{
    return wb_sql_clock_change(sql, rel);
}

/* The key and column arrays of w; *ncols the columns. */
static int clock_arrays(wb_apply_conflicts *cf, const wb_clock_write *w,
                        size_t *ncols)
{
    int rc = 0;

    *ncols = 0;
    wb_strbuf_reset(&cf->karr);
    wb_strbuf_reset(&cf->cols);
    wb_strbuf_reset(&cf->vals);
    wb_strbuf_reset(&cf->ucols);
    wb_strbuf_reset(&cf->uvals);
    for (size_t k = 0; k < w->nkeys && rc == 0; k++)
        rc = wb_pgarray_add(&cf->karr, w->keys[k]);
    for (size_t j = 0; j < w->ncols && rc == 0; j++) {
        bool same = w->same[j];
        if ((rc = wb_pgarray_add(same ? &cf->ucols : &cf->cols, w->cols[j])) ==
            0)
            rc = wb_pgarray_add(same ? &cf->uvals : &cf->vals, w->vals[j]);
        (*ncols)++;
    }
    if (rc == 0 && *ncols) {
        if ((rc = wb_pgarray_finish(&cf->karr)) == 0 &&
            (rc = wb_pgarray_finish(&cf->cols)) == 0 &&
            (rc = wb_pgarray_finish(&cf->vals)) == 0 &&
            (rc = wb_pgarray_finish(&cf->ucols)) == 0)
            rc = wb_pgarray_finish(&cf->uvals);
    }
    return rc;
}

int wb_apply_clock_change(wb_apply *a, const wb_clock_write *w, bool *wrote,
                          wb_error *err)
{
    wb_apply_conflicts *cf = &a->cf;
    const wb_config_mapping *m = w->mapping;
    size_t ncols;
    int rc;

    *wrote = false;
    if (!cf->clock_rel)
        return 0;
    if (clock_arrays(cf, w, &ncols) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (!ncols)
        return 0;
    /* Nothing else goes out while a run's COPY is open. */
    if (a->pipe.copying && (rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    if ((rc = wb_apply_open_batch(a, err)) != 0)
        return rc;
    const char *name;
    wb_pipe_item it = wb_apply_item(a, wb_apply_plain_done, m, w->lsn);
    wb_pipe_item prep = wb_apply_prep_item(a, m->name, m->to.schema,
                                           m->to.table, w->lsn, false);
    wb_stmt_ctx ctx = {&prep, 0, NULL};
    if ((rc = wb_stmt_get(&a->stmts, &a->pipe,
                          "K\x1f"
                          "clock",
                          build_clock_sql, cf->clock_rel, &ctx, &name, err)) !=
        0)
        return rc;
    char tbl[512], lsnbuf[WB_LSN_BUFLEN];
    snprintf(tbl, sizeof(tbl), "%s.%s", m->to.schema, m->to.table);
    const char *p[7] = {
        tbl,           cf->karr.data, wb_lsn_format(w->lsn, lsnbuf),
        cf->cols.data, cf->vals.data, cf->ucols.data,
        cf->uvals.data};
    if ((rc = wb_pipe_send_prepared(&a->pipe, name, 7, p, &it,
                                    "could not send a statement to the target",
                                    err)) != 0)
        return rc;
    *wrote = true;
    return 0;
}

/* The flags of a conflict statement: per column of an update changed
 * ('c'), not changed ('n') or unknown ('u', no old value); 'i' for every
 * column of an insert. */
static void conflict_flags(const wb_target_op *op, char *flags)
{
    size_t f = 0;
    if (op->kind == WB_OP_UPDATE) {
        for (size_t i = 0; i < op->nset; i++) {
            const wb_op_value *o = op->old ? &op->old[i] : NULL;
            bool known = o && o->column;
            flags[f++] =
                !known ? 'u'
                : (o->value == NULL) != (op->set[i].value == NULL) ||
                        (o->value && strcmp(o->value, op->set[i].value) != 0)
                    ? 'c'
                    : 'n';
        }
    } else {
        for (size_t i = 0; i < op->nkeys + op->nset; i++)
            flags[f++] = 'i';
    }
    flags[f] = '\0';
}

int wb_apply_conflict_params(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                             const char **params, size_t *p, char *flags,
                             char *stamp, char *lsnbuf, wb_error *err)
{
    if (op->kind == WB_OP_UPDATE)
        for (size_t i = 0; i < op->nset; i++) {
            const wb_op_value *o = op->old ? &op->old[i] : NULL;
            params[(*p)++] = o && o->column ? o->value : NULL;
        }
    conflict_flags(op, flags);
    params[(*p)++] = flags;
    if (op->conflict->resolve != WB_CONFLICT_LAST_WRITER_WINS)
        return 0;
    if (op->conflict->by_commit_time) {
        snprintf(stamp, 32, "%lld", (long long)op->commit_time);
        params[(*p)++] = stamp;
    } else {
        params[(*p)++] = op->stamp;
    }
    if (!op->conflict->by_commit_time || !a->cf.clock_rel)
        return 0;
    int rc = 0;
    const wb_op_value *kv = op->kind == WB_OP_UPSERT ? op->keys : op->set;
    wb_strbuf_reset(&a->cf.karr);
    for (size_t k = 0; k < op->nkeys && rc == 0; k++)
        rc = wb_pgarray_add(&a->cf.karr, kv[k].value);
    if (rc == 0)
        rc = wb_pgarray_finish(&a->cf.karr);
    if (rc)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    params[(*p)++] = a->cf.karr.data;
    params[(*p)++] = wb_lsn_format(lsn, lsnbuf);
    return 0;
}

static const char *policy_name(const wb_config_conflict *c)
{
    switch (c->resolve) {
    case WB_CONFLICT_TARGET_WINS:
        return "target_wins";
    case WB_CONFLICT_LAST_WRITER_WINS:
        return c->by_commit_time ? "last_writer_wins by commit time"
                                 : "last_writer_wins by column";
    default:
        return "source_wins";
    }
}

/* "2026-12-02 19:00:01.123456+00" from PG epoch microseconds. */
static void format_pg_time(int64_t us, char *buf, size_t n)
{
    time_t secs = (time_t)(us / 1000000 + WB_PG_EPOCH_OFFSET_US / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    gmtime_r(&secs, &tm);
    size_t w = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + w, n - w, ".%06ld+00", frac);
}

/* Who last wrote the target row: its origin's id (field 5). */
static void last_writer(wb_apply *a, PGresult *res, char *who, size_t n)
{
    const char *roident = wb_progress_origin_id(a->progress);
    if (PQgetisnull(res, 0, 5))
        snprintf(who, n, "%s",
                 a->cf.track_cts ? "an unknown writer (no commit timestamp)"
                                 : "an unknown writer (track_commit_timestamp "
                                   "is off)");
    else if (strcmp(PQgetvalue(res, 0, 5), "0") == 0)
        snprintf(who, n, "a local session");
    else if (roident[0] && strcmp(PQgetvalue(res, 0, 5), roident) == 0)
        snprintf(who, n, "walbridge (origin \"%s\")",
                 wb_progress_origin_name(a->progress));
    else
        snprintf(who, n, "replication origin %s", PQgetvalue(res, 0, 5));
}

/* Log the conflict the statement of it found: cols conflicted, the
 * incoming change won those in won. */
static void log_conflict(wb_apply *a, const wb_pipe_item *it,
                         const wb_apply_row *r, PGresult *res, const char *cols,
                         const char *won)
{
    char lsnbuf[WB_LSN_BUFLEN], inc[40], who[64];
    wb_error e;

    format_pg_time(r->commit_time, inc, sizeof(inc));
    last_writer(a, res, who, sizeof(who));
    wb_error_clear(&e);
    wb_error_set(&e, 0,
                 "conflict on \"%s.%s\" for mapping \"%s\": column(s) %s "
                 "changed on both sides",
                 it->schema, it->table, it->mapping, cols);
    wb_error_detail(&e,
                    "The target row is %s.  The incoming change comes from "
                    "\"%s.%s\", committed at %s (LSN %s); the target row was "
                    "last written by %s at %s.  Resolved by %s: %s%s.",
                    r->row, r->from_schema, r->from_table, inc,
                    wb_lsn_format(it->lsn, lsnbuf), who,
                    PQgetisnull(res, 0, 4) ? "an unknown time"
                                           : PQgetvalue(res, 0, 4),
                    policy_name(r->conflict),
                    !won[0]                  ? "kept the target's values"
                    : strcmp(won, cols) == 0 ? "wrote the incoming values"
                                             : "wrote the incoming values of ",
                    !won[0] || strcmp(won, cols) == 0 ? "" : won);
    wb_error_relation(&e, it->schema, it->table);
    wb_error_lsn(&e, it->lsn);
    wb_log_error(WB_LOG_INFO, &e);
}

/*
 * The one row of a conflict statement: written, found, the conflicting
 * columns, those of them the incoming change won, the target row's last
 * commit time and origin.
 */
int wb_apply_conflict_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    const wb_apply_row *r = it->arg;

    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_row_fail(it, res, err);
    if (PQntuples(res) != 1 || PQnfields(res) != 6)
        return wb_error_set(err, WB_EPROTO,
                            "unexpected result of a conflict statement on "
                            "\"%s.%s\"",
                            it->schema, it->table);
    a->pending.written += strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        if (r->warn_missing)
            wb_apply_warn_missing(it);
        return 0;
    }
    const char *cols = PQgetvalue(res, 0, 2);
    if (!cols[0])
        return 0;
    a->pending.conflicts++;
    log_conflict(a, it, r, res, cols, PQgetvalue(res, 0, 3));
    return 0;
}
