/*
 * common/conn.c - libpq connections with pinned output settings, and redaction.
 *
 * Values travel between servers as text, so both ends must print and parse
 * them the same way whatever the servers' defaults are.  The settings are
 * the ones PostgreSQL's own walreceiver forces (libpqwalreceiver.c), plus
 * TimeZone=UTC so that timestamptz text carries an explicit +00 offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conn.h"
#include "common/log.h"

#define PINNED_OPTIONS                                                         \
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "      \
    "-c timezone=UTC"

char *wb_conninfo_redact(const char *conninfo, char *out, size_t outlen)
{
    static const char *const shown[] = {
        "host",    "hostaddr",        "port", "dbname", "user",
        "sslmode", "application_name"};
    PQconninfoOption *opts;
    char *errmsg = NULL;
    size_t used = 0;

    if (outlen == 0)
        return out;
    out[0] = '\0';
    opts = PQconninfoParse(conninfo ? conninfo : "", &errmsg);
    if (!opts) {
        PQfreemem(errmsg);
        snprintf(out, outlen, "(invalid connection string)");
        return out;
    }
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (strcmp(o->keyword, shown[i]) != 0 || !o->val || !*o->val)
                continue;
            int n = snprintf(out + used, outlen - used, "%s%s=%s",
                             used ? " " : "", o->keyword, o->val);
            if (n < 0 || (size_t)n >= outlen - used) {
                out[used] = '\0';
                break;
            }
            used += (size_t)n;
        }
    }
    PQconninfoFree(opts);
    if (used == 0)
        snprintf(out, outlen, "(defaults)");
    return out;
}

static void trim_newline(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/*
 * Server notices go to the log sink, never to stderr behind the embedding
 * program's back: WARNING stays a warning, NOTICE and below are debug.
 */
static void notice_receiver(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    wb_log(sev && strcmp(sev, "WARNING") == 0 ? WB_LOG_WARNING : WB_LOG_DEBUG,
           "%s server: %s", (const char *)arg, msg ? msg : "");
}

PGconn *wb_conn_open(const char *conninfo, bool replication,
                     const char *appname, const char *role, wb_error *err)
{
    const char *keys[8];
    const char *vals[8];
    char options[1024];
    char redacted[512];
    PQconninfoOption *opts;
    char *perr = NULL;
    const char *user_options = NULL;
    int n = 0;

    opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        wb_error_set(err, WB_ECONN, "invalid %s connection string", role);
        if (perr) {
            trim_newline(perr);
            /* libpq's parse errors name the bad keyword, not its value. */
            wb_error_detail(err, "%s", perr);
            PQfreemem(perr);
        }
        return NULL;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val && *o->val)
            user_options = o->val;
    snprintf(options, sizeof(options), "%s%s%s",
             user_options ? user_options : "", user_options ? " " : "",
             PINNED_OPTIONS);
    PQconninfoFree(opts);

    /* dbname first: with expand_dbname it is expanded, later keys override. */
    keys[n] = "dbname";
    vals[n++] = conninfo;
    if (replication) {
        keys[n] = "replication";
        vals[n++] = "database";
    }
    keys[n] = "client_encoding";
    vals[n++] = "UTF8";
    keys[n] = "options";
    vals[n++] = options;
    keys[n] = "fallback_application_name";
    vals[n++] = appname;
    keys[n] = NULL;
    vals[n] = NULL;

    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        wb_error_set(err, WB_ENOMEM, "out of memory connecting to %s", role);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[WB_ERR_MSGLEN];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        trim_newline(msg);
        wb_error_set(err, WB_ECONN, "could not connect to %s \"%s\"", role,
                     wb_conninfo_redact(conninfo, redacted, sizeof(redacted)));
        wb_error_detail(err, "%s", msg);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeReceiver(conn, notice_receiver, (void *)role);
    return conn;
}

int wb_conn_result_error(wb_error *err, int code, PGconn *conn,
                         const PGresult *res, const char *what)
{
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!err)
        return code;
    if (primary) {
        wb_error_set(err, code, "%s: %s", what, primary);
        const char *d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        const char *h = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (d)
            wb_error_detail(err, "%s", d);
        if (h)
            wb_error_hint(err, "%s", h);
        if (s)
            snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", s);
    } else {
        /* libpq's own messages may span lines ("server closed the
         * connection unexpectedly\n\tThis probably means..."): the first
         * line is the message, the rest is detail. */
        char msg[WB_ERR_MSGLEN];
        snprintf(msg, sizeof(msg), "%s",
                 conn ? PQerrorMessage(conn) : "no connection");
        trim_newline(msg);
        char *nl = strchr(msg, '\n');
        if (nl)
            *nl++ = '\0';
        char *first = msg;
        if (strncmp(first, "FATAL:  ", 8) == 0 ||
            strncmp(first, "ERROR:  ", 8) == 0)
            first += 8;
        wb_error_set(err, code, "%s: %s", what, first);
        if (nl) {
            for (char *p = nl; *p; p++)
                if (*p == '\n' || *p == '\t')
                    *p = ' ';
            while (*nl == ' ')
                nl++;
            wb_error_detail(err, "%s", nl);
        }
    }
    return code;
}

bool wb_conn_lost(PGconn *conn, const PGresult *res)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return true;
    if (!res)
        return false;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        return true;
    return state &&
           (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
            strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

int wb_conn_expect(PGconn *conn, PGresult *res, ExecStatusType want,
                   PGresult **out, const char *what, wb_error *err)
{
    if (PQresultStatus(res) != want) {
        int code = wb_conn_lost(conn, res) ? WB_ECONN : WB_ESQL;
        wb_conn_result_error(err, code, conn, res, what);
        PQclear(res);
        return code;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static char *quote_with(PGconn *conn, const char *s,
                        char *(*fn)(PGconn *, const char *, size_t))
{
    char *q = fn(conn, s, strlen(s));
    if (!q)
        return NULL;
    char *copy = strdup(q);
    PQfreemem(q);
    return copy;
}

char *wb_conn_quote_ident(PGconn *conn, const char *ident)
{
    return quote_with(conn, ident, PQescapeIdentifier);
}

char *wb_conn_quote_literal(PGconn *conn, const char *lit)
{
    return quote_with(conn, lit, PQescapeLiteral);
}
