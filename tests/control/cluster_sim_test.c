/*
 * A seeded, replayable simulation of the metadata log: canonical raft's
 * in-memory cluster (raft/fixture.h: network, disks and time simulated,
 * one process, no threads), 3 or 5 nodes, each node's state machine a
 * cluster image (control/cluster_image.h) behind the same envelopes as
 * control/quorum.c.  docs/testing.md, "The metadata log simulation".
 *
 * Happy path of one seed: the seed picks the cluster (3 or 5 nodes,
 * latencies, snapshot threshold, brokers); the nodes bootstrap; rounds of
 * "do one thing, then let simulated time run" follow, the thing being a
 * controller's decisions proposed on the ready leader (computed on its
 * image, sometimes on a lagging node's), a fault, or a repair; at the end
 * every fault is healed, the cluster runs until every node applied the
 * same last index, and the images are compared.
 *
 * Faults: partitions (a node cut off, the cluster split in two, one link
 * one-way), a node paused (raft_fixture_kill: its timers stop, its links
 * drop) and resumed, a node crashed and restarted from its durable log
 * (below), message latency changes, leadership transfers, and election
 * timeouts re-drawn every round.
 *
 * Crash and restart.  libraft 0.15's fixture keeps each node's "disk" in
 * its raft_io, but positionally (an installed snapshot shifts indexes)
 * and without a way to restart a node.  So the simulation wraps each
 * node's raft_io: appends, truncations and snapshots are kept, in the
 * order libraft submitted them, in a disk of its own (struct disk), each
 * becoming durable when the fixture completes it; load() and
 * snapshot_get() answer from that disk.  A crash pauses the node, freezes
 * its disk (what had not completed is lost, as in a power cut), lets the
 * fixture finish the requests libraft still has in flight, then closes
 * the raft instance and starts a new one, with a new empty image, from the
 * frozen disk.
 *
 * What is checked, continuously (any failure ends the seed):
 *   1. sl_ci_check on a node's image after every apply and restore, and
 *      sl_ci_check_step between its image before and after;
 *   2. State Machine Safety: every node that applies index i applies the
 *      same entry bytes (index -> hash of the entry, kept per seed), and
 *      every node that commits index i holds the same entry there,
 *      barriers and configurations included;
 *   3. every node's image at index i is byte-identical (index -> hash of
 *      its snapshot encoding), restored snapshots included;
 *   4. a proposal libraft reported applied is at the index it was given,
 *      with the same bytes, and every node reaches that index in the end;
 *   5. along the history of images by index, per partition, the leader
 *      epoch and the partition epoch never go down and a leader is -1 or
 *      in the in-sync set (checked here, apart from sl_ci_check_step);
 * and libraft's fixture checks Election Safety and Leader Append-Only
 * after each of its steps.
 *
 * Environment: SLUICE_SIM_SEED=n replays one seed with a trace of every
 * step (the same seed prints the same trace); SLUICE_LONG=1 runs 100000
 * seeds or an hour; SLUICE_SIM_SEEDS=n and SLUICE_SIM_BUDGET_S=s change
 * the default 1000 seeds and 60 s (a run over budget stops and says how
 * many ran); SLUICE_SIM_MUTANT=1 runs the mutant check instead: one node's
 * state machine skips one entry, and the case passes only when the
 * invariants catch it in every seed it tries; SLUICE_SIM_KEEP_GOING=1
 * counts failing seeds instead of stopping at the first.
 *
 * libraft 0.15 answers a heartbeat with its last stored index, counting
 * entries it never checked as matching the leader's (wedged_by_libraft):
 * followers that never catch up, and entries committed on a majority that
 * does not hold them.  A shim in the simulated network (w_recv, w_send)
 * makes that reply say what the request checked; SLUICE_SIM_RAW_LIBRAFT=1
 * runs without it, and SLUICE_SIM_STRICT=1 fails a seed that still ends
 * wedged that way (by default it is counted and named).
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/fixture.h>

#include "tl.h"
#include "control/cluster_image.h"
#include "control/raft_reply.h"
#include "control/quorum.h"
#include "control/quorum_pvt.h"

#define NODES_MAX 5
#define BROKERS_MAX 6       /* broker ids 1..brokers */
#define TOPIC_NAMES 6       /* t0..t5: names collide, topics come back */
#define PROPS_MAX 64        /* proposals in flight, all nodes */
#define INFLIGHT_MAX 2048   /* libraft I/O requests in flight, all nodes */
#define OPS_MAX 512         /* a disk's requests not yet durable */
#define ROUNDS_MIN 100
#define ROUNDS_MAX 250
#define HEAL_MS_MAX 60000   /* simulated time for the end to converge */
#define DRAIN_MS_MAX 10000  /* for a crashed node's requests to finish */
#define ENTRY_CAP (64u << 10)
#define SNAP_CAP (1u << 20)
#define SEEDS_CI 1000
#define SEEDS_LONG 100000
#define BUDGET_CI_S 60
#define BUDGET_LONG_S 3600
#define MUTANT_SEEDS 20
#define ELECTION_MS 1000
#define HEARTBEAT_MS 100

/* ---- the durable log of one node ---- */

struct dentry {
	raft_term term;
	unsigned short type;
	uint8_t *data; /* malloc'd */
	size_t len;
};

struct dsnap {
	raft_index index;
	raft_term term;
	struct raft_configuration conf;
	raft_index conf_index;
	uint8_t *data; /* malloc'd, every buffer of the snapshot in turn */
	size_t len;
};

enum op_kind { OP_APPEND = 1, OP_TRUNCATE, OP_SNAPSHOT };

/* A request submitted to the disk: durable once done and every request
 * before it is. */
struct op {
	enum op_kind kind;
	bool done;
	raft_index index;      /* OP_TRUNCATE: from here on */
	unsigned trailing;     /* OP_SNAPSHOT */
	struct dentry *ents;   /* OP_APPEND */
	unsigned n;
	struct dsnap snap;     /* OP_SNAPSHOT */
};

struct disk {
	raft_term term;
	raft_id vote;
	bool has_snap;
	struct dsnap snap;
	raft_index start;      /* index of ents[0] */
	struct dentry *ents;
	size_t n, cap;
	struct op ops[OPS_MAX];
	uint64_t op_head, op_tail; /* ops[head % OPS_MAX .. tail) pending */
	bool frozen;           /* crashed: nothing more becomes durable */
};

/* ---- the simulation ---- */

struct node {
	unsigned i;            /* fixture index; raft id i + 1 */
	struct raft_fsm fsm;
	struct sl_ci_image *img;
	struct sl_ci_image *before;   /* img before the current apply */
	struct disk disk;
	/* what the node's raft_io was before the wrappers */
	struct raft_io orig;
	unsigned pending;      /* its I/O requests in flight */
	uint32_t gen;          /* +1 at each crash */
	bool paused, crashing, down_crashed;
	raft_time crash_at;
	bool restoring_at_start;
	/* leadership, as quorum.c: a barrier in each new term; ready once
	 * it is applied */
	struct raft_barrier barrier;
	bool barrier_pending;
	raft_term barrier_term, ready_term;
	struct raft_transfer transfer;
	bool transfer_pending;
	/* trace of changes */
	int last_state;
	raft_term last_term;
	uint64_t applies, refused, restores;
	raft_index commit_checked; /* committed entries compared so far */
	/* libraft's heartbeat reply corrected, as the real node does it
	 * (control/raft_reply.h) */
	struct sl_raft_reply reply;
	unsigned net_latency_ms;
};

struct inflight {
	void *req;
	void (*cb)(void);
	unsigned node;
	uint32_t gen;
	uint64_t op;           /* disk op, or UINT64_MAX */
	int kind;
};

struct idx_rec {
	uint64_t entry_hash, image_hash; /* 0: not seen yet */
	uint64_t committed_hash;         /* term, type and bytes; 0 */
};

struct prop {
	struct raft_apply req;
	bool used;
	unsigned node;
	uint64_t hash;
	char what[112];
};

struct acked {
	uint64_t index, hash;
};

struct sim {
	uint64_t seed;
	struct tl_rng rng;
	bool trace;
	int mutant;            /* 0, or 1: node 0 skips one entry */
	bool mutant_fired;
	uint64_t mutant_countdown;
	char fail[1024];       /* first violation, "" none */
	unsigned n;
	unsigned brokers;
	uint64_t incarnation[BROKERS_MAX + 1];
	bool cut[NODES_MAX][NODES_MAX]; /* messages i -> j dropped */
	struct raft_fixture f;
	struct node nodes[NODES_MAX];
	struct inflight infl[INFLIGHT_MAX];
	unsigned n_infl;
	struct prop props[PROPS_MAX];
	struct idx_rec *idx;
	size_t idx_cap;
	struct acked *acked;
	size_t n_acked, acked_cap;
	struct sl_ci_image *hist; /* the latest image by index, any node */
	uint8_t *entry_buf, *snap_buf;
	unsigned threshold, trailing;
	/* counters of the seed */
	uint64_t proposed, committed, lost, refused_decisions, crashes,
		pauses, partitions, transfers, steps;
	raft_id last_leader;
	bool wedged;           /* libraft 0.15's heartbeat defect, below */
	bool raw_libraft;      /* no shim: libraft 0.15's replies as they are */
	uint64_t replies_fixed;
	uint64_t replies_covered; /* rejections answered by the snapshot */
};

static struct sim *g_sim;
static const char *g_argv0 = "control_cluster_sim_test";
static char g_crash_msg[512];

/* ---- helpers ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, p, n);
	return h ? h : 1; /* 0 means "not seen" */
}

