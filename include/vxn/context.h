/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file context.h
 * The library context: where vxn keeps its state, data and logs, the
 * configuration it was given, and where its log messages go.
 *
 * A context is created once per process (or per thread: a context is not
 * thread-safe, two contexts are independent) and passed to every other call.
 *
 * Roots, in increasing order of precedence:
 *  1. defaults: for root /run/vxn (state), /var/lib/vxn (data), /var/log/vxn
 *     (logs); for other users $XDG_RUNTIME_DIR/vxn (or /tmp/vxn-UID),
 *     $XDG_DATA_HOME/vxn (~/.local/share/vxn), $XDG_STATE_HOME/vxn/log
 *     (~/.local/state/vxn/log);
 *  2. the config file: $VXN_CONFIG if set, else /etc/vxn/vxn.conf for root,
 *     else $XDG_CONFIG_HOME/vxn/vxn.conf (~/.config/vxn/vxn.conf), falling back
 *     to /etc/vxn/vxn.conf. Lines are "key = value"; '#' starts a comment;
 *     blank lines are ignored. A default file that does not exist is not an
 *     error; a file named by $VXN_CONFIG or by the caller must exist;
 *  3. environment variables VXN_<KEY> (key upper-cased, '-' and '.' as '_'),
 *     e.g. VXN_STATE_ROOT, VXN_DATA_ROOT, VXN_LOG_ROOT, VXN_LOG_LEVEL;
 *  4. vxn_ctx_set() calls (command-line flags).
 *
 * The keys are listed by vxn_ctx_keys(); doc/configuration.md describes them.
 */
#ifndef VXN_CONTEXT_H
#define VXN_CONTEXT_H

#include <vxn/common.h>
#include <vxn/error.h>

VXN_BEGIN_DECLS

/** Opaque library context. */
typedef struct vxn_ctx vxn_ctx;

/** Log levels, most severe first. */
typedef enum vxn_log_level {
	VXN_LOG_ERROR = 0,
	VXN_LOG_WARNING = 1,
	VXN_LOG_INFO = 2,
	VXN_LOG_DEBUG = 3,
} vxn_log_level;

/**
 * Log callback. @p module is a short static string ("image", "domain", ...);
 * @p message is one line without a trailing newline, borrowed for the call.
 */
typedef void (*vxn_log_fn)(void *userdata, vxn_log_level level, const char *module,
			   const char *message);

/** Flags for vxn_ctx_new(). */
typedef enum vxn_ctx_flags {
	VXN_CTX_DEFAULT = 0,
	/** Do not read any config file (defaults, environment and setters only). */
	VXN_CTX_NO_CONFIG_FILE = 1 << 0,
	/** Do not read VXN_* environment variables. */
	VXN_CTX_NO_ENV = 1 << 1,
} vxn_ctx_flags;

/**
 * Create a context: defaults, then the config file, then the environment.
 *
 * Nothing is created on disk; directories are made when a module first needs
 * them.
 *
 * @param out receives the new context, owned by the caller (vxn_ctx_free()).
 * @param config_path config file to read instead of the default search, or
 *        NULL. A path given here (or in $VXN_CONFIG) must exist.
 * @param flags a combination of ::vxn_ctx_flags.
 * @param err optional error out parameter.
 * @return 0; VXN_ECONFIG for a config file that cannot be read or has a bad
 *         line (the message names the file and the line), or a bad VXN_*
 *         value (the message names the variable); VXN_ENOMEM.
 */
VXN_EXPORT int vxn_ctx_new(vxn_ctx **out, const char *config_path, unsigned flags, vxn_error **err);

/** Release a context. vxn_ctx_free(NULL) is a no-op. */
VXN_EXPORT void vxn_ctx_free(vxn_ctx *ctx);

/**
 * Set a configuration key, overriding file and environment.
 * @param key one of vxn_ctx_keys().
 * @param value the new value, copied; validated as the key requires.
 * @return 0; VXN_EINVAL for an unknown key or an invalid value; VXN_ENOMEM.
 */
VXN_EXPORT int vxn_ctx_set(vxn_ctx *ctx, const char *key, const char *value, vxn_error **err);

/**
 * Current value of a configuration key.
 * @return a string borrowed from @p ctx, valid until the key is set again or
 *         the context is freed; NULL for an unknown key or an unset optional
 *         key.
 */
VXN_EXPORT const char *vxn_ctx_get(const vxn_ctx *ctx, const char *key);

/**
 * Where the current value of @p key came from: "default", "file", "env" or
 * "set". NULL for an unknown key.
 */
VXN_EXPORT const char *vxn_ctx_get_origin(const vxn_ctx *ctx, const char *key);

/**
 * The configuration keys this library knows, as a NULL-terminated static array.
 */
VXN_EXPORT const char *const *vxn_ctx_keys(void);

/** The state root (runtime state: container dirs, sockets, locks). Borrowed. */
VXN_EXPORT const char *vxn_ctx_state_root(const vxn_ctx *ctx);
/** The data root (image store, guest kernel, caches). Borrowed. */
VXN_EXPORT const char *vxn_ctx_data_root(const vxn_ctx *ctx);
/** The log root (per-container guest logs). Borrowed. */
VXN_EXPORT const char *vxn_ctx_log_root(const vxn_ctx *ctx);

/**
 * The config file that was read, or NULL when none was (no file found, or
 * VXN_CTX_NO_CONFIG_FILE). Borrowed.
 */
VXN_EXPORT const char *vxn_ctx_config_file(const vxn_ctx *ctx);

/**
 * Route log messages at or above @p max_level to @p fn. The default is no
 * callback: the library is silent. Pass NULL to silence it again.
 * The "log-level" key sets the same threshold.
 */
VXN_EXPORT void vxn_ctx_set_log(vxn_ctx *ctx, vxn_log_fn fn, void *userdata,
				vxn_log_level max_level);

/** The current log threshold. */
VXN_EXPORT vxn_log_level vxn_ctx_log_level(const vxn_ctx *ctx);

/**
 * Parse a log level name ("error", "warning"/"warn", "info", "debug").
 * @return 0 and sets @p out; VXN_EINVAL for another string.
 */
VXN_EXPORT int vxn_log_level_parse(const char *name, vxn_log_level *out);

/** The name of a log level ("error", "warning", "info", "debug"). Static. */
VXN_EXPORT const char *vxn_log_level_name(vxn_log_level level);

VXN_END_DECLS

#endif /* VXN_CONTEXT_H */
