/*
 * common/error.h - error codes and the error report that travels with them.
 *
 * Every fallible library function returns 0 or a negative WB_E* code, like
 * libuv.  When the caller passes a wb_error *, the function also fills it with
 * a message in PostgreSQL's style (short, lower case, identifiers quoted) and,
 * where known, the relation, column, SQLSTATE, LSN and config position.  The
 * struct has fixed-size buffers so that reporting an error never allocates
 * and can never fail.
 */
#ifndef WB_COMMON_ERROR_H
#define WB_COMMON_ERROR_H

#include <stdarg.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wb_errcode {
    WB_OK = 0,
    WB_EINVAL = -1,     /* invalid argument or input */
    WB_ENOMEM = -2,     /* out of memory */
    WB_ECONFIG = -3,    /* configuration file is invalid */
    WB_EPROTO = -4,     /* malformed replication protocol data */
    WB_ECONN = -5,      /* connection failed or was lost */
    WB_ESQL = -6,       /* a statement failed on the server */
    WB_EDATA = -7,      /* a change cannot be mapped or applied */
    WB_ESTATE = -8,     /* slot, origin or stored progress inconsistent */
    WB_EIO = -9,        /* operating system I/O error */
    WB_ELIMIT = -10,    /* a configured bound was exceeded */
    WB_ECANCELED = -11, /* stopped on request */
    WB_ECATALOG = -12,  /* the configuration does not match the database */
    WB_EFORMAT = -13    /* values cannot be read in binary format: read the
                           stream again as text (handled inside wb_run) */
} wb_errcode;

#define WB_ERR_MSGLEN 512

typedef struct wb_error {
    int code;                    /* WB_E* or 0 */
    char message[WB_ERR_MSGLEN]; /* primary message, no trailing period */
    char detail[WB_ERR_MSGLEN];  /* optional: facts about the failure */
    char hint[256];              /* optional: what the user can do */
    char relation[256];          /* optional: "schema.table" */
    char column[128];            /* optional: column name */
    char sqlstate[6];            /* optional: SQLSTATE from the server */
    uint64_t lsn;                /* optional: source LSN, 0 when unknown */
    char file[256];              /* optional: config file name */
    int line;                    /* 1-based, 0 when unknown */
    int col;                     /* 1-based, 0 when unknown */
} wb_error;

/* Reset every field.  err may be NULL. */
void wb_error_clear(wb_error *err);

/*
 * Set code and message (printf-style) and return code, so that callers can
 * write `return wb_error_set(err, WB_EINVAL, "...")`.  err may be NULL, in
 * which case only the code is returned.  Other fields are left as they are.
 */
int wb_error_set(wb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int wb_error_vset(wb_error *err, int code, const char *fmt, va_list ap);

/* Set the optional fields; each accepts err == NULL. */
void wb_error_detail(wb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wb_error_hint(wb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wb_error_relation(wb_error *err, const char *nspname, const char *relname);
void wb_error_column(wb_error *err, const char *column);
void wb_error_lsn(wb_error *err, uint64_t lsn);
void wb_error_position(wb_error *err, const char *file, int line, int col);

/* Short description of a code ("invalid configuration"); never NULL. */
const char *wb_strerror(int code);
/* Symbolic name of a code ("WB_ECONFIG"); never NULL. */
const char *wb_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
