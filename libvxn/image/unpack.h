/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Secure layer unpacking (libarchive). Internal to libvxn.
 *
 * A layer is applied onto a directory that holds the layers below it. Entry
 * names are checked by unpack_path_normalize() (pure); every path is then
 * resolved beneath the root directory fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so nothing, not a "../" name, not an absolute
 * name, not a symlink or hard link of this or an earlier layer, not a
 * symlink swapped in under a later entry, can write outside the root. A
 * hostile entry fails the whole unpack with an error naming the layer and the
 * entry; the caller discards the partly written directory.
 */
#ifndef VXN_IMAGE_UNPACK_H
#define VXN_IMAGE_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include <vxn/error.h>

/*
 * Normalise a tar entry name relative to the rootfs. Strips leading "./"
 * components and trailing '/', collapses "//" and "/./". The root itself
 * ("." or "./") gives "" (callers apply its metadata to the root or skip it).
 * Returns 0 and a malloc'd name in *out, or -EINVAL with *why set to a static
 * reason ("absolute path", "path contains '..'", "empty name", "NUL byte"),
 * or -ENOMEM. Pure.
 */
int unpack_path_normalize(const char *name, char **out, const char **why);

/* Whiteout helpers (pure): for "dir/.wh.name" -> 1 and *target = "dir/name";
 * for "dir/.wh..wh..opq" -> 2 and *target = "dir"; 0 for other names;
 * -ENOMEM. *target is malloc'd. */
int unpack_whiteout(const char *normalized, char **target);

struct unpack_opts {
	/* A human label for messages: "layer sha256:abcd..." */
	const char *label;
	/* Apply OCI whiteouts (.wh.* files and opaque dirs). True for image
	 * layers; false for `import` of a plain rootfs tarball, where such names
	 * are ordinary files. */
	bool whiteouts;
	/* If not NULL: "sha256:<hex>" the raw (possibly compressed) bytes must
	 * hash to; a mismatch fails with VXN_EDIGEST naming the digest. */
	const char *expect_digest;
	/* If not NULL, receives the digest of the uncompressed tar stream
	 * (the OCI diff_id), DIGEST_STRING_MAX bytes. */
	char *diff_id_out;
	/* If not NULL, receives the number of bytes of file content written. */
	uint64_t *unpacked_bytes;
};

/*
 * Apply one layer, read from layer_fd (a tar, plain or gzip/zstd/xz/bzip2
 * compressed, detected from the content), onto the directory root_fd.
 * Supports regular files, directories, symlinks, hard links, character and
 * block devices, fifos; ownership (numeric uid/gid), modes incl.
 * setuid/setgid/sticky, mtimes (directories' set after their content),
 * xattrs. An existing entry of a lower layer is replaced (a directory only
 * by a non-directory, which removes it recursively).
 * Returns 0 or a negative vxn_status with *err set:
 *   VXN_EINVAL   hostile or malformed entry ("layer sha256:..: entry
 *                '../x': path contains '..'"), or not a tar;
 *   VXN_EDIGEST  raw bytes do not match expect_digest;
 *   VXN_EIO      a system call failed (message names the entry).
 */
int layer_unpack(int root_fd, int layer_fd, const struct unpack_opts *opts, vxn_error **err);

#endif
