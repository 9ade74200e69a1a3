/*
 * common/clock.h - the one monotonic clock, for deadlines, batch latency and
 * flush intervals (never for timestamps that are stored or compared with
 * the server's: those are wall-clock microseconds since PostgreSQL's
 * epoch, see common/lsn.h).
 */
#ifndef WB_COMMON_CLOCK_H
#define WB_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: unaffected by changes of the wall
 * clock. */
int64_t wb_clock_ms(void);

#endif
