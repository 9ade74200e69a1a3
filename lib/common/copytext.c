/*
 * common/copytext.c - rows in COPY's text format (see common/copytext.h).
 */
#include <string.h>

#include "common/copytext.h"

/* One value, escaped: the characters COPY's text format gives meaning. */
static int add_value(wb_strbuf *b, const char *v)
{
    int rc;
    if (!v)
        return wb_strbuf_append(b, "\\N", 2);
    while (*v) {
        size_t run = strcspn(v, "\\\t\n\r");
        if (run && (rc = wb_strbuf_append(b, v, run)) != 0)
            return rc;
        v += run;
        if (!*v)
            break;
        char esc[2] = {'\\', *v == '\t'   ? 't'
                             : *v == '\n' ? 'n'
                             : *v == '\r' ? 'r'
                                          : '\\'};
        if ((rc = wb_strbuf_append(b, esc, 2)) != 0)
            return rc;
        v++;
    }
    return 0;
}

int wb_copytext_row(wb_strbuf *b, const char *const *values, size_t n)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        if (i && (rc = wb_strbuf_append(b, "\t", 1)) != 0)
            return rc;
        if ((rc = add_value(b, values[i])) != 0)
            return rc;
    }
    return wb_strbuf_append(b, "\n", 1);
}
