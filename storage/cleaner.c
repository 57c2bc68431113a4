/*
 * The log cleaner: Kafka's log compaction over sluice's segments.  The
 * contract (when a pass is due, what it keeps) is in cleaner.h; this file
 * holds the rules for each batch, the on-disk protocol of a swap and its
 * recovery.
 *
 * A record is kept if and only if, in this order:
 *   - its batch is a control batch or transactional: kept whole, never
 *     mapped (without the aborted-transaction index the cleaner cannot
 *     tell a committed record from an aborted one, so it removes neither);
 *   - it has a key (Kafka's cleaner drops keyless records: a compacted
 *     topic refuses them at produce, INVALID_RECORD);
 *   - no later record of its key was mapped (the map holds, for every key
 *     of the dirty part, the offset of its last record);
 *   - it is not a tombstone (null value) whose batch carries a delete
 *     horizon (attributes bit 6, KIP-534: the base timestamp is then the
 *     horizon) that has passed.
 * What becomes of a batch:
 *   - every record kept and no horizon to set: copied byte for byte;
 *   - some kept, or a kept tombstone and no horizon yet: rebuilt with the
 *     same base offset, last offset delta, leader epoch, producer fields,
 *     timestamp type and max timestamp, the kept records with their own
 *     offset deltas (so offsets keep their gaps), the codec it had
 *     (snappy's framing too) and a new CRC32C.  A first horizon is now +
 *     delete_retention_ms, written as the base timestamp with bit 6 set
 *     and every record's timestamp delta re-encoded against it (record
 *     timestamps do not change);
 *   - none kept: if it is the last batch of its producer id in the range,
 *     kept as a header without records (Kafka keeps it so the producer's
 *     last sequence and epoch survive); else removed.  A run of removed
 *     batches is replaced by one batch without records (producer id -1,
 *     record count 0) whose last offset delta spans the run, timestamped
 *     with the run's largest timestamp: every segment still starts at its
 *     base offset and each batch still begins where the previous one
 *     ended, which is what recovery and the index rely on (segment.c),
 *     and consumers step over it as over Kafka's empty batches;
 *   - a batch that cannot be decoded (codec error, a record set larger
 *     than records_max_bytes) or whose rebuilt form would exceed
 *     batch_max_bytes: kept whole.
 *
 * The swap of one segment (all names in the partition directory):
 *   1. write <base>.log.cleaned, <base>.index.cleaned and
 *      <base>.timeindex.cleaned, fdatasync all three;
 *   2. rename .index.cleaned -> .index.swap, .timeindex.cleaned ->
 *      .timeindex.swap, then .log.cleaned -> .log.swap: the commit point;
 *   3. rename .index.swap -> .index, .timeindex.swap -> .timeindex, then
 *      .log.swap -> .log, and fsync the directory.
 * A directory comes back after a power cut with a prefix of its changes
 * (storage/disk.h), so recovery (sclean_recover, before the segments are
 * listed) finds one of:
 *   - .cleaned files: the swap never committed: they are deleted, the old
 *     segment is whole;
 *   - .index.swap / .timeindex.swap without a .log.swap: not committed
 *     either (the .log.swap comes last in step 2, and is renamed away
 *     only after them in step 3): deleted;
 *   - a .log.swap: committed, and its data is synced: the renames of step
 *     3 are done again (those already done are gone), then the directory
 *     is fsynced.
 * The old segment's data is never touched, so a cut anywhere leaves the
 * old segment or the new one, both whole.
 *
 * Work is done in steps of about budget_bytes (reads plus writes); the
 * state between steps is in struct scleaner.  Between two steps the log
 * may have appended, rolled, applied retention or been truncated: each
 * step finds its segment again by base offset and abandons the pass when
 * the segment is gone, has changed size, has become the active one, or
 * the log was truncated.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record_batch.h"
#include "storage/cleaner.h"
#include "proto/codec.h"
#include "storage/log_pvt.h"

#define RB_ATTR_DELETE_HORIZON 0x40 /* KIP-534 */
#define PID_SLOTS 4096u             /* producers tracked per pass */
#define WBUF_BYTES (1u << 20)       /* output gathered before a write */
#define CLEAN_OFFSET_BYTES 20
#define CLEAN_OFFSET_VERSION 1

/* ---- the key map: exact keys, open addressing ---- */

struct kslot {
	uint64_t hash;
	int64_t offset;  /* -1: empty */
	uint32_t key_at; /* in the arena */
	uint32_t klen;
};

struct kmap {
	struct kslot *slots;
	uint32_t cap, n;  /* cap a power of two; n <= cap * 3 / 4 */
	uint8_t *arena;
	size_t arena_cap, arena_used;
};

struct pslot {
	int64_t pid;    /* -1: empty */
	int64_t last;   /* last offset of its last batch in the range */
};

enum phase { PH_IDLE = 0, PH_MAP, PH_CLEAN };

/* One output segment being written. */
struct outseg {
	int fd, ifd, tfd;       /* .log/.index/.timeindex.cleaned; -1: none */
	uint64_t pos;           /* bytes of output so far */
	uint64_t flushed;       /* of those, written to fd */
	bool changed;           /* differs from the input: a swap is due */
	struct idx_entry *e;    /* offset index being built */
	uint32_t n, cap;
	struct tidx_entry *t;   /* time index being built */
	uint32_t tn, tcap;
	uint64_t last_index_pos;
	int64_t max_ts;         /* largest batch max timestamp so far */
	int64_t next_offset;
	/* the run of removed batches not written yet */
	bool run;
	int64_t run_first, run_last, run_ts;
	int32_t run_epoch;
};

struct scleaner {
	struct scleaner_config cfg;
	struct scodec *codec;
	struct kmap map;
	struct pslot *pids;
	uint32_t npids;
	bool pids_full;
	uint8_t *in;            /* one batch, read from the segment */
	uint8_t *raw;           /* a batch's records, decompressed */
	uint8_t *rec;           /* the kept records, re-encoded */
	uint8_t *zbuf;          /* a rebuilt batch, compressed */
	size_t zcap;
	uint8_t *wbuf;          /* output not yet written */
	size_t wlen;
	uint8_t *keep;          /* one flag per record of a batch */
	int64_t tokens;         /* rate bound: bytes allowed now */
	uint64_t tokens_ns;     /* when tokens were last topped up */
	struct scleaner_stats st;

	/* the pass under way */
	enum phase phase;
	struct slog *log;
	struct slog_clean_config lcfg;
	int64_t now_ms;         /* wall clock at the start of the pass */
	int64_t range_end;      /* segments below this offset are cleaned */
	int64_t dirty_from;     /* mapped from here */
	int64_t map_end;        /* every offset below it was mapped */
	uint64_t truncations;   /* the log's count when the pass began */
	int64_t horizon_min;    /* of the tombstones kept by this pass */
	int64_t seg_base;       /* segment being read */
	uint64_t seg_size;
	uint64_t in_pos;        /* next batch in it */
	int64_t expect;         /* its base offset must be this */
	struct outseg out;
	/* per-step I/O */
	uint64_t step_read, step_written;
};

static int64_t wall_ms(const struct slog *log)
{
	return log->clock->wall_ms(log->clock->ctx);
}

void slog_clean_config_defaults(struct slog_clean_config *cfg)
{
	cfg->min_cleanable_dirty_ratio = 0.5;
	cfg->min_compaction_lag_ms = 0;
	cfg->max_compaction_lag_ms = INT64_MAX;
	cfg->delete_retention_ms = 86400000;
}

