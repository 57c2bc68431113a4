/*
 * A node's part in the cluster (cluster.h says what it does).
 *
 * Broker side: a heartbeat every broker_heartbeat_interval_ms to the
 * active controller (to itself without the network when it is the
 * controller), and topic requests forwarded there, their answers held
 * until the local image has applied the index the controller names.
 *
 * Controller side: a session per broker (the time of its last heartbeat,
 * reset for everyone when this node becomes controller, so that a new
 * controller does not fence brokers that heartbeated its predecessor), at
 * most one membership proposal per broker in flight, and one topic
 * request at a time: run against a copy of the image's topics, its
 * changes proposed as one entry.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/cluster.h"
#include "control/cluster_image.h"
#include "control/cmsg.h"
#include "control/crpc.h"
#include "control/kadmin.h"
#include "control/kelect.h"
#include "control/kreassign.h"
#include "control/kunreg.h"
#include "control/kquorum.h"
#include "control/kvoters.h"
#include "control/log.h"
#include "control/quorum.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"
#include "proto/record_batch.h"

#define WAITS 64            /* forwarded answers waiting for our image */
#define RESP_MAX (1u << 20) /* a topic request's answer */
#define ENTRY_MAX (1u << 20)
#define QUORUM_RESP_MAX 16384 /* a DescribeQuorum answer (kquorum.h) */

enum origin { LOCAL, REMOTE };

/* A topic request waiting for (or being handled by) the controller. */
struct job {
	enum origin origin;
	int native;
	uint64_t token;   /* the link's (LOCAL) or the RPC's (REMOTE) */
	uint8_t *req;
	size_t len;
};

/* A forwarded answer held until the image reaches index. */
struct wait {
	int used;
	int native;
	uint64_t token;
	uint64_t index;
	uint8_t *resp;
	size_t len;
};

/* A forwarded request's context, until its reply. */
struct fwd {
	struct sl_cluster *cl;
	int native;
	uint64_t token;
};

struct session {
	int64_t last_ms;    /* last heartbeat (or when we became leader) */
	uint64_t incarnation;
	uint8_t flags;
	uint8_t proposing;  /* a membership entry for it is in flight */
	int seen;           /* heartbeated since we became leader */
};

struct sl_cluster {
	const struct sl_config *cfg;
	struct sl_cluster_hooks hooks;
	struct sl_voter voters[SL_VOTERS_MAX];
	unsigned n_voters;
	struct sl_ci_image *img;
	struct sl_quorum *q;
	struct sl_crpc *rpc;
	uint64_t incarnation;
	bool ready;
	bool shutting_down;
	bool shutdown_acked; /* fenced, as told after a shutdown heartbeat */
	uint8_t hb_flags;    /* of the heartbeat in flight */
	bool dirty;          /* entries applied since hooks.changed */
	bool leader;         /* active controller, caught up */
	int32_t leader_id;
	int64_t next_heartbeat_ms;
	bool heartbeat_inflight;
	int fenced;          /* as the controller last said, -1 unknown */
	int64_t last_ack_ms; /* a heartbeat last answered (or start) */
	int self_fenced;     /* as last told through hooks.self_fenced */
	/* controller */
	struct session sessions[SL_CI_NODE_ID_MAX + 1];
	struct job queue[SL_CLUSTER_QUEUE];
	unsigned q_head, q_len;
	bool job_running;    /* queue[q_head] is proposed */
	uint8_t *job_resp;
	size_t job_resp_len;
	struct sl_meta *scratch;
	uint8_t *entry;
	bool internal_proposing; /* __consumer_offsets' creation in flight */
	int64_t internal_next_ms;
	bool rebalance_proposing; /* preferred elections in flight */
	bool reassign_proposing;  /* reassignments' ends in flight */
	bool reassign_look;       /* applied since reassignments were looked
				     at */
	int64_t rebalance_next_ms; /* 0: not yet scheduled (not leading) */
	/* broker */
	struct wait waits[WAITS];
	struct sl_kquorum_view kq; /* DescribeQuorum's, made per request */
	bool closing;        /* sl_cluster_destroy under way: q is gone */
	/* a broker that is not a voter (an observer): no Raft node (q
	 * NULL); its image is the controller's (SL_CMSG_METADATA) */
	bool observer;
	unsigned probe;      /* the voter asked while no controller is known */
	int64_t next_meta_ms;
	bool meta_inflight;
	bool meta_big_said;  /* a snapshot too large for a frame, logged */
	/* a voter's membership as last logged: 1 a voter, 0 joining (not
	 * added yet), -1 removed; 2 before the first look */
	int membership_said;
	struct sl_kvoters_req voter_change; /* the job's, while it runs */
};

/* The metadata index this node's image holds: Raft's applied index for a
 * voter (barriers included), the image's for an observer. */
static uint64_t applied_index(const struct sl_cluster *cl)
{
	return cl->observer ? cl->img->applied_index :
			      sl_quorum_applied_index(cl->q);
}

static int32_t live_brokers(const struct sl_cluster *cl)
{
	int32_t ids[SL_CI_BROKERS_MAX];
	return (int32_t)sl_ci_active_brokers(cl->img, ids, SL_CI_BROKERS_MAX);
}

/* A batch in cl->entry. */
static struct sl_ci_batch batch(struct sl_cluster *cl)
{
	struct sl_ci_batch b;
	int rc = sl_ci_batch_init(&b, cl->entry, ENTRY_MAX);
	assert(!rc);
	(void)rc;
	return b;
}

/* ---- the state machine under Raft ---- */

static int on_apply(void *ctx, const void *entry, size_t len, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	char err[256];
	int rc = sl_ci_apply(cl->img, index, entry, len, err, sizeof(err));
	if (rc == -EINVAL)
		sl_log("metadata entry %llu refused, the same on every node, "
		       "nothing changed: %s", (unsigned long long)index, err);
	cl->dirty = true;
	cl->reassign_look = true;
	return 0;
}

static int on_snapshot(void *ctx, uint64_t index, void **buf, size_t *len)
{
	struct sl_cluster *cl = ctx;
	(void)index;
	size_t n = sl_ci_snapshot_bytes(cl->img);
	uint8_t *b = malloc(n);
	if (!b)
		return -ENOMEM;
	long w = sl_ci_snapshot_encode(cl->img, b, n);
	if (w < 0) {
		free(b);
		return (int)w;
	}
	*buf = b;
	*len = (size_t)w;
	return 0;
}

static int on_restore(void *ctx, const void *buf, size_t len, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	(void)index;
	char err[256];
	int rc = sl_ci_snapshot_decode(cl->img, buf, len, err, sizeof(err));
	if (rc)
		sl_log("metadata snapshot at %llu cannot be read: %s",
		       (unsigned long long)index, err);
	cl->dirty = true;
	cl->reassign_look = true;
	return rc;
}

/* Node id's Raft address: the configuration in the log, else
 * controller_quorum_voters.  0 with *v, or -ENOENT. */
static int raft_address_of(const struct sl_cluster *cl, int32_t id,
			   struct sl_voter *v)
{
	char a[SL_QUORUM_ADDRESS_MAX];
	if (cl->q && sl_quorum_address_of(cl->q, id, a, sizeof(a)) == 0 &&
	    sl_config_voter_address(a, v) == 0)
		return 0;
	for (unsigned i = 0; i < cl->n_voters; i++)
		if (cl->voters[i].id == id) {
			*v = cl->voters[i];
			return 0;
		}
	return -ENOENT;
}

static void on_leader(void *ctx, int32_t leader_id, bool self)
{
	struct sl_cluster *cl = ctx;
	cl->leader_id = leader_id;
	bool was = cl->leader;
	cl->leader = self;
	sl_log("metadata quorum: %s", leader_id < 0 ? "no controller" :
	       self ? "this node is the active controller" :
	       "another node is the active controller");
	if (self && !was) {
		int64_t now = sl_now_ms();
		cl->reassign_look = true;
		for (unsigned i = 0; i <= SL_CI_NODE_ID_MAX; i++)
			cl->sessions[i] = (struct session){.last_ms = now};
	}
	/* the RPC goes to the new controller (nowhere: ourselves), at the
	 * address the configuration in the log gives it (a voter added
	 * later is in no controller_quorum_voters) */
	struct sl_voter v;
	if (!self && leader_id >= 0 && raft_address_of(cl, leader_id, &v) == 0)
		sl_crpc_target(cl->rpc, v.host, (uint16_t)(v.port + 1));
	else
		sl_crpc_target(cl->rpc, NULL, 0);
	cl->heartbeat_inflight = false;
	cl->next_heartbeat_ms = 0;
}

/* ---- controller: membership ---- */

static void membership_done(void *ctx, int status, uint64_t index)
{
	struct session *s = ctx;
	(void)status;
	(void)index;
	s->proposing = 0;
}

/* Propose the membership batch b decided with result rc for broker id. */
static void propose_membership(struct sl_cluster *cl, int32_t id, int rc,
			       const struct sl_ci_batch *b, const char *msg)
{
	struct session *s = &cl->sessions[id];
	if (rc) {
		sl_log("broker %d: %s", (int)id, msg);
		return;
	}
	if (!b->count)
		return;
	if (!sl_quorum_propose(cl->q, b->buf, b->len, membership_done, s))
		s->proposing = 1;
}

