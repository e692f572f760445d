/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "shared/json.h"
#include "shared/util.h"

static json *parse_ok(const char *text)
{
	json *j = NULL;
	char *msg = NULL;
	int r = json_parse(text, strlen(text), &j, &msg);
	if (r < 0)
		fail_msg("parse of %s failed: %s", text, msg ? msg : "?");
	return j;
}

static void test_json_roundtrip_preserves_order_and_types(void **state)
{
	const char *text = "{\"b\":1,\"a\":[true,false,null,-9223372036854775808,1.5,\"x\"],"
			   "\"o\":{}}";
	_cleanup_json_ json *j = parse_ok(text);
	_cleanup_free_ char *out = NULL;
	assert_int_equal(json_serialize(j, false, &out, NULL), 0);
	assert_string_equal(out, text);
	json *a = json_object_get_array(j, "a");
	assert_int_equal(json_array_length(a), 6);
	assert_int_equal(json_int_value(json_array_get(a, 3), 0), INT64_MIN);
	assert_true(json_is(json_array_get(a, 4), JSON_DOUBLE));
	assert_string_equal(json_string_value(json_array_get(a, 5)), "x");
	const char *key;
	json *v;
	size_t seen = 0;
	json_object_foreach (j, i, key, v) {
		assert_non_null(v);
		seen++;
		if (i == 0)
			assert_string_equal(key, "b");
	}
	assert_int_equal(seen, 3);
}

static void test_json_strings_keep_nul_and_unicode(void **state)
{
	_cleanup_json_ json *j =
	    parse_ok("[\"a\\u0000b\", \"caf\\u00e9 \\ud83d\\ude00\", \"\\n\\\"\"]");
	assert_int_equal(json_string_length(json_array_get(j, 0)), 3);
	assert_memory_equal(json_string_value(json_array_get(j, 0)), "a\0b", 3);
	assert_string_equal(json_string_value(json_array_get(j, 1)),
			    "caf\xc3\xa9 \xf0\x9f\x98\x80");
	_cleanup_free_ char *out = NULL;
	assert_int_equal(json_serialize(j, false, &out, NULL), 0);
	_cleanup_json_ json *back = parse_ok(out);
	assert_true(json_equal(j, back));
}

static void test_json_rejects_malformed_input(void **state)
{
	const char *bad[] = { "",	  "{",		"[1,]", "{\"a\"}", "nul", "[1] [2]",
			      "\"\xff\"", "{\"a\":1,}", "01",	"// c\n1", NULL };
	for (size_t i = 0; bad[i]; i++) {
		json *j = (json *)0x1;
		char *msg = NULL;
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), &j, &msg), -EINVAL);
		assert_ptr_equal(j, (json *)0x1);
		assert_non_null(msg);
		free(msg);
	}
}

static void test_json_depth_limit(void **state)
{
	char deep[1000];
	memset(deep, '[', 500);
	memset(deep + 500, ']', 500);
	json *j = NULL;
	char *msg = NULL;
	assert_int_equal(json_parse(deep, 1000, &j, &msg), -EINVAL);
	assert_non_null(strstr(msg, "nesting"));
	free(msg);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(json_parse(deep, 200, &j, NULL), 0);
	json_free(j);
}

static void test_json_build_set_replace_remove(void **state)
{
	_cleanup_json_ json *o = json_object();
	assert_int_equal(json_object_set_string(o, "name", "vxn"), 0);
	assert_int_equal(json_object_set_int(o, "n", 1), 0);
	assert_int_equal(json_object_set_int(o, "name", 2), 0); /* replace in place */
	assert_int_equal(json_object_length(o), 2);
	assert_int_equal(json_int_value(json_object_get(o, "name"), 0), 2);
	assert_true(json_object_remove(o, "name"));
	assert_false(json_object_remove(o, "name"));
	char *argv[] = { "sh", "-c", "echo 'a b'", NULL };
	assert_int_equal(json_object_set_take(o, "args", json_from_strv(argv)), 0);
	_cleanup_strv_ char **back = NULL;
	assert_int_equal(json_to_strv(json_object_get(o, "args"), &back), 0);
	assert_int_equal(strv_length(back), 3);
	assert_string_equal(back[2], "echo 'a b'");
	_cleanup_free_ char *pretty = NULL;
	assert_int_equal(json_serialize(o, true, &pretty, NULL), 0);
	assert_string_equal(pretty, "{\n  \"n\": 1,\n  \"args\": [\n    \"sh\",\n    \"-c\",\n"
				    "    \"echo 'a b'\"\n  ]\n}\n");
	/* type mismatches */
	assert_int_equal(json_to_strv(json_object_get(o, "n"), &back), -EINVAL);
	assert_null(json_object_get_string(o, "n"));
	assert_int_equal(json_array_append_take(o, json_null()), -EINVAL);
}

static void test_json_equal_ignores_key_order(void **state)
{
	_cleanup_json_ json *a = parse_ok("{\"x\":1,\"y\":[1,2]}");
	_cleanup_json_ json *b = parse_ok("{\"y\":[1,2],\"x\":1}");
	_cleanup_json_ json *c = parse_ok("{\"y\":[2,1],\"x\":1}");
	assert_true(json_equal(a, b));
	assert_false(json_equal(a, c));
	_cleanup_json_ json *d = json_copy(a);
	assert_true(json_equal(a, d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_roundtrip_preserves_order_and_types),
		cmocka_unit_test(test_json_strings_keep_nul_and_unicode),
		cmocka_unit_test(test_json_rejects_malformed_input),
		cmocka_unit_test(test_json_depth_limit),
		cmocka_unit_test(test_json_build_set_replace_remove),
		cmocka_unit_test(test_json_equal_ignores_key_order),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
