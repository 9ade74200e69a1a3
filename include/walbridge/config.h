/*
 * walbridge/config.h - the YAML configuration.
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

#include "walbridge/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a value came from in the file, for later (catalog) errors. */
typedef struct wb_config_pos {
    int line; /* 1-based */
    int col;  /* 1-based */
} wb_config_pos;

/* A qualified table name, split and unquoted ("portal.users"). */
typedef struct wb_config_table {
    char *schema;
    char *table;
    wb_config_pos pos;
} wb_config_table;

/* source column -> target column */
typedef struct wb_config_colmap {
    char *from;
    char *to;
    wb_config_pos pos;
} wb_config_colmap;

typedef enum wb_on_delete {
    WB_ON_DELETE_DELETE = 0, /* delete the target row by key (default) */
    WB_ON_DELETE_IGNORE      /* keep the target row */
} wb_on_delete;

typedef enum wb_on_truncate {
    WB_ON_TRUNCATE_IGNORE = 0, /* log a warning, change nothing (default) */
    WB_ON_TRUNCATE_TRUNCATE    /* TRUNCATE the target table */
} wb_on_truncate;

typedef struct wb_config_mapping {
    char *name;
    bool enabled;            /* default true */
    wb_config_table from;
    wb_config_table to;
    size_t nkeys;            /* >= 1 */
    wb_config_colmap *keys;  /* key: { src: tgt, ... } in file order */
    size_t ncolumns;
    wb_config_colmap *columns; /* columns: { src: tgt, ... } in file order */
    wb_on_delete on_delete;
    wb_on_truncate on_truncate;
    wb_config_pos pos;       /* the mapping's entry in the list */
} wb_config_mapping;

typedef enum wb_progress_mode {
    WB_PROGRESS_AUTO = 0, /* replication origin if permitted, else table */
    WB_PROGRESS_ORIGIN,   /* pg_replication_origin_xact_setup */
    WB_PROGRESS_TABLE     /* upsert into a progress table */
} wb_progress_mode;

typedef struct wb_config {
    char *path; /* as given to wb_config_load */

    struct {
        char *conninfo;        /* required; libpq conninfo or URI */
        char *slot;            /* default "walbridge" */
        char *publication;     /* default "walbridge" */
        size_t nschemas;
        char **schemas;        /* default portal, public, salesforce */
        bool create_publication; /* default true */
        bool create_slot;        /* default true */
        uint32_t status_interval_ms; /* default 10000, 100..60000 */
        bool streaming;        /* default false: see README "Streaming" */
        char *spool_dir;       /* NULL: $TMPDIR or /tmp */
    } source;

    struct {
        char *conninfo;        /* "" (default): same database as source */
        wb_progress_mode progress; /* default auto */
        char *origin;          /* default "walbridge_<slot>" */
        char *progress_schema; /* default "walbridge" */
        char *progress_table;  /* default "progress" */
        uint32_t batch_max_txns;   /* default 1000, 1..100000 */
        uint32_t batch_latency_ms; /* default 10ms, 0..10s */
        bool synchronous_commit;   /* default true; see README */
        bool set_based;            /* default true: runs via unnest() */
    } target;

    size_t nmappings;
    wb_config_mapping *mappings;

    struct {
        char *level;           /* default "info" */
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

/* Parse a duration ("250ms", "10s", "2m", or a bare number of ms). */
int wb_config_parse_duration_ms(const char *s, uint32_t *out_ms);

#ifdef __cplusplus
}
#endif
#endif
