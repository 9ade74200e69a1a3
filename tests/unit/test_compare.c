/*
 * test_compare.c - compare's statement text (compare.c): the stage of text
 * columns, and the join that types the projection as the target's columns
 * (plain casts, the applier's lookups and date casts), leaves target-owned
 * columns out of the comparison, compares types without equality as text,
 * counts extra rows only when asked, reads the source table itself when
 * the projection is only columns, sums both sides up per bucket of keys
 * across databases (and stages and compares only the buckets that
 * differ), and deletes only confirmed extra rows.
 */
#include <string.h>

#include "common/strbuf.h"
#include "compare.h"
#include "map/router.h"
#include "wbtest.h"

/* A column read from the stage (no source column). */
#define COL(name, type, key, cmp, lookup, mt)                                  \
    {                                                                          \
        name, type, key, cmp, lookup, mt, NULL                                 \
    }

static void test_kind_names(void)
{
    WB_CHECK_STR_EQ(wb_compare_kind_name(WB_COMPARE_MISSING), "missing");
    WB_CHECK_STR_EQ(wb_compare_kind_name(WB_COMPARE_EXTRA), "extra");
    WB_CHECK_STR_EQ(wb_compare_kind_name(WB_COMPARE_DIFFERENT), "different");
    WB_CHECK_STR_EQ(wb_compare_kind_name(WB_COMPARE_NKINDS), "?");
}

static void test_stage(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_compare_sql_stage(&b, "wb_compare_s1", 3), 0);
    WB_CHECK_STR_EQ(b.data, "CREATE TEMPORARY TABLE \"wb_compare_s1\" (c1 "
                            "pg_catalog.text, c2 pg_catalog.text, c3 "
                            "pg_catalog.text)");
    wb_strbuf_free(&b);
}

static void test_diff_plain(void)
{
    wb_strbuf b = {0};
    wb_compare_col cols[] = {
        COL("external_id__c", "character varying(255)", true, true, NULL, NULL),
        COL("personemail", "character varying(80)", false, true, NULL, NULL),
        COL("phone", "text", false, false, NULL, NULL), /* target-owned */
    };
    wb_compare_shape s = {"salesforce", "account", 3, cols,  true, NULL,
                          NULL,         NULL,      0, false, NULL};
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), 0);
    WB_CHECK_STR_EQ(
        b.data,
        "CREATE TEMPORARY TABLE \"df\" AS SELECT CASE WHEN t.wb_row IS NULL "
        "THEN 'missing' WHEN p.wb_row IS NULL THEN 'extra' ELSE 'different' "
        "END AS kind, '(external_id__c)=(' || pg_catalog.concat_ws(', ', "
        "COALESCE(p.p1, t.t1)::pg_catalog.text) || ')' AS key, CASE WHEN "
        "p.wb_row AND t.wb_row THEN pg_catalog.concat_ws(', ', CASE WHEN p.p2 "
        "IS DISTINCT FROM t.t2 THEN 'personemail' END) ELSE '' END AS "
        "columns, CASE WHEN p.wb_row THEN ROW(p.p1, p.p2, "
        "p.p3)::pg_catalog.text END AS wb_src, t.wb_xmin, COALESCE(p.p1, "
        "t.t1) AS k1 FROM (SELECT true AS wb_row, CAST(s.c1 AS "
        "character varying(255)) AS p1, CAST(s.c2 AS character varying(80)) "
        "AS p2, CAST(s.c3 AS text) AS p3 FROM \"pg_temp\".\"st\" s) p FULL "
        "JOIN (SELECT true AS wb_row, xmin::pg_catalog.text AS wb_xmin, "
        "\"external_id__c\" AS t1, \"personemail\" AS t2, \"phone\" AS t3 "
        "FROM ONLY \"salesforce\".\"account\" WHERE \"external_id__c\" IS NOT "
        "NULL) t ON p.p1 = t.t1 WHERE p.wb_row IS NULL OR t.wb_row IS NULL OR "
        "ROW(p.p2) IS DISTINCT FROM ROW(t.t2)");
    wb_strbuf_free(&b);

    /* Without extras: the target's other rows are not looked at. */
    s.extras = false;
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), 0);
    WB_CHECK_STR_CONTAINS(b.data, " s) p LEFT JOIN (SELECT");
    WB_CHECK(strstr(b.data, "FULL JOIN") == NULL);
    wb_strbuf_free(&b);
}

