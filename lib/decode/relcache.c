/*
 * decode/relcache.c - relid -> latest Relation message.
 *
 * An open-addressing (linear probing) hash table of pointers to individually
 * allocated entries.  The table only ever holds pointers, so growing it
 * moves no entry: the wb_relcache_entry pointers handed out stay valid for
 * the life of the cache, also across a replacement, which happens in place
 * (the router keeps pointers and compares generations).  There is no
 * removal: PostgreSQL never tells us a relation is gone, and a dropped
 * table's entry is a few hundred bytes.
 *
 * Each entry's copy of the relation (column array and all names) lives in
 * one malloc block, so replacing or freeing it is a single free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/pgoutput.h"
#include "decode/relcache.h"

/* Generations are unique in the process, not per cache: a new cache after a
 * reconnect must not hand out a generation a plugin has cached a plan for. */
static uint64_t last_generation;

#define MAX_ENTRIES      1000000
#define INITIAL_CAPACITY 64 /* buckets; always a power of two */

typedef struct rc_entry {
    wb_relcache_entry pub; /* first, so &e->pub is what callers see */
    void *block;           /* owns pub.rel's names and column array */
} rc_entry;

struct wb_relcache {
    rc_entry **buckets; /* NULL = empty */
    size_t capacity;
    size_t count;
};

/*
 * OIDs are mostly consecutive, so mix the bits (murmur3's finalizer) before
 * masking; otherwise linear probing would build long runs.
 */
static size_t hash_relid(uint32_t relid)
{
    uint32_t h = relid;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Bucket holding relid, or the empty bucket where it would go. */
static size_t find_bucket(rc_entry **buckets, size_t capacity, uint32_t relid)
{
    size_t mask = capacity - 1;
    size_t i = hash_relid(relid) & mask;

    while (buckets[i] && buckets[i]->pub.rel.relid != relid)
        i = (i + 1) & mask;
    return i;
}

static int grow(wb_relcache *rc)
{
    size_t ncap = rc->capacity * 2;
    rc_entry **ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return WB_ENOMEM;
    for (size_t i = 0; i < rc->capacity; i++) {
        rc_entry *e = rc->buckets[i];
        if (e)
            ns[find_bucket(ns, ncap, e->pub.rel.relid)] = e;
    }
    free(rc->buckets);
    rc->buckets = ns;
    rc->capacity = ncap;
    return 0;
}

static size_t str_size(const char *s)
{
    return (s ? strlen(s) : 0) + 1;
}

/* Copy s (NULL counts as "") to *pos and advance it. */
static const char *put_str(char **pos, const char *s)
{
    size_t n = str_size(s) - 1;
    char *d = *pos;

    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    *pos = d + n + 1;
    return d;
}

/*
 * Deep-copy rel into one malloc block: the column array first (malloc's
 * alignment suits it), then every string.  Returns the block, NULL when out
 * of memory.
 */
static void *copy_relation(const wb_pgoutput_relation *rel,
                           wb_pgoutput_relation *out)
{
    size_t atts_size = (size_t)rel->natts * sizeof(wb_pgoutput_column);
    size_t size = atts_size;
    char *block, *pos;

    size += str_size(rel->nspname) + str_size(rel->relname);
    for (unsigned i = 0; i < rel->natts; i++)
        size += str_size(rel->atts[i].name);

    block = malloc(size);
    if (!block)
        return NULL;
    *out = *rel;
    out->atts = rel->natts ? (wb_pgoutput_column *)block : NULL;
    pos = block + atts_size;
    out->nspname = put_str(&pos, rel->nspname);
    out->relname = put_str(&pos, rel->relname);
    for (unsigned i = 0; i < rel->natts; i++) {
        out->atts[i] = rel->atts[i];
        out->atts[i].name = put_str(&pos, rel->atts[i].name);
    }
    return block;
}

/* Detach the user data first, so user_free may look at the cache. */
static void release_user(rc_entry *e)
{
    void *user = e->pub.user;
    void (*user_free)(void *) = e->pub.user_free;

    e->pub.user = NULL;
    e->pub.user_free = NULL;
    if (user_free)
        user_free(user);
}

wb_relcache *wb_relcache_create(void)
{
    wb_relcache *rc = calloc(1, sizeof(*rc));

    if (!rc)
        return NULL;
    rc->buckets = calloc(INITIAL_CAPACITY, sizeof(*rc->buckets));
    if (!rc->buckets) {
        free(rc);
        return NULL;
    }
    rc->capacity = INITIAL_CAPACITY;
    return rc;
}

void wb_relcache_destroy(wb_relcache *rc)
{
    if (!rc)
        return;
    for (size_t i = 0; i < rc->capacity; i++) {
        rc_entry *e = rc->buckets[i];
        if (!e)
            continue;
        release_user(e);
        free(e->block);
        free(e);
    }
    free(rc->buckets);
    free(rc);
}

wb_relcache_entry *wb_relcache_update(wb_relcache *rc,
                                      const wb_pgoutput_relation *rel,
                                      wb_error *err)
{
    wb_pgoutput_relation copy;
    void *block;
    rc_entry *e;
    size_t bucket;

    if (!rel || (rel->natts && !rel->atts)) {
        wb_error_set(err, WB_EINVAL, "invalid relation for the cache");
        return NULL;
    }
    /* Copy first: on failure the old entry must stay intact. */
    block = copy_relation(rel, &copy);
    if (!block) {
        wb_error_set(err, WB_ENOMEM, "out of memory caching relation %u",
                     (unsigned)rel->relid);
        wb_error_relation(err, rel->nspname, rel->relname);
        return NULL;
    }

    bucket = find_bucket(rc->buckets, rc->capacity, rel->relid);
    e = rc->buckets[bucket];
    if (e) {
        void *old = e->block;
        e->pub.rel = copy;
        e->block = block;
        e->pub.generation = ++last_generation;
        free(old);
        release_user(e);
        return &e->pub;
    }

    if (rc->count >= MAX_ENTRIES) {
        free(block);
        wb_error_set(err, WB_ELIMIT,
                     "relation cache is full: %d relations is the maximum",
                     MAX_ENTRIES);
        wb_error_relation(err, rel->nspname, rel->relname);
        return NULL;
    }
    /* Keep the load factor at most 3/4 so probe runs stay short. */
    if ((rc->count + 1) * 4 > rc->capacity * 3) {
        if (grow(rc) != 0) {
            free(block);
            wb_error_set(err, WB_ENOMEM,
                         "out of memory growing the relation cache");
            return NULL;
        }
        bucket = find_bucket(rc->buckets, rc->capacity, rel->relid);
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        free(block);
        wb_error_set(err, WB_ENOMEM, "out of memory caching relation %u",
                     (unsigned)rel->relid);
        wb_error_relation(err, rel->nspname, rel->relname);
        return NULL;
    }
    e->pub.rel = copy;
    e->pub.generation = ++last_generation;
    e->block = block;
    rc->buckets[bucket] = e;
    rc->count++;
    return &e->pub;
}

wb_relcache_entry *wb_relcache_lookup(wb_relcache *rc, uint32_t relid)
{
    rc_entry *e = rc->buckets[find_bucket(rc->buckets, rc->capacity, relid)];
    return e ? &e->pub : NULL;
}

size_t wb_relcache_count(const wb_relcache *rc)
{
    return rc->count;
}
