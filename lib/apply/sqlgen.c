/*
 * apply/sqlgen.c - the text of walbridge's statements (see apply/sqlgen.h).
 *
 * Built with the sticky-error string builder: the helpers below return
 * false once the buffer has failed, so each builder can stop early, and
 * the public functions return the buffer's error.
 */
#include <stdio.h>
#include <string.h>

#include "apply/sqlgen.h"
#include "common/error.h"

static bool add(wb_strbuf *b, const char *s)
{
    return wb_strbuf_add(b, s) == 0;
}

static bool ident(wb_strbuf *b, const char *id)
{
    return wb_strbuf_append_ident(b, id) == 0;
}

static bool lit(wb_strbuf *b, const char *s)
{
    return wb_strbuf_append_literal(b, s) == 0;
}

static bool pnum(wb_strbuf *b, int n)
{
    return wb_strbuf_append_param(b, n) == 0;
}

static bool add_rel(wb_strbuf *b, const wb_target_op *op)
{
    return wb_strbuf_append_rel(b, op->schema, op->table) == 0;
}

/* The buffer's error, or WB_EINVAL when a builder refused the shape. */
static int done(wb_strbuf *b, bool ok)
{
    return b->err ? b->err : ok ? 0 : WB_EINVAL;
}

/* ------------------------------------------------- walbridge's tables */

int wb_sql_create_schema(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "CREATE SCHEMA IF NOT EXISTS ");
    return wb_strbuf_append_ident(b, schema);
}

int wb_sql_own_rel(wb_strbuf *b, const char *schema, const char *name)
{
    wb_strbuf_append_ident(b, schema);
    wb_strbuf_add(b, ".");
    return wb_strbuf_add(b, name);
}

int wb_sql_progress_create(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(b,
                                "CREATE TABLE IF NOT EXISTS %s ("
                                "slot text PRIMARY KEY, end_lsn pg_lsn NOT "
                                "NULL, commit_time timestamptz, "
                                "updated_at timestamptz NOT NULL DEFAULT "
                                "now())",
                                rel);
}

int wb_sql_progress_store(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "INSERT INTO %s (slot, end_lsn, commit_time, updated_at) "
        "VALUES ($1, $2::pg_lsn, " WB_SQL_PG_EPOCH
        " + $3::bigint * interval '1 microsecond', now()) "
        "ON CONFLICT (slot) DO UPDATE SET end_lsn = EXCLUDED.end_lsn, "
        "commit_time = EXCLUDED.commit_time, updated_at = now()",
        rel);
}

int wb_sql_progress_guard(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "SELECT (CASE WHEN EXISTS (SELECT 1 FROM %s WHERE slot = $2 "
        "AND end_lsn >= $1::pg_lsn) THEN '1' ELSE 'walbridge: the "
        "previous batch was not committed' END)::int",
        rel);
}

int wb_sql_progress_read(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(b, "SELECT end_lsn FROM %s WHERE slot = $1",
                                rel);
}

int wb_sql_identity_create(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "CREATE TABLE IF NOT EXISTS ");
    wb_sql_own_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " (slot text PRIMARY KEY, system_identifier "
                            "text NOT NULL, timeline integer NOT NULL, "
                            "recorded_at timestamptz NOT NULL DEFAULT now())");
}

int wb_sql_identity_read(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "SELECT system_identifier, timeline FROM ");
    wb_sql_own_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " WHERE slot = $1");
}

