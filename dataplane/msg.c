/*
 * The message pool and the message calls on top of it (contract in
 * msg.h).
 *
 * The mapping, reserved once (PROT_READ|WRITE, MAP_NORESERVE: address
 * space, no memory until touched):
 *
 *   | links of class 0 .. 9 | blocks of class 0 | ... | blocks of class 9 |
 *
 * each part page aligned.  Class c's range holds nblocks(c) =
 * bytes_max / block_bytes(c) blocks (none when one block is larger than
 * the pool: that class always falls back to the heap); link[i] is block
 * i's entry on the free list.  Since carving stops at bytes_max in all,
 * no class carves past its range.
 *
 * A block's life: carved (the first time it is handed out: `carved` moves
 * past it, carved_bytes grows by its size) -> out (link = BUSY) -> pushed
 * on the free list -> popped -> out -> ...  The free list is a Treiber
 * stack of indices:
 *
 *   pop:  h = head; i = index(h); n = link[i]; CAS head h -> (tag+1, n)
 *   push: link[i] = index(head); CAS head h -> (tag+1, i)
 *
 * A pop that read link[i] of a block that another thread popped (and
 * perhaps pushed back) meanwhile fails its CAS: the tag moved.  The links
 * live outside the blocks, so that stale read is of an atomic, never of a
 * block a new owner is writing.
 *
 * Failure modes: a class whose free list is empty and whose range is
 * carved out, or a pool that carved bytes_max, hands out heap memory
 * (malloc) and counts it; put tells heap blocks from pool blocks by
 * address.  A put of a pool address that is not a block's start, or of a
 * block not out, aborts: memory would otherwise be handed out twice.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/msg.h"

#define DP_MSGPOOL_BUSY UINT32_MAX
#define DP_MSGPOOL_HUGE_BYTES (1u << 20) /* classes that ask for THP */

/* Between a pop's read of the link and its CAS: nothing in sluiced;
 * tests/dataplane/meson.build builds a copy of this file with a yield
 * there, so that other threads' pops and pushes land in the window the
 * tag guards. */
#ifndef DP_MSGPOOL_POP_WINDOW
#define DP_MSGPOOL_POP_WINDOW() ((void)0)
#endif

/* Under AddressSanitizer a block given back is poisoned, and so is the
 * part of a block beyond the bytes asked for: a message used after it was
 * freed, or written past its size, is reported as it was with malloc. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DP_MSGPOOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DP_MSGPOOL_ASAN 1
#endif
#ifdef DP_MSGPOOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* What each class holds beyond the header: a small request or answer,
 * then steps of 4 up to half a MiB; a largest batch (DP_BATCH_MAX_BYTES)
 * with its frame headers; then steps of 2 up to a largest fetch answer
 * (DP_FETCH_MAX_BYTES) with its header.  A block wastes at most 3/4 of
 * itself below 1 MiB and 1/2 above. */
static const size_t class_payload[DP_MSGPOOL_CLASSES] = {
	512,
	2u << 10,
	8u << 10,
	32u << 10,
	128u << 10,
	512u << 10,
	(1u << 20) + (4u << 10),
	(2u << 20) + (4u << 10),
	(4u << 20) + (4u << 10),
	(8u << 20) + (4u << 10),
};
_Static_assert(DP_BATCH_MAX_BYTES + 64 <= (1u << 20) + (4u << 10),
	       "a largest batch fits the 1 MiB class");
_Static_assert(DP_FETCH_MAX_BYTES + 64 <= (8u << 20) + (4u << 10),
	       "a largest fetch answer fits the largest class");

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

