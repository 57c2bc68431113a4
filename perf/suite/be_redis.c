/*
 * Backend: Redis Streams through hiredis.
 *
 * A partition is a stream, key "<topic>-<n>".  Producer: XADD key * d
 * <payload>, pipelined on one connection: up to WINDOW commands in flight,
 * flushed every FLUSH_EVERY commands and on every poll; replies come back
 * in order, so the stamps wait in a ring and the i-th reply acks the i-th
 * stamp.  An error reply is a failed ack.  The server's durability
 * (appendfsync always or everysec) is set where it is started
 * (perf/suite/run.sh).
 * Consumer: XREAD BLOCK <ms> COUNT 1000 STREAMS <its keys> <last ids>,
 * starting from 0 (the streams are new: created by the first XADD after
 * the consumer exists).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "omb.h"

#define WINDOW 1024u /* XADDs in flight per producer */
#define FLUSH_EVERY 32u

struct prod {
	redisContext *rc;
	const struct omb_conf *c;
	struct omb_side *s;
	uint64_t stamps[WINDOW];
	uint64_t head, tail; /* stamps of the commands sent: [tail, head) */
	unsigned unflushed;
	char keys[OMB_PARTITIONS_MAX][160];
};

struct cons {
	redisContext *rc;
	struct omb_side *s;
	int n;
	const char *argv[4 + 2 * OMB_PARTITIONS_MAX + 2];
	char keys[OMB_PARTITIONS_MAX][160];
	char ids[OMB_PARTITIONS_MAX][48];
};

static redisContext *connect_to(const struct omb_conf *c, struct omb_side *s)
{
	char host[128];
	int port;
	struct timeval tv = { 5, 0 };
	redisContext *rc;

	if (omb_split_addr(c->addr, host, sizeof(host), &port, 6379))
		return NULL;
	rc = redisConnectWithTimeout(host, port, tv);
	if (!rc || rc->err) {
		omb_error(s, "redis connect %s: %s", c->addr, rc ? rc->errstr : "no memory");
		if (rc)
			redisFree(rc);
		return NULL;
	}
	return rc;
}

static int rd_setup(const struct omb_conf *c)
{
	(void)c; /* streams are created by their first XADD */
	return 0;
}

static void rd_teardown(const struct omb_conf *c)
{
	struct omb_side s = { 0 };
	redisContext *rc = connect_to(c, &s);

	for (int i = 0; rc && i < c->partitions; i++) {
		redisReply *r = redisCommand(rc, "DEL %s-%d", c->topic, i);
		if (r)
			freeReplyObject(r);
	}
	if (rc)
		redisFree(rc);
}

static int rd_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->rc = connect_to(c, s);
	if (!p->rc) {
		free(p);
		return -ECONNREFUSED;
	}
	p->c = c;
	p->s = s;
	for (int i = 0; i < c->partitions; i++)
		snprintf(p->keys[i], sizeof(p->keys[i]), "%s-%d", c->topic, i);
	*out = p;
	return 0;
}

static int flush_out(struct prod *p)
{
	int done = 0;

	p->unflushed = 0;
	while (!done)
		if (redisBufferWrite(p->rc, &done) != REDIS_OK) {
			omb_error(p->s, "redis write: %s", p->rc->errstr);
			return -EIO;
		}
	return 0;
}

static int rd_produce(void *pp, int partition, const void *buf, size_t len,
		      uint64_t stamp)
{
	struct prod *p = pp;
	const char *argv[5] = { "XADD", p->keys[partition], "*", "d", buf };
	size_t lens[5] = { 4, strlen(p->keys[partition]), 1, 1, len };

	if (p->head - p->tail >= WINDOW)
		return -EAGAIN;
	if (redisAppendCommandArgv(p->rc, 5, argv, lens) != REDIS_OK)
		return -ENOMEM;
	p->stamps[p->head++ % WINDOW] = stamp;
	if (++p->unflushed >= FLUSH_EVERY)
		return flush_out(p);
	return 0;
}

