/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run-container IMAGE [ARG...]: run ARGs (or the image's command) in a VM
 * with libvxn, with this program's stdout and stderr (stdin is not
 * streamed), and exit with the container's status. Build it against an installed vxn with
 *   cc run-container.c $(pkg-config --cflags --libs vxn) -o run-container
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vxn/vxn.h>

/* The smallest OCI runtime spec: the process and nothing else. */
static char *make_spec(const vxn_image *image, int argc, char **argv)
{
	const char *const *cmd = vxn_image_cmd(image);
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);

	len += (size_t)snprintf(s + len, cap - len,
				"{\"ociVersion\":\"1.0.2\",\"process\":{\"cwd\":\"/\","
				"\"env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\"],\"args\":[");
	for (int i = 0; argc ? i < argc : cmd && cmd[i] != NULL; i++) {
		const char *a = argc ? argv[i] : cmd[i];

		/* a real program escapes; this example takes plain words */
		len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", i ? "," : "", a);
	}
	snprintf(s + len, cap - len, "]},\"root\":{\"path\":\"rootfs\"}}");
	return s;
}

int main(int argc, char **argv)
{
	vxn_ctx *ctx = NULL;
	vxn_image_store *store = NULL;
	vxn_image *image = NULL;
	vxn_container *c = NULL;
	vxn_error *err = NULL;
	char *spec = NULL;
	int status = 125;

	if (argc < 2) {
		fprintf(stderr, "usage: %s IMAGE [ARG...]\n", argv[0]);
		return 125;
	}
	if (vxn_ctx_new(&ctx, NULL, 0, &err) < 0 || vxn_image_store_open(&store, ctx, &err) < 0 ||
	    vxn_image_lookup(&image, store, argv[1], &err) < 0)
		goto out;
	spec = make_spec(image, argc - 2, argv + 2);
	if (vxn_container_create(&c, ctx, store, image, spec, NULL, &err) < 0 ||
	    vxn_container_run(c, -1, 1, 2, &status, &err) < 0)
		status = 125;
	else if (vxn_session_start_error(vxn_container_session(c)))
		fprintf(stderr, "run-container: %s\n",
			vxn_session_start_error(vxn_container_session(c)));
out:
	if (err)
		fprintf(stderr, "run-container: %s\n", vxn_error_message(err));
	vxn_error_free(err);
	vxn_container_free(c);
	free(spec);
	vxn_image_free(image);
	vxn_image_store_free(store);
	vxn_ctx_free(ctx);
	return status;
}
