/*
 * config/config.c - load and validate the YAML configuration.
 *
 * Why it is built this way:
 *
 * - libyaml's document API (yaml_parser_load) gives a tree in which every
 *   node carries its start mark, so every error can name file:line:column of
 *   the offending key or value.  Validation is a plain walk over that tree,
 *   driven by a table of known keys per section: first the keys of a map are
 *   checked (strings, known, not repeated), then the values are interpreted.
 *   The first error stops the load; nothing is half-applied.
 * - The keys of the top level and of source, target and log are rows of the
 *   settings table (config_settings.c): each declared once with its type,
 *   default, place in wb_config and whether a reload may change it, so that
 *   the key lists, the parsing of scalar values, the defaults and the reload
 *   check cannot disagree.  Structures (schemas, mappings) are parsed by
 *   hand; so are the keys of a mapping, which are not settings.
 * - Everything of a wb_config, the struct itself included, lives in one
 *   arena; wb_config_free destroys it.  An error path therefore only has to
 *   destroy the arena and the libyaml document, which happens in exactly one
 *   place (config_from_buffer), so no error path can leak.
 * - Anchors and aliases are rejected: with the document API an alias is a
 *   second reference to the same node (even a cycle), which the walk would
 *   otherwise have to guard against, and a configuration file gains nothing
 *   from them.  They are detected by counting references to each node.
 * - ${VAR} / ${VAR:-default} substitution runs on scalar values (never on
 *   keys) before they are interpreted, in two passes (measure, then write
 *   into the arena) so that it needs no temporary buffer.  A lone "$" not
 *   followed by "{" or "$" is kept as it is.  A default is taken literally up
 *   to the first "}".
 * - Names: table names ("schema.table") follow PostgreSQL's identifier rules:
 *   unquoted parts are folded to lower case, double-quoted parts keep case,
 *   dots and spaces ("" is a quote).  Column, schema, publication and
 *   progress table names are taken literally as written (no case folding),
 *   as they appear in the catalog; one that starts with a double quote is
 *   read as a quoted identifier.
 * - Messages follow PostgreSQL's style: short, lower case, names quoted, no
 *   trailing period; hints and details are full sentences.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "common/arena.h"
#include "config/config.h"
#include "walbridge/plugin.h"

#include "config/settings.h"
#include "map/expr_ast.h"
#include "map/expr.h"

#define MAX_FILE_SIZE ((size_t)4 * 1024 * 1024)
/* All scalar values together, after substitution. */
#define MAX_EXPANDED    ((size_t)16 * 1024 * 1024)
#define MAX_IDENT       63  /* PostgreSQL: NAMEDATALEN - 1 */
#define MAX_ORIGIN_NAME 512 /* PostgreSQL: MAX_RONAME_LEN */
#define MAX_ENV_NAME    127
#define MAX_KEYS        16 /* most known keys in one section */

/* The heap block behind a wb_config: the config first, so that a
 * wb_config * is also a config_block *. */
typedef struct config_block {
    wb_config cfg;
    wb_arena *arena;
} config_block;

typedef struct loader {
    const char *file; /* name for error positions */
    yaml_document_t *doc;
    wb_arena *arena;
    wb_error *err;
    size_t expanded; /* bytes of scalar values produced so far */
} loader;

/* For duplicate detection: one name and where it was written. */
typedef struct dupitem {
    const char *s;
    wb_config_pos pos;
    size_t order;
} dupitem;

/* " in <ctx>" or " at the top level", for messages. */
#define IN_CTX(ctx) (ctx) ? " in " : " at the top level", (ctx) ? (ctx) : ""

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