/* A heartbeat reaches the controller.  Returns whether id is fenced. */
static int controller_heartbeat(struct sl_cluster *cl,
				const struct sl_cmsg_heartbeat *h,
				int64_t now_ms)
{
	struct session *s = &cl->sessions[h->node_id];
	s->last_ms = now_ms;
	s->incarnation = h->incarnation;
	s->flags = h->flags;
	s->seen = 1;
	const struct sl_ci_broker *b = sl_ci_broker_find(cl->img, h->node_id);
	int fenced = !b || b->fenced;
	if (s->proposing)
		return fenced;
	bool ready = h->flags & SL_CMSG_READY;
	bool down = h->flags & SL_CMSG_SHUTDOWN;
	struct sl_ci_batch out = batch(cl);
	char msg[256] = "";
	int rc;
	if (!b || b->incarnation != h->incarnation ||
	    b->kafka_port != h->kafka_port ||
	    b->native_port != h->native_port || strcmp(b->host, h->host) ||
	    b->udp_port != h->udp_port || b->udp_addr != h->udp_addr) {
		sl_log("broker %d registers (%s:%u)", (int)h->node_id, h->host,
		       h->kafka_port);
		rc = sl_ci_register_broker_udp(cl->img, h->node_id,
					       h->incarnation, h->host,
					       strlen(h->host), h->kafka_port,
					       h->native_port, h->udp_port,
					       h->udp_addr, &out, msg,
					       sizeof(msg));
	} else if (fenced && ready && !down) {
		sl_log("broker %d is ready: unfencing it", (int)h->node_id);
		rc = sl_ci_unfence_broker(cl->img, h->node_id, &out, msg,
					  sizeof(msg));
	} else if (!fenced && (down || !ready)) {
		sl_log("broker %d %s: fencing it", (int)h->node_id,
		       down ? "shuts down" : "is not ready");
		rc = sl_ci_fence_broker(cl->img, h->node_id, &out, msg,
					sizeof(msg));
	} else {
		return fenced;
	}
	propose_membership(cl, h->node_id, rc, &out, msg);
	return fenced;
}

/* Where this broker's native UDP port is when not at its Kafka host: a
 * DPDK broker's datagrams go to dpdk_ip (network order; 0: at host). */
static uint32_t udp_addr_of(const struct sl_config *c)
{
	struct in_addr a;
	if (strcmp(c->driver, "dpdk") ||
	    inet_pton(AF_INET, c->dpdk_ip, &a) != 1)
		return 0;
	return a.s_addr;
}

/* Fence the brokers whose sessions lapsed. */
static void controller_sessions(struct sl_cluster *cl, int64_t now_ms)
{
	int64_t timeout = (int64_t)cl->cfg->broker_session_timeout_ms;
	for (uint32_t i = 0; i < cl->img->broker_count; i++) {
		const struct sl_ci_broker *b = &cl->img->brokers[i];
		struct session *s = &cl->sessions[b->id];
		if (b->fenced || s->proposing ||
		    now_ms - s->last_ms <= timeout)
			continue;
		sl_log("broker %d: no heartbeat for %lld ms (session "
		       "timeout %lld ms): fencing it", (int)b->id,
		       (long long)(now_ms - s->last_ms), (long long)timeout);
		struct sl_ci_batch out = batch(cl);
		char msg[256] = "";
		int rc = sl_ci_fence_broker(cl->img, b->id, &out, msg,
					    sizeof(msg));
		propose_membership(cl, b->id, rc, &out, msg);
	}
}

/* ---- controller: the group coordinators' topic ---- */

static uint32_t rnd(void);

static void internal_done(void *ctx, int status, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	(void)index;
	if (cl->closing)
		return;
	cl->internal_proposing = false;
	if (status)
		sl_log("an internal topic's creation did not commit (%d): "
		       "proposing it again", status);
}

/* One internal topic the active controller creates. */
struct internal {
	const char *name;
	int32_t partitions, rf, min_isr;
};

/* The active controller creates the coordinators' replicated logs once
 * enough brokers are unfenced: __consumer_offsets (the group
 * coordinators', control/gstore.h; offsets_topic_partitions partitions,
 * offsets_topic_replication_factor replicas, the broker's
 * min.insync.replicas) and __transaction_state (the transaction
 * coordinators', control/tstore.h; transaction_state_log_num_partitions,
 * _replication_factor and _min_isr), each with no more replicas than
 * voters and a min.insync.replicas no more than its replicas: compacted,
 * fdatasync before each acknowledgement, segments of 16 MiB (Kafka's are
 * 100 MiB; smaller ones are compacted sooner, so a load reads less, and
 * reserve less disk per partition).  Until then FindCoordinator answers
 * COORDINATOR_NOT_AVAILABLE.  One creation is proposed at a time. */
static void controller_internal_topics(struct sl_cluster *cl, int64_t now_ms)
{
	if (cl->internal_proposing || now_ms < cl->internal_next_ms)
		return;
	const struct internal all[2] = {
		{SL_OFFSETS_TOPIC, cl->cfg->offsets_topic_partitions,
		 sl_config_offsets_rf(cl->cfg),
		 sl_config_default_min_isr(cl->cfg)},
		{SL_TXN_TOPIC, cl->cfg->txn_topic_partitions,
		 sl_config_txn_topic_rf(cl->cfg), cl->cfg->txn_topic_min_isr},
	};
	const struct internal *it = NULL;
	for (int i = 0; i < 2 && !it; i++)
		if (!sl_ci_topic_find(cl->img, all[i].name,
				      strlen(all[i].name)))
			it = &all[i];
	if (!it)
		return;
	cl->internal_next_ms = now_ms + 1000;
	if (live_brokers(cl) < it->rf)
		return;
	struct sl_topic t;
	memset(&t, 0, sizeof(t));
	sl_topic_compaction_defaults(&t);
	t.cleanup_policy = SN_CLEANUP_COMPACT;
	t.durability = 0;
	t.retention_ms = -1;
	t.retention_bytes = -1;
	t.segment_bytes = 16ll << 20;
	struct sl_ci_topic_req req = {
		.name = it->name, .name_len = strlen(it->name),
		.partitions = it->partitions,
		.replication_factor = it->rf,
		.default_partitions = cl->cfg->default_partitions,
		.default_replication_factor = sl_config_default_rf(cl->cfg),
		.config = t,
		.min_insync_replicas = it->min_isr > it->rf ? it->rf :
							      it->min_isr,
		.unclean_leader_election = 0,
		.start = rnd(), .shift = rnd(),
	};
	struct sl_ci_batch out = batch(cl);
	char msg[256] = "";
	int rc = sl_ci_create_topic(cl->img, &req, &out, msg, sizeof(msg));
	if (rc) {
		sl_log("%s: cannot be created yet: %s", it->name, msg);
		return;
	}
	if (!out.count)
		return;
	rc = sl_quorum_propose(cl->q, out.buf, out.len, internal_done, cl);
	if (rc) {
		sl_log("%s: its creation cannot be proposed: %s", it->name,
		       sl_quorum_strerror(rc));
		return;
	}
	sl_log("creating %s: %d partitions, replication factor %d",
	       it->name, (int)req.partitions, (int)it->rf);
	cl->internal_proposing = true;
}

/* ---- controller: the preferred leaders' balance ---- */

static void rebalance_done(void *ctx, int status, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	(void)index;
	if (cl->closing)
		return;
	cl->rebalance_proposing = false;
	if (status)
		sl_log("leader rebalance: the elections did not commit (%d); "
		       "looked at again in %llu ms", status,
		       (unsigned long long)
			       cl->cfg->leader_imbalance_check_interval_ms);
}

/* Kafka's auto.leader.rebalance.enable: every
 * leader_imbalance_check_interval_ms (the first look one interval after
 * this node became the active controller), for each broker, the share of
 * the partitions it is the preferred replica of (the first of their
 * replicas) that another broker leads; where it passes
 * leader_imbalance_per_broker_percentage, those partitions get their
 * preferred replica back as leader (sl_ci_elect_preferred: only when it is
 * live and in sync), as many as one metadata entry holds. */
static void controller_rebalance(struct sl_cluster *cl, int64_t now_ms)
{
	uint64_t every = cl->cfg->leader_imbalance_check_interval_ms;
	if (!cl->cfg->auto_leader_rebalance || cl->rebalance_proposing)
		return;
	if (cl->rebalance_next_ms == 0) {
		cl->rebalance_next_ms = now_ms + (int64_t)every;
		return;
	}
	if (now_ms < cl->rebalance_next_ms)
		return;
	cl->rebalance_next_ms = now_ms + (int64_t)every;
	const struct sl_ci_image *img = cl->img;
	/* per broker (index in img->brokers): preferred for, led elsewhere */
	static uint32_t preferred[SL_CI_BROKERS_MAX], moved[SL_CI_BROKERS_MAX];
	memset(preferred, 0, sizeof(preferred));
	memset(moved, 0, sizeof(moved));
	for (uint32_t i = 0; i < img->part_count; i++) {
		const struct sl_ci_partition *p = &img->parts[i];
		if (!p->replica_count)
			continue;
		for (uint32_t b = 0; b < img->broker_count; b++) {
			if (img->brokers[b].id != p->replicas[0])
				continue;
			preferred[b]++;
			moved[b] += p->leader != p->replicas[0];
			break;
		}
	}
	struct sl_ci_batch out = batch(cl);
	uint32_t asked = 0;
	for (uint32_t b = 0; b < img->broker_count; b++) {
		if (!moved[b] || (uint64_t)moved[b] * 100 <=
		    (uint64_t)cl->cfg->leader_imbalance_per_broker_percentage *
			    preferred[b])
			continue;
		int32_t id = img->brokers[b].id;
		if (!sl_ci_broker_live(img, id))
			continue;
		for (uint32_t t = 0; t < img->meta.count; t++) {
			const struct sl_ci_topic *ct = &img->topics[t];
			for (int32_t q = 0; q < ct->partitions; q++) {
				const struct sl_ci_partition *p =
					&img->parts[ct->part_first + (uint32_t)q];
				if (p->replicas[0] != id || p->leader == id)
					continue;
				char msg[256];
				int rc = sl_ci_elect_preferred(img, ct->id, q,
							       &out, msg,
							       sizeof(msg));
				if (rc == -ENOBUFS)
					goto propose; /* the next look does
							 the rest */
				asked += rc == 0;
			}
		}
	}
propose:
	if (!out.count)
		return;
	int rc = sl_quorum_propose(cl->q, out.buf, out.len, rebalance_done,
				   cl);
	if (rc) {
		sl_log("leader rebalance: cannot be proposed: %s",
		       sl_quorum_strerror(rc));
		return;
	}
	sl_log("leader rebalance: %u partition(s) back to their preferred "
	       "replica", (unsigned)asked);
	cl->rebalance_proposing = true;
}

