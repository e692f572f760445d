/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file image.h
 * Image references, the OCI image store, and image management.
 *
 * The store lives under the context's data root (`<data_root>/images`) in OCI
 * image-layout form (doc/store-layout.md): content-addressed blobs verified
 * when written and when read, an index with one entry per image name, a lock
 * that makes concurrent commands safe, and atomic updates, so a process
 * killed at any point never leaves a half-visible image.
 *
 * Images are named by references, normalised as Docker does
 * (`busybox` is `docker.io/library/busybox:latest`), or by their ID
 * (`sha256:<config digest>`, or an unambiguous prefix of its hex of at least
 * 4 characters, as `docker images` prints 12).
 */
#ifndef VXN_IMAGE_H
#define VXN_IMAGE_H

#include <vxn/common.h>
#include <vxn/context.h>
#include <vxn/error.h>

VXN_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/** @name References */

/** A parsed, normalised image reference. Opaque. */
typedef struct vxn_ref vxn_ref;

/**
 * Parse and normalise an image reference exactly as Docker does.
 *
 * - no registry: `docker.io`; a single path component on docker.io gets
 *   `library/`; `index.docker.io` is `docker.io`;
 * - the first component is a registry only when a '/' follows it and it
 *   contains '.' or ':', is `localhost`, or has upper case letters
 *   (`Registry.Example.COM/x`); a registry is host[:port], the host being
 *   dot-separated labels or a bracketed IPv6 address (`[::1]:5000`), and one
 *   that is not valid (`my_reg.local/x`) is refused; without a '/',
 *   `localhost:5000` is the repository `localhost` with tag `5000`;
 * - no tag and no digest: tag `latest`; `name:tag@sha256:...` keeps both;
 * - repository path components are `[a-z0-9]+` joined by '.', '_', '__' or
 *   runs of '-'; tags are `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; digests are
 *   `sha256:` + 64 lower case hex (other algorithms are rejected); the
 *   repository path (`library/busybox`, without the registry) is at most 255
 *   characters; a bare 64-hex string is refused (it is an image ID, not a
 *   reference).
 * Pure: no I/O.
 *
 * @param out receives the reference (vxn_ref_free()).
 * @param text the reference as a user typed it.
 * @return 0; VXN_EINVAL with a message naming the reference and the rule it
 *         breaks ("invalid reference format: repository name must be
 *         lowercase"); VXN_ENOMEM.
 */
VXN_EXPORT int vxn_ref_parse(vxn_ref **out, const char *text, vxn_error **err);
/** Release a reference. NULL is a no-op. */
VXN_EXPORT void vxn_ref_free(vxn_ref *ref);
/**
 * The full normalised form: `docker.io/library/busybox:latest`,
 * `host:5000/a/b@sha256:...`. Borrowed.
 */
VXN_EXPORT const char *vxn_ref_string(const vxn_ref *ref);
/** Docker's short form: `busybox:latest`, `user/app:1`, `host:5000/a:b`. Borrowed. */
VXN_EXPORT const char *vxn_ref_familiar(const vxn_ref *ref);
/** Registry host (with port): `docker.io`, `127.0.0.1:5000`. Borrowed. */
VXN_EXPORT const char *vxn_ref_domain(const vxn_ref *ref);
/** Repository path: `library/busybox`. Borrowed. */
VXN_EXPORT const char *vxn_ref_path(const vxn_ref *ref);
/** domain/path: `docker.io/library/busybox`. Borrowed. */
VXN_EXPORT const char *vxn_ref_name(const vxn_ref *ref);
/** The tag, or NULL when the reference has only a digest. Borrowed. */
VXN_EXPORT const char *vxn_ref_tag(const vxn_ref *ref);
/** The digest (`sha256:...`), or NULL. Borrowed. */
VXN_EXPORT const char *vxn_ref_digest(const vxn_ref *ref);

/* ------------------------------------------------------------------------ */
/** @name Store */

/** The image store. Opaque. One per context at a time is enough; several
 * processes may open the same store concurrently. */
