/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Subcommands shared by vdkr and vpdmn (each prints in its own flavour). */
#ifndef VXN_TOOLS_COMMANDS_H
#define VXN_TOOLS_COMMANDS_H

#include "cli.h"

int cmd_info(struct cli *cli, int argc, char **argv);

#endif
