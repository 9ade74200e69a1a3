/*
 * compare.c - `walbridge compare`: a mapping's projection of its source
 * against its target table (see compare.h for the design).
 *
 * Per mapping: a pass reads the source under one snapshot through the
 * router, streams the rows it produces into a temporary stage table on the
 * target with COPY, writes the `walbridge.compare` message, waits for
 * walbridge's stored position to pass it and joins the stage with the
 * target into a temporary diff table.  When the first pass found
 * differences and walbridge streams, a second pass does the same; the
 * differences both found are persistent.  Counts and the first keys come
 * from the diff tables, so walbridge holds one row at a time.  The
 * statements' text is compare_sql.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/copytext.h"
#include "common/log.h"
#include "common/names.h"
#include "compare.h"
#include "decode/copyrow.h"
#include "decode/relcache.h"
#include "map/change.h"
#include "map/router.h"
#include "progress.h"
#include "source/tablecopy.h"

#define STAGE_FLUSH_BYTES (256 * 1024)
/* Buckets of the checksum pass (a power of two): ~600 rows each on a
 * 10M-row table, so a few drifted rows stage a few thousand. */
#define NBUCKETS     16384
#define WAIT_POLL_MS 100

/* ------------------------------------------------------------ running */

typedef struct compare_run {
    const wb_config *cfg;
    const wb_compare_opts *o;
    PGconn *src, *tgt;
    wb_router *router;
    wb_relcache *relcache;
    wb_arena *row_arena, *shape_arena;
    wb_compare_report *rep;
    wb_error *err;
    /* same_sessions() ran: the target's session has the source's output
     * settings; pg_hash: both servers' hashtext agree. */
    bool sessions_alike, pg_hash;
} compare_run;

/* One pass's stage: the projection's shape, learnt from its first row. */
typedef struct stage {
    char name[64];
    bool created, copying;
    size_t ncols;
    wb_compare_col *cols;
    const char **vals; /* one row's values, by column */
    wb_strbuf buf;     /* COPY data not yet sent */
} stage;

static int exec_cmd(compare_run *x, PGconn *c, const char *sql,
                    const char *what)
{
    return wb_conn_expect(c, PQexec(c, sql), PGRES_COMMAND_OK, NULL, what,
                          x->err);
}

/* The type of schema.table's column (format_type), in the shape arena;
 * WB_ECATALOG when there is no such column. */
static int column_type(compare_run *x, const char *schema, const char *table,
                       const char *column, const char **out)
{
    wb_strbuf rel = {0};
    PGresult *res;
    wb_strbuf_append_rel(&rel, schema, table);
    const char *p[2] = {rel.data, column};
    int rc = rel.err ? wb_error_set(x->err, WB_ENOMEM, "out of memory")
                     : wb_conn_expect(
                           x->tgt,
                           PQexecParams(x->tgt,
                                        "SELECT pg_catalog.format_type("
                                        "atttypid, atttypmod) FROM "
                                        "pg_catalog.pg_attribute WHERE "
                                        "attrelid = pg_catalog.to_regclass($1)"
                                        " AND attname = $2 AND attnum > 0 AND "
                                        "NOT attisdropped",
                                        2, NULL, p, NULL, NULL, 0),
                           PGRES_TUPLES_OK, &res,
                           "could not read the target's columns", x->err);
    wb_strbuf_free(&rel);
    if (rc)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        rc = wb_error_set(x->err, WB_ECATALOG,
                          "column \"%s\" of relation \"%s.%s\" does not exist",
                          column, schema, table);
        wb_error_relation(x->err, schema, table);
        wb_error_column(x->err, column);
        return rc;
    }
    *out = wb_arena_strdup(x->shape_arena, PQgetvalue(res, 0, 0));
    PQclear(res);
    return *out ? 0 : wb_error_set(x->err, WB_ENOMEM, "out of memory");
}

static bool target_owned(const wb_config_mapping *m, const char *col)
{
    for (size_t i = 0; i < m->conflict.ntarget_owns; i++)
        if (strcmp(m->conflict.target_owns[i], col) == 0)
            return true;
    return false;
}

/* Add column v to the shape unless it is there. */
static int shape_add(compare_run *x, const wb_config_mapping *m, stage *st,
                     const wb_target_op *op, const wb_op_value *v, bool key,
                     const char *src)
{
    for (size_t i = 0; i < st->ncols; i++)
        if (strcmp(st->cols[i].name, v->column) == 0)
            return 0;
    wb_compare_col *c = &st->cols[st->ncols];
    memset(c, 0, sizeof(*c));
    c->name = wb_arena_strdup(x->shape_arena, v->column);
    c->key = key;
    c->src = src;
    c->compared = !target_owned(m, v->column);
    c->lookup = NULL;
    if (!c->name)
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    int rc = column_type(x, op->schema, op->table, v->column, &c->type);
    if (rc)
        return rc;
    if (v->lookup) {
        /* Lookups live as long as the router (the mapping's plan). */
        c->lookup = v->lookup;
        if (!v->lookup->cast &&
            (rc = column_type(x, v->lookup->schema, v->lookup->table,
                              v->lookup->match, &c->match_type)) != 0)
            return rc;
    }
    st->ncols++;
    return 0;
}

/* Learn the shape from op (its keys, then what it sets) and create the
 * stage; then COPY into it. */
static int stage_shape(compare_run *x, const wb_config_mapping *m, stage *st,
                       const wb_target_op *op, const char *const *src)
{
    size_t most = op->nkeys + op->nset;
    int rc = 0;

    st->cols =
        wb_arena_alloc(x->shape_arena, (most ? most : 1) * sizeof(*st->cols));
    st->vals =
        wb_arena_alloc(x->shape_arena, (most ? most : 1) * sizeof(*st->vals));
    if (!st->cols || !st->vals)
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    st->ncols = 0;
    for (size_t i = 0; i < op->nkeys && rc == 0; i++)
        rc = shape_add(x, m, st, op, &op->keys[i], true, src ? src[i] : NULL);
    for (size_t i = 0; i < op->nset && rc == 0; i++)
        rc = shape_add(x, m, st, op, &op->set[i], false,
                       src ? src[op->nkeys + i] : NULL);
    return rc;
}

