/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container setup in the guest: root, mounts, names, identity, working directory. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"
#include "shared/util.h"

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t len = strlen(data);

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			close(fd);
			return r;
		}
		data += n;
		len -= (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

struct std_mount {
	const char *target, *type, *source;
	unsigned long flags;
	const char *data;
	bool optional;
};

/* What every container gets, as Docker's defaults (/sys read-only there too). */
static const struct std_mount std_mounts[] = {
	{ "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false },
	{ "/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL, false },
	{ "/sys/fs/cgroup", "cgroup2", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
	  NULL, true },
	{ "/dev", "devtmpfs", "devtmpfs", MS_NOSUID, "mode=0755", false },
	{ "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "newinstance,ptmxmode=0666,mode=0620", false },
	{ "/dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
	  false },
	{ "/dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
};

static int do_std_mounts(struct init_error *e)
{
	for (size_t i = 0; i < sizeof(std_mounts) / sizeof(std_mounts[0]); i++) {
		const struct std_mount *m = &std_mounts[i];
		int r = mkdir_p(m->target, 0755);
		/* /sys is read-only: the cgroup mount point exists there or not at all */
		if (r < 0 && !(m->optional && r == -EROFS))
			return init_fail(e, VXN_BOOT_STAGE_ROOTFS, -r, "mkdir %s: %s", m->target,
					 strerror(-r));
		if (r < 0)
			continue;
		if (mount(m->source, m->target, m->type, m->flags, m->data) < 0 && !m->optional)
			return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "mount %s on %s: %s",
					 m->type, m->target, strerror(errno));
	}
	/* the devpts instance's ptmx, as runc and Docker link it */
	unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "symlink /dev/ptmx: %s",
				 strerror(errno));
	/* the process's standard links, when devtmpfs did not create them */
	const char *links[][2] = { { "/proc/self/fd", "/dev/fd" },
				   { "/proc/self/fd/0", "/dev/stdin" },
				   { "/proc/self/fd/1", "/dev/stdout" },
				   { "/proc/self/fd/2", "/dev/stderr" } };
	for (size_t i = 0; i < 4; i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "symlink %s: %s",
					 links[i][1], strerror(errno));
	return 0;
}

static int do_mount(const struct mount_req *m, struct init_error *e)
{
	struct stat st;
	bool file = m->bind && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode);
	int r;

	if (lstat(m->destination, &st) < 0) {
		if (file) {
			char *slash = strrchr(m->destination, '/');
			if (slash != m->destination) {
				*slash = '\0';
				r = mkdir_p(m->destination, 0755);
				*slash = '/';
				if (r < 0)
					return init_fail(e, VXN_BOOT_STAGE_MOUNT, -r,
							 "mount on %s: creating it: %s",
							 m->destination, strerror(-r));
			}
			r = write_file(m->destination, "", 0644);
		} else {
			r = mkdir_p(m->destination, 0755);
		}
		if (r < 0)
			return init_fail(e, VXN_BOOT_STAGE_MOUNT, -r,
					 "mount on %s: creating it: %s", m->destination,
					 strerror(-r));
	}
	unsigned long flags = m->flags & ~(unsigned long)(m->bind ? MS_RDONLY : 0);
	if (m->bind)
		flags |= MS_BIND;
	if (mount(m->bind ? m->source : (m->source ? m->source : m->type), m->destination,
		  m->bind ? NULL : m->type, flags, m->bind ? NULL : m->data) < 0)
		return init_fail(e, VXN_BOOT_STAGE_MOUNT, errno, "mount %s (%s) on %s: %s",
				 m->source ? m->source : "-", m->type, m->destination,
				 strerror(errno));
	/* a read-only bind mount takes a remount, as runc does it */
	if (m->bind && (m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) &&
	    mount(NULL, m->destination, NULL,
		  MS_REMOUNT | MS_BIND |
		      (m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)),
		  NULL) < 0)
		return init_fail(e, VXN_BOOT_STAGE_MOUNT, errno, "remount %s read-only: %s",
				 m->destination, strerror(errno));
	if (m->propagation && mount(NULL, m->destination, NULL, m->propagation, NULL) < 0)
		return init_fail(e, VXN_BOOT_STAGE_MOUNT, errno, "propagation of %s: %s",
				 m->destination, strerror(errno));
	return 0;
}

static int write_etc(const struct launch *l, struct init_error *e)
{
	char buf[8192];
	size_t n = 0;
	const char *host = l->hostname ? l->hostname : "localhost";
	struct stat st;

	if (stat("/etc", &st) < 0 && mkdir("/etc", 0755) < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "mkdir /etc: %s",
				 strerror(errno));
	snprintf(buf, sizeof(buf), "%s\n", host);
	int r = write_file("/etc/hostname", buf, 0644);
	n = (size_t)snprintf(buf, sizeof(buf),
			     "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
			     "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
	/* no network yet: the own name resolves to the loopback, as Debian does */
	if (strcmp(host, "localhost") != 0 && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "127.0.1.1\t%s\n", host);
	for (size_t i = 0; i < l->n_hosts && n < sizeof(buf); i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", l->hosts[i].ip);
		for (char **nm = l->hosts[i].names; nm && *nm && n < sizeof(buf); nm++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\t%s", *nm);
		if (n < sizeof(buf))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n");
	}
	if (r == 0)
		r = write_file("/etc/hosts", buf, 0644);
	if (r == 0 && l->has_dns) {
		n = 0;
		buf[0] = '\0';
		for (char **s = l->dns_servers; s && *s && n < sizeof(buf); s++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "nameserver %s\n", *s);
		if (l->dns_search && l->dns_search[0] && n < sizeof(buf)) {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "search");
			for (char **s = l->dns_search; *s && n < sizeof(buf); s++)
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", *s);
			if (n < sizeof(buf))
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n");
		}
		if (l->dns_options && l->dns_options[0] && n < sizeof(buf)) {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "options");
			for (char **s = l->dns_options; *s && n < sizeof(buf); s++)
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", *s);
			if (n < sizeof(buf))
				snprintf(buf + n, sizeof(buf) - n, "\n");
		}
		r = write_file("/etc/resolv.conf", buf, 0644);
	}
	if (r < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, -r, "writing /etc files: %s",
				 strerror(-r));
	return 0;
}

int setup_root(const struct launch *l, const char *newroot, struct init_error *e)
{
	if (!l->root_initramfs)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, ENOTSUP,
				 "root.source: only \"initramfs\" is supported by this vxn-init");
	if (l->has_interfaces)
		return init_fail(e, VXN_BOOT_STAGE_NETWORK, ENOTSUP,
				 "network.interfaces: not supported by this vxn-init");
	/* The image's tree becomes a mount of its own, moved over / (switch_root's way:
	 * the initramfs cannot be pivot_root'ed away). */
	if (mount(newroot, newroot, NULL, MS_BIND | MS_REC, NULL) < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "bind %s: %s", newroot,
				 strerror(errno));
	if (chdir(newroot) < 0 || mount(newroot, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "switching root to %s: %s",
				 newroot, strerror(errno));
	if (do_std_mounts(e) < 0)
		return -1;
	for (size_t i = 0; i < l->n_mounts; i++)
		if (do_mount(&l->mounts[i], e) < 0)
			return -1;
	for (size_t i = 0; i < l->n_sysctl; i++) {
		char path[512];
		snprintf(path, sizeof(path), "/proc/sys/%s", l->sysctl_keys[i]);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, l->sysctl_values[i], strlen(l->sysctl_values[i])) < 0) {
			int er = errno;
			if (fd >= 0)
				close(fd);
			return init_fail(e, VXN_BOOT_STAGE_ROOTFS, er, "sysctl %s: %s",
					 l->sysctl_keys[i], strerror(er));
		}
		close(fd);
	}
	const char *host = l->hostname ? l->hostname : "localhost";
	if (sethostname(host, strlen(host)) < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "sethostname '%s': %s", host,
				 strerror(errno));
	if (l->domainname && setdomainname(l->domainname, strlen(l->domainname)) < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "setdomainname: %s",
				 strerror(errno));
	if (write_etc(l, e) < 0)
		return -1;
	if (l->root_readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return init_fail(e, VXN_BOOT_STAGE_ROOTFS, errno, "remounting / read-only: %s",
				 strerror(errno));
	return 0;
}

