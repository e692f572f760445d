/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vxn-init: PID 1 of every vxn guest (doc/vxn-init.md, doc/guest-protocol.md).
 * Internal interfaces between its files; nothing here is a library API.
 */
#ifndef VXN_INIT_H
#define VXN_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vxn/boot.h>

#define INIT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct rlimit_req {
	int resource;
	int64_t soft, hard;
};

struct mount_req {
	char *destination, *type, *source;
	unsigned long flags;	   /* MS_* from options */
	unsigned long propagation; /* MS_PRIVATE, MS_SHARED, ... or 0 */
	bool bind, readonly;
	char *data; /* the other options, comma-separated, or NULL */
};

struct host_entry {
	char *ip;
	char **names;
};

/* The launch record, parsed and checked (guest/init/launch.c). */
struct launch {
	char *id;
	char **args, **env; /* NULL-terminated */
	char *cwd;
	bool has_uid, has_gid;
	uint32_t uid, gid;
	char *user_name, *group_name;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	bool terminal, open_stdin, no_new_privs;
	int umask;
	struct rlimit_req *rlimits;
	size_t n_rlimits;
	char *hostname, *domainname;
	bool root_initramfs, root_readonly;
	struct mount_req *mounts;
	size_t n_mounts;
	char **sysctl_keys, **sysctl_values;
	size_t n_sysctl;
	struct host_entry *hosts;
	size_t n_hosts;
	char **dns_servers, **dns_search, **dns_options;
	bool has_dns;
	bool has_interfaces;
	unsigned rows, cols;
	int stop_signal;
};

/* A setup failure: the stage, errno and a message for the ERROR frame. */
struct init_error {
	vxn_boot_stage stage;
	int errnum;
	char message[512];
};

int init_fail(struct init_error *e, vxn_boot_stage stage, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse @text (NUL-terminated) into @l. -1 with @e (stage LAUNCH) on a bad record. */
int launch_parse(struct launch *l, const char *text, struct init_error *e);

/* The resolved identity of the process. */
struct identity {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	char *home; /* from passwd, or NULL */
};

/*
 * Build the container's root under @newroot, move it to / and chroot there;
 * then the standard mounts, the record's mounts, sysctls, hostname and the
 * /etc files, and finally the read-only remount. 0, or -1 with @e.
 */
int setup_root(const struct launch *l, const char *newroot, struct init_error *e);
/* Resolve the user against /etc/passwd and /etc/group of the current root. */
int setup_identity(const struct launch *l, struct identity *id, struct init_error *e);
/* Create the working directory if missing (as root, 0755). */
int setup_cwd(const struct launch *l, struct init_error *e);
/* Bring up the loopback interface. */
int setup_loopback(struct init_error *e);

/* Send a LOG frame when vxn.debug=1 (or always at @level >= VXN_LOG_WARNING). */
void init_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
