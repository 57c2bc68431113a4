/*
 * The queue workload (sluice-omb --workload queue): a fixed count of
 * messages published to a queue and worked off by competing consumers,
 * each message received and acknowledged by a call of its own (one
 * accept per message, no cumulative ack; a client may carry several in
 * one request).  It measures how fast a queue is
 * worked off and how long a message waits in it.
 *
 * Happy path, one run:
 *   1. backend->setup() makes the queue (conf->workload is OMB_QUEUE).
 *   2. drain (rate 0): the producers publish every message as fast as
 *      their window of unacknowledged publishes allows and wait for every
 *      publish ack; then the consumers are created and work the backlog
 *      off.
 *      rate (rate R): the consumers are created and waiting first; then
 *      the producers publish at R msgs/s in all, each on its schedule
 *      (R / producers, staggered), and the consumers keep up (or not)
 *      while they do.
 *   3. Each message's payload starts with its stamp (CLOCK_MONOTONIC ns:
 *      the publish call's start in drain mode, its due time on the
 *      schedule in rate mode, so a stall delays every message behind it
 *      and shows in their latencies) and its number 0..N-1 (8 bytes each,
 *      host order).  A consumer records publish-to-receipt latency at the
 *      first delivery of a message, then acknowledges it, timing the call;
 *      a successful ack sets the message's bit in a bitmap.
 *   4. The run ends when every message has been acknowledged once.
 *
 * Figures (one JSON line): msgs/s over the whole run (the first publish
 * call to the last acknowledgement), the consumers' rate (their start, or
 * the first publish if later, to the last acknowledgement), the publish
 * rate (first publish to its last ack), e2e and publish-ack latency
 * percentiles, the ack call's duration, and the integrity counts:
 * redelivered (handed out again), duplicates (acknowledged twice), missing
 * (never acknowledged), ack errors.
 *
 * Failure modes and bounds: a producer that cannot publish stops (the run
 * fails, "error" in the JSON); publishing is bounded by 600 s of schedule
 * (checked by the caller) plus 15 s for the last acks; the consumers stop
 * when every message is acknowledged, after 10 s without a new one, or
 * after 180 s in all, and what was never acknowledged counts as missing.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "omb.h"

#define FLUSH_MS 15000                    /* the last publish acks */
#define STALL_NS (10ull * 1000000000u)    /* consumers without progress */
#define CONSUME_NS_MAX (180ull * 1000000000u)
#define SETTLE_NS 300000000u /* consumers subscribed: let AMQP settle */

/* The producers or the consumers: created, then started together. */
struct crew {
	pthread_barrier_t ready; /* every worker created its client (or not) */
	pthread_barrier_t go;    /* main set the clock: start */
};

struct qworker {
	pthread_t th;
	struct crew *crew;
	struct omb_side side;
	struct hist lat;  /* producer: publish-to-ack; consumer: e2e */
	struct hist call; /* consumer: ack call */
	bool ok;          /* created */
};

/* One run's state: written by omb_queue_run before the workers start,
 * then only the atomics (acked, the bitmap, stop) change. */
static const struct omb_backend *be;
static const struct omb_conf *conf;
static uint64_t *acked_map;       /* bit n: message n acknowledged */
static uint64_t acked_unique;     /* its bits set; relaxed atomics */
static int stop;                  /* main -> consumers, release/acquire */
static uint64_t start_ns;         /* the producers' schedule starts */
static struct crew pcrew, ccrew;
static struct qworker producers[OMB_THREADS_MAX], consumers[OMB_THREADS_MAX];

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

