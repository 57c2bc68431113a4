/*
 * The partition log: an append-only sequence of Kafka RecordBatch v2
 * batches, kept in segment files under one directory.
 *
 * This header is the whole contract of storage/.  The on-disk layout is
 * specified byte by byte at the top of storage/segment.c and in
 * docs/storage.md.
 *
 * Threading: a log and the writer it is attached to belong to one thread
 * (a storage core).  No function here is safe to call concurrently on the
 * same log or writer; different writers on different threads are
 * independent.
 *
 * Happy path:
 *   w = swriter_create(&wcfg)             one io_uring per storage core
 *   slog_open(w, dir, &cfg, &log)         recovers the tail if needed
 *   slog_append(log, batch, len, &res)    copies the batch into the
 *                                         aligned write buffer, stamps its
 *                                         base offset and leader epoch
 *   swriter_do_work(w)                    submits writes and fdatasyncs as
 *                                         the durability policy says, reaps
 *                                         completions, calls durable_cb
 *   slog_read(log, offset, max, &view)    whole batches, byte-identical
 *   slog_close(log)                       flushes, syncs, marks clean
 *
 * Failure modes:
 *   - a batch that fails validation is refused (SL_ECORRUPT family) and
 *     nothing is written;
 *   - the writer's pool has no write buffer to give (every one holds
 *     data not yet durable): SL_EFULL, counted in pool_empty;
 *   - the write buffer is full: SL_EFULL; run swriter_do_work() or
 *     swriter_wait() and retry (backpressure, never an unbounded queue).
 *     A rollback (below) may happen inside that wait: the retried append
 *     then lands where the rollback left the log, after durable_cb
 *     reported the error;
 *   - a write or fdatasync fails (ENOSPC, EIO): everything after the
 *     durable offset is rolled back, durable_cb reports the error once, and
 *     the next append starts again at the durable offset, or above the
 *     offsets that had been written (written_cb may have reported them:
 *     they are covered by one batch without records, never given again);
 *   - a crash: slog_open() scans every segment past the recovery point,
 *     truncates at the first invalid batch and rebuilds the indexes; after
 *     a power cut (another boot) it continues above every offset it may
 *     have handed out (recovery.c).
 *
 * Every file and directory operation goes through the swriter's disk
 * (storage/disk.h): the kernel's file system, or a simulated one in tests.
 */
#ifndef SLUICE_STORAGE_LOG_H
#define SLUICE_STORAGE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sluice/error.h"

struct sdisk;
struct swriter;
struct slog;

/* Time, handed in so tests can run on a fake clock. */
struct sl_clock {
	uint64_t (*mono_ns)(void *ctx); /* monotonic, for group commit */
	int64_t (*wall_ms)(void *ctx);  /* wall clock, for roll and retention */
	void *ctx;
};

/* The real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME). */
extern const struct sl_clock sl_clock_system;

enum slog_durability {
	/* fdatasync after every append before durable_cb covers it (acks=all
	 * on one node).  Appends arriving while a sync is in flight are
	 * covered by the next one. */
	SLOG_SYNC_EVERY_APPEND = 0,
	/* fdatasync once group_commit_bytes are pending or the oldest pending
	 * append is group_commit_us old, whichever comes first. */
	SLOG_SYNC_GROUP = 1,
};

/* How a new segment file is prepared before data is written into it. */
enum slog_prepare {
	SLOG_PREPARE_APPEND = 0,    /* plain appends: the file grows */
	SLOG_PREPARE_FALLOCATE = 1, /* fallocate(segment_bytes) up front */
	SLOG_PREPARE_RECYCLE = 2,   /* reuse files freed by retention, which
				       are already written; else append */
};

