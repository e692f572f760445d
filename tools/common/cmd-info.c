/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `info` for vdkr and vpdmn: what this vxn installation really has. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static void print_backends(FILE *out, bool json)
{
	const char *const *f = vxn_features();
	bool any = false;
	if (json)
		fputc('[', out);
	for (; *f; f++) {
		if (strncmp(*f, "backend:", 8) != 0)
			continue;
		if (json) {
			if (any)
				fputc(',', out);
			cli_json_string(out, *f + 8);
		} else {
			fprintf(out, "%s%s", any ? ", " : "", *f + 8);
		}
		any = true;
	}
	if (json)
		fputc(']', out);
	else if (!any)
		fputs("none compiled in", out);
}

/* The value of "key=value" in the host report, or NULL. */
static const char *report_get(char **report, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; report && report[i]; i++)
		if (strncmp(report[i], key, n) == 0 && report[i][n] == '=')
			return report[i] + n + 1;
	return NULL;
}

static void json_member(FILE *out, const char *name, const char *value)
{
	fprintf(out, ",\"%s\":", name);
	if (value)
		cli_json_string(out, value);
	else
		fputs("null", out);
}

int cmd_info(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'h':
			printf("Usage:  %s info [--format json]\n\n"
			       "Show where vxn keeps its state, the library version, the backends\n"
			       "compiled in, and the backend, accelerator and kernel a run would "
			       "use.\n",
			       cli->tool->name);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "\"%s info\" accepts no arguments", cli->tool->name);
	bool json = false;
	if (format) {
		if (strcmp(format, "json") && strcmp(format, "{{json .}}"))
			return cli_usage_error(cli, "unsupported --format '%s' (json)", format);
		json = true;
	}

	const vxn_ctx *ctx = cli->ctx;
	const char *cfg = vxn_ctx_config_file(ctx);
	/* what a run would use; info still works (and says why) when it cannot run */
	char **report = NULL;
	vxn_error *herr = NULL;
	vxn_container_host_info(&report, cli->ctx, NULL, &herr);
	const char *unusable = herr ? vxn_error_message(herr) : NULL;
	if (json) {
		printf("{\"Version\":");
		cli_json_string(stdout, vxn_version());
		printf(",\"Tool\":");
		cli_json_string(stdout, cli->tool->name);
		printf(",\"Backends\":");
		print_backends(stdout, true);
		printf(",\"ConfigFile\":");
		if (cfg)
			cli_json_string(stdout, cfg);
		else
			fputs("null", stdout);
		printf(",\"StateRoot\":");
		cli_json_string(stdout, vxn_ctx_state_root(ctx));
		printf(",\"DataRoot\":");
		cli_json_string(stdout, vxn_ctx_data_root(ctx));
		printf(",\"LogRoot\":");
		cli_json_string(stdout, vxn_ctx_log_root(ctx));
		printf(",\"LogLevel\":");
		cli_json_string(stdout, vxn_log_level_name(vxn_ctx_log_level(ctx)));
		json_member(stdout, "Backend", report_get(report, "backend"));
		json_member(stdout, "BackendReason",
			    unusable ? unusable : report_get(report, "backend_reason"));
		json_member(stdout, "Accelerator", report_get(report, "accel"));
		json_member(stdout, "AcceleratorReason", report_get(report, "accel_reason"));
		json_member(stdout, "Kernel", report_get(report, "kernel"));
		json_member(stdout, "Initramfs", report_get(report, "initramfs"));
		printf("}\n");
		cli_free_strv(report);
		vxn_error_free(herr);
		return CLI_EXIT_OK;
	}
	printf("Client:\n");
	printf(" Tool:           %s\n", cli->tool->name);
	printf(" Version:        %s\n", VXN_VERSION_STRING);
	printf(" Library:        libvxn %s\n", vxn_version());
	printf("\nvxn:\n");
	printf(" Backends:       ");
	print_backends(stdout, false);
	printf("\n Config file:    %s\n", cfg ? cfg : "none");
	printf(" State root:     %s (%s)\n", vxn_ctx_state_root(ctx),
	       vxn_ctx_get_origin(ctx, "state_root"));
	printf(" Data root:      %s (%s)\n", vxn_ctx_data_root(ctx),
	       vxn_ctx_get_origin(ctx, "data_root"));
	printf(" Log root:       %s (%s)\n", vxn_ctx_log_root(ctx),
	       vxn_ctx_get_origin(ctx, "log_root"));
	printf(" Log level:      %s\n", vxn_log_level_name(vxn_ctx_log_level(ctx)));
	if (unusable) {
		printf(" Backend:        cannot tell: %s\n", unusable);
	} else {
		printf(" Backend:        %s (%s)\n", report_get(report, "backend"),
		       report_get(report, "backend_reason"));
		if (report_get(report, "accel"))
			printf(" Accelerator:    %s (%s)\n", report_get(report, "accel"),
			       report_get(report, "accel_reason")
				   ? report_get(report, "accel_reason")
				   : "");
		printf(" Kernel:         %s\n", report_get(report, "kernel"));
		printf(" Initramfs:      %s\n", report_get(report, "initramfs"));
	}
	cli_free_strv(report);
	vxn_error_free(herr);
	return CLI_EXIT_OK;
}
