/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host side of the guest boot protocol: one session per console (doc/guest-protocol.md). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vxn/boot.h>
#include <vxn/session.h>

#include "core/private.h"
#include "domain/backend.h"
#include "shared/util.h"

#define LOG_TAIL     16384
#define END_GRACE_MS 10000 /* after EXIT: the guest must power off within this */
/* after EXIT, a console quiet this long ends the session too: a Xen PV console (a
 * pty of xenconsoled) stays open until the domain is destroyed, so its end of file
 * cannot be waited for; the domain layer's shutdown deadline takes it from there */
#define END_IDLE_MS 300

struct vxn_session {
	vxn_ctx *ctx;
	int con_fd;
	int in_fd, out_fd, err_fd, log_fd;
	int ctl[2]; /* self-pipe: signals and resizes from handlers */
	unsigned ready_timeout_ms;
	vxn_frame_decoder *dec;
	uint32_t seq;
	bool ready, started, done, stdin_open, out_broken, err_broken;
	uint64_t credit;
	int exit_status;
	char *start_error;
	char *info;
	char log[LOG_TAIL + 1];
	size_t log_len;
	int fatal; /* a write to the console failed */
};

static void log_append(vxn_session *s, const void *p, size_t n)
{
	if (s->log_fd >= 0)
		(void)write_all(s->log_fd, p, n);
	if (n >= LOG_TAIL) {
		memcpy(s->log, (const char *)p + n - LOG_TAIL, LOG_TAIL);
		s->log_len = LOG_TAIL;
	} else {
		if (s->log_len + n > LOG_TAIL) {
			size_t drop = s->log_len + n - LOG_TAIL;
			memmove(s->log, s->log + drop, s->log_len - drop);
			s->log_len -= drop;
		}
		memcpy(s->log + s->log_len, p, n);
		s->log_len += n;
	}
	s->log[s->log_len] = '\0';
}

static int send_frame(vxn_session *s, unsigned type, const void *payload, size_t n)
{
	unsigned char buf[VXN_FRAME_MAX_SIZE];
	int len = vxn_frame_encode(buf, sizeof(buf), type, VXN_STREAM_MAIN, s->seq++, payload, n);
	if (len < 0)
		return len;
	int r = send_all(s->con_fd, buf, (size_t)len);
	if (r < 0)
		s->fatal = r;
	return r;
}

static int send_encoded(vxn_session *s, int len, const unsigned char *buf)
{
	if (len < 0)
		return len;
	int r = send_all(s->con_fd, buf, (size_t)len);
	if (r < 0)
		s->fatal = r;
	return r;
}

static void on_foreign(void *userdata, const void *bytes, size_t size)
{
	log_append(userdata, bytes, size);
}

static void write_stream(vxn_session *s, int fd, bool *broken, const void *p, size_t n)
{
	if (fd < 0 || *broken)
		return;
	if (write_all(fd, p, n) < 0)
		*broken = true;
}

