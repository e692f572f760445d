/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "image/unpack.h"
#include "shared/digest.h"
#include "shared/util.h"

/* ---- building layers with libarchive's writer ---- */

enum filter {
	FILTER_NONE,
	FILTER_GZIP,
	FILTER_ZSTD,
	FILTER_XZ,
	FILTER_BZIP2,
};

#define T0 1500000000 /* default mtime of every entry */

struct ent {
	char kind; /* f file, d dir, l symlink, h hard link, c/b device, p fifo */
	const char *name;
	const char *data; /* contents, or link target */
	mode_t perm;	  /* 0: 0644 (files), 0755 (dirs), 0777 (symlinks) */
	int64_t uid, gid;
	time_t mtime; /* 0: T0 */
	long mtime_nsec;
	unsigned major, minor;
	const char *xname, *xvalue;
	size_t gen_size; /* data NULL: this many pseudo-random bytes */
};

#define F(n, d)                                       \
	{                                             \
		.kind = 'f', .name = (n), .data = (d) \
	}
#define D(n)                             \
	{                                \
		.kind = 'd', .name = (n) \
	}
#define L(n, t)                                       \
	{                                             \
		.kind = 'l', .name = (n), .data = (t) \
	}
#define H(n, t)                                       \
	{                                             \
		.kind = 'h', .name = (n), .data = (t) \
	}

struct buf {
	char *data;
	size_t len, cap;
};

static void buf_append(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = MAX(b->cap * 2, b->len + n);
		b->data = realloc(b->data, b->cap);
		assert_non_null(b->data);
	}
	memcpy(b->data + b->len, d, n);
	b->len += n;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

static la_ssize_t buf_write_cb(struct archive *a, void *data, const void *d, size_t n)
{
	buf_append(data, d, n);
	return (la_ssize_t)n;
}

static void gen_bytes(char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (char)(x >> 24);
	}
}

static void add_entry(struct archive *a, const struct ent *s)
{
	struct archive_entry *e = archive_entry_new();
	assert_non_null(e);
	archive_entry_set_pathname(e, s->name);
	archive_entry_set_uid(e, s->uid);
	archive_entry_set_gid(e, s->gid);
	archive_entry_set_mtime(e, s->mtime ? s->mtime : T0, s->mtime_nsec);
	if (s->xname)
		archive_entry_xattr_add_entry(e, s->xname, s->xvalue, strlen(s->xvalue));
	_cleanup_free_ char *gen = NULL;
	size_t size = 0;
	switch (s->kind) {
	case 'f':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, s->perm ? s->perm : 0644);
		if (s->data) {
			size = strlen(s->data);
		} else {
			size = s->gen_size;
			gen = malloc(MAX(size, (size_t)1));
			assert_non_null(gen);
			gen_bytes(gen, size, size);
		}
		archive_entry_set_size(e, (la_int64_t)size);
		break;
	case 'd':
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, s->perm ? s->perm : 0755);
		break;
	case 'l':
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_perm(e, 0777);
		archive_entry_set_symlink(e, s->data);
		break;
	case 'h':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, s->perm ? s->perm : 0644);
		archive_entry_set_hardlink(e, s->data);
		archive_entry_set_size(e, 0);
		break;
	case 'c':
	case 'b':
		archive_entry_set_filetype(e, s->kind == 'c' ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_perm(e, s->perm ? s->perm : 0666);
		archive_entry_set_rdev(e, makedev(s->major, s->minor));
		break;
	case 'p':
		archive_entry_set_filetype(e, AE_IFIFO);
		archive_entry_set_perm(e, s->perm ? s->perm : 0644);
		break;
	default:
		fail();
	}
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (size > 0)
		assert_int_equal(archive_write_data(a, s->data ? s->data : gen, size),
				 (la_ssize_t)size);
	archive_entry_free(e);
}

/*
 * A pax tar of ents, compressed with filter. With pad, libarchive pads the
 * last block of its output to 10240 bytes, as tar(1) does; the compressors
 * get the unpadded stream, and their output is not padded (libarchive's zstd
 * reader takes zeros after the last frame for a broken frame).
 */