typedef struct vxn_image_store vxn_image_store;

/**
 * Open (and create if needed) the store at `<data_root>/images`.
 * Leftovers of interrupted writes (temporary files of a killed process) are
 * removed.
 * @param out receives the store (vxn_image_store_free()).
 * @param ctx the context; must outlive the store.
 * @return 0; VXN_EIO / VXN_EPERM when the directory cannot be created or
 *         locked; VXN_EPROTO when an existing store is not a vxn OCI layout.
 */
VXN_EXPORT int vxn_image_store_open(vxn_image_store **out, vxn_ctx *ctx, vxn_error **err);
/** Close the store. NULL is a no-op. */
VXN_EXPORT void vxn_image_store_free(vxn_image_store *store);
/** The store's directory. Borrowed. */
VXN_EXPORT const char *vxn_image_store_path(const vxn_image_store *store);

/* ------------------------------------------------------------------------ */
/** @name Images */

/** One image: its names, IDs and configuration. Opaque; an immutable
 * snapshot taken when it was looked up. */
typedef struct vxn_image vxn_image;

/** Release an image. NULL is a no-op. */
VXN_EXPORT void vxn_image_free(vxn_image *image);

/** The image ID: `sha256:<hex of the config blob's digest>`. Borrowed. */
VXN_EXPORT const char *vxn_image_id(const vxn_image *image);
/** The manifest digest (what `--digests` and `name@sha256:` refer to). Borrowed. */
VXN_EXPORT const char *vxn_image_digest(const vxn_image *image);
/** The normalised names pointing at this image, sorted; empty for a dangling image. */
VXN_EXPORT const char *const *vxn_image_names(const vxn_image *image);
/** Creation time from the config (RFC 3339), or NULL. Borrowed. */
VXN_EXPORT const char *vxn_image_created(const vxn_image *image);
/** Creation time in seconds since the epoch, or 0 when unknown. */
VXN_EXPORT int64_t vxn_image_created_unix(const vxn_image *image);
/** Platform from the config: "amd64", "linux", and the variant or NULL. Borrowed. */
VXN_EXPORT const char *vxn_image_architecture(const vxn_image *image);
VXN_EXPORT const char *vxn_image_os(const vxn_image *image);
VXN_EXPORT const char *vxn_image_variant(const vxn_image *image);
/** Bytes the image's blobs take in the store (layers + config + manifest). */
VXN_EXPORT uint64_t vxn_image_size(const vxn_image *image);
/** Number of layers. */
VXN_EXPORT size_t vxn_image_layer_count(const vxn_image *image);
/** Digest of layer @p i (0 = bottom), or NULL past the end. Borrowed. */
VXN_EXPORT const char *vxn_image_layer_digest(const vxn_image *image, size_t i);

/* The image's runtime configuration (config.config in the OCI image config).
 * Arrays are NULL-terminated and borrowed; absent fields give an empty array
 * (never NULL) or NULL for strings. */
VXN_EXPORT const char *const *vxn_image_entrypoint(const vxn_image *image);
VXN_EXPORT const char *const *vxn_image_cmd(const vxn_image *image);
/** "KEY=value" entries. */
VXN_EXPORT const char *const *vxn_image_env(const vxn_image *image);
VXN_EXPORT const char *vxn_image_workdir(const vxn_image *image);
VXN_EXPORT const char *vxn_image_user(const vxn_image *image);
VXN_EXPORT const char *vxn_image_stop_signal(const vxn_image *image);
/** Exposed ports ("80/tcp"), sorted. */
VXN_EXPORT const char *const *vxn_image_exposed_ports(const vxn_image *image);
/** Volume paths, sorted. */
VXN_EXPORT const char *const *vxn_image_volumes(const vxn_image *image);
/** Labels as "key=value", sorted by key. */
VXN_EXPORT const char *const *vxn_image_labels(const vxn_image *image);
/** The value of one label, or NULL. Borrowed. */
VXN_EXPORT const char *vxn_image_label(const vxn_image *image, const char *key);

