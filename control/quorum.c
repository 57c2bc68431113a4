/*
 * The metadata log's Raft node over canonical raft 0.15 (contract in
 * quorum.h).
 *
 * Happy path: sl_quorum_create makes the loop, raft_uv_tcp, raft_uv and
 * the raft instance, bootstraps a fresh dir, starts; sl_quorum_do_work
 * runs the loop (uv_run NOWAIT) while something is ready, then looks at
 * raft's state: a new leader term gets a barrier entry, and the node
 * calls itself leader once that barrier is applied; proposal callbacks
 * and leader_changed are delivered last, outside libraft's stack.
 *
 * Failure modes: apply() fails or a committed entry is damaged: the node
 * stops (fail-stop, so that its state machine never skips an entry):
 * every later apply is refused, do_work closes the raft instance (its
 * leader requests fail with SL_QUORUM_ELOST, the others elect another
 * leader) and returns SL_QUORUM_EFAILED from then on.  libraft ignores
 * an apply error on some paths (appendLeaderCb: "TODO: just log the
 * error?") and goes on, hence quorum's own flag.  The disk fails: libraft
 * turns the instance unavailable, the same from do_work's side.
 * restore() fails or a snapshot is damaged: at start-up create fails
 * (the dir's latest snapshot is bad: remove the dir and let the node
 * catch up from the others); sent by the leader, libraft refuses it and
 * the leader tries again.  A close that does not finish within
 * CLOSE_DRAIN_MS leaks the node rather than free memory libraft may
 * still use.
 *
 * Envelopes: each command entry and each snapshot is wrapped (length,
 * CRC32C, padding to 8 bytes; index and CRC32C for snapshots), as
 * quorum_envelope.c specifies byte by byte.  apply() and restore() see
 * only what the state machine gave, and only from valid envelopes.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "control/log.h" /* sl_wall_ms: Kafka's timestamps are wall clock */
#include "control/quorum.h"
#include "control/raft_reply.h"
#include "control/quorum_pvt.h"

#define RUNS_MAX 8            /* loop passes in one do_work */
#define CLOSE_DRAIN_MS 10000  /* bound on sl_quorum_destroy's drain */
#define NO_SLOT UINT32_MAX

enum prop_state { PROP_FREE, PROP_WAITING, PROP_DONE };

/* One proposal, from sl_quorum_propose until its callback is delivered. */
struct prop {
	struct raft_apply req;    /* req.data points back here */
	struct sl_quorum *q;
	sl_quorum_propose_cb cb;
	void *cb_ctx;
	enum prop_state state;
	int status;               /* PROP_DONE: what cb gets */
	uint64_t index;
	uint32_t next;            /* free list / done FIFO link */
};

struct sl_quorum {
	/* libuv and libraft objects: their addresses must stay put */
	uv_loop_t loop;
	struct raft_uv_transport transport;
	struct raft_io io;
	/* libraft's heartbeat reply corrected (control/raft_reply.h) */
	struct sl_raft_reply reply;
	int (*io_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
			raft_io_recv_cb recv);
	int (*io_send)(struct raft_io *io, struct raft_io_send *req,
		       const struct raft_message *message, raft_io_send_cb cb);
	struct raft_fsm fsm;
	struct raft raft;
	struct raft_barrier barrier;

	int32_t node_id;
	char dir[PATH_MAX];
	char address[SL_QUORUM_ADDRESS_MAX];
	struct sl_voter voters[SL_VOTERS_MAX];
	unsigned n_voters;
	sl_quorum_apply_fn apply;
	sl_quorum_snapshot_fn snapshot;
	sl_quorum_restore_fn restore;
	sl_quorum_leader_fn leader_changed;
	void *ctx;

	bool loop_open, uv_open, raft_open; /* what destroy undoes */
	bool closing;             /* sl_quorum_destroy under way */
	bool failed;              /* fail-stop: apply() failed or an entry
				     was damaged; no apply from then on */
	bool raft_closing, raft_closed;
	bool restore_corrupt;     /* restore refused a bad envelope */
	char errmsg[RAFT_ERRMSG_BUF_SIZE]; /* our own failures, else raft's */

	uint64_t applied_index;   /* set after each apply() and restore() */
	uint64_t snapshot_index;

	/* leadership (see quorum.h "Leadership") */
	bool barrier_pending;
	uint64_t barrier_term;    /* term the barrier was appended in, 0 */
	uint64_t ready_term;      /* term whose barrier got applied, 0 */
	int32_t reported_leader;  /* what leader_changed last said */
	bool reported_self;

	/* proposals */
	struct prop props[SL_QUORUM_INFLIGHT];
	uint32_t free_head;
	uint32_t done_head, done_tail;
	unsigned inflight;

	/* what this node, as Raft leader, last heard from each voter
	 * (sl_quorum_status): a slot per Raft id (0: free), valid for
	 * peers[i].term only */
	struct peer {
		raft_id id;
		uint64_t term;
		int64_t contact_ms, caught_up_ms; /* wall clock */
	} peers[SL_VOTERS_MAX];

	/* a membership change (sl_quorum_add_voter / remove_voter): one at
	 * a time; libraft's callback only notes its status, the next step
	 * and the caller's callback run from do_work */
	struct raft_change change;
	enum { CH_NONE, CH_ADD, CH_ASSIGN, CH_REMOVE } change_step;
	bool change_fired;        /* libraft called back */
	int change_raft_rc;
	int32_t change_id;
	sl_quorum_change_cb change_cb;
	void *change_ctx;
	bool join;                /* started without bootstrapping */

	uint64_t proposed, applied_ok, lost, canceled, snapshots_taken,
		restores, leader_changes;
};

static void change_finish(struct sl_quorum *q, int status);

/* ---- time ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- proposals ---- */

