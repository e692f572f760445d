/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image commands for vdkr (docker's output) and vpdmn (podman's output). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vxn/image.h>

#include "cli.h"
#include "commands.h"
#include "format.h"

#define PODMAN(cli) ((cli)->tool->flavor == CLI_FLAVOR_PODMAN)

static int open_store(struct cli *cli, vxn_image_store **out)
{
	vxn_error *err = NULL;
	if (vxn_image_store_open(out, cli->ctx, &err) < 0) {
		int rc = cli_fail(cli, err);
		vxn_error_free(err);
		return rc;
	}
	return 0;
}

static int fail(struct cli *cli, vxn_error *err)
{
	int rc = cli_fail(cli, err);
	vxn_error_free(err);
	return rc;
}

/* The familiar name of a normalised reference (docker.io/library/x:y -> x:y). */
static char *familiar(const char *full)
{
	vxn_ref *ref = NULL;
	if (vxn_ref_parse(&ref, full, NULL) < 0)
		return strdup(full);
	char *f = strdup(vxn_ref_familiar(ref));
	vxn_ref_free(ref);
	return f;
}

/* Split "repo:tag" (no digest) at the tag's colon. */
static void split_name(const char *name, char *repo, size_t rlen, char *tag, size_t tlen)
{
	const char *colon = strrchr(name, ':');
	const char *slash = strrchr(name, '/');
	if (colon && (!slash || colon > slash)) {
		snprintf(repo, rlen, "%.*s", (int)(colon - name), name);
		snprintf(tag, tlen, "%s", colon + 1);
	} else {
		snprintf(repo, rlen, "%s", name);
		snprintf(tag, tlen, "<none>");
	}
}

static bool parse_bool_flag(const char *v)
{
	return !v || strcmp(v, "false") != 0;
}

/* ---- images ---- */

