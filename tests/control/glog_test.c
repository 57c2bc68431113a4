/*
 * Tests of the internal topic client (control/glog.c) against a small
 * Kafka listener on 127.0.0.1 in this process: the Produce and Fetch
 * requests it sends are decoded by the codec and checked (acks, the
 * batches and their records, the offsets asked for), the answers are
 * chosen by each test (offsets, errors, batches served, a closed
 * connection, silence), and the clock is the test's.  Every loop is
 * bounded in passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tl.h"
#include "control/glog.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

#define TOPIC "__consumer_offsets"

static int lfd = -1, cfd = -1;
static uint16_t port;
static struct sl_glog *G;
static int64_t now;

/* What the callbacks saw. */
struct ans {
	uint64_t seq;
	int32_t p;
	int16_t err;
	int64_t offset;
};
static struct ans answers[64];
static int nanswers;
static char records[4096]; /* "p@offset:key=value;" ... */
static int16_t read_err[8];
static int nreads;
static int forget_on_record = -1;

static void on_appended(void *ctx, uint64_t seq, int32_t p, int16_t err,
			int64_t offset)
{
	assert_null(ctx);
	assert_true(nanswers < 64);
	answers[nanswers++] = (struct ans){seq, p, err, offset};
}

static void on_record(void *ctx, int32_t p, int64_t offset,
		      const struct sl_glog_rec *r)
{
	(void)ctx;
	char one[128];
	snprintf(one, sizeof(one), "%d@%lld:%.*s=%.*s;", (int)p,
		 (long long)offset, r->key_len < 0 ? 4 : (int)r->key_len,
		 r->key_len < 0 ? "null" : (const char *)r->key,
		 r->value_len < 0 ? 4 : (int)r->value_len,
		 r->value_len < 0 ? "null" : (const char *)r->value);
	assert_true(strlen(records) + strlen(one) < sizeof(records));
	strcat(records, one);
	if (forget_on_record == p)
		sl_glog_forget(G, p);
}

static void on_read(void *ctx, int32_t p, int16_t err)
{
	(void)ctx;
	(void)p;
	assert_true(nreads < 8);
	read_err[nreads++] = err;
}

