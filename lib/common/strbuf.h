/*
 * common/strbuf.h - the one growable string builder (as PostgreSQL's
 * StringInfo), for statement text, array literals and messages.
 *
 * The first failure (out of memory, or the buffer's limit) is sticky: it
 * is kept in err, every later append does nothing and returns it, so a
 * statement can be built with plain appends and checked once at the end.
 * wb_strbuf_reset clears it.  A zeroed wb_strbuf is an empty buffer.
 *
 * Identifiers and literals are quoted without a connection, exactly as
 * libpq's PQescapeIdentifier and PQescapeLiteral quote UTF-8 text.
 */
#ifndef WB_COMMON_STRBUF_H
#define WB_COMMON_STRBUF_H

#include <stddef.h>

typedef struct wb_strbuf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
    size_t limit; /* most bytes it may hold, not counting the NUL (0: 1 GiB) */
    int err;      /* the first failure (WB_ENOMEM, WB_ELIMIT), sticky */
} wb_strbuf;

/* Append n bytes.  0, WB_ELIMIT past the limit, or WB_ENOMEM; nothing is
 * appended when it fails, and nothing after a failure. */
int wb_strbuf_append(wb_strbuf *b, const char *s, size_t n);
/* Append a NUL-terminated string. */
int wb_strbuf_add(wb_strbuf *b, const char *s);
/* Make the buffer n bytes longer (NUL-terminated after them) and return
 * where those n bytes start, for the caller to fill before any other
 * call on b; NULL when it cannot (b->err says why).  One size check for
 * a record the caller writes piece by piece (common/pgbinary.c's COPY
 * rows): PostgreSQL's enlargeStringInfo, and the length moved past the
 * bytes at once. */
char *wb_strbuf_extend(wb_strbuf *b, size_t n);
int wb_strbuf_append_fmt(wb_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "id", with every '"' doubled: always quoted, as PostgreSQL's
 * quote_identifier with force-quote and PQescapeIdentifier. */
int wb_strbuf_append_ident(wb_strbuf *b, const char *id);
/* schema.table, both quoted. */
int wb_strbuf_append_rel(wb_strbuf *b, const char *schema, const char *table);
/* 'text', with every '\'' doubled; text with a backslash gets
 * PQescapeLiteral's form " E'...'" with the backslashes doubled, which
 * reads the same whatever standard_conforming_strings says. */
int wb_strbuf_append_literal(wb_strbuf *b, const char *s);
/* $n */
int wb_strbuf_append_param(wb_strbuf *b, int n);

/* The text so far: "" when empty (data may then be NULL). */
const char *wb_strbuf_str(const wb_strbuf *b);
/* Empty the buffer and clear its error; the memory is kept. */
void wb_strbuf_reset(wb_strbuf *b);
void wb_strbuf_free(wb_strbuf *b);

#endif
