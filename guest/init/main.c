/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vxn-init: PID 1 of a vxn guest. It speaks the guest side of the boot
 * protocol (doc/guest-protocol.md) on /dev/hvc0: READY until START, then it
 * sets up the container from the launch record, runs the process, relays its
 * stdio as frames, reports EXIT (or ERROR) until the host acknowledges it,
 * and powers the VM off. doc/vxn-init.md describes the behaviour.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/input.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "shared/util.h"

#ifndef VXN_INIT_VERSION
#define VXN_INIT_VERSION "0"
#endif

#define LAUNCH_PATH	  "/vxn/launch.json"
#define LAUNCH_MAX	  (4u << 20)
#define STDIN_WINDOW	  65536u
#define READY_INTERVAL_MS 1000
#define EXIT_INTERVAL_MS  500
#define EXIT_TRIES	  10
#define DRAIN_DEADLINE_MS 5000

/* The console and the sender's state. */
static int con = -1;
static uint32_t tx_seq;
static bool debug;
static uint8_t txbuf[VXN_FRAME_MAX_SIZE];

/* What the host told us (decoder callbacks). */
static struct {
	bool started, acked, stdin_eof;
	uint32_t credit_left; /* STDIN bytes the host may still send */
	uint8_t buf[STDIN_WINDOW];
	size_t len; /* queued for the process */
	int fd;	    /* where stdin goes (pipe or pty master), or -1 */
	bool is_pty;
	pid_t child;
	bool child_running;
	int stop_signal;
	int pty;
	int power_button; /* evdev fd of the ACPI power button, or -1 */
} st = { .fd = -1, .child = -1, .pty = -1, .stop_signal = SIGTERM, .power_button = -1 };

/* Milliseconds since the kernel started (CLOCK_BOOTTIME): init_ms in READY is
 * when vxn-init began, ready_ms when READY was built (doc/guest-protocol.md). */
static int64_t init_start_ms;

static int64_t boottime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Before the console is ours: one plain line on /dev/console, then off. */
static _Noreturn void die_plain(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "vxn-init: ", 10);
		(void)!write(fd, line, strlen(line));
		close(fd);
	}
	sync();
	reboot(RB_POWER_OFF);
	_exit(1);
}

static void send_bytes(const void *buf, size_t n)
{
	if (con >= 0 && write_all(con, buf, n) < 0 && errno != EINTR) {
		/* nobody hears us any more: nothing better to do than stop */
		sync();
		reboot(RB_POWER_OFF);
		_exit(1);
	}
}

/* Send the frame an encoder just wrote to txbuf (@n: its result). */
static void send_tx(int n)
{
	if (n > 0) {
		send_bytes(txbuf, (size_t)n);
		tx_seq++;
	}
}

void init_log(int level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!debug && level > VXN_LOG_WARNING)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (con < 0 || !st.started)
		return;
	send_tx(vxn_frame_encode_log(txbuf, sizeof(txbuf), tx_seq, (vxn_log_level)level,
				     VXN_LOG_SOURCE_INIT, text));
}

static void send_error(uint32_t stream, const struct init_error *e)
{
	send_tx(vxn_frame_encode_error(txbuf, sizeof(txbuf), stream, tx_seq, e->stage, e->errnum,
				       e->message));
}

static void grant(uint32_t bytes)
{
	if (bytes == 0)
		return;
	st.credit_left += bytes;
	send_tx(vxn_frame_encode_credit(txbuf, sizeof(txbuf), VXN_STREAM_MAIN, tx_seq, bytes));
}

static void close_stdin(void)
{
	if (st.fd >= 0 && !st.is_pty)
		close(st.fd);
	st.fd = -1;
	st.len = 0;
}

