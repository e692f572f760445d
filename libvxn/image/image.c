/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image records: lookup, listing, configuration getters, inspect, history. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/store-private.h"
#include "shared/util.h"

static const char *const empty_strv[] = { NULL };

struct vxn_image {
	char *id;	  /* config digest */
	char *digest;	  /* manifest digest */
	char *media_type; /* manifest media type */
	char **names;
	char *manifest_text, *config_text;
	json *manifest, *config;
	char **entrypoint, **cmd, **env, **ports, **volumes, **labels, **layers;
	uint64_t size;
	int64_t created_unix;
};

void vxn_image_free(vxn_image *img)
{
	if (!img)
		return;
	free(img->id);
	free(img->digest);
	free(img->media_type);
	strv_free(img->names);
	free(img->manifest_text);
	free(img->config_text);
	json_free(img->manifest);
	json_free(img->config);
	strv_free(img->entrypoint);
	strv_free(img->cmd);
	strv_free(img->env);
	strv_free(img->ports);
	strv_free(img->volumes);
	strv_free(img->labels);
	strv_free(img->layers);
	free(img);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort(char **v)
{
	qsort(v, strv_length(v), sizeof(char *), cmp_str);
}

/* Object keys ("80/tcp": {}) as a sorted vector. */
static int keys_strv(const json *obj, char ***out)
{
	_cleanup_strv_ char **v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	const char *k;
	json *val;
	json_object_foreach (obj, i, k, val) {
		if (strv_push(&v, k) < 0)
			return -ENOMEM;
	}
	strv_sort(v);
	*out = TAKE_PTR(v);
	return 0;
}

static int strv_or_empty(const json *arr, char ***out)
{
	if (!json_is(arr, JSON_ARRAY))
		return strv_copy(out, NULL);
	return json_to_strv(arr, out);
}

/* RFC 3339 -> seconds since the epoch (fraction and zone honoured, 0 if unparsable). */
static int64_t parse_rfc3339(const char *s)
{
	if (!s)
		return 0;
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	int64_t t = (int64_t)timegm(&tm);
	if (*p == '.')
		while (isdigit((unsigned char)*++p))
			;
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
			t += (*p == '+' ? -1 : 1) * (hh * 3600 + mm * 60);
	}
	return t;
}

