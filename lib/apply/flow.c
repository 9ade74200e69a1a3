/*
 * apply/flow.c - back-pressure decisions (see apply/flow.h).
 */
#include "apply/flow.h"

bool wb_flow_server_full(const wb_flow_load *l)
{
    return l->queued >= l->max_queued / 2 ||
           l->inflight_bytes >= WB_FLOW_MAX_INFLIGHT_BYTES ||
           l->unflushed + 64 >= l->max_unflushed;
}

bool wb_flow_backlogged(const wb_flow_load *l)
{
    return wb_flow_server_full(l) ||
           l->unsent_bytes >= WB_FLOW_MAX_UNSENT_BYTES;
}

bool wb_flow_drained_enough(const wb_flow_load *l)
{
    return l->unsent_bytes == 0 && l->queued < l->max_queued / 4 &&
           l->inflight_bytes < WB_FLOW_MAX_INFLIGHT_BYTES / 2;
}

bool wb_flow_only_unsent(const wb_flow_load *l)
{
    return !wb_flow_server_full(l) &&
           l->unsent_bytes >= WB_FLOW_MAX_UNSENT_BYTES;
}
