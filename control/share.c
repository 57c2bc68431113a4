/*
 * Share groups (share.h has the contract).
 *
 * Happy path of a ShareFetch: the request's acknowledgements are applied
 * to their share partitions (sharep.c); then, for each partition of the
 * member's session in turn, messages are acquired up to MaxRecords and
 * the answer's byte budget, and the stored batches that hold them are
 * put in the answer as they are, with AcquiredRecords ranges naming the
 * offsets that are the member's; every share partition touched has its
 * journal written to the state file (sstore.c) and fdatasync'ed; the
 * answer goes.  Nothing to hand out and MaxWaitMs > 0: the fetch waits
 * (its acknowledgements' results kept) while the partitions are read
 * again every SL_SHARE_POLL_MS, and is answered when something came or
 * at its deadline.
 *
 * Failure modes: a state file that cannot be written makes the answer an
 * empty one (the client's connection closed, so it never takes an
 * acknowledgement that is not durable for done; what memory holds is
 * ahead of the file, which only ever hands a message out again);
 * a share partition whose log cannot be read stays as it is and is read
 * again at the next poll; a batch too big for an answer (more than
 * SL_SHARE_ANSWER_BYTES) is not handed out (counted as oversized).
 *
 * A share partition's window is filled from the log: each read fetches
 * from its end; each stored batch met is kept (if not already) and its
 * records from the end on are offered with the attributes their headers
 * give, while there is room.  Kept batches wholly below the window's
 * start are freed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/glog.h"
#include "control/log.h"
#include "control/share.h"
#include "control/sstore.h"
#include "proto/compression.h"
#include "proto/ipc.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"
#include "storage/disk.h"
#include "storage/log.h" /* struct sl_clock */

#define ERR_NONE 0
#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_NOT_LEADER 6 /* NOT_LEADER_OR_FOLLOWER */
#define ERR_INVALID_REQUEST 42
#define ERR_KAFKA_STORAGE 56
#define ERR_UNKNOWN_TOPIC_ID 100
#define ERR_FENCED_MEMBER_EPOCH 110
#define ERR_INVALID_RECORD_STATE 121
#define ERR_SHARE_SESSION_NOT_FOUND 122
#define ERR_INVALID_SHARE_SESSION_EPOCH 123

#define ID_MAX 255              /* group and member ids */
#define SESSION_PARTS_MAX 4096  /* partitions of one session */
#define CACHE_BYTES_MAX (8u << 20) /* kept batches of a share partition */
#define OUT_BYTES (SL_SHARE_ANSWER_BYTES + 512u * 1024) /* an answer's
							  records and the
							  rest */
#define ARENA_BYTES (4u << 20)
#define ACQUIRE_MAX 8192        /* messages of one answer */
#define ACK_OFFSETS_MAX (1 << 20) /* offsets one request acknowledges */
#define RECORDS_MAX (64u << 20) /* a compressed batch, decompressed */

struct sbatch {
	struct sbatch *next;
	int64_t base, last;
	size_t len;
	uint8_t bytes[];
};

struct sgroup;
struct sreader;

/* A share partition. */
struct spart {
	struct spart *next;          /* the group's */
	struct sgroup *g;
	uint32_t topic_id;
	int32_t partition;
	bool ready;                  /* its window exists */
	bool locating;               /* "latest": its start being read */
	int64_t locate_from;         /* where that read asks */
	bool reading;
	bool dirty;                  /* its journal has changes */
	bool start_dirty;            /* its start is not in the file yet */
	int64_t stored_start;        /* the start the file has */
	bool read_batches;           /* the read in flight met a batch */
	bool copying;                /* dead letters on their way */
	int16_t read_err;            /* the last read's, 0 once one works */
	int64_t read_from;
	struct sl_sp sp;
	struct sbatch *bhead, *btail;
	size_t bbytes;
	/* from the file, until the window exists */
	bool recovered;
	int64_t rec_start;
	struct sl_sp_change *rec;
	uint32_t nrec, rec_cap;
};

/* One log client per group and topic (a partition has one read at a
 * time in a glog). */
struct sreader {
	struct sreader *next;
	struct sl_share *s;
	struct sgroup *g;
	uint32_t topic_id;
	struct sl_glog *log;
};

struct tp {
	uint32_t topic_id;
	int32_t partition;
};

struct smember {
	char id[ID_MAX + 1];
	uint32_t handle;             /* the owner of its acquisitions */
	bool joined;                 /* by ShareGroupHeartbeat */
	int32_t epoch, prev_epoch;
	int64_t expires_ms;
	char *topics;                /* subscribed names, NUL-separated */
	uint32_t ntopics;
	char rack[ID_MAX + 1];
	bool has_rack;
	char client_id[ID_MAX + 1];
	bool has_session;
	int32_t session_epoch;       /* the next one expected */
	int64_t used_ms;             /* its session's last request */
	struct tp *parts;
	uint32_t nparts, parts_cap;
};

struct sgroup {
	char id[ID_MAX + 1];
	size_t idlen;
	int32_t epoch;
	int8_t reset;                /* share.auto.offset.reset: 0 latest,
					1 earliest, 2 the broker's default */
	struct smember *members[SL_SHARE_MEMBERS_MAX];
	uint32_t nmembers;
	struct spart *parts;
	struct sreader *readers;
};

/* What a fetch's acknowledgements came to, per partition. */
struct ackres {
	uint32_t topic_id;
	int32_t partition;
	int16_t err;
};

struct swait {
	struct swait *next;
	uint64_t token;
	int16_t version;
	int32_t corr;
	struct sgroup *g;
	struct smember *m;
	int64_t deadline_ms;
	int32_t max_records, max_bytes;
	struct ackres *acks;
	uint32_t nacks;
	bool native;                 /* a QUEUE_RECEIVE of topic_id */
	uint32_t topic_id;
};

/* A dead-letter topic's writer (<topic>.dlq). */
struct sdlq {
	struct sdlq *next;
	uint32_t topic_id;
	int32_t partitions;
	struct sl_glog *log;
};

/* Dead letters of one share partition on their way, one append. */
struct scopy {
	struct scopy *next;
	uint64_t seq;
	struct sgroup *g;
	uint32_t topic_id;
	int32_t partition;
	uint32_t n;
	int64_t offsets[];
};

/* An answer built, sent once the changes it reports are durable (one
 * fdatasync for every answer of a turn of the event loop). */
struct sreply {
	struct sreply *next;
	uint64_t token;
	uint8_t native_op;
	size_t len;
	uint8_t bytes[];
};

struct sl_share {
	struct sl_share_config cfg;
	struct sdlq *dlqs;
	struct scopy *copies;
	const struct sl_clock *clock;
	struct sl_sstore *store;
	struct sgroup *groups[SL_SHARE_GROUPS_MAX];
	uint32_t ngroups;
	uint32_t next_handle;
	struct swait *waits;
	int64_t next_poll_ms;
	int64_t now_ms;
	int64_t ack_budget;          /* offsets one request may answer */
	struct sl_share_stats st;
	struct kc_arena in, build;
	uint8_t *out;
	int64_t *acq;                /* one answer's acquisitions */
	uint8_t native_op;           /* the answer being sent is a native
					frame of this opcode (0: Kafka) */
	struct sreply *replies;      /* answers waiting for the next write */
	struct sreply **replies_tail;
	bool replies_failed;         /* a write since they were queued
					failed: they are withheld */
	uint32_t next_part;          /* where a native receive starts */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The share partitions' clock: the wall clock, which delivery times in
 * headers are given in (locks run on it too). */
static uint64_t wall_ms(const struct sl_share *s)
{
	int64_t w = s->clock->wall_ms(s->clock->ctx);
	return w > 0 ? (uint64_t)w : 0;
}

/* ---- groups, members ---- */

static struct sgroup *group_find(struct sl_share *s, const char *id,
				 size_t len)
{
	for (uint32_t i = 0; i < s->ngroups; i++) {
		struct sgroup *g = s->groups[i];
		if (g->idlen == len && !memcmp(g->id, id, len))
			return g;
	}
	return NULL;
}

static struct sgroup *group_get(struct sl_share *s, const char *id,
				size_t len)
{
	struct sgroup *g = group_find(s, id, len);
	if (g || !len || len > ID_MAX || s->ngroups == SL_SHARE_GROUPS_MAX)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	memcpy(g->id, id, len);
	g->idlen = len;
	g->reset = 2;
	s->groups[s->ngroups++] = g;
	return g;
}

static struct smember *member_find(struct sgroup *g, const char *id,
				   size_t len)
{
	for (uint32_t i = 0; i < g->nmembers; i++) {
		struct smember *m = g->members[i];
		if (strlen(m->id) == len && !memcmp(m->id, id, len))
			return m;
	}
	return NULL;
}

static struct smember *member_get(struct sl_share *s, struct sgroup *g,
				  const char *id, size_t len)
{
	struct smember *m = member_find(g, id, len);
	if (m || !len || len > ID_MAX || g->nmembers == SL_SHARE_MEMBERS_MAX)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	memcpy(m->id, id, len);
	m->handle = ++s->next_handle;
	g->members[g->nmembers++] = m;
	return m;
}

static void member_free(struct sgroup *g, struct smember *m)
{
	for (uint32_t i = 0; i < g->nmembers; i++) {
		if (g->members[i] != m)
			continue;
		g->members[i] = g->members[--g->nmembers];
		break;
	}
	free(m->topics);
	free(m->parts);
	free(m);
}

static bool subscribed(const struct smember *m, const char *name, size_t len)
{
	const char *p = m->topics;
	for (uint32_t i = 0; i < m->ntopics; i++) {
		size_t l = strlen(p);
		if (l == len && !memcmp(p, name, len))
			return true;
		p += l + 1;
	}
	return false;
}

/* ---- share partitions ---- */

static struct spart *spart_find(struct sgroup *g, uint32_t topic_id,
				int32_t partition)
{
	for (struct spart *p = g->parts; p; p = p->next)
		if (p->topic_id == topic_id && p->partition == partition)
			return p;
	return NULL;
}

static struct spart *spart_get(struct sgroup *g, uint32_t topic_id,
			       int32_t partition)
{
	struct spart *p = spart_find(g, topic_id, partition);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->g = g;
	p->topic_id = topic_id;
	p->partition = partition;
	p->stored_start = -1;
	p->next = g->parts;
	g->parts = p;
	return p;
}

static void spart_free_batches(struct spart *p, int64_t below)
{
	while (p->bhead && p->bhead->last < below) {
		struct sbatch *b = p->bhead;
		p->bhead = b->next;
		p->bbytes -= b->len;
		free(b);
	}
	if (!p->bhead)
		p->btail = NULL;
}

static struct sl_sstore_key key_of(const struct spart *p)
{
	return (struct sl_sstore_key){p->g->id, p->g->idlen, p->topic_id,
				      p->partition};
}

/* The window, from what the file said or at start. */
static int spart_open(struct sl_share *s, struct spart *p, int64_t start)
{
	struct sl_sp_config c = s->cfg.sp;
	if (p->recovered) {
		start = p->rec_start;
		/* a window as wide as what was persisted, whatever the
		 * configuration says now */
		uint32_t n = 0;
		for (uint32_t i = 0; i < p->nrec; i++)
			n += p->rec[i].offset >= start;
		if (n > c.window_max)
			c.window_max = n;
	}
	int rc = sl_sp_init(&p->sp, &c, start < 0 ? 0 : start);
	if (rc)
		return rc;
	if (p->recovered) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < p->nrec; i++)
			if (p->rec[i].offset >= start)
				p->rec[k++] = p->rec[i];
		rc = sl_sp_recover(&p->sp, start, p->rec, k);
		if (rc) {
			sl_log("share group %s: the state of %u-%d read back "
			       "is not consistent; it starts at %lld afresh",
			       p->g->id, p->topic_id, p->partition,
			       (long long)start);
		}
		free(p->rec);
		p->rec = NULL;
		p->nrec = p->rec_cap = 0;
		p->recovered = false;
		p->stored_start = start;
	} else {
		p->start_dirty = true;
	}
	p->ready = true;
	return 0;
}

/* ---- reading the log ---- */

static uint64_t parse_u64(const uint8_t *v, int32_t n, bool *ok)
{
	uint64_t x = 0;
	*ok = n > 0 && n <= 19;
	for (int32_t i = 0; *ok && i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			*ok = false;
		else
			x = x * 10 + (uint64_t)(v[i] - '0');
	}
	return x;
}