int wb_sql_identity_insert(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "INSERT INTO ");
    wb_sql_own_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " (slot, system_identifier, timeline) VALUES "
                            "($1, $2, $3) ON CONFLICT (slot) DO NOTHING");
}

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
 * context (apply.c's item_error names the column by it).  The date then
 * reaches the column as its text, read by the column's own type and
 * typmod, which is what assigning the date would store (a text column gets
 * date_out's text, a date column the date), but typed as the column: the
 * statement also compares the value with the column's current one or chooses
 * between them (skip_unchanged, conflicts), which a date would not allow
 * for a text column.
 */
static bool sql_value(wb_strbuf *buf, const wb_target_op *op,
                      const wb_op_value *v, int n)
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

/*
 * skip_unchanged: " AND ROW(t.c..) IS DISTINCT FROM ROW(<values>..)" so an
 * update that would change nothing matches no row, writes no row version
 * and fires no trigger.  excluded: compare with EXCLUDED.c (ON CONFLICT);
 * else with the op's values from parameter first on.  from, to: the set
 * entries compared.
 */
static bool sql_distinct(wb_strbuf *sql, const wb_target_op *op, size_t from,
                         size_t to, const char *alias, bool excluded, int first)
{
    bool ok = add(sql, " ROW(");
    for (size_t i = from; ok && i < to; i++)
        ok = (i == from || add(sql, ", ")) && add(sql, alias) &&
             add(sql, ".") && ident(sql, op->set[i].column);
    ok = ok && add(sql, ") IS DISTINCT FROM ROW(");
    for (size_t i = from; ok && i < to; i++) {
        ok = i == from || add(sql, ", ");
        if (excluded)
            ok = ok && add(sql, "EXCLUDED.") && ident(sql, op->set[i].column);
        else
            ok = ok && sql_value(sql, op, &op->set[i], first + (int)(i - from));
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
static bool build_update_or_insert(wb_strbuf *sql, const wb_target_op *op)
{
    int param = 1;
    int keyparam = (int)op->nset + 1;
    bool ok = add(sql, "WITH u AS (UPDATE ") && add_rel(sql, op) &&
              add(sql, " AS t SET ");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column) &&
             add(sql, " = ") && sql_value(sql, op, &op->set[i], param++);
    ok = ok && add(sql, " WHERE ");
    for (size_t i = 0; ok && i < op->nkeys; i++)
        ok = (i == 0 || add(sql, " AND ")) && ident(sql, op->keys[i].column) &&
             add(sql, " = ") && pnum(sql, param++);
    if (op->skip_unchanged)
        ok = ok && add(sql, " AND") &&
             sql_distinct(sql, op, 0, op->nset, "t", false, 1);
    ok = ok && add(sql, " RETURNING 1), i AS (INSERT INTO ") &&
         add_rel(sql, op) && add(sql, " AS t (");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column);
    ok = ok && add(sql, ") SELECT ");
    for (size_t i = 0; ok && i < op->nset; i++)
        ok = (i == 0 || add(sql, ", ")) &&
             sql_value(sql, op, &op->set[i], (int)i + 1);
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
             sql_distinct(sql, op, op->nkeys, op->nset, "t", true, 0);
    return ok;
}

/* ------------------------------------------------------------------ */
/* conflict handling                                                   */
/* ------------------------------------------------------------------ */

/*
 * A mapping with a conflict policy writes each row with one statement that
 * reads the target row first (locked), decides per column, writes, and
 * reports what it found.  The columns are, for an update, its set list
 * (keys first), for an upsert the keys and then the set list.  Parameters:
 *   $1..$M           the new values
 *   $M+1..$M+K       update: the (old) key the row is found by; an upsert
 *                    finds it by its new key values, $1..$K
 *   next M           update: the old values (NULL when not known)
 *   next             flags, one character per column: n the change did not
 *                    touch it, c changed and its old value is known, u
 *                    changed with the old value unknown, i insert
 *   next             last_writer_wins: the incoming stamp (commit time as
 *                    microseconds since 2000-01-01, or the by-column value)
 * Per column j, with cur = the target's value:
 *   same_j     cur IS NOT DISTINCT FROM new           nothing to write
 *   clean_j    flag c and cur IS NOT DISTINCT FROM old  nobody else changed it
 *   conflict_j flag in (c, i, u) and not same and not clean, where u counts
 *              as a conflict only when the policy has to decide (it cannot
 *              tell otherwise): reported for c and i only
 *   write_j    touched and not same and (owner source, or no owner and
 *              (clean or the policy lets the incoming change win)); an
 *              owner target column is written only when the row is new.
 *   WITH x AS (SELECT same.., clean.., wins, commit ts and origin of the
 *                     row's last writer FROM rel t WHERE key FOR UPDATE OF t),
 *        y AS (SELECT conflict.., write.. FROM x),
 *        u AS (UPDATE rel t SET c = CASE WHEN y.d_j THEN new ELSE t.c END..
 *              FROM y WHERE key AND (y.d_0 OR ..) RETURNING 1),
 *        i AS (INSERT INTO rel (..) SELECT new.. WHERE NOT EXISTS
 *              (SELECT 1 FROM x) ON CONFLICT (key) DO NOTHING RETURNING 1)
 *   SELECT written, found, conflicting columns, of which the incoming won,
 *          the row's last commit time and origin
 * so an update that changes nothing writes no row version and fires no
 * trigger, as with skip_unchanged.
 */

static const wb_op_value *ccol(const wb_sql_conflict_shape *c, size_t j)
{
    const wb_target_op *op = c->op;
    if (op->kind == WB_OP_UPSERT)
        return j < op->nkeys ? &op->keys[j] : &op->set[j - op->nkeys];
    return &op->set[j];
}

static bool owned_by(const char *const *cols, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i], col) == 0)
            return true;
    return false;
}

