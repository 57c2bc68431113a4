/*
 * The batch rules of proto/record_batch.c through the whole broker
 * (sluiced + sluice-control as processes, tests/lib/broker.h), over both
 * protocols: for each rule, a batch that breaks only that rule (its CRC
 * recomputed) is sent, then a good batch.
 *
 *   - the bad batch is answered with the rule's error (rb_error_code:
 *     CORRUPT_MESSAGE, INVALID_RECORD or INVALID_TIMESTAMP), over native
 *     UDP and over Kafka Produce v3;
 *   - the good batch after it gets the next offset exactly: the refused
 *     batch took none, and none of them made the offsets jump;
 *   - each refusal is counted under its own net0 bad_ counter on the
 *     telemetry socket (/sluice/cores), by exactly the number sent, and
 *     the partition's end offset is the good batches' records.
 *
 * Every wait is bounded; exit 0 passed, 1 failed, 77 skipped (binaries
 * missing).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/error.h"
#include "sluice/sluice.h"

#define TOPIC "rules"
#define REPLY_MAX 65536

static struct tb b;
static int failed;
static char tel_path[PATH_MAX];
static uint32_t topic_id;
static int udp = -1, kfd = -1;
static uint32_t corr = 1;
static int64_t next_offset; /* where the next good batch must land */

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			failed = 1;                                        \
			goto out;                                          \
		}                                                          \
	} while (0)

/* ---- batches ---- */

/* A good batch of n records, timestamps ts0 + i. */
static long good_batch(uint8_t *buf, size_t cap, int n, int64_t ts0)
{
	struct rb_builder bb;
	rb_builder_init(&bb, buf, cap, ts0);
	for (int i = 0; i < n; i++) {
		char v[32];
		int vl = snprintf(v, sizeof(v), "value-%d", i);
		if (rb_builder_add(&bb, "k", 1, v, vl, ts0 + i))
			return -1;
	}
	return rb_builder_finish(&bb);
}

static void recrc(uint8_t *p, size_t len)
{
	rb_put32(p + RB_OFF_CRC,
		 rb_crc32c(p + RB_CRC_START, len - RB_CRC_START));
}

/* Each case breaks one rule of a good 3-record batch of len bytes and
 * returns its new length. */
