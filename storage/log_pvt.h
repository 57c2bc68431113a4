/*
 * Internals of the partition log, shared by the files of storage/.
 * Not part of the contract: see log.h for that.
 */
#ifndef SLUICE_STORAGE_LOG_PVT_H
#define SLUICE_STORAGE_LOG_PVT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "storage/disk.h"
#include "storage/log.h"

#define SL_BLOCK 4096u                /* O_DIRECT alignment on this disk */
#define SLOG_MAX_OPS 64               /* writes + sync in flight per log */
#define SLOG_WQ 256                   /* appends tracked until written */
/* Offsets reserved in the recovery point ahead of the end of the log:
 * after a power cut the log resumes above every offset it may have
 * handed out (recovery.c). */
#define SLOG_RESERVE_OFFSETS (1ll << 20)
#define SLOG_SEGMENT_BYTES_MAX 0x7fffffffull /* positions are int32 */
/* No offset on disk is at or above this: a segment name or a recovery
 * point beyond it is damage, not data (offset arithmetic, the reserve
 * included, then never overflows an int64: a segment spans at most
 * 2^25 batches of at most 2^31 offsets each). */
#define SLOG_OFFSET_MAX (1ll << 62)
/* A recovery point that reserves more than this above the recovered end is
 * damaged and ignored (recovery.c).  A larger gap than one empty batch can cover (2^31 offsets) is damage:
 * unsynced data never spans that many offsets (a record is at least a few
 * bytes, a write buffer a few MiB), and covering it would roll a segment
 * every 2^31 offsets. */
#define SLOG_SKIP_MAX ((int64_t)INT32_MAX)

static inline uint64_t blk_floor(uint64_t x) { return x & ~(uint64_t)(SL_BLOCK - 1); }
static inline uint64_t blk_ceil(uint64_t x) { return blk_floor(x + SL_BLOCK - 1); }

/* ---- index.c: the sparse offset index and the time index ---- */

struct idx_entry {
	uint32_t rel;  /* offset - segment base */
	uint32_t pos;  /* file position of the batch starting at rel */
};

struct tidx_entry {
	int64_t ts;    /* every batch before rel has max timestamp <= ts */
	uint32_t rel;
};

struct sindex {
	const struct sdisk *disk;
	char *log_path;         /* the segment's .log path (index paths) */
	int fd;                 /* .index file, buffered; -1: closed */
	int tfd;                /* .timeindex file, buffered; -1: closed */
	struct idx_entry *e;
	uint32_t n, cap;
	struct tidx_entry *t;
	uint32_t tn, tcap;
	bool loaded;            /* entries are in memory */
};

/* Remember the files of the segment at log_path; create: make both empty
 * now.  The descriptors are opened when first needed. */
int sindex_open(struct sindex *ix, const struct sdisk *d,
		const char *log_path, bool create);
void sindex_close(struct sindex *ix);
/* Close the descriptors, keep the entries (an idle log). */
void sindex_close_files(struct sindex *ix);
/* Read both files into memory; false if torn or not monotonic. */
int sindex_load(struct sindex *ix, uint64_t seg_size);
int sindex_add(struct sindex *ix, uint32_t rel, uint32_t pos);
int sindex_add_time(struct sindex *ix, int64_t ts, uint32_t rel);
/* Position of the last entry with rel <= target (0 if none). */
uint32_t sindex_lookup(const struct sindex *ix, uint32_t rel, uint32_t *entry_rel);
/* rel of the last time entry with ts < target (0 if none). */
uint32_t sindex_lookup_time(const struct sindex *ix, int64_t ts);
/* Drop entries at or after pos / rel; truncate the files. */
int sindex_truncate(struct sindex *ix, uint32_t pos, uint32_t rel);
/* Empty both (memory and files) before a rebuild. */
int sindex_reset(struct sindex *ix);
int sindex_sync(struct sindex *ix);

/* ---- segment.c: one segment's files ---- */

