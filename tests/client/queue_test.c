/*
 * libsluice's queue consumer (QUEUE_RECEIVE, QUEUE_ACK: docs/protocol.md)
 * and request-reply against the real broker (tests/lib/broker.h), with a
 * record lock of 1 s and groups starting at the log's start:
 *
 *   1. headers survive; a consumer holds at most its prefetch; accepted
 *      messages are not handed out again (a second accept is refused);
 *   2. two competing consumers share 200 messages: each exactly once;
 *   3. release with a delay: not back before it, back after it with
 *      delivery count 2;
 *   4. reject: the message is copied to <topic>.dlq with its origin;
 *   5. a lapsed lock: another consumer gets the message (count 2), the
 *      first one's accept is refused; extend keeps a message past its
 *      lock;
 *   6. destroy releases what a consumer holds at once; answers queued
 *      with sl_queue_ack_async go with the next receive (none back after
 *      the lock; a refused one counted and returned by the flush);
 *   7. a 600 KiB stored batch (an answer larger than a control socket
 *      message) handed out whole; sl_request / sl_reply with a responder
 *      in a child process;
 *   8. kill -9 of both processes with messages in flight: after the
 *      restart every message not accepted is handed out, none accepted
 *      is;
 *   9. refusals: an unknown topic, a group name too long, a raw
 *      QUEUE_RECEIVE with a zero member id (INVALID_REQUEST), one over
 *      UDP (UNSUPPORTED_VERSION).
 * Bounded: every wait has a deadline.  Exit 77 without the binaries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "proto/native.h"
#include "sluice/sluice.h"

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #c);                   \
			return 1;                                          \
		}                                                          \
	} while (0)

static char addr[96];

static int produce(const char *topic, int32_t part, const char *prefix,
		   int n)
{
	struct sl_producer *p;
	if (sl_producer_create(addr, NULL, &p))
		return 1;
	for (int i = 0; i < n; i++) {
		char v[64];
		int l = snprintf(v, sizeof(v), "%s%d", prefix, i);
		struct sl_header h = {"h-index", 7, v, (size_t)l};
		if (sl_produce_h(p, topic, part < 0 ? i % 2 : part, NULL, 0, v,
				 (size_t)l, &h, 1, NULL) < 0)
			return 1;
	}
	int rc = sl_producer_flush(p, 30000);
	sl_producer_destroy(p);
	return rc != 0;
}

static int topic(struct sl_client *c, const char *name, int32_t parts)
{
	struct sl_topic_config cfg = {.partitions = parts};
	return sl_topic_create(c, name, &cfg) < 0;
}

static int value_is(const struct sl_queue_message *m, const char *want)
{
	return m->msg.vlen == strlen(want) &&
	       !memcmp(m->msg.value, want, m->msg.vlen);
}

static int basics(void)
{
	CHECK(produce("q1", -1, "m", 30) == 0);
	struct sl_queue_opts o = {.prefetch = 10, .max_wait_ms = 500};
	struct sl_queue *a;
	CHECK(sl_queue_create(addr, "g1", "q1", &o, &a) == 0);
	struct sl_queue_message m;
	int got = 0;
	int64_t seen[64][2];
	/* one answer: at most the prefetch */
	CHECK(sl_queue_receive(a, &m, 5000) == 1);
	do {
		const void *hv;
		size_t hl;
		CHECK(m.delivery_count == 1);
		CHECK(sl_message_header(&m.msg, "h-index", &hv, &hl) == 1);
		CHECK(hl == m.msg.vlen && !memcmp(hv, m.msg.value, hl));
		seen[got][0] = m.msg.partition;
		seen[got][1] = m.msg.offset;
		got++;
	} while (got < 64 && sl_queue_receive(a, &m, 0) == 1);
	CHECK(got == 10); /* the credit: 10 held, none answered */
	CHECK(sl_queue_lock_ms(a) == 1000);
	for (int i = 0; i < got; i++)
		CHECK(sl_queue_ack(a, (int32_t)seen[i][0], seen[i][1],
				   SL_ACK_ACCEPT, 0) == 0);
	CHECK(sl_queue_ack(a, (int32_t)seen[0][0], seen[0][1], SL_ACK_ACCEPT,
			   0) == sl_err_broker(SN_ERR_INVALID_RECORD_STATE));
	/* the other 20, never the accepted ones */
	int more = 0, rc;
	while ((rc = sl_queue_receive(a, &m, 2000)) == 1) {
		for (int i = 0; i < got; i++)
			CHECK(!(m.msg.partition == seen[i][0] &&
				m.msg.offset == seen[i][1]));
		CHECK(sl_queue_ack(a, m.msg.partition, m.msg.offset,
				   SL_ACK_ACCEPT, 0) == 0);
		more++;
	}
	CHECK(rc == 0 && more == 20);
	sl_queue_destroy(a);
	printf("ok: headers, prefetch 10, accept, a second accept refused\n");
	return 0;
}

