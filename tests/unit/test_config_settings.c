/*
 * test_config_settings.c - the settings table (lib/config/settings.c) held
 * against what is documented and against what the loader does.
 *
 * - Every row's key is in schemas/walbridge.schema.json with the same
 *   default (or none in either) and the same required flag, and every key of
 *   the schema's top level and of its source, target and log sections is a
 *   row: table, schema and loader describe the same keys.
 * - A default applied from the table is what the loader makes of the same
 *   text written in the file.
 * - The README's reload rule: a change to any key of source or target is
 *   refused and named by wb_config_restart_key, with the names it has always
 *   given; a change to log is not.
 *
 * The schema is JSON, read here with libyaml (JSON is YAML's flow style).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/settings.h"
#include "config/config.h"
#include "wbtest.h"

#define NAME "config.yaml"
#define MAPS                                                                   \
    "mappings:\n"                                                              \
    "  - name: m\n"                                                            \
    "    from: a.b\n"                                                          \
    "    to: c.d\n"                                                            \
    "    key: {id: id}\n"

/* ------------------------------------------------------------------ */
/* the JSON schema                                                     */
/* ------------------------------------------------------------------ */

static yaml_document_t schema;
static bool have_schema;

static void schema_path(char *path, size_t size, const char *rel)
{
    static const char suffix[] = "tests/unit/test_config_settings.c";
    const char *here = __FILE__;
    size_t n = strlen(here), sl = strlen(suffix);

    if (n >= sl && strcmp(here + n - sl, suffix) == 0)
        snprintf(path, size, "%.*s%s", (int)(n - sl), here, rel);
    else
        snprintf(path, size, "%s", rel);
}

static bool load_schema(void)
{
    char path[4096];
    yaml_parser_t p;
    FILE *f;
    bool ok;

    schema_path(path, sizeof(path), "schemas/walbridge.schema.json");
    f = fopen(path, "rb");
    if (!f) {
        printf("  cannot open %s\n", path);
        return false;
    }
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    ok = yaml_parser_load(&p, &schema) == 1 &&
         yaml_document_get_root_node(&schema) != NULL;
    yaml_parser_delete(&p);
    fclose(f);
    return ok;
}

static yaml_node_t *get(yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&schema, p->key);
        if (k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&schema, p->value);
    }
    return NULL;
}

/* The "properties" of the top level (section NULL) or of a section. */
static yaml_node_t *properties(const char *section)
{
    yaml_node_t *top = get(yaml_document_get_root_node(&schema), "properties");
    return section ? get(get(top, section), "properties") : top;
}

/* Is key in the "required" list of the top level or of section? */
static bool schema_requires(const char *section, const char *key)
{
    yaml_node_t *obj = yaml_document_get_root_node(&schema);
    yaml_node_t *req;

    if (section)
        obj = get(properties(NULL), section);
    req = get(obj, "required");
    if (!req || req->type != YAML_SEQUENCE_NODE)
        return false;
    for (yaml_node_item_t *it = req->data.sequence.items.start;
         it < req->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(&schema, *it);
        if (strcmp((const char *)e->data.scalar.value, key) == 0)
            return true;
    }
    return false;
}

/*
 * A schema default as the table writes it: a JSON string as its text, a
 * number or boolean as its literal, a list of strings as "[a, b]".  *plain
 * says whether it was a JSON number or boolean rather than a string.
 */
static bool default_text(yaml_node_t *d, char *buf, size_t size, bool *plain)
{
    size_t used = 0;

    *plain = false;
    if (d->type == YAML_SCALAR_NODE) {
        *plain = d->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        snprintf(buf, size, "%s", (const char *)d->data.scalar.value);
        return true;
    }
    if (d->type != YAML_SEQUENCE_NODE)
        return false;
    used += (size_t)snprintf(buf, size, "[");
    for (yaml_node_item_t *it = d->data.sequence.items.start;
         it < d->data.sequence.items.top && used < size; it++) {
        yaml_node_t *e = yaml_document_get_node(&schema, *it);
        used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                 it == d->data.sequence.items.start ? "" : ", ",
                                 (const char *)e->data.scalar.value);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return true;
}

static const char *where(const wb_setting *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", s->section ? s->section : "",
             s->section ? "." : "", s->key);
    return buf;
}

