/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI image store: layout, locks, blobs, index (doc/store-layout.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/store-private.h"
#include "shared/util.h"

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"

/* A temp dir without its lock file is only stale after this long (its owner
 * may be between mkdtemp() and creating the lock). */
#define TMP_GRACE_SECONDS 60

void index_clear(struct index *idx)
{
	for (size_t i = 0; i < idx->n; i++) {
		struct index_entry *e = &idx->entries[i];
		free(e->name);
		free(e->manifest_digest);
		free(e->media_type);
		free(e->image_id);
		free(e->created);
	}
	free(idx->entries);
	idx->entries = NULL;
	idx->n = 0;
}

static int open_lock_file(int dir_fd, const char *name)
{
	return openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

int store_lock(vxn_image_store *s, int fd, int how, vxn_error **err)
{
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		return error_errno(err, -errno, "image store %s: lock", s->path);
	}
	return fd;
}

void store_unlock(int fd)
{
	if (fd >= 0)
		flock(fd, LOCK_UN);
}

static void clean_tmp(vxn_image_store *s)
{
	_cleanup_free_ char *tmp = path_join(s->path, "tmp");
	if (!tmp)
		return;
	DIR *d = opendir(tmp);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = path_join(tmp, de->d_name);
		_cleanup_free_ char *lock = p ? path_join(p, ".owner") : NULL;
		if (!lock)
			continue;
		int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		bool stale;
		if (fd >= 0) {
			stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
			close(fd);
		} else {
			struct stat st;
			stale = lstat(p, &st) == 0 && time(NULL) - st.st_mtime > TMP_GRACE_SECONDS;
		}
		if (stale) {
			log_debug(s->ctx, "image", "removing leftover %s", p);
			rm_rf(p);
		}
	}
	closedir(d);
}

int vxn_image_store_open(vxn_image_store **out, vxn_ctx *ctx, vxn_error **err)
{
	if (!out || !ctx)
		return error_set(err, VXN_EINVAL, EINVAL, "vxn_image_store_open: NULL argument");
	_cleanup_free_ char *path = path_join(vxn_ctx_data_root(ctx), "images");
	if (!path)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	static const char *const subdirs[] = { "blobs/sha256", "tmp", "rootfs", NULL };
	for (const char *const *sd = subdirs; *sd; sd++) {
		_cleanup_free_ char *p = path_join(path, *sd);
		if (!p)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		int r = mkdir_p(p, 0700);
		if (r < 0)
			return error_errno(err, r, "image store %s: create %s", path, *sd);
	}
	vxn_image_store *s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	s->ctx = ctx;
	s->path = TAKE_PTR(path);
	s->index_lock_fd = s->gc_lock_fd = -1;
	s->dir_fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	if (s->dir_fd < 0)
		r = error_errno(err, -errno, "image store %s", s->path);
	if (r == 0) {
		s->index_lock_fd = open_lock_file(s->dir_fd, "index.lock");
		s->gc_lock_fd = open_lock_file(s->dir_fd, "gc.lock");
		if (s->index_lock_fd < 0 || s->gc_lock_fd < 0)
			r = error_errno(err, -errno, "image store %s: lock files", s->path);
	}
	if (r == 0) {
		/* oci-layout marks the directory as an OCI image layout. */
		_cleanup_free_ char *layout = path_join(s->path, "oci-layout");
		_cleanup_free_ char *cur = NULL;
		int q = layout ? read_file(layout, 4096, &cur, NULL) : -ENOMEM;
		if (q == -ENOENT)
			q = write_file_atomic(layout, OCI_LAYOUT, strlen(OCI_LAYOUT), 0644);
		else if (q == 0 && !strstr(cur, "imageLayoutVersion"))
			r = error_set(err, VXN_EPROTO, 0,
				      "image store %s: oci-layout is not an OCI image layout",
				      s->path);
		if (q < 0 && r == 0)
			r = error_errno(err, q, "image store %s: oci-layout", s->path);
	}
	if (r < 0) {
		vxn_image_store_free(s);
		return r;
	}
	/* Leftovers of killed writers: their lock is free. */
	clean_tmp(s);
	*out = s;
	return 0;
}