static void trace(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void trace(struct sim *s, const char *fmt, ...)
{
	if (!s->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("t=%llu ", (unsigned long long)s->f.time);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* Record the first violation; the seed stops at the next step. */
static void violation(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void violation(struct sim *s, const char *fmt, ...)
{
	if (s->fail[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = snprintf(s->fail, sizeof(s->fail), "t=%llu ",
			 (unsigned long long)s->f.time);
	vsnprintf(s->fail + k, sizeof(s->fail) - (size_t)k, fmt, ap);
	va_end(ap);
	if (s->trace)
		printf("VIOLATION %s\n", s->fail);
}

static struct raft *raft_of(struct sim *s, unsigned i)
{
	return &s->f.servers[i].raft;
}

static struct node *node_of_io(struct raft_io *io)
{
	struct sim *s = g_sim;
	for (unsigned i = 0; i < s->n; i++)
		if (&s->f.servers[i].io == io)
			return &s->nodes[i];
	abort(); /* not one of ours */
}

static struct idx_rec *idx_at(struct sim *s, uint64_t index)
{
	if (index >= s->idx_cap) {
		size_t cap = s->idx_cap ? s->idx_cap : 1024;
		while (cap <= index)
			cap *= 2;
		struct idx_rec *p = realloc(s->idx, cap * sizeof(*p));
		if (!p)
			abort();
		memset(p + s->idx_cap, 0, (cap - s->idx_cap) * sizeof(*p));
		s->idx = p;
		s->idx_cap = cap;
	}
	return &s->idx[index];
}

static int conf_copy(struct raft_configuration *dst,
		     const struct raft_configuration *src)
{
	raft_configuration_init(dst);
	for (unsigned k = 0; k < src->n; k++) {
		int rc = raft_configuration_add(dst, src->servers[k].id,
						src->servers[k].address,
						src->servers[k].role);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- the durable log ---- */

static void dentry_free(struct dentry *e)
{
	free(e->data);
	e->data = NULL;
}

static void dsnap_free(struct dsnap *d)
{
	raft_configuration_close(&d->conf);
	free(d->data);
	d->data = NULL;
}

static void op_free(struct op *o)
{
	if (o->kind == OP_APPEND) {
		for (unsigned k = 0; k < o->n; k++)
			dentry_free(&o->ents[k]);
		free(o->ents);
	} else if (o->kind == OP_SNAPSHOT) {
		dsnap_free(&o->snap);
	}
	memset(o, 0, sizeof(*o));
}

static raft_index disk_last(const struct disk *d)
{
	if (d->n)
		return d->start + d->n - 1;
	return d->has_snap ? d->snap.index : 0;
}

static void disk_drop_front(struct disk *d, size_t k)
{
	assert(k <= d->n);
	for (size_t j = 0; j < k; j++)
		dentry_free(&d->ents[j]);
	memmove(d->ents, d->ents + k, (d->n - k) * sizeof(*d->ents));
	d->n -= k;
	d->start += k;
}

/* Make op o durable (it is the oldest pending one). */
static void disk_apply(struct disk *d, struct op *o)
{
	switch (o->kind) {
	case OP_APPEND:
		if (d->n + o->n > d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 64;
			while (cap < d->n + o->n)
				cap *= 2;
			struct dentry *p = realloc(d->ents, cap * sizeof(*p));
			if (!p)
				abort();
			d->ents = p;
			d->cap = cap;
		}
		memcpy(d->ents + d->n, o->ents, o->n * sizeof(*o->ents));
		d->n += o->n;
		free(o->ents);
		break;
	case OP_TRUNCATE:
		while (d->n && disk_last(d) >= o->index) {
			dentry_free(&d->ents[d->n - 1]);
			d->n--;
		}
		break;
	case OP_SNAPSHOT: {
		if (d->has_snap)
			dsnap_free(&d->snap);
		d->snap = o->snap;
		d->has_snap = true;
		raft_index keep_from = o->trailing == 0 ||
				       d->snap.index < o->trailing ?
				       (o->trailing == 0 ? d->snap.index + 1 : 1) :
				       d->snap.index - o->trailing + 1;
		if (d->n == 0 || disk_last(d) < d->snap.index) {
			/* a gap, or an installed snapshot: the log starts
			 * after it */
			disk_drop_front(d, d->n);
			d->start = d->snap.index + 1;
		} else if (keep_from > d->start) {
			disk_drop_front(d, (size_t)(keep_from - d->start));
		}
		if (o->trailing == 0) {
			disk_drop_front(d, d->n);
			d->start = d->snap.index + 1;
		}
		break;
	}
	}
	memset(o, 0, sizeof(*o));
}

static void disk_drain(struct disk *d)
{
	while (d->op_head < d->op_tail && d->ops[d->op_head % OPS_MAX].done) {
		disk_apply(d, &d->ops[d->op_head % OPS_MAX]);
		d->op_head++;
	}
}

static struct op *disk_push(struct sim *s, struct disk *d, uint64_t *seq)
{
	if (d->op_tail - d->op_head >= OPS_MAX) {
		violation(s, "simulation: more than %d disk requests pending",
			  OPS_MAX);
		abort();
	}
	*seq = d->op_tail;
	struct op *o = &d->ops[d->op_tail % OPS_MAX];
	memset(o, 0, sizeof(*o));
	d->op_tail++;
	return o;
}

/* Forget what never became durable (a crash). */
static void disk_discard_pending(struct disk *d)
{
	while (d->op_head < d->op_tail) {
		op_free(&d->ops[d->op_head % OPS_MAX]);
		d->op_head++;
	}
	d->op_head = d->op_tail = 0;
}

static void disk_free(struct disk *d)
{
	disk_discard_pending(d);
	for (size_t k = 0; k < d->n; k++)
		dentry_free(&d->ents[k]);
	free(d->ents);
	if (d->has_snap)
		dsnap_free(&d->snap);
	memset(d, 0, sizeof(*d));
}

/* A snapshot for libraft (raft_malloc'd; libraft frees it). */
static struct raft_snapshot *snapshot_of(const struct dsnap *d)
{
	struct raft_snapshot *snap = raft_malloc(sizeof(*snap));
	if (!snap)
		abort();
	memset(snap, 0, sizeof(*snap));
	snap->index = d->index;
	snap->term = d->term;
	if (conf_copy(&snap->configuration, &d->conf) != 0)
		abort();
	snap->configuration_index = d->conf_index;
	snap->bufs = raft_malloc(sizeof(*snap->bufs));
	snap->bufs[0].base = raft_malloc(d->len ? d->len : 1);
	if (!snap->bufs || !snap->bufs[0].base)
		abort();
	memcpy(snap->bufs[0].base, d->data, d->len);
	snap->bufs[0].len = d->len;
	snap->n_bufs = 1;
	return snap;
}

static void snapshot_destroy(struct raft_snapshot *snap)
{
	raft_configuration_close(&snap->configuration);
	for (unsigned k = 0; k < snap->n_bufs; k++)
		raft_free(snap->bufs[k].base);
	raft_free(snap->bufs);
	raft_free(snap);
}

/* ---- the raft_io wrappers ---- */

enum { REQ_APPEND = 1, REQ_SEND, REQ_SNAP_PUT, REQ_SNAP_GET, REQ_WORK };

static void infl_add(struct sim *s, struct node *nd, void *req,
		     void (*cb)(void), int kind, uint64_t op)
{
	if (s->n_infl == INFLIGHT_MAX) {
		fprintf(stderr, "simulation: more than %d requests in "
			"flight\n", INFLIGHT_MAX);
		abort();
	}
	struct inflight *x = &s->infl[s->n_infl++];
	x->req = req;
	x->cb = cb;
	x->node = nd->i;
	x->gen = nd->gen;
	x->op = op;
	x->kind = kind;
	nd->pending++;
}

/* Take the request out of the in-flight table (order there is never
 * looked at, so a swap keeps it dense). */
static struct inflight infl_take(struct sim *s, void *req, int kind)
{
	for (unsigned k = 0; k < s->n_infl; k++) {
		if (s->infl[k].req != req || s->infl[k].kind != kind)
			continue;
		struct inflight x = s->infl[k];
		s->infl[k] = s->infl[--s->n_infl];
		assert(s->nodes[x.node].pending > 0);
		s->nodes[x.node].pending--;
		return x;
	}
	abort(); /* a completion we never saw submitted */
}

/* A disk op completed: durable if the node has not crashed since. */
static void op_done(struct sim *s, const struct inflight *x, int status)
{
	struct node *nd = &s->nodes[x->node];
	if (x->op == UINT64_MAX || x->gen != nd->gen || nd->disk.frozen)
		return;
	if (status != 0) {
		violation(s, "node %u: a disk request failed (%d)", nd->i + 1,
			  status);
		return;
	}
	nd->disk.ops[x->op % OPS_MAX].done = true;
	disk_drain(&nd->disk);
}

static void w_append_cb(struct raft_io_append *req, int status)
{
	struct sim *s = g_sim;
	struct inflight x = infl_take(s, req, REQ_APPEND);
	op_done(s, &x, status);
	raft_io_append_cb cb = (raft_io_append_cb)x.cb;
	if (cb)
		cb(req, status);
}

static int w_append(struct raft_io *io, struct raft_io_append *req,
		    const struct raft_entry entries[], unsigned n,
		    raft_io_append_cb cb)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	uint64_t seq = UINT64_MAX;
	if (!nd->disk.frozen) {
		struct op *o = disk_push(s, &nd->disk, &seq);
		o->kind = OP_APPEND;
		o->n = n;
		o->ents = calloc(n ? n : 1, sizeof(*o->ents));
		if (!o->ents)
			abort();
		for (unsigned k = 0; k < n; k++) {
			o->ents[k].term = entries[k].term;
			o->ents[k].type = entries[k].type;
			o->ents[k].len = entries[k].buf.len;
			o->ents[k].data = malloc(entries[k].buf.len ?
						 entries[k].buf.len : 1);
			if (!o->ents[k].data)
				abort();
			memcpy(o->ents[k].data, entries[k].buf.base,
			       entries[k].buf.len);
		}
	}
	infl_add(s, nd, req, (void (*)(void))cb, REQ_APPEND, seq);
	int rc = nd->orig.append(io, req, entries, n, w_append_cb);
	if (rc != 0) {
		infl_take(s, req, REQ_APPEND);
		violation(s, "node %u: fixture append failed (%d)", nd->i + 1,
			  rc);
	}
	return rc;
}

static int w_truncate(struct raft_io *io, raft_index index)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	/* Index 1 is the fixture's own, from a snapshot it stores with no
	 * trailing entries (libraft never truncates its first, committed,
	 * entry); its positional truncate is left to it. */
	if (index == 1)
		return nd->orig.truncate(io, index);
	if (!nd->disk.frozen) {
		uint64_t seq;
		struct op *o = disk_push(s, &nd->disk, &seq);
		o->kind = OP_TRUNCATE;
		o->index = index;
		o->done = true;
		disk_drain(&nd->disk);
	}
	return 0;
}

static void w_send_cb(struct raft_io_send *req, int status)
{
	struct inflight x = infl_take(g_sim, req, REQ_SEND);
	raft_io_send_cb cb = (raft_io_send_cb)x.cb;
	if (cb)
		cb(req, status);
}

/*
 * libraft 0.15's heartbeat reply corrected by the real node's module
 * (control/raft_reply.h; wedged_by_libraft says what goes wrong without
 * it), unless SLUICE_SIM_RAW_LIBRAFT asks for libraft as it is.
 */
static void w_recv(struct raft_io *io, struct raft_message *m)
{
	sl_raft_reply_recv(&node_of_io(io)->reply, io, m);
}

static int w_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		   raft_io_recv_cb recv)
{
	struct node *nd = node_of_io(io);
	nd->reply.recv = recv;
	nd->reply.raft = raft_of(g_sim, (unsigned)(nd - g_sim->nodes));
	return nd->orig.start(io, msecs, tick, g_sim->raw_libraft ? recv :
					  w_recv);
}

static int w_send(struct raft_io *io, struct raft_io_send *req,
		  const struct raft_message *message, raft_io_send_cb cb)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	struct raft_message fixed;
	uint64_t before = nd->reply.fixed, covered = nd->reply.covered;
	message = sl_raft_reply_send(&nd->reply, message, &fixed);
	s->replies_fixed += nd->reply.fixed - before;
	s->replies_covered += nd->reply.covered - covered;
	infl_add(s, nd, req, (void (*)(void))cb, REQ_SEND, UINT64_MAX);
	int rc = nd->orig.send(io, req, message, w_send_cb);
	if (rc != 0)
		infl_take(s, req, REQ_SEND);
	return rc;
}

static void w_snap_put_cb(struct raft_io_snapshot_put *req, int status)
{
	struct sim *s = g_sim;
	struct inflight x = infl_take(s, req, REQ_SNAP_PUT);
	op_done(s, &x, status);
	raft_io_snapshot_put_cb cb = (raft_io_snapshot_put_cb)x.cb;
	if (cb)
		cb(req, status);
}

static int w_snap_put(struct raft_io *io, unsigned trailing,
		      struct raft_io_snapshot_put *req,
		      const struct raft_snapshot *snapshot,
		      raft_io_snapshot_put_cb cb)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	uint64_t seq = UINT64_MAX;
	if (!nd->disk.frozen) {
		struct op *o = disk_push(s, &nd->disk, &seq);
		o->kind = OP_SNAPSHOT;
		o->trailing = trailing;
		o->snap.index = snapshot->index;
		o->snap.term = snapshot->term;
		o->snap.conf_index = snapshot->configuration_index;
		if (conf_copy(&o->snap.conf, &snapshot->configuration) != 0)
			abort();
		size_t len = 0;
		for (unsigned k = 0; k < snapshot->n_bufs; k++)
			len += snapshot->bufs[k].len;
		o->snap.data = malloc(len ? len : 1);
		if (!o->snap.data)
			abort();
		o->snap.len = 0;
		for (unsigned k = 0; k < snapshot->n_bufs; k++) {
			memcpy(o->snap.data + o->snap.len,
			       snapshot->bufs[k].base, snapshot->bufs[k].len);
			o->snap.len += snapshot->bufs[k].len;
		}
	}
	infl_add(s, nd, req, (void (*)(void))cb, REQ_SNAP_PUT, seq);
	int rc = nd->orig.snapshot_put(io, trailing, req, snapshot,
				       w_snap_put_cb);
	if (rc != 0) {
		infl_take(s, req, REQ_SNAP_PUT);
		violation(s, "node %u: fixture snapshot_put failed (%d)",
			  nd->i + 1, rc);
	}
	return rc;
}

/* The fixture answers with the last snapshot it stored; the node's disk
 * says which one is durable. */
static void w_snap_get_cb(struct raft_io_snapshot_get *req,
			  struct raft_snapshot *snapshot, int status)
{
	struct sim *s = g_sim;
	struct inflight x = infl_take(s, req, REQ_SNAP_GET);
	struct node *nd = &s->nodes[x.node];
	if (status == 0 && snapshot && nd->disk.has_snap) {
		snapshot_destroy(snapshot);
		snapshot = snapshot_of(&nd->disk.snap);
	}
	raft_io_snapshot_get_cb cb = (raft_io_snapshot_get_cb)x.cb;
	cb(req, snapshot, status);
}

static int w_snap_get(struct raft_io *io, struct raft_io_snapshot_get *req,
		      raft_io_snapshot_get_cb cb)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	infl_add(s, nd, req, (void (*)(void))cb, REQ_SNAP_GET, UINT64_MAX);
	int rc = nd->orig.snapshot_get(io, req, w_snap_get_cb);
	if (rc != 0)
		infl_take(s, req, REQ_SNAP_GET);
	return rc;
}

static void w_work_cb(struct raft_io_async_work *req, int status)
{
	struct inflight x = infl_take(g_sim, req, REQ_WORK);
	raft_io_async_work_cb cb = (raft_io_async_work_cb)x.cb;
	if (cb)
		cb(req, status);
}

static int w_work(struct raft_io *io, struct raft_io_async_work *req,
		  raft_io_async_work_cb cb)
{
	struct sim *s = g_sim;
	struct node *nd = node_of_io(io);
	infl_add(s, nd, req, (void (*)(void))cb, REQ_WORK, UINT64_MAX);
	int rc = nd->orig.async_work(io, req, w_work_cb);
	if (rc != 0)
		infl_take(s, req, REQ_WORK);
	return rc;
}

static int w_set_term(struct raft_io *io, raft_term term)
{
	struct node *nd = node_of_io(io);
	if (!nd->disk.frozen) {
		nd->disk.term = term;
		nd->disk.vote = 0;
	}
	return nd->orig.set_term(io, term);
}

static int w_set_vote(struct raft_io *io, raft_id id)
{
	struct node *nd = node_of_io(io);
	if (!nd->disk.frozen)
		nd->disk.vote = id;
	return nd->orig.set_vote(io, id);
}

/* What the disk holds, as libraft's load wants it (all raft_malloc'd:
 * libraft owns it from here). */
static int w_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
		  struct raft_snapshot **snapshot, raft_index *start_index,
		  struct raft_entry *entries[], size_t *n_entries)
{
	struct node *nd = node_of_io(io);
	const struct disk *d = &nd->disk;
	*term = d->term;
	*voted_for = d->vote;
	*snapshot = d->has_snap ? snapshot_of(&d->snap) : NULL;
	*start_index = d->start;
	*n_entries = d->n;
	*entries = NULL;
	if (d->n == 0)
		return 0;
	size_t total = 0;
	for (size_t k = 0; k < d->n; k++)
		total += d->ents[k].len;
	uint8_t *batch = raft_malloc(total ? total : 1);
	struct raft_entry *e = raft_calloc(d->n, sizeof(*e));
	if (!batch || !e)
		abort();
	size_t off = 0;
	for (size_t k = 0; k < d->n; k++) {
		e[k].term = d->ents[k].term;
		e[k].type = d->ents[k].type;
		e[k].buf.base = batch + off;
		e[k].buf.len = d->ents[k].len;
		e[k].batch = batch;
		memcpy(batch + off, d->ents[k].data, d->ents[k].len);
		off += d->ents[k].len;
	}
	*entries = e;
	return 0;
}

/* The disk as the fixture's bootstrap left it (term 1, the configuration
 * entry at index 1), then the wrappers in place. */
static void wrap_io(struct node *nd, struct raft_io *io)
{
	nd->orig = *io;
	raft_term term;
	raft_id vote;
	struct raft_snapshot *snap;
	raft_index start;
	struct raft_entry *ents;
	size_t n;
	if (io->load(io, &term, &vote, &snap, &start, &ents, &n) != 0 ||
	    snap || start != 1 || n != 1)
		abort();
	struct disk *d = &nd->disk;
	d->term = term;
	d->vote = vote;
	d->start = 1;
	d->cap = 64;
	d->ents = calloc(d->cap, sizeof(*d->ents));
	if (!d->ents)
		abort();
	d->ents[0].term = ents[0].term;
	d->ents[0].type = ents[0].type;
	d->ents[0].len = ents[0].buf.len;
	d->ents[0].data = malloc(ents[0].buf.len);
	if (!d->ents[0].data)
		abort();
	memcpy(d->ents[0].data, ents[0].buf.base, ents[0].buf.len);
	d->n = 1;
	raft_free(ents[0].batch ? ents[0].batch : ents[0].buf.base);
	raft_free(ents);

	io->load = w_load;
	io->start = w_start;
	io->append = w_append;
	io->truncate = w_truncate;
	io->send = w_send;
	io->snapshot_put = w_snap_put;
	io->snapshot_get = w_snap_get;
	io->async_work = w_work;
	io->set_term = w_set_term;
	io->set_vote = w_set_vote;
}

/* ---- invariants ---- */

/* (5), on its own: along the history by index, each partition's epochs
 * never go down, and its leader is -1 or in its in-sync set. */
static void check_history(struct sim *s, const struct sl_ci_image *a,
			  const struct sl_ci_image *b, const char *who)
{
	for (uint32_t t = 0; t < b->meta.count; t++) {
		const struct sl_ci_topic *tb = &b->topics[t];
		for (int32_t p = 0; p < tb->partitions; p++) {
			const struct sl_ci_partition *y =
				&b->parts[tb->part_first + (uint32_t)p];
			bool in = y->leader == -1;
			for (unsigned k = 0; k < y->isr_count; k++)
				in |= y->isr[k] == y->leader;
			if (!in)
				violation(s, "%s: index %llu topic %u "
					  "partition %d: leader %d not in "
					  "sync", who,
					  (unsigned long long)b->applied_index,
					  tb->id, (int)p, (int)y->leader);
		}
		const struct sl_ci_topic *ta = sl_ci_topic_find_id(a, tb->id);
		if (!ta)
			continue;
		for (int32_t p = 0; p < ta->partitions && p < tb->partitions;
		     p++) {
			const struct sl_ci_partition *x =
				&a->parts[ta->part_first + (uint32_t)p];
			const struct sl_ci_partition *y =
				&b->parts[tb->part_first + (uint32_t)p];
			if (y->leader_epoch < x->leader_epoch ||
			    y->partition_epoch < x->partition_epoch)
				violation(s, "%s: topic %u partition %d: "
					  "epochs %d/%d at index %llu, %d/%d "
					  "at index %llu", who, tb->id, (int)p,
					  (int)x->leader_epoch,
					  (int)x->partition_epoch,
					  (unsigned long long)a->applied_index,
					  (int)y->leader_epoch,
					  (int)y->partition_epoch,
					  (unsigned long long)b->applied_index);
		}
	}
}

static uint64_t image_hash(struct sim *s, const struct sl_ci_image *img)
{
	long len = sl_ci_snapshot_encode(img, s->snap_buf, SNAP_CAP);
	if (len < 0) {
		violation(s, "snapshot encode: %ld", len);
		return 1;
	}
	return hash_bytes(s->snap_buf, (size_t)len);
}

/* After node nd's image changed (by apply or restore).  Keyed by the
 * image's own applied index: a snapshot taken after barriers covers a
 * later Raft index than its image's last entry. */
static void check_image(struct sim *s, struct node *nd, const char *how)
{
	uint64_t index = nd->img->applied_index;
	char err[512], who[32];
	snprintf(who, sizeof(who), "node %u", nd->i + 1);
	if (sl_ci_check(nd->img, err, sizeof(err)))
		violation(s, "%s: invariant broken after %s of index %llu: "
			  "%s", who, how, (unsigned long long)index, err);
	uint64_t h = image_hash(s, nd->img);
	struct idx_rec *r = idx_at(s, index);
	if (!r->image_hash)
		r->image_hash = h;
	else if (r->image_hash != h)
		violation(s, "%s: image at index %llu (after %s) differs from "
			  "another node's at the same index", who,
			  (unsigned long long)index, how);
	if (index > s->hist->applied_index) {
		if (sl_ci_check_step(s->hist, nd->img, err, sizeof(err)))
			violation(s, "%s: index %llu after %llu: %s", who,
				  (unsigned long long)index,
				  (unsigned long long)s->hist->applied_index,
				  err);
		check_history(s, s->hist, nd->img, who);
		sl_ci_copy(s->hist, nd->img);
	}
}

/* Did an apply change more than the applied index? */
static bool changed(struct sim *s, struct sl_ci_image *before,
		    const struct sl_ci_image *after)
{
	uint64_t was = before->applied_index;
	before->applied_index = after->applied_index;
	bool differ = image_hash(s, before) != image_hash(s, after);
	before->applied_index = was;
	return differ;
}

/* ---- the state machine: quorum.c's adapter, with the checks ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct node *nd = fsm->data;
	struct sim *s = g_sim;
	uint64_t index = (uint64_t)raft_of(s, nd->i)->last_applied + 1;
	*result = NULL;
	struct idx_rec *r = idx_at(s, index);
	uint64_t h = hash_bytes(buf->base, buf->len);
	if (!r->entry_hash)
		r->entry_hash = h;
	else if (r->entry_hash != h)
		violation(s, "node %u: State Machine Safety: index %llu "
			  "applied with other bytes than another node's",
			  nd->i + 1, (unsigned long long)index);
	const uint8_t *entry;
	size_t len;
	if (sl_quorum_entry_decode(buf->base, buf->len, &entry, &len) < 0) {
		violation(s, "node %u: index %llu: damaged envelope", nd->i + 1,
			  (unsigned long long)index);
		return RAFT_CORRUPT;
	}
	sl_ci_copy(nd->before, nd->img);
	char err[512];
	int rc = sl_ci_apply(nd->img, index, entry, len, err, sizeof(err));
	if (rc != 0 && rc != -EINVAL) {
		violation(s, "node %u: apply of index %llu: %d %s", nd->i + 1,
			  (unsigned long long)index, rc, err);
		return RAFT_IOERR;
	}
	nd->applies++;
	if (rc == -EINVAL)
		nd->refused++;
	/* the mutant: node 1 forgets one entry it applied that changed
	 * its image */
	if (s->mutant && !s->mutant_fired && nd->i == 0 && rc == 0 &&
	    changed(s, nd->before, nd->img) && --s->mutant_countdown == 0) {
		sl_ci_copy(nd->img, nd->before);
		nd->img->applied_index = index;
		s->mutant_fired = true;
		trace(s, "MUTANT node 1 skips index %llu",
		      (unsigned long long)index);
	}
	trace(s, "node %u apply %llu entry %016llx %s%s", nd->i + 1,
	      (unsigned long long)index, (unsigned long long)h,
	      rc ? "refused: " : "ok", rc ? err : "");
	if (sl_ci_check_step(nd->before, nd->img, err, sizeof(err)))
		violation(s, "node %u: index %llu: %s", nd->i + 1,
			  (unsigned long long)index, err);
	check_history(s, nd->before, nd->img, "apply");
	check_image(s, nd, "apply");
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct node *nd = fsm->data;
	struct sim *s = g_sim;
	uint64_t index = (uint64_t)raft_of(s, nd->i)->last_applied;
	size_t len = sl_ci_snapshot_bytes(nd->img);
	struct raft_buffer *b = calloc(2, sizeof(*b));
	uint8_t *h = malloc(SL_QUORUM_SNAP_HDR);
	uint8_t *state = malloc(len);
	if (!b || !h || !state)
		abort();
	long got = sl_ci_snapshot_encode(nd->img, state, len);
	if (got != (long)len)
		violation(s, "node %u: snapshot encode %ld, expected %zu",
			  nd->i + 1, got, len);
	if (nd->img->applied_index > index)
		violation(s, "node %u: snapshot at %llu, image at %llu",
			  nd->i + 1, (unsigned long long)index,
			  (unsigned long long)nd->img->applied_index);
	sl_quorum_snap_header(h, index, state, len);
	b[0].base = h;
	b[0].len = SL_QUORUM_SNAP_HDR;
	b[1].base = state;
	b[1].len = len;
	*bufs = b;
	*n_bufs = 2;
	trace(s, "node %u snapshot at %llu", nd->i + 1,
	      (unsigned long long)index);
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
				 struct raft_buffer *bufs[], unsigned *n_bufs)
{
	(void)fsm;
	if (*bufs) {
		for (unsigned k = 0; k < *n_bufs; k++)
			free((*bufs)[k].base);
		free(*bufs);
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct node *nd = fsm->data;
	struct sim *s = g_sim;
	uint64_t index;
	const uint8_t *state;
	size_t len;
	if (sl_quorum_snap_decode(buf->base, buf->len, &index, &state,
				  &len) < 0) {
		violation(s, "node %u: damaged snapshot envelope", nd->i + 1);
		return RAFT_CORRUPT;
	}
	sl_ci_copy(nd->before, nd->img);
	char err[512];
	if (sl_ci_snapshot_decode(nd->img, state, len, err, sizeof(err))) {
		violation(s, "node %u: snapshot at %llu refused: %s",
			  nd->i + 1, (unsigned long long)index, err);
		return RAFT_CORRUPT;
	}
	if (nd->img->applied_index > index)
		violation(s, "node %u: snapshot of index %llu holds an image "
			  "at %llu", nd->i + 1, (unsigned long long)index,
			  (unsigned long long)nd->img->applied_index);
	nd->restores++;
	trace(s, "node %u restore %llu (%s)", nd->i + 1,
	      (unsigned long long)index,
	      nd->restoring_at_start ? "start" : "install");
	if (!nd->restoring_at_start) {
		if (sl_ci_check_step(nd->before, nd->img, err, sizeof(err)))
			violation(s, "node %u: install of %llu: %s", nd->i + 1,
				  (unsigned long long)index, err);
		check_history(s, nd->before, nd->img, "install");
	}
	check_image(s, nd, nd->restoring_at_start ? "restart" : "install");
	raft_free(buf->base);
	return 0;
}

/* ---- nodes: settings, crash and restart, links ---- */

static void raft_settings(struct sim *s, struct raft *r)
{
	raft_set_election_timeout(r, ELECTION_MS);
	raft_set_heartbeat_timeout(r, HEARTBEAT_MS);
	raft_set_install_snapshot_timeout(r, 30000);
	raft_set_snapshot_threshold(r, s->threshold);
	raft_set_snapshot_trailing(r, s->trailing);
	raft_set_pre_vote(r, true);
}

static bool down(const struct sim *s, unsigned i)
{
	return s->nodes[i].paused || s->nodes[i].down_crashed;
}

/* Every link as the model says: cut, or an end down. */
static void apply_links(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = 0; j < s->n; j++) {
			if (i == j)
				continue;
			bool sat = s->cut[i][j] || down(s, i) || down(s, j);
			if (sat != raft_fixture_saturated(&s->f, i, j)) {
				if (sat)
					raft_fixture_saturate(&s->f, i, j);
				else
					raft_fixture_desaturate(&s->f, i, j);
			}
		}
}

