/*
 * The Kafka protocol on the net core (docs/kafka.md): connections accepted
 * on kafka_port carry Kafka frames (int32 size, then a request), decoded by
 * the table-driven codec (proto/kafka/) and answered in request order
 * through the same per-connection window as the native protocol (net.c).
 *
 *   ApiVersions, Metadata, FindCoordinator, InitProducerId: answered here
 *     from the topic table and the configuration.
 *   Produce, Fetch, ListOffsets: a request becomes one share per partition,
 *     sent to the partition's storage core as the very messages the native
 *     protocol uses (DPM_PRODUCE, DPM_FETCH, DPM_LIST) with m->parent set;
 *     their native answers come back here (dp_kafka_sub_done) and, when
 *     the last share is in, one Kafka response is encoded.  Record batches
 *     are never re-encoded: a produced batch is stored byte for byte and a
 *     fetch returns the stored bytes.
 *   Consumer groups, committed offsets, CreateTopics, DeleteTopics,
 *     DescribeConfigs: the request bytes go to sluice-control over the
 *     control socket (proto/ipc.h SIPC_KAFKA) and its response bytes come
 *     back as they are; without a control connection the client's
 *     connection is closed (clients reconnect and retry).
 *
 * Fetch long-poll: the shares are read without waiting; when they hold
 * fewer than min_bytes and max_wait_ms has not passed, the request waits
 * on this core's list and is read again (all partitions) as soon as one of
 * its partitions' durable offsets passes the fetch offset, or at the
 * deadline.  While requests wait the core sleeps at most 1 ms.
 *
 * Consumers see what is durable: the high watermark is the durable offset
 * (what acks=all has acknowledged), so a consumer never reads a batch
 * that a crash could take back.
 *
 * Bad input (counted under dp_bad_names): a frame size below 8 or above
 * DP_KAFKA_MAX_REQUEST closes the connection at once; a request the codec
 * rejects (malformed, unknown key or version) closes it after the earlier
 * responses, as Kafka brokers do, except ApiVersions, which is answered
 * UNSUPPORTED_VERSION in the v0 format with the supported ranges so that
 * the client can downgrade.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "dataplane/net.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

#define KX_ARENA_BYTES (4u << 20) /* decoded arrays of one request */
#define KX_MAX_PARTS 16384        /* topics + partitions named by one request */

/* A partition named by a Produce, Fetch or ListOffsets request. */
struct kx_part {
	struct dp_partition *p; /* NULL: unknown topic or partition */
	int32_t index;
	int16_t error;
	int64_t offset;         /* produce: base offset; fetch: fetch offset;
				   list: the offset found */
	int64_t timestamp;      /* list: asked for */
	int64_t hw, log_start;
	uint32_t max_bytes;     /* fetch: partition_max_bytes */
	int64_t seen;           /* fetch: the partition's durable offset
				   when it was last read */
	struct dp_msg *sub;     /* fetch: the answered share (records) */
};

struct kx_topic {
	const char *name;       /* a copy, in the request's memory */
	int32_t name_len;
	uint32_t first, count;  /* its partitions in parts[] */
};

/* One Produce, Fetch or ListOffsets request in flight: the data area of a
 * DPM_KAFKA message, followed by its topics, partitions and names. */
struct kx_req {
	int16_t api, version;
	int32_t corr;
	uint32_t conn;
	uint32_t ntopics, nparts;
	uint32_t pending;       /* shares out at the cores */
	int16_t acks;
	int32_t timeout_ms;
	int32_t max_wait_ms, min_bytes, max_bytes;
	int16_t error;          /* fetch: the top-level error */
	uint64_t deadline_ns;   /* fetch: when waiting ends */
	uint64_t topic_gen;     /* dp->topic_gen when parts[].p were looked
				   up: a delete since may have freed them
				   (topics.c), kx_revalidate */
	struct dp_msg *wait_next;
	struct kx_topic *topics;
	struct kx_part *parts;
};

/*
 * A zero-copy Fetch answer: the message's resp holds everything but the
 * records (encoded with holes, kc_encode_response_ext), and the records
 * stay in the shares that read them.  Sent as pieces, in order: resp up to
 * the first hole, share 0's records, resp up to the next hole, ...  Each
 * records piece is its share's own driver buffer (released: the share is
 * freed); each piece of resp holds a reference on the chain, and the last
 * reference frees the chain and the message.
 */
struct dp_chain_piece {
	struct drv_buf b;
	struct dp_chain *ch;
};
struct dp_chain {
	struct dp_msg *m;
	uint32_t refs;          /* pieces of resp out, + 1 while sending */
	uint32_t nseq;
	int sent;               /* handed to the driver */
	struct drv_buf **seq;   /* all pieces in order */
	struct dp_msg **shares; /* the records pieces' owners */
	uint32_t nshares;
	struct dp_chain_piece *hdr;
};

static uint64_t arena_mem[KX_ARENA_BYTES / 8]; /* net core only */
static struct dp_msg *waiting;                  /* long-poll fetches */
static uint32_t nwaiting;
static uint64_t next_recheck_ns;
static const uint8_t empty_bytes[1];

static struct kx_req *kx_of(struct dp_msg *m)
{
	return (struct kx_req *)(void *)m->data;
}

static void bad(struct dp *dp, enum dp_bad why)
{
	dp->net.bad[why]++;
}

/* Encode the response body for request (api, version, corr) into a
 * message's response, size prefix included, and deliver it.  bound:
 * an upper bound on the encoded size. */