static void listen_on(uint16_t p)
{
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	int one = 1;
	TL_OK(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	TL_OK(bind(lfd, (struct sockaddr *)&a, sizeof(a)));
	TL_OK(listen(lfd, 4));
	socklen_t len = sizeof(a);
	TL_OK(getsockname(lfd, (struct sockaddr *)&a, &len));
	port = ntohs(a.sin_port);
}

static void run(int passes)
{
	for (int i = 0; i < passes; i++) {
		sl_glog_do_work(G, now);
		poll(NULL, 0, 1);
	}
}

static uint8_t reqbuf[1 << 20];

/* Run the client until the listener has a request: its bytes (without the
 * size prefix) in reqbuf, its length returned. */
static size_t next_request(void)
{
	size_t have = 0, want = 4;
	for (int pass = 0; pass < 2000; pass++) {
		sl_glog_do_work(G, now);
		if (cfd < 0) {
			struct pollfd p = {lfd, POLLIN, 0};
			if (poll(&p, 1, 1) == 1)
				cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			continue;
		}
		struct pollfd p = {cfd, POLLIN, 0};
		if (poll(&p, 1, 1) != 1)
			continue;
		ssize_t r = recv(cfd, reqbuf + have, want - have, 0);
		assert_true(r > 0);
		have += (size_t)r;
		if (have == 4) {
			want = 4 + rb_be32(reqbuf);
			assert_true(want <= sizeof(reqbuf));
		}
		if (have == want && have > 4) {
			memmove(reqbuf, reqbuf + 4, have - 4);
			return have - 4;
		}
	}
	fail_msg("no request came");
	return 0;
}

static _Alignas(8) uint8_t mem[1 << 20];

/* The request's header, and its body decoded into body. */
static struct kc_request_header decode(size_t len, int16_t api,
				       int16_t version, void *body)
{
	struct kc_arena a = {mem, sizeof(mem), 0};
	struct kc_request_header h;
	long n = kc_decode(&kc_request_header_schema, 1, false, reqbuf, len, &h,
			   &a);
	assert_true(n > 0);
	TL_EQ(h.api_key, api);
	TL_EQ(h.api_version, version);
	long b = kc_decode(kc_api_spec(api)->request, version, false,
			   reqbuf + n, len - (size_t)n, body, &a);
	TL_EQ(b, (long)(len - (size_t)n));
	return h;
}

/* A Produce's partitions, each with its records as "p:key=value,..." */
struct produced {
	int32_t corr;
	int n;
	int32_t part[8];
	char recs[8][512];
};

static struct produced take_produce(void)
{
	struct kc_produce_req q;
	struct kc_request_header h = decode(next_request(), KC_API_PRODUCE, 7,
					    &q);
	struct produced out = {.corr = h.correlation_id};
	TL_EQ(q.acks, -1);
	TL_EQ(q.transactional_id.len, -1);
	TL_EQ(q.topic_data.count, 1);
	const struct kc_produce_req_topic *t = q.topic_data.items;
	assert_true(kc_str_is(t->name, TOPIC, strlen(TOPIC)));
	const struct kc_produce_req_partition *pd = t->partition_data.items;
	for (int i = 0; i < t->partition_data.count; i++) {
		assert_true(out.n < 8);
		out.part[out.n] = pd[i].index;
		/* one whole, valid batch */
		TL_OK(rb_validate(pd[i].records.ptr,
				  (size_t)pd[i].records.len));
		struct rb_iter it;
		TL_OK(rb_iter_init(&it, pd[i].records.ptr,
				   (size_t)pd[i].records.len));
		struct rb_record r;
		while (rb_iter_next(&it, &r) == 1) {
			char one[128];
			snprintf(one, sizeof(one), "%.*s=%.*s",
				 r.key ? (int)r.klen : 4,
				 r.key ? (const char *)r.key : "null",
				 r.value ? (int)r.vlen : 4,
				 r.value ? (const char *)r.value : "null");
			strcat(out.recs[out.n], one);
			/* headers: [name:value;...], those this test uses */
			static const char *const names[] = {"h1", "h2"};
			if (r.nheaders)
				strcat(out.recs[out.n], "[");
			for (int k = 0; k < 2; k++) {
				const uint8_t *hv;
				int32_t hl;
				if (!rb_header_find(&r, names[k], 2, &hv, &hl))
					continue;
				snprintf(one, sizeof(one), "%s:%.*s;", names[k],
					 hv ? (int)hl : 4,
					 hv ? (const char *)hv : "null");
				strcat(out.recs[out.n], one);
			}
			strcat(out.recs[out.n], r.nheaders ? "]," : ",");
		}
		out.n++;
	}
	return out;
}

static void send_frame(const uint8_t *body, size_t len, int32_t corr)
{
	static uint8_t buf[1 << 16];
	assert_true(len + 8 <= sizeof(buf));
	rb_put32(buf, (uint32_t)(len + 4));
	rb_put32(buf + 4, (uint32_t)corr);
	memcpy(buf + 8, body, len);
	TL_EQ(send(cfd, buf, len + 8, MSG_NOSIGNAL), (ssize_t)(len + 8));
}

/* Answer a Produce: partition i gets codes[i] and base offsets[i]. */
static void answer_produce(int32_t corr, const int32_t *parts,
			   const int16_t *codes, const int64_t *offsets, int n)
{
	struct kc_produce_resp_partition pr[8];
	for (int i = 0; i < n; i++) {
		pr[i] = (struct kc_produce_resp_partition){
			.index = parts[i], .error_code = codes[i],
			.base_offset = offsets[i], .log_append_time_ms = -1,
			.log_start_offset = 0};
	}
	struct kc_produce_resp_topic t = {.name = {TOPIC, sizeof(TOPIC) - 1},
					  .partition_responses = {pr, n}};
	struct kc_produce_resp r = {.responses = {&t, 1}};
	uint8_t body[4096];
	long b = kc_encode(kc_api_spec(KC_API_PRODUCE)->response, 7, false, &r,
			   body, sizeof(body));
	assert_true(b > 0);
	send_frame(body, (size_t)b, corr);
}

/* A batch of records key k<i>=v<i> at offsets base.., or a control
 * batch. */
static size_t batch(uint8_t *buf, int64_t base, int n, bool control)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, 4096, 1000);
	for (int i = 0; i < n; i++) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%lld", (long long)(base + i));
		snprintf(v, sizeof(v), "v%lld", (long long)(base + i));
		TL_OK(rb_builder_add(&b, k, (int32_t)strlen(k), v,
				     (int32_t)strlen(v), 1000));
	}
	long len = rb_builder_finish(&b);
	assert_true(len > 0);
	if (control) {
		rb_put16(buf + RB_OFF_ATTRIBUTES, RB_ATTR_CONTROL |
						  RB_ATTR_TRANSACTIONAL);
	}
	rb_stamp(buf, base, 0);
	if (control) /* the CRC over the new attributes */
		rb_put32(buf + RB_OFF_CRC,
			 rb_crc32c(buf + RB_CRC_START,
				   (size_t)len - RB_CRC_START));
	return (size_t)len;
}

