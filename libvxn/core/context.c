/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/private.h"
#include "shared/util.h"

enum key_kind {
	KEY_PATH,      /* absolute path */
	KEY_LOG_LEVEL, /* error|warning|info|debug */
	KEY_CHOICE,    /* one of a fixed list */
	KEY_PROGRAM,   /* a program name (looked up in PATH) or an absolute path */
	KEY_OPT_PATH,  /* absolute path, or empty for "not set" */
	KEY_SECONDS,   /* whole seconds, 1 to 3600 */
};

enum key_index {
	K_STATE_ROOT,
	K_DATA_ROOT,
	K_LOG_ROOT,
	K_LOG_LEVEL,
	K_BACKEND,
	K_KERNEL,
	K_QEMU,
	K_ACCEL,
	K_INITRAMFS,
	K_BOOT_TIMEOUT,
	K_KVM_DEVICE,
	K__MAX,
};

static const char *const backend_choices[] = { "auto", "qemu", "xen", NULL };
static const char *const accel_choices[] = { "auto", "kvm", "tcg", NULL };

static const struct key_def {
	const char *name;
	enum key_kind kind;
	const char *const *choices;
	const char *fallback; /* default value for keys that are not roots */
} keys[K__MAX] = {
	[K_STATE_ROOT] = { "state_root", KEY_PATH, NULL, NULL },
	[K_DATA_ROOT] = { "data_root", KEY_PATH, NULL, NULL },
	[K_LOG_ROOT] = { "log_root", KEY_PATH, NULL, NULL },
	[K_LOG_LEVEL] = { "log_level", KEY_LOG_LEVEL, NULL, "warning" },
	[K_BACKEND] = { "backend", KEY_CHOICE, backend_choices, "auto" },
	[K_KERNEL] = { "kernel", KEY_OPT_PATH, NULL, "" },
	[K_QEMU] = { "qemu", KEY_PROGRAM, NULL, "qemu-system-x86_64" },
	[K_ACCEL] = { "accel", KEY_CHOICE, accel_choices, "auto" },
	[K_INITRAMFS] = { "initramfs", KEY_OPT_PATH, NULL, "" },
	[K_BOOT_TIMEOUT] = { "boot_timeout", KEY_SECONDS, NULL, "60" },
	[K_KVM_DEVICE] = { "kvm_device", KEY_PATH, NULL, "/dev/kvm" },
};

static const char *const key_names[K__MAX + 1] = {
	"state_root", "data_root", "log_root",	"log_level",	"backend",    "kernel",
	"qemu",	      "accel",	   "initramfs", "boot_timeout", "kvm_device", NULL,
};

static const char *const origin_names[] = { "default", "file", "env", "set" };
enum origin {
	O_DEFAULT,
	O_FILE,
	O_ENV,
	O_SET
};

struct vxn_ctx {
	char *values[K__MAX];
	enum origin origins[K__MAX];
	char *config_file;
	vxn_log_fn log_fn;
	void *log_userdata;
	vxn_log_level log_level;
};

const char *const *vxn_ctx_keys(void)
{
	return key_names;
}

static int key_lookup(const char *name)
{
	for (int i = 0; i < K__MAX; i++)
		if (STREQ(keys[i].name, name))
			return i;
	return -1;
}

/* Validate value for key; on failure returns a static reason. */
static const char *key_check(int k, const char *value)
{
	switch (keys[k].kind) {
	case KEY_PATH:
		if (value[0] != '/')
			return "must be an absolute path";
		return NULL;
	case KEY_LOG_LEVEL: {
		vxn_log_level l;
		return vxn_log_level_parse(value, &l) < 0 ? "must be error, warning, info or debug"
							  : NULL;
	}
	case KEY_CHOICE:
		for (const char *const *c = keys[k].choices; *c; c++)
			if (STREQ(*c, value))
				return NULL;
		return k == K_BACKEND ? "must be auto, qemu or xen" : "must be auto, kvm or tcg";
	case KEY_PROGRAM:
		if (!value[0])
			return "must not be empty";
		if (strchr(value, '/') && value[0] != '/')
			return "must be a program name or an absolute path";
		return NULL;
	case KEY_OPT_PATH:
		return value[0] && value[0] != '/' ? "must be an absolute path" : NULL;
	case KEY_SECONDS: {
		char *end = NULL;
		errno = 0;
		long v = strtol(value, &end, 10);
		return errno || end == value || *end || v < 1 || v > 3600
			   ? "must be a whole number of seconds from 1 to 3600"
			   : NULL;
	}
	}
	return "unknown kind";
}

