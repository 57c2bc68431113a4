/*
 * The partition log: appends, reads, durability, rolls, truncation and
 * retention over the segments of one directory.
 *
 * Write path.  slog_append() validates the batch, stamps it and copies it
 * into the log's write buffer, which is a ring indexed by file position
 * (buf.mem[pos % size]) and mapped twice so every batch is contiguous.
 * slog_submit(), run by the writer's duty cycle, turns the buffer into
 * sequential O_DIRECT writes:
 *   - whole 4 KiB blocks as soon as write_chunk_bytes of them are pending,
 *     several writes in flight, never overlapping;
 *   - when a sync is due (every append, or group commit by bytes / age,
 *     or asked for), everything up to the end, the last partial block
 *     padded with zeros.  That block is written again, with more data,
 *     by the next write: only that block, from memory, never read back.
 *     A write covering it is never in flight twice;
 *   - once every write up to the sync target completed, one fdatasync;
 *     when it completes the durable offset advances to the target and
 *     durable_cb runs.  Appends made meanwhile wait for the next sync.
 * Memory is bounded: an append that would overwrite buffer bytes not yet
 * written (or the tail cache that readers are promised) gets SL_EFULL.
 *
 * The buffer comes from the writer's pool (pool.c) and is held only while
 * the log has something on its way to the disk: the first append after
 * an idle spell takes one (opening the active segment for writing and
 * reading its partial last block back into the buffer), and once every
 * append is durable and nothing is in flight the writer may take it back
 * (closing the write descriptor and the index descriptors).  An idle log
 * holds one descriptor per segment (for reads) and a few hundred bytes;
 * docs/storage.md has the figures.  An empty pool is SL_EFULL too.
 *
 * Failure.  A failed write or fdatasync (ENOSPC, EIO) stops new
 * submissions; when the in-flight I/O has drained, everything after the
 * durable offset is cut from the file and the indexes, durable_cb reports
 * the error, and appends resume at the durable offset.  A roll syncs the
 * active segment first, so the durable offset is always in the active
 * segment.
 *
 * Read path.  Offsets map to segments by binary search, to positions by
 * the sparse index plus a short forward scan of batch headers; bytes
 * recent enough to still be in the write buffer are returned from memory
 * (the tail cache), older ones as (descriptor, position, length).
 */
#include <dirent.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/record_batch.h"
#include "storage/log_pvt.h"

void slog_config_defaults(struct slog_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->segment_bytes = 1ull << 30;
	cfg->segment_ms = 7ll * 24 * 3600 * 1000;
	cfg->index_interval_bytes = 4096;
	cfg->retention_ms = 7ll * 24 * 3600 * 1000;
	cfg->retention_bytes = -1;
	cfg->batch_max_bytes = 1048588;
	cfg->buffer_bytes = 8u << 20;
	cfg->durability = SLOG_SYNC_EVERY_APPEND;
	cfg->group_commit_bytes = 1u << 20;
	cfg->group_commit_us = 2000;
	cfg->write_chunk_bytes = 256u << 10;
	cfg->prepare = SLOG_PREPARE_RECYCLE;
	cfg->leader_epoch = 0;
}

void slog_logf(const struct slog *log, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%s-%d: ", log->topic,
			 log->cfg.partition);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log->cfg.log_fn) {
		log->cfg.log_fn(log->cfg.log_ctx, level, line);
		return;
	}
	static const char *const names[] = { "error", "warning", "info" };
	fprintf(stderr, "sluice storage %s: %s\n",
		names[level < 0 ? 0 : level > 2 ? 2 : level], line);
}

static int64_t wall_ms(const struct slog *log)
{
	return log->clock->wall_ms(log->clock->ctx);
}

static uint64_t mono_ns(const struct slog *log)
{
	return log->clock->mono_ns(log->clock->ctx);
}

static struct sseg *active(struct slog *log)
{
	return &log->segs[log->nseg - 1];
}

static unsigned ops_inflight(const struct slog *log)
{
	return log->op_tail - log->op_head;
}

bool slog_idle(const struct slog *log)
{
	return ops_inflight(log) == 0 && !log->sync_inflight;
}

bool slog_can_release(const struct slog *log)
{
	return log->pbi >= 0 && slog_idle(log) && !log->in_cb &&
	       !log->failed && !log->broken && !log->closing &&
	       !log->sync_wanted && !log->sync_target_set &&
	       !log->flush_wanted && !log->partial_inflight &&
	       !log->durable_advanced && !log->written_advanced &&
	       log->wq_head == log->wq_tail &&
	       log->submit_pos == log->end_pos &&
	       log->written_pos == log->end_pos &&
	       log->durable_pos == log->end_pos &&
	       log->durable_offset == log->end_offset;
}

static int check_config(const struct slog_config *c)
{
	if (!c->topic || !c->topic[0] || strlen(c->topic) > 200 ||
	    strchr(c->topic, '/') || !strcmp(c->topic, ".") ||
	    !strcmp(c->topic, ".."))
		return SL_ECONFIG;
	if (c->partition < 0 || c->segment_bytes < SL_BLOCK ||
	    c->segment_bytes > SLOG_SEGMENT_BYTES_MAX ||
	    c->index_interval_bytes == 0 || c->segment_ms <= 0 ||
	    c->batch_max_bytes < RB_HEADER_BYTES ||
	    c->batch_max_bytes > (64u << 20))
		return SL_ECONFIG;
	if (c->buffer_bytes % SL_BLOCK ||
	    (uint64_t)c->buffer_bytes <
		    2ull * c->batch_max_bytes + 4ull * SL_BLOCK)
		return SL_ECONFIG;
	if (c->write_chunk_bytes < SL_BLOCK || c->write_chunk_bytes % SL_BLOCK ||
	    c->write_chunk_bytes > c->buffer_bytes / 2)
		return SL_ECONFIG;
	if (c->durability != SLOG_SYNC_EVERY_APPEND &&
	    c->durability != SLOG_SYNC_GROUP)
		return SL_ECONFIG;
	if (c->prepare != SLOG_PREPARE_APPEND &&
	    c->prepare != SLOG_PREPARE_FALLOCATE &&
	    c->prepare != SLOG_PREPARE_RECYCLE)
		return SL_ECONFIG;
	return 0;
}

/* ---- indexes ---- */

int slog_index_batch(struct slog *log, struct sseg *s, uint64_t pos,
		     const uint8_t *batch)
{
	int64_t base = (int64_t)rb_be64(batch + RB_OFF_BASE_OFFSET);
	int64_t max_ts = (int64_t)rb_be64(batch + RB_OFF_MAX_TIMESTAMP);
	uint32_t rel = (uint32_t)(base - s->base_offset);
	int rc;
	if (pos > 0 && pos - s->last_index_pos >= log->cfg.index_interval_bytes) {
		rc = sindex_add(&s->ix, rel, (uint32_t)pos);
		if (rc < 0)
			return rc;
		if (s->max_timestamp >= 0) {
			rc = sindex_add_time(&s->ix, s->max_timestamp, rel);
			if (rc < 0)
				return rc;
		}
		s->last_index_pos = pos;
	}
	if (max_ts > s->max_timestamp)
		s->max_timestamp = max_ts;
	s->next_offset = rb_last_offset(batch) + 1;
	if (s->first_append_ms < 0)
		s->first_append_ms = wall_ms(log);
	return 0;
}

/* Entries covering the whole segment: see index.c. */
static int seal_time_index(struct sseg *s)
{
	if (s->max_timestamp < 0 || s->next_offset == s->base_offset)
		return 0;
	return sindex_add_time(&s->ix, s->max_timestamp,
			       (uint32_t)(s->next_offset - s->base_offset));
}

static int ensure_index(struct slog *log, struct sseg *s)
{
	if (s->ix.loaded)
		return 0;
	int rc = sindex_load(&s->ix, s->size);
	if (log->pbi < 0 && log->wfd < 0)
		sindex_close_files(&s->ix); /* an idle log: entries only */
	if (rc <= 0)
		return rc;
	/* torn: rebuild from the segment itself */
	uint64_t dropped, fsize;
	slog_logf(log, 1, "index of segment %lld is torn; rebuilding",
		  (long long)s->base_offset);
	int64_t next = s->next_offset;
	rc = srecover_segment(log, s, &dropped, &fsize);
	if (rc == 0 && s->next_offset != next)
		rc = SL_ECORRUPT;
	return rc;
}