/* Fields of a colon-separated line, in place. */
static size_t split_colon(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = '\0';
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 4294967294UL)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int add_group(struct identity *id, gid_t g)
{
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == g)
			return 0;
	gid_t *n = realloc(id->groups, (id->n_groups + 1) * sizeof(*n));
	if (!n)
		return -1;
	n[id->n_groups++] = g;
	id->groups = n;
	return 0;
}

int setup_identity(const struct launch *l, struct identity *id, struct init_error *e)
{
	char line[4096], *f[8];
	char name[256] = "";
	bool found = false;
	FILE *fp;

	memset(id, 0, sizeof(*id));
	id->uid = l->has_uid ? l->uid : 0;
	id->gid = l->has_gid ? l->gid : 0;
	/* the passwd entry: by name, or by uid (for HOME and the groups, as runc does) */
	fp = fopen("/etc/passwd", "re");
	while (fp && fgets(line, sizeof(line), fp)) {
		uint32_t uid, gid;
		if (line[0] == '#' || split_colon(line, f, 8) < 7 || !parse_id(f[2], &uid) ||
		    !parse_id(f[3], &gid))
			continue;
		if (l->user_name ? strcmp(f[0], l->user_name) == 0 : uid == id->uid) {
			found = true;
			snprintf(name, sizeof(name), "%s", f[0]);
			id->uid = uid;
			if (!l->has_gid)
				id->gid = gid;
			id->home = strdup(f[5]);
			break;
		}
	}
	if (fp)
		fclose(fp);
	if (l->user_name && !found)
		return init_fail(e, VXN_BOOT_STAGE_USER, ENOENT,
				 "unable to find user %s: no matching entries in passwd file",
				 l->user_name);
	/* explicit group (name or gid): that group alone, as runc; implicit: the
	 * primary group, then every group that lists the user */
	bool implicit = !l->group_name && !(l->has_gid && (l->user_name || l->has_uid));
	bool group_found = !l->group_name;
	fp = fopen("/etc/group", "re");
	while (fp && fgets(line, sizeof(line), fp)) {
		uint32_t gid;
		if (line[0] == '#' || split_colon(line, f, 8) < 4 || !parse_id(f[2], &gid))
			continue;
		if (l->group_name && strcmp(f[0], l->group_name) == 0) {
			id->gid = gid;
			group_found = true;
		}
		if (!found || !implicit)
			continue;
		for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
			if (strcmp(m, name) == 0 && add_group(id, gid) < 0)
				return init_fail(e, VXN_BOOT_STAGE_USER, ENOMEM, "out of memory");
	}
	if (fp)
		fclose(fp);
	if (!group_found)
		return init_fail(e, VXN_BOOT_STAGE_USER, ENOENT,
				 "unable to find group %s: no matching entries in group file",
				 l->group_name);
	/* the primary group leads the list */
	gid_t *all = calloc(id->n_groups + 1, sizeof(*all));
	if (!all)
		return init_fail(e, VXN_BOOT_STAGE_USER, ENOMEM, "out of memory");
	all[0] = id->gid;
	size_t n = 1;
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] != id->gid)
			all[n++] = id->groups[i];
	free(id->groups);
	id->groups = all;
	id->n_groups = n;
	for (size_t i = 0; i < l->n_additional_gids; i++)
		if (add_group(id, l->additional_gids[i]) < 0)
			return init_fail(e, VXN_BOOT_STAGE_USER, ENOMEM, "out of memory");
	return 0;
}

int setup_cwd(const struct launch *l, struct init_error *e)
{
	const char *cwd = l->cwd ? l->cwd : "/";
	struct stat st;

	if (stat(cwd, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return init_fail(e, VXN_BOOT_STAGE_CWD, ENOTDIR,
					 "working directory %s: not a directory", cwd);
		return 0;
	}
	int r = mkdir_p(cwd, 0755);
	if (r < 0)
		return init_fail(e, VXN_BOOT_STAGE_CWD, -r, "working directory %s: %s", cwd,
				 strerror(-r));
	return 0;
}

int setup_loopback(struct init_error *e)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return init_fail(e, VXN_BOOT_STAGE_NETWORK, errno, "socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		int er = errno;
		close(fd);
		return init_fail(e, VXN_BOOT_STAGE_NETWORK, er, "bringing up lo: %s", strerror(er));
	}
	close(fd);
	return 0;
}
