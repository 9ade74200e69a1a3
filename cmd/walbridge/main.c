/*
 * walbridge - the command line.  Thin by design: a table of subcommands over
 * libwalbridge, a log sink that writes PostgreSQL-style lines to stderr, and
 * the mapping from library error codes to documented exit codes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check/binary.h"
#include "config/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/lsn.h"
#include "compare.h"
#include "map/router.h"
#include "run.h"
#include "check/startup.h"
#include "status.h"
#include "sync.h"
#include "syncstate.h"
#include "resync.h"
#include "common/conn.h"
#include "common/names.h"
#include "common/clock.h"

/* Exit codes (documented in the README and in --help). */
enum {
    WB_EXIT_OK = 0,
    WB_EXIT_FAILURE = 1,  /* runtime failure: connection, SQL, I/O */
    WB_EXIT_USAGE = 2,    /* bad command line */
    WB_EXIT_CONFIG = 3,   /* bad configuration file */
    WB_EXIT_DATA = 4,     /* a change could not be mapped or applied */
    WB_EXIT_STATE = 5,    /* slot / stored progress inconsistent */
    WB_EXIT_CATALOG = 6,  /* configuration does not match the database */
    WB_EXIT_DIFFERENT = 7 /* compare: persistent differences */
};

static int exit_code_for(int rc)
{
    switch (rc) {
    case 0:
        return WB_EXIT_OK;
    case WB_ECONFIG:
        return WB_EXIT_CONFIG;
    case WB_EDATA:
        return WB_EXIT_DATA;
    case WB_EPROTO:
        return WB_EXIT_DATA;
    case WB_ESTATE:
        return WB_EXIT_STATE;
    case WB_ECATALOG:
        return WB_EXIT_CATALOG;
    default:
        return WB_EXIT_FAILURE;
    }
}

static void prefix(char *buf, size_t len, wb_log_level level)
{
    struct timeval tv;
    struct tm tm;
    char ts[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03d UTC [%d] %s:  ", ts, (int)(tv.tv_usec / 1000),
             (int)getpid(), wb_log_level_name(level));
}

/* Copy s into buf with newlines and tabs folded to spaces: one log line
 * per message, whatever libpq or the server put into the text. */