static void on_frame(void *userdata, const vxn_frame *f)
{
	unsigned type = vxn_frame_get_type(f);
	uint32_t stream = vxn_frame_get_stream(f);
	size_t n;
	const void *p;
	(void)userdata;

	if (!st.started) {
		uint16_t version;

		if (type == VXN_FRAME_START && stream == VXN_STREAM_MAIN &&
		    vxn_frame_parse_start(f, &version) == 0 && version >= 1)
			st.started = true;
		return;
	}
	if (type == VXN_FRAME_EXEC_START) {
		struct init_error e;

		init_fail(&e, VXN_BOOT_STAGE_EXEC, ENOSYS, "exec sessions are not supported");
		send_error(stream, &e);
		return;
	}
	if (stream != VXN_STREAM_MAIN)
		return;
	switch (type) {
	case VXN_FRAME_STDIN:
		p = vxn_frame_get_payload(f, &n);
		if (st.stdin_eof)
			return;
		if (n > st.credit_left) {
			init_log(VXN_LOG_WARNING, "host sent %zu stdin bytes beyond its credit",
				 n - st.credit_left);
			return;
		}
		st.credit_left -= (uint32_t)n;
		if (st.fd < 0) {
			grant((uint32_t)n); /* the process is gone: take and drop */
			return;
		}
		memcpy(st.buf + st.len, p, n);
		st.len += n;
		break;
	case VXN_FRAME_STDIN_EOF:
		st.stdin_eof = true;
		if (st.len == 0)
			close_stdin();
		break;
	case VXN_FRAME_RESIZE: {
		uint16_t rows, cols;

		if (st.pty >= 0 && vxn_frame_parse_resize(f, &rows, &cols) == 0) {
			struct winsize ws = { .ws_row = rows, .ws_col = cols };

			ioctl(st.pty, TIOCSWINSZ, &ws);
		}
		break;
	}
	case VXN_FRAME_SIGNAL: {
		int signo;

		if (vxn_frame_parse_signal(f, &signo) == 0 && st.child_running)
			kill(st.child, signo);
		break;
	}
	case VXN_FRAME_EXIT_ACK:
		st.acked = true;
		break;
	default:
		break;
	}
}

static void on_foreign(void *userdata, const void *bytes, size_t size)
{
	(void)userdata;
	(void)bytes;
	(void)size;
}

/* Read what the console has and feed it to the decoder. 0, or -1 at its end. */
static int pump_console(vxn_frame_decoder *dec)
{
	uint8_t buf[16384];
	ssize_t n = read(con, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return 0; /* a tty hangup; the host may reopen */
	vxn_frame_decoder_feed(dec, buf, (size_t)n);
	return 0;
}

static char *cmdline_value(const char *cmdline, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = cmdline; *p;) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t len = strcspn(v, " \n");
			char *out = malloc(len + 1);

			if (out) {
				memcpy(out, v, len);
				out[len] = '\0';
			}
			return out;
		}
		p += strcspn(p, " \n");
	}
	return NULL;
}

static void early_mounts(void)
{
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	    errno != EBUSY)
		die_plain("mount /proc: %s", strerror(errno));
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	    errno != EBUSY)
		die_plain("mount /sys: %s", strerror(errno));
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		die_plain("mount /dev: %s", strerror(errno));
}

static void open_console(void)
{
	struct termios t;

	con = open("/dev/hvc0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con < 0)
		die_plain("open /dev/hvc0: %s", strerror(errno));
	if (tcgetattr(con, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(con, TCSANOW, &t) < 0)
			die_plain("raw mode on /dev/hvc0: %s", strerror(errno));
	}
	tcflush(con, TCIFLUSH);
}

static void handshake(vxn_frame_decoder *dec)
{
	struct utsname u;
	char info[512];
	uint8_t ready[VXN_FRAME_SIZE(512)];
	int n;
	int64_t next = 0;

	uname(&u);
	snprintf(info, sizeof(info),
		 "vxn-init=%s\nkernel=%s\narch=%s\ninit_ms=%lld\nready_ms=%lld\n", VXN_INIT_VERSION,
		 u.release, u.machine, (long long)init_start_ms, (long long)boottime_ms());
	n = vxn_frame_encode_ready(ready, sizeof(ready), tx_seq++, VXN_PROTO_VERSION, info);
	if (n < 0)
		die_plain("encode READY failed");
	while (!st.started) {
		int64_t t = now_ms();
		struct pollfd pfd = { .fd = con, .events = POLLIN };

		if (t >= next) {
			send_bytes(ready, (size_t)n); /* byte for byte, same seq */
			next = t + READY_INTERVAL_MS;
		}
		if (poll(&pfd, 1, (int)(next - t)) > 0 && pump_console(dec) < 0)
			die_plain("console closed before START");
	}
}

/* ---------------------------------------------------------------- spawn */

struct spawn {
	int out, err; /* our read ends (err is -1 with a terminal) */
	int errpipe;  /* reports the child's setup failure */
};

static void child_fail(int fd, vxn_boot_stage stage, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void child_fail(int fd, vxn_boot_stage stage, int errnum, const char *fmt, ...)
{
	struct init_error e = { .stage = stage, .errnum = errnum };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	(void)write_all(fd, &e, sizeof(e));
	_exit(127);
}

static const char *get_env(char **env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/* execve @file, searching PATH as execvp does; returns the errno to report. */
static int exec_path(const char *file, char **argv, char **env)
{
	const char *path;
	bool eacces = false;
	char buf[4096];

	if (strchr(file, '/')) {
		execve(file, argv, env);
		return errno;
	}
	path = get_env(env, "PATH");
	if (!path)
		path = INIT_DEFAULT_PATH;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);

		if (dlen == 0)
			snprintf(buf, sizeof(buf), "%s", file);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)dlen, p, file);
		execve(buf, argv, env);
		if (errno == EACCES)
			eacces = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			return errno;
		if (*end == '\0')
			break;
		p = end;
	}
	return eacces ? EACCES : ENOENT;
}

