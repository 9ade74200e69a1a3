/*
 * common/copytext.h - rows in COPY's text format (built in a wb_strbuf).
 *
 * Runs of inserts are sent with COPY ... FROM STDIN (apply/copyrun.c).
 * The values are PostgreSQL's text output as pgoutput sends them, so the
 * text format carries them unchanged: each column's input function reads
 * them exactly as it reads a statement's text parameter.  Only the
 * format's own characters are escaped (backslash, tab, newline, carriage
 * return), and SQL NULL is \N, so no value can end a field, a row or the
 * data ("\." alone on a line).
 */
#ifndef WB_COMMON_COPYTEXT_H
#define WB_COMMON_COPYTEXT_H

#include <stddef.h>

#include "common/strbuf.h"

/* Append one row of n values (a NULL pointer is SQL NULL), ended by a
 * newline.  0, or the wb_strbuf error (WB_ENOMEM, WB_ELIMIT). */
int wb_copytext_row(wb_strbuf *b, const char *const *values, size_t n);

#endif
