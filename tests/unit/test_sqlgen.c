/*
 * test_sqlgen.c - the exact statement text of every shape walbridge
 * sends: rows (upsert, update, update-or-insert, delete, truncate), lookups
 * and casts, conflict statements, set runs, the column clock, the
 * pending links and the marker.  Names are odd on purpose
 * (spaces, upper case, a double quote, a single quote, UTF-8), so the
 * quoting is checked too.  The texts were checked byte for byte against
 * the builders this module replaced (which quoted with libpq's
 * PQescapeIdentifier and PQescapeLiteral) over some 9000 shapes.
 */
#include <string.h>

#include "apply/sqlgen.h"
#include "common/error.h"
#include "wbtest.h"

static wb_strbuf b;

static const char *text(int rc)
{
    WB_CHECK_INT_EQ(rc, 0);
    return wb_strbuf_str(&b);
}

/* The fixture: "My Schema"."t""1", key id (and "Key Two"), columns
 * "na""me", café, UPPER. */
static wb_op_value keys[2] = {{"id", "1", NULL}, {"Key Two", "2", NULL}};
static wb_op_value set[4] = {{"id", "1", NULL},
                             {"na\"me", "x", NULL},
                             {"caf\u00e9", "y", NULL},
                             {"UPPER", "z", NULL}};

static wb_target_op base(wb_op_kind kind)
{
    wb_target_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.mapping = "m";
    op.schema = "My Schema";
    op.table = "t\"1";
    op.keys = keys;
    op.nkeys = 1;
    return op;
}

static const char *row(const wb_target_op *op)
{
    wb_strbuf_reset(&b);
    return text(wb_sql_row(&b, op, 0));
}

/* ... with set entries compared as text (their type lacks equality). */
static const char *row_text_cmp(const wb_target_op *op, uint64_t text_cmp)
{
    wb_strbuf_reset(&b);
    return text(wb_sql_row(&b, op, text_cmp));
}

static void test_upsert(void)
{
    wb_target_op op = base(WB_OP_UPSERT);
    op.set = set + 1;
    op.nset = 2;
    WB_CHECK_STR_EQ(
        row(&op),
        "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") "
        "VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" "
        "= EXCLUDED.\"na\"\"me\", \"caf\u00e9\" = EXCLUDED.\"caf\u00e9\"");
    op.skip_unchanged = true;
    WB_CHECK_STR_EQ(
        row(&op),
        "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") "
        "VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" "
        "= EXCLUDED.\"na\"\"me\", \"caf\u00e9\" = EXCLUDED.\"caf\u00e9\" "
        "WHERE ROW(t.\"na\"\"me\", t.\"caf\u00e9\") IS DISTINCT FROM "
        "ROW(EXCLUDED.\"na\"\"me\", EXCLUDED.\"caf\u00e9\")");
    /* A json column (set entry 1) is compared by its text: json has no
     * equality operator. */
    WB_CHECK(strstr(row_text_cmp(&op, 2),
                    "WHERE ROW(t.\"na\"\"me\", (t.\"caf\u00e9\")::pg_catalog."
                    "text) IS DISTINCT FROM ROW(EXCLUDED.\"na\"\"me\", "
                    "(EXCLUDED.\"caf\u00e9\")::pg_catalog.text)") != NULL);
    op.nset = 0;
    WB_CHECK_STR_EQ(
        row(&op),
        "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\") VALUES ($1) ON "
        "CONFLICT (\"id\") DO NOTHING");
    WB_CHECK(!wb_sql_counted(&op));
}