static const char *one_line(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++) {
        char c = (*s == '\n' || *s == '\t' || *s == '\r') ? ' ' : *s;
        if (c == ' ' && n > 0 && buf[n - 1] == ' ')
            continue;
        buf[n++] = c;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

static void stderr_sink(void *ud, wb_log_level level, const char *msg_in,
                        const wb_error *err)
{
    char p[96], dp[96], msg[2048], detail[WB_ERR_MSGLEN], hint[256];
    (void)ud;
    one_line(msg_in, msg, sizeof(msg));
    if (err) {
        one_line(err->detail, detail, sizeof(detail));
        one_line(err->hint, hint, sizeof(hint));
    }
    prefix(p, sizeof(p), level);
    if (err && err->file[0] && err->line > 0)
        fprintf(stderr, "%s%s:%d:%d: %s\n", p, err->file, err->line, err->col,
                msg);
    else
        fprintf(stderr, "%s%s\n", p, msg);
    if (!err)
        return;
    if (err->detail[0]) {
        prefix(dp, sizeof(dp), level);
        /* Same prefix as PostgreSQL: the level word replaced by DETAIL. */
        char *lvl = strstr(dp, wb_log_level_name(level));
        if (lvl)
            *lvl = '\0';
        fprintf(stderr, "%sDETAIL:  %s\n", dp, detail);
    }
    if (err->hint[0] || err->relation[0] || err->column[0] || err->lsn ||
        err->sqlstate[0]) {
        prefix(dp, sizeof(dp), level);
        char *lvl = strstr(dp, wb_log_level_name(level));
        if (lvl)
            *lvl = '\0';
        if (err->hint[0])
            fprintf(stderr, "%sHINT:  %s\n", dp, hint);
        if (err->relation[0] || err->column[0] || err->lsn ||
            err->sqlstate[0]) {
            char lsn[WB_LSN_BUFLEN];
            fprintf(stderr, "%sCONTEXT: ", dp);
            if (err->relation[0])
                fprintf(stderr, " relation \"%s\"", err->relation);
            if (err->column[0])
                fprintf(stderr, " column \"%s\"", err->column);
            if (err->lsn)
                fprintf(stderr, " LSN %s", wb_lsn_format(err->lsn, lsn));
            if (err->sqlstate[0])
                fprintf(stderr, " SQLSTATE %s", err->sqlstate);
            fputc('\n', stderr);
        }
    }
}

typedef struct cli_opts {
    const char *config;
    const char *mapping; /* resync */
    bool no_wait;        /* resync */
    bool dry_run;        /* resync: compare only */
    bool delete_extra;   /* resync: then delete rows the source lacks */
    const char *wait;    /* compare: seconds to wait for walbridge */
    const char *until;
    const char *log_level;
    bool json;
    bool offline;
} cli_opts;

static void usage(FILE *out)
{
    fprintf(
        out,
        "walbridge %s - keep PostgreSQL tables in sync from the WAL\n"
        "\n"
        "Usage:\n"
        "  walbridge run -c FILE [--until now] [--log-level LEVEL]\n"
        "  walbridge check -c FILE [--offline]\n"
        "  walbridge status -c FILE [--json]\n"
        "  walbridge resync -c FILE --mapping NAME [--no-wait | --dry-run |\n"
        "                   --delete-extra] [--json]\n"
        "  walbridge compare -c FILE [--mapping NAME] [--json] [--wait "
        "SECONDS]\n"
        "  walbridge --version | --help\n"
        "\n"
        "Commands:\n"
        "  run     stream changes from the slot and apply the mappings\n"
        "          until SIGINT/SIGTERM; with --until now, stop once\n"
        "          everything committed before the start is applied\n"
        "  check   validate the configuration file and its mapping\n"
        "          graph, then run's start-up checks against the\n"
        "          databases: catalogs (tables, columns, types, unique\n"
        "          keys, replica identity, publication), progress mode,\n"
        "          commit timestamps; --offline: the file only\n"
        "  status  slot, stored position and lag (--json: one object)\n"
        "  resync  copy a mapping's source again while walbridge run\n"
        "          streams (online, in key-ordered chunks); waits and\n"
        "          shows progress unless --no-wait; --dry-run: compare\n"
        "          the mapping instead\n"
        "  compare report target rows missing, extra or different from\n"
        "          what each mapping produces from its source\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE      configuration file (YAML)\n"
        "  --until now            stop when caught up with the start\n"
        "  --log-level LEVEL      debug, info, warning or error\n"
        "  --offline              check: do not connect to the databases\n"
        "  --mapping NAME         resync: the mapping to copy again\n"
        "  --no-wait              resync: return once it is requested\n"
        "  --dry-run              resync: only report what differs\n"
        "  --delete-extra         resync: once done, delete target rows\n"
        "                         the mapping made and the source lacks\n"
        "  --wait SECONDS         compare: how long to wait for walbridge\n"
        "                         to apply what the source had (30)\n"
        "\n"
        "Exit codes:\n"
        "  0 success, 1 runtime failure (connection, SQL), 2 usage,\n"
        "  3 invalid configuration, 4 change could not be applied,\n"
        "  5 replication state inconsistent (slot or stored progress),\n"
        "  6 configuration does not match the database (check, run),\n"
        "  7 compare: persistent differences\n",
        WB_VERSION);
}

enum {
    OPT_RUN = 1,
    OPT_JSON = 2,
    OPT_OFFLINE = 4,
    OPT_RESYNC = 8,
    OPT_COMPARE = 16
};

static int parse_opts(int argc, char **argv, cli_opts *o, int allowed)
{
    bool allow_run = allowed & OPT_RUN;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char **dst = NULL;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0)
            dst = &o->config;
        else if (strncmp(a, "--config=", 9) == 0)
            o->config = a + 9;
        else if (allow_run && strcmp(a, "--until") == 0)
            dst = &o->until;
        else if (allow_run && strncmp(a, "--until=", 8) == 0)
            o->until = a + 8;
        else if ((allowed & OPT_JSON) && strcmp(a, "--json") == 0)
            o->json = true;
        else if ((allowed & OPT_OFFLINE) && strcmp(a, "--offline") == 0)
            o->offline = true;
        else if ((allowed & (OPT_RESYNC | OPT_COMPARE)) &&
                 strcmp(a, "--mapping") == 0)
            dst = &o->mapping;
        else if ((allowed & OPT_RESYNC) && strcmp(a, "--no-wait") == 0)
            o->no_wait = true;
        else if ((allowed & OPT_RESYNC) && strcmp(a, "--dry-run") == 0)
            o->dry_run = true;
        else if ((allowed & OPT_RESYNC) && strcmp(a, "--delete-extra") == 0)
            o->delete_extra = true;
        else if ((allowed & OPT_COMPARE) && strcmp(a, "--wait") == 0)
            dst = &o->wait;
        else if (strcmp(a, "--log-level") == 0)
            dst = &o->log_level;
        else if (strncmp(a, "--log-level=", 12) == 0)
            o->log_level = a + 12;
        else {
            fprintf(stderr, "walbridge: unknown option \"%s\"\n", a);
            return -1;
        }
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "walbridge: option \"%s\" needs a value\n", a);
                return -1;
            }
            val = argv[++i];
            *dst = val;
        }
    }
    if (!o->config) {
        fprintf(stderr, "walbridge: -c FILE is required\n");
        return -1;
    }
    if (o->wait) {
        char *end;
        long w = strtol(o->wait, &end, 10);
        if (*end || w < 0 || w > 86400) {
            fprintf(stderr, "walbridge: --wait needs seconds (0 to 86400)\n");
            return -1;
        }
    }
    if (o->until && strcmp(o->until, "now") != 0) {
        fprintf(stderr, "walbridge: --until only accepts \"now\"\n");
        return -1;
    }
    if (o->log_level) {
        wb_log_level l;
        if (wb_log_level_parse(o->log_level, &l) != 0) {
            fprintf(stderr, "walbridge: invalid log level \"%s\"\n",
                    o->log_level);
            return -1;
        }
        wb_log_set_level(l);
    }
    return 0;
}

