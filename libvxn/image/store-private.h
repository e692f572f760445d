/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of the image module: the store (layout, locks,
 * blobs, index), image records, and the helpers the transfer and management
 * code share. doc/store-layout.md describes the on-disk layout.
 */
#ifndef VXN_IMAGE_STORE_PRIVATE_H
#define VXN_IMAGE_STORE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <vxn/image.h>

#include "core/private.h"
#include "shared/digest.h"
#include "shared/json.h"

/* Media types. */
#define MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG	"application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER	"application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZS "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_D2_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_D2_MANIFEST	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_D2_CONFIG	"application/vnd.docker.container.image.v1+json"
#define MT_D2_LAYER	"application/vnd.docker.image.rootfs.diff.tar"
#define MT_D2_LAYER_GZ	"application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Index annotations. */
#define ANN_REF_NAME	    "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD_NAME "io.containerd.image.name"
#define ANN_IMAGE_ID	    "io.vxn.image.id"
#define ANN_CREATED	    "io.vxn.image.created"

/* Blobs larger than this are never read into memory (manifests, configs are small). */
#define SMALL_BLOB_MAX (4u << 20)

struct vxn_image_store {
	vxn_ctx *ctx;
	char *path;
	int dir_fd;
	int index_lock_fd; /* flock LOCK_EX around every index read-modify-write */
	int gc_lock_fd;	   /* LOCK_SH while ingesting blobs, LOCK_EX while deleting them */
};

/* One entry of index.json. */
struct index_entry {
	char *name; /* normalised reference, or NULL for a dangling image */
	char *manifest_digest;
	char *media_type;
	int64_t size;
	char *image_id; /* config digest */
	char *created;	/* from the config, for sorting */
};

struct index {
	struct index_entry *entries;
	size_t n;
};

void index_clear(struct index *idx);
static inline void index_clearp(struct index *idx)
{
	index_clear(idx);
}
#define _cleanup_index_ __attribute__((cleanup(index_clearp)))

/* Read index.json (an empty index if it does not exist yet). */
int index_read(vxn_image_store *s, struct index *out, vxn_error **err);
/* Replace index.json atomically. Caller holds the index lock. */
int index_write(vxn_image_store *s, const struct index *idx, vxn_error **err);
/* Set name -> manifest (replacing the name's old target; an image that loses
 * its last name stays as a dangling entry). name NULL adds a dangling entry
 * unless the manifest already has an entry. */
int index_set(struct index *idx, const char *name, const char *manifest_digest,
	      const char *media_type, int64_t size, const char *image_id, const char *created);
/* Entries per manifest digest. */
size_t index_count_manifest(const struct index *idx, const char *manifest_digest);
void index_remove_at(struct index *idx, size_t i);

/* Locks (flock). Return an fd to pass to store_unlock(), or a negative status. */
int store_lock(vxn_image_store *s, int which_fd, int how, vxn_error **err);
void store_unlock(int fd);

/* Blob paths and access. */
char *store_blob_path(const vxn_image_store *s, const char *digest);
bool store_has_blob(const vxn_image_store *s, const char *digest);
/* Read a small blob, verifying its digest (VXN_EDIGEST names it). */
int store_read_blob(vxn_image_store *s, const char *digest, char **out, size_t *len,
		    vxn_error **err);
/* Write a buffer as a blob (verify nothing: digest computed). out_digest may be NULL. */
int store_write_blob(vxn_image_store *s, const void *data, size_t len,
		     char out_digest[DIGEST_STRING_MAX], vxn_error **err);
/*
 * Move a file (on the store's filesystem) into the blob store after checking
 * that its content has digest `expect` (NULL: compute and return it in
 * out_digest). The file is fsynced; if the blob exists already the file is
 * just removed. Caller holds the gc lock shared.
 */
int store_ingest_file(vxn_image_store *s, const char *path, const char *expect,
		      char out_digest[DIGEST_STRING_MAX], uint64_t *out_size, vxn_error **err);

/*
 * A private temporary directory under tmp/, locked by this process for its
 * lifetime; stale ones (owner gone) are removed by vxn_image_store_open().
 */
struct store_tmp {
	char *path;
	int lock_fd;
};
int store_tmp_new(vxn_image_store *s, struct store_tmp *out, vxn_error **err);
void store_tmp_done(struct store_tmp *t);
static inline void store_tmp_donep(struct store_tmp *t)
{
	store_tmp_done(t);
}
#define _cleanup_store_tmp_ __attribute__((cleanup(store_tmp_donep)))

/* Image records (image.c). */
int image_from_manifest(vxn_image **out, vxn_image_store *s, const char *manifest_digest,
			char *const *names, vxn_error **err);
/* Resolve a user's name (ref, name@digest, id, id prefix) to an index entry. */
int image_resolve(vxn_image_store *s, const struct index *idx, const char *name,
		  const char **manifest_digest, bool *by_id, vxn_error **err);
/* The names in idx pointing at a manifest (NULL-terminated, sorted). */
int index_names_for(const struct index *idx, const char *manifest_digest, char ***out);
/* Descriptor fields of an image, for writing archives. */
const char *image_manifest_media_type(const vxn_image *img);
const json *image_manifest(const vxn_image *img);
const char *image_config_digest(const vxn_image *img);

/* Commit manifests already in the store under names (NULL: dangling), all in one
 * index update under the index lock: either every name changes or none. */
int store_commit(vxn_image_store *s, char *const *manifest_digests, char *const *names, size_t n,
		 vxn_error **err);
static inline int store_commit_image(vxn_image_store *s, const char *manifest_digest,
				     const char *name, vxn_error **err)
{
	char *d[1] = { (char *)manifest_digest }, *nm[1] = { (char *)name };
	return store_commit(s, d, nm, 1, err);
}

/* Shared by transfer.c and archive.c. */
int open_beneath(int root_fd, const char *rel, int flags);
int read_beneath(int root_fd, const char *rel, size_t max, char **out, size_t *len);
int ingest_beneath(vxn_image_store *s, const struct store_tmp *t, int root_fd,
		   const char *root_path, const char *rel, bool movable, const char *expect,
		   char out_digest[DIGEST_STRING_MAX], uint64_t *out_size, vxn_error **err);
int manifest_blobs(const json *manifest, char ***out);
bool is_index_doc(const json *doc);
int select_platform(const json *index, const vxn_image_opts *o, const char *what, const json **out,
		    vxn_error **err);
char *now_rfc3339(void);

/* Delete unreferenced blobs and rootfs caches (prune's second half). */
int store_gc(vxn_image_store *s, uint64_t *reclaimed, vxn_error **err);

/* The platform of this host: "linux", "amd64", NULL variant. */
void host_platform(const char **os, const char **arch, const char **variant);

/* Options (transfer.c). */
struct vxn_image_opts {
	char *os, *arch, *variant;
	bool tls_verify;
	char *authfile;
	vxn_image_progress_fn progress;
	void *progress_userdata;
	char **changes;
	char *message;
};
void opts_progress(const vxn_image_opts *o, const char *id, const char *status, uint64_t cur,
		   uint64_t total);

#endif