static void test_update(void)
{
    wb_target_op op = base(WB_OP_UPDATE);
    op.set = set;
    op.nset = 3;
    WB_CHECK_STR_EQ(
        row(&op),
        "UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = $1, \"na\"\"me\" "
        "= $2, \"caf\u00e9\" = $3 WHERE \"id\" = $4");
    WB_CHECK(!wb_sql_counted(&op));
    op.skip_unchanged = true;
    WB_CHECK_STR_EQ(
        row(&op),
        "UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = $1, \"na\"\"me\" "
        "= $2, \"caf\u00e9\" = $3 WHERE \"id\" = $4 AND ROW(t.\"id\", "
        "t.\"na\"\"me\", t.\"caf\u00e9\") IS DISTINCT FROM ROW($1, $2, "
        "$3)");
    WB_CHECK(
        strstr(row_text_cmp(&op, 4),
               "ROW(t.\"id\", t.\"na\"\"me\", (t.\"caf\u00e9\")::pg_catalog."
               "text) IS DISTINCT FROM ROW($1, $2, (CASE WHEN false THEN "
               "t.\"caf\u00e9\" ELSE $3 END)::pg_catalog.text)") != NULL);
}

/* insert_if_missing: one statement of two CTEs that returns the count. */
static void test_update_or_insert(void)
{
    wb_target_op op = base(WB_OP_UPDATE);
    op.set = set;
    op.nset = 3;
    op.insert_if_missing = true;
    WB_CHECK_STR_EQ(
        row(&op),
        "WITH u AS (UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = $1, "
        "\"na\"\"me\" "
        "= $2, \"caf\u00e9\" = $3 WHERE \"id\" = $4 RETURNING 1), i AS "
        "(INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 "
        "FROM u) ON CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" = "
        "EXCLUDED.\"na\"\"me\", "
        "\"caf\u00e9\" = EXCLUDED.\"caf\u00e9\" RETURNING 1) SELECT "
        "(SELECT count(*) FROM u) + (SELECT count(*) FROM i)");
    WB_CHECK(wb_sql_counted(&op));
    op.skip_unchanged = true;
    WB_CHECK_STR_EQ(
        row(&op),
        "WITH u AS (UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = $1, "
        "\"na\"\"me\" "
        "= $2, \"caf\u00e9\" = $3 WHERE \"id\" = $4 AND ROW(t.\"id\", "
        "t.\"na\"\"me\", t.\"caf\u00e9\") IS DISTINCT FROM ROW($1, $2, "
        "$3) RETURNING 1), i AS (INSERT INTO \"My Schema\".\"t\"\"1\" AS t "
        "(\"id\", \"na\"\"me\", \"caf\u00e9\") SELECT $1, $2, $3 WHERE "
        "NOT EXISTS (SELECT 1 FROM u) AND NOT EXISTS (SELECT 1 FROM \"My "
        "Schema\".\"t\"\"1\" "
        "WHERE \"id\" = $4) ON CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" "
        "= EXCLUDED.\"na\"\"me\", \"caf\u00e9\" = EXCLUDED.\"caf\u00e9\" "
        "WHERE ROW(t.\"na\"\"me\", t.\"caf\u00e9\") IS DISTINCT FROM "
        "ROW(EXCLUDED.\"na\"\"me\", EXCLUDED.\"caf\u00e9\") RETURNING "
        "1) SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)");
    op.skip_unchanged = false;
    op.nset = 1; /* the key only: nothing to update on conflict */
    WB_CHECK_STR_EQ(
        row(&op),
        "WITH u AS (UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = $1 WHERE "
        "\"id\" = $2 RETURNING 1), i AS (INSERT INTO \"My Schema\".\"t\"\"1\" "
        "AS t (\"id\") SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM u) ON "
        "CONFLICT "
        "(\"id\") DO NOTHING RETURNING 1) SELECT (SELECT count(*) FROM u) + "
        "(SELECT count(*) FROM i)");
}

static void test_delete_truncate(void)
{
    wb_target_op op = base(WB_OP_DELETE);
    op.nkeys = 2;
    WB_CHECK_STR_EQ(row(&op), "DELETE FROM \"My Schema\".\"t\"\"1\" WHERE "
                              "\"id\" = $1 AND \"Key Two\" "
                              "= $2");
    op.kind = WB_OP_TRUNCATE;
    WB_CHECK_STR_EQ(row(&op), "TRUNCATE \"My Schema\".\"t\"\"1\"");
}

/* A lookup is a subquery on its parameter; a cast on the target goes
 * through the column's own type. */
