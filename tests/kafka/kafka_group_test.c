/*
 * Unit tests for the group and offset schemas of the Kafka codec
 * (the generated tables of proto/kafka/gen/kmsg.c).
 *
 * Hand-written byte vectors, one or more per API, assembled from Kafka's
 * message definitions (clients/src/main/resources/common/message/<Name>.json)
 * and the protocol primitive types, not produced by the codec: each is
 * decoded, checked field by field (defaults of fields absent from the
 * version included), re-encoded and compared byte for byte.  Then every API
 * round-trips at every supported version, request and response, from a
 * struct with every field set; every strict prefix of every message is
 * rejected with INVALID_REQUEST, and so is one trailing byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/kafka/kcodec.h"

static _Alignas(8) uint8_t arena_mem[1 << 16];
static struct kc_arena arena;

static _Alignas(8) uint8_t scratch_mem[1 << 16];
static struct kc_arena scratch;

static struct kc_arena *fresh_arena(void)
{
	arena = (struct kc_arena){arena_mem, sizeof(arena_mem), 0};
	return &arena;
}

/* For decodes whose result is thrown away. */
static struct kc_arena *scratch_arena(void)
{
	scratch = (struct kc_arena){scratch_mem, sizeof(scratch_mem), 0};
	return &scratch;
}

static void assert_str(struct kc_str s, const char *want)
{
	if (!want) {
		assert_int_equal(s.len, -1);
		return;
	}
	assert_int_equal(s.len, (int32_t)strlen(want));
	assert_memory_equal(s.ptr, want, strlen(want));
}

static void assert_bytes(struct kc_bytes b, const void *want, int32_t len)
{
	assert_int_equal(b.len, len);
	if (len > 0)
		assert_memory_equal(b.ptr, want, (size_t)len);
}

static struct kc_str S(const char *s)
{
	return (struct kc_str){s, s ? (int32_t)strlen(s) : -1};
}

static struct kc_bytes B(const char *s)
{
	return (struct kc_bytes){(const uint8_t *)s, (int32_t)strlen(s)};
}

#define I32(x) (uint8_t)((uint32_t)(x) >> 24), (uint8_t)((uint32_t)(x) >> 16), \
	       (uint8_t)((uint32_t)(x) >> 8), (uint8_t)(x)
#define I16(x) (uint8_t)((uint16_t)(x) >> 8), (uint8_t)(x)
#define I64(x) I32((uint64_t)(x) >> 32), I32(x)
#define NUL16 0xff, 0xff                  /* null string */
#define GRP 0x00, 0x03, 'g', 'r', 'p'
#define TOP 0x00, 0x01, 't'
#define MEM 0x00, 0x02, 'm', '1'
#define CID 0x00, 0x01, 'c'               /* client id in the header */

