/*
 * Tests of control/sharep.c, a share partition's window.
 *
 * Cases by name: a message goes to one consumer and is done once
 * accepted; a lapsed lock hands it out again, counted; max_deliveries
 * makes it a dead letter, as a reject does; a release with a delay and a
 * delayed message wait for their time; priority order and the ageing that
 * keeps a level from starving; a FIFO key has one message in flight, in
 * order; the window is bounded and moves on; wrong answers are refused;
 * the journal and a crash: what was persisted comes back, nothing
 * accepted is handed out again.
 *
 * Then the model test: random operations (offer from a log with gaps,
 * acquire, accept, release with or without a delay, reject, renew, lapse
 * of time, an owner leaving, the log's start moving, a crash that keeps
 * only what was drained from the journal) applied to the window and to a
 * model that holds every record of the log in an array and decides each
 * step by brute force.  After every step: the window's start, end, every
 * entry and the counts equal the model's, each acquire handed out
 * exactly the records the model picks (in its order), the journal drained
 * so far equals the model's persistent state, the snapshot equals it too,
 * and every dead letter the model made was journaled.  Seeds:
 * SLUICE_SHAREP_SEED=n replays one (printed at each failure);
 * SLUICE_SHAREP_SEEDS=n changes the default 300.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/sharep.h"

static struct sl_sp_config cfg_of(uint32_t w, uint32_t lock, uint16_t maxd,
				  uint32_t starve)
{
	return (struct sl_sp_config){.window_max = w, .lock_ms = lock,
				     .max_deliveries = maxd,
				     .starve_ms = starve};
}

static const struct sl_sp_attrs PLAIN = {0};

/* offers offsets [from, to) plain */
static void offer_range(struct sl_sp *sp, int64_t from, int64_t to,
			uint64_t now)
{
	for (int64_t o = from; o < to; o++)
		assert_int_equal(sl_sp_offer(sp, o, &PLAIN, now), 0);
}

static uint32_t drain_all(struct sl_sp *sp, struct sl_sp_change *out,
			  uint32_t max)
{
	return sl_sp_drain(sp, out, max);
}

static void test_one_consumer_then_done(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(8, 1000, 5, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 10), 0);
	offer_range(&sp, 10, 13, 0);
	int64_t got[8];
	assert_int_equal(sl_sp_acquire(&sp, 1, 2, 0, got), 2);
	assert_true(got[0] == 10 && got[1] == 11);
	/* the other consumer gets what is left, not the same */
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 0, got), 1);
	assert_true(got[0] == 12);
	assert_int_equal(sl_sp_acquire(&sp, 3, 8, 0, got), 0);
	assert_int_equal(sl_sp_ack(&sp, 11, 1, SL_SP_ACCEPT, 0, 5), 0);
	/* 10 is not done: the window still starts there */
	assert_int_equal(sl_sp_start(&sp), 10);
	assert_int_equal(sl_sp_ack(&sp, 10, 1, SL_SP_ACCEPT, 0, 5), 0);
	assert_int_equal(sl_sp_start(&sp), 12);
	assert_int_equal(sl_sp_ack(&sp, 12, 2, SL_SP_ACCEPT, 0, 5), 0);
	assert_int_equal(sl_sp_start(&sp), 13);
	assert_int_equal(sl_sp_end(&sp), 13);
	assert_int_equal(sl_sp_count(&sp, SL_SP_ACQUIRED), 0);
	sl_sp_fini(&sp);
}