static void build_tar(const struct ent *ents, size_t n, enum filter filter, bool pad,
		      struct buf *out)
{
	struct archive *a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	switch (filter) {
	case FILTER_NONE:
		break;
	case FILTER_GZIP:
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
		break;
	case FILTER_ZSTD:
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
		break;
	case FILTER_XZ:
		assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
		break;
	case FILTER_BZIP2:
		assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
		break;
	}
	if (!pad)
		assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	*out = (struct buf){ 0 };
	assert_int_equal(archive_write_open(a, out, NULL, buf_write_cb, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &ents[i]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void build(const struct ent *ents, size_t n, enum filter filter, struct buf *out)
{
	build_tar(ents, n, filter, filter == FILTER_NONE, out);
}

/* The tar stream a compressed build() compressed: the unpadded tar. */
static void build_unpadded(const struct ent *ents, size_t n, struct buf *out)
{
	build_tar(ents, n, FILTER_NONE, false, out);
}

static int memfd_of(const void *data, size_t len)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* ---- the fixture: base/root (the rootfs) and base/sentinel (outside) ---- */

struct fx {
	char base[PATH_MAX];
	char *root;
	char *sentinel;
	int root_fd;
	char *outside; /* snapshot of everything in base but root/ */
};

static const char *tmp_parent(void)
{
	/* user.* xattrs are tested: use /tmp only if it holds them. */
	static const char *parent;
	if (parent)
		return parent;
	char probe[] = "/tmp/vxn-test-unpack-probe-XXXXXX";
	parent = "/var/tmp";
	if (mkdtemp(probe)) {
		if (setxattr(probe, "user.vxn-probe", "1", 1, 0) == 0)
			parent = "/tmp";
		rmdir(probe);
	}
	return parent;
}

static char *tree_list(const char *top, bool times, const char *skip);

static void write_text(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "%s/vxn-test-unpack-XXXXXX", tmp_parent());
	assert_non_null(mkdtemp(f->base));
	f->root = path_join(f->base, "root");
	f->sentinel = path_join(f->base, "sentinel");
	assert_int_equal(mkdir(f->root, 0700), 0);
	assert_int_equal(mkdir(f->sentinel, 0755), 0);
	_cleanup_free_ char *file = path_join(f->sentinel, "file");
	_cleanup_free_ char *dir = path_join(f->sentinel, "dir");
	_cleanup_free_ char *inner = path_join(f->sentinel, "dir/inner");
	write_text(file, "precious\n");
	assert_int_equal(mkdir(dir, 0755), 0);
	write_text(inner, "also precious\n");
	f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->root_fd >= 0);
	f->outside = tree_list(f->base, true, "root");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	close(f->root_fd);
	assert_int_equal(rm_rf(f->base), 0);
	free(f->root);
	free(f->sentinel);
	free(f->outside);
	free(f);
	return 0;
}

/* Nothing outside the root changed: same names, types, modes, owners,
 * contents and times (base's own mtime shows any new name in it). */
static void assert_outside_unchanged(struct fx *f)
{
	_cleanup_free_ char *now = tree_list(f->base, true, "root");
	assert_string_equal(now, f->outside);
}

/* ---- listing a tree ---- */

static void list_at(int dfd, const char *rel, bool times, const char *skip, FILE *out)
{
	struct dirent **ents = NULL;
	int n = scandirat(dfd, ".", &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (STREQ(name, ".") || STREQ(name, "..") || (skip && STREQ(name, skip))) {
			free(ents[i]);
			continue;
		}
		_cleanup_free_ char *path = *rel ? str_printf("%s/%s", rel, name) : strdup(name);
		struct stat st;
		assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
		char type = S_ISREG(st.st_mode)	   ? 'f'
			    : S_ISDIR(st.st_mode)  ? 'd'
			    : S_ISLNK(st.st_mode)  ? 'l'
			    : S_ISCHR(st.st_mode)  ? 'c'
			    : S_ISBLK(st.st_mode)  ? 'b'
			    : S_ISFIFO(st.st_mode) ? 'p'
						   : '?';
		fprintf(out, "%s %c %04o %u:%u", path, type, (unsigned)(st.st_mode & 07777),
			(unsigned)st.st_uid, (unsigned)st.st_gid);
		if (type == 'f') {
			int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
			assert_true(fd >= 0);
			_cleanup_free_ char *data = NULL;
			size_t len = 0;
			assert_int_equal(read_fd_all(fd, 1 << 28, &data, &len), 0);
			close(fd);
			bool text = len <= 40;
			for (size_t j = 0; j < len && text; j++)
				text = data[j] >= 0x20 && data[j] < 0x7f;
			if (text) {
				fprintf(out, " '%s'", data);
			} else {
				char d[DIGEST_STRING_MAX];
				digest_buffer(data, len, d);
				fprintf(out, " #%zu %.15s", len, d);
			}
		} else if (type == 'l') {
			char target[PATH_MAX];
			ssize_t len = readlinkat(dfd, name, target, sizeof(target) - 1);
			assert_true(len >= 0);
			target[len] = '\0';
			fprintf(out, " -> %s", target);
		} else if (type == 'c' || type == 'b') {
			fprintf(out, " %u:%u", major(st.st_rdev), minor(st.st_rdev));
		}
		if (type != 'd' && st.st_nlink > 1)
			fprintf(out, " n%lu", (unsigned long)st.st_nlink);
		if (times) {
			fprintf(out, " @%lld", (long long)st.st_mtim.tv_sec);
			if (st.st_mtim.tv_nsec)
				fprintf(out, ".%09ld", st.st_mtim.tv_nsec);
		}
		fputc('\n', out);
		if (type == 'd') {
			int cfd =
			    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			assert_true(cfd >= 0);
			list_at(cfd, path, times, NULL, out);
			close(cfd);
		}
		free(ents[i]);
	}
	free(ents);
}

/* One line per entry beneath top, sorted: "path type mode uid:gid extra [@mtime]";
 * with skip (a snapshot), top's own mode and time first. */
static char *tree_list(const char *top, bool times, const char *skip)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (skip) {
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		fprintf(out, ". %04o @%lld.%09ld\n", (unsigned)(st.st_mode & 07777),
			(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	list_at(fd, "", times, skip, out);
	close(fd);
	fclose(out);
	return text;
}

/* Remove the " @time" of the line starting with prefix. */
static void strip_time(char *text, const char *prefix)
{
	for (char *line = text; *line;) {
		char *end = strchrnul(line, '\n');
		if (str_startswith(line, prefix)) {
			char *at = memrchr(line, '@', (size_t)(end - line));
			assert_non_null(at);
			memmove(at - 1, end, strlen(end) + 1);
			return;
		}
		line = *end ? end + 1 : end;
	}
	fail_msg("no line '%s'", prefix);
}

static char *root_list(struct fx *f, bool times)
{
	return tree_list(f->root, times, NULL);
}

/* Empty the root for the next case (keeping it, so base's mtime stays). */
static void reset_root(struct fx *f)
{
	struct dirent **ents = NULL;
	int n = scandir(f->root, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (!STREQ(ents[i]->d_name, ".") && !STREQ(ents[i]->d_name, "..")) {
			_cleanup_free_ char *p = path_join(f->root, ents[i]->d_name);
			assert_int_equal(rm_rf(p), 0);
		}
		free(ents[i]);
	}
	free(ents);
}

/* ---- unpacking ---- */

struct layer {
	const struct ent *ents;
	size_t n;
};
#define LAYER(a)                   \
	{                          \
		(a), ELEMENTSOF(a) \
	}

static int unpack_buf(struct fx *f, const struct buf *b, const struct unpack_opts *o,
		      vxn_error **err)
{
	int fd = memfd_of(b->data, b->len);
	int r = layer_unpack(f->root_fd, fd, o, err);
	close(fd);
	return r;
}

static int unpack_ents(struct fx *f, const struct ent *ents, size_t n, bool whiteouts,
		       vxn_error **err)
{
	struct buf b;
	build(ents, n, FILTER_NONE, &b);
	struct unpack_opts o = { .label = "layer test", .whiteouts = whiteouts };
	int r = unpack_buf(f, &b, &o, err);
	buf_free(&b);
	return r;
}

/* Apply layers in order (whiteouts on); all must succeed. */
static void apply_layers(struct fx *f, const struct layer *layers, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vxn_error *err = NULL;
		int r = unpack_ents(f, layers[i].ents, layers[i].n, true, &err);
		if (r != 0)
			print_error("layer %zu: %s\n", i, vxn_error_message(err));
		assert_int_equal(r, 0);
		assert_null(err);
	}
}

static char *read_at(struct fx *f, const char *rel)
{
	_cleanup_free_ char *p = path_join(f->root, rel);
	char *data = NULL;
	assert_int_equal(read_file(p, 1 << 20, &data, NULL), 0);
	return data;
}

static void lstat_at(struct fx *f, const char *rel, struct stat *st)
{
	_cleanup_free_ char *p = path_join(f->root, rel);
	assert_int_equal(lstat(p, st), 0);
}

/* ---- pure helpers ---- */

static void test_unpack_path_normalize(void **state)
{
	static const struct {
		const char *in, *out, *why;
	} cases[] = {
		{ "a", "a", NULL },
		{ "./a", "a", NULL },
		{ "a/", "a", NULL },
		{ "a//b", "a/b", NULL },
		{ "a/./b", "a/b", NULL },
		{ "./", "", NULL },
		{ ".", "", NULL },
		{ ".//.", "", NULL },
		{ "././a/./", "a", NULL },
		{ "a/.", "a", NULL },
		{ "a/b/c/", "a/b/c", NULL },
		{ "a///", "a", NULL },
		{ "...", "...", NULL },
		{ "..a", "..a", NULL },
		{ "a..", "a..", NULL },
		{ ".a/.b", ".a/.b", NULL },
		{ "a/...b/.c.", "a/...b/.c.", NULL },
		{ "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6",
		  NULL },
		{ ".wh..wh..opq", ".wh..wh..opq", NULL },
		{ "./etc/.wh.passwd", "etc/.wh.passwd", NULL },
		{ "caf\xc3\xa9/x", "caf\xc3\xa9/x", NULL },
		{ "sp ace/t\tab", "sp ace/t\tab", NULL },
		{ "", NULL, "empty name" },
		{ "/", NULL, "absolute path" },
		{ "/etc/passwd", NULL, "absolute path" },
		{ "//etc", NULL, "absolute path" },
		{ "/./x", NULL, "absolute path" },
		{ "..", NULL, "path contains '..'" },
		{ "../x", NULL, "path contains '..'" },
		{ "a/..", NULL, "path contains '..'" },
		{ "a/../b", NULL, "path contains '..'" },
		{ "./..", NULL, "path contains '..'" },
		{ "a/b/../../..", NULL, "path contains '..'" },
		{ "x/..//", NULL, "path contains '..'" },
		{ "a/./../b", NULL, "path contains '..'" },
	};
	assert_true(ELEMENTSOF(cases) >= 25);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *out = (char *)"untouched";
		const char *why = NULL;
		int r = unpack_path_normalize(cases[i].in, &out, &why);
		if (cases[i].out) {
			assert_int_equal(r, 0);
			assert_string_equal(out, cases[i].out);
			free(out);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_string_equal(why, cases[i].why);
			assert_string_equal(out, "untouched");
		}
	}
}

static void test_unpack_whiteout_names(void **state)
{
	static const struct {
		const char *in;
		int r;
		const char *target;
	} cases[] = {
		{ "a", 0, NULL },
		{ "d/x.wh.a", 0, NULL },
		{ "wh.a", 0, NULL },
		{ ".WH.a", 0, NULL },
		{ ".wh.a/b", 0, NULL },
		{ "d/.wh", 0, NULL },
		{ ".wh.a", 1, "a" },
		{ "d/.wh.a", 1, "d/a" },
		{ "d/e/.wh..hidden", 1, "d/e/.hidden" },
		{ ".wh....", 1, "..." },
		{ "d/.wh..wh.plnk", 1, "d/.wh.plnk" },
		{ ".wh..wh..opq", 2, "" },
		{ "d/e/.wh..wh..opq", 2, "d/e" },
		{ "d/.wh.", -EINVAL, NULL },
		{ "d/.wh..", -EINVAL, NULL },
		{ ".wh...", -EINVAL, NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *target = (char *)"untouched";
		int r = unpack_whiteout(cases[i].in, &target);
		assert_int_equal(r, cases[i].r);
		if (cases[i].target) {
			assert_string_equal(target, cases[i].target);
			free(target);
		} else {
			assert_string_equal(target, "untouched");
		}
	}
}

/* ---- entry types and metadata ---- */

static void test_unpack_entry_types(void **state)
{
	struct fx *f = *state;
	const struct ent ents[] = {
		{ .kind = 'd', .name = "./", .perm = 0755, .mtime = 1000000001 },
		{ .kind = 'd', .name = "bin", .mtime = 1000000002 },
		{ .kind = 'f', .name = "bin/su", .data = "suid", .perm = 04755 },
		{ .kind = 'f', .name = "bin/sg", .data = "sgid", .perm = 02711, .gid = 42 },
		{ .kind = 'f',
		  .name = "owned",
		  .data = "mine",
		  .perm = 0640,
		  .uid = 1234,
		  .gid = 5678,
		  .mtime = 1234567890,
		  .mtime_nsec = 123456789,
		  .xname = "user.vxn.test",
		  .xvalue = "file value" },
		{ .kind = 'd', .name = "tmp", .perm = 01777, .mtime = 1000000003 },
		{ .kind = 'd',
		  .name = "xd",
		  .perm = 0700,
		  .uid = 7,
		  .gid = 8,
		  .mtime = 1000000004,
		  .xname = "user.vxn.dir",
		  .xvalue = "dir value" },
		{ .kind = 'f', .name = "xd/child", .data = "c" },
		{ .kind = 'l',
		  .name = "link",
		  .data = "bin/su",
		  .uid = 42,
		  .gid = 43,
		  .mtime = 1111 },
		{ .kind = 'l',
		  .name = "abs",
		  .data = "/usr/../../anywhere",
		  .xname = "trusted.vxn",
		  .xvalue = "on a symlink" },
		{ .kind = 'h', .name = "hard", .data = "bin/su" },
		{ .kind = 'd', .name = "dev", .mtime = 1000000005 },
		{ .kind = 'c', .name = "dev/null", .major = 1, .minor = 3, .perm = 0666 },
		{ .kind = 'b',
		  .name = "dev/loop9",
		  .major = 7,
		  .minor = 9,
		  .perm = 0660,
		  .gid = 6 },
		{ .kind = 'p', .name = "dev/fifo", .perm = 0620, .uid = 3 },
		{ .kind = 'f', .name = "./big", .gen_size = 3 << 20, .perm = 0444 },
		{ .kind = 'f', .name = "empty", .data = "" },
		{ .kind = 'f', .name = "implicit/parent/file", .data = "deep" },
	};
	struct buf b;
	build(ents, ELEMENTSOF(ents), FILTER_NONE, &b);
	uint64_t bytes = 0;
	struct unpack_opts o = { .label = "layer t", .whiteouts = true, .unpacked_bytes = &bytes };
	vxn_error *err = NULL;
	int r = unpack_buf(f, &b, &o, &err);
	if (r)
		print_error("%s\n", vxn_error_message(err));
	assert_int_equal(r, 0);
	assert_null(err);
	buf_free(&b);
	assert_int_equal(bytes, 4 + 4 + 4 + 1 + (3 << 20) + 4);

	char big[DIGEST_STRING_MAX];
	char *gen = malloc(3 << 20);
	gen_bytes(gen, 3 << 20, 3 << 20);
	digest_buffer(gen, 3 << 20, big);
	free(gen);
	_cleanup_free_ char *expect =
	    str_printf("abs l 0777 0:0 -> /usr/../../anywhere @1500000000\n"
		       "big f 0444 0:0 #3145728 %.15s @1500000000\n"
		       "bin d 0755 0:0 @1000000002\n"
		       "bin/sg f 2711 0:42 'sgid' @1500000000\n"
		       "bin/su f 4755 0:0 'suid' n2 @1500000000\n"
		       "dev d 0755 0:0 @1000000005\n"
		       "dev/fifo p 0620 3:0 @1500000000\n"
		       "dev/loop9 b 0660 0:6 7:9 @1500000000\n"
		       "dev/null c 0666 0:0 1:3 @1500000000\n"
		       "empty f 0644 0:0 '' @1500000000\n"
		       "hard f 4755 0:0 'suid' n2 @1500000000\n"
		       "implicit d 0755 0:0\n"
		       "implicit/parent d 0755 0:0\n"
		       "implicit/parent/file f 0644 0:0 'deep' @1500000000\n"
		       "link l 0777 42:43 -> bin/su @1111\n"
		       "owned f 0640 1234:5678 'mine' @1234567890.123456789\n"
		       "tmp d 1777 0:0 @1000000003\n"
		       "xd d 0700 7:8 @1000000004\n"
		       "xd/child f 0644 0:0 'c' @1500000000\n",
		       big);
	/* The implicit directories have the time of their creation. */
	_cleanup_free_ char *got = root_list(f, true);
	strip_time(got, "implicit d ");
	strip_time(got, "implicit/parent d ");
	assert_string_equal(got, expect);

	/* The root took the "./" entry's mode and time. */
	struct stat st;
	assert_int_equal(fstat(f->root_fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_mtim.tv_sec, 1000000001);

	struct stat a, h;
	lstat_at(f, "bin/su", &a);
	lstat_at(f, "hard", &h);
	assert_int_equal(a.st_ino, h.st_ino);
	assert_int_equal(a.st_nlink, 2);

	char v[64];
	_cleanup_free_ char *owned = path_join(f->root, "owned");
	ssize_t n = getxattr(owned, "user.vxn.test", v, sizeof(v));
	assert_int_equal(n, strlen("file value"));
	assert_memory_equal(v, "file value", (size_t)n);
	_cleanup_free_ char *xd = path_join(f->root, "xd");
	n = getxattr(xd, "user.vxn.dir", v, sizeof(v));
	assert_int_equal(n, strlen("dir value"));
	assert_memory_equal(v, "dir value", (size_t)n);
	_cleanup_free_ char *abs = path_join(f->root, "abs");
	n = lgetxattr(abs, "trusted.vxn", v, sizeof(v));
	assert_int_equal(n, strlen("on a symlink"));
	assert_memory_equal(v, "on a symlink", (size_t)n);
	assert_outside_unchanged(f);
}

static void test_unpack_sparse_file(void **state)
{
	struct fx *f = *state;
	const size_t size = 8 << 20, chunk = 4096;
	char head[4096], tail[4096];
	memset(head, 'h', sizeof(head));
	memset(tail, 't', sizeof(tail));

	struct buf b = { 0 };
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open(a, &b, NULL, buf_write_cb, NULL), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "sparse");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_sparse_add_entry(e, 0, (la_int64_t)chunk);
	archive_entry_sparse_add_entry(e, (la_int64_t)(size / 2), (la_int64_t)chunk);
	/* The file ends in a hole. */
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	/* The writer takes the whole contents and stores only the mapped parts. */
	_cleanup_free_ char *full = calloc(1, size);
	assert_non_null(full);
	memcpy(full, head, chunk);
	memcpy(full + size / 2, tail, chunk);
	assert_int_equal(archive_write_data(a, full, size), (la_ssize_t)size);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_true(b.len < size / 4);

	uint64_t bytes = 0;
	struct unpack_opts o = { .label = "layer s", .unpacked_bytes = &bytes };
	vxn_error *err = NULL;
	int r = unpack_buf(f, &b, &o, &err);
	if (r)
		print_error("%s\n", vxn_error_message(err));
	assert_int_equal(r, 0);
	buf_free(&b);
	assert_int_equal(bytes, 2 * chunk);

	struct stat st;
	lstat_at(f, "sparse", &st);
	assert_int_equal(st.st_size, size);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Holes stayed holes (a few blocks, not 8 MiB of zeros). */
	assert_true((uint64_t)st.st_blocks * 512 < size / 8);
	_cleanup_free_ char *p = path_join(f->root, "sparse");
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	assert_int_equal(read_file(p, size, &data, &len), 0);
	assert_int_equal(len, size);
	assert_memory_equal(data, full, size);
}

static void test_unpack_utf8_name(void **state)
{
	struct fx *f = *state;
	locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	if (!utf8)
		skip();
	/* Written as a UTF-8 system writes it (pax path=), unpacked in the C
	 * locale in which the library finds itself. */
	locale_t old = uselocale(utf8);
	const struct ent ents[] = { F("caf\xc3\xa9/na\xc3\xafve", "utf-8") };
	struct buf b;
	build(ents, ELEMENTSOF(ents), FILTER_NONE, &b);
	uselocale(old);
	freelocale(utf8);
	struct unpack_opts o = { .label = "layer u" };
	vxn_error *err = NULL;
	assert_int_equal(unpack_buf(f, &b, &o, &err), 0);
	buf_free(&b);
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "caf\xc3\xa9 d 0755 0:0\n"
				 "caf\xc3\xa9/na\xc3\xafve f 0644 0:0 'utf-8'\n");
}

/* ---- compression and digests ---- */

static const struct ent digest_ents[] = {
	D("etc"),
	F("etc/hostname", "vxn\n"),
	{ .kind = 'f', .name = "data/blob", .gen_size = 200000 },
	L("etc/link", "hostname"),
};

static void test_unpack_compressions(void **state)
{
	struct fx *f = *state;
	struct buf plain, unpadded;
	char diff_id_plain[DIGEST_STRING_MAX], diff_id[DIGEST_STRING_MAX];
	build(digest_ents, ELEMENTSOF(digest_ents), FILTER_NONE, &plain);
	digest_buffer(plain.data, plain.len, diff_id_plain);
	build_unpadded(digest_ents, ELEMENTSOF(digest_ents), &unpadded);
	digest_buffer(unpadded.data, unpadded.len, diff_id);
	assert_true(unpadded.len < plain.len);
	assert_memory_equal(unpadded.data, plain.data, unpadded.len);
	buf_free(&plain);
	buf_free(&unpadded);

	static const enum filter filters[] = { FILTER_NONE, FILTER_GZIP, FILTER_ZSTD, FILTER_XZ,
					       FILTER_BZIP2 };
	_cleanup_free_ char *first = NULL;
	for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
		struct buf b;
		build(digest_ents, ELEMENTSOF(digest_ents), filters[i], &b);
		char raw[DIGEST_STRING_MAX], got[DIGEST_STRING_MAX] = "";
		digest_buffer(b.data, b.len, raw);
		_cleanup_free_ char *label = str_printf("layer %s", raw);
		uint64_t bytes = 0;
		struct unpack_opts o = { .label = label,
					 .whiteouts = true,
					 .expect_digest = raw,
					 .diff_id_out = got,
					 .unpacked_bytes = &bytes };
		vxn_error *err = NULL;
		int r = unpack_buf(f, &b, &o, &err);
		if (r)
			print_error("filter %zu: %s\n", i, vxn_error_message(err));
		assert_int_equal(r, 0);
		assert_string_equal(got, filters[i] == FILTER_NONE ? diff_id_plain : diff_id);
		assert_int_equal(bytes, 4 + 200000);
		buf_free(&b);

		_cleanup_free_ char *tree = root_list(f, false);
		if (!first)
			first = strdup(tree);
		else
			assert_string_equal(tree, first);
		reset_root(f);
	}
	assert_non_null(strstr(first, "etc/hostname f 0644 0:0 #4 "));
	assert_non_null(strstr(first, "data/blob f 0644 0:0 #200000 "));
}