static void done_push(struct sl_quorum *q, struct prop *p, int status)
{
	assert(p->state == PROP_WAITING);
	uint32_t i = (uint32_t)(p - q->props);
	p->state = PROP_DONE;
	p->status = status;
	p->next = NO_SLOT;
	if (q->done_tail == NO_SLOT)
		q->done_head = i;
	else
		q->props[q->done_tail].next = i;
	q->done_tail = i;
}

/* libraft's verdict on a proposal (inside libraft: only recorded). */
static void on_applied(struct raft_apply *req, int status, void *result)
{
	(void)result;
	struct prop *p = req->data;
	struct sl_quorum *q = p->q;
	int rc = 0;
	if (status != 0) {
		/* RAFT_LEADERSHIPLOST from a step-down or from raft_close;
		 * anything else (an append that failed on disk) leaves the
		 * same uncertainty: the entry may have reached others. */
		rc = q->closing ? SL_QUORUM_ECANCELED : SL_QUORUM_ELOST;
	}
	p->index = req->index;
	done_push(q, p, rc);
}

/* Deliver finished proposals' callbacks, oldest first.  Bounded by the
 * slots: each is on the FIFO once (a callback that proposes again takes
 * a free slot, which joins the FIFO only after a later uv_run). */
static int deliver_done(struct sl_quorum *q)
{
	int n = 0;
	while (q->done_head != NO_SLOT && n < SL_QUORUM_INFLIGHT) {
		uint32_t i = q->done_head;
		struct prop *p = &q->props[i];
		assert(p->state == PROP_DONE);
		q->done_head = p->next;
		if (q->done_head == NO_SLOT)
			q->done_tail = NO_SLOT;
		sl_quorum_propose_cb cb = p->cb;
		void *cb_ctx = p->cb_ctx;
		int status = p->status;
		uint64_t index = p->index;
		if (status == 0)
			q->applied_ok++;
		else if (status == SL_QUORUM_ELOST)
			q->lost++;
		else
			q->canceled++;
		p->state = PROP_FREE;
		p->cb = NULL;
		p->next = q->free_head;
		q->free_head = i;
		assert(q->inflight > 0);
		q->inflight--;
		cb(cb_ctx, status, index);
		n++;
	}
	return n;
}

/* ---- the state machine adapter (struct raft_fsm, version 2) ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct sl_quorum *q = fsm->data;
	/* libraft sets last_applied once apply returns: this entry is the
	 * next one (replicationApply in libraft's replication.c). */
	uint64_t index = (uint64_t)q->raft.last_applied + 1;
	assert(index > q->applied_index);
	*result = NULL;
	if (q->failed)
		return RAFT_IOERR;
	const uint8_t *entry;
	size_t len;
	if (sl_quorum_entry_decode(buf->base, buf->len, &entry, &len) < 0) {
		q->failed = true;
		snprintf(q->errmsg, sizeof(q->errmsg),
			 "the committed entry at index %llu (%zu bytes) is "
			 "damaged: envelope or CRC", (unsigned long long)index,
			 buf->len);
		return RAFT_CORRUPT;
	}
	int rc = q->apply(q->ctx, entry, len, index);
	if (rc != 0) {
		q->failed = true;
		snprintf(q->errmsg, sizeof(q->errmsg),
			 "apply() failed at index %llu: %d",
			 (unsigned long long)index, rc);
		return RAFT_IOERR;
	}
	q->applied_index = index;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct sl_quorum *q = fsm->data;
	uint64_t index = (uint64_t)q->raft.last_applied;
	void *state = NULL;
	size_t len = 0;
	if (q->snapshot(q->ctx, index, &state, &len) != 0)
		return RAFT_BUSY; /* libraft: try again later */
	if (len && !state)
		return RAFT_BUSY;
	struct raft_buffer *b = calloc(2, sizeof(*b));
	uint8_t *h = malloc(SL_QUORUM_SNAP_HDR);
	if (!b || !h) {
		free(b);
		free(h);
		free(state);
		return RAFT_NOMEM;
	}
	sl_quorum_snap_header(h, index, state, len);
	b[0].base = h;
	b[0].len = SL_QUORUM_SNAP_HDR;
	*bufs = b;
	*n_bufs = 1;
	if (len) {
		b[1].base = state;
		b[1].len = len;
		*n_bufs = 2;
	} else {
		free(state);
	}
	return 0;
}

/* Version 2: libraft is done with what fsm_snapshot gave it. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm,
				 struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct sl_quorum *q = fsm->data;
	if (*bufs) {
		for (unsigned i = 0; i < *n_bufs; i++)
			free((*bufs)[i].base);
		free(*bufs);
		q->snapshots_taken++;
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

/* On success the buffer is ours to free (libraft's snapshotRestore hands
 * it over); on failure libraft frees it. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct sl_quorum *q = fsm->data;
	uint64_t index;
	const uint8_t *state;
	size_t len;
	if (sl_quorum_snap_decode(buf->base, buf->len, &index, &state,
				  &len) < 0) {
		q->restore_corrupt = true;
		snprintf(q->errmsg, sizeof(q->errmsg),
			 "snapshot of %zu bytes is damaged (envelope or CRC)",
			 buf->len);
		return RAFT_CORRUPT;
	}
	int rc = q->restore(q->ctx, state, len, index);
	if (rc != 0) {
		snprintf(q->errmsg, sizeof(q->errmsg),
			 "restore() failed at index %llu: %d",
			 (unsigned long long)index, rc);
		return RAFT_IOERR;
	}
	q->applied_index = index;
	if (index > q->snapshot_index)
		q->snapshot_index = index;
	q->restores++;
	raft_free(buf->base);
	return 0;
}

/* ---- leadership ---- */

static void on_barrier(struct raft_barrier *req, int status)
{
	struct sl_quorum *q = req->data;
	q->barrier_pending = false;
	if (status == 0)
		q->ready_term = q->barrier_term;
	else
		q->barrier_term = 0; /* still leader (a failed write)? retry */
}

static bool ready(struct sl_quorum *q)
{
	return raft_state(&q->raft) == RAFT_LEADER &&
	       q->ready_term == (uint64_t)q->raft.current_term;
}

