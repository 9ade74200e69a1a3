/*
 * common/pgbinary.c - binary arrays and COPY binary rows (see
 * common/pgbinary.h).  Layouts from PostgreSQL's array_recv (arrayfuncs.c)
 * and "Binary Format" of the COPY documentation.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/pgbinary.h"
#include "common/value.h"

static int put32(wb_strbuf *b, uint32_t v)
{
    uint32_t n = htonl(v);
    return wb_strbuf_append(b, (const char *)&n, 4);
}

static int put16(wb_strbuf *b, uint16_t v)
{
    uint16_t n = htons(v);
    return wb_strbuf_append(b, (const char *)&n, 2);
}

static void patch32(wb_strbuf *b, size_t off, uint32_t v)
{
    uint32_t n = htonl(v);
    memcpy(b->data + off, &n, 4);
}

/* A value: its length (-1 for NULL) and bytes. */
static int put_value(wb_strbuf *b, const char *v)
{
    if (!v)
        return put32(b, UINT32_MAX);
    uint32_t len = wb_value_len(v);
    int rc = put32(b, len);
    return rc ? rc : wb_strbuf_append(b, v, len);
}

int wb_pgbin_array_begin(wb_pgbin_array *a, wb_strbuf *b, uint32_t elem_oid)
{
    *a = (wb_pgbin_array){b, b->len, 0, false};
    /* ndim, flags (has nulls), element type, then one dimension: its
     * length and lower bound; ndim, flags and length are set at finish. */
    int rc = put32(b, 1);
    if (!rc)
        rc = put32(b, 0);
    if (!rc)
        rc = put32(b, elem_oid);
    if (!rc)
        rc = put32(b, 0);
    if (!rc)
        rc = put32(b, 1);
    return rc;
}

int wb_pgbin_array_add(wb_pgbin_array *a, const char *v)
{
    a->n++;
    a->hasnull = a->hasnull || !v;
    return put_value(a->b, v);
}

int wb_pgbin_array_finish(wb_pgbin_array *a)
{
    if (a->b->err)
        return a->b->err;
    if (a->n == 0) { /* no dimension: drop its length and lower bound */
        patch32(a->b, a->start, 0);
        a->b->len = a->start + 12;
        a->b->data[a->b->len] = '\0';
        return 0;
    }
    patch32(a->b, a->start + 4, a->hasnull ? 1 : 0);
    patch32(a->b, a->start + 12, a->n);
    return 0;
}

int wb_pgbin_copy_header(wb_strbuf *b)
{
    /* Signature, flags (no OIDs), header extension length. */
    int rc = wb_strbuf_append(b, "PGCOPY\n\377\r\n\0", 11);
    if (!rc)
        rc = put32(b, 0);
    return rc ? rc : put32(b, 0);
}

int wb_pgbin_copy_row(wb_strbuf *b, const char *const *values, size_t n)
{
    /* Sized first, then written in place: one size check per row, not
     * two per value (a tenth of walbridge's time in an initial copy). */
    size_t size = 2;
    for (size_t i = 0; i < n; i++) {
        size_t len = values[i] ? wb_value_len(values[i]) : 0;
        if (len > SIZE_MAX - 4 - size) /* a 32-bit size_t */
            return b->err = WB_ELIMIT;
        size += 4 + len;
    }
    char *p = wb_strbuf_extend(b, size);
    if (!p)
        return b->err;
    uint16_t n16 = htons((uint16_t)n);
    memcpy(p, &n16, 2);
    p += 2;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = values[i] ? wb_value_len(values[i]) : UINT32_MAX;
        uint32_t n32 = htonl(len);
        memcpy(p, &n32, 4);
        p += 4;
        if (values[i] && len) {
            memcpy(p, values[i], len);
            p += len;
        }
    }
    return 0;
}

int wb_pgbin_copy_trailer(wb_strbuf *b)
{
    return put16(b, UINT16_MAX);
}