/* Every strict prefix, and one trailing byte, are not a valid request. */
static void request_rejects_cuts(const uint8_t *v, size_t n)
{
	for (size_t cut = 0; cut < n; cut++) {
		struct kc_request_header h;
		union kc_request b;
		assert_int_equal(kc_decode_request(v, cut, &h, &b, scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	}
	uint8_t longer[1024];
	assert_true(n < sizeof(longer));
	memcpy(longer, v, n);
	longer[n] = 0;
	struct kc_request_header h;
	union kc_request b;
	assert_int_equal(kc_decode_request(longer, n + 1, &h, &b, scratch_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

static void response_rejects_cuts(int16_t key, int16_t ver, const uint8_t *v,
				  size_t n)
{
	for (size_t cut = 0; cut < n; cut++) {
		struct kc_response_header h;
		union kc_response b;
		assert_int_equal(kc_decode_response(key, ver, v, cut, &h, &b,
						    scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	}
	uint8_t longer[1024];
	assert_true(n < sizeof(longer));
	memcpy(longer, v, n);
	longer[n] = 0;
	struct kc_response_header h;
	union kc_response b;
	assert_int_equal(kc_decode_response(key, ver, longer, n + 1, &h, &b,
					    scratch_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* Decode a hand-written request, re-encode it, compare; every cut fails. */
static void request_vector(const uint8_t *v, size_t n,
			   struct kc_request_header *h, union kc_request *b)
{
	uint8_t out[1024];
	assert_int_equal(kc_decode_request(v, n, h, b, fresh_arena()), (long)n);
	assert_int_equal(kc_encode_request(h, b, out, sizeof(out)), (long)n);
	assert_memory_equal(out, v, n);
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(kc_encode_request(h, b, out, cap), -ENOBUFS);
	request_rejects_cuts(v, n);
}

static void response_vector(int16_t key, int16_t ver, const uint8_t *v,
			    size_t n, struct kc_response_header *h,
			    union kc_response *b)
{
	uint8_t out[1024];
	assert_int_equal(kc_decode_response(key, ver, v, n, h, b, fresh_arena()),
			 (long)n);
	assert_int_equal(kc_encode_response(key, ver, h, b, out, sizeof(out)),
			 (long)n);
	assert_memory_equal(out, v, n);
	response_rejects_cuts(key, ver, v, n);
}

#define BODY(u, type) ((type *)(void *)(u).raw)

/* ---- JoinGroup ---- */

static void test_join_group_v0(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(11), I16(0), I32(7), CID,
		GRP, I32(10000),
		I16(0),                                   /* member id "" */
		0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
		I32(1), 0x00, 0x05, 'r', 'a', 'n', 'g', 'e',
		I32(3), 0x01, 0x02, 0x03,
	};
	struct kc_request_header h;
	union kc_request b;
	request_vector(req, sizeof(req), &h, &b);
	assert_int_equal(h.api_key, KC_API_JOIN_GROUP);
	assert_int_equal(h.correlation_id, 7);
	assert_str(h.client_id, "c");
	const struct kc_join_group_req *q = BODY(b, struct kc_join_group_req);
	assert_str(q->group_id, "grp");
	assert_int_equal(q->session_timeout_ms, 10000);
	assert_int_equal(q->rebalance_timeout_ms, -1);    /* v1+, default -1 */
	assert_str(q->member_id, "");
	assert_str(q->group_instance_id, NULL);           /* v5+, null */
	assert_str(q->protocol_type, "consumer");
	assert_int_equal(q->protocols.count, 1);
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	assert_str(p[0].name, "range");
	assert_bytes(p[0].metadata, "\x01\x02\x03", 3);

	static const uint8_t resp[] = {
		I32(7), I16(0), I32(1),
		0x00, 0x05, 'r', 'a', 'n', 'g', 'e',
		MEM, MEM,                                 /* leader, member */
		I32(2), MEM, I32(1), 0xaa,
		0x00, 0x02, 'm', '2', I32(0),
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_JOIN_GROUP, 0, resp, sizeof(resp), &rh, &rb);
	const struct kc_join_group_resp *r = BODY(rb, struct kc_join_group_resp);
	assert_int_equal(rh.correlation_id, 7);
	assert_int_equal(r->throttle_time_ms, 0);          /* v2+ */
	assert_int_equal(r->error_code, 0);
	assert_int_equal(r->generation_id, 1);
	assert_str(r->protocol_name, "range");
	assert_str(r->leader, "m1");
	assert_str(r->member_id, "m1");
	assert_int_equal(r->members.count, 2);
	const struct kc_join_group_resp_member *m = r->members.items;
	assert_str(m[0].member_id, "m1");
	assert_str(m[0].group_instance_id, NULL);         /* v5+, null */
	assert_bytes(m[0].metadata, "\xaa", 1);
	assert_str(m[1].member_id, "m2");
	assert_bytes(m[1].metadata, "", 0);
}

static void test_join_group_v5(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(11), I16(5), I32(8), CID,
		GRP, I32(10000), I32(300000), MEM,
		0x00, 0x02, 'i', '1',                     /* group instance id */
		0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
		I32(2), 0x00, 0x01, 'a', I32(0), 0x00, 0x01, 'b', I32(1), 0x07,
	};
	struct kc_request_header h;
	union kc_request b;
	request_vector(req, sizeof(req), &h, &b);
	const struct kc_join_group_req *q = BODY(b, struct kc_join_group_req);
	assert_int_equal(q->rebalance_timeout_ms, 300000);
	assert_str(q->member_id, "m1");
	assert_str(q->group_instance_id, "i1");
	assert_int_equal(q->protocols.count, 2);
	const struct kc_join_group_req_protocol *p = q->protocols.items;
	assert_str(p[1].name, "b");
	assert_bytes(p[1].metadata, "\x07", 1);

	/* a null group instance id (nullable from v5) */
	static const uint8_t nul[] = {
		I16(11), I16(5), I32(8), NUL16,
		GRP, I32(10000), I32(300000), I16(0), NUL16,
		0x00, 0x01, 'x', I32(0),
	};
	request_vector(nul, sizeof(nul), &h, &b);
	assert_str(h.client_id, NULL);
	assert_str(BODY(b, struct kc_join_group_req)->group_instance_id, NULL);

	/* MEMBER_ID_REQUIRED, then a leader's answer with instance ids */
	static const uint8_t resp[] = {
		I32(8), I32(0), I16(79), I32(-1), I16(0), I16(0), MEM, I32(0),
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_JOIN_GROUP, 5, resp, sizeof(resp), &rh, &rb);
	const struct kc_join_group_resp *r = BODY(rb, struct kc_join_group_resp);
	assert_int_equal(r->error_code, KC_ERR_MEMBER_ID_REQUIRED);
	assert_int_equal(r->generation_id, -1);
	assert_str(r->member_id, "m1");
	assert_int_equal(r->members.count, 0);

	static const uint8_t leader[] = {
		I32(9), I32(5), I16(0), I32(3), 0x00, 0x01, 'a', MEM, MEM,
		I32(2), MEM, 0x00, 0x02, 'i', '1', I32(1), 0x01,
		0x00, 0x02, 'm', '2', NUL16, I32(0),
	};
	response_vector(KC_API_JOIN_GROUP, 5, leader, sizeof(leader), &rh, &rb);
	r = BODY(rb, struct kc_join_group_resp);
	assert_int_equal(r->throttle_time_ms, 5);
	assert_int_equal(r->generation_id, 3);
	assert_str(r->protocol_name, "a");
	const struct kc_join_group_resp_member *m = r->members.items;
	assert_str(m[0].group_instance_id, "i1");
	assert_bytes(m[0].metadata, "\x01", 1);
	assert_str(m[1].group_instance_id, NULL);

	/* ProtocolName is not nullable before v7 */
	static const uint8_t bad[] = {
		I32(9), I32(5), I16(0), I32(3), NUL16, MEM, MEM, I32(0),
	};
	assert_int_equal(kc_decode_response(KC_API_JOIN_GROUP, 5, bad, sizeof(bad),
					    &rh, &rb, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

static void test_sync_group(void **state)
{
	(void)state;
	static const uint8_t v0[] = {
		I16(14), I16(0), I32(1), CID, GRP, I32(4), MEM,
		I32(2), MEM, I32(2), 0x01, 0x02, 0x00, 0x02, 'm', '2', I32(0),
	};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	const struct kc_sync_group_req *q = BODY(b, struct kc_sync_group_req);
	assert_str(q->group_id, "grp");
	assert_int_equal(q->generation_id, 4);
	assert_str(q->member_id, "m1");
	assert_str(q->group_instance_id, NULL);           /* v3+, null */
	const struct kc_sync_group_req_assignment *a = q->assignments.items;
	assert_int_equal(q->assignments.count, 2);
	assert_bytes(a[0].assignment, "\x01\x02", 2);
	assert_str(a[1].member_id, "m2");

	static const uint8_t v3[] = {
		I16(14), I16(3), I32(2), CID, GRP, I32(4), MEM,
		0x00, 0x02, 'i', '1', I32(0),
	};
	request_vector(v3, sizeof(v3), &h, &b);
	q = BODY(b, struct kc_sync_group_req);
	assert_str(q->group_instance_id, "i1");
	assert_int_equal(q->assignments.count, 0);

	static const uint8_t r0[] = {I32(1), I16(0), I32(2), 0x01, 0x02};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_SYNC_GROUP, 0, r0, sizeof(r0), &rh, &rb);
	const struct kc_sync_group_resp *r = BODY(rb, struct kc_sync_group_resp);
	assert_int_equal(r->throttle_time_ms, 0);
	assert_bytes(r->assignment, "\x01\x02", 2);
	static const uint8_t r3[] = {I32(2), I32(100), I16(27), I32(0)};
	response_vector(KC_API_SYNC_GROUP, 3, r3, sizeof(r3), &rh, &rb);
	r = BODY(rb, struct kc_sync_group_resp);
	assert_int_equal(r->throttle_time_ms, 100);
	assert_int_equal(r->error_code, KC_ERR_REBALANCE_IN_PROGRESS);
	assert_int_equal(r->assignment.len, 0);
}

static void test_heartbeat(void **state)
{
	(void)state;
	static const uint8_t v0[] = {I16(12), I16(0), I32(3), CID, GRP, I32(2),
				     MEM};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	const struct kc_heartbeat_req *q = BODY(b, struct kc_heartbeat_req);
	assert_str(q->group_id, "grp");
	assert_int_equal(q->generation_id, 2);
	assert_str(q->member_id, "m1");
	assert_str(q->group_instance_id, NULL);
	static const uint8_t v3[] = {I16(12), I16(3), I32(3), CID, GRP, I32(2),
				     MEM, NUL16};
	request_vector(v3, sizeof(v3), &h, &b);
	assert_str(BODY(b, struct kc_heartbeat_req)->group_instance_id, NULL);

	static const uint8_t r0[] = {I32(3), I16(25)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_HEARTBEAT, 0, r0, sizeof(r0), &rh, &rb);
	assert_int_equal(BODY(rb, struct kc_heartbeat_resp)->error_code,
			 KC_ERR_UNKNOWN_MEMBER_ID);
	static const uint8_t r1[] = {I32(3), I32(0), I16(22)};
	response_vector(KC_API_HEARTBEAT, 1, r1, sizeof(r1), &rh, &rb);
	assert_int_equal(BODY(rb, struct kc_heartbeat_resp)->error_code,
			 KC_ERR_ILLEGAL_GENERATION);
}

static void test_leave_group(void **state)
{
	(void)state;
	static const uint8_t v0[] = {I16(13), I16(0), I32(4), CID, GRP, MEM};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	const struct kc_leave_group_req *q = BODY(b, struct kc_leave_group_req);
	assert_str(q->member_id, "m1");
	assert_int_equal(q->members.count, 0);             /* v3+ */

	static const uint8_t v3[] = {I16(13), I16(3), I32(4), CID, GRP,
				     I32(2), MEM, NUL16, I16(0), 0x00, 0x01, 'i'};
	request_vector(v3, sizeof(v3), &h, &b);
	q = BODY(b, struct kc_leave_group_req);
	assert_int_equal(q->member_id.len, 0);             /* v0-2 */
	assert_int_equal(q->members.count, 2);
	const struct kc_leave_group_req_member *m = q->members.items;
	assert_str(m[0].member_id, "m1");
	assert_str(m[0].group_instance_id, NULL);
	assert_str(m[1].member_id, "");
	assert_str(m[1].group_instance_id, "i");

	static const uint8_t r0[] = {I32(4), I16(0)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_LEAVE_GROUP, 0, r0, sizeof(r0), &rh, &rb);
	static const uint8_t r3[] = {I32(4), I32(0), I16(0), I32(2),
				     MEM, NUL16, I16(0),
				     I16(0), 0x00, 0x01, 'i', I16(25)};
	response_vector(KC_API_LEAVE_GROUP, 3, r3, sizeof(r3), &rh, &rb);
	const struct kc_leave_group_resp *r = BODY(rb, struct kc_leave_group_resp);
	const struct kc_leave_group_resp_member *rm = r->members.items;
	assert_int_equal(r->members.count, 2);
	assert_str(rm[0].group_instance_id, NULL);
	assert_int_equal(rm[1].error_code, KC_ERR_UNKNOWN_MEMBER_ID);
	assert_str(rm[1].group_instance_id, "i");
}

/* ---- OffsetCommit, OffsetFetch ---- */

static void test_offset_commit(void **state)
{
	(void)state;
	static const uint8_t v2[] = {
		I16(8), I16(2), I32(5), CID, GRP, I32(-1), I16(0), I64(-1),
		I32(1), TOP, I32(2),
		I32(0), I64(42), NUL16,
		I32(1), I64(43), 0x00, 0x02, 'm', 'd',
	};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v2, sizeof(v2), &h, &b);
	const struct kc_offset_commit_req *q = BODY(b, struct kc_offset_commit_req);
	assert_str(q->group_id, "grp");
	assert_int_equal(q->generation_id_or_member_epoch, -1);
	assert_str(q->member_id, "");
	assert_str(q->group_instance_id, NULL);           /* v7+ */
	assert_int_equal(q->retention_time_ms, -1);
	const struct kc_offset_commit_req_topic *t = q->topics.items;
	assert_str(t[0].name, "t");
	const struct kc_offset_commit_req_partition *p = t[0].partitions.items;
	assert_int_equal(t[0].partitions.count, 2);
	assert_int_equal(p[0].committed_offset, 42);
	assert_int_equal(p[0].committed_leader_epoch, -1); /* v6+ */
	assert_int_equal(p[0].commit_timestamp, -1);       /* v1 only */
	assert_str(p[0].committed_metadata, NULL);
	assert_int_equal(p[1].partition_index, 1);
	assert_str(p[1].committed_metadata, "md");

	static const uint8_t v7[] = {
		I16(8), I16(7), I32(6), CID, GRP, I32(3), MEM,
		0x00, 0x02, 'i', '1',
		I32(1), TOP, I32(1), I32(0), I64(42), I32(9), I16(0),
	};
	request_vector(v7, sizeof(v7), &h, &b);
	q = BODY(b, struct kc_offset_commit_req);
	assert_int_equal(q->generation_id_or_member_epoch, 3);
	assert_str(q->group_instance_id, "i1");
	assert_int_equal(q->retention_time_ms, -1);        /* v2-4 */
	t = q->topics.items;
	p = t[0].partitions.items;
	assert_int_equal(p[0].committed_leader_epoch, 9);
	assert_str(p[0].committed_metadata, "");

	static const uint8_t r2[] = {I32(5), I32(1), TOP, I32(2),
				     I32(0), I16(0), I32(1), I16(12)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_OFFSET_COMMIT, 2, r2, sizeof(r2), &rh, &rb);
	const struct kc_offset_commit_resp *r = BODY(rb, struct kc_offset_commit_resp);
	assert_int_equal(r->throttle_time_ms, 0);          /* v3+ */
	const struct kc_offset_commit_resp_topic *rt = r->topics.items;
	const struct kc_offset_commit_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[1].error_code, KC_ERR_OFFSET_METADATA_TOO_LARGE);
	static const uint8_t r3[] = {I32(6), I32(7), I32(0)};
	response_vector(KC_API_OFFSET_COMMIT, 3, r3, sizeof(r3), &rh, &rb);
	assert_int_equal(BODY(rb, struct kc_offset_commit_resp)->throttle_time_ms, 7);
}

static void test_offset_fetch(void **state)
{
	(void)state;
	static const uint8_t v1[] = {I16(9), I16(1), I32(6), CID, GRP,
				     I32(1), TOP, I32(2), I32(0), I32(3)};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v1, sizeof(v1), &h, &b);
	const struct kc_offset_fetch_req *q = BODY(b, struct kc_offset_fetch_req);
	assert_str(q->group_id, "grp");
	const struct kc_offset_fetch_req_topic *t = q->topics.items;
	assert_int_equal(t[0].partition_indexes.count, 2);
	assert_int_equal(((const int32_t *)t[0].partition_indexes.items)[1], 3);
	/* null topics: all offsets, from v2 only */
	static const uint8_t all1[] = {I16(9), I16(1), I32(6), CID, GRP, I32(-1)};
	assert_int_equal(kc_decode_request(all1, sizeof(all1), &h, &b,
					   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	static const uint8_t all2[] = {I16(9), I16(2), I32(6), CID, GRP, I32(-1)};
	request_vector(all2, sizeof(all2), &h, &b);
	assert_int_equal(BODY(b, struct kc_offset_fetch_req)->topics.count, -1);

	static const uint8_t r1[] = {I32(6), I32(1), TOP, I32(1),
				     I32(0), I64(42), NUL16, I16(0)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_OFFSET_FETCH, 1, r1, sizeof(r1), &rh, &rb);
	const struct kc_offset_fetch_resp *r = BODY(rb, struct kc_offset_fetch_resp);
	assert_int_equal(r->throttle_time_ms, 0);
	assert_int_equal(r->error_code, 0);                /* v2-7 */
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	const struct kc_offset_fetch_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[0].committed_offset, 42);
	assert_int_equal(rp[0].committed_leader_epoch, -1); /* v5-7 */
	assert_str(rp[0].metadata, NULL);

	static const uint8_t r5[] = {I32(6), I32(0), I32(1), TOP, I32(1),
				     I32(3), I64(-1), I32(2), I16(0), I16(0),
				     I16(0)};
	response_vector(KC_API_OFFSET_FETCH, 5, r5, sizeof(r5), &rh, &rb);
	r = BODY(rb, struct kc_offset_fetch_resp);
	rt = r->topics.items;
	rp = rt[0].partitions.items;
	assert_int_equal(rp[0].partition_index, 3);
	assert_int_equal(rp[0].committed_offset, -1);
	assert_int_equal(rp[0].committed_leader_epoch, 2);
	assert_str(rp[0].metadata, "");
}

/* ---- DescribeGroups, ListGroups ---- */

static void test_describe_groups(void **state)
{
	(void)state;
	static const uint8_t v0[] = {I16(15), I16(0), I32(8), CID,
				     I32(2), GRP, 0x00, 0x01, 'x'};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	const struct kc_describe_groups_req *q =
		BODY(b, struct kc_describe_groups_req);
	assert_int_equal(q->groups.count, 2);
	const struct kc_str *ids = q->groups.items;
	assert_str(ids[0], "grp");
	assert_str(ids[1], "x");
	assert_false(q->include_authorized_operations);
	static const uint8_t v3[] = {I16(15), I16(3), I32(8), CID,
				     I32(1), GRP, 0x01};
	request_vector(v3, sizeof(v3), &h, &b);
	assert_true(BODY(b, struct kc_describe_groups_req)
			    ->include_authorized_operations);

	static const uint8_t r0[] = {
		I32(8), I32(1), I16(0), GRP,
		0x00, 0x06, 'S', 't', 'a', 'b', 'l', 'e',
		0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
		0x00, 0x05, 'r', 'a', 'n', 'g', 'e',
		I32(1), MEM, CID, I16(0), I32(1), 0x01, I32(2), 0x02, 0x03,
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_DESCRIBE_GROUPS, 0, r0, sizeof(r0), &rh, &rb);
	const struct kc_describe_groups_resp *r =
		BODY(rb, struct kc_describe_groups_resp);
	const struct kc_described_group *d = r->groups.items;
	assert_int_equal(r->throttle_time_ms, 0);
	assert_str(d[0].group_state, "Stable");
	assert_str(d[0].protocol_data, "range");
	assert_int_equal(d[0].authorized_operations, INT32_MIN); /* v3+ */
	const struct kc_described_group_member *m = d[0].members.items;
	assert_str(m[0].member_id, "m1");
	assert_str(m[0].group_instance_id, NULL);         /* v4+ */
	assert_str(m[0].client_id, "c");
	assert_str(m[0].client_host, "");
	assert_bytes(m[0].member_metadata, "\x01", 1);
	assert_bytes(m[0].member_assignment, "\x02\x03", 2);

	static const uint8_t r4[] = {
		I32(8), I32(0), I32(1), I16(0), GRP,
		0x00, 0x05, 'E', 'm', 'p', 't', 'y', I16(0), I16(0),
		I32(1), MEM, 0x00, 0x01, 'i', CID, I16(0), I32(0), I32(0),
		I32(328),
	};
	response_vector(KC_API_DESCRIBE_GROUPS, 4, r4, sizeof(r4), &rh, &rb);
	d = BODY(rb, struct kc_describe_groups_resp)->groups.items;
	m = d[0].members.items;
	assert_str(d[0].group_state, "Empty");
	assert_str(m[0].group_instance_id, "i");
	assert_int_equal(d[0].authorized_operations, 328);
}

static void test_list_groups(void **state)
{
	(void)state;
	/* no body at all before v3 */
	static const uint8_t v0[] = {I16(16), I16(0), I32(9), CID};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	assert_int_equal(h.api_key, KC_API_LIST_GROUPS);
	assert_int_equal(kc_request_header_version(KC_API_LIST_GROUPS, 2), 1);

	static const uint8_t r0[] = {I32(9), I16(0), I32(2), GRP,
				     0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm',
				     'e', 'r', 0x00, 0x01, 'x', I16(0)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_LIST_GROUPS, 0, r0, sizeof(r0), &rh, &rb);
	const struct kc_list_groups_resp *r = BODY(rb, struct kc_list_groups_resp);
	assert_int_equal(r->groups.count, 2);
	const struct kc_listed_group *g = r->groups.items;
	assert_str(g[0].group_id, "grp");
	assert_str(g[0].protocol_type, "consumer");
	assert_str(g[1].protocol_type, "");
	static const uint8_t r2[] = {I32(9), I32(3), I16(0), I32(0)};
	response_vector(KC_API_LIST_GROUPS, 2, r2, sizeof(r2), &rh, &rb);
	assert_int_equal(BODY(rb, struct kc_list_groups_resp)->throttle_time_ms, 3);
}

/* ---- DeleteGroups ---- */

static void test_delete_groups(void **state)
{
	(void)state;
	static const uint8_t v0[] = {I16(42), I16(0), I32(5), CID,
				     I32(2), GRP, 0x00, 0x01, 'x'};
	struct kc_request_header h;
	union kc_request b;
	request_vector(v0, sizeof(v0), &h, &b);
	const struct kc_delete_groups_req *q =
		BODY(b, struct kc_delete_groups_req);
	assert_int_equal(q->groups_names.count, 2);
	const struct kc_str *ids = q->groups_names.items;
	assert_str(ids[0], "grp");
	assert_str(ids[1], "x");
	assert_int_equal(kc_request_header_version(KC_API_DELETE_GROUPS, 1), 1);

	/* v2 is flexible: request header v2 (the client id keeps its int16
	 * length, then tagged fields), compact lengths, tagged fields */
	static const uint8_t v2[] = {I16(42), I16(2), I32(5), CID, 0x00,
				     0x03, 0x04, 'g', 'r', 'p', 0x02, 'x', 0x00};
	request_vector(v2, sizeof(v2), &h, &b);
	q = BODY(b, struct kc_delete_groups_req);
	assert_int_equal(q->groups_names.count, 2);
	ids = q->groups_names.items;
	assert_str(ids[0], "grp");
	assert_str(ids[1], "x");
	assert_int_equal(kc_request_header_version(KC_API_DELETE_GROUPS, 2), 2);

	static const uint8_t r0[] = {I32(5), I32(0), I32(2), GRP, I16(0),
				     0x00, 0x01, 'x', I16(69)};
	struct kc_response_header rh;
	union kc_response rb;
	response_vector(KC_API_DELETE_GROUPS, 0, r0, sizeof(r0), &rh, &rb);
	const struct kc_delete_groups_resp *r =
		BODY(rb, struct kc_delete_groups_resp);
	assert_int_equal(rh.correlation_id, 5);
	assert_int_equal(r->results.count, 2);
	const struct kc_deletable_group_result *res = r->results.items;
	assert_str(res[0].group_id, "grp");
	assert_int_equal(res[0].error_code, 0);
	assert_str(res[1].group_id, "x");
	assert_int_equal(res[1].error_code, KC_ERR_GROUP_ID_NOT_FOUND);

	/* response header v1: the correlation id, then tagged fields */
	static const uint8_t r2[] = {I32(5), 0x00, I32(7), 0x03,
				     0x04, 'g', 'r', 'p', I16(68), 0x00,
				     0x02, 'x', I16(24), 0x00, 0x00};
	response_vector(KC_API_DELETE_GROUPS, 2, r2, sizeof(r2), &rh, &rb);
	r = BODY(rb, struct kc_delete_groups_resp);
	assert_int_equal(r->throttle_time_ms, 7);
	res = r->results.items;
	assert_int_equal(res[0].error_code, KC_ERR_NON_EMPTY_GROUP);
	assert_int_equal(res[1].error_code, KC_ERR_INVALID_GROUP_ID);
	assert_int_equal(kc_response_header_version(KC_API_DELETE_GROUPS, 2), 1);
}

/* ---- every API at every supported version ---- */

/* One request and one response body per API with every field set (to
 * values that are not the defaults), valid at every supported version. */
static const struct kc_join_group_req_protocol jg_protocols[] = {
	{{"range", 5}, {(const uint8_t *)"\x00\x01", 2}},
	{{"rr", 2}, {(const uint8_t *)"", 0}},
};
static const struct kc_join_group_resp_member jg_members[] = {
	{{"m1", 2}, {"i1", 2}, {(const uint8_t *)"\x05", 1}},
	{{"m2", 2}, {NULL, -1}, {(const uint8_t *)"", 0}},
};
static const struct kc_offset_commit_req_partition oc_partitions[] = {
	{0, 42, 7, 1000, {"meta", 4}},
	{5, -1, -1, -1, {NULL, -1}},
};
static const struct kc_offset_commit_req_topic oc_topics[] = {
	{{"t1", 2}, {{0}}, {(void *)oc_partitions, 2}},
	{{"t2", 2}, {{0}}, {NULL, 0}},
};
static const struct kc_offset_commit_resp_partition oc_resp_partitions[] = {
	{0, 0}, {5, KC_ERR_OFFSET_METADATA_TOO_LARGE},
};
static const struct kc_offset_commit_resp_topic oc_resp_topics[] = {
	{{"t1", 2}, {{0}}, {(void *)oc_resp_partitions, 2}},
};
static const int32_t of_indexes[] = {0, 1, 7};
static const struct kc_offset_fetch_req_topic of_topics[] = {
	{{"t1", 2}, {(void *)of_indexes, 3}},
};
static const struct kc_offset_fetch_resp_partition of_resp_partitions[] = {
	{0, 42, 3, {"m", 1}, 0}, {1, -1, -1, {"", 0}, 0},
	{7, 9, -1, {NULL, -1}, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION},
};
static const struct kc_offset_fetch_resp_topic of_resp_topics[] = {
	{{"t1", 2}, {(void *)of_resp_partitions, 3}},
};
static const struct kc_leave_group_req_member lg_members[] = {
	{.member_id = {"m1", 2}, .group_instance_id = {NULL, -1}},
	{.member_id = {"m2", 2}, .group_instance_id = {"i2", 2}},
};
static const struct kc_leave_group_resp_member lg_resp_members[] = {
	{{"m1", 2}, {NULL, -1}, 0}, {{"m2", 2}, {"i2", 2}, 25},
};
static const struct kc_sync_group_req_assignment sg_assignments[] = {
	{{"m1", 2}, {(const uint8_t *)"\x01\x02\x03", 3}},
	{{"m2", 2}, {(const uint8_t *)"", 0}},
};
static const struct kc_str dg_ids[] = {{"g1", 2}, {"", 0}};
static const struct kc_described_group_member dg_members[] = {
	{{"m1", 2}, {"i1", 2}, {"c", 1}, {"/1.2.3.4", 8},
	 {(const uint8_t *)"\x09", 1}, {(const uint8_t *)"\x08\x07", 2}},
};
static const struct kc_described_group dg_groups[] = {
	{0, {NULL, -1}, {"g1", 2}, {"Stable", 6}, {"consumer", 8}, {"range", 5},
	 {(void *)dg_members, 1}, 328},
	{0, {NULL, -1}, {"g2", 2}, {"Dead", 4}, {"", 0}, {"", 0}, {NULL, 0}, INT32_MIN},
};
static const struct kc_listed_group lgs_groups[] = {
	{.group_id = {"g1", 2}, .protocol_type = {"consumer", 8}},
	{.group_id = {"g2", 2}, .protocol_type = {"", 0}},
};
static const struct kc_str dlg_ids[] = {{"g1", 2}, {"", 0}};
static const struct kc_deletable_group_result dlg_results[] = {
	{{"g1", 2}, 0}, {{"", 0}, KC_ERR_INVALID_GROUP_ID},
};

static void fill_request(int16_t key, union kc_request *u)
{
	memset(u, 0, sizeof(*u));
	switch (key) {
	case KC_API_OFFSET_COMMIT:
		*BODY(*u, struct kc_offset_commit_req) = (struct kc_offset_commit_req){
			S("grp"), 3, S("m1"), S("i1"), 60000,
			{(void *)oc_topics, 2}};
		break;
	case KC_API_OFFSET_FETCH:
		*BODY(*u, struct kc_offset_fetch_req) = (struct kc_offset_fetch_req){
			.group_id = S("grp"), .topics = {(void *)of_topics, 1}};
		break;
	case KC_API_JOIN_GROUP:
		*BODY(*u, struct kc_join_group_req) = (struct kc_join_group_req){
			.group_id = S("grp"), .session_timeout_ms = 10000,
			.rebalance_timeout_ms = 60000, .member_id = S("m1"),
			.group_instance_id = S("i1"),
			.protocol_type = S("consumer"),
			.protocols = {(void *)jg_protocols, 2}};
		break;
	case KC_API_HEARTBEAT:
		*BODY(*u, struct kc_heartbeat_req) = (struct kc_heartbeat_req){
			S("grp"), 2, S("m1"), S("i1")};
		break;
	case KC_API_LEAVE_GROUP:
		*BODY(*u, struct kc_leave_group_req) = (struct kc_leave_group_req){
			S("grp"), S("m1"), {(void *)lg_members, 2}};
		break;
	case KC_API_SYNC_GROUP:
		*BODY(*u, struct kc_sync_group_req) = (struct kc_sync_group_req){
			.group_id = S("grp"), .generation_id = 2,
			.member_id = S("m1"), .group_instance_id = S("i1"),
			.assignments = {(void *)sg_assignments, 2}};
		break;
	case KC_API_DESCRIBE_GROUPS:
		*BODY(*u, struct kc_describe_groups_req) =
			(struct kc_describe_groups_req){{(void *)dg_ids, 2}, true};
		break;
	case KC_API_LIST_GROUPS:
		break;
	case KC_API_DELETE_GROUPS:
		*BODY(*u, struct kc_delete_groups_req) =
			(struct kc_delete_groups_req){{(void *)dlg_ids, 2}};
		break;
	default:
		fail_msg("no request body for key %d", key);
	}
}

static void fill_response(int16_t key, union kc_response *u)
{
	memset(u, 0, sizeof(*u));
	switch (key) {
	case KC_API_OFFSET_COMMIT:
		*BODY(*u, struct kc_offset_commit_resp) = (struct kc_offset_commit_resp){
			11, {(void *)oc_resp_topics, 1}};
		break;
	case KC_API_OFFSET_FETCH:
		*BODY(*u, struct kc_offset_fetch_resp) = (struct kc_offset_fetch_resp){
			.throttle_time_ms = 11,
			.topics = {(void *)of_resp_topics, 1},
			.error_code = KC_ERR_UNKNOWN_MEMBER_ID};
		break;
	case KC_API_JOIN_GROUP:
		*BODY(*u, struct kc_join_group_resp) = (struct kc_join_group_resp){
			.throttle_time_ms = 11, .error_code = 0,
			.generation_id = 4, .protocol_name = S("range"),
			.leader = S("m1"), .member_id = S("m1"),
			.members = {(void *)jg_members, 2}};
		break;
	case KC_API_HEARTBEAT:
		*BODY(*u, struct kc_heartbeat_resp) = (struct kc_heartbeat_resp){
			11, KC_ERR_REBALANCE_IN_PROGRESS};
		break;
	case KC_API_LEAVE_GROUP:
		*BODY(*u, struct kc_leave_group_resp) = (struct kc_leave_group_resp){
			11, 0, {(void *)lg_resp_members, 2}};
		break;
	case KC_API_SYNC_GROUP:
		*BODY(*u, struct kc_sync_group_resp) = (struct kc_sync_group_resp){
			.throttle_time_ms = 11, .error_code = 0,
			.assignment = B("assigned")};
		break;
	case KC_API_DESCRIBE_GROUPS:
		*BODY(*u, struct kc_describe_groups_resp) =
			(struct kc_describe_groups_resp){11, {(void *)dg_groups, 2}};
		break;
	case KC_API_LIST_GROUPS:
		*BODY(*u, struct kc_list_groups_resp) = (struct kc_list_groups_resp){
			11, 0, {(void *)lgs_groups, 2}};
		break;
	case KC_API_DELETE_GROUPS:
		*BODY(*u, struct kc_delete_groups_resp) =
			(struct kc_delete_groups_resp){11, {(void *)dlg_results, 2}};
		break;
	default:
		fail_msg("no response body for key %d", key);
	}
}

static const int16_t group_keys[] = {
	KC_API_OFFSET_COMMIT, KC_API_OFFSET_FETCH, KC_API_JOIN_GROUP,
	KC_API_HEARTBEAT, KC_API_LEAVE_GROUP, KC_API_SYNC_GROUP,
	KC_API_DESCRIBE_GROUPS, KC_API_LIST_GROUPS, KC_API_DELETE_GROUPS,
};

/* The windows the brief fixes, none of them flexible but DeleteGroups'. */
static void test_api_table(void **state)
{
	(void)state;
	/* every version Kafka 3.9 or 4.3 defines (kmax: the newest, OffsetCommit
	 * and OffsetFetch v10 with topic ids, DescribeGroups v6); the highest
	 * is flexible */
	static const struct { int16_t key, lo, hi, kmax, flex; const char *name; } want[] = {
		{8, 0, 10, 10, 8, "OffsetCommit"}, {9, 0, 10, 10, 6, "OffsetFetch"},
		{10, 0, 6, 6, 3, "FindCoordinator"},
		{11, 0, 9, 9, 6, "JoinGroup"}, {12, 0, 4, 4, 4, "Heartbeat"},
		{13, 0, 5, 5, 4, "LeaveGroup"}, {14, 0, 5, 5, 4, "SyncGroup"},
		{15, 0, 6, 6, 5, "DescribeGroups"}, {16, 0, 5, 5, 3, "ListGroups"},
		{47, 0, 0, 0, KC_VERSION_ANY, "OffsetDelete"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct kc_api *api = kc_api_find(want[i].key);
		assert_non_null(api);
		assert_string_equal(api->name, want[i].name);
		assert_int_equal(api->min_version, want[i].lo);
		assert_int_equal(api->max_version, want[i].hi);
		assert_int_equal(api->kafka_max, want[i].kmax);
		assert_int_equal(api->flexible_min, want[i].flex);
		bool flex = want[i].hi >= want[i].flex;
		assert_int_equal(kc_request_header_version(want[i].key,
							   want[i].hi),
				 flex ? 2 : 1);
		assert_int_equal(kc_response_header_version(want[i].key,
							    want[i].hi),
				 flex ? 1 : 0);
		assert_int_equal(kc_request_header_version(want[i].key, 0), 1);
	}
	/* DeleteGroups: all of Kafka's versions but v3 (an ErrorMessage),
	 * the last one flexible */
	const struct kc_api *api = kc_api_find(KC_API_DELETE_GROUPS);
	assert_non_null(api);
	assert_string_equal(api->name, "DeleteGroups");
	assert_int_equal(api->min_version, 0);
	assert_int_equal(api->max_version, 2);
	assert_int_equal(api->flexible_min, 2);
}

static void test_round_trip_every_version(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(group_keys) / sizeof(group_keys[0]); k++) {
		const struct kc_api *api = kc_api_find(group_keys[k]);
		assert_non_null(api);
		for (int16_t v = api->min_version; v <= api->max_version; v++) {
			uint8_t b1[1024], b2[1024];
			struct kc_request_header h = {api->key, v, 1000 + v,
						      S("client")};
			union kc_request q, q2;
			struct kc_request_header h2;
			fill_request(api->key, &q);
			long n = kc_encode_request(&h, &q, b1, sizeof(b1));
			if (n <= 0)
				fail_msg("%s v%d request: %ld", api->name, v, n);
			assert_int_equal(kc_decode_request(b1, (size_t)n, &h2, &q2,
							   fresh_arena()), n);
			assert_int_equal(h2.correlation_id, 1000 + v);
			assert_int_equal(kc_encode_request(&h2, &q2, b2,
							   sizeof(b2)), n);
			assert_memory_equal(b1, b2, (size_t)n);
			request_rejects_cuts(b1, (size_t)n);

			struct kc_response_header rh = {2000 + v}, rh2;
			union kc_response r, r2;
			fill_response(api->key, &r);
			n = kc_encode_response(api->key, v, &rh, &r, b1,
					       sizeof(b1));
			if (n <= 0)
				fail_msg("%s v%d response: %ld", api->name, v, n);
			assert_int_equal(kc_decode_response(api->key, v, b1,
							    (size_t)n, &rh2, &r2,
							    fresh_arena()), n);
			assert_int_equal(rh2.correlation_id, 2000 + v);
			assert_int_equal(kc_encode_response(api->key, v, &rh2,
							    &r2, b2, sizeof(b2)),
					 n);
			assert_memory_equal(b1, b2, (size_t)n);
			response_rejects_cuts(api->key, v, b1, (size_t)n);
		}
	}
}

/* A few fields that appear or vanish inside the windows, through a round
 * trip: the decoded struct holds the value where the version carries it and
 * the default elsewhere. */
static void test_version_dependent_fields(void **state)
{
	(void)state;
	uint8_t buf[1024];
	for (int16_t v = 2; v <= 7; v++) {
		struct kc_request_header h = {KC_API_OFFSET_COMMIT, v, 1, S("c")}, h2;
		union kc_request q, q2;
		fill_request(KC_API_OFFSET_COMMIT, &q);
		long n = kc_encode_request(&h, &q, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(kc_decode_request(buf, (size_t)n, &h2, &q2,
						   fresh_arena()), n);
		const struct kc_offset_commit_req *c =
			BODY(q2, struct kc_offset_commit_req);
		const struct kc_offset_commit_req_topic *t = c->topics.items;
		const struct kc_offset_commit_req_partition *p =
			t[0].partitions.items;
		assert_int_equal(c->retention_time_ms, v <= 4 ? 60000 : -1);
		assert_int_equal(p[0].committed_leader_epoch, v >= 6 ? 7 : -1);
		assert_int_equal(p[0].commit_timestamp, -1);
		if (v >= 7)
			assert_str(c->group_instance_id, "i1");
		else
			assert_str(c->group_instance_id, NULL);
	}
	for (int16_t v = 0; v <= 3; v++) {
		struct kc_request_header h = {KC_API_LEAVE_GROUP, v, 1, S("c")}, h2;
		union kc_request q, q2;
		fill_request(KC_API_LEAVE_GROUP, &q);
		long n = kc_encode_request(&h, &q, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(kc_decode_request(buf, (size_t)n, &h2, &q2,
						   fresh_arena()), n);
		const struct kc_leave_group_req *l = BODY(q2, struct kc_leave_group_req);
		assert_str(l->member_id, v <= 2 ? "m1" : "");
		assert_int_equal(l->members.count, v <= 2 ? 0 : 2);
	}
	for (int16_t v = 0; v <= 4; v++) {
		struct kc_response_header rh = {1}, rh2;
		union kc_response r, r2;
		fill_response(KC_API_DESCRIBE_GROUPS, &r);
		long n = kc_encode_response(KC_API_DESCRIBE_GROUPS, v, &rh, &r,
					    buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(kc_decode_response(KC_API_DESCRIBE_GROUPS, v, buf,
						    (size_t)n, &rh2, &r2,
						    fresh_arena()), n);
		const struct kc_describe_groups_resp *d =
			BODY(r2, struct kc_describe_groups_resp);
		const struct kc_described_group *dg = d->groups.items;
		const struct kc_described_group_member *m = dg[0].members.items;
		assert_int_equal(d->throttle_time_ms, v >= 1 ? 11 : 0);
		assert_int_equal(dg[0].authorized_operations,
				 v >= 3 ? 328 : INT32_MIN);
		if (v >= 4)
			assert_str(m[0].group_instance_id, "i1");
		else
			assert_str(m[0].group_instance_id, NULL);
	}
}

static void test_unsupported_versions(void **state)
{
	(void)state;
	static const int16_t bad[][2] = {
		{8, 11}, {8, -1}, {9, 11}, {10, 7}, {11, 10}, {11, -1},
		{12, 5}, {13, 6}, {14, 6}, {15, 7}, {16, 6}, {47, 1},
		{42, 3}, {42, -1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t req[] = {I16(bad[i][0]), I16(bad[i][1]), I32(77), NUL16,
				 I32(0), I32(0)};
		struct kc_request_header h;
		union kc_request b;
		assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b,
						   fresh_arena()),
				 -SN_ERR_UNSUPPORTED_VERSION);
		assert_int_equal(h.correlation_id, 77);
	}
}

static void test_encode_rejects(void **state)
{
	(void)state;
	uint8_t out[256];
	/* a null member id (never nullable) */
	struct kc_request_header h = {KC_API_HEARTBEAT, 0, 1, S("c")};
	union kc_request q;
	fill_request(KC_API_HEARTBEAT, &q);
	BODY(q, struct kc_heartbeat_req)->member_id = (struct kc_str){NULL, -1};
	assert_int_equal(kc_encode_request(&h, &q, out, sizeof(out)), -EINVAL);
	/* a null topic array in OffsetFetch v1 (nullable from v2) */
	h = (struct kc_request_header){KC_API_OFFSET_FETCH, 1, 1, S("c")};
	fill_request(KC_API_OFFSET_FETCH, &q);
	BODY(q, struct kc_offset_fetch_req)->topics = (struct kc_array){NULL, -1};
	assert_int_equal(kc_encode_request(&h, &q, out, sizeof(out)), -EINVAL);
	h.api_version = 2;
	assert_true(kc_encode_request(&h, &q, out, sizeof(out)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_group_v0),
		cmocka_unit_test(test_join_group_v5),
		cmocka_unit_test(test_sync_group),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_leave_group),
		cmocka_unit_test(test_offset_commit),
		cmocka_unit_test(test_offset_fetch),
		cmocka_unit_test(test_describe_groups),
		cmocka_unit_test(test_list_groups),
		cmocka_unit_test(test_delete_groups),
		cmocka_unit_test(test_api_table),
		cmocka_unit_test(test_round_trip_every_version),
		cmocka_unit_test(test_version_dependent_fields),
		cmocka_unit_test(test_unsupported_versions),
		cmocka_unit_test(test_encode_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
