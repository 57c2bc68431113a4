/*
 * Producer ids (Kafka's INIT_PRODUCER_ID): unique for the life of a data
 * directory, across restarts and power cuts.
 *
 * <data_dir>/run/producer_id holds the first id of the next unreserved
 * block.  A block of PID_BLOCK_IDS ids is reserved (the file replaced
 * atomically and durably, storage/disk.h sd_replace) before any id of it
 * is handed out, so a crash skips at most the rest of a block and never
 * repeats an id.  The file format is in producer_ids.c's opening comment.
 *
 * A file that exists but cannot be read as that format stops the start
 * (pid_store_open fails with a message naming the file and what to do):
 * guessing would hand out ids that producers already hold.
 *
 * Threading: struct pid_store is not thread-safe.  struct pid_blocks wraps
 * it for the dataplane: any thread takes ids (an atomic counter), and the
 * thread that runs past the reserved block reserves the next one under a
 * mutex - a file write once per PID_BLOCK_IDS ids, never per request.
 */
#ifndef SLUICE_DATAPLANE_PRODUCER_IDS_H
#define SLUICE_DATAPLANE_PRODUCER_IDS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct sdisk;

#define PID_BLOCK_IDS 4096
#define PID_FIRST 1000 /* the first id of a new data directory */
/* In a cluster a broker's ids are node id * PID_NODE_SPAN + its data
 * directory's id (dp_producer_id): ranges that never meet. */
#define PID_NODE_SPAN (INT64_C(1) << 44)

struct pid_store {
	const struct sdisk *disk;
	char path[PATH_MAX];
	int64_t next;         /* first id not yet handed out */
	int64_t reserved_end; /* ids below this are reserved on disk */
};

/*
 * Read run_dir/producer_id (a missing file: a new data directory, ids from
 * PID_FIRST) and reserve the first block.  Returns 0, or -errno /
 * -EBADMSG (damaged file) with err holding one line a person can act on.
 */
int pid_store_open(struct pid_store *ps, const struct sdisk *d,
		   const char *run_dir, char *err, size_t errlen);

/*
 * Reserve the block that starts at from (from >= reserved_end - the ids
 * below it are never handed out again).  Returns 0 or -errno; on error
 * nothing beyond the old reservation may be handed out.
 */
int pid_store_reserve(struct pid_store *ps, int64_t from);

/* Parse the file's bytes: the next id, or -EBADMSG. */
int64_t pid_store_parse(const uint8_t *buf, size_t len);

/* The ids of one data directory, handed out to any thread. */
struct pid_blocks {
	_Atomic int64_t next;         /* the next id to hand out */
	_Atomic int64_t reserved_end; /* = store.reserved_end, published
					 after the block is on disk */
	struct pid_store store;       /* under lock */
	pthread_mutex_t lock;         /* block reservation only */
};

/*
 * pid_store_open on run_dir, then ready to hand out ids.  Returns 0, or
 * what pid_store_open returns, with err holding its message.  Start-up,
 * one thread.
 */
int pid_blocks_init(struct pid_blocks *pb, const struct sdisk *d,
		    const char *run_dir, char *err, size_t errlen);

/*
 * The next producer id (>= PID_FIRST, never handed out before in this
 * data directory), or -errno when the next block could not be reserved
 * (the id is then skipped, not handed out).  Any thread.
 */
int64_t pid_blocks_take(struct pid_blocks *pb);

/* sluiced's ids: pid_blocks_init on <data_dir>/run, logging the reason of
 * a failure; then pid_blocks_take (dataplane/dp.h's struct dp), in a
 * cluster within this node's range (PID_NODE_SPAN).  A broker whose data
 * directory was lost starts its range again: ids the controller hands
 * out, as Kafka's AllocateProducerIds, would not. */
struct dp;
int dp_producer_ids_init(struct dp *dp);
int64_t dp_producer_id(struct dp *dp);

#endif