static bool stopped(const struct sl_quorum *q)
{
	return q->closing || q->failed || q->raft_closing ||
	       q->raft.state == RAFT_UNAVAILABLE;
}

static int32_t leader_now(struct sl_quorum *q)
{
	if (stopped(q))
		return -1;
	int state = raft_state(&q->raft);
	if (state == RAFT_LEADER)
		return ready(q) ? q->node_id : -1;
	if (state != RAFT_FOLLOWER)
		return -1;
	raft_id id = 0;
	const char *address = NULL;
	raft_leader(&q->raft, &id, &address);
	return id == 0 || id > INT32_MAX ? -1 : (int32_t)id;
}

/* Outside libraft, right after each loop pass: a new leader term gets
 * its barrier before the next pass reads any reply.  (libraft 0.15
 * commits entries of earlier terms by counting replicas, Raft's figure 8
 * hazard, until an entry of the leader's own term is stored; the sooner
 * it is appended, the shorter that window.)  1 when appended. */
static int maybe_barrier(struct sl_quorum *q)
{
	uint64_t term = (uint64_t)q->raft.current_term;
	if (stopped(q) || raft_state(&q->raft) != RAFT_LEADER ||
	    q->barrier_pending || q->barrier_term == term ||
	    q->ready_term == term)
		return 0;
	q->barrier.data = q;
	if (raft_barrier(&q->raft, &q->barrier, on_barrier) != 0)
		return 0; /* tried again after the next pass */
	q->barrier_pending = true;
	q->barrier_term = term;
	return 1;
}

/* Outside libraft: report a change of leader.  Returns the work done. */
static int update_leadership(struct sl_quorum *q)
{
	int work = maybe_barrier(q);
	int32_t leader = leader_now(q);
	bool self = leader == q->node_id;
	if (leader != q->reported_leader || self != q->reported_self) {
		q->reported_leader = leader;
		q->reported_self = self;
		q->leader_changes++;
		if (q->leader_changed)
			q->leader_changed(q->ctx, leader, self);
		work++;
	}
	return work;
}

/* ---- the loop ---- */

/* Has the loop something to do now: a due timer, pending callbacks, a
 * watcher to register, or a ready descriptor? */
static bool loop_ready(struct sl_quorum *q)
{
	uv_update_time(&q->loop);
	if (uv_backend_timeout(&q->loop) == 0)
		return true;
	struct pollfd pfd = {uv_backend_fd(&q->loop), POLLIN, 0};
	return poll(&pfd, 1, 0) > 0;
}

/* Run the loop until *flag or until CLOSE_DRAIN_MS; true when *flag. */
static bool drain_until(struct sl_quorum *q, const bool *flag)
{
	int64_t end = mono_ms() + CLOSE_DRAIN_MS;
	while (!*flag && mono_ms() < end) {
		uv_update_time(&q->loop);
		int t = uv_backend_timeout(&q->loop);
		if (t < 0 || t > 50)
			t = 50;
		struct pollfd pfd = {uv_backend_fd(&q->loop), POLLIN, 0};
		(void)poll(&pfd, 1, t);
		uv_run(&q->loop, UV_RUN_NOWAIT);
	}
	return *flag;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Close what remains of the loop (libraft's handles are all closed by
 * now; anything left is closed here rather than leaked).  false when the
 * loop would not close in time. */
static bool close_loop(struct sl_quorum *q)
{
	int64_t start = mono_ms(), end = start + CLOSE_DRAIN_MS;
	bool walked = false;
	while (uv_loop_close(&q->loop) == UV_EBUSY) {
		int64_t now = mono_ms();
		if (now >= end)
			return false;
		if (!walked && (!uv_loop_alive(&q->loop) || now - start > 1000)) {
			uv_walk(&q->loop, walk_close, NULL);
			walked = true;
		}
		struct pollfd pfd = {uv_backend_fd(&q->loop), POLLIN, 0};
		(void)poll(&pfd, 1, 10);
		uv_run(&q->loop, UV_RUN_NOWAIT);
	}
	return true;
}

static void on_raft_closed(struct raft *r)
{
	struct sl_quorum *q = r->data;
	q->raft_closed = true;
}

/* Undo create in order.  Returns false when q must be leaked (libraft or
 * libuv did not finish closing in time). */
static bool teardown(struct sl_quorum *q)
{
	q->closing = true;
	if (q->raft_open) {
		if (!q->raft_closing) {
			q->raft_closing = true;
			raft_close(&q->raft, on_raft_closed);
		}
		if (!drain_until(q, &q->raft_closed))
			return false;
		q->raft_open = false;
	}
	if (q->uv_open) {
		raft_uv_close(&q->io);
		raft_uv_tcp_close(&q->transport);
		q->uv_open = false;
	}
	if (q->loop_open) {
		if (!close_loop(q))
			return false;
		q->loop_open = false;
	}
	/* raft_close failed every leader request (raft's convertClearLeader);
	 * a slot still waiting cannot hear from libraft any more. */
	for (uint32_t i = 0; i < SL_QUORUM_INFLIGHT; i++)
		if (q->props[i].state == PROP_WAITING)
			done_push(q, &q->props[i], SL_QUORUM_ECANCELED);
	deliver_done(q);
	if (q->change_step != CH_NONE)
		change_finish(q, SL_QUORUM_ECANCELED);
	assert(q->inflight == 0);
	return true;
}

/* ---- the transport's connections ---- */

/*
 * libraft's TCP transport notices a peer that went silent only when a
 * write fails.  A connection whose packets were dropped (a node cut off,
 * then back) keeps its data in the kernel, retransmitted with a backoff
 * that doubles up to minutes: after the network heals, the leader's
 * AppendEntries reached a former leader only 18 s later in a fault run.
 * So every Raft connection gives up on data unacknowledged for
 * RAFT_TCP_USER_TIMEOUT_MS (TCP_USER_TIMEOUT, and keepalive probes while
 * idle), libraft sees the write fail and connects again (within a
 * quarter of an election timeout).  The callbacks wrapped are libraft's
 * own functions, the same for every node in the process.
 */
#define RAFT_TCP_USER_TIMEOUT_MS 3000

static raft_uv_connect_cb raft_connect_cb;
static raft_uv_accept_cb raft_accept_cb;
static int (*tcp_connect)(struct raft_uv_transport *t,
			  struct raft_uv_connect *req, raft_id id,
			  const char *address, raft_uv_connect_cb cb);
static int (*tcp_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);

static void tune_stream(struct uv_stream_s *stream)
{
	uv_os_fd_t fd;
	if (!stream || uv_fileno((const uv_handle_t *)stream, &fd) != 0)
		return;
	unsigned timeout = RAFT_TCP_USER_TIMEOUT_MS;
	int on = 1, idle = 1, intvl = 1, cnt = 3;
	/* best effort: a refused option leaves libraft's defaults */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
			 sizeof(timeout));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
			 sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void tuned_connect_cb(struct raft_uv_connect *req,
			     struct uv_stream_s *stream, int status)
{
	if (status == 0)
		tune_stream(stream);
	raft_connect_cb(req, stream, status);
}

static int tuned_connect(struct raft_uv_transport *t,
			 struct raft_uv_connect *req, raft_id id,
			 const char *address, raft_uv_connect_cb cb)
{
	assert(!raft_connect_cb || raft_connect_cb == cb);
	raft_connect_cb = cb;
	return tcp_connect(t, req, id, address, tuned_connect_cb);
}

static void tuned_accept_cb(struct raft_uv_transport *t, raft_id id,
			    const char *address, struct uv_stream_s *stream)
{
	tune_stream(stream);
	raft_accept_cb(t, id, address, stream);
}

static int tuned_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	assert(!raft_accept_cb || raft_accept_cb == cb);
	raft_accept_cb = cb;
	return tcp_listen(t, tuned_accept_cb);
}