struct sseg {
	const struct sdisk *disk;
	int64_t base_offset;
	int64_t next_offset;     /* offset after its last batch */
	uint64_t size;           /* logical bytes (valid batches) */
	int64_t max_timestamp;   /* largest batch max timestamp, -1: none */
	int64_t first_append_ms; /* for roll by age */
	uint64_t last_index_pos; /* position of the last offset-index entry */
	int read_fd;             /* page-cache descriptor for reads */
	struct sindex ix;
};

void seg_path(char *out, size_t cap, const char *dir, int64_t base,
	      const char *ext);
/* Open an existing segment (read fd + index fds). */
int seg_open(struct sseg *s, const struct sdisk *d, const char *dir,
	     int64_t base);
/* Create a new empty segment, its index files, fsync the directory.
 * recycle: reuse a file retired by seg_retire() when there is one (its
 * stale bytes stay past the logical end).  *recycled says which. */
int seg_create(struct sseg *s, const struct sdisk *d, const char *dir,
	       int64_t base, bool recycle, bool *recycled);
/* Delete a segment; with recycle, keep its .log as <base>.recycle for
 * seg_create (at most SEG_RECYCLE_MAX per directory). */
int seg_retire(struct sseg *s, const char *dir, bool recycle);
#define SEG_RECYCLE_MAX 2
void seg_close(struct sseg *s);
/* Close and unlink all three files. */
int seg_delete(struct sseg *s, const char *dir);
/* Parse "<20 digits>.log"; returns base (< SLOG_OFFSET_MAX) or -1. */
int64_t seg_parse_name(const char *name);

/* ---- buffer.c: the aligned write buffer, mapped twice ---- */

struct sbuf {
	uint8_t *mem;      /* bytes are at mem[0, size) and mirrored at
			      mem[size, 2 * size) */
	size_t size;
	bool huge;
};

int sbuf_create(struct sbuf *b, size_t size, bool try_huge);
void sbuf_destroy(struct sbuf *b);

/* ---- writer.c and pool.c ---- */

enum sop_kind { SOP_WRITE = 1, SOP_SYNC = 2 };

struct sop {
	struct slog *log;
	uint8_t kind;
	bool done;
	int res;
	uint64_t pos;        /* file position (write) */
	uint32_t len;        /* bytes (write) */
	uint32_t done_len;   /* bytes written so far (short writes) */
	uint64_t logical_end;/* valid data ends here after this write */
	uint64_t submit_ns;
};

/* An append not yet known written: (end position, end offset). */
struct swq_entry {
	uint64_t pos;
	int64_t off;
};

/*
 * One write buffer of the writer's pool (pool.c) and the I/O state that
 * exists only while a log has data on its way to the disk: the writes in
 * flight and the appends not yet known written.  A log holds one while it
 * has something to append or write; an idle log holds none.
 */
struct swbuf {
	struct sbuf buf;        /* mem NULL: not created yet */
	struct slog *owner;     /* NULL: free */
	uint64_t used_ns;       /* owner's last append (idle release, LRU) */
	struct sop ops[SLOG_MAX_OPS];
	struct swq_entry wq[SLOG_WQ];
};

struct swriter {
	const struct sdisk *disk;   /* the logs' files */
	bool uring;                 /* disk->kernel_fds: writes go through
				       the ring; else done at prep time */
	struct sop **done;          /* !uring: completed ops, not reaped */
	int *done_res;
	unsigned ndone;
	struct io_uring ring;
	struct swriter_config cfg;
	unsigned nlogs;         /* attached */
	/* the pool: cfg.buffers entries, created on first use up to
	 * cfg.buffer_pool_bytes, kept once created; the index is also the
	 * registered buffer and registered file slot */
	struct swbuf *pool;
	unsigned pool_created;  /* entries with a buffer */
	uint64_t pool_bytes;    /* bytes of the created buffers */
	uint8_t *scratch;       /* one batch, for the logs' timestamp
				   lookups (slog_offset_for_time) */
	uint32_t scratch_bytes;
	struct swriter_stats st;
	unsigned inflight;      /* SQEs submitted, CQEs not yet reaped */
	unsigned pending_sqes;  /* prepared, not yet submitted */
	bool fixed_files;
	bool fixed_bufs;
};

