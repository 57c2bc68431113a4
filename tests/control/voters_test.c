/*
 * controller_quorum_voters: what sl_config_voters accepts and refuses, and
 * the replication defaults that follow from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proto/config.h"

static void test_three_voters(void **state)
{
	(void)state;
	struct sl_voter v[SL_VOTERS_MAX];
	char err[256];
	int n = sl_config_voters("1@127.0.0.1:9094,2@127.0.0.1:9194,"
				 "3@10.0.0.3:9294", v, SL_VOTERS_MAX, err,
				 sizeof(err));
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, 1);
	assert_string_equal(v[0].host, "127.0.0.1");
	assert_int_equal(v[0].port, 9094);
	assert_int_equal(v[2].id, 3);
	assert_string_equal(v[2].host, "10.0.0.3");
	assert_int_equal(v[2].port, 9294);
	assert_int_equal(sl_config_voters("", v, SL_VOTERS_MAX, err,
					  sizeof(err)), 0);
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"1@127.0.0.1",            /* no port */
		"127.0.0.1:9094",         /* no id */
		"0@127.0.0.1:9094",       /* id 0 */
		"65536@127.0.0.1:9094",   /* id too large */
		"1@127.0.0.1:65535",      /* no room for port+1 */
		"1@localhost:9094",       /* not an address */
		"1@127.0.0.1:9094,1@127.0.0.1:9194", /* id twice */
		"1@127.0.0.1:9094,",      /* trailing comma */
		",1@127.0.0.1:9094",      /* empty item */
		"x@127.0.0.1:9094",
		"1@127.0.0.1:94x",
	};
	struct sl_voter v[SL_VOTERS_MAX];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		assert_int_equal(sl_config_voters(bad[i], v, SL_VOTERS_MAX,
						  err, sizeof(err)), -22);
		assert_true(strlen(err) > 0);
	}
	char err[256];
	assert_int_equal(sl_config_voters("1@1.1.1.1:1,2@1.1.1.1:3", v, 1, err,
					  sizeof(err)), -22);
}

static void test_defaults(void **state)
{
	(void)state;
	struct sl_config c;
	char err[512];
	sl_config_defaults(&c);
	assert_int_equal(sl_config_default_rf(&c), 1);
	assert_int_equal(sl_config_default_min_isr(&c), 1);
	assert_int_equal(sl_config_set(&c, "controller_quorum_voters="
				       "1@127.0.0.1:9094,2@127.0.0.1:9194",
				       err, sizeof(err)), 0);
	assert_int_equal(sl_config_default_rf(&c), 2);
	assert_int_equal(sl_config_default_min_isr(&c), 1);
	assert_int_equal(sl_config_set(&c, "controller_quorum_voters="
				       "1@127.0.0.1:9094,2@127.0.0.1:9194,"
				       "3@127.0.0.1:9294,4@127.0.0.1:9394",
				       err, sizeof(err)), 0);
	assert_int_equal(sl_config_default_rf(&c), 3);
	assert_int_equal(sl_config_default_min_isr(&c), 2);
	assert_int_equal(sl_config_set(&c, "min_insync_replicas=3", err,
				       sizeof(err)), 0);
	assert_int_equal(sl_config_default_min_isr(&c), 3);
	assert_int_equal(sl_config_set(&c, "controller_quorum_voters=1@x:1",
				       err, sizeof(err)), -22);
	assert_non_null(strstr(err, "controller_quorum_voters"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_voters),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
