/*
 * Backend: NATS JetStream through the NATS C client (libnats).
 *
 * A partition is a stream "<topic>-<n>" (file storage, one replica) on
 * subject "<topic>.<n>".  Producer: js_PublishAsync() with an ack handler,
 * at most MAX_PENDING publishes awaiting their ack; when that many are
 * pending the call waits STALL_MS and then the driver is told -EAGAIN.
 * Acks arrive on the library's thread (omb_acked is thread-safe) and carry
 * the message, whose payload holds the stamp.  Consumer: one push
 * subscription per partition (ephemeral consumer, no acks, deliver all:
 * the streams are new), delivered on the library's threads.
 * Durability is the server's: see perf/suite/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "omb.h"

#define MAX_PENDING 4096
#define STALL_MS 1

struct prod {
	natsConnection *nc;
	jsCtx *js;
	struct omb_side *s;
	char subj[OMB_PARTITIONS_MAX][160];
};

struct cons {
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub[OMB_PARTITIONS_MAX];
	int n;
	struct omb_side *s;
};

static int connect_to(const struct omb_conf *c, struct omb_side *s,
		      natsConnection **nc, jsCtx **js, jsOptions *jo)
{
	char url[256];
	natsStatus st;

	snprintf(url, sizeof(url), "nats://%s", c->addr);
	st = natsConnection_ConnectTo(nc, url);
	if (st == NATS_OK)
		st = natsConnection_JetStream(js, *nc, jo);
	if (st != NATS_OK) {
		omb_error(s, "nats %s: %s", url, natsStatus_GetText(st));
		if (*nc)
			natsConnection_Destroy(*nc);
		*nc = NULL;
		return -ECONNREFUSED;
	}
	return 0;
}

static int nt_setup(const struct omb_conf *c)
{
	struct omb_side s = { 0 };
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	int rc = connect_to(c, &s, &nc, &js, NULL);

	for (int i = 0; rc == 0 && i < c->partitions; i++) {
		char name[160], subj[160];
		const char *subjects[1] = { subj };
		jsStreamConfig sc;
		jsStreamInfo *si = NULL;
		jsErrCode je = 0;

		snprintf(name, sizeof(name), "%s-%d", c->topic, i);
		snprintf(subj, sizeof(subj), "%s.%d", c->topic, i);
		jsStreamConfig_Init(&sc);
		sc.Name = name;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = 1;
		natsStatus st = js_AddStream(&si, js, &sc, NULL, &je);
		if (st != NATS_OK) {
			fprintf(stderr, "nats: add stream %s: %s (%d)\n", name,
				natsStatus_GetText(st), (int)je);
			rc = -EIO;
		}
		jsStreamInfo_Destroy(si);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return rc;
}

static void nt_teardown(const struct omb_conf *c)
{
	struct omb_side s = { 0 };
	natsConnection *nc = NULL;
	jsCtx *js = NULL;

	if (connect_to(c, &s, &nc, &js, NULL))
		return;
	for (int i = 0; i < c->partitions; i++) {
		char name[160];
		snprintf(name, sizeof(name), "%s-%d", c->topic, i);
		js_DeleteStream(js, name, NULL, NULL);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

static void on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae,
		   void *closure)
{
	struct omb_side *s = closure;

	(void)js;
	(void)pa;
	omb_acked(s, omb_payload_stamp(natsMsg_GetData(m),
				       (size_t)natsMsg_GetDataLength(m)),
		  pae ? -EIO : 0);
	if (pae)
		omb_error(s, "publish ack: %s", pae->ErrText ? pae->ErrText
				: natsStatus_GetText(pae->Err));
	natsMsg_Destroy(m);
}

static int nt_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));
	jsOptions jo;

	if (!p)
		return -ENOMEM;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = MAX_PENDING;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = s;
	jo.PublishAsync.StallWait = STALL_MS;
	if (connect_to(c, s, &p->nc, &p->js, &jo)) {
		free(p);
		return -ECONNREFUSED;
	}
	p->s = s;
	for (int i = 0; i < c->partitions; i++)
		snprintf(p->subj[i], sizeof(p->subj[i]), "%s.%d", c->topic, i);
	*out = p;
	return 0;
}

static int nt_produce(void *pp, int partition, const void *buf, size_t len,
		      uint64_t stamp)
{
	struct prod *p = pp;
	natsStatus st = js_PublishAsync(p->js, p->subj[partition], buf, (int)len,
					NULL);

	(void)stamp; /* in the payload, which the ack handler gets back */
	if (st == NATS_OK)
		return 0;
	if (st == NATS_TIMEOUT)
		return -EAGAIN; /* MAX_PENDING acks outstanding */
	omb_error(p->s, "js_PublishAsync: %s", natsStatus_GetText(st));
	return -EIO;
}

