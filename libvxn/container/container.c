/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A container VM: the image's rootfs and a launch record in the guest's
 * initramfs, bind mounts as 9p shares, the domain, and the session.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <vxn/container.h>
#include <vxn/domain.h>

#include "boot/cpio.h"
#include "core/private.h"
#include "domain/backend.h"
#include "image/store-private.h"
#include "shared/json.h"
#include "shared/util.h"

struct vxn_container_opts {
	char *id, *name, *kernel, *backend;
	unsigned memory_mib, vcpus, rows, cols, ready_timeout_ms;
};

struct vxn_container {
	vxn_ctx *ctx;
	char *id, *name, *dir, *lock;
	int lock_fd; /* flock'd for the container's life: the dir is not stale */
	vxn_domain *domain;
	vxn_session *session;
};

int vxn_container_opts_new(vxn_container_opts **out, vxn_error **err)
{
	vxn_container_opts *o = calloc(1, sizeof(*o));
	if (!o)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	o->rows = 24;
	o->cols = 80;
	*out = o;
	return 0;
}

void vxn_container_opts_free(vxn_container_opts *o)
{
	if (!o)
		return;
	free(o->id);
	free(o->name);
	free(o->kernel);
	free(o->backend);
	free(o);
}

static int set_string(char **f, const char *v, vxn_error **err)
{
	char *n = str_dup_or_null(v);
	if (v && !n)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	free(*f);
	*f = n;
	return 0;
}

