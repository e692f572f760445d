/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* load (OCI layout / OCI archive / docker archive), save, and import of a rootfs tarball. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store-private.h"
#include "image/unpack.h"
#include "shared/util.h"

/* A name annotation counts as a full reference when it is more than a bare tag. */
static char *normalize_name(const char *n)
{
	if (!n || !*n || (!strchr(n, '/') && !strchr(n, ':') && !strchr(n, '@')))
		return NULL;
	vxn_ref *ref = NULL;
	if (vxn_ref_parse(&ref, n, NULL) < 0)
		return NULL;
	char *full = strdup(vxn_ref_string(ref));
	vxn_ref_free(ref);
	return full;
}

struct pending {
	char **digests; /* manifest digests */
	char **names;	/* parallel; "" for dangling (strv cannot hold NULL) */
};

static void pending_clear(struct pending *p)
{
	strv_free(p->digests);
	strv_free(p->names);
}

static int pending_add(struct pending *p, const char *digest, const char *name)
{
	if (strv_push(&p->digests, digest) < 0 || strv_push(&p->names, name ? name : "") < 0)
		return -ENOMEM;
	return 0;
}

static int pending_commit(vxn_image_store *s, struct pending *p, vxn_error **err)
{
	size_t n = strv_length(p->digests);
	_cleanup_free_ char **names = calloc(n + 1, sizeof(char *));
	if (!names)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		names[i] = p->names[i][0] ? p->names[i] : NULL;
	return store_commit(s, p->digests, names, n, err);
}

/* First bytes of a stored blob decide a layer's media type. */
static const char *layer_media_type(vxn_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);
	unsigned char m[4] = { 0 };
	_cleanup_close_ int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0 && read(fd, m, sizeof(m)) == (ssize_t)sizeof(m)) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return MT_OCI_LAYER_GZ;
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return MT_OCI_LAYER_ZS;
	}
	return MT_OCI_LAYER;
}

static json *descriptor(const char *media_type, const char *digest, uint64_t size)
{
	json *d = json_object();
	if (!d || json_object_set_string(d, "mediaType", media_type) < 0 ||
	    json_object_set_string(d, "digest", digest) < 0 ||
	    json_object_set_int(d, "size", (int64_t)size) < 0) {
		json_free(d);
		return NULL;
	}
	return d;
}