static void set_alive(struct sim *s, unsigned i)
{
	bool alive = !down(s, i);
	if (alive && !raft_fixture_alive(&s->f, i))
		raft_fixture_revive(&s->f, i);
	else if (!alive && raft_fixture_alive(&s->f, i))
		raft_fixture_kill(&s->f, i);
	apply_links(s);
}

static void crash(struct sim *s, unsigned i)
{
	struct node *nd = &s->nodes[i];
	assert(!nd->crashing && !nd->down_crashed);
	nd->down_crashed = true;
	nd->crashing = true;
	nd->crash_at = s->f.time;
	nd->disk.frozen = true;
	nd->gen++;
	s->crashes++;
	set_alive(s, i);
	trace(s, "crash node %u (%u requests in flight)", i + 1,
	      nd->pending);
}

/* Once a crashed node's requests are done: a new raft instance and a new
 * image, from its disk.  It stays down until revived. */
static void restart(struct sim *s, unsigned i)
{
	struct node *nd = &s->nodes[i];
	struct raft_fixture_server *sv = &s->f.servers[i];
	assert(nd->crashing && nd->pending == 0);
	raft_close(&sv->raft, NULL); /* the fixture's close is synchronous */
	memset(&sv->raft, 0, sizeof(sv->raft));
	disk_discard_pending(&nd->disk);
	nd->disk.frozen = false;
	nd->crashing = false;
	nd->barrier_pending = nd->transfer_pending = false;
	nd->barrier_term = nd->ready_term = 0;
	nd->commit_checked = 0;
	sl_ci_init(nd->img);
	int rc = raft_init(&sv->raft, &sv->io, &nd->fsm, sv->id, sv->address);
	if (rc != 0) {
		violation(s, "node %u: raft_init: %s", i + 1,
			  raft_strerror(rc));
		return;
	}
	sv->raft.tracer = &sv->tracer;
	raft_settings(s, &sv->raft);
	nd->restoring_at_start = true;
	rc = raft_start(&sv->raft);
	nd->restoring_at_start = false;
	if (rc != 0)
		violation(s, "node %u: restart: %s (%s)", i + 1,
			  raft_strerror(rc), raft_errmsg(&sv->raft));
	trace(s, "restart node %u: term %llu, log %llu..%llu, snapshot %llu",
	      i + 1, (unsigned long long)nd->disk.term,
	      (unsigned long long)nd->disk.start,
	      (unsigned long long)disk_last(&nd->disk),
	      (unsigned long long)(nd->disk.has_snap ? nd->disk.snap.index :
						      0));
}