static int fail_pos(loader *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_vpos(loader *ld, int line, int col, const char *fmt, va_list ap)
{
    wb_error_vset(ld->err, WB_ECONFIG, fmt, ap);
    wb_error_position(ld->err, ld->file, line, col);
    return WB_ECONFIG;
}

static int fail_pos(loader *ld, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_vpos(ld, line, col, fmt, ap);
    va_end(ap);
    return WB_ECONFIG;
}

static wb_config_pos node_pos(const yaml_node_t *node)
{
    wb_config_pos p = {1, 1};
    if (node) {
        p.line = (int)node->start_mark.line + 1;
        p.col = (int)node->start_mark.column + 1;
    }
    return p;
}

/* Error at node (1:1 when node is NULL). */
static int fail(loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    wb_config_pos p = node_pos(node);
    va_list ap;
    va_start(ap, fmt);
    fail_vpos(ld, p.line, p.col, fmt, ap);
    va_end(ap);
    return WB_ECONFIG;
}

static int nomem(loader *ld)
{
    return wb_error_set(ld->err, WB_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static unsigned char to_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (to_lower((unsigned char)*a) != to_lower((unsigned char)*b))
            return false;
    return *a == *b;
}

static yaml_node_t *node_of(loader *ld, int id)
{
    return yaml_document_get_node(ld->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* A plain scalar that YAML reads as null: empty, ~, null. */
static bool is_null(const yaml_node_t *n)
{
    const char *s;
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = sval(n);
    return slen(n) == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static size_t map_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Edit distance (case-insensitive), for "did you mean"; large when long. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = to_lower((unsigned char)a[i - 1]) ==
                                  to_lower((unsigned char)b[j - 1])
                              ? 0
                              : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int cmp_dupitem(const void *pa, const void *pb)
{
    const dupitem *a = pa, *b = pb;
    int c = strcmp(a->s, b->s);
    if (c)
        return c;
    if (a->pos.line != b->pos.line)
        return a->pos.line < b->pos.line ? -1 : 1;
    if (a->pos.col != b->pos.col)
        return a->pos.col < b->pos.col ? -1 : 1;
    return a->order < b->order ? -1 : (a->order > b->order);
}

static bool pos_before(wb_config_pos a, wb_config_pos b)
{
    return a.line < b.line || (a.line == b.line && a.col < b.col);
}

/*
 * Sort items and find the repetition that comes first in the file: *second
 * is that repetition and *first the earlier item with the same name.
 * Returns false when all names are distinct.  O(n log n), so that a large
 * hostile file cannot make this quadratic.
 */
static bool find_dup(dupitem *items, size_t n, const dupitem **first,
                     const dupitem **second)
{
    const dupitem *best = NULL, *best_first = NULL;
    if (n < 2)
        return false;
    qsort(items, n, sizeof(*items), cmp_dupitem);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(items[j].s, items[i].s) == 0)
            j++;
        if (j - i > 1 && (!best || pos_before(items[i + 1].pos, best->pos))) {
            best = &items[i + 1];
            best_first = &items[i];
        }
        i = j;
    }
    if (!best)
        return false;
    *first = best_first;
    *second = best;
    return true;
}

/* ------------------------------------------------------------------ */
/* scalar values                                                       */
/* ------------------------------------------------------------------ */

/*
 * Resolve the reference "${...}" starting at s[*pi]; on success *pi is past
 * the closing brace and *val, *vlen the replacement.
 */
static int env_lookup(loader *ld, const yaml_node_t *v, const char *key,
                      const char *s, size_t n, size_t *pi, const char **val,
                      size_t *vlen)
{
    size_t start = *pi + 2, end, j;
    const char *close = memchr(s + start, '}', n - start);
    const char *ev, *def = NULL;
    size_t deflen = 0;
    char name[MAX_ENV_NAME + 1];

    if (!close) {
        fail(ld, v, "unterminated \"${\" in value of \"%s\"", key);
        wb_error_hint(ld->err, "Write ${NAME} or ${NAME:-default}; write $$ "
                               "for a literal $.");
        return WB_ECONFIG;
    }
    end = (size_t)(close - s);
    j = start;
    if (j < end && (is_alpha((unsigned char)s[j]) || s[j] == '_')) {
        j++;
        while (j < end && (is_alpha((unsigned char)s[j]) ||
                           is_digit((unsigned char)s[j]) || s[j] == '_'))
            j++;
    }
    if (j == start || j - start > MAX_ENV_NAME ||
        (j < end && !(end - j >= 2 && s[j] == ':' && s[j + 1] == '-'))) {
        size_t shown = end + 1 - *pi;
        fail(ld, v,
             "invalid environment variable reference \"%.*s\" in value "
             "of \"%s\"",
             (int)(shown > 80 ? 80 : shown), s + *pi, key);
        wb_error_hint(ld->err, "Write ${NAME} or ${NAME:-default}, where NAME "
                               "is letters, digits and underscores; write $$ "
                               "for a literal $.");
        return WB_ECONFIG;
    }
    memcpy(name, s + start, j - start);
    name[j - start] = '\0';
    if (j < end) {
        def = s + j + 2;
        deflen = end - (j + 2);
    }

    ev = getenv(name);
    if (def && (!ev || !*ev)) {
        *val = def;
        *vlen = deflen;
    } else if (!ev) {
        fail(ld, v, "environment variable \"%s\" is not set", name);
        wb_error_hint(ld->err, "Set %s, or give a default with ${%s:-default}.",
                      name, name);
        return WB_ECONFIG;
    } else {
        *val = ev;
        *vlen = strlen(ev);
    }
    *pi = end + 1;
    return 0;
}

/* One substitution pass: measure (dst NULL) or write at most cap bytes. */
static int expand_pass(loader *ld, const yaml_node_t *v, const char *key,
                       char *dst, size_t cap, size_t *outlen)
{
    const char *s = sval(v);
    size_t n = slen(v), i = 0, o = 0;

    while (i < n) {
        const char *piece;
        size_t plen;
        if (s[i] != '$') {
            size_t j = i;
            while (j < n && s[j] != '$')
                j++;
            piece = s + i;
            plen = j - i;
            i = j;
        } else if (i + 1 < n && s[i + 1] == '$') {
            piece = "$";
            plen = 1;
            i += 2;
        } else if (i + 1 < n && s[i + 1] == '{') {
            int rc = env_lookup(ld, v, key, s, n, &i, &piece, &plen);
            if (rc)
                return rc;
        } else {
            piece = "$";
            plen = 1;
            i++;
        }
        if (plen > MAX_EXPANDED || o > MAX_EXPANDED - plen)
            return fail(ld, v,
                        "value of \"%s\" is too long after environment "
                        "variable substitution",
                        key);
        if (dst && o < cap)
            memcpy(dst + o, piece, plen < cap - o ? plen : cap - o);
        o += plen;
    }
    *outlen = o;
    return 0;
}

/* Substitute ${...} in a scalar value into a new arena string. */
static int expand(loader *ld, const yaml_node_t *v, const char *key, char **out)
{
    size_t len, len2;
    char *buf;
    int rc;

    if (memchr(sval(v), '\0', slen(v)))
        return fail(ld, v, "value of \"%s\" contains a NUL character", key);
    rc = expand_pass(ld, v, key, NULL, 0, &len);
    if (rc)
        return rc;
    if (len > MAX_EXPANDED - ld->expanded)
        return fail(ld, v,
                    "configuration is too large after environment variable "
                    "substitution");
    ld->expanded += len;
    buf = wb_arena_alloc(ld->arena, len + 1);
    if (!buf)
        return nomem(ld);
    rc = expand_pass(ld, v, key, buf, len, &len2);
    if (rc)
        return rc;
    buf[len2 < len ? len2 : len] = '\0';
    *out = buf;
    return 0;
}

static int get_string(loader *ld, const yaml_node_t *v, const char *key,
                      char **out)
{
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        fail(ld, v, "\"%s\" must be a string", key);
        if (is_null(v))
            wb_error_hint(ld->err, "Write \"\" for an empty string.");
        return WB_ECONFIG;
    }
    return expand(ld, v, key, out);
}

static int get_bool(loader *ld, const yaml_node_t *v, const char *key,
                    bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    char *s;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return fail(ld, v, "\"%s\" must be a boolean", key);
    rc = expand(ld, v, key, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < 3; i++) {
        if (ieq(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (ieq(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    fail(ld, v, "invalid boolean value \"%s\" for \"%s\"", s, key);
    wb_error_hint(ld->err, "Use true or false.");
    return WB_ECONFIG;
}

/* One of names (case-insensitive); *out is its index. */
static int get_enum(loader *ld, const yaml_node_t *v, const char *key,
                    const char *const *names, size_t nnames, size_t *out)
{
    char *s, list[128];
    size_t used = 0;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        rc = fail(ld, v, "\"%s\" must be a string", key);
    else {
        rc = expand(ld, v, key, &s);
        if (rc)
            return rc;
        for (size_t i = 0; i < nnames; i++) {
            if (ieq(s, names[i])) {
                *out = i;
                return 0;
            }
        }
        rc = fail(ld, v, "invalid value \"%s\" for \"%s\"", s, key);
    }
    list[0] = '\0';
    for (size_t i = 0; i < nnames && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", names[i]);
    wb_error_hint(ld->err, "Valid values are: %s.", list);
    return rc;
}

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

/* ------------------------------------------------------------------ */
/* names                                                               */
/* ------------------------------------------------------------------ */

static bool ident_start(unsigned char c)
{
    return is_alpha(c) || c == '_' || c >= 0x80;
}

static bool ident_cont(unsigned char c)
{
    return ident_start(c) || is_digit(c) || c == '$';
}

/*
 * Parse one identifier of a qualified name at s[*pi] into buf (at least
 * n + 1 bytes): "quoted" (with "" for a quote, case kept) or unquoted
 * (folded to lower case).  Returns NULL or a detail sentence.
 */
static const char *parse_ident(const char *s, size_t n, size_t *pi, char *buf)
{
    size_t i = *pi, o = 0;

    if (i < n && s[i] == '"') {
        i++;
        for (;;) {
            if (i >= n)
                return "A quoted identifier is not terminated.";
            if (s[i] == '"') {
                if (i + 1 < n && s[i + 1] == '"') {
                    buf[o++] = '"';
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            buf[o++] = s[i++];
        }
        if (o == 0)
            return "A quoted identifier is empty.";
    } else {
        if (i >= n || s[i] == '.')
            return "A part of the name is empty.";
        if (!ident_start((unsigned char)s[i]))
            return "An unquoted name must start with a letter or an "
                   "underscore; double-quote other names.";
        while (i < n && ident_cont((unsigned char)s[i]))
            buf[o++] = (char)to_lower((unsigned char)s[i++]);
    }
    buf[o] = '\0';
    if (o > MAX_IDENT)
        return "A name is longer than 63 bytes.";
    *pi = i;
    return NULL;
}

static int parse_table(loader *ld, const yaml_node_t *v, const char *key,
                       const char *s, wb_config_table *out)
{
    size_t n = strlen(s), i = 0;
    const char *detail;
    char *schema = wb_arena_alloc(ld->arena, n + 1);
    char *table = wb_arena_alloc(ld->arena, n + 1);

    if (!schema || !table)
        return nomem(ld);
    detail = parse_ident(s, n, &i, schema);
    if (!detail) {
        if (i >= n)
            detail = "The schema is missing; write the table as "
                     "schema.table.";
        else if (s[i] != '.')
            detail = "Unexpected character after a name.";
        else {
            i++;
            detail = parse_ident(s, n, &i, table);
            if (!detail && i < n)
                detail = s[i] == '.' ? "Too many dotted names; write the "
                                       "table as schema.table."
                                     : "Unexpected character after a name.";
        }
    }
    if (detail) {
        fail(ld, v, "invalid table name \"%s\" in \"%s\"", s, key);
        wb_error_detail(ld->err, "%s", detail);
        wb_error_hint(ld->err, "Unquoted names are folded to lower case; "
                               "double-quote names with upper case letters, "
                               "dots or spaces: \"My Schema\".\"Odd.Name\".");
        return WB_ECONFIG;
    }
    out->schema = schema;
    out->table = table;
    out->pos = node_pos(v);
    return 0;
}

/*
 * A column-like name taken literally, or a quoted identifier when it starts
 * with a double quote.  what is "column", "schema" ... for the message.
 */
static int parse_name(loader *ld, const yaml_node_t *node, const char *what,
                      const char *s, size_t n, char **out)
{
    const char *detail = NULL;
    char *buf;
    size_t i = 0;

    if (memchr(s, '\0', n))
        return fail(ld, node, "%s name contains a NUL character", what);
    buf = wb_arena_alloc(ld->arena, n + 1);
    if (!buf)
        return nomem(ld);
    if (n > 0 && s[0] == '"') {
        detail = parse_ident(s, n, &i, buf);
        if (!detail && i < n)
            detail = "Unexpected character after a quoted name.";
    } else if (n == 0) {
        detail = "The name is empty.";
    } else if (n > MAX_IDENT) {
        detail = "A name is longer than 63 bytes.";
    } else {
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    if (detail) {
        fail(ld, node, "invalid %s name \"%.*s\"", what,
             (int)(n > 200 ? 200 : n), s);
        wb_error_detail(ld->err, "%s", detail);
        return WB_ECONFIG;
    }
    *out = buf;
    return 0;
}

static int get_name(loader *ld, const yaml_node_t *v, const char *key,
                    const char *what, char **out)
{
    char *s;
    int rc = get_string(ld, v, key, &s);
    if (rc)
        return rc;
    return parse_name(ld, v, what, s, strlen(s), out);
}

/* PostgreSQL's ReplicationSlotValidateName. */
static int check_slot_name(loader *ld, const yaml_node_t *v, const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return fail(ld, v, "replication slot name \"%s\" is too short", s);
    if (n > MAX_IDENT)
        return fail(ld, v, "replication slot name \"%s\" is too long", s);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_')) {
            fail(ld, v, "invalid replication slot name \"%s\"", s);
            wb_error_hint(ld->err, "Replication slot names may only contain "
                                   "lower case letters, numbers, and the "
                                   "underscore character.");
            return WB_ECONFIG;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* maps and lists                                                      */
/* ------------------------------------------------------------------ */

static int unknown_key(loader *ld, const yaml_node_t *k, const char *ctx,
                       const char *const *keys, size_t nkeys)
{
    char list[200], guess[96] = "";
    size_t used = 0, best = 3;

    fail(ld, k, "unknown key \"%s\"%s%s", sval(k), IN_CTX(ctx));
    list[0] = '\0';
    for (size_t i = 0; i < nkeys && used < sizeof(list); i++) {
        size_t d = edit_distance(sval(k), keys[i]);
        if (d < best && d < strlen(keys[i])) {
            best = d;
            snprintf(guess, sizeof(guess), "Did you mean \"%s\"? ", keys[i]);
        }
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", keys[i]);
    }
    wb_error_hint(ld->err, "%sValid keys are: %s.", guess, list);
    return WB_ECONFIG;
}

/*
 * Check the keys of map against the known keys: each a string, known and
 * given once.  vals[i] becomes the value of keys[i], or NULL when absent.
 */
static int walk_keys(loader *ld, const yaml_node_t *map, const char *ctx,
                     const char *const *keys, size_t nkeys,
                     const yaml_node_t **vals)
{
    const yaml_node_t *knodes[MAX_KEYS];

    for (size_t i = 0; i < nkeys; i++) {
        knodes[i] = NULL;
        vals[i] = NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        size_t i;

        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, k, "keys%s%s must be strings", IN_CTX(ctx));
        for (i = 0; i < nkeys; i++)
            if (strlen(keys[i]) == slen(k) && strcmp(keys[i], sval(k)) == 0)
                break;
        if (i == nkeys)
            return unknown_key(ld, k, ctx, keys, nkeys);
        if (knodes[i]) {
            fail(ld, k, "duplicate key \"%s\"%s%s", keys[i], IN_CTX(ctx));
            wb_error_detail(ld->err, "It was first given at line %d.",
                            node_pos(knodes[i]).line);
            return WB_ECONFIG;
        }
        knodes[i] = k;
        vals[i] = node_of(ld, p->value);
    }
    return 0;
}

static int missing_key(loader *ld, const yaml_node_t *map, const char *ctx,
                       const char *key)
{
    if (ctx)
        return fail(ld, map, "missing required key \"%s\" in %s", key, ctx);
    return fail(ld, map, "missing required key \"%s\"", key);
}

/*
 * A section that must be a map.  An optional section may also be null
 * ("target:" with nothing under it), which *is_null reports.
 */
static int check_map(loader *ld, const yaml_node_t *v, const char *key,
                     bool optional, bool *was_null)
{
    *was_null = false;
    if (optional && is_null(v)) {
        *was_null = true;
        return 0;
    }
    if (v->type != YAML_MAPPING_NODE)
        return fail(ld, v, "\"%s\" must be a map", key);
    return 0;
}

static int get_schemas(loader *ld, const yaml_node_t *v, wb_config *cfg)
{
    size_t n, k = 0;
    dupitem *items;
    const dupitem *first, *second;

    if (v->type != YAML_SEQUENCE_NODE)
        return fail(ld, v, "\"schemas\" must be a list of strings");
    n = seq_len(v);
    if (n == 0) {
        fail(ld, v, "\"schemas\" must not be empty");
        wb_error_hint(ld->err, "List the schemas whose tables are "
                               "published, for example [public].");
        return WB_ECONFIG;
    }
    cfg->source.schemas = wb_arena_alloc(ld->arena, n * sizeof(char *));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    if (!cfg->source.schemas || !items)
        return nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc;
        if (e->type != YAML_SCALAR_NODE || is_null(e))
            return fail(ld, e, "\"schemas\" must be a list of strings");
        rc = get_name(ld, e, "schemas", "schema", &cfg->source.schemas[k]);
        if (rc)
            return rc;
        items[k].s = cfg->source.schemas[k];
        items[k].pos = node_pos(e);
        items[k].order = k;
    }
    cfg->source.nschemas = n;
    if (find_dup(items, n, &first, &second)) {
        fail_pos(ld, second->pos.line, second->pos.col,
                 "duplicate schema \"%s\" in \"schemas\"", second->s);
        wb_error_detail(ld->err, "It was first given at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}

/*
 * A map of source column -> target column (key: or columns:).  to_pos
 * receives where each target column was written.
 */
static int get_colmap(loader *ld, const yaml_node_t *v, const char *key,
                      const char *mctx, bool required, wb_config_colmap **out,
                      size_t *nout, wb_config_pos **to_pos)
{
    char ctx[256];
    size_t n, k = 0;
    dupitem *items;
    const dupitem *first, *second;
    wb_config_colmap *cols;

    snprintf(ctx, sizeof(ctx), "\"%s\" of %s", key, mctx);
    *out = NULL;
    *nout = 0;
    *to_pos = NULL;
    if (!required && is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE) {
        fail(ld, v, "\"%s\" must be a map of source column to target column",
             key);
        wb_error_hint(ld->err, "Write %s: { source_column: target_column }.",
                      key);
        return WB_ECONFIG;
    }
    n = map_len(v);
    if (n == 0) {
        if (!required)
            return 0;
        fail(ld, v, "\"%s\" must map at least one column in %s", key, mctx);
        wb_error_hint(ld->err, "Write %s: { source_column: target_column }.",
                      key);
        return WB_ECONFIG;
    }
    cols = wb_arena_alloc(ld->arena, n * sizeof(*cols));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    *to_pos = wb_arena_alloc(ld->arena, n * sizeof(**to_pos));
    if (!cols || !items || !*to_pos)
        return nomem(ld);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++, k++) {
        const yaml_node_t *kn = node_of(ld, p->key);
        const yaml_node_t *vn = node_of(ld, p->value);
        int rc;

        if (kn->type != YAML_SCALAR_NODE)
            return fail(ld, kn, "keys in %s must be column names", ctx);
        rc = parse_name(ld, kn, "column", sval(kn), slen(kn), &cols[k].from);
        if (rc)
            return rc;
        if (vn->type != YAML_SCALAR_NODE || is_null(vn))
            return fail(ld, vn,
                        "target column for \"%s\" in %s must be a "
                        "string",
                        cols[k].from, ctx);
        rc = get_name(ld, vn, key, "column", &cols[k].to);
        if (rc)
            return rc;
        cols[k].pos = node_pos(kn);
        (*to_pos)[k] = node_pos(vn);
        items[k].s = cols[k].from;
        items[k].pos = cols[k].pos;
        items[k].order = k;
    }
    if (find_dup(items, n, &first, &second)) {
        fail_pos(ld, second->pos.line, second->pos.col,
                 "duplicate key \"%s\" in %s", second->s, ctx);
        wb_error_detail(ld->err, "It was first given at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    *out = cols;
    *nout = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* settings: the sections driven by the table (config/settings.h)           */
/* ------------------------------------------------------------------ */

/*
 * The rows of section (NULL: the top level) in table order, with their
 * keys for walk_keys.  Returns how many.
 */
static size_t section_rows(const char *section, const wb_setting **rows,
                           const char **keys)
{
    size_t n = 0;
    for (size_t i = 0; i < wb_nsettings && n < MAX_KEYS; i++) {
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

static const void *cfield_of(const wb_config *cfg, const wb_setting *s)
{
    return (const char *)cfg + s->offset;
}

/* The bounds of a duration as the messages write them: "100ms", "60s". */
static void format_ms(char *buf, size_t size, uint32_t ms)
{
    if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, size, "%" PRIu32 "s", ms / 1000);
    else
        snprintf(buf, size, "%" PRIu32 "ms", ms);
}

static int get_duration(loader *ld, const yaml_node_t *v, const char *key,
                        uint32_t min_ms, uint32_t max_ms, uint32_t *out)
{
    char *s, lo[16], hi[16];
    uint32_t ms;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return fail(ld, v, "\"%s\" must be a duration", key);
    rc = expand(ld, v, key, &s);
    if (rc)
        return rc;
    if (wb_config_parse_duration_ms(s, &ms) != 0) {
        fail(ld, v, "invalid duration \"%s\" for \"%s\"", s, key);
        wb_error_hint(ld->err, "Use a whole number with a unit (ms, s, m or "
                               "h), for example 250ms, 10s or 2m.");
        return WB_ECONFIG;
    }
    if (ms < min_ms || ms > max_ms) {
        format_ms(lo, sizeof(lo), min_ms);
        format_ms(hi, sizeof(hi), max_ms);
        fail(ld, v, "\"%s\" must be between %s and %s", key, lo, hi);
        wb_error_detail(ld->err, "The value is \"%s\".", s);
        return WB_ECONFIG;
    }
    *out = ms;
    return 0;
}

/* A count, read with the duration parser's digit rules but no unit. */
static int get_count(loader *ld, const yaml_node_t *v, const char *key,
                     uint32_t min, uint32_t max, uint32_t *out)
{
    char *text;
    uint32_t n;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return fail(ld, v, "\"%s\" must be a number", key);
    rc = expand(ld, v, key, &text);
    if (rc)
        return rc;
    if (!*text || strspn(text, "0123456789") != strlen(text) ||
        wb_config_parse_duration_ms(text, &n) != 0 || n < min || n > max)
        return fail(ld, v,
                    "\"%s\" must be a whole number between %" PRIu32
                    " and %" PRIu32,
                    key, min, max);
    *out = n;
    return 0;
}

/* The checks of a string value beyond its type. */
static int check_setting(loader *ld, const wb_setting *s, const yaml_node_t *v,
                         const char *val)
{
    switch (s->check) {
    case WB_SETTING_CHECK_NONE:
        return 0;
    case WB_SETTING_CHECK_CONNINFO:
        if (val[0] == '\0') {
            fail(ld, v, "%s conninfo is empty", s->section);
            wb_error_hint(ld->err, "Set it to a libpq connection string or "
                                   "URI, for example \"${WALBRIDGE_SOURCE}\".");
            return WB_ECONFIG;
        }
        return 0;
    case WB_SETTING_CHECK_SLOT:
        return check_slot_name(ld, v, val);
    case WB_SETTING_CHECK_ORIGIN:
        if (val[0] == '\0')
            return fail(ld, v, "replication origin name is empty");
        if (strlen(val) > MAX_ORIGIN_NAME)
            return fail(ld, v, "replication origin name is too long");
        return 0;
    }
    return 0;
}

/* An internal error: the table asks for something config.c cannot do. */
static int bad_row(loader *ld, const wb_setting *s, const char *what)
{
    return wb_error_set(ld->err, WB_EINVAL, "setting \"%s.%s\": %s",
                        s->section ? s->section : "", s->key, what);
}

/* A structure in a section: parsed by hand. */
static int get_structure(loader *ld, const wb_setting *s, const yaml_node_t *v,
                         wb_config *cfg)
{
    if (s->offset == offsetof(wb_config, source.schemas))
        return get_schemas(ld, v, cfg);
    return bad_row(ld, s, "no parser for this structure");
}

/* The value v of the scalar setting s into cfg. */
static int get_setting(loader *ld, const wb_setting *s, const yaml_node_t *v,
                       wb_config *cfg)
{
    void *p = field_of(cfg, s);
    char *str = NULL;
    size_t idx;
    int rc, iv;

    switch (s->type) {
    case WB_SETTING_STRING:
        rc = get_string(ld, v, s->key, &str);
        break;
    case WB_SETTING_NAME:
        rc = get_name(ld, v, s->key, s->what, &str);
        break;
    case WB_SETTING_KEYWORD:
        rc = get_enum(ld, v, s->key, s->names, s->nnames, &idx);
        if (rc)
            return rc;
        str = wb_arena_strdup(ld->arena, s->names[idx]);
        if (!str)
            return nomem(ld);
        break;
    case WB_SETTING_BOOL:
        return get_bool(ld, v, s->key, (bool *)p);
    case WB_SETTING_ENUM:
        rc = get_enum(ld, v, s->key, s->names, s->nnames, &idx);
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
static int default_list(loader *ld, const char *text, char ***out, size_t *n)
{
    size_t cap = 1, k = 0;
    const char *p;

    for (p = text; *p; p++)
        cap += *p == ',';
    *out = wb_arena_alloc(ld->arena, cap * sizeof(char *));
    if (!*out)
        return nomem(ld);
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
            return nomem(ld);
        p += strcspn(p, ",]");
        p += *p == ',';
    }
    *n = k;
    return 0;
}

/*
 * The default of s into cfg; a key with no default (required, or worked
 * out in load_root) is left alone.  A default that does not read as its own
 * type is a bug in the table, reported as such.
 */
static int apply_default(loader *ld, const wb_setting *s, wb_config *cfg)
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
            return nomem(ld);
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

/*
 * One section (a map) through the table: its keys checked (unknown keys
 * with "did you mean", duplicates), required keys, then every value given,
 * in table order.  Absent keys keep their defaults.
 */
static int load_section(loader *ld, const yaml_node_t *map, const char *section,
                        wb_config *cfg)
{
    const wb_setting *rows[MAX_KEYS] = {0};
    const char *keys[MAX_KEYS] = {0};
    const yaml_node_t *v[MAX_KEYS];
    size_t n = section_rows(section, rows, keys);
    char ctx[64];
    int rc;

    snprintf(ctx, sizeof(ctx), "\"%s\"", section);
    rc = walk_keys(ld, map, ctx, keys, n, v);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->required && !v[i])
            return missing_key(ld, map, ctx, keys[i]);
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            continue;
        rc = get_setting(ld, rows[i], v[i], cfg);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* mappings                                                            */
/* ------------------------------------------------------------------ */

enum {
    MAP_NAME,
    MAP_ENABLED,
    MAP_FROM,
    MAP_TO,
    MAP_OPERATIONS,
    MAP_KEY,
    MAP_COLUMNS,
    MAP_VALUES,
    MAP_FILTER,
    MAP_ON_DELETE,
    MAP_ON_FILTER_OUT,
    MAP_ON_TRUNCATE,
    MAP_SKIP_UNCHANGED,
    MAP_PLUGIN,
    MAP_CONFLICT,
    MAP_NKEYS
};
static const char *const mapping_keys[MAP_NKEYS] = {
    "name",          "enabled",     "from",           "to",     "operations",
    "key",           "columns",     "values",         "filter", "on_delete",
    "on_filter_out", "on_truncate", "skip_unchanged", "plugin", "conflict"};

/* Target columns must be distinct across key:, columns: and values:. */
static int check_targets(loader *ld, wb_config_mapping *m,
                         const wb_config_pos *key_pos,
                         const wb_config_pos *col_pos)
{
    size_t n = m->nkeys + m->ncolumns + m->nvalues;
    dupitem *items = wb_arena_alloc(ld->arena, (n ? n : 1) * sizeof(*items));
    const dupitem *first, *second;

    if (!items)
        return nomem(ld);
    for (size_t i = 0; i < m->nkeys; i++) {
        items[i].s = m->keys[i].to;
        items[i].pos = key_pos[i];
        items[i].order = i;
    }
    for (size_t i = 0; i < m->ncolumns; i++) {
        items[m->nkeys + i].s = m->columns[i].to;
        items[m->nkeys + i].pos = col_pos[i];
        items[m->nkeys + i].order = m->nkeys + i;
    }
    for (size_t i = 0; i < m->nvalues; i++) {
        size_t j = m->nkeys + m->ncolumns + i;
        items[j].s = m->values[i].to;
        items[j].pos = m->values[i].pos;
        items[j].order = j;
    }
    if (find_dup(items, n, &first, &second)) {
        fail_pos(ld, second->pos.line, second->pos.col,
                 "target column \"%s\" is mapped more than once in mapping "
                 "\"%s\"",
                 second->s, m->name);
        wb_error_detail(ld->err, "It was first mapped at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}

/* ---- value expressions ------------------------------------------- */

#define MAX_EXPR_DEPTH 32

static wb_expr *new_expr(loader *ld, wb_expr_kind kind, const yaml_node_t *n)
{
    wb_expr *e = wb_arena_alloc(ld->arena, sizeof(*e));
    if (e) {
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->slot = -1;
        e->pos = node_pos(n);
    }
    return e;
}

static int parse_expr(loader *ld, const yaml_node_t *n, bool top, int depth,
                      wb_expr **out);

/* A list of expressions (concat, coalesce). */
static int expr_list(loader *ld, const yaml_node_t *v, const char *fn,
                     int depth, wb_expr *e)
{
    size_t k = 0;
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0) {
        fail(ld, v, "\"%s\" takes a non-empty list of expressions", fn);
        wb_error_hint(ld->err, "Write %s: [first_name, last_name].", fn);
        return WB_ECONFIG;
    }
    e->nargs = seq_len(v);
    e->args = wb_arena_alloc(ld->arena, e->nargs * sizeof(*e->args));
    if (!e->args)
        return nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        int rc =
            parse_expr(ld, node_of(ld, *it), false, depth + 1, &e->args[k]);
        if (rc)
            return rc;
    }
    return 0;
}

static int expr_args(loader *ld, wb_expr *e, size_t n)
{
    e->nargs = n;
    e->args = wb_arena_alloc(ld->arena, n * sizeof(*e->args));
    if (!e->args)
        return nomem(ld);
    memset(e->args, 0, n * sizeof(*e->args));
    return 0;
}

/* A nullable scalar text (const:, map values): NULL for YAML null. */
static int get_text_or_null(loader *ld, const yaml_node_t *v, const char *key,
                            char **out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail(ld, v, "\"%s\" must be a scalar value", key);
    if (is_null(v)) {
        *out = NULL;
        return 0;
    }
    return expand(ld, v, key, out);
}

static const char *const expr_fns[] = {"const",  "lower", "upper", "trim",
                                       "concat", "split", "cast",  "coalesce",
                                       "map",    "lookup"};
#define N_EXPR_FNS (sizeof(expr_fns) / sizeof(expr_fns[0]))

/*
 * An expression: a scalar names a source column; a map has exactly one
 * function key (see config.h) plus that function's modifiers.
 */
static int parse_expr(loader *ld, const yaml_node_t *n, bool top, int depth,
                      wb_expr **out)
{
    /* Modifiers each function accepts besides its own key. */
    static const char *const mods[][3] = {
        {NULL},        {NULL},        {NULL},
        {NULL},        {"sep", NULL}, {"sep", "part", NULL},
        {"to", NULL},  {NULL},        {"values", "else", NULL},
        {"from", NULL}};
    const yaml_node_t *fnkey = NULL, *arg = NULL, *mod[3] = {NULL, NULL, NULL};
    size_t fn = N_EXPR_FNS;
    wb_expr *e;
    int rc;

    if (depth > MAX_EXPR_DEPTH)
        return fail(ld, n, "expression is nested too deeply");
    if (n->type == YAML_SCALAR_NODE) {
        if (is_null(n)) {
            fail(ld, n, "an expression must not be empty");
            wb_error_hint(ld->err, "Name a source column, or write "
                                   "{ const: null } for NULL.");
            return WB_ECONFIG;
        }
        e = new_expr(ld, WB_EXPR_COLUMN, n);
        if (!e)
            return nomem(ld);
        rc = get_name(ld, n, "values", "column", &e->name);
        *out = e;
        return rc;
    }
    if (n->type != YAML_MAPPING_NODE) {
        fail(ld, n, "an expression must be a column name or a map");
        wb_error_hint(ld->err, "Write { concat: [first_name, last_name], "
                               "sep: \" \" }, { const: text } ...");
        return WB_ECONFIG;
    }
    /* Find the function key first, so modifiers can be checked against it. */
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, k, "keys in an expression must be strings");
        for (size_t i = 0; i < N_EXPR_FNS; i++)
            if (strcmp(sval(k), expr_fns[i]) == 0) {
                if (fnkey) {
                    fail(ld, k,
                         "expression has two functions, \"%s\" and "
                         "\"%s\"",
                         sval(fnkey), sval(k));
                    wb_error_hint(ld->err, "Nest them: { lower: { trim: "
                                           "email } }.");
                    return WB_ECONFIG;
                }
                fnkey = k;
                fn = i;
                arg = node_of(ld, p->value);
            }
    }
    if (!fnkey) {
        char list[160];
        size_t used = 0;
        for (size_t i = 0; i < N_EXPR_FNS; i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                     i ? ", " : "", expr_fns[i]);
        fail(ld, n, "expression names no function");
        wb_error_hint(ld->err, "Use one of: %s.", list);
        return WB_ECONFIG;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        size_t i;
        if (k == fnkey)
            continue;
        for (i = 0; mods[fn][i]; i++)
            if (strcmp(sval(k), mods[fn][i]) == 0)
                break;
        if (!mods[fn][i]) {
            fail(ld, k, "unknown key \"%s\" in \"%s\" expression", sval(k),
                 expr_fns[fn]);
            if (mods[fn][0])
                wb_error_hint(ld->err, "\"%s\" takes: %s%s%s.", expr_fns[fn],
                              mods[fn][0], mods[fn][1] ? ", " : "",
                              mods[fn][1] ? mods[fn][1] : "");
            return WB_ECONFIG;
        }
        if (mod[i])
            return fail(ld, k, "duplicate key \"%s\" in expression", sval(k));
        mod[i] = node_of(ld, p->value);
    }

    static const wb_expr_kind kinds[] = {
        WB_EXPR_CONST,  WB_EXPR_LOWER, WB_EXPR_UPPER, WB_EXPR_TRIM,
        WB_EXPR_CONCAT, WB_EXPR_SPLIT, WB_EXPR_CAST,  WB_EXPR_COALESCE,
        WB_EXPR_MAP,    WB_EXPR_LOOKUP};
    e = new_expr(ld, kinds[fn], fnkey);
    if (!e)
        return nomem(ld);
    *out = e;
    switch (e->kind) {
    case WB_EXPR_CONST:
        return get_text_or_null(ld, arg, "const", &e->name);
    case WB_EXPR_LOWER:
    case WB_EXPR_UPPER:
    case WB_EXPR_TRIM:
    case WB_EXPR_CAST:
        if ((rc = expr_args(ld, e, 1)) != 0 ||
            (rc = parse_expr(ld, arg, false, depth + 1, &e->args[0])) != 0)
            return rc;
        if (e->kind == WB_EXPR_CAST) {
            static const char *const types[] = {"text",    "integer", "bigint",
                                                "numeric", "boolean", "date"};
            size_t t;
            if (!mod[0])
                return missing_key(ld, n, "\"cast\" expression", "to");
            if ((rc = get_enum(ld, mod[0], "to", types, 6, &t)) != 0)
                return rc;
            e->cast_to = (wb_cast_type)(t + 1);
            if (e->cast_to == WB_CAST_DATE && !top) {
                fail(ld, fnkey,
                     "a cast to date must be the whole expression "
                     "of a target column");
                wb_error_detail(ld->err,
                                "PostgreSQL's own date input decides a cast "
                                "to date, in the statement on the target, "
                                "so no other function can use its result.");
                wb_error_hint(ld->err,
                              "Cast the whole expression instead, as in { "
                              "cast: { coalesce: [d, { const: 2000-01-01 "
                              "}] }, to: date }.");
                return WB_ECONFIG;
            }
        }
        return 0;
    case WB_EXPR_CONCAT:
        if ((rc = expr_list(ld, arg, "concat", depth, e)) != 0)
            return rc;
        if (mod[0])
            return get_string(ld, mod[0], "sep", &e->sep);
        return 0;
    case WB_EXPR_COALESCE:
        return expr_list(ld, arg, "coalesce", depth, e);
    case WB_EXPR_SPLIT: {
        char *s, *end;
        long part;
        if ((rc = expr_args(ld, e, 1)) != 0 ||
            (rc = parse_expr(ld, arg, false, depth + 1, &e->args[0])) != 0)
            return rc;
        if (!mod[0])
            return missing_key(ld, n, "\"split\" expression", "sep");
        if (!mod[1])
            return missing_key(ld, n, "\"split\" expression", "part");
        if ((rc = get_string(ld, mod[0], "sep", &e->sep)) != 0)
            return rc;
        if (e->sep[0] == '\0')
            return fail(ld, mod[0], "\"sep\" of \"split\" must not be empty");
        if ((rc = get_string(ld, mod[1], "part", &s)) != 0)
            return rc;
        part = strtol(s, &end, 10);
        if (end == s || *end || part == 0 || part < -1000 || part > 1000) {
            fail(ld, mod[1], "invalid \"part\" \"%s\" for \"split\"", s);
            wb_error_hint(ld->err, "Use 1 for the first part, -1 for the "
                                   "last.");
            return WB_ECONFIG;
        }
        e->part = (int)part;
        return 0;
    }
    case WB_EXPR_MAP: {
        const yaml_node_t *vals = mod[0];
        size_t k = 0;
        if ((rc = expr_args(ld, e, mod[1] ? 2 : 1)) != 0 ||
            (rc = parse_expr(ld, arg, false, depth + 1, &e->args[0])) != 0)
            return rc;
        if (mod[1] &&
            (rc = parse_expr(ld, mod[1], false, depth + 1, &e->args[1])) != 0)
            return rc;
        if (!vals)
            return missing_key(ld, n, "\"map\" expression", "values");
        if (vals->type != YAML_MAPPING_NODE || map_len(vals) == 0) {
            fail(ld, vals,
                 "\"values\" of \"map\" must be a non-empty map "
                 "of source value to target value");
            wb_error_hint(ld->err, "Write values: { A: Active, I: Inactive "
                                   "}.");
            return WB_ECONFIG;
        }
        e->nmap = map_len(vals);
        e->map_from = wb_arena_alloc(ld->arena, e->nmap * sizeof(char *));
        e->map_to = wb_arena_alloc(ld->arena, e->nmap * sizeof(char *));
        if (!e->map_from || !e->map_to)
            return nomem(ld);
        for (yaml_node_pair_t *p = vals->data.mapping.pairs.start;
             p < vals->data.mapping.pairs.top; p++, k++) {
            const yaml_node_t *kn = node_of(ld, p->key);
            if ((rc = get_text_or_null(ld, kn, "values", &e->map_from[k])) ||
                (rc = get_text_or_null(ld, node_of(ld, p->value), "values",
                                       &e->map_to[k])))
                return rc;
            for (size_t j = 0; j < k; j++)
                if ((e->map_from[j] == NULL && e->map_from[k] == NULL) ||
                    (e->map_from[j] && e->map_from[k] &&
                     strcmp(e->map_from[j], e->map_from[k]) == 0))
                    return fail(ld, kn, "duplicate value \"%s\" in value map",
                                e->map_from[k] ? e->map_from[k] : "null");
        }
        return 0;
    }
    case WB_EXPR_LOOKUP: {
        static const char *const lk_keys[] = {"table", "match", "column"};
        const yaml_node_t *lv[3];
        char *s;
        if (!top) {
            fail(ld, fnkey,
                 "\"lookup\" must be the whole expression of a "
                 "target column");
            wb_error_detail(ld->err, "A lookup is resolved by the target "
                                     "when the row is written, so no other "
                                     "function can use its result.");
            return WB_ECONFIG;
        }
        if (arg->type != YAML_MAPPING_NODE)
            return fail(ld, arg,
                        "\"lookup\" must be a map with table, match "
                        "and column");
        if ((rc = walk_keys(ld, arg, "\"lookup\"", lk_keys, 3, lv)) != 0)
            return rc;
        for (int i = 0; i < 3; i++)
            if (!lv[i])
                return missing_key(ld, arg, "\"lookup\"", lk_keys[i]);
        if (!mod[0])
            return missing_key(ld, n, "\"lookup\" expression", "from");
        wb_config_table t;
        if ((rc = get_string(ld, lv[0], "table", &s)) != 0 ||
            (rc = parse_table(ld, lv[0], "table", s, &t)) != 0)
            return rc;
        e->lookup.schema = t.schema;
        e->lookup.table = t.table;
        if ((rc = get_name(ld, lv[1], "match", "column", &e->lookup.match)) ||
            (rc = get_name(ld, lv[2], "column", "column", &e->lookup.column)))
            return rc;
        if ((rc = expr_args(ld, e, 1)) != 0)
            return rc;
        return parse_expr(ld, mod[0], false, depth + 1, &e->args[0]);
    }
    default:
        return fail(ld, n, "unknown expression");
    }
}

/* values: { target_column: expression, ... }; soft-delete columns too
 * (then only constants are allowed). */
static int get_values(loader *ld, const yaml_node_t *v, const char *key,
                      bool consts_only, wb_config_value **out, size_t *nout)
{
    size_t k = 0;
    wb_config_value *vals;

    *out = NULL;
    *nout = 0;
    if (is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE) {
        fail(ld, v, "\"%s\" must be a map of target column to %s", key,
             consts_only ? "value" : "expression");
        return WB_ECONFIG;
    }
    vals = wb_arena_alloc(ld->arena, (map_len(v) + 1) * sizeof(*vals));
    if (!vals)
        return nomem(ld);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++, k++) {
        const yaml_node_t *kn = node_of(ld, p->key);
        const yaml_node_t *vn = node_of(ld, p->value);
        int rc;
        if (kn->type != YAML_SCALAR_NODE)
            return fail(ld, kn, "keys in \"%s\" must be column names", key);
        rc = parse_name(ld, kn, "column", sval(kn), slen(kn), &vals[k].to);
        if (rc)
            return rc;
        vals[k].pos = node_pos(kn);
        for (size_t j = 0; j < k; j++)
            if (strcmp(vals[j].to, vals[k].to) == 0) {
                fail(ld, kn, "duplicate key \"%s\" in \"%s\"", vals[k].to, key);
                wb_error_detail(ld->err, "It was first given at line %d.",
                                vals[j].pos.line);
                return WB_ECONFIG;
            }
        if (consts_only) {
            vals[k].expr = new_expr(ld, WB_EXPR_CONST, vn);
            if (!vals[k].expr)
                return nomem(ld);
            rc = get_text_or_null(ld, vn, key, &vals[k].expr->name);
        } else {
            rc = parse_expr(ld, vn, true, 0, &vals[k].expr);
        }
        if (rc)
            return rc;
    }
    *out = vals;
    *nout = k;
    return 0;
}

/* on_delete / on_filter_out: delete | ignore | { soft: { col: value } } */
static int get_delete(loader *ld, const yaml_node_t *v, const char *key,
                      wb_config_delete *out)
{
    static const char *const actions[] = {"delete", "ignore"};
    size_t idx;
    int rc;

    memset(out, 0, sizeof(*out));
    out->pos = node_pos(v);
    if (v->type == YAML_MAPPING_NODE) {
        static const char *const soft_keys[] = {"soft"};
        const yaml_node_t *sv;
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "\"%s\"", key);
        if ((rc = walk_keys(ld, v, ctx, soft_keys, 1, &sv)) != 0)
            return rc;
        if (!sv)
            return missing_key(ld, v, ctx, "soft");
        out->action = WB_ON_DELETE_SOFT;
        if ((rc = get_values(ld, sv, "soft", true, &out->soft, &out->nsoft)))
            return rc;
        if (out->nsoft == 0) {
            fail(ld, sv, "\"soft\" must set at least one column");
            wb_error_hint(ld->err, "Write %s: { soft: { isdeleted: true } }.",
                          key);
            return WB_ECONFIG;
        }
        return 0;
    }
    if ((rc = get_enum(ld, v, key, actions, 2, &idx)) != 0) {
        wb_error_hint(ld->err, "Use delete, ignore, or { soft: { column: "
                               "value } } to mark the row instead.");
        return rc;
    }
    out->action = idx == 0 ? WB_ON_DELETE_DELETE : WB_ON_DELETE_IGNORE;
    return 0;
}

/* owners: { source: [col, ...], target: [col, ...] } */
static int get_owned(loader *ld, const yaml_node_t *v, const char *key,
                     char ***out, wb_config_pos **pos, size_t *n)
{
    size_t k = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(ld, v,
                    "\"%s\" of \"owners\" must be a list of target "
                    "columns",
                    key);
    *n = seq_len(v);
    *out = wb_arena_alloc(ld->arena, (*n ? *n : 1) * sizeof(**out));
    *pos = wb_arena_alloc(ld->arena, (*n ? *n : 1) * sizeof(**pos));
    if (!*out || !*pos)
        return nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc = get_string(ld, e, key, &(*out)[k]);
        if (rc)
            return rc;
        if (!(*out)[k][0])
            return fail(ld, e, "empty column name in \"owners\"");
        (*pos)[k] = node_pos(e);
    }
    return 0;
}

/*
 * conflict: { resolve: source_wins | target_wins | last_writer_wins,
 *             by: commit_time | { source: col, target: col },
 *             owners: { source: [col..], target: [col..] } }
 * Whether the columns exist is checked against the mapping (below) and the
 * live catalog (catalog.c).
 */
static int get_conflict(loader *ld, const yaml_node_t *v,
                        wb_config_conflict *out)
{
    static const char *const keys[] = {"resolve", "by", "owners"};
    static const char *const policies[] = {"source_wins", "target_wins",
                                           "last_writer_wins"};
    const yaml_node_t *kv[3];
    size_t idx;
    int rc;

    memset(out, 0, sizeof(*out));
    out->pos = node_pos(v);
    if (v->type != YAML_MAPPING_NODE) {
        fail(ld, v, "\"conflict\" must be a map");
        wb_error_hint(ld->err, "Write conflict: { resolve: last_writer_wins, "
                               "by: commit_time }.");
        return WB_ECONFIG;
    }
    if ((rc = walk_keys(ld, v, "\"conflict\"", keys, 3, kv)) != 0)
        return rc;
    out->resolve = WB_CONFLICT_SOURCE_WINS;
    if (kv[0]) {
        if ((rc = get_enum(ld, kv[0], "resolve", policies, 3, &idx)) != 0)
            return rc;
        out->resolve = (wb_conflict_resolve)(WB_CONFLICT_SOURCE_WINS + idx);
    }
    if (out->resolve == WB_CONFLICT_LAST_WRITER_WINS) {
        if (!kv[1]) {
            missing_key(ld, v, "\"conflict\"", "by");
            wb_error_hint(ld->err, "last_writer_wins compares commit "
                                   "timestamps (by: commit_time) or a column "
                                   "(by: { source: updated_at, target: "
                                   "updated_at }).");
            return WB_ECONFIG;
        }
        out->by_pos = node_pos(kv[1]);
        if (kv[1]->type == YAML_SCALAR_NODE) {
            static const char *const by[] = {"commit_time"};
            if ((rc = get_enum(ld, kv[1], "by", by, 1, &idx)) != 0) {
                wb_error_hint(ld->err, "Write by: commit_time, or by: { "
                                       "source: column, target: column }.");
                return rc;
            }
            out->by_commit_time = true;
        } else if (kv[1]->type == YAML_MAPPING_NODE) {
            static const char *const bykeys[] = {"source", "target"};
            const yaml_node_t *bv[2];
            if ((rc = walk_keys(ld, kv[1], "\"by\"", bykeys, 2, bv)) != 0)
                return rc;
            if (!bv[0])
                return missing_key(ld, kv[1], "\"by\"", "source");
            if ((rc = get_string(ld, bv[0], "source", &out->by_source)) != 0)
                return rc;
            if (bv[1]) {
                if ((rc = get_string(ld, bv[1], "target", &out->by_target)))
                    return rc;
            } else {
                out->by_target = out->by_source;
            }
            if (!out->by_source[0] || !out->by_target[0])
                return fail(ld, kv[1], "empty column name in \"by\"");
        } else {
            return fail(ld, kv[1], "\"by\" must be commit_time or a map");
        }
    } else if (kv[1]) {
        fail(ld, kv[1], "\"by\" applies to last_writer_wins only");
        return WB_ECONFIG;
    }
    if (kv[2]) {
        static const char *const okeys[] = {"source", "target"};
        const yaml_node_t *ov[2];
        if (kv[2]->type != YAML_MAPPING_NODE)
            return fail(ld, kv[2], "\"owners\" must be a map");
        if ((rc = walk_keys(ld, kv[2], "\"owners\"", okeys, 2, ov)) != 0)
            return rc;
        if (ov[0] &&
            (rc = get_owned(ld, ov[0], "source", &out->source_owns,
                            &out->source_owns_pos, &out->nsource_owns)) != 0)
            return rc;
        if (ov[1] &&
            (rc = get_owned(ld, ov[1], "target", &out->target_owns,
                            &out->target_owns_pos, &out->ntarget_owns)) != 0)
            return rc;
    }
    return 0;
}

/* A column named in conflict: must be one the mapping writes (not a key). */
static int check_conflict_cols(loader *ld, const wb_config_mapping *m)
{
    const wb_config_conflict *c = &m->conflict;
    for (int side = 0; side < 2; side++) {
        size_t n = side ? c->ntarget_owns : c->nsource_owns;
        char **cols = side ? c->target_owns : c->source_owns;
        wb_config_pos *pos = side ? c->target_owns_pos : c->source_owns_pos;
        for (size_t i = 0; i < n; i++) {
            bool found = false, key = false;
            for (size_t k = 0; k < m->nkeys; k++)
                key = key || strcmp(m->keys[k].to, cols[i]) == 0;
            for (size_t k = 0; k < m->ncolumns && !found; k++)
                found = strcmp(m->columns[k].to, cols[i]) == 0;
            for (size_t k = 0; k < m->nvalues && !found; k++)
                found = strcmp(m->values[k].to, cols[i]) == 0;
            for (size_t j = 0; j < (side ? 0 : c->ntarget_owns); j++)
                if (strcmp(c->target_owns[j], cols[i]) == 0) {
                    wb_error_set(ld->err, WB_ECONFIG,
                                 "column \"%s\" is owned by both source and "
                                 "target in mapping \"%s\"",
                                 cols[i], m->name);
                    wb_error_position(ld->err, ld->file,
                                      c->target_owns_pos[j].line,
                                      c->target_owns_pos[j].col);
                    return WB_ECONFIG;
                }
            if (found && !key)
                continue;
            wb_error_set(ld->err, WB_ECONFIG,
                         key ? "key column \"%s\" cannot have an owner in "
                               "mapping \"%s\""
                             : "column \"%s\" in \"owners\" is not written "
                               "by mapping \"%s\"",
                         cols[i], m->name);
            wb_error_position(ld->err, ld->file, pos[i].line, pos[i].col);
            if (!key)
                wb_error_hint(ld->err, "Name target columns of \"columns\" "
                                       "or \"values\".");
            return WB_ECONFIG;
        }
    }
    return 0;
}

/* operations: [insert, update, delete] */
static int get_operations(loader *ld, const yaml_node_t *v, unsigned *out)
{
    static const char *const ops[] = {"insert", "update", "delete"};
    *out = 0;
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0) {
        fail(ld, v, "\"operations\" must be a non-empty list");
        wb_error_hint(ld->err, "Write operations: [insert, update] for a "
                               "mapping that never deletes.");
        return WB_ECONFIG;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        const yaml_node_t *e = node_of(ld, *it);
        size_t idx;
        int rc = get_enum(ld, e, "operations", ops, 3, &idx);
        if (rc)
            return rc;
        if (*out & (1u << idx))
            return fail(ld, e, "duplicate operation \"%s\"", ops[idx]);
        *out |= 1u << idx;
    }
    return 0;
}

/* to: schema.table, or a list of them. */
static int get_tos(loader *ld, const yaml_node_t *v, wb_config_mapping *m)
{
    size_t k = 0;
    if (v->type == YAML_SCALAR_NODE) {
        char *s;
        int rc;
        m->nto = 1;
        m->tos = wb_arena_alloc(ld->arena, sizeof(*m->tos));
        if (!m->tos)
            return nomem(ld);
        if ((rc = get_string(ld, v, "to", &s)) != 0)
            return rc;
        return parse_table(ld, v, "to", s, &m->tos[0]);
    }
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0)
        return fail(ld, v,
                    "\"to\" must be a table name or a non-empty list "
                    "of them");
    m->nto = seq_len(v);
    m->tos = wb_arena_alloc(ld->arena, m->nto * sizeof(*m->tos));
    if (!m->tos)
        return nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        char *s;
        int rc;
        if ((rc = get_string(ld, e, "to", &s)) != 0 ||
            (rc = parse_table(ld, e, "to", s, &m->tos[k])) != 0)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (strcmp(m->tos[j].schema, m->tos[k].schema) == 0 &&
                strcmp(m->tos[j].table, m->tos[k].table) == 0)
                return fail(ld, e,
                            "table \"%s.%s\" is listed twice in "
                            "\"to\"",
                            m->tos[k].schema, m->tos[k].table);
    }
    return 0;
}

/* ---- plugins ------------------------------------------------------ */

#define MAX_PLUGIN_DEPTH 32

/* The plugin's YAML as a wb_plugin_node tree in the arena. */
static int plugin_tree(loader *ld, const yaml_node_t *n, int depth,
                       wb_plugin_node *out)
{
    size_t k = 0;
    int rc;

    if (depth > MAX_PLUGIN_DEPTH)
        return fail(ld, n, "plugin configuration is nested too deeply");
    memset(out, 0, sizeof(*out));
    out->line = node_pos(n).line;
    out->col = node_pos(n).col;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        char *s = NULL;
        out->kind = WB_PLUGIN_NODE_SCALAR;
        if (!is_null(n) && (rc = expand(ld, n, "config", &s)) != 0)
            return rc;
        out->value = s;
        return 0;
    }
    case YAML_SEQUENCE_NODE: {
        wb_plugin_node *items;
        out->kind = WB_PLUGIN_NODE_SEQUENCE;
        out->n = seq_len(n);
        items = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*items));
        if (!items)
            return nomem(ld);
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++, k++)
            if ((rc = plugin_tree(ld, node_of(ld, *it), depth + 1,
                                  &items[k])) != 0)
                return rc;
        out->items = items;
        return 0;
    }
    case YAML_MAPPING_NODE: {
        wb_plugin_node *items;
        const char **keys;
        out->kind = WB_PLUGIN_NODE_MAPPING;
        out->n = map_len(n);
        items = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*items));
        keys = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*keys));
        if (!items || !keys)
            return nomem(ld);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++, k++) {
            const yaml_node_t *kn = node_of(ld, p->key);
            if (kn->type != YAML_SCALAR_NODE)
                return fail(ld, kn,
                            "keys in a plugin's configuration must "
                            "be strings");
            keys[k] = wb_arena_strndup(ld->arena, sval(kn), slen(kn));
            if (!keys[k])
                return nomem(ld);
            for (size_t j = 0; j < k; j++)
                if (strcmp(keys[j], keys[k]) == 0)
                    return fail(ld, kn,
                                "duplicate key \"%s\" in plugin "
                                "configuration",
                                keys[k]);
            if ((rc = plugin_tree(ld, node_of(ld, p->value), depth + 1,
                                  &items[k])) != 0)
                return rc;
        }
        out->keys = keys;
        out->items = items;
        return 0;
    }
    default:
        return fail(ld, n, "unsupported node in plugin configuration");
    }
}

