/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running helper programs (skopeo, ...) and collecting their output.
 * Leaf helper: 0 or -errno.
 */
#ifndef VXN_SHARED_PROCESS_H
#define VXN_SHARED_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

/* Called for every complete line the child writes to stderr (without '\n'). */
typedef void (*process_line_fn)(void *userdata, const char *line);

struct process_result {
	int exit_code; /* exit status, or 128+N when killed by signal N */
	char *out;     /* all of stdout (NUL-terminated), when capture_stdout */
	size_t out_len;
	char *err_tail; /* the last stderr lines (up to 4 KiB), NUL-terminated */
};

void process_result_clear(struct process_result *r);

/* stdout_fd value: the child's stdout is read line by line like its stderr. */
#define PROCESS_STDOUT_TO_LINES (-2)

/*
 * Run argv[0] (searched in PATH) with argv, stdin from stdin_fd (or
 * /dev/null if < 0), stdout captured (up to max_stdout bytes; beyond that
 * -EFBIG) or sent to stdout_fd when >= 0, stderr lines to on_line. The child
 * gets PR_SET_PDEATHSIG(SIGKILL), so it never outlives the caller.
 * Returns 0 when the program ran (whatever its exit code), or -errno
 * (-ENOENT when the program does not exist).
 */
int process_run(char *const argv[], int stdin_fd, int stdout_fd, size_t max_stdout,
		process_line_fn on_line, void *userdata, struct process_result *res);

#endif
