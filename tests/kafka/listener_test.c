/*
 * The Kafka listener of the real broker, byte by byte (suite
 * 'integration'): sluiced and sluice-control started by tests/lib/broker.h
 * on free loopback ports; requests built and responses read with the
 * codec (proto/kafka/).  Covers what the client tests cannot provoke:
 *   - ApiVersions v0-3, and an unsupported version answered with error 35
 *     in the v0 format, the connection kept;
 *   - an unknown API key, a malformed request, a frame size below 8 or
 *     above the limit: the connection closed, after the responses owed;
 *   - a client that stalls mid-frame and 100 connections sending garbage
 *     do not stop other clients;
 *   - Produce errors per partition: unknown topic, a CRC flipped, two
 *     batches in one partition, acks 2; acks 0 answered never; a good batch
 *     at v3 and v7, fetched back at v4 and v11 byte for byte (from the
 *     magic byte on: the broker stamps base offset and leader epoch);
 *   - ListOffsets earliest/latest, Fetch long-poll waking on new data and
 *     honouring max_wait_ms;
 *   - every piece of bad input moves exactly the broker's counter for its
 *     reason (net0's bad_* in /sluice/cores, read over the telemetry
 *     socket: docs/telemetry.md) and no other bad_* counter.
 * Pass or fail never depends on how fast the machine is: a fetch is known
 * to wait from the broker's kafka_fetch_waits counter, not from a sleep;
 * the only timings checked are lower bounds (max_wait_ms honoured), and
 * every wait has a deadline far above what it needs (a hang fails).
 * Exit 77 when binaries are missing.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "dataplane/telemetry/telemetry.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

static struct tb b;

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* EOF within 5 s (after draining up to 4 responses). */
static int closed_by_peer(int fd)
{
	uint8_t buf[65536];
	for (int i = 0; i < 5; i++) {
		long n = kw_read(fd, buf, sizeof(buf));
		if (n == 0)
			return 1;
		if (n < 0)
			return errno == ECONNRESET;
	}
	return 0;
}

/* ---- the broker's counters, over its telemetry socket ---- */

#define NBAD 32

/* net0's bad_<reason> counters, in the order the broker lists them. */
struct bad_counts {
	int n;
	char name[NBAD][64];
	unsigned long long v[NBAD];
};

static char tel_reply[TEL_MAX_OUTPUT_LEN + 1];

/* /sluice/cores into tel_reply; 0 or -1 (printed). */
static int read_cores(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/run/telemetry.sock", b.dir);
	int n = tel_query(path, "/sluice/cores", tel_reply, sizeof(tel_reply));
	if (n < 0) {
		fprintf(stderr, "telemetry %s: %s\n", path, strerror(-n));
		return -1;
	}
	return 0;
}

/* The value of "key": in tel_reply (net0's keys are unique in it), or -1. */
static long long reply_value(const char *key)
{
	char k[80];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(tel_reply, k);
	if (!p) {
		fprintf(stderr, "no %s in %s\n", key, tel_reply);
		return -1;
	}
	return strtoll(p + strlen(k), NULL, 10);
}

static long long counter(const char *key)
{
	return read_cores() ? -1 : reply_value(key);
}

static int read_bad(struct bad_counts *bc)
{
	if (read_cores())
		return -1;
	bc->n = 0;
	for (const char *p = tel_reply; (p = strstr(p, "\"bad_")) != NULL;) {
		const char *q = strchr(p + 1, '"');
		if (!q || q[1] != ':' || q - p - 1 >= 64 || bc->n == NBAD)
			return -1;
		memcpy(bc->name[bc->n], p + 1, (size_t)(q - p - 1));
		bc->name[bc->n][q - p - 1] = 0;
		bc->v[bc->n++] = strtoull(q + 2, NULL, 10);
		p = q;
	}
	if (bc->n == 0)
		fprintf(stderr, "no bad_* counters in %s\n", tel_reply);
	return bc->n > 0 ? 0 : -1;
}

static struct bad_counts bad_before;

/* Remember the counters; bad_moved() compares with them. */
static int bad_mark(void)
{
	return read_bad(&bad_before);
}

/*
 * Since bad_mark(): each counter named (bad_<reason>, delta pairs, NULL
 * at the end) moved by exactly its delta, every other bad_* not at all.
 * The bad input was answered or its connection closed before this is
 * called, and the broker counts before it answers or closes.  0 or -1.
 */