static void test_lock_lapse_redelivers(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(8, 1000, 5, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	offer_range(&sp, 0, 1, 0);
	int64_t got[4];
	assert_int_equal(sl_sp_acquire(&sp, 1, 4, 100, got), 1);
	assert_int_equal(sl_sp_next_due(&sp), 1100);
	assert_int_equal(sl_sp_expire(&sp, 1099), 0);
	/* renewed at 1000: held to 2000 */
	assert_int_equal(sl_sp_ack(&sp, 0, 1, SL_SP_RENEW, 0, 1000), 0);
	assert_int_equal(sl_sp_expire(&sp, 1999), 0);
	assert_int_equal(sl_sp_expire(&sp, 2000), 1);
	/* the late answer of the first owner is refused */
	assert_int_equal(sl_sp_ack(&sp, 0, 1, SL_SP_ACCEPT, 0, 2001),
			 -EPERM);
	assert_int_equal(sl_sp_acquire(&sp, 2, 4, 2001, got), 1);
	assert_int_equal(sl_sp_get(&sp, 0)->count, 2);
	assert_int_equal(sl_sp_ack(&sp, 0, 1, SL_SP_ACCEPT, 0, 2002), -EPERM);
	assert_int_equal(sl_sp_ack(&sp, 0, 2, SL_SP_ACCEPT, 0, 2002), 0);
	assert_null(sl_sp_get(&sp, 0));
	sl_sp_fini(&sp);
}

static void test_dead_letters(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(8, 1000, 3, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	offer_range(&sp, 0, 2, 0);
	struct sl_sp_change ch[32];
	int64_t got[4];
	uint64_t now = 0;
	for (int round = 1; round <= 3; round++) {
		assert_int_equal(sl_sp_acquire(&sp, 1, 1, now, got), 1);
		assert_int_equal(got[0], 0);
		if (round < 3)
			assert_int_equal(sl_sp_ack(&sp, 0, 1, SL_SP_RELEASE,
						   0, now), 0);
		now += 10;
	}
	(void)drain_all(&sp, ch, 32);
	/* the third lapse reaches the limit: archived, a dead letter */
	now += 1000;
	assert_int_equal(sl_sp_expire(&sp, now), 1);
	assert_int_equal(drain_all(&sp, ch, 32), 1);
	assert_int_equal(ch[0].offset, 0);
	assert_int_equal(ch[0].state, SL_SP_ARCHIVED);
	assert_int_equal(ch[0].dead, SL_SP_DEAD_LIMIT);
	assert_int_equal(ch[0].count, 3);
	assert_int_equal(ch[0].copied, 0);
	/* the window stays at a dead letter until it is copied */
	assert_int_equal(sl_sp_start(&sp), 0);
	assert_int_equal(sl_sp_dead_pending(&sp, got, 4), 1);
	assert_int_equal(got[0], 0);
	assert_int_equal(sl_sp_dead_copied(&sp, 1), -EPERM);
	assert_int_equal(sl_sp_dead_copied(&sp, 0), 0);
	assert_int_equal(sl_sp_dead_copied(&sp, 0), -ENOENT);
	assert_int_equal(drain_all(&sp, ch, 32), 1);
	assert_int_equal(ch[0].copied, 1);
	assert_int_equal(sl_sp_start(&sp), 1);
	/* a reject: at once, with its reason */
	assert_int_equal(sl_sp_acquire(&sp, 1, 1, now, got), 1);
	assert_int_equal(sl_sp_ack(&sp, 1, 1, SL_SP_REJECT, 0, now), 0);
	assert_int_equal(drain_all(&sp, ch, 32), 1);
	assert_int_equal(ch[0].offset, 1);
	assert_int_equal(ch[0].dead, SL_SP_DEAD_REJECTED);
	assert_int_equal(ch[0].count, 1);
	assert_int_equal(sl_sp_start(&sp), 1);
	assert_int_equal(sl_sp_dead_copied(&sp, 1), 0);
	assert_int_equal(sl_sp_start(&sp), 2);
	sl_sp_fini(&sp);
}

static void test_delays(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(8, 1000, 5, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	struct sl_sp_attrs later = {.due_ms = 5000};
	assert_int_equal(sl_sp_offer(&sp, 0, &later, 0), 0);
	offer_range(&sp, 1, 2, 0);
	int64_t got[4];
	/* the delayed one waits; the next goes */
	assert_int_equal(sl_sp_acquire(&sp, 1, 4, 10, got), 1);
	assert_int_equal(got[0], 1);
	assert_int_equal(sl_sp_next_due(&sp), 1010);
	/* released with a back-off of 300 ms */
	assert_int_equal(sl_sp_ack(&sp, 1, 1, SL_SP_RELEASE, 300, 20), 0);
	assert_int_equal(sl_sp_acquire(&sp, 1, 4, 319, got), 0);
	assert_int_equal(sl_sp_next_due(&sp), 320);
	assert_int_equal(sl_sp_acquire(&sp, 1, 4, 320, got), 1);
	assert_int_equal(got[0], 1);
	assert_int_equal(sl_sp_acquire(&sp, 2, 4, 4999, got), 0);
	assert_int_equal(sl_sp_acquire(&sp, 2, 4, 5000, got), 1);
	assert_int_equal(got[0], 0);
	sl_sp_fini(&sp);
}

static void test_priority_and_ageing(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(16, 1000, 5, 10000);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	uint8_t prio[6] = {1, 9, 5, 9, 0, 5};
	for (int i = 0; i < 6; i++) {
		struct sl_sp_attrs a = {.priority = prio[i]};
		assert_int_equal(sl_sp_offer(&sp, i, &a, 0), 0);
	}
	struct sl_sp_attrs bad = {.priority = 10};
	assert_int_equal(sl_sp_offer(&sp, 6, &bad, 0), -EINVAL);
	int64_t got[8];
	assert_int_equal(sl_sp_acquire(&sp, 1, 3, 0, got), 3);
	assert_true(got[0] == 1 && got[1] == 3 && got[2] == 2);
	/* at 10 s the rest have waited long enough: offset order, above a
	 * fresh priority 9 */
	struct sl_sp_attrs top = {.priority = 9};
	assert_int_equal(sl_sp_offer(&sp, 6, &top, 10000), 0);
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 10000, got), 4);
	assert_true(got[0] == 0 && got[1] == 4 && got[2] == 5 &&
		    got[3] == 6);
	sl_sp_fini(&sp);
}

static void test_fifo_groups(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(16, 1000, 5, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	/* keys: a a b a b, then one without a key */
	uint64_t key[5] = {'a', 'a', 'b', 'a', 'b'};
	for (int i = 0; i < 5; i++) {
		struct sl_sp_attrs a = {.key = key[i], .keyed = true};
		assert_int_equal(sl_sp_offer(&sp, i, &a, 0), 0);
	}
	offer_range(&sp, 5, 6, 0);
	int64_t got[8];
	assert_int_equal(sl_sp_acquire(&sp, 1, 8, 0, got), 3);
	assert_true(got[0] == 0 && got[1] == 2 && got[2] == 5);
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 0, got), 0);
	/* a released head goes first again, still one per key */
	assert_int_equal(sl_sp_ack(&sp, 0, 1, SL_SP_RELEASE, 0, 1), 0);
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 1, got), 1);
	assert_int_equal(got[0], 0);
	assert_int_equal(sl_sp_ack(&sp, 0, 2, SL_SP_ACCEPT, 0, 2), 0);
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 2, got), 1);
	assert_int_equal(got[0], 1);
	assert_int_equal(sl_sp_ack(&sp, 2, 1, SL_SP_REJECT, 0, 3), 0);
	assert_int_equal(sl_sp_acquire(&sp, 2, 8, 3, got), 1);
	assert_int_equal(got[0], 4);
	sl_sp_fini(&sp);
}

