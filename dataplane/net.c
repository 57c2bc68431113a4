/*
 * The net core: one driver instance (drivers/driver.h), frames in, frames
 * out.  Parses with proto/native.h, validates batches (rb_validate: CRC32C)
 * and pushes messages into the ring of the partition they name; answers
 * METADATA and INIT_PRODUCER_ID itself; forwards CREATE/DELETE_TOPIC to the
 * main thread (control); sends completions back in request order per TCP
 * connection.
 *
 * TCP ordering: every request of a connection takes the next sequence
 * number; its response lands in a window of DP_CONN_WINDOW slots and is
 * sent when every earlier one was.  With the window full the connection
 * stops being parsed (conn_data returns 0) until responses drain: a slow
 * consumer of responses holds only its own window.
 *
 * A connection is also not read while what it is owed reaches
 * conn_max_unsent_bytes: response bytes the driver has not sent yet plus
 * the bytes reserved for fetches in flight (dp_conn_room).  A client that
 * pipelines fetches and never reads therefore holds at most about that
 * much memory; the driver closes it when its sends make no progress for
 * conn_send_timeout_ms.
 *
 * UDP carries data, not administration: CREATE_TOPIC, DELETE_TOPIC and
 * INIT_PRODUCER_ID over UDP are refused with UNSUPPORTED_VERSION
 * (udp_admin_refused), and no reply is longer than the datagram that
 * caused it: a longer one is replaced by its 16-byte header (error code
 * kept, MESSAGE_TOO_LARGE for a success; udp_reply_limited), so a spoofed
 * source address cannot turn the broker into an amplifier.
 *
 * Bad input: counted per reason (dp_bad_names); answered with an error
 * frame; on TCP a frame that breaks the stream (bad magic, version, length)
 * poisons the connection: its error response is sent after the earlier
 * responses, then the connection is closed.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/net.h"
#include "proto/record_batch.h"

static struct dp_conn *conns;
static uint32_t nconns;
static uint8_t core_touched[DP_MAX_STORAGE_CORES];
/* The length of the datagram being handled: replies made while handling
 * it (and messages created for it) may not be longer. */
static uint32_t udp_req_bytes;

struct dp_conn *dp_conn_of(uint32_t id)
{
	struct dp_conn *c = &conns[id & ((1u << 20) - 1)];
	return c->id == id ? c : NULL;
}

static void msg_release(struct drv_buf *b)
{
	dp_msg_free((struct dp_msg *)b);
}

/* What c is owed: queued in the driver plus reserved for fetches. */
static uint64_t conn_owed(struct dp *dp, const struct dp_conn *c)
{
	return dp->drv_ops->conn_unsent(dp->drv, c->id) + c->reserved;
}

int dp_conn_room(struct dp *dp, struct dp_conn *c)
{
	int window = c->next_seq - c->send_seq < DP_CONN_WINDOW;
	int owed = conn_owed(dp, c) < dp->cfg.conn_max_unsent_bytes;
	if (window && owed)
		return 1;
	if (!c->paused) {
		if (!owed)
			dp->net.conn_paused_unsent++;
		else
			dp->net.conn_paused++;
		dp->drv_ops->conn_pause(dp->drv, c->id);
	}
	c->paused = 1;
	return 0;
}

void dp_conn_reserve(struct dp_conn *c, struct dp_msg *m, uint64_t bytes)
{
	if (bytes > UINT32_MAX)
		bytes = UINT32_MAX;
	m->reserved = (uint32_t)bytes;
	c->reserved += bytes;
}

/* Read a paused connection again once its window has room and what it is
 * owed fell to half the cap (hysteresis: no pause per send completion). */
static void conn_maybe_resume(struct dp *dp, struct dp_conn *c)
{
	if (!c->paused || c->next_seq - c->send_seq >= DP_CONN_WINDOW ||
	    conn_owed(dp, c) > dp->cfg.conn_max_unsent_bytes / 2)
		return;
	c->paused = 0;
	dp->drv_ops->conn_resume(dp->drv, c->id);
}