static uint64_t hash_bytes(const uint8_t *p, int32_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (int32_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* What a record's headers ask for (sharep.h's attributes). */
static void attrs_of(const struct rb_record *r, struct sl_sp_attrs *a)
{
	const uint8_t *v;
	int32_t n;
	bool ok;
	*a = (struct sl_sp_attrs){0};
	if (rb_header_find(r, "sl-priority", 11, &v, &n) && n == 1 &&
	    v[0] >= '0' && v[0] <= '9')
		a->priority = (uint8_t)(v[0] - '0');
	if (rb_header_find(r, "sl-deliver-at", 13, &v, &n)) {
		uint64_t at = parse_u64(v, n, &ok);
		if (ok)
			a->due_ms = at;
	} else if (rb_header_find(r, "sl-delay-ms", 11, &v, &n)) {
		uint64_t d = parse_u64(v, n, &ok);
		if (ok && r->timestamp > 0)
			a->due_ms = (uint64_t)r->timestamp + d;
	}
	if (rb_header_find(r, "sl-group", 8, &v, &n) && n >= 0) {
		a->keyed = true;
		a->key = hash_bytes(v, n);
	}
}

static void on_batch(void *ctx, int32_t partition, const uint8_t *b,
		     size_t len)
{
	struct sreader *rd = ctx;
	struct spart *p = spart_find(rd->g, rd->topic_id, partition);
	if (!p || !p->ready || !p->reading)
		return;
	p->read_batches = true;
	struct rb_header h;
	rb_header_decode(b, &h);
	int64_t last = rb_last_offset(b);
	if (h.attributes & RB_ATTR_CONTROL)
		return; /* a transaction marker: no message */
	if (last < sl_sp_end(&p->sp) || !sl_sp_room(&p->sp))
		return;
	if (p->bbytes + len > CACHE_BYTES_MAX && p->bhead)
		return;
	struct rb_iter it;
	uint8_t *plain;
	if (sl_batch_records(&it, b, len, RECORDS_MAX, &plain)) {
		sl_log("share group %s: %u-%d: a batch at %lld cannot be read "
		       "(its compression); its messages are skipped",
		       p->g->id, p->topic_id, p->partition,
		       (long long)h.base_offset);
		return;
	}
	bool kept = p->btail && p->btail->last >= h.base_offset;
	struct rb_record r;
	int offered = 0;
	while (sl_sp_room(&p->sp) && rb_iter_next(&it, &r) == 1) {
		if (r.offset < sl_sp_end(&p->sp))
			continue;
		struct sl_sp_attrs a;
		attrs_of(&r, &a);
		if (sl_sp_offer(&p->sp, r.offset, &a, wall_ms(rd->s)))
			break;
		offered++;
	}
	free(plain);
	if (!offered || kept)
		return;
	struct sbatch *sb = malloc(sizeof(*sb) + len);
	if (!sb)
		return; /* its messages cannot be handed out: not kept */
	sb->next = NULL;
	sb->base = h.base_offset;
	sb->last = last;
	sb->len = len;
	memcpy(sb->bytes, b, len);
	if (p->btail)
		p->btail->next = sb;
	else
		p->bhead = sb;
	p->btail = sb;
	p->bbytes += len;
}

static void mark_dirty(struct spart *p)
{
	p->dirty = true;
}

static void on_read_done(void *ctx, int32_t partition, int16_t err)
{
	struct sreader *rd = ctx;
	struct spart *p = spart_find(rd->g, rd->topic_id, partition);
	if (!p)
		return;
	struct sl_share *s = rd->s;
	int64_t next = sl_glog_read_next(rd->log, partition);
	p->read_err = err;
	if (p->locating) {
		/* "latest": the high watermark an answer without an error
		 * gave (an answer below the log's start gives none: asked
		 * again from there) */
		p->locating = false;
		int64_t hw = sl_glog_high_watermark(rd->log, partition);
		if (!err && hw >= 0 && spart_open(s, p, hw) == 0)
			mark_dirty(p);
		else if (!err && next > p->locate_from)
			p->locate_from = next;
		return;
	}
	if (!p->reading)
		return;
	p->reading = false;
	if (err)
		return;
	/* nothing came and the log goes on further along: its start moved
	 * past the window's end (retention) */
	if (!p->read_batches && next > sl_sp_end(&p->sp) &&
	    p->read_from == sl_sp_end(&p->sp)) {
		uint32_t lost = sl_sp_truncate_to(&p->sp, next);
		if (lost)
			sl_log("share group %s: %u-%d: %u messages were "
			       "deleted by retention before they were "
			       "acknowledged", p->g->id, p->topic_id,
			       p->partition, lost);
		p->start_dirty = true;
		mark_dirty(p);
	}
}

static struct sreader *reader_of(struct sl_share *s, struct sgroup *g,
				 uint32_t topic_id)
{
	for (struct sreader *r = g->readers; r; r = r->next)
		if (r->topic_id == topic_id)
			return r;
	const char *name;
	size_t len;
	int32_t parts;
	if (!s->cfg.topic_id ||
	    !s->cfg.topic_id(s->cfg.topic_ctx, topic_id, &name, &len, &parts))
		return NULL;
	char topic[256];
	snprintf(topic, sizeof(topic), "%.*s", (int)len, name);
	struct sreader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (sl_glog_create(topic, s->cfg.kafka_port, &r->log)) {
		free(r);
		return NULL;
	}
	if (s->cfg.kafka_addr)
		sl_glog_set_addr(r->log, s->cfg.kafka_addr);
	sl_glog_set_callbacks(r->log, NULL, NULL, on_read_done, r);
	sl_glog_set_batch_callback(r->log, on_batch);
	/* a read at the log's end waits there for the next message, which
	 * wakes a waiting fetch at once */
	sl_glog_set_read_wait(r->log, SL_SHARE_READ_WAIT_MS);
	r->s = s;
	r->g = g;
	r->topic_id = topic_id;
	r->next = g->readers;
	g->readers = r;
	return r;
}

/* Start what p needs from its log: its start ("latest"), or more
 * messages while its window has room. */
static void spart_read(struct sl_share *s, struct spart *p)
{
	if (p->reading || p->locating)
		return;
	struct sreader *rd = reader_of(s, p->g, p->topic_id);
	if (!rd)
		return;
	if (!p->ready) {
		bool earliest = p->g->reset == 2 ? s->cfg.earliest :
						   p->g->reset == 1;
		if (p->recovered || earliest) {
			if (spart_open(s, p, 0) == 0)
				mark_dirty(p);
			return;
		}
		/* any answer without an error says where the log ends */
		if (sl_glog_read_once(rd->log, p->partition, p->locate_from) ==
		    0)
			p->locating = true;
		return;
	}
	if (!sl_sp_room(&p->sp) ||
	    (p->bbytes >= CACHE_BYTES_MAX && p->bhead))
		return;
	p->read_from = sl_sp_end(&p->sp);
	if (sl_glog_read_once(rd->log, p->partition, p->read_from) == 0) {
		p->reading = true;
		p->read_batches = false;
	}
}

/* ---- persisting ---- */

/* The live state: every share partition's start and what its window
 * (or what was read back of it, not opened yet) holds that a fresh entry
 * does not. */
static uint64_t live_bytes(struct sl_share *s)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct spart *p = s->groups[i]->parts; p; p = p->next) {
			struct sl_sstore_key k = key_of(p);
			uint32_t c = p->ready ? p->sp.len : p->nrec;
			n += sl_sstore_start_bytes(&k) +
			     (uint64_t)c * sl_sstore_change_bytes(&k);
		}
	return n;
}

/* Rewrite the file with the live state when it is mostly dead records
 * (the journal of every window is empty: persist ran). */
static void compact(struct sl_share *s)
{
	if (!sl_sstore_compact_due(s->store, live_bytes(s)))
		return;
	struct sl_sp_change *snap = NULL;
	uint32_t cap = 0;
	sl_sstore_begin_rewrite(s->store);
	for (uint32_t i = 0; i < s->ngroups; i++)
		if (s->groups[i]->reset != 2)
			(void)sl_sstore_put_reset(s->store, s->groups[i]->id,
						  s->groups[i]->idlen,
						  s->groups[i]->reset);
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct spart *p = s->groups[i]->parts; p; p = p->next) {
			struct sl_sstore_key k = key_of(p);
			if (!p->ready && !p->recovered)
				continue;
			if (!p->ready) {
				(void)sl_sstore_put_start(s->store, &k,
							  p->rec_start);
				for (uint32_t j = 0; j < p->nrec; j++)
					(void)sl_sstore_put_change(
						s->store, &k, &p->rec[j]);
				continue;
			}
			(void)sl_sstore_put_start(s->store, &k,
						  sl_sp_start(&p->sp));
			uint32_t want = p->sp.cfg.window_max;
			if (want > cap) {
				free(snap);
				snap = malloc(want * sizeof(*snap));
				cap = snap ? want : 0;
			}
			uint32_t n = snap ? sl_sp_snapshot(&p->sp, snap, cap)
					  : 0;
			for (uint32_t j = 0; j < n; j++)
				(void)sl_sstore_put_change(s->store, &k,
							   &snap[j]);
		}
	free(snap);
	int rc = sl_sstore_end_rewrite(s->store);
	if (rc)
		sl_log("share groups: rewriting %s failed: %s; the file keeps "
		       "growing until a rewrite succeeds", SL_SSTORE_FILE,
		       strerror(-rc));
}

/* Every dirty share partition's journal (and moved start) written and
 * fdatasync'ed: 0 or -errno. */
static int persist(struct sl_share *s)
{
	bool any = false;
	for (uint32_t i = 0; i < s->ngroups && !any; i++)
		for (struct spart *p = s->groups[i]->parts; p; p = p->next)
			if (p->dirty && p->ready) {
				any = true;
				break;
			}
	if (!any)
		return 0;
	sl_sstore_begin(s->store);
	struct sl_sp_change ch[256];
	uint64_t dead = 0;
	for (uint32_t i = 0; i < s->ngroups; i++) {
		for (struct spart *p = s->groups[i]->parts; p; p = p->next) {
			if (!p->dirty || !p->ready)
				continue;
			struct sl_sstore_key k = key_of(p);
			int64_t start = sl_sp_start(&p->sp);
			if (p->start_dirty || start != p->stored_start)
				(void)sl_sstore_put_start(s->store, &k, start);
			uint32_t n;
			do {
				n = sl_sp_drain(&p->sp, ch, 256);
				for (uint32_t j = 0; j < n; j++) {
					if (ch[j].offset < start)
						continue; /* done: START says */
					dead += ch[j].dead && !ch[j].copied;
					(void)sl_sstore_put_change(s->store, &k,
								   &ch[j]);
				}
			} while (n == 256);
		}
	}
	int rc = sl_sstore_end(s->store);
	for (uint32_t i = 0; i < s->ngroups; i++) {
		for (struct spart *p = s->groups[i]->parts; p; p = p->next) {
			if (!p->dirty || !p->ready)
				continue;
			p->dirty = false;
			if (rc)
				continue;
			p->start_dirty = false;
			p->stored_start = sl_sp_start(&p->sp);
			spart_free_batches(p, p->stored_start);
		}
	}
	if (rc) {
		s->st.store_failures++;
		sl_log("share groups: writing %s failed: %s; the answers that "
		       "waited for it are withheld", SL_SSTORE_FILE,
		       strerror(-rc));
		/* the changes of the answers queued were in it */
		s->replies_failed |= s->replies != NULL;
		return rc;
	}
	s->st.dead_letters += dead;
	compact(s);
	return 0;
}

/* ---- dead letters ---- */

/* The kept batch holding offset, or NULL. */
static const struct sbatch *batch_of(const struct spart *p, int64_t offset)
{
	for (const struct sbatch *b = p->bhead; b; b = b->next)
		if (b->base <= offset && offset <= b->last)
			return b;
	return NULL;
}

#define DLQ_BATCH 64          /* dead letters of one append */
#define DLQ_SUFFIX ".dlq"

