/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain configuration and the backend-independent lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domain/backend.h"
#include "shared/util.h"

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *vxn_domain_state_name(vxn_domain_state s)
{
	static const char *const names[] = { "none", "paused", "running", "shutdown", "crashed" };
	return (unsigned)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

/* ---- config ---- */

int vxn_domain_config_new(vxn_domain_config **out, vxn_error **err)
{
	vxn_domain_config *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup("vxn"))) {
		free(c);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	c->memory_mib = 256;
	c->vcpus = 1;
	c->create_timeout_ms = 30000;
	*out = c;
	return 0;
}

void vxn_domain_config_free(vxn_domain_config *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->kernel);
	strv_free(c->initrds);
	free(c->cmdline);
	for (size_t i = 0; i < c->nshares; i++) {
		free(c->shares[i].tag);
		free(c->shares[i].host_path);
	}
	free(c->shares);
	free(c->log_file);
	free(c->backend);
	free(c);
}

static int set_str(char **field, const char *v, vxn_error **err)
{
	char *n = str_dup_or_null(v);
	if (v && !n)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	free(*field);
	*field = n;
	return 0;
}

int vxn_domain_config_set_name(vxn_domain_config *c, const char *name, vxn_error **err)
{
	if (!name || !*name || strlen(name) > 64)
		return error_set(err, VXN_EINVAL, 0, "domain name must be 1 to 64 characters");
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return error_set(err, VXN_EINVAL, 0,
					 "domain name '%s': only letters, digits, '-', '_' and '.'",
					 name);
	return set_str(&c->name, name, err);
}

static int check_abs(const char *what, const char *path, vxn_error **err)
{
	if (!path || path[0] != '/')
		return error_set(err, VXN_EINVAL, 0, "%s must be an absolute path, got '%s'", what,
				 path ? path : "");
	return 0;
}

int vxn_domain_config_set_kernel(vxn_domain_config *c, const char *path, vxn_error **err)
{
	int r = check_abs("kernel", path, err);
	return r < 0 ? r : set_str(&c->kernel, path, err);
}

