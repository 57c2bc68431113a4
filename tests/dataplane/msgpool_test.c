/*
 * The message pool and the message calls on it (dataplane/msg.h):
 *
 *   classes          each size lands in the smallest class that fits, a
 *                    block given back is handed out again (no new block
 *                    carved), blocks are aligned and writable end to end
 *   heap_fallback    a class carved out, the pool's bytes_max reached and
 *                    a size above the largest class: served from the heap
 *                    and counted, never refused
 *   budget_reserve   dp_msg_alloc stops at 15/16 of the budget for
 *                    requests, data-less messages may use the rest,
 *                    dp_msg_resp refuses (-ENOBUFS, inline answer) when
 *                    the budget is spent, and frees return it all
 *   threads          one thread allocates, three free (and take and give
 *                    back blocks of their own): no block is handed to two
 *                    owners at once, nothing is lost
 *   double_put       giving a block back twice aborts; under
 *                    AddressSanitizer a block used after it was given
 *                    back, or written past its size, is reported
 *
 * Every case ends with the counters back at zero (nothing out, nothing
 * charged).  Bounded: fixed counts, waits with deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl.h"
#include "dataplane/dp.h"

/* ---- what a driver gives msg.c ---- */

static unsigned tokens_released;

static void fake_release(void *token)
{
	(void)token;
	tokens_released++;
}


/* ---- helpers ---- */

static uint64_t pool_in_use(struct dp_msgpool *p)
{
	struct dp_msgpool_stats st;
	dp_msgpool_stats(p, &st);
	uint64_t n = st.heap_in_use;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++)
		n += st.cls[c].in_use;
	return n;
}

static uint64_t class_gets(struct dp_msgpool *p, int c)
{
	struct dp_msgpool_stats st;
	dp_msgpool_stats(p, &st);
	return st.cls[c].gets;
}

/* ---- cases ---- */

static void test_classes(void **state)
{
	(void)state;
	struct dp_msgpool p;
	/* a header that is not a multiple of 64: blocks are rounded up */
	TL_OK(dp_msgpool_create(&p, 200, 64u << 20));
	struct dp_msgpool_stats st;
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.carved_bytes, 0);
	for (int c = 0; c + 1 < DP_MSGPOOL_CLASSES; c++)
		TL_TRUE(st.cls[c].block_bytes < st.cls[c + 1].block_bytes);
	TL_TRUE(st.cls[0].block_bytes >= 200 + 512);
	TL_TRUE(st.cls[DP_MSGPOOL_CLASSES - 1].block_bytes >=
		200 + DP_FETCH_MAX_BYTES);
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		size_t bb = st.cls[c].block_bytes;
		size_t lo = c ? st.cls[c - 1].block_bytes + 1 : 1;
		/* the smallest and the largest size of the class */
		uint8_t *a = dp_msgpool_get(&p, lo);
		uint8_t *b = dp_msgpool_get(&p, bb);
		TL_TRUE(a && b && a != b);
		TL_EQ(class_gets(&p, c), 2);
		TL_EQ((uintptr_t)a % 64, 0);
		TL_EQ((uintptr_t)b % 64, 0);
		TL_TRUE(a + bb <= b || b + bb <= a); /* no overlap */
		memset(a, 0xa5, lo);
		memset(b, 0x5a, bb);
		TL_EQ(a[lo - 1], 0xa5);
		TL_EQ(b[0], 0x5a);
		dp_msgpool_put(&p, a);
		/* the block given back comes back, no new one is carved */
		uint64_t carved = 0;
		dp_msgpool_stats(&p, &st);
		carved = st.cls[c].carved;
		uint8_t *again = dp_msgpool_get(&p, lo);
		TL_TRUE(again == a);
		dp_msgpool_stats(&p, &st);
		TL_EQ(st.cls[c].carved, carved);
		TL_EQ(st.cls[c].in_use, 2);
		dp_msgpool_put(&p, again);
		dp_msgpool_put(&p, b);
		dp_msgpool_stats(&p, &st);
		TL_EQ(st.cls[c].in_use, 0);
	}
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.heap_exhausted + st.heap_oversize, 0);
	TL_EQ(pool_in_use(&p), 0);
	/* resident: what was carved, nothing more */
	uint64_t sum = 0;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++)
		sum += st.cls[c].carved * st.cls[c].block_bytes;
	TL_EQ(st.carved_bytes, sum);
	dp_msgpool_put(&p, NULL); /* nothing */
	dp_msgpool_destroy(&p);
}