static void on_dlq_appended(void *ctx, uint64_t seq, int32_t partition,
			    int16_t err, int64_t offset)
{
	struct sl_share *s = ctx;
	(void)partition;
	(void)offset;
	struct scopy **pp = &s->copies;
	while (*pp && (*pp)->seq != seq)
		pp = &(*pp)->next;
	struct scopy *c = *pp;
	if (!c)
		return;
	*pp = c->next;
	struct spart *p = spart_find(c->g, c->topic_id, c->partition);
	if (p) {
		p->copying = false;
		if (!err && p->ready) {
			for (uint32_t i = 0; i < c->n; i++)
				if (sl_sp_dead_copied(&p->sp, c->offsets[i]) ==
				    0)
					s->st.dead_letters_copied++;
			mark_dirty(p);
		} else if (err) {
			sl_log("share group %s: copying %u dead letters of "
			       "%u-%d to their dead-letter topic failed "
			       "(error %d); trying again", c->g->id, c->n,
			       c->topic_id, c->partition, (int)err);
		}
	}
	free(c);
}

/* The writer of the dead-letter topic of topic id, or NULL when that
 * topic (<name>.dlq) does not exist. */
static struct sdlq *dlq_of(struct sl_share *s, uint32_t topic_id)
{
	const char *name;
	size_t len;
	int32_t parts;
	if (!s->cfg.topic_id ||
	    !s->cfg.topic_id(s->cfg.topic_ctx, topic_id, &name, &len, &parts))
		return NULL;
	char dname[256];
	if (len + sizeof(DLQ_SUFFIX) > sizeof(dname))
		return NULL;
	memcpy(dname, name, len);
	memcpy(dname + len, DLQ_SUFFIX, sizeof(DLQ_SUFFIX));
	uint32_t did;
	int32_t dparts;
	if (!s->cfg.topic ||
	    !s->cfg.topic(s->cfg.topic_ctx, dname, strlen(dname), &did,
			  &dparts) || dparts < 1)
		return NULL;
	for (struct sdlq *d = s->dlqs; d; d = d->next)
		if (d->topic_id == did) {
			d->partitions = dparts;
			return d;
		}
	struct sdlq *d = calloc(1, sizeof(*d));
	if (!d || sl_glog_create(dname, s->cfg.kafka_port, &d->log)) {
		free(d);
		return NULL;
	}
	if (s->cfg.kafka_addr)
		sl_glog_set_addr(d->log, s->cfg.kafka_addr);
	sl_glog_set_callbacks(d->log, on_dlq_appended, NULL, NULL, s);
	d->topic_id = did;
	d->partitions = dparts;
	d->next = s->dlqs;
	s->dlqs = d;
	return d;
}

/* The record at offset in batch b (decompressed into *plain, the
 * caller's to free): 1 with *r, or 0. */
static int record_at(const struct sbatch *b, int64_t offset,
		     struct rb_record *r, uint8_t **plain)
{
	struct rb_iter it;
	if (sl_batch_records(&it, b->bytes, b->len, RECORDS_MAX, plain))
		return 0;
	while (rb_iter_next(&it, r) == 1)
		if (r->offset == offset)
			return 1;
	return 0;
}

/* Copy p's dead letters still to copy (up to DLQ_BATCH, one append) to
 * its topic's dead-letter topic, with headers naming where each came
 * from, why and after how many deliveries; with no such topic they are
 * archived only (copied to nowhere). */
static void copy_dead(struct sl_share *s, struct spart *p)
{
	if (!p->ready || p->copying)
		return;
	int64_t off[DLQ_BATCH];
	uint32_t n = sl_sp_dead_pending(&p->sp, off, DLQ_BATCH);
	if (!n)
		return;
	struct sdlq *d = dlq_of(s, p->topic_id);
	if (!d) {
		for (uint32_t i = 0; i < n; i++)
			(void)sl_sp_dead_copied(&p->sp, off[i]);
		mark_dirty(p);
		return;
	}
	struct scopy *c = malloc(sizeof(*c) + n * sizeof(int64_t));
	struct sl_glog_rec *recs = calloc(n, sizeof(*recs));
	struct rb_header_kv *hs = calloc((size_t)n * SL_GLOG_HEADERS_MAX,
					 sizeof(*hs));
	uint8_t **plain = calloc(n, sizeof(*plain));
	char (*txt)[5][24] = calloc(n, sizeof(*txt));
	const char *name = "";
	size_t nlen = 0;
	int32_t parts;
	(void)s->cfg.topic_id(s->cfg.topic_ctx, p->topic_id, &name, &nlen,
			      &parts);
	uint32_t k = 0;
	for (uint32_t i = 0; c && recs && hs && plain && txt && i < n; i++) {
		const struct sbatch *b = batch_of(p, off[i]);
		const struct sl_sp_entry *e = sl_sp_get(&p->sp, off[i]);
		struct rb_record r;
		if (!b || !e || !record_at(b, off[i], &r, &plain[k])) {
			free(plain[k]);
			plain[k] = NULL;
			continue; /* its batch is not read yet: later */
		}
		struct rb_header_kv *h = &hs[(size_t)k * SL_GLOG_HEADERS_MAX];
		uint32_t nh = 0;
		/* its own headers first, as many as leave room for ours */
		for (int32_t x = 0; x < r.nheaders &&
				    nh < SL_GLOG_HEADERS_MAX - 6; x++) {
			const uint8_t *v;
			int32_t vl;
			if (!rb_header_at(&r, x, &h[nh].key, &h[nh].klen, &v,
					  &vl))
				break;
			h[nh].value = v;
			h[nh].vlen = vl;
			nh++;
		}
		snprintf(txt[k][0], 24, "%d", (int)p->partition);
		snprintf(txt[k][1], 24, "%lld", (long long)off[i]);
		snprintf(txt[k][2], 24, "%u", (unsigned)e->count);
		snprintf(txt[k][3], 24, "%s", e->dead == SL_SP_DEAD_REJECTED ?
					     "rejected" : "delivery-limit");
		h[nh++] = (struct rb_header_kv){"sl-dlq-topic", 12, name,
						(int32_t)nlen};
		h[nh++] = (struct rb_header_kv){"sl-dlq-partition", 16,
						txt[k][0],
						(int32_t)strlen(txt[k][0])};
		h[nh++] = (struct rb_header_kv){"sl-dlq-offset", 13, txt[k][1],
						(int32_t)strlen(txt[k][1])};
		h[nh++] = (struct rb_header_kv){"sl-dlq-count", 12, txt[k][2],
						(int32_t)strlen(txt[k][2])};
		h[nh++] = (struct rb_header_kv){"sl-dlq-reason", 13, txt[k][3],
						(int32_t)strlen(txt[k][3])};
		h[nh++] = (struct rb_header_kv){"sl-dlq-group", 12, p->g->id,
						(int32_t)p->g->idlen};
		recs[k] = (struct sl_glog_rec){
			r.key, r.key ? r.klen : -1, r.value,
			r.value ? r.vlen : -1, h, nh};
		c->offsets[k++] = off[i];
	}
	uint64_t seq = 0;
	if (k && sl_glog_append(d->log, p->partition % d->partitions, recs, k,
				(int64_t)wall_ms(s), &seq) == 0) {
		c->seq = seq;
		c->g = p->g;
		c->topic_id = p->topic_id;
		c->partition = p->partition;
		c->n = k;
		c->next = s->copies;
		s->copies = c;
		p->copying = true;
		c = NULL;
	}
	for (uint32_t i = 0; plain && i < n; i++)
		free(plain[i]);
	free(plain);
	free(txt);
	free(hs);
	free(recs);
	free(c);
}

/* ---- answering ---- */

static void reply(struct sl_share *s, uint64_t token, long n)
{
	if (n <= 0 && s->native_op) {
		/* a native client learns it failed (its acknowledgements
		 * may not be durable: it sends them again) */
		n = sn_encode_error_resp(s->out, OUT_BYTES, s->native_op,
					 (uint32_t)token,
					 SN_ERR_KAFKA_STORAGE_ERROR);
		s->cfg.native_reply(s->cfg.reply_ctx, token, s->out,
				    (size_t)n);
		return;
	}
	if (s->native_op) {
		s->cfg.native_reply(s->cfg.reply_ctx, token, s->out,
				    (size_t)n);
		return;
	}
	if (n <= 0)
		s->cfg.reply(s->cfg.reply_ctx, token, NULL, 0);
	else
		s->cfg.reply(s->cfg.reply_ctx, token, s->out, (size_t)n);
}

static long encode(struct sl_share *s, int16_t key, int16_t version,
		   int32_t corr, const void *body)
{
	struct kc_response_header h = {corr};
	long n = kc_encode_response(key, version, &h,
				    (const union kc_response *)body, s->out,
				    OUT_BYTES);
	if (n < 0)
		sl_log("share groups: an answer of api %d did not encode "
		       "(%ld)", key, n);
	return n;
}

static struct kc_str str_of(const char *p)
{
	return (struct kc_str){p, (int32_t)strlen(p)};
}

/* ---- ShareGroupHeartbeat ---- */

/* The assignment: every partition of every subscribed topic. */
static void assignment(struct sl_share *s, const struct smember *m,
		       struct kc_array *out)
{
	struct kc_share_group_heartbeat_resp_topic_partitions *tp =
		kc_arena_take(&s->build, m->ntopics ? m->ntopics : 1,
			      sizeof(*tp));
	uint32_t n = 0;
	const char *name = m->topics;
	for (uint32_t i = 0; i < m->ntopics && tp; i++) {
		size_t len = strlen(name);
		uint32_t id;
		int32_t parts;
		if (s->cfg.topic &&
		    s->cfg.topic(s->cfg.topic_ctx, name, len, &id, &parts) &&
		    parts > 0) {
			int32_t *pi = kc_arena_take(&s->build, (size_t)parts,
						    sizeof(*pi));
			if (pi) {
				for (int32_t k = 0; k < parts; k++)
					pi[k] = k;
				sl_topic_uuid(id, tp[n].topic_id.b);
				tp[n].partitions = (struct kc_array){pi, parts};
				n++;
			}
		}
		name += len + 1;
	}
	*out = (struct kc_array){tp, (int32_t)n};
}

static void release_member(struct sl_share *s, struct sgroup *g,
			   struct smember *m)
{
	for (struct spart *p = g->parts; p; p = p->next) {
		if (!p->ready)
			continue;
		uint32_t n = sl_sp_release_owner(&p->sp, m->handle,
						 wall_ms(s));
		if (n) {
			s->st.released += n;
			mark_dirty(p);
		}
	}
}

static int set_topics(struct smember *m, const struct kc_array *names)
{
	const struct kc_str *t = names->items;
	size_t bytes = 0;
	for (int32_t i = 0; i < names->count; i++) {
		if (t[i].len <= 0 || t[i].len > 249)
			return -EINVAL;
		bytes += (size_t)t[i].len + 1;
	}
	char *buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return -ENOMEM;
	size_t at = 0;
	for (int32_t i = 0; i < names->count; i++) {
		memcpy(buf + at, t[i].ptr, (size_t)t[i].len);
		at += (size_t)t[i].len;
		buf[at++] = 0;
	}
	free(m->topics);
	m->topics = buf;
	m->ntopics = (uint32_t)names->count;
	return 0;
}

static bool same_topics(const struct smember *m, const struct kc_array *names)
{
	if ((uint32_t)names->count != m->ntopics)
		return false;
	const struct kc_str *t = names->items;
	for (int32_t i = 0; i < names->count; i++)
		if (t[i].len < 0 || !subscribed(m, t[i].ptr, (size_t)t[i].len))
			return false;
	return true;
}

