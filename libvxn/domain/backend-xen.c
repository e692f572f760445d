/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Xen backend: a PV DomU built with libxenlight (no `xl`), the guest's
 * primary PV console (hvc0, a pty from xenconsoled, raw mode) as the channel,
 * libxl's domain-death events for wait, libxl's log routed into the context's
 * log. doc/backend-contract.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>

#include "domain/backend.h"
#include "shared/util.h"

#define XEN_PV_CMDLINE_MAX 1023 /* MAX_GUEST_CMDLINE - 1: longer is silently cut */
#define CONSOLE_WAIT_MS	   5000 /* for xenconsoled to publish the pty */

/* libxl's messages: debug lines into the context's log; the last error kept for
 * the vxn_error of a failed call. */
struct xen_logger {
	xentoollog_logger vtable;
	vxn_ctx *ctx;
	char last_error[512];
};

struct xen {
	struct xen_logger log;
	libxl_ctx *lx;
	uint32_t domid;
	bool have_domain;
	libxl_evgen_domain_death *death;
	vxn_domain_state end; /* NONE until the guest stopped */
	char *initrd_tmp;
};

static void xlog_vmessage(xentoollog_logger *l, xentoollog_level level, int errnoval,
			  const char *context, const char *format, va_list al)
{
	struct xen_logger *xl = (struct xen_logger *)l;
	char msg[512];
	vsnprintf(msg, sizeof(msg), format, al);
	if (level >= XTL_ERROR) {
		if (errnoval > 0)
			snprintf(xl->last_error, sizeof(xl->last_error), "%.400s: %.100s", msg,
				 strerror(errnoval));
		else
			snprintf(xl->last_error, sizeof(xl->last_error), "%.500s", msg);
	}
	/* libxl's detail level (the domain builder's every step) is too much even for debug */
	if (level >= XTL_WARN)
		log_info(xl->ctx, "xen", "%s%s%s", context ? context : "", context ? ": " : "",
			 msg);
	else if (level >= XTL_INFO)
		log_debug(xl->ctx, "xen", "%s%s%s", context ? context : "", context ? ": " : "",
			  msg);
}

static void xlog_progress(xentoollog_logger *l, const char *context, const char *doing, int percent,
			  unsigned long done, unsigned long total)
{
	(void)l, (void)context, (void)doing, (void)percent, (void)done, (void)total;
}

static void xlog_destroy(xentoollog_logger *l)
{
	(void)l;
}

/* A vxn_error from a failed libxl call: what libxl logged last, else the code. */
static int xen_fail(struct xen *x, vxn_error **err, const char *what, int rc)
{
	if (x->log.last_error[0])
		return error_set(err, VXN_EBACKEND, 0, "%s: %s", what, x->log.last_error);
	return error_set(err, VXN_EBACKEND, 0, "%s: libxl error %d", what, rc);
}

static int xen_open(struct xen *x, vxn_ctx *ctx)
{
	x->log.vtable.vmessage = xlog_vmessage;
	x->log.vtable.progress = xlog_progress;
	x->log.vtable.destroy = xlog_destroy;
	x->log.ctx = ctx;
	return libxl_ctx_alloc(&x->lx, LIBXL_VERSION, 0, (xentoollog_logger *)&x->log);
}

static bool xen_available(vxn_ctx *ctx, const char **why)
{
	_cleanup_free_ char *caps = NULL;
	if (read_file("/proc/xen/capabilities", 4096, &caps, NULL) < 0) {
		*why = "not a Xen host (/proc/xen/capabilities is missing)";
		return false;
	}
	if (!strstr(caps, "control_d")) {
		*why = "not a Xen Dom0 (/proc/xen/capabilities has no control_d)";
		return false;
	}
	struct xen x = { 0 };
	libxl_dominfo info;
	libxl_dominfo_init(&info);
	bool ok = xen_open(&x, ctx) == 0 && libxl_domain_info(x.lx, &info, 0) == 0;
	libxl_dominfo_dispose(&info);
	libxl_ctx_free(x.lx);
	if (!ok)
		*why = "the Xen toolstack does not answer (is xenstored running?)";
	return ok;
}

static int open_console(struct xen *x, vxn_domain *d, vxn_error **err)
{
	long long deadline = now_ms() + CONSOLE_WAIT_MS;
	char *path = NULL;
	int rc;
	/* xenconsoled publishes the pty in xenstore shortly after the build */
	while ((rc = libxl_console_get_tty(x->lx, x->domid, 0, LIBXL_CONSOLE_TYPE_PV, &path)) !=
		   0 ||
	       !path || !*path) {
		free(path);
		path = NULL;
		if (now_ms() > deadline)
			return xen_fail(x, err, "console (is xenconsoled running?)", rc);
		usleep(20000);
	}
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	int e = errno;
	free(path);
	if (fd < 0)
		return error_errno(err, -e, "console pty");
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	d->console_fd = fd;
	return 0;
}