static void test_lookup_cast(void)
{
    wb_plugin_lookup lk = {"Look Up", "par\"ent", "ext id", "SfId", NULL};
    wb_plugin_lookup dt = {NULL, NULL, NULL, NULL, "date"};
    wb_op_value lset[2] = {{"Parent", "p", &lk}, {"born on", "d", &dt}};
    wb_target_op op = base(WB_OP_UPSERT);
    op.set = lset;
    op.nset = 2;
    WB_CHECK_STR_EQ(
        row(&op),
        "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\", \"Parent\", \"born "
        "on\") VALUES ($1, (SELECT \"SfId\" FROM \"Look Up\".\"par\"\"ent\" "
        "WHERE \"ext id\" = $2), (pg_catalog.jsonb_populate_record(NULL::\"My "
        "Schema\".\"t\"\"1\", pg_catalog.jsonb_build_object('born on', CAST($3 "
        "AS pg_catalog.date)::pg_catalog.text))).\"born on\") ON CONFLICT "
        "(\"id\") "
        "DO UPDATE SET \"Parent\" = EXCLUDED.\"Parent\", \"born on\" = "
        "EXCLUDED.\"born "
        "on\"");
}

static void check_layout(const wb_sql_conflict_shape *c, size_t m, int keyp,
                         int oldp, int flagp, int stampp, int karrp, int lsnp)
{
    WB_CHECK_INT_EQ(c->m, m);
    WB_CHECK_INT_EQ(c->keyp, keyp);
    WB_CHECK_INT_EQ(c->oldp, oldp);
    WB_CHECK_INT_EQ(c->flagp, flagp);
    WB_CHECK_INT_EQ(c->stampp, stampp);
    WB_CHECK_INT_EQ(c->karrp, karrp);
    WB_CHECK_INT_EQ(c->lsnp, lsnp);
}

static const char *conflict(const wb_sql_conflict_shape *c)
{
    wb_strbuf_reset(&b);
    return text(wb_sql_conflict(&b, c));
}

static void test_conflict(void)
{
    wb_config_conflict cf;
    memset(&cf, 0, sizeof(cf));
    cf.resolve = WB_CONFLICT_SOURCE_WINS;
    wb_target_op op = base(WB_OP_UPDATE);
    op.set = set;
    op.nset = 2;
    op.conflict = &cf;
    /* update: new values $1-$2, key $3, old values $4-$5, flags $6 */
    wb_sql_conflict_shape c = wb_sql_conflict_layout(&op, false, NULL);
    check_layout(&c, 2, 3, 4, 6, 0, 0, 0);
    WB_CHECK_STR_EQ(
        conflict(&c),
        "WITH x AS (SELECT t.\"id\" IS NOT DISTINCT FROM $1 AS s0, (substr($6, "
        "1, 1) = 'c' AND t.\"id\" IS NOT DISTINCT FROM $4) AS o0, "
        "t.\"na\"\"me\" "
        "IS NOT DISTINCT FROM $2 AS s1, (substr($6, 2, 1) = 'c' AND "
        "t.\"na\"\"me\" "
        "IS NOT DISTINCT FROM $5) AS o1, true AS w, NULL::timestamptz AS ts, "
        "NULL::oid AS ro FROM \"My Schema\".\"t\"\"1\" AS t WHERE t.\"id\" "
        "= $3 FOR UPDATE OF t), y AS (SELECT (substr($6, 1, 1) IN ('c', 'i') "
        "AND NOT x.s0 AND NOT x.o0) AS k0, (substr($6, 1, 1) <> 'n' AND NOT "
        "x.s0 AND (x.o0 OR x.w)) AS d0, (substr($6, 2, 1) IN ('c', 'i') AND "
        "NOT x.s1 AND NOT x.o1) AS k1, (substr($6, 2, 1) <> 'n' AND NOT x.s1 "
        "AND (x.o1 OR x.w)) AS d1, x.ts, x.ro FROM x), u AS (UPDATE \"My "
        "Schema\".\"t\"\"1\" "
        "AS t SET \"id\" = CASE WHEN y.d0 THEN $1 ELSE t.\"id\" END, "
        "\"na\"\"me\" "
        "= CASE WHEN y.d1 THEN $2 ELSE t.\"na\"\"me\" END FROM y WHERE "
        "t.\"id\" "
        "= $3 AND (y.d0 OR y.d1) RETURNING 1) SELECT (SELECT count(*) FROM "
        "u), (SELECT count(*) FROM x), (SELECT concat_ws(', ', CASE WHEN y.k0 "
        "THEN 'id' END, CASE WHEN y.k1 THEN 'na\"me' END) FROM y), (SELECT "
        "concat_ws(', ', CASE WHEN y.k0 AND y.d0 THEN 'id' END, CASE WHEN y.k1 "
        "AND y.d1 THEN 'na\"me' END) FROM y), (SELECT ts FROM y), (SELECT ro "
        "FROM y)");
    /* a conflict op has no plain row statement */
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_sql_row(&b, &op, 0), WB_EINVAL);
}

