/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "macro.h"
#include "util.h"

#define JSON_MAX_DEPTH 128

struct json {
	json_type type;
	union {
		bool b;
		int64_t i;
		double d;
		struct {
			char *s;
			size_t len;
		} str;
		struct {
			json **items;
			size_t n, cap;
		} arr;
		struct {
			char **keys;
			json **vals;
			size_t n, cap;
		} obj;
	} u;
};

static json *json_new(json_type t)
{
	json *j = calloc(1, sizeof(*j));
	if (j)
		j->type = t;
	return j;
}

json *json_null(void)
{
	return json_new(JSON_NULL);
}

json *json_bool(bool b)
{
	json *j = json_new(JSON_BOOL);
	if (j)
		j->u.b = b;
	return j;
}

json *json_int(int64_t i)
{
	json *j = json_new(JSON_INT);
	if (j)
		j->u.i = i;
	return j;
}

json *json_double(double d)
{
	json *j = json_new(JSON_DOUBLE);
	if (j)
		j->u.d = d;
	return j;
}

json *json_string_len(const char *s, size_t len)
{
	json *j = json_new(JSON_STRING);
	if (!j)
		return NULL;
	j->u.str.s = malloc(len + 1);
	if (!j->u.str.s) {
		free(j);
		return NULL;
	}
	memcpy(j->u.str.s, s, len);
	j->u.str.s[len] = '\0';
	j->u.str.len = len;
	return j;
}

json *json_string(const char *s)
{
	return s ? json_string_len(s, strlen(s)) : NULL;
}

json *json_array(void)
{
	return json_new(JSON_ARRAY);
}

json *json_object(void)
{
	return json_new(JSON_OBJECT);
}

void json_free(json *j)
{
	if (!j)
		return;
	switch (j->type) {
	case JSON_STRING:
		free(j->u.str.s);
		break;
	case JSON_ARRAY:
		for (size_t i = 0; i < j->u.arr.n; i++)
			json_free(j->u.arr.items[i]);
		free(j->u.arr.items);
		break;
	case JSON_OBJECT:
		for (size_t i = 0; i < j->u.obj.n; i++) {
			free(j->u.obj.keys[i]);
			json_free(j->u.obj.vals[i]);
		}
		free(j->u.obj.keys);
		free(j->u.obj.vals);
		break;
	default:
		break;
	}
	free(j);
}

json *json_copy(const json *j)
{
	if (!j)
		return NULL;
	switch (j->type) {
	case JSON_NULL:
		return json_null();
	case JSON_BOOL:
		return json_bool(j->u.b);
	case JSON_INT:
		return json_int(j->u.i);
	case JSON_DOUBLE:
		return json_double(j->u.d);
	case JSON_STRING:
		return json_string_len(j->u.str.s, j->u.str.len);
	case JSON_ARRAY: {
		json *a = json_array();
		for (size_t i = 0; a && i < j->u.arr.n; i++)
			if (json_array_append_take(a, json_copy(j->u.arr.items[i])) < 0) {
				json_free(a);
				return NULL;
			}
		return a;
	}
	case JSON_OBJECT: {
		json *o = json_object();
		for (size_t i = 0; o && i < j->u.obj.n; i++)
			if (json_object_set_take(o, j->u.obj.keys[i], json_copy(j->u.obj.vals[i])) <
			    0) {
				json_free(o);
				return NULL;
			}
		return o;
	}
	}
	return NULL;
}

bool json_equal(const json *a, const json *b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case JSON_NULL:
		return true;
	case JSON_BOOL:
		return a->u.b == b->u.b;
	case JSON_INT:
		return a->u.i == b->u.i;
	case JSON_DOUBLE:
		return a->u.d == b->u.d;
	case JSON_STRING:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
	case JSON_ARRAY:
		if (a->u.arr.n != b->u.arr.n)
			return false;
		for (size_t i = 0; i < a->u.arr.n; i++)
			if (!json_equal(a->u.arr.items[i], b->u.arr.items[i]))
				return false;
		return true;
	case JSON_OBJECT:
		if (a->u.obj.n != b->u.obj.n)
			return false;
		for (size_t i = 0; i < a->u.obj.n; i++)
			if (!json_equal(a->u.obj.vals[i], json_object_get(b, a->u.obj.keys[i])))
				return false;
		return true;
	}
	return false;
}