static int xen_create(vxn_domain *d, const vxn_domain_config *cfg, vxn_error **err)
{
	struct xen *x = calloc(1, sizeof(*x));
	if (!x)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	d->priv = x;
	if (xen_open(x, d->ctx) != 0)
		return xen_fail(x, err, "libxl", -1);
	_cleanup_free_ char *cmdline = NULL;
	int r = domain_kernel_cmdline(d, cfg, "console=hvc0", "Xen PV cuts a longer one silently",
				      &cmdline, err);
	if (r < 0)
		return r;
	const char *ramdisk = NULL;
	if (strv_length(cfg->initrds) > 1) {
		_cleanup_free_ char *dir = domain_state_dir(d->ctx, "xen");
		r = dir ? domain_concat_initrds(cfg->initrds, dir, &x->initrd_tmp) : -errno;
		if (r < 0)
			return error_errno(err, r, "initrd");
		ramdisk = x->initrd_tmp;
	} else if (cfg->initrds) {
		ramdisk = cfg->initrds[0];
	}
	if (cfg->nshares)
		return error_set(err, VXN_ENOTSUP, 0,
				 "bind mounts are not supported by the xen backend yet");

	libxl_domain_config dc;
	libxl_domain_config_init(&dc);
	dc.c_info.type = LIBXL_DOMAIN_TYPE_PV;
	dc.c_info.name = strdup(cfg->name);
	libxl_domain_build_info_init_type(&dc.b_info, LIBXL_DOMAIN_TYPE_PV);
	dc.b_info.max_vcpus = (int)cfg->vcpus;
	libxl_bitmap_alloc(x->lx, &dc.b_info.avail_vcpus, (int)cfg->vcpus);
	libxl_bitmap_set_none(&dc.b_info.avail_vcpus);
	for (unsigned i = 0; i < cfg->vcpus; i++)
		libxl_bitmap_set(&dc.b_info.avail_vcpus, (int)i);
	dc.b_info.max_memkb = (uint64_t)cfg->memory_mib * 1024;
	dc.b_info.target_memkb = dc.b_info.max_memkb;
	dc.b_info.kernel = strdup(cfg->kernel);
	dc.b_info.ramdisk = ramdisk ? strdup(ramdisk) : NULL;
	dc.b_info.cmdline = strdup(cmdline);
	/* the guest's end is the VM's end: vxn destroys it when it sees the shutdown */
	dc.on_poweroff = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	dc.on_reboot = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	dc.on_crash = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	int rc = dc.c_info.name && dc.b_info.kernel && dc.b_info.cmdline ? 0 : ERROR_NOMEM;
	if (rc == 0)
		rc = libxl_domain_create_new(x->lx, &dc, &x->domid, NULL, NULL);
	libxl_domain_config_dispose(&dc);
	if (rc != 0)
		return xen_fail(x, err, "building the domain", rc);
	x->have_domain = true; /* paused: libxl leaves a new domain paused */
	rc = libxl_evenable_domain_death(x->lx, x->domid, 0, &x->death);
	if (rc != 0)
		return xen_fail(x, err, "watching the domain", rc);
	return open_console(x, d, err);
}

static int xen_start(vxn_domain *d, vxn_error **err)
{
	struct xen *x = d->priv;
	int rc = libxl_domain_unpause(x->lx, x->domid, NULL);
	return rc ? xen_fail(x, err, "unpause", rc) : 0;
}

static int xen_pause(vxn_domain *d, vxn_error **err)
{
	struct xen *x = d->priv;
	int rc = libxl_domain_pause(x->lx, x->domid, NULL);
	return rc ? xen_fail(x, err, "pause", rc) : 0;
}

static int xen_request_shutdown(vxn_domain *d, vxn_error **err)
{
	struct xen *x = d->priv;
	/* asynchronous: the synchronous call waits up to a minute for the guest to
	 * acknowledge control/shutdown, even when it is already powering off; the
	 * completion event is drained (and ignored) by pump_events() */
	libxl_asyncop_how how = { .callback = NULL };
	int rc = libxl_domain_shutdown(x->lx, x->domid, &how);
	return rc ? xen_fail(x, err, "shutdown", rc) : 0;
}

static void destroy_domain(struct xen *x)
{
	if (!x->have_domain)
		return;
	libxl_domain_destroy(x->lx, x->domid, NULL);
	x->have_domain = false;
}

static int xen_kill(vxn_domain *d, vxn_error **err)
{
	struct xen *x = d->priv;
	(void)err;
	if (x->end == VXN_DOMAIN_NONE)
		x->end = VXN_DOMAIN_SHUTDOWN;
	destroy_domain(x);
	return 0;
}

