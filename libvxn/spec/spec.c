/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI runtime spec generation from an image and run options (include/vxn/spec.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vxn/spec.h>

#include "core/private.h"
#include "shared/json.h"
#include "shared/macro.h"
#include "shared/util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct vxn_spec_opts {
	char **entrypoint; /* NULL: the image's; {NULL}: none */
	char **cmd;
	char **env;
	char *workdir, *user, *hostname;
	json *mounts;  /* spec "mounts" entries */
	json *rlimits; /* spec "process.rlimits" entries */
	int stop_signal;
	bool terminal, open_stdin, readonly;
};

int vxn_spec_opts_new(vxn_spec_opts **out, vxn_error **err)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : error_errno(err, -ENOMEM, "spec options");
}

void vxn_spec_opts_free(vxn_spec_opts *o)
{
	if (!o)
		return;
	strv_free(o->entrypoint);
	strv_free(o->cmd);
	strv_free(o->env);
	free(o->workdir);
	free(o->user);
	free(o->hostname);
	json_free(o->mounts);
	json_free(o->rlimits);
	free(o);
}

static int set_strv(char ***dst, const char *const *argv, vxn_error **err)
{
	char **v = NULL;
	if (argv && strv_copy(&v, (char *const *)argv) < 0)
		return error_errno(err, -ENOMEM, "spec options");
	strv_free(*dst);
	*dst = v;
	return 0;
}

int vxn_spec_opts_set_entrypoint(vxn_spec_opts *o, const char *const *argv, vxn_error **err)
{
	return set_strv(&o->entrypoint, argv, err);
}

int vxn_spec_opts_set_cmd(vxn_spec_opts *o, const char *const *argv, vxn_error **err)
{
	return set_strv(&o->cmd, argv && argv[0] ? argv : NULL, err);
}