/**
 * `docker image inspect`-style JSON for the image (one object, not an array).
 * @param out receives a malloc'd NUL-terminated string (free()).
 * @return 0; VXN_ENOMEM.
 */
VXN_EXPORT int vxn_image_inspect_json(char **out, const vxn_image *image, vxn_error **err);
/** The raw image config JSON as stored (verified). Borrowed. */
VXN_EXPORT const char *vxn_image_config_json(const vxn_image *image);
/** The raw manifest JSON as stored (verified). Borrowed. */
VXN_EXPORT const char *vxn_image_manifest_json(const vxn_image *image);
/**
 * The image's history as a JSON array, newest first, each entry
 * {"id", "created", "created_by", "size", "comment", "empty_layer"}.
 * @param out receives a malloc'd string (free()).
 */
VXN_EXPORT int vxn_image_history_json(char **out, const vxn_image *image, vxn_error **err);

/**
 * Find an image by reference, `name@digest`, full ID or unique ID prefix.
 * Reads and verifies its manifest and config.
 * @return 0; VXN_ENOTFOUND ("No such image: x"); VXN_EINVAL for a bad
 *         reference or an ambiguous ID prefix; VXN_EDIGEST when a stored blob
 *         does not match its digest (the message names the digest).
 */
VXN_EXPORT int vxn_image_lookup(vxn_image **out, vxn_image_store *store, const char *name,
				vxn_error **err);

/** Flags for vxn_image_list(). */
typedef enum vxn_image_list_flags {
	/** Named and dangling (untagged) images, as `docker images` lists them. */
	VXN_IMAGE_LIST_DEFAULT = 0,
	/** Accepted for `images -a`; the store has no intermediate images, so
	 * this lists the same as the default. */
	VXN_IMAGE_LIST_ALL = 1 << 0,
	/** Only dangling images (`-f dangling=true`). */
	VXN_IMAGE_LIST_DANGLING = 1 << 1,
	/** Only named images (`-f dangling=false`). */
	VXN_IMAGE_LIST_NAMED = 1 << 2,
} vxn_image_list_flags;

/** A list of images. Opaque. */
typedef struct vxn_image_list vxn_image_list;

/**
 * List the images in the store, newest first (then by ID).
 * @return 0; VXN_EDIGEST if a manifest or config is corrupt; VXN_EIO.
 */
VXN_EXPORT int vxn_image_list_images(vxn_image_list **out, vxn_image_store *store, unsigned flags,
				     vxn_error **err);
VXN_EXPORT size_t vxn_image_list_count(const vxn_image_list *list);
/** The i-th image, borrowed from the list; NULL past the end. */
VXN_EXPORT const vxn_image *vxn_image_list_get(const vxn_image_list *list, size_t i);
VXN_EXPORT void vxn_image_list_free(vxn_image_list *list);

/* ------------------------------------------------------------------------ */
/** @name Transfer options */

/** Options for pull, push, load, save and import. Opaque; NULL means defaults. */
typedef struct vxn_image_opts vxn_image_opts;

/**
 * Progress callback. @p id is a short blob or image id (may be ""), @p status
 * a short phrase ("Copying blob", "Writing manifest", "Loaded image"),
 * @p current / @p total bytes (0 when unknown). Strings are borrowed.
 */
typedef void (*vxn_image_progress_fn)(void *userdata, const char *id, const char *status,
				      uint64_t current, uint64_t total);

VXN_EXPORT int vxn_image_opts_new(vxn_image_opts **out, vxn_error **err);
VXN_EXPORT void vxn_image_opts_free(vxn_image_opts *opts);
/**
 * Platform to select from an image index: "os/arch[/variant]" (e.g.
 * "linux/arm64/v8"), or "arch". Default: the host's (linux/amd64 here).
 * @return 0; VXN_EINVAL for a malformed platform.
 */
VXN_EXPORT int vxn_image_opts_set_platform(vxn_image_opts *opts, const char *platform,
					   vxn_error **err);