int image_from_manifest(vxn_image **out, vxn_image_store *s, const char *manifest_digest,
			char *const *names, vxn_error **err)
{
	vxn_image *img = calloc(1, sizeof(*img));
	if (!img)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r;
	size_t mlen = 0, clen = 0;
	_cleanup_free_ char *msg = NULL;
	const char *mt, *cdg, *k;
	json *cdesc, *cc, *layers, *v;
#define FAIL(expr)          \
	do {                \
		r = (expr); \
		goto fail;  \
	} while (0)
#define OOM() FAIL(error_set(err, VXN_ENOMEM, ENOMEM, "out of memory"))

	img->digest = strdup(manifest_digest);
	if (!img->digest || strv_copy(&img->names, names) < 0)
		OOM();
	strv_sort(img->names);
	r = store_read_blob(s, manifest_digest, &img->manifest_text, &mlen, err);
	if (r < 0)
		FAIL(error_prefix(err, r, "manifest"));
	if (json_parse(img->manifest_text, mlen, &img->manifest, &msg) < 0)
		FAIL(error_set(err, VXN_EPROTO, 0, "manifest %s: %s", manifest_digest,
			       msg ? msg : "out of memory"));
	mt = json_object_get_string(img->manifest, "mediaType");
	if (mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_D2_LIST) == 0))
		FAIL(error_set(err, VXN_EPROTO, 0, "manifest %s is an image index",
			       manifest_digest));
	img->media_type = strdup(mt ? mt : MT_OCI_MANIFEST);
	cdesc = json_object_get_object(img->manifest, "config");
	cdg = json_object_get_string(cdesc, "digest");
	if (!img->media_type)
		OOM();
	if (!digest_is_valid(cdg))
		FAIL(error_set(err, VXN_EPROTO, 0, "manifest %s: no valid config digest",
			       manifest_digest));
	img->id = strdup(cdg);
	if (!img->id)
		OOM();
	r = store_read_blob(s, cdg, &img->config_text, &clen, err);
	if (r < 0)
		FAIL(error_prefix(err, r, "image config"));
	free(msg);
	msg = NULL;
	if (json_parse(img->config_text, clen, &img->config, &msg) < 0)
		FAIL(error_set(err, VXN_EPROTO, 0, "image config %s: %s", cdg,
			       msg ? msg : "out of memory"));

	cc = json_object_get_object(img->config, "config");
	if (strv_or_empty(json_object_get(cc, "Entrypoint"), &img->entrypoint) < 0 ||
	    strv_or_empty(json_object_get(cc, "Cmd"), &img->cmd) < 0 ||
	    strv_or_empty(json_object_get(cc, "Env"), &img->env) < 0)
		FAIL(error_set(err, VXN_EPROTO, 0,
			       "image config %s: Entrypoint, Cmd and Env must be arrays of strings",
			       cdg));
	if (keys_strv(json_object_get_object(cc, "ExposedPorts"), &img->ports) < 0 ||
	    keys_strv(json_object_get_object(cc, "Volumes"), &img->volumes) < 0)
		OOM();
	img->labels = calloc(1, sizeof(char *));
	if (!img->labels)
		OOM();
	json_object_foreach (json_object_get_object(cc, "Labels"), i, k, v) {
		if (strv_push_take(&img->labels,
				   str_printf("%s=%s", k, STRPTR_OR(json_string_value(v), ""))) < 0)
			OOM();
	}
	strv_sort(img->labels);

	img->layers = calloc(1, sizeof(char *));
	if (!img->layers)
		OOM();
	img->size = mlen + (uint64_t)json_int_value(json_object_get(cdesc, "size"), (int64_t)clen);
	layers = json_object_get_array(img->manifest, "layers");
	for (size_t i = 0; i < json_array_length(layers); i++) {
		json *l = json_array_get(layers, i);
		const char *ld = json_object_get_string(l, "digest");
		if (!digest_is_valid(ld))
			FAIL(error_set(err, VXN_EPROTO, 0, "manifest %s: layer %zu: bad digest",
				       manifest_digest, i));
		if (strv_push(&img->layers, ld) < 0)
			OOM();
		img->size += (uint64_t)json_int_value(json_object_get(l, "size"), 0);
	}
	img->created_unix = parse_rfc3339(json_object_get_string(img->config, "created"));
	*out = img;
	return 0;
fail:
	vxn_image_free(img);
	return r;
#undef OOM
#undef FAIL
}

const char *vxn_image_id(const vxn_image *img)
{
	return img->id;
}

const char *vxn_image_digest(const vxn_image *img)
{
	return img->digest;
}

const char *const *vxn_image_names(const vxn_image *img)
{
	return (const char *const *)img->names;
}

const char *vxn_image_created(const vxn_image *img)
{
	return json_object_get_string(img->config, "created");
}

int64_t vxn_image_created_unix(const vxn_image *img)
{
	return img->created_unix;
}

const char *vxn_image_architecture(const vxn_image *img)
{
	return json_object_get_string(img->config, "architecture");
}

const char *vxn_image_os(const vxn_image *img)
{
	return json_object_get_string(img->config, "os");
}

const char *vxn_image_variant(const vxn_image *img)
{
	return json_object_get_string(img->config, "variant");
}

uint64_t vxn_image_size(const vxn_image *img)
{
	return img->size;
}

size_t vxn_image_layer_count(const vxn_image *img)
{
	return strv_length(img->layers);
}

const char *vxn_image_layer_digest(const vxn_image *img, size_t i)
{
	return i < strv_length(img->layers) ? img->layers[i] : NULL;
}

#define STRV_GETTER(fn, field)                                                    \
	const char *const *fn(const vxn_image *img)                               \
	{                                                                         \
		return img->field ? (const char *const *)img->field : empty_strv; \
	}
