/*
 * apply/setrun.c - runs of rows as one set-based statement (see
 * apply/setrun.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply_int.h"
#include "apply/sqlgen.h"
#include "common/pgarray.h"
#include "common/pgbinary.h"
#include "common/value.h"

#define DATEARRAYOID 1182 /* date[] (pg_type.h is not a client header) */

/* FNV-1a of the column's three names, each with its terminator. */
static uint64_t coltype_hash(const char *schema, const char *table,
                             const char *column)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[3] = {schema, table, column};
    for (int i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
            h = (h ^ *p) * 1099511628211ULL;
            if (!*p)
                break;
        }
    return h;
}

/* The index over coltypes (open addressing; a slot holds an entry's
 * place + 1, 0 empty), at most half full: the per-row lookups of every
 * operation's columns (wb_setrun_eligible) were a scan of all mapped
 * columns with three strcmp each, a tenth of walbridge's time in a copy. */
static int index_rebuild(wb_setrun *s, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return WB_ENOMEM;
    for (size_t i = 0; i < s->ncoltypes; i++) {
        const wb_coltype *c = &s->coltypes[i];
        size_t k = (size_t)coltype_hash(c->schema, c->table, c->column);
        while (idx[k & (cap - 1)])
            k++;
        idx[k & (cap - 1)] = (uint32_t)(i + 1);
    }
    free(s->index);
    s->index = idx;
    s->index_cap = cap;
    return 0;
}

int wb_setrun_add_coltype(wb_setrun *s, const char *schema, const char *table,
                          const char *column, const char *type, uint32_t oid)
{
    wb_coltype *ct =
        realloc(s->coltypes, (s->ncoltypes + 1) * sizeof(*s->coltypes));
    if (!ct)
        return WB_ENOMEM;
    s->coltypes = ct;
    wb_coltype *c = &s->coltypes[s->ncoltypes++];
    c->schema = strdup(schema);
    c->table = strdup(table);
    c->column = strdup(column);
    c->type = strdup(type);
    c->oid = oid;
    if (!c->schema || !c->table || !c->column || !c->type)
        return WB_ENOMEM;
    size_t cap = s->index_cap ? s->index_cap : 64;
    while (cap < 2 * s->ncoltypes)
        cap *= 2;
    return index_rebuild(s, cap);
}

/* The column's entry, or NULL when unknown. */
static const wb_coltype *find_coltype(const wb_setrun *s, const char *schema,
                                      const char *table, const char *column)
{
    if (!s->index_cap)
        return NULL;
    for (size_t k = (size_t)coltype_hash(schema, table, column);; k++) {
        uint32_t i = s->index[k & (s->index_cap - 1)];
        if (!i)
            return NULL;
        const wb_coltype *c = &s->coltypes[i - 1];
        if (strcmp(c->column, column) == 0 && strcmp(c->table, table) == 0 &&
            strcmp(c->schema, schema) == 0)
            return c;
    }
}

/* The column's array type as read ("0": none), or NULL when unknown. */
static const char *coltype_text(const wb_setrun *s, const char *schema,
                                const char *table, const char *column)
{
    const wb_coltype *c = find_coltype(s, schema, table, column);
    return c ? c->type : NULL;
}

uint32_t wb_setrun_coltype_oid(const wb_setrun *s, const char *schema,
                               const char *table, const char *column)
{
    const wb_coltype *c = find_coltype(s, schema, table, column);
    return c ? c->oid : 0;
}

uint64_t wb_setrun_text_cmp(const wb_setrun *s, const char *schema,
                            const char *table, const char *const *cols,
                            size_t from, size_t n)
{
    uint64_t mask = 0;
    for (size_t i = from; i < n && i < 64; i++)
        if (wb_sql_typoid_lacks_equality(
                wb_setrun_coltype_oid(s, schema, table, cols[i])))
            mask |= (uint64_t)1 << i;
    return mask;
}

