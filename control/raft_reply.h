/*
 * A correction of libraft's heartbeat reply (docs/testing.md, "libraft
 * 0.15's heartbeat reply"), applied between a raft node and its raft_io.
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
	bool in_append;             /* inside recv of an AppendEntries */
	raft_index checked;         /* that request's last index */
	uint64_t fixed;             /* replies corrected so far */
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
