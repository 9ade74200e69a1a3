/*
 * compare.h - `walbridge compare`: which target rows are missing, extra or
 * different from what a mapping produces from its source.
 *
 * The source table is read in key order under one snapshot (the initial
 * copy's reader, source/tablecopy.h) and every row goes through the same
 * router as streamed and copied rows (map/router.h), as an insert routed
 * to the compared mapping only: what comes out is exactly what walbridge
 * would write.  Those rows are streamed with COPY into a temporary table
 * on the target, as text, so walbridge's memory stays bounded whatever
 * the table's size; one statement then joins them, typed as the target's
 * columns (lookups and casts worked out as the applier's statements do),
 * with the target table on its key: a projected row with no target row is
 * missing, a target row with no projected row extra, a pair whose compared
 * columns are not all IS NOT DISTINCT FROM different, with the names of
 * those columns.  The same statement serves a target in the same database
 * or in another one, since the projection is moved to the target.
 * A mapping that only copies columns needs no router: in the same
 * database the statement reads the source table itself; across databases
 * both sum their side up per bucket of keys, and only the rows of buckets
 * that differ are staged (compare.c, buckets_pass).
 *
 * In flight or persistent: after reading the source, compare writes a
 * `walbridge.compare` message into the source's WAL; a running walbridge
 * stores its position once it has read that far, so when the stored
 * position has passed it, every change the snapshot saw has been applied.
 * Differences found before that, or found once but not again, are in
 * flight; those found in two passes, each made after walbridge had caught
 * up with its snapshot, are persistent.  A second pass runs only when the
 * first one found differences.
 */
#ifndef WALBRIDGE_COMPARE_H
#define WALBRIDGE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/lsn.h"
#include "common/strbuf.h"
#include "config/config.h"
#include "walbridge/plugin.h"

/* The prefix of the message that asks a running walbridge to store its
 * position (content: the slot's name). */
#define WB_COMPARE_MESSAGE "walbridge.compare"

typedef struct wb_compare_opts {
    const char *mapping; /* NULL: every enabled mapping */
    int wait_ms;         /* longest wait for walbridge to catch up */
    size_t max_keys;     /* keys listed per kind of difference */
    /* Delete the persistent extra rows of a built-in mapping whose target
     * no other mapping writes (`resync --delete-extra`), each only if
     * nobody wrote it since it was seen (its xmin), in one transaction
     * marked as walbridge's own (no reverse mapping sends it back). */
    bool delete_extra;
} wb_compare_opts;

typedef enum wb_compare_kind {
    WB_COMPARE_MISSING = 0, /* the mapping produces it, the target lacks it */
    WB_COMPARE_EXTRA,     /* the target has it, the mapping does not make it */
    WB_COMPARE_DIFFERENT, /* both, with other values */
    WB_COMPARE_NKINDS
} wb_compare_kind;

const char *wb_compare_kind_name(wb_compare_kind k);

typedef struct wb_compare_key {
    wb_compare_kind kind;
    bool in_flight;
    char *key;     /* "(col, col)=(value, value)" */
    char *columns; /* different: the columns that differ, "a, b" */
} wb_compare_key;

typedef struct wb_compare_table {
    char *mapping;
    char *schema, *table; /* the target */
    char *note;           /* why it was not compared, or what was not */
    bool compared;
    bool extra_counted; /* no other mapping writes the table */
    bool in_sql;        /* the target's database read the source itself */
    bool buckets; /* per-bucket sums of both sides, differing ones staged */
    int64_t source_rows; /* rows the mapping produced */
    int64_t persistent[WB_COMPARE_NKINDS];
    int64_t in_flight[WB_COMPARE_NKINDS];
    int64_t resolved; /* first-pass differences gone on the re-check */
    int64_t deleted;  /* delete_extra: extra rows deleted */
    int passes;
    size_t nkeys;
    wb_compare_key *keys; /* persistent first, then in flight */
} wb_compare_table;

typedef struct wb_compare_report {
    wb_lsn source_lsn; /* the last pass's message position */
    wb_lsn stored;     /* walbridge's stored position at the end */
    bool streaming;    /* a walbridge streamed the slot */
    bool caught_up;    /* false: some difference could not be confirmed
                          (walbridge had not caught up) */
    size_t ntables;
    wb_compare_table *tables;
} wb_compare_report;

