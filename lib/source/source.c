/*
 * source/source.c - the replication connection.
 *
 * Only the simple query protocol is allowed on a walsender connection, so
 * catalog queries here use PQexec with literals quoted by PQescapeLiteral
 * (never spliced raw).  START_REPLICATION asks for the highest pgoutput
 * protocol version the server speaks (14 -> 2, 15 -> 3, 16+ -> 4, as
 * PostgreSQL's own worker does) and for logical messages, which carry the
 * marker of walbridge's own transactions when no origin can be used.
 *
 * Streaming is read without blocking (PQsetnonblocking + PQgetCopyData
 * async) so that the libuv loop owns the socket.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/conn.h"
#include "source/source.h"
#include "source/copydata.h"
#include "common/log.h"

struct wb_source {
    PGconn *conn;
    const wb_config *cfg;
    int server_version;
    int proto_version;
    char system_id[32];
    uint32_t timeline;
    bool streaming;
    bool binary; /* ask for binary values (wb_source_set_binary) */
};

static int query(wb_source *s, const char *sql, ExecStatusType want,
                 PGresult **out, const char *what, wb_error *err)
{
    /* Simple query protocol only: this is a walsender connection. */
    return wb_conn_expect(s->conn, PQexec(s->conn, sql), want, out, what, err);
}

int wb_source_open(const wb_config *cfg, wb_source **out, wb_error *err)
{
    wb_source *s = calloc(1, sizeof(*s));
    PGresult *res;
    int rc;

    if (!s)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    s->cfg = cfg;
    s->conn =
        wb_conn_open(cfg->source.conninfo, true, "walbridge", "source", err);
    if (!s->conn) {
        free(s);
        return err ? err->code : WB_ECONN;
    }
    s->server_version = PQserverVersion(s->conn);
    if (s->server_version < 140000) {
        wb_error_set(err, WB_ECONN, "source server version %d is too old",
                     s->server_version);
        wb_source_close(s);
        wb_error_hint(err, "walbridge needs PostgreSQL 14 or later.");
        return WB_ECONN;
    }
    s->proto_version = s->server_version >= 160000   ? 4
                       : s->server_version >= 150000 ? 3
                                                     : 2;
    rc = query(s, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, &res,
               "could not identify the source system", err);
    if (rc) {
        wb_source_close(s);
        return rc;
    }
    snprintf(s->system_id, sizeof(s->system_id), "%s", PQgetvalue(res, 0, 0));
    s->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    *out = s;
    return 0;
}