/* Take a Fetch: its one partition's fetch offset (and corr). */
static int64_t take_fetch(int32_t *corr, int32_t *part)
{
	struct kc_fetch_req q;
	struct kc_request_header h = decode(next_request(), KC_API_FETCH, 11,
					    &q);
	*corr = h.correlation_id;
	TL_EQ(q.replica_id, -1);
	TL_EQ(q.isolation_level, 0);
	TL_EQ(q.topics.count, 1);
	const struct kc_fetch_req_topic *t = q.topics.items;
	TL_EQ(t->partitions.count, 1);
	const struct kc_fetch_req_partition *fp = t->partitions.items;
	*part = fp->partition;
	return fp->fetch_offset;
}

static void answer_fetch(int32_t corr, int32_t part, int16_t code,
			 int64_t hw, int64_t log_start, const uint8_t *recs,
			 size_t len)
{
	struct kc_fetch_resp_partition pr = {.preferred_read_replica = -1};
	pr.partition_index = part;
	pr.error_code = code;
	pr.high_watermark = hw;
	pr.last_stable_offset = hw;
	pr.log_start_offset = log_start;
	pr.aborted_transactions = (struct kc_array){NULL, -1};
	pr.records = (struct kc_bytes){recs, (int32_t)len};
	struct kc_fetch_resp_topic t = {.topic = {TOPIC, sizeof(TOPIC) - 1},
					.partitions = {&pr, 1}};
	struct kc_fetch_resp r = {.responses = {&t, 1}};
	static uint8_t body[1 << 15];
	long b = kc_encode(kc_api_spec(KC_API_FETCH)->response, 11, false, &r,
			   body, sizeof(body));
	assert_true(b > 0);
	send_frame(body, (size_t)b, corr);
}

static uint64_t append1(int32_t p, const char *k, const char *v)
{
	struct sl_glog_rec r = {(const uint8_t *)k, (int32_t)strlen(k),
				(const uint8_t *)v, v ? (int32_t)strlen(v) : -1,
				NULL, 0};
	uint64_t seq = 0;
	TL_OK(sl_glog_append(G, p, &r, 1, 5000, &seq));
	assert_true(seq > 0);
	return seq;
}

static int setup(void **state)
{
	(void)state;
	listen_on(0);
	TL_OK(sl_glog_create(TOPIC, port, &G));
	sl_glog_set_callbacks(G, on_appended, on_record, on_read, NULL);
	now = 1000;
	nanswers = nreads = 0;
	records[0] = 0;
	forget_on_record = -1;
	cfd = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_glog_destroy(G);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	cfd = lfd = -1;
	return 0;
}

