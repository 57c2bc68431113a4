/*
 * Backend: RabbitMQ quorum queues through rabbitmq-c (librabbitmq), AMQP
 * 0-9-1.
 *
 * A partition is a durable quorum queue "<topic>-<n>" (x-queue-type
 * quorum; one node, so its Raft group has one member).  Producer: a
 * channel in confirm mode, persistent messages (delivery_mode 2) published
 * to the default exchange with the queue's name as routing key, at most
 * WINDOW unconfirmed; the broker's basic.ack (possibly "multiple")
 * confirms delivery tags 1, 2, ... in order, whose stamps wait in a ring.
 * A basic.nack is a failed ack.  Consumer: basic.consume with automatic
 * acknowledgement on each of its queues, amqp_consume_message().
 *
 * The queue workload: the queues are quorum queues, or durable classic
 * queues with --opt classic (persistent messages either way, so a
 * confirm means the message is on disk).  Each consumer has its own
 * connection, basic.qos with the workload's prefetch (per consumer),
 * basic.consume with manual acknowledgement, and sends one basic.ack per
 * message (not "multiple").  AMQP has no answer to a consumer's
 * basic.ack: the call returns once the frame is written to the socket,
 * and the broker applies it later (a quorum queue through its Raft log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "omb.h"

#define WINDOW 4096u /* unconfirmed publishes per producer */

struct prod {
	amqp_connection_state_t conn;
	struct omb_side *s;
	uint64_t stamps[WINDOW];
	uint64_t published, confirmed; /* tags 1..published sent; ..confirmed done */
	char queue[OMB_PARTITIONS_MAX][160];
};

struct cons {
	amqp_connection_state_t conn;
	struct omb_side *s;
};

static int rpc_ok(amqp_connection_state_t conn, struct omb_side *s,
		  const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		omb_error(s, "%s: %s", what, amqp_error_string2(r.library_error));
	else
		omb_error(s, "%s: server error (method 0x%08x)", what, r.reply.id);
	return -EIO;
}

static amqp_connection_state_t connect_to(const struct omb_conf *c,
					  struct omb_side *s)
{
	char host[128];
	int port;
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	amqp_rpc_reply_t r;

	if (omb_split_addr(c->addr, host, sizeof(host), &port, 5672))
		return NULL;
	conn = amqp_new_connection();
	sock = amqp_tcp_socket_new(conn);
	if (!sock || amqp_socket_open(sock, host, port) != AMQP_STATUS_OK) {
		omb_error(s, "amqp connect %s failed", c->addr);
		amqp_destroy_connection(conn);
		return NULL;
	}
	r = amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest",
		       "guest");
	if (r.reply_type != AMQP_RESPONSE_NORMAL ||
	    (amqp_channel_open(conn, 1), rpc_ok(conn, s, "channel.open"))) {
		omb_error(s, "amqp login/channel on %s failed", c->addr);
		amqp_destroy_connection(conn);
		return NULL;
	}
	return conn;
}