void omb_queue_received(struct omb_side *s, const void *payload, size_t len,
			bool redelivered)
{
	uint64_t now = omb_now_ns(), stamp = omb_payload_stamp(payload, len);

	__atomic_fetch_add(&s->received, 1, __ATOMIC_RELAXED);
	if (redelivered) {
		/* its latency was taken at the first delivery */
		__atomic_fetch_add(&s->redelivered, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!s->first_ns)
		s->first_ns = now; /* only the consumer's thread writes it */
	hist_record(s->lat, now > stamp ? now - stamp : 0);
}

void omb_queue_acked(struct omb_side *s, const void *payload, size_t len,
		     uint64_t call_ns, int err)
{
	uint64_t seq, bit, had;

	if (err) {
		if (__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED) == 0)
			omb_error(s, "consumer %d: ack failed: %d", s->id, err);
		return;
	}
	__atomic_fetch_add(&s->acked, 1, __ATOMIC_RELAXED);
	hist_record(s->call, call_ns);
	s->last_ns = omb_now_ns();
	if (!payload || len < OMB_STAMP_BYTES + OMB_SEQ_BYTES) {
		omb_error(s, "consumer %d: a payload of %zu bytes", s->id, len);
		return;
	}
	memcpy(&seq, (const char *)payload + OMB_STAMP_BYTES, sizeof(seq));
	if (seq >= conf->messages) {
		omb_error(s, "consumer %d: message number %llu out of range",
			  s->id, (unsigned long long)seq);
		return;
	}
	bit = 1ull << (seq % 64);
	/* pairs with the other consumers' fetch_or of the same word */
	had = __atomic_fetch_or(&acked_map[seq / 64], bit, __ATOMIC_RELAXED);
	if (had & bit) {
		__atomic_fetch_add(&s->duplicates, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&s->counted, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->bytes, len, __ATOMIC_RELAXED);
	/* read by main's progress loop */
	__atomic_fetch_add(&acked_unique, 1, __ATOMIC_RELAXED);
}

/* Wait for a producer's next due time, serving its acks meanwhile. */
static void wait_until(void *p, uint64_t due_ns)
{
	uint64_t now = omb_now_ns();

	while (now < due_ns) {
		uint64_t wait = due_ns - now;

		if (wait >= 2000000)
			be->producer_poll(p, wait > 10000000 ? 10 : 1);
		else if (be->producer_poll(p, 0) >= 0 && wait > 50000)
			sleep_ns(wait - 50000);
		else if (wait > 50000)
			sleep_ns(50000);
		else
			break; /* close enough: spinning costs the others CPU */
		now = omb_now_ns();
	}
}

/* Producer id publishes messages id, id + producers, ... < messages. */
static void *producer_main(void *arg)
{
	struct qworker *w = arg;
	struct omb_side *s = &w->side;
	unsigned char *buf = malloc(conf->size);
	uint64_t interval_ns = 0, next, seq = (uint64_t)s->id;
	void *p = NULL;
	int part = s->id % conf->partitions, rc;

	if (buf)
		for (uint32_t i = 0; i < conf->size; i++)
			buf[i] = (unsigned char)('a' + i % 26);
	rc = buf ? be->producer_create(conf, s, &p) : -ENOMEM;
	w->ok = rc == 0;
	if (rc)
		omb_error(s, "producer %d: create: %d", s->id, rc);
	pthread_barrier_wait(&w->crew->ready);
	pthread_barrier_wait(&w->crew->go);
	if (!w->ok)
		goto out;
	if (conf->rate > 0)
		interval_ns = (uint64_t)(1e9 * conf->producers / conf->rate);
	next = start_ns + interval_ns * (uint64_t)s->id / (uint64_t)conf->producers;
	while (seq < conf->messages) {
		uint64_t now, stamp;

		if (interval_ns)
			wait_until(p, next);
		now = omb_now_ns();
		stamp = interval_ns ? next : now;
		memcpy(buf, &stamp, sizeof(stamp));
		memcpy(buf + OMB_STAMP_BYTES, &seq, sizeof(seq));
		if (!s->first_ns)
			s->first_ns = now;
		rc = be->produce(p, part, buf, conf->size, stamp);
		if (rc == -EAGAIN) {
			be->producer_poll(p, 1);
			continue;
		}
		if (rc < 0) {
			omb_error(s, "producer %d: publish: %d", s->id, rc);
			break;
		}
		s->sent++;
		seq += (uint64_t)conf->producers;
		part = (part + 1) % conf->partitions;
		next += interval_ns;
		if ((s->sent & 63) == 0)
			be->producer_poll(p, 0);
	}
	rc = be->producer_flush(p, FLUSH_MS);
	if (rc < 0)
		omb_error(s, "producer %d: flush: %d (acks missing)", s->id, rc);
	s->last_ns = omb_now_ns();
out:
	if (p)
		be->producer_destroy(p);
	free(buf);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct qworker *w = arg;
	struct omb_side *s = &w->side;
	void *q = NULL;
	int rc = be->queue_consumer_create(conf, s, &q);

	w->ok = rc == 0;
	if (rc)
		omb_error(s, "consumer %d: create: %d", s->id, rc);
	pthread_barrier_wait(&w->crew->ready);
	pthread_barrier_wait(&w->crew->go);
	while (w->ok && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		rc = be->queue_consumer_poll(q, 50);
		if (rc < 0) {
			omb_error(s, "consumer %d: poll: %d", s->id, rc);
			break;
		}
	}
	if (q)
		be->queue_consumer_destroy(q);
	return NULL;
}

/* Starts n workers of one kind and waits until each has created its
 * producer or consumer (or failed); they run once `go` is passed. */
static void start(struct crew *cr, struct qworker *ws, int n,
		  void *(*fn)(void *))
{
	pthread_barrier_init(&cr->ready, NULL, (unsigned)n + 1);
	pthread_barrier_init(&cr->go, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		ws[i].crew = cr;
		ws[i].side = (struct omb_side){ .conf = conf, .id = i,
						.lat = &ws[i].lat,
						.call = &ws[i].call,
						.window_end_ns = UINT64_MAX };
		pthread_create(&ws[i].th, NULL, fn, &ws[i]);
	}
	pthread_barrier_wait(&cr->ready);
}

static void release(struct crew *cr)
{
	pthread_barrier_wait(&cr->go);
}

/* Joins n workers, adds their figures up into *sum and their histograms
 * into lat (and call), keeps the first error.  0, or 1 when one failed. */
static int finish(struct crew *cr, struct qworker *ws, int n,
		  struct omb_side *sum,
		  struct hist *lat, struct hist *call, const char **err)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		struct omb_side *s = &ws[i].side;

		pthread_join(ws[i].th, NULL);
		sum->sent += s->sent;
		sum->acked += s->acked;
		sum->errors += s->errors;
		sum->counted += s->counted;
		sum->received += s->received;
		sum->redelivered += s->redelivered;
		sum->duplicates += s->duplicates;
		if (s->first_ns && (!sum->first_ns || s->first_ns < sum->first_ns))
			sum->first_ns = s->first_ns;
		if (s->last_ns > sum->last_ns)
			sum->last_ns = s->last_ns;
		hist_merge(lat, &ws[i].lat);
		if (call)
			hist_merge(call, &ws[i].call);
		failed |= !ws[i].ok;
		if (!**err && s->err[0])
			*err = s->err;
	}
	/* every worker has left both barriers */
	pthread_barrier_destroy(&cr->ready);
	pthread_barrier_destroy(&cr->go);
	return failed;
}