/* ---- controller: reassignments that end ---- */

static void reassign_done(void *ctx, int status, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	(void)index;
	if (cl->closing)
		return;
	cl->reassign_proposing = false;
	cl->reassign_look = true;
	if (status)
		sl_log("partition reassignment: its end did not commit (%s); "
		       "looked at again", sl_quorum_strerror(status));
}

/* After entries were applied: every partition being reassigned whose
 * target replicas are all in sync now ends (sl_ci_reassign_complete), as
 * many as one metadata entry holds (the rest at the next look). */
static void controller_reassignments(struct sl_cluster *cl)
{
	if (!cl->reassign_look || cl->reassign_proposing)
		return;
	cl->reassign_look = false;
	const struct sl_ci_image *img = cl->img;
	struct sl_ci_batch out = batch(cl);
	for (uint32_t t = 0; t < img->meta.count; t++) {
		const struct sl_ci_topic *ct = &img->topics[t];
		for (int32_t q = 0; q < ct->partitions; q++) {
			const struct sl_ci_partition *p =
				&img->parts[ct->part_first + (uint32_t)q];
			if (!p->adding && !p->removing)
				continue;
			uint32_t before = out.count;
			char msg[256];
			int rc = sl_ci_reassign_complete(img, ct->id, q, &out,
							 msg, sizeof(msg));
			if (rc == -ENOBUFS) {
				cl->reassign_look = true;
				goto propose;
			}
			if (out.count > before)
				sl_log("partition reassignment of %s-%d "
				       "complete", img->meta.topics[t].name,
				       (int)q);
		}
	}
propose:
	if (!out.count)
		return;
	int rc = sl_quorum_propose(cl->q, out.buf, out.len, reassign_done,
				   cl);
	if (rc) {
		sl_log("partition reassignment: its end cannot be proposed: "
		       "%s", sl_quorum_strerror(rc));
		cl->reassign_look = true;
		return;
	}
	cl->reassign_proposing = true;
}

/* ---- controller: topic requests ---- */

static void job_free(struct job *j)
{
	free(j->req);
	j->req = NULL;
}

/* Tell the link what was applied, before anyone is answered. */
static void flush_changed(struct sl_cluster *cl)
{
	if (cl->dirty && cl->hooks.changed) {
		cl->dirty = false;
		cl->hooks.changed(cl->hooks.ctx);
	}
}

/* Answer the job at the head of the queue and drop it. */
static void job_answer(struct sl_cluster *cl, uint64_t index,
		       const uint8_t *resp, size_t len)
{
	struct job *j = &cl->queue[cl->q_head];
	if (j->origin == LOCAL) {
		/* the change reaches our sluiced before the answer does */
		flush_changed(cl);
		cl->hooks.reply(cl->hooks.ctx, j->token, j->native, resp, len);
	} else if (len) {
		uint8_t *b = malloc(8 + len);
		if (b) {
			sl_cmsg_put_index(b, index);
			memcpy(b + 8, resp, len);
			(void)sl_crpc_reply(cl->rpc, j->token, 0, b, 8 + len);
			free(b);
		} else {
			(void)sl_crpc_reply(cl->rpc, j->token, ENOMEM, NULL, 0);
		}
	} else {
		(void)sl_crpc_reply(cl->rpc, j->token, EIO, NULL, 0);
	}
	job_free(j);
	cl->q_head = (cl->q_head + 1) % SL_CLUSTER_QUEUE;
	cl->q_len--;
	cl->job_running = false;
}

static void job_committed(void *ctx, int status, uint64_t index)
{
	struct sl_cluster *cl = ctx;
	assert(cl->job_running && cl->q_len);
	if (status) {
		sl_log("a topic change was not committed (%s): the client's "
		       "connection closes and it retries",
		       sl_quorum_strerror(status));
		job_answer(cl, 0, NULL, 0);
		return;
	}
	cl->dirty = true;
	job_answer(cl, index, cl->job_resp, cl->job_resp_len);
}

/* A topic's unclean.leader.election.enable as the image keeps it
 * (0, 1): its own, else the broker's. */
static uint8_t unclean_of(const struct sl_cluster *cl, const struct sl_topic *t)
{
	if (t->unclean_leader_election)
		return t->unclean_leader_election == 2;
	return cl->cfg->unclean_leader_election ? 1 : 0;
}

static uint32_t rnd(void)
{
	return (uint32_t)random();
}

/*
 * The records that turn the image's topics into the scratch copy's (what
 * a topic request did to it), appended to out.  Returns 0, or -1 with msg
 * saying why a change cannot be made.
 */
/* The manual assignment a Kafka CreateTopics gave topic name (q: the
 * request, or NULL), into as[] (malloc'd, the caller frees): its count, 0
 * when there is none, -1 out of memory. */
static int32_t assignment_of(const struct kc_create_topics_req *q,
			     const char *name, size_t len,
			     struct sl_ci_assignment **as)
{
	*as = NULL;
	const struct kc_create_topics_req_topic *t = q ? q->topics.items : NULL;
	for (int32_t i = 0; q && i < q->topics.count; i++) {
		if (t[i].name.len != (int32_t)len ||
		    memcmp(t[i].name.ptr, name, len) ||
		    t[i].assignments.count <= 0)
			continue;
		const struct kc_create_topics_assignment *a =
			t[i].assignments.items;
		int32_t n = t[i].assignments.count;
		*as = calloc((size_t)n, sizeof(**as));
		if (!*as)
			return -1;
		for (int32_t k = 0; k < n; k++)
			(*as)[k] = (struct sl_ci_assignment){
				a[k].partition_index, a[k].broker_ids.count,
				a[k].broker_ids.items};
		return n;
	}
	return 0;
}

static int diff(struct sl_cluster *cl, const struct kc_create_topics_req *q,
		struct sl_ci_batch *out, char *msg, size_t msglen)
{
	const struct sl_meta *was = &cl->img->meta, *now = cl->scratch;
	int32_t live = live_brokers(cl);
	int rc;
	for (uint32_t i = 0; i < was->count; i++) {
		const struct sl_topic *t = &was->topics[i];
		const struct sl_topic *n = sl_meta_find(now, t->name,
							t->name_len);
		if (!n || n->id != t->id) {
			rc = sl_ci_delete_topic(cl->img, t->name, t->name_len,
						out, msg, msglen);
			if (rc)
				return -1;
			continue;
		}
		const struct sl_ci_topic *ct = sl_ci_topic_find_id(cl->img,
								   t->id);
		if (n->partitions > t->partitions) {
			rc = sl_ci_create_partitions(cl->img, t->name,
						     t->name_len,
						     n->partitions, NULL, 0,
						     rnd(), rnd(), out, msg,
						     msglen);
			if (rc)
				return -1;
		}
		struct sl_topic a = *t, b = *n;
		a.partitions = b.partitions = 0;
		a.replication_factor = b.replication_factor = 0;
		a.min_insync_replicas = b.min_insync_replicas = 0;
		a.unclean_leader_election = b.unclean_leader_election = 0;
		int32_t min_isr = n->min_insync_replicas > 0 ?
					  n->min_insync_replicas :
					  sl_config_default_min_isr(cl->cfg);
		uint8_t unclean = unclean_of(cl, n);
		if (ct && (memcmp(&a, &b, sizeof(a)) ||
			   min_isr != ct->min_insync_replicas ||
			   unclean != ct->unclean_leader_election)) {
			rc = sl_ci_alter_topic_config(
				cl->img, t->name, t->name_len, n, min_isr,
				unclean, out, msg, msglen);
			if (rc)
				return -1;
		}
	}
	for (uint32_t i = 0; i < now->count; i++) {
		const struct sl_topic *n = &now->topics[i];
		const struct sl_topic *t = sl_meta_find(was, n->name,
							n->name_len);
		if (t && t->id == n->id)
			continue;
		int32_t rf = n->replication_factor > 0 ?
				     n->replication_factor :
				     sl_config_default_rf(cl->cfg);
		if (n->replication_factor <= 0 && rf > live)
			rf = live; /* the native request has no factor */
		/* the topic's own, else the default (no more than its
		 * replicas: a topic of 1 replica takes acks=all) */
		int32_t min_isr = n->min_insync_replicas;
		if (min_isr <= 0) {
			min_isr = sl_config_default_min_isr(cl->cfg);
			if (min_isr > rf)
				min_isr = rf;
		}
		struct sl_ci_topic_req req = {
			.name = n->name, .name_len = n->name_len,
			.partitions = n->partitions,
			.replication_factor = rf,
			.default_partitions = cl->cfg->default_partitions,
			.default_replication_factor =
				sl_config_default_rf(cl->cfg),
			.config = *n,
			.min_insync_replicas = min_isr,
			.unclean_leader_election = unclean_of(cl, n),
			.start = rnd(), .shift = rnd(),
		};
		/* the replicas as the request listed them (kadmin checked
		 * them against these brokers) */
		struct sl_ci_assignment *as;
		int32_t nas = assignment_of(q, n->name, n->name_len, &as);
		if (nas < 0) {
			snprintf(msg, msglen, "out of memory");
			return -1;
		}
		if (nas > 0) {
			req.partitions = -1;
			req.replication_factor = -1;
			req.assignment = as;
			req.assignment_count = nas;
		}
		rc = sl_ci_create_topic(cl->img, &req, out, msg, msglen);
		free(as);
		if (rc)
			return -1;
	}
	return 0;
}