static int ctx_store(vxn_ctx *ctx, int k, const char *value, enum origin origin)
{
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	free(ctx->values[k]);
	ctx->values[k] = v;
	ctx->origins[k] = origin;
	if (k == K_LOG_LEVEL)
		vxn_log_level_parse(v, &ctx->log_level);
	return 0;
}

static int set_defaults(vxn_ctx *ctx)
{
	_cleanup_free_ char *state = NULL, *data = NULL, *log = NULL;
	if (geteuid() == 0) {
		state = strdup("/run/vxn");
		data = strdup("/var/lib/vxn");
		log = strdup("/var/log/vxn");
	} else {
		const char *home = getenv("HOME");
		const char *rt = getenv("XDG_RUNTIME_DIR");
		const char *dh = getenv("XDG_DATA_HOME");
		const char *sh = getenv("XDG_STATE_HOME");
		if (!home || home[0] != '/')
			home = "/";
		state = rt && rt[0] == '/' ? path_join(rt, "vxn")
					   : str_printf("/tmp/vxn-%u", (unsigned)geteuid());
		data =
		    dh && dh[0] == '/' ? path_join(dh, "vxn") : path_join(home, ".local/share/vxn");
		log = sh && sh[0] == '/' ? path_join(sh, "vxn/log")
					 : path_join(home, ".local/state/vxn/log");
	}
	if (!state || !data || !log)
		return -ENOMEM;
	if (ctx_store(ctx, K_STATE_ROOT, state, O_DEFAULT) < 0 ||
	    ctx_store(ctx, K_DATA_ROOT, data, O_DEFAULT) < 0 ||
	    ctx_store(ctx, K_LOG_ROOT, log, O_DEFAULT) < 0 ||
	    ctx_store(ctx, K_LOG_LEVEL, "warning", O_DEFAULT) < 0)
		return -ENOMEM;
	for (int k = K_BACKEND; k < K__MAX; k++)
		if (ctx_store(ctx, k, keys[k].fallback, O_DEFAULT) < 0)
			return -ENOMEM;
	return 0;
}

