/*
 * common/names.h - the names of walbridge's own objects on the target.
 *
 * One place, so that the applier that writes them, `walbridge status`
 * that reads them and the dispatcher that recognises walbridge's own
 * transactions agree.  The tables live in target.progress_schema; the
 * progress table itself is named by target.progress_table (its default,
 * like the schema's, is in config/settings.c).  Written unquoted after the
 * quoted schema: they are plain lower-case names.
 */
#ifndef WALBRIDGE_NAMES_H
#define WALBRIDGE_NAMES_H

#include "common/strbuf.h"

/* Lookups that missed, retried later (apply/link.h). */
#define WB_OWN_PENDING_LINK "pending_link"
/* Per target row and column, the commit LSN of its value
 * (last_writer_wins by commit time, apply/conflict.c). */
#define WB_OWN_COLUMN_CLOCK "column_clock"
/* The source's system identifier and timeline per slot (progress.h). */
#define WB_OWN_SOURCE_IDENTITY "source_identity"

/* Prefix of the transactional logical message that starts every batch:
 * it marks walbridge's own transactions when no replication origin can
 * be used (dispatch.c skips them when they come back). */
#define WB_MARKER_PREFIX "walbridge"

/* Does the relation $1 (quoted "schema"."table") exist? */
#define WB_SQL_REL_EXISTS "SELECT to_regclass($1) IS NOT NULL"

/* Append CREATE SCHEMA IF NOT EXISTS "schema" to b; the buffer's error. */
int wb_names_create_schema(wb_strbuf *b, const char *schema);
/* Append "schema".name (name one of WB_OWN_*) to b; the buffer's error. */
int wb_names_rel(wb_strbuf *b, const char *schema, const char *name);

#endif
