/*
 * walbridge/plugin.h - the mapping plugin ABI.
 *
 * A mapping plugin turns one source change into zero or more target row
 * operations.  The built-in declarative mapping is one (lib/map/builtin.c,
 * registered through the very same struct); external ones are shared
 * objects named in the YAML:
 *
 *   mappings:
 *     - name: split_names
 *       from: public.customers
 *       to: [salesforce.contact]          # every table the plugin may write
 *       plugin:
 *         path: plugins/split_name.so     # relative to the config file
 *         config: { ... }                 # handed to init() as a tree
 *
 * The shared object exports one function, WB_PLUGIN_ENTRY_SYMBOL:
 *
 *   const wb_plugin *walbridge_plugin(void);
 *
 * returning a struct that starts with the ABI version and its own size.
 * The rules that keep old plugins working (as in SQLite's sqlite3_module
 * and PostgreSQL's output plugin callbacks):
 *   - members are only ever appended to wb_plugin, wb_plugin_host,
 *     wb_plugin_change, wb_plugin_op and wb_plugin_init, never reordered;
 *   - every such struct carries its size, so each side reads only the
 *     members the other side knew about when it was compiled (test with
 *     WB_PLUGIN_HAS below);
 *   - WB_PLUGIN_ABI_VERSION changes only when that rule must be broken,
 *     and a plugin built for another version is refused at load time with a
 *     message naming both versions.
 *
 * Memory: everything a plugin returns from map() is allocated with
 * host->alloc()/host->strdup() from the per-message arena (or is static,
 * or lives in the plugin's own state until fini()).  It is valid until the
 * operations are queued on the target, then reset with the arena; a plugin
 * never frees it.  host->alloc() does not zero what it returns (set every
 * member, wb_plugin_col.lookup included).  Values in a change are valid
 * for the duration of map().
 *
 * Threads: walbridge calls a plugin from one thread only.  map() must be
 * pure given its inputs and its state (no I/O on the databases): it runs
 * again for the same change after a reconnect or a restart.
 *
 * Errors: init() and map() return 0 or a negative value.  map() describes
 * the problem with host->error(), which names the column; walbridge then
 * stops at the transaction boundary (exit 4) with the plugin's message and
 * the relation and LSN, without applying any part of the transaction and
 * without moving the stored position.
 */
#ifndef WALBRIDGE_PLUGIN_H
#define WALBRIDGE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WB_PLUGIN_ABI_VERSION  1
#define WB_PLUGIN_ENTRY_SYMBOL "walbridge_plugin"

/*
 * WB_PLUGIN_HAS(ptr, member): does *ptr, a struct with a size member that
 * the other side filled in (wb_plugin, wb_plugin_host, wb_plugin_change,
 * wb_plugin_op, wb_plugin_init), cover member?  A member appended after
 * the other side was compiled is outside its size: read it, or write it
 * back, only when this is true.  For example a plugin sets init()'s
 * errnode with
 *
 *   if (WB_PLUGIN_HAS(args, errnode))
 *       args->errnode = node;
 *
 * ptr is evaluated more than once; member is never read.
 */
#define WB_PLUGIN_HAS(ptr, member)                                             \
    ((size_t)((const char *)&(ptr)->member - (const char *)(ptr)) +            \
         sizeof((ptr)->member) <=                                              \
     (size_t)(ptr)->size)

/* The plugin's configuration: a read-only tree of the YAML under
 * plugin.config, after ${VAR} substitution.  Owned by walbridge. */
typedef enum wb_plugin_node_kind {
    WB_PLUGIN_NODE_SCALAR = 1,
    WB_PLUGIN_NODE_SEQUENCE,
    WB_PLUGIN_NODE_MAPPING
} wb_plugin_node_kind;

