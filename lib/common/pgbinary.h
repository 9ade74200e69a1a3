/*
 * common/pgbinary.h - PostgreSQL's binary wire formats for what walbridge
 * sends in bulk: one-dimensional arrays (array_recv's format, the
 * parameters of set statements) and COPY's binary format.
 *
 * The values inside are binary values as the source sent them (with the
 * header of common/value.h): both formats only frame them, with network
 * order lengths, so a value is never printed or parsed on the way.  An
 * array's element type OID must be the one its parameter is declared
 * with (array_recv checks it); COPY's binary rows must match the target
 * columns' types exactly (there are no casts in COPY).
 */
#ifndef WB_COMMON_PGBINARY_H
#define WB_COMMON_PGBINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* An array being built: begin, add each element, finish. */
typedef struct wb_pgbin_array {
    wb_strbuf *b;
    size_t start; /* offset of the header in b */
    uint32_t n;
    bool hasnull;
} wb_pgbin_array;

/* Start an array of elem_oid elements at the end of b. */
int wb_pgbin_array_begin(wb_pgbin_array *a, wb_strbuf *b, uint32_t elem_oid);
/* Append one element: v with common/value.h's header, or NULL for SQL
 * NULL. */
int wb_pgbin_array_add(wb_pgbin_array *a, const char *v);
/* Write the element count (an empty array has no dimension). */
int wb_pgbin_array_finish(wb_pgbin_array *a);

/* COPY ... (FORMAT binary) data: the signature and header once, then rows,
 * then the trailer. */
int wb_pgbin_copy_header(wb_strbuf *b);
/* One row of n values (common/value.h's header, or NULL for SQL NULL). */
int wb_pgbin_copy_row(wb_strbuf *b, const char *const *values, size_t n);
int wb_pgbin_copy_trailer(wb_strbuf *b);

#endif
