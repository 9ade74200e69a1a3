/*
 * common/lsn.c - LSN text form and PostgreSQL timestamps.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/error.h"
#include "common/lsn.h"

static int parse_half(const char **p, uint32_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (isxdigit((unsigned char)**p)) {
        int c = (unsigned char)**p;
        v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
        if (++n > 8)
            return WB_EINVAL;
        (*p)++;
    }
    if (n == 0)
        return WB_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int wb_lsn_parse(const char *s, wb_lsn *out)
{
    uint32_t hi, lo;
    if (!s || parse_half(&s, &hi) != 0 || *s++ != '/' ||
        parse_half(&s, &lo) != 0 || *s != '\0')
        return WB_EINVAL;
    *out = ((wb_lsn)hi << 32) | lo;
    return 0;
}

char *wb_lsn_format(wb_lsn lsn, char *buf)
{
    snprintf(buf, WB_LSN_BUFLEN, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32),
             (uint32_t)lsn);
    return buf;
}

int64_t wb_pgtime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return wb_unix_us_to_pgtime((int64_t)ts.tv_sec * 1000000 +
                                ts.tv_nsec / 1000);
}
