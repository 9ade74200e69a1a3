/*
 * test_spool.c - streamed transactions: append, subtransaction abort,
 * replay order, flags.
 */
#include <stdlib.h>
#include <string.h>

#include "source/spool.h"
#include "wbtest.h"

typedef struct seen {
    char items[64][16];
    int n;
} seen;

static int collect(void *ud, const char *msg, size_t len)
{
    seen *s = ud;
    if (s->n < 64) {
        memcpy(s->items[s->n], msg, len < 15 ? len : 15);
        s->items[s->n][len < 15 ? len : 15] = '\0';
        s->n++;
    }
    return 0;
}

static void add(wb_spool *sp, uint32_t xid, uint32_t sub, const char *m)
{
    WB_CHECK_INT_EQ(wb_spool_append(sp, xid, sub, m, strlen(m), NULL), 0);
}

static void test_replay_in_order_and_interleaved(void)
{
    wb_spool *sp = wb_spool_create(NULL, 8, NULL);
    seen s = {0};
    bool flag = true;
    add(sp, 10, 10, "a1");
    add(sp, 20, 20, "b1");
    add(sp, 10, 10, "a2");
    add(sp, 20, 20, "b2");
    WB_CHECK_INT_EQ(wb_spool_open_count(sp), 2);
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 10, collect, &s, &flag, NULL), 0);
    WB_CHECK(!flag);
    WB_CHECK_INT_EQ(s.n, 2);
    WB_CHECK_STR_EQ(s.items[0], "a1");
    WB_CHECK_STR_EQ(s.items[1], "a2");
    WB_CHECK_INT_EQ(wb_spool_open_count(sp), 1);
    wb_spool_destroy(sp);
}

static void test_subxact_abort_cuts_it_and_later_ones(void)
{
    wb_spool *sp = wb_spool_create(NULL, 8, NULL);
    seen s = {0};
    add(sp, 10, 10, "top1");
    add(sp, 10, 11, "sub11a"); /* savepoint s1 */
    add(sp, 10, 11, "sub11b");
    add(sp, 10, 12, "sub12"); /* s2 nested in s1 */
    add(sp, 10, 13, "sub13"); /* another one, later aborted */
    WB_CHECK_INT_EQ(wb_spool_abort(sp, 10, 13, NULL), 0);
    add(sp, 10, 10, "top2");
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 10, collect, &s, NULL, NULL), 0);
    WB_CHECK_INT_EQ(s.n, 5);
    WB_CHECK_STR_EQ(s.items[3], "sub12");
    WB_CHECK_STR_EQ(s.items[4], "top2");

    memset(&s, 0, sizeof(s));
    add(sp, 30, 30, "t");
    add(sp, 30, 31, "s31");
    add(sp, 30, 32, "s32");
    WB_CHECK_INT_EQ(wb_spool_abort(sp, 30, 31, NULL), 0); /* parent abort */
    add(sp, 30, 30, "t2");
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 30, collect, &s, NULL, NULL), 0);
    WB_CHECK_INT_EQ(s.n, 2);
    WB_CHECK_STR_EQ(s.items[0], "t");
    WB_CHECK_STR_EQ(s.items[1], "t2");
    wb_spool_destroy(sp);
}

static void test_top_abort_flags_and_limits(void)
{
    wb_spool *sp = wb_spool_create(NULL, 2, NULL);
    seen s = {0};
    wb_error err;
    bool flag = false;
    add(sp, 1, 1, "x");
    WB_CHECK_INT_EQ(wb_spool_abort(sp, 1, 1, NULL), 0);
    WB_CHECK_INT_EQ(wb_spool_open_count(sp), 0);
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 1, collect, &s, &flag, NULL), 0);
    WB_CHECK_INT_EQ(s.n, 0);
    WB_CHECK_INT_EQ(wb_spool_abort(sp, 99, 5, NULL), 0); /* unknown: fine */

    add(sp, 2, 2, "y");
    WB_CHECK_INT_EQ(wb_spool_set_flag(sp, 2, true, NULL), 0);
    WB_CHECK(wb_spool_is_flagged(sp, 2));
    add(sp, 3, 3, "z");
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_spool_append(sp, 4, 4, "w", 1, &err), WB_ELIMIT);
    WB_CHECK_STR_CONTAINS(err.message, "streamed transactions in progress");
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 2, collect, &s, &flag, NULL), 0);
    WB_CHECK(flag);
    wb_spool_clear(sp);
    WB_CHECK_INT_EQ(wb_spool_open_count(sp), 0);
    wb_spool_destroy(sp);
}

static int stop_at_second(void *ud, const char *msg, size_t len)
{
    int *n = ud;
    (void)msg;
    (void)len;
    return ++*n == 2 ? WB_EDATA : 0;
}

static void test_callback_error_stops_and_drops(void)
{
    wb_spool *sp = wb_spool_create(NULL, 4, NULL);
    int n = 0;
    add(sp, 5, 5, "1");
    add(sp, 5, 5, "2");
    add(sp, 5, 5, "3");
    WB_CHECK_INT_EQ(wb_spool_replay(sp, 5, stop_at_second, &n, NULL, NULL),
                    WB_EDATA);
    WB_CHECK_INT_EQ(n, 2);
    WB_CHECK_INT_EQ(wb_spool_open_count(sp), 0);
    wb_spool_destroy(sp);
}

static void test_bad_dir(void)
{
    wb_error err;
    wb_spool *sp = wb_spool_create("/nonexistent/dir", 4, NULL);
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_spool_append(sp, 1, 1, "x", 1, &err), WB_EIO);
    WB_CHECK_STR_CONTAINS(err.message, "/nonexistent/dir");
    wb_spool_destroy(sp);
}

int main(void)
{
    WB_RUN(test_replay_in_order_and_interleaved);
    WB_RUN(test_subxact_abort_cuts_it_and_later_ones);
    WB_RUN(test_top_abort_flags_and_limits);
    WB_RUN(test_callback_error_stops_and_drops);
    WB_RUN(test_bad_dir);
    return wbtest_summary();
}