static void help_images(struct cli *cli)
{
	printf("Usage:  %s images [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n\n"
	       "Options:\n"
	       "  -a, --all             Show all images (same as default: there are no "
	       "intermediate images)\n"
	       "      --digests         Show digests\n"
	       "  -f, --filter FILTER   dangling=true|false\n"
	       "      --format FORMAT   table (default) or json\n"
	       "      --no-trunc        Don't truncate output\n"
	       "  -q, --quiet           Only show image IDs\n",
	       cli->tool->name);
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "digests", no_argument, NULL, 'd' },
		{ "filter", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool digests = false, quiet = false, no_trunc = false, json = false;
	unsigned flags = VXN_IMAGE_LIST_DEFAULT;
	int c;
	while ((c = getopt_long(argc, argv, "+adf:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			flags |= VXN_IMAGE_LIST_ALL;
			break;
		case 'd':
			digests = true;
			break;
		case 'f':
			if (strcmp(optarg, "dangling=true") == 0)
				flags |= VXN_IMAGE_LIST_DANGLING;
			else if (strcmp(optarg, "dangling=false") == 0)
				flags |= VXN_IMAGE_LIST_NAMED;
			else
				return cli_usage_error(
				    cli, "unsupported filter '%s' (dangling=true|false)", optarg);
			break;
		case 'F':
			if (strcmp(optarg, "json") == 0 || strcmp(optarg, "{{json .}}") == 0)
				json = true;
			else if (strcmp(optarg, "table") != 0)
				return cli_usage_error(
				    cli, "unsupported --format '%s' (table or json)", optarg);
			break;
		case 'n':
			no_trunc = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			help_images(cli);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(cli, "\"%s images\" accepts at most 1 argument",
				       cli->tool->name);
	const char *filter_repo = optind < argc ? argv[optind] : NULL;
	char frepo[512] = "", ftag[256] = "";
	if (filter_repo) {
		vxn_ref *ref = NULL;
		vxn_error *err = NULL;
		if (vxn_ref_parse(&ref, filter_repo, &err) < 0)
			return fail(cli, err);
		snprintf(frepo, sizeof(frepo), "%s", vxn_ref_name(ref));
		/* "busybox" matches every tag; "busybox:1" only that one */
		if (strchr(filter_repo + (strrchr(filter_repo, '/')
					      ? strrchr(filter_repo, '/') - filter_repo
					      : 0),
			   ':'))
			snprintf(ftag, sizeof(ftag), "%s",
				 vxn_ref_tag(ref) ? vxn_ref_tag(ref) : "");
		vxn_ref_free(ref);
	}

	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	vxn_image_list *list = NULL;
	vxn_error *err = NULL;
	if (vxn_image_list_images(&list, store, flags, &err) < 0) {
		vxn_image_store_free(store);
		return fail(cli, err);
	}
	struct table *t = table_new(digests ? 6 : 5);
	if (!quiet && !json) {
		if (digests)
			table_add(t, "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE");
		else
			table_add(t, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	}
	if (json)
		fputs("[", stdout);
	size_t printed = 0;
	char **seen_ids = calloc(vxn_image_list_count(list) + 1, sizeof(char *));
	size_t nseen = 0;
	for (size_t i = 0; i < vxn_image_list_count(list); i++) {
		const vxn_image *img = vxn_image_list_get(list, i);
		const char *const *names = vxn_image_names(img);
		char id[80], created[64], size[32];
		if (no_trunc)
			snprintf(id, sizeof(id), "%s", vxn_image_id(img));
		else
			fmt_short_id(id, sizeof(id), vxn_image_id(img));
		int64_t when = vxn_image_created_unix(img);
		if (when) {
			char d[48];
			fmt_duration(d, sizeof(d), (int64_t)time(NULL) - when);
			snprintf(created, sizeof(created), "%s ago", d);
		} else {
			snprintf(created, sizeof(created), "N/A");
		}
		fmt_size(size, sizeof(size), vxn_image_size(img));
		size_t rows = names[0] ? 0 : 1;
		while (names[rows])
			rows++;
		for (size_t j = 0; j < rows; j++) {
			char repo[512], tag[256];
			if (names[0]) {
				char *shown = PODMAN(cli) ? strdup(names[j]) : familiar(names[j]);
				split_name(shown ? shown : names[j], repo, sizeof(repo), tag,
					   sizeof(tag));
				free(shown);
				if (frepo[0]) {
					char fullrepo[512], fulltag[256];
					split_name(names[j], fullrepo, sizeof(fullrepo), fulltag,
						   sizeof(fulltag));
					if (strcmp(fullrepo, frepo) ||
					    (ftag[0] && strcmp(fulltag, ftag)))
						continue;
				}
			} else {
				if (frepo[0])
					continue;
				snprintf(repo, sizeof(repo), "<none>");
				snprintf(tag, sizeof(tag), "<none>");
			}
			if (quiet) {
				bool dup = false;
				for (size_t k = 0; k < nseen && !dup; k++)
					dup = strcmp(seen_ids[k], id) == 0;
				if (!dup && seen_ids) {
					seen_ids[nseen++] = strdup(id);
					printf("%s\n", id);
				}
			} else if (json) {
				printf("%s{\"Repository\":", printed ? "," : "");
				cli_json_string(stdout, repo);
				printf(",\"Tag\":");
				cli_json_string(stdout, tag);
				printf(",\"ID\":");
				cli_json_string(stdout, vxn_image_id(img));
				printf(",\"Digest\":");
				cli_json_string(stdout, vxn_image_digest(img));
				printf(",\"CreatedAt\":");
				cli_json_string(stdout, vxn_image_created(img));
				printf(",\"Size\":%llu}", (unsigned long long)vxn_image_size(img));
			} else if (digests) {
				table_add(t, repo, tag, vxn_image_digest(img), id, created, size);
			} else {
				table_add(t, repo, tag, id, created, size);
			}
			printed++;
		}
	}
	if (json)
		fputs("]\n", stdout);
	else if (!quiet)
		table_print(t, stdout);
	for (size_t k = 0; k < nseen; k++)
		free(seen_ids[k]);
	free(seen_ids);
	table_free(t);
	vxn_image_list_free(list);
	vxn_image_store_free(store);
	return 0;
}

/* ---- progress ---- */

struct progress {
	bool tty;
	bool quiet;
	bool active; /* a tty line is being redrawn */
};

static void on_progress(void *userdata, const char *id, const char *status, uint64_t cur,
			uint64_t total)
{
	struct progress *p = userdata;
	if (p->quiet)
		return;
	/* Progress goes to stdout, as docker prints it; errors alone go to stderr. */
	if (p->tty) {
		/* One line, redrawn in place. */
		fprintf(stdout, "\r\033[K%s%s%s", id, *id ? ": " : "", status);
		p->active = true;
	} else {
		fprintf(stdout, "%s%s%s\n", id, *id ? ": " : "", status);
	}
	fflush(stdout);
}

static void progress_end(struct progress *p)
{
	if (p->active)
		fputs("\r\033[K", stdout);
	p->active = false;
}

/* Options pull and push share: --platform, --tls-verify, --authfile, -q. */
struct xfer_opts {
	vxn_image_opts *opts;
	struct progress prog;
};

static int xfer_parse(struct cli *cli, int argc, char **argv, struct xfer_opts *x,
		      void (*help)(struct cli *))
{
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'p' },
		{ "tls-verify", optional_argument, NULL, 't' },
		{ "insecure", no_argument, NULL, 'i' },
		{ "authfile", required_argument, NULL, 'A' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	vxn_error *err = NULL;
	if (vxn_image_opts_new(&x->opts, &err) < 0)
		return fail(cli, err);
	x->prog.tty = isatty(1);
	int c;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (vxn_image_opts_set_platform(x->opts, optarg, &err) < 0)
				return fail(cli, err);
			break;
		case 't':
			vxn_image_opts_set_tls_verify(x->opts, parse_bool_flag(optarg));
			break;
		case 'i':
			vxn_image_opts_set_tls_verify(x->opts, false);
			break;
		case 'A':
			if (vxn_image_opts_set_authfile(x->opts, optarg, &err) < 0)
				return fail(cli, err);
			break;
		case 'q':
			x->prog.quiet = true;
			break;
		case 'h':
			help(cli);
			return -1;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	vxn_image_opts_set_progress(x->opts, on_progress, &x->prog);
	return 0;
}

static void help_pull(struct cli *cli)
{
	printf(
	    "Usage:  %s pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n\n"
	    "Options:\n"
	    "      --platform OS/ARCH[/VARIANT]  Select a platform from an image index\n"
	    "      --tls-verify=false           Allow plain HTTP and unverified TLS (insecure "
	    "registry)\n"
	    "      --authfile FILE              Registry credentials (containers-auth.json)\n"
	    "  -q, --quiet                      Suppress progress output\n",
	    cli->tool->name);
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	struct xfer_opts x = { 0 };
	int rc = xfer_parse(cli, argc, argv, &x, help_pull);
	if (rc) {
		vxn_image_opts_free(x.opts);
		return rc < 0 ? 0 : rc;
	}
	if (argc - optind != 1) {
		vxn_image_opts_free(x.opts);
		return cli_usage_error(cli, "\"%s pull\" requires exactly 1 argument",
				       cli->tool->name);
	}
	vxn_image_store *store = NULL;
	rc = open_store(cli, &store);
	if (rc) {
		vxn_image_opts_free(x.opts);
		return rc;
	}
	vxn_image *img = NULL;
	vxn_error *err = NULL;
	const char *name = argv[optind];
	if (!PODMAN(cli) && !x.prog.quiet && !strchr(name, '@') &&
	    !strchr(strrchr(name, '/') ? strrchr(name, '/') : name, ':'))
		printf("Using default tag: latest\n");
	fflush(stdout);
	rc = vxn_image_pull(&img, store, name, x.opts, &err);
	progress_end(&x.prog);
	if (rc < 0) {
		vxn_image_opts_free(x.opts);
		vxn_image_store_free(store);
		return fail(cli, err);
	}
	if (PODMAN(cli)) {
		printf("%s\n", vxn_image_id(img) + 7);
	} else {
		vxn_ref *ref = NULL;
		vxn_ref_parse(&ref, name, NULL);
		if (!x.prog.quiet) {
			printf("Digest: %s\n", vxn_image_digest(img));
			printf("Status: Downloaded image for %s\n",
			       ref ? vxn_ref_familiar(ref) : name);
		}
		printf("%s\n", ref ? vxn_ref_string(ref) : name);
		vxn_ref_free(ref);
	}
	vxn_image_free(img);
	vxn_image_opts_free(x.opts);
	vxn_image_store_free(store);
	return 0;
}

static void help_push(struct cli *cli)
{
	printf(
	    "Usage:  %s push [OPTIONS] NAME[:TAG]%s\n\nUpload an image to a registry\n\n"
	    "Options:\n"
	    "      --tls-verify=false   Allow plain HTTP and unverified TLS (insecure registry)\n"
	    "      --authfile FILE      Registry credentials (containers-auth.json)\n"
	    "  -q, --quiet              Suppress progress output\n",
	    cli->tool->name, PODMAN(cli) ? " [DESTINATION]" : "");
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
	struct xfer_opts x = { 0 };
	int rc = xfer_parse(cli, argc, argv, &x, help_push);
	if (rc) {
		vxn_image_opts_free(x.opts);
		return rc < 0 ? 0 : rc;
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > (PODMAN(cli) ? 2 : 1)) {
		vxn_image_opts_free(x.opts);
		return cli_usage_error(cli, "\"%s push\" requires %s", cli->tool->name,
				       PODMAN(cli) ? "1 or 2 arguments" : "exactly 1 argument");
	}
	vxn_image_store *store = NULL;
	rc = open_store(cli, &store);
	if (rc) {
		vxn_image_opts_free(x.opts);
		return rc;
	}
	vxn_error *err = NULL;
	rc =
	    vxn_image_push(store, argv[optind], nargs == 2 ? argv[optind + 1] : NULL, x.opts, &err);
	progress_end(&x.prog);
	vxn_image_opts_free(x.opts);
	vxn_image_store_free(store);
	return rc < 0 ? fail(cli, err) : 0;
}

/* ---- load / save / import ---- */

int cmd_load(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *input = NULL;
	struct progress prog = { .tty = isatty(1) };
	int c;
	while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'q':
			prog.quiet = true;
			break;
		case 'h':
			printf(
			    "Usage:  %s load [OPTIONS]\n\nLoad images from a tar archive or STDIN "
			    "(docker archive, OCI archive) or an OCI layout directory\n\n"
			    "Options:\n  -i, --input FILE   Read from FILE instead of STDIN\n"
			    "  -q, --quiet        Suppress the load output\n",
			    cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "\"%s load\" accepts no arguments", cli->tool->name);
	if (!input && isatty(0))
		return cli_usage_error(cli, "requested load from stdin, but stdin is empty");
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	vxn_image_opts *o = NULL;
	vxn_error *err = NULL;
	char **names = NULL;
	if (vxn_image_opts_new(&o, &err) < 0) {
		vxn_image_store_free(store);
		return fail(cli, err);
	}
	/* docker shows load progress on a terminal only; piped, just the result */
	if (prog.tty)
		vxn_image_opts_set_progress(o, on_progress, &prog);
	rc = vxn_image_load(&names, store, input, NULL, o, &err);
	progress_end(&prog);
	vxn_image_opts_free(o);
	vxn_image_store_free(store);
	if (rc < 0)
		return fail(cli, err);
	for (size_t i = 0; names && names[i]; i++) {
		if (strncmp(names[i], "sha256:", 7) == 0)
			printf("Loaded image%s: %s\n", PODMAN(cli) ? "" : " ID", names[i]);
		else if (PODMAN(cli))
			printf("Loaded image: %s\n", names[i]);
		else {
			char *f = familiar(names[i]);
			printf("Loaded image: %s\n", f ? f : names[i]);
			free(f);
		}
	}
	cli_free_strv(names);
	return 0;
}

int cmd_save(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *output = NULL;
	vxn_image_format format = VXN_IMAGE_FORMAT_DOCKER_ARCHIVE;
	int c;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "docker-archive") == 0)
				format = VXN_IMAGE_FORMAT_DOCKER_ARCHIVE;
			else if (strcmp(optarg, "oci-archive") == 0)
				format = VXN_IMAGE_FORMAT_OCI_ARCHIVE;
			else
				return cli_usage_error(
				    cli,
				    "unsupported --format '%s' (docker-archive or oci-archive)",
				    optarg);
			break;
		case 'h':
			printf("Usage:  %s save [OPTIONS] IMAGE [IMAGE...]\n\nSave images to a tar "
			       "archive "
			       "(streamed to STDOUT by default)\n\nOptions:\n"
			       "  -o, --output FILE   Write to FILE instead of STDOUT\n"
			       "      --format FMT    docker-archive (default; also an OCI layout) "
			       "or oci-archive\n",
			       cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "\"%s save\" requires at least 1 argument",
				       cli->tool->name);
	if (!output && isatty(1))
		return cli_usage_error(
		    cli, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	vxn_error *err = NULL;
	rc = vxn_image_save(store, (const char *const *)&argv[optind], output, format, &err);
	vxn_image_store_free(store);
	return rc < 0 ? fail(cli, err) : 0;
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "change", required_argument, NULL, 'c' },
		{ "message", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	vxn_image_opts *o = NULL;
	vxn_error *err = NULL;
	if (vxn_image_opts_new(&o, &err) < 0)
		return fail(cli, err);
	int c;
	while ((c = getopt_long(argc, argv, "+c:m:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (vxn_image_opts_add_change(o, optarg, &err) < 0) {
				vxn_image_opts_free(o);
				return fail(cli, err);
			}
			break;
		case 'm':
			vxn_image_opts_set_message(o, optarg, NULL);
			break;
		case 'q':
			break;
		case 'h':
			printf("Usage:  %s import [OPTIONS] FILE|- [REPOSITORY[:TAG]]\n\nImport "
			       "the contents "
			       "of a root filesystem tarball to create an image\n\nOptions:\n"
			       "  -c, --change INSTR   Apply a Dockerfile instruction (CMD, "
			       "ENTRYPOINT, ENV, "
			       "WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME)\n"
			       "  -m, --message MSG    Commit message for the imported image\n",
			       cli->tool->name);
			vxn_image_opts_free(o);
			return 0;
		default:
			vxn_image_opts_free(o);
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2) {
		vxn_image_opts_free(o);
		return cli_usage_error(cli, "\"%s import\" requires 1 or 2 arguments",
				       cli->tool->name);
	}
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc) {
		vxn_image_opts_free(o);
		return rc;
	}
	vxn_image *img = NULL;
	rc = vxn_image_import(&img, store, argv[optind], nargs == 2 ? argv[optind + 1] : NULL, o,
			      &err);
	vxn_image_opts_free(o);
	vxn_image_store_free(store);
	if (rc < 0)
		return fail(cli, err);
	printf("%s\n", PODMAN(cli) ? vxn_image_id(img) + 7 : vxn_image_id(img));
	vxn_image_free(img);
	return 0;
}

/* ---- tag / rmi ---- */

int cmd_tag(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage:  %s tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]%s\n\nCreate a tag "
		       "TARGET_IMAGE that refers to SOURCE_IMAGE\n",
		       cli->tool->name, PODMAN(cli) ? " [TARGET...]" : "");
		return 0;
	}
	if (argc < 3 || (!PODMAN(cli) && argc != 3))
		return cli_usage_error(cli, "\"%s tag\" requires exactly 2 arguments",
				       cli->tool->name);
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	vxn_error *err = NULL;
	for (int i = 2; i < argc && rc == 0; i++)
		if (vxn_image_tag(store, argv[1], argv[i], &err) < 0)
			rc = fail(cli, err);
	vxn_image_store_free(store);
	return rc;
}