static void test_window_bound(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(4, 1000, 5, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 100), 0);
	/* gaps are not messages */
	for (int64_t o = 100; o < 108; o += 2)
		assert_int_equal(sl_sp_offer(&sp, o, &PLAIN, 0), 0);
	assert_int_equal(sl_sp_room(&sp), 0);
	assert_int_equal(sl_sp_offer(&sp, 108, &PLAIN, 0), -ENOSPC);
	assert_int_equal(sl_sp_offer(&sp, 104, &PLAIN, 0), -EINVAL);
	int64_t got[8];
	assert_int_equal(sl_sp_acquire(&sp, 1, 8, 0, got), 4);
	/* the last one done: no room until the first is */
	assert_int_equal(sl_sp_ack(&sp, 106, 1, SL_SP_ACCEPT, 0, 0), 0);
	assert_int_equal(sl_sp_room(&sp), 0);
	assert_int_equal(sl_sp_ack(&sp, 100, 1, SL_SP_ACCEPT, 0, 0), 0);
	assert_int_equal(sl_sp_start(&sp), 102);
	assert_int_equal(sl_sp_room(&sp), 1);
	/* the log's start passes 104: 102 is dropped undone */
	assert_int_equal(sl_sp_truncate_to(&sp, 104), 1);
	assert_int_equal(sl_sp_start(&sp), 104);
	assert_int_equal(sl_sp_ack(&sp, 102, 1, SL_SP_ACCEPT, 0, 0), -ENOENT);
	assert_int_equal(sl_sp_ack(&sp, 104, 1, 9, 0, 0), -EINVAL);
	assert_int_equal(sl_sp_ack(&sp, 104, 2, SL_SP_ACCEPT, 0, 0), -EPERM);
	assert_int_equal(sl_sp_ack(&sp, 104, 1, SL_SP_ACCEPT, 0, 0), 0);
	/* 106 was done: the window is empty, at the end */
	assert_int_equal(sl_sp_start(&sp), 107);
	assert_int_equal(sl_sp_room(&sp), 4);
	sl_sp_fini(&sp);
}