/* ---- leadership, as quorum.c ---- */

static void on_barrier(struct raft_barrier *req, int status)
{
	struct node *nd = req->data;
	nd->barrier_pending = false;
	if (status == 0)
		nd->ready_term = nd->barrier_term;
	else
		nd->barrier_term = 0;
}

static bool ready(struct sim *s, unsigned i)
{
	struct raft *r = raft_of(s, i);
	return !down(s, i) && !s->nodes[i].crashing &&
	       raft_state(r) == RAFT_LEADER &&
	       s->nodes[i].ready_term == r->current_term;
}

static void on_transfer(struct raft_transfer *req)
{
	struct node *nd = req->data;
	nd->transfer_pending = false;
}

/* The entry at index in r's in-memory log, or NULL (snapshotted, or
 * past its end).  struct raft_log is raft.h's: a ring of entries, the
 * first at index offset + 1. */
static const struct raft_entry *entry_at(const struct raft *r,
					 raft_index index)
{
	const struct raft_log *l = &r->log;
	size_t n = l->back >= l->front ? l->back - l->front :
					 l->size - l->front + l->back;
	if (index <= l->offset || index > l->offset + n)
		return NULL;
	return &l->entries[(l->front + (index - l->offset - 1)) % l->size];
}

static raft_term term_at(const struct raft *r, raft_index index)
{
	const struct raft_entry *e = entry_at(r, index);
	if (e)
		return e->term;
	return index == r->log.snapshot.last_index ?
	       r->log.snapshot.last_term : 0;
}

