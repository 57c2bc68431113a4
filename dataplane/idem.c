/*
 * Idempotence table (contract in idem.h): open addressing over a fixed
 * array, IDEM_PROBE slots probed from the producer id's hash.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/idem.h"
#include "proto/native.h"

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int idem_init(struct idem_table *t, uint32_t cap)
{
	uint32_t n = IDEM_PROBE;
	while (n < cap && n < (1u << 20))
		n <<= 1;
	memset(t, 0, sizeof(*t));
	t->cap_max = n;
	return 0;
}

void idem_fini(struct idem_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = 0;
}

static struct idem_producer *place(struct idem_table *t, int64_t pid,
				   bool evict);

/* Double the table (the first call makes IDEM_PROBE slots).  false when
 * at the cap or out of memory. */
static bool grow(struct idem_table *t)
{
	uint32_t n = t->cap ? t->cap * 2 : IDEM_PROBE;
	if (n > t->cap_max)
		return false;
	struct idem_producer *old = t->slots, *s = calloc(n, sizeof(*s));
	if (!s)
		return false;
	uint32_t old_cap = t->cap;
	t->slots = s;
	t->cap = n;
	idem_reset(t);
	/* bounded: old_cap producers, each placed in its probe window of
	 * the larger table (the least recently used is evicted in the rare
	 * case that window is full) */
	for (uint32_t i = 0; i < old_cap; i++) {
		if (old[i].producer_id < 0)
			continue;
		struct idem_producer *p = place(t, old[i].producer_id, true);
		*p = old[i];
	}
	free(old);
	return true;
}

void idem_reset(struct idem_table *t)
{
	for (uint32_t i = 0; i < t->cap; i++) {
		t->slots[i].producer_id = -1;
		t->slots[i].count = 0;
	}
}

int32_t idem_last_seq(int32_t base_seq, int32_t last_offset_delta)
{
	/* Kafka: sequences wrap from INT32_MAX to 0 */
	int64_t s = (int64_t)base_seq + last_offset_delta;
	if (s > INT32_MAX)
		s -= (int64_t)INT32_MAX + 1;
	return (int32_t)s;
}

/* A free slot of pid's probe window; with evict, else the least recently
 * used producer there (counted).  NULL only without evict. */
static struct idem_producer *place(struct idem_table *t, int64_t pid,
				   bool evict)
{
	uint32_t h = (uint32_t)mix((uint64_t)pid);
	struct idem_producer *victim = NULL;
	for (uint32_t i = 0; i < IDEM_PROBE; i++) {
		struct idem_producer *q = &t->slots[(h + i) & (t->cap - 1)];
		if (q->producer_id < 0)
			return q;
		if (!victim || q->last_use < victim->last_use)
			victim = q;
	}
	if (!evict)
		return NULL;
	assert(victim);
	t->evictions++;
	return victim;
}

static struct idem_producer *find(struct idem_table *t, int64_t pid)
{
	uint32_t h = (uint32_t)mix((uint64_t)pid);
	for (uint32_t i = 0; i < IDEM_PROBE; i++) {
		struct idem_producer *p = &t->slots[(h + i) & (t->cap - 1)];
		if (p->producer_id == pid)
			return p;
	}
	return NULL;
}

int idem_check(struct idem_table *t, int64_t producer_id, int16_t epoch,
	       int32_t base_seq, int32_t last_seq, struct idem_batch *dup)
{
	if (producer_id < 0 || !t->slots)
		return IDEM_APPEND;
	struct idem_producer *p = find(t, producer_id);
	if (!p)
		return IDEM_APPEND;
	if (epoch < p->epoch)
		return -SN_ERR_INVALID_PRODUCER_EPOCH;
	if (epoch > p->epoch || p->count == 0)
		return IDEM_APPEND;
	for (unsigned i = 0; i < p->count; i++) {
		const struct idem_batch *b = &p->b[i];
		if (b->base_seq == base_seq && b->last_seq == last_seq) {
			*dup = *b;
			return IDEM_DUPLICATE;
		}
	}
	int32_t last = p->b[p->newest].last_seq;
	int32_t expect = last == INT32_MAX ? 0 : last + 1;
	if (base_seq == expect)
		return IDEM_APPEND;
	return -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
}

void idem_record(struct idem_table *t, int64_t producer_id, int16_t epoch,
		 int32_t base_seq, int32_t last_seq, int64_t base_offset,
		 int64_t last_offset)
{
	if (producer_id < 0)
		return;
	if (!t->slots && !grow(t)) {
		t->evictions++; /* out of memory: not remembered */
		return;
	}
	struct idem_producer *p = find(t, producer_id);
	if (!p) {
		/* a free slot in the probe window; else a larger table
		 * (bounded: up to cap_max); else the least recently used
		 * producer there */
		p = place(t, producer_id, false);
		while (!p && grow(t))
			p = place(t, producer_id, false);
		if (!p)
			p = place(t, producer_id, true);
		p->producer_id = producer_id;
		p->epoch = epoch;
		p->count = 0;
		p->newest = 0;
		p->coord_epoch = -1;
	}
	if (epoch != p->epoch) {
		p->epoch = epoch;
		p->count = 0;
		p->newest = 0;
	}
	unsigned slot = p->count == 0 ? 0 : (p->newest + 1u) % IDEM_WINDOW;
	p->b[slot] = (struct idem_batch){ base_seq, last_seq, base_offset,
					  last_offset };
	p->newest = (uint8_t)slot;
	if (p->count < IDEM_WINDOW)
		p->count++;
	p->last_use = ++t->tick;
}

void idem_fence(struct idem_table *t, int64_t producer_id, int16_t epoch,
		int32_t coord_epoch)
{
	if (producer_id < 0)
		return;
	if (!t->slots && !grow(t)) {
		t->evictions++;
		return;
	}
	struct idem_producer *p = find(t, producer_id);
	if (p && coord_epoch > p->coord_epoch)
		p->coord_epoch = coord_epoch;
	if (p && epoch <= p->epoch) {
		p->last_use = ++t->tick;
		return;
	}
	if (!p) {
		p = place(t, producer_id, false);
		while (!p && grow(t))
			p = place(t, producer_id, false);
		if (!p)
			p = place(t, producer_id, true);
		p->producer_id = producer_id;
		p->coord_epoch = coord_epoch;
	}
	p->epoch = epoch;
	p->count = 0;
	p->newest = 0;
	p->last_use = ++t->tick;
}

int32_t idem_coord_epoch(struct idem_table *t, int64_t producer_id)
{
	if (producer_id < 0 || !t->slots)
		return -1;
	const struct idem_producer *p = find(t, producer_id);
	return p ? p->coord_epoch : -1;
}