/* ---- the active segment ---- */

static int open_write_fd(struct slog *log, struct sseg *s)
{
	char path[PATH_MAX];
	seg_path(path, sizeof(path), log->dir, s->base_offset, ".log");
	const struct sdisk *d = log->disk;
	int fd = sd_open(d, path, O_WRONLY | O_DIRECT, 0);
	if (fd == -EINVAL) {
		fd = sd_open(d, path, O_WRONLY, 0);
		if (fd >= 0 && log->direct)
			slog_logf(log, 1, "O_DIRECT not supported here; "
				  "writing through the page cache");
		log->direct = false;
	}
	if (fd < 0)
		return fd;
	if (log->cfg.prepare == SLOG_PREPARE_FALLOCATE && s->size == 0)
		(void)sd_fallocate(d, fd, log->cfg.segment_bytes);
	uint64_t fsize;
	/* past the padded last block: a recycled or preallocated file */
	log->overwrite = log->cfg.prepare == SLOG_PREPARE_FALLOCATE ||
			 (sd_fsize(d, fd, &fsize) == 0 &&
			  fsize > blk_ceil(s->size));
	log->wfd = fd;
	swriter_set_file(log->w, log);
	return 0;
}

static int ensure_wfd(struct slog *log)
{
	return log->wfd >= 0 ? 0 : open_write_fd(log, active(log));
}

/* Close what only writes need: the write descriptor (and its registered
 * file slot) and the index descriptors (reopened when needed). */
static void close_write_fds(struct slog *log)
{
	if (log->wfd >= 0) {
		int fd = log->wfd;
		log->wfd = -1;
		swriter_set_file(log->w, log); /* the slot forgets fd */
		sd_close(log->disk, fd);
	}
	for (unsigned i = 0; i < log->nseg; i++)
		sindex_close_files(&log->segs[i].ix);
}

/* Without a buffer the log keeps no write or index descriptor open. */
static void idle_fds(struct slog *log)
{
	if (log->pbi < 0)
		close_write_fds(log);
}

void slog_release_buffer(struct slog *log)
{
	assert(slog_can_release(log));
	close_write_fds(log);
	spool_give(log->w, log);
}

/* Make buf hold [floor(pos), pos) again, from the file (nothing to hold
 * without a buffer: take_buffer reloads it). */
static int reload_tail_block(struct slog *log, struct sseg *s, uint64_t pos)
{
	uint64_t from = blk_floor(pos);
	size_t n = (size_t)(pos - from);
	assert(pos <= s->size); /* buffer positions in bounds */
	if (n && log->buf) {
		uint8_t *dst = log->buf->mem + (from % log->buf->size);
		ssize_t got = sd_pread(log->disk, s->read_fd, dst, n, from);
		if (got != (ssize_t)n)
			return got < 0 ? (int)got : -EIO;
	}
	log->end_pos = log->submit_pos = log->written_pos = pos;
	log->durable_pos = pos;
	log->cache_lo = from;
	log->partial_inflight = false;
	log->sync_wanted = log->sync_target_set = false;
	log->pending_bytes = 0;
	return 0;
}

/* Take a write buffer from the pool and make it hold the tail again. */
static int take_buffer(struct slog *log)
{
	int rc = spool_take(log->w, log);
	if (rc < 0) {
		if (rc == SL_EFULL)
			log->st.pool_empty++;
		return rc;
	}
	log->st.buffer_takes++;
	log->wq_head = log->wq_tail = 0;
	struct sseg *a = active(log);
	assert(log->end_pos == a->size && slog_idle(log));
	rc = ensure_wfd(log);
	if (rc == 0) {
		swriter_set_file(log->w, log);
		rc = reload_tail_block(log, a, log->end_pos);
	}
	if (rc < 0) {
		close_write_fds(log);
		spool_give(log->w, log);
	}
	return rc;
}

/* ---- open ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

struct seg_list {
	struct slog *log;
	int64_t *bases;
	unsigned n, cap;
};

static int see_segment(void *arg, const char *name)
{
	struct seg_list *l = arg;
	size_t len = strlen(name);
	if (len < 4 || strcmp(name + len - 4, ".log"))
		return 0;
	int64_t base = seg_parse_name(name);
	if (base < 0) {
		/* refuse rather than guess what the file holds */
		slog_logf(l->log, 0, "%s/%s is not a segment name (20 "
			  "digits below 2^62 + .log); move it out of the "
			  "partition directory and open again", l->log->dir,
			  name);
		return SL_ELAYOUT;
	}
	if (l->n == l->cap) {
		unsigned ncap = l->cap ? 2 * l->cap : 16;
		int64_t *p = realloc(l->bases, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->bases = p;
		l->cap = ncap;
	}
	l->bases[l->n++] = base;
	return 0;
}

static int list_segments(struct slog *log, int64_t **bases, unsigned *n)
{
	struct seg_list l = { .log = log };
	int rc = sd_list(log->disk, log->dir, see_segment, &l);
	*bases = l.bases;
	*n = l.n;
	if (rc < 0)
		return rc;
	if (l.n)
		qsort(l.bases, l.n, sizeof(*l.bases), cmp_i64);
	return 0;
}

