/*
 * Hand-offs between threads: a net core submits typed requests to the
 * storage core owning a partition (its ring, created on first use) or to
 * the main thread (admin requests for control), and whoever served a
 * request hands it back to the net core that made it (its completion
 * ring).  Each side is woken through its eventfd only when it sleeps.
 *
 * This file knows the rings and the wake-ups, nothing of what a request
 * means: it sits below the front-ends, the net cores, the storage cores
 * and the control socket, and calls none of them.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/net.h"

void dp_wake_fd(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a wake-up is pending */
	}
}

void dp_store_wake(struct dp_store_core *c)
{
	/* seq_cst: pairs with the core's seq_cst store of sleeping=1 before
	 * it re-checks its rings (Dekker): either it sees our enqueue or we
	 * see it sleeping. */
	if (atomic_load(&c->sleeping))
		dp_wake_fd(c->wake_fd);
}

/* What a ring costs the memory budget. */
size_t dp_ring_bytes(const struct dp *dp)
{
	return sizeof(struct dp_ring) + (size_t)dp->cfg.ring_slots * sizeof(void *);
}

struct dp_ring *dp_part_ring(struct dp *dp, struct dp_partition *p)
{
	/* acquire: pairs with the release half of the CAS below */
	struct dp_ring *r = atomic_load_explicit(&p->ring, memory_order_acquire);
	if (r)
		return r;
	size_t bytes = dp_ring_bytes(dp);
	/* relaxed: the budget is a bound, not a synchronisation point
	 * (msg.c dp_msg_alloc) */
	uint64_t used = atomic_fetch_add_explicit(&dp->mem_used, bytes,
						  memory_order_relaxed);
	if (used + bytes > dp->mem_limit - dp->mem_limit / 16 ||
	    dp_ring_create(dp->cfg.ring_slots, &r) < 0) {
		atomic_fetch_sub_explicit(&dp->mem_used, bytes,
					  memory_order_relaxed);
		return NULL;
	}
	struct dp_ring *none = NULL;
	/* acq_rel: publishes the ring (pairs with the acquire loads of
	 * net cores and the owner) or sees the one another net core
	 * published */
	if (!atomic_compare_exchange_strong_explicit(&p->ring, &none, r,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		dp_ring_destroy(r);
		atomic_fetch_sub_explicit(&dp->mem_used, bytes,
					  memory_order_relaxed);
		return none;
	}
	return r;
}

int dp_store_submit(struct dp_net *n, struct dp_partition *p,
		    struct dp_msg *m)
{
	void *obj = m;
	assert(m->net == n && m->op != DP_ADMIN &&
	       m->op >= DP_PRODUCE && m->op <= DP_OP_LAST);
	m->part = p;
	struct dp_ring *r = dp_part_ring(n->dp, p);
	if (!r) {
		n->st.budget_exhausted++;
		return -ENOBUFS;
	}
	if (dp_ring_enqueue_burst(r, &obj, 1) != 1)
		return -ENOBUFS;
	/* woken once at the end of the net core's cycle */
	n->core_touched[p->core] = 1;
	return 0;
}

int dp_admin_submit(struct dp *dp, struct dp_msg *m, uint8_t protocol,
		    uint32_t headroom, const uint8_t *req, size_t len)
{
	void *obj = m;
	assert(m->op == DP_ADMIN);
	m->rq.admin.protocol = protocol;
	m->rq.admin.headroom = headroom;
	m->req = m->data;
	m->req_len = (uint32_t)len;
	memcpy(m->req, req, len);
	/* acquire: pairs with the main thread's release store after
	 * SYNC_DONE */
	if (!atomic_load_explicit(&dp->control_synced, memory_order_acquire))
		return -EAGAIN;
	if (dp_ring_enqueue_burst(dp->admin_ring, &obj, 1) != 1)
		return -ENOBUFS;
	dp_wake_fd(dp->main_wake_fd);
	return 0;
}

void dp_admin_complete(struct dp *dp, struct dp_msg *m,
		       const uint8_t *answer, size_t len, int16_t err)
{
	uint32_t head = m->rq.admin.headroom;
	assert(m->op == DP_ADMIN);
	m->res.bytes = NULL;
	m->res.bytes_len = 0;
	m->res.error = err;
	if (!err && answer && len && !dp_msg_resp(dp, m, head + len)) {
		memcpy(m->resp + head, answer, len);
		m->res.bytes = m->resp + head;
		m->res.bytes_len = (uint32_t)len;
	} else if (!err) {
		m->res.error = SN_ERR_UNKNOWN_SERVER_ERROR;
	}
	dp_complete(m);
}

void dp_complete(struct dp_msg *m)
{
	struct dp_net *n = m->net;
	void *obj = m;
	if (!m->done) {
		dp_msg_free(m); /* nobody waits for it */
		return;
	}
	/* bounded: the completion ring is larger than every partition ring
	 * can hold in flight; spin only if it is momentarily full */
	for (unsigned i = 0; dp_ring_enqueue_burst(n->completions, &obj, 1) != 1;
	     i++) {
		if (i > 100000) {
			dp_msg_free(m); /* the net core is gone (shutdown) */
			return;
		}
		usleep(10);
	}
	/* seq_cst: pairs with the net core's seq_cst store of sleeping
	 * before it re-checks the ring */
	if (atomic_load(&n->sleeping))
		dp_wake_fd(n->wake_fd);
}