static int competing(void)
{
	enum { N = 200 };
	CHECK(produce("q2", -1, "c", N) == 0);
	struct sl_queue_opts o = {.prefetch = 7, .max_wait_ms = 200};
	struct sl_queue *q[2];
	CHECK(sl_queue_create(addr, "g2", "q2", &o, &q[0]) == 0);
	CHECK(sl_queue_create(addr, "g2", "q2", &o, &q[1]) == 0);
	static int count[N];
	int total = 0, by[2] = {0, 0}, idle = 0;
	uint64_t end = tb_now_ms() + 30000;
	while (total < N && tb_now_ms() < end && idle < 10) {
		for (int k = 0; k < 2; k++) {
			struct sl_queue_message m;
			int rc = sl_queue_receive(q[k], &m, 300);
			CHECK(rc >= 0);
			if (!rc) {
				idle++;
				continue;
			}
			idle = 0;
			int i = atoi((const char *)m.msg.value + 1);
			CHECK(i >= 0 && i < N);
			count[i]++;
			total++;
			by[k]++;
			CHECK(sl_queue_ack(q[k], m.msg.partition, m.msg.offset,
					   SL_ACK_ACCEPT, 0) == 0);
		}
	}
	for (int i = 0; i < N; i++)
		CHECK(count[i] == 1);
	CHECK(by[0] > 0 && by[1] > 0);
	sl_queue_destroy(q[0]);
	sl_queue_destroy(q[1]);
	printf("ok: two competing consumers got %d and %d of %d, each once\n",
	       by[0], by[1], N);
	return 0;
}

static int release_reject(void)
{
	CHECK(produce("q3", 0, "r", 2) == 0);
	struct sl_queue *a, *b;
	CHECK(sl_queue_create(addr, "g3", "q3", NULL, &a) == 0);
	CHECK(sl_queue_create(addr, "g3", "q3", NULL, &b) == 0);
	struct sl_queue_message m;
	CHECK(sl_queue_receive(a, &m, 5000) == 1 && value_is(&m, "r0"));
	uint64_t t0 = tb_now_ms();
	CHECK(sl_queue_ack(a, 0, m.msg.offset, SL_ACK_RELEASE, 1500) == 0);
	/* r1 is A's too (one answer), r0 waits out its delay */
	struct sl_queue_message n;
	CHECK(sl_queue_receive(a, &n, 0) == 1 && value_is(&n, "r1"));
	/* reject: a dead letter in q3.dlq, naming where it came from */
	CHECK(sl_queue_ack(a, 0, n.msg.offset, SL_ACK_REJECT, 0) == 0);
	CHECK(sl_queue_receive(b, &m, 700) == 0);
	CHECK(sl_queue_receive(b, &m, 5000) == 1 && value_is(&m, "r0"));
	uint64_t dt = tb_now_ms() - t0;
	CHECK(dt >= 1400 && m.delivery_count == 2);
	CHECK(sl_queue_ack(b, 0, m.msg.offset, SL_ACK_ACCEPT, 0) == 0);
	struct sl_consumer *d;
	CHECK(sl_consumer_create(addr, "q3.dlq", 0, NULL, &d) == 0);
	struct sl_message x;
	CHECK(sl_consume(d, &x, 10000) == 1);
	CHECK(x.vlen == 2 && !memcmp(x.value, "r1", 2));
	const void *hv;
	size_t hl;
	CHECK(sl_message_header(&x, "sl-dlq-topic", &hv, &hl) == 1 &&
	      hl == 2 && !memcmp(hv, "q3", 2));
	CHECK(sl_message_header(&x, "sl-dlq-reason", &hv, &hl) == 1);
	sl_consumer_destroy(d);
	sl_queue_destroy(a);
	sl_queue_destroy(b);
	printf("ok: released with 1500 ms delay back after %llu ms (count "
	       "2); rejected copied to q3.dlq\n", (unsigned long long)dt);
	return 0;
}