int cmd_rmi(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned flags = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			flags |= VXN_IMAGE_REMOVE_FORCE;
			break;
		case 'h':
			printf(
			    "Usage:  %s rmi [OPTIONS] IMAGE [IMAGE...]\n\nRemove one or more "
			    "images\n\n"
			    "Options:\n  -f, --force   Remove an image ID that has several names\n",
			    cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "\"%s rmi\" requires at least 1 argument",
				       cli->tool->name);
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	/* Like docker: go on with the others, fail at the end. */
	for (int i = optind; i < argc; i++) {
		char **report = NULL;
		vxn_error *err = NULL;
		if (vxn_image_remove(&report, store, argv[i], flags, &err) < 0) {
			rc = fail(cli, err);
			continue;
		}
		for (size_t j = 0; report && report[j]; j++) {
			if (PODMAN(cli))
				printf("%s\n", report[j]);
			else
				printf("%s\n", report[j]);
		}
		cli_free_strv(report);
	}
	vxn_image_store_free(store);
	return rc;
}

/* ---- inspect / history ---- */

int cmd_image_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "{{json .}}"))
				return cli_usage_error(cli, "unsupported --format '%s' (json)",
						       optarg);
			break;
		case 't':
			if (strcmp(optarg, "image"))
				return cli_usage_error(cli, "unsupported --type '%s' (image)",
						       optarg);
			break;
		case 'h':
			printf("Usage:  %s inspect [OPTIONS] IMAGE [IMAGE...]\n\nDisplay detailed "
			       "information on one or more images (JSON)\n",
			       cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "\"%s inspect\" requires at least 1 argument",
				       cli->tool->name);
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	/* Print the array only once every lookup is done, errors after it (as docker). */
	char **docs = calloc((size_t)(argc - optind) + 1, sizeof(char *));
	size_t n = 0;
	vxn_error **errs = calloc((size_t)(argc - optind) + 1, sizeof(vxn_error *));
	size_t nerr = 0;
	for (int i = optind; docs && errs && i < argc; i++) {
		vxn_image *img = NULL;
		vxn_error *err = NULL;
		if (vxn_image_lookup(&img, store, argv[i], &err) < 0 ||
		    vxn_image_inspect_json(&docs[n], img, &err) < 0) {
			errs[nerr++] = err;
			vxn_image_free(img);
			continue;
		}
		n++;
		vxn_image_free(img);
	}
	printf("[");
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(docs[i]);
		while (l && docs[i][l - 1] == '\n')
			docs[i][--l] = '\0';
		printf("%s%s", i ? ",\n" : "\n", docs[i]);
		free(docs[i]);
	}
	printf("%s]\n", n ? "\n" : "");
	for (size_t i = 0; i < nerr; i++)
		rc = fail(cli, errs[i]);
	free(docs);
	free(errs);
	vxn_image_store_free(store);
	return rc;
}