STRV_GETTER(vxn_image_entrypoint, entrypoint)
STRV_GETTER(vxn_image_cmd, cmd)
STRV_GETTER(vxn_image_env, env)
STRV_GETTER(vxn_image_exposed_ports, ports)
STRV_GETTER(vxn_image_volumes, volumes)
STRV_GETTER(vxn_image_labels, labels)

static const char *config_string(const vxn_image *img, const char *key)
{
	const char *v = json_object_get_string(json_object_get_object(img->config, "config"), key);
	return v && *v ? v : NULL;
}

const char *vxn_image_workdir(const vxn_image *img)
{
	return config_string(img, "WorkingDir");
}

const char *vxn_image_user(const vxn_image *img)
{
	return config_string(img, "User");
}

const char *vxn_image_stop_signal(const vxn_image *img)
{
	return config_string(img, "StopSignal");
}

const char *vxn_image_label(const vxn_image *img, const char *key)
{
	json *labels =
	    json_object_get_object(json_object_get_object(img->config, "config"), "Labels");
	return json_object_get_string(labels, key);
}

const char *vxn_image_config_json(const vxn_image *img)
{
	return img->config_text;
}

const char *vxn_image_manifest_json(const vxn_image *img)
{
	return img->manifest_text;
}

const char *image_manifest_media_type(const vxn_image *img)
{
	return img->media_type;
}

const json *image_manifest(const vxn_image *img)
{
	return img->manifest;
}

const char *image_config_digest(const vxn_image *img)
{
	return img->id;
}

/* ---- inspect / history ---- */

static json *copy_or_null(const json *j)
{
	return j ? json_copy(j) : json_null();
}

