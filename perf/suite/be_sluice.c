/*
 * Backend: sluice's native protocol through libsluice.
 *
 * Topic: `partitions` partitions, durability every_append (fdatasync
 * before the ack; appends arriving while a sync runs share the next one).
 * Producer: libsluice's defaults (TCP, 256 KiB batches, linger 5 ms, 5
 * batches in flight per partition, 64 MiB buffer, idempotent) with
 * acks=all, nonblocking so a full buffer returns -EAGAIN to the driver.
 * Consumer: one sl_consumer per partition, seeked to the end; partitions
 * are read round robin, each fetch without waiting, and when a whole
 * round brought nothing the next partition's fetch long-polls 1 ms.
 *
 * The queue workload: the topic is read by the queue group "<topic>.q"
 * (the broker runs with share_auto_offset_reset=earliest, so a group
 * that first reads after the messages were published still gets them);
 * each consumer is an sl_queue with the workload's prefetch, and answers
 * every message with sl_queue_ack_async(SL_ACK_ACCEPT): queued, and sent
 * in one QUEUE_ACK ahead of the consumer's next QUEUE_RECEIVE (as
 * RabbitMQ's basic.ack goes without an answer); the broker makes them
 * durable before it answers that receive.  The consumer's end flushes
 * what is left (sl_queue_flush).  The producer is the log workloads'
 * (libsluice's defaults, 256 KiB batches: a QUEUE_RECEIVE answer holds
 * up to 1 MiB of stored batches), but without linger at a fixed rate:
 * each message is sent when it is due, as RabbitMQ's publishes are.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "omb.h"
#include "sluice/sluice.h"

#define ERR_INVALID_RECORD_STATE 121 /* a lock that lapsed: not fatal */

struct prod {
	struct sl_producer *p;
	struct omb_side *s;
	const struct omb_conf *c;
};

struct cons {
	struct sl_consumer *c[OMB_PARTITIONS_MAX];
	int n, next;
	struct omb_side *s;
};

static int sl_setup(const struct omb_conf *c)
{
	struct sl_client *cl;
	struct sl_topic_config tc = { .partitions = c->partitions,
				      .durability = SL_DURABILITY_EVERY_APPEND };
	long rc = sl_client_create(c->addr, 5000, &cl);

	if (rc)
		return (int)rc;
	/* sluice-control may still be connecting after a start: retry */
	for (int i = 0; i < 50; i++) {
		rc = sl_topic_create(cl, c->topic, &tc);
		if (rc >= 0 || rc == sl_err_broker(36 /* TOPIC_ALREADY_EXISTS */))
			break;
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	sl_client_destroy(cl);
	return rc < 0 && rc != sl_err_broker(36) ? (int)rc : 0;
}

static void sl_teardown(const struct omb_conf *c)
{
	struct sl_client *cl;

	if (sl_client_create(c->addr, 5000, &cl) == 0) {
		sl_topic_delete(cl, c->topic);
		sl_client_destroy(cl);
	}
}

static void on_delivery(void *opaque, int32_t partition, int64_t offset,
			int err, void *arg)
{
	struct prod *p = arg;

	(void)partition;
	(void)offset;
	omb_acked(p->s, (uint64_t)(uintptr_t)opaque, err);
}

static int sl_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));
	struct sl_producer_opts o;
	int rc;

	if (!p)
		return -ENOMEM;
	_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t),
		       "the stamp travels in the opaque pointer");
	sl_producer_opts_default(&o);
	o.acks = -1;
	o.nonblocking = 1;
	o.cb = on_delivery;
	o.cb_arg = p;
	/* at a fixed rate each message goes at once, as an AMQP publish
	 * does (the log workloads keep the 5 ms linger) */
	if (c->workload == OMB_QUEUE && c->rate > 0)
		o.linger_ms = 0;
	p->s = s;
	p->c = c;
	rc = sl_producer_create(c->addr, &o, &p->p);
	if (rc) {
		omb_error(s, "sl_producer_create: %s", sl_error_message(rc));
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int sl_produce_one(void *pp, int partition, const void *buf, size_t len,
			  uint64_t stamp)
{
	struct prod *p = pp;
	int rc = sl_produce(p->p, p->c->topic, partition, NULL, 0, buf, len,
			    (void *)(uintptr_t)stamp);

	if (rc < 0 && rc != -EAGAIN)
		omb_error(p->s, "sl_produce: %s", sl_error_message(rc));
	return rc < 0 ? rc : 0;
}

static int sl_poll(void *pp, int timeout_ms)
{
	struct prod *p = pp;

	return sl_producer_poll(p->p, timeout_ms);
}

static int sl_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;

	return sl_producer_flush(p->p, timeout_ms);
}

static void sl_producer_free(void *pp)
{
	struct prod *p = pp;

	sl_producer_destroy(p->p);
	free(p);
}

