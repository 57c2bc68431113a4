/*
 * AlterPartitionReassignments' and ListPartitionReassignments' answers
 * (control/kreassign.h), the requests written here byte by byte as
 * Kafka's flexible versions lay them out (compact strings and arrays are
 * uvarint(length + 1), 0 for null; a tag byte 0 closes every struct;
 * request header v2), the answers decoded and checked field by field.
 *
 * A hand-made cluster of three topics: "a" (3 partitions; 1 and 2 being
 * reassigned), "b" (2; none), "c" (1; being reassigned); and a real
 * cluster image whose decisions the callbacks make and apply, so that an
 * Alter shows in the List after it.
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

#include "control/cluster_image.h"
#include "control/kreassign.h"
#include "kreplies.h"
#include "proto/native.h"
#include "tl.h"

#define ALTER KC_API_ALTER_PARTITION_REASSIGNMENTS
#define LIST KC_API_LIST_PARTITION_REASSIGNMENTS

/* ---- requests by hand ---- */

struct wire {
	uint8_t b[1 << 20];
	size_t n;
};

static struct wire g_w;

static void w8(uint8_t v)
{
	assert_true(g_w.n < sizeof(g_w.b));
	g_w.b[g_w.n++] = v;
}
static void w16(uint16_t v) { w8((uint8_t)(v >> 8)); w8((uint8_t)v); }
static void w32(uint32_t v) { w16((uint16_t)(v >> 16)); w16((uint16_t)v); }

static void wuv(uint32_t v)
{
	while (v >= 0x80) {
		w8((uint8_t)(v | 0x80));
		v >>= 7;
	}
	w8((uint8_t)v);
}

/* A compact string. */
static void wstr(const char *s)
{
	wuv((uint32_t)strlen(s) + 1);
	memcpy(g_w.b + g_w.n, s, strlen(s));
	g_w.n += strlen(s);
}

/* Request header v2, the body's bytes to follow. */
static void w_header(int16_t key, int16_t ver, int32_t correlation)
{
	g_w.n = 0;
	w16((uint16_t)key);
	w16((uint16_t)ver);
	w32((uint32_t)correlation);
	w16(4); /* client id, int16 length */
	memcpy(g_w.b + g_w.n, "test", 4);
	g_w.n += 4;
	w8(0); /* the header's tagged fields */
}

/* An AlterPartitionReassignments partition: its index, then n replica
 * ids (n -1: null, a cancel), then its tag byte. */
static void w_part(int32_t partition, int n, ...)
{
	va_list ap;
	w32((uint32_t)partition);
	wuv((uint32_t)(n + 1));
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		w32((uint32_t)va_arg(ap, int));
	va_end(ap);
	w8(0);
}

/* A ListPartitionReassignments topic: its name and n partitions. */
static void w_list_topic(const char *name, int n, ...)
{
	va_list ap;
	wstr(name);
	wuv((uint32_t)n + 1);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		w32((uint32_t)va_arg(ap, int));
	va_end(ap);
	w8(0);
}

/* ---- the hand-made cluster ---- */

struct call {
	char topic[16];
	int32_t partition;
	int32_t n;
	int null_replicas;
	int32_t ids[8];
	bool allow;
};
static struct call g_calls[16];
static int g_ncalls;

static int32_t partitions_of(const char *topic, size_t len)
{
	if (len != 1)
		return 0;
	return topic[0] == 'a' ? 3 : topic[0] == 'b' ? 2 :
	       topic[0] == 'c' ? 1 : 0;
}

/* Cancelling partition 0 finds none running; an empty list is refused;
 * a change of size is refused when not allowed. */
