/*
 * Produce, Fetch and ListOffsets of the real broker at their lowest and
 * highest versions, byte by byte (suite 'integration'; ApiVersions v0-4
 * is listener_test.c's): sluiced and sluice-control started by
 * tests/lib/broker.h, requests built and answers read with the codec.
 *   - Produce v0 (a magic 0 message set) and v2 (magic 1, a plain message
 *     and a gzip wrapper of two) are stored as RecordBatch v2 and read
 *     back by Fetch v17 (topics by id) with the same keys, values,
 *     timestamps and offsets; a bad CRC is CORRUPT_MESSAGE, a message set
 *     in Produce v3 INVALID_RECORD; v0 and v11 answers checked to the
 *     byte count (no field a version lacks, no tagged field);
 *   - Fetch v0 and v3 read batches as message sets of magic 0 and 1 (CRC,
 *     offsets, keys, values, timestamps), among them a gzip batch that
 *     kcat produced (skipped, and said, without kcat); Fetch v17 of an
 *     unknown topic id
 *     is UNKNOWN_TOPIC_ID per partition, the id echoed;
 *   - ListOffsets v0 (old_style_offsets, max_num_offsets), v10 and v11
 *     (-1..-6, a timestamp unknown to the version; v11's -6, the earliest
 *     pending upload offset, none without tiered storage);
 *   - Produce v13 by topic id (the id echoed; an unknown id
 *     UNKNOWN_TOPIC_ID), read back by Fetch v18 with the follower's
 *     high_watermark tag set (nothing changes), answers to the byte count.
 * The wire helpers are kwire.h's.  Exit 77 when binaries are missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "broker.h"
#include "kwire.h"
#include "proto/compression.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"
#include "sluice/sluice.h"

static struct tb b;
static uint32_t topic_id; /* of "kv", 1 partition */

/* ---- message sets (proto/msgset.h's format) ---- */

static size_t put_bytes(uint8_t *p, const char *s)
{
	if (!s) {
		rb_put32(p, 0xffffffffu);
		return 4;
	}
	rb_put32(p, (uint32_t)strlen(s));
	memcpy(p + 4, s, strlen(s));
	return 4 + strlen(s);
}

/* One message (offset, size, crc ...) at p; returns its bytes. */
static size_t put_msg(uint8_t *p, int64_t offset, int magic, int attr,
		      int64_t ts, const char *key, const uint8_t *val,
		      size_t vlen)
{
	size_t at = 12 + 4;
	p[at++] = (uint8_t)magic;
	p[at++] = (uint8_t)attr;
	if (magic == 1) {
		rb_put64(p + at, (uint64_t)ts);
		at += 8;
	}
	at += put_bytes(p + at, key);
	rb_put32(p + at, (uint32_t)vlen);
	memcpy(p + at + 4, val, vlen);
	at += 4 + vlen;
	rb_put64(p, (uint64_t)offset);
	rb_put32(p + 8, (uint32_t)(at - 12));
	rb_put32(p + 12, (uint32_t)crc32(0, p + 16, (uInt)(at - 16)));
	return at;
}

static size_t put_str_msg(uint8_t *p, int64_t offset, int magic, int64_t ts,
			  const char *key, const char *val)
{
	return put_msg(p, offset, magic, 0, ts, key, (const uint8_t *)val,
		       strlen(val));
}

/* A decoded message of a fetched message set. */
struct msg {
	int64_t offset, ts;
	int magic;
	char key[16], val[16]; /* "" for null keys: none is empty here */
};

static int get_bytes(const uint8_t **p, const uint8_t *end, char *out)
{
	if (end - *p < 4)
		return -1;
	int32_t n = (int32_t)rb_be32(*p);
	*p += 4;
	out[0] = 0;
	if (n < 0)
		return 0;
	if (n >= 16 || end - *p < n)
		return -1;
	memcpy(out, *p, (size_t)n);
	out[n] = 0;
	*p += n;
	return 0;
}

/* Parse a message set: up to max messages, every CRC checked; the count,
 * or -1. */