struct slog_config {
	const char *topic;        /* directory name is <topic>-<partition> */
	int32_t partition;
	uint64_t segment_bytes;   /* roll when a segment would exceed this;
				     default 1 GiB, max 2 GiB - 1 */
	int64_t segment_ms;       /* roll when the active segment's first
				     append is this old; default 7 days */
	uint32_t index_interval_bytes; /* bytes between index entries;
					  default 4096 */
	int64_t retention_ms;     /* -1: keep forever; default 7 days */
	int64_t retention_bytes;  /* -1: unlimited (default) */
	uint32_t batch_max_bytes; /* default 1048588, Kafka's
				     message.max.bytes */
	uint32_t buffer_bytes;    /* size of the write buffer (and tail cache)
				     the log takes from its writer's pool
				     while it has data on its way to the
				     disk; default 8 MiB, >= 2 * batch_max */
	enum slog_durability durability;
	uint64_t group_commit_bytes; /* default 1 MiB */
	uint64_t group_commit_us;    /* default 2000 */
	uint32_t write_chunk_bytes;  /* submit full blocks once this many are
					pending; default 256 KiB */
	enum slog_prepare prepare;   /* default RECYCLE: docs/storage.md */
	int32_t leader_epoch;        /* stamped into every appended batch
					(slog_set_leader_epoch changes it) */
	/* A replicated partition's log (a cluster): its offsets come from
	 * the partition's leader, which gives again what this log lost.  At
	 * an unclean stop or a rollback the offsets handed out and lost are
	 * not skipped (recovery.c): the next append takes them.  Default
	 * 0: skipped, so that no offset is given to two batches. */
	uint8_t keep_offsets;

	/* Called from swriter_do_work()/swriter_wait() when the durable
	 * offset advances (err == 0: every offset < durable_end is on disk)
	 * or when a write/sync failed (err < 0: the log was rolled back to
	 * durable_end; appends past it are gone and must be retried).
	 * It may call slog_append() (which returns SL_EFULL there when the
	 * segment would have to roll), slog_read() and the getters; it
	 * must not call slog_sync(), slog_roll(), slog_truncate() or
	 * slog_close() (they wait for I/O and would re-enter the writer). */
	void (*durable_cb)(void *ctx, struct slog *log, int64_t durable_end,
			   int err);
	/* Optional.  Called the same way when the written offset advances:
	 * every offset < written_end is in the segment file (it survives a
	 * crash of the process, not a power cut: acks=1).  Same rules as
	 * durable_cb; a rollback is reported through durable_cb only. */
	void (*written_cb)(void *ctx, struct slog *log, int64_t written_end);
	void *cb_ctx;

	/* One line per event a person should see (recovery results, errors).
	 * level: 0 error, 1 warning, 2 info.  NULL: print to stderr. */
	void (*log_fn)(void *ctx, int level, const char *line);
	void *log_ctx;

	const struct sl_clock *clock; /* NULL: sl_clock_system */
};

/* Fill cfg with the defaults above (topic NULL, partition 0). */
void slog_config_defaults(struct slog_config *cfg);

struct swriter_config {
	unsigned queue_depth;    /* io_uring entries; default 256 */
	unsigned max_logs;       /* logs attached at once; default 64 */
	int use_hugepages;       /* 1: try MAP_HUGETLB for write buffers,
				    fall back silently; default 1 */
	int register_buffers;    /* 1: register write buffers and files with
				    the ring (fixed ops); default 1 */
	/* The write buffer pool.  A log takes a buffer when it appends and
	 * gives it back once everything it appended is durable and it has
	 * not appended for buffer_idle_ms, or at once when another log
	 * needs one and the pool is spent; an idle log holds no buffer and
	 * no write descriptor.  Buffers are created on first use, up to
	 * buffers of them and buffer_pool_bytes in all, and kept. */
	unsigned buffers;           /* default 64 */
	uint64_t buffer_pool_bytes; /* default 512 MiB */
	uint32_t buffer_idle_ms;    /* default 1000 */
	/* Where the logs' files live (storage/disk.h); NULL: the kernel's
	 * file system.  A disk whose handles are not kernel descriptors
	 * (the simulated disk in tests) is written synchronously at
	 * submission instead of through io_uring; everything else is the
	 * same code. */
	const struct sdisk *disk;
};

void swriter_config_defaults(struct swriter_config *cfg);

