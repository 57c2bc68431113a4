/*
 * Unit tests for the Kafka schemas of produce, fetch, producer ids, topics
 * and configs (the generated tables of proto/kafka/gen/kmsg.c).
 *
 * Hand-written vectors: every byte below is written from Kafka's message
 * definitions (clients/src/main/resources/common/message/<Name>.json) and
 * the protocol primitive types, not produced by the codec.  Each is decoded
 * and checked field by field (fields absent from the version get their
 * defaults), re-encoded and compared byte for byte, and every strict prefix
 * and a one-byte extension are rejected with INVALID_REQUEST.  Produce and
 * Fetch have a vector at the lowest and at the highest supported version.
 *
 * Round trips: a filled struct per API (arrays of two, null where the field
 * may be null) is encoded at every supported version, decoded, re-encoded
 * to the same bytes, and every truncation is rejected.
 *
 * Hostile input: lengths and counts the bytes cannot hold, negative lengths,
 * null where a version forbids it, an arena too small, versions outside the
 * supported windows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/kafka/kcodec.h"

static _Alignas(8) uint8_t arena_mem[1 << 16];
static _Alignas(8) uint8_t scratch_mem[1 << 16];
static struct kc_arena arena, scratch;

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
	if (s.len)
		assert_memory_equal(s.ptr, want, strlen(want));
}

#define I32(x) (uint8_t)((uint32_t)(x) >> 24), (uint8_t)((uint32_t)(x) >> 16), \
	       (uint8_t)((uint32_t)(x) >> 8), (uint8_t)(x)
#define I16(x) (uint8_t)((uint16_t)(x) >> 8), (uint8_t)(x)
#define I64(x) I32((uint64_t)(x) >> 32), I32(x)
#define NUL16 0xff, 0xff /* null string */
#define FOO 0x00, 0x03, 'f', 'o', 'o'
#define BAR 0x00, 0x03, 'b', 'a', 'r'
#define RMS 0x00, 0x0c, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', \
	    'm', 's'
#define V1000 0x00, 0x04, '1', '0', '0', '0'

#define BUF_MAX 4096

/* Decode a request, re-encode it, compare; then every truncation and one
 * trailing byte fail.  Leaves h and b decoded (arena: the fresh one). */