static void respond(struct dp *dp, struct dp_msg *m, int16_t api,
		    int16_t version, int32_t corr, const void *body,
		    size_t bound)
{
	struct kc_response_header rh = { corr };
	m->kind = DPM_READY;
	if (dp_msg_resp(dp, m, bound + 4)) {
		/* no memory for the answer: close rather than go silent */
		m->resp_len = 0;
		m->close_after = 1;
		dp_net_deliver(dp, m);
		return;
	}
	long n = kc_encode_response(api, version, &rh, body, m->resp + 4,
				    bound);
	if (n < 0) {
		dp_log("kafka: encoding api %d v%d failed: %ld", api, version,
		       n);
		m->resp_len = 0;
		m->close_after = 1;
	} else {
		rb_put32(m->resp, (uint32_t)n);
		m->resp_len = (uint32_t)n + 4;
	}
	dp_net_deliver(dp, m);
}

/* A small response computed at once: a message of its own in the window. */
static void respond_now(struct dp *dp, struct dp_conn *c, int16_t api,
			int16_t version, int32_t corr, const void *body,
			size_t bound)
{
	struct dp_msg *m = dp_net_msg(dp, DPT_TCP, c->id, NULL,
				      (uint32_t)corr, 0);
	if (!m) {
		dp->drv_ops->conn_close(dp->drv, c->id, 1);
		return;
	}
	respond(dp, m, api, version, corr, body, bound);
}

/* Close the connection after the responses already owed. */
static void poison(struct dp *dp, struct dp_conn *c)
{
	c->poisoned = 1;
	dp_conn_flush(dp, c);
}

/* ---- answered here ---- */

static void api_versions(struct dp *dp, struct dp_conn *c,
			 const struct kc_request_header *h, int16_t err)
{
	struct kc_api_version_key keys[64];
	size_t n = 0;
	const struct kc_api *api;
	for (size_t i = 0; (api = kc_api_at(i)) && n < 64; i++)
		keys[n++] = (struct kc_api_version_key){
			api->key, api->min_version, api->max_version };
	struct kc_api_versions_resp r = {
		.error_code = err,
		.api_keys = { keys, (int32_t)n },
	};
	/* an unsupported version is answered in v0, which every client
	 * reads */
	int16_t v = err ? 0 : h->api_version;
	respond_now(dp, c, KC_API_API_VERSIONS, v, h->correlation_id, &r,
		    64 + n * 8);
}

static void metadata(struct dp *dp, struct dp_conn *c,
		     const struct kc_request_header *h,
		     const struct kc_metadata_req *r, struct kc_arena *a)
{
	static struct kc_metadata_topic tops[DP_MAX_TOPICS];
	struct kc_metadata_broker self = {
		.node_id = dp->cfg.node_id,
		.host = { dp->cfg.kafka_advertised_host,
			  (int32_t)strlen(dp->cfg.kafka_advertised_host) },
		.port = dp->cfg.kafka_advertised_port ?
				dp->cfg.kafka_advertised_port : dp->kafka_port,
		.rack = { NULL, -1 },
	};
	int32_t node = dp->cfg.node_id;
	uint32_t nt = 0, nparts = 0;
	size_t bound = 256 + strlen(dp->cfg.kafka_advertised_host);
	const struct kc_metadata_req_topic *want = r->topics.items;
	uint32_t nwant = r->topics.count < 0 ? DP_MAX_TOPICS :
					       (uint32_t)r->topics.count;
	for (uint32_t i = 0; i < nwant && nt < DP_MAX_TOPICS; i++) {
		struct dp_topic *t;
		if (r->topics.count < 0) {
			/* acquire: pairs with dp_topic_put's release store */
			t = atomic_load_explicit(&dp->topics[i],
						 memory_order_acquire);
			if (!t || !atomic_load_explicit(&t->live,
							memory_order_acquire))
				continue;
		} else {
			t = dp_topic_by_name(dp, want[i].name.ptr,
					     (size_t)(want[i].name.len > 0 ?
						      want[i].name.len : 0));
		}
		struct kc_metadata_topic *o = &tops[nt++];
		memset(o, 0, sizeof(*o));
		o->topic_authorized_operations = INT32_MIN;
		if (!t) {
			o->error_code = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			o->name = want[i].name;
			bound += 64 + (size_t)(o->name.len > 0 ? o->name.len : 0);
			continue;
		}
		o->name = (struct kc_str){ t->name, (int32_t)strlen(t->name) };
		o->partitions.count = t->partitions;
		nparts += (uint32_t)t->partitions;
		bound += 64 + (size_t)o->name.len + (size_t)t->partitions * 48;
	}
	/* partitions: one array for all topics, in the arena after the
	 * decoded request */
	size_t at = (a->used + 7) & ~(size_t)7;
	struct kc_metadata_partition *ps = (void *)(a->base + at);
	if ((size_t)nparts * sizeof(*ps) > a->cap - at) {
		poison(dp, c);
		return;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < nt; i++) {
		struct kc_metadata_topic *o = &tops[i];
		if (o->error_code)
			continue;
		o->partitions.items = &ps[k];
		for (int32_t j = 0; j < o->partitions.count; j++, k++) {
			ps[k] = (struct kc_metadata_partition){
				.partition_index = j,
				.leader_id = node,
				.leader_epoch = 0,
				.replica_nodes = { &dp->cfg.node_id, 1 },
				.isr_nodes = { &dp->cfg.node_id, 1 },
				.offline_replicas = { NULL, 0 },
			};
		}
	}
	struct kc_metadata_resp resp = {
		.brokers = { &self, 1 },
		.cluster_id = { "sluice", 6 },
		.controller_id = node,
		.topics = { tops, (int32_t)nt },
		.cluster_authorized_operations = INT32_MIN,
	};
	dp->net.metadata++;
	respond_now(dp, c, KC_API_METADATA, h->api_version, h->correlation_id,
		    &resp, bound);
}