static void test_diff_lookup_cast_json(void)
{
    wb_strbuf b = {0};
    wb_plugin_lookup acct = {"salesforce", "account", "external_id__c", "sfid",
                             NULL};
    wb_plugin_lookup day = {NULL, NULL, NULL, NULL, "date"};
    wb_compare_col cols[] = {
        COL("a\"b", "integer", true, true, NULL, NULL),
        COL("k2", "text", true, true, NULL, NULL),
        COL("account__c", "character varying(18)", false, true, &acct,
            "character varying(255)"),
        COL("order_date__c", "date", false, true, &day, NULL),
        COL("doc", "json", false, true, NULL, NULL),
    };
    wb_compare_shape s = {"s",  "t",  5, cols,  true, NULL,
                          NULL, NULL, 0, false, NULL};
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), 0);
    /* Two key columns, quoted where they are identifiers. */
    WB_CHECK_STR_CONTAINS(b.data, "'(a\"b, k2)=(' || pg_catalog.concat_ws(', "
                                  "', COALESCE(p.p1, t.t1)::pg_catalog.text, "
                                  "COALESCE(p.p2, t.t2)::pg_catalog.text)");
    WB_CHECK_STR_CONTAINS(b.data, "\"a\"\"b\" AS t1");
    WB_CHECK_STR_CONTAINS(b.data, "ON p.p1 = t.t1 AND p.p2 = t.t2");
    WB_CHECK_STR_CONTAINS(b.data, "WHERE \"a\"\"b\" IS NOT NULL AND \"k2\" IS "
                                  "NOT NULL");
    /* The lookup runs on the target, the match typed as its column. */
    WB_CHECK_STR_CONTAINS(b.data, "(SELECT \"sfid\" FROM "
                                  "\"salesforce\".\"account\" WHERE "
                                  "\"external_id__c\" = CAST(s.c3 AS "
                                  "character varying(255))) AS p3");
    /* The date cast is PostgreSQL's own, then the column's input. */
    WB_CHECK_STR_CONTAINS(b.data, "CAST(CAST(CAST(s.c4 AS pg_catalog.date) AS "
                                  "pg_catalog.text) AS date) AS p4");
    /* json has no equality operator: compared as text. */
    WB_CHECK_STR_CONTAINS(b.data, "CASE WHEN (p.p5)::pg_catalog.text IS "
                                  "DISTINCT FROM (t.t5)::pg_catalog.text "
                                  "THEN 'doc' END");
    WB_CHECK_STR_CONTAINS(b.data, "ROW(p.p3, p.p4, (p.p5)::pg_catalog.text) "
                                  "IS DISTINCT FROM ROW(t.t3, t.t4, "
                                  "(t.t5)::pg_catalog.text)");
    WB_CHECK_STR_CONTAINS(b.data, "COALESCE(p.p1, t.t1) AS k1, "
                                  "COALESCE(p.p2, t.t2) AS k2 FROM");
    wb_strbuf_free(&b);
}

static void test_diff_keys_only(void)
{
    wb_strbuf b = {0};
    wb_compare_col cols[] = {COL("id", "bigint", true, true, NULL, NULL)};
    wb_compare_shape s = {"s",  "t",  1, cols,  true, NULL,
                          NULL, NULL, 0, false, NULL};
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), 0);
    /* Nothing to compare but presence. */
    WB_CHECK(strstr(b.data, "IS DISTINCT FROM ROW(") == NULL);
    WB_CHECK_STR_CONTAINS(b.data, "WHERE p.wb_row IS NULL OR t.wb_row IS "
                                  "NULL");
    wb_strbuf_free(&b);

    /* No key at all: refused. */
    cols[0].key = false;
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), WB_EINVAL);
    wb_strbuf_free(&b);
}

