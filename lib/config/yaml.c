/*
 * config/yaml.c - the YAML reader under the configuration loader: the
 * document, errors at file:line:column, ${VAR} substitution, scalars and
 * the keys of a map (see config/yaml.h).
 *
 * Why it is built this way:
 *
 * - Validation is a plain walk over libyaml's document tree, driven by a
 *   list of known keys per map: first the keys of a map are checked
 *   (strings, known, not repeated), then the values are interpreted.  The
 *   first error stops the load; nothing is half-applied.
 * - Anchors and aliases are rejected: with the document API an alias is a
 *   second reference to the same node (even a cycle), which the walk would
 *   otherwise have to guard against, and a configuration file gains nothing
 *   from them.  They are detected by counting references to each node.
 * - ${VAR} / ${VAR:-default} substitution runs on scalar values (never on
 *   keys) before they are interpreted, in two passes (measure, then write
 *   into the arena) so that it needs no temporary buffer.  A lone "$" not
 *   followed by "{" or "$" is kept as it is.  A default is taken literally up
 *   to the first "}".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml.h"

/* All scalar values together, after substitution. */
#define MAX_EXPANDED ((size_t)16 * 1024 * 1024)
#define MAX_ENV_NAME 127

/* " in <ctx>" or " at the top level", for messages. */
#define IN_CTX(ctx) (ctx) ? " in " : " at the top level", (ctx) ? (ctx) : ""

static int fail_vpos(wb_yaml_loader *ld, int line, int col, const char *fmt,
                     va_list ap)
{
    wb_error_vset(ld->err, WB_ECONFIG, fmt, ap);
    wb_error_position(ld->err, ld->file, line, col);
    return WB_ECONFIG;
}

int wb_yaml_fail_at(wb_yaml_loader *ld, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_vpos(ld, line, col, fmt, ap);
    va_end(ap);
    return WB_ECONFIG;
}

/* Error at node (1:1 when node is NULL). */
int wb_yaml_fail(wb_yaml_loader *ld, const yaml_node_t *node, const char *fmt,
                 ...)
{
    wb_config_pos p = node_pos(node);
    va_list ap;
    va_start(ap, fmt);
    fail_vpos(ld, p.line, p.col, fmt, ap);
    va_end(ap);
    return WB_ECONFIG;
}