/*
 * Compare every enabled mapping's target with its source (or the one
 * named by o->mapping: WB_ECONFIG when there is none).  0 with *out
 * filled (free it with wb_compare_report_free), else WB_ECONN, WB_ESQL,
 * WB_ECATALOG (a table missing), WB_EDATA (a source row the mapping
 * cannot map), WB_ENOMEM with err.
 */
int wb_compare_run(const wb_config *cfg, const wb_compare_opts *o,
                   wb_compare_report *out, wb_error *err);
void wb_compare_report_free(wb_compare_report *r);
/* Sum of persistent differences of every table (deleted extra rows
 * no longer count). */
int64_t wb_compare_persistent(const wb_compare_report *r);

/* ---- statement text (pure; unit-tested) ---- */

/* A target column of a mapping's projection, as the join reads it. */
typedef struct wb_compare_col {
    const char *name; /* target column, unquoted */
    const char *type; /* its type (format_type) */
    bool key;         /* part of the target key (keys come first) */
    bool compared;    /* its value is compared (not target-owned) */
    const wb_plugin_lookup *lookup; /* as the applier's (sqlgen.c) */
    const char *match_type;         /* lookup: the match column's type */
    const char *src; /* shape's from_table: the source column it copies */
} wb_compare_col;

typedef struct wb_compare_shape {
    const char *schema, *table; /* the target */
    size_t ncols;
    const wb_compare_col *cols; /* keys first */
    bool extras;                /* also target rows nobody projected */
    /* Not NULL: the projection is read from this source table of the
     * target's own database (each column's src), not from a stage. */
    const char *from_schema, *from_table;
    /* Not NULL: only target rows of these buckets ("{3,17}", of
     * nbuckets) are compared: the stage holds those of the source. */
    const char *buckets;
    unsigned nbuckets;
    /* Buckets and row hashes by PostgreSQL's hashtext functions (both
     * servers were seen to compute them alike), else by md5. */
    bool pg_hash;
    /* Not NULL: the re-check of the differences in this diff table (its
     * k1..kn): only rows with those keys are compared. */
    const char *recheck;
} wb_compare_shape;

/* CREATE TEMPORARY TABLE stage (c1 text, ..., cN text) */
int wb_compare_sql_stage(wb_strbuf *b, const char *stage, size_t ncols);
/*
 * CREATE TEMPORARY TABLE diff AS the differences between stage (the
 * projection as text, column i+1 holding cols[i]; or s->from_table) and
 * the target:
 * columns kind ('missing', 'extra', 'different'), key ("(k)=(v)"),
 * columns ("a, b" or ''), then k1..kn, the typed key for ordering.
 * With s->recheck, both sides only where their key is among its keys.
 */
int wb_compare_sql_diff(wb_strbuf *b, const wb_compare_shape *s,
                        const char *stage, const char *diff);

/*
 * Across databases, for a mapping that only copies columns: per bucket
 * (a 32-bit hash of the key's text, modulo nbuckets, a power of two), the
 * row count and the XOR of each row's 64-bit hash (of its key and
 * compared columns as text); hashtext/hashtextextended when s->pg_hash,
 * else the first bits of md5.  source: over s->from_table,
 * each value cast to the target column's type as the join does; else
 * over the target (rows with a whole key).  Rows: bucket, count, xor,
 * in bucket order.
 */
int wb_compare_sql_buckets(wb_strbuf *b, const wb_compare_shape *s, bool source,
                           unsigned nbuckets);
/* COPY (the source columns of s->from_table as text, in the shape's
 * order, of the rows in buckets (literal "{...}") TO STDOUT: the stage. */
int wb_compare_sql_bucket_rows(wb_strbuf *b, const wb_compare_shape *s,
                               const char *buckets, unsigned nbuckets);

/*
 * DELETE FROM ONLY target t USING the re-check's differences (diff tables
 * wb_compare_d1 and wb_compare_d2) the rows extra in both passes whose key
 * (keys[0..nkeys-1], the diff's k1..kn) and xmin are what the passes saw.
 */
int wb_compare_sql_delete(wb_strbuf *b, const char *schema, const char *table,
                          const char *const *keys, size_t nkeys);

#endif
