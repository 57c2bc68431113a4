/*
 * telemetry unit tests: reply building and JSON (escaping, nesting, limits,
 * truncation at every size), the command registry, and the server on a
 * temporary socket queried by tel_query and by raw SOCK_SEQPACKET clients
 * (hello, unknown commands, params, many clients, garbage, oversized and
 * empty packets, clients that never read, stale sockets).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/telemetry/telemetry.h"

/* ---- a strict JSON validator (RFC 8259 syntax; enough for the tests) ---- */

static const char *jv_value(const char *p, int depth);

static const char *jv_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *jv_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c == '\0' || c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) ||
					    p[i] == '\0')
						return NULL;
				p += 5;
			} else if (*p != '\0' && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
		} else {
			p++;
		}
	}
	return p + 1;
}

static const char *jv_number(const char *p)
{
	const char *s;

	if (*p == '-')
		p++;
	s = p;
	while (*p >= '0' && *p <= '9')
		p++;
	return p == s ? NULL : p;
}

static const char *jv_value(const char *p, int depth)
{
	char close;

	if (depth > 8)
		return NULL;
	p = jv_ws(p);
	if (*p == '"')
		return jv_string(p);
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	if (*p != '{' && *p != '[')
		return jv_number(p);
	close = *p == '{' ? '}' : ']';
	p = jv_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = jv_string(jv_ws(p));
			if (p == NULL)
				return NULL;
			p = jv_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = jv_value(p, depth + 1);
		if (p == NULL)
			return NULL;
		p = jv_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static bool json_valid(const char *s)
{
	const char *end = jv_value(s, 0);
	return end != NULL && *jv_ws(end) == '\0';
}

/* ---- helpers ---- */

static struct tel_data *D; /* a scratch reply, 70 KiB: not on the stack */
static char out[TEL_MAX_OUTPUT_LEN + 1];

static int setup(void **state)
{
	D = tel_data_alloc();
	return D == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	tel_data_free(D);
	D = NULL;
	return 0;
}

static void expect_json(const struct tel_data *d, const char *cmd,
			const char *want)
{
	int trunc = -1;
	int n = tel_data_to_json(d, cmd, out, sizeof(out), &trunc);

	if (n < 0 || strcmp(out, want) != 0)
		fail_msg("json %d:\n got  %s\n want %s", n, out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(trunc, 0);
	assert_true(json_valid(out));
}

/* ---- building and JSON ---- */

static void test_json_scalars(void **state)
{
	tel_data_release(D);
	expect_json(D, "/x", "{\"/x\":null}");

	assert_int_equal(tel_data_start_dict(D), 0);
	expect_json(D, "/x", "{\"/x\":{}}");
	assert_int_equal(tel_data_add_dict_u64(D, "a", UINT64_MAX), 0);
	assert_int_equal(tel_data_add_dict_int(D, "b_2", INT64_MIN), 0);
	assert_int_equal(tel_data_add_dict_string(D, "c/d", "s"), 0);
	expect_json(D, "/x", "{\"/x\":{\"a\":18446744073709551615,"
			     "\"b_2\":-9223372036854775808,\"c/d\":\"s\"}}");
	expect_json(D, NULL, "{\"a\":18446744073709551615,"
			     "\"b_2\":-9223372036854775808,\"c/d\":\"s\"}");

	assert_int_equal(tel_data_start_array(D, TEL_U64_VAL), 0);
	expect_json(D, "/y", "{\"/y\":[]}");
	assert_int_equal(tel_data_add_array_u64(D, 1), 0);
	assert_int_equal(tel_data_add_array_u64(D, 2), 0);
	expect_json(D, "/y", "{\"/y\":[1,2]}");
	assert_int_equal(tel_data_add_array_int(D, 3), -EINVAL);
	assert_int_equal(tel_data_add_array_string(D, "x"), -EINVAL);
	assert_int_equal(tel_data_add_dict_u64(D, "a", 1), -EINVAL);

	assert_int_equal(tel_data_start_array(D, TEL_INT_VAL), 0);
	assert_int_equal(tel_data_add_array_int(D, -7), 0);
	expect_json(D, "/z", "{\"/z\":[-7]}");

	assert_int_equal(tel_data_string(D, "hello"), 0);
	expect_json(D, "/s", "{\"/s\":\"hello\"}");
}

static void test_json_escaping(void **state)
{
	/* quote, backslash, short escapes, other controls, DEL, valid
	 * 2/3/4-byte UTF-8, a stray continuation byte, 0xff, an overlong
	 * '/' (c0 af), a surrogate (ed a0 80), a cut-off sequence */
	const char *in = "q\"b\\n\nt\tr\rb\bf\f\x01\x1f\x7f"
			 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			 "\x80\xff\xc0\xaf\xed\xa0\x80\xe2\x82";
	const char *want = "\"q\\\"b\\\\n\\nt\\tr\\rb\\bf\\f\\u0001\\u001f"
			   "\\u007f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			   "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
			   "\\ufffd\\ufffd\"";

	assert_int_equal(tel_data_string(D, in), 0);
	expect_json(D, NULL, want);

	assert_int_equal(tel_data_start_dict(D), 0);
	assert_int_equal(tel_data_add_dict_string(D, "k", "a\"b"), 0);
	expect_json(D, "/cmd\"with\\junk\x02", "{\"/cmd\\\"with\\\\junk\\u0002\":"
						"{\"k\":\"a\\\"b\"}}");

	assert_int_equal(tel_data_start_array(D, TEL_STRING_VAL), 0);
	assert_int_equal(tel_data_add_array_string(D, "\n"), 0);
	assert_int_equal(tel_data_add_array_string(D, ""), 0);
	expect_json(D, NULL, "[\"\\n\",\"\"]");
}

static void test_names_and_limits(void **state)
{
	char big[TEL_MAX_SINGLE_STRING_LEN + 10];

	assert_int_equal(tel_data_start_dict(D), 0);
	/* DPDK's name rule: [A-Za-z0-9_/] */
	assert_int_equal(tel_data_add_dict_u64(D, "orders-0", 1), -EINVAL);
	assert_int_equal(tel_data_add_dict_u64(D, "a b", 1), -EINVAL);
	assert_int_equal(tel_data_add_dict_u64(D, "a\"", 1), -EINVAL);
	assert_int_equal(tel_data_add_dict_u64(D, "", 1), -EINVAL);
	assert_int_equal(tel_data_add_dict_u64(D, NULL, 1), -EINVAL);
	assert_int_equal(tel_data_add_dict_string(D, "a", NULL), -EINVAL);
	assert_int_equal(D->data_len, 0);

	/* too long: added, truncated, -E2BIG; cut on a UTF-8 boundary */
	memset(big, 'n', sizeof(big));
	big[TEL_MAX_STRING_LEN + 5] = '\0';
	assert_int_equal(tel_data_add_dict_u64(D, big, 1), -E2BIG);
	assert_int_equal(strlen(D->data.dict[0].name), TEL_MAX_STRING_LEN - 1);
	memset(big, 0, sizeof(big));
	for (int i = 0; i + 2 < TEL_MAX_STRING_LEN + 4; i += 2)
		memcpy(big + i, "\xc3\xa9", 2); /* é, 2 bytes */
	assert_int_equal(tel_data_add_dict_string(D, "v", big), -E2BIG);
	assert_int_equal(strlen(D->data.dict[1].value.sval),
			 TEL_MAX_STRING_LEN - 2); /* 126: no half é */
	assert_int_equal(tel_data_to_json(D, NULL, out, sizeof(out), NULL) > 0,
			 1);
	assert_true(json_valid(out));
	assert_null(strstr(out, "ufffd"));

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tel_data_string(D, big), -E2BIG);
	assert_int_equal(strlen(D->data.str), TEL_MAX_SINGLE_STRING_LEN - 1);

	/* full */
	assert_int_equal(tel_data_start_dict(D), 0);
	for (int i = 0; i < TEL_MAX_DICT_ENTRIES; i++)
		assert_int_equal(tel_data_add_dict_u64(D, "k", (uint64_t)i), 0);
	assert_int_equal(tel_data_add_dict_u64(D, "k", 1), -ENOSPC);
	assert_int_equal(tel_data_start_array(D, TEL_U64_VAL), 0);
	for (int i = 0; i < TEL_MAX_ARRAY_ENTRIES; i++)
		assert_int_equal(tel_data_add_array_u64(D, (uint64_t)i), 0);
	assert_int_equal(tel_data_add_array_u64(D, 1), -ENOSPC);

	assert_int_equal(tel_data_start_array(D, (enum tel_value_type)9),
			 -EINVAL);
	assert_int_equal(tel_data_start_dict(NULL), -EINVAL);
}

static void test_json_nesting(void **state)
{
	struct tel_data *arr = tel_data_alloc(), *dict = tel_data_alloc();
	struct tel_data *kept = tel_data_alloc(), *inner = tel_data_alloc();

	assert_non_null(arr);
	assert_non_null(dict);
	assert_non_null(kept);
	assert_non_null(inner);

	tel_data_start_array(arr, TEL_U64_VAL);
	tel_data_add_array_u64(arr, 5);
	tel_data_start_dict(dict);
	tel_data_add_dict_string(dict, "name", "orders-0");
	tel_data_add_dict_u64(dict, "end_offset", 42);
	tel_data_start_array(kept, TEL_STRING_VAL);
	tel_data_add_array_string(kept, "k");

	assert_int_equal(tel_data_start_dict(D), 0);
	assert_int_equal(tel_data_add_dict_container(D, "arr", arr, 0), 0);
	assert_int_equal(tel_data_add_dict_container(D, "part", dict, 0), 0);
	assert_int_equal(tel_data_add_dict_container(D, "kept", kept, 1), 0);
	expect_json(D, "/n", "{\"/n\":{\"arr\":[5],\"part\":{\"name\":"
			     "\"orders-0\",\"end_offset\":42},\"kept\":[\"k\"]}}");

	/* one level only, as DPDK 22.11 */
	assert_int_equal(tel_data_add_dict_container(inner, "x", kept, 1),
			 -EINVAL); /* inner is not started */
	tel_data_start_dict(inner);
	assert_int_equal(tel_data_add_dict_container(inner, "d", D, 1),
			 -ENOTSUP); /* D holds containers */
	assert_int_equal(tel_data_add_dict_container(D, "self", D, 1), -EINVAL);
	tel_data_string(inner, "str");
	assert_int_equal(tel_data_add_dict_container(D, "s", inner, 1),
			 -EINVAL);

	/* array of containers */
	tel_data_release(D); /* frees arr and dict, not kept */
	assert_int_equal(D->type, TEL_NULL);
	assert_int_equal(tel_data_start_array(D, TEL_CONTAINER), 0);
	assert_int_equal(tel_data_add_array_container(D, kept, 1), 0);
	tel_data_start_dict(inner);
	tel_data_add_dict_int(inner, "i", -1);
	assert_int_equal(tel_data_add_array_container(D, inner, 0), 0);
	expect_json(D, NULL, "[[\"k\"],{\"i\":-1}]");
	tel_data_start_array(arr = tel_data_alloc(), TEL_CONTAINER);
	assert_int_equal(tel_data_add_array_container(arr, D, 1), -ENOTSUP);
	tel_data_free(arr);
	tel_data_release(D); /* frees inner */
	tel_data_free(kept);
}

/* Every cap from 1 byte up: either -ENOSPC (tiny caps) or valid JSON
 * within the cap, whole entries only, flagged truncated until it fits. */
static void test_json_truncation(void **state)
{
	static char small[4096];
	struct tel_data *c = tel_data_alloc();
	int full, n, trunc;

	tel_data_start_dict(D);
	tel_data_add_dict_string(D, "s", "ab\"c\n\xc3\xa9");
	tel_data_add_dict_u64(D, "u", 123456789);
	tel_data_start_array(c, TEL_STRING_VAL);
	for (int i = 0; i < 20; i++)
		tel_data_add_array_string(c, "\x01xyz");
	tel_data_add_dict_container(D, "arr", c, 0);
	tel_data_add_dict_int(D, "last", -5);

	full = tel_data_to_json(D, "/t", small, sizeof(small), &trunc);
	assert_true(full > 0);
	assert_int_equal(trunc, 0);
	for (size_t cap = 1; cap <= (size_t)full + 1; cap++) {
		memset(small, 'Z', sizeof(small));
		n = tel_data_to_json(D, "/t", small, cap, &trunc);
		if (n == -ENOSPC) {
			assert_true(cap < sizeof("{\"/t\":null}"));
			assert_int_equal(small[0], '\0');
			continue;
		}
		assert_true(n >= 0 && (size_t)n < cap);
		assert_int_equal(small[n], '\0');
		assert_int_equal(small[cap], 'Z'); /* never past the cap */
		if (!json_valid(small))
			fail_msg("cap %zu: invalid JSON %s", cap, small);
		assert_int_equal(trunc, (size_t)n != (size_t)full);
		assert_int_equal(strncmp(small, "{\"/t\":", 6), 0);
	}
	tel_data_release(D);

	/* the largest reply: 256 entries of 127 bytes, escaped 6x */
	tel_data_start_dict(D);
	char val[TEL_MAX_STRING_LEN];
	memset(val, '\x01', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < TEL_MAX_DICT_ENTRIES; i++)
		tel_data_add_dict_string(D, "k", val);
	n = tel_data_to_json(D, "/big", out, TEL_MAX_OUTPUT_LEN, &trunc);
	assert_true(n > 0 && n < TEL_MAX_OUTPUT_LEN);
	assert_int_equal(trunc, 1);
	assert_true(json_valid(out));
	assert_true(n > TEL_MAX_OUTPUT_LEN - 800); /* filled, not given up */
}

/* ---- commands ---- */

static int cb_echo(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_dict(d);
	tel_data_add_dict_string(d, "cmd", cmd);
	if (params != NULL)
		tel_data_add_dict_string(d, "params", params);
	return 0;
}

static int cb_fail(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_dict(d);
	return -EIO;
}

static int cb_arg(const char *cmd, const char *params, void *arg,
		  struct tel_data *d)
{
	tel_data_start_dict(d);
	tel_data_add_dict_u64(d, "value", *(uint64_t *)arg);
	return 0;
}

/* Makes a reply too large for max_output_len. */
static int cb_huge(const char *cmd, const char *params, struct tel_data *d)
{
	char v[TEL_MAX_STRING_LEN];

	memset(v, 'h', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	tel_data_start_array(d, TEL_STRING_VAL);
	for (int i = 0; i < TEL_MAX_ARRAY_ENTRIES; i++)
		tel_data_add_array_string(d, v);
	return 0;
}

static uint64_t arg_value = 77;

static void register_test_cmds(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	assert_int_equal(tel_register_cmd("/test/echo", cb_echo,
					  "Echoes cmd and params"), 0);
	assert_int_equal(tel_register_cmd("/test/fail", cb_fail, NULL), 0);
	assert_int_equal(tel_register_cmd("/test/huge", cb_huge, "big"), 0);
	assert_int_equal(tel_register_cmd_arg("/test/arg", cb_arg, &arg_value,
					      "arg"), 0);
}

static void test_registry(void **state)
{
	char long_path[TEL_MAX_CMD_LEN + 1];
	char long_help[TEL_MAX_HELP_LEN + 1];

	register_test_cmds();
	assert_int_equal(tel_register_cmd("/test/echo", cb_echo, "x"), -EEXIST);
	assert_int_equal(tel_register_cmd("/", cb_echo, "x"), -EEXIST);
	assert_int_equal(tel_register_cmd("noslash", cb_echo, "x"), -EINVAL);
	assert_int_equal(tel_register_cmd("/a,b", cb_echo, "x"), -EINVAL);
	assert_int_equal(tel_register_cmd("/a-b", cb_echo, "x"), -EINVAL);
	assert_int_equal(tel_register_cmd("/ok", NULL, "x"), -EINVAL);
	assert_int_equal(tel_register_cmd(NULL, cb_echo, "x"), -EINVAL);
	memset(long_path, 'p', sizeof(long_path));
	long_path[0] = '/';
	long_path[TEL_MAX_CMD_LEN] = '\0';
	assert_int_equal(tel_register_cmd(long_path, cb_echo, "x"), -EINVAL);
	long_path[TEL_MAX_CMD_LEN - 1] = '\0'; /* 55 bytes: fits */
	assert_int_equal(tel_register_cmd(long_path, cb_echo, "x"), 0);
	memset(long_help, 'h', sizeof(long_help));
	long_help[TEL_MAX_HELP_LEN] = '\0';
	assert_int_equal(tel_register_cmd("/test/lh", cb_echo, long_help),
			 -EINVAL);

	/* "/" lists everything, sorted, built-ins included */
	assert_true(tel_handle_request("/", out, sizeof(out)) > 0);
	assert_true(json_valid(out));
	assert_non_null(strstr(out, "{\"/\":[\"/\",\"/help\",\"/info\","));
	assert_non_null(strstr(out, "\"/test/arg\",\"/test/echo\","
				    "\"/test/fail\",\"/test/huge\""));

	assert_true(tel_handle_request("/help,/test/echo", out, sizeof(out)) >
		    0);
	assert_string_equal(out, "{\"/help\":{\"/test/echo\":"
				 "\"Echoes cmd and params\"}}");
	tel_handle_request("/help,/test/fail", out, sizeof(out));
	assert_string_equal(out, "{\"/help\":{\"/test/fail\":\"\"}}");
	tel_handle_request("/help,/nope", out, sizeof(out));
	assert_string_equal(out, "{\"/help\":null}");
	tel_handle_request("/help", out, sizeof(out));
	assert_string_equal(out, "{\"/help\":null}");

	tel_handle_request("/info", out, sizeof(out));
	assert_true(json_valid(out));
	assert_non_null(strstr(out, "\"max_output_len\":16384"));

	tel_handle_request("/test/echo,orders-0,x y", out, sizeof(out));
	assert_string_equal(out, "{\"/test/echo\":{\"cmd\":\"/test/echo\","
				 "\"params\":\"orders-0,x y\"}}");
	tel_handle_request("/test/echo,", out, sizeof(out));
	assert_string_equal(out, "{\"/test/echo\":{\"cmd\":\"/test/echo\"}}");
	tel_handle_request("/test/echo\n", out, sizeof(out));
	assert_string_equal(out, "{\"/test/echo\":{\"cmd\":\"/test/echo\"}}");
	tel_handle_request("/test/fail", out, sizeof(out));
	assert_string_equal(out, "{\"/test/fail\":null}");
	tel_handle_request("/test/arg", out, sizeof(out));
	assert_string_equal(out, "{\"/test/arg\":{\"value\":77}}");
	tel_handle_request("/nope,p", out, sizeof(out));
	assert_string_equal(out, "{\"/nope\":null}");
	tel_handle_request("garbage\"\x01\xff", out, sizeof(out));
	assert_string_equal(out, "{\"garbage\\\"\\u0001\\ufffd\":null}");
	tel_handle_request("", out, sizeof(out));
	assert_string_equal(out, "{\"\":null}");

	assert_true(tel_handle_request("/test/huge", out, TEL_MAX_OUTPUT_LEN) >
		    TEL_MAX_OUTPUT_LEN - 200);
	assert_true(json_valid(out));

	/* the bridge's view */
	assert_int_equal(tel_run_cb("/nope", NULL, D), -ENOENT);
	assert_int_equal(tel_run_cb("/test/echo", "p", D), 0);
	assert_int_equal(D->type, TEL_DICT);
	assert_int_equal(D->data_len, 2);
}

static int count_cmds(const char *path, const char *help, void *arg)
{
	(*(int *)arg)++;
	return strcmp(path, "/test/arg") == 0 ? 7 : 0; /* stops there */
}

static void test_for_each(void **state)
{
	int n = 0;

	register_test_cmds();
	assert_int_equal(tel_for_each_cmd(count_cmds, &n), 7);
	assert_true(n >= 4); /* "/", "/help", "/info", ..., "/test/arg" */
}

/* ---- the server ---- */

static char sock_path[PATH_MAX];
static char base_dir[256];

static void make_paths(void)
{
	const char *tmp = getenv("SLUICE_TEST_TMPDIR");

	snprintf(base_dir, sizeof(base_dir), "%s/tel-unit-%d",
		 tmp != NULL ? tmp : "/tmp", (int)getpid());
	/* parents that do not exist yet: the server makes them */
	snprintf(sock_path, sizeof(sock_path), "%s/a/b/tel.sock", base_dir);
	assert_true(strlen(sock_path) < sizeof(((struct sockaddr_un *)0)->sun_path));
}

static void remove_paths(void)
{
	char p[PATH_MAX];

	unlink(sock_path);
	snprintf(p, sizeof(p), "%s/a/b", base_dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/a", base_dir);
	rmdir(p);
	rmdir(base_dir);
}

/* A raw client: connected, hello read into hello (if not NULL). */
static int raw_connect(char *hello, size_t cap)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1); /* fits: make_paths */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (hello != NULL) {
		ssize_t n = recv(fd, hello, cap - 1, 0);
		assert_true(n > 0);
		hello[n] = '\0';
	}
	return fd;
}

static ssize_t raw_cmd(int fd, const void *req, size_t len, char *reply,
		       size_t cap)
{
	ssize_t n;

	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno;
	n = recv(fd, reply, cap - 1, 0);
	if (n >= 0)
		reply[n] = '\0';
	return n;
}

static int server_setup(void **state)
{
	setup(state);
	register_test_cmds();
	make_paths();
	assert_int_equal(tel_server_start(sock_path, "sluice test \"1\""), 0);
	return 0;
}

static int server_teardown(void **state)
{
	struct stat st;

	tel_server_stop();
	assert_int_equal(stat(sock_path, &st), -1); /* removed */
	remove_paths();
	return teardown(state);
}

static void test_server_hello_and_query(void **state)
{
	char hello[1024], want[256];
	int fd, n;

	fd = raw_connect(hello, sizeof(hello));
	snprintf(want, sizeof(want), "{\"version\":\"sluice test \\\"1\\\"\","
		 "\"pid\":%d,\"max_output_len\":16384}", (int)getpid());
	assert_string_equal(hello, want);
	assert_true(json_valid(hello));

	assert_true(raw_cmd(fd, "/nope", 5, out, sizeof(out)) > 0);
	assert_string_equal(out, "{\"/nope\":null}");
	assert_true(raw_cmd(fd, "/test/echo,a,b", 14, out, sizeof(out)) > 0);
	assert_string_equal(out, "{\"/test/echo\":{\"cmd\":\"/test/echo\","
				 "\"params\":\"a,b\"}}");
	assert_true(raw_cmd(fd, "/info", 5, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "\"version\":\"sluice test \\\"1\\\"\""));
	close(fd);

	n = tel_query(sock_path, "/test/arg", out, sizeof(out));
	assert_int_equal(n, strlen("{\"/test/arg\":{\"value\":77}}"));
	assert_string_equal(out, "{\"/test/arg\":{\"value\":77}}");
	n = tel_query(sock_path, "/", out, sizeof(out));
	assert_true(n > 0 && json_valid(out));

	/* the largest reply fits max_output_len and tel_query's buffer */
	n = tel_query(sock_path, "/test/huge", out, sizeof(out));
	assert_true(n > TEL_MAX_OUTPUT_LEN - 200 && n < TEL_MAX_OUTPUT_LEN);
	assert_true(json_valid(out));
	n = tel_query(sock_path, "/test/huge", out, 100);
	assert_int_equal(n, -EMSGSIZE);
	assert_int_equal(strlen(out), 99);

	assert_int_equal(tel_query(sock_path, "", out, sizeof(out)), -EINVAL);
	assert_int_equal(tel_query("/nonexistent/x.sock", "/", out, sizeof(out)),
			 -ENOENT);
}

static void test_server_many_clients(void **state)
{
	int fds[TEL_MAX_CLIENTS + 1];
	char hello[1024];
	ssize_t n;

	for (int i = 0; i < TEL_MAX_CLIENTS; i++)
		fds[i] = raw_connect(hello, sizeof(hello));
	/* one too many: accepted and closed without a hello */
	fds[TEL_MAX_CLIENTS] = raw_connect(NULL, 0);
	n = recv(fds[TEL_MAX_CLIENTS], hello, sizeof(hello), 0);
	assert_int_equal(n, 0);
	close(fds[TEL_MAX_CLIENTS]);

	/* every client is answered, interleaved */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < TEL_MAX_CLIENTS; i++) {
			char req[32];
			int len = snprintf(req, sizeof(req),
					   "/test/echo,%d", i);
			assert_true(raw_cmd(fds[i], req, (size_t)len, out,
					    sizeof(out)) > 0);
			snprintf(req, sizeof(req), "\"params\":\"%d\"", i);
			assert_non_null(strstr(out, req));
		}
	/* a slot freed is a slot served */
	close(fds[0]);
	for (int tries = 0; tries < 200; tries++) { /* until the server saw it */
		fds[0] = raw_connect(NULL, 0);
		n = recv(fds[0], hello, sizeof(hello), 0);
		if (n > 0)
			break;
		close(fds[0]);
		fds[0] = -1;
		usleep(10 * 1000);
	}
	assert_true(fds[0] >= 0);
	assert_int_equal(tel_query(sock_path, "/info", out, sizeof(out)),
			 -EBUSY); /* full */
	for (int i = 0; i < TEL_MAX_CLIENTS; i++)
		close(fds[i]);
	/* until the server has seen the closes */
	for (int tries = 0; tries < 200; tries++) {
		n = tel_query(sock_path, "/info", out, sizeof(out));
		if (n != -EBUSY)
			break;
		usleep(10 * 1000);
	}
	assert_true(n > 0);
}