void scleaner_config_defaults(struct scleaner_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->io_bytes_per_sec = 0;
	cfg->map_bytes = 64ull << 20;
	cfg->batch_max_bytes = 1048588;
	cfg->records_max_bytes = 32u << 20;
	cfg->clock = NULL;
}

void scleaner_get_stats(const struct scleaner *c, struct scleaner_stats *out)
{
	*out = c->st;
}

static int64_t clean_offset_read(const struct slog *log);

int64_t slog_clean_offset(struct slog *log)
{
	if (log->clean.offset < 0)
		log->clean.offset = clean_offset_read(log);
	return log->clean.offset;
}

/* ---- the key map ---- */

static uint64_t key_hash(const uint8_t *p, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a finaliser */
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static void kmap_clear(struct kmap *m)
{
	for (uint32_t i = 0; i < m->cap; i++)
		m->slots[i].offset = -1;
	m->n = 0;
	m->arena_used = 0;
}

static struct kslot *kmap_find(const struct kmap *m, const uint8_t *key,
			       uint32_t klen, uint64_t h)
{
	uint32_t mask = m->cap - 1;
	/* bounded: the table is never more than 3/4 full */
	for (uint32_t i = (uint32_t)h & mask, probes = 0; probes < m->cap;
	     i = (i + 1) & mask, probes++) {
		struct kslot *s = &m->slots[i];
		if (s->offset < 0 ||
		    (s->hash == h && s->klen == klen &&
		     !memcmp(m->arena + s->key_at, key, klen)))
			return s;
	}
	assert(0 && "key map full past its bound");
	return NULL;
}

/* Room for count more keys of at most bytes in all. */
static bool kmap_room(const struct kmap *m, uint32_t count, size_t bytes)
{
	return (uint64_t)m->n + count <= (uint64_t)m->cap * 3 / 4 &&
	       m->arena_used + bytes <= m->arena_cap;
}

static void kmap_put(struct kmap *m, const uint8_t *key, uint32_t klen,
		     int64_t offset)
{
	uint64_t h = key_hash(key, klen);
	struct kslot *s = kmap_find(m, key, klen, h);
	if (s->offset < 0) {
		assert(kmap_room(m, 1, klen)); /* the caller checked */
		memcpy(m->arena + m->arena_used, key, klen);
		s->hash = h;
		s->klen = klen;
		s->key_at = (uint32_t)m->arena_used;
		m->arena_used += klen;
		m->n++;
	}
	if (offset > s->offset)
		s->offset = offset;
}

/* Offset of key's last mapped record, or -1. */
static int64_t kmap_get(const struct kmap *m, const uint8_t *key,
			uint32_t klen)
{
	return kmap_find(m, key, klen, key_hash(key, klen))->offset;
}

/* ---- producers: the last batch of each ---- */

static struct pslot *pid_slot(struct scleaner *c, int64_t pid, bool add)
{
	uint32_t mask = PID_SLOTS - 1;
	uint64_t h = key_hash((const uint8_t *)&pid, sizeof(pid));
	for (uint32_t i = (uint32_t)h & mask, probes = 0; probes < PID_SLOTS;
	     i = (i + 1) & mask, probes++) {
		struct pslot *s = &c->pids[i];
		if (s->pid == pid)
			return s;
		if (s->pid < 0) {
			if (!add || c->npids >= PID_SLOTS / 2) {
				c->pids_full |= add;
				return NULL;
			}
			s->pid = pid;
			s->last = -1;
			c->npids++;
			return s;
		}
	}
	c->pids_full |= add;
	return NULL;
}

static void pid_see(struct scleaner *c, const uint8_t *b)
{
	int64_t pid = (int64_t)rb_be64(b + RB_OFF_PRODUCER_ID);
	if (pid < 0)
		return;
	struct pslot *s = pid_slot(c, pid, true);
	if (s && rb_last_offset(b) > s->last)
		s->last = rb_last_offset(b);
}

/* The batch is its producer's last in the range (or may be: when the
 * table overflowed, an unknown producer counts as last). */
static bool pid_is_last(struct scleaner *c, const uint8_t *b)
{
	int64_t pid = (int64_t)rb_be64(b + RB_OFF_PRODUCER_ID);
	if (pid < 0)
		return false;
	struct pslot *s = pid_slot(c, pid, false);
	if (!s)
		return c->pids_full;
	return s->last == rb_last_offset(b);
}

/* ---- create / destroy ---- */

int scleaner_create(const struct scleaner_config *cfg, struct scleaner **out)
{
	if (cfg->map_bytes < 4096 || cfg->batch_max_bytes < RB_HEADER_BYTES ||
	    cfg->batch_max_bytes > (64u << 20) ||
	    cfg->records_max_bytes < 4096 ||
	    cfg->map_bytes > (1ull << 40))
		return SL_ECONFIG;
	struct scleaner *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.clock)
		c->cfg.clock = &sl_clock_system;
	c->out.fd = c->out.ifd = c->out.tfd = -1;
	/* half the map's memory for slots, half for the keys */
	uint64_t slots = 1;
	while (slots * 2 * sizeof(struct kslot) <= cfg->map_bytes / 2)
		slots *= 2;
	if (slots > (1u << 31))
		slots = 1u << 31;
	c->map.cap = (uint32_t)slots;
	c->map.arena_cap = (size_t)(cfg->map_bytes - slots * sizeof(struct kslot));
	if (c->map.arena_cap > UINT32_MAX)
		c->map.arena_cap = UINT32_MAX;
	c->map.slots = malloc(slots * sizeof(struct kslot));
	c->map.arena = malloc(c->map.arena_cap);
	c->pids = malloc(PID_SLOTS * sizeof(*c->pids));
	c->in = malloc(cfg->batch_max_bytes);
	c->raw = malloc(cfg->records_max_bytes);
	c->rec = malloc(cfg->records_max_bytes);
	c->zcap = RB_HEADER_BYTES + scodec_bound(SCODEC_SNAPPY,
						 cfg->records_max_bytes);
	for (int k = SCODEC_GZIP; k <= SCODEC_ZSTD; k++) {
		size_t b = RB_HEADER_BYTES + scodec_bound(k, cfg->records_max_bytes);
		if (b > c->zcap)
			c->zcap = b;
	}
	c->zbuf = malloc(c->zcap);
	c->wbuf = malloc(WBUF_BYTES);
	c->keep = malloc(RB_RECORDS_MAX);
	int rc = scodec_create(&c->codec);
	if (rc < 0 || !c->map.slots || !c->map.arena || !c->pids || !c->in ||
	    !c->raw || !c->rec || !c->zbuf || !c->wbuf || !c->keep) {
		scleaner_destroy(c);
		return -ENOMEM;
	}
	kmap_clear(&c->map);
	*out = c;
	return 0;
}

static void pass_abandon(struct scleaner *c);
static bool next_segment(struct scleaner *c, int64_t after, int64_t limit);

void scleaner_destroy(struct scleaner *c)
{
	if (!c)
		return;
	if (c->phase != PH_IDLE)
		pass_abandon(c);
	scodec_destroy(c->codec);
	free(c->map.slots);
	free(c->map.arena);
	free(c->pids);
	free(c->in);
	free(c->raw);
	free(c->rec);
	free(c->zbuf);
	free(c->wbuf);
	free(c->keep);
	free(c);
}

/* ---- cleaner-offset: where the dirty part starts ---- */

/*
 * cleaner-offset (20 bytes, big-endian), replaced atomically (sd_replace):
 *      0  4  magic "SLCO"
 *      4  4  version, 1
 *      8  8  offset D: the next pass maps from D
 *     16  4  CRC32C of bytes [0, 16)
 * A missing or damaged file means D = 0: the whole log is dirty, which
 * only costs a pass.
 */
