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
 * Threading: not thread-safe; the dataplane serialises reservations.
 */
#ifndef SLUICE_DATAPLANE_PRODUCER_IDS_H
#define SLUICE_DATAPLANE_PRODUCER_IDS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct sdisk;

#define PID_BLOCK_IDS 4096
#define PID_FIRST 1000 /* the first id of a new data directory */

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

#endif
