/*
 * config/load.h - the parts of the configuration loader, as config.c calls
 * them (internal to lib/config/).
 *
 * config.c reads the file and walks the top level; the settings sections
 * go through the settings table (section.c), the "mappings" list through
 * the mapping compiler (mapping.c, with conflict.c for a mapping's conflict
 * policy and expr_parse.c for its value expressions).  Each returns 0 or
 * WB_ECONFIG / WB_ENOMEM with ld->err set at the offending node.
 */
#ifndef WALBRIDGE_CONFIG_LOAD_H
#define WALBRIDGE_CONFIG_LOAD_H

#include "config/config.h"
#include "config/expr_ast.h"
#include "config/settings.h"
#include "config/yaml.h"

/* ---- settings (section.c) ---------------------------------------------- */

/*
 * The rows of section (NULL: the top level) in table order, with their
 * keys for wb_yaml_keys (both arrays of WB_YAML_MAX_KEYS).  Returns how
 * many.
 */
size_t wb_settings_rows(const char *section, const wb_setting **rows,
                        const char **keys);

/* Every row's default into cfg (rows without one are left alone). */
int wb_settings_defaults(wb_yaml_loader *ld, wb_config *cfg);

/*
 * One section (a map) through the table: its keys checked (unknown keys
 * with "did you mean", duplicates), required keys, then every value given,
 * in table order.  Absent keys keep their defaults.
 */
int wb_settings_load_section(wb_yaml_loader *ld, const yaml_node_t *map,
                             const char *section, wb_config *cfg);

/* ---- mappings (mapping.c, conflict.c, expr_parse.c) -------------------- */

/* The "mappings" list into cfg->mappings; names must be distinct. */
int wb_mappings_load(wb_yaml_loader *ld, const yaml_node_t *seq,
                     wb_config *cfg);

/* A mapping's "conflict:" map into *out. */
int wb_conflict_load(wb_yaml_loader *ld, const yaml_node_t *v,
                     wb_config_conflict *out);

/* The columns conflict names against m's target columns. */
int wb_conflict_check_columns(wb_yaml_loader *ld, const wb_config_mapping *m);

/*
 * A value expression: a scalar names a source column; a map has exactly
 * one function key (see config/expr_ast.h) plus that function's modifiers.
 * The whole expression of a target column (where date casts and lookups
 * are allowed).
 */
int wb_expr_parse(wb_yaml_loader *ld, const yaml_node_t *n, wb_expr **out);

/* A constant (soft-delete values): a scalar, YAML null for SQL NULL. */
int wb_expr_parse_const(wb_yaml_loader *ld, const yaml_node_t *n,
                        const char *key, wb_expr **out);

#endif