/* A job's answer (n bytes in cl->job_resp; n <= 0: the request did not
 * decode, the client's connection closes) and its records in out: answered
 * at once when there are none, else proposed and answered once committed
 * (job_committed). */
static void job_propose(struct sl_cluster *cl, long n,
			const struct sl_ci_batch *out)
{
	if (n <= 0) {
		job_answer(cl, 0, NULL, 0);
		return;
	}
	cl->job_resp_len = (size_t)n;
	if (!out->count) { /* nothing changed (errors, validate only) */
		job_answer(cl, 0, cl->job_resp, cl->job_resp_len);
		return;
	}
	int rc = sl_quorum_propose(cl->q, out->buf, out->len, job_committed,
				   cl);
	if (rc) {
		sl_log("a metadata change cannot be proposed: %s",
		       sl_quorum_strerror(rc));
		job_answer(cl, 0, NULL, 0);
		return;
	}
	cl->job_running = true;
}

/* ---- controller: ElectLeaders (kelect.h) ---- */

struct elect_ctx {
	struct sl_cluster *cl;
	struct sl_ci_batch *out;
};

/* The topic a per-partition request names, or NULL with msg said. */
static const struct sl_ci_topic *named_partition(const struct elect_ctx *e,
						 const char *topic, size_t len,
						 int32_t partition, char *msg,
						 size_t msglen)
{
	const struct sl_ci_topic *t = sl_ci_topic_find(e->cl->img, topic, len);
	if (!t || partition < 0 || partition >= t->partitions) {
		snprintf(msg, msglen, "no such topic or partition");
		return NULL;
	}
	return t;
}

/* A per-partition decision's result as the Kafka error of its answer. */
static int16_t decided(int rc, const char *what, char *msg, size_t msglen)
{
	if (rc == -ENOBUFS) {
		/* one metadata entry holds no more changes */
		snprintf(msg, msglen, "too many partitions %s in one request: "
			 "ask again for this one", what);
		return SN_ERR_UNKNOWN_SERVER_ERROR;
	}
	if (rc < 0) /* -EOVERFLOW: msg says which epoch */
		return SN_ERR_UNKNOWN_SERVER_ERROR;
	return (int16_t)rc;
}

static int16_t elect_one(void *ctx, const char *topic, size_t len,
			 int32_t partition, int8_t type, char *msg,
			 size_t msglen)
{
	struct elect_ctx *e = ctx;
	const struct sl_ci_topic *t = named_partition(e, topic, len, partition,
						      msg, msglen);
	if (!t)
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	/* each election against the committed image: one record per
	 * partition, and partitions do not depend on each other */
	int rc = type == SL_KELECT_UNCLEAN ?
			 sl_ci_elect_unclean(e->cl->img, t->id, partition,
					     e->out, msg, msglen) :
			 sl_ci_elect_preferred(e->cl->img, t->id, partition,
					       e->out, msg, msglen);
	return decided(rc, "elected", msg, msglen);
}

static bool elect_topic(void *ctx, uint32_t i, const char **name,
			size_t *len, int32_t *partitions)
{
	struct elect_ctx *e = ctx;
	const struct sl_meta *m = &e->cl->img->meta;
	if (i >= m->count)
		return false;
	*name = m->topics[i].name;
	*len = m->topics[i].name_len;
	*partitions = e->cl->img->topics[i].partitions;
	return true;
}

/* An ElectLeaders job: the answer made now, its records proposed (the
 * answer goes once they are committed), none: answered at once. */
static void elect_job(struct sl_cluster *cl, const struct job *j)
{
	struct sl_ci_batch out = batch(cl);
	struct elect_ctx e = {cl, &out};
	struct sl_kelect_ops ops = {elect_one, elect_topic, &e};
	long n = sl_kelect_handle(j->req, j->len, &ops, cl->job_resp,
				  RESP_MAX);
	if (n > 0 && out.count)
		sl_log("ElectLeaders: %u partition change(s) proposed",
		       (unsigned)out.count);
	job_propose(cl, n, &out);
}

/* ---- controller: AlterPartitionReassignments (kreassign.h) ---- */

static int16_t reassign_one(void *ctx, const char *topic, size_t len,
			    int32_t partition, const int32_t *replicas,
			    int32_t n, bool allow_rf_change, char *msg,
			    size_t msglen)
{
	struct elect_ctx *e = ctx;
	const struct sl_ci_topic *t = named_partition(e, topic, len, partition,
						      msg, msglen);
	if (!t)
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	/* each against the committed image: kreassign refuses a partition
	 * named twice, so the records do not depend on each other */
	int rc = sl_ci_reassign(e->cl->img, t->id, partition, replicas, n,
				allow_rf_change, e->out, msg, msglen);
	return decided(rc, "reassigned", msg, msglen);
}

static bool reassign_topic(void *ctx, uint32_t i, const char **name,
			   size_t *len, int32_t *partitions)
{
	const struct elect_ctx *e = ctx;
	return sl_kreassign_image_topic(e->cl->img, i, name, len, partitions);
}

static int reassign_ongoing(void *ctx, const char *topic, size_t len,
			    int32_t partition, struct sl_kreassign_state *out)
{
	const struct elect_ctx *e = ctx;
	return sl_kreassign_image_ongoing(e->cl->img, topic, len, partition,
					  out);
}

/* A reassignment job: as an ElectLeaders job. */
static void reassign_job(struct sl_cluster *cl, const struct job *j)
{
	struct sl_ci_batch out = batch(cl);
	struct elect_ctx e = {cl, &out};
	struct sl_kreassign_ops ops = {reassign_one, reassign_topic,
				       reassign_ongoing, &e};
	long n = sl_kreassign_handle(j->req, j->len, &ops, cl->job_resp,
				     RESP_MAX);
	if (n > 0 && out.count)
		sl_log("AlterPartitionReassignments: %u partition change(s) "
		       "proposed", (unsigned)out.count);
	job_propose(cl, n, &out);
}

/* ---- controller: UnregisterBroker (kunreg.h) ---- */

static int16_t unregister_one(void *ctx, int32_t id, char *msg, size_t msglen)
{
	struct elect_ctx *e = ctx;
	int rc = sl_ci_unregister_broker(e->cl->img, id, e->out, msg, msglen);
	if (rc < 0) {
		snprintf(msg, msglen, "the record cannot be written");
		return SN_ERR_UNKNOWN_SERVER_ERROR;
	}
	if (!rc) {
		sl_log("UnregisterBroker: broker %d leaves the cluster",
		       (int)id);
		e->cl->sessions[id > 0 && id <= SL_CI_NODE_ID_MAX ? id : 0] =
			(struct session){.last_ms = sl_now_ms()};
	}
	return (int16_t)rc;
}

static void unregister_job(struct sl_cluster *cl, const struct job *j)
{
	struct sl_ci_batch out = batch(cl);
	struct elect_ctx e = {cl, &out};
	long n = sl_kunreg_handle(j->req, j->len, unregister_one, &e,
				  cl->job_resp, RESP_MAX);
	job_propose(cl, n, &out);
}

/* ---- controller: AddRaftVoter, RemoveRaftVoter (kvoters.h) ---- */

/* The job's answer, once its change is done or refused. */
static void voter_answer(struct sl_cluster *cl, int status)
{
	struct sl_kvoters_req *r = &cl->voter_change;
	char msg[256];
	int16_t err = r->error;
	if (err)
		snprintf(msg, sizeof(msg), "%s", r->msg);
	else
		err = sl_kvoters_error(status, r, msg, sizeof(msg));
	if (!status && !r->error)
		sl_log("metadata quorum: node %d %s the voters%s%s",
		       (int)r->voter_id,
		       r->api_key == KC_API_ADD_RAFT_VOTER ? "joined" : "left",
		       r->address[0] ? " at " : "", r->address);
	else
		sl_log("metadata quorum: %s node %d refused: %s",
		       r->api_key == KC_API_ADD_RAFT_VOTER ? "adding" :
		       "removing", (int)r->voter_id, msg);
	long n = sl_kvoters_answer(r, err, msg, cl->job_resp, RESP_MAX);
	job_answer(cl, n > 0 ? sl_quorum_applied_index(cl->q) : 0,
		   n > 0 ? cl->job_resp : NULL, n > 0 ? (size_t)n : 0);
}

static void voter_changed(void *ctx, int status)
{
	struct sl_cluster *cl = ctx;
	if (cl->closing || !cl->q_len || !cl->job_running)
		return; /* destroy answers what is queued */
	voter_answer(cl, status);
}