/* Every row is in the schema, with its default and required flag. */
static void test_rows_in_schema(void)
{
    WB_CHECK(have_schema);
    if (!have_schema)
        return;
    for (size_t i = 0; i < wb_nsettings; i++) {
        const wb_setting *s = &wb_settings[i];
        yaml_node_t *prop = get(properties(s->section), s->key), *d;
        char at[64], text[256];
        bool plain;

        where(s, at, sizeof(at));
        if (!prop) {
            WBTEST_FAIL_("%s: not in the JSON schema", at);
            continue;
        }
        if (s->required != schema_requires(s->section, s->key))
            WBTEST_FAIL_("%s: required %d in the table, %d in the schema", at,
                         s->required, !s->required);
        d = get(prop, "default");
        if (!s->def || !d) {
            if (s->def || d)
                WBTEST_FAIL_("%s: default %s in the table, %s in the schema",
                             at, s->def ? s->def : "(none)",
                             d ? "given" : "(none)");
            continue;
        }
        if (!default_text(d, text, sizeof(text), &plain)) {
            WBTEST_FAIL_("%s: the schema's default is not a value", at);
            continue;
        }
        if (strcmp(text, s->def) != 0)
            WBTEST_FAIL_("%s: default \"%s\" in the table, \"%s\" in the "
                         "schema",
                         at, s->def, text);
        /* A count or boolean is a JSON number or boolean, the rest strings
         * (or a list). */
        if (plain !=
            (s->type == WB_SETTING_BOOL || s->type == WB_SETTING_COUNT))
            WBTEST_FAIL_("%s: the schema's default \"%s\" has the wrong JSON "
                         "type",
                         at, text);
    }
}

/* Every key of the schema's top level, source, target and log is a row. */
static void test_schema_keys_in_table(void)
{
    static const char *const sections[] = {NULL, "source", "target", "log"};
    size_t seen = 0;

    WB_CHECK(have_schema);
    if (!have_schema)
        return;
    for (size_t i = 0; i < 4; i++) {
        yaml_node_t *props = properties(sections[i]);
        WB_CHECK(props != NULL && props->type == YAML_MAPPING_NODE);
        if (!props || props->type != YAML_MAPPING_NODE)
            continue;
        for (yaml_node_pair_t *p = props->data.mapping.pairs.start;
             p < props->data.mapping.pairs.top; p++) {
            const char *key =
                (const char *)yaml_document_get_node(&schema, p->key)
                    ->data.scalar.value;
            seen++;
            if (!wb_setting_find(sections[i], key))
                WBTEST_FAIL_("%s%s%s: in the JSON schema, not in the table",
                             sections[i] ? sections[i] : "",
                             sections[i] ? "." : "", key);
        }
    }
    /* Both directions together: the same number of keys. */
    WB_CHECK_INT_EQ(seen, wb_nsettings);
}

/* ------------------------------------------------------------------ */
/* the rows themselves                                                 */
/* ------------------------------------------------------------------ */

static size_t type_size(wb_setting_type t)
{
    switch (t) {
    case WB_SETTING_STRING:
    case WB_SETTING_NAME:
    case WB_SETTING_KEYWORD:
        return sizeof(char *);
    case WB_SETTING_BOOL:
        return sizeof(bool);
    case WB_SETTING_ENUM:
        return sizeof(int);
    case WB_SETTING_DURATION:
    case WB_SETTING_COUNT:
        return sizeof(uint32_t);
    default:
        return 0;
    }
}

/* Each scalar row points at a field of its type, named after its section. */
static void test_rows_well_formed(void)
{
    for (size_t i = 0; i < wb_nsettings; i++) {
        const wb_setting *s = &wb_settings[i];
        char at[64];

        where(s, at, sizeof(at));
        WB_CHECK(s->doc != NULL && s->doc[0] != '\0');
        if (s->type == WB_SETTING_SECTION || !s->section)
            continue;
        if (s->type != WB_SETTING_STRUCT && s->size != type_size(s->type))
            WBTEST_FAIL_("%s: field of %zu bytes for a type of %zu", at,
                         s->size, type_size(s->type));
        if (!s->name || strncmp(s->name, s->section, strlen(s->section)) ||
            s->name[strlen(s->section)] != '.')
            WBTEST_FAIL_("%s: reload name \"%s\" not in its section", at,
                         s->name ? s->name : "(null)");
        if ((s->type == WB_SETTING_ENUM || s->type == WB_SETTING_KEYWORD) &&
            (!s->names || s->nnames == 0))
            WBTEST_FAIL_("%s: an enum without names", at);
        if (s->type == WB_SETTING_NAME && !s->what)
            WBTEST_FAIL_("%s: a name without \"what\"", at);
        if (wb_setting_find(s->section, s->key) != s)
            WBTEST_FAIL_("%s: given twice", at);
    }
    WB_CHECK(wb_setting_find("source", "no_such_key") == NULL);
}

/* ------------------------------------------------------------------ */
/* defaults and reload, through the loader                             */
/* ------------------------------------------------------------------ */