/* last_writer_wins by commit time, with the column clock and commit
 * timestamps: upsert, key $1, value $2, flags $3, stamp $4, key array
 * $5, LSN $6. */
static void test_conflict_clock(void)
{
    wb_config_conflict cf;
    memset(&cf, 0, sizeof(cf));
    cf.resolve = WB_CONFLICT_LAST_WRITER_WINS;
    cf.by_commit_time = true;
    wb_target_op op = base(WB_OP_UPSERT);
    op.set = set + 1;
    op.nset = 1;
    op.conflict = &cf;
    wb_sql_conflict_shape c =
        wb_sql_conflict_layout(&op, true, "\"wb\".column_clock");
    check_layout(&c, 2, 1, 0, 3, 4, 5, 6);
    WB_CHECK_STR_EQ(
        conflict(&c),
        "WITH x AS (SELECT t.\"id\" IS NOT DISTINCT FROM $1 AS s0, false AS "
        "o0, (SELECT ck.md5 = coalesce(md5(t.\"id\"::text), 'null') FROM "
        "\"wb\".column_clock "
        "ck WHERE ck.tbl = 'My Schema.t\"1' AND ck.key = $5::text[] AND ck.col "
        "= 'id') AS l0, t.\"na\"\"me\" IS NOT DISTINCT FROM $2 AS s1, false "
        "AS o1, (SELECT ck.md5 = coalesce(md5(t.\"na\"\"me\"::text), 'null') "
        "FROM \"wb\".column_clock ck WHERE ck.tbl = 'My Schema.t\"1' AND "
        "ck.key "
        "= $5::text[] AND ck.col = 'na\"me') AS l1, coalesce(o.timestamp <= "
        "'2000-01-01 00:00:00+00'::timestamptz + $4::bigint * interval '1 "
        "microsecond', "
        "true) AS w, o.timestamp AS ts, o.roident AS ro FROM \"My "
        "Schema\".\"t\"\"1\" "
        "AS t, LATERAL pg_xact_commit_timestamp_origin(t.xmin) AS o WHERE "
        "t.\"id\" "
        "= $1 FOR UPDATE OF t), y AS (SELECT (substr($3, 1, 1) IN ('c', 'i') "
        "AND NOT x.s0 AND NOT x.o0) AS k0, (substr($3, 1, 1) <> 'n' AND NOT "
        "x.s0 AND (x.o0 OR coalesce(x.l0, x.w))) AS d0, (substr($3, 2, 1) IN "
        "('c', 'i') AND NOT x.s1 AND NOT x.o1) AS k1, (substr($3, 2, 1) <> "
        "'n' AND NOT x.s1 AND (x.o1 OR coalesce(x.l1, x.w))) AS d1, x.ts, x.ro "
        "FROM x), u AS (UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" = CASE "
        "WHEN y.d0 THEN $1 ELSE t.\"id\" END, \"na\"\"me\" = CASE WHEN y.d1 "
        "THEN $2 ELSE t.\"na\"\"me\" END FROM y WHERE t.\"id\" = $1 AND (y.d0 "
        "OR y.d1) RETURNING 1), k AS (INSERT INTO \"wb\".column_clock (tbl, "
        "key, col, lsn, md5) SELECT 'My Schema.t\"1', $5::text[], v.col, "
        "$6::pg_lsn, "
        "coalesce(md5(v.val), 'null') FROM y CROSS JOIN LATERAL (VALUES ('id', "
        "y.d0, ($1)::text), ('na\"me', y.d1, ($2)::text)) AS v(col, d, val) "
        "WHERE v.d ON CONFLICT (tbl, key, col) DO UPDATE SET lsn = "
        "EXCLUDED.lsn, "
        "md5 = EXCLUDED.md5), i AS (INSERT INTO \"My Schema\".\"t\"\"1\" "
        "(\"id\", "
        "\"na\"\"me\") SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM x) ON "
        "CONFLICT (\"id\") DO NOTHING RETURNING 1) SELECT (SELECT count(*) "
        "FROM u) + (SELECT count(*) FROM i), (SELECT count(*) FROM x), (SELECT "
        "concat_ws(', ', CASE WHEN y.k0 THEN 'id' END, CASE WHEN y.k1 THEN "
        "'na\"me' END) FROM y), (SELECT concat_ws(', ', CASE WHEN y.k0 AND "
        "y.d0 THEN 'id' END, CASE WHEN y.k1 AND y.d1 THEN 'na\"me' END) FROM "
        "y), (SELECT ts FROM y), (SELECT ro FROM y)");
    /* without a clock table the layout stops at the stamp */
    c = wb_sql_conflict_layout(&op, true, NULL);
    check_layout(&c, 2, 1, 0, 3, 4, 0, 0);
}

