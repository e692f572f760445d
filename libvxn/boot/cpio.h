/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A minimal writer for the "newc" cpio format (magic 070701), the format
 * the kernel unpacks as an initramfs. vxn writes one small archive per
 * container (the launch record, and for small images the root filesystem)
 * and appends it to the shared base initramfs; Linux unpacks concatenated
 * archives in order, a later entry replacing an earlier one of the same name.
 *
 * Internal to libvxn (not part of the ABI): only the container module builds
 * these archives. Pure like frame.c: libc only, no I/O of its own (bytes go
 * to a growable memory buffer or to a caller's write callback), so guest
 * tooling can compile it alone too. Functions return 0 or -errno.
 *
 * Layout of each entry (doc/guest-protocol.md, "Per-container archive"):
 * a 110-byte ASCII header ("070701" and 13 fields of 8 hex digits), the
 * NUL-terminated name, zero padding to a multiple of 4, the data, zero
 * padding to a multiple of 4. The archive ends with the entry "TRAILER!!!".
 */
#ifndef VXN_BOOT_CPIO_H
#define VXN_BOOT_CPIO_H

#include <stddef.h>
#include <stdint.h>

#define CPIO_NEWC_MAGIC	      "070701"
#define CPIO_NEWC_HEADER_SIZE 110
#define CPIO_TRAILER	      "TRAILER!!!"
/* Longest name, without its NUL (the kernel's PATH_MAX - 1). */
#define CPIO_NAME_MAX 4095

/* Where a streaming writer's bytes go: return 0, or -errno to stop. */
typedef int (*cpio_write_fn)(void *userdata, const void *data, size_t size);

typedef struct cpio_writer cpio_writer;

/* One entry's header. @mode carries the file type (S_IFREG, S_IFDIR,
 * S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK) and the permission bits
 * (07777); @size is the data that follows: the contents of a regular file,
 * the target of a symlink, 0 for the others; rdev_* only for devices. */
struct cpio_entry {
	const char *path;
	uint32_t mode;
	uint32_t uid, gid;
	uint32_t mtime;
	uint32_t rdev_major, rdev_minor;
	uint64_t size;
};

/* A writer into a growable memory buffer (cpio_writer_data()). */
int cpio_writer_new(cpio_writer **out);
/* A writer that hands every byte to @fn (in order, in pieces of any size). */
int cpio_writer_new_stream(cpio_writer **out, cpio_write_fn fn, void *userdata);
/* NULL is a no-op. */
void cpio_writer_free(cpio_writer *w);

/*
 * Write an entry's header; exactly e->size bytes of data must follow through
 * cpio_writer_data_write() before the next entry or cpio_writer_finish().
 *
 * The path is stored relative ("/vxn/launch.json" and "vxn/launch.json" are
 * both stored as "vxn/launch.json"); it must not be empty or contain empty,
 * "." or ".." components, and is at most CPIO_NAME_MAX bytes. Parents are
 * not created implicitly: add directories first (the kernel needs them).
 * Inode numbers are assigned in order from 1, nlink is 2 for directories
 * and 1 otherwise (no hard links), devmajor/devminor are 0.
 *
 * Returns 0; -EINVAL (bad path, mode, size for the type, data of the previous
 * entry incomplete, writer finished); -ENAMETOOLONG; -EFBIG (size >= 4 GiB);
 * -ENOMEM; or the write callback's error, which is sticky: every later
 * call returns it.
 */
int cpio_writer_add(cpio_writer *w, const struct cpio_entry *e);
/* Data of the current entry. -EINVAL when more than announced. */
int cpio_writer_data_write(cpio_writer *w, const void *data, size_t size);

/* Conveniences (uid 0, gid 0, mtime 0). @perm is the permission bits. */
int cpio_writer_add_dir(cpio_writer *w, const char *path, uint32_t perm);
int cpio_writer_add_file(cpio_writer *w, const char *path, uint32_t perm, const void *data,
			 size_t size);
int cpio_writer_add_symlink(cpio_writer *w, const char *path, const char *target);

/* Write the trailer. After it only cpio_writer_data()/_steal()/_free() are valid. */
int cpio_writer_finish(cpio_writer *w);

/* A memory writer's bytes so far, borrowed (valid until the next call on
 * @w). NULL (and size 0) for a streaming writer. */
const void *cpio_writer_data(const cpio_writer *w, size_t *size);
/* Take a finished memory writer's buffer (free() it); the writer is left
 * empty. -EINVAL for a streaming or unfinished writer. */
int cpio_writer_steal(cpio_writer *w, void **data, size_t *size);

#endif
