/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file spec.h
 * OCI runtime spec generation: an image's config plus `docker run` style
 * options become the config.json a runtime (or vxn_container_create())
 * consumes. doc/spec-translation.md lists every rule.
 *
 *     vxn_spec_opts_new()       options, all unset (the image decides)
 *     vxn_spec_opts_set_*()     what the command line said
 *     vxn_spec_generate()       the spec as JSON text
 *
 * Rules, as Docker applies them: the process is the image's Entrypoint
 * followed by the command (the arguments given, else the image's Cmd); an
 * explicit entrypoint replaces the image's and drops its Cmd. The
 * environment is the image's Env with the options' entries replacing those
 * of the same name, PATH defaulted, HOSTNAME set, and TERM=xterm with a
 * terminal. The working directory defaults to the image's WorkingDir, then
 * "/". A user given by name ("app", "app:staff") is resolved in the guest
 * from the image's /etc/passwd and /etc/group; a numeric one is used as is.
 *
 * Ownership: strings are copied in; vxn_spec_generate() returns a string
 * the caller free()s. Errors: VXN_EINVAL with a message naming the option.
 */
#ifndef VXN_SPEC_H
#define VXN_SPEC_H

#include <stdbool.h>

#include <vxn/common.h>
#include <vxn/error.h>
#include <vxn/image.h>

VXN_BEGIN_DECLS

/** Options for vxn_spec_generate(). Opaque builder. */
typedef struct vxn_spec_opts vxn_spec_opts;

VXN_EXPORT int vxn_spec_opts_new(vxn_spec_opts **out, vxn_error **err);
/** NULL is a no-op. */
VXN_EXPORT void vxn_spec_opts_free(vxn_spec_opts *o);

/**
 * The entrypoint (`--entrypoint`): @p argv NULL-terminated; an empty array
 * clears the image's entrypoint (`--entrypoint ""`). NULL: the image's.
 */
VXN_EXPORT int vxn_spec_opts_set_entrypoint(vxn_spec_opts *o, const char *const *argv,
					    vxn_error **err);
/** The command (the arguments after the image). NULL or empty: the image's Cmd. */
VXN_EXPORT int vxn_spec_opts_set_cmd(vxn_spec_opts *o, const char *const *argv, vxn_error **err);
/** Add an environment entry "NAME=value" (`-e`); a later one replaces an
 * earlier one of the same name. VXN_EINVAL without '=' or with an empty name. */
VXN_EXPORT int vxn_spec_opts_add_env(vxn_spec_opts *o, const char *entry, vxn_error **err);
/** The working directory (`-w`): an absolute path. */
VXN_EXPORT int vxn_spec_opts_set_workdir(vxn_spec_opts *o, const char *path, vxn_error **err);
/** The user (`-u`): "name", "uid", "name:group", "uid:gid" (and mixes). */
VXN_EXPORT int vxn_spec_opts_set_user(vxn_spec_opts *o, const char *user, vxn_error **err);
/** The hostname (`-h`); default: none in the spec (the runtime's, vxn's "vxn"). */
VXN_EXPORT int vxn_spec_opts_set_hostname(vxn_spec_opts *o, const char *hostname, vxn_error **err);
/** Allocate a terminal (`-t`). */
VXN_EXPORT void vxn_spec_opts_set_terminal(vxn_spec_opts *o, bool terminal);
/** Keep stdin open and stream it (`-i`). */
VXN_EXPORT void vxn_spec_opts_set_stdin(vxn_spec_opts *o, bool open_stdin);
/** Mount the root filesystem read-only (`--read-only`). */
VXN_EXPORT void vxn_spec_opts_set_readonly(vxn_spec_opts *o, bool readonly);

/**
 * A bind mount of a host directory (`-v HOST:CTR[:ro|rw]`): HOST must be an
 * absolute path (named volumes are not supported yet), CTR absolute. The
 * directory is shared with the VM while it runs, both ways; ":ro" is enforced
 * by the host. VXN_EINVAL for a malformed or relative path.
 */
VXN_EXPORT int vxn_spec_opts_add_volume(vxn_spec_opts *o, const char *volume, vxn_error **err);
/**
 * A mount in the spec's terms (`--mount`, `--tmpfs`): @p type "bind" or
 * "tmpfs", @p source (the host directory for bind; NULL for tmpfs), an
 * absolute @p destination and mount options (NULL-terminated, may be NULL:
 * "ro", "size=64m", "mode=1777", ...).
 */
VXN_EXPORT int vxn_spec_opts_add_mount(vxn_spec_opts *o, const char *type, const char *source,
				       const char *destination, const char *const *options,
				       vxn_error **err);
/** A resource limit (`--ulimit nofile=1024:2048`, soft[:hard], -1 unlimited). */
VXN_EXPORT int vxn_spec_opts_add_ulimit(vxn_spec_opts *o, const char *ulimit, vxn_error **err);
/** The signal that stops the container (`--stop-signal`: "SIGUSR1", "USR1"
 * or "10"); default: the image's StopSignal, else SIGTERM. */
VXN_EXPORT int vxn_spec_opts_set_stop_signal(vxn_spec_opts *o, const char *signal, vxn_error **err);

/**
 * Generate the spec.
 * @param out receives the JSON text (free()).
 * @param image the image whose config supplies the defaults; borrowed.
 * @param o the options, or NULL for the image's defaults alone.
 * @return 0; VXN_EINVAL when there is no command at all ("no command
 *         specified"), for a bad user or workdir; VXN_ENOMEM.
 */
VXN_EXPORT int vxn_spec_generate(char **out, const vxn_image *image, const vxn_spec_opts *o,
				 vxn_error **err);

VXN_END_DECLS

#endif
