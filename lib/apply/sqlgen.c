/*
 * apply/sqlgen.c - the text of walbridge's statements (see apply/sqlgen.h).
 *
 * Built with the sticky-error string builder: the helpers
 * (apply/sqlgen_int.h) return false once the buffer has failed, so each
 * builder can stop early, and the public functions return the buffer's
 * error.  The conflict statement is apply/sqlgen_conflict.c's.
 */
#include <stdio.h>
#include <string.h>

#include "apply/sqlgen.h"
#include "apply/sqlgen_int.h"
#include "common/error.h"

/* ------------------------------------ walbridge's own tables (names.h) */

int wb_sql_pending_summary(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(b,
                                "SELECT count(*), coalesce(extract(epoch FROM "
                                "now() - min(created_at)), 0) FROM %s",
                                rel);
}

int wb_sql_clock_create(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "CREATE TABLE IF NOT EXISTS %s (tbl text NOT NULL, "
        "key text[] NOT NULL, col text NOT NULL, lsn pg_lsn NOT NULL, "
        "md5 text NOT NULL, PRIMARY KEY (tbl, key, col))",
        rel);
}

/* The columns the change wrote ($4, $5) now hold values of its commit;
 * those it left alone ($6, $7) hold older ones, recorded only when the
 * clock has nothing for them yet. */
int wb_sql_clock_change(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "WITH c AS (INSERT INTO %s (tbl, key, col, lsn, md5) "
        "SELECT $1, $2::text[], u.c, $3::pg_lsn, "
        "coalesce(md5(u.v), 'null') "
        "FROM unnest($4::text[], $5::text[]) AS u(c, v) "
        "ON CONFLICT (tbl, key, col) DO UPDATE SET lsn = "
        "EXCLUDED.lsn, md5 = EXCLUDED.md5 RETURNING 1) "
        "INSERT INTO %s (tbl, key, col, lsn, md5) "
        "SELECT $1, $2::text[], u.c, $3::pg_lsn, "
        "coalesce(md5(u.v), 'null') "
        "FROM unnest($6::text[], $7::text[]) AS u(c, v) "
        "ON CONFLICT (tbl, key, col) DO NOTHING",
        rel, rel);
}

/* --------------------------------------------------------- row writes */

/*
 * The SQL for one value of op: $n; for a lookup (a key translated through
 * another table) the subquery that finds it on the target when the
 * statement runs (no row: NULL, as a LEFT JOIN would give); for a cast to
 * date, PostgreSQL's own date input on $n:
 *   (jsonb_populate_record(NULL::rel, jsonb_build_object('c',
 *    CAST($n AS date)::text))).c
 * CAST($n AS date) makes $n a date parameter, so a value that is no date
 * fails when the statement binds it, with "parameter $n" in the error's
 * context (apply.c's wb_apply_fail names the column by it).  The date then
 * reaches the column as its text, read by the column's own type and
 * typmod, which is what assigning the date would store (a text column gets
 * date_out's text, a date column the date), but typed as the column: the
 * statement also compares the value with the column's current one or chooses
 * between them (skip_unchanged, conflicts), which a date would not allow
 * for a text column.
 */
bool wb_sql_value(wb_strbuf *buf, const wb_target_op *op, const wb_op_value *v,
                  int n)
{
    const wb_plugin_lookup *l = v->lookup;
    if (!l)
        return pnum(buf, n);
    if (l->cast) {
        return add(buf, "(pg_catalog.jsonb_populate_record(NULL::") &&
               ident(buf, op->schema) && add(buf, ".") &&
               ident(buf, op->table) &&
               add(buf, ", pg_catalog.jsonb_build_object(") &&
               lit(buf, v->column) && add(buf, ", CAST(") && pnum(buf, n) &&
               add(buf, " AS pg_catalog.") && add(buf, l->cast) &&
               add(buf, ")::pg_catalog.text))).") && ident(buf, v->column);
    }
    return add(buf, "(SELECT ") && ident(buf, l->column) &&
           add(buf, " FROM ") && ident(buf, l->schema) && add(buf, ".") &&
           ident(buf, l->table) && add(buf, " WHERE ") &&
           ident(buf, l->match) && add(buf, " = ") && pnum(buf, n) &&
           add(buf, ")");
}

