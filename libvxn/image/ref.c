/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image references, parsed and normalised as Docker does
 * (distribution/reference v0.6: ParseNormalizedNamed, then TagNameOnly).
 *
 * The grammar, written out:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] component ( "/" component )*
 *   domain     := host [ ":" [0-9]+ ]
 *   host       := label ( "." label )*  |  "[" [0-9A-Fa-f:]+ "]"
 *   label      := [A-Za-z0-9] | [A-Za-z0-9] [A-Za-z0-9-]* [A-Za-z0-9]
 *   component  := alnum ( sep alnum )*      alnum := [a-z0-9]+
 *   sep        := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" [a-f0-9]{64}
 *
 * Which first component is a domain is not decided by the grammar but by
 * Docker's splitDockerDomain(): it is one only when the text has a '/' and
 * the part before it is "localhost", contains '.' or ':', or has an upper
 * case letter. Anything else belongs to the repository path on docker.io.
 * The path (without the domain) is at most 255 characters.
 *
 * Acceptance is Docker's, with two deliberate differences: digests other
 * than sha256 are refused (the store only speaks sha256), and a first
 * component that Docker takes for a domain but that is no valid host
 * ("my_registry.local/x") is refused; Docker accepts it with an empty domain
 * and only fails later, when it tries to reach that registry. The messages
 * are more precise than Docker's "invalid reference format" but start with
 * the same words where Docker uses them.
 *
 * Pure: no I/O, no global state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vxn/image.h>

#include "core/private.h"
#include "shared/macro.h"
#include "shared/util.h"

#define DEFAULT_DOMAIN	      "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX	      "library/"
#define DEFAULT_TAG	      "latest"
#define LOCALHOST	      "localhost"
#define PATH_MAX_CHARS	      255
#define TAG_MAX_CHARS	      128
#define SHA256_PREFIX	      "sha256:"
#define SHA256_HEX_CHARS      64

/* How much of the user's text an error message shows (bytes of input). */
#define SHOW_MAX_INPUT 200
#define SHOW_BUF_SIZE  (SHOW_MAX_INPUT * 4 + 8)

struct vxn_ref {
	const char *domain;
	const char *path;
	const char *name;   /* domain/path */
	const char *tag;    /* NULL when only a digest was given */
	const char *digest; /* NULL when none was given */
	const char *string;
	const char *familiar;
	char buf[]; /* every string above lives here */
};

/* ASCII classes; the <ctype.h> ones depend on the locale. */
static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_lower_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_upper(s[i]))
			return true;
	return false;
}

static bool span_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/*
 * Copy s[0..n) into buf for an error message: control bytes and DEL become
 * \xNN so the message stays on one line, and long input is cut ("...")
 * without splitting a UTF-8 sequence. Returns buf.
 */