static int load_config(const cli_opts *o, wb_config **cfg)
{
    wb_error err;
    wb_error_clear(&err);
    int rc = wb_config_load(o->config, cfg, &err);
    if (rc != 0) {
        wb_log_error(WB_LOG_FATAL, &err);
        return rc;
    }
    /* The command line wins over the file for the log level. */
    if (!o->log_level) {
        wb_log_level l;
        if (wb_log_level_parse((*cfg)->log.level, &l) == 0)
            wb_log_set_level(l);
    }
    return 0;
}

/* Which value format run would choose (check/binary.h), and why. */
static int report_format(const wb_config *cfg)
{
    wb_binary_plan plan;
    wb_error err;
    wb_error_clear(&err);
    int rc = wb_binary_choose(cfg, &plan, &err);
    if (rc) {
        wb_log_error(WB_LOG_FATAL, &err);
        return rc;
    }
    if (plan.binary)
        wb_log(WB_LOG_INFO, "values will be read in binary format");
    else
        wb_log(WB_LOG_INFO, "values will be read as text: %s", plan.reason);
    wb_binary_plan_free(&plan);
    return 0;
}

/* check: what the initial copy will do, or did, per mapping (sync.h);
 * a source role that may not read a table to copy is refused as run
 * refuses it. */
static int report_copy(const wb_config *cfg, wb_error *err)
{
    const char *tconn = wb_config_target_conninfo(cfg);
    int rc;
    PGconn *src = wb_conn_open(cfg->source.conninfo, false, "walbridge check",
                               "source", err);
    PGconn *tgt =
        src ? wb_conn_open(tconn, false, "walbridge check", "target", err)
            : NULL;
    if (!src || !tgt)
        rc = err->code ? err->code : WB_ECONN;
    else
        rc = wb_sync_check(cfg, src, tgt, err);
    if (src)
        PQfinish(src);
    if (tgt)
        PQfinish(tgt);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    cli_opts o = {0};
    wb_config *cfg;
    wb_error err;
    if (parse_opts(argc, argv, &o, OPT_OFFLINE) != 0)
        return WB_EXIT_USAGE;
    int rc = load_config(&o, &cfg);
    if (rc)
        return exit_code_for(rc);
    /* Plugins are loaded and given their configuration, as at start, so a
     * wrong path, another ABI or a bad plugin.config fails here (exit 3). */
    wb_error_clear(&err);
    wb_router *router = wb_router_create(cfg, &err);
    if (!router) {
        wb_log_error(WB_LOG_FATAL, &err);
        wb_config_free(cfg);
        return exit_code_for(err.code ? err.code : WB_ENOMEM);
    }
    wb_router_destroy(router);
    /* Every start-up check of run, from the same list (offline: those
     * that need no connection); problems of the graph and the catalog are
     * logged as found, err is the first refusal or their summary. */
    wb_error_clear(&err);
    /* In run's order: the file and the catalogs, the copy's privileges
     * (before anything is created), then the target session's checks. */
    rc = o.offline ? wb_startup_verify(cfg, true, &err)
                   : wb_startup_verify_classes(
                         cfg, WB_STARTUP_FILE | WB_STARTUP_CATALOG, &err);
    if (rc == 0 && !o.offline)
        rc = report_copy(cfg, &err);
    if (rc == 0 && !o.offline)
        rc = wb_startup_verify_classes(
            cfg, WB_STARTUP_ALL & ~(WB_STARTUP_FILE | WB_STARTUP_CATALOG),
            &err);
    if (rc)
        wb_log_error(WB_LOG_FATAL, &err);
    else
        wb_log(WB_LOG_INFO,
               "configuration file \"%s\" is valid%s: %zu mapping%s", o.config,
               o.offline ? "" : " and matches the database", cfg->nmappings,
               cfg->nmappings == 1 ? "" : "s");
    if (rc == 0 && !o.offline)
        rc = report_format(cfg);
    wb_config_free(cfg);
    return exit_code_for(rc);
}