static void test_heap_fallback(void **state)
{
	(void)state;
	struct dp_msgpool p;
	TL_EQ(dp_msgpool_create(&p, 256, 0), -EINVAL);
	/* a pool smaller than any block: every class is empty */
	struct dp_msgpool_stats st;
	TL_OK(dp_msgpool_create(&p, 256, 1));
	dp_msgpool_stats(&p, &st);
	size_t bb0 = st.cls[0].block_bytes;
	TL_EQ(st.cls[0].blocks, 0);
	dp_msgpool_destroy(&p);
	/* room for 4.5 blocks of class 0 in all */
	TL_OK(dp_msgpool_create(&p, 256, 4 * bb0 + bb0 / 2));
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[0].blocks, 4);
	void *b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = dp_msgpool_get(&p, 100);
		TL_TRUE(b[i] != NULL);
		memset(b[i], i, 100);
	}
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[0].carved, 4);
	TL_EQ(st.cls[0].in_use, 4);
	TL_EQ(st.heap_exhausted, 4);
	TL_EQ(st.heap_in_use, 4);
	TL_EQ(st.carved_bytes, 4 * bb0);
	/* the pool's bytes are spent: the next class falls back too */
	void *big = dp_msgpool_get(&p, bb0 + 1);
	TL_TRUE(big != NULL);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[1].carved, 0);
	TL_EQ(st.heap_exhausted, 5);
	/* larger than the largest class */
	size_t huge = st.cls[DP_MSGPOOL_CLASSES - 1].block_bytes + 1;
	void *over = dp_msgpool_get(&p, huge);
	TL_TRUE(over != NULL);
	memset(over, 1, huge);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.heap_oversize, 1);
	TL_EQ(st.heap_in_use, 6);
	dp_msgpool_put(&p, over);
	dp_msgpool_put(&p, big);
	for (int i = 0; i < 8; i++)
		dp_msgpool_put(&p, b[i]);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.heap_in_use, 0);
	TL_EQ(pool_in_use(&p), 0);
	/* a largest fetch answer: the pool is smaller than one block */
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[DP_MSGPOOL_CLASSES - 1].blocks, 0);
	void *top = dp_msgpool_get(&p, DP_FETCH_MAX_BYTES);
	TL_TRUE(top != NULL);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.heap_exhausted, 6);
	dp_msgpool_put(&p, top);
	TL_EQ(pool_in_use(&p), 0);
	dp_msgpool_destroy(&p);

	/* bytes for one largest block: the second comes from the heap */
	TL_OK(dp_msgpool_create(&p, 256, 12u << 20));
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[DP_MSGPOOL_CLASSES - 1].blocks, 1);
	void *two[2];
	two[0] = dp_msgpool_get(&p, DP_FETCH_MAX_BYTES);
	two[1] = dp_msgpool_get(&p, DP_FETCH_MAX_BYTES);
	TL_TRUE(two[0] && two[1]);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[DP_MSGPOOL_CLASSES - 1].in_use, 1);
	TL_EQ(st.heap_exhausted, 1);
	TL_EQ(st.heap_in_use, 1);
	dp_msgpool_put(&p, two[1]);
	dp_msgpool_put(&p, two[0]);
	/* given back: the next one is the pool's again */
	two[0] = dp_msgpool_get(&p, DP_FETCH_MAX_BYTES);
	dp_msgpool_stats(&p, &st);
	TL_EQ(st.cls[DP_MSGPOOL_CLASSES - 1].in_use, 1);
	TL_EQ(st.heap_exhausted, 1);
	dp_msgpool_put(&p, two[0]);
	TL_EQ(pool_in_use(&p), 0);
	dp_msgpool_destroy(&p);
}

