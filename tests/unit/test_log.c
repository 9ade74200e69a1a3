/*
 * test_log.c - levels and the sink.
 */
#include <string.h>

#include "common/log.h"
#include "wbtest.h"

static int sink_calls;
static wb_log_level sink_level;
static char sink_msg[256];
static void sink(void *ud, wb_log_level level, const char *msg,
                 const wb_error *err)
{
    (void)ud;
    (void)err;
    sink_calls++;
    sink_level = level;
    snprintf(sink_msg, sizeof(sink_msg), "%s", msg);
}

static void test_log_levels(void)
{
    wb_log_level l;
    wb_log_set_sink(sink, NULL);
    wb_log_set_level(WB_LOG_WARNING);
    wb_log(WB_LOG_INFO, "dropped %d", 1);
    WB_CHECK_INT_EQ(sink_calls, 0);
    wb_log(WB_LOG_ERROR, "kept %d", 2);
    WB_CHECK_INT_EQ(sink_calls, 1);
    WB_CHECK_INT_EQ(sink_level, WB_LOG_ERROR);
    WB_CHECK_STR_EQ(sink_msg, "kept 2");
    WB_CHECK_INT_EQ(wb_log_level_parse("Debug", &l), 0);
    WB_CHECK_INT_EQ(l, WB_LOG_DEBUG);
    WB_CHECK_INT_EQ(wb_log_level_parse("loud", &l), WB_EINVAL);
    wb_log_set_sink(NULL, NULL);
}

int main(void)
{
    WB_RUN(test_log_levels);
    return wbtest_summary();
}