int vxn_domain_config_add_initrd(vxn_domain_config *c, const char *path, vxn_error **err)
{
	int r = check_abs("initrd", path, err);
	if (r < 0)
		return r;
	if (strv_push(&c->initrds, path) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

int vxn_domain_config_set_cmdline(vxn_domain_config *c, const char *cmdline, vxn_error **err)
{
	return set_str(&c->cmdline, cmdline, err);
}

int vxn_domain_config_set_memory_mib(vxn_domain_config *c, unsigned mib, vxn_error **err)
{
	if (mib < 64 || mib > 1024 * 1024)
		return error_set(err, VXN_EINVAL, 0, "memory %u MiB: must be 64 MiB to 1 TiB", mib);
	c->memory_mib = mib;
	return 0;
}

int vxn_domain_config_set_vcpus(vxn_domain_config *c, unsigned vcpus, vxn_error **err)
{
	if (vcpus < 1 || vcpus > 64)
		return error_set(err, VXN_EINVAL, 0, "vcpus %u: must be 1 to 64", vcpus);
	c->vcpus = vcpus;
	return 0;
}

int vxn_domain_config_add_share(vxn_domain_config *c, const char *tag, const char *host_path,
				bool readonly, vxn_error **err)
{
	if (!tag || !*tag || strlen(tag) > 31 || strpbrk(tag, ",= "))
		return error_set(err, VXN_EINVAL, 0,
				 "share tag '%s': 1 to 31 characters, no ',', '=' or ' '",
				 tag ? tag : "");
	int r = check_abs("share path", host_path, err);
	if (r < 0)
		return r;
	if (strchr(host_path, ','))
		return error_set(err, VXN_EINVAL, 0, "share path '%s': ',' is not supported",
				 host_path);
	for (size_t i = 0; i < c->nshares; i++)
		if (strcmp(c->shares[i].tag, tag) == 0)
			return error_set(err, VXN_EEXISTS, 0, "share tag '%s' used twice", tag);
	struct domain_share *ns = realloc(c->shares, (c->nshares + 1) * sizeof(*ns));
	if (!ns)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	c->shares = ns;
	ns[c->nshares].tag = strdup(tag);
	ns[c->nshares].host_path = strdup(host_path);
	ns[c->nshares].readonly = readonly;
	if (!ns[c->nshares].tag || !ns[c->nshares].host_path) {
		free(ns[c->nshares].tag);
		free(ns[c->nshares].host_path);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	c->nshares++;
	return 0;
}

int vxn_domain_config_set_log_file(vxn_domain_config *c, const char *path, vxn_error **err)
{
	if (path) {
		int r = check_abs("log file", path, err);
		if (r < 0)
			return r;
	}
	return set_str(&c->log_file, path, err);
}

int vxn_domain_config_set_backend(vxn_domain_config *c, const char *backend, vxn_error **err)
{
	if (backend && strcmp(backend, "auto") && strcmp(backend, "qemu") && strcmp(backend, "xen"))
		return error_set(err, VXN_EINVAL, 0, "backend '%s': must be auto, qemu or xen",
				 backend);
	return set_str(&c->backend, backend, err);
}

int vxn_domain_config_set_create_timeout_ms(vxn_domain_config *c, unsigned timeout_ms,
					    vxn_error **err)
{
	if (timeout_ms == 0)
		return error_set(err, VXN_EINVAL, 0, "create timeout must be positive");
	c->create_timeout_ms = timeout_ms;
	return 0;
}

/* ---- backend selection ---- */

/* auto picks the first usable: Xen on a Dom0, else QEMU */
static const struct backend_ops *const backends[] = {
#if VXN_HAVE_XEN
	&backend_xen,
#endif
	&backend_qemu,
	NULL,
};

static const char *feature_list[8];
static char feature_names[8][32];
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void features_init(void)
{
	size_t n = 0;
	for (const struct backend_ops *const *b = backends; *b && n < ELEMENTSOF(feature_list) - 1;
	     b++, n++) {
		snprintf(feature_names[n], sizeof(feature_names[n]), "backend:%s", (*b)->name);
		feature_list[n] = feature_names[n];
	}
	feature_list[n] = NULL;
}

const char *const *domain_backend_features(void)
{
	pthread_once(&features_once, features_init);
	return feature_list;
}

int backend_select_why(vxn_ctx *ctx, const char *requested, const struct backend_ops **out,
		       char **why, vxn_error **err)
{
	const char *want = requested ? requested : vxn_ctx_get(ctx, "backend");
	const char *origin = requested ? "requested" : vxn_ctx_get_origin(ctx, "backend");
	if (!want)
		want = "auto";
	_cleanup_free_ char *skipped = NULL;
	for (const struct backend_ops *const *b = backends; *b; b++) {
		if (strcmp(want, "auto") && strcmp(want, (*b)->name))
			continue;
		const char *no = NULL;
		if ((*b)->available(ctx, &no)) {
			*out = *b;
			if (why)
				*why = strcmp(want, "auto")
					   ? str_printf("backend=%s is set (%s)", want, origin)
					   : str_printf("auto: %s%s%s is usable",
							STRPTR_OR(skipped, ""), skipped ? "; " : "",
							(*b)->name);
			return 0;
		}
		if (strcmp(want, "auto"))
			return error_set(err, VXN_ENOTSUP, 0, "backend %s is not usable here: %s",
					 want, no);
		char *n = str_printf("%s%s%s: %s", STRPTR_OR(skipped, ""), skipped ? "; " : "",
				     (*b)->name, no);
		free(skipped);
		skipped = n;
	}
	if (strcmp(want, "auto") == 0)
		return error_set(err, VXN_ENOTSUP, 0, "no usable backend on this host");
	return error_set(err, VXN_ENOTSUP, 0, "backend %s is not compiled into this build", want);
}

int backend_select(vxn_ctx *ctx, const char *requested, const struct backend_ops **out,
		   vxn_error **err)
{
	return backend_select_why(ctx, requested, out, NULL, err);
}

int domain_host_info(vxn_ctx *ctx, const vxn_domain_config *cfg, char ***report, vxn_error **err)
{
	const struct backend_ops *ops = NULL;
	_cleanup_free_ char *why = NULL;
	int r = backend_select_why(ctx, cfg->backend, &ops, &why, err);
	if (r < 0)
		return r;
	if (strv_push_take(report, str_printf("backend=%s", ops->name)) < 0 ||
	    strv_push_take(report, str_printf("backend_reason=%s", STRPTR_OR(why, ""))) < 0 ||
	    ops->probe(ctx, cfg, report) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

/* ---- helpers for backends ---- */

int domain_concat_initrds(char *const *initrds, const char *dir, char **out)
{
	_cleanup_free_ char *path = str_printf("%s/initrd-XXXXXX", dir);
	if (!path)
		return -ENOMEM;
	_cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[1 << 16];
	int r = 0;
	for (size_t i = 0; r == 0 && initrds[i]; i++) {
		_cleanup_close_ int in = open(initrds[i], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			r = -errno;
			break;
		}
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if ((r = write_all(fd, buf, (size_t)n)) < 0)
				break;
		if (n < 0)
			r = -errno;
	}
	if (r < 0) {
		unlink(path);
		return r;
	}
	*out = TAKE_PTR(path);
	return 0;
}

int domain_kernel_cmdline(const vxn_domain *d, const vxn_domain_config *cfg,
			  const char *backend_args, const char *if_longer, char **out,
			  vxn_error **err)
{
	bool own = cfg->cmdline && *cfg->cmdline;
	char *c = str_printf("%s%s%s", own ? cfg->cmdline : "", own ? " " : "", backend_args);
	if (!c)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (strlen(c) > d->ops->max_cmdline) {
		size_t n = strlen(c);
		free(c);
		return error_set(
		    err, VXN_EINVAL, 0,
		    "kernel command line is %zu bytes; the guest takes at most %zu (%s)", n,
		    d->ops->max_cmdline, if_longer);
	}
	*out = c;
	return 0;
}

char *domain_state_dir(vxn_ctx *ctx, const char *sub)
{
	char *p = path_join(vxn_ctx_state_root(ctx), sub);
	if (p && mkdir_p(p, 0700) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* ---- lifecycle ---- */

int vxn_domain_create(vxn_domain **out, vxn_ctx *ctx, const vxn_domain_config *cfg, vxn_error **err)
{
	if (!cfg->kernel)
		return error_set(err, VXN_EINVAL, 0, "domain %s: no kernel configured", cfg->name);
	if (access(cfg->kernel, R_OK) < 0)
		return error_errno(err, -errno, "domain %s: kernel %s", cfg->name, cfg->kernel);
	for (size_t i = 0; cfg->initrds && cfg->initrds[i]; i++)
		if (access(cfg->initrds[i], R_OK) < 0)
			return error_errno(err, -errno, "domain %s: initrd %s", cfg->name,
					   cfg->initrds[i]);
	for (size_t i = 0; i < cfg->nshares; i++)
		if (access(cfg->shares[i].host_path, F_OK) < 0)
			return error_errno(err, -errno, "domain %s: share %s", cfg->name,
					   cfg->shares[i].host_path);
	const struct backend_ops *ops = NULL;
	int r = backend_select(ctx, cfg->backend, &ops, err);
	if (r < 0)
		return r;
	vxn_domain *d = calloc(1, sizeof(*d));
	if (!d || !(d->name = strdup(cfg->name))) {
		free(d);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	d->ctx = ctx;
	d->ops = ops;
	d->console_fd = -1;
	r = ops->create(d, cfg, err);
	if (r < 0) {
		ops->destroy(d);
		free(d->name);
		free(d);
		return error_prefix(err, r, "domain %s", cfg->name);
	}
	d->state = VXN_DOMAIN_PAUSED;
	log_debug(ctx, "domain", "%s: created paused (%s, %s)", d->name, ops->name, ops->accel(d));
	*out = d;
	return 0;
}

static int need_state(vxn_domain *d, vxn_domain_state want, const char *op, vxn_error **err)
{
	vxn_domain_state s = vxn_domain_get_state(d);
	if (s != want)
		return error_set(err, VXN_ESTATE, 0, "domain %s: cannot %s a %s domain", d->name,
				 op, vxn_domain_state_name(s));
	return 0;
}

int vxn_domain_start(vxn_domain *d, vxn_error **err)
{
	int r = need_state(d, VXN_DOMAIN_PAUSED, "start", err);
	if (r == 0 && d->started)
		r = error_set(err, VXN_ESTATE, 0, "domain %s: already started (use resume)",
			      d->name);
	if (r == 0)
		r = d->ops->start(d, err);
	if (r == 0) {
		d->started = true;
		d->state = VXN_DOMAIN_RUNNING;
	}
	return r;
}

int vxn_domain_pause(vxn_domain *d, vxn_error **err)
{
	int r = need_state(d, VXN_DOMAIN_RUNNING, "pause", err);
	if (r == 0)
		r = d->ops->pause(d, err);
	if (r == 0)
		d->state = VXN_DOMAIN_PAUSED;
	return r;
}

int vxn_domain_resume(vxn_domain *d, vxn_error **err)
{
	int r = need_state(d, VXN_DOMAIN_PAUSED, "resume", err);
	if (r == 0 && !d->started)
		r = error_set(err, VXN_ESTATE, 0, "domain %s: not started yet (use start)",
			      d->name);
	if (r == 0)
		r = d->ops->resume(d, err);
	if (r == 0)
		d->state = VXN_DOMAIN_RUNNING;
	return r;
}

int vxn_domain_shutdown(vxn_domain *d, unsigned timeout_ms, vxn_error **err)
{
	vxn_domain_state s = vxn_domain_get_state(d);
	if (s == VXN_DOMAIN_SHUTDOWN || s == VXN_DOMAIN_CRASHED || s == VXN_DOMAIN_NONE)
		return 0;
	if (s == VXN_DOMAIN_PAUSED && d->started)
		d->ops->resume(d, NULL);
	int r = s == VXN_DOMAIN_PAUSED && !d->started ? VXN_ETIMEDOUT
						      : d->ops->request_shutdown(d, NULL);
	if (r == 0)
		r = d->ops->wait(d, (int)timeout_ms, NULL);
	if (r == 0) {
		d->state = VXN_DOMAIN_SHUTDOWN;
		return 0;
	}
	d->ops->kill(d, NULL);
	d->ops->wait(d, 5000, NULL);
	d->state = d->ops->poll(d);
	return error_set(err, VXN_ETIMEDOUT, ETIMEDOUT,
			 "domain %s: no power-off within %u ms; stopped by force", d->name,
			 timeout_ms);
}

int vxn_domain_kill(vxn_domain *d, vxn_error **err)
{
	int r = d->ops->kill(d, err);
	if (r == 0)
		r = d->ops->wait(d, 10000, err);
	d->state = d->ops->poll(d);
	return r;
}

int vxn_domain_wait(vxn_domain *d, unsigned timeout_ms, vxn_error **err)
{
	int r = d->ops->wait(d, timeout_ms ? (int)timeout_ms : -1, err);
	d->state = d->ops->poll(d);
	return r;
}

int vxn_domain_destroy(vxn_domain *d, vxn_error **err)
{
	if (!d || d->state == VXN_DOMAIN_NONE)
		return 0;
	d->ops->destroy(d);
	d->state = VXN_DOMAIN_NONE;
	d->console_fd = -1;
	log_debug(d->ctx, "domain", "%s: destroyed", d->name);
	return 0;
}

void vxn_domain_free(vxn_domain *d)
{
	if (!d)
		return;
	vxn_domain_destroy(d, NULL);
	free(d->name);
	free(d);
}

vxn_domain_state vxn_domain_get_state(vxn_domain *d)
{
	if (!d || d->state == VXN_DOMAIN_NONE)
		return VXN_DOMAIN_NONE;
	vxn_domain_state s = d->ops->poll(d);
	if (s == VXN_DOMAIN_SHUTDOWN || s == VXN_DOMAIN_CRASHED)
		d->state = s;
	return d->state;
}

int vxn_domain_console_fd(const vxn_domain *d)
{
	return d->console_fd;
}

int vxn_domain_pid(const vxn_domain *d)
{
	return d->ops->pid ? (int)d->ops->pid(d) : 0;
}

const char *vxn_domain_backend(const vxn_domain *d)
{
	return d->ops->name;
}

const char *vxn_domain_accel(const vxn_domain *d)
{
	return d->ops->accel(d);
}
