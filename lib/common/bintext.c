/*
 * common/bintext.c - the text form of a few binary values (see
 * common/bintext.h).  Binary formats from each type's send function:
 * network-order integers, one byte for boolean, 16 bytes for uuid.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/bintext.h"
#include "common/value.h"

enum {
    BOOLOID = 16,
    INT8OID = 20,
    INT2OID = 21,
    INT4OID = 23,
    OIDOID = 26,
    UUIDOID = 2950
};

bool wb_bintext_supported(uint32_t typoid)
{
    switch (typoid) {
    case BOOLOID:
    case INT8OID:
    case INT2OID:
    case INT4OID:
    case OIDOID:
    case UUIDOID:
        return true;
    default:
        return false;
    }
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = x << 8 | p[i];
    return x;
}

const char *wb_bintext(wb_arena *arena, uint32_t typoid, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    uint32_t len = wb_value_len(v);
    char buf[40];
    int n = -1;

    switch (typoid) {
    case BOOLOID:
        if (len == 1)
            n = snprintf(buf, sizeof(buf), "%s", p[0] ? "t" : "f");
        break;
    case INT2OID:
        if (len == 2)
            n = snprintf(buf, sizeof(buf), "%d", (int)(int16_t)be(p, 2));
        break;
    case INT4OID:
        if (len == 4)
            n = snprintf(buf, sizeof(buf), "%" PRId32, (int32_t)be(p, 4));
        break;
    case INT8OID:
        if (len == 8)
            n = snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)be(p, 8));
        break;
    case OIDOID:
        if (len == 4)
            n = snprintf(buf, sizeof(buf), "%" PRIu32, (uint32_t)be(p, 4));
        break;
    case UUIDOID:
        if (len == 16) {
            static const char hex[] = "0123456789abcdef";
            n = 0;
            for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                    buf[n++] = '-';
                buf[n++] = hex[p[i] >> 4];
                buf[n++] = hex[p[i] & 15];
            }
            buf[n] = '\0';
        }
        break;
    default:
        break;
    }
    if (n < 0)
        return NULL;
    return wb_value_copy(arena, buf, (uint32_t)n, true);
}