static void check_mismatch(struct fx *f, enum filter filter, size_t flip_at_percent)
{
	struct buf b;
	build(digest_ents, ELEMENTSOF(digest_ents), filter, &b);
	char good[DIGEST_STRING_MAX], bad[DIGEST_STRING_MAX];
	digest_buffer(b.data, b.len, good);
	b.data[b.len * flip_at_percent / 100] ^= 0x01;
	digest_buffer(b.data, b.len, bad);

	_cleanup_free_ char *label = str_printf("layer %s", good);
	char diff_id[DIGEST_STRING_MAX] = "untouched";
	uint64_t bytes = 42;
	struct unpack_opts o = { .label = label,
				 .whiteouts = true,
				 .expect_digest = good,
				 .diff_id_out = diff_id,
				 .unpacked_bytes = &bytes };
	vxn_error *err = NULL;
	assert_int_equal(unpack_buf(f, &b, &o, &err), VXN_EDIGEST);
	assert_int_equal(vxn_error_code(err), VXN_EDIGEST);
	_cleanup_free_ char *msg = str_printf("layer %s: digest mismatch: got %s", good, bad);
	assert_string_equal(vxn_error_message(err), msg);
	vxn_error_free(err);
	assert_string_equal(diff_id, "untouched");
	assert_int_equal(bytes, 42);

	/* A label without the digest gets it spelt out. */
	o.label = "layer 3";
	err = NULL;
	assert_int_equal(unpack_buf(f, &b, &o, &err), VXN_EDIGEST);
	_cleanup_free_ char *msg2 =
	    str_printf("layer 3: digest mismatch: expected %s, got %s", good, bad);
	assert_string_equal(vxn_error_message(err), msg2);
	vxn_error_free(err);
	buf_free(&b);
}

