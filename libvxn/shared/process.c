/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdbool.h>

#include "macro.h"

#define ERR_TAIL_MAX 4096

void process_result_clear(struct process_result *r)
{
	free(r->out);
	free(r->err_tail);
	memset(r, 0, sizeof(*r));
}

static void tail_append(char *tail, size_t *len, const char *line)
{
	size_t l = strlen(line);
	if (l + 1 > ERR_TAIL_MAX - 1)
		line += l - (ERR_TAIL_MAX - 2), l = ERR_TAIL_MAX - 2;
	while (*len + l + 1 > ERR_TAIL_MAX - 1) {
		char *nl = memchr(tail, '\n', *len);
		size_t cut = nl ? (size_t)(nl - tail) + 1 : *len;
		memmove(tail, tail + cut, *len - cut);
		*len -= cut;
	}
	if (*len)
		tail[(*len)++] = '\n';
	memcpy(tail + *len, line, l);
	*len += l;
	tail[*len] = '\0';
}

int process_run(char *const argv[], int stdin_fd, int stdout_fd, size_t max_stdout,
		process_line_fn on_line, void *userdata, struct process_result *res)
{
	memset(res, 0, sizeof(*res));
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 };
	bool merge = stdout_fd == PROCESS_STDOUT_TO_LINES;
	if ((stdout_fd < 0 && !merge && pipe2(outp, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(execp, O_CLOEXEC) < 0) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			if (outp[i] >= 0)
				close(outp[i]);
			if (errp[i] >= 0)
				close(errp[i]);
			if (execp[i] >= 0)
				close(execp[i]);
		}
		return -e;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(errp[0]), close(errp[1]), close(execp[0]), close(execp[1]);
		if (outp[0] >= 0)
			close(outp[0]), close(outp[1]);
		return -e;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
		int out = merge ? errp[1] : stdout_fd >= 0 ? stdout_fd : outp[1];
		if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(execp[1], &e, sizeof(e));
		_exit(127);
	}
	close(errp[1]);
	close(execp[1]);
	if (outp[1] >= 0)
		close(outp[1]);

	int exec_errno = 0;
	ssize_t n;
	do
		n = read(execp[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	close(execp[0]);

	int r = 0;
	size_t cap = 0, len = 0, llen = 0, tlen = 0;
	char *out = NULL;
	char line[8192];
	char *tail = calloc(1, ERR_TAIL_MAX);
	if (!tail)
		r = -ENOMEM;
	struct pollfd fds[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
	int open_fds = (outp[0] >= 0) + 1;
	if (outp[0] < 0)
		fds[0].fd = -1;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (fds[0].fd >= 0 && fds[0].revents) {
			if (len + 65536 + 1 > cap) {
				size_t ncap = cap ? cap * 2 : 65536 * 2;
				char *no = realloc(out, ncap);
				if (!no) {
					r = -ENOMEM;
					break;
				}
				out = no;
				cap = ncap;
			}
			n = read(fds[0].fd, out + len, 65536);
			if (n > 0) {
				len += (size_t)n;
				if (len > max_stdout && r == 0)
					r = -EFBIG;
			} else if (n == 0 || errno != EINTR) {
				close(fds[0].fd);
				fds[0].fd = -1;
				open_fds--;
			}
		}
		if (fds[1].fd >= 0 && fds[1].revents) {
			char buf[4096];
			n = read(fds[1].fd, buf, sizeof(buf));
			if (n > 0) {
				for (ssize_t i = 0; i < n; i++) {
					/* skopeo redraws progress with '\r' when on a tty; treat as
					 * a line end */
					if (buf[i] == '\n' || buf[i] == '\r' ||
					    llen == sizeof(line) - 1) {
						line[llen] = '\0';
						if (llen) {
							if (on_line)
								on_line(userdata, line);
							if (tail)
								tail_append(tail, &tlen, line);
						}
						llen = 0;
						if (buf[i] == '\n' || buf[i] == '\r')
							continue;
					}
					line[llen++] = buf[i];
				}
			} else if (n == 0 || errno != EINTR) {
				close(fds[1].fd);
				fds[1].fd = -1;
				open_fds--;
			}
		}
	}
	if (llen) {
		line[llen] = '\0';
		if (on_line)
			on_line(userdata, line);
		if (tail)
			tail_append(tail, &tlen, line);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (exec_errno) {
		free(out);
		free(tail);
		return -exec_errno;
	}
	if (r < 0) {
		free(out);
		free(tail);
		return r;
	}
	res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (out)
		out[len] = '\0';
	res->out = out ? out : strdup("");
	res->out_len = len;
	res->err_tail = tail;
	return res->out ? 0 : -ENOMEM;
}