/** Verify registry TLS (default true). false also allows plain HTTP. */
VXN_EXPORT void vxn_image_opts_set_tls_verify(vxn_image_opts *opts, bool verify);
/** Registry credentials file (containers-auth.json format), or NULL for skopeo's default. */
VXN_EXPORT int vxn_image_opts_set_authfile(vxn_image_opts *opts, const char *path, vxn_error **err);
/** Progress callback (default none). */
VXN_EXPORT void vxn_image_opts_set_progress(vxn_image_opts *opts, vxn_image_progress_fn fn,
					    void *userdata);
/**
 * Add a Dockerfile instruction applied by import ("CMD [\"/bin/sh\"]",
 * "ENV A=b", "ENTRYPOINT", "WORKDIR", "USER", "LABEL k=v", "EXPOSE 80",
 * "STOPSIGNAL", "VOLUME"), as `docker import --change`.
 * @return 0; VXN_EINVAL for an unsupported or malformed instruction.
 */
VXN_EXPORT int vxn_image_opts_add_change(vxn_image_opts *opts, const char *change, vxn_error **err);
/** Commit message recorded in the history of an imported image. */
VXN_EXPORT int vxn_image_opts_set_message(vxn_image_opts *opts, const char *message,
					  vxn_error **err);

/* ------------------------------------------------------------------------ */
/** @name Transfers */

/**
 * Pull an image from a registry with skopeo, selecting the platform from an
 * image index, into the store (blobs already present are not stored twice).
 * The name becomes visible only once every blob is stored and verified.
 * @param out receives the pulled image, or NULL if not wanted.
 * @return 0; VXN_EINVAL (bad reference); VXN_ENOTFOUND (no such image, or no
 *         manifest for the platform: the message lists the platforms the
 *         index has); VXN_ECHILD (skopeo failed: its message is included);
 *         VXN_EDIGEST; VXN_EIO.
 */
VXN_EXPORT int vxn_image_pull(vxn_image **out, vxn_image_store *store, const char *ref,
			      const vxn_image_opts *opts, vxn_error **err);

/**
 * Push a stored image to a registry with skopeo.
 * @param image stored image name or ID.
 * @param dest destination reference, or NULL to push to the image's name.
 */
VXN_EXPORT int vxn_image_push(vxn_image_store *store, const char *image, const char *dest,
			      const vxn_image_opts *opts, vxn_error **err);

/**
 * Load images from an OCI image layout directory, an OCI archive (tar of a
 * layout) or a docker archive (what `docker save` writes), detected from
 * the content; from a file or from standard input (@p path NULL or "-").
 * Names come from RepoTags (docker archive) or from the
 * `io.containerd.image.name` / `org.opencontainers.image.ref.name`
 * annotations when those hold a full reference; an image with only a tag
 * annotation is loaded untagged unless @p name is given.
 * @param out_names receives the names (or IDs, for untagged images) that were
 *        loaded, NULL-terminated, caller-owned (free each and the array);
 *        may be NULL.
 * @param name name to give the image when the input names none, or NULL.
 * @return 0; VXN_EINVAL (not an image archive: the message says what was
 *         found); VXN_EDIGEST; VXN_EIO. On failure no name is changed.
 */
VXN_EXPORT int vxn_image_load(char ***out_names, vxn_image_store *store, const char *path,
			      const char *name, const vxn_image_opts *opts, vxn_error **err);

/** Archive formats for vxn_image_save(). */
typedef enum vxn_image_format {
	/** A docker archive (manifest.json + RepoTags) that is also an OCI layout. */
	VXN_IMAGE_FORMAT_DOCKER_ARCHIVE = 0,
	/** An OCI archive: a tar of an OCI image layout, names in ref.name annotations. */
	VXN_IMAGE_FORMAT_OCI_ARCHIVE = 1,
} vxn_image_format;

/**
 * Save images to a tar archive (file, or standard output for NULL / "-").
 * The file is written to a temporary name and renamed when complete.
 * @param images NULL-terminated names or IDs (at least one).
 */
