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

	/* not sent, tagged field 1 (FinalizedFeaturesEpoch) has its default */
	assert_int_equal(rb.api_versions.finalized_features_epoch, -1);
	/* sent, it is decoded (test_tagged_fields has more) */
	static const uint8_t tagged[] = {I32(1), I16(0), 0x02,
					 I16(18), I16(0), I16(3), 0x00,
					 I32(0), 0x01, 0x01, 0x08, I64(5)};
	assert_int_equal(kc_decode_response(18, 3, tagged, sizeof(tagged), &rh,
					    &rb, fresh_arena()),
			 (long)sizeof(tagged));
	assert_int_equal(rb.api_versions.api_keys.count, 1);
	assert_int_equal(rb.api_versions.finalized_features_epoch, 5);
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
	static const int16_t bad[][2] = {{18, 5}, {18, -1}, {3, 14}, {3, -1},
					 {2, 12}, {2, -1}, {0, 14}, {1, 19},
					 {-1, 0}};
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

/* ---- the types and tagged fields the generated schemas brought ---- */

/* Decode v (a body of schema s), compare with re-encoding, and every strict
 * prefix is INVALID_REQUEST. */
static void body_round_trip(const struct kc_schema *s, int16_t ver, bool flex,
			    const uint8_t *v, size_t n, void *out)
{
	uint8_t enc[512];
	_Alignas(8) uint8_t tmp[KC_BODY_MAX];
	assert_int_equal(kc_decode(s, ver, flex, v, n, out, fresh_arena()),
			 (long)n);
	assert_int_equal(kc_encode(s, ver, flex, out, enc, sizeof(enc)),
			 (long)n);
	assert_memory_equal(enc, v, n);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(kc_decode(s, ver, flex, v, cut, tmp,
					   scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	assert_int_equal(kc_decode(s, ver, flex, v, n, out, fresh_arena()),
			 (long)n);
}

#define UUID16 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, \
	       0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10

/* ApiVersionsResponse v3 (ApiVersionsResponse.json): SupportedFeatures tag
 * 0 ([]SupportedFeatureKey), FinalizedFeaturesEpoch tag 1 (int64, default
 * -1), FinalizedFeatures tag 2, ZkMigrationReady tag 3 (bool, default
 * false).  Tags known to the schema are decoded; sent back only when not
 * at their default, by increasing tag; an unknown tag is skipped. */
static void test_tagged_fields(void **state)
{
	(void)state;
	static const uint8_t resp[] = {
		I32(9), I16(0), 0x02, I16(18), I16(0), I16(3), 0x00, I32(0),
		0x03,                                  /* three tags */
		0x00, 0x09,                            /* tag 0, 9 bytes */
		0x02, 0x03, 'm', 'v', I16(1), I16(4), 0x00,
		0x01, 0x08, I64(5),                    /* tag 1, int64 */
		0x03, 0x01, 0x01,                      /* tag 3, bool */
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_round_trip(18, 3, resp, sizeof(resp), &rh, &rb);
	const struct kc_api_versions_resp *r = &rb.api_versions;
	assert_int_equal(r->supported_features.count, 1);
	const struct kc_api_versions_resp_supported_feature_key *f =
		r->supported_features.items;
	assert_str(f[0].name, "mv");
	assert_int_equal(f[0].min_version, 1);
	assert_int_equal(f[0].max_version, 4);
	assert_int_equal(r->finalized_features_epoch, 5);
	assert_int_equal(r->finalized_features.count, 0);
	assert_true(r->zk_migration_ready);

	/* encoding from the defaults sends no tag; one field off its
	 * default sends that one */
	uint8_t out[128];
	const struct kc_api *api = kc_api_find(KC_API_API_VERSIONS);
	struct kc_api_versions_resp d;
	kc_defaults(api->response, &d);
	assert_int_equal(d.finalized_features_epoch, -1);
	static const uint8_t plain[] = {I16(0), 0x01, I32(0), 0x00};
	assert_int_equal(kc_encode(api->response, 3, true, &d, out, sizeof(out)),
			 (long)sizeof(plain));
	assert_memory_equal(out, plain, sizeof(plain));
	d.zk_migration_ready = true;
	static const uint8_t one[] = {I16(0), 0x01, I32(0), 0x01, 0x03, 0x01,
				      0x01};
	assert_int_equal(kc_encode(api->response, 3, true, &d, out, sizeof(out)),
			 (long)sizeof(one));
	assert_memory_equal(out, one, sizeof(one));
	/* no room for the tag: refused, not cut */
	assert_int_equal(kc_encode(api->response, 3, true, &d, out,
				   sizeof(one) - 1),
			 -ENOBUFS);
	/* the same field in a non-flexible version does not exist */
	assert_int_equal(kc_encode(api->response, 2, false, &d, out, sizeof(out)),
			 (long)(2 + 4 + 4));

	/* a tag at its default is read, and not sent back; unknown tag 7 is
	 * skipped and dropped */
	static const uint8_t dflt[] = {I16(0), 0x01, I32(0), 0x02,
				       0x01, 0x08, I64(-1),
				       0x07, 0x02, 0xaa, 0xbb};
	assert_int_equal(kc_decode(api->response, 3, true, dflt, sizeof(dflt),
				   &d, fresh_arena()),
			 (long)sizeof(dflt));
	assert_int_equal(d.finalized_features_epoch, -1);
	assert_false(d.zk_migration_ready);
	assert_int_equal(kc_encode(api->response, 3, true, &d, out, sizeof(out)),
			 (long)sizeof(plain));
	assert_memory_equal(out, plain, sizeof(plain));

	/* a tag whose value does not fill its size, or overruns it */
	static const uint8_t short_val[] = {I16(0), 0x01, I32(0), 0x01,
					    0x01, 0x09, I64(5), 0x00};
	static const uint8_t long_val[] = {I16(0), 0x01, I32(0), 0x01,
					   0x03, 0x00, 0x01};
	assert_int_equal(kc_decode(api->response, 3, true, short_val,
				   sizeof(short_val), &d, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	assert_int_equal(kc_decode(api->response, 3, true, long_val,
				   sizeof(long_val), &d, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* DeleteTopicsRequest v6 (flexible): Topics [{Name nullable, TopicId uuid}],
 * TimeoutMs: a uuid is its 16 bytes as they are. */
static void test_uuid(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		0x03,                       /* two topics */
		0x00, UUID16, 0x00,         /* null name, by id */
		0x04, 'f', 'o', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0x00,              /* by name, zero id */
		I32(30000), 0x00,
	};
	static const uint8_t id[16] = {UUID16};
	const struct kc_api *api = kc_api_spec(KC_API_DELETE_TOPICS);
	assert_non_null(api);
	assert_int_equal(api->kafka_max, 6);
	struct kc_delete_topics_req q;
	body_round_trip(api->request, 6, true, req, sizeof(req), &q);
	assert_int_equal(q.topics.count, 2);
	const struct kc_delete_topics_req_topic *t = q.topics.items;
	assert_str(t[0].name, NULL);
	assert_memory_equal(t[0].topic_id.b, id, 16);
	assert_str(t[1].name, "foo");
	assert_int_equal(t[1].topic_id.b[0] | t[1].topic_id.b[15], 0);
	assert_int_equal(q.timeout_ms, 30000);
	/* a uuid cut short */
	assert_int_equal(kc_decode(api->request, 6, true, req, 10, &q,
				   fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* ConsumerGroupHeartbeatResponse v0: Assignment is a nullable struct field
 * (an int8 before it: -1 null, 1 present) holding an array, and ending with
 * its own tagged-field section. */
static void test_struct_field(void **state)
{
	(void)state;
	static const uint8_t present[] = {
		I32(0), I16(0), 0x00, 0x02, 'm', I32(3), I32(5000),
		0x01,                              /* Assignment present */
		0x02, UUID16, 0x03, I32(0), I32(1), 0x00, /* 1 topic, 2 parts */
		0x00,                              /* Assignment's tags */
		0x00,                              /* body's tags */
	};
	static const uint8_t absent[] = {
		I32(0), I16(0), 0x00, 0x02, 'm', I32(3), I32(5000),
		0xff,                              /* Assignment null */
		0x00,
	};
	const struct kc_api *api = kc_api_spec(KC_API_CONSUMER_GROUP_HEARTBEAT);
	assert_non_null(api);
	assert_true(api->min_version == 0 && api->max_version == 1); /* served */
	struct kc_consumer_group_heartbeat_resp r;
	body_round_trip(api->response, 0, true, present, sizeof(present), &r);
	assert_str(r.error_message, NULL);
	assert_str(r.member_id, "m");
	assert_int_equal(r.member_epoch, 3);
	assert_true(r.has_assignment);
	assert_int_equal(r.assignment.topic_partitions.count, 1);
	const struct kc_consumer_group_heartbeat_resp_topic_partitions *tp =
		r.assignment.topic_partitions.items;
	assert_int_equal(tp[0].topic_id.b[0], 0x01);
	assert_int_equal(tp[0].partitions.count, 2);
	assert_int_equal(((const int32_t *)tp[0].partitions.items)[1], 1);
	body_round_trip(api->response, 0, true, absent, sizeof(absent), &r);
	assert_false(r.has_assignment);
	/* the default is null: defaults encode as absent */
	uint8_t out[64];
	kc_defaults(api->response, &r);
	assert_false(r.has_assignment);
	r.member_id = (struct kc_str){"m", 1};
	r.member_epoch = 3;
	r.heartbeat_interval_ms = 5000;
	assert_int_equal(kc_encode(api->response, 0, true, &r, out, sizeof(out)),
			 (long)sizeof(absent));
	assert_memory_equal(out, absent, sizeof(absent));
}

/* FetchRequest v15: ReplicaState is a tagged struct (tag 1, fields default
 * -1), sent only when a field differs; ClusterId (tag 0) is a nullable
 * string whose default is null. */
static void test_tagged_struct(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I32(500), I32(1), I32(1 << 20), 0x00, I32(0), I32(-1),
		0x01, 0x01, 0x01,                 /* no topics, no forgotten, "" */
		0x02,                             /* two tags */
		0x00, 0x02, 0x02, 'c',            /* ClusterId "c" */
		0x01, 0x0d, I32(7), I64(9), 0x00, /* ReplicaState {7, 9} */
	};
	const struct kc_api *api = kc_api_spec(KC_API_FETCH);
	struct kc_fetch_req q;
	body_round_trip(api->request, 15, true, req, sizeof(req), &q);
	assert_str(q.cluster_id, "c");
	assert_int_equal(q.replica_state.replica_id, 7);
	assert_int_equal(q.replica_state.replica_epoch, 9);
	assert_int_equal(q.replica_id, -1); /* v0-14 */
	/* not sent, both take their defaults, the struct's fields too */
	static const uint8_t none[] = {
		I32(500), I32(1), I32(1 << 20), 0x00, I32(0), I32(-1),
		0x01, 0x01, 0x01, 0x00,
	};
	body_round_trip(api->request, 15, true, none, sizeof(none), &q);
	assert_str(q.cluster_id, NULL);
	assert_int_equal(q.replica_state.replica_id, -1);
	assert_int_equal(q.replica_state.replica_epoch, -1);
	body_round_trip(api->request, 15, true, req, sizeof(req), &q);
	/* back at the defaults, neither tag is sent */
	q.cluster_id = (struct kc_str){NULL, -1};
	q.replica_state.replica_id = -1;
	q.replica_state.replica_epoch = -1;
	uint8_t out[64];
	assert_int_equal(kc_encode(api->request, 15, true, &q, out, sizeof(out)),
			 (long)(4 + 4 + 4 + 1 + 4 + 4 + 3 + 1));
	assert_int_equal(out[24], 0x00); /* no tags */
	/* one field of the struct off its default sends the whole struct */
	q.replica_state.replica_epoch = 2;
	static const uint8_t tail[] = {0x01, 0x01, 0x0d, I32(-1), I64(2), 0x00};
	long n = kc_encode(api->request, 15, true, &q, out, sizeof(out));
	assert_int_equal(n, 24 + (long)sizeof(tail));
	assert_memory_equal(out + 24, tail, sizeof(tail));
}

/* float64, uint16 and uint32 (no message sluice generates uses them yet;
 * DescribeClientQuotas and BrokerRegistration do): big-endian, the double
 * as its IEEE 754 bits; a tagged float64 is sent only off its default. */
struct num_test {
	double d;
	uint16_t u16;
	uint32_t u32;
	double t;
};
static const struct kc_field num_f[] = {
	{"D", KC_FLOAT64, 0, KC_VERSION_ANY, KC_VERSION_ANY, KC_VERSION_ANY, 0,
	 offsetof(struct num_test, d), 0, 0, NULL, NULL},
	{"U16", KC_UINT16, 0, KC_VERSION_ANY, KC_VERSION_ANY, KC_VERSION_ANY,
	 0, offsetof(struct num_test, u16), 0, 0, NULL, NULL},
	{"U32", KC_UINT32, 0, KC_VERSION_ANY, KC_VERSION_ANY, KC_VERSION_ANY,
	 0, offsetof(struct num_test, u32), 0, 0, NULL, NULL},
	/* default 1.0: 0x3ff0000000000000 */
	{"T", KC_FLOAT64, 0, KC_VERSION_ANY, KC_VERSION_ANY, 0, 4,
	 offsetof(struct num_test, t), 0, 0x3ff0000000000000, NULL, NULL},
};
static const struct kc_schema num_schema = {
	"num_test", sizeof(struct num_test), 4, num_f, false};

static void test_numbers(void **state)
{
	(void)state;
	static const uint8_t v[] = {
		0x3f, 0xf8, 0, 0, 0, 0, 0, 0,       /* 1.5 */
		0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, /* 0xbeef, 0xdeadbeef */
		0x01, 0x04, 0x08, 0xc0, 0x04, 0, 0, 0, 0, 0, 0, /* T = -2.5 */
	};
	struct num_test n;
	body_round_trip(&num_schema, 0, true, v, sizeof(v), &n);
	assert_true(n.d == 1.5);
	assert_int_equal(n.u16, 0xbeef);
	assert_int_equal(n.u32, 0xdeadbeef);
	assert_true(n.t == -2.5);
	n.t = 1.0; /* the default: not sent */
	uint8_t out[32];
	assert_int_equal(kc_encode(&num_schema, 0, true, &n, out, sizeof(out)),
			 8 + 2 + 4 + 1);
	assert_memory_equal(out, v, 14);
	assert_int_equal(out[14], 0x00);
	kc_defaults(&num_schema, &n);
	assert_true(n.t == 1.0 && n.d == 0.0);
	/* non-flexible: no tagged section, T keeps its default */
	assert_int_equal(kc_decode(&num_schema, 0, false, v, 14, &n,
				   fresh_arena()),
			 14);
	assert_true(n.t == 1.0);
}

/* The API table: every served range lies within Kafka's, the schemas
 * cover every Kafka version, and the unserved APIs are not found by the
 * request path. */
/* The helpers of code that builds answers. */
static void test_answer_helpers(void **state)
{
	(void)state;
	static _Alignas(8) uint8_t mem[64];
	struct kc_arena a = { mem, sizeof(mem), 3 };
	uint8_t *p = kc_arena_take(&a, 2, 8);
	assert_ptr_equal(p, mem + 8); /* aligned past what was used */
	assert_int_equal(a.used, 24);
	assert_null(kc_arena_take(&a, 0, 8));
	assert_null(kc_arena_take(&a, 6, 8)); /* 48 > 40 left */
	assert_int_equal(a.used, 24);
	assert_ptr_equal(kc_arena_take(&a, 5, 8), mem + 24);
	assert_null(kc_arena_take(&a, 1, 1));
	assert_true(kc_str_is((struct kc_str){ "abc", 3 }, "abc", 3));
	assert_false(kc_str_is((struct kc_str){ "abc", 3 }, "abd", 3));
	assert_false(kc_str_is((struct kc_str){ "abc", 3 }, "ab", 2));
	assert_false(kc_str_is((struct kc_str){ NULL, -1 }, "", 0));
	assert_true(kc_str_is((struct kc_str){ "", 0 }, "", 0));
	union kc_response u;
	memset(&u, 0x55, sizeof(u));
	kc_response_init(&u, KC_API_INIT_PRODUCER_ID);
	const struct kc_init_producer_id_resp *r = (const void *)&u;
	assert_int_equal(r->producer_id, -1); /* Kafka's default */
	assert_int_equal(r->throttle_time_ms, 0);
}

static void test_api_table(void **state)
{
	(void)state;
	size_t served = 0;
	for (size_t i = 0; i < kc_apis_n; i++) {
		const struct kc_api *a = &kc_apis[i];
		assert_true(i == 0 || kc_apis[i - 1].key < a->key);
		assert_non_null(a->request);
		assert_non_null(a->response);
		assert_ptr_equal(kc_api_spec(a->key), a);
		if (a->min_version > a->max_version) {
			assert_null(kc_api_find(a->key));
			continue;
		}
		served++;
		assert_ptr_equal(kc_api_find(a->key), a);
		assert_true(a->kafka_min <= a->min_version);
		assert_true(a->max_version <= a->kafka_max);
	}
	/* ElectLeaders, the partition reassignments, UnregisterBroker,
	 * AddRaftVoter, RemoveRaftVoter */
	assert_int_equal(served, 48);
	/* and not served yet: SaslHandshake, SaslAuthenticate */
	assert_int_equal(kc_apis_n, 50);
	size_t n = 0;
	while (kc_api_at(n))
		n++;
	assert_int_equal(n, served);
	assert_null(kc_api_find(KC_API_SASL_HANDSHAKE));
	assert_non_null(kc_api_spec(KC_API_SASL_HANDSHAKE));
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
		cmocka_unit_test(test_tagged_fields),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_struct_field),
		cmocka_unit_test(test_tagged_struct),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_answer_helpers),
		cmocka_unit_test(test_api_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
