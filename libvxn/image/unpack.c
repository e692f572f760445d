/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Secure layer unpacking.
 *
 * Two libarchive readers are chained: "raw" reads the layer fd through our
 * callback (which hashes the raw bytes for expect_digest) and decompresses it
 * with format_raw; "tar" reads the decompressed stream through a second
 * callback (which hashes it for the diff_id) and parses the tar. Blocks are
 * passed by pointer, so each byte is copied once, into the file it belongs to.
 *
 * Every entry is placed through a directory fd obtained with openat2()
 * beneath the root; the final component is created with O_EXCL / *at()
 * calls that never follow it, and metadata calls use AT_SYMLINK_NOFOLLOW or
 * the fd of what was just created.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/private.h"
#include "image/unpack.h"
#include "shared/digest.h"
#include "shared/util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define WH_PREFIX     ".wh."
#define WH_OPAQUE     ".wh..wh..opq"
#define READ_BUF_SIZE (1u << 20)
/* Longest entry name quoted in a message. */
#define MSG_NAME_MAX 256

int unpack_path_normalize(const char *name, char **out, const char **why)
{
	const char *reason = NULL;

	if (!name || !*name)
		reason = "empty name";
	else if (name[0] == '/')
		reason = "absolute path";
	if (reason) {
		if (why)
			*why = reason;
		return -EINVAL;
	}

	_cleanup_free_ char *buf = malloc(strlen(name) + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	for (const char *p = name; *p;) {
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (why)
				*why = "path contains '..'";
			return -EINVAL;
		}
		if (n > 0)
			buf[n++] = '/';
		memcpy(buf + n, s, len);
		n += len;
	}
	buf[n] = '\0';
	*out = TAKE_PTR(buf);
	return 0;
}

int unpack_whiteout(const char *normalized, char **target)
{
	const char *slash = strrchr(normalized, '/');
	const char *base = slash ? slash + 1 : normalized;
	int dirlen = slash ? (int)(slash - normalized) : 0;

	if (!str_startswith(base, WH_PREFIX))
		return 0;
	if (STREQ(base, WH_OPAQUE)) {
		char *t = strndup(normalized, (size_t)dirlen);
		if (!t)
			return -ENOMEM;
		*target = t;
		return 2;
	}
	const char *name = base + strlen(WH_PREFIX);
	if (!*name || STREQ(name, ".") || STREQ(name, ".."))
		return -EINVAL;
	char *t = slash ? str_printf("%.*s/%s", dirlen, normalized, name) : strdup(name);
	if (!t)
		return -ENOMEM;
	*target = t;
	return 1;
}

/* ---- a set of strings (open addressing) ---- */

struct pathset {
	char **slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Whether s is in the set; *slot gets its slot, or the free slot it would take. */
static bool pathset_find(const struct pathset *set, const char *s, size_t len, size_t *slot)
{
	size_t mask = set->cap - 1;
	for (size_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
		const char *k = set->slots[i];
		*slot = i;
		if (!k)
			return false;
		if (strncmp(k, s, len) == 0 && k[len] == '\0')
			return true;
	}
}

static bool pathset_contains(const struct pathset *set, const char *s, size_t len)
{
	size_t slot;
	return set->cap > 0 && pathset_find(set, s, len, &slot);
}

static int pathset_grow(struct pathset *set)
{
	size_t ncap = set->cap ? set->cap * 2 : 1024;
	char **ns = calloc(ncap, sizeof(char *));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++) {
		char *k = set->slots[i];
		if (!k)
			continue;
		size_t j = hash_bytes(k, strlen(k)) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = k;
	}
	free(set->slots);
	set->slots = ns;
	set->cap = ncap;
	return 0;
}

/* 1 if added, 0 if already there, -ENOMEM. */
static int pathset_add(struct pathset *set, const char *s, size_t len)
{
	size_t slot = 0;
	if (set->cap > 0 && pathset_find(set, s, len, &slot))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		int r = pathset_grow(set);
		if (r < 0)
			return r;
		(void)pathset_find(set, s, len, &slot);
	}
	char *k = strndup(s, len);
	if (!k)
		return -ENOMEM;
	set->slots[slot] = k;
	set->n++;
	return 1;
}

static void pathset_done(struct pathset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	*set = (struct pathset){ 0 };
}

/* ---- the two chained readers ---- */

