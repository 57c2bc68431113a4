/*
 * A share partition's window (sharep.h).
 *
 * The window is a ring of entries in offset order (offsets rise, with
 * gaps where the log has no message); entries done at its head leave at
 * once, so the ring's first entry is `start` whenever the ring is not
 * empty.  The journal holds at most one change per entry still in the
 * ring (an entry points at its slot: a second change rewrites it), plus
 * the changes of entries that left; every call that changes entries
 * starts only with the journal at or below window_max and makes at most
 * window_max changes, so 2 * window_max slots always suffice.
 *
 * acquire walks the ring once in offset order to find the eligible
 * entries (a FIFO key is blocked by its first undone entry, through a
 * small open-addressing set whose slots carry a generation, so it needs
 * no clearing), then picks the best max of them by (rank, offset).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/sharep.h"

#define RANK_STARVED (SL_SP_PRIORITY_MAX + 1)

static struct sl_sp_entry *at(const struct sl_sp *sp, uint32_t i)
{
	return &sp->ring[(sp->head + i) % sp->cfg.window_max];
}

/* Handed out no more. */
static bool terminal(const struct sl_sp_entry *e)
{
	return e->state == SL_SP_ACKED || e->state == SL_SP_ARCHIVED;
}

/* Nothing more to do: terminal, and a dead letter copied. */
static bool done(const struct sl_sp_entry *e)
{
	return e->state == SL_SP_ACKED ||
	       (e->state == SL_SP_ARCHIVED && (!e->dead || e->copied));
}

int sl_sp_init(struct sl_sp *sp, const struct sl_sp_config *cfg,
	       int64_t start)
{
	memset(sp, 0, sizeof(*sp));
	if (!cfg->window_max || cfg->window_max > SL_SP_WINDOW_MAX ||
	    !cfg->lock_ms || !cfg->max_deliveries || start < 0)
		return -EINVAL;
	sp->cfg = *cfg;
	sp->start = sp->end = start;
	uint32_t w = cfg->window_max, set = 1;
	while (set < 2 * w)
		set <<= 1;
	sp->ring = calloc(w, sizeof(*sp->ring));
	sp->journal = calloc(2 * (size_t)w, sizeof(*sp->journal));
	sp->known = calloc(w, sizeof(*sp->known));
	sp->seen = calloc(set, sizeof(*sp->seen));
	sp->seen_gen = calloc(set, sizeof(*sp->seen_gen));
	sp->cand = calloc(w, sizeof(*sp->cand));
	if (!sp->ring || !sp->journal || !sp->known || !sp->seen ||
	    !sp->seen_gen || !sp->cand) {
		sl_sp_fini(sp);
		return -ENOMEM;
	}
	sp->seen_mask = set - 1;
	return 0;
}

void sl_sp_fini(struct sl_sp *sp)
{
	free(sp->ring);
	free(sp->journal);
	free(sp->known);
	free(sp->seen);
	free(sp->seen_gen);
	free(sp->cand);
	memset(sp, 0, sizeof(*sp));
}

int sl_sp_recover(struct sl_sp *sp, int64_t start,
		  const struct sl_sp_change *c, uint32_t n)
{
	if (sp->len || sp->known_len || sp->jlen || start < 0 ||
	    n > sp->cfg.window_max)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (c[i].offset < start || (i && c[i].offset <= c[i - 1].offset))
			return -EINVAL;
		if (c[i].state != SL_SP_AVAILABLE && c[i].state != SL_SP_ACKED &&
		    c[i].state != SL_SP_ARCHIVED)
			return -EINVAL;
	}
	if (n)
		memcpy(sp->known, c, (size_t)n * sizeof(*c));
	sp->known_head = 0;
	sp->known_len = n;
	sp->start = sp->end = start;
	return 0;
}

int64_t sl_sp_start(const struct sl_sp *sp)
{
	return sp->start;
}

int64_t sl_sp_end(const struct sl_sp *sp)
{
	return sp->end;
}

