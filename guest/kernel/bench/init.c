/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tiny static /init for the guest-kernel boot bench (boot-bench.py).
 *
 * Prints "VXN-BENCH init uptime=<s> kernel=<release>" as soon as it runs, then, if the
 * kernel command line asks for it:
 *   vxn_bench=1  a syscall loop (getppid) and a fork+exit+wait loop, timed in the guest
 *   vxn_vuln=1   the kernel's view of CPU vulnerabilities and their mitigations
 * and powers the VM off. Not part of vxn: only for measuring kernels.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int cmdline_has(const char *cmdline, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = cmdline; (p = strstr(p, word)); p += len)
		if ((p == cmdline || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
			return 1;
	return 0;
}

static void bench_syscalls(void)
{
	const int syscalls = 200000, forks = 300;
	double t0, t_sys, t_fork;

	t0 = now_s();
	for (int i = 0; i < syscalls; i++)
		(void)getppid();
	t_sys = now_s() - t0;

	t0 = now_s();
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			(void)waitpid(pid, NULL, 0);
	}
	t_fork = now_s() - t0;

	printf("VXN-BENCH micro syscall_ns=%.0f fork_us=%.0f\n", t_sys / syscalls * 1e9,
	       t_fork / forks * 1e6);
}

static void print_vulnerabilities(void)
{
	const char *dir = "/sys/devices/system/cpu/vulnerabilities";
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		printf("VXN-BENCH vuln (no %s)\n", dir);
		return;
	}
	while ((de = readdir(d))) {
		char path[512], text[256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		read_small(path, text, sizeof(text));
		printf("VXN-BENCH vuln %s: %s\n", de->d_name, text);
	}
	closedir(d);
}

int main(void)
{
	char uptime[64], cmdline[1024];
	struct utsname u;

	(void)mount("proc", "/proc", "proc", 0, NULL);
	read_small("/proc/uptime", uptime, sizeof(uptime));
	uptime[strcspn(uptime, " ")] = '\0';
	if (uname(&u) < 0)
		strcpy(u.release, "?");
	printf("VXN-BENCH init uptime=%s kernel=%s\n", uptime, u.release);
	fflush(stdout);

	read_small("/proc/cmdline", cmdline, sizeof(cmdline));
	if (cmdline_has(cmdline, "vxn_bench=1"))
		bench_syscalls();
	if (cmdline_has(cmdline, "vxn_vuln=1")) {
		(void)mount("sysfs", "/sys", "sysfs", 0, NULL);
		print_vulnerabilities();
	}
	printf("VXN-BENCH done\n");
	fflush(stdout);
	reboot(RB_POWER_OFF);
	return 1;
}