static void find_coordinator(struct dp *dp, struct dp_conn *c,
			     const struct kc_request_header *h,
			     const struct kc_find_coordinator_req *r)
{
	struct kc_find_coordinator_resp resp = {
		.error_message = { NULL, -1 },
		.node_id = dp->cfg.node_id,
		.host = { dp->cfg.kafka_advertised_host,
			  (int32_t)strlen(dp->cfg.kafka_advertised_host) },
		.port = dp->cfg.kafka_advertised_port ?
				dp->cfg.kafka_advertised_port : dp->kafka_port,
	};
	if (r->key_type != 0) {
		/* transaction coordinators: transactions are not offered */
		resp.error_code = SN_ERR_COORDINATOR_NOT_AVAILABLE;
		resp.error_message = (struct kc_str){
			"transactions are not supported", 30 };
		resp.node_id = -1;
		resp.host = (struct kc_str){ "", 0 };
		resp.port = -1;
	}
	respond_now(dp, c, KC_API_FIND_COORDINATOR, h->api_version,
		    h->correlation_id, &resp, 128 + (size_t)resp.host.len);
}

static void init_producer_id(struct dp *dp, struct dp_conn *c,
			     const struct kc_request_header *h,
			     const struct kc_init_producer_id_req *r)
{
	struct kc_init_producer_id_resp resp = { .producer_id = -1,
						 .producer_epoch = -1 };
	dp->net.init_pid++;
	if (r->transactional_id.len >= 0) {
		resp.error_code = SN_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	} else {
		int64_t pid = dp_producer_id(dp);
		if (pid < 0) {
			resp.error_code = SN_ERR_KAFKA_STORAGE_ERROR;
		} else {
			resp.producer_id = pid;
			resp.producer_epoch = 0;
		}
	}
	respond_now(dp, c, KC_API_INIT_PRODUCER_ID, h->api_version,
		    h->correlation_id, &resp, 64);
}

/* ---- forwarded to sluice-control ---- */

static void forward(struct dp *dp, struct dp_conn *c,
		    const struct kc_request_header *h, const uint8_t *f,
		    size_t len)
{
	/* acquire: pairs with the main thread's release store after
	 * SYNC_DONE */
	if (!atomic_load_explicit(&dp->control_synced, memory_order_acquire)) {
		bad(dp, DP_BAD_KAFKA_FORWARD);
		poison(dp, c);
		return;
	}
	struct dp_msg *m = dp_net_msg(dp, DPT_TCP, c->id, NULL,
				      (uint32_t)h->correlation_id, len);
	if (!m) {
		dp->drv_ops->conn_close(dp->drv, c->id, 1);
		return;
	}
	m->kind = DPM_ADMIN;
	m->kafka = 1;
	m->req = m->data;
	m->req_len = (uint32_t)len;
	memcpy(m->req, f, len);
	void *obj = m;
	dp->net.kafka_forwarded++;
	if (dp_ring_enqueue_burst(dp->admin_ring, &obj, 1) != 1) {
		m->kind = DPM_READY;
		m->resp_len = 0;
		m->close_after = 1;
		dp_net_deliver(dp, m);
		return;
	}
	dp_wake_fd(dp->main_wake_fd);
}

/* ---- fanned out to the storage cores ---- */

/* A DPM_KAFKA message with room for ntopics, nparts and names bytes. */
static struct dp_msg *kx_new(struct dp *dp, struct dp_conn *c,
			     const struct kc_request_header *h,
			     uint32_t ntopics, uint32_t nparts, size_t names)
{
	size_t bytes = sizeof(struct kx_req) +
		       ntopics * sizeof(struct kx_topic) +
		       nparts * sizeof(struct kx_part) + names;
	struct dp_msg *m = dp_net_msg(dp, DPT_TCP, c ? c->id : 0, NULL,
				      (uint32_t)h->correlation_id, bytes);
	if (!m)
		return NULL;
	m->kind = DPM_KAFKA;
	struct kx_req *x = kx_of(m);
	memset(x, 0, sizeof(*x));
	x->api = h->api_key;
	x->version = h->api_version;
	x->corr = h->correlation_id;
	x->conn = c ? c->id : 0;
	x->ntopics = ntopics;
	x->nparts = nparts;
	x->topics = (struct kx_topic *)(x + 1);
	x->parts = (struct kx_part *)(x->topics + ntopics);
	memset(x->topics, 0, ntopics * sizeof(struct kx_topic));
	memset(x->parts, 0, nparts * sizeof(struct kx_part));
	return m;
}

/* Copy topic t's name into the request's memory at *names. */
static void kx_name(struct kx_topic *t, struct kc_str name, char **names)
{
	int32_t n = name.len > 0 ? name.len : 0;
	memcpy(*names, name.ptr, (size_t)n);
	t->name = *names;
	t->name_len = n;
	*names += n;
}

/* A share for partition i of x (kind, data bytes), or NULL (budget). */
static struct dp_msg *kx_share(struct dp *dp, struct dp_msg *parent,
			       uint32_t i, int kind, size_t data)
{
	struct kx_req *x = kx_of(parent);
	struct dp_msg *s = dp_msg_alloc(dp, data);
	if (!s)
		return NULL;
	s->kind = (uint8_t)kind;
	s->transport = DPT_TCP;
	s->conn = x->conn;
	s->corr = (uint32_t)x->corr;
	s->parent = parent;
	s->kidx = i;
	return s;
}

static void kx_finish(struct dp *dp, struct dp_msg *m);

static void kx_send(struct dp *dp, struct dp_msg *m, struct kx_part *pp,
		    struct dp_msg *s)
{
	struct kx_req *x = kx_of(m);
	if (dp_net_to_core(dp, pp->p, s)) {
		dp->net.ring_full++;
		s->parent = NULL;
		dp_msg_free(s);
		pp->error = x->api == KC_API_PRODUCE ?
				    SN_ERR_NOT_ENOUGH_REPLICAS :
				    SN_ERR_REQUEST_TIMED_OUT;
		return;
	}
	x->pending++;
}

/* The partition entries of a request of that shape, in order. */
struct kx_iter {
	const struct kc_array *tops;
	size_t topic_size, parts_off, part_size;
	int32_t i, j; /* topic, partition within it */
};