/* Raft's State Machine Safety over every committed entry, barriers and
 * configurations included (the state machine sees commands only): any
 * two nodes that committed index i hold the same entry there. */
static void check_committed(struct sim *s, unsigned i)
{
	struct node *nd = &s->nodes[i];
	struct raft *r = raft_of(s, i);
	raft_index c = r->commit_index;
	if (nd->commit_checked > c)
		nd->commit_checked = 0; /* restarted */
	for (raft_index k = nd->commit_checked + 1; k <= c; k++) {
		const struct raft_entry *e = entry_at(r, k);
		if (!e)
			continue; /* in a snapshot: the image says */
		uint64_t h = fnv(fnv(0xcbf29ce484222325ull, &e->term,
				     sizeof(e->term)), &e->type,
				 sizeof(e->type));
		/* (a configuration's encoding pads with bytes libraft leaves
		 * unset; there is one configuration, written at bootstrap) */
		if (e->type != RAFT_CHANGE)
			h = fnv(h, e->buf.base, e->buf.len);
		h = h ? h : 1;
		struct idx_rec *x = idx_at(s, k);
		if (!x->committed_hash)
			x->committed_hash = h;
		else if (x->committed_hash != h)
			violation(s, "node %u: State Machine Safety: committed "
				  "index %llu (term %llu) holds another entry "
				  "than another node committed there", i + 1,
				  (unsigned long long)k,
				  (unsigned long long)e->term);
	}
	nd->commit_checked = c;
}

/* After each fixture step: barriers for new leaders, restarts once
 * drained, the trace of role changes. */
static void after_step(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		if (nd->crashing) {
			if (nd->pending == 0)
				restart(s, i);
			else if (s->f.time - nd->crash_at > DRAIN_MS_MAX)
				violation(s, "node %u: its requests never "
					  "finished after its crash", i + 1);
			continue;
		}
		struct raft *r = raft_of(s, i);
		int st = raft_state(r);
		if (r->commit_index != nd->commit_checked)
			check_committed(s, i);
		if (st != nd->last_state || r->current_term != nd->last_term) {
			trace(s, "node %u %s term %llu", i + 1,
			      st == RAFT_LEADER ? "leader" :
			      st == RAFT_CANDIDATE ? "candidate" :
			      st == RAFT_FOLLOWER ? "follower" : "unavailable",
			      (unsigned long long)r->current_term);
			nd->last_state = st;
			nd->last_term = r->current_term;
		}
		if (down(s, i) || st != RAFT_LEADER || nd->barrier_pending ||
		    nd->barrier_term == r->current_term ||
		    nd->ready_term == r->current_term)
			continue;
		nd->barrier.data = nd;
		if (raft_barrier(r, &nd->barrier, on_barrier) == 0) {
			nd->barrier_pending = true;
			nd->barrier_term = r->current_term;
		}
	}
}

static void run_for(struct sim *s, unsigned ms)
{
	raft_time end = s->f.time + ms;
	while (s->f.time < end && !s->fail[0]) {
		struct raft_fixture_event *ev = raft_fixture_step(&s->f);
		s->steps++;
		if (s->trace)
			trace(s, "step %llu: node %u %s",
			      (unsigned long long)s->steps, ev->server_index + 1,
			      ev->type == RAFT_FIXTURE_TICK ? "tick" :
			      ev->type == RAFT_FIXTURE_NETWORK ? "network" :
			      ev->type == RAFT_FIXTURE_DISK ? "disk" : "work");
		after_step(s);
	}
}

/* ---- proposals ---- */

static void on_applied(struct raft_apply *req, int status, void *result)
{
	(void)result;
	struct prop *p = req->data;
	struct sim *s = g_sim;
	assert(p->used);
	p->used = false;
	if (status != 0) {
		s->lost++;
		trace(s, "proposal %s on node %u: %s", p->what, p->node + 1,
		      raft_strerror(status));
		return;
	}
	s->committed++;
	uint64_t index = req->index;
	struct idx_rec *r = idx_at(s, index);
	if (r->entry_hash != p->hash)
		violation(s, "proposal %s reported applied at index %llu, "
			  "which holds other bytes", p->what,
			  (unsigned long long)index);
	if (s->n_acked == s->acked_cap) {
		size_t cap = s->acked_cap ? s->acked_cap * 2 : 256;
		struct acked *a = realloc(s->acked, cap * sizeof(*a));
		if (!a)
			abort();
		s->acked = a;
		s->acked_cap = cap;
	}
	s->acked[s->n_acked++] = (struct acked){ index, p->hash };
	trace(s, "proposal %s applied at %llu", p->what,
	      (unsigned long long)index);
}

static void propose(struct sim *s, unsigned leader, const struct sl_ci_batch *b,
		    const char *what)
{
	struct prop *p = NULL;
	for (unsigned k = 0; k < PROPS_MAX && !p; k++)
		if (!s->props[k].used)
			p = &s->props[k];
	if (!p) {
		trace(s, "proposal %s: too many in flight", what);
		return;
	}
	struct raft_buffer buf;
	buf.len = sl_quorum_entry_size(b->len);
	buf.base = raft_malloc(buf.len);
	if (!buf.base)
		abort();
	sl_quorum_entry_encode(buf.base, b->buf, b->len);
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->node = leader;
	p->hash = hash_bytes(buf.base, buf.len);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->req.data = p;
	int rc = raft_apply(raft_of(s, leader), &p->req, &buf, 1, on_applied);
	if (rc != 0) {
		raft_free(buf.base);
		p->used = false;
		trace(s, "proposal %s on node %u: %s", what, leader + 1,
		      raft_strerror(rc));
		return;
	}
	s->proposed++;
	trace(s, "propose %s on node %u at %llu: %016llx", what, leader + 1,
	      (unsigned long long)p->req.index, (unsigned long long)p->hash);
}

/* ---- the controller's decisions ---- */

static int32_t rnd_broker(struct sim *s)
{
	return (int32_t)tl_rng_range(&s->rng, 1, s->brokers);
}

/* A random partition of img: 0 when it has none. */
static int rnd_partition(struct sim *s, const struct sl_ci_image *img,
			 const struct sl_ci_topic **t, int32_t *p)
{
	if (!img->meta.count)
		return 0;
	*t = &img->topics[tl_rng_below(&s->rng, img->meta.count)];
	*p = (int32_t)tl_rng_below(&s->rng, (uint64_t)(*t)->partitions);
	return 1;
}

/* One decision on img appended to b; what it was into what.  Returns
 * 0 (records appended, maybe none), > 0 refused, < 0 a failure. */
