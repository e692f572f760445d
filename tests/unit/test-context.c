/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs the headers above */
#include <cmocka.h>

#include "core/private.h"
#include "shared/util.h"

static char tmpdir[] = "/tmp/vxn-test-ctx-XXXXXX";

static const char *const env_vars[] = { "VXN_CONFIG",	"VXN_STATE_ROOT", "VXN_DATA_ROOT",
					"VXN_LOG_ROOT", "VXN_LOG_LEVEL",  NULL };

static int setup(void **state)
{
	for (const char *const *v = env_vars; *v; v++)
		unsetenv(*v);
	return 0;
}

static char *write_conf(const char *name, const char *text)
{
	char *p = path_join(tmpdir, name);
	assert_non_null(p);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static void test_context_defaults_without_file(void **state)
{
	vxn_ctx *ctx = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE, NULL), 0);
	if (geteuid() == 0) {
		assert_string_equal(vxn_ctx_state_root(ctx), "/run/vxn");
		assert_string_equal(vxn_ctx_data_root(ctx), "/var/lib/vxn");
		assert_string_equal(vxn_ctx_log_root(ctx), "/var/log/vxn");
	} else {
		assert_true(vxn_ctx_state_root(ctx)[0] == '/');
	}
	assert_string_equal(vxn_ctx_get_origin(ctx, "state_root"), "default");
	assert_null(vxn_ctx_config_file(ctx));
	assert_int_equal(vxn_ctx_log_level(ctx), VXN_LOG_WARNING);
	vxn_ctx_free(ctx);
	vxn_ctx_free(NULL);
}

static void test_context_file_then_env_then_set(void **state)
{
	_cleanup_free_ char *p = write_conf("good.conf", "# comment\n\n"
							 "state_root = /srv/state\n"
							 "  data_root=\"/srv/data\"  \n"
							 "log_level = info\n");
	setenv("VXN_DATA_ROOT", "/env/data", 1);
	vxn_ctx *ctx = NULL;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, p, 0, &err), 0);
	assert_null(err);
	assert_string_equal(vxn_ctx_config_file(ctx), p);
	assert_string_equal(vxn_ctx_state_root(ctx), "/srv/state");
	assert_string_equal(vxn_ctx_get_origin(ctx, "state_root"), "file");
	assert_string_equal(vxn_ctx_data_root(ctx), "/env/data");
	assert_string_equal(vxn_ctx_get_origin(ctx, "data_root"), "env");
	assert_int_equal(vxn_ctx_log_level(ctx), VXN_LOG_INFO);
	assert_int_equal(vxn_ctx_set(ctx, "state_root", "/flag/state", &err), 0);
	assert_string_equal(vxn_ctx_get(ctx, "state_root"), "/flag/state");
	assert_string_equal(vxn_ctx_get_origin(ctx, "state_root"), "set");
	vxn_ctx_free(ctx);
	unsetenv("VXN_DATA_ROOT");
}

static void test_context_vxn_config_env_names_file(void **state)
{
	_cleanup_free_ char *p = write_conf("env.conf", "log_root=/l\n");
	setenv("VXN_CONFIG", p, 1);
	vxn_ctx *ctx = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, NULL, 0, NULL), 0);
	assert_string_equal(vxn_ctx_log_root(ctx), "/l");
	vxn_ctx_free(ctx);
	unsetenv("VXN_CONFIG");
}

static void expect_config_error(const char *text, const char *expect_suffix)
{
	_cleanup_free_ char *p = write_conf("bad.conf", text);
	vxn_ctx *ctx = (vxn_ctx *)0x1;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, p, 0, &err), VXN_ECONFIG);
	assert_ptr_equal(ctx, (vxn_ctx *)0x1); /* out untouched on failure */
	_cleanup_free_ char *want = str_printf("%s:%s", p, expect_suffix);
	assert_string_equal(vxn_error_message(err), want);
	assert_null(strchr(vxn_error_message(err), '\n'));
	vxn_error_free(err);
}

static void test_context_bad_lines_name_file_and_line(void **state)
{
	expect_config_error("state_root=/a\nthis is not a setting\n",
			    "2: expected 'key = value', got 'this is not a setting'");
	expect_config_error("\n\n\nnope = 1\n", "4: unknown key 'nope'");
	expect_config_error("data_root = relative/dir\n",
			    "1: data_root: 'relative/dir' must be an absolute path");
	expect_config_error("log_level = loud\n",
			    "1: log_level: 'loud' must be error, warning, info or debug");
}