static int push_segment(struct slog *log, struct sseg *s)
{
	if (log->nseg == log->segcap) {
		unsigned ncap = log->segcap ? log->segcap * 2 : 4;
		struct sseg *p = realloc(log->segs, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		log->segs = p;
		log->segcap = ncap;
	}
	log->segs[log->nseg++] = *s;
	return 0;
}

static void drop_segments_from(struct slog *log, unsigned i)
{
	while (log->nseg > i) {
		struct sseg *s = &log->segs[--log->nseg];
		seg_delete(s, log->dir);
	}
}

/*
 * A segment the recovery point vouches for still ends where its index says:
 * the batches from the last indexed one chain offset to offset up to
 * next_offset and end exactly at the file's end.  Reads the headers of at
 * most index_interval_bytes plus one batch.  A file cut or grown after a
 * clean stop (damage outside sluice) fails it and is scanned instead, so
 * reads and appends never meet a partial batch.
 */
static bool trusted_tail_ok(const struct slog *log, const struct sseg *s)
{
	uint8_t h[RB_HEADER_BYTES];
	uint64_t pos = s->last_index_pos;
	int64_t next = s->base_offset +
		       (s->ix.n ? (int64_t)s->ix.e[s->ix.n - 1].rel : 0);
	while (pos < s->size) {
		ssize_t n = sd_pread(log->disk, s->read_fd, h, sizeof(h), pos);
		if (n != (ssize_t)sizeof(h) || h[RB_OFF_MAGIC] != RB_MAGIC)
			return false;
		long size = rb_frame_size(h, s->size - pos,
					  log->cfg.batch_max_bytes);
		int32_t delta = (int32_t)rb_be32(h + RB_OFF_LAST_OFFSET_DELTA);
		if (size < RB_HEADER_BYTES || (uint64_t)size > s->size - pos ||
		    (int64_t)rb_be64(h + RB_OFF_BASE_OFFSET) != next ||
		    delta < 0)
			return false;
		next += (int64_t)delta + 1;
		pos += (uint64_t)size;
	}
	return pos == s->size && next == s->next_offset;
}

/* Load segments; scan those the recovery point does not vouch for. */
static int recover(struct slog *log)
{
	struct srecovery_point rp;
	int64_t *bases = NULL;
	unsigned n = 0, scanned = 0;
	uint64_t dropped_total = 0;
	int64_t dropped_at = -1;
	int rc = srp_read(log->disk, log->dir, &rp);
	if (rc < 0)
		return rc;
	log->reserved_offset = rp.reserved;
	/* a compaction swap cut short: finished or undone before the
	 * segments are listed (cleaner.c) */
	rc = sclean_recover(log);
	if (rc < 0)
		return rc;
	/* written (perhaps acknowledged) offsets can be missing only when
	 * the page cache went away: another boot (recovery.c) */
	static const uint8_t unknown[16];
	bool same_boot = !memcmp(rp.boot_id, log->boot_id, sizeof(rp.boot_id)) &&
			 memcmp(log->boot_id, unknown, sizeof(unknown));
	log->skip_to = rp.clean || same_boot || log->cfg.keep_offsets ?
			       0 : rp.reserved;
	rc = list_segments(log, &bases, &n);
	if (rc < 0)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		struct sseg s;
		rc = seg_open(&s, log->disk, log->dir, bases[i]);
		if (rc < 0)
			goto out;
		rc = push_segment(log, &s);
		if (rc < 0) {
			seg_close(&s);
			goto out;
		}
	}
	for (unsigned i = 0; i < log->nseg; i++) {
		struct sseg *s = &log->segs[i];
		bool last = i + 1 == log->nseg;
		int64_t next_base = last ? -1 : log->segs[i + 1].base_offset;
		bool trusted = rp.clean ? true :
			       (!last && next_base <= rp.offset);
		if (trusted) {
			rc = sindex_load(&s->ix, s->size);
			if (rc < 0)
				goto out;
			if (rc == 0) {
				s->next_offset = last ? rp.offset : next_base;
				if (s->ix.tn)
					s->max_timestamp =
						s->ix.t[s->ix.tn - 1].ts;
				s->last_index_pos =
					s->ix.n ? s->ix.e[s->ix.n - 1].pos : 0;
				if (s->next_offset >= s->base_offset &&
				    (s->size > 0) == (s->next_offset > s->base_offset) &&
				    trusted_tail_ok(log, s))
					continue;
			}
			/* the index or the recovery point disagrees: scan */
		}
		uint64_t dropped, fsize;
		rc = srecover_segment(log, s, &dropped, &fsize);
		if (rc < 0)
			goto out;
		scanned++;
		rc = sd_fsync(log->disk, s->read_fd);
		if (rc < 0)
			goto out;
		if (dropped) {
			dropped_total += dropped;
			if (dropped_at < 0)
				dropped_at = s->next_offset;
			log->st.recovered_truncated_bytes += dropped;
		}
		if (!last && (s->next_offset != next_base || s->size < fsize)) {
			/* a hole or a cut inside the log: nothing after it
			 * can be trusted to follow it */
			unsigned later = log->nseg - i - 1;
			uint64_t later_bytes = 0;
			for (unsigned j = i + 1; j < log->nseg; j++)
				later_bytes += log->segs[j].size;
			dropped_total += later_bytes;
			log->st.recovered_truncated_bytes += later_bytes;
			if (dropped_at < 0)
				dropped_at = s->next_offset;
			slog_logf(log, 1, "segment %lld ends at offset %lld but "
				  "the next starts at %lld: deleting %u later "
				  "segment(s)", (long long)s->base_offset,
				  (long long)s->next_offset,
				  (long long)next_base, later);
			drop_segments_from(log, i + 1);
		}
		if (!last || i + 1 < log->nseg)
			rc = seal_time_index(s);
		if (rc < 0)
			goto out;
	}
	/* trusted as it is on disk: nothing scanned after a clean close, or
	 * an empty log (fresh, or after an unclean stop with nothing in it) */
	log->rp_clean = dropped_total == 0 &&
			((rp.clean && scanned == 0) ||
			 (log->nseg <= 1 &&
			  (log->nseg == 0 || (log->segs[0].size == 0 &&
					      log->segs[0].base_offset == 0))));
	if (dropped_total)
		slog_logf(log, 1, "recovered after a crash: dropped %llu bytes "
			  "of torn or corrupt data after offset %lld; the log "
			  "now ends at offset %lld (%u segment(s) scanned)",
			  (unsigned long long)dropped_total,
			  (long long)dropped_at,
			  (long long)log->segs[log->nseg - 1].next_offset,
			  scanned);
	else if (!rp.clean && log->nseg)
		slog_logf(log, 2, "recovered: %u segment(s) scanned, nothing "
			  "dropped, log ends at offset %lld", scanned,
			  (long long)log->segs[log->nseg - 1].next_offset);
	rc = 0;
out:
	free(bases);
	return rc;
}

/* Write the recovery point, with the current offset reservation. */
static int write_rp(struct slog *log, int64_t offset, bool clean)
{
	struct srecovery_point rp = { .offset = offset, .clean = clean,
				      .reserved = log->reserved_offset };
	if (!log->rp_force_skip || clean)
		memcpy(rp.boot_id, log->boot_id, sizeof(rp.boot_id));
	int rc = srp_write(log->disk, log->dir, &rp);
	if (rc == 0) {
		log->rp_offset = offset;
		log->rp_clean = clean;
	} else {
		log->rp_clean = false; /* what the file holds is unknown */
	}
	return rc;
}

static int place(struct slog *log, uint8_t *batch, size_t len,
		 struct slog_append_result *res, bool keep);
static int drain(struct slog *log);
static int64_t offset_for_time(struct slog *log, int64_t ts, int64_t start,
			       int64_t *got);
static int retain(struct slog *log, bool start_only);

/* Cover [end_offset, skip_to) with empty batches (recovery.c says why),
 * of leader epoch epoch. */
static int skip_gap(struct slog *log, int32_t epoch)
{
	uint8_t b[RB_HEADER_BYTES];
	while (log->skip_to > log->end_offset) {
		int64_t gap = log->skip_to - log->end_offset;
		if (gap > INT32_MAX)
			gap = INT32_MAX;
		int64_t now = wall_ms(log);
		memset(b, 0, sizeof(b));
		rb_put32(b + RB_OFF_LENGTH, RB_HEADER_BYTES - RB_LOG_OVERHEAD);
		b[RB_OFF_MAGIC] = RB_MAGIC;
		rb_put32(b + RB_OFF_LAST_OFFSET_DELTA, (uint32_t)(gap - 1));
		rb_put64(b + RB_OFF_BASE_TIMESTAMP, (uint64_t)now);
		rb_put64(b + RB_OFF_MAX_TIMESTAMP, (uint64_t)now);
		rb_put64(b + RB_OFF_PRODUCER_ID, (uint64_t)-1);
		rb_put16(b + RB_OFF_PRODUCER_EPOCH, (uint16_t)-1);
		rb_put32(b + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
		rb_put32(b + RB_OFF_RECORD_COUNT, 0);
		rb_put32(b + RB_OFF_CRC, rb_crc32c(b + RB_CRC_START,
						   sizeof(b) - RB_CRC_START));
		rb_stamp(b, log->end_offset, epoch);
		int rc = place(log, b, sizeof(b), NULL, true);
		if (rc < 0)
			return rc;
		log->st.skipped_offsets += (uint64_t)gap;
	}
	log->skip_durable_at = log->end_offset;
	return 0;
}

int slog_open(struct swriter *w, const char *base_dir,
	      const struct slog_config *cfg, struct slog **out)
{
	int rc = check_config(cfg);
	if (rc < 0)
		return rc;
	struct slog *log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->w = w;
	log->disk = w->disk;
	log->pbi = -1;
	/* unknown: every unclean stop is taken as a power cut (all zeros
	 * never matches a stored id, which is never all zeros) */
	if (sd_boot_id(log->disk, log->boot_id) < 0)
		memset(log->boot_id, 0, sizeof(log->boot_id));
	log->wfd = -1;
	log->direct = true;
	log->clean.offset = -1;
	log->clean.horizon_min = -1;
	log->cfg = *cfg;
	log->clock = cfg->clock ? cfg->clock : &sl_clock_system;
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s-%d", base_dir,
			     cfg->topic, cfg->partition) >= sizeof(dir)) {
		rc = -ENAMETOOLONG;
		goto fail_log;
	}
	log->topic = strdup(cfg->topic);
	log->dir = strdup(dir);
	if (!log->topic || !log->dir) {
		rc = -ENOMEM;
		goto fail_log;
	}
	log->cfg.topic = log->topic;
	rc = sd_mkdir_p(log->disk, log->dir);
	if (rc < 0)
		goto fail_log;
	rc = swriter_attach(w, log);
	if (rc < 0)
		goto fail_log;
	rc = recover(log);
	if (rc < 0)
		goto fail_segs;
	if (log->nseg == 0) {
		struct sseg s;
		bool recycled;
		rc = seg_create(&s, log->disk, log->dir, 0, false, &recycled);
		if (rc < 0)
			goto fail_segs;
		rc = push_segment(log, &s);
		if (rc < 0) {
			seg_close(&s);
			goto fail_segs;
		}
	}
	struct sseg *a = active(log);
	rc = reload_tail_block(log, a, a->size); /* positions only */
	if (rc < 0)
		goto fail_segs;
	log->end_offset = log->durable_offset = a->next_offset;
	log->written_offset = log->end_offset;
	rc = srls_read(log, &log->log_start);
	if (rc < 0)
		goto fail_segs;
	if (log->reserved_offset < log->end_offset)
		log->reserved_offset = log->end_offset;
	if (log->reserved_offset - log->end_offset > SLOG_SKIP_MAX) {
		slog_logf(log, 0, "the recovery point reserves offsets up to "
			  "%lld, more than any crash can lose above the "
			  "recovered end %lld: taken as damaged and ignored; "
			  "continuing at %lld",
			  (long long)log->reserved_offset,
			  (long long)log->end_offset,
			  (long long)log->end_offset);
		log->reserved_offset = log->end_offset;
		log->skip_to = 0;
	}
	if (log->log_start > log->end_offset) {
		/* records up to the start were deleted, and readers were told
		 * so; what recovery lost below it is not served again, and
		 * its offsets are not reused */
		slog_logf(log, 1, "the log start offset %lld is above the "
			  "recovered end %lld: continuing at %lld",
			  (long long)log->log_start,
			  (long long)log->end_offset,
			  (long long)log->log_start);
		if (log->skip_to < log->log_start)
			log->skip_to = log->log_start;
		if (log->reserved_offset < log->log_start)
			log->reserved_offset = log->log_start;
	}
	log->rp_force_skip = log->skip_to > log->end_offset;
	/* From the first change on a crash must be detected: not clean, and
	 * only the segments before the active one are vouched for.  Until
	 * then what is on disk is true as it is (rp_clean). */
	if (log->rp_clean && log->skip_to <= log->end_offset)
		log->rp_offset = a->base_offset;
	else
		rc = write_rp(log, a->base_offset, false);
	if (rc < 0)
		goto fail_wfd;
	if (log->skip_to > log->end_offset) {
		/* offsets handed out before an unclean stop and lost with
		 * unsynced data: never give them to other batches */
		slog_logf(log, 1, "offsets %lld to %lld were handed out before "
			  "the last unclean stop and are not in the log; "
			  "continuing at %lld", (long long)log->end_offset,
			  (long long)log->skip_to - 1, (long long)log->skip_to);
		rc = skip_gap(log, log->cfg.leader_epoch);
		/* the pool is spent by logs whose data is not durable yet:
		 * let the writer make some (bounded) */
		for (unsigned i = 0; rc == SL_EFULL && i < 10000; i++) {
			int wr = swriter_wait(w, 1000);
			if (wr < 0) {
				rc = wr;
				break;
			}
			rc = skip_gap(log, log->cfg.leader_epoch);
		}
		if (rc < 0)
			goto fail_wfd;
	}
	idle_fds(log);
	*out = log;
	return 0;