/* ---- create ---- */

static int check_config(const struct sl_quorum_config *c, char *err,
			size_t errlen)
{
	if (c->node_id < 1) {
		snprintf(err, errlen, "quorum: node id %d; ids start at 1",
			 c->node_id);
		return -EINVAL;
	}
	if (!c->dir || !c->dir[0] || strlen(c->dir) >= PATH_MAX - 64) {
		snprintf(err, errlen, "quorum: the Raft dir is missing or "
			 "longer than %d bytes", PATH_MAX - 64);
		return -EINVAL;
	}
	if (!c->apply || !c->snapshot || !c->restore) {
		snprintf(err, errlen, "quorum: apply, snapshot and restore "
			 "callbacks are required");
		return -EINVAL;
	}
	if (!c->voters || c->n_voters < 1 || c->n_voters > SL_VOTERS_MAX) {
		snprintf(err, errlen, "quorum: %u voters; 1 to %d", c->n_voters,
			 SL_VOTERS_MAX);
		return -EINVAL;
	}
	unsigned self = 0;
	for (unsigned i = 0; i < c->n_voters; i++) {
		const struct sl_voter *v = &c->voters[i];
		struct sockaddr_in sa;
		if (v->id < 1 || v->port == 0 ||
		    memchr(v->host, 0, sizeof(v->host)) == NULL ||
		    uv_ip4_addr(v->host, v->port, &sa) != 0) {
			snprintf(err, errlen, "quorum: voter %u: id %d at "
				 "'%.64s:%u'; ids start at 1, hosts are IPv4 "
				 "addresses, ports 1 to 65535", i + 1, v->id,
				 memchr(v->host, 0, sizeof(v->host)) ? v->host :
				 "?", v->port);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct sl_voter *w = &c->voters[j];
			if (w->id == v->id ||
			    (w->port == v->port && !strcmp(w->host, v->host))) {
				snprintf(err, errlen, "quorum: voters %u and %u "
					 "share an id or an address", j + 1,
					 i + 1);
				return -EINVAL;
			}
		}
		if (v->id == c->node_id)
			self++;
	}
	if (self != 1) {
		snprintf(err, errlen, "quorum: node id %d is not one of the %u "
			 "voters", c->node_id, c->n_voters);
		return -EINVAL;
	}
	unsigned et = c->election_timeout_ms ? c->election_timeout_ms :
			    SL_QUORUM_ELECTION_TIMEOUT_MS;
	unsigned ht = c->heartbeat_timeout_ms ? c->heartbeat_timeout_ms :
			    SL_QUORUM_HEARTBEAT_TIMEOUT_MS;
	if (ht >= et || et > 600000) {
		snprintf(err, errlen, "quorum: heartbeat timeout %u ms must be "
			 "below the election timeout %u ms (at most 600000)",
			 ht, et);
		return -EINVAL;
	}
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) != 0 ||
	    (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL)) {
		snprintf(err, errlen, "quorum: SIGPIPE must be ignored first "
			 "(a peer that dies would kill this process)");
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p, bounded by the path's length. */
static int make_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	size_t n = strlen(path);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != 0)
			continue;
		char c = path[i];
		path[i] = 0;
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "quorum: mkdir %s: %s", path,
				 strerror(e));
			return -e;
		}
		path[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "quorum: %s is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}


/* ---- libraft's heartbeat reply (control/raft_reply.h) ---- */

static struct sl_quorum *quorum_of_io(struct raft_io *io)
{
	return (struct sl_quorum *)(void *)((char *)io -
					    offsetof(struct sl_quorum, io));
}

/* Is Raft id a voter of the configuration in the log? */
static bool is_voter(const struct sl_quorum *q, raft_id id)
{
	const struct raft_configuration *c = &q->raft.configuration;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return c->servers[i].role == RAFT_VOTER;
	return false;
}

/* The peer slot of Raft id, claimed when claim (a free one, else one
 * whose id is no longer a voter), or -1. */
static int voter_slot(struct sl_quorum *q, raft_id id, bool claim)
{
	int spare = -1;
	for (unsigned i = 0; i < SL_VOTERS_MAX; i++) {
		if (q->peers[i].id == id)
			return (int)i;
		if (spare < 0 && (q->peers[i].id == 0 ||
				  !is_voter(q, q->peers[i].id)))
			spare = (int)i;
	}
	if (!claim || spare < 0)
		return -1;
	q->peers[spare] = (struct peer){.id = id};
	return spare;
}

/* After libraft took a voter's AppendEntries reply: as leader, note when
 * it answered and whether it now holds our last entry.  libraft 0.15
 * keeps the leader's view of each server in struct raft itself (raft.h:
 * leader_state.progress, parallel to configuration.servers), public
 * though undocumented; only match_index is read. */
static void note_reply(struct sl_quorum *q, raft_id from)
{
	if (raft_state(&q->raft) != RAFT_LEADER || !is_voter(q, from))
		return;
	int slot = voter_slot(q, from, true);
	if (slot < 0)
		return;
	const struct raft_configuration *c = &q->raft.configuration;
	unsigned i = 0;
	while (i < c->n && c->servers[i].id != from)
		i++;
	if (i == c->n)
		return; /* progress[] is parallel to the configuration */
	struct peer *p = &q->peers[slot];
	uint64_t term = (uint64_t)q->raft.current_term;
	if (p->term != term)
		*p = (struct peer){.id = from, .term = term,
				   .caught_up_ms = -1};
	p->contact_ms = sl_wall_ms();
	if (q->raft.leader_state.progress[i].match_index >=
	    raft_last_index(&q->raft))
		p->caught_up_ms = p->contact_ms;
}

static void io_recv(struct raft_io *io, struct raft_message *m)
{
	struct sl_quorum *q = quorum_of_io(io);
	/* read before libraft takes the message */
	bool result = m->type == RAFT_IO_APPEND_ENTRIES_RESULT;
	raft_id from = m->server_id;
	sl_raft_reply_recv(&q->reply, io, m);
	if (result)
		note_reply(q, from);
}

static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		    raft_io_recv_cb recv)
{
	struct sl_quorum *q = quorum_of_io(io);
	q->reply.recv = recv;
	q->reply.raft = &q->raft;
	return q->io_start(io, msecs, tick, io_recv);
}