static bool journal_full(const struct sl_sp *sp)
{
	return sp->jlen > sp->cfg.window_max;
}

uint32_t sl_sp_room(const struct sl_sp *sp)
{
	if (journal_full(sp))
		return 0;
	return sp->cfg.window_max - sp->len;
}

/* Record e's persistent part in the journal (its slot if it has one). */
static void journal(struct sl_sp *sp, struct sl_sp_entry *e)
{
	struct sl_sp_change ch = {
		.offset = e->offset,
		.count = e->count,
		.state = e->state == SL_SP_ACQUIRED ? SL_SP_AVAILABLE : e->state,
		.dead = e->dead,
		.copied = e->copied,
	};
	if (e->state == SL_SP_AVAILABLE)
		ch.due_ms = e->due_ms;
	if (!e->jslot) {
		/* bounded: see the top of the file */
		if (sp->jlen >= 2 * sp->cfg.window_max)
			abort();
		e->jslot = ++sp->jlen;
	}
	sp->journal[e->jslot - 1] = ch;
}

static void set_state(struct sl_sp *sp, struct sl_sp_entry *e, uint8_t state)
{
	sp->counts[e->state]--;
	e->state = state;
	sp->counts[state]++;
}

/* Entries done at the head leave; start follows. */
static void advance(struct sl_sp *sp)
{
	while (sp->len && done(at(sp, 0))) {
		sp->counts[at(sp, 0)->state]--;
		sp->head = (sp->head + 1) % sp->cfg.window_max;
		sp->len--;
	}
	sp->start = sp->len ? at(sp, 0)->offset : sp->end;
}

/* e becomes AVAILABLE from due_ms on, or ARCHIVED at the limit. */
static void make_available(struct sl_sp *sp, struct sl_sp_entry *e,
			   uint64_t due_ms, uint64_t now_ms)
{
	if (e->count >= sp->cfg.max_deliveries) {
		set_state(sp, e, SL_SP_ARCHIVED);
		e->dead = SL_SP_DEAD_LIMIT;
		e->due_ms = 0;
	} else {
		set_state(sp, e, SL_SP_AVAILABLE);
		e->due_ms = due_ms;
		e->since_ms = due_ms > now_ms ? due_ms : now_ms;
	}
	e->owner = 0;
	journal(sp, e);
}

int sl_sp_offer(struct sl_sp *sp, int64_t offset, const struct sl_sp_attrs *a,
		uint64_t now_ms)
{
	if (offset < sp->end || a->priority > SL_SP_PRIORITY_MAX)
		return -EINVAL;
	if (!sl_sp_room(sp))
		return -ENOSPC;
	/* recovered changes of offsets the log no longer has are void */
	while (sp->known_len && sp->known[sp->known_head].offset < offset) {
		sp->known_head++;
		sp->known_len--;
	}
	struct sl_sp_entry *e = at(sp, sp->len);
	*e = (struct sl_sp_entry){
		.offset = offset,
		.due_ms = a->due_ms,
		.since_ms = a->due_ms > now_ms ? a->due_ms : now_ms,
		.key = a->key,
		.state = SL_SP_AVAILABLE,
		.priority = a->priority,
		.keyed = a->keyed,
	};
	sp->len++;
	sp->counts[SL_SP_AVAILABLE]++;
	sp->end = offset + 1;
	if (sp->known_len && sp->known[sp->known_head].offset == offset) {
		const struct sl_sp_change *k = &sp->known[sp->known_head];
		sp->known_head++;
		sp->known_len--;
		e->count = k->count;
		if (k->state == SL_SP_AVAILABLE) {
			/* max_deliveries used before the crash: a dead
			 * letter, maybe again */
			/* handed out before: its own time has come */
			e->due_ms = k->due_ms;
			e->since_ms = e->due_ms > now_ms ? e->due_ms : now_ms;
			if (e->count >= sp->cfg.max_deliveries)
				make_available(sp, e, e->due_ms, now_ms);
		} else {
			set_state(sp, e, k->state);
			e->dead = k->dead;
			e->copied = k->copied;
			e->due_ms = 0;
		}
	}
	/* a done entry behind an undone one stays until that one is done */
	if (sp->len == 1)
		advance(sp);
	return 0;
}

