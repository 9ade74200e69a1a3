/*
 * check/binary.h - may values travel in binary format?
 *
 * pgoutput sends every value of a stream in one format: text, or, with the
 * binary option, each type's send function's output (types without one
 * still come as text).  Binary saves printing every value on the source
 * and parsing it again on the target, but a binary value means something
 * only to a column of its own type, and walbridge cannot turn one into
 * text.  So the choice is made for the whole stream, before it starts, and
 * binary is chosen only when every enabled mapping is a built-in one that
 * copies each source column, unchanged, into a column of the very same
 * type:
 *   - no plugin (ABI 1 hands plugins text), no values: (expressions,
 *     casts, lookups read text), no filter, no conflict policy (its
 *     stamps and old values are compared as text), no soft delete;
 *   - each key and column pair has one type OID on both sides (or text,
 *     varchar and bpchar, whose binary format is their characters), and
 *     that OID means the same on both: a built-in type, or any type when
 *     the target is the source database (a user type's OID, and the
 *     element OIDs that binary arrays carry, differ between databases);
 *     or the target is text, varchar or bpchar and the source type one
 *     whose text form walbridge can write itself (common/bintext.h: the
 *     integers, boolean, uuid), which the router then does;
 *   - the source type has a send function and the target one a receive
 *     function.
 * Otherwise the reason is given (logged at start, shown by walbridge
 * check).  The router then guards the choice while streaming
 * (wb_router_set_binary): a column whose type changes mid-stream makes the
 * stream be read again as text.
 */
#ifndef WB_CHECK_BINARY_H
#define WB_CHECK_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "config/config.h"

/* One column as a catalog describes it. */
typedef struct wb_binary_col {
    const char *schema, *table, *column;
    uint32_t typoid;
    bool has_send, has_recv;
    const char *type; /* format_type, for the reason */
} wb_binary_col;

/* The choice, and for each enabled mapping (in cfg order, disabled ones
 * NULL) the source type OIDs of its key sources then its column sources,
 * and whether each goes to the target in its text form (bintext.h). */
typedef struct wb_binary_plan {
    bool binary;
    char reason[400]; /* when !binary: why, one sentence without period */
    size_t nmappings; /* cfg->nmappings */
    uint32_t **types;
    uint8_t **text;
} wb_binary_plan;

/*
 * Decide from the columns read on each side (pure; unit-tested):
 * src[nsrc] the source relations' columns, tgt[ntgt] the targets';
 * same_db: the target is the source database.  Fills plan (free it with
 * wb_binary_plan_free).  0 or WB_ENOMEM.
 */
int wb_binary_decide(const wb_config *cfg, const wb_binary_col *src,
                     size_t nsrc, const wb_binary_col *tgt, size_t ntgt,
                     bool same_db, wb_binary_plan *plan);

/*
 * Read both catalogs and decide (source.binary: off decides text without
 * connecting).  Opens ordinary connections of its own, as walbridge check
 * does.  0, or WB_ECONN/WB_ESQL/WB_ENOMEM with err.
 */
int wb_binary_choose(const wb_config *cfg, wb_binary_plan *plan, wb_error *err);

void wb_binary_plan_free(wb_binary_plan *plan);

#endif
