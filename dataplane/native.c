/*
 * The native protocol's front-end (proto/native.h) on UDP and TCP: frames
 * in, typed requests (request.h) out, and the native answer encoded from
 * each typed result.  Batches are validated here, once (rb_validate).
 * METADATA and INIT_PRODUCER_ID are answered here; CREATE_TOPIC,
 * DELETE_TOPIC, the queue operations (QUEUE_RECEIVE, QUEUE_ACK) and ROUTE go to
 * control (dp_admin_submit) and its answer frame comes back as it is.
 *
 * UDP carries data, not administration: CREATE_TOPIC, DELETE_TOPIC,
 * INIT_PRODUCER_ID and the queue operations over UDP are refused with UNSUPPORTED_VERSION
 * (udp_admin_refused), and no reply is longer than the datagram that
 * caused it: a longer one is replaced by its 16-byte header (error code
 * kept, MESSAGE_TOO_LARGE for a success; udp_reply_limited), so a spoofed
 * source address cannot turn the broker into an amplifier.
 *
 * Bad input: counted per reason (dp_bad_names); answered with an error
 * frame; on TCP a frame that breaks the stream (bad magic, version, length)
 * poisons the connection: its error response is sent after the earlier
 * responses, then the connection is closed.
 *
 * A datagram's produce may keep its driver buffer (an mbuf with DPDK): the
 * batch goes to the partition ring without a copy; the storage core's copy
 * into the write buffer is the only one.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "dataplane/batch.h"
#include "dataplane/conn.h"
#include "dataplane/net.h"
#include "proto/record_batch.h"

/* Where a request came from and how its answer goes back. */
struct src {
	uint32_t conn;               /* TCP connection */
	const struct drv_peer *peer; /* a datagram's source; NULL: TCP */
	uint32_t udp_bytes;          /* the datagram's length */
};

/* The largest UDP frame served (dp.h: the driver's limit, or the
 * configured one where nothing lowered it). */
static uint32_t udp_frame_max(const struct dp *dp)
{
	uint32_t m = atomic_load_explicit(&dp->udp_frame_max,
					  memory_order_relaxed);
	return m && m < dp->cfg.udp_max_frame ? m : dp->cfg.udp_max_frame;
}

static void bad(struct dp_net *n, enum dp_bad why)
{
	n->st.bad[why]++;
}

/* Send a datagram reply of len bytes at buf to a request of req_bytes:
 * never longer than the request. */
static void udp_reply(struct dp_net *n, const struct drv_peer *peer,
		      uint32_t req_bytes, const uint8_t *buf, size_t len)
{
	uint8_t hdr[SN_HEADER_BYTES];
	if (len > req_bytes) {
		n->st.udp_reply_limited++;
		if (len < SN_HEADER_BYTES || req_bytes < SN_HEADER_BYTES)
			return;
		/* an error answer keeps its code; a success becomes
		 * MESSAGE_TOO_LARGE (use TCP, or pad the request) */
		int16_t err = (int16_t)rb_be16(buf + 12);
		sn_header_put(hdr, buf[3], SN_HEADER_BYTES, rb_be32(buf + 8),
			      err ? err : SN_ERR_MESSAGE_TOO_LARGE);
		buf = hdr;
		len = SN_HEADER_BYTES;
	}
	assert(len <= req_bytes);
	n->drv_ops->udp_send(n->drv, peer, buf, len);
}

/* The answer in m is ready: out through the connection layer, a datagram
 * cut to its request's length first. */
static void send_answer(struct dp_net *n, struct dp_msg *m)
{
	if (m->udp) {
		if (m->resp_len)
			udp_reply(n, &m->peer, m->udp_req_bytes, m->resp,
				  m->resp_len);
		dp_msg_free(m);
		return;
	}
	dp_conn_deliver(n, m);
}

/* Answer now with the len bytes of a small response frame at buf. */
static void answer_now(struct dp_net *n, const struct src *s, uint32_t corr,
		       const uint8_t *buf, size_t len)
{
	if (s->peer) {
		udp_reply(n, s->peer, s->udp_bytes, buf, len);
		return;
	}
	struct dp_msg *m = dp_conn_msg(n, s->conn, NULL, 0, corr, 0);
	if (!m) {
		/* nothing to answer with: close instead of going silent */
		dp_conn_abort(n, s->conn);
		return;
	}
	if (dp_msg_resp(n->dp, m, len)) {
		m->resp_len = 0;
		m->close_after = 1;
	} else {
		memcpy(m->resp, buf, len);
		m->resp_len = (uint32_t)len;
	}
	dp_conn_deliver(n, m);
}

