/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdkr: a Docker-like CLI, no daemon; every container is a VM. */
#include "cli.h"
#include "commands.h"

static const struct cli_command commands[] = {
	{ "info", "Display system-wide information", cmd_info, NULL },
	VXN_IMAGE_COMMANDS,
	{ "run", "Create and run a new container from an image", cmd_run, NULL },
	{ 0 },
};

static void version(const struct cli_tool *tool, FILE *out)
{
	fprintf(out, "vdkr version %s, libvxn %s\n", VXN_VERSION_STRING, vxn_version());
}

static const struct cli_tool tool = {
	.name = "vdkr",
	.summary = "Run OCI containers as virtual machines, with docker's command line.",
	.flavor = CLI_FLAVOR_DOCKER,
	.commands = commands,
	.print_version = version,
};

int main(int argc, char **argv)
{
	return cli_main(&tool, argc, argv);
}