static int parse_set(const uint8_t *p, size_t len, struct msg *m, int max)
{
	const uint8_t *end = p + len;
	int n = 0;
	while (end - p >= 12 && n < max) {
		uint32_t size = rb_be32(p + 8);
		if ((size_t)(end - p - 12) < size || size < 6)
			return -1;
		const uint8_t *q = p + 12, *me = q + size;
		if (rb_be32(q) != (uint32_t)crc32(0, q + 4, (uInt)(size - 4)))
			return -1;
		m[n].offset = (int64_t)rb_be64(p);
		m[n].magic = q[4];
		if (q[5] != 0)
			return -1; /* down-converted: never compressed */
		q += 6;
		m[n].ts = -2;
		if (m[n].magic == 1) {
			m[n].ts = (int64_t)rb_be64(q);
			q += 8;
		}
		if (get_bytes(&q, me, m[n].key) || get_bytes(&q, me, m[n].val) ||
		    q != me)
			return -1;
		p = me;
		n++;
	}
	return p == end ? n : -1;
}

/* ---- requests ---- */

static int produce(int fd, int16_t v, const uint8_t *rec, size_t len,
		   struct kc_produce_resp_partition *out)
{
	struct kc_produce_req_partition pp = { 0, { rec, (int32_t)len } };
	struct kc_produce_req_topic pt = { { "kv", 2 }, { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, -1, 5000, { &pt, 1 } };
	union kc_response r;
	if (kw_call(fd, KC_API_PRODUCE, v, &q, &r))
		return -1;
	const struct kc_produce_resp *pr = (const void *)&r;
	if (pr->responses.count != 1)
		return -1;
	const struct kc_produce_resp_topic *t = pr->responses.items;
	if (t->partition_responses.count != 1 || t->name.len != 2)
		return -1;
	*out = *(const struct kc_produce_resp_partition *)
		       t->partition_responses.items;
	return 0;
}

/* Produce v13+ (topics by id): the answer's topic in *tout. */
static int produce_id(int fd, int16_t v, const uint8_t *uuid,
		      const uint8_t *rec, size_t len,
		      struct kc_produce_resp_topic *tout,
		      struct kc_produce_resp_partition *out)
{
	struct kc_produce_req_partition pp = { 0, { rec, (int32_t)len } };
	struct kc_produce_req_topic pt = { { NULL, -1 }, { { 0 } }, { &pp, 1 } };
	memcpy(pt.topic_id.b, uuid, 16);
	struct kc_produce_req q = { { NULL, -1 }, -1, 5000, { &pt, 1 } };
	union kc_response r;
	if (kw_call(fd, KC_API_PRODUCE, v, &q, &r))
		return -1;
	const struct kc_produce_resp *pr = (const void *)&r;
	if (pr->responses.count != 1)
		return -1;
	*tout = *(const struct kc_produce_resp_topic *)pr->responses.items;
	if (tout->partition_responses.count != 1)
		return -1;
	*out = *(const struct kc_produce_resp_partition *)
		       tout->partition_responses.items;
	return 0;
}

static const char *fetch_topic = "kv";
/* v18+: the request partitions' high_watermark tag (a follower's; its
 * default, INT64_MAX, is not sent) */
static int64_t fetch_hw = INT64_MAX;

static int fetch(int fd, int16_t v, const uint8_t *uuid, int64_t offset,
		 struct kc_fetch_resp_topic *tout,
		 struct kc_fetch_resp_partition *out)
{
	struct kc_fetch_req_partition fp = { .partition = 0,
					     .current_leader_epoch = -1,
					     .fetch_offset = offset,
					     .last_fetched_epoch = -1,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20,
					     .high_watermark = fetch_hw };
	struct kc_fetch_req_topic ft = { .topic = { fetch_topic,
						    (int32_t)strlen(fetch_topic) },
					 .partitions = { &fp, 1 } };
	if (uuid)
		memcpy(ft.topic_id.b, uuid, 16);
	struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = 0,
				  .min_bytes = 0, .max_bytes = 50 << 20,
				  .session_epoch = -1, .topics = { &ft, 1 },
				  .forgotten_topics_data = { NULL, 0 },
				  .rack_id = { "", 0 },
				  .cluster_id = { NULL, -1 },
				  .replica_state = { -1, -1 } };
	union kc_response r;
	if (kw_call(fd, KC_API_FETCH, v, &q, &r))
		return -1;
	const struct kc_fetch_resp *fr = (const void *)&r;
	if (fr->error_code || fr->responses.count != 1)
		return -1;
	*tout = *(const struct kc_fetch_resp_topic *)fr->responses.items;
	if (tout->partitions.count != 1)
		return -1;
	*out = *(const struct kc_fetch_resp_partition *)tout->partitions.items;
	return 0;
}