const char *wb_setrun_coltype(const wb_setrun *s, const char *schema,
                              const char *table, const char *column)
{
    const char *t = coltype_text(s, schema, table, column);
    return t && strcmp(t, "0") == 0 ? NULL : t;
}

void wb_setrun_free(wb_setrun *s)
{
    for (size_t i = 0; i < s->ncoltypes; i++) {
        free(s->coltypes[i].schema);
        free(s->coltypes[i].table);
        free(s->coltypes[i].column);
        free(s->coltypes[i].type);
    }
    free(s->coltypes);
    s->coltypes = NULL;
    s->ncoltypes = 0;
    free(s->index);
    s->index = NULL;
    s->index_cap = 0;
    for (size_t i = 0; i < s->nnocopy; i++)
        free(s->nocopy[i]);
    free(s->nocopy);
    s->nocopy = NULL;
    s->nnocopy = 0;
    if (s->run) {
        for (size_t i = 0; i < WB_RUN_MAX_COLS; i++)
            wb_strbuf_free(&s->run->arr[i]);
        wb_strbuf_free(&s->run->rows);
        wb_strbuf_free(&s->run->chunk);
    }
    free(s->run);
    s->run = NULL;
}

bool wb_setrun_nocopy(const wb_setrun *s, const char *schema, const char *table)
{
    size_t ls = strlen(schema);
    for (size_t i = 0; i < s->nnocopy; i++)
        if (strncmp(s->nocopy[i], schema, ls) == 0 &&
            s->nocopy[i][ls] == '\x1f' &&
            strcmp(s->nocopy[i] + ls + 1, table) == 0)
            return true;
    return false;
}

int wb_setrun_add_nocopy(wb_setrun *s, const char *schema, const char *table)
{
    char **n = realloc(s->nocopy, (s->nnocopy + 1) * sizeof(*n));
    if (!n)
        return WB_ENOMEM;
    s->nocopy = n;
    size_t len = strlen(schema) + strlen(table) + 2;
    if (!(n[s->nnocopy] = malloc(len)))
        return WB_ENOMEM;
    snprintf(n[s->nnocopy++], len, "%s\x1f%s", schema, table);
    return 0;
}

/*
 * Read, for every column of every mapping target, the OID of its type
 * (a binary array's element type) and of the array type of its type:
 * set-based statements declare their parameters with it, so each array
 * element is read by the column type's own input (or receive) function,
 * without a typmod, and the assignment to the column applies
 * the typmod exactly as for a row statement ("value too long" rather
 * than the silent truncation of an explicit cast to varchar(n) or
 * character).  Columns that are arrays themselves have no array type
 * ("0"): unnest would flatten them, so their runs are for COPY only
 * (inserts), sent row by row without it.  A target that does not exist is
 * skipped: its first row statement will report it properly.
 */
static int load_table(wb_apply *a, const wb_config_table *t, wb_error *err)
{
    const char *p[2] = {t->schema, t->table};
    PGresult *res;
    int rc = wb_apply_exec(a,
                           "SELECT a.attname, t.typarray, a.atttypid "
                           "FROM pg_attribute a "
                           "JOIN pg_type t ON t.oid = a.atttypid "
                           "JOIN pg_class c ON c.oid = a.attrelid "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = $1 AND c.relname = $2 "
                           "AND a.attnum > 0 AND NOT a.attisdropped",
                           2, p, PGRES_TUPLES_OK, &res,
                           "could not read the target's column types", err);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        rc = wb_setrun_add_coltype(
            &a->set, t->schema, t->table, PQgetvalue(res, i, 0),
            PQgetvalue(res, i, 1),
            (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10));
    PQclear(res);
    return rc ? wb_error_set(err, WB_ENOMEM, "out of memory") : 0;
}