static void voter_job(struct sl_cluster *cl, const struct job *j)
{
	struct sl_kvoters_req *r = &cl->voter_change;
	if (sl_kvoters_decode(j->req, j->len, r) < 0) {
		job_answer(cl, 0, NULL, 0);
		return;
	}
	if (r->error) {
		voter_answer(cl, 0);
		return;
	}
	sl_log("metadata quorum: %s node %d%s%s",
	       r->api_key == KC_API_ADD_RAFT_VOTER ? "adding" : "removing",
	       (int)r->voter_id, r->address[0] ? " at " : "", r->address);
	int rc = r->api_key == KC_API_ADD_RAFT_VOTER ?
		sl_quorum_add_voter(cl->q, r->voter_id, r->address,
				    voter_changed, cl) :
		sl_quorum_remove_voter(cl->q, r->voter_id, voter_changed, cl);
	if (rc) {
		voter_answer(cl, rc);
		return;
	}
	cl->job_running = true;
}

/* A broker's state for kadmin's check of a manual assignment. */
static int broker_state(void *ctx, int32_t id)
{
	const struct sl_cluster *cl = ctx;
	const struct sl_ci_broker *b = sl_ci_broker_find(cl->img, id);
	if (!b || !b->registered)
		return 0;
	return b->fenced ? 1 : 2;
}

/* Run the job at the head on a copy of the topics; propose its changes. */
static void job_start(struct sl_cluster *cl)
{
	struct job *j = &cl->queue[cl->q_head];
	if (!j->native && j->len >= 2 &&
	    sl_kelect_serves((int16_t)rb_be16(j->req))) {
		elect_job(cl, j);
		return;
	}
	if (!j->native && j->len >= 2 &&
	    sl_kreassign_alters((int16_t)rb_be16(j->req))) {
		reassign_job(cl, j);
		return;
	}
	if (!j->native && j->len >= 2 &&
	    sl_kunreg_serves((int16_t)rb_be16(j->req))) {
		unregister_job(cl, j);
		return;
	}
	if (!j->native && j->len >= 2 &&
	    sl_kvoters_serves((int16_t)rb_be16(j->req))) {
		voter_job(cl, j);
		return;
	}
	memcpy(cl->scratch, &cl->img->meta, sizeof(*cl->scratch));
	cl->scratch->disk = NULL;
	cl->scratch->lock_fd = -1;
	cl->scratch->locked = 0;
	/* the replication configs live beside the topics in the image:
	 * the copy carries them, so that the rules see and change them */
	for (uint32_t i = 0; i < cl->scratch->count; i++) {
		struct sl_topic *t = &cl->scratch->topics[i];
		const struct sl_ci_topic *ct = sl_ci_topic_find_id(cl->img,
								   t->id);
		if (!ct)
			continue;
		t->min_insync_replicas = (int16_t)ct->min_insync_replicas;
		t->unclean_leader_election = ct->unclean_leader_election ? 2 : 1;
		t->replication_factor = (int16_t)ct->replication_factor;
	}
	long n;
	if (j->native) {
		uint32_t changed = 0;
		char line[1024] = "";
		n = sl_admin_handle(cl->scratch, cl->cfg, j->req, j->len,
				    cl->job_resp, 64, &changed, line,
				    sizeof(line));
		sl_log("admin request: %s", line);
	} else {
		int changed = 0;
		struct sl_kadmin_brokers b = {live_brokers(cl), broker_state,
					      cl};
		n = sl_kadmin_handle_brokers(cl->scratch, cl->cfg, &b, j->req,
					     j->len, cl->job_resp, RESP_MAX,
					     &changed);
	}
	/* a CreateTopics' manual assignments, for diff */
	struct kc_arena in = {NULL, 0, 0};
	struct kc_request_header h;
	union kc_request body;
	const struct kc_create_topics_req *q = NULL;
	if (n > 0 && !j->native && j->len >= 2 &&
	    (int16_t)rb_be16(j->req) == KC_API_CREATE_TOPICS) {
		in.cap = 16 * j->len + 64;
		in.base = malloc(in.cap);
		if (in.base && kc_decode_request(j->req, j->len, &h, &body,
						 &in) > 0)
			q = (const void *)body.raw;
		if (!q) {
			free(in.base);
			sl_log("a topic request cannot be read again");
			job_answer(cl, 0, NULL, 0);
			return;
		}
	}
	struct sl_ci_batch out = batch(cl);
	char msg[512] = "";
	int drc = n > 0 ? diff(cl, q, &out, msg, sizeof(msg)) : 0;
	free(in.base);
	if (drc) {
		sl_log("a topic request's changes cannot be recorded: %s", msg);
		job_answer(cl, 0, NULL, 0);
		return;
	}
	job_propose(cl, n, &out);
}

static void jobs_pump(struct sl_cluster *cl)
{
	while (cl->q_len && !cl->job_running) {
		if (!cl->leader) {
			/* no longer the controller: send them away */
			job_answer(cl, 0, NULL, 0);
			continue;
		}
		job_start(cl);
	}
}

static void job_add(struct sl_cluster *cl, enum origin origin, int native,
		    uint64_t token, const uint8_t *req, size_t len)
{
	uint8_t *copy = len ? malloc(len) : NULL;
	if (cl->q_len == SL_CLUSTER_QUEUE || (len && !copy)) {
		free(copy);
		if (origin == LOCAL)
			cl->hooks.reply(cl->hooks.ctx, token, native, NULL, 0);
		else
			(void)sl_crpc_reply(cl->rpc, token, EBUSY, NULL, 0);
		return;
	}
	if (len)
		memcpy(copy, req, len);
	unsigned i = (cl->q_head + cl->q_len) % SL_CLUSTER_QUEUE;
	cl->queue[i] = (struct job){origin, native, token, copy, len};
	cl->q_len++;
	jobs_pump(cl);
}

/* ---- controller: in-sync replica changes ---- */

struct isr_req {
	struct sl_cluster *cl;
	enum origin origin;
	uint64_t token;
};

static void isr_answer(struct sl_cluster *cl, enum origin origin,
		       uint64_t token, int16_t error)
{
	if (origin == LOCAL)
		cl->hooks.alter_isr_reply(cl->hooks.ctx, token, error);
	else
		(void)sl_crpc_reply(cl->rpc, token, (uint16_t)error, NULL, 0);
}

static void isr_committed(void *ctx, int status, uint64_t index)
{
	struct isr_req *r = ctx;
	(void)index;
	isr_answer(r->cl, r->origin, r->token,
		   status ? SL_CMSG_NOT_CONTROLLER : 0);
	free(r);
}

static void controller_alter_isr(struct sl_cluster *cl, enum origin origin,
				 uint64_t token,
				 const struct sl_cmsg_alter_isr *a)
{
	/* its own buffer: cl->entry may hold a membership batch being
	 * decided by the caller's caller */
	uint8_t buf[512];
	struct sl_ci_batch out;
	char msg[256] = "";
	(void)sl_ci_batch_init(&out, buf, sizeof(buf));
	int rc = sl_ci_alter_isr(cl->img, a->topic_id, a->partition, a->from,
				 a->leader_epoch, a->partition_epoch, a->isr,
				 a->n, &out, msg, sizeof(msg));
	if (rc) {
		sl_log("in-sync replicas of %u/%d from broker %d refused: %s",
		       a->topic_id, (int)a->partition, (int)a->from, msg);
		isr_answer(cl, origin, token, (int16_t)(rc > 0 ? rc : 2));
		return;
	}
	if (!out.count) {
		isr_answer(cl, origin, token, 0);
		return;
	}
	struct isr_req *r = malloc(sizeof(*r));
	if (!r) {
		isr_answer(cl, origin, token, SL_CMSG_NOT_CONTROLLER);
		return;
	}
	*r = (struct isr_req){cl, origin, token};
	rc = sl_quorum_propose(cl->q, out.buf, out.len, isr_committed, r);
	if (rc) {
		free(r);
		isr_answer(cl, origin, token, SL_CMSG_NOT_CONTROLLER);
	}
}

/* ---- DescribeQuorum (control/kquorum.h) ---- */

/* This node's answer to a DescribeQuorum request, from its own Raft
 * state (the voters' progress only when it leads), into out: as
 * sl_kquorum_handle. */
static long quorum_answer(struct sl_cluster *cl, const uint8_t *req,
			  size_t len, uint8_t *out, size_t cap)
{
	struct sl_quorum_status st;
	sl_quorum_status(cl->q, &st);
	struct sl_kquorum_view *v = &cl->kq;
	sl_kquorum_from_status(&st, v);
	/* the registered brokers that are not voters */
	for (uint32_t i = 0; i < cl->img->broker_count &&
			     v->n_observers < SL_KQUORUM_OBSERVERS_MAX; i++) {
		int32_t id = cl->img->brokers[i].id;
		bool voter = false;
		for (unsigned k = 0; k < v->n_voters; k++)
			voter |= v->voters[k].id == id;
		if (!voter)
			v->observers[v->n_observers++] =
				(struct sl_kquorum_replica){id, -1, -1, -1};
	}
	return sl_kquorum_handle(v, req, len, out, cap);
}

/* Answer a client of our sluiced from this node's state. */
static void quorum_answer_local(struct sl_cluster *cl, uint64_t token,
				const uint8_t *req, size_t len)
{
	static uint8_t out[QUORUM_RESP_MAX];
	/* an observer has no Raft state: only the controller can answer
	 * (none reachable: the client's connection closes, it asks again) */
	long n = cl->observer ? -1 : quorum_answer(cl, req, len, out,
						     sizeof(out));
	/* undecodable: len 0 closes the client's connection */
	cl->hooks.reply(cl->hooks.ctx, token, 0, out, n > 0 ? (size_t)n : 0);
}