static int list(int fd, int16_t v, int64_t ts, int32_t max,
		struct kc_list_offsets_resp_partition *out)
{
	struct kc_list_offsets_req_partition lp = { 0, -1, ts, max };
	struct kc_list_offsets_req_topic lt = { { "kv", 2 }, { &lp, 1 } };
	struct kc_list_offsets_req q = { -1, 0, { &lt, 1 }, 1000 };
	union kc_response r;
	if (kw_call(fd, KC_API_LIST_OFFSETS, v, &q, &r))
		return -1;
	if (r.list_offsets.topics.count != 1)
		return -1;
	const struct kc_list_offsets_resp_topic *t = r.list_offsets.topics.items;
	if (t->partitions.count != 1)
		return -1;
	*out = *(const struct kc_list_offsets_resp_partition *)t->partitions.items;
	return 0;
}

/* ---- tests ---- */

#define TS0 1700000000123LL

/* The records of the 5 produced below, in offset order. */
static const struct {
	const char *key, *val;
	int64_t ts; /* -1: magic 0 has none */
} want[5] = {
	{ "a", "one", -1 },      { NULL, "two", -1 },
	{ "b", "three", TS0 },   { "c", "four", TS0 + 1 },
	{ NULL, "five", TS0 + 2 },
};

static int t_produce_old(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	static uint8_t set[4096], inner[1024];
	struct kc_produce_resp_partition p;
	/* v0: a magic 0 message set of two */
	size_t n = put_str_msg(set, 0, 0, 0, want[0].key, want[0].val);
	n += put_str_msg(set + n, 1, 0, 0, want[1].key, want[1].val);
	CHECK(produce(fd, 0, set, n, &p) == 0);
	CHECK(p.error_code == 0 && p.base_offset == 0);
	/* v0's answer: corr, [topic "kv" [index, error, base offset]] */
	CHECK(kw_resp_len() == 4 + 4 + 2 + 2 + 4 + 4 + 2 + 8);
	/* v2: magic 1, a plain message, then a gzip wrapper of two (inner
	 * offsets relative, the wrapper's the last one's) */
	n = put_str_msg(set, 0, 1, want[2].ts, want[2].key, want[2].val);
	size_t in = put_str_msg(inner, 0, 1, want[3].ts, want[3].key,
				want[3].val);
	in += put_str_msg(inner + in, 1, 1, want[4].ts, want[4].key,
			  want[4].val);
	uint8_t *gz;
	size_t gzlen;
	CHECK(sl_compress(SL_CODEC_GZIP, inner, in, &gz, &gzlen) == 0);
	n += put_msg(set + n, 1, 1, SL_CODEC_GZIP, TS0 + 2, NULL, gz, gzlen);
	free(gz);
	CHECK(produce(fd, 2, set, n, &p) == 0);
	CHECK(p.error_code == 0 && p.base_offset == 2);
	CHECK(p.log_append_time_ms == -1);
	CHECK(kw_resp_len() == 4 + 4 + 2 + 2 + 4 + 4 + 2 + 8 + 8 + 4);
	/* a flipped CRC: CORRUPT_MESSAGE; a message set at v3: INVALID_RECORD */
	set[13] ^= 0x40;
	CHECK(produce(fd, 2, set, n, &p) == 0);
	CHECK(p.error_code == 2 && p.base_offset == -1);
	set[13] ^= 0x40;
	CHECK(produce(fd, 3, set, n, &p) == 0);
	CHECK(p.error_code == 87);
	close(fd);
	return 0;
}

