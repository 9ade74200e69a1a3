/*
 * apply/link.h - key links that are retried: lookups whose parent row is not
 * linked yet.
 *
 * A lookup (values: { account__c: { lookup: { table: salesforce.account,
 * match: external_id__c, column: sfid }, from: user_id } }) is resolved on
 * the target when the child row is written.  When the parent is there but
 * has no sfid yet (Heroku Connect assigns it once Salesforce has the
 * record), or is not there yet, the child is written with NULL and a
 * pending link is recorded in the same target transaction, in
 * <progress_schema>.pending_link: the child's key, the column, the match
 * value.  Whenever a change of the lookup table reaches walbridge (the
 * parent's sfid arriving is such a change), the batch it is applied in
 * also resolves every pending link of that lookup that can now be
 * resolved, filling only columns that are still NULL (a later change of
 * the child wins over a stale link), and deletes them.  So a link is
 * never dropped, and never applied twice: pending rows live and die in the
 * same transactions as the rows they are about.
 *
 * This header is the links' SQL; link.c also notes and resolves them in
 * the applier's batches (apply/apply_int.h).
 */
#ifndef WALBRIDGE_LINK_INT_H
#define WALBRIDGE_LINK_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

#include "config/expr_ast.h" /* users read e->lookup */
#include "common/strbuf.h"

/* One lookup value of one mapping. */
typedef struct wb_link {
    const wb_config_mapping *m;
    const wb_expr *e;   /* the lookup expression (e->lookup) */
    const char *column; /* the target column it fills */
    bool due;           /* resolve in the open batch */
} wb_link;

/* The links of cfg's enabled built-in mappings; *out malloc'd (NULL, 0
 * when there are none).  WB_ENOMEM. */
int wb_link_collect(const wb_config *cfg, wb_link **out, size_t *n);

/* The pending table's DDL (pending_rel: wb_names_rel's
 * "schema".pending_link). */
int wb_link_create_sql(const char *pending_rel, wb_strbuf *b);

/*
 * Noting a write of the link's column: $1 the child's key values (text[]
 * in key order), $2 the match value (text), $3 the source LSN, $4 the
 * match value again (typed by the lookup's match column).  Records the
 * link when it cannot be resolved now, forgets an older one when it can
 * or the match value is NULL.
 */
int wb_link_note_sql(const char *pending_rel, const wb_link *l, wb_strbuf *b);

/* Resolving every pending link of l that can be resolved (no
 * parameters); the command tag counts the child rows filled.  Both append
 * to b and return its error (0, WB_ENOMEM, WB_ELIMIT). */
int wb_link_resolve_sql(const char *pending_rel, const wb_link *l,
                        wb_strbuf *b);

#endif
