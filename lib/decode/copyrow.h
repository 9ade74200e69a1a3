/*
 * decode/copyrow.h - rows of COPY ... TO STDOUT, as tuples.
 *
 * The initial copy (sync.h) reads a source table with COPY, in text or
 * binary format (the format the stream's values come in, check/binary.h),
 * and hands each row on exactly as the stream's decoder hands an Insert's
 * new tuple (decode/pgoutput.h): one wb_tuple_value per column, 't' or 'b'
 * with common/value.h's header, or 'n'.  The text format's fields are the
 * type's output function's text with backslash escapes, so once unescaped
 * they are what pgoutput sends in text mode; the binary format's fields
 * are the type's send function's output, as pgoutput's binary mode.
 *
 * Pure: bytes in, a tuple in the arena out, so that it is unit-tested and
 * fuzzed like the stream's decoder.
 */
#ifndef WB_DECODE_COPYROW_H
#define WB_DECODE_COPYROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "decode/pgoutput.h"

/* Where a reader is in one COPY's output. */
typedef struct wb_copyrow_reader {
    bool binary;
    uint16_t ncols; /* every row must have exactly these */
    bool header;    /* binary: the file header was read */
    bool ended;     /* binary: the trailer was read */
} wb_copyrow_reader;

/* A reader for rows of ncols columns in the given format. */
void wb_copyrow_init(wb_copyrow_reader *r, bool binary, uint16_t ncols);

/*
 * Decode one CopyData message of the COPY's output: *row is set when it
 * held a row (out then filled, values in arena); a binary header-only or
 * trailer message holds none.  Returns 0, WB_ENOMEM, or WB_EPROTO for
 * bytes that are not one well-formed row of ncols columns (a bad escape,
 * a short field, a missing or second header, data after the trailer).
 */
int wb_copyrow_decode(wb_copyrow_reader *r, const char *buf, size_t len,
                      wb_arena *arena, wb_tuple *out, bool *row, wb_error *err);

#endif
