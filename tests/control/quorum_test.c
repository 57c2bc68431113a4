/*
 * The metadata log's Raft node (control/quorum.c): three real nodes in
 * this process on loopback (raft_uv_tcp, raft_uv on disk under the build
 * dir), driven by one poll() loop as sluice-control drives its own.
 *
 *   elect_and_replicate  one leader, everyone agrees on it; 100 entries
 *                        apply in the same order on all three (a running
 *                        hash); a follower refuses a proposal and names
 *                        the leader; the status tells the same, and the
 *                        leader's shows each voter's log end at its own
 *                        last index with recent reply and caught-up
 *                        times (a follower's: all unknown)
 *   failover_and_rejoin  the leader goes, another is elected and takes
 *                        entries; the old one comes back from its dir and
 *                        catches up by replaying its log
 *   snapshot_catch_up    with a small snapshot threshold a follower goes,
 *                        misses entries the leader snapshots away, comes
 *                        back: restores its own snapshot, then the
 *                        leader's, and ends in the same state
 *   membership           node 4 joins (created with join: no bootstrap,
 *                        waits), is added (a spare caught up, then a
 *                        voter) and holds every entry; adding it again,
 *                        removing an unknown id, a second change at once
 *                        refused; the leader removes itself and is
 *                        stopped, a second original voter too: the two
 *                        left of three voters elect and commit; the
 *                        removed node's dir refuses to start it
 *   single_voter_dir     a one-voter cluster leads itself; its dir refuses
 *                        another address or another node id
 *   apply_failure_stops  apply() fails: the node leaves, says so, and
 *                        its proposal hears it lost
 *   bad_config           what create refuses before touching anything
 *   envelopes            entries padded to 8 bytes and every flipped bit
 *                        refused, entries and snapshots
 *
 * Each wait is bounded (PHASE_MS of wall time and a count of passes).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker.h" /* tb_init: reserved ports and a temp dir */
#include "control/quorum.h"
#include "control/quorum_pvt.h"

#define NODES 4   /* three voters; membership adds a fourth */
#define PHASE_MS 10000
#define PASSES_MAX 200000

/* ---- the test state machine: a running hash and a count ---- */

struct sm {
	uint64_t hash, count, last_index;
	int order_errors;         /* an index not above the previous one */
	int restores;
	uint64_t restored_index;
	int fail_apply;           /* test hook: apply() fails */
	struct { uint64_t index; char head[24]; } seen[256]; /* for reports */
};

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static int sm_apply(void *ctx, const void *entry, size_t len, uint64_t index)
{
	struct sm *s = ctx;
	if (s->fail_apply)
		return -ENOMEM;
	if (index <= s->last_index)
		s->order_errors++;
	s->hash = mix(s->hash ? s->hash : 14695981039346656037ull, entry, len);
	if (s->count < 256) {
		s->seen[s->count].index = index;
		snprintf(s->seen[s->count].head, sizeof(s->seen[0].head), "%.*s",
			 (int)(len < 23 ? len : 23), (const char *)entry);
	}
	s->count++;
	s->last_index = index;
	return 0;
}

static int sm_snapshot(void *ctx, uint64_t index, void **buf, size_t *len)
{
	struct sm *s = ctx;
	(void)index;
	uint64_t *b = malloc(2 * sizeof(uint64_t));
	if (!b)
		return -ENOMEM;
	b[0] = s->hash;
	b[1] = s->count;
	*buf = b;
	*len = 2 * sizeof(uint64_t);
	return 0;
}

static int sm_restore(void *ctx, const void *buf, size_t len, uint64_t index)
{
	struct sm *s = ctx;
	if (len != 2 * sizeof(uint64_t))
		return -EINVAL;
	uint64_t b[2];
	memcpy(b, buf, sizeof(b));
	s->hash = b[0];
	s->count = b[1];
	s->last_index = index;
	s->restores++;
	s->restored_index = index;
	return 0;
}

/* ---- nodes and the cluster ---- */

struct node {
	struct tb tb;             /* port and dir */
	char dir[PATH_MAX];
	struct sl_quorum *q;
	struct sm sm;
	int32_t leader;           /* as leader_changed last said */
	bool self;
	int leader_events;
};

