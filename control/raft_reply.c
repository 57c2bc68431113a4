/*
 * A correction of libraft's heartbeat reply: control/raft_reply.h.
 */
#include "control/raft_reply.h"

void sl_raft_reply_recv(struct sl_raft_reply *f, struct raft_io *io,
			struct raft_message *m)
{
	if (m->type != RAFT_IO_APPEND_ENTRIES) {
		f->recv(io, m);
		return;
	}
	f->in_append = true;
	f->checked = m->append_entries.prev_log_index +
		     m->append_entries.n_entries;
	f->recv(io, m);
	f->in_append = false;
}

const struct raft_message *sl_raft_reply_send(struct sl_raft_reply *f,
					      const struct raft_message *m,
					      struct raft_message *scratch)
{
	if (!f->in_append || m->type != RAFT_IO_APPEND_ENTRIES_RESULT ||
	    m->append_entries_result.rejected != 0 ||
	    m->append_entries_result.last_log_index <= f->checked)
		return m;
	*scratch = *m;
	scratch->append_entries_result.last_log_index = f->checked;
	f->fixed++;
	return scratch;
}