/* Appends of a partition queued together go out as one batch, acks=-1;
 * each is answered with the offset of its first record. */
static void test_appends_merged(void **state)
{
	(void)state;
	uint64_t s1 = append1(0, "a", "1");
	/* headers travel with their record, a null value too */
	struct rb_header_kv hs[2] = {{"h1", 2, "x", 1}, {"h2", 2, NULL, 0}};
	struct sl_glog_rec two[2] = {{(const uint8_t *)"b", 1,
				      (const uint8_t *)"2", 1, hs, 2},
				     {(const uint8_t *)"c", 1, NULL, -1, NULL,
				      0}};
	uint64_t s2;
	TL_OK(sl_glog_append(G, 0, two, 2, 5000, &s2));
	uint64_t s3 = append1(3, "d", "4");
	TL_EQ(s2, s1 + 1);
	TL_EQ(s3, s2 + 1);
	struct produced pr = take_produce();
	TL_EQ(pr.n, 2);
	TL_EQ(pr.part[0], 0);
	assert_string_equal(pr.recs[0], "a=1,b=2[h1:x;h2:null;],c=null,");
	TL_EQ(pr.part[1], 3);
	assert_string_equal(pr.recs[1], "d=4,");
	/* an append while the request is in flight waits for the next */
	uint64_t s4 = append1(0, "e", "5");
	run(5);
	TL_EQ(nanswers, 0);
	answer_produce(pr.corr, (int32_t[]){3, 0}, (int16_t[]){0, 0},
		       (int64_t[]){7, 100}, 2);
	pr = take_produce();
	TL_EQ(nanswers, 3);
	/* in the answer's order of partitions, each partition's in append
	 * order; offsets of each append's first record */
	TL_EQ(answers[0].seq, s3);
	TL_EQ(answers[0].offset, 7);
	TL_EQ(answers[0].p, 3);
	TL_EQ(answers[1].seq, s1);
	TL_EQ(answers[1].offset, 100);
	TL_EQ(answers[2].seq, s2);
	TL_EQ(answers[2].offset, 101);
	TL_EQ(pr.n, 1);
	assert_string_equal(pr.recs[0], "e=5,");
	answer_produce(pr.corr, (int32_t[]){0}, (int16_t[]){0},
		       (int64_t[]){103}, 1);
	run(20);
	TL_EQ(nanswers, 4);
	TL_EQ(answers[3].seq, s4);
	TL_EQ(answers[3].offset, 103);
	TL_EQ(answers[3].err, 0);
	TL_EQ(sl_glog_timeout_ms(G, now), -1);
	struct sl_glog_stats st;
	sl_glog_get_stats(G, &st);
	TL_EQ(st.appends_done, 4);
	TL_EQ(st.produces, 2);
}

/* A failed batch fails what its partition queued behind it; other
 * partitions and later appends go on. */
static void test_failure_fails_the_rest(void **state)
{
	(void)state;
	uint64_t s1 = append1(1, "a", "1");
	struct produced pr = take_produce();
	uint64_t s2 = append1(1, "b", "2");
	uint64_t s3 = append1(2, "c", "3");
	answer_produce(pr.corr, (int32_t[]){1}, (int16_t[]){6},
		       (int64_t[]){-1}, 1);
	pr = take_produce();
	TL_EQ(nanswers, 2);
	TL_EQ(answers[0].seq, s1);
	TL_EQ(answers[0].err, 6);
	TL_EQ(answers[0].offset, -1);
	TL_EQ(answers[1].seq, s2);
	TL_EQ(answers[1].err, 6);
	/* only partition 2 was left to send */
	TL_EQ(pr.n, 1);
	TL_EQ(pr.part[0], 2);
	/* a partition the answer leaves out fails */
	answer_produce(pr.corr, NULL, NULL, NULL, 0);
	run(20);
	TL_EQ(nanswers, 3);
	TL_EQ(answers[2].seq, s3);
	assert_true(answers[2].err != 0);
	uint64_t s4 = append1(1, "d", "4");
	pr = take_produce();
	answer_produce(pr.corr, (int32_t[]){1}, (int16_t[]){0},
		       (int64_t[]){9}, 1);
	run(20);
	TL_EQ(nanswers, 4);
	TL_EQ(answers[3].seq, s4);
	TL_EQ(answers[3].err, 0);
}

