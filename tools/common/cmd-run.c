/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `run`: create a container VM from an image and run it in the foreground,
 * as `docker run` / `podman run` do: stdio relayed, signals forwarded, the
 * container's exit status as ours, the VM and its files gone afterwards.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

#define PODMAN(cli) ((cli)->tool->flavor == CLI_FLAVOR_PODMAN)

static vxn_session *volatile run_session;

static void on_signal(int signo)
{
	vxn_session *s = run_session;

	if (s)
		(void)vxn_session_signal(s, signo);
}

static void on_winch(int signo)
{
	vxn_session *s = run_session;
	struct winsize ws;

	(void)signo;
	if (s && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		(void)vxn_session_resize(s, ws.ws_row, ws.ws_col);
}

static void help_run(struct cli *cli)
{
	printf(
	    "Usage:  %s run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
	    "Create and run a new container (a VM) from an image\n\n"
	    "Options:\n"
	    "      --backend NAME        Hypervisor backend (qemu, xen; default: auto)\n"
	    "      --cpus N              Virtual CPUs of the VM (default 1)\n"
	    "      --entrypoint string   Overwrite the default ENTRYPOINT of the image\n"
	    "  -e, --env NAME=value      Set an environment variable (NAME alone: from here)\n"
	    "      --env-file FILE       Read environment variables from a file\n"
	    "  -h, --hostname string     Container host name\n"
	    "  -i, --interactive         Keep STDIN open and stream it to the container\n"
	    "      --kernel FILE         Guest kernel to boot instead of vxn's\n"
	    "  -m, --memory SIZE         Memory of the VM (512m, 1g; default 256m)\n"
	    "      --mount SPEC          type=bind,source=DIR,target=DIR[,readonly] or\n"
	    "                            type=tmpfs,target=DIR[,tmpfs-size=SIZE]\n"
	    "      --name string         Name the container (its VM is vxn-NAME)\n"
	    "      --pull POLICY         missing (default), always or never\n"
	    "      --read-only           Mount the container's root filesystem read-only\n"
	    "      --rm                  Remove the container when it exits (always, for now)\n"
	    "      --stop-signal SIGNAL  Signal that stops the container (default SIGTERM)\n"
	    "      --stop-timeout N      Accepted for compatibility (foreground runs)\n"
	    "  -t, --tty                 Allocate a pseudo-TTY\n"
	    "      --tmpfs DIR[:OPTS]    Mount a tmpfs (size=64m,mode=1777,...)\n"
	    "      --ulimit NAME=S[:H]   Resource limit (nofile=1024:2048)\n"
	    "  -u, --user string         Username or UID (format: name|uid[:group|gid])\n"
	    "  -v, --volume HOST:CTR[:ro]  Share a host directory (both ways; ro enforced here)\n"
	    "  -w, --workdir string      Working directory inside the container\n",
	    cli->tool->name);
}

enum {
	OPT_ENTRYPOINT = 1000,
	OPT_RM,
	OPT_READONLY,
	OPT_MEMORY_MIB,
	OPT_CPUS,
	OPT_HELP,
	OPT_ENV_FILE,
	OPT_NAME,
	OPT_TMPFS,
	OPT_MOUNT,
	OPT_ULIMIT,
	OPT_STOP_SIGNAL,
	OPT_STOP_TIMEOUT,
	OPT_PULL,
	OPT_KERNEL,
	OPT_BACKEND,
};

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 1u << 20)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* "512m", "1g", "268435456" (bytes), "1024k" -> MiB. */
static int parse_size_mib(const char *s, unsigned *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || (*end && end[1] != '\0'))
		return -1;
	switch (*end) {
	case '\0':
	case 'b':
	case 'B':
		v >>= 20;
		break;
	case 'k':
	case 'K':
		v >>= 10;
		break;
	case 'm':
	case 'M':
		break;
	case 'g':
	case 'G':
		v <<= 10;
		break;
	default:
		return -1;
	}
	if (v == 0 || v > 1u << 20)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static char **split_commas(const char *s)
{
	size_t n = 1, i = 0;
	char **v, *copy, *save = NULL;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	v = calloc(n + 1, sizeof(*v));
	copy = strdup(s);
	if (!v || !copy) {
		free(v);
		free(copy);
		return NULL;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		v[i++] = strdup(t);
	free(copy);
	return v;
}

/* --mount type=bind,source=/h,target=/c[,readonly] | type=tmpfs,target=/c[,tmpfs-size=N].
 * 0; -1 with @err (from the library); -2 for a malformed argument. */
static int add_mount(vxn_spec_opts *spec, const char *arg, vxn_error **err)
{
	char **kv = split_commas(arg);
	const char *type = NULL, *src = NULL, *dst = NULL;
	const char *opts[3] = { NULL };
	char size[64];
	size_t n = 0;
	int r = kv ? 0 : -2;

	for (size_t i = 0; kv && kv[i] && r == 0; i++) {
		char *k = kv[i], *v = strchr(k, '=');

		if (v)
			*v++ = '\0';
		if (!strcmp(k, "type") && v)
			type = v;
		else if ((!strcmp(k, "source") || !strcmp(k, "src")) && v)
			src = v;
		else if ((!strcmp(k, "target") || !strcmp(k, "destination") || !strcmp(k, "dst")) &&
			 v)
			dst = v;
		else if ((!strcmp(k, "readonly") || !strcmp(k, "ro")) &&
			 (!v || !strcmp(v, "true") || !strcmp(v, "1")) && n < 2)
			opts[n++] = "ro";
		else if (!strcmp(k, "tmpfs-size") && v && n < 2) {
			snprintf(size, sizeof(size), "size=%s", v);
			opts[n++] = size;
		} else
			r = -2;
	}
	if (r == 0 && (!type || !dst))
		r = -2;
	if (r == 0)
		r = vxn_spec_opts_add_mount(spec, type, src, dst, opts, err) < 0 ? -1 : 0;
	cli_free_strv(kv);
	return r;
}

/* Add "NAME=value" to the spec; "NAME" alone takes the value from our
 * environment, or adds nothing when it is unset (docker -e NAME). 0, -1 with
 * @err, or -ENOMEM. */
static int add_env_entry(vxn_spec_opts *spec, const char *entry, vxn_error **err)
{
	const char *value;
	char *kv;
	int r;

	if (strchr(entry, '='))
		return vxn_spec_opts_add_env(spec, entry, err);
	value = getenv(entry);
	if (!value)
		return 0;
	kv = malloc(strlen(entry) + strlen(value) + 2);
	if (!kv)
		return -ENOMEM;
	sprintf(kv, "%s=%s", entry, value);
	r = vxn_spec_opts_add_env(spec, kv, err);
	free(kv);
	return r;
}

/* Add each NAME=value line of @path (NAME alone: from our environment; blank
 * lines and # comments skipped). 0, -1 with @err, or an exit code. */
static int read_env_file(struct cli *cli, vxn_spec_opts *spec, const char *path, vxn_error **err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	if (!f) {
		cli_error(cli, "open env file %s: %s", path, strerror(errno));
		return CLI_EXIT_ENGINE;
	}
	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		const char *p = line;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		r = add_env_entry(spec, p, err);
	}
	free(line);
	fclose(f);
	if (r == -ENOMEM) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_ENGINE;
	}
	return r;
}

