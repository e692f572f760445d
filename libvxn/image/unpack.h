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
 * ("." or "./") gives "" (layer_unpack() applies a directory entry's metadata
 * to the root). Returns 0 and a malloc'd name in *out, or -EINVAL with *why
 * (when why is not NULL) set to a static reason ("absolute path", "path
 * contains '..'", "empty name"), or -ENOMEM. *out is untouched on failure.
 * (libarchive hands names over as C strings, so a NUL byte cannot reach
 * here: a name stops at it.) Pure.
 */
int unpack_path_normalize(const char *name, char **out, const char **why);

/* Whiteout helpers (pure), on a normalised name: for "dir/.wh.name" -> 1 and
 * *target = "dir/name"; for "dir/.wh..wh..opq" -> 2 and *target = "dir" (""
 * at the top); 0 for other names; -EINVAL for ".wh.", ".wh.." and ".wh..."
 * (they would name "", "." or ".."); -ENOMEM. *target is malloc'd. */
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
 * compressed, detected from the content; a pipe is fine) onto the directory
 * root_fd (any fd of it, O_PATH included). layer_fd is read to its end, past
 * the last entry, so the digests cover every byte.
 * Supports regular files (sparse ones stay sparse), directories, symlinks
 * (targets stored verbatim), hard links (the target keeps its own metadata),
 * character and block devices, fifos; ownership (numeric uid/gid), modes
 * incl. setuid/setgid/sticky, mtimes (directories' set after the whole layer),
 * xattrs (those the file system refuses with ENOTSUP or EPERM are skipped, as
 * docker does). A "./" entry sets the root's metadata. An existing entry of a
 * lower layer is replaced (a directory only by a non-directory, which removes
 * it recursively; a directory entry over a directory updates its metadata).
 * Missing parent directories are created 0755. Symlinks in parent paths are
 * followed only while they stay beneath the root: an absolute one, or one
 * that climbs out, fails the entry. Nothing is fsync'ed (callers syncfs once).
 * Returns 0 or a negative vxn_status with *err set; out values (diff_id_out,
 * unpacked_bytes) are written only on success:
 *   VXN_EINVAL   hostile or malformed entry ("layer sha256:..: entry
 *                '../x': path contains '..'"), not a tar, corrupt compressed
 *                data;
 *   VXN_EDIGEST  raw bytes do not match expect_digest ("<label>: digest
 *                mismatch: got sha256:..."; "expected ..., got ..." when the
 *                label does not contain the expected digest). With
 *                expect_digest, a failure of any other kind is reported as
 *                this one when the bytes are not the expected ones;
 *   VXN_EIO etc. a system call failed (status from errno; the message names
 *                the entry and the call).
 */
int layer_unpack(int root_fd, int layer_fd, const struct unpack_opts *opts, vxn_error **err);

#endif