static int io_send(struct raft_io *io, struct raft_io_send *req,
		   const struct raft_message *message, raft_io_send_cb cb)
{
	struct sl_quorum *q = quorum_of_io(io);
	struct raft_message fixed;
	/* raft_uv encodes the message before send returns: the copy may
	 * live on this stack */
	return q->io_send(io, req, sl_raft_reply_send(&q->reply, message,
						      &fixed), cb);
}

/* The stored configuration must hold this node at the address the
 * voters give it. */
static int check_stored_self(struct sl_quorum *q, char *err, size_t errlen)
{
	const struct raft_configuration *c = &q->raft.configuration;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->servers[i].id != (raft_id)q->node_id)
			continue;
		if (strcmp(c->servers[i].address, q->address) != 0) {
			snprintf(err, errlen, "quorum: %s says node %d is at "
				 "%s, its configuration says %s: the node moved "
				 "(remove it from the voters, then add it at "
				 "its new address with a new dir) or the dir "
				 "is another node's", q->dir, q->node_id,
				 c->servers[i].address, q->address);
			return -EINVAL;
		}
		return 0;
	}
	if (c->n == 0 && q->join)
		return 0; /* not added yet */
	snprintf(err, errlen, "quorum: %s holds a Raft configuration of %u "
		 "servers without node %d: the node was removed from the "
		 "voters (to run it as a broker only, remove the dir and "
		 "start it without controller_address, its id out of "
		 "controller_quorum_voters), or the dir belongs to another "
		 "node or cluster", q->dir, c->n, q->node_id);
	return -EINVAL;
}

