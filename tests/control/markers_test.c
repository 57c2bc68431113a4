/*
 * Tests of the transaction marker writer (control/markers.c) against a
 * small WriteTxnMarkers listener on 127.0.0.1 in this process: the
 * requests it sends are decoded and checked byte for byte by the codec,
 * the answers are chosen by each test (written, retriable errors, moot
 * partitions, a closed connection, no listener at all), and the clock is
 * the test's.  Every loop is bounded in passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tl.h"
#include "control/markers.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

static int lfd = -1, cfd = -1;
static uint16_t port;
static struct sl_markers *M;
static int64_t now;
static uint64_t done_ids[16];
static int ndone;

static void on_done(void *ctx, uint64_t id, int64_t at)
{
	assert_null(ctx);
	TL_EQ(at, now);
	assert_true(ndone < 16);
	done_ids[ndone++] = id;
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

/* Run the writer until the listener has a request: its bytes (without
 * the size prefix) in buf, its length returned. */
static size_t next_request(uint8_t *buf, size_t cap)
{
	size_t have = 0, want = 4;
	for (int pass = 0; pass < 2000; pass++) {
		sl_markers_do_work(M, now);
		if (cfd < 0) {
			struct pollfd p = {lfd, POLLIN, 0};
			if (poll(&p, 1, 1) == 1)
				cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			continue;
		}
		struct pollfd p = {cfd, POLLIN, 0};
		if (poll(&p, 1, 1) != 1)
			continue;
		ssize_t r = recv(cfd, buf + have, want - have, 0);
		assert_true(r > 0);
		have += (size_t)r;
		if (have == 4) {
			want = 4 + rb_be32(buf);
			assert_true(want <= cap);
		}
		if (have == want && have > 4) {
			memmove(buf, buf + 4, have - 4);
			return have - 4;
		}
	}
	fail_msg("no request came");
	return 0;
}

struct seen {
	int32_t corr;
	int nmarkers;
	int64_t pid;
	int16_t epoch;
	bool commit;
	char parts[128];
};

/* Decode a WriteTxnMarkers v1 request (header v2). */
static struct seen decode(const uint8_t *p, size_t len)
{
	static _Alignas(8) uint8_t mem[1 << 16];
	struct kc_arena a = {mem, sizeof(mem), 0};
	struct kc_request_header h;
	long n = kc_decode(&kc_request_header_schema, 1, false, p, len, &h, &a);
	assert_true(n > 0);
	TL_EQ(h.api_key, KC_API_WRITE_TXN_MARKERS);
	TL_EQ(h.api_version, 1);
	TL_EQ(p[n], 0); /* no tagged fields */
	n++;
	struct kc_write_txn_markers_req q;
	long b = kc_decode(kc_api_spec(KC_API_WRITE_TXN_MARKERS)->request, 1,
			   true, p + n, len - (size_t)n, &q, &a);
	TL_EQ(b, (long)(len - (size_t)n));
	struct seen s = {h.correlation_id, q.markers.count, 0, 0, false, ""};
	const struct kc_write_txn_markers_req_writable_txn_marker *mk =
		q.markers.items;
	s.pid = mk[0].producer_id;
	s.epoch = mk[0].producer_epoch;
	s.commit = mk[0].transaction_result;
	TL_EQ(mk[0].coordinator_epoch, 0);
	const struct kc_write_txn_markers_req_writable_txn_marker_topic *t =
		mk[0].topics.items;
	for (int i = 0; i < mk[0].topics.count; i++) {
		const int32_t *pi = t[i].partition_indexes.items;
		for (int k = 0; k < t[i].partition_indexes.count; k++) {
			char one[64];
			snprintf(one, sizeof(one), "%s%.*s:%d",
				 s.parts[0] ? "," : "", (int)t[i].name.len,
				 t[i].name.ptr, pi[k]);
			strcat(s.parts, one);
		}
	}
	return s;
}

/* Answer corr: marker of pid, topic with partitions and their codes. */
static void answer(int32_t corr, int64_t pid, const char *topic,
		   const int32_t *parts, const int16_t *codes, int n)
{
	struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
		pr[8];
	for (int i = 0; i < n; i++)
		pr[i] = (typeof(pr[0])){parts[i], codes[i]};
	struct kc_write_txn_markers_resp_writable_txn_marker_topic_result tr =
		{{topic, (int32_t)strlen(topic)}, {pr, n}};
	struct kc_write_txn_markers_resp_writable_txn_marker_result mr = {
		pid, {&tr, 1}};
	struct kc_write_txn_markers_resp r = {{&mr, 1}};
	uint8_t buf[512];
	rb_put32(buf + 4, (uint32_t)corr);
	buf[8] = 0; /* response header v1: no tagged fields */
	long b = kc_encode(kc_api_spec(KC_API_WRITE_TXN_MARKERS)->response, 1,
			   true, &r, buf + 9, sizeof(buf) - 9);
	assert_true(b > 0);
	rb_put32(buf, (uint32_t)(5 + b));
	TL_EQ(send(cfd, buf, (size_t)(9 + b), MSG_NOSIGNAL), 9 + b);
}

