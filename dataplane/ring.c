/*
 * The MPSC ring (contract in ring.h).  The algorithm is rte_ring's
 * multi-producer enqueue and single-consumer dequeue:
 *
 *   producer: h = prod.head; free = size + cons.tail - h; CAS prod.head
 *             h -> h + n; write slots[h .. h+n); wait until prod.tail == h
 *             (earlier reservations published), then prod.tail = h + n.
 *   consumer: t = prod.tail; take slots[cons.head .. t); cons.tail = new.
 *
 * Indices are free-running uint32_t; differences are taken modulo 2^32, so
 * wrap-around is harmless as long as size <= 2^31.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/ring.h"

int dp_ring_create(uint32_t slots, struct dp_ring **out)
{
	if (slots < 2 || slots > (1u << 30) || (slots & (slots - 1)))
		return -EINVAL;
	struct dp_ring *r;
	if (posix_memalign((void **)&r, DP_CACHE_LINE, sizeof(*r)))
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->slots = calloc(slots, sizeof(void *));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	r->size = slots;
	r->mask = slots - 1;
	atomic_init(&r->prod.head, 0);
	atomic_init(&r->prod.tail, 0);
	r->cons.head = 0;
	atomic_init(&r->cons.tail, 0);
	atomic_init(&r->full_drops, 0);
	*out = r;
	return 0;
}

void dp_ring_destroy(struct dp_ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

unsigned dp_ring_enqueue_burst(struct dp_ring *r, void *const *objs,
			       unsigned n)
{
	if (n == 0)
		return 0;
	uint32_t head, next;
	/* relaxed: the CAS below re-validates head; the acquire on cons.tail
	 * is what orders our slot writes after the consumer's slot reads. */
	head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);
	for (;;) {
		/* acquire: pairs with the consumer's release store of
		 * cons.tail, so the slots we are about to overwrite have been
		 * read by the consumer. */
		uint32_t cons_tail = atomic_load_explicit(&r->cons.tail,
							  memory_order_acquire);
		uint32_t free_slots = r->size + cons_tail - head;
		if (free_slots < n) {
			/* relaxed: a statistic, no ordering needed */
			atomic_fetch_add_explicit(&r->full_drops, 1,
						  memory_order_relaxed);
			return 0;
		}
		next = head + n;
		/* relaxed on success and failure: the reservation only needs
		 * atomicity among producers; publication happens through
		 * prod.tail (release below).  On failure head is reloaded. */
		if (atomic_compare_exchange_weak_explicit(
			    &r->prod.head, &head, next, memory_order_relaxed,
			    memory_order_relaxed))
			break;
	}
	for (unsigned i = 0; i < n; i++)
		r->slots[(head + i) & r->mask] = objs[i];
	/* acquire: wait for producers that reserved before us to publish;
	 * pairs with their release store of prod.tail below.  Bounded by
	 * the number of concurrent producers, each of which is between its
	 * CAS and its store. */
	while (atomic_load_explicit(&r->prod.tail, memory_order_acquire) !=
	       head)
		cpu_relax();
	/* release: publishes our slot writes; pairs with the consumer's
	 * acquire load of prod.tail. */
	atomic_store_explicit(&r->prod.tail, next, memory_order_release);
	return n;
}

unsigned dp_ring_dequeue_burst(struct dp_ring *r, void **objs, unsigned n)
{
	uint32_t head = r->cons.head;
	/* acquire: pairs with the producers' release store of prod.tail, so
	 * the slots up to it are visible. */
	uint32_t prod_tail =
		atomic_load_explicit(&r->prod.tail, memory_order_acquire);
	uint32_t avail = prod_tail - head;
	if (avail > r->size)
		abort(); /* indices corrupted: must never happen */
	if (n > avail)
		n = avail;
	for (unsigned i = 0; i < n; i++)
		objs[i] = r->slots[(head + i) & r->mask];
	r->cons.head = head + n;
	/* release: our slot reads happen before producers may reuse them;
	 * pairs with the producers' acquire load of cons.tail. */
	atomic_store_explicit(&r->cons.tail, head + n, memory_order_release);
	return n;
}

unsigned dp_ring_count(const struct dp_ring *r)
{
	/* relaxed: a snapshot for counters; the order of the two loads
	 * (consumer first) keeps the result <= size. */
	uint32_t c = atomic_load_explicit(&r->cons.tail, memory_order_relaxed);
	uint32_t p = atomic_load_explicit(&r->prod.tail, memory_order_relaxed);
	uint32_t d = p - c;
	return d > r->size ? r->size : d;
}