static bool sql_flag(wb_strbuf *sql, const wb_sql_conflict_shape *c, size_t j,
                     const char *test)
{
    char b[64];
    snprintf(b, sizeof(b), "substr($%d, %zu, 1) %s", c->flagp, j + 1, test);
    return add(sql, b);
}

static bool sql_keymatch(wb_strbuf *sql, const wb_sql_conflict_shape *c,
                         const char *alias)
{
    bool ok = true;
    for (size_t k = 0; ok && k < c->op->nkeys; k++)
        ok = (k == 0 || add(sql, " AND ")) && add(sql, alias) &&
             add(sql, ".") && ident(sql, c->op->keys[k].column) &&
             add(sql, " = ") && pnum(sql, c->keyp + (int)k);
    return ok;
}

static bool sql_jname(wb_strbuf *sql, const char *p, size_t j)
{
    char b[32];
    snprintf(b, sizeof(b), "%s%zu", p, j);
    return add(sql, b);
}

/* 'schema.table' as a literal: the clock's name for a target table. */
static bool sql_reltext(wb_strbuf *sql, const wb_target_op *op)
{
    char name[512];
    snprintf(name, sizeof(name), "%s.%s", op->schema, op->table);
    return lit(sql, name);
}

/*
 * What the clock knows of col's current value in the row: NULL nothing (a
 * value from before the clock: the row's commit time decides), true it is
 * the value of a change walbridge has already seen in the stream (so it is
 * older than the incoming change), false the clock holds another value, so
 * the current one comes from a change walbridge has not seen yet: a later
 * commit, which wins.
 */
static bool sql_clock_lookup(wb_strbuf *sql, const wb_sql_conflict_shape *c,
                             const char *col)
{
    return add(sql, "(SELECT ck.md5 = coalesce(md5(t.") && ident(sql, col) &&
           add(sql, "::text), 'null') FROM ") && add(sql, c->clock) &&
           add(sql, " ck WHERE ck.tbl = ") && sql_reltext(sql, c->op) &&
           add(sql, " AND ck.key = ") && pnum(sql, c->karrp) &&
           add(sql, "::text[] AND ck.col = ") && lit(sql, col) && add(sql, ")");
}

/* x: per column same (s), clean (o) and what the clock knows (l) */
static bool conflict_x_cols(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = true;

    for (size_t j = 0; ok && j < c->m; j++) {
        const wb_op_value *v = ccol(c, j);
        ok = add(sql, "t.") && ident(sql, v->column) &&
             add(sql, " IS NOT DISTINCT FROM ") &&
             sql_value(sql, op, v, (int)j + 1) && add(sql, " AS ") &&
             sql_jname(sql, "s", j) && add(sql, ", ");
        if (c->oldp)
            ok = ok && add(sql, "(") && sql_flag(sql, c, j, "= 'c'") &&
                 add(sql, " AND t.") && ident(sql, v->column) &&
                 add(sql, " IS NOT DISTINCT FROM ") &&
                 sql_value(sql, op, v, c->oldp + (int)j) && add(sql, ")");
        else
            ok = ok && add(sql, "false");
        ok = ok && add(sql, " AS ") && sql_jname(sql, "o", j) && add(sql, ", ");
        if (c->clock)
            ok = ok && sql_clock_lookup(sql, c, v->column) &&
                 add(sql, " AS ") && sql_jname(sql, "l", j) && add(sql, ", ");
    }
    return ok;
}