/* Fetch v17 by topic id: the five records as v2 batches. */
static int t_fetch_new(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	uint8_t uuid[16];
	sl_topic_uuid(topic_id, uuid);
	struct kc_fetch_resp_topic t;
	struct kc_fetch_resp_partition p;
	CHECK(fetch(fd, 17, uuid, 0, &t, &p) == 0);
	CHECK(!memcmp(t.topic_id.b, uuid, 16) && t.topic.len <= 0);
	CHECK(p.error_code == 0 && p.high_watermark == 5 &&
	      p.last_stable_offset == 5 && p.log_start_offset == 0);
	CHECK(p.aborted_transactions.count == -1); /* read_uncommitted */
	CHECK(p.preferred_read_replica == -1);
	const uint8_t *q = p.records.ptr, *end = q + p.records.len;
	int k = 0;
	for (int batches = 0; q < end && batches < 8; batches++) {
		CHECK(end - q >= RB_HEADER_BYTES && q[RB_OFF_MAGIC] == 2);
		long bl = rb_frame_size(q, (size_t)(end - q), (size_t)(end - q));
		CHECK(bl > 0);
		int codec = rb_be16(q + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION_MASK;
		/* the v2 set's batch has its (last) wrapper's codec, as
		 * Kafka's "source compression" */
		if (codec != (batches == 1 ? SL_CODEC_GZIP : SL_CODEC_NONE))
			fprintf(stderr, "batch %d: codec %d\n", batches, codec);
		CHECK(codec == (batches == 1 ? SL_CODEC_GZIP : SL_CODEC_NONE));
		struct rb_iter it;
		uint8_t *plain = NULL;
		if (codec) {
			size_t pl;
			CHECK(sl_decompress(codec, q + RB_HEADER_BYTES,
					    (size_t)bl - RB_HEADER_BYTES, 1 << 20,
					    &plain, &pl) == 0);
			rb_iter_init_records(&it, q, plain, pl);
		} else {
			CHECK(rb_iter_init(&it, q, (size_t)bl) == 0);
		}
		struct rb_record r;
		while (rb_iter_next(&it, &r) == 1 && k < 5) {
			int ok = r.offset == k && r.timestamp == want[k].ts &&
				 r.vlen == (int32_t)strlen(want[k].val) &&
				 !memcmp(r.value, want[k].val, (size_t)r.vlen) &&
				 (want[k].key ? r.klen == 1 &&
							*r.key == *want[k].key
					      : r.key == NULL);
			if (!ok)
				free(plain);
			CHECK(ok);
			k++;
		}
		free(plain);
		q += bl;
	}
	CHECK(k == 5 && q == end);
	/* an id that is no topic's: UNKNOWN_TOPIC_ID, the id echoed */
	uuid[15] ^= 0x80;
	CHECK(fetch(fd, 17, uuid, 0, &t, &p) == 0);
	CHECK(!memcmp(t.topic_id.b, uuid, 16));
	CHECK(p.error_code == 100 && p.high_watermark == -1 &&
	      p.records.len <= 0);
	/* and no tagged field (diverging epoch, current leader, snapshot
	 * id, node endpoints): header v1, throttle, error, session, [topic
	 * id, [index, error, hw, lso, log start, [], replica, records,
	 * tags], tags], tags */
	CHECK(kw_resp_len() == 5 + 4 + 2 + 4 + 1 +
				       (16 + 1 +
					(4 + 2 + 8 + 8 + 8 + 1 + 4 + 1 + 1) +
					1) + 1);
	close(fd);
	return 0;
}

/* Fetch v0 and v3: message sets of magic 0 and 1. */
static int t_fetch_old(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	struct kc_fetch_resp_topic t;
	struct kc_fetch_resp_partition p;
	struct msg m[8];
	for (int16_t v = 0; v <= 3; v += 3) {
		int64_t from = v == 0 ? 1 : 3; /* inside a stored batch */
		CHECK(fetch(fd, v, NULL, from, &t, &p) == 0);
		CHECK(t.topic.len == 2 && !memcmp(t.topic.ptr, "kv", 2));
		CHECK(p.error_code == 0 && p.high_watermark == 5);
		int n = parse_set(p.records.ptr, (size_t)p.records.len, m, 8);
		CHECK(n == 5 - from);
		for (int i = 0; i < n; i++) {
			int k = (int)from + i;
			CHECK(m[i].offset == k && m[i].magic == (v == 0 ? 0 : 1));
			CHECK(m[i].ts == (v == 0 ? -2 : want[k].ts));
			CHECK(!strcmp(m[i].val, want[k].val));
			CHECK(!strcmp(m[i].key, want[k].key ? want[k].key : ""));
		}
	}
	close(fd);
	return 0;
}

static int t_list_offsets(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	struct kc_list_offsets_resp_partition p;
	/* v0: old_style_offsets, largest first, max_num_offsets of them */
	CHECK(list(fd, 0, -1, 10, &p) == 0);
	const int64_t *o = p.old_style_offsets.items;
	CHECK(p.error_code == 0 && p.old_style_offsets.count == 2 &&
	      o[0] == 5 && o[1] == 0);
	CHECK(list(fd, 0, -1, 1, &p) == 0);
	o = p.old_style_offsets.items;
	CHECK(p.old_style_offsets.count == 1 && o[0] == 5);
	CHECK(list(fd, 0, -2, 10, &p) == 0);
	o = p.old_style_offsets.items;
	CHECK(p.old_style_offsets.count == 1 && o[0] == 0);
	CHECK(list(fd, 0, -3, 10, &p) == 0);
	CHECK(p.error_code == 35 && p.old_style_offsets.count == 0);
	/* v10 and v11: -6, the earliest pending upload offset (KIP-1023),
	 * is v11's, and without tiered storage none (offset and epoch -1, no
	 * error), as Kafka without it */
	static const struct {
		int16_t v;
		int64_t ts, offset;
		int16_t err;
		int32_t epoch;
	} cases[] = {
		{ 10, -1, 5, 0, 0 },    { 10, -2, 0, 0, 0 },
		{ 10, -4, 0, 0, 0 },    { 10, -5, -1, 0, -1 },
		{ 10, -6, -1, 35, -1 }, { 10, TS0, 2, 0, 0 },
		{ 11, -1, 5, 0, 0 },    { 11, -2, 0, 0, 0 },
		{ 11, -4, 0, 0, 0 },
		{ 11, -5, -1, 0, -1 },  { 11, -6, -1, 0, -1 },
		{ 11, -7, -1, 35, -1 }, { 11, TS0, 2, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(list(fd, cases[i].v, cases[i].ts, 1, &p) == 0);
		int64_t ts_want = -1; /* for these, as Kafka */
		if (p.error_code != cases[i].err || p.offset != cases[i].offset ||
		    p.leader_epoch != cases[i].epoch || p.timestamp != ts_want)
			fprintf(stderr, "v%d ts %lld: error %d offset %lld "
				"epoch %d\n", cases[i].v,
				(long long)cases[i].ts, p.error_code,
				(long long)p.offset, p.leader_epoch);
		CHECK(p.error_code == cases[i].err);
		CHECK(p.offset == cases[i].offset);
		CHECK(p.leader_epoch == cases[i].epoch && p.timestamp == ts_want);
	}
	/* v11's answer: header v1, throttle, [topic "kv", [index, error,
	 * timestamp, offset, epoch, tags], tags], tags */
	CHECK(list(fd, 11, -6, 1, &p) == 0);
	CHECK(kw_resp_len() == 5 + 4 + 1 +
				       (3 + 1 + (4 + 2 + 8 + 8 + 4 + 1) + 1) + 1);
	/* v1: -4 is v8's: UNSUPPORTED_VERSION */
	CHECK(list(fd, 1, -4, 1, &p) == 0);
	CHECK(p.error_code == 35 && p.offset == -1);
	close(fd);
	return 0;
}

/* Fetch v0 and v3 of what kcat (librdkafka) produced: a gzip batch of
 * keyed messages, read as message sets.  Skipped (said) without kcat. */
static int t_fetch_kcat(void)
{
	char in[PATH_MAX];
	snprintf(in, sizeof(in), "%s/kcat.in", b.dir);
	FILE *f = fopen(in, "w");
	CHECK(f);
	for (int i = 0; i < 20; i++)
		fprintf(f, "k%d:value %d\n", i, i);
	fclose(f);
	if (tb_sh("command -v kcat >/dev/null")) {
		printf("skip fetch_kcat: no kcat\n");
		return 0;
	}
	CHECK(tb_sh("timeout 20 kcat -P -b 127.0.0.1:%d -t kk -K : -z gzip "
		    "-X linger.ms=50 -X acks=all -l %s", b.kport, in) == 0);
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	struct kc_fetch_resp_topic t;
	struct kc_fetch_resp_partition p;
	struct msg m[32];
	fetch_topic = "kk";
	for (int16_t v = 0; v <= 3; v += 3) {
		int ok = fetch(fd, v, NULL, 5, &t, &p) == 0;
		fetch_topic = v == 3 ? "kv" : "kk";
		CHECK(ok && p.error_code == 0 && p.high_watermark == 20);
		int n = parse_set(p.records.ptr, (size_t)p.records.len, m, 32);
		CHECK(n == 15);
		for (int i = 0; i < n; i++) {
			char k[16], val[16];
			snprintf(k, sizeof(k), "k%d", 5 + i);
			snprintf(val, sizeof(val), "value %d", 5 + i);
			CHECK(m[i].offset == 5 + i &&
			      m[i].magic == (v == 0 ? 0 : 1));
			CHECK(!strcmp(m[i].key, k) && !strcmp(m[i].val, val));
			CHECK(v == 0 || m[i].ts > 1700000000000LL);
		}
	}
	close(fd);
	return 0;
}

/* Produce v11 (flexible): a v2 batch; the answer carries no tagged field
 * (current_leader, node_endpoints: only for NOT_LEADER errors). */
static int t_produce_new(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	static uint8_t bb[1024];
	struct rb_builder rbld;
	rb_builder_init(&rbld, bb, sizeof(bb), TS0);
	rb_builder_add(&rbld, "d", 1, "six", 3, TS0 + 3);
	long n = rb_builder_finish(&rbld);
	CHECK(n > 0);
	struct kc_produce_resp_partition p;
	CHECK(produce(fd, 11, bb, (size_t)n, &p) == 0);
	CHECK(p.error_code == 0 && p.base_offset == 5 &&
	      p.log_start_offset == 0 && p.log_append_time_ms == -1 &&
	      p.record_errors.count == 0 && p.error_message.len == -1);
	/* header v1 (corr, tags) + [topic: name, [partition: index, error,
	 * base, append time, log start, [], null, tags], tags], throttle,
	 * tags */
	CHECK(kw_resp_len() == 5 + 1 + 3 + 1 +
				       (4 + 2 + 8 + 8 + 8 + 1 + 1 + 1) + 1 +
				       4 + 1);
	close(fd);
	return 0;
}

/* Produce v13 (KIP-516): the topic by id, the id echoed; an id no topic
 * has is UNKNOWN_TOPIC_ID per partition.  The record is read back by
 * Fetch v18 with the follower's high_watermark tag set, which changes
 * nothing for a consumer. */
static int t_produce_by_id(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	uint8_t uuid[16];
	sl_topic_uuid(topic_id, uuid);
	static uint8_t bb[1024];
	struct rb_builder rbld;
	rb_builder_init(&rbld, bb, sizeof(bb), TS0);
	rb_builder_add(&rbld, "e", 1, "seven", 5, TS0 + 4);
	long n = rb_builder_finish(&rbld);
	CHECK(n > 0);
	struct kc_produce_resp_topic t;
	struct kc_produce_resp_partition p;
	CHECK(produce_id(fd, 13, uuid, bb, (size_t)n, &t, &p) == 0);
	CHECK(!memcmp(t.topic_id.b, uuid, 16) && t.name.len <= 0);
	CHECK(p.index == 0 && p.error_code == 0 && p.base_offset == 6 &&
	      p.log_start_offset == 0 && p.log_append_time_ms == -1 &&
	      p.record_errors.count == 0 && p.error_message.len == -1);
	/* header v1 + [topic: id, [partition: index, error, base, append
	 * time, log start, [], null, tags], tags], throttle, tags */
	CHECK(kw_resp_len() == 5 + 1 + 16 + 1 +
				       (4 + 2 + 8 + 8 + 8 + 1 + 1 + 1) + 1 +
				       4 + 1);
	/* read back at v18, the high_watermark tag set below the real one */
	fetch_hw = 2;
	struct kc_fetch_resp_topic ft;
	struct kc_fetch_resp_partition fp;
	int rc = fetch(fd, 18, uuid, 6, &ft, &fp);
	fetch_hw = INT64_MAX;
	CHECK(rc == 0);
	CHECK(!memcmp(ft.topic_id.b, uuid, 16) && ft.topic.len <= 0);
	CHECK(fp.error_code == 0 && fp.high_watermark == 7 &&
	      fp.last_stable_offset == 7 && fp.log_start_offset == 0 &&
	      fp.aborted_transactions.count == -1 &&
	      fp.preferred_read_replica == -1);
	struct rb_iter it;
	struct rb_record r;
	CHECK(fp.records.len > 0 &&
	      rb_iter_init(&it, fp.records.ptr, (size_t)fp.records.len) == 0);
	CHECK(rb_iter_next(&it, &r) == 1);
	CHECK(r.offset == 6 && r.timestamp == TS0 + 4 && r.klen == 1 &&
	      *r.key == 'e' && r.vlen == 5 && !memcmp(r.value, "seven", 5));
	CHECK(rb_iter_next(&it, &r) != 1);
	/* the v18 answer is v17's: no tagged field */
	CHECK(kw_resp_len() == 5 + 4 + 2 + 4 + 1 +
				       (16 + 1 +
					(4 + 2 + 8 + 8 + 8 + 1 + 4 + 1 +
					 (long)fp.records.len + 1) +
					1) + 1);
	/* an id that is no topic's: UNKNOWN_TOPIC_ID, the id echoed, nothing
	 * stored */
	uuid[15] ^= 0x80;
	CHECK(produce_id(fd, 13, uuid, bb, (size_t)n, &t, &p) == 0);
	CHECK(!memcmp(t.topic_id.b, uuid, 16));
	CHECK(p.error_code == 100 && p.base_offset == -1 &&
	      p.log_start_offset == -1);
	uuid[15] ^= 0x80;
	CHECK(fetch(fd, 18, uuid, 7, &ft, &fp) == 0);
	CHECK(fp.error_code == 0 && fp.high_watermark == 7 &&
	      fp.records.len <= 0);
	close(fd);
	return 0;
}

int main(void)
{
	kw_init("dv-test");
	int rc = kw_broker_start(&b, "kdv", NULL);
	if (rc)
		return rc;
	long id = kw_topic_create(&b, "kv", 1);
	if (id <= 0 || kw_topic_create(&b, "kk", 1) <= 0) {
		tb_destroy(&b, 1);
		return 1;
	}
	topic_id = (uint32_t)id;
	static const struct kw_test tests[] = {
		{ "produce_old", t_produce_old },
		{ "fetch_new", t_fetch_new },
		{ "fetch_old", t_fetch_old },
		{ "list_offsets", t_list_offsets },
		{ "produce_new", t_produce_new },
		{ "produce_by_id", t_produce_by_id },
		{ "fetch_kcat", t_fetch_kcat },
	};
	kw_run(&b, tests, KW_COUNT(tests), NULL);
	return kw_finish(&b, NULL);
}
