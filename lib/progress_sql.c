/*
 * progress_sql.c - the text of the statements of the stored position: the
 * progress table and the source identity (see progress.h; the origin
 * statements are constants there).  Pure, as apply/sqlgen.c, and
 * unit-tested in tests/unit/test_progress.c.
 */
#include "common/names.h"
#include "common/lsn.h"
#include "progress.h"

int wb_progress_sql_create(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(b,
                                "CREATE TABLE IF NOT EXISTS %s ("
                                "slot text PRIMARY KEY, end_lsn pg_lsn NOT "
                                "NULL, commit_time timestamptz, "
                                "updated_at timestamptz NOT NULL DEFAULT "
                                "now())",
                                rel);
}

int wb_progress_sql_store(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "INSERT INTO %s (slot, end_lsn, commit_time, updated_at) "
        "VALUES ($1, $2::pg_lsn, " WB_PG_EPOCH_SQL
        " + $3::bigint * interval '1 microsecond', now()) "
        "ON CONFLICT (slot) DO UPDATE SET end_lsn = EXCLUDED.end_lsn, "
        "commit_time = EXCLUDED.commit_time, updated_at = now()",
        rel);
}

int wb_progress_sql_guard(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(
        b,
        "SELECT (CASE WHEN EXISTS (SELECT 1 FROM %s WHERE slot = $2 "
        "AND end_lsn >= $1::pg_lsn) THEN '1' ELSE 'walbridge: the "
        "previous batch was not committed' END)::int",
        rel);
}

int wb_progress_sql_read(wb_strbuf *b, const char *rel)
{
    return wb_strbuf_append_fmt(b, "SELECT end_lsn FROM %s WHERE slot = $1",
                                rel);
}

int wb_progress_sql_identity_create(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "CREATE TABLE IF NOT EXISTS ");
    wb_names_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " (slot text PRIMARY KEY, system_identifier "
                            "text NOT NULL, timeline integer NOT NULL, "
                            "recorded_at timestamptz NOT NULL DEFAULT now())");
}

int wb_progress_sql_identity_read(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "SELECT system_identifier, timeline FROM ");
    wb_names_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " WHERE slot = $1");
}

int wb_progress_sql_identity_insert(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "INSERT INTO ");
    wb_names_rel(b, schema, WB_OWN_SOURCE_IDENTITY);
    return wb_strbuf_add(b, " (slot, system_identifier, timeline) VALUES "
                            "($1, $2, $3) ON CONFLICT (slot) DO NOTHING");
}
