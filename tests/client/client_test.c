/*
 * libsluice's pure parts: Kafka's murmur2 and partitioner against the
 * values Kafka's own tests use (org.apache.kafka.common.utils.UtilsTest
 * testMurmur2, recomputed from the algorithm's definition), null-key round
 * robin, batch accounting and linger, sequence numbers and their wrap,
 * produce frames (built here, decoded with proto/native and
 * proto/record_batch), error codes and addresses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

static void test_murmur2_kafka_vectors(void **state)
{
	static const struct {
		const char *key;
		int32_t hash;
	} v[] = {
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
		{ "abc", 479470107 },
		{ "", 275646681 },
		{ "key-0", 29210041 },
		{ "hello", 2132663229 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(sl_murmur2(v[i].key, strlen(v[i].key)),
				 v[i].hash);
}

static void test_partition_for_key(void **state)
{
	/* (murmur2 & 0x7fffffff) % n, as Kafka's DefaultPartitioner */
	assert_int_equal(sl_partition_for_key("21", 2, 100), 40);
	assert_int_equal(sl_partition_for_key("foobar", 6, 100), 66);
	assert_int_equal(sl_partition_for_key("a-little-bit-long-string", 24, 3), 2);
	assert_int_equal(sl_partition_for_key("a-little-bit-longer-string", 26, 6), 5);
	assert_int_equal(sl_partition_for_key("abc", 3, 6), 3);
	assert_int_equal(sl_partition_for_key("key-0", 5, 3), 1);
	assert_int_equal(sl_partition_for_key("hello", 5, 100), 29);
	/* negative hashes stay in range for every count */
	for (int32_t n = 1; n <= 1024; n++) {
		int32_t p = sl_partition_for_key("foobar", 6, n);
		assert_true(p >= 0 && p < n);
	}
}

static void test_round_robin(void **state)
{
	uint32_t c = 0;
	for (int i = 0; i < 10; i++)
		assert_int_equal(slc_next_rr(&c, 3), i % 3);
	c = UINT32_MAX; /* wrap stays in range */
	assert_true(slc_next_rr(&c, 7) < 7);
	assert_true(slc_next_rr(&c, 7) < 7);
}

static void test_sequence_wrap(void **state)
{
	assert_int_equal(slc_seq_add(0, 5), 5);
	assert_int_equal(slc_seq_add(INT32_MAX, 1), 0);
	assert_int_equal(slc_seq_add(INT32_MAX - 2, 5), 2);
	/* a run of batches numbers records contiguously */
	int32_t seq = INT32_MAX - 10, counts[] = { 3, 4, 5, 6 };
	int32_t expect = INT32_MAX - 10;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(seq, expect);
		seq = slc_seq_add(seq, counts[i]);
		expect = (int32_t)(((int64_t)expect + counts[i]) % 2147483648LL);
	}
}

static void test_batch_due(void **state)
{
	/* empty batches are never due */
	assert_false(slc_batch_due(RB_HEADER_BYTES, 16384, 1000000, 5));
	/* full */
	assert_true(slc_batch_due(16384, 16384, 0, 5));
	/* linger */
	assert_false(slc_batch_due(100, 16384, 4999, 5));
	assert_true(slc_batch_due(100, 16384, 5000, 5));
	/* linger 0 sends at once */
	assert_true(slc_batch_due(100, 16384, 0, 0));
	/* the record bound covers the worst varints */
	assert_true(slc_record_bound(0, 0) >= 1 + 5 + 1 + 10 + 5 + 5 + 5 + 1 - 5);
}

static void test_record_bound_is_an_upper_bound(void **state)
{
	uint8_t buf[4096];
	struct rb_builder b;
	rb_builder_init(&b, buf, sizeof(buf), 1700000000000);
	size_t before = b.len;
	static const uint8_t val[1000];
	/* a far timestamp: the largest delta varint */
	assert_int_equal(rb_builder_add(&b, "k", 1, val, sizeof(val),
					 1700000000000 + (1LL << 40)), 0);
	assert_true(b.len - before <= slc_record_bound(1, sizeof(val)));
}

