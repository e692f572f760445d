/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file container.h
 * A container: an image and an OCI runtime spec turned into a VM that runs
 * the spec's process, with its streams relayed by a boot-protocol session.
 *
 *     vxn_container_create()   build the guest's initramfs, create the domain paused
 *     vxn_container_session()  the session (for signals and resizes from handlers)
 *     vxn_container_run()      start the VM, relay stdio until the process exits
 *     vxn_container_free()     destroy the VM and remove every temporary file
 */
#ifndef VXN_CONTAINER_H
#define VXN_CONTAINER_H

#include <vxn/common.h>
#include <vxn/context.h>
#include <vxn/error.h>
#include <vxn/image.h>
#include <vxn/session.h>

VXN_BEGIN_DECLS

/** A container VM. Opaque. */
typedef struct vxn_container vxn_container;

/** Where the VM comes from, beyond the spec. Opaque builder. */
typedef struct vxn_container_opts vxn_container_opts;

VXN_EXPORT int vxn_container_opts_new(vxn_container_opts **out, vxn_error **err);
VXN_EXPORT void vxn_container_opts_free(vxn_container_opts *o);
/** Container ID (12+ hex characters); default: random. */
VXN_EXPORT int vxn_container_opts_set_id(vxn_container_opts *o, const char *id, vxn_error **err);
/** Guest kernel (default: the context's "kernel" key, else the one vxn installed). */
/** The container's name (`--name`, [a-zA-Z0-9][a-zA-Z0-9_.-]+, 2-64
 * characters); its domain is then "vxn-<name>". Default: the ID's first 12 digits. */
VXN_EXPORT int vxn_container_opts_set_name(vxn_container_opts *o, const char *name,
					   vxn_error **err);
VXN_EXPORT int vxn_container_opts_set_kernel(vxn_container_opts *o, const char *path,
					     vxn_error **err);
/** Backend ("auto", "qemu", "xen"; default: the context's "backend"). */
VXN_EXPORT int vxn_container_opts_set_backend(vxn_container_opts *o, const char *backend,
					      vxn_error **err);
/** Guest memory (default 256 MiB, or the spec's memory limit rounded up, at least 64). */
VXN_EXPORT int vxn_container_opts_set_memory_mib(vxn_container_opts *o, unsigned mib,
						 vxn_error **err);
/** vCPUs (default 1, or the spec's CPU quota rounded up). */
VXN_EXPORT int vxn_container_opts_set_vcpus(vxn_container_opts *o, unsigned vcpus, vxn_error **err);
/** Terminal size for a spec with process.terminal (default 24x80). */
VXN_EXPORT void vxn_container_opts_set_console_size(vxn_container_opts *o, unsigned rows,
						    unsigned cols);
/** Deadline for the guest to become ready (default 60000 ms). */
VXN_EXPORT void vxn_container_opts_set_ready_timeout_ms(vxn_container_opts *o, unsigned timeout_ms);

/**
 * Create a container VM, paused: the image's root filesystem and a launch
 * record derived from @p spec_json travel in the guest's initramfs; bind
 * mounts become 9p shares (read-only ones enforced by the host).
 * @param out receives the container (vxn_container_free()).
 * @return 0; VXN_EINVAL (spec the guest cannot run: the message names the
 *         field); VXN_ENOTFOUND (no guest kernel or initramfs installed);
 *         the domain's errors.
 */
VXN_EXPORT int vxn_container_create(vxn_container **out, vxn_ctx *ctx, vxn_image_store *store,
				    const vxn_image *image, const char *spec_json,
				    const vxn_container_opts *opts, vxn_error **err);
/** The session, borrowed; valid until vxn_container_free(). */
VXN_EXPORT vxn_session *vxn_container_session(vxn_container *c);
/** The container's domain name ("vxn-<id>"). Borrowed. */
VXN_EXPORT const char *vxn_container_name(const vxn_container *c);
/** The container ID. Borrowed. */
VXN_EXPORT const char *vxn_container_id(const vxn_container *c);
/** The QEMU process of the container, or 0. */
VXN_EXPORT int vxn_container_pid(const vxn_container *c);

/**
 * Start the VM and run the session with the given fds (see
 * vxn_session_set_stdio()) until the process exits and the VM is gone.
 * @param exit_status the container's exit status, as Docker reports it.
 */
VXN_EXPORT int vxn_container_run(vxn_container *c, int in_fd, int out_fd, int err_fd,
				 int *exit_status, vxn_error **err);

/**
 * How this host would run a container created with @p opts (NULL: defaults),
 * without creating one: `vdkr info` prints it.
 *
 * Lines "key=value": `backend` (qemu or xen) and `backend_reason` (how it was
 * chosen: the backend key/flag, or what auto found), `kernel` and `initramfs`
 * (the files a run would boot), then the backend's own: for qemu `accel` (kvm
 * or tcg), `accel_reason` (the accel key, /dev/kvm's state, or what the KVM
 * probe boot saw) and `qemu` (the program). Other keys may follow; callers
 * ignore keys they do not know.
 *
 * The QEMU backend may boot its KVM probe guest here (at most about 8 s,
 * once per QEMU and kernel; the answer is cached under the data root), as the
 * first vxn_container_create() would.
 *
 * @param out_report receives the lines, NULL-terminated, caller-owned (free
 *        each and the array).
 * @return 0; VXN_ENOTSUP (no usable backend: the message says why);
 *         VXN_ENOTFOUND (no guest kernel or initramfs); VXN_ENOMEM.
 */
VXN_EXPORT int vxn_container_host_info(char ***out_report, vxn_ctx *ctx,
				       const vxn_container_opts *opts, vxn_error **err);

/** Destroy the VM (if still there), remove temporary files, free. NULL is a no-op. */
VXN_EXPORT void vxn_container_free(vxn_container *c);

VXN_END_DECLS

#endif /* VXN_CONTAINER_H */