static _Noreturn void child_main(const struct launch *l, const struct identity *id,
				 const char *slave, int fds[3], int errfd)
{
	sigset_t none;
	char **env = l->env;
	int r;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (setsid() < 0)
		child_fail(errfd, VXN_BOOT_STAGE_EXEC, errno, "setsid: %s", strerror(errno));
	if (slave) {
		int fd = open(slave, O_RDWR);

		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			child_fail(errfd, VXN_BOOT_STAGE_EXEC, errno, "terminal %s: %s", slave,
				   strerror(errno));
		fds[0] = fds[1] = fds[2] = fd;
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(fds[i], i) < 0)
			child_fail(errfd, VXN_BOOT_STAGE_EXEC, errno, "dup2: %s", strerror(errno));
	}
	for (size_t i = 0; i < l->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = l->rlimits[i].soft < 0
						     ? RLIM_INFINITY
						     : (rlim_t)l->rlimits[i].soft,
				     .rlim_max = l->rlimits[i].hard < 0
						     ? RLIM_INFINITY
						     : (rlim_t)l->rlimits[i].hard };

		if (setrlimit(l->rlimits[i].resource, &rl) < 0)
			child_fail(errfd, VXN_BOOT_STAGE_USER, errno, "setrlimit %d: %s",
				   l->rlimits[i].resource, strerror(errno));
	}
	umask((mode_t)l->umask);
	if (chdir(l->cwd) < 0)
		child_fail(errfd, VXN_BOOT_STAGE_CWD, errno, "chdir %s: %s", l->cwd,
			   strerror(errno));
	if (setgroups(id->n_groups, id->groups) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0)
		child_fail(errfd, VXN_BOOT_STAGE_USER, errno, "switch to uid %u gid %u: %s",
			   (unsigned)id->uid, (unsigned)id->gid, strerror(errno));
	if (l->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, VXN_BOOT_STAGE_USER, errno, "no_new_privs: %s", strerror(errno));
	if (!get_env(env, "HOME")) {
		size_t n = strv_length(env);
		char **e2 = calloc(n + 2, sizeof(*e2));

		if (!e2)
			child_fail(errfd, VXN_BOOT_STAGE_EXEC, ENOMEM, "out of memory");
		memcpy(e2, env, n * sizeof(*e2));
		e2[n] = str_printf("HOME=%s", id->home ? id->home : "/");
		env = e2;
	}
	r = exec_path(l->args[0], l->args, env);
	if (r == ENOENT && !strchr(l->args[0], '/'))
		child_fail(errfd, VXN_BOOT_STAGE_EXEC, r,
			   "exec: \"%s\": executable file not found in $PATH", l->args[0]);
	child_fail(errfd, VXN_BOOT_STAGE_EXEC, r, "exec: \"%s\": %s", l->args[0], strerror(r));
	_exit(127);
}

/*
 * Start the process. 0 with the child running and @sp set; -1 with @e when it
 * could not start (nothing is left running then).
 */
