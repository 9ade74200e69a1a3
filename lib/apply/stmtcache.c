/*
 * apply/stmtcache.c - prepared statements by shape (see apply/stmtcache.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/stmtcache.h"
#include "common/log.h"

#define MAX_STATEMENTS 512
#define SQL_MAX        (64 * 1024)

struct wb_stmt {
    char *key;
    uint64_t hash;
    char name[24];
};

/* FNV-1a: statement shapes are short strings. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void wb_stmt_cache_free(wb_stmt_cache *c)
{
    for (size_t i = 0; i < WB_STMT_BUCKETS; i++) {
        if (c->buckets[i]) {
            free(c->buckets[i]->key);
            free(c->buckets[i]);
            c->buckets[i] = NULL;
        }
    }
    c->n = 0;
}

static void free_stmt(wb_stmt *s)
{
    free(s->key);
    free(s);
}

/* The text of a statement that could not be built: out of memory, or
 * past the limit. */
static int build_failed(int rc, const wb_pipe_item *prep, wb_error *err)
{
    if (rc == WB_ENOMEM)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    wb_error_set(err, WB_EDATA, "statement for mapping \"%s\" too long",
                 prep->mapping);
    wb_error_relation(err, prep->schema, prep->table);
    wb_error_lsn(err, prep->lsn);
    return WB_EDATA;
}

int wb_stmt_get(wb_stmt_cache *c, wb_pipe *p, const char *key,
                wb_stmt_build build, const void *arg, const wb_stmt_ctx *ctx,
                const char **name, wb_error *err)
{
    uint64_t h = hash_str(key);
    size_t slot;
    int rc;

    *name = NULL;
    for (slot = h % WB_STMT_BUCKETS; c->buckets[slot];
         slot = (slot + 1) % WB_STMT_BUCKETS) {
        if (c->buckets[slot]->hash == h &&
            strcmp(c->buckets[slot]->key, key) == 0) {
            *name = c->buckets[slot]->name;
            return 0;
        }
    }
    if (c->n == MAX_STATEMENTS) {
        if ((rc = wb_pipe_send(p, "DEALLOCATE ALL", 0, NULL, &c->plain, NULL,
                               err)))
            return rc;
        wb_stmt_cache_free(c);
        slot = h % WB_STMT_BUCKETS;
    }
    wb_strbuf sql = {.limit = SQL_MAX - 1}; /* and its NUL */
    wb_stmt *s = calloc(1, sizeof(*s));
    if (!s || !(s->key = strdup(key))) {
        free(s);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if ((rc = build(arg, &sql)) != 0) {
        wb_strbuf_free(&sql);
        free_stmt(s);
        return build_failed(rc, ctx->prep, err);
    }
    s->hash = h;
    snprintf(s->name, sizeof(s->name), "wb_%llu", (unsigned long long)++c->seq);
    if ((rc = wb_pipe_prepare(p, s->name, sql.data, ctx->ntypes, ctx->types,
                              ctx->prep, err)) != 0) {
        wb_strbuf_free(&sql);
        free_stmt(s);
        return rc;
    }
    wb_log(WB_LOG_DEBUG, "prepared %s: %s", s->name, sql.data);
    wb_strbuf_free(&sql);
    c->buckets[slot] = s;
    c->n++;
    c->prepared++;
    *name = s->name;
    return 0;
}

/* ------------------------------------------------------- shape keys */

/* Append s and then sep; the caller sized the buffer. */
static size_t key_put(char *k, size_t len, const char *s, char sep)
{
    size_t n = strlen(s);
    memcpy(k + len, s, n);
    k[len + n] = sep;
    return len + n + 1;
}

static size_t lookup_len(const wb_op_value *v)
{
    const wb_plugin_lookup *l = v->lookup;
    return !l        ? 0
           : l->cast ? strlen(l->cast) + 3
                     : strlen(l->schema) + strlen(l->table) + strlen(l->match) +
                           strlen(l->column) + 5;
}

/* column, then @schema.table.match.column for a lookup or ::type for a
 * cast on the target, then \x1e */
static size_t key_col(char *k, size_t len, const wb_op_value *v)
{
    const wb_plugin_lookup *l = v->lookup;
    if (!l)
        return key_put(k, len, v->column, '\x1e');
    if (l->cast) {
        len = key_put(k, len, v->column, ':');
        k[len++] = ':';
        return key_put(k, len, l->cast, '\x1e');
    }
    len = key_put(k, len, v->column, '@');
    len = key_put(k, len, l->schema, '.');
    len = key_put(k, len, l->table, '.');
    len = key_put(k, len, l->match, '.');
    return key_put(k, len, l->column, '\x1e');
}

/* Built for every change (perf: five snprintf calls a row were a fifth of
 * walbridge's CPU in the bulk case), so by plain copies. */
char *wb_stmt_shape_key(const wb_target_op *op, unsigned gen, char *buf,
                        size_t buflen)
{
    size_t n = 64 + strlen(op->schema) + strlen(op->table) +
               (op->conflict ? strlen(op->mapping) + 8 : 0);
    for (size_t i = 0; i < op->nkeys; i++)
        n += strlen(op->keys[i].column) + 1 + lookup_len(&op->keys[i]);
    for (size_t i = 0; i < op->nset; i++)
        n += strlen(op->set[i].column) + 1 + lookup_len(&op->set[i]);
    char *k = n <= buflen ? buf : malloc(n);
    if (!k)
        return NULL;
    /* "<kind><i|-><s|-><C|U|->\x1f<schema>\x1f<table>\x1f<key>\x1e...\x1f<set>\x1e..."
     */
    size_t len = 0;
    k[len++] = (char)('0' + (int)op->kind);
    k[len++] = op->insert_if_missing ? 'i' : '-';
    k[len++] = op->skip_unchanged ? 's' : '-';
    k[len++] = !op->conflict ? '-' : op->unordered ? 'U' : 'C';
    k[len++] = '\x1f';
    if (op->conflict) { /* the policy and owners: the mapping's, as of */
        char g[16];     /* this configuration */
        snprintf(g, sizeof(g), "%u", gen % 100000u);
        len = key_put(k, len, g, '\x1f');
        len = key_put(k, len, op->mapping, '\x1f');
    }
    len = key_put(k, len, op->schema, '\x1f');
    len = key_put(k, len, op->table, '\x1f');
    for (size_t i = 0; i < op->nkeys; i++)
        len = key_col(k, len, &op->keys[i]);
    k[len++] = '\x1f';
    for (size_t i = 0; i < op->nset; i++)
        len = key_col(k, len, &op->set[i]);
    k[len] = '\0';
    return k;
}
