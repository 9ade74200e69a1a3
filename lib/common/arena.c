/*
 * common/arena.c - bump allocator with a hard limit.
 *
 * Blocks are chained; an allocation larger than the block size gets a block
 * of its own.  reset keeps the first block so that the steady state (one
 * message after another) does no malloc at all.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

#define ALIGN         16
#define DEFAULT_BLOCK 8192
#define DEFAULT_LIMIT ((size_t)1024 * 1024 * 1024 + 65536)

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
} block;

struct wb_arena {
    block *head; /* current block (most recent) */
    block *first;
    size_t block_size;
    size_t limit;
    size_t footprint;
};

#define HDR ((sizeof(block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

static block *new_block(wb_arena *a, size_t size)
{
    block *b;
    if (size > a->limit || a->footprint > a->limit - size)
        return NULL;
    b = malloc(HDR + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    a->footprint += size;
    return b;
}

wb_arena *wb_arena_create(size_t block_size, size_t limit)
{
    wb_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->block_size = block_size ? block_size : DEFAULT_BLOCK;
    a->limit = limit ? limit : DEFAULT_LIMIT;
    if (a->block_size > a->limit)
        a->block_size = a->limit;
    a->first = a->head = new_block(a, a->block_size);
    if (!a->first) {
        free(a);
        return NULL;
    }
    return a;
}

void wb_arena_destroy(wb_arena *a)
{
    block *b, *next;
    if (!a)
        return;
    /* Blocks are chained from first through next. */
    for (b = a->first; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *wb_arena_alloc(wb_arena *a, size_t size)
{
    block *b = a->head;
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);

    if (need < size) /* overflow */
        return NULL;
    if (need == 0)
        need = ALIGN;
    if (b->size - b->used < need) {
        size_t bs = need > a->block_size ? need : a->block_size;
        block *nb = new_block(a, bs);
        if (!nb)
            return NULL;
        b->next = nb;
        a->head = b = nb;
    }
    void *p = (char *)b + HDR + b->used;
    b->used += need;
    return p;
}

char *wb_arena_strndup(wb_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = wb_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *wb_arena_strdup(wb_arena *a, const char *s)
{
    return wb_arena_strndup(a, s, strlen(s));
}

void wb_arena_reset(wb_arena *a)
{
    block *b, *next;
    for (b = a->first->next; b; b = next) {
        next = b->next;
        a->footprint -= b->size;
        free(b);
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->head = a->first;
}

size_t wb_arena_footprint(const wb_arena *a)
{
    return a->footprint;
}
