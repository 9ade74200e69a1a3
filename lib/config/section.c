/*
 * config/section.c - the settings sections (the top level, source, target,
 * log) read through the settings table (config/settings.h).
 *
 * Every key of these sections is a row of wb_settings: its type says how
 * its value is read (get_setting), its default is written in YAML and read
 * by the same rules (apply_default), and the reload check (reload.c) walks
 * the same rows, so the key lists, parsing, defaults and the reload check
 * cannot disagree.  The one structure among them, source.schemas, has its
 * own reader here; "mappings" is read by mapping.c.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/load.h"

#define MAX_ORIGIN_NAME 512 /* PostgreSQL: MAX_RONAME_LEN */

int wb_config_parse_duration_ms(const char *s, uint32_t *out_ms)
{
    uint64_t n = 0, mult;
    const char *p = s;

    if (!s || !out_ms || !is_digit((unsigned char)*p))
        return WB_EINVAL;
    while (is_digit((unsigned char)*p)) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > UINT32_MAX)
            return WB_EINVAL;
        p++;
    }
    if (*p == '\0' || strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        mult = 60 * 60 * 1000;
    else
        return WB_EINVAL;
    if (n * mult > UINT32_MAX)
        return WB_EINVAL;
    *out_ms = (uint32_t)(n * mult);
    return 0;
}

/* PostgreSQL's ReplicationSlotValidateName. */
static int check_slot_name(wb_yaml_loader *ld, const yaml_node_t *v,
                           const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return wb_yaml_fail(ld, v, "replication slot name \"%s\" is too short",
                            s);
    if (n > WB_YAML_MAX_IDENT)
        return wb_yaml_fail(ld, v, "replication slot name \"%s\" is too long",
                            s);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_')) {
            wb_yaml_fail(ld, v, "invalid replication slot name \"%s\"", s);
            wb_error_hint(ld->err, "Replication slot names may only contain "
                                   "lower case letters, numbers, and the "
                                   "underscore character.");
            return WB_ECONFIG;
        }
    }
    return 0;
}