static const void *kx_next(struct kx_iter *it)
{
	while (it->i < it->tops->count) {
		const uint8_t *t = (const uint8_t *)it->tops->items +
				   (size_t)it->i * it->topic_size;
		const struct kc_array *ps = (const void *)(t + it->parts_off);
		if (it->j < ps->count)
			return (const uint8_t *)ps->items +
			       (size_t)it->j++ * it->part_size;
		it->i++;
		it->j = 0;
	}
	return NULL;
}

#define KX_ITER(arr, topic_t, member, part_t) \
	{ (arr), sizeof(topic_t), offsetof(topic_t, member), sizeof(part_t), 0, 0 }

/*
 * Produce, Fetch and ListOffsets requests share a shape: an array of
 * topics, each a name (the first member) and an array of partitions at
 * parts_off, each partition starting with its int32 index.  kx_begin()
 * reads that shape once: it checks the counts, allocates the request's
 * message and fills its topics (names copied) and partitions (looked up;
 * UNKNOWN_TOPIC_OR_PARTITION where there is none).  NULL when the request
 * was answered already (malformed: the connection is closed after the
 * earlier answers; no memory: closed at once).
 */
static struct dp_msg *kx_begin(struct dp *dp, struct dp_conn *c,
			       const struct kc_request_header *h,
			       const struct kx_iter *shape)
{
	const struct kc_array *tops = shape->tops;
	size_t topic_size = shape->topic_size, parts_off = shape->parts_off;
	size_t part_size = shape->part_size;
	uint32_t nparts = 0;
	size_t names = 0;
	for (int32_t i = 0; i < tops->count; i++) {
		const uint8_t *t = (const uint8_t *)tops->items +
				   (size_t)i * topic_size;
		const struct kc_str *name = (const void *)t;
		const struct kc_array *ps = (const void *)(t + parts_off);
		names += (size_t)(name->len > 0 ? name->len : 0);
		nparts += (uint32_t)(ps->count > 0 ? ps->count : 0);
		if (nparts + (uint32_t)i > KX_MAX_PARTS)
			break;
	}
	if (tops->count < 0 || nparts + (uint32_t)tops->count > KX_MAX_PARTS) {
		bad(dp, DP_BAD_KAFKA_REQUEST);
		poison(dp, c);
		return NULL;
	}
	struct dp_msg *m = kx_new(dp, c, h, (uint32_t)tops->count, nparts,
				  names);
	if (!m) {
		/* nothing to answer with: the client reconnects */
		dp->net.budget_exhausted++;
		dp->drv_ops->conn_close(dp->drv, c->id, 1);
		return NULL;
	}
	struct kx_req *x = kx_of(m);
	char *namep = (char *)(x->parts + nparts);
	uint32_t k = 0;
	/* acquire, before the look-ups: pairs with dp_topic_delete's bump,
	 * so a topic deleted during them moves the generation */
	x->topic_gen = atomic_load_explicit(&dp->topic_gen,
					    memory_order_acquire);
	for (int32_t i = 0; i < tops->count; i++) {
		const uint8_t *t = (const uint8_t *)tops->items +
				   (size_t)i * topic_size;
		const struct kc_str *name = (const void *)t;
		const struct kc_array *ps = (const void *)(t + parts_off);
		struct dp_topic *dt = dp_topic_by_name(
			dp, name->ptr, (size_t)(name->len > 0 ? name->len : 0));
		x->topics[i].first = k;
		x->topics[i].count = (uint32_t)(ps->count > 0 ? ps->count : 0);
		kx_name(&x->topics[i], *name, &namep);
		for (int32_t j = 0; j < ps->count; j++, k++) {
			struct kx_part *pp = &x->parts[k];
			pp->index = *(const int32_t *)(const void *)(
				(const uint8_t *)ps->items + (size_t)j * part_size);
			pp->p = dt && pp->index >= 0 && pp->index < dt->partitions ?
					&dt->parts[pp->index] : NULL;
			pp->offset = pp->hw = pp->log_start = -1;
			if (!pp->p) {
				bad(dp, DP_BAD_UNKNOWN_TOPIC);
				pp->error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			}
		}
	}
	return m;
}

static void produce(struct dp *dp, struct dp_conn *c,
		    const struct kc_request_header *h,
		    const struct kc_produce_req *r)
{
	dp->net.produce++;
	int quiet = r->acks == 0;
	struct kx_iter it = KX_ITER(&r->topic_data, struct kc_produce_req_topic,
				    partition_data,
				    struct kc_produce_req_partition);
	struct dp_msg *m = kx_begin(dp, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	if (quiet) {
		/* acks=0: no answer, so no place in the answer order */
		dp_conn_of(c->id)->next_seq--;
	}
	x->acks = r->acks;
	int16_t all_err = 0;
	if (r->acks != 0 && r->acks != 1 && r->acks != -1) {
		bad(dp, DP_BAD_BAD_ACKS);
		all_err = SN_ERR_INVALID_REQUIRED_ACKS;
	} else if (r->transactional_id.len >= 0) {
		all_err = SN_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	}
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_produce_req_partition *e = kx_next(&it);
		const uint8_t *b = e->records.ptr;
		size_t blen = e->records.len > 0 ?
				      (size_t)e->records.len : 0;
		int16_t err = pp->error ? pp->error : all_err;
		int vrc;
		if (!err && blen > DP_BATCH_MAX_BYTES) {
			bad(dp, DP_BAD_BATCH_TOO_LARGE);
			err = SN_ERR_MESSAGE_TOO_LARGE;
		} else if (!err && blen < RB_HEADER_BYTES) {
			bad(dp, DP_BAD_BAD_BATCH);
			err = SN_ERR_CORRUPT_MESSAGE;
		} else if (!err && b[16] != 2) {
			bad(dp, DP_BAD_BAD_BATCH);
			err = SN_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
		} else if (!err &&
			   rb_frame_size(b, blen, blen) != (long)blen) {
			bad(dp, DP_BAD_BAD_BATCH);
			err = SN_ERR_INVALID_RECORD; /* not one batch */
		} else if (!err && (vrc = rb_validate(b, blen)) < 0) {
			bad(dp, dp_bad_of_batch(vrc));
			err = rb_error_code(vrc);
		}
		pp->error = err;
		if (err)
			continue;
		struct dp_msg *s = quiet ? dp_msg_alloc(dp, blen) :
					   kx_share(dp, m, k, DPM_PRODUCE,
						    blen);
		if (!s) {
			dp->net.budget_exhausted++;
			pp->error = SN_ERR_NOT_ENOUGH_REPLICAS;
			continue;
		}
		s->kind = DPM_PRODUCE;
		s->acks = r->acks;
		/* ms here; the core turns it into a deadline */
		s->deadline_ns = r->timeout_ms > 0 ?
					 (uint64_t)r->timeout_ms : 30000;
		s->req = s->data;
		s->req_len = (uint32_t)blen;
		memcpy(s->req, b, blen);
		if (quiet) {
			/* acks=0: freed by the core, never answered */
			s->transport = DPT_UDP;
			if (dp_net_to_core(dp, pp->p, s)) {
				dp->net.ring_full++;
				dp_msg_free(s);
			}
			continue;
		}
		kx_send(dp, m, pp, s);
	}
	if (quiet)
		dp_msg_free(m);
	else if (x->pending == 0)
		kx_finish(dp, m);
}