static void test_diff_from_source(void)
{
    wb_strbuf b = {0};
    wb_compare_col cols[] = {
        {"external_id__c", "character varying(255)", true, true, NULL, NULL,
         "id"},
        {"personemail", "character varying(80)", false, true, NULL, NULL,
         "e\"mail"},
    };
    wb_compare_shape s = {"salesforce", "account", 2, cols,  true, "portal",
                          "users",      NULL,      0, false, NULL};
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, NULL, "df"), 0);
    /* The source table itself, each column's text read by the target's
     * type, as the stream's text value is. */
    WB_CHECK_STR_CONTAINS(b.data, "FROM (SELECT true AS wb_row, "
                                  "CAST((s.\"id\")::pg_catalog.text AS "
                                  "character varying(255)) AS p1, "
                                  "CAST((s.\"e\"\"mail\")::pg_catalog.text "
                                  "AS character varying(80)) AS p2 FROM ONLY "
                                  "\"portal\".\"users\" s) p FULL JOIN");
    WB_CHECK(strstr(b.data, "pg_temp") == NULL);
    wb_strbuf_free(&b);
}

static void test_buckets(void)
{
    wb_strbuf b = {0};
    wb_compare_col cols[] = {
        {"external_id__c", "character varying(255)", true, true, NULL, NULL,
         "id"},
        {"personemail", "character varying(80)", false, true, NULL, NULL,
         "email"},
        {"phone", "text", false, false, NULL, NULL, "phone"}, /* target's */
    };
    wb_compare_shape s = {"salesforce", "account", 3, cols,  true, "portal",
                          "users",      NULL,      0, false, NULL};
    /* The source: each value as the join casts it; the key's md5 picks
     * the bucket, the row's (key and compared columns) is XORed. */
    WB_CHECK_INT_EQ(wb_compare_sql_buckets(&b, &s, true, 1024), 0);
    WB_CHECK_STR_EQ(
        b.data,
        "SELECT wb_bucket, pg_catalog.count(*), pg_catalog.bit_xor(wb_hash) "
        "FROM (SELECT (('x' || pg_catalog.left(pg_catalog.md5(ROW(CAST((s."
        "\"id\")::pg_catalog.text AS character varying(255)))::pg_catalog."
        "text), 8))::pg_catalog.bit(32)::pg_catalog.int4 & 1023) AS "
        "wb_bucket, ('x' || pg_catalog.left(pg_catalog.md5(ROW(CAST((s."
        "\"id\")::pg_catalog.text AS character varying(255)), CAST((s."
        "\"email\")::pg_catalog.text AS character varying(80)))::pg_catalog."
        "text), 16))::pg_catalog.bit(64)::pg_catalog.int8 AS wb_hash FROM "
        "ONLY \"portal\".\"users\" s) x GROUP BY wb_bucket ORDER BY "
        "wb_bucket");
    wb_strbuf_reset(&b);
    /* The target: its own values, rows with a whole key. */
    WB_CHECK_INT_EQ(wb_compare_sql_buckets(&b, &s, false, 1024), 0);
    WB_CHECK_STR_CONTAINS(b.data, "md5(ROW(\"external_id__c\", "
                                  "\"personemail\")::pg_catalog.text)");
    WB_CHECK_STR_CONTAINS(b.data, "FROM ONLY \"salesforce\".\"account\" WHERE "
                                  "\"external_id__c\" IS NOT NULL) x GROUP BY");
    wb_strbuf_reset(&b);
    /* PostgreSQL's own hashes, when both servers agree on them. */
    s.pg_hash = true;
    WB_CHECK_INT_EQ(wb_compare_sql_buckets(&b, &s, false, 1024), 0);
    WB_CHECK_STR_EQ(
        b.data,
        "SELECT wb_bucket, pg_catalog.count(*), pg_catalog.bit_xor(wb_hash) "
        "FROM (SELECT (pg_catalog.hashtext(ROW(\"external_id__c\")::pg_"
        "catalog.text) & 1023) AS wb_bucket, pg_catalog.hashtextextended(ROW("
        "\"external_id__c\", \"personemail\")::pg_catalog.text, 0) AS "
        "wb_hash FROM ONLY \"salesforce\".\"account\" WHERE "
        "\"external_id__c\" IS NOT NULL) x GROUP BY wb_bucket ORDER BY "
        "wb_bucket");
    s.pg_hash = false;
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_compare_sql_buckets(&b, &s, true, 1000), WB_EINVAL);
    wb_strbuf_reset(&b);
    /* The rows of the buckets that differ, as the source's text. */
    WB_CHECK_INT_EQ(wb_compare_sql_bucket_rows(&b, &s, "{3,17}", 1024), 0);
    WB_CHECK_STR_EQ(
        b.data,
        "COPY (SELECT (s.\"id\")::pg_catalog.text, (s.\"email\")::pg_"
        "catalog.text, (s.\"phone\")::pg_catalog.text FROM ONLY \"portal\"."
        "\"users\" s WHERE (('x' || pg_catalog.left(pg_catalog.md5(ROW(CAST("
        "(s.\"id\")::pg_catalog.text AS character varying(255)))::pg_"
        "catalog.text), 8))::pg_catalog.bit(32)::pg_catalog.int4 & 1023) = "
        "ANY (CAST('{3,17}' AS pg_catalog.int4[]))) TO STDOUT");
    wb_strbuf_reset(&b);
    /* The join of that stage with the target's rows of those buckets. */
    s.from_schema = s.from_table = NULL;
    s.buckets = "{3,17}";
    s.nbuckets = 1024;
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, "st", "df"), 0);
    WB_CHECK_STR_CONTAINS(
        b.data, "WHERE \"external_id__c\" IS NOT NULL AND (('x' || "
                "pg_catalog.left(pg_catalog.md5(ROW(\"external_id__c\")::pg_"
                "catalog.text), 8))::pg_catalog.bit(32)::pg_catalog.int4 & "
                "1023) = ANY (CAST('{3,17}' AS pg_catalog.int4[]))) t ON");
    wb_strbuf_free(&b);
}

