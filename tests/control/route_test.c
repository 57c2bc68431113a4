/*
 * control/route.c's pure parts: topic patterns (`*` one word, `#` zero
 * or more) and the rule text, each refusal with its reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control/route.h"
#include "proto/native.h"

static bool m(const char *pat, const char *name)
{
	return sl_route_pattern_match(pat, name, strlen(name));
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(m("orders", "orders"));
	assert_false(m("orders", "orders.eu"));
	assert_false(m("orders.eu", "orders"));
	assert_true(m("orders.*", "orders.eu"));
	assert_false(m("orders.*", "orders"));
	assert_false(m("orders.*", "orders.eu.web"));
	assert_true(m("orders.*.web", "orders.eu.web"));
	assert_false(m("orders.*.web", "orders.eu.shop"));
	assert_true(m("orders.#", "orders"));
	assert_true(m("orders.#", "orders.eu"));
	assert_true(m("orders.#", "orders.eu.web.x"));
	assert_false(m("orders.#", "order"));
	assert_false(m("orders.#", "ordersx.eu"));
	assert_true(m("#", "anything.at.all"));
	assert_true(m("#", "x"));
	assert_true(m("#.web", "web"));
	assert_true(m("#.web", "orders.eu.web"));
	assert_false(m("#.web", "orders.eu.web.x"));
	assert_true(m("a.#.z", "a.z"));
	assert_true(m("a.#.z", "a.b.c.z"));
	assert_false(m("a.#.z", "a.b.c"));
	assert_true(m("*.#", "a"));
	assert_false(m("*.*", "a"));
	assert_true(m("#.#", "a.b"));
	assert_true(m("*", "a-b_c"));
	/* internal topics: only a pattern that names their first word */
	assert_false(m("#", "__consumer_offsets"));
	assert_false(m("*", "__consumer_offsets"));
	assert_false(m("#", "_sl.reply.0123"));
	assert_false(m("#.reply.*", "_sl.reply.0123"));
	assert_true(m("_sl.reply.*", "_sl.reply.0123"));
	assert_true(m("__consumer_offsets", "__consumer_offsets"));
	/* words match whole: no prefix match inside a word */
	assert_false(m("ord*", "orders"));
	assert_false(m("orders.e", "orders.eu"));
	/* empty words (names may have "..") */
	assert_true(m("a.*.b", "a..b"));
	assert_false(m("a.b", "a..b"));
	/* many `#`s stay cheap (a table, not backtracking) */
	char pat[200] = "", name[201];
	for (int i = 0; i < 40; i++)
		strcat(pat, i ? ".#" : "#");
	strcat(pat, ".z");
	memset(name, 'a', 199);
	for (int i = 1; i < 199; i += 2)
		name[i] = '.';
	name[199] = 0; /* 100 words of "a" */
	assert_false(m(pat, name));
	name[198] = 'z';
	assert_true(m(pat, name));
	/* a name of dots only: 201 empty words, still words */
	char dots[SN_NAME_MAX + 1];
	memset(dots, '.', SN_NAME_MAX);
	dots[SN_NAME_MAX] = 0;
	assert_true(m("#", dots));
	assert_true(m("#.*", dots));
	assert_false(m("*", dots));
}

static int parse(const char *text, char *err, size_t errlen)
{
	return sl_route_parse(text, strlen(text), err, errlen);
}

static void test_rules(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(parse("from=orders.* to=eu", err, sizeof(err)), 0);
	assert_int_equal(parse("from=orders.# to=all header:a=1 header:b any direct",
			       err, sizeof(err)), 0);
	assert_int_equal(parse("  from=x   to=y  copy all ", err,
			       sizeof(err)), 0);
	struct {
		const char *text, *why;
	} bad[] = {
		{"to=y", "needs from=PATTERN and to=TOPIC"},
		{"from=x", "needs from=PATTERN and to=TOPIC"},
		{"", "needs from=PATTERN and to=TOPIC"},
		{"from=x to=a/b", "not a topic name"},
		{"from=x to=y bogus", "'bogus' is not a word of a rule"},
		{"from=x to=y header:", "'header:' is not a word"},
		{"from=x to=y header:=v", "is not a word"},
		{"from=a$b to=y", "topic name characters"},
		{"from=orders.# to=orders.copy", "would route its own copies"},
		{"from=ord* to=y", "stand alone as a word"},
		{"from=x\nto=y", "one line of printable text"},
		{"from=x to=y\r", "one line of printable text"},
		{"from=a.#b to=y", "stand alone as a word"},
		{"from=# to=y", "would route its own copies"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse(bad[i].text, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("'%s': '%s', want '%s'", bad[i].text, err,
				 bad[i].why);
	}
	char many[2048] = "from=x to=y";
	for (int i = 0; i < 17; i++)
		strcat(many, " header:k");
	assert_int_equal(parse(many, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 16 header conditions"));
	char longpat[400] = "from=";
	memset(longpat + 5, 'a', 250);
	strcpy(longpat + 255, " to=y");
	assert_int_equal(parse(longpat, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 249 bytes"));
	char nul[] = "from=x to=y\0junk";
	assert_int_equal(sl_route_parse(nul, sizeof(nul) - 1, err,
					sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "byte 11 is 0x00"));
	char toolong[2100];
	memset(toolong, 'x', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = 0;
	assert_int_equal(parse(toolong, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 2048 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
