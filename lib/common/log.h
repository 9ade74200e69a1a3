/*
 * common/log.h - the library never prints; it logs through a callback.
 *
 * The embedding program (the CLI, a test) installs one sink per process.
 * Without a sink, messages are dropped.  Each error is logged once, by the
 * layer that understands it (normally the run loop); lower layers only fill
 * a wb_error and return.
 */
#ifndef WB_COMMON_LOG_H
#define WB_COMMON_LOG_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wb_log_level {
    WB_LOG_DEBUG = 0,
    WB_LOG_INFO = 1,
    WB_LOG_WARNING = 2,
    WB_LOG_ERROR = 3,
    WB_LOG_FATAL = 4
} wb_log_level;

/*
 * A sink receives the formatted primary message and, when the message comes
 * from a wb_error, that error (for DETAIL, HINT, relation, LSN...).  err is
 * NULL otherwise.  The strings are valid only during the call.
 */
typedef void (*wb_log_fn)(void *ud, wb_log_level level, const char *msg,
                          const wb_error *err);

/* Install the sink and the minimum level (not thread-safe; call at start). */
void wb_log_set_sink(wb_log_fn fn, void *ud);
void wb_log_set_level(wb_log_level min);
/* Parse "debug", "info", "warning", "error"; returns 0 or WB_EINVAL. */
int wb_log_level_parse(const char *s, wb_log_level *out);
const char *wb_log_level_name(wb_log_level level);

void wb_log(wb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Log err->message with err attached. */
void wb_log_error(wb_log_level level, const wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