/* The active controller answers a broker's forwarded DescribeQuorum
 * (a KAFKA reply: index 0, nothing to wait for). */
static void quorum_answer_remote(struct sl_cluster *cl, uint64_t token,
				 const uint8_t *req, size_t len)
{
	static uint8_t out[8 + QUORUM_RESP_MAX];
	long n = quorum_answer(cl, req, len, out + 8, sizeof(out) - 8);
	if (n <= 0) {
		(void)sl_crpc_reply(cl->rpc, token, EINVAL, NULL, 0);
		return;
	}
	sl_cmsg_put_index(out, 0);
	(void)sl_crpc_reply(cl->rpc, token, 0, out, 8 + (size_t)n);
}

/* A forwarded DescribeQuorum's context, until its reply. */
struct quorum_fwd {
	struct sl_cluster *cl;
	uint64_t token;
	size_t len;
	uint8_t req[]; /* the client's request, for the answer made here */
};

static void quorum_forward_reply(void *ctx, uint16_t status,
				 const uint8_t *body, size_t len)
{
	struct quorum_fwd *f = ctx;
	struct sl_cluster *cl = f->cl;
	uint64_t index;
	const uint8_t *resp;
	size_t rlen;
	if (!status && !sl_cmsg_decode_forward_reply(body, len, &index, &resp,
						     &rlen) && rlen)
		cl->hooks.reply(cl->hooks.ctx, f->token, 0, resp, rlen);
	else if (cl->closing) /* the RPC's calls fail at destroy */
		cl->hooks.reply(cl->hooks.ctx, f->token, 0, NULL, 0);
	else /* the controller is gone or changed: what we know */
		quorum_answer_local(cl, f->token, f->req, f->len);
	free(f);
}

/* A client's DescribeQuorum: the active controller knows the voters'
 * progress, so it answers; this node does when it is the controller, or
 * when none can be reached (NOT_LEADER_OR_FOLLOWER, its own view). */
static void describe_quorum(struct sl_cluster *cl, uint64_t token,
			    const uint8_t *req, size_t len, int64_t now_ms)
{
	if (cl->leader || cl->leader_id < 0) {
		quorum_answer_local(cl, token, req, len);
		return;
	}
	struct quorum_fwd *f = malloc(sizeof(*f) + len);
	if (!f) {
		quorum_answer_local(cl, token, req, len);
		return;
	}
	f->cl = cl;
	f->token = token;
	f->len = len;
	memcpy(f->req, req, len);
	if (sl_crpc_call(cl->rpc, SL_CMSG_KAFKA, req, len, quorum_forward_reply,
			 f, now_ms)) {
		free(f);
		quorum_answer_local(cl, token, req, len);
	}
}

/* ---- the RPC, controller side ---- */

static void controller_metadata(struct sl_cluster *cl, uint64_t token,
				const uint8_t *body, size_t len);

static void not_controller(struct sl_cluster *cl, uint64_t token)
{
	uint8_t b[4 + SL_CMSG_ADDRESS_MAX];
	char a[SL_QUORUM_ADDRESS_MAX] = "";
	if (cl->leader_id < 0 || !cl->q ||
	    sl_quorum_address_of(cl->q, cl->leader_id, a, sizeof(a)) != 0)
		a[0] = 0;
	size_t n = sl_cmsg_put_leader(b, cl->leader_id, a);
	(void)sl_crpc_reply(cl->rpc, token, SL_CMSG_NOT_CONTROLLER, b, n);
}

static void on_request(void *ctx, uint64_t token, uint8_t type,
		       const uint8_t *body, size_t len)
{
	struct sl_cluster *cl = ctx;
	if (!cl->leader) {
		not_controller(cl, token);
		return;
	}
	int64_t now = sl_now_ms();
	switch (type) {
	case SL_CMSG_HEARTBEAT: {
		struct sl_cmsg_heartbeat h;
		if (sl_cmsg_decode_heartbeat(body, len, &h) ||
		    h.node_id > SL_CI_NODE_ID_MAX) {
			(void)sl_crpc_reply(cl->rpc, token, EINVAL, NULL, 0);
			return;
		}
		struct sl_cmsg_heartbeat_reply r = {
			.controller_id = cl->cfg->node_id,
			.fenced = (uint8_t)controller_heartbeat(cl, &h, now),
			.applied_index = applied_index(cl),
		};
		uint8_t b[16];
		long n = sl_cmsg_encode_heartbeat_reply(b, sizeof(b), &r);
		(void)sl_crpc_reply(cl->rpc, token, 0, b, (size_t)n);
		return;
	}
	case SL_CMSG_KAFKA:
		if (len >= 2 && sl_kquorum_serves((int16_t)rb_be16(body))) {
			quorum_answer_remote(cl, token, body, len);
			return;
		}
		job_add(cl, REMOTE, 0, token, body, len);
		return;
	case SL_CMSG_ADMIN:
		job_add(cl, REMOTE, 1, token, body, len);
		return;
	case SL_CMSG_METADATA:
		controller_metadata(cl, token, body, len);
		return;
	case SL_CMSG_ALTER_ISR: {
		struct sl_cmsg_alter_isr a;
		if (sl_cmsg_decode_alter_isr(body, len, &a)) {
			(void)sl_crpc_reply(cl->rpc, token, EINVAL, NULL, 0);
			return;
		}
		controller_alter_isr(cl, REMOTE, token, &a);
		return;
	}
	default:
		(void)sl_crpc_reply(cl->rpc, token, EINVAL, NULL, 0);
	}
}

/* ---- broker side ---- */

/* ---- an observer (a broker that is not a voter) ---- */

/* Point the RPC at voter id's controller port (id < 0: the next voter in
 * turn, asked whether it is the controller). */
static void observer_target(struct sl_cluster *cl, int32_t id)
{
	const struct sl_voter *v = NULL;
	for (unsigned i = 0; i < cl->n_voters && id >= 0; i++)
		if (cl->voters[i].id == id)
			v = &cl->voters[i];
	if (!v) {
		v = &cl->voters[cl->probe++ % cl->n_voters];
		id = -1;
	}
	cl->leader_id = id;
	sl_crpc_target(cl->rpc, v->host, (uint16_t)(v->port + 1));
}

/* A call that found no controller: go where the replier says, or to the
 * next voter. */
static void observer_redirect(struct sl_cluster *cl, uint16_t status,
			      const uint8_t *body, size_t len)
{
	int32_t to = -1;
	char a[SL_CMSG_ADDRESS_MAX] = "";
	struct sl_voter v;
	if (status == SL_CMSG_NOT_CONTROLLER &&
	    sl_cmsg_decode_leader(body, len, &to, a))
		to = -1;
	if (to >= 0 && to == cl->leader_id)
		return; /* there already (two calls told us the same) */
	if (to >= 0 && a[0] && sl_config_voter_address(a, &v) == 0) {
		/* where the replier's configuration puts it: a voter added
		 * since controller_quorum_voters was written */
		cl->leader_id = to;
		sl_crpc_target(cl->rpc, v.host, (uint16_t)(v.port + 1));
		return;
	}
	observer_target(cl, to);
}

static void meta_reply(void *ctx, uint16_t status, const uint8_t *body,
		       size_t len)
{
	struct sl_cluster *cl = ctx;
	cl->meta_inflight = false;
	if (cl->closing)
		return;
	if (status == EFBIG && !cl->meta_big_said) {
		sl_log("the cluster's metadata does not fit a controller RPC "
		       "frame (%u bytes): this broker, not a voter, cannot "
		       "follow it; make it a voter", (unsigned)SL_CRPC_FRAME_MAX);
		cl->meta_big_said = true;
	}
	if (status) {
		if (status != EFBIG)
			observer_redirect(cl, status, body, len);
		return;
	}
	if (len < 8 || len == 8)
		return; /* up to date (or malformed: asked again) */
	char err[256];
	uint64_t was = cl->img->applied_index;
	if (sl_ci_snapshot_decode(cl->img, body + 8, len - 8, err,
				  sizeof(err))) {
		sl_log("the controller's metadata cannot be read: %s", err);
		return;
	}
	if (cl->img->applied_index != was)
		cl->dirty = true;
}

/* Every 100 ms, the controller's image when it is newer than ours. */
static void observer_fetch(struct sl_cluster *cl, int64_t now_ms)
{
	if (cl->meta_inflight || now_ms < cl->next_meta_ms)
		return;
	cl->next_meta_ms = now_ms + 100;
	uint8_t b[8];
	sl_cmsg_put_index(b, cl->img->applied_index);
	if (!sl_crpc_call(cl->rpc, SL_CMSG_METADATA, b, sizeof(b), meta_reply,
			  cl, now_ms))
		cl->meta_inflight = true;
}

/* The controller's answer to an observer's SL_CMSG_METADATA. */
static void controller_metadata(struct sl_cluster *cl, uint64_t token,
				const uint8_t *body, size_t len)
{
	if (len != 8) {
		(void)sl_crpc_reply(cl->rpc, token, EINVAL, NULL, 0);
		return;
	}
	uint64_t have = rb_be64(body);
	uint64_t index = cl->img->applied_index;
	size_t n = have == index ? 0 : sl_ci_snapshot_bytes(cl->img);
	if (8 + n + 64 > SL_CRPC_FRAME_MAX) {
		(void)sl_crpc_reply(cl->rpc, token, EFBIG, NULL, 0);
		return;
	}
	uint8_t *b = malloc(8 + n);
	if (!b) {
		(void)sl_crpc_reply(cl->rpc, token, ENOMEM, NULL, 0);
		return;
	}
	sl_cmsg_put_index(b, index);
	long w = n ? sl_ci_snapshot_encode(cl->img, b + 8, n) : 0;
	(void)sl_crpc_reply(cl->rpc, token, w < 0 ? EIO : 0, b,
			    w < 0 ? 0 : 8 + (size_t)w);
	free(b);
}