int sl_quorum_create(const struct sl_quorum_config *cfg, struct sl_quorum **out,
		     char *err, size_t errlen)
{
	int rc = check_config(cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = make_dir(cfg->dir, err, errlen);
	if (rc < 0)
		return rc;
	struct sl_quorum *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "quorum: out of memory");
		return -ENOMEM;
	}
	q->node_id = cfg->node_id;
	snprintf(q->dir, sizeof(q->dir), "%s", cfg->dir);
	memcpy(q->voters, cfg->voters, cfg->n_voters * sizeof(*cfg->voters));
	q->n_voters = cfg->n_voters;
	q->apply = cfg->apply;
	q->snapshot = cfg->snapshot;
	q->restore = cfg->restore;
	q->leader_changed = cfg->leader_changed;
	q->ctx = cfg->ctx;
	q->join = cfg->join;
	q->reported_leader = -1;
	q->free_head = NO_SLOT;
	q->done_head = q->done_tail = NO_SLOT;
	for (uint32_t i = SL_QUORUM_INFLIGHT; i-- > 0;) {
		q->props[i].q = q;
		q->props[i].req.data = &q->props[i];
		q->props[i].next = q->free_head;
		q->free_head = i;
	}
	for (unsigned i = 0; i < q->n_voters; i++)
		if (q->voters[i].id == q->node_id)
			snprintf(q->address, sizeof(q->address), "%s:%u",
				 q->voters[i].host, q->voters[i].port);

	rc = uv_loop_init(&q->loop);
	if (rc != 0) {
		snprintf(err, errlen, "quorum: uv_loop_init: %s",
			 uv_strerror(rc));
		rc = rc < 0 ? rc : -EIO;
		goto free_q;
	}
	q->loop_open = true;
	rc = raft_uv_tcp_init(&q->transport, &q->loop);
	if (rc != 0) {
		snprintf(err, errlen, "quorum: raft_uv_tcp_init: %s",
			 raft_strerror(rc));
		rc = rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
		goto teardown;
	}
	/* the transport's connections tuned (above) */
	tcp_connect = q->transport.connect;
	tcp_listen = q->transport.listen;
	q->transport.connect = tuned_connect;
	q->transport.listen = tuned_listen;
	rc = raft_uv_init(&q->io, &q->loop, q->dir, &q->transport);
	if (rc != 0) {
		snprintf(err, errlen, "quorum: raft_uv_init %s: %s", q->dir,
			 raft_strerror(rc));
		raft_uv_tcp_close(&q->transport);
		rc = rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
		goto teardown;
	}
	q->uv_open = true;
	/* between raft and raft_uv: libraft's heartbeat reply corrected */
	q->io_start = q->io.start;
	q->io_send = q->io.send;
	q->io.start = io_start;
	q->io.send = io_send;

	q->fsm.version = 2;
	q->fsm.data = q;
	q->fsm.apply = fsm_apply;
	q->fsm.snapshot = fsm_snapshot;
	q->fsm.restore = fsm_restore;
	q->fsm.snapshot_finalize = fsm_snapshot_finalize;
	q->fsm.snapshot_async = NULL;
	rc = raft_init(&q->raft, &q->io, &q->fsm, (raft_id)q->node_id,
		       q->address);
	if (rc != 0) {
		snprintf(err, errlen, "quorum: raft_init (%s, %s): %s",
			 q->dir, q->address, raft_errmsg(&q->raft));
		rc = rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
		goto teardown;
	}
	q->raft_open = true;
	q->raft.data = q;
	raft_set_election_timeout(&q->raft, cfg->election_timeout_ms ?
				  cfg->election_timeout_ms :
				  SL_QUORUM_ELECTION_TIMEOUT_MS);
	raft_set_heartbeat_timeout(&q->raft, cfg->heartbeat_timeout_ms ?
				   cfg->heartbeat_timeout_ms :
				   SL_QUORUM_HEARTBEAT_TIMEOUT_MS);
	raft_set_snapshot_threshold(&q->raft, cfg->snapshot_threshold ?
				    cfg->snapshot_threshold :
				    SL_QUORUM_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&q->raft, cfg->snapshot_trailing ?
				   cfg->snapshot_trailing :
				   SL_QUORUM_SNAPSHOT_TRAILING);
	/* A node that comes back (or was cut off) would otherwise bump the
	 * term and depose a healthy leader before the leader's next
	 * reconnect reaches it. */
	raft_set_pre_vote(&q->raft, true);
	/* Reconnect to a peer within a quarter of an election timeout
	 * (libraft's default is 1 s whatever the timeouts). */
	unsigned et = cfg->election_timeout_ms ? cfg->election_timeout_ms :
			      SL_QUORUM_ELECTION_TIMEOUT_MS;
	raft_uv_set_connect_retry_delay(&q->io, et / 4 < 50 ? 50 :
					et / 4 > 1000 ? 1000 : et / 4);

	/* Fresh dir: bootstrap.  State already there: RAFT_CANTBOOTSTRAP,
	 * and the stored configuration is checked once loaded. */
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < q->n_voters; i++) {
		char a[SL_QUORUM_ADDRESS_MAX];
		snprintf(a, sizeof(a), "%s:%u", q->voters[i].host,
			 q->voters[i].port);
		rc = raft_configuration_add(&conf, (raft_id)q->voters[i].id, a,
					    RAFT_VOTER);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = q->join ? RAFT_CANTBOOTSTRAP :
			       raft_bootstrap(&q->raft, &conf);
	raft_configuration_close(&conf);
	bool fresh = rc == 0;
	if (rc != 0 && rc != RAFT_CANTBOOTSTRAP) {
		snprintf(err, errlen, "quorum: bootstrap %s: %s (%s)", q->dir,
			 raft_strerror(rc), q->io.errmsg);
		rc = rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
		goto teardown;
	}
	rc = raft_start(&q->raft);
	if (rc != 0) {
		snprintf(err, errlen, "quorum: start %s at %s: %s%s", q->dir,
			 q->address, sl_quorum_errmsg(q),
			 q->restore_corrupt ? " (remove the dir: the node "
			 "catches up from the others)" : "");
		rc = rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
		goto teardown;
	}
	if (!fresh) {
		rc = check_stored_self(q, err, errlen);
		if (rc < 0)
			goto teardown;
	}
	if (q->raft.log.snapshot.last_index > q->snapshot_index)
		q->snapshot_index = q->raft.log.snapshot.last_index;
	*out = q;
	return 0;

teardown:
	if (!teardown(q))
		return rc; /* libraft still holds q: leaked */
free_q:
	free(q);
	return rc;
}

void sl_quorum_destroy(struct sl_quorum *q)
{
	if (!q)
		return;
	if (teardown(q))
		free(q);
}

/* ---- membership ---- */

static int change_errno(int rv)
{
	switch (rv) {
	case 0: return 0;
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST: return SL_QUORUM_ENOTLEADER;
	case RAFT_CANTCHANGE: return -EBUSY;
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS: return -EEXIST;
	case RAFT_BADID:
	case RAFT_NOTFOUND: return -ENOENT;
	case RAFT_NOCONNECTION: return -ETIMEDOUT;
	case RAFT_NOMEM: return -ENOMEM;
	case RAFT_SHUTDOWN: return SL_QUORUM_ECANCELED;
	default: return SL_QUORUM_EFAILED;
	}
}

/* Inside libraft: only note it (the next step runs from do_work). */
static void on_change(struct raft_change *req, int status)
{
	struct sl_quorum *q = req->data;
	q->change_fired = true;
	q->change_raft_rc = status;
}

static void change_finish(struct sl_quorum *q, int status)
{
	sl_quorum_change_cb cb = q->change_cb;
	void *ctx = q->change_ctx;
	q->change_step = CH_NONE;
	q->change_cb = NULL;
	q->change_fired = false;
	if (cb)
		cb(ctx, status);
}