int swriter_attach(struct swriter *w, struct slog *log);
void swriter_detach(struct swriter *w, struct slog *log);
/* Register log->wfd in the log's pool slot (no-op without a buffer). */
void swriter_set_file(struct swriter *w, struct slog *log);

/* pool.c.  Give log a buffer: a free one, a new one within the budget, or
 * one taken from the least recently used log that can give it back
 * (slog_can_release).  Returns the pool index, or SL_EFULL (counted), or
 * -errno. */
int spool_take(struct swriter *w, struct slog *log);
/* Put log's buffer back (slog_release_buffer's last step). */
void spool_give(struct swriter *w, struct slog *log);
/* Give back the buffers of logs idle for cfg.buffer_idle_ms.  Returns
 * the number given back. */
int spool_release_idle(struct swriter *w, uint64_t now_ns);
void spool_destroy(struct swriter *w);
/* Prepare one write / sync SQE for op; -EBUSY when the SQ is full. */
int swriter_prep_write(struct swriter *w, struct slog *log, struct sop *op);
int swriter_prep_sync(struct swriter *w, struct slog *log, struct sop *op);

/* ---- cleaner.c: what a log keeps for compaction ---- */

struct scleaner;

struct slog_clean_state {
	struct scleaner *cleaner;  /* a pass on this log is under way */
	int64_t offset;            /* the next pass's dirty part starts here
				      (cleaner-offset); -1: not read yet */
	int64_t horizon_min;       /* earliest delete horizon of a tombstone
				      the last pass kept; -1: none known */
	uint64_t truncations;      /* slog_truncate calls: a pass that saw
				      another count is abandoned */
};

/* Finish a segment swap a crash interrupted, or undo one that had not
 * committed (cleaner.c says which is which); called by recovery before
 * the segments are listed.  Returns 0 or -errno. */
int sclean_recover(struct slog *log);
/* Abandon the pass under way on log (closing), removing its temporary
 * files. */
void sclean_abandon(struct slog *log);

/* ---- log.c ---- */

struct slog {
	struct swriter *w;
	const struct sdisk *disk;    /* = w->disk */
	bool attached;               /* counted in w->nlogs */
	struct slog_config cfg;
	char *topic;                 /* cfg.topic points here */
	char *dir;
	const struct sl_clock *clock;

	struct sseg *segs;           /* ordered by base offset */
	unsigned nseg, segcap;
	int wfd;                     /* O_DIRECT fd of the active segment;
					-1 while the log is idle */
	bool direct;                 /* O_DIRECT accepted by the filesystem */
	bool overwrite;              /* active file written before (recycled
					or preallocated): hold writes during
					fdatasync */

	/* the write buffer, from the writer's pool: NULL while idle */
	int pbi;                     /* index in w->pool; -1: none */
	struct sbuf *buf;            /* buf->mem[pos % size] holds pos */
	uint64_t end_pos;            /* after the last appended batch */
	uint64_t submit_pos;         /* writes submitted up to here */
	uint64_t written_pos;        /* writes completed up to here */
	uint64_t durable_pos;
	uint64_t cache_lo;           /* buf holds [cache_lo, end_pos) */
	int64_t end_offset;
	int64_t durable_offset;
	int64_t written_offset;      /* every offset below is in the file */
	/* appends not yet known written, oldest first: (end position, end
	 * offset); when full the newest entry is moved forward, which only
	 * delays written_cb */
	struct swq_entry *wq;        /* SLOG_WQ entries, in the pool slot */
	unsigned wq_head, wq_tail;
	bool written_advanced;       /* written_cb owed */
	bool flush_wanted;           /* write everything, no fdatasync */
	/* offsets: no offset at or above reserved_offset was ever handed
	 * out (it is in the recovery point); offsets in [end_offset,
	 * skip_to) were handed out and lost (a rollback, a power cut) and
	 * are skipped with an empty batch before the next append */
	int64_t reserved_offset;
	int64_t skip_to;
	/* the first offset readers see, set by slog_delete_records and kept
	 * in log-start-offset; the log starts at the larger of this and the
	 * first segment's base */
	int64_t log_start;
	int64_t rp_offset;           /* recovery offset last written */
	/* the files are as a clean close left them (or an empty log) and
	 * nothing changed since the open: the recovery point on disk is
	 * still true, the first change writes it (place, roll, truncate),
	 * and a close has nothing to do.  An untouched partition costs no
	 * write at open or close. */
	bool rp_clean;
	uint8_t boot_id[16];         /* this boot's (disk.h sd_boot_id) */
	/* offsets must be skipped and the empty batch over them may not be
	 * durable yet: the recovery point carries no boot id, so even a
	 * crash of the process alone skips them at the next open */
	bool rp_force_skip;
	int64_t skip_durable_at;     /* rp_force_skip ends when durable here */

