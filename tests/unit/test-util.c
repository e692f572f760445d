/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "shared/util.h"

static void test_util_path_join(void **state)
{
	const char *cases[][3] = {
		{ "/a", "b", "/a/b" },	     { "/a/", "/b", "/a/b" }, { "/", "b", "/b" },
		{ "/a//", "b/c", "/a/b/c" }, { "/a", "", "/a" },      { "rel", "x", "rel/x" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *p = path_join(cases[i][0], cases[i][1]);
		assert_string_equal(p, cases[i][2]);
	}
}

static void test_util_strings(void **state)
{
	char s[] = "  \t key = v \n";
	assert_string_equal(str_strip(s), "key = v");
	assert_true(str_startswith("sha256:ab", "sha256:"));
	assert_false(str_startswith("sha", "sha256:"));
	assert_true(str_endswith("layer.tar.gz", ".gz"));
	assert_false(str_endswith("z", ".gz"));
	_cleanup_strv_ char **v = NULL;
	assert_int_equal(strv_push(&v, "a"), 0);
	assert_int_equal(strv_push(&v, "b"), 0);
	assert_int_equal(strv_length(v), 2);
	assert_true(strv_contains(v, "b"));
	_cleanup_strv_ char **c = NULL;
	assert_int_equal(strv_copy(&c, v), 0);
	assert_string_equal(c[1], "b");
	assert_null(c[2]);
}

static void test_util_files_atomic_write_and_rm_rf(void **state)
{
	char dir[] = "/tmp/vxn-test-util-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *deep = path_join(dir, "a/b/c");
	assert_int_equal(mkdir_p(deep, 0755), 0);
	assert_int_equal(mkdir_p(deep, 0755), 0);
	_cleanup_free_ char *f = path_join(deep, "f");
	assert_int_equal(write_file_atomic(f, "hello", 5, 0640), 0);
	assert_int_equal(write_file_atomic(f, "bye", 3, 0640), 0);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	assert_int_equal(read_file(f, 1 << 20, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(data, "bye");
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	free(data);
	data = NULL;
	assert_int_equal(read_file(f, 2, &data, &len), -EFBIG);
	/* no temp files left beside it */
	_cleanup_free_ char *cmd = str_printf("test $(ls -A %s | wc -l) -eq 1", deep);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdir_p(f, 0755), -ENOTDIR);
	assert_int_equal(rm_rf(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_path_join),
		cmocka_unit_test(test_util_strings),
		cmocka_unit_test(test_util_files_atomic_write_and_rm_rf),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
