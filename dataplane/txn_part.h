/*
 * Transactions as one partition sees them (Kafka's KIP-98; docs/kafka.md,
 * "Transactions: the partition side"): which transactions are still open
 * in the partition, which were aborted, and from those the last stable
 * offset (LSO) that read_committed consumers read up to.
 *
 *   - a transactional batch (attributes bit 4) of producer id P begins a
 *     transaction of P at its base offset when none of P is open, else it
 *     extends the open one;
 *   - a marker (a control batch, attributes bit 5: COMMIT or ABORT) of P
 *     at offset M ends P's open transaction; an ABORT adds (P, first
 *     offset, M) to the aborted list.  A marker with no open transaction
 *     is a transaction without data here (first offset = M), as in Kafka;
 *   - an ended transaction keeps holding the LSO back until the marker is
 *     durable (txn_part_durable: the high watermark passed M), so that a
 *     consumer never reads a transaction's outcome that a crash could take
 *     back;
 *   - LSO = the lowest first offset of the transactions not yet settled,
 *     or the high watermark when there are none (never above it, never
 *     below the log start: txn_part_trim);
 *   - a read_committed fetch of [from, to) also returns the aborted
 *     transactions with last offset >= from and first offset < to: the
 *     consumer drops their records itself.
 *
 * Memory: nothing until the first transactional batch or marker; then
 * arrays grown by doubling, up to TXN_OPEN_MAX transactions in progress
 * (txn_part_begin_ok says when a new one does not fit: the storage core
 * refuses its batch, retriably) and TXN_ABORTED_MAX aborted transactions
 * remembered (past the cap the oldest is forgotten and counted in
 * aborted_dropped: a consumer reading that far back would then see its
 * records as committed).  An allocation that fails is counted the same
 * way (open_lost, aborted_dropped).
 *
 * Pure: no I/O, no clock.  Single thread (the partition's storage core).
 */
#ifndef SLUICE_DATAPLANE_TXN_PART_H
#define SLUICE_DATAPLANE_TXN_PART_H

#include <stdbool.h>
#include <stdint.h>

#define TXN_OPEN_MAX 1024     /* transactions in progress per partition */
#define TXN_ABORTED_MAX 4096  /* aborted transactions kept per partition */

/* A control record's type (its key: int16 version 0, int16 type). */
enum txn_marker_type { TXN_ABORT = 0, TXN_COMMIT = 1 };

/* A transaction in progress, or ended and waiting for its marker to be
 * durable (end_offset >= 0). */
struct txn_open {
	int64_t producer_id;
	int64_t first_offset;  /* its first batch's base offset */
	int64_t last_offset;   /* its last batch's last offset so far */
	int64_t end_offset;    /* its marker's offset; -1: still open */
	int16_t epoch;         /* the producer's, newest seen */
};

/* An aborted transaction: offsets [first_offset, last_offset], the last
 * one its ABORT marker. */
struct txn_aborted {
	int64_t producer_id;
	int64_t first_offset;
	int64_t last_offset;
};

struct txn_part {
	struct txn_open *open;       /* unordered; NULL until needed */
	uint32_t nopen, open_cap;
	struct txn_aborted *aborted; /* ring, in marker (last offset) order */
	uint32_t aborted_head;       /* index of the oldest */
	uint32_t naborted, aborted_cap; /* cap: 0 or a power of two */
	/* counters (single writer: the owning thread) */
	uint64_t open_refused;       /* txn_part_begin_ok said no */
	uint64_t open_lost;          /* began while full or out of memory:
					not tracked (the LSO ignores it) */
	uint64_t aborted_dropped;    /* forgotten: the cap, or no memory */
	uint64_t markers;            /* markers recorded */
};

/* An empty state; nothing is allocated yet. */
void txn_part_init(struct txn_part *t);
/* Free its memory (t may be used again after txn_part_init). */
void txn_part_fini(struct txn_part *t);
/* Forget every transaction (the log is about to be read again from its
 * start); keeps the memory and the counters. */
void txn_part_reset(struct txn_part *t);

/* May a transactional batch of producer_id be appended?  true when a
 * transaction of it is open, or a new one fits (else counted in
 * open_refused: the caller refuses the batch). */
bool txn_part_begin_ok(struct txn_part *t, int64_t producer_id);

/* A batch was appended (or found in the log) over [base_offset,
 * last_offset] with these header fields.  Anything but a transactional,
 * non-control batch with producer id >= 0 changes nothing. */
void txn_part_on_batch(struct txn_part *t, int64_t producer_id,
		       int16_t epoch, int16_t attributes, int64_t base_offset,
		       int64_t last_offset);

/* A marker of type (TXN_ABORT / TXN_COMMIT) of producer_id was appended
 * (or found in the log) at offset, after every offset recorded so far.
 * Returns 1 when it ended an open transaction, 0 when there was none
 * (a transaction without data here), -EINVAL for another type (nothing
 * recorded). */
int txn_part_on_marker(struct txn_part *t, int64_t producer_id,
		       int16_t epoch, int type, int64_t offset);

/* Everything below high_watermark is durable: ended transactions whose
 * marker is below it stop holding the LSO back. */
void txn_part_durable(struct txn_part *t, int64_t high_watermark);

/* The newest epoch of producer_id among its transactions here, or -1
 * when none is known. */
int txn_part_epoch(const struct txn_part *t, int64_t producer_id);

/* The first offset of producer_id's transaction still open here (no
 * marker yet), or -1 (Kafka's DescribeProducers CurrentTxnStartOffset). */
int64_t txn_part_open_start(const struct txn_part *t, int64_t producer_id);

/* The last stable offset for a high watermark: at most high_watermark. */
int64_t txn_part_lso(const struct txn_part *t, int64_t high_watermark);

/* The aborted transactions that overlap [from, to) (last offset >= from,
 * first offset < to), oldest first, at most max of them into out (NULL
 * with max 0 to count).  Returns how many overlap (may be > max: only max
 * were written). */
uint32_t txn_part_aborted_in(const struct txn_part *t, int64_t from,
			     int64_t to, struct txn_aborted *out,
			     uint32_t max);

/* The log now starts at log_start (retention, DeleteRecords): aborted
 * transactions that ended below it are forgotten; open ones that began
 * below it begin there (the LSO never falls below the log start). */
void txn_part_trim(struct txn_part *t, int64_t log_start);

/* Parse a control batch's record key (klen bytes): 0 with *type, or
 * -EINVAL when it is not a COMMIT/ABORT key (version >= 0, type 0 or 1;
 * a null key is NULL). */
int txn_marker_key(const uint8_t *key, int32_t klen, int *type);

/* The coordinator epoch of a control record's value (vlen bytes: int16
 * version >= 0, int32 epoch, Kafka's EndTransactionMarker), or -1 when
 * the value is not one. */
int32_t txn_marker_coord_epoch(const uint8_t *value, int32_t vlen);

#endif