/* COPY into the stage, created before. */
static int stage_open(compare_run *x, stage *st)
{
    wb_strbuf sql = {0};
    wb_strbuf_add(&sql, "COPY ");
    wb_strbuf_append_rel(&sql, "pg_temp", st->name);
    wb_strbuf_add(&sql, " FROM STDIN");
    int rc = sql.err
                 ? wb_error_set(x->err, WB_ENOMEM, "out of memory")
                 : wb_conn_expect(x->tgt, PQexec(x->tgt, sql.data),
                                  PGRES_COPY_IN, NULL,
                                  "could not fill the compare's stage", x->err);
    wb_strbuf_free(&sql);
    st->copying = rc == 0;
    return rc;
}

static int stage_create(compare_run *x, const wb_config_mapping *m, stage *st,
                        const wb_target_op *op)
{
    wb_strbuf sql = {0};
    int rc = stage_shape(x, m, st, op, NULL);
    if (rc)
        return rc;
    if (wb_compare_sql_stage(&sql, st->name, st->ncols) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    }
    rc = exec_cmd(x, x->tgt, sql.data, "could not create the compare's stage");
    wb_strbuf_free(&sql);
    if (rc == 0) {
        st->created = true;
        rc = stage_open(x, st);
    }
    return rc;
}

static int stage_send(compare_run *x, stage *st)
{
    if (st->buf.len == 0)
        return 0;
    if (PQputCopyData(x->tgt, st->buf.data, (int)st->buf.len) != 1)
        return wb_conn_result_error(x->err, WB_ECONN, x->tgt, NULL,
                                    "could not fill the compare's stage");
    wb_strbuf_reset(&st->buf);
    return 0;
}

static int stage_finish(compare_run *x, stage *st)
{
    if (!st->copying)
        return 0;
    st->copying = false;
    int rc = stage_send(x, st);
    if (rc)
        return rc;
    if (PQputCopyEnd(x->tgt, NULL) != 1)
        return wb_conn_result_error(x->err, WB_ECONN, x->tgt, NULL,
                                    "could not fill the compare's stage");
    return wb_conn_expect(x->tgt, PQgetResult(x->tgt), PGRES_COMMAND_OK, NULL,
                          "could not fill the compare's stage", x->err);
}

/* Find column name among op's values. */
static const wb_op_value *op_value(const wb_target_op *op, const char *name)
{
    for (size_t i = 0; i < op->nkeys; i++)
        if (strcmp(op->keys[i].column, name) == 0)
            return &op->keys[i];
    for (size_t i = 0; i < op->nset; i++)
        if (strcmp(op->set[i].column, name) == 0)
            return &op->set[i];
    return NULL;
}

/* One row the mapping produced, into the stage. */
static int stage_row(compare_run *x, const wb_config_mapping *m, stage *st,
                     const wb_target_op *op, int64_t *rows)
{
    int rc;
    if (!st->created && (rc = stage_create(x, m, st, op)) != 0)
        return rc;
    for (size_t i = 0; i < st->ncols; i++) {
        const wb_op_value *v = op_value(op, st->cols[i].name);
        if (!v) {
            rc = wb_error_set(x->err, WB_EDATA,
                              "mapping \"%s\" produced a row without column "
                              "\"%s\"",
                              m->name, st->cols[i].name);
            wb_error_hint(x->err, "compare needs every row of a mapping "
                                  "to set the same columns.");
            return rc;
        }
        st->vals[i] = v->value;
    }
    if (wb_copytext_row(&st->buf, st->vals, st->ncols) != 0)
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    (*rows)++;
    return st->buf.len >= STAGE_FLUSH_BYTES ? stage_send(x, st) : 0;
}

/* The insert a built-in mapping makes, from its definition (no values:
 * only the columns), and the source column of each of its columns. */
static int config_op(compare_run *x, const wb_config_mapping *m,
                     wb_target_op *op, const char ***src)
{
    size_t n = m->nkeys + m->ncolumns + m->nvalues, k = 0;
    wb_op_value *v = wb_arena_alloc(x->shape_arena, (n ? n : 1) * sizeof(*v));
    const char **from =
        wb_arena_alloc(x->shape_arena, (n ? n : 1) * sizeof(*from));
    if (!v || !from)
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nkeys; i++, k++) {
        v[k] = (wb_op_value){m->keys[i].to, NULL, NULL};
        from[k] = m->keys[i].from;
    }
    for (size_t i = 0; i < m->ncolumns; i++, k++) {
        v[k] = (wb_op_value){m->columns[i].to, NULL, NULL};
        from[k] = m->columns[i].from;
    }
    for (size_t i = 0; i < m->nvalues; i++, k++) {
        v[k] = (wb_op_value){m->values[i].to, NULL, NULL};
        from[k] = NULL;
    }
    *op = (wb_target_op){.kind = WB_OP_UPSERT,
                         .schema = m->to.schema,
                         .table = m->to.table,
                         .nkeys = m->nkeys,
                         .keys = v,
                         .nset = n - m->nkeys,
                         .set = v + m->nkeys};
    *src = from;
    return 0;
}

/* The shape of a built-in mapping that produced no row, from its
 * definition, so that its target's rows still count as extra. */
static int stage_from_config(compare_run *x, const wb_config_mapping *m,
                             stage *st)
{
    wb_target_op op;
    const char **src;
    int rc = config_op(x, m, &op, &src);
    if (rc == 0)
        rc = stage_create(x, m, st, &op);
    if (rc == 0)
        rc = stage_finish(x, st);
    return rc;
}

/* The source's database can work the projection out: a built-in mapping
 * that only copies columns (no values, no filter), each target value the
 * source column's text read by the target column's type, as the stream's
 * text value is (buckets_pass). */
static bool by_buckets(const wb_config_mapping *m)
{
    return !m->plugin.path && m->nvalues == 0 && !m->filter;
}

/* ... and the target's database too, being the source's own: the join
 * reads the source table directly (one statement, one snapshot of both)
 * instead of a stage walbridge filled. */