static long on_heartbeat(struct sl_share *s, int16_t version, int32_t corr,
			 const struct kc_share_group_heartbeat_req *q,
			 const struct kc_str *client_id)
{
	struct kc_share_group_heartbeat_resp r = {0};
	r.member_id = (struct kc_str){NULL, -1};
	r.error_message = (struct kc_str){NULL, -1};
	r.heartbeat_interval_ms = s->cfg.heartbeat_interval_ms;
	int16_t err = 0;
	const char *why = NULL;
	struct sgroup *g = NULL;
	struct smember *m = NULL;
	if (q->group_id.len <= 0 || q->group_id.len > ID_MAX) {
		err = ERR_INVALID_REQUEST;
		why = "GroupId can't be empty.";
	} else if (q->member_id.len <= 0 || q->member_id.len > ID_MAX) {
		err = ERR_INVALID_REQUEST;
		why = "MemberId can't be empty.";
	} else if (q->member_epoch < -1) {
		err = ERR_INVALID_REQUEST;
		why = "MemberEpoch is invalid.";
	} else if (q->member_epoch == 0 &&
		   q->subscribed_topic_names.count < 0) {
		err = ERR_INVALID_REQUEST;
		why = "SubscribedTopicNames must be set in first request.";
	} else {
		g = group_get(s, q->group_id.ptr, (size_t)q->group_id.len);
		if (!g) {
			err = KC_ERR_GROUP_MAX_SIZE_REACHED;
			why = "too many share groups";
		}
	}
	if (!err) {
		m = member_find(g, q->member_id.ptr, (size_t)q->member_id.len);
		if (q->member_epoch == -1) {
			r.member_id = q->member_id;
			r.member_epoch = -1;
			if (m && m->joined) {
				release_member(s, g, m);
				m->joined = false;
				g->epoch++;
				if (!m->has_session)
					member_free(g, m);
			}
			goto done;
		}
		if (q->member_epoch > 0 && (!m || !m->joined)) {
			err = KC_ERR_UNKNOWN_MEMBER_ID;
			why = "unknown member: join with epoch 0";
		} else if (q->member_epoch > 0 &&
			   q->member_epoch != m->epoch &&
			   q->member_epoch != m->prev_epoch) {
			err = ERR_FENCED_MEMBER_EPOCH;
			why = "the member epoch is not the current one: rejoin "
			      "with epoch 0";
		}
	}
	if (!err && !m) {
		m = member_get(s, g, q->member_id.ptr,
			       (size_t)q->member_id.len);
		if (!m) {
			err = KC_ERR_GROUP_MAX_SIZE_REACHED;
			why = "the share group has its most members";
		}
	}
	if (!err) {
		bool changed = !m->joined;
		if (q->subscribed_topic_names.count >= 0 &&
		    !same_topics(m, &q->subscribed_topic_names)) {
			if (set_topics(m, &q->subscribed_topic_names)) {
				err = ERR_INVALID_REQUEST;
				why = "a subscribed topic name is not valid";
				goto done;
			}
			changed = true;
		}
		if (q->rack_id.len >= 0 && q->rack_id.len <= ID_MAX) {
			memcpy(m->rack, q->rack_id.ptr, (size_t)q->rack_id.len);
			m->rack[q->rack_id.len] = 0;
			m->has_rack = true;
		}
		if (client_id->len > 0) {
			size_t l = (size_t)client_id->len > ID_MAX ?
					   ID_MAX : (size_t)client_id->len;
			memcpy(m->client_id, client_id->ptr, l);
			m->client_id[l] = 0;
		}
		if (changed) {
			g->epoch++;
			m->prev_epoch = m->joined ? m->epoch : 0;
			m->epoch = g->epoch;
			m->joined = true;
		}
		m->expires_ms = s->now_ms + s->cfg.session_timeout_ms;
		r.member_id = q->member_id;
		r.member_epoch = m->epoch;
		r.has_assignment = true;
		assignment(s, m, &r.assignment.topic_partitions);
	}
done:
	r.error_code = err;
	if (why)
		r.error_message = str_of(why);
	return encode(s, KC_API_SHARE_GROUP_HEARTBEAT, version, corr, &r);
}

/* ---- ShareGroupDescribe ---- */

static long on_describe(struct sl_share *s, int16_t version, int32_t corr,
			const struct kc_share_group_describe_req *q)
{
	struct kc_share_group_describe_resp r = {0};
	int32_t n = q->group_ids.count > 0 ? q->group_ids.count : 0;
	struct kc_share_group_describe_resp_described_group *dg =
		kc_arena_take(&s->build, n ? (size_t)n : 1, sizeof(*dg));
	if (!dg)
		return -ENOBUFS;
	const struct kc_str *ids = q->group_ids.items;
	for (int32_t i = 0; i < n; i++) {
		struct kc_share_group_describe_resp_described_group *d = &dg[i];
		*d = (struct kc_share_group_describe_resp_described_group){0};
		d->group_id = ids[i].len >= 0 ? ids[i] : str_of("");
		d->error_message = (struct kc_str){NULL, -1};
		d->group_state = str_of("");
		d->assignor_name = str_of("");
		d->authorized_operations = INT32_MIN;
		struct sgroup *g = ids[i].len > 0 ?
			group_find(s, ids[i].ptr, (size_t)ids[i].len) : NULL;
		if (!g) {
			d->error_code = KC_ERR_GROUP_ID_NOT_FOUND;
			d->error_message = str_of("Group not found.");
			continue;
		}
		uint32_t joined = 0;
		for (uint32_t k = 0; k < g->nmembers; k++)
			joined += g->members[k]->joined;
		d->group_state = str_of(joined ? "Stable" : "Empty");
		d->group_epoch = g->epoch;
		d->assignment_epoch = g->epoch;
		d->assignor_name = str_of("simple");
		struct kc_share_group_describe_resp_member *mm =
			kc_arena_take(&s->build, joined ? joined : 1,
				      sizeof(*mm));
		if (!mm)
			return -ENOBUFS;
		uint32_t k2 = 0;
		for (uint32_t k = 0; k < g->nmembers; k++) {
			struct smember *m = g->members[k];
			if (!m->joined)
				continue;
			struct kc_share_group_describe_resp_member *o =
				&mm[k2++];
			*o = (struct kc_share_group_describe_resp_member){0};
			o->member_id = str_of(m->id);
			o->rack_id = m->has_rack ? str_of(m->rack) :
						   (struct kc_str){NULL, -1};
			o->member_epoch = m->epoch;
			o->client_id = str_of(m->client_id);
			o->client_host = str_of("");
			struct kc_str *names = kc_arena_take(
				&s->build, m->ntopics ? m->ntopics : 1,
				sizeof(*names));
			struct kc_share_group_describe_resp_topic_partitions
				*tp = kc_arena_take(&s->build,
						    m->ntopics ? m->ntopics : 1,
						    sizeof(*tp));
			if (!names || !tp)
				return -ENOBUFS;
			const char *nm = m->topics;
			uint32_t nt = 0;
			for (uint32_t t = 0; t < m->ntopics; t++) {
				size_t len = strlen(nm);
				names[t] = (struct kc_str){nm, (int32_t)len};
				uint32_t id;
				int32_t parts;
				if (s->cfg.topic &&
				    s->cfg.topic(s->cfg.topic_ctx, nm, len,
						 &id, &parts) && parts > 0) {
					int32_t *pi = kc_arena_take(
						&s->build, (size_t)parts,
						sizeof(*pi));
					if (!pi)
						return -ENOBUFS;
					for (int32_t x = 0; x < parts; x++)
						pi[x] = x;
					sl_topic_uuid(id, tp[nt].topic_id.b);
					tp[nt].topic_name = names[t];
					tp[nt].partitions =
						(struct kc_array){pi, parts};
					nt++;
				}
				nm += len + 1;
			}
			o->subscribed_topic_names =
				(struct kc_array){names, (int32_t)m->ntopics};
			o->assignment.topic_partitions =
				(struct kc_array){tp, (int32_t)nt};
		}
		d->members = (struct kc_array){mm, (int32_t)k2};
	}
	r.groups = (struct kc_array){dg, n};
	return encode(s, KC_API_SHARE_GROUP_DESCRIBE, version, corr, &r);
}

/* ---- acknowledgements ---- */

/* Apply one partition's acknowledgement batches for m: 0 or the
 * partition's AcknowledgeErrorCode. */
static int16_t apply_acks(struct sl_share *s, struct sgroup *g,
			  struct smember *m, uint32_t topic_id,
			  int32_t partition, const struct kc_array *batches,
			  bool renew_ok, uint64_t delay_ms)
{
	int32_t parts;
	const char *name;
	size_t len;
	if (!s->cfg.topic_id ||
	    !s->cfg.topic_id(s->cfg.topic_ctx, topic_id, &name, &len, &parts))
		return ERR_UNKNOWN_TOPIC_ID;
	if (partition < 0 || partition >= parts)
		return ERR_UNKNOWN_TOPIC_OR_PARTITION;
	struct spart *p = spart_find(g, topic_id, partition);
	const struct kc_share_fetch_req_acknowledgement_batch *b =
		batches->items;
	int16_t err = 0;
	for (int32_t i = 0; i < batches->count; i++) {
		int64_t first = b[i].first_offset, last = b[i].last_offset;
		int32_t nt = b[i].acknowledge_types.count;
		const int8_t *types = b[i].acknowledge_types.items;
		if (first < 0 || last < first || nt < 1 ||
		    (nt != 1 && (int64_t)nt != last - first + 1) ||
		    last - first >= (int64_t)SL_SP_WINDOW_MAX ||
		    last - first + 1 > s->ack_budget)
			return ERR_INVALID_REQUEST;
		/* a bound on one request's work, whatever its batches */
		s->ack_budget -= last - first + 1;
		for (int64_t o = first; o <= last; o++) {
			int8_t t = types[nt == 1 ? 0 : o - first];
			if (t == 0)
				continue; /* a gap: no record there */
			if (t < SL_SP_ACCEPT || t > SL_SP_RENEW ||
			    (t == SL_SP_RENEW && !renew_ok))
				return ERR_INVALID_REQUEST;
			int rc = !p || !p->ready ? -ENOENT :
				 sl_sp_ack(&p->sp, o, m->handle,
					   (enum sl_sp_ack)t, delay_ms,
					   wall_ms(s));
			if (rc == -ENOBUFS) {
				/* the journal is full: write it, then on */
				if (persist(s))
					return ERR_KAFKA_STORAGE;
				rc = sl_sp_ack(&p->sp, o, m->handle,
					       (enum sl_sp_ack)t, delay_ms,
					       wall_ms(s));
			}
			if (rc) {
				err = ERR_INVALID_RECORD_STATE;
				s->st.bad_acks++;
				continue;
			}
			mark_dirty(p);
			if (t == SL_SP_ACCEPT)
				s->st.accepted++;
			else if (t == SL_SP_RELEASE)
				s->st.released++;
			else if (t == SL_SP_REJECT)
				s->st.rejected++;
		}
	}
	return err;
}

/* ---- sessions ---- */

static bool session_has(const struct smember *m, uint32_t topic_id,
			int32_t partition)
{
	for (uint32_t i = 0; i < m->nparts; i++)
		if (m->parts[i].topic_id == topic_id &&
		    m->parts[i].partition == partition)
			return true;
	return false;
}