/* A request kept past the cycle it was parsed in (a long-poll fetch):
 * when a topic was deleted since its partitions were looked up, the
 * pointers may be freed (topics.c): look them up again by name, and a
 * partition that is gone or not the same any more is unknown. */
static void kx_revalidate(struct dp *dp, struct kx_req *x)
{
	uint64_t gen = atomic_load_explicit(&dp->topic_gen,
					    memory_order_acquire);
	if (gen == x->topic_gen)
		return;
	x->topic_gen = gen;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		const struct kx_topic *t = &x->topics[i];
		struct dp_topic *dt = dp_topic_by_name(dp, t->name,
						       (size_t)t->name_len);
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			struct dp_partition *now =
				dt && pp->index >= 0 && pp->index < dt->partitions ?
					&dt->parts[pp->index] : NULL;
			if (pp->p && pp->p != now) {
				pp->p = NULL;
				pp->error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			}
		}
	}
}

/* Issue the fetch shares of x (again, after a wait). */
static void fetch_issue(struct dp *dp, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	kx_revalidate(dp, x);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		if (pp->sub) {
			pp->sub->parent = NULL;
			dp_msg_free(pp->sub);
			pp->sub = NULL;
		}
		if (!pp->p || (pp->error &&
			       pp->error != SN_ERR_REQUEST_TIMED_OUT))
			continue;
		pp->error = 0;
		pp->seen = pp->p->durable_offset;
		struct dp_msg *s = kx_share(dp, m, k, DPM_FETCH, 0);
		if (!s) {
			dp->net.budget_exhausted++;
			continue; /* answered empty; the client fetches again */
		}
		s->fetch = (struct sn_fetch){
			.topic_id = pp->p->topic->id,
			.partition = pp->index,
			.offset = pp->offset,
			.max_bytes = pp->max_bytes,
			.max_wait_ms = 0,
			.min_bytes = 0,
			.isolation = 0, /* durable only */
		};
		kx_send(dp, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(dp, m);
}

static void fetch(struct dp *dp, struct dp_conn *c,
		  const struct kc_request_header *h,
		  const struct kc_fetch_req *r)
{
	dp->net.fetch++;
	struct kx_iter it = KX_ITER(&r->topics, struct kc_fetch_req_topic,
				    partitions, struct kc_fetch_req_partition);
	struct dp_msg *m = kx_begin(dp, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	x->max_wait_ms = r->max_wait_ms > 0 ? r->max_wait_ms : 0;
	x->min_bytes = r->min_bytes > 0 ? r->min_bytes : 0;
	x->max_bytes = r->max_bytes > 0 ? r->max_bytes : INT32_MAX;
	x->deadline_ns = dp_now_ns() + (uint64_t)x->max_wait_ms * 1000000ull;
	/* sessions are declined (session_id 0 in every answer); a client
	 * that names one it was never given must start over */
	int16_t all_err = r->session_id != 0 || r->session_epoch > 0 ?
				  SN_ERR_FETCH_SESSION_ID_NOT_FOUND : 0;
	uint64_t records_max = 0;
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_fetch_req_partition *e = kx_next(&it);
		pp->offset = e->fetch_offset;
		uint32_t mb = e->partition_max_bytes > 0 ?
				      (uint32_t)e->partition_max_bytes : 1;
		pp->max_bytes = mb < DP_FETCH_MAX_BYTES ? mb : DP_FETCH_MAX_BYTES;
		records_max += pp->max_bytes;
		if (all_err)
			pp->error = all_err;
	}
	/* the answer's records count against the connection's unsent cap
	 * until it is sent (dp_conn_room) */
	if (records_max > (uint64_t)x->max_bytes)
		records_max = (uint64_t)x->max_bytes;
	dp_conn_reserve(c, m, records_max + 64 + 64ull * x->nparts);
	if (all_err) {
		x->error = all_err;
		x->max_wait_ms = 0;
		kx_finish(dp, m);
		return;
	}
	fetch_issue(dp, m);
}

static void list_offsets(struct dp *dp, struct dp_conn *c,
			 const struct kc_request_header *h,
			 const struct kc_list_offsets_req *r)
{
	dp->net.list_offsets++;
	struct kx_iter it = KX_ITER(&r->topics, struct kc_list_offsets_req_topic,
				    partitions,
				    struct kc_list_offsets_req_partition);
	struct dp_msg *m = kx_begin(dp, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_list_offsets_req_partition *e = kx_next(&it);
		pp->timestamp = e->timestamp;
		if (pp->error)
			continue;
		struct dp_msg *s = kx_share(dp, m, k, DPM_LIST, 0);
		if (!s) {
			dp->net.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		s->timestamp = pp->timestamp;
		kx_send(dp, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(dp, m);
}

/* A share's native answer, folded into its partition of the request. */
void dp_kafka_sub_done(struct dp *dp, struct dp_msg *s)
{
	struct dp_msg *m = s->parent;
	struct kx_req *x = kx_of(m);
	struct kx_part *pp = &x->parts[s->kidx];
	struct sn_header h;
	int keep = 0;
	long n = s->resp_len ? sn_header_parse(s->resp, s->resp_len,
					       s->resp_len, &h) : -1;
	if (n <= 0) {
		pp->error = SN_ERR_UNKNOWN_SERVER_ERROR;
	} else if (h.error) {
		pp->error = h.error;
		if (h.error == SN_ERR_THROTTLING_QUOTA_EXCEEDED)
			pp->error = x->api == KC_API_PRODUCE ?
					    SN_ERR_NOT_ENOUGH_REPLICAS :
					    SN_ERR_REQUEST_TIMED_OUT;
		if (x->api == KC_API_PRODUCE) {
			struct sn_produce_resp pr;
			if (!sn_decode_produce_resp(s->resp, s->resp_len, &pr))
				pp->log_start = pr.log_start_offset;
		}
	} else if (x->api == KC_API_PRODUCE) {
		struct sn_produce_resp pr;
		if (sn_decode_produce_resp(s->resp, s->resp_len, &pr)) {
			pp->error = SN_ERR_UNKNOWN_SERVER_ERROR;
		} else {
			pp->offset = pr.base_offset;
			pp->log_start = pr.log_start_offset;
		}
	} else if (x->api == KC_API_FETCH) {
		struct sn_fetch_resp fr;
		if (sn_decode_fetch_resp(s->resp, s->resp_len, &fr)) {
			pp->error = SN_ERR_UNKNOWN_SERVER_ERROR;
		} else {
			pp->hw = fr.high_watermark;
			pp->log_start = fr.log_start_offset;
			pp->sub = s; /* its records go out with the answer */
			keep = 1;
		}
	} else {
		struct sn_list_offsets_resp lr;
		if (sn_decode_list_offsets_resp(s->resp, s->resp_len, &lr))
			pp->error = SN_ERR_UNKNOWN_SERVER_ERROR;
		else
			pp->offset = lr.offset;
	}
	if (!keep) {
		s->parent = NULL;
		dp_msg_free(s);
	}
	if (--x->pending == 0)
		kx_finish(dp, m);
}

static size_t fetch_records(const struct kx_part *pp, const uint8_t **rec)
{
	if (!pp->sub || pp->sub->resp_len <= SN_FETCH_RESP_BYTES) {
		*rec = empty_bytes;
		return 0;
	}
	*rec = pp->sub->resp + SN_FETCH_RESP_BYTES;
	return pp->sub->resp_len - SN_FETCH_RESP_BYTES;
}

static void free_shares(struct kx_req *x)
{
	for (uint32_t k = 0; k < x->nparts; k++)
		if (x->parts[k].sub) {
			x->parts[k].sub->parent = NULL;
			dp_msg_free(x->parts[k].sub);
			x->parts[k].sub = NULL;
		}
}

static void finish_produce(struct dp *dp, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_produce_resp_topic *ts = (void *)arena_mem;
	struct kc_produce_resp_partition *ps = (void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].name = (struct kc_str){ t->name, t->name_len };
		ts[i].partition_responses = (struct kc_array){
			&ps[t->first], (int32_t)t->count };
		bound += 16 + (size_t)t->name_len + t->count * 48;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			memset(&ps[k], 0, sizeof(ps[k]));
			ps[k].index = pp->index;
			ps[k].error_code = pp->error;
			ps[k].base_offset = pp->error ? -1 : pp->offset;
			ps[k].log_append_time_ms = -1;
			ps[k].log_start_offset = pp->p ? pp->log_start : -1;
			ps[k].error_message = (struct kc_str){ NULL, -1 };
		}
	}
	struct kc_produce_resp r = {
		.responses = { ts, (int32_t)x->ntopics },
		.throttle_time_ms = 0,
	};
	respond(dp, m, x->api, x->version, x->corr, &r, bound);
}

static void share_release(struct drv_buf *b)
{
	dp_msg_free((struct dp_msg *)b); /* out is a dp_msg's first member */
}

static void chain_unref(struct dp_chain *ch)
{
	if (--ch->refs)
		return;
	struct dp_msg *m = ch->m;
	m->chain = NULL;
	free(ch);
	dp_msg_free(m);
}

static void piece_release(struct drv_buf *b)
{
	chain_unref(((struct dp_chain_piece *)b)->ch);
}

void dp_chain_free(struct dp_chain *ch)
{
	/* never sent: the shares were not handed to the driver */
	for (uint32_t i = 0; !ch->sent && i < ch->nshares; i++)
		dp_msg_free(ch->shares[i]);
	free(ch);
}

void dp_kafka_chain_send(struct dp *dp, uint32_t conn, struct dp_msg *m)
{
	struct dp_chain *ch = m->chain;
	ch->sent = 1;
	ch->refs++; /* ours: a piece released at once (connection gone)
		       must not free the chain under this loop */
	for (uint32_t i = 0; i < ch->nseq; i++)
		dp->drv_ops->conn_send(dp->drv, conn, ch->seq[i]);
	chain_unref(ch);
}

/* Turn m (resp encoded with holes at at[0..n)) and the shares holding the
 * records into a chain.  0, or -ENOMEM (then nothing changed). */
static int chain_build(struct dp_msg *m, size_t head, const size_t *at,
		       const size_t *len, struct dp_msg *const *owners,
		       const uint8_t *const *recs, uint32_t n)
{
	size_t bytes = sizeof(struct dp_chain) +
		       (2 * (size_t)n + 1) * sizeof(struct drv_buf *) +
		       n * sizeof(struct dp_msg *) +
		       ((size_t)n + 1) * sizeof(struct dp_chain_piece);
	struct dp_chain *ch = calloc(1, bytes);
	if (!ch)
		return -ENOMEM;
	ch->m = m;
	ch->seq = (struct drv_buf **)(ch + 1);
	ch->shares = (struct dp_msg **)(ch->seq + 2 * (size_t)n + 1);
	ch->hdr = (struct dp_chain_piece *)(ch->shares + n);
	size_t from = 0;
	for (uint32_t i = 0; i <= n; i++) {
		size_t to = i < n ? head + at[i] : m->resp_len;
		if (to > from) {
			struct dp_chain_piece *pc = &ch->hdr[i];
			pc->b.data = m->resp + from;
			pc->b.len = (uint32_t)(to - from);
			pc->b.release = piece_release;
			pc->ch = ch;
			ch->seq[ch->nseq++] = &pc->b;
			ch->refs++;
		}
		from = to;
		if (i == n)
			break;
		struct dp_msg *s = owners[i];
		s->parent = NULL;
		s->out.data = (uint8_t *)recs[i];
		s->out.len = (uint32_t)len[i];
		s->out.release = share_release;
		s->out.off = 0;
		ch->seq[ch->nseq++] = &s->out;
		ch->shares[ch->nshares++] = s;
	}
	m->chain = ch;
	return 0;
}

static void finish_fetch(struct dp *dp, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_fetch_resp_topic *ts = (void *)arena_mem;
	struct kc_fetch_resp_partition *ps = (void *)(ts + x->ntopics);
	/* the holes: where each partition's records go, and whose they are */
	size_t *at = (size_t *)(ps + x->nparts);
	size_t *len = at + x->nparts;
	struct dp_msg **owners = (struct dp_msg **)(len + x->nparts);
	const uint8_t **recs = (const uint8_t **)(owners + x->nparts);
	uint32_t nholes = 0;
	size_t bound = 64, total = 0;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].topic = (struct kc_str){ t->name, t->name_len };
		ts[i].partitions = (struct kc_array){ &ps[t->first],
						      (int32_t)t->count };
		bound += 16 + (size_t)t->name_len + t->count * 64;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			const uint8_t *rec;
			size_t n = fetch_records(pp, &rec);
			/* max_bytes bounds the answer, but the first batch
			 * goes out whole so that a consumer always moves */
			if (total && total + n > (size_t)x->max_bytes)
				n = 0;
			total += n;
			memset(&ps[k], 0, sizeof(ps[k]));
			ps[k].partition_index = pp->index;
			ps[k].error_code = pp->error;
			ps[k].high_watermark = pp->hw;
			ps[k].last_stable_offset = pp->hw;
			ps[k].log_start_offset = pp->log_start;
			ps[k].aborted_transactions = (struct kc_array){ NULL, 0 };
			ps[k].preferred_read_replica = -1;
			ps[k].records = (struct kc_bytes){ empty_bytes, 0 };
			if (n) {
				/* sent from the share that read it */
				ps[k].records = (struct kc_bytes){
					KC_BYTES_EXTERNAL, (int32_t)n };
				owners[nholes] = pp->sub;
				recs[nholes] = rec;
				nholes++;
				pp->sub = NULL; /* the chain's from now on */
			}
		}
	}
	struct kc_fetch_resp r = {
		.throttle_time_ms = 0,
		.error_code = x->error,
		.session_id = 0,
		.responses = { ts, (int32_t)x->ntopics },
	};
	struct kc_response_header rh = { x->corr };
	struct kc_holes holes = { at, len, 0, nholes };
	m->kind = DPM_READY;
	long n = -ENOMEM;
	if (!dp_msg_resp(dp, m, bound + 4))
		n = kc_encode_response_ext(x->api, x->version, &rh,
					   (const void *)&r, m->resp + 4,
					   bound, &holes);
	if (n >= 0) {
		rb_put32(m->resp, (uint32_t)((size_t)n + total));
		m->resp_len = (uint32_t)n + 4;
		if (nholes && chain_build(m, 4, at, len, owners, recs, nholes))
			n = -ENOMEM;
	}
	if (n < 0) {
		for (uint32_t h = 0; h < nholes; h++) {
			owners[h]->parent = NULL;
			dp_msg_free(owners[h]);
		}
		dp_log("kafka: fetch answer not built: %ld", n);
		m->resp_len = 0;
		m->close_after = 1;
	}
	free_shares(x); /* those whose records did not fit */
	dp_net_deliver(dp, m);
}

