/*
 * The leader-epoch cache (epoch_cache.h).  The entries are few (one per
 * leadership change that wrote), so lookups scan from the newest end,
 * where the answers almost always are.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/epoch_cache.h"

void epc_init(struct epoch_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void epc_fini(struct epoch_cache *c)
{
	free(c->e);
	epc_init(c);
}

void epc_reset(struct epoch_cache *c)
{
	c->n = 0;
}

int32_t epc_latest(const struct epoch_cache *c)
{
	return c->n ? c->e[c->n - 1].epoch : -1;
}

/* Room for one entry more: grown, or the oldest forgotten. */
static bool make_room(struct epoch_cache *c)
{
	if (c->n < c->cap)
		return true;
	if (c->cap < EPC_MAX) {
		uint32_t cap = c->cap ? c->cap * 2 : 4;
		struct epc_entry *e = realloc(c->e, cap * sizeof(*e));
		if (e) {
			c->e = e;
			c->cap = cap;
			return true;
		}
		if (!c->n) {
			c->dropped++;
			return false; /* nothing to forget: this one is lost */
		}
	}
	/* full (or no memory): the oldest goes */
	memmove(c->e, c->e + 1, (c->n - 1) * sizeof(*c->e));
	c->n--;
	c->dropped++;
	return true;
}

int epc_assign(struct epoch_cache *c, int32_t epoch, int64_t start_offset)
{
	if (epoch < 0 || start_offset < 0)
		return 0;
	int32_t latest = epc_latest(c);
	if (epoch == latest)
		return 0;
	if (epoch < latest) {
		c->refused++;
		return 0;
	}
	/* a newer epoch that starts below entries already there: those
	 * cannot be right (bounded: n entries) */
	while (c->n && c->e[c->n - 1].start_offset >= start_offset)
		c->n--;
	if (!make_room(c))
		return 0;
	c->e[c->n++] = (struct epc_entry){ epoch, start_offset };
	assert(c->n <= c->cap);
	return 1;
}

void epc_end_offset_for(const struct epoch_cache *c, int32_t epoch,
			int64_t log_end, int32_t *out_epoch, int64_t *out_end)
{
	*out_epoch = -1;
	*out_end = -1;
	if (epoch == -1 || !c->n)
		return;
	if (epoch == c->e[c->n - 1].epoch) {
		*out_epoch = epoch;
		*out_end = log_end;
		return;
	}
	if (epoch > c->e[c->n - 1].epoch)
		return; /* no epoch above it known: undefined */
	/* the first entry with a larger epoch, and the one before it */
	uint32_t i = c->n - 1;
	while (i > 0 && c->e[i - 1].epoch > epoch)
		i--;
	assert(c->e[i].epoch > epoch);
	if (i == 0) {
		/* below every known epoch: where the first one starts */
		*out_epoch = epoch;
		*out_end = c->e[0].start_offset;
		return;
	}
	*out_epoch = c->e[i - 1].epoch;
	*out_end = c->e[i].start_offset;
}

int32_t epc_epoch_at(const struct epoch_cache *c, int64_t offset)
{
	for (uint32_t i = c->n; i > 0; i--)
		if (c->e[i - 1].start_offset <= offset)
			return c->e[i - 1].epoch;
	return -1;
}

void epc_truncate_end(struct epoch_cache *c, int64_t end_offset)
{
	while (c->n && c->e[c->n - 1].start_offset >= end_offset)
		c->n--;
}

void epc_truncate_start(struct epoch_cache *c, int64_t start_offset)
{
	uint32_t drop = 0;
	/* entry i ends where i + 1 starts: gone when that is <= start */
	while (drop + 1 < c->n && c->e[drop + 1].start_offset <= start_offset)
		drop++;
	if (drop) {
		memmove(c->e, c->e + drop, (c->n - drop) * sizeof(*c->e));
		c->n -= drop;
	}
	if (c->n && c->e[0].start_offset < start_offset)
		c->e[0].start_offset = start_offset;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t epc_truncation_point(const struct epoch_cache *c, int64_t log_end,
			     int64_t hw, int32_t leader_epoch,
			     int64_t leader_end, bool *complete)
{
	int64_t at;
	*complete = true;
	if (leader_end < 0) {
		at = hw < 0 ? 0 : hw;
	} else if (leader_epoch < 0 || !c->n) {
		at = leader_end;
	} else {
		int32_t fe;
		int64_t fend;
		epc_end_offset_for(c, leader_epoch, log_end, &fe, &fend);
		if (fe < 0) {
			/* above our latest (a leader answers with one at
			 * most ours; bad input is not trusted): as unknown */
			at = leader_end;
		} else if (fe != leader_epoch) {
			at = fend; /* ours ends there; ask again from it */
			*complete = false;
		} else {
			at = min64(fend, leader_end);
		}
	}
	at = min64(at, log_end);
	return at < 0 ? 0 : at;
}