int cmd_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "format", required_argument, NULL, 'f' },
		{ "human", optional_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool no_trunc = false, quiet = false, json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			no_trunc = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "{{json .}}"))
				return cli_usage_error(cli, "unsupported --format '%s' (json)",
						       optarg);
			json = true;
			break;
		case 'H':
			break;
		case 'h':
			printf(
			    "Usage:  %s history [OPTIONS] IMAGE\n\nShow the history of an image\n\n"
			    "Options:\n      --format json   JSON output\n      --no-trunc      "
			    "Don't truncate output\n"
			    "  -q, --quiet         Only show image IDs\n",
			    cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "\"%s history\" requires exactly 1 argument",
				       cli->tool->name);
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	vxn_image *img = NULL;
	vxn_error *err = NULL;
	char *text = NULL;
	if (vxn_image_lookup(&img, store, argv[optind], &err) < 0 ||
	    vxn_image_history_json(&text, img, &err) < 0) {
		vxn_image_free(img);
		vxn_image_store_free(store);
		return fail(cli, err);
	}
	vxn_image_free(img);
	vxn_image_store_free(store);
	if (json) {
		fputs(text, stdout);
		free(text);
		return 0;
	}
	/* Render the library's JSON as docker's table: a tiny scan over the known keys. */
	struct table *t = table_new(5);
	if (!quiet)
		table_add(t, "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
	const char *p = text;
	while ((p = strstr(p, "\"id\": \"")) != NULL) {
		char id[80] = "", created[64] = "", by[4096] = "", comment[1024] = "",
		     size[32] = "0B";
		sscanf(p, "\"id\": \"%79[^\"]\"", id);
		const char *q = strstr(p, "\"created\": ");
		if (q && sscanf(q, "\"created\": \"%63[^\"]\"", created) == 1) {
			struct tm tm = { 0 };
			if (strptime(created, "%Y-%m-%dT%H:%M:%S", &tm)) {
				char d[48];
				fmt_duration(d, sizeof(d),
					     (int64_t)time(NULL) - (int64_t)timegm(&tm));
				snprintf(created, sizeof(created), "%s ago", d);
			}
		} else {
			snprintf(created, sizeof(created), "N/A");
		}
		q = strstr(p, "\"created_by\": \"");
		if (q)
			sscanf(q, "\"created_by\": \"%4095[^\"]\"", by);
		q = strstr(p, "\"size\": ");
		unsigned long long sz = 0;
		if (q && sscanf(q, "\"size\": %llu", &sz) == 1)
			fmt_size(size, sizeof(size), sz);
		q = strstr(p, "\"comment\": \"");
		if (q)
			sscanf(q, "\"comment\": \"%1023[^\"]\"", comment);
		char sid[80];
		if (strcmp(id, "<missing>") && !no_trunc)
			fmt_short_id(sid, sizeof(sid), id);
		else
			snprintf(sid, sizeof(sid), "%s", id);
		if (!no_trunc && strlen(by) > 45)
			strcpy(by + 44, "…");
		if (quiet)
			printf("%s\n", sid);
		else
			table_add(t, sid, created, by, size, comment);
		p += 7;
	}
	if (!quiet)
		table_print(t, stdout);
	table_free(t);
	free(text);
	return 0;
}