static void finish_list(struct dp *dp, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_list_offsets_resp_topic *ts = (void *)arena_mem;
	struct kc_list_offsets_resp_partition *ps = (void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].name = (struct kc_str){ t->name, t->name_len };
		ts[i].partitions = (struct kc_array){ &ps[t->first],
						      (int32_t)t->count };
		bound += 16 + (size_t)t->name_len + t->count * 48;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			memset(&ps[k], 0, sizeof(ps[k]));
			ps[k].partition_index = pp->index;
			ps[k].error_code = pp->error;
			ps[k].old_style_offsets = (struct kc_array){ NULL, 0 };
			/* the found record's time is not kept: -1 */
			ps[k].timestamp = -1;
			ps[k].offset = pp->error ? -1 : pp->offset;
			ps[k].leader_epoch = pp->error ? -1 : 0;
		}
	}
	struct kc_list_offsets_resp r = {
		.topics = { ts, (int32_t)x->ntopics },
	};
	respond(dp, m, x->api, x->version, x->corr, &r, bound);
}

/* Bytes the fetch shares hold. */
static size_t fetch_bytes(const struct kx_req *x)
{
	size_t total = 0;
	const uint8_t *rec;
	for (uint32_t k = 0; k < x->nparts; k++)
		total += fetch_records(&x->parts[k], &rec);
	return total;
}

