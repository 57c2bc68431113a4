/*
 * Messages (struct dp_msg, dataplane/dp.h) and the pool their memory comes
 * from.
 *
 * A message carries one request from the net core to a storage core (or
 * to the main thread, for control) and its response back.  Its bytes -
 * the struct, the request copied behind it, and a response buffer when
 * the response does not fit inline - are charged to the memory budget
 * (struct dp: mem_used against mem_limit, 3/4 of memory_budget_bytes):
 * a request's allocation fails when the budget is spent, and the last
 * 1/16 of the budget is kept for data-less answers (errors, throttling),
 * so that a spent budget is still answered.
 *
 * The memory itself comes from a pool carved out of one anonymous mapping
 * reserved at start-up: DP_MSGPOOL_CLASSES size classes of fixed-size
 * blocks (header + 512 B up to header + 8 MiB + 4 KiB: the largest fetch
 * answer), each class a range of the mapping that could hold the whole
 * pool (so the mapping is DP_MSGPOOL_CLASSES times the pool's size in
 * address space, none of it committed).  Nothing is touched up front: a block's pages become resident
 * when it is first handed out, and stay with the pool after it is given
 * back, so resident memory follows the high-water mark of use, bounded by
 * the pool's size (bytes_max at create).  The classes of 1 MiB blocks and
 * above ask for transparent hugepages (madvise), which the kernel honours
 * when it can.
 *
 * A block is taken from its class's free list, a lock-free stack (a CAS
 * on a head that carries a tag against ABA) that any thread may pop and
 * push: the net core allocates messages, storage cores and the main
 * thread allocate response buffers, and any of them frees.  A class
 * whose free list is empty carves a new block; when the pool has carved
 * bytes_max (or the class's range is full) the block comes from the heap
 * instead, and so does a size larger than the largest class: both are
 * counted (dp_msgpool_stats, telemetry's /sluice/msgpool), never refused.
 * In steady state, nothing is allocated from the heap per message.
 *
 * Checks that stay on: giving back a block twice, or an address inside
 * the pool that is not the start of a block, aborts.
 */
#ifndef SLUICE_DATAPLANE_MSG_H
#define SLUICE_DATAPLANE_MSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/ring.h" /* DP_CACHE_LINE */

#define DP_MSGPOOL_CLASSES 10

/* One size class (private to msg.c; here for struct dp's layout). */
struct dp_msgpool_class {
	/* the free list: (tag << 32) | (index + 1); index + 1 = 0: empty.
	 * The tag moves on every push and pop (ABA). */
	_Atomic uint64_t head __attribute__((aligned(DP_CACHE_LINE)));
	_Atomic uint64_t gets;    /* blocks handed out, ever */
	_Atomic uint64_t puts;    /* blocks given back, ever */
	_Atomic uint32_t carved;  /* blocks handed out at least once: the
				     class's resident high-water mark */
	/* read-only after create */
	uint32_t nblocks;         /* the range's size, in blocks */
	size_t block_bytes;
	uint8_t *base;            /* block i at base + i * block_bytes */
	_Atomic uint32_t *link;   /* per block: the next free index + 1, or
				     DP_MSGPOOL_BUSY while handed out */
};

struct dp_msgpool {
	struct dp_msgpool_class cls[DP_MSGPOOL_CLASSES];
	/* blocks carved from all classes, bytes; at most bytes_max */
	_Atomic uint64_t carved_bytes __attribute__((aligned(DP_CACHE_LINE)));
	/* heap fallbacks (any thread, relaxed) */
	_Atomic uint64_t heap_exhausted; /* the class or the pool was full */
	_Atomic uint64_t heap_oversize;  /* larger than the largest class */
	_Atomic uint64_t heap_failed;    /* malloc failed too: NULL */
	_Atomic uint64_t heap_in_use;    /* heap blocks out now */
	/* read-only after create */
	uint64_t bytes_max;
	uint8_t *map;              /* the reservation */
	size_t map_bytes;
	uint8_t *blocks_lo, *blocks_hi; /* the classes' ranges, together */
	int hugepages;             /* 1: MADV_HUGEPAGE accepted */
};

/* A snapshot of the counters (reads from any thread; each counter is
 * exact, the set is not taken at one instant). */
struct dp_msgpool_stats {
	struct {
		uint64_t block_bytes, blocks, carved, in_use, gets;
	} cls[DP_MSGPOOL_CLASSES];
	uint64_t bytes_max, carved_bytes, reserved_bytes;
	uint64_t heap_exhausted, heap_oversize, heap_failed, heap_in_use;
	int hugepages;
};

/*
 * Reserve the pool: classes of header_bytes + 512 B, 2, 8, 32, 128 and
 * 512 KiB, then 1, 2, 4 and 8 MiB + 4 KiB (each rounded up to a cache
 * line), at most bytes_max bytes carved in all (each class's range holds
 * bytes_max; a class whose block is larger has none).  Touches only p.
 * Returns 0, -EINVAL (bytes_max 0 or header_bytes over 64 KiB) or
 * -ENOMEM (no address space).  Start-up, one thread.
 */
int dp_msgpool_create(struct dp_msgpool *p, size_t header_bytes,
		      uint64_t bytes_max);
/* Unmap the pool.  Every block must have been given back. */
void dp_msgpool_destroy(struct dp_msgpool *p);

/*
 * A block of at least bytes bytes, 64-byte aligned, contents undefined:
 * from the smallest class that fits, or the heap as described above.
 * NULL only when the heap fails too.  Any thread.
 */
void *dp_msgpool_get(struct dp_msgpool *p, size_t bytes);
/* Give back a block from dp_msgpool_get (NULL: nothing).  Any thread. */
void dp_msgpool_put(struct dp_msgpool *p, void *block);

void dp_msgpool_stats(struct dp_msgpool *p, struct dp_msgpool_stats *st);

/* ---- messages ---- */

struct dp;
struct dp_msg;

/*
 * A zeroed message with room for data_bytes of request behind it, charged
 * to the budget (accounted = sizeof(struct dp_msg) + data_bytes).  NULL
 * when the budget is spent: data_bytes > 0 may use 15/16 of it,
 * data_bytes = 0 all of it.  Any thread (the net core, in practice).
 */
struct dp_msg *dp_msg_alloc(struct dp *dp, size_t data_bytes);
/* Release the request's driver buffer and the response chain, give the
 * response buffer and the message back, uncharge them.  NULL: nothing.
 * Any thread. */
void dp_msg_free(struct dp_msg *m);
/* Give a kept driver buffer back once the batch was appended (or on
 * free); any thread. */
void dp_msg_release_req(struct dp_msg *m);
/*
 * Point m->resp at room for resp_bytes: inline_resp when it fits,
 * otherwise a response buffer charged to the budget (all of it, reserve
 * included), replacing an earlier one.  0, or -ENOBUFS with m->resp at
 * inline_resp (the budget is spent).  Any thread.
 */
int dp_msg_resp(struct dp *dp, struct dp_msg *m, size_t resp_bytes);

#endif