/* The connection closed, an answer of another correlation id, no answer
 * in time: what was in flight fails NETWORK_EXCEPTION; the queued of
 * other partitions are sent on the next connection. */
static void test_connection_failures(void **state)
{
	(void)state;
	uint64_t s1 = append1(0, "a", "1");
	struct produced pr = take_produce();
	uint64_t s2 = append1(5, "b", "2");
	close(cfd);
	cfd = -1;
	run(20);
	TL_EQ(nanswers, 1);
	TL_EQ(answers[0].seq, s1);
	TL_EQ(answers[0].err, SL_GLOG_ERR_NETWORK);
	/* after the back-off, the other partition's append */
	assert_true(sl_glog_timeout_ms(G, now) >= SL_GLOG_BACKOFF_MIN_MS);
	now += SL_GLOG_BACKOFF_MIN_MS;
	pr = take_produce();
	TL_EQ(pr.part[0], 5);
	answer_produce(pr.corr + 1, (int32_t[]){5}, (int16_t[]){0},
		       (int64_t[]){1}, 1);
	run(20);
	TL_EQ(nanswers, 2);
	TL_EQ(answers[1].seq, s2);
	TL_EQ(answers[1].err, SL_GLOG_ERR_NETWORK);
	close(cfd);
	cfd = -1;
	now += SL_GLOG_BACKOFF_MAX_MS;
	uint64_t s3 = append1(5, "c", "3");
	pr = take_produce();
	run(5);
	TL_EQ(nanswers, 2);
	now += SL_GLOG_TIMEOUT_MS + 1;
	run(5);
	TL_EQ(nanswers, 3);
	TL_EQ(answers[2].seq, s3);
	TL_EQ(answers[2].err, SL_GLOG_ERR_NETWORK);
	struct sl_glog_stats st;
	sl_glog_get_stats(G, &st);
	TL_EQ(st.appends_failed, 3);
	assert_true(st.failures >= 3);
}

/* A forgotten partition's appends are never answered, even in flight. */
static void test_forget(void **state)
{
	(void)state;
	append1(4, "a", "1");
	struct produced pr = take_produce();
	append1(4, "b", "2");
	uint64_t s3 = append1(6, "c", "3");
	sl_glog_forget(G, 4);
	answer_produce(pr.corr, (int32_t[]){4}, (int16_t[]){0},
		       (int64_t[]){0}, 1);
	pr = take_produce();
	TL_EQ(nanswers, 0);
	TL_EQ(pr.n, 1);
	TL_EQ(pr.part[0], 6);
	answer_produce(pr.corr, (int32_t[]){6}, (int16_t[]){0},
		       (int64_t[]){0}, 1);
	run(20);
	TL_EQ(nanswers, 1);
	TL_EQ(answers[0].seq, s3);
}

/* A read hands every record below its end in offset order, skips control
 * batches and records before the fetch offset, follows the log start, and
 * ends with read_done(0). */