static int bad_moved(const char *name, ...)
{
	struct bad_counts now;
	long long want[NBAD] = { 0 };
	if (read_bad(&now) || now.n != bad_before.n)
		return -1;
	va_list ap;
	va_start(ap, name);
	for (const char *nm = name; nm; nm = va_arg(ap, const char *)) {
		int d = va_arg(ap, int), i = 0;
		while (i < now.n && strcmp(now.name[i], nm))
			i++;
		if (i == now.n) {
			fprintf(stderr, "the broker has no counter %s\n", nm);
			va_end(ap);
			return -1;
		}
		want[i] = d;
	}
	va_end(ap);
	int bad = 0;
	for (int i = 0; i < now.n; i++) {
		long long d = (long long)(now.v[i] - bad_before.v[i]);
		if (d != want[i]) {
			fprintf(stderr, "counter %s moved by %lld, expected %lld\n",
				now.name[i], d, want[i]);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* ---- tests ---- */

static int t_api_versions(void)
{
	CHECK(bad_mark() == 0);
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	union kc_response r;
	for (int16_t v = 0; v <= 4; v++) {
		struct kc_api_versions_req q = { { "t", 1 }, { "1.0-rc1", 7 } };
		CHECK(kw_call(fd, KC_API_API_VERSIONS, v, &q, &r) == 0);
		CHECK(r.api_versions.error_code == 0);
		const struct kc_api_version_key *k = r.api_versions.api_keys.items;
		int produce = 0, fetch = 0, list = 0, versions = 0, join = 0;
		for (int32_t i = 0; i < r.api_versions.api_keys.count; i++) {
			if (k[i].api_key == 0)
				produce = k[i].min_version == 0 && k[i].max_version == 13;
			if (k[i].api_key == 1)
				fetch = k[i].min_version == 0 && k[i].max_version == 18;
			if (k[i].api_key == 2)
				list = k[i].min_version == 0 && k[i].max_version == 11;
			if (k[i].api_key == 18)
				versions = k[i].min_version == 0 && k[i].max_version == 4;
			if (k[i].api_key == 11)
				join = k[i].max_version == 9;
		}
		CHECK(produce && fetch && list && versions && join);
	}
	/* v3+: a client software name or version off Kafka's pattern is
	 * INVALID_REQUEST with no ranges, in the version asked */
	static const struct kc_str badsw[] = {
		{ "", 0 }, { "-lead", 5 }, { "trail.", 6 }, { "sp ace", 6 } };
	for (size_t i = 0; i < sizeof(badsw) / sizeof(badsw[0]); i++) {
		struct kc_api_versions_req q = { badsw[i], { "1", 1 } };
		if (i & 1)
			q = (struct kc_api_versions_req){ { "t", 1 }, badsw[i] };
		CHECK(kw_call(fd, KC_API_API_VERSIONS, (int16_t)(3 + (i & 1)),
			      &q, &r) == 0);
		CHECK(r.api_versions.error_code == 42);
		CHECK(r.api_versions.api_keys.count == 0);
	}
	/* a version from the future: error 35 in v0 with ApiVersions' own
	 * range alone (Kafka's KIP-511 answer), connection kept */
	uint8_t req[] = { 0, 0, 0, 10, 0, 18, 0, 42, 0, 0, 0, 7, 0, 0 };
	CHECK(kw_send_all(fd, req, sizeof(req)) == 0);
	uint8_t buf[4096];
	long n = kw_read(fd, buf, sizeof(buf));
	CHECK(n == 4 + 2 + 4 + 6);
	CHECK(rb_be32(buf) == 7);                 /* correlation id */
	CHECK(rb_be16(buf + 4) == 35);            /* UNSUPPORTED_VERSION */
	CHECK(rb_be32(buf + 6) == 1);             /* one key: */
	CHECK(rb_be16(buf + 10) == 18 && rb_be16(buf + 12) == 0 &&
	      rb_be16(buf + 14) == 4);            /* ApiVersions 0-4 */
	struct kc_api_versions_req q0 = { 0 };
	CHECK(kw_call(fd, KC_API_API_VERSIONS, 0, &q0, &r) == 0);
	CHECK(bad_moved("bad_kafka_unsupported_version", 1,
			"bad_kafka_malformed_request", 4, NULL) == 0);
	close(fd);
	return 0;
}

static int t_bad_frames(void)
{
	union kc_response r;
	struct kc_api_versions_req q0 = { 0 };
	CHECK(bad_mark() == 0);
	/* unknown API key after a good request: its answer, then EOF */
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	CHECK(kw_send_request(fd, KC_API_API_VERSIONS, 0, 1, &q0) == 0);
	uint8_t unk[] = { 0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 2, 0, 0 };
	CHECK(kw_send_all(fd, unk, sizeof(unk)) == 0);
	uint8_t buf[65536];
	CHECK(kw_read(fd, buf, sizeof(buf)) > 0);
	CHECK(closed_by_peer(fd));
	close(fd);
	CHECK(bad_moved("bad_kafka_unsupported_version", 1, NULL) == 0);
	CHECK(bad_mark() == 0);
	/* a truncated Metadata v1 (topic count says 5, nothing follows) */
	fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	uint8_t meta[] = { 0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 3, 0, 0,
			   0, 0, 0, 5 };
	CHECK(kw_send_all(fd, meta, sizeof(meta)) == 0);
	CHECK(closed_by_peer(fd));
	close(fd);
	CHECK(bad_moved("bad_kafka_malformed_request", 1, NULL) == 0);
	CHECK(bad_mark() == 0);
	/* frame sizes: 3, negative, 2 GiB */
	const uint8_t sizes[3][4] = { { 0, 0, 0, 3 }, { 0xff, 0xff, 0xff, 0xf0 },
				      { 0x7f, 0xff, 0xff, 0xff } };
	for (int i = 0; i < 3; i++) {
		fd = kw_connect(b.kport);
		CHECK(fd >= 0);
		uint8_t f[16] = { 0 };
		memcpy(f, sizes[i], 4);
		CHECK(kw_send_all(fd, f, sizeof(f)) == 0);
		CHECK(closed_by_peer(fd));
		close(fd);
	}
	CHECK(bad_moved("bad_kafka_bad_frame_size", 3, NULL) == 0);
	CHECK(bad_mark() == 0);
	/* a client stalled mid-frame, and 100 sending garbage, while
	 * another one is served */
	int stall = kw_connect(b.kport);
	CHECK(stall >= 0);
	uint8_t half[] = { 0, 0, 1, 0, 0, 3, 0, 1 };
	CHECK(kw_send_all(stall, half, sizeof(half)) == 0);
	int g[100];
	for (int i = 0; i < 100; i++) {
		g[i] = kw_connect(b.kport);
		CHECK(g[i] >= 0);
		uint8_t junk[64];
		for (int j = 0; j < 64; j++)
			junk[j] = (uint8_t)(i * 31 + j * 7);
		/* a size of 64 KiB to 16 MiB, within tcp_max_frame: a
		 * frame that never completes, so none of it is counted */
		junk[0] = 0;
		kw_send_all(g[i], junk, sizeof(junk));
	}
	fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	struct kc_metadata_req mq = { .topics = { NULL, -1 } };
	CHECK(kw_call(fd, KC_API_METADATA, 8, &mq, &r) == 0);
	CHECK(r.metadata.brokers.count == 1);
	const struct kc_metadata_broker *br = r.metadata.brokers.items;
	CHECK(br->port == b.kport && br->node_id == 1);
	close(fd);
	for (int i = 0; i < 100; i++)
		close(g[i]);
	close(stall);
	CHECK(bad_moved(NULL) == 0);
	return 0;
}

/* A batch of n records "v<i>" with the given producer fields. */
static long make_batch(uint8_t *buf, size_t cap, int n, int first)
{
	struct rb_builder bb;
	rb_builder_init(&bb, buf, cap, 1700000000000);
	for (int i = 0; i < n; i++) {
		char v[32];
		int vl = snprintf(v, sizeof(v), "v%d", first + i);
		rb_builder_add(&bb, NULL, -1, v, vl, 1700000000000 + i);
	}
	return rb_builder_finish(&bb);
}

static int produce_one(int fd, int16_t v, const char *topic, int32_t part,
		       const uint8_t *rec, long len, int16_t acks,
		       int16_t *err, int64_t *base)
{
	struct kc_produce_req_partition pp = { part, { rec, (int32_t)len } };
	struct kc_produce_req_topic pt = { { topic, (int32_t)strlen(topic) },
					   { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, acks, 5000, { &pt, 1 } };
	union kc_response r;
	if (kw_call(fd, KC_API_PRODUCE, v, &q, &r))
		return -1;
	const struct kc_produce_resp *pr = (const void *)&r;
	if (pr->responses.count != 1)
		return -1;
	const struct kc_produce_resp_topic *t = pr->responses.items;
	if (t->partition_responses.count != 1)
		return -1;
	const struct kc_produce_resp_partition *p = t->partition_responses.items;
	*err = p->error_code;
	*base = p->base_offset;
	return 0;
}

static int fetch_one(int fd, int16_t v, const char *topic, int32_t part,
		     int64_t offset, int32_t max_wait, int32_t min_bytes,
		     struct kc_fetch_resp_partition *out)
{
	struct kc_fetch_req_partition fp = { .partition = part,
					     .current_leader_epoch = -1,
					     .fetch_offset = offset,
					     .last_fetched_epoch = -1,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20 };
	struct kc_fetch_req_topic ft = {
		.topic = { topic, (int32_t)strlen(topic) },
		.partitions = { &fp, 1 } };
	struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = max_wait,
				  .min_bytes = min_bytes,
				  .max_bytes = 50 << 20, .session_epoch = -1,
				  .topics = { &ft, 1 },
				  .forgotten_topics_data = { NULL, 0 },
				  .rack_id = { "", 0 } };
	union kc_response r;
	if (kw_call(fd, KC_API_FETCH, v, &q, &r))
		return -1;
	const struct kc_fetch_resp *fr = (const void *)&r;
	if (fr->error_code || fr->responses.count != 1)
		return -1;
	const struct kc_fetch_resp_topic *t = fr->responses.items;
	if (t->partitions.count != 1)
		return -1;
	*out = *(const struct kc_fetch_resp_partition *)t->partitions.items;
	return 0;
}

static int t_produce_fetch(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	static uint8_t b1[4096], b2[8192], keep[2][4096];
	int16_t err;
	int64_t base;
	long n1 = make_batch(b1, sizeof(b1), 10, 0);
	CHECK(n1 > 0);
	CHECK(bad_mark() == 0);
	/* unknown topic, acks 2, bad CRC, two batches, transactional id */
	CHECK(produce_one(fd, 7, "nope", 0, b1, n1, -1, &err, &base) == 0);
	CHECK(err == 3 && base == -1);
	CHECK(produce_one(fd, 7, "kt", 0, b1, n1, 2, &err, &base) == 0);
	CHECK(err == 21);
	memcpy(b2, b1, (size_t)n1);
	b2[n1 - 1] ^= 0x5a;
	CHECK(produce_one(fd, 3, "kt", 0, b2, n1, 1, &err, &base) == 0);
	CHECK(err == 2);
	memcpy(b2, b1, (size_t)n1);
	memcpy(b2 + n1, b1, (size_t)n1);
	CHECK(produce_one(fd, 5, "kt", 0, b2, 2 * n1, 1, &err, &base) == 0);
	CHECK(err == 87);
	CHECK(bad_moved("bad_unknown_topic", 1, "bad_bad_acks", 1,
			"bad_bad_batch", 2, NULL) == 0);
	CHECK(bad_mark() == 0);
	/* good batches at v3 and v7 */
	memcpy(keep[0], b1, (size_t)n1);
	CHECK(produce_one(fd, 3, "kt", 1, b1, n1, 1, &err, &base) == 0);
	CHECK(err == 0 && base == 0);
	long n2 = make_batch(keep[1], sizeof(keep[1]), 5, 10);
	CHECK(produce_one(fd, 7, "kt", 1, keep[1], n2, -1, &err, &base) == 0);
	CHECK(err == 0 && base == 10);
	/* fetched back at v4 and v11: the stored bytes, magic byte on */
	for (int16_t v = 4; v <= 11; v += 7) {
		struct kc_fetch_resp_partition p;
		CHECK(fetch_one(fd, v, "kt", 1, 0, 0, 1, &p) == 0);
		CHECK(p.error_code == 0 && p.high_watermark == 15);
		CHECK(p.records.len == n1 + n2);
		CHECK(!memcmp(p.records.ptr + 16, keep[0] + 16, (size_t)n1 - 16));
		CHECK(rb_be64(p.records.ptr) == 0);
		CHECK(!memcmp(p.records.ptr + n1 + 16, keep[1] + 16,
			      (size_t)n2 - 16));
		CHECK(rb_be64(p.records.ptr + n1) == 10);
		/* from the middle of the second batch: that whole batch */
		CHECK(fetch_one(fd, v, "kt", 1, 12, 0, 1, &p) == 0);
		CHECK(p.records.len == n2);
	}
	/* an incremental fetch in a session never given out (sessions are
	 * declined): FETCH_SESSION_ID_NOT_FOUND, even with no partitions */
	{
		struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = 100,
					  .min_bytes = 1, .max_bytes = 1 << 20,
					  .session_id = 5, .session_epoch = 3,
					  .topics = { NULL, 0 },
					  .rack_id = { "", 0 } };
		union kc_response fr;
		CHECK(kw_call(fd, KC_API_FETCH, 11, &q, &fr) == 0);
		const struct kc_fetch_resp *f = (const void *)&fr;
		CHECK(f->error_code == 70 && f->session_id == 0);
	}
	/* out of range */
	struct kc_fetch_resp_partition p;
	CHECK(fetch_one(fd, 11, "kt", 1, 99, 0, 1, &p) == 0);
	CHECK(p.error_code == 1);
	/* ListOffsets earliest / latest */
	struct kc_list_offsets_req_partition lp[2] = {
		{ 1, -1, -2, 1 }, { 0, -1, -1, 1 } };
	struct kc_list_offsets_req_topic lt = { { "kt", 2 }, { lp, 2 } };
	struct kc_list_offsets_req lq = { .replica_id = -1,
					  .isolation_level = 0,
					  .topics = { &lt, 1 } };
	union kc_response r;
	CHECK(kw_call(fd, KC_API_LIST_OFFSETS, 5, &lq, &r) == 0);
	const struct kc_list_offsets_resp_topic *rt = r.list_offsets.topics.items;
	const struct kc_list_offsets_resp_partition *rp = rt->partitions.items;
	CHECK(rt->partitions.count == 2);
	CHECK(rp[0].error_code == 0 && rp[0].offset == 0);
	CHECK(rp[1].error_code == 0 && rp[1].offset == 0);
	/* acks=0: no answer at all; the next request's answer comes
	 * first, and the batch is there */
	struct kc_produce_req_partition zp = { 2, { b1, (int32_t)n1 } };
	struct kc_produce_req_topic zt = { { "kt", 2 }, { { 0 } }, { &zp, 1 } };
	struct kc_produce_req zq = { { NULL, -1 }, 0, 5000, { &zt, 1 } };
	CHECK(kw_send_request(fd, KC_API_PRODUCE, 7, 7000, &zq) == 0);
	struct kc_api_versions_req q0 = { 0 };
	CHECK(kw_call(fd, KC_API_API_VERSIONS, 0, &q0, &r) == 0);
	int64_t until = now_ms() + 30000;
	do {
		CHECK(fetch_one(fd, 11, "kt", 2, 0, 100, 1, &p) == 0);
	} while (p.records.len == 0 && now_ms() < until);
	CHECK(p.records.len == n1);
	/* nothing after the bad batches was bad input */
	CHECK(bad_moved(NULL) == 0);
	close(fd);
	return 0;
}

/* Read one response frame, waiting up to timeout_ms (a hang, not a
 * measure: far above what it needs); as kw_read. */
static long kread_within(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct timeval dflt = { KW_RECV_TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	long n = kw_read(fd, buf, cap);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &dflt, sizeof(dflt));
	return n;
}

/* kafka_fetch_waits has passed since, within 30 s: a fetch is parked. */
static int wait_parked(long long since)
{
	int64_t until = now_ms() + 30000;
	long long w;
	while ((w = counter("kafka_fetch_waits")) <= since && now_ms() < until)
		usleep(2000);
	return w > since ? 0 : -1;
}

static int t_long_poll(void)
{
	int fd = kw_connect(b.kport), pfd = kw_connect(b.kport);
	CHECK(fd >= 0 && pfd >= 0);
	struct kc_fetch_resp_partition p;
	/* nothing new: answered at max_wait_ms, not before (a lower bound:
	 * a slow machine only makes it later), after waiting */
	long long waits = counter("kafka_fetch_waits");
	CHECK(waits >= 0);
	int64_t t0 = now_ms();
	CHECK(fetch_one(fd, 11, "kt", 0, 0, 300, 1, &p) == 0);
	int64_t dt = now_ms() - t0;
	CHECK(p.error_code == 0 && p.records.len == 0);
	CHECK(dt >= 295);
	CHECK(counter("kafka_fetch_waits") > waits);
	/* a waiting fetch wakes when a batch lands: its max_wait_ms is far
	 * beyond the read's deadline, so only the new data can answer it;
	 * the produce is sent once the broker counts the fetch as waiting */
	struct kc_fetch_req_partition fp = { .partition = 0,
					     .current_leader_epoch = -1,
					     .fetch_offset = 0,
					     .last_fetched_epoch = -1,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20 };
	struct kc_fetch_req_topic ft = { .topic = { "kt", 2 },
					 .partitions = { &fp, 1 } };
	struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = 600000,
				  .min_bytes = 1, .max_bytes = 50 << 20,
				  .session_epoch = -1, .topics = { &ft, 1 },
				  .rack_id = { "", 0 } };
	waits = counter("kafka_fetch_waits");
	CHECK(waits >= 0);
	CHECK(kw_send_request(fd, KC_API_FETCH, 11, 9001, &q) == 0);
	CHECK(wait_parked(waits) == 0);
	static uint8_t bb[4096];
	long n = make_batch(bb, sizeof(bb), 3, 100);
	int16_t err;
	int64_t base;
	CHECK(produce_one(pfd, 7, "kt", 0, bb, n, -1, &err, &base) == 0);
	CHECK(err == 0 && base == 0);
	static uint8_t buf[1 << 20];
	long m = kread_within(fd, buf, sizeof(buf), 30000);
	CHECK(m > 0 && rb_be32(buf) == 9001);
	struct kc_response_header rh;
	union kc_response r;
	struct kc_arena a = kw_arena();
	CHECK(kc_decode_response(KC_API_FETCH, 11, buf, (size_t)m, &rh, &r,
				 &a) == m);
	const struct kc_fetch_resp *fr = (const void *)&r;
	CHECK(fr->error_code == 0 && fr->responses.count == 1);
	const struct kc_fetch_resp_topic *t = fr->responses.items;
	CHECK(t->partitions.count == 1);
	const struct kc_fetch_resp_partition *pp = t->partitions.items;
	/* the batch is in it, byte for byte from the magic byte on */
	CHECK(pp->error_code == 0 && pp->records.len == n);
	CHECK(!memcmp(pp->records.ptr + 16, bb + 16, (size_t)n - 16));
	close(fd);
	close(pfd);
	return 0;
}

/* 48 produce requests of ~1 MiB pipelined: more than the in-flight
 * window (32) and the assembly limit (16 MiB), so the broker must stop
 * reading and let TCP hold the sender back rather than close the
 * connection.  Every answer then arrives, in order.  The requests go out
 * from a thread of their own while this one reads the answers, as a
 * client does: a sender that wrote everything before reading anything
 * would hold the broker's answers in a full receive buffer, and a broker
 * whose answers cannot leave stops reading (and closes the connection
 * after conn_send_timeout_ms), Kafka's broker the same. */
struct pipe_sender {
	int fd, count, sent, err;
	const struct kc_produce_req *q;
};

static void *pipe_send(void *arg)
{
	struct pipe_sender *s = arg;
	for (; s->sent < s->count; s->sent++)
		if (kw_send_request(s->fd, KC_API_PRODUCE, 7, 5000 + s->sent,
				    s->q)) {
			s->err = errno;
			break;
		}
	return NULL;
}

static int pipelined(int count, size_t batch_bytes)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	/* this test is about order and flow control, not latency: a
	 * sanitized broker on a loaded machine may take more than the usual
	 * 10 s to write tens of MiB (the whole test is bounded below) */
	struct timeval tv = { 30, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	static uint8_t big[1 << 20];
	struct rb_builder bb;
	rb_builder_init(&bb, big, sizeof(big), 1700000000000);
	static char val[1000];
	memset(val, 'x', sizeof(val));
	while (bb.len + 1100 < batch_bytes &&
	       rb_builder_add(&bb, NULL, -1, val, sizeof(val), 1700000000000) == 0)
		;
	long n = rb_builder_finish(&bb);
	CHECK(n > (long)batch_bytes * 9 / 10);
	struct kc_produce_req_partition pp = { 2, { big, (int32_t)n } };
	struct kc_produce_req_topic pt = { { "kt", 2 }, { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, 1, 30000, { &pt, 1 } };
	struct pipe_sender s = { fd, count, 0, 0, &q };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, pipe_send, &s) == 0);
	int got = 0, bad = 0;
	static uint8_t rbuf[1 << 16];
	int64_t until = now_ms() + 90000;
	while (got < count && now_ms() < until) {
		long m = kw_read(fd, rbuf, sizeof(rbuf));
		if (m <= 0) {
			fprintf(stderr, "pipelined: answer %d of %d: %s\n", got,
				count,
				m == 0 ? "connection closed" : strerror(errno));
			bad = 1;
			break;
		}
		if ((int)rb_be32(rbuf) != 5000 + got) {
			fprintf(stderr, "pipelined: answer %d of %d has "
				"correlation id %d\n", got, count,
				(int)rb_be32(rbuf) - 5000);
			bad = 1;
			break;
		}
		struct kc_response_header rh;
		union kc_response r;
		struct kc_arena a = kw_arena();
		if (kc_decode_response(KC_API_PRODUCE, 7, rbuf, (size_t)m, &rh,
				       &r, &a) != m) {
			bad = 1;
			break;
		}
		const struct kc_produce_resp *pr = (const void *)&r;
		const struct kc_produce_resp_topic *t = pr->responses.items;
		const struct kc_produce_resp_partition *p =
			t->partition_responses.items;
		if (p->error_code != 0) {
			fprintf(stderr, "pipelined: answer %d: error %d\n", got,
				p->error_code);
			bad = 1;
			break;
		}
		got++;
	}
	/* the sender ends: it has sent everything, or the connection is
	 * shut down under it */
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(fd);
	if (s.err)
		fprintf(stderr, "pipelined: request %d of %d: %s\n", s.sent,
			count, strerror(s.err));
	CHECK(!bad && got == count && s.sent == count);
	return 0;
}