/* last_writer_wins by a target column, a column the target owns, and an
 * insert when the row is missing. */
static void test_conflict_by_column(void)
{
    char *own[] = {"na\"me"};
    wb_config_conflict cf;
    memset(&cf, 0, sizeof(cf));
    cf.resolve = WB_CONFLICT_LAST_WRITER_WINS;
    cf.by_target = "Up dated";
    cf.target_owns = own;
    cf.ntarget_owns = 1;
    wb_target_op op = base(WB_OP_UPDATE);
    op.set = set;
    op.nset = 2;
    op.insert_if_missing = true;
    op.conflict = &cf;
    wb_sql_conflict_shape c = wb_sql_conflict_layout(&op, false, NULL);
    check_layout(&c, 2, 3, 4, 6, 7, 0, 0);
    WB_CHECK_STR_EQ(
        conflict(&c),
        "WITH x AS (SELECT t.\"id\" IS NOT DISTINCT FROM $1 AS s0, (substr($6, "
        "1, 1) = 'c' AND t.\"id\" IS NOT DISTINCT FROM $4) AS o0, "
        "t.\"na\"\"me\" "
        "IS NOT DISTINCT FROM $2 AS s1, (substr($6, 2, 1) = 'c' AND "
        "t.\"na\"\"me\" "
        "IS NOT DISTINCT FROM $5) AS o1, coalesce(t.\"Up dated\" <= $7, t.\"Up "
        "dated\" IS NULL) AS w, NULL::timestamptz AS ts, NULL::oid AS ro FROM "
        "\"My Schema\".\"t\"\"1\" AS t WHERE t.\"id\" = $3 FOR UPDATE OF t), "
        "y AS (SELECT (substr($6, 1, 1) IN ('c', 'i') AND NOT x.s0 AND NOT "
        "x.o0) AS k0, (substr($6, 1, 1) <> 'n' AND NOT x.s0 AND (x.o0 OR x.w)) "
        "AS d0, (substr($6, 2, 1) IN ('c', 'i') AND NOT x.s1 AND NOT x.o1) "
        "AS k1, (substr($6, 2, 1) <> 'n' AND NOT x.s1 AND false) AS d1, x.ts, "
        "x.ro FROM x), u AS (UPDATE \"My Schema\".\"t\"\"1\" AS t SET \"id\" "
        "= CASE WHEN y.d0 THEN $1 ELSE t.\"id\" END, \"na\"\"me\" = CASE WHEN "
        "y.d1 THEN $2 ELSE t.\"na\"\"me\" END FROM y WHERE t.\"id\" = $3 AND "
        "(y.d0 OR y.d1) RETURNING 1), i AS (INSERT INTO \"My "
        "Schema\".\"t\"\"1\" "
        "(\"id\", \"na\"\"me\") SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM "
        "x) ON CONFLICT (\"id\") DO NOTHING RETURNING 1) SELECT (SELECT "
        "count(*) "
        "FROM u) + (SELECT count(*) FROM i), (SELECT count(*) FROM x), (SELECT "
        "concat_ws(', ', CASE WHEN y.k0 THEN 'id' END, CASE WHEN y.k1 THEN "
        "'na\"me' END) FROM y), (SELECT concat_ws(', ', CASE WHEN y.k0 AND "
        "y.d0 THEN 'id' END, CASE WHEN y.k1 AND y.d1 THEN 'na\"me' END) FROM "
        "y), (SELECT ts FROM y), (SELECT ro FROM y)");
}