static void test_crash_recovery(void **state)
{
	(void)state;
	struct sl_sp sp;
	struct sl_sp_config c = cfg_of(8, 1000, 2, 0);
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	offer_range(&sp, 0, 5, 0);
	int64_t got[8];
	assert_int_equal(sl_sp_acquire(&sp, 1, 5, 0, got), 5);
	assert_int_equal(sl_sp_ack(&sp, 1, 1, SL_SP_ACCEPT, 0, 0), 0);
	assert_int_equal(sl_sp_ack(&sp, 2, 1, SL_SP_RELEASE, 50, 0), 0);
	assert_int_equal(sl_sp_ack(&sp, 3, 1, SL_SP_REJECT, 0, 0), 0);
	assert_int_equal(sl_sp_acquire(&sp, 1, 1, 50, got), 1);
	assert_int_equal(got[0], 2); /* its second delivery */
	struct sl_sp_change j[32], snap[8];
	uint32_t nj = drain_all(&sp, j, 32);
	uint32_t ns = sl_sp_snapshot(&sp, snap, 8);
	int64_t start = sl_sp_start(&sp);
	assert_int_equal(start, 0);
	assert_int_equal(ns, 5);
	/* what the journal said last of each offset is the snapshot */
	for (uint32_t i = 0; i < ns; i++) {
		const struct sl_sp_change *last = NULL;
		for (uint32_t k = 0; k < nj; k++)
			if (j[k].offset == snap[i].offset)
				last = &j[k];
		assert_non_null(last);
		assert_int_equal(last->state, snap[i].state);
		assert_int_equal(last->count, snap[i].count);
		assert_int_equal(last->due_ms, snap[i].due_ms);
		assert_int_equal(last->dead, snap[i].dead);
		assert_int_equal(last->copied, snap[i].copied);
	}
	sl_sp_fini(&sp);

	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	assert_int_equal(sl_sp_recover(&sp, start, snap, ns), 0);
	offer_range(&sp, 0, 6, 100);
	/* 0 and 4 were handed out once: again; 1 was accepted, 3 is dead,
	 * 2 used its two deliveries: dead now */
	assert_int_equal(sl_sp_count(&sp, SL_SP_ARCHIVED), 2);
	assert_int_equal(drain_all(&sp, j, 32), 1);
	assert_int_equal(j[0].offset, 2);
	assert_int_equal(j[0].dead, SL_SP_DEAD_LIMIT);
	assert_int_equal(sl_sp_acquire(&sp, 7, 8, 100, got), 3);
	assert_true(got[0] == 0 && got[1] == 4 && got[2] == 5);
	assert_int_equal(sl_sp_get(&sp, 0)->count, 2);
	assert_int_equal(sl_sp_get(&sp, 5)->count, 1);
	/* 3 and 2 are still to copy: the crash kept them */
	assert_int_equal(sl_sp_dead_pending(&sp, got, 8), 2);
	assert_true(got[0] == 2 && got[1] == 3);
	sl_sp_fini(&sp);
	/* bad recoveries */
	assert_int_equal(sl_sp_init(&sp, &c, 0), 0);
	struct sl_sp_change two[2] = {{.offset = 3}, {.offset = 3}};
	assert_int_equal(sl_sp_recover(&sp, 0, two, 2), -EINVAL);
	assert_int_equal(sl_sp_recover(&sp, 4, two, 1), -EINVAL);
	two[1].offset = 5;
	two[1].state = SL_SP_ACQUIRED;
	assert_int_equal(sl_sp_recover(&sp, 0, two, 2), -EINVAL);
	sl_sp_fini(&sp);
}

/* ---- the model test ---- */

#define LOG_MAX 400
#define KEYS 4
#define OWNERS 3

struct mrec {
	int64_t off;
	struct sl_sp_attrs a;
	bool fetched; /* offered since the last crash */
	uint8_t state, dead;
	uint16_t count;
	uint32_t owner;
	uint64_t due, since;
	/* persisted: the last drained change, if any */
	bool on_disk;
	struct sl_sp_change disk;
	bool dead_told; /* a dead letter was journaled for it */
	bool copied;    /* the dead letter was copied */
};