static int sl_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));
	int rc = 0;

	if (!cn)
		return -ENOMEM;
	cn->s = s;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = sl_consumer_create(c->addr, c->topic, parts[i], NULL,
					&cn->c[i]);
		if (rc == 0) {
			cn->n++;
			rc = sl_consumer_seek(cn->c[i], SL_OFFSET_END);
		}
	}
	if (rc) {
		omb_error(s, "sl_consumer: %s", sl_error_message(rc));
		for (int i = 0; i < cn->n; i++)
			sl_consumer_destroy(cn->c[i]);
		free(cn);
		return rc;
	}
	*out = cn;
	return 0;
}

static int sl_cpoll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	struct sl_message m;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int idle = 0, got = 0;

	while (omb_now_ns() < end) {
		struct sl_consumer *c = cn->c[cn->next];
		/* drain what one fetch brought, then the next partition */
		int rc = sl_consume(c, &m, idle >= cn->n ? 1 : 0);
		while (rc == 1) {
			omb_consumed(cn->s, m.value, m.vlen);
			if (++got % 4096 == 0)
				break;
			rc = sl_consume(c, &m, 0);
		}
		cn->next = (cn->next + 1) % cn->n;
		if (rc < 0)
			return rc;
		if (got)
			return got;
		idle++;
	}
	return got;
}

static void sl_consumer_free(void *pp)
{
	struct cons *cn = pp;

	for (int i = 0; i < cn->n; i++)
		sl_consumer_destroy(cn->c[i]);
	free(cn);
}

struct qcons {
	struct sl_queue *q;
	struct omb_side *s;
};

static int sl_queue_new(const struct omb_conf *c, struct omb_side *s,
			void **out)
{
	struct qcons *qc = calloc(1, sizeof(*qc));
	struct sl_queue_opts o;
	char group[160];
	int rc;

	if (!qc)
		return -ENOMEM;
	sl_queue_opts_default(&o);
	o.prefetch = c->prefetch;
	snprintf(group, sizeof(group), "%s.q", c->topic);
	rc = sl_queue_create(c->addr, group, c->topic, &o, &qc->q);
	if (rc) {
		omb_error(s, "sl_queue_create: %s", sl_error_message(rc));
		free(qc);
		return rc;
	}
	qc->s = s;
	*out = qc;
	return 0;
}

static int sl_queue_poll(void *pp, int timeout_ms)
{
	struct qcons *qc = pp;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int got = 0;

	for (int i = 0; i < 4096; i++) {
		struct sl_queue_message m;
		uint64_t now = omb_now_ns(), t0;
		int rc;

		if (got && now >= end)
			break;
		/* wait only while nothing came: then back to the driver */
		rc = sl_queue_receive(qc->q, &m, got || now >= end ? 0 :
				(int)((end - now) / 1000000u));

		if (rc < 0) {
			omb_error(qc->s, "sl_queue_receive: %s",
				  sl_error_message(rc));
			return rc;
		}
		if (rc == 0)
			break;
		omb_queue_received(qc->s, m.msg.value, m.msg.vlen,
				   m.delivery_count > 1);
		t0 = omb_now_ns();
		rc = sl_queue_ack_async(qc->q, m.msg.partition, m.msg.offset,
					SL_ACK_ACCEPT, 0);
		omb_queue_acked(qc->s, m.msg.value, m.msg.vlen,
				omb_now_ns() - t0, rc);
		if (rc < 0 && rc != sl_err_broker(ERR_INVALID_RECORD_STATE)) {
			omb_error(qc->s, "sl_queue_ack: %s",
				  sl_error_message(rc));
			return rc;
		}
		got++;
	}
	return got;
}

static void sl_queue_free(void *pp)
{
	struct qcons *qc = pp;
	int rc = sl_queue_flush(qc->q, 30000);

	if (rc)
		omb_error(qc->s, "sl_queue_flush: %s (%llu answers refused)",
			  sl_error_message(rc),
			  (unsigned long long)sl_queue_ack_refused(qc->q));
	sl_queue_destroy(qc->q);
	free(qc);
}

const struct omb_backend omb_backend_sluice = {
	.name = "sluice",
	.client = "libsluice",
	.setup = sl_setup,
	.teardown = sl_teardown,
	.producer_create = sl_producer_new,
	.produce = sl_produce_one,
	.producer_poll = sl_poll,
	.producer_flush = sl_flush,
	.producer_destroy = sl_producer_free,
	.consumer_create = sl_consumer_new,
	.consumer_poll = sl_cpoll,
	.consumer_destroy = sl_consumer_free,
	.queue_consumer_create = sl_queue_new,
	.queue_consumer_poll = sl_queue_poll,
	.queue_consumer_destroy = sl_queue_free,
};
