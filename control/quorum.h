/*
 * The metadata log's Raft node (docs/cluster.md, "The metadata log"):
 * canonical raft 0.15 with its libuv I/O (raft_uv: the log and snapshots
 * in one directory) and TCP transport (raft_uv_tcp), embedded in the
 * caller's single-threaded poll() loop.
 *
 * The state machine is the caller's, reached through four callbacks:
 * apply() every committed command entry, in log order, on every node;
 * snapshot() and restore() its whole state; leader_changed() when this
 * node's view of the leader changes.  quorum.c knows nothing of what an
 * entry means.
 *
 * Embedding.  The node owns a uv_loop_t that it never blocks in.  The
 * caller polls sl_quorum_fd() for POLLIN with a timeout of at most
 * sl_quorum_timeout_ms(), then calls sl_quorum_do_work(), which runs the
 * loop without waiting.  Everything (apply, proposal callbacks,
 * leader_changed) happens inside sl_quorum_do_work(), sl_quorum_create()
 * (restore of the latest local snapshot only) or sl_quorum_destroy()
 * (cancelled proposals only).  quorum starts no thread, but libuv's
 * process-wide thread pool (UV_THREADPOOL_SIZE, 4 by default, started on
 * first use) does raft_uv's file work (segment creation, snapshot writes,
 * writes where kernel AIO is unavailable) and wakes the loop through the
 * polled descriptor; no quorum code or callback ever runs on it.
 *
 * Start-up.  A node whose dir holds no Raft state bootstraps with the
 * configured voters: every voter does so with the same list, which makes
 * the same first entry (index 1, the configuration) on each.  A node with
 * state keeps the configuration in its log and ignores the voters given,
 * except that its own id must be in the stored configuration at the
 * address the voters give it (otherwise sl_quorum_create fails saying
 * what differs: the dir belongs to another node or cluster, or the node
 * moved).  Wiping a voter's dir loses its vote record: harmless for one
 * node, unsafe for a majority at once.
 *
 * Leadership.  A node presents itself as leader (sl_quorum_is_leader,
 * sl_quorum_leader, leader_changed's self) only once a barrier entry of
 * its own term has been applied locally: by then its state machine holds
 * every entry committed under earlier leaders, so decisions made from it
 * are current.  Between winning the election and that point (one round
 * trip) the node reports no leader (-1) and refuses proposals with
 * SL_QUORUM_ENOTLEADER.  Followers name the leader as soon as they hear
 * from it, so a request forwarded in that window is refused once.
 *
 * Proposals.  sl_quorum_propose() on the leader copies the entry into the
 * log; its callback runs exactly once: status 0 with the entry's index
 * after the entry is committed and applied here (later entries may have
 * been applied too); SL_QUORUM_ELOST when this node stops being leader
 * first (the entry may still be committed by the next leader: apply()
 * sees it then on every node, so the state machine must tolerate a
 * record proposed twice); SL_QUORUM_ECANCELED when the node is destroyed
 * first.  Callbacks run from sl_quorum_do_work() (or sl_quorum_destroy())
 * outside libraft, so they may propose again.
 *
 * libraft 0.15 (Debian 12's), what quorum does about its known faults:
 *   - its TCP transport garbles entries whose length is not a multiple of
 *     8: quorum wraps every entry in an envelope padded to 8 with a CRC
 *     (quorum_envelope.c), so apply() sees exact bytes or the node stops;
 *   - it ignores an apply() error on some paths and goes on: quorum stops
 *     the node itself (fail-stop) so that no later entry is applied;
 *   - a new leader can commit entries of earlier terms by counting
 *     replicas until an entry of its own term is stored (Raft's figure 8;
 *     fixed upstream in 0.17.1): quorum appends its barrier right after
 *     the election pass, which narrows that window but cannot close it;
 *   - a follower whose disk writes lag may compute its commit index from
 *     a log it has not stored yet (fixed upstream in 0.18.0).
 * The last two need failures at unlucky moments to matter; a newer
 * libraft removes them without any change here.  Not offered: hosts other
 * than IPv4 addresses (raft_uv_tcp parses nothing else).
 *
 * Membership (Kafka's AddRaftVoter and RemoveRaftVoter, KIP-853, without
 * directory ids).  The configuration in the log is the truth once a node
 * has state; the voters given only bootstrap a fresh dir.  A node joining
 * later is created with join set (its own id and address among the
 * voters given): it does not bootstrap and waits, a member of nothing,
 * until the leader adds it (sl_quorum_add_voter: libraft adds it as a
 * spare, catches its log up in rounds, then makes it a voter, one
 * configuration entry each).  sl_quorum_remove_voter takes a voter out;
 * a leader that removes itself steps down once the entry commits.  A
 * node removed keeps running but hears from no leader; restarted, its
 * dir (a configuration without it) makes sl_quorum_create fail saying
 * so.
 *
 * Errors: -errno or one of the SL_QUORUM_E* below (negative errno values
 * given names here; sl_quorum_strerror() says what each means).
 *
 * Threads: one.  Every function is called from the thread that created
 * the node.  The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)
 * before sl_quorum_create, which refuses otherwise): libuv writes to
 * peers' sockets with write(), and a peer that died would kill us.
 */