/* Handle libxl events until the guest stopped or the deadline (ms, < 0: none). */
/* The guest stopped (Xen's shutdown reason): record how, and destroy it. */
static void guest_ended(struct xen *x, int reason)
{
	x->end =
	    reason == LIBXL_SHUTDOWN_REASON_POWEROFF ? VXN_DOMAIN_SHUTDOWN : VXN_DOMAIN_CRASHED;
	destroy_domain(x);
}

static int pump_events(struct xen *x, long long deadline)
{
	for (;;) {
		libxl_event *ev = NULL;
		while (libxl_event_check(x->lx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) == 0) {
			if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN && ev->domid == x->domid) {
				guest_ended(x, ev->u.domain_shutdown.shutdown_reason);
			} else if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH &&
				   ev->domid == x->domid) {
				if (x->end == VXN_DOMAIN_NONE)
					x->end = VXN_DOMAIN_CRASHED;
				x->have_domain = false;
			}
			libxl_event_free(x->lx, ev);
			ev = NULL;
		}
		/* besides the events, look at the domain itself: cheap, and it cannot
		 * miss a shutdown that happened before the watch fired */
		if (x->end == VXN_DOMAIN_NONE && x->have_domain) {
			libxl_dominfo info;
			libxl_dominfo_init(&info);
			int rc = libxl_domain_info(x->lx, &info, x->domid);
			if (rc == ERROR_DOMAIN_NOTFOUND) {
				x->end = VXN_DOMAIN_CRASHED;
				x->have_domain = false;
			} else if (rc == 0 && info.shutdown) {
				guest_ended(x, info.shutdown_reason);
			}
			libxl_dominfo_dispose(&info);
		}
		if (x->end != VXN_DOMAIN_NONE)
			return 0;
		long long now = now_ms();
		if (deadline >= 0 && now >= deadline)
			return VXN_ETIMEDOUT;
		struct pollfd fds[16];
		int nfds = (int)ELEMENTSOF(fds),
		    timeout = deadline < 0 || deadline - now > 50 ? 50 : (int)(deadline - now);
		struct timeval tv;
		gettimeofday(&tv, NULL);
		if (libxl_osevent_beforepoll(x->lx, &nfds, fds, &timeout, tv) != 0)
			return VXN_EBACKEND;
		poll(fds, (nfds_t)nfds, timeout);
		gettimeofday(&tv, NULL);
		libxl_osevent_afterpoll(x->lx, nfds, fds, tv);
	}
}

static int xen_wait(vxn_domain *d, int timeout_ms, vxn_error **err)
{
	struct xen *x = d->priv;
	int r = pump_events(x, timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
	if (r == VXN_ETIMEDOUT)
		return error_set(err, VXN_ETIMEDOUT, ETIMEDOUT,
				 "domain %s: still running after %d ms", d->name, timeout_ms);
	return r < 0 ? xen_fail(x, err, "waiting for the domain", r) : 0;
}

static vxn_domain_state xen_poll(vxn_domain *d)
{
	struct xen *x = d->priv;
	if (!x)
		return VXN_DOMAIN_NONE;
	pump_events(x, now_ms());
	return x->end != VXN_DOMAIN_NONE ? x->end : d->state;
}

static void xen_destroy(vxn_domain *d)
{
	struct xen *x = d->priv;
	if (!x)
		return;
	if (x->lx) {
		destroy_domain(x);
		if (x->death)
			libxl_evdisable_domain_death(x->lx, x->death);
		libxl_ctx_free(x->lx);
	}
	if (d->console_fd >= 0)
		close(d->console_fd);
	d->console_fd = -1;
	if (x->initrd_tmp) {
		unlink(x->initrd_tmp);
		free(x->initrd_tmp);
	}
	free(x);
	d->priv = NULL;
}

static int xen_probe(vxn_ctx *ctx, const vxn_domain_config *cfg, char ***report)
{
	(void)ctx, (void)cfg;
	if (strv_push(report, "accel=pv") < 0 ||
	    strv_push(report, "accel_reason=Xen PV guest (PVH is not selectable yet)") < 0)
		return -ENOMEM;
	return 0;
}

static const char *xen_accel(const vxn_domain *d)
{
	(void)d;
	return "pv";
}

const struct backend_ops backend_xen = {
	.name = "xen",
	.max_cmdline = XEN_PV_CMDLINE_MAX,
	.available = xen_available,
	.create = xen_create,
	.start = xen_start,
	.pause = xen_pause,
	.resume = xen_start,
	.request_shutdown = xen_request_shutdown,
	.kill = xen_kill,
	.wait = xen_wait,
	.poll = xen_poll,
	.destroy = xen_destroy,
	.probe = xen_probe,
	.accel = xen_accel,
	.pid = NULL,
};