static size_t break_crc(uint8_t *p, size_t len)
{
	p[len - 1] ^= 0x40;
	return len;
}
static size_t break_attributes(uint8_t *p, size_t len)
{
	rb_put16(p + RB_OFF_ATTRIBUTES, RB_ATTR_CONTROL);
	recrc(p, len);
	return len;
}
static size_t break_offsets(uint8_t *p, size_t len)
{
	/* 3 records claiming 2^31 - 1 offsets */
	rb_put32(p + RB_OFF_LAST_OFFSET_DELTA, INT32_MAX - 1);
	recrc(p, len);
	return len;
}
static size_t break_offsets_compressed(uint8_t *p, size_t len)
{
	/* a compressed batch (its records are not read) that claims 2^21
	 * records: it would take 2^21 offsets */
	rb_put16(p + RB_OFF_ATTRIBUTES, 4);
	rb_put32(p + RB_OFF_RECORD_COUNT, 1u << 21);
	rb_put32(p + RB_OFF_LAST_OFFSET_DELTA, (1u << 21) - 1);
	recrc(p, len);
	return len;
}
static size_t break_sequence(uint8_t *p, size_t len)
{
	/* an idempotent producer's batch without a sequence */
	rb_put64(p + RB_OFF_PRODUCER_ID, 4242);
	rb_put32(p + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
	recrc(p, len);
	return len;
}
static size_t break_timestamp(uint8_t *p, size_t len)
{
	/* a max timestamp that would keep the segment from ever aging */
	rb_put64(p + RB_OFF_MAX_TIMESTAMP, (uint64_t)INT64_MAX);
	recrc(p, len);
	return len;
}
static size_t break_records(uint8_t *p, size_t len)
{
	/* the record count says 4, there are 3 */
	rb_put32(p + RB_OFF_RECORD_COUNT, 4);
	rb_put32(p + RB_OFF_LAST_OFFSET_DELTA, 3);
	recrc(p, len);
	return len;
}
static size_t break_trailing(uint8_t *p, size_t len)
{
	/* a byte after the last record, inside the batch length */
	p[len] = 0;
	rb_put32(p + RB_OFF_LENGTH, (uint32_t)(len + 1 - RB_LOG_OVERHEAD));
	recrc(p, len + 1);
	return len + 1;
}

static const struct rule {
	const char *name;
	size_t (*breaks)(uint8_t *p, size_t len);
	int rc;             /* rb_validate's answer */
	const char *counter; /* net0 key */
} rules[] = {
	{ "crc", break_crc, SL_ECRC, "bad_bad_batch" },
	{ "attributes", break_attributes, SL_EATTRIBUTES,
	  "bad_batch_attributes" },
	{ "offsets", break_offsets, SL_EOFFSETS, "bad_batch_offsets" },
	{ "offsets compressed", break_offsets_compressed, SL_EOFFSETS,
	  "bad_batch_offsets" },
	{ "sequence", break_sequence, SL_ESEQUENCE, "bad_batch_sequence" },
	{ "timestamp", break_timestamp, SL_ETIMESTAMP, "bad_batch_timestamp" },
	{ "records", break_records, SL_ERECORDS, "bad_batch_records" },
	{ "trailing", break_trailing, SL_ERECORDS, "bad_batch_records" },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* ---- telemetry ---- */

/* One command's reply into out (NUL-terminated); 0 or -errno. */
static int tel_ask(const char *cmd, char *out, size_t cap)
{
	return tb_tel_ask(tel_path, cmd, out, cap);
}


/* net0's counter key, or -1. */
static int64_t net0(const char *key)
{
	static char buf[REPLY_MAX];
	if (tel_ask("/sluice/cores", buf, sizeof(buf)))
		return -1;
	return tb_json_i64(buf, "net0", key);
}

/* ---- native produce over UDP ---- */

/* Produce batch (acks=1); *err and *base from the answer.  0, or -1 when
 * nothing came back. */
static int native_produce(const uint8_t *batch, size_t blen, int16_t *err,
			  int64_t *base)
{
	static uint8_t f[65536], r[2048];
	struct sn_produce q = { .topic_id = topic_id, .partition = 0,
				.acks = 1, .timeout_ms = 5000, .batch = batch,
				.batch_len = (uint32_t)blen };
	uint32_t c = corr++;
	long fl = sn_encode_produce(f, sizeof(f), c, &q);
	if (fl <= 0 || send(udp, f, (size_t)fl, 0) != fl)
		return -1;
	for (int i = 0; i < 8; i++) { /* skips stray replies, bounded */
		ssize_t n = recv(udp, r, sizeof(r), 0);
		struct sn_header h;
		if (n < 0)
			return -1;
		if (n < SN_HEADER_BYTES ||
		    sn_header_parse(r, (size_t)n, sizeof(r), &h) <= 0 ||
		    h.corr != c)
			continue;
		*err = h.error;
		*base = -1;
		struct sn_produce_resp pr;
		if (h.error == 0 && sn_decode_produce_resp(r, (size_t)n, &pr) == 0)
			*base = pr.base_offset;
		return 0;
	}
	return -1;
}

/* ---- Kafka Produce v3 over TCP ---- */

static int kafka_open(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)b.kport) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 5, 0 };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int recv_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int kafka_produce(const uint8_t *batch, size_t blen, int16_t *err,
			 int64_t *base)
{
	static uint8_t buf[1 << 17];
	static uint64_t arena_mem[1 << 14];
	int32_t c = (int32_t)corr++;
	struct kc_produce_req_partition pp = { 0, { batch, (int32_t)blen } };
	struct kc_produce_req_topic pt = { { TOPIC, (int32_t)strlen(TOPIC) },
					   { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, 1, 5000, { &pt, 1 } };
	/* v7: the first that may carry zstd (the compressed rule's codec) */
	struct kc_request_header h = { KC_API_PRODUCE, 7, c,
				       { "batch-rules", 11 } };
	long n = kc_encode_request(&h, (const void *)&q, buf + 4,
				   sizeof(buf) - 4);
	if (n < 0)
		return -1;
	rb_put32(buf, (uint32_t)n);
	if (send(kfd, buf, (size_t)n + 4, MSG_NOSIGNAL) != n + 4)
		return -1;
	if (recv_all(kfd, buf, 4))
		return -1;
	uint32_t size = rb_be32(buf);
	if (size > sizeof(buf) || recv_all(kfd, buf, size))
		return -1;
	struct kc_response_header rh;
	union kc_response r;
	struct kc_arena a = { (uint8_t *)arena_mem, sizeof(arena_mem), 0 };
	if (kc_decode_response(KC_API_PRODUCE, 7, buf, size, &rh, &r, &a) < 0 ||
	    rh.correlation_id != c)
		return -1;
	const struct kc_produce_resp *pr = (const void *)&r;
	const struct kc_produce_resp_topic *t = pr->responses.items;
	if (pr->responses.count != 1 || t->partition_responses.count != 1)
		return -1;
	const struct kc_produce_resp_partition *p = t->partition_responses.items;
	*err = p->error_code;
	*base = p->base_offset;
	return 0;
}

typedef int (*produce_fn)(const uint8_t *batch, size_t blen, int16_t *err,
			  int64_t *base);

/* Every rule over one protocol: the bad batch refused with its error,
 * then a good batch at exactly the next offset. */
static int run_rules(const char *proto, produce_fn produce, int64_t ts0)
{
	static uint8_t batch[4096];
	int16_t err;
	int64_t base;
	for (size_t i = 0; i < NRULES; i++) {
		long bl = good_batch(batch, sizeof(batch) - 1, 3, ts0 + (int64_t)i);
		if (bl <= 0)
			return -1;
		size_t n = rules[i].breaks(batch, (size_t)bl);
		int rc = rb_validate(batch, n);
		if (rc != rules[i].rc) {
			fprintf(stderr, "%s: the broken batch gives %s here\n",
				rules[i].name, sl_strerror(rc));
			return -1;
		}
		if (produce(batch, n, &err, &base)) {
			fprintf(stderr, "%s %s: no answer\n", proto, rules[i].name);
			return -1;
		}
		if (err != rb_error_code(rules[i].rc)) {
			fprintf(stderr, "%s %s: answered %d, want %d\n", proto,
				rules[i].name, err, rb_error_code(rules[i].rc));
			return -1;
		}
		int nrec = 1 + (int)i % 4;
		bl = good_batch(batch, sizeof(batch), nrec, ts0 + 100);
		if (bl <= 0 || produce(batch, (size_t)bl, &err, &base)) {
			fprintf(stderr, "%s after %s: no answer\n", proto,
				rules[i].name);
			return -1;
		}
		if (err != 0 || base != next_offset) {
			fprintf(stderr, "%s: the good batch after %s: error %d, "
				"offset %" PRId64 ", want 0 at %" PRId64 "\n",
				proto, rules[i].name, err, base, next_offset);
			return -1;
		}
		next_offset += nrec;
	}
	return 0;
}

int main(void)
{
	struct sl_client *c = NULL;
	static char buf[REPLY_MAX];
	int64_t before[NRULES];
	int rc = tb_available();
	if (rc)
		return rc;
	CHECK(tb_init(&b, "batch_rules") == 0, "tb_init");
	snprintf(tel_path, sizeof(tel_path), "%.4000s/run/telemetry.sock", b.dir);
	CHECK(tb_start(&b) == 0, "broker did not start (logs in %s)", b.dir);
	CHECK(sl_client_create(b.addr, 5000, &c) == 0, "connect");
	long id = sl_topic_create(c, TOPIC, NULL);
	CHECK(id >= 0, "create: %s", sl_error_message((int)id));
	topic_id = (uint32_t)id;
	sl_client_destroy(c);
	c = NULL;
	for (size_t i = 0; i < NRULES; i++) {
		before[i] = net0(rules[i].counter);
		CHECK(before[i] >= 0, "no %s in /sluice/cores", rules[i].counter);
	}
	udp = tb_udp_open(&b);
	CHECK(udp >= 0, "udp socket");
	kfd = kafka_open();
	CHECK(kfd >= 0, "kafka connection");

	CHECK(run_rules("native", native_produce, 1700000000000ll) == 0,
	      "native protocol");
	CHECK(run_rules("kafka", kafka_produce, 1700000100000ll) == 0,
	      "Kafka protocol");

	/* each counter moved by 2 per rule naming it (native and Kafka),
	 * and not more */
	for (size_t i = 0; i < NRULES; i++) {
		int64_t want = 0;
		for (size_t j = 0; j < NRULES; j++)
			if (!strcmp(rules[j].counter, rules[i].counter))
				want += 2;
		int64_t got = net0(rules[i].counter) - before[i];
		CHECK(got == want, "%s moved by %" PRId64 ", want %" PRId64,
		      rules[i].counter, got, want);
	}
	/* the partition ends where the good batches did */
	CHECK(tel_ask("/sluice/partition," TOPIC "-0", buf, sizeof(buf)) == 0,
	      "/sluice/partition");
	CHECK(tb_json_i64(buf, "/sluice/partition", "log_end_offset") == next_offset,
	      "end offset %" PRId64 ", want %" PRId64 " in %s",
	      tb_json_i64(buf, "/sluice/partition", "log_end_offset"), next_offset, buf);
	printf("batch_rules: %zu rules refused over native and Kafka, "
	       "%" PRId64 " offsets for the good batches\n", NRULES, next_offset);
out:
	if (udp >= 0)
		close(udp);
	if (kfd >= 0)
		close(kfd);
	if (c)
		sl_client_destroy(c);
	if (tb_destroy(&b, failed) < 0)
		failed = 1;
	return failed;
}