static int decide(struct sim *s, const struct sl_ci_image *img,
		  struct sl_ci_batch *b, char *what, size_t whatlen)
{
	struct tl_rng *g = &s->rng;
	char msg[256];
	int32_t id = rnd_broker(s);
	/* brokers first: a cluster with none does little */
	uint64_t pick = img->broker_count < s->brokers &&
			tl_rng_below(g, 2) ? 0 : tl_rng_below(g, 18);
	switch (pick) {
	case 0: case 1: {
		char host[16];
		int n = snprintf(host, sizeof(host), "b%d.sim", (int)id);
		if (tl_rng_below(g, 4) == 0)
			s->incarnation[id]++; /* the broker restarted */
		snprintf(what, whatlen, "register %d/%llu", (int)id,
			 (unsigned long long)s->incarnation[id]);
		return sl_ci_register_broker(img, id, s->incarnation[id], host,
					     (size_t)n,
					     (uint16_t)(9000 + id),
					     (uint16_t)(9100 + id), b, msg,
					     sizeof(msg));
	}
	case 2: case 3: case 4:
		snprintf(what, whatlen, "unfence %d", (int)id);
		return sl_ci_unfence_broker(img, id, b, msg, sizeof(msg));
	case 5:
		snprintf(what, whatlen, "fence %d", (int)id);
		return sl_ci_fence_broker(img, id, b, msg, sizeof(msg));
	case 6: case 7: {
		char name[8];
		snprintf(name, sizeof(name), "t%u",
			 (unsigned)tl_rng_below(g, TOPIC_NAMES));
		struct sl_ci_topic_req q;
		memset(&q, 0, sizeof(q));
		q.name = name;
		q.name_len = strlen(name);
		q.partitions = (int32_t)tl_rng_range(g, 1, 4);
		q.replication_factor = (int32_t)tl_rng_range(g, 1, 3);
		q.default_partitions = 3;
		q.default_replication_factor = 1;
		q.config.retention_ms = -1;
		q.config.retention_bytes = -1;
		q.config.segment_bytes = 1 << 26;
		q.min_insync_replicas = (int32_t)tl_rng_range(g, 1, 2);
		q.unclean_leader_election = tl_rng_below(g, 5) == 0;
		q.start = (uint32_t)tl_rng_next(g);
		q.shift = (uint32_t)tl_rng_next(g);
		struct sl_ci_assignment as[4];
		int32_t ids[4][3];
		if (tl_rng_below(g, 6) == 0) {
			/* a manual assignment, any registered or not */
			for (int32_t k = 0; k < q.partitions; k++) {
				as[k].partition = k;
				as[k].count = q.replication_factor;
				as[k].broker_ids = ids[k];
				for (int32_t j = 0; j < as[k].count; j++)
					ids[k][j] = rnd_broker(s);
			}
			q.assignment = as;
			q.assignment_count = q.partitions;
			q.partitions = -1;
			q.replication_factor = -1;
		}
		snprintf(what, whatlen, "create %s%s", name,
			 q.assignment ? " (assigned)" : "");
		return sl_ci_create_topic(img, &q, b, msg, sizeof(msg));
	}
	case 8: {
		char name[8];
		snprintf(name, sizeof(name), "t%u",
			 (unsigned)tl_rng_below(g, TOPIC_NAMES));
		snprintf(what, whatlen, "delete %s", name);
		return sl_ci_delete_topic(img, name, strlen(name), b, msg,
					  sizeof(msg));
	}
	case 9: case 10: case 11: case 12: {
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "alter isr (no topic)");
			return 1;
		}
		const struct sl_ci_partition *x = &img->parts[t->part_first +
							      (uint32_t)p];
		int32_t from = tl_rng_below(g, 8) ? x->leader : id;
		int32_t le = x->leader_epoch, pe = x->partition_epoch;
		uint64_t stale = tl_rng_below(g, 10);
		if (stale == 0)
			pe = pe > 0 ? pe - 1 : pe + 1;
		else if (stale == 1)
			le = le + 1;
		int32_t isr[SL_CI_RF_MAX];
		int32_t n = 0;
		for (unsigned j = 0; j < x->replica_count; j++)
			if (x->replicas[j] == x->leader || tl_rng_below(g, 3))
				isr[n++] = x->replicas[j];
		snprintf(what, whatlen, "alter isr %u/%d%s", t->id, (int)p,
			 stale < 2 ? " (stale)" : "");
		return sl_ci_alter_isr(img, t->id, p, from, le, pe, isr, n, b,
				       msg, sizeof(msg));
	}
	case 13: {
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "elect (no topic)");
			return 1;
		}
		snprintf(what, whatlen, "elect %u/%d", t->id, (int)p);
		return sl_ci_elect_preferred(img, t->id, p, b, msg,
					     sizeof(msg));
	}
	case 14: {
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "partitions (no topic)");
			return 1;
		}
		const struct sl_topic *m = sl_ci_topic_meta(img, t);
		snprintf(what, whatlen, "partitions %.16s", m->name);
		return sl_ci_create_partitions(img, m->name, m->name_len,
			t->partitions + (int32_t)tl_rng_range(g, 1, 2), NULL,
			0, (uint32_t)tl_rng_next(g), (uint32_t)tl_rng_next(g),
			b, msg, sizeof(msg));
	}
	case 16: {
		/* a move to 1..3 brokers (any, registered or not, twice),
		 * or a cancel */
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "reassign (no topic)");
			return 1;
		}
		int32_t target[3];
		int32_t n = (int32_t)tl_rng_range(g, 1, 3);
		for (int32_t j = 0; j < n; j++)
			target[j] = rnd_broker(s);
		int cancel = tl_rng_below(g, 5) == 0;
		snprintf(what, whatlen, "reassign %u/%d%s", t->id, (int)p,
			 cancel ? " (cancel)" : "");
		return sl_ci_reassign(img, t->id, p, cancel ? NULL : target,
				      cancel ? -1 : n, 1, b, msg,
				      sizeof(msg));
	}
	case 17: {
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "end reassignment (no topic)");
			return 1;
		}
		snprintf(what, whatlen, "end reassignment %u/%d", t->id,
			 (int)p);
		return sl_ci_reassign_complete(img, t->id, p, b, msg,
					       sizeof(msg));
	}
	default: {
		const struct sl_ci_topic *t;
		int32_t p;
		if (!rnd_partition(s, img, &t, &p)) {
			snprintf(what, whatlen, "config (no topic)");
			return 1;
		}
		const struct sl_topic *m = sl_ci_topic_meta(img, t);
		struct sl_topic cfg = *m;
		cfg.retention_ms = (int64_t)tl_rng_below(g, 100000);
		snprintf(what, whatlen, "config %.16s", m->name);
		return sl_ci_alter_topic_config(img, m->name, m->name_len,
			&cfg, (int32_t)tl_rng_range(g, 1, 2),
			(uint8_t)tl_rng_below(g, 2), b, msg, sizeof(msg));
	}
	}
}

/* The controller: a few decisions on the ready leader, each its own
 * entry or (sometimes) two in one. */
static void client(struct sim *s)
{
	unsigned leader = s->n;
	for (unsigned i = 0; i < s->n; i++)
		if (ready(s, i))
			leader = i;
	if (leader == s->n) {
		trace(s, "client: no ready leader");
		return;
	}
	/* mostly the leader's image; now and then a lagging node's, as a
	 * controller that decided before it caught up */
	unsigned on = leader;
	if (tl_rng_below(&s->rng, 8) == 0)
		on = (unsigned)tl_rng_below(&s->rng, s->n);
	const struct sl_ci_image *img = s->nodes[on].img;
	unsigned entries = (unsigned)tl_rng_range(&s->rng, 1, 3);
	for (unsigned e = 0; e < entries; e++) {
		struct sl_ci_batch b;
		if (sl_ci_batch_init(&b, s->entry_buf, ENTRY_CAP) != 0)
			abort();
		unsigned decisions = tl_rng_below(&s->rng, 5) == 0 ? 2 : 1;
		char what[112] = "", one[48];
		for (unsigned d = 0; d < decisions; d++) {
			int rc = decide(s, img, &b, one, sizeof(one));
			if (rc < 0) {
				violation(s, "decision %s on node %u's image: "
					  "%d", one, on + 1, rc);
				return;
			}
			if (rc > 0)
				s->refused_decisions++;
			trace(s, "decide %s on node %u: %s", one, on + 1,
			      rc ? "refused" : "ok");
			if (rc == 0)
				snprintf(what + strlen(what),
					 sizeof(what) - strlen(what), "%s%s",
					 what[0] ? "+" : "", one);
		}
		if (b.count > 0)
			propose(s, leader, &b, what);
	}
}

/* ---- faults ---- */

static unsigned count_down(const struct sim *s)
{
	unsigned k = 0;
	for (unsigned i = 0; i < s->n; i++)
		k += down(s, i) || s->nodes[i].crashing;
	return k;
}

static void heal_network(struct sim *s)
{
	memset(s->cut, 0, sizeof(s->cut));
	apply_links(s);
	trace(s, "heal network");
}

