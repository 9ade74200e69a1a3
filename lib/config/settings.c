/*
 * config/settings.c - the settings table (see config/settings.h).
 *
 * Adding a scalar setting is one row here and one field in wb_config: the
 * loader, the defaults and the reload check follow from the row, and
 * tests/unit/test_config_settings.c holds every row against
 * schemas/walbridge.schema.json (key, default) and the README's reload rule
 * (source and target need a restart, log does not).
 */
#include <string.h>

#include "config/settings.h"

/* ENUM rows store the index into names[]: these must agree. */
_Static_assert(WB_PROGRESS_AUTO == 0 && WB_PROGRESS_ORIGIN == 1 &&
                   WB_PROGRESS_TABLE == 2,
               "progress names[] order");
_Static_assert(sizeof(wb_progress_mode) == sizeof(int),
               "ENUM settings are stored as int");

/* Where a value lives, and the name the reload check gives it. */
#define AT(sec, field)                                                         \
    .offset = offsetof(wb_config, sec.field),                                  \
    .size = sizeof(((wb_config *)0)->sec.field), .name = #sec "." #field

static const char *const progress_modes[] = {"auto", "origin", "table"};
static const char *const binary_modes[] = {"auto", "off"};
static const char *const log_levels[] = {"debug", "info", "warning", "error"};