static void run(int passes)
{
	for (int i = 0; i < passes; i++) {
		sl_markers_do_work(M, now);
		poll(NULL, 0, 1);
	}
}

static void submit(uint64_t id, int64_t pid, const char *topic, int n)
{
	struct sl_txn_partition p[8];
	for (int i = 0; i < n; i++)
		p[i] = (struct sl_txn_partition){topic, (uint16_t)strlen(topic),
						 i};
	struct sl_txn_markers m = {id, pid, 3, true, 0, (uint32_t)n, p, "t", 1};
	sl_markers_submit(M, &m);
}

static int setup(void **state)
{
	(void)state;
	listen_on(0);
	TL_OK(sl_markers_create(port, &M));
	sl_markers_set_done(M, on_done, NULL);
	now = 1000;
	ndone = 0;
	cfd = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_markers_destroy(M);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	cfd = lfd = -1;
	return 0;
}

/* Written, one partition after a retriable error. */
static void test_written_after_retry(void **state)
{
	(void)state;
	uint8_t buf[4096];
	submit(77, 1ll << 40, "t", 2);
	TL_EQ(sl_markers_pending(M), 1);
	struct seen s = decode(buf, next_request(buf, sizeof(buf)));
	TL_EQ(s.nmarkers, 1);
	TL_EQ(s.pid, 1ll << 40);
	TL_EQ(s.epoch, 3);
	assert_true(s.commit);
	assert_string_equal(s.parts, "t:0,t:1");
	answer(s.corr, 1ll << 40, "t", (int32_t[]){0, 1},
	       (int16_t[]){0, SN_ERR_KAFKA_STORAGE_ERROR}, 2);
	run(20);
	TL_EQ(ndone, 0);
	/* after the back-off: only what is left */
	TL_EQ(sl_markers_timeout_ms(M, now), SL_MARKERS_BACKOFF_MIN_MS);
	now += SL_MARKERS_BACKOFF_MIN_MS;
	s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "t:1");
	answer(s.corr, 1ll << 40, "t", (int32_t[]){1}, (int16_t[]){0}, 1);
	run(20);
	TL_EQ(ndone, 1);
	TL_EQ(done_ids[0], 77);
	TL_EQ(sl_markers_pending(M), 0);
	TL_EQ(sl_markers_timeout_ms(M, now), -1);
	struct sl_markers_stats st;
	sl_markers_get_stats(M, &st);
	TL_EQ(st.partitions_done, 2);
	TL_EQ(st.retries, 1);
}

/* Partitions that are gone, or have seen a newer epoch: done. */
static void test_moot_partitions(void **state)
{
	(void)state;
	uint8_t buf[4096];
	submit(5, 9, "u", 2);
	struct seen s = decode(buf, next_request(buf, sizeof(buf)));
	answer(s.corr, 9, "u", (int32_t[]){0, 1},
	       (int16_t[]){SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
			   SN_ERR_INVALID_PRODUCER_EPOCH}, 2);
	run(20);
	TL_EQ(ndone, 1);
	TL_EQ(done_ids[0], 5);
}

/* A cancelled job: not in flight, it is dropped at once and nothing is
 * sent; in flight, its answer settles it but what failed is not sent
 * again, and neither is reported done. */
static void test_cancelled(void **state)
{
	(void)state;
	uint8_t buf[4096];
	submit(40, 4, "t", 1);
	sl_markers_cancel(M, 40);
	TL_EQ(sl_markers_pending(M), 0);
	submit(41, 5, "t", 3);
	struct seen s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "t:0,t:1,t:2");
	sl_markers_cancel(M, 41);
	sl_markers_cancel(M, 99); /* unknown: nothing */
	TL_EQ(sl_markers_pending(M), 1); /* in flight */
	answer(s.corr, 5, "t", (int32_t[]){0, 1, 2},
	       (int16_t[]){0, SN_ERR_KAFKA_STORAGE_ERROR,
			   SN_ERR_NOT_LEADER_OR_FOLLOWER}, 3);
	run(20);
	TL_EQ(sl_markers_pending(M), 0);
	now += 10 * SL_MARKERS_BACKOFF_MAX_MS;
	run(50);
	TL_EQ(ndone, 0);
	struct pollfd p = {cfd, POLLIN, 0};
	TL_EQ(poll(&p, 1, 0), 0); /* nothing more was sent */
	struct sl_markers_stats st;
	sl_markers_get_stats(M, &st);
	TL_EQ(st.requests, 1);
}