	/* sync state */
	bool sync_wanted;            /* flush everything, then fdatasync */
	bool sync_target_set;
	int64_t sync_target_off;     /* fsync when written_pos >= target */
	uint64_t sync_target_pos;
	bool sync_inflight;
	bool partial_inflight;       /* a write ending mid-block is in flight */
	uint64_t pending_since_ns;   /* oldest append not yet synced */
	uint64_t pending_bytes;

	struct sop *ops;             /* SLOG_MAX_OPS: FIFO of writes in
					submission order, in the pool slot */
	unsigned op_head, op_tail;
	struct sop sync_op;

	int failed;                  /* first I/O error, rollback pending */
	int last_err;                /* error of the last rollback */
	uint64_t err_seq;            /* rollbacks so far */
	int64_t rollback_log_ms;     /* last rollback logged */
	uint64_t rollbacks_unlogged; /* since then */
	bool closing;
	bool broken;                 /* a rollback itself failed */
	bool durable_advanced;       /* durable_cb owed */
	bool in_cb;                  /* inside durable_cb: no blocking work */

	struct slog_clean_state clean;

	struct slog_stats st;
};

/* Called by the writer for each completion. */
void slog_complete(struct slog *log, struct sop *op, int res);
/* Submit what the policy asks for; returns SQEs prepared. */
int slog_submit(struct slog *log, uint64_t now_ns);
/* After completions: advance state, deliver callbacks; returns work. */
int slog_process(struct slog *log);
bool slog_idle(const struct slog *log);
/* Everything appended is written and durable, nothing is in flight or
 * owed: the buffer can go back to the pool. */
bool slog_can_release(const struct slog *log);
/* Give the buffer back and close the descriptors only writes need
 * (requires slog_can_release). */
void slog_release_buffer(struct slog *log);
/* ns until the group commit of this log is due; UINT64_MAX if none. */
uint64_t slog_deadline_ns(const struct slog *log, uint64_t now_ns);
/* Account one valid batch at pos of segment s: next offset, largest
 * timestamp, index entries every index_interval_bytes. */
int slog_index_batch(struct slog *log, struct sseg *s, uint64_t pos,
		     const uint8_t *batch);

/* ---- recovery.c ---- */

struct srecovery_point {
	int64_t offset;     /* all segments ending at or below are verified */
	bool clean;         /* closed cleanly: nothing past offset exists */
	int64_t reserved;   /* no offset >= reserved was handed out; 0:
			       unknown (a version 1 file) */
	uint8_t boot_id[16];/* the machine's boot when written (disk.h) */
};

int srp_read(const struct sdisk *d, const char *dir,
	     struct srecovery_point *rp);
int srp_write(const struct sdisk *d, const char *dir,
	      const struct srecovery_point *rp);

/* The log start offset set by slog_delete_records (file log-start-offset):
 * srls_read gives 0 when there is none or it is invalid (a log line says
 * which), 1 with *offset, or -errno; srls_write replaces it durably. */
int srls_read(const struct slog *log, int64_t *offset);
int srls_write(const struct slog *log, int64_t offset);

/* Scan a segment from position 0, rebuild its indexes, truncate after the
 * last valid batch.  *dropped gets the non-padding bytes removed. */
int srecover_segment(struct slog *log, struct sseg *s, uint64_t *dropped,
		     uint64_t *file_size);

void slog_logf(const struct slog *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
