/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * newc cpio writer for the per-container initramfs (see cpio.h). Pure: the
 * bytes go to memory or a callback, so it is tested without files and guest
 * tooling can compile it alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/cpio.h"

struct cpio_writer {
	cpio_write_fn fn;
	void *userdata;
	/* memory writers */
	uint8_t *mem;
	size_t mem_size, mem_alloc;
	/* bytes written so far (for the padding) */
	uint64_t offset;
	/* data still owed to the current entry */
	uint64_t remaining;
	uint32_t next_ino;
	bool finished;
	int error; /* sticky -errno */
};

static int mem_write(void *userdata, const void *data, size_t size)
{
	cpio_writer *w = userdata;
	if (size > SIZE_MAX - w->mem_size)
		return -ENOMEM;
	if (w->mem_size + size > w->mem_alloc) {
		size_t n = w->mem_alloc ? w->mem_alloc : 4096;
		while (n < w->mem_size + size) {
			if (n > SIZE_MAX / 2)
				return -ENOMEM;
			n *= 2;
		}
		uint8_t *m = realloc(w->mem, n);
		if (!m)
			return -ENOMEM;
		w->mem = m;
		w->mem_alloc = n;
	}
	memcpy(w->mem + w->mem_size, data, size);
	w->mem_size += size;
	return 0;
}

int cpio_writer_new_stream(cpio_writer **out, cpio_write_fn fn, void *userdata)
{
	if (!out || !fn)
		return -EINVAL;
	cpio_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->userdata = userdata;
	w->next_ino = 1;
	*out = w;
	return 0;
}

int cpio_writer_new(cpio_writer **out)
{
	cpio_writer *w = NULL;
	int r = cpio_writer_new_stream(&w, mem_write, NULL);
	if (r < 0)
		return r;
	w->userdata = w;
	*out = w;
	return 0;
}

void cpio_writer_free(cpio_writer *w)
{
	if (!w)
		return;
	free(w->mem);
	free(w);
}

static int emit(cpio_writer *w, const void *data, size_t size)
{
	if (w->error)
		return w->error;
	if (size == 0)
		return 0;
	int r = w->fn(w->userdata, data, size);
	if (r < 0)
		return (w->error = r);
	w->offset += size;
	return 0;
}

/* Zero bytes up to the next multiple of 4. */
static int pad4(cpio_writer *w)
{
	static const uint8_t zeros[3];
	return emit(w, zeros, (size_t)(-w->offset & 3));
}

static void hex8(char *p, uint32_t v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 7; i >= 0; i--, v >>= 4)
		p[i] = digits[v & 0xf];
}

/* Header + name + padding. */
static int emit_header(cpio_writer *w, const char *name, size_t name_len, uint32_t ino,
		       uint32_t mode, uint32_t uid, uint32_t gid, uint32_t nlink, uint32_t mtime,
		       uint32_t size, uint32_t rdev_major, uint32_t rdev_minor)
{
	char h[CPIO_NEWC_HEADER_SIZE];
	const uint32_t fields[13] = {
		ino,
		mode,
		uid,
		gid,
		nlink,
		mtime,
		size,
		0 /* devmajor */,
		0 /* devminor */,
		rdev_major,
		rdev_minor,
		(uint32_t)name_len + 1,
		0 /* check: only the 070702 variant uses it */
	};
	memcpy(h, CPIO_NEWC_MAGIC, 6);
	for (size_t i = 0; i < 13; i++)
		hex8(h + 6 + 8 * i, fields[i]);
	int r = emit(w, h, sizeof(h));
	if (r < 0)
		return r;
	r = emit(w, name, name_len);
	if (r < 0)
		return r;
	r = emit(w, "", 1);
	if (r < 0)
		return r;
	return pad4(w);
}

/* Strip leading slashes and trailing slashes; validate the components. Sets
 * *start and *len to the stored name within @path. */
static int normalize(const char *path, const char **start, size_t *len)
{
	if (!path)
		return -EINVAL;
	while (*path == '/')
		path++;
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return -EINVAL;
	if (n > CPIO_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t c = j - i;
		if (c == 0 || (c == 1 && path[i] == '.') ||
		    (c == 2 && path[i] == '.' && path[i + 1] == '.'))
			return -EINVAL;
		i = j + 1;
	}
	*start = path;
	*len = n;
	return 0;
}