json_type json_get_type(const json *j)
{
	return j ? j->type : JSON_NULL;
}

const char *json_type_name(json_type t)
{
	static const char *const names[] = { "null",   "boolean", "integer", "number",
					     "string", "array",	  "object" };
	return (unsigned)t < ELEMENTSOF(names) ? names[t] : "unknown";
}

bool json_is(const json *j, json_type t)
{
	return j && j->type == t;
}

bool json_bool_value(const json *j, bool fallback)
{
	return json_is(j, JSON_BOOL) ? j->u.b : fallback;
}

int64_t json_int_value(const json *j, int64_t fallback)
{
	return json_is(j, JSON_INT) ? j->u.i : fallback;
}

double json_number_value(const json *j, double fallback)
{
	if (json_is(j, JSON_INT))
		return (double)j->u.i;
	return json_is(j, JSON_DOUBLE) ? j->u.d : fallback;
}

const char *json_string_value(const json *j)
{
	return json_is(j, JSON_STRING) ? j->u.str.s : NULL;
}

size_t json_string_length(const json *j)
{
	return json_is(j, JSON_STRING) ? j->u.str.len : 0;
}

size_t json_array_length(const json *j)
{
	return json_is(j, JSON_ARRAY) ? j->u.arr.n : 0;
}

json *json_array_get(const json *j, size_t i)
{
	return json_is(j, JSON_ARRAY) && i < j->u.arr.n ? j->u.arr.items[i] : NULL;
}

int json_array_append_take(json *arr, json *v)
{
	if (!v)
		return -ENOMEM;
	if (!json_is(arr, JSON_ARRAY)) {
		json_free(v);
		return -EINVAL;
	}
	if (arr->u.arr.n == arr->u.arr.cap) {
		size_t ncap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
		json **ni = realloc(arr->u.arr.items, ncap * sizeof(json *));
		if (!ni) {
			json_free(v);
			return -ENOMEM;
		}
		arr->u.arr.items = ni;
		arr->u.arr.cap = ncap;
	}
	arr->u.arr.items[arr->u.arr.n++] = v;
	return 0;
}

size_t json_object_length(const json *j)
{
	return json_is(j, JSON_OBJECT) ? j->u.obj.n : 0;
}

static ssize_t obj_find(const json *j, const char *key)
{
	for (size_t i = 0; i < j->u.obj.n; i++)
		if (STREQ(j->u.obj.keys[i], key))
			return (ssize_t)i;
	return -1;
}

json *json_object_get(const json *j, const char *key)
{
	if (!json_is(j, JSON_OBJECT) || !key)
		return NULL;
	ssize_t i = obj_find(j, key);
	return i < 0 ? NULL : j->u.obj.vals[i];
}

json *json_object_at(const json *j, size_t i, const char **key)
{
	if (!json_is(j, JSON_OBJECT) || i >= j->u.obj.n)
		return NULL;
	if (key)
		*key = j->u.obj.keys[i];
	return j->u.obj.vals[i];
}

int json_object_set_take(json *obj, const char *key, json *v)
{
	if (!v)
		return -ENOMEM;
	if (!json_is(obj, JSON_OBJECT) || !key) {
		json_free(v);
		return -EINVAL;
	}
	ssize_t i = obj_find(obj, key);
	if (i >= 0) {
		json_free(obj->u.obj.vals[i]);
		obj->u.obj.vals[i] = v;
		return 0;
	}
	if (obj->u.obj.n == obj->u.obj.cap) {
		size_t ncap = obj->u.obj.cap ? obj->u.obj.cap * 2 : 4;
		char **nk = realloc(obj->u.obj.keys, ncap * sizeof(char *));
		if (!nk) {
			json_free(v);
			return -ENOMEM;
		}
		obj->u.obj.keys = nk;
		json **nv = realloc(obj->u.obj.vals, ncap * sizeof(json *));
		if (!nv) {
			json_free(v);
			return -ENOMEM;
		}
		obj->u.obj.vals = nv;
		obj->u.obj.cap = ncap;
	}
	char *k = strdup(key);
	if (!k) {
		json_free(v);
		return -ENOMEM;
	}
	obj->u.obj.keys[obj->u.obj.n] = k;
	obj->u.obj.vals[obj->u.obj.n] = v;
	obj->u.obj.n++;
	return 0;
}

