/*
 * config/names.c - names in the configuration, read as PostgreSQL reads
 * them (see config/yaml.h).
 *
 * Table names ("schema.table") follow PostgreSQL's identifier rules:
 * unquoted parts are folded to lower case, double-quoted parts keep case,
 * dots and spaces ("" is a quote).  Column, schema, publication and
 * progress table names are taken literally as written (no case folding),
 * as they appear in the catalog; one that starts with a double quote is
 * read as a quoted identifier.
 */
#include <string.h>

#include "config/yaml.h"

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
    if (o > WB_YAML_MAX_IDENT)
        return "A name is longer than 63 bytes.";
    *pi = i;
    return NULL;
}

int wb_yaml_table(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                  const char *s, wb_config_table *out)
{
    size_t n = strlen(s), i = 0;
    const char *detail;
    char *schema = wb_arena_alloc(ld->arena, n + 1);
    char *table = wb_arena_alloc(ld->arena, n + 1);

    if (!schema || !table)
        return wb_yaml_nomem(ld);
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
        wb_yaml_fail(ld, v, "invalid table name \"%s\" in \"%s\"", s, key);
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
int wb_yaml_parse_name(wb_yaml_loader *ld, const yaml_node_t *node,
                       const char *what, const char *s, size_t n, char **out)
{
    const char *detail = NULL;
    char *buf;
    size_t i = 0;

    if (memchr(s, '\0', n))
        return wb_yaml_fail(ld, node, "%s name contains a NUL character", what);
    buf = wb_arena_alloc(ld->arena, n + 1);
    if (!buf)
        return wb_yaml_nomem(ld);
    if (n > 0 && s[0] == '"') {
        detail = parse_ident(s, n, &i, buf);
        if (!detail && i < n)
            detail = "Unexpected character after a quoted name.";
    } else if (n == 0) {
        detail = "The name is empty.";
    } else if (n > WB_YAML_MAX_IDENT) {
        detail = "A name is longer than 63 bytes.";
    } else {
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    if (detail) {
        wb_yaml_fail(ld, node, "invalid %s name \"%.*s\"", what,
                     (int)(n > 200 ? 200 : n), s);
        wb_error_detail(ld->err, "%s", detail);
        return WB_ECONFIG;
    }
    *out = buf;
    return 0;
}

int wb_yaml_name(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 const char *what, char **out)
{
    char *s;
    int rc = wb_yaml_string(ld, v, key, &s);
    if (rc)
        return rc;
    return wb_yaml_parse_name(ld, v, what, s, strlen(s), out);
}