static const char *show(char *buf, size_t size, const char *s, size_t n)
{
	size_t o = 0;
	bool cut = n > SHOW_MAX_INPUT;
	if (cut) {
		n = SHOW_MAX_INPUT;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (cut && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Fail for `text` with the reason given by fmt. Returns VXN_EINVAL (or VXN_ENOMEM). */
static int fail(vxn_error **err, const char *text, const char *fmt, ...) _printf_(3, 4);
static int fail(vxn_error **err, const char *text, const char *fmt, ...)
{
	char shown[SHOW_BUF_SIZE];
	char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	int r = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_set(err, VXN_ENOMEM, ENOMEM, "out of memory");
	r = error_set(err, VXN_EINVAL, 0, "invalid reference '%s': %s",
		      show(shown, sizeof(shown), text, strlen(text)), why);
	free(why);
	return r;
}

/* One domain label: [A-Za-z0-9] or [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]. */
static bool valid_label(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* host[:port], host being dot-separated labels or a bracketed IPv6 literal. */
static bool valid_domain(const char *s, size_t n)
{
	size_t host_end;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!is_hex(*p) && *p != ':')
				return false;
		host_end = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		host_end = colon ? (size_t)(colon - s) : n;
		size_t start = 0;
		for (size_t i = 0; i <= host_end; i++) {
			if (i == host_end || s[i] == '.') {
				if (!valid_label(s + start, i - start))
					return false;
				start = i + 1;
			}
		}
	}
	if (host_end == n)
		return true;
	/* Only a port may follow the host. */
	if (s[host_end] != ':' || host_end + 1 == n)
		return false;
	for (size_t i = host_end + 1; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/*
 * One path component: runs of [a-z0-9] joined by exactly ".", "_", "__" or
 * one or more "-" (so "a__b" and "a--b" are valid, "a___b", "a..b", "a-_b"
 * and leading or trailing separators are not).
 */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		const char *sep = s + i;
		size_t len = j - i;
		bool dashes = true;
		for (size_t k = 0; k < len; k++)
			dashes = dashes && sep[k] == '-';
		if (!dashes && !span_eq(sep, len, ".") && !span_eq(sep, len, "_") &&
		    !span_eq(sep, len, "__"))
			return false;
		i = j;
	}
	return true;
}

static bool valid_path(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (!valid_component(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* The first bad component of a path known to be invalid, for the message. */
static void first_bad_component(const char *s, size_t n, const char **out, size_t *out_len)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (!valid_component(s + start, i - start)) {
				*out = s + start;
				*out_len = i - start;
				return;
			}
			start = i + 1;
		}
	}
	*out = s;
	*out_len = n;
}

/*
 * Check the path the user typed (a "library/" put in front of it is valid
 * and never what an error is about); on failure set the error.
 */
static int check_path(vxn_error **err, const char *text, const char *path, size_t n)
{
	char shown[SHOW_BUF_SIZE];
	const char *bad;
	size_t bad_len;

	if (valid_path(path, n))
		return 0;
	first_bad_component(path, n, &bad, &bad_len);
	if (bad_len == 0) {
		if (n == 0 || path[n - 1] == '/')
			return fail(err, text,
				    "invalid reference format: repository name is missing or "
				    "ends with '/'");
		return fail(err, text,
			    "invalid reference format: repository name has an empty component "
			    "(leading '/' or '//')");
	}
	return fail(err, text,
		    "invalid reference format: repository name component '%s' must be lower "
		    "case letters and digits separated by '.', '_', '__' or '-'",
		    show(shown, sizeof(shown), bad, bad_len));
}

static int check_tag(vxn_error **err, const char *text, const char *tag, size_t n)
{
	char shown[SHOW_BUF_SIZE];

	if (n == 0)
		return fail(err, text, "invalid reference format: empty tag after ':'");
	if (n > TAG_MAX_CHARS)
		return fail(err, text,
			    "invalid reference format: tag must not be more than %d characters "
			    "(got %zu)",
			    TAG_MAX_CHARS, n);
	bool ok = is_word(tag[0]);
	for (size_t i = 1; ok && i < n; i++)
		ok = is_word(tag[i]) || tag[i] == '.' || tag[i] == '-';
	if (!ok)
		return fail(err, text,
			    "invalid reference format: tag '%s' must be letters, digits, '_', "
			    "'.' and '-', not starting with '.' or '-'",
			    show(shown, sizeof(shown), tag, n));
	return 0;
}

static int check_digest(vxn_error **err, const char *text, const char *digest, size_t n)
{
	char shown[SHOW_BUF_SIZE];
	const char *colon = memchr(digest, ':', n);

	if (n == 0)
		return fail(err, text, "invalid reference format: empty digest after '@'");
	if (!colon || colon == digest)
		return fail(err, text,
			    "invalid reference format: digest '%s' must be 'sha256:' followed by "
			    "%d hex digits",
			    show(shown, sizeof(shown), digest, n), SHA256_HEX_CHARS);
	size_t alg_len = (size_t)(colon - digest);
	if (!span_eq(digest, alg_len, "sha256"))
		return fail(err, text,
			    "unsupported digest algorithm '%s' (only sha256 is supported)",
			    show(shown, sizeof(shown), digest, alg_len));
	const char *hex = colon + 1;
	size_t hex_len = n - alg_len - 1;
	for (size_t i = 0; i < hex_len; i++)
		if (!is_lower_hex(hex[i]))
			return fail(err, text,
				    "invalid digest format: '%s' must be followed by lower case "
				    "hex digits only",
				    SHA256_PREFIX);
	if (hex_len != SHA256_HEX_CHARS)
		return fail(err, text, "invalid digest length: sha256 needs %d hex digits, got %zu",
			    SHA256_HEX_CHARS, hex_len);
	return 0;
}

/* Strings are laid out one after the other in ref->buf. */
struct layout {
	char *cur;
};

static void add(struct layout *l, const char *s, size_t n)
{
	memcpy(l->cur, s, n);
	l->cur += n;
}

/* Terminate the string that began at start and return it. */
static const char *finish(struct layout *l, char *start)
{
	*l->cur++ = '\0';
	return start;
}

/* name[:tag][@digest] */
static const char *add_ref(struct layout *l, const char *name, const char *tag, const char *digest)
{
	char *start = l->cur;
	add(l, name, strlen(name));
	if (tag) {
		add(l, ":", 1);
		add(l, tag, strlen(tag));
	}
	if (digest) {
		add(l, "@", 1);
		add(l, digest, strlen(digest));
	}
	return finish(l, start);
}

/*
 * Assemble the reference from its validated parts (none longer than the
 * text they come from). The path is `lib` ("" or "library/") followed by
 * path[0..path_len).
 */
static vxn_ref *ref_build(size_t text_len, const char *domain, size_t domain_len, const char *lib,
			  const char *path, size_t path_len, const char *tag, size_t tag_len,
			  const char *digest, size_t digest_len)
{
	/* Seven strings, each at most the text plus "docker.io/", "library/"
	 * and ":latest", plus its NUL. */
	const size_t extra = strlen(DEFAULT_DOMAIN "/" OFFICIAL_PREFIX ":" DEFAULT_TAG) + 1;
	if (text_len > (SIZE_MAX - sizeof(vxn_ref)) / 8 - extra)
		return NULL;
	vxn_ref *ref = malloc(sizeof(*ref) + 7 * (text_len + extra));
	if (!ref)
		return NULL;

	struct layout l = { ref->buf };
	char *s;

	s = l.cur;
	add(&l, domain, domain_len);
	ref->domain = finish(&l, s);

	s = l.cur;
	add(&l, lib, strlen(lib));
	add(&l, path, path_len);
	ref->path = finish(&l, s);

	s = l.cur;
	add(&l, domain, domain_len);
	add(&l, "/", 1);
	add(&l, ref->path, strlen(ref->path));
	ref->name = finish(&l, s);

	ref->tag = NULL;
	if (tag) {
		s = l.cur;
		add(&l, tag, tag_len);
		ref->tag = finish(&l, s);
	}
	ref->digest = NULL;
	if (digest) {
		s = l.cur;
		add(&l, digest, digest_len);
		ref->digest = finish(&l, s);
	}

	/* Familiar name (distribution/reference's familiarizeName): drop
	 * "docker.io/", and "library/" when a single component follows it. */
	const char *familiar = ref->name;
	if (STREQ(ref->domain, DEFAULT_DOMAIN)) {
		familiar = ref->path;
		if (str_startswith(familiar, OFFICIAL_PREFIX) &&
		    !strchr(familiar + strlen(OFFICIAL_PREFIX), '/'))
			familiar += strlen(OFFICIAL_PREFIX);
	}

	ref->string = add_ref(&l, ref->name, ref->tag, ref->digest);
	ref->familiar = add_ref(&l, familiar, ref->tag, ref->digest);
	return ref;
}

int vxn_ref_parse(vxn_ref **out, const char *text, vxn_error **err)
{
	if (!text)
		return error_set(err, VXN_EINVAL, 0,
				 "invalid reference: no reference given (NULL)");
	if (!out)
		return fail(err, text, "no place to store the result (out is NULL)");

	size_t n = strlen(text);
	if (n == 0)
		return fail(err, text, "reference is empty");

	/* An image ID is not a name, whatever else the grammar would say. */
	if (n == SHA256_HEX_CHARS) {
		bool all_hex = true;
		for (size_t i = 0; all_hex && i < n; i++)
			all_hex = is_lower_hex(text[i]);
		if (all_hex)
			return fail(err, text,
				    "invalid repository name (%s), cannot specify 64-byte "
				    "hexadecimal strings",
				    text);
	}

	/* splitDockerDomain(): is the first component a registry? */
	const char *domain = DEFAULT_DOMAIN;
	size_t domain_len = strlen(DEFAULT_DOMAIN);
	const char *rem = text;
	bool domain_by_case = false;
	const char *slash = strchr(text, '/');
	if (slash) {
		const char *first = text;
		size_t first_len = (size_t)(slash - text);
		if (span_eq(first, first_len, LEGACY_DEFAULT_DOMAIN)) {
			rem = slash + 1;
		} else if (span_eq(first, first_len, LOCALHOST) || memchr(first, '.', first_len) ||
			   memchr(first, ':', first_len)) {
			domain = first;
			domain_len = first_len;
			rem = slash + 1;
		} else if (has_upper(first, first_len)) {
			domain = first;
			domain_len = first_len;
			rem = slash + 1;
			domain_by_case = true;
		}
	}
	bool on_hub = span_eq(domain, domain_len, DEFAULT_DOMAIN);
	const char *lib = on_hub && !strchr(rem, '/') ? OFFICIAL_PREFIX : "";

	/* rem = path [":" tag] ["@" digest]; path and tag never hold '@'. */
	size_t rem_len = strlen(rem);
	const char *at = strchr(rem, '@');
	size_t before_at = at ? (size_t)(at - rem) : rem_len;
	const char *colon = memchr(rem, ':', before_at);
	size_t path_len = colon ? (size_t)(colon - rem) : before_at;

	if (has_upper(rem, path_len))
		return fail(err, text,
			    "invalid reference format: repository name must be lowercase");

	if (!on_hub && !valid_domain(domain, domain_len)) {
		char shown[SHOW_BUF_SIZE];
		/* Docker treats an upper case first component as a domain only
		 * because namespaces cannot be upper case; "Foo_Bar/x" is a
		 * repository name in the wrong case rather than a bad host. */
		if (domain_by_case)
			return fail(err, text,
				    "invalid reference format: repository name must be lowercase");
		return fail(err, text,
			    "invalid reference format: '%s' is not a valid registry host (a "
			    "first component containing '.' or ':' names a registry)",
			    show(shown, sizeof(shown), domain, domain_len));
	}

	if (*rem == '\0' || *rem == ':' || *rem == '@')
		return fail(err, text, "invalid reference format: repository name is missing");
	int r = check_path(err, text, rem, path_len);
	if (r < 0)
		return r;

	const char *tag = NULL;
	size_t tag_len = 0;
	if (colon) {
		tag = colon + 1;
		tag_len = before_at - path_len - 1;
		r = check_tag(err, text, tag, tag_len);
		if (r < 0)
			return r;
	}

	const char *digest = NULL;
	size_t digest_len = 0;
	if (at) {
		digest = at + 1;
		digest_len = rem_len - before_at - 1;
		r = check_digest(err, text, digest, digest_len);
		if (r < 0)
			return r;
	}

	if (strlen(lib) + path_len > PATH_MAX_CHARS)
		return fail(err, text,
			    "repository name must not be more than %d characters (got %zu)",
			    PATH_MAX_CHARS, strlen(lib) + path_len);

	/* TagNameOnly(): a bare name means ":latest". */
	if (!tag && !digest) {
		tag = DEFAULT_TAG;
		tag_len = strlen(DEFAULT_TAG);
	}

	vxn_ref *ref =
	    ref_build(n, domain, domain_len, lib, rem, path_len, tag, tag_len, digest, digest_len);
	if (!ref) {
		char shown[SHOW_BUF_SIZE];
		return error_set(err, VXN_ENOMEM, ENOMEM, "reference '%s': out of memory",
				 show(shown, sizeof(shown), text, n));
	}
	*out = ref;
	return 0;
}

void vxn_ref_free(vxn_ref *ref)
{
	free(ref);
}

const char *vxn_ref_string(const vxn_ref *ref)
{
	return ref ? ref->string : NULL;
}

const char *vxn_ref_familiar(const vxn_ref *ref)
{
	return ref ? ref->familiar : NULL;
}

const char *vxn_ref_domain(const vxn_ref *ref)
{
	return ref ? ref->domain : NULL;
}

const char *vxn_ref_path(const vxn_ref *ref)
{
	return ref ? ref->path : NULL;
}

const char *vxn_ref_name(const vxn_ref *ref)
{
	return ref ? ref->name : NULL;
}

const char *vxn_ref_tag(const vxn_ref *ref)
{
	return ref ? ref->tag : NULL;
}

const char *vxn_ref_digest(const vxn_ref *ref)
{
	return ref ? ref->digest : NULL;
}
