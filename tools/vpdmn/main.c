/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vpdmn: a Podman-like CLI; every container is a VM. */
#include "cli.h"
#include "commands.h"

static const struct cli_command commands[] = {
	{ "info", "Display vxn system information", cmd_info, NULL },
	VXN_IMAGE_COMMANDS,
	{ "run", "Run a command in a new container", cmd_run, NULL },
	{ 0 },
};

static void version(const struct cli_tool *tool, FILE *out)
{
	fprintf(out, "vpdmn version %s\n", VXN_VERSION_STRING);
}

static const struct cli_tool tool = {
	.name = "vpdmn",
	.summary = "Run OCI containers as virtual machines, with podman's command line.",
	.flavor = CLI_FLAVOR_PODMAN,
	.commands = commands,
	.print_version = version,
};

int main(int argc, char **argv)
{
	return cli_main(&tool, argc, argv);
}