static int locks(void)
{
	CHECK(produce("q4", 0, "l", 2) == 0);
	struct sl_queue_opts o = {.prefetch = 1, .max_wait_ms = 500};
	struct sl_queue *a, *b;
	CHECK(sl_queue_create(addr, "g4", "q4", &o, &a) == 0);
	struct sl_queue_opts o2 = {.prefetch = 2, .max_wait_ms = 500};
	CHECK(sl_queue_create(addr, "g4", "q4", &o2, &b) == 0);
	struct sl_queue_message m, e;
	CHECK(sl_queue_receive(a, &m, 5000) == 1 && value_is(&m, "l0"));
	int64_t lapsed = m.msg.offset;
	/* B gets l1 and keeps it past its lock with EXTEND */
	CHECK(sl_queue_receive(b, &e, 5000) == 1 && value_is(&e, "l1"));
	for (int i = 0; i < 3; i++) {
		usleep(600 * 1000);
		CHECK(sl_queue_ack(b, 0, e.msg.offset, SL_ACK_EXTEND, 0) == 0);
	}
	/* A's lock on l0 lapsed long ago: B gets it, count 2 */
	CHECK(sl_queue_receive(b, &m, 3000) == 1 && value_is(&m, "l0"));
	CHECK(m.delivery_count == 2);
	CHECK(sl_queue_ack(a, 0, lapsed, SL_ACK_ACCEPT, 0) ==
	      sl_err_broker(SN_ERR_INVALID_RECORD_STATE));
	CHECK(sl_queue_ack(b, 0, e.msg.offset, SL_ACK_ACCEPT, 0) == 0);
	CHECK(sl_queue_ack(b, 0, lapsed, SL_ACK_ACCEPT, 0) == 0);
	/* destroy gives back at once what a consumer holds */
	CHECK(produce("q4", 0, "d", 1) == 0);
	CHECK(sl_queue_receive(a, &m, 5000) == 1 && value_is(&m, "d0"));
	sl_queue_destroy(a);
	uint64_t t0 = tb_now_ms();
	CHECK(sl_queue_receive(b, &m, 3000) == 1 && value_is(&m, "d0"));
	CHECK(tb_now_ms() - t0 < 900 && m.delivery_count == 2);
	CHECK(sl_queue_ack(b, 0, m.msg.offset, SL_ACK_ACCEPT, 0) == 0);
	sl_queue_destroy(b);
	printf("ok: a lapsed lock hands the message on (count 2) and the "
	       "late accept is refused; extend keeps one for 1.8 s; "
	       "destroy releases at once\n");
	return 0;
}

/* Queued answers: sent with the next receive, many in one request;
 * those accepted never come back (past the 1 s lock), a refused one is
 * counted and returned by the flush. */
