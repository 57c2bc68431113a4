/*
 * A partition's transactions (contract in txn_part.h): an unordered array
 * of the unsettled ones (few at a time: one per producer writing a
 * transaction here) and a ring of the aborted ones in marker order, which
 * is offset order, so that trimming drops a prefix and a fetch's look-up
 * starts at a binary search.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/txn_part.h"
#include "proto/record_batch.h"

_Static_assert((TXN_ABORTED_MAX & (TXN_ABORTED_MAX - 1)) == 0,
	       "the aborted ring's size is a power of two");

#define TXN_OPEN_FIRST 4
#define TXN_ABORTED_FIRST 16

void txn_part_init(struct txn_part *t)
{
	memset(t, 0, sizeof(*t));
}

void txn_part_fini(struct txn_part *t)
{
	free(t->open);
	free(t->aborted);
	txn_part_init(t);
}

void txn_part_reset(struct txn_part *t)
{
	t->nopen = 0;
	t->naborted = 0;
	t->aborted_head = 0;
}

/* The open (not ended) transaction of pid, or NULL. */
static struct txn_open *find_open(const struct txn_part *t, int64_t pid)
{
	/* bounded: nopen <= TXN_OPEN_MAX */
	for (uint32_t i = 0; i < t->nopen; i++)
		if (t->open[i].producer_id == pid && t->open[i].end_offset < 0)
			return &t->open[i];
	return NULL;
}

bool txn_part_begin_ok(struct txn_part *t, int64_t producer_id)
{
	if (find_open(t, producer_id) || t->nopen < TXN_OPEN_MAX)
		return true;
	t->open_refused++;
	return false;
}

/* Room for one more unsettled transaction (growing the array); false
 * at the cap or out of memory. */
static bool open_room(struct txn_part *t)
{
	if (t->nopen < t->open_cap)
		return true;
	uint32_t n = t->open_cap ? t->open_cap * 2 : TXN_OPEN_FIRST;
	if (n > TXN_OPEN_MAX)
		n = TXN_OPEN_MAX;
	if (n <= t->open_cap)
		return false;
	struct txn_open *o = realloc(t->open, n * sizeof(*o));
	if (!o)
		return false;
	t->open = o;
	t->open_cap = n;
	return true;
}

void txn_part_on_batch(struct txn_part *t, int64_t producer_id,
		       int16_t epoch, int16_t attributes, int64_t base_offset,
		       int64_t last_offset)
{
	if (!(attributes & RB_ATTR_TRANSACTIONAL) ||
	    (attributes & RB_ATTR_CONTROL) || producer_id < 0)
		return;
	assert(base_offset <= last_offset);
	struct txn_open *o = find_open(t, producer_id);
	if (o) {
		assert(last_offset > o->last_offset);
		o->last_offset = last_offset;
		if (epoch > o->epoch)
			o->epoch = epoch;
		return;
	}
	if (!open_room(t)) {
		t->open_lost++;
		return;
	}
	t->open[t->nopen++] = (struct txn_open){
		.producer_id = producer_id,
		.first_offset = base_offset,
		.last_offset = last_offset,
		.end_offset = -1,
		.epoch = epoch,
	};
}

static struct txn_aborted *aborted_at(const struct txn_part *t, uint32_t i)
{
	assert(i < t->naborted);
	return &t->aborted[(t->aborted_head + i) & (t->aborted_cap - 1)];
}

/* Room for one more aborted transaction: grow the ring, else forget the
 * oldest (counted).  false only when there is no ring at all. */
static bool aborted_room(struct txn_part *t)
{
	if (t->naborted < t->aborted_cap)
		return true;
	uint32_t n = t->aborted_cap ? t->aborted_cap * 2 : TXN_ABORTED_FIRST;
	struct txn_aborted *a = n <= TXN_ABORTED_MAX ?
					malloc(n * sizeof(*a)) : NULL;
	if (a) {
		/* bounded: naborted entries, unrolled into order */
		for (uint32_t i = 0; i < t->naborted; i++)
			a[i] = *aborted_at(t, i);
		free(t->aborted);
		t->aborted = a;
		t->aborted_cap = n;
		t->aborted_head = 0;
		return true;
	}
	if (!t->aborted_cap)
		return false;
	t->aborted_head = (t->aborted_head + 1) & (t->aborted_cap - 1);
	t->naborted--;
	t->aborted_dropped++;
	return true;
}

