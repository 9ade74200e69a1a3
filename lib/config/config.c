/*
 * config/config.c - load the YAML configuration: the entry points, the walk
 * of the top level, and wb_config_free.
 *
 * The loader's parts, in the order a file meets them:
 *
 *   yaml.c        the document, errors at file:line:column, ${VAR}
 *                 substitution, scalars, the keys of a map (config/yaml.h);
 *   names.c       table and column names, as PostgreSQL reads them;
 *   section.c     source, target and log through the settings table
 *                 (settings.c: each key declared once, as nginx's
 *                 ngx_command_t), defaults included;
 *   mapping.c     the mapping compiler ("mappings"), with conflict.c and
 *                 expr_parse.c (value expressions); filter text is parsed
 *                 by filter_parse.c;
 *   reload.c      which settings a reload may not change.
 *
 * Why it is built this way:
 *
 * - Everything of a wb_config, the struct itself included, lives in one
 *   arena; wb_config_free destroys it.  An error path therefore only has to
 *   destroy the arena and the libyaml document, which happens in exactly one
 *   place (config_from_buffer), so no error path can leak.
 * - The first error stops the load; nothing is half-applied, and the
 *   checks that need a server (catalog.c) come later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/load.h"

#define MAX_FILE_SIZE ((size_t)4 * 1024 * 1024)

/* The heap block behind a wb_config: the config first, so that a
 * wb_config * is also a config_block *. */
typedef struct config_block {
    wb_config cfg;
    wb_arena *arena;
} config_block;

/* The value of the row named key among rows (NULL: absent). */
static const yaml_node_t *value_of(const wb_setting *const *rows,
                                   const yaml_node_t *const *v, size_t n,
                                   const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i]->key, key) == 0)
            return v[i];
    return NULL;
}

/* An optional section ("target", "log"): absent or null keeps defaults. */
static int load_optional_section(wb_yaml_loader *ld, const yaml_node_t *v,
                                 const char *section, wb_config *cfg)
{
    bool was_null;
    int rc;

    if (!v)
        return 0;
    rc = wb_yaml_check_map(ld, v, section, true, &was_null);
    if (rc || was_null)
        return rc;
    return wb_settings_load_section(ld, v, section, cfg);
}

/* The top level: its keys, the defaults, then each section in turn. */
static int load_root(wb_yaml_loader *ld, const yaml_node_t *root,
                     wb_config *cfg)
{
    const wb_setting *rows[WB_YAML_MAX_KEYS] = {0};
    const char *keys[WB_YAML_MAX_KEYS] = {0};
    const yaml_node_t *v[WB_YAML_MAX_KEYS], *src;
    size_t n = wb_settings_rows(NULL, rows, keys);
    bool was_null;
    int rc;

    rc = wb_yaml_keys(ld, root, NULL, keys, n, v);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->required && !v[i])
            return wb_yaml_missing(ld, root, NULL, keys[i]);

    rc = wb_settings_defaults(ld, cfg);
    if (rc)
        return rc;

    src = value_of(rows, v, n, "source");
    rc = wb_yaml_check_map(ld, src, "source", false, &was_null);
    if (rc)
        return rc;
    rc = wb_settings_load_section(ld, src, "source", cfg);
    if (rc)
        return rc;
    rc = load_optional_section(ld, value_of(rows, v, n, "target"), "target",
                               cfg);
    if (rc)
        return rc;
    rc = load_optional_section(ld, value_of(rows, v, n, "log"), "log", cfg);
    if (rc)
        return rc;
    rc = wb_mappings_load(ld, value_of(rows, v, n, "mappings"), cfg);
    if (rc)
        return rc;

    /* The one default worked out from another setting. */
    if (!cfg->target.origin) {
        size_t len = strlen("walbridge_") + strlen(cfg->source.slot) + 1;
        cfg->target.origin = wb_arena_alloc(ld->arena, len);
        if (!cfg->target.origin)
            return wb_yaml_nomem(ld);
        snprintf(cfg->target.origin, len, "walbridge_%s", cfg->source.slot);
    }

    /* Same database and same table: every applied change would be decoded
     * and applied again, forever. */
    if (cfg->target.conninfo[0] == '\0' ||
        strcmp(cfg->target.conninfo, cfg->source.conninfo) == 0) {
        for (size_t i = 0; i < cfg->nmappings; i++) {
            const wb_config_mapping *m = &cfg->mappings[i];
            if (strcmp(m->from.schema, m->to.schema) == 0 &&
                strcmp(m->from.table, m->to.table) == 0) {
                wb_yaml_fail_at(ld, m->to.pos.line, m->to.pos.col,
                                "mapping \"%s\" writes to its own source table "
                                "\"%s.%s\"",
                                m->name, m->to.schema, m->to.table);
                wb_error_detail(ld->err, "The target database is the source "
                                         "database.");
                return WB_ECONFIG;
            }
        }
    }
    return 0;
}

/* The loaded configuration from buf: the one place where a failed load's
 * arena and document are freed. */