struct run_args {
	vxn_spec_opts *spec;
	vxn_container_opts *copts;
	bool tty, interactive, hostname_set;
	const char *name, *pull;
};

/* Parse the options into @a. 0 to go on, -1 after --help, or an exit code. */
static int parse(struct cli *cli, int argc, char **argv, struct run_args *a)
{
	static const struct option longopts[] = {
		{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
		{ "env", required_argument, NULL, 'e' },
		{ "hostname", required_argument, NULL, 'h' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "memory-mib", required_argument, NULL, OPT_MEMORY_MIB },
		{ "memory", required_argument, NULL, 'm' },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "tmpfs", required_argument, NULL, OPT_TMPFS },
		{ "volume", required_argument, NULL, 'v' },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "ulimit", required_argument, NULL, OPT_ULIMIT },
		{ "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "pull", required_argument, NULL, OPT_PULL },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "read-only", no_argument, NULL, OPT_READONLY },
		{ "rm", no_argument, NULL, OPT_RM },
		{ "tty", no_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	vxn_error *err = NULL;
	unsigned n;
	int c, r = 0;

	optind = 1;
	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "+:e:h:itu:w:m:v:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ENTRYPOINT: {
			const char *ep[] = { optarg, NULL };

			r = vxn_spec_opts_set_entrypoint(a->spec, *optarg ? ep : ep + 1, &err);
			break;
		}
		case 'e':
			r = add_env_entry(a->spec, optarg, &err);
			if (r == -ENOMEM)
				return cli_usage_error(cli, "out of memory");
			break;
		case 'h':
			a->hostname_set = true;
			r = vxn_spec_opts_set_hostname(a->spec, optarg, &err);
			break;
		case 'i':
			a->interactive = true;
			break;
		case 't':
			a->tty = true;
			break;
		case 'u':
			r = vxn_spec_opts_set_user(a->spec, optarg, &err);
			break;
		case 'w':
			r = vxn_spec_opts_set_workdir(a->spec, optarg, &err);
			break;
		case OPT_READONLY:
			vxn_spec_opts_set_readonly(a->spec, true);
			break;
		case OPT_RM:
			break;
		case OPT_MEMORY_MIB:
			if (parse_uint(optarg, &n) < 0 || n < 32)
				return cli_usage_error(
				    cli, "invalid --memory-mib '%s': at least 32", optarg);
			r = vxn_container_opts_set_memory_mib(a->copts, n, &err);
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, &n) < 0 || n > 64)
				return cli_usage_error(cli, "invalid --cpus '%s': 1 to 64", optarg);
			r = vxn_container_opts_set_vcpus(a->copts, n, &err);
			break;
		case OPT_HELP:
			help_run(cli);
			return -1;
		case 'm':
			if (parse_size_mib(optarg, &n) < 0 || n < 32)
				return cli_usage_error(
				    cli,
				    "invalid memory '%s': a size such as 512m or 1g, "
				    "at least 32m",
				    optarg);
			r = vxn_container_opts_set_memory_mib(a->copts, n, &err);
			break;
		case OPT_ENV_FILE:
			r = read_env_file(cli, a->spec, optarg, &err);
			if (r > 0)
				return r;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_TMPFS: {
			/* --tmpfs /run[:size=64m,mode=1777] */
			char *dst = strdup(optarg), *o = dst ? strchr(dst, ':') : NULL;
			char **opts = NULL;

			if (!dst)
				return cli_usage_error(cli, "out of memory");
			if (o) {
				*o++ = '\0';
				opts = split_commas(o);
			}
			r = vxn_spec_opts_add_mount(a->spec, "tmpfs", NULL, dst,
						    (const char *const *)opts, &err);
			cli_free_strv(opts);
			free(dst);
			break;
		}
		case 'v':
			r = vxn_spec_opts_add_volume(a->spec, optarg, &err);
			break;
		case OPT_MOUNT:
			r = add_mount(a->spec, optarg, &err);
			if (r == -2)
				return cli_usage_error(
				    cli,
				    "invalid --mount '%s': expected "
				    "type=bind,source=DIR,target=DIR[,readonly] or "
				    "type=tmpfs,target=DIR[,tmpfs-size=N]",
				    optarg);
			break;
		case OPT_ULIMIT:
			r = vxn_spec_opts_add_ulimit(a->spec, optarg, &err);
			break;
		case OPT_STOP_SIGNAL:
			r = vxn_spec_opts_set_stop_signal(a->spec, optarg, &err);
			break;
		case OPT_STOP_TIMEOUT:
			/* a foreground run ends with its process; accepted as docker does */
			if (strcmp(optarg, "0") != 0 && parse_uint(optarg, &n) < 0)
				return cli_usage_error(cli, "invalid --stop-timeout '%s'", optarg);
			break;
		case OPT_PULL:
			if (strcmp(optarg, "missing") && strcmp(optarg, "always") &&
			    strcmp(optarg, "never"))
				return cli_usage_error(
				    cli,
				    "invalid pull option: '%s' (missing, always or "
				    "never)",
				    optarg);
			a->pull = optarg;
			break;
		case OPT_KERNEL:
			r = vxn_container_opts_set_kernel(a->copts, optarg, &err);
			break;
		case OPT_BACKEND:
			r = vxn_container_opts_set_backend(a->copts, optarg, &err);
			break;
		case ':':
			return cli_usage_error(cli, "flag needs an argument: %s", argv[optind - 1]);
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (r < 0) {
		int rc = cli_usage_error(cli, "%s", vxn_error_message(err));

		vxn_error_free(err);
		return rc;
	}
	if (optind >= argc)
		return cli_usage_error(cli, "\"%s run\" requires at least 1 argument",
				       cli->tool->name);
	vxn_spec_opts_set_terminal(a->spec, a->tty);
	vxn_spec_opts_set_stdin(a->spec, a->interactive);
	return 0;
}