static void test_server_garbage(void **state)
{
	static char huge[64 * 1024];
	char hello[1024];
	unsigned char bin[256];
	ssize_t n;
	int fd;

	/* binary junk gets a valid JSON null reply */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(255 - i);
	fd = raw_connect(hello, sizeof(hello));
	n = raw_cmd(fd, bin, sizeof(bin), out, sizeof(out));
	assert_true(n > 0);
	assert_true(json_valid(out));
	assert_int_equal(strcmp(out + n - 6, ":null}"), 0);
	/* an embedded NUL ends the request */
	n = raw_cmd(fd, "/test/echo\0junk", 15, out, sizeof(out));
	assert_string_equal(out, "{\"/test/echo\":{\"cmd\":\"/test/echo\"}}");
	/* the longest request is answered */
	memset(huge, ',', TEL_MAX_REQUEST_LEN);
	memcpy(huge, "/test/echo", 10);
	n = raw_cmd(fd, huge, TEL_MAX_REQUEST_LEN, out, sizeof(out));
	assert_true(n > 0 && json_valid(out));
	/* one byte more: closed */
	n = raw_cmd(fd, huge, TEL_MAX_REQUEST_LEN + 1, out, sizeof(out));
	assert_int_equal(n, 0);
	close(fd);

	/* a huge packet: closed */
	memset(huge, 'g', sizeof(huge));
	fd = raw_connect(hello, sizeof(hello));
	n = raw_cmd(fd, huge, sizeof(huge), out, sizeof(out));
	assert_int_equal(n, 0);
	close(fd);

	/* an empty packet: closed */
	fd = raw_connect(hello, sizeof(hello));
	n = raw_cmd(fd, "", 0, out, sizeof(out));
	assert_int_equal(n, 0);
	close(fd);

	/* a client that connects and leaves at once, before the hello */
	for (int i = 0; i < 50; i++)
		close(raw_connect(NULL, 0));

	/* a client that never reads its replies is closed, not waited on */
	fd = raw_connect(hello, sizeof(hello));
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 2000; i++)
		if (send(fd, "/test/huge", 10, MSG_NOSIGNAL) < 0)
			break; /* closed by the server, or our buffer full */
	close(fd);

	/* and everyone else is still served */
	n = tel_query(sock_path, "/info", out, sizeof(out));
	assert_true(n > 0);
	assert_true(json_valid(out));
}