void wb_source_close(wb_source *s)
{
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

const char *wb_source_system_id(const wb_source *s)
{
    return s->system_id;
}
uint32_t wb_source_timeline(const wb_source *s)
{
    return s->timeline;
}
int wb_source_socket(const wb_source *s)
{
    return PQsocket(s->conn);
}

void wb_source_set_binary(wb_source *s, bool binary)
{
    s->binary = binary;
}

int wb_source_ensure_publication(wb_source *s, wb_error *err)
{
    const char *pub = s->cfg->source.publication;
    char *lit = wb_conn_quote_literal(s->conn, pub);
    char sql[4096];
    PGresult *res;
    int rc;

    if (!lit)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = %s", lit);
    free(lit);
    rc = query(s, sql, PGRES_TUPLES_OK, &res,
               "could not look up the publication", err);
    if (rc)
        return rc;
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (exists)
        return 0;
    if (!s->cfg->source.create_publication) {
        wb_error_set(err, WB_ESTATE, "publication \"%s\" does not exist", pub);
        wb_error_hint(err, "Create it, or set source.create_publication.");
        return WB_ESTATE;
    }
    if (s->server_version < 150000) {
        wb_error_set(err, WB_ESTATE, "publication \"%s\" does not exist", pub);
        wb_error_hint(err, "PostgreSQL 14 has no FOR TABLES IN SCHEMA: create "
                           "the publication for the tables yourself.");
        return WB_ESTATE;
    }
    /* Build CREATE PUBLICATION with every identifier quoted. */
    char *q = wb_conn_quote_ident(s->conn, pub);
    if (!q)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    size_t len = (size_t)snprintf(
        sql, sizeof(sql), "CREATE PUBLICATION %s FOR TABLES IN SCHEMA ", q);
    free(q);
    for (size_t i = 0; i < s->cfg->source.nschemas; i++) {
        q = wb_conn_quote_ident(s->conn, s->cfg->source.schemas[i]);
        if (!q)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        int n =
            snprintf(sql + len, sizeof(sql) - len, "%s%s", i ? ", " : "", q);
        free(q);
        if (n < 0 || (size_t)n >= sizeof(sql) - len)
            return wb_error_set(err, WB_ECONFIG, "too many schemas");
        len += (size_t)n;
    }
    char what[256];
    snprintf(what, sizeof(what), "could not create publication \"%s\"", pub);
    rc = query(s, sql, PGRES_COMMAND_OK, NULL, what, err);
    if (rc == 0)
        wb_log(WB_LOG_INFO, "created publication \"%s\"", pub);
    return rc;
}

int wb_source_ensure_slot(wb_source *s, wb_lsn stored, bool export,
                          wb_slot_info *info, wb_error *err)
{
    const char *slot = s->cfg->source.slot;
    char *lit = wb_conn_quote_literal(s->conn, slot);
    char sql[1024];
    char a[WB_LSN_BUFLEN], a2[WB_LSN_BUFLEN];
    PGresult *res;
    int rc;

    memset(info, 0, sizeof(*info));
    if (!lit)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    snprintf(sql, sizeof(sql),
             "SELECT plugin, database, confirmed_flush_lsn, "
             "coalesce(active_pid, 0), current_database(), "
             "coalesce(wal_status, '') "
             "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
             lit);
    free(lit);
    rc = query(s, sql, PGRES_TUPLES_OK, &res,
               "could not look up the replication slot", err);
    if (rc)
        return rc;
    if (PQntuples(res) > 0) {
        info->exists = true;
        if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0 ||
            strcmp(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 4)) != 0) {
            wb_error_set(err, WB_ESTATE,
                         "replication slot \"%s\" is not a pgoutput slot of "
                         "database \"%s\"",
                         slot, PQgetvalue(res, 0, 4));
            wb_error_detail(err, "It uses plugin \"%s\" on database \"%s\".",
                            PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
            PQclear(res);
            return WB_ESTATE;
        }
        if (!PQgetisnull(res, 0, 2))
            wb_lsn_parse(PQgetvalue(res, 0, 2), &info->confirmed_flush);
        if (strcmp(PQgetvalue(res, 0, 5), "lost") == 0) {
            wb_error_set(err, WB_ESTATE,
                         "replication slot \"%s\" has been invalidated", slot);
            wb_error_detail(err,
                            "Its wal_status is \"lost\": the WAL it needs was "
                            "removed (max_slot_wal_keep_size), at "
                            "confirmed_flush_lsn %s and stored position %s.",
                            wb_lsn_format(info->confirmed_flush, a),
                            wb_lsn_format(stored, a2));
            wb_error_hint(err, "Resynchronise the tables, drop the slot and "
                               "the stored progress, and start again.");
            PQclear(res);
            return WB_ESTATE;
        }
        info->active_pid = atoi(PQgetvalue(res, 0, 3));
        PQclear(res);
        return 0;
    }
    PQclear(res);

    if (stored != WB_INVALID_LSN) {
        wb_error_set(err, WB_ESTATE,
                     "replication slot \"%s\" does not exist, but progress is "
                     "stored at %s",
                     slot, wb_lsn_format(stored, a));
        wb_error_detail(err, "Creating the slot again would silently skip "
                             "every change made since the slot was lost.");
        wb_error_hint(err, "Resynchronise the tables, then delete the stored "
                           "progress (the replication origin or the progress "
                           "table row) to start from a new slot.");
        return WB_ESTATE;
    }
    if (!s->cfg->source.create_slot) {
        wb_error_set(err, WB_ESTATE, "replication slot \"%s\" does not exist",
                     slot);
        wb_error_hint(err, "Create it, or set source.create_slot.");
        return WB_ESTATE;
    }
    /* The slot name was validated as [a-z0-9_]+ by the config loader. */
    if (s->server_version >= 150000)
        snprintf(sql, sizeof(sql),
                 "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput "
                 "(SNAPSHOT '%s')",
                 slot, export ? "export" : "nothing");
    else
        snprintf(sql, sizeof(sql),
                 "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput %s", slot,
                 export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    char what[256];
    snprintf(what, sizeof(what), "could not create replication slot \"%s\"",
             slot);
    rc = query(s, sql, PGRES_TUPLES_OK, &res, what, err);
    if (rc)
        return rc;
    info->exists = info->created = true;
    if (export && !PQgetisnull(res, 0, 2))
        snprintf(info->snapshot, sizeof(info->snapshot), "%s",
                 PQgetvalue(res, 0, 2));
    if (wb_lsn_parse(PQgetvalue(res, 0, 1), &info->consistent_point) != 0) {
        PQclear(res);
        return wb_error_set(err, WB_EPROTO,
                            "invalid consistent point from "
                            "CREATE_REPLICATION_SLOT");
    }
    PQclear(res);
    wb_log(WB_LOG_INFO, "created replication slot \"%s\" at %s", slot,
           wb_lsn_format(info->consistent_point, a));
    return 0;
}

int wb_source_until_marker(wb_source *s, wb_lsn *lsn, wb_error *err)
{
    PGresult *res;
    int rc =
        query(s,
              "SELECT pg_logical_emit_message(true, 'walbridge.until', "
              "'')",
              PGRES_TUPLES_OK, &res, "could not mark the end position", err);
    if (rc)
        return rc;
    rc = wb_lsn_parse(PQgetvalue(res, 0, 0), lsn);
    PQclear(res);
    if (rc)
        return wb_error_set(err, WB_EPROTO, "invalid marker position");
    return 0;
}

int wb_source_start(wb_source *s, wb_lsn startpos, wb_error *err)
{
    char sql[2048];
    char lsn[WB_LSN_BUFLEN];
    char *pub = wb_conn_quote_ident(s->conn, s->cfg->source.publication);
    char pubq[1024];
    size_t j = 0;

    if (!pub)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    /* publication_names is a quoted list inside a single-quoted string. */
    for (const char *p = pub; *p && j + 2 < sizeof(pubq); p++) {
        if (*p == '\'')
            pubq[j++] = '\'';
        pubq[j++] = *p;
    }
    pubq[j] = '\0';
    free(pub);
    snprintf(sql, sizeof(sql),
             "START_REPLICATION SLOT \"%s\" LOGICAL %s (proto_version '%d', "
             "publication_names '%s', messages 'true'%s%s)",
             s->cfg->source.slot, wb_lsn_format(startpos, lsn),
             s->proto_version, pubq,
             s->cfg->source.streaming ? ", streaming 'on'" : "",
             s->binary ? ", binary 'true'" : "");
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        char what[256];
        int code = wb_conn_lost(s->conn, res) ? WB_ECONN : WB_ESQL;
        snprintf(what, sizeof(what),
                 "could not start replication from slot \"%s\"",
                 s->cfg->source.slot);
        wb_conn_result_error(err, code, s->conn, res, what);
        PQclear(res);
        if (strcmp(err ? err->sqlstate : "", "55006") == 0) {
            err->code = code = WB_ESTATE;
            wb_error_hint(err, "Is another walbridge using this slot?");
        } else if (code == WB_ESQL) {
            /* Invalidated slot, missing publication and the like: a
             * retry cannot fix them. */
            err->code = code = WB_ESTATE;
        }
        return code;
    }
    PQclear(res);
    if (PQsetnonblocking(s->conn, 1) != 0)
        return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                    "could not make the source connection "
                                    "non-blocking");
    s->streaming = true;
    wb_log(WB_LOG_INFO,
           "streaming from slot \"%s\" at %s (publication \"%s\", "
           "pgoutput protocol %d, server %d, %s values%s)",
           s->cfg->source.slot, lsn, s->cfg->source.publication,
           s->proto_version, s->server_version, s->binary ? "binary" : "text",
           s->cfg->source.streaming ? ", streaming in-progress transactions"
                                    : "");
    return 0;
}

