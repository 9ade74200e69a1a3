/*
 * common/conn.h - opening libpq connections the way walbridge needs them.
 */
#ifndef WALBRIDGE_CONN_INT_H
#define WALBRIDGE_CONN_INT_H

#include <stdbool.h>

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