int dp_msgpool_create(struct dp_msgpool *p, size_t header_bytes,
		      uint64_t bytes_max)
{
	memset(p, 0, sizeof(*p));
	if (bytes_max == 0 || header_bytes > (64u << 10))
		return -EINVAL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t links_bytes = 0, blocks_bytes = 0;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct dp_msgpool_class *k = &p->cls[c];
		k->block_bytes = round_up(header_bytes + class_payload[c],
					  DP_CACHE_LINE);
		uint64_t n = bytes_max / k->block_bytes; /* may be 0 */
		if (n > UINT32_MAX - 1)
			n = UINT32_MAX - 1; /* BUSY stays out of range */
		k->nblocks = (uint32_t)n;
		links_bytes += round_up((size_t)n * sizeof(uint32_t), page);
		blocks_bytes += round_up((size_t)n * k->block_bytes, page);
	}
	/* a page at least: every class may be empty (bytes_max below the
	 * smallest block) */
	p->map_bytes = links_bytes + blocks_bytes;
	size_t tail = p->map_bytes ? 0 : page;
	p->map_bytes += tail;
	p->map = mmap(NULL, p->map_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		return -ENOMEM;
	}
	uint8_t *at = p->map;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct dp_msgpool_class *k = &p->cls[c];
		k->link = (_Atomic uint32_t *)(void *)at;
		at += round_up((size_t)k->nblocks * sizeof(uint32_t), page);
	}
	p->blocks_lo = at;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct dp_msgpool_class *k = &p->cls[c];
		size_t bytes = round_up((size_t)k->nblocks * k->block_bytes,
					page);
		k->base = at;
		/* large blocks: fewer TLB misses when the kernel has huge
		 * pages to give; nothing changes when it has not */
		if (k->block_bytes >= DP_MSGPOOL_HUGE_BYTES &&
		    madvise(at, bytes, MADV_HUGEPAGE) == 0)
			p->hugepages = 1;
		atomic_init(&k->head, 0);
		atomic_init(&k->gets, 0);
		atomic_init(&k->puts, 0);
		atomic_init(&k->carved, 0);
		at += bytes;
	}
	p->blocks_hi = at;
	p->bytes_max = bytes_max;
	atomic_init(&p->carved_bytes, 0);
	atomic_init(&p->heap_exhausted, 0);
	atomic_init(&p->heap_oversize, 0);
	atomic_init(&p->heap_failed, 0);
	atomic_init(&p->heap_in_use, 0);
	if (at + tail != p->map + p->map_bytes)
		abort(); /* the layout above and its size disagree */
	return 0;
}

void dp_msgpool_destroy(struct dp_msgpool *p)
{
	if (!p->map)
		return;
	/* the shadow outlives the mapping: a later mapping at the same
	 * address would start poisoned */
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct dp_msgpool_class *k = &p->cls[c];
		UNPOISON(k->base, (size_t)atomic_load(&k->carved) *
					  k->block_bytes);
	}
	munmap(p->map, p->map_bytes);
	p->map = NULL;
}

/* A block off the free list, or NULL when it is empty. */
static void *class_pop(struct dp_msgpool_class *k)
{
	/* acquire: pairs with the release CAS of the push that put this
	 * head there, so the link we read and the block's last owner's
	 * writes come before ours */
	uint64_t h = atomic_load_explicit(&k->head, memory_order_acquire);
	for (;;) {
		uint32_t i1 = (uint32_t)h;
		if (i1 == 0)
			return NULL;
		/* relaxed: a stale link is harmless, the CAS fails on the
		 * tag (see the top of this file) */
		uint32_t n1 = atomic_load_explicit(&k->link[i1 - 1],
						   memory_order_relaxed);
		uint64_t nh = ((h >> 32) + 1) << 32 | n1;
		DP_MSGPOOL_POP_WINDOW();
		/* acquire on success: as the load above; on failure h is
		 * reloaded with the same pairing */
		if (atomic_compare_exchange_weak_explicit(
			    &k->head, &h, nh, memory_order_acquire,
			    memory_order_acquire)) {
			/* relaxed: only the thread that gives it back reads
			 * this, after the block went through whatever
			 * handed it over (a ring, with its own ordering) */
			atomic_store_explicit(&k->link[i1 - 1],
					      DP_MSGPOOL_BUSY,
					      memory_order_relaxed);
			return k->base + (size_t)(i1 - 1) * k->block_bytes;
		}
	}
}

/* A block never handed out before, or NULL when the class's range or the
 * pool's bytes_max is used up. */
static void *class_carve(struct dp_msgpool *p, struct dp_msgpool_class *k)
{
	/* relaxed: a bound, not a synchronisation point; the block's index
	 * below is what makes it this thread's */
	uint64_t before = atomic_fetch_add_explicit(&p->carved_bytes,
						    k->block_bytes,
						    memory_order_relaxed);
	if (before + k->block_bytes > p->bytes_max) {
		atomic_fetch_sub_explicit(&p->carved_bytes, k->block_bytes,
					  memory_order_relaxed);
		return NULL;
	}
	/* relaxed: the add only has to give each index to one thread */
	uint32_t i = atomic_fetch_add_explicit(&k->carved, 1,
					       memory_order_relaxed);
	/* every carve that passed the check above is in carved_bytes, so
	 * a class never carves more than bytes_max / block_bytes */
	if (i >= k->nblocks)
		abort();
	atomic_store_explicit(&k->link[i], DP_MSGPOOL_BUSY,
			      memory_order_relaxed);
	return k->base + (size_t)i * k->block_bytes;
}