static void request_check(const uint8_t *v, size_t n,
			  struct kc_request_header *h, union kc_request *b)
{
	static uint8_t out[BUF_MAX], longer[BUF_MAX + 1];
	assert_true(n < BUF_MAX);
	assert_int_equal(kc_decode_request(v, n, h, b, fresh_arena()), (long)n);
	assert_int_equal(kc_encode_request(h, b, out, sizeof(out)), (long)n);
	assert_memory_equal(out, v, n);
	for (size_t cut = 0; cut < n; cut++) {
		struct kc_request_header h2;
		union kc_request b2;
		assert_int_equal(kc_decode_request(v, cut, &h2, &b2,
						   scratch_arena()),
				 -SN_ERR_INVALID_REQUEST);
	}
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(kc_encode_request(h, b, out, cap), -ENOBUFS);
	memcpy(longer, v, n);
	longer[n] = 0;
	struct kc_request_header h3;
	union kc_request b3;
	assert_int_equal(kc_decode_request(longer, n + 1, &h3, &b3,
					   scratch_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

static void response_check(int16_t key, int16_t ver, const uint8_t *v,
			   size_t n, struct kc_response_header *h,
			   union kc_response *b)
{
	static uint8_t out[BUF_MAX], longer[BUF_MAX + 1];
	assert_true(n < BUF_MAX);
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
	for (size_t cap = 0; cap < n; cap++)
		assert_int_equal(kc_encode_response(key, ver, h, b, out, cap),
				 -ENOBUFS);
	memcpy(longer, v, n);
	longer[n] = 0;
	struct kc_response_header h3;
	union kc_response b3;
	assert_int_equal(kc_decode_response(key, ver, longer, n + 1, &h3, &b3,
					    scratch_arena()),
			 -SN_ERR_INVALID_REQUEST);
}

/* ---- Produce ---- */

static void test_produce_v3(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(0), I16(3), I32(11), 0x00, 0x01, 'c',
		NUL16,                       /* transactional_id */
		I16(-1), I32(30000),         /* acks, timeout_ms */
		I32(1), FOO,
		I32(1), I32(0), I32(4), 0x01, 0x02, 0x03, 0x04,
	};
	struct kc_request_header h;
	union kc_request b;
	request_check(req, sizeof(req), &h, &b);
	assert_int_equal(h.api_key, KC_API_PRODUCE);
	assert_int_equal(h.correlation_id, 11);
	const struct kc_produce_req *p = (const void *)b.raw;
	assert_str(p->transactional_id, NULL);
	assert_int_equal(p->acks, -1);
	assert_int_equal(p->timeout_ms, 30000);
	assert_int_equal(p->topic_data.count, 1);
	const struct kc_produce_req_topic *t = p->topic_data.items;
	assert_str(t[0].name, "foo");
	assert_int_equal(t[0].partition_data.count, 1);
	const struct kc_produce_req_partition *pd = t[0].partition_data.items;
	assert_int_equal(pd[0].index, 0);
	assert_int_equal(pd[0].records.len, 4);
	/* zero copy: the records point into the request */
	assert_ptr_equal(pd[0].records.ptr, req + sizeof(req) - 4);

	static const uint8_t resp[] = {
		I32(11),
		I32(1), FOO,
		I32(1), I32(0), I16(0), I64(42), I64(-1),
		I32(0),                      /* throttle_time_ms */
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_check(KC_API_PRODUCE, 3, resp, sizeof(resp), &rh, &rb);
	const struct kc_produce_resp *r = (const void *)rb.raw;
	assert_int_equal(rh.correlation_id, 11);
	assert_int_equal(r->responses.count, 1);
	const struct kc_produce_resp_topic *rt = r->responses.items;
	assert_str(rt[0].name, "foo");
	const struct kc_produce_resp_partition *rp = rt[0].partition_responses.items;
	assert_int_equal(rt[0].partition_responses.count, 1);
	assert_int_equal(rp[0].index, 0);
	assert_int_equal(rp[0].error_code, 0);
	assert_int_equal(rp[0].base_offset, 42);
	assert_int_equal(rp[0].log_append_time_ms, -1);
	assert_int_equal(rp[0].log_start_offset, -1);  /* v5+ default */
	assert_int_equal(rp[0].record_errors.count, 0); /* v8+ */
	assert_str(rp[0].error_message, NULL);          /* v8+ default null */
	assert_int_equal(r->throttle_time_ms, 0);
}

static void test_produce_v7(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(0), I16(7), I32(12), NUL16,
		0x00, 0x02, 't', 'x',
		I16(1), I32(1500),
		I32(1), FOO,
		I32(2), I32(0), I32(2), 0xaa, 0xbb,
		        I32(1), I32(-1),     /* null records */
	};
	struct kc_request_header h;
	union kc_request b;
	request_check(req, sizeof(req), &h, &b);
	assert_str(h.client_id, NULL);
	const struct kc_produce_req *p = (const void *)b.raw;
	assert_str(p->transactional_id, "tx");
	assert_int_equal(p->acks, 1);
	assert_int_equal(p->timeout_ms, 1500);
	const struct kc_produce_req_topic *t = p->topic_data.items;
	assert_int_equal(t[0].partition_data.count, 2);
	const struct kc_produce_req_partition *pd = t[0].partition_data.items;
	assert_int_equal(pd[0].records.len, 2);
	assert_int_equal(pd[0].records.ptr[1], 0xbb);
	assert_int_equal(pd[1].index, 1);
	assert_int_equal(pd[1].records.len, -1);
	assert_null(pd[1].records.ptr);

	static const uint8_t resp[] = {
		I32(12),
		I32(1), FOO,
		I32(2),
		I32(0), I16(0), I64(42), I64(1700000000000), I64(10),
		I32(1), I16(3), I64(-1), I64(-1), I64(-1),
		I32(5),
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_check(KC_API_PRODUCE, 7, resp, sizeof(resp), &rh, &rb);
	const struct kc_produce_resp *r = (const void *)rb.raw;
	const struct kc_produce_resp_topic *rt = r->responses.items;
	const struct kc_produce_resp_partition *rp = rt[0].partition_responses.items;
	assert_int_equal(rt[0].partition_responses.count, 2);
	assert_int_equal(rp[0].log_append_time_ms, 1700000000000);
	assert_int_equal(rp[0].log_start_offset, 10);
	assert_int_equal(rp[1].index, 1);
	assert_int_equal(rp[1].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(rp[1].base_offset, -1);
	assert_int_equal(r->throttle_time_ms, 5);
}

/* ---- Fetch ---- */

static void test_fetch_v4(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(1), I16(4), I32(21), 0x00, 0x01, 'c',
		I32(-1), I32(500), I32(1), I32(52428800), 0x00,
		I32(1), FOO,
		I32(1), I32(0), I64(100), I32(1048576),
	};
	struct kc_request_header h;
	union kc_request b;
	request_check(req, sizeof(req), &h, &b);
	const struct kc_fetch_req *f = (const void *)b.raw;
	assert_int_equal(f->replica_id, -1);
	assert_int_equal(f->max_wait_ms, 500);
	assert_int_equal(f->min_bytes, 1);
	assert_int_equal(f->max_bytes, 52428800);
	assert_int_equal(f->isolation_level, 0);
	assert_int_equal(f->session_id, 0);           /* v7+ defaults */
	assert_int_equal(f->session_epoch, -1);
	assert_int_equal(f->forgotten_topics_data.count, 0);
	assert_str(f->rack_id, "");                   /* v11+ default "" */
	assert_int_equal(f->topics.count, 1);
	const struct kc_fetch_req_topic *t = f->topics.items;
	assert_str(t[0].topic, "foo");
	const struct kc_fetch_req_partition *p = t[0].partitions.items;
	assert_int_equal(t[0].partitions.count, 1);
	assert_int_equal(p[0].partition, 0);
	assert_int_equal(p[0].current_leader_epoch, -1); /* v9+ */
	assert_int_equal(p[0].fetch_offset, 100);
	assert_int_equal(p[0].last_fetched_epoch, -1);   /* v12+ */
	assert_int_equal(p[0].log_start_offset, -1);     /* v5+ */
	assert_int_equal(p[0].partition_max_bytes, 1048576);

	static const uint8_t resp[] = {
		I32(21), I32(0),
		I32(1), FOO,
		I32(1), I32(0), I16(0), I64(200), I64(200),
		I32(-1),                     /* aborted_transactions: null */
		I32(3), 0x07, 0x08, 0x09,
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_check(KC_API_FETCH, 4, resp, sizeof(resp), &rh, &rb);
	const struct kc_fetch_resp *r = (const void *)rb.raw;
	assert_int_equal(r->throttle_time_ms, 0);
	assert_int_equal(r->error_code, 0);   /* v7+ */
	assert_int_equal(r->session_id, 0);   /* v7+ */
	const struct kc_fetch_resp_topic *rt = r->responses.items;
	assert_int_equal(r->responses.count, 1);
	assert_str(rt[0].topic, "foo");
	const struct kc_fetch_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[0].partition_index, 0);
	assert_int_equal(rp[0].high_watermark, 200);
	assert_int_equal(rp[0].last_stable_offset, 200);
	assert_int_equal(rp[0].log_start_offset, -1);
	assert_int_equal(rp[0].aborted_transactions.count, -1);
	assert_int_equal(rp[0].preferred_read_replica, -1);
	assert_int_equal(rp[0].records.len, 3);
	assert_int_equal(rp[0].records.ptr[2], 0x09);
}

static void test_fetch_v11(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		I16(1), I16(11), I32(22), NUL16,
		I32(-1), I32(500), I32(1), I32(0x7fffffff), 0x01,
		I32(7), I32(3),              /* session id, epoch */
		I32(1), FOO,
		I32(1), I32(2), I32(5), I64(100), I64(-1), I32(65536),
		I32(1), BAR, I32(2), I32(1), I32(3), /* forgotten bar [1, 3] */
		0x00, 0x02, 'r', '1',        /* rack_id */
	};
	struct kc_request_header h;
	union kc_request b;
	request_check(req, sizeof(req), &h, &b);
	const struct kc_fetch_req *f = (const void *)b.raw;
	assert_int_equal(f->isolation_level, 1);
	assert_int_equal(f->max_bytes, 0x7fffffff);
	assert_int_equal(f->session_id, 7);
	assert_int_equal(f->session_epoch, 3);
	const struct kc_fetch_req_topic *t = f->topics.items;
	const struct kc_fetch_req_partition *p = t[0].partitions.items;
	assert_int_equal(p[0].partition, 2);
	assert_int_equal(p[0].current_leader_epoch, 5);
	assert_int_equal(p[0].fetch_offset, 100);
	assert_int_equal(p[0].log_start_offset, -1);
	assert_int_equal(p[0].partition_max_bytes, 65536);
	assert_int_equal(f->forgotten_topics_data.count, 1);
	const struct kc_fetch_forgotten_topic *ft = f->forgotten_topics_data.items;
	assert_str(ft[0].topic, "bar");
	assert_int_equal(ft[0].partitions.count, 2);
	assert_int_equal(((const int32_t *)ft[0].partitions.items)[0], 1);
	assert_int_equal(((const int32_t *)ft[0].partitions.items)[1], 3);
	assert_str(f->rack_id, "r1");

	static const uint8_t resp[] = {
		I32(22), I32(0), I16(0), I32(7),
		I32(1), FOO,
		I32(2),
		I32(0), I16(0), I64(200), I64(150), I64(10),
		I32(1), I64(77), I64(120),   /* one aborted transaction */
		I32(-1),                     /* preferred_read_replica */
		I32(-1),                     /* records: null */
		I32(1), I16(1), I64(-1), I64(-1), I64(-1),
		I32(0),                      /* no aborted transactions */
		I32(1),
		I32(0),                      /* records: empty */
	};
	struct kc_response_header rh;
	union kc_response rb;
	response_check(KC_API_FETCH, 11, resp, sizeof(resp), &rh, &rb);
	const struct kc_fetch_resp *r = (const void *)rb.raw;
	assert_int_equal(r->session_id, 7);
	const struct kc_fetch_resp_topic *rt = r->responses.items;
	assert_int_equal(rt[0].partitions.count, 2);
	const struct kc_fetch_resp_partition *rp = rt[0].partitions.items;
	assert_int_equal(rp[0].last_stable_offset, 150);
	assert_int_equal(rp[0].log_start_offset, 10);
	assert_int_equal(rp[0].aborted_transactions.count, 1);
	const struct kc_fetch_aborted_txn *a = rp[0].aborted_transactions.items;
	assert_int_equal(a[0].producer_id, 77);
	assert_int_equal(a[0].first_offset, 120);
	assert_int_equal(rp[0].preferred_read_replica, -1);
	assert_int_equal(rp[0].records.len, -1);
	assert_int_equal(rp[1].error_code, SN_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(rp[1].aborted_transactions.count, 0);
	assert_int_equal(rp[1].preferred_read_replica, 1);
	assert_int_equal(rp[1].records.len, 0);
}

/* ---- FindCoordinator ---- */

static void test_find_coordinator(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	static const uint8_t req0[] = {I16(10), I16(0), I32(31), NUL16,
				       0x00, 0x02, 'g', '1'};
	request_check(req0, sizeof(req0), &h, &b);
	const struct kc_find_coordinator_req *q = (const void *)b.raw;
	assert_str(q->key, "g1");
	assert_int_equal(q->key_type, 0); /* v1+, default group */
	assert_int_equal(q->coordinator_keys.count, 0);

	static const uint8_t req2[] = {I16(10), I16(2), I32(32), NUL16,
				       0x00, 0x02, 't', 'x', 0x01};
	request_check(req2, sizeof(req2), &h, &b);
	assert_str(q->key, "tx");
	assert_int_equal(q->key_type, 1);

	struct kc_response_header rh;
	union kc_response rb;
	const struct kc_find_coordinator_resp *r = (const void *)rb.raw;
	static const uint8_t resp0[] = {I32(31), I16(0), I32(1),
					0x00, 0x02, 'h', '1', I32(9092)};
	response_check(KC_API_FIND_COORDINATOR, 0, resp0, sizeof(resp0), &rh, &rb);
	assert_int_equal(r->throttle_time_ms, 0);
	assert_int_equal(r->error_code, 0);
	assert_str(r->error_message, ""); /* v1+, no default: empty */
	assert_int_equal(r->node_id, 1);
	assert_str(r->host, "h1");
	assert_int_equal(r->port, 9092);

	static const uint8_t resp2[] = {I32(32), I32(0), I16(15), NUL16,
					I32(-1), 0x00, 0x00, I32(-1)};
	response_check(KC_API_FIND_COORDINATOR, 2, resp2, sizeof(resp2), &rh, &rb);
	assert_int_equal(r->error_code, 15); /* COORDINATOR_NOT_AVAILABLE */
	assert_str(r->error_message, NULL);
	assert_int_equal(r->node_id, -1);
	assert_str(r->host, "");
	/* null error message in v0 cannot be encoded: the field is absent */
	uint8_t out[64];
	struct kc_response_header h0 = {1};
	assert_true(kc_encode_response(KC_API_FIND_COORDINATOR, 0, &h0, &rb,
				       out, sizeof(out)) > 0);
}

/* ---- InitProducerId ---- */

static void test_init_producer_id(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	const struct kc_init_producer_id_req *q = (const void *)b.raw;
	static const uint8_t req0[] = {I16(22), I16(0), I32(41), NUL16,
				       NUL16, I32(60000)};
	request_check(req0, sizeof(req0), &h, &b);
	assert_str(q->transactional_id, NULL);
	assert_int_equal(q->transaction_timeout_ms, 60000);
	assert_int_equal(q->producer_id, -1);  /* v3+ */
	assert_int_equal(q->producer_epoch, -1);

	static const uint8_t req1[] = {I16(22), I16(1), I32(42), NUL16,
				       0x00, 0x02, 't', 'x', I32(1000)};
	request_check(req1, sizeof(req1), &h, &b);
	assert_str(q->transactional_id, "tx");
	assert_int_equal(q->transaction_timeout_ms, 1000);

	struct kc_response_header rh;
	union kc_response rb;
	const struct kc_init_producer_id_resp *r = (const void *)rb.raw;
	static const uint8_t resp0[] = {I32(41), I32(0), I16(0), I64(1000),
					I16(0)};
	response_check(KC_API_INIT_PRODUCER_ID, 0, resp0, sizeof(resp0), &rh, &rb);
	assert_int_equal(r->error_code, 0);
	assert_int_equal(r->producer_id, 1000);
	assert_int_equal(r->producer_epoch, 0);
	static const uint8_t resp1[] = {I32(42), I32(100), I16(0),
					I64(0x100000001), I16(2)};
	response_check(KC_API_INIT_PRODUCER_ID, 1, resp1, sizeof(resp1), &rh, &rb);
	assert_int_equal(r->throttle_time_ms, 100);
	assert_int_equal(r->producer_id, 0x100000001);
	assert_int_equal(r->producer_epoch, 2);
}

/* ---- CreateTopics ---- */

static void test_create_topics(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	const struct kc_create_topics_req *q = (const void *)b.raw;
	static const uint8_t req0[] = {
		I16(19), I16(0), I32(51), NUL16,
		I32(1), FOO, I32(3), I16(1),
		I32(0),                      /* assignments */
		I32(1), RMS, V1000,          /* configs */
		I32(30000),
	};
	request_check(req0, sizeof(req0), &h, &b);
	assert_int_equal(q->topics.count, 1);
	const struct kc_create_topics_req_topic *t = q->topics.items;
	assert_str(t[0].name, "foo");
	assert_int_equal(t[0].num_partitions, 3);
	assert_int_equal(t[0].replication_factor, 1);
	assert_int_equal(t[0].assignments.count, 0);
	assert_int_equal(t[0].configs.count, 1);
	const struct kc_create_topics_req_config *c = t[0].configs.items;
	assert_str(c[0].name, "retention.ms");
	assert_str(c[0].value, "1000");
	assert_int_equal(q->timeout_ms, 30000);
	assert_false(q->validate_only); /* v1+ */

	static const uint8_t req4[] = {
		I16(19), I16(4), I32(52), NUL16,
		I32(1), FOO, I32(-1), I16(-1),
		I32(2), I32(0), I32(1), I32(1),  /* partition 0 on broker 1 */
		        I32(1), I32(1), I32(1),  /* partition 1 on broker 1 */
		I32(1), 0x00, 0x01, 'x', NUL16,  /* config x = null */
		I32(60000), 0x01,
	};
	request_check(req4, sizeof(req4), &h, &b);
	t = q->topics.items;
	assert_int_equal(t[0].num_partitions, -1);
	assert_int_equal(t[0].replication_factor, -1);
	assert_int_equal(t[0].assignments.count, 2);
	const struct kc_create_topics_assignment *as = t[0].assignments.items;
	assert_int_equal(as[1].partition_index, 1);
	assert_int_equal(as[1].broker_ids.count, 1);
	assert_int_equal(((const int32_t *)as[1].broker_ids.items)[0], 1);
	c = t[0].configs.items;
	assert_str(c[0].name, "x");
	assert_str(c[0].value, NULL);
	assert_true(q->validate_only);

	struct kc_response_header rh;
	union kc_response rb;
	const struct kc_create_topics_resp *r = (const void *)rb.raw;
	static const uint8_t resp0[] = {I32(51), I32(1), FOO, I16(0)};
	response_check(KC_API_CREATE_TOPICS, 0, resp0, sizeof(resp0), &rh, &rb);
	assert_int_equal(r->throttle_time_ms, 0);
	const struct kc_create_topics_resp_topic *rt = r->topics.items;
	assert_str(rt[0].name, "foo");
	assert_int_equal(rt[0].error_code, 0);
	assert_str(rt[0].error_message, ""); /* v1+, no default */
	assert_int_equal(rt[0].num_partitions, -1);     /* v5+ */
	assert_int_equal(rt[0].replication_factor, -1); /* v5+ */
	assert_int_equal(rt[0].configs.count, 0);

	static const uint8_t resp4[] = {
		I32(52), I32(0), I32(2),
		FOO, I16(36), 0x00, 0x03, 'd', 'u', 'p',
		BAR, I16(0), NUL16,
	};
	response_check(KC_API_CREATE_TOPICS, 4, resp4, sizeof(resp4), &rh, &rb);
	rt = r->topics.items;
	assert_int_equal(rt[0].error_code, SN_ERR_TOPIC_ALREADY_EXISTS);
	assert_str(rt[0].error_message, "dup");
	assert_str(rt[1].name, "bar");
	assert_str(rt[1].error_message, NULL);
}

/* ---- DeleteTopics ---- */

static void test_delete_topics(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	const struct kc_delete_topics_req *q = (const void *)b.raw;
	static const uint8_t req0[] = {I16(20), I16(0), I32(61), NUL16,
				       I32(2), FOO, BAR, I32(1000)};
	request_check(req0, sizeof(req0), &h, &b);
	assert_int_equal(q->topics.count, 0); /* v6+ */
	assert_int_equal(q->topic_names.count, 2);
	const struct kc_str *n = q->topic_names.items;
	assert_str(n[0], "foo");
	assert_str(n[1], "bar");
	assert_int_equal(q->timeout_ms, 1000);
	static const uint8_t req3[] = {I16(20), I16(3), I32(62), NUL16,
				       I32(0), I32(-1)};
	request_check(req3, sizeof(req3), &h, &b);
	assert_int_equal(q->topic_names.count, 0);
	assert_int_equal(q->timeout_ms, -1);

	struct kc_response_header rh;
	union kc_response rb;
	const struct kc_delete_topics_resp *r = (const void *)rb.raw;
	static const uint8_t resp0[] = {I32(61), I32(2), FOO, I16(0), BAR, I16(3)};
	response_check(KC_API_DELETE_TOPICS, 0, resp0, sizeof(resp0), &rh, &rb);
	assert_int_equal(r->throttle_time_ms, 0);
	const struct kc_delete_topics_resp_topic *rt = r->responses.items;
	assert_int_equal(r->responses.count, 2);
	assert_str(rt[0].name, "foo");
	assert_int_equal(rt[0].error_code, 0);
	assert_str(rt[0].error_message, NULL); /* v5+, default null */
	assert_int_equal(rt[1].error_code, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	static const uint8_t resp3[] = {I32(62), I32(10), I32(1), FOO, I16(0)};
	response_check(KC_API_DELETE_TOPICS, 3, resp3, sizeof(resp3), &rh, &rb);
	assert_int_equal(r->throttle_time_ms, 10);
	assert_int_equal(r->responses.count, 1);
}

/* ---- DescribeConfigs ---- */

static void test_describe_configs(void **state)
{
	(void)state;
	struct kc_request_header h;
	union kc_request b;
	const struct kc_describe_configs_req *q = (const void *)b.raw;
	static const uint8_t req0[] = {I16(32), I16(0), I32(71), NUL16,
				       I32(1), 0x02, FOO, I32(-1)};
	request_check(req0, sizeof(req0), &h, &b);
	assert_int_equal(q->resources.count, 1);
	const struct kc_describe_configs_resource *res = q->resources.items;
	assert_int_equal(res[0].resource_type, KC_RESOURCE_TOPIC);
	assert_str(res[0].resource_name, "foo");
	assert_int_equal(res[0].configuration_keys.count, -1); /* all */
	assert_false(q->include_synonyms);
	assert_false(q->include_documentation);

	static const uint8_t req3[] = {
		I16(32), I16(3), I32(72), NUL16,
		I32(2),
		0x02, FOO, I32(1), RMS,
		0x04, 0x00, 0x01, '1', I32(0),
		0x01, 0x01,
	};
	request_check(req3, sizeof(req3), &h, &b);
	res = q->resources.items;
	assert_int_equal(res[0].configuration_keys.count, 1);
	assert_str(((const struct kc_str *)res[0].configuration_keys.items)[0],
		   "retention.ms");
	assert_int_equal(res[1].resource_type, KC_RESOURCE_BROKER);
	assert_str(res[1].resource_name, "1");
	assert_int_equal(res[1].configuration_keys.count, 0);
	assert_true(q->include_synonyms);
	assert_true(q->include_documentation);

	struct kc_response_header rh;
	union kc_response rb;
	const struct kc_describe_configs_resp *r = (const void *)rb.raw;
	static const uint8_t resp0[] = {
		I32(71), I32(0),
		I32(1), I16(0), NUL16, 0x02, FOO,
		I32(1), RMS, V1000, 0x00, 0x01, 0x00,
	};
	response_check(KC_API_DESCRIBE_CONFIGS, 0, resp0, sizeof(resp0), &rh, &rb);
	const struct kc_describe_configs_result *rs = r->results.items;
	assert_int_equal(r->results.count, 1);
	assert_int_equal(rs[0].error_code, 0);
	assert_str(rs[0].error_message, NULL);
	assert_int_equal(rs[0].resource_type, KC_RESOURCE_TOPIC);
	assert_str(rs[0].resource_name, "foo");
	const struct kc_describe_configs_entry *e = rs[0].configs.items;
	assert_int_equal(rs[0].configs.count, 1);
	assert_str(e[0].name, "retention.ms");
	assert_str(e[0].value, "1000");
	assert_false(e[0].read_only);
	assert_true(e[0].is_default);
	assert_int_equal(e[0].config_source, -1); /* v1+ */
	assert_false(e[0].is_sensitive);
	assert_int_equal(e[0].synonyms.count, 0);
	assert_int_equal(e[0].config_type, 0);    /* v3+ */
	assert_str(e[0].documentation, "");       /* v3+, no default */

	static const uint8_t resp3[] = {
		I32(72), I32(0),
		I32(2),
		I16(0), NUL16, 0x02, FOO,
		I32(1), RMS, V1000, 0x00, 0x01, 0x00,
		I32(1), RMS, V1000, 0x01,            /* synonym */
		0x05, NUL16,                         /* LONG, no documentation */
		I16(42), 0x00, 0x01, '?', 0x07, BAR, I32(0),
	};
	response_check(KC_API_DESCRIBE_CONFIGS, 3, resp3, sizeof(resp3), &rh, &rb);
	rs = r->results.items;
	e = rs[0].configs.items;
	assert_int_equal(e[0].config_source, KC_CONFIG_SOURCE_TOPIC);
	assert_false(e[0].is_default); /* v0 only */
	assert_int_equal(e[0].synonyms.count, 1);
	const struct kc_describe_configs_synonym *s = e[0].synonyms.items;
	assert_str(s[0].name, "retention.ms");
	assert_str(s[0].value, "1000");
	assert_int_equal(s[0].source, 1);
	assert_int_equal(e[0].config_type, 5);
	assert_str(e[0].documentation, NULL);
	assert_int_equal(rs[1].error_code, SN_ERR_INVALID_REQUEST);
	assert_str(rs[1].error_message, "?");
	assert_int_equal(rs[1].resource_type, 7);
	assert_int_equal(rs[1].configs.count, 0);
}

/* ---- round trips of a filled struct at every supported version ---- */

static int32_t i32s[2] = {7, -3};
static struct kc_str strs[2] = {{"alpha", 5}, {NULL, 0}};

static struct kc_produce_req_partition produce_parts[2] = {
	{0, {(const uint8_t *)"\x01\x02\x03", 3}}, {1, {NULL, -1}}};
static struct kc_produce_req_topic produce_topics[2] = {
	{{"foo", 3}, {{0}}, {produce_parts, 2}}, {{"bar", 3}, {{0}}, {produce_parts, 1}}};
static struct kc_produce_record_error record_errors[2] = {
	{1, {"bad", 3}}, {2, {NULL, -1}}};
static struct kc_produce_resp_partition produce_rparts[2] = {
	{.index = 0, .error_code = 0, .base_offset = 10,
	 .log_append_time_ms = 1000, .log_start_offset = 5,
	 .record_errors = {record_errors, 2}, .error_message = {NULL, -1}},
	{.index = 1, .error_code = 3, .base_offset = -1,
	 .log_append_time_ms = -1, .log_start_offset = -1,
	 .record_errors = {NULL, 0}, .error_message = {"x", 1}}};
static struct kc_produce_resp_topic produce_rtopics[1] = {
	{{"foo", 3}, {{0}}, {produce_rparts, 2}}};

static struct kc_fetch_req_partition fetch_parts[2] = {
	{.partition = 0, .current_leader_epoch = 4, .fetch_offset = 100,
	 .last_fetched_epoch = 3, .log_start_offset = 50,
	 .partition_max_bytes = 1 << 20},
	{.partition = 1, .current_leader_epoch = -1, .fetch_offset = 0,
	 .last_fetched_epoch = -1, .log_start_offset = -1,
	 .partition_max_bytes = 1}};
static struct kc_fetch_req_topic fetch_topics[2] = {
	{.topic = {"foo", 3}, .partitions = {fetch_parts, 2}},
	{.topic = {"b", 1}, .partitions = {NULL, 0}}};
static struct kc_fetch_forgotten_topic fetch_forgotten[1] = {
	{.topic = {"bar", 3}, .partitions = {i32s, 2}}};
static struct kc_fetch_aborted_txn aborted[2] = {{9, 90}, {10, 100}};
static struct kc_fetch_resp_partition fetch_rparts[2] = {
	{.partition_index = 0, .error_code = 0, .high_watermark = 200,
	 .last_stable_offset = 190, .log_start_offset = 10,
	 .aborted_transactions = {aborted, 2}, .preferred_read_replica = 1,
	 .records = {(const uint8_t *)"ab", 2}},
	{.partition_index = 1, .error_code = 1, .high_watermark = -1,
	 .last_stable_offset = -1, .log_start_offset = -1,
	 .aborted_transactions = {NULL, -1}, .preferred_read_replica = -1,
	 .records = {NULL, -1}}};
static struct kc_fetch_resp_topic fetch_rtopics[1] = {
	{.topic = {"foo", 3}, .partitions = {fetch_rparts, 2}}};

static struct kc_find_coordinator_coordinator coordinators[1] = {
	{{"g", 1}, 1, {"h", 1}, 9092, 0, {NULL, -1}}};

static struct kc_create_topics_assignment assignments[2] = {
	{0, {i32s, 1}}, {1, {i32s, 2}}};
static struct kc_create_topics_req_config ct_configs[2] = {
	{{"retention.ms", 12}, {"1", 1}}, {{"segment.bytes", 13}, {NULL, -1}}};
static struct kc_create_topics_req_topic ct_topics[2] = {
	{{"foo", 3}, 3, 1, {NULL, 0}, {ct_configs, 2}},
	{{"bar", 3}, -1, -1, {assignments, 2}, {NULL, 0}}};
static struct kc_create_topics_resp_config ct_rconfigs[1] = {
	{{"retention.ms", 12}, {"1", 1}, false, 1, false}};
static struct kc_create_topics_resp_topic ct_rtopics[2] = {
	{.name = {"foo", 3}, .error_code = 0, .error_message = {NULL, -1},
	 .num_partitions = 3, .replication_factor = 1,
	 .configs = {ct_rconfigs, 1}},
	{.name = {"bar", 3}, .error_code = 36, .error_message = {"exists", 6},
	 .num_partitions = -1, .replication_factor = -1,
	 .configs = {NULL, -1}}};

static struct kc_delete_topics_resp_topic dt_rtopics[2] = {
	{.name = {"foo", 3}, .error_code = 0, .error_message = {NULL, -1}},
	{.name = {"bar", 3}, .error_code = 3, .error_message = {"unknown", 7}}};

static struct kc_describe_configs_resource dc_resources[2] = {
	{2, {"foo", 3}, {strs, 1}}, {4, {"1", 1}, {NULL, -1}}};
static struct kc_describe_configs_synonym dc_synonyms[1] = {
	{{"log.retention.ms", 16}, {NULL, -1}, 4}};
static struct kc_describe_configs_entry dc_entries[2] = {
	{{"retention.ms", 12}, {"1000", 4}, false, true, 5, false,
	 {dc_synonyms, 1}, 5, {"doc", 3}},
	{{"secret", 6}, {NULL, -1}, true, false, 4, true, {NULL, 0}, 2,
	 {NULL, -1}}};
static struct kc_describe_configs_result dc_results[2] = {
	{0, {NULL, -1}, 2, {"foo", 3}, {dc_entries, 2}},
	{42, {"no", 2}, 9, {"", 0}, {NULL, 0}}};

/* The filled request / response body of api (key). */
static void sample(int16_t key, union kc_request *q, union kc_response *r)
{
	memset(q, 0, sizeof(*q));
	memset(r, 0, sizeof(*r));
	switch (key) {
	case KC_API_PRODUCE:
		*(struct kc_produce_req *)q->raw = (struct kc_produce_req){
			{"tx", 2}, -1, 30000, {produce_topics, 2}};
		*(struct kc_produce_resp *)r->raw = (struct kc_produce_resp){
			.responses = {produce_rtopics, 1},
			.throttle_time_ms = 7};
		break;
	case KC_API_FETCH:
		*(struct kc_fetch_req *)q->raw = (struct kc_fetch_req){
			.replica_id = -1, .max_wait_ms = 500, .min_bytes = 1,
			.max_bytes = 1 << 20, .isolation_level = 1,
			.session_id = 11, .session_epoch = 2,
			.topics = {fetch_topics, 2},
			.forgotten_topics_data = {fetch_forgotten, 1},
			.rack_id = {"rack", 4}};
		*(struct kc_fetch_resp *)r->raw = (struct kc_fetch_resp){
			.throttle_time_ms = 3, .error_code = 0,
			.session_id = 11, .responses = {fetch_rtopics, 1}};
		break;
	case KC_API_FIND_COORDINATOR:
		*(struct kc_find_coordinator_req *)q->raw =
			(struct kc_find_coordinator_req){{"grp", 3}, 1,
							 {strs, 1}};
		*(struct kc_find_coordinator_resp *)r->raw =
			(struct kc_find_coordinator_resp){
				1, 0, {NULL, -1}, 1, {"host", 4}, 9092,
				{coordinators, 1}};
		break;
	case KC_API_INIT_PRODUCER_ID:
		*(struct kc_init_producer_id_req *)q->raw =
			(struct kc_init_producer_id_req){{NULL, -1}, 60000, 5, 1, false, false};
		*(struct kc_init_producer_id_resp *)r->raw =
			(struct kc_init_producer_id_resp){0, 0, 4000, 3, -1, -1};
		break;
	case KC_API_CREATE_TOPICS:
		*(struct kc_create_topics_req *)q->raw =
			(struct kc_create_topics_req){{ct_topics, 2}, 1000, true};
		*(struct kc_create_topics_resp *)r->raw =
			(struct kc_create_topics_resp){2, {ct_rtopics, 2}};
		break;
	case KC_API_DELETE_TOPICS:
		*(struct kc_delete_topics_req *)q->raw =
			(struct kc_delete_topics_req){{NULL, 0}, {strs, 1}, 500};
		*(struct kc_delete_topics_resp *)r->raw =
			(struct kc_delete_topics_resp){4, {dt_rtopics, 2}};
		break;
	case KC_API_DESCRIBE_CONFIGS:
		*(struct kc_describe_configs_req *)q->raw =
			(struct kc_describe_configs_req){{dc_resources, 2}, true,
							 true};
		*(struct kc_describe_configs_resp *)r->raw =
			(struct kc_describe_configs_resp){0, {dc_results, 2}};
		break;
	default:
		fail_msg("no sample for API key %d", key);
	}
}

static long round_trip_request(int16_t key, int16_t v)
{
	static uint8_t out1[BUF_MAX], out2[BUF_MAX];
	union kc_request q, q2;
	union kc_response r;
	sample(key, &q, &r);
	struct kc_request_header h = {key, v, 1000 + v, {"t", 1}}, h2;
	long n = kc_encode_request(&h, &q, out1, sizeof(out1));
	if (n <= 0)
		fail_msg("API %d v%d: request encode %ld", key, v, n);
	assert_int_equal(kc_decode_request(out1, (size_t)n, &h2, &q2,
					   fresh_arena()), n);
	assert_int_equal(h2.api_version, v);
	assert_int_equal(h2.correlation_id, 1000 + v);
	assert_int_equal(kc_encode_request(&h2, &q2, out2, sizeof(out2)), n);
	assert_memory_equal(out1, out2, (size_t)n);
	for (long cut = 0; cut < n; cut++) {
		struct kc_request_header h3;
		union kc_request q3;
		long rc = kc_decode_request(out1, (size_t)cut, &h3, &q3,
					    scratch_arena());
		if (rc != -SN_ERR_INVALID_REQUEST)
			fail_msg("API %d v%d: request cut at %ld of %ld: %ld",
				 key, v, cut, n, rc);
	}
	return n;
}

static long round_trip_response(int16_t key, int16_t v)
{
	static uint8_t out1[BUF_MAX], out2[BUF_MAX];
	union kc_request q;
	union kc_response r, r2;
	sample(key, &q, &r);
	struct kc_response_header h = {2000 + v}, h2;
	long n = kc_encode_response(key, v, &h, &r, out1, sizeof(out1));
	if (n <= 0)
		fail_msg("API %d v%d: response encode %ld", key, v, n);
	assert_int_equal(kc_decode_response(key, v, out1, (size_t)n, &h2, &r2,
					    fresh_arena()), n);
	assert_int_equal(h2.correlation_id, 2000 + v);
	assert_int_equal(kc_encode_response(key, v, &h2, &r2, out2,
					    sizeof(out2)), n);
	assert_memory_equal(out1, out2, (size_t)n);
	for (long cut = 0; cut < n; cut++) {
		struct kc_response_header h3;
		union kc_response r3;
		long rc = kc_decode_response(key, v, out1, (size_t)cut, &h3, &r3,
					     scratch_arena());
		if (rc != -SN_ERR_INVALID_REQUEST)
			fail_msg("API %d v%d: response cut at %ld of %ld: %ld",
				 key, v, cut, n, rc);
	}
	return n;
}

/* Fetch v0 response of the sample: v4 less 2 x last_stable_offset, the
 * aborted transactions (two, null: 4 + 2 x 16 + 4) and throttle_time_ms */
#define FETCH_V0_RESP (115 - 2 * 8 - (4 + 2 * 16 + 4) - 4)

static void test_round_trips(void **state)
{
	(void)state;
	/* The encoded sizes of the samples above (header included: 11 bytes
	 * for a request with client id "t", 4 for a response), counted by
	 * hand from the JSON, by version: they pin where each field starts.
	 * Flexible versions (0: not counted here) are test_tagged_fields'. */
	static const struct {
		int16_t key, min, max;
		long req[18], resp[18];
	} want[] = {
		{KC_API_PRODUCE, 0, 11,
		 {69, 69, 69, 73, 73, 73, 73, 73, 73},
		 {45, 49, 65, 65, 65, 81, 81, 81,
		  81 + (4 + (4 + 5) + (4 + 2) + 2) + (4 + 3)}},
		{KC_API_FETCH, 0, 17,
		 {75, 75, 75, 79, 80, 96, 96, 125, 125, 133, 133, 139},
		 {FETCH_V0_RESP, FETCH_V0_RESP + 4, FETCH_V0_RESP + 4,
		  FETCH_V0_RESP + 4, 115, 131, 131, 137, 137, 137, 137, 145}},
		{KC_API_FIND_COORDINATOR, 0, 2, {16, 17, 17}, {20, 26, 26}},
		{KC_API_CREATE_TOPICS, 0, 4, {119, 120, 120, 120, 120},
		 {22, 32, 36, 36, 36}},
		{KC_API_DELETE_TOPICS, 0, 3, {26, 26, 26, 26}, {22, 26, 26, 26}},
		{KC_API_INIT_PRODUCER_ID, 0, 1, {17, 17}, {20, 20}},
		{KC_API_DESCRIBE_CONFIGS, 0, 3, {40, 41, 41, 42},
		 {75, 104, 104, 113}},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		/* the versions measured here are served (proto/kafka/apis.txt
		 * may serve more); flexible ones are test_tagged_fields' */
		const struct kc_api *api = kc_api_find(want[i].key);
		assert_non_null(api);
		assert_true(api->min_version <= want[i].min);
		assert_true(api->max_version >= want[i].max);
		for (int16_t v = want[i].min; v <= want[i].max; v++) {
			if (v >= api->flexible_min) {
				assert_int_equal(want[i].req[v], 0);
				continue;
			}
			assert_int_equal(kc_request_header_version(api->key, v), 1);
			assert_int_equal(kc_response_header_version(api->key, v), 0);
			long n = round_trip_request(api->key, v);
			if (n != want[i].req[v])
				fail_msg("%s v%d request: %ld bytes, expected "
					 "%ld", api->name, v, n, want[i].req[v]);
			n = round_trip_response(api->key, v);
			if (n != want[i].resp[v])
				fail_msg("%s v%d response: %ld bytes, expected "
					 "%ld", api->name, v, n, want[i].resp[v]);
		}
	}
}

/* Fields absent from a version are dropped, not sent: the same struct
 * encodes shorter in older versions. */
static void test_version_fields(void **state)
{
	(void)state;
	static uint8_t out[BUF_MAX];
	union kc_request q;
	union kc_response r;
	sample(KC_API_FETCH, &q, &r);
	struct kc_request_header h = {KC_API_FETCH, 4, 1, {NULL, -1}};
	long n4 = kc_encode_request(&h, &q, out, sizeof(out));
	h.api_version = 11;
	long n11 = kc_encode_request(&h, &q, out, sizeof(out));
	/* v5: 2 x log_start_offset; v7: session id + epoch, forgotten topics
	 * (4 + 2+3 + 4 + 2x4); v9: 2 x current_leader_epoch; v11: rack_id */
	assert_int_equal(n11 - n4, 2 * 8 + 8 + (4 + 5 + 4 + 8) + 2 * 4 + 2 + 4);

	sample(KC_API_DESCRIBE_CONFIGS, &q, &r);
	struct kc_response_header rh = {1};
	long d0 = kc_encode_response(KC_API_DESCRIBE_CONFIGS, 0, &rh, &r, out,
				     sizeof(out));
	long d3 = kc_encode_response(KC_API_DESCRIBE_CONFIGS, 3, &rh, &r, out,
				     sizeof(out));
	/* per entry: - is_default + config_source + synonyms count + type +
	 * documentation; one synonym (2+16 + 2 + 1) */
	assert_int_equal(d3 - d0, (-1 + 1 + 4 + 1) * 2 + (2 + 3) + 2 +
					  (2 + 16 + 2 + 1));
}

/* ---- rejection ---- */

static void expect_invalid(const uint8_t *v, size_t n)
{
	struct kc_request_header h;
	union kc_request b;
	assert_int_equal(kc_decode_request(v, n, &h, &b, fresh_arena()),
			 -SN_ERR_INVALID_REQUEST);
	assert_true(arena.used <= arena.cap);
}

static void test_hostile_lengths(void **state)
{
	(void)state;
	/* records longer than the request */
	static const uint8_t big_records[] = {
		I16(0), I16(3), I32(1), NUL16, NUL16, I16(1), I32(0),
		I32(1), FOO, I32(1), I32(0), I32(0x7fffffff), 0x01};
	expect_invalid(big_records, sizeof(big_records));
	/* -2 is never a length */
	static const uint8_t neg_records[] = {
		I16(0), I16(3), I32(1), NUL16, NUL16, I16(1), I32(0),
		I32(1), FOO, I32(1), I32(0), I32(-2)};
	expect_invalid(neg_records, sizeof(neg_records));
	/* a count the bytes left cannot hold */
	static const uint8_t many_topics[] = {
		I16(0), I16(7), I32(1), NUL16, NUL16, I16(1), I32(0),
		I32(0x10000000), FOO, I32(0)};
	expect_invalid(many_topics, sizeof(many_topics));
	/* null topic name (never nullable) in Fetch */
	static const uint8_t null_topic[] = {
		I16(1), I16(4), I32(1), NUL16, I32(-1), I32(0), I32(0), I32(0),
		0x00, I32(1), NUL16, I32(0)};
	expect_invalid(null_topic, sizeof(null_topic));
	/* null topics array in Fetch */
	static const uint8_t null_topics[] = {
		I16(1), I16(4), I32(1), NUL16, I32(-1), I32(0), I32(0), I32(0),
		0x00, I32(-1)};
	expect_invalid(null_topics, sizeof(null_topics));
	/* forgotten partitions: 2^30 int32s in a few bytes */
	static const uint8_t forgotten[] = {
		I16(1), I16(11), I32(1), NUL16, I32(-1), I32(0), I32(0), I32(0),
		0x00, I32(0), I32(0), I32(0),
		I32(1), BAR, I32(0x40000000), I32(1), 0x00, 0x00};
	expect_invalid(forgotten, sizeof(forgotten));
	/* a transactional id longer than what follows */
	static const uint8_t long_txn[] = {
		I16(22), I16(0), I32(1), NUL16, 0x7f, 0xff, 'a', I32(0)};
	expect_invalid(long_txn, sizeof(long_txn));
	/* DescribeConfigs: null resources (keys may be null, resources not) */
	static const uint8_t null_res[] = {
		I16(32), I16(1), I32(1), NUL16, I32(-1), 0x00};
	expect_invalid(null_res, sizeof(null_res));
	/* DeleteTopics: a null name in the list */
	static const uint8_t null_name[] = {
		I16(20), I16(1), I32(1), NUL16, I32(1), NUL16, I32(0)};
	expect_invalid(null_name, sizeof(null_name));
	/* CreateTopics: assignments count beyond the bytes left */
	static const uint8_t assign[] = {
		I16(19), I16(1), I32(1), NUL16, I32(1), FOO, I32(-1), I16(-1),
		I32(1000), I32(0), I32(0), I32(0), I32(0), 0x00};
	expect_invalid(assign, sizeof(assign));

	/* a valid request that does not fit the arena */
	static const uint8_t req[] = {
		I16(20), I16(0), I32(1), NUL16, I32(3), FOO, FOO, FOO, I32(0)};
	struct kc_request_header h;
	union kc_request b;
	_Alignas(8) uint8_t small[32];
	struct kc_arena a = {small, sizeof(small), 0};
	assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b, &a),
			 -ENOBUFS);
	assert_true(a.used <= a.cap);
	assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b,
					   fresh_arena()), (long)sizeof(req));
}

