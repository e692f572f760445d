/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The launch record (doc/guest-protocol.md section 5): parse and check. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "init.h"
#include "shared/json.h"

int init_fail(struct init_error *e, vxn_boot_stage stage, int errnum, const char *fmt, ...)
{
	va_list ap;

	e->stage = stage;
	e->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

#define BAD(...) init_fail(e, VXN_BOOT_STAGE_LAUNCH, EINVAL, __VA_ARGS__)

/* A string member: absent is fine (*out stays NULL); wrong type or a NUL is not. */
static int get_str(const json *obj, const char *key, const char *where, char **out,
		   struct init_error *e)
{
	const json *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is(v, JSON_STRING))
		return BAD("%s%s: must be a string", where, key);
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return BAD("%s%s: contains a NUL character", where, key);
	*out = strdup(s);
	return *out ? 0 : init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
}

static int get_bool(const json *obj, const char *key, const char *where, bool *out,
		    struct init_error *e)
{
	const json *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is(v, JSON_BOOL))
		return BAD("%s%s: must be true or false", where, key);
	*out = json_bool_value(v, false);
	return 0;
}

static int get_int(const json *obj, const char *key, const char *where, int64_t min, int64_t max,
		   bool *present, int64_t *out, struct init_error *e)
{
	const json *v = json_object_get(obj, key);

	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is(v, JSON_INT))
		return BAD("%s%s: must be an integer", where, key);
	int64_t i = json_int_value(v, 0);
	if (i < min || i > max)
		return BAD("%s%s: %lld is out of range (%lld to %lld)", where, key, (long long)i,
			   (long long)min, (long long)max);
	*out = i;
	return 0;
}

/* An array of strings into a NULL-terminated vector (absent: an empty one). */
static int get_strv(const json *obj, const char *key, const char *where, char ***out,
		    struct init_error *e)
{
	const json *v = json_object_get(obj, key);
	size_t n = v ? json_array_length(v) : 0;