typedef struct wb_plugin_node {
    wb_plugin_node_kind kind;
    const char *value;                  /* SCALAR: text; NULL for ~ / null */
    size_t n;                           /* SEQUENCE/MAPPING: entries */
    const char *const *keys;            /* MAPPING: n keys */
    const struct wb_plugin_node *items; /* SEQUENCE items, MAPPING values */
    int line, col;                      /* 1-based, in the config file */
} wb_plugin_node;

/* One column value of a source row. */
typedef enum wb_plugin_value_kind {
    WB_PLUGIN_VALUE_NULL = 0,  /* SQL NULL */
    WB_PLUGIN_VALUE_TEXT,      /* text holds the value in text format */
    WB_PLUGIN_VALUE_UNCHANGED, /* an unchanged TOASTed value the source did
                                  not send: the target keeps what it has */
    WB_PLUGIN_VALUE_ABSENT     /* not sent at all (a non-identity column of
                                  an old key tuple) */
} wb_plugin_value_kind;

typedef struct wb_plugin_value {
    wb_plugin_value_kind kind;
    const char *text; /* TEXT: NUL-terminated; else NULL */
} wb_plugin_value;

typedef struct wb_plugin_change {
    uint32_t size; /* sizeof(wb_plugin_change) as walbridge was built */
    char op;       /* 'I' insert, 'U' update, 'D' delete */
    const char *schema, *table; /* the source relation */
    /* The relation's identity and shape version: rel_version changes
     * whenever the source sends a new Relation message for relid (a column
     * was added, dropped, renamed or retyped), so a plugin may cache column
     * positions keyed on (relid, rel_version). */
    uint32_t relid;
    uint64_t rel_version;
    int ncols;
    const char *const *names;    /* column names, ncols */
    const uint32_t *type_oids;   /* column type OIDs, ncols */
    const uint8_t *is_key;       /* 1: part of the replica identity */
    const wb_plugin_value *oldv; /* ncols, or NULL: no old row was sent
                                    (DEFAULT replica identity and no key
                                    change) */
    const wb_plugin_value *newv; /* ncols; NULL for a delete */
    uint64_t lsn;                /* the source transaction's commit LSN */
    int64_t commit_time;         /* Unix epoch microseconds */
} wb_plugin_change;

/* A target row operation. */
typedef enum wb_plugin_op_kind {
    WB_PLUGIN_UPSERT = 1, /* INSERT keys+set ON CONFLICT (keys) DO UPDATE */
    WB_PLUGIN_UPDATE,     /* UPDATE SET set WHERE keys */
    WB_PLUGIN_DELETE      /* DELETE WHERE keys */
} wb_plugin_op_kind;

/* Flags of a wb_plugin_op. */
#define WB_PLUGIN_OP_INSERT_IF_MISSING                                         \
    0x1u /* UPDATE: insert set when no                                         \
            row matched; the first nkeys                                       \
            set entries must then be the                                       \
            key columns (new values) */
#define WB_PLUGIN_OP_SKIP_UNCHANGED                                            \
    0x2u /* UPSERT/UPDATE: write nothing when                                  \
            every set column already holds                                     \
            its value (no row version, no                                      \
            trigger) */

typedef struct wb_plugin_lookup wb_plugin_lookup;

/* Frozen in ABI 1 (arrays of it are exchanged, so it cannot grow). */
typedef struct wb_plugin_col {
    const char *column; /* target column, unquoted */
    const char *value;  /* text, or NULL for SQL NULL */
    /* Not NULL: the value written is looked up on the target when the
     * statement runs (a key translated through another table): value is
     * then the match value.  Built-in mapping only in ABI 1: a plugin
     * leaves it NULL. */
    const wb_plugin_lookup *lookup;
} wb_plugin_col;

