/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file domain.h
 * Domains: the virtual machines that run containers, behind one backend
 * interface (QEMU here; Xen through libxl where vxn runs in a Dom0).
 *
 * Life of a domain:
 *
 *     vxn_domain_config_new() + setters
 *     vxn_domain_create()      -> VXN_DOMAIN_PAUSED (guest built, no vCPU ran)
 *     vxn_domain_start()       -> VXN_DOMAIN_RUNNING
 *     vxn_domain_pause() / vxn_domain_resume()
 *     vxn_domain_shutdown()    graceful (ACPI power button / Xen shutdown), with a deadline
 *     vxn_domain_kill()        forced stop, immediate
 *     vxn_domain_wait()        until the guest powered off (or crashed)
 *     vxn_domain_destroy()     release everything: process, sockets, files
 *     vxn_domain_free()        memory only (destroys first if still alive)
 *
 * The guest's primary console is a binary-safe byte stream
 * (vxn_domain_console_fd()) that carries the guest boot protocol
 * (boot.h).
 */
#ifndef VXN_DOMAIN_H
#define VXN_DOMAIN_H

#include <vxn/common.h>
#include <vxn/context.h>
#include <vxn/error.h>

VXN_BEGIN_DECLS

/** Domain states. */
typedef enum vxn_domain_state {
	VXN_DOMAIN_NONE = 0,	 /**< not created, or destroyed */
	VXN_DOMAIN_PAUSED = 1,	 /**< created or paused: no vCPU runs */
	VXN_DOMAIN_RUNNING = 2,	 /**< running */
	VXN_DOMAIN_SHUTDOWN = 3, /**< the guest powered off; resources not yet released */
	VXN_DOMAIN_CRASHED = 4,	 /**< the VMM or the guest died abnormally */
} vxn_domain_state;

/** Name of a state ("paused", "running", ...). Static. */
VXN_EXPORT const char *vxn_domain_state_name(vxn_domain_state state);

/** Domain configuration builder. Opaque. */
typedef struct vxn_domain_config vxn_domain_config;

VXN_EXPORT int vxn_domain_config_new(vxn_domain_config **out, vxn_error **err);
VXN_EXPORT void vxn_domain_config_free(vxn_domain_config *cfg);
/** Domain name (QEMU -name; Xen domain name). Default "vxn". Copied. */
VXN_EXPORT int vxn_domain_config_set_name(vxn_domain_config *cfg, const char *name,
					  vxn_error **err);
/** Guest kernel image (bzImage or ELF vmlinux). Required. Copied. */
VXN_EXPORT int vxn_domain_config_set_kernel(vxn_domain_config *cfg, const char *path,
					    vxn_error **err);
/**
 * Append an initramfs. Several are concatenated in order (the kernel unpacks
 * concatenated cpio archives): the shared base first, then the per-container
 * launch record.
 */
VXN_EXPORT int vxn_domain_config_add_initrd(vxn_domain_config *cfg, const char *path,
					    vxn_error **err);
/**
 * Kernel command line. The backend appends what it needs (console=, and for
 * QEMU tsc_early_khz=). The whole line must fit the guest's limit (Linux x86:
 * 2047 bytes; Xen PV: 1023): vxn_domain_create() fails with VXN_EINVAL
 * beyond it, because the guest would hang or silently truncate it.
 */
VXN_EXPORT int vxn_domain_config_set_cmdline(vxn_domain_config *cfg, const char *cmdline,
					     vxn_error **err);
/** Memory in MiB (default 256; at least 64). */
VXN_EXPORT int vxn_domain_config_set_memory_mib(vxn_domain_config *cfg, unsigned memory_mib,
						vxn_error **err);
/** Virtual CPUs (default 1; 1..64). */
VXN_EXPORT int vxn_domain_config_set_vcpus(vxn_domain_config *cfg, unsigned vcpus, vxn_error **err);
/**
 * Share a host directory with the guest (9p): QEMU virtio-9p, Xen 9pfs.
 * @p tag is the mount source in the guest (at most 31 characters).
 * Read-only shares are enforced on the host side.
 */
