/*
 * test_flow.c - back-pressure decisions: each bound stops the source on its
 * own, and the source resumes only once libpq's buffer was emptied and the
 * server side is below half its bounds.
 */
#include "apply/flow.h"
#include "wbtest.h"

static wb_flow_load idle(void)
{
    return (wb_flow_load){.max_queued = 1000, .max_unflushed = 4096};
}

static void test_idle(void)
{
    wb_flow_load l = idle();
    WB_CHECK(!wb_flow_backlogged(&l));
    WB_CHECK(wb_flow_drained_enough(&l));
    WB_CHECK(!wb_flow_only_unsent(&l));
}

static void test_server_bounds(void)
{
    wb_flow_load l = idle();
    l.queued = 500;
    WB_CHECK(wb_flow_backlogged(&l));
    WB_CHECK(!wb_flow_only_unsent(&l));
    l.queued = 499;
    WB_CHECK(!wb_flow_backlogged(&l));
    /* Hysteresis: not backlogged, but not drained enough either. */
    WB_CHECK(!wb_flow_drained_enough(&l));
    l.queued = 249;
    WB_CHECK(wb_flow_drained_enough(&l));

    l = idle();
    l.inflight_bytes = WB_FLOW_MAX_INFLIGHT_BYTES;
    WB_CHECK(wb_flow_backlogged(&l));
    l.inflight_bytes = WB_FLOW_MAX_INFLIGHT_BYTES / 2;
    WB_CHECK(!wb_flow_backlogged(&l));
    WB_CHECK(!wb_flow_drained_enough(&l));
    l.inflight_bytes--;
    WB_CHECK(wb_flow_drained_enough(&l));

    l = idle();
    l.unflushed = 4096 - 64;
    WB_CHECK(wb_flow_backlogged(&l));
    /* Only results free it (an open COPY must end for them). */
    WB_CHECK(wb_flow_server_full(&l));
    l.unflushed--;
    WB_CHECK(!wb_flow_backlogged(&l));
    WB_CHECK(!wb_flow_server_full(&l));
    l.unsent_bytes = WB_FLOW_MAX_UNSENT_BYTES;
    WB_CHECK(!wb_flow_server_full(&l));
}

static void test_unsent_bound(void)
{
    wb_flow_load l = idle();
    l.unsent_bytes = WB_FLOW_MAX_UNSENT_BYTES - 1;
    WB_CHECK(!wb_flow_backlogged(&l));
    /* Some output still in libpq: not resumed on that. */
    WB_CHECK(!wb_flow_drained_enough(&l));
    l.unsent_bytes = WB_FLOW_MAX_UNSENT_BYTES;
    WB_CHECK(wb_flow_backlogged(&l));
    /* Only libpq's buffer: the socket taking it is enough. */
    WB_CHECK(wb_flow_only_unsent(&l));
    l.queued = 500;
    WB_CHECK(!wb_flow_only_unsent(&l));
    /* Emptied, with the server side between its marks: backlogged no
     * longer, and drained enough. */
    l.unsent_bytes = 0;
    l.queued = 200;
    l.inflight_bytes = WB_FLOW_MAX_INFLIGHT_BYTES / 4;
    WB_CHECK(!wb_flow_backlogged(&l));
    WB_CHECK(wb_flow_drained_enough(&l));
    /* The unsent bound is well below the in-flight one, or the copies
     * would not shrink. */
    WB_CHECK(WB_FLOW_MAX_UNSENT_BYTES * 8 <= WB_FLOW_MAX_INFLIGHT_BYTES);
}

int main(void)
{
    WB_RUN(test_idle);
    WB_RUN(test_server_bounds);
    WB_RUN(test_unsent_bound);
    return wbtest_summary();
}