static void close_conn(amqp_connection_state_t conn)
{
	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

static int rq_setup(const struct omb_conf *c)
{
	struct omb_side s = { 0 };
	const char *type = c->opt && !strcmp(c->opt, "classic") ? "classic"
							       : "quorum";
	amqp_connection_state_t conn;
	amqp_table_entry_t e = { .key = amqp_cstring_bytes("x-queue-type"),
				 .value = { .kind = AMQP_FIELD_KIND_UTF8,
					    .value.bytes = amqp_cstring_bytes(type) } };
	amqp_table_t args = { .num_entries = 1, .entries = &e };
	int rc;

	if (c->opt && *c->opt && strcmp(c->opt, "classic") &&
	    strcmp(c->opt, "quorum")) {
		fprintf(stderr, "rabbitmq: --opt is quorum or classic\n");
		return -EINVAL;
	}
	conn = connect_to(c, &s);
	rc = conn ? 0 : -ECONNREFUSED;

	for (int i = 0; rc == 0 && i < c->partitions; i++) {
		char q[160];
		snprintf(q, sizeof(q), "%s-%d", c->topic, i);
		amqp_queue_declare(conn, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
		rc = rpc_ok(conn, &s, "queue.declare");
	}
	if (rc && s.err[0])
		fprintf(stderr, "rabbitmq: %s\n", s.err);
	if (conn)
		close_conn(conn);
	return rc;
}

static void rq_teardown(const struct omb_conf *c)
{
	struct omb_side s = { 0 };
	amqp_connection_state_t conn = connect_to(c, &s);

	for (int i = 0; conn && i < c->partitions; i++) {
		char q[160];
		snprintf(q, sizeof(q), "%s-%d", c->topic, i);
		amqp_queue_delete(conn, 1, amqp_cstring_bytes(q), 0, 0);
		amqp_get_rpc_reply(conn);
	}
	if (conn)
		close_conn(conn);
}

static int rq_producer_new(const struct omb_conf *c, struct omb_side *s,
			   void **out)
{
	struct prod *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->conn = connect_to(c, s);
	if (!p->conn) {
		free(p);
		return -ECONNREFUSED;
	}
	amqp_confirm_select(p->conn, 1);
	if (rpc_ok(p->conn, s, "confirm.select")) {
		close_conn(p->conn);
		free(p);
		return -EIO;
	}
	p->s = s;
	for (int i = 0; i < c->partitions; i++)
		snprintf(p->queue[i], sizeof(p->queue[i]), "%s-%d", c->topic, i);
	*out = p;
	return 0;
}

static int rq_produce(void *pp, int partition, const void *buf, size_t len,
		      uint64_t stamp)
{
	struct prod *p = pp;
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
					  .delivery_mode = 2 };
	amqp_bytes_t body = { .len = len, .bytes = (void *)buf };
	int rc;

	if (p->published - p->confirmed >= WINDOW)
		return -EAGAIN;
	rc = amqp_basic_publish(p->conn, 1, amqp_empty_bytes,
				amqp_cstring_bytes(p->queue[partition]), 0, 0,
				&props, body);
	if (rc != AMQP_STATUS_OK) {
		omb_error(p->s, "basic.publish: %s", amqp_error_string2(rc));
		return -EIO;
	}
	p->published++; /* its delivery tag */
	p->stamps[p->published % WINDOW] = stamp;
	return 0;
}

/* Confirms up to tag (all of them when multiple, else that one: the
 * broker confirms in order on one channel, so tag is the next one). */
static int confirm(struct prod *p, uint64_t tag, int multiple, int err)
{
	int n = 0;

	if (tag > p->published)
		return -EPROTO;
	if (!multiple && tag != p->confirmed + 1)
		multiple = 1; /* out of order: treat the gap as confirmed too */
	while (p->confirmed < tag) {
		p->confirmed++;
		omb_acked(p->s, p->stamps[p->confirmed % WINDOW], err);
		n++;
	}
	return n;
}

static int rq_poll(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	int got = 0;

	while (p->confirmed < p->published) {
		amqp_frame_t f;
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		int rc = amqp_simple_wait_frame_noblock(p->conn, &f, got ? &(struct timeval){ 0, 0 } : &tv);

		if (rc == AMQP_STATUS_TIMEOUT)
			break;
		if (rc != AMQP_STATUS_OK) {
			omb_error(p->s, "amqp wait: %s", amqp_error_string2(rc));
			return -EIO;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			amqp_basic_ack_t *a = f.payload.method.decoded;
			rc = confirm(p, a->delivery_tag, a->multiple, 0);
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			amqp_basic_nack_t *a = f.payload.method.decoded;
			rc = confirm(p, a->delivery_tag, a->multiple, -EIO);
		} else {
			continue;
		}
		if (rc < 0)
			return rc;
		got += rc;
		amqp_maybe_release_buffers(p->conn);
	}
	return got;
}

static int rq_flush(void *pp, int timeout_ms)
{
	struct prod *p = pp;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (p->confirmed < p->published && omb_now_ns() < end)
		if (rq_poll(p, 10) < 0)
			return -EIO;
	return p->confirmed == p->published ? 0 : -ETIMEDOUT;
}

static void rq_producer_free(void *pp)
{
	struct prod *p = pp;

	close_conn(p->conn);
	free(p);
}

static int rq_consumer_new(const struct omb_conf *c, struct omb_side *s,
			   const int *parts, int n, void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return -ENOMEM;
	cn->conn = connect_to(c, s);
	if (!cn->conn) {
		free(cn);
		return -ECONNREFUSED;
	}
	cn->s = s;
	for (int i = 0; i < n; i++) {
		char q[160];
		snprintf(q, sizeof(q), "%s-%d", c->topic, parts[i]);
		amqp_basic_consume(cn->conn, 1, amqp_cstring_bytes(q), amqp_empty_bytes,
				   0, 1 /* no_ack */, 0, amqp_empty_table);
		if (rpc_ok(cn->conn, s, "basic.consume")) {
			close_conn(cn->conn);
			free(cn);
			return -EIO;
		}
	}
	*out = cn;
	return 0;
}

static int rq_cpoll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	int got = 0;

	for (int i = 0; i < 4096; i++) {
		amqp_envelope_t env;
		struct timeval tv = { got ? 0 : timeout_ms / 1000,
				      got ? 0 : (timeout_ms % 1000) * 1000 };
		amqp_rpc_reply_t r;

		amqp_maybe_release_buffers(cn->conn);
		r = amqp_consume_message(cn->conn, &env, &tv, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
			    (r.library_error == AMQP_STATUS_TIMEOUT ||
			     r.library_error == AMQP_STATUS_UNEXPECTED_STATE))
				break; /* nothing, or a frame other than a delivery */
			omb_error(cn->s, "amqp consume failed");
			return -EIO;
		}
		omb_consumed(cn->s, env.message.body.bytes, env.message.body.len);
		amqp_destroy_envelope(&env);
		got++;
	}
	return got;
}

