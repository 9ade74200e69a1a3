/*
 * fuzz_copyrow.c - libFuzzer target for the rows of COPY ... TO STDOUT
 * (lib/decode/copyrow.c), which the initial copy reads from the source.
 *
 * Input: one byte of flags (bit 0: binary format; bits 1-3: column count
 * 0-7), then the values separated by NUL bytes (a value that is the single
 * byte 0x01 is SQL NULL).  Checked:
 *   1. the same bytes, as one CopyData message, decode without a crash,
 *      and a row, when there is one, has exactly the column count asked;
 *   2. a row written from the values (text: walbridge's own COPY writer,
 *      common/copytext.c, the escaping copyto.c uses; binary: the format
 *      by hand) decodes back to exactly the values, NULLs included.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/copytext.h"
#include "common/error.h"
#include "common/value.h"
#include "decode/copyrow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_copyrow: invariant failed: %s (%s:%d)\n",    \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAXCOLS 7

static void put32(wb_strbuf *b, uint32_t v)
{
    char c[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    wb_strbuf_append(b, c, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_arena *arena;
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;

    if (size < 1)
        return 0;
    bool binary = data[0] & 1;
    uint16_t ncols = (uint16_t)((data[0] >> 1) & 7);
    data++;
    size--;
    arena = wb_arena_create(4096, 0);
    CHECK(arena != NULL);
    wb_error_clear(&err);

    /* 1. Arbitrary bytes. */
    wb_copyrow_init(&r, binary, ncols);
    int rc =
        wb_copyrow_decode(&r, (const char *)data, size, arena, &t, &row, &err);
    CHECK(rc == 0 || rc == WB_EPROTO);
    if (rc == 0 && row)
        CHECK(t.ncols == ncols);

    /* 2. A row built from the values reads back as them. */
    const char *vals[MAXCOLS];
    size_t lens[MAXCOLS];
    size_t n = 0, start = 0;
    char *copy = malloc(size + 1);
    CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i <= size && n < ncols; i++) {
        if (i < size && data[i] != 0)
            continue;
        if (i - start == 1 && data[start] == 1)
            vals[n] = NULL;
        else
            vals[n] = copy + start;
        lens[n] = i - start;
        n++;
        start = i + 1;
    }
    while (n < ncols) {
        vals[n] = "";
        lens[n++] = 0;
    }
    wb_strbuf b = {0};
    if (binary) {
        wb_strbuf_append(&b, "PGCOPY\n\377\r\n\0", 11);
        put32(&b, 0);
        put32(&b, 0);
        char nf[2] = {(char)(ncols >> 8), (char)ncols};
        wb_strbuf_append(&b, nf, 2);
        for (size_t i = 0; i < ncols; i++) {
            put32(&b, vals[i] ? (uint32_t)lens[i] : 0xffffffffu);
            if (vals[i])
                wb_strbuf_append(&b, vals[i], lens[i]);
        }
    } else {
        CHECK(wb_copytext_row(&b, vals, ncols) == 0);
    }
    CHECK(!b.err);
    wb_copyrow_init(&r, binary, ncols);
    rc = wb_copyrow_decode(&r, b.data ? b.data : "", b.len, arena, &t, &row,
                           &err);
    CHECK(rc == 0);
    CHECK(row || ncols == 0);
    if (row) {
        CHECK(t.ncols == ncols);
        for (size_t i = 0; i < ncols; i++) {
            if (!vals[i]) {
                CHECK(t.cols[i].kind == 'n');
                continue;
            }
            CHECK(t.cols[i].kind == (binary ? 'b' : 't'));
            /* Text values end at their first NUL: a C string. */
            size_t want = binary ? lens[i] : strlen(vals[i]);
            CHECK(wb_value_len(t.cols[i].data) == want);
            CHECK(memcmp(t.cols[i].data, vals[i], want) == 0);
            CHECK(t.cols[i].data[want] == '\0');
        }
    }
    wb_strbuf_free(&b);
    free(copy);
    wb_arena_destroy(arena);
    return 0;
}
