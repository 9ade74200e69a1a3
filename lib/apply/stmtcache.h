/*
 * apply/stmtcache.h - prepared statements on the target, by shape.
 *
 * Every statement is prepared once per shape and cached under a key that
 * holds every part of the shape that changes its text: for a row
 * operation its kind, flags, target, key and set columns with their
 * lookups and casts (wb_stmt_shape_key).  The preparation is queued in the
 * pipeline like any statement.
 */
#ifndef WALBRIDGE_APPLY_STMTCACHE_H
#define WALBRIDGE_APPLY_STMTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "apply/pipeline.h"
#include "common/strbuf.h"
#include "map/router.h"

#define WB_STMT_BUCKETS 1031 /* prime, > 2 x the statements kept */

typedef struct wb_stmt wb_stmt;

typedef struct wb_stmt_cache {
    wb_stmt *buckets[WB_STMT_BUCKETS];
    size_t n;
    uint64_t seq;      /* names statements wb_<seq> */
    uint64_t prepared; /* statements prepared, for stats */
    /* The completion of the cache's own statements (DEALLOCATE ALL). */
    wb_pipe_item plain;
} wb_stmt_cache;

/* What a statement is for: names errors of its building and preparation
 * (prep, queued with the preparation), and its parameter types (0:
 * inferred by the server). */
typedef struct wb_stmt_ctx {
    const wb_pipe_item *prep;
    int ntypes;
    const Oid *types;
} wb_stmt_ctx;

/* Appends a statement's text to sql: 0, WB_ENOMEM, or another error for a
 * statement too long. */
typedef int (*wb_stmt_build)(const void *arg, wb_strbuf *sql);

/*
 * Find the prepared statement cached under key, or build its text with
 * build(arg) and queue its preparation on p.  The cache is bounded: when
 * full it starts over (DEALLOCATE ALL is queued like any statement, so
 * ordering is kept).  *name lives as long as the cache entry.
 */
int wb_stmt_get(wb_stmt_cache *c, wb_pipe *p, const char *key,
                wb_stmt_build build, const void *arg, const wb_stmt_ctx *ctx,
                const char **name, wb_error *err);
void wb_stmt_cache_free(wb_stmt_cache *c);

/*
 * The cache key of op's row statement (gen: the configuration's
 * generation, for statements built from mapping settings).  Built in buf
 * when it fits (the common case: no allocation per change), else
 * malloc'd; NULL when out of memory.
 */
char *wb_stmt_shape_key(const wb_target_op *op, unsigned gen, char *buf,
                        size_t buflen);

#endif