/* No listener: retried with back-off until one comes; a connection closed
 * mid-request: sent again. */
static void test_down_then_up(void **state)
{
	(void)state;
	uint8_t buf[4096];
	uint16_t p = port;
	close(lfd);
	lfd = -1;
	submit(1, 2, "t", 1);
	run(5);
	struct sl_markers_stats st;
	sl_markers_get_stats(M, &st);
	assert_true(st.failures >= 1);
	int64_t wait = sl_markers_timeout_ms(M, now);
	assert_true(wait >= SL_MARKERS_BACKOFF_MIN_MS);
	for (int i = 0; i < 6; i++) { /* the back-off grows to its bound */
		now += sl_markers_timeout_ms(M, now);
		run(3);
	}
	TL_EQ(sl_markers_timeout_ms(M, now), SL_MARKERS_BACKOFF_MAX_MS);
	listen_on(p);
	now += SL_MARKERS_BACKOFF_MAX_MS;
	struct seen s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "t:0");
	/* the listener closes without answering */
	close(cfd);
	cfd = -1;
	run(20);
	TL_EQ(ndone, 0);
	now += SL_MARKERS_BACKOFF_MAX_MS;
	s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "t:0");
	answer(s.corr, 2, "t", (int32_t[]){0}, (int16_t[]){0}, 1);
	run(20);
	TL_EQ(ndone, 1);
	/* an answer with another correlation id is not believed */
	submit(3, 4, "t", 1);
	s = decode(buf, next_request(buf, sizeof(buf)));
	answer(s.corr + 1, 4, "t", (int32_t[]){0}, (int16_t[]){0}, 1);
	run(20);
	TL_EQ(ndone, 1);
	TL_EQ(sl_markers_pending(M), 1);
}

/* Routed: partition 0's leader is the listener, partition 1 has none
 * yet; the marker of 1 waits (looked at again after the shortest
 * back-off) and goes once its leader is known; NOT_LEADER_OR_FOLLOWER is
 * sent again to the leader the route names then. */
static bool p1_led;

static int route(void *ctx, const char *topic, uint16_t len, int32_t part,
		 uint32_t *addr, uint16_t *to)
{
	assert_null(ctx);
	if (len == 1 && topic[0] == 'x')
		return -ENOENT; /* unknown: the default listener */
	if (part == 1 && !p1_led)
		return -EAGAIN;
	*addr = htonl(INADDR_LOOPBACK);
	*to = port;
	return 0;
}

static void test_routed(void **state)
{
	(void)state;
	uint8_t buf[4096];
	p1_led = false;
	sl_markers_set_route(M, route, NULL);
	submit(8, 40, "r", 2);
	struct seen s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "r:0");
	answer(s.corr, 40, "r", (int32_t[]){0},
	       (int16_t[]){SN_ERR_NOT_LEADER_OR_FOLLOWER}, 1);
	run(20);
	TL_EQ(ndone, 0);
	TL_EQ(sl_markers_timeout_ms(M, now), SL_MARKERS_BACKOFF_MIN_MS);
	now += SL_MARKERS_BACKOFF_MIN_MS;
	s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "r:0");
	answer(s.corr, 40, "r", (int32_t[]){0}, (int16_t[]){0}, 1);
	run(20);
	TL_EQ(ndone, 0); /* partition 1 has no leader yet */
	TL_EQ(sl_markers_pending(M), 1);
	TL_EQ(sl_markers_timeout_ms(M, now), SL_MARKERS_BACKOFF_MIN_MS);
	p1_led = true;
	now += SL_MARKERS_BACKOFF_MIN_MS;
	s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "r:1");
	answer(s.corr, 40, "r", (int32_t[]){1}, (int16_t[]){0}, 1);
	run(20);
	TL_EQ(ndone, 1);
	TL_EQ(done_ids[0], 8);
	/* a topic the route does not know goes to the default listener
	 * (the same one here) */
	submit(9, 41, "x", 1);
	s = decode(buf, next_request(buf, sizeof(buf)));
	assert_string_equal(s.parts, "x:0");
	answer(s.corr, 41, "x", (int32_t[]){0},
	       (int16_t[]){SN_ERR_UNKNOWN_TOPIC_OR_PARTITION}, 1);
	run(20);
	TL_EQ(ndone, 2);
	TL_EQ(done_ids[1], 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_written_after_retry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_moot_partitions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_down_then_up, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_routed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