static void test_context_missing_explicit_file_fails(void **state)
{
	vxn_ctx *ctx = NULL;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, "/nonexistent/vxn.conf", 0, &err), VXN_ECONFIG);
	assert_int_equal(vxn_error_errno(err), ENOENT);
	assert_string_equal(vxn_error_message(err),
			    "config file /nonexistent/vxn.conf: No such file or directory");
	vxn_error_free(err);
}

static void test_context_bad_env_value_names_variable(void **state)
{
	setenv("VXN_STATE_ROOT", "not/absolute", 1);
	vxn_ctx *ctx = NULL;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE, &err), VXN_ECONFIG);
	assert_string_equal(vxn_error_message(err),
			    "environment VXN_STATE_ROOT='not/absolute': must be an absolute path");
	vxn_error_free(err);
	/* VXN_CTX_NO_ENV ignores it */
	assert_int_equal(vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE | VXN_CTX_NO_ENV, NULL), 0);
	vxn_ctx_free(ctx);
	unsetenv("VXN_STATE_ROOT");
}

static void test_context_set_rejects_unknown_and_invalid(void **state)
{
	vxn_ctx *ctx = NULL;
	vxn_error *err = NULL;
	assert_int_equal(vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE, NULL), 0);
	assert_int_equal(vxn_ctx_set(ctx, "bogus", "x", &err), VXN_EINVAL);
	assert_string_equal(vxn_error_message(err), "unknown configuration key 'bogus'");
	vxn_error_free(err);
	err = NULL;
	assert_int_equal(vxn_ctx_set(ctx, "log_root", "x", &err), VXN_EINVAL);
	vxn_error_free(err);
	assert_null(vxn_ctx_get(ctx, "bogus"));
	assert_null(vxn_ctx_get_origin(ctx, "bogus"));
	const char *const *keys = vxn_ctx_keys();
	size_t n = 0;
	for (; keys[n]; n++)
		assert_non_null(vxn_ctx_get(ctx, keys[n]));
	assert_true(n >= 4);
	vxn_ctx_free(ctx);
}

struct captured {
	int calls;
	vxn_log_level last_level;
	char last[256];
};

static void capture(void *userdata, vxn_log_level level, const char *module, const char *msg)
{
	struct captured *c = userdata;
	c->calls++;
	c->last_level = level;
	snprintf(c->last, sizeof(c->last), "%s: %s", module, msg);
}

static void test_context_log_callback_filters_by_level(void **state)
{
	vxn_ctx *ctx = NULL;
	struct captured c = { 0 };
	assert_int_equal(vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE, NULL), 0);
	log_error(ctx, "test", "silent by default %d", 1);
	assert_int_equal(c.calls, 0);
	vxn_ctx_set_log(ctx, capture, &c, VXN_LOG_INFO);
	log_debug(ctx, "test", "filtered");
	assert_int_equal(c.calls, 0);
	log_info(ctx, "image", "pulled %s", "busybox");
	assert_int_equal(c.calls, 1);
	assert_string_equal(c.last, "image: pulled busybox");
	assert_int_equal(vxn_ctx_set(ctx, "log_level", "debug", NULL), 0);
	log_debug(ctx, "test", "now visible");
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.last_level, VXN_LOG_DEBUG);
	vxn_ctx_set_log(ctx, NULL, NULL, VXN_LOG_DEBUG);
	log_error(ctx, "test", "gone");
	assert_int_equal(c.calls, 2);
	vxn_ctx_free(ctx);
}

static void test_context_log_level_names(void **state)
{
	vxn_log_level l;
	assert_int_equal(vxn_log_level_parse("WARN", &l), 0);
	assert_int_equal(l, VXN_LOG_WARNING);
	assert_int_equal(vxn_log_level_parse("debug", &l), 0);
	assert_int_equal(l, VXN_LOG_DEBUG);
	assert_int_equal(vxn_log_level_parse("verbose", &l), VXN_EINVAL);
	assert_string_equal(vxn_log_level_name(VXN_LOG_ERROR), "error");
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_context_defaults_without_file, setup),
		cmocka_unit_test_setup(test_context_file_then_env_then_set, setup),
		cmocka_unit_test_setup(test_context_vxn_config_env_names_file, setup),
		cmocka_unit_test_setup(test_context_bad_lines_name_file_and_line, setup),
		cmocka_unit_test_setup(test_context_missing_explicit_file_fails, setup),
		cmocka_unit_test_setup(test_context_bad_env_value_names_variable, setup),
		cmocka_unit_test_setup(test_context_set_rejects_unknown_and_invalid, setup),
		cmocka_unit_test_setup(test_context_log_callback_filters_by_level, setup),
		cmocka_unit_test(test_context_log_level_names),
	};
	int r = cmocka_run_group_tests_name("context", tests, NULL, NULL);
	rm_rf(tmpdir);
	return r;
}
