/*
 * check/graph.c - cycles in the mapping graph (see check/graph.h).
 *
 * Nodes are the tables, numbered in the order they first appear in the
 * file; edges are (mapping, "to" table) pairs of the enabled mappings.
 * Whether an edge lies on any cycle is decided exactly and cheaply (its
 * "from" table is reachable from its "to" table); the cycles themselves are
 * then listed with the classic enumeration that starts every cycle at its
 * lowest-numbered table, walking only edges that lie on a cycle.  The
 * listing can grow exponentially on contrived graphs, so it is bounded
 * (WB_GRAPH_MAX_CYCLES, and a step budget); the verdict never is: a mapping
 * that lies on a forbidden cycle is always reported.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "check/graph.h"

/* Edge visits of the enumeration before it gives up listing. */
#define STEP_BUDGET 1000000L

typedef struct edge {
    int from, to;   /* node numbers */
    size_t mapping; /* index into cfg->mappings */
    bool on_cycle;
} edge;

typedef struct graph {
    const wb_config *cfg;
    size_t nnodes;
    const wb_config_table **nodes;
    size_t nedges;
    edge *edges;
    size_t *adj_start; /* CSR: edges of node n are adj[adj_start[n] ..
                          adj_start[n + 1]) */
    size_t *adj;
    wb_graph_report_fn report;
    void *arg;
    int errors;
    int listed;      /* cycles listed so far */
    bool truncated;  /* the listing stopped early */
    bool *named_bad; /* per mapping: named on a listed forbidden cycle */
} graph;

/* The tables of a mapping's "to": the list, or the single table of a
 * configuration built without one. */
/* An update that changes nothing writes nothing: skip_unchanged, or a
 * conflict policy (it writes only the columns whose value differs). */
static bool ends_echoes(const wb_config_mapping *m)
{
    return m->skip_unchanged || m->conflict.resolve != WB_CONFLICT_NONE;
}

static size_t tos_of(const wb_config_mapping *m, const wb_config_table **out)
{
    if (m->nto > 0 && m->tos) {
        *out = m->tos;
        return m->nto;
    }
    *out = &m->to;
    return 1;
}

static bool same_table(const wb_config_table *a, const wb_config_table *b)
{
    return strcmp(a->schema, b->schema) == 0 && strcmp(a->table, b->table) == 0;
}

/* The node number of t, added when new; -1 when out of memory. */
static int node_of(graph *g, const wb_config_table *t, size_t cap)
{
    for (size_t i = 0; i < g->nnodes; i++)
        if (same_table(g->nodes[i], t))
            return (int)i;
    if (g->nnodes >= cap)
        return -1;
    g->nodes[g->nnodes] = t;
    return (int)g->nnodes++;
}

static int build(graph *g)
{
    const wb_config *cfg = g->cfg;
    size_t cap = 0;

    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_table *tos;
        if (cfg->mappings[i].enabled)
            cap += 1 + tos_of(&cfg->mappings[i], &tos);
    }
    g->nodes = calloc(cap + 1, sizeof(*g->nodes));
    g->edges = calloc(cap + 1, sizeof(*g->edges));
    g->named_bad = calloc(cfg->nmappings + 1, sizeof(*g->named_bad));
    if (!g->nodes || !g->edges || !g->named_bad)
        return WB_ENOMEM;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        const wb_config_table *tos;
        if (!m->enabled)
            continue;
        size_t nto = tos_of(m, &tos);
        int from = node_of(g, &m->from, cap);
        for (size_t j = 0; j < nto; j++) {
            bool dup = false;
            /* The same table listed twice is one way for changes to go,
             * not two cycles. */
            for (size_t k = 0; k < j && !dup; k++)
                dup = same_table(&tos[k], &tos[j]);
            if (dup)
                continue;
            int to = node_of(g, &tos[j], cap);
            if (from < 0 || to < 0)
                return WB_ENOMEM;
            g->edges[g->nedges++] = (edge){from, to, i, false};
        }
    }
    g->adj_start = calloc(g->nnodes + 2, sizeof(*g->adj_start));
    g->adj = calloc(g->nedges + 1, sizeof(*g->adj));
    if (!g->adj_start || !g->adj)
        return WB_ENOMEM;
    for (size_t e = 0; e < g->nedges; e++)
        g->adj_start[g->edges[e].from + 1]++;
    for (size_t n = 0; n < g->nnodes; n++)
        g->adj_start[n + 1] += g->adj_start[n];
    {
        size_t *fill = calloc(g->nnodes + 1, sizeof(*fill));
        if (!fill)
            return WB_ENOMEM;
        /* Edges keep file order within a node, so cycles are listed in a
         * stable, readable order. */
        for (size_t e = 0; e < g->nedges; e++) {
            int f = g->edges[e].from;
            g->adj[g->adj_start[f] + fill[f]++] = e;
        }
        free(fill);
    }
    return 0;
}