bool wb_sql_typoid_lacks_equality(uint32_t typoid)
{
    switch (typoid) {
    case 114:  /* json */
    case 199:  /* json[] */
    case 142:  /* xml */
    case 143:  /* xml[] */
    case 600:  /* point */
    case 1017: /* point[] */
        return true;
    default:
        return false;
    }
}

/* Is column (or set entry) i compared as text? */
static bool as_text(uint64_t text_cmp, size_t i)
{
    return i < 64 && (text_cmp >> i & 1);
}

/* Around an expression compared as text (t): "(" expr ")::text". */
static bool text_open(wb_strbuf *sql, bool t)
{
    return add(sql, t ? "(" : "");
}

static bool text_close(wb_strbuf *sql, bool t)
{
    return add(sql, t ? ")::pg_catalog.text" : "");
}

/*
 * skip_unchanged: " AND ROW(t.c..) IS DISTINCT FROM ROW(<values>..)" so an
 * update that would change nothing matches no row, writes no row version
 * and fires no trigger.  excluded: compare with EXCLUDED.c (ON CONFLICT);
 * else with the op's values from parameter first on.  from, to: the set
 * entries compared; those in text_cmp as their text, on both sides: a
 * parameter as (CASE WHEN false THEN alias.c ELSE $n END)::text, which
 * keeps the column's type for it (PostgreSQL types an untyped parameter
 * where it first meets it, and the WHERE comes before the SET: a bare
 * ($n)::text would make it text, which the column refuses).
 */
static bool sql_distinct(wb_strbuf *sql, const wb_target_op *op, size_t from,
                         size_t to, const char *alias, bool excluded, int first,
                         uint64_t text_cmp)
{
    bool ok = add(sql, " ROW(");
    for (size_t i = from; ok && i < to; i++) {
        bool t = as_text(text_cmp, i);
        ok = (i == from || add(sql, ", ")) && text_open(sql, t) &&
             add(sql, alias) && add(sql, ".") &&
             ident(sql, op->set[i].column) && text_close(sql, t);
    }
    ok = ok && add(sql, ") IS DISTINCT FROM ROW(");
    for (size_t i = from; ok && i < to; i++) {
        bool t = as_text(text_cmp, i);
        ok = (i == from || add(sql, ", ")) && text_open(sql, t);
        if (excluded) {
            ok = ok && add(sql, "EXCLUDED.") && ident(sql, op->set[i].column);
        } else {
            if (t)
                ok = ok && add(sql, "CASE WHEN false THEN ") &&
                     add(sql, alias) && add(sql, ".") &&
                     ident(sql, op->set[i].column) && add(sql, " ELSE ");
            ok = ok &&
                 wb_sql_value(sql, op, &op->set[i], first + (int)(i - from)) &&
                 add(sql, t ? " END" : "");
        }
        ok = ok && text_close(sql, t);
    }
    return ok && add(sql, ")");
}

/*
 * An update whose row may be missing on the target, as one statement so
 * that it can be pipelined (a second statement chosen after seeing the
 * row count would run after later changes):
 *   WITH u AS (UPDATE rel SET c = $1.. WHERE k = $n+1.. RETURNING 1),
 *        i AS (INSERT INTO rel (c..) SELECT $1.. WHERE NOT EXISTS
 *              (SELECT 1 FROM u) ON CONFLICT (keys) DO UPDATE SET
 *              nonkey = EXCLUDED.nonkey RETURNING 1)
 *   SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)
 * (the suffix from "RETURNING 1)" on is count_suffix's)
 * The first nkeys set entries are the key columns (router contract).
 */
