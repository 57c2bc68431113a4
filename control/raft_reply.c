/*
 * Corrections of libraft's AppendEntries replies: control/raft_reply.h.
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
	f->prev = m->append_entries.prev_log_index;
	f->term = m->append_entries.term;
	f->recv(io, m);
	f->in_append = false;
}

const struct raft_message *sl_raft_reply_send(struct sl_raft_reply *f,
					      const struct raft_message *m,
					      struct raft_message *scratch)
{
	if (!f->in_append || m->type != RAFT_IO_APPEND_ENTRIES_RESULT)
		return m;
	const struct raft_append_entries_result *r = &m->append_entries_result;
	/* a rejection for want of the previous entry (libraft names it),
	 * not for the term (the reply's term would be newer), that the
	 * follower's stored snapshot covers */
	if (r->rejected != 0) {
		const struct raft *raft = f->raft;
		if (!raft || r->rejected != f->prev || r->term != f->term ||
		    raft->current_term != f->term ||
		    raft->snapshot.put.data != NULL ||
		    f->prev >= raft->log.snapshot.last_index)
			return m;
		*scratch = *m;
		scratch->append_entries_result.rejected = 0;
		scratch->append_entries_result.last_log_index =
			raft->log.snapshot.last_index;
		f->covered++;
		return scratch;
	}
	if (r->last_log_index <= f->checked)
		return m;
	*scratch = *m;
	scratch->append_entries_result.last_log_index = f->checked;
	f->fixed++;
	return scratch;
}