/* Mark the edges that lie on some cycle: to reaches from.  One search per
 * edge; configurations have tens of mappings, not thousands. */
static int mark_cycle_edges(graph *g)
{
    int *queue = calloc(g->nnodes + 1, sizeof(*queue));
    bool *seen = calloc(g->nnodes + 1, sizeof(*seen));
    if (!queue || !seen) {
        free(queue);
        free(seen);
        return WB_ENOMEM;
    }
    for (size_t e = 0; e < g->nedges; e++) {
        size_t head = 0, tail = 0;
        int goal = g->edges[e].from;
        memset(seen, 0, g->nnodes * sizeof(*seen));
        queue[tail++] = g->edges[e].to;
        seen[g->edges[e].to] = true;
        while (head < tail && !g->edges[e].on_cycle) {
            int n = queue[head++];
            if (n == goal) {
                g->edges[e].on_cycle = true;
                break;
            }
            for (size_t k = g->adj_start[n]; k < g->adj_start[n + 1]; k++) {
                int v = g->edges[g->adj[k]].to;
                if (!seen[v]) {
                    seen[v] = true;
                    queue[tail++] = v;
                }
            }
        }
    }
    free(queue);
    free(seen);
    return 0;
}

/* Report the cycle made of the edges path[0..n). */
static void report_cycle(graph *g, const size_t *path, size_t n)
{
    const wb_config *cfg = g->cfg;
    const wb_config_mapping *first_bad = NULL;
    wb_error p;
    /* Unbounded here: wb_error cuts the message and detail to its size. */
    wb_strbuf msg = {0}, detail = {0};

    for (size_t i = 0; i < n && !first_bad; i++) {
        const wb_config_mapping *m = &cfg->mappings[g->edges[path[i]].mapping];
        if (!ends_echoes(m))
            first_bad = m;
    }
    wb_error_clear(&p);
    wb_strbuf_append_fmt(&msg, "cycle in the mapping graph: %s.%s",
                         g->nodes[g->edges[path[0]].from]->schema,
                         g->nodes[g->edges[path[0]].from]->table);
    for (size_t i = 0; i < n; i++) {
        const wb_config_table *t = g->nodes[g->edges[path[i]].to];
        wb_strbuf_append_fmt(&msg, " -> %s.%s", t->schema, t->table);
    }
    if (!first_bad)
        wb_strbuf_add(
            &msg,
            " (allowed: every mapping on it sets skip_unchanged or conflict)");
    wb_error_set(&p, first_bad ? WB_ECONFIG : 0, "%s", wb_strbuf_str(&msg));

    wb_strbuf_add(&detail, "Mappings on the cycle:");
    for (size_t i = 0; i < n; i++) {
        size_t mi = g->edges[path[i]].mapping;
        const wb_config_mapping *m = &cfg->mappings[mi];
        wb_strbuf_append_fmt(&detail, "%s \"%s\" (%s:%d:%d%s)", i ? "," : "",
                             m->name, cfg->path ? cfg->path : "", m->pos.line,
                             m->pos.col,
                             ends_echoes(m) ? "" : ", no skip_unchanged");
        if (first_bad)
            g->named_bad[mi] = g->named_bad[mi] || !ends_echoes(m);
    }
    wb_strbuf_add(&detail, ".");
    wb_error_detail(&p, "%s", wb_strbuf_str(&detail));
    wb_strbuf_free(&msg);
    wb_strbuf_free(&detail);

    const wb_config_mapping *at =
        first_bad ? first_bad : &cfg->mappings[g->edges[path[0]].mapping];
    wb_error_position(&p, cfg->path, at->pos.line, at->pos.col);
    if (first_bad) {
        wb_error_hint(&p, "Set \"skip_unchanged: true\" on every mapping of "
                          "the cycle, so that echoes end (see \"Mapping "
                          "cycles\" in the README).");
        g->errors++;
    }
    if (g->report)
        g->report(g->arg, first_bad ? WB_LOG_ERROR : WB_LOG_INFO, &p);
}

