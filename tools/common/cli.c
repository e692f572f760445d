/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_CONFIG = 0x100,
	OPT_STATE_ROOT,
	OPT_DATA_ROOT,
	OPT_LOG_ROOT,
	OPT_RUNROOT,
	OPT_ROOT,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_SYSTEMD_CGROUP,
	OPT_IGNORED_ARG,
	OPT_IGNORED,
};

int cli_failure_code(const struct cli *cli)
{
	/* docker: 1 for a failed command, 125 when `run`/`create` cannot start the
	 * container; podman: 125 for every failure; runc: 1. */
	switch (cli->tool->flavor) {
	case CLI_FLAVOR_PODMAN:
		return CLI_EXIT_ENGINE;
	case CLI_FLAVOR_DOCKER:
		return cli->command &&
			       (!strcmp(cli->command, "run") || !strcmp(cli->command, "create"))
			   ? CLI_EXIT_ENGINE
			   : CLI_EXIT_FAILURE;
	default:
		return CLI_EXIT_FAILURE;
	}
}

static int usage_code(const struct cli *cli)
{
	return cli->tool->flavor == CLI_FLAVOR_RUNC ? CLI_EXIT_FAILURE : CLI_EXIT_ENGINE;
}

static void vcli_error(const struct cli *cli, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli->tool->name);
	if (cli->command)
		fprintf(stderr, "%s: ", cli->command);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcli_error(cli, fmt, ap);
	va_end(ap);
}

int cli_fail(const struct cli *cli, const vxn_error *err)
{
	cli_error(cli, "%s", err ? vxn_error_message(err) : "unknown error");
	return cli_failure_code(cli);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcli_error(cli, fmt, ap);
	va_end(ap);
	if (cli->command)
		fprintf(stderr, "See '%s %s --help'.\n", cli->tool->name, cli->command);
	else
		fprintf(stderr, "See '%s --help'.\n", cli->tool->name);
	return usage_code(cli);
}

void cli_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void log_to_stderr(void *userdata, vxn_log_level level, const char *module,
			  const char *message)
{
	const struct cli *cli = userdata;
	fprintf(stderr, "%s: %s: %s: %s\n", cli->tool->name, vxn_log_level_name(level), module,
		message);
}

static void print_help(const struct cli_tool *tool, FILE *out)
{
	fprintf(out, "Usage:  %s [OPTIONS] COMMAND\n\n%s\n\n", tool->name, tool->summary);
	fputs("Global options:\n", out);
	fputs("      --config FILE       vxn config file (default: /etc/vxn/vxn.conf, or "
	      "$VXN_CONFIG)\n"
	      "      --state-root DIR    runtime state directory\n"
	      "      --data-root DIR     image store and caches\n"
	      "      --log-root DIR      guest and container logs\n",
	      out);
	switch (tool->flavor) {
	case CLI_FLAVOR_DOCKER:
		fputs("  -D, --debug             debug logging to stderr\n"
		      "  -l, --log-level LEVEL   error, warning, info or debug\n",
		      out);
		break;
	case CLI_FLAVOR_PODMAN:
		fputs("      --root DIR          same as --data-root\n"
		      "      --runroot DIR       same as --state-root\n"
		      "      --log-level LEVEL   error, warning, info or debug\n",
		      out);
		break;
	case CLI_FLAVOR_RUNC:
		fputs("      --root DIR          runtime state root (as runc)\n"
		      "      --log FILE          write errors to FILE\n"
		      "      --log-format FMT    text or json\n"
		      "      --debug             debug logging\n"
		      "      --systemd-cgroup    accepted for compatibility\n",
		      out);
		break;
	}
	fputs("  -h, --help              print this help\n"
	      "  -v, --version           print the version\n\n",
	      out);
	fputs("Commands:\n", out);
	for (const struct cli_command *c = tool->commands; c->name; c++)
		if (c->summary)
			fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out, "\nRun '%s COMMAND --help' for more information on a command.\n", tool->name);
}

static void print_version(const struct cli_tool *tool)
{
	if (tool->print_version)
		tool->print_version(tool, stdout);
	else
		printf("%s version %s\n", tool->name, vxn_version());
}

static const struct cli_command *find_command(const struct cli_tool *tool, const char *name)
{
	for (const struct cli_command *c = tool->commands; c->name; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
		for (const char *const *a = c->aliases; a && *a; a++)
			if (strcmp(*a, name) == 0)
				return c;
	}
	return NULL;
}

struct pending_set {
	const char *key;
	const char *value;
};