struct model {
	struct mrec r[LOG_MAX];
	int n;
	int64_t start, end, log_start;
	int64_t disk_start;
	uint64_t now;
	struct sl_sp_config cfg;
	struct sl_sp sp;
	uint64_t seed, rng;
	int step;
};

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static uint32_t below(struct model *m, uint32_t n)
{
	return (uint32_t)(rnd(m) % n);
}

#define CHECK(m, cond)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			print_error("seed %" PRIu64 " step %d: %s (line %d)\n", \
				    (m)->seed, (m)->step, #cond, __LINE__);  \
			fail();                                              \
		}                                                            \
	} while (0)

static bool mterminal(const struct mrec *r)
{
	return r->state == SL_SP_ACKED || r->state == SL_SP_ARCHIVED;
}

static bool mdone(const struct mrec *r)
{
	return r->state == SL_SP_ACKED ||
	       (r->state == SL_SP_ARCHIVED && (!r->dead || r->copied));
}

static bool in_window(const struct model *m, const struct mrec *r)
{
	return r->fetched && r->off >= m->start && r->off < m->end &&
	       r->off >= m->log_start;
}

static struct mrec *rec_of(struct model *m, int64_t off)
{
	for (int i = 0; i < m->n; i++)
		if (m->r[i].off == off)
			return &m->r[i];
	return NULL;
}

static void mstart(struct model *m)
{
	m->start = m->end;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (r->fetched && r->off >= m->log_start && r->off < m->end &&
		    !mdone(r)) {
			m->start = r->off;
			return;
		}
	}
}

static uint32_t mlen(const struct model *m)
{
	uint32_t n = 0;
	for (int i = 0; i < m->n; i++)
		n += in_window(m, &m->r[i]);
	return n;
}

static void mavailable(struct model *m, struct mrec *r, uint64_t due)
{
	r->owner = 0;
	if (r->count >= m->cfg.max_deliveries) {
		r->state = SL_SP_ARCHIVED;
		r->dead = SL_SP_DEAD_LIMIT;
		r->due = 0;
	} else {
		r->state = SL_SP_AVAILABLE;
		r->due = due;
		r->since = due > m->now ? due : m->now;
	}
}

static struct sl_sp_change persistent(const struct mrec *r)
{
	return (struct sl_sp_change){
		.offset = r->off,
		.due_ms = r->state == SL_SP_AVAILABLE ? r->due : 0,
		.count = r->count,
		.state = r->state == SL_SP_ACQUIRED ? SL_SP_AVAILABLE
						     : r->state,
		.dead = r->state == SL_SP_ARCHIVED ? r->dead : 0,
		.copied = r->state == SL_SP_ARCHIVED && r->copied,
	};
}

/* Offered and never handed out: nothing to persist (a count of 0 can
 * only be that). */
static bool fresh(const struct mrec *r)
{
	return r->state == SL_SP_AVAILABLE && !r->count;
}

/* The caller's duty: drain the journal into the "disk". */
static void drain(struct model *m)
{
	struct sl_sp_change ch[64];
	uint32_t n;
	do {
		n = sl_sp_drain(&m->sp, ch, 64);
		for (uint32_t i = 0; i < n; i++) {
			struct mrec *r = rec_of(m, ch[i].offset);
			CHECK(m, r != NULL);
			if (ch[i].dead)
				r->dead_told = true;
			r->on_disk = true;
			r->disk = ch[i];
		}
	} while (n == 64);
	m->disk_start = sl_sp_start(&m->sp);
}

/* Offer the log from the window's end while there is room. */
static void fill(struct model *m)
{
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (r->off < sl_sp_end(&m->sp) || r->off < m->log_start)
			continue;
		if (!sl_sp_room(&m->sp) || mlen(m) >= m->cfg.window_max)
			break;
		CHECK(m, sl_sp_offer(&m->sp, r->off, &r->a, m->now) == 0);
		r->fetched = true;
		m->end = r->off + 1;
		/* a recovered record takes what was persisted */
		r->copied = false;
		if (r->on_disk && r->off >= m->disk_start) {
			r->count = r->disk.count;
			r->dead = r->disk.dead;
			r->copied = r->disk.copied;
			r->state = r->disk.state;
			r->due = r->disk.state == SL_SP_AVAILABLE
					 ? r->disk.due_ms : 0;
			r->since = r->due > m->now ? r->due : m->now;
			if (r->state == SL_SP_AVAILABLE &&
			    r->count >= m->cfg.max_deliveries)
				mavailable(m, r, r->due);
		} else {
			r->state = SL_SP_AVAILABLE;
			r->count = 0;
			r->dead = 0;
			r->due = r->a.due_ms;
			r->since = r->due > m->now ? r->due : m->now;
		}
		r->owner = 0;
		mstart(m);
	}
}