void *dp_msgpool_get(struct dp_msgpool *p, size_t bytes)
{
	int c = 0;
	while (c < DP_MSGPOOL_CLASSES && p->cls[c].block_bytes < bytes)
		c++;
	void *b = NULL;
	if (c < DP_MSGPOOL_CLASSES) {
		struct dp_msgpool_class *k = &p->cls[c];
		b = class_pop(k);
		if (!b)
			b = class_carve(p, k);
		if (b) {
			UNPOISON(b, bytes);
			POISON((uint8_t *)b + bytes, k->block_bytes - bytes);
			/* relaxed: a counter */
			atomic_fetch_add_explicit(&k->gets, 1,
						  memory_order_relaxed);
			return b;
		}
		atomic_fetch_add_explicit(&p->heap_exhausted, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&p->heap_oversize, 1,
					  memory_order_relaxed);
	}
	/* the counted fallback: 64-byte aligned like a pool block */
	if (posix_memalign(&b, DP_CACHE_LINE, bytes ? bytes : 1)) {
		atomic_fetch_add_explicit(&p->heap_failed, 1,
					  memory_order_relaxed);
		return NULL;
	}
	atomic_fetch_add_explicit(&p->heap_in_use, 1, memory_order_relaxed);
	return b;
}

void dp_msgpool_put(struct dp_msgpool *p, void *block)
{
	uint8_t *b = block;
	if (!b)
		return;
	if (b < p->blocks_lo || b >= p->blocks_hi) {
		uint64_t was = atomic_fetch_sub_explicit(
			&p->heap_in_use, 1, memory_order_relaxed);
		if (was == 0)
			abort(); /* not from dp_msgpool_get */
		free(b);
		return;
	}
	int c = DP_MSGPOOL_CLASSES - 1;
	while (c > 0 && b < p->cls[c].base)
		c--;
	struct dp_msgpool_class *k = &p->cls[c];
	size_t off = (size_t)(b - k->base);
	uint32_t i = (uint32_t)(off / k->block_bytes);
	if (off % k->block_bytes || i >= k->nblocks)
		abort(); /* not a block's start */
	/* relaxed: the link is ours until the push below publishes it.  A
	 * load, not an exchange: two puts of one block at the same instant
	 * may both pass, any later one is caught */
	if (atomic_load_explicit(&k->link[i], memory_order_relaxed) !=
	    DP_MSGPOOL_BUSY)
		abort(); /* given back twice */
	/* relaxed: a counter */
	atomic_fetch_add_explicit(&k->puts, 1, memory_order_relaxed);
	POISON(b, k->block_bytes);
	/* relaxed: the CAS below re-validates it */
	uint64_t h = atomic_load_explicit(&k->head, memory_order_relaxed);
	for (;;) {
		atomic_store_explicit(&k->link[i], (uint32_t)h,
				      memory_order_relaxed);
		uint64_t nh = ((h >> 32) + 1) << 32 | (i + 1);
		/* release: the link above and this thread's writes to the
		 * block come before the next pop's; pairs with its acquire */
		if (atomic_compare_exchange_weak_explicit(
			    &k->head, &h, nh, memory_order_release,
			    memory_order_relaxed))
			return;
	}
}

void dp_msgpool_stats(struct dp_msgpool *p, struct dp_msgpool_stats *st)
{
	memset(st, 0, sizeof(*st));
	/* relaxed loads: counters, see msg.h */
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct dp_msgpool_class *k = &p->cls[c];
		st->cls[c].block_bytes = k->block_bytes;
		st->cls[c].blocks = k->nblocks;
		st->cls[c].carved = atomic_load_explicit(&k->carved,
							 memory_order_relaxed);
		/* puts first: a put is counted after its get, so the
		 * difference is never negative */
		uint64_t puts = atomic_load_explicit(&k->puts,
						     memory_order_relaxed);
		st->cls[c].gets = atomic_load_explicit(&k->gets,
						       memory_order_relaxed);
		st->cls[c].in_use = st->cls[c].gets - puts;
	}
	st->bytes_max = p->bytes_max;
	st->carved_bytes = atomic_load_explicit(&p->carved_bytes,
						memory_order_relaxed);
	st->reserved_bytes = p->map_bytes;
	st->heap_exhausted = atomic_load_explicit(&p->heap_exhausted,
						  memory_order_relaxed);
	st->heap_oversize = atomic_load_explicit(&p->heap_oversize,
						 memory_order_relaxed);
	st->heap_failed = atomic_load_explicit(&p->heap_failed,
					       memory_order_relaxed);
	st->heap_in_use = atomic_load_explicit(&p->heap_in_use,
					       memory_order_relaxed);
	st->hugepages = p->hugepages;
}