fail_wfd:
	drain(log);
	close_write_fds(log);
	if (log->pbi >= 0)
		spool_give(w, log);
fail_segs:
	for (unsigned i = 0; i < log->nseg; i++)
		seg_close(&log->segs[i]);
	free(log->segs);
	swriter_detach(w, log);
fail_log:
	free(log->topic);
	free(log->dir);
	free(log);
	return rc;
}

/* ---- append ---- */

static int roll(struct slog *log);

static int append(struct slog *log, uint8_t *batch, size_t len,
		  struct slog_append_result *res, bool check_crc);

int slog_append(struct slog *log, uint8_t *batch, size_t len,
		struct slog_append_result *res)
{
	return append(log, batch, len, res, true);
}

int slog_append_validated(struct slog *log, uint8_t *batch, size_t len,
			  struct slog_append_result *res)
{
	return append(log, batch, len, res, false);
}


static int append(struct slog *log, uint8_t *batch, size_t len,
		  struct slog_append_result *res, bool check_crc)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (len > log->cfg.batch_max_bytes) {
		log->st.rejected_batches++;
		return SL_ETOOBIG;
	}
	int rc = check_crc ? rb_validate(batch, len) : rb_check_shape(batch, len);
	if (rc < 0) {
		log->st.rejected_batches++;
		return rc;
	}
	if (log->failed) {
		log->st.full_errors++;
		return SL_EFULL; /* rollback pending: retry after it */
	}
	if (log->skip_to > log->end_offset) {
		rc = skip_gap(log, log->cfg.leader_epoch);
		if (rc < 0)
			return rc;
	}
	return place(log, batch, len, res, false);
}

int slog_append_replica(struct slog *log, uint8_t *batch, size_t len,
			struct slog_append_result *res)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (len > log->cfg.batch_max_bytes) {
		log->st.rejected_batches++;
		return SL_ETOOBIG;
	}
	int rc = rb_check_shape(batch, len);
	if (rc < 0) {
		log->st.rejected_batches++;
		return rc;
	}
	int64_t base = (int64_t)rb_be64(batch + RB_OFF_BASE_OFFSET);
	int32_t epoch = (int32_t)rb_be32(batch + RB_OFF_LEADER_EPOCH);
	if (base < log->end_offset || base >= SLOG_OFFSET_MAX ||
	    base - log->end_offset > SLOG_SKIP_MAX)
		return SL_EOFFSET;
	if (log->failed) {
		log->st.full_errors++;
		return SL_EFULL; /* rollback pending: retry after it */
	}
	/* the leader's offsets: nothing of ours is skipped (keep_offsets),
	 * and a gap before its batch is covered like a skip */
	if (base > log->end_offset) {
		log->skip_to = base;
		rc = skip_gap(log, epoch);
		if (rc < 0)
			return rc;
	}
	assert(log->end_offset == base);
	return place(log, batch, len, res, true);
}

void slog_set_leader_epoch(struct slog *log, int32_t epoch)
{
	log->cfg.leader_epoch = epoch;
}

/* Newest append not yet written: (end position, end offset). */
static void wq_push(struct slog *log, uint64_t pos, int64_t off)
{
	if (log->wq_tail - log->wq_head == SLOG_WQ) {
		/* full: move the newest entry forward (written_cb later) */
		log->wq[(log->wq_tail - 1) % SLOG_WQ].pos = pos;
		log->wq[(log->wq_tail - 1) % SLOG_WQ].off = off;
		return;
	}
	log->wq[log->wq_tail % SLOG_WQ].pos = pos;
	log->wq[log->wq_tail % SLOG_WQ].off = off;
	log->wq_tail++;
}

/* Append a batch that passed its checks: roll if due, reserve offsets,
 * stamp (unless keep: its base offset is the end offset already and its
 * epoch is kept), copy into the write buffer, index. */
