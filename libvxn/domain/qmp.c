/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/private.h"
#include "domain/backend.h"
#include "shared/util.h"

/* Next complete line into *out (malloc'd); 0, VXN_ETIMEDOUT or VXN_EIO. */
static int read_line(struct qmp *q, long long deadline_ms, char **out, vxn_error **err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			size_t n = (size_t)(nl - q->buf);
			*out = strndup(q->buf, n);
			if (!*out)
				return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			return 0;
		}
		if (q->len == sizeof(q->buf))
			return error_set(err, VXN_EPROTO, 0, "QMP: line longer than %zu bytes",
					 sizeof(q->buf));
		long long left = deadline_ms - now_ms();
		if (left <= 0)
			return error_set(err, VXN_ETIMEDOUT, ETIMEDOUT,
					 "QMP: no answer from QEMU in time");
		struct pollfd p = { q->fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)MIN(left, 1000000));
		if (r < 0 && errno != EINTR)
			return error_errno(err, -errno, "QMP: poll");
		if (r <= 0)
			continue;
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return error_set(err, VXN_EIO, n < 0 ? errno : EPIPE,
					 "QMP: QEMU closed the control socket");
		q->len += (size_t)n;
	}
}

static void note_event(struct qmp *q, const json *msg)
{
	const char *ev = json_object_get_string(msg, "event");
	if (ev && strcmp(ev, "SHUTDOWN") == 0) {
		const char *reason =
		    json_object_get_string(json_object_get_object(msg, "data"), "reason");
		snprintf(q->shutdown_reason, sizeof(q->shutdown_reason), "%s",
			 reason ? reason : "unknown");
	}
}

int qmp_handshake(struct qmp *q, long long deadline_ms, vxn_error **err)
{
	_cleanup_free_ char *line = NULL;
	int r = read_line(q, deadline_ms, &line, err);
	if (r < 0)
		return r;
	if (!strstr(line, "\"QMP\""))
		return error_set(err, VXN_EPROTO, 0, "QMP: unexpected greeting: %.100s", line);
	return qmp_command(q, "qmp_capabilities", NULL, NULL, deadline_ms, err);
}

int qmp_command(struct qmp *q, const char *command, const char *args, json **ret,
		long long deadline_ms, vxn_error **err)
{
	_cleanup_free_ char *req =
	    args ? str_printf("{\"execute\":\"%s\",\"arguments\":%s}\n", command, args)
		 : str_printf("{\"execute\":\"%s\"}\n", command);
	if (!req)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = send_all(q->fd, req, strlen(req));
	if (r < 0)
		return error_errno(err, r, "QMP: %s", command);
	for (;;) {
		_cleanup_free_ char *line = NULL;
		r = read_line(q, deadline_ms, &line, err);
		if (r < 0)
			return error_prefix(err, r, "QMP %s", command);
		_cleanup_json_ json *msg = NULL;
		if (json_parse(line, strlen(line), &msg, NULL) < 0)
			continue;
		if (json_object_get(msg, "event")) {
			note_event(q, msg);
			continue;
		}
		json *e = json_object_get_object(msg, "error");
		if (e)
			return error_set(err, VXN_EBACKEND, 0, "QMP %s: %s", command,
					 STRPTR_OR(json_object_get_string(e, "desc"), "error"));
		if (json_object_get(msg, "return")) {
			if (ret)
				*ret = json_copy(json_object_get(msg, "return"));
			return 0;
		}
	}
}