/* w: does the incoming change win where the policy decides? */
static bool conflict_wins(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_config_conflict *cf = c->op->conflict;
    bool ok = true;

    switch (cf->resolve) {
    case WB_CONFLICT_TARGET_WINS:
        ok = ok && add(sql, "false");
        break;
    case WB_CONFLICT_LAST_WRITER_WINS:
        if (cf->by_commit_time) {
            char b[160];
            /* The row's last commit (for walbridge's own writes: the source
             * commit time given to pg_replication_origin_xact_setup).  NULL:
             * written by this very transaction, frozen, or from before
             * track_commit_timestamp: older than anything incoming. */
            snprintf(b, sizeof(b),
                     "coalesce(o.timestamp <= " WB_SQL_PG_EPOCH
                     " + $%d::bigint * interval '1 microsecond', true)",
                     c->stampp);
            ok = ok && add(sql, b);
        } else {
            ok = ok && add(sql, "coalesce(t.") && ident(sql, cf->by_target) &&
                 add(sql, " <= ") && pnum(sql, c->stampp) && add(sql, ", t.") &&
                 ident(sql, cf->by_target) && add(sql, " IS NULL)");
        }
        break;
    default:
        ok = ok && add(sql, "true");
        break;
    }
    return ok;
}

/* The rest of x: the row's last commit, and the row locked by its key. */
static bool conflict_x_row(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = true;

    ok = ok && add(sql, " AS w, ");
    if (c->track_cts)
        ok = ok && add(sql, "o.timestamp AS ts, o.roident AS ro FROM ") &&
             add_rel(sql, op) &&
             add(sql, " AS t, LATERAL pg_xact_commit_timestamp_origin"
                      "(t.xmin) AS o WHERE ");
    else
        ok = ok &&
             add(sql, "NULL::timestamptz AS ts, NULL::oid AS ro "
                      "FROM ") &&
             add_rel(sql, op) && add(sql, " AS t WHERE ");
    return ok && sql_keymatch(sql, c, "t") && add(sql, " FOR UPDATE OF t), ");
}

/* y: per column conflict (k) and write (d) */
static bool conflict_y(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_config_conflict *cf = c->op->conflict;
    bool ok = add(sql, "y AS (SELECT ");

    for (size_t j = 0; ok && j < c->m; j++) {
        const char *col = ccol(c, j)->column;
        bool src = owned_by((const char *const *)cf->source_owns,
                            cf->nsource_owns, col);
        bool tgt = owned_by((const char *const *)cf->target_owns,
                            cf->ntarget_owns, col);
        /* conflict_j */
        ok = ok && add(sql, "(") && sql_flag(sql, c, j, "IN ('c', 'i')") &&
             add(sql, " AND NOT x.") && sql_jname(sql, "s", j) &&
             add(sql, " AND NOT x.") && sql_jname(sql, "o", j) &&
             add(sql, ") AS ") && sql_jname(sql, "k", j) && add(sql, ", (") &&
             sql_flag(sql, c, j, "<> 'n'") && add(sql, " AND NOT x.") &&
             sql_jname(sql, "s", j);
        if (tgt)
            ok = ok && add(sql, " AND false");
        else if (!src && c->clock) {
            /* In commit order, per column, when the clock knows the value
             * (sql_clock_lookup); else by the row's last commit. */
            char b[96];
            snprintf(b, sizeof(b), " OR coalesce(x.l%zu, x.w))", j);
            ok = ok && add(sql, " AND (x.") && sql_jname(sql, "o", j) &&
                 add(sql, b);
        } else if (!src)
            ok = ok && add(sql, " AND (x.") && sql_jname(sql, "o", j) &&
                 add(sql, " OR x.w)");
        ok =
            ok && add(sql, ") AS ") && sql_jname(sql, "d", j) && add(sql, ", ");
    }
    return ok && add(sql, "x.ts, x.ro FROM x)");
}

