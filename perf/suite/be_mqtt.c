/*
 * Backend: Mosquitto (MQTT 3.1.1) through libmosquitto, QoS 1.
 *
 * A partition is an MQTT topic "<topic>/<n>".  Producer: QoS 1 publishes,
 * at most WINDOW awaiting their PUBACK (the client's in-flight limit is
 * set to the same); the network loop runs on the producer's thread
 * (mosquitto_loop from poll), and on_publish, called on PUBACK, finds the
 * stamp by message id.  Consumer: a clean session subscribed at QoS 1 to
 * its topics (create waits for the SUBACKs), messages through on_message
 * from mosquitto_loop on the consumer's thread.  Mosquitto keeps no log:
 * a subscriber receives what is published while it is subscribed, which
 * is what the driver measures.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "omb.h"

#define WINDOW 1000u /* QoS 1 publishes awaiting PUBACK */

struct prod {
	int connected; /* first: on_connect sets it for both structs */
	struct mosquitto *m;
	struct omb_side *s;
	uint64_t stamps[65536]; /* by message id */
	unsigned outstanding;
	char topics[OMB_PARTITIONS_MAX][160];
};

struct cons {
	int connected; /* first, as in struct prod */
	struct mosquitto *m;
	struct omb_side *s;
	int subacks;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mosquitto_lib_init();
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	int *connected = obj; /* the first field of struct prod and cons */

	(void)m;
	*connected = rc == 0 ? 1 : -1;
}

static struct mosquitto *connect_to(const struct omb_conf *c, struct omb_side *s,
				    const char *role, void *obj)
{
	char host[128], id[64];
	int port, rc;
	struct mosquitto *m;

	pthread_once(&init_once, lib_init);
	if (omb_split_addr(c->addr, host, sizeof(host), &port, 1883))
		return NULL;
	snprintf(id, sizeof(id), "omb-%s-%d-%d", role, (int)getpid(), s->id);
	m = mosquitto_new(id, true, obj);
	if (!m)
		return NULL;
	mosquitto_connect_callback_set(m, on_connect);
	rc = mosquitto_connect(m, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		omb_error(s, "mqtt connect %s: %s", c->addr, mosquitto_strerror(rc));
		mosquitto_destroy(m);
		return NULL;
	}
	return m;
}

static int wait_for(struct mosquitto *m, const int *flag, int want,
		    struct omb_side *s, const char *what)
{
	for (int i = 0; i < 500 && *flag < want && *flag >= 0; i++) {
		int rc = mosquitto_loop(m, 10, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			omb_error(s, "mqtt %s: %s", what, mosquitto_strerror(rc));
			return -EIO;
		}
	}
	if (*flag < want) {
		omb_error(s, "mqtt %s: no answer", what);
		return -ETIMEDOUT;
	}
	return 0;
}

static int mq_setup(const struct omb_conf *c)
{
	(void)c; /* topics need no creation */
	return 0;
}

static void mq_teardown(const struct omb_conf *c)
{
	(void)c;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct prod *p = obj;

	(void)m;
	p->outstanding--;
	omb_acked(p->s, p->stamps[(uint16_t)mid], 0);
}

static int mq_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->s = s;
	p->m = connect_to(c, s, "pub", p);
	if (!p->m) {
		free(p);
		return -ECONNREFUSED;
	}
	mosquitto_publish_callback_set(p->m, on_publish);
	mosquitto_max_inflight_messages_set(p->m, WINDOW);
	if (wait_for(p->m, &p->connected, 1, s, "connect")) {
		mosquitto_destroy(p->m);
		free(p);
		return -ECONNREFUSED;
	}
	for (int i = 0; i < c->partitions; i++)
		snprintf(p->topics[i], sizeof(p->topics[i]), "%s/%d", c->topic, i);
	*out = p;
	return 0;
}

static int mq_produce(void *pp, int partition, const void *buf, size_t len,
		      uint64_t stamp)
{
	struct prod *p = pp;
	int mid = 0, rc;

	if (p->outstanding >= WINDOW)
		return -EAGAIN;
	rc = mosquitto_publish(p->m, &mid, p->topics[partition], (int)len, buf, 1,
			       false);
	if (rc != MOSQ_ERR_SUCCESS) {
		omb_error(p->s, "mosquitto_publish: %s", mosquitto_strerror(rc));
		return -EIO;
	}
	p->stamps[(uint16_t)mid] = stamp;
	p->outstanding++;
	return 0;
}

static int mq_poll(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	int rc = mosquitto_loop(p->m, timeout_ms, 64);

	if (rc != MOSQ_ERR_SUCCESS) {
		omb_error(p->s, "mqtt loop: %s", mosquitto_strerror(rc));
		return -EIO;
	}
	return 0;
}

static int mq_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (p->outstanding && omb_now_ns() < end)
		if (mq_poll(p, 10) < 0)
			return -EIO;
	return p->outstanding ? -ETIMEDOUT : 0;
}

static void mq_producer_free(void *pp)
{
	struct prod *p = pp;

	mosquitto_disconnect(p->m);
	mosquitto_destroy(p->m);
	free(p);
}

static void on_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg)
{
	struct cons *cn = obj;

	(void)m;
	omb_consumed(cn->s, msg->payload, (size_t)msg->payloadlen);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
			 const int *granted)
{
	struct cons *cn = obj;

	(void)m;
	(void)mid;
	for (int i = 0; i < n; i++)
		if (granted[i] > 2)
			cn->subacks = -1 - 1000000; /* refused */
	if (cn->subacks >= 0)
		cn->subacks++;
}

static int mq_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return -ENOMEM;
	cn->s = s;
	cn->m = connect_to(c, s, "sub", cn);
	if (!cn->m) {
		free(cn);
		return -ECONNREFUSED;
	}
	mosquitto_message_callback_set(cn->m, on_message);
	mosquitto_subscribe_callback_set(cn->m, on_subscribe);
	if (wait_for(cn->m, &cn->connected, 1, s, "connect"))
		goto fail;
	for (int i = 0; i < n; i++) {
		char t[160];
		snprintf(t, sizeof(t), "%s/%d", c->topic, parts[i]);
		if (mosquitto_subscribe(cn->m, NULL, t, 1) != MOSQ_ERR_SUCCESS)
			goto fail;
	}
	if (wait_for(cn->m, &cn->subacks, n, s, "subscribe"))
		goto fail;
	*out = cn;
	return 0;
fail:
	mosquitto_destroy(cn->m);
	free(cn);
	return -EIO;
}

static int mq_cpoll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	int rc = mosquitto_loop(cn->m, timeout_ms, 64);

	if (rc != MOSQ_ERR_SUCCESS) {
		omb_error(cn->s, "mqtt loop: %s", mosquitto_strerror(rc));
		return -EIO;
	}
	return 0;
}

static void mq_consumer_free(void *pp)
{
	struct cons *cn = pp;

	mosquitto_disconnect(cn->m);
	mosquitto_destroy(cn->m);
	free(cn);
}

const struct omb_backend omb_backend_mqtt = {
	.name = "mqtt",
	.client = "libmosquitto",
	.setup = mq_setup,
	.teardown = mq_teardown,
	.producer_create = mq_producer_new,
	.produce = mq_produce,
	.producer_poll = mq_poll,
	.producer_flush = mq_flush,
	.producer_destroy = mq_producer_free,
	.consumer_create = mq_consumer_new,
	.consumer_poll = mq_cpoll,
	.consumer_destroy = mq_consumer_free,
};