/* Every share of m is in: answer, or (fetch) wait for more data. */
static void kx_finish(struct dp *dp, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	switch (x->api) {
	case KC_API_PRODUCE:
		finish_produce(dp, m);
		return;
	case KC_API_FETCH:
		if (x->max_wait_ms > 0 && fetch_bytes(x) < (size_t)(x->min_bytes ? x->min_bytes : 1) &&
		    dp_now_ns() < x->deadline_ns && dp_conn_of(x->conn)) {
			free_shares(x);
			x->wait_next = waiting;
			waiting = m;
			nwaiting++;
			dp->net.kafka_waits++;
			return;
		}
		finish_fetch(dp, m);
		return;
	default:
		finish_list(dp, m);
		return;
	}
}

/* ---- long-poll fetches ---- */

int dp_kafka_waiting(void)
{
	return waiting != NULL;
}

/* Has any partition of x moved since it was read?  (Not "is there data
 * at the fetch offset": with min_bytes above what is there, that would
 * re-read the same bytes until the deadline.) */
static int fetch_ready(const struct kx_req *x)
{
	for (uint32_t k = 0; k < x->nparts; k++) {
		const struct kx_part *pp = &x->parts[k];
		/* plain read of a counter the owner refreshes each
		 * millisecond (as telemetry does) */
		if (pp->p && !pp->error && pp->p->durable_offset != pp->seen)
			return 1;
	}
	return 0;
}