int wb_apply_load_coltypes(wb_apply *a, wb_error *err)
{
    const wb_setrun *s = &a->set;
    for (size_t m = 0; m < a->cfg->nmappings; m++)
        for (size_t k = 0; k < a->cfg->mappings[m].nto; k++) {
            const wb_config_table *t = &a->cfg->mappings[m].tos[k];
            bool seen = false;
            for (size_t i = 0; i < s->ncoltypes && !seen; i++)
                seen = strcmp(s->coltypes[i].schema, t->schema) == 0 &&
                       strcmp(s->coltypes[i].table, t->table) == 0;
            int rc;
            if (!seen && (rc = load_table(a, t, err)) != 0)
                return rc;
        }
    return 0;
}

/* op's i-th value in a run's column order: an update's set (its first
 * nkeys the new key values) then its old keys, else keys then set. */
static const wb_op_value *op_col(const wb_target_op *op, size_t i)
{
    if (op->kind == WB_OP_UPDATE)
        return i < op->nset ? &op->set[i] : &op->keys[i - op->nset];
    return i < op->nkeys ? &op->keys[i] : &op->set[i - op->nkeys];
}

/* Are the types of all op's columns known?  *array: one is an array. */
static bool scan_types(const wb_setrun *s, const wb_target_op *op, bool *array)
{
    *array = false;
    for (size_t i = 0; i < op->nkeys + op->nset; i++) {
        const char *t =
            coltype_text(s, op->schema, op->table, op_col(op, i)->column);
        if (!t)
            return false;
        *array = *array || strcmp(t, "0") == 0;
    }
    return true;
}

/* What wb_setrun_eligible asks but the columns' types: an op of the
 * active run's shape has them known already. */
static bool eligible_op(const wb_setrun *s, const wb_target_op *op, wb_lsn lsn)
{
    if (!s->enabled || lsn <= s->rowmode_until)
        return false;
    /* Row statements only: the set statements look nothing up (yet) and
     * compare only an upsert's row with what it would write; a cast on
     * the target is a date[] parameter. */
    if ((op->skip_unchanged && op->kind != WB_OP_UPSERT) || op->has_lookup ||
        op->conflict)
        return false;
    if (op->nkeys + op->nset > WB_RUN_MAX_COLS || op->nkeys == 0)
        return false;
    switch (op->kind) {
    case WB_OP_UPSERT:
    case WB_OP_DELETE:
        break;
    case WB_OP_UPDATE:
        if (!op->insert_if_missing || op->nset < op->nkeys)
            return false;
        break;
    default:
        return false;
    }
    /* A binary run sends binary arrays and binary COPY: a value that
     * came as text (a type without a send function) goes row by row. */
    for (size_t i = 0; op->binary && i < op->nkeys + op->nset; i++) {
        const char *v = op_col(op, i)->value;
        if (v && !wb_value_binary(v))
            return false;
    }
    return true;
}

/* Are the types of op's columns known, and fit for a run?  An array
 * column cannot go through unnest (it would be flattened): such a run is
 * only for COPY, and sent row by row without it. */
static bool types_fit(const wb_setrun *s, const wb_target_op *op)
{
    bool array;
    if (!scan_types(s, op, &array))
        return false;
    return !array || (op->kind == WB_OP_UPSERT && s->copy_min_rows > 0);
}

bool wb_setrun_eligible(const wb_setrun *s, const wb_target_op *op, wb_lsn lsn)
{
    return eligible_op(s, op, lsn) && types_fit(s, op);
}

bool wb_setrun_has_array(const wb_setrun *s, const wb_target_op *op)
{
    bool array;
    scan_types(s, op, &array);
    return array;
}

uint64_t wb_setrun_key_hash(const wb_op_value *v, size_t n, bool binary)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        const char *p = v[i].value ? v[i].value : "";
        size_t len = !v[i].value ? 0 : binary ? wb_value_len(p) : strlen(p);
        for (size_t j = 0; j < len; j++)
            h = (h ^ (unsigned char)p[j]) * 1099511628211ULL;
        h = (h ^ (v[i].value ? 0x1f : 0x1e)) * 1099511628211ULL;
    }
    return h ? h : 1;
}

