/*
 * common/conninfo.h - connection strings that are safe to log.
 *
 * walbridge never logs a conninfo as given: it may carry a password (in
 * password=, or in a URI's userinfo).  wb_conninfo_redact parses the string
 * with libpq's own parser and prints only the keys that identify the server
 * and never a secret.
 */
#ifndef WALBRIDGE_CONNINFO_H
#define WALBRIDGE_CONNINFO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Write a loggable description of conninfo ("host=/tmp port=5432
 * dbname=app user=sync") into out (always NUL-terminated when outlen > 0).
 * Only host, hostaddr, port, dbname, user, sslmode and application_name are
 * printed.  An unparseable string yields "(invalid connection string)",
 * never the input.  Returns out.
 */
char *wb_conninfo_redact(const char *conninfo, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
