/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mkbase OUTPUT INIT: write the shared base initramfs (doc/guest-protocol.md,
 * section 4): the directories dev, proc, sys and vxn, the node dev/console
 * (c 5 1) and INIT as /init. Build-time tool; the output is reproducible
 * (uid 0, mtime 0, fixed order), so it only changes when vxn-init does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/cpio.h"
#include "shared/util.h"

int main(int argc, char **argv)
{
	cpio_writer *w = NULL;
	char *init = NULL;
	size_t init_len = 0, len = 0;
	const void *data;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: mkbase OUTPUT INIT\n");
		return 2;
	}
	r = read_file(argv[2], 64u << 20, &init, &init_len);
	if (r < 0) {
		fprintf(stderr, "mkbase: %s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	struct cpio_entry console = {
		.path = "dev/console", .mode = S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1
	};
	if ((r = cpio_writer_new(&w)) < 0 || (r = cpio_writer_add_dir(w, "dev", 0755)) < 0 ||
	    (r = cpio_writer_add(w, &console)) < 0 ||
	    (r = cpio_writer_add_dir(w, "proc", 0555)) < 0 ||
	    (r = cpio_writer_add_dir(w, "sys", 0555)) < 0 ||
	    (r = cpio_writer_add_dir(w, "vxn", 0700)) < 0 ||
	    (r = cpio_writer_add_file(w, "init", 0755, init, init_len)) < 0 ||
	    (r = cpio_writer_finish(w)) < 0) {
		fprintf(stderr, "mkbase: building the archive: %s\n", strerror(-r));
		cpio_writer_free(w);
		free(init);
		return 1;
	}
	data = cpio_writer_data(w, &len);
	r = write_file_atomic(argv[1], data, len, 0644);
	if (r < 0)
		fprintf(stderr, "mkbase: %s: %s\n", argv[1], strerror(-r));
	cpio_writer_free(w);
	free(init);
	return r < 0 ? 1 : 0;
}
