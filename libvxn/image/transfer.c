/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Getting images in and out of the store: pull/push (skopeo), load, save, import. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "image/store-private.h"
#include "image/unpack.h"
#include "shared/process.h"
#include "shared/util.h"

#define SKOPEO "skopeo"

/* ---- options ---- */

int vxn_image_opts_new(vxn_image_opts **out, vxn_error **err)
{
	vxn_image_opts *o = calloc(1, sizeof(*o));
	if (!o)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	o->tls_verify = true;
	*out = o;
	return 0;
}

void vxn_image_opts_free(vxn_image_opts *o)
{
	if (!o)
		return;
	free(o->os);
	free(o->arch);
	free(o->variant);
	free(o->authfile);
	strv_free(o->changes);
	free(o->message);
	free(o);
}

static bool platform_word_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

int vxn_image_opts_set_platform(vxn_image_opts *o, const char *platform, vxn_error **err)
{
	const char *parts[4] = { 0 };
	size_t lens[4] = { 0 }, n = 0;
	for (const char *p = platform; p && n < 4;) {
		const char *e = strchr(p, '/');
		parts[n] = p;
		lens[n] = e ? (size_t)(e - p) : strlen(p);
		n++;
		p = e ? e + 1 : NULL;
	}
	bool ok = platform && n >= 1 && n <= 3;
	for (size_t i = 0; ok && i < n; i++)
		ok = platform_word_ok(parts[i], lens[i]);
	if (!ok)
		return error_set(
		    err, VXN_EINVAL, 0,
		    "invalid platform '%s': expected os/arch[/variant] (e.g. linux/arm64/v8)",
		    platform ? platform : "");
	char *os = n == 1 ? strdup("linux") : strndup(parts[0], lens[0]);
	char *arch = n == 1 ? strndup(parts[0], lens[0]) : strndup(parts[1], lens[1]);
	char *variant = n == 3 ? strndup(parts[2], lens[2]) : NULL;
	if (!os || !arch || (n == 3 && !variant)) {
		free(os), free(arch), free(variant);
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}
	free(o->os), free(o->arch), free(o->variant);
	o->os = os, o->arch = arch, o->variant = variant;
	return 0;
}

void vxn_image_opts_set_tls_verify(vxn_image_opts *o, bool verify)
{
	o->tls_verify = verify;
}

int vxn_image_opts_set_authfile(vxn_image_opts *o, const char *path, vxn_error **err)
{
	char *p = str_dup_or_null(path);
	if (path && !p)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	free(o->authfile);
	o->authfile = p;
	return 0;
}

void vxn_image_opts_set_progress(vxn_image_opts *o, vxn_image_progress_fn fn, void *userdata)
{
	o->progress = fn;
	o->progress_userdata = userdata;
}

static const char *const change_verbs[] = { "CMD",   "ENTRYPOINT", "ENV",	 "WORKDIR", "USER",
					    "LABEL", "EXPOSE",	   "STOPSIGNAL", "VOLUME",  NULL };

