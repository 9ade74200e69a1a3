/*
 * apply/sqlgen_conflict.c - the text of the conflict statement (see
 * apply/sqlgen.h, wb_sql_conflict): one statement per row of a mapping
 * with a conflict policy, built CTE by CTE.
 */
#include <stdio.h>
#include <string.h>

#include "apply/sqlgen_int.h"

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
             wb_sql_value(sql, op, v, (int)j + 1) && add(sql, " AS ") &&
             sql_jname(sql, "s", j) && add(sql, ", ");
        if (c->oldp)
            ok = ok && add(sql, "(") && sql_flag(sql, c, j, "= 'c'") &&
                 add(sql, " AND t.") && ident(sql, v->column) &&
                 add(sql, " IS NOT DISTINCT FROM ") &&
                 wb_sql_value(sql, op, v, c->oldp + (int)j) && add(sql, ")");
        else
            ok = ok && add(sql, "false");
        ok = ok && add(sql, " AS ") && sql_jname(sql, "o", j) && add(sql, ", ");
        /* A copied row's commit is no place in the clock's order: its
         * commit time decides (x.w). */
        if (c->clock && op->unordered)
            ok = ok && add(sql, "NULL::bool AS ") && sql_jname(sql, "l", j) &&
                 add(sql, ", ");
        else if (c->clock)
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
                     "coalesce(o.timestamp <= " WB_PG_EPOCH_SQL
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
             add(sql, " THEN ") && wb_sql_value(sql, op, v, (int)j + 1) &&
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
                 wb_sql_value(sql, op, v, (int)j + 1) && add(sql, ")::text)");
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
                 wb_sql_value(sql, op, ccol(c, j), (int)j + 1);
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
