/*
 * common/error.c - filling wb_error.  Never allocates: a failure report must
 * not be able to fail itself.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"

void wb_error_clear(wb_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int wb_error_vset(wb_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    }
    return code;
}

int wb_error_set(wb_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wb_error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void wb_error_detail(wb_error *err, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
}

void wb_error_hint(wb_error *err, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

void wb_error_relation(wb_error *err, const char *nspname, const char *relname)
{
    if (!err)
        return;
    if (nspname && *nspname)
        snprintf(err->relation, sizeof(err->relation), "%s.%s", nspname,
                 relname ? relname : "");
    else
        snprintf(err->relation, sizeof(err->relation), "%s",
                 relname ? relname : "");
}

void wb_error_column(wb_error *err, const char *column)
{
    if (err)
        snprintf(err->column, sizeof(err->column), "%s", column ? column : "");
}

void wb_error_lsn(wb_error *err, uint64_t lsn)
{
    if (err)
        err->lsn = lsn;
}

void wb_error_position(wb_error *err, const char *file, int line, int col)
{
    if (!err)
        return;
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    err->col = col;
}

const char *wb_strerror(int code)
{
    switch (code) {
    case WB_OK:
        return "success";
    case WB_EINVAL:
        return "invalid argument";
    case WB_ENOMEM:
        return "out of memory";
    case WB_ECONFIG:
        return "invalid configuration";
    case WB_EPROTO:
        return "protocol violation";
    case WB_ECONN:
        return "connection failure";
    case WB_ESQL:
        return "statement failed";
    case WB_EDATA:
        return "change cannot be applied";
    case WB_ESTATE:
        return "replication state inconsistent";
    case WB_EIO:
        return "i/o error";
    case WB_ELIMIT:
        return "limit exceeded";
    case WB_ECANCELED:
        return "canceled";
    case WB_ECATALOG:
        return "configuration does not match the database";
    case WB_EFORMAT:
        return "values cannot be read in binary format";
    default:
        return "unknown error";
    }
}

const char *wb_err_name(int code)
{
    switch (code) {
    case WB_OK:
        return "WB_OK";
    case WB_EINVAL:
        return "WB_EINVAL";
    case WB_ENOMEM:
        return "WB_ENOMEM";
    case WB_ECONFIG:
        return "WB_ECONFIG";
    case WB_EPROTO:
        return "WB_EPROTO";
    case WB_ECONN:
        return "WB_ECONN";
    case WB_ESQL:
        return "WB_ESQL";
    case WB_EDATA:
        return "WB_EDATA";
    case WB_ESTATE:
        return "WB_ESTATE";
    case WB_EIO:
        return "WB_EIO";
    case WB_ELIMIT:
        return "WB_ELIMIT";
    case WB_ECANCELED:
        return "WB_ECANCELED";
    case WB_ECATALOG:
        return "WB_ECATALOG";
    case WB_EFORMAT:
        return "WB_EFORMAT";
    default:
        return "WB_EUNKNOWN";
    }
}
