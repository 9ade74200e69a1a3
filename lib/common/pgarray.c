/*
 * common/pgarray.c - array literals for set-based apply.
 *
 * Every element is quoted, so no value can be mistaken for NULL, a
 * delimiter or a nested array, whatever it contains ("NULL", "{", ",",
 * spaces, backslashes).
 */
#include <stdlib.h>
#include <string.h>

#include "common/pgarray.h"
#include "common/error.h"

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
