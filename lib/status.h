/*
 * status.h - what `walbridge status` reports.
 *
 * Collected on ordinary connections (never the replication protocol), so
 * it can run next to a streaming walbridge: the slot as the source sees
 * it, the position stored in the target, and the lag between them.
 */
#ifndef WALBRIDGE_STATUS_H
#define WALBRIDGE_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WB_STATUS_MAX_TABLES 256

typedef struct wb_status {
    char slot[64];
    bool slot_exists;
    int active_pid;         /* 0 when no walsender streams the slot */
    wb_lsn confirmed_flush; /* slot's confirmed_flush_lsn */
    wb_lsn restart_lsn;
    char wal_status[16]; /* reserved, extended, unreserved, lost */
    bool has_safe_wal_size;
    int64_t safe_wal_size;   /* bytes; only with max_slot_wal_keep_size */
    wb_lsn current_lsn;      /* source pg_current_wal_lsn() */
    wb_lsn stored;           /* stored position (0: none) */
    char stored_in[16];      /* "origin", "table" or "" */
    int64_t lag_bytes;       /* current_lsn - stored, or -1 */
    double lag_seconds;      /* walsender's flush_lag, or -1 when unknown */
    int64_t pending_links;   /* <progress_schema>.pending_link rows,
                                -1: no table */
    double oldest_pending_s; /* age of the oldest, seconds (0: none) */
    char publication[64];
    bool publication_exists;
    int ntables; /* published tables (capped) */
    char tables[WB_STATUS_MAX_TABLES][130];
    /* Each enabled mapping's initial copy (sync.h, capped). */
    int nmappings;
    struct {
        char name[64];
        char copy[16];    /* copying, done, skipped, or never */
        int64_t rows;     /* rows copied so far */
        bool same_def;    /* copied under the mapping's current definition */
        bool wanted;      /* initial_copy */
        char updated[40]; /* when its state last changed ("" never) */
        /* copying: rows per second since it started, the source's rows
         * (the planner's estimate) and the seconds left at that rate;
         * each -1 when unknown. */
        double rate, estimate, eta_s;
    } mappings[WB_STATUS_MAX_TABLES];
} wb_status;

/*
 * Fill st for cfg.  Returns 0, or WB_ECONN / WB_ESQL with err when a
 * server cannot be asked.  Privileges that are missing for one item leave
 * that item unknown instead of failing.
 */
int wb_status_collect(const wb_config *cfg, wb_status *st, wb_error *err);

/* How many rows source table t has: the planner's estimate, or, for a
 * table never analyzed that is small (under 100 MB), a count; 0 when
 * unknown (for progress bars and ETAs). */
double wb_status_table_rows(PGconn *src, const wb_config_table *t);

#ifdef __cplusplus
}
#endif
#endif
