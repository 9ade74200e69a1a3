/*
 * config/reload.c - the reload check: which settings a running walbridge
 * cannot change (wb_config_restart_key).
 *
 * Driven by the settings table, as the loader is: a row with restart set is
 * compared between the running and the new configuration by its type, so
 * a new setting is covered by its row alone.  Mappings and log are what a
 * reload may change; they have no restart rows.
 */
#include <string.h>

#include "config/settings.h"

static const void *cfield_of(const wb_config *cfg, const wb_setting *s)
{
    return (const char *)cfg + s->offset;
}

static bool str_differs(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

/* Does the setting s differ between a and b? */
static bool setting_differs(const wb_setting *s, const wb_config *a,
                            const wb_config *b)
{
    const void *pa = cfield_of(a, s), *pb = cfield_of(b, s);
    const char *sa, *sb;
    int ia, ib;

    switch (s->type) {
    case WB_SETTING_STRING:
    case WB_SETTING_NAME:
    case WB_SETTING_KEYWORD:
        memcpy(&sa, pa, sizeof(sa));
        memcpy(&sb, pb, sizeof(sb));
        return str_differs(sa, sb);
    case WB_SETTING_BOOL:
        return *(const bool *)pa != *(const bool *)pb;
    case WB_SETTING_ENUM:
        memcpy(&ia, pa, sizeof(ia));
        memcpy(&ib, pb, sizeof(ib));
        return ia != ib;
    case WB_SETTING_DURATION:
    case WB_SETTING_COUNT:
        return *(const uint32_t *)pa != *(const uint32_t *)pb;
    case WB_SETTING_STRUCT:
        if (s->offset == offsetof(wb_config, source.schemas)) {
            if (a->source.nschemas != b->source.nschemas)
                return true;
            for (size_t i = 0; i < a->source.nschemas; i++)
                if (strcmp(a->source.schemas[i], b->source.schemas[i]) != 0)
                    return true;
            return false;
        }
        /* A structure without a comparison cannot be judged unchanged. */
        return true;
    case WB_SETTING_SECTION:
        break;
    }
    return false;
}

const char *wb_config_restart_key(const wb_config *a, const wb_config *b)
{
    /* Section by section; within one, the scalars before the lists, so
     * that when several settings changed the one named is the one named
     * before the table. */
    for (size_t i = 0; i < wb_nsettings; i++) {
        const char *sec = wb_settings[i].key;
        if (wb_settings[i].section || wb_settings[i].type != WB_SETTING_SECTION)
            continue;
        for (int lists = 0; lists < 2; lists++)
            for (size_t j = 0; j < wb_nsettings; j++) {
                const wb_setting *s = &wb_settings[j];
                if (!s->restart || !s->section ||
                    strcmp(s->section, sec) != 0 ||
                    (s->type == WB_SETTING_STRUCT) != (lists == 1))
                    continue;
                if (setting_differs(s, a, b))
                    return s->name;
            }
    }
    return NULL;
}