static void on_frame(void *userdata, const vxn_frame *f)
{
	vxn_session *s = userdata;
	unsigned char buf[VXN_FRAME_MAX_SIZE];
	size_t n = 0;
	const void *p = vxn_frame_get_payload(f, &n);
	if (vxn_frame_get_stream(f) != VXN_STREAM_MAIN)
		return;
	switch (vxn_frame_get_type(f)) {
	case VXN_FRAME_READY: {
		uint16_t version = 0;
		const char *info = NULL;
		size_t ilen = 0;
		if (s->ready || vxn_frame_parse_ready(f, &version, &info, &ilen) < 0)
			return;
		s->ready = true;
		free(s->info);
		s->info = strndup(info ? info : "", ilen);
		uint16_t v = version < VXN_PROTO_VERSION ? version : VXN_PROTO_VERSION;
		send_encoded(s, vxn_frame_encode_start(buf, sizeof(buf), s->seq++, v), buf);
		s->started = true;
		if (s->info) {
			/* one log line: the info's lines joined with spaces */
			_cleanup_free_ char *flat = strdup(s->info);
			for (char *q = flat; q && *q; q++)
				if (*q == '\n')
					*q = ' ';
			log_debug(s->ctx, "session", "guest ready (protocol %u): %s",
				  (unsigned)version, flat ? str_strip(flat) : "");
		}
		break;
	}
	case VXN_FRAME_LOG: {
		vxn_log_level level;
		vxn_log_source src;
		const char *text = NULL;
		size_t tlen = 0;
		if (vxn_frame_parse_log(f, &level, &src, &text, &tlen) == 0) {
			log_append(s, text, tlen);
			log_append(s, "\n", 1);
			log_debug(s->ctx, "guest", "%.*s", (int)tlen, text);
		}
		break;
	}
	case VXN_FRAME_STDIN_CREDIT: {
		uint32_t c = 0;
		if (vxn_frame_parse_credit(f, &c) == 0)
			s->credit += c;
		break;
	}
	case VXN_FRAME_STDOUT:
		write_stream(s, s->out_fd, &s->out_broken, p, n);
		break;
	case VXN_FRAME_STDERR:
		write_stream(s, s->err_fd, &s->err_broken, p, n);
		break;
	case VXN_FRAME_EXIT: {
		int code = 0, sig = 0;
		uint32_t flags = 0;
		if (s->done || vxn_frame_parse_exit(f, &code, &sig, &flags) < 0)
			break;
		s->exit_status = sig ? 128 + sig : code;
		s->done = true;
		log_debug(s->ctx, "session", "process exited: status %d", s->exit_status);
		send_frame(s, VXN_FRAME_EXIT_ACK, NULL, 0);
		break;
	}
	case VXN_FRAME_ERROR: {
		vxn_boot_stage stage;
		int errnum = 0;
		const char *msg = NULL;
		size_t mlen = 0;
		if (s->done || vxn_frame_parse_error(f, &stage, &errnum, &msg, &mlen) < 0)
			break;
		/* as the docker CLI: the program not found 127, not executable 126,
		 * any other failure to start (user, mounts, cwd, ...) 125 */
		if (stage != VXN_BOOT_STAGE_EXEC)
			s->exit_status = 125;
		else if (errnum == ENOENT || errnum == ENOTDIR)
			s->exit_status = 127;
		else if (errnum == EACCES || errnum == EISDIR || errnum == ENOEXEC ||
			 errnum == EPERM)
			s->exit_status = 126;
		else
			s->exit_status = 125;
		free(s->start_error);
		s->start_error = strndup(msg ? msg : "", mlen);
		s->done = true;
		send_frame(s, VXN_FRAME_EXIT_ACK, NULL, 0);
		break;
	}
	default:
		break;
	}
}