static const char *set_run(const wb_sql_set *s)
{
    wb_strbuf_reset(&b);
    return text(wb_sql_set_run(&b, s));
}

static void test_copy_in(void)
{
    const char *cols[] = {"id", "na\"me"};
    wb_strbuf sql = {0};
    WB_CHECK_INT_EQ(wb_sql_copy_in(&sql, "My Schema", "t\"1", cols, 2, false),
                    0);
    WB_CHECK_STR_EQ(sql.data, "COPY \"My Schema\".\"t\"\"1\" (\"id\", "
                              "\"na\"\"me\") FROM STDIN");
    wb_strbuf_reset(&sql);
    WB_CHECK_INT_EQ(wb_sql_copy_in(&sql, "s", "t", cols, 1, true), 0);
    WB_CHECK_STR_EQ(
        sql.data, "COPY \"s\".\"t\" (\"id\") FROM STDIN WITH (FORMAT binary)");
    wb_strbuf_reset(&sql);
    WB_CHECK(wb_sql_copy_in(&sql, "s", "t", cols, 0, false) != 0);
    wb_strbuf_free(&sql);
}

static void test_set_runs(void)
{
    const char *cols[] = {"id", "na\"me", "caf\u00e9"};
    const char *casts[] = {NULL, NULL, "date"};
    wb_target_op op = base(WB_OP_UPSERT);
    wb_sql_set s = {&op, cols, NULL, 3, 1, 2, 0};
    WB_CHECK_STR_EQ(
        set_run(&s),
        "INSERT INTO \"My Schema\".\"t\"\"1\" (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") "
        "SELECT v.a1, v.a2, v.a3 FROM unnest($1, $2, $3) AS v(a1, a2, a3) ON "
        "CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" = EXCLUDED.\"na\"\"me\", "
        "\"caf\u00e9\" = EXCLUDED.\"caf\u00e9\"");
    /* skip_unchanged (a re-sync's rows): a row already right is left out
     * before ON CONFLICT (which would lock it), and not written if it
     * changed in between. */
    op.skip_unchanged = true;
    WB_CHECK_STR_EQ(
        set_run(&s),
        "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") "
        "SELECT v.a1, v.a2, v.a3 FROM unnest($1, $2, $3) AS v(a1, a2, a3) "
        "WHERE NOT EXISTS (SELECT FROM \"My Schema\".\"t\"\"1\" x WHERE "
        "x.\"id\" = v.a1 AND ROW(x.\"na\"\"me\", x.\"caf\u00e9\") IS NOT "
        "DISTINCT FROM ROW(v.a2, v.a3)) ON "
        "CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" = EXCLUDED.\"na\"\"me\", "
        "\"caf\u00e9\" = EXCLUDED.\"caf\u00e9\" WHERE ROW(t.\"na\"\"me\", "
        "t.\"caf\u00e9\") IS DISTINCT FROM ROW(EXCLUDED.\"na\"\"me\", "
        "EXCLUDED.\"caf\u00e9\")");
    /* A json column (column 2) compared by its text, in the pre-filter
     * and in ON CONFLICT's WHERE. */
    s.text_cmp = 4;
    const char *j = set_run(&s);
    WB_CHECK(strstr(j,
                    "ROW(x.\"na\"\"me\", (x.\"caf\u00e9\")::pg_catalog.text) "
                    "IS NOT DISTINCT FROM ROW(v.a2, "
                    "(v.a3)::pg_catalog.text)") != NULL);
    WB_CHECK(strstr(j,
                    "WHERE ROW(t.\"na\"\"me\", (t.\"caf\u00e9\")::pg_catalog."
                    "text) IS DISTINCT FROM ROW(EXCLUDED.\"na\"\"me\", "
                    "(EXCLUDED.\"caf\u00e9\")::pg_catalog.text)") != NULL);
    s.text_cmp = 0;
    /* Nothing to compare but the key: DO NOTHING, no NOT EXISTS. */
    wb_sql_set k = {&op, cols, NULL, 1, 1, 0, 0};
    WB_CHECK_STR_EQ(set_run(&k),
                    "INSERT INTO \"My Schema\".\"t\"\"1\" AS t (\"id\") SELECT "
                    "v.a1 FROM unnest($1) AS v(a1) ON CONFLICT (\"id\") DO "
                    "NOTHING");
    op.skip_unchanged = false;
    s.casts = casts;
    WB_CHECK_STR_EQ(
        set_run(&s),
        "INSERT INTO \"My Schema\".\"t\"\"1\" (\"id\", \"na\"\"me\", "
        "\"caf\u00e9\") "
        "SELECT v.a1, v.a2, (pg_catalog.jsonb_populate_record(NULL::\"My "
        "Schema\".\"t\"\"1\", "
        "pg_catalog.jsonb_build_object('caf\u00e9', "
        "v.a3::pg_catalog.text))).\"caf\u00e9\" "
        "FROM unnest($1, $2, $3) AS v(a1, a2, a3) ON CONFLICT (\"id\") DO "
        "UPDATE "
        "SET \"na\"\"me\" = EXCLUDED.\"na\"\"me\", \"caf\u00e9\" = "
        "EXCLUDED.\"caf\u00e9\"");
    /* ... and with skip_unchanged, the row left out compares the value
     * as the column would hold it. */
    op.skip_unchanged = true;
    WB_CHECK(
        strstr(
            set_run(&s),
            " AND ROW(x.\"na\"\"me\", x.\"caf\u00e9\") IS NOT DISTINCT "
            "FROM ROW(v.a2, (pg_catalog.jsonb_populate_record(NULL::\"My "
            "Schema\".\"t\"\"1\", pg_catalog.jsonb_build_object('caf\u00e9', "
            "v.a3::pg_catalog.text))).\"caf\u00e9\")) ON CONFLICT") != NULL);
    op.skip_unchanged = false;
    op.kind = WB_OP_DELETE;
    wb_sql_set d = {&op, cols, NULL, 1, 1, 0, 0};
    WB_CHECK_STR_EQ(set_run(&d), "DELETE FROM \"My Schema\".\"t\"\"1\" t USING "
                                 "unnest($1) AS v(a1) WHERE "
                                 "t.\"id\" = v.a1");
    /* update: the set (new key first), then the old key */
    const char *ucols[] = {"id", "na\"me", "id"};
    op.kind = WB_OP_UPDATE;
    wb_sql_set u = {&op, ucols, NULL, 3, 1, 2, 0};
    WB_CHECK_STR_EQ(
        set_run(&u),
        "WITH v AS (SELECT * FROM unnest($1, $2, $3) AS v(a1, a2, a3)), u AS "
        "(UPDATE \"My Schema\".\"t\"\"1\" t SET \"id\" = v.a1, \"na\"\"me\" "
        "= v.a2 FROM v WHERE t.\"id\" = v.a3 RETURNING v.a3), i AS (INSERT "
        "INTO \"My Schema\".\"t\"\"1\" (\"id\", \"na\"\"me\") SELECT v.a1, "
        "v.a2 FROM v WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.a3 = v.a3) ON "
        "CONFLICT (\"id\") DO UPDATE SET \"na\"\"me\" = EXCLUDED.\"na\"\"me\" "
        "RETURNING 1) SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM "
        "i)");
    /* truncate has no set statement */
    op.kind = WB_OP_TRUNCATE;
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_sql_set_run(&b, &d), WB_EINVAL);
}