#ifndef SLUICE_CONTROL_QUORUM_H
#define SLUICE_CONTROL_QUORUM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/config.h" /* struct sl_voter, SL_VOTERS_MAX */

/* Not the leader (or not yet caught up as one): ask sl_quorum_leader()
 * for where to go, -1 when none is known yet. */
#define SL_QUORUM_ENOTLEADER (-EREMOTE)
/* A proposal's leadership ended before it was applied here; it may still
 * commit under the next leader. */
#define SL_QUORUM_ELOST (-ECONNABORTED)
/* A proposal outlived its node (sl_quorum_destroy). */
#define SL_QUORUM_ECANCELED (-ECANCELED)
/* The node stopped (apply() failed, a committed entry was damaged, or
 * the disk failed) and has left the cluster; only sl_quorum_destroy() is
 * left to do (sluice-control exits: a restart replays the log). */
#define SL_QUORUM_EFAILED (-EIO)

#define SL_QUORUM_INFLIGHT 1024            /* proposals awaiting callbacks */
#define SL_QUORUM_ENTRY_MAX (1u << 20)     /* bytes in one entry */
#define SL_QUORUM_ADDRESS_MAX 80           /* "a.b.c.d:port" and its NUL */
#define SL_QUORUM_SNAPSHOT_THRESHOLD 1024  /* defaults of the config's 0 */
#define SL_QUORUM_SNAPSHOT_TRAILING 128
#define SL_QUORUM_ELECTION_TIMEOUT_MS 1000
#define SL_QUORUM_HEARTBEAT_TIMEOUT_MS 100

struct sl_quorum;

/*
 * The state machine.  apply, snapshot and restore run inside libraft:
 * they must not call sl_quorum_propose or sl_quorum_destroy (the read-only
 * getters are fine).  All four get cfg.ctx.
 *
 * apply: one committed command entry (len >= 1 bytes, valid during the
 *   call only) at log index `index`; indexes grow strictly, with gaps
 *   where libraft's own entries (configuration, barriers) sit.  Return 0
 *   when the entry is applied.  A record the state machine refuses must
 *   still return 0 (refused the same way on every node, changing
 *   nothing): a non-zero return stops this node for good
 *   (SL_QUORUM_EFAILED; no entry is applied after it), for failures no
 *   other node would have, such as running out of memory.
 * snapshot: the whole state as of `index` (the last applied index) in a
 *   buffer from malloc(), which quorum frees with free() (*buf may be
 *   NULL when *len is 0).  Return 0, or non-zero to skip this snapshot
 *   (libraft tries again after more entries).
 * restore: replace the whole state with one snapshot()'s bytes (valid
 *   during the call only), taken at `index`.  Called from
 *   sl_quorum_create with the latest local snapshot, and from
 *   sl_quorum_do_work when the leader sends one to a node too far
 *   behind.  Return 0, or non-zero when the bytes are unusable, leaving
 *   the state as it was (at create: sl_quorum_create fails; later:
 *   libraft refuses that snapshot and the leader sends it again).
 * leader_changed (optional): the known leader is now leader_id (-1: none
 *   known), self true when that is this node, caught up (see
 *   "Leadership").  Called from sl_quorum_do_work only, on each change.
 */
typedef int (*sl_quorum_apply_fn)(void *ctx, const void *entry, size_t len,
				  uint64_t index);
typedef int (*sl_quorum_snapshot_fn)(void *ctx, uint64_t index, void **buf,
				     size_t *len);
typedef int (*sl_quorum_restore_fn)(void *ctx, const void *buf, size_t len,
				    uint64_t index);