/* Answer now with an error frame of opcode's response shape. */
static void answer_error(struct dp_net *n, const struct src *s,
			 uint8_t opcode, uint32_t corr, int16_t err)
{
	uint8_t buf[64];
	long len = sn_encode_error_resp(buf, sizeof(buf), opcode, corr, err);
	if (len > 0)
		answer_now(n, s, corr, buf, (size_t)len);
}

/* No memory for the request: a throttle answer (none for acks=0). */
static void answer_throttle(struct dp_net *n, const struct src *s,
			    uint32_t corr, const struct sn_produce *r)
{
	uint8_t buf[SN_PRODUCE_RESP_BYTES];
	struct sn_produce_resp pr = { r->topic_id, r->partition, -1, -1, -1,
				      DP_THROTTLE_MS };
	long len = sn_encode_produce_resp(buf, sizeof(buf), corr,
					  SN_ERR_THROTTLING_QUOTA_EXCEEDED,
					  &pr);
	if (r->acks == 0 || len <= 0)
		return;
	if (s->peer) {
		udp_reply(n, s->peer, s->udp_bytes, buf, (size_t)len);
		return;
	}
	/* the answer itself needs memory: a tiny allocation that the
	 * budget's reserve covers (dp_msg_alloc keeps 1/16 for it) */
	answer_error(n, s, SN_PRODUCE, corr, SN_ERR_THROTTLING_QUOTA_EXCEEDED);
}

static uint8_t opcode_of(const struct dp_msg *m)
{
	switch (m->op) {
	case DP_PRODUCE:
		return SN_PRODUCE;
	case DP_FETCH:
		return SN_FETCH;
	case DP_LIST_OFFSETS:
		return SN_LIST_OFFSETS;
	default:
		return m->req_len > 3 ? m->req[3] : 0; /* admin: its frame */
	}
}

/* Encode m's result as its native answer frame. */
static void encode(struct dp_net *n, struct dp_msg *m)
{
	const struct dp_result *r = &m->res;
	struct dp_partition *p = m->part;
	long len = -1;
	if (m->op == DP_PRODUCE) {
		struct sn_produce_resp pr = {
			.topic_id = p->topic->id, .partition = p->index,
			.base_offset = r->error ? -1 : r->base_offset,
			.last_offset = r->error ? -1 : r->last_offset,
			.log_start_offset = r->log_start_offset,
			.throttle_ms = r->throttle_ms,
		};
		m->resp = m->inline_resp;
		len = sn_encode_produce_resp(m->resp, sizeof(m->inline_resp),
					     m->corr, r->error, &pr);
	} else if (m->op == DP_FETCH && !r->error) {
		/* the records are in resp after our header's headroom */
		assert(m->resp && r->bytes == m->resp + SN_FETCH_RESP_BYTES);
		struct sn_fetch_resp fr = {
			.topic_id = p->topic->id, .partition = p->index,
			.high_watermark = r->high_watermark,
			.log_start_offset = r->log_start_offset,
			.log_end_offset = r->log_end_offset,
			.records_len = r->bytes_len,
		};
		sn_encode_fetch_resp_head(m->resp, m->corr, 0, &fr);
		len = SN_FETCH_RESP_BYTES + (long)r->bytes_len;
	} else if (m->op == DP_LIST_OFFSETS && !r->error) {
		struct sn_list_offsets_resp lr = { p->topic->id, p->index,
						   r->offset,
						   m->rq.list.timestamp };
		m->resp = m->inline_resp;
		len = sn_encode_list_offsets_resp(m->resp,
						  sizeof(m->inline_resp),
						  m->corr, 0, &lr);
	} else if (m->op == DP_ADMIN && !r->error &&
		   r->bytes_len >= SN_HEADER_BYTES) {
		/* control's answer frame, in resp: the client's id */
		assert(r->bytes == m->resp);
		rb_put32(m->resp + 8, m->corr);
		len = r->bytes_len;
	}
	if (len < 0) {
		int16_t err = r->error ? r->error : SN_ERR_UNKNOWN_SERVER_ERROR;
		m->resp = m->inline_resp;
		len = sn_encode_error_resp(m->resp, sizeof(m->inline_resp),
					   opcode_of(m), m->corr, err);
	}
	m->resp_len = len > 0 ? (uint32_t)len : 0;
}

