/*
 * Idempotent producers: Kafka's rules for one partition (docs/protocol.md,
 * "Idempotence").  For each producer id the table keeps the epoch and the
 * last IDEM_WINDOW batches (base and last sequence, offsets assigned).
 *
 *   - producer id < 0: not idempotent, always appended;
 *   - unknown producer id, or a newer epoch, or an epoch known only from
 *     a transaction marker (idem_fence): appended, whatever the sequence;
 *   - older epoch: SN_ERR_INVALID_PRODUCER_EPOCH;
 *   - same (base, last) sequence as one of the last five: a duplicate,
 *     answered with its original offsets;
 *   - base sequence = last sequence + 1 (wrapping at 2^31): appended;
 *   - anything else: SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * Memory: nothing until the first idempotent batch (a partition only
 * written by plain producers, or not written at all, costs the struct
 * alone), then IDEM_PROBE producers (about 1.1 KiB), doubled when a new
 * producer finds its probe window full, up to the cap given at init; at
 * the cap a producer that does not fit evicts the least recently used one
 * among its probe window (its state is then lost, as Kafka loses it when
 * the producer state expires).  An allocation that fails is counted as an
 * eviction: the producer is not remembered.
 *
 * Pure: no I/O, no clock.  Single thread (the partition's storage core).
 */
#ifndef SLUICE_DATAPLANE_IDEM_H
#define SLUICE_DATAPLANE_IDEM_H

#include <stdint.h>

#define IDEM_WINDOW 5
#define IDEM_PROBE 8

struct idem_batch {
	int32_t base_seq;
	int32_t last_seq;
	int64_t base_offset;
	int64_t last_offset;
};

struct idem_producer {
	int64_t producer_id; /* -1: free slot */
	int16_t epoch;
	uint8_t count;       /* batches kept, <= IDEM_WINDOW */
	uint8_t newest;      /* index of the newest batch in b[] */
	int32_t coord_epoch; /* the highest coordinator epoch of its
				markers, -1: none seen */
	uint64_t last_use;   /* table tick, for eviction */
	struct idem_batch b[IDEM_WINDOW];
};

struct idem_table {
	struct idem_producer *slots; /* NULL until the first producer */
	uint32_t cap;     /* slots, a power of two; 0 before the first */
	uint32_t cap_max; /* slots at most */
	uint64_t tick;
	uint64_t evictions;
};

enum idem_verdict {
	IDEM_APPEND = 0,
	IDEM_DUPLICATE = 1,
};

/* An empty table for at most cap producers (rounded up to a power of
 * two, >= IDEM_PROBE); nothing is allocated yet.  Returns 0. */
int idem_init(struct idem_table *t, uint32_t cap);
void idem_fini(struct idem_table *t);

/* Last sequence of a batch of `count_delta` = last offset delta. */
int32_t idem_last_seq(int32_t base_seq, int32_t last_offset_delta);

/*
 * Decide what to do with a batch.  Returns IDEM_APPEND, IDEM_DUPLICATE
 * (with *dup filled: the original batch), -SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER
 * or -SN_ERR_INVALID_PRODUCER_EPOCH.  Changes nothing.
 */
int idem_check(struct idem_table *t, int64_t producer_id, int16_t epoch,
	       int32_t base_seq, int32_t last_seq, struct idem_batch *dup);

/* Record a batch that was appended (or found in the log at open); may
 * allocate (see Memory above). */
void idem_record(struct idem_table *t, int64_t producer_id, int16_t epoch,
		 int32_t base_seq, int32_t last_seq, int64_t base_offset,
		 int64_t last_offset);

/*
 * A transaction marker of producer_id at epoch was appended (or found in
 * the log).  A newer epoch than the table's becomes the producer's, with
 * no batch yet: batches of older epochs are then refused
 * (SN_ERR_INVALID_PRODUCER_EPOCH: the coordinator's epoch bump reaches
 * the partition with its marker, and a zombie producer cannot open a
 * transaction here after it), and the first batch of the new epoch may
 * start at any sequence.  The same or an older epoch changes nothing (a
 * marker has no sequence of its own).  The marker's coordinator epoch
 * becomes the producer's when it is higher (idem_coord_epoch).
 */
void idem_fence(struct idem_table *t, int64_t producer_id, int16_t epoch,
		int32_t coord_epoch);

/* The highest coordinator epoch of producer_id's markers here (Kafka's
 * ProducerStateEntry.coordinatorEpoch): a marker of a lower one comes
 * from a coordinator that has lost the producer's transactional id and
 * is refused (TRANSACTION_COORDINATOR_FENCED).  -1: no marker seen, or
 * the producer was evicted. */
int32_t idem_coord_epoch(struct idem_table *t, int64_t producer_id);

/* Forget everything (the log was truncated or rolled back). */
void idem_reset(struct idem_table *t);

#endif