static void fault(struct sim *s)
{
	struct tl_rng *g = &s->rng;
	unsigned i = (unsigned)tl_rng_below(g, s->n);
	unsigned j = (unsigned)tl_rng_below(g, s->n);
	struct node *nd = &s->nodes[i];
	switch (tl_rng_below(g, 10)) {
	case 0: /* cut one node off */
		for (unsigned k = 0; k < s->n; k++)
			s->cut[i][k] = s->cut[k][i] = k != i;
		apply_links(s);
		s->partitions++;
		trace(s, "isolate node %u", i + 1);
		break;
	case 1: { /* split in two */
		bool side[NODES_MAX];
		for (unsigned k = 0; k < s->n; k++)
			side[k] = tl_rng_below(g, 2);
		for (unsigned a = 0; a < s->n; a++)
			for (unsigned b = 0; b < s->n; b++)
				s->cut[a][b] = side[a] != side[b];
		apply_links(s);
		s->partitions++;
		trace(s, "split network");
		break;
	}
	case 2: /* one way */
		if (i != j) {
			s->cut[i][j] = true;
			apply_links(s);
			s->partitions++;
			trace(s, "cut %u -> %u", i + 1, j + 1);
		}
		break;
	case 3: case 4:
		heal_network(s);
		break;
	case 5: /* pause or resume */
		if (nd->paused) {
			nd->paused = false;
			set_alive(s, i);
			trace(s, "resume node %u", i + 1);
		} else if (!nd->crashing && !nd->down_crashed &&
			   count_down(s) < (s->n - 1) / 2) {
			nd->paused = true;
			s->pauses++;
			set_alive(s, i);
			trace(s, "pause node %u", i + 1);
		}
		break;
	case 6: /* crash, or bring a crashed node back */
		if (nd->down_crashed && !nd->crashing) {
			nd->down_crashed = false;
			set_alive(s, i);
			trace(s, "revive node %u", i + 1);
		} else if (!nd->paused && !nd->down_crashed &&
			   count_down(s) < (s->n - 1) / 2) {
			crash(s, i);
		}
		break;
	case 7: {
		unsigned ms = (unsigned)tl_rng_range(g, 1, 120);
		raft_fixture_set_network_latency(&s->f, i, ms);
		nd->net_latency_ms = ms;
		trace(s, "latency of node %u: %u ms", i + 1, ms);
		break;
	}
	case 8: { /* leadership transfer */
		struct raft *r = raft_of(s, i);
		if (down(s, i) || nd->crashing || nd->transfer_pending ||
		    raft_state(r) != RAFT_LEADER)
			break;
		nd->transfer.data = nd;
		raft_id to = i == j ? 0 : (raft_id)(j + 1);
		int rc = raft_transfer(r, &nd->transfer, to, on_transfer);
		if (rc == 0) {
			nd->transfer_pending = true;
			s->transfers++;
		}
		trace(s, "transfer from node %u to %llu: %s", i + 1,
		      (unsigned long long)to, rc ? raft_strerror(rc) : "ok");
		break;
	}
	default: /* revive everything down */
		for (unsigned k = 0; k < s->n; k++) {
			if (s->nodes[k].crashing)
				continue;
			if (s->nodes[k].paused || s->nodes[k].down_crashed) {
				s->nodes[k].paused = false;
				s->nodes[k].down_crashed = false;
				set_alive(s, k);
				trace(s, "revive node %u", k + 1);
			}
		}
		break;
	}
}

/* ---- one seed ---- */

static struct sl_ci_image *img_alloc(void)
{
	struct sl_ci_image *img = malloc(sizeof(*img));
	if (!img)
		abort();
	sl_ci_init(img);
	return img;
}

static bool converged(struct sim *s, uint64_t *last)
{
	unsigned l = s->n;
	for (unsigned i = 0; i < s->n; i++)
		if (ready(s, i))
			l = i;
	if (l == s->n)
		return false;
	struct raft *lr = raft_of(s, l);
	if (lr->commit_index != raft_last_index(lr) ||
	    lr->last_applied != lr->commit_index)
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		struct raft *r = raft_of(s, i);
		if (r->last_applied != lr->last_applied ||
		    raft_last_index(r) != raft_last_index(lr))
			return false;
	}
	*last = lr->last_applied;
	return true;
}

/*
 * libraft 0.15 answers a heartbeat whose previous entry matches with its
 * own last stored index (recv_append_entries.c: "last_log_index =
 * r->last_stored"), not with the last index it checked against the
 * leader.  A follower holding an uncommitted entry of an older term past
 * that point is then counted as matching the leader's different entry at
 * the same index: the leader commits its entry on the strength of it, and
 * ignores the follower's later rejections ("match index is up to date"),
 * so the follower never catches up.  This says whether the cluster is
 * stuck that way: a ready leader, and a follower whose next entry after
 * its commit index has another term than the leader's.
 */
static bool wedged_by_libraft(struct sim *s)
{
	unsigned l = s->n;
	for (unsigned i = 0; i < s->n; i++)
		if (ready(s, i))
			l = i;
	if (l == s->n)
		return false;
	struct raft *lr = raft_of(s, l);
	for (unsigned i = 0; i < s->n; i++) {
		struct raft *r = raft_of(s, i);
		if (i == l || r->commit_index >= lr->commit_index)
			continue;
		for (raft_index k = r->commit_index + 1;
		     k <= raft_last_index(r); k++)
			if (term_at(r, k) != term_at(lr, k))
				return true;
	}
	return false;
}

/* Heal, run until every node applied the same last index, compare. */
static void finish(struct sim *s)
{
	for (unsigned k = 0; k < s->n; k++) {
		raft_fixture_set_network_latency(&s->f, k, 15);
		raft_fixture_set_randomized_election_timeout(&s->f, k,
			ELECTION_MS + 150 * k);
	}
	raft_time end = s->f.time + HEAL_MS_MAX;
	uint64_t last = 0;
	while (!s->fail[0] && s->f.time < end) {
		bool pending = false;
		for (unsigned k = 0; k < s->n; k++) {
			struct node *nd = &s->nodes[k];
			pending |= nd->crashing;
			if (!nd->crashing && (nd->paused || nd->down_crashed)) {
				nd->paused = nd->down_crashed = false;
				set_alive(s, k);
			}
		}
		memset(s->cut, 0, sizeof(s->cut));
		apply_links(s);
		if (!pending && converged(s, &last))
			break;
		run_for(s, 50);
	}
	if (s->fail[0])
		return;
	if (s->f.time >= end && wedged_by_libraft(s)) {
		s->wedged = true;
		trace(s, "wedged: libraft 0.15 counts a follower's unverified "
		      "entries as matching the leader's");
		return;
	}
	if (s->f.time >= end) {
		char nodes[512] = "";
		for (unsigned i = 0; i < s->n; i++) {
			struct raft *r = raft_of(s, i);
			size_t k = strlen(nodes);
			snprintf(nodes + k, sizeof(nodes) - k,
				 "; node %u: state %d term %llu commit %llu "
				 "applied %llu last %llu stored %llu pending %u%s", i + 1,
				 raft_state(r),
				 (unsigned long long)r->current_term,
				 (unsigned long long)r->commit_index,
				 (unsigned long long)r->last_applied,
				 (unsigned long long)raft_last_index(r),
				 (unsigned long long)r->last_stored,
				 s->nodes[i].pending,
				 s->nodes[i].crashing ? " crashing" : "");
		}
		violation(s, "no convergence within %d ms of healing%s",
			  HEAL_MS_MAX, nodes);
		return;
	}
	trace(s, "converged at index %llu", (unsigned long long)last);
	uint64_t h0 = image_hash(s, s->nodes[0].img);
	for (unsigned i = 0; i < s->n; i++) {
		const struct sl_ci_image *img = s->nodes[i].img;
		if (raft_of(s, i)->last_applied != last)
			violation(s, "node %u applied %llu, not %llu", i + 1,
				  (unsigned long long)raft_of(s, i)->last_applied,
				  (unsigned long long)last);
		if (image_hash(s, img) != h0)
			violation(s, "node %u's image differs from node 1's at "
				  "the end", i + 1);
	}
	for (size_t k = 0; k < s->n_acked; k++) {
		const struct acked *a = &s->acked[k];
		if (a->index > last || idx_at(s, a->index)->entry_hash !=
		    a->hash)
			violation(s, "proposal applied at %llu lost or "
				  "replaced (the log ends at %llu)",
				  (unsigned long long)a->index,
				  (unsigned long long)last);
	}
}