struct cluster {
	struct node n[NODES];
	unsigned count;
	unsigned boot;            /* voters a fresh dir bootstraps with (0:
				     count); later nodes join */
	struct sl_voter voters[NODES];
	uint32_t threshold, trailing;
};

static void on_leader(void *ctx, int32_t leader_id, bool self)
{
	struct node *n = ctx;
	n->leader = leader_id;
	n->self = self;
	n->leader_events++;
}

static void node_stop(struct node *n)
{
	sl_quorum_destroy(n->q);
	n->q = NULL;
}

/* The callbacks get the node; these pass its state machine on. */
static int node_apply(void *ctx, const void *e, size_t len, uint64_t index)
{
	return sm_apply(&((struct node *)ctx)->sm, e, len, index);
}

static int node_snapshot(void *ctx, uint64_t index, void **buf, size_t *len)
{
	return sm_snapshot(&((struct node *)ctx)->sm, index, buf, len);
}

static int node_restore(void *ctx, const void *buf, size_t len,
			uint64_t index)
{
	return sm_restore(&((struct node *)ctx)->sm, buf, len, index);
}

static void cluster_init(struct cluster *c, unsigned count,
			 uint32_t threshold, uint32_t trailing)
{
	memset(c, 0, sizeof(*c));
	c->count = count;
	c->threshold = threshold;
	c->trailing = trailing;
	for (unsigned i = 0; i < count; i++) {
		struct node *n = &c->n[i];
		assert_int_equal(tb_init(&n->tb, "quorum"), 0);
		snprintf(n->dir, sizeof(n->dir), "%s/raft", n->tb.dir);
		c->voters[i].id = (int32_t)(i + 1);
		snprintf(c->voters[i].host, sizeof(c->voters[i].host),
			 "127.0.0.1");
		c->voters[i].port = (uint16_t)n->tb.port;
	}
}

/* Start (or restart) node i with an empty state machine, as a process
 * that starts again would. */
static int start_node(struct cluster *c, unsigned i)
{
	char err[512] = "";
	struct node *n = &c->n[i];
	memset(&n->sm, 0, sizeof(n->sm));
	n->leader = -1;
	n->self = false;
	unsigned boot = c->boot ? c->boot : c->count;
	bool join = i >= boot;
	struct sl_quorum_config cfg = {
		.node_id = (int32_t)(i + 1),
		.dir = n->dir,
		.voters = c->voters,
		/* a joiner: the bootstrap voters and itself */
		.n_voters = join ? i + 1 : boot,
		.join = join,
		.apply = node_apply,
		.snapshot = node_snapshot,
		.restore = node_restore,
		.leader_changed = on_leader,
		.ctx = n,
		.snapshot_threshold = c->threshold,
		.snapshot_trailing = c->trailing,
		.election_timeout_ms = 400,
		.heartbeat_timeout_ms = 50,
	};
	int rc = sl_quorum_create(&cfg, &n->q, err, sizeof(err));
	if (rc < 0)
		printf("node %u: %s\n", i + 1, err);
	return rc;
}

static void cluster_start(struct cluster *c)
{
	for (unsigned i = 0; i < c->count; i++)
		assert_int_equal(start_node(c, i), 0);
}

static void cluster_fini(struct cluster *c)
{
	for (unsigned i = 0; i < c->count; i++) {
		node_stop(&c->n[i]);
		tb_destroy(&c->n[i].tb, 0);
	}
}

/* One pass of the driver: poll every live node's descriptor with the
 * smallest of their timeouts (at most 10 ms), then give each a duty
 * cycle.  A node that fails is a test failure. */