int vxn_container_opts_set_name(vxn_container_opts *o, const char *name, vxn_error **err)
{
	/* docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 2 && n <= 64;
	for (size_t i = 0; ok && i < n; i++) {
		char ch = name[i];
		ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		     (ch >= 'A' && ch <= 'Z') || (i > 0 && (ch == '_' || ch == '.' || ch == '-'));
	}
	if (!ok)
		return error_set(err, VXN_EINVAL, 0,
				 "invalid container name '%s': only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
				 "allowed (2 to 64 characters)",
				 name ? name : "");
	return set_string(&o->name, name, err);
}

int vxn_container_opts_set_id(vxn_container_opts *o, const char *id, vxn_error **err)
{
	size_t n = id ? strlen(id) : 0;
	bool ok = n >= 12 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
	if (!ok)
		return error_set(err, VXN_EINVAL, 0,
				 "container id '%s': 12 to 64 lower-case hex digits", id ? id : "");
	return set_string(&o->id, id, err);
}

int vxn_container_opts_set_kernel(vxn_container_opts *o, const char *path, vxn_error **err)
{
	if (path && path[0] != '/')
		return error_set(err, VXN_EINVAL, 0, "kernel must be an absolute path, got '%s'",
				 path);
	return set_string(&o->kernel, path, err);
}

int vxn_container_opts_set_backend(vxn_container_opts *o, const char *backend, vxn_error **err)
{
	return set_string(&o->backend, backend, err);
}

int vxn_container_opts_set_memory_mib(vxn_container_opts *o, unsigned mib, vxn_error **err)
{
	if (mib && mib < 64)
		return error_set(err, VXN_EINVAL, 0, "memory %u MiB: a guest needs at least 64 MiB",
				 mib);
	o->memory_mib = mib;
	return 0;
}

int vxn_container_opts_set_vcpus(vxn_container_opts *o, unsigned vcpus, vxn_error **err)
{
	if (vcpus > 64)
		return error_set(err, VXN_EINVAL, 0, "vcpus %u: at most 64", vcpus);
	o->vcpus = vcpus;
	return 0;
}

void vxn_container_opts_set_console_size(vxn_container_opts *o, unsigned rows, unsigned cols)
{
	if (rows && cols) {
		o->rows = rows;
		o->cols = cols;
	}
}

void vxn_container_opts_set_ready_timeout_ms(vxn_container_opts *o, unsigned timeout_ms)
{
	o->ready_timeout_ms = timeout_ms;
}

/* ---- guest artifacts ---- */

/* First readable candidate, malloc'd, or NULL. */
static char *first_existing(const char *const *candidates)
{
	for (size_t i = 0; candidates[i]; i++)
		if (candidates[i][0] && access(candidates[i], R_OK) == 0)
			return strdup(candidates[i]);
	return NULL;
}

static int find_kernel(vxn_ctx *ctx, const vxn_container_opts *o, char **out, vxn_error **err)
{
	if (o && o->kernel) {
		if (access(o->kernel, R_OK) < 0)
			return error_errno(err, -errno, "kernel %s", o->kernel);
		*out = strdup(o->kernel);
		return *out ? 0 : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	const char *key = vxn_ctx_get(ctx, "kernel");
	if (key && *key) {
		if (access(key, R_OK) < 0)
			return error_errno(err, -errno, "kernel %s (config key kernel)", key);
		*out = strdup(key);
		return *out ? 0 : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *a = path_join(vxn_ctx_data_root(ctx), "kernel/vmlinux");
	_cleanup_free_ char *b = path_join(vxn_ctx_data_root(ctx), "kernel/bzImage");
	const char *c[] = { a ? a : "", b ? b : "", VXN_DATADIR "/kernel/vmlinux",
			    VXN_DATADIR "/kernel/bzImage", NULL };
	*out = first_existing(c);
	if (!*out)
		return error_set(
		    err, VXN_ENOTFOUND, ENOENT,
		    "no guest kernel: looked in %s/kernel and %s/kernel (install vxn, or "
		    "set the kernel config key / --kernel)",
		    vxn_ctx_data_root(ctx), VXN_DATADIR);
	return 0;
}

static int find_initramfs(vxn_ctx *ctx, char **out, vxn_error **err)
{
	const char *key = vxn_ctx_get(ctx, "initramfs");
	if (key && *key) {
		if (access(key, R_OK) < 0)
			return error_errno(err, -errno, "initramfs %s (config key initramfs)", key);
		*out = strdup(key);
		return *out ? 0 : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *a = path_join(vxn_ctx_data_root(ctx), "kernel/vxn-initramfs.cpio");
	const char *c[] = { a ? a : "", VXN_DATADIR "/vxn-initramfs.cpio", NULL };
	*out = first_existing(c);
	if (!*out)
		return error_set(err, VXN_ENOTFOUND, ENOENT,
				 "no base initramfs (vxn-init): looked in %s/kernel and %s",
				 vxn_ctx_data_root(ctx), VXN_DATADIR);
	return 0;
}

/* ---- the image's rootfs as a cpio (vxn/rootfs/...), cached per manifest ---- */

static int fd_writer(void *userdata, const void *data, size_t size)
{
	return write_all(*(int *)userdata, data, size);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_tree(cpio_writer *w, int dirfd_, const char *prefix, int depth)
{
	if (depth > 256)
		return -ELOOP;
	DIR *d = fdopendir(dirfd_);
	if (!d) {
		close(dirfd_);
		return -errno;
	}
	_cleanup_strv_ char **names = calloc(1, sizeof(char *));
	struct dirent *de;
	int r = names ? 0 : -ENOMEM;
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = strv_push(&names, de->d_name);
	if (r == 0)
		qsort(names, strv_length(names), sizeof(char *), cmp_names);
	for (size_t i = 0; r == 0 && names[i]; i++) {
		struct stat st;
		_cleanup_free_ char *path = str_printf("%s/%s", prefix, names[i]);
		if (!path) {
			r = -ENOMEM;
			break;
		}
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		struct cpio_entry e = { .path = path,
					.mode = st.st_mode,
					.uid = st.st_uid,
					.gid = st.st_gid,
					.mtime = (uint32_t)st.st_mtime };
		if (S_ISDIR(st.st_mode)) {
			r = cpio_writer_add(w, &e);
			int sub = r == 0 ? openat(dirfd(d), names[i],
						  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
					 : -1;
			if (r == 0 && sub < 0)
				r = -errno;
			if (r == 0)
				r = add_tree(w, sub, path, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			e.size = (uint64_t)st.st_size;
			_cleanup_close_ int fd =
			    openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = -errno;
				break;
			}
			r = cpio_writer_add(w, &e);
			char buf[1 << 16];
			uint64_t left = e.size;
			while (r == 0 && left) {
				ssize_t n = read(fd, buf, (size_t)MIN(left, sizeof(buf)));
				if (n <= 0) {
					r = n < 0 ? -errno : -EIO;
					break;
				}
				r = cpio_writer_data_write(w, buf, (size_t)n);
				left -= (uint64_t)n;
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), names[i], target, sizeof(target) - 1);
			if (n < 0) {
				r = -errno;
				break;
			}
			e.size = (uint64_t)n;
			r = cpio_writer_add(w, &e);
			if (r == 0)
				r = cpio_writer_data_write(w, target, (size_t)n);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
			e.rdev_major = major(st.st_rdev);
			e.rdev_minor = minor(st.st_rdev);
			r = cpio_writer_add(w, &e);
		}
		/* sockets are not carried, as in image layers */
	}
	closedir(d);
	return r;
}

static int rootfs_cpio_write(const char *root, const char *dir, const char *path, vxn_error **err);

/*
 * The guest kernel unpacks the initramfs into its root tmpfs while the archive
 * itself still occupies memory, and that tmpfs may grow to half of the memory
 * left: unpacking S bytes needs about 3 S plus the kernel's own. With less, the
 * kernel stops unpacking midway ("Initramfs unpacking failed: write error") and
 * vxn-init finds no launch record (measured: 256 MiB runs a 50 MB image; a
 * 150 MB one fails at 384 MiB). Refuse before booting, with the memory that
 * would do.
 */
static int check_memory(const char *base, const char *rootfs, const char *launch, unsigned mem_mib,
			vxn_error **err)
{
	const char *files[] = { base, rootfs, launch };
	unsigned long long total = 0, image = 0;
	struct stat st;
	for (size_t i = 0; i < ELEMENTSOF(files); i++)
		if (stat(files[i], &st) == 0) {
			total += (unsigned long long)st.st_size;
			if (files[i] == rootfs)
				image = (unsigned long long)st.st_size;
		}
	unsigned long long need = 3 * (total >> 20) + 64;
	if (need <= mem_mib)
		return 0;
	unsigned long long suggest = (need + 63) / 64 * 64;
	return error_set(err, VXN_EINVAL, 0,
			 "the image's root filesystem is %llu MiB: a VM needs about %llu MiB of "
			 "memory to unpack it, this one has %u MiB (use --memory %llum or more)",
			 image >> 20, need, mem_mib, suggest);
}

static int rootfs_cpio(vxn_image_store *store, const vxn_image *img, char **out, vxn_error **err)
{
	_cleanup_free_ char *dir = path_join(vxn_image_store_path(store), "initrd");
	_cleanup_free_ char *path =
	    dir ? str_printf("%s/%s.cpio", dir, digest_hex(vxn_image_digest(img))) : NULL;
	if (!path)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (access(path, R_OK) == 0) {
		*out = TAKE_PTR(path);
		return 0;
	}
	_cleanup_free_ char *root = NULL;
	int r = vxn_image_rootfs(&root, store, img, err);
	if (r < 0)
		return r;
	/* shared gc lock while writing: garbage collection waits, and removes only
	 * temp files that no writer holds */
	int gc = store_lock(store, store->gc_lock_fd, LOCK_SH, err);
	if (gc < 0)
		return gc;
	r = rootfs_cpio_write(root, dir, path, err);
	store_unlock(gc);
	if (r == 0)
		*out = TAKE_PTR(path);
	return r;
}

/* Write <dir>/<hex>.cpio from the unpacked tree root: temp file, fsync, rename. */
static int rootfs_cpio_write(const char *root, const char *dir, const char *path, vxn_error **err)
{
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return error_errno(err, r, "%s", dir);
	_cleanup_free_ char *tmp = str_printf("%s.tmp-XXXXXX", path);
	int fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
	if (fd < 0)
		return error_errno(err, tmp ? -errno : -ENOMEM, "%s", path);
	cpio_writer *w = NULL;
	r = cpio_writer_new_stream(&w, fd_writer, &fd);
	struct stat st;
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && (rfd < 0 || fstat(rfd, &st) < 0))
		r = -errno;
	if (r == 0)
		r = cpio_writer_add_dir(w, "vxn", 0700);
	if (r == 0) {
		struct cpio_entry e = { .path = "vxn/rootfs",
					.mode = S_IFDIR | (st.st_mode & 07777),
					.uid = st.st_uid,
					.gid = st.st_gid };
		r = cpio_writer_add(w, &e);
	}
	if (r == 0) {
		r = add_tree(w, rfd, "vxn/rootfs", 0);
		rfd = -1;
	}
	if (rfd >= 0)
		close(rfd);
	if (r == 0)
		r = cpio_writer_finish(w);
	cpio_writer_free(w);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return error_errno(err, r, "guest root filesystem archive %s", path);
	}
	return 0;
}

/* ---- spec -> launch record ---- */

static const char *const vxn_own_mounts[] = { "/proc",	     "/dev", "/dev/pts",       "/dev/shm",
					      "/dev/mqueue", "/sys", "/sys/fs/cgroup", NULL };

struct share_list {
	vxn_domain_config *cfg;
	size_t n;
};

static int translate_mount(const json *m, json *out_mounts, struct share_list *shares,
			   vxn_error **err)
{
	const char *dst = json_object_get_string(m, "destination");
	const char *type = json_object_get_string(m, "type");
	const char *src = json_object_get_string(m, "source");
	json *opts = json_object_get_array(m, "options");
	if (!dst || dst[0] != '/')
		return error_set(err, VXN_EINVAL, 0,
				 "spec mounts: destination must be an absolute path");
	if (strv_contains((char **)vxn_own_mounts, dst))
		return 0; /* vxn-init mounts these itself */
	bool bind = (type && strcmp(type, "bind") == 0) || (!type && src && src[0] == '/');
	for (size_t i = 0; !bind && i < json_array_length(opts); i++) {
		const char *o = json_string_value(json_array_get(opts, i));
		bind = o && (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0);
	}
	_cleanup_json_ json *lm = json_object();
	if (!lm)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = json_object_set_string(lm, "destination", dst);
	if (bind) {
		/* A host directory: shared with the guest over 9p; ro is enforced by the host. */
		bool ro = false;
		for (size_t i = 0; i < json_array_length(opts); i++) {
			const char *o = json_string_value(json_array_get(opts, i));
			ro |= o && strcmp(o, "ro") == 0;
		}
		if (!src || src[0] != '/')
			return error_set(err, VXN_EINVAL, 0,
					 "mount %s: bind source must be an absolute host path",
					 dst);
		struct stat st;
		if (stat(src, &st) < 0)
			return error_errno(err, -errno, "mount %s: source %s", dst, src);
		if (!S_ISDIR(st.st_mode))
			return error_set(err, VXN_ENOTSUP, 0,
					 "mount %s: source %s is not a directory (only directories "
					 "can be shared with a VM)",
					 dst, src);
		char tag[32];
		snprintf(tag, sizeof(tag), "vol%zu", shares->n);
		r = vxn_domain_config_add_share(shares->cfg, tag, src, ro, err);
		if (r < 0)
			return r;
		shares->n++;
		json *lo = json_array();
		r = lo ? 0 : -ENOMEM;
		const char *o9[] = { ro ? "ro" : "rw", "trans=virtio", "version=9p2000.L",
				     "msize=262144",   "cache=none",   NULL };
		for (size_t i = 0; r == 0 && o9[i]; i++)
			r = json_array_append_take(lo, json_string(o9[i]));
		if (r == 0)
			r = json_object_set_string(lm, "type", "9p");
		if (r == 0)
			r = json_object_set_string(lm, "source", tag);
		if (r == 0)
			r = json_object_set_take(lm, "options", lo);
		else
			json_free(lo);
	} else {
		if (r == 0)
			r = json_object_set_string(lm, "type", type ? type : "tmpfs");
		if (r == 0)
			r = json_object_set_string(lm, "source", src ? src : "tmpfs");
		if (r == 0)
			r = json_object_set_take(lm, "options",
						 opts ? json_copy(opts) : json_array());
	}
	if (r == 0)
		r = json_array_append_take(out_mounts, TAKE_PTR(lm));
	return r < 0 ? error_set(err, VXN_ENOMEM, ENOMEM, "out of memory") : 0;
}

static int copy_member(json *dst, const json *src, const char *key)
{
	json *v = json_object_get(src, key);
	return v ? json_object_set_take(dst, key, json_copy(v)) : 0;
}

static int build_launch(const char *spec_json, const char *id, const vxn_container_opts *o,
			struct share_list *shares, char **out, vxn_error **err)
{
	_cleanup_json_ json *spec = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(spec_json, strlen(spec_json), &spec, &msg) < 0)
		return error_set(err, VXN_EINVAL, 0, "spec: %s", msg ? msg : "out of memory");
	json *proc = json_object_get_object(spec, "process");
	json *args = json_object_get_array(proc, "args");
	if (!json_array_length(args))
		return error_set(err, VXN_EINVAL, 0, "spec: process.args is empty");
	_cleanup_json_ json *l = json_object();
	json *lp = json_object(), *user = json_object(), *mounts = json_array(),
	     *root = json_object();
	int r = l && lp && user && mounts && root ? 0 : -ENOMEM;
	if (r == 0)
		r = json_object_set_int(l, "version", 1);
	if (r == 0)
		r = json_object_set_string(l, "id", id);
	for (const char *const *k = (const char *const[]){ "args", "env", "cwd", "terminal",
							   "rlimits", "noNewPrivileges", NULL };
	     r == 0 && *k; k++)
		r = copy_member(lp, proc, *k);
	json *su = json_object_get_object(proc, "user");
	json *ann = json_object_get_object(spec, "annotations");
	const char *uname = json_object_get_string(ann, "io.vxn.user.name");
	const char *gname = json_object_get_string(ann, "io.vxn.user.group");
	/* io.vxn.user.gid: "passwd" (the group of the user's passwd entry, as
	 * docker -u UID does) or a gid to go with a user name */
	const char *ugid = json_object_get_string(ann, "io.vxn.user.gid");
	bool gid_from_passwd = ugid && strcmp(ugid, "passwd") == 0;
	if (r == 0 && uname)
		r = json_object_set_string(user, "name", uname);
	else if (r == 0)
		r = json_object_set_int(user, "uid", json_int_value(json_object_get(su, "uid"), 0));
	if (r == 0 && uname && ugid && !gid_from_passwd)
		r = json_object_set_int(user, "gid", strtoll(ugid, NULL, 10));
	else if (r == 0 && !uname && !gid_from_passwd)
		r = json_object_set_int(user, "gid", json_int_value(json_object_get(su, "gid"), 0));
	if (r == 0 && gname)
		r = json_object_set_string(user, "group", gname);
	if (r == 0 && json_object_get(su, "additionalGids"))
		r = copy_member(user, su, "additionalGids");
	if (r == 0 && json_object_get(su, "umask"))
		r = json_object_set_int(lp, "umask",
					json_int_value(json_object_get(su, "umask"), 18));
	if (r == 0) {
		r = json_object_set_take(lp, "user", user);
		user = NULL;
	}
	/* stdin is streamed when the spec keeps it open (docker run -i) */
	bool open_stdin =
	    json_bool_value(json_object_get(ann, "io.vxn.stdin"), false) ||
	    (json_string_value(json_object_get(ann, "io.vxn.stdin")) &&
	     strcmp(json_string_value(json_object_get(ann, "io.vxn.stdin")), "true") == 0);
	if (r == 0)
		r = json_object_set_bool(lp, "stdin", open_stdin);
	if (r == 0) {
		r = json_object_set_take(l, "process", lp);
		lp = NULL;
	}
	if (r == 0)
		r = copy_member(l, spec, "hostname");
	if (r == 0)
		r = json_object_set_string(root, "source", "initramfs");
	if (r == 0)
		r = json_object_set_bool(
		    root, "readonly",
		    json_bool_value(
			json_object_get(json_object_get_object(spec, "root"), "readonly"), false));
	if (r == 0) {
		r = json_object_set_take(l, "root", root);
		root = NULL;
	}
	json_free(lp);
	json_free(user);
	json_free(root);
	if (r < 0) {
		json_free(mounts);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	json *sm = json_object_get_array(spec, "mounts");
	for (size_t i = 0; i < json_array_length(sm); i++) {
		r = translate_mount(json_array_get(sm, i), mounts, shares, err);
		if (r < 0) {
			json_free(mounts);
			return r;
		}
	}
	r = json_object_set_take(l, "mounts", mounts);
	json *con = json_object();
	if (r == 0 && con && json_object_set_int(con, "rows", o ? o->rows : 24) == 0 &&
	    json_object_set_int(con, "cols", o ? o->cols : 80) == 0)
		r = json_object_set_take(l, "console", con);
	else
		json_free(con);
	const char *stop = json_object_get_string(ann, "org.opencontainers.image.stopSignal");
	if (r == 0 && stop) {
		int sig = atoi(stop);
		if (sig > 0 && sig <= 64)
			r = json_object_set_int(l, "stopSignal", sig);
	}
	if (r < 0 || json_serialize(l, false, out, NULL) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

/* ---- create / run / free ---- */

/*
 * Remove what a killed process left in <state>/containers. Each container
 * holds a flock on <id>.lock, taken before <id>/ is created and released by
 * the kernel when its process dies; so a directory whose lock is missing or
 * free is stale. Its VM is gone already: the backend ties the VMM's life to
 * its parent (PR_SET_PDEATHSIG). Orphaned lock files go after a minute (a
 * younger one may be a creator's between open and flock).
 */
static void sweep_stale(const char *state_root)
{
	_cleanup_free_ char *top = path_join(state_root, "containers");
	DIR *d = top ? opendir(top) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = path_join(top, de->d_name);
		struct stat st;
		if (!path || lstat(path, &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			if (S_ISREG(st.st_mode) && str_endswith(de->d_name, ".lock") &&
			    time(NULL) - st.st_mtime > 60) {
				_cleanup_free_ char *dir = strndup(path, strlen(path) - 5);
				int fd = open(path, O_RDWR | O_CLOEXEC);
				if (dir && access(dir, F_OK) < 0 && fd >= 0 &&
				    flock(fd, LOCK_EX | LOCK_NB) == 0)
					unlink(path);
				if (fd >= 0)
					close(fd);
			}
			continue;
		}
		_cleanup_free_ char *lock = str_printf("%s.lock", path);
		int fd = lock ? open(lock, O_RDWR | O_CLOEXEC) : -1;
		if (lock && (fd < 0 ? errno == ENOENT : flock(fd, LOCK_EX | LOCK_NB) == 0)) {
			rm_rf(path);
			if (fd >= 0)
				unlink(lock);
		}
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
}

static char *random_id(void)
{
	unsigned char b[32];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return NULL;
	char *s = malloc(65);
	for (size_t i = 0; s && i < 32; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return s;
}

int vxn_container_create(vxn_container **out, vxn_ctx *ctx, vxn_image_store *store,
			 const vxn_image *image, const char *spec_json, const vxn_container_opts *o,
			 vxn_error **err)
{
	vxn_container *c = calloc(1, sizeof(*c));
	if (c)
		c->lock_fd = -1;
	if (!c)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	c->ctx = ctx;
	c->id = o && o->id ? strdup(o->id) : random_id();
	c->name = !c->id	 ? NULL
		  : o && o->name ? str_printf("vxn-%s", o->name)
				 : str_printf("vxn-%.12s", c->id);
	c->dir = c->id ? str_printf("%s/containers/%s", vxn_ctx_state_root(ctx), c->id) : NULL;
	int r = c->name && c->dir ? 0 : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	_cleanup_free_ char *kernel = NULL, *base = NULL, *rootfs = NULL, *launch = NULL,
			    *lpath = NULL;
	vxn_domain_config *cfg = NULL;
	struct share_list shares = { 0 };
	if (r == 0)
		r = find_kernel(ctx, o, &kernel, err);
	if (r == 0)
		r = find_initramfs(ctx, &base, err);
	if (r == 0)
		r = vxn_domain_config_new(&cfg, err);
	shares.cfg = cfg;
	if (r == 0)
		r = build_launch(spec_json, c->id, o, &shares, &launch, err);
	if (r == 0)
		r = rootfs_cpio(store, image, &rootfs, err);
	if (r == 0) {
		log_debug(ctx, "container", "%s: preparing", c->name);
		sweep_stale(vxn_ctx_state_root(ctx));
	}
	/* the lock first, then the directory (see sweep_stale()) */
	_cleanup_free_ char *top = path_join(vxn_ctx_state_root(ctx), "containers");
	if (r == 0 && (!top || mkdir_p(top, 0700) < 0))
		r = error_errno(err, top ? -errno : -ENOMEM, "container directory %s",
				top ? top : "");
	if (r == 0) {
		c->lock = str_printf("%s.lock", c->dir);
		c->lock_fd =
		    c->lock ? open(c->lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
		if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0)
			r = error_errno(err, c->lock ? -errno : -ENOMEM, "container lock %s",
					c->lock ? c->lock : "");
	}
	if (r == 0 && mkdir_p(c->dir, 0700) < 0)
		r = error_errno(err, -errno, "container directory %s", c->dir);
	if (r == 0) {
		/* the launch record goes into its own small archive (mode 0600) */
		cpio_writer *w = NULL;
		void *data = NULL;
		size_t len = 0;
		int q = cpio_writer_new(&w);
		if (q == 0)
			q = cpio_writer_add_dir(w, "vxn", 0700);
		if (q == 0)
			q = cpio_writer_add_file(w, "vxn/launch.json", 0600, launch,
						 strlen(launch));
		if (q == 0)
			q = cpio_writer_finish(w);
		if (q == 0)
			q = cpio_writer_steal(w, &data, &len);
		cpio_writer_free(w);
		lpath = path_join(c->dir, "launch.cpio");
		if (q == 0 && lpath)
			q = write_file_atomic(lpath, data, len, 0600);
		free(data);
		if (q < 0 || !lpath)
			r = error_errno(err, q < 0 ? q : -ENOMEM, "launch record");
	}
	unsigned mem = o && o->memory_mib ? o->memory_mib : 256;
	if (r == 0)
		r = check_memory(base, rootfs, lpath, mem, err);
	if (r == 0)
		r = vxn_domain_config_set_name(cfg, c->name, err);
	if (r == 0)
		r = vxn_domain_config_set_kernel(cfg, kernel, err);
	if (r == 0)
		r = vxn_domain_config_add_initrd(cfg, base, err);
	if (r == 0)
		r = vxn_domain_config_add_initrd(cfg, rootfs, err);
	if (r == 0)
		r = vxn_domain_config_add_initrd(cfg, lpath, err);
	if (r == 0)
		r = vxn_domain_config_set_cmdline(cfg, "quiet panic=-1 vxn.proto=1", err);
	if (r == 0)
		r = vxn_domain_config_set_memory_mib(cfg, mem, err);
	if (r == 0 && o && o->vcpus)
		r = vxn_domain_config_set_vcpus(cfg, o->vcpus, err);
	if (r == 0 && o && o->backend)
		r = vxn_domain_config_set_backend(cfg, o->backend, err);
	if (r == 0) {
		/* QEMU's own stderr in the container's directory: removed with it, and
		 * swept with it when a killed run could not remove it */
		_cleanup_free_ char *vmm_log = path_join(c->dir, "vmm.log");
		r = vmm_log ? vxn_domain_config_set_log_file(cfg, vmm_log, err)
			    : error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	if (r == 0) {
		log_debug(ctx, "container", "%s: prepared", c->name);
		r = vxn_domain_create(&c->domain, ctx, cfg, err);
	}
	vxn_domain_config_free(cfg);
	if (r == 0)
		r = vxn_session_new(&c->session, ctx, vxn_domain_console_fd(c->domain), err);
	if (r == 0) {
		/* boot-to-ready deadline: the option, else the boot_timeout key (seconds) */
		const char *bt = vxn_ctx_get(ctx, "boot_timeout");
		unsigned ms = o && o->ready_timeout_ms ? o->ready_timeout_ms
			      : bt		       ? (unsigned)strtoul(bt, NULL, 10) * 1000
						       : 0;
		if (ms)
			vxn_session_set_ready_timeout_ms(c->session, ms);
	}
	if (r < 0) {
		vxn_container_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int vxn_container_host_info(char ***out_report, vxn_ctx *ctx, const vxn_container_opts *o,
			    vxn_error **err)
{
	_cleanup_free_ char *kernel = NULL, *base = NULL;
	_cleanup_strv_ char **report = NULL;
	vxn_domain_config *cfg = NULL;
	int r = find_kernel(ctx, o, &kernel, err);
	if (r == 0)
		r = find_initramfs(ctx, &base, err);
	if (r == 0)
		r = vxn_domain_config_new(&cfg, err);
	if (r == 0)
		r = vxn_domain_config_set_name(cfg, "vxn-probe", err);
	if (r == 0)
		r = vxn_domain_config_set_kernel(cfg, kernel, err);
	if (r == 0)
		r = vxn_domain_config_add_initrd(cfg, base, err);
	if (r == 0 && o && o->backend)
		r = vxn_domain_config_set_backend(cfg, o->backend, err);
	if (r == 0)
		r = domain_host_info(ctx, cfg, &report, err);
	vxn_domain_config_free(cfg);
	if (r == 0 && (strv_push_take(&report, str_printf("kernel=%s", kernel)) < 0 ||
		       strv_push_take(&report, str_printf("initramfs=%s", base)) < 0))
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r == 0) {
		*out_report = report;
		report = NULL;
	}
	return r;
}

vxn_session *vxn_container_session(vxn_container *c)
{
	return c->session;
}

const char *vxn_container_name(const vxn_container *c)
{
	return c->name;
}

const char *vxn_container_id(const vxn_container *c)
{
	return c->id;
}

int vxn_container_pid(const vxn_container *c)
{
	return c->domain ? vxn_domain_pid(c->domain) : 0;
}

int vxn_container_run(vxn_container *c, int in_fd, int out_fd, int err_fd, int *exit_status,
		      vxn_error **err)
{
	vxn_session_set_stdio(c->session, in_fd, out_fd, err_fd);
	_cleanup_free_ char *logp = path_join(vxn_ctx_log_root(c->ctx), c->id);
	int logfd = -1;
	if (logp && mkdir_p(vxn_ctx_log_root(c->ctx), 0700) == 0)
		logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	vxn_session_set_log_fd(c->session, logfd);
	int r = vxn_domain_start(c->domain, err);
	int status = 0;
	if (r == 0) {
		log_debug(c->ctx, "container", "%s: started", c->name);
		r = vxn_session_run(c->session, &status, err);
	}
	/* the guest powers off after EXIT; give it a bounded time, then force */
	vxn_domain_shutdown(c->domain, 10000, NULL);
	log_debug(c->ctx, "container", "%s: VM gone", c->name);
	if (logfd >= 0)
		close(logfd);
	/* a clean run leaves no guest log behind; a failed one keeps it for diagnosis */
	if (r == 0 && logp)
		unlink(logp);
	if (r == 0)
		*exit_status = status;
	return r;
}

void vxn_container_free(vxn_container *c)
{
	if (!c)
		return;
	vxn_session_free(c->session);
	vxn_domain_free(c->domain);
	if (c->dir && c->lock_fd >= 0)
		rm_rf(c->dir);
	if (c->lock_fd >= 0) {
		unlink(c->lock);
		close(c->lock_fd);
	}
	free(c->lock);
	free(c->id);
	free(c->name);
	free(c->dir);
	free(c);
}