/* One seed from start to teardown.  Returns 0, or -1 with s->fail. */
static int run_seed(struct sim *s, uint64_t seed)
{
	s->seed = seed;
	tl_rng_init(&s->rng, tl_mix(seed ^ 0x51c0a11ce5eedull));
	s->fail[0] = 0;
	s->mutant_fired = false;
	s->mutant_countdown = (uint64_t)tl_rng_range(&s->rng, 1, 6);
	s->n = tl_rng_below(&s->rng, 2) ? 5 : 3;
	s->brokers = (unsigned)tl_rng_range(&s->rng, 3, BROKERS_MAX);
	static const unsigned thresholds[] = { 8, 16, 32, 128 };
	static const unsigned trailings[] = { 2, 8, 32 };
	s->threshold = thresholds[tl_rng_below(&s->rng, 4)];
	s->trailing = trailings[tl_rng_below(&s->rng, 3)];
	memset(s->incarnation, 0, sizeof(s->incarnation));
	memset(s->cut, 0, sizeof(s->cut));
	memset(s->props, 0, sizeof(s->props));
	if (s->idx)
		memset(s->idx, 0, s->idx_cap * sizeof(*s->idx));
	s->n_acked = 0;
	s->n_infl = 0;
	s->proposed = s->committed = s->lost = s->refused_decisions = 0;
	s->crashes = s->pauses = s->partitions = s->transfers = 0;
	s->steps = 0;
	s->wedged = false;
	s->replies_fixed = 0;
	s->replies_covered = 0;
	sl_ci_init(s->hist);
	snprintf(g_crash_msg, sizeof(g_crash_msg),
		 "\ncluster_sim: seed %llu crashed; replay: SLUICE_SIM_SEED="
		 "%llu %s\n", (unsigned long long)seed,
		 (unsigned long long)seed, g_argv0);

	memset(&s->f, 0, sizeof(s->f));
	raft_fixture_initialize(&s->f);
	for (unsigned i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		struct sl_ci_image *img = nd->img, *before = nd->before;
		memset(nd, 0, sizeof(*nd));
		nd->i = i;
		nd->img = img;
		nd->before = before;
		sl_ci_init(nd->img);
		nd->fsm.version = 2;
		nd->fsm.data = nd;
		nd->fsm.apply = fsm_apply;
		nd->fsm.snapshot = fsm_snapshot;
		nd->fsm.restore = fsm_restore;
		nd->fsm.snapshot_finalize = fsm_snapshot_finalize;
		nd->fsm.snapshot_async = NULL;
		nd->last_state = -1;
		if (raft_fixture_grow(&s->f, &nd->fsm) != 0)
			abort();
		raft_settings(s, raft_of(s, i));
		unsigned lat = (unsigned)tl_rng_range(&s->rng, 2, 40);
		raft_fixture_set_network_latency(&s->f, i, lat);
		nd->net_latency_ms = lat;
		raft_fixture_set_disk_latency(&s->f, i,
			(unsigned)tl_rng_range(&s->rng, 1, 25));
	}
	struct raft_configuration conf;
	if (raft_fixture_configuration(&s->f, s->n, &conf) != 0 ||
	    raft_fixture_bootstrap(&s->f, &conf) != 0)
		abort();
	raft_configuration_close(&conf);
	for (unsigned i = 0; i < s->n; i++)
		wrap_io(&s->nodes[i], &s->f.servers[i].io);
	if (raft_fixture_start(&s->f) != 0)
		abort();
	trace(s, "seed %llu: %u nodes, %u brokers, snapshot every %u "
	      "trailing %u", (unsigned long long)seed, s->n, s->brokers,
	      s->threshold, s->trailing);

	unsigned rounds = (unsigned)tl_rng_range(&s->rng, ROUNDS_MIN,
						 ROUNDS_MAX);
	for (unsigned round = 0; round < rounds && !s->fail[0]; round++) {
		for (unsigned i = 0; i < s->n; i++)
			raft_fixture_set_randomized_election_timeout(&s->f, i,
				(unsigned)tl_rng_range(&s->rng, ELECTION_MS,
						       2 * ELECTION_MS - 1));
		if (tl_rng_below(&s->rng, 3) == 0)
			fault(s);
		else
			client(s);
		run_for(s, (unsigned)tl_rng_range(&s->rng, 10, 700));
	}
	if (!s->fail[0])
		finish(s);
	trace(s, "heartbeat replies fixed: %llu, rejections answered by the "
	      "follower's snapshot: %llu%s",
	      (unsigned long long)s->replies_fixed,
	      (unsigned long long)s->replies_covered,
	      s->raw_libraft ? " (raw libraft: none)" : "");
	if (s->trace)
		trace(s, "seed %llu: %llu steps, %llu proposed, %llu applied, "
		      "%llu lost, %llu decisions refused, %llu crashes, %llu "
		      "pauses, %llu partitions, %llu transfers%s%s",
		      (unsigned long long)seed, (unsigned long long)s->steps,
		      (unsigned long long)s->proposed,
		      (unsigned long long)s->committed,
		      (unsigned long long)s->lost,
		      (unsigned long long)s->refused_decisions,
		      (unsigned long long)s->crashes,
		      (unsigned long long)s->pauses,
		      (unsigned long long)s->partitions,
		      (unsigned long long)s->transfers,
		      s->fail[0] ? ", FAILED: " : "", s->fail);

	/* teardown: the fixture completes what is in flight, then closes */
	for (unsigned i = 0; i < s->n; i++)
		if (s->nodes[i].crashing && s->nodes[i].pending == 0)
			restart(s, i);
	raft_fixture_close(&s->f);
	for (unsigned i = 0; i < s->n; i++)
		disk_free(&s->nodes[i].disk);
	if (s->n_infl != 0) {
		fprintf(stderr, "seed %llu: %u requests left in flight\n",
			(unsigned long long)seed, s->n_infl);
		abort();
	}
	return s->fail[0] ? -1 : 0;
}

/* ---- the cases ---- */

static void on_fatal(int sig)
{
	ssize_t w = write(2, g_crash_msg, strlen(g_crash_msg));
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end)
		fail_msg("%s=%s is not a number", name, v);
	return x;
}

static struct sim *sim_create(void)
{
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->raw_libraft = env_u64("SLUICE_SIM_RAW_LIBRAFT", 0) != 0;
	for (unsigned i = 0; i < NODES_MAX; i++) {
		s->nodes[i].img = img_alloc();
		s->nodes[i].before = img_alloc();
	}
	s->hist = img_alloc();
	s->entry_buf = malloc(ENTRY_CAP);
	s->snap_buf = malloc(SNAP_CAP);
	if (!s->entry_buf || !s->snap_buf)
		abort();
	g_sim = s;
	signal(SIGABRT, on_fatal);
	signal(SIGSEGV, on_fatal);
	return s;
}

static void sim_destroy(struct sim *s)
{
	for (unsigned i = 0; i < NODES_MAX; i++) {
		free(s->nodes[i].img);
		free(s->nodes[i].before);
	}
	free(s->hist);
	free(s->entry_buf);
	free(s->snap_buf);
	free(s->idx);
	free(s->acked);
	free(s);
	g_sim = NULL;
	signal(SIGABRT, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mutant_env(void)
{
	const char *m = getenv("SLUICE_SIM_MUTANT");
	return m && *m && strcmp(m, "0") != 0;
}

static void test_seeds(void **state)
{
	(void)state;
	struct sim *s = sim_create();
	const char *one = getenv("SLUICE_SIM_SEED");
	if (one && *one) {
		uint64_t seed = env_u64("SLUICE_SIM_SEED", 0);
		s->trace = true;
		s->mutant = mutant_env();
		int rc = run_seed(s, seed);
		char fail[sizeof(s->fail)];
		snprintf(fail, sizeof(fail), "%s", s->fail);
		sim_destroy(s);
		if (rc)
			fail_msg("seed %llu: %s", (unsigned long long)seed,
				 fail);
		return;
	}
	bool long_run = tl_long();
	uint64_t seeds = env_u64("SLUICE_SIM_SEEDS",
				 long_run ? SEEDS_LONG : SEEDS_CI);
	double budget = (double)env_u64("SLUICE_SIM_BUDGET_S",
					long_run ? BUDGET_LONG_S :
						   BUDGET_CI_S);
	bool strict = env_u64("SLUICE_SIM_STRICT", 0) != 0;
	bool keep_going = env_u64("SLUICE_SIM_KEEP_GOING", 0) != 0;
	double t0 = now_s();
	uint64_t ran = 0, steps = 0, applied = 0, wedged = 0, failed = 0;
	uint64_t first_wedged = 0, covered = 0, covered_seeds = 0;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		if (now_s() - t0 > budget) {
			printf("cluster_sim: time budget of %.0f s reached: %llu "
			       "of %llu seeds ran\n", budget,
			       (unsigned long long)ran,
			       (unsigned long long)seeds);
			break;
		}
		int rc = run_seed(s, seed);
		if (s->wedged) {
			wedged++;
			first_wedged = first_wedged ? first_wedged : seed;
			if (strict && !rc) {
				rc = -1;
				snprintf(s->fail, sizeof(s->fail), "wedged by "
					 "libraft 0.15's heartbeat reply");
			}
		}
		if (rc != 0 && keep_going) {
			printf("cluster_sim: seed %llu failed: %s\n",
			       (unsigned long long)seed, s->fail);
			failed++;
		} else if (rc != 0) {
			char fail[sizeof(s->fail)];
			snprintf(fail, sizeof(fail), "%s", s->fail);
			sim_destroy(s);
			printf("cluster_sim: seed %llu failed: %s\n"
			       "replay: SLUICE_SIM_SEED=%llu %s\n",
			       (unsigned long long)seed, fail,
			       (unsigned long long)seed, g_argv0);
			fail_msg("seed %llu: %s (replay: SLUICE_SIM_SEED=%llu "
				 "%s)", (unsigned long long)seed, fail,
				 (unsigned long long)seed, g_argv0);
		}
		ran++;
		steps += s->steps;
		applied += s->committed;
		covered += s->replies_covered;
		covered_seeds += s->replies_covered != 0;
		if (long_run && ran % 1000 == 0)
			printf("cluster_sim: %llu seeds, %.1f s\n",
			       (unsigned long long)ran, now_s() - t0);
	}
	double dt = now_s() - t0;
	printf("cluster_sim: %llu seeds in %.1f s (%.1f seeds/s), %llu "
	       "steps, %llu proposals applied\n", (unsigned long long)ran, dt,
	       dt > 0 ? (double)ran / dt : 0.0, (unsigned long long)steps,
	       (unsigned long long)applied);
	printf("cluster_sim: %llu rejections answered by a follower's "
	       "snapshot (control/raft_reply.h), in %llu seeds\n",
	       (unsigned long long)covered, (unsigned long long)covered_seeds);
	if (wedged)
		printf("cluster_sim: %llu seeds (the first %llu) ended wedged "
		       "by libraft 0.15's heartbeat reply (see "
		       "wedged_by_libraft; SLUICE_SIM_STRICT=1 fails them)\n",
		       (unsigned long long)wedged,
		       (unsigned long long)first_wedged);
	sim_destroy(s);
	if (failed)
		fail_msg("%llu seeds failed", (unsigned long long)failed);
}

/* The checker must be able to fail: node 1's state machine skips one
 * entry that it applied (its image keeps the state before it); every
 * seed must end with a violation. */
static void test_mutant(void **state)
{
	(void)state;
	struct sim *s = sim_create();
	s->mutant = 1;
	unsigned caught = 0, tried = 0;
	for (uint64_t seed = 1; seed <= MUTANT_SEEDS; seed++) {
		int rc = run_seed(s, seed);
		if (!s->mutant_fired)
			continue; /* node 1 never applied enough */
		tried++;
		if (rc == 0) {
			sim_destroy(s);
			fail_msg("mutant not caught by seed %llu (replay: "
				 "SLUICE_SIM_MUTANT=1 SLUICE_SIM_SEED=%llu "
				 "%s)", (unsigned long long)seed,
				 (unsigned long long)seed, g_argv0);
		}
		caught++;
		printf("cluster_sim mutant: seed %llu caught: %s\n",
		       (unsigned long long)seed, s->fail);
	}
	sim_destroy(s);
	if (tried < MUTANT_SEEDS / 2)
		fail_msg("the mutant fired in %u of %d seeds only", tried,
			 MUTANT_SEEDS);
	printf("cluster_sim mutant: caught in %u of %u seeds\n", caught,
	       tried);
}

int main(int argc, char **argv)
{
	(void)argc;
	g_argv0 = argv[0];
	const char *one = getenv("SLUICE_SIM_SEED");
	if ((!one || !*one) && mutant_env()) {
		const struct CMUnitTest mutant[] = {
			cmocka_unit_test(test_mutant),
		};
		return cmocka_run_group_tests(mutant, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