void vxn_image_store_free(vxn_image_store *s)
{
	if (!s)
		return;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->index_lock_fd >= 0)
		close(s->index_lock_fd);
	if (s->gc_lock_fd >= 0)
		close(s->gc_lock_fd);
	free(s->path);
	free(s);
}

const char *vxn_image_store_path(const vxn_image_store *s)
{
	return s->path;
}

/* ---- temp dirs ---- */

int store_tmp_new(vxn_image_store *s, struct store_tmp *out, vxn_error **err)
{
	_cleanup_free_ char *tmpl = str_printf("%s/tmp/op-XXXXXX", s->path);
	if (!tmpl)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (!mkdtemp(tmpl))
		return error_errno(err, -errno, "image store: temporary directory");
	_cleanup_free_ char *lock = path_join(tmpl, ".owner");
	int fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		rm_rf(tmpl);
		return error_errno(err, -e, "image store: temporary directory lock");
	}
	out->path = TAKE_PTR(tmpl);
	out->lock_fd = fd;
	return 0;
}

void store_tmp_done(struct store_tmp *t)
{
	if (!t->path)
		return;
	rm_rf(t->path);
	free(t->path);
	t->path = NULL;
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	t->lock_fd = -1;
}

/* ---- blobs ---- */

char *store_blob_path(const vxn_image_store *s, const char *digest)
{
	if (!digest_is_valid(digest))
		return NULL;
	return str_printf("%s/blobs/sha256/%s", s->path, digest_hex(digest));
}

bool store_has_blob(const vxn_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);
	return p && access(p, F_OK) == 0;
}

int store_read_blob(vxn_image_store *s, const char *digest, char **out, size_t *len,
		    vxn_error **err)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);
	if (!p)
		return error_set(err, VXN_EINVAL, 0, "invalid digest '%s'", digest);
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	int r = read_file(p, SMALL_BLOB_MAX, &data, &n);
	if (r == -ENOENT)
		return error_set(err, VXN_ENOTFOUND, ENOENT, "blob %s: missing from the store",
				 digest);
	if (r < 0)
		return error_errno(err, r, "blob %s", digest);
	char got[DIGEST_STRING_MAX];
	digest_buffer(data, n, got);
	if (strcmp(got, digest) != 0)
		return error_set(err, VXN_EDIGEST, 0, "blob %s is corrupt: content has digest %s",
				 digest, got);
	*out = TAKE_PTR(data);
	if (len)
		*len = n;
	return 0;
}

static int blob_install(vxn_image_store *s, const char *tmp, const char *digest, vxn_error **err)
{
	_cleanup_free_ char *dst = store_blob_path(s, digest);
	if (!dst)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (access(dst, F_OK) == 0) {
		unlink(tmp);
		return 0;
	}
	if (rename(tmp, dst) < 0) {
		int e = errno;
		unlink(tmp);
		return error_errno(err, -e, "blob %s: store", digest);
	}
	_cleanup_free_ char *dir = str_printf("%s/blobs/sha256", s->path);
	if (dir)
		fsync_dir(dir);
	return 0;
}

int store_write_blob(vxn_image_store *s, const void *data, size_t len,
		     char out_digest[DIGEST_STRING_MAX], vxn_error **err)
{
	char d[DIGEST_STRING_MAX];
	digest_buffer(data, len, d);
	if (out_digest)
		memcpy(out_digest, d, DIGEST_STRING_MAX);
	if (store_has_blob(s, d))
		return 0;
	_cleanup_free_ char *tmp = str_printf("%s/tmp/blob-XXXXXX", s->path);
	if (!tmp)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "blob %s: temporary file", d);
	int r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0) {
		unlink(tmp);
		return error_errno(err, r, "blob %s: write", d);
	}
	return blob_install(s, tmp, d, err);
}