/* ---- prune / df ---- */

int cmd_image_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned flags = VXN_IMAGE_PRUNE_DANGLING;
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			flags |= VXN_IMAGE_PRUNE_ALL;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			printf(
			    "Usage:  %s image prune [OPTIONS]\n\nRemove unused images\n\nOptions:\n"
			    "  -a, --all     Remove all unused images, not just dangling ones\n"
			    "  -f, --force   Do not prompt for confirmation\n",
			    cli->tool->name);
			return 0;
		default:
			return cli_usage_error(cli, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (!force) {
		fprintf(
		    stderr,
		    "WARNING! This will remove all %s.\nAre you sure you want to continue? [y/N] ",
		    flags & VXN_IMAGE_PRUNE_ALL
			? "images without at least one container associated to them"
			: "dangling images");
		char line[16] = "";
		if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y'))
			return 0;
	}
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	char **report = NULL;
	uint64_t freed = 0;
	vxn_error *err = NULL;
	rc = vxn_image_prune(&report, &freed, store, flags, &err);
	vxn_image_store_free(store);
	if (rc < 0)
		return fail(cli, err);
	if (report && report[0]) {
		if (!PODMAN(cli))
			printf("Deleted Images:\n");
		for (size_t i = 0; report[i]; i++) {
			if (PODMAN(cli)) {
				const char *id = strstr(report[i], "sha256:");
				if (strncmp(report[i], "Deleted: ", 9) == 0 && id)
					printf("%s\n", id + 7);
			} else {
				/* docker prints these two in lower case here */
				if (strncmp(report[i], "Untagged: ", 10) == 0)
					printf("untagged: %s\n", report[i] + 10);
				else if (strncmp(report[i], "Deleted: ", 9) == 0)
					printf("deleted: %s\n", report[i] + 9);
			}
		}
		if (!PODMAN(cli))
			printf("\n");
	}
	char sz[32];
	fmt_size(sz, sizeof(sz), freed);
	if (!PODMAN(cli))
		printf("Total reclaimed space: %s\n", sz);
	cli_free_strv(report);
	return 0;
}