static bool build_update_or_insert(wb_strbuf *sql, const wb_target_op *op,
                                   uint64_t text_cmp)
{
    int param = 1;
    int keyparam = (int)op->nset + 1;
    bool ok = add(sql, "WITH u AS (UPDATE ") && add_rel(sql, op) &&
              add(sql, " AS t SET ");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column) &&
             add(sql, " = ") && wb_sql_value(sql, op, &op->set[i], param++);
    ok = ok && add(sql, " WHERE ");
    for (size_t i = 0; ok && i < op->nkeys; i++)
        ok = (i == 0 || add(sql, " AND ")) && ident(sql, op->keys[i].column) &&
             add(sql, " = ") && pnum(sql, param++);
    if (op->skip_unchanged)
        ok = ok && add(sql, " AND") &&
             sql_distinct(sql, op, 0, op->nset, "t", false, 1, text_cmp);
    ok = ok && add(sql, " RETURNING 1), i AS (INSERT INTO ") &&
         add_rel(sql, op) && add(sql, " AS t (");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column);
    ok = ok && add(sql, ") SELECT ");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) &&
             wb_sql_value(sql, op, &op->set[i], (int)i + 1);
    ok = ok && add(sql, " WHERE NOT EXISTS (SELECT 1 FROM u)");
    if (op->skip_unchanged) {
        /* The row is there and already right: do not try to insert it. */
        ok = ok && add(sql, " AND NOT EXISTS (SELECT 1 FROM ") &&
             add_rel(sql, op) && add(sql, " WHERE ");
        for (size_t i = 0; ok && i < op->nkeys; i++)
            ok = (i == 0 || add(sql, " AND ")) &&
                 ident(sql, op->keys[i].column) && add(sql, " = ") &&
                 pnum(sql, keyparam + (int)i);
        ok = ok && add(sql, ")");
    }
    ok = ok && add(sql, " ON CONFLICT (");
    for (size_t i = 0; ok && i < op->nkeys; i++)
        ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column);
    if (op->nset == op->nkeys)
        return ok && add(sql, ") DO NOTHING");
    ok = ok && add(sql, ") DO UPDATE SET ");
    for (size_t i = op->nkeys; ok && i < op->nset; i++)
        ok = (i == op->nkeys || add(sql, ", ")) &&
             ident(sql, op->set[i].column) && add(sql, " = EXCLUDED.") &&
             ident(sql, op->set[i].column);
    if (op->skip_unchanged)
        ok = ok && add(sql, " WHERE") &&
             sql_distinct(sql, op, op->nkeys, op->nset, "t", true, 0, text_cmp);
    return ok;
}

/*
 * An update-or-insert is two data-modifying CTEs (u, i): the command tag
 * would count only the insert, so the statement returns the rows written
 * by both (read by apply.c's row_done, see wb_sql_counted).
 */
static bool count_suffix(wb_strbuf *sql)
{
    return add(sql, " RETURNING 1) SELECT (SELECT count(*) FROM u) "
                    "+ (SELECT count(*) FROM i)");
}

bool wb_sql_counted(const wb_target_op *op)
{
    return op->kind == WB_OP_UPDATE && op->insert_if_missing &&
           op->nset >= op->nkeys && !op->conflict;
}