static void pass(struct cluster *c)
{
	struct pollfd p[NODES];
	int timeout = 10;
	for (unsigned i = 0; i < c->count; i++) {
		struct sl_quorum *q = c->n[i].q;
		p[i].fd = q ? sl_quorum_fd(q) : -1;
		p[i].events = POLLIN;
		p[i].revents = 0;
		if (q) {
			int t = sl_quorum_timeout_ms(q);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
	}
	(void)poll(p, c->count, timeout);
	for (unsigned i = 0; i < c->count; i++) {
		if (!c->n[i].q)
			continue;
		int rc = sl_quorum_do_work(c->n[i].q);
		if (rc < 0)
			fail_msg("node %u stopped: %s (%s)", i + 1,
				 sl_quorum_strerror(rc),
				 sl_quorum_errmsg(c->n[i].q));
	}
}

typedef bool (*cond_fn)(struct cluster *c, void *arg);

/* Drive until cond holds; false after PHASE_MS or PASSES_MAX. */
static bool pump(struct cluster *c, cond_fn cond, void *arg)
{
	uint64_t end = tb_now_ms() + PHASE_MS;
	for (int i = 0; i < PASSES_MAX && tb_now_ms() < end; i++) {
		if (cond(c, arg))
			return true;
		pass(c);
	}
	return cond(c, arg);
}

/* Exactly one live node leads (caught up), and every live node names
 * it, in sl_quorum_leader and in its last leader_changed. */
static bool agreed_leader(struct cluster *c, void *arg)
{
	int *out = arg;
	int leader = -1, leaders = 0;
	for (unsigned i = 0; i < c->count; i++)
		if (c->n[i].q && sl_quorum_is_leader(c->n[i].q)) {
			leader = (int)i;
			leaders++;
		}
	if (leaders != 1)
		return false;
	for (unsigned i = 0; i < c->count; i++) {
		struct node *n = &c->n[i];
		int32_t id;
		if (!n->q || sl_quorum_joining(n->q))
			continue; /* a node not yet added knows no leader */
		assert_int_equal(sl_quorum_leader(n->q, &id), 0);
		if (id != leader + 1 || n->leader != leader + 1 ||
		    n->self != (i == (unsigned)leader))
			return false;
	}
	*out = leader;
	return true;
}

static int elect(struct cluster *c)
{
	int leader = -1;
	if (!pump(c, agreed_leader, &leader))
		fail_msg("no agreed leader within %d ms", PHASE_MS);
	printf("node %d leads\n", leader + 1);
	return leader;
}

/* ---- proposals ---- */

struct proposals {
	int done, ok, failed;
	int status_last;
	uint64_t index_last;
	int order_errors;
};

static void on_proposed(void *ctx, int status, uint64_t index)
{
	struct proposals *p = ctx;
	p->done++;
	p->status_last = status;
	if (status == 0) {
		p->ok++;
		if (index <= p->index_last)
			p->order_errors++;
		p->index_last = index;
	} else {
		p->failed++;
	}
}

struct want {
	struct proposals *p;
	int proposals;        /* all callbacks in */
	uint64_t count;       /* every live node applied this many */
};

static bool all_applied(struct cluster *c, void *arg)
{
	struct want *w = arg;
	if (w->p && w->p->done < w->proposals)
		return false;
	for (unsigned i = 0; i < c->count; i++)
		if (c->n[i].q && c->n[i].sm.count < w->count)
			return false;
	return true;
}

/* Propose n entries numbered from first on node leader, wait for their
 * callbacks and for every live node to hold `total` entries. */
static void propose_and_wait(struct cluster *c, int leader, int first, int n,
			     uint64_t total)
{
	struct proposals p = {0};
	for (int i = 0; i < n; i++) {
		char e[64];
		int len = snprintf(e, sizeof(e), "entry %d of the metadata log",
				   first + i);
		assert_int_equal(sl_quorum_propose(c->n[leader].q, e,
						   (size_t)len, on_proposed,
						   &p), 0);
	}
	struct want w = {&p, n, total};
	if (!pump(c, all_applied, &w))
		fail_msg("after %d ms: %d of %d proposals done, counts %llu "
			 "%llu %llu", PHASE_MS, p.done, n,
			 (unsigned long long)c->n[0].sm.count,
			 (unsigned long long)(c->count > 1 ? c->n[1].sm.count : 0),
			 (unsigned long long)(c->count > 2 ? c->n[2].sm.count : 0));
	assert_int_equal(p.ok, n);
	assert_int_equal(p.order_errors, 0);
	/* applied here by the time the callback ran */
	assert_true(sl_quorum_applied_index(c->n[leader].q) >= p.index_last);
}

/* Every live node holds the same state, applied in increasing order.
 * (last_index may differ: a restore sets it to the snapshot's index,
 * which can be a barrier's.) */
static void assert_same(struct cluster *c, uint64_t count)
{
	const struct sm *ref = NULL;
	for (unsigned i = 0; i < c->count; i++) {
		const struct sm *s = &c->n[i].sm;
		if (!c->n[i].q)
			continue;
		assert_int_equal(s->order_errors, 0);
		assert_int_equal(s->count, count);
		if (ref && ref->hash != s->hash) {
			for (uint64_t k = 0; k < count && k < 256; k++)
				printf("%3llu: %llu %-23s | %llu %s\n",
				       (unsigned long long)k,
				       (unsigned long long)ref->seen[k].index,
				       ref->seen[k].head,
				       (unsigned long long)s->seen[k].index,
				       s->seen[k].head);
		}
		if (ref)
			assert_int_equal(s->hash, ref->hash);
		ref = s;
	}
}

/* ---- tests ---- */

/* The leader's status shows every voter holding its last index, each
 * follower's reply and catch-up at or after *arg (wall clock ms). */
static bool voters_caught_up(struct cluster *c, void *arg)
{
	const int64_t *since = arg;
	int leader = -1;
	if (!agreed_leader(c, &leader))
		return false;
	struct sl_quorum_status st;
	sl_quorum_status(c->n[leader].q, &st);
	assert_int_equal(st.n_voters, c->count);
	for (unsigned i = 0; i < st.n_voters; i++) {
		const struct sl_quorum_voter *v = &st.voters[i];
		if (v->log_end != (int64_t)st.last_index ||
		    v->caught_up_ms < *since)
			return false;
		if (v->id == leader + 1)
			assert_int_equal(v->contact_ms, -1);
		else if (v->contact_ms < *since)
			return false;
	}
	return true;
}

static void test_elect_and_replicate(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 3, 0, 0);
	cluster_start(&c);
	int leader = elect(&c);

	propose_and_wait(&c, leader, 0, 100, 100);
	assert_same(&c, 100);

	/* a follower refuses and names the leader */
	int f = (leader + 1) % 3;
	struct proposals p = {0};
	assert_int_equal(sl_quorum_propose(c.n[f].q, "x", 1, on_proposed, &p),
			 SL_QUORUM_ENOTLEADER);
	int32_t id = 0;
	assert_int_equal(sl_quorum_leader(c.n[f].q, &id), 0);
	assert_int_equal(id, leader + 1);
	assert_false(sl_quorum_is_leader(c.n[f].q));
	/* bad proposals on the leader */
	assert_int_equal(sl_quorum_propose(c.n[leader].q, "x", 0, on_proposed,
					   &p), -EINVAL);
	static char big[SL_QUORUM_ENTRY_MAX + 1];
	assert_int_equal(sl_quorum_propose(c.n[leader].q, big, sizeof(big),
					   on_proposed, &p), -EMSGSIZE);
	assert_int_equal(p.done, 0);

	struct sl_quorum_status st;
	sl_quorum_status(c.n[leader].q, &st);
	assert_int_equal(st.node_id, leader + 1);
	assert_int_equal(st.role, SL_QUORUM_LEADER);
	assert_true(st.is_leader);
	assert_int_equal(st.leader_id, leader + 1);
	assert_true(st.term >= 1);
	assert_true(st.commit_index >= c.n[leader].sm.last_index);
	assert_true(st.applied_index >= c.n[leader].sm.last_index);
	assert_int_equal(st.n_voters, 3);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.proposed, 100);
	assert_int_equal(st.applied_ok, 100);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%u", c.voters[2].port);
	bool found = false;
	for (unsigned i = 0; i < st.n_voters; i++)
		if (st.voters[i].id == 3)
			found = !strcmp(st.voters[i].address, want);
	assert_true(found);
	/* the voters' replication as the leader sees it */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t since = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_true(pump(&c, voters_caught_up, &since));
	sl_quorum_status(c.n[f].q, &st);
	assert_int_equal(st.role, SL_QUORUM_FOLLOWER);
	assert_false(st.is_leader);
	assert_int_equal(st.leader_id, leader + 1);
	assert_string_equal(sl_quorum_role_name(st.role), "follower");
	for (unsigned i = 0; i < st.n_voters; i++)
		assert_true(st.voters[i].log_end == -1 &&
			    st.voters[i].contact_ms == -1 &&
			    st.voters[i].caught_up_ms == -1);
	cluster_fini(&c);
}