const wb_setting wb_settings[] = {
    /* the top level */
    {.section = NULL,
     .key = "source",
     .type = WB_SETTING_SECTION,
     .required = true,
     .doc = "The database walbridge reads the changes from."},
    {.section = NULL,
     .key = "target",
     .type = WB_SETTING_SECTION,
     .doc = "Where the mapped changes are applied; absent or empty: the "
            "source database."},
    {.section = NULL,
     .key = "mappings",
     .type = WB_SETTING_STRUCT,
     .required = true,
     .doc = "The mappings, a list; a reload may change them."},
    {.section = NULL,
     .key = "log",
     .type = WB_SETTING_SECTION,
     .doc = "Logging; a reload may change it."},

    /* source */
    {.section = "source",
     .key = "conninfo",
     .type = WB_SETTING_STRING,
     .required = true,
     .restart = true,
     AT(source, conninfo),
     .check = WB_SETTING_CHECK_CONNINFO,
     .doc = "libpq conninfo or URI of the source; the role needs "
            "REPLICATION."},
    {.section = "source",
     .key = "slot",
     .type = WB_SETTING_STRING,
     .def = "walbridge",
     .restart = true,
     AT(source, slot),
     .check = WB_SETTING_CHECK_SLOT,
     .doc = "Logical replication slot."},
    {.section = "source",
     .key = "publication",
     .type = WB_SETTING_NAME,
     .def = "walbridge",
     .restart = true,
     AT(source, publication),
     .what = "publication",
     .doc = "Publication to read from."},
    {.section = "source",
     .key = "schemas",
     .type = WB_SETTING_STRUCT,
     .def = "[portal, public, salesforce]",
     .restart = true,
     AT(source, schemas),
     .doc = "Schemas the publication covers when walbridge creates it."},
    {.section = "source",
     .key = "create_publication",
     .type = WB_SETTING_BOOL,
     .def = "true",
     .restart = true,
     AT(source, create_publication),
     .doc = "Create the publication when it does not exist."},
    {.section = "source",
     .key = "create_slot",
     .type = WB_SETTING_BOOL,
     .def = "true",
     .restart = true,
     AT(source, create_slot),
     .doc = "Create the slot when it does not exist."},
    {.section = "source",
     .key = "status_interval",
     .type = WB_SETTING_DURATION,
     .def = "10s",
     .restart = true,
     AT(source, status_interval_ms),
     .min = 100,
     .max = 60000,
     .doc = "How often progress is confirmed to the source."},
    {.section = "source",
     .key = "streaming",
     .type = WB_SETTING_BOOL,
     .def = "false",
     .restart = true,
     AT(source, streaming),
     .doc = "Receive large transactions while they run (PostgreSQL 14+)."},
    {.section = "source",
     .key = "binary",
     .type = WB_SETTING_ENUM,
     .def = "auto",
     .restart = true,
     AT(source, binary),
     .names = binary_modes,
     .nnames = sizeof(binary_modes) / sizeof(binary_modes[0]),
     .doc = "Values in binary format when every mapping copies them into "
            "columns of the same type (auto), or always as text (off)."},
    {.section = "source",
     .key = "spool_dir",
     .type = WB_SETTING_STRING,
     .restart = true,
     AT(source, spool_dir),
     .doc = "Where streamed transactions are spooled; default $TMPDIR, else "
            "/tmp."},

    /* target */
    {.section = "target",
     .key = "conninfo",
     .type = WB_SETTING_STRING,
     .def = "",
     .restart = true,
     AT(target, conninfo),
     .doc = "libpq conninfo or URI of the target; empty: the source "
            "database."},
    {.section = "target",
     .key = "progress",
     .type = WB_SETTING_ENUM,
     .def = "auto",
     .restart = true,
     AT(target, progress),
     .names = progress_modes,
     .nnames = sizeof(progress_modes) / sizeof(progress_modes[0]),
     .doc = "Where the applied position is stored: auto, origin or table."},
    {.section = "target",
     .key = "origin",
     .type = WB_SETTING_STRING,
     .restart = true,
     AT(target, origin),
     .check = WB_SETTING_CHECK_ORIGIN,
     .doc = "Replication origin name; default walbridge_<slot>."},
    {.section = "target",
     .key = "progress_schema",
     .type = WB_SETTING_NAME,
     .def = "walbridge",
     .restart = true,
     AT(target, progress_schema),
     .what = "schema",
     .doc = "Schema of the progress table."},
    {.section = "target",
     .key = "progress_table",
     .type = WB_SETTING_NAME,
     .def = "progress",
     .restart = true,
     AT(target, progress_table),
     .what = "table",
     .doc = "Progress table (one row per slot)."},
    {.section = "target",
     .key = "batch_max_txns",
     .type = WB_SETTING_COUNT,
     .def = "1000",
     .restart = true,
     AT(target, batch_max_txns),
     .min = 1,
     .max = 100000,
     .doc = "Most source transactions in one target transaction."},
    {.section = "target",
     .key = "batch_latency",
     .type = WB_SETTING_DURATION,
     .def = "10ms",
     .restart = true,
     AT(target, batch_latency_ms),
     .min = 0,
     .max = 10000,
     .doc = "Longest a batch stays open."},
    {.section = "target",
     .key = "synchronous_commit",
     .type = WB_SETTING_BOOL,
     .def = "true",
     .restart = true,
     AT(target, synchronous_commit),
     .doc = "A batch is applied when its COMMIT returns (off: once the "
            "target's WAL is flushed past it)."},
    {.section = "target",
     .key = "set_based",
     .type = WB_SETTING_BOOL,
     .def = "true",
     .restart = true,
     AT(target, set_based),
     .doc = "Runs of same-shape changes as one statement over unnest()."},
    {.section = "target",
     .key = "copy_min_rows",
     .type = WB_SETTING_COUNT,
     .def = "1000",
     .restart = true,
     AT(target, copy_min_rows),
     .min = 0,
     .max = 16000, /* a COPY run's longest (apply/setrun.h) */
     .doc = "Runs of at least this many inserts are sent with COPY (0: "
            "never)."},

    /* log */
    {.section = "log",
     .key = "level",
     .type = WB_SETTING_KEYWORD,
     .def = "info",
     .restart = false,
     AT(log, level),
     .names = log_levels,
     .nnames = sizeof(log_levels) / sizeof(log_levels[0]),
     .doc = "Log level: debug, info, warning or error."},
};

const size_t wb_nsettings = sizeof(wb_settings) / sizeof(wb_settings[0]);

static bool same_section(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

const wb_setting *wb_setting_find(const char *section, const char *key)
{
    for (size_t i = 0; i < wb_nsettings; i++)
        if (same_section(wb_settings[i].section, section) &&
            strcmp(wb_settings[i].key, key) == 0)
            return &wb_settings[i];
    return NULL;
}