/* The writer's pool (single writer: the owning thread). */
struct swriter_stats {
	uint64_t buffers;       /* created */
	uint64_t buffer_bytes;  /* their bytes */
	uint64_t in_use;        /* held by logs now */
	uint64_t takes;         /* buffers given to logs */
	uint64_t idle_releases; /* given back after buffer_idle_ms */
	uint64_t steals;        /* taken back from a durable log for another */
	uint64_t empty;         /* SL_EFULL: nothing to give */
	uint64_t logs;          /* attached */
};

void swriter_get_stats(const struct swriter *w, struct swriter_stats *out);

/*
 * Create a writer: one io_uring for one storage thread.
 * Returns 0 and *out, or -errno (e.g. -ENOMEM, -ENOSYS without io_uring).
 */
int swriter_create(const struct swriter_config *cfg, struct swriter **out);

/* Destroy a writer.  Every log attached to it must be closed first. */
void swriter_destroy(struct swriter *w);

/*
 * One duty cycle: submit pending writes and syncs of every attached log as
 * their policies ask, reap completions without blocking, call durable_cb.
 * Returns the amount of work done (completions reaped + submissions), 0
 * when idle, or -errno if the ring itself failed.
 */
int swriter_do_work(struct swriter *w);

/*
 * Like swriter_do_work(), but blocks until at least one completion arrives
 * or timeout_us passes (0: no timeout) when I/O is in flight.  Returns as
 * swriter_do_work(); 0 with nothing in flight.
 */
int swriter_wait(struct swriter *w, uint64_t timeout_us);

/*
 * Open (creating it if missing) the log of cfg->topic / cfg->partition in
 * base_dir/<topic>-<partition>/ and attach it to w.  Recovers after a crash:
 * see the file comment.  cfg is copied; cfg->topic must stay valid only
 * during the call.
 * Returns 0 and *out, or -errno, SL_ECONFIG, SL_ELAYOUT.
 */
int slog_open(struct swriter *w, const char *base_dir,
	      const struct slog_config *cfg, struct slog **out);

/*
 * Flush and fdatasync everything appended, fsync the indexes, write the
 * clean-shutdown recovery point, release the log.  durable_cb may run.
 * Returns 0 or the first error met (the log is released either way).
 */
int slog_close(struct slog *log);

/* What slog_append() assigned. */
struct slog_append_result {
	int64_t base_offset; /* offset of the batch's first record */
	int64_t last_offset; /* base_offset + last offset delta */
	int64_t log_append_ms; /* wall clock when appended */
};

/*
 * Validate one RecordBatch v2 (length, magic 2, CRC32C, record count vs
 * last offset delta), copy it into the write buffer, stamp base offset and
 * partition leader epoch in the copy (both outside the CRC) and in batch
 * itself, and return the assigned offsets.  The batch is not yet durable;
 * durable_cb says when it is.  Nothing is written if an error is returned.
 * Returns 0, SL_ELENGTH / SL_EMAGIC / SL_ECRC / SL_ETOOBIG (bad input),
 * SL_EFULL (backpressure: reap completions and retry), SL_ECLOSED, or
 * -errno from a segment roll (e.g. -ENOSPC creating the next segment).
 */
int slog_append(struct slog *log, uint8_t *batch, size_t len,
		struct slog_append_result *res);

/*
 * slog_append() for a batch the caller has already checked with
 * rb_validate() (the dataplane validates on its rx core): length, magic and
 * record count are checked again here, the CRC32C is not recomputed.
 * Returns as slog_append().
 */
int slog_append_validated(struct slog *log, uint8_t *batch, size_t len,
			  struct slog_append_result *res);

/*
 * A follower's append: the batch (rb_validate()d by the caller) keeps its
 * base offset and partition leader epoch, the leader's.  Its base offset
 * must be at or past slog_end_offset(); offsets in between (the leader's
 * log starts later, or has none there) are covered by one empty batch of
 * the batch's epoch, as after a rollback, so that the segment stays
 * contiguous.  Returns as slog_append_validated(), and SL_EOFFSET when
 * the base offset is below the end (nothing is written).
 */
int slog_append_replica(struct slog *log, uint8_t *batch, size_t len,
			struct slog_append_result *res);