#define REQ_DATA 1000
#define BUDGET_MSGS 64

static void test_budget_reserve(void **state)
{
	(void)state;
	static struct dp d;
	memset(&d, 0, sizeof(d));
	size_t one = sizeof(struct dp_msg) + REQ_DATA;
	d.mem_limit = (uint64_t)one * BUDGET_MSGS; /* 64 requests' worth */
	atomic_init(&d.mem_used, 0);
	/* a pool larger than the budget: the budget alone refuses here
	 * (sluiced's pool is the budget's size; rounding up to a class
	 * may then take the heap, test_heap_fallback) */
	TL_OK(dp_msgpool_create(&d.msgpool, sizeof(struct dp_msg),
				8 * d.mem_limit));
	uint64_t req_limit = d.mem_limit - d.mem_limit / 16;
	static struct dp_msg *m[2 * BUDGET_MSGS];
	unsigned n = 0;
	/* requests: up to 15/16 of the budget */
	while (n < 2 * BUDGET_MSGS && (m[n] = dp_msg_alloc(&d, REQ_DATA))) {
		TL_EQ(m[n]->accounted, one);
		TL_TRUE(m[n]->chain == NULL && m[n]->resp_heap == NULL);
		memset(m[n]->data, 0xee, REQ_DATA);
		m[n]->req_len = REQ_DATA;
		n++;
	}
	TL_EQ(n, req_limit / one);
	TL_EQ(atomic_load(&d.mem_used), (uint64_t)n * one);
	/* data-less messages: the reserve */
	unsigned nreq = n;
	size_t bare = sizeof(struct dp_msg);
	while (n < 2 * BUDGET_MSGS && (m[n] = dp_msg_alloc(&d, 0)))
		n++;
	TL_TRUE(n > nreq);
	TL_EQ(n - nreq, (d.mem_limit - (uint64_t)nreq * one) / bare);
	TL_TRUE(dp_msg_alloc(&d, REQ_DATA) == NULL);
	TL_TRUE(dp_msg_alloc(&d, 0) == NULL);
	/* a spent budget: small answers inline, larger ones refused */
	TL_OK(dp_msg_resp(&d, m[0], sizeof(m[0]->inline_resp)));
	TL_TRUE(m[0]->resp == m[0]->inline_resp);
	TL_EQ(dp_msg_resp(&d, m[0], 4096), -ENOBUFS);
	TL_TRUE(m[0]->resp == m[0]->inline_resp && !m[0]->resp_heap);
	uint64_t used = atomic_load(&d.mem_used);
	TL_TRUE(used <= d.mem_limit);
	/* free two requests: a response buffer of a request's size fits,
	 * from the pool, charged, and replaced by a second one */
	dp_msg_free(m[1]);
	dp_msg_free(m[2]);
	m[1] = m[2] = NULL;
	TL_OK(dp_msg_resp(&d, m[0], 2000));
	TL_TRUE(m[0]->resp_heap && m[0]->resp != m[0]->inline_resp);
	TL_EQ((uintptr_t)m[0]->resp % 64, 0);
	memset(m[0]->resp, 1, 2000);
	TL_EQ(m[0]->accounted, one + 2000);
	TL_OK(dp_msg_resp(&d, m[0], 1500));
	TL_EQ(m[0]->accounted, one + 1500);
	TL_EQ(atomic_load(&d.mem_used), used - 2 * one + 1500);
	/* what free gives back besides the message */
	m[0]->req_token = &d;
	m[0]->req_release = fake_release;
	tokens_released = 0;
	dp_msg_free(m[0]);
	m[0] = NULL;
	TL_EQ(tokens_released, 1);
	for (unsigned i = 0; i < n; i++)
		dp_msg_free(m[i]);
	dp_msg_free(NULL);
	TL_EQ(atomic_load(&d.mem_used), 0);
	/* a request kept in a driver buffer (req_len beyond the message's
	 * data) whose response buffer is replaced: exactly the replaced
	 * buffer's charge comes back */
	struct dp_msg *z = dp_msg_alloc(&d, 0);
	TL_TRUE(z != NULL);
	z->req_len = 5000;
	TL_OK(dp_msg_resp(&d, z, 2000));
	TL_OK(dp_msg_resp(&d, z, 3000));
	memset(z->resp, 2, 3000);
	TL_EQ(atomic_load(&d.mem_used), bare + 3000);
	TL_EQ(z->accounted, bare + 3000);
	dp_msg_free(z);
	TL_EQ(atomic_load(&d.mem_used), 0);
	TL_EQ(pool_in_use(&d.msgpool), 0);
	struct dp_msgpool_stats st;
	dp_msgpool_stats(&d.msgpool, &st);
	TL_EQ(st.heap_exhausted + st.heap_oversize, 0);
	dp_msgpool_destroy(&d.msgpool);
}