static void test_unpack_digest_mismatch(void **state)
{
	struct fx *f = *state;
	/* In file content of a plain tar: the entries unpack, the digest fails. */
	check_mismatch(f, FILTER_NONE, 60);
	/* In the middle of gzip data: the decompressor fails first; the digest
	 * mismatch is what is reported. */
	check_mismatch(f, FILTER_GZIP, 50);
	/* In the gzip trailer (after all entries). */
	check_mismatch(f, FILTER_GZIP, 99);
	check_mismatch(f, FILTER_ZSTD, 40);
}

/* A writer on the other end of a pipe sees every byte consumed, trailing
 * garbage included, and the digests cover them. */
static void test_unpack_pipe_reads_to_eof(void **state)
{
	struct fx *f = *state;
	for (int gz = 0; gz < 2; gz++) {
		struct buf b, plain;
		build(digest_ents, ELEMENTSOF(digest_ents), gz ? FILTER_GZIP : FILTER_NONE, &b);
		if (gz)
			build_unpadded(digest_ents, ELEMENTSOF(digest_ents), &plain);
		else
			build(digest_ents, ELEMENTSOF(digest_ents), FILTER_NONE, &plain);
		char junk[70000];
		memset(junk, gz ? 0 : 'j', sizeof(junk));
		if (!gz) /* after a plain tar, anything; after gzip, zeros */
			buf_append(&b, junk, sizeof(junk));
		else
			buf_append(&b, junk, 3);
		char raw[DIGEST_STRING_MAX], diff_id[DIGEST_STRING_MAX], got[DIGEST_STRING_MAX];
		digest_buffer(b.data, b.len, raw);
		if (!gz)
			buf_append(&plain, junk, sizeof(junk));
		digest_buffer(plain.data, plain.len, diff_id);

		int p[2];
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			_exit(write_all(p[1], b.data, b.len) == 0 ? 0 : 1);
		}
		close(p[1]);
		struct unpack_opts o = { .label = "layer pipe",
					 .whiteouts = true,
					 .expect_digest = raw,
					 .diff_id_out = got };
		vxn_error *err = NULL;
		int r = layer_unpack(f->root_fd, p[0], &o, &err);
		close(p[0]);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (r)
			print_error("%s\n", vxn_error_message(err));
		assert_int_equal(r, 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_string_equal(got, diff_id);
		_cleanup_free_ char *host = read_at(f, "etc/hostname");
		assert_string_equal(host, "vxn\n");
		buf_free(&b);
		buf_free(&plain);
	}
}