/* Outside libraft: a spare added becomes a voter (libraft catches it up
 * first); the caller hears of the end.  1 when something was done. */
static int change_step(struct sl_quorum *q)
{
	if (q->change_step == CH_NONE || !q->change_fired)
		return 0;
	int rc = change_errno(q->change_raft_rc);
	if (q->change_step == CH_ADD && rc == 0 && !stopped(q)) {
		q->change_fired = false;
		q->change.data = q;
		int rv = raft_assign(&q->raft, &q->change,
				     (raft_id)q->change_id, RAFT_VOTER,
				     on_change);
		if (rv == 0) {
			q->change_step = CH_ASSIGN;
			return 1;
		}
		rc = change_errno(rv);
	}
	change_finish(q, rc);
	return 1;
}

static int change_check(struct sl_quorum *q, sl_quorum_change_cb cb)
{
	if (stopped(q))
		return SL_QUORUM_EFAILED;
	if (!cb)
		return -EINVAL;
	if (!ready(q))
		return SL_QUORUM_ENOTLEADER;
	if (q->change_step != CH_NONE)
		return -EBUSY;
	return 0;
}

int sl_quorum_add_voter(struct sl_quorum *q, int32_t id, const char *address,
			sl_quorum_change_cb cb, void *ctx)
{
	int rc = change_check(q, cb);
	if (rc)
		return rc;
	struct sl_voter v;
	if (id < 1 || sl_config_voter_address(address, &v) != 0)
		return -EINVAL;
	const struct raft_configuration *c = &q->raft.configuration;
	unsigned voters = 0;
	const struct raft_server *known = NULL;
	for (unsigned i = 0; i < c->n; i++) {
		voters += c->servers[i].role == RAFT_VOTER;
		if (c->servers[i].id == (raft_id)id)
			known = &c->servers[i];
		else if (!strcmp(c->servers[i].address, address))
			return -EEXIST; /* another id there */
	}
	if (known && known->role == RAFT_VOTER)
		return -EEXIST;
	if (known && strcmp(known->address, address) != 0)
		return -EADDRINUSE; /* a spare of an earlier try, elsewhere */
	if (voters >= SL_VOTERS_MAX)
		return -ENOSPC;
	q->change.data = q;
	int rv = known ? raft_assign(&q->raft, &q->change, (raft_id)id,
				     RAFT_VOTER, on_change) :
			 raft_add(&q->raft, &q->change, (raft_id)id, address,
				  on_change);
	if (rv)
		return change_errno(rv);
	q->change_step = known ? CH_ASSIGN : CH_ADD;
	q->change_fired = false;
	q->change_id = id;
	q->change_cb = cb;
	q->change_ctx = ctx;
	return 0;
}

int sl_quorum_remove_voter(struct sl_quorum *q, int32_t id,
			   sl_quorum_change_cb cb, void *ctx)
{
	int rc = change_check(q, cb);
	if (rc)
		return rc;
	const struct raft_configuration *c = &q->raft.configuration;
	unsigned voters = 0;
	bool known = false;
	for (unsigned i = 0; i < c->n; i++) {
		voters += c->servers[i].role == RAFT_VOTER;
		known |= c->servers[i].id == (raft_id)id;
	}
	if (!known)
		return -ENOENT;
	if (voters <= 1 && is_voter(q, (raft_id)id))
		return -ERANGE; /* the last voter */
	q->change.data = q;
	int rv = raft_remove(&q->raft, &q->change, (raft_id)id, on_change);
	if (rv)
		return change_errno(rv);
	q->change_step = CH_REMOVE;
	q->change_fired = false;
	q->change_id = id;
	q->change_cb = cb;
	q->change_ctx = ctx;
	return 0;
}

int sl_quorum_address_of(const struct sl_quorum *q, int32_t id, char *buf,
			 size_t len)
{
	const struct raft_configuration *c = &q->raft.configuration;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == (raft_id)id && id > 0) {
			if ((size_t)snprintf(buf, len, "%s",
					     c->servers[i].address) >= len)
				return -ENOSPC;
			return 0;
		}
	return -ENOENT;
}

bool sl_quorum_is_voter(const struct sl_quorum *q)
{
	return is_voter(q, (raft_id)q->node_id);
}

bool sl_quorum_joining(const struct sl_quorum *q)
{
	const struct raft_configuration *c = &q->raft.configuration;
	if (c->n == 0)
		return true;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == (raft_id)q->node_id)
			return c->servers[i].role != RAFT_VOTER;
	return false;
}

/* ---- running ---- */

int sl_quorum_fd(const struct sl_quorum *q)
{
	return uv_backend_fd(&q->loop);
}

int sl_quorum_timeout_ms(struct sl_quorum *q)
{
	if (q->done_head != NO_SLOT)
		return 0;
	uv_update_time(&q->loop);
	return uv_backend_timeout(&q->loop);
}

int sl_quorum_do_work(struct sl_quorum *q)
{
	int work = 0;
	for (int i = 0; i < RUNS_MAX && loop_ready(q); i++) {
		uv_run(&q->loop, UV_RUN_NOWAIT);
		work += 1 + maybe_barrier(q);
	}
	if (q->raft.log.snapshot.last_index > q->snapshot_index)
		q->snapshot_index = q->raft.log.snapshot.last_index;
	if (q->failed && !q->raft_closing) {
		/* fail-stop: leave the cluster now; destroy finishes it */
		q->raft_closing = true;
		raft_close(&q->raft, on_raft_closed);
		work++;
	}
	work += update_leadership(q);
	work += deliver_done(q);
	work += change_step(q);
	if (stopped(q))
		return SL_QUORUM_EFAILED;
	return work;
}