static int nt_poll(void *pp, int timeout_ms)
{
	(void)pp; /* acks are handled on the library's thread */
	if (timeout_ms > 0) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int nt_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	jsPubOptions po;

	jsPubOptions_Init(&po);
	po.MaxWait = timeout_ms;
	return js_PublishAsyncComplete(p->js, &po) == NATS_OK ? 0 : -ETIMEDOUT;
}

static void nt_producer_free(void *pp)
{
	struct prod *p = pp;

	jsCtx_Destroy(p->js);
	natsConnection_Destroy(p->nc);
	free(p);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m,
		   void *closure)
{
	(void)nc;
	(void)sub;
	omb_consumed(closure, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

static int nt_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return -ENOMEM;
	if (connect_to(c, s, &cn->nc, &cn->js, NULL)) {
		free(cn);
		return -ECONNREFUSED;
	}
	cn->s = s;
	for (int i = 0; i < n; i++) {
		char subj[160], stream[160];
		jsSubOptions so;
		jsErrCode je = 0;
		natsStatus st;

		snprintf(subj, sizeof(subj), "%s.%d", c->topic, parts[i]);
		snprintf(stream, sizeof(stream), "%s-%d", c->topic, parts[i]);
		jsSubOptions_Init(&so);
		so.Stream = stream;
		so.Config.AckPolicy = js_AckNone;
		so.Config.DeliverPolicy = js_DeliverAll;
		st = js_Subscribe(&cn->sub[i], cn->js, subj, on_msg, s, NULL, &so, &je);
		if (st == NATS_OK)
			st = natsSubscription_SetPendingLimits(cn->sub[i], 4000000,
							       2000000000);
		if (st != NATS_OK) {
			omb_error(s, "js_Subscribe %s: %s (%d)", subj,
				  natsStatus_GetText(st), (int)je);
			break;
		}
		cn->n++;
	}
	if (cn->n != n) {
		for (int i = 0; i < cn->n; i++)
			natsSubscription_Destroy(cn->sub[i]);
		jsCtx_Destroy(cn->js);
		natsConnection_Destroy(cn->nc);
		free(cn);
		return -EIO;
	}
	*out = cn;
	return 0;
}

static int nt_cpoll(void *pp, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };

	(void)pp; /* messages are delivered on the library's threads */
	nanosleep(&ts, NULL);
	return 0;
}

static void nt_consumer_free(void *pp)
{
	struct cons *cn = pp;

	for (int i = 0; i < cn->n; i++) {
		natsSubscription_Unsubscribe(cn->sub[i]);
		natsSubscription_Destroy(cn->sub[i]);
	}
	jsCtx_Destroy(cn->js);
	natsConnection_Destroy(cn->nc);
	free(cn);
}

const struct omb_backend omb_backend_nats = {
	.name = "nats",
	.client = "libnats (NATS C client)",
	.setup = nt_setup,
	.teardown = nt_teardown,
	.producer_create = nt_producer_new,
	.produce = nt_produce,
	.producer_poll = nt_poll,
	.producer_flush = nt_flush,
	.producer_destroy = nt_producer_free,
	.consumer_create = nt_consumer_new,
	.consumer_poll = nt_cpoll,
	.consumer_destroy = nt_consumer_free,
};
