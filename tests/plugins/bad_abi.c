/*
 * bad_abi.c - a plugin built for a plugin ABI this walbridge does not
 * speak (WB_PLUGIN_ABI_VERSION + 1): the loader must refuse it, naming both
 * versions, before it calls anything but walbridge_plugin().  Only the two
 * leading members are trustworthy across ABI versions; the rest is left
 * empty on purpose.
 */
#include "walbridge/plugin.h"

static const wb_plugin plugin = {
    .abi_version = WB_PLUGIN_ABI_VERSION + 1,
    .size = sizeof(wb_plugin),
    .name = "bad_abi",
};

const wb_plugin *walbridge_plugin(void);
const wb_plugin *walbridge_plugin(void)
{
    return &plugin;
}