static int rd_poll(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	struct pollfd pfd = { .fd = p->rc->fd, .events = POLLIN };
	int got = 0;

	if (p->unflushed && flush_out(p))
		return -EIO;
	if (p->head == p->tail)
		return 0;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (redisBufferRead(p->rc) != REDIS_OK) {
		omb_error(p->s, "redis read: %s", p->rc->errstr);
		return -EIO;
	}
	for (;;) {
		void *reply = NULL;
		if (redisGetReplyFromReader(p->rc, &reply) != REDIS_OK)
			return -EIO;
		if (!reply)
			break;
		if (p->tail == p->head) { /* more replies than commands */
			freeReplyObject(reply);
			return -EPROTO;
		}
		int err = ((redisReply *)reply)->type == REDIS_REPLY_ERROR;
		if (err)
			omb_error(p->s, "XADD: %s", ((redisReply *)reply)->str);
		omb_acked(p->s, p->stamps[p->tail++ % WINDOW], err ? -EIO : 0);
		freeReplyObject(reply);
		got++;
	}
	return got;
}

static int rd_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (p->head != p->tail && omb_now_ns() < end)
		if (rd_poll(p, 10) < 0)
			return -EIO;
	return p->head == p->tail ? 0 : -ETIMEDOUT;
}

static void rd_producer_free(void *pp)
{
	struct prod *p = pp;

	redisFree(p->rc);
	free(p);
}

static int rd_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return -ENOMEM;
	cn->rc = connect_to(c, s);
	if (!cn->rc) {
		free(cn);
		return -ECONNREFUSED;
	}
	cn->s = s;
	cn->n = n;
	for (int i = 0; i < n; i++) {
		snprintf(cn->keys[i], sizeof(cn->keys[i]), "%s-%d", c->topic, parts[i]);
		snprintf(cn->ids[i], sizeof(cn->ids[i]), "0");
	}
	*out = cn;
	return 0;
}

static int rd_cpoll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	char block[16];
	int argc = 0, got = 0;
	redisReply *r;

	snprintf(block, sizeof(block), "%d", timeout_ms > 0 ? timeout_ms : 1);
	cn->argv[argc++] = "XREAD";
	cn->argv[argc++] = "COUNT";
	cn->argv[argc++] = "1000";
	cn->argv[argc++] = "BLOCK";
	cn->argv[argc++] = block;
	cn->argv[argc++] = "STREAMS";
	for (int i = 0; i < cn->n; i++)
		cn->argv[argc++] = cn->keys[i];
	for (int i = 0; i < cn->n; i++)
		cn->argv[argc++] = cn->ids[i];
	r = redisCommandArgv(cn->rc, argc, cn->argv, NULL);
	if (!r) {
		omb_error(cn->s, "XREAD: %s", cn->rc->errstr);
		return -EIO;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		omb_error(cn->s, "XREAD: %s", r->str);
		freeReplyObject(r);
		return -EIO;
	}
	/* [[key, [[id, [field, value]], ...]], ...] */
	for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
		redisReply *ks = r->element[k];
		if (ks->type != REDIS_REPLY_ARRAY || ks->elements != 2)
			continue;
		int idx = -1;
		for (int i = 0; i < cn->n; i++)
			if (!strcmp(cn->keys[i], ks->element[0]->str))
				idx = i;
		redisReply *entries = ks->element[1];
		for (size_t e = 0; idx >= 0 && e < entries->elements; e++) {
			redisReply *ent = entries->element[e];
			if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
				continue;
			snprintf(cn->ids[idx], sizeof(cn->ids[idx]), "%s",
				 ent->element[0]->str);
			redisReply *fv = ent->element[1];
			if (fv->type == REDIS_REPLY_ARRAY && fv->elements >= 2)
				omb_consumed(cn->s, fv->element[1]->str,
					     fv->element[1]->len);
			got++;
		}
	}
	freeReplyObject(r);
	return got;
}

static void rd_consumer_free(void *pp)
{
	struct cons *cn = pp;

	redisFree(cn->rc);
	free(cn);
}

const struct omb_backend omb_backend_redis = {
	.name = "redis",
	.client = "hiredis",
	.setup = rd_setup,
	.teardown = rd_teardown,
	.producer_create = rd_producer_new,
	.produce = rd_produce,
	.producer_poll = rd_poll,
	.producer_flush = rd_flush,
	.producer_destroy = rd_producer_free,
	.consumer_create = rd_consumer_new,
	.consumer_poll = rd_cpoll,
	.consumer_destroy = rd_consumer_free,
};
