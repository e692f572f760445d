/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tag, rmi, prune, garbage collection, disk usage, and the unpacked rootfs cache. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store-private.h"
#include "image/unpack.h"
#include "shared/util.h"

int vxn_image_tag(vxn_image_store *s, const char *source, const char *target, vxn_error **err)
{
	vxn_ref *ref = NULL;
	int r = vxn_ref_parse(&ref, target, err);
	if (r < 0)
		return r;
	if (vxn_ref_digest(ref)) {
		vxn_ref_free(ref);
		return error_set(err, VXN_EINVAL, 0,
				 "refusing to create a tag with a digest reference: %s", target);
	}
	_cleanup_free_ char *full = strdup(vxn_ref_string(ref));
	vxn_ref_free(ref);
	if (!full)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int lock = store_lock(s, s->index_lock_fd, LOCK_EX, err);
	if (lock < 0)
		return lock;
	_cleanup_index_ struct index idx = { 0 };
	const char *md = NULL;
	r = index_read(s, &idx, err);
	if (r == 0)
		r = image_resolve(s, &idx, source, &md, NULL, err);
	if (r == 0) {
		_cleanup_free_ char *mdc = strdup(md);
		const struct index_entry *src = NULL;
		for (size_t i = 0; i < idx.n && !src; i++)
			if (strcmp(idx.entries[i].manifest_digest, md) == 0)
				src = &idx.entries[i];
		if (!mdc || index_set(&idx, full, mdc, src->media_type, src->size, src->image_id,
				      src->created) < 0)
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	if (r == 0)
		r = index_write(s, &idx, err);
	store_unlock(lock);
	return r;
}

static char *familiar(const char *full)
{
	vxn_ref *ref = NULL;
	if (vxn_ref_parse(&ref, full, NULL) < 0)
		return strdup(full);
	char *f = strdup(vxn_ref_familiar(ref));
	vxn_ref_free(ref);
	return f;
}

/* Remove every entry of a manifest from idx, reporting "Untagged:" lines and "Deleted:". */
static int drop_image(struct index *idx, const char *manifest_digest, char ***report)
{
	_cleanup_free_ char *md = strdup(manifest_digest);
	_cleanup_free_ char *id = NULL;
	if (!md)
		return -ENOMEM;
	for (size_t i = idx->n; i-- > 0;) {
		struct index_entry *e = &idx->entries[i];
		if (strcmp(e->manifest_digest, md) != 0)
			continue;
		if (!id && e->image_id && !(id = strdup(e->image_id)))
			return -ENOMEM;
		if (e->name) {
			_cleanup_free_ char *f = familiar(e->name);
			if (!f || strv_push_take(report, str_printf("Untagged: %s", f)) < 0)
				return -ENOMEM;
		}
		index_remove_at(idx, i);
	}
	if (strv_push_take(report, str_printf("Deleted: %s", id ? id : md)) < 0)
		return -ENOMEM;
	return 0;
}

int vxn_image_remove(char ***out_report, vxn_image_store *s, const char *image, unsigned flags,
		     vxn_error **err)
{
	int lock = store_lock(s, s->index_lock_fd, LOCK_EX, err);
	if (lock < 0)
		return lock;
	_cleanup_index_ struct index idx = { 0 };
	_cleanup_strv_ char **report = calloc(1, sizeof(char *));
	const char *md = NULL;
	bool by_id = false;
	int r =
	    report ? index_read(s, &idx, err) : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r == 0)
		r = image_resolve(s, &idx, image, &md, &by_id, err);
	if (r == 0) {
		_cleanup_strv_ char **names = NULL;
		if (index_names_for(&idx, md, &names) < 0) {
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		} else if (by_id && strv_length(names) > 1 && !(flags & VXN_IMAGE_REMOVE_FORCE)) {
			r = error_set(err, VXN_EBUSY, 0,
				      "conflict: unable to delete %s (must be forced) - image is "
				      "referenced in multiple repositories",
				      image);
		} else if (by_id || strv_length(names) <= 1) {
			if (drop_image(&idx, md, &report) < 0)
				r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		} else {
			/* By name, with other names left: only this name goes. */
			vxn_ref *ref = NULL;
			vxn_ref_parse(&ref, image, NULL);
			const char *full = ref ? vxn_ref_string(ref) : image;
			for (size_t i = 0; i < idx.n; i++) {
				if (idx.entries[i].name && strcmp(idx.entries[i].name, full) == 0) {
					_cleanup_free_ char *f = familiar(full);
					if (!f || strv_push_take(&report,
								 str_printf("Untagged: %s", f)) < 0)
						r = error_set(err, VXN_ENOMEM, ENOMEM,
							      "out of memory");
					index_remove_at(&idx, i);
					break;
				}
			}
			vxn_ref_free(ref);
		}
	}
	if (r == 0)
		r = index_write(s, &idx, err);
	store_unlock(lock);
	if (r < 0)
		return r;
	r = store_gc(s, NULL, err);
	if (r < 0)
		return r;
	if (out_report)
		*out_report = TAKE_PTR(report);
	return 0;
}