static int get_plugin(loader *ld, const yaml_node_t *v, wb_config_mapping *m)
{
    static const char *const plugin_keys[] = {"path", "config"};
    const yaml_node_t *pv[2];
    int rc;

    if (v->type != YAML_MAPPING_NODE)
        return fail(ld, v, "\"plugin\" must be a map with path and config");
    if ((rc = walk_keys(ld, v, "\"plugin\"", plugin_keys, 2, pv)) != 0)
        return rc;
    if (!pv[0])
        return missing_key(ld, v, "\"plugin\"", "path");
    m->plugin.pos = node_pos(pv[0]);
    if ((rc = get_string(ld, pv[0], "path", &m->plugin.path)) != 0)
        return rc;
    if (m->plugin.path[0] == '\0')
        return fail(ld, pv[0], "plugin path is empty");
    if (pv[1]) {
        m->plugin.config = wb_arena_alloc(ld->arena, sizeof(wb_plugin_node));
        if (!m->plugin.config)
            return nomem(ld);
        return plugin_tree(ld, pv[1], 0, m->plugin.config);
    }
    return 0;
}

/* ---- one mapping -------------------------------------------------- */

/* A key that only the built-in mapping understands, given to a plugin. */
static int not_for_plugin(loader *ld, const yaml_node_t *v, const char *key)
{
    fail(ld, v, "\"%s\" cannot be used with \"plugin\"", key);
    wb_error_detail(ld->err, "The plugin decides which target columns it "
                             "writes.");
    wb_error_hint(ld->err, "Pass what the plugin needs under "
                           "plugin.config.");
    return WB_ECONFIG;
}

