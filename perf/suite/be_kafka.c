/*
 * Backend: sluice's Kafka listener through librdkafka.
 *
 * --addr is the Kafka port, --addr2 sluice's native port, where the topic
 * is created (durability every_append, as be_sluice.c) with libsluice: the
 * listener serves the same topics.  Producer: librdkafka's defaults
 * (linger 5 ms, batches up to 1 MB, idempotence off) with acks=all; a full
 * local queue (queue.buffering.max.messages, 100,000) is -EAGAIN.  The
 * stamp travels as the message's opaque and comes back in the delivery
 * report, served by rd_kafka_poll() on the producer's thread.
 * Consumer: assign() of its partitions at OFFSET_END (no group
 * rebalance), rd_kafka_consumer_poll().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "omb.h"

struct prod {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	struct omb_side *s;
};

struct cons {
	rd_kafka_t *rk;
	struct omb_side *s;
};

static int kf_setup(const struct omb_conf *c)
{
	struct omb_conf native = *c;

	if (!c->addr2 || !&omb_backend_sluice)
		return -EINVAL;
	native.addr = c->addr2;
	return omb_backend_sluice.setup(&native);
}

static void kf_teardown(const struct omb_conf *c)
{
	struct omb_conf native = *c;

	native.addr = c->addr2;
	omb_backend_sluice.teardown(&native);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct prod *p = opaque;

	(void)rk;
	omb_acked(p->s, (uint64_t)(uintptr_t)m->_private, m->err ? -(int)m->err : 0);
}

static rd_kafka_conf_t *base_conf(const struct omb_conf *c, struct omb_side *s)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char err[256];

	if (rd_kafka_conf_set(kc, "bootstrap.servers", c->addr, err,
			      sizeof(err)) != RD_KAFKA_CONF_OK) {
		omb_error(s, "librdkafka: %s", err);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	return kc;
}

static int kf_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *kc;
	char err[256];

	if (!p)
		return -ENOMEM;
	kc = base_conf(c, s);
	if (!kc || rd_kafka_conf_set(kc, "acks", "all", err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "linger.ms", "5", err, sizeof(err)))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(kc, on_dr);
	rd_kafka_conf_set_opaque(kc, p);
	p->s = s;
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
	if (!p->rk) {
		omb_error(s, "rd_kafka_new: %s", err);
		goto fail; /* kc is still ours */
	}
	p->rkt = rd_kafka_topic_new(p->rk, c->topic, NULL);
	*out = p;
	return 0;
fail:
	if (kc)
		rd_kafka_conf_destroy(kc);
	free(p);
	return -EINVAL;
}

static int kf_produce(void *pp, int partition, const void *buf, size_t len,
		      uint64_t stamp)
{
	struct prod *p = pp;

	if (rd_kafka_produce(p->rkt, partition, RD_KAFKA_MSG_F_COPY, (void *)buf,
			     len, NULL, 0, (void *)(uintptr_t)stamp) == 0)
		return 0;
	if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return -EAGAIN;
	omb_error(p->s, "rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
	return -EIO;
}

static int kf_poll(void *pp, int timeout_ms)
{
	struct prod *p = pp;

	return rd_kafka_poll(p->rk, timeout_ms);
}

static int kf_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;

	return rd_kafka_flush(p->rk, timeout_ms) ? -ETIMEDOUT : 0;
}

static void kf_producer_free(void *pp)
{
	struct prod *p = pp;

	rd_kafka_topic_destroy(p->rkt);
	rd_kafka_destroy(p->rk);
	free(p);
}

static int kf_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));
	rd_kafka_conf_t *kc;
	rd_kafka_topic_partition_list_t *tp;
	char err[256], group[160];
	rd_kafka_resp_err_t e;

	if (!cn)
		return -ENOMEM;
	snprintf(group, sizeof(group), "%s-c%d", c->topic, s->id);
	kc = base_conf(c, s);
	if (!kc || rd_kafka_conf_set(kc, "group.id", group, err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "fetch.wait.max.ms", "100", err, sizeof(err))) {
		if (kc)
			rd_kafka_conf_destroy(kc);
		free(cn);
		return -EINVAL;
	}
	cn->s = s;
	cn->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
	if (!cn->rk) {
		omb_error(s, "rd_kafka_new: %s", err);
		rd_kafka_conf_destroy(kc);
		free(cn);
		return -EINVAL;
	}
	rd_kafka_poll_set_consumer(cn->rk);
	tp = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(tp, c->topic, parts[i])->offset =
			RD_KAFKA_OFFSET_END;
	e = rd_kafka_assign(cn->rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		omb_error(s, "rd_kafka_assign: %s", rd_kafka_err2str(e));
		rd_kafka_destroy(cn->rk);
		free(cn);
		return -EIO;
	}
	*out = cn;
	return 0;
}

static int kf_cpoll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	int got = 0;

	for (int i = 0; i < 4096; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cn->rk, got ? 0 : timeout_ms);
		if (!m)
			break;
		if (!m->err)
			omb_consumed(cn->s, m->payload, m->len);
		rd_kafka_message_destroy(m);
		got++;
	}
	return got;
}

static void kf_consumer_free(void *pp)
{
	struct cons *cn = pp;

	rd_kafka_consumer_close(cn->rk);
	rd_kafka_destroy(cn->rk);
	free(cn);
}

const struct omb_backend omb_backend_kafka = {
	.name = "kafka",
	.client = "librdkafka",
	.setup = kf_setup,
	.teardown = kf_teardown,
	.producer_create = kf_producer_new,
	.produce = kf_produce,
	.producer_poll = kf_poll,
	.producer_flush = kf_flush,
	.producer_destroy = kf_producer_free,
	.consumer_create = kf_consumer_new,
	.consumer_poll = kf_cpoll,
	.consumer_destroy = kf_consumer_free,
};