static void test_unsupported_version(void **state)
{
	(void)state;
	/* above every version Kafka defines (the codec has no table for
	 * them), and negative */
	static const int16_t bad[][2] = {
		{0, 14}, {0, -1}, {1, 19}, {1, -1}, {10, 7}, {10, -1},
		{19, 8}, {20, 7}, {22, 7}, {32, 5}, {2, 12}, {3, 14}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t req[] = {I16(bad[i][0]), I16(bad[i][1]), I32(99), NUL16,
				 I32(0), I32(0), I32(0)};
		struct kc_request_header h;
		union kc_request b;
		assert_int_equal(kc_decode_request(req, sizeof(req), &h, &b,
						   fresh_arena()),
				 -SN_ERR_UNSUPPORTED_VERSION);
		assert_int_equal(h.correlation_id, 99);
	}
}

static void test_encode_rejects(void **state)
{
	(void)state;
	uint8_t out[256];
	union kc_request q;
	union kc_response r;
	/* a null topic name in Produce */
	sample(KC_API_PRODUCE, &q, &r);
	struct kc_produce_req_topic t = {{NULL, -1}, {{0}}, {NULL, 0}};
	((struct kc_produce_req *)q.raw)->topic_data =
		(struct kc_array){&t, 1};
	struct kc_request_header h = {KC_API_PRODUCE, 3, 1, {NULL, -1}};
	assert_int_equal(kc_encode_request(&h, &q, out, sizeof(out)), -EINVAL);
	/* a null aborted-transactions array is fine from v4 on */
	sample(KC_API_FETCH, &q, &r);
	struct kc_response_header rh = {1};
	assert_true(kc_encode_response(KC_API_FETCH, 4, &rh, &r, out,
				       sizeof(out)) > 0);
	/* out of the window (Kafka's Produce ends at v13) */
	h.api_version = 14;
	assert_int_equal(kc_encode_request(&h, &q, out, sizeof(out)), -EINVAL);
}