static int t_pipelined(void)
{
	/* 48 x 1 MiB: past the window and the one-frame assembly limit;
	 * 320 x 256 KiB: the receive buffers fill before the pause holds */
	if (pipelined(48, 1000000) || pipelined(320, 256000))
		return -1;
	return 0;
}

/* FindCoordinator at v0, v3 and the batched v4+: this broker for a group
 * and for a transactional id, INVALID_REQUEST for a type Kafka does not
 * know. */
static int t_find_coordinator(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	union kc_response r;
	struct kc_find_coordinator_req q = { { "grp", 3 }, 0, { NULL, 0 } };
	CHECK(kw_call(fd, KC_API_FIND_COORDINATOR, 0, &q, &r) == 0);
	const struct kc_find_coordinator_resp *fr = (const void *)r.raw;
	CHECK(fr->error_code == 0 && fr->node_id == 1 && fr->port == b.kport);
	CHECK(fr->host.len == 9 && !memcmp(fr->host.ptr, "127.0.0.1", 9));
	q.key_type = 1;
	CHECK(kw_call(fd, KC_API_FIND_COORDINATOR, 3, &q, &r) == 0);
	CHECK(fr->error_code == 0 && fr->node_id == 1 && fr->port == b.kport);
	CHECK(fr->error_message.len == 4);
	q.key_type = 0;
	CHECK(kw_call(fd, KC_API_FIND_COORDINATOR, 3, &q, &r) == 0);
	CHECK(fr->error_code == 0 && fr->error_message.len == 4);
	struct kc_str keys[2] = { { "g1", 2 }, { "g22", 3 } };
	for (int16_t v = 4; v <= 6; v += 2) {
		for (int8_t type = 0; type <= 3; type++) {
			q = (struct kc_find_coordinator_req){ { NULL, 0 }, type,
							      { keys, 2 } };
			CHECK(kw_call(fd, KC_API_FIND_COORDINATOR, v, &q,
				      &r) == 0);
			CHECK(fr->coordinators.count == 2);
			const struct kc_find_coordinator_coordinator *c =
				fr->coordinators.items;
			int16_t want = type <= 1 ? 0 :
				       type == 2 && v >= 6 ? 15 : 42;
			for (int i = 0; i < 2; i++) {
				CHECK(c[i].key.len == keys[i].len &&
				      !memcmp(c[i].key.ptr, keys[i].ptr,
					      (size_t)keys[i].len));
				CHECK(c[i].error_code == want);
				CHECK(c[i].node_id == (want ? -1 : 1));
				CHECK(c[i].port == (want ? -1 : b.kport));
				CHECK(c[i].error_message.len == 0);
			}
		}
	}
	close(fd);
	return 0;
}

