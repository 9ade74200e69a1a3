/*
 * config/settings.h - the settings table: every key of the configuration's top
 * level and of its source, target and log sections, declared once (as
 * nginx's ngx_command_t).
 *
 * A row says where the key is, its type, its default as written in YAML,
 * whether a reload may change it and where its value lives in wb_config.
 * section.c drives from it the key lists of those sections (unknown keys
 * and "did you mean"), the parsing of every scalar value and the defaults;
 * reload.c the reload check (wb_config_restart_key).  Keys whose values are
 * structures (the sections themselves, source.schemas, mappings) have a row
 * too, so that the key lists are complete and in file order, but are parsed
 * by hand (config.c, section.c, mapping.c).  The mapping keys ("mappings"
 * entries) are not in the table.
 */
#ifndef WALBRIDGE_SETTINGS_H
#define WALBRIDGE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef enum wb_setting_type {
    WB_SETTING_SECTION = 1, /* a map of settings (top level); by hand */
    WB_SETTING_STRUCT,      /* a list or structure; parsed by hand */
    WB_SETTING_STRING,      /* char *, after ${VAR} substitution */
    WB_SETTING_NAME,        /* char *, a catalog name taken literally, or a
                               quoted identifier ("what" names it) */
    WB_SETTING_BOOL,        /* bool: true/false, yes/no, on/off */
    WB_SETTING_ENUM,        /* an enum stored as int: index into names[] */
    WB_SETTING_KEYWORD,     /* char *: one of names[], as written there */
    WB_SETTING_DURATION,    /* uint32_t milliseconds, min..max */
    WB_SETTING_COUNT        /* uint32_t, a whole number min..max */
} wb_setting_type;

/* Checks beyond the type, with their own messages (section.c). */
typedef enum wb_setting_check {
    WB_SETTING_CHECK_NONE = 0,
    WB_SETTING_CHECK_CONNINFO, /* a conninfo that must not be empty */
    WB_SETTING_CHECK_SLOT,     /* PostgreSQL's replication slot name rule */
    WB_SETTING_CHECK_ORIGIN    /* a replication origin name: 1..512 bytes */
} wb_setting_check;

typedef struct wb_setting {
    const char *section; /* "source", "target", "log"; NULL: the top level */
    const char *key;
    wb_setting_type type;
    const char *def;   /* the default as written in YAML; NULL: none (a
                          required key; origin, worked out from the slot;
                          spool_dir, left NULL for $TMPDIR or /tmp) */
    bool required;     /* missing: an error */
    bool restart;      /* a reload that changes it is refused */
    size_t offset;     /* of the value in wb_config (not SECTION) */
    size_t size;       /* sizeof the field, checked by the unit test */
    const char *name;  /* "section.field", as wb_config_restart_key says */
    uint32_t min, max; /* DURATION (ms), COUNT */
    const char *const *names; /* ENUM, KEYWORD */
    size_t nnames;
    const char *what; /* NAME: "schema", "table"... for messages */
    wb_setting_check check;
    const char *doc; /* one line */
} wb_setting;

/* The table; within a section, rows are in the order of the key lists
 * in messages and of the checks. */
extern const wb_setting wb_settings[];
extern const size_t wb_nsettings;

/* The row of section.key (section NULL: the top level), or NULL. */
const wb_setting *wb_setting_find(const char *section, const char *key);

#endif
