/*
 * config/conflict.c - a mapping's "conflict:" policy: how a target row that
 * someone else changed is settled (see wb_config_conflict in
 * config/config.h).
 *
 * Read apart from the rest of the mapping because it is a small language of
 * its own (a policy, what "newer" means, which side owns which column) and
 * checked against the mapping's target columns once they are all known.
 */
#include <string.h>

#include "config/load.h"

/* owners: { source: [col, ...], target: [col, ...] } */
static int get_owned(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                     char ***out, wb_config_pos **pos, size_t *n)
{
    size_t k = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return wb_yaml_fail(ld, v,
                            "\"%s\" of \"owners\" must be a list of target "
                            "columns",
                            key);
    *n = seq_len(v);
    *out = wb_arena_alloc(ld->arena, (*n ? *n : 1) * sizeof(**out));
    *pos = wb_arena_alloc(ld->arena, (*n ? *n : 1) * sizeof(**pos));
    if (!*out || !*pos)
        return wb_yaml_nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc = wb_yaml_string(ld, e, key, &(*out)[k]);
        if (rc)
            return rc;
        if (!(*out)[k][0])
            return wb_yaml_fail(ld, e, "empty column name in \"owners\"");
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
int wb_conflict_load(wb_yaml_loader *ld, const yaml_node_t *v,
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
        wb_yaml_fail(ld, v, "\"conflict\" must be a map");
        wb_error_hint(ld->err, "Write conflict: { resolve: last_writer_wins, "
                               "by: commit_time }.");
        return WB_ECONFIG;
    }
    if ((rc = wb_yaml_keys(ld, v, "\"conflict\"", keys, 3, kv)) != 0)
        return rc;
    out->resolve = WB_CONFLICT_SOURCE_WINS;
    if (kv[0]) {
        if ((rc = wb_yaml_enum(ld, kv[0], "resolve", policies, 3, &idx)) != 0)
            return rc;
        out->resolve = (wb_conflict_resolve)(WB_CONFLICT_SOURCE_WINS + idx);
    }
    if (out->resolve == WB_CONFLICT_LAST_WRITER_WINS) {
        if (!kv[1]) {
            wb_yaml_missing(ld, v, "\"conflict\"", "by");
            wb_error_hint(ld->err, "last_writer_wins compares commit "
                                   "timestamps (by: commit_time) or a column "
                                   "(by: { source: updated_at, target: "
                                   "updated_at }).");
            return WB_ECONFIG;
        }
        out->by_pos = node_pos(kv[1]);
        if (kv[1]->type == YAML_SCALAR_NODE) {
            static const char *const by[] = {"commit_time"};
            if ((rc = wb_yaml_enum(ld, kv[1], "by", by, 1, &idx)) != 0) {
                wb_error_hint(ld->err, "Write by: commit_time, or by: { "
                                       "source: column, target: column }.");
                return rc;
            }
            out->by_commit_time = true;
        } else if (kv[1]->type == YAML_MAPPING_NODE) {
            static const char *const bykeys[] = {"source", "target"};
            const yaml_node_t *bv[2];
            if ((rc = wb_yaml_keys(ld, kv[1], "\"by\"", bykeys, 2, bv)) != 0)
                return rc;
            if (!bv[0])
                return wb_yaml_missing(ld, kv[1], "\"by\"", "source");
            if ((rc = wb_yaml_string(ld, bv[0], "source", &out->by_source)) !=
                0)
                return rc;
            if (bv[1]) {
                if ((rc = wb_yaml_string(ld, bv[1], "target", &out->by_target)))
                    return rc;
            } else {
                out->by_target = out->by_source;
            }
            if (!out->by_source[0] || !out->by_target[0])
                return wb_yaml_fail(ld, kv[1], "empty column name in \"by\"");
        } else {
            return wb_yaml_fail(ld, kv[1],
                                "\"by\" must be commit_time or a map");
        }
    } else if (kv[1]) {
        wb_yaml_fail(ld, kv[1], "\"by\" applies to last_writer_wins only");
        return WB_ECONFIG;
    }
    if (kv[2]) {
        static const char *const okeys[] = {"source", "target"};
        const yaml_node_t *ov[2];
        if (kv[2]->type != YAML_MAPPING_NODE)
            return wb_yaml_fail(ld, kv[2], "\"owners\" must be a map");
        if ((rc = wb_yaml_keys(ld, kv[2], "\"owners\"", okeys, 2, ov)) != 0)
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
int wb_conflict_check_columns(wb_yaml_loader *ld, const wb_config_mapping *m)
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