/* The group APIs' new versions reach sluice-control through the broker:
 * OffsetCommit v0, OffsetFetch v9 (a batch of groups), ListGroups v5,
 * OffsetDelete v0. */
static int t_group_versions(void)
{
	int fd = kw_connect(b.kport);
	CHECK(fd >= 0);
	union kc_response r;
	struct kc_offset_commit_req_partition p = { 3, 42, -1, -1, { "md", 2 } };
	struct kc_offset_commit_req_topic ct = { { "kt", 2 }, { { 0 } }, { &p, 1 } };
	struct kc_offset_commit_req cq = { { "lg", 2 }, -1, { "", 0 },
					   { NULL, -1 }, -1, { &ct, 1 } };
	CHECK(kw_call(fd, KC_API_OFFSET_COMMIT, 0, &cq, &r) == 0);
	const struct kc_offset_commit_resp *cr = (const void *)r.raw;
	CHECK(cr->topics.count == 1);
	const struct kc_offset_commit_resp_topic *crt = cr->topics.items;
	CHECK(crt[0].partitions.count == 1);
	CHECK(((const struct kc_offset_commit_resp_partition *)
	       crt[0].partitions.items)[0].error_code == 0);
	struct kc_offset_fetch_req_group fg = { { "lg", 2 }, { NULL, -1 }, -1,
						{ NULL, -1 } };
	struct kc_offset_fetch_req fq = { .groups = { &fg, 1 } };
	CHECK(kw_call(fd, KC_API_OFFSET_FETCH, 9, &fq, &r) == 0);
	const struct kc_offset_fetch_resp *fr = (const void *)r.raw;
	CHECK(fr->groups.count == 1);
	const struct kc_offset_fetch_resp_group *g = fr->groups.items;
	CHECK(g->error_code == 0 && g->topics.count == 1);
	const struct kc_offset_fetch_resp_topics *t = g->topics.items;
	const struct kc_offset_fetch_resp_partitions *fp = t->partitions.items;
	CHECK(t->partitions.count == 1 && fp->partition_index == 3 &&
	      fp->committed_offset == 42 && fp->metadata.len == 2);
	struct kc_str st = { "empty", 5 };
	struct kc_list_groups_req lq = { { &st, 1 }, { NULL, 0 } };
	CHECK(kw_call(fd, KC_API_LIST_GROUPS, 5, &lq, &r) == 0);
	const struct kc_list_groups_resp *lr = (const void *)r.raw;
	CHECK(lr->error_code == 0 && lr->groups.count == 1);
	const struct kc_listed_group *lg = lr->groups.items;
	CHECK(lg->group_state.len == 5 && lg->group_type.len == 7);
	struct kc_offset_delete_req_partition dp = { 3 };
	struct kc_offset_delete_req_topic dt = { { "kt", 2 }, { &dp, 1 } };
	struct kc_offset_delete_req dq = { { "lg", 2 }, { &dt, 1 } };
	CHECK(kw_call(fd, KC_API_OFFSET_DELETE, 0, &dq, &r) == 0);
	const struct kc_offset_delete_resp *dr = (const void *)r.raw;
	CHECK(dr->error_code == 0 && dr->topics.count == 1);
	CHECK(kw_call(fd, KC_API_OFFSET_FETCH, 9, &fq, &r) == 0);
	g = fr->groups.items;
	CHECK(g->error_code == 0 && g->topics.count == 0);
	close(fd);
	return 0;
}

int main(void)
{
	kw_init("listener-test");
	int rc = kw_broker_start(&b, "klisten", NULL);
	if (rc)
		return rc;
	if (kw_topic_create(&b, "kt", 3) < 0) {
		tb_destroy(&b, 1);
		return 1;
	}
	static const struct kw_test tests[] = {
		{ "api_versions", t_api_versions },
		{ "find_coordinator", t_find_coordinator },
		{ "group_versions", t_group_versions },
		{ "bad_frames", t_bad_frames },
		{ "produce_fetch", t_produce_fetch },
		{ "long_poll", t_long_poll },
		{ "pipelined", t_pipelined },
	};
	kw_run(&b, tests, KW_COUNT(tests), NULL);
	return kw_finish(&b, NULL);
}