static void test_unpack_not_a_tar(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *data;
		size_t len;
		const char *msg;
	} cases[] = {
		{ "", 0, "layer x: not a tar archive: empty input" },
		{ "this is not a tar archive, only text\n", 37, "layer x: not a tar archive: " },
		/* gzip magic, then garbage */
		{ "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage", 25, "layer x: " },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct buf b = { 0 };
		buf_append(&b, cases[i].data, cases[i].len + 1);
		b.len--;
		struct unpack_opts o = { .label = "layer x" };
		vxn_error *err = NULL;
		assert_int_equal(unpack_buf(f, &b, &o, &err), VXN_EINVAL);
		assert_true(str_startswith(vxn_error_message(err), cases[i].msg));
		assert_null(strchr(vxn_error_message(err), '\n'));
		vxn_error_free(err);
		buf_free(&b);
	}
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "");
	/* A truncated layer. */
	struct buf b;
	build(digest_ents, ELEMENTSOF(digest_ents), FILTER_GZIP, &b);
	b.len /= 2;
	struct unpack_opts o = { .label = "layer x" };
	vxn_error *err = NULL;
	assert_int_equal(unpack_buf(f, &b, &o, &err), VXN_EINVAL);
	assert_true(str_startswith(vxn_error_message(err), "layer x: "));
	vxn_error_free(err);
	buf_free(&b);
	assert_outside_unchanged(f);
}

/* ---- layers on layers ---- */