static void rq_consumer_free(void *pp)
{
	struct cons *cn = pp;

	close_conn(cn->conn);
	free(cn);
}

/* ---- the queue workload ---- */

static int rq_queue_new(const struct omb_conf *c, struct omb_side *s,
			void **out)
{
	struct cons *cn = calloc(1, sizeof(*cn));

	if (!cn)
		return -ENOMEM;
	cn->conn = connect_to(c, s);
	if (!cn->conn) {
		free(cn);
		return -ECONNREFUSED;
	}
	cn->s = s;
	amqp_basic_qos(cn->conn, 1, 0, (uint16_t)(c->prefetch < 65535 ?
						  c->prefetch : 65535), 0);
	if (rpc_ok(cn->conn, s, "basic.qos"))
		goto fail;
	for (int i = 0; i < c->partitions; i++) {
		char q[160];
		snprintf(q, sizeof(q), "%s-%d", c->topic, i);
		amqp_basic_consume(cn->conn, 1, amqp_cstring_bytes(q),
				   amqp_empty_bytes, 0, 0 /* manual acks */, 0,
				   amqp_empty_table);
		if (rpc_ok(cn->conn, s, "basic.consume"))
			goto fail;
	}
	*out = cn;
	return 0;
fail:
	close_conn(cn->conn);
	free(cn);
	return -EIO;
}

/* A frame other than a delivery came (amqp_consume_message said so):
 * read it.  0 to go on, -EIO when the broker closed the channel or the
 * connection. */
static int other_frame(struct cons *cn)
{
	amqp_frame_t f;

	if (amqp_simple_wait_frame(cn->conn, &f) != AMQP_STATUS_OK) {
		omb_error(cn->s, "amqp: connection lost");
		return -EIO;
	}
	if (f.frame_type == AMQP_FRAME_METHOD &&
	    (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
	     f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
		omb_error(cn->s, "amqp: the broker closed (method 0x%08x)",
			  f.payload.method.id);
		return -EIO;
	}
	return 0;
}

static int rq_queue_poll(void *pp, int timeout_ms)
{
	struct cons *cn = pp;
	uint64_t end = omb_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int got = 0;

	for (int i = 0; i < 4096; i++) {
		uint64_t now = omb_now_ns(), left_us, t0;
		amqp_envelope_t env;
		amqp_rpc_reply_t r;
		struct timeval tv;
		int rc;

		if (got && now >= end)
			break;
		/* wait only while nothing came: then back to the driver */
		left_us = got || now >= end ? 0 : (end - now) / 1000u;
		tv = (struct timeval){ (time_t)(left_us / 1000000u),
				       (suseconds_t)(left_us % 1000000u) };
		amqp_maybe_release_buffers(cn->conn);
		r = amqp_consume_message(cn->conn, &env, &tv, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
			    r.library_error == AMQP_STATUS_TIMEOUT)
				break;
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
			    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
				if (other_frame(cn))
					return -EIO;
				continue;
			}
			omb_error(cn->s, "amqp consume failed");
			return -EIO;
		}
		omb_queue_received(cn->s, env.message.body.bytes,
				   env.message.body.len, env.redelivered);
		t0 = omb_now_ns();
		rc = amqp_basic_ack(cn->conn, 1, env.delivery_tag, 0);
		omb_queue_acked(cn->s, env.message.body.bytes,
				env.message.body.len, omb_now_ns() - t0,
				rc == AMQP_STATUS_OK ? 0 : -EIO);
		amqp_destroy_envelope(&env);
		if (rc != AMQP_STATUS_OK) {
			omb_error(cn->s, "basic.ack: %s", amqp_error_string2(rc));
			return -EIO;
		}
		got++;
	}
	return got;
}

const struct omb_backend omb_backend_rabbitmq = {
	.name = "rabbitmq",
	.client = "rabbitmq-c (librabbitmq)",
	.setup = rq_setup,
	.teardown = rq_teardown,
	.producer_create = rq_producer_new,
	.produce = rq_produce,
	.producer_poll = rq_poll,
	.producer_flush = rq_flush,
	.producer_destroy = rq_producer_free,
	.consumer_create = rq_consumer_new,
	.consumer_poll = rq_cpoll,
	.consumer_destroy = rq_consumer_free,
	.queue_consumer_create = rq_queue_new,
	.queue_consumer_poll = rq_queue_poll,
	.queue_consumer_destroy = rq_consumer_free,
};