static int spawn(const struct launch *l, const struct identity *id, struct spawn *sp,
		 struct init_error *e)
{
	int ep[2], in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int fds[3];
	char slave[128] = "";
	struct init_error ce;
	ssize_t n;
	pid_t pid;

	sp->out = sp->err = -1;
	if (pipe2(ep, O_CLOEXEC) < 0)
		return init_fail(e, VXN_BOOT_STAGE_EXEC, errno, "pipe: %s", strerror(errno));
	if (l->terminal) {
		struct winsize ws = { .ws_row = (unsigned short)l->rows,
				      .ws_col = (unsigned short)l->cols };
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
		    ptsname_r(m, slave, sizeof(slave)) != 0) {
			int saved = errno;

			if (m >= 0)
				close(m);
			close(ep[0]);
			close(ep[1]);
			return init_fail(e, VXN_BOOT_STAGE_EXEC, saved, "pseudo-terminal: %s",
					 strerror(saved));
		}
		ioctl(m, TIOCSWINSZ, &ws);
		st.pty = m;
		fds[0] = fds[1] = fds[2] = -1;
	} else {
		if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
		    (l->open_stdin ? pipe2(in, O_CLOEXEC)
				   : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0) {
			int saved = errno;
			int all[] = { out[0], out[1], err[0], err[1], in[0], in[1], ep[0], ep[1] };

			for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
				if (all[i] >= 0)
					close(all[i]);
			return init_fail(e, VXN_BOOT_STAGE_EXEC, saved, "pipe: %s",
					 strerror(saved));
		}
		fds[0] = in[0];
		fds[1] = out[1];
		fds[2] = err[1];
	}
	pid = fork();
	if (pid == 0)
		child_main(l, id, slave[0] ? slave : NULL, fds, ep[1]);
	close(ep[1]);
	if (!l->terminal) {
		close(in[0]);
		close(out[1]);
		close(err[1]);
	}
	if (pid < 0) {
		int saved = errno;

		close(ep[0]);
		return init_fail(e, VXN_BOOT_STAGE_EXEC, saved, "fork: %s", strerror(saved));
	}
	do
		n = read(ep[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(ce)) {
		waitpid(pid, NULL, 0);
		*e = ce;
		e->message[sizeof(e->message) - 1] = '\0';
		return -1;
	}
	st.child = pid;
	st.child_running = true;
	if (l->terminal) {
		sp->out = st.pty;
		st.fd = l->open_stdin ? st.pty : -1;
		st.is_pty = true;
	} else {
		sp->out = out[0];
		sp->err = err[0];
		st.fd = in[1];
		if (in[1] >= 0)
			fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	if (st.fd >= 0 && st.is_pty)
		fcntl(st.fd, F_SETFL, fcntl(st.fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

/* Forward what @fd has as @type. 0, or -1 at end of file. */
static int forward(int fd, unsigned type)
{
	uint8_t *payload = txbuf + VXN_FRAME_HEADER_SIZE;
	ssize_t n = read(fd, payload, VXN_FRAME_MAX_PAYLOAD);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1; /* EIO: pty hung up */
	if (n == 0)
		return -1;
	send_tx(vxn_frame_encode(txbuf, sizeof(txbuf), type, VXN_STREAM_MAIN, tx_seq, payload,
				 (size_t)n));
	return 0;
}

static void feed_stdin(void)
{
	ssize_t n = write(st.fd, st.buf, st.len);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* EPIPE: the process closed its stdin; drop what is queued */
		grant((uint32_t)st.len);
		close_stdin();
		return;
	}
	memmove(st.buf, st.buf + n, st.len - (size_t)n);
	st.len -= (size_t)n;
	grant((uint32_t)n);
	if (st.len == 0 && st.stdin_eof)
		close_stdin();
}

/*
 * The ACPI power button (QEMU's system_powerdown) as an evdev device: the first
 * /dev/input/event* that can report KEY_POWER. -1 when the kernel has none.
 */
static int open_power_button(void)
{
	for (int i = 0; i < 32; i++) {
		char path[32];
		unsigned long keys[KEY_MAX / (8 * sizeof(long)) + 1] = { 0 };
		const size_t bits = 8 * sizeof(long);
		int fd;

		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				break;
			continue;
		}
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) >= 0 &&
		    (keys[KEY_POWER / bits] >> (KEY_POWER % bits)) & 1)
			return fd;
		close(fd);
	}
	return -1;
}