/* A valid file in which s (NULL: nothing) is set to value. */
static void yaml_with(char *buf, size_t size, const wb_setting *s,
                      const char *value)
{
    static const char *const sections[] = {"source", "target", "log"};
    size_t used = 0;
    char line[256];

    if (value && value[0] == '\0')
        value = "\"\"";
    for (size_t i = 0; i < 3; i++) {
        bool mine = s && s->section && strcmp(s->section, sections[i]) == 0;
        if (i == 0 || mine)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s:\n", sections[i]);
        if (i == 0 && !(mine && strcmp(s->key, "conninfo") == 0))
            used += (size_t)snprintf(buf + used, size - used,
                                     "  conninfo: host=src\n");
        if (mine) {
            snprintf(line, sizeof(line), "  %s: %s\n", s->key, value);
            used += (size_t)snprintf(buf + used, size - used, "%s", line);
        }
    }
    snprintf(buf + used, size - used, "%s", MAPS);
}

static wb_config *load(const char *yaml)
{
    wb_config *c = NULL;
    wb_error err;
    if (wb_config_load_buffer(yaml, strlen(yaml), NAME, &c, &err) != 0) {
        printf("  load failed: %s:%d:%d: %s\n%s", err.file, err.line, err.col,
               err.message, yaml);
        return NULL;
    }
    return c;
}

static bool same_value(const wb_setting *s, const wb_config *a,
                       const wb_config *b)
{
    const char *pa = (const char *)a + s->offset;
    const char *pb = (const char *)b + s->offset;

    if (s->type == WB_SETTING_STRING || s->type == WB_SETTING_NAME ||
        s->type == WB_SETTING_KEYWORD) {
        const char *x, *y;
        memcpy(&x, pa, sizeof(x));
        memcpy(&y, pb, sizeof(y));
        return x && y ? strcmp(x, y) == 0 : x == y;
    }
    if (s->type == WB_SETTING_STRUCT) {
        if (a->source.nschemas != b->source.nschemas)
            return false;
        for (size_t i = 0; i < a->source.nschemas; i++)
            if (strcmp(a->source.schemas[i], b->source.schemas[i]) != 0)
                return false;
        return true;
    }
    return memcmp(pa, pb, s->size) == 0;
}

/* Leaving a key out gives what writing its default gives. */
static void test_defaults_as_written(void)
{
    char yaml[1024], at[64];
    wb_config *base;

    yaml_with(yaml, sizeof(yaml), NULL, NULL);
    base = load(yaml);
    WB_CHECK(base != NULL);
    if (!base)
        return;
    for (size_t i = 0; i < wb_nsettings; i++) {
        const wb_setting *s = &wb_settings[i];
        wb_config *c;

        if (!s->section || !s->def)
            continue;
        where(s, at, sizeof(at));
        yaml_with(yaml, sizeof(yaml), s, s->def);
        c = load(yaml);
        if (!c) {
            WBTEST_FAIL_("%s: its default \"%s\" does not load", at, s->def);
            continue;
        }
        if (!same_value(s, base, c))
            WBTEST_FAIL_("%s: absent differs from \"%s\"", at, s->def);
        WB_CHECK(wb_config_restart_key(base, c) == NULL);
        wb_config_free(c);
    }
    /* No default in the table: absent means NULL, or (origin) a name made
     * from the slot. */
    WB_CHECK(base->source.spool_dir == NULL);
    WB_CHECK_STR_EQ(base->target.origin, "walbridge_walbridge");
    wb_config_free(base);
}

/* A valid value of s other than its default. */
static void other_value(const wb_setting *s, char *buf, size_t size)
{
    uint32_t d = 0;

    switch (s->type) {
    case WB_SETTING_BOOL:
        snprintf(buf, size, "%s",
                 s->def && strcmp(s->def, "true") == 0 ? "false" : "true");
        break;
    case WB_SETTING_DURATION:
    case WB_SETTING_COUNT:
        if (s->def)
            (void)wb_config_parse_duration_ms(s->def, &d);
        snprintf(buf, size, "%" PRIu32, d == s->min ? s->max : s->min);
        break;
    case WB_SETTING_ENUM:
    case WB_SETTING_KEYWORD:
        snprintf(buf, size, "%s",
                 s->def && strcmp(s->names[0], s->def) == 0 ? s->names[1]
                                                            : s->names[0]);
        break;
    case WB_SETTING_STRUCT:
        snprintf(buf, size, "[other_value]");
        break;
    default:
        snprintf(buf, size, "other_value");
        break;
    }
}

/*
 * The names a refused reload gives: the log line says "\"%s\" changed", so
 * they are part of what walbridge prints.
 */
