/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small mutable JSON document model over yajl, for the modules (OCI
 * manifests and configs, runtime specs, launch records). Not public API.
 *
 * Ownership: a json value owns its children. Functions named *_take take
 * ownership of the value passed in (and free it on failure); getters return
 * borrowed pointers valid until the parent is changed or freed.
 * Objects keep keys in insertion order; setting an existing key replaces it
 * in place. Integers are int64; numbers with a fraction or exponent, or out
 * of int64 range, are doubles.
 */
#ifndef VXN_SHARED_JSON_H
#define VXN_SHARED_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,
	JSON_DOUBLE,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
} json_type;

typedef struct json json;

/* Constructors; NULL on ENOMEM. json_string copies s (which may hold NULs
 * when built with json_string_len). */
json *json_null(void);
json *json_bool(bool b);
json *json_int(int64_t i);
json *json_double(double d);
json *json_string(const char *s);
json *json_string_len(const char *s, size_t len);
json *json_array(void);
json *json_object(void);
void json_free(json *j);
static inline void json_freep(json **j)
{
	json_free(*j);
}
#define _cleanup_json_ __attribute__((cleanup(json_freep)))

/* Deep copy; NULL on ENOMEM. */
json *json_copy(const json *j);
/* Structural equality (object key order ignored). */
bool json_equal(const json *a, const json *b);

json_type json_get_type(const json *j);
const char *json_type_name(json_type t);
bool json_is(const json *j, json_type t);

/* Scalars: return the value, or the fallback when j is NULL or of another type. */
bool json_bool_value(const json *j, bool fallback);
int64_t json_int_value(const json *j, int64_t fallback);
/* Doubles and ints both convert. */
double json_number_value(const json *j, double fallback);
/* NULL when not a string. */
const char *json_string_value(const json *j);
size_t json_string_length(const json *j);

/* Arrays. */
size_t json_array_length(const json *j);
json *json_array_get(const json *j, size_t i);
int json_array_append_take(json *arr, json *v); /* 0 / -ENOMEM / -EINVAL */

/* Objects. */
size_t json_object_length(const json *j);
json *json_object_get(const json *j, const char *key);
/* The i-th member, for iteration; *key borrowed. NULL past the end. */
json *json_object_at(const json *j, size_t i, const char **key);
int json_object_set_take(json *obj, const char *key, json *v); /* 0 / -ENOMEM / -EINVAL */
int json_object_set_string(json *obj, const char *key, const char *s);
int json_object_set_int(json *obj, const char *key, int64_t i);
int json_object_set_bool(json *obj, const char *key, bool b);
/* Remove a member; returns whether it existed. */
bool json_object_remove(json *obj, const char *key);

/* Typed lookups on an object: NULL if missing or of another type. */
const char *json_object_get_string(const json *obj, const char *key);
json *json_object_get_array(const json *obj, const char *key);
json *json_object_get_object(const json *obj, const char *key);

#define json_object_foreach(obj, i, key, val) \
	for (size_t i = 0; ((val) = json_object_at((obj), i, &(key))) != NULL; i++)

/*
 * Parse a complete JSON text of len bytes (one value; trailing white space
 * allowed). Depth is limited to 128 and strings must be valid UTF-8.
 * On failure returns -EINVAL and, when errmsg is not NULL, a malloc'd message
 * ("parse error at byte 17: ..."), or -ENOMEM.
 */
int json_parse(const char *text, size_t len, json **out, char **errmsg);

/*
 * Serialise. pretty: two-space indent and a trailing newline, as golden files
 * are written; otherwise compact. Returns 0 and a malloc'd NUL-terminated
 * string (length in *out_len if not NULL), or -ENOMEM / -EINVAL (NaN, or
 * invalid UTF-8 in a string).
 */
int json_serialize(const json *j, bool pretty, char **out, size_t *out_len);

/* Convert between NULL-terminated string vectors and JSON string arrays. */
json *json_from_strv(char *const *v);
/* -EINVAL if arr is not an array of strings. An absent (NULL) arr gives an empty vector. */
int json_to_strv(const json *arr, char ***out);

#endif