VXN_EXPORT int vxn_domain_config_add_share(vxn_domain_config *cfg, const char *tag,
					   const char *host_path, bool readonly, vxn_error **err);
/** File that receives the VMM's own diagnostics (stderr), or NULL for none. */
VXN_EXPORT int vxn_domain_config_set_log_file(vxn_domain_config *cfg, const char *path,
					      vxn_error **err);
/**
 * Backend: "qemu", "xen" or "auto" (default: the context's "backend" key;
 * auto picks xen on a working Xen Dom0, else qemu).
 */
VXN_EXPORT int vxn_domain_config_set_backend(vxn_domain_config *cfg, const char *backend,
					     vxn_error **err);
/** Deadline for vxn_domain_create() to have the VMM up and the guest built (default 30000 ms). */
VXN_EXPORT int vxn_domain_config_set_create_timeout_ms(vxn_domain_config *cfg, unsigned timeout_ms,
						       vxn_error **err);

/** A domain. Opaque. */
typedef struct vxn_domain vxn_domain;

/**
 * Create a domain, paused. Validates the configuration, starts the VMM,
 * waits until it is ready (under the create deadline), and leaves no vCPU
 * running.
 * @param out receives the domain (vxn_domain_free()).
 * @return 0; VXN_EINVAL (bad config, command line too long); VXN_ENOTSUP (no
 *         usable backend); VXN_ETIMEDOUT (VMM not ready in time; everything
 *         it started is cleaned up); VXN_EBACKEND (the VMM failed: its last
 *         message is in the error).
 */
VXN_EXPORT int vxn_domain_create(vxn_domain **out, vxn_ctx *ctx, const vxn_domain_config *cfg,
				 vxn_error **err);
/** Let the guest run. @return 0; VXN_ESTATE unless paused-after-create. */
VXN_EXPORT int vxn_domain_start(vxn_domain *d, vxn_error **err);
VXN_EXPORT int vxn_domain_pause(vxn_domain *d, vxn_error **err);
VXN_EXPORT int vxn_domain_resume(vxn_domain *d, vxn_error **err);
/**
 * Ask the guest to power off (ACPI power button / Xen shutdown request) and
 * wait up to @p timeout_ms; then force it off.
 * @return 0 when the guest powered off by itself; VXN_ETIMEDOUT when it had
 *         to be forced (the domain is stopped either way).
 */
VXN_EXPORT int vxn_domain_shutdown(vxn_domain *d, unsigned timeout_ms, vxn_error **err);
/** Stop the guest at once (the VMM quits). */
VXN_EXPORT int vxn_domain_kill(vxn_domain *d, vxn_error **err);
/**
 * Wait until the guest stops. @p timeout_ms 0 means no deadline (a
 * container's lifetime has none); otherwise VXN_ETIMEDOUT.
 */
VXN_EXPORT int vxn_domain_wait(vxn_domain *d, unsigned timeout_ms, vxn_error **err);
/** Release everything the domain holds (process, sockets, temp files). Idempotent. */
VXN_EXPORT int vxn_domain_destroy(vxn_domain *d, vxn_error **err);
/** Free the object; destroys the domain first if it still exists. NULL is a no-op. */
VXN_EXPORT void vxn_domain_free(vxn_domain *d);
/** Current state (polls the backend). */
VXN_EXPORT vxn_domain_state vxn_domain_get_state(vxn_domain *d);
/**
 * The guest console: a bidirectional, binary-safe byte stream (a socket). Owned
 * by the domain; valid until vxn_domain_destroy(). -1 after destroy.
 */
VXN_EXPORT int vxn_domain_console_fd(const vxn_domain *d);
/** Host PID of the VMM process (QEMU), or 0 when there is none (Xen). */
VXN_EXPORT int vxn_domain_pid(const vxn_domain *d);
/** The backend in use ("qemu", "xen"). Static. */
VXN_EXPORT const char *vxn_domain_backend(const vxn_domain *d);
/** For QEMU: "kvm" or "tcg"; for Xen: "pv" or "pvh". Static. */
VXN_EXPORT const char *vxn_domain_accel(const vxn_domain *d);

VXN_END_DECLS

#endif /* VXN_DOMAIN_H */
