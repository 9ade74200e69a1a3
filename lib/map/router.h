/*
 * map/router.h - what the router makes of one source change for the
 * applier: the target operations, and what the applier needs of the
 * source row besides them, so that data flows one way (decoder, router,
 * applier) and the applier never reads decoder structs.
 */
#ifndef WB_ROUTER_INT_H
#define WB_ROUTER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"
#include "map/mapping.h"

/*
 * A write of another writer to a table that a last_writer_wins by commit
 * time mapping writes: which columns it wrote, for the column clock
 * (wb_apply_clock_change).  Values are text (NULL: SQL NULL); unchanged
 * TOAST and binary values are left out.
 */
typedef struct wb_clock_write {
    const wb_config_mapping *mapping;
    wb_lsn lsn;   /* commit LSN of the source transaction */
    size_t nkeys; /* mapping->nkeys: the row's key values, in order */
    const char **keys;
    size_t ncols;      /* > 0 */
    const char **cols; /* target column names */
    const char **vals;
    bool *same; /* the old row (replica identity full) had that value */
} wb_clock_write;

typedef struct wb_routed {
    /* A row of this relation changed (NULL for a truncate): if it is a
     * mapping's lookup table, its pending links are due. */
    const char *changed_schema, *changed_table;
    bool mapped; /* some mapping reads this relation */
    size_t nclock;
    wb_clock_write *clock;
    size_t nops;
    wb_target_op *ops;
} wb_routed;

/*
 * Route one change (see wb_router_route) and work out the column clock
 * writes it makes, all in arena.  Same errors as wb_router_route.
 */
int wb_router_route_change(wb_router *r, const wb_change *c, wb_arena *arena,
                           wb_routed *out, wb_error *err);

#endif