static void self_fence_check(struct sl_cluster *cl, int64_t now_ms);

static void heartbeat_reply(void *ctx, uint16_t status, const uint8_t *body,
			    size_t len)
{
	struct sl_cluster *cl = ctx;
	cl->heartbeat_inflight = false;
	struct sl_cmsg_heartbeat_reply r;
	if (status && cl->observer && !cl->closing)
		observer_redirect(cl, status, body, len);
	if (status || sl_cmsg_decode_heartbeat_reply(body, len, &r))
		return; /* the next one goes out in its time */
	if (cl->observer && cl->leader_id != r.controller_id) {
		sl_log("the active controller is node %d", (int)r.controller_id);
		cl->leader_id = r.controller_id;
	}
	if (cl->fenced != r.fenced)
		sl_log("the controller (node %d) has this broker %s",
		       (int)r.controller_id, r.fenced ? "fenced" : "unfenced");
	cl->fenced = r.fenced;
	cl->last_ack_ms = sl_now_ms();
	self_fence_check(cl, cl->last_ack_ms);
	if ((cl->hb_flags & SL_CMSG_SHUTDOWN) && r.fenced)
		cl->shutdown_acked = true;
}

/* Tell sluiced when this broker must stop (or may start again) acting
 * as a leader: fenced by the controller, or out of touch with it for a
 * session timeout, after which the controller will have fenced it. */
static void self_fence_check(struct sl_cluster *cl, int64_t now_ms)
{
	int lost = now_ms - cl->last_ack_ms >
		   (int64_t)cl->cfg->broker_session_timeout_ms;
	int f = cl->fenced == 1 || lost;
	if (f == cl->self_fenced)
		return;
	if (f && lost && cl->fenced != 1)
		sl_log("no heartbeat answered for %lld ms (session timeout "
		       "%llu ms): this broker stops leading until the "
		       "controller answers", (long long)(now_ms - cl->last_ack_ms),
		       (unsigned long long)cl->cfg->broker_session_timeout_ms);
	cl->self_fenced = f;
	if (cl->hooks.self_fenced)
		cl->hooks.self_fenced(cl->hooks.ctx, f);
}

static void heartbeat(struct sl_cluster *cl, int64_t now_ms)
{
	self_fence_check(cl, now_ms);
	/* a voter removed while running: its image no longer follows the
	 * log, so it stops heartbeating; the controller fences it and moves
	 * its partitions, and it fences itself when its session lapses */
	if (!cl->observer && cl->membership_said < 0)
		return;
	if (now_ms < cl->next_heartbeat_ms || cl->heartbeat_inflight)
		return;
	cl->next_heartbeat_ms = now_ms +
				(cl->shutting_down ? 100 :
				 (int64_t)cl->cfg->broker_heartbeat_interval_ms);
	struct sl_cmsg_heartbeat h = {
		.node_id = cl->cfg->node_id,
		.incarnation = cl->incarnation,
		.kafka_port = cl->cfg->kafka_advertised_port ?
				      cl->cfg->kafka_advertised_port :
				      cl->cfg->kafka_port,
		.native_port = cl->cfg->tcp_port,
		.udp_port = cl->cfg->udp_port,
		.udp_addr = udp_addr_of(cl->cfg),
		.flags = (cl->ready ? SL_CMSG_READY : 0) |
			 (cl->shutting_down ? SL_CMSG_SHUTDOWN : 0),
	};
	snprintf(h.host, sizeof(h.host), "%.63s", cl->cfg->kafka_advertised_host);
	cl->hb_flags = h.flags;
	if (cl->leader) {
		int f = controller_heartbeat(cl, &h, now_ms);
		if (cl->fenced != f)
			sl_log("this broker is %s (this node is the "
			       "controller)", f ? "fenced" : "unfenced");
		cl->fenced = f;
		cl->last_ack_ms = now_ms;
		self_fence_check(cl, now_ms);
		if (cl->shutting_down && f)
			cl->shutdown_acked = true;
		return;
	}
	if (cl->leader_id < 0 && !cl->observer)
		return;
	uint8_t b[96];
	long n = sl_cmsg_encode_heartbeat(b, sizeof(b), &h);
	if (n > 0 && !sl_crpc_call(cl->rpc, SL_CMSG_HEARTBEAT, b, (size_t)n,
				   heartbeat_reply, cl, now_ms))
		cl->heartbeat_inflight = true;
}

static void wait_release(struct sl_cluster *cl)
{
	uint64_t applied = applied_index(cl);
	for (unsigned i = 0; i < WAITS; i++) {
		struct wait *w = &cl->waits[i];
		if (!w->used || w->index > applied)
			continue;
		flush_changed(cl);
		w->used = 0;
		cl->hooks.reply(cl->hooks.ctx, w->token, w->native, w->resp,
				w->len);
		free(w->resp);
		w->resp = NULL;
	}
}

static void forward_reply(void *ctx, uint16_t status, const uint8_t *body,
			  size_t len)
{
	struct fwd *f = ctx;
	struct sl_cluster *cl = f->cl;
	uint64_t index;
	const uint8_t *resp;
	size_t rlen;
	if (status || sl_cmsg_decode_forward_reply(body, len, &index, &resp,
						   &rlen)) {
		cl->hooks.reply(cl->hooks.ctx, f->token, f->native, NULL, 0);
		free(f);
		return;
	}
	for (unsigned i = 0; i < WAITS; i++) {
		struct wait *w = &cl->waits[i];
		if (w->used)
			continue;
		w->resp = malloc(rlen);
		if (!w->resp)
			break;
		memcpy(w->resp, resp, rlen);
		*w = (struct wait){1, f->native, f->token, index, w->resp,
				   rlen};
		free(f);
		wait_release(cl);
		return;
	}
	cl->hooks.reply(cl->hooks.ctx, f->token, f->native, NULL, 0);
	free(f);
}

static void forward(struct sl_cluster *cl, int native, uint64_t token,
		    const uint8_t *req, size_t len, int64_t now_ms)
{
	if (cl->leader) {
		job_add(cl, LOCAL, native, token, req, len);
		return;
	}
	struct fwd *f = malloc(sizeof(*f));
	if (!f) {
		cl->hooks.reply(cl->hooks.ctx, token, native, NULL, 0);
		return;
	}
	*f = (struct fwd){cl, native, token};
	int rc = sl_crpc_call(cl->rpc, native ? SL_CMSG_ADMIN : SL_CMSG_KAFKA,
			      req, len, forward_reply, f, now_ms);
	if (rc) {
		free(f);
		cl->hooks.reply(cl->hooks.ctx, token, native, NULL, 0);
	}
}

bool sl_cluster_takes_kafka(int16_t api_key)
{
	return sl_kquorum_serves(api_key) || sl_kelect_serves(api_key) ||
	       sl_kreassign_alters(api_key) || sl_kunreg_serves(api_key) ||
	       sl_kvoters_serves(api_key) ||
	       api_key == KC_API_CREATE_TOPICS ||
	       api_key == KC_API_DELETE_TOPICS ||
	       api_key == KC_API_CREATE_PARTITIONS ||
	       api_key == KC_API_ALTER_CONFIGS ||
	       api_key == KC_API_INCREMENTAL_ALTER_CONFIGS;
}

void sl_cluster_kafka(struct sl_cluster *cl, uint64_t token,
		      const uint8_t *req, size_t len, int64_t now_ms)
{
	if (len >= 2 && sl_kquorum_serves((int16_t)rb_be16(req))) {
		describe_quorum(cl, token, req, len, now_ms);
		return;
	}
	forward(cl, 0, token, req, len, now_ms);
}

void sl_cluster_admin(struct sl_cluster *cl, uint64_t token,
		      const uint8_t *req, size_t len, int64_t now_ms)
{
	forward(cl, 1, token, req, len, now_ms);
}

struct isr_fwd {
	struct sl_cluster *cl;
	uint64_t token;
};

static void isr_forward_reply(void *ctx, uint16_t status,
			      const uint8_t *body, size_t len)
{
	struct isr_fwd *f = ctx;
	(void)body;
	(void)len;
	f->cl->hooks.alter_isr_reply(f->cl->hooks.ctx, f->token,
				     status == SL_CRPC_ELOST ?
					     SL_CMSG_NOT_CONTROLLER :
					     (int16_t)status);
	free(f);
}

void sl_cluster_alter_isr(struct sl_cluster *cl, uint64_t token,
			  uint32_t topic_id, int32_t partition,
			  int32_t leader_epoch, int32_t partition_epoch,
			  const int32_t *isr, unsigned n, int64_t now_ms)
{
	struct sl_cmsg_alter_isr a = {
		.topic_id = topic_id, .partition = partition,
		.from = cl->cfg->node_id, .leader_epoch = leader_epoch,
		.partition_epoch = partition_epoch,
		.n = (uint8_t)(n > SL_CMSG_ISR_MAX ? 0 : n),
	};
	if (!a.n) {
		cl->hooks.alter_isr_reply(cl->hooks.ctx, token, 42);
		return; /* INVALID_REQUEST */
	}
	memcpy(a.isr, isr, sizeof(int32_t) * n);
	if (cl->leader) {
		controller_alter_isr(cl, LOCAL, token, &a);
		return;
	}
	uint8_t b[128];
	long len = sl_cmsg_encode_alter_isr(b, sizeof(b), &a);
	struct isr_fwd *f = malloc(sizeof(*f));
	if (len < 0 || !f) {
		free(f);
		cl->hooks.alter_isr_reply(cl->hooks.ctx, token,
					  SL_CMSG_NOT_CONTROLLER);
		return;
	}
	*f = (struct isr_fwd){cl, token};
	if (sl_crpc_call(cl->rpc, SL_CMSG_ALTER_ISR, b, (size_t)len,
			 isr_forward_reply, f, now_ms)) {
		free(f);
		cl->hooks.alter_isr_reply(cl->hooks.ctx, token,
					  SL_CMSG_NOT_CONTROLLER);
	}
}