/* The leader epoch stamped into the batches appended from now on (a new
 * leader, or this log's partition led by another epoch). */
void slog_set_leader_epoch(struct slog *log, int32_t epoch);

/* Ask for an fdatasync now, whatever the policy; it is submitted by the
 * next swriter_do_work().  Returns 0 or SL_ECLOSED. */
int slog_request_sync(struct slog *log);

/* Ask for everything appended so far to be written to the segment file
 * (the partial last block included) without an fdatasync: what acks=1
 * waits for.  written_cb reports it.  Returns 0 or SL_ECLOSED. */
int slog_request_flush(struct slog *log);

/*
 * Block until every batch appended so far is durable (or failed).
 * Returns 0, or the write/sync error that rolled the log back.
 */
int slog_sync(struct slog *log);

int64_t slog_start_offset(const struct slog *log);   /* first offset kept */
int64_t slog_end_offset(const struct slog *log);     /* next offset */
int64_t slog_durable_offset(const struct slog *log); /* all below durable */
int64_t slog_written_offset(const struct slog *log); /* all below written */

/* Where slog_read() found the bytes. */
struct slog_read_view {
	int64_t first_offset; /* base offset of the first batch returned */
	int64_t next_offset;  /* offset after the last batch returned */
	size_t len;           /* bytes, whole batches; 0 at the end */
	const uint8_t *mem;   /* non-NULL: bytes in the tail cache, valid until
				 the next append/truncate on this log, or
				 the next append to another log of the
				 writer, or swriter_do_work/wait (the
				 buffer may go back to the pool) */
	int fd;               /* mem == NULL: read len bytes of fd (a plain,
				 page-cache descriptor owned by the log) */
	uint64_t file_pos;    /* at this file position */
};

/*
 * Locate whole batches from offset onward, at most max_bytes of them, but
 * always at least the one holding offset (as Kafka's fetch does), and none
 * at or beyond limit_offset (pass slog_durable_offset() to read only what
 * is durable, slog_end_offset() for everything appended).  The first batch
 * may start before offset when offset is inside it.
 * Returns 0 with view->len == 0 when offset == limit (nothing yet),
 * 0 with the view filled, or SL_EOFFSET when offset < start or > end.
 */
int slog_read(struct slog *log, int64_t offset, size_t max_bytes,
	      int64_t limit_offset, struct slog_read_view *view);

/*
 * slog_read() and copy the bytes into buf (capacity cap).  Returns the
 * number of bytes copied (whole batches), 0 at the limit, SL_EOFFSET,
 * -ENOBUFS when the first batch alone is larger than cap, or -errno.
 */
ssize_t slog_read_copy(struct slog *log, int64_t offset, size_t max_bytes,
		       int64_t limit_offset, uint8_t *buf, size_t cap);

/*
 * The earliest offset whose record timestamp is >= timestamp_ms (Kafka's
 * ListOffsets).  For compressed batches the batch's base offset is
 * returned.  Returns the offset, or SL_ENOTFOUND when no record is that
 * recent, or -errno.
 */
int64_t slog_offset_for_time(struct slog *log, int64_t timestamp_ms);

/*
 * slog_offset_for_time(), and the found record's timestamp in *found_ts
 * (-1 when the offset is not found, or is a compressed batch's whose
 * records are not read).  Offsets below slog_start_offset() are never
 * answered: the search starts there.  found_ts may be NULL.
 */
int64_t slog_lookup_time(struct slog *log, int64_t timestamp_ms,
			 int64_t *found_ts);

/*
 * Kafka's ListOffsets MAX_TIMESTAMP (KIP-734): the largest record
 * timestamp in the log, returned, and in *offset the offset of the first
 * record that has it (a compressed batch: the batch's base offset).  The
 * largest timestamp is each segment's, kept in memory; the record is
 * found as slog_lookup_time() finds it.  Returns the timestamp,
 * SL_ENOTFOUND for a log with no records (or whose largest timestamp lies
 * below the start), or -errno.
 */
