/*
 * What a coordinator holds back until the appends it follows are durable:
 * the answers (and other acts, such as handing markers on) a coordinator
 * makes from memory that already holds changes whose records are still on
 * their way to a replicated partition (control/tstore.h).
 *
 * Appends are tracked by their log sequence numbers (control/glog.h: one a
 * partition append, rising).  An item put while any append is outstanding
 * waits for every append tracked so far (need = the last seq tracked);
 * items leave in the order they were put, once everything up to their
 * need is answered.  An append that fails taints every item put after it
 * was tracked (the memory they were made from held its records): a
 * tainted item leaves in its turn with tainted set, for its owner to drop
 * (an answer withheld: the client's connection closed).
 *
 * Single-threaded; items are the caller's, handed back through fire
 * exactly once (at their turn, or at sl_hold_clear).
 */
#ifndef SLUICE_CONTROL_HOLD_H
#define SLUICE_CONTROL_HOLD_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*sl_hold_fire_fn)(void *ctx, void *item, bool tainted);

struct sl_hold_out {
	uint64_t seq;
	int32_t partition;
	bool done;
};

struct sl_hold_item {
	void *item;
	uint64_t need;
	bool tainted;
};

struct sl_hold {
	sl_hold_fire_fn fire;
	void *ctx;
	struct sl_hold_out *out;   /* appends not answered, seq order */
	uint32_t out_head, out_len, out_cap;
	struct sl_hold_item *items;
	uint32_t items_head, items_len, items_cap;
	uint64_t last_seq;         /* tracked */
};

void sl_hold_init(struct sl_hold *h, sl_hold_fire_fn fire, void *ctx);
/* Every item still held fired tainted; memory freed. */
void sl_hold_clear(struct sl_hold *h);

/* Nothing outstanding and nothing held: an item would leave at once. */
bool sl_hold_idle(const struct sl_hold *h);

/* An append of partition p is on its way.  0 or -ENOMEM. */
int sl_hold_track(struct sl_hold *h, uint64_t seq, int32_t p);

/* The append seq was answered (failed: not durable).  Returns whether it
 * was tracked and not answered before.  Items whose turn came fire. */
bool sl_hold_done(struct sl_hold *h, uint64_t seq, bool failed);

/* Every outstanding append of p fails (its log forgot them). */
void sl_hold_fail_partition(struct sl_hold *h, int32_t p);

/* Hold item (fired at once, untainted, when idle).  0 or -ENOMEM (not
 * held: the caller still owns it). */
int sl_hold_put(struct sl_hold *h, void *item);

/* Appends outstanding, items held. */
uint32_t sl_hold_outstanding(const struct sl_hold *h);
uint32_t sl_hold_held(const struct sl_hold *h);

#endif
