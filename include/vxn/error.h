/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file error.h
 * The vxn error model.
 *
 * Every fallible function has the shape
 *
 *     int vxn_thing_verb(out..., object, inputs..., vxn_error **err);
 *
 * and returns 0 on success or a negative ::vxn_status. When @c err is not
 * NULL and the call fails, @c *err receives a newly allocated error that the
 * caller owns and releases with vxn_error_free(). On success @c *err is left
 * untouched. Out parameters are untouched on failure.
 *
 * The status set is append-only: values never change meaning and are never
 * reused (doc/api-stability.md).
 */
#ifndef VXN_ERROR_H
#define VXN_ERROR_H

#include <vxn/common.h>

VXN_BEGIN_DECLS

/** Status codes. 0 is success; failures are negative. */
typedef enum vxn_status {
	VXN_OK = 0,
	VXN_EINVAL = -1,    /**< invalid argument or input (bad reference, bad spec, bad flag) */
	VXN_ENOTFOUND = -2, /**< the named object does not exist */
	VXN_EEXISTS = -3,   /**< the object already exists */
	VXN_ESTATE = -4,    /**< the object is in the wrong state for the operation */
	VXN_ENOTSUP = -5,   /**< not supported by this build, backend or host */
	VXN_ETIMEDOUT = -6, /**< a deadline passed */
	VXN_EIO = -7,	    /**< an I/O or system call failed (see vxn_error_errno()) */
	VXN_ENOMEM = -8,    /**< out of memory */
	VXN_EBACKEND = -9,  /**< the hypervisor backend failed */
	VXN_EPROTO = -10,   /**< the guest or a peer broke the protocol */
	VXN_EPERM = -11,    /**< permission denied */
	VXN_EBUSY = -12,    /**< the object is in use or locked */
	VXN_ECONFIG = -13,  /**< bad configuration (config file, environment) */
	VXN_EDIGEST = -14,  /**< content does not match its digest */
	VXN_ECHILD = -15,   /**< a helper program (skopeo, qemu, ...) failed */
} vxn_status;

/** Opaque error object. */
typedef struct vxn_error vxn_error;

/**
 * The status code of @p err.
 * @param err an error, or NULL.
 * @return the negative status, or VXN_OK when @p err is NULL.
 */
VXN_EXPORT int vxn_error_code(const vxn_error *err);

/**
 * The errno value behind @p err, when a system call caused it.
 * @param err an error, or NULL.
 * @return a positive errno value, or 0 when there is none.
 */
VXN_EXPORT int vxn_error_errno(const vxn_error *err);

/**
 * The human-readable message, context first
 * ("image 'busybox': layer sha256:...: unpack: path escapes rootfs: ../etc").
 * @param err an error, or NULL.
 * @return a string borrowed from @p err (valid until vxn_error_free()), or ""
 *         when @p err is NULL. Never NULL.
 */
VXN_EXPORT const char *vxn_error_message(const vxn_error *err);

/**
 * Release an error. vxn_error_free(NULL) is a no-op.
 */
VXN_EXPORT void vxn_error_free(vxn_error *err);

/**
 * Short stable name of a status ("EINVAL", "ENOTFOUND", ...).
 * @return a static string; "EUNKNOWN" for values this library does not know.
 */
VXN_EXPORT const char *vxn_status_name(int status);

/**
 * One-line English description of a status ("invalid argument", ...).
 * @return a static string; never NULL.
 */
VXN_EXPORT const char *vxn_status_describe(int status);

VXN_END_DECLS

#endif /* VXN_ERROR_H */