/* The index of NAME's entry in @env (matching "NAME=..."), or -1. */
static ssize_t env_find(char *const *env, const char *entry)
{
	size_t len = strcspn(entry, "=");
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], entry, len) == 0 && env[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

/* Put @entry into @env, replacing the entry of the same name. */
static int env_set(char ***env, const char *entry)
{
	ssize_t i = env_find(*env, entry);
	if (i < 0)
		return strv_push(env, entry);
	char *copy = strdup(entry);
	if (!copy)
		return -ENOMEM;
	free((*env)[i]);
	(*env)[i] = copy;
	return 0;
}

int vxn_spec_opts_add_env(vxn_spec_opts *o, const char *entry, vxn_error **err)
{
	if (!entry || !strchr(entry, '=') || entry[0] == '=')
		return error_set(err, VXN_EINVAL, 0,
				 "invalid environment entry '%s': expected NAME=value",
				 entry ? entry : "");
	if (env_set(&o->env, entry) < 0)
		return error_errno(err, -ENOMEM, "spec options");
	return 0;
}

static int set_str(char **dst, const char *s, vxn_error **err)
{
	char *c = NULL;
	if (s && !(c = strdup(s)))
		return error_errno(err, -ENOMEM, "spec options");
	free(*dst);
	*dst = c;
	return 0;
}

int vxn_spec_opts_set_workdir(vxn_spec_opts *o, const char *path, vxn_error **err)
{
	if (path && path[0] != '/')
		return error_set(
		    err, VXN_EINVAL, 0,
		    "the working directory '%s' is invalid: it needs to be an absolute path", path);
	return set_str(&o->workdir, path, err);
}

static bool all_digits(const char *s, size_t len)
{
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strtoull(s, NULL, 10) <= 4294967294ULL;
}

int vxn_spec_opts_set_user(vxn_spec_opts *o, const char *user, vxn_error **err)
{
	if (user) {
		const char *colon = strchr(user, ':');
		size_t ulen = colon ? (size_t)(colon - user) : strlen(user);
		if (ulen == 0 || (colon && (colon[1] == '\0' || strchr(colon + 1, ':'))))
			return error_set(err, VXN_EINVAL, 0,
					 "invalid user '%s': expected name|uid[:group|gid]", user);
	}
	return set_str(&o->user, user && *user ? user : NULL, err);
}

int vxn_spec_opts_set_hostname(vxn_spec_opts *o, const char *hostname, vxn_error **err)
{
	if (hostname && (strlen(hostname) > 64 || strchr(hostname, '/')))
		return error_set(err, VXN_EINVAL, 0, "invalid hostname '%s'", hostname);
	return set_str(&o->hostname, hostname && *hostname ? hostname : NULL, err);
}

void vxn_spec_opts_set_terminal(vxn_spec_opts *o, bool terminal)
{
	o->terminal = terminal;
}

void vxn_spec_opts_set_stdin(vxn_spec_opts *o, bool open_stdin)
{
	o->open_stdin = open_stdin;
}

void vxn_spec_opts_set_readonly(vxn_spec_opts *o, bool readonly)
{
	o->readonly = readonly;
}

static int append_mount(vxn_spec_opts *o, const char *type, const char *source,
			const char *destination, const char *const *options)
{
	json *m = json_object(), *opts = json_array();
	int r = m && opts ? 0 : -ENOMEM;
	if (r == 0 && !o->mounts && !(o->mounts = json_array()))
		r = -ENOMEM;
	r = r ?: json_object_set_string(m, "destination", destination);
	r = r ?: json_object_set_string(m, "type", type);
	r = r ?: json_object_set_string(m, "source", source ? source : type);
	if (r == 0 && strcmp(type, "bind") == 0)
		r = json_array_append_take(opts, json_string("rbind"));
	for (size_t i = 0; r == 0 && options && options[i]; i++)
		r = json_array_append_take(opts, json_string(options[i]));
	if (r == 0) {
		r = json_object_set_take(m, "options", opts);
		opts = NULL;
	}
	if (r == 0) {
		r = json_array_append_take(o->mounts, m);
		m = NULL;
	}
	json_free(opts);
	json_free(m);
	return r;
}

int vxn_spec_opts_add_mount(vxn_spec_opts *o, const char *type, const char *source,
			    const char *destination, const char *const *options, vxn_error **err)
{
	if (!type || (strcmp(type, "bind") != 0 && strcmp(type, "tmpfs") != 0))
		return error_set(err, VXN_EINVAL, 0,
				 "invalid mount type '%s': vxn supports bind and tmpfs",
				 type ? type : "");
	if (!destination || destination[0] != '/')
		return error_set(err, VXN_EINVAL, 0,
				 "invalid mount destination '%s': it needs to be an absolute path",
				 destination ? destination : "");
	if (strcmp(type, "bind") == 0 && (!source || source[0] != '/'))
		return error_set(err, VXN_EINVAL, 0,
				 "invalid bind mount source '%s': it needs to be an absolute host "
				 "path (named volumes are not supported yet)",
				 source ? source : "");
	if (append_mount(o, type, strcmp(type, "bind") == 0 ? source : NULL, destination, options) <
	    0)
		return error_errno(err, -ENOMEM, "spec options");
	return 0;
}

int vxn_spec_opts_add_volume(vxn_spec_opts *o, const char *volume, vxn_error **err)
{
	_cleanup_free_ char *copy = volume ? strdup(volume) : NULL;
	if (!copy)
		return error_set(err, VXN_EINVAL, 0, "invalid volume specification: ''");
	char *host = copy, *ctr = strchr(copy, ':'), *mode = NULL;
	if (ctr) {
		*ctr++ = '\0';
		mode = strchr(ctr, ':');
		if (mode)
			*mode++ = '\0';
	}
	if (!ctr || !*host || !*ctr || (mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0))
		return error_set(
		    err, VXN_EINVAL, 0,
		    "invalid volume specification: '%s' (expected HOST:CONTAINER[:ro|rw])", volume);
	const char *ro[] = { mode && strcmp(mode, "ro") == 0 ? "ro" : "rw", NULL };
	return vxn_spec_opts_add_mount(o, "bind", host, ctr, ro, err);
}

static const struct {
	const char *name;
	const char *rlimit;
} ulimits[] = {
	{ "core", "RLIMIT_CORE" },	   { "cpu", "RLIMIT_CPU" },
	{ "data", "RLIMIT_DATA" },	   { "fsize", "RLIMIT_FSIZE" },
	{ "locks", "RLIMIT_LOCKS" },	   { "memlock", "RLIMIT_MEMLOCK" },
	{ "msgqueue", "RLIMIT_MSGQUEUE" }, { "nice", "RLIMIT_NICE" },
	{ "nofile", "RLIMIT_NOFILE" },	   { "nproc", "RLIMIT_NPROC" },
	{ "rss", "RLIMIT_RSS" },	   { "rtprio", "RLIMIT_RTPRIO" },
	{ "rttime", "RLIMIT_RTTIME" },	   { "sigpending", "RLIMIT_SIGPENDING" },
	{ "stack", "RLIMIT_STACK" },	   { "as", "RLIMIT_AS" },
};

static bool parse_limit(const char *s, char **end, long long *out)
{
	errno = 0;
	*out = strtoll(s, end, 10);
	return errno == 0 && *end != s && *out >= -1;
}

int vxn_spec_opts_add_ulimit(vxn_spec_opts *o, const char *ulimit, vxn_error **err)
{
	const char *eq = ulimit ? strchr(ulimit, '=') : NULL;
	const char *rl = NULL;
	for (size_t i = 0; eq && i < sizeof(ulimits) / sizeof(ulimits[0]); i++)
		if (strlen(ulimits[i].name) == (size_t)(eq - ulimit) &&
		    strncmp(ulimit, ulimits[i].name, (size_t)(eq - ulimit)) == 0)
			rl = ulimits[i].rlimit;
	long long soft = 0, hard = 0;
	char *end = NULL;
	bool ok = rl && parse_limit(eq + 1, &end, &soft);
	if (ok && *end == ':')
		ok = parse_limit(end + 1, &end, &hard);
	else
		hard = soft;
	if (!ok || *end || (hard != -1 && (soft == -1 || soft > hard)))
		return error_set(err, VXN_EINVAL, 0,
				 "invalid ulimit '%s': expected NAME=SOFT[:HARD] with a known name "
				 "and SOFT <= HARD",
				 ulimit ? ulimit : "");
	json *l = json_object();
	int r = l ? 0 : -ENOMEM;
	if (r == 0 && !o->rlimits && !(o->rlimits = json_array()))
		r = -ENOMEM;
	/* -1 (unlimited) is RLIM_INFINITY, which JSON carries as its u64 value's
	 * signed image; vxn-init reads a negative limit as unlimited */
	r = r ?: json_object_set_string(l, "type", rl);
	r = r ?: json_object_set_int(l, "soft", soft);
	r = r ?: json_object_set_int(l, "hard", hard);
	if (r == 0) {
		r = json_array_append_take(o->rlimits, l);
		l = NULL;
	}
	json_free(l);
	return r < 0 ? error_errno(err, r, "spec options") : 0;
}

static const struct {
	const char *name;
	int signo;
} signals[] = {
	{ "HUP", 1 },	  { "INT", 2 },	  { "QUIT", 3 },   { "ILL", 4 },   { "TRAP", 5 },
	{ "ABRT", 6 },	  { "BUS", 7 },	  { "FPE", 8 },	   { "KILL", 9 },  { "USR1", 10 },
	{ "SEGV", 11 },	  { "USR2", 12 }, { "PIPE", 13 },  { "ALRM", 14 }, { "TERM", 15 },
	{ "STKFLT", 16 }, { "CHLD", 17 }, { "CONT", 18 },  { "STOP", 19 }, { "TSTP", 20 },
	{ "TTIN", 21 },	  { "TTOU", 22 }, { "URG", 23 },   { "XCPU", 24 }, { "XFSZ", 25 },
	{ "VTALRM", 26 }, { "PROF", 27 }, { "WINCH", 28 }, { "IO", 29 },   { "PWR", 30 },
	{ "SYS", 31 },
};

/* "SIGTERM", "TERM", "15", "SIGRTMIN+3" -> the number, or 0. */
static int parse_signal(const char *s)
{
	if (!s || !*s)
		return 0;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v < 1 || v > 64 ? 0 : (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].signo;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		long off = s[5] == '+' ? strtol(s + 6, NULL, 10) : 0;
		return s[5] && s[5] != '+' ? 0 : off >= 0 && 34 + off <= 64 ? (int)(34 + off) : 0;
	}
	return 0;
}