int dp_kafka_do_work(struct dp *dp)
{
	if (!waiting)
		return 0;
	uint64_t now = dp_now_ns();
	if (now < next_recheck_ns)
		return 0;
	next_recheck_ns = now + 500000; /* every 0.5 ms at most */
	int work = 0;
	struct dp_msg **pm = &waiting;
	/* bounded: each pass visits every waiting request once */
	for (uint32_t seen = 0; *pm && seen < nwaiting + 1; seen++) {
		struct dp_msg *m = *pm;
		struct kx_req *x = kx_of(m);
		int gone = !dp_conn_of(x->conn);
		int due = now >= x->deadline_ns;
		kx_revalidate(dp, x); /* before fetch_ready reads parts[].p */
		if (!gone && !due && !fetch_ready(x)) {
			pm = &x->wait_next;
			continue;
		}
		*pm = x->wait_next;
		nwaiting--;
		work++;
		if (gone) {
			dp_msg_free(m);
			continue;
		}
		if (due)
			x->max_wait_ms = 0; /* this read is the answer */
		fetch_issue(dp, m);	/* revalidates first */
	}
	return work;
}

/* ---- frames ---- */

static void request(struct dp *dp, struct dp_conn *c, const uint8_t *f,
		    size_t len)
{
	struct kc_request_header h;
	union kc_request body;
	struct kc_arena a = { (uint8_t *)arena_mem, sizeof(arena_mem), 0 };
	dp->net.kafka_requests++;
	dp->net.frames++;
	dp->net.frame_bytes += len + 4;
	long rc = kc_decode_request(f, len, &h, &body, &a);
	if (rc == -SN_ERR_UNSUPPORTED_VERSION && len >= 8 &&
	    h.api_key == KC_API_API_VERSIONS) {
		bad(dp, DP_BAD_KAFKA_VERSION);
		api_versions(dp, c, &h, SN_ERR_UNSUPPORTED_VERSION);
		return;
	}
	if (rc < 0) {
		if (rc == -SN_ERR_UNSUPPORTED_VERSION) {
			bad(dp, DP_BAD_KAFKA_VERSION);
			dp_log("kafka: unsupported request: api key %d "
			       "version %d (client %.*s); closing the "
			       "connection", h.api_key, h.api_version,
			       h.client_id.len > 0 ? (int)h.client_id.len : 0,
			       h.client_id.ptr ? h.client_id.ptr : "");
		} else {
			bad(dp, DP_BAD_KAFKA_REQUEST);
		}
		poison(dp, c);
		return;
	}
	switch (h.api_key) {
	case KC_API_API_VERSIONS:
		api_versions(dp, c, &h, 0);
		break;
	case KC_API_METADATA:
		metadata(dp, c, &h, &body.metadata, &a);
		break;
	case KC_API_FIND_COORDINATOR:
		find_coordinator(dp, c, &h, (const void *)&body);
		break;
	case KC_API_INIT_PRODUCER_ID:
		init_producer_id(dp, c, &h, (const void *)&body);
		break;
	case KC_API_PRODUCE:
		produce(dp, c, &h, (const void *)&body);
		break;
	case KC_API_FETCH:
		fetch(dp, c, &h, (const void *)&body);
		break;
	case KC_API_LIST_OFFSETS:
		list_offsets(dp, c, &h, &body.list_offsets);
		break;
	default:
		/* groups, offsets, topic admin, configs */
		forward(dp, c, &h, f, len);
		break;
	}
}

long dp_kafka_conn_data(struct dp *dp, struct dp_conn *c, const uint8_t *p,
			size_t len)
{
	uint32_t id = c->id;
	size_t used = 0;
	/* bounded: each frame consumes >= 12 bytes; the window stops us */
	while (!c->poisoned) {
		if (!dp_conn_room(dp, c))
			break;
		if (len - used < 4)
			break;
		uint32_t size = rb_be32(p + used);
		if (size < 8 || size > DP_KAFKA_MAX_REQUEST ||
		    size > dp->cfg.tcp_max_frame) {
			bad(dp, DP_BAD_KAFKA_FRAME);
			return -1; /* not Kafka, or too big to ever take */
		}
		if (len - used - 4 < size)
			break; /* the driver keeps the partial frame */
		request(dp, c, p + used + 4, size);
		used += 4 + (size_t)size;
		c = dp_conn_of(id);
		if (!c)
			return -1;
	}
	return (long)used;
}
