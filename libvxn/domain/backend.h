/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domain backend contract (doc/backend-contract.md). Every backend (qemu,
 * xen) implements this table; domain.c owns the generic state machine, the
 * deadlines and argument checks, so a backend only does what is specific to
 * its hypervisor.
 */
#ifndef VXN_DOMAIN_BACKEND_H
#define VXN_DOMAIN_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>

#include <vxn/domain.h>

#include "core/private.h"

struct domain_share {
	char *tag;
	char *host_path;
	bool readonly;
};

struct vxn_domain_config {
	char *name;
	char *kernel;
	char **initrds;
	char *cmdline;
	unsigned memory_mib;
	unsigned vcpus;
	struct domain_share *shares;
	size_t nshares;
	char *log_file;
	char *backend;
	unsigned create_timeout_ms;
};

struct backend_ops {
	const char *name;
	/* Largest kernel command line the guest takes intact (bytes, without NUL). */
	size_t max_cmdline;
	/* Can this host run the backend? false with a static reason. */
	bool (*available)(vxn_ctx *ctx, const char **why);
	/* Build the domain paused; set d->console_fd. On failure, leave nothing behind. */
	int (*create)(vxn_domain *d, const vxn_domain_config *cfg, vxn_error **err);
	int (*start)(vxn_domain *d, vxn_error **err);
	int (*pause)(vxn_domain *d, vxn_error **err);
	int (*resume)(vxn_domain *d, vxn_error **err);
	/* Ask the guest to power off; returns at once. */
	int (*request_shutdown)(vxn_domain *d, vxn_error **err);
	/* Stop at once. */
	int (*kill)(vxn_domain *d, vxn_error **err);
	/* Wait until the guest stopped: 0, or VXN_ETIMEDOUT after timeout_ms (< 0: forever). */
	int (*wait)(vxn_domain *d, int timeout_ms, vxn_error **err);
	/* Current state, without blocking. */
	vxn_domain_state (*poll)(vxn_domain *d);
	/* Release everything. Must be safe to call in any state, and twice. */
	void (*destroy)(vxn_domain *d);
	/* How create() would run a guest of cfg here, as "key=value" lines appended to
	 * *report (accel=, accel_reason=, and backend-specific keys); may boot a probe
	 * guest. 0, or a negative errno (out of memory). */
	int (*probe)(vxn_ctx *ctx, const vxn_domain_config *cfg, char ***report);
	/* "kvm"/"tcg", "pv"/"pvh". */
	const char *(*accel)(const vxn_domain *d);
	pid_t (*pid)(const vxn_domain *d);
};

struct vxn_domain {
	vxn_ctx *ctx;
	const struct backend_ops *ops;
	void *priv;
	int console_fd;
	vxn_domain_state state;
	bool started;
	char *name;
};

extern const struct backend_ops backend_qemu;
extern const struct backend_ops backend_xen;

/* The backend the config/context asks for; ENOTSUP with the reason when unusable. */
int backend_select(vxn_ctx *ctx, const char *requested, const struct backend_ops **out,
		   vxn_error **err);
/* The same, with *why: how the choice was made (malloc'd; NULL on out of memory). */
int backend_select_why(vxn_ctx *ctx, const char *requested, const struct backend_ops **out,
		       char **why, vxn_error **err);

/* backend=, backend_reason= and the backend's probe lines (backend_ops.probe). */
int domain_host_info(vxn_ctx *ctx, const vxn_domain_config *cfg, char ***report, vxn_error **err);

/* "backend:<name>" for every backend in the table, NULL-terminated, static. */
const char *const *domain_backend_features(void);

/* One file with the archives in order (a temp file in dir, the caller unlinks it):
 * hypervisors take one initrd. 0 or a negative errno. */
int domain_concat_initrds(char *const *initrds, const char *dir, char **out);

/* The guest's command line: cfg's, then the backend's own arguments, refused
 * (VXN_EINVAL, saying what a longer one would do) beyond d->ops->max_cmdline. */
int domain_kernel_cmdline(const vxn_domain *d, const vxn_domain_config *cfg,
			  const char *backend_args, const char *if_longer, char **out,
			  vxn_error **err);

/* <state_root>/<sub>, created 0700; NULL with errno on failure. */
char *domain_state_dir(vxn_ctx *ctx, const char *sub);

/* Milliseconds on the monotonic clock. */
long long now_ms(void);

#endif