int json_object_set_string(json *obj, const char *key, const char *s)
{
	return json_object_set_take(obj, key, json_string(s));
}

int json_object_set_int(json *obj, const char *key, int64_t i)
{
	return json_object_set_take(obj, key, json_int(i));
}

int json_object_set_bool(json *obj, const char *key, bool b)
{
	return json_object_set_take(obj, key, json_bool(b));
}

bool json_object_remove(json *obj, const char *key)
{
	if (!json_is(obj, JSON_OBJECT))
		return false;
	ssize_t i = obj_find(obj, key);
	if (i < 0)
		return false;
	free(obj->u.obj.keys[i]);
	json_free(obj->u.obj.vals[i]);
	size_t rest = obj->u.obj.n - (size_t)i - 1;
	memmove(&obj->u.obj.keys[i], &obj->u.obj.keys[i + 1], rest * sizeof(char *));
	memmove(&obj->u.obj.vals[i], &obj->u.obj.vals[i + 1], rest * sizeof(json *));
	obj->u.obj.n--;
	return true;
}

const char *json_object_get_string(const json *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json *json_object_get_array(const json *obj, const char *key)
{
	json *v = json_object_get(obj, key);
	return json_is(v, JSON_ARRAY) ? v : NULL;
}

json *json_object_get_object(const json *obj, const char *key)
{
	json *v = json_object_get(obj, key);
	return json_is(v, JSON_OBJECT) ? v : NULL;
}

/* ---- parsing ---- */

struct parse_state {
	json *root;
	json *stack[JSON_MAX_DEPTH];
	char *keys[JSON_MAX_DEPTH]; /* pending key for an object at that level */
	size_t depth;
	bool oom, too_deep;
};

/* Attach v to the current container (or make it the root). 1 = continue. */
static int ps_add(struct parse_state *ps, json *v, bool push)
{
	if (!v) {
		ps->oom = true;
		return 0;
	}
	if (ps->depth == 0) {
		if (ps->root) {
			json_free(v);
			return 0;
		}
		ps->root = v;
	} else {
		json *top = ps->stack[ps->depth - 1];
		int r;
		if (top->type == JSON_ARRAY) {
			r = json_array_append_take(top, v);
		} else {
			r = json_object_set_take(top, ps->keys[ps->depth - 1], v);
			free(ps->keys[ps->depth - 1]);
			ps->keys[ps->depth - 1] = NULL;
		}
		if (r < 0) {
			ps->oom = true;
			return 0;
		}
	}
	if (push) {
		if (ps->depth == JSON_MAX_DEPTH) {
			ps->too_deep = true;
			return 0;
		}
		ps->stack[ps->depth++] = v;
	}
	return 1;
}

static int cb_null(void *c)
{
	return ps_add(c, json_null(), false);
}

static int cb_bool(void *c, int b)
{
	return ps_add(c, json_bool(b), false);
}

static int cb_number(void *c, const char *s, size_t len)
{
	char buf[512];
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!strpbrk(buf, ".eE")) {
		errno = 0;
		char *end;
		long long v = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0')
			return ps_add(c, json_int(v), false);
	}
	return ps_add(c, json_double(strtod(buf, NULL)), false);
}

static int cb_string(void *c, const unsigned char *s, size_t len)
{
	return ps_add(c, json_string_len((const char *)s, len), false);
}

static int cb_start_map(void *c)
{
	return ps_add(c, json_object(), true);
}

static int cb_map_key(void *c, const unsigned char *s, size_t len)
{
	struct parse_state *ps = c;
	if (memchr(s, '\0', len))
		return 0; /* keys are C strings here */
	free(ps->keys[ps->depth - 1]);
	ps->keys[ps->depth - 1] = strndup((const char *)s, len);
	if (!ps->keys[ps->depth - 1]) {
		ps->oom = true;
		return 0;
	}
	return 1;
}

static int cb_end(void *c)
{
	struct parse_state *ps = c;
	ps->depth--;
	return 1;
}