/* Build and store an OCI manifest for a config + layers already in the store. */
static int write_manifest(vxn_image_store *s, const char *config_digest, uint64_t config_size,
			  char *const *layers, const uint64_t *sizes,
			  char out_digest[DIGEST_STRING_MAX], vxn_error **err)
{
	_cleanup_json_ json *m = json_object();
	json *ls = json_array();
	int r = m && ls ? 0 : -ENOMEM;
	if (r == 0)
		r = json_object_set_int(m, "schemaVersion", 2);
	if (r == 0)
		r = json_object_set_string(m, "mediaType", MT_OCI_MANIFEST);
	if (r == 0)
		r = json_object_set_take(m, "config",
					 descriptor(MT_OCI_CONFIG, config_digest, config_size));
	for (size_t i = 0; r == 0 && layers[i]; i++)
		r = json_array_append_take(
		    ls, descriptor(layer_media_type(s, layers[i]), layers[i], sizes[i]));
	if (r == 0) {
		r = json_object_set_take(m, "layers", ls);
		ls = NULL;
	}
	json_free(ls);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (r < 0 || json_serialize(m, false, &text, &len) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return store_write_blob(s, text, len, out_digest, err);
}

/* ---- load ---- */

static int load_docker_archive(vxn_image_store *s, const struct store_tmp *t, int root_fd,
			       const char *root_path, bool movable, const char *name,
			       struct pending *pend, vxn_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_beneath(root_fd, "manifest.json", SMALL_BLOB_MAX, &text, &len);
	if (r < 0)
		return error_errno(err, r, "docker archive: manifest.json");
	_cleanup_json_ json *doc = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(text, len, &doc, &msg) < 0 || !json_is(doc, JSON_ARRAY))
		return error_set(err, VXN_EINVAL, 0, "docker archive: manifest.json: %s",
				 msg ? msg : "not an array");
	for (size_t i = 0; i < json_array_length(doc); i++) {
		json *e = json_array_get(doc, i);
		const char *cfg = json_object_get_string(e, "Config");
		json *layers = json_object_get_array(e, "Layers");
		if (!cfg || !layers)
			return error_set(
			    err, VXN_EINVAL, 0,
			    "docker archive: manifest.json entry %zu lacks Config or Layers", i);
		char cd[DIGEST_STRING_MAX];
		uint64_t csize = 0;
		r = ingest_beneath(s, t, root_fd, root_path, cfg, movable, NULL, cd, &csize, err);
		if (r < 0)
			return error_prefix(err, r, "docker archive: config %s", cfg);
		size_t nl = json_array_length(layers);
		_cleanup_strv_ char **ld = calloc(nl + 1, sizeof(char *));
		_cleanup_free_ uint64_t *sizes = calloc(nl + 1, sizeof(uint64_t));
		if (!ld || !sizes)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		for (size_t j = 0; j < nl; j++) {
			const char *lp = json_string_value(json_array_get(layers, j));
			char d[DIGEST_STRING_MAX];
			if (!lp)
				return error_set(err, VXN_EINVAL, 0,
						 "docker archive: layer %zu is not a path", j);
			opts_progress(NULL, "", "Loading layer", 0, 0);
			r = ingest_beneath(s, t, root_fd, root_path, lp, movable, NULL, d,
					   &sizes[j], err);
			if (r < 0)
				return error_prefix(err, r, "docker archive: layer %s", lp);
			ld[j] = strdup(d);
			if (!ld[j])
				return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		}
		char md[DIGEST_STRING_MAX];
		r = write_manifest(s, cd, csize, ld, sizes, md, err);
		if (r < 0)
			return r;
		json *tags = json_object_get_array(e, "RepoTags");
		size_t named = 0;
		for (size_t j = 0; j < json_array_length(tags); j++) {
			_cleanup_free_ char *full = NULL;
			vxn_ref *ref = NULL;
			const char *tag = json_string_value(json_array_get(tags, j));
			if (!tag)
				continue;
			r = vxn_ref_parse(&ref, tag, err);
			if (r < 0)
				return error_prefix(err, r, "docker archive: RepoTags");
			full = strdup(vxn_ref_string(ref));
			vxn_ref_free(ref);
			if (!full || pending_add(pend, md, full) < 0)
				return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
			named++;
		}
		if (!named && pending_add(pend, md, name) < 0)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

static int load_oci_manifest(vxn_image_store *s, const struct store_tmp *t, int root_fd,
			     const char *root_path, bool movable, const char *digest,
			     vxn_error **err)
{
	_cleanup_free_ char *rel = str_printf("blobs/sha256/%s", digest_hex(digest));
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!rel)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = read_beneath(root_fd, rel, SMALL_BLOB_MAX, &text, &len);
	if (r < 0)
		return error_errno(err, r, "manifest %s", digest);
	char got[DIGEST_STRING_MAX];
	digest_buffer(text, len, got);
	if (strcmp(got, digest) != 0)
		return error_set(err, VXN_EDIGEST, 0, "manifest %s: content has digest %s", digest,
				 got);
	_cleanup_json_ json *m = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(text, len, &m, &msg) < 0)
		return error_set(err, VXN_EINVAL, 0, "manifest %s: %s", digest,
				 msg ? msg : "out of memory");
	_cleanup_strv_ char **blobs = NULL;
	if (manifest_blobs(m, &blobs) < 0)
		return error_set(err, VXN_EINVAL, 0, "manifest %s: invalid blob digests", digest);
	for (size_t i = 0; blobs[i]; i++) {
		_cleanup_free_ char *b = str_printf("blobs/sha256/%s", digest_hex(blobs[i]));
		if (!b)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		r = ingest_beneath(s, t, root_fd, root_path, b, movable, blobs[i], NULL, NULL, err);
		if (r < 0)
			return r;
	}
	return store_write_blob(s, text, len, NULL, err);
}

