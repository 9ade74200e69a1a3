/*
 * map/change.c - a decoded change as the plugin ABI's wb_plugin_change
 * (see map/change.h).
 *
 * Column names, types and values point into the decoder's relation and
 * tuples; only the arrays are made, in the per-message arena.  An
 * unchanged TOAST value becomes WB_PLUGIN_VALUE_UNCHANGED and a column a
 * 'K' old tuple does not carry WB_PLUGIN_VALUE_ABSENT, never a NULL.
 * A binary value is passed as WB_PLUGIN_VALUE_TEXT only when the router
 * says binary values are expected (only built-in mappings that copy values
 * unchanged read them, check/binary.h); its header (common/value.h) tells
 * the applier its format and length.
 */
#include <stdbool.h>
#include <string.h>

#include "map/change.h"

static int data_error(wb_error *err, const wb_change *c, const char *column,
                      const char *fmt, const char *a)
{
    wb_error_set(err, WB_EDATA, fmt, a);
    wb_error_relation(err, c->rel->nspname, c->rel->relname);
    if (column)
        wb_error_column(err, column);
    wb_error_lsn(err, c->lsn);
    return WB_EDATA;
}

/* A decoder tuple as ABI values; key_only: a 'K' tuple, whose non-key
 * columns are not sent. */
static int convert_row(const wb_change *c, const wb_tuple *t, bool key_only,
                       bool binary, wb_arena *arena, wb_plugin_value **out,
                       wb_error *err)
{
    const wb_pgoutput_relation *rel = c->rel;
    wb_plugin_value *v = wb_arena_alloc(arena, (rel->natts + 1) * sizeof(*v));
    if (!v)
        return wb_error_set(err, WB_ENOMEM, "out of memory routing a change");
    for (int i = 0; i < rel->natts; i++) {
        const wb_tuple_value *tv = i < t->ncols ? &t->cols[i] : NULL;
        v[i].text = NULL;
        if (!tv || (key_only && !(rel->atts[i].flags & WB_PGO_COLUMN_KEY))) {
            v[i].kind = WB_PLUGIN_VALUE_ABSENT;
            continue;
        }
        switch (tv->kind) {
        case WB_TUPLE_NULL:
            v[i].kind = WB_PLUGIN_VALUE_NULL;
            break;
        case WB_TUPLE_TEXT:
            v[i].kind = WB_PLUGIN_VALUE_TEXT;
            v[i].text = tv->data;
            break;
        case WB_TUPLE_UNCHANGED:
            v[i].kind = WB_PLUGIN_VALUE_UNCHANGED;
            break;
        case WB_TUPLE_BINARY:
            if (binary) {
                v[i].kind = WB_PLUGIN_VALUE_TEXT;
                v[i].text = tv->data;
                break;
            }
            /* fall through */
        default:
            return data_error(err, c, rel->atts[i].name,
                              "column \"%s\" arrived in binary format, which "
                              "is not supported",
                              rel->atts[i].name);
        }
    }
    *out = v;
    return 0;
}

int wb_change_for_plugin(const wb_change *c, bool binary, wb_arena *arena,
                         wb_plugin_change *pc, wb_error *err)
{
    const wb_pgoutput_relation *rel = c->rel;
    const char **names =
        wb_arena_alloc(arena, (rel->natts + 1) * sizeof(*names));
    uint32_t *types = wb_arena_alloc(arena, (rel->natts + 1) * sizeof(*types));
    uint8_t *is_key = wb_arena_alloc(arena, rel->natts + 1);
    wb_plugin_value *oldv = NULL, *newv = NULL;
    int rc;

    if (!names || !types || !is_key)
        return wb_error_set(err, WB_ENOMEM, "out of memory routing a change");
    for (int i = 0; i < rel->natts; i++) {
        names[i] = rel->atts[i].name;
        types[i] = rel->atts[i].typoid;
        is_key[i] = (rel->atts[i].flags & WB_PGO_COLUMN_KEY) ? 1 : 0;
    }
    if (c->oldtup && (rc = convert_row(c, c->oldtup, c->oldkind == 'K', binary,
                                       arena, &oldv, err)) != 0)
        return rc;
    if (c->newtup &&
        (rc = convert_row(c, c->newtup, false, binary, arena, &newv, err)) != 0)
        return rc;
    memset(pc, 0, sizeof(*pc));
    pc->size = sizeof(*pc);
    pc->op = (char)c->kind;
    pc->schema = rel->nspname;
    pc->table = rel->relname;
    pc->relid = rel->relid;
    pc->rel_version = c->rel_version;
    pc->ncols = rel->natts;
    pc->names = names;
    pc->type_oids = types;
    pc->is_key = is_key;
    pc->oldv = oldv;
    pc->newv = newv;
    pc->lsn = c->lsn;
    pc->commit_time = wb_pgtime_to_unix_us(c->commit_time);
    return 0;
}