/* ---- the node ---- */

static uint64_t random_incarnation(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (!v)
		v = (uint64_t)sl_now_ms() << 20 ^ (uint64_t)getpid();
	return v ? v : 1;
}

int sl_cluster_create(const struct sl_config *c,
		      const struct sl_cluster_hooks *hooks,
		      struct sl_cluster **out, char *err, size_t errlen)
{
	struct sl_cluster *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = -ENOMEM;
	cl->cfg = c;
	cl->hooks = *hooks;
	cl->leader_id = -1;
	cl->fenced = -1;
	cl->last_ack_ms = sl_now_ms();
	cl->incarnation = random_incarnation();
	int n = sl_config_voters(c->controller_quorum_voters, cl->voters,
				 SL_VOTERS_MAX, err, errlen);
	if (n <= 0) {
		if (!n)
			snprintf(err, errlen, "controller_quorum_voters is "
				 "empty: not a cluster");
		rc = -EINVAL;
		goto out_free;
	}
	cl->n_voters = (unsigned)n;
	const struct sl_voter *self = NULL;
	for (unsigned i = 0; i < cl->n_voters; i++)
		if (cl->voters[i].id == c->node_id)
			self = &cl->voters[i];
	/* a controller that joins later: the Raft node's voters are the
	 * bootstrap list and itself (it does not bootstrap) */
	struct sl_voter qv[SL_VOTERS_MAX];
	unsigned nqv = cl->n_voters;
	memcpy(qv, cl->voters, sizeof(qv));
	bool join = false;
	if (!self && c->controller_address[0]) {
		if (nqv >= SL_VOTERS_MAX ||
		    sl_config_voter_address(c->controller_address,
					    &qv[nqv]) != 0) {
			if (nqv >= SL_VOTERS_MAX)
				snprintf(err, errlen, "controller_address: "
					 "controller_quorum_voters already "
					 "names %d voters", SL_VOTERS_MAX);
			else
				snprintf(err, errlen, "controller_address '%s':"
					 " not an IPv4 host:port",
					 c->controller_address);
			rc = -EINVAL;
			goto out_free;
		}
		qv[nqv].id = c->node_id;
		self = &qv[nqv++];
		join = true;
	}
	cl->membership_said = 2;
	/* not a voter: a broker of the cluster that follows the
	 * controller's image (an observer) */
	cl->observer = !self;
	if (c->node_id > SL_CI_NODE_ID_MAX) {
		snprintf(err, errlen, "node_id %d: a cluster's node ids are 1 "
			 "to %d", (int)c->node_id, SL_CI_NODE_ID_MAX);
		rc = -EINVAL;
		goto out_free;
	}
	cl->img = malloc(sizeof(*cl->img));
	cl->scratch = malloc(sizeof(*cl->scratch));
	cl->entry = malloc(ENTRY_MAX);
	cl->job_resp = malloc(RESP_MAX);
	if (!cl->img || !cl->scratch || !cl->entry || !cl->job_resp) {
		snprintf(err, errlen, "out of memory");
		goto out_mem;
	}
	sl_ci_init(cl->img);
	/* an observer answers no RPC: it only calls the controller */
	rc = sl_crpc_create(self ? self->host : "127.0.0.1",
			    self ? (uint16_t)(self->port + 1) : 0, on_request,
			    cl, &cl->rpc, err, errlen);
	if (rc)
		goto out_mem;
	if (cl->observer) {
		sl_log("node %d is not among the controller_quorum_voters: a "
		       "broker that follows the active controller's metadata",
		       (int)c->node_id);
		observer_target(cl, -1);
		cl->dirty = true;
		*out = cl;
		return 0;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.4000s/raft", c->control_dir);
	struct sl_quorum_config qc = {
		.node_id = c->node_id, .dir = dir, .voters = qv,
		.n_voters = nqv, .apply = on_apply,
		.snapshot = on_snapshot, .restore = on_restore,
		.leader_changed = on_leader, .ctx = cl, .join = join,
	};
	rc = sl_quorum_create(&qc, &cl->q, err, errlen);
	if (rc)
		goto out_rpc;
	cl->dirty = true;
	*out = cl;
	return 0;
out_rpc:
	sl_crpc_destroy(cl->rpc);
out_mem:
	free(cl->job_resp);
	free(cl->entry);
	free(cl->scratch);
	free(cl->img);
out_free:
	free(cl);
	return rc;
}

void sl_cluster_destroy(struct sl_cluster *cl)
{
	if (!cl)
		return;
	cl->closing = true;
	if (cl->q)
		sl_quorum_destroy(cl->q); /* a running job's callback:
					     ECANCELED */
	while (cl->q_len)
		job_answer(cl, 0, NULL, 0);
	sl_crpc_destroy(cl->rpc); /* forwarded calls: lost, freed */
	for (unsigned i = 0; i < WAITS; i++)
		free(cl->waits[i].resp);
	free(cl->job_resp);
	free(cl->entry);
	free(cl->scratch);
	free(cl->img);
	free(cl);
}

struct sl_meta *sl_cluster_meta(struct sl_cluster *cl)
{
	return &cl->img->meta;
}

const struct sl_ci_image *sl_cluster_image(const struct sl_cluster *cl)
{
	return cl->img;
}

void sl_cluster_fds(const struct sl_cluster *cl, int fds[2])
{
	fds[0] = cl->q ? sl_quorum_fd(cl->q) : -1;
	fds[1] = sl_crpc_fd(cl->rpc);
}

int sl_cluster_timeout_ms(struct sl_cluster *cl, int64_t now_ms)
{
	int t = cl->q ? sl_quorum_timeout_ms(cl->q) : -1;
	int r = sl_crpc_timeout_ms(cl->rpc, now_ms);
	if (r >= 0 && (t < 0 || r < t))
		t = r;
	if (cl->observer) {
		int64_t m = cl->next_meta_ms - now_ms;
		if (m < 0)
			m = 0;
		if (t < 0 || m < t)
			t = (int)m;
	}
	int64_t h = cl->next_heartbeat_ms - now_ms;
	if (h < 0)
		h = 0;
	if (t < 0 || h < t)
		t = (int)h;
	return t;
}

void sl_cluster_set_ready(struct sl_cluster *cl, bool ready)
{
	if (cl->ready != ready)
		cl->next_heartbeat_ms = 0; /* tell the controller now */
	cl->ready = ready;
}

void sl_cluster_shutdown(struct sl_cluster *cl)
{
	if (!cl->shutting_down)
		sl_log("controlled shutdown: asking the controller to move "
		       "this broker's partitions");
	cl->shutting_down = true;
	cl->next_heartbeat_ms = 0; /* after the one in flight, if any */
}

int sl_cluster_shut_down(const struct sl_cluster *cl)
{
	return cl->shutdown_acked;
}

int32_t sl_cluster_controller(struct sl_cluster *cl)
{
	return cl->leader_id;
}

/* A voter's membership in the configuration in the log, said once per
 * change: waiting to be added, a voter, removed. */
static void membership_look(struct sl_cluster *cl)
{
	int now = sl_quorum_joining(cl->q) ? 0 :
		  sl_quorum_is_voter(cl->q) ? 1 : -1;
	if (now == cl->membership_said)
		return;
	if (now == 0)
		sl_log("node %d waits to be added to the metadata quorum's "
		       "voters (AddRaftVoter: sluice cluster add-voter %d %s, "
		       "through any broker)", (int)cl->cfg->node_id,
		       (int)cl->cfg->node_id, cl->cfg->controller_address);
	else if (now < 0 && cl->membership_said != 2)
		sl_log("node %d is no longer a voter of the metadata quorum "
		       "(RemoveRaftVoter): it stops heartbeating (the "
		       "controller fences it and moves its partitions); stop "
		       "it; to run it as a broker only, remove %s/raft and "
		       "start it without controller_address, its id out of "
		       "controller_quorum_voters", (int)cl->cfg->node_id,
		       cl->cfg->control_dir);
	else if (now > 0 && cl->membership_said != 2)
		sl_log("node %d is a voter of the metadata quorum",
		       (int)cl->cfg->node_id);
	cl->membership_said = now;
}

int sl_cluster_do_work(struct sl_cluster *cl, int64_t now_ms)
{
	int work = cl->q ? sl_quorum_do_work(cl->q) : 0;
	if (work < 0)
		return -EIO;
	work += sl_crpc_do_work(cl->rpc, now_ms);
	heartbeat(cl, now_ms);
	if (cl->observer)
		observer_fetch(cl, now_ms);
	else
		membership_look(cl);
	if (cl->leader) {
		controller_sessions(cl, now_ms);
		controller_internal_topics(cl, now_ms);
		controller_rebalance(cl, now_ms);
		controller_reassignments(cl);
	} else {
		cl->rebalance_next_ms = 0;
	}
	jobs_pump(cl);
	if (cl->dirty) {
		flush_changed(cl);
		work++;
	}
	wait_release(cl);
	return work;
}
