/*
 * common/pgarray.h - PostgreSQL array literals (built in a wb_strbuf).
 *
 * Set-based apply sends one text[] parameter per column
 * (unnest($1::text[], ...)); each value is one array element.  The element
 * syntax is PostgreSQL's array input format: double-quoted, with backslash
 * before '"' and '\', and an unquoted NULL for SQL NULL.
 */
#ifndef WB_COMMON_PGARRAY_H
#define WB_COMMON_PGARRAY_H

#include <stddef.h>

#include "common/strbuf.h"

/* Append one element (NULL pointer = SQL NULL) to an array literal being
 * built in b; the first call writes the opening brace. */
int wb_pgarray_add(wb_strbuf *b, const char *value);
/* Close the literal ("{}" when nothing was added). */
int wb_pgarray_finish(wb_strbuf *b);

#endif