static void test_server_lifecycle(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char p[PATH_MAX];
	int fd;

	/* running already */
	assert_int_equal(tel_server_start(sock_path, "x"), -EALREADY);
	tel_server_stop();
	tel_server_stop(); /* no-op */

	/* a stale socket file (nobody listening) is replaced */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1); /* fits: make_paths */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	assert_int_equal(tel_server_start(sock_path, "v2"), 0);
	assert_true(tel_query(sock_path, "/info", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "\"version\":\"v2\""));
	tel_server_stop();

	/* a live socket (someone else serves it) is left alone */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(tel_server_start(sock_path, "x"), -EADDRINUSE);
	close(fd);
	unlink(sock_path);

	/* a file that is not a socket is left alone */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(tel_server_start(sock_path, "x"), -EEXIST);
	unlink(sock_path);

	memset(p, 'x', sizeof(p));
	p[0] = '/';
	p[200] = '\0';
	assert_int_equal(tel_server_start(p, "x"), -ENAMETOOLONG);
	assert_int_equal(tel_server_start(NULL, "x"), -EINVAL);

	/* for the teardown */
	assert_int_equal(tel_server_start(sock_path, "x"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_scalars, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_escaping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_names_and_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_nesting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_truncation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
		cmocka_unit_test(test_for_each),
		cmocka_unit_test_setup_teardown(test_server_hello_and_query,
						server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_server_many_clients,
						server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_server_garbage,
						server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_server_lifecycle,
						server_setup, server_teardown),
	};

	return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
