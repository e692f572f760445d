/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QEMU backend: qemu-system-x86_64, microvm machine, direct kernel boot,
 * the guest console on a virtio console bound to a socketpair, QMP on
 * another socketpair (no socket files), KVM only when a probe boot proved it
 * works, else TCG. doc/backend-contract.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "domain/backend.h"
#include "domain/qmp.h"
#include "shared/util.h"

#define QEMU_CMDLINE_MAX 2047 /* Linux x86 COMMAND_LINE_SIZE - 1; longer hangs silently */
#define PROBE_TIMEOUT_MS 8000
#define QMP_TIMEOUT_MS	 10000

struct qemu {
	pid_t pid;
	int pidfd;
	int status; /* wait status once reaped */
	bool reaped;
	struct qmp qmp;
	char *stderr_path; /* QEMU's stderr (the log file, or a temp file we remove) */
	bool stderr_is_temp;
	bool kvm;
};

static const char *qemu_program(vxn_ctx *ctx)
{
	const char *q = vxn_ctx_get(ctx, "qemu");
	return q && *q ? q : "qemu-system-x86_64";
}

/* Resolve a program name through PATH. */
static char *find_program(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *save = NULL, *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = path_join(dir, name);
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static bool qemu_available(vxn_ctx *ctx, const char **why)
{
	_cleanup_free_ char *p = find_program(qemu_program(ctx));
	if (!p) {
		*why = "qemu-system-x86_64 not found (Debian package qemu-system-x86)";
		return false;
	}
	return true;
}

/* The host TSC frequency in kHz, for tsc_early_khz= (microvm under TCG
 * otherwise fails PIT calibration about one boot in ten and hangs). */
static unsigned long host_tsc_khz(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		double mhz;
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1 ||
		    sscanf(line, "cpu MHz\t: %lf", &mhz) == 1)
			return (unsigned long)(mhz * 1000.0);
	}
	return 0;
}

/* Concatenate initrds (the kernel unpacks concatenated cpio archives). */
/* Last meaningful line of QEMU's stderr, for error messages. */
static char *stderr_tail(const struct qemu *q)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!q->stderr_path || read_file(q->stderr_path, 1 << 20, &text, &len) < 0 || !len)
		return NULL;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	char *last = strrchr(text, '\n');
	return strdup(last ? last + 1 : text);
}

static bool stderr_has(const struct qemu *q, const char *needle)
{
	_cleanup_free_ char *text = NULL;
	return q->stderr_path && read_file(q->stderr_path, 1 << 20, &text, NULL) == 0 &&
	       strstr(text, needle);
}

struct spawn {
	char **argv;
	int keep_fds[4];
	int stderr_fd;
};

static pid_t spawn_qemu(const struct spawn *sp)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* The VMM never outlives its owner: no orphan VM after a SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(sp->stderr_fd, 2) < 0)
		_exit(127);
	for (int i = 0; i < 4; i++)
		if (sp->keep_fds[i] >= 0)
			fcntl(sp->keep_fds[i], F_SETFD, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(sp->argv[0], sp->argv);
	_exit(127);
}

static int add(char ***argv, const char *s)
{
	return strv_push(argv, s);
}

static int addf(char ***argv, char *s)
{
	return strv_push_take(argv, s);
}