static void test_unpack_whiteouts(void **state)
{
	struct fx *f = *state;
	const struct ent l1[] = {
		D("a"),	  F("a/f", "f"),   F("a/g", "g"), D("d"),
		D("d/x"), F("d/x/y", "y"), F("top", "t"),
	};
	const struct ent l2[] = {
		F("a/.wh.f", ""),	F(".wh.d", ""),	      F("./.wh.top", ""),
		F("a/.wh.missing", ""), F("nodir/.wh.x", ""), F("a/new", "n"),
	};
	const struct layer layers[] = { LAYER(l1), LAYER(l2) };
	apply_layers(f, layers, ELEMENTSOF(layers));
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "a d 0755 0:0\n"
				 "a/g f 0644 0:0 'g'\n"
				 "a/new f 0644 0:0 'n'\n");
	assert_outside_unchanged(f);
}

static void test_unpack_opaque_marker_first(void **state)
{
	struct fx *f = *state;
	const struct ent l1[] = {
		D("o"),	     F("o/old", "1"),	 D("o/sub"),	 F("o/sub/old2", "2"),
		D("o/gone"), F("o/gone/x", "3"), F("keep", "k"),
	};
	const struct ent l2[] = {
		D("o"), F("o/.wh..wh..opq", ""), F("o/new", "n"), D("o/sub"), F("o/sub/new2", "m"),
	};
	const struct layer layers[] = { LAYER(l1), LAYER(l2) };
	apply_layers(f, layers, ELEMENTSOF(layers));
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "keep f 0644 0:0 'k'\n"
				 "o d 0755 0:0\n"
				 "o/new f 0644 0:0 'n'\n"
				 "o/sub d 0755 0:0\n"
				 "o/sub/new2 f 0644 0:0 'm'\n");
	assert_outside_unchanged(f);
}

static void test_unpack_opaque_marker_last(void **state)
{
	struct fx *f = *state;
	const struct ent l1[] = {
		D("o"),	     F("o/old", "1"),	 D("o/sub"),	 F("o/sub/old2", "2"),
		D("o/gone"), F("o/gone/x", "3"), F("keep", "k"),
	};
	/* This layer's entries come first; the marker must not remove them,
	 * nor o/deep/er which it creates without a directory entry. */
	const struct ent l2[] = {
		D("o"),
		F("o/new", "n"),
		D("o/sub"),
		F("o/sub/new2", "m"),
		F("o/deep/er/f", "d"),
		L("o/ln", "new"),
		F("o/.wh..wh..opq", ""),
	};
	const struct layer layers[] = { LAYER(l1), LAYER(l2) };
	apply_layers(f, layers, ELEMENTSOF(layers));
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "keep f 0644 0:0 'k'\n"
				 "o d 0755 0:0\n"
				 "o/deep d 0755 0:0\n"
				 "o/deep/er d 0755 0:0\n"
				 "o/deep/er/f f 0644 0:0 'd'\n"
				 "o/ln l 0777 0:0 -> new\n"
				 "o/new f 0644 0:0 'n'\n"
				 "o/sub d 0755 0:0\n"
				 "o/sub/new2 f 0644 0:0 'm'\n");
	/* A root-level opaque marker. */
	const struct ent l3[] = { F("fresh", "x"), F(".wh..wh..opq", "") };
	const struct layer more[] = { LAYER(l3) };
	apply_layers(f, more, ELEMENTSOF(more));
	_cleanup_free_ char *got2 = root_list(f, false);
	assert_string_equal(got2, "fresh f 0644 0:0 'x'\n");
	assert_outside_unchanged(f);
}

static void test_unpack_whiteouts_off(void **state)
{
	struct fx *f = *state;
	const struct ent l1[] = { F("f", "lower"), D("d"), F("d/x", "x") };
	const struct ent l2[] = { F(".wh.f", "w"), F("d/.wh..wh..opq", "o") };
	vxn_error *err = NULL;
	assert_int_equal(unpack_ents(f, l1, ELEMENTSOF(l1), false, &err), 0);
	assert_int_equal(unpack_ents(f, l2, ELEMENTSOF(l2), false, &err), 0);
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, ".wh.f f 0644 0:0 'w'\n"
				 "d d 0755 0:0\n"
				 "d/.wh..wh..opq f 0644 0:0 'o'\n"
				 "d/x f 0644 0:0 'x'\n"
				 "f f 0644 0:0 'lower'\n");
}

static void test_unpack_replace(void **state)
{
	struct fx *f = *state;
	const struct ent l1[] = {
		F("a", "file a"),
		D("b"),
		D("b/c"),
		F("b/c/d", "deep"),
		D("s-target"),
		L("s", "s-target"),
		{ .kind = 'd', .name = "keep", .perm = 0700 },
		F("keep/child", "kept"),
		F("fifo-here", "x"),
		D("lib-real"),
		L("lib", "lib-real"),
		{ .kind = 'd', .name = "twice", .mtime = 100 },
	};
	const struct ent l2[] = {
		D("a"),
		F("a/x", "x"),
		F("b", "file b"),
		D("s"),
		F("s/in", "in"),
		{ .kind = 'd', .name = "keep", .perm = 0711, .uid = 5, .gid = 6, .mtime = 2000 },
		{ .kind = 'p', .name = "fifo-here" },
		/* Through a symlink of a lower layer that stays beneath the root. */
		F("lib/via-link", "v"),
		{ .kind = 'd', .name = "twice", .mtime = 100 },
		F("twice", "now a file"),
		{ .kind = 'd', .name = "twice", .mtime = 300 },
	};
	const struct layer layers[] = { LAYER(l1), LAYER(l2) };
	apply_layers(f, layers, ELEMENTSOF(layers));
	_cleanup_free_ char *got = root_list(f, false);
	assert_string_equal(got, "a d 0755 0:0\n"
				 "a/x f 0644 0:0 'x'\n"
				 "b f 0644 0:0 'file b'\n"
				 "fifo-here p 0644 0:0\n"
				 "keep d 0711 5:6\n"
				 "keep/child f 0644 0:0 'kept'\n"
				 "lib l 0777 0:0 -> lib-real\n"
				 "lib-real d 0755 0:0\n"
				 "lib-real/via-link f 0644 0:0 'v'\n"
				 "s d 0755 0:0\n"
				 "s/in f 0644 0:0 'in'\n"
				 "s-target d 0755 0:0\n"
				 "twice d 0755 0:0\n");
	struct stat st;
	lstat_at(f, "keep", &st);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	lstat_at(f, "twice", &st);
	assert_int_equal(st.st_mtim.tv_sec, 300);
	assert_outside_unchanged(f);
}

/* A symlink of a lower layer pointing outside is replaced, never followed,
 * by a file, directory or hard link of the same name. */