/* ---- messages ---- */

/* A response buffer starts with the bytes it charged to the budget (a
 * u64), so that a buffer replaced by a larger one gives back exactly
 * that; the response itself follows, cache-line aligned.  What is
 * charged is the response's size, as before the pool. */
#define RESP_PREFIX_BYTES DP_CACHE_LINE
_Static_assert(DP_FETCH_MAX_BYTES + 64 + RESP_PREFIX_BYTES <=
		       (8u << 20) + (4u << 10),
	       "a largest fetch answer and its prefix fit the largest class");

/* Charge bytes to the budget, up to limit.  1, or 0 when it is spent. */
static int budget_take(struct dp *dp, uint64_t bytes, uint64_t limit)
{
	/* relaxed: the budget is a bound, not a synchronisation point */
	uint64_t used = atomic_fetch_add_explicit(&dp->mem_used, bytes,
						  memory_order_relaxed);
	if (used + bytes > limit) {
		atomic_fetch_sub_explicit(&dp->mem_used, bytes,
					  memory_order_relaxed);
		return 0;
	}
	return 1;
}

static void budget_give(struct dp *dp, uint64_t bytes)
{
	/* relaxed: see budget_take */
	uint64_t was = atomic_fetch_sub_explicit(&dp->mem_used, bytes,
						 memory_order_relaxed);
	if (was < bytes)
		abort(); /* more given back than taken */
}

struct dp_msg *dp_msg_alloc(struct dp *dp, size_t data_bytes)
{
	size_t bytes = sizeof(struct dp_msg) + data_bytes;
	/* requests may use 15/16 of the budget; the rest is kept for
	 * small answers (errors, throttling) */
	uint64_t limit = data_bytes ? dp->mem_limit - dp->mem_limit / 16 :
				      dp->mem_limit;
	if (!budget_take(dp, bytes, limit))
		return NULL;
	struct dp_msg *m = dp_msgpool_get(&dp->msgpool, bytes);
	if (!m) {
		budget_give(dp, bytes);
		return NULL;
	}
	memset(m, 0, sizeof(*m));
	m->dp = dp;
	m->accounted = bytes;
	return m;
}

void dp_msg_release_req(struct dp_msg *m)
{
	if (!m->req_token)
		return;
	m->req_release(m->req_token);
	m->req_token = NULL;
	m->req = NULL;
}

void dp_msg_free(struct dp_msg *m)
{
	if (!m)
		return;
	struct dp *dp = m->dp;
	/* a chained answer is freed by the connection layer (conn.c) */
	assert(!m->chain);
	dp_msg_release_req(m);
	dp_msgpool_put(&dp->msgpool, m->resp_heap);
	budget_give(dp, m->accounted);
	dp_msgpool_put(&dp->msgpool, m);
}

int dp_msg_resp(struct dp *dp, struct dp_msg *m, size_t bytes)
{
	if (bytes <= sizeof(m->inline_resp)) {
		m->resp = m->inline_resp;
		return 0;
	}
	if (m->resp_heap) {
		/* the charge of the buffer replaced: its prefix says */
		uint64_t was;
		memcpy(&was, m->resp_heap, sizeof(was));
		if (was > m->accounted)
			abort(); /* the prefix or the charge is damaged */
		dp_msgpool_put(&dp->msgpool, m->resp_heap);
		m->resp_heap = NULL;
		budget_give(dp, was);
		m->accounted -= was;
	}
	m->resp = m->inline_resp;
	if (!budget_take(dp, bytes, dp->mem_limit))
		return -ENOBUFS;
	m->resp_heap = dp_msgpool_get(&dp->msgpool, RESP_PREFIX_BYTES + bytes);
	if (!m->resp_heap) {
		budget_give(dp, bytes);
		return -ENOBUFS;
	}
	uint64_t charge = bytes;
	memcpy(m->resp_heap, &charge, sizeof(charge));
	m->accounted += bytes;
	m->resp = m->resp_heap + RESP_PREFIX_BYTES;
	return 0;
}
