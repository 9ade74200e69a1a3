/*
 * common/value.h - a column value as the decoder hands it on: its bytes,
 * preceded by a small header that says how long it is and in which format
 * it came.
 *
 * Text values are NUL-terminated C strings, and most of walbridge treats
 * them so.  Binary values (pgoutput's binary mode, check/binary.h) may hold
 * NUL bytes, so their length must travel with them; putting it in front of
 * the bytes (as PostgreSQL's varlena does) lets a value stay one pointer
 * through the mapping plugin ABI, whose wb_plugin_col.value is frozen as a
 * const char *.  Only values the decoder made (and copies made with
 * wb_value_copy) have the header: a target operation says so with its
 * binary flag (map/router.h) before anyone reads it.
 */
#ifndef WB_COMMON_VALUE_H
#define WB_COMMON_VALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"

/* Bytes in front of every value: uint32 length, uint8 format, padding. */
#define WB_VALUE_HDR 8

/* The length of v's bytes (without the NUL that follows them). */
static inline uint32_t wb_value_len(const char *v)
{
    uint32_t n;
    memcpy(&n, v - WB_VALUE_HDR, sizeof(n));
    return n;
}

/* Did v come in binary format (the type's send function's output)? */
static inline bool wb_value_binary(const char *v)
{
    return v[-(WB_VALUE_HDR - 4)] != 0;
}

/* Write the header and the bytes at dst (WB_VALUE_HDR + len + 1 bytes) and
 * return the value's pointer (dst + WB_VALUE_HDR); a NUL follows the bytes. */
static inline char *wb_value_put(char *dst, const char *data, uint32_t len,
                                 bool binary)
{
    memset(dst, 0, WB_VALUE_HDR);
    memcpy(dst, &len, sizeof(len));
    dst[4] = binary ? 1 : 0;
    if (len)
        memcpy(dst + WB_VALUE_HDR, data, len);
    dst[WB_VALUE_HDR + len] = '\0';
    return dst + WB_VALUE_HDR;
}

/* A copy of len bytes in arena, with the header; NULL when out of room. */
static inline char *wb_value_copy(wb_arena *arena, const char *data,
                                  uint32_t len, bool binary)
{
    char *p = wb_arena_alloc(arena, (size_t)WB_VALUE_HDR + len + 1);
    return p ? wb_value_put(p, data, len, binary) : NULL;
}

#endif
