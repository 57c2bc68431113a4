/*
 * Unit tests for the table-driven Kafka codec (proto/kafka/).
 *
 * Every vector below is written by hand from Kafka's message definitions
 * (clients/src/main/resources/common/message/<Name>.json) and the protocol
 * primitive types, not produced by the codec: each test decodes it, checks
 * the fields, re-encodes and compares byte for byte.  Every strict prefix of
 * every valid request must be rejected with INVALID_REQUEST.
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

/* For decodes whose result is thrown away, so that the arena holding the
 * struct under test is not overwritten. */
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

#define I32(x) (uint8_t)((uint32_t)(x) >> 24), (uint8_t)((uint32_t)(x) >> 16), \
	       (uint8_t)((uint32_t)(x) >> 8), (uint8_t)(x)
#define I16(x) (uint8_t)((uint16_t)(x) >> 8), (uint8_t)(x)
#define I64(x) I32((uint64_t)(x) >> 32), I32(x)
#define FOO 0x00, 0x03, 'f', 'o', 'o'

/* Decode a request, re-encode it, compare; then every truncation fails. */
static void request_round_trip(const uint8_t *v, size_t n,
			       struct kc_request_header *h, union kc_request *b)
{
	uint8_t out[512];
	assert_int_equal(kc_decode_request(v, n, h, b, fresh_arena()), (long)n);
	long m = kc_encode_request(h, b, out, sizeof(out));
	assert_int_equal(m, (long)n);
	assert_memory_equal(out, v, n);
	for (size_t cut = 0; cut < n; cut++) {
		struct kc_request_header h2;
		union kc_request b2;
		assert_int_equal(kc_decode_request(v, cut, &h2, &b2, scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	}
	/* the encoder refuses every buffer too small by one or more */
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(kc_encode_request(h, b, out, cap), -ENOBUFS);
	/* one trailing byte is not a valid request either */
	uint8_t longer[520];
	memcpy(longer, v, n);
	longer[n] = 0;
	struct kc_request_header h3;
	union kc_request b3;
	assert_int_equal(kc_decode_request(longer, n + 1, &h3, &b3, scratch_arena()),
			 -SN_ERR_INVALID_REQUEST);
	assert_int_equal(kc_decode_request(v, n, h, b, fresh_arena()), (long)n);
}

static void response_round_trip(int16_t key, int16_t ver, const uint8_t *v,
				size_t n, struct kc_response_header *h,
				union kc_response *b)
{
	uint8_t out[512];
	assert_int_equal(kc_decode_response(key, ver, v, n, h, b, fresh_arena()),
			 (long)n);
	assert_int_equal(kc_encode_response(key, ver, h, b, out, sizeof(out)),
			 (long)n);
	assert_memory_equal(out, v, n);
	for (size_t cut = 0; cut < n; cut++) {
		struct kc_response_header h2;
		union kc_response b2;
		assert_int_equal(kc_decode_response(key, ver, v, cut, &h2, &b2,
						    scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	}
	assert_int_equal(kc_decode_response(key, ver, v, n, h, b, fresh_arena()),
			 (long)n);
}

/* ---- ApiVersions ---- */

static void test_api_versions_v0(void **state)
{
	(void)state;
	static const uint8_t req[] = {I16(18), I16(0), I32(7), 0x00, 0x03,
				      'a', 'b', 'c'};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_int_equal(h.api_key, 18);
	assert_int_equal(h.api_version, 0);
	assert_int_equal(h.correlation_id, 7);
	assert_str(h.client_id, "abc");
	assert_int_equal(b.api_versions.client_software_name.len, 0);

	static const uint8_t resp[] = {I32(7), I16(0), I32(2),
				       I16(3), I16(1), I16(8),
				       I16(18), I16(0), I16(3)};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(18, 0, resp, sizeof(resp), &rh, &rb);
	assert_int_equal(rh.correlation_id, 7);
	assert_int_equal(rb.api_versions.error_code, 0);
	assert_int_equal(rb.api_versions.api_keys.count, 2);
	struct kc_api_version_key *k = rb.api_versions.api_keys.items;
	assert_int_equal(k[0].api_key, 3);
	assert_int_equal(k[0].max_version, 8);
	assert_int_equal(k[1].api_key, 18);
	assert_int_equal(k[1].max_version, 3);
	assert_int_equal(rb.api_versions.throttle_time_ms, 0); /* v1+ */
}

static void test_api_versions_v3(void **state)
{
	(void)state;
	/* header v2: client_id keeps its int16 length, then empty tags */
	static const uint8_t req[] = {I16(18), I16(3), I32(1), 0x00, 0x03,
				      'a', 'b', 'c', 0x00,
				      0x05, 'k', 'c', 'a', 't', /* compact: 4+1 */
				      0x04, '1', '.', '0',
				      0x00};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_int_equal(kc_request_header_version(18, 3), 2);
	assert_str(h.client_id, "abc");
	assert_str(b.api_versions.client_software_name, "kcat");
	assert_str(b.api_versions.client_software_version, "1.0");

	/* response header stays v0 (no tags) even though the body is flexible */
	static const uint8_t resp[] = {I32(1), I16(0), 0x02, /* 1 element */
				       I16(18), I16(0), I16(3), 0x00,
				       I32(0), 0x00};
	struct kc_response_header rh;
	union kc_response rb;
	assert_int_equal(kc_response_header_version(18, 3), 0);
	response_round_trip(18, 3, resp, sizeof(resp), &rh, &rb);
	assert_int_equal(rb.api_versions.api_keys.count, 1);
	struct kc_api_version_key *k = rb.api_versions.api_keys.items;
	assert_int_equal(k[0].max_version, 3);

	/* tagged field 1 (FinalizedFeaturesEpoch, int64) is skipped */
	static const uint8_t tagged[] = {I32(1), I16(0), 0x02,
					 I16(18), I16(0), I16(3), 0x00,
					 I32(0), 0x01, 0x01, 0x08, I64(5)};
	assert_int_equal(kc_decode_response(18, 3, tagged, sizeof(tagged), &rh,
					    &rb, fresh_arena()),
			 (long)sizeof(tagged));
	assert_int_equal(rb.api_versions.api_keys.count, 1);
	/* tags out of order, or a tag longer than the message */
	static const uint8_t bad_order[] = {I32(1), I16(0), 0x01, I32(0), 0x02,
					    0x01, 0x00, 0x01, 0x00};
	assert_int_equal(kc_decode_response(18, 3, bad_order, sizeof(bad_order),
					    &rh, &rb, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	static const uint8_t bad_size[] = {I32(1), I16(0), 0x01, I32(0), 0x01,
					   0x01, 0x09, I64(5)};
	assert_int_equal(kc_decode_response(18, 3, bad_size, sizeof(bad_size),
					    &rh, &rb, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	/* compact null (0) in a non-nullable string */
	static const uint8_t null_name[] = {I16(18), I16(3), I32(1), 0xff, 0xff,
					    0x00, 0x00, 0x01, 0x00};
	assert_int_equal(kc_decode_request(null_name, sizeof(null_name), &h, &b,
					   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	/* overlong varint (6 bytes) */
	static const uint8_t overlong[] = {I16(18), I16(3), I32(1), 0xff, 0xff,
					   0x00, 0x81, 0x80, 0x80, 0x80, 0x80,
					   0x00, 0x01, 0x00};
	assert_int_equal(kc_decode_request(overlong, sizeof(overlong), &h, &b,
					   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* ---- Metadata ---- */

static void test_metadata_v1(void **state)
{
	(void)state;
	static const uint8_t req[] = {I16(3), I16(1), I32(2), 0x00, 0x01, 'c',
				      I32(1), FOO};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_int_equal(b.metadata.topics.count, 1);
	struct kc_metadata_req_topic *t = b.metadata.topics.items;
	assert_str(t[0].name, "foo");
	assert_true(b.metadata.allow_auto_topic_creation); /* v4+ default */

	/* null topics: all topics (nullable from v1) */
	static const uint8_t all[] = {I16(3), I16(1), I32(2), 0xff, 0xff,
				      I32(-1)};
	request_round_trip(all, sizeof(all), &h, &b);
	assert_int_equal(b.metadata.topics.count, -1);
	assert_int_equal(h.client_id.len, -1);

	static const uint8_t resp[] = {
		I32(2),
		I32(1),                                     /* brokers */
		I32(1), 0x00, 0x02, 'h', '1', I32(9092), 0xff, 0xff, /* rack null */
		I32(1),                                     /* controller */
		I32(1),                                     /* topics */
		I16(0), FOO, 0x00,
		I32(1),                                     /* partitions */
		I16(0), I32(0), I32(1), I32(1), I32(1), I32(1), I32(1),
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(3, 1, resp, sizeof(resp), &rh, &rb);
	const struct kc_metadata_resp *m = &rb.metadata;
	assert_int_equal(m->brokers.count, 1);
	const struct kc_metadata_broker *br = m->brokers.items;
	assert_str(br[0].host, "h1");
	assert_int_equal(br[0].port, 9092);
	assert_int_equal(br[0].rack.len, -1);
	assert_int_equal(m->cluster_id.len, -1); /* v2+, nullable default */
	assert_int_equal(m->controller_id, 1);
	const struct kc_metadata_topic *t1 = m->topics.items;
	assert_str(t1[0].name, "foo");
	assert_int_equal(t1[0].topic_authorized_operations, INT32_MIN);
	const struct kc_metadata_partition *p = t1[0].partitions.items;
	assert_int_equal(p[0].leader_id, 1);
	assert_int_equal(p[0].leader_epoch, -1);
	assert_int_equal(p[0].replica_nodes.count, 1);
	assert_int_equal(((int32_t *)p[0].isr_nodes.items)[0], 1);
}

static void test_metadata_v8(void **state)
{
	(void)state;
	static const uint8_t req[] = {I16(3), I16(8), I32(3), 0x00, 0x01, 'c',
				      I32(1), FOO, 0x01, 0x00, 0x01};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_true(b.metadata.allow_auto_topic_creation);
	assert_false(b.metadata.include_cluster_authorized_operations);
	assert_true(b.metadata.include_topic_authorized_operations);

	static const uint8_t resp[] = {
		I32(3),
		I32(0),                                           /* throttle */
		I32(1),
		I32(1), 0x00, 0x02, 'h', '1', I32(9092), 0x00, 0x02, 'r', '1',
		0x00, 0x02, 'c', 'l',                             /* cluster id */
		I32(1),
		I32(1),
		I16(0), FOO, 0x00,
		I32(1),
		I16(0), I32(0), I32(1), I32(5),                   /* epoch 5 */
		I32(2), I32(1), I32(2), I32(1), I32(1), I32(1), I32(2),
		I32(INT32_MIN),                                   /* topic ops */
		I32(0x0f),                                        /* cluster ops */
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(3, 8, resp, sizeof(resp), &rh, &rb);
	const struct kc_metadata_resp *m = &rb.metadata;
	const struct kc_metadata_broker *br = m->brokers.items;
	assert_str(br[0].rack, "r1");
	assert_str(m->cluster_id, "cl");
	assert_int_equal(m->cluster_authorized_operations, 0x0f);
	const struct kc_metadata_topic *t = m->topics.items;
	const struct kc_metadata_partition *p = t[0].partitions.items;
	assert_int_equal(p[0].leader_epoch, 5);
	assert_int_equal(p[0].replica_nodes.count, 2);
	assert_int_equal(p[0].offline_replicas.count, 1);
	assert_int_equal(((int32_t *)p[0].offline_replicas.items)[0], 2);
}

/* ---- ListOffsets ---- */

static void test_list_offsets_v1(void **state)
{
	(void)state;
	static const uint8_t req[] = {I16(2), I16(1), I32(4), 0xff, 0xff,
				      I32(-1), I32(1), FOO, I32(1), I32(0),
				      I64(-2)};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_int_equal(b.list_offsets.replica_id, -1);
	const struct kc_list_offsets_req_topic *t = b.list_offsets.topics.items;
	const struct kc_list_offsets_req_partition *p = t[0].partitions.items;
	assert_int_equal(p[0].timestamp, -2);
	assert_int_equal(p[0].current_leader_epoch, -1);
	assert_int_equal(p[0].max_num_offsets, 1);

	static const uint8_t resp[] = {I32(4), I32(1), FOO, I32(1), I32(0),
				       I16(0), I64(-1), I64(42)};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(2, 1, resp, sizeof(resp), &rh, &rb);
	const struct kc_list_offsets_resp_topic *rt = rb.list_offsets.topics.items;
	const struct kc_list_offsets_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[0].offset, 42);
	assert_int_equal(rp[0].timestamp, -1);
	assert_int_equal(rp[0].leader_epoch, -1);
}

static void test_list_offsets_v5(void **state)
{
	(void)state;
	static const uint8_t req[] = {I16(2), I16(5), I32(5), 0x00, 0x01, 'c',
				      I32(-1), 0x01, I32(1), FOO, I32(1), I32(0),
				      I32(3), I64(-1)};
	struct kc_request_header h;
	union kc_request b;
	request_round_trip(req, sizeof(req), &h, &b);
	assert_int_equal(b.list_offsets.isolation_level, 1);
	const struct kc_list_offsets_req_topic *t = b.list_offsets.topics.items;
	const struct kc_list_offsets_req_partition *p = t[0].partitions.items;
	assert_int_equal(p[0].current_leader_epoch, 3);
	assert_int_equal(p[0].timestamp, -1);

	static const uint8_t resp[] = {I32(5), I32(0), I32(1), FOO, I32(1),
				       I32(0), I16(0), I64(1000), I64(42), I32(3)};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(2, 5, resp, sizeof(resp), &rh, &rb);
	const struct kc_list_offsets_resp_topic *rt = rb.list_offsets.topics.items;
	const struct kc_list_offsets_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[0].timestamp, 1000);
	assert_int_equal(rp[0].leader_epoch, 3);
}

/* ---- rejection ---- */

static void test_unsupported_version(void **state)
{
	(void)state;
	static const int16_t bad[][2] = {{18, 4}, {18, -1}, {3, 0}, {3, 9},
					 {2, 0}, {2, 6}, {0, 2}, {1, 3}, {-1, 0}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t req[] = {I16(bad[i][0]), I16(bad[i][1]), I32(99), 0xff,
				 0xff, I32(0), I32(0), I32(0)};
		struct kc_request_header h;
		union kc_request b;
		assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b,
						   fresh_arena()),
				 -SN_ERR_UNSUPPORTED_VERSION);
		assert_int_equal(h.correlation_id, 99); /* to answer with */
	}
}

static void test_hostile_lengths(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	/* a count the bytes left cannot hold */
	static const uint8_t big[] = {I16(3), I16(1), I32(2), 0xff, 0xff,
				      I32(0x7fffffff), FOO};
	assert_int_equal(kc_decode_request(big, sizeof(big), &h, &b, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	/* null topic name (not nullable before v10); null array in v1 ListOffsets */
	static const uint8_t null_name[] = {I16(3), I16(1), I32(2), 0xff, 0xff,
					    I32(1), 0xff, 0xff};
	assert_int_equal(kc_decode_request(null_name, sizeof(null_name), &h, &b,
					   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	static const uint8_t null_arr[] = {I16(2), I16(1), I32(2), 0xff, 0xff,
					   I32(-1), I32(-1)};
	assert_int_equal(kc_decode_request(null_arr, sizeof(null_arr), &h, &b,
					   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	/* -2 is never a length */
	static const uint8_t neg[] = {I16(3), I16(1), I32(2), 0xff, 0xfe};
	assert_int_equal(kc_decode_request(neg, sizeof(neg), &h, &b, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	/* a valid request that does not fit the arena */
	static const uint8_t req[] = {I16(3), I16(1), I32(2), 0xff, 0xff,
				      I32(2), FOO, FOO};
	_Alignas(8) uint8_t small[16];
	struct kc_arena a = {small, sizeof(small), 0};
	assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b, &a), -ENOBUFS);
	assert_true(a.used <= a.cap);
}

static void test_encode_rejects_null(void **state)
{
	(void)state;
	struct kc_request_header h = {3, 1, 1, {NULL, -1}};
	union kc_request b;
	memset(&b, 0, sizeof(b));
	struct kc_metadata_req_topic t = {.name = {NULL, -1}};
	b.metadata.topics = (struct kc_array){&t, 1};
	uint8_t out[64];
	assert_int_equal(kc_encode_request(&h, &b, out, sizeof(out)), -EINVAL);
	h.api_version = 0; /* unsupported */
	assert_int_equal(kc_encode_request(&h, &b, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_versions_v0),
		cmocka_unit_test(test_api_versions_v3),
		cmocka_unit_test(test_metadata_v1),
		cmocka_unit_test(test_metadata_v8),
		cmocka_unit_test(test_list_offsets_v1),
		cmocka_unit_test(test_list_offsets_v5),
		cmocka_unit_test(test_unsupported_version),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_encode_rejects_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