static unsigned mrank(const struct model *m, const struct mrec *r)
{
	if (m->cfg.starve_ms && m->now >= r->since &&
	    m->now - r->since >= m->cfg.starve_ms)
		return SL_SP_PRIORITY_MAX + 1;
	return r->a.priority;
}

static void macquire(struct model *m, uint32_t owner, uint32_t max)
{
	int cand[LOG_MAX], nc = 0;
	bool seen[KEYS] = {0};
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (!in_window(m, r) || mterminal(r))
			continue;
		if (r->a.keyed) {
			if (seen[r->a.key])
				continue;
			seen[r->a.key] = true;
		}
		if (r->state == SL_SP_AVAILABLE && r->due <= m->now)
			cand[nc++] = i;
	}
	/* selection by brute force: repeatedly the best left */
	int want[LOG_MAX], nw = 0;
	bool taken[LOG_MAX] = {0};
	while ((uint32_t)nw < max && nw < nc) {
		int best = -1;
		for (int k = 0; k < nc; k++) {
			if (taken[k])
				continue;
			if (best < 0 ||
			    mrank(m, &m->r[cand[k]]) > mrank(m, &m->r[cand[best]]))
				best = k;
		}
		taken[best] = true;
		want[nw++] = cand[best];
	}
	int64_t got[LOG_MAX];
	uint32_t n = sl_sp_acquire(&m->sp, owner, max, m->now, got);
	CHECK(m, n == (uint32_t)nw);
	for (int k = 0; k < nw; k++) {
		CHECK(m, got[k] == m->r[want[k]].off);
		struct mrec *r = &m->r[want[k]];
		r->state = SL_SP_ACQUIRED;
		r->owner = owner;
		r->count++;
		r->due = m->now + m->cfg.lock_ms;
	}
	/* sometimes the last ones had no room in the answer: undone */
	int undo = nw && below(m, 4) == 0 ? 1 + (int)below(m, (uint32_t)nw) : 0;
	for (int k = nw - undo; k < nw; k++) {
		struct mrec *r = &m->r[want[k]];
		CHECK(m, sl_sp_unacquire(&m->sp, r->off, owner + 1) == -EPERM);
		CHECK(m, sl_sp_unacquire(&m->sp, r->off, owner) == 0);
		r->state = SL_SP_AVAILABLE;
		r->owner = 0;
		r->count--;
		r->due = 0;
	}
}

static void mack(struct model *m, int64_t off, uint32_t owner, int type,
		 uint64_t delay)
{
	struct mrec *r = rec_of(m, off);
	int want;
	if (type < SL_SP_ACCEPT || type > SL_SP_RENEW)
		want = -EINVAL;
	else if (!r || !in_window(m, r))
		want = -ENOENT;
	else if (r->state != SL_SP_ACQUIRED || r->owner != owner)
		want = -EPERM;
	else
		want = 0;
	int got = sl_sp_ack(&m->sp, off, owner, (enum sl_sp_ack)type, delay,
			    m->now);
	CHECK(m, got == want);
	if (want)
		return;
	switch (type) {
	case SL_SP_ACCEPT:
		r->state = SL_SP_ACKED;
		r->due = 0;
		break;
	case SL_SP_RELEASE:
		mavailable(m, r, delay ? m->now + delay : 0);
		break;
	case SL_SP_REJECT:
		r->state = SL_SP_ARCHIVED;
		r->dead = SL_SP_DEAD_REJECTED;
		r->due = 0;
		break;
	case SL_SP_RENEW:
		r->due = m->now + m->cfg.lock_ms;
		break;
	}
	mstart(m);
}

static void mexpire(struct model *m)
{
	uint32_t want = 0;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (in_window(m, r) && r->state == SL_SP_ACQUIRED &&
		    r->due <= m->now) {
			mavailable(m, r, 0);
			want++;
		}
	}
	CHECK(m, sl_sp_expire(&m->sp, m->now) == want);
	mstart(m);
}

static void mleave(struct model *m, uint32_t owner)
{
	uint32_t want = 0;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (in_window(m, r) && r->state == SL_SP_ACQUIRED &&
		    r->owner == owner) {
			mavailable(m, r, 0);
			want++;
		}
	}
	CHECK(m, sl_sp_release_owner(&m->sp, owner, m->now) == want);
	mstart(m);
}

