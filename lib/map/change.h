/*
 * map/change.h - one source change as the router gets it from the decoder,
 * and as mapping plugins see it.
 *
 * wb_change points at the decoder's relation and tuples; the router turns
 * it into the ABI's wb_plugin_change once per change, whatever number of
 * mappings read the relation.
 */
#ifndef WB_MAP_CHANGE_H
#define WB_MAP_CHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/lsn.h"
#include "decode/pgoutput.h"
#include "walbridge/plugin.h"

typedef enum wb_change_kind {
    WB_CHANGE_INSERT = 'I',
    WB_CHANGE_UPDATE = 'U',
    WB_CHANGE_DELETE = 'D',
    WB_CHANGE_TRUNCATE = 'T'
} wb_change_kind;

/* One source change, as the router sees it. */
typedef struct wb_change {
    wb_change_kind kind;
    const wb_pgoutput_relation *rel; /* latest Relation for the relid */
    char oldkind;                    /* 0, 'K' or 'O' */
    const wb_tuple *oldtup;          /* NULL when absent */
    const wb_tuple *newtup;          /* NULL for delete and truncate */
    wb_lsn lsn;                      /* commit LSN of the transaction */
    int64_t commit_time;             /* PG epoch microseconds */
    uint8_t truncate_flags;          /* WB_TRUNCATE_* for truncate */
    uint64_t rel_version;            /* rel's relcache generation: changes
                                        whenever rel's shape may have */
    /* A row copied from the source (an insert, sync.h): routed only to
     * these mappings, of the router's configuration; NULL: to every
     * mapping that reads rel. */
    const struct wb_config_mapping *const *only;
    size_t nonly;
    /* A re-synced row (resync.h): most target rows already hold it, so
     * its writes change only rows that differ (skip_unchanged). */
    bool rewrite_only_changed;
} wb_change;

/*
 * c as a wb_plugin_change: names, type OIDs, key flags and the old and new
 * rows as wb_plugin_value arrays, allocated in arena (valid until its next
 * reset); commit_time becomes Unix microseconds.  binary: values in
 * binary format are expected, and passed on as WB_PLUGIN_VALUE_TEXT whose
 * header (common/value.h) says they are binary.  0, WB_ENOMEM, or WB_EDATA
 * for a value in binary format when !binary (err names relation, column
 * and LSN).
 */
int wb_change_for_plugin(const wb_change *c, bool binary, wb_arena *arena,
                         wb_plugin_change *pc, wb_error *err);

#endif