static int get_schemas(wb_yaml_loader *ld, const yaml_node_t *v, wb_config *cfg)
{
    size_t n, k = 0;
    wb_yaml_dup *items;
    const wb_yaml_dup *first, *second;

    if (v->type != YAML_SEQUENCE_NODE)
        return wb_yaml_fail(ld, v, "\"schemas\" must be a list of strings");
    n = seq_len(v);
    if (n == 0) {
        wb_yaml_fail(ld, v, "\"schemas\" must not be empty");
        wb_error_hint(ld->err, "List the schemas whose tables are "
                               "published, for example [public].");
        return WB_ECONFIG;
    }
    cfg->source.schemas = wb_arena_alloc(ld->arena, n * sizeof(char *));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    if (!cfg->source.schemas || !items)
        return wb_yaml_nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc;
        if (e->type != YAML_SCALAR_NODE || is_null(e))
            return wb_yaml_fail(ld, e, "\"schemas\" must be a list of strings");
        rc = wb_yaml_name(ld, e, "schemas", "schema", &cfg->source.schemas[k]);
        if (rc)
            return rc;
        items[k].s = cfg->source.schemas[k];
        items[k].pos = node_pos(e);
        items[k].order = k;
    }
    cfg->source.nschemas = n;
    if (wb_yaml_find_dup(items, n, &first, &second)) {
        wb_yaml_fail_at(ld, second->pos.line, second->pos.col,
                        "duplicate schema \"%s\" in \"schemas\"", second->s);
        wb_error_detail(ld->err, "It was first given at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}

size_t wb_settings_rows(const char *section, const wb_setting **rows,
                        const char **keys)
{
    size_t n = 0;
    for (size_t i = 0; i < wb_nsettings && n < WB_YAML_MAX_KEYS; i++) {
        const wb_setting *s = &wb_settings[i];
        if (section ? s->section && strcmp(s->section, section) == 0
                    : s->section == NULL) {
            rows[n] = s;
            keys[n++] = s->key;
        }
    }
    return n;
}

/* A scalar value's memory in cfg: the field at the row's offset. */
static void *field_of(wb_config *cfg, const wb_setting *s)
{
    return (char *)cfg + s->offset;
}

/* The bounds of a duration as the messages write them: "100ms", "60s". */
static void format_ms(char *buf, size_t size, uint32_t ms)
{
    if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, size, "%" PRIu32 "s", ms / 1000);
    else
        snprintf(buf, size, "%" PRIu32 "ms", ms);
}

static int get_duration(wb_yaml_loader *ld, const yaml_node_t *v,
                        const char *key, uint32_t min_ms, uint32_t max_ms,
                        uint32_t *out)
{
    char *s, lo[16], hi[16];
    uint32_t ms;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return wb_yaml_fail(ld, v, "\"%s\" must be a duration", key);
    rc = wb_yaml_expand(ld, v, key, &s);
    if (rc)
        return rc;
    if (wb_config_parse_duration_ms(s, &ms) != 0) {
        wb_yaml_fail(ld, v, "invalid duration \"%s\" for \"%s\"", s, key);
        wb_error_hint(ld->err, "Use a whole number with a unit (ms, s, m or "
                               "h), for example 250ms, 10s or 2m.");
        return WB_ECONFIG;
    }
    if (ms < min_ms || ms > max_ms) {
        format_ms(lo, sizeof(lo), min_ms);
        format_ms(hi, sizeof(hi), max_ms);
        wb_yaml_fail(ld, v, "\"%s\" must be between %s and %s", key, lo, hi);
        wb_error_detail(ld->err, "The value is \"%s\".", s);
        return WB_ECONFIG;
    }
    *out = ms;
    return 0;
}

/* A count, read with the duration parser's digit rules but no unit. */
static int get_count(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                     uint32_t min, uint32_t max, uint32_t *out)
{
    char *text;
    uint32_t n;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return wb_yaml_fail(ld, v, "\"%s\" must be a number", key);
    rc = wb_yaml_expand(ld, v, key, &text);
    if (rc)
        return rc;
    if (!*text || strspn(text, "0123456789") != strlen(text) ||
        wb_config_parse_duration_ms(text, &n) != 0 || n < min || n > max)
        return wb_yaml_fail(ld, v,
                            "\"%s\" must be a whole number between %" PRIu32
                            " and %" PRIu32,
                            key, min, max);
    *out = n;
    return 0;
}

/* The checks of a string value beyond its type. */
static int check_setting(wb_yaml_loader *ld, const wb_setting *s,
                         const yaml_node_t *v, const char *val)
{
    switch (s->check) {
    case WB_SETTING_CHECK_NONE:
        return 0;
    case WB_SETTING_CHECK_CONNINFO:
        if (val[0] == '\0') {
            wb_yaml_fail(ld, v, "%s conninfo is empty", s->section);
            wb_error_hint(ld->err, "Set it to a libpq connection string or "
                                   "URI, for example \"${WALBRIDGE_SOURCE}\".");
            return WB_ECONFIG;
        }
        return 0;
    case WB_SETTING_CHECK_SLOT:
        return check_slot_name(ld, v, val);
    case WB_SETTING_CHECK_ORIGIN:
        if (val[0] == '\0')
            return wb_yaml_fail(ld, v, "replication origin name is empty");
        if (strlen(val) > MAX_ORIGIN_NAME)
            return wb_yaml_fail(ld, v, "replication origin name is too long");
        return 0;
    }
    return 0;
}

/* An internal error: the table asks for something section.c cannot do. */
static int bad_row(wb_yaml_loader *ld, const wb_setting *s, const char *what)
{
    return wb_error_set(ld->err, WB_EINVAL, "setting \"%s.%s\": %s",
                        s->section ? s->section : "", s->key, what);
}

/* A structure in a section: parsed by hand. */
static int get_structure(wb_yaml_loader *ld, const wb_setting *s,
                         const yaml_node_t *v, wb_config *cfg)
{
    if (s->offset == offsetof(wb_config, source.schemas))
        return get_schemas(ld, v, cfg);
    return bad_row(ld, s, "no parser for this structure");
}

/* The value v of the scalar setting s into cfg. */
static int get_setting(wb_yaml_loader *ld, const wb_setting *s,
                       const yaml_node_t *v, wb_config *cfg)
{
    void *p = field_of(cfg, s);
    char *str = NULL;
    size_t idx;
    int rc, iv;

    switch (s->type) {
    case WB_SETTING_STRING:
        rc = wb_yaml_string(ld, v, s->key, &str);
        break;
    case WB_SETTING_NAME:
        rc = wb_yaml_name(ld, v, s->key, s->what, &str);
        break;
    case WB_SETTING_KEYWORD:
        rc = wb_yaml_enum(ld, v, s->key, s->names, s->nnames, &idx);
        if (rc)
            return rc;
        str = wb_arena_strdup(ld->arena, s->names[idx]);
        if (!str)
            return wb_yaml_nomem(ld);
        break;
    case WB_SETTING_BOOL:
        return wb_yaml_bool(ld, v, s->key, (bool *)p);
    case WB_SETTING_ENUM:
        rc = wb_yaml_enum(ld, v, s->key, s->names, s->nnames, &idx);
        if (rc)
            return rc;
        iv = (int)idx;
        memcpy(p, &iv, sizeof(iv));
        return 0;
    case WB_SETTING_DURATION:
        return get_duration(ld, v, s->key, s->min, s->max, (uint32_t *)p);
    case WB_SETTING_COUNT:
        return get_count(ld, v, s->key, s->min, s->max, (uint32_t *)p);
    case WB_SETTING_STRUCT:
        return get_structure(ld, s, v, cfg);
    default:
        return bad_row(ld, s, "not a value in a section");
    }
    if (rc)
        return rc;
    memcpy(p, &str, sizeof(str));
    return check_setting(ld, s, v, str);
}

/* "[a, b, c]" (a default) into an arena list. */
static int default_list(wb_yaml_loader *ld, const char *text, char ***out,
                        size_t *n)
{
    size_t cap = 1, k = 0;
    const char *p;

    for (p = text; *p; p++)
        cap += *p == ',';
    *out = wb_arena_alloc(ld->arena, cap * sizeof(char *));
    if (!*out)
        return wb_yaml_nomem(ld);
    p = text + (*text == '[');
    while (*p && *p != ']') {
        size_t len;
        while (*p == ' ')
            p++;
        len = strcspn(p, ",]");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        (*out)[k] = wb_arena_strndup(ld->arena, p, len);
        if (!(*out)[k++])
            return wb_yaml_nomem(ld);
        p += strcspn(p, ",]");
        p += *p == ',';
    }
    *n = k;
    return 0;
}

/*
 * The default of s into cfg; a key with no default (required, or worked
 * out in config.c) is left alone.  A default that does not read as its own
 * type is a bug in the table, reported as such.
 */
static int apply_default(wb_yaml_loader *ld, const wb_setting *s,
                         wb_config *cfg)
{
    void *p = field_of(cfg, s);
    char *str;
    uint32_t ms;
    size_t i;
    int iv;

    if (!s->def)
        return 0;
    switch (s->type) {
    case WB_SETTING_STRING:
    case WB_SETTING_NAME:
    case WB_SETTING_KEYWORD:
        str = wb_arena_strdup(ld->arena, s->def);
        if (!str)
            return wb_yaml_nomem(ld);
        memcpy(p, &str, sizeof(str));
        return 0;
    case WB_SETTING_BOOL:
        if (strcmp(s->def, "true") != 0 && strcmp(s->def, "false") != 0)
            break;
        *(bool *)p = strcmp(s->def, "true") == 0;
        return 0;
    case WB_SETTING_ENUM:
        for (i = 0; i < s->nnames; i++)
            if (strcmp(s->def, s->names[i]) == 0)
                break;
        if (i == s->nnames)
            break;
        iv = (int)i;
        memcpy(p, &iv, sizeof(iv));
        return 0;
    case WB_SETTING_DURATION:
    case WB_SETTING_COUNT:
        if (wb_config_parse_duration_ms(s->def, &ms) != 0 || ms < s->min ||
            ms > s->max ||
            (s->type == WB_SETTING_COUNT &&
             strspn(s->def, "0123456789") != strlen(s->def)))
            break;
        *(uint32_t *)p = ms;
        return 0;
    case WB_SETTING_STRUCT:
        if (s->offset == offsetof(wb_config, source.schemas))
            return default_list(ld, s->def, &cfg->source.schemas,
                                &cfg->source.nschemas);
        break;
    case WB_SETTING_SECTION:
        break;
    }
    return bad_row(ld, s, "invalid default");
}

int wb_settings_load_section(wb_yaml_loader *ld, const yaml_node_t *map,
                             const char *section, wb_config *cfg)
{
    const wb_setting *rows[WB_YAML_MAX_KEYS] = {0};
    const char *keys[WB_YAML_MAX_KEYS] = {0};
    const yaml_node_t *v[WB_YAML_MAX_KEYS];
    size_t n = wb_settings_rows(section, rows, keys);
    char ctx[64];
    int rc;

    snprintf(ctx, sizeof(ctx), "\"%s\"", section);
    rc = wb_yaml_keys(ld, map, ctx, keys, n, v);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->required && !v[i])
            return wb_yaml_missing(ld, map, ctx, keys[i]);
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            continue;
        rc = get_setting(ld, rows[i], v[i], cfg);
        if (rc)
            return rc;
    }
    return 0;
}

int wb_settings_defaults(wb_yaml_loader *ld, wb_config *cfg)
{
    for (size_t i = 0; i < wb_nsettings; i++) {
        int rc = apply_default(ld, &wb_settings[i], cfg);
        if (rc)
            return rc;
    }
    return 0;
}
