/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal QMP client over a connected socket (one JSON object per line). */
#ifndef VXN_DOMAIN_QMP_H
#define VXN_DOMAIN_QMP_H

#include <vxn/error.h>

#include "shared/json.h"

struct qmp {
	int fd;
	char buf[65536];
	size_t len;
	/* The last SHUTDOWN event's "reason" ("guest-shutdown", "guest-reset", ...). */
	char shutdown_reason[64];
};

/* Read the greeting and negotiate capabilities, before deadline_ms (monotonic). */
int qmp_handshake(struct qmp *q, long long deadline_ms, vxn_error **err);
/*
 * Run a command (arguments as a JSON object text, or NULL) and wait for its
 * return before deadline_ms. Events that arrive meanwhile are consumed
 * (SHUTDOWN's reason is kept). *ret (optional) receives the "return" value.
 * VXN_EBACKEND for an "error" reply (with QEMU's description), VXN_ETIMEDOUT,
 * VXN_EIO when QEMU closed the socket.
 */
int qmp_command(struct qmp *q, const char *command, const char *args, json **ret,
		long long deadline_ms, vxn_error **err);

#endif