static int async_acks(void)
{
	enum { N = 300 };
	CHECK(produce("q6", -1, "a", N) == 0);
	struct sl_queue_opts o = {.prefetch = 50, .max_wait_ms = 300};
	struct sl_queue *q;
	CHECK(sl_queue_create(addr, "g6", "q6", &o, &q) == 0);
	static int seen[N];
	int n = 0, rc;
	struct sl_queue_message m;
	uint64_t end = tb_now_ms() + 30000;
	while (n < N && tb_now_ms() < end) {
		rc = sl_queue_receive(q, &m, 1000);
		CHECK(rc >= 0);
		if (!rc)
			continue;
		int i = atoi((const char *)m.msg.value + 1);
		CHECK(i >= 0 && i < N && !seen[i]);
		seen[i] = 1;
		n++;
		CHECK(sl_queue_ack_async(q, m.msg.partition, m.msg.offset,
					 SL_ACK_ACCEPT, 0) == 0);
	}
	CHECK(n == N);
	CHECK(sl_queue_flush(q, 10000) == 0);
	CHECK(sl_queue_ack_refused(q) == 0);
	/* past the lock: none of them comes back */
	usleep(1300 * 1000);
	CHECK(sl_queue_receive(q, &m, 500) == 0);
	/* an answer for a message not held: refused, counted */
	CHECK(sl_queue_ack_async(q, 0, 0, SL_ACK_ACCEPT, 0) == 0);
	CHECK(sl_queue_flush(q, 10000) ==
	      sl_err_broker(SN_ERR_INVALID_RECORD_STATE));
	CHECK(sl_queue_ack_refused(q) == 1);
	CHECK(sl_queue_flush(q, 10000) == 0);
	CHECK(sl_queue_ack_async(q, 0, -1, SL_ACK_ACCEPT, 0) == -EINVAL);
	sl_queue_destroy(q);
	printf("ok: %d messages accepted with queued answers, none back after "
	       "the lock; a refused one counted\n", N);
	return 0;
}

/* A stored batch far larger than a control socket message (its answer
 * goes to sluiced in pieces): every message handed out. */
static int big_batches(void)
{
	enum { N = 600 };
	struct sl_producer_opts po;
	sl_producer_opts_default(&po);
	po.batch_bytes = 1u << 20;
	po.linger_ms = 200;
	struct sl_producer *p;
	CHECK(sl_producer_create(addr, &po, &p) == 0);
	static char v[1024];
	for (int i = 0; i < N; i++) {
		int l = snprintf(v, sizeof(v), "b%d-", i);
		memset(v + l, 'x', sizeof(v) - (size_t)l);
		CHECK(sl_produce(p, "q7", 0, NULL, 0, v, sizeof(v), NULL) == 0);
	}
	CHECK(sl_producer_flush(p, 30000) == 0);
	struct sl_producer_stats ps;
	sl_producer_stats(p, &ps);
	sl_producer_destroy(p);
	CHECK(ps.batches_sent <= 2); /* one batch of ~600 KiB, or two */
	struct sl_queue_opts o = {.prefetch = 1000, .max_wait_ms = 500};
	struct sl_queue *q;
	CHECK(sl_queue_create(addr, "g7", "q7", &o, &q) == 0);
	static int seen[N];
	int n = 0;
	struct sl_queue_message m;
	uint64_t end = tb_now_ms() + 20000;
	while (n < N && tb_now_ms() < end) {
		int rc = sl_queue_receive(q, &m, 1000);
		CHECK(rc >= 0);
		if (!rc)
			continue;
		int i = atoi((const char *)m.msg.value + 1);
		CHECK(i >= 0 && i < N && !seen[i] && m.msg.vlen == sizeof(v));
		seen[i] = 1;
		n++;
		CHECK(sl_queue_ack_async(q, 0, m.msg.offset, SL_ACK_ACCEPT,
					 0) == 0);
	}
	CHECK(n == N);
	CHECK(sl_queue_flush(q, 10000) == 0);
	sl_queue_destroy(q);
	printf("ok: %d 1 KiB messages stored in %llu batch(es) handed out "
	       "whole\n", N, (unsigned long long)ps.batches_sent);
	return 0;
}

