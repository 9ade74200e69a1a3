/*
 * pgarray.c - array literals for set-based apply.
 *
 * Every element is quoted, so no value can be mistaken for NULL, a
 * delimiter or a nested array, whatever it contains ("NULL", "{", ",",
 * spaces, backslashes).
 */
#include <stdlib.h>
#include <string.h>

#include "pgarray_int.h"
#include "walbridge/error.h"

#define DEFAULT_LIMIT ((size_t)1 << 30)

int wb_strbuf_append(wb_strbuf *b, const char *s, size_t n)
{
    size_t limit = b->limit ? b->limit : DEFAULT_LIMIT;
    /* limit - n cannot wrap: n <= limit is checked first. */
    if (n > limit || b->len > limit - n)
        return WB_ELIMIT;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > limit + 1)
            cap = limit + 1;
        char *d = realloc(b->data, cap);
        if (!d)
            return WB_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void wb_strbuf_reset(wb_strbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void wb_strbuf_free(wb_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int wb_pgarray_add(wb_strbuf *b, const char *value)
{
    int rc = wb_strbuf_append(b, b->len == 0 ? "{" : ",", 1);
    if (rc)
        return rc;
    if (!value)
        return wb_strbuf_append(b, "NULL", 4);
    if ((rc = wb_strbuf_append(b, "\"", 1)) != 0)
        return rc;
    for (const char *p = value; *p;) {
        size_t run = strcspn(p, "\"\\");
        if (run && (rc = wb_strbuf_append(b, p, run)) != 0)
            return rc;
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p};
            if ((rc = wb_strbuf_append(b, esc, 2)) != 0)
                return rc;
            p++;
        }
    }
    return wb_strbuf_append(b, "\"", 1);
}

int wb_pgarray_finish(wb_strbuf *b)
{
    if (b->len == 0)
        return wb_strbuf_append(b, "{}", 2);
    return wb_strbuf_append(b, "}", 1);
}
