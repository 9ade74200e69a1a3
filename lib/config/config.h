/*
 * config/config.h - the YAML configuration.
 *
 * One file, read with libyaml.  ${VAR} and ${VAR:-default} in scalar values
 * are substituted from the environment before the value is interpreted ($$
 * is a literal $).  Validation is strict: unknown keys, wrong types and
 * missing required keys are errors carrying file:line:column, reported
 * before any connection is made.
 *
 * The loaded configuration is one heap block owned by the caller and freed
 * with wb_config_free; every string in it lives as long as the wb_config.
 */
#ifndef WALBRIDGE_CONFIG_H
#define WALBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a value came from in the file, for later (catalog) errors. */
typedef struct wb_config_pos {
    int line; /* 1-based */
    int col;  /* 1-based */
} wb_config_pos;

/* A qualified table name, split and unquoted ("portal.users"). */
typedef struct wb_config_table wb_config_table;
struct wb_config_table {
    char *schema;
    char *table;
    wb_config_pos pos;
};

/* source column -> target column */
typedef struct wb_config_colmap {
    char *from;
    char *to;
    wb_config_pos pos;
} wb_config_colmap;

/*
 * The mapping language's trees (value expressions and row filters) are
 * defined in config/expr_ast.h; the configuration only holds pointers to them.
 */
typedef struct wb_expr wb_expr;
typedef struct wb_filter wb_filter;

/* target column <- expression ("values:") */
typedef struct wb_config_value {
    char *to;
    wb_expr *expr;
    wb_config_pos pos;
} wb_config_value;

/* What happens to the target row when the source row is deleted (or, for
 * on_filter_out, leaves the filter on update). */
typedef enum wb_on_delete {
    WB_ON_DELETE_DELETE = 0, /* delete the target row by key (default) */
    WB_ON_DELETE_IGNORE,     /* keep the target row */
    WB_ON_DELETE_SOFT        /* UPDATE the target row: set soft[] columns */
} wb_on_delete;

typedef struct wb_config_delete {
    wb_on_delete action;
    size_t nsoft;
    wb_config_value *soft; /* SOFT: target column <- constant expression */
    wb_config_pos pos;
} wb_config_delete;

typedef enum wb_on_truncate {
    WB_ON_TRUNCATE_IGNORE = 0, /* log a warning, change nothing (default) */
    WB_ON_TRUNCATE_TRUNCATE    /* TRUNCATE the target table */
} wb_on_truncate;

/* operations: which source changes a mapping acts on (bit set). */
#define WB_MAP_OP_INSERT 0x1u
#define WB_MAP_OP_UPDATE 0x2u
#define WB_MAP_OP_DELETE 0x4u
#define WB_MAP_OP_ALL    0x7u

/*
 * conflict: how a mapping settles a target row that someone else changed.
 * Absent (WB_CONFLICT_NONE): rows are written as they come (the source
 * wins, nothing is detected).  With a policy, an update writes only the
 * columns the source changed; a column whose target value is no longer the
 * mapped old value was changed on the target meanwhile: a conflict, settled
 * by the policy (or by the column's owner) and counted and logged.
 */
typedef enum wb_conflict_resolve {
    WB_CONFLICT_NONE = 0,
    WB_CONFLICT_SOURCE_WINS,     /* the incoming value is written */
    WB_CONFLICT_TARGET_WINS,     /* the target keeps its value */
    WB_CONFLICT_LAST_WRITER_WINS /* the newer write (by) wins */
} wb_conflict_resolve;

typedef struct wb_config_conflict {
    wb_conflict_resolve resolve;
    bool by_commit_time; /* last_writer_wins: commit timestamps */
    char *by_source;     /* last_writer_wins by column: source column */
    char *by_target;     /* ... compared with this target column */
    size_t nsource_owns, ntarget_owns;
    char **source_owns; /* target columns only the source writes */
    char **target_owns; /* target columns written on insert only */
    wb_config_pos pos, by_pos;
    wb_config_pos *source_owns_pos, *target_owns_pos;
} wb_config_conflict;

/* Does the policy compare commit times (last_writer_wins by commit_time)? */
static inline bool wb_conflict_by_commit_time(const wb_config_conflict *c)
{
    return c->resolve == WB_CONFLICT_LAST_WRITER_WINS && c->by_commit_time;
}

typedef struct wb_plugin_node wb_plugin_node; /* walbridge/plugin.h */