/* Build QEMU's argv. */
static int build_argv(vxn_domain *d, const vxn_domain_config *cfg, struct qemu *q,
		      const char *initrd, const char *cmdline, int qmp_fd, int con_fd, char ***out)
{
	_cleanup_strv_ char **a = NULL;
	_cleanup_free_ char *prog = find_program(qemu_program(d->ctx));
	if (!prog)
		return -ENOENT;
	int r = add(&a, prog);
	if (r == 0)
		r = add(&a, "-name");
	if (r == 0)
		r = add(&a, cfg->name);
	if (r == 0)
		r = add(&a, "-M");
	/* microvm: no PCI, no firmware, virtio-mmio found through ACPI. Keep the
	 * RTC: without it the guest kernel spends ~1 s more booting under TCG
	 * (measured: 1.84 s vs 0.83 s to power-off, doc/benchmarks.md) */
	if (r == 0)
		r = add(&a, "microvm,acpi=on,pic=off,isa-serial=off");
	if (r == 0)
		r = add(&a, "-accel");
	if (r == 0)
		r = add(&a, q->kvm ? "kvm" : "tcg");
	if (r == 0)
		r = add(&a, "-cpu");
	if (r == 0)
		r = add(&a, q->kvm ? "host" : "max");
	if (r == 0)
		r = add(&a, "-m");
	if (r == 0)
		r = addf(&a, str_printf("%u", cfg->memory_mib));
	if (r == 0)
		r = add(&a, "-smp");
	if (r == 0)
		r = addf(&a, str_printf("%u", cfg->vcpus));
	const char *fixed[] = { "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-S",
				NULL };
	for (size_t i = 0; r == 0 && fixed[i]; i++)
		r = add(&a, fixed[i]);
	if (r == 0)
		r = add(&a, "-kernel");
	if (r == 0)
		r = add(&a, cfg->kernel);
	if (r == 0 && initrd) {
		r = add(&a, "-initrd");
		if (r == 0)
			r = add(&a, initrd);
	}
	if (r == 0)
		r = add(&a, "-append");
	if (r == 0)
		r = add(&a, cmdline);
	if (r == 0)
		r = add(&a, "-chardev");
	if (r == 0)
		r = addf(&a, str_printf("socket,id=qmp,fd=%d", qmp_fd));
	if (r == 0)
		r = add(&a, "-mon");
	if (r == 0)
		r = add(&a, "chardev=qmp,mode=control");
	if (r == 0)
		r = add(&a, "-chardev");
	if (r == 0)
		r = addf(&a, str_printf("socket,id=con,fd=%d", con_fd));
	if (r == 0)
		r = add(&a, "-device");
	if (r == 0)
		r = add(&a, "virtio-serial-device,max_ports=1");
	if (r == 0)
		r = add(&a, "-device");
	if (r == 0)
		r = add(&a, "virtconsole,chardev=con");
	if (r == 0)
		r = add(&a, "-device");
	if (r == 0)
		r = add(&a, "virtio-rng-device");
	for (size_t i = 0; r == 0 && i < cfg->nshares; i++) {
		const struct domain_share *s = &cfg->shares[i];
		r = add(&a, "-fsdev");
		if (r == 0)
			r = addf(&a, str_printf("local,id=fs%zu,path=%s,security_model=none%s", i,
						s->host_path, s->readonly ? ",readonly=on" : ""));
		if (r == 0)
			r = add(&a, "-device");
		if (r == 0)
			r = addf(
			    &a, str_printf("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, s->tag));
	}
	if (r < 0)
		return r;
	*out = TAKE_PTR(a);
	return 0;
}

static char *state_dir(vxn_ctx *ctx)
{
	return domain_state_dir(ctx, "qemu");
}

static void qemu_reap(struct qemu *q, bool block)
{
	if (q->reaped || q->pid <= 0)
		return;
	int st = 0;
	pid_t r;
	do
		r = waitpid(q->pid, &st, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == q->pid) {
		q->status = st;
		q->reaped = true;
	}
}

/* Drain pending QMP events without blocking (to learn the SHUTDOWN reason). */
static void drain_events(struct qemu *q)
{
	if (q->qmp.fd < 0)
		return;
	for (;;) {
		struct pollfd p = { q->qmp.fd, POLLIN, 0 };
		if (poll(&p, 1, 0) <= 0)
			return;
		if (q->qmp.len == sizeof(q->qmp.buf))
			q->qmp.len = 0;
		ssize_t n =
		    read(q->qmp.fd, q->qmp.buf + q->qmp.len, sizeof(q->qmp.buf) - q->qmp.len);
		if (n <= 0)
			return;
		q->qmp.len += (size_t)n;
		char *line = q->qmp.buf, *nl;
		while ((nl = memchr(line, '\n', q->qmp.len - (size_t)(line - q->qmp.buf)))) {
			*nl = '\0';
			const char *r =
			    strstr(line, "\"SHUTDOWN\"") ? strstr(line, "\"reason\": \"") : NULL;
			if (r)
				snprintf(q->qmp.shutdown_reason, sizeof(q->qmp.shutdown_reason),
					 "%.*s", (int)strcspn(r + 11, "\""), r + 11);
			line = nl + 1;
		}
		size_t rest = q->qmp.len - (size_t)(line - q->qmp.buf);
		memmove(q->qmp.buf, line, rest);
		q->qmp.len = rest;
	}
}

/* One probe boot with KVM: usable only if the guest powers off by itself in time.
 * *why: what the probe saw (malloc'd, may stay NULL on out of memory). */
static bool kvm_probe(vxn_ctx *ctx, const vxn_domain_config *cfg, const char *initrd, char **why);

static int qemu_create(vxn_domain *d, const vxn_domain_config *cfg, vxn_error **err);

/* Cached answer of the probe: <data_root>/cache/qemu-accel, keyed by QEMU and kernel identity. */
static char *probe_key(vxn_ctx *ctx, const char *kernel)
{
	_cleanup_free_ char *prog = find_program(qemu_program(ctx));
	struct stat a, b;
	if (!prog || stat(prog, &a) < 0 || stat(kernel, &b) < 0)
		return NULL;
	return str_printf("qemu=%s:%lld:%lld kernel=%s:%lld:%lld", prog, (long long)a.st_size,
			  (long long)a.st_mtime, kernel, (long long)b.st_size,
			  (long long)b.st_mtime);
}

/*
 * KVM or TCG, and why (*why malloc'd, may be NULL on out of memory). The probe
 * boot runs once per QEMU and kernel identity; its answer is cached in
 * <data_root>/cache/qemu-accel as "<key>\n<kvm|tcg>\n<why>\n".
 */
static void choose_accel(vxn_ctx *ctx, const vxn_domain_config *cfg, const char *initrd, bool *kvm,
			 char **why)
{
	const char *want = vxn_ctx_get(ctx, "accel");
	*why = NULL;
	if (want && (strcmp(want, "tcg") == 0 || strcmp(want, "kvm") == 0)) {
		*kvm = strcmp(want, "kvm") == 0;
		*why = str_printf("accel=%s is set (%s)", want, vxn_ctx_get_origin(ctx, "accel"));
		return;
	}
	const char *dev = vxn_ctx_get(ctx, "kvm_device");
	int fd = open(dev ? dev : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*kvm = false;
		*why = str_printf("%s: %s", dev ? dev : "/dev/kvm", strerror(errno));
		log_debug(ctx, "domain", "%s: TCG", *why ? *why : "/dev/kvm not usable");
		return;
	}
	close(fd);
	_cleanup_free_ char *cache = path_join(vxn_ctx_data_root(ctx), "cache/qemu-accel");
	_cleanup_free_ char *key = probe_key(ctx, cfg->kernel);
	_cleanup_free_ char *text = NULL;
	if (cache && key && read_file(cache, 4096, &text, NULL) == 0) {
		char *nl = strchr(text, '\n');
		if (nl && (size_t)(nl - text) == strlen(key) &&
		    strncmp(text, key, strlen(key)) == 0) {
			*kvm = strncmp(nl + 1, "kvm\n", 4) == 0;
			char *reason = strchr(nl + 1, '\n');
			if (reason)
				reason[1 + strcspn(reason + 1, "\n")] = '\0';
			*why = str_printf("%s (cached probe)",
					  reason && reason[1] ? reason + 1 : "probe boot");
			log_debug(ctx, "domain", "accelerator %s: %s", *kvm ? "kvm" : "tcg",
				  STRPTR_OR(*why, ""));
			return;
		}
	}
	*kvm = kvm_probe(ctx, cfg, initrd, why);
	log_info(ctx, "domain", "KVM probe: %s; using %s", STRPTR_OR(*why, "?"),
		 *kvm ? "KVM" : "TCG");
	if (cache && key) {
		_cleanup_free_ char *dir = path_join(vxn_ctx_data_root(ctx), "cache");
		_cleanup_free_ char *line =
		    str_printf("%s\n%s\n%s\n", key, *kvm ? "kvm" : "tcg", STRPTR_OR(*why, ""));
		if (dir && line && mkdir_p(dir, 0700) == 0)
			write_file_atomic(cache, line, strlen(line), 0644);
	}
}

static int launch(vxn_domain *d, const vxn_domain_config *cfg, const char *initrd,
		  const char *cmdline, struct qemu *q, vxn_error **err)
{
	int qmp_sv[2] = { -1, -1 }, con_sv[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con_sv) < 0) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			if (qmp_sv[i] >= 0)
				close(qmp_sv[i]);
		}
		return error_errno(err, -e, "socketpair");
	}
	_cleanup_strv_ char **argv = NULL;
	int r = build_argv(d, cfg, q, initrd, cmdline, qmp_sv[1], con_sv[1], &argv);
	if (r < 0) {
		close(qmp_sv[0]), close(qmp_sv[1]), close(con_sv[0]), close(con_sv[1]);
		return r == -ENOENT ? error_set(err, VXN_ENOTSUP, ENOENT, "%s not found",
						qemu_program(d->ctx))
				    : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *joined = NULL;
	for (size_t i = 0; argv[i]; i++) {
		char *n = str_printf("%s%s%s", joined ? joined : "", joined ? " " : "", argv[i]);
		free(joined);
		joined = n;
	}
	log_debug(d->ctx, "domain", "%s", joined ? joined : "qemu");
	int errfd = open(q->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (errfd < 0) {
		close(qmp_sv[0]), close(qmp_sv[1]), close(con_sv[0]), close(con_sv[1]);
		return error_errno(err, -errno, "QEMU log %s", q->stderr_path);
	}
	struct spawn sp = { argv, { qmp_sv[1], con_sv[1], -1, -1 }, errfd };
	q->pid = spawn_qemu(&sp);
	int e = errno;
	close(errfd);
	close(qmp_sv[1]);
	close(con_sv[1]);
	if (q->pid < 0) {
		close(qmp_sv[0]), close(con_sv[0]);
		return error_errno(err, -e, "fork");
	}
	q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
	q->qmp.fd = qmp_sv[0];
	d->console_fd = con_sv[0];
	return 0;
}

static int qemu_create(vxn_domain *d, const vxn_domain_config *cfg, vxn_error **err)
{
	struct qemu *q = calloc(1, sizeof(*q));
	if (!q)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	q->pidfd = -1;
	q->qmp.fd = -1;
	d->priv = q;
	_cleanup_free_ char *dir = state_dir(d->ctx);
	_cleanup_free_ char *initrd = NULL;
	if (!dir)
		return error_errno(err, -errno, "state directory");
	if (cfg->log_file) {
		q->stderr_path = strdup(cfg->log_file);
	} else {
		q->stderr_path = str_printf("%s/%s-XXXXXX.log", dir, cfg->name);
		int fd = q->stderr_path ? mkostemps(q->stderr_path, 4, O_CLOEXEC) : -1;
		if (fd < 0)
			return error_errno(err, -errno, "QEMU log");
		close(fd);
		q->stderr_is_temp = true;
	}
	if (!q->stderr_path)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	size_t ninit = strv_length(cfg->initrds);
	if (ninit > 1) {
		int r = domain_concat_initrds(cfg->initrds, dir, &initrd);
		if (r < 0)
			return error_errno(err, r, "initrd");
	} else if (ninit == 1) {
		initrd = strdup(cfg->initrds[0]);
	}
	bool temp_initrd = ninit > 1;
	_cleanup_free_ char *why = NULL;
	choose_accel(d->ctx, cfg, initrd, &q->kvm, &why);
	_cleanup_free_ char *cmdline = NULL;
	unsigned long khz = host_tsc_khz(); /* needed under TCG, right under KVM */
	char args[64];
	if (khz)
		snprintf(args, sizeof(args), "console=hvc0 tsc_early_khz=%lu", khz);
	else
		snprintf(args, sizeof(args), "console=hvc0");
	int r = domain_kernel_cmdline(d, cfg, args, "a longer one hangs the boot", &cmdline, err);
	if (r == 0)
		r = launch(d, cfg, initrd, cmdline, q, err);
	if (r == 0) {
		/* Deadline: the VMM must be up and answering before the guest may run. */
		r = qmp_handshake(&q->qmp, now_ms() + cfg->create_timeout_ms, err);
		if (r < 0) {
			qemu_reap(q, false);
			_cleanup_free_ char *tail = stderr_tail(q);
			if (tail) {
				vxn_error_free(err ? *err : NULL);
				if (err)
					*err = NULL;
				r = error_set(err, VXN_EBACKEND, 0, "QEMU failed: %s", tail);
			}
		}
	}
	/* QEMU has read the initrd into guest memory by now: the file can go. */
	if (temp_initrd && initrd)
		unlink(initrd);
	return r;
}

static bool kvm_probe(vxn_ctx *ctx, const vxn_domain_config *cfg, const char *initrd, char **why)
{
	struct qemu probe = { .pidfd = -1, .qmp.fd = -1, .kvm = true };
	_cleanup_free_ char *dir = state_dir(ctx);
	if (!dir) {
		*why = str_printf("state directory: %s", strerror(errno));
		return false;
	}
	probe.stderr_path = str_printf("%s/kvm-probe-XXXXXX.log", dir);
	int fd = probe.stderr_path ? mkostemps(probe.stderr_path, 4, O_CLOEXEC) : -1;
	if (fd < 0) {
		*why = str_printf("probe log: %s", strerror(errno));
		free(probe.stderr_path);
		return false;
	}
	close(fd);
	vxn_domain pd = { .ctx = ctx, .console_fd = -1 };
	bool ok = false;
	vxn_error *e = NULL;
	long long t0 = now_ms(), deadline = t0 + PROBE_TIMEOUT_MS;
	/* tsc_early_khz= as for TCG boots: right under KVM too, and a probe that runs
	 * under TCG (a stand-in, a nested host) does not stall in calibration */
	unsigned long khz = host_tsc_khz();
	_cleanup_free_ char *cmdline =
	    khz ? str_printf("console=hvc0 quiet panic=-1 vxn.probe=1 tsc_early_khz=%lu", khz)
		: strdup("console=hvc0 quiet panic=-1 vxn.probe=1");
	if (!cmdline) {
		*why = NULL;
	} else if (launch(&pd, cfg, initrd, cmdline, &probe, &e) < 0) {
		*why = str_printf("probe boot: %s", vxn_error_message(e));
	} else if (qmp_handshake(&probe.qmp, deadline, NULL) < 0 ||
		   qmp_command(&probe.qmp, "cont", NULL, NULL, deadline, NULL) < 0) {
		*why = str_printf("probe boot: QEMU did not answer QMP within %d ms",
				  PROBE_TIMEOUT_MS);
	} else {
		/* Read the console so the guest never blocks on it; wait for exit. */
		bool con_open = true, internal = false;
		while (now_ms() < deadline && !probe.reaped && !internal) {
			struct pollfd p[2] = { { con_open ? pd.console_fd : -1, POLLIN, 0 },
					       { probe.pidfd, POLLIN, 0 } };
			if (poll(p, 2, 100) > 0 && p[0].revents) {
				char buf[4096];
				if (read(pd.console_fd, buf, sizeof(buf)) <= 0)
					con_open = false;
			}
			qemu_reap(&probe, false);
			internal = stderr_has(&probe, "KVM internal error");
		}
		ok = probe.reaped && WIFEXITED(probe.status) && WEXITSTATUS(probe.status) == 0 &&
		     !internal;
		if (ok)
			*why =
			    str_printf("a probe guest booted and powered off under KVM in %lld ms",
				       now_ms() - t0);
		else if (internal)
			*why = strdup("the probe guest died with \"KVM internal error\"");
		else if (!probe.reaped)
			*why = str_printf("the probe guest did not power off within %d ms",
					  PROBE_TIMEOUT_MS);
		else
			*why = str_printf("the probe QEMU exited with status %d",
					  WIFEXITED(probe.status) ? WEXITSTATUS(probe.status)
								  : 128 + WTERMSIG(probe.status));
	}
	vxn_error_free(e);
	if (probe.pid > 0 && !probe.reaped) {
		kill(probe.pid, SIGKILL);
		qemu_reap(&probe, true);
	}
	if (probe.pidfd >= 0)
		close(probe.pidfd);
	if (probe.qmp.fd >= 0)
		close(probe.qmp.fd);
	if (pd.console_fd >= 0)
		close(pd.console_fd);
	unlink(probe.stderr_path);
	free(probe.stderr_path);
	return ok;
}

static int qmp_simple(vxn_domain *d, const char *cmd, vxn_error **err)
{
	struct qemu *q = d->priv;
	return qmp_command(&q->qmp, cmd, NULL, NULL, now_ms() + QMP_TIMEOUT_MS, err);
}

static int qemu_start(vxn_domain *d, vxn_error **err)
{
	return qmp_simple(d, "cont", err);
}

static int qemu_pause(vxn_domain *d, vxn_error **err)
{
	return qmp_simple(d, "stop", err);
}

static int qemu_resume(vxn_domain *d, vxn_error **err)
{
	return qmp_simple(d, "cont", err);
}

static int qemu_request_shutdown(vxn_domain *d, vxn_error **err)
{
	return qmp_simple(d, "system_powerdown", err);
}

static int qemu_kill(vxn_domain *d, vxn_error **err)
{
	struct qemu *q = d->priv;
	if (q->pid > 0 && !q->reaped && kill(q->pid, SIGKILL) < 0 && errno != ESRCH)
		return error_errno(err, -errno, "kill QEMU");
	return 0;
}

static int qemu_wait(vxn_domain *d, int timeout_ms, vxn_error **err)
{
	struct qemu *q = d->priv;
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	while (!q->reaped) {
		drain_events(q);
		qemu_reap(q, false);
		if (q->reaped)
			break;
		int left = deadline < 0 ? 1000 : (int)MIN(1000, deadline - now_ms());
		if (deadline >= 0 && left <= 0)
			return error_set(err, VXN_ETIMEDOUT, ETIMEDOUT, "domain %s still running",
					 d->name);
		struct pollfd p[2] = { { q->pidfd, POLLIN, 0 }, { q->qmp.fd, POLLIN, 0 } };
		if (poll(p, 2, left) < 0 && errno != EINTR)
			return error_errno(err, -errno, "wait");
	}
	drain_events(q);
	return 0;
}

static vxn_domain_state qemu_poll(vxn_domain *d)
{
	struct qemu *q = d->priv;
	if (!q)
		return VXN_DOMAIN_NONE;
	qemu_reap(q, false);
	if (!q->reaped)
		return d->state;
	drain_events(q);
	/* panic=-1 makes the guest reset on a panic; -no-reboot turns that into an exit */
	bool clean = WIFEXITED(q->status) && WEXITSTATUS(q->status) == 0 &&
		     strcmp(q->qmp.shutdown_reason, "guest-reset") != 0 &&
		     strcmp(q->qmp.shutdown_reason, "guest-panic") != 0;
	return clean ? VXN_DOMAIN_SHUTDOWN : VXN_DOMAIN_CRASHED;
}

static void qemu_destroy(vxn_domain *d)
{
	struct qemu *q = d->priv;
	if (!q)
		return;
	if (q->pid > 0 && !q->reaped) {
		kill(q->pid, SIGKILL);
		qemu_reap(q, true);
	}
	if (q->pidfd >= 0)
		close(q->pidfd);
	if (q->qmp.fd >= 0)
		close(q->qmp.fd);
	if (d->console_fd >= 0)
		close(d->console_fd);
	d->console_fd = -1;
	if (q->stderr_is_temp && q->stderr_path)
		unlink(q->stderr_path);
	free(q->stderr_path);
	free(q);
	d->priv = NULL;
}

static int qemu_probe(vxn_ctx *ctx, const vxn_domain_config *cfg, char ***report)
{
	bool kvm = false;
	_cleanup_free_ char *why = NULL;
	choose_accel(ctx, cfg, cfg->initrds ? cfg->initrds[0] : NULL, &kvm, &why);
	_cleanup_free_ char *prog = find_program(qemu_program(ctx));
	if (strv_push_take(report, str_printf("accel=%s", kvm ? "kvm" : "tcg")) < 0 ||
	    strv_push_take(report, str_printf("accel_reason=%s", STRPTR_OR(why, ""))) < 0 ||
	    strv_push_take(report, str_printf("qemu=%s", STRPTR_OR(prog, qemu_program(ctx)))) < 0)
		return -ENOMEM;
	return 0;
}

static const char *qemu_accel(const vxn_domain *d)
{
	const struct qemu *q = d->priv;
	return q && q->kvm ? "kvm" : "tcg";
}

static pid_t qemu_pid(const vxn_domain *d)
{
	const struct qemu *q = d->priv;
	return q && !q->reaped ? q->pid : 0;
}

const struct backend_ops backend_qemu = {
	.name = "qemu",
	.max_cmdline = QEMU_CMDLINE_MAX,
	.available = qemu_available,
	.create = qemu_create,
	.start = qemu_start,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.request_shutdown = qemu_request_shutdown,
	.kill = qemu_kill,
	.wait = qemu_wait,
	.poll = qemu_poll,
	.destroy = qemu_destroy,
	.probe = qemu_probe,
	.accel = qemu_accel,
	.pid = qemu_pid,
};
