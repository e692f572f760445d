/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "core/private.h"

static void test_error_set_and_getters(void **state)
{
	vxn_error *err = NULL;
	int r = error_set(&err, VXN_EINVAL, 0, "bad reference '%s'", "UPPER");
	assert_int_equal(r, VXN_EINVAL);
	assert_non_null(err);
	assert_int_equal(vxn_error_code(err), VXN_EINVAL);
	assert_int_equal(vxn_error_errno(err), 0);
	assert_string_equal(vxn_error_message(err), "bad reference 'UPPER'");
	vxn_error_free(err);
}

static void test_error_first_error_wins(void **state)
{
	vxn_error *err = NULL;
	error_set(&err, VXN_ENOTFOUND, 0, "first");
	error_set(&err, VXN_EIO, 0, "second");
	assert_int_equal(vxn_error_code(err), VXN_ENOTFOUND);
	assert_string_equal(vxn_error_message(err), "first");
	vxn_error_free(err);
}

static void test_error_null_err_is_allowed(void **state)
{
	assert_int_equal(error_set(NULL, VXN_EIO, EIO, "x"), VXN_EIO);
	assert_int_equal(error_errno(NULL, -ENOENT, "open %s", "f"), VXN_ENOTFOUND);
	assert_int_equal(error_prefix(NULL, VXN_EIO, "ctx"), VXN_EIO);
	assert_int_equal(vxn_error_code(NULL), VXN_OK);
	assert_int_equal(vxn_error_errno(NULL), 0);
	assert_string_equal(vxn_error_message(NULL), "");
	vxn_error_free(NULL);
}

static void test_error_errno_maps_and_appends_strerror(void **state)
{
	vxn_error *err = NULL;
	int r = error_errno(&err, -EACCES, "open %s", "/x");
	assert_int_equal(r, VXN_EPERM);
	assert_int_equal(vxn_error_errno(err), EACCES);
	assert_string_equal(vxn_error_message(err), "open /x: Permission denied");
	vxn_error_free(err);
	assert_int_equal(status_from_errno(-ENOMEM), VXN_ENOMEM);
	assert_int_equal(status_from_errno(-EIO), VXN_EIO);
	assert_int_equal(status_from_errno(-ENOSPC), VXN_EIO);
	assert_int_equal(status_from_errno(-ETIMEDOUT), VXN_ETIMEDOUT);
}

static void test_error_prefix_adds_context_keeps_code(void **state)
{
	vxn_error *err = NULL;
	error_errno(&err, -ENOENT, "open blob");
	int r = error_prefix(&err, VXN_EIO, "image '%s'", "busybox");
	assert_int_equal(r, VXN_ENOTFOUND);
	error_prefix(&err, VXN_EIO, "run");
	assert_string_equal(vxn_error_message(err),
			    "run: image 'busybox': open blob: No such file or directory");
	assert_int_equal(vxn_error_errno(err), ENOENT);
	vxn_error_free(err);
}

static void test_error_status_names(void **state)
{
	assert_string_equal(vxn_status_name(VXN_EINVAL), "EINVAL");
	assert_string_equal(vxn_status_name(VXN_ECHILD), "ECHILD");
	assert_string_equal(vxn_status_name(-999), "EUNKNOWN");
	assert_string_equal(vxn_status_describe(VXN_ENOTFOUND), "not found");
	assert_string_equal(vxn_status_describe(12345), "unknown error");
	/* Every code from 0 down to the last known one has a distinct name. */
	for (int c = 0; c >= VXN_ECHILD; c--)
		for (int d = c - 1; d >= VXN_ECHILD; d--)
			assert_string_not_equal(vxn_status_name(c), vxn_status_name(d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set_and_getters),
		cmocka_unit_test(test_error_first_error_wins),
		cmocka_unit_test(test_error_null_err_is_allowed),
		cmocka_unit_test(test_error_errno_maps_and_appends_strerror),
		cmocka_unit_test(test_error_prefix_adds_context_keeps_code),
		cmocka_unit_test(test_error_status_names),
	};
	return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
