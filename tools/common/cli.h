/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared command-line plumbing for vdkr, vpdmn and vxn-oci-runtime: global
 * options, context setup, dispatch to subcommands, error printing and exit
 * codes. Uses only the public libvxn API.
 */
#ifndef VXN_TOOLS_CLI_H
#define VXN_TOOLS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <vxn/vxn.h>

/* Exit codes. vdkr/vpdmn follow docker/podman: 125 when vxn itself fails or
 * the command line is wrong; runc-style tools use 1 for both. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_ENGINE = 125,
	CLI_EXIT_CANNOT_INVOKE = 126,
	CLI_EXIT_NOT_FOUND = 127,
};

enum cli_flavor {
	CLI_FLAVOR_DOCKER,
	CLI_FLAVOR_PODMAN,
	CLI_FLAVOR_RUNC,
};

struct cli;

struct cli_command {
	const char *name;
	const char *summary;
	/* argv[0] is the command name; return an exit code. */
	int (*run)(struct cli *cli, int argc, char **argv);
	/* NULL-terminated aliases ("image ls" style names are separate entries). */
	const char *const *aliases;
};

struct cli_tool {
	const char *name;    /* "vdkr" */
	const char *summary; /* one line for --help */
	enum cli_flavor flavor;
	const struct cli_command *commands; /* terminated by a zeroed entry */
	/* Printed by --version (after "<name> version X"). May be NULL. */
	void (*print_version)(const struct cli_tool *tool, FILE *out);
};

struct cli {
	const struct cli_tool *tool;
	vxn_ctx *ctx;
	bool debug;
	const char *command; /* the subcommand being run */
	/* runc-style globals, kept for the runtime commands. */
	const char *runc_root;
	const char *runc_log;
	const char *runc_log_format;
	bool systemd_cgroup;
};

/* Entry point shared by the tools' main(). */
int cli_main(const struct cli_tool *tool, int argc, char **argv);

/* Print "<tool>: <command>: <message>" to stderr (one line). */
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a library error and return the tool's failure code (cli_failure_code()). */
int cli_fail(const struct cli *cli, const vxn_error *err);
/* A usage error: message + "See '<tool> <cmd> --help'."; returns 125 (docker, podman) or 1 (runc).
 */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The failure exit code of this tool's flavour. */
int cli_failure_code(const struct cli *cli);

/* Write s as a JSON string literal (with quotes) to out. */
void cli_json_string(FILE *out, const char *s);
/* Free a NULL-terminated array of malloc'd strings and the array. NULL is a no-op. */
void cli_free_strv(char **v);

#endif