static int config_from_buffer(const char *buf, size_t len, const char *name,
                              wb_config **out, wb_error *err)
{
    wb_yaml_loader ld = {0};
    yaml_document_t doc;
    bool have_doc = false;
    config_block *blk = NULL;
    const yaml_node_t *root;
    int rc;

    ld.file = name;
    ld.err = err;
    if (len > MAX_FILE_SIZE) {
        rc = wb_yaml_fail_at(&ld, 0, 0,
                             "configuration file \"%s\" is too large", name);
        wb_error_detail(err, "It is %zu bytes; the limit is %zu bytes.", len,
                        MAX_FILE_SIZE);
        return rc;
    }
    ld.arena = wb_arena_create(0, 0);
    if (!ld.arena)
        return wb_yaml_nomem(&ld);

    rc = wb_yaml_parse_document(&ld, buf, len, &doc);
    if (rc)
        goto done;
    have_doc = true;
    ld.doc = &doc;

    root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        rc = wb_yaml_fail_at(&ld, 1, 1, "configuration file is empty");
        wb_error_hint(err, "A configuration needs at least \"source\" and "
                           "\"mappings\"; see walbridge.example.yaml.");
        goto done;
    }
    rc = wb_yaml_check_aliases(&ld);
    if (rc)
        goto done;
    if (root->type != YAML_MAPPING_NODE) {
        rc = wb_yaml_fail_at(&ld, 1, 1, "configuration must be a map");
        wb_error_hint(err, "The top level holds the keys \"source\", "
                           "\"target\", \"mappings\" and \"log\".");
        goto done;
    }

    blk = wb_arena_alloc(ld.arena, sizeof(*blk));
    if (!blk) {
        rc = wb_yaml_nomem(&ld);
        goto done;
    }
    memset(blk, 0, sizeof(*blk));
    blk->arena = ld.arena;
    blk->cfg.path = wb_arena_strdup(ld.arena, name);
    if (!blk->cfg.path) {
        rc = wb_yaml_nomem(&ld);
        goto done;
    }
    rc = load_root(&ld, root, &blk->cfg);

done:
    if (have_doc)
        yaml_document_delete(&doc);
    if (rc) {
        wb_arena_destroy(ld.arena);
        return rc;
    }
    *out = &blk->cfg;
    return 0;
}

/* ------------------------------------------------------------------ */
/* public entry points                                                 */
/* ------------------------------------------------------------------ */

int wb_config_load_buffer(const char *buf, size_t len, const char *name,
                          wb_config **out, wb_error *err)
{
    wb_error_clear(err);
    if (!name)
        name = "<buffer>";
    if (!out || (!buf && len))
        return wb_error_set(err, WB_EINVAL, "invalid argument");
    return config_from_buffer(buf ? buf : "", len, name, out, err);
}

static int io_fail(wb_error *err, const char *what, const char *path, int e)
{
    wb_error_set(err, WB_EIO, "could not %s configuration file \"%s\": %s",
                 what, path, strerror(e));
    wb_error_position(err, path, 0, 0);
    return WB_EIO;
}

int wb_config_load(const char *path, wb_config **out, wb_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap;
    int fd, rc;

    wb_error_clear(err);
    if (!path || !out)
        return wb_error_set(err, WB_EINVAL, "invalid argument");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, "open", path, errno);
    if (fstat(fd, &st) != 0) {
        rc = io_fail(err, "stat", path, errno);
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return io_fail(err, "read", path, EISDIR);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > MAX_FILE_SIZE) {
        close(fd);
        wb_error_set(err, WB_ECONFIG, "configuration file \"%s\" is too large",
                     path);
        wb_error_detail(err, "It is %llu bytes; the limit is %zu bytes.",
                        (unsigned long long)st.st_size, MAX_FILE_SIZE);
        wb_error_position(err, path, 0, 0);
        return WB_ECONFIG;
    }
    /* Read at most one byte past the limit, whatever fstat says (pipes,
     * files that grow). */
    cap = S_ISREG(st.st_mode) && st.st_size > 0 &&
                  (uint64_t)st.st_size <= MAX_FILE_SIZE
              ? (size_t)st.st_size + 1
              : 4096;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    for (;;) {
        ssize_t r;
        if (len == cap) {
            char *nb;
            if (cap > MAX_FILE_SIZE)
                break;
            cap = cap * 2 > MAX_FILE_SIZE + 1 ? MAX_FILE_SIZE + 1 : cap * 2;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                close(fd);
                return wb_error_set(err, WB_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = io_fail(err, "read", path, errno);
            free(buf);
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    rc = config_from_buffer(buf, len, path, out, err);
    free(buf);
    return rc;
}

void wb_config_free(wb_config *cfg)
{
    if (cfg)
        wb_arena_destroy(((config_block *)cfg)->arena);
}

const char *wb_config_target_conninfo(const wb_config *cfg)
{
    return cfg->target.conninfo && *cfg->target.conninfo ? cfg->target.conninfo
                                                         : cfg->source.conninfo;
}
