/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vxn-oci-runtime: the runc command-line contract, each container a VM. */
#include "cli.h"

static const struct cli_command commands[] = {
	{ 0 },
};

static void version(const struct cli_tool *tool, FILE *out)
{
	/* Same shape as `runc --version`; engines only parse the first line. */
	fprintf(out, "vxn-oci-runtime version %s\nspec: 1.0.2-dev\nlibvxn: %s\n",
		VXN_VERSION_STRING, vxn_version());
}

static const struct cli_tool tool = {
	.name = "vxn-oci-runtime",
	.summary = "OCI runtime (runc-compatible) that runs each container as a VM.",
	.flavor = CLI_FLAVOR_RUNC,
	.commands = commands,
	.print_version = version,
};

int main(int argc, char **argv)
{
	return cli_main(&tool, argc, argv);
}