static void responder(void)
{
	struct sl_queue *q;
	struct sl_producer *p;
	if (sl_queue_create(addr, "svc", "rpc", NULL, &q) ||
	    sl_producer_create(addr, NULL, &p))
		_exit(3);
	struct sl_queue_message m;
	if (sl_queue_receive(q, &m, 15000) != 1)
		_exit(4);
	char out[128];
	int n = snprintf(out, sizeof(out), "echo:%.*s", (int)m.msg.vlen,
			 (const char *)m.msg.value);
	if (sl_reply(p, &m.msg, out, (size_t)n, NULL) ||
	    sl_producer_flush(p, 10000) ||
	    sl_queue_ack(q, m.msg.partition, m.msg.offset, SL_ACK_ACCEPT, 0))
		_exit(5);
	sl_producer_destroy(p);
	sl_queue_destroy(q);
	_exit(0);
}

struct replies {
	int n;
	char last[128];
};

static void on_reply(void *arg, const struct sl_message *m)
{
	struct replies *r = arg;
	r->n++;
	snprintf(r->last, sizeof(r->last), "%.*s", (int)m->vlen,
		 (const char *)m->value);
}

static int request_reply(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		responder();
	struct replies r = {0, ""};
	int rc = sl_request(addr, "rpc", "ping", 4, 1, 10000, on_reply, &r);
	int st = 0;
	waitpid(pid, &st, 0);
	if (rc != 1)
		fprintf(stderr, "sl_request: %d %s\n", rc,
			rc < 0 ? sl_error_message(rc) : "");
	CHECK(rc == 1 && r.n == 1 && !strcmp(r.last, "echo:ping"));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* nobody answers: 0 replies when the time is up */
	uint64_t t0 = tb_now_ms();
	CHECK(sl_request(addr, "rpc", "again", 5, 1, 800, on_reply, &r) == 0);
	CHECK(tb_now_ms() - t0 >= 790);
	printf("ok: sl_request answered by sl_reply; none within 800 ms: "
	       "0\n");
	return 0;
}

static int crash(struct tb *b)
{
	enum { N = 20 };
	CHECK(produce("q5", -1, "k", N) == 0);
	struct sl_queue_opts o = {.prefetch = 10, .max_wait_ms = 500};
	struct sl_queue *a;
	CHECK(sl_queue_create(addr, "g5", "q5", &o, &a) == 0);
	int accepted[N] = {0}, held = 0;
	struct sl_queue_message m;
	while (held < 10 && sl_queue_receive(a, &m, 3000) == 1) {
		int i = atoi((const char *)m.msg.value + 1);
		CHECK(i >= 0 && i < N);
		if (held++ % 2 == 0) {
			CHECK(sl_queue_ack(a, m.msg.partition, m.msg.offset,
					   SL_ACK_ACCEPT, 0) == 0);
			accepted[i] = 1;
		}
	}
	CHECK(held == 10);
	int st = tb_stop_pid(&b->control, SIGKILL);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = tb_stop_pid(&b->sluiced, SIGKILL);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(tb_start(b) == 0);
	/* a's connections are gone: its held messages come back (lock) */
	struct sl_queue *c;
	uint64_t end = tb_now_ms() + 20000;
	int rc;
	while ((rc = sl_queue_create(addr, "g5", "q5", &o, &c)) &&
	       tb_now_ms() < end)
		usleep(100 * 1000);
	CHECK(rc == 0);
	int seen[N] = {0}, n = 0;
	while (tb_now_ms() < end && n < N - 5) {
		rc = sl_queue_receive(c, &m, 1000);
		if (rc <= 0)
			continue;
		int i = atoi((const char *)m.msg.value + 1);
		CHECK(i >= 0 && i < N && !accepted[i] && !seen[i]);
		seen[i] = 1;
		n++;
		CHECK(sl_queue_ack(c, m.msg.partition, m.msg.offset,
				   SL_ACK_ACCEPT, 0) == 0);
	}
	CHECK(n == N - 5);
	CHECK(sl_queue_receive(c, &m, 1500) == 0);
	sl_queue_destroy(c);
	sl_queue_destroy(a);
	printf("ok: kill -9 with 5 of 10 accepted: the other 15 handed out "
	       "after the restart, no accepted one\n");
	return 0;
}