static bool new_leader(struct cluster *c, void *arg)
{
	int *io = arg, old = *io, l = -1;
	if (!agreed_leader(c, &l) || l == old)
		return false;
	*io = l;
	return true;
}

static void test_failover_and_rejoin(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 3, 0, 0);
	cluster_start(&c);
	int leader = elect(&c);
	propose_and_wait(&c, leader, 0, 20, 20);

	/* a proposal left in flight when the leader goes is cancelled */
	struct proposals p = {0};
	assert_int_equal(sl_quorum_propose(c.n[leader].q, "in flight", 9,
					   on_proposed, &p), 0);
	int old = leader;
	node_stop(&c.n[old]);
	assert_int_equal(p.done, 1);
	assert_int_equal(p.status_last, SL_QUORUM_ECANCELED);

	int l = old;
	if (!pump(&c, new_leader, &l))
		fail_msg("no new leader within %d ms", PHASE_MS);
	printf("node %d took over from node %d\n", l + 1, old + 1);
	/* the cancelled entry may or may not have been committed */
	uint64_t base = c.n[l].sm.count;
	assert_true(base == 20 || base == 21);
	propose_and_wait(&c, l, 20, 30, base + 30);
	assert_same(&c, base + 30);

	/* the old leader comes back from its dir and replays its log */
	assert_int_equal(start_node(&c, (unsigned)old), 0);
	struct want w = {NULL, 0, base + 30};
	if (!pump(&c, all_applied, &w))
		fail_msg("node %d did not catch up: %llu of %llu", old + 1,
			 (unsigned long long)c.n[old].sm.count,
			 (unsigned long long)(base + 30));
	assert_same(&c, base + 30);
	assert_int_equal(c.n[old].sm.restores, 0);
	int32_t id;
	assert_int_equal(sl_quorum_leader(c.n[old].q, &id), 0);
	if (id != -1)
		assert_int_equal(id, l + 1);
	cluster_fini(&c);
}