static void test_diff_recheck(void)
{
    wb_strbuf b = {0};
    wb_compare_col cols[] = {
        {"external_id__c", "character varying(255)", true, true, NULL, NULL,
         "id"},
        {"personemail", "character varying(80)", false, true, NULL, NULL,
         "email"},
    };
    wb_compare_shape s = {"salesforce",   "account", 2,    cols, true,
                          "portal",       "users",   NULL, 0,    false,
                          "wb_compare_d1"};
    WB_CHECK_INT_EQ(wb_compare_sql_diff(&b, &s, NULL, "wb_compare_d2"), 0);
    /* Both sides only for the first pass's keys. */
    WB_CHECK_STR_CONTAINS(b.data, "FROM ONLY \"portal\".\"users\" s WHERE "
                                  "(CAST((s.\"id\")::pg_catalog.text AS "
                                  "character varying(255))) IN (SELECT k1 "
                                  "FROM \"pg_temp\".\"wb_compare_d1\")) p");
    WB_CHECK_STR_CONTAINS(b.data, "WHERE \"external_id__c\" IS NOT NULL AND "
                                  "(\"external_id__c\") IN (SELECT k1 FROM "
                                  "\"pg_temp\".\"wb_compare_d1\")) t ON");
    wb_strbuf_free(&b);
}

static void test_delete(void)
{
    wb_strbuf b = {0};
    const char *keys[] = {"external_id__c", "k\"2"};
    WB_CHECK_INT_EQ(wb_compare_sql_delete(&b, "salesforce", "account", keys, 2),
                    0);
    /* Extra in both passes with the xmin both saw, matched on the key. */
    WB_CHECK_STR_EQ(
        b.data,
        "DELETE FROM ONLY \"salesforce\".\"account\" t USING "
        "pg_temp.wb_compare_d2 d WHERE d.kind = 'extra' AND EXISTS (SELECT 1 "
        "FROM pg_temp.wb_compare_d1 o WHERE o.kind = d.kind AND o.key = d.key "
        "AND o.wb_xmin = d.wb_xmin) AND t.xmin::pg_catalog.text = d.wb_xmin "
        "AND t.\"external_id__c\" = d.k1 AND t.\"k\"\"2\" = d.k2");
    wb_strbuf_free(&b);
    WB_CHECK_INT_EQ(wb_compare_sql_delete(&b, "s", "t", keys, 0), WB_EINVAL);
    wb_strbuf_free(&b);
}

int main(void)
{
    WB_RUN(test_kind_names);
    WB_RUN(test_stage);
    WB_RUN(test_diff_plain);
    WB_RUN(test_diff_lookup_cast_json);
    WB_RUN(test_diff_keys_only);
    WB_RUN(test_diff_from_source);
    WB_RUN(test_buckets);
    WB_RUN(test_diff_recheck);
    WB_RUN(test_delete);
    return wbtest_summary();
}
