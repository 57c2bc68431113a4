/*
 * The Kafka protocol's front-end (docs/kafka.md): connections accepted on
 * kafka_port carry Kafka frames (int32 size, then a request), decoded by
 * the table-driven codec (proto/kafka/) into typed requests (request.h)
 * and answered in request order through the connection layer (conn.h).
 *
 *   ApiVersions, Metadata, FindCoordinator, InitProducerId: answered here
 *     from the topic table and the configuration.  A Metadata request
 *     naming topics that do not exist may first have sluice-control
 *     create them (auto_create_topics: a CreateTopics request of ours,
 *     metadata_create), and is answered when control has.
 *   Produce, Fetch, ListOffsets (and the other partition APIs, among them
 *     WriteTxnMarkers: DP_WRITE_MARKER): a request becomes one share per
 *     partition, a typed request (DP_PRODUCE, DP_FETCH, DP_LIST_OFFSETS) with
 *     m->owner set, sent to the partition's storage core; their typed
 *     results come back here (share_done) and, when the last share is in,
 *     one Kafka response is encoded.  Record batches are never re-encoded:
 *     a produced batch is stored byte for byte and a fetch returns the
 *     stored bytes, sent from the share that read them.  The old message
 *     formats are converted: a Produce v0-2 message set becomes one batch
 *     (produce_records), and Fetch v0-3 gets the batches as a message set
 *     (fetch_downconvert), copied into the answer.
 *   Consumer groups, committed offsets, CreateTopics, DeleteTopics,
 *     DescribeConfigs: the request bytes go to sluice-control (a DP_ADMIN
 *     request, dp_admin_submit; proto/ipc.h SIPC_KAFKA) and its response
 *     bytes come back as they are; without a control connection the
 *     client's connection is closed (clients reconnect and retry).
 *
 * Fetch long-poll: the shares are read without waiting; when they hold
 * fewer than min_bytes and max_wait_ms has not passed, the request waits
 * on this core's list and is read again (all partitions) as soon as one of
 * its partitions' durable offsets passes the fetch offset, or at the
 * deadline.  While requests wait the core sleeps at most 1 ms.  The
 * waiting list and the decoding arena are per net core (struct kx_core).
 *
 * Consumers see what is durable: the high watermark is the durable offset
 * (what acks=all has acknowledged), so a consumer never reads a batch
 * that a crash could take back.
 *
 * Bad input (counted under dp_bad_names): a frame size below 8 or above
 * KX_MAX_REQUEST closes the connection at once; a request the codec
 * rejects (malformed, unknown key or version) closes it after the earlier
 * responses, as Kafka brokers do, except ApiVersions, which is answered
 * UNSUPPORTED_VERSION in the v0 format with its own supported range so
 * that the client can downgrade.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "dataplane/batch.h"
#include "dataplane/conn.h"
#include "dataplane/net.h"
#include "proto/kafka/kcodec.h"
#include "proto/msgset.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"

#define KX_ARENA_BYTES (4u << 20) /* decoded arrays of one request */
/* Kafka request frames larger than this are refused (connection closed). */
#define KX_MAX_REQUEST (100u << 20)
#define KX_MAX_PARTS 16384        /* topics + partitions named by one request */

/* Kafka error codes the native table (proto/native.h) has no name for. */
#define KX_ERR_UNSUPPORTED_COMPRESSION_TYPE 76
#define KX_ERR_UNKNOWN_TOPIC_ID 100
#define KX_ERR_LEADER_NOT_AVAILABLE 5
#define KX_CODEC_ZSTD 4 /* a batch's attributes & RB_ATTR_COMPRESSION_MASK */

/* A partition named by a Produce, Fetch or ListOffsets request. */
struct kx_part {
	struct dp_partition *p; /* NULL: unknown topic or partition */
	int32_t index;
	int16_t error;
	int64_t offset;         /* produce: base offset; fetch: fetch offset;
				   list: the offset found */
	int64_t timestamp;      /* list: asked for */
	int64_t found_ts;       /* list: the found record's, -1: none */
	int64_t hw, log_start;
	int64_t lso;            /* fetch: the last stable offset */
	uint32_t max_bytes;     /* fetch: partition_max_bytes */
	int32_t max_offsets;    /* list v0: max_num_offsets */
	int64_t seen;           /* fetch: the partition's high watermark
				   (a follower: log end) when it was last
				   read */
	int32_t cle;            /* the client's current_leader_epoch, -1 */
	int32_t leader_epoch;   /* the partition's, as its core answered */
	struct dp_msg *sub;     /* fetch: the answered share (its records) */
};

struct kx_topic {
	const char *name;       /* a copy, in the request's memory; empty
				   when named by id */
	int32_t name_len;
	uint32_t first, count;  /* its partitions in parts[] */
	uint32_t id;            /* named by id (Fetch, Produce v13+): the
				   topic's, 0 for an id that is none of ours */
	struct kc_uuid uuid;    /* named by id: the id asked for */
};

/* One Produce, Fetch or ListOffsets request in flight: the data area of a
 * message of the connection, followed by its topics, partitions and
 * names; its shares point back to that message (m->owner). */
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
	int8_t isolation;       /* fetch: the client's isolation_level */
	int32_t replica_id;     /* fetch: a follower's node id, else -1 */
	uint8_t by_id;          /* topics named by id (Fetch, Produce v13+) */
	uint32_t nmarkers;      /* WriteTxnMarkers: its markers (struct
				   kx_marker), after parts[] */
	uint8_t told;           /* WriteTxnMarkers: control's group
				   coordinator was told (tell_coordinator) */
	uint64_t deadline_ns;   /* fetch: when waiting ends */
	uint64_t topic_gen;     /* dp->topic_gen when parts[].p were looked
				   up: a delete since may have freed them
				   (topics.c), kx_revalidate */
	struct dp_msg *wait_next;
	struct kx_topic *topics;
	struct kx_part *parts;
};

/* This front-end's state on one net core. */
struct kx_core {
	uint64_t arena_mem[KX_ARENA_BYTES / 8]; /* a request's decoded arrays,
						   then its answer's */
	struct kc_metadata_topic tops[DP_MAX_TOPICS]; /* a Metadata answer */
	struct dp_msg *waiting;                 /* long-poll fetches */
	uint32_t nwaiting;
	uint64_t next_recheck_ns;
};

static const uint8_t empty_bytes[1];

static struct kx_core *kx_core_of(struct dp_net *n)
{
	return dp_net_priv(n, &dp_fe_kafka);
}

static struct kx_req *kx_of(struct dp_msg *m)
{
	return (struct kx_req *)(void *)m->data;
}

static void bad(struct dp_net *n, enum dp_bad why)
{
	n->st.bad[why]++;
}

/* Encode the response body for request (api, version, corr) into a
 * message's response, size prefix included, and deliver it.  bound:
 * an upper bound on the encoded size. */
static void respond(struct dp_net *n, struct dp_msg *m, int16_t api,
		    int16_t version, int32_t corr, const void *body,
		    size_t bound)
{
	struct kc_response_header rh = { corr };
	if (dp_msg_resp(n->dp, m, bound + 4)) {
		/* no memory for the answer: close rather than go silent */
		m->resp_len = 0;
		m->close_after = 1;
		dp_conn_deliver(n, m);
		return;
	}
	long len = kc_encode_response(api, version, &rh, body, m->resp + 4,
				      bound);
	if (len < 0) {
		dp_log("kafka: encoding api %d v%d failed: %ld", api, version,
		       len);
		m->resp_len = 0;
		m->close_after = 1;
	} else {
		rb_put32(m->resp, (uint32_t)len);
		m->resp_len = (uint32_t)len + 4;
	}
	dp_conn_deliver(n, m);
}

/* A small response computed at once: a message of its own in the window. */
static void respond_now(struct dp_net *n, struct dp_conn *c, int16_t api,
			int16_t version, int32_t corr, const void *body,
			size_t bound)
{
	struct dp_msg *m = dp_conn_msg(n, c->id, NULL, 0, (uint32_t)corr, 0);
	if (!m) {
		dp_conn_abort(n, c->id);
		return;
	}
	respond(n, m, api, version, corr, body, bound);
}

/* Close the connection after the responses already owed. */
static void poison(struct dp_net *n, struct dp_conn *c)
{
	dp_conn_poison(n, c);
}

/* ---- answered here ---- */

/* Kafka's rule for v3+'s client software name and version (its
 * ApiVersionsRequest.isValid): [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool kx_software_valid(struct kc_str s)
{
	if (s.len <= 0)
		return false;
	for (int32_t i = 0; i < s.len; i++) {
		char ch = s.ptr[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		bool inner = i > 0 && i < s.len - 1 && (ch == '-' || ch == '.');
		if (!alnum && !inner)
			return false;
	}
	return true;
}

/*
 * ApiVersions, as Kafka answers it: the served ranges; a v3+ request whose
 * client software name or version breaks Kafka's pattern gets
 * INVALID_REQUEST and no ranges; an unsupported version (err) is answered
 * in v0 with UNSUPPORTED_VERSION and the range of ApiVersions alone
 * (KIP-511), so that the client can retry at a version we serve.
 */
static void api_versions(struct dp_net *n, struct dp_conn *c,
			 const struct kc_request_header *h,
			 const struct kc_api_versions_req *q, int16_t err)
{
	struct kc_api_version_key keys[64];
	size_t nk = 0;
	const struct kc_api *api;
	if (!err && h->api_version >= 3 &&
	    (!kx_software_valid(q->client_software_name) ||
	     !kx_software_valid(q->client_software_version))) {
		bad(n, DP_BAD_KAFKA_REQUEST);
		err = SN_ERR_INVALID_REQUEST;
	} else if (err) {
		api = kc_api_find(KC_API_API_VERSIONS);
		assert(api);
		keys[nk++] = (struct kc_api_version_key){
			api->key, api->min_version, api->max_version };
	} else {
		for (size_t i = 0; (api = kc_api_at(i)) && nk < 64; i++)
			keys[nk++] = (struct kc_api_version_key){
				api->key, api->min_version, api->max_version };
	}
	struct kc_api_versions_resp r = {
		.error_code = err,
		.api_keys = { keys, (int32_t)nk },
		.finalized_features_epoch = -1, /* v3+ tag 1: none */
	};
	/* an unsupported version is answered in v0, which every client
	 * reads */
	int16_t v = err == SN_ERR_UNSUPPORTED_VERSION ? 0 : h->api_version;
	respond_now(n, c, KC_API_API_VERSIONS, v, h->correlation_id, &r,
		    64 + nk * 8);
}

/* ---- Metadata, and automatic topic creation ---- */

/* A Kafka error code the native table has no name for. */
#define KX_ERR_LEADER_NOT_AVAILABLE 5
/* Topics one Metadata request creates at most; the others it names are
 * UNKNOWN_TOPIC_OR_PARTITION this time and created when the client asks
 * again (clients retry both answers). */
#define KX_CREATE_MAX 64
/* Their CreateTopics request: well inside one control message
 * (SIPC_MAX_MESSAGE) */
#define KX_CREATE_BYTES (KX_CREATE_MAX * (SN_NAME_MAX + 32) + 256)

/* A Metadata request waiting for control to create its topics: in its
 * message's data, after the CreateTopics request (m->req, placed there by
 * dp_admin_submit), followed by a copy of the Metadata request's bytes,
 * which are decoded again for the answer. */
struct kx_meta_wait {
	uint32_t frame_len;
};