static int load_oci_layout(vxn_image_store *s, const struct store_tmp *t, int root_fd,
			   const char *root_path, bool movable, const char *name,
			   const vxn_image_opts *o, struct pending *pend, vxn_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_beneath(root_fd, "index.json", SMALL_BLOB_MAX, &text, &len);
	if (r < 0)
		return error_errno(err, r, "OCI layout: index.json");
	_cleanup_json_ json *idx = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(text, len, &idx, &msg) < 0)
		return error_set(err, VXN_EINVAL, 0, "OCI layout: index.json: %s",
				 msg ? msg : "out of memory");
	json *mans = json_object_get_array(idx, "manifests");
	if (!json_array_length(mans))
		return error_set(err, VXN_EINVAL, 0, "OCI layout: index.json lists no images");
	size_t unnamed = 0;
	for (size_t i = 0; i < json_array_length(mans); i++) {
		json *ann = json_object_get_object(json_array_get(mans, i), "annotations");
		_cleanup_free_ char *a =
		    normalize_name(json_object_get_string(ann, ANN_CONTAINERD_NAME));
		_cleanup_free_ char *b = normalize_name(json_object_get_string(ann, ANN_REF_NAME));
		if (!a && !b)
			unnamed++;
	}
	for (size_t i = 0; i < json_array_length(mans); i++) {
		const json *d = json_array_get(mans, i);
		json *ann = json_object_get_object(d, "annotations");
		const char *dg = json_object_get_string(d, "digest");
		if (!digest_is_valid(dg))
			return error_set(err, VXN_EINVAL, 0,
					 "OCI layout: index entry %zu: bad digest", i);
		_cleanup_free_ char *nm =
		    normalize_name(json_object_get_string(ann, ANN_CONTAINERD_NAME));
		if (!nm)
			nm = normalize_name(json_object_get_string(ann, ANN_REF_NAME));
		if (!nm && name && unnamed == 1)
			nm = strdup(name);
		_cleanup_free_ char *sel = strdup(dg);
		const char *mt = json_object_get_string(d, "mediaType");
		if (!sel)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		if (mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_D2_LIST) == 0)) {
			_cleanup_free_ char *rel = str_printf("blobs/sha256/%s", digest_hex(dg));
			_cleanup_free_ char *itext = NULL;
			_cleanup_json_ json *inner = NULL;
			size_t ilen = 0;
			const json *pick = NULL;
			char got[DIGEST_STRING_MAX];
			if (!rel ||
			    (r = read_beneath(root_fd, rel, SMALL_BLOB_MAX, &itext, &ilen)) < 0)
				return error_errno(err, rel ? r : -ENOMEM, "image index %s", dg);
			digest_buffer(itext, ilen, got);
			if (strcmp(got, dg) != 0)
				return error_set(err, VXN_EDIGEST, 0,
						 "image index %s: content has digest %s", dg, got);
			if (json_parse(itext, ilen, &inner, NULL) < 0)
				return error_set(err, VXN_EINVAL, 0, "image index %s: invalid JSON",
						 dg);
			r = select_platform(inner, o, nm ? nm : dg, &pick, err);
			if (r < 0)
				return r;
			free(sel);
			sel = strdup(json_object_get_string(pick, "digest") ?: "");
			if (!sel || !digest_is_valid(sel))
				return error_set(err, VXN_EINVAL, 0, "image index %s: bad entry",
						 dg);
		}
		r = load_oci_manifest(s, t, root_fd, root_path, movable, sel, err);
		if (r < 0)
			return error_prefix(err, r, "OCI layout");
		if (pending_add(pend, sel, nm) < 0)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

int vxn_image_load(char ***out_names, vxn_image_store *s, const char *path, const char *name,
		   const vxn_image_opts *o, vxn_error **err)
{
	const char *what = path && strcmp(path, "-") ? path : "standard input";
	_cleanup_free_ char *full_name = NULL;
	if (name) {
		vxn_ref *ref = NULL;
		int q = vxn_ref_parse(&ref, name, err);
		if (q < 0)
			return q;
		full_name = strdup(vxn_ref_string(ref));
		vxn_ref_free(ref);
		if (!full_name)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_store_tmp_ struct store_tmp t = { 0 };
	int r = store_tmp_new(s, &t, err);
	if (r < 0)
		return r;
	struct stat st;
	bool is_dir = path && strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	_cleanup_free_ char *root_path = NULL;
	_cleanup_close_ int root_fd = -1;
	if (is_dir) {
		root_path = strdup(path);
		root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!root_path || root_fd < 0)
			return error_errno(err, root_path ? -errno : -ENOMEM, "%s", what);
	} else {
		_cleanup_close_ int in = path && strcmp(path, "-")
					     ? open(path, O_RDONLY | O_CLOEXEC)
					     : fcntl(0, F_DUPFD_CLOEXEC, 3);
		if (in < 0)
			return error_errno(err, -errno, "%s", what);
		root_path = path_join(t.path, "archive");
		if (!root_path || mkdir(root_path, 0700) < 0)
			return error_errno(err, root_path ? -errno : -ENOMEM, "staging");
		root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			return error_errno(err, -errno, "staging");
		opts_progress(o, "", "Reading archive", 0, 0);
		struct unpack_opts uo = { .label = "image archive", .whiteouts = false };
		r = layer_unpack(root_fd, in, &uo, err);
		if (r < 0)
			return error_prefix(err, r, "%s", what);
	}
	bool docker = faccessat(root_fd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	bool oci = faccessat(root_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (!docker && !oci)
		return error_set(
		    err, VXN_EINVAL, 0,
		    "%s: not an image archive or layout (no manifest.json or index.json)", what);
	_cleanup_(pending_clear) struct pending pend = { 0 };
	int gc = store_lock(s, s->gc_lock_fd, LOCK_SH, err);
	if (gc < 0)
		return gc;
	if (docker)
		r = load_docker_archive(s, &t, root_fd, root_path, !is_dir, full_name, &pend, err);
	else
		r = load_oci_layout(s, &t, root_fd, root_path, !is_dir, full_name, o, &pend, err);
	if (r == 0)
		r = pending_commit(s, &pend, err);
	store_unlock(gc);
	if (r < 0)
		return error_prefix(err, r, "%s", what);
	_cleanup_strv_ char **names = calloc(1, sizeof(char *));
	for (size_t i = 0; names && pend.digests && pend.digests[i]; i++) {
		char *n = NULL;
		if (pend.names[i][0]) {
			n = strdup(pend.names[i]);
		} else {
			vxn_image *img = NULL;
			if (image_from_manifest(&img, s, pend.digests[i], NULL, NULL) == 0)
				n = strdup(vxn_image_id(img));
			vxn_image_free(img);
		}
		if (n && !strv_contains(names, n))
			strv_push(&names, n);
		free(n);
		opts_progress(o, "", "Loaded image", 0, 0);
	}
	if (!names)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (out_names)
		*out_names = TAKE_PTR(names);
	return 0;
}

/* ---- save ---- */

static int tar_add_bytes(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, 0, 0);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	if (r == 0 && len && archive_write_data(a, data, len) != (la_ssize_t)len)
		r = -EIO;
	archive_entry_free(e);
	return r;
}

static int tar_add_dir(struct archive *a, const char *name)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_mtime(e, 0, 0);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	return r;
}