int vxn_session_new(vxn_session **out, vxn_ctx *ctx, int console_fd, vxn_error **err)
{
	vxn_session *s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	s->ctx = ctx;
	s->con_fd = console_fd;
	s->in_fd = s->out_fd = s->err_fd = s->log_fd = -1;
	s->ctl[0] = s->ctl[1] = -1;
	s->ready_timeout_ms = 60000;
	if (pipe2(s->ctl, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(s);
		return error_errno(err, -errno, "session: pipe");
	}
	if (vxn_frame_decoder_new(&s->dec, on_frame, on_foreign, s) < 0) {
		vxn_session_free(s);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	*out = s;
	return 0;
}

void vxn_session_free(vxn_session *s)
{
	if (!s)
		return;
	vxn_frame_decoder_free(s->dec);
	if (s->ctl[0] >= 0)
		close(s->ctl[0]);
	if (s->ctl[1] >= 0)
		close(s->ctl[1]);
	free(s->start_error);
	free(s->info);
	free(s);
}

void vxn_session_set_stdio(vxn_session *s, int in_fd, int out_fd, int err_fd)
{
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->err_fd = err_fd;
	s->stdin_open = in_fd >= 0;
}

void vxn_session_set_log_fd(vxn_session *s, int fd)
{
	s->log_fd = fd;
}

void vxn_session_set_ready_timeout_ms(vxn_session *s, unsigned timeout_ms)
{
	s->ready_timeout_ms = timeout_ms ? timeout_ms : 60000;
}

/* Control messages on the self-pipe: 'S' signo, or 'R' rows cols (fixed 9 bytes). */
int vxn_session_signal(vxn_session *s, int signo)
{
	unsigned char m[9] = { 'S' };
	memcpy(m + 1, &signo, sizeof(int));
	return write(s->ctl[1], m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -1;
}

int vxn_session_resize(vxn_session *s, unsigned rows, unsigned cols)
{
	unsigned char m[9] = { 'R' };
	memcpy(m + 1, &rows, 4);
	memcpy(m + 5, &cols, 4);
	return write(s->ctl[1], m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -1;
}

const char *vxn_session_start_error(const vxn_session *s)
{
	return s->start_error;
}

const char *vxn_session_guest_info(const vxn_session *s)
{
	return s->info;
}

const char *vxn_session_guest_log(const vxn_session *s)
{
	return s->log;
}

static void handle_control(vxn_session *s)
{
	unsigned char m[9];
	while (read(s->ctl[0], m, sizeof(m)) == (ssize_t)sizeof(m)) {
		unsigned char buf[VXN_FRAME_MAX_SIZE];
		if (!s->started)
			continue; /* nothing may go to the guest before READY */
		if (m[0] == 'S') {
			int sig;
			memcpy(&sig, m + 1, sizeof(int));
			send_encoded(s,
				     vxn_frame_encode_signal(buf, sizeof(buf), VXN_STREAM_MAIN,
							     s->seq++, sig),
				     buf);
		} else if (m[0] == 'R') {
			unsigned rows, cols;
			memcpy(&rows, m + 1, 4);
			memcpy(&cols, m + 5, 4);
			if (rows && cols && rows < 65536 && cols < 65536)
				send_encoded(s,
					     vxn_frame_encode_resize(
						 buf, sizeof(buf), VXN_STREAM_MAIN, s->seq++,
						 (uint16_t)rows, (uint16_t)cols),
					     buf);
		}
	}
}

static void pump_stdin(vxn_session *s)
{
	unsigned char data[VXN_FRAME_MAX_PAYLOAD];
	size_t want = (size_t)MIN((uint64_t)sizeof(data), s->credit);
	ssize_t n = read(s->in_fd, data, want);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->stdin_open = false;
		send_frame(s, VXN_FRAME_STDIN_EOF, NULL, 0);
		return;
	}
	s->credit -= (uint64_t)n;
	send_frame(s, VXN_FRAME_STDIN, data, (size_t)n);
}

/* The last non-empty lines of the guest log, for an error message. */
static char *log_tail_lines(const vxn_session *s, int lines)
{
	const char *end = s->log + s->log_len;
	while (end > s->log && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	const char *p = end;
	while (p > s->log && lines > 0)
		if (*--p == '\n')
			lines--;
	if (*p == '\n')
		p++;
	char *t = strndup(p, (size_t)(end - p));
	for (char *c = t; c && *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = '|';
	return t;
}

int vxn_session_run(vxn_session *s, int *exit_status, vxn_error **err)
{
	long long ready_deadline = now_ms() + s->ready_timeout_ms;
	long long end_deadline = -1, done_at = -1;
	bool con_open = true;
	unsigned char buf[65536];
	while (con_open) {
		if (s->fatal && !s->done)
			break;
		if (s->done && end_deadline < 0) {
			done_at = now_ms();
			end_deadline = done_at + END_IDLE_MS;
		}
		long long deadline = s->ready ? end_deadline : ready_deadline;
		int timeout = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				break;
			timeout = (int)MIN(left, 1000000);
		}
		struct pollfd p[3] = {
			{ s->con_fd, POLLIN, 0 },
			{ s->ctl[0], POLLIN, 0 },
			{ s->started && s->stdin_open && s->credit > 0 && !s->done ? s->in_fd : -1,
			  POLLIN, 0 },
		};
		int r = poll(p, 3, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, -errno, "session: poll");
		}
		if (p[0].revents) {
			ssize_t n = read(s->con_fd, buf, sizeof(buf));
			if (n > 0) {
				vxn_frame_decoder_feed(s->dec, buf, (size_t)n);
				if (done_at >= 0)
					end_deadline =
					    MIN(now_ms() + END_IDLE_MS, done_at + END_GRACE_MS);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				con_open = false;
		}
		if (p[1].revents)
			handle_control(s);
		if (p[2].fd >= 0 && p[2].revents)
			pump_stdin(s);
	}
	vxn_frame_decoder_finish(s->dec);
	if (s->done) {
		*exit_status = s->exit_status;
		return 0;
	}
	_cleanup_free_ char *tail = log_tail_lines(s, 5);
	if (!s->ready && con_open)
		return error_set(err, VXN_ETIMEDOUT, ETIMEDOUT,
				 "the guest did not become ready within %u ms; guest log: %s",
				 s->ready_timeout_ms, tail && *tail ? tail : "(empty)");
	return error_set(err, VXN_EPROTO, 0,
			 "the guest stopped without an exit status; guest log: %s",
			 tail && *tail ? tail : "(empty)");
}