int store_ingest_file(vxn_image_store *s, const char *path, const char *expect,
		      char out_digest[DIGEST_STRING_MAX], uint64_t *out_size, vxn_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_errno(err, -errno, "blob %s", expect ? expect : path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_set(err, VXN_EINVAL, 0, "blob %s: not a regular file",
				 expect ? expect : path);
	char d[DIGEST_STRING_MAX];
	uint64_t size = 0;
	int r = digest_fd(fd, d, &size);
	if (r < 0)
		return error_errno(err, r, "blob %s: read", expect ? expect : path);
	if (expect && strcmp(expect, d) != 0)
		return error_set(err, VXN_EDIGEST, 0,
				 "blob %s: digest mismatch: content has digest %s", expect, d);
	if (out_digest)
		memcpy(out_digest, d, DIGEST_STRING_MAX);
	if (out_size)
		*out_size = size;
	if (store_has_blob(s, d)) {
		unlink(path);
		return 0;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		return error_errno(err, -errno, "blob %s: sync", d);
	return blob_install(s, path, d, err);
}

/* ---- index ---- */

static int entry_fill(struct index_entry *e, const char *name, const char *manifest_digest,
		      const char *media_type, int64_t size, const char *image_id,
		      const char *created)
{
	e->name = str_dup_or_null(name);
	e->manifest_digest = strdup(manifest_digest);
	e->media_type = strdup(media_type ? media_type : MT_OCI_MANIFEST);
	e->size = size;
	e->image_id = str_dup_or_null(image_id);
	e->created = str_dup_or_null(created);
	if ((name && !e->name) || !e->manifest_digest || !e->media_type ||
	    (image_id && !e->image_id) || (created && !e->created))
		return -ENOMEM;
	return 0;
}

int index_read(vxn_image_store *s, struct index *out, vxn_error **err)
{
	_cleanup_free_ char *p = path_join(s->path, "index.json");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	if (!p)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = read_file(p, 64u << 20, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return error_errno(err, r, "image store index %s", p);
	_cleanup_json_ json *doc = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(text, len, &doc, &msg) < 0)
		return error_set(err, VXN_EPROTO, 0, "image store index %s: %s", p,
				 msg ? msg : "out of memory");
	json *mans = json_object_get_array(doc, "manifests");
	size_t n = json_array_length(mans);
	struct index idx = { calloc(n ? n : 1, sizeof(struct index_entry)), 0 };
	if (!idx.entries)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json *m = json_array_get(mans, i);
		json *ann = json_object_get_object(m, "annotations");
		const char *dg = json_object_get_string(m, "digest");
		if (!digest_is_valid(dg)) {
			index_clear(&idx);
			return error_set(err, VXN_EPROTO, 0,
					 "image store index %s: entry %zu: bad digest", p, i);
		}
		if (entry_fill(&idx.entries[idx.n], json_object_get_string(ann, ANN_REF_NAME), dg,
			       json_object_get_string(m, "mediaType"),
			       json_int_value(json_object_get(m, "size"), 0),
			       json_object_get_string(ann, ANN_IMAGE_ID),
			       json_object_get_string(ann, ANN_CREATED)) < 0) {
			idx.n++;
			index_clear(&idx);
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		}
		idx.n++;
	}
	*out = idx;
	return 0;
}

int index_write(vxn_image_store *s, const struct index *idx, vxn_error **err)
{
	_cleanup_json_ json *doc = json_object();
	json *mans = json_array();
	if (!doc || json_object_set_int(doc, "schemaVersion", 2) < 0 ||
	    json_object_set_string(doc, "mediaType", MT_OCI_INDEX) < 0 ||
	    json_object_set_take(doc, "manifests", mans) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++) {
		const struct index_entry *e = &idx->entries[i];
		json *m = json_object();
		json *ann = json_object();
		int r = m && ann ? 0 : -ENOMEM;
		if (r == 0)
			r = json_object_set_string(m, "mediaType", e->media_type);
		if (r == 0)
			r = json_object_set_string(m, "digest", e->manifest_digest);
		if (r == 0)
			r = json_object_set_int(m, "size", e->size);
		if (r == 0 && e->name)
			r = json_object_set_string(ann, ANN_REF_NAME, e->name);
		if (r == 0 && e->image_id)
			r = json_object_set_string(ann, ANN_IMAGE_ID, e->image_id);
		if (r == 0 && e->created)
			r = json_object_set_string(ann, ANN_CREATED, e->created);
		if (r == 0) {
			r = json_object_set_take(m, "annotations", ann);
			ann = NULL;
		}
		json_free(ann);
		if (r == 0)
			r = json_array_append_take(mans, m);
		else
			json_free(m);
		if (r < 0)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (json_serialize(doc, true, &text, &len) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	_cleanup_free_ char *p = path_join(s->path, "index.json");
	int r = p ? write_file_atomic(p, text, len, 0644) : -ENOMEM;
	if (r < 0)
		return error_errno(err, r, "image store index %s: write", p ? p : s->path);
	return 0;
}

size_t index_count_manifest(const struct index *idx, const char *manifest_digest)
{
	size_t n = 0;
	for (size_t i = 0; i < idx->n; i++)
		if (strcmp(idx->entries[i].manifest_digest, manifest_digest) == 0)
			n++;
	return n;
}

void index_remove_at(struct index *idx, size_t i)
{
	struct index_entry *e = &idx->entries[i];
	free(e->name);
	free(e->manifest_digest);
	free(e->media_type);
	free(e->image_id);
	free(e->created);
	memmove(e, e + 1, (idx->n - i - 1) * sizeof(*e));
	idx->n--;
}

static int index_append(struct index *idx, const char *name, const char *manifest_digest,
			const char *media_type, int64_t size, const char *image_id,
			const char *created)
{
	struct index_entry *ne = realloc(idx->entries, (idx->n + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	idx->entries = ne;
	memset(&ne[idx->n], 0, sizeof(*ne));
	int r = entry_fill(&ne[idx->n], name, manifest_digest, media_type, size, image_id, created);
	idx->n++;
	if (r < 0)
		index_remove_at(idx, idx->n - 1);
	return r;
}

int index_set(struct index *idx, const char *name, const char *manifest_digest,
	      const char *media_type, int64_t size, const char *image_id, const char *created)
{
	if (name) {
		for (size_t i = 0; i < idx->n; i++) {
			struct index_entry *e = &idx->entries[i];
			if (!e->name || strcmp(e->name, name) != 0)
				continue;
			if (strcmp(e->manifest_digest, manifest_digest) == 0)
				return 0;
			/* The name moves: the old image keeps a dangling entry if it has no
			 * other name. */
			free(e->name);
			e->name = NULL;
			if (index_count_manifest(idx, e->manifest_digest) > 1)
				index_remove_at(idx, i);
			break;
		}
		/* A dangling entry of the same image becomes this name. */
		for (size_t i = 0; i < idx->n; i++) {
			struct index_entry *e = &idx->entries[i];
			if (!e->name && strcmp(e->manifest_digest, manifest_digest) == 0) {
				e->name = strdup(name);
				return e->name ? 0 : -ENOMEM;
			}
		}
	} else if (index_count_manifest(idx, manifest_digest) > 0) {
		return 0;
	}
	return index_append(idx, name, manifest_digest, media_type, size, image_id, created);
}

/* The platform this library runs containers for. */
void host_platform(const char **os, const char **arch, const char **variant)
{
	*os = "linux";
#if defined(__x86_64__)
	*arch = "amd64";
#elif defined(__aarch64__)
	*arch = "arm64";
#else
	*arch = "unknown";
#endif
	*variant = NULL;
}