static void test_unpack_final_symlink_not_followed(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *outfile = path_join(f->sentinel, "file");
	const struct ent l1[] = {
		L("f", outfile), L("d", "../sentinel/dir"), L("n", "../sentinel/file"),
		L("h", outfile), F("src", "src"),	    L("m", f->sentinel),
	};
	const struct ent l2[] = {
		{ .kind = 'f', .name = "f", .data = "replaced", .perm = 0600, .uid = 9 },
		{ .kind = 'd', .name = "d", .perm = 0700, .uid = 9 },
		{ .kind = 'p', .name = "n", .perm = 0600 },
		H("h", "src"),
		/* A hard link to a symlink links the symlink itself. */
		H("m2", "m"),
	};
	const struct layer layers[] = { LAYER(l1), LAYER(l2) };
	apply_layers(f, layers, ELEMENTSOF(layers));
	_cleanup_free_ char *got = root_list(f, false);
	_cleanup_free_ char *expect = str_printf("d d 0700 9:0\n"
						 "f f 0600 9:0 'replaced'\n"
						 "h f 0644 0:0 'src' n2\n"
						 "m l 0777 0:0 -> %s n2\n"
						 "m2 l 0777 0:0 -> %s n2\n"
						 "n p 0600 0:0\n"
						 "src f 0644 0:0 'src' n2\n",
						 f->sentinel, f->sentinel);
	assert_string_equal(got, expect);
	assert_outside_unchanged(f);
}

/* ---- hostile layers ---- */

/* The last layer must fail with EINVAL naming the layer, the entry and why;
 * nothing outside the root may have changed. */
static void check_hostile(struct fx *f, const struct layer *layers, size_t n, const char *entry,
			  const char *why)
{
	apply_layers(f, layers, n - 1);
	struct buf b;
	build(layers[n - 1].ents, layers[n - 1].n, FILTER_GZIP, &b);
	struct unpack_opts o = { .label = "layer sha256:bad", .whiteouts = true };
	vxn_error *err = NULL;
	int r = unpack_buf(f, &b, &o, &err);
	buf_free(&b);
	assert_int_equal(r, VXN_EINVAL);
	assert_int_equal(vxn_error_code(err), VXN_EINVAL);
	_cleanup_free_ char *msg = str_printf("layer sha256:bad: entry '%s': %s", entry, why);
	assert_string_equal(vxn_error_message(err), msg);
	vxn_error_free(err);
	assert_outside_unchanged(f);
	reset_root(f);
	assert_outside_unchanged(f);
}

#define ESCAPES "path escapes rootfs through a symbolic link"

static void test_unpack_hostile_names(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *abs = path_join(f->sentinel, "abs");
	const struct ent dotdot[] = { F("ok", "ok"), F("../sentinel/escape", "x") };
	const struct ent deep[] = { D("a"), F("a/b/../../../sentinel/file", "x") };
	const struct ent absolute[] = { { .kind = 'f', .name = abs, .data = "x" } };
	const struct ent etc[] = { F("/etc/passwd", "root::0:0::/:/bin/sh\n") };
	const struct ent absdir[] = { D("/") };
	const struct layer l_dotdot[] = { LAYER(dotdot) };
	const struct layer l_deep[] = { LAYER(deep) };
	const struct layer l_abs[] = { LAYER(absolute) };
	const struct layer l_etc[] = { LAYER(etc) };
	const struct layer l_absdir[] = { LAYER(absdir) };
	check_hostile(f, l_dotdot, 1, "../sentinel/escape", "path contains '..'");
	check_hostile(f, l_deep, 1, "a/b/../../../sentinel/file", "path contains '..'");
	check_hostile(f, l_abs, 1, abs, "absolute path");
	check_hostile(f, l_etc, 1, "/etc/passwd", "absolute path");
	check_hostile(f, l_absdir, 1, "/", "absolute path");
}

static void test_unpack_hostile_symlinks(void **state)
{
	struct fx *f = *state;
	const struct ent absolute[] = { L("evil", f->sentinel), F("evil/pwned", "x") };
	const struct ent relative[] = { L("evil", "../sentinel"), F("evil/pwned", "x") };
	const struct ent nested[] = { D("d"), L("d/evil", "../../sentinel"),
				      F("d/evil/dir/pwned", "x") };
	const struct ent via_dir[] = { L("evil", "../sentinel"), D("evil/dir/new") };
	const struct ent chained[] = { L("one", "two"), L("two", "../sentinel"),
				       F("one/file", "overwritten") };
	const struct ent dev[] = { L("evil", f->sentinel),
				   { .kind = 'c', .name = "evil/null", .major = 1, .minor = 3 } };
	const struct layer l_abs[] = { LAYER(absolute) };
	const struct layer l_rel[] = { LAYER(relative) };
	const struct layer l_nested[] = { LAYER(nested) };
	const struct layer l_via_dir[] = { LAYER(via_dir) };
	const struct layer l_chained[] = { LAYER(chained) };
	const struct layer l_dev[] = { LAYER(dev) };
	check_hostile(f, l_abs, 1, "evil/pwned", ESCAPES);
	check_hostile(f, l_rel, 1, "evil/pwned", ESCAPES);
	check_hostile(f, l_nested, 1, "d/evil/dir/pwned", ESCAPES);
	/* libarchive writes directory names with a trailing '/'. */
	check_hostile(f, l_via_dir, 1, "evil/dir/new/", ESCAPES);
	check_hostile(f, l_chained, 1, "one/file", ESCAPES);
	check_hostile(f, l_dev, 1, "evil/null", ESCAPES);

	/* The symlink comes from a lower layer. */
	const struct ent lower[] = { L("usr", f->sentinel) };
	const struct ent upper[] = { D("usr/lib"), F("usr/lib/libc.so", "x") };
	const struct layer l_lower[] = { LAYER(lower), LAYER(upper) };
	check_hostile(f, l_lower, 2, "usr/lib/", ESCAPES);
}

static void test_unpack_hostile_swap(void **state)
{
	struct fx *f = *state;
	/* A directory, written into, then replaced by a symlink, written into again. */
	const struct ent swap[] = {
		D("d"),
		F("d/a", "a"),
		L("d", f->sentinel),
		F("d/b", "x"),
	};
	const struct ent swap_rel[] = {
		D("d"), D("d/sub"), F("d/sub/a", "a"), L("d", "../sentinel"), F("d/sub/b", "x"),
	};
	/* x/s names x itself; the symlink replaced through it is x/s. */
	const struct ent self[] = {
		D("x"), L("x/s", "."), F("x/s/f", "f"), L("x/s/s", f->sentinel), F("x/s/g", "x"),
	};
	const struct layer l_swap[] = { LAYER(swap) };
	const struct layer l_swap_rel[] = { LAYER(swap_rel) };
	const struct layer l_self[] = { LAYER(self) };
	check_hostile(f, l_swap, 1, "d/b", ESCAPES);
	check_hostile(f, l_swap_rel, 1, "d/sub/b", ESCAPES);
	check_hostile(f, l_self, 1, "x/s/g", ESCAPES);

	/* The directory is a lower layer's; the swap and the write are this one's. */
	const struct ent lower[] = { D("etc"), F("etc/passwd", "root") };
	const struct ent upper[] = { L("etc", "../sentinel/dir"), F("etc/inner", "x") };
	const struct layer l_lower[] = { LAYER(lower), LAYER(upper) };
	check_hostile(f, l_lower, 2, "etc/inner", ESCAPES);
}