static void mtruncate(struct model *m, int64_t to)
{
	uint32_t want = 0;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (in_window(m, r) && r->off < to && !mdone(r))
			want++;
	}
	if (to > m->log_start)
		m->log_start = to;
	if (m->end < to)
		m->end = to;
	CHECK(m, sl_sp_truncate_to(&m->sp, to) == want);
	mstart(m);
}

/* The dead letters still to copy: the window's list is the model's; a
 * random number of them copied, in order. */
static void mcopy(struct model *m)
{
	int64_t got[LOG_MAX];
	uint32_t n = sl_sp_dead_pending(&m->sp, got, LOG_MAX), k = 0;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (in_window(m, r) && r->state == SL_SP_ARCHIVED && r->dead &&
		    !r->copied) {
			CHECK(m, k < n && got[k] == r->off);
			k++;
		}
	}
	CHECK(m, k == n);
	uint32_t copy = n ? below(m, n + 1) : 0;
	for (uint32_t i = 0; i < copy; i++) {
		CHECK(m, sl_sp_dead_copied(&m->sp, got[i]) == 0);
		rec_of(m, got[i])->copied = true;
	}
	mstart(m);
	if (!n)
		return;
	/* once more: refused when done (gone when the window passed it),
	 * else the first copied now */
	struct mrec *r0 = rec_of(m, got[0]);
	CHECK(m, sl_sp_dead_copied(&m->sp, got[0]) ==
		 (!copy ? 0 : in_window(m, r0) ? -EPERM : -ENOENT));
	r0->copied = true;
	mstart(m);
}

static void mcrash(struct model *m)
{
	/* what the disk holds at and above its start */
	struct sl_sp_change k[LOG_MAX];
	uint32_t nk = 0;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (r->on_disk && r->off >= m->disk_start)
			k[nk++] = r->disk;
	}
	sl_sp_fini(&m->sp);
	CHECK(m, sl_sp_init(&m->sp, &m->cfg, 0) == 0);
	CHECK(m, sl_sp_recover(&m->sp, m->disk_start, k, nk) == 0);
	for (int i = 0; i < m->n; i++)
		if (m->r[i].off >= m->disk_start)
			m->r[i].fetched = false;
	m->start = m->end = m->disk_start;
}

static void check(struct model *m)
{
	CHECK(m, sl_sp_start(&m->sp) == m->start);
	CHECK(m, sl_sp_end(&m->sp) == m->end);
	uint32_t counts[5] = {0};
	uint64_t due = UINT64_MAX;
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		const struct sl_sp_entry *e = sl_sp_get(&m->sp, r->off);
		if (!in_window(m, r)) {
			CHECK(m, e == NULL);
			continue;
		}
		CHECK(m, e != NULL);
		CHECK(m, e->state == r->state);
		CHECK(m, e->count == r->count);
		counts[r->state]++;
		if (r->state == SL_SP_ACQUIRED) {
			CHECK(m, e->owner == r->owner);
			CHECK(m, e->due_ms == r->due);
			if (r->due < due)
				due = r->due;
		}
		if (r->state == SL_SP_AVAILABLE) {
			CHECK(m, e->due_ms == r->due);
			CHECK(m, e->since_ms == r->since);
			if (r->due && r->due < due)
				due = r->due;
		}
		if (r->state == SL_SP_ARCHIVED) {
			CHECK(m, e->dead == r->dead);
			CHECK(m, r->dead_told);
		}
	}
	for (int s = 0; s < 5; s++)
		CHECK(m, sl_sp_count(&m->sp, (enum sl_sp_state)s) == counts[s]);
	CHECK(m, sl_sp_next_due(&m->sp) == due);
	/* the disk holds the model's persistent state at and above start;
	 * the snapshot is that state too */
	struct sl_sp_change snap[LOG_MAX];
	uint32_t ns = sl_sp_snapshot(&m->sp, snap, LOG_MAX), k = 0;
	CHECK(m, ns <= m->cfg.window_max);
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		if (r->off < m->start || r->off < m->log_start)
			continue;
		if (in_window(m, r)) {
			struct sl_sp_change p = persistent(r);
			if (fresh(r)) {
				/* never journaled, or journaled as it is
				 * (an acquisition undone) */
				CHECK(m, !r->on_disk ||
					 (r->disk.state == SL_SP_AVAILABLE &&
					  !r->disk.count));
				continue;
			}
			CHECK(m, r->on_disk);
			CHECK(m, r->disk.offset == p.offset);
			CHECK(m, r->disk.count == p.count);
			CHECK(m, r->disk.state == p.state);
			CHECK(m, r->disk.due_ms == p.due_ms);
			CHECK(m, r->disk.copied == p.copied);
			CHECK(m, k < ns && snap[k].offset == r->off);
			CHECK(m, snap[k].state == p.state &&
				 snap[k].count == p.count &&
				 snap[k].due_ms == p.due_ms);
			k++;
		} else if (r->on_disk && r->off >= m->disk_start &&
			   r->off >= m->end) {
			/* recovered, not offered again yet */
			CHECK(m, k < ns && snap[k].offset == r->off);
			k++;
		}
	}
	CHECK(m, k == ns);
}

