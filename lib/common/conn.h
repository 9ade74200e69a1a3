/*
 * common/conn.h - opening libpq connections the way walbridge needs them,
 * and connection strings that are safe to log.
 *
 * walbridge never logs a conninfo as given: it may carry a password (in
 * password=, or in a URI's userinfo).  wb_conninfo_redact parses the string
 * with libpq's own parser and prints only the keys that identify the server
 * and never a secret.
 */
#ifndef WB_COMMON_CONN_H
#define WB_COMMON_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/error.h"

/*
 * Open a blocking connection.  replication selects `replication=database`.
 * Every session pins the settings that change how values are printed and
 * parsed (client_encoding UTF8, DateStyle ISO, IntervalStyle postgres,
 * extra_float_digits 3, TimeZone UTC), appended to any `options` the user
 * gave.  role ("source", "target"; a string literal: notices keep it) words
 * errors and notices.  Returns the
 * connection or NULL with WB_ECONN in err; the message never contains a
 * password.
 */
PGconn *wb_conn_open(const char *conninfo, bool replication,
                     const char *appname, const char *role, wb_error *err);

/*
 * Write a loggable description of conninfo ("host=/tmp port=5432
 * dbname=app user=sync") into out (always NUL-terminated when outlen > 0).
 * Only host, hostaddr, port, dbname, user, sslmode and application_name are
 * printed.  An unparseable string yields "(invalid connection string)",
 * never the input.  Returns out.
 */
char *wb_conninfo_redact(const char *conninfo, char *out, size_t outlen);

/*
 * Fill err from a failed PGresult (or the connection when res is NULL):
 * message, detail, hint and SQLSTATE.  what says what was being done
 * ("could not create replication slot \"x\"").  Returns code.
 */
int wb_conn_result_error(wb_error *err, int code, PGconn *conn,
                         const PGresult *res, const char *what);

/*
 * Did this failure lose the connection?  True when libpq says so, but also
 * for the server's own goodbyes, which arrive while libpq still reports
 * the connection as open: severity FATAL or PANIC, SQLSTATE class 08
 * (connection exception) and 57P01-57P03 (terminated by an administrator,
 * crash shutdown, cannot connect now).  Those are worth a reconnect; the
 * statement was not at fault.
 */
bool wb_conn_lost(PGconn *conn, const PGresult *res);

/*
 * Check res (which this takes over) against the wanted status.  On
 * success, *out gets res (or it is cleared when out is NULL) and 0 is
 * returned; otherwise err is filled (WB_ESQL, or WB_ECONN when the
 * connection is gone) and res cleared.
 */
int wb_conn_expect(PGconn *conn, PGresult *res, ExecStatusType want,
                   PGresult **out, const char *what, wb_error *err);

/* Quote an identifier (PQescapeIdentifier) into a malloc'd string. */
char *wb_conn_quote_ident(PGconn *conn, const char *ident);
/* Quote a literal (PQescapeLiteral) into a malloc'd string. */
char *wb_conn_quote_literal(PGconn *conn, const char *lit);

#endif