static void test_unpack_hostile_hardlinks(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *abs = path_join(f->sentinel, "file");
	const struct ent dotdot[] = { H("hl", "../sentinel/file") };
	const struct ent absolute[] = { { .kind = 'h', .name = "hl", .data = abs } };
	const struct ent via_symlink[] = { L("evil", "../sentinel"), H("hl", "evil/file") };
	const struct ent via_abs_symlink[] = { L("evil", f->sentinel), H("hl", "evil/dir/inner") };
	const struct layer l_dotdot[] = { LAYER(dotdot) };
	const struct layer l_abs[] = { LAYER(absolute) };
	const struct layer l_via[] = { LAYER(via_symlink) };
	const struct layer l_via_abs[] = { LAYER(via_abs_symlink) };
	check_hostile(f, l_dotdot, 1, "hl",
		      "hard link target '../sentinel/file': path contains '..'");
	_cleanup_free_ char *why = str_printf("hard link target '%s': absolute path", abs);
	check_hostile(f, l_abs, 1, "hl", why);
	check_hostile(f, l_via, 1, "hl", "hard link target 'evil/file': " ESCAPES);
	check_hostile(f, l_via_abs, 1, "hl", "hard link target 'evil/dir/inner': " ESCAPES);

	/* Through a symlink a lower layer left. */
	const struct ent lower[] = { L("etc", f->sentinel) };
	const struct ent upper[] = { H("stolen", "etc/file") };
	const struct layer l_lower[] = { LAYER(lower), LAYER(upper) };
	check_hostile(f, l_lower, 2, "stolen", "hard link target 'etc/file': " ESCAPES);
}

static void test_unpack_hostile_whiteouts(void **state)
{
	struct fx *f = *state;
	const struct ent through[] = { L("evil", "../sentinel"), F("evil/.wh.file", "") };
	const struct ent opaque[] = { L("evil", f->sentinel), F("evil/.wh..wh..opq", "") };
	const struct ent opaque_dir[] = { L("evil", f->sentinel), F("evil/dir/.wh..wh..opq", "") };
	const struct ent dotdot[] = { F("a/.wh..", "") };
	const struct ent up[] = { F("../.wh.sentinel", "") };
	const struct layer l_through[] = { LAYER(through) };
	const struct layer l_opaque[] = { LAYER(opaque) };
	const struct layer l_opaque_dir[] = { LAYER(opaque_dir) };
	const struct layer l_dotdot[] = { LAYER(dotdot) };
	const struct layer l_up[] = { LAYER(up) };
	check_hostile(f, l_through, 1, "evil/.wh.file", "whiteout: " ESCAPES);
	check_hostile(f, l_opaque, 1, "evil/.wh..wh..opq", "opaque directory: " ESCAPES);
	check_hostile(f, l_opaque_dir, 1, "evil/dir/.wh..wh..opq", "opaque directory: " ESCAPES);
	check_hostile(f, l_dotdot, 1, "a/.wh..", "malformed whiteout name");
	check_hostile(f, l_up, 1, "../.wh.sentinel", "path contains '..'");

	const struct ent lower[] = { L("var", "../sentinel") };
	const struct ent upper[] = { F("var/dir/.wh.inner", "") };
	const struct layer l_lower[] = { LAYER(lower), LAYER(upper) };
	check_hostile(f, l_lower, 2, "var/dir/.wh.inner", "whiteout: " ESCAPES);
}

static void test_unpack_malformed(void **state)
{
	struct fx *f = *state;
	const struct ent to_dir[] = { D("d"), H("hl", "d") };
	const struct ent missing[] = { H("hl", "nowhere/file") };
	const struct ent missing2[] = { D("a"), H("hl", "a/file") };
	const struct ent itself[] = { F("f", "f"), H("./f", "f") };
	const struct ent root_file[] = { L(".", "elsewhere") };
	const struct ent root_link[] = { F("f", "f"), H(".", "f") };
	const struct ent under_file[] = { F("f", "f"), F("f/x", "x") };
	const struct layer l_to_dir[] = { LAYER(to_dir) };
	const struct layer l_missing[] = { LAYER(missing) };
	const struct layer l_missing2[] = { LAYER(missing2) };
	const struct layer l_itself[] = { LAYER(itself) };
	const struct layer l_root_file[] = { LAYER(root_file) };
	const struct layer l_root_link[] = { LAYER(root_link) };
	const struct layer l_under_file[] = { LAYER(under_file) };
	check_hostile(f, l_to_dir, 1, "hl", "hard link target 'd': is a directory");
	check_hostile(f, l_missing, 1, "hl", "hard link target 'nowhere/file': does not exist");
	check_hostile(f, l_missing2, 1, "hl", "hard link target 'a/file': does not exist");
	check_hostile(f, l_itself, 1, "./f", "hard link to itself");
	check_hostile(f, l_root_file, 1, ".", "would replace the root directory");
	check_hostile(f, l_root_link, 1, ".", "would replace the root directory");
	check_hostile(f, l_under_file, 1, "f/x", "a parent is not a directory");

	/* libarchive reads a file named "./" as one without a name. */
	const struct ent noname[] = { F("./", "x") };
	vxn_error *err = NULL;
	assert_int_equal(unpack_ents(f, noname, ELEMENTSOF(noname), true, &err), VXN_EINVAL);
	assert_string_equal(vxn_error_message(err), "layer test: entry without a name");
	vxn_error_free(err);
	assert_outside_unchanged(f);
}

static void test_unpack_message_escapes_name(void **state)
{
	struct fx *f = *state;
	const struct ent ents[] = { F("../new\nline", "x") };
	const struct layer l[] = { LAYER(ents) };
	check_hostile(f, l, 1, "../new\\x0aline", "path contains '..'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unpack_path_normalize),
		cmocka_unit_test(test_unpack_whiteout_names),
		cmocka_unit_test_setup_teardown(test_unpack_entry_types, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_sparse_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_utf8_name, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_compressions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_digest_mismatch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_pipe_reads_to_eof, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_not_a_tar, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_whiteouts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_opaque_marker_first, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_opaque_marker_last, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_whiteouts_off, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_replace, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_final_symlink_not_followed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_hostile_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_hostile_symlinks, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_hostile_swap, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_hostile_hardlinks, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_hostile_whiteouts, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_malformed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unpack_message_escapes_name, fx_setup,
						fx_teardown),
	};
	if (geteuid() != 0) {
		/* Ownership, devices and trusted.* xattrs need root. */
		fprintf(stderr, "test-unpack: needs root, skipping\n");
		return 77;
	}
	return cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
}