/* A container ID: 64 random hex digits, as docker's. */
static int new_id(char out[65])
{
	unsigned char b[32];
	FILE *f = fopen("/dev/urandom", "rbe");

	if (!f || fread(b, 1, sizeof(b), f) != sizeof(b)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	return 0;
}

/* The image, pulled first when it is not in the store (as docker run does). */
static int get_image(struct cli *cli, vxn_image_store *store, const char *name, const char *pull,
		     vxn_image **out, vxn_error **err)
{
	if (pull && strcmp(pull, "always") == 0)
		return vxn_image_pull(out, store, name, NULL, err) < 0 ? -1 : 0;
	if (vxn_image_lookup(out, store, name, err) == 0)
		return 0;
	if (vxn_error_code(*err) != VXN_ENOTFOUND || (pull && strcmp(pull, "never") == 0))
		return -1;
	vxn_error_free(*err);
	*err = NULL;
	if (!PODMAN(cli))
		fprintf(stderr, "Unable to find image '%s' locally\n", name);
	return vxn_image_pull(out, store, name, NULL, err) < 0 ? -1 : 0;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_args a = { 0 };
	vxn_error *err = NULL;
	vxn_image_store *store = NULL;
	vxn_image *image = NULL;
	vxn_container *c = NULL;
	char *spec = NULL;
	struct termios saved;
	struct sigaction sa = { 0 };
	char id[65], full12;
	bool raw = false;
	int status = 0, rc;

	if (vxn_spec_opts_new(&a.spec, &err) < 0 || vxn_container_opts_new(&a.copts, &err) < 0) {
		rc = cli_fail(cli, err);
		goto out;
	}
	rc = parse(cli, argc, argv, &a);
	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	if (a.tty && !isatty(STDIN_FILENO) && a.interactive) {
		cli_error(cli, "the input device is not a TTY");
		rc = cli_failure_code(cli);
		goto out;
	}
	if (optind + 1 < argc &&
	    vxn_spec_opts_set_cmd(a.spec, (const char *const *)argv + optind + 1, &err) < 0)
		goto fail;
	/* the ID (and, as docker, the default hostname: its first 12 digits) */
	if (new_id(id) < 0) {
		cli_error(cli, "/dev/urandom: %s", strerror(errno));
		rc = cli_failure_code(cli);
		goto out;
	}
	full12 = id[12];
	id[12] = '\0';
	if (!a.hostname_set && vxn_spec_opts_set_hostname(a.spec, id, &err) < 0)
		goto fail;
	id[12] = full12;
	if (vxn_container_opts_set_id(a.copts, id, &err) < 0)
		goto fail;
	if (a.name && vxn_container_opts_set_name(a.copts, a.name, &err) < 0)
		goto fail;
	if (vxn_image_store_open(&store, cli->ctx, &err) < 0 ||
	    get_image(cli, store, argv[optind], a.pull, &image, &err) < 0 ||
	    vxn_spec_generate(&spec, image, a.spec, &err) < 0)
		goto fail;
	if (a.tty) {
		struct winsize ws;

		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
			vxn_container_opts_set_console_size(a.copts, ws.ws_row, ws.ws_col);
	}
	if (vxn_container_create(&c, cli->ctx, store, image, spec, a.copts, &err) < 0)
		goto fail;

	run_session = vxn_container_session(c);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (!a.tty) {
		/* --sig-proxy: what we receive, the process receives */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGQUIT, &sa, NULL);
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
	} else {
		sigaction(SIGTERM, &sa, NULL);
		sa.sa_handler = on_winch;
		sigaction(SIGWINCH, &sa, NULL);
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
			struct termios t = saved;

			cfmakeraw(&t);
			raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	rc = vxn_container_run(c, a.interactive ? STDIN_FILENO : -1, STDOUT_FILENO,
			       a.tty ? STDOUT_FILENO : STDERR_FILENO, &status, &err);
	run_session = NULL;
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (rc < 0)
		goto fail;
	if (vxn_session_start_error(vxn_container_session(c)))
		cli_error(cli, "%s", vxn_session_start_error(vxn_container_session(c)));
	rc = status;
	goto out;
fail:
	rc = cli_fail(cli, err);
out:
	vxn_error_free(err);
	vxn_container_free(c);
	free(spec);
	vxn_image_free(image);
	vxn_image_store_free(store);
	vxn_container_opts_free(a.copts);
	vxn_spec_opts_free(a.spec);
	return rc;
}