static int16_t reassign(void *ctx, const char *topic, size_t len,
			int32_t partition, const int32_t *replicas, int32_t n,
			bool allow_rf_change, char *msg, size_t msglen)
{
	(void)ctx;
	assert_true(g_ncalls < 16);
	struct call *c = &g_calls[g_ncalls++];
	memset(c, 0, sizeof(*c));
	assert_true(len < sizeof(c->topic));
	memcpy(c->topic, topic, len);
	c->partition = partition;
	c->n = n;
	c->null_replicas = replicas == NULL;
	c->allow = allow_rf_change;
	for (int32_t i = 0; i < n && i < 8; i++)
		c->ids[i] = replicas[i];
	if (partition < 0 || partition >= partitions_of(topic, len)) {
		snprintf(msg, msglen, "no such partition");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (!replicas) {
		if (partition != 0)
			return 0;
		snprintf(msg, msglen, "no reassignment of it is running");
		return SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS;
	}
	if (n == 0) {
		snprintf(msg, msglen, "an empty replica list");
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (!allow_rf_change && n != 3) {
		snprintf(msg, msglen, "the factor would change");
		return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
	}
	return 0;
}

static bool topic(void *ctx, uint32_t i, const char **name, size_t *len,
		  int32_t *partitions)
{
	(void)ctx;
	static const char *names[] = { "a", "b", "c" };
	if (i > 2)
		return false;
	*name = names[i];
	*len = 1;
	*partitions = partitions_of(names[i], 1);
	return true;
}

static void state_of(struct sl_kreassign_state *s, const int32_t *r,
		     uint8_t nr, uint8_t adding, uint8_t removing)
{
	memset(s, 0, sizeof(*s));
	for (uint8_t i = 0; i < nr; i++) {
		s->replicas[s->nreplicas++] = r[i];
		if (adding & (1u << i))
			s->adding[s->nadding++] = r[i];
		if (removing & (1u << i))
			s->removing[s->nremoving++] = r[i];
	}
}

/* a/1: [1] -> [2,3]; a/2: [5,6] -> [4,5]; c/0: [1] -> [1,2]. */
static int ongoing(void *ctx, const char *topic, size_t len,
		   int32_t partition, struct sl_kreassign_state *out)
{
	(void)ctx;
	static const int32_t a1[] = { 2, 3, 1 }, a2[] = { 4, 5, 6 },
			     c0[] = { 1, 2 };
	if (len != 1)
		return 0;
	if (topic[0] == 'a' && partition == 1)
		state_of(out, a1, 3, 0x3, 0x4);
	else if (topic[0] == 'a' && partition == 2)
		state_of(out, a2, 3, 0x1, 0x4);
	else if (topic[0] == 'c' && partition == 0)
		state_of(out, c0, 2, 0x2, 0x0);
	else
		return 0;
	return 1;
}

static const struct sl_kreassign_ops ops = { reassign, topic, ongoing, NULL };
static uint8_t g_resp[1 << 16];
static int32_t g_token;

/* Send g_w's request to ops; the answer, decoded as (key, ver). */
static void *ask_ops(const struct sl_kreassign_ops *o, int16_t key,
		     int16_t ver)
{
	long len = sl_kreassign_handle(g_w.b, g_w.n, o, g_resp,
				       sizeof(g_resp));
	if (len <= 0)
		fail_msg("answer: %ld", len);
	kr_add((uint64_t)g_token, g_resp, (size_t)len, sizeof(g_resp));
	return kr_take((uint64_t)g_token, key, ver);
}

static void *ask(int16_t key, int16_t ver)
{
	return ask_ops(&ops, key, ver);
}

static int setup(void **state)
{
	(void)state;
	kr_setup();
	g_ncalls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kr_teardown();
	return 0;
}

typedef struct kc_alter_partition_reassignments_resp alter_resp;
typedef struct kc_alter_partition_reassignments_resp_reassignable_topic_response
	alter_topic;
typedef struct
	kc_alter_partition_reassignments_resp_reassignable_partition_response
	alter_part;
typedef struct kc_list_partition_reassignments_resp list_resp;
typedef struct kc_list_partition_reassignments_resp_ongoing_topic_reassignment
	list_topic;
typedef struct
	kc_list_partition_reassignments_resp_ongoing_partition_reassignment
	list_part;

static void expect_part(const alter_part *p, int32_t partition, int16_t err,
			const char *msg)
{
	TL_EQ(p->partition_index, partition);
	TL_EQ(p->error_code, err);
	if (!msg)
		TL_EQ(p->error_message.len, -1); /* null */
	else if (!streq(p->error_message, msg))
		fail_msg("partition %d: message '%.*s', expected '%s'",
			 (int)partition, (int)p->error_message.len,
			 p->error_message.ptr, msg);
}

static void expect_ids(const struct kc_array *a, int n, ...)
{
	va_list ap;
	TL_EQ(a->count, n);
	const int32_t *ids = a->items;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		TL_EQ(ids[i], va_arg(ap, int));
	va_end(ap);
}

/* v0: results in request order, null messages on success; a partition
 * named a second time (in the same topic entry or another) answered
 * INVALID_REQUEST without a decision; null replicas a cancel, an empty
 * list handed on as such. */
static void test_alter_v0(void **state)
{
	(void)state;
	w_header(ALTER, 0, g_token = 101);
	w32(60000);
	wuv(3 + 1);
	wstr("a");
	wuv(4 + 1);
	w_part(0, 3, 1, 2, 3);
	w_part(1, -1);
	w_part(0, 1, 4);
	w_part(2, 0);
	w8(0);
	wstr("zz");
	wuv(1 + 1);
	w_part(0, 1, 1);
	w8(0);
	wstr("a");
	wuv(2 + 1);
	w_part(1, 3, 7, 8, 9);
	w_part(0, -1);
	w8(0);
	w8(0);
	const alter_resp *r = ask(ALTER, 0);
	TL_EQ(r->throttle_time_ms, 0);
	TL_EQ(r->error_code, 0);
	TL_TRUE(r->allow_replication_factor_change); /* v1+: the default */
	TL_EQ(r->responses.count, 3);
	const alter_topic *t = r->responses.items;
	TL_TRUE(streq(t[0].name, "a"));
	TL_EQ(t[0].partitions.count, 4);
	const alter_part *p = t[0].partitions.items;
	expect_part(&p[0], 0, 0, NULL);
	expect_part(&p[1], 1, 0, NULL);
	expect_part(&p[2], 0, SN_ERR_INVALID_REQUEST,
		    "the partition is named twice in the request");
	expect_part(&p[3], 2, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT,
		    "an empty replica list");
	TL_TRUE(streq(t[1].name, "zz"));
	TL_EQ(t[1].partitions.count, 1);
	expect_part(t[1].partitions.items, 0,
		    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such partition");
	TL_TRUE(streq(t[2].name, "a"));
	TL_EQ(t[2].partitions.count, 2);
	p = t[2].partitions.items;
	expect_part(&p[0], 1, SN_ERR_INVALID_REQUEST,
		    "the partition is named twice in the request");
	expect_part(&p[1], 0, SN_ERR_INVALID_REQUEST,
		    "the partition is named twice in the request");

	/* the decisions: the first of each partition, in order; v0 allows
	 * a change of factor */
	TL_EQ(g_ncalls, 4);
	const struct call *c = g_calls;
	assert_string_equal(c[0].topic, "a");
	TL_EQ(c[0].partition, 0);
	TL_EQ(c[0].n, 3);
	TL_EQ(c[0].null_replicas, 0);
	TL_EQ(c[0].ids[0], 1);
	TL_EQ(c[0].ids[1], 2);
	TL_EQ(c[0].ids[2], 3);
	TL_TRUE(c[0].allow);
	TL_EQ(c[1].partition, 1);
	TL_EQ(c[1].null_replicas, 1);
	TL_EQ(c[1].n, -1);
	TL_EQ(c[2].partition, 2);
	TL_EQ(c[2].null_replicas, 0); /* an empty list is not a cancel */
	TL_EQ(c[2].n, 0);
	assert_string_equal(c[3].topic, "zz");
	TL_EQ(c[3].n, 1);
	TL_EQ(c[3].ids[0], 1);
	for (int i = 0; i < 4; i++)
		TL_TRUE(c[i].allow);
}

/* v1: AllowReplicationFactorChange handed on and echoed. */
static void test_alter_v1(void **state)
{
	(void)state;
	for (int allow = 0; allow <= 1; allow++) {
		g_ncalls = 0;
		w_header(ALTER, 1, g_token = 200 + allow);
		w32(30000);
		w8((uint8_t)allow);
		wuv(1 + 1);
		wstr("a");
		wuv(3 + 1);
		w_part(0, 3, 3, 2, 1);
		w_part(1, 2, 1, 2);
		w_part(0, -1);
		w8(0);
		w8(0);
		const alter_resp *r = ask(ALTER, 1);
		TL_EQ(r->error_code, 0);
		TL_EQ(r->allow_replication_factor_change, allow);
		TL_EQ(r->responses.count, 1);
		const alter_topic *t = r->responses.items;
		TL_TRUE(streq(t->name, "a"));
		TL_EQ(t->partitions.count, 3);
		const alter_part *p = t->partitions.items;
		expect_part(&p[0], 0, 0, NULL);
		if (allow)
			expect_part(&p[1], 1, 0, NULL);
		else
			expect_part(&p[1], 1,
				    SL_CI_ERR_INVALID_REPLICATION_FACTOR,
				    "the factor would change");
		expect_part(&p[2], 0, SN_ERR_INVALID_REQUEST,
			    "the partition is named twice in the request");
		TL_EQ(g_ncalls, 2);
		TL_EQ(g_calls[0].allow, allow);
		TL_EQ(g_calls[1].allow, allow);
	}
	/* a cancel of partition 0 with none running: the callback's answer */
	g_ncalls = 0;
	w_header(ALTER, 1, g_token = 210);
	w32(30000);
	w8(1);
	wuv(1 + 1);
	wstr("a");
	wuv(1 + 1);
	w_part(0, -1);
	w8(0);
	w8(0);
	const alter_resp *r = ask(ALTER, 1);
	const alter_topic *t = r->responses.items;
	expect_part(t->partitions.items, 0,
		    SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS,
		    "no reassignment of it is running");
}

static void expect_a1(const list_part *p)
{
	TL_EQ(p->partition_index, 1);
	expect_ids(&p->replicas, 3, 2, 3, 1);
	expect_ids(&p->adding_replicas, 2, 2, 3);
	expect_ids(&p->removing_replicas, 1, 1);
}

static void expect_a2(const list_part *p)
{
	TL_EQ(p->partition_index, 2);
	expect_ids(&p->replicas, 3, 4, 5, 6);
	expect_ids(&p->adding_replicas, 1, 4);
	expect_ids(&p->removing_replicas, 1, 6);
}

static void expect_c0(const list_part *p)
{
	TL_EQ(p->partition_index, 0);
	expect_ids(&p->replicas, 2, 1, 2);
	expect_ids(&p->adding_replicas, 1, 2);
	expect_ids(&p->removing_replicas, 0);
}

/* Topics null: every partition being reassigned; b has none and is left
 * out. */
static void test_list_all(void **state)
{
	(void)state;
	w_header(LIST, 0, g_token = 300);
	w32(60000);
	wuv(0); /* null */
	w8(0);
	const list_resp *r = ask(LIST, 0);
	TL_EQ(r->throttle_time_ms, 0);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 2);
	const list_topic *t = r->topics.items;
	TL_TRUE(streq(t[0].name, "a"));
	TL_EQ(t[0].partitions.count, 2);
	expect_a1(&((const list_part *)t[0].partitions.items)[0]);
	expect_a2(&((const list_part *)t[0].partitions.items)[1]);
	TL_TRUE(streq(t[1].name, "c"));
	TL_EQ(t[1].partitions.count, 1);
	expect_c0(t[1].partitions.items);
	TL_EQ(g_ncalls, 0);
}

/* Named: in the order asked, unknown topics and partitions and those not
 * being reassigned left out; an empty list names nothing. */
static void test_list_named(void **state)
{
	(void)state;
	w_header(LIST, 0, g_token = 310);
	w32(60000);
	wuv(4 + 1);
	w_list_topic("a", 4, 2, 0, 1, 7);
	w_list_topic("b", 2, 0, 1);
	w_list_topic("zz", 1, 0);
	w_list_topic("c", 2, 0, -1);
	w8(0);
	const list_resp *r = ask(LIST, 0);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 2);
	const list_topic *t = r->topics.items;
	TL_TRUE(streq(t[0].name, "a"));
	TL_EQ(t[0].partitions.count, 2);
	expect_a2(&((const list_part *)t[0].partitions.items)[0]);
	expect_a1(&((const list_part *)t[0].partitions.items)[1]);
	TL_TRUE(streq(t[1].name, "c"));
	TL_EQ(t[1].partitions.count, 1);
	expect_c0(t[1].partitions.items);

	w_header(LIST, 0, g_token = 311);
	w32(60000);
	wuv(0 + 1);
	w8(0);
	r = ask(LIST, 0);
	TL_EQ(r->error_code, 0);
	TL_EQ(r->topics.count, 0);

	w_header(LIST, 0, g_token = 312);
	w32(60000);
	wuv(1 + 1);
	w_list_topic("b", 2, 0, 1);
	w8(0);
	r = ask(LIST, 0);
	TL_EQ(r->topics.count, 0);
}

/* ---- over a cluster image ---- */

/* The callbacks as the active controller makes them: decide, apply. */
static int16_t image_reassign(void *ctx, const char *topic, size_t len,
			      int32_t partition, const int32_t *replicas,
			      int32_t n, bool allow, char *msg, size_t msglen)
{
	struct sl_ci_image *img = ctx;
	static uint8_t buf[1 << 12];
	char err[256];
	const struct sl_ci_topic *t = sl_ci_topic_find(img, topic, len);
	if (!t) {
		snprintf(msg, msglen, "no such topic");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	struct sl_ci_batch b;
	TL_OK(sl_ci_batch_init(&b, buf, sizeof(buf)));
	int rc = sl_ci_reassign(img, t->id, partition, replicas, n, allow, &b,
				msg, msglen);
	TL_TRUE(rc >= 0);
	if (rc == 0 && b.count &&
	    sl_ci_apply(img, img->applied_index + 1, b.buf, b.len, err,
			sizeof(err)))
		fail_msg("apply: %s", err);
	return (int16_t)rc;
}

static bool image_topic(void *ctx, uint32_t i, const char **name,
			size_t *len, int32_t *partitions)
{
	return sl_kreassign_image_topic(ctx, i, name, len, partitions);
}

static int image_ongoing(void *ctx, const char *topic, size_t len,
			 int32_t partition, struct sl_kreassign_state *out)
{
	return sl_kreassign_image_ongoing(ctx, topic, len, partition, out);
}

/* Alter then List against an image: the moves show as running, the
 * cancel and the move already in sync do not. */
static void test_image(void **state)
{
	(void)state;
	struct sl_ci_image *img = malloc(sizeof(*img));
	assert_non_null(img);
	sl_ci_init(img);
	static uint8_t buf[1 << 12];
	char msg[256], err[256];
	struct sl_ci_batch b;
	for (int32_t id = 1; id <= 4; id++) {
		char host[16];
		int n = snprintf(host, sizeof(host), "h%d", (int)id);
		TL_OK(sl_ci_batch_init(&b, buf, sizeof(buf)));
		TL_OK(sl_ci_register_broker(img, id, 1, host, (size_t)n, 9092,
					    9093, &b, msg, sizeof(msg)));
		TL_OK(sl_ci_apply(img, img->applied_index + 1, b.buf, b.len,
				  err, sizeof(err)));
		TL_OK(sl_ci_batch_init(&b, buf, sizeof(buf)));
		TL_OK(sl_ci_unfence_broker(img, id, &b, msg, sizeof(msg)));
		TL_OK(sl_ci_apply(img, img->applied_index + 1, b.buf, b.len,
				  err, sizeof(err)));
	}
	static const char *names[] = { "p", "q" };
	for (int i = 0; i < 2; i++) {
		struct sl_ci_topic_req q;
		memset(&q, 0, sizeof(q));
		q.name = names[i];
		q.name_len = 1;
		q.partitions = 2;
		q.replication_factor = 1;
		q.config.retention_ms = -1;
		q.config.retention_bytes = -1;
		q.config.segment_bytes = 1 << 26;
		q.min_insync_replicas = 1;
		TL_OK(sl_ci_batch_init(&b, buf, sizeof(buf)));
		TL_OK(sl_ci_create_topic(img, &q, &b, msg, sizeof(msg)));
		TL_OK(sl_ci_apply(img, img->applied_index + 1, b.buf, b.len,
				  err, sizeof(err)));
	}
	/* placement from broker 1: p/0 [1], p/1 [2], q/0 [1], q/1 [2] */
	TL_EQ(sl_ci_partition_find(img, 1, 0)->replicas[0], 1);
	TL_EQ(sl_ci_partition_find(img, 1, 1)->replicas[0], 2);
	const struct sl_kreassign_ops io = { image_reassign, image_topic,
					     image_ongoing, img };
	w_header(ALTER, 1, g_token = 400);
	w32(60000);
	w8(1);
	wuv(3 + 1);
	wstr("p");
	wuv(2 + 1);
	w_part(0, 2, 3, 4);  /* a move: runs */
	w_part(1, 2, 2, 9);  /* 9 is not registered */
	w8(0);
	wstr("q");
	wuv(2 + 1);
	w_part(0, 2, 1, 3);  /* grows: runs */
	w_part(1, 1, 2);     /* as it is: nothing to do */
	w8(0);
	wstr("nope");
	wuv(1 + 1);
	w_part(0, 1, 1);
	w8(0);
	w8(0);
	const alter_resp *r = ask_ops(&io, ALTER, 1);
	TL_EQ(r->responses.count, 3);
	const alter_topic *t = r->responses.items;
	const alter_part *p = t[0].partitions.items;
	expect_part(&p[0], 0, 0, NULL);
	TL_EQ(p[1].error_code, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT);
	TL_TRUE(p[1].error_message.len > 0);
	p = t[1].partitions.items;
	expect_part(&p[0], 0, 0, NULL);
	expect_part(&p[1], 1, 0, NULL);
	p = t[2].partitions.items;
	expect_part(&p[0], 0, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
		    "no such topic");

	w_header(LIST, 0, g_token = 401);
	w32(60000);
	wuv(0);
	w8(0);
	const list_resp *l = ask_ops(&io, LIST, 0);
	TL_EQ(l->topics.count, 2);
	const list_topic *lt = l->topics.items;
	TL_TRUE(streq(lt[0].name, "p"));
	TL_EQ(lt[0].partitions.count, 1);
	const list_part *lp = lt[0].partitions.items;
	TL_EQ(lp->partition_index, 0);
	expect_ids(&lp->replicas, 3, 3, 4, 1);
	expect_ids(&lp->adding_replicas, 2, 3, 4);
	expect_ids(&lp->removing_replicas, 1, 1);
	TL_TRUE(streq(lt[1].name, "q"));
	TL_EQ(lt[1].partitions.count, 1);
	lp = lt[1].partitions.items;
	TL_EQ(lp->partition_index, 0);
	expect_ids(&lp->replicas, 2, 1, 3);
	expect_ids(&lp->adding_replicas, 1, 3);
	expect_ids(&lp->removing_replicas, 0);

	/* cancel p/0; p/0 again cancels nothing; then q is all that runs */
	w_header(ALTER, 0, g_token = 402);
	w32(60000);
	wuv(1 + 1);
	wstr("p");
	wuv(1 + 1);
	w_part(0, -1);
	w8(0);
	w8(0);
	r = ask_ops(&io, ALTER, 0);
	expect_part(((const alter_topic *)r->responses.items)->partitions.items,
		    0, 0, NULL);
	TL_EQ(sl_ci_partition_find(img, 1, 0)->replica_count, 1);
	w_header(ALTER, 0, g_token = 403);
	w32(60000);
	wuv(1 + 1);
	wstr("p");
	wuv(1 + 1);
	w_part(0, -1);
	w8(0);
	w8(0);
	r = ask_ops(&io, ALTER, 0);
	p = ((const alter_topic *)r->responses.items)->partitions.items;
	TL_EQ(p->error_code, SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS);
	w_header(LIST, 0, g_token = 404);
	w32(60000);
	wuv(2 + 1);
	w_list_topic("p", 2, 0, 1);
	w_list_topic("q", 3, 1, 0, 5);
	w8(0);
	l = ask_ops(&io, LIST, 0);
	TL_EQ(l->topics.count, 1);
	lt = l->topics.items;
	TL_TRUE(streq(lt->name, "q"));
	TL_EQ(lt->partitions.count, 1);
	TL_EQ(((const list_part *)lt->partitions.items)->partition_index, 0);
	free(img);
}

/* Requests that do not decode, and answers that do not fit. */
static void test_refused(void **state)
{
	(void)state;
	static struct wire keep;
	/* a good Alter v1, kept */
	w_header(ALTER, 1, g_token = 500);
	w32(60000);
	w8(1);
	wuv(1 + 1);
	wstr("a");
	wuv(1 + 1);
	w_part(1, 3, 1, 2, 3);
	w8(0);
	w8(0);
	keep = g_w;
	long full = sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp,
					sizeof(g_resp));
	TL_TRUE(full > 0);
	TL_EQ(g_ncalls, 1);
	/* every cut, and a byte too many */
	for (size_t cut = 0; cut < keep.n; cut++)
		TL_EQ(sl_kreassign_handle(keep.b, cut, &ops, g_resp,
					  sizeof(g_resp)), -EINVAL);
	g_w = keep;
	g_w.b[g_w.n++] = 0;
	TL_EQ(sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	/* a version past those served; another API */
	g_w = keep;
	g_w.b[3] = 2;
	TL_EQ(sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	g_w = keep;
	g_w.b[1] = 44;
	TL_EQ(sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	/* replicas whose count passes the bytes left */
	g_w = keep;
	g_w.n -= 1 + 1 + 12 + 1 + 1; /* back to the replicas' count */
	wuv(1000);
	w8(0);
	TL_EQ(sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	/* Alter not served */
	const struct sl_kreassign_ops list_only = { NULL, topic, ongoing,
						    NULL };
	TL_EQ(sl_kreassign_handle(keep.b, keep.n, &list_only, g_resp,
				  sizeof(g_resp)), -EINVAL);
	TL_EQ(g_ncalls, 1);
	/* the answer one byte short of its room; exactly its room */
	TL_EQ(sl_kreassign_handle(keep.b, keep.n, &ops, g_resp,
				  (size_t)full - 1), -EMSGSIZE);
	TL_EQ(sl_kreassign_handle(keep.b, keep.n, &ops, g_resp, (size_t)full),
	      full);
	kr_add(500, g_resp, (size_t)full, sizeof(g_resp));
	const alter_resp *r = kr_take(500, ALTER, 1);
	TL_EQ(r->responses.count, 1);

	w_header(LIST, 0, g_token = 501);
	w32(60000);
	wuv(0);
	w8(0);
	keep = g_w;
	full = sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp,
				   sizeof(g_resp));
	TL_TRUE(full > 0);
	TL_EQ(sl_kreassign_handle(keep.b, keep.n, &ops, g_resp,
				  (size_t)full - 1), -EMSGSIZE);
	TL_EQ(sl_kreassign_handle(keep.b, keep.n, &ops, g_resp, 8), -EMSGSIZE);
	for (size_t cut = 0; cut < keep.n; cut++)
		TL_EQ(sl_kreassign_handle(keep.b, cut, &ops, g_resp,
					  sizeof(g_resp)), -EINVAL);
	g_w = keep;
	g_w.b[3] = 1; /* List has v0 only */
	TL_EQ(sl_kreassign_handle(g_w.b, g_w.n, &ops, g_resp, sizeof(g_resp)),
	      -EINVAL);
	TL_TRUE(sl_kreassign_serves(ALTER) && sl_kreassign_serves(LIST));
	TL_TRUE(sl_kreassign_alters(ALTER) && !sl_kreassign_alters(LIST));
	TL_TRUE(!sl_kreassign_serves(KC_API_ELECT_LEADERS));
}

/* No top-level error: a null top-level message, as the schemas say ("or
 * null if there was no error") and Kafka's controller answers. */
static void test_top_level_message(void **state)
{
	(void)state;
	w_header(ALTER, 1, g_token = 700);
	w32(60000);
	w8(1);
	wuv(1 + 1);
	wstr("a");
	wuv(1 + 1);
	w_part(1, 3, 1, 2, 3);
	w8(0);
	w8(0);
	const alter_resp *a = ask(ALTER, 1);
	TL_EQ(a->error_code, 0);
	expect_part(((const alter_topic *)a->responses.items)->partitions.items,
		    1, 0, NULL);
	w_header(LIST, 0, g_token = 701);
	w32(60000);
	wuv(0);
	w8(0);
	const list_resp *l = ask(LIST, 0);
	TL_EQ(l->error_code, 0);
	if (a->error_message.len != -1 || l->error_message.len != -1)
		fail_msg("top-level messages without an error: Alter of "
			 "length %d, List of length %d (expected null, -1)",
			 (int)a->error_message.len, (int)l->error_message.len);
}

/* More partitions named than a cluster has: INVALID_REQUEST at the top
 * level, no results, no decision. */
static void test_too_many(void **state)
{
	(void)state;
	w_header(ALTER, 0, g_token = 600);
	w32(60000);
	wuv(1 + 1);
	wstr("a");
	wuv(65537 + 1);
	for (int32_t i = 0; i < 65537; i++)
		w_part(i % 3, 1, 1);
	w8(0);
	w8(0);
	const alter_resp *r = ask(ALTER, 0);
	TL_EQ(r->error_code, SN_ERR_INVALID_REQUEST);
	TL_TRUE(r->error_message.len > 0);
	TL_EQ(r->responses.count, 0);
	TL_EQ(g_ncalls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alter_v0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alter_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_named, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_level_message, setup,
						teardown),
		/* last: a crash here must not hide the others' results */
		cmocka_unit_test_setup_teardown(test_too_many, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