/* A request of ours is done (net core): encode and send. */
static void done(struct dp_net *n, struct dp_msg *m)
{
	encode(n, m);
	send_answer(n, m);
}

/* A request message for src: NULL when the budget is spent. */
static struct dp_msg *request(struct dp_net *n, const struct src *s,
			      uint32_t corr, int op, size_t data)
{
	struct dp_msg *m = dp_conn_msg(n, s->conn, s->peer, s->udp_bytes,
				       corr, data);
	if (!m)
		return NULL;
	m->op = (uint8_t)op;
	m->done = done;
	m->res.base_offset = m->res.last_offset = -1;
	m->res.log_start_offset = -1;
	return m;
}

/* m could not be submitted (its ring is full): answer it throttled. */
static void refuse_full(struct dp_net *n, struct dp_msg *m)
{
	n->st.ring_full++;
	dp_msg_release_req(m);
	if (!m->done) {
		dp_msg_free(m); /* acks=0: nobody waits */
		return;
	}
	m->res.error = SN_ERR_THROTTLING_QUOTA_EXCEEDED;
	m->res.throttle_ms = DP_THROTTLE_MS;
	done(n, m);
}

static void submit(struct dp_net *n, struct dp_partition *p,
		   struct dp_msg *m)
{
	if (dp_store_submit(n, p, m))
		refuse_full(n, m);
}

static void produce_setup(struct dp_msg *m, const struct sn_produce *r)
{
	m->rq.produce.acks = r->acks;
	m->rq.produce.timeout_ms = r->timeout_ms ? r->timeout_ms : 30000;
	if (r->acks == 0)
		m->done = NULL; /* answered never */
}

/*
 * A valid produce datagram kept in its driver buffer (token).  Returns 1
 * when the message took the buffer, 0 to let the copying path handle the
 * frame (anything invalid, a full budget: that path answers and counts).
 */
static int produce_kept(struct dp_net *n, const struct src *s, uint8_t *f,
			size_t len, uint32_t corr, void *token)
{
	struct sn_produce r;
	enum dp_bad why;
	if (sn_decode_produce(f, len, &r) ||
	    (r.acks != 0 && r.acks != 1 && r.acks != -1))
		return 0;
	struct dp_partition *p = dp_partition_get(n->dp, r.topic_id,
						  r.partition);
	if (!p || dp_batch_check(r.batch, r.batch_len, &why))
		return 0;
	struct dp_msg *m = request(n, s, corr, DP_PRODUCE, 0);
	if (!m)
		return 0;
	n->st.frames++;
	n->st.frame_bytes += len;
	n->st.produce++;
	m->req = f + SN_PRODUCE_REQ_BYTES; /* the batch, in the mbuf */
	m->req_len = r.batch_len;
	m->req_token = token;
	m->req_release = n->drv_ops->release;
	produce_setup(m, &r);
	submit(n, p, m);
	return 1;
}