static bool build_row(wb_strbuf *sql, const wb_target_op *op, uint64_t text_cmp)
{
    bool ok = true;
    int param = 1;

    switch (op->kind) {
    case WB_OP_UPSERT:
        ok =
            add(sql, "INSERT INTO ") && add_rel(sql, op) && add(sql, " AS t (");
        for (size_t i = 0; ok && i < op->nkeys + op->nset; i++) {
            const wb_op_value *v =
                i < op->nkeys ? &op->keys[i] : &op->set[i - op->nkeys];
            ok = (i == 0 || add(sql, ", ")) && ident(sql, v->column);
        }
        ok = ok && add(sql, ") VALUES (");
        for (size_t i = 0; ok && i < op->nkeys + op->nset; i++) {
            const wb_op_value *v =
                i < op->nkeys ? &op->keys[i] : &op->set[i - op->nkeys];
            ok =
                (i == 0 || add(sql, ", ")) && wb_sql_value(sql, op, v, param++);
        }
        ok = ok && add(sql, ") ON CONFLICT (");
        for (size_t i = 0; ok && i < op->nkeys; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, op->keys[i].column);
        if (op->nset == 0)
            return ok && add(sql, ") DO NOTHING");
        ok = ok && add(sql, ") DO UPDATE SET ");
        for (size_t i = 0; ok && i < op->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column) &&
                 add(sql, " = EXCLUDED.") && ident(sql, op->set[i].column);
        if (op->skip_unchanged)
            ok = ok && add(sql, " WHERE") &&
                 sql_distinct(sql, op, 0, op->nset, "t", true, 0, text_cmp);
        return ok;
    case WB_OP_UPDATE:
        if (op->insert_if_missing && op->nset >= op->nkeys)
            return build_update_or_insert(sql, op, text_cmp) &&
                   count_suffix(sql);
        ok = add(sql, "UPDATE ") && add_rel(sql, op) && add(sql, " AS t SET ");
        for (size_t i = 0; ok && i < op->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column) &&
                 add(sql, " = ") && wb_sql_value(sql, op, &op->set[i], param++);
        break;
    case WB_OP_DELETE:
        ok = add(sql, "DELETE FROM ") && add_rel(sql, op);
        break;
    case WB_OP_TRUNCATE:
        return add(sql, "TRUNCATE ") && add_rel(sql, op);
    }
    ok = ok && add(sql, " WHERE ");
    for (size_t i = 0; ok && i < op->nkeys; i++)
        ok = (i == 0 || add(sql, " AND ")) && ident(sql, op->keys[i].column) &&
             add(sql, " = ") && pnum(sql, param++);
    if (op->kind == WB_OP_UPDATE && op->skip_unchanged)
        ok = ok && add(sql, " AND") &&
             sql_distinct(sql, op, 0, op->nset, "t", false, 1, text_cmp);
    return ok;
}

/* v.aN: already of the column's type (typed parameters, see setrun.c's
 * load_table).  A column cast on the target (a date[] parameter)
 * reaches the column as in the row statement (wb_sql_value): the date's text
 * read by the column's type. */
static bool sql_cast(const wb_sql_set *r, wb_strbuf *sql, const char *alias,
                     size_t n)
{
    char a[32];
    snprintf(a, sizeof(a), "v.%s%zu", alias, n);
    if (!r->casts || !r->casts[n - 1])
        return add(sql, a);
    const char *col = r->cols[n - 1];
    return add(sql, "(pg_catalog.jsonb_populate_record(NULL::") &&
           ident(sql, r->op->schema) && add(sql, ".") &&
           ident(sql, r->op->table) &&
           add(sql, ", pg_catalog.jsonb_build_object(") && lit(sql, col) &&
           add(sql, ", ") && add(sql, a) && add(sql, "::pg_catalog.text))).") &&
           ident(sql, col);
}

/* The run's set columns (after its keys), each as prefix.column, or its
 * text for a column compared as text (wb_sql_typoid_lacks_equality). */
static bool set_columns(wb_strbuf *sql, const wb_sql_set *r, const char *prefix)
{
    bool ok = true;
    for (size_t i = r->nkeys; ok && i < r->ncols; i++) {
        bool t = as_text(r->text_cmp, i);
        ok = (i == r->nkeys || add(sql, ", ")) && text_open(sql, t) &&
             add(sql, prefix) && ident(sql, r->cols[i]) && text_close(sql, t);
    }
    return ok;
}