/* ---- one thread allocates, several free ---- */

#define FREERS 3
#define RING_SLOTS 256

static struct dp_msgpool tp;
static struct dp_ring *to_freer[FREERS];
static _Atomic int alloc_done;
static _Atomic uint64_t stamp_bad, own_bad, own_count;

/* Each block carries its owner's stamp in its first and last words:
 * a block handed to two owners at once has one of them overwritten. */
static void stamp(uint8_t *b, size_t n, uint64_t v)
{
	memcpy(b, &v, 8);
	memcpy(b + n - 8, &v, 8);
}

static int stamped(const uint8_t *b, size_t n, uint64_t v)
{
	uint64_t x, y;
	memcpy(&x, b, 8);
	memcpy(&y, b + n - 8, 8);
	return x == v && y == v;
}

static size_t size_of(uint64_t i)
{
	static const size_t sizes[] = { 64, 700, 3000, 9000, 40000 };
	return sizes[i % 5];
}

static void *freer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	struct tl_rng rng;
	tl_rng_init(&rng, id + 1);
	uint64_t own = 0;
	time_t deadline = time(NULL) + 120;
	for (;;) {
		void *objs[16];
		unsigned n = dp_ring_dequeue_burst(to_freer[id], objs, 16);
		for (unsigned k = 0; k < n; k++) {
			uint8_t *b = objs[k];
			/* the allocator's index, stamped in the block */
			uint64_t i;
			memcpy(&i, b + 8, 8);
			if (!stamped(b, size_of(i), i * 2 + 1))
				atomic_fetch_add(&stamp_bad, 1);
			dp_msgpool_put(&tp, b);
		}
		/* a block of its own now and then, as storage cores take
		 * response buffers */
		if (tl_rng_below(&rng, 4) == 0) {
			size_t sz = size_of(tl_rng_next(&rng));
			uint8_t *b = dp_msgpool_get(&tp, sz);
			uint64_t v = ((uint64_t)id << 48 | own) * 2;
			stamp(b, sz, v);
			sched_yield();
			if (!stamped(b, sz, v))
				atomic_fetch_add(&own_bad, 1);
			dp_msgpool_put(&tp, b);
			own++;
		}
		if (n == 0 && atomic_load(&alloc_done) &&
		    dp_ring_count(to_freer[id]) == 0)
			break;
		if (time(NULL) > deadline)
			break; /* the main thread notices the leftovers */
	}
	atomic_fetch_add(&own_count, own);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("msgpool_threads");
	uint64_t total = (tl_long() ? 2000000 : 200000) + seed % 1000;
	TL_OK(dp_msgpool_create(&tp, 256, 64u << 20));
	atomic_store(&alloc_done, 0);
	atomic_store(&stamp_bad, 0);
	atomic_store(&own_bad, 0);
	atomic_store(&own_count, 0);
	pthread_t t[FREERS];
	for (uintptr_t i = 0; i < FREERS; i++) {
		TL_OK(dp_ring_create(RING_SLOTS, &to_freer[i]));
		TL_OK(pthread_create(&t[i], NULL, freer, (void *)i));
	}
	time_t deadline = time(NULL) + 120;
	uint64_t sent = 0;
	for (uint64_t i = 0; i < total; i++) {
		size_t sz = size_of(i);
		uint8_t *b = dp_msgpool_get(&tp, sz);
		TL_TRUE(b != NULL);
		stamp(b, sz, i * 2 + 1);
		memcpy(b + 8, &i, 8);
		void *o = b;
		/* bounded: the freers drain; the deadline catches a hang */
		while (dp_ring_enqueue_burst(to_freer[i % FREERS], &o, 1) != 1) {
			TL_TRUE(time(NULL) < deadline);
			sched_yield();
		}
		sent++;
	}
	atomic_store(&alloc_done, 1);
	for (int i = 0; i < FREERS; i++)
		pthread_join(t[i], NULL);
	TL_EQ(sent, total);
	TL_EQ(atomic_load(&stamp_bad), 0);
	TL_EQ(atomic_load(&own_bad), 0);
	struct dp_msgpool_stats st;
	dp_msgpool_stats(&tp, &st);
	uint64_t gets = 0, carved = 0;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		gets += st.cls[c].gets;
		carved += st.cls[c].carved;
		TL_EQ(st.cls[c].in_use, 0);
	}
	TL_EQ(gets, total + atomic_load(&own_count));
	TL_EQ(st.heap_exhausted + st.heap_oversize + st.heap_in_use, 0);
	/* blocks are reused: at most what the rings and the freers hold at
	 * once, never one per allocation */
	TL_TRUE(carved <= FREERS * (RING_SLOTS + 16 + 1) + 1);
	printf("threads: %llu blocks handed out, %llu carved\n",
	       (unsigned long long)gets, (unsigned long long)carved);
	for (int i = 0; i < FREERS; i++)
		dp_ring_destroy(to_freer[i]);
	dp_msgpool_destroy(&tp);
}