/* A press of the power button asks for shutdown: the process gets the stop signal. */
static void power_button_event(void)
{
	struct input_event ev;

	while (read(st.power_button, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
		if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1 &&
		    st.child_running) {
			init_log(VXN_LOG_INFO, "power button: sending signal %d", st.stop_signal);
			kill(st.child, st.stop_signal);
		}
}

static void reap(int *status, bool *done)
{
	int s;
	pid_t p;

	while ((p = waitpid(-1, &s, WNOHANG)) > 0) {
		if (p == st.child) {
			*status = s;
			*done = true;
			st.child_running = false;
			kill(-1, SIGKILL); /* everything else in the guest */
		}
	}
}

/* Run the process to its end; returns its wait status. */
static int supervise(vxn_frame_decoder *dec, struct spawn *sp, int sfd)
{
	int status = 0;
	bool done = false;
	int64_t deadline = -1;

	if (st.fd >= 0)
		grant(STDIN_WINDOW);
	while (!done || sp->out >= 0 || sp->err >= 0) {
		struct pollfd pfd[6];
		int np = 0, ic, is = -1, io = -1, ie = -1, iw = -1, ip = -1, timeout = -1;

		pfd[np] = (struct pollfd){ .fd = con, .events = POLLIN };
		ic = np++;
		pfd[np] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		is = np++;
		if (st.power_button >= 0) {
			pfd[np] = (struct pollfd){ .fd = st.power_button, .events = POLLIN };
			ip = np++;
		}
		if (sp->out >= 0) {
			pfd[np] = (struct pollfd){ .fd = sp->out, .events = POLLIN };
			io = np++;
		}
		if (sp->err >= 0) {
			pfd[np] = (struct pollfd){ .fd = sp->err, .events = POLLIN };
			ie = np++;
		}
		if (st.fd >= 0 && st.len > 0 && !st.is_pty) {
			pfd[np] = (struct pollfd){ .fd = st.fd, .events = POLLOUT };
			iw = np++;
		}
		if (st.fd >= 0 && st.len > 0 && st.is_pty)
			timeout = 10; /* the master is also our output fd: retry shortly */
		if (done) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				break;
			timeout = timeout < 0 || left < timeout ? (int)left : timeout;
		}
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[is].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo != SIGCHLD && st.child_running)
					kill(st.child, st.stop_signal);
			}
			reap(&status, &done);
			if (done && deadline < 0)
				deadline = now_ms() + DRAIN_DEADLINE_MS;
		}
		if (pfd[ic].revents & (POLLIN | POLLHUP))
			pump_console(dec);
		if (ip >= 0 && (pfd[ip].revents & POLLIN))
			power_button_event();
		if (io >= 0 && (pfd[io].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    forward(sp->out, VXN_FRAME_STDOUT) < 0) {
			if (sp->out != st.pty)
				close(sp->out);
			sp->out = -1;
		}
		if (ie >= 0 && (pfd[ie].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    forward(sp->err, VXN_FRAME_STDERR) < 0) {
			close(sp->err);
			sp->err = -1;
		}
		if (st.fd >= 0 && st.len > 0 &&
		    (st.is_pty || (iw >= 0 && (pfd[iw].revents & (POLLOUT | POLLERR)))))
			feed_stdin();
		if (st.fd >= 0 && st.stdin_eof && st.len == 0)
			close_stdin();
	}
	if (!done) {
		/* output ended early or the drain deadline passed: wait for it */
		kill(-1, SIGKILL);
		while (!done) {
			int s;
			pid_t p = waitpid(-1, &s, 0);

			if (p < 0)
				break;
			if (p == st.child) {
				status = s;
				done = true;
			}
		}
	}
	if (sp->out >= 0)
		close(sp->out);
	if (sp->err >= 0)
		close(sp->err);
	if (st.pty >= 0 && st.pty != sp->out)
		close(st.pty);
	close_stdin();
	return status;
}