/* The statement for a run of r's shape, from its unnest(...) AS v(...). */
static bool build_set(wb_strbuf *sql, const wb_sql_set *r, const char *from)
{
    const wb_target_op *op = r->op;
    bool ok;

    /* v(a1..an): the run's columns in parameter order */
    ok = op->kind != WB_OP_UPDATE || add(sql, "WITH v AS (SELECT * ");
    if (!ok)
        return false;
    switch (op->kind) {
    case WB_OP_UPSERT:
        /* params: keys, then set */
        ok = add(sql, "INSERT INTO ") && add_rel(sql, op) &&
             add(sql, op->skip_unchanged ? " AS t (" : " (");
        for (size_t i = 0; ok && i < r->ncols; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        ok = ok && add(sql, ") SELECT ");
        for (size_t i = 0; ok && i < r->ncols; i++)
            ok = (i == 0 || add(sql, ", ")) && sql_cast(r, sql, "a", i + 1);
        ok = ok && add(sql, " FROM ") && add(sql, from);
        /* A row already right is not written (the online re-sync's rows,
         * most of which the target holds already), and not even locked:
         * ON CONFLICT DO UPDATE locks the row it finds before its WHERE
         * (a WAL record per row), so rows equal to the target's are left
         * out before, as the statement's snapshot shows them.  A row
         * another session changes after that snapshot is left out
         * unlocked, as if it had been written before that change
         * (walbridge's own writes all go through this session). */
        if (op->skip_unchanged && r->nset > 0) {
            ok = ok && add(sql, " WHERE NOT EXISTS (SELECT FROM ") &&
                 add_rel(sql, op) && add(sql, " x WHERE ");
            for (size_t i = 0; ok && i < r->nkeys; i++)
                ok = (i == 0 || add(sql, " AND ")) && add(sql, "x.") &&
                     ident(sql, r->cols[i]) && add(sql, " = ") &&
                     sql_cast(r, sql, "a", i + 1);
            ok = ok && add(sql, " AND ROW(") && set_columns(sql, r, "x.") &&
                 add(sql, ") IS NOT DISTINCT FROM ROW(");
            for (size_t i = r->nkeys; ok && i < r->ncols; i++) {
                bool t = as_text(r->text_cmp, i);
                ok = (i == r->nkeys || add(sql, ", ")) && text_open(sql, t) &&
                     sql_cast(r, sql, "a", i + 1) && text_close(sql, t);
            }
            ok = ok && add(sql, "))");
        }
        ok = ok && add(sql, " ON CONFLICT (");
        for (size_t i = 0; ok && i < r->nkeys; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        if (r->nset == 0)
            return ok && add(sql, ") DO NOTHING");
        ok = ok && add(sql, ") DO UPDATE SET ");
        for (size_t i = r->nkeys; ok && i < r->ncols; i++)
            ok = (i == r->nkeys || add(sql, ", ")) && ident(sql, r->cols[i]) &&
                 add(sql, " = EXCLUDED.") && ident(sql, r->cols[i]);
        if (op->skip_unchanged) {
            ok = ok && add(sql, " WHERE ROW(") && set_columns(sql, r, "t.") &&
                 add(sql, ") IS DISTINCT FROM ROW(") &&
                 set_columns(sql, r, "EXCLUDED.") && add(sql, ")");
        }
        return ok;
    case WB_OP_DELETE:
        ok = add(sql, "DELETE FROM ") && add_rel(sql, op) &&
             add(sql, " t USING ") && add(sql, from) && add(sql, " WHERE ");
        for (size_t i = 0; ok && i < r->nkeys; i++)
            ok = (i == 0 || add(sql, " AND ")) && add(sql, "t.") &&
                 ident(sql, r->cols[i]) && add(sql, " = ") &&
                 sql_cast(r, sql, "a", i + 1);
        return ok;
    case WB_OP_UPDATE:
        /* params: set (first nkeys are the new key values), then old keys;
         * as in build_update_or_insert, one statement updates the rows that
         * are there and inserts the others. */
        ok = add(sql, "FROM ") && add(sql, from) &&
             add(sql, "), u AS (UPDATE ") && add_rel(sql, op) &&
             add(sql, " t SET ");
        for (size_t i = 0; ok && i < r->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]) &&
                 add(sql, " = ") && sql_cast(r, sql, "a", i + 1);
        ok = ok && add(sql, " FROM v WHERE ");
        for (size_t i = 0; ok && i < r->nkeys; i++)
            ok = (i == 0 || add(sql, " AND ")) && add(sql, "t.") &&
                 ident(sql, r->cols[r->nset + i]) && add(sql, " = ") &&
                 sql_cast(r, sql, "a", r->nset + i + 1);
        ok = ok && add(sql, " RETURNING ");
        for (size_t i = 0; ok && i < r->nkeys; i++) {
            char p[48];
            snprintf(p, sizeof(p), "%sv.a%zu", i ? ", " : "", r->nset + i + 1);
            ok = add(sql, p);
        }
        ok = ok && add(sql, "), i AS (INSERT INTO ") && add_rel(sql, op) &&
             add(sql, " (");
        for (size_t i = 0; ok && i < r->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        ok = ok && add(sql, ") SELECT ");
        for (size_t i = 0; ok && i < r->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && sql_cast(r, sql, "a", i + 1);
        ok = ok && add(sql, " FROM v WHERE NOT EXISTS (SELECT 1 "
                            "FROM u WHERE ");
        for (size_t i = 0; ok && i < r->nkeys; i++) {
            char p[80];
            snprintf(p, sizeof(p), "%su.a%zu = v.a%zu", i ? " AND " : "",
                     r->nset + i + 1, r->nset + i + 1);
            ok = add(sql, p);
        }
        ok = ok && add(sql, ") ON CONFLICT (");
        for (size_t i = 0; ok && i < r->nkeys; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        if (r->nset == r->nkeys)
            return ok && add(sql, ") DO NOTHING");
        ok = ok && add(sql, ") DO UPDATE SET ");
        for (size_t i = r->nkeys; ok && i < r->nset; i++)
            ok = (i == r->nkeys || add(sql, ", ")) && ident(sql, r->cols[i]) &&
                 add(sql, " = EXCLUDED.") && ident(sql, r->cols[i]);
        return ok;
    default:
        return false;
    }
}

int wb_sql_set_run(wb_strbuf *sql, const wb_sql_set *r)
{
    wb_strbuf from = {.limit = sql->limit};
    int param = 1;

    wb_strbuf_add(&from, "unnest(");
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_append_fmt(&from, "%s$%d", i ? ", " : "", param++);
    wb_strbuf_add(&from, ") AS v(");
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_append_fmt(&from, "%sa%zu", i ? ", " : "", i + 1);
    wb_strbuf_add(&from, ")");
    bool ok = !from.err && build_set(sql, r, from.data) &&
              (r->op->kind != WB_OP_UPDATE || count_suffix(sql));
    int rc = from.err ? from.err : done(sql, ok);
    wb_strbuf_free(&from);
    return rc;
}

int wb_sql_copy_in(wb_strbuf *b, const char *schema, const char *table,
                   const char *const *cols, size_t ncols, bool binary)
{
    wb_strbuf_add(b, "COPY ");
    wb_strbuf_append_rel(b, schema, table);
    wb_strbuf_add(b, " (");
    for (size_t i = 0; i < ncols; i++) {
        if (i)
            wb_strbuf_add(b, ", ");
        wb_strbuf_append_ident(b, cols[i]);
    }
    wb_strbuf_add(b, binary ? ") FROM STDIN WITH (FORMAT binary)"
                            : ") FROM STDIN");
    return done(b, ncols > 0);
}

int wb_sql_row(wb_strbuf *b, const wb_target_op *op, uint64_t text_cmp)
{
    if (op->conflict) {
        /* callers use wb_sql_conflict for these */
        return b->err ? b->err : WB_EINVAL;
    }
    return done(b, build_row(b, op, text_cmp));
}