static int load_mapping(loader *ld, const yaml_node_t *map, size_t entry,
                        wb_config_mapping *m)
{
    static const char *const truncates[] = {"ignore", "truncate"};
    const yaml_node_t *v[MAP_NKEYS];
    wb_config_pos *key_pos = NULL, *col_pos = NULL;
    char ctx[160];
    size_t idx = 0;
    int rc;

    /* Name the entry in messages by its name when it has a plain one. */
    snprintf(ctx, sizeof(ctx), "\"mappings\" entry %zu", entry + 1);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        const yaml_node_t *val = node_of(ld, p->value);
        if (k->type == YAML_SCALAR_NODE && strcmp(sval(k), "name") == 0 &&
            val->type == YAML_SCALAR_NODE && !is_null(val) &&
            !memchr(sval(val), '\0', slen(val))) {
            snprintf(ctx, sizeof(ctx), "mapping \"%.100s\"", sval(val));
            break;
        }
    }

    rc = walk_keys(ld, map, ctx, mapping_keys, MAP_NKEYS, v);
    if (rc)
        return rc;
    if (!v[MAP_NAME])
        return missing_key(ld, map, ctx, "name");

    m->pos = node_pos(map);
    m->enabled = true;
    m->operations = WB_MAP_OP_ALL;
    rc = get_string(ld, v[MAP_NAME], "name", &m->name);
    if (rc)
        return rc;
    if (m->name[0] == '\0')
        return fail(ld, v[MAP_NAME], "mapping name is empty");
    snprintf(ctx, sizeof(ctx), "mapping \"%.100s\"", m->name);

    if (!v[MAP_FROM])
        return missing_key(ld, map, ctx, "from");
    if (!v[MAP_TO])
        return missing_key(ld, map, ctx, "to");
    if (v[MAP_PLUGIN]) {
        static const int builtin_only[] = {
            MAP_KEY,       MAP_COLUMNS,       MAP_VALUES,         MAP_FILTER,
            MAP_ON_DELETE, MAP_ON_FILTER_OUT, MAP_SKIP_UNCHANGED, MAP_CONFLICT};
        for (size_t i = 0; i < sizeof(builtin_only) / sizeof(int); i++)
            if (v[builtin_only[i]])
                return not_for_plugin(ld, v[builtin_only[i]],
                                      mapping_keys[builtin_only[i]]);
        if ((rc = get_plugin(ld, v[MAP_PLUGIN], m)) != 0)
            return rc;
    } else if (!v[MAP_KEY]) {
        return missing_key(ld, map, ctx, "key");
    }

    if (v[MAP_ENABLED]) {
        rc = get_bool(ld, v[MAP_ENABLED], "enabled", &m->enabled);
        if (rc)
            return rc;
    }
    {
        char *s;
        if ((rc = get_string(ld, v[MAP_FROM], "from", &s)) != 0 ||
            (rc = parse_table(ld, v[MAP_FROM], "from", s, &m->from)) != 0)
            return rc;
    }
    if ((rc = get_tos(ld, v[MAP_TO], m)) != 0)
        return rc;
    if (!m->plugin.path && m->nto != 1) {
        fail(ld, v[MAP_TO],
             "a mapping without \"plugin\" writes exactly "
             "one table");
        wb_error_hint(ld->err, "Write one mapping per target table; several "
                               "mappings may read the same \"from\" table.");
        return WB_ECONFIG;
    }
    m->to = m->tos[0];
    if (v[MAP_OPERATIONS] &&
        (rc = get_operations(ld, v[MAP_OPERATIONS], &m->operations)) != 0)
        return rc;
    if (v[MAP_ON_TRUNCATE]) {
        rc =
            get_enum(ld, v[MAP_ON_TRUNCATE], "on_truncate", truncates, 2, &idx);
        if (rc)
            return rc;
        m->on_truncate =
            idx == 0 ? WB_ON_TRUNCATE_IGNORE : WB_ON_TRUNCATE_TRUNCATE;
    }
    if (m->plugin.path)
        return 0;

    rc = get_colmap(ld, v[MAP_KEY], "key", ctx, true, &m->keys, &m->nkeys,
                    &key_pos);
    if (rc)
        return rc;
    if (v[MAP_COLUMNS]) {
        rc = get_colmap(ld, v[MAP_COLUMNS], "columns", ctx, false, &m->columns,
                        &m->ncolumns, &col_pos);
        if (rc)
            return rc;
    }
    if (v[MAP_VALUES]) {
        rc = get_values(ld, v[MAP_VALUES], "values", false, &m->values,
                        &m->nvalues);
        if (rc)
            return rc;
    }
    rc = check_targets(ld, m, key_pos, col_pos);
    if (rc)
        return rc;
    if (v[MAP_FILTER]) {
        const yaml_node_t *fv = v[MAP_FILTER];
        int offset = 0;
        if ((rc = get_string(ld, fv, "filter", &m->filter_text)) != 0)
            return rc;
        m->filter_pos = node_pos(fv);
        rc = wb_filter_parse(m->filter_text, ld->arena, &m->filter, &offset,
                             ld->err);
        if (rc) {
            /* Point into the text: exact for a one-line scalar (plus the
             * opening quote of a quoted one). */
            int col = m->filter_pos.col + offset;
            if (fv->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                fv->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
                col++;
            if (rc == WB_ECONFIG) {
                wb_error_position(ld->err, ld->file, m->filter_pos.line, col);
                wb_error_detail(ld->err, "At offset %d of \"%.200s\".",
                                offset + 1, m->filter_text);
                wb_error_hint(ld->err,
                              "Filters use =, <>, <, <=, >, >=, IN (...), IS "
                              "[NOT] NULL, AND, OR, NOT and parentheses; "
                              "text literals in single quotes.");
            }
            return rc;
        }
    }
    if (v[MAP_ON_DELETE]) {
        rc = get_delete(ld, v[MAP_ON_DELETE], "on_delete", &m->on_delete);
        if (rc)
            return rc;
    }
    m->on_filter_out = m->on_delete;
    if (v[MAP_ON_FILTER_OUT]) {
        if (!v[MAP_FILTER]) {
            fail(ld, v[MAP_ON_FILTER_OUT],
                 "\"on_filter_out\" needs a "
                 "\"filter\"");
            return WB_ECONFIG;
        }
        rc = get_delete(ld, v[MAP_ON_FILTER_OUT], "on_filter_out",
                        &m->on_filter_out);
        if (rc)
            return rc;
    }
    if (v[MAP_SKIP_UNCHANGED]) {
        rc = get_bool(ld, v[MAP_SKIP_UNCHANGED], "skip_unchanged",
                      &m->skip_unchanged);
        if (rc)
            return rc;
    }
    if (v[MAP_CONFLICT]) {
        if ((rc = get_conflict(ld, v[MAP_CONFLICT], &m->conflict)) != 0)
            return rc;
        if ((rc = check_conflict_cols(ld, m)) != 0)
            return rc;
    }
    if (wb_mapping_assign_slots(m, ld->arena) != 0)
        return nomem(ld);
    return 0;
}

