/*
 * pgarray_int.h - bounded string buffers and PostgreSQL array literals.
 *
 * Set-based apply sends one text[] parameter per column
 * (unnest($1::text[], ...)); each value is one array element.  The element
 * syntax is PostgreSQL's array input format: double-quoted, with backslash
 * before '"' and '\', and an unquoted NULL for SQL NULL.
 */
#ifndef WALBRIDGE_PGARRAY_INT_H
#define WALBRIDGE_PGARRAY_INT_H

#include <stddef.h>

typedef struct wb_strbuf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
    size_t limit; /* most bytes it may hold (0: 1 GiB) */
} wb_strbuf;

/* Append n bytes; WB_ELIMIT past the limit, WB_ENOMEM. */
int wb_strbuf_append(wb_strbuf *b, const char *s, size_t n);
void wb_strbuf_reset(wb_strbuf *b);
void wb_strbuf_free(wb_strbuf *b);

/* Append one element (NULL pointer = SQL NULL) to an array literal being
 * built in b; the first call writes the opening brace. */
int wb_pgarray_add(wb_strbuf *b, const char *value);
/* Close the literal ("{}" when nothing was added). */
int wb_pgarray_finish(wb_strbuf *b);

#endif