/* Too long for the buffer: the error, not a cut statement. */
static void test_limit(void)
{
    wb_target_op op = base(WB_OP_UPSERT);
    op.set = set + 1;
    op.nset = 2;
    wb_strbuf small = {.limit = 64};
    WB_CHECK_INT_EQ(wb_sql_row(&small, &op, 0), WB_ELIMIT);
    WB_CHECK(small.len < 64);
    wb_strbuf_free(&small);
}

static void test_pending_summary(void)
{
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(text(wb_sql_pending_summary(&b, "\"wb\".pending_link")),
                    "SELECT count(*), coalesce(extract(epoch FROM now() - "
                    "min(created_at)), "
                    "0) FROM \"wb\".pending_link");
}

static void test_clock(void)
{
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_sql_clock_create(&b, "\"wb\".column_clock")),
        "CREATE TABLE IF NOT EXISTS \"wb\".column_clock (tbl text NOT NULL, "
        "key text[] NOT NULL, col text NOT NULL, lsn pg_lsn NOT NULL, md5 text "
        "NOT NULL, PRIMARY KEY (tbl, key, col))");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_sql_clock_change(&b, "\"wb\".column_clock")),
        "WITH c AS (INSERT INTO \"wb\".column_clock (tbl, key, col, lsn, md5) "
        "SELECT $1, $2::text[], u.c, $3::pg_lsn, coalesce(md5(u.v), 'null') "
        "FROM unnest($4::text[], $5::text[]) AS u(c, v) ON CONFLICT (tbl, key, "
        "col) DO UPDATE SET lsn = EXCLUDED.lsn, md5 = EXCLUDED.md5 RETURNING "
        "1) INSERT INTO \"wb\".column_clock (tbl, key, col, lsn, md5) SELECT "
        "$1, $2::text[], u.c, $3::pg_lsn, coalesce(md5(u.v), 'null') FROM "
        "unnest($6::text[], "
        "$7::text[]) AS u(c, v) ON CONFLICT (tbl, key, col) DO NOTHING");
}