static const char *const restart_names[][2] = {
    {"source.conninfo", "source.conninfo"},
    {"source.slot", "source.slot"},
    {"source.publication", "source.publication"},
    {"source.schemas", "source.schemas"},
    {"source.create_publication", "source.create_publication"},
    {"source.create_slot", "source.create_slot"},
    {"source.status_interval", "source.status_interval_ms"},
    {"source.streaming", "source.streaming"},
    {"source.binary", "source.binary"},
    {"source.spool_dir", "source.spool_dir"},
    {"target.conninfo", "target.conninfo"},
    {"target.progress", "target.progress"},
    {"target.origin", "target.origin"},
    {"target.progress_schema", "target.progress_schema"},
    {"target.progress_table", "target.progress_table"},
    {"target.batch_max_txns", "target.batch_max_txns"},
    {"target.batch_latency", "target.batch_latency_ms"},
    {"target.synchronous_commit", "target.synchronous_commit"},
    {"target.set_based", "target.set_based"},
    {"target.copy_min_rows", "target.copy_min_rows"},
};

static const char *expected_name(const char *at)
{
    for (size_t i = 0; i < sizeof(restart_names) / sizeof(restart_names[0]);
         i++)
        if (strcmp(restart_names[i][0], at) == 0)
            return restart_names[i][1];
    return NULL;
}

/* Changing one key: refused, by that key's name, exactly for source and
 * target (README: anything outside mappings and log needs a restart). */
static void test_reload_each_key(void)
{
    char yaml[1024], value[64], at[64];
    wb_config *base;
    size_t restart_rows = 0;

    yaml_with(yaml, sizeof(yaml), NULL, NULL);
    base = load(yaml);
    WB_CHECK(base != NULL);
    if (!base)
        return;
    for (size_t i = 0; i < wb_nsettings; i++) {
        const wb_setting *s = &wb_settings[i];
        bool needs_restart;
        wb_config *c;
        const char *got;

        if (!s->section)
            continue;
        where(s, at, sizeof(at));
        needs_restart = strcmp(s->section, "source") == 0 ||
                        strcmp(s->section, "target") == 0;
        if (s->restart != needs_restart)
            WBTEST_FAIL_("%s: restart %d, the README says %d", at, s->restart,
                         needs_restart);
        other_value(s, value, sizeof(value));
        yaml_with(yaml, sizeof(yaml), s, value);
        c = load(yaml);
        if (!c) {
            WBTEST_FAIL_("%s: \"%s\" does not load", at, value);
            continue;
        }
        WB_CHECK(!same_value(s, base, c));
        got = wb_config_restart_key(base, c);
        if (needs_restart) {
            restart_rows++;
            WB_CHECK_STR_EQ(got, expected_name(at));
            WB_CHECK_STR_EQ(wb_config_restart_key(c, base), expected_name(at));
        } else {
            WB_CHECK_STR_EQ(got, NULL);
        }
        wb_config_free(c);
    }
    WB_CHECK_INT_EQ(restart_rows,
                    sizeof(restart_names) / sizeof(restart_names[0]));
    wb_config_free(base);
}

/* Several changes: the first in the order before the table (a section's
 * scalars, then its lists; source before target) is named. */
static void test_reload_order(void)
{
    wb_config *a = load("source:\n  conninfo: host=src\n" MAPS);
    wb_config *b = load("source:\n  conninfo: host=src\n"
                        "  schemas: [x]\n  streaming: true\n"
                        "target:\n  set_based: false\n" MAPS);
    wb_config *c = load("source:\n  conninfo: host=src\n"
                        "  schemas: [x]\n"
                        "target:\n  set_based: false\n" MAPS);
    wb_config *d = load("source:\n  conninfo: host=src\n"
                        "target:\n  set_based: false\n"
                        "log:\n  level: debug\n" MAPS);

    WB_CHECK(a && b && c && d);
    if (a && b && c && d) {
        WB_CHECK_STR_EQ(wb_config_restart_key(a, b), "source.streaming");
        WB_CHECK_STR_EQ(wb_config_restart_key(a, c), "source.schemas");
        WB_CHECK_STR_EQ(wb_config_restart_key(a, d), "target.set_based");
        WB_CHECK_STR_EQ(wb_config_restart_key(a, a), NULL);
    }
    wb_config_free(a);
    wb_config_free(b);
    wb_config_free(c);
    wb_config_free(d);
}

int main(void)
{
    have_schema = load_schema();
    WB_RUN(test_rows_in_schema);
    WB_RUN(test_schema_keys_in_table);
    WB_RUN(test_rows_well_formed);
    WB_RUN(test_defaults_as_written);
    WB_RUN(test_reload_each_key);
    WB_RUN(test_reload_order);
    if (have_schema)
        yaml_document_delete(&schema);
    return wbtest_summary();
}
