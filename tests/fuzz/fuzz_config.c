/*
 * fuzz_config.c - libFuzzer target for the YAML configuration loader
 * (lib/config/config.c, on libyaml).
 *
 * The input is the file content: wb_config_load_buffer must either return a
 * configuration in which every documented guarantee holds (required strings
 * set, defaults filled in, counts >= 1, enums and ranges respected), whose
 * every string is readable, and which wb_config_free releases completely
 * (LeakSanitizer checks), or fail with a code, a non-empty message and a
 * sane position.  A few environment variables are set up front so that the
 * ${VAR} / ${VAR:-default} substitution has something to substitute (see
 * LLVMFuzzerInitialize; tests/fuzz/config.dict names them).
 *
 * The same bytes also go through wb_config_parse_duration_ms as a C string.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "common/error.h"
#include "map/router.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.yaml"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_config: invariant failed: %s (%s:%d)\n",     \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static volatile size_t sink;

/* A string the configuration promises to be set: read it all. */
static void touch_str(const char *s)
{
    CHECK(s != NULL);
    sink += strlen(s);
}

static void touch_table(const wb_config_table *t)
{
    touch_str(t->schema);
    touch_str(t->table);
    CHECK(t->table[0] != '\0');
    CHECK(t->pos.line >= 1 && t->pos.col >= 1);
}

static void touch_colmap(const wb_config_colmap *c, size_t n)
{
    if (n)
        CHECK(c != NULL);
    for (size_t i = 0; i < n; i++) {
        touch_str(c[i].from);
        touch_str(c[i].to);
        CHECK(c[i].pos.line >= 1 && c[i].pos.col >= 1);
    }
}

static void check_config(const wb_config *cfg)
{
    CHECK(cfg->path != NULL && strcmp(cfg->path, NAME) == 0);

    touch_str(cfg->source.conninfo);
    CHECK(cfg->source.conninfo[0] != '\0');
    touch_str(cfg->source.slot);
    touch_str(cfg->source.publication);
    CHECK(cfg->source.nschemas >= 1 && cfg->source.schemas != NULL);
    for (size_t i = 0; i < cfg->source.nschemas; i++)
        touch_str(cfg->source.schemas[i]);
    CHECK(cfg->source.status_interval_ms >= 100 &&
          cfg->source.status_interval_ms <= 60000);
    sink += cfg->source.create_publication + cfg->source.create_slot +
            cfg->source.streaming;
    if (cfg->source.spool_dir) /* optional: NULL means $TMPDIR or /tmp */
        touch_str(cfg->source.spool_dir);

    touch_str(cfg->target.conninfo);
    CHECK(cfg->target.progress == WB_PROGRESS_AUTO ||
          cfg->target.progress == WB_PROGRESS_ORIGIN ||
          cfg->target.progress == WB_PROGRESS_TABLE);
    touch_str(cfg->target.origin);
    CHECK(cfg->target.origin[0] != '\0');
    touch_str(cfg->target.progress_schema);
    touch_str(cfg->target.progress_table);

    CHECK(cfg->nmappings >= 1 && cfg->mappings != NULL);
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        touch_str(m->name);
        CHECK(m->name[0] != '\0');
        sink += m->enabled;
        touch_table(&m->from);
        touch_table(&m->to);
        CHECK(m->nto >= 1 && m->tos != NULL);
        CHECK(m->plugin.path || m->nkeys >= 1);
        touch_colmap(m->keys, m->nkeys);
        touch_colmap(m->columns, m->ncolumns);
        CHECK(m->on_delete.action == WB_ON_DELETE_DELETE ||
              m->on_delete.action == WB_ON_DELETE_IGNORE ||
              m->on_delete.action == WB_ON_DELETE_SOFT);
        for (size_t r = 0; r < m->nrefs; r++)
            touch_str(m->refs[r]);
        CHECK(m->on_truncate == WB_ON_TRUNCATE_IGNORE ||
              m->on_truncate == WB_ON_TRUNCATE_TRUNCATE);
        CHECK(m->pos.line >= 1 && m->pos.col >= 1);
    }

    touch_str(cfg->log.level);
    CHECK(strcmp(cfg->log.level, "debug") == 0 ||
          strcmp(cfg->log.level, "info") == 0 ||
          strcmp(cfg->log.level, "warning") == 0 ||
          strcmp(cfg->log.level, "error") == 0);
}

/*
 * Route an insert, an update and a delete through every mapping the file
 * declares (built-in ones only: a plugin path would dlopen arbitrary
 * files), on a relation that has every column the mappings read, so the
 * parsed expressions and filters are evaluated too.  Values cycle through
 * a number, text, NULL and an unchanged TOAST value.
 */