static void run_seed(uint64_t seed, bool trace)
{
	struct model *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	m->seed = seed;
	m->rng = seed * 2654435761u + 1;
	m->cfg = cfg_of(1 + below(m, 24), 50 + below(m, 500),
			(uint16_t)(1 + below(m, 4)),
			below(m, 2) ? 0 : 200 + below(m, 2000));
	bool use_keys = below(m, 2), use_prio = below(m, 2),
	     use_delay = below(m, 2);
	int64_t off = below(m, 5);
	m->n = 50 + (int)below(m, LOG_MAX - 50);
	for (int i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		r->off = off;
		off += 1 + (below(m, 4) == 0 ? below(m, 3) : 0);
		if (use_keys && below(m, 3)) {
			r->a.keyed = true;
			r->a.key = below(m, KEYS);
		}
		if (use_prio)
			r->a.priority = (uint8_t)below(m, 10);
		if (use_delay && below(m, 5) == 0)
			r->a.due_ms = below(m, 5000);
	}
	m->start = m->end = m->disk_start = m->r[0].off;
	assert_int_equal(sl_sp_init(&m->sp, &m->cfg, m->r[0].off), 0);
	fill(m);
	drain(m);
	check(m);
	for (m->step = 0; m->step < 600; m->step++) {
		uint32_t op = below(m, 100);
		uint32_t owner = 1 + below(m, OWNERS);
		if (trace)
			printf("# step %d op %u now %" PRIu64 " start %" PRId64
			       " end %" PRId64 "\n", m->step, op, m->now,
			       m->start, m->end);
		if (op < 30) {
			macquire(m, owner, 1 + below(m, 6));
		} else if (op < 60) {
			/* an answer for one of the window's entries, mostly
			 * right, sometimes from the wrong owner or out of it */
			int64_t o = m->start + below(m, 8);
			struct mrec *r = rec_of(m, o);
			if (r && r->state == SL_SP_ACQUIRED && below(m, 5))
				owner = r->owner;
			int type = 1 + (int)below(m, 4);
			if (below(m, 40) == 0)
				type = 7;
			uint64_t delay = below(m, 3) ? 0 : below(m, 2000);
			mack(m, o, owner, type, delay);
		} else if (op < 75) {
			m->now += below(m, 300);
			mexpire(m);
		} else if (op < 80) {
			mleave(m, owner);
		} else if (op < 82) {
			mtruncate(m, m->start + below(m, 4));
		} else if (op < 86) {
			mcrash(m);
		} else if (op < 92) {
			mcopy(m);
		} else {
			m->now += below(m, 50);
		}
		drain(m);
		fill(m);
		drain(m);
		check(m);
	}
	sl_sp_fini(&m->sp);
	free(m);
}

static void test_model(void **state)
{
	(void)state;
	const char *one = getenv("SLUICE_SHAREP_SEED");
	if (one) {
		run_seed(strtoull(one, NULL, 10), true);
		return;
	}
	const char *ns = getenv("SLUICE_SHAREP_SEEDS");
	uint64_t n = ns ? strtoull(ns, NULL, 10) : 300;
	for (uint64_t s = 1; s <= n; s++)
		run_seed(s, false);
	printf("# %" PRIu64 " seeds\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_consumer_then_done),
		cmocka_unit_test(test_lock_lapse_redelivers),
		cmocka_unit_test(test_dead_letters),
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_priority_and_ageing),
		cmocka_unit_test(test_fifo_groups),
		cmocka_unit_test(test_window_bound),
		cmocka_unit_test(test_crash_recovery),
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
