/*
 * check/binary.c - the choice between text and binary values (see
 * check/binary.h): one catalog query per database, then a pure decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "check/binary.h"
#include "common/bintext.h"
#include "common/conn.h"
#include "common/pgarray.h"
#include "common/strbuf.h"

/* OIDs below this are the built-in ones (FirstNormalObjectId): the same
 * in every database of every release walbridge reads. */
#define FIRST_NORMAL_OID 16384u

void wb_binary_plan_free(wb_binary_plan *plan)
{
    for (size_t i = 0; plan->types && i < plan->nmappings; i++) {
        free(plan->types[i]);
        free(plan->text[i]);
    }
    free(plan->types);
    free(plan->text);
    plan->types = NULL;
    plan->text = NULL;
    plan->nmappings = 0;
}

static const wb_binary_col *find(const wb_binary_col *cols, size_t n,
                                 const wb_config_table *t, const char *column)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].column, column) == 0 &&
            strcmp(cols[i].table, t->table) == 0 &&
            strcmp(cols[i].schema, t->schema) == 0)
            return &cols[i];
    return NULL;
}

/* Can mapping m not copy values in binary?  Then why, in why. */
static bool mapping_text(const wb_config_mapping *m, char *why, size_t len)
{
    const char *what = m->plugin.path ? "uses a plugin, which reads text"
                       : m->nvalues   ? "computes values"
                       : m->filter    ? "has a filter"
                       : m->conflict.resolve != WB_CONFLICT_NONE
                           ? "resolves conflicts, which compares text"
                       : m->on_delete.action == WB_ON_DELETE_SOFT ||
                               m->on_filter_out.action == WB_ON_DELETE_SOFT
                           ? "soft-deletes rows with values of its own"
                           : NULL;
    if (what)
        snprintf(why, len, "mapping \"%s\" %s", m->name, what);
    return what != NULL;
}

/* text, varchar and bpchar share one binary format (the characters), as
 * they share the text one: a value of one is a value of the others. */
static bool textual(uint32_t t)
{
    return t == 25 || t == 1042 || t == 1043;
}

static bool same_format(uint32_t a, uint32_t b)
{
    return a == b || (textual(a) && textual(b));
}

/* Why the pair cannot travel in binary, or false; *conv: it can, in its
 * text form. */
static bool pair_text(const wb_config_mapping *m, const wb_config_colmap *cm,
                      const wb_binary_col *s, const wb_binary_col *t,
                      bool same_db, bool *conv, char *why, size_t len)
{
    *conv = false;
    if (!s || !t) {
        snprintf(why, len, "column \"%s\" of mapping \"%s\" was not found",
                 s ? cm->to : cm->from, m->name);
        return true;
    }
    if (!same_format(s->typoid, t->typoid) && textual(t->typoid) &&
        wb_bintext_supported(s->typoid) && s->has_send) {
        *conv = true;
        return false;
    }
    if (!same_format(s->typoid, t->typoid)) {
        snprintf(why, len,
                 "mapping \"%s\" copies column \"%s\" (type %s) into column "
                 "\"%s\" of another type (%s)",
                 m->name, cm->from, s->type, cm->to, t->type);
        return true;
    }
    if (!same_db && s->typoid >= FIRST_NORMAL_OID) {
        snprintf(why, len,
                 "column \"%s\" of mapping \"%s\" has type %s, which is not "
                 "built in, and the target is another database",
                 cm->from, m->name, s->type);
        return true;
    }
    if (!s->has_send || !t->has_recv) {
        snprintf(why, len,
                 "type %s of column \"%s\" of mapping \"%s\" has no "
                 "binary format",
                 s->type, cm->from, m->name);
        return true;
    }
    return false;
}

int wb_binary_decide(const wb_config *cfg, const wb_binary_col *src,
                     size_t nsrc, const wb_binary_col *tgt, size_t ntgt,
                     bool same_db, wb_binary_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    if (cfg->source.binary == WB_BINARY_OFF) {
        snprintf(plan->reason, sizeof(plan->reason), "source.binary is off");
        return 0;
    }
    size_t nm = cfg->nmappings ? cfg->nmappings : 1;
    plan->types = calloc(nm, sizeof(*plan->types));
    plan->text = calloc(nm, sizeof(*plan->text));
    if (!plan->types || !plan->text) {
        free(plan->types);
        free(plan->text);
        plan->types = NULL;
        plan->text = NULL;
        return WB_ENOMEM;
    }
    plan->nmappings = cfg->nmappings;
    bool any = false;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled)
            continue;
        any = true;
        if (mapping_text(m, plan->reason, sizeof(plan->reason)))
            goto text;
        size_t n = m->nkeys + m->ncolumns;
        if (!(plan->types[i] = calloc(n ? n : 1, sizeof(uint32_t))) ||
            !(plan->text[i] = calloc(n ? n : 1, 1)))
            goto oom;
        for (size_t k = 0; k < n; k++) {
            const wb_config_colmap *cm =
                k < m->nkeys ? &m->keys[k] : &m->columns[k - m->nkeys];
            const wb_binary_col *s = find(src, nsrc, &m->from, cm->from);
            const wb_binary_col *t = find(tgt, ntgt, &m->to, cm->to);
            bool conv;
            if (pair_text(m, cm, s, t, same_db, &conv, plan->reason,
                          sizeof(plan->reason)))
                goto text;
            plan->types[i][k] = s->typoid;
            plan->text[i][k] = conv;
        }
    }
    if (!any) {
        snprintf(plan->reason, sizeof(plan->reason), "no mapping is enabled");
        goto text;
    }
    plan->binary = true;
    return 0;