static int cb_start_array(void *c)
{
	return ps_add(c, json_array(), true);
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

int json_parse(const char *text, size_t len, json **out, char **errmsg)
{
	struct parse_state ps = { 0 };
	yajl_handle h = yajl_alloc(&callbacks, NULL, &ps);
	if (!h)
		return -ENOMEM;
	yajl_config(h, yajl_allow_comments, 0);
	yajl_config(h, yajl_dont_validate_strings, 0);
	yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	int r = 0;
	if (st != yajl_status_ok || !ps.root) {
		r = ps.oom ? -ENOMEM : -EINVAL;
		if (errmsg && !ps.oom) {
			if (ps.too_deep)
				*errmsg = str_printf("nesting deeper than %d", JSON_MAX_DEPTH);
			else if (st == yajl_status_ok)
				*errmsg = strdup("empty document");
			else {
				unsigned char *m =
				    yajl_get_error(h, 0, (const unsigned char *)text, len);
				*errmsg =
				    str_printf("%s at byte %zu", m ? (char *)m : "parse error",
					       yajl_get_bytes_consumed(h));
				yajl_free_error(h, m);
			}
		}
		json_free(ps.root);
	} else {
		*out = ps.root;
	}
	for (size_t i = 0; i < JSON_MAX_DEPTH; i++)
		free(ps.keys[i]);
	yajl_free(h);
	return r;
}

/* ---- serialising ---- */

static int gen(yajl_gen g, const json *j)
{
	yajl_gen_status s = yajl_gen_status_ok;
	switch (j->type) {
	case JSON_NULL:
		s = yajl_gen_null(g);
		break;
	case JSON_BOOL:
		s = yajl_gen_bool(g, j->u.b);
		break;
	case JSON_INT:
		s = yajl_gen_integer(g, (long long)j->u.i);
		break;
	case JSON_DOUBLE:
		if (!isfinite(j->u.d))
			return -EINVAL;
		s = yajl_gen_double(g, j->u.d);
		break;
	case JSON_STRING:
		s = yajl_gen_string(g, (const unsigned char *)j->u.str.s, j->u.str.len);
		break;
	case JSON_ARRAY:
		s = yajl_gen_array_open(g);
		for (size_t i = 0; s == yajl_gen_status_ok && i < j->u.arr.n; i++)
			if (gen(g, j->u.arr.items[i]) < 0)
				return -EINVAL;
		if (s == yajl_gen_status_ok)
			s = yajl_gen_array_close(g);
		break;
	case JSON_OBJECT:
		s = yajl_gen_map_open(g);
		for (size_t i = 0; s == yajl_gen_status_ok && i < j->u.obj.n; i++) {
			s = yajl_gen_string(g, (const unsigned char *)j->u.obj.keys[i],
					    strlen(j->u.obj.keys[i]));
			if (s == yajl_gen_status_ok && gen(g, j->u.obj.vals[i]) < 0)
				return -EINVAL;
		}
		if (s == yajl_gen_status_ok)
			s = yajl_gen_map_close(g);
		break;
	}
	return s == yajl_gen_status_ok ? 0 : -EINVAL;
}

int json_serialize(const json *j, bool pretty, char **out, size_t *out_len)
{
	if (!j)
		return -EINVAL;
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return -ENOMEM;
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	if (pretty) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	int r = gen(g, j);
	if (r == 0) {
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(g, &buf, &len);
		/* yajl's beautify already ends a top-level container with "\n" */
		bool nl = pretty && (len == 0 || buf[len - 1] != '\n');
		char *s = malloc(len + 2);
		if (!s) {
			r = -ENOMEM;
		} else {
			memcpy(s, buf, len);
			if (nl)
				s[len++] = '\n';
			s[len] = '\0';
			*out = s;
			if (out_len)
				*out_len = len;
		}
	}
	yajl_gen_free(g);
	return r;
}

json *json_from_strv(char *const *v)
{
	json *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		if (json_array_append_take(a, json_string(v[i])) < 0) {
			json_free(a);
			return NULL;
		}
	return a;
}

int json_to_strv(const json *arr, char ***out)
{
	if (arr && !json_is(arr, JSON_ARRAY))
		return -EINVAL;
	size_t n = json_array_length(arr);
	_cleanup_strv_ char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json *e = json_array_get(arr, i);
		if (!json_is(e, JSON_STRING) || memchr(e->u.str.s, '\0', e->u.str.len))
			return -EINVAL;
		v[i] = strdup(e->u.str.s);
		if (!v[i])
			return -ENOMEM;
	}
	*out = TAKE_PTR(v);
	return 0;
}