/* A slot keeps 48 bits of a key's hash; the generation takes the 16
 * above them. */
#define HASH_BITS 48
#define HASH_MASK ((UINT64_C(1) << HASH_BITS) - 1)

bool wb_setrun_keyset_add(wb_setrun_keyset *ks, uint64_t h)
{
    if (ks->gen == 0) /* a zeroed set: its first generation */
        ks->gen = 1;
    uint64_t want = (h & HASH_MASK) | ((uint64_t)ks->gen << HASH_BITS);
    for (size_t i = h % WB_RUN_KEYSET;; i = (i + 1) % WB_RUN_KEYSET) {
        if (ks->slot[i] >> HASH_BITS != ks->gen) { /* free in this run */
            ks->slot[i] = want;
            return true;
        }
        if (ks->slot[i] == want)
            return false;
    }
}

void wb_setrun_keyset_clear(wb_setrun_keyset *ks)
{
    if (++ks->gen == 0) { /* wrapped: old slots would count again */
        memset(ks->slot, 0, sizeof(ks->slot));
        ks->gen = 1;
    }
}

wb_lsn wb_setrun_next_row(const wb_setrun_run *r, size_t *off,
                          const char **vals)
{
    const char *p = r->rows.data + *off;
    wb_lsn lsn;
    memcpy(&lsn, p, sizeof(lsn));
    p += sizeof(lsn);
    for (size_t c = 0; c < r->ncols; c++) {
        if (*p++ == 'n') {
            vals[c] = NULL;
            continue;
        }
        if (r->binary) {
            vals[c] = p + WB_VALUE_HDR;
            p += WB_VALUE_HDR + wb_value_len(vals[c]) + 1;
            continue;
        }
        vals[c] = p;
        p += strlen(p) + 1;
    }
    *off = (size_t)(p - r->rows.data);
    return lsn;
}

static int build_set_sql(const void *arg, wb_strbuf *sql)
{
    const wb_setrun_run *r = arg;
    wb_sql_set s = {&r->shape, r->cols, r->casts,   r->ncols,
                    r->nkeys,  r->nset, r->text_cmp};
    return wb_sql_set_run(sql, &s);
}

/* The completion of a set statement: it->kind the op, it->n its rows. */
static int set_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    char what[320];

    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
        snprintf(what, sizeof(what),
                 "could not %s \"%s.%s\" for mapping \"%s\"",
                 wb_apply_op_verb((wb_op_kind)it->kind), it->schema, it->table,
                 it->mapping);
        return wb_apply_fail(a, it, res, what, true, NULL, true, err);
    }
    if (it->kind == WB_OP_UPDATE) /* counted: see wb_sql_counted */
        a->pending.written +=
            PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    else
        a->pending.written += strtoull(PQcmdTuples(res), NULL, 10);
    return 0;
}

void wb_apply_run_reset(wb_apply *a)
{
    wb_setrun_run *r = a->set.run;
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_reset(&r->arr[i]);
    wb_strbuf_reset(&r->rows);
    wb_strbuf_reset(&r->chunk);
    wb_setrun_keyset_clear(&r->keyset);
    r->nrows = r->bytes = 0;
    r->copied_rows = r->copied_off = 0;
    r->active = false;
}

/* One binary array per column of a binary run, of the target column's
 * type (the parameter is declared as its array type). */