/* u: the update of the columns to write */
static bool conflict_u(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = add(sql, ", u AS (UPDATE ") && add_rel(sql, op) &&
              add(sql, " AS t SET ");
    for (size_t j = 0; ok && j < c->m; j++) {
        const wb_op_value *v = ccol(c, j);
        ok = (j == 0 || add(sql, ", ")) && ident(sql, v->column) &&
             add(sql, " = CASE WHEN y.") && sql_jname(sql, "d", j) &&
             add(sql, " THEN ") && sql_value(sql, op, v, (int)j + 1) &&
             add(sql, " ELSE t.") && ident(sql, v->column) && add(sql, " END");
    }
    ok = ok && add(sql, " FROM y WHERE ") && sql_keymatch(sql, c, "t") &&
         add(sql, " AND (");
    for (size_t j = 0; ok && j < c->m; j++)
        ok = (j == 0 || add(sql, " OR ")) && add(sql, "y.") &&
             sql_jname(sql, "d", j);
    return ok && add(sql, ") RETURNING 1)");
}

/* k: the clock of the columns written (commit-time policy) */
static bool conflict_k(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = true;

    if (c->clock) {
        /* Record when each written value was committed at the source. */
        ok = ok && add(sql, ", k AS (INSERT INTO ") && add(sql, c->clock) &&
             add(sql, " (tbl, key, col, lsn, md5) SELECT ") &&
             sql_reltext(sql, op) && add(sql, ", ") && pnum(sql, c->karrp) &&
             add(sql, "::text[], v.col, ") && pnum(sql, c->lsnp) &&
             add(sql, "::pg_lsn, coalesce(md5(v.val), 'null') FROM "
                      "y CROSS JOIN LATERAL (VALUES ");
        for (size_t j = 0; ok && j < c->m; j++) {
            const wb_op_value *v = ccol(c, j);
            ok = (j == 0 || add(sql, ", ")) && add(sql, "(") &&
                 lit(sql, v->column) && add(sql, ", y.") &&
                 sql_jname(sql, "d", j) && add(sql, ", (") &&
                 sql_value(sql, op, v, (int)j + 1) && add(sql, ")::text)");
        }
        ok = ok && add(sql, ") AS v(col, d, val) WHERE v.d ON CONFLICT "
                            "(tbl, key, col) DO UPDATE SET lsn = "
                            "EXCLUDED.lsn, md5 = EXCLUDED.md5)");
    }
    return ok;
}

/* i: the insert of a row that is not there */
static bool conflict_i(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = true;

    if (op->kind == WB_OP_UPSERT || op->insert_if_missing) {
        ok = ok && add(sql, ", i AS (INSERT INTO ") && add_rel(sql, op) &&
             add(sql, " (");
        for (size_t j = 0; ok && j < c->m; j++)
            ok = (j == 0 || add(sql, ", ")) && ident(sql, ccol(c, j)->column);
        ok = ok && add(sql, ") SELECT ");
        for (size_t j = 0; ok && j < c->m; j++)
            ok = (j == 0 || add(sql, ", ")) &&
                 sql_value(sql, op, ccol(c, j), (int)j + 1);
        ok = ok && add(sql, " WHERE NOT EXISTS (SELECT 1 FROM x) "
                            "ON CONFLICT (");
        for (size_t k = 0; ok && k < op->nkeys; k++)
            ok = (k == 0 || add(sql, ", ")) && ident(sql, op->keys[k].column);
        ok = ok && add(sql, ") DO NOTHING RETURNING 1)");
    }
    return ok;
}

/* The one row: written, found, the conflicting columns, of which the
 * incoming won, the row's last commit time and origin. */
static bool conflict_select(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    const wb_target_op *op = c->op;
    bool ok = true;

    ok = ok && add(sql, " SELECT (SELECT count(*) FROM u)");
    if (op->kind == WB_OP_UPSERT || op->insert_if_missing)
        ok = ok && add(sql, " + (SELECT count(*) FROM i)");
    ok = ok && add(sql, ", (SELECT count(*) FROM x)");
    for (int pass = 0; ok && pass < 2; pass++) {
        /* the conflicting columns, then those of them the incoming won */
        ok = add(sql, ", (SELECT concat_ws(', '");
        for (size_t j = 0; ok && j < c->m; j++) {
            const char *col = ccol(c, j)->column;
            ok = add(sql, ", CASE WHEN y.") && sql_jname(sql, "k", j) &&
                 (pass == 0 ||
                  (add(sql, " AND y.") && sql_jname(sql, "d", j))) &&
                 add(sql, " THEN ") && lit(sql, col) && add(sql, " END");
        }
        ok = ok && add(sql, ") FROM y)");
    }
    return ok && add(sql, ", (SELECT ts FROM y), (SELECT ro FROM y)");
}