uint32_t sl_sp_truncate_to(struct sl_sp *sp, int64_t offset)
{
	uint32_t dropped = 0;
	while (sp->len && at(sp, 0)->offset < offset) {
		struct sl_sp_entry *e = at(sp, 0);
		dropped += !done(e);
		sp->counts[e->state]--;
		sp->head = (sp->head + 1) % sp->cfg.window_max;
		sp->len--;
	}
	while (sp->known_len && sp->known[sp->known_head].offset < offset) {
		sp->known_head++;
		sp->known_len--;
	}
	if (sp->end < offset)
		sp->end = offset;
	advance(sp);
	/* journaled changes of dropped entries stay: harmless, below start */
	return dropped;
}

/* Whether key was seen in this acquire (generation gen); marks it. */
static bool seen_before(struct sl_sp *sp, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	uint32_t i = (uint32_t)(h >> 32) & sp->seen_mask;
	for (;;) {
		if (sp->seen_gen[i] != sp->gen) {
			sp->seen_gen[i] = sp->gen;
			sp->seen[i] = key;
			return false;
		}
		if (sp->seen[i] == key)
			return true;
		i = (i + 1) & sp->seen_mask;
	}
}

static unsigned rank(const struct sl_sp *sp, const struct sl_sp_entry *e,
		     uint64_t now_ms)
{
	if (sp->cfg.starve_ms && now_ms - e->since_ms >= sp->cfg.starve_ms &&
	    now_ms >= e->since_ms)
		return RANK_STARVED;
	return e->priority;
}

/* Candidates are ring indexes; better: higher rank, then lower offset
 * (a lower index). */
static bool better(const struct sl_sp *sp, uint32_t a, uint32_t b,
		   uint64_t now_ms)
{
	unsigned ra = rank(sp, at(sp, a), now_ms);
	unsigned rb = rank(sp, at(sp, b), now_ms);
	return ra != rb ? ra > rb : a < b;
}

/* Heap of the best max candidates so far, worst at the root. */
static void sift_down(struct sl_sp *sp, uint32_t *h, uint32_t n, uint32_t i,
		      uint64_t now_ms)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && better(sp, h[w], h[l], now_ms))
			w = l;
		if (r < n && better(sp, h[w], h[r], now_ms))
			w = r;
		if (w == i)
			return;
		uint32_t t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