	if (v && !json_is(v, JSON_ARRAY))
		return BAD("%s%s: must be an array of strings", where, key);
	char **r = calloc(n + 1, sizeof(*r));
	if (!r)
		return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
	*out = r;
	for (size_t i = 0; i < n; i++) {
		const json *s = json_array_get(v, i);
		if (!json_is(s, JSON_STRING))
			return BAD("%s%s[%zu]: must be a string", where, key, i);
		if (strlen(json_string_value(s)) != json_string_length(s))
			return BAD("%s%s[%zu]: contains a NUL character", where, key, i);
		if (!(r[i] = strdup(json_string_value(s))))
			return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(struct launch *l, const json *proc, struct init_error *e)
{
	const json *v = json_object_get(proc, "rlimits");

	if (!v)
		return 0;
	if (!json_is(v, JSON_ARRAY))
		return BAD("process.rlimits: must be an array");
	l->n_rlimits = json_array_length(v);
	l->rlimits = calloc(l->n_rlimits + 1, sizeof(*l->rlimits));
	if (!l->rlimits)
		return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n_rlimits; i++) {
		const json *r = json_array_get(v, i);
		char where[64];
		snprintf(where, sizeof(where), "process.rlimits[%zu].", i);
		if (!json_is(r, JSON_OBJECT))
			return BAD("process.rlimits[%zu]: must be an object", i);
		const char *type = json_object_get_string(r, "type");
		if (!type)
			return BAD("%stype: required, a string", where);
		size_t k;
		for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (strcmp(rlimit_names[k].name, type) == 0)
				break;
		if (k == sizeof(rlimit_names) / sizeof(rlimit_names[0]))
			return BAD("%stype: unknown resource '%s'", where, type);
		bool ps, ph;
		int64_t soft = 0, hard = 0;
		if (get_int(r, "soft", where, -1, INT64_MAX, &ps, &soft, e) < 0 ||
		    get_int(r, "hard", where, -1, INT64_MAX, &ph, &hard, e) < 0)
			return -1;
		if (!ps || !ph)
			return BAD("%ssoft and hard: both required", where);
		uint64_t us = soft < 0 ? UINT64_MAX : (uint64_t)soft;
		uint64_t uh = hard < 0 ? UINT64_MAX : (uint64_t)hard;
		if (us > uh)
			return BAD("%ssoft: %lld is above hard %lld", where, (long long)soft,
				   (long long)hard);
		l->rlimits[i] = (struct rlimit_req){ rlimit_names[k].resource, soft, hard };
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned long set, clear, propagation;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0, 0 },
	{ "rw", 0, MS_RDONLY, 0 },
	{ "nosuid", MS_NOSUID, 0, 0 },
	{ "suid", 0, MS_NOSUID, 0 },
	{ "nodev", MS_NODEV, 0, 0 },
	{ "dev", 0, MS_NODEV, 0 },
	{ "noexec", MS_NOEXEC, 0, 0 },
	{ "exec", 0, MS_NOEXEC, 0 },
	{ "sync", MS_SYNCHRONOUS, 0, 0 },
	{ "async", 0, MS_SYNCHRONOUS, 0 },
	{ "dirsync", MS_DIRSYNC, 0, 0 },
	{ "noatime", MS_NOATIME, 0, 0 },
	{ "nodiratime", MS_NODIRATIME, 0, 0 },
	{ "relatime", MS_RELATIME, 0, 0 },
	{ "norelatime", 0, MS_RELATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0, 0 },
	{ "bind", MS_BIND, 0, 0 },
	{ "rbind", MS_BIND | MS_REC, 0, 0 },
	{ "private", 0, 0, MS_PRIVATE },
	{ "rprivate", 0, 0, MS_PRIVATE | MS_REC },
	{ "shared", 0, 0, MS_SHARED },
	{ "rshared", 0, 0, MS_SHARED | MS_REC },
	{ "slave", 0, 0, MS_SLAVE },
	{ "rslave", 0, 0, MS_SLAVE | MS_REC },
	{ "unbindable", 0, 0, MS_UNBINDABLE },
	{ "runbindable", 0, 0, MS_UNBINDABLE | MS_REC },
};

static int append_data(char **data, const char *opt)
{
	size_t old = *data ? strlen(*data) : 0;
	char *n = realloc(*data, old + strlen(opt) + 2);

	if (!n)
		return -1;
	if (old)
		n[old++] = ',';
	strcpy(n + old, opt);
	*data = n;
	return 0;
}

static int parse_mounts(struct launch *l, const json *root, struct init_error *e)
{
	const json *v = json_object_get(root, "mounts");

	if (!v)
		return 0;
	if (!json_is(v, JSON_ARRAY))
		return BAD("mounts: must be an array");
	l->n_mounts = json_array_length(v);
	l->mounts = calloc(l->n_mounts + 1, sizeof(*l->mounts));
	if (!l->mounts)
		return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n_mounts; i++) {
		const json *m = json_array_get(v, i);
		struct mount_req *mr = &l->mounts[i];
		char where[48];
		snprintf(where, sizeof(where), "mounts[%zu].", i);
		if (!json_is(m, JSON_OBJECT))
			return BAD("mounts[%zu]: must be an object", i);
		char **opts = NULL;
		if (get_str(m, "destination", where, &mr->destination, e) < 0 ||
		    get_str(m, "type", where, &mr->type, e) < 0 ||
		    get_str(m, "source", where, &mr->source, e) < 0 ||
		    get_strv(m, "options", where, &opts, e) < 0) {
			if (opts)
				for (char **o = opts; *o; o++)
					free(*o);
			free(opts);
			return -1;
		}
		int r = 0;
		if (!mr->destination || mr->destination[0] != '/')
			r = BAD("%sdestination: required, an absolute path", where);
		else if (!mr->type)
			r = BAD("%stype: required", where);
		mr->bind = mr->type && strcmp(mr->type, "bind") == 0;
		for (char **o = opts; r == 0 && *o; o++) {
			size_t k;
			for (k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
				if (strcmp(mount_flags[k].name, *o) == 0)
					break;
			if (k < sizeof(mount_flags) / sizeof(mount_flags[0])) {
				mr->flags =
				    (mr->flags | mount_flags[k].set) & ~mount_flags[k].clear;
				mr->propagation |= mount_flags[k].propagation;
			} else if (append_data(&mr->data, *o) < 0) {
				r = init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
			}
		}
		for (char **o = opts; *o; o++)
			free(*o);
		free(opts);
		if (r < 0)
			return r;
		if (mr->flags & MS_BIND)
			mr->bind = true;
		mr->readonly = mr->flags & MS_RDONLY;
		if (mr->bind && (!mr->source || mr->source[0] != '/'))
			return BAD("%ssource: a bind mount needs an absolute path", where);
	}
	return 0;
}

static int parse_user(struct launch *l, const json *proc, struct init_error *e)
{
	const json *u = json_object_get(proc, "user");
	int64_t i = 0;

	if (!u)
		return 0;
	if (!json_is(u, JSON_OBJECT))
		return BAD("process.user: must be an object");
	if (get_int(u, "uid", "process.user.", 0, 4294967294LL, &l->has_uid, &i, e) < 0)
		return -1;
	l->uid = (uint32_t)i;
	if (get_int(u, "gid", "process.user.", 0, 4294967294LL, &l->has_gid, &i, e) < 0)
		return -1;
	l->gid = (uint32_t)i;
	if (get_str(u, "name", "process.user.", &l->user_name, e) < 0 ||
	    get_str(u, "group", "process.user.", &l->group_name, e) < 0)
		return -1;
	if (l->user_name && l->has_uid)
		return BAD("process.user: name and uid are exclusive");
	const json *ag = json_object_get(u, "additionalGids");
	if (ag) {
		if (!json_is(ag, JSON_ARRAY))
			return BAD("process.user.additionalGids: must be an array of integers");
		l->n_additional_gids = json_array_length(ag);
		l->additional_gids = calloc(l->n_additional_gids + 1, sizeof(uint32_t));
		if (!l->additional_gids)
			return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
		for (size_t k = 0; k < l->n_additional_gids; k++) {
			const json *g = json_array_get(ag, k);
			int64_t gv = json_int_value(g, -1);
			if (!json_is(g, JSON_INT) || gv < 0 || gv > 4294967294LL)
				return BAD("process.user.additionalGids[%zu]: must be a gid", k);
			l->additional_gids[k] = (uint32_t)gv;
		}
	}
	return 0;
}

static int parse_network(struct launch *l, const json *root, struct init_error *e)
{
	const json *n = json_object_get(root, "network");

	if (!n)
		return 0;
	if (!json_is(n, JSON_OBJECT))
		return BAD("network: must be an object");
	const json *ifs = json_object_get(n, "interfaces");
	l->has_interfaces = ifs && json_array_length(ifs) > 0;
	const json *dns = json_object_get(n, "dns");
	if (dns) {
		if (!json_is(dns, JSON_OBJECT))
			return BAD("network.dns: must be an object");
		l->has_dns = true;
		if (get_strv(dns, "nameservers", "network.dns.", &l->dns_servers, e) < 0 ||
		    get_strv(dns, "search", "network.dns.", &l->dns_search, e) < 0 ||
		    get_strv(dns, "options", "network.dns.", &l->dns_options, e) < 0)
			return -1;
	}
	const json *hosts = json_object_get(n, "hosts");
	if (hosts) {
		if (!json_is(hosts, JSON_ARRAY))
			return BAD("network.hosts: must be an array");
		l->n_hosts = json_array_length(hosts);
		l->hosts = calloc(l->n_hosts + 1, sizeof(*l->hosts));
		if (!l->hosts)
			return init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
		for (size_t i = 0; i < l->n_hosts; i++) {
			const json *h = json_array_get(hosts, i);
			char where[48];
			snprintf(where, sizeof(where), "network.hosts[%zu].", i);
			if (!json_is(h, JSON_OBJECT))
				return BAD("network.hosts[%zu]: must be an object", i);
			if (get_str(h, "ip", where, &l->hosts[i].ip, e) < 0 ||
			    get_strv(h, "names", where, &l->hosts[i].names, e) < 0)
				return -1;
			if (!l->hosts[i].ip)
				return BAD("%sip: required", where);
		}
	}
	return 0;
}

int launch_parse(struct launch *l, const char *text, struct init_error *e)
{
	json *root = NULL;
	const json *con, *proc, *rt, *sc;
	char *msg = NULL;
	int64_t i;
	bool present;
	int r = -1;

	memset(l, 0, sizeof(*l));
	l->umask = 022;
	l->rows = 24;
	l->cols = 80;
	l->stop_signal = SIGTERM;
	l->root_initramfs = true;
	if (json_parse(text, strlen(text), &root, &msg) < 0) {
		r = BAD("not valid JSON: %s", msg ? msg : "parse error");
		free(msg);
		return r;
	}
	if (!json_is(root, JSON_OBJECT)) {
		BAD("must be a JSON object");
		goto out;
	}
	if (get_int(root, "version", "", 0, INT64_MAX, &present, &i, e) < 0)
		goto out;
	if (!present || i != 1) {
		BAD("version: %s (this vxn-init reads version 1)",
		    present ? "unsupported" : "missing");
		goto out;
	}
	proc = json_object_get(root, "process");
	if (!proc || !json_is(proc, JSON_OBJECT)) {
		BAD("process: required, an object");
		goto out;
	}
	if (get_str(root, "id", "", &l->id, e) < 0 ||
	    get_strv(proc, "args", "process.", &l->args, e) < 0 ||
	    get_strv(proc, "env", "process.", &l->env, e) < 0 ||
	    get_str(proc, "cwd", "process.", &l->cwd, e) < 0 ||
	    get_bool(proc, "terminal", "process.", &l->terminal, e) < 0 ||
	    get_bool(proc, "stdin", "process.", &l->open_stdin, e) < 0 ||
	    get_bool(proc, "noNewPrivileges", "process.", &l->no_new_privs, e) < 0 ||
	    parse_user(l, proc, e) < 0 || parse_rlimits(l, proc, e) < 0)
		goto out;
	if (!l->args[0]) {
		BAD("process.args: required, a non-empty array of strings");
		goto out;
	}
	for (char **v = l->env; *v; v++)
		if (!strchr(*v, '=')) {
			BAD("process.env: entry '%s' has no '='", *v);
			goto out;
		}
	if (l->cwd && l->cwd[0] != '/') {
		BAD("process.cwd: '%s' is not an absolute path", l->cwd);
		goto out;
	}
	if (!l->cwd && !(l->cwd = strdup("/"))) { /* the documented default */
		BAD("out of memory");
		goto out;
	}
	i = 022;
	if (get_int(proc, "umask", "process.", 0, 0777, NULL, &i, e) < 0)
		goto out;
	l->umask = (int)i;
	if (get_str(root, "hostname", "", &l->hostname, e) < 0 ||
	    get_str(root, "domainname", "", &l->domainname, e) < 0)
		goto out;
	rt = json_object_get(root, "root");
	if (rt) {
		if (!json_is(rt, JSON_OBJECT)) {
			BAD("root: must be an object");
			goto out;
		}
		const json *src = json_object_get(rt, "source");
		if (src && !(json_is(src, JSON_STRING) &&
			     strcmp(json_string_value(src), "initramfs") == 0))
			l->root_initramfs = false;
		if (get_bool(rt, "readonly", "root.", &l->root_readonly, e) < 0)
			goto out;
	}
	if (parse_mounts(l, root, e) < 0 || parse_network(l, root, e) < 0)
		goto out;
	sc = json_object_get(root, "sysctl");
	if (sc) {
		if (!json_is(sc, JSON_OBJECT)) {
			BAD("sysctl: must be an object");
			goto out;
		}
		l->n_sysctl = json_object_length(sc);
		l->sysctl_keys = calloc(l->n_sysctl + 1, sizeof(char *));
		l->sysctl_values = calloc(l->n_sysctl + 1, sizeof(char *));
		if (!l->sysctl_keys || !l->sysctl_values) {
			init_fail(e, VXN_BOOT_STAGE_LAUNCH, ENOMEM, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < l->n_sysctl; k++) {
			const char *key;
			const json *val = json_object_at(sc, k, &key);
			if (!json_is(val, JSON_STRING) || strstr(key, "..") || strchr(key, '/')) {
				BAD("sysctl.%s: must be a string value of a dotted name", key);
				goto out;
			}
			l->sysctl_keys[k] = strdup(key);
			l->sysctl_values[k] = strdup(json_string_value(val));
		}
	}
	con = json_object_get(root, "console");
	if (con) {
		if (get_int(con, "rows", "console.", 0, 65535, NULL, &i, e) < 0)
			goto out;
		l->rows = (unsigned)(i ? i : 24);
		i = 80;
		if (get_int(con, "cols", "console.", 0, 65535, NULL, &i, e) < 0)
			goto out;
		l->cols = (unsigned)(i ? i : 80);
	}
	i = SIGTERM;
	if (get_int(root, "stopSignal", "", 1, 64, NULL, &i, e) < 0)
		goto out;
	l->stop_signal = (int)i;
	r = 0;
out:
	json_free(root);
	return r;
}
