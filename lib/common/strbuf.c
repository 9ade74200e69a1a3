/*
 * common/strbuf.c - the growable string builder (see common/strbuf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/error.h"

#define DEFAULT_LIMIT ((size_t)1 << 30)

/* Room for n more bytes and the NUL. */
static int reserve(wb_strbuf *b, size_t n)
{
    size_t limit = b->limit ? b->limit : DEFAULT_LIMIT;
    if (b->err)
        return b->err;
    /* limit - n cannot wrap: n <= limit is checked first. */
    if (n > limit || b->len > limit - n)
        return b->err = WB_ELIMIT;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > limit + 1)
            cap = limit + 1;
        char *d = realloc(b->data, cap);
        if (!d)
            return b->err = WB_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    return 0;
}

int wb_strbuf_append(wb_strbuf *b, const char *s, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

char *wb_strbuf_extend(wb_strbuf *b, size_t n)
{
    if (reserve(b, n))
        return NULL;
    char *p = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}

int wb_strbuf_add(wb_strbuf *b, const char *s)
{
    return wb_strbuf_append(b, s, strlen(s));
}

int wb_strbuf_append_fmt(wb_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[128];
    if (b->err)
        return b->err;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return b->err = WB_ENOMEM;
    if ((size_t)n < sizeof(small))
        return wb_strbuf_append(b, small, (size_t)n);
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* s between quote characters q, each q inside doubled. */
static int quoted(wb_strbuf *b, const char *s, char q)
{
    char qs[2] = {q, q};
    int rc = wb_strbuf_append(b, qs, 1);
    while (rc == 0 && *s) {
        size_t run = strcspn(s, q == '"' ? "\"" : "'\\");
        if (run)
            rc = wb_strbuf_append(b, s, run);
        s += run;
        if (rc == 0 && *s) {
            qs[0] = qs[1] = *s;
            rc = wb_strbuf_append(b, qs, 2);
            s++;
        }
    }
    return rc ? rc : wb_strbuf_append(b, &q, 1);
}

int wb_strbuf_append_ident(wb_strbuf *b, const char *id)
{
    return quoted(b, id, '"');
}

int wb_strbuf_append_rel(wb_strbuf *b, const char *schema, const char *table)
{
    wb_strbuf_append_ident(b, schema);
    wb_strbuf_append(b, ".", 1);
    return wb_strbuf_append_ident(b, table);
}

int wb_strbuf_append_literal(wb_strbuf *b, const char *s)
{
    /* As PQescapeLiteral: a backslash makes it an E'' literal (with a
     * space before, so that it cannot join a preceding identifier). */
    if (strchr(s, '\\'))
        wb_strbuf_append(b, " E", 2);
    return quoted(b, s, '\'');
}

int wb_strbuf_append_param(wb_strbuf *b, int n)
{
    return wb_strbuf_append_fmt(b, "$%d", n);
}

const char *wb_strbuf_str(const wb_strbuf *b)
{
    return b->len ? b->data : "";
}

void wb_strbuf_reset(wb_strbuf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

void wb_strbuf_free(wb_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}