text:
    wb_binary_plan_free(plan);
    return 0;
oom:
    wb_binary_plan_free(plan);
    return WB_ENOMEM;
}

/* The columns of the relations of one side (from or to of every enabled
 * mapping), in cols (allocated; strings point into *res). */
static int read_side(PGconn *conn, const wb_config *cfg, bool target,
                     PGresult **res, wb_binary_col **cols, size_t *ncols,
                     wb_error *err)
{
    wb_strbuf s = {0}, t = {0};
    int rc = 0;
    for (size_t i = 0; i < cfg->nmappings && rc == 0; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled)
            continue;
        const wb_config_table *tb = target ? &m->to : &m->from;
        rc = wb_pgarray_add(&s, tb->schema);
        if (rc == 0)
            rc = wb_pgarray_add(&t, tb->table);
    }
    if (rc == 0)
        rc = wb_pgarray_finish(&s);
    if (rc == 0)
        rc = wb_pgarray_finish(&t);
    if (rc) {
        wb_strbuf_free(&s);
        wb_strbuf_free(&t);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    const char *p[2] = {s.data, t.data};
    rc = wb_conn_expect(
        conn,
        PQexecParams(conn,
                     "SELECT n.nspname, c.relname, a.attname, a.atttypid, "
                     "t.typsend <> 0, t.typreceive <> 0, "
                     "pg_catalog.format_type(a.atttypid, NULL) "
                     "FROM pg_catalog.pg_attribute a "
                     "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                     "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
                     "WHERE (n.nspname, c.relname) IN "
                     "(SELECT * FROM ROWS FROM ("
                     "pg_catalog.unnest($1::pg_catalog.text[]), "
                     "pg_catalog.unnest($2::pg_catalog.text[]))) "
                     "AND a.attnum > 0 AND NOT a.attisdropped",
                     2, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, res,
        target ? "could not read the target's column types"
               : "could not read the source's column types",
        err);
    wb_strbuf_free(&s);
    wb_strbuf_free(&t);
    if (rc)
        return rc;
    int n = PQntuples(*res);
    if (!(*cols = calloc(n ? (size_t)n : 1, sizeof(**cols)))) {
        PQclear(*res);
        *res = NULL;
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        (*cols)[i] = (wb_binary_col){
            PQgetvalue(*res, i, 0),
            PQgetvalue(*res, i, 1),
            PQgetvalue(*res, i, 2),
            (uint32_t)strtoul(PQgetvalue(*res, i, 3), NULL, 10),
            PQgetvalue(*res, i, 4)[0] == 't',
            PQgetvalue(*res, i, 5)[0] == 't',
            PQgetvalue(*res, i, 6),
        };
    *ncols = (size_t)n;
    return 0;
}

/* wb_binary_choose on connections already open (target may be source). */
static int choose_on(const wb_config *cfg, PGconn *source, PGconn *target,
                     wb_binary_plan *plan, wb_error *err)
{
    PGresult *sres = NULL, *tres = NULL;
    wb_binary_col *scols = NULL, *tcols = NULL;
    size_t ns = 0, nt = 0;
    int rc;

    memset(plan, 0, sizeof(*plan));
    if (cfg->source.binary == WB_BINARY_OFF)
        return wb_binary_decide(cfg, NULL, 0, NULL, 0, false, plan);
    if ((rc = read_side(source, cfg, false, &sres, &scols, &ns, err)) == 0 &&
        (rc = read_side(target, cfg, true, &tres, &tcols, &nt, err)) == 0 &&
        (rc = wb_binary_decide(cfg, scols, ns, tcols, nt, target == source,
                               plan)) != 0)
        wb_error_set(err, rc, "out of memory");
    free(scols);
    free(tcols);
    PQclear(sres);
    PQclear(tres);
    return rc;
}

int wb_binary_choose(const wb_config *cfg, wb_binary_plan *plan, wb_error *err)
{
    const char *tci = cfg->target.conninfo;
    bool separate = tci && *tci && strcmp(tci, cfg->source.conninfo) != 0;
    memset(plan, 0, sizeof(*plan));
    if (cfg->source.binary == WB_BINARY_OFF)
        return wb_binary_decide(cfg, NULL, 0, NULL, 0, false, plan);
    PGconn *s =
        wb_conn_open(cfg->source.conninfo, false, "walbridge", "source", err);
    if (!s)
        return err && err->code ? err->code : WB_ECONN;
    PGconn *t = s;
    if (separate &&
        !(t = wb_conn_open(tci, false, "walbridge", "target", err))) {
        PQfinish(s);
        return err && err->code ? err->code : WB_ECONN;
    }
    int rc = choose_on(cfg, s, t, plan, err);
    if (t != s)
        PQfinish(t);
    PQfinish(s);
    return rc;
}