int vxn_image_opts_add_change(vxn_image_opts *o, const char *change, vxn_error **err)
{
	const char *sp = change ? change + strcspn(change, " \t") : NULL;
	bool ok = false;
	for (const char *const *v = change_verbs; sp && *v; v++)
		if (strlen(*v) == (size_t)(sp - change) &&
		    strncasecmp(change, *v, sp - change) == 0)
			ok = true;
	if (!ok)
		return error_set(
		    err, VXN_EINVAL, 0,
		    "invalid change '%s': supported are CMD, ENTRYPOINT, ENV, WORKDIR, "
		    "USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME",
		    change ? change : "");
	if (!*sp || !sp[strspn(sp, " \t")])
		return error_set(err, VXN_EINVAL, 0, "invalid change '%s': missing argument",
				 change);
	if (strv_push(&o->changes, change) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

int vxn_image_opts_set_message(vxn_image_opts *o, const char *message, vxn_error **err)
{
	char *m = str_dup_or_null(message);
	if (message && !m)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	free(o->message);
	o->message = m;
	return 0;
}

void opts_progress(const vxn_image_opts *o, const char *id, const char *status, uint64_t cur,
		   uint64_t total)
{
	if (o && o->progress)
		o->progress(o->progress_userdata, id ? id : "", status, cur, total);
}

/* ---- helpers ---- */

int open_beneath(int root_fd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int read_beneath(int root_fd, const char *rel, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open_beneath(root_fd, rel, O_RDONLY);
	if (fd < 0)
		return fd;
	return read_fd_all(fd, max, out, len);
}

/* Copy src_fd into a new file under the store's tmp dir; returns its path. */
static int copy_to_tmp(const struct store_tmp *t, int src_fd, const char *tag, char **out_path)
{
	_cleanup_free_ char *p = str_printf("%s/%s-XXXXXX", t->path, tag);
	if (!p)
		return -ENOMEM;
	_cleanup_close_ int fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(src_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		int r = write_all(fd, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	*out_path = TAKE_PTR(p);
	return 0;
}

/*
 * Put a blob found at rel (beneath root_fd) into the store, verifying it.
 * If movable, the file is in our own temp dir and may be renamed into place;
 * otherwise it is copied first.
 */
int ingest_beneath(vxn_image_store *s, const struct store_tmp *t, int root_fd,
		   const char *root_path, const char *rel, bool movable, const char *expect,
		   char out_digest[DIGEST_STRING_MAX], uint64_t *out_size, vxn_error **err)
{
	if (expect && store_has_blob(s, expect)) {
		/* Already stored: still verify the input matches what it claims. */
		_cleanup_close_ int fd = open_beneath(root_fd, rel, O_RDONLY);
		if (fd < 0)
			return error_errno(err, fd, "%s", rel);
		char d[DIGEST_STRING_MAX];
		uint64_t size = 0;
		int r = digest_fd(fd, d, &size);
		if (r < 0)
			return error_errno(err, r, "%s", rel);
		if (strcmp(d, expect) != 0)
			return error_set(err, VXN_EDIGEST, 0,
					 "blob %s: digest mismatch: content has digest %s", expect,
					 d);
		if (out_digest)
			memcpy(out_digest, d, DIGEST_STRING_MAX);
		if (out_size)
			*out_size = size;
		return 0;
	}
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = open_beneath(root_fd, rel, O_RDONLY | O_NOFOLLOW);
	if (fd < 0 && fd != -ELOOP)
		return error_errno(err, fd, "%s", rel);
	struct stat st;
	if (movable && fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		path = path_join(root_path, rel);
		if (!path)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	} else {
		if (fd < 0)
			fd = open_beneath(root_fd, rel, O_RDONLY);
		if (fd < 0)
			return error_errno(err, fd, "%s", rel);
		int r = copy_to_tmp(t, fd, "blob", &path);
		if (r < 0)
			return error_errno(err, r, "%s: copy", rel);
	}
	return store_ingest_file(s, path, expect, out_digest, out_size, err);
}

/* Milliseconds-free RFC 3339 UTC timestamp of now. */
char *now_rfc3339(void)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return strdup(buf);
}

int store_commit(vxn_image_store *s, char *const *manifest_digests, char *const *names, size_t n,
		 vxn_error **err)
{
	/* Read every manifest and config first: nothing changes if one is bad. */
	_cleanup_free_ vxn_image **imgs = calloc(n ? n : 1, sizeof(vxn_image *));
	if (!imgs)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = image_from_manifest(&imgs[i], s, manifest_digests[i], NULL, err);
	int lock = r == 0 ? store_lock(s, s->index_lock_fd, LOCK_EX, err) : -1;
	if (lock < 0 && r == 0)
		r = lock;
	_cleanup_index_ struct index idx = { 0 };
	if (r == 0)
		r = index_read(s, &idx, err);
	for (size_t i = 0; i < n && r == 0; i++)
		if (index_set(&idx, names[i], manifest_digests[i],
			      image_manifest_media_type(imgs[i]),
			      (int64_t)strlen(vxn_image_manifest_json(imgs[i])),
			      vxn_image_id(imgs[i]), vxn_image_created(imgs[i])) < 0)
			r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	if (r == 0)
		r = index_write(s, &idx, err);
	if (lock >= 0)
		store_unlock(lock);
	for (size_t i = 0; i < n; i++)
		vxn_image_free(imgs[i]);
	return r;
}

/* Every blob a manifest references, config first. */
int manifest_blobs(const json *manifest, char ***out)
{
	_cleanup_strv_ char **v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	const char *c =
	    json_object_get_string(json_object_get_object(manifest, "config"), "digest");
	if (!digest_is_valid(c))
		return -EINVAL;
	if (strv_push(&v, c) < 0)
		return -ENOMEM;
	json *layers = json_object_get_array(manifest, "layers");
	for (size_t i = 0; i < json_array_length(layers); i++) {
		const char *d = json_object_get_string(json_array_get(layers, i), "digest");
		if (!digest_is_valid(d))
			return -EINVAL;
		if (strv_push(&v, d) < 0)
			return -ENOMEM;
	}
	*out = TAKE_PTR(v);
	return 0;
}

/* ---- platform selection ---- */

bool is_index_doc(const json *doc)
{
	const char *mt = json_object_get_string(doc, "mediaType");
	if (mt)
		return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_D2_LIST) == 0;
	return json_object_get_array(doc, "manifests") && !json_object_get(doc, "config");
}

static bool variant_matches(const char *arch, const char *want, const char *have)
{
	if (!want)
		return true;
	if (have && strcmp(want, have) == 0)
		return true;
	/* arm64 images usually omit the (only) variant v8 */
	return !have && strcmp(arch, "arm64") == 0 && strcmp(want, "v8") == 0;
}

/* Pick the manifest descriptor for the wanted platform from an index. */
int select_platform(const json *index, const vxn_image_opts *o, const char *what, const json **out,
		    vxn_error **err)
{
	const char *os, *arch, *variant;
	host_platform(&os, &arch, &variant);
	if (o && o->arch) {
		os = o->os;
		arch = o->arch;
		variant = o->variant;
	}
	json *mans = json_object_get_array(index, "manifests");
	for (size_t i = 0; i < json_array_length(mans); i++) {
		json *m = json_array_get(mans, i);
		json *p = json_object_get_object(m, "platform");
		const char *pos = json_object_get_string(p, "os");
		const char *parch = json_object_get_string(p, "architecture");
		if (pos && parch && strcmp(pos, os) == 0 && strcmp(parch, arch) == 0 &&
		    variant_matches(arch, variant, json_object_get_string(p, "variant"))) {
			*out = m;
			return 0;
		}
	}
	/* List what exists, so the user can pick. */
	_cleanup_free_ char *avail = strdup("");
	for (size_t i = 0; avail && i < json_array_length(mans); i++) {
		json *p = json_object_get_object(json_array_get(mans, i), "platform");
		const char *v = json_object_get_string(p, "variant");
		char *n = str_printf("%s%s%s/%s%s%s", avail, *avail ? ", " : "",
				     STRPTR_OR(json_object_get_string(p, "os"), "?"),
				     STRPTR_OR(json_object_get_string(p, "architecture"), "?"),
				     v ? "/" : "", v ? v : "");
		free(avail);
		avail = n;
	}
	return error_set(err, VXN_ENOTFOUND, 0,
			 "image '%s': no image for platform %s/%s%s%s in the index; available: %s",
			 what, os, arch, variant ? "/" : "", variant ? variant : "",
			 avail && *avail ? avail : "none");
}

/* ---- skopeo ---- */

struct skopeo_progress {
	const vxn_image_opts *opts;
};

static void skopeo_line(void *userdata, const char *line)
{
	struct skopeo_progress *p = userdata;
	const char *d;
	char id[16] = "";
	if ((d = strstr(line, "sha256:")) != NULL) {
		snprintf(id, sizeof(id), "%.12s", d + 7);
	}
	if (str_startswith(line, "Copying blob"))
		opts_progress(p->opts, id, "Copying blob", 0, 0);
	else if (str_startswith(line, "Copying config"))
		opts_progress(p->opts, id, "Copying config", 0, 0);
	else if (str_startswith(line, "Writing manifest"))
		opts_progress(p->opts, "", "Writing manifest", 0, 0);
}

/* The most useful line of skopeo's stderr for a one-line error. */
static char *skopeo_reason(const char *tail)
{
	if (!tail || !*tail)
		return strdup("no output");
	const char *last = strrchr(tail, '\n');
	last = last ? last + 1 : tail;
	const char *m = strstr(last, "msg=\"");
	char *r = strdup(m ? m + 5 : last);
	if (!r)
		return NULL;
	/* unescape \" and drop the closing quote of msg="..." */
	char *w = r;
	for (const char *p = r; *p; p++) {
		if (p[0] == '\\' && p[1] == '"')
			continue;
		*w++ = *p;
	}
	*w = '\0';
	if (m && w > r && w[-1] == '"')
		w[-1] = '\0';
	/* "Error parsing image name "docker://x": reading manifest ..." says the name twice */
	const char *colon =
	    str_startswith(r, "Error parsing image name ") ? strstr(r, "\": ") : NULL;
	if (colon)
		memmove(r, colon + 3, strlen(colon + 3) + 1);
	return r;
}

static int skopeo_run(char **argv, const vxn_image_opts *o, bool capture, char **out,
		      size_t *out_len, const char *what, vxn_error **err)
{
	struct skopeo_progress p = { o };
	struct process_result res;
	/* skopeo prints its progress ("Copying blob ...") on stdout */
	int r = process_run(argv, -1, capture ? -1 : PROCESS_STDOUT_TO_LINES,
			    capture ? (16u << 20) : 0, skopeo_line, &p, &res);
	if (r == -ENOENT)
		return error_set(err, VXN_ENOTSUP, ENOENT,
				 "%s: skopeo is not installed (Debian package skopeo)", what);
	if (r < 0)
		return error_errno(err, r, "%s: running skopeo", what);
	if (res.exit_code != 0) {
		_cleanup_free_ char *reason = skopeo_reason(res.err_tail);
		int code = VXN_ECHILD;
		if (reason && (strstr(reason, "manifest unknown") || strstr(reason, "not found") ||
			       strstr(reason, "name unknown")))
			code = VXN_ENOTFOUND;
		r = error_set(err, code, 0, "%s: skopeo: %s", what, reason ? reason : "failed");
		process_result_clear(&res);
		return r;
	}
	if (capture) {
		*out = TAKE_PTR(res.out);
		if (out_len)
			*out_len = res.out_len;
	}
	process_result_clear(&res);
	return 0;
}

/* Append the transport options skopeo needs for one side ("src"/"dest"/NULL for inspect). */
static int skopeo_opts(char ***argv, const vxn_image_opts *o, const char *side)
{
	if (o && !o->tls_verify) {
		char *a =
		    side ? str_printf("--%s-tls-verify=false", side) : strdup("--tls-verify=false");
		if (strv_push_take(argv, a) < 0)
			return -ENOMEM;
	}
	if (o && o->authfile) {
		char *a = side ? str_printf("--%s-authfile=%s", side, o->authfile)
			       : str_printf("--authfile=%s", o->authfile);
		if (strv_push_take(argv, a) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- pull ---- */

/* A single-platform image pulled with --platform must be that platform. */
static int check_platform(vxn_image_store *s, const char *config_digest, const vxn_image_opts *o,
			  const char *name, vxn_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = store_read_blob(s, config_digest, &text, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ json *c = NULL;
	if (json_parse(text, len, &c, NULL) < 0)
		return error_set(err, VXN_EPROTO, 0, "image '%s': config is not JSON", name);
	const char *os = STRPTR_OR(json_object_get_string(c, "os"), "?");
	const char *arch = STRPTR_OR(json_object_get_string(c, "architecture"), "?");
	const char *variant = json_object_get_string(c, "variant");
	if (strcmp(os, o->os) == 0 && strcmp(arch, o->arch) == 0 &&
	    variant_matches(arch, o->variant, variant))
		return 0;
	return error_set(err, VXN_ENOTFOUND, 0,
			 "image '%s' does not match the requested platform: wanted %s/%s%s%s, "
			 "image is %s/%s%s%s",
			 name, o->os, o->arch, o->variant ? "/" : "", STRPTR_OR(o->variant, ""), os,
			 arch, variant ? "/" : "", STRPTR_OR(variant, ""));
}

int vxn_image_pull(vxn_image **out, vxn_image_store *s, const char *refstr, const vxn_image_opts *o,
		   vxn_error **err)
{
	vxn_ref *ref = NULL;
	int r = vxn_ref_parse(&ref, refstr, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *full = strdup(vxn_ref_string(ref));
	_cleanup_free_ char *repo = strdup(vxn_ref_name(ref));
	_cleanup_free_ char *want_digest = str_dup_or_null(vxn_ref_digest(ref));
	vxn_ref_free(ref);
	_cleanup_free_ char *what = full ? str_printf("image '%s'", full) : NULL;
	if (!full || !repo || !what)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");

	/* 1. What the registry has under this name (a manifest or an index). */
	_cleanup_strv_ char **argv = NULL;
	_cleanup_free_ char *src = str_printf("docker://%s", full);
	if (!src || strv_push(&argv, SKOPEO) < 0 || strv_push(&argv, "inspect") < 0 ||
	    strv_push(&argv, "--raw") < 0 || skopeo_opts(&argv, o, NULL) < 0 ||
	    strv_push(&argv, src) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	opts_progress(o, "", "Resolving", 0, 0);
	_cleanup_free_ char *raw = NULL;
	size_t raw_len = 0;
	r = skopeo_run(argv, o, true, &raw, &raw_len, what, err);
	if (r < 0)
		return r;
	char raw_digest[DIGEST_STRING_MAX];
	digest_buffer(raw, raw_len, raw_digest);
	if (want_digest && strcmp(want_digest, raw_digest) != 0)
		return error_set(err, VXN_EDIGEST, 0,
				 "image '%s': registry returned content with digest %s", full,
				 raw_digest);
	_cleanup_json_ json *doc = NULL;
	_cleanup_free_ char *msg = NULL;
	if (json_parse(raw, raw_len, &doc, &msg) < 0)
		return error_set(err, VXN_EPROTO, 0, "image '%s': manifest: %s", full,
				 msg ? msg : "out of memory");
	_cleanup_free_ char *manifest_digest = strdup(raw_digest);
	if (!manifest_digest)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	bool single = !is_index_doc(doc);
	if (!single) {
		const json *m = NULL;
		r = select_platform(doc, o, full, &m, err);
		if (r < 0)
			return r;
		const char *d = json_object_get_string(m, "digest");
		if (!digest_is_valid(d))
			return error_set(err, VXN_EPROTO, 0,
					 "image '%s': index entry without a digest", full);
		free(manifest_digest);
		manifest_digest = strdup(d);
		if (!manifest_digest)
			return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	}

	/* 2. Copy that one manifest with its blobs into a private temp dir (dir:
	 * keeps the manifest byte for byte, so its digest stays the registry's). */
	_cleanup_store_tmp_ struct store_tmp t = { 0 };
	r = store_tmp_new(s, &t, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *dest = str_printf("dir:%s/pulled", t.path);
	_cleanup_free_ char *by_digest = str_printf("docker://%s@%s", repo, manifest_digest);
	strv_free(argv);
	argv = NULL;
	if (!dest || !by_digest || strv_push(&argv, SKOPEO) < 0 || strv_push(&argv, "copy") < 0 ||
	    strv_push(&argv, "--preserve-digests") < 0 || skopeo_opts(&argv, o, "src") < 0 ||
	    strv_push(&argv, by_digest) < 0 || strv_push(&argv, dest) < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	r = skopeo_run(argv, o, false, NULL, NULL, what, err);
	if (r < 0)
		return r;

	/* 3. Verify and store every blob; the name appears only at the end. */
	_cleanup_free_ char *pulled = path_join(t.path, "pulled");
	_cleanup_close_ int pfd = pulled ? open(pulled, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (pfd < 0)
		return error_errno(err, -errno, "image '%s': skopeo output", full);
	_cleanup_free_ char *mtext = NULL;
	size_t mlen = 0;
	r = read_beneath(pfd, "manifest.json", SMALL_BLOB_MAX, &mtext, &mlen);
	if (r < 0)
		return error_errno(err, r, "image '%s': manifest", full);
	char md[DIGEST_STRING_MAX];
	digest_buffer(mtext, mlen, md);
	if (strcmp(md, manifest_digest) != 0)
		return error_set(err, VXN_EDIGEST, 0,
				 "image '%s': manifest %s arrived with digest %s", full,
				 manifest_digest, md);
	_cleanup_json_ json *man = NULL;
	free(msg);
	msg = NULL;
	if (json_parse(mtext, mlen, &man, &msg) < 0)
		return error_set(err, VXN_EPROTO, 0, "image '%s': manifest: %s", full,
				 msg ? msg : "out of memory");
	_cleanup_strv_ char **blobs = NULL;
	if (manifest_blobs(man, &blobs) < 0)
		return error_set(err, VXN_EPROTO, 0,
				 "image '%s': manifest %s lists invalid digests", full,
				 manifest_digest);
	int gc = store_lock(s, s->gc_lock_fd, LOCK_SH, err);
	if (gc < 0)
		return gc;
	for (size_t i = 0; r == 0 && blobs[i]; i++) {
		{
			char id[16];
			snprintf(id, sizeof(id), "%.12s", digest_hex(blobs[i]));
			opts_progress(o, id, "Verifying", 0, 0);
		}
		r = ingest_beneath(s, &t, pfd, pulled, digest_hex(blobs[i]), true, blobs[i], NULL,
				   NULL, err);
		if (r < 0)
			error_prefix(err, r, "image '%s'", full);
	}
	if (r == 0)
		r = store_write_blob(s, mtext, mlen, NULL, err);
	if (r == 0 && single && o && o->arch)
		r = check_platform(s, blobs[0], o, full, err);
	if (r == 0)
		r = store_commit_image(s, manifest_digest, full, err);
	store_unlock(gc);
	if (r < 0)
		return r;
	opts_progress(o, "", "Pulled", 0, 0);
	if (out)
		return vxn_image_lookup(out, s, full, err);
	return 0;
}

/* ---- push ---- */

int vxn_image_push(vxn_image_store *s, const char *image, const char *dest, const vxn_image_opts *o,
		   vxn_error **err)
{
	vxn_image *img = NULL;
	int r = vxn_image_lookup(&img, s, image, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *target = NULL;
	const char *tname = dest;
	if (!tname) {
		/* Pushing by name pushes that name. */
		vxn_ref *ref = NULL;
		if (vxn_ref_parse(&ref, image, NULL) == 0) {
			target = strdup(vxn_ref_string(ref));
			vxn_ref_free(ref);
		}
		if (!target || !strv_contains((char *const *)vxn_image_names(img), target)) {
			free(target);
			target = NULL;
			vxn_image_free(img);
			return error_set(err, VXN_EINVAL, 0,
					 "image '%s': give a destination name for an image ID",
					 image);
		}
	} else {
		vxn_ref *ref = NULL;
		r = vxn_ref_parse(&ref, dest, err);
		if (r < 0) {
			vxn_image_free(img);
			return r;
		}
		target = strdup(vxn_ref_string(ref));
		vxn_ref_free(ref);
	}
	_cleanup_store_tmp_ struct store_tmp t = { 0 };
	_cleanup_strv_ char **blobs = NULL;
	_cleanup_strv_ char **argv = NULL;
	_cleanup_free_ char *dir = NULL, *src = NULL, *dst = NULL, *mpath = NULL, *vpath = NULL;
	const char *mtext = NULL;
	static const char version[] = "Directory Transport Version: 1.1\n";
	if (!target) {
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	r = store_tmp_new(s, &t, err);
	if (r < 0)
		goto out;
	/* A skopeo dir: layout of hard links to the stored blobs. */
	dir = path_join(t.path, "push");
	if (!dir || mkdir(dir, 0700) < 0 || manifest_blobs(image_manifest(img), &blobs) < 0) {
		r = error_errno(err, -errno, "image '%s': staging", image);
		goto out;
	}
	for (size_t i = 0; blobs[i]; i++) {
		_cleanup_free_ char *from = store_blob_path(s, blobs[i]);
		_cleanup_free_ char *to = path_join(dir, digest_hex(blobs[i]));
		if (!from || !to || link(from, to) < 0) {
			r = error_errno(err, -errno, "image '%s': blob %s", image, blobs[i]);
			goto out;
		}
	}
	mpath = path_join(dir, "manifest.json");
	vpath = path_join(dir, "version");
	mtext = vxn_image_manifest_json(img);
	if (!mpath || !vpath || write_file_atomic(mpath, mtext, strlen(mtext), 0644) < 0 ||
	    write_file_atomic(vpath, version, strlen(version), 0644) < 0) {
		r = error_errno(err, -EIO, "image '%s': staging", image);
		goto out;
	}
	src = str_printf("dir:%s", dir);
	dst = str_printf("docker://%s", target);
	if (!src || !dst || strv_push(&argv, SKOPEO) < 0 || strv_push(&argv, "copy") < 0 ||
	    strv_push(&argv, "--preserve-digests") < 0 || skopeo_opts(&argv, o, "dest") < 0 ||
	    strv_push(&argv, src) < 0 || strv_push(&argv, dst) < 0) {
		r = error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	{
		_cleanup_free_ char *what = str_printf("image '%s'", target);
		r = skopeo_run(argv, o, false, NULL, NULL, what ? what : target, err);
	}
	if (r == 0)
		opts_progress(o, digest_hex(vxn_image_digest(img)), "Pushed", 0, 0);
out:
	vxn_image_free(img);
	return r;
}
