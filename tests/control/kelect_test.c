/*
 * ElectLeaders' answers (control/kelect.h) over a hand-made cluster of
 * two topics: the partitions named, in order, with the callback's errors
 * and messages; every partition (null) leaving out those not needing an
 * election; bad types and oversized requests refused at the top level.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/kelect.h"
#include "kreplies.h"
#include "tl.h"

/* Topic "a" has 3 partitions, "b" 2; partition 1 of each needs an
 * election (it is elected), the others are led by their preferred
 * replica already. */
static int g_calls;
static int8_t g_type;

static int16_t elect(void *ctx, const char *topic, size_t len,
		     int32_t partition, int8_t type, char *msg, size_t msglen)
{
	(void)ctx;
	g_calls++;
	g_type = type;
	int32_t parts = len == 1 && topic[0] == 'a' ? 3 :
			len == 1 && topic[0] == 'b' ? 2 : 0;
	if (partition < 0 || partition >= parts) {
		snprintf(msg, msglen, "no such partition");
		return 3;
	}
	if (partition == 1)
		return 0;
	snprintf(msg, msglen, "led by its preferred replica");
	return 84;
}

static bool topic(void *ctx, uint32_t i, const char **name, size_t *len,
		  int32_t *partitions)
{
	(void)ctx;
	if (i > 1)
		return false;
	*name = i ? "b" : "a";
	*len = 1;
	*partitions = i ? 2 : 3;
	return true;
}

static const struct sl_kelect_ops ops = {elect, topic, NULL};
static uint8_t g_resp[1 << 20];
static uint64_t g_token;

static const struct kc_elect_leaders_resp *ask(int16_t ver,
					       const struct kc_elect_leaders_req *q)
{
	size_t n;
	uint64_t t = ++g_token;
	const uint8_t *req = kr_request(t, KC_API_ELECT_LEADERS, ver, q,
					"test", &n);
	long len = sl_kelect_handle(req, n, &ops, g_resp, sizeof(g_resp));
	TL_TRUE(len > 0);
	kr_add(t, g_resp, (size_t)len, sizeof(g_resp));
	return kr_take(t, KC_API_ELECT_LEADERS, ver);
}

static int setup(void **state)
{
	(void)state;
	kr_setup();
	g_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kr_teardown();
	return 0;
}

static void test_named(void **state)
{
	(void)state;
	int32_t pa[] = { 2, 1, 9 }, pb[] = { 1 };
	struct kc_elect_leaders_req_topic_partitions tp[] = {
		{ S("a"), { pa, 3 } }, { S("b"), { pb, 1 } } };
	for (int16_t v = 0; v <= 2; v++) {
		struct kc_elect_leaders_req q = { 1, { tp, 2 }, 60000 };
		const struct kc_elect_leaders_resp *r = ask(v, &q);
		/* v0 has no type: preferred */
		TL_EQ(g_type, v == 0 ? 0 : 1);
		TL_EQ(r->error_code, 0);
		TL_EQ(r->replica_election_results.count, 2);
		const struct kc_elect_leaders_resp_replica_election_result *rr =
			r->replica_election_results.items;
		TL_TRUE(streq(rr[0].topic, "a"));
		TL_EQ(rr[0].partition_result.count, 3);
		const struct kc_elect_leaders_resp_partition_result *p =
			rr[0].partition_result.items;
		TL_EQ(p[0].partition_id, 2);
		TL_EQ(p[0].error_code, 84);
		TL_TRUE(streq(p[0].error_message, "led by its preferred replica"));
		TL_EQ(p[1].partition_id, 1);
		TL_EQ(p[1].error_code, 0);
		TL_EQ(p[1].error_message.len, -1); /* null */
		TL_EQ(p[2].partition_id, 9);
		TL_EQ(p[2].error_code, 3);
		TL_TRUE(streq(rr[1].topic, "b"));
		TL_EQ(rr[1].partition_result.count, 1);
	}
	TL_EQ(g_calls, 12);
}

static void test_all(void **state)
{
	(void)state;
	struct kc_elect_leaders_req q = { 0, { NULL, -1 }, 60000 };
	const struct kc_elect_leaders_resp *r = ask(2, &q);
	TL_EQ(g_calls, 5); /* every partition was asked */
	TL_EQ(r->error_code, 0);
	/* only partition 1 of each: the others needed no election */
	TL_EQ(r->replica_election_results.count, 2);
	const struct kc_elect_leaders_resp_replica_election_result *rr =
		r->replica_election_results.items;
	for (int i = 0; i < 2; i++) {
		TL_TRUE(streq(rr[i].topic, i ? "b" : "a"));
		TL_EQ(rr[i].partition_result.count, 1);
		const struct kc_elect_leaders_resp_partition_result *p =
			rr[i].partition_result.items;
		TL_EQ(p->partition_id, 1);
		TL_EQ(p->error_code, 0);
	}
}

static void test_refused(void **state)
{
	(void)state;
	int32_t pa[] = { 1 };
	struct kc_elect_leaders_req_topic_partitions tp = { S("a"), { pa, 1 } };
	struct kc_elect_leaders_req q = { 2, { &tp, 1 }, 60000 };
	const struct kc_elect_leaders_resp *r = ask(1, &q);
	TL_EQ(r->error_code, 42);
	TL_EQ(r->replica_election_results.count, 0);
	/* more partitions named than a cluster has */
	static int32_t many[65537];
	struct kc_elect_leaders_req_topic_partitions big = {
		S("a"), { many, 65537 } };
	struct kc_elect_leaders_req hq = { 0, { &big, 1 }, 60000 };
	static uint8_t hreq[1 << 19];
	struct kc_request_header h = { KC_API_ELECT_LEADERS, 1, 77, S("test") };
	long hn = kc_encode_request(&h, (const void *)&hq, hreq,
				    sizeof(hreq));
	TL_TRUE(hn > 0);
	long len = sl_kelect_handle(hreq, (size_t)hn, &ops, g_resp,
				    sizeof(g_resp));
	TL_TRUE(len > 0);
	kr_add(77, g_resp, (size_t)len, sizeof(g_resp));
	r = kr_take(77, KC_API_ELECT_LEADERS, 1);
	TL_EQ(r->error_code, 42);
	TL_EQ(r->replica_election_results.count, 0);
	TL_EQ(g_calls, 0);
	/* not ElectLeaders, or cut short */
	size_t n;
	const uint8_t *req = kr_request(99, KC_API_ELECT_LEADERS, 1, &q,
					"test", &n);
	TL_EQ(sl_kelect_handle(req, n - 3, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	TL_EQ(sl_kelect_handle(req, 1, &ops, g_resp, sizeof(g_resp)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