int vxn_spec_opts_set_stop_signal(vxn_spec_opts *o, const char *signal, vxn_error **err)
{
	int signo = parse_signal(signal);
	if (!signo)
		return error_set(err, VXN_EINVAL, 0, "invalid signal '%s'", signal ? signal : "");
	o->stop_signal = signo;
	return 0;
}

static int push_all(char ***v, const char *const *src)
{
	for (size_t i = 0; src && src[i]; i++)
		if (strv_push(v, src[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* process.user and the io.vxn.user.* annotations from "user[:group]". */
static int add_user(json *proc, json *ann, const char *spec)
{
	json *u = json_object();
	int r = u ? 0 : -ENOMEM;
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t ulen = spec ? (colon ? (size_t)(colon - spec) : strlen(spec)) : 0;
	const char *group = colon ? colon + 1 : NULL;

	if (!spec) {
		/* root, with root's passwd entry and groups (docker's default "") */
		spec = "0";
		ulen = 1;
	}
	if (all_digits(spec, ulen)) {
		r = r ?: json_object_set_int(u, "uid", (int64_t)strtoull(spec, NULL, 10));
		if (group && all_digits(group, strlen(group))) {
			r = r ?: json_object_set_int(u, "gid", (int64_t)strtoull(group, NULL, 10));
		} else {
			/* the group comes from the image: by name, or uid's passwd entry */
			r = r ?: json_object_set_int(u, "gid", 0);
			r = r ?: json_object_set_string(ann, "io.vxn.user.gid", "passwd");
			if (group)
				r = r ?: json_object_set_string(ann, "io.vxn.user.group", group);
		}
	} else {
		_cleanup_free_ char *name = strndup(spec, ulen);
		r = r ?: (name ? 0 : -ENOMEM);
		r = r ?: json_object_set_int(u, "uid", 0);
		r = r ?: json_object_set_int(u, "gid", 0);
		r = r ?: json_object_set_string(ann, "io.vxn.user.name", name);
		if (group && all_digits(group, strlen(group)))
			r = r ?: json_object_set_string(ann, "io.vxn.user.gid", group);
		else if (group)
			r = r ?: json_object_set_string(ann, "io.vxn.user.group", group);
	}
	if (r == 0)
		return json_object_set_take(proc, "user", u);
	json_free(u);
	return r;
}

int vxn_spec_generate(char **out, const vxn_image *image, const vxn_spec_opts *o, vxn_error **err)
{
	static const vxn_spec_opts none = { 0 };
	_cleanup_strv_ char **args = NULL, **env = NULL;
	_cleanup_json_ json *spec = json_object();
	json *proc = json_object(), *root = json_object(), *ann = json_object();
	int r = spec && proc && root && ann ? 0 : -ENOMEM;

	*out = NULL;
	if (!o)
		o = &none;
	/* argv: entrypoint + command, as docker */
	if (o->entrypoint) {
		r = r ?: push_all(&args, (const char *const *)o->entrypoint);
		r = r ?: push_all(&args, (const char *const *)o->cmd);
	} else {
		r = r ?: push_all(&args, vxn_image_entrypoint(image));
		r = r
			?: push_all(&args,
				    o->cmd ? (const char *const *)o->cmd : vxn_image_cmd(image));
	}
	if (r == 0 && (!args || !args[0])) {
		json_free(proc);
		json_free(root);
		json_free(ann);
		return error_set(err, VXN_EINVAL, 0, "no command specified");
	}
	/* env: the image's, PATH defaulted, then HOSTNAME, TERM, the options' */
	for (const char *const *e = vxn_image_env(image); r == 0 && e && *e; e++)
		r = env_set(&env, *e);
	if (r == 0 && env_find(env, "PATH=") < 0)
		r = env_set(&env, DEFAULT_PATH);
	if (r == 0 && o->hostname) {
		_cleanup_free_ char *h = str_printf("HOSTNAME=%s", o->hostname);
		r = h ? env_set(&env, h) : -ENOMEM;
	}
	if (r == 0 && o->terminal)
		r = env_set(&env, "TERM=xterm");
	for (size_t i = 0; r == 0 && o->env && o->env[i]; i++)
		r = env_set(&env, o->env[i]);

	const char *cwd = o->workdir ? o->workdir : vxn_image_workdir(image);
	if (!cwd || !*cwd)
		cwd = "/";
	const char *user = o->user ? o->user : vxn_image_user(image);
	if (user && !*user)
		user = NULL;

	r = r ?: json_object_set_string(spec, "ociVersion", "1.0.2");
	r = r ?: json_object_set_bool(proc, "terminal", o->terminal);
	r = r ?: add_user(proc, ann, user);
	r = r ?: json_object_set_take(proc, "args", json_from_strv(args));
	r = r ?: json_object_set_take(proc, "env", json_from_strv(env));
	r = r ?: json_object_set_string(proc, "cwd", cwd);
	r = r ?: json_object_set_bool(proc, "noNewPrivileges", false);
	if (r == 0 && o->rlimits)
		r = json_object_set_take(proc, "rlimits", json_copy(o->rlimits));
	if (r == 0 && o->terminal) {
		json *cs = json_object();
		r = cs ? 0 : -ENOMEM;
		r = r ?: json_object_set_int(cs, "height", 24);
		r = r ?: json_object_set_int(cs, "width", 80);
		r = r ?: json_object_set_take(proc, "consoleSize", cs);
	}
	if (r == 0) {
		r = json_object_set_take(spec, "process", proc);
		proc = NULL;
	}
	r = r ?: json_object_set_string(root, "path", "rootfs");
	r = r ?: json_object_set_bool(root, "readonly", o->readonly);
	if (r == 0) {
		r = json_object_set_take(spec, "root", root);
		root = NULL;
	}
	if (r == 0 && o->hostname)
		r = json_object_set_string(spec, "hostname", o->hostname);
	r = r
		?: json_object_set_take(spec, "mounts",
					o->mounts ? json_copy(o->mounts) : json_array());
	int stop = o->stop_signal ? o->stop_signal : parse_signal(vxn_image_stop_signal(image));
	if (r == 0 && stop) {
		char num[16];
		snprintf(num, sizeof(num), "%d", stop);
		r = json_object_set_string(ann, "org.opencontainers.image.stopSignal", num);
	}
	if (r == 0 && o->open_stdin)
		r = json_object_set_string(ann, "io.vxn.stdin", "true");
	if (r == 0 && vxn_image_id(image))
		r = json_object_set_string(ann, "io.vxn.image.id", vxn_image_id(image));
	if (r == 0) {
		r = json_object_set_take(spec, "annotations", ann);
		ann = NULL;
	}
	json_free(proc);
	json_free(root);
	json_free(ann);
	if (r == 0)
		r = json_serialize(spec, true, out, NULL);
	return r < 0 ? error_errno(err, r, "generating the runtime spec") : 0;
}