/* Send what is ready, in order; close a poisoned connection at its end. */
void dp_conn_flush(struct dp *dp, struct dp_conn *c)
{
	for (unsigned i = 0; i < DP_CONN_WINDOW; i++) {
		struct dp_msg **slot = &c->window[c->send_seq % DP_CONN_WINDOW];
		struct dp_msg *m = *slot;
		if (!m || m->seq != c->send_seq)
			break;
		*slot = NULL;
		c->send_seq++;
		/* from now on the driver counts these bytes as unsent */
		assert(m->reserved <= c->reserved);
		c->reserved -= m->reserved;
		m->reserved = 0;
		if (m->close_after)
			c->poisoned = 1; /* closed once this one is out */
		if (m->chain) {
			dp_kafka_chain_send(dp, c->id, m); /* in pieces */
			continue;
		}
		m->out.data = m->resp;
		m->out.len = m->resp_len;
		m->out.release = msg_release;
		if (m->resp_len)
			dp->drv_ops->conn_send(dp->drv, c->id, &m->out);
		else
			dp_msg_free(m);
	}
	if (c->poisoned && c->send_seq == c->next_seq) {
		dp->drv_ops->conn_close(dp->drv, c->id, 0);
		return;
	}
	conn_maybe_resume(dp, c);
}

/* Send a UDP reply of n bytes at buf to a request of req_bytes. */
static void udp_reply(struct dp *dp, const struct drv_peer *peer,
		      uint32_t req_bytes, const uint8_t *buf, size_t n)
{
	uint8_t hdr[SN_HEADER_BYTES];
	if (n > req_bytes) {
		dp->net.udp_reply_limited++;
		if (n < SN_HEADER_BYTES || req_bytes < SN_HEADER_BYTES)
			return;
		/* an error answer keeps its code; a success becomes
		 * MESSAGE_TOO_LARGE (use TCP, or pad the request) */
		int16_t err = (int16_t)rb_be16(buf + 12);
		sn_header_put(hdr, buf[3], SN_HEADER_BYTES, rb_be32(buf + 8),
			      err ? err : SN_ERR_MESSAGE_TOO_LARGE);
		buf = hdr;
		n = SN_HEADER_BYTES;
	}
	assert(n <= req_bytes);
	dp->drv_ops->udp_send(dp->drv, peer, buf, n);
}

/* A response computed here or coming back from a core. */
void dp_net_deliver(struct dp *dp, struct dp_msg *m)
{
	if (m->parent) {
		dp_kafka_sub_done(dp, m); /* one partition of a Kafka request */
		return;
	}
	if (m->transport == DPT_UDP) {
		if (m->resp_len)
			udp_reply(dp, &m->peer, m->udp_req_bytes, m->resp,
				  m->resp_len);
		dp_msg_free(m);
		return;
	}
	struct dp_conn *c = dp_conn_of(m->conn);
	if (!c) {
		dp_msg_free(m); /* the connection went away */
		return;
	}
	c->window[m->seq % DP_CONN_WINDOW] = m;
	dp_conn_flush(dp, c);
}

struct dp_msg *dp_net_msg(struct dp *dp, int transport, uint32_t conn,
			      const struct drv_peer *peer, uint32_t corr,
			      size_t data)
{
	struct dp_msg *m = dp_msg_alloc(dp, data);
	if (!m) {
		dp->net.budget_exhausted++;
		return NULL;
	}
	m->transport = (uint8_t)transport;
	m->conn = conn;
	m->corr = corr;
	if (peer)
		m->peer = *peer;
	if (transport == DPT_UDP)
		m->udp_req_bytes = udp_req_bytes;
	if (transport == DPT_TCP) {
		struct dp_conn *c = dp_conn_of(conn);
		m->seq = c->next_seq++;
	}
	return m;
}

/* Answer now with the n bytes of a small response frame at buf: straight
 * out on UDP, through the connection's window on TCP. */
static void answer_now(struct dp *dp, int transport, uint32_t conn,
		       const struct drv_peer *peer, uint32_t corr,
		       const uint8_t *buf, size_t n)
{
	if (transport == DPT_UDP) {
		udp_reply(dp, peer, udp_req_bytes, buf, n);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, transport, conn, peer, corr, 0);
	if (!m) {
		/* nothing to answer with: close instead of going silent */
		dp->drv_ops->conn_close(dp->drv, conn, 1);
		return;
	}
	m->kind = DPM_READY;
	dp_msg_resp(dp, m, n);
	memcpy(m->resp, buf, n);
	m->resp_len = (uint32_t)n;
	dp_net_deliver(dp, m);
}

/* Answer now with an error frame of opcode's response shape. */
static void answer_error(struct dp *dp, int transport, uint32_t conn,
			 const struct drv_peer *peer, uint8_t opcode,
			 uint32_t corr, int16_t err)
{
	uint8_t buf[64];
	long n = sn_encode_error_resp(buf, sizeof(buf), opcode, corr, err);
	if (n > 0)
		answer_now(dp, transport, conn, peer, corr, buf, (size_t)n);
}