struct snap_wait {
	int node;
	uint64_t above;       /* snapshot index wanted above this */
};

/* libraft takes a snapshot after applying, and stores it in the
 * background: wait for one past a.above to be stored. */
static bool snapshot_past(struct cluster *c, void *arg)
{
	struct snap_wait *a = arg;
	struct sl_quorum_status st;
	sl_quorum_status(c->n[a->node].q, &st);
	return st.snapshots_taken > 0 && st.snapshot_index > a->above;
}

static void test_snapshot_catch_up(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 3, 16, 4);
	cluster_start(&c);
	int leader = elect(&c);
	propose_and_wait(&c, leader, 0, 40, 40);
	assert_same(&c, 40);
	struct snap_wait sw = {leader, 0};
	assert_true(pump(&c, snapshot_past, &sw));

	int f = (leader + 1) % 3;
	uint64_t f_index = c.n[f].sm.last_index;
	node_stop(&c.n[f]);
	/* in batches: libraft considers a snapshot after each batch applied
	 * (only when none is being stored) */
	for (int b = 0; b < 6; b++)
		propose_and_wait(&c, leader, 40 + 10 * b, 10,
				 (uint64_t)(50 + 10 * b));

	/* the entries the follower lacks are no longer in the leader's log */
	sw.above = f_index + c.trailing;
	bool past = pump(&c, snapshot_past, &sw);
	struct sl_quorum_status st;
	sl_quorum_status(c.n[leader].q, &st);
	if (!past)
		fail_msg("the leader's snapshot is at %llu (%llu taken), the "
			 "follower stopped at %llu; applied %llu",
			 (unsigned long long)st.snapshot_index,
			 (unsigned long long)st.snapshots_taken,
			 (unsigned long long)f_index,
			 (unsigned long long)st.applied_index);
	printf("leader's snapshot at %llu, follower stopped at %llu\n",
	       (unsigned long long)st.snapshot_index,
	       (unsigned long long)f_index);

	/* back: its own snapshot at create, then the leader's */
	assert_int_equal(start_node(&c, (unsigned)f), 0);
	assert_true(c.n[f].sm.restores >= 1);
	assert_true(c.n[f].sm.restored_index <= f_index);
	struct want w = {NULL, 0, 100};
	if (!pump(&c, all_applied, &w))
		fail_msg("node %d did not catch up: %llu of 100", f + 1,
			 (unsigned long long)c.n[f].sm.count);
	assert_same(&c, 100);
	assert_true(c.n[f].sm.restores >= 2);
	assert_true(c.n[f].sm.restored_index > f_index);
	sl_quorum_status(c.n[f].q, &st);
	assert_true(st.restores >= 2);
	cluster_fini(&c);
}