int vxn_image_prune(char ***out_report, uint64_t *reclaimed, vxn_image_store *s, unsigned flags,
		    vxn_error **err)
{
	int lock = store_lock(s, s->index_lock_fd, LOCK_EX, err);
	if (lock < 0)
		return lock;
	_cleanup_index_ struct index idx = { 0 };
	_cleanup_strv_ char **report = calloc(1, sizeof(char *));
	int r =
	    report ? index_read(s, &idx, err) : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < idx.n;) {
		const struct index_entry *e = &idx.entries[i];
		if (e->name && !(flags & VXN_IMAGE_PRUNE_ALL)) {
			i++;
			continue;
		}
		/* drop_image removes every entry of that manifest; restart the scan */
		if (drop_image(&idx, e->manifest_digest, &report) < 0)
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		i = 0;
	}
	if (r == 0)
		r = index_write(s, &idx, err);
	store_unlock(lock);
	if (r < 0)
		return r;
	r = store_gc(s, reclaimed, err);
	if (r < 0)
		return r;
	if (out_report)
		*out_report = TAKE_PTR(report);
	return 0;
}

/* du -s in bytes of allocated blocks (st_blocks), without crossing mounts. */
static uint64_t du(int dirfd_, const char *name)
{
	struct stat st;
	if (fstatat(dirfd_, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	uint64_t total = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return total;
	int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return total;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			total += du(dirfd(d), de->d_name);
	closedir(d);
	return total;
}

/* The set of blobs and manifests the index references. */
static int referenced(vxn_image_store *s, const struct index *idx, char ***blobs, char ***manifests)
{
	for (size_t i = 0; i < idx->n; i++) {
		const char *md = idx->entries[i].manifest_digest;
		if (strv_contains(*manifests, md))
			continue;
		if (strv_push(manifests, md) < 0 || strv_push(blobs, md) < 0)
			return -ENOMEM;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		/* A corrupt manifest keeps its blobs: never delete what we cannot account for. */
		_cleanup_free_ char *p = store_blob_path(s, md);
		if (!p || read_file(p, SMALL_BLOB_MAX, &text, &len) < 0)
			return -EIO;
		_cleanup_json_ json *m = NULL;
		_cleanup_strv_ char **list = NULL;
		if (json_parse(text, len, &m, NULL) < 0 || manifest_blobs(m, &list) < 0)
			return -EIO;
		for (size_t j = 0; list[j]; j++)
			if (!strv_contains(*blobs, list[j]) && strv_push(blobs, list[j]) < 0)
				return -ENOMEM;
	}
	return 0;
}

int store_gc(vxn_image_store *s, uint64_t *reclaimed, vxn_error **err)
{
	/* gc lock first (waits for writers that are ingesting), then the index. */
	int gc = store_lock(s, s->gc_lock_fd, LOCK_EX, err);
	if (gc < 0)
		return gc;
	int lock = store_lock(s, s->index_lock_fd, LOCK_EX, err);
	if (lock < 0) {
		store_unlock(gc);
		return lock;
	}
	_cleanup_index_ struct index idx = { 0 };
	_cleanup_strv_ char **blobs = calloc(1, sizeof(char *));
	_cleanup_strv_ char **mans = calloc(1, sizeof(char *));
	uint64_t freed = 0;
	int r = blobs && mans ? index_read(s, &idx, err)
			      : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r == 0) {
		int q = referenced(s, &idx, &blobs, &mans);
		if (q == -ENOMEM)
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		else if (q < 0)
			r = error_set(
			    err, VXN_EIO, EIO,
			    "image store %s: a manifest cannot be read; not collecting garbage",
			    s->path);
	}
	_cleanup_free_ char *bdir = str_printf("%s/blobs/sha256", s->path);
	_cleanup_free_ char *rdir = str_printf("%s/rootfs", s->path);
	DIR *d = r == 0 && bdir ? opendir(bdir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char dg[300];
		snprintf(dg, sizeof(dg), "sha256:%s", de->d_name);
		if (strv_contains(blobs, dg))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			freed += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	d = r == 0 && rdir ? opendir(rdir) : NULL;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char dg[300];
		snprintf(dg, sizeof(dg), "sha256:%s", de->d_name);
		if (strv_contains(mans, dg))
			continue;
		freed += du(dirfd(d), de->d_name);
		_cleanup_free_ char *p = path_join(rdir, de->d_name);
		if (p)
			rm_rf(p);
	}
	if (d)
		closedir(d);
	/* initrd/<manifest hex>.cpio: the guest rootfs archives (container module) */
	_cleanup_free_ char *idir = str_printf("%s/initrd", s->path);
	d = r == 0 && idir ? opendir(idir) : NULL;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char dg[300];
		snprintf(dg, sizeof(dg), "sha256:%.*s", (int)strcspn(de->d_name, "."), de->d_name);
		bool tmp = strstr(de->d_name, ".tmp-") != NULL;
		/* writers hold the gc lock shared: a temp file now is one a crash left */
		if (!tmp && str_endswith(de->d_name, ".cpio") && strv_contains(mans, dg))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && unlinkat(dirfd(d), de->d_name, 0) == 0)
			freed += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	store_unlock(lock);
	store_unlock(gc);
	if (r == 0 && reclaimed)
		*reclaimed = freed;
	return r;
}