static void answer_throttle(struct dp *dp, int transport, uint32_t conn,
			    const struct drv_peer *peer, uint32_t corr,
			    const struct sn_produce *r)
{
	uint8_t buf[SN_PRODUCE_RESP_BYTES];
	struct sn_produce_resp pr = { r->topic_id, r->partition, -1, -1, -1,
				      DP_THROTTLE_MS };
	long n = sn_encode_produce_resp(buf, sizeof(buf), corr,
					SN_ERR_THROTTLING_QUOTA_EXCEEDED, &pr);
	if (r->acks == 0 || n <= 0)
		return;
	if (transport == DPT_UDP) {
		udp_reply(dp, peer, udp_req_bytes, buf, (size_t)n);
		return;
	}
	/* the response itself needs memory: a tiny allocation that the
	 * budget's reserve covers (dp_msg_alloc keeps 1/16 for it) */
	answer_error(dp, transport, conn, peer, SN_PRODUCE, corr,
		     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
}

static void bad(struct dp *dp, enum dp_bad why)
{
	dp->net.bad[why]++;
}

int dp_net_to_core(struct dp *dp, struct dp_partition *p, struct dp_msg *m)
{
	void *obj = m;
	m->part = p;
	struct dp_ring *r = dp_part_ring(dp, p);
	if (!r) {
		dp->net.budget_exhausted++;
		return -ENOBUFS;
	}
	if (dp_ring_enqueue_burst(r, &obj, 1) != 1)
		return -ENOBUFS;
	core_touched[p->core] = 1;
	return 0;
}

/*
 * Hand a produce message (req already set) to its partition's ring.  When
 * the ring is full the sequence number is taken, so the answer goes
 * through the window: a throttle error (nothing for acks=0), and a kept
 * driver buffer goes back at once.
 */
static void produce_enqueue(struct dp *dp, struct dp_partition *p,
			    struct dp_msg *m, const struct sn_produce *r,
			    uint32_t corr)
{
	m->kind = DPM_PRODUCE;
	m->acks = r->acks;
	m->deadline_ns = r->timeout_ms ? r->timeout_ms : 30000; /* ms; see
								   ack_queue */
	if (!dp_net_to_core(dp, p, m))
		return;
	dp->net.ring_full++;
	m->kind = DPM_READY;
	dp_msg_release_req(m);
	if (r->acks == 0) {
		m->resp_len = 0;
	} else {
		struct sn_produce_resp pr = { r->topic_id, r->partition, -1, -1,
					      -1, DP_THROTTLE_MS };
		dp_msg_resp(dp, m, SN_PRODUCE_RESP_BYTES);
		m->resp_len = (uint32_t)sn_encode_produce_resp(
			m->resp, SN_PRODUCE_RESP_BYTES, corr,
			SN_ERR_THROTTLING_QUOTA_EXCEEDED, &pr);
	}
	dp_net_deliver(dp, m);
}

/*
 * A valid produce frame kept in its driver buffer (token): the batch goes
 * to the partition ring without a copy; the storage core's copy into the
 * write buffer is the only one.  Returns 1 when the message took the
 * buffer, 0 to let the copying path handle the frame (anything invalid,
 * acks=0 over TCP, a full budget: that path answers and counts).
 */
static int produce_kept(struct dp *dp, const struct drv_peer *peer,
			uint8_t *f, size_t len, uint32_t corr, void *token)
{
	struct sn_produce r;
	if (sn_decode_produce(f, len, &r) ||
	    (r.acks != 0 && r.acks != 1 && r.acks != -1) ||
	    r.batch_len > DP_BATCH_MAX_BYTES)
		return 0;
	struct dp_partition *p = dp_partition_get(dp, r.topic_id, r.partition);
	if (!p || rb_validate(r.batch, r.batch_len))
		return 0;
	struct dp_msg *m = dp_net_msg(dp, DPT_UDP, 0, peer, corr, 0);
	if (!m)
		return 0;
	dp->net.frames++;
	dp->net.frame_bytes += len;
	dp->net.produce++;
	m->req = f + SN_PRODUCE_REQ_BYTES; /* the batch, in the mbuf */
	m->req_len = r.batch_len;
	m->req_token = token;
	produce_enqueue(dp, p, m, &r, corr);
	return 1;
}

static void handle_produce(struct dp *dp, int tr, uint32_t conn,
			   const struct drv_peer *peer, const uint8_t *f,
			   size_t len, uint32_t corr)
{
	struct sn_produce r;
	int rc = sn_decode_produce(f, len, &r);
	dp->net.produce++;
	if (rc) {
		/* the decoder checks acks and the batch's minimum size too */
		bad(dp, rc == -SN_ERR_INVALID_REQUIRED_ACKS ? DP_BAD_BAD_ACKS :
			rc == -SN_ERR_CORRUPT_MESSAGE ? DP_BAD_BAD_BATCH :
							DP_BAD_TRUNCATED_BODY);
		answer_error(dp, tr, conn, peer, SN_PRODUCE, corr, (int16_t)-rc);
		return;
	}
	int quiet = r.acks == 0;
	if (r.acks != 0 && r.acks != 1 && r.acks != -1) {
		bad(dp, DP_BAD_BAD_ACKS);
		answer_error(dp, tr, conn, peer, SN_PRODUCE, corr,
			     SN_ERR_INVALID_REQUIRED_ACKS);
		return;
	}
	struct dp_partition *p = dp_partition_get(dp, r.topic_id, r.partition);
	int16_t err = 0;
	int vrc;
	if (!p) {
		bad(dp, DP_BAD_UNKNOWN_TOPIC);
		err = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if (r.batch_len > DP_BATCH_MAX_BYTES) {
		bad(dp, DP_BAD_BATCH_TOO_LARGE);
		err = SN_ERR_MESSAGE_TOO_LARGE;
	} else if ((vrc = rb_validate(r.batch, r.batch_len)) < 0) {
		bad(dp, dp_bad_of_batch(vrc));
		err = rb_error_code(vrc);
	}
	if (err) {
		if (!quiet)
			answer_error(dp, tr, conn, peer, SN_PRODUCE, corr, err);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, tr, conn, peer, corr, r.batch_len);
	if (!m) {
		answer_throttle(dp, tr, conn, peer, corr, &r);
		return;
	}
	if (quiet && tr == DPT_TCP) {
		/* acks=0: no response, so no place in the response order */
		dp_conn_of(conn)->next_seq--;
		m->transport = DPT_UDP; /* answered never, freed on return */
		m->peer = (struct drv_peer){ 0, 0 };
	}
	m->req = m->data;
	m->req_len = r.batch_len;
	memcpy(m->req, r.batch, r.batch_len);
	produce_enqueue(dp, p, m, &r, corr);
}

static void handle_fetch(struct dp *dp, int tr, uint32_t conn,
			 const struct drv_peer *peer, const uint8_t *f,
			 size_t len, uint32_t corr)
{
	struct sn_fetch r;
	dp->net.fetch++;
	int rc = sn_decode_fetch(f, len, &r);
	if (rc) {
		bad(dp, DP_BAD_TRUNCATED_BODY);
		answer_error(dp, tr, conn, peer, SN_FETCH, corr, (int16_t)-rc);
		return;
	}
	struct dp_partition *p = dp_partition_get(dp, r.topic_id, r.partition);
	if (!p) {
		bad(dp, DP_BAD_UNKNOWN_TOPIC);
		answer_error(dp, tr, conn, peer, SN_FETCH, corr,
			     SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, tr, conn, peer, corr, 0);
	if (!m) {
		answer_error(dp, tr, conn, peer, SN_FETCH, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	m->kind = DPM_FETCH;
	m->fetch = r;
	if (tr == DPT_UDP) {
		/* the answer may not be longer than the request: a client
		 * pads its FETCH to make room for records */
		uint32_t room = (uint32_t)len - SN_FETCH_RESP_BYTES;
		if (len < SN_FETCH_RESP_BYTES)
			room = 0;
		if (m->fetch.max_bytes > room)
			m->fetch.max_bytes = room;
	}
	if (tr == DPT_TCP) {
		uint64_t most = r.max_bytes < DP_FETCH_MAX_BYTES ?
					r.max_bytes : DP_FETCH_MAX_BYTES;
		dp_conn_reserve(dp_conn_of(conn), m,
				most + SN_FETCH_RESP_BYTES);
	}
	if (dp_net_to_core(dp, p, m)) {
		dp->net.ring_full++;
		m->kind = DPM_READY;
		dp_msg_resp(dp, m, 64);
		m->resp_len = (uint32_t)sn_encode_error_resp(
			m->resp, 64, SN_FETCH, corr,
			SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		dp_net_deliver(dp, m);
	}
}

static void handle_list(struct dp *dp, int tr, uint32_t conn,
			const struct drv_peer *peer, const uint8_t *f,
			size_t len, uint32_t corr)
{
	struct sn_list_offsets r;
	dp->net.list_offsets++;
	int rc = sn_decode_list_offsets(f, len, &r);
	if (rc) {
		bad(dp, DP_BAD_TRUNCATED_BODY);
		answer_error(dp, tr, conn, peer, SN_LIST_OFFSETS, corr,
			     (int16_t)-rc);
		return;
	}
	struct dp_partition *p = dp_partition_get(dp, r.topic_id, r.partition);
	if (!p) {
		bad(dp, DP_BAD_UNKNOWN_TOPIC);
		answer_error(dp, tr, conn, peer, SN_LIST_OFFSETS, corr,
			     SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, tr, conn, peer, corr, 0);
	if (!m) {
		answer_error(dp, tr, conn, peer, SN_LIST_OFFSETS, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	m->kind = DPM_LIST;
	m->timestamp = r.timestamp;
	if (dp_net_to_core(dp, p, m)) {
		dp->net.ring_full++;
		m->kind = DPM_READY;
		dp_msg_resp(dp, m, 64);
		m->resp_len = (uint32_t)sn_encode_error_resp(
			m->resp, 64, SN_LIST_OFFSETS, corr,
			SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		dp_net_deliver(dp, m);
	}
}

static void topic_info(const struct dp_topic *t, struct sn_topic_info *i)
{
	memset(i, 0, sizeof(*i));
	i->topic_id = t->id;
	i->partitions = t->partitions;
	i->durability = t->durability;
	i->retention_ms = t->retention_ms;
	i->retention_bytes = t->retention_bytes;
	i->segment_bytes = t->segment_bytes;
	i->name = t->name;
	i->name_len = (uint16_t)strlen(t->name);
}

static void handle_metadata(struct dp *dp, int tr, uint32_t conn,
			    const struct drv_peer *peer, const uint8_t *f,
			    size_t len, uint32_t corr)
{
	uint16_t count;
	dp->net.metadata++;
	int rc = sn_decode_metadata(f, len, &count);
	if (rc) {
		bad(dp, DP_BAD_TRUNCATED_BODY);
		answer_error(dp, tr, conn, peer, SN_METADATA, corr, (int16_t)-rc);
		return;
	}
	size_t cap = tr == DPT_UDP ? dp->cfg.udp_max_frame : 1u << 20;
	struct dp_msg *m = dp_net_msg(dp, tr, conn, peer, corr, 0);
	if (!m || dp_msg_resp(dp, m, cap)) {
		if (m)
			dp_msg_free(m);
		answer_error(dp, tr, conn, peer, SN_METADATA, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	m->kind = DPM_READY;
	struct sn_metadata_builder b;
	sn_metadata_resp_begin(&b, m->resp, cap, dp->udp_port, dp->tcp_port,
			       dp->cfg.udp_max_frame);
	struct sn_topic_info ti;
	if (count == 0) {
		for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
			/* acquire: pairs with dp_topic_put's release store */
			struct dp_topic *t = atomic_load_explicit(
				&dp->topics[i], memory_order_acquire);
			if (!t || !atomic_load_explicit(&t->live,
							memory_order_acquire))
				continue;
			topic_info(t, &ti);
			sn_metadata_resp_add(&b, &ti);
		}
	} else {
		size_t pos = SN_METADATA_REQ_BYTES;
		const char *name;
		uint16_t nl;
		for (unsigned k = 0; k < count &&
		     sn_metadata_req_next(f, len, &pos, &name, &nl) == 1;
		     k++) {
			struct dp_topic *found = NULL;
			for (unsigned i = 0; i < DP_MAX_TOPICS && !found; i++) {
				struct dp_topic *t = atomic_load_explicit(
					&dp->topics[i], memory_order_acquire);
				if (t && atomic_load_explicit(&t->live, memory_order_acquire) &&
				    strlen(t->name) == nl &&
				    !memcmp(t->name, name, nl))
					found = t;
			}
			if (found) {
				topic_info(found, &ti);
			} else {
				memset(&ti, 0, sizeof(ti));
				ti.error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				ti.name = name;
				ti.name_len = nl;
			}
			sn_metadata_resp_add(&b, &ti);
		}
	}
	long n = sn_metadata_resp_finish(&b, corr, 0);
	m->resp_len = n > 0 ? (uint32_t)n : 0;
	dp_net_deliver(dp, m);
}

static void handle_admin(struct dp *dp, int tr, uint32_t conn,
			 const struct drv_peer *peer, const uint8_t *f,
			 size_t len, uint32_t corr, uint8_t opcode)
{
	dp->net.admin++;
	/* acquire: pairs with the main thread's release store after
	 * SYNC_DONE */
	if (!atomic_load_explicit(&dp->control_synced, memory_order_acquire)) {
		answer_error(dp, tr, conn, peer, opcode, corr,
			     SN_ERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, tr, conn, peer, corr, len);
	if (!m) {
		answer_error(dp, tr, conn, peer, opcode, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	m->kind = DPM_ADMIN;
	m->req = m->data;
	m->req_len = (uint32_t)len;
	memcpy(m->req, f, len);
	void *obj = m;
	if (dp_ring_enqueue_burst(dp->admin_ring, &obj, 1) != 1) {
		m->kind = DPM_READY;
		dp_msg_resp(dp, m, 64);
		m->resp_len = (uint32_t)sn_encode_error_resp(
			m->resp, 64, opcode, corr,
			SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		dp_net_deliver(dp, m);
		return;
	}
	dp_wake_fd(dp->main_wake_fd);
}

static void handle_init_pid(struct dp *dp, int tr, uint32_t conn,
			    const struct drv_peer *peer, size_t len,
			    uint32_t corr)
{
	dp->net.init_pid++;
	uint8_t buf[SN_INIT_PID_RESP_BYTES];
	long n;
	if (len != SN_INIT_PID_REQ_BYTES) {
		bad(dp, DP_BAD_TRUNCATED_BODY);
		answer_error(dp, tr, conn, peer, SN_INIT_PRODUCER_ID, corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	int64_t pid = dp_producer_id(dp);
	if (pid < 0) {
		answer_error(dp, tr, conn, peer, SN_INIT_PRODUCER_ID, corr,
			     SN_ERR_KAFKA_STORAGE_ERROR);
		return;
	}
	n = sn_encode_init_pid_resp(buf, sizeof(buf), corr, 0, pid, 0);
	answer_now(dp, tr, conn, peer, corr, buf, (size_t)n);
}

/* One whole frame (header valid, len bytes). */
static void handle_frame(struct dp *dp, int tr, uint32_t conn,
			 const struct drv_peer *peer, const uint8_t *f,
			 size_t len, const struct sn_header *h)
{
	dp->net.frames++;
	dp->net.frame_bytes += len;
	if (h->opcode & SN_RESPONSE) {
		bad(dp, DP_BAD_RESPONSE_FRAME);
		answer_error(dp, tr, conn, peer, h->opcode & 0x7f, h->corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	if (tr == DPT_UDP && (h->opcode == SN_CREATE_TOPIC ||
			      h->opcode == SN_DELETE_TOPIC ||
			      h->opcode == SN_INIT_PRODUCER_ID)) {
		/* state changes need a connection: a datagram's source can
		 * be forged */
		dp->net.udp_admin_refused++;
		answer_error(dp, tr, conn, peer, h->opcode, h->corr,
			     SN_ERR_UNSUPPORTED_VERSION);
		return;
	}
	switch (h->opcode) {
	case SN_PRODUCE:
		handle_produce(dp, tr, conn, peer, f, len, h->corr);
		break;
	case SN_FETCH:
		handle_fetch(dp, tr, conn, peer, f, len, h->corr);
		break;
	case SN_LIST_OFFSETS:
		handle_list(dp, tr, conn, peer, f, len, h->corr);
		break;
	case SN_METADATA:
		handle_metadata(dp, tr, conn, peer, f, len, h->corr);
		break;
	case SN_CREATE_TOPIC:
	case SN_DELETE_TOPIC:
		handle_admin(dp, tr, conn, peer, f, len, h->corr, h->opcode);
		break;
	case SN_INIT_PRODUCER_ID:
		handle_init_pid(dp, tr, conn, peer, len, h->corr);
		break;
	default:
		bad(dp, DP_BAD_UNKNOWN_OPCODE);
		answer_error(dp, tr, conn, peer, h->opcode, h->corr,
			     SN_ERR_UNSUPPORTED_VERSION);
	}
}

/* ---- driver callbacks ---- */

static void on_datagram(void *ctx, const uint8_t *p, size_t len,
			const struct drv_peer *from)
{
	struct dp *dp = ctx;
	struct sn_header h;
	udp_req_bytes = (uint32_t)len;
	long n = sn_header_parse(p, len, dp->cfg.udp_max_frame, &h);
	if (n <= 0) {
		bad(dp, n == -SN_ERR_UNSUPPORTED_VERSION ? DP_BAD_BAD_VERSION :
							   DP_BAD_BAD_MAGIC_OR_LENGTH);
		if (len >= SN_HEADER_BYTES && rb_be16(p) == SN_MAGIC)
			answer_error(dp, DPT_UDP, 0, from, h.opcode & 0x7f,
				     h.corr, n == 0 ? SN_ERR_INVALID_REQUEST :
						      (int16_t)-n);
		return;
	}
	if ((size_t)n != len) {
		bad(dp, DP_BAD_UDP_LENGTH_MISMATCH);
		answer_error(dp, DPT_UDP, 0, from, h.opcode & 0x7f, h.corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	handle_frame(dp, DPT_UDP, 0, from, p, len, &h);
}

static int on_datagram_keep(void *ctx, uint8_t *p, size_t len,
			    const struct drv_peer *from, void *token)
{
	struct dp *dp = ctx;
	struct sn_header h;
	long n = sn_header_parse(p, len, dp->cfg.udp_max_frame, &h);
	/* only well-formed produce frames take the kept path */
	if (n <= 0 || (size_t)n != len || h.opcode != SN_PRODUCE)
		return 0;
	udp_req_bytes = (uint32_t)len;
	return produce_kept(dp, from, p, len, h.corr, token);
}

static int on_conn_open(void *ctx, uint32_t id, int listener)
{
	struct dp_conn *c = &conns[id & ((1u << 20) - 1)];
	(void)ctx;
	if (c->id)
		return -EBUSY;
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->kafka = listener == 1; /* tcp_ports[1]: kafka_port */
	return 0;
}

static long on_conn_data(void *ctx, uint32_t id, const uint8_t *p,
			 size_t len)
{
	struct dp *dp = ctx;
	struct dp_conn *c = dp_conn_of(id);
	if (!c)
		return -1;
	if (c->kafka)
		return dp_kafka_conn_data(dp, c, p, len);
	size_t used = 0;
	/* bounded: each frame consumes >= 16 bytes; the window stops us */
	while (!c->poisoned) {
		if (!dp_conn_room(dp, c))
			break;
		struct sn_header h;
		long n = sn_header_parse(p + used, len - used,
					 dp->cfg.tcp_max_frame, &h);
		if (n == 0)
			break;
		if (n < 0) {
			bad(dp, n == -SN_ERR_UNSUPPORTED_VERSION ?
					DP_BAD_BAD_VERSION :
					DP_BAD_BAD_MAGIC_OR_LENGTH);
			answer_error(dp, DPT_TCP, id, NULL, h.opcode & 0x7f,
				     h.corr, (int16_t)-n);
			c = dp_conn_of(id);
			if (!c)
				return -1;
			c->poisoned = 1;
			dp_conn_flush(dp, c);
			return (long)(len); /* the rest is garbage */
		}
		if ((size_t)n > len - used)
			break; /* the driver keeps the partial frame */
		handle_frame(dp, DPT_TCP, id, NULL, p + used, (size_t)n, &h);
		used += (size_t)n;
		c = dp_conn_of(id);
		if (!c)
			return -1;
	}
	return (long)used;
}

static void on_conn_sent(void *ctx, uint32_t id, uint64_t unsent)
{
	struct dp_conn *c = dp_conn_of(id);
	(void)unsent;
	if (c)
		conn_maybe_resume(ctx, c);
}

static void on_conn_closed(void *ctx, uint32_t id)
{
	struct dp_conn *c = dp_conn_of(id);
	(void)ctx;
	if (!c)
		return;
	for (unsigned i = 0; i < DP_CONN_WINDOW; i++)
		if (c->window[i]) {
			dp_msg_free(c->window[i]);
			c->window[i] = NULL;
		}
	c->id = 0;
}

static void drain_completions(struct dp *dp)
{
	void *objs[DP_BURST];
	for (unsigned round = 0; round < 64; round++) {
		unsigned n = dp_ring_dequeue_burst(dp->completions, objs,
						   DP_BURST);
		for (unsigned i = 0; i < n; i++)
			dp_net_deliver(dp, objs[i]);
		dp->net.completions += n;
		if (n < DP_BURST)
			break;
	}
}

static void on_wakeup(void *ctx)
{
	drain_completions(ctx);
}

static void wake_cores(struct dp *dp)
{
	for (uint32_t i = 0; i < dp->nstore; i++)
		if (core_touched[i]) {
			core_touched[i] = 0;
			dp_store_wake(dp->store[i]);
		}
}

static void *net_main(void *arg)
{
	struct dp *dp = arg;
	unsigned idle = 0;
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
		dp->net.loops++;
		/* release: every read of the topic table in earlier cycles
		 * is done; pairs with topics.c net_grace's acquire load.  No
		 * partition pointer is kept across cycles (kafka.c's long
		 * polls check topic_gen). */
		atomic_store_explicit(&dp->net_epoch, dp->net.loops,
				      memory_order_release);
		uint64_t wait_us = 0;
		if (idle > 200) {
			/* seq_cst: pairs with dp_complete's load of
			 * net_sleeping (Dekker) */
			atomic_store(&dp->net_sleeping, 1);
			if (dp_ring_count(dp->completions) == 0)
				wait_us = dp_kafka_waiting() ? 1000 : 100000;
		}
		int w = dp->drv_ops->do_work(dp->drv, wait_us);
		if (wait_us) {
			dp->net.idle_waits++;
			atomic_store(&dp->net_sleeping, 0);
			idle = 0;
		}
		drain_completions(dp);
		w += dp_kafka_do_work(dp);
		wake_cores(dp);
		if (w > 0)
			idle = 0;
		else
			idle++;
	}
	return NULL;
}

int dp_net_start(struct dp *dp)
{
	int rc;
	nconns = dp->cfg.max_connections;
	conns = calloc(nconns, sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	dp->net_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->net_wake_fd < 0)
		return -errno;
	dp->drv_ops = drv_find(dp->cfg.driver);
	if (!dp->drv_ops) {
		dp_log("driver '%s' is not available (built: %s)",
		       dp->cfg.driver, drv_names());
		return -ENOTSUP;
	}
	struct drv_config dc = {
		.listen_host = dp->cfg.listen_host,
		.udp_port = dp->cfg.udp_port,
		.tcp_ports = { dp->cfg.tcp_port, dp->cfg.kafka_port },
		.ntcp = dp->cfg.kafka_port ? 2 : 1, /* kafka_port 0: none */
		.udp_max_frame = dp->cfg.udp_max_frame,
		.tcp_max_frame = dp->cfg.tcp_max_frame,
		.max_connections = dp->cfg.max_connections,
		.rx_buffer_bytes = dp->cfg.memory_budget_bytes / 4,
		.wake_fd = dp->net_wake_fd,
		.dpdk_args = dp->cfg.dpdk_args,
		.dpdk_ip = dp->cfg.dpdk_ip,
		.dpdk_mbufs = dp->cfg.dpdk_mbufs,
		.dpdk_queues = dp->cfg.dpdk_queues,
		.busy_poll = dp->cfg.busy_poll,
		.max_per_ip = dp->cfg.max_connections_per_ip,
		.idle_timeout_ns = dp->cfg.conn_idle_timeout_ms * 1000000ull,
		.frame_timeout_ns = dp->cfg.conn_frame_timeout_ms * 1000000ull,
		.send_timeout_ns = dp->cfg.conn_send_timeout_ms * 1000000ull,
		.now_ns = dp_now_ns,
	};
	struct drv_callbacks cb = {
		.ctx = dp,
		.datagram = on_datagram,
		.datagram_keep = on_datagram_keep,
		.conn_open = on_conn_open,
		.conn_data = on_conn_data,
		.conn_closed = on_conn_closed,
		.conn_sent = on_conn_sent,
		.wakeup = on_wakeup,
	};
	rc = dp->drv_ops->create(&dc, &cb, &dp->drv);
	if (rc) {
		dp_log("driver %s on %s (tcp_port %u, udp_port %u, kafka_port "
		       "%u): %s", dp->drv_ops->name, dp->cfg.listen_host,
		       dp->cfg.tcp_port, dp->cfg.udp_port, dp->cfg.kafka_port,
		       sl_strerror(rc));
		return rc;
	}
	uint16_t tcp[2];
	dp->drv_ops->ports(dp->drv, &dp->udp_port, tcp, 2);
	dp->tcp_port = tcp[0];
	dp->kafka_port = tcp[1];
	rc = pthread_create(&dp->net_thread, NULL, net_main, dp);
	if (rc)
		return -rc;
	pthread_setname_np(dp->net_thread, "sl-net0");
	return 0;
}

void dp_net_join(struct dp *dp)
{
	dp_wake_fd(dp->net_wake_fd);
	pthread_join(dp->net_thread, NULL);
	dp->drv_ops->destroy(dp->drv);
	dp->drv = NULL;
}