static bool in_sql(const wb_config *cfg, const wb_config_mapping *m)
{
    const char *t = cfg->target.conninfo;
    return by_buckets(m) && (!t || !*t || strcmp(t, cfg->source.conninfo) == 0);
}

/* Stream the source's rows of buckets (text, the shape's columns) into
 * the stage st, COPY to COPY. */
static int stage_buckets(compare_run *x, const wb_compare_shape *shape,
                         stage *st, const char *buckets)
{
    wb_strbuf sql = {0};
    int rc = stage_open(x, st);
    if (rc)
        return rc;
    if (wb_compare_sql_bucket_rows(&sql, shape, buckets, NBUCKETS) != 0)
        rc = wb_error_set(x->err, WB_ENOMEM, "out of memory");
    else
        rc = wb_conn_expect(x->src, PQexec(x->src, sql.data), PGRES_COPY_OUT,
                            NULL, "could not read the source's rows", x->err);
    wb_strbuf_free(&sql);
    for (char *buf; rc == 0;) {
        int len = PQgetCopyData(x->src, &buf, 0);
        if (len == -1)
            break;
        if (len < 0)
            return wb_conn_result_error(x->err, WB_ECONN, x->src, NULL,
                                        "could not read the source's rows");
        int ok = PQputCopyData(x->tgt, buf, len);
        PQfreemem(buf);
        if (ok != 1)
            return wb_conn_result_error(x->err, WB_ECONN, x->tgt, NULL,
                                        "could not fill the compare's stage");
    }
    if (rc == 0)
        rc = wb_conn_expect(x->src, PQgetResult(x->src), PGRES_COMMAND_OK, NULL,
                            "could not read the source's rows", x->err);
    if (rc)
        return rc;
    return stage_finish(x, st);
}

/* Does another enabled mapping write m's target?  Then rows nobody
 * projected here may be its rows. */
static bool shared_target(const wb_config *cfg, const wb_config_mapping *m)
{
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *o = &cfg->mappings[i];
        if (o == m || !o->enabled)
            continue;
        for (size_t j = 0; j < o->nto; j++)
            if (strcmp(o->tos[j].schema, m->to.schema) == 0 &&
                strcmp(o->tos[j].table, m->to.table) == 0)
                return true;
    }
    return false;
}

static bool slot_active(compare_run *x)
{
    const char *p[1] = {x->cfg->source.slot};
    PGresult *a = PQexecParams(x->src,
                               "SELECT active_pid IS NOT NULL FROM "
                               "pg_catalog.pg_replication_slots WHERE "
                               "slot_name = $1",
                               1, NULL, p, NULL, NULL, 0);
    bool active = PQresultStatus(a) == PGRES_TUPLES_OK && PQntuples(a) == 1 &&
                  PQgetvalue(a, 0, 0)[0] == 't';
    PQclear(a);
    return active;
}

/*
 * Nobody streams the slot: does it hold a change of m's source table that
 * commits before lsn and that walbridge has not confirmed?  The slot is
 * decoded without being consumed (pg_logical_slot_peek_binary_changes,
 * pgoutput protocol 1, the slot's publication): an Insert, Update or
 * Delete carries the relation's OID right after its type byte, a
 * Truncate after its count and options.  Any doubt (an error, the slot
 * taken meanwhile, more output than the bound) counts as pending.
 */
static bool nothing_pending(compare_run *x, const wb_config_mapping *m,
                            wb_lsn lsn)
{
    char l[WB_LSN_BUFLEN];
    wb_strbuf rel = {0};
    wb_strbuf_append_rel(&rel, m->from.schema, m->from.table);
    const char *p[4] = {x->cfg->source.slot, wb_lsn_format(lsn, l),
                        x->cfg->source.publication, rel.data};
    PGresult *r =
        rel.err
            ? NULL
            : PQexecParams(
                  x->src,
                  "WITH r AS (SELECT pg_catalog.substr(pg_catalog.int8send("
                  "pg_catalog.to_regclass($4)::pg_catalog.oid::pg_catalog."
                  "int8), 5, 4) AS id), c AS (SELECT data FROM "
                  "pg_catalog.pg_logical_slot_peek_binary_changes($1, "
                  "$2::pg_catalog.pg_lsn, 100000, 'proto_version', '1', "
                  "'publication_names', pg_catalog.quote_ident($3))) "
                  "SELECT count(*) FILTER (WHERE (pg_catalog.get_byte(data, "
                  "0) IN (73, 85, 68) AND pg_catalog.substr(data, 2, 4) = "
                  "r.id) OR (pg_catalog.get_byte(data, 0) = 84 AND "
                  "pg_catalog.position(pg_catalog.substr(data, 7), r.id) > "
                  "0)), count(*) >= 100000 FROM c, r",
                  4, NULL, p, NULL, NULL, 0);
    bool none = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                strcmp(PQgetvalue(r, 0, 0), "0") == 0 &&
                PQgetvalue(r, 0, 1)[0] == 'f';
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        wb_log(WB_LOG_DEBUG, "could not look into slot \"%s\": %s",
               x->cfg->source.slot, PQerrorMessage(x->src));
    PQclear(r);
    wb_strbuf_free(&rel);
    return none;
}

/*
 * Wait (at most o->wait_ms) for the stored position to reach lsn: then
 * every change the pass's snapshot saw is on the target.  When nobody
 * streams the slot, the answer is whether the slot still holds a change
 * of m's source from before lsn.
 */
