/*
 * fuzz_pgarray.c - libFuzzer target for the array literals of set-based
 * apply (lib/common/pgarray.c: wb_strbuf, wb_pgarray_add, wb_pgarray_finish).
 *
 * Every row value of a batch travels to the target inside one text[]
 * literal, which the server reads with its array input parser (array_in).
 * A value that comes back different, or a NULL that is not one, is silent
 * data corruption, so the literal is read back here with a reader that
 * follows array_in's rules for a one-dimensional array (quoted and unquoted
 * elements, backslash escapes, whitespace around elements, unquoted NULL in
 * any case) and must yield exactly the values put in.
 *
 * Input: two bytes, a big-endian byte limit for the buffer (0: the default
 * limit), then the elements separated by NUL bytes; an element that is the
 * single byte 0x01 is SQL NULL.  The same elements are built three times:
 * without a limit (must succeed and read back), with the limit (must
 * succeed with the same literal when that fits in the limit, else fail
 * with WB_ELIMIT leaving a prefix of it and never holding more than the
 * limit), and again in the reset buffer (must give the same literal).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/pgarray.h"
#include "common/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_pgarray: invariant failed: %s (%s:%d)\n",    \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_ELEMS 4096

typedef struct elems {
    size_t n;
    char *v[MAX_ELEMS]; /* NULL: SQL NULL */
    char *store;        /* read_array: the elements' bytes */
} elems;

static bool array_space(char c)
{
    /* array_isspace: what array_in skips around elements. */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/*
 * Read a one-dimensional array literal as array_in does; false when it is
 * not one.  The elements point into out->store, one buffer of len + 1
 * bytes: an element's text is never longer than its span in s, and its
 * terminating NUL takes the place of the ',' or '}' after it.
 */
static bool read_array(const char *s, size_t len, elems *out)
{
    size_t i = 1, used = 0;

    out->n = 0;
    out->store = malloc(len + 1);
    CHECK(out->store != NULL);
    if (len < 2 || s[0] != '{' || s[len - 1] != '}')
        return false;
    while (i < len && array_space(s[i]))
        i++;
    if (s[i] == '}')
        return i == len - 1;
    for (;;) {
        char *v = out->store + used;
        size_t n = 0, last_kept = 0;
        bool quoted = false, any_quoted = false;

        while (i < len && array_space(s[i]))
            i++;
        for (; i < len; i++) {
            char c = s[i];
            if (c == '\\') {
                if (++i >= len)
                    return false;
                v[n++] = s[i];
                last_kept = n;
            } else if (c == '"') {
                quoted = !quoted;
                any_quoted = true;
            } else if (!quoted && (c == ',' || c == '}')) {
                break;
            } else if (!quoted && c == '{') {
                return false; /* nested arrays are not expected here */
            } else {
                v[n++] = c;
                if (quoted || !array_space(c))
                    last_kept = n;
            }
        }
        if (quoted || i >= len || out->n == MAX_ELEMS)
            return false;
        n = last_kept; /* trailing unquoted whitespace is dropped */
        v[n] = '\0';
        used += n + 1;
        CHECK(used <= len + 1);
        if (!any_quoted && n == 0)
            return false; /* an empty unquoted element is an error */
        if (!any_quoted && n == 4 && strncasecmp(v, "null", 4) == 0)
            v = NULL;
        out->v[out->n++] = v;
        if (s[i] == '}')
            return i == len - 1;
        i++; /* the comma */
    }
}

static void free_elems(elems *e)
{
    if (e->store) {
        free(e->store); /* read_array's: the elements point into it */
        e->store = NULL;
    } else {
        for (size_t i = 0; i < e->n; i++)
            free(e->v[i]);
    }
    e->n = 0;
}

/* Build the literal of in into b: 0, or the first failure. */
static int build(wb_strbuf *b, const elems *in)
{
    int rc;
    for (size_t i = 0; i < in->n; i++)
        if ((rc = wb_pgarray_add(b, in->v[i])) != 0)
            return rc;
    return wb_pgarray_finish(b);
}

static void check_buf(const wb_strbuf *b, size_t limit)
{
    if (limit) {
        CHECK(b->len <= limit);
        CHECK(b->cap <= limit + 1);
    }
    if (b->len) {
        CHECK(b->data != NULL && b->cap > b->len);
        CHECK(b->data[b->len] == '\0');
        CHECK(strlen(b->data) <= b->len);
    }
}

static elems in, back;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_strbuf full = {0}, lim = {0};
    size_t limit, start;
    int rc;

    if (size < 2)
        return 0;
    limit = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;

    /* Split at NUL bytes; "\x01" alone is NULL. */
    in.n = 0;
    in.store = malloc(size + 1);
    CHECK(in.store != NULL);
    if (size)
        memcpy(in.store, data, size);
    in.store[size] = '\0';
    start = 0;
    for (size_t i = 0; size && i <= size && in.n < MAX_ELEMS; i++) {
        if (i < size && data[i] != 0)
            continue;
        if (i == size && start == size && in.n > 0)
            break; /* a trailing separator adds no element */
        if (i - start == 1 && data[start] == 1)
            in.v[in.n++] = NULL;
        else
            in.v[in.n++] = in.store + start; /* ends at the separator */
        start = i + 1;
    }

    /* 1. No limit to speak of: it must read back as what went in. */
    CHECK(build(&full, &in) == 0);
    check_buf(&full, 0);
    CHECK(full.len >= 2);
    CHECK(strlen(full.data) == full.len);
    CHECK(read_array(full.data, full.len, &back));
    CHECK(back.n == in.n);
    for (size_t i = 0; i < in.n; i++) {
        if (!in.v[i])
            CHECK(back.v[i] == NULL);
        else
            CHECK(back.v[i] && strcmp(back.v[i], in.v[i]) == 0);
    }
    free_elems(&back);

    /* 2. With the limit: all or WB_ELIMIT, never more than the limit. */
    lim.limit = limit;
    rc = build(&lim, &in);
    check_buf(&lim, limit);
    if (limit == 0 || full.len <= limit) {
        CHECK(rc == 0);
        CHECK(lim.len == full.len &&
              memcmp(lim.data, full.data, full.len) == 0);
    } else {
        CHECK(rc == WB_ELIMIT);
        CHECK(lim.len < full.len);
        if (lim.len)
            CHECK(memcmp(lim.data, full.data, lim.len) == 0);
    }

    /* 3. A reset buffer is reused as new. */
    wb_strbuf_reset(&lim);
    CHECK(lim.len == 0);
    rc = build(&lim, &in);
    check_buf(&lim, limit);
    if (rc == 0)
        CHECK(lim.len == full.len &&
              memcmp(lim.data, full.data, full.len) == 0);
    else
        CHECK(rc == WB_ELIMIT && limit && full.len > limit);

    wb_strbuf_free(&lim);
    CHECK(lim.data == NULL && lim.len == 0 && lim.cap == 0);
    wb_strbuf_free(&full);
    free_elems(&in);
    return 0;
}