typedef void (*sl_quorum_leader_fn)(void *ctx, int32_t leader_id, bool self);

struct sl_quorum_config {
	int32_t node_id;             /* >= 1, one of the voters' ids */
	const char *dir;             /* raft_uv's directory (e.g.
					<control_dir>/raft), made if missing,
					parent included */
	const struct sl_voter *voters; /* 1..SL_VOTERS_MAX, distinct ids
					  and addresses, hosts IPv4 dotted
					  quads (raft_uv_tcp takes nothing
					  else); each listens for Raft on
					  host:port */
	unsigned n_voters;
	sl_quorum_apply_fn apply;          /* required */
	sl_quorum_snapshot_fn snapshot;    /* required */
	sl_quorum_restore_fn restore;      /* required */
	sl_quorum_leader_fn leader_changed; /* may be NULL */
	void *ctx;
	uint32_t snapshot_threshold;   /* applied entries between snapshots,
					  0: SL_QUORUM_SNAPSHOT_THRESHOLD */
	uint32_t snapshot_trailing;    /* entries kept in the log behind a
					  snapshot, 0: ..._TRAILING */
	uint32_t election_timeout_ms;  /* base (libraft draws 1x..2x), 0:
					  ..._ELECTION_TIMEOUT_MS */
	uint32_t heartbeat_timeout_ms; /* 0: ..._HEARTBEAT_TIMEOUT_MS; must
					  stay below the election timeout */
	bool join;                     /* a fresh dir is not bootstrapped:
					  the node waits to be added (see
					  "Membership") */
};

/*
 * Open (bootstrapping if new, see "Start-up") and start the node: it
 * listens on its voter's host:port and joins elections from the next
 * sl_quorum_do_work.  Copies cfg (voters included; dir too).  Returns 0
 * with *out, or -EINVAL (cfg invalid, SIGPIPE not ignored, the dir's
 * state disagrees with node_id/voters), -errno / SL_QUORUM_EFAILED
 * (the dir, the port, restore()), with one line in err saying what.
 */
int sl_quorum_create(const struct sl_quorum_config *cfg, struct sl_quorum **out,
		     char *err, size_t errlen);

/*
 * Close the node in order: libraft closes (outstanding disk writes
 * finish, connections close), the loop drains (bounded: 10 s), and every
 * proposal still waiting gets its callback with SL_QUORUM_ECANCELED (or
 * its result, if it had one not yet delivered); those callbacks must not
 * call sl_quorum functions.  Blocks for as long as the drain takes
 * (normally milliseconds).  NULL is fine.
 */
void sl_quorum_destroy(struct sl_quorum *q);

/* The descriptor to poll for POLLIN (libuv's epoll instance). */
int sl_quorum_fd(const struct sl_quorum *q);

/* Milliseconds until sl_quorum_do_work has timed work (0: now), or -1
 * for none (never, while the node runs: libraft ticks). */
int sl_quorum_timeout_ms(struct sl_quorum *q);

/*
 * One duty cycle: run the loop without waiting (at most 8 passes while it
 * has something ready), deliver proposal callbacks, report leadership
 * changes.  Returns the work done (>= 0), or SL_QUORUM_EFAILED once the
 * node has stopped (sl_quorum_errmsg says why).
 */
int sl_quorum_do_work(struct sl_quorum *q);

/*
 * Propose one entry (len 1..SL_QUORUM_ENTRY_MAX bytes, copied).  Returns
 * 0 (cb will be called once, see "Proposals"), SL_QUORUM_ENOTLEADER,
 * -EBUSY (SL_QUORUM_INFLIGHT proposals wait), -EMSGSIZE, -EINVAL (len 0,
 * cb NULL), -ENOMEM, SL_QUORUM_EFAILED.  On error cb is not called.
 */
typedef void (*sl_quorum_propose_cb)(void *cb_ctx, int status,
				     uint64_t index);
int sl_quorum_propose(struct sl_quorum *q, const void *entry, size_t len,
		      sl_quorum_propose_cb cb, void *cb_ctx);

/* The leader as this node knows it (see "Leadership"): 0 with *id, the
 * leader's id or -1 when none is known. */
int sl_quorum_leader(struct sl_quorum *q, int32_t *id);
bool sl_quorum_is_leader(struct sl_quorum *q);
/* The highest index applied to the state machine here (the index being
 * applied minus one, inside apply()). */
