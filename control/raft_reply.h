/*
 * Two corrections of libraft's AppendEntries replies (docs/testing.md,
 * "libraft 0.15's heartbeat reply" and "A follower whose snapshot is
 * ahead"), applied between a raft node and its raft_io.
 *
 * libraft 0.15 (and the versions after it, as far as 0.18.1) answers an
 * AppendEntries whose previous entry matches and that brings nothing new
 * to write with the follower's own last stored index, not the last index
 * the request let it check (recv_append_entries.c).  A follower that
 * still holds an uncommitted entry of an older term past that point is
 * then counted as holding the leader's entry there: the leader may commit
 * on a majority that does not have its entry (two nodes then hold
 * different committed entries at one index), and it ignores that
 * follower's later rejections, so the follower never catches up.  The
 * deterministic simulation (tests/control/cluster_sim_test.c) finds both.
 *
 * The correction: while a node handles an AppendEntries (its recv
 * callback), a success reply it sends at once says it matches the leader
 * up to the request's last entry (prev_log_index + n_entries), Raft's
 * "index of last new entry", whenever it said more.  A reply sent later,
 * after the follower wrote new entries, is left as it is (the written
 * entries end its log).
 *
 * The second: libraft 0.15 rejects an AppendEntries whose previous entry
 * is below the follower's log and is not its snapshot's last entry (no
 * term to compare), even when the follower's snapshot covers it.  A
 * follower that restarted from a snapshot newer than the leader's then
 * rejects every probe the leader sends below its log, and answers the
 * leader's own (older) snapshot as installed at that snapshot's index:
 * the leader probes from there again, and the two cycle without end (the
 * simulation found it: a follower crashed right after its snapshot).
 * Every entry up to the follower's snapshot is committed, and the leader
 * holds every committed entry (Raft's leader completeness), so the
 * follower matches the leader there: a rejection of a request of the
 * follower's current term whose previous entry lies below its snapshot
 * is sent as a success up to the snapshot's last index, which is durable
 * (a snapshot is stored before libraft takes it as its own, and one
 * being installed is left alone).  The leader then sends what follows.
 *
 * Used by control/quorum.c over raft_uv, and by the simulation over
 * libraft's fixture.  Single thread: the raft node's.
 */
#ifndef SLUICE_CONTROL_RAFT_REPLY_H
#define SLUICE_CONTROL_RAFT_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>

struct sl_raft_reply {
	raft_io_recv_cb recv;       /* libraft's own, which the wrapper calls */
	const struct raft *raft;    /* the node (its term and snapshot) */
	bool in_append;             /* inside recv of an AppendEntries */
	raft_index checked;         /* that request's last index */
	raft_index prev;            /* and its previous entry's */
	raft_term term;             /* and its term */
	uint64_t fixed;             /* heartbeat replies corrected so far */
	uint64_t covered;           /* rejections answered by the snapshot */
};

/* Call from the raft_io's recv wrapper: hands m to f->recv, noting an
 * AppendEntries' last index while it is handled. */
void sl_raft_reply_recv(struct sl_raft_reply *f, struct raft_io *io,
			struct raft_message *m);

/* Call from the raft_io's send wrapper: the message to send, either m or
 * the corrected copy in *scratch. */
const struct raft_message *sl_raft_reply_send(struct sl_raft_reply *f,
					      const struct raft_message *m,
					      struct raft_message *scratch);

#endif
