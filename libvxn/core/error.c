/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/private.h"
#include "shared/util.h"

struct vxn_error {
	int code;
	int errnum;
	char *message;
};

/* Returned when even the error cannot be allocated; never freed. */
static struct vxn_error oom_error = { VXN_ENOMEM, ENOMEM, (char *)"out of memory" };

static const struct {
	int code;
	const char *name;
	const char *text;
} statuses[] = {
	{ VXN_OK, "OK", "success" },
	{ VXN_EINVAL, "EINVAL", "invalid argument" },
	{ VXN_ENOTFOUND, "ENOTFOUND", "not found" },
	{ VXN_EEXISTS, "EEXISTS", "already exists" },
	{ VXN_ESTATE, "ESTATE", "wrong state" },
	{ VXN_ENOTSUP, "ENOTSUP", "not supported" },
	{ VXN_ETIMEDOUT, "ETIMEDOUT", "timed out" },
	{ VXN_EIO, "EIO", "input/output error" },
	{ VXN_ENOMEM, "ENOMEM", "out of memory" },
	{ VXN_EBACKEND, "EBACKEND", "backend failure" },
	{ VXN_EPROTO, "EPROTO", "protocol error" },
	{ VXN_EPERM, "EPERM", "permission denied" },
	{ VXN_EBUSY, "EBUSY", "busy" },
	{ VXN_ECONFIG, "ECONFIG", "configuration error" },
	{ VXN_EDIGEST, "EDIGEST", "digest mismatch" },
	{ VXN_ECHILD, "ECHILD", "helper program failed" },
};

const char *vxn_status_name(int status)
{
	for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
		if (statuses[i].code == status)
			return statuses[i].name;
	return "EUNKNOWN";
}

const char *vxn_status_describe(int status)
{
	for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
		if (statuses[i].code == status)
			return statuses[i].text;
	return "unknown error";
}

int vxn_error_code(const vxn_error *err)
{
	return err ? err->code : VXN_OK;
}

int vxn_error_errno(const vxn_error *err)
{
	return err ? err->errnum : 0;
}

const char *vxn_error_message(const vxn_error *err)
{
	return err && err->message ? err->message : "";
}

void vxn_error_free(vxn_error *err)
{
	if (!err || err == &oom_error)
		return;
	free(err->message);
	free(err);
}

int error_setv(vxn_error **err, int status, int errnum, const char *fmt, va_list ap)
{
	if (!err || *err)
		return status;
	struct vxn_error *e = calloc(1, sizeof(*e));
	char *msg = NULL;
	if (!e || vasprintf(&msg, fmt, ap) < 0) {
		free(e);
		*err = &oom_error;
		return status;
	}
	e->code = status;
	e->errnum = errnum;
	e->message = msg;
	*err = e;
	return status;
}

int error_set(vxn_error **err, int status, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_setv(err, status, errnum, fmt, ap);
	va_end(ap);
	return status;
}

int status_from_errno(int r)
{
	switch (-r) {
	case ENOMEM:
		return VXN_ENOMEM;
	case EACCES:
	case EPERM:
		return VXN_EPERM;
	case ENOENT:
		return VXN_ENOTFOUND;
	case EEXIST:
		return VXN_EEXISTS;
	case EBUSY:
	case EAGAIN:
		return VXN_EBUSY;
	case ETIMEDOUT:
		return VXN_ETIMEDOUT;
	case EINVAL:
		return VXN_EINVAL;
	default:
		return VXN_EIO;
	}
}

int error_errno(vxn_error **err, int r, const char *fmt, ...)
{
	int status = status_from_errno(r);
	if (!err || *err)
		return status;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return error_set(err, status, -r, "%s", strerror(-r));
	error_set(err, status, -r, "%s: %s", msg, strerror(-r));
	free(msg);
	return status;
}

int error_prefix(vxn_error **err, int status, const char *fmt, ...)
{
	if (!err || !*err)
		return status;
	struct vxn_error *e = *err;
	if (e == &oom_error)
		return e->code;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = NULL;
	int n = vasprintf(&ctx, fmt, ap);
	va_end(ap);
	if (n < 0)
		return e->code;
	char *msg = str_printf("%s: %s", ctx, e->message);
	free(ctx);
	if (msg) {
		free(e->message);
		e->message = msg;
	}
	return e->code;
}