static void route_all(const wb_config *cfg)
{
    static const char *const texts[] = {"42", "x y", "t", "-1.5e3"};
    for (size_t i = 0; i < cfg->nmappings; i++)
        if (cfg->mappings[i].plugin.path)
            return;
    wb_router *r = wb_router_create(cfg, NULL);
    wb_arena *a = wb_arena_create(0, 1 << 20);
    if (!r || !a)
        goto out;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        size_t n = m->nkeys + m->ncolumns + m->nrefs, k = 0;
        wb_pgoutput_column atts[64];
        wb_tuple_value vals[64], olds[64];
        if (n > 64)
            continue;
        for (size_t j = 0; j < m->nkeys; j++, k++)
            atts[k] = (wb_pgoutput_column){WB_PGO_COLUMN_KEY, m->keys[j].from,
                                           23, -1};
        for (size_t j = 0; j < m->ncolumns; j++, k++)
            atts[k] = (wb_pgoutput_column){0, m->columns[j].from, 25, -1};
        for (size_t j = 0; j < m->nrefs; j++, k++)
            atts[k] =
                (wb_pgoutput_column){0, m->refs[j], j % 2 ? 25 : 1700, -1};
        for (size_t j = 0; j < n; j++) {
            const char *t = texts[(j + i) % 4];
            vals[j] = (wb_tuple_value){WB_TUPLE_TEXT, (uint32_t)strlen(t), t};
            if ((j + i) % 5 == 3)
                vals[j] = (wb_tuple_value){WB_TUPLE_NULL, 0, NULL};
            if ((j + i) % 7 == 5 && !(atts[j].flags & WB_PGO_COLUMN_KEY))
                vals[j] = (wb_tuple_value){WB_TUPLE_UNCHANGED, 0, NULL};
            olds[j] = vals[j];
        }
        wb_pgoutput_relation rel = {1,   m->from.schema, m->from.table,
                                    'd', (uint16_t)n,    atts};
        wb_tuple nt = {(uint16_t)n, vals}, ot = {(uint16_t)n, olds};
        static const wb_change_kind kinds[] = {
            WB_CHANGE_INSERT, WB_CHANGE_UPDATE, WB_CHANGE_DELETE,
            WB_CHANGE_TRUNCATE};
        for (int kk = 0; kk < 4; kk++) {
            wb_change c = {kinds[kk],
                           &rel,
                           kk == 2 ? 'K' : 0,
                           kk == 2 ? &ot : NULL,
                           kk < 2 ? &nt : NULL,
                           0x10,
                           0,
                           0,
                           i + 1,
                           NULL,
                           0,
                           false};
            wb_target_op *ops;
            size_t nops;
            wb_error err;
            wb_error_clear(&err);
            int rc = wb_router_route(r, &c, a, &ops, &nops, &err);
            CHECK(rc == 0 || rc == WB_EDATA || rc == WB_ENOMEM);
            if (rc == 0)
                for (size_t o = 0; o < nops; o++) {
                    touch_str(ops[o].schema);
                    for (size_t q = 0; q < ops[o].nset; q++)
                        if (ops[o].set[q].value)
                            touch_str(ops[o].set[q].value);
                }
            wb_arena_reset(a);
        }
    }
out:
    wb_router_destroy(r);
    wb_arena_destroy(a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Set: substituted.  Empty: ${VAR:-default} takes the default.  Unset:
     * ${VAR} is an error. */
    setenv("WALBRIDGE_SOURCE", "host=/tmp dbname=src user=walbridge", 1);
    setenv("WALBRIDGE_TARGET", "postgresql://u@h/tgt", 1);
    setenv("WB_FUZZ_EMPTY", "", 1);
    setenv("WB_FUZZ_DOLLAR", "$${WB_FUZZ_EMPTY}:-x}", 1);
    setenv("WB_FUZZ_NAME", "Portal.\"Users\"", 1);
    unsetenv("WB_FUZZ_UNSET");
    /* 64 KiB: a few hundred references reach the 16 MiB bound on values
     * after substitution. */
    {
        static char big[64 * 1024 + 1];
        memset(big, 'x', sizeof(big) - 1);
        setenv("WB_FUZZ_BIG", big, 1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_config *cfg = NULL;
    wb_error err;
    int rc;

    /* Garbage in, so the checks below see only what the loader wrote. */
    memset(&err, 0x5A, sizeof(err));
    rc = wb_config_load_buffer((const char *)data, size, NAME, &cfg, &err);
    if (rc == 0) {
        CHECK(cfg != NULL);
        check_config(cfg);
        route_all(cfg);
        wb_config_free(cfg);
    } else {
        CHECK(cfg == NULL);
        CHECK(rc == WB_ECONFIG || rc == WB_ENOMEM);
        CHECK(err.code == rc);
        CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
        CHECK(err.message[0] != '\0');
        CHECK(memchr(err.detail, '\0', sizeof(err.detail)) != NULL);
        CHECK(memchr(err.hint, '\0', sizeof(err.hint)) != NULL);
        CHECK(err.line >= 0 && err.col >= 0);
        if (rc == WB_ECONFIG)
            CHECK(strcmp(err.file, NAME) == 0);
    }

    /* Durations: the same bytes as a C string (short ones only). */
    if (size <= 64) {
        char s[65];
        uint32_t ms;
        memcpy(s, data, size);
        s[size] = '\0';
        if (wb_config_parse_duration_ms(s, &ms) == 0)
            sink += ms;
    }
    return 0;
}