static int session_add(struct smember *m, uint32_t topic_id,
		       int32_t partition)
{
	if (session_has(m, topic_id, partition))
		return 0;
	if (m->nparts == SESSION_PARTS_MAX)
		return -ENOSPC;
	if (m->nparts == m->parts_cap) {
		uint32_t c = m->parts_cap ? m->parts_cap * 2 : 16;
		struct tp *n = realloc(m->parts, c * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->parts = n;
		m->parts_cap = c;
	}
	m->parts[m->nparts++] = (struct tp){topic_id, partition};
	return 0;
}

static void session_forget(struct smember *m, uint32_t topic_id,
			   int32_t partition)
{
	for (uint32_t i = 0; i < m->nparts; i++) {
		if (m->parts[i].topic_id != topic_id ||
		    m->parts[i].partition != partition)
			continue;
		m->parts[i] = m->parts[--m->nparts];
		return;
	}
}

/* The session check of a request's epoch: 0 or the top-level error. */
static int16_t session_epoch(struct sl_share *s, struct smember *m,
			     int32_t epoch)
{
	m->used_ms = s->now_ms;
	if (epoch == 0) {
		m->has_session = true;
		m->nparts = 0;
		m->session_epoch = 1;
		return 0;
	}
	if (!m->has_session)
		return ERR_SHARE_SESSION_NOT_FOUND;
	if (epoch == -1)
		return 0;
	if (epoch != m->session_epoch)
		return ERR_INVALID_SHARE_SESSION_EPOCH;
	m->session_epoch = epoch == INT32_MAX ? 1 : epoch + 1;
	return 0;
}

static void session_close(struct sl_share *s, struct sgroup *g,
			  struct smember *m)
{
	release_member(s, g, m);
	m->has_session = false;
	m->nparts = 0;
	if (!m->joined)
		member_free(g, m);
}

/* ---- ShareFetch ---- */

/* An acquisition an answer keeps, with the batch that holds it. */
struct kept {
	int64_t offset;
	const struct sbatch *batch;
};

static int cmp_kept(const void *a, const void *b)
{
	int64_t x = ((const struct kept *)a)->offset;
	int64_t y = ((const struct kept *)b)->offset;
	return x < y ? -1 : x > y;
}

static int cmp_tp(const void *a, const void *b)
{
	const struct tp *x = a, *y = b;
	if (x->topic_id != y->topic_id)
		return x->topic_id < y->topic_id ? -1 : 1;
	return x->partition < y->partition ? -1 : x->partition > y->partition;
}


/* One partition's part of a ShareFetch answer: acquire up to *records
 * messages within *bytes; records and acquired ranges into d.  Returns
 * the messages acquired. */
static uint32_t fetch_partition(struct sl_share *s, struct spart *p,
				struct smember *m, int32_t *records,
				int32_t *bytes, bool first,
				struct kc_share_fetch_resp_partition_data *d)
{
	if (!p->ready || *records <= 0)
		return 0;
	uint32_t want = (uint32_t)*records;
	if (want > ACQUIRE_MAX)
		want = ACQUIRE_MAX;
	uint32_t n = sl_sp_acquire(&p->sp, m->handle, want,
				   wall_ms(s), s->acq);
	if (!n)
		return 0;
	mark_dirty(p);
	/* the batches of the acquired, in delivery order, within the
	 * budget; the ones whose batch has no room are given back */
	const struct sbatch **used = kc_arena_take(&s->build, n,
						   sizeof(*used));
	struct kept *kp = kc_arena_take(&s->build, n, sizeof(*kp));
	uint32_t nused = 0, kept = 0;
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct sbatch *b = batch_of(p, s->acq[i]);
		bool have = false;
		for (uint32_t k = 0; b && used && k < nused; k++)
			have |= used[k] == b;
		/* a batch larger than a whole answer cannot go through the
		 * control socket: it stays (counted in oversized) */
		bool fits = b && used && kp &&
			    (have || total + b->len <= (size_t)*bytes);
		if (b && !have && b->len > SL_SHARE_ANSWER_BYTES &&
		    first && !nused)
			s->st.oversized++;
		if (!fits) {
			(void)sl_sp_unacquire(&p->sp, s->acq[i], m->handle);
			continue;
		}
		if (!have) {
			used[nused++] = b;
			total += b->len;
		}
		kp[kept++] = (struct kept){s->acq[i], b};
	}
	if (!kept)
		return 0;
	/* batches in offset order, as a log reads */
	for (uint32_t i = 1; i < nused; i++)
		for (uint32_t k = i; k > 0 && used[k - 1]->base > used[k]->base;
		     k--) {
			const struct sbatch *t = used[k];
			used[k] = used[k - 1];
			used[k - 1] = t;
		}
	uint8_t *recs = kc_arena_take(&s->build, total, 1);
	if (!recs)
		return 0;
	size_t at = 0;
	for (uint32_t i = 0; i < nused; i++) {
		memcpy(recs + at, used[i]->bytes, used[i]->len);
		at += used[i]->len;
	}
	d->records = (struct kc_bytes){recs, (int32_t)total};
	/* ranges: consecutive offsets of one batch with one count (the
	 * batch each is in, found once above) */
	qsort(kp, kept, sizeof(*kp), cmp_kept);
	struct kc_share_fetch_resp_acquired_records *ar =
		kc_arena_take(&s->build, kept, sizeof(*ar));
	if (!ar)
		return 0;
	uint32_t nr = 0;
	for (uint32_t i = 0; i < kept; i++) {
		const struct sl_sp_entry *e = sl_sp_get(&p->sp, kp[i].offset);
		int16_t cnt = (int16_t)(e ? e->count : 1);
		if (nr && ar[nr - 1].last_offset + 1 == kp[i].offset &&
		    ar[nr - 1].delivery_count == cnt &&
		    kp[i - 1].batch == kp[i].batch) {
			ar[nr - 1].last_offset = kp[i].offset;
			continue;
		}
		ar[nr++] = (struct kc_share_fetch_resp_acquired_records){
			kp[i].offset, kp[i].offset, cnt};
	}
	d->acquired_records = (struct kc_array){ar, (int32_t)nr};
	*records -= (int32_t)kept;
	*bytes -= (int32_t)total;
	s->st.acquired += kept;
	return kept;
}

/* The answer to a ShareFetch of m (acks: its acknowledgements' results;
 * fetch: whether to acquire).  *got: messages handed out. */
static long fetch_answer(struct sl_share *s, int16_t version, int32_t corr,
			 struct sgroup *g, struct smember *m,
			 int32_t max_records, int32_t max_bytes,
			 const struct ackres *acks, uint32_t nacks,
			 bool fetch, uint32_t *got)
{
	*got = 0;
	s->build.used = 0;
	/* a topic's partitions together: one entry per topic */
	if (m->nparts > 1)
		qsort(m->parts, m->nparts, sizeof(*m->parts), cmp_tp);
	struct kc_share_fetch_resp r = {0};
	r.error_message = (struct kc_str){NULL, -1};
	r.acquisition_lock_timeout_ms = (int32_t)s->cfg.sp.lock_ms;
	uint32_t np = m->nparts + nacks;
	struct kc_share_fetch_resp_able_topic_response *tr =
		kc_arena_take(&s->build, np ? np : 1, sizeof(*tr));
	struct kc_share_fetch_resp_partition_data *pd =
		kc_arena_take(&s->build, np ? np : 1, sizeof(*pd));
	if (!tr || !pd)
		return -ENOBUFS;
	uint32_t ntr = 0, npd = 0;
	int32_t records = max_records > 0 ? max_records : 500;
	int32_t bytes = max_bytes > 0 && max_bytes < (int32_t)
			SL_SHARE_ANSWER_BYTES ? max_bytes :
			(int32_t)SL_SHARE_ANSWER_BYTES;
	/* the session's partitions, then acknowledged ones outside it */
	for (uint32_t i = 0; i < np; i++) {
		uint32_t tid = i < m->nparts ? m->parts[i].topic_id :
					       acks[i - m->nparts].topic_id;
		int32_t part = i < m->nparts ? m->parts[i].partition :
					       acks[i - m->nparts].partition;
		if (i >= m->nparts && session_has(m, tid, part))
			continue;
		struct kc_share_fetch_resp_partition_data d = {0};
		d.partition_index = part;
		d.error_message = (struct kc_str){NULL, -1};
		d.acknowledge_error_message = (struct kc_str){NULL, -1};
		d.current_leader.leader_id = -1;
		d.current_leader.leader_epoch = -1;
		d.records = (struct kc_bytes){NULL, 0};
		d.acquired_records = (struct kc_array){NULL, 0};
		bool acked = false;
		for (uint32_t k = 0; k < nacks; k++)
			if (acks[k].topic_id == tid &&
			    acks[k].partition == part) {
				d.acknowledge_error_code = acks[k].err;
				acked = true;
			}
		const char *name;
		size_t len;
		int32_t parts;
		bool known = s->cfg.topic_id &&
			     s->cfg.topic_id(s->cfg.topic_ctx, tid, &name, &len,
					     &parts);
		if (!known)
			d.error_code = ERR_UNKNOWN_TOPIC_ID;
		else if (part < 0 || part >= parts)
			d.error_code = ERR_UNKNOWN_TOPIC_OR_PARTITION;
		uint32_t n = 0;
		if (!d.error_code && fetch && i < m->nparts) {
			struct spart *p = spart_get(g, tid, part);
			if (p)
				n = fetch_partition(s, p, m, &records, &bytes,
						    *got == 0, &d);
			*got += n;
			/* this broker does not lead it (the client asks
			 * Metadata again and goes to the leader) */
			if (p && !n && p->read_err == ERR_NOT_LEADER)
				d.error_code = ERR_NOT_LEADER;
		}
		if (!n && !acked && !d.error_code)
			continue;
		pd[npd] = d;
		uint8_t u[16];
		sl_topic_uuid(tid, u);
		if (ntr && !memcmp(tr[ntr - 1].topic_id.b, u, 16)) {
			tr[ntr - 1].partitions.count++;
		} else {
			memcpy(tr[ntr].topic_id.b, u, 16);
			tr[ntr].partitions = (struct kc_array){&pd[npd], 1};
			ntr++;
		}
		npd++;
	}
	r.responses = (struct kc_array){tr, (int32_t)ntr};
	r.node_endpoints = (struct kc_array){NULL, 0};
	return encode(s, KC_API_SHARE_FETCH, version, corr, &r);
}

/* Send the answer once what it reports is durable: queued for
 * flush_replies, at the end of this turn of the event loop, which writes
 * the changes of every answer queued with one fdatasync (or withholds
 * them: a native client is told KAFKA_STORAGE_ERROR). */
static void send_durable(struct sl_share *s, uint64_t token, long n)
{
	struct sreply *r = n > 0 ? malloc(sizeof(*r) + (size_t)n) : NULL;
	if (!r) {
		if (n > 0 && persist(s))
			n = -EIO;
		reply(s, token, n);
		s->native_op = 0;
		return;
	}
	r->next = NULL;
	r->token = token;
	r->native_op = s->native_op;
	r->len = (size_t)n;
	memcpy(r->bytes, s->out, (size_t)n);
	*s->replies_tail = r;
	s->replies_tail = &r->next;
	s->native_op = 0;
}

static void flush_replies(struct sl_share *s)
{
	if (!s->replies)
		return;
	int rc = persist(s);
	if (s->replies_failed)
		rc = -EIO;
	s->replies_failed = false;
	while (s->replies) {
		struct sreply *r = s->replies;
		s->replies = r->next;
		s->native_op = r->native_op;
		if (rc)
			reply(s, r->token, -EIO);
		else if (r->native_op)
			s->cfg.native_reply(s->cfg.reply_ctx, r->token,
					    r->bytes, r->len);
		else
			s->cfg.reply(s->cfg.reply_ctx, r->token, r->bytes,
				     r->len);
		free(r);
	}
	s->replies_tail = &s->replies;
	s->native_op = 0;
}

static long native_answer(struct sl_share *s, uint32_t corr,
			  struct sgroup *g, struct smember *m,
			  uint32_t topic_id, int32_t max, bool fetch,
			  uint32_t *got);

/* A waiting request's answer now (fetch: whether to acquire). */
static long wait_answer(struct sl_share *s, const struct swait *w,
			bool fetch, uint32_t *got)
{
	if (w->native) {
		s->native_op = SN_QUEUE_RECEIVE;
		return native_answer(s, w->corr, w->g, w->m, w->topic_id,
				     w->max_records, fetch, got);
	}
	s->native_op = 0;
	return fetch_answer(s, w->version, w->corr, w->g, w->m,
			    w->max_records, w->max_bytes, w->acks, w->nacks,
			    fetch, got);
}

static void wait_free(struct swait *w)
{
	free(w->acks);
	free(w);
}

/* m's waiting fetch (if any) answered now with its acknowledgements'
 * results alone, and dropped. */
static void wait_drop_member(struct sl_share *s, struct smember *m)
{
	struct swait **pp = &s->waits;
	while (*pp) {
		struct swait *w = *pp;
		if (w->m != m) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		uint32_t got;
		long n = wait_answer(s, w, false, &got);
		send_durable(s, w->token, n);
		wait_free(w);
	}
}