static int tar_add_blob(struct archive *a, vxn_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);
	_cleanup_free_ char *name = str_printf("blobs/sha256/%s", digest_hex(digest));
	if (!p || !name)
		return -ENOMEM;
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_mtime(e, 0, 0);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	/* Verify while copying: a corrupt blob must not leave the store unnoticed. */
	_cleanup_digester_ digester *d = digester_new();
	_cleanup_free_ char *buf = malloc(1 << 17);
	if (!d || !buf)
		return -ENOMEM;
	while (r == 0) {
		ssize_t n = read(fd, buf, 1 << 17);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		digester_update(d, buf, (size_t)n);
		if (archive_write_data(a, buf, (size_t)n) != n)
			r = -EIO;
	}
	if (r == 0) {
		char got[DIGEST_STRING_MAX];
		digester_final(d, got);
		if (strcmp(got, digest) != 0)
			return -EBADMSG;
	}
	return r;
}

static char *familiar_of(const char *full)
{
	vxn_ref *ref = NULL;
	if (vxn_ref_parse(&ref, full, NULL) < 0)
		return strdup(full);
	char *f = strdup(vxn_ref_familiar(ref));
	vxn_ref_free(ref);
	return f;
}

static char *tag_of(const char *full)
{
	vxn_ref *ref = NULL;
	if (vxn_ref_parse(&ref, full, NULL) < 0)
		return NULL;
	char *t = str_dup_or_null(vxn_ref_tag(ref));
	vxn_ref_free(ref);
	return t;
}

