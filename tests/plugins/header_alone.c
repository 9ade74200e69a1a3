/*
 * header_alone.c - walbridge/plugin.h stands alone: it is included first,
 * with nothing but include/ on the include path and nothing of
 * libwalbridge linked in, as a plugin's build sees it; and the
 * size-gated member helper WB_PLUGIN_HAS answers as a plugin needs.
 * Run by ctest as unit.plugin_header.
 */
#include "walbridge/plugin.h"

#include <stdio.h>
#include <string.h>

static int failures;

static void expect(int got, int want, const char *what)
{
    if (got != want) {
        fprintf(stderr, "FAIL: %s: got %d, want %d\n", what, got, want);
        failures++;
    }
}

int main(void)
{
    wb_plugin_op op;
    wb_plugin_init args;
    wb_plugin p;

    /* An op built before old was appended. */
    memset(&op, 0, sizeof(op));
    op.size = (uint32_t)(offsetof(wb_plugin_op, flags) + sizeof(op.flags));
    expect(WB_PLUGIN_HAS(&op, flags), 1, "op of ABI 1's first size: flags");
    expect(WB_PLUGIN_HAS(&op, old), 0, "op of ABI 1's first size: old");
    op.size = sizeof(op);
    expect(WB_PLUGIN_HAS(&op, old), 1, "op of this size: old");
    op.size = 0;
    expect(WB_PLUGIN_HAS(&op, size), 0, "op of size 0: size");

    /* init()'s arguments from a host without errnode. */
    memset(&args, 0, sizeof(args));
    args.size = (uint32_t)offsetof(wb_plugin_init, errnode);
    expect(WB_PLUGIN_HAS(&args, errbuf_size), 1, "init: errbuf_size");
    expect(WB_PLUGIN_HAS(&args, errnode), 0, "init without errnode");
    args.size = (uint32_t)offsetof(wb_plugin_init, errnode) +
                (uint32_t)sizeof(args.errnode) - 1;
    expect(WB_PLUGIN_HAS(&args, errnode), 0, "init with part of errnode");
    args.size = sizeof(args);
    expect(WB_PLUGIN_HAS(&args, errnode), 1, "init of this size: errnode");

    /* A plugin struct cut short of fini. */
    memset(&p, 0, sizeof(p));
    p.size = (uint32_t)offsetof(wb_plugin, fini);
    expect(WB_PLUGIN_HAS(&p, map), 1, "plugin: map");
    expect(WB_PLUGIN_HAS(&p, fini), 0, "plugin without fini");

    if (failures == 0)
        printf("plugin.h: WB_PLUGIN_HAS ok\n");
    return failures ? 1 : 0;
}