VXN_EXPORT int vxn_image_save(vxn_image_store *store, const char *const *images, const char *path,
			      vxn_image_format format, vxn_error **err);

/**
 * Create an image from a root filesystem tarball (plain, gzip, zstd, xz,
 * bzip2), as `docker import`: one layer, a config built from the options'
 * changes, history entry "import". Paths in the tarball are checked like
 * any layer's.
 * @param path file, or NULL / "-" for standard input.
 * @param ref name for the image, or NULL for an untagged image.
 * @param out receives the new image, or NULL if not wanted.
 */
VXN_EXPORT int vxn_image_import(vxn_image **out, vxn_image_store *store, const char *path,
				const char *ref, const vxn_image_opts *opts, vxn_error **err);

/* ------------------------------------------------------------------------ */
/** @name Management */

/**
 * Give an image another name (`docker tag`). If @p target names another
 * image, that image loses the name (and becomes dangling if it has no other).
 * @return 0; VXN_ENOTFOUND; VXN_EINVAL (bad target, or a target with a digest).
 */
VXN_EXPORT int vxn_image_tag(vxn_image_store *store, const char *source, const char *target,
			     vxn_error **err);

/** Flags for vxn_image_remove(). */
typedef enum vxn_image_remove_flags {
	VXN_IMAGE_REMOVE_DEFAULT = 0,
	/** Remove an image referenced by an ID that has several names, and an
	 * image in use by a container. */
	VXN_IMAGE_REMOVE_FORCE = 1 << 0,
} vxn_image_remove_flags;

/**
 * Remove an image or one of its names (`docker rmi`): by name, only that
 * name goes, and the image goes with its last name; by ID, the image and all
 * its names (several names need FORCE). Blobs no other image references are
 * deleted, with the image's unpacked rootfs.
 * @param out_report receives lines "Untagged: NAME" and "Deleted: ID" in
 *        order (NULL-terminated, caller-owned), or NULL.
 * @return 0; VXN_ENOTFOUND; VXN_EBUSY (several names without FORCE; in use
 *         by a container).
 */
VXN_EXPORT int vxn_image_remove(char ***out_report, vxn_image_store *store, const char *image,
				unsigned flags, vxn_error **err);

/** Flags for vxn_image_prune(). */
typedef enum vxn_image_prune_flags {
	VXN_IMAGE_PRUNE_DANGLING = 0,
	/** Also remove named images no container uses (`image prune -a`). */
	VXN_IMAGE_PRUNE_ALL = 1 << 0,
} vxn_image_prune_flags;

/**
 * Remove dangling images (or all unused ones), then every blob and unpacked
 * rootfs nothing references.
 * @param out_report "Deleted: ID" / "Untagged: NAME" lines, or NULL.
 * @param reclaimed_bytes receives the bytes freed, or NULL.
 */
VXN_EXPORT int vxn_image_prune(char ***out_report, uint64_t *reclaimed_bytes,
			       vxn_image_store *store, unsigned flags, vxn_error **err);

/**
 * Disk usage (`system df`): images (count, bytes of their blobs), bytes a
 * prune -a would free, and bytes of unpacked rootfs caches. Any out pointer
 * may be NULL.
 */
VXN_EXPORT int vxn_image_store_usage(vxn_image_store *store, uint64_t *images,
				     uint64_t *images_bytes, uint64_t *reclaimable_bytes,
				     uint64_t *cache_bytes, vxn_error **err);

/**
 * The image's unpacked root filesystem, unpacked once per manifest digest and
 * cached in the store (`rootfs/<hex>`). Layers are checked: an entry that
 * would escape the rootfs fails the unpack, naming the layer and the entry.
 * @param out_path receives the directory (malloc'd, free()).
 * @return 0; VXN_EINVAL (hostile layer); VXN_EDIGEST (corrupt layer); VXN_EIO.
 */
VXN_EXPORT int vxn_image_rootfs(char **out_path, vxn_image_store *store, const vxn_image *image,
				vxn_error **err);

VXN_END_DECLS

#endif /* VXN_IMAGE_H */