int cli_main(const struct cli_tool *tool, int argc, char **argv)
{
	struct cli cli = { .tool = tool };
	const char *config = NULL, *level = NULL;
	struct pending_set sets[16];
	size_t nsets = 0;

	static const struct option docker_opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "state-root", required_argument, NULL, OPT_STATE_ROOT },
		{ "data-root", required_argument, NULL, OPT_DATA_ROOT },
		{ "log-root", required_argument, NULL, OPT_LOG_ROOT },
		{ "debug", no_argument, NULL, 'D' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ 0 },
	};
	static const struct option podman_opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "state-root", required_argument, NULL, OPT_STATE_ROOT },
		{ "data-root", required_argument, NULL, OPT_DATA_ROOT },
		{ "log-root", required_argument, NULL, OPT_LOG_ROOT },
		{ "root", required_argument, NULL, OPT_DATA_ROOT },
		{ "runroot", required_argument, NULL, OPT_STATE_ROOT },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ 0 },
	};
	static const struct option runc_opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "state-root", required_argument, NULL, OPT_STATE_ROOT },
		{ "data-root", required_argument, NULL, OPT_DATA_ROOT },
		{ "log-root", required_argument, NULL, OPT_LOG_ROOT },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", no_argument, NULL, 'D' },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
		{ "criu", required_argument, NULL, OPT_IGNORED_ARG },
		{ "rootless", required_argument, NULL, OPT_IGNORED_ARG },
		{ "no-pivot", no_argument, NULL, OPT_IGNORED },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ 0 },
	};
	const struct option *opts = tool->flavor == CLI_FLAVOR_DOCKER	? docker_opts
				    : tool->flavor == CLI_FLAVOR_PODMAN ? podman_opts
									: runc_opts;
	const char *shortopts = tool->flavor == CLI_FLAVOR_DOCKER ? "+:Dl:hv" : "+:hv";

	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_STATE_ROOT:
		case OPT_DATA_ROOT:
		case OPT_LOG_ROOT:
			if (nsets < sizeof(sets) / sizeof(sets[0]))
				sets[nsets++] =
				    (struct pending_set){ c == OPT_STATE_ROOT  ? "state_root"
							  : c == OPT_DATA_ROOT ? "data_root"
									       : "log_root",
							  optarg };
			break;
		case OPT_ROOT:
			cli.runc_root = optarg;
			break;
		case OPT_LOG:
			cli.runc_log = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return cli_usage_error(
				    &cli, "invalid --log-format '%s' (text or json)", optarg);
			cli.runc_log_format = optarg;
			break;
		case OPT_SYSTEMD_CGROUP:
			cli.systemd_cgroup = true;
			break;
		case OPT_IGNORED:
		case OPT_IGNORED_ARG:
			break;
		case 'D':
			cli.debug = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			print_help(tool, stdout);
			return CLI_EXIT_OK;
		case 'v':
			print_version(tool);
			return CLI_EXIT_OK;
		case ':':
			return cli_usage_error(&cli, "flag needs an argument: %s",
					       argv[optind - 1]);
		default:
			if (optopt)
				return cli_usage_error(&cli, "unknown shorthand flag: '%c'",
						       optopt);
			return cli_usage_error(&cli, "unknown flag: %s", argv[optind - 1]);
		}
	}

	if (optind >= argc) {
		if (tool->flavor == CLI_FLAVOR_PODMAN)
			return cli_usage_error(&cli, "missing command '%s COMMAND'", tool->name);
		print_help(tool, stdout);
		return CLI_EXIT_OK;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		print_help(tool, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(name, "version") == 0 && !find_command(tool, name)) {
		print_version(tool);
		return CLI_EXIT_OK;
	}
	const struct cli_command *cmd = find_command(tool, name);
	if (!cmd) {
		cli_error(&cli, "'%s' is not a %s command.", name, tool->name);
		fprintf(stderr, "See '%s --help'.\n", tool->name);
		return tool->flavor == CLI_FLAVOR_PODMAN ? CLI_EXIT_ENGINE : CLI_EXIT_FAILURE;
	}

	cli.command = cmd->name;
	vxn_error *err = NULL;
	int rc, first = optind;
	if (vxn_ctx_new(&cli.ctx, config, VXN_CTX_DEFAULT, &err) < 0) {
		int code = cli_fail(&cli, err);
		vxn_error_free(err);
		return code;
	}
	for (size_t i = 0; i < nsets; i++)
		if (vxn_ctx_set(cli.ctx, sets[i].key, sets[i].value, &err) < 0)
			goto fail;
	if (level && vxn_ctx_set(cli.ctx, "log_level", level, &err) < 0)
		goto fail;
	if (cli.debug && vxn_ctx_set(cli.ctx, "log_level", "debug", &err) < 0)
		goto fail;
	/* Diagnostics go to stderr only when asked for (library default: silent). */
	if (cli.debug || level)
		vxn_ctx_set_log(cli.ctx, log_to_stderr, &cli, vxn_ctx_log_level(cli.ctx));

	/* Subcommands parse their own options with a fresh getopt state. */
	optind = 0;
	rc = cmd->run(&cli, argc - first, argv + first);
	vxn_ctx_free(cli.ctx);
	return rc;
fail:
	rc = cli_fail(&cli, err);
	vxn_error_free(err);
	vxn_ctx_free(cli.ctx);
	return rc;
}

void cli_free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
