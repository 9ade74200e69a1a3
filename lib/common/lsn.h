/*
 * common/lsn.h - WAL positions.
 *
 * An LSN is a 64-bit byte position in the WAL, printed by PostgreSQL as two
 * hexadecimal 32-bit halves ("16/B374D848").  0 means "invalid / unknown".
 */
#ifndef WB_COMMON_LSN_H
#define WB_COMMON_LSN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t wb_lsn;

#define WB_INVALID_LSN ((wb_lsn)0)
/* Big enough for "FFFFFFFF/FFFFFFFF" and the NUL. */
#define WB_LSN_BUFLEN 18

/* Parse "X/X"; returns 0 or WB_EINVAL (empty, garbage, trailing text). */
int wb_lsn_parse(const char *s, wb_lsn *out);
/* Format into buf (at least WB_LSN_BUFLEN bytes); returns buf. */
char *wb_lsn_format(wb_lsn lsn, char *buf);

/*
 * PostgreSQL timestamps are microseconds since 2000-01-01 00:00:00 UTC.
 * These convert to and from Unix microseconds.
 */
#define WB_PG_EPOCH_OFFSET_US INT64_C(946684800000000)
/* The same epoch as SQL, for timestamps sent as microseconds since it. */
#define WB_PG_EPOCH_SQL "'2000-01-01 00:00:00+00'::timestamptz"
static inline int64_t wb_pgtime_to_unix_us(int64_t pg)
{
    return pg + WB_PG_EPOCH_OFFSET_US;
}
static inline int64_t wb_unix_us_to_pgtime(int64_t us)
{
    return us - WB_PG_EPOCH_OFFSET_US;
}
/* Current wall-clock time as a PostgreSQL timestamp. */
int64_t wb_pgtime_now(void);

#ifdef __cplusplus
}
#endif
#endif