static int64_t clean_offset_read(const struct slog *log)
{
	char path[PATH_MAX];
	uint8_t *raw;
	snprintf(path, sizeof(path), "%s/cleaner-offset", log->dir);
	ssize_t n = sd_read_file(log->disk, path, CLEAN_OFFSET_BYTES, &raw);
	if (n < 0)
		return 0;
	int64_t off = 0;
	if (n == CLEAN_OFFSET_BYTES && !memcmp(raw, "SLCO", 4) &&
	    rb_be32(raw + 4) == CLEAN_OFFSET_VERSION &&
	    rb_crc32c(raw, 16) == rb_be32(raw + 16))
		off = (int64_t)rb_be64(raw + 8);
	free(raw);
	return off >= 0 && off < SLOG_OFFSET_MAX ? off : 0;
}

static int clean_offset_write(const struct slog *log, int64_t off)
{
	char path[PATH_MAX];
	uint8_t raw[CLEAN_OFFSET_BYTES];
	memcpy(raw, "SLCO", 4);
	rb_put32(raw + 4, CLEAN_OFFSET_VERSION);
	rb_put64(raw + 8, (uint64_t)off);
	rb_put32(raw + 16, rb_crc32c(raw, 16));
	snprintf(path, sizeof(path), "%s/cleaner-offset", log->dir);
	return sd_replace(log->disk, path, raw, sizeof(raw));
}

/* ---- file names of a swap ---- */

static void swap_path(char *out, size_t cap, const struct slog *log,
		      int64_t base, const char *ext, const char *stage)
{
	snprintf(out, cap, "%s/%020lld%s%s", log->dir, (long long)base, ext,
		 stage);
}

static const char *const swap_ext[3] = { ".index", ".timeindex", ".log" };

/* ---- recovery ---- */

struct leftovers {
	int64_t *swaps;       /* bases with a .log.swap */
	unsigned nswaps, cap;
	char **remove;        /* names to delete */
	unsigned nremove, rcap;
};

/* "<20 digits><ext><stage>" -> base, or -1. */
static int64_t parse_stage(const char *name, const char *ext,
			   const char *stage)
{
	size_t el = strlen(ext), sl = strlen(stage), n = strlen(name);
	if (n != 20 + el + sl || memcmp(name + 20, ext, el) ||
	    memcmp(name + 20 + el, stage, sl))
		return -1;
	int64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v < SLOG_OFFSET_MAX ? v : -1;
}