uint64_t sl_quorum_applied_index(const struct sl_quorum *q);

enum sl_quorum_role {
	SL_QUORUM_UNAVAILABLE, /* stopped (or not started) */
	SL_QUORUM_FOLLOWER,
	SL_QUORUM_CANDIDATE,
	SL_QUORUM_LEADER,      /* Raft leader (maybe not yet caught up) */
};

/* One voter as this node sees it: its replication is known to the Raft
 * leader only (Kafka's DescribeQuorum ReplicaState); -1 on other nodes,
 * and for a voter not heard from in the leader's term.  Sampled when its
 * AppendEntries replies arrive. */
struct sl_quorum_voter {
	int32_t id;
	char address[SL_QUORUM_ADDRESS_MAX];
	int64_t log_end;      /* entries it holds (its match index; this
				 node: last_index) */
	int64_t contact_ms;   /* wall clock (CLOCK_REALTIME) of its latest
				 AppendEntries reply; this node: -1 */
	int64_t caught_up_ms; /* wall clock when it last held this leader's
				 last entry; this node: now */
};

/*
 * Membership changes, on the leader (see "Membership"), one at a time.
 * Both return 0 (cb is called once from sl_quorum_do_work, or from
 * sl_quorum_destroy with SL_QUORUM_ECANCELED: status 0 once the new
 * configuration is committed, SL_QUORUM_ENOTLEADER when leadership was
 * lost first, -ETIMEDOUT when the node to add did not catch up (libraft's
 * rounds: it is left a spare, and adding it again resumes), -errno),
 * or without calling cb: SL_QUORUM_ENOTLEADER, -EBUSY (a change is under
 * way), -EINVAL (bad id or address), -EEXIST (already a voter, or another
 * id at that address), -EADDRINUSE (a spare of that id at another
 * address: remove it first), -ENOSPC (SL_VOTERS_MAX voters), -ENOENT (no
 * such server), -ERANGE (removing the last voter), SL_QUORUM_EFAILED.
 * address is "a.b.c.d:port", the node's Raft listener.
 */
typedef void (*sl_quorum_change_cb)(void *ctx, int status);
int sl_quorum_add_voter(struct sl_quorum *q, int32_t id, const char *address,
			sl_quorum_change_cb cb, void *ctx);
int sl_quorum_remove_voter(struct sl_quorum *q, int32_t id,
			   sl_quorum_change_cb cb, void *ctx);
/* Server id's Raft address in the configuration in the log: 0, -ENOENT
 * (not in it), -ENOSPC (len too small). */
int sl_quorum_address_of(const struct sl_quorum *q, int32_t id, char *buf,
			 size_t len);
/* Is this node a voter of the configuration in the log? */
bool sl_quorum_is_voter(const struct sl_quorum *q);
/* Not a voter yet: no configuration at all (created with join, not
 * added), or in it as a spare being caught up. */
bool sl_quorum_joining(const struct sl_quorum *q);

/* For `sluice cluster status`: everything is this node's view. */
struct sl_quorum_status {
	int32_t node_id;
	enum sl_quorum_role role;
	int32_t leader_id;        /* as sl_quorum_leader */
	bool is_leader;           /* as sl_quorum_is_leader */
	uint64_t term;
	uint64_t commit_index;    /* highest index known committed */
	uint64_t applied_index;
	uint64_t last_index;      /* last index in the local log */
	uint64_t snapshot_index;  /* last index covered by the latest
				     snapshot, 0: none yet */
	unsigned inflight;        /* proposals awaiting callbacks */
	unsigned n_voters;        /* the configuration in the log */
	struct sl_quorum_voter voters[SL_VOTERS_MAX];
	/* counters since create */
	uint64_t proposed, applied_ok, lost, canceled, snapshots_taken,
		restores, leader_changes;
};
void sl_quorum_status(struct sl_quorum *q, struct sl_quorum_status *st);
const char *sl_quorum_role_name(enum sl_quorum_role role);

/* What went wrong last: a callback's failure (apply, restore, a damaged
 * snapshot) or else libraft's latest message; "" if nothing. */
const char *sl_quorum_errmsg(const struct sl_quorum *q);

/* A sentence for rc: the SL_QUORUM_E* codes in quorum's words, anything
 * else as strerror.  Static. */
const char *sl_quorum_strerror(int rc);

#endif