static int place(struct slog *log, uint8_t *batch, size_t len,
		 struct slog_append_result *res, bool keep)
{
	int rc;
	struct sseg *s = active(log);
	int64_t now = wall_ms(log);
	int64_t next = log->end_offset + 1 +
		       (int32_t)rb_be32(batch + RB_OFF_LAST_OFFSET_DELTA);
	if (log->end_pos > 0 &&
	    (log->end_pos + len > log->cfg.segment_bytes ||
	     /* relative offsets in the index are 32 bits */
	     next - s->base_offset > INT32_MAX ||
	     (s->first_append_ms >= 0 &&
	      now - s->first_append_ms >= log->cfg.segment_ms))) {
		if (log->in_cb) {
			/* a roll waits for I/O: not from inside durable_cb */
			log->st.full_errors++;
			return SL_EFULL;
		}
		rc = roll(log);
		if (rc < 0)
			return rc;
		s = active(log);
	}
	if (log->pbi < 0) {
		rc = take_buffer(log);
		if (rc < 0) {
			if (rc == SL_EFULL)
				log->st.full_errors++;
			return rc;
		}
	}
	uint64_t room = blk_floor(log->written_pos) + log->buf->size - SL_BLOCK -
			log->cfg.batch_max_bytes;
	if (log->end_pos + len > room) {
		log->st.full_errors++;
		return SL_EFULL;
	}
	if (next > log->reserved_offset || log->rp_clean) {
		/* once per SLOG_RESERVE_OFFSETS offsets: a recovery point
		 * write (recovery.c) before any of them is handed out */
		int64_t old = log->reserved_offset;
		log->reserved_offset = next + SLOG_RESERVE_OFFSETS;
		rc = write_rp(log, log->rp_offset, false);
		if (rc < 0) {
			log->reserved_offset = old;
			return rc;
		}
	}
	int64_t base = log->end_offset;
	/* the copy stays inside the buffer's room, and the ring never
	 * overwrites bytes not yet written */
	assert(log->end_pos + len <= room && log->end_pos >= log->written_pos);
	if (keep)
		assert((int64_t)rb_be64(batch + RB_OFF_BASE_OFFSET) == base);
	else
		rb_stamp(batch, base, log->cfg.leader_epoch);
	memcpy(log->buf->mem + (log->end_pos % log->buf->size), batch, len);
	rc = slog_index_batch(log, s, log->end_pos, batch);
	if (rc < 0)
		return rc; /* index file write failed; batch not appended */
	log->end_pos += len;
	s->size = log->end_pos;
	log->end_offset = s->next_offset;
	assert(log->end_offset == next); /* offsets strictly increasing */
	wq_push(log, log->end_pos, log->end_offset);
	if (log->end_pos > log->buf->size - SL_BLOCK &&
	    log->cache_lo < log->end_pos - (log->buf->size - SL_BLOCK))
		log->cache_lo = log->end_pos - (log->buf->size - SL_BLOCK);
	/* for the pool's idle release and its choice of a log to take a
	 * buffer back from */
	uint64_t now_ns = mono_ns(log);
	log->w->pool[log->pbi].used_ns = now_ns;
	if (log->pending_bytes == 0)
		log->pending_since_ns = now_ns;
	log->pending_bytes += len;
	if (log->cfg.durability == SLOG_SYNC_EVERY_APPEND)
		log->sync_wanted = true;
	log->st.appends++;
	log->st.append_bytes += len;
	if (res) {
		res->base_offset = base;
		res->last_offset = log->end_offset - 1;
		res->log_append_ms = now;
	}
	return 0;
}

int slog_request_sync(struct slog *log)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (log->pbi >= 0) /* else everything is durable already */
		log->sync_wanted = true;
	return 0;
}

int slog_request_flush(struct slog *log)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (log->written_offset < log->end_offset)
		log->flush_wanted = true;
	return 0;
}

/* ---- submission and completion (called by the writer) ---- */

uint64_t slog_deadline_ns(const struct slog *log, uint64_t now_ns)
{
	if (log->cfg.durability != SLOG_SYNC_GROUP || !log->pending_bytes)
		return UINT64_MAX;
	uint64_t due = log->pending_since_ns + log->cfg.group_commit_us * 1000;
	return due > now_ns ? due - now_ns : 0;
}

static struct sop *op_push(struct slog *log)
{
	if (ops_inflight(log) == SLOG_MAX_OPS)
		return NULL;
	struct sop *op = &log->ops[log->op_tail % SLOG_MAX_OPS];
	memset(op, 0, sizeof(*op));
	op->log = log;
	op->kind = SOP_WRITE;
	return op;
}

static int submit_write(struct slog *log, uint64_t pos, uint32_t len,
			uint64_t logical_end, uint64_t now)
{
	struct sop *op = op_push(log);
	if (!op)
		return -EBUSY;
	op->pos = pos;
	op->len = len;
	op->logical_end = logical_end;
	op->submit_ns = now;
	int rc = swriter_prep_write(log->w, log, op);
	if (rc < 0)
		return rc;
	log->op_tail++;
	return 0;
}

int slog_submit(struct slog *log, uint64_t now)
{
	int prepared = 0;
	if (log->failed || log->broken)
		return 0;
	if (log->cfg.durability == SLOG_SYNC_GROUP && log->pending_bytes &&
	    (log->pending_bytes >= log->cfg.group_commit_bytes ||
	     now - log->pending_since_ns >= log->cfg.group_commit_us * 1000))
		log->sync_wanted = true;
	/* Flush everything only for a sync that can be issued next: while
	 * one is in flight or waiting for its writes, appends keep
	 * accumulating and go out in whole chunks. */
	bool flush_all = (log->sync_wanted && !log->sync_inflight &&
			  !log->sync_target_set) || log->flush_wanted;
	/* Overwriting a recycled or preallocated file: writes queued behind
	 * an fdatasync hold it back for tens of ms (docs/storage.md), so
	 * none are submitted while it runs. */
	bool hold = log->sync_inflight && log->overwrite;

	/* Whole blocks.  A partial block in flight must complete before
	 * the block is written again. */
	if (!hold && !(log->partial_inflight && log->submit_pos % SL_BLOCK)) {
		uint64_t from = blk_floor(log->submit_pos);
		uint64_t full_end = blk_floor(log->end_pos);
		while (full_end > from &&
		       (flush_all || full_end - from >= log->cfg.write_chunk_bytes)) {
			uint64_t len = full_end - from;
			if (len > log->cfg.write_chunk_bytes)
				len = log->cfg.write_chunk_bytes;
			uint64_t to_wrap = log->buf->size - from % log->buf->size;
			if (len > to_wrap)
				len = to_wrap;
			if (submit_write(log, from, (uint32_t)len, from + len, now) < 0)
				break;
			from += len;
			log->submit_pos = from;
			prepared++;
		}
		if (flush_all && from == full_end && log->end_pos % SL_BLOCK &&
		    log->submit_pos < log->end_pos) {
			/* the partial last block, zero padded */
			uint8_t *tail = log->buf->mem + (log->end_pos % log->buf->size);
			memset(tail, 0, blk_ceil(log->end_pos) - log->end_pos);
			if (submit_write(log, full_end, SL_BLOCK, log->end_pos,
					 now) == 0) {
				log->submit_pos = log->end_pos;
				log->partial_inflight = true;
				prepared++;
			}
		}
	}
	if (log->flush_wanted && log->submit_pos == log->end_pos)
		log->flush_wanted = false;
	if (log->sync_wanted && log->submit_pos == log->end_pos &&
	    !log->sync_target_set) {
		log->sync_wanted = false;
		log->pending_bytes = 0;
		if (log->end_offset > log->durable_offset) {
			log->sync_target_set = true;
			log->sync_target_off = log->end_offset;
			log->sync_target_pos = log->end_pos;
		}
	}
	if (log->sync_target_set && !log->sync_inflight &&
	    log->written_pos >= log->sync_target_pos) {
		struct sop *op = &log->sync_op;
		memset(op, 0, sizeof(*op));
		op->log = log;
		op->kind = SOP_SYNC;
		op->submit_ns = now;
		if (swriter_prep_sync(log->w, log, op) == 0) {
			log->sync_inflight = true;
			prepared++;
		}
	}
	return prepared;
}

void slog_complete(struct slog *log, struct sop *op, int res)
{
	if (op->kind == SOP_SYNC) {
		log->sync_inflight = false;
		if (res < 0) {
			if (!log->failed)
				log->failed = res;
			log->st.io_errors++;
			return;
		}
		if (log->failed || log->written_pos < log->sync_target_pos) {
			/* a write failed while this fdatasync ran: the
			 * rollback decides what is durable */
			return;
		}
		uint64_t d = mono_ns(log) - op->submit_ns;
		log->st.fsyncs++;
		log->st.fsync_ns_total += d;
		if (d > log->st.fsync_ns_max)
			log->st.fsync_ns_max = d;
		/* the durable end never moves back, nor past what was
		 * appended or written */
		assert(log->sync_target_off >= log->durable_offset &&
		       log->sync_target_off <= log->end_offset);
		assert(log->sync_target_pos <= log->written_pos);
		log->durable_offset = log->sync_target_off;
		log->durable_pos = log->sync_target_pos;
		log->sync_target_set = false;
		log->durable_advanced = true;
		return;
	}
	if (res >= 0 && (uint32_t)res < op->len - op->done_len) {
		/* short write: resubmit the rest if it is still aligned */
		op->done_len += (uint32_t)res;
		if (res > 0 && op->done_len % 512 == 0 &&
		    swriter_prep_write(log->w, log, op) == 0)
			return;
		res = -EIO;
	}
	op->done = true;
	op->res = res;
	if (res < 0) {
		if (!log->failed)
			log->failed = res;
		log->st.io_errors++;
	} else {
		log->st.writes++;
		log->st.write_bytes += op->len;
	}
	if (op->logical_end % SL_BLOCK)
		log->partial_inflight = false;
	while (ops_inflight(log)) {
		struct sop *head = &log->ops[log->op_head % SLOG_MAX_OPS];
		if (!head->done)
			break;
		/* never past a failed write: what follows it is not
		 * contiguous on disk */
		if (head->res >= 0 && !log->failed &&
		    head->logical_end > log->written_pos) {
			assert(head->logical_end <= log->end_pos);
			log->written_pos = head->logical_end;
		}
		log->op_head++;
	}
}