int cmd_system_df(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage:  %s system df\n\nShow disk usage\n", cli->tool->name);
		return 0;
	}
	if (argc > 1)
		return cli_usage_error(cli, "\"%s system df\" accepts no arguments",
				       cli->tool->name);
	vxn_image_store *store = NULL;
	int rc = open_store(cli, &store);
	if (rc)
		return rc;
	uint64_t n = 0, bytes = 0, reclaim = 0, cache = 0;
	vxn_error *err = NULL;
	rc = vxn_image_store_usage(store, &n, &bytes, &reclaim, &cache, &err);
	vxn_image_store_free(store);
	if (rc < 0)
		return fail(cli, err);
	char a[32], b[32], cs[32], total[24], pct[48];
	fmt_size(a, sizeof(a), bytes);
	fmt_size(b, sizeof(b), reclaim);
	fmt_size(cs, sizeof(cs), cache);
	snprintf(total, sizeof(total), "%llu", (unsigned long long)n);
	snprintf(pct, sizeof(pct), "%s (%d%%)", b,
		 bytes ? (int)(100.0 * (double)reclaim / (double)bytes) : 0);
	struct table *t = table_new(5);
	table_add(t, "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
	table_add(t, "Images", total, "0", a, pct);
	table_add(t, "Containers", "0", "0", "0B", "0B");
	table_add(t, "Rootfs cache", "-", "-", cs, cs);
	table_print(t, stdout);
	table_free(t);
	return 0;
}