static void test_single_voter_dir(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 1, 0, 0);
	cluster_start(&c);
	assert_int_equal(elect(&c), 0);
	propose_and_wait(&c, 0, 0, 5, 5);
	assert_int_equal(c.n[0].leader_events >= 1, 1);
	assert_true(c.n[0].self);
	node_stop(&c.n[0]);

	/* again from the dir: replays, leads */
	assert_int_equal(start_node(&c, 0), 0);
	struct want w = {NULL, 0, 5};
	assert_true(pump(&c, all_applied, &w));
	assert_same(&c, 5);
	node_stop(&c.n[0]);

	/* the dir refuses another address for this node */
	char err[512] = "";
	uint16_t port = c.voters[0].port;
	c.voters[0].port = (uint16_t)(port + 1);
	assert_int_equal(start_node(&c, 0), -EINVAL);
	assert_null(c.n[0].q);
	c.voters[0].port = port;

	/* and another node id */
	struct sl_voter v = c.voters[0];
	v.id = 7;
	struct sl_quorum_config cfg = {
		.node_id = 7, .dir = c.n[0].dir, .voters = &v, .n_voters = 1,
		.apply = node_apply, .snapshot = node_snapshot,
		.restore = node_restore, .ctx = &c.n[0],
	};
	struct sl_quorum *q = NULL;
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	printf("%s\n", err);
	assert_non_null(strstr(err, "without node 7"));
	assert_null(q);

	/* the right one still starts */
	assert_int_equal(start_node(&c, 0), 0);
	assert_true(pump(&c, all_applied, &w));
	cluster_fini(&c);
}

/* apply() fails: the node stops (do_work says so), the proposal hears it
 * lost, and proposing is refused. */
static void test_apply_failure_stops(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 1, 0, 0);
	cluster_start(&c);
	elect(&c);
	c.n[0].sm.fail_apply = 1;
	struct proposals p = {0};
	assert_int_equal(sl_quorum_propose(c.n[0].q, "x", 1, on_proposed, &p),
			 0);
	int rc = 0;
	uint64_t end = tb_now_ms() + PHASE_MS;
	for (int i = 0; i < PASSES_MAX && rc >= 0 && tb_now_ms() < end; i++) {
		struct pollfd pfd = {sl_quorum_fd(c.n[0].q), POLLIN, 0};
		(void)poll(&pfd, 1, 10);
		rc = sl_quorum_do_work(c.n[0].q);
	}
	assert_int_equal(rc, SL_QUORUM_EFAILED);
	printf("%s: %s\n", sl_quorum_strerror(rc), sl_quorum_errmsg(c.n[0].q));
	assert_non_null(strstr(sl_quorum_errmsg(c.n[0].q), "apply() failed"));
	assert_int_equal(p.done, 1);
	assert_int_equal(p.status_last, SL_QUORUM_ELOST);
	assert_int_equal(sl_quorum_propose(c.n[0].q, "x", 1, on_proposed, &p),
			 SL_QUORUM_EFAILED);
	struct sl_quorum_status st;
	sl_quorum_status(c.n[0].q, &st);
	assert_int_equal(st.role, SL_QUORUM_UNAVAILABLE);
	assert_int_equal(st.leader_id, -1);
	cluster_fini(&c);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct node n;
	memset(&n, 0, sizeof(n));
	struct sl_voter v[2] = {{1, "127.0.0.1", 20001},
				{2, "127.0.0.1", 20002}};
	struct sl_quorum_config cfg = {
		.node_id = 3, .dir = "/nonexistent/quorum-test",
		.voters = v, .n_voters = 2,
		.apply = node_apply, .snapshot = node_snapshot,
		.restore = node_restore, .ctx = &n,
	};
	struct sl_quorum *q = NULL;
	char err[512];
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not one of the 2 voters"));

	cfg.node_id = 1;
	snprintf(v[1].host, sizeof(v[1].host), "localhost");
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "IPv4"));
	snprintf(v[1].host, sizeof(v[1].host), "127.0.0.1");

	v[1].port = v[0].port;
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	v[1].port = 20002;
	v[1].id = 1;
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	v[1].id = 2;

	cfg.election_timeout_ms = 100;
	cfg.heartbeat_timeout_ms = 100;
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "heartbeat"));
	cfg.election_timeout_ms = cfg.heartbeat_timeout_ms = 0;

	cfg.restore = NULL;
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	cfg.restore = node_restore;

	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(sl_quorum_create(&cfg, &q, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "SIGPIPE"));
	signal(SIGPIPE, SIG_IGN);
	assert_null(q);
	printf("%s\n", sl_quorum_strerror(SL_QUORUM_ENOTLEADER));
}