int64_t slog_max_timestamp(struct slog *log, int64_t *offset);

/*
 * Remove every batch at or after offset; a batch holding offset is
 * removed whole.  Syncs and waits for in-flight I/O first (durable_cb may
 * run meanwhile and report offsets that are cut right after), then
 * truncates files and indexes.  Returns the new end offset, or -errno.
 */
int64_t slog_truncate(struct slog *log, int64_t offset);

/*
 * Delete whole segments from the head while the oldest one's largest
 * timestamp is older than retention_ms, or while the log without the
 * oldest segment would still hold at least retention_bytes (Kafka's rule).
 * The active segment is never deleted.  With SLOG_PREPARE_RECYCLE up to
 * two deleted .log files are kept as <base>.recycle for the next rolls.
 * Returns the number of segments deleted, or -errno.
 */
int slog_apply_retention(struct slog *log);

/* New retention limits for the next slog_apply_retention (a topic's
 * retention.ms / retention.bytes changed while it is open); -1: none. */
void slog_set_retention(struct slog *log, int64_t retention_ms,
			int64_t retention_bytes);

/*
 * Kafka's DeleteRecords: readers no longer see offsets below offset
 * (slog_start_offset() becomes offset; slog_read answers SL_EOFFSET below
 * it; slog_offset_for_time never answers below it).  The start is written
 * to log-start-offset durably before this returns, so it never moves back,
 * not even after a power cut; segments wholly below it are deleted now
 * and by slog_apply_retention.  offset must be in [0, end]; the caller
 * resolves Kafka's -1 (the high watermark).  An offset at or below the
 * current start changes nothing.  Returns the new start (Kafka's low
 * watermark), SL_EOFFSET, or -errno.
 */
int64_t slog_delete_records(struct slog *log, int64_t offset);

/*
 * A follower whose leader no longer has the offsets it would fetch next
 * (retention or DeleteRecords moved the leader's start past this log's
 * end) starts over at offset, Kafka's truncateFullyAndStartAt: the start
 * becomes offset (durably first), [end, offset) is covered by empty
 * batches stamped with epoch (the offsets are never given to records),
 * and the segments wholly below the start are deleted.  An offset at or
 * below the end is slog_delete_records.  Returns the new end (offset), or
 * SL_EOFFSET (offset < 0 or the delete refused), SL_EFULL (no buffer for
 * the empty batches yet: call again, it continues), SL_ECLOSED or -errno.
 */
int64_t slog_start_at(struct slog *log, int64_t offset, int32_t epoch);

/* Force the active segment to roll (tests, admin).  Returns 0 or -errno. */
int slog_roll(struct slog *log);

/* Counters, single writer (the owning thread), readable by others. */
struct slog_stats {
	uint64_t appends;
	uint64_t append_bytes;
	uint64_t rejected_batches;
	uint64_t writes;
	uint64_t write_bytes;
	uint64_t fsyncs;
	uint64_t fsync_ns_total;
	uint64_t fsync_ns_max;
	uint64_t full_errors;      /* SL_EFULL returned */
	uint64_t pool_empty;       /* of those: no buffer in the pool */
	uint64_t buffer_takes;     /* write buffers taken from the pool */
	uint64_t io_errors;        /* failed writes/syncs */
	uint64_t segments_rolled;
	uint64_t segments_deleted;
	uint64_t delete_records;  /* starts moved by slog_delete_records */
	uint64_t starts_over;     /* slog_start_at past the end */
	uint64_t segments_recycled; /* new segments that reused a file */
	uint64_t cache_reads;
	uint64_t file_reads;
	uint64_t recovered_truncated_bytes;
	uint64_t skipped_offsets;  /* covered by empty batches after a
				      rollback or an unclean stop */
};

void slog_get_stats(const struct slog *log, struct slog_stats *out);

/* Number of segment files (tests, telemetry). */
unsigned slog_segment_count(const struct slog *log);
/* Bytes of the log's segments (valid batches, Kafka's partition size in
 * DescribeLogDirs), including what is not yet durable. */
uint64_t slog_size_bytes(const struct slog *log);

#endif