static void test_read(void **state)
{
	(void)state;
	static uint8_t recs[8192];
	TL_OK(sl_glog_read(G, 2, 6));
	int32_t corr, part;
	TL_EQ(take_fetch(&corr, &part), 0);
	TL_EQ(part, 2);
	/* the log starts at 1 */
	answer_fetch(corr, 2, 1 /* OFFSET_OUT_OF_RANGE */, 9, 1, NULL, 0);
	TL_EQ(take_fetch(&corr, &part), 1);
	size_t n = batch(recs, 1, 2, false);             /* 1, 2 */
	n += batch(recs + n, 3, 1, true);                /* control 3 */
	size_t cut = n;
	n += batch(recs + n, 4, 3, false);               /* 4, 5, 6 */
	/* the last batch cut short: fetched again */
	answer_fetch(corr, 2, 0, 9, 1, recs, n - 5);
	TL_EQ(take_fetch(&corr, &part), 4);
	assert_string_equal(records, "2@1:k1=v1;2@2:k2=v2;");
	TL_EQ(nreads, 0);
	/* the batch again, from its start (records before 4 would be
	 * skipped); 6 is at the end: not handed */
	answer_fetch(corr, 2, 0, 9, 1, recs + cut, n - cut);
	run(20);
	assert_string_equal(records,
			    "2@1:k1=v1;2@2:k2=v2;2@4:k4=v4;2@5:k5=v5;");
	TL_EQ(nreads, 1);
	TL_EQ(read_err[0], 0);
	TL_EQ(sl_glog_timeout_ms(G, now), -1);
	/* a read that fails: the partition's error */
	TL_OK(sl_glog_read(G, 2, 3));
	take_fetch(&corr, &part);
	answer_fetch(corr, 2, 6 /* NOT_LEADER_OR_FOLLOWER */, 0, 0, NULL, 0);
	run(20);
	TL_EQ(nreads, 2);
	TL_EQ(read_err[1], 6);
	/* forgotten from its record callback: no read_done */
	forget_on_record = 2;
	records[0] = 0;
	TL_OK(sl_glog_read(G, 2, 3));
	TL_EQ(take_fetch(&corr, &part), 0);
	n = batch(recs, 0, 3, false);
	answer_fetch(corr, 2, 0, 3, 0, recs, n);
	run(20);
	assert_string_equal(records, "2@0:k0=v0;");
	TL_EQ(nreads, 2);
	TL_EQ(sl_glog_timeout_ms(G, now), -1);
}

static int nbatches;
static int64_t batch_base[8];

static void on_batch(void *ctx, int32_t p, const uint8_t *b, size_t len)
{
	(void)ctx;
	(void)p;
	assert_true(len >= RB_HEADER_BYTES);
	assert_true(nbatches < 8);
	batch_base[nbatches++] = (int64_t)rb_be64(b);
}

/* A read of one answer (sl_glog_read_once): the batches and records from
 * its offset on, then read_done at once, whatever came; the next offset
 * and the high watermark after it; the log's start past the offset; an
 * offset past the high watermark. */
static void test_read_once(void **state)
{
	(void)state;
	static uint8_t recs[8192];
	sl_glog_set_batch_callback(G, on_batch);
	TL_OK(sl_glog_read_once(G, 1, 4));
	int32_t corr, part;
	TL_EQ(take_fetch(&corr, &part), 4);
	TL_EQ(part, 1);
	size_t n = batch(recs, 3, 2, false);    /* 3, 4 */
	n += batch(recs + n, 5, 1, true);       /* control 5 */
	n += batch(recs + n, 6, 2, false);      /* 6, 7 */
	answer_fetch(corr, 1, 0, 20, 0, recs, n - 3); /* 6-7 cut */
	run(20);
	assert_string_equal(records, "1@4:k4=v4;");
	TL_EQ(nbatches, 2);
	TL_EQ(batch_base[0], 3);
	TL_EQ(batch_base[1], 5);
	TL_EQ(nreads, 1);
	TL_EQ(read_err[0], 0);
	TL_EQ(sl_glog_read_next(G, 1), 6);
	TL_EQ(sl_glog_high_watermark(G, 1), 20);
	/* nothing there: done, at the same place */
	TL_OK(sl_glog_read_once(G, 1, 20));
	TL_EQ(take_fetch(&corr, &part), 20);
	answer_fetch(corr, 1, 0, 20, 0, NULL, 0);
	run(20);
	TL_EQ(nreads, 2);
	TL_EQ(sl_glog_read_next(G, 1), 20);
	/* retention moved the start to 30 */
	TL_OK(sl_glog_read_once(G, 1, 20));
	take_fetch(&corr, &part);
	answer_fetch(corr, 1, 1 /* OFFSET_OUT_OF_RANGE */, 40, 30, NULL, 0);
	run(20);
	TL_EQ(nreads, 3);
	TL_EQ(read_err[2], 0);
	TL_EQ(sl_glog_read_next(G, 1), 30);
	/* the log was cut below 50: its high watermark is the next */
	TL_OK(sl_glog_read_once(G, 1, 50));
	take_fetch(&corr, &part);
	answer_fetch(corr, 1, 1 /* OFFSET_OUT_OF_RANGE */, 44, 30, NULL, 0);
	run(20);
	TL_EQ(nreads, 4);
	TL_EQ(read_err[3], 0);
	TL_EQ(sl_glog_read_next(G, 1), 44);
	TL_EQ(sl_glog_timeout_ms(G, now), -1);
	sl_glog_set_batch_callback(G, NULL);
}