static bool wait_caught_up(compare_run *x, const wb_config_mapping *m,
                           wb_lsn lsn)
{
    int64_t until = wb_clock_ms() + x->o->wait_ms;
    for (;;) {
        const char *where;
        wb_progress_peek(x->tgt, x->cfg, &x->rep->stored, &where);
        if (x->rep->stored != WB_INVALID_LSN && x->rep->stored >= lsn)
            return true;
        if (!slot_active(x)) {
            x->rep->streaming = false;
            return nothing_pending(x, m, lsn);
        }
        x->rep->streaming = true;
        if (wb_clock_ms() >= until)
            return false;
        struct timespec ts = {0, WAIT_POLL_MS * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The join of shape's projection with the target into "wb_compare_d<n>". */
static int join_pass(compare_run *x, const wb_config_mapping *m,
                     wb_compare_table *t, const wb_compare_shape *shape,
                     const char *stage_name, int n)
{
    wb_strbuf sql = {0};
    char diff[64];
    snprintf(diff, sizeof(diff), "wb_compare_d%d", n);
    /* The re-check only looks at the first pass's differences: the
     * target's rows by their key (its index), not the whole table. */
    wb_compare_shape s = *shape;
    s.recheck = n > 1 ? "wb_compare_d1" : NULL;
    if (wb_compare_sql_diff(&sql, &s, stage_name, diff) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    }
    int rc = exec_cmd(x, x->tgt, sql.data,
                      "could not compare the projection with the target");
    wb_strbuf_free(&sql);
    if (rc)
        wb_error_relation(x->err, m->to.schema, m->to.table);
    else
        t->compared = true;
    return rc;
}

/* A mapping by_buckets() accepts: its stage's columns from its definition
 * (st), and the shape of its comparison, read from its source table. */
static int projection_shape(compare_run *x, const wb_config_mapping *m,
                            const wb_compare_table *t, stage *st,
                            wb_compare_shape *shape)
{
    wb_target_op op;
    const char **src;
    int rc = config_op(x, m, &op, &src);
    if (rc == 0)
        rc = stage_shape(x, m, st, &op, src);
    if (rc)
        return rc;
    *shape = (wb_compare_shape){.schema = m->to.schema,
                                .table = m->to.table,
                                .ncols = st->ncols,
                                .cols = st->cols,
                                .extras = t->extra_counted,
                                .from_schema = m->from.schema,
                                .from_table = m->from.table};
    return 0;
}

/* One pass of a mapping in_sql() accepts: one statement reads both.  The
 * source's rows are counted meanwhile, on the source's connection. */
static int sql_pass(compare_run *x, const wb_config_mapping *m,
                    wb_compare_table *t, int n)
{
    stage st;
    wb_compare_shape shape;
    wb_strbuf sql = {0};
    memset(&st, 0, sizeof(st));
    int rc = projection_shape(x, m, t, &st, &shape);
    if (rc)
        return rc;
    wb_strbuf_add(&sql, "SELECT count(*) FROM ONLY ");
    wb_strbuf_append_rel(&sql, m->from.schema, m->from.table);
    if (sql.err) {
        wb_strbuf_free(&sql);
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    }
    bool counting = PQsendQuery(x->src, sql.data) == 1;
    wb_strbuf_free(&sql);
    rc = join_pass(x, m, t, &shape, NULL, n);
    if (!counting)
        return rc ? rc
                  : wb_conn_result_error(x->err, WB_ECONN, x->src, NULL,
                                         "could not count the source's rows");
    PGresult *res;
    int rc2 = wb_conn_expect(x->src, PQgetResult(x->src), PGRES_TUPLES_OK, &res,
                             "could not count the source's rows", x->err);
    PQclear(PQgetResult(x->src)); /* the end of the query */
    if (rc2 == 0) {
        t->source_rows = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return rc ? rc : rc2;
}

/* Once per run, before the first bucket sums: the target's session takes
 * the source's output settings (so that the same values hash the same),
 * and both servers' hash functions are probed (x->pg_hash). */
static int same_sessions(compare_run *x)
{
    PGresult *sr = NULL;
    int rc;
    if (x->sessions_alike)
        return 0;
    static const char *const settings =
        "SELECT pg_catalog.current_setting('DateStyle'), "
        "pg_catalog.current_setting('IntervalStyle'), "
        "pg_catalog.current_setting('TimeZone'), "
        "pg_catalog.current_setting('extra_float_digits'), "
        "pg_catalog.current_setting('bytea_output')";
    if ((rc = wb_conn_expect(x->src, PQexec(x->src, settings), PGRES_TUPLES_OK,
                             &sr, "could not read the source's settings",
                             x->err)) != 0)
        return rc;
    const char *sp[5];
    for (int i = 0; i < 5; i++)
        sp[i] = PQgetvalue(sr, 0, i);
    rc = wb_conn_expect(
        x->tgt,
        PQexecParams(x->tgt,
                     "SELECT pg_catalog.set_config('DateStyle', $1, false), "
                     "pg_catalog.set_config('IntervalStyle', $2, false), "
                     "pg_catalog.set_config('TimeZone', $3, false), "
                     "pg_catalog.set_config('extra_float_digits', $4, false), "
                     "pg_catalog.set_config('bytea_output', $5, false)",
                     5, NULL, sp, NULL, NULL, 0),
        PGRES_TUPLES_OK, NULL, "could not set the target session's settings",
        x->err);
    PQclear(sr);
    if (rc)
        return rc;
    /* PostgreSQL's hash functions are cheaper than md5 but may differ
     * between servers (byte order, versions): used when both agree. */
    static const char *const probe =
        "SELECT pg_catalog.hashtextextended('walbridge compare', 7)";
    PGresult *ps = NULL, *pt = NULL;
    if ((rc = wb_conn_expect(x->src, PQexec(x->src, probe), PGRES_TUPLES_OK,
                             &ps, "could not probe the source's hashes",
                             x->err)) != 0 ||
        (rc = wb_conn_expect(x->tgt, PQexec(x->tgt, probe), PGRES_TUPLES_OK,
                             &pt, "could not probe the target's hashes",
                             x->err)) != 0) {
        PQclear(ps);
        return rc;
    }
    x->pg_hash = strcmp(PQgetvalue(ps, 0, 0), PQgetvalue(pt, 0, 0)) == 0;
    PQclear(ps);
    PQclear(pt);
    x->sessions_alike = true;
    return 0;
}

/*
 * Across databases, a mapping that only copies columns: the source's
 * database works its projection out (each value cast to the target
 * column's type, as the join does) and both sides sum it up per bucket of
 * keys (count and XOR of row hashes, compare_sql.c); only the rows of
 * buckets that differ are staged, as the source's text, and joined with
 * the target's rows of those buckets.  Both sessions first take the
 * source's output settings (DateStyle, TimeZone, ...) so that the same
 * values hash the same.  The bucket sums and the staged rows are read in
 * one REPEATABLE READ transaction of the source.
 * Returns 1 when the source's database cannot work it out (a target type
 * it lacks): the caller stages every row instead.
 */
static int buckets_pass(compare_run *x, const wb_config_mapping *m,
                        wb_compare_table *t, int n)
{
    stage st;
    wb_compare_shape shape;
    wb_strbuf sql = {0}, list = {0};
    PGresult *sr = NULL, *tr = NULL;
    memset(&st, 0, sizeof(st));
    snprintf(st.name, sizeof(st.name), "wb_compare_s%d", n);
    int rc = projection_shape(x, m, t, &st, &shape);
    if (rc)
        return rc;
    for (size_t i = 0; i < st.ncols; i++)
        if (st.cols[i].lookup || !st.cols[i].src)
            return 1; /* worked out on the target only */
    if ((rc = same_sessions(x)) != 0)
        return rc;
    shape.pg_hash = x->pg_hash;
    if ((rc = exec_cmd(x, x->src, "BEGIN ISOLATION LEVEL REPEATABLE READ",
                       "could not start reading the source")) != 0)
        return rc;
    /* Both sides at once. */
    if (wb_compare_sql_buckets(&sql, &shape, true, NBUCKETS) != 0) {
        rc = wb_error_set(x->err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if (PQsendQuery(x->src, sql.data) != 1) {
        rc = wb_conn_result_error(x->err, WB_ECONN, x->src, NULL,
                                  "could not sum up the source's buckets");
        goto out;
    }
    wb_strbuf_reset(&sql);
    if (wb_compare_sql_buckets(&sql, &shape, false, NBUCKETS) != 0) {
        rc = wb_error_set(x->err, WB_ENOMEM, "out of memory");
        goto out;
    }
    int trc =
        wb_conn_expect(x->tgt, PQexec(x->tgt, sql.data), PGRES_TUPLES_OK, &tr,
                       "could not sum up the target's buckets", x->err);
    wb_error serr = {0};
    rc = wb_conn_expect(x->src, PQgetResult(x->src), PGRES_TUPLES_OK, &sr,
                        "could not sum up the source's buckets", &serr);
    PQclear(PQgetResult(x->src)); /* the end of the query */
    if (rc && (strncmp(serr.sqlstate, "42", 2) == 0 ||
               strncmp(serr.sqlstate, "3F", 2) == 0)) {
        /* A type (or its schema) the source's database lacks. */
        wb_log(WB_LOG_INFO,
               "mapping \"%s\": the source's database cannot work out the "
               "projection (%s); every row goes through walbridge instead",
               m->name, serr.message);
        PQclear(PQexec(x->src, "ROLLBACK"));
        PQclear(tr);
        wb_strbuf_free(&sql);
        wb_error_clear(x->err);
        return 1;
    }
    if (rc) {
        *x->err = serr;
        goto out;
    }
    if ((rc = trc) != 0)
        goto out;
    /* Both in bucket order: the buckets that differ. */
    int ns = PQntuples(sr), nt = PQntuples(tr), i = 0, j = 0;
    size_t ndiff = 0;
    int64_t rows = 0;
    wb_strbuf_add(&list, "{");
    while (i < ns || j < nt) {
        long bs = i < ns ? atol(PQgetvalue(sr, i, 0)) : NBUCKETS;
        long bt = j < nt ? atol(PQgetvalue(tr, j, 0)) : NBUCKETS;
        long bk = bs < bt ? bs : bt;
        bool same = bs == bt &&
                    strcmp(PQgetvalue(sr, i, 1), PQgetvalue(tr, j, 1)) == 0 &&
                    strcmp(PQgetvalue(sr, i, 2), PQgetvalue(tr, j, 2)) == 0;
        if (bs == bk)
            rows += atoll(PQgetvalue(sr, i++, 1));
        if (bt == bk)
            j++;
        if (!same)
            wb_strbuf_append_fmt(&list, "%s%ld", ndiff++ ? "," : "", bk);
    }
    wb_strbuf_add(&list, "}");
    t->source_rows = rows;
    wb_strbuf_reset(&sql);
    if (list.err || wb_compare_sql_stage(&sql, st.name, st.ncols) != 0) {
        rc = wb_error_set(x->err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = exec_cmd(x, x->tgt, sql.data,
                       "could not create the compare's stage")) != 0)
        goto out;
    if (ndiff)
        rc = stage_buckets(x, &shape, &st, list.data);
    if (rc == 0)
        rc = exec_cmd(x, x->src, "COMMIT", "could not read the source");
    if (rc)
        goto out;
    shape.from_schema = shape.from_table = NULL;
    shape.buckets = list.data;
    shape.nbuckets = NBUCKETS;
    t->buckets = true;
    rc = join_pass(x, m, t, &shape, st.name, n);
out:
    if (rc && PQtransactionStatus(x->src) != PQTRANS_IDLE)
        PQclear(PQexec(x->src, "ROLLBACK"));
    PQclear(sr);
    PQclear(tr);
    wb_strbuf_free(&sql);
    wb_strbuf_free(&list);
    return rc;
}

/*
 * One pass: the source read under a snapshot through the router into
 * stage "wb_compare_s<n>", joined with the target into "wb_compare_d<n>"
 * (or, for a mapping in_sql() accepts, one statement).
 */
static int run_pass(compare_run *x, const wb_config_mapping *m,
                    wb_compare_table *t, int n)
{
    wb_tablecopy *tc = NULL;
    wb_tablecopy_rel tr;
    wb_copyrow_reader rd;
    stage st;
    wb_arena *rel_arena = NULL;
    int64_t rows = 0;
    int rc;

    if ((t->in_sql = in_sql(x->cfg, m)))
        return sql_pass(x, m, t, n);
    if (by_buckets(m) && (rc = buckets_pass(x, m, t, n)) <= 0)
        return rc;
    memset(&st, 0, sizeof(st));
    snprintf(st.name, sizeof(st.name), "wb_compare_s%d", n);
    if (!(rel_arena = wb_arena_create(16 * 1024, 0))) {
        rc = wb_error_set(x->err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wb_tablecopy_open(x->cfg->source.conninfo, NULL, &tc, x->err)) !=
            0 ||
        (rc = wb_tablecopy_begin(tc, x->err)) != 0 ||
        (rc = wb_tablecopy_describe(tc, &m->from, rel_arena, &tr, x->err)) != 0)
        goto out;
    wb_relcache_entry *e = wb_relcache_update(x->relcache, &tr.rel, x->err);
    if (!e) {
        rc = x->err->code ? x->err->code : WB_ENOMEM;
        goto out;
    }
    /* The join does not need the rows in order: a plain scan. */
    wb_tablecopy_rel unordered = tr;
    unordered.norder = 0;
    if ((rc = wb_tablecopy_start(tc, &unordered, false, x->err)) != 0)
        goto out;
    wb_copyrow_init(&rd, false, tr.rel.natts);
    const wb_config_mapping *only[1] = {m};
    for (;;) {
        char *buf;
        wb_tuple tup;
        bool row;
        int len = wb_tablecopy_read(tc, &buf, x->err);
        if (len < 0) {
            rc = len;
            goto out;
        }
        if (len == 0)
            break;
        wb_arena_reset(x->row_arena);
        rc = wb_copyrow_decode(&rd, buf, (size_t)len, x->row_arena, &tup, &row,
                               x->err);
        wb_tablecopy_freemem(buf);
        if (rc) {
            wb_error_relation(x->err, tr.rel.nspname, tr.rel.relname);
            goto out;
        }
        if (!row)
            continue;
        wb_change c;
        memset(&c, 0, sizeof(c));
        c.kind = WB_CHANGE_INSERT;
        c.rel = &e->rel;
        c.rel_version = e->generation;
        c.newtup = &tup;
        c.only = only;
        c.nonly = 1;
        wb_target_op *ops;
        size_t nops;
        if ((rc = wb_router_route(x->router, &c, x->row_arena, &ops, &nops,
                                  x->err)) != 0)
            goto out;
        for (size_t i = 0; i < nops && rc == 0; i++)
            if (ops[i].kind == WB_OP_UPSERT &&
                strcmp(ops[i].schema, m->to.schema) == 0 &&
                strcmp(ops[i].table, m->to.table) == 0)
                rc = stage_row(x, m, &st, &ops[i], &rows);
        if (rc)
            goto out;
    }
    if ((rc = wb_tablecopy_commit(tc, x->err)) != 0)
        goto out;
    if (st.created)
        rc = stage_finish(x, &st);
    else if (!m->plugin.path)
        rc = stage_from_config(x, m, &st);
    if (rc)
        goto out;
    t->source_rows = rows;
    if (!st.created) {
        /* A plugin that produced nothing: no shape to compare with. */
        t->note = strdup("the mapping produced no rows from its source; "
                         "its target was not read");
        goto out;
    }
    wb_compare_shape shape = {
        m->to.schema, m->to.table, st.ncols, st.cols, t->extra_counted,
        NULL,         NULL,        NULL,     0,       false,
        NULL};
    rc = join_pass(x, m, t, &shape, st.name, n);
out:
    if (st.copying) {
        PQputCopyEnd(x->tgt, "compare failed");
        PQclear(PQgetResult(x->tgt));
    }
    wb_strbuf_free(&st.buf);
    wb_tablecopy_close(tc);
    wb_arena_destroy(rel_arena);
    return rc;
}

/* Write the message a running walbridge stores its position for. */
static int write_message(compare_run *x, wb_lsn *lsn)
{
    const char *p[2] = {WB_COMPARE_MESSAGE, x->cfg->source.slot};
    PGresult *res;
    int rc = wb_conn_expect(
        x->src,
        PQexecParams(x->src,
                     "SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)",
                     2, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not write into the source's WAL", x->err);
    if (rc)
        return rc;
    if (PQntuples(res) != 1 || wb_lsn_parse(PQgetvalue(res, 0, 0), lsn) != 0)
        rc = wb_error_set(x->err, WB_EPROTO, "invalid LSN from the source");
    PQclear(res);
    return rc;
}

/* Run a query that returns (kind, count) rows, adding into counts. */
static int add_counts(compare_run *x, const char *sql, int64_t *counts)
{
    PGresult *res;
    int rc = wb_conn_expect(x->tgt, PQexec(x->tgt, sql), PGRES_TUPLES_OK, &res,
                            "could not count the differences", x->err);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(res); i++)
        for (int k = 0; k < WB_COMPARE_NKINDS; k++)
            if (strcmp(PQgetvalue(res, i, 0),
                       wb_compare_kind_name((wb_compare_kind)k)) == 0)
                counts[k] += atoll(PQgetvalue(res, i, 1));
    PQclear(res);
    return 0;
}

/* The first keys of each kind of the rows of d (filtered by where), in
 * key order, into t->keys. */
static int add_keys(compare_run *x, wb_compare_table *t, const char *d,
                    const char *where, bool in_flight)
{
    char sql[1024];
    char lim[32];
    PGresult *res;
    snprintf(lim, sizeof(lim), "%zu", x->o->max_keys);
    int len = snprintf(
        sql, sizeof(sql),
        "SELECT kind, key, columns FROM (SELECT kind, key, columns, "
        "pg_catalog.row_number() OVER (PARTITION BY kind ORDER BY k1, key) AS "
        "n FROM pg_temp.%s d %s) x WHERE n <= $1::int8 ORDER BY CASE kind WHEN "
        "'missing' THEN 0 WHEN 'extra' THEN 1 ELSE 2 END, n",
        d, where);
    if (len < 0 || (size_t)len >= sizeof(sql))
        return wb_error_set(x->err, WB_ELIMIT, "statement too long");
    const char *p[1] = {lim};
    int rc = wb_conn_expect(
        x->tgt, PQexecParams(x->tgt, sql, 1, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not list the differences", x->err);
    if (rc)
        return rc;
    int n = PQntuples(res);
    wb_compare_key *k =
        realloc(t->keys, (t->nkeys + (size_t)n + 1) * sizeof(*k));
    if (!k) {
        PQclear(res);
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    }
    t->keys = k;
    for (int i = 0; i < n; i++) {
        wb_compare_key *e = &t->keys[t->nkeys];
        memset(e, 0, sizeof(*e));
        for (int j = 0; j < WB_COMPARE_NKINDS; j++)
            if (strcmp(PQgetvalue(res, i, 0),
                       wb_compare_kind_name((wb_compare_kind)j)) == 0)
                e->kind = (wb_compare_kind)j;
        e->in_flight = in_flight;
        e->key = strdup(PQgetvalue(res, i, 1));
        e->columns = strdup(PQgetvalue(res, i, 2));
        if (!e->key || !e->columns) {
            free(e->key);
            free(e->columns);
            PQclear(res);
            return wb_error_set(x->err, WB_ENOMEM, "out of memory");
        }
        t->nkeys++;
    }
    PQclear(res);
    return 0;
}

/* The same difference in both passes, with neither the source row (its
 * projection) nor the target row (its xmin) written in between: nothing
 * was on its way. */
#define SAME_DIFF                                                              \
    "EXISTS (SELECT 1 FROM pg_temp.wb_compare_d1 o WHERE o.kind = d.kind AND " \
    "o.key = d.key AND o.columns = d.columns AND o.wb_src IS NOT DISTINCT "    \
    "FROM d.wb_src AND o.wb_xmin IS NOT DISTINCT FROM d.wb_xmin)"

/* Count and list what the passes found. */
static int collect(compare_run *x, wb_compare_table *t, bool two_passes,
                   bool confirmed)
{
    int rc;
    if (!two_passes) {
        /* Differences before walbridge caught up: in flight. */
        if ((rc = add_counts(x,
                             "SELECT kind, count(*) FROM pg_temp.wb_compare_d1 "
                             "GROUP BY kind",
                             t->in_flight)) != 0)
            return rc;
        return add_keys(x, t, "wb_compare_d1", "", true);
    }
    if (confirmed) {
        if ((rc = add_counts(x,
                             "SELECT kind, count(*) FROM pg_temp.wb_compare_d2 "
                             "d WHERE " SAME_DIFF " GROUP BY kind",
                             t->persistent)) != 0 ||
            (rc = add_keys(x, t, "wb_compare_d2", "WHERE " SAME_DIFF, false)) !=
                0)
            return rc;
        if ((rc = add_counts(x,
                             "SELECT kind, count(*) FROM pg_temp.wb_compare_d2 "
                             "d WHERE NOT " SAME_DIFF " GROUP BY kind",
                             t->in_flight)) != 0 ||
            (rc = add_keys(x, t, "wb_compare_d2", "WHERE NOT " SAME_DIFF,
                           true)) != 0)
            return rc;
    } else {
        if ((rc = add_counts(x,
                             "SELECT kind, count(*) FROM pg_temp.wb_compare_d2 "
                             "GROUP BY kind",
                             t->in_flight)) != 0 ||
            (rc = add_keys(x, t, "wb_compare_d2", "", true)) != 0)
            return rc;
    }
    /* What the first pass saw and the second did not: it was in flight. */
    PGresult *res;
    if ((rc = wb_conn_expect(
             x->tgt,
             PQexec(
                 x->tgt,
                 "SELECT count(*) FROM pg_temp.wb_compare_d1 d WHERE NOT "
                 "EXISTS (SELECT 1 FROM pg_temp.wb_compare_d2 o WHERE o.kind "
                 "= d.kind AND o.key = d.key AND o.columns = d.columns)"),
             PGRES_TUPLES_OK, &res, "could not count the differences",
             x->err)) != 0)
        return rc;
    t->resolved = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int drop_temps(compare_run *x)
{
    return exec_cmd(x, x->tgt,
                    "DROP TABLE IF EXISTS pg_temp.wb_compare_s1, "
                    "pg_temp.wb_compare_s2, pg_temp.wb_compare_d1, "
                    "pg_temp.wb_compare_d2",
                    "could not drop the compare's tables");
}

/* resync --delete-extra: the persistent extra rows go, in a transaction
 * marked as walbridge's own. */
static int delete_extra(compare_run *x, const wb_config_mapping *m,
                        wb_compare_table *t)
{
    wb_strbuf sql = {0};
    const char *keys[64];
    PGresult *res;
    int rc;

    if (m->plugin.path || !t->extra_counted || m->nkeys == 0 || m->nkeys > 64) {
        t->note = strdup(m->plugin.path
                             ? "extra rows are not deleted for a plugin mapping"
                             : "extra rows are not deleted: another mapping "
                               "writes the table");
        return 0;
    }
    for (size_t i = 0; i < m->nkeys; i++)
        keys[i] = m->keys[i].to;
    if (wb_compare_sql_delete(&sql, m->to.schema, m->to.table, keys,
                              m->nkeys) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(x->err, WB_ENOMEM, "out of memory");
    }
    const char *p[2] = {WB_MARKER_PREFIX, x->cfg->target.origin};
    if ((rc = exec_cmd(x, x->tgt, "BEGIN", "could not begin the delete")) !=
            0 ||
        (rc = wb_conn_expect(
             x->tgt,
             PQexecParams(x->tgt,
                          "SELECT pg_catalog.pg_logical_emit_message(true, "
                          "$1, $2)",
                          2, NULL, p, NULL, NULL, 0),
             PGRES_TUPLES_OK, NULL, "could not mark the delete", x->err)) !=
            0 ||
        (rc = wb_conn_expect(x->tgt, PQexec(x->tgt, sql.data), PGRES_COMMAND_OK,
                             &res, "could not delete the extra rows",
                             x->err)) != 0) {
        PQclear(PQexec(x->tgt, "ROLLBACK"));
        wb_error_relation(x->err, m->to.schema, m->to.table);
        wb_strbuf_free(&sql);
        return rc;
    }
    wb_strbuf_free(&sql);
    t->deleted = atoll(PQcmdTuples(res));
    PQclear(res);
    if ((rc = exec_cmd(x, x->tgt, "COMMIT",
                       "could not delete the extra rows")) != 0)
        return rc;
    wb_log(WB_LOG_INFO,
           "mapping \"%s\": deleted %lld rows of \"%s.%s\" that its source "
           "no longer has",
           m->name, (long long)t->deleted, m->to.schema, m->to.table);
    return 0;
}

/*
 * Pass 1 at once; when it found differences, a message into the source's
 * WAL, a wait for walbridge to store a position past it (every change
 * pass 1 saw is then applied), and pass 2: what it finds again, on rows
 * nobody wrote in between, is persistent.
 */
static int compare_mapping(compare_run *x, const wb_config_mapping *m,
                           wb_compare_table *t)
{
    wb_lsn lsn;
    int rc;

    t->extra_counted = !shared_target(x->cfg, m);
    if (!(m->operations & WB_MAP_OP_INSERT)) {
        t->note = strdup("the mapping does not map inserts: it produces no "
                         "rows of its own to compare");
        return 0;
    }
    if ((rc = drop_temps(x)) != 0 || (rc = run_pass(x, m, t, 1)) != 0 ||
        !t->compared)
        return rc;
    t->passes = 1;
    PGresult *res;
    if ((rc = wb_conn_expect(
             x->tgt,
             PQexec(x->tgt,
                    "SELECT EXISTS (SELECT 1 FROM pg_temp.wb_compare_d1)"),
             PGRES_TUPLES_OK, &res, "could not count the differences",
             x->err)) != 0)
        return rc;
    bool any = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!any)
        return drop_temps(x);
    if ((rc = write_message(x, &lsn)) != 0)
        return rc;
    x->rep->source_lsn = lsn;
    if (!wait_caught_up(x, m, lsn)) {
        /* Changes pass 1 saw may still be on their way: nothing can be
         * confirmed. */
        x->rep->caught_up = false;
        if ((rc = collect(x, t, false, false)) != 0)
            return rc;
        return drop_temps(x);
    }
    wb_log(WB_LOG_INFO,
           "mapping \"%s\": differences found, checking them again", m->name);
    if ((rc = run_pass(x, m, t, 2)) != 0)
        return rc;
    t->passes = 2;
    if ((rc = collect(x, t, true, true)) != 0)
        return rc;
    if (x->o->delete_extra && t->persistent[WB_COMPARE_EXTRA] > 0 &&
        (rc = delete_extra(x, m, t)) != 0)
        return rc;
    return drop_temps(x);
}

int wb_compare_run(const wb_config *cfg, const wb_compare_opts *o,
                   wb_compare_report *out, wb_error *err)
{
    compare_run x = {.cfg = cfg, .o = o, .rep = out, .err = err};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->caught_up = true;
    out->streaming = true;
    out->tables =
        calloc(cfg->nmappings ? cfg->nmappings : 1, sizeof(*out->tables));
    x.relcache = wb_relcache_create();
    x.row_arena = wb_arena_create(64 * 1024, 0);
    x.shape_arena = wb_arena_create(16 * 1024, 0);
    if (!out->tables || !x.relcache || !x.row_arena || !x.shape_arena) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    const wb_config_mapping *one = NULL;
    if (o->mapping) {
        for (size_t i = 0; i < cfg->nmappings; i++)
            if (cfg->mappings[i].enabled &&
                strcmp(cfg->mappings[i].name, o->mapping) == 0)
                one = &cfg->mappings[i];
        if (!one) {
            rc = wb_error_set(err, WB_ECONFIG,
                              "no enabled mapping \"%s\" in \"%s\"", o->mapping,
                              cfg->path ? cfg->path : "the configuration");
            goto out;
        }
    }
    if (!(x.src = wb_conn_open(cfg->source.conninfo, false, "walbridge compare",
                               "source", err)) ||
        !(x.tgt = wb_conn_open(wb_config_target_conninfo(cfg), false,
                               "walbridge compare", "target", err))) {
        rc = err->code ? err->code : WB_ECONN;
        goto out;
    }
    if (!(x.router = wb_router_create(cfg, err))) {
        rc = err->code ? err->code : WB_ENOMEM;
        goto out;
    }
    x.rep->streaming = slot_active(&x);
    for (size_t i = 0; i < cfg->nmappings && rc == 0; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled || (one && m != one))
            continue;
        wb_compare_table *t = &out->tables[out->ntables++];
        t->mapping = strdup(m->name);
        t->schema = strdup(m->to.schema);
        t->table = strdup(m->to.table);
        if (!t->mapping || !t->schema || !t->table) {
            rc = wb_error_set(err, WB_ENOMEM, "out of memory");
            break;
        }
        wb_arena_reset(x.shape_arena);
        rc = compare_mapping(&x, m, t);
        if (rc == 0 && m->nto > 1 && !t->note)
            t->note = strdup("only the first of the mapping's target "
                             "tables was compared");
    }
    if (rc == 0) {
        const char *where;
        wb_progress_peek(x.tgt, cfg, &out->stored, &where);
    }
out:
    if (x.router)
        wb_router_destroy(x.router);
    if (x.src)
        PQfinish(x.src);
    if (x.tgt)
        PQfinish(x.tgt);
    wb_relcache_destroy(x.relcache);
    wb_arena_destroy(x.row_arena);
    wb_arena_destroy(x.shape_arena);
    return rc;
}

int64_t wb_compare_persistent(const wb_compare_report *r)
{
    int64_t n = 0;
    for (size_t i = 0; i < r->ntables; i++) {
        for (int k = 0; k < WB_COMPARE_NKINDS; k++)
            n += r->tables[i].persistent[k];
        n -= r->tables[i].deleted;
    }
    return n;
}

void wb_compare_report_free(wb_compare_report *r)
{
    for (size_t i = 0; i < r->ntables; i++) {
        wb_compare_table *t = &r->tables[i];
        for (size_t k = 0; k < t->nkeys; k++) {
            free(t->keys[k].key);
            free(t->keys[k].columns);
        }
        free(t->keys);
        free(t->mapping);
        free(t->schema);
        free(t->table);
        free(t->note);
    }
    free(r->tables);
    memset(r, 0, sizeof(*r));
}