/* Zero-copy records: a Fetch response encoded with its records left out
 * (KC_BYTES_EXTERNAL) and the records put back at the recorded holes is
 * byte for byte the response encoded with the records in it. */
static void test_external_bytes(void **state)
{
	(void)state;
	static const uint8_t rec_a[] = "first partition's batches";
	static const uint8_t rec_b[] = "second";
	struct kc_fetch_resp_partition ps[3] = {
		{ .partition_index = 0, .high_watermark = 10,
		  .last_stable_offset = 10, .log_start_offset = 0,
		  .aborted_transactions = { NULL, 0 },
		  .preferred_read_replica = -1,
		  .records = { rec_a, sizeof(rec_a) } },
		{ .partition_index = 1, .error_code = 1, .high_watermark = -1,
		  .last_stable_offset = -1, .log_start_offset = -1,
		  .aborted_transactions = { NULL, 0 },
		  .preferred_read_replica = -1,
		  .records = { rec_a, 0 } },
		{ .partition_index = 2, .high_watermark = 7,
		  .last_stable_offset = 7, .log_start_offset = 0,
		  .aborted_transactions = { NULL, 0 },
		  .preferred_read_replica = -1,
		  .records = { rec_b, sizeof(rec_b) } },
	};
	struct kc_fetch_resp_topic t = { .topic = { "orders", 6 },
					 .partitions = { ps, 3 } };
	struct kc_fetch_resp body = { .responses = { &t, 1 } };
	struct kc_response_header h = { 77 };
	for (int16_t v = 4; v <= 11; v++) {
		uint8_t whole[512], part[512], joined[512];
		long n = kc_encode_response(KC_API_FETCH, v, &h,
					    (const void *)&body, whole,
					    sizeof(whole));
		assert_true(n > 0);
		/* without holes an external field is refused */
		ps[0].records.ptr = KC_BYTES_EXTERNAL;
		ps[2].records.ptr = KC_BYTES_EXTERNAL;
		assert_int_equal(kc_encode_response(KC_API_FETCH, v, &h,
						    (const void *)&body, part,
						    sizeof(part)), -EINVAL);
		size_t at[2], len[2];
		struct kc_holes holes = { at, len, 0, 2 };
		long m = kc_encode_response_ext(KC_API_FETCH, v, &h,
						(const void *)&body, part,
						sizeof(part), &holes);
		ps[0].records.ptr = rec_a;
		ps[2].records.ptr = rec_b;
		assert_int_equal(holes.n, 2);
		assert_int_equal(len[0], sizeof(rec_a));
		assert_int_equal(len[1], sizeof(rec_b));
		assert_int_equal(m, n - (long)(sizeof(rec_a) + sizeof(rec_b)));
		size_t j = 0, from = 0;
		const uint8_t *content[2] = { rec_a, rec_b };
		for (size_t i = 0; i < holes.n; i++) {
			memcpy(joined + j, part + from, at[i] - from);
			j += at[i] - from;
			memcpy(joined + j, content[i], len[i]);
			j += len[i];
			from = at[i];
		}
		memcpy(joined + j, part + from, (size_t)m - from);
		j += (size_t)m - from;
		assert_int_equal(j, (size_t)n);
		assert_memory_equal(joined, whole, (size_t)n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_v3),
		cmocka_unit_test(test_produce_v7),
		cmocka_unit_test(test_fetch_v4),
		cmocka_unit_test(test_fetch_v11),
		cmocka_unit_test(test_find_coordinator),
		cmocka_unit_test(test_init_producer_id),
		cmocka_unit_test(test_create_topics),
		cmocka_unit_test(test_delete_topics),
		cmocka_unit_test(test_describe_configs),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_version_fields),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_unsupported_version),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_external_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