static void sift_up(struct sl_sp *sp, uint32_t *h, uint32_t i,
		    uint64_t now_ms)
{
	while (i) {
		uint32_t p = (i - 1) / 2;
		if (!better(sp, h[p], h[i], now_ms))
			return;
		uint32_t t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t sl_sp_acquire(struct sl_sp *sp, uint32_t owner, uint32_t max,
		       uint64_t now_ms, int64_t *out)
{
	if (journal_full(sp) || !max)
		return 0;
	if (max > sp->cfg.window_max)
		max = sp->cfg.window_max;
	if (++sp->gen == 0) {
		memset(sp->seen_gen, 0,
		       ((size_t)sp->seen_mask + 1) * sizeof(*sp->seen_gen));
		sp->gen = 1;
	}
	uint32_t *h = sp->cand, n = 0;
	for (uint32_t i = 0; i < sp->len; i++) {
		struct sl_sp_entry *e = at(sp, i);
		if (terminal(e))
			continue;
		if (e->keyed && seen_before(sp, e->key))
			continue;
		if (e->state != SL_SP_AVAILABLE || e->due_ms > now_ms)
			continue;
		if (n < max) {
			h[n] = i;
			sift_up(sp, h, n++, now_ms);
		} else if (better(sp, i, h[0], now_ms)) {
			h[0] = i;
			sift_down(sp, h, n, 0, now_ms);
		}
	}
	/* delivery order: best first, by rank, then offset (index) */
	qsort(h, n, sizeof(*h), cmp_u32);
	uint32_t k = 0;
	for (unsigned r = RANK_STARVED + 1; r-- > 0;) {
		for (uint32_t j = 0; j < n; j++) {
			struct sl_sp_entry *e = at(sp, h[j]);
			if (rank(sp, e, now_ms) != r)
				continue;
			out[k++] = e->offset;
		}
	}
	for (uint32_t j = 0; j < k; j++) {
		struct sl_sp_entry *e = (struct sl_sp_entry *)sl_sp_get(sp, out[j]);
		set_state(sp, e, SL_SP_ACQUIRED);
		e->owner = owner;
		e->count++;
		e->due_ms = now_ms + sp->cfg.lock_ms;
		journal(sp, e);
	}
	return k;
}

/* Ring index of offset, or -1: binary search over ascending offsets. */
static int64_t find(const struct sl_sp *sp, int64_t offset)
{
	uint32_t lo = 0, hi = sp->len;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int64_t o = at(sp, mid)->offset;
		if (o == offset)
			return mid;
		if (o < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct sl_sp_entry *sl_sp_get(const struct sl_sp *sp, int64_t offset)
{
	int64_t i = find(sp, offset);
	return i < 0 ? NULL : at(sp, (uint32_t)i);
}

/* The entry of offset, to change: 0, -ENOBUFS (the journal waits to be
 * drained) or -ENOENT. */
static int entry_for_change(struct sl_sp *sp, int64_t offset,
			    struct sl_sp_entry **e)
{
	if (journal_full(sp))
		return -ENOBUFS;
	int64_t i = find(sp, offset);
	if (i < 0)
		return -ENOENT;
	*e = at(sp, (uint32_t)i);
	return 0;
}

int sl_sp_ack(struct sl_sp *sp, int64_t offset, uint32_t owner,
	      enum sl_sp_ack type, uint64_t delay_ms, uint64_t now_ms)
{
	if (type < SL_SP_ACCEPT || type > SL_SP_RENEW)
		return -EINVAL;
	struct sl_sp_entry *e;
	int rc = entry_for_change(sp, offset, &e);
	if (rc)
		return rc;
	if (e->state != SL_SP_ACQUIRED || e->owner != owner)
		return -EPERM;
	switch (type) {
	case SL_SP_ACCEPT:
		set_state(sp, e, SL_SP_ACKED);
		e->due_ms = 0;
		journal(sp, e);
		break;
	case SL_SP_RELEASE:
		make_available(sp, e, delay_ms ? now_ms + delay_ms : 0, now_ms);
		break;
	case SL_SP_REJECT:
		set_state(sp, e, SL_SP_ARCHIVED);
		e->dead = SL_SP_DEAD_REJECTED;
		e->due_ms = 0;
		journal(sp, e);
		break;
	case SL_SP_RENEW:
		e->due_ms = now_ms + sp->cfg.lock_ms;
		return 0; /* a lock is not persisted */
	}
	advance(sp);
	return 0;
}

int sl_sp_unacquire(struct sl_sp *sp, int64_t offset, uint32_t owner)
{
	/* no journal check: the acquisition it undoes holds the entry's
	 * journal slot, which this rewrites */
	int64_t i = find(sp, offset);
	if (i < 0)
		return -ENOENT;
	struct sl_sp_entry *e = at(sp, (uint32_t)i);
	if (e->state != SL_SP_ACQUIRED || e->owner != owner || !e->count)
		return -EPERM;
	set_state(sp, e, SL_SP_AVAILABLE);
	e->count--;
	e->owner = 0;
	e->due_ms = 0;
	journal(sp, e);
	return 0;
}

uint32_t sl_sp_dead_pending(const struct sl_sp *sp, int64_t *out,
			    uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < sp->len && n < max; i++) {
		const struct sl_sp_entry *e = at(sp, i);
		if (e->state == SL_SP_ARCHIVED && e->dead && !e->copied)
			out[n++] = e->offset;
	}
	return n;
}

int sl_sp_dead_copied(struct sl_sp *sp, int64_t offset)
{
	struct sl_sp_entry *e;
	int rc = entry_for_change(sp, offset, &e);
	if (rc)
		return rc;
	if (e->state != SL_SP_ARCHIVED || !e->dead || e->copied)
		return -EPERM;
	e->copied = 1;
	journal(sp, e);
	advance(sp);
	return 0;
}

uint32_t sl_sp_expire(struct sl_sp *sp, uint64_t now_ms)
{
	uint32_t n = 0;
	if (journal_full(sp))
		return 0;
	for (uint32_t i = 0; i < sp->len; i++) {
		struct sl_sp_entry *e = at(sp, i);
		if (e->state == SL_SP_ACQUIRED && e->due_ms <= now_ms) {
			make_available(sp, e, 0, now_ms);
			n++;
		}
	}
	advance(sp);
	return n;
}

uint32_t sl_sp_release_owner(struct sl_sp *sp, uint32_t owner,
			     uint64_t now_ms)
{
	uint32_t n = 0;
	if (journal_full(sp))
		return 0;
	for (uint32_t i = 0; i < sp->len; i++) {
		struct sl_sp_entry *e = at(sp, i);
		if (e->state == SL_SP_ACQUIRED && e->owner == owner) {
			make_available(sp, e, 0, now_ms);
			n++;
		}
	}
	advance(sp);
	return n;
}

uint64_t sl_sp_next_due(const struct sl_sp *sp)
{
	uint64_t due = UINT64_MAX;
	for (uint32_t i = 0; i < sp->len; i++) {
		const struct sl_sp_entry *e = at(sp, i);
		if ((e->state == SL_SP_ACQUIRED ||
		     (e->state == SL_SP_AVAILABLE && e->due_ms)) &&
		    e->due_ms < due)
			due = e->due_ms;
	}
	return due;
}

uint32_t sl_sp_count(const struct sl_sp *sp, enum sl_sp_state state)
{
	return (unsigned)state < 5 ? sp->counts[state] : 0;
}

uint32_t sl_sp_drain(struct sl_sp *sp, struct sl_sp_change *out,
		     uint32_t max)
{
	uint32_t n = sp->jlen < max ? sp->jlen : max;
	memcpy(out, sp->journal, (size_t)n * sizeof(*out));
	if (n == sp->jlen) {
		sp->jlen = 0;
		for (uint32_t i = 0; i < sp->len; i++)
			at(sp, i)->jslot = 0;
		return n;
	}
	/* a part: the rest moves down, entries' slots with it */
	memmove(sp->journal, sp->journal + n,
		(size_t)(sp->jlen - n) * sizeof(*out));
	sp->jlen -= n;
	for (uint32_t i = 0; i < sp->len; i++) {
		struct sl_sp_entry *e = at(sp, i);
		if (e->jslot)
			e->jslot = e->jslot > n ? e->jslot - n : 0;
	}
	return n;
}

uint32_t sl_sp_snapshot(const struct sl_sp *sp, struct sl_sp_change *out,
			uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < sp->len && n < max; i++) {
		const struct sl_sp_entry *e = at(sp, i);
		if (e->state == SL_SP_AVAILABLE && !e->count)
			continue; /* fresh: the log says all of it */
		out[n++] = (struct sl_sp_change){
			.offset = e->offset,
			.due_ms = e->state == SL_SP_AVAILABLE ? e->due_ms : 0,
			.count = e->count,
			.state = e->state == SL_SP_ACQUIRED ? SL_SP_AVAILABLE
							    : e->state,
			.dead = e->state == SL_SP_ARCHIVED ? e->dead : 0,
			.copied = e->state == SL_SP_ARCHIVED ? e->copied : 0,
		};
	}
	for (uint32_t i = 0; i < sp->known_len && n < max; i++)
		out[n++] = sp->known[sp->known_head + i];
	return n;
}
