/* dp_ring: single-thread contract and a bounded 2-producer MPSC stress. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tl.h"
#include "dataplane/ring.h"

static void test_basic(void **state)
{
	struct dp_ring *r;
	TL_EQ(dp_ring_create(3, &r), -EINVAL);
	TL_OK(dp_ring_create(8, &r));
	void *objs[16], *out[16];
	for (uintptr_t i = 0; i < 16; i++)
		objs[i] = (void *)(i + 1);
	TL_EQ(dp_ring_enqueue_burst(r, objs, 9), 0); /* all or nothing */
	TL_EQ(dp_ring_enqueue_burst(r, objs, 8), 8);
	TL_EQ(dp_ring_count(r), 8);
	TL_EQ(dp_ring_enqueue_burst(r, objs, 1), 0);
	TL_EQ(atomic_load(&r->full_drops), 2);
	TL_EQ(dp_ring_dequeue_burst(r, out, 3), 3);
	TL_TRUE(out[0] == objs[0] && out[2] == objs[2]);
	TL_EQ(dp_ring_dequeue_burst(r, out, 16), 5);
	TL_TRUE(out[4] == objs[7]);
	TL_EQ(dp_ring_dequeue_burst(r, out, 16), 0);
	/* wrap around many times */
	for (uintptr_t i = 0; i < 1000; i++) {
		TL_EQ(dp_ring_enqueue_burst(r, objs, 5), 5);
		TL_EQ(dp_ring_dequeue_burst(r, out, 5), 5);
		TL_TRUE(out[4] == objs[4]);
	}
	dp_ring_destroy(r);
}

#define PRODUCERS 2
static struct dp_ring *sr;
static uint64_t per_producer;

static void *producer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	for (uint64_t i = 0; i < per_producer;) {
		void *o = (void *)(id << 56 | (i + 1));
		if (dp_ring_enqueue_burst(sr, &o, 1) == 1)
			i++;
	}
	return NULL;
}

static void test_mpsc_stress(void **state)
{
	uint64_t seed = tl_seed("dp_ring_mpsc");
	per_producer = tl_long() ? 5000000 : 300000;
	per_producer += seed % 1000;
	TL_OK(dp_ring_create(64, &sr));
	pthread_t t[PRODUCERS];
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		pthread_create(&t[i], NULL, producer, (void *)(i + 1));
	uint64_t next[PRODUCERS + 1] = { 0 };
	uint64_t total = 0, want = per_producer * PRODUCERS;
	/* a hang guard, under meson's 120 s: three spinning producers and
	 * the consumer share two CPUs with the other tests */
	time_t deadline = time(NULL) + 100;
	void *out[32];
	while (total < want) {
		TL_TRUE(time(NULL) < deadline);
		unsigned n = dp_ring_dequeue_burst(sr, out, 32);
		for (unsigned k = 0; k < n; k++) {
			uintptr_t v = (uintptr_t)out[k];
			unsigned id = (unsigned)(v >> 56);
			uint64_t seq = v & ((1ull << 56) - 1);
			TL_TRUE(id >= 1 && id <= PRODUCERS);
			/* per-producer FIFO, nothing lost, nothing doubled */
			TL_EQ(seq, next[id] + 1);
			next[id] = seq;
		}
		total += n;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
	TL_EQ(dp_ring_count(sr), 0);
	dp_ring_destroy(sr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_mpsc_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