int wb_source_consume(wb_source *s, wb_error *err)
{
    if (PQconsumeInput(s->conn) == 0)
        return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                    "lost the source connection");
    return 0;
}

int wb_source_read(wb_source *s, char **buf, wb_error *err)
{
    int n = PQgetCopyData(s->conn, buf, 1);
    if (n > 0 || n == 0)
        return n;
    if (n == -1) {
        /* The server ended the stream; its result says why. */
        PGresult *res = PQgetResult(s->conn);
        int rc;
        if (res && PQresultStatus(res) == PGRES_FATAL_ERROR)
            rc = wb_conn_result_error(err, WB_ECONN, s->conn, res,
                                      "replication stream ended");
        else
            rc = wb_error_set(err, WB_ECONN,
                              "replication stream ended by the server");
        PQclear(res);
        s->streaming = false;
        return rc;
    }
    s->streaming = false;
    return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                "could not read from the replication stream");
}

void wb_source_freemem(char *buf)
{
    PQfreemem(buf);
}

int wb_source_flush(wb_source *s, wb_error *err)
{
    int r = PQflush(s->conn);
    if (r < 0)
        return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                    "could not send to the source");
    return r;
}

int wb_source_send_status(wb_source *s, wb_lsn flush, bool reply_requested,
                          wb_error *err)
{
    char msg[WB_STATUS_UPDATE_LEN];
    wb_copydata_status_update(msg, flush, flush, flush, wb_pgtime_now(),
                              reply_requested);
    if (PQputCopyData(s->conn, msg, sizeof(msg)) != 1)
        return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                    "could not send a status update");
    return wb_source_flush(s, err);
}