int cpio_writer_add(cpio_writer *w, const struct cpio_entry *e)
{
	if (!w || !e)
		return -EINVAL;
	if (w->error)
		return w->error;
	if (w->finished || w->remaining)
		return -EINVAL;
	const char *name;
	size_t name_len;
	int r = normalize(e->path, &name, &name_len);
	if (r < 0)
		return r;
	if (e->mode & ~(uint32_t)(S_IFMT | 07777))
		return -EINVAL;
	switch (e->mode & S_IFMT) {
	case S_IFREG:
		break;
	case S_IFLNK:
		if (e->size == 0 || e->size > CPIO_NAME_MAX)
			return -EINVAL;
		break;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		if (e->size)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (e->size > UINT32_MAX)
		return -EFBIG;
	if (w->next_ino == 0)
		return -EFBIG; /* 2^32 entries: inode numbers ran out */
	bool dev = S_ISCHR(e->mode) || S_ISBLK(e->mode);
	r = emit_header(w, name, name_len, w->next_ino, e->mode, e->uid, e->gid,
			S_ISDIR(e->mode) ? 2 : 1, e->mtime, (uint32_t)e->size,
			dev ? e->rdev_major : 0, dev ? e->rdev_minor : 0);
	if (r < 0)
		return r;
	w->next_ino++;
	w->remaining = e->size;
	return 0;
}

int cpio_writer_data_write(cpio_writer *w, const void *data, size_t size)
{
	if (!w || (!data && size))
		return -EINVAL;
	if (w->error)
		return w->error;
	if (size > w->remaining)
		return -EINVAL;
	int r = emit(w, data, size);
	if (r < 0)
		return r;
	w->remaining -= size;
	if (w->remaining == 0)
		return pad4(w);
	return 0;
}

int cpio_writer_add_dir(cpio_writer *w, const char *path, uint32_t perm)
{
	if (perm & ~07777u)
		return -EINVAL;
	struct cpio_entry e = { .path = path, .mode = S_IFDIR | perm };
	return cpio_writer_add(w, &e);
}

int cpio_writer_add_file(cpio_writer *w, const char *path, uint32_t perm, const void *data,
			 size_t size)
{
	if (perm & ~07777u || (!data && size))
		return -EINVAL;
	struct cpio_entry e = { .path = path, .mode = S_IFREG | perm, .size = size };
	int r = cpio_writer_add(w, &e);
	if (r < 0)
		return r;
	return cpio_writer_data_write(w, data, size);
}

int cpio_writer_add_symlink(cpio_writer *w, const char *path, const char *target)
{
	if (!target)
		return -EINVAL;
	size_t n = strlen(target);
	struct cpio_entry e = { .path = path, .mode = S_IFLNK | 0777, .size = n };
	int r = cpio_writer_add(w, &e);
	if (r < 0)
		return r;
	return cpio_writer_data_write(w, target, n);
}

int cpio_writer_finish(cpio_writer *w)
{
	if (!w)
		return -EINVAL;
	if (w->error)
		return w->error;
	if (w->finished || w->remaining)
		return -EINVAL;
	int r = emit_header(w, CPIO_TRAILER, strlen(CPIO_TRAILER), 0, 0, 0, 0, 1, 0, 0, 0, 0);
	if (r < 0)
		return r;
	w->finished = true;
	return 0;
}

const void *cpio_writer_data(const cpio_writer *w, size_t *size)
{
	bool mem = w && w->fn == mem_write;
	if (size)
		*size = mem ? w->mem_size : 0;
	return mem ? (w->mem ? (const void *)w->mem : (const void *)"") : NULL;
}

int cpio_writer_steal(cpio_writer *w, void **data, size_t *size)
{
	if (!w || !data || !size || w->fn != mem_write || !w->finished)
		return -EINVAL;
	*data = w->mem;
	*size = w->mem_size;
	w->mem = NULL;
	w->mem_size = w->mem_alloc = 0;
	return 0;
}