static int build_binary_arrays(const wb_setrun *s, wb_setrun_run *r)
{
    const char *vals[WB_RUN_MAX_COLS];
    wb_pgbin_array arr[WB_RUN_MAX_COLS];
    size_t off = 0;
    int rc;
    for (size_t i = 0; i < r->ncols; i++) {
        wb_strbuf_reset(&r->arr[i]);
        uint32_t oid = wb_setrun_coltype_oid(s, r->shape.schema, r->shape.table,
                                             r->cols[i]);
        if ((rc = wb_pgbin_array_begin(&arr[i], &r->arr[i], oid)) != 0)
            return rc;
    }
    for (size_t n = 0; n < r->nrows; n++) {
        wb_setrun_next_row(r, &off, vals);
        for (size_t i = 0; i < r->ncols; i++)
            if ((rc = wb_pgbin_array_add(&arr[i], vals[i])) != 0)
                return rc;
    }
    for (size_t i = 0; i < r->ncols; i++)
        if ((rc = wb_pgbin_array_finish(&arr[i])) != 0)
            return rc;
    return 0;
}

/* One text[] literal per column, built from the run's rows. */
static int build_arrays(const wb_setrun *s, wb_setrun_run *r)
{
    const char *vals[WB_RUN_MAX_COLS];
    size_t off = 0;
    int rc;
    if (r->binary)
        return build_binary_arrays(s, r);
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_reset(&r->arr[i]);
    for (size_t n = 0; n < r->nrows; n++) {
        wb_setrun_next_row(r, &off, vals);
        for (size_t i = 0; i < r->ncols; i++)
            if ((rc = wb_pgarray_add(&r->arr[i], vals[i])) != 0)
                return rc;
    }
    for (size_t i = 0; i < r->ncols; i++)
        if ((rc = wb_pgarray_finish(&r->arr[i])) != 0)
            return rc;
    return 0;
}

int wb_apply_run_flush(wb_apply *a, wb_error *err)
{
    wb_setrun_run *r = a->set.run;
    if (!r || !r->active || r->nrows == 0)
        return 0;
    if (r->copy && (a->pipe.copying || r->nrows >= a->set.copy_min_rows))
        return wb_apply_copy_finish(a, err);
    return wb_apply_run_send(a, err);
}

static int send_set(wb_apply *a, wb_error *err);

/* The run row by row, each the statement it would have been alone (a run
 * with an array column, which unnest would flatten). */
static int send_rows(wb_apply *a, wb_error *err)
{
    wb_setrun_run *r = a->set.run;
    wb_op_value cols[WB_RUN_MAX_COLS];
    const char *vals[WB_RUN_MAX_COLS];
    wb_target_op op = r->shape;
    size_t off = 0;
    int rc;

    op.keys = cols;
    op.set = cols + r->nkeys;
    op.binary = r->binary;
    for (size_t n = 0; n < r->nrows; n++) {
        /* Room in the queue: a run can be longer than the queue. */
        if (wb_pipe_queued(&a->pipe) + 16 > WB_PIPE_MAX_ITEMS &&
            ((rc = wb_pipe_kick(&a->pipe, err)) != 0 ||
             (rc = wb_pipe_wait(&a->pipe, WB_RUN_WAIT_MS, err)) != 0))
            return rc;
        wb_lsn lsn = wb_setrun_next_row(r, &off, vals);
        for (size_t i = 0; i < r->ncols; i++)
            cols[i] = (wb_op_value){r->cols[i], vals[i], NULL};
        if ((rc = wb_apply_row_send(a, &op, lsn, err)) != 0)
            return rc;
    }
    wb_apply_run_reset(a);
    return 0;
}

int wb_apply_run_send(wb_apply *a, wb_error *err)
{
    return a->set.run->rows_only ? send_rows(a, err) : send_set(a, err);
}