struct stream {
	int fd;
	char *buf;
	digester *raw_digest; /* raw bytes, for expect_digest; may be NULL */
	digester *tar_digest; /* decompressed bytes, for diff_id; may be NULL */
	struct archive *raw;  /* decompressor (format_raw) */
	int read_errno;	      /* read(2) of the layer failed */
	bool fd_eof;	      /* read(2) returned 0 */
	bool raw_failed;      /* decompression failed */
	bool raw_eof;	      /* decompressed stream fully consumed */
	uint64_t raw_bytes;   /* read from fd so far */
};

static la_ssize_t raw_read_cb(struct archive *a, void *data, const void **buffer)
{
	struct stream *st = data;
	for (;;) {
		ssize_t n = read(st->fd, st->buf, READ_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st->read_errno = errno;
			archive_set_error(a, errno, "read: %s", strerror(errno));
			return ARCHIVE_FATAL;
		}
		if (n == 0)
			st->fd_eof = true;
		else if (st->raw_digest)
			digester_update(st->raw_digest, st->buf, (size_t)n);
		st->raw_bytes += (uint64_t)n;
		*buffer = st->buf;
		return n;
	}
}

/* The next block of the decompressed stream: its size, 0 at the end, or -1. */
static la_ssize_t stream_pull(struct stream *st, const void **buffer)
{
	for (;;) {
		size_t size = 0;
		la_int64_t offset = 0;
		int r = archive_read_data_block(st->raw, buffer, &size, &offset);
		if (r == ARCHIVE_EOF) {
			st->raw_eof = true;
			return 0;
		}
		if (r < ARCHIVE_WARN) {
			st->raw_failed = true;
			return -1;
		}
		if (size == 0)
			continue;
		if (st->tar_digest)
			digester_update(st->tar_digest, *buffer, size);
		return (la_ssize_t)size;
	}
}

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buffer)
{
	struct stream *st = data;
	la_ssize_t n = stream_pull(st, buffer);
	if (n < 0) {
		archive_set_error(a, archive_errno(st->raw), "%s",
				  STRPTR_OR(archive_error_string(st->raw), "decompression failed"));
		return ARCHIVE_FATAL;
	}
	return n;
}

/*
 * Read the rest of the decompressed stream (the tar's block padding). A
 * decompressor that chokes on what follows its last frame (zstd on the zero
 * padding libarchive's writer adds) ends the stream there: all entries were
 * read, and the raw digest still covers every byte.
 */
static void stream_drain_raw(struct stream *st)
{
	while (!st->raw_eof && !st->raw_failed) {
		const void *b;
		(void)stream_pull(st, &b);
	}
}

/* Read the rest of the layer file, so the raw digest covers all of it. */
static int stream_drain_fd(struct stream *st)
{
	if (st->read_errno)
		return -st->read_errno;
	while (!st->fd_eof) {
		ssize_t n = read(st->fd, st->buf, READ_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st->read_errno = errno;
			return -errno;
		}
		if (n == 0)
			st->fd_eof = true;
		else if (st->raw_digest)
			digester_update(st->raw_digest, st->buf, (size_t)n);
		st->raw_bytes += (uint64_t)n;
	}
	return 0;
}

/* Enable the decompressors libarchive has a library for; filters it would
 * run as an external program are not wanted on untrusted input. */
static void add_filters(struct archive *a)
{
	if (archive_zlib_version())
		archive_read_support_filter_gzip(a);
	if (archive_libzstd_version())
		archive_read_support_filter_zstd(a);
	if (archive_liblzma_version())
		archive_read_support_filter_xz(a);
	if (archive_bzlib_version())
		archive_read_support_filter_bzip2(a);
	archive_read_support_filter_none(a);
}

/* ---- the unpacker ---- */

struct dircache {
	char *path; /* NULL when empty */
	size_t len;
	int fd; /* -1 for the root (root_fd itself) */
};

struct dirtime {
	char *path;
	dev_t dev;
	ino_t ino;
	struct timespec ts[2];
};

struct unpacker {
	int root_fd;
	dev_t root_dev;
	const char *label;
	bool whiteouts;
	vxn_error **err;
	struct stream *st;
	struct archive *tar;
	const char *name; /* current entry, as in the archive */
	struct dircache cache;
	bool cache_stale;	/* the entry removed something or made a symlink */
	struct pathset written; /* paths (and ancestors) this layer wrote */
	struct dirtime *dirs;
	size_t n_dirs, cap_dirs;
	uint64_t bytes;
};

static void dircache_clear(struct dircache *c)
{
	free(c->path);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct dircache){ .fd = -1 };
}