static void test_double_put(void **state)
{
	(void)state;
	struct dp_msgpool p;
	TL_OK(dp_msgpool_create(&p, 256, 1u << 20));
	void *b = dp_msgpool_get(&p, 100);
	TL_TRUE(b != NULL);
	fflush(stdout);
	pid_t pid = fork();
	TL_TRUE(pid >= 0);
	if (pid == 0) {
		dp_msgpool_put(&p, b);
		dp_msgpool_put(&p, b);
		_exit(0);
	}
	int status = 0;
	TL_EQ(waitpid(pid, &status, 0), pid);
	TL_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	/* and an address inside a block */
	pid = fork();
	TL_TRUE(pid >= 0);
	if (pid == 0) {
		dp_msgpool_put(&p, (uint8_t *)b + 64);
		_exit(0);
	}
	TL_EQ(waitpid(pid, &status, 0), pid);
	TL_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	dp_msgpool_put(&p, b);
	TL_EQ(pool_in_use(&p), 0);
#if defined(__SANITIZE_ADDRESS__)
	/* under AddressSanitizer: a block written after it was given back,
	 * or past the bytes asked for, is reported (the child dies) */
	for (int past = 0; past < 2; past++) {
		/* the overrun in a block never handed out before */
		size_t n = past ? 5000 : 100;
		uint8_t *x = dp_msgpool_get(&p, n);
		TL_TRUE(x != NULL);
		pid = fork();
		TL_TRUE(pid >= 0);
		if (pid == 0) {
			/* the report is expected: keep it out of the log */
			int null_fd = open("/dev/null", O_WRONLY);
			if (null_fd >= 0)
				dup2(null_fd, 2);
			if (!past)
				dp_msgpool_put(&p, x);
			*(volatile uint8_t *)(x + (past ? n : 0)) = 1;
			_exit(0);
		}
		TL_EQ(waitpid(pid, &status, 0), pid);
		TL_TRUE(!WIFEXITED(status) || WEXITSTATUS(status) != 0);
		dp_msgpool_put(&p, x);
	}
	printf("double_put: use after put and overrun reported\n");
#endif
	dp_msgpool_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_heap_fallback),
		cmocka_unit_test(test_budget_reserve),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_double_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