static void test_envelopes(void **state)
{
	(void)state;
	uint8_t in[40], b[SL_QUORUM_SNAP_HDR + sizeof(in)];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 1);
	for (size_t n = 1; n <= sizeof(in); n++) {
		size_t size = sl_quorum_entry_size(n);
		assert_int_equal(size % 8, 0);
		assert_true(size >= SL_QUORUM_ENTRY_HDR + n &&
			    size < SL_QUORUM_ENTRY_HDR + n + 8);
		sl_quorum_entry_encode(b, in, n);
		const uint8_t *e;
		size_t len;
		assert_int_equal(sl_quorum_entry_decode(b, size, &e, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(e, in, n);
		assert_int_equal(sl_quorum_entry_decode(b, size - 8, &e, &len),
				 -EBADMSG);
		assert_int_equal(sl_quorum_entry_decode(b, size + 8, &e, &len),
				 -EBADMSG);
		for (size_t bit = 0; bit < (SL_QUORUM_ENTRY_HDR + n) * 8;
		     bit++) {
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(sl_quorum_entry_decode(b, size, &e,
								&len),
					 -EBADMSG);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
	for (size_t n = 0; n <= sizeof(in); n += 13) {
		sl_quorum_snap_header(b, 4242 + n, in, n);
		memcpy(b + SL_QUORUM_SNAP_HDR, in, n);
		uint64_t index;
		const uint8_t *st;
		size_t len;
		assert_int_equal(sl_quorum_snap_decode(b, SL_QUORUM_SNAP_HDR + n,
						       &index, &st, &len), 0);
		assert_int_equal(index, 4242 + n);
		assert_int_equal(len, n);
		if (n)
			assert_memory_equal(st, in, n);
		for (size_t bit = 0; bit < (SL_QUORUM_SNAP_HDR + n) * 8;
		     bit++) {
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(sl_quorum_snap_decode(b,
					 SL_QUORUM_SNAP_HDR + n, &index, &st,
					 &len), -EBADMSG);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

struct change {
	int done, status;
};

static void on_change(void *ctx, int status)
{
	struct change *ch = ctx;
	ch->done++;
	ch->status = status;
}

static bool change_done(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct change *)arg)->done > 0;
}

static unsigned voters_seen(struct sl_quorum *q)
{
	struct sl_quorum_status st;
	sl_quorum_status(q, &st);
	return st.n_voters;
}

static bool votes(struct cluster *c, void *arg)
{
	(void)c;
	return sl_quorum_is_voter(arg);
}

/* A membership change on whichever node leads, until it is answered
 * other than "not the leader" (a machine under load can move the lead
 * mid-change): 0 when done, done_rc on a retry meaning it was done by a
 * try whose answer was lost.  Returns the leader that did it. */
static int change_on_leader(struct cluster *c, bool add, int32_t id,
			    const char *addr, int done_rc)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		int leader = elect(c);
		struct change ch = {0};
		struct sl_quorum *lq = c->n[leader].q;
		int rc = add ? sl_quorum_add_voter(lq, id, addr, on_change, &ch) :
			       sl_quorum_remove_voter(lq, id, on_change, &ch);
		if (attempt > 0 && rc == done_rc)
			return leader;
		assert_int_equal(rc, 0);
		if (!pump(c, change_done, &ch))
			fail_msg("%s node %d: no answer within %d ms",
				 add ? "adding" : "removing", (int)id, PHASE_MS);
		assert_int_equal(ch.done, 1);
		if (ch.status == SL_QUORUM_ENOTLEADER)
			continue;
		assert_int_equal(ch.status, 0);
		return leader;
	}
	fail_msg("%s node %d: the lead moved five times", add ? "adding" :
		 "removing", (int)id);
	return -1;
}

/* Propose on whichever node leads until it takes the entries. */
static int propose_on_leader(struct cluster *c, int first, int n,
			     uint64_t total)
{
	int leader = elect(c);
	propose_and_wait(c, leader, first, n, total);
	return leader;
}

static void test_membership(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, NODES, 0, 0);
	c.boot = 3;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(start_node(&c, i), 0);
	propose_on_leader(&c, 0, 10, 10);

	/* node 4 starts without bootstrapping: a member of nothing */
	assert_int_equal(start_node(&c, 3), 0);
	struct sl_quorum *four = c.n[3].q;
	for (int i = 0; i < 50; i++)
		pass(&c);
	assert_true(sl_quorum_joining(four));
	assert_false(sl_quorum_is_voter(four));
	assert_int_equal(c.n[3].sm.count, 0);

	/* what is refused at once (no pass in between: the lead holds) */
	char addr[SL_QUORUM_ADDRESS_MAX];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)c.voters[3].port);
	int leader = elect(&c);
	struct sl_quorum *lq = c.n[leader].q;
	struct change ch = {0};
	int follower = (leader + 1) % 3;
	assert_int_equal(sl_quorum_add_voter(c.n[follower].q, 4, addr,
					     on_change, &ch),
			 SL_QUORUM_ENOTLEADER);
	assert_int_equal(sl_quorum_add_voter(lq, 4, "127.0.0.1", on_change,
					     &ch), -EINVAL);
	assert_int_equal(sl_quorum_remove_voter(lq, 9, on_change, &ch),
			 -ENOENT);
	assert_int_equal(sl_quorum_add_voter(lq, 4, addr, on_change, &ch), 0);
	/* one change at a time */
	struct change ch2 = {0};
	assert_int_equal(sl_quorum_remove_voter(lq, 2, on_change, &ch2),
			 -EBUSY);
	if (!pump(&c, change_done, &ch))
		fail_msg("adding node 4: no answer within %d ms", PHASE_MS);
	assert_int_equal(ch2.done, 0);
	if (ch.status != 0) /* the lead moved: again where it is */
		change_on_leader(&c, true, 4, addr, -EEXIST);
	struct want w = {NULL, 0, 10};
	if (!pump(&c, all_applied, &w))
		fail_msg("node 4 holds %llu of 10 entries",
			 (unsigned long long)c.n[3].sm.count);
	/* the entry that makes it a voter reaches it with the next
	 * heartbeat */
	if (!pump(&c, votes, four))
		fail_msg("node 4 is not a voter in its own view");
	assert_false(sl_quorum_joining(four));
	assert_int_equal(voters_seen(four), 4);
	char got[SL_QUORUM_ADDRESS_MAX];
	assert_int_equal(sl_quorum_address_of(four, 4, got, sizeof(got)), 0);
	assert_string_equal(got, addr);
	leader = elect(&c);
	assert_int_equal(sl_quorum_add_voter(c.n[leader].q, 4, addr, on_change,
					     &ch2), -EEXIST);
	propose_on_leader(&c, 10, 10, 20);
	assert_same(&c, 20);

	/* the leader removes itself, then goes; so does a second of the
	 * first three (node 4 stays) */
	int old = elect(&c);
	change_on_leader(&c, false, old + 1, NULL, -ENOENT);
	assert_false(sl_quorum_is_voter(c.n[old].q));
	node_stop(&c.n[old]);
	int second = old == 3 ? 0 : (old + 1) % 3;
	node_stop(&c.n[second]);
	int l = propose_on_leader(&c, 20, 5, 25);
	printf("node %d removed, nodes %d and %d stopped; node %d leads\n",
	       old + 1, old + 1, second + 1, l + 1);
	assert_int_equal(voters_seen(c.n[l].q), 3);
	assert_same(&c, 25);

	/* the removed node's dir holds a configuration without it */
	assert_int_equal(start_node(&c, (unsigned)old), -EINVAL);
	cluster_fini(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_single_voter_dir),
		cmocka_unit_test(test_apply_failure_stops),
		cmocka_unit_test(test_elect_and_replicate),
		cmocka_unit_test(test_failover_and_rejoin),
		cmocka_unit_test(test_snapshot_catch_up),
		cmocka_unit_test(test_membership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