int wb_yaml_nomem(wb_yaml_loader *ld)
{
    return wb_error_set(ld->err, WB_ENOMEM, "out of memory");
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
    const wb_yaml_dup *a = pa, *b = pb;
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
bool wb_yaml_find_dup(wb_yaml_dup *items, size_t n, const wb_yaml_dup **first,
                      const wb_yaml_dup **second)
{
    const wb_yaml_dup *best = NULL, *best_first = NULL;
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

/*
 * Resolve the reference "${...}" starting at s[*pi]; on success *pi is past
 * the closing brace and *val, *vlen the replacement.
 */
static int env_lookup(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      const char *s, size_t n, size_t *pi, const char **val,
                      size_t *vlen)
{
    size_t start = *pi + 2, end, j;
    const char *close = memchr(s + start, '}', n - start);
    const char *ev, *def = NULL;
    size_t deflen = 0;
    char name[MAX_ENV_NAME + 1];

    if (!close) {
        wb_yaml_fail(ld, v, "unterminated \"${\" in value of \"%s\"", key);
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
        wb_yaml_fail(ld, v,
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
        wb_yaml_fail(ld, v, "environment variable \"%s\" is not set", name);
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
static int expand_pass(wb_yaml_loader *ld, const yaml_node_t *v,
                       const char *key, char *dst, size_t cap, size_t *outlen)
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
            return wb_yaml_fail(ld, v,
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
int wb_yaml_expand(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                   char **out)
{
    size_t len, len2;
    char *buf;
    int rc;

    if (memchr(sval(v), '\0', slen(v)))
        return wb_yaml_fail(ld, v, "value of \"%s\" contains a NUL character",
                            key);
    rc = expand_pass(ld, v, key, NULL, 0, &len);
    if (rc)
        return rc;
    if (len > MAX_EXPANDED - ld->expanded)
        return wb_yaml_fail(
            ld, v,
            "configuration is too large after environment variable "
            "substitution");
    ld->expanded += len;
    buf = wb_arena_alloc(ld->arena, len + 1);
    if (!buf)
        return wb_yaml_nomem(ld);
    rc = expand_pass(ld, v, key, buf, len, &len2);
    if (rc)
        return rc;
    buf[len2 < len ? len2 : len] = '\0';
    *out = buf;
    return 0;
}

int wb_yaml_string(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                   char **out)
{
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        wb_yaml_fail(ld, v, "\"%s\" must be a string", key);
        if (is_null(v))
            wb_error_hint(ld->err, "Write \"\" for an empty string.");
        return WB_ECONFIG;
    }
    return wb_yaml_expand(ld, v, key, out);
}

int wb_yaml_bool(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    char *s;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        return wb_yaml_fail(ld, v, "\"%s\" must be a boolean", key);
    rc = wb_yaml_expand(ld, v, key, &s);
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
    wb_yaml_fail(ld, v, "invalid boolean value \"%s\" for \"%s\"", s, key);
    wb_error_hint(ld->err, "Use true or false.");
    return WB_ECONFIG;
}

/* One of names (case-insensitive); *out is its index. */
int wb_yaml_enum(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 const char *const *names, size_t nnames, size_t *out)
{
    char *s, list[128];
    size_t used = 0;
    int rc;

    if (v->type != YAML_SCALAR_NODE || is_null(v))
        rc = wb_yaml_fail(ld, v, "\"%s\" must be a string", key);
    else {
        rc = wb_yaml_expand(ld, v, key, &s);
        if (rc)
            return rc;
        for (size_t i = 0; i < nnames; i++) {
            if (ieq(s, names[i])) {
                *out = i;
                return 0;
            }
        }
        rc = wb_yaml_fail(ld, v, "invalid value \"%s\" for \"%s\"", s, key);
    }
    list[0] = '\0';
    for (size_t i = 0; i < nnames && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", names[i]);
    wb_error_hint(ld->err, "Valid values are: %s.", list);
    return rc;
}

static int unknown_key(wb_yaml_loader *ld, const yaml_node_t *k,
                       const char *ctx, const char *const *keys, size_t nkeys)
{
    char list[200], guess[96] = "";
    size_t used = 0, best = 3;

    wb_yaml_fail(ld, k, "unknown key \"%s\"%s%s", sval(k), IN_CTX(ctx));
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
int wb_yaml_keys(wb_yaml_loader *ld, const yaml_node_t *map, const char *ctx,
                 const char *const *keys, size_t nkeys,
                 const yaml_node_t **vals)
{
    const yaml_node_t *knodes[WB_YAML_MAX_KEYS];

    for (size_t i = 0; i < nkeys; i++) {
        knodes[i] = NULL;
        vals[i] = NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        size_t i;

        if (k->type != YAML_SCALAR_NODE)
            return wb_yaml_fail(ld, k, "keys%s%s must be strings", IN_CTX(ctx));
        for (i = 0; i < nkeys; i++)
            if (strlen(keys[i]) == slen(k) && strcmp(keys[i], sval(k)) == 0)
                break;
        if (i == nkeys)
            return unknown_key(ld, k, ctx, keys, nkeys);
        if (knodes[i]) {
            wb_yaml_fail(ld, k, "duplicate key \"%s\"%s%s", keys[i],
                         IN_CTX(ctx));
            wb_error_detail(ld->err, "It was first given at line %d.",
                            node_pos(knodes[i]).line);
            return WB_ECONFIG;
        }
        knodes[i] = k;
        vals[i] = node_of(ld, p->value);
    }
    return 0;
}

int wb_yaml_missing(wb_yaml_loader *ld, const yaml_node_t *map, const char *ctx,
                    const char *key)
{
    if (ctx)
        return wb_yaml_fail(ld, map, "missing required key \"%s\" in %s", key,
                            ctx);
    return wb_yaml_fail(ld, map, "missing required key \"%s\"", key);
}

/*
 * A section that must be a map.  An optional section may also be null
 * ("target:" with nothing under it), which *is_null reports.
 */
int wb_yaml_check_map(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      bool optional, bool *was_null)
{
    *was_null = false;
    if (optional && is_null(v)) {
        *was_null = true;
        return 0;
    }
    if (v->type != YAML_MAPPING_NODE)
        return wb_yaml_fail(ld, v, "\"%s\" must be a map", key);
    return 0;
}

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

static int yaml_fail(wb_yaml_loader *ld, const yaml_parser_t *p,
                     const char *buf, size_t len)
{
    int line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return wb_yaml_nomem(ld);
    if (p->error == YAML_READER_ERROR) {
        offset_position(buf, len, p->problem_offset, &line, &col);
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    wb_yaml_fail_at(ld, line, col, "invalid YAML: %s",
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
int wb_yaml_check_aliases(wb_yaml_loader *ld)
{
    yaml_node_t *start = ld->doc->nodes.start, *top = ld->doc->nodes.top;
    size_t n = (size_t)(top - start);
    unsigned char *refs = wb_arena_alloc(ld->arena, n ? n : 1);

    if (!refs)
        return wb_yaml_nomem(ld);
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
            wb_yaml_fail(ld, &start[i],
                         "anchors and aliases are not supported");
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
int wb_yaml_parse_document(wb_yaml_loader *ld, const char *buf, size_t len,
                           yaml_document_t *doc)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return wb_yaml_nomem(ld);
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
            rc =
                wb_yaml_fail_at(ld, (int)extra.start_mark.line + 1,
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