/* Produce and Fetch take turns; a read whose log never reaches its end
 * fails after SL_GLOG_EMPTY_READS_MAX empty answers. */
static void test_turns_and_empty_reads(void **state)
{
	(void)state;
	TL_OK(sl_glog_read(G, 0, 10));
	int32_t corr, part;
	take_fetch(&corr, &part);
	append1(1, "a", "1");
	answer_fetch(corr, 0, 0, 10, 0, NULL, 0);
	struct produced pr = take_produce();
	TL_EQ(pr.part[0], 1);
	append1(1, "b", "2");
	answer_produce(pr.corr, (int32_t[]){1}, (int16_t[]){0},
		       (int64_t[]){0}, 1);
	/* a fetch is due before the second produce */
	take_fetch(&corr, &part);
	answer_fetch(corr, 0, 0, 10, 0, NULL, 0);
	pr = take_produce();
	assert_string_equal(pr.recs[0], "b=2,");
	answer_produce(pr.corr, (int32_t[]){1}, (int16_t[]){0},
		       (int64_t[]){1}, 1);
	for (int i = 3; i <= SL_GLOG_EMPTY_READS_MAX; i++) {
		take_fetch(&corr, &part);
		answer_fetch(corr, 0, 0, 10, 0, NULL, 0);
	}
	run(20);
	TL_EQ(nreads, 0);
	take_fetch(&corr, &part);
	answer_fetch(corr, 0, 0, 10, 0, NULL, 0);
	run(20);
	TL_EQ(nreads, 1);
	assert_true(read_err[0] != 0);
	TL_EQ(nanswers, 2);
}

/* Bad arguments. */
static void test_arguments(void **state)
{
	(void)state;
	struct sl_glog *g;
	TL_EQ(sl_glog_create("", 1, &g), -EINVAL);
	struct sl_glog_rec r = {(const uint8_t *)"k", 1, NULL, -1, NULL, 0};
	uint64_t seq;
	TL_EQ(sl_glog_append(G, -1, &r, 1, 0, &seq), -EINVAL);
	TL_EQ(sl_glog_append(G, SL_GLOG_PARTITIONS_MAX, &r, 1, 0, &seq),
	      -EINVAL);
	TL_EQ(sl_glog_append(G, 0, &r, 0, 0, &seq), -EINVAL);
	static uint8_t big[SL_GLOG_BATCH_MAX];
	struct sl_glog_rec b = {(const uint8_t *)"k", 1, big, sizeof(big),
				NULL, 0};
	TL_EQ(sl_glog_append(G, 0, &b, 1, 0, &seq), -EINVAL);
	TL_EQ(sl_glog_read(G, 0, -1), -EINVAL);
	TL_EQ(sl_glog_timeout_ms(G, now), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_appends_merged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failure_fails_the_rest,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_turns_and_empty_reads,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_arguments, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