int wb_source_stop(wb_source *s, int timeout_ms, wb_error *err)
{
    int64_t deadline = wb_clock_ms() + timeout_ms;
    if (!s->streaming)
        return 0;
    s->streaming = false;
    if (PQputCopyEnd(s->conn, NULL) != 1)
        return wb_conn_result_error(err, WB_ECONN, s->conn, NULL,
                                    "could not end the replication stream");
    for (;;) {
        int64_t left = deadline - wb_clock_ms();
        if (left <= 0)
            return wb_error_set(err, WB_ECONN,
                                "timed out ending the replication stream");
        int fl = PQflush(s->conn);
        if (fl < 0)
            break;
        if (PQconsumeInput(s->conn) == 0)
            break;
        /* Discard data still in flight: it was never confirmed. */
        char *buf;
        int n;
        while ((n = PQgetCopyData(s->conn, &buf, 1)) > 0)
            PQfreemem(buf);
        if (n < 0) {
            PGresult *res;
            while (!PQisBusy(s->conn) && (res = PQgetResult(s->conn)) != NULL)
                PQclear(res);
            if (!PQisBusy(s->conn))
                return 0;
        }
        struct pollfd pfd = {.fd = PQsocket(s->conn),
                             .events = (short)(POLLIN | (fl ? POLLOUT : 0))};
        poll(&pfd, 1, (int)(left < 100 ? left : 100));
    }
    return 0;
}
