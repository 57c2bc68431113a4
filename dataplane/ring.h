/*
 * dp_ring: a bounded, preallocated, lock-free multi-producer /
 * single-consumer ring of pointers, with the guarantees of DPDK's rte_ring
 * (lib/ring): a power-of-two number of slots, producer and consumer indices
 * on separate cache lines, producers reserve slots with a CAS on prod.head
 * and publish in reservation order through prod.tail; the single consumer
 * moves cons.tail.  Bursts are all-or-nothing (enqueue) or up-to-n
 * (dequeue).
 *
 * Used for: net core -> storage core (one ring per partition, several net
 * cores may feed it) and storage cores -> net core (completions).
 *
 * Threading: any number of threads may call dp_ring_enqueue_burst()
 * concurrently; exactly one thread calls dp_ring_dequeue_burst().
 * dp_ring_count() may be called from anywhere (a snapshot).
 */
#ifndef SLUICE_DATAPLANE_RING_H
#define SLUICE_DATAPLANE_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DP_CACHE_LINE 64

struct dp_ring {
	/* read-only after init */
	uint32_t size; /* slots, a power of two */
	uint32_t mask; /* size - 1 */
	void **slots;
	/* producers: head = next slot reserved, tail = slots published */
	struct {
		_Atomic uint32_t head;
		_Atomic uint32_t tail;
	} prod __attribute__((aligned(DP_CACHE_LINE)));
	/* consumer: head is private to the consumer, tail = slots freed */
	struct {
		uint32_t head;
		_Atomic uint32_t tail;
	} cons __attribute__((aligned(DP_CACHE_LINE)));
	/* counters, written by producers (atomically: several of them) */
	_Atomic uint64_t full_drops __attribute__((aligned(DP_CACHE_LINE)));
};

/*
 * Create a ring of `slots` entries (a power of two, 2 .. 2^30).
 * Returns 0 and *out, -EINVAL for a bad size or -ENOMEM.  Start-up only.
 */
int dp_ring_create(uint32_t slots, struct dp_ring **out);
void dp_ring_destroy(struct dp_ring *r);

/*
 * Enqueue all n pointers or none.  Returns n, or 0 when fewer than n slots
 * are free (counted in full_drops: the caller answers with backpressure,
 * nothing is queued without bound).  Multi-producer safe.
 */
unsigned dp_ring_enqueue_burst(struct dp_ring *r, void *const *objs,
			       unsigned n);

/* Dequeue up to n pointers.  Returns the count.  Single consumer only. */
unsigned dp_ring_dequeue_burst(struct dp_ring *r, void **objs, unsigned n);

/* Entries queued (a snapshot; exact only when producers and the consumer
 * are quiet). */
unsigned dp_ring_count(const struct dp_ring *r);

#endif