typedef struct wb_plugin_op {
    uint32_t size; /* sizeof(wb_plugin_op) as the plugin was built */
    wb_plugin_op_kind kind;
    const char *schema, *table; /* one of the mapping's "to" tables */
    size_t nkeys;
    const wb_plugin_col *keys; /* UPSERT: conflict key; UPDATE/DELETE: the
                                  (old) key of the row to change */
    size_t nset;
    const wb_plugin_col *set; /* UPSERT/UPDATE: columns to write */
    uint32_t flags;           /* WB_PLUGIN_OP_* */
    /* Appended in ABI 1 (read only when size covers it).  UPDATE: nset
     * entries or NULL; old[i] is set[i]'s value before the change, for
     * conflict detection (a target value that is neither old nor new was
     * changed by someone else).  old[i].column NULL: not known.  Entries
     * equal to set[i] mark columns the change did not touch: with a
     * conflict policy they are written only when the row is inserted. */
    const wb_plugin_col *old;
} wb_plugin_op;

/* Log levels for host->log (the same as walbridge/log.h). */
#define WB_PLUGIN_LOG_DEBUG   0
#define WB_PLUGIN_LOG_INFO    1
#define WB_PLUGIN_LOG_WARNING 2

/* What walbridge offers a plugin; ctx is the opaque argument map() got. */
typedef struct wb_plugin_host {
    uint32_t abi_version; /* WB_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(wb_plugin_host) */
    /* Per-message arena (see "Memory" above); NULL when the bound is hit,
     * which the plugin reports by returning -1. */
    void *(*alloc)(void *ctx, size_t size);
    char *(*strdup)(void *ctx, const char *s);
    /* Queue op.  op, its keys and set arrays and the schema, table and
     * column names are copied (the plugin may reuse them once emit
     * returns); the values are not and must stay valid as described under
     * "Memory".  Returns 0, or -1 after recording an error (a table not in
     * the mapping's "to" list, no key, out of memory): map() then returns
     * -1. */
    int (*emit)(void *ctx, const wb_plugin_op *op);
    /* Record the error that map() is about to return; column may be NULL.
     * Returns -1, so that map() can `return host->error(...)`. */
    int (*error)(void *ctx, const char *column, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void (*log)(void *ctx, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* The value of column name in row (change->oldv or ->newv), or NULL when
     * the relation has no such column.  A linear search: cache positions
     * keyed on rel_version in hot plugins. */
    const wb_plugin_value *(*value)(const wb_plugin_change *change,
                                    const wb_plugin_value *row,
                                    const char *name);
    /* Add a hint (a full sentence) to the error just recorded. */
    void (*hint)(void *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
} wb_plugin_host;

/* init()'s arguments.  The out-members are for errors. */
typedef struct wb_plugin_init {
    uint32_t size;       /* sizeof(wb_plugin_init) */
    const char *mapping; /* the mapping's name */
    const char *from_schema, *from_table;
    size_t nto;
    const char *const *to_schemas, *const *to_tables;
    const wb_plugin_node *config; /* plugin.config, or NULL */
    /* init() calls it with ctx NULL: log() and value() work; alloc() and
     * strdup() return NULL, emit() and error() -1 (map() only). */
    const wb_plugin_host *host;
    const void *builtin; /* built-in mappings only: the wb_config_mapping */
    /* out: on failure, a message (lower case, no period) and, when it is
     * about one node of config, that node (for file:line:column). */
    char *errbuf;
    size_t errbuf_size;
    const wb_plugin_node *errnode;
} wb_plugin_init;

typedef struct wb_plugin {
    uint32_t abi_version; /* WB_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(wb_plugin) */
    const char *name;     /* for logs */
    const char *version;  /* the plugin's own version, for logs */
    /* Validate args->config and make the mapping's state.  Called once per
     * mapping that uses the plugin (at start, by `walbridge check`, and on a
     * configuration reload), before any change. */
    int (*init)(wb_plugin_init *args, void **state);
    /* Map one change; see the contract above. */
    int (*map)(void *state, const wb_plugin_change *change,
               const wb_plugin_host *host, void *ctx);
    /* Free state; may be NULL. */
    void (*fini)(void *state);
} wb_plugin;

/* The entry point a plugin exports. */
typedef const wb_plugin *(*wb_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
