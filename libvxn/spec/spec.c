/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI runtime spec generation from an image and run options (include/vxn/spec.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	r = r ?: json_object_set_take(spec, "mounts", json_array());
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
