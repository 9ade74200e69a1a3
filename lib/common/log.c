/*
 * common/log.c - the process-wide log sink.  Formatting happens here, once,
 * into a bounded buffer; the sink decides where the line goes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

static wb_log_fn sink;
static void *sink_ud;
static wb_log_level min_level = WB_LOG_INFO;

void wb_log_set_sink(wb_log_fn fn, void *ud)
{
    sink = fn;
    sink_ud = ud;
}

void wb_log_set_level(wb_log_level min)
{
    min_level = min;
}

int wb_log_level_parse(const char *s, wb_log_level *out)
{
    static const struct {
        const char *name;
        wb_log_level level;
    } names[] = {{"debug", WB_LOG_DEBUG},
                 {"info", WB_LOG_INFO},
                 {"warning", WB_LOG_WARNING},
                 {"error", WB_LOG_ERROR}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (s && strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return WB_EINVAL;
}

const char *wb_log_level_name(wb_log_level level)
{
    switch (level) {
    case WB_LOG_DEBUG:
        return "DEBUG";
    case WB_LOG_INFO:
        return "LOG";
    case WB_LOG_WARNING:
        return "WARNING";
    case WB_LOG_ERROR:
        return "ERROR";
    case WB_LOG_FATAL:
        return "FATAL";
    }
    return "LOG";
}

void wb_log(wb_log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (!sink || level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sink(sink_ud, level, buf, NULL);
}

void wb_log_error(wb_log_level level, const wb_error *err)
{
    if (!sink || level < min_level || !err)
        return;
    sink(sink_ud, level, err->message, err);
}