int sl_quorum_propose(struct sl_quorum *q, const void *entry, size_t len,
		      sl_quorum_propose_cb cb, void *cb_ctx)
{
	if (stopped(q))
		return SL_QUORUM_EFAILED;
	if (!cb || !entry || len == 0)
		return -EINVAL;
	if (len > SL_QUORUM_ENTRY_MAX)
		return -EMSGSIZE;
	if (!ready(q))
		return SL_QUORUM_ENOTLEADER;
	if (q->free_head == NO_SLOT)
		return -EBUSY;
	struct raft_buffer buf;
	buf.len = sl_quorum_entry_size(len);
	buf.base = raft_malloc(buf.len);
	if (!buf.base)
		return -ENOMEM;
	sl_quorum_entry_encode(buf.base, entry, len);
	uint32_t i = q->free_head;
	struct prop *p = &q->props[i];
	assert(p->state == PROP_FREE);
	p->cb = cb;
	p->cb_ctx = cb_ctx;
	p->req.data = p;
	int rc = raft_apply(&q->raft, &p->req, &buf, 1, on_applied);
	if (rc != 0) {
		raft_free(buf.base); /* not taken on error (raft.h) */
		p->cb = NULL;
		return rc == RAFT_NOTLEADER ? SL_QUORUM_ENOTLEADER :
		       rc == RAFT_NOMEM ? -ENOMEM : SL_QUORUM_EFAILED;
	}
	q->free_head = p->next;
	p->state = PROP_WAITING;
	p->next = NO_SLOT;
	q->inflight++;
	q->proposed++;
	return 0;
}

int sl_quorum_leader(struct sl_quorum *q, int32_t *id)
{
	*id = leader_now(q);
	return 0;
}

bool sl_quorum_is_leader(struct sl_quorum *q)
{
	return !stopped(q) && ready(q);
}

uint64_t sl_quorum_applied_index(const struct sl_quorum *q)
{
	/* libraft's own entries (configuration, barriers) advance
	 * last_applied without apply(); ours covers apply() and restore()
	 * as soon as they return. */
	uint64_t raft_applied = (uint64_t)q->raft.last_applied;
	return q->applied_index > raft_applied ? q->applied_index :
						 raft_applied;
}

static enum sl_quorum_role role_of(int state)
{
	switch (state) {
	case RAFT_FOLLOWER: return SL_QUORUM_FOLLOWER;
	case RAFT_CANDIDATE: return SL_QUORUM_CANDIDATE;
	case RAFT_LEADER: return SL_QUORUM_LEADER;
	default: return SL_QUORUM_UNAVAILABLE;
	}
}

void sl_quorum_status(struct sl_quorum *q, struct sl_quorum_status *st)
{
	memset(st, 0, sizeof(*st));
	st->node_id = q->node_id;
	st->role = stopped(q) ? SL_QUORUM_UNAVAILABLE :
				role_of(raft_state(&q->raft));
	st->leader_id = leader_now(q);
	st->is_leader = sl_quorum_is_leader(q);
	st->term = (uint64_t)q->raft.current_term;
	st->commit_index = (uint64_t)q->raft.commit_index;
	st->applied_index = sl_quorum_applied_index(q);
	st->last_index = (uint64_t)raft_last_index(&q->raft);
	st->snapshot_index = q->snapshot_index;
	if (q->raft.log.snapshot.last_index > st->snapshot_index)
		st->snapshot_index = q->raft.log.snapshot.last_index;
	st->inflight = q->inflight;
	const struct raft_configuration *c = &q->raft.configuration;
	bool leading = st->role == SL_QUORUM_LEADER;
	int64_t now = sl_wall_ms();
	for (unsigned i = 0; i < c->n && st->n_voters < SL_VOTERS_MAX; i++) {
		if (c->servers[i].role != RAFT_VOTER)
			continue;
		raft_id id = c->servers[i].id;
		struct sl_quorum_voter *v = &st->voters[st->n_voters++];
		v->id = id > INT32_MAX ? -1 : (int32_t)id;
		snprintf(v->address, sizeof(v->address), "%s",
			 c->servers[i].address);
		v->log_end = v->contact_ms = v->caught_up_ms = -1;
		if (!leading)
			continue;
		if (id == (raft_id)q->node_id) {
			v->log_end = (int64_t)st->last_index;
			v->caught_up_ms = now;
			continue;
		}
		int slot = voter_slot(q, id, false);
		const struct peer *p = slot >= 0 ? &q->peers[slot] : NULL;
		if (!p || p->term != st->term)
			continue; /* not heard from in this term */
		v->log_end = (int64_t)q->raft.leader_state.progress[i]
				     .match_index;
		v->contact_ms = p->contact_ms;
		v->caught_up_ms = p->caught_up_ms;
	}
	assert(st->n_voters <= SL_VOTERS_MAX);
	st->proposed = q->proposed;
	st->applied_ok = q->applied_ok;
	st->lost = q->lost;
	st->canceled = q->canceled;
	st->snapshots_taken = q->snapshots_taken;
	st->restores = q->restores;
	st->leader_changes = q->leader_changes;
}

const char *sl_quorum_role_name(enum sl_quorum_role role)
{
	switch (role) {
	case SL_QUORUM_FOLLOWER: return "follower";
	case SL_QUORUM_CANDIDATE: return "candidate";
	case SL_QUORUM_LEADER: return "leader";
	default: return "unavailable";
	}
}

const char *sl_quorum_errmsg(const struct sl_quorum *q)
{
	return q->errmsg[0] ? q->errmsg : q->raft.errmsg;
}

const char *sl_quorum_strerror(int rc)
{
	switch (rc) {
	case SL_QUORUM_ENOTLEADER:
		return "not the metadata log's leader (or not caught up as "
		       "one yet): ask the leader";
	case SL_QUORUM_ELOST:
		return "leadership lost before the entry was applied: it may "
		       "still be committed by the next leader";
	case SL_QUORUM_ECANCELED:
		return "the Raft node closed before the entry was applied";
	case SL_QUORUM_EFAILED:
		return "the Raft node stopped (state machine or disk failure)";
	default:
		return strerror(rc < 0 ? -rc : rc);
	}
}