int vxn_image_save(vxn_image_store *s, const char *const *images, const char *path,
		   vxn_image_format format, vxn_error **err)
{
	size_t n = strv_length((char *const *)images);
	if (n == 0)
		return error_set(err, VXN_EINVAL, 0, "no images given");
	_cleanup_free_ vxn_image **imgs = calloc(n, sizeof(vxn_image *));
	_cleanup_strv_ char **names = calloc(n + 1, sizeof(char *)); /* "" for by-ID */
	if (!imgs || !names)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = vxn_image_lookup(&imgs[i], s, images[i], err);
		if (r < 0)
			break;
		/* Saved by name: that name; saved by ID: all of the image's names. */
		vxn_ref *ref = NULL;
		char *nm = NULL;
		if (vxn_ref_parse(&ref, images[i], NULL) == 0 &&
		    strv_contains((char *const *)vxn_image_names(imgs[i]), vxn_ref_string(ref)))
			nm = strdup(vxn_ref_string(ref));
		else
			nm = strdup("");
		vxn_ref_free(ref);
		names[i] = nm;
		if (!nm)
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *tmp = NULL;
	int fd = -1;
	struct archive *a = NULL;
	_cleanup_json_ json *index = NULL, *dman = NULL;
	_cleanup_strv_ char **written = calloc(1, sizeof(char *));
	_cleanup_free_ char *itext = NULL, *dtext = NULL;
	size_t ilen = 0, dlen = 0;
	json *mans = NULL;
	if (r < 0)
		goto out;
	if (!written) {
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if (path && strcmp(path, "-")) {
		tmp = str_printf("%s.tmp-XXXXXX", path);
		fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
		if (fd < 0) {
			r = error_errno(err, tmp ? -errno : -ENOMEM, "%s", path);
			goto out;
		}
		fchmod(fd, 0644);
	} else {
		fd = 1;
	}
	a = archive_write_new();
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = error_set(err, VXN_EIO, 0, "%s", a ? archive_error_string(a) : "out of memory");
		goto out;
	}
	index = json_object();
	mans = json_array();
	dman = json_array();
	if (!index || !mans || !dman || json_object_set_int(index, "schemaVersion", 2) < 0 ||
	    json_object_set_string(index, "mediaType", MT_OCI_INDEX) < 0 ||
	    json_object_set_take(index, "manifests", mans) < 0) {
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	r = tar_add_bytes(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	if (r == 0)
		r = tar_add_dir(a, "blobs/");
	if (r == 0)
		r = tar_add_dir(a, "blobs/sha256/");
	for (size_t i = 0; i < n && r == 0; i++) {
		const vxn_image *img = imgs[i];
		_cleanup_strv_ char **blobs = NULL;
		if (manifest_blobs(image_manifest(img), &blobs) < 0 ||
		    strv_push(&blobs, vxn_image_digest(img)) < 0) {
			r = -ENOMEM;
			break;
		}
		for (size_t j = 0; blobs[j] && r == 0; j++) {
			if (strv_contains(written, blobs[j]))
				continue;
			r = tar_add_blob(a, s, blobs[j]);
			if (r == -EBADMSG) {
				r = error_set(err, VXN_EDIGEST, 0, "blob %s is corrupt", blobs[j]);
				goto out;
			}
			if (r == 0 && strv_push(&written, blobs[j]) < 0)
				r = -ENOMEM;
		}
		/* Names: the one asked for, or all of the image's. */
		_cleanup_strv_ char **img_names = NULL;
		if (names[i][0])
			r = r ? r : strv_push(&img_names, names[i]);
		else
			r = r ? r : strv_copy(&img_names, (char *const *)vxn_image_names(img));
		json *tags = json_array();
		json *layers = json_array();
		if (!tags || !layers)
			r = -ENOMEM;
		for (size_t j = 0; r == 0 && img_names && img_names[j]; j++) {
			json *d = descriptor(image_manifest_media_type(img), vxn_image_digest(img),
					     strlen(vxn_image_manifest_json(img)));
			json *ann = json_object();
			_cleanup_free_ char *tag = tag_of(img_names[j]);
			r = d && ann ? 0 : -ENOMEM;
			if (r == 0)
				r = json_object_set_string(ann, ANN_CONTAINERD_NAME, img_names[j]);
			if (r == 0 && tag)
				r = json_object_set_string(ann, ANN_REF_NAME, tag);
			if (r == 0) {
				r = json_object_set_take(d, "annotations", ann);
				ann = NULL;
			}
			json_free(ann);
			if (r == 0) {
				r = json_array_append_take(mans, d);
				d = NULL;
			}
			json_free(d);
			if (r == 0)
				r = json_array_append_take(
				    tags, json_string(familiar_of(img_names[j]) ?: ""));
		}
		if (r == 0 && !img_names[0]) {
			/* An untagged image still needs an index entry. */
			r = json_array_append_take(
			    mans, descriptor(image_manifest_media_type(img), vxn_image_digest(img),
					     strlen(vxn_image_manifest_json(img))));
		}
		for (size_t j = 1; r == 0 && blobs[j] && strcmp(blobs[j], vxn_image_digest(img));
		     j++) {
			char *p = str_printf("blobs/sha256/%s", digest_hex(blobs[j]));
			r = json_array_append_take(layers, p ? json_string(p) : NULL);
			free(p);
		}
		json *e = json_object();
		char *cfg = str_printf("blobs/sha256/%s", digest_hex(vxn_image_id(img)));
		if (r == 0 && (!e || !cfg))
			r = -ENOMEM;
		if (r == 0)
			r = json_object_set_string(e, "Config", cfg);
		if (r == 0) {
			r = json_object_set_take(e, "RepoTags", tags);
			tags = NULL;
		}
		if (r == 0) {
			r = json_object_set_take(e, "Layers", layers);
			layers = NULL;
		}
		if (r == 0) {
			r = json_array_append_take(dman, e);
			e = NULL;
		}
		free(cfg);
		json_free(e);
		json_free(tags);
		json_free(layers);
	}
	if (r == 0 && (json_serialize(index, false, &itext, &ilen) < 0 ||
		       json_serialize(dman, false, &dtext, &dlen) < 0))
		r = -ENOMEM;
	if (r == 0)
		r = tar_add_bytes(a, "index.json", itext, ilen);
	if (r == 0 && format == VXN_IMAGE_FORMAT_DOCKER_ARCHIVE)
		r = tar_add_bytes(a, "manifest.json", dtext, dlen);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = -EIO;
	if (r < 0) {
		r = error_set(err, r == -ENOMEM ? VXN_ENOMEM : VXN_EIO, -r, "%s",
			      r == -ENOMEM ? "out of memory"
					   : (a && archive_error_string(a) ? archive_error_string(a)
									   : strerror(-r)));
		goto out;
	}
	if (tmp) {
		if (fsync(fd) < 0 || rename(tmp, path) < 0) {
			r = error_errno(err, -errno, "%s", path);
			goto out;
		}
		free(tmp);
		tmp = NULL;
	}
out:
	if (a)
		archive_write_free(a);
	if (fd > 1)
		close(fd);
	if (tmp)
		unlink(tmp);
	for (size_t i = 0; i < n; i++)
		vxn_image_free(imgs[i]);
	return r;
}

/* ---- import ---- */

/* "CMD [..]" (JSON) or shell form "CMD echo hi" -> ["/bin/sh","-c","echo hi"]. */
static json *exec_or_shell(const char *arg)
{
	json *j = NULL;
	if (arg[0] == '[' && json_parse(arg, strlen(arg), &j, NULL) == 0) {
		bool ok = json_is(j, JSON_ARRAY);
		for (size_t i = 0; ok && i < json_array_length(j); i++)
			ok = json_is(json_array_get(j, i), JSON_STRING);
		if (ok)
			return j;
		json_free(j);
		return NULL;
	}
	char *v[] = { "/bin/sh", "-c", (char *)arg, NULL };
	return json_from_strv(v);
}

static json *object_member(json *parent, const char *key)
{
	json *o = json_object_get_object(parent, key);
	if (o)
		return o;
	o = json_object();
	if (!o || json_object_set_take(parent, key, o) < 0)
		return NULL;
	return o;
}

/* Apply one --change to config.config. Returns 0 or -EINVAL/-ENOMEM. */
static int apply_change(json *cc, const char *change)
{
	size_t vl = strcspn(change, " \t");
	_cleanup_free_ char *verb = strndup(change, vl);
	_cleanup_free_ char *arg = strdup(change + vl);
	if (!verb || !arg)
		return -ENOMEM;
	str_strip(arg);
	for (char *p = verb; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (STREQ(verb, "CMD") || STREQ(verb, "ENTRYPOINT")) {
		json *v = exec_or_shell(arg);
		if (!v)
			return -EINVAL;
		return json_object_set_take(cc, STREQ(verb, "CMD") ? "Cmd" : "Entrypoint", v);
	}
	if (STREQ(verb, "WORKDIR") || STREQ(verb, "USER") || STREQ(verb, "STOPSIGNAL"))
		return json_object_set_string(cc,
					      STREQ(verb, "WORKDIR") ? "WorkingDir"
					      : STREQ(verb, "USER")  ? "User"
								     : "StopSignal",
					      arg);
	if (STREQ(verb, "ENV")) {
		json *env = json_object_get_array(cc, "Env");
		if (!env) {
			env = json_array();
			if (!env || json_object_set_take(cc, "Env", env) < 0)
				return -ENOMEM;
		}
		char *sp = arg + strcspn(arg, " \t");
		char *eq = strchr(arg, '=');
		if (!eq || eq > sp) {
			/* ENV KEY value */
			if (!*sp)
				return -EINVAL;
			*sp++ = '\0';
			return json_array_append_take(
			    env, json_string(str_printf("%s=%s", arg, str_strip(sp)) ?: ""));
		}
		for (char *tok = strtok(arg, " \t"); tok; tok = strtok(NULL, " \t")) {
			if (!strchr(tok, '=') || tok[0] == '=')
				return -EINVAL;
			int r = json_array_append_take(env, json_string(tok));
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (STREQ(verb, "LABEL")) {
		json *labels = object_member(cc, "Labels");
		if (!labels)
			return -ENOMEM;
		for (char *tok = strtok(arg, " \t"); tok; tok = strtok(NULL, " \t")) {
			char *eq = strchr(tok, '=');
			if (!eq || eq == tok)
				return -EINVAL;
			*eq++ = '\0';
			size_t l = strlen(eq);
			if (l >= 2 && eq[0] == '"' && eq[l - 1] == '"') {
				eq[l - 1] = '\0';
				eq++;
			}
			int r = json_object_set_string(labels, tok, eq);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (STREQ(verb, "EXPOSE") || STREQ(verb, "VOLUME")) {
		bool expose = STREQ(verb, "EXPOSE");
		json *set = object_member(cc, expose ? "ExposedPorts" : "Volumes");
		if (!set)
			return -ENOMEM;
		_cleanup_json_ json *list = NULL;
		if (!expose && arg[0] == '[' && json_parse(arg, strlen(arg), &list, NULL) == 0) {
			for (size_t i = 0; i < json_array_length(list); i++) {
				const char *p = json_string_value(json_array_get(list, i));
				if (!p || p[0] != '/' ||
				    json_object_set_take(set, p, json_object()) < 0)
					return -EINVAL;
			}
			return 0;
		}
		for (char *tok = strtok(arg, " \t"); tok; tok = strtok(NULL, " \t")) {
			_cleanup_free_ char *key = NULL;
			if (expose) {
				char *end = NULL;
				long port = strtol(tok, &end, 10);
				if (end == tok || port < 1 || port > 65535 ||
				    (*end && strcmp(end, "/tcp") && strcmp(end, "/udp") &&
				     strcmp(end, "/sctp")))
					return -EINVAL;
				key = *end ? strdup(tok) : str_printf("%s/tcp", tok);
			} else {
				if (tok[0] != '/')
					return -EINVAL;
				key = strdup(tok);
			}
			if (!key)
				return -ENOMEM;
			int r = json_object_set_take(set, key, json_object());
			if (r < 0)
				return r;
		}
		return 0;
	}
	return -EINVAL;
}

/* Check every entry name of a tar before it becomes a layer. */
static int check_tar_names(const char *path, vxn_error **err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	int r = 0;
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		r = error_set(err, VXN_EINVAL, 0, "not a tar archive: %s", archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	struct archive_entry *e;
	int st;
	size_t entries = 0;
	while ((st = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *names[2] = { archive_entry_pathname(e), archive_entry_hardlink(e) };
		for (int i = 0; i < 2 && r == 0; i++) {
			if (!names[i])
				continue;
			char *norm = NULL;
			const char *why = NULL;
			int q = unpack_path_normalize(names[i], &norm, &why);
			free(norm);
			if (q == -ENOMEM)
				r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
			else if (q < 0)
				r = error_set(err, VXN_EINVAL, 0, "entry '%s': %s", names[i], why);
		}
		if (r < 0)
			break;
		entries++;
	}
	if (r == 0 && st != ARCHIVE_EOF)
		r = error_set(err, VXN_EINVAL, 0, "not a valid tar archive: %s",
			      archive_error_string(a) ? archive_error_string(a) : "read error");
	if (r == 0 && entries == 0)
		r = error_set(err, VXN_EINVAL, 0, "the archive holds no files");
	archive_read_free(a);
	return r;
}

/* Decompress (if needed) in_fd into out_fd, returning the digest of the plain tar. */
static int decompress_to(int in_fd, int out_fd, char digest[DIGEST_STRING_MAX], uint64_t *size,
			 vxn_error **err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	int r = 0;
	struct archive_entry *e;
	if (archive_read_open_fd(a, in_fd, 1 << 17) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = error_set(err, VXN_EINVAL, 0, "cannot read input: %s",
			      archive_error_string(a) ? archive_error_string(a) : "empty input");
		archive_read_free(a);
		return r;
	}
	_cleanup_digester_ digester *d = digester_new();
	_cleanup_free_ char *buf = malloc(1 << 17);
	if (!d || !buf) {
		archive_read_free(a);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, 1 << 17);
		if (n < 0) {
			r = error_set(err, VXN_EINVAL, 0, "decompress: %s",
				      archive_error_string(a));
			break;
		}
		if (n == 0)
			break;
		digester_update(d, buf, (size_t)n);
		int q = write_all(out_fd, buf, (size_t)n);
		if (q < 0) {
			r = error_errno(err, q, "write layer");
			break;
		}
	}
	archive_read_free(a);
	if (r == 0) {
		*size = digester_bytes(d);
		digester_final(d, digest);
	}
	return r;
}

int vxn_image_import(vxn_image **out, vxn_image_store *s, const char *path, const char *refstr,
		     const vxn_image_opts *o, vxn_error **err)
{
	const char *what = path && strcmp(path, "-") ? path : "standard input";
	_cleanup_free_ char *full = NULL;
	if (refstr) {
		vxn_ref *ref = NULL;
		int q = vxn_ref_parse(&ref, refstr, err);
		if (q < 0)
			return q;
		if (vxn_ref_digest(ref)) {
			vxn_ref_free(ref);
			return error_set(err, VXN_EINVAL, 0, "name '%s' must not have a digest",
					 refstr);
		}
		full = strdup(vxn_ref_string(ref));
		vxn_ref_free(ref);
		if (!full)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	/* The config first: a bad --change fails before any work. */
	_cleanup_json_ json *config = json_object();
	json *cc = json_object();
	if (!config || !cc || json_object_set_take(config, "config", cc) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; o && o->changes && o->changes[i]; i++) {
		int q = apply_change(cc, o->changes[i]);
		if (q == -ENOMEM)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		if (q < 0)
			return error_set(err, VXN_EINVAL, 0, "invalid change '%s'", o->changes[i]);
	}
	_cleanup_store_tmp_ struct store_tmp t = { 0 };
	int r = store_tmp_new(s, &t, err);
	if (r < 0)
		return r;
	_cleanup_close_ int in = path && strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC)
							   : fcntl(0, F_DUPFD_CLOEXEC, 3);
	if (in < 0)
		return error_errno(err, -errno, "%s", what);
	_cleanup_free_ char *layer = path_join(t.path, "layer.tar");
	_cleanup_close_ int lfd =
	    layer ? open(layer, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
	if (lfd < 0)
		return error_errno(err, layer ? -errno : -ENOMEM, "staging");
	char diff_id[DIGEST_STRING_MAX];
	uint64_t lsize = 0;
	opts_progress(o, "", "Importing", 0, 0);
	r = decompress_to(in, lfd, diff_id, &lsize, err);
	if (r < 0)
		return error_prefix(err, r, "%s", what);
	r = check_tar_names(layer, err);
	if (r < 0)
		return error_prefix(err, r, "%s", what);

	const char *os, *arch, *variant;
	host_platform(&os, &arch, &variant);
	_cleanup_free_ char *now = now_rfc3339();
	json *rootfs = json_object(), *diffs = json_array(), *hist = json_array(),
	     *h = json_object();
	_cleanup_free_ char *comment =
	    o && o->message ? strdup(o->message) : str_printf("imported from %s", what);
	r = now && rootfs && diffs && hist && h && comment ? 0 : -ENOMEM;
	if (r == 0)
		r = json_object_set_string(config, "created", now);
	if (r == 0)
		r = json_object_set_string(config, "architecture", arch);
	if (r == 0)
		r = json_object_set_string(config, "os", os);
	if (r == 0)
		r = json_array_append_take(diffs, json_string(diff_id));
	if (r == 0)
		r = json_object_set_string(rootfs, "type", "layers");
	if (r == 0) {
		r = json_object_set_take(rootfs, "diff_ids", diffs);
		diffs = NULL;
	}
	if (r == 0) {
		r = json_object_set_take(config, "rootfs", rootfs);
		rootfs = NULL;
	}
	if (r == 0)
		r = json_object_set_string(h, "created", now);
	if (r == 0)
		r = json_object_set_string(h, "created_by", "vxn import");
	if (r == 0)
		r = json_object_set_string(h, "comment", comment);
	if (r == 0) {
		r = json_array_append_take(hist, h);
		h = NULL;
	}
	if (r == 0) {
		r = json_object_set_take(config, "history", hist);
		hist = NULL;
	}
	json_free(rootfs);
	json_free(diffs);
	json_free(hist);
	json_free(h);
	_cleanup_free_ char *ctext = NULL;
	size_t clen = 0;
	if (r < 0 || json_serialize(config, false, &ctext, &clen) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");

	int gc = store_lock(s, s->gc_lock_fd, LOCK_SH, err);
	if (gc < 0)
		return gc;
	char cd[DIGEST_STRING_MAX], md[DIGEST_STRING_MAX];
	char *layers[2] = { diff_id, NULL };
	uint64_t sizes[1] = { lsize };
	if (fsync(lfd) < 0)
		r = error_errno(err, -errno, "sync");
	if (r == 0)
		r = store_ingest_file(s, layer, diff_id, NULL, NULL, err);
	if (r == 0)
		r = store_write_blob(s, ctext, clen, cd, err);
	if (r == 0)
		r = write_manifest(s, cd, clen, layers, sizes, md, err);
	if (r == 0)
		r = store_commit_image(s, md, full, err);
	store_unlock(gc);
	if (r < 0)
		return error_prefix(err, r, "%s", what);
	if (out) {
		_cleanup_strv_ char **names = calloc(2, sizeof(char *));
		if (!names || (full && !(names[0] = strdup(full))))
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		return image_from_manifest(out, s, md, names, err);
	}
	return 0;
}