static int load_mappings(loader *ld, const yaml_node_t *seq, wb_config *cfg)
{
    size_t n, k = 0;
    dupitem *items;
    const dupitem *first, *second;

    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(ld, seq, "\"mappings\" must be a list");
    n = seq_len(seq);
    if (n == 0) {
        fail(ld, seq, "\"mappings\" must not be empty");
        wb_error_hint(ld->err, "Add at least one mapping with name, from, "
                               "to and key.");
        return WB_ECONFIG;
    }
    cfg->mappings = wb_arena_alloc(ld->arena, n * sizeof(*cfg->mappings));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    if (!cfg->mappings || !items)
        return nomem(ld);
    memset(cfg->mappings, 0, n * sizeof(*cfg->mappings));
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc;
        if (e->type != YAML_MAPPING_NODE)
            return fail(ld, e, "each entry of \"mappings\" must be a map");
        rc = load_mapping(ld, e, k, &cfg->mappings[k]);
        if (rc)
            return rc;
        /* Where the name was written, for a duplicate report. */
        items[k].s = cfg->mappings[k].name;
        items[k].pos = cfg->mappings[k].pos;
        items[k].order = k;
        for (yaml_node_pair_t *p = e->data.mapping.pairs.start;
             p < e->data.mapping.pairs.top; p++)
            if (strcmp(sval(node_of(ld, p->key)), "name") == 0)
                items[k].pos = node_pos(node_of(ld, p->value));
        cfg->nmappings = k + 1;
    }
    if (find_dup(items, n, &first, &second)) {
        fail_pos(ld, second->pos.line, second->pos.col,
                 "duplicate mapping name \"%s\"", second->s);
        wb_error_detail(ld->err, "A mapping with this name is at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}

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
static int load_optional_section(loader *ld, const yaml_node_t *v,
                                 const char *section, wb_config *cfg)
{
    bool was_null;
    int rc;

    if (!v)
        return 0;
    rc = check_map(ld, v, section, true, &was_null);
    if (rc || was_null)
        return rc;
    return load_section(ld, v, section, cfg);
}

static int load_root(loader *ld, const yaml_node_t *root, wb_config *cfg)
{
    const wb_setting *rows[MAX_KEYS] = {0};
    const char *keys[MAX_KEYS] = {0};
    const yaml_node_t *v[MAX_KEYS], *src;
    size_t n = section_rows(NULL, rows, keys);
    bool was_null;
    int rc;

    rc = walk_keys(ld, root, NULL, keys, n, v);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->required && !v[i])
            return missing_key(ld, root, NULL, keys[i]);

    for (size_t i = 0; i < wb_nsettings; i++) {
        rc = apply_default(ld, &wb_settings[i], cfg);
        if (rc)
            return rc;
    }

    src = value_of(rows, v, n, "source");
    rc = check_map(ld, src, "source", false, &was_null);
    if (rc)
        return rc;
    rc = load_section(ld, src, "source", cfg);
    if (rc)
        return rc;
    rc = load_optional_section(ld, value_of(rows, v, n, "target"), "target",
                               cfg);
    if (rc)
        return rc;
    rc = load_optional_section(ld, value_of(rows, v, n, "log"), "log", cfg);
    if (rc)
        return rc;
    rc = load_mappings(ld, value_of(rows, v, n, "mappings"), cfg);
    if (rc)
        return rc;

    /* The one default worked out from another setting. */
    if (!cfg->target.origin) {
        size_t len = strlen("walbridge_") + strlen(cfg->source.slot) + 1;
        cfg->target.origin = wb_arena_alloc(ld->arena, len);
        if (!cfg->target.origin)
            return nomem(ld);
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
                fail_pos(ld, m->to.pos.line, m->to.pos.col,
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

/* ------------------------------------------------------------------ */
/* parsing                                                             */
/* ------------------------------------------------------------------ */

/* Line and column (1-based) of a byte offset, for reader errors. */
static void offset_position(const char *buf, size_t len, size_t offset,
                            int *line, int *col)
{
    int l = 1, c = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n' ||
            (ch == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80 && ch != '\r') {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int yaml_fail(loader *ld, const yaml_parser_t *p, const char *buf,
                     size_t len)
{
    int line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ld);
    if (p->error == YAML_READER_ERROR) {
        offset_position(buf, len, p->problem_offset, &line, &col);
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    fail_pos(ld, line, col, "invalid YAML: %s",
             p->problem ? p->problem : "syntax error");
    if (p->error == YAML_READER_ERROR && p->problem_value != -1)
        wb_error_detail(ld->err, "The byte is 0x%02X at offset %zu.",
                        (unsigned)p->problem_value & 0xFF, p->problem_offset);
    else if (p->error != YAML_READER_ERROR && p->context && *p->context)
        wb_error_detail(ld->err, "%c%s at line %d, column %d.",
                        (char)to_upper((unsigned char)p->context[0]),
                        p->context + 1, (int)p->context_mark.line + 1,
                        (int)p->context_mark.column + 1);
    if (strstr(p->problem ? p->problem : "", "cannot start any token"))
        wb_error_hint(ld->err, "Indent with spaces; YAML does not allow "
                               "tabs for indentation.");
    return WB_ECONFIG;
}

/*
 * An alias makes two references to one node.  Count references (the root
 * has one implicit) and reject any node referenced twice, at the anchor.
 */
static int check_aliases(loader *ld)
{
    yaml_node_t *start = ld->doc->nodes.start, *top = ld->doc->nodes.top;
    size_t n = (size_t)(top - start);
    unsigned char *refs = wb_arena_alloc(ld->arena, n ? n : 1);

    if (!refs)
        return nomem(ld);
    memset(refs, 0, n ? n : 1);
    if (n)
        refs[0] = 1;
#define REF(id)                                                                \
    do {                                                                       \
        size_t i_ = (size_t)(id)-1;                                            \
        if (i_ < n && refs[i_] < 2)                                            \
            refs[i_]++;                                                        \
    } while (0)
    for (yaml_node_t *nd = start; nd < top; nd++) {
        if (nd->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = nd->data.sequence.items.start;
                 it < nd->data.sequence.items.top; it++)
                REF(*it);
        } else if (nd->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start;
                 pr < nd->data.mapping.pairs.top; pr++) {
                REF(pr->key);
                REF(pr->value);
            }
        }
    }
#undef REF
    for (size_t i = 0; i < n; i++) {
        if (refs[i] > 1) {
            fail(ld, &start[i], "anchors and aliases are not supported");
            wb_error_hint(ld->err, "Write the value out in each place.");
            return WB_ECONFIG;
        }
    }
    return 0;
}

/*
 * Parse buf into *doc (exactly one document).  On success the caller owns
 * *doc; on failure nothing is left to free.
 */
static int parse_document(loader *ld, const char *buf, size_t len,
                          yaml_document_t *doc)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return nomem(ld);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, doc)) {
        rc = yaml_fail(ld, &parser, buf, len);
        yaml_parser_delete(&parser);
        return rc;
    }
    /* A second document would be ignored silently: reject it. */
    if (!yaml_parser_load(&parser, &extra)) {
        rc = yaml_fail(ld, &parser, buf, len);
    } else {
        if (yaml_document_get_root_node(&extra))
            rc = fail_pos(ld, (int)extra.start_mark.line + 1,
                          (int)extra.start_mark.column + 1,
                          "configuration file must contain a single YAML "
                          "document");
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&parser);
    if (rc)
        yaml_document_delete(doc);
    return rc;
}

static int config_from_buffer(const char *buf, size_t len, const char *name,
                              wb_config **out, wb_error *err)
{
    loader ld = {0};
    yaml_document_t doc;
    bool have_doc = false;
    config_block *blk = NULL;
    const yaml_node_t *root;
    int rc;

    ld.file = name;
    ld.err = err;
    if (len > MAX_FILE_SIZE) {
        rc =
            fail_pos(&ld, 0, 0, "configuration file \"%s\" is too large", name);
        wb_error_detail(err, "It is %zu bytes; the limit is %zu bytes.", len,
                        MAX_FILE_SIZE);
        return rc;
    }
    ld.arena = wb_arena_create(0, 0);
    if (!ld.arena)
        return nomem(&ld);

    rc = parse_document(&ld, buf, len, &doc);
    if (rc)
        goto done;
    have_doc = true;
    ld.doc = &doc;

    root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        rc = fail_pos(&ld, 1, 1, "configuration file is empty");
        wb_error_hint(err, "A configuration needs at least \"source\" and "
                           "\"mappings\"; see walbridge.example.yaml.");
        goto done;
    }
    rc = check_aliases(&ld);
    if (rc)
        goto done;
    if (root->type != YAML_MAPPING_NODE) {
        rc = fail_pos(&ld, 1, 1, "configuration must be a map");
        wb_error_hint(err, "The top level holds the keys \"source\", "
                           "\"target\", \"mappings\" and \"log\".");
        goto done;
    }

    blk = wb_arena_alloc(ld.arena, sizeof(*blk));
    if (!blk) {
        rc = nomem(&ld);
        goto done;
    }
    memset(blk, 0, sizeof(*blk));
    blk->arena = ld.arena;
    blk->cfg.path = wb_arena_strdup(ld.arena, name);
    if (!blk->cfg.path) {
        rc = nomem(&ld);
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

static bool str_differs(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

/* Does the setting s differ between a and b? */
static bool setting_differs(const wb_setting *s, const wb_config *a,
                            const wb_config *b)
{
    const void *pa = cfield_of(a, s), *pb = cfield_of(b, s);
    const char *sa, *sb;
    int ia, ib;

    switch (s->type) {
    case WB_SETTING_STRING:
    case WB_SETTING_NAME:
    case WB_SETTING_KEYWORD:
        memcpy(&sa, pa, sizeof(sa));
        memcpy(&sb, pb, sizeof(sb));
        return str_differs(sa, sb);
    case WB_SETTING_BOOL:
        return *(const bool *)pa != *(const bool *)pb;
    case WB_SETTING_ENUM:
        memcpy(&ia, pa, sizeof(ia));
        memcpy(&ib, pb, sizeof(ib));
        return ia != ib;
    case WB_SETTING_DURATION:
    case WB_SETTING_COUNT:
        return *(const uint32_t *)pa != *(const uint32_t *)pb;
    case WB_SETTING_STRUCT:
        if (s->offset == offsetof(wb_config, source.schemas)) {
            if (a->source.nschemas != b->source.nschemas)
                return true;
            for (size_t i = 0; i < a->source.nschemas; i++)
                if (strcmp(a->source.schemas[i], b->source.schemas[i]) != 0)
                    return true;
            return false;
        }
        /* A structure without a comparison cannot be judged unchanged. */
        return true;
    case WB_SETTING_SECTION:
        break;
    }
    return false;
}

const char *wb_config_restart_key(const wb_config *a, const wb_config *b)
{
    /* Section by section; within one, the scalars before the lists, so
     * that when several settings changed the one named is the one named
     * before the table. */
    for (size_t i = 0; i < wb_nsettings; i++) {
        const char *sec = wb_settings[i].key;
        if (wb_settings[i].section || wb_settings[i].type != WB_SETTING_SECTION)
            continue;
        for (int lists = 0; lists < 2; lists++)
            for (size_t j = 0; j < wb_nsettings; j++) {
                const wb_setting *s = &wb_settings[j];
                if (!s->restart || !s->section ||
                    strcmp(s->section, sec) != 0 ||
                    (s->type == WB_SETTING_STRUCT) != (lists == 1))
                    continue;
                if (setting_differs(s, a, b))
                    return s->name;
            }
    }
    return NULL;
}