/* List the cycles whose lowest-numbered table is s. */
static int cycles_from(graph *g, int s, long *steps)
{
    size_t *path = calloc(g->nnodes + 1, sizeof(*path)); /* edges */
    size_t *next = calloc(g->nnodes + 1, sizeof(*next)); /* per depth */
    int *at = calloc(g->nnodes + 1, sizeof(*at));        /* per depth */
    bool *on_path = calloc(g->nnodes + 1, sizeof(*on_path));
    size_t depth = 0;

    if (!path || !next || !at || !on_path) {
        free(path);
        free(next);
        free(at);
        free(on_path);
        return WB_ENOMEM;
    }
    at[0] = s;
    next[0] = g->adj_start[s];
    on_path[s] = true;
    for (;;) {
        int u = at[depth];
        if (next[depth] >= g->adj_start[u + 1]) {
            /* Every edge out of u tried: step back. */
            on_path[u] = false;
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        size_t e = g->adj[next[depth]++];
        int v = g->edges[e].to;
        if (!g->edges[e].on_cycle || v < s)
            continue;
        if (++*steps > STEP_BUDGET || g->listed >= WB_GRAPH_MAX_CYCLES) {
            g->truncated = true;
            break;
        }
        path[depth] = e;
        if (v == s) {
            g->listed++;
            report_cycle(g, path, depth + 1);
        } else if (!on_path[v]) {
            depth++;
            at[depth] = v;
            next[depth] = g->adj_start[v];
            on_path[v] = true;
        }
    }
    free(path);
    free(next);
    free(at);
    free(on_path);
    return 0;
}

/* Mappings on a forbidden cycle that the bounded listing did not name. */
static void report_unlisted(graph *g)
{
    const wb_config *cfg = g->cfg;
    for (size_t e = 0; e < g->nedges; e++) {
        size_t mi = g->edges[e].mapping;
        const wb_config_mapping *m = &cfg->mappings[mi];
        if (!g->edges[e].on_cycle || ends_echoes(m) || g->named_bad[mi])
            continue;
        g->named_bad[mi] = true;
        wb_error p;
        wb_error_clear(&p);
        wb_error_set(&p, WB_ECONFIG,
                     "mapping \"%s\" is on a cycle in the mapping graph and "
                     "does not set skip_unchanged",
                     m->name);
        wb_error_detail(&p,
                        "The graph has more cycles than are listed "
                        "(at most %d).",
                        WB_GRAPH_MAX_CYCLES);
        wb_error_hint(&p, "Set \"skip_unchanged: true\" on every mapping of "
                          "the cycle, so that echoes end (see \"Mapping "
                          "cycles\" in the README).");
        wb_error_position(&p, cfg->path, m->pos.line, m->pos.col);
        g->errors++;
        if (g->report)
            g->report(g->arg, WB_LOG_ERROR, &p);
    }
}

int wb_graph_check(const wb_config *cfg, wb_graph_report_fn report, void *arg)
{
    graph g;
    long steps = 0;
    int rc;

    /* With a target database of its own, every edge goes from the source's
     * tables to the target's: a table there is not the same table as one
     * of that name in the source, and no cycle can close. */
    if (cfg->target.conninfo && cfg->target.conninfo[0] &&
        strcmp(cfg->target.conninfo, cfg->source.conninfo) != 0)
        return 0;
    memset(&g, 0, sizeof(g));
    g.cfg = cfg;
    g.report = report;
    g.arg = arg;
    rc = build(&g);
    if (rc == 0)
        rc = mark_cycle_edges(&g);
    for (size_t s = 0; rc == 0 && s < g.nnodes && !g.truncated; s++)
        rc = cycles_from(&g, (int)s, &steps);
    if (rc == 0 && g.truncated)
        report_unlisted(&g);
    free(g.nodes);
    free(g.edges);
    free(g.adj_start);
    free(g.adj);
    free(g.named_bad);
    return rc ? rc : g.errors;
}
