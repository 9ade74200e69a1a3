/*
 * map/router.h - from source changes to target row operations.
 *
 * The router takes one decoded change (insert, update, delete, truncate of a
 * source relation) and produces zero or more target operations, using the
 * mappings of the configuration.  Operations name their target and columns
 * by name and carry values as text (NULL pointer = SQL NULL), or, in ops
 * with the binary flag, as the source's binary values (check/binary.h), so
 * the applier can build and cache one prepared statement per operation
 * shape.
 *
 * The router is pure: no I/O, no server.  Everything it returns lives in the
 * arena passed in (the per-message arena) and dies at its next reset.
 *
 * Built-in mapping semantics (documented in the README):
 *   insert   -> upsert on the target key (INSERT ... ON CONFLICT (key) DO
 *               UPDATE), so replays and pre-existing rows converge;
 *   update   -> UPDATE ... WHERE key = old key (the old key comes from the
 *               'K'/'O' tuple when the source key changed), setting the key
 *               to its new value; a row that is not there is inserted when
 *               every mapped column is known;
 *   delete   -> DELETE ... WHERE key = old key (on_delete: delete|ignore);
 *   truncate -> on_truncate: ignore (warning) | truncate the target.
 * Unchanged TOAST values ('u') are left out of the SET list, never written
 * as NULL.  A NULL or unavailable key value is a data error naming the
 * relation, column and LSN.
 */
#ifndef WB_MAP_ROUTER_H
#define WB_MAP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/lsn.h"
#include "config/config.h"
#include "map/change.h"
#include "walbridge/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wb_op_kind {
    WB_OP_UPSERT = 1, /* INSERT (keys, set) ON CONFLICT (keys) DO UPDATE set */
    WB_OP_UPDATE,     /* UPDATE SET set WHERE keys */
    WB_OP_DELETE,     /* DELETE WHERE keys */
    WB_OP_TRUNCATE    /* TRUNCATE target */
} wb_op_kind;

/* A value the target works out when the statement runs (built-in mapping
 * only; opaque to plugins): either a lookup, (SELECT column FROM
 * schema.table WHERE match = <value>), or, with table NULL, a cast that
 * PostgreSQL's own input function decides, CAST(<value> AS cast). */
struct wb_plugin_lookup {
    const char *schema, *table; /* unquoted; NULL: not a lookup */
    const char *match;
    const char *column;
    const char *cast; /* "date", or NULL */
};

/* A column and its value: the plugin ABI's struct itself, so that what the
 * built-in mapping emits is queued without a copy (an external plugin's
 * columns are copied, to keep their names past the message). */
typedef wb_plugin_col wb_op_value;

typedef struct wb_target_op {
    wb_op_kind kind;
    const char *mapping; /* mapping name, for errors */
    const char *schema;  /* target, unquoted */
    const char *table;
    size_t nkeys;
    wb_op_value *keys; /* upsert: conflict key + values; update/delete:
                          match on these (old) values */
    size_t nset;
    wb_op_value *set;       /* upsert/update: columns to write; for update the
                               first nkeys entries are the key columns with their
                               new values, in key order */
    bool insert_if_missing; /* update: upsert set when no row matched */
    bool skip_unchanged;    /* upsert/update: write nothing when every set
                               column already holds its value */
    bool has_lookup;        /* some key or set value is a lookup (not a
                               target-side cast) */
    bool binary; /* every non-NULL key, set and old value came from the
                    source tuple unchanged and has common/value.h's header:
                    its format and length are read from there (a binary
                    value may hold NUL bytes) */
    /* Conflict handling (mapping's conflict: resolve not NONE), else NULL. */
    const wb_config_conflict *conflict;
    const wb_op_value *old; /* update: nset old values (see wb_plugin_op) */
    const char *stamp;      /* last_writer_wins by column: the source
                               column's value (text, NULL = SQL NULL) */
    const char *from_schema, *from_table; /* the source, for conflict logs */
    int64_t commit_time; /* source commit, PG epoch microseconds */
    /* A copied row (initial copy, re-sync): not in commit order with the
     * stream, so a commit-time policy weighs its commit_time against the
     * target row's, not the column clock's order. */
    bool unordered;
} wb_target_op;

typedef struct wb_router wb_router;

/*
 * Create a router for cfg (which must outlive it).  Only enabled mappings are
 * used.  Each mapping gets its plugin: the built-in declarative mapping, or
 * the shared object named by plugin.path (resolved against the directory of
 * cfg->path), loaded and initialised here.  NULL with err on failure: out of
 * memory (WB_ENOMEM), a plugin that cannot be loaded, speaks another ABI or
 * rejects its configuration (WB_ECONFIG, with the file position).
 */
wb_router *wb_router_create(const wb_config *cfg, wb_error *err);
void wb_router_destroy(wb_router *r);

/*
 * Values of mapping m (one of the router's configuration's, built in)
 * come in binary format, as check/binary.h chose: types[] holds the source
 * types of its key sources then its column sources (m->nkeys +
 * m->ncolumns), as the start-up check found them, and text[] (or NULL)
 * which of them go into a text column in their text form
 * (common/bintext.h).  From now on the router passes those values on
 * unconverted, or in that text form, in ops with the binary flag,
 * and a change whose relation gives them other types (an ALTER ... TYPE
 * mid-stream) fails with WB_EFORMAT, so that the stream is read again as
 * text.  Every mapping must then be marked: one that is not fails the
 * same way.  0, WB_ENOMEM, or WB_EINVAL (not a built-in mapping of this
 * router).
 */
int wb_router_set_binary(wb_router *r, const wb_config_mapping *m,
                         const uint32_t *types, const uint8_t *text);
/* Back to text values for every mapping (the state after create). */
void wb_router_set_text(wb_router *r);
/* r replaces from mid-stream (a reload): if from read binary values, so
 * does the stream r gets, and each of r's mappings fails with WB_EFORMAT
 * until wb_router_set_binary marks it (the next session chooses again). */
void wb_router_inherit_binary(wb_router *r, const wb_router *from);

/*
 * Does any enabled mapping read from this relation?  Cheap (hash lookup);
 * lets the caller skip unmapped tables without routing.
 */
bool wb_router_is_mapped(wb_router *r, const char *nspname,
                         const char *relname);

/*
 * Map one change.  *ops and *nops receive an array allocated in arena (nops may
 * be 0: the relation is unmapped or the mapping ignores the change).
 * Returns 0, WB_EFORMAT (see wb_router_set_binary), WB_EDATA (a mapped column
 * is missing from the relation, a key value is NULL, unchanged or absent, a
 * value does not convert, a plugin reported an error; err names mapping,
 * relation, column and LSN) or WB_ENOMEM.
 */
int wb_router_route(wb_router *r, const wb_change *change, wb_arena *arena,
                    wb_target_op **ops, size_t *nops, wb_error *err);

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

/*
 * What the router makes of one source change for the applier: the target
 * operations, and what the applier needs of the source row besides them,
 * so that data flows one way (decoder, router, applier) and the applier
 * never reads decoder structs.
 */
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

#ifdef __cplusplus
}
#endif
#endif
