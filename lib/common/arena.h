/*
 * common/arena.h - bump allocator with an explicit lifetime.
 *
 * walbridge keeps memory the way PostgreSQL's apply worker does: a
 * per-message arena reset after every CopyData message, a per-transaction
 * arena reset at commit, and long-lived structures (relation cache, config)
 * allocated with malloc and freed explicitly.  Every arena has a hard limit,
 * so a hostile or corrupt length field can never make the process grow
 * without bound: an allocation past the limit fails instead.
 */
#ifndef WB_COMMON_ARENA_H
#define WB_COMMON_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wb_arena wb_arena;

/*
 * Create an arena.  block_size is the normal chunk size (0: 8 KiB); limit is
 * the most bytes the arena may hold from malloc at once (0: 1 GiB + 64 KiB,
 * enough for the largest value PostgreSQL can send).  NULL when out of
 * memory.
 */
wb_arena *wb_arena_create(size_t block_size, size_t limit);
/* Free everything, including the arena; NULL is allowed. */
void wb_arena_destroy(wb_arena *a);
/*
 * Return size bytes aligned for any type, or NULL when out of memory or the
 * limit would be exceeded.  Memory is valid until the next reset/destroy.
 */
void *wb_arena_alloc(wb_arena *a, size_t size);
/* Copy len bytes and add a NUL; NULL on failure as above. */
char *wb_arena_strndup(wb_arena *a, const char *s, size_t len);
char *wb_arena_strdup(wb_arena *a, const char *s);
/* Drop every allocation; keeps the first block and frees the rest. */
void wb_arena_reset(wb_arena *a);
/* Bytes currently obtained from malloc (blocks), for metrics and tests. */
size_t wb_arena_footprint(const wb_arena *a);

#ifdef __cplusplus
}
#endif
#endif