static void handle_produce(struct dp_net *n, const struct src *s,
			   const uint8_t *f, size_t len, uint32_t corr)
{
	struct sn_produce r;
	int rc = sn_decode_produce(f, len, &r);
	n->st.produce++;
	if (rc) {
		/* the decoder checks acks and the batch's minimum size too */
		bad(n, rc == -SN_ERR_INVALID_REQUIRED_ACKS ? DP_BAD_BAD_ACKS :
		       rc == -SN_ERR_CORRUPT_MESSAGE ? DP_BAD_BAD_BATCH :
						       DP_BAD_TRUNCATED_BODY);
		answer_error(n, s, SN_PRODUCE, corr, (int16_t)-rc);
		return;
	}
	if (r.acks != 0 && r.acks != 1 && r.acks != -1) {
		bad(n, DP_BAD_BAD_ACKS);
		answer_error(n, s, SN_PRODUCE, corr,
			     SN_ERR_INVALID_REQUIRED_ACKS);
		return;
	}
	struct dp_partition *p = dp_partition_get(n->dp, r.topic_id,
						  r.partition);
	int16_t err = 0;
	enum dp_bad why;
	if (!p) {
		bad(n, DP_BAD_UNKNOWN_TOPIC);
		err = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if ((err = dp_batch_check(r.batch, r.batch_len, &why))) {
		bad(n, why);
	}
	if (err) {
		if (r.acks != 0)
			answer_error(n, s, SN_PRODUCE, corr, err);
		return;
	}
	struct dp_msg *m = request(n, s, corr, DP_PRODUCE, r.batch_len);
	if (!m) {
		answer_throttle(n, s, corr, &r);
		return;
	}
	if (r.acks == 0)
		dp_conn_unseq(n, m); /* no answer, no place in the order */
	m->req = m->data;
	m->req_len = r.batch_len;
	memcpy(m->req, r.batch, r.batch_len);
	produce_setup(m, &r);
	submit(n, p, m);
}

/* A fetch or list offsets: the partition it names and a message for it,
 * or NULL when it was answered already (rc from its decoder, an unknown
 * partition, no memory). */
static struct dp_msg *part_request(struct dp_net *n, const struct src *s,
				   uint8_t opcode, int op, uint32_t corr,
				   int rc, uint32_t topic_id,
				   int32_t partition, struct dp_partition **p)
{
	if (rc) {
		bad(n, DP_BAD_TRUNCATED_BODY);
		answer_error(n, s, opcode, corr, (int16_t)-rc);
		return NULL;
	}
	*p = dp_partition_get(n->dp, topic_id, partition);
	if (!*p) {
		bad(n, DP_BAD_UNKNOWN_TOPIC);
		answer_error(n, s, opcode, corr,
			     SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		return NULL;
	}
	struct dp_msg *m = request(n, s, corr, op, 0);
	if (!m)
		answer_error(n, s, opcode, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
	return m;
}

static void handle_fetch(struct dp_net *n, const struct src *s,
			 const uint8_t *f, size_t len, uint32_t corr)
{
	struct sn_fetch r = { 0 };
	struct dp_partition *p;
	n->st.fetch++;
	int rc = sn_decode_fetch(f, len, &r);
	struct dp_msg *m = part_request(n, s, SN_FETCH, DP_FETCH, corr, rc,
					r.topic_id, r.partition, &p);
	if (!m)
		return;
	struct dp_fetch *q = &m->rq.fetch;
	q->offset = r.offset;
	q->max_bytes = r.max_bytes;
	q->min_bytes = r.min_bytes;
	q->max_wait_ms = r.max_wait_ms;
	q->isolation = r.isolation;
	q->headroom = SN_FETCH_RESP_BYTES;
	q->hard_max = DP_FETCH_MAX_BYTES;
	if (s->peer) {
		/* the answer may not be longer than the request: a client
		 * pads its FETCH to make room for records */
		uint32_t room = len > SN_FETCH_RESP_BYTES ?
					(uint32_t)len - SN_FETCH_RESP_BYTES : 0;
		if (q->max_bytes > room)
			q->max_bytes = room;
		q->hard_max = udp_frame_max(n->dp) - SN_FETCH_RESP_BYTES;
	} else {
		uint64_t most = r.max_bytes < DP_FETCH_MAX_BYTES ?
					r.max_bytes : DP_FETCH_MAX_BYTES;
		dp_conn_reserve(dp_conn_of(n, s->conn), m,
				most + SN_FETCH_RESP_BYTES);
	}
	submit(n, p, m);
}

static void handle_list(struct dp_net *n, const struct src *s,
			const uint8_t *f, size_t len, uint32_t corr)
{
	struct sn_list_offsets r = { 0 };
	struct dp_partition *p;
	n->st.list_offsets++;
	int rc = sn_decode_list_offsets(f, len, &r);
	struct dp_msg *m = part_request(n, s, SN_LIST_OFFSETS, DP_LIST_OFFSETS,
					corr, rc, r.topic_id, r.partition, &p);
	if (!m)
		return;
	m->rq.list.timestamp = r.timestamp;
	submit(n, p, m);
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

/* A message for an answer built here of up to cap bytes, or NULL when
 * memory is short (answered THROTTLING_QUOTA_EXCEEDED: with a message
 * that keeps its place in the connection's order when there is one). */
static struct dp_msg *answer_msg(struct dp_net *n, const struct src *s,
				 uint8_t opcode, uint32_t corr, size_t cap)
{
	struct dp_msg *m = dp_conn_msg(n, s->conn, s->peer, s->udp_bytes,
				       corr, 0);
	if (m && !dp_msg_resp(n->dp, m, cap))
		return m;
	if (m) {
		/* keep its place in the order: a small error */
		m->resp = m->inline_resp;
		long el = sn_encode_error_resp(m->resp, sizeof(m->inline_resp),
					       opcode, corr,
					       SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		m->resp_len = el > 0 ? (uint32_t)el : 0;
		send_answer(n, m);
		return NULL;
	}
	answer_error(n, s, opcode, corr, SN_ERR_THROTTLING_QUOTA_EXCEEDED);
	return NULL;
}

static void handle_metadata(struct dp_net *n, const struct src *s,
			    const uint8_t *f, size_t len, uint32_t corr)
{
	struct dp *dp = n->dp;
	uint16_t count;
	n->st.metadata++;
	int rc = sn_decode_metadata(f, len, &count);
	if (rc) {
		bad(n, DP_BAD_TRUNCATED_BODY);
		answer_error(n, s, SN_METADATA, corr, (int16_t)-rc);
		return;
	}
	size_t cap = s->peer ? udp_frame_max(dp) : 1u << 20;
	struct dp_msg *m = answer_msg(n, s, SN_METADATA, corr, cap);
	if (!m)
		return;
	struct sn_metadata_builder b;
	sn_metadata_resp_begin(&b, m->resp, cap, dp->udp_port, dp->tcp_port,
			       udp_frame_max(dp));
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
			struct dp_topic *t = dp_topic_by_name(dp, name, nl);
			if (t) {
				topic_info(t, &ti);
			} else {
				memset(&ti, 0, sizeof(ti));
				ti.error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				ti.name = name;
				ti.name_len = nl;
			}
			sn_metadata_resp_add(&b, &ti);
		}
	}
	long rl = sn_metadata_resp_finish(&b, corr, 0);
	m->resp_len = rl > 0 ? (uint32_t)rl : 0;
	send_answer(n, m);
}

/* LEADERS: the brokers and each partition's leader and leader epoch, so
 * that a client sends each partition's requests to its leader (a single
 * broker: itself, with an empty host, for every partition). */
static void handle_leaders(struct dp_net *n, const struct src *s,
			   const uint8_t *f, size_t len, uint32_t corr)
{
	struct dp *dp = n->dp;
	uint16_t count;
	n->st.metadata++;
	int rc = sn_decode_leaders(f, len, &count);
	if (rc) {
		bad(n, DP_BAD_TRUNCATED_BODY);
		answer_error(n, s, SN_LEADERS, corr, (int16_t)-rc);
		return;
	}
	size_t cap = s->peer ? udp_frame_max(dp) : 4u << 20;
	struct dp_msg *m = answer_msg(n, s, SN_LEADERS, corr, cap);
	if (!m)
		return;
	bool clustered = dp_clustered(dp);
	int32_t self = dp->cfg.node_id;
	struct sn_leaders_builder b;
	sn_leaders_resp_begin(&b, m->resp, cap);
	if (clustered) {
		static _Thread_local struct dp_broker all[SIPC_BROKERS_MAX];
		unsigned nb = dp_brokers_all(dp, all, SIPC_BROKERS_MAX);
		for (unsigned i = 0; i < nb; i++) {
			struct sn_leaders_broker br = {
				all[i].node_id, all[i].native_port,
				all[i].udp_port, all[i].host,
				(uint16_t)strnlen(all[i].host, SN_HOST_MAX),
				all[i].udp_host,
				(uint16_t)strlen(all[i].udp_host) };
			sn_leaders_resp_broker(&b, &br);
		}
	} else {
		struct sn_leaders_broker br = { self, dp->tcp_port,
						dp->udp_port, "", 0, "", 0 };
		sn_leaders_resp_broker(&b, &br);
	}
	static _Thread_local int32_t leaders[SN_PARTITIONS_MAX];
	static _Thread_local int32_t epochs[SN_PARTITIONS_MAX];
	bool fenced = atomic_load_explicit(&dp->self_fenced,
					   memory_order_relaxed);
	size_t pos = SN_LEADERS_REQ_BYTES;
	for (unsigned i = 0; i < (count ? count : DP_MAX_TOPICS); i++) {
		struct dp_topic *t;
		struct sn_leaders_topic lt;
		memset(&lt, 0, sizeof(lt));
		if (count) {
			const char *name;
			uint16_t nl;
			if (sn_metadata_req_next(f, len, &pos, &name, &nl) != 1)
				break;
			t = dp_topic_by_name(dp, name, nl);
			lt.name = name;
			lt.name_len = nl;
			if (!t) {
				lt.error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				sn_leaders_resp_topic(&b, &lt, NULL, NULL);
				continue;
			}
		} else {
			/* acquire: pairs with dp_topic_put's release store */
			t = atomic_load_explicit(&dp->topics[i],
						 memory_order_acquire);
			if (!t || !atomic_load_explicit(&t->live,
							memory_order_acquire))
				continue;
			lt.name = t->name;
			lt.name_len = (uint16_t)strlen(t->name);
		}
		lt.topic_id = t->id;
		lt.partitions = t->partitions;
		for (int32_t p = 0; p < t->partitions; p++) {
			leaders[p] = self;
			epochs[p] = 0;
			if (!clustered)
				continue;
			struct dp_pview v;
			dp_pview_get(dp, &t->parts[p], &v);
			/* fenced: it leads nothing (as Metadata says) */
			leaders[p] = v.leader == self && fenced ? -1 : v.leader;
			epochs[p] = v.leader_epoch;
		}
		sn_leaders_resp_topic(&b, &lt, leaders, epochs);
	}
	long rl = sn_leaders_resp_finish(&b, corr, 0);
	if (rl < 0) {
		/* more than cap: a header alone says so */
		long el = sn_encode_error_resp(m->resp, cap, SN_LEADERS, corr,
					       SN_ERR_MESSAGE_TOO_LARGE);
		rl = el;
	}
	m->resp_len = rl > 0 ? (uint32_t)rl : 0;
	send_answer(n, m);
}

static void handle_admin(struct dp_net *n, const struct src *s,
			 const uint8_t *f, size_t len, uint32_t corr,
			 uint8_t opcode)
{
	n->st.admin++;
	struct dp_msg *m = request(n, s, corr, DP_ADMIN, len);
	if (!m) {
		answer_error(n, s, opcode, corr,
			     SN_ERR_THROTTLING_QUOTA_EXCEEDED);
		return;
	}
	int rc = dp_admin_submit(n->dp, m, DP_ADMIN_NATIVE, 0, f, len);
	if (rc) {
		m->res.error = rc == -EAGAIN ? SN_ERR_UNKNOWN_SERVER_ERROR :
					       SN_ERR_THROTTLING_QUOTA_EXCEEDED;
		done(n, m);
	}
}

static void handle_init_pid(struct dp_net *n, const struct src *s,
			    size_t len, uint32_t corr)
{
	n->st.init_pid++;
	uint8_t buf[SN_INIT_PID_RESP_BYTES];
	if (len != SN_INIT_PID_REQ_BYTES) {
		bad(n, DP_BAD_TRUNCATED_BODY);
		answer_error(n, s, SN_INIT_PRODUCER_ID, corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	int64_t pid = dp_producer_id(n->dp);
	if (pid < 0) {
		answer_error(n, s, SN_INIT_PRODUCER_ID, corr,
			     SN_ERR_KAFKA_STORAGE_ERROR);
		return;
	}
	long rl = sn_encode_init_pid_resp(buf, sizeof(buf), corr, 0, pid, 0);
	answer_now(n, s, corr, buf, (size_t)rl);
}

/* One whole frame (header valid, len bytes). */
static void handle_frame(struct dp_net *n, const struct src *s,
			 const uint8_t *f, size_t len,
			 const struct sn_header *h)
{
	n->st.frames++;
	n->st.frame_bytes += len;
	if (h->opcode & SN_RESPONSE) {
		bad(n, DP_BAD_RESPONSE_FRAME);
		answer_error(n, s, h->opcode & 0x7f, h->corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	if (s->peer && (h->opcode == SN_CREATE_TOPIC ||
			     h->opcode == SN_DELETE_TOPIC ||
			     h->opcode == SN_INIT_PRODUCER_ID ||
			     h->opcode == SN_QUEUE_RECEIVE ||
			     h->opcode == SN_QUEUE_ACK ||
			     h->opcode == SN_ROUTE)) {
		/* state changes need a connection: a datagram's source can
		 * be forged */
		n->st.udp_admin_refused++;
		answer_error(n, s, h->opcode, h->corr,
			     SN_ERR_UNSUPPORTED_VERSION);
		return;
	}
	switch (h->opcode) {
	case SN_PRODUCE:
		handle_produce(n, s, f, len, h->corr);
		break;
	case SN_FETCH:
		handle_fetch(n, s, f, len, h->corr);
		break;
	case SN_LIST_OFFSETS:
		handle_list(n, s, f, len, h->corr);
		break;
	case SN_METADATA:
		handle_metadata(n, s, f, len, h->corr);
		break;
	case SN_LEADERS:
		handle_leaders(n, s, f, len, h->corr);
		break;
	case SN_CREATE_TOPIC:
	case SN_DELETE_TOPIC:
	case SN_QUEUE_RECEIVE:
	case SN_QUEUE_ACK:
	case SN_ROUTE:
		handle_admin(n, s, f, len, h->corr, h->opcode);
		break;
	case SN_INIT_PRODUCER_ID:
		handle_init_pid(n, s, len, h->corr);
		break;
	default:
		bad(n, DP_BAD_UNKNOWN_OPCODE);
		answer_error(n, s, h->opcode, h->corr,
			     SN_ERR_UNSUPPORTED_VERSION);
	}
}

static void on_datagram(struct dp_net *n, const uint8_t *p, size_t len,
			const struct drv_peer *from)
{
	struct sn_header h;
	struct src s = { 0, from, (uint32_t)len };
	long fl = sn_header_parse(p, len, n->dp->cfg.udp_max_frame, &h);
	if (fl <= 0) {
		bad(n, fl == -SN_ERR_UNSUPPORTED_VERSION ?
			       DP_BAD_BAD_VERSION :
			       DP_BAD_BAD_MAGIC_OR_LENGTH);
		if (len >= SN_HEADER_BYTES && rb_be16(p) == SN_MAGIC)
			answer_error(n, &s, h.opcode & 0x7f, h.corr,
				     fl == 0 ? SN_ERR_INVALID_REQUEST :
					       (int16_t)-fl);
		return;
	}
	if ((size_t)fl != len) {
		bad(n, DP_BAD_UDP_LENGTH_MISMATCH);
		answer_error(n, &s, h.opcode & 0x7f, h.corr,
			     SN_ERR_INVALID_REQUEST);
		return;
	}
	handle_frame(n, &s, p, len, &h);
}

static int on_datagram_keep(struct dp_net *n, uint8_t *p, size_t len,
			    const struct drv_peer *from, void *token)
{
	struct sn_header h;
	struct src s = { 0, from, (uint32_t)len };
	long fl = sn_header_parse(p, len, n->dp->cfg.udp_max_frame, &h);
	/* only well-formed produce frames take the kept path */
	if (fl <= 0 || (size_t)fl != len || h.opcode != SN_PRODUCE)
		return 0;
	return produce_kept(n, &s, p, len, h.corr, token);
}

static long on_conn_data(struct dp_net *n, struct dp_conn *c,
			 const uint8_t *p, size_t len)
{
	uint32_t id = c->id;
	struct src s = { id, NULL, 0 };
	size_t used = 0;
	/* bounded: each frame consumes >= 16 bytes; the window stops us */
	while (!c->poisoned) {
		if (!dp_conn_room(n, c))
			break;
		struct sn_header h;
		long fl = sn_header_parse(p + used, len - used,
					  n->dp->cfg.tcp_max_frame, &h);
		if (fl == 0)
			break;
		if (fl < 0) {
			bad(n, fl == -SN_ERR_UNSUPPORTED_VERSION ?
				       DP_BAD_BAD_VERSION :
				       DP_BAD_BAD_MAGIC_OR_LENGTH);
			answer_error(n, &s, h.opcode & 0x7f, h.corr,
				     (int16_t)-fl);
			c = dp_conn_of(n, id);
			if (!c)
				return -1;
			dp_conn_poison(n, c);
			return (long)len; /* the rest is garbage */
		}
		if ((size_t)fl > len - used)
			break; /* the driver keeps the partial frame */
		handle_frame(n, &s, p + used, (size_t)fl, &h);
		used += (size_t)fl;
		c = dp_conn_of(n, id);
		if (!c)
			return -1;
	}
	return (long)used;
}

const struct dp_frontend dp_fe_native = {
	.name = "native",
	.conn_data = on_conn_data,
	.datagram = on_datagram,
	.datagram_keep = on_datagram_keep,
};