static long on_fetch(struct sl_share *s, uint64_t token, int16_t version,
		     int32_t corr, const struct kc_share_fetch_req *q,
		     bool *waiting)
{
	*waiting = false;
	struct kc_share_fetch_resp r = {0};
	r.error_message = (struct kc_str){NULL, -1};
	r.acquisition_lock_timeout_ms = (int32_t)s->cfg.sp.lock_ms;
	r.responses = (struct kc_array){NULL, 0};
	r.node_endpoints = (struct kc_array){NULL, 0};
	if (q->group_id.len <= 0 || q->group_id.len > ID_MAX ||
	    q->member_id.len <= 0 || q->member_id.len > ID_MAX ||
	    (version >= 1 && q->max_records < 0)) {
		r.error_code = ERR_INVALID_REQUEST;
		r.error_message = str_of("GroupId and MemberId are required");
		return encode(s, KC_API_SHARE_FETCH, version, corr, &r);
	}
	struct sgroup *g = group_get(s, q->group_id.ptr,
				     (size_t)q->group_id.len);
	struct smember *m = g ? member_get(s, g, q->member_id.ptr,
					   (size_t)q->member_id.len) : NULL;
	if (!m) {
		r.error_code = KC_ERR_GROUP_MAX_SIZE_REACHED;
		return encode(s, KC_API_SHARE_FETCH, version, corr, &r);
	}
	const struct kc_share_fetch_req_fetch_topic *t = q->topics.items;
	bool has_acks = false;
	for (int32_t i = 0; i < q->topics.count; i++) {
		const struct kc_share_fetch_req_fetch_partition *fp =
			t[i].partitions.items;
		for (int32_t k = 0; k < t[i].partitions.count; k++)
			has_acks |= fp[k].acknowledgement_batches.count > 0;
	}
	if (q->share_session_epoch == 0 && has_acks) {
		r.error_code = ERR_INVALID_REQUEST;
		r.error_message = str_of("acknowledgements in a request that "
					 "opens a share session");
		return encode(s, KC_API_SHARE_FETCH, version, corr, &r);
	}
	/* an earlier fetch of this member still waiting is answered now */
	wait_drop_member(s, m);
	int16_t err = session_epoch(s, m, q->share_session_epoch);
	if (err) {
		r.error_code = err;
		return encode(s, KC_API_SHARE_FETCH, version, corr, &r);
	}
	/* acknowledgements first */
	uint32_t nparts = 0;
	for (int32_t i = 0; i < q->topics.count; i++)
		nparts += (uint32_t)(t[i].partitions.count > 0 ?
				     t[i].partitions.count : 0);
	struct ackres *acks = calloc(nparts ? nparts : 1, sizeof(*acks));
	if (!acks)
		return -ENOMEM;
	uint32_t nacks = 0;
	for (int32_t i = 0; i < q->topics.count; i++) {
		uint32_t tid = sl_topic_uuid_id(t[i].topic_id.b);
		const struct kc_share_fetch_req_fetch_partition *fp =
			t[i].partitions.items;
		for (int32_t k = 0; k < t[i].partitions.count; k++) {
			if (q->share_session_epoch != -1 &&
			    session_add(m, tid, fp[k].partition_index) < 0) {
				free(acks);
				r.error_code = ERR_INVALID_REQUEST;
				r.error_message =
					str_of("too many partitions in one "
					       "share session");
				return encode(s, KC_API_SHARE_FETCH, version,
					      corr, &r);
			}
			if (fp[k].acknowledgement_batches.count <= 0)
				continue;
			acks[nacks++] = (struct ackres){
				tid, fp[k].partition_index,
				apply_acks(s, g, m, tid, fp[k].partition_index,
					   &fp[k].acknowledgement_batches,
					   version >= 2 && q->is_renew_ack,
					   0)};
		}
	}
	const struct kc_share_fetch_req_forgotten_topic *ft =
		q->forgotten_topics_data.items;
	for (int32_t i = 0; i < q->forgotten_topics_data.count; i++) {
		const int32_t *pi = ft[i].partitions.items;
		for (int32_t k = 0; k < ft[i].partitions.count; k++)
			session_forget(m, sl_topic_uuid_id(ft[i].topic_id.b),
				       pi[k]);
	}
	if (q->share_session_epoch == -1) {
		uint32_t got;
		long n = fetch_answer(s, version, corr, g, m, 0, 0, acks,
				      nacks, false, &got);
		session_close(s, g, m);
		free(acks);
		return n;
	}
	int32_t max_records = version >= 1 ? q->max_records : 500;
	bool renew_only = version >= 2 && q->is_renew_ack;
	uint32_t got = 0;
	long n = fetch_answer(s, version, corr, g, m, max_records,
			      q->max_bytes, acks, nacks, !renew_only, &got);
	/* read on for what comes next (partitions that exist only: a
	 * share partition is made for nothing else) */
	for (uint32_t i = 0; i < m->nparts; i++) {
		const char *name;
		size_t len;
		int32_t parts;
		if (!s->cfg.topic_id ||
		    !s->cfg.topic_id(s->cfg.topic_ctx, m->parts[i].topic_id,
				     &name, &len, &parts) ||
		    m->parts[i].partition < 0 ||
		    m->parts[i].partition >= parts)
			continue;
		struct spart *p = spart_get(g, m->parts[i].topic_id,
					    m->parts[i].partition);
		if (p)
			spart_read(s, p);
	}
	if (got || renew_only || q->max_wait_ms <= 0 || n <= 0 ||
	    !m->nparts) {
		free(acks);
		return n;
	}
	/* nothing yet: wait (the answer built is dropped, its parts are
	 * built again) */
	struct swait *w = calloc(1, sizeof(*w));
	if (!w) {
		free(acks);
		return n;
	}
	*w = (struct swait){.token = token, .version = version, .corr = corr,
			    .g = g, .m = m,
			    .deadline_ms = s->now_ms + q->max_wait_ms,
			    .max_records = max_records,
			    .max_bytes = q->max_bytes, .acks = acks,
			    .nacks = nacks};
	w->next = s->waits;
	s->waits = w;
	*waiting = true;
	/* what the acknowledgements changed is made durable now */
	if (persist(s)) {
		s->waits = w->next;
		wait_free(w);
		*waiting = false;
		return -EIO;
	}
	return 0;
}

/* ---- ShareAcknowledge ---- */

static long on_acknowledge(struct sl_share *s, int16_t version, int32_t corr,
			   const struct kc_share_acknowledge_req *q)
{
	struct kc_share_acknowledge_resp r = {0};
	r.error_message = (struct kc_str){NULL, -1};
	r.acquisition_lock_timeout_ms = (int32_t)s->cfg.sp.lock_ms;
	r.responses = (struct kc_array){NULL, 0};
	r.node_endpoints = (struct kc_array){NULL, 0};
	struct sgroup *g = q->group_id.len > 0 ?
		group_find(s, q->group_id.ptr, (size_t)q->group_id.len) : NULL;
	struct smember *m = g && q->member_id.len > 0 ?
		member_find(g, q->member_id.ptr, (size_t)q->member_id.len) :
		NULL;
	if (q->group_id.len <= 0 || q->member_id.len <= 0 ||
	    q->share_session_epoch == 0) {
		r.error_code = ERR_INVALID_REQUEST;
		r.error_message = str_of(q->share_session_epoch == 0 ?
					 "a share session is opened by "
					 "ShareFetch, not ShareAcknowledge" :
					 "GroupId and MemberId are required");
		return encode(s, KC_API_SHARE_ACKNOWLEDGE, version, corr, &r);
	}
	if (!m) {
		r.error_code = ERR_SHARE_SESSION_NOT_FOUND;
		return encode(s, KC_API_SHARE_ACKNOWLEDGE, version, corr, &r);
	}
	int16_t err = session_epoch(s, m, q->share_session_epoch);
	if (err) {
		r.error_code = err;
		return encode(s, KC_API_SHARE_ACKNOWLEDGE, version, corr, &r);
	}
	s->build.used = 0;
	const struct kc_share_acknowledge_req_acknowledge_topic *t =
		q->topics.items;
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	struct kc_share_acknowledge_resp_topic_response *tr =
		kc_arena_take(&s->build, nt ? (size_t)nt : 1, sizeof(*tr));
	if (!tr)
		return -ENOBUFS;
	for (int32_t i = 0; i < nt; i++) {
		uint32_t tid = sl_topic_uuid_id(t[i].topic_id.b);
		int32_t np = t[i].partitions.count > 0 ? t[i].partitions.count
						       : 0;
		const struct kc_share_acknowledge_req_acknowledge_partition
			*ap = t[i].partitions.items;
		struct kc_share_acknowledge_resp_partition_data *pd =
			kc_arena_take(&s->build, np ? (size_t)np : 1,
				      sizeof(*pd));
		if (!pd)
			return -ENOBUFS;
		for (int32_t k = 0; k < np; k++) {
			pd[k] = (struct kc_share_acknowledge_resp_partition_data){
				.partition_index = ap[k].partition_index,
				.error_message = {NULL, -1},
				.current_leader = {-1, -1}};
			/* the two APIs' acknowledgement batches have the
			 * same layout */
			_Static_assert(
				sizeof(struct kc_share_acknowledge_req_acknowledgement_batch) ==
				sizeof(struct kc_share_fetch_req_acknowledgement_batch),
				"acknowledgement batches differ");
			pd[k].error_code = apply_acks(
				s, g, m, tid, ap[k].partition_index,
				&ap[k].acknowledgement_batches,
				version >= 2 && q->is_renew_ack, 0);
			if (pd[k].error_code == ERR_INVALID_RECORD_STATE) {
				pd[k].error_message = str_of(
					"a record was not acquired by this "
					"member (its lock may have lapsed)");
			}
		}
		tr[i].topic_id = t[i].topic_id;
		tr[i].partitions = (struct kc_array){pd, np};
	}
	r.responses = (struct kc_array){tr, nt};
	long n = encode(s, KC_API_SHARE_ACKNOWLEDGE, version, corr, &r);
	if (q->share_session_epoch == -1) {
		wait_drop_member(s, m);
		session_close(s, g, m);
	}
	return n;
}

/* ---- the native protocol's queue operations ---- */

/* A native answer's records and messages (its ranges and partitions'
 * heads fit in the rest of OUT_BYTES). */
#define NATIVE_RECORD_BYTES SL_SHARE_ANSWER_BYTES
#define NATIVE_MESSAGES_MAX SN_QRECV_MAX
#define NATIVE_ANSWER_CAP OUT_BYTES

/* The member a native consumer's 16-byte id names ("sl-" and its hex):
 * a member without heartbeats, whose session holds the partitions of
 * the topics it receives from and closes (its messages released) after
 * session_timeout_ms without a request. */
static struct smember *native_member(struct sl_share *s, struct sgroup *g,
				     const uint8_t id[SN_MEMBER_BYTES],
				     uint32_t topic_id, int32_t parts)
{
	char name[3 + 2 * SN_MEMBER_BYTES + 1] = "sl-";
	for (unsigned i = 0; i < SN_MEMBER_BYTES; i++)
		snprintf(name + 3 + 2 * i, 3, "%02x", id[i]);
	struct smember *m = member_get(s, g, name, strlen(name));
	if (!m)
		return NULL;
	if (!m->has_session) {
		m->has_session = true;
		m->nparts = 0;
		m->session_epoch = 1;
	}
	m->used_ms = s->now_ms;
	for (int32_t p = 0; p < parts; p++)
		if (session_add(m, topic_id, p) < 0)
			break;
	return m;
}

/* A QUEUE_RECEIVE answer for m: up to max messages of topic_id's
 * partitions (from a rotating first one, so none is always last), or
 * none when !fetch. */
static long native_answer(struct sl_share *s, uint32_t corr,
			  struct sgroup *g, struct smember *m,
			  uint32_t topic_id, int32_t max, bool fetch,
			  uint32_t *got)
{
	*got = 0;
	s->build.used = 0;
	const char *name;
	size_t nlen;
	int32_t parts = 0;
	struct sn_qrecv_builder b;
	sn_qrecv_resp_begin(&b, s->out, NATIVE_ANSWER_CAP);
	if (!s->cfg.topic_id ||
	    !s->cfg.topic_id(s->cfg.topic_ctx, topic_id, &name, &nlen,
			     &parts))
		return sn_qrecv_resp_finish(&b, corr,
					    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
					    topic_id, 0);
	int32_t records = max < NATIVE_MESSAGES_MAX ? max :
			  NATIVE_MESSAGES_MAX;
	int32_t bytes = NATIVE_RECORD_BYTES;
	uint32_t first = parts ? s->next_part++ % (uint32_t)parts : 0;
	for (int32_t i = 0; fetch && i < parts && records > 0; i++) {
		int32_t part = (int32_t)((first + (uint32_t)i) %
					 (uint32_t)parts);
		struct spart *p = spart_get(g, topic_id, part);
		if (!p)
			continue;
		struct kc_share_fetch_resp_partition_data d = {0};
		uint32_t n = fetch_partition(s, p, m, &records, &bytes,
					     *got == 0, &d);
		int16_t err = !n && p->read_err == ERR_NOT_LEADER ?
			      ERR_NOT_LEADER : 0;
		if (!n && (!err || b.len + SN_QRECV_PART_BYTES +
					   (NATIVE_MESSAGES_MAX + 1) *
					   (SN_QRECV_PART_BYTES +
					    SN_QRANGE_BYTES) +
					   NATIVE_RECORD_BYTES > b.cap))
			continue; /* an error part only with room to spare */
		const struct kc_share_fetch_resp_acquired_records *ar =
			d.acquired_records.items;
		uint16_t nr = (uint16_t)d.acquired_records.count;
		struct sn_qrange *rg = kc_arena_take(&s->build, nr ? nr : 1,
						     sizeof(*rg));
		if (!rg)
			return -ENOMEM;
		for (uint16_t k = 0; k < nr; k++)
			rg[k] = (struct sn_qrange){ar[k].first_offset,
						   ar[k].last_offset,
						   (uint16_t)ar[k].delivery_count};
		/* within the cap by the budgets above */
		if (sn_qrecv_resp_part(&b, part, err, rg, nr, d.records.ptr,
				       (uint32_t)d.records.len) < 0)
			return -ENOBUFS;
		*got += n;
	}
	return sn_qrecv_resp_finish(&b, corr, 0, topic_id,
				    (uint32_t)s->cfg.sp.lock_ms);
}