/* ---- `image` and `system` groups ---- */

int cmd_image_group(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} sub[] = {
		{ "ls", cmd_images },
		{ "list", cmd_images },
		{ "pull", cmd_pull },
		{ "push", cmd_push },
		{ "load", cmd_load },
		{ "save", cmd_save },
		{ "import", cmd_import },
		{ "tag", cmd_tag },
		{ "rm", cmd_rmi },
		{ "remove", cmd_rmi },
		{ "inspect", cmd_image_inspect },
		{ "history", cmd_history },
		{ "prune", cmd_image_prune },
		{ 0 },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage:  %s image COMMAND\n\nManage images\n\nCommands:\n", cli->tool->name);
		for (size_t i = 0; sub[i].name; i++)
			printf("  %s\n", sub[i].name);
		return argc < 2 ? cli_failure_code(cli) : 0;
	}
	for (size_t i = 0; sub[i].name; i++)
		if (strcmp(argv[1], sub[i].name) == 0) {
			optind = 0;
			return sub[i].fn(cli, argc - 1, argv + 1);
		}
	return cli_usage_error(cli, "unknown command \"%s\" for \"%s image\"", argv[1],
			       cli->tool->name);
}

int cmd_system_group(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "df") == 0) {
		optind = 0;
		return cmd_system_df(cli, argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "info") == 0) {
		optind = 0;
		return cmd_info(cli, argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "prune") == 0) {
		optind = 0;
		return cmd_image_prune(cli, argc - 1, argv + 1);
	}
	printf("Usage:  %s system COMMAND\n\nManage vxn\n\nCommands:\n  df\n  info\n  prune\n",
	       cli->tool->name);
	return argc < 2 ? cli_failure_code(cli) : 0;
}