static int cmd_run(int argc, char **argv)
{
    cli_opts o = {0};
    wb_config *cfg;
    wb_error err;
    wb_run_opts ro = {0};

    if (parse_opts(argc, argv, &o, OPT_RUN) != 0)
        return WB_EXIT_USAGE;
    int rc = load_config(&o, &cfg);
    if (rc)
        return exit_code_for(rc);
    ro.until_now = o.until != NULL;
    wb_error_clear(&err);
    rc = wb_run(cfg, &ro, NULL, &err);
    if (rc)
        wb_log_error(WB_LOG_FATAL, &err);
    wb_config_free(cfg);
    return exit_code_for(rc);
}

/* JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_lsn(FILE *f, wb_lsn v)
{
    char b[WB_LSN_BUFLEN];
    if (v)
        json_str(f, wb_lsn_format(v, b));
    else
        fputs("null", f);
}

/* ,"key":n rounded, or null when n < 0 (unknown). */
static void json_num(FILE *f, const char *key, double n)
{
    if (n < 0)
        fprintf(f, ",\"%s\":null", key);
    else
        fprintf(f, ",\"%s\":%.0f", key, n);
}

static void print_status_json(const wb_status *st)
{
    FILE *f = stdout;
    fputs("{\"slot\":", f);
    json_str(f, st->slot);
    fprintf(f, ",\"slot_exists\":%s", st->slot_exists ? "true" : "false");
    if (st->active_pid)
        fprintf(f, ",\"active_pid\":%d", st->active_pid);
    else
        fputs(",\"active_pid\":null", f);
    fputs(",\"confirmed_flush_lsn\":", f);
    json_lsn(f, st->confirmed_flush);
    fputs(",\"restart_lsn\":", f);
    json_lsn(f, st->restart_lsn);
    fputs(",\"wal_status\":", f);
    if (st->wal_status[0])
        json_str(f, st->wal_status);
    else
        fputs("null", f);
    if (st->has_safe_wal_size)
        fprintf(f, ",\"safe_wal_size\":%lld", (long long)st->safe_wal_size);
    else
        fputs(",\"safe_wal_size\":null", f);
    fputs(",\"current_lsn\":", f);
    json_lsn(f, st->current_lsn);
    fputs(",\"stored_lsn\":", f);
    json_lsn(f, st->stored);
    fputs(",\"stored_in\":", f);
    if (st->stored_in[0])
        json_str(f, st->stored_in);
    else
        fputs("null", f);
    if (st->lag_bytes >= 0)
        fprintf(f, ",\"lag_bytes\":%lld", (long long)st->lag_bytes);
    else
        fputs(",\"lag_bytes\":null", f);
    if (st->lag_seconds >= 0)
        fprintf(f, ",\"lag_seconds\":%.3f", st->lag_seconds);
    else
        fputs(",\"lag_seconds\":null", f);
    if (st->pending_links >= 0)
        fprintf(f, ",\"pending_links\":%lld,\"oldest_pending_seconds\":%.1f",
                (long long)st->pending_links, st->oldest_pending_s);
    else
        fputs(",\"pending_links\":null", f);
    fputs(",\"publication\":", f);
    json_str(f, st->publication);
    fprintf(f, ",\"publication_exists\":%s,\"publication_tables\":[",
            st->publication_exists ? "true" : "false");
    for (int i = 0; i < st->ntables; i++) {
        if (i)
            fputc(',', f);
        json_str(f, st->tables[i]);
    }
    fputs("],\"mappings\":[", f);
    for (int i = 0; i < st->nmappings; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_str(f, st->mappings[i].name);
        fputs(",\"initial_copy\":", f);
        json_str(f, st->mappings[i].copy);
        fprintf(f, ",\"rows_copied\":%lld,\"same_definition\":%s",
                (long long)st->mappings[i].rows,
                st->mappings[i].same_def ? "true" : "false");
        json_num(f, "rows_per_s", st->mappings[i].rate);
        json_num(f, "estimated_rows", st->mappings[i].estimate);
        json_num(f, "eta_s", st->mappings[i].eta_s);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static void print_status_text(const wb_status *st)
{
    char a[WB_LSN_BUFLEN];
    printf("slot:                 %s%s\n", st->slot,
           st->slot_exists ? "" : " (missing)");
    if (st->active_pid)
        printf("active pid:           %d\n", st->active_pid);
    else
        printf("active pid:           (none)\n");
    printf("confirmed_flush_lsn:  %s\n",
           st->confirmed_flush ? wb_lsn_format(st->confirmed_flush, a) : "-");
    printf("restart_lsn:          %s\n",
           st->restart_lsn ? wb_lsn_format(st->restart_lsn, a) : "-");
    printf("wal_status:           %s\n",
           st->wal_status[0] ? st->wal_status : "-");
    if (st->has_safe_wal_size)
        printf("safe_wal_size:        %lld bytes\n",
               (long long)st->safe_wal_size);
    else
        printf("safe_wal_size:        (unlimited)\n");
    printf("current source lsn:   %s\n", wb_lsn_format(st->current_lsn, a));
    printf("stored position:      %s%s%s%s\n",
           st->stored ? wb_lsn_format(st->stored, a) : "(none)",
           st->stored_in[0] ? " (" : "", st->stored_in,
           st->stored_in[0] ? ")" : "");
    if (st->lag_bytes >= 0)
        printf("lag:                  %lld bytes\n", (long long)st->lag_bytes);
    if (st->lag_seconds >= 0)
        printf("lag (flush):          %.3f s\n", st->lag_seconds);
    if (st->pending_links > 0)
        printf("pending key links:    %lld (oldest %.0f s)\n",
               (long long)st->pending_links, st->oldest_pending_s);
    else if (st->pending_links == 0)
        printf("pending key links:    0\n");
    printf("publication:          %s%s\n", st->publication,
           st->publication_exists ? "" : " (missing)");
    for (int i = 0; i < st->ntables; i++)
        printf("  %s\n", st->tables[i]);
    printf("initial copy:\n");
    for (int i = 0; i < st->nmappings; i++) {
        const char *c = st->mappings[i].copy;
        printf("  %-30s %s", st->mappings[i].name, c);
        if (strcmp(c, "copying") == 0 && st->mappings[i].rate >= 0)
            printf(" (%lld rows, %.0f rows/s%s, %s)",
                   (long long)st->mappings[i].rows, st->mappings[i].rate,
                   st->mappings[i].same_def ? "" : ", under another definition",
                   st->mappings[i].updated);
        else if (strcmp(c, "copying") == 0 || strcmp(c, "done") == 0)
            printf(" (%lld rows%s, %s)", (long long)st->mappings[i].rows,
                   st->mappings[i].same_def ? "" : ", under another definition",
                   st->mappings[i].updated);
        if (strcmp(c, "copying") == 0 && st->mappings[i].eta_s >= 0)
            printf(" ETA %.0f s of about %.0f rows", st->mappings[i].eta_s,
                   st->mappings[i].estimate);
        else if (strcmp(c, "never") == 0 && !st->mappings[i].wanted)
            printf(" (initial_copy: false)");
        printf("\n");
    }
}

static int cmd_status(int argc, char **argv)
{
    cli_opts o = {0};
    wb_config *cfg;
    wb_error err;
    wb_status st;

    if (parse_opts(argc, argv, &o, OPT_JSON) != 0)
        return WB_EXIT_USAGE;
    int rc = load_config(&o, &cfg);
    if (rc)
        return exit_code_for(rc);
    wb_error_clear(&err);
    rc = wb_status_collect(cfg, &st, &err);
    wb_config_free(cfg);
    if (rc) {
        wb_log_error(WB_LOG_FATAL, &err);
        return exit_code_for(rc);
    }
    if (o.json)
        print_status_json(&st);
    else
        print_status_text(&st);
    return WB_EXIT_OK;
}

static void print_compare_text(const wb_compare_report *r)
{
    char a[WB_LSN_BUFLEN], b[WB_LSN_BUFLEN];
    for (size_t i = 0; i < r->ntables; i++) {
        const wb_compare_table *t = &r->tables[i];
        printf("mapping %s -> %s.%s: ", t->mapping, t->schema, t->table);
        if (!t->compared) {
            printf("not compared: %s\n", t->note ? t->note : "");
            continue;
        }
        printf("%lld source rows; ", (long long)t->source_rows);
        int64_t pers = 0, fl = 0;
        for (int k = 0; k < WB_COMPARE_NKINDS; k++) {
            pers += t->persistent[k];
            fl += t->in_flight[k];
        }
        if (pers == 0 && fl == 0)
            printf("no differences");
        else
            printf("%lld missing, %lld extra, %lld different%s",
                   (long long)t->persistent[WB_COMPARE_MISSING],
                   (long long)t->persistent[WB_COMPARE_EXTRA],
                   (long long)t->persistent[WB_COMPARE_DIFFERENT],
                   t->extra_counted ? ""
                                    : " (extra not counted: another "
                                      "mapping writes the table)");
        if (fl)
            printf("; in flight: %lld missing, %lld extra, %lld different",
                   (long long)t->in_flight[WB_COMPARE_MISSING],
                   (long long)t->in_flight[WB_COMPARE_EXTRA],
                   (long long)t->in_flight[WB_COMPARE_DIFFERENT]);
        if (t->resolved)
            printf("; %lld applied while comparing", (long long)t->resolved);
        if (t->deleted)
            printf("; %lld extra rows deleted", (long long)t->deleted);
        printf("\n");
        if (t->note)
            printf("  note: %s\n", t->note);
        for (size_t k = 0; k < t->nkeys; k++) {
            const wb_compare_key *e = &t->keys[k];
            printf("  %s%-9s %s%s%s\n", e->in_flight ? "in flight " : "",
                   wb_compare_kind_name(e->kind), e->key,
                   e->columns[0] ? ": " : "", e->columns);
        }
    }
    if (!r->caught_up)
        printf("walbridge %s: its stored position %s is before the source's "
               "%s, so differences could not be confirmed\n",
               r->streaming ? "did not catch up in time"
                            : "does not stream the slot",
               r->stored ? wb_lsn_format(r->stored, a) : "(none)",
               wb_lsn_format(r->source_lsn, b));
}

static void print_compare_json(const wb_compare_report *r)
{
    FILE *f = stdout;
    fputs("{\"source_lsn\":", f);
    json_lsn(f, r->source_lsn);
    fputs(",\"stored_lsn\":", f);
    json_lsn(f, r->stored);
    fprintf(f, ",\"streaming\":%s,\"caught_up\":%s,\"persistent\":%lld",
            r->streaming ? "true" : "false", r->caught_up ? "true" : "false",
            (long long)wb_compare_persistent(r));
    fputs(",\"mappings\":[", f);
    for (size_t i = 0; i < r->ntables; i++) {
        const wb_compare_table *t = &r->tables[i];
        fputs(i ? ",{\"mapping\":" : "{\"mapping\":", f);
        json_str(f, t->mapping);
        fputs(",\"target\":", f);
        char rel[512];
        snprintf(rel, sizeof(rel), "%s.%s", t->schema, t->table);
        json_str(f, rel);
        fprintf(f, ",\"compared\":%s,\"passes\":%d,\"source_rows\":%lld",
                t->compared ? "true" : "false", t->passes,
                (long long)t->source_rows);
        fprintf(f, ",\"extra_counted\":%s,\"projection\":\"%s\"",
                t->extra_counted ? "true" : "false",
                t->in_sql    ? "sql"
                : t->buckets ? "buckets"
                             : "stage");
        for (int pass = 0; pass < 2; pass++) {
            const int64_t *c = pass ? t->in_flight : t->persistent;
            fprintf(f, ",\"%s\":{", pass ? "in_flight" : "persistent");
            for (int k = 0; k < WB_COMPARE_NKINDS; k++)
                fprintf(f, "%s\"%s\":%lld", k ? "," : "",
                        wb_compare_kind_name((wb_compare_kind)k),
                        (long long)c[k]);
            fputs("}", f);
        }
        fprintf(f, ",\"resolved\":%lld,\"deleted\":%lld,\"note\":",
                (long long)t->resolved, (long long)t->deleted);
        if (t->note)
            json_str(f, t->note);
        else
            fputs("null", f);
        fputs(",\"keys\":[", f);
        for (size_t k = 0; k < t->nkeys; k++) {
            const wb_compare_key *e = &t->keys[k];
            fputs(k ? ",{\"kind\":" : "{\"kind\":", f);
            json_str(f, wb_compare_kind_name(e->kind));
            fprintf(f, ",\"in_flight\":%s,\"key\":",
                    e->in_flight ? "true" : "false");
            json_str(f, e->key);
            fputs(",\"columns\":[", f);
            const char *p = e->columns;
            bool first = true;
            while (*p) {
                const char *q = strstr(p, ", ");
                size_t n = q ? (size_t)(q - p) : strlen(p);
                char col[256];
                snprintf(col, sizeof(col), "%.*s", (int)n, p);
                fputs(first ? "" : ",", f);
                json_str(f, col);
                first = false;
                p += n + (q ? 2 : 0);
            }
            fputs("]}", f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
}

/* compare (and resync --dry-run): exit 7 when persistent differences
 * remain. */
static int run_compare(const cli_opts *o)
{
    wb_config *cfg;
    wb_error err;
    wb_compare_report rep;
    wb_compare_opts co = {o->mapping, o->wait ? atoi(o->wait) * 1000 : 30000,
                          10, o->delete_extra};

    int rc = load_config(o, &cfg);
    if (rc)
        return exit_code_for(rc);
    wb_error_clear(&err);
    rc = wb_compare_run(cfg, &co, &rep, &err);
    wb_config_free(cfg);
    if (rc) {
        wb_log_error(WB_LOG_FATAL, &err);
        wb_compare_report_free(&rep);
        return exit_code_for(rc);
    }
    if (o->json)
        print_compare_json(&rep);
    else
        print_compare_text(&rep);
    int64_t n = wb_compare_persistent(&rep);
    wb_compare_report_free(&rep);
    return n ? WB_EXIT_DIFFERENT : WB_EXIT_OK;
}

static int cmd_compare(int argc, char **argv)
{
    cli_opts o = {0};
    if (parse_opts(argc, argv, &o, OPT_COMPARE | OPT_JSON) != 0)
        return WB_EXIT_USAGE;
    return run_compare(&o);
}

/*
 * resync: ask the walbridge that runs on the slot to copy a mapping's
 * source again (resync.h).  The request is the mapping's sync state set
 * to copying from the start, on the target; a non-transactional message
 * wakes the running walbridge, which also finds the request at its next
 * start.  Then, unless --no-wait, follow it until it is done.
 */
static int cmd_resync(int argc, char **argv)
{
    cli_opts o = {0};
    wb_config *cfg;
    wb_error err;
    const wb_config_mapping *m = NULL;
    bool done = false; /* the re-sync finished while we followed it */

    if (parse_opts(argc, argv, &o, OPT_RESYNC | OPT_JSON) != 0)
        return WB_EXIT_USAGE;
    if (!o.mapping) {
        fprintf(stderr, "walbridge: resync needs --mapping NAME\n");
        return WB_EXIT_USAGE;
    }
    if (o.delete_extra && (o.no_wait || o.dry_run)) {
        fprintf(stderr, "walbridge: --delete-extra waits for the re-sync: "
                        "not with --no-wait or --dry-run\n");
        return WB_EXIT_USAGE;
    }
    if (o.dry_run && o.no_wait) {
        fprintf(stderr, "walbridge: --dry-run and --no-wait do not go "
                        "together\n");
        return WB_EXIT_USAGE;
    }
    if (o.json && !o.dry_run && !o.delete_extra) {
        fprintf(stderr, "walbridge: resync takes --json with --dry-run or "
                        "--delete-extra only\n");
        return WB_EXIT_USAGE;
    }
    /* What a re-sync would repair, and nothing else. */
    if (o.dry_run)
        return run_compare(&o);
    int rc = load_config(&o, &cfg);
    if (rc)
        return exit_code_for(rc);
    for (size_t i = 0; i < cfg->nmappings; i++)
        if (strcmp(cfg->mappings[i].name, o.mapping) == 0)
            m = &cfg->mappings[i];
    wb_error_clear(&err);
    if (!m || !m->enabled) {
        wb_error_set(&err, WB_ECONFIG, "no enabled mapping \"%s\" in \"%s\"",
                     o.mapping, o.config);
        wb_log_error(WB_LOG_FATAL, &err);
        wb_config_free(cfg);
        return WB_EXIT_CONFIG;
    }
    const char *tconn = wb_config_target_conninfo(cfg);
    PGconn *src = wb_conn_open(cfg->source.conninfo, false, "walbridge resync",
                               "source", &err);
    PGconn *tgt =
        src ? wb_conn_open(tconn, false, "walbridge resync", "target", &err)
            : NULL;
    wb_strbuf rel = {0}, sql = {0};
    if (!src || !tgt) {
        rc = err.code ? err.code : WB_ECONN;
        goto out;
    }
    /* The source must be readable (as for the initial copy). */
    if ((rc = wb_sync_check_access(cfg, src, &err)) != 0)
        goto out;
    wb_names_rel(&rel, cfg->target.progress_schema, WB_OWN_SYNC_STATE);
    wb_names_create_schema(&sql, cfg->target.progress_schema);
    if (rel.err || sql.err) {
        rc = wb_error_set(&err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wb_conn_expect(tgt, PQexec(tgt, sql.data), PGRES_COMMAND_OK, NULL,
                             "could not create walbridge's schema", &err)) != 0)
        goto out;
    wb_strbuf_reset(&sql);
    wb_syncstate_sql_create(&sql, rel.data);
    if ((rc = wb_conn_expect(tgt, PQexec(tgt, sql.data), PGRES_COMMAND_OK, NULL,
                             "could not create the sync state table", &err)) !=
        0)
        goto out;
    wb_strbuf_reset(&sql);
    wb_syncstate_sql_start(&sql, rel.data);
    const char *p[5] = {cfg->source.slot, m->name, m->digest,
                        wb_sync_kind_name(WB_SYNC_COPYING), NULL};
    if ((rc = wb_conn_expect(
             tgt, PQexecParams(tgt, sql.data, 5, NULL, p, NULL, NULL, 0),
             PGRES_COMMAND_OK, NULL, "could not record the re-sync", &err)) !=
        0)
        goto out;
    const char *w[2] = {WB_RESYNC_WAKE, cfg->source.slot};
    if ((rc = wb_conn_expect(src,
                             PQexecParams(src,
                                          "SELECT pg_catalog.pg_logical_emit_"
                                          "message(false, $1, $2)",
                                          2, NULL, w, NULL, NULL, 0),
                             PGRES_TUPLES_OK, NULL,
                             "could not wake walbridge up", &err)) != 0)
        goto out;
    wb_log(WB_LOG_INFO, "re-sync of mapping \"%s\" requested", m->name);
    if (o.no_wait)
        goto out;
    /* Follow it: the state row, and whether anybody streams the slot; on
     * a terminal a bar (rows against the planner's estimate, rate, ETA),
     * else a line every 10 s. */
    int64_t t0 = wb_clock_ms(), last = 0, idle_since = 0;
    bool tty = isatty(STDERR_FILENO);
    double estimate = wb_status_table_rows(src, &m->from);
    for (;;) {
        wb_sync_rows rows;
        if ((rc = wb_syncstate_read(tgt, cfg, &rows, &err)) != 0)
            goto out;
        const wb_sync_row *r = wb_sync_rows_find(&rows, m->name);
        wb_sync_kind k = r ? r->kind : WB_SYNC_NONE;
        int64_t n = r ? r->rows : 0;
        wb_sync_rows_free(&rows);
        int64_t now = wb_clock_ms();
        if (k == WB_SYNC_DONE) {
            if (tty)
                fputc('\n', stderr);
            wb_log(WB_LOG_INFO,
                   "re-sync of mapping \"%s\" done: %lld rows "
                   "in %.1f s",
                   m->name, (long long)n, (double)(now - t0) / 1000.0);
            done = true;
            break;
        }
        if (k != WB_SYNC_COPYING) {
            rc = wb_error_set(&err, WB_ESTATE,
                              "the re-sync of mapping \"%s\" was replaced "
                              "(its state is now \"%s\")",
                              m->name, wb_sync_kind_name(k));
            goto out;
        }
        const char *sp[1] = {cfg->source.slot};
        PGresult *a = PQexecParams(src,
                                   "SELECT active_pid IS NOT NULL FROM "
                                   "pg_catalog.pg_replication_slots WHERE "
                                   "slot_name = $1",
                                   1, NULL, sp, NULL, NULL, 0);
        bool active = PQresultStatus(a) == PGRES_TUPLES_OK &&
                      PQntuples(a) == 1 && PQgetvalue(a, 0, 0)[0] == 't';
        PQclear(a);
        if (active)
            idle_since = 0;
        else if (!idle_since)
            idle_since = now;
        if (idle_since && now - idle_since > 5000) {
            wb_log(WB_LOG_INFO,
                   "walbridge does not stream slot \"%s\" now: the re-sync "
                   "of mapping \"%s\" starts when it does",
                   cfg->source.slot, m->name);
            break;
        }
        double secs = (double)(now - t0) / 1000.0;
        double rate = secs > 0 ? (double)n / secs : 0.0;
        if (tty) {
            /* One line, redrawn: a bar when the size is known. */
            double share = estimate > 0 ? (double)n / estimate : 0;
            if (share > 1)
                share = 1;
            char bar[31];
            int full = (int)(share * 30);
            for (int b = 0; b < 30; b++)
                bar[b] = b < full ? '#' : '.';
            bar[30] = '\0';
            double left = rate > 0 && estimate > (double)n
                              ? (estimate - (double)n) / rate
                              : 0;
            fprintf(stderr,
                    "\r%s [%s] %3.0f%% %lld of ~%.0f rows, %.0f rows/s, ETA "
                    "%.0f s   ",
                    m->name, estimate > 0 ? bar : "", share * 100, (long long)n,
                    estimate, rate, left);
            fflush(stderr);
        } else if (now - last >= 10000) {
            wb_log(WB_LOG_INFO,
                   "re-syncing mapping \"%s\": %lld rows, %.0f "
                   "rows/s",
                   m->name, (long long)n, rate);
            last = now;
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
out:
    if (rc)
        wb_log_error(WB_LOG_FATAL, &err);
    wb_strbuf_free(&rel);
    wb_strbuf_free(&sql);
    if (src)
        PQfinish(src);
    if (tgt)
        PQfinish(tgt);
    wb_config_free(cfg);
    if (rc == 0 && o.delete_extra) {
        /* Target rows the mapping made and the source no longer has. */
        if (done)
            return run_compare(&o);
        wb_log(WB_LOG_WARNING, "extra rows were not deleted: the re-sync "
                               "did not finish while walbridge resync "
                               "followed it");
        return WB_EXIT_FAILURE;
    }
    return exit_code_for(rc);
}

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
} subcommand;

static const subcommand commands[] = {
    {"run", cmd_run},       {"check", cmd_check},     {"status", cmd_status},
    {"resync", cmd_resync}, {"compare", cmd_compare},
};

int main(int argc, char **argv)
{
    wb_log_set_sink(stderr_sink, NULL);
    if (argc < 2) {
        usage(stderr);
        return WB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("walbridge %s\n", WB_VERSION);
        return WB_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return WB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "walbridge: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return WB_EXIT_USAGE;
}