/* The run as one set statement. */
static int send_set(wb_apply *a, wb_error *err)
{
    wb_setrun_run *r = a->set.run;
    const char *params[WB_RUN_MAX_COLS];
    int lengths[WB_RUN_MAX_COLS], formats[WB_RUN_MAX_COLS];
    Oid types[WB_RUN_MAX_COLS];
    char key[1100];
    int rc;

    snprintf(key, sizeof(key), "S\x1f%s", r->key);
    /* A value cast on the target is sent in a date[]: date_in reads each
     * element (a bad one fails the statement, and the batch is applied
     * again row by row, which names the row and column); sql_cast hands
     * the date to the column as the row statement does. */
    for (size_t i = 0; i < r->ncols; i++)
        types[i] =
            r->casts[i]
                ? DATEARRAYOID
                : (Oid)strtoul(wb_setrun_coltype(&a->set, r->shape.schema,
                                                 r->shape.table, r->cols[i]),
                               NULL, 10);
    wb_pipe_item prep = wb_apply_prep_item(a, r->shape.mapping, r->shape.schema,
                                           r->shape.table, r->last_lsn, true);
    wb_stmt_ctx ctx = {&prep, (int)r->ncols, types};
    const char *name;
    if ((rc = wb_stmt_get(&a->stmts, &a->pipe, key, build_set_sql, r, &ctx,
                          &name, err)))
        return rc;
    if ((rc = build_arrays(&a->set, r)) != 0)
        return wb_error_set(err, rc, "set-based run too large");
    for (size_t i = 0; i < r->ncols; i++) {
        params[i] = r->arr[i].data;
        lengths[i] = (int)r->arr[i].len;
        formats[i] = r->binary;
    }
    wb_pipe_item it = prep;
    it.done = set_done;
    it.kind = (int)r->shape.kind;
    it.n = r->nrows;
    it.bytes = r->bytes;
    if ((rc = wb_pipe_send_prepared_bin(
             &a->pipe, name, (int)r->ncols, params, lengths, formats, &it,
             "could not send changes to the target", err)) != 0)
        return rc;
    a->stats.ops += r->nrows;
    a->stats.set_statements++;
    wb_apply_run_reset(a);
    return wb_pipe_flush_request(&a->pipe, err);
}

int wb_apply_run_discard(wb_apply *a, wb_error *err)
{
    int rc = a->pipe.copying ? wb_apply_copy_abort(a, err) : 0;
    wb_apply_run_reset(a);
    return rc;
}

/* Start a run of op's shape (key: its shape key). */
static void start_run(wb_apply *a, wb_setrun_run *r, const wb_target_op *op,
                      const char *key)
{
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->shape = *op;
    r->nkeys = op->nkeys;
    r->nset = op->nset;
    r->ncols = op->nkeys + op->nset;
    /* In a run, a lookup is a cast on the target (wb_setrun_eligible),
     * and keys are never cast. */
    for (size_t i = 0; i < r->ncols; i++) {
        const wb_op_value *v = op_col(op, i);
        r->cols[i] = v->column;
        r->casts[i] = v->lookup ? v->lookup->cast : NULL;
    }
    /* COPY takes inserts whose values go to their columns unchanged; not
     * rows that mostly are there already (skip_unchanged: a re-sync's). */
    r->copy = a->set.copy_min_rows > 0 && op->kind == WB_OP_UPSERT &&
              !op->skip_unchanged &&
              !wb_setrun_nocopy(&a->set, op->schema, op->table);
    for (size_t i = 0; i < r->ncols && r->copy; i++)
        r->copy = r->casts[i] == NULL;
    r->rows_only = wb_setrun_has_array(&a->set, op);
    r->text_cmp = op->skip_unchanged
                      ? wb_setrun_text_cmp(&a->set, op->schema, op->table,
                                           r->cols, r->nkeys, r->ncols)
                      : 0;
    r->binary = op->binary;
    r->active = true;
}

static int store_value(wb_strbuf *rows, const char *v, bool binary)
{
    if (!v)
        return wb_strbuf_append(rows, "n", 1);
    int rc = wb_strbuf_append(rows, "v", 1);
    if (binary) /* the header, the bytes and the NUL, as they are */
        return rc ? rc
                  : wb_strbuf_append(rows, v - WB_VALUE_HDR,
                                     WB_VALUE_HDR + wb_value_len(v) + 1);
    return rc ? rc : wb_strbuf_append(rows, v, strlen(v) + 1);
}

