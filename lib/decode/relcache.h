/*
 * decode/relcache.h - the relation cache (relcache.c): the latest Relation
 * message per relid, against which every tuple is read.
 */
#ifndef WB_DECODE_RELCACHE_H
#define WB_DECODE_RELCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "decode/pgoutput.h"

/*
 * Relation cache: relid -> the latest Relation message for it.  A new
 * Relation for a known relid replaces the old entry (ALTER TABLE mid-stream),
 * and tuples must always be interpreted with the latest entry.
 */
typedef struct wb_relcache wb_relcache;

typedef struct wb_relcache_entry {
    wb_pgoutput_relation rel;      /* deep copy owned by the cache */
    uint64_t generation;           /* new (unique in the process) each time the
                                      entry is created or replaced */
    void *user;                    /* owner-defined (the router's plan) */
    void (*user_free)(void *user); /* called when the entry is replaced/freed */
} wb_relcache_entry;

wb_relcache *wb_relcache_create(void);
void wb_relcache_destroy(wb_relcache *rc);
/*
 * Insert or replace the entry for rel->relid, deep-copying rel.  On replace,
 * the old entry's user data is released through user_free.  The returned
 * pointer stays valid until the entry is replaced or the cache destroyed.
 * NULL with WB_ENOMEM/WB_ELIMIT in err on failure (at most 1,000,000 entries).
 */
wb_relcache_entry *wb_relcache_update(wb_relcache *rc,
                                      const wb_pgoutput_relation *rel,
                                      wb_error *err);
/* NULL when unknown. */
wb_relcache_entry *wb_relcache_lookup(wb_relcache *rc, uint32_t relid);
size_t wb_relcache_count(const wb_relcache *rc);

#endif