/* Until every message is acknowledged, or no progress for STALL_NS, or
 * CONSUME_NS_MAX in all; then the consumers stop. */
static void await_consumers(uint64_t since_ns)
{
	uint64_t last = omb_now_ns(), prev = 0;

	for (;;) {
		uint64_t got = __atomic_load_n(&acked_unique, __ATOMIC_RELAXED);
		uint64_t now = omb_now_ns();

		if (got >= conf->messages)
			break;
		if (got != prev) {
			prev = got;
			last = now;
		}
		if (now - last > STALL_NS || now - since_ns > CONSUME_NS_MAX)
			break;
		sleep_ns(10000000);
	}
	/* pairs with the consumers' acquire load in their loop */
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
}

static double secs(uint64_t from_ns, uint64_t to_ns)
{
	return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e9 : 0.0;
}

int omb_queue_run(const struct omb_backend *b, const struct omb_conf *c)
{
	struct hist *pub = calloc(1, sizeof(*pub)), *e2e = calloc(1, sizeof(*e2e));
	struct hist *call = calloc(1, sizeof(*call));
	struct omb_side ps = { 0 }, cs = { 0 };
	uint64_t consume_start, from;
	const char *err = "";
	int failed = 0, rc;

	assert(b && b->queue_consumer_create && c->workload == OMB_QUEUE);
	assert(c->consumers >= 1 && c->messages >= 1);
	be = b;
	conf = c;
	acked_map = calloc((size_t)(c->messages + 63) / 64, sizeof(*acked_map));
	if (!pub || !e2e || !call || !acked_map)
		return 1;
	rc = be->setup(c);
	if (rc < 0) {
		printf("{\"system\":\"%s\",\"workload\":\"queue\","
		       "\"error\":\"setup failed: %d\"}\n", c->system, rc);
		return 1;
	}
	if (c->rate > 0) {
		/* the consumers wait on the empty queue first */
		start(&ccrew, consumers, c->consumers, consumer_main);
		sleep_ns(SETTLE_NS);
		consume_start = omb_now_ns();
		release(&ccrew);
		start(&pcrew, producers, c->producers, producer_main);
		start_ns = omb_now_ns();
		release(&pcrew);
		failed |= finish(&pcrew, producers, c->producers, &ps, pub, NULL,
				 &err);
	} else {
		start(&pcrew, producers, c->producers, producer_main);
		start_ns = omb_now_ns();
		release(&pcrew);
		failed |= finish(&pcrew, producers, c->producers, &ps, pub, NULL,
				 &err);
		start(&ccrew, consumers, c->consumers, consumer_main);
		consume_start = omb_now_ns();
		release(&ccrew);
	}
	if (ps.sent)
		await_consumers(consume_start);
	else /* nothing was published: nothing to wait for */
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	failed |= finish(&ccrew, consumers, c->consumers, &cs, e2e, call, &err);
	be->teardown(c);

	/* the consumers' rate counts from when there was something to take */
	from = ps.first_ns > consume_start ? ps.first_ns : consume_start;
	double run_s = secs(ps.first_ns, cs.last_ns);
	double con_s = secs(from, cs.last_ns);
	double pub_s = secs(ps.first_ns, ps.last_ns);
	uint64_t missing = c->messages - cs.counted;
	if (!*err && missing)
		err = "messages never acknowledged (see missing)";
	printf("{\"system\":\"%s\",\"client\":\"%s\",\"opt\":\"%s\","
	       "\"workload\":\"queue\",\"mode\":\"%s\",\"partitions\":%d,"
	       "\"size\":%u,\"messages\":%llu,\"producers\":%d,\"consumers\":%d,"
	       "\"prefetch\":%u,\"target_rate\":%.0f,"
	       "\"published\":%llu,\"pub_acked\":%llu,\"pub_errors\":%llu,"
	       "\"received\":%llu,\"acked\":%llu,\"ack_errors\":%llu,"
	       "\"unique\":%llu,\"duplicates\":%llu,\"redelivered\":%llu,"
	       "\"missing\":%llu,\"publish_s\":%.3f,\"consume_s\":%.3f,"
	       "\"run_s\":%.3f,\"msgs_per_s\":%.1f,\"consume_msgs_per_s\":%.1f,"
	       "\"pub_msgs_per_s\":%.1f,",
	       c->system, be->client, c->opt, c->rate > 0 ? "rate" : "drain",
	       c->partitions, c->size, (unsigned long long)c->messages,
	       c->producers, c->consumers, c->prefetch, c->rate,
	       (unsigned long long)ps.sent, (unsigned long long)ps.counted,
	       (unsigned long long)ps.errors, (unsigned long long)cs.received,
	       (unsigned long long)cs.acked, (unsigned long long)cs.errors,
	       (unsigned long long)cs.counted,
	       (unsigned long long)cs.duplicates,
	       (unsigned long long)cs.redelivered,
	       (unsigned long long)missing, pub_s, con_s, run_s,
	       run_s > 0 ? cs.counted / run_s : 0.0,
	       con_s > 0 ? cs.counted / con_s : 0.0,
	       pub_s > 0 ? ps.counted / pub_s : 0.0);
	omb_print_lat("pub_ack", pub);
	printf(",");
	omb_print_lat("e2e", e2e);
	printf(",");
	omb_print_lat("ack_call", call);
	printf(",\"error\":\"");
	for (const char *ch = err; *ch; ch++)
		putchar(*ch == '"' || *ch == '\\' ? '\'' : *ch);
	printf("\"}\n");
	fflush(stdout);
	free(pub);
	free(e2e);
	free(call);
	free(acked_map);
	return failed || *err ? 1 : 0;
}