static int see_leftover(void *arg, const char *name)
{
	struct leftovers *l = arg;
	int64_t base = parse_stage(name, ".log", ".swap");
	if (base >= 0) {
		if (l->nswaps == l->cap) {
			unsigned ncap = l->cap ? 2 * l->cap : 8;
			int64_t *p = realloc(l->swaps, ncap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			l->swaps = p;
			l->cap = ncap;
		}
		l->swaps[l->nswaps++] = base;
		return 0;
	}
	bool stale = false;
	for (unsigned i = 0; i < 3; i++)
		stale |= parse_stage(name, swap_ext[i], ".cleaned") >= 0;
	for (unsigned i = 0; i < 2; i++)
		stale |= parse_stage(name, swap_ext[i], ".swap") >= 0;
	if (!stale)
		return 0;
	if (l->nremove == l->rcap) {
		unsigned ncap = l->rcap ? 2 * l->rcap : 8;
		char **p = realloc(l->remove, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->remove = p;
		l->rcap = ncap;
	}
	l->remove[l->nremove] = strdup(name);
	if (!l->remove[l->nremove])
		return -ENOMEM;
	l->nremove++;
	return 0;
}

static bool has_swap(const struct leftovers *l, int64_t base)
{
	for (unsigned i = 0; i < l->nswaps; i++)
		if (l->swaps[i] == base)
			return true;
	return false;
}

/* Step 3 of the swap (cleaner.c's opening comment), from wherever it
 * stopped. */
static int swap_finish(const struct slog *log, int64_t base)
{
	char from[PATH_MAX], to[PATH_MAX];
	for (unsigned i = 0; i < 3; i++) {
		swap_path(from, sizeof(from), log, base, swap_ext[i], ".swap");
		swap_path(to, sizeof(to), log, base, swap_ext[i], "");
		int rc = sd_rename(log->disk, from, to);
		if (rc < 0 && !(rc == -ENOENT && i < 2))
			return rc;
	}
	return 0;
}

int sclean_recover(struct slog *log)
{
	struct leftovers l = { 0 };
	char path[PATH_MAX];
	int rc = sd_list(log->disk, log->dir, see_leftover, &l);
	if (rc == -ENOENT)
		rc = 0;
	for (unsigned i = 0; rc == 0 && i < l.nswaps; i++) {
		slog_logf(log, 1, "finishing the compaction of segment %lld "
			  "that a crash interrupted", (long long)l.swaps[i]);
		rc = swap_finish(log, l.swaps[i]);
	}
	for (unsigned i = 0; rc == 0 && i < l.nremove; i++) {
		/* an index .swap of a committed swap was renamed by
		 * swap_finish already; the others never committed */
		int64_t base = parse_stage(l.remove[i], ".index", ".swap");
		if (base < 0)
			base = parse_stage(l.remove[i], ".timeindex", ".swap");
		if (base >= 0 && has_swap(&l, base))
			continue;
		snprintf(path, sizeof(path), "%s/%s", log->dir, l.remove[i]);
		rc = sd_unlink(log->disk, path);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0 && (l.nswaps || l.nremove))
		rc = sd_fsync_dir(log->disk, log->dir);
	for (unsigned i = 0; i < l.nremove; i++)
		free(l.remove[i]);
	free(l.remove);
	free(l.swaps);
	return rc;
}

/* ---- records ---- */

/* One record of a decoded record set, as bytes and fields. */
struct crec {
	const uint8_t *start, *end;  /* the whole record, length varint too */
	int8_t attributes;
	int64_t ts_delta;
	int64_t off_delta;
	const uint8_t *key;          /* NULL: null key */
	int32_t klen;
	const uint8_t *value;        /* NULL: null value (a tombstone) */
	int32_t vlen;
	const uint8_t *headers;      /* header count and headers, to end */
};

static int take(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	int n = rb_varint_get(*p, end, v);
	if (n < 0)
		return -1;
	*p += n;
	return 0;
}

/* Decode the record at *p (bounded by end); advances *p.  0 or
 * SL_ECORRUPT. */
static int next_record(const uint8_t **pp, const uint8_t *end, struct crec *r)
{
	int64_t len, klen, vlen;
	const uint8_t *p = *pp;
	r->start = p;
	if (take(&p, end, &len) || len < 1 || len > end - p)
		return SL_ECORRUPT;
	const uint8_t *rend = p + len;
	r->attributes = (int8_t)*p++;
	if (take(&p, rend, &r->ts_delta) || take(&p, rend, &r->off_delta) ||
	    take(&p, rend, &klen) || klen < -1 || klen > rend - p)
		return SL_ECORRUPT;
	r->key = klen >= 0 ? p : NULL;
	r->klen = (int32_t)klen;
	p += klen > 0 ? klen : 0;
	if (take(&p, rend, &vlen) || vlen < -1 || vlen > rend - p)
		return SL_ECORRUPT;
	r->value = vlen >= 0 ? p : NULL;
	r->vlen = (int32_t)vlen;
	p += vlen > 0 ? vlen : 0;
	r->headers = p;
	if (r->off_delta < 0 || r->off_delta > INT32_MAX)
		return SL_ECORRUPT;
	r->end = rend;
	*pp = rend;
	return 0;
}

/* Encode r with timestamp delta ts_delta at out (cap bytes); returns the
 * bytes written or -ENOBUFS. */
static long put_record(uint8_t *out, size_t cap, const struct crec *r,
		       int64_t ts_delta)
{
	uint8_t head[32];
	size_t h = 0;
	head[h++] = (uint8_t)r->attributes;
	h += (size_t)rb_varint_put(head + h, sizeof(head) - h, ts_delta);
	h += (size_t)rb_varint_put(head + h, sizeof(head) - h, r->off_delta);
	h += (size_t)rb_varint_put(head + h, sizeof(head) - h, r->klen);
	uint8_t vl[10];
	int vn = rb_varint_put(vl, sizeof(vl), r->vlen);
	size_t hdrs = (size_t)(r->end - r->headers);
	size_t body = h + (r->klen > 0 ? (size_t)r->klen : 0) + (size_t)vn +
		      (r->vlen > 0 ? (size_t)r->vlen : 0) + hdrs;
	uint8_t ln[10];
	int lnn = rb_varint_put(ln, sizeof(ln), (int64_t)body);
	if ((size_t)lnn + body > cap)
		return -ENOBUFS;
	uint8_t *o = out;
	memcpy(o, ln, (size_t)lnn);
	o += lnn;
	memcpy(o, head, h);
	o += h;
	if (r->klen > 0) {
		memcpy(o, r->key, (size_t)r->klen);
		o += r->klen;
	}
	memcpy(o, vl, (size_t)vn);
	o += vn;
	if (r->vlen > 0) {
		memcpy(o, r->value, (size_t)r->vlen);
		o += r->vlen;
	}
	memcpy(o, r->headers, hdrs);
	o += hdrs;
	return (long)(o - out);
}

/* The record set of batch b (len bytes): in place, or decompressed into
 * c->raw.  Returns its size and *set, or < 0 (cannot be decoded). */
static long record_set(struct scleaner *c, const uint8_t *b, size_t len,
		       const uint8_t **set)
{
	int codec = rb_be16(b + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION_MASK;
	if (codec == SCODEC_NONE) {
		*set = b + RB_HEADER_BYTES;
		return (long)(len - RB_HEADER_BYTES);
	}
	*set = c->raw;
	return scodec_decompress(c->codec, codec, b + RB_HEADER_BYTES,
				 len - RB_HEADER_BYTES, c->raw,
				 c->cfg.records_max_bytes);
}

/* ---- reading a segment ---- */

static struct sseg *seg_by_base(struct slog *log, int64_t base,
				unsigned *idx)
{
	for (unsigned i = 0; i < log->nseg; i++)
		if (log->segs[i].base_offset == base) {
			if (idx)
				*idx = i;
			return &log->segs[i];
		}
	return NULL;
}

/* The next batch of the segment at c->in_pos into c->in (whole, or its
 * header only).  Returns its size, 0 at the segment's end, or
 * SL_ECORRUPT. */
static long read_batch(struct scleaner *c, struct sseg *s, bool header_only)
{
	struct slog *log = c->log;
	if (c->in_pos >= s->size)
		return 0;
	if (s->size - c->in_pos < RB_HEADER_BYTES)
		return SL_ECORRUPT;
	ssize_t n = sd_pread(log->disk, s->read_fd, c->in, RB_HEADER_BYTES,
			     c->in_pos);
	if (n != RB_HEADER_BYTES)
		return n < 0 ? (long)n : SL_ECORRUPT;
	long size = rb_frame_size(c->in, RB_HEADER_BYTES,
				  log->cfg.batch_max_bytes);
	if (size < RB_HEADER_BYTES || (uint64_t)size > s->size - c->in_pos ||
	    c->in[RB_OFF_MAGIC] != RB_MAGIC ||
	    (int64_t)rb_be64(c->in + RB_OFF_BASE_OFFSET) != c->expect ||
	    (int32_t)rb_be32(c->in + RB_OFF_LAST_OFFSET_DELTA) < 0 ||
	    (int32_t)rb_be32(c->in + RB_OFF_RECORD_COUNT) < 0)
		return SL_ECORRUPT;
	c->step_read += RB_HEADER_BYTES;
	if (!header_only) {
		n = sd_pread(log->disk, s->read_fd, c->in + RB_HEADER_BYTES,
			     (size_t)size - RB_HEADER_BYTES,
			     c->in_pos + RB_HEADER_BYTES);
		if (n != size - RB_HEADER_BYTES)
			return n < 0 ? (long)n : SL_ECORRUPT;
		if (rb_crc32c(c->in + RB_CRC_START, (size_t)size - RB_CRC_START) !=
		    rb_be32(c->in + RB_OFF_CRC))
			return SL_ECORRUPT;
		c->step_read += (uint64_t)size - RB_HEADER_BYTES;
	}
	return size;
}

/* ---- the map phase ---- */

static bool never_mapped(const uint8_t *b)
{
	return rb_be16(b + RB_OFF_ATTRIBUTES) &
	       (RB_ATTR_CONTROL | RB_ATTR_TRANSACTIONAL);
}

/* Map the keys of batch c->in.  1: mapped; 0: the map has no room. */
static int map_batch(struct scleaner *c, size_t len)
{
	const uint8_t *b = c->in;
	int32_t count = (int32_t)rb_be32(b + RB_OFF_RECORD_COUNT);
	if (never_mapped(b) || count == 0)
		return 1;
	const uint8_t *set;
	long n = record_set(c, b, len, &set);
	if (n < 0) {
		/* undecodable: its records are kept whole, so leaving them
		 * out of the map only keeps more */
		return 1;
	}
	if (!kmap_room(&c->map, (uint32_t)count, (size_t)n))
		return 0;
	int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
	const uint8_t *p = set, *end = set + n;
	struct crec r;
	/* bounded by the record count, each record consuming bytes */
	for (int32_t i = 0; i < count && p < end; i++) {
		if (next_record(&p, end, &r) < 0)
			break; /* kept whole at clean time as well */
		if (r.key)
			kmap_put(&c->map, r.key, (uint32_t)r.klen,
				 base + r.off_delta);
	}
	return 1;
}

/* ---- the clean phase: output ---- */

static int out_flush(struct scleaner *c)
{
	if (!c->wlen)
		return 0;
	ssize_t n = sd_pwrite(c->log->disk, c->out.fd, c->wbuf, c->wlen,
			      c->out.flushed);
	if (n != (ssize_t)c->wlen)
		return n < 0 ? (int)n : -EIO;
	c->out.flushed += c->wlen;
	c->step_written += c->wlen;
	c->wlen = 0;
	return 0;
}

static int grow(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Index entries for a batch written at out.pos (slog_index_batch's rule,
 * segment.c's format), then account it. */
static int out_index(struct scleaner *c, const uint8_t *b, size_t len)
{
	struct outseg *o = &c->out;
	int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
	int64_t max_ts = (int64_t)rb_be64(b + RB_OFF_MAX_TIMESTAMP);
	uint32_t rel = (uint32_t)(base - c->seg_base);
	assert(base == o->next_offset); /* contiguous, as recovery wants */
	if (o->pos > 0 &&
	    o->pos - o->last_index_pos >= c->log->cfg.index_interval_bytes) {
		if (o->n == o->cap && grow((void **)&o->e, &o->cap,
					   sizeof(*o->e)) < 0)
			return -ENOMEM;
		o->e[o->n++] = (struct idx_entry){ rel, (uint32_t)o->pos };
		if (o->max_ts >= 0 && (!o->tn || o->max_ts > o->t[o->tn - 1].ts)) {
			if (o->tn == o->tcap && grow((void **)&o->t, &o->tcap,
						     sizeof(*o->t)) < 0)
				return -ENOMEM;
			o->t[o->tn++] = (struct tidx_entry){ o->max_ts, rel };
		}
		o->last_index_pos = o->pos;
	}
	if (max_ts > o->max_ts)
		o->max_ts = max_ts;
	o->next_offset = rb_last_offset(b) + 1;
	o->pos += len;
	return 0;
}

/* Append one output batch. */
static int out_put(struct scleaner *c, const uint8_t *b, size_t len)
{
	int rc = out_index(c, b, len);
	if (rc < 0)
		return rc;
	if (c->wlen + len > WBUF_BYTES) {
		rc = out_flush(c);
		if (rc < 0)
			return rc;
	}
	if (len > WBUF_BYTES) { /* larger than the buffer: straight out */
		ssize_t n = sd_pwrite(c->log->disk, c->out.fd, b, len,
				      c->out.flushed);
		if (n != (ssize_t)len)
			return n < 0 ? (int)n : -EIO;
		c->out.flushed += len;
		c->step_written += len;
		return 0;
	}
	memcpy(c->wbuf + c->wlen, b, len);
	c->wlen += len;
	return 0;
}

/* A batch without records over [first, last] (Kafka's empty batch). */
static void put_empty(uint8_t *h, int64_t first, int64_t last, int32_t epoch,
		      int16_t attributes, int64_t ts, int64_t pid,
		      int16_t pepoch, int32_t seq)
{
	memset(h, 0, RB_HEADER_BYTES);
	rb_put64(h + RB_OFF_BASE_OFFSET, (uint64_t)first);
	rb_put32(h + RB_OFF_LENGTH, RB_HEADER_BYTES - RB_LOG_OVERHEAD);
	rb_put32(h + RB_OFF_LEADER_EPOCH, (uint32_t)epoch);
	h[RB_OFF_MAGIC] = RB_MAGIC;
	rb_put16(h + RB_OFF_ATTRIBUTES, (uint16_t)attributes);
	assert(last >= first && last - first <= INT32_MAX);
	rb_put32(h + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(last - first));
	rb_put64(h + RB_OFF_BASE_TIMESTAMP, (uint64_t)ts);
	rb_put64(h + RB_OFF_MAX_TIMESTAMP, (uint64_t)ts);
	rb_put64(h + RB_OFF_PRODUCER_ID, (uint64_t)pid);
	rb_put16(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)pepoch);
	rb_put32(h + RB_OFF_BASE_SEQUENCE, (uint32_t)seq);
	rb_put32(h + RB_OFF_RECORD_COUNT, 0);
	rb_put32(h + RB_OFF_CRC, rb_crc32c(h + RB_CRC_START,
					   RB_HEADER_BYTES - RB_CRC_START));
}

/* Write the pending run of removed batches as one empty batch. */
static int run_flush(struct scleaner *c)
{
	uint8_t h[RB_HEADER_BYTES];
	struct outseg *o = &c->out;
	if (!o->run)
		return 0;
	put_empty(h, o->run_first, o->run_last, o->run_epoch, 0, o->run_ts,
		  -1, -1, -1);
	o->run = false;
	return out_put(c, h, sizeof(h));
}

/* Batch b is removed: extend the run (one run per leader epoch). */
static int run_add(struct scleaner *c, const uint8_t *b)
{
	struct outseg *o = &c->out;
	int32_t epoch = (int32_t)rb_be32(b + RB_OFF_LEADER_EPOCH);
	int64_t ts = (int64_t)rb_be64(b + RB_OFF_MAX_TIMESTAMP);
	if (o->run && o->run_epoch != epoch) {
		int rc = run_flush(c);
		if (rc < 0)
			return rc;
	}
	if (!o->run) {
		o->run = true;
		o->run_first = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
		o->run_epoch = epoch;
		o->run_ts = -1;
	}
	o->run_last = rb_last_offset(b);
	if (ts > o->run_ts)
		o->run_ts = ts;
	/* a segment spans fewer than 2^31 offsets (index.c) */
	assert(o->run_last - o->run_first <= INT32_MAX);
	return 0;
}

/* The output so far equals the input so far: copy it out before the
 * first difference (read back from the segment, counted). */
static int out_catch_up(struct scleaner *c, struct sseg *s)
{
	struct outseg *o = &c->out;
	if (o->changed)
		return 0;
	o->changed = true;
	assert(c->wlen == 0 && o->flushed == 0);
	uint64_t upto = o->pos;
	while (o->flushed < upto) {
		size_t n = upto - o->flushed > WBUF_BYTES ?
				   WBUF_BYTES : (size_t)(upto - o->flushed);
		ssize_t got = sd_pread(c->log->disk, s->read_fd, c->wbuf, n,
				       o->flushed);
		if (got != (ssize_t)n)
			return got < 0 ? (int)got : SL_ECORRUPT;
		c->step_read += n;
		c->wlen = n;
		int rc = out_flush(c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Batch b (len bytes) unchanged: account it; written only once the
 * segment differs from the input. */
static int out_same(struct scleaner *c, const uint8_t *b, size_t len)
{
	if (c->out.changed)
		return out_put(c, b, len);
	return out_index(c, b, len);
}

/* ---- the clean phase: one batch ---- */

/* Rebuild batch b (len) with the records flagged in c->keep; new_base_ts
 * and attributes as decided.  Returns 1 written, 0 cannot (keep whole),
 * or < 0. */
static int rebuild(struct scleaner *c, const uint8_t *b, const uint8_t *set,
		   long set_len, int32_t count, int64_t new_base_ts,
		   uint16_t attributes, int32_t kept, bool xerial)
{
	int64_t old_base_ts = (int64_t)rb_be64(b + RB_OFF_BASE_TIMESTAMP);
	const uint8_t *p = set, *end = set + set_len;
	size_t n = 0;
	struct crec r;
	for (int32_t i = 0; i < count; i++) {
		if (next_record(&p, end, &r) < 0)
			return 0;
		if (!c->keep[i])
			continue;
		if (new_base_ts == old_base_ts) {
			size_t rl = (size_t)(r.end - r.start);
			if (n + rl > c->cfg.records_max_bytes)
				return 0;
			memcpy(c->rec + n, r.start, rl);
			n += rl;
		} else {
			int64_t ts = (int64_t)((uint64_t)old_base_ts +
					       (uint64_t)r.ts_delta);
			long w = put_record(c->rec + n,
					    c->cfg.records_max_bytes - n, &r,
					    (int64_t)((uint64_t)ts -
						      (uint64_t)new_base_ts));
			if (w < 0)
				return 0;
			n += (size_t)w;
		}
	}
	uint8_t *nb = c->zbuf;
	size_t total;
	int codec = attributes & RB_ATTR_COMPRESSION_MASK;
	if (codec == SCODEC_NONE) {
		if (RB_HEADER_BYTES + n > c->zcap)
			return 0;
		memcpy(nb + RB_HEADER_BYTES, c->rec, n);
		total = RB_HEADER_BYTES + n;
	} else {
		long z = scodec_compress(c->codec, codec, xerial, c->rec, n,
					 nb + RB_HEADER_BYTES,
					 c->zcap - RB_HEADER_BYTES);
		if (z < 0)
			return 0;
		total = RB_HEADER_BYTES + (size_t)z;
	}
	if (total > c->log->cfg.batch_max_bytes)
		return 0;
	memcpy(nb, b, RB_HEADER_BYTES); /* offsets, epoch, producer fields */
	rb_put32(nb + RB_OFF_LENGTH, (uint32_t)(total - RB_LOG_OVERHEAD));
	rb_put16(nb + RB_OFF_ATTRIBUTES, attributes);
	rb_put64(nb + RB_OFF_BASE_TIMESTAMP, (uint64_t)new_base_ts);
	rb_put32(nb + RB_OFF_RECORD_COUNT, (uint32_t)kept);
	rb_put32(nb + RB_OFF_CRC, rb_crc32c(nb + RB_CRC_START,
					    total - RB_CRC_START));
	return out_put(c, nb, total) < 0 ? -EIO : 1;
}

static int clean_batch(struct scleaner *c, struct sseg *s, size_t len)
{
	const uint8_t *b = c->in;
	uint16_t attr = rb_be16(b + RB_OFF_ATTRIBUTES);
	int32_t count = (int32_t)rb_be32(b + RB_OFF_RECORD_COUNT);
	int codec = attr & RB_ATTR_COMPRESSION_MASK;
	int rc;
	if (never_mapped(b) || count == 0 || codec > SCODEC_ZSTD ||
	    count > RB_RECORDS_MAX)
		goto keep_whole;
	const uint8_t *set;
	long set_len = record_set(c, b, len, &set);
	if (set_len < 0)
		goto keep_whole_counted;
	bool has_horizon = attr & RB_ATTR_DELETE_HORIZON;
	int64_t base_ts = (int64_t)rb_be64(b + RB_OFF_BASE_TIMESTAMP);
	int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
	bool need_horizon = false, tomb_kept = false;
	int32_t kept = 0, superseded = 0, tombs = 0, keyless = 0;
	const uint8_t *p = set, *end = set + set_len;
	struct crec r;
	for (int32_t i = 0; i < count; i++) {
		if (next_record(&p, end, &r) < 0)
			goto keep_whole_counted;
		bool k;
		if (!r.key) {
			k = false;
			keyless++;
		} else if (kmap_get(&c->map, r.key, (uint32_t)r.klen) >
			   base + r.off_delta) {
			k = false;
			superseded++;
		} else if (!r.value && has_horizon && c->now_ms >= base_ts) {
			k = false;
			tombs++;
		} else {
			k = true;
			if (!r.value) {
				tomb_kept = true;
				need_horizon |= !has_horizon;
			}
		}
		c->keep[i] = k;
		kept += k;
	}
	if (kept == count && !need_horizon) {
		if (tomb_kept && (c->horizon_min < 0 || base_ts < c->horizon_min))
			c->horizon_min = base_ts;
		goto keep_whole;
	}
	rc = out_catch_up(c, s);
	if (rc < 0)
		return rc;
	if (kept == 0) {
		if (pid_is_last(c, b)) {
			uint8_t h[RB_HEADER_BYTES];
			int64_t ts = (int64_t)rb_be64(b + RB_OFF_MAX_TIMESTAMP);
			rc = run_flush(c);
			if (rc < 0)
				return rc;
			put_empty(h, base, rb_last_offset(b),
				  (int32_t)rb_be32(b + RB_OFF_LEADER_EPOCH),
				  (int16_t)(attr & RB_ATTR_LOG_APPEND_TIME), ts,
				  (int64_t)rb_be64(b + RB_OFF_PRODUCER_ID),
				  (int16_t)rb_be16(b + RB_OFF_PRODUCER_EPOCH),
				  (int32_t)rb_be32(b + RB_OFF_BASE_SEQUENCE));
			rc = out_put(c, h, sizeof(h));
			c->st.batches_emptied++;
		} else {
			rc = run_add(c, b);
			c->st.batches_removed++;
		}
		if (rc < 0)
			return rc;
		goto counted;
	}
	int64_t new_base_ts = base_ts;
	uint16_t new_attr = attr;
	if (need_horizon) {
		new_base_ts = c->now_ms + c->lcfg.delete_retention_ms;
		new_attr |= RB_ATTR_DELETE_HORIZON;
	}
	rc = run_flush(c);
	if (rc < 0)
		return rc;
	rc = rebuild(c, b, set, set_len, count, new_base_ts, new_attr, kept,
		     codec == SCODEC_SNAPPY &&
			     scodec_snappy_is_xerial(b + RB_HEADER_BYTES,
						     len - RB_HEADER_BYTES));
	if (rc < 0)
		return rc;
	if (rc == 0) {
		c->st.batches_kept_whole++;
		return out_put(c, b, len);
	}
	c->st.batches_rebuilt++;
	if (tomb_kept && (c->horizon_min < 0 || new_base_ts < c->horizon_min))
		c->horizon_min = new_base_ts;
counted:
	c->st.records_removed += (uint64_t)superseded;
	c->st.tombstones_removed += (uint64_t)tombs;
	c->st.keyless_removed += (uint64_t)keyless;
	return 0;
keep_whole_counted:
	c->st.batches_kept_whole++;
keep_whole:
	rc = run_flush(c);
	if (rc < 0)
		return rc;
	return out_same(c, b, len);
}

/* ---- the clean phase: files and the swap ---- */

static void out_reset(struct scleaner *c)
{
	struct outseg *o = &c->out;
	const struct sdisk *d = c->log ? c->log->disk : NULL;
	if (d) {
		if (o->fd >= 0)
			sd_close(d, o->fd);
		if (o->ifd >= 0)
			sd_close(d, o->ifd);
		if (o->tfd >= 0)
			sd_close(d, o->tfd);
	}
	free(o->e);
	free(o->t);
	memset(o, 0, sizeof(*o));
	o->fd = o->ifd = o->tfd = -1;
	o->max_ts = -1;
	c->wlen = 0;
}

static void out_unlink(struct scleaner *c, int64_t base)
{
	char path[PATH_MAX];
	for (unsigned i = 0; i < 3; i++) {
		swap_path(path, sizeof(path), c->log, base, swap_ext[i],
			  ".cleaned");
		(void)sd_unlink(c->log->disk, path);
	}
}

/* Start rewriting segment s. */
static int out_begin(struct scleaner *c, struct sseg *s)
{
	char path[PATH_MAX];
	out_reset(c);
	c->out.next_offset = s->base_offset;
	int *fds[3] = { &c->out.ifd, &c->out.tfd, &c->out.fd };
	for (unsigned i = 0; i < 3; i++) {
		swap_path(path, sizeof(path), c->log, s->base_offset,
			  swap_ext[i], ".cleaned");
		int fd = sd_open(c->log->disk, path,
				 O_RDWR | O_CREAT | O_TRUNC, 0640);
		if (fd < 0)
			return fd;
		*fds[i] = fd;
	}
	return 0;
}

static int write_index_files(struct scleaner *c)
{
	struct outseg *o = &c->out;
	uint8_t e[12];
	const struct sdisk *d = c->log->disk;
	for (uint32_t i = 0; i < o->n; i++) {
		rb_put32(e, o->e[i].rel);
		rb_put32(e + 4, o->e[i].pos);
		if (sd_pwrite(d, o->ifd, e, 8, (uint64_t)i * 8) != 8)
			return -EIO;
	}
	for (uint32_t i = 0; i < o->tn; i++) {
		rb_put64(e, (uint64_t)o->t[i].ts);
		rb_put32(e + 8, o->t[i].rel);
		if (sd_pwrite(d, o->tfd, e, 12, (uint64_t)i * 12) != 12)
			return -EIO;
	}
	c->step_written += (uint64_t)o->n * 8 + (uint64_t)o->tn * 12;
	return 0;
}

/* The segment is rewritten: swap it in (the opening comment's steps). */
static int out_commit(struct scleaner *c, struct sseg *s)
{
	struct outseg *o = &c->out;
	struct slog *log = c->log;
	const struct sdisk *d = log->disk;
	char from[PATH_MAX], to[PATH_MAX];
	int rc = run_flush(c);
	if (rc < 0)
		return rc;
	/* the same batches as the segment, offset for offset */
	if (o->next_offset != s->next_offset || o->pos > s->size)
		return SL_ECORRUPT;
	if (!o->changed) {
		out_reset(c);
		out_unlink(c, s->base_offset);
		c->st.segments_unchanged++;
		return 0;
	}
	/* the final time entry covers the whole segment (index.c) */
	if (o->max_ts >= 0 && (!o->tn || o->max_ts > o->t[o->tn - 1].ts)) {
		if (o->tn == o->tcap &&
		    grow((void **)&o->t, &o->tcap, sizeof(*o->t)) < 0)
			return -ENOMEM;
		o->t[o->tn++] = (struct tidx_entry){
			o->max_ts, (uint32_t)(o->next_offset - s->base_offset) };
	}
	rc = out_flush(c);
	if (rc == 0)
		rc = write_index_files(c);
	if (rc == 0)
		rc = sd_fdatasync(d, o->fd);
	if (rc == 0)
		rc = sd_fdatasync(d, o->ifd);
	if (rc == 0)
		rc = sd_fdatasync(d, o->tfd);
	if (rc < 0)
		return rc;
	assert(o->flushed == o->pos); /* every byte is in the file */
	/* step 2: .cleaned -> .swap, the .log last (the commit point) */
	for (unsigned i = 0; i < 3; i++) {
		swap_path(from, sizeof(from), log, s->base_offset, swap_ext[i],
			  ".cleaned");
		swap_path(to, sizeof(to), log, s->base_offset, swap_ext[i],
			  ".swap");
		rc = sd_rename(d, from, to);
		if (rc < 0)
			return rc;
	}
	/* step 3, which recovery repeats after a crash */
	rc = swap_finish(log, s->base_offset);
	if (rc == 0)
		rc = sd_fsync_dir(d, log->dir);
	if (rc < 0) {
		/* committed but not finished: only a reopen recovers it */
		log->broken = true;
		slog_logf(log, 0, "compaction of segment %lld could not "
			  "finish its swap (%s): reopen the log",
			  (long long)s->base_offset, sl_strerror(rc));
		return rc;
	}
	/* the segment in memory follows: new file, new indexes */
	char path[PATH_MAX];
	seg_path(path, sizeof(path), log->dir, s->base_offset, ".log");
	int fd = sd_open(d, path, O_RDONLY, 0);
	if (fd < 0) {
		log->broken = true;
		return fd;
	}
	sd_close(d, s->read_fd);
	s->read_fd = fd;
	sindex_close_files(&s->ix); /* they name the old files */
	free(s->ix.e);
	free(s->ix.t);
	s->ix.e = o->e;
	s->ix.n = o->n;
	s->ix.cap = o->cap;
	s->ix.t = o->t;
	s->ix.tn = o->tn;
	s->ix.tcap = o->tcap;
	s->ix.loaded = true;
	o->e = NULL;
	o->t = NULL;
	s->size = o->pos;
	s->last_index_pos = s->ix.n ? s->ix.e[s->ix.n - 1].pos : 0;
	if (o->max_ts > s->max_timestamp)
		s->max_timestamp = o->max_ts;
	out_reset(c);
	c->st.segments_cleaned++;
	return 0;
}

/* ---- the pass ---- */

static void pass_reset(struct scleaner *c)
{
	if (c->log)
		c->log->clean.cleaner = NULL;
	out_reset(c);
	c->phase = PH_IDLE;
	c->log = NULL;
}

static void pass_abandon(struct scleaner *c)
{
	if (c->phase == PH_CLEAN && c->log)
		out_unlink(c, c->seg_base);
	c->st.passes_abandoned++;
	pass_reset(c);
}

void sclean_abandon(struct slog *log)
{
	struct scleaner *c = log->clean.cleaner;
	if (c && c->log == log)
		pass_abandon(c);
	log->clean.cleaner = NULL;
}

/* Index of the first segment not cleanable now (the active one at most). */
static unsigned first_uncleanable(struct slog *log,
				  const struct slog_clean_config *cfg,
				  int64_t now)
{
	unsigned i = 0;
	for (; i + 1 < log->nseg; i++) {
		int64_t ts = log->segs[i].max_timestamp;
		if (cfg->min_compaction_lag_ms > 0 && ts >= 0 &&
		    ts > now - cfg->min_compaction_lag_ms)
			break;
	}
	return i;
}

/* The max timestamp of segment i's first batch, or -1. */
static int64_t first_batch_ts(struct slog *log, unsigned i)
{
	uint8_t h[RB_HEADER_BYTES];
	struct sseg *s = &log->segs[i];
	if (s->size < RB_HEADER_BYTES ||
	    sd_pread(log->disk, s->read_fd, h, sizeof(h), 0) != sizeof(h))
		return -1;
	return (int64_t)rb_be64(h + RB_OFF_MAX_TIMESTAMP);
}

/* Is a pass due on log now?  Fills the range on yes. */
static bool pass_due(struct scleaner *c, struct slog *log,
		     const struct slog_clean_config *cfg, int64_t now)
{
	unsigned u = first_uncleanable(log, cfg, now);
	if (u == 0)
		return false;
	int64_t range_end = log->segs[u].base_offset;
	int64_t dirty_from = log->clean.offset;
	if (dirty_from < log->segs[0].base_offset)
		dirty_from = log->segs[0].base_offset;
	if (dirty_from > range_end)
		dirty_from = range_end;
	uint64_t clean = 0, dirty = 0;
	unsigned first_dirty = u;
	for (unsigned i = 0; i < u; i++) {
		if (log->segs[i].next_offset > dirty_from) {
			dirty += log->segs[i].size;
			if (first_dirty == u)
				first_dirty = i;
		} else {
			clean += log->segs[i].size;
		}
	}
	bool due = dirty > 0 &&
		   (double)dirty / (double)(clean + dirty) >
			   cfg->min_cleanable_dirty_ratio;
	if (!due && dirty > 0 && cfg->max_compaction_lag_ms < INT64_MAX) {
		int64_t ts = first_batch_ts(log, first_dirty);
		due = ts >= 0 && now - ts > cfg->max_compaction_lag_ms;
	}
	/* nothing dirty enough: remove tombstones whose horizon passed */
	if (!due && log->clean.horizon_min >= 0 &&
	    now >= log->clean.horizon_min)
		due = true;
	if (!due)
		return false;
	c->range_end = range_end;
	c->dirty_from = dirty_from;
	return true;
}

static void pass_begin(struct scleaner *c, struct slog *log,
		       const struct slog_clean_config *cfg, int64_t now)
{
	c->log = log;
	c->lcfg = *cfg;
	c->now_ms = now;
	c->truncations = log->clean.truncations;
	c->horizon_min = -1;
	c->map_end = c->range_end;
	kmap_clear(&c->map);
	for (uint32_t i = 0; i < PID_SLOTS; i++)
		c->pids[i].pid = -1;
	c->npids = 0;
	c->pids_full = false;
	c->phase = PH_MAP;
	log->clean.cleaner = c;
	bool any = next_segment(c, -1, c->range_end);
	assert(any); /* pass_due saw a cleanable segment */
	(void)any;
}

/* Move the cursor to the first segment after base below limit (by base
 * offset: retention may have removed some).  false: none. */
static bool next_segment(struct scleaner *c, int64_t after, int64_t limit)
{
	struct slog *log = c->log;
	for (unsigned i = 0; i + 1 < log->nseg; i++) {
		struct sseg *s = &log->segs[i];
		if (s->base_offset > after && s->base_offset < limit) {
			c->seg_base = s->base_offset;
			c->seg_size = s->size;
			c->in_pos = 0;
			c->expect = s->base_offset;
			return true;
		}
	}
	return false;
}

/* The segment the cursor is on, if it is still as it was. */
static struct sseg *cursor_segment(struct scleaner *c)
{
	unsigned i;
	struct sseg *s = seg_by_base(c->log, c->seg_base, &i);
	if (!s || i + 1 >= c->log->nseg)
		return NULL; /* gone, or the active one again */
	return s;
}

static int pass_finish(struct scleaner *c)
{
	struct slog *log = c->log;
	int64_t end = c->map_end;
	int rc = clean_offset_write(log, end);
	if (rc < 0)
		return rc;
	log->clean.offset = end;
	log->clean.horizon_min = c->horizon_min;
	c->st.passes++;
	pass_reset(c);
	return 0;
}

/* One step of the map phase: up to the budget.  A segment that retention
 * removed meanwhile is skipped: its records are gone, and so are the older
 * records of the same keys, which sit in earlier segments. */
static int map_step(struct scleaner *c, uint64_t budget)
{
	/* bounded: each round reads one batch or moves to the next
	 * segment; the budget stops it */
	while (c->step_read + c->step_written < budget) {
		struct sseg *s = cursor_segment(c);
		long len = 0;
		bool dirty = false;
		if (s) {
			dirty = s->next_offset > c->dirty_from;
			len = read_batch(c, s, !dirty);
			if (len < 0)
				return (int)len;
		}
		if (len == 0) {
			if (!next_segment(c, c->seg_base, c->range_end)) {
				c->phase = PH_CLEAN;
				break;
			}
			continue;
		}
		pid_see(c, c->in);
		if (dirty && map_batch(c, (size_t)len) == 0) {
			/* the map is full: clean with what it holds (any map
			 * of real records is a safe one), and map the rest
			 * next pass */
			if (c->map.n == 0)
				return SL_EFULL;
			c->map_end = c->expect;
			c->st.map_full++;
			c->phase = PH_CLEAN;
			break;
		}
		c->expect = rb_last_offset(c->in) + 1;
		c->in_pos += (uint64_t)len;
	}
	if (c->phase != PH_CLEAN)
		return 0;
	if (!next_segment(c, -1, c->map_end))
		return pass_finish(c);
	return out_begin(c, cursor_segment(c));
}

/* One step of the clean phase. */
static int clean_step(struct scleaner *c, uint64_t budget)
{
	int rc;
	/* bounded: each round reads one batch or finishes a segment */
	while (c->step_read + c->step_written < budget) {
		struct sseg *s = cursor_segment(c);
		if (!s && !seg_by_base(c->log, c->seg_base, NULL)) {
			/* retention removed it meanwhile: nothing to swap */
			out_unlink(c, c->seg_base);
			out_reset(c);
			if (!next_segment(c, c->seg_base, c->map_end))
				return pass_finish(c);
			rc = out_begin(c, cursor_segment(c));
			if (rc < 0)
				return rc;
			continue;
		}
		if (!s || s->size != c->seg_size)
			return -EAGAIN; /* active again, or cut: abandon */
		long len = read_batch(c, s, false);
		if (len < 0)
			return (int)len;
		if (len == 0) {
			rc = out_commit(c, s);
			if (rc < 0)
				return rc;
			if (!next_segment(c, c->seg_base, c->map_end))
				return pass_finish(c);
			rc = out_begin(c, cursor_segment(c));
			if (rc < 0)
				return rc;
			continue;
		}
		rc = clean_batch(c, s, (size_t)len);
		if (rc < 0)
			return rc;
		c->expect = rb_last_offset(c->in) + 1;
		c->in_pos += (uint64_t)len;
	}
	/* what this step wrote is synced now, so the sync at the swap
	 * waits for one step's bytes at most */
	if (c->phase == PH_CLEAN && c->out.fd >= 0 && c->out.changed) {
		rc = out_flush(c);
		if (rc == 0)
			rc = sd_fdatasync(c->log->disk, c->out.fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Top up the rate bound's tokens; returns the bytes allowed now. */
static uint64_t rate_allow(struct scleaner *c, uint64_t budget)
{
	if (!c->cfg.io_bytes_per_sec)
		return budget;
	uint64_t now = c->cfg.clock->mono_ns(c->cfg.clock->ctx);
	if (c->tokens_ns == 0)
		c->tokens_ns = now;
	uint64_t dt = now - c->tokens_ns;
	c->tokens_ns = now;
	double add = (double)dt * (double)c->cfg.io_bytes_per_sec / 1e9;
	double cap = (double)c->cfg.io_bytes_per_sec; /* one second's worth */
	double t = (double)c->tokens + add;
	c->tokens = (int64_t)(t > cap ? cap : t);
	if (c->tokens <= 0)
		return 0;
	return (uint64_t)c->tokens < budget ? (uint64_t)c->tokens : budget;
}

int slog_clean(struct scleaner *c, struct slog *log,
	       const struct slog_clean_config *cfg, uint64_t budget_bytes,
	       struct slog_clean_progress *prog)
{
	struct slog_clean_progress dummy;
	if (!prog)
		prog = &dummy;
	memset(prog, 0, sizeof(*prog));
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (log->cfg.batch_max_bytes > c->cfg.batch_max_bytes ||
	    cfg->min_cleanable_dirty_ratio < 0 ||
	    cfg->delete_retention_ms < 0 || cfg->min_compaction_lag_ms < 0)
		return SL_ECONFIG;
	if (c->phase != PH_IDLE && c->log != log)
		pass_abandon(c); /* one log at a time */
	if (c->phase != PH_IDLE && c->truncations != log->clean.truncations)
		pass_abandon(c);
	if (log->clean.offset < 0)
		log->clean.offset = clean_offset_read(log);
	uint64_t allow = rate_allow(c, budget_bytes ? budget_bytes : 1);
	if (allow == 0) {
		prog->throttled = true;
		c->st.throttled++;
		prog->in_pass = c->phase != PH_IDLE;
		return 0;
	}
	int64_t now = wall_ms(log);
	if (c->phase == PH_IDLE) {
		if (!pass_due(c, log, cfg, now))
			return 0;
		pass_begin(c, log, cfg, now);
		prog->pass_started = true;
	}
	c->step_read = c->step_written = 0;
	int rc = 0;
	if (c->phase == PH_MAP)
		rc = map_step(c, allow);
	if (rc == 0 && c->phase == PH_CLEAN)
		rc = clean_step(c, allow);
	prog->bytes_read = c->step_read;
	prog->bytes_written = c->step_written;
	c->st.bytes_read += c->step_read;
	c->st.bytes_written += c->step_written;
	if (c->cfg.io_bytes_per_sec)
		c->tokens -= (int64_t)(c->step_read + c->step_written);
	if (rc < 0) {
		if (rc != -EAGAIN)
			slog_logf(log, 0, "compaction pass abandoned: %s",
				  sl_strerror(rc));
		if (c->phase != PH_IDLE)
			pass_abandon(c);
		return rc == -EAGAIN ? 1 : rc;
	}
	prog->in_pass = c->phase != PH_IDLE;
	prog->pass_done = !prog->in_pass;
	return 1;
}