static long native_receive(struct sl_share *s, uint64_t token,
			   uint32_t corr, const uint8_t *req, size_t len,
			   bool *waiting)
{
	struct sn_queue_receive q;
	int rc = sn_decode_queue_receive(req, len, &q);
	if (rc)
		return sn_encode_error_resp(s->out, OUT_BYTES,
					    SN_QUEUE_RECEIVE, corr,
					    (int16_t)-rc);
	uint32_t tid;
	int32_t parts;
	if (!s->cfg.topic(s->cfg.topic_ctx, q.topic, q.topic_len, &tid,
			  &parts))
		return sn_encode_error_resp(s->out, OUT_BYTES,
					    SN_QUEUE_RECEIVE, corr,
					    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	struct sgroup *g = group_get(s, q.group, q.group_len);
	struct smember *m = g ? native_member(s, g, q.member, tid, parts) :
				NULL;
	if (!m)
		return sn_encode_error_resp(s->out, OUT_BYTES,
					    SN_QUEUE_RECEIVE, corr,
					    SN_ERR_GROUP_MAX_SIZE_REACHED);
	/* an earlier receive of this member still waiting ends now */
	wait_drop_member(s, m);
	s->native_op = SN_QUEUE_RECEIVE;
	uint32_t got;
	long n = native_answer(s, corr, g, m, tid, (int32_t)q.max_messages,
			       true, &got);
	for (int32_t p = 0; p < parts; p++) {
		struct spart *sp = spart_get(g, tid, p);
		if (sp)
			spart_read(s, sp);
	}
	if (got || !q.max_wait_ms || n <= 0)
		return n;
	struct swait *w = calloc(1, sizeof(*w));
	if (!w)
		return n;
	*w = (struct swait){.token = token, .corr = (int32_t)corr, .g = g,
			    .m = m,
			    .deadline_ms = s->now_ms +
					   (int64_t)(q.max_wait_ms < INT32_MAX ?
						     q.max_wait_ms :
						     INT32_MAX),
			    .max_records = (int32_t)q.max_messages,
			    .native = true, .topic_id = tid};
	w->next = s->waits;
	s->waits = w;
	*waiting = true;
	return 0;
}

static long native_ack(struct sl_share *s, uint32_t corr, const uint8_t *req,
		       size_t len)
{
	struct sn_queue_ack q;
	int rc = sn_decode_queue_ack(req, len, &q);
	if (rc)
		return sn_encode_error_resp(s->out, OUT_BYTES, SN_QUEUE_ACK,
					    corr, (int16_t)-rc);
	uint32_t tid;
	int32_t parts;
	if (!s->cfg.topic(s->cfg.topic_ctx, q.topic, q.topic_len, &tid,
			  &parts))
		return sn_encode_error_resp(s->out, OUT_BYTES, SN_QUEUE_ACK,
					    corr,
					    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	struct sgroup *g = group_find(s, q.group, q.group_len);
	struct smember *m = g ? native_member(s, g, q.member, tid, 0) : NULL;
	int16_t *errs = kc_arena_take(&s->build, q.count, sizeof(*errs));
	if (!errs)
		return -ENOMEM;
	for (uint32_t i = 0; i < q.count; i++) {
		struct sn_qack_entry e;
		sn_qack_get(&q, i, &e);
		int8_t t = (int8_t)e.type;
		struct kc_share_fetch_req_acknowledgement_batch kb = {
			e.first, e.last, {&t, 1}};
		if (e.type < SN_ACK_ACCEPT || e.type > SN_ACK_EXTEND) {
			errs[i] = SN_ERR_INVALID_REQUEST;
			continue;
		}
		/* no group: nothing of it was ever handed out */
		errs[i] = !m ? SN_ERR_INVALID_RECORD_STATE :
			  apply_acks(s, g, m, tid, e.partition,
				     &(struct kc_array){&kb, 1}, true,
				     e.delay_ms);
	}
	return sn_encode_queue_ack_resp(s->out, OUT_BYTES, corr, 0, errs,
					q.count);
}

bool sl_share_native_serves(uint8_t opcode)
{
	return opcode == SN_QUEUE_RECEIVE || opcode == SN_QUEUE_ACK;
}

int sl_share_native(struct sl_share *s, uint64_t token, const uint8_t *req,
		    size_t len, int64_t now_ms)
{
	if (len < SN_HEADER_BYTES || !sl_share_native_serves(req[3]))
		return -EINVAL;
	s->now_ms = now_ms;
	s->in.used = 0;
	s->build.used = 0;
	s->ack_budget = ACK_OFFSETS_MAX;
	s->native_op = req[3];
	uint32_t corr = (uint32_t)token;
	bool waiting = false;
	long n = req[3] == SN_QUEUE_RECEIVE ?
		 native_receive(s, token, corr, req, len, &waiting) :
		 native_ack(s, corr, req, len);
	if (waiting) {
		/* what the earlier acknowledgements changed is durable
		 * before the wait (as a ShareFetch's) */
		s->native_op = 0;
		(void)persist(s);
		return 0;
	}
	s->native_op = req[3];
	send_durable(s, token, n);
	return 0;
}

/* ---- group configs ---- */

#define RESOURCE_GROUP 32
#define CONFIG_RESET "share.auto.offset.reset"
#define OP_SET 0
#define OP_DELETE 1
#define SOURCE_DYNAMIC_GROUP 8
#define SOURCE_DEFAULT 5
#define TYPE_STRING 2
#define ERR_INVALID_CONFIG 40

static const char *reset_name(int r)
{
	return r == 1 ? "earliest" : "latest";
}

static long on_describe_configs(struct sl_share *s,
				const struct kc_request_header *h,
				const struct kc_describe_configs_req *q)
{
	struct kc_describe_configs_resp r = {0};
	int32_t n = q->resources.count;
	const struct kc_describe_configs_resource *res = q->resources.items;
	struct kc_describe_configs_result *out =
		kc_arena_take(&s->build, (size_t)n, sizeof(*out));
	struct kc_describe_configs_entry *e =
		kc_arena_take(&s->build, (size_t)n, sizeof(*e));
	if (!out || !e)
		return -ENOBUFS;
	for (int32_t i = 0; i < n; i++) {
		out[i] = (struct kc_describe_configs_result){
			.error_message = {NULL, -1},
			.resource_type = RESOURCE_GROUP,
			.resource_name = res[i].resource_name,
			.configs = {NULL, 0}};
		if (res[i].resource_name.len <= 0 ||
		    res[i].resource_name.len > ID_MAX) {
			out[i].error_code = KC_ERR_INVALID_GROUP_ID;
			out[i].error_message = str_of("the group id is empty "
						      "or too long");
			continue;
		}
		const struct kc_str *keys = res[i].configuration_keys.items;
		bool want = res[i].configuration_keys.count < 0;
		for (int32_t k = 0; k < res[i].configuration_keys.count; k++)
			want |= kc_str_is(keys[k], CONFIG_RESET,
					  strlen(CONFIG_RESET));
		if (!want)
			continue;
		const struct sgroup *g =
			group_find(s, res[i].resource_name.ptr,
				   (size_t)res[i].resource_name.len);
		bool set = g && g->reset != 2;
		int v = set ? g->reset : s->cfg.earliest;
		e[i] = (struct kc_describe_configs_entry){
			.name = str_of(CONFIG_RESET),
			.value = str_of(reset_name(v)),
			.read_only = false,
			.config_source = set ? SOURCE_DYNAMIC_GROUP :
					       SOURCE_DEFAULT,
			.is_default = !set,
			.synonyms = {NULL, 0},
			.config_type = TYPE_STRING,
			.documentation = {NULL, -1}};
		if (h->api_version >= 3 && q->include_documentation)
			e[i].documentation = str_of(
				"Where a share group's partitions start the "
				"first time they are read: latest or "
				"earliest.");
		out[i].configs = (struct kc_array){&e[i], 1};
	}
	r.results = (struct kc_array){out, n};
	return encode(s, h->api_key, h->api_version, h->correlation_id, &r);
}

static long on_alter_configs(struct sl_share *s,
			     const struct kc_request_header *h,
			     const struct kc_incremental_alter_configs_req *q)
{
	struct kc_incremental_alter_configs_resp r = {0};
	int32_t n = q->resources.count;
	const struct kc_incremental_alter_configs_req_alter_configs_resource
		*res = q->resources.items;
	struct kc_incremental_alter_configs_resp_alter_configs_resource_response
		*out = kc_arena_take(&s->build, (size_t)n, sizeof(*out));
	if (!out)
		return -ENOBUFS;
	bool wrote = false;
	for (int32_t i = 0; i < n; i++) {
		out[i] = (typeof(out[i])){.error_message = {NULL, -1},
					  .resource_type = RESOURCE_GROUP,
					  .resource_name =
						  res[i].resource_name};
		if (res[i].resource_name.len <= 0 ||
		    res[i].resource_name.len > ID_MAX) {
			out[i].error_code = KC_ERR_INVALID_GROUP_ID;
			out[i].error_message = str_of("the group id is empty "
						      "or too long");
			continue;
		}
		int v = -1;
		const struct kc_incremental_alter_configs_req_alterable_config
			*c = res[i].configs.items;
		for (int32_t k = 0; k < res[i].configs.count; k++) {
			if (!kc_str_is(c[k].name, CONFIG_RESET,
				       strlen(CONFIG_RESET))) {
				out[i].error_code = ERR_INVALID_CONFIG;
				out[i].error_message = str_of(
					"the only group config is "
					CONFIG_RESET);
				break;
			}
			if (c[k].config_operation == OP_DELETE) {
				v = 2;
			} else if (c[k].config_operation == OP_SET &&
				   kc_str_is(c[k].value, "latest", 6)) {
				v = 0;
			} else if (c[k].config_operation == OP_SET &&
				   kc_str_is(c[k].value, "earliest", 8)) {
				v = 1;
			} else {
				out[i].error_code = ERR_INVALID_CONFIG;
				out[i].error_message = str_of(
					CONFIG_RESET " is set to latest or "
					"earliest (by_duration is not "
					"supported), or deleted");
				break;
			}
		}
		if (out[i].error_code || v < 0 || q->validate_only)
			continue;
		struct sgroup *g = group_get(s, res[i].resource_name.ptr,
					     (size_t)res[i].resource_name.len);
		if (!g) {
			out[i].error_code = KC_ERR_GROUP_MAX_SIZE_REACHED;
			continue;
		}
		g->reset = (int8_t)v;
		if (!wrote)
			sl_sstore_begin(s->store);
		(void)sl_sstore_put_reset(s->store, g->id, g->idlen, v);
		wrote = true;
	}
	if (wrote && sl_sstore_end(s->store)) {
		s->st.store_failures++;
		return -EIO;
	}
	r.responses = (struct kc_array){out, n};
	return encode(s, h->api_key, h->api_version, h->correlation_id, &r);
}

int sl_share_configs(struct sl_share *s, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms)
{
	struct kc_request_header h;
	union kc_request body;
	s->native_op = 0; /* a Kafka answer */
	if (len < 8)
		return -ENOENT;
	int16_t key = (int16_t)rb_be16(req);
	if (key != KC_API_DESCRIBE_CONFIGS &&
	    key != KC_API_INCREMENTAL_ALTER_CONFIGS)
		return -ENOENT;
	s->now_ms = now_ms;
	s->in.used = 0;
	s->build.used = 0;
	if (kc_decode_request(req, len, &h, &body, &s->in) < 0)
		return -ENOENT; /* the admin module answers it */
	/* every resource a group's, else not this module's */
	const struct kc_describe_configs_req *dq = (const void *)&body;
	const struct kc_incremental_alter_configs_req *aq =
		(const void *)&body;
	int32_t n = key == KC_API_DESCRIBE_CONFIGS ? dq->resources.count :
						    aq->resources.count;
	if (n <= 0)
		return -ENOENT;
	for (int32_t i = 0; i < n; i++) {
		int8_t t = key == KC_API_DESCRIBE_CONFIGS ?
			((const struct kc_describe_configs_resource *)
				 dq->resources.items)[i].resource_type :
			((const struct
			  kc_incremental_alter_configs_req_alter_configs_resource
				  *)aq->resources.items)[i].resource_type;
		if (t != RESOURCE_GROUP)
			return -ENOENT;
	}
	long out = key == KC_API_DESCRIBE_CONFIGS ?
			   on_describe_configs(s, &h, dq) :
			   on_alter_configs(s, &h, aq);
	reply(s, token, out);
	return 0;
}

/* ---- the request ---- */

bool sl_share_serves(int16_t key)
{
	return key == KC_API_SHARE_GROUP_HEARTBEAT ||
	       key == KC_API_SHARE_GROUP_DESCRIBE ||
	       key == KC_API_SHARE_FETCH || key == KC_API_SHARE_ACKNOWLEDGE;
}

int sl_share_request(struct sl_share *s, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms)
{
	s->native_op = 0;
	struct kc_request_header h;
	union kc_request body;
	s->now_ms = now_ms;
	s->in.used = 0;
	s->build.used = 0;
	s->ack_budget = ACK_OFFSETS_MAX;
	long n = kc_decode_request(req, len, &h, &body, &s->in);
	if (len < 8 || !sl_share_serves(h.api_key))
		return -EINVAL;
	if (n < 0)
		return -EINVAL; /* malformed: the connection is closed */
	bool waiting = false;
	long out = -EINVAL;
	switch (h.api_key) {
	case KC_API_SHARE_GROUP_HEARTBEAT:
		out = on_heartbeat(s, h.api_version, h.correlation_id,
				   (const void *)&body, &h.client_id);
		break;
	case KC_API_SHARE_GROUP_DESCRIBE:
		out = on_describe(s, h.api_version, h.correlation_id,
				  (const void *)&body);
		break;
	case KC_API_SHARE_FETCH:
		out = on_fetch(s, token, h.api_version, h.correlation_id,
			       (const void *)&body, &waiting);
		break;
	case KC_API_SHARE_ACKNOWLEDGE:
		out = on_acknowledge(s, h.api_version, h.correlation_id,
				     (const void *)&body);
		break;
	}
	if (!waiting)
		send_durable(s, token, out);
	return 0;
}

/* ---- the state file at the open ---- */

static struct spart *loaded(struct sl_share *s, const struct sl_sstore_key *k)
{
	struct sgroup *g = group_get(s, k->group, k->glen);
	if (!g)
		return NULL;
	struct spart *p = spart_get(g, k->topic_id, k->partition);
	if (p)
		p->recovered = true;
	return p;
}

static int load_start(void *arg, const struct sl_sstore_key *k, int64_t start)
{
	struct spart *p = loaded(arg, k);
	if (!p)
		return -ENOMEM;
	p->rec_start = start;
	/* the changes below it no longer matter */
	uint32_t n = 0;
	for (uint32_t i = 0; i < p->nrec; i++)
		if (p->rec[i].offset >= start)
			p->rec[n++] = p->rec[i];
	p->nrec = n;
	return 0;
}

static int load_reset(void *arg, const char *group, size_t glen, int reset)
{
	struct sgroup *g = group_get(arg, group, glen);
	if (!g)
		return -ENOMEM;
	g->reset = (int8_t)reset;
	return 0;
}

static int load_change(void *arg, const struct sl_sstore_key *k,
		       const struct sl_sp_change *c)
{
	struct spart *p = loaded(arg, k);
	if (!p)
		return -ENOMEM;
	if (c->offset < p->rec_start)
		return 0;
	/* ascending and unique: replace, or insert in place */
	uint32_t i = p->nrec;
	while (i > 0 && p->rec[i - 1].offset > c->offset)
		i--;
	if (i > 0 && p->rec[i - 1].offset == c->offset) {
		p->rec[i - 1] = *c;
		return 0;
	}
	if (p->nrec == p->rec_cap) {
		uint32_t cap = p->rec_cap ? p->rec_cap * 2 : 64;
		struct sl_sp_change *n = realloc(p->rec, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->rec = n;
		p->rec_cap = cap;
	}
	memmove(&p->rec[i + 1], &p->rec[i],
		(size_t)(p->nrec - i) * sizeof(*c));
	p->rec[i] = *c;
	p->nrec++;
	return 0;
}

/* ---- life ---- */

int sl_share_create(const struct sl_share_config *cfg, int64_t now_ms,
		    struct sl_share **out, char *err, size_t errlen)
{
	struct sl_share *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "share groups: out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->replies_tail = &s->replies;
	s->clock = cfg->clock ? cfg->clock : &sl_clock_system;
	s->now_ms = now_ms;
	s->in = (struct kc_arena){aligned_alloc(8, ARENA_BYTES), ARENA_BYTES,
				  0};
	s->build = (struct kc_arena){aligned_alloc(8, ARENA_BYTES),
				     ARENA_BYTES, 0};
	s->out = malloc(OUT_BYTES);
	s->acq = malloc(ACQUIRE_MAX * sizeof(*s->acq));
	if (!s->in.base || !s->build.base || !s->out || !s->acq) {
		snprintf(err, errlen, "share groups: out of memory");
		sl_share_destroy(s);
		return -ENOMEM;
	}
	int rc = sl_sstore_open(cfg->disk ? cfg->disk : &sdisk_posix, cfg->dir,
				load_start, load_change, load_reset, s,
				&s->store, err, errlen);
	if (rc) {
		sl_share_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void sl_share_destroy(struct sl_share *s)
{
	if (!s)
		return;
	while (s->replies) { /* never sent: their clients ask again */
		struct sreply *r = s->replies;
		s->replies = r->next;
		free(r);
	}
	while (s->waits) {
		struct swait *w = s->waits;
		s->waits = w->next;
		wait_free(w);
	}
	for (uint32_t i = 0; i < s->ngroups; i++) {
		struct sgroup *g = s->groups[i];
		while (g->parts) {
			struct spart *p = g->parts;
			g->parts = p->next;
			spart_free_batches(p, INT64_MAX);
			if (p->ready)
				sl_sp_fini(&p->sp);
			free(p->rec);
			free(p);
		}
		while (g->readers) {
			struct sreader *r = g->readers;
			g->readers = r->next;
			sl_glog_destroy(r->log);
			free(r);
		}
		while (g->nmembers) {
			struct smember *m = g->members[0];
			member_free(g, m);
		}
		free(g);
	}
	while (s->copies) {
		struct scopy *c = s->copies;
		s->copies = c->next;
		free(c);
	}
	while (s->dlqs) {
		struct sdlq *d = s->dlqs;
		s->dlqs = d->next;
		sl_glog_destroy(d->log);
		free(d);
	}
	sl_sstore_close(s->store);
	free(s->in.base);
	free(s->build.base);
	free(s->out);
	free(s->acq);
	free(s);
}

uint32_t sl_share_pollfds(const struct sl_share *s, struct pollfd *pfd,
			  uint32_t max)
{
	uint32_t n = 0;
	for (const struct sdlq *d = s->dlqs; d && n < max; d = d->next)
		n += sl_glog_pollfd(d->log, &pfd[n]);
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct sreader *r = s->groups[i]->readers; r && n < max;
		     r = r->next)
			n += sl_glog_pollfd(r->log, &pfd[n]);
	return n;
}

int sl_share_timeout_ms(const struct sl_share *s, int64_t now_ms)
{
	int64_t at = INT64_MAX;
	for (const struct swait *w = s->waits; w; w = w->next) {
		at = min64(at, w->deadline_ms);
		at = min64(at, s->next_poll_ms);
	}
	for (uint32_t i = 0; i < s->ngroups; i++) {
		const struct sgroup *g = s->groups[i];
		for (uint32_t k = 0; k < g->nmembers; k++)
			if (g->members[k]->joined)
				at = min64(at, g->members[k]->expires_ms);
		for (const struct spart *p = g->parts; p; p = p->next) {
			if (!p->ready)
				continue;
			/* a wall-clock time, as a time on now_ms's clock */
			uint64_t due = sl_sp_next_due(&p->sp), w = wall_ms(s);
			if (due != UINT64_MAX)
				at = min64(at, due <= w ? now_ms :
					   now_ms + (int64_t)min64(
						   (int64_t)(due - w),
						   INT32_MAX));
		}
		for (const struct sreader *r = g->readers; r; r = r->next) {
			int t = sl_glog_timeout_ms(r->log, now_ms);
			if (t >= 0)
				at = min64(at, now_ms + t);
		}
	}
	for (const struct sdlq *d = s->dlqs; d; d = d->next) {
		int t = sl_glog_timeout_ms(d->log, now_ms);
		if (t >= 0)
			at = min64(at, now_ms + t);
	}
	if (at == INT64_MAX)
		return -1;
	return at <= now_ms ? 0 : (int)min64(at - now_ms, INT_MAX);
}

void sl_share_do_work(struct sl_share *s, int64_t now_ms)
{
	s->now_ms = now_ms;
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct sreader *r = s->groups[i]->readers; r; r = r->next)
			sl_glog_do_work(r->log, now_ms);
	for (struct sdlq *d = s->dlqs; d; d = d->next)
		sl_glog_do_work(d->log, now_ms);
	/* members whose heartbeats stopped leave */
	for (uint32_t i = 0; i < s->ngroups; i++) {
		struct sgroup *g = s->groups[i];
		for (uint32_t k = 0; k < g->nmembers;) {
			struct smember *m = g->members[k];
			if (!m->joined || m->expires_ms > now_ms) {
				k++;
				continue;
			}
			sl_log("share group %s: member %s left (no heartbeat "
			       "in %d ms); its messages are released",
			       g->id, m->id, s->cfg.session_timeout_ms);
			release_member(s, g, m);
			m->joined = false;
			g->epoch++;
			if (m->has_session) {
				k++;
				continue;
			}
			wait_drop_member(s, m);
			member_free(g, m); /* the last one moved to k */
		}
	}
	/* sessions of members not in the group, idle for a session
	 * timeout: closed (their client went away without closing them) */
	for (uint32_t i = 0; i < s->ngroups; i++) {
		struct sgroup *g = s->groups[i];
		for (uint32_t k = 0; k < g->nmembers;) {
			struct smember *m = g->members[k];
			bool waits = false;
			for (struct swait *w = s->waits; w; w = w->next)
				waits |= w->m == m;
			if (m->joined || !m->has_session || waits ||
			    now_ms - m->used_ms < s->cfg.session_timeout_ms) {
				k++;
				continue;
			}
			session_close(s, g, m); /* frees m: k holds another */
		}
	}
	/* lapsed locks */
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct spart *p = s->groups[i]->parts; p; p = p->next) {
			if (!p->ready ||
			    sl_sp_next_due(&p->sp) > wall_ms(s))
				continue;
			uint32_t n = sl_sp_expire(&p->sp, wall_ms(s));
			if (n) {
				s->st.released += n;
				mark_dirty(p);
			}
		}
	/* dead letters to their topic (a persist first: a dead letter's
	 * state is durable before its copy is made) */
	(void)persist(s);
	for (uint32_t i = 0; i < s->ngroups; i++)
		for (struct spart *p = s->groups[i]->parts; p; p = p->next)
			copy_dead(s, p);
	/* waiting fetches: answered when something came, or at their
	 * deadline; their partitions read again meanwhile */
	bool poll = now_ms >= s->next_poll_ms;
	if (poll)
		s->next_poll_ms = now_ms + SL_SHARE_POLL_MS;
	struct swait **pp = &s->waits;
	while (*pp) {
		struct swait *w = *pp;
		bool ready = now_ms >= w->deadline_ms;
		for (uint32_t k = 0; k < w->m->nparts && !ready; k++) {
			struct spart *p = spart_find(w->g,
						     w->m->parts[k].topic_id,
						     w->m->parts[k].partition);
			if (!p)
				continue;
			/* a read that failed (not led here) is tried again
			 * at the poll; a read that waits at the log's end
			 * is there already */
			if (poll || !p->read_err)
				spart_read(s, p);
			if (p->ready && sl_sp_count(&p->sp, SL_SP_AVAILABLE))
				ready = true;
		}
		if (!ready) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		uint32_t got;
		long n = wait_answer(s, w, true, &got);
		if (!got && now_ms < w->deadline_ms) {
			/* available but not for now (delayed, or a FIFO
			 * group in flight): keep waiting */
			w->next = *pp;
			*pp = w;
			pp = &w->next;
			continue;
		}
		send_durable(s, w->token, n);
		wait_free(w);
	}
	(void)persist(s);
	flush_replies(s);
}

void sl_share_get_stats(const struct sl_share *s, struct sl_share_stats *out)
{
	*out = s->st;
}