int txn_part_on_marker(struct txn_part *t, int64_t producer_id,
		       int16_t epoch, int type, int64_t offset)
{
	if (type != TXN_ABORT && type != TXN_COMMIT)
		return -EINVAL;
	struct txn_open *o = find_open(t, producer_id);
	int64_t first = o ? o->first_offset : offset;
	assert(!o || o->last_offset < offset);
	t->markers++;
	if (o) {
		/* settled once the marker is durable (txn_part_durable) */
		o->end_offset = offset;
		if (epoch > o->epoch)
			o->epoch = epoch;
	}
	if (type == TXN_COMMIT)
		return o != NULL;
	assert(t->naborted == 0 ||
	       aborted_at(t, t->naborted - 1)->last_offset < offset);
	if (!aborted_room(t)) {
		t->aborted_dropped++;
		return o != NULL;
	}
	t->naborted++;
	*aborted_at(t, t->naborted - 1) = (struct txn_aborted){
		.producer_id = producer_id,
		.first_offset = first,
		.last_offset = offset,
	};
	return o != NULL;
}

void txn_part_durable(struct txn_part *t, int64_t high_watermark)
{
	uint32_t k = 0;
	/* bounded: nopen entries, the settled ones dropped in place */
	for (uint32_t i = 0; i < t->nopen; i++) {
		const struct txn_open *o = &t->open[i];
		if (o->end_offset >= 0 && o->end_offset < high_watermark)
			continue;
		t->open[k++] = *o;
	}
	assert(k <= t->nopen);
	t->nopen = k;
}

int txn_part_epoch(const struct txn_part *t, int64_t producer_id)
{
	int epoch = -1;
	for (uint32_t i = 0; i < t->nopen; i++)
		if (t->open[i].producer_id == producer_id &&
		    t->open[i].epoch > epoch)
			epoch = t->open[i].epoch;
	return epoch;
}

int64_t txn_part_open_start(const struct txn_part *t, int64_t producer_id)
{
	for (uint32_t i = 0; i < t->nopen; i++)
		if (t->open[i].producer_id == producer_id &&
		    t->open[i].end_offset < 0)
			return t->open[i].first_offset;
	return -1;
}

int64_t txn_part_lso(const struct txn_part *t, int64_t high_watermark)
{
	int64_t lso = high_watermark;
	/* an ended transaction whose marker is below the high watermark is
	 * settled even before txn_part_durable has dropped it */
	for (uint32_t i = 0; i < t->nopen; i++) {
		const struct txn_open *o = &t->open[i];
		if (o->end_offset >= 0 && o->end_offset < high_watermark)
			continue;
		if (o->first_offset < lso)
			lso = o->first_offset;
	}
	assert(lso <= high_watermark);
	return lso;
}

uint32_t txn_part_aborted_in(const struct txn_part *t, int64_t from,
			     int64_t to, struct txn_aborted *out,
			     uint32_t max)
{
	/* the first whose last offset >= from: last offsets ascend */
	uint32_t lo = 0, hi = t->naborted;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (aborted_at(t, mid)->last_offset < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t n = 0;
	/* bounded: naborted <= TXN_ABORTED_MAX; first offsets do not
	 * ascend (transactions interleave), so every later one is looked at */
	for (uint32_t i = lo; i < t->naborted; i++) {
		const struct txn_aborted *a = aborted_at(t, i);
		assert(a->last_offset >= from);
		if (a->first_offset >= to)
			continue;
		if (n < max)
			out[n] = *a;
		n++;
	}
	return n;
}

void txn_part_trim(struct txn_part *t, int64_t log_start)
{
	while (t->naborted && aborted_at(t, 0)->last_offset < log_start) {
		t->aborted_head = (t->aborted_head + 1) & (t->aborted_cap - 1);
		t->naborted--;
	}
	for (uint32_t i = 0; i < t->nopen; i++)
		if (t->open[i].first_offset < log_start)
			t->open[i].first_offset = log_start;
}

int txn_marker_key(const uint8_t *key, int32_t klen, int *type)
{
	/* a later key version keeps the type where version 0 has it
	 * (Kafka reads it so too) */
	if (!key || klen < 4 || (int16_t)rb_be16(key) < 0)
		return -EINVAL;
	int16_t v = (int16_t)rb_be16(key + 2);
	if (v != TXN_ABORT && v != TXN_COMMIT)
		return -EINVAL;
	*type = v;
	return 0;
}

int32_t txn_marker_coord_epoch(const uint8_t *value, int32_t vlen)
{
	/* a later value version keeps the epoch where version 0 has it */
	if (!value || vlen < 6 || (int16_t)rb_be16(value) < 0)
		return -1;
	return (int32_t)rb_be32(value + 2);
}