typedef struct wb_config_mapping {
    char *name;
    bool enabled;      /* default true */
    bool initial_copy; /* default true: copy the source's existing rows
                          when walbridge creates its slot (sync.h) */
    wb_config_table from;
    size_t nto;             /* >= 1; the built-in mapping has exactly 1 */
    wb_config_table *tos;   /* to: one table, or a list (plugins) */
    wb_config_table to;     /* == tos[0] */
    unsigned operations;    /* WB_MAP_OP_* (default all) */
    size_t nkeys;           /* >= 1 for the built-in mapping */
    wb_config_colmap *keys; /* key: { src: tgt, ... } in file order */
    size_t ncolumns;
    wb_config_colmap *columns; /* columns: { src: tgt, ... } in file order */
    size_t nvalues;
    wb_config_value *values; /* values: { tgt: expr, ... } in file order */
    size_t nrefs;            /* distinct source columns that values and
                                filter read, in first-use order */
    char **refs;
    wb_filter *filter; /* NULL: every row */
    char *filter_text; /* as written, for messages */
    wb_config_pos filter_pos;
    wb_config_delete on_delete;
    wb_config_delete on_filter_out; /* default: same as on_delete */
    wb_on_truncate on_truncate;
    bool skip_unchanged;         /* an update that changes no mapped value
                                    writes nothing (ends echoes in a cycle) */
    wb_config_conflict conflict; /* resolve NONE: no conflict handling */
    struct {
        char *path;             /* NULL: the built-in mapping */
        wb_plugin_node *config; /* the plugin's own YAML (NULL: none) */
        wb_config_pos pos;
    } plugin;
    wb_config_pos pos; /* the mapping's entry in the list */
    char digest[17];   /* what it does, in hex (name, enabled and
                          initial_copy left out): see sync.h */
} wb_config_mapping;

typedef enum wb_binary_mode {
    WB_BINARY_AUTO = 0, /* binary values when every mapping allows them */
    WB_BINARY_OFF       /* always text */
} wb_binary_mode;

typedef enum wb_progress_mode {
    WB_PROGRESS_AUTO = 0, /* replication origin if permitted, else table */
    WB_PROGRESS_ORIGIN,   /* pg_replication_origin_xact_setup */
    WB_PROGRESS_TABLE     /* upsert into a progress table */
} wb_progress_mode;

typedef struct wb_config {
    char *path; /* as given to wb_config_load */

    struct {
        char *conninfo;    /* required; libpq conninfo or URI */
        char *slot;        /* default "walbridge" */
        char *publication; /* default "walbridge" */
        size_t nschemas;
        char **schemas;              /* default portal, public, salesforce */
        bool create_publication;     /* default true */
        bool create_slot;            /* default true */
        uint32_t status_interval_ms; /* default 10000, 100..60000 */
        bool streaming;              /* default false: see README "Streaming" */
        wb_binary_mode binary;       /* default auto: check/binary.h */
        char *spool_dir;             /* NULL: $TMPDIR or /tmp */
    } source;

    struct {
        char *conninfo;            /* "" (default): same database as source */
        wb_progress_mode progress; /* default auto */
        char *origin;              /* default "walbridge_<slot>" */
        char *progress_schema;     /* default "walbridge" */
        char *progress_table;      /* default "progress" */
        uint32_t batch_max_txns;   /* default 1000, 1..100000 */
        uint32_t batch_latency_ms; /* default 10ms, 0..10s */
        bool synchronous_commit;   /* default true; see README */
        bool set_based;            /* default true: runs via unnest() */
        uint32_t copy_min_rows;    /* default 1000; 0: no COPY */
    } target;

    size_t nmappings;
    wb_config_mapping *mappings;

    struct {
        char *level; /* default "info" */
    } log;
} wb_config;

/*
 * Load and validate path.  On success *out is set and 0 returned.  On
 * failure returns WB_ECONFIG (or WB_EIO when the file cannot be read,
 * WB_ENOMEM) with err->message, err->file, err->line and err->col set to the
 * offending node (line/col 1-based), and *out untouched.
 */
int wb_config_load(const char *path, wb_config **out, wb_error *err);

/*
 * The same from a buffer (for tests and fuzzing); name is used as the file
 * name in errors.
 */
int wb_config_load_buffer(const char *buf, size_t len, const char *name,
                          wb_config **out, wb_error *err);

/* Free; NULL is allowed. */
void wb_config_free(wb_config *cfg);

/* The target's connection string: target.conninfo, or the source's when
 * it is empty (the same database). */
const char *wb_config_target_conninfo(const wb_config *cfg);

/*
 * For a reload: the first setting that differs between a and b and that a
 * running walbridge cannot change (connections, slot, publication, progress,
 * batching: everything outside "mappings" and "log"), as "section.key", or
 * NULL when only mappings and log differ.
 */
const char *wb_config_restart_key(const wb_config *a, const wb_config *b);

/* Parse a duration ("250ms", "10s", "2m", or a bare number of ms). */
int wb_config_parse_duration_ms(const char *s, uint32_t *out_ms);

#ifdef __cplusplus
}
#endif
#endif