static void test_constants(void)
{

    WB_CHECK_STR_EQ(WB_SQL_MARKER,
                    "SELECT pg_logical_emit_message(true, 'walbridge', $1)");
}

/* The types compared as text: json, xml, point and their arrays. */
static void test_lacks_equality(void)
{
    WB_CHECK(wb_sql_typoid_lacks_equality(114));   /* json */
    WB_CHECK(wb_sql_typoid_lacks_equality(199));   /* json[] */
    WB_CHECK(wb_sql_typoid_lacks_equality(142));   /* xml */
    WB_CHECK(wb_sql_typoid_lacks_equality(600));   /* point */
    WB_CHECK(!wb_sql_typoid_lacks_equality(3802)); /* jsonb */
    WB_CHECK(!wb_sql_typoid_lacks_equality(25));   /* text */
    WB_CHECK(!wb_sql_typoid_lacks_equality(0));    /* unknown */
}

int main(void)
{
    WB_RUN(test_lacks_equality);
    WB_RUN(test_upsert);
    WB_RUN(test_update);
    WB_RUN(test_update_or_insert);
    WB_RUN(test_delete_truncate);
    WB_RUN(test_lookup_cast);
    WB_RUN(test_conflict);
    WB_RUN(test_conflict_clock);
    WB_RUN(test_conflict_by_column);
    WB_RUN(test_set_runs);
    WB_RUN(test_copy_in);
    WB_RUN(test_limit);
    WB_RUN(test_pending_summary);
    WB_RUN(test_clock);
    WB_RUN(test_constants);
    wb_strbuf_free(&b);
    return wbtest_summary();
}
