/*
 * check/startup.c - the start-up checks of `walbridge run`, one list for run
 * and `walbridge check` (see check/startup.h for who calls which classes
 * when).
 *
 * Every check here only reads: nothing is created, so check can run them
 * beside a streaming walbridge and run can refuse before it writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "check/catalog.h"
#include "check/startup.h"
#include "common/conn.h"
#include "common/log.h"
#include "check/graph.h"

typedef struct startup_check {
    unsigned cls;
    int (*fn)(wb_startup *s, wb_error *err);
} startup_check;

static void log_report(void *arg, wb_log_level level, const wb_error *problem)
{
    (void)arg;
    wb_log_error(level, problem);
}

/* Mapping cycles without skip_unchanged (check/graph.h). */
static int check_graph(wb_startup *s, wb_error *err)
{
    int n = wb_graph_check(s->cfg, log_report, NULL);
    if (n < 0)
        return wb_error_set(err, n, "out of memory");
    if (n > 0)
        return wb_error_set(err, WB_ECONFIG,
                            "configuration file \"%s\" has %d forbidden "
                            "mapping cycle%s",
                            s->cfg->path, n, n == 1 ? "" : "s");
    return 0;
}

/* Every enabled mapping against the catalogs (check/catalog.h). */
static int check_catalog(wb_startup *s, wb_error *err)
{
    int n =
        wb_catalog_check(s->source, s->target, s->cfg, log_report, NULL, err);
    if (n < 0)
        return n;
    if (n > 0)
        return wb_error_set(err, WB_ECATALOG,
                            "configuration file \"%s\" does not match the "
                            "database: %d problem%s",
                            s->cfg->path, n, n == 1 ? "" : "s");
    return 0;
}

/* The first enabled mapping resolving conflicts by commit time, or NULL. */
static const wb_config_mapping *by_commit_time(const wb_config *cfg)
{
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (m->enabled && wb_conflict_by_commit_time(&m->conflict))
            return m;
    }
    return NULL;
}

/*
 * Rows that an initial copy or a re-sync reads carry their last commit
 * time only when the source tracks commit timestamps; else they carry the
 * time they were read, and may win against a target edit newer than
 * their real commit.  Run goes on (the stream's changes carry their
 * commit time anyway): a warning, not a refusal.  A source on the
 * target's server is checked by check_commit_timestamps.
 */
static int check_source_commit_times(wb_startup *s, wb_error *err)
{
    const wb_config_mapping *lww = by_commit_time(s->cfg);
    if (!lww || s->source == s->target)
        return 0;
    PGresult *res;
    int rc = wb_conn_expect(
        s->source,
        PQexec(s->source,
               "SELECT pg_catalog.current_setting('track_commit_timestamp')"
               "::bool"),
        PGRES_TUPLES_OK, &res, "could not read the source's settings", err);
    if (rc)
        return rc;
    bool tracked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (tracked)
        return 0;
    wb_error w;
    wb_error_clear(&w);
    wb_error_set(&w, WB_ECONFIG,
                 "mapping \"%s\" resolves conflicts by commit time, but "
                 "track_commit_timestamp is off on the source",
                 lww->name);
    wb_error_position(&w, s->cfg->path, lww->conflict.by_pos.line,
                      lww->conflict.by_pos.col);
    wb_error_detail(&w, "Rows copied by the initial copy or a re-sync carry "
                        "the time they were read, not their last commit: "
                        "they win against any target edit made before, "
                        "even one newer than their last change.");
    wb_error_hint(&w, "ALTER SYSTEM SET track_commit_timestamp = on on the "
                      "source, then restart it (rows committed before have "
                      "no commit time).");
    wb_log_error(WB_LOG_WARNING, &w);
    return 0;
}

/*
 * What the target session will be: whether commit timestamps are tracked,
 * and where progress goes.  An origin is used when the role may: EXECUTE
 * on the functions the applier's set-up calls (pg_replication_origin_oid,
 * _create unless the origin exists, _session_setup), the only gate since
 * PostgreSQL 14.  In auto mode a role that may not gets a progress table;
 * progress: origin is refused, before anything is created.
 */