/* Repeat the final frame (already in @frame) until EXIT_ACK, then return. */
static void finish(vxn_frame_decoder *dec, const uint8_t *frame, size_t n)
{
	for (int i = 0; i < EXIT_TRIES && !st.acked; i++) {
		int64_t end = now_ms() + EXIT_INTERVAL_MS;

		send_bytes(frame, n);
		while (!st.acked) {
			struct pollfd pfd = { .fd = con, .events = POLLIN };
			int64_t left = end - now_ms();

			if (left <= 0)
				break;
			if (poll(&pfd, 1, (int)left) > 0 && pump_console(dec) < 0)
				return;
		}
	}
}

static _Noreturn void power_off(void)
{
	kill(-1, SIGKILL);
	sync();
	reboot(RB_POWER_OFF);
	_exit(0);
}

int main(void)
{
	static uint8_t final[VXN_FRAME_SIZE(1024)];
	struct init_error e = { 0 };
	struct launch l = { 0 };
	struct identity id = { 0 };
	struct spawn sp = { -1, -1, -1 };
	vxn_frame_decoder *dec = NULL;
	char *cmdline = NULL, *text = NULL, *proto, *dbg;
	sigset_t mask;
	int sfd, n, r;
	size_t len;

	init_start_ms = boottime_ms();
	early_mounts();
	if (read_file("/proc/cmdline", 65536, &cmdline, &len) < 0)
		die_plain("read /proc/cmdline: %s", strerror(errno));
	/* the host's accelerator probe (doc/backend-contract.md): booting is the test */
	proto = cmdline_value(cmdline, "vxn.probe");
	if (proto && strcmp(proto, "1") == 0) {
		sync();
		reboot(RB_POWER_OFF);
		_exit(0);
	}
	free(proto);
	proto = cmdline_value(cmdline, "vxn.proto");
	if (!proto || strcmp(proto, "1") != 0)
		die_plain("unsupported protocol version \"vxn.proto=%s\" (this vxn-init speaks 1)",
			  proto ? proto : "");
	dbg = cmdline_value(cmdline, "vxn.debug");
	debug = dbg && strcmp(dbg, "1") == 0;
	free(proto);
	free(dbg);
	free(cmdline);

	reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del becomes SIGINT to us */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPWR);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die_plain("signalfd: %s", strerror(errno));

	r = read_file(LAUNCH_PATH, LAUNCH_MAX, &text, &len);
	if (r < 0)
		init_fail(&e, VXN_BOOT_STAGE_LAUNCH, -r, "read %s: %s", LAUNCH_PATH, strerror(-r));
	unlink(LAUNCH_PATH);

	open_console();
	st.power_button = open_power_button();
	if (vxn_frame_decoder_new(&dec, on_frame, on_foreign, NULL) < 0)
		die_plain("out of memory");
	handshake(dec);
	klogctl(8, NULL, 1); /* SYSLOG_ACTION_CONSOLE_LEVEL: only KERN_EMERG on hvc0 now */
	init_log(VXN_LOG_DEBUG, "START received");

	if (e.stage == 0 && launch_parse(&l, text, &e) == 0) {
		st.stop_signal = l.stop_signal;
		if (setup_root(&l, "/vxn/rootfs", &e) == 0 && setup_loopback(&e) == 0 &&
		    setup_identity(&l, &id, &e) == 0 && setup_cwd(&l, &e) == 0)
			(void)spawn(&l, &id, &sp, &e);
	}
	if (text) {
		/* the record holds the environment: do not keep it around */
		memset(text, 0, len);
		free(text);
	}
	if (st.child_running) {
		int status = supervise(dec, &sp, sfd);

		if (WIFSIGNALED(status))
			n = vxn_frame_encode_exit(final, sizeof(final), VXN_STREAM_MAIN, tx_seq++,
						  0, WTERMSIG(status),
						  WCOREDUMP(status) ? VXN_EXIT_CORE_DUMPED : 0);
		else
			n = vxn_frame_encode_exit(final, sizeof(final), VXN_STREAM_MAIN, tx_seq++,
						  WEXITSTATUS(status), 0, 0);
	} else {
		if (e.stage == 0)
			init_fail(&e, VXN_BOOT_STAGE_INIT, 0, "the process did not start");
		n = vxn_frame_encode_error(final, sizeof(final), VXN_STREAM_MAIN, tx_seq++, e.stage,
					   e.errnum, e.message);
	}
	if (n > 0)
		finish(dec, final, (size_t)n);
	vxn_frame_decoder_free(dec);
	power_off();
}