static size_t kx_align(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static bool kx_str_eq(struct kc_str a, struct kc_str b)
{
	return a.len == b.len &&
	       (a.len <= 0 || !memcmp(a.ptr, b.ptr, (size_t)a.len));
}

/* Kafka's own topics (its Topic.isInternal): the group and transaction
 * coordinators' logs.  sluice keeps that state elsewhere, so it never
 * creates them automatically: an empty topic of that name would only
 * mislead a tool that reads it. */
static bool kx_internal(struct kc_str name)
{
	static const char *const names[] = {
		"__consumer_offsets", "__transaction_state",
		"__share_group_state",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (kx_str_eq(name, (struct kc_str){ names[i],
						     (int32_t)strlen(names[i]) }))
			return true;
	return false;
}

/* A name a topic of this broker may have: Kafka's rule (1 to 249 of
 * [A-Za-z0-9._-], not "." or "..") with sluice's shorter limit. */
static bool kx_name_valid(struct kc_str name)
{
	return name.len > 0 && name.len <= SN_NAME_MAX &&
	       sn_topic_name_valid(name.ptr, (size_t)name.len);
}

/* The error for a requested topic that does not exist (and is not being
 * created): INVALID_TOPIC_EXCEPTION for a name no topic can have, as
 * Kafka answers, else UNKNOWN_TOPIC_OR_PARTITION. */
static int16_t kx_missing_error(struct kc_str name)
{
	return kx_name_valid(name) ? SN_ERR_UNKNOWN_TOPIC_OR_PARTITION
				   : SN_ERR_INVALID_TOPIC_EXCEPTION;
}

/* The client id whose Produce requests may append to internal topics
 * (Kafka's AdminUtils.ADMIN_CLIENT_ID). */
#define KX_ADMIN_CLIENT_ID "__admin_client"

/* Kafka's error codes that proto/native.h does not name. */
#define KX_ERR_FENCED_LEADER_EPOCH 74
#define KX_ERR_UNKNOWN_LEADER_EPOCH 75
#define KX_ERR_UNKNOWN_TOPIC_ID 100

/* Leader epochs are the partitions' (dataplane/cluster.h): 0 for every
 * partition of a single broker, control's in a cluster.  Metadata reads
 * them from the view; ListOffsets, Fetch and OffsetForLeaderEpoch have
 * the storage core check the client's current_leader_epoch and answer
 * with the partition's. */

/* Every topic: a null list, or in v0 an empty one (v0 had no null). */
static bool kx_meta_all(const struct kc_request_header *h,
			const struct kc_metadata_req *r)
{
	return r->topics.count < 0 ||
	       (r->topics.count == 0 && h->api_version == 0);
}

static bool kx_uuid_zero(const struct kc_uuid *u)
{
	static const struct kc_uuid zero;
	return !memcmp(u->b, zero.b, sizeof(zero.b));
}

/* How a Metadata request names its topics: by name; by id (v12+, when
 * any id is not zero: then only the ids count, as Kafka); or in a way
 * its version does not allow (a null name or an id before v12), which
 * Kafka answers INVALID_REQUEST for every topic. */
enum { KX_META_BY_NAME, KX_META_BY_ID, KX_META_INVALID };

static int kx_meta_by(const struct kc_request_header *h,
		      const struct kc_metadata_req *r)
{
	const struct kc_metadata_req_topic *want = r->topics.items;
	int by = KX_META_BY_NAME;
	for (int32_t i = 0; i < r->topics.count; i++) {
		bool id = !kx_uuid_zero(&want[i].topic_id);
		if (h->api_version < 12 && (id || want[i].name.len < 0))
			return KX_META_INVALID;
		if (id)
			by = KX_META_BY_ID;
	}
	return by;
}

/* The answer to Metadata request r, into m.  The nasked topics asked[]
 * that this request had created get asked_err[] instead of what the
 * topic table says: Kafka answers LEADER_NOT_AVAILABLE for a topic it has
 * just created, and shows it from the next Metadata request on. */
static void metadata_answer(struct dp_net *n, struct dp_msg *m,
			    const struct kc_request_header *h,
			    const struct kc_metadata_req *r,
			    struct kc_arena *a, const struct kc_str *asked,
			    const int16_t *asked_err, uint32_t nasked)
{
	struct kc_metadata_topic *tops = kx_core_of(n)->tops;
	struct kc_metadata_broker self = {
		.node_id = n->dp->cfg.node_id,
		.host = { n->dp->cfg.kafka_advertised_host,
			  (int32_t)strlen(n->dp->cfg.kafka_advertised_host) },
		.port = n->dp->cfg.kafka_advertised_port ?
				n->dp->cfg.kafka_advertised_port : n->dp->kafka_port,
		.rack = { NULL, -1 },
	};
	int32_t node = n->dp->cfg.node_id;
	bool clustered = dp_clustered(n->dp);
	uint32_t nt = 0, nparts = 0;
	size_t bound = 256 + strlen(n->dp->cfg.kafka_advertised_host);
	const struct kc_metadata_req_topic *want = r->topics.items;
	bool all = kx_meta_all(h, r);
	int by = kx_meta_by(h, r);
	uint32_t nwant = all ? DP_MAX_TOPICS : (uint32_t)r->topics.count;
	assert(nasked <= KX_CREATE_MAX && (asked || !nasked));
	assert(!all || !nasked);
	for (uint32_t i = 0; i < nwant && nt < DP_MAX_TOPICS; i++) {
		struct dp_topic *t = NULL;
		int16_t err = 0;
		if (all) {
			/* acquire: pairs with dp_topic_put's release store */
			t = atomic_load_explicit(&n->dp->topics[i],
						 memory_order_acquire);
			if (!t || !atomic_load_explicit(&t->live,
							memory_order_acquire))
				continue;
		} else if (by == KX_META_INVALID) {
			err = SN_ERR_INVALID_REQUEST;
		} else if (by == KX_META_BY_ID) {
			/* v12: the ids alone count, names are ignored (and a
			 * zero id names nothing), as Kafka */
			if (kx_uuid_zero(&want[i].topic_id))
				continue;
			t = dp_topic_by_id(n->dp,
					   sl_topic_uuid_id(want[i].topic_id.b));
			if (!t)
				err = KX_ERR_UNKNOWN_TOPIC_ID;
		} else {
			uint32_t j = 0;
			while (j < nasked && !kx_str_eq(asked[j], want[i].name))
				j++;
			if (j < nasked)
				err = asked_err[j];
			else if (!(t = dp_topic_by_name(
					   n->dp, want[i].name.ptr,
					   (size_t)(want[i].name.len > 0 ?
							    want[i].name.len : 0))))
				err = kx_missing_error(want[i].name);
		}
		struct kc_metadata_topic *o = &tops[nt++];
		memset(o, 0, sizeof(*o));
		o->topic_authorized_operations = INT32_MIN;
		if (!t) {
			assert(err != 0);
			o->error_code = err;
			o->name = want[i].name;
			if (err == KX_ERR_UNKNOWN_TOPIC_ID) {
				o->name = (struct kc_str){ NULL, -1 };
				o->topic_id = want[i].topic_id;
			} else if (o->name.len < 0 && h->api_version < 12) {
				/* a null name before v12 (INVALID_REQUEST):
				 * Kafka answers it as "" */
				o->name = (struct kc_str){ "", 0 };
			}
			o->is_internal = err != SN_ERR_INVALID_REQUEST &&
					 kx_internal(o->name);
			bound += 64 + (size_t)(o->name.len > 0 ? o->name.len : 0);
			continue;
		}
		o->name = (struct kc_str){ t->name, (int32_t)strlen(t->name) };
		sl_topic_uuid(t->id, o->topic_id.b);
		o->is_internal = kx_internal(o->name);
		o->partitions.count = t->partitions;
		nparts += (uint32_t)t->partitions;
		bound += 64 + (size_t)o->name.len + (size_t)t->partitions * 48;
	}
	/* partitions: one array for all topics, in the arena after the
	 * decoded request; in a cluster their replica and in-sync lists
	 * after it */
	size_t at = (a->used + 7) & ~(size_t)7;
	struct kc_metadata_partition *ps = (void *)(a->base + at);
	size_t lists = clustered ? (size_t)nparts * 2 * DP_REPLICAS_MAX *
					   sizeof(int32_t) : 0;
	if ((size_t)nparts * sizeof(*ps) + lists > a->cap - at) {
		m->resp_len = 0;
		m->close_after = 1;
		dp_conn_deliver(n, m);
		return;
	}
	int32_t *ids = (int32_t *)(void *)(ps + nparts);
	uint32_t k = 0;
	for (uint32_t i = 0; i < nt; i++) {
		struct kc_metadata_topic *o = &tops[i];
		if (o->error_code)
			continue;
		o->partitions.items = &ps[k];
		struct dp_topic *t = clustered ? dp_topic_by_id(n->dp,
			sl_topic_uuid_id(o->topic_id.b)) : NULL;
		for (int32_t j = 0; j < o->partitions.count; j++, k++) {
			ps[k] = (struct kc_metadata_partition){
				.partition_index = j,
				.leader_id = node,
				.leader_epoch = 0,
				.replica_nodes = { &n->dp->cfg.node_id, 1 },
				.isr_nodes = { &n->dp->cfg.node_id, 1 },
				.offline_replicas = { NULL, 0 },
			};
			if (!clustered)
				continue;
			struct dp_pview v;
			if (t && j < t->partitions)
				dp_pview_get(n->dp, &t->parts[j], &v);
			else
				dp_pview_init(n->dp, &v);
			int32_t *rep = ids, *in = ids + v.nreplicas;
			memcpy(rep, v.replicas, v.nreplicas * sizeof(*rep));
			memcpy(in, v.isr, v.nisr * sizeof(*in));
			ids += v.nreplicas + v.nisr;
			/* fenced: not the leader of anything (the others
			 * name the new one) */
			if (v.leader == node &&
			    atomic_load_explicit(&n->dp->self_fenced,
						 memory_order_relaxed))
				v.leader = -1;
			ps[k].leader_id = v.leader;
			ps[k].leader_epoch = v.leader_epoch;
			ps[k].replica_nodes = (struct kc_array){ rep, v.nreplicas };
			ps[k].isr_nodes = (struct kc_array){ in, v.nisr };
			/* Kafka: a partition without a leader is
			 * LEADER_NOT_AVAILABLE, its leader -1 */
			if (v.leader < 0)
				ps[k].error_code = KX_ERR_LEADER_NOT_AVAILABLE;
			bound += 8 * (size_t)(v.nreplicas + v.nisr);
		}
	}
	/* the brokers: every unfenced one of a cluster, else this one */
	static _Thread_local struct dp_broker live[SIPC_BROKERS_MAX];
	static _Thread_local struct kc_metadata_broker brokers[SIPC_BROKERS_MAX];
	unsigned nb = 0;
	if (clustered) {
		nb = dp_brokers_live(n->dp, live, SIPC_BROKERS_MAX);
		for (unsigned i = 0; i < nb; i++) {
			brokers[i] = (struct kc_metadata_broker){
				.node_id = live[i].node_id,
				.host = { live[i].host,
					  (int32_t)strlen(live[i].host) },
				.port = live[i].kafka_port,
				.rack = { NULL, -1 },
			};
			bound += 32 + strlen(live[i].host);
		}
	}
	if (!nb) {
		brokers[0] = self;
		nb = 1;
	}
	/* the controller a client sends admin requests to: this broker
	 * when it is listed (it forwards them to the active controller),
	 * else one that is (a client waits for a controller it cannot
	 * find among the brokers) */
	int32_t controller = brokers[0].node_id;
	for (unsigned i = 0; i < nb; i++)
		if (brokers[i].node_id == node)
			controller = node;
	struct kc_metadata_resp resp = {
		/* v13+ (KIP-1102): Kafka's brokers set it only to ask a
		 * client to rebootstrap, which one broker never needs */
		.error_code = 0,
		.brokers = { brokers, (int32_t)nb },
		.cluster_id = { "sluice", 6 },
		.controller_id = controller,
		.topics = { tops, (int32_t)nt },
		.cluster_authorized_operations = INT32_MIN,
	};
	respond(n, m, KC_API_METADATA, h->api_version, h->correlation_id,
		&resp, bound);
}

/* Control's answer to the CreateTopics request of a waiting Metadata
 * request (or none: m->res.error): each topic it created is counted and
 * logged, and the Metadata request is answered. */
static void metadata_created(struct dp_net *n, struct dp_msg *m)
{
	struct kx_core *k = kx_core_of(n);
	struct kc_arena a = { (uint8_t *)k->arena_mem, sizeof(k->arena_mem), 0 };
	const struct kx_meta_wait *w =
		(const void *)(m->data + kx_align(m->req_len));
	const uint8_t *frame = (const uint8_t *)(w + 1);
	struct kc_request_header h, ch;
	union kc_request body, cbody;
	/* both were decoded (or encoded) here before: they decode again */
	long rc = kc_decode_request(frame, w->frame_len, &h, &body, &a);
	long crc = rc < 0 ? rc : kc_decode_request(m->req, m->req_len, &ch,
						   &cbody, &a);
	if (rc < 0 || crc < 0) {
		m->resp_len = 0;
		m->close_after = 1;
		dp_conn_deliver(n, m);
		return;
	}
	const struct kc_create_topics_req *cq = (const void *)cbody.raw;
	const struct kc_create_topics_req_topic *ct = cq->topics.items;
	uint32_t nasked = (uint32_t)cq->topics.count;
	struct kc_str asked[KX_CREATE_MAX];
	int16_t errs[KX_CREATE_MAX];
	assert(cq->topics.count > 0 && nasked <= KX_CREATE_MAX);
	for (uint32_t i = 0; i < nasked; i++) {
		asked[i] = ct[i].name;
		/* no answer from control: as Kafka when its creation did
		 * not happen; the client asks again */
		errs[i] = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	struct kc_response_header rh;
	union kc_response rbody;
	if (!m->res.error && m->res.bytes_len &&
	    kc_decode_response(KC_API_CREATE_TOPICS, ch.api_version,
			       m->res.bytes, m->res.bytes_len, &rh, &rbody,
			       &a) >= 0) {
		const struct kc_create_topics_resp *cr = (const void *)rbody.raw;
		const struct kc_create_topics_resp_topic *rt = cr->topics.items;
		for (int32_t i = 0; i < cr->topics.count; i++) {
			uint32_t j = 0;
			while (j < nasked && !kx_str_eq(asked[j], rt[i].name))
				j++;
			if (j == nasked)
				continue;
			int16_t e = rt[i].error_code;
			int32_t nl = rt[i].name.len;
			if (e == 0) {
				struct dp_topic *t = dp_topic_by_name(
					n->dp, rt[i].name.ptr, (size_t)nl);
				n->st.kafka_topics_auto_created++;
				dp_log("kafka: created topic '%.*s' (%d "
				       "partitions) for a Metadata request "
				       "from client '%.*s' (auto_create_topics)",
				       (int)nl, rt[i].name.ptr,
				       t ? (int)t->partitions : -1,
				       h.client_id.len > 0 ? (int)h.client_id.len : 0,
				       h.client_id.ptr ? h.client_id.ptr : "");
			} else if (e != SN_ERR_TOPIC_ALREADY_EXISTS) {
				/* the 1st, 2nd, 4th ...: a client retrying
				 * a creation that cannot succeed floods
				 * nothing */
				uint64_t f = ++n->st.kafka_auto_create_failed;
				if ((f & (f - 1)) == 0)
					dp_log("kafka: automatic creation of "
					       "topic '%.*s' failed: error %d "
					       "%.*s (%llu failures so far)",
					       (int)nl, rt[i].name.ptr, (int)e,
					       rt[i].error_message.len > 0 ?
						       (int)rt[i].error_message.len : 0,
					       rt[i].error_message.ptr ?
						       rt[i].error_message.ptr : "",
					       (unsigned long long)f);
			}
			/* created now or by a request just before: the
			 * next Metadata request shows it */
			errs[j] = e == 0 || e == SN_ERR_TOPIC_ALREADY_EXISTS ?
					  KX_ERR_LEADER_NOT_AVAILABLE : e;
		}
	}
	/* asked[] points into m->req and the request into m->data: both stay
	 * while the answer is encoded (control's answer may not) */
	metadata_answer(n, m, &h, &body.metadata, &a, asked, errs, nasked);
}

/* Automatic topic creation (auto_create_topics, as Kafka's
 * auto.create.topics.enable): the topics r names that do not exist and
 * could are created by sluice-control (a CreateTopics request with the
 * broker's defaults, as any client's), and r is answered once control
 * has; 1 when r was taken so (answered or waiting), 0 when there is
 * nothing to create (r is answered at once). */
static int metadata_create(struct dp_net *n, struct dp_conn *c,
			   const struct kc_request_header *h,
			   const struct kc_metadata_req *r,
			   const struct kc_arena *a, const uint8_t *f,
			   size_t len)
{
	const struct kc_metadata_req_topic *want = r->topics.items;
	size_t at = (a->used + 7) & ~(size_t)7;
	struct kc_create_topics_req_topic *ct = (void *)(a->base + at);
	uint8_t *buf = (uint8_t *)(ct + KX_CREATE_MAX);
	uint32_t nc = 0;
	assert(r->topics.count > 0);
	if (at > a->cap || a->cap - at < KX_CREATE_MAX * sizeof(*ct) +
						 KX_CREATE_BYTES)
		return 0; /* a huge request: answered without creating */
	for (int32_t i = 0; i < r->topics.count && nc < KX_CREATE_MAX; i++) {
		struct kc_str name = want[i].name;
		if (!kx_name_valid(name) || kx_internal(name) ||
		    dp_topic_by_name(n->dp, name.ptr, (size_t)name.len))
			continue;
		uint32_t j = 0;
		while (j < nc && !kx_str_eq(ct[j].name, name))
			j++;
		if (j < nc)
			continue; /* named twice: created once */
		ct[nc++] = (struct kc_create_topics_req_topic){
			.name = name,
			.num_partitions = -1,     /* default_partitions */
			.replication_factor = -1,
			.assignments = { NULL, 0 },
			.configs = { NULL, 0 },   /* the topic defaults */
		};
	}
	if (!nc)
		return 0;
	union kc_request body;
	memset(&body, 0, sizeof(body));
	struct kc_create_topics_req *q = (void *)body.raw;
	q->topics = (struct kc_array){ ct, (int32_t)nc };
	q->timeout_ms = 30000;
	q->validate_only = false;
	const struct kc_api *api = kc_api_find(KC_API_CREATE_TOPICS);
	assert(api);
	/* the client's id and correlation id, as Kafka's broker does, so
	 * that control's log can tie the creation to the request */
	struct kc_request_header ch = { KC_API_CREATE_TOPICS, api->max_version,
					h->correlation_id, h->client_id };
	long clen = kc_encode_request(&ch, &body, buf, KX_CREATE_BYTES);
	assert(clen > 0); /* KX_CREATE_BYTES holds KX_CREATE_MAX names */
	size_t off = kx_align((size_t)clen);
	struct dp_msg *m = dp_conn_msg(n, c->id, NULL, 0,
				       (uint32_t)h->correlation_id,
				       off + sizeof(struct kx_meta_wait) + len);
	if (!m) {
		dp_conn_abort(n, c->id);
		return 1;
	}
	m->op = DP_ADMIN;
	m->done = metadata_created;
	struct kx_meta_wait *w = (void *)(m->data + off);
	w->frame_len = (uint32_t)len;
	memcpy(w + 1, f, len);
	int rc = dp_admin_submit(n->dp, m, DP_ADMIN_KAFKA, 0, buf,
				 (size_t)clen);
	if (rc) {
		/* no control (or its queue is full): answered at once,
		 * UNKNOWN_TOPIC_OR_PARTITION; the client asks again */
		m->res.error = SN_ERR_UNKNOWN_SERVER_ERROR;
		m->res.bytes_len = 0;
		metadata_created(n, m);
		return 1;
	}
	n->st.kafka_auto_create_requests++;
	return 1;
}

static void metadata(struct dp_net *n, struct dp_conn *c,
		     const struct kc_request_header *h,
		     const struct kc_metadata_req *r, struct kc_arena *a,
		     const uint8_t *f, size_t len)
{
	n->st.metadata++;
	/* a request for all topics (null, or empty in v0) creates none,
	 * and one naming topics by id (v12) creates none either, as Kafka */
	if (n->dp->cfg.auto_create_topics && r->allow_auto_topic_creation &&
	    r->topics.count > 0 && kx_meta_by(h, r) == KX_META_BY_NAME &&
	    metadata_create(n, c, h, r, a, f, len))
		return;
	struct dp_msg *m = dp_conn_msg(n, c->id, NULL, 0,
				       (uint32_t)h->correlation_id, 0);
	if (!m) {
		dp_conn_abort(n, c->id);
		return;
	}
	metadata_answer(n, m, h, r, a, NULL, NULL, 0);
}

/* Kafka's messages for the errors FindCoordinator answers (Errors.java):
 * v1-3 send one with every error, "NONE" when there is none. */
#define FC_MSG_NONE "NONE"
#define FC_MSG_NOT_AVAILABLE "The coordinator is not available."
#define FC_MSG_INVALID "This most likely occurs because of a request being " \
	"malformed by the client library or the message was sent to an " \
	"incompatible broker. See the broker logs for more details."

/* What Kafka answers for a key of type key_type at version: its
 * coordinator for a group (0) and for a transactional id (1: sluice-
 * control's coordinators answer both, through this listener);
 * COORDINATOR_NOT_AVAILABLE for a share group (2) from v6, before that
 * INVALID_REQUEST; INVALID_REQUEST for any other type. */
static int16_t coordinator_error(int8_t key_type, int16_t version)
{
	switch (key_type) {
	case 0:
	case 1:
		return 0;
	case 2:
		return version >= 6 ? SN_ERR_COORDINATOR_NOT_AVAILABLE :
				      SN_ERR_INVALID_REQUEST;
	}
	return SN_ERR_INVALID_REQUEST;
}

static struct kc_str str_lit(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

/* Where key's coordinator is: this broker alone.  In a cluster, a
 * group's is the leader of its partition of __consumer_offsets and a
 * transactional id's the leader of its partition of __transaction_state
 * (sl_offsets_partition of the key: Java's hashCode modulo the
 * partitions), as Kafka's, so that a coordinator's loss costs a leader
 * election (the new leader loads the key's state from the partition).
 * Both are
 * the same from every broker; COORDINATOR_NOT_AVAILABLE while the topic
 * is not there yet, the partition has no leader or its broker is fenced
 * or unknown (the client asks again).  host points into b or the config. */
struct kx_coord {
	int16_t err;
	int32_t node;
	const char *host;
	int32_t port;
	struct dp_broker b;
};

static int32_t key_coordinator(struct dp_net *n, const char *topic,
			       struct kc_str key)
{
	struct dp_topic *t = dp_topic_by_name(n->dp, topic, strlen(topic));
	if (!t || t->partitions <= 0)
		return -1;
	int32_t p = sl_offsets_partition(key.ptr ? key.ptr : "",
					 key.len > 0 ? (size_t)key.len : 0,
					 t->partitions);
	struct dp_pview v;
	dp_pview_get(n->dp, &t->parts[p], &v);
	return v.leader;
}

static void coordinator_of(struct dp_net *n, const int32_t *voters, int nv,
			   int8_t key_type, struct kc_str key,
			   struct kx_coord *co)
{
	const struct sl_config *cfg = &n->dp->cfg;
	co->err = 0;
	co->node = cfg->node_id;
	co->host = cfg->kafka_advertised_host;
	co->port = cfg->kafka_advertised_port ? cfg->kafka_advertised_port :
						 n->dp->kafka_port;
	if (!dp_clustered(n->dp) || nv <= 0)
		return;
	int32_t node = key_coordinator(n, key_type == 0 ? SL_OFFSETS_TOPIC :
							 SL_TXN_TOPIC, key);
	if (node < 0 || dp_broker_get(n->dp, node, &co->b) < 0 ||
	    co->b.fenced || (node == cfg->node_id && n->dp->self_fenced)) {
		co->err = SN_ERR_COORDINATOR_NOT_AVAILABLE;
		return;
	}
	co->node = node;
	if (node != cfg->node_id) {
		co->host = co->b.host;
		co->port = co->b.kafka_port;
	}
}

/* v0-3: one key, one answer; v4+: a batch of keys (coordinator_keys), each
 * answered in its own entry (no error message there, as Kafka's). */
static void find_coordinator(struct dp_net *n, struct dp_conn *c,
			     const struct kc_request_header *h,
			     const struct kc_find_coordinator_req *r,
			     struct kc_arena *a)
{
	int16_t err = coordinator_error(r->key_type, h->api_version);
	union kc_response u;
	struct kc_find_coordinator_resp *resp = (void *)u.raw;
	_Static_assert(sizeof(*resp) <= sizeof(u), "fits");
	memset(&u, 0, sizeof(u));
	kc_defaults(kc_api_spec(KC_API_FIND_COORDINATOR)->response, resp);
	size_t bound = 128;
	int32_t voters[SL_VOTERS_MAX]; /* parsed once per request */
	int nv = sl_config_voter_ids(&n->dp->cfg, voters);
	if (h->api_version < 4) {
		struct kx_coord co;
		coordinator_of(n, voters, nv, r->key_type, r->key, &co);
		if (!err)
			err = co.err;
		resp->error_code = err;
		resp->node_id = err ? -1 : co.node;
		resp->host = err ? str_lit("") : str_lit(co.host);
		resp->port = err ? -1 : co.port;
		resp->error_message = str_lit(
			err == 0 ? FC_MSG_NONE :
			err == SN_ERR_INVALID_REQUEST ? FC_MSG_INVALID :
							FC_MSG_NOT_AVAILABLE);
		bound += (size_t)resp->error_message.len +
			 (size_t)resp->host.len;
		respond_now(n, c, KC_API_FIND_COORDINATOR, h->api_version,
			    h->correlation_id, resp, bound);
		return;
	}
	int32_t nk = r->coordinator_keys.count > 0 ?
		     r->coordinator_keys.count : 0;
	const struct kc_str *keys = r->coordinator_keys.items;
	/* each entry and its host (a broker's may not outlive the lookup:
	 * copied into the arena) */
	size_t at = (a->used + 7) & ~(size_t)7;
	struct kc_find_coordinator_coordinator *cs = (void *)(a->base + at);
	if (at > a->cap ||
	    (size_t)nk > (a->cap - at) / (sizeof(*cs) + SIPC_HOST_MAX + 1)) {
		bad(n, DP_BAD_KAFKA_REQUEST);
		poison(n, c);
		return;
	}
	a->used = at + (size_t)nk * sizeof(*cs);
	char *hosts = (char *)(a->base + a->used);
	a->used += (size_t)nk * (SIPC_HOST_MAX + 1);
	for (int32_t i = 0; i < nk; i++) {
		struct kx_coord co;
		coordinator_of(n, voters, nv, r->key_type, keys[i], &co);
		int16_t e = err ? err : co.err;
		char *hp = hosts + (size_t)i * (SIPC_HOST_MAX + 1);
		snprintf(hp, SIPC_HOST_MAX + 1, "%s", e ? "" : co.host);
		cs[i] = (struct kc_find_coordinator_coordinator){
			.key = keys[i],
			.node_id = e ? -1 : co.node,
			.host = str_lit(hp),
			.port = e ? -1 : co.port,
			.error_code = e,
			.error_message = str_lit(""),
		};
		bound += 32 + strlen(hp) +
			 (size_t)(keys[i].len > 0 ? keys[i].len : 0);
	}
	resp->coordinators = (struct kc_array){ cs, nk };
	respond_now(n, c, KC_API_FIND_COORDINATOR, h->api_version,
		    h->correlation_id, resp, bound);
}

/* InitProducerId, as Kafka's broker answers it:
 *   - no transactional id (idempotent producers), at every version: a new
 *     producer id with epoch 0.  From v3 a producer may give its current
 *     id and epoch (KIP-360, after an UNKNOWN_PRODUCER_ID or a sequence
 *     error): Kafka's coordinator ignores them without a transactional id
 *     and hands out a new id, epoch 0, and so does this; an id without an
 *     epoch or an epoch without an id is INVALID_REQUEST.
 *   - a transactional id is forwarded to sluice-control's transaction
 *     coordinator (control/txn.h) and never comes here; an empty one is
 *     INVALID_REQUEST, as Kafka. */
static void init_producer_id(struct dp_net *n, struct dp_conn *c,
			     const struct kc_request_header *h,
			     const struct kc_init_producer_id_req *r)
{
	struct kc_init_producer_id_resp resp = { .producer_id = -1,
						 .producer_epoch = -1,
						 .ongoing_txn_producer_id = -1,
						 .ongoing_txn_producer_epoch = -1 };
	n->st.init_pid++;
	bool no_id = r->producer_id == -1, no_epoch = r->producer_epoch == -1;
	if (r->transactional_id.len >= 0 || no_id != no_epoch) {
		resp.error_code = SN_ERR_INVALID_REQUEST;
	} else {
		int64_t pid = dp_producer_id(n->dp);
		if (pid < 0) {
			resp.error_code = SN_ERR_KAFKA_STORAGE_ERROR;
		} else {
			resp.producer_id = pid;
			resp.producer_epoch = 0;
		}
	}
	respond_now(n, c, KC_API_INIT_PRODUCER_ID, h->api_version,
		    h->correlation_id, &resp, 64);
}

/* Kafka's EndpointType (DescribeCluster v1+). */
#define KX_ENDPOINT_BROKER 1
#define KX_ENDPOINT_CONTROLLER 2
#define KX_ERR_MISMATCHED_ENDPOINT_TYPE 114
#define KX_ERR_UNSUPPORTED_ENDPOINT_TYPE 115

/* DescribeCluster: on a single broker this node is the cluster, its
 * broker and its controller; in a cluster the brokers are those control
 * pushed, the unfenced ones (and, v2+ include_fenced_brokers, KIP-1073,
 * the fenced ones too, is_fenced set), and the controller is a live
 * broker's id, as Kafka's KRaft brokers answer (this one when it is
 * listed unfenced, as in Metadata; the active controller is
 * DescribeQuorum's leader).  The listener is a broker's: a
 * request for controllers is MISMATCHED_ENDPOINT_TYPE, an unknown type
 * UNSUPPORTED_ENDPOINT_TYPE (both INVALID_REQUEST in v0, as Kafka).
 * Authorized operations are not computed (INT32_MIN), as in Metadata. */
static void describe_cluster(struct dp_net *n, struct dp_conn *c,
			     const struct kc_request_header *h,
			     const struct kc_describe_cluster_req *r)
{
	const struct sl_config *cfg = &n->dp->cfg;
	static _Thread_local struct dp_broker all[SIPC_BROKERS_MAX];
	static _Thread_local struct kc_describe_cluster_resp_broker
		brokers[SIPC_BROKERS_MAX];
	unsigned nb = 0;
	size_t bound = 256;
	if (dp_clustered(n->dp)) {
		unsigned na = dp_brokers_all(n->dp, all, SIPC_BROKERS_MAX);
		bool fenced_too = h->api_version >= 2 &&
				  r->include_fenced_brokers;
		for (unsigned i = 0; i < na; i++) {
			if (all[i].fenced && !fenced_too)
				continue;
			brokers[nb++] = (struct kc_describe_cluster_resp_broker){
				.broker_id = all[i].node_id,
				.host = { all[i].host,
					  (int32_t)strlen(all[i].host) },
				.port = all[i].kafka_port,
				.rack = { NULL, -1 },
				.is_fenced = all[i].fenced != 0,
			};
			bound += 32 + strlen(all[i].host);
		}
	}
	if (!nb) {
		/* alone, or before control's first BROKERS: this one, which
		 * serves, so it is not fenced */
		brokers[0] = (struct kc_describe_cluster_resp_broker){
			.broker_id = cfg->node_id,
			.host = { cfg->kafka_advertised_host,
				  (int32_t)strlen(cfg->kafka_advertised_host) },
			.port = cfg->kafka_advertised_port ?
					cfg->kafka_advertised_port :
					n->dp->kafka_port,
			.rack = { NULL, -1 },
			.is_fenced = false,
		};
		bound += 32 + (size_t)brokers[0].host.len;
		nb = 1;
	}
	assert(nb >= 1 && nb <= SIPC_BROKERS_MAX);
	struct kc_describe_cluster_resp resp = {
		.error_message = { NULL, -1 },
		.endpoint_type = KX_ENDPOINT_BROKER,
		.cluster_id = { "", 0 },
		.controller_id = -1,
		.brokers = { NULL, 0 },
		.cluster_authorized_operations = INT32_MIN,
	};
	if (r->endpoint_type != KX_ENDPOINT_BROKER) {
		bool known = r->endpoint_type == KX_ENDPOINT_CONTROLLER;
		resp.error_code = h->api_version == 0 ? SN_ERR_INVALID_REQUEST :
				  known ? KX_ERR_MISMATCHED_ENDPOINT_TYPE :
					  KX_ERR_UNSUPPORTED_ENDPOINT_TYPE;
		resp.error_message = known ?
			(struct kc_str){ "The request was sent to an endpoint "
					 "of type BROKER, but we wanted an "
					 "endpoint of type CONTROLLER", 96 } :
			(struct kc_str){ "Unsupported endpoint type", 25 };
	} else {
		/* the controller as Metadata names it: this broker when it
		 * is listed unfenced, else the first that is */
		int32_t controller = -1;
		for (unsigned i = 0; i < nb; i++)
			if (!brokers[i].is_fenced &&
			    (controller < 0 || brokers[i].broker_id ==
						       cfg->node_id))
				controller = brokers[i].broker_id;
		resp.cluster_id = (struct kc_str){ "sluice", 6 };
		resp.controller_id = controller >= 0 ? controller :
						       cfg->node_id;
		resp.brokers = (struct kc_array){ brokers, (int32_t)nb };
	}
	respond_now(n, c, KC_API_DESCRIBE_CLUSTER, h->api_version,
		    h->correlation_id, &resp, bound);
}

/* ---- forwarded to sluice-control ---- */

/* Control's answer: the response bytes (after our 4 bytes of headroom for
 * the size prefix), or none: close the client's connection. */
static void forward_done(struct dp_net *n, struct dp_msg *m)
{
	if (m->res.error || !m->res.bytes_len) {
		m->resp_len = 0;
		m->close_after = 1;
	} else {
		assert(m->res.bytes == m->resp + 4);
		rb_put32(m->resp, m->res.bytes_len);
		m->resp_len = m->res.bytes_len + 4;
	}
	dp_conn_deliver(n, m);
}

static void forward(struct dp_net *n, struct dp_conn *c,
		    const struct kc_request_header *h, const uint8_t *f,
		    size_t len)
{
	struct dp_msg *m = dp_conn_msg(n, c->id, NULL, 0,
				       (uint32_t)h->correlation_id, len);
	if (!m) {
		dp_conn_abort(n, c->id);
		return;
	}
	m->op = DP_ADMIN;
	m->done = forward_done;
	/* 4 bytes of headroom: the answer's size prefix */
	int rc = dp_admin_submit(n->dp, m, DP_ADMIN_KAFKA, 4, f, len);
	if (rc == -EAGAIN) {
		/* no control: the client reconnects and retries */
		bad(n, DP_BAD_KAFKA_FORWARD);
		m->close_after = 1;
		dp_conn_deliver(n, m);
		return;
	}
	if (rc) {
		m->res.error = SN_ERR_THROTTLING_QUOTA_EXCEEDED;
		forward_done(n, m);
		return;
	}
	n->st.kafka_forwarded++;
}

/* ---- fanned out to the storage cores ---- */

/* A request's message with room for ntopics, nparts and names bytes. */
static struct dp_msg *kx_new(struct dp_net *n, struct dp_conn *c,
			     const struct kc_request_header *h,
			     uint32_t ntopics, uint32_t nparts, size_t names)
{
	size_t bytes = sizeof(struct kx_req) +
		       ntopics * sizeof(struct kx_topic) +
		       nparts * sizeof(struct kx_part) + names;
	struct dp_msg *m = dp_conn_msg(n, c->id, NULL, 0,
				       (uint32_t)h->correlation_id, bytes);
	if (!m)
		return NULL;
	struct kx_req *x = kx_of(m);
	memset(x, 0, sizeof(*x));
	x->api = h->api_key;
	x->version = h->api_version;
	x->corr = h->correlation_id;
	x->conn = c->id;
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
	int32_t len = name.len > 0 ? name.len : 0;
	memcpy(*names, name.ptr, (size_t)len);
	t->name = *names;
	t->name_len = len;
	*names += len;
}

static void share_done(struct dp_net *n, struct dp_msg *s);

/* A share for partition i of x (op, data bytes), or NULL (budget). */
static struct dp_msg *kx_share(struct dp_net *n, struct dp_msg *parent,
			       uint32_t i, int op, size_t data)
{
	struct kx_req *x = kx_of(parent);
	struct dp_msg *s = dp_msg_alloc(n->dp, data);
	if (!s)
		return NULL;
	s->op = (uint8_t)op;
	s->net = n;
	s->done = share_done;
	s->conn = x->conn;
	s->corr = (uint32_t)x->corr;
	s->owner = parent;
	s->owner_idx = i;
	return s;
}

static void kx_finish(struct dp_net *n, struct dp_msg *m);

static void kx_send(struct dp_net *n, struct dp_msg *m, struct kx_part *pp,
		    struct dp_msg *s)
{
	struct kx_req *x = kx_of(m);
	if (dp_store_submit(n, pp->p, s)) {
		n->st.ring_full++;
		s->owner = NULL;
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
	long id_off;  /* the topic's struct kc_uuid (named by id), or -1 */
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
	{ (arr), sizeof(topic_t), offsetof(topic_t, member), sizeof(part_t), \
	  0, 0, -1 }

/*
 * Produce, Fetch and ListOffsets requests share a shape: an array of
 * topics, each a name (the first member) and an array of partitions at
 * parts_off, each partition starting with its int32 index; or, when
 * shape->id_off >= 0 (Fetch v13+, Produce v13+), each topic named by its
 * id there.
 * kx_begin() reads that shape once: it checks the counts, allocates the
 * request's message and fills its topics (names copied, ids kept) and
 * partitions (looked up; UNKNOWN_TOPIC_OR_PARTITION where there is none,
 * UNKNOWN_TOPIC_ID for every partition of an id no topic has).  NULL when the request
 * was answered already (malformed: the connection is closed after the
 * earlier answers; no memory: closed at once).
 */
static struct dp_msg *kx_begin(struct dp_net *n, struct dp_conn *c,
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
		if (shape->id_off < 0)
			names += (size_t)(name->len > 0 ? name->len : 0);
		nparts += (uint32_t)(ps->count > 0 ? ps->count : 0);
		if (nparts + (uint32_t)i > KX_MAX_PARTS)
			break;
	}
	if (tops->count < 0 || nparts + (uint32_t)tops->count > KX_MAX_PARTS) {
		bad(n, DP_BAD_KAFKA_REQUEST);
		poison(n, c);
		return NULL;
	}
	struct dp_msg *m = kx_new(n, c, h, (uint32_t)tops->count, nparts,
				  names);
	if (!m) {
		/* nothing to answer with: the client reconnects */
		n->st.budget_exhausted++;
		dp_conn_abort(n, c->id);
		return NULL;
	}
	struct kx_req *x = kx_of(m);
	char *namep = (char *)(x->parts + nparts);
	uint32_t k = 0;
	x->by_id = shape->id_off >= 0;
	/* acquire, before the look-ups: pairs with dp_topic_delete's bump,
	 * so a topic deleted during them moves the generation */
	x->topic_gen = atomic_load_explicit(&n->dp->topic_gen,
					    memory_order_acquire);
	for (int32_t i = 0; i < tops->count; i++) {
		const uint8_t *t = (const uint8_t *)tops->items +
				   (size_t)i * topic_size;
		const struct kc_str *name = (const void *)t;
		const struct kc_array *ps = (const void *)(t + parts_off);
		struct dp_topic *dt;
		int16_t missing = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		x->topics[i].first = k;
		x->topics[i].count = (uint32_t)(ps->count > 0 ? ps->count : 0);
		if (x->by_id) {
			struct kx_topic *kt = &x->topics[i];
			memcpy(&kt->uuid, t + shape->id_off, sizeof(kt->uuid));
			kt->id = sl_topic_uuid_id(kt->uuid.b);
			dt = kt->id ? dp_topic_by_id(n->dp, kt->id) : NULL;
			if (!dt) {
				kt->id = 0;
				missing = KX_ERR_UNKNOWN_TOPIC_ID;
			}
			kt->name = "";
		} else {
			dt = dp_topic_by_name(n->dp, name->ptr,
					      (size_t)(name->len > 0 ?
							       name->len : 0));
			kx_name(&x->topics[i], *name, &namep);
		}
		for (int32_t j = 0; j < ps->count; j++, k++) {
			struct kx_part *pp = &x->parts[k];
			pp->index = *(const int32_t *)(const void *)(
				(const uint8_t *)ps->items + (size_t)j * part_size);
			pp->p = dt && pp->index >= 0 && pp->index < dt->partitions ?
					&dt->parts[pp->index] : NULL;
			pp->offset = pp->hw = pp->log_start = -1;
			if (!pp->p) {
				bad(n, DP_BAD_UNKNOWN_TOPIC);
				pp->error = dt ? SN_ERR_UNKNOWN_TOPIC_OR_PARTITION
					       : missing;
			}
		}
	}
	return m;
}

/*
 * The records of one partition of a Produce request of version v, made
 * the one batch sluice stores, checked (dp_batch_check).  Kafka's rules
 * by version (its ProduceRequest.validateRecords and log validation):
 *   v3+: a RecordBatch v2; anything else (no batch at all, another magic)
 *     is INVALID_RECORD; zstd before v7 is UNSUPPORTED_COMPRESSION_TYPE.
 *   v0-2: a message set of magic 0 or 1, up-converted (proto/msgset.h) to
 *     one batch (*conv, malloc'd, the caller frees it); a bad CRC or a
 *     length beyond the bytes is CORRUPT_MESSAGE, a compressed message
 *     inside a wrapper INVALID_RECORD.  A v2 batch is taken as it is (old
 *     versions do not forbid it), and no records at all append nothing:
 *     *b set to NULL, answered without error and offset -1, as Kafka.
 * Returns 0 with *b, *len the batch to store, or the partition's error.
 */
static int16_t produce_records(struct dp_net *n, int16_t v,
			       const uint8_t **b, size_t *len, uint8_t **conv)
{
	enum dp_bad why;
	int magic = ms_magic(*b, *len);
	if (v >= 3) {
		if (magic != RB_MAGIC) {
			bad(n, DP_BAD_BAD_BATCH);
			return SN_ERR_INVALID_RECORD;
		}
		if (v < 7 && *len >= RB_HEADER_BYTES &&
		    (rb_be16(*b + RB_OFF_ATTRIBUTES) &
		     RB_ATTR_COMPRESSION_MASK) == KX_CODEC_ZSTD) {
			bad(n, DP_BAD_BAD_BATCH);
			return KX_ERR_UNSUPPORTED_COMPRESSION_TYPE;
		}
	} else if (*len == 0) {
		*b = NULL;
		return 0;
	} else if (magic != RB_MAGIC) {
		size_t out_len = 0;
		int rc = ms_upconvert(*b, *len, conv, &out_len);
		if (rc == -ENOMEM) {
			n->st.budget_exhausted++;
			return SN_ERR_NOT_ENOUGH_REPLICAS; /* retriable */
		}
		if (rc < 0) {
			bad(n, DP_BAD_BAD_BATCH);
			return rc == SL_EATTRIBUTES ? SN_ERR_INVALID_RECORD :
						      SN_ERR_CORRUPT_MESSAGE;
		}
		*b = *conv;
		*len = out_len;
		n->st.kafka_upconverted++;
	}
	int16_t err = dp_batch_check(*b, *len, &why);
	if (err)
		bad(n, why);
	return err;
}

static void produce(struct dp_net *n, struct dp_conn *c,
		    const struct kc_request_header *h,
		    const struct kc_produce_req *r)
{
	n->st.produce++;
	int quiet = r->acks == 0;
	struct kx_iter it = KX_ITER(&r->topic_data, struct kc_produce_req_topic,
				    partition_data,
				    struct kc_produce_req_partition);
	/* v13+ (KIP-516): topics by id, looked up as Fetch v13+ does */
	if (h->api_version >= 13)
		it.id_off = (long)offsetof(struct kc_produce_req_topic, topic_id);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	if (quiet)
		dp_conn_unseq(n, m); /* acks=0: no answer, no place in order */
	x->acks = r->acks;
	int16_t all_err = 0;
	/* a transactional id is taken as it is: its batches carry the
	 * transactional attribute the storage core reads (there are no ACLs
	 * to check it against) */
	if (r->acks != 0 && r->acks != 1 && r->acks != -1) {
		bad(n, DP_BAD_BAD_ACKS);
		all_err = SN_ERR_INVALID_REQUIRED_ACKS;
	}
	/* Kafka's rule: the internal topics take appends only from its own
	 * admin client id (here sluice-control's group store, glog.h) */
	if (!kc_str_is(h->client_id, KX_ADMIN_CLIENT_ID,
		       sizeof(KX_ADMIN_CLIENT_ID) - 1)) {
		for (uint32_t i = 0; i < x->ntopics; i++) {
			const struct kx_topic *t = &x->topics[i];
			struct kc_str name = {t->name, t->name_len};
			const struct dp_topic *dt =
				name.len <= 0 && t->id ?
					dp_topic_by_id(n->dp, t->id) : NULL;
			if (dt)
				name = (struct kc_str){dt->name,
						       (int32_t)strlen(dt->name)};
			if (!kx_internal(name))
				continue;
			for (uint32_t k = t->first; k < t->first + t->count;
			     k++)
				if (!x->parts[k].error)
					x->parts[k].error =
						SN_ERR_INVALID_TOPIC_EXCEPTION;
		}
	}
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_produce_req_partition *e = kx_next(&it);
		const uint8_t *b = e->records.ptr;
		size_t blen = e->records.len > 0 ?
				      (size_t)e->records.len : 0;
		int16_t err = pp->error ? pp->error : all_err;
		uint8_t *conv = NULL; /* an up-converted message set */
		if (!err)
			err = produce_records(n, h->api_version, &b, &blen,
					      &conv);
		pp->error = err;
		if (err || !b) {
			free(conv);
			continue; /* !b: an empty message set, nothing stored */
		}
		struct dp_msg *s = kx_share(n, m, k, DP_PRODUCE, blen);
		if (!s) {
			free(conv);
			n->st.budget_exhausted++;
			pp->error = SN_ERR_NOT_ENOUGH_REPLICAS;
			continue;
		}
		s->rq.produce.acks = r->acks;
		s->rq.produce.timeout_ms = r->timeout_ms > 0 ?
						   (uint32_t)r->timeout_ms :
						   30000;
		/* Kafka clients wait for a slow broker rather than back off */
		s->rq.produce.may_stall = 1;
		s->req = s->data;
		s->req_len = (uint32_t)blen;
		memcpy(s->req, b, blen);
		free(conv);
		conv = NULL;
		if (quiet) {
			/* acks=0: freed by the core, never answered */
			s->done = NULL;
			s->owner = NULL;
			if (dp_store_submit(n, pp->p, s)) {
				n->st.ring_full++;
				dp_msg_free(s);
			}
			continue;
		}
		kx_send(n, m, pp, s);
	}
	if (quiet)
		dp_msg_free(m);
	else if (x->pending == 0)
		kx_finish(n, m);
}

/* A request kept past the cycle it was parsed in (a long-poll fetch):
 * when a topic was deleted since its partitions were looked up, the
 * pointers may be freed (topics.c): look them up again by name, and a
 * partition that is gone or not the same any more is unknown. */
static void kx_revalidate(struct dp_net *n, struct kx_req *x)
{
	uint64_t gen = atomic_load_explicit(&n->dp->topic_gen,
					    memory_order_acquire);
	if (gen == x->topic_gen)
		return;
	x->topic_gen = gen;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		const struct kx_topic *t = &x->topics[i];
		struct dp_topic *dt =
			x->by_id ? (t->id ? dp_topic_by_id(n->dp, t->id) : NULL)
				 : dp_topic_by_name(n->dp, t->name,
						    (size_t)t->name_len);
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			struct dp_partition *now =
				dt && pp->index >= 0 && pp->index < dt->partitions ?
					&dt->parts[pp->index] : NULL;
			if (pp->p && pp->p != now) {
				pp->p = NULL;
				pp->error = x->by_id && !dt ?
						    KX_ERR_UNKNOWN_TOPIC_ID :
						    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			}
		}
	}
}

/* Issue the fetch shares of x (again, after a wait). */
static void fetch_issue(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	kx_revalidate(n, x);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		if (pp->sub) {
			pp->sub->owner = NULL;
			dp_msg_free(pp->sub);
			pp->sub = NULL;
		}
		if (!pp->p || (pp->error &&
			       pp->error != SN_ERR_REQUEST_TIMED_OUT))
			continue;
		pp->error = 0;
		pp->seen = x->replica_id > 0 ? pp->p->end_offset :
					       pp->p->high_watermark;
		struct dp_msg *s = kx_share(n, m, k, DP_FETCH, 0);
		if (!s) {
			n->st.budget_exhausted++;
			continue; /* answered empty; the client fetches again */
		}
		/* read at once (the wait is ours, across partitions); the
		 * records go out from the share's own buffer */
		s->rq.fetch = (struct dp_fetch){
			.offset = pp->offset,
			.max_bytes = pp->max_bytes,
			.hard_max = DP_FETCH_MAX_BYTES,
			.isolation = 0, /* below the high watermark */
			/* isolation_level 1: below the last stable offset,
			 * with the aborted transactions read */
			.read_committed = x->isolation == 1,
			/* a follower (its node id): to the log end */
			.replica_id = x->replica_id,
			.current_leader_epoch = pp->cle,
			.check_epoch = 1,
		};
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

static void fetch(struct dp_net *n, struct dp_conn *c,
		  const struct kc_request_header *h,
		  const struct kc_fetch_req *r)
{
	n->st.fetch++;
	struct kx_iter it = KX_ITER(&r->topics, struct kc_fetch_req_topic,
				    partitions, struct kc_fetch_req_partition);
	if (h->api_version >= 13)
		it.id_off = (long)offsetof(struct kc_fetch_req_topic, topic_id);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	x->isolation = r->isolation_level;
	/* v15+ (KIP-903) names the follower in its replica state */
	x->replica_id = h->api_version >= 15 ? r->replica_state.replica_id :
					       r->replica_id;
	x->max_wait_ms = r->max_wait_ms > 0 ? r->max_wait_ms : 0;
	x->min_bytes = r->min_bytes > 0 ? r->min_bytes : 0;
	x->max_bytes = r->max_bytes > 0 ? r->max_bytes : INT32_MAX;
	x->deadline_ns = dp_now_ns(n->dp) + (uint64_t)x->max_wait_ms * 1000000ull;
	/* sessions are declined (session_id 0 in every answer); a client
	 * that names one it was never given must start over */
	int16_t all_err = r->session_id != 0 || r->session_epoch > 0 ?
				  SN_ERR_FETCH_SESSION_ID_NOT_FOUND : 0;
	uint64_t records_max = 0;
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_fetch_req_partition *e = kx_next(&it);
		/* v18's high_watermark (tagged, KIP-1166) is a follower's
		 * own, for the leader's replica state: a consumer leaves it
		 * at its default and it changes nothing here */
		pp->offset = e->fetch_offset;
		pp->cle = e->current_leader_epoch;
		pp->lso = -1;
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
		kx_finish(n, m);
		return;
	}
	fetch_issue(n, m);
}

/* Kafka's special ListOffsets timestamps (ListOffsetsRequest). */
#define KX_TS_LATEST -1
#define KX_TS_EARLIEST -2
#define KX_TS_MAX_TIMESTAMP -3    /* v7+, KIP-734 */
#define KX_TS_EARLIEST_LOCAL -4   /* v8+, KIP-405 */
#define KX_TS_LATEST_TIERED -5    /* v9+, KIP-1005 */
#define KX_TS_EARLIEST_PENDING_UPLOAD -6 /* v11+, KIP-1023 */
#define KX_LIST_UNSUPPORTED INT64_MIN
#define KX_LIST_NONE (INT64_MIN + 1)

/*
 * The storage core's question (struct dp_list_offsets) for ListOffsets
 * timestamp ts at version v, as Kafka answers them (KafkaApis, Partition
 * and UnifiedLog.fetchOffsetByTimestamp): KX_LIST_UNSUPPORTED for a
 * negative timestamp the version does not know (UNSUPPORTED_VERSION);
 * KX_LIST_NONE for "no offset, no error" (the latest tiered offset and
 * the earliest pending upload offset: no tiered storage here, offset and
 * epoch -1 as Kafka without it, UnifiedLog.fetchOffsetByTimestamp).  The
 * earliest local
 * offset is the earliest (all of a log is local).  The largest
 * timestamp (v7+) is the storage core's (slog_max_timestamp).
 */
static int64_t list_timestamp(int16_t v, int64_t ts)
{
	if (ts >= 0 || ts == KX_TS_LATEST || ts == KX_TS_EARLIEST)
		return ts;
	if (v == 0)
		return KX_LIST_UNSUPPORTED;
	if (ts == KX_TS_MAX_TIMESTAMP && v >= 7)
		return ts;
	if (ts == KX_TS_EARLIEST_LOCAL && v >= 8)
		return KX_TS_EARLIEST;
	if (ts == KX_TS_LATEST_TIERED && v >= 9)
		return KX_LIST_NONE;
	if (ts == KX_TS_EARLIEST_PENDING_UPLOAD && v >= 11)
		return KX_LIST_NONE;
	return KX_LIST_UNSUPPORTED;
}

static void list_offsets(struct dp_net *n, struct dp_conn *c,
			 const struct kc_request_header *h,
			 const struct kc_list_offsets_req *r)
{
	n->st.list_offsets++;
	struct kx_iter it = KX_ITER(&r->topics, struct kc_list_offsets_req_topic,
				    partitions,
				    struct kc_list_offsets_req_partition);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	x->isolation = r->isolation_level;
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_list_offsets_req_partition *e = kx_next(&it);
		pp->timestamp = e->timestamp;
		pp->max_offsets = e->max_num_offsets;
		pp->found_ts = -1;
		if (pp->error)
			continue;
		int64_t ts = list_timestamp(x->version, pp->timestamp);
		if (ts == KX_LIST_UNSUPPORTED) {
			pp->error = SN_ERR_UNSUPPORTED_VERSION;
			continue;
		}
		if (ts == KX_LIST_NONE)
			continue; /* answered "none" without error */
		struct dp_msg *s = kx_share(n, m, k, DP_LIST_OFFSETS, 0);
		if (!s) {
			n->st.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		s->rq.list.timestamp = ts;
		/* v2+: latest for read_committed is the last stable offset */
		s->rq.list.read_committed = x->isolation == 1;
		s->rq.list.current_leader_epoch = e->current_leader_epoch;
		s->rq.list.check_epoch = 1;
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

/* Kafka's DeleteRecords: a DP_DELETE_RECORDS share per partition, which
 * the storage core answers with the new log start (the low watermark);
 * errors as Kafka: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE for an
 * offset above the high watermark (or below -1), low watermark -1 with
 * any error.  timeout_ms is not needed: one replica answers at once. */
static void delete_records(struct dp_net *n, struct dp_conn *c,
			   const struct kc_request_header *h,
			   const struct kc_delete_records_req *r)
{
	struct kx_iter it = KX_ITER(&r->topics, struct kc_delete_records_req_topic,
				    partitions,
				    struct kc_delete_records_req_partition);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_delete_records_req_partition *e = kx_next(&it);
		if (pp->error)
			continue;
		if (e->offset < -1) {
			pp->error = SN_ERR_OFFSET_OUT_OF_RANGE;
			continue;
		}
		struct dp_msg *s = kx_share(n, m, k, DP_DELETE_RECORDS, 0);
		if (!s) {
			n->st.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		s->rq.del.offset = e->offset;
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

/* A marker of a WriteTxnMarkers request: its topics are topics[first,
 * first + count). */
struct kx_marker {
	int64_t producer_id;
	uint32_t first, count;
	int32_t coordinator_epoch;
	int16_t epoch;
	uint8_t commit;
};

/* Kafka gives a marker's write the request's timeout; the request has
 * none, so the coordinator's usual one. */
#define KX_MARKER_TIMEOUT_MS 30000

/*
 * Kafka's WriteTxnMarkers (sent by a transaction coordinator, sluice's
 * in sluice-control, to the leader of every partition of a transaction):
 * a DP_WRITE_MARKER share per partition, answered when the marker is
 * durable, with Kafka's per-partition errors: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_PRODUCER_EPOCH (the partition knows a newer epoch of the
 * producer), KAFKA_STORAGE_ERROR, REQUEST_TIMED_OUT (no room at the
 * partition's core, retriable).  Accepted from any client: there are no
 * ACLs (Kafka asks for CLUSTER_ACTION).  The request has two levels
 * (markers, then topics), so it is read here rather than by kx_begin.
 */
static void write_txn_markers(struct dp_net *n, struct dp_conn *c,
			      const struct kc_request_header *h,
			      const struct kc_write_txn_markers_req *r)
{
	const struct kc_array *mk = &r->markers;
	const struct kc_write_txn_markers_req_writable_txn_marker *ms = mk->items;
	uint32_t ntopics = 0, nparts = 0;
	size_t names = 0;
	/* bounded: the decoded arrays, each counted once, and KX_MAX_PARTS */
	for (int32_t i = 0; i < mk->count && nparts + ntopics <= KX_MAX_PARTS;
	     i++) {
		const struct kc_write_txn_markers_req_writable_txn_marker_topic
			*ts = ms[i].topics.items;
		for (int32_t j = 0; j < ms[i].topics.count; j++) {
			ntopics++;
			names += (size_t)(ts[j].name.len > 0 ? ts[j].name.len : 0);
			nparts += (uint32_t)(ts[j].partition_indexes.count > 0 ?
						     ts[j].partition_indexes.count : 0);
		}
	}
	if (mk->count < 0 ||
	    (uint64_t)nparts + ntopics + (uint64_t)mk->count > KX_MAX_PARTS) {
		bad(n, DP_BAD_KAFKA_REQUEST);
		poison(n, c);
		return;
	}
	size_t room = (size_t)mk->count * sizeof(struct kx_marker) + names;
	struct dp_msg *m = kx_new(n, c, h, ntopics, nparts, room);
	if (!m) {
		n->st.budget_exhausted++;
		dp_conn_abort(n, c->id);
		return;
	}
	struct kx_req *x = kx_of(m);
	_Static_assert(sizeof(struct kx_part) % _Alignof(struct kx_marker) == 0,
		       "markers follow parts[] aligned");
	struct kx_marker *xm = (struct kx_marker *)(x->parts + nparts);
	char *namep = (char *)(xm + mk->count);
	x->nmarkers = (uint32_t)mk->count;
	/* acquire: as kx_begin */
	x->topic_gen = atomic_load_explicit(&n->dp->topic_gen,
					    memory_order_acquire);
	uint32_t t = 0, k = 0;
	for (int32_t i = 0; i < mk->count; i++) {
		const struct kc_write_txn_markers_req_writable_txn_marker *e = &ms[i];
		const struct kc_write_txn_markers_req_writable_txn_marker_topic
			*ts = e->topics.items;
		xm[i] = (struct kx_marker){ e->producer_id, t,
					    (uint32_t)e->topics.count,
					    e->coordinator_epoch,
					    e->producer_epoch,
					    e->transaction_result ? 1 : 0 };
		for (int32_t j = 0; j < e->topics.count; j++, t++) {
			const int32_t *idx = ts[j].partition_indexes.items;
			int32_t np = ts[j].partition_indexes.count;
			struct dp_topic *dt = dp_topic_by_name(
				n->dp, ts[j].name.ptr,
				(size_t)(ts[j].name.len > 0 ? ts[j].name.len : 0));
			x->topics[t].first = k;
			x->topics[t].count = (uint32_t)(np > 0 ? np : 0);
			kx_name(&x->topics[t], ts[j].name, &namep);
			for (int32_t q = 0; q < np; q++, k++) {
				struct kx_part *pp = &x->parts[k];
				pp->index = idx[q];
				pp->p = dt && idx[q] >= 0 && idx[q] < dt->partitions ?
						&dt->parts[idx[q]] : NULL;
				pp->offset = pp->hw = pp->log_start = -1;
				if (!pp->p) {
					bad(n, DP_BAD_UNKNOWN_TOPIC);
					pp->error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
					continue;
				}
				struct dp_msg *s = kx_share(n, m, k,
							    DP_WRITE_MARKER, 0);
				if (!s) {
					n->st.budget_exhausted++;
					pp->error = SN_ERR_REQUEST_TIMED_OUT;
					continue;
				}
				s->rq.marker = (struct dp_write_marker){
					.producer_id = e->producer_id,
					.epoch = e->producer_epoch,
					.commit = e->transaction_result ? 1 : 0,
					/* v2+ (KIP-1228): 2+ fences the
					 * epoch strictly; the marker
					 * written is the same */
					.txn_version = e->transaction_version > 0 ?
						(uint8_t)e->transaction_version : 0,
					.coordinator_epoch = e->coordinator_epoch,
					.timeout_ms = KX_MARKER_TIMEOUT_MS,
				};
				kx_send(n, m, pp, s);
			}
		}
	}
	assert(t == ntopics && k == nparts);
	if (x->pending == 0)
		kx_finish(n, m);
}

/* OffsetForLeaderEpoch, as Kafka's leader answers it from its epoch
 * cache (a DP_EPOCH_END share: dataplane/epoch_cache.h): the latest epoch
 * ends at the log end; -1, or an epoch above the latest, is "undefined"
 * (epoch and end offset -1, no error); an older one ends where the next
 * known epoch starts.  v2+ current_leader_epoch fences: below the
 * partition's FENCED_LEADER_EPOCH, above UNKNOWN_LEADER_EPOCH (-1: not
 * checked).  v3+ replica_id: a follower may ask any replica, a consumer
 * only the leader (NOT_LEADER_OR_FOLLOWER). */
static void offset_for_leader_epoch(struct dp_net *n, struct dp_conn *c,
				    const struct kc_request_header *h,
				    const struct kc_offset_for_leader_epoch_req *r)
{
	struct kx_iter it = KX_ITER(
		&r->topics,
		struct kc_offset_for_leader_epoch_req_offset_for_leader_topic,
		partitions,
		struct kc_offset_for_leader_epoch_req_offset_for_leader_partition);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		const struct kc_offset_for_leader_epoch_req_offset_for_leader_partition
			*e = kx_next(&it);
		pp->timestamp = e->leader_epoch; /* the epoch asked about */
		if (pp->error)
			continue;
		struct dp_msg *s = kx_share(n, m, k, DP_EPOCH_END, 0);
		if (!s) {
			n->st.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		s->rq.epoch_end = (struct dp_epoch_end){
			.epoch = e->leader_epoch,
			.current_leader_epoch = e->current_leader_epoch,
			.replica_id = h->api_version >= 3 ? r->replica_id : -1,
		};
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

/* Every live topic with all its partitions, as a DescribeLogDirs request
 * names them, built in the decoding arena a (after the request).  Returns
 * 0, or -ENOBUFS when the arena is full. */
static int all_log_dir_topics(struct dp_net *n, struct kc_arena *a,
			      struct kc_array *out)
{
	typedef struct kc_describe_log_dirs_req_describable_log_dir_topic topic_t;
	uint32_t nt = 0;
	size_t used = (a->used + 7) & ~(size_t)7;
	topic_t *ts = (topic_t *)(void *)(a->base + used);
	size_t cap = a->cap > used ? (a->cap - used) / sizeof(topic_t) : 0;
	/* the topics first, their partitions after them */
	for (uint32_t i = 0; i < DP_MAX_TOPICS; i++) {
		/* acquire: pairs with dp_topic_put's release store */
		struct dp_topic *t = atomic_load_explicit(&n->dp->topics[i],
							  memory_order_acquire);
		if (!t || !atomic_load_explicit(&t->live, memory_order_acquire))
			continue;
		if (nt >= cap)
			return -ENOBUFS;
		ts[nt].topic = (struct kc_str){ t->name, (int32_t)strlen(t->name) };
		ts[nt].partitions = (struct kc_array){ NULL, t->partitions };
		nt++;
	}
	size_t at = used + nt * sizeof(topic_t);
	for (uint32_t i = 0; i < nt; i++) {
		size_t bytes = (size_t)ts[i].partitions.count * sizeof(int32_t);
		if (at + bytes > a->cap)
			return -ENOBUFS;
		int32_t *ps = (int32_t *)(void *)(a->base + at);
		for (int32_t j = 0; j < ts[i].partitions.count; j++)
			ps[j] = j;
		ts[i].partitions.items = ps;
		at += bytes;
	}
	a->used = at;
	*out = (struct kc_array){ ts, (int32_t)nt };
	return 0;
}

/* Kafka's DescribeLogDirs: one log dir, the data dir, with each partition
 * asked for (null: every one) that this broker has: its size (the bytes
 * of its segments, a DP_LOG_SIZE share), offset lag 0 (no future
 * replica), is_future false.  Partitions it does not have are left out,
 * as Kafka leaves them out. */
static void describe_log_dirs(struct dp_net *n, struct dp_conn *c,
			      const struct kc_request_header *h,
			      const struct kc_describe_log_dirs_req *r,
			      struct kc_arena *a)
{
	struct kc_array all;
	const struct kc_array *tops = &r->topics;
	if (r->topics.count < 0) {
		if (all_log_dir_topics(n, a, &all)) {
			n->st.budget_exhausted++;
			dp_conn_abort(n, c->id);
			return;
		}
		tops = &all;
	}
	struct kx_iter it = KX_ITER(
		tops, struct kc_describe_log_dirs_req_describable_log_dir_topic,
		partitions, int32_t);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		if (pp->error)
			continue;
		struct dp_msg *s = kx_share(n, m, k, DP_LOG_SIZE, 0);
		if (!s) {
			n->st.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

/* Kafka's DescribeProducers: per partition, the idempotent producers its
 * storage core remembers (a DP_PRODUCERS share whose data area they come
 * back in); UNKNOWN_TOPIC_OR_PARTITION for a partition there is none. */
static void describe_producers(struct dp_net *n, struct dp_conn *c,
			       const struct kc_request_header *h,
			       const struct kc_describe_producers_req *r)
{
	struct kx_iter it = KX_ITER(&r->topics,
				    struct kc_describe_producers_req_topic_request,
				    partition_indexes, int32_t);
	struct dp_msg *m = kx_begin(n, c, h, &it);
	if (!m)
		return;
	struct kx_req *x = kx_of(m);
	for (uint32_t k = 0; k < x->nparts; k++) {
		struct kx_part *pp = &x->parts[k];
		if (pp->error)
			continue;
		struct dp_msg *s = kx_share(n, m, k, DP_PRODUCERS,
					    DP_IDEM_PRODUCERS *
						    sizeof(struct dp_producer_state));
		if (!s) {
			n->st.budget_exhausted++;
			pp->error = SN_ERR_REQUEST_TIMED_OUT;
			continue;
		}
		s->rq.prod.max = DP_IDEM_PRODUCERS;
		kx_send(n, m, pp, s);
	}
	if (x->pending == 0)
		kx_finish(n, m);
}

/* A share's result, folded into its partition of the request. */
static void share_done(struct dp_net *n, struct dp_msg *s)
{
	struct dp_msg *m = s->owner;
	struct kx_req *x = kx_of(m);
	assert(s->owner_idx < x->nparts && x->pending > 0);
	struct kx_part *pp = &x->parts[s->owner_idx];
	const struct dp_result *r = &s->res;
	int keep = 0;
	pp->leader_epoch = r->error ? -1 : r->leader_epoch;
	/* a failed fetch answers -1 for its offsets, as Kafka does; a
	 * produce gives the log start either way, and so does a follower's
	 * fetch below it (a sluice follower starts over there) */
	if (x->api == KC_API_PRODUCE || !r->error ||
	    (x->replica_id > 0 && r->error == SN_ERR_OFFSET_OUT_OF_RANGE))
		pp->log_start = r->log_start_offset;
	if (r->error) {
		pp->error = r->error;
		if (r->error == SN_ERR_THROTTLING_QUOTA_EXCEEDED)
			pp->error = x->api == KC_API_PRODUCE ?
					    SN_ERR_NOT_ENOUGH_REPLICAS :
					    SN_ERR_REQUEST_TIMED_OUT;
	} else if (x->api == KC_API_PRODUCE) {
		pp->offset = r->base_offset;
	} else if (x->api == KC_API_FETCH) {
		pp->hw = r->high_watermark;
		pp->lso = r->last_stable_offset;
		pp->sub = s; /* its records (and aborted list) go out with the
				answer */
		keep = 1;
	} else if (x->api == KC_API_OFFSET_FOR_LEADER_EPOCH) {
		pp->offset = r->offset;
		pp->found_ts = r->timestamp;
	} else if (x->api == KC_API_DESCRIBE_LOG_DIRS) {
		pp->offset = r->size_bytes;
	} else if (x->api == KC_API_DESCRIBE_PRODUCERS) {
		pp->sub = s; /* its producers go out with the answer */
		keep = 1;
	} else {
		pp->offset = r->offset;
		pp->found_ts = r->timestamp;
		pp->hw = r->high_watermark;
	}
	if (!keep) {
		s->owner = NULL;
		dp_msg_free(s);
	}
	if (--x->pending == 0)
		kx_finish(n, m);
}

static size_t fetch_records(const struct kx_part *pp, const uint8_t **rec)
{
	if (!pp->sub || !pp->sub->res.bytes_len) {
		*rec = empty_bytes;
		return 0;
	}
	*rec = pp->sub->res.bytes;
	return pp->sub->res.bytes_len;
}

static void free_shares(struct kx_req *x)
{
	for (uint32_t k = 0; k < x->nparts; k++)
		if (x->parts[k].sub) {
			x->parts[k].sub->owner = NULL;
			dp_msg_free(x->parts[k].sub);
			x->parts[k].sub = NULL;
		}
}

static void finish_produce(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_produce_resp_topic *ts = (void *)kx_core_of(n)->arena_mem;
	struct kc_produce_resp_partition *ps = (void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].name = (struct kc_str){ t->name, t->name_len };
		/* v13+: the id asked for, echoed (also one no topic has) */
		ts[i].topic_id = t->uuid;
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
			/* v10+ tagged, sent by Kafka for NOT_LEADER_OR_FOLLOWER
			 * only (never here): left at its default */
			ps[k].current_leader =
				(struct kc_produce_resp_leader_id_and_epoch){ -1, -1 };
		}
	}
	struct kc_produce_resp r = {
		.responses = { ts, (int32_t)x->ntopics },
		.throttle_time_ms = 0,
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

/*
 * The records of partition pp for a Fetch v0-3: its stored batches
 * down-converted (proto/msgset.h) to magic 0 (v0-1) or 1 (v2-3), as Kafka
 * converts for those versions, from the fetch offset and within the
 * partition's max bytes (the first message always).  Returns the bytes
 * (*conv, malloc'd, the caller frees it after encoding) or 0 with *conv
 * NULL: nothing, or the partition's error set (a batch that cannot be
 * read), or no memory (answered empty; the client fetches again).
 */
static size_t fetch_downconvert(struct dp_net *n, const struct kx_req *x,
				struct kx_part *pp, uint8_t **conv)
{
	const uint8_t *rec;
	size_t rn = fetch_records(pp, &rec), out_len = 0;
	*conv = NULL;
	if (!rn)
		return 0;
	int rc = ms_downconvert(rec, rn, x->version <= 1 ? 0 : 1, pp->offset,
				pp->max_bytes, conv, &out_len);
	if (rc == -ENOMEM) {
		n->st.budget_exhausted++;
		return 0;
	}
	if (rc < 0) {
		pp->error = SN_ERR_CORRUPT_MESSAGE;
		return 0;
	}
	n->st.kafka_downconverted++;
	return out_len;
}

/* The storage core's aborted transactions are encoded where they are. */
_Static_assert(sizeof(struct dp_aborted_txn) == sizeof(struct kc_fetch_aborted_txn) &&
		       offsetof(struct dp_aborted_txn, producer_id) ==
			       offsetof(struct kc_fetch_aborted_txn, producer_id) &&
		       offsetof(struct dp_aborted_txn, first_offset) ==
			       offsetof(struct kc_fetch_aborted_txn, first_offset),
	       "struct dp_aborted_txn is Kafka's AbortedTransaction");

static void finish_fetch(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_fetch_resp_topic *ts = (void *)kx_core_of(n)->arena_mem;
	struct kc_fetch_resp_partition *ps = (void *)(ts + x->ntopics);
	/* the holes: where each partition's records go, and whose they are */
	size_t *at = (size_t *)(ps + x->nparts);
	size_t *len = at + x->nparts;
	struct dp_msg **owners = (struct dp_msg **)(len + x->nparts);
	const uint8_t **recs = (const uint8_t **)(owners + x->nparts);
	/* v0-3: the down-converted records, copied into the answer */
	uint8_t **convs = (uint8_t **)(recs + x->nparts);
	int down = x->version <= 3;
	uint32_t nholes = 0, nconvs = 0;
	size_t bound = 64, total = 0, ext = 0; /* records; of them in holes */
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].topic = (struct kc_str){ t->name, t->name_len };
		ts[i].topic_id = t->uuid;
		ts[i].partitions = (struct kc_array){ &ps[t->first],
						      (int32_t)t->count };
		bound += 32 + (size_t)t->name_len + t->count * 96;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			const uint8_t *rec;
			size_t rn;
			if (down) {
				uint8_t *cv;
				rn = fetch_downconvert(n, x, pp, &cv);
				rec = cv;
				if (cv)
					convs[nconvs++] = cv;
			} else {
				rn = fetch_records(pp, &rec);
			}
			/* max_bytes bounds the answer, but the first batch
			 * goes out whole so that a consumer always moves */
			if (total && total + rn > (size_t)x->max_bytes)
				rn = 0;
			total += rn;
			memset(&ps[k], 0, sizeof(ps[k]));
			ps[k].partition_index = pp->index;
			ps[k].error_code = pp->error;
			ps[k].high_watermark = pp->hw;
			ps[k].last_stable_offset = pp->error ? -1 : pp->lso;
			ps[k].log_start_offset = pp->log_start;
			/* v12+ tagged: none of these is sent (their
			 * defaults) */
			ps[k].diverging_epoch =
				(struct kc_fetch_resp_epoch_end_offset){ -1, -1 };
			ps[k].current_leader =
				(struct kc_fetch_resp_leader_id_and_epoch){ -1, -1 };
			ps[k].snapshot_id =
				(struct kc_fetch_resp_snapshot_id){ -1, -1 };
			/* as Kafka: null when read uncommitted (no list is
			 * looked for), else the list of aborted transactions
			 * overlapping the records returned (in the share's
			 * answer buffer, request.h); an errored partition:
			 * empty */
			ps[k].aborted_transactions = (struct kc_array){
				NULL, !pp->error && x->isolation == 0 ? -1 : 0 };
			if (rn && !down && x->isolation == 1 && pp->sub &&
			    pp->sub->res.naborted)
				ps[k].aborted_transactions = (struct kc_array){
					pp->sub->res.aborted,
					(int32_t)pp->sub->res.naborted };
			if (ps[k].aborted_transactions.count > 0)
				bound += (size_t)ps[k].aborted_transactions.count *
					 20;
			ps[k].preferred_read_replica = -1;
			ps[k].records = (struct kc_bytes){ empty_bytes, 0 };
			if (rn && down) {
				/* copied: the encoder's bound grows by it */
				ps[k].records = (struct kc_bytes){
					rec, (int32_t)rn };
				bound += rn;
			} else if (rn) {
				ext += rn;
				/* sent from the share that read it */
				ps[k].records = (struct kc_bytes){
					KC_BYTES_EXTERNAL, (int32_t)rn };
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
		.node_endpoints = { NULL, 0 }, /* v16+: only for NOT_LEADER */
	};
	struct kc_response_header rh = { x->corr };
	struct kc_holes holes = { at, len, 0, nholes };
	long enc = -ENOMEM;
	if (!dp_msg_resp(n->dp, m, bound + 4))
		enc = kc_encode_response_ext(x->api, x->version, &rh,
					     (const void *)&r, m->resp + 4,
					     bound, &holes);
	if (enc >= 0) {
		rb_put32(m->resp, (uint32_t)((size_t)enc + ext));
		m->resp_len = (uint32_t)enc + 4;
		if (nholes && dp_chain_build(m, 4, at, len, owners, recs, nholes))
			enc = -ENOMEM;
	}
	if (enc < 0) {
		for (uint32_t h = 0; h < nholes; h++) {
			owners[h]->owner = NULL;
			dp_msg_free(owners[h]);
		}
		dp_log("kafka: fetch answer not built: %ld", enc);
		m->resp_len = 0;
		m->close_after = 1;
	}
	for (uint32_t j = 0; j < nconvs; j++)
		free(convs[j]);
	free_shares(x); /* those whose records did not fit */
	dp_conn_deliver(n, m);
}

/* Wall-clock milliseconds (Kafka's timestamps). */
static int64_t kx_wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * ListOffsets v0's answer (Kafka's legacyFetchOffsetsBefore): offsets,
 * largest first, at most max_offsets of them.  Kafka lists each
 * segment's base offset with the segment's last-modified time, then the
 * log end (the high watermark for a consumer) with the current time, and
 * answers those whose time is at or before the timestamp; sluice's logs
 * answer as one segment from the log start: latest, or a time not in the
 * past, [high watermark, log start] ([log start] when empty); earliest
 * [log start]; an earlier time [log start] when no record is as new
 * (the segment was last written before it), else none.
 */
static uint32_t list_v0(const struct kx_part *pp, int64_t *out)
{
	int64_t all[2];
	uint32_t n = 0;
	if (pp->timestamp == KX_TS_EARLIEST) {
		all[n++] = pp->log_start;
	} else if (pp->timestamp == KX_TS_LATEST ||
		   pp->timestamp >= kx_wall_ms()) {
		if (pp->hw > pp->log_start)
			all[n++] = pp->hw;
		all[n++] = pp->log_start;
	} else if (pp->offset < 0) {
		all[n++] = pp->log_start;
	}
	if (pp->max_offsets < (int32_t)n)
		n = pp->max_offsets > 0 ? (uint32_t)pp->max_offsets : 0;
	memcpy(out, all, n * sizeof(*out));
	return n;
}

static void finish_list(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_list_offsets_resp_topic *ts = (void *)kx_core_of(n)->arena_mem;
	struct kc_list_offsets_resp_partition *ps = (void *)(ts + x->ntopics);
	int64_t *olds = (int64_t *)(void *)(ps + x->nparts); /* v0: 2 each */
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].name = (struct kc_str){ t->name, t->name_len };
		ts[i].partitions = (struct kc_array){ &ps[t->first],
						      (int32_t)t->count };
		bound += 16 + (size_t)t->name_len + t->count * 64;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			struct kx_part *pp = &x->parts[k];
			memset(&ps[k], 0, sizeof(ps[k]));
			ps[k].partition_index = pp->index;
			ps[k].error_code = pp->error;
			ps[k].old_style_offsets = (struct kc_array){ NULL, 0 };
			if (x->version == 0 && !pp->error)
				ps[k].old_style_offsets = (struct kc_array){
					&olds[2 * k],
					(int32_t)list_v0(pp, &olds[2 * k]) };
			/* the found record's time; -1 for latest and
			 * earliest, as Kafka */
			ps[k].timestamp = pp->error ? -1 : pp->found_ts;
			ps[k].offset = pp->error ? -1 : pp->offset;
			/* latest: read_committed reads up to the last stable
			 * offset, which is the high watermark while sluice
			 * has no transactions: the same offset */
			ps[k].leader_epoch = pp->error || pp->offset < 0 ?
						     -1 : pp->leader_epoch;
		}
	}
	struct kc_list_offsets_resp r = {
		.topics = { ts, (int32_t)x->ntopics },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

static void finish_delete_records(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_delete_records_resp_topic_result *ts =
		(void *)kx_core_of(n)->arena_mem;
	struct kc_delete_records_resp_partition_result *ps =
		(void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		ts[i] = (struct kc_delete_records_resp_topic_result){
			.name = { t->name, t->name_len },
			.partitions = { &ps[t->first], (int32_t)t->count },
		};
		bound += 16 + (size_t)t->name_len + t->count * 24;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			const struct kx_part *pp = &x->parts[k];
			ps[k] = (struct kc_delete_records_resp_partition_result){
				.partition_index = pp->index,
				.low_watermark = pp->error ? -1 : pp->offset,
				.error_code = pp->error,
			};
		}
	}
	struct kc_delete_records_resp r = {
		.topics = { ts, (int32_t)x->ntopics },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

/*
 * In a cluster, the markers written to partitions of __consumer_offsets
 * end transactions whose offsets the group coordinator holds pending
 * (control/gtxn.h): once they are durable here, control hears of them (a
 * WriteTxnMarkers request of those partitions alone, through the admin
 * queue) and the transaction coordinator's answer waits for control's:
 * its errors replace these partitions' (COORDINATOR_LOAD_IN_PROGRESS when
 * there is no answer), so the marker is sent again until the offsets are
 * committed or dropped.
 */
static bool kx_offsets_topic(const struct kx_topic *t)
{
	return t->name_len == (int32_t)strlen(SL_OFFSETS_TOPIC) &&
	       !memcmp(t->name, SL_OFFSETS_TOPIC, strlen(SL_OFFSETS_TOPIC));
}

/* The version of the request control is sent (flexible from 1). */
static int16_t told_version(void)
{
	const struct kc_api *api = kc_api_find(KC_API_WRITE_TXN_MARKERS);
	assert(api);
	return api->max_version < 1 ? api->max_version : 1;
}

/* Every offsets partition written of x is answered err. */
static void told_fail(struct kx_req *x, int16_t err)
{
	for (uint32_t t = 0; t < x->ntopics; t++) {
		const struct kx_topic *kt = &x->topics[t];
		if (!kx_offsets_topic(kt))
			continue;
		for (uint32_t q = kt->first; q < kt->first + kt->count; q++)
			if (!x->parts[q].error)
				x->parts[q].error = err;
	}
}

static void coordinator_told(struct dp_net *n, struct dp_msg *s)
{
	struct dp_msg *m = s->owner;
	struct kx_req *x = kx_of(m);
	const struct kx_marker *xm = (const void *)(x->parts + x->nparts);
	struct kx_core *k = kx_core_of(n);
	struct kc_arena a = { (uint8_t *)k->arena_mem, sizeof(k->arena_mem),
			      0 };
	struct kc_response_header rh;
	union kc_response body;
	long rc = -1;
	if (!s->res.error && s->res.bytes_len)
		rc = kc_decode_response(KC_API_WRITE_TXN_MARKERS,
					told_version(), s->res.bytes,
					s->res.bytes_len, &rh, &body, &a);
	const struct kc_write_txn_markers_resp *r = (const void *)body.raw;
	for (uint32_t i = 0; i < x->nmarkers; i++) {
		for (uint32_t t = xm[i].first; t < xm[i].first + xm[i].count;
		     t++) {
			const struct kx_topic *kt = &x->topics[t];
			if (!kx_offsets_topic(kt))
				continue;
			for (uint32_t q = kt->first; q < kt->first + kt->count;
			     q++) {
				struct kx_part *pp = &x->parts[q];
				if (pp->error)
					continue;
				int16_t err = KC_ERR_COORDINATOR_LOAD_IN_PROGRESS;
				/* the answer's entry of this marker and
				 * partition */
				const struct kc_write_txn_markers_resp_writable_txn_marker_result
					*rm = rc < 0 ? NULL : r->markers.items;
				for (int32_t a1 = 0; rm && a1 < r->markers.count; a1++) {
					if (rm[a1].producer_id != xm[i].producer_id)
						continue;
					const struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
						*rt = rm[a1].topics.items;
					for (int32_t a2 = 0; a2 < rm[a1].topics.count; a2++) {
						if (rt[a2].name.len != kt->name_len ||
						    memcmp(rt[a2].name.ptr, kt->name,
							   (size_t)kt->name_len))
							continue;
						const struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
							*rp = rt[a2].partitions.items;
						for (int32_t a3 = 0; a3 < rt[a2].partitions.count; a3++)
							if (rp[a3].partition_index == pp->index)
								err = rp[a3].error_code;
					}
				}
				pp->error = err;
			}
		}
	}
	s->owner = NULL;
	dp_msg_free(s);
	x->pending--;
	kx_finish(n, m);
}

/* 1 when control was asked (the answer waits for coordinator_told), 0
 * when there is nothing to tell or no way to (then the offsets
 * partitions' markers are answered COORDINATOR_LOAD_IN_PROGRESS). */
static int tell_coordinator(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	const struct kx_marker *xm = (const void *)(x->parts + x->nparts);
	x->told = 1;
	if (!dp_clustered(n->dp))
		return 0;
	/* the request: the markers with an offsets partition written */
	struct kx_core *k = kx_core_of(n);
	struct kc_arena a = { (uint8_t *)k->arena_mem, sizeof(k->arena_mem),
			      0 };
	struct kc_write_txn_markers_req_writable_txn_marker *ms =
		kc_arena_take(&a, x->nmarkers, sizeof(*ms));
	uint32_t nm = 0;
	size_t bytes = 64;
	for (uint32_t i = 0; ms && i < x->nmarkers; i++) {
		struct kc_write_txn_markers_req_writable_txn_marker_topic *ts =
			kc_arena_take(&a, xm[i].count, sizeof(*ts));
		int32_t nt = 0;
		for (uint32_t t = xm[i].first;
		     ts && t < xm[i].first + xm[i].count; t++) {
			const struct kx_topic *kt = &x->topics[t];
			if (!kx_offsets_topic(kt))
				continue;
			int32_t *idx = kc_arena_take(&a, kt->count,
						     sizeof(*idx));
			int32_t np = 0;
			for (uint32_t q = kt->first;
			     idx && q < kt->first + kt->count; q++)
				if (!x->parts[q].error)
					idx[np++] = x->parts[q].index;
			if (!np)
				continue;
			ts[nt++] = (struct kc_write_txn_markers_req_writable_txn_marker_topic){
				.name = { kt->name, kt->name_len },
				.partition_indexes = { idx, np },
			};
			bytes += 32 + (size_t)kt->name_len + (size_t)np * 4;
		}
		if (!nt)
			continue;
		ms[nm++] = (struct kc_write_txn_markers_req_writable_txn_marker){
			.producer_id = xm[i].producer_id,
			.producer_epoch = xm[i].epoch,
			.transaction_result = xm[i].commit,
			.topics = { ts, nt },
			.coordinator_epoch = xm[i].coordinator_epoch,
		};
		bytes += 32;
	}
	if (!nm)
		return 0;
	union kc_request body;
	memset(&body, 0, sizeof(body));
	struct kc_write_txn_markers_req *q = (void *)body.raw;
	q->markers = (struct kc_array){ ms, (int32_t)nm };
	int16_t version = told_version();
	struct kc_request_header h = { KC_API_WRITE_TXN_MARKERS, version,
				       x->corr, { NULL, -1 } };
	uint8_t *buf = kc_arena_take(&a, bytes, 1);
	long len = buf ? kc_encode_request(&h, &body, buf, bytes) : -1;
	struct dp_msg *s = len > 0 ? dp_msg_alloc(n->dp, (size_t)len) : NULL;
	if (!s) {
		n->st.budget_exhausted++;
		told_fail(x, KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
		return 0;
	}
	s->op = DP_ADMIN;
	s->net = n;
	s->done = coordinator_told;
	s->conn = x->conn;
	s->corr = (uint32_t)x->corr;
	s->owner = m;
	if (dp_admin_submit(n->dp, s, DP_ADMIN_KAFKA, 0, buf, (size_t)len)) {
		s->owner = NULL;
		dp_msg_free(s);
		told_fail(x, KC_ERR_COORDINATOR_LOAD_IN_PROGRESS);
		return 0;
	}
	x->pending++;
	return 1;
}

static void finish_write_txn_markers(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	const struct kx_marker *xm = (const void *)(x->parts + x->nparts);
	struct kc_write_txn_markers_resp_writable_txn_marker_result *ms =
		(void *)kx_core_of(n)->arena_mem;
	struct kc_write_txn_markers_resp_writable_txn_marker_topic_result *ts =
		(void *)(ms + x->nmarkers);
	struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
		*ps = (void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->nmarkers; i++) {
		ms[i] = (struct kc_write_txn_markers_resp_writable_txn_marker_result){
			.producer_id = xm[i].producer_id,
			.topics = { &ts[xm[i].first], (int32_t)xm[i].count },
		};
		bound += 16;
	}
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		ts[i] = (struct kc_write_txn_markers_resp_writable_txn_marker_topic_result){
			.name = { t->name, t->name_len },
			.partitions = { &ps[t->first], (int32_t)t->count },
		};
		bound += 16 + (size_t)t->name_len + t->count * 12;
		for (uint32_t k = t->first; k < t->first + t->count; k++)
			ps[k] = (struct kc_write_txn_markers_resp_writable_txn_marker_partition_result){
				.partition_index = x->parts[k].index,
				.error_code = x->parts[k].error,
			};
	}
	struct kc_write_txn_markers_resp r = {
		.markers = { ms, (int32_t)x->nmarkers },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

static void finish_offset_for_leader_epoch(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result *ts =
		(void *)kx_core_of(n)->arena_mem;
	struct kc_offset_for_leader_epoch_resp_epoch_end_offset *ps =
		(void *)(ts + x->ntopics);
	size_t bound = 64;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		ts[i] = (struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result){
			.topic = { t->name, t->name_len },
			.partitions = { &ps[t->first], (int32_t)t->count },
		};
		bound += 16 + (size_t)t->name_len + t->count * 24;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			const struct kx_part *pp = &x->parts[k];
			/* the storage core's epoch cache answered
			 * (epoch_cache.h epc_end_offset_for) */
			int32_t epoch = pp->error ? -1 : (int32_t)pp->found_ts;
			int64_t end = pp->error ? -1 : pp->offset;
			ps[k] = (struct kc_offset_for_leader_epoch_resp_epoch_end_offset){
				.error_code = pp->error,
				.partition = pp->index,
				.leader_epoch = epoch,
				.end_offset = end,
			};
		}
	}
	struct kc_offset_for_leader_epoch_resp r = {
		.topics = { ts, (int32_t)x->ntopics },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

static void finish_describe_log_dirs(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_describe_log_dirs_resp_topic *ts =
		(void *)kx_core_of(n)->arena_mem;
	struct kc_describe_log_dirs_resp_partition *ps =
		(void *)(ts + x->ntopics);
	const char *dir = n->dp->cfg.data_dir;
	size_t bound = 128 + strlen(dir);
	uint32_t nt = 0, np = 0;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		uint32_t first = np;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			const struct kx_part *pp = &x->parts[k];
			if (pp->error)
				continue; /* not ours: left out */
			ps[np++] = (struct kc_describe_log_dirs_resp_partition){
				.partition_index = pp->index,
				.partition_size = pp->offset,
				.offset_lag = 0,
				.is_future_key = false,
			};
		}
		if (np == first)
			continue;
		ts[nt++] = (struct kc_describe_log_dirs_resp_topic){
			.name = { t->name, t->name_len },
			.partitions = { &ps[first], (int32_t)(np - first) },
		};
		bound += 16 + (size_t)t->name_len + (np - first) * 24;
	}
	assert(nt <= x->ntopics && np <= x->nparts);
	struct kc_describe_log_dirs_resp_result res = {
		.error_code = 0,
		.log_dir = { dir, (int32_t)strlen(dir) },
		.topics = { ts, (int32_t)nt },
		.total_bytes = -1,
		.usable_bytes = -1,
		/* v5+: a cordoned dir takes no new partitions (Kafka's
		 * cordoned.log.dirs); sluice's one dir never is */
		.is_cordoned = false,
	};
	struct statvfs sv;
	if (statvfs(dir, &sv) == 0) {
		res.total_bytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
		res.usable_bytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	}
	struct kc_describe_log_dirs_resp r = {
		.results = { &res, 1 },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
}

static void finish_describe_producers(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	struct kc_describe_producers_resp_topic_response *ts =
		(void *)kx_core_of(n)->arena_mem;
	struct kc_describe_producers_resp_partition_response *ps =
		(void *)(ts + x->ntopics);
	struct kc_describe_producers_resp_producer_state *st =
		(void *)(ps + x->nparts);
	size_t room = (sizeof(kx_core_of(n)->arena_mem) -
		       (size_t)((uint8_t *)st -
				(uint8_t *)kx_core_of(n)->arena_mem)) /
		      sizeof(*st);
	size_t bound = 64, ns = 0;
	for (uint32_t i = 0; i < x->ntopics; i++) {
		struct kx_topic *t = &x->topics[i];
		ts[i] = (struct kc_describe_producers_resp_topic_response){
			.name = { t->name, t->name_len },
			.partitions = { &ps[t->first], (int32_t)t->count },
		};
		bound += 16 + (size_t)t->name_len + t->count * 24;
		for (uint32_t k = t->first; k < t->first + t->count; k++) {
			const struct kx_part *pp = &x->parts[k];
			size_t first = ns;
			if (!pp->error && pp->sub) {
				const struct dp_producer_state *q =
					(const void *)pp->sub->data;
				int64_t cnt = pp->sub->res.offset;
				assert(cnt >= 0 && cnt <= DP_IDEM_PRODUCERS);
				for (int64_t j = 0; j < cnt && ns < room; j++)
					st[ns++] = (struct kc_describe_producers_resp_producer_state){
						.producer_id = q[j].producer_id,
						.producer_epoch = q[j].epoch,
						.last_sequence = q[j].last_sequence,
						.last_timestamp = -1,
						.coordinator_epoch =
							q[j].coordinator_epoch,
						.current_txn_start_offset =
							q[j].txn_start_offset,
					};
			}
			ps[k] = (struct kc_describe_producers_resp_partition_response){
				.partition_index = pp->index,
				.error_code = pp->error,
				.error_message = { NULL, -1 },
				.active_producers = { &st[first], (int32_t)(ns - first) },
			};
			bound += (ns - first) * 48;
		}
	}
	struct kc_describe_producers_resp r = {
		.topics = { ts, (int32_t)x->ntopics },
	};
	respond(n, m, x->api, x->version, x->corr, &r, bound);
	free_shares(x);
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
static void kx_finish(struct dp_net *n, struct dp_msg *m)
{
	struct kx_req *x = kx_of(m);
	switch (x->api) {
	case KC_API_PRODUCE:
		finish_produce(n, m);
		return;
	case KC_API_FETCH:
		if (x->max_wait_ms > 0 &&
		    fetch_bytes(x) < (size_t)(x->min_bytes ? x->min_bytes : 1) &&
		    dp_now_ns(n->dp) < x->deadline_ns &&
		    dp_conn_of(n, x->conn)) {
			struct kx_core *k = kx_core_of(n);
			free_shares(x);
			x->wait_next = k->waiting;
			k->waiting = m;
			k->nwaiting++;
			n->st.kafka_waits++;
			return;
		}
		finish_fetch(n, m);
		return;
	case KC_API_DELETE_RECORDS:
		finish_delete_records(n, m);
		return;
	case KC_API_OFFSET_FOR_LEADER_EPOCH:
		finish_offset_for_leader_epoch(n, m);
		return;
	case KC_API_DESCRIBE_LOG_DIRS:
		finish_describe_log_dirs(n, m);
		return;
	case KC_API_DESCRIBE_PRODUCERS:
		finish_describe_producers(n, m);
		return;
	case KC_API_WRITE_TXN_MARKERS:
		if (!x->told && tell_coordinator(n, m))
			return;
		finish_write_txn_markers(n, m);
		return;
	default:
		finish_list(n, m);
		return;
	}
}

/* ---- long-poll fetches ---- */

/* While fetches wait, the core sleeps at most 1 ms. */
static uint64_t max_sleep_us(struct dp_net *n)
{
	return kx_core_of(n)->waiting ? 1000 : 0;
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
		if (pp->p && !pp->error &&
		    (x->replica_id > 0 ? pp->p->end_offset :
					 pp->p->high_watermark) != pp->seen)
			return 1;
	}
	return 0;
}

/* Long-poll fetches: recheck the waiting ones; returns work done. */
static int do_work(struct dp_net *n)
{
	struct kx_core *k = kx_core_of(n);
	if (!k->waiting)
		return 0;
	uint64_t now = dp_now_ns(n->dp);
	if (now < k->next_recheck_ns)
		return 0;
	k->next_recheck_ns = now + 500000; /* every 0.5 ms at most */
	int work = 0;
	struct dp_msg **pm = &k->waiting;
	/* bounded: each pass visits every waiting request once */
	for (uint32_t seen = 0; *pm && seen < k->nwaiting + 1; seen++) {
		struct dp_msg *m = *pm;
		struct kx_req *x = kx_of(m);
		int gone = !dp_conn_of(n, x->conn);
		int due = now >= x->deadline_ns;
		kx_revalidate(n, x); /* before fetch_ready reads parts[].p */
		if (!gone && !due && !fetch_ready(x)) {
			pm = &x->wait_next;
			continue;
		}
		*pm = x->wait_next;
		assert(k->nwaiting > 0);
		k->nwaiting--;
		work++;
		if (gone) {
			dp_msg_free(m);
			continue;
		}
		if (due)
			x->max_wait_ms = 0; /* this read is the answer */
		fetch_issue(n, m);	/* revalidates first */
	}
	return work;
}

/* ---- frames ---- */

static void request(struct dp_net *n, struct dp_conn *c, const uint8_t *f,
		    size_t len)
{
	struct kc_request_header h;
	union kc_request body;
	struct kx_core *k = kx_core_of(n);
	struct kc_arena a = { (uint8_t *)k->arena_mem, sizeof(k->arena_mem), 0 };
	n->st.kafka_requests++;
	n->st.frames++;
	n->st.frame_bytes += len + 4;
	long rc = kc_decode_request(f, len, &h, &body, &a);
	if (rc == -SN_ERR_UNSUPPORTED_VERSION && len >= 8 &&
	    h.api_key == KC_API_API_VERSIONS) {
		bad(n, DP_BAD_KAFKA_VERSION);
		api_versions(n, c, &h, NULL, SN_ERR_UNSUPPORTED_VERSION);
		return;
	}
	if (rc < 0) {
		if (rc == -SN_ERR_UNSUPPORTED_VERSION) {
			bad(n, DP_BAD_KAFKA_VERSION);
			dp_log("kafka: unsupported request: api key %d "
			       "version %d (client %.*s); closing the "
			       "connection", h.api_key, h.api_version,
			       h.client_id.len > 0 ? (int)h.client_id.len : 0,
			       h.client_id.ptr ? h.client_id.ptr : "");
		} else {
			bad(n, DP_BAD_KAFKA_REQUEST);
		}
		poison(n, c);
		return;
	}
	switch (h.api_key) {
	case KC_API_API_VERSIONS:
		api_versions(n, c, &h, &body.api_versions, 0);
		break;
	case KC_API_METADATA:
		metadata(n, c, &h, &body.metadata, &a, f, len);
		break;
	case KC_API_FIND_COORDINATOR:
		find_coordinator(n, c, &h, (const void *)&body, &a);
		break;
	case KC_API_INIT_PRODUCER_ID:
		if (((const struct kc_init_producer_id_req *)(const void *)
		     &body)->transactional_id.len > 0)
			forward(n, c, &h, f, len); /* transactions */
		else
			init_producer_id(n, c, &h, (const void *)&body);
		break;
	case KC_API_PRODUCE:
		produce(n, c, &h, (const void *)&body);
		break;
	case KC_API_FETCH:
		fetch(n, c, &h, (const void *)&body);
		break;
	case KC_API_LIST_OFFSETS:
		list_offsets(n, c, &h, &body.list_offsets);
		break;
	case KC_API_DELETE_RECORDS:
		delete_records(n, c, &h, (const void *)&body);
		break;
	case KC_API_OFFSET_FOR_LEADER_EPOCH:
		offset_for_leader_epoch(n, c, &h, (const void *)&body);
		break;
	case KC_API_DESCRIBE_CLUSTER:
		describe_cluster(n, c, &h, (const void *)&body);
		break;
	case KC_API_DESCRIBE_LOG_DIRS:
		describe_log_dirs(n, c, &h, (const void *)&body, &a);
		break;
	case KC_API_DESCRIBE_PRODUCERS:
		describe_producers(n, c, &h, (const void *)&body);
		break;
	case KC_API_WRITE_TXN_MARKERS:
		write_txn_markers(n, c, &h, (const void *)&body);
		break;
	default:
		/* groups, offsets, transactions, topic admin, configs */
		forward(n, c, &h, f, len);
		break;
	}
}

/* Bytes at p from a Kafka connection: frames handled, bytes consumed
 * returned (0: wait for more), < 0 to close the connection. */
static long conn_data(struct dp_net *n, struct dp_conn *c, const uint8_t *p,
		      size_t len)
{
	uint32_t id = c->id;
	size_t used = 0;
	/* bounded: each frame consumes >= 12 bytes; the window stops us */
	while (!c->poisoned) {
		if (!dp_conn_room(n, c))
			break;
		if (len - used < 4)
			break;
		uint32_t size = rb_be32(p + used);
		if (size < 8 || size > KX_MAX_REQUEST ||
		    size > n->dp->cfg.tcp_max_frame) {
			bad(n, DP_BAD_KAFKA_FRAME);
			return -1; /* not Kafka, or too big to ever take */
		}
		if (len - used - 4 < size)
			break; /* the driver keeps the partial frame */
		request(n, c, p + used + 4, size);
		used += 4 + (size_t)size;
		c = dp_conn_of(n, id);
		if (!c)
			return -1;
	}
	return (long)used;
}

static int init(struct dp_net *n, void **priv)
{
	(void)n;
	struct kx_core *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	*priv = k;
	return 0;
}

static void fini(struct dp_net *n, void *priv)
{
	struct kx_core *k = priv;
	(void)n;
	/* bounded: the list holds nwaiting requests */
	while (k && k->waiting) {
		struct dp_msg *m = k->waiting;
		k->waiting = kx_of(m)->wait_next;
		dp_msg_free(m);
	}
	free(k);
}

const struct dp_frontend dp_fe_kafka = {
	.name = "kafka",
	.init = init,
	.fini = fini,
	.conn_data = conn_data,
	.do_work = do_work,
	.max_sleep_us = max_sleep_us,
};