int vxn_image_store_usage(vxn_image_store *s, uint64_t *images, uint64_t *images_bytes,
			  uint64_t *reclaimable_bytes, uint64_t *cache_bytes, vxn_error **err)
{
	vxn_image_list *l = NULL;
	int r = vxn_image_list_images(&l, s, VXN_IMAGE_LIST_DEFAULT, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **seen = calloc(1, sizeof(char *));
	uint64_t bytes = 0;
	for (size_t i = 0; seen && i < vxn_image_list_count(l); i++) {
		const vxn_image *img = vxn_image_list_get(l, i);
		_cleanup_strv_ char **b = NULL;
		if (manifest_blobs(image_manifest(img), &b) < 0 ||
		    strv_push(&b, vxn_image_digest(img)) < 0)
			continue;
		for (size_t j = 0; b[j]; j++) {
			if (strv_contains(seen, b[j]))
				continue;
			strv_push(&seen, b[j]);
			_cleanup_free_ char *p = store_blob_path(s, b[j]);
			struct stat st;
			if (p && stat(p, &st) == 0)
				bytes += (uint64_t)st.st_size;
		}
	}
	if (images)
		*images = vxn_image_list_count(l);
	vxn_image_list_free(l);
	if (images_bytes)
		*images_bytes = bytes;
	/* No container uses an image yet in this release: all of it is reclaimable. */
	if (reclaimable_bytes)
		*reclaimable_bytes = bytes;
	if (cache_bytes)
		*cache_bytes = du(s->dir_fd, "rootfs") + du(s->dir_fd, "initrd");
	return 0;
}

int vxn_image_rootfs(char **out_path, vxn_image_store *s, const vxn_image *img, vxn_error **err)
{
	_cleanup_free_ char *dst =
	    str_printf("%s/rootfs/%s", s->path, digest_hex(vxn_image_digest(img)));
	if (!dst)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	struct stat st;
	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		*out_path = TAKE_PTR(dst);
		return 0;
	}
	int gc = store_lock(s, s->gc_lock_fd, LOCK_SH, err);
	if (gc < 0)
		return gc;
	_cleanup_store_tmp_ struct store_tmp t = { 0 };
	int r = store_tmp_new(s, &t, err);
	_cleanup_free_ char *tree = r == 0 ? path_join(t.path, "rootfs") : NULL;
	_cleanup_close_ int root_fd = -1;
	if (r == 0 && (!tree || mkdir(tree, 0755) < 0 ||
		       (root_fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
		r = error_errno(err, tree ? -errno : -ENOMEM, "rootfs: staging");
	for (size_t i = 0; r == 0 && i < vxn_image_layer_count(img); i++) {
		const char *ld = vxn_image_layer_digest(img, i);
		_cleanup_free_ char *bp = store_blob_path(s, ld);
		_cleanup_free_ char *label = str_printf("layer %s", ld);
		_cleanup_close_ int lfd = bp ? open(bp, O_RDONLY | O_CLOEXEC) : -1;
		if (lfd < 0) {
			r = error_errno(err, bp ? -errno : -ENOMEM, "layer %s", ld);
			break;
		}
		struct unpack_opts uo = { .label = label, .whiteouts = true, .expect_digest = ld };
		r = layer_unpack(root_fd, lfd, &uo, err);
	}
	if (r == 0 && syncfs(root_fd) < 0)
		r = error_errno(err, -errno, "rootfs: sync");
	if (r == 0 && rename(tree, dst) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		r = error_errno(err, -errno, "rootfs: %s", dst);
	store_unlock(gc);
	if (r < 0) {
		const char *names0 = vxn_image_names(img)[0];
		return error_prefix(err, r, "image '%s'", names0 ? names0 : vxn_image_id(img));
	}
	*out_path = TAKE_PTR(dst);
	return 0;
}