/* Cut everything after the durable offset (after a failed write/sync). */
static int rollback(struct slog *log, int err)
{
	struct sseg *s = active(log);
	uint64_t pos = log->durable_pos;
	int rc = 0;
	/* one line per error kind per second: a full disk fails every
	 * retry, and the log must not fill up with the same sentence */
	int64_t now_ms = wall_ms(log);
	if (err != log->last_err || now_ms - log->rollback_log_ms >= 1000) {
		slog_logf(log, 0, "write failed (%s): rolling back to durable "
			  "offset %lld; %lld unsynced offset(s) must be appended "
			  "again (%llu similar rollbacks not logged)",
			  sl_strerror(err), (long long)log->durable_offset,
			  (long long)(log->end_offset - log->durable_offset),
			  (unsigned long long)log->rollbacks_unlogged);
		log->rollback_log_ms = now_ms;
		log->rollbacks_unlogged = 0;
	} else {
		log->rollbacks_unlogged++;
	}
	rc = sd_ftruncate(log->disk, log->wfd, pos);
	if (rc == 0)
		rc = sindex_truncate(&s->ix, (uint32_t)pos,
				     (uint32_t)(log->durable_offset - s->base_offset));
	s->size = pos;
	s->next_offset = log->durable_offset;
	s->last_index_pos = s->ix.n ? s->ix.e[s->ix.n - 1].pos : 0;
	/* offsets written before the cut may have been answered (acks=1):
	 * the next append skips past them; what was never written was
	 * never answered and is given again */
	if (log->written_offset > log->skip_to && !log->cfg.keep_offsets)
		log->skip_to = log->written_offset;
	if (log->skip_to > log->durable_offset && !log->rp_force_skip) {
		/* the file no longer holds them: a crash before the empty
		 * batch is durable must still skip (write_rp) */
		log->rp_force_skip = true;
		if (rc == 0)
			rc = write_rp(log, log->rp_offset, false);
	}
	log->end_offset = log->durable_offset;
	log->written_offset = log->durable_offset;
	log->wq_head = log->wq_tail = 0;
	log->flush_wanted = false;
	if (rc == 0)
		rc = reload_tail_block(log, s, pos);
	if (rc < 0) {
		log->broken = true;
		slog_logf(log, 0, "rollback failed (%s): the log is closed for "
			  "appends; reopen it to recover", sl_strerror(rc));
	}
	log->failed = 0;
	log->last_err = err;
	log->err_seq++;
	return rc;
}

int slog_process(struct slog *log)
{
	int work = 0;
	while (log->wq_head != log->wq_tail &&
	       log->wq[log->wq_head % SLOG_WQ].pos <= log->written_pos) {
		/* the written end never moves back, nor past the end */
		assert(log->wq[log->wq_head % SLOG_WQ].off >= log->written_offset &&
		       log->wq[log->wq_head % SLOG_WQ].off <= log->end_offset);
		log->written_offset = log->wq[log->wq_head % SLOG_WQ].off;
		log->wq_head++;
		log->written_advanced = true;
	}
	if (log->written_advanced) {
		log->written_advanced = false;
		work++;
		if (log->cfg.written_cb) {
			log->in_cb = true;
			log->cfg.written_cb(log->cfg.cb_ctx, log,
					    log->written_offset);
			log->in_cb = false;
		}
	}
	if (log->durable_advanced) {
		log->durable_advanced = false;
		/* the empty batch over skipped offsets is durable: the
		 * recovery point may trust the page cache again */
		if (log->rp_force_skip && log->skip_to <= log->end_offset &&
		    log->durable_offset >= log->skip_durable_at)
			log->rp_force_skip = false;
		work++;
		if (log->cfg.durable_cb) {
			log->in_cb = true;
			log->cfg.durable_cb(log->cfg.cb_ctx, log,
					    log->durable_offset, 0);
			log->in_cb = false;
		}
	}
	if (log->failed && slog_idle(log)) {
		int err = log->failed;
		rollback(log, err);
		work++;
		if (log->cfg.durable_cb) {
			log->in_cb = true;
			log->cfg.durable_cb(log->cfg.cb_ctx, log,
					    log->durable_offset, err);
			log->in_cb = false;
		}
	}
	return work;
}

int slog_sync(struct slog *log)
{
	uint64_t seq = log->err_seq;
	int64_t target = log->end_offset;
	if (log->broken)
		return SL_ECLOSED;
	if (log->durable_offset < target)
		log->sync_wanted = true;
	while (log->durable_offset < target && log->err_seq == seq) {
		int rc = swriter_wait(log->w, 0);
		if (rc < 0)
			return rc;
	}
	return log->err_seq != seq ? log->last_err : 0;
}

/* ---- roll ---- */

static int roll(struct slog *log)
{
	int rc = slog_sync(log);
	if (rc < 0)
		return rc;
	struct sseg *old = active(log);
	if (log->end_pos == 0)
		return 0;
	rc = ensure_wfd(log);
	if (rc < 0)
		return rc;
	struct sseg s;
	bool recycled;
	rc = seg_create(&s, log->disk, log->dir, log->end_offset,
			log->cfg.prepare == SLOG_PREPARE_RECYCLE, &recycled);
	if (rc < 0) {
		slog_logf(log, 0, "cannot create segment %lld: %s",
			  (long long)log->end_offset, sl_strerror(rc));
		return rc;
	}
	/* seal the old segment: exact size, indexes complete and synced */
	rc = sd_ftruncate(log->disk, log->wfd, old->size);
	if (rc == 0)
		rc = sd_fsync(log->disk, log->wfd);
	if (rc < 0)
		goto fail_new;
	rc = seal_time_index(old);
	if (rc == 0)
		rc = sindex_sync(&old->ix);
	if (rc < 0)
		goto fail_new;
	sindex_close_files(&old->ix); /* sealed: reopened only if needed */
	rc = push_segment(log, &s);
	if (rc < 0)
		goto fail_new;
	sd_close(log->disk, log->wfd);
	log->wfd = -1;
	rc = open_write_fd(log, active(log));
	if (rc < 0)
		return rc; /* rare (EMFILE); appends fail until reopen */
	if (recycled)
		log->st.segments_recycled++;
	reload_tail_block(log, active(log), 0);
	rc = write_rp(log, log->end_offset, false);
	log->st.segments_rolled++;
	idle_fds(log);
	return rc;
fail_new:
	seg_delete(&s, log->dir);
	return rc;
}

int slog_roll(struct slog *log)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	return roll(log);
}

/* ---- reads ---- */

int64_t slog_start_offset(const struct slog *log)
{
	int64_t first = log->segs[0].base_offset;
	return log->log_start > first ? log->log_start : first;
}

int64_t slog_end_offset(const struct slog *log)
{
	return log->end_offset;
}

int64_t slog_durable_offset(const struct slog *log)
{
	return log->durable_offset;
}

int64_t slog_written_offset(const struct slog *log)
{
	return log->written_offset;
}

uint64_t slog_size_bytes(const struct slog *log)
{
	uint64_t bytes = 0;
	for (unsigned i = 0; i < log->nseg; i++)
		bytes += log->segs[i].size;
	return bytes;
}

unsigned slog_segment_count(const struct slog *log)
{
	return log->nseg;
}

void slog_get_stats(const struct slog *log, struct slog_stats *out)
{
	*out = log->st;
}

static bool in_cache(const struct slog *log, const struct sseg *s,
		     uint64_t pos, uint64_t len)
{
	return log->buf && s == &log->segs[log->nseg - 1] &&
	       pos >= log->cache_lo && pos + len <= log->end_pos;
}

/* Bytes [pos, pos + len) of segment s, from the cache or the file. */
static int read_bytes(struct slog *log, struct sseg *s, uint64_t pos,
		      uint8_t *dst, size_t len)
{
	if (in_cache(log, s, pos, len)) {
		memcpy(dst, log->buf->mem + (pos % log->buf->size), len);
		return 0;
	}
	ssize_t n = sd_pread(log->disk, s->read_fd, dst, len, pos);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : SL_ECORRUPT;
}

