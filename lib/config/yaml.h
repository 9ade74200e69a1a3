/*
 * config/yaml.h - the YAML reader the configuration loader is built on
 * (internal to lib/config/).
 *
 * libyaml's document API (yaml_parser_load) gives a tree in which every node
 * carries its start mark, so every error can name file:line:column of the
 * offending key or value.  This header holds the state of one load (the
 * document, the arena everything lands in, the error being filled) and the
 * readers every part of the loader shares: errors at a node, ${VAR}
 * substitution, scalars read as strings, booleans, keywords and names, the
 * keys of a map checked against a list, duplicates found in O(n log n).
 * yaml.c implements them, names.c the name rules; settings are read in
 * section.c, mappings in mapping.c, conflict.c and expr_parse.c.
 *
 * Messages follow PostgreSQL's style: short, lower case, names quoted, no
 * trailing period; hints and details are full sentences.
 */
#ifndef WALBRIDGE_CONFIG_YAML_H
#define WALBRIDGE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <yaml.h>

#include "common/arena.h"
#include "common/error.h"
#include "config/config.h"

#define WB_YAML_MAX_IDENT 63 /* PostgreSQL: NAMEDATALEN - 1 */
#define WB_YAML_MAX_KEYS  16 /* most known keys in one map */

/* One load: where errors point and where values are allocated. */
typedef struct wb_yaml_loader {
    const char *file; /* name for error positions */
    yaml_document_t *doc;
    wb_arena *arena;
    wb_error *err;
    size_t expanded; /* bytes of scalar values produced so far */
} wb_yaml_loader;

/* For duplicate detection: one name and where it was written. */
typedef struct wb_yaml_dup {
    const char *s;
    wb_config_pos pos;
    size_t order;
} wb_yaml_dup;

/* ---- nodes and characters (inline: used on every node) ------------- */

static inline wb_config_pos node_pos(const yaml_node_t *node)
{
    wb_config_pos p = {1, 1};
    if (node) {
        p.line = (int)node->start_mark.line + 1;
        p.col = (int)node->start_mark.column + 1;
    }
    return p;
}

static inline yaml_node_t *node_of(wb_yaml_loader *ld, int id)
{
    return yaml_document_get_node(ld->doc, id);
}

static inline const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* A plain scalar that YAML reads as null: empty, ~, null. */
static inline bool is_null(const yaml_node_t *n)
{
    const char *s;
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = sval(n);
    return slen(n) == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static inline size_t map_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static inline size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* ASCII only, whatever the locale: names and keywords are byte rules. */
static inline bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* ---- errors ---------------------------------------------------------- */

/* Set ld->err to WB_ECONFIG with the message at line:col (1-based) of the
 * file; returns WB_ECONFIG. */
int wb_yaml_fail_at(wb_yaml_loader *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same at node (1:1 when node is NULL). */
int wb_yaml_fail(wb_yaml_loader *ld, const yaml_node_t *node, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));

/* WB_ENOMEM with "out of memory". */
int wb_yaml_nomem(wb_yaml_loader *ld);

/* ---- the document ---------------------------------------------------- */

/*
 * Parse buf into *doc (exactly one document).  On success the caller owns
 * *doc; on failure nothing is left to free and ld->err says where.
 */
int wb_yaml_parse_document(wb_yaml_loader *ld, const char *buf, size_t len,
                           yaml_document_t *doc);

/* Reject anchors and aliases (a node referenced twice), at the anchor. */
int wb_yaml_check_aliases(wb_yaml_loader *ld);

/* ---- scalars --------------------------------------------------------- */

/* Substitute ${VAR}, ${VAR:-default} and $$ in the scalar v (the value of
 * key, for messages) into a new arena string. */
int wb_yaml_expand(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                   char **out);

/* A string (not null), after substitution. */
int wb_yaml_string(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                   char **out);

/* true/yes/on or false/no/off, any case. */
int wb_yaml_bool(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 bool *out);

/* One of names (case-insensitive); *out is its index.  On an error the
 * hint lists the names. */
int wb_yaml_enum(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 const char *const *names, size_t nnames, size_t *out);

/* ---- names (names.c) --------------------------------------------------- */

/*
 * A table name "schema.table" after PostgreSQL's identifier rules: unquoted
 * parts folded to lower case, double-quoted parts keep case, dots and
 * spaces ("" is a quote).  s is the value of key written at v.
 */
int wb_yaml_table(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                  const char *s, wb_config_table *out);

/*
 * A column-like name (s, n bytes, written at node) taken literally as it
 * appears in the catalog, or a quoted identifier when it starts with a
 * double quote.  what is "column", "schema" ... for the message.
 */
int wb_yaml_parse_name(wb_yaml_loader *ld, const yaml_node_t *node,
                       const char *what, const char *s, size_t n, char **out);

/* The string value v of key read as a name (wb_yaml_parse_name). */
int wb_yaml_name(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                 const char *what, char **out);

/* ---- maps ------------------------------------------------------------ */

/*
 * Check the keys of map against keys[nkeys] (at most WB_YAML_MAX_KEYS):
 * each a string, known ("did you mean" otherwise) and given once.  vals[i]
 * becomes the value of keys[i], or NULL when absent.  ctx names the map in
 * messages (NULL: the top level).
 */
int wb_yaml_keys(wb_yaml_loader *ld, const yaml_node_t *map, const char *ctx,
                 const char *const *keys, size_t nkeys,
                 const yaml_node_t **vals);

/* "missing required key" at map. */
int wb_yaml_missing(wb_yaml_loader *ld, const yaml_node_t *map, const char *ctx,
                    const char *key);

/* A section that must be a map.  An optional section may also be null
 * ("target:" with nothing under it), which *was_null reports. */
int wb_yaml_check_map(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      bool optional, bool *was_null);

/*
 * Sort items and find the repetition that comes first in the file: *second
 * is that repetition and *first the earlier item with the same name.
 * Returns false when all names are distinct.
 */
bool wb_yaml_find_dup(wb_yaml_dup *items, size_t n, const wb_yaml_dup **first,
                      const wb_yaml_dup **second);

#endif
