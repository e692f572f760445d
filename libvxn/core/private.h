/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Library-internal API of the core module: building errors, logging through
 * the context, and the context's private fields. Not installed.
 */
#ifndef VXN_CORE_PRIVATE_H
#define VXN_CORE_PRIVATE_H

#include <stdarg.h>

#include <vxn/context.h>
#include <vxn/error.h>

#include "shared/macro.h"

/*
 * Set *err (when err is not NULL and *err is NULL) to a new error with the
 * given status, errno (0 for none) and message. Returns status, so callers
 * write `return error_set(err, VXN_EINVAL, 0, "bad %s", x);`.
 * If allocation fails, *err becomes a static out-of-memory error that
 * vxn_error_free() recognises.
 */
int error_set(vxn_error **err, int status, int errnum, const char *fmt, ...) _printf_(4, 5);
int error_setv(vxn_error **err, int status, int errnum, const char *fmt, va_list ap);

/*
 * Shorthand for a failed system call or leaf helper: `r` is -errno. The
 * message gets ": <strerror>" appended. Status is VXN_ENOMEM for ENOMEM,
 * VXN_EPERM for EACCES/EPERM, VXN_ENOTFOUND for ENOENT, else VXN_EIO.
 */
int error_errno(vxn_error **err, int r, const char *fmt, ...) _printf_(3, 4);

/* Map a -errno value to a vxn_status (see error_errno()). */
int status_from_errno(int r);

/*
 * Wrap an existing error with context: "<context>: <old message>".
 * Keeps code and errno. Returns the error's code (or `status` if *err is
 * NULL / err is NULL, so it can be used on the return path).
 */
int error_prefix(vxn_error **err, int status, const char *fmt, ...) _printf_(3, 4);

/* Logging through the ctx callback. Cheap when the level is filtered out. */
void ctx_log(const vxn_ctx *ctx, vxn_log_level level, const char *module, const char *fmt, ...)
    _printf_(4, 5);
#define log_error(ctx, mod, ...) ctx_log(ctx, VXN_LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(ctx, mod, ...)	 ctx_log(ctx, VXN_LOG_WARNING, mod, __VA_ARGS__)
#define log_info(ctx, mod, ...)	 ctx_log(ctx, VXN_LOG_INFO, mod, __VA_ARGS__)
#define log_debug(ctx, mod, ...) ctx_log(ctx, VXN_LOG_DEBUG, mod, __VA_ARGS__)

/* Features registered by modules (see vxn_features()). Append-only table. */

#endif