static void test_produce_frame(void **state)
{
	uint8_t buf[8192];
	struct rb_builder b;
	rb_builder_init(&b, buf + SN_PRODUCE_REQ_BYTES,
			sizeof(buf) - SN_PRODUCE_REQ_BYTES, 1700000000000);
	rb_builder_set_producer(&b, 42, 3, 100);
	for (int i = 0; i < 10; i++) {
		char v[32];
		int n = snprintf(v, sizeof(v), "value-%d", i);
		assert_int_equal(rb_builder_add(&b, i % 2 ? "key" : NULL, 3, v,
						 n, 1700000000000 + i), 0);
	}
	long bl = rb_builder_finish(&b);
	assert_true(bl > RB_HEADER_BYTES);
	long fl = slc_produce_frame(buf, 77, 9, 2, -1, 1000, (size_t)bl);
	assert_int_equal(fl, SN_PRODUCE_REQ_BYTES + bl);

	struct sn_produce r;
	assert_int_equal(sn_decode_produce(buf, (size_t)fl, &r), 0);
	assert_int_equal(r.topic_id, 9);
	assert_int_equal(r.partition, 2);
	assert_int_equal(r.acks, -1);
	assert_int_equal(r.timeout_ms, 1000);
	assert_int_equal(rb_be32(buf + 8), 77);
	assert_int_equal(rb_validate(r.batch, r.batch_len), 0);
	struct rb_header h;
	rb_header_decode(r.batch, &h);
	assert_int_equal(h.producer_id, 42);
	assert_int_equal(h.producer_epoch, 3);
	assert_int_equal(h.base_sequence, 100);
	assert_int_equal(h.record_count, 10);
	struct rb_iter it;
	struct rb_record rec;
	assert_int_equal(rb_iter_init(&it, r.batch, r.batch_len), 0);
	for (int i = 0; i < 10; i++) {
		char v[32];
		int n = snprintf(v, sizeof(v), "value-%d", i);
		assert_int_equal(rb_iter_next(&it, &rec), 1);
		assert_int_equal(rec.offset, i);
		assert_int_equal(rec.timestamp, 1700000000000 + i);
		assert_int_equal(rec.vlen, n);
		assert_memory_equal(rec.value, v, (size_t)n);
		if (i % 2)
			assert_memory_equal(rec.key, "key", 3);
		else
			assert_null(rec.key);
	}
	assert_int_equal(rb_iter_next(&it, &rec), 0);
}

static void test_restamp_keeps_crc_valid(void **state)
{
	/* what the producer does when it renumbers a closed batch */
	uint8_t buf[1024];
	struct rb_builder b;
	rb_builder_init(&b, buf, sizeof(buf), 1);
	assert_int_equal(rb_builder_add(&b, NULL, 0, "x", 1, 1), 0);
	long bl = rb_builder_finish(&b);
	rb_put64(buf + RB_OFF_PRODUCER_ID, 42);
	rb_put32(buf + RB_OFF_BASE_SEQUENCE, 5);
	assert_int_equal(rb_validate(buf, (size_t)bl), SL_ECRC);
	rb_put32(buf + RB_OFF_CRC,
		 rb_crc32c(buf + RB_CRC_START, (size_t)bl - RB_CRC_START));
	assert_int_equal(rb_validate(buf, (size_t)bl), 0);
}

static void test_errors(void **state)
{
	int rc = sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_true(rc < 0);
	assert_true(sl_is_broker_err(rc));
	assert_int_equal(sl_broker_code(rc), 3);
	assert_int_equal(sl_broker_code(sl_err_broker(-1)), -1);
	assert_int_equal(sl_broker_code(sl_err_broker(89)), 89);
	assert_int_equal(sl_err_broker(0), 0);
	assert_false(sl_is_broker_err(-ECONNREFUSED));
	assert_false(sl_is_broker_err(SL_ECRC));
	assert_non_null(strstr(sl_error_message(rc), "sluice topic create"));
	assert_non_null(strstr(sl_error_message(-ECONNREFUSED), "./tools/run"));
	assert_string_equal(sl_error_message(SL_ECRC), sl_strerror(SL_ECRC));
	assert_non_null(sl_broker_error_message(12345));
	assert_true(slc_retriable(SN_ERR_THROTTLING_QUOTA_EXCEEDED));
	assert_true(slc_retriable(SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER));
	assert_false(slc_retriable(SN_ERR_MESSAGE_TOO_LARGE));
	assert_false(slc_retriable(SN_ERR_INVALID_PRODUCER_EPOCH));
}

static void test_addresses(void **state)
{
	struct sockaddr_in sin;
	char text[64];
	assert_int_equal(slc_parse_addr(NULL, &sin, text, sizeof(text)), 0);
	assert_string_equal(text, "127.0.0.1:9093");
	assert_int_equal(slc_parse_addr("10.1.2.3:1234", &sin, text, sizeof(text)), 0);
	assert_string_equal(text, "10.1.2.3:1234");
	assert_int_equal(ntohs(sin.sin_port), 1234);
	assert_int_equal(slc_parse_addr("127.0.0.1", &sin, text, sizeof(text)), 0);
	assert_string_equal(text, "127.0.0.1:9093");
	assert_int_equal(slc_parse_addr(":9999", &sin, text, sizeof(text)), 0);
	assert_string_equal(text, "127.0.0.1:9999");
	assert_int_equal(slc_parse_addr("127.0.0.1:0", &sin, NULL, 0), -EINVAL);
	assert_int_equal(slc_parse_addr("127.0.0.1:x", &sin, NULL, 0), -EINVAL);
	assert_int_equal(slc_parse_addr("127.0.0.1:70000", &sin, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur2_kafka_vectors),
		cmocka_unit_test(test_partition_for_key),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_sequence_wrap),
		cmocka_unit_test(test_batch_due),
		cmocka_unit_test(test_record_bound_is_an_upper_bound),
		cmocka_unit_test(test_produce_frame),
		cmocka_unit_test(test_restamp_keeps_crc_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