static int check_target(wb_startup *s, wb_error *err)
{
    const char *p[1] = {s->cfg->target.origin};
    PGresult *res;
    int rc = wb_conn_expect(
        s->target,
        PQexecParams(
            s->target,
            "SELECT current_setting('track_commit_timestamp')::bool, "
            "current_user, "
            "has_function_privilege("
            "'pg_catalog.pg_replication_origin_oid(text)', 'EXECUTE') "
            "AND has_function_privilege("
            "'pg_catalog.pg_replication_origin_session_setup(text)', "
            "'EXECUTE') "
            "AND (has_function_privilege("
            "'pg_catalog.pg_replication_origin_create(text)', 'EXECUTE') "
            "OR EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin "
            "WHERE roname = $1))",
            1, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not read the target's settings", err);
    if (rc)
        return rc;
    s->track_cts = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    bool may_origin = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    s->mode = s->cfg->target.progress;
    if (s->mode == WB_PROGRESS_AUTO)
        s->mode = may_origin ? WB_PROGRESS_ORIGIN : WB_PROGRESS_TABLE;
    if (s->mode == WB_PROGRESS_ORIGIN && !may_origin) {
        char *role = wb_conn_quote_ident(s->target, PQgetvalue(res, 0, 1));
        wb_error_set(err, WB_ECATALOG,
                     "role \"%s\" may not use replication origins, but "
                     "target.progress is \"origin\"",
                     PQgetvalue(res, 0, 1));
        wb_error_detail(err,
                        "walbridge stores its position in replication "
                        "origin \"%s\".",
                        s->cfg->target.origin);
        wb_error_hint(err,
                      "GRANT EXECUTE ON FUNCTION "
                      "pg_replication_origin_oid(text), "
                      "pg_replication_origin_create(text), "
                      "pg_replication_origin_session_setup(text) TO %s; "
                      "or set target.progress to auto or table.",
                      role ? role : "...");
        free(role);
        PQclear(res);
        return WB_ECATALOG;
    }
    PQclear(res);
    return 0;
}

/* last_writer_wins by commit time compares commit timestamps: the
 * target's own rows have one only when they are tracked. */
static int check_commit_timestamps(wb_startup *s, wb_error *err)
{
    const wb_config_mapping *lww = by_commit_time(s->cfg);
    if (!lww || s->track_cts)
        return 0;
    int rc = wb_error_set(err, WB_ECONFIG,
                          "mapping \"%s\" resolves conflicts by commit time, "
                          "but track_commit_timestamp is off on the target",
                          lww->name);
    wb_error_position(err, s->cfg->path, lww->conflict.by_pos.line,
                      lww->conflict.by_pos.col);
    wb_error_hint(err, "ALTER SYSTEM SET track_commit_timestamp = on, "
                       "then restart the server.");
    return rc;
}

/* Only through pg_replication_origin_xact_setup do walbridge's own writes
 * carry the source's commit time rather than the time they were applied. */
static int check_commit_time_origin(wb_startup *s, wb_error *err)
{
    const wb_config_mapping *lww = by_commit_time(s->cfg);
    if (!lww || s->mode == WB_PROGRESS_ORIGIN)
        return 0;
    int rc = wb_error_set(err, WB_ECONFIG,
                          "mapping \"%s\" resolves conflicts by commit time, "
                          "which needs progress in a replication origin",
                          lww->name);
    wb_error_position(err, s->cfg->path, lww->conflict.by_pos.line,
                      lww->conflict.by_pos.col);
    wb_error_detail(err, "Without an origin, walbridge's writes carry "
                         "the time they were applied, not the source's "
                         "commit time, and would win against newer "
                         "changes.");
    wb_error_hint(err, "Let the role use replication origins (progress: "
                       "origin), or resolve by a column.");
    return rc;
}

/* The list: run and check both go through it, in this order. */
static const startup_check checks[] = {
    {WB_STARTUP_FILE, check_graph},
    {WB_STARTUP_CATALOG, check_catalog},
    {WB_STARTUP_CATALOG, check_source_commit_times},
    {WB_STARTUP_TARGET, check_target},
    {WB_STARTUP_RULES, check_commit_timestamps},
    {WB_STARTUP_RULES, check_commit_time_origin},
};

int wb_startup_run(wb_startup *s, unsigned classes, wb_error *err)
{
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        if (!(checks[i].cls & classes))
            continue;
        int rc = checks[i].fn(s, err);
        if (rc)
            return rc;
    }
    return 0;
}

int wb_startup_verify_classes(const wb_config *cfg, unsigned classes,
                              wb_error *err)
{
    const char *tci = cfg->target.conninfo;
    bool separate = tci && *tci && strcmp(tci, cfg->source.conninfo) != 0;
    wb_startup s = {.cfg = cfg, .mode = cfg->target.progress};
    int rc;

    if (classes & (WB_STARTUP_CATALOG | WB_STARTUP_TARGET)) {
        s.source = wb_conn_open(cfg->source.conninfo, false, "walbridge check",
                                "source", err);
        if (!s.source)
            return err && err->code ? err->code : WB_ECONN;
        s.target = s.source;
        if (separate) {
            s.target =
                wb_conn_open(tci, false, "walbridge check", "target", err);
            if (!s.target) {
                PQfinish(s.source);
                return err && err->code ? err->code : WB_ECONN;
            }
        }
    }
    rc = wb_startup_run(&s, classes, err);
    if (s.target != s.source)
        PQfinish(s.target);
    PQfinish(s.source);
    return rc;
}

int wb_startup_verify(const wb_config *cfg, bool offline, wb_error *err)
{
    return wb_startup_verify_classes(
        cfg, offline ? WB_STARTUP_FILE : WB_STARTUP_ALL, err);
}