/* op's LSN and values, in the run's column order. */
static int add_values(wb_setrun_run *r, const wb_target_op *op, wb_lsn lsn)
{
    int rc = wb_strbuf_append(&r->rows, (const char *)&lsn, sizeof(lsn));
    for (size_t i = 0; i < r->ncols && !rc; i++)
        rc = store_value(&r->rows, op_col(op, i)->value, r->binary);
    return rc;
}

int wb_apply_run_add(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                     bool *added, wb_error *err)
{
    char keybuf[1024];
    int rc;

    *added = false;
    if (!eligible_op(&a->set, op, lsn))
        return wb_apply_run_flush(a, err);
    if (!a->set.run && !(a->set.run = calloc(1, sizeof(wb_setrun_run))))
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    wb_setrun_run *r = a->set.run;

    /* The key values this op touches: old (match) and new (written).
     * Their slots in the key set are fetched while the shape is worked
     * out: the miss was most of this function's time in a copy. */
    const wb_op_value *newkeys = op->kind == WB_OP_UPDATE ? op->set : op->keys;
    uint64_t hk = wb_setrun_key_hash(op->keys, op->nkeys, op->binary);
    uint64_t hn = wb_setrun_key_hash(newkeys, op->nkeys, op->binary);
    wb_setrun_keyset_prefetch(&r->keyset, hk);
    if (hn != hk)
        wb_setrun_keyset_prefetch(&r->keyset, hn);
    char *key = wb_stmt_shape_key(op, a->cfg_gen, keybuf, sizeof(keybuf));
    if (!key)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (key != keybuf) { /* too long to keep: row by row */
        free(key);
        return wb_apply_run_flush(a, err);
    }
    /* The same shape (table, columns, kind) as the active run: its
     * columns' types were looked up when the run started.  This is most
     * ops of a copy or a bulk load, and the lookup was a tenth of the
     * copy's time in walbridge. */
    bool same =
        r->active && strcmp(r->key, key) == 0 && r->binary == op->binary;
    if (!same && !types_fit(&a->set, op))
        return wb_apply_run_flush(a, err);

    size_t bytes = 0;
    for (size_t i = 0; i < op->nkeys + op->nset; i++) {
        const char *v =
            i < op->nkeys ? op->keys[i].value : op->set[i - op->nkeys].value;
        bytes += (!v ? 0 : op->binary ? wb_value_len(v) : strlen(v)) + 8;
    }

    if (r->active) {
        bool fits =
            r->nrows < (r->copy ? WB_RUN_MAX_COPY_ROWS : WB_RUN_MAX_ROWS) &&
            r->bytes + bytes <= WB_RUN_MAX_BYTES;
        /* A repeated key ends the run before this op. */
        bool fresh = same && fits && wb_setrun_keyset_add(&r->keyset, hk) &&
                     (hn == hk || wb_setrun_keyset_add(&r->keyset, hn));
        if (!fresh && (rc = wb_apply_run_flush(a, err)) != 0)
            return rc;
    }
    if (!r->active) {
        start_run(a, r, op, key);
        wb_setrun_keyset_add(&r->keyset, hk);
        if (hn != hk)
            wb_setrun_keyset_add(&r->keyset, hn);
    }
    if ((rc = add_values(r, op, lsn)) != 0)
        return wb_error_set(err, rc, "out of memory building a set-based run");
    r->nrows++;
    r->bytes += bytes;
    r->last_lsn = lsn;
    a->batch.bytes += bytes;
    *added = true;
    if (r->copy && (a->pipe.copying || r->nrows >= a->set.copy_min_rows))
        return wb_apply_copy_feed(a, err);
    return 0;
}
