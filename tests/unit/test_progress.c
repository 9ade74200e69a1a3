/*
 * test_progress.c - the pure parts of progress.c: the durable ring
 * (synchronous_commit off) and where to resume from.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "progress.h"
#include "wbtest.h"

static void test_ring_in_order(void)
{
    wb_progress_ring *r = calloc(1, sizeof(*r));
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, 1000), 0);
    wb_progress_ring_push(r, 100, 10);
    wb_progress_ring_push(r, 200, 20);
    wb_progress_ring_push(r, 300, 30);
    /* Nothing flushed yet: nothing durable. */
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, 99), 0);
    WB_CHECK_INT_EQ((int)r->n, 3);
    /* Flushed up to a commit record exactly: that batch is durable. */
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, 200), 20);
    WB_CHECK_INT_EQ((int)r->n, 1);
    /* Never goes back. */
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, 150), 20);
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, 5000), 30);
    WB_CHECK_INT_EQ((int)r->n, 0);
    free(r);
}

static void test_ring_wraps(void)
{
    wb_progress_ring *r = calloc(1, sizeof(*r));
    for (wb_lsn i = 1; i <= 3 * WB_PROGRESS_RING; i++) {
        wb_progress_ring_push(r, i * 10, i);
        if (i % 7 == 0)
            WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, i * 10), i);
    }
    wb_lsn last = 3 * WB_PROGRESS_RING;
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(r, last * 10), last);
    WB_CHECK_INT_EQ((int)r->n, 0);
    free(r);
}

/* A stored end that is lower than an earlier one keeps the higher. */
static void test_ring_durable_is_max(void)
{
    wb_progress_ring r;
    memset(&r, 0, sizeof(r));
    wb_progress_ring_push(&r, 100, 50);
    wb_progress_ring_push(&r, 200, 40);
    WB_CHECK_U64_EQ(wb_progress_ring_flushed(&r, 300), 50);
}

static void test_resume(void)
{
    wb_error err;
    wb_lsn start;
    bool store;
    wb_progress_slot s;

    /* A slot just created: its consistent point, stored. */
    memset(&s, 0, sizeof(s));
    s.created = true;
    s.consistent_point = 0x500;
    WB_CHECK_INT_EQ(wb_progress_resume("s", 0x100, &s, &start, &store, &err),
                    0);
    WB_CHECK_U64_EQ(start, 0x500);
    WB_CHECK(store);

    /* Existing, inactive, behind or at the stored position: resume there. */
    memset(&s, 0, sizeof(s));
    s.confirmed_flush = 0x100;
    WB_CHECK_INT_EQ(wb_progress_resume("s", 0x200, &s, &start, &store, &err),
                    0);
    WB_CHECK_U64_EQ(start, 0x200);
    WB_CHECK(!store);

    /* Nothing stored: its confirmed_flush_lsn, stored. */
    WB_CHECK_INT_EQ(
        wb_progress_resume("s", WB_INVALID_LSN, &s, &start, &store, &err), 0);
    WB_CHECK_U64_EQ(start, 0x100);
    WB_CHECK(store);

    /* The slot confirmed more than is stored: refused. */
    wb_error_clear(&err);
    s.confirmed_flush = 0x300;
    WB_CHECK_INT_EQ(wb_progress_resume("s", 0x200, &s, &start, &store, &err),
                    WB_ESTATE);
    WB_CHECK_STR_CONTAINS(err.message, "past the stored position 0/200");

    /* Still active: someone else's. */
    wb_error_clear(&err);
    s.confirmed_flush = 0x100;
    s.active_pid = 42;
    WB_CHECK_INT_EQ(wb_progress_resume("s", 0x200, &s, &start, &store, &err),
                    WB_ESTATE);
    WB_CHECK_STR_CONTAINS(err.message, "active for PID 42");
}