static unsigned find_segment(const struct slog *log, int64_t offset)
{
	unsigned lo = 0, hi = log->nseg;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (log->segs[mid].base_offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/* Position and header of the batch of s holding offset. */
static int locate(struct slog *log, struct sseg *s, int64_t offset,
		  uint64_t *pos_out, uint8_t hdr[RB_HEADER_BYTES])
{
	int rc = ensure_index(log, s);
	if (rc < 0)
		return rc;
	uint32_t entry_rel;
	uint64_t pos = sindex_lookup(&s->ix, (uint32_t)(offset - s->base_offset),
				     &entry_rel);
	/* bounded: at most one index interval of batches, plus one */
	while (pos + RB_HEADER_BYTES <= s->size) {
		rc = read_bytes(log, s, pos, hdr, RB_HEADER_BYTES);
		if (rc < 0)
			return rc;
		uint64_t size = (uint64_t)(int32_t)rb_be32(hdr + RB_OFF_LENGTH) +
				RB_LOG_OVERHEAD;
		if (size < RB_HEADER_BYTES)
			return SL_ECORRUPT;
		if (rb_last_offset(hdr) >= offset) {
			*pos_out = pos;
			return 0;
		}
		pos += size;
	}
	return SL_EOFFSET;
}

int slog_read(struct slog *log, int64_t offset, size_t max_bytes,
	      int64_t limit_offset, struct slog_read_view *view)
{
	uint8_t hdr[RB_HEADER_BYTES];
	memset(view, 0, sizeof(*view));
	view->fd = -1;
	view->first_offset = view->next_offset = offset;
	if (offset < slog_start_offset(log) || offset > log->end_offset)
		return SL_EOFFSET;
	if (limit_offset > log->end_offset)
		limit_offset = log->end_offset;
	if (offset >= limit_offset)
		return 0;
	unsigned i = find_segment(log, offset);
	while (offset >= log->segs[i].next_offset && i + 1 < log->nseg)
		i++;
	struct sseg *s = &log->segs[i];
	uint64_t pos;
	int rc = locate(log, s, offset, &pos, hdr);
	if (rc < 0)
		return rc;
	bool mem = in_cache(log, s, pos, RB_HEADER_BYTES);
	bool is_active = i + 1 == log->nseg;
	uint64_t file_limit = is_active ? log->written_pos : s->size;
	uint64_t len = 0;
	int64_t next = offset;
	/* bounded by max_bytes and the segment */
	while (pos + len + RB_HEADER_BYTES <= s->size) {
		if (len) {
			rc = read_bytes(log, s, pos + len, hdr, RB_HEADER_BYTES);
			if (rc < 0)
				return rc;
		}
		if ((int64_t)rb_be64(hdr + RB_OFF_BASE_OFFSET) >= limit_offset)
			break;
		uint64_t size = (uint64_t)(int32_t)rb_be32(hdr + RB_OFF_LENGTH) +
				RB_LOG_OVERHEAD;
		if (len && (len + size > max_bytes ||
			    (!mem && pos + len + size > file_limit)))
			break;
		len += size;
		next = rb_last_offset(hdr) + 1;
	}
	view->first_offset = (int64_t)rb_be64(
		mem ? log->buf->mem + pos % log->buf->size : hdr);
	if (!mem) {
		uint8_t first[8];
		rc = read_bytes(log, s, pos, first, sizeof(first));
		if (rc < 0)
			return rc;
		view->first_offset = (int64_t)rb_be64(first);
	}
	view->next_offset = next;
	view->len = (size_t)len;
	if (mem) {
		view->mem = log->buf->mem + pos % log->buf->size;
		log->st.cache_reads++;
	} else {
		view->fd = s->read_fd;
		view->file_pos = pos;
		log->st.file_reads++;
	}
	return 0;
}

ssize_t slog_read_copy(struct slog *log, int64_t offset, size_t max_bytes,
		       int64_t limit_offset, uint8_t *buf, size_t cap)
{
	struct slog_read_view v;
	size_t want = max_bytes < cap ? max_bytes : cap;
	int rc = slog_read(log, offset, want, limit_offset, &v);
	if (rc < 0)
		return rc;
	if (v.len > cap)
		return -ENOBUFS;
	if (v.mem) {
		memcpy(buf, v.mem, v.len);
		return (ssize_t)v.len;
	}
	ssize_t n = sd_pread(log->disk, v.fd, buf, v.len, v.file_pos);
	if (n < 0)
		return n;
	return (size_t)n == v.len ? n : SL_ECORRUPT;
}

/* ---- timestamps ---- */

int64_t slog_offset_for_time(struct slog *log, int64_t ts)
{
	return slog_lookup_time(log, ts, NULL);
}

int64_t slog_lookup_time(struct slog *log, int64_t ts, int64_t *found_ts)
{
	int64_t start = slog_start_offset(log);
	int64_t got = -1;
	int64_t off = offset_for_time(log, ts, start, &got);
	assert(off < 0 || off >= start);
	if (found_ts)
		*found_ts = off >= 0 ? got : -1;
	return off;
}

/* The largest timestamp a segment holding records knows: its batches'
 * largest max timestamp, kept in memory (loaded from the last time index
 * entry of a sealed segment, see index.c). */
int64_t slog_max_timestamp(struct slog *log, int64_t *offset)
{
	int64_t max = -1;
	for (unsigned i = 0; i < log->nseg; i++)
		if (log->segs[i].size > 0 && log->segs[i].max_timestamp > max)
			max = log->segs[i].max_timestamp;
	if (max < 0)
		return SL_ENOTFOUND;
	int64_t got = -1;
	int64_t off = offset_for_time(log, max, slog_start_offset(log), &got);
	if (off < 0)
		return off;
	/* nothing is later than max: the record found carries it (a
	 * compressed batch's records are not read: its max timestamp) */
	assert(got < 0 || got == max);
	*offset = off;
	return max;
}

/* The first record at or after start whose timestamp is >= ts, its
 * timestamp in *got.  A compressed batch's records are not read: its base
 * offset (or start) is answered, with its max timestamp when that is ts
 * itself (then a record of it has ts), else -1. */
static int64_t offset_for_time(struct slog *log, int64_t ts, int64_t start,
			       int64_t *got)
{
	uint8_t hdr[RB_HEADER_BYTES];
	for (unsigned i = 0; i < log->nseg; i++) {
		struct sseg *s = &log->segs[i];
		if (s->max_timestamp < ts || s->size == 0 ||
		    s->next_offset <= start)
			continue;
		int rc = ensure_index(log, s);
		if (rc < 0)
			return rc;
		int64_t from = s->base_offset + sindex_lookup_time(&s->ix, ts);
		if (from >= s->next_offset)
			continue;
		if (from < start)
			from = start;
		uint64_t pos;
		rc = locate(log, s, from, &pos, hdr);
		if (rc < 0)
			return rc;
		/* bounded: each step moves past one batch of the segment */
		while (pos + RB_HEADER_BYTES <= s->size) {
			rc = read_bytes(log, s, pos, hdr, RB_HEADER_BYTES);
			if (rc < 0)
				return rc;
			uint64_t size = (uint64_t)(int32_t)rb_be32(hdr + RB_OFF_LENGTH) +
					RB_LOG_OVERHEAD;
			int64_t bmax = (int64_t)rb_be64(hdr + RB_OFF_MAX_TIMESTAMP);
			int64_t base = (int64_t)rb_be64(hdr);
			if (bmax >= ts && rb_last_offset(hdr) >= start) {
				int64_t first = base > start ? base : start;
				uint8_t *scratch = log->w->scratch;
				*got = bmax == ts ? bmax : -1;
				if (size > log->cfg.batch_max_bytes ||
				    read_bytes(log, s, pos, scratch, size) < 0)
					return first;
				struct rb_iter it;
				struct rb_record r;
				if (rb_iter_init(&it, scratch, size) < 0)
					return first; /* compressed */
				/* bounded by the batch's record count */
				while (rb_iter_next(&it, &r) == 1)
					if (r.timestamp >= ts && r.offset >= start) {
						*got = r.timestamp;
						return r.offset;
					}
				/* those as new lie below the start: on */
			}
			pos += size;
		}
	}
	return SL_ENOTFOUND;
}

/* ---- truncation and retention ---- */

static int drain(struct slog *log)
{
	while (!slog_idle(log)) {
		int rc = swriter_wait(log->w, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int64_t slog_truncate(struct slog *log, int64_t offset)
{
	uint8_t hdr[RB_HEADER_BYTES];
	if (log->closing || log->broken)
		return SL_ECLOSED;
	int rc = slog_sync(log);
	if (rc < 0)
		return rc;
	rc = drain(log);
	if (rc < 0)
		return rc;
	if (offset >= log->end_offset)
		return log->end_offset;
	/* a compaction pass under way mapped records that may be cut */
	log->clean.truncations++;
	if (log->clean.offset > offset)
		log->clean.offset = offset;
	rc = ensure_wfd(log);
	if (rc < 0)
		return rc;
	if (offset < slog_start_offset(log))
		offset = slog_start_offset(log);
	unsigned i = find_segment(log, offset);
	while (offset >= log->segs[i].next_offset && i + 1 < log->nseg)
		i++;
	struct sseg *s = &log->segs[i];
	uint64_t pos;
	rc = locate(log, s, offset, &pos, hdr);
	if (rc < 0)
		return rc;
	int64_t new_end = (int64_t)rb_be64(hdr + RB_OFF_BASE_OFFSET);
	if (pos == 0 && i > 0) {
		/* the whole segment goes: the previous one becomes active */
		i--;
		s = &log->segs[i];
		pos = s->size;
		new_end = s->next_offset;
	}
	/* the recovery point must not vouch for what is cut */
	/* a cut is deliberate (a replica following its leader): the cut
	 * offsets are given again, so the reservation follows the cut */
	log->reserved_offset = new_end;
	log->skip_to = 0;
	rc = write_rp(log, s->base_offset, false);
	if (rc < 0)
		return rc;
	if (i + 1 < log->nseg) {
		sd_close(log->disk, log->wfd);
		log->wfd = -1;
		drop_segments_from(log, i + 1);
		rc = sd_fsync_dir(log->disk, log->dir);
		if (rc < 0)
			return rc;
		rc = open_write_fd(log, s);
		if (rc < 0) {
			log->broken = true;
			return rc;
		}
	}
	rc = ensure_index(log, s);
	if (rc < 0)
		return rc;
	rc = sd_ftruncate(log->disk, log->wfd, pos);
	if (rc == 0)
		rc = sd_fsync(log->disk, log->wfd);
	if (rc < 0)
		return rc;
	rc = sindex_truncate(&s->ix, (uint32_t)pos,
			     (uint32_t)(new_end - s->base_offset));
	if (rc < 0)
		return rc;
	s->size = pos;
	s->next_offset = new_end;
	s->last_index_pos = s->ix.n ? s->ix.e[s->ix.n - 1].pos : 0;
	/* the largest timestamp can only be recomputed by a scan; a time
	 * index entry at the cut is the best bound kept */
	if (pos == 0)
		s->max_timestamp = -1;
	else if (s->ix.tn && s->ix.t[s->ix.tn - 1].rel ==
				     (uint32_t)(new_end - s->base_offset))
		s->max_timestamp = s->ix.t[s->ix.tn - 1].ts;
	rc = reload_tail_block(log, s, pos);
	if (rc < 0)
		return rc;
	log->end_offset = log->durable_offset = new_end;
	log->written_offset = new_end;
	log->wq_head = log->wq_tail = 0;
	idle_fds(log);
	return new_end;
}

void slog_set_retention(struct slog *log, int64_t retention_ms,
			int64_t retention_bytes)
{
	assert(log && retention_ms >= -1 && retention_bytes >= -1);
	log->cfg.retention_ms = retention_ms;
	log->cfg.retention_bytes = retention_bytes;
}

int slog_apply_retention(struct slog *log)
{
	return retain(log, false);
}

/* Delete head segments by the retention rules, or (start_only) only those
 * wholly below the log start. */
static int retain(struct slog *log, bool start_only)
{
	int64_t now = wall_ms(log);
	uint64_t total = 0;
	int deleted = 0;
	for (unsigned i = 0; i < log->nseg; i++)
		total += log->segs[i].size;
	while (log->nseg > 1) {
		struct sseg *s = &log->segs[0];
		bool by_time = !start_only && log->cfg.retention_ms >= 0 &&
			       s->max_timestamp >= 0 &&
			       now - s->max_timestamp > log->cfg.retention_ms;
		bool by_size = !start_only && log->cfg.retention_bytes >= 0 &&
			       total - s->size >= (uint64_t)log->cfg.retention_bytes;
		/* wholly below the start slog_delete_records set */
		bool by_start = log->segs[1].base_offset <= log->log_start;
		if (!by_time && !by_size && !by_start)
			break;
		total -= s->size;
		int rc = seg_retire(s, log->dir,
				    log->cfg.prepare == SLOG_PREPARE_RECYCLE);
		memmove(&log->segs[0], &log->segs[1],
			(log->nseg - 1) * sizeof(*log->segs));
		log->nseg--;
		log->st.segments_deleted++;
		deleted++;
		if (rc < 0)
			return rc;
	}
	/* the start offset moves for readers only once the deletions are
	 * durable: deleted data must not come back after a power cut */
	if (deleted) {
		int rc = sd_fsync_dir(log->disk, log->dir);
		if (rc < 0)
			return rc;
	}
	return deleted;
}

int64_t slog_delete_records(struct slog *log, int64_t offset)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (offset < 0 || offset > log->end_offset)
		return SL_EOFFSET;
	if (offset <= slog_start_offset(log))
		return slog_start_offset(log);
	/* durable before anyone is told: deleted records never come back */
	int rc = srls_write(log, offset);
	if (rc < 0)
		return rc;
	log->log_start = offset;
	log->st.delete_records++;
	rc = retain(log, true);
	if (rc < 0)
		return rc;
	return slog_start_offset(log);
}

int64_t slog_start_at(struct slog *log, int64_t offset, int32_t epoch)
{
	if (log->closing || log->broken)
		return SL_ECLOSED;
	if (offset < 0)
		return SL_EOFFSET;
	if (offset <= log->end_offset) {
		int64_t r = slog_delete_records(log, offset);
		return r < 0 ? r : log->end_offset;
	}
	/* the start first, durably: an open after a stop between the two
	 * continues at it, as it does for any start above the end */
	if (offset > slog_start_offset(log)) {
		int rc = srls_write(log, offset);
		if (rc < 0)
			return rc;
		log->log_start = offset;
	}
	log->skip_to = offset;
	int rc = skip_gap(log, epoch);
	if (rc < 0)
		return rc; /* SL_EFULL: call again, it goes on from here */
	log->st.starts_over++;
	rc = retain(log, true);
	if (rc < 0)
		return rc;
	return log->end_offset;
}

/* ---- close ---- */

int slog_close(struct slog *log)
{
	int rc = 0;
	if (!log->broken) {
		rc = slog_sync(log);
		if (rc == 0)
			rc = drain(log);
	} else {
		drain(log);
	}
	log->closing = true;
	if (log->clean.cleaner)
		sclean_abandon(log);
	struct sseg *s = active(log);
	if (log->rp_clean && !log->broken) {
		/* untouched since the open: the files are as they were */
	} else if (rc == 0 && !log->broken)
		rc = ensure_wfd(log);
	if (rc == 0 && !log->broken && !log->rp_clean) {
		rc = sd_ftruncate(log->disk, log->wfd, s->size);
		if (rc == 0)
			rc = sd_fsync(log->disk, log->wfd);
		if (rc == 0)
			rc = seal_time_index(s);
		if (rc == 0)
			rc = sindex_sync(&s->ix);
		if (rc == 0) {
			/* nothing past the end was handed out */
			log->reserved_offset = log->end_offset;
			rc = write_rp(log, log->end_offset, true);
		}
	}
	close_write_fds(log);
	if (log->pbi >= 0)
		spool_give(log->w, log);
	for (unsigned i = 0; i < log->nseg; i++)
		seg_close(&log->segs[i]);
	free(log->segs);
	swriter_detach(log->w, log);
	free(log->topic);
	free(log->dir);
	free(log);
	return rc;
}