static bool build_conflict(wb_strbuf *sql, const wb_sql_conflict_shape *c)
{
    return add(sql, "WITH x AS (SELECT ") && conflict_x_cols(sql, c) &&
           conflict_wins(sql, c) && conflict_x_row(sql, c) &&
           conflict_y(sql, c) && conflict_u(sql, c) && conflict_k(sql, c) &&
           conflict_i(sql, c) && conflict_select(sql, c);
}

int wb_sql_conflict(wb_strbuf *b, const wb_sql_conflict_shape *c)
{
    return done(b, build_conflict(b, c));
}

wb_sql_conflict_shape wb_sql_conflict_layout(const wb_target_op *op,
                                             bool track_cts,
                                             const char *clock_rel)
{
    wb_sql_conflict_shape c;
    bool upd = op->kind == WB_OP_UPDATE;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.track_cts = track_cts;
    c.m = upd ? op->nset : op->nkeys + op->nset;
    c.keyp = upd ? (int)c.m + 1 : 1;
    c.oldp = upd ? (int)(c.m + op->nkeys) + 1 : 0;
    c.flagp = upd ? c.oldp + (int)c.m : (int)c.m + 1;
    c.stampp =
        op->conflict->resolve == WB_CONFLICT_LAST_WRITER_WINS ? c.flagp + 1 : 0;
    if (op->conflict->resolve == WB_CONFLICT_LAST_WRITER_WINS &&
        op->conflict->by_commit_time && clock_rel) {
        c.clock = clock_rel;
        c.karrp = c.stampp + 1;
        c.lsnp = c.stampp + 2;
    }
    return c;
}

/*
 * An update-or-insert is two data-modifying CTEs (u, i): the command tag
 * would count only the insert, so the statement returns the rows written
 * by both (read by apply.c's handle_result, see wb_sql_counted).
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

static bool build_row(wb_strbuf *sql, const wb_target_op *op)
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
            ok = (i == 0 || add(sql, ", ")) && sql_value(sql, op, v, param++);
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
                 sql_distinct(sql, op, 0, op->nset, "t", true, 0);
        return ok;
    case WB_OP_UPDATE:
        if (op->insert_if_missing && op->nset >= op->nkeys)
            return build_update_or_insert(sql, op) && count_suffix(sql);
        ok = add(sql, "UPDATE ") && add_rel(sql, op) && add(sql, " AS t SET ");
        for (size_t i = 0; ok && i < op->nset; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, op->set[i].column) &&
                 add(sql, " = ") && sql_value(sql, op, &op->set[i], param++);
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
             sql_distinct(sql, op, 0, op->nset, "t", false, 1);
    return ok;
}

/* v.aN: already of the column's type (typed parameters, see apply.c's
 * load_coltypes).  A column cast on the target (a date[] parameter)
 * reaches the column as in the row statement (sql_value): the date's text
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
        ok = add(sql, "INSERT INTO ") && add_rel(sql, op) && add(sql, " (");
        for (size_t i = 0; ok && i < r->ncols; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        ok = ok && add(sql, ") SELECT ");
        for (size_t i = 0; ok && i < r->ncols; i++)
            ok = (i == 0 || add(sql, ", ")) && sql_cast(r, sql, "a", i + 1);
        ok = ok && add(sql, " FROM ") && add(sql, from) &&
             add(sql, " ON CONFLICT (");
        for (size_t i = 0; ok && i < r->nkeys; i++)
            ok = (i == 0 || add(sql, ", ")) && ident(sql, r->cols[i]);
        if (r->nset == 0)
            return ok && add(sql, ") DO NOTHING");
        ok = ok && add(sql, ") DO UPDATE SET ");
        for (size_t i = r->nkeys; ok && i < r->ncols; i++)
            ok = (i == r->nkeys || add(sql, ", ")) && ident(sql, r->cols[i]) &&
                 add(sql, " = EXCLUDED.") && ident(sql, r->cols[i]);
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

int wb_sql_row(wb_strbuf *b, const wb_target_op *op)
{
    if (op->conflict) {
        /* callers use wb_sql_conflict for these */
        return b->err ? b->err : WB_EINVAL;
    }
    return done(b, build_row(b, op));
}