static void test_idle_due(void)
{
    /* A skipped transaction's end, at the status interval. */
    wb_progress_idle in = {0x2000, 0x1000, 0x1000, 10000, 9500, 1000};
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0);
    in.now_ms = 10500;
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0x2000);
    /* Nothing moved past what is stored. */
    in.stored = 0x2000;
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, true), 0);
    /* A keepalive a little ahead: lazily (a minute, or 1 MiB ahead). */
    in = (wb_progress_idle){0, 0x3000, 0x2000, 20000, 10000, 1000};
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0);
    in.now_ms = 70000;
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0x3000);
    in.now_ms = 20000;
    in.keepalive = 0x2000 + 1024 * 1024;
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0x2000 + 1024 * 1024);
    /* Stopping: whatever moved. */
    in.keepalive = 0x2001;
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, true), 0x2001);
    WB_CHECK_U64_EQ(wb_progress_idle_due(&in, false), 0);
}

/* The statement text of the stored position (progress_sql.c). */
static wb_strbuf b;

static const char *text(int rc)
{
    WB_CHECK_INT_EQ(rc, 0);
    return wb_strbuf_str(&b);
}

static void test_sql(void)
{
    const char *rel = "\"wb\".\"Progress\"";
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_progress_sql_create(&b, rel)),
        "CREATE TABLE IF NOT EXISTS \"wb\".\"Progress\" (slot text PRIMARY "
        "KEY, end_lsn pg_lsn NOT NULL, commit_time timestamptz, updated_at "
        "timestamptz NOT NULL DEFAULT now())");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_progress_sql_store(&b, rel)),
        "INSERT INTO \"wb\".\"Progress\" (slot, end_lsn, commit_time, "
        "updated_at) "
        "VALUES ($1, $2::pg_lsn, '2000-01-01 00:00:00+00'::timestamptz + "
        "$3::bigint "
        "* interval '1 microsecond', now()) ON CONFLICT (slot) DO UPDATE SET "
        "end_lsn = EXCLUDED.end_lsn, commit_time = EXCLUDED.commit_time, "
        "updated_at "
        "= now()");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_progress_sql_guard(&b, rel)),
        "SELECT (CASE WHEN EXISTS (SELECT 1 FROM \"wb\".\"Progress\" WHERE "
        "slot = $2 AND end_lsn >= $1::pg_lsn) THEN '1' ELSE 'walbridge: the "
        "previous batch was not committed' END)::int");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(text(wb_progress_sql_read(&b, rel)),
                    "SELECT end_lsn FROM \"wb\".\"Progress\" WHERE slot = $1");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_progress_sql_identity_create(&b, "wb")),
        "CREATE TABLE IF NOT EXISTS \"wb\".source_identity (slot text PRIMARY "
        "KEY, system_identifier text NOT NULL, timeline integer NOT NULL, "
        "recorded_at "
        "timestamptz NOT NULL DEFAULT now())");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_progress_sql_identity_read(&b, "wb")),
        "SELECT system_identifier, timeline FROM \"wb\".source_identity WHERE "
        "slot = $1");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(text(wb_progress_sql_identity_insert(&b, "wb")),
                    "INSERT INTO \"wb\".source_identity (slot, "
                    "system_identifier, timeline) "
                    "VALUES ($1, $2, $3) ON CONFLICT (slot) DO NOTHING");
    WB_CHECK_STR_EQ(WB_PROGRESS_SQL_ORIGIN_XACT_SETUP,
                    "SELECT pg_replication_origin_xact_setup($1::pg_lsn, "
                    "'2000-01-01 00:00:00+00'::timestamptz "
                    "+ $2::bigint * interval '1 microsecond')");
    WB_CHECK_STR_EQ(
        WB_PROGRESS_SQL_ORIGIN_GUARD,
        "SELECT (CASE WHEN pg_replication_origin_session_progress(false) >= "
        "$1::pg_lsn THEN '1' ELSE 'walbridge: the previous batch was not "
        "committed' "
        "END)::int");
    wb_strbuf_free(&b);
}

int main(void)
{
    WB_RUN(test_sql);
    WB_RUN(test_ring_in_order);
    WB_RUN(test_ring_wraps);
    WB_RUN(test_ring_durable_is_max);
    WB_RUN(test_resume);
    WB_RUN(test_idle_due);
    return wbtest_summary();
}