int vxn_image_inspect_json(char **out, const vxn_image *img, vxn_error **err)
{
	_cleanup_json_ json *o = json_object();
	json *tags = json_array(), *digests = json_array();
	int r = o && tags && digests ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && img->names[i]; i++) {
		const char *n = img->names[i];
		const char *at = strchr(n, '@');
		_cleanup_free_ char *repo = NULL;
		if (!at) {
			r = json_array_append_take(tags, json_string(n));
			const char *colon = strrchr(n, ':');
			const char *slash = strrchr(n, '/');
			repo =
			    colon && (!slash || colon > slash) ? strndup(n, colon - n) : strdup(n);
		} else {
			repo = strndup(n, at - n);
		}
		if (r == 0 && !repo)
			r = -ENOMEM;
		if (r == 0)
			r = json_array_append_take(
			    digests, json_string(str_printf("%s@%s", repo, img->digest) ?: ""));
	}
	json *cc = json_object_get_object(img->config, "config");
	if (r == 0)
		r = json_object_set_string(o, "Id", img->id);
	if (r == 0)
		r = json_object_set_string(o, "Digest", img->digest);
	if (r == 0) {
		r = json_object_set_take(o, "RepoTags", tags);
		tags = NULL;
	}
	if (r == 0) {
		r = json_object_set_take(o, "RepoDigests", digests);
		digests = NULL;
	}
	if (r == 0)
		r = json_object_set_take(o, "Created",
					 copy_or_null(json_object_get(img->config, "created")));
	if (r == 0)
		r = json_object_set_take(o, "Author",
					 copy_or_null(json_object_get(img->config, "author")));
	if (r == 0)
		r = json_object_set_take(o, "Config", cc ? json_copy(cc) : json_object());
	if (r == 0)
		r = json_object_set_take(
		    o, "Architecture", copy_or_null(json_object_get(img->config, "architecture")));
	if (r == 0 && json_object_get(img->config, "variant"))
		r = json_object_set_take(o, "Variant",
					 json_copy(json_object_get(img->config, "variant")));
	if (r == 0)
		r = json_object_set_take(o, "Os", copy_or_null(json_object_get(img->config, "os")));
	if (r == 0)
		r = json_object_set_int(o, "Size", (int64_t)img->size);
	if (r == 0) {
		json *rootfs = json_object();
		json *diff = json_object_get_array(json_object_get_object(img->config, "rootfs"),
						   "diff_ids");
		r = rootfs ? 0 : -ENOMEM;
		if (r == 0)
			r = json_object_set_string(rootfs, "Type", "layers");
		if (r == 0)
			r = json_object_set_take(rootfs, "Layers",
						 diff ? json_copy(diff) : json_array());
		if (r == 0)
			r = json_object_set_take(o, "RootFS", rootfs);
		else
			json_free(rootfs);
	}
	if (r == 0)
		r = json_object_set_string(o, "ManifestMediaType", img->media_type);
	if (r == 0)
		r = json_object_set_take(o, "Layers", json_from_strv(img->layers));
	json_free(tags);
	json_free(digests);
	if (r < 0 || json_serialize(o, true, out, NULL) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

int vxn_image_history_json(char **out, const vxn_image *img, vxn_error **err)
{
	json *hist = json_object_get_array(img->config, "history");
	json *layers = json_object_get_array(img->manifest, "layers");
	size_t nh = json_array_length(hist), li = 0;
	_cleanup_json_ json *arr = json_array();
	if (!arr)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	/* Oldest first while matching layers, then reversed. */
	_cleanup_free_ json **items = calloc(nh ? nh : 1, sizeof(json *));
	if (!items)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = 0;
	for (size_t i = 0; i < nh && r == 0; i++) {
		json *h = json_array_get(hist, i);
		bool empty = json_bool_value(json_object_get(h, "empty_layer"), false);
		int64_t size = 0;
		if (!empty) {
			size =
			    json_int_value(json_object_get(json_array_get(layers, li), "size"), 0);
			li++;
		}
		json *e = json_object();
		r = e ? 0 : -ENOMEM;
		if (r == 0)
			r = json_object_set_string(e, "id", i == nh - 1 ? img->id : "<missing>");
		if (r == 0)
			r = json_object_set_take(e, "created",
						 copy_or_null(json_object_get(h, "created")));
		if (r == 0)
			r = json_object_set_string(
			    e, "created_by",
			    STRPTR_OR(json_object_get_string(h, "created_by"), ""));
		if (r == 0)
			r = json_object_set_int(e, "size", size);
		if (r == 0)
			r = json_object_set_string(
			    e, "comment", STRPTR_OR(json_object_get_string(h, "comment"), ""));
		if (r == 0)
			r = json_object_set_bool(e, "empty_layer", empty);
		if (r < 0)
			json_free(e);
		else
			items[i] = e;
	}
	for (size_t i = nh; i-- > 0;) {
		if (r == 0)
			r = json_array_append_take(arr, items[i]);
		else
			json_free(items[i]);
		items[i] = NULL;
	}
	if (r < 0 || json_serialize(arr, true, out, NULL) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

/* ---- lookup and listing ---- */

int index_names_for(const struct index *idx, const char *manifest_digest, char ***out)
{
	_cleanup_strv_ char **v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < idx->n; i++)
		if (idx->entries[i].name &&
		    strcmp(idx->entries[i].manifest_digest, manifest_digest) == 0 &&
		    strv_push(&v, idx->entries[i].name) < 0)
			return -ENOMEM;
	strv_sort(v);
	*out = TAKE_PTR(v);
	return 0;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int image_resolve(vxn_image_store *s, const struct index *idx, const char *name,
		  const char **manifest_digest, bool *by_id, vxn_error **err)
{
	if (!name || !*name)
		return error_set(err, VXN_EINVAL, 0, "empty image name");
	const char *hex = str_startswith(name, "sha256:") ? name + 7 : NULL;
	if (!hex) {
		vxn_ref *ref = NULL;
		if (vxn_ref_parse(&ref, name, NULL) == 0) {
			const char *full = vxn_ref_string(ref);
			const char *dg = vxn_ref_digest(ref);
			const char *found = NULL;
			for (size_t i = 0; i < idx->n && !found; i++) {
				const struct index_entry *e = &idx->entries[i];
				if (e->name && strcmp(e->name, full) == 0)
					found = e->manifest_digest;
				/* name@digest: the image with that manifest, named in that
				 * repository */
				else if (dg && e->name && strcmp(e->manifest_digest, dg) == 0 &&
					 str_startswith(e->name, vxn_ref_name(ref)) &&
					 strchr(":@", e->name[strlen(vxn_ref_name(ref))]))
					found = e->manifest_digest;
			}
			vxn_ref_free(ref);
			if (found) {
				*manifest_digest = found;
				if (by_id)
					*by_id = false;
				return 0;
			}
		}
		hex = name;
	}
	/* An image ID or a unique prefix of one. */
	if (strlen(hex) >= 4 && strlen(hex) <= 64 && is_hex(hex)) {
		const char *found = NULL;
		for (size_t i = 0; i < idx->n; i++) {
			const struct index_entry *e = &idx->entries[i];
			if (!e->image_id || !str_startswith(e->image_id + 7, hex))
				continue;
			if (found && strcmp(found, e->manifest_digest) != 0)
				return error_set(err, VXN_EINVAL, 0,
						 "image ID prefix '%s' is ambiguous", name);
			found = e->manifest_digest;
		}
		if (found) {
			*manifest_digest = found;
			if (by_id)
				*by_id = true;
			return 0;
		}
	}
	return error_set(err, VXN_ENOTFOUND, 0, "no such image: %s", name);
}

int vxn_image_lookup(vxn_image **out, vxn_image_store *s, const char *name, vxn_error **err)
{
	_cleanup_index_ struct index idx = { 0 };
	int r = index_read(s, &idx, err);
	if (r < 0)
		return r;
	const char *md = NULL;
	r = image_resolve(s, &idx, name, &md, NULL, err);
	if (r < 0)
		return r;
	_cleanup_strv_ char **names = NULL;
	if (index_names_for(&idx, md, &names) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	r = image_from_manifest(out, s, md, names, err);
	return r < 0 ? error_prefix(err, r, "image '%s'", name) : 0;
}

struct vxn_image_list {
	vxn_image **items;
	size_t n;
};

static int cmp_images(const void *a, const void *b)
{
	const vxn_image *x = *(vxn_image *const *)a, *y = *(vxn_image *const *)b;
	if (x->created_unix != y->created_unix)
		return x->created_unix > y->created_unix ? -1 : 1;
	return strcmp(x->id, y->id);
}

int vxn_image_list_images(vxn_image_list **out, vxn_image_store *s, unsigned flags, vxn_error **err)
{
	_cleanup_index_ struct index idx = { 0 };
	int r = index_read(s, &idx, err);
	if (r < 0)
		return r;
	vxn_image_list *l = calloc(1, sizeof(*l));
	if (!l || !(l->items = calloc(idx.n + 1, sizeof(vxn_image *)))) {
		free(l);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < idx.n; i++) {
		const char *md = idx.entries[i].manifest_digest;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(idx.entries[j].manifest_digest, md) == 0;
		if (seen)
			continue;
		_cleanup_strv_ char **names = NULL;
		if (index_names_for(&idx, md, &names) < 0) {
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
			break;
		}
		bool dangling = !names[0];
		if ((flags & VXN_IMAGE_LIST_DANGLING) && !dangling)
			continue;
		if ((flags & VXN_IMAGE_LIST_NAMED) && dangling)
			continue;
		r = image_from_manifest(&l->items[l->n], s, md, names, err);
		if (r < 0) {
			error_prefix(err, r, "image %s", names[0] ? names[0] : md);
			break;
		}
		l->n++;
	}
	if (r < 0) {
		vxn_image_list_free(l);
		return r;
	}
	qsort(l->items, l->n, sizeof(vxn_image *), cmp_images);
	*out = l;
	return 0;
}

size_t vxn_image_list_count(const vxn_image_list *l)
{
	return l ? l->n : 0;
}

const vxn_image *vxn_image_list_get(const vxn_image_list *l, size_t i)
{
	return l && i < l->n ? l->items[i] : NULL;
}

void vxn_image_list_free(vxn_image_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		vxn_image_free(l->items[i]);
	free(l->items);
	free(l);
}
