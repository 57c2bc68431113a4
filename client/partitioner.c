/*
 * Kafka's partitioner and the producer's pure batch arithmetic.
 *
 * murmur2 is org.apache.kafka.common.utils.Utils.murmur2 bit for bit
 * (seed 0x9747b28c, m 0x5bd1e995, r 24, little-endian 4-byte blocks, tail
 * bytes mixed in 2, 1, 0 order), so a key lands on the partition a Java
 * Kafka producer would choose: (murmur2(key) & 0x7fffffff) % partitions.
 */
#include <assert.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/record_batch.h"

int32_t sl_murmur2(const void *key, size_t len)
{
	const uint8_t *d = key;
	const uint32_t m = 0x5bd1e995u;
	const int r = 24;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t n4 = len / 4;
	for (size_t i = 0; i < n4; i++) {
		const uint8_t *p = d + i * 4;
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	const uint8_t *t = d + (len & ~(size_t)3);
	switch (len % 4) {
	case 3:
		h ^= (uint32_t)t[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)t[1] << 8;
		/* fall through */
	case 1:
		h ^= t[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

int32_t sl_partition_for_key(const void *key, size_t len, int32_t partitions)
{
	assert(partitions >= 1);
	return (int32_t)(((uint32_t)sl_murmur2(key, len) & 0x7fffffffu) %
			 (uint32_t)partitions);
}

int32_t slc_next_rr(uint32_t *counter, int32_t partitions)
{
	assert(partitions >= 1);
	return (int32_t)((*counter)++ % (uint32_t)partitions);
}

size_t slc_record_bound(size_t klen, size_t vlen)
{
	/* length, attributes, timestamp delta, offset delta, key length,
	 * value length, header count: at most 5 + 1 + 10 + 5 + 5 + 5 + 1 */
	return 32 + klen + vlen;
}

int slc_batch_due(size_t bytes, size_t batch_bytes, uint64_t age_us,
		  uint32_t linger_ms)
{
	if (bytes <= RB_HEADER_BYTES)
		return 0; /* empty */
	if (bytes >= batch_bytes)
		return 1;
	return age_us >= (uint64_t)linger_ms * 1000u;
}

long slc_produce_frame(uint8_t *buf, uint32_t corr, uint32_t topic_id,
		       int32_t partition, int16_t acks, uint32_t timeout_ms,
		       size_t batch_len)
{
	struct sn_produce r = { .topic_id = topic_id, .partition = partition,
				.acks = acks, .timeout_ms = timeout_ms,
				.batch = buf + SN_PRODUCE_REQ_BYTES,
				.batch_len = (uint32_t)batch_len };
	long n = sn_encode_produce_head(buf, corr, &r);
	assert(n == SN_PRODUCE_REQ_BYTES);
	assert(rb_be32(buf + 4) == SN_PRODUCE_REQ_BYTES + batch_len);
	return SN_PRODUCE_REQ_BYTES + (long)batch_len;
}

int slc_retriable(int code)
{
	switch (code) {
	case SN_ERR_REQUEST_TIMED_OUT:
	case SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
	case SN_ERR_KAFKA_STORAGE_ERROR:
	case SN_ERR_THROTTLING_QUOTA_EXCEEDED:
	case SN_ERR_UNKNOWN_SERVER_ERROR:
		return 1;
	}
	return 0;
}