/* Parse one config file; every error names the file and line. */
static int load_file(vxn_ctx *ctx, const char *path, bool must_exist, vxn_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return error_set(err, VXN_ECONFIG, errno, "config file %s: %s", path,
				 strerror(errno));
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (memchr(line, '\0', (size_t)n))
			return error_set(err, VXN_ECONFIG, 0, "%s:%u: NUL byte in line", path,
					 lineno);
		str_strip(line);
		if (!line[0] || line[0] == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq)
			return error_set(err, VXN_ECONFIG, 0,
					 "%s:%u: expected 'key = value', got '%s'", path, lineno,
					 line);
		*eq = '\0';
		char *key = str_strip(line), *value = str_strip(eq + 1);
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		int k = key_lookup(key);
		if (k < 0)
			return error_set(err, VXN_ECONFIG, 0, "%s:%u: unknown key '%s'", path,
					 lineno, key);
		const char *why = key_check(k, value);
		if (why)
			return error_set(err, VXN_ECONFIG, 0, "%s:%u: %s: '%s' %s", path, lineno,
					 key, value, why);
		if (ctx_store(ctx, k, value, O_FILE) < 0)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	if (ferror(f))
		return error_set(err, VXN_ECONFIG, errno, "config file %s: read: %s", path,
				 strerror(errno));
	ctx->config_file = strdup(path);
	if (!ctx->config_file)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

static int load_config(vxn_ctx *ctx, const char *explicit_path, vxn_error **err)
{
	if (explicit_path)
		return load_file(ctx, explicit_path, true, err);
	const char *envp = getenv("VXN_CONFIG");
	if (envp && envp[0])
		return load_file(ctx, envp, true, err);
	if (geteuid() != 0) {
		const char *xch = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		_cleanup_free_ char *p = NULL;
		if (xch && xch[0] == '/')
			p = path_join(xch, "vxn/vxn.conf");
		else if (home && home[0] == '/')
			p = path_join(home, ".config/vxn/vxn.conf");
		if (p && access(p, F_OK) == 0)
			return load_file(ctx, p, true, err);
	}
	return load_file(ctx, "/etc/vxn/vxn.conf", false, err);
}

static int load_env(vxn_ctx *ctx, vxn_error **err)
{
	for (int k = 0; k < K__MAX; k++) {
		char var[64] = "VXN_";
		size_t j = 4;
		for (const char *p = keys[k].name; *p && j < sizeof(var) - 1; p++)
			var[j++] = (char)toupper((unsigned char)*p);
		var[j] = '\0';
		const char *v = getenv(var);
		if (!v || !v[0])
			continue;
		const char *why = key_check(k, v);
		if (why)
			return error_set(err, VXN_ECONFIG, 0, "environment %s='%s': %s", var, v,
					 why);
		if (ctx_store(ctx, k, v, O_ENV) < 0)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

int vxn_ctx_new(vxn_ctx **out, const char *config_path, unsigned flags, vxn_error **err)
{
	vxn_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = 0;
	if (set_defaults(ctx) < 0)
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r == 0 && !(flags & VXN_CTX_NO_CONFIG_FILE))
		r = load_config(ctx, config_path, err);
	if (r == 0 && !(flags & VXN_CTX_NO_ENV))
		r = load_env(ctx, err);
	if (r < 0) {
		vxn_ctx_free(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

void vxn_ctx_free(vxn_ctx *ctx)
{
	if (!ctx)
		return;
	for (int k = 0; k < K__MAX; k++)
		free(ctx->values[k]);
	free(ctx->config_file);
	free(ctx);
}

int vxn_ctx_set(vxn_ctx *ctx, const char *key, const char *value, vxn_error **err)
{
	if (!ctx || !key || !value)
		return error_set(err, VXN_EINVAL, EINVAL, "vxn_ctx_set: NULL argument");
	int k = key_lookup(key);
	if (k < 0)
		return error_set(err, VXN_EINVAL, 0, "unknown configuration key '%s'", key);
	const char *why = key_check(k, value);
	if (why)
		return error_set(err, VXN_EINVAL, 0, "%s: '%s' %s", key, value, why);
	if (ctx_store(ctx, k, value, O_SET) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

const char *vxn_ctx_get(const vxn_ctx *ctx, const char *key)
{
	int k = ctx && key ? key_lookup(key) : -1;
	return k < 0 ? NULL : ctx->values[k];
}

const char *vxn_ctx_get_origin(const vxn_ctx *ctx, const char *key)
{
	int k = ctx && key ? key_lookup(key) : -1;
	return k < 0 ? NULL : origin_names[ctx->origins[k]];
}

const char *vxn_ctx_state_root(const vxn_ctx *ctx)
{
	return ctx->values[K_STATE_ROOT];
}

const char *vxn_ctx_data_root(const vxn_ctx *ctx)
{
	return ctx->values[K_DATA_ROOT];
}

const char *vxn_ctx_log_root(const vxn_ctx *ctx)
{
	return ctx->values[K_LOG_ROOT];
}

const char *vxn_ctx_config_file(const vxn_ctx *ctx)
{
	return ctx->config_file;
}

void vxn_ctx_set_log(vxn_ctx *ctx, vxn_log_fn fn, void *userdata, vxn_log_level max_level)
{
	ctx->log_fn = fn;
	ctx->log_userdata = userdata;
	if (max_level <= VXN_LOG_DEBUG)
		ctx_store(ctx, K_LOG_LEVEL, vxn_log_level_name(max_level), O_SET);
}

vxn_log_level vxn_ctx_log_level(const vxn_ctx *ctx)
{
	return ctx->log_level;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int vxn_log_level_parse(const char *name, vxn_log_level *out)
{
	if (!name)
		return VXN_EINVAL;
	for (int i = 0; i < (int)ELEMENTSOF(level_names); i++)
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (vxn_log_level)i;
			return 0;
		}
	if (strcasecmp(name, "warn") == 0) {
		*out = VXN_LOG_WARNING;
		return 0;
	}
	return VXN_EINVAL;
}

const char *vxn_log_level_name(vxn_log_level level)
{
	return (unsigned)level < ELEMENTSOF(level_names) ? level_names[level] : "unknown";
}

void ctx_log(const vxn_ctx *ctx, vxn_log_level level, const char *module, const char *fmt, ...)
{
	if (!ctx || !ctx->log_fn || level > ctx->log_level)
		return;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_userdata, level, module, buf);
}
