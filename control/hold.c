/*
 * Items held until durability (hold.h).  Two rings: the outstanding
 * appends in seq order, and the items in the order they were put, whose
 * needs never decrease, so the first item not yet due stops the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/hold.h"

void sl_hold_init(struct sl_hold *h, sl_hold_fire_fn fire, void *ctx)
{
	*h = (struct sl_hold){.fire = fire, .ctx = ctx};
}

void sl_hold_clear(struct sl_hold *h)
{
	while (h->items_len) {
		struct sl_hold_item *it = &h->items[h->items_head];
		h->items_head = (h->items_head + 1) % h->items_cap;
		h->items_len--;
		h->fire(h->ctx, it->item, true);
	}
	free(h->items);
	free(h->out);
	sl_hold_init(h, h->fire, h->ctx);
}

bool sl_hold_idle(const struct sl_hold *h)
{
	return !h->out_len && !h->items_len;
}

uint32_t sl_hold_outstanding(const struct sl_hold *h)
{
	return h->out_len;
}

uint32_t sl_hold_held(const struct sl_hold *h)
{
	return h->items_len;
}

/* Grow a ring of elem-byte entries to twice its size (first: first),
 * unrolled to start at 0.  0 or -ENOMEM. */
static int grow(void **ring, uint32_t *head, uint32_t len, uint32_t *cap,
		size_t elem, uint32_t first)
{
	uint32_t n = *cap ? *cap * 2 : first;
	char *fresh = malloc((size_t)n * elem);
	if (!fresh)
		return -ENOMEM;
	for (uint32_t i = 0; i < len; i++)
		memcpy(fresh + (size_t)i * elem,
		       (const char *)*ring + (size_t)((*head + i) % *cap) * elem,
		       elem);
	free(*ring);
	*ring = fresh;
	*cap = n;
	*head = 0;
	return 0;
}

int sl_hold_track(struct sl_hold *h, uint64_t seq, int32_t p)
{
	if (h->out_len == h->out_cap &&
	    grow((void **)&h->out, &h->out_head, h->out_len, &h->out_cap,
		 sizeof(*h->out), 64))
		return -ENOMEM;
	h->out[(h->out_head + h->out_len) % h->out_cap] =
		(struct sl_hold_out){.seq = seq, .partition = p};
	h->out_len++;
	h->last_seq = seq;
	return 0;
}

static void taint_from(struct sl_hold *h, uint64_t seq)
{
	for (uint32_t i = 0; i < h->items_len; i++) {
		struct sl_hold_item *it =
			&h->items[(h->items_head + i) % h->items_cap];
		if (it->need >= seq)
			it->tainted = true;
	}
}

/* Drop the answered appends from the front, fire the items due. */
static void advance(struct sl_hold *h)
{
	while (h->out_len && h->out[h->out_head].done) {
		h->out_head = (h->out_head + 1) % h->out_cap;
		h->out_len--;
	}
	uint64_t durable = h->out_len ? h->out[h->out_head].seq - 1 :
					h->last_seq;
	while (h->items_len) {
		struct sl_hold_item it = h->items[h->items_head];
		if (it.need > durable)
			break;
		h->items_head = (h->items_head + 1) % h->items_cap;
		h->items_len--;
		h->fire(h->ctx, it.item, it.tainted);
	}
}

bool sl_hold_done(struct sl_hold *h, uint64_t seq, bool failed)
{
	for (uint32_t i = 0; i < h->out_len; i++) {
		struct sl_hold_out *o = &h->out[(h->out_head + i) % h->out_cap];
		if (o->seq != seq)
			continue;
		if (o->done)
			return false;
		o->done = true;
		if (failed)
			taint_from(h, seq);
		advance(h);
		return true;
	}
	return false;
}

void sl_hold_fail_partition(struct sl_hold *h, int32_t p)
{
	for (uint32_t i = 0; i < h->out_len; i++) {
		struct sl_hold_out *o = &h->out[(h->out_head + i) % h->out_cap];
		if (o->partition != p || o->done)
			continue;
		o->done = true;
		taint_from(h, o->seq);
	}
	advance(h);
}

int sl_hold_put(struct sl_hold *h, void *item)
{
	if (sl_hold_idle(h)) {
		h->fire(h->ctx, item, false);
		return 0;
	}
	if (h->items_len == h->items_cap &&
	    grow((void **)&h->items, &h->items_head, h->items_len,
		 &h->items_cap, sizeof(*h->items), 64))
		return -ENOMEM;
	h->items[(h->items_head + h->items_len) % h->items_cap] =
		(struct sl_hold_item){.item = item, .need = h->last_seq};
	h->items_len++;
	return 0;
}
