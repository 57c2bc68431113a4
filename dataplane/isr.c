/*
 * The leader's view of a partition's replicas (isr.h).  Sets are at most
 * ISR_REPLICAS_MAX long: linear scans.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "dataplane/isr.h"

static int find(const int32_t *ids, unsigned n, int32_t node)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == node)
			return (int)i;
	return -1;
}

static int replica_at(const struct isr_set *s, int32_t node)
{
	for (unsigned i = 0; i < s->nreplicas; i++)
		if (s->r[i].node == node)
			return (int)i;
	return -1;
}

bool isr_is_replica(const struct isr_set *s, int32_t node)
{
	return replica_at(s, node) >= 0;
}

bool isr_in_sync(const struct isr_set *s, int32_t node)
{
	return find(s->isr, s->nisr, node) >= 0;
}

static void forget(struct isr_replica *r, int32_t node, bool in_sync,
		   uint64_t now_ns)
{
	*r = (struct isr_replica){ .node = node, .fetch_offset = -1,
				   .last_caught_up_ns = in_sync ? now_ns : 0,
				   .last_fetch_leo = -1 };
}

void isr_init_single(struct isr_set *s, int32_t self)
{
	memset(s, 0, sizeof(*s));
	s->self = self;
	s->leader = self;
	s->nreplicas = s->nisr = 1;
	s->min_isr = 1;
	forget(&s->r[0], self, true, 0);
	s->isr[0] = self;
}

int isr_apply(struct isr_set *s, int32_t leader, int32_t leader_epoch,
	      int32_t partition_epoch, const int32_t *replicas, uint8_t nr,
	      const int32_t *isr, uint8_t ni, uint8_t min_isr,
	      int64_t log_end, uint64_t now_ns)
{
	if (nr > ISR_REPLICAS_MAX || ni > nr)
		return -EINVAL;
	for (unsigned i = 0; i < nr; i++)
		if (find(replicas, i, replicas[i]) >= 0)
			return -EINVAL;
	for (unsigned i = 0; i < ni; i++)
		if (find(isr, i, isr[i]) >= 0 || find(replicas, nr, isr[i]) < 0)
			return -EINVAL;
	if (leader != -1 && find(replicas, nr, leader) < 0)
		return -EINVAL;
	bool leads = leader == s->self;
	bool new_epoch = leads && (s->leader != s->self ||
				   s->leader_epoch != leader_epoch);
	struct isr_replica was[ISR_REPLICAS_MAX];
	uint8_t nwas = s->nreplicas;
	memcpy(was, s->r, sizeof(was));
	for (unsigned i = 0; i < nr; i++) {
		bool in_sync = find(isr, ni, replicas[i]) >= 0;
		int k = -1;
		for (unsigned j = 0; j < nwas && k < 0; j++)
			if (was[j].node == replicas[i])
				k = (int)j;
		if (k >= 0 && !new_epoch)
			s->r[i] = was[k];
		else
			forget(&s->r[i], replicas[i], in_sync, now_ns);
	}
	s->nreplicas = nr;
	memcpy(s->isr, isr, ni * sizeof(*isr));
	s->nisr = ni;
	s->min_isr = min_isr;
	s->leader = leader;
	s->leader_epoch = leader_epoch;
	s->partition_epoch = partition_epoch;
	if (new_epoch)
		s->epoch_start = log_end;
	return new_epoch ? 1 : 0;
}

int64_t isr_high_watermark(const struct isr_set *s, int64_t own_end)
{
	int64_t hw = own_end;
	for (unsigned i = 0; i < s->nisr; i++) {
		if (s->isr[i] == s->self)
			continue;
		int k = replica_at(s, s->isr[i]);
		assert(k >= 0); /* isr_apply: in-sync nodes are replicas */
		int64_t f = s->r[k].fetch_offset;
		if (f < 0)
			return -1;
		if (f < hw)
			hw = f;
	}
	return hw;
}

int isr_on_fetch(struct isr_set *s, int32_t node, int64_t fetch_offset,
		 int64_t leader_end, uint64_t now_ns)
{
	int k = replica_at(s, node);
	if (k < 0 || node == s->self)
		return -ENOENT;
	struct isr_replica *r = &s->r[k];
	if (fetch_offset >= leader_end)
		r->last_caught_up_ns = now_ns;
	else if (r->last_fetch_leo >= 0 && fetch_offset >= r->last_fetch_leo &&
		 r->last_fetch_ns > r->last_caught_up_ns)
		r->last_caught_up_ns = r->last_fetch_ns;
	r->fetch_offset = fetch_offset;
	r->last_fetch_leo = leader_end;
	r->last_fetch_ns = now_ns;
	return 0;
}

int isr_shrink(const struct isr_set *s, uint64_t now_ns, uint64_t lag_ns,
	       int32_t *out, uint8_t *nout)
{
	uint8_t n = 0;
	int gone = 0;
	for (unsigned i = 0; i < s->nisr; i++) {
		int32_t node = s->isr[i];
		int k = replica_at(s, node);
		bool lagging = node != s->self && k >= 0 &&
			       now_ns - s->r[k].last_caught_up_ns > lag_ns;
		if (lagging)
			gone++;
		else
			out[n++] = node;
	}
	*nout = n;
	return gone;
}

int isr_expand(const struct isr_set *s, int32_t node, int64_t hw,
	       int32_t *out, uint8_t *nout)
{
	int k = replica_at(s, node);
	if (k < 0 || node == s->self || isr_in_sync(s, node) ||
	    s->nisr >= ISR_REPLICAS_MAX)
		return 0;
	int64_t f = s->r[k].fetch_offset;
	if (f < 0 || f < hw || f < s->epoch_start)
		return 0;
	memcpy(out, s->isr, s->nisr * sizeof(*out));
	out[s->nisr] = node;
	*nout = (uint8_t)(s->nisr + 1);
	return 1;
}
