/*
 * common/names.c - walbridge's own objects on the target, quoted (see
 * common/names.h).
 */
#include "common/names.h"

int wb_names_create_schema(wb_strbuf *b, const char *schema)
{
    wb_strbuf_add(b, "CREATE SCHEMA IF NOT EXISTS ");
    return wb_strbuf_append_ident(b, schema);
}

int wb_names_rel(wb_strbuf *b, const char *schema, const char *name)
{
    wb_strbuf_append_ident(b, schema);
    wb_strbuf_add(b, ".");
    return wb_strbuf_add(b, name);
}
