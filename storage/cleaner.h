/*
 * Log compaction (Kafka's cleanup.policy=compact): the cleaner keeps, in
 * the sealed segments of a partition log, only the last record of each
 * key, and removes deletes (records with a null value, "tombstones") once
 * delete_retention_ms have passed since they were first cleaned.
 *
 * Happy path, on the storage core that owns the logs:
 *   scleaner_create(&ccfg, &c)                 once per storage core
 *   slog_clean(c, log, &cfg, budget, &prog)    between appends, as often
 *                                              as there is time; each
 *                                              call does at most about
 *                                              budget bytes of I/O and
 *                                              returns
 *   scleaner_destroy(c)                        after the logs are closed
 *
 * One pass over a log, spread over as many calls as its size needs:
 *   1. due?  The cleanable range is the sealed segments from the log's
 *      first segment up to (not including) the first segment whose
 *      largest timestamp is younger than min_compaction_lag_ms, or the
 *      active segment.  The part of it after the last pass (the dirty
 *      part) must be more than min_cleanable_dirty_ratio of its bytes;
 *      or the first dirty batch is older than max_compaction_lag_ms; or,
 *      with nothing dirty enough, a tombstone's delete horizon has
 *      passed (Kafka's rules, KIP-58 and KIP-354).
 *   2. map: the dirty part is read and every key's latest offset noted;
 *      the whole range's batch headers give each producer id's last
 *      batch.
 *   3. clean: each segment of the range is rewritten to
 *      <base>.log.cleaned with its indexes, keeping a record only if it
 *      is its key's latest; synced; then swapped in (crash-safe: see
 *      cleaner.c) and the in-memory segment follows.
 *   4. the offset after the range is written to cleaner-offset: the next
 *      pass's dirty part starts there.
 *
 * What a pass never does: touch the active segment, change an offset, or
 * hold appends back: it runs only inside slog_clean, in bounded steps,
 * and reads and writes its own files through the page cache.  Readers
 * see a segment before its swap or after it, never a mix (the swap is
 * done between two calls on the owning thread).
 *
 * Threading: as storage/log.h: the cleaner and the logs it cleans belong
 * to one thread.  A cleaner works on one log at a time; a pass left
 * unfinished on one log is abandoned (its temporary files removed) when
 * slog_clean is called for another, or when the log is closed.
 */
#ifndef SLUICE_STORAGE_CLEANER_H
#define SLUICE_STORAGE_CLEANER_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/log.h"

struct scleaner;

/* Per topic: Kafka's topic configs of the same names. */
struct slog_clean_config {
	double min_cleanable_dirty_ratio; /* default 0.5 */
	int64_t min_compaction_lag_ms;    /* default 0 */
	int64_t max_compaction_lag_ms;    /* default INT64_MAX (off) */
	int64_t delete_retention_ms;      /* default 86400000 (1 day) */
};

void slog_clean_config_defaults(struct slog_clean_config *cfg);

/* Per cleaner (one per storage core). */
struct scleaner_config {
	/* Kafka's log.cleaner.io.max.bytes.per.second: bytes read plus
	 * written per second, over all logs; 0: unbounded (default). */
	uint64_t io_bytes_per_sec;
	/* Memory for the key map (keys and their offsets, exact: no hash is
	 * trusted to tell keys apart); Kafka's log.cleaner.dedupe.buffer.size.
	 * A pass maps as many whole dirty segments as fit; default 64 MiB. */
	uint64_t map_bytes;
	/* Largest batch read (>= every log's batch_max_bytes); default
	 * 1048588. */
	uint32_t batch_max_bytes;
	/* Largest decompressed record set; a batch above it is kept as it is
	 * (counted); default 32 MiB. */
	uint32_t records_max_bytes;
	const struct sl_clock *clock;     /* NULL: sl_clock_system */
};

void scleaner_config_defaults(struct scleaner_config *cfg);

/* Returns 0 and *out, SL_ECONFIG, or -ENOMEM. */
int scleaner_create(const struct scleaner_config *cfg, struct scleaner **out);
/* Abandons the pass in progress (its log must still be open). */
void scleaner_destroy(struct scleaner *c);

/* What one slog_clean call did. */
struct slog_clean_progress {
	uint64_t bytes_read;
	uint64_t bytes_written;
	bool pass_started;   /* a pass began in this call */
	bool pass_done;      /* a pass ended in this call */
	bool in_pass;        /* a pass is under way after this call */
	bool throttled;      /* io_bytes_per_sec allowed nothing more now */
};

/*
 * Do at most about budget_bytes of cleaning I/O on log (at least one
 * batch's worth, so progress is always made; the rate bound may allow
 * less).  Returns 1 when it worked (prog says what), 0 when the log has
 * nothing due (or the rate bound allowed nothing: prog->throttled), or an
 * error: SL_ECONFIG (log's batch_max_bytes above the cleaner's),
 * SL_ECLOSED, SL_ECORRUPT (a sealed segment does not read back: the pass
 * is abandoned, the log untouched), SL_EFULL (one dirty segment's keys
 * do not fit the map), -errno from the disk.  After an error the pass is
 * abandoned and the log is as it was before the segment being cleaned.
 * prog may be NULL.
 */
int slog_clean(struct scleaner *c, struct slog *log,
	       const struct slog_clean_config *cfg, uint64_t budget_bytes,
	       struct slog_clean_progress *prog);

/* Counters per cleaner, single writer (the owning thread). */
struct scleaner_stats {
	uint64_t passes;            /* completed */
	uint64_t passes_abandoned;  /* the log changed under it, or an error */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t segments_cleaned;  /* swapped in */
	uint64_t segments_unchanged;/* rewritten identical: not swapped */
	uint64_t records_removed;   /* superseded by a later record of the key */
	uint64_t tombstones_removed;/* after their delete horizon */
	uint64_t keyless_removed;   /* records without a key (Kafka drops them) */
	uint64_t batches_rebuilt;
	uint64_t batches_removed;   /* wholly, folded into empty batches */
	uint64_t batches_emptied;   /* kept as a header: a producer's last */
	uint64_t batches_kept_whole;/* could not be decoded or rebuilt */
	uint64_t throttled;         /* calls the rate bound cut short */
	uint64_t map_full;          /* passes that mapped less than was dirty */
};

void scleaner_get_stats(const struct scleaner *c, struct scleaner_stats *out);

/* The offset where the next pass's dirty part starts (tests, telemetry):
 * what cleaner-offset holds, 0 when there is none. */
int64_t slog_clean_offset(struct slog *log);

#endif