static int raw_call(int type, const uint8_t *req, size_t len, int16_t *err)
{
	int fd = socket(AF_INET, type, 0);
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)atoi(colon + 1))};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t resp[256];
	int ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		 send(fd, req, len, 0) == (ssize_t)len &&
		 recv(fd, resp, sizeof(resp), 0) >= 16;
	close(fd);
	if (!ok)
		return 1;
	*err = (int16_t)(resp[12] << 8 | resp[13]);
	return resp[3] != (req[3] | SN_RESPONSE);
}

static int refusals(void)
{
	struct sl_queue *q;
	CHECK(sl_queue_create(addr, "g", "nosuch", NULL, &q) ==
	      sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION));
	char big[300];
	memset(big, 'g', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK(sl_queue_create(addr, big, "q1", NULL, &q) == -EINVAL);
	uint8_t req[128];
	struct sn_queue_receive r = {.max_messages = 1, .group = "g",
				     .group_len = 1, .topic = "q1",
				     .topic_len = 2};
	long n = sn_encode_queue_receive(req, sizeof(req), 7, &r);
	CHECK(n > 0);
	int16_t err = 0;
	CHECK(raw_call(SOCK_STREAM, req, (size_t)n, &err) == 0);
	CHECK(err == SN_ERR_INVALID_REQUEST);
	r.member[0] = 1;
	n = sn_encode_queue_receive(req, sizeof(req), 8, &r);
	CHECK(raw_call(SOCK_DGRAM, req, (size_t)n, &err) == 0);
	CHECK(err == SN_ERR_UNSUPPORTED_VERSION);
	printf("ok: unknown topic, long group name, zero member id, UDP "
	       "refused\n");
	return 0;
}

int main(void)
{
	if (tb_available())
		return 77;
	struct tb b;
	int ret = 1;
	struct sl_client *cl = NULL;
	if (tb_init(&b, "queue"))
		return 1;
	b.extra[b.nextra++] = "share_record_lock_duration_ms=1000";
	b.extra[b.nextra++] = "share_auto_offset_reset=earliest";
	if (tb_start(&b)) {
		fprintf(stderr, "cannot start the broker (logs in %s)\n", b.dir);
		tb_destroy(&b, 1);
		return 1;
	}
	snprintf(addr, sizeof(addr), "%s", b.addr);
	if (sl_client_create(addr, 5000, &cl) ||
	    topic(cl, "q1", 2) || topic(cl, "q2", 2) || topic(cl, "q3", 1) ||
	    topic(cl, "q3.dlq", 1) || topic(cl, "q4", 1) ||
	    topic(cl, "q5", 2) || topic(cl, "rpc", 1) ||
	    topic(cl, "q6", 2) || topic(cl, "q7", 1)) {
		fprintf(stderr, "topics not created\n");
		goto out;
	}
	if (basics() || competing() || release_reject() || locks() ||
	    async_acks() || big_batches() || request_reply() || crash(&b) ||
	    refusals())
		goto out;
	ret = 0;
out:
	sl_client_destroy(cl);
	if (ret)
		fprintf(stderr, "logs kept in %s\n", b.dir);
	if (tb_destroy(&b, ret != 0))
		ret = 1;
	return ret;
}
