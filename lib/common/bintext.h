/*
 * common/bintext.h - the text form of a few binary values.
 *
 * walbridge cannot in general turn a binary value back into text (that
 * is each type's output function, on the server).  For the types whose
 * text form is fixed by the value alone - no DateStyle, no
 * extra_float_digits, no locale - it can, exactly as their output
 * functions do: smallint, integer, bigint, oid (decimal), boolean ("t",
 * "f") and uuid (lower-case 8-4-4-4-12).  That lets a mapping copy such a
 * column into a text, varchar or bpchar column (an integer key into
 * Heroku Connect's external id, say) and still read binary values
 * (check/binary.h): the text form is the text column's binary format.
 */
#ifndef WB_COMMON_BINTEXT_H
#define WB_COMMON_BINTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"

/* Can a binary value of type typoid be given its text form? */
bool wb_bintext_supported(uint32_t typoid);

/*
 * The text form of binary value v (common/value.h's header) of type
 * typoid, in arena, itself with the header and marked binary (it is the
 * binary format of text, varchar and bpchar).  NULL when out of memory,
 * when the type is not supported, or when v has the wrong length for it.
 */
const char *wb_bintext(wb_arena *arena, uint32_t typoid, const char *v);

#endif