/* A copy of s fit for a one-line message: control bytes escaped, truncated. */
static char *printable(const char *s)
{
	size_t len = strlen(s), cap = MIN(len, (size_t)MSG_NAME_MAX) * 4 + 4;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == MSG_NAME_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '\\') {
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/* EINVAL naming the layer and the current entry. */
static int entry_invalid(struct unpacker *u, int errnum, const char *fmt, ...) _printf_(3, 4);
static int entry_invalid(struct unpacker *u, int errnum, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;
	_cleanup_free_ char *name = printable(u->name);

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (!what || !name)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	return error_set(u->err, VXN_EINVAL, errnum, "%s: entry '%s': %s", u->label, name, what);
}

/* A failed system call (r is -errno) on the current entry. */
static int entry_errno(struct unpacker *u, int r, const char *what)
{
	_cleanup_free_ char *name = printable(u->name);
	if (!name)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	return error_errno(u->err, r, "%s: entry '%s': %s", u->label, name, what);
}

/* A libarchive failure: the layer read, the decompressor or the tar parser. */
static int archive_failure(struct unpacker *u, const char *what)
{
	if (u->st->read_errno)
		return error_errno(u->err, -u->st->read_errno, "%s: read", u->label);
	if (u->st->raw_failed)
		return error_set(u->err, VXN_EINVAL, 0, "%s: corrupt compressed data: %s", u->label,
				 STRPTR_OR(archive_error_string(u->st->raw), "unknown error"));
	const char *msg = STRPTR_OR(archive_error_string(u->tar), "unknown error");
	if (u->name) {
		_cleanup_free_ char *name = printable(u->name);
		if (!name)
			return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
		return error_set(u->err, VXN_EINVAL, 0, "%s: entry '%s': %s: %s", u->label, name,
				 what, msg);
	}
	return error_set(u->err, VXN_EINVAL, 0, "%s: %s: %s", u->label, what, msg);
}

static int open_beneath(int root_fd, const char *path, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	if (!*path)
		path = ".";
	for (unsigned attempt = 0;; attempt++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a concurrent rename made the kernel give up; retry. */
		if (errno == EINTR || (errno == EAGAIN && attempt < 32))
			continue;
		return -errno;
	}
}

/* The error for a failed lookup of a directory beneath the root. */
static int resolve_failure(struct unpacker *u, int r, const char *what)
{
	switch (r) {
	case -EXDEV:
		return entry_invalid(u, EXDEV, "%spath escapes rootfs through a symbolic link",
				     what);
	case -ELOOP:
		return entry_invalid(u, ELOOP, "%stoo many levels of symbolic links", what);
	case -ENOTDIR:
		return entry_invalid(u, ENOTDIR, "%sa parent is not a directory", what);
	default: {
		_cleanup_free_ char *msg = str_printf("%sopen parent directory", what);
		return entry_errno(u, r, msg ? msg : "open parent directory");
	}
	}
}

/*
 * Open the directory dir ("" for the root) beneath the root with flags
 * (O_PATH or O_RDONLY), creating missing components: 0755, owned by us,
 * like `mkdir -p`. Returns the fd or -errno.
 */
static int open_dir_creating(struct unpacker *u, const char *dir, int flags)
{
	int fd = open_beneath(u->root_fd, dir, (uint64_t)flags | O_DIRECTORY);
	if (fd != -ENOENT)
		return fd;

	_cleanup_free_ char *p = strdup(dir);
	if (!p)
		return -ENOMEM;
	_cleanup_close_ int cur = -1; /* the prefix resolved so far; -1: the root */
	for (char *s = p;;) {
		char *slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		int nfd = open_beneath(u->root_fd, p, O_PATH | O_DIRECTORY);
		if (nfd == -ENOENT) {
			int pfd = cur >= 0 ? cur : u->root_fd;
			if (mkdirat(pfd, s, 0755) < 0) {
				if (errno != EEXIST)
					return -errno;
			} else if (fchmodat(pfd, s, 0755, 0) < 0) {
				return -errno; /* undo the umask */
			}
			/* A dangling symlink in the way fails here with ENOTDIR. */
			nfd = openat(pfd, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				return errno == ELOOP ? -ENOTDIR : -errno;
		} else if (nfd < 0) {
			return nfd;
		}
		closep(&cur);
		cur = nfd;
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	if (flags == O_PATH)
		return TAKE_FD(cur);
	fd = openat(cur, ".", flags | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * The O_PATH fd of the parent directory of an entry, borrowed (valid until
 * the next call). One directory is cached: the previous entry's parent, for
 * the common run of files in one directory. A different parent replaces it;
 * an entry that removed anything or created a symlink drops it (see
 * cache_stale), since that can change what the path resolves to. The fd
 * itself was resolved beneath the root, and directories are never moved, so
 * it cannot lead outside in any case.
 */
static int get_parent(struct unpacker *u, const char *dir, size_t len, bool create, int *ret)
{
	struct dircache *c = &u->cache;
	if (c->path && c->len == len && memcmp(c->path, dir, len) == 0) {
		*ret = c->fd >= 0 ? c->fd : u->root_fd;
		return 0;
	}
	dircache_clear(c);
	_cleanup_free_ char *d = strndup(dir, len);
	if (!d)
		return -ENOMEM;
	int fd = -1;
	if (len > 0) {
		fd = create ? open_dir_creating(u, d, O_PATH)
			    : open_beneath(u->root_fd, d, O_PATH | O_DIRECTORY);
		if (fd < 0)
			return fd;
	}
	c->path = TAKE_PTR(d);
	c->len = len;
	c->fd = fd;
	*ret = fd >= 0 ? fd : u->root_fd;
	return 0;
}

/* Split "a/b/c" into its parent length (3) and base ("c"). */
static const char *split_path(const char *path, size_t *dirlen)
{
	const char *slash = strrchr(path, '/');
	*dirlen = slash ? (size_t)(slash - path) : 0;
	return slash ? slash + 1 : path;
}

/* ---- removal ---- */

static int remove_tree_at(int dirfd, const char *name, dev_t dev);

/* The names in directory fd (not "." or ".."), NULL-terminated. */
static int list_dir(int fd, char ***ret)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	_cleanup_strv_ char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
			continue;
		if (n + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(names, ncap * sizeof(char *));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			names = nv;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		names[++n] = NULL;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	if (r < 0)
		return r;
	if (!names) {
		names = calloc(1, sizeof(char *));
		if (!names)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(names);
	return 0;
}

/* Remove every child of directory fd; never crosses into another file system. */
static int clear_dir(int fd, dev_t dev)
{
	_cleanup_strv_ char **names = NULL;
	int r = list_dir(fd, &names);
	if (r < 0)
		return r;
	for (char **n = names; *n; n++) {
		r = remove_tree_at(fd, *n, dev);
		if (r < 0)
			return r;
	}
	return 0;
}

/* rm -rf dirfd/name; the name is never followed; missing is success. */
static int remove_tree_at(int dirfd, const char *name, dev_t dev)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_dev != dev)
		return -EXDEV;
	int r = clear_dir(fd, dev);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- per-entry work ---- */

static int written_add(struct unpacker *u, const char *path)
{
	if (!u->whiteouts || !*path)
		return 0;
	/* Every path in the set has its ancestors in it: stop at the first one
	 * already there. */
	for (size_t len = strlen(path);;) {
		int r = pathset_add(&u->written, path, len);
		if (r <= 0)
			return r;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len == 0)
			return 0;
		len--;
	}
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	if (archive_entry_mtime_is_set(e)) {
		ts[1].tv_sec = archive_entry_mtime(e);
		ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	} else {
		ts[1].tv_sec = 0;
		ts[1].tv_nsec = UTIME_OMIT;
	}
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

static bool xattr_unsupported(int e)
{
	/* As docker: a store that cannot hold an attribute still unpacks. */
	return e == ENOTSUP || e == EOPNOTSUPP || e == EPERM;
}

/* Set the entry's xattrs on fd, or (fd < 0) on pfd/base without following it. */
static int apply_xattrs(struct unpacker *u, struct archive_entry *e, int fd, int pfd,
			const char *base)
{
	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	char proc[64 + NAME_MAX];
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, base);
	const char *key;
	const void *value;
	size_t size;
	while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
		if (!key || !*key)
			continue;
		int r = fd >= 0 ? fsetxattr(fd, key, value, size, 0)
				: lsetxattr(proc, key, value, size, 0);
		if (r < 0 && !xattr_unsupported(errno) && !(fd < 0 && errno == ENOENT)) {
			_cleanup_free_ char *what = str_printf("set xattr %s", key);
			return entry_errno(u, -errno, what ? what : "set xattr");
		}
	}
	return 0;
}

/* fchown + fchmod + xattrs on an open file or directory. */
static int apply_meta_fd(struct unpacker *u, struct archive_entry *e, int fd)
{
	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return entry_errno(u, -errno, "chown");
	/* After chown, which clears setuid/setgid. */
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return entry_errno(u, -errno, "chmod");
	return apply_xattrs(u, e, fd, -1, NULL);
}

/* The same for a node we hold no fd of (device, fifo, symlink). */
static int apply_meta_at(struct unpacker *u, struct archive_entry *e, int pfd, const char *base,
			 bool symlink)
{
	if (fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return entry_errno(u, -errno, "chown");
	/* fchmodat follows, but base is the device or fifo we just created. */
	if (!symlink && fchmodat(pfd, base, archive_entry_perm(e) & 07777, 0) < 0)
		return entry_errno(u, -errno, "chmod");
	int r = apply_xattrs(u, e, -1, pfd, base);
	if (r < 0)
		return r;
	struct timespec ts[2];
	entry_times(e, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_errno(u, -errno, "set times");
	return 0;
}

/* Make room for a non-directory at pfd/base: whatever is there goes. */
static int make_room(struct unpacker *u, int pfd, const char *base)
{
	u->cache_stale = true;
	int r = remove_tree_at(pfd, base, u->root_dev);
	return r < 0 ? entry_errno(u, r, "remove existing entry") : 0;
}

static int do_file(struct unpacker *u, struct archive_entry *e, int pfd, const char *base)
{
	_cleanup_close_ int fd = -1;
	for (int attempt = 0;; attempt++) {
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt > 0)
			return entry_errno(u, -errno, "create file");
		int r = make_room(u, pfd, base);
		if (r < 0)
			return r;
	}

	la_int64_t end = 0;
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(u->tar, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_failure(u, "read data");
		/* pwrite at the block's offset: holes of sparse files stay holes. */
		const char *p = buf;
		for (size_t left = size; left > 0;) {
			ssize_t n = pwrite(fd, p, left, (off_t)offset);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return entry_errno(u, -errno, "write");
			}
			p += n;
			left -= (size_t)n;
			offset += n;
		}
		u->bytes += size;
		end = MAX(end, offset);
	}
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size > end && ftruncate(fd, (off_t)size) < 0)
		return entry_errno(u, -errno, "truncate");

	int r = apply_meta_fd(u, e, fd);
	if (r < 0)
		return r;
	struct timespec ts[2];
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return entry_errno(u, -errno, "set times");
	return 0;
}

static int record_dir_time(struct unpacker *u, struct archive_entry *e, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return entry_errno(u, -errno, "stat");
	if (u->n_dirs == u->cap_dirs) {
		size_t ncap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		struct dirtime *nd = realloc(u->dirs, ncap * sizeof(*nd));
		if (!nd)
			return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
		u->dirs = nd;
		u->cap_dirs = ncap;
	}
	struct dirtime *d = &u->dirs[u->n_dirs];
	d->path = strdup(path);
	if (!d->path)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	entry_times(e, d->ts);
	u->n_dirs++;
	return 0;
}

static int do_dir(struct unpacker *u, struct archive_entry *e, int pfd, const char *base,
		  const char *path)
{
	_cleanup_close_ int fd = -1;
	if (!*path) {
		fd = openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return entry_errno(u, -errno, "open root directory");
	} else {
		if (mkdirat(pfd, base, 0700) < 0) {
			if (errno != EEXIST)
				return entry_errno(u, -errno, "create directory");
			struct stat st;
			if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return entry_errno(u, -errno, "stat existing entry");
			if (!S_ISDIR(st.st_mode)) {
				int r = make_room(u, pfd, base);
				if (r < 0)
					return r;
				if (mkdirat(pfd, base, 0700) < 0)
					return entry_errno(u, -errno, "create directory");
			}
		}
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return entry_errno(u, -errno, "open directory");
	}
	int r = apply_meta_fd(u, e, fd);
	if (r < 0)
		return r;
	/* Times last: creating the children would change them. */
	return record_dir_time(u, e, fd, path);
}

static int do_symlink(struct unpacker *u, struct archive_entry *e, int pfd, const char *base)
{
	const char *target = archive_entry_symlink(e);
	if (!target)
		target = archive_entry_symlink_utf8(e);
	if (!target || !*target)
		return entry_invalid(u, 0, "symbolic link without a target");
	u->cache_stale = true;
	for (int attempt = 0;; attempt++) {
		if (symlinkat(target, pfd, base) == 0)
			break;
		if (errno != EEXIST || attempt > 0)
			return entry_errno(u, -errno, "create symbolic link");
		int r = make_room(u, pfd, base);
		if (r < 0)
			return r;
	}
	return apply_meta_at(u, e, pfd, base, true);
}

static int do_node(struct unpacker *u, struct archive_entry *e, int pfd, const char *base,
		   mode_t type)
{
	for (int attempt = 0;; attempt++) {
		int r = type == S_IFIFO ? mkfifoat(pfd, base, 0600)
					: mknodat(pfd, base, type | 0600, archive_entry_rdev(e));
		if (r == 0)
			break;
		if (errno != EEXIST || attempt > 0)
			return entry_errno(u, -errno,
					   type == S_IFIFO ? "create fifo" : "create device node");
		r = make_room(u, pfd, base);
		if (r < 0)
			return r;
	}
	return apply_meta_at(u, e, pfd, base, false);
}

/*
 * A hard link: the target is checked like an entry name and its parent is
 * resolved beneath the root; linkat() without AT_SYMLINK_FOLLOW links a
 * symlink target itself, never what it points to. The target's inode keeps
 * its own metadata.
 */
static int do_hardlink(struct unpacker *u, const char *link, int pfd, const char *base,
		       const char *path)
{
	_cleanup_free_ char *target = NULL;
	const char *why = NULL;
	int r = unpack_path_normalize(link, &target, &why);
	if (r == -ENOMEM)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	_cleanup_free_ char *shown = printable(link);
	if (!shown)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r < 0)
		return entry_invalid(u, 0, "hard link target '%s': %s", shown, why);
	if (!*target)
		return entry_invalid(u, 0, "hard link target '%s': is the root", shown);
	if (STREQ(target, path))
		return entry_invalid(u, 0, "hard link to itself");

	size_t tdirlen;
	const char *tbase = split_path(target, &tdirlen);
	_cleanup_close_ int tfd = -1;
	if (tdirlen > 0) {
		target[tdirlen] = '\0';
		tfd = open_beneath(u->root_fd, target, O_PATH | O_DIRECTORY);
		if (tfd < 0) {
			if (tfd == -ENOENT)
				return entry_invalid(
				    u, ENOENT, "hard link target '%s': does not exist", shown);
			_cleanup_free_ char *what = str_printf("hard link target '%s': ", shown);
			return resolve_failure(u, tfd, what ? what : "hard link target: ");
		}
	}
	int tpfd = tfd >= 0 ? tfd : u->root_fd;
	for (int attempt = 0;; attempt++) {
		if (linkat(tpfd, tbase, pfd, base, 0) == 0)
			break;
		int e = errno;
		struct stat st;
		if (e == ENOENT)
			return entry_invalid(u, ENOENT, "hard link target '%s': does not exist",
					     shown);
		if (e == EPERM && fstatat(tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			return entry_invalid(u, EPERM, "hard link target '%s': is a directory",
					     shown);
		if (e != EEXIST || attempt > 0)
			return entry_errno(u, -e, "create hard link");
		r = make_room(u, pfd, base);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ".wh.NAME": rm -rf NAME beneath the root. */
static int do_whiteout(struct unpacker *u, const char *target)
{
	size_t dirlen;
	const char *base = split_path(target, &dirlen);
	int pfd;
	int r = get_parent(u, target, dirlen, false, &pfd);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0; /* nothing there to hide */
	if (r < 0)
		return resolve_failure(u, r, "whiteout: ");
	u->cache_stale = true;
	r = remove_tree_at(pfd, base, u->root_dev);
	return r < 0 ? entry_errno(u, r, "remove whited-out entry") : 0;
}

/* Remove, beneath directory fd (at rel), everything this layer did not write. */
static int opaque_clear(struct unpacker *u, int fd, const char *rel)
{
	_cleanup_strv_ char **names = NULL;
	int r = list_dir(fd, &names);
	if (r < 0)
		return r;
	for (char **n = names; *n; n++) {
		_cleanup_free_ char *child = *rel ? str_printf("%s/%s", rel, *n) : strdup(*n);
		if (!child)
			return -ENOMEM;
		if (!pathset_contains(&u->written, child, strlen(child))) {
			r = remove_tree_at(fd, *n, u->root_dev);
			if (r < 0)
				return r;
			continue;
		}
		_cleanup_close_ int cfd =
		    openat(fd, *n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			if (errno == ENOTDIR || errno == ELOOP)
				continue; /* a file or symlink of this layer */
			return -errno;
		}
		r = opaque_clear(u, cfd, child);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ".wh..wh..opq" in dir: the lower layers' content of dir goes. */
static int do_opaque(struct unpacker *u, const char *dir)
{
	_cleanup_close_ int fd = open_dir_creating(u, dir, O_RDONLY);
	if (fd < 0)
		return resolve_failure(u, fd, "opaque directory: ");
	int r = written_add(u, dir);
	if (r < 0)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	u->cache_stale = true;
	r = opaque_clear(u, fd, dir);
	return r < 0 ? entry_errno(u, r, "clear opaque directory") : 0;
}

static int do_entry_inner(struct unpacker *u, struct archive_entry *e)
{
	_cleanup_free_ char *path = NULL;
	const char *why = NULL;
	int r = unpack_path_normalize(u->name, &path, &why);
	if (r == -ENOMEM)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r < 0)
		return entry_invalid(u, 0, "%s", why);

	if (u->whiteouts) {
		_cleanup_free_ char *target = NULL;
		r = unpack_whiteout(path, &target);
		if (r == -ENOMEM)
			return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
		if (r < 0)
			return entry_invalid(u, 0, "malformed whiteout name");
		if (r == 1)
			return do_whiteout(u, target);
		if (r == 2)
			return do_opaque(u, target);
	}

	const char *link = archive_entry_hardlink(e);
	if (!link)
		link = archive_entry_hardlink_utf8(e);
	mode_t type = archive_entry_filetype(e);
	if (!*path && (link || type != AE_IFDIR))
		return entry_invalid(u, 0, "would replace the root directory");

	size_t dirlen;
	const char *base = split_path(path, &dirlen);
	int pfd = u->root_fd;
	if (*path) {
		r = get_parent(u, path, dirlen, true, &pfd);
		if (r < 0)
			return resolve_failure(u, r, "");
	}

	if (link)
		r = do_hardlink(u, link, pfd, base, path);
	else if (type == AE_IFREG)
		r = do_file(u, e, pfd, base);
	else if (type == AE_IFDIR)
		r = do_dir(u, e, pfd, base, path);
	else if (type == AE_IFLNK)
		r = do_symlink(u, e, pfd, base);
	else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO)
		r = do_node(u, e, pfd, base, type);
	else
		r = entry_invalid(u, 0, "unsupported entry type 0%o", (unsigned)type);
	if (r < 0)
		return r;
	if (written_add(u, path) < 0)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

static int do_entry(struct unpacker *u, struct archive_entry *e)
{
	u->cache_stale = false;
	int r = do_entry_inner(u, e);
	if (u->cache_stale)
		dircache_clear(&u->cache);
	return r;
}

/* Directory times, newest record first (it wins for its path), only on the
 * directory that record created. */
static int apply_dir_times(struct unpacker *u)
{
	struct pathset done = { 0 };
	struct dircache cache = { .fd = -1 };
	int r = 0;

	for (size_t i = u->n_dirs; i-- > 0 && r == 0;) {
		struct dirtime *d = &u->dirs[i];
		size_t len = strlen(d->path);
		r = pathset_add(&done, d->path, len);
		if (r <= 0)
			continue;
		r = 0;
		size_t dirlen;
		const char *base = split_path(d->path, &dirlen);
		int pfd = u->root_fd;
		if (dirlen > 0) {
			if (!cache.path || cache.len != dirlen ||
			    memcmp(cache.path, d->path, dirlen) != 0) {
				dircache_clear(&cache);
				cache.path = strndup(d->path, dirlen);
				if (!cache.path) {
					r = -ENOMEM;
					break;
				}
				cache.len = dirlen;
				cache.fd =
				    open_beneath(u->root_fd, cache.path, O_PATH | O_DIRECTORY);
			}
			if (cache.fd < 0)
				continue; /* replaced later in the layer */
			pfd = cache.fd;
		}
		struct stat st;
		if (len == 0) {
			if (fstat(u->root_fd, &st) < 0 || st.st_ino != d->ino ||
			    st.st_dev != d->dev)
				continue;
			_cleanup_close_ int fd =
			    openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || futimens(fd, d->ts) < 0)
				r = -errno;
			continue;
		}
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_ino != d->ino || st.st_dev != d->dev)
			continue;
		if (utimensat(pfd, base, d->ts, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	dircache_clear(&cache);
	pathset_done(&done);
	if (r < 0)
		return error_errno(u->err, r, "%s: set directory times", u->label);
	return 0;
}

static void unpacker_done(struct unpacker *u)
{
	dircache_clear(&u->cache);
	pathset_done(&u->written);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
}

static int unpack_entries(struct unpacker *u)
{
	struct stream *st = u->st;

	st->raw = archive_read_new();
	u->tar = archive_read_new();
	if (!st->raw || !u->tar)
		return error_set(u->err, VXN_ENOMEM, ENOMEM, "out of memory");
	add_filters(st->raw);
	archive_read_support_format_raw(st->raw);
	/* ustar, pax and GNU tar; the decompressed stream is not decompressed again. */
	archive_read_support_filter_none(u->tar);
	archive_read_support_format_tar(u->tar);

	struct archive_entry *e;
	if (archive_read_open(st->raw, st, NULL, raw_read_cb, NULL) < ARCHIVE_WARN ||
	    archive_read_next_header(st->raw, &e) < ARCHIVE_WARN) {
		if (st->read_errno)
			return error_errno(u->err, -st->read_errno, "%s: read", u->label);
		return error_set(u->err, VXN_EINVAL, 0, "%s: not a tar archive: %s", u->label,
				 st->raw_bytes == 0
				     ? "empty input"
				     : STRPTR_OR(archive_error_string(st->raw), "unknown format"));
	}
	if (archive_read_open(u->tar, st, NULL, tar_read_cb, NULL) < ARCHIVE_WARN)
		return archive_failure(u, "not a tar archive");

	for (bool first = true;; first = false) {
		u->name = NULL;
		int r = archive_read_next_header(u->tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_failure(u,
					       first ? "not a tar archive" : "malformed archive");
		/* ARCHIVE_WARN: e.g. a name not convertible to the locale; the
		 * bytes as stored are used. */
		u->name = archive_entry_pathname(e);
		if (!u->name)
			u->name = archive_entry_pathname_utf8(e);
		if (!u->name)
			return error_set(u->err, VXN_EINVAL, 0, "%s: entry without a name",
					 u->label);
		r = do_entry(u, e);
		if (r < 0)
			return r;
	}
	u->name = NULL;
	stream_drain_raw(st);
	return 0;
}

int layer_unpack(int root_fd, int layer_fd, const struct unpack_opts *opts, vxn_error **err)
{
	static const struct unpack_opts defaults = { 0 };
	if (!opts)
		opts = &defaults;
	const char *label = opts->label ? opts->label : "layer";
	if (opts->expect_digest && !digest_is_valid(opts->expect_digest))
		return error_set(err, VXN_EINVAL, 0, "%s: invalid digest '%s'", label,
				 opts->expect_digest);
	struct stat rst;
	if (fstat(root_fd, &rst) < 0)
		return error_errno(err, -errno, "%s: root directory", label);
	if (!S_ISDIR(rst.st_mode))
		return error_set(err, VXN_EINVAL, ENOTDIR, "%s: root is not a directory", label);

	_cleanup_free_ char *buf = malloc(READ_BUF_SIZE);
	_cleanup_digester_ digester *raw_digest = opts->expect_digest ? digester_new() : NULL;
	_cleanup_digester_ digester *tar_digest = opts->diff_id_out ? digester_new() : NULL;
	if (!buf || (opts->expect_digest && !raw_digest) || (opts->diff_id_out && !tar_digest))
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");

	struct stream st = {
		.fd = layer_fd,
		.buf = buf,
		.raw_digest = raw_digest,
		.tar_digest = tar_digest,
	};
	vxn_error *local = NULL;
	struct unpacker u = {
		.root_fd = root_fd,
		.root_dev = rst.st_dev,
		.label = label,
		.whiteouts = opts->whiteouts,
		.err = &local,
		.st = &st,
		.cache = { .fd = -1 },
	};

	int r = unpack_entries(&u);
	if (r == 0) {
		int q = stream_drain_fd(&st);
		if (q < 0)
			r = error_errno(&local, q, "%s: read", label);
	} else if (raw_digest) {
		/* Read on: bytes that are not the expected ones explain any
		 * failure better than the failure itself. */
		(void)stream_drain_fd(&st);
	}
	if (raw_digest && !st.read_errno) {
		char got[DIGEST_STRING_MAX];
		digester_final(raw_digest, got);
		if (!STREQ(got, opts->expect_digest)) {
			vxn_error_free(local);
			local = NULL;
			if (strstr(label, opts->expect_digest))
				r = error_set(&local, VXN_EDIGEST, 0, "%s: digest mismatch: got %s",
					      label, got);
			else
				r = error_set(&local, VXN_EDIGEST, 0,
					      "%s: digest mismatch: expected %s, got %s", label,
					      opts->expect_digest, got);
		}
	}
	if (r == 0)
		r = apply_dir_times(&u);

	uint64_t bytes = u.bytes;
	unpacker_done(&u);
	archive_read_free(u.tar);
	archive_read_free(st.raw);
	if (r < 0) {
		if (err && !*err)
			*err = local;
		else
			vxn_error_free(local);
		return r;
	}
	if (opts->diff_id_out)
		digester_final(tar_digest, opts->diff_id_out);
	if (opts->unpacked_bytes)
		*opts->unpacked_bytes = bytes;
	return 0;
}
