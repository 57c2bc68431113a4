/*
 * Which topic a partition directory belongs to.
 *
 * <data_dir>/<topic>-<partition>/topic_id holds the decimal id of the
 * topic whose data the directory holds, and a newline.  Topic names are
 * reused (a topic deleted, then created again), ids never are: a
 * directory whose topic_id names another id holds a deleted topic's data
 * (its removal did not finish, or happened while sluiced was down) and is
 * removed before the new topic's partition opens, so the new topic never
 * serves it.  A directory without the file (made before it existed) is
 * taken as the topic's own.
 *
 * A directory is removed by renaming it first to
 * <data_dir>/trash+<topic>-<partition>+<id> ('+' is in no topic name),
 * durably, then removing that tree: a power cut in the middle never leaves
 * a partition directory that lost its topic_id but kept data.
 * pdir_sweep() finishes such removals at start.
 */
#ifndef SLUICE_DATAPLANE_PARTITION_DIR_H
#define SLUICE_DATAPLANE_PARTITION_DIR_H

#include <stddef.h>
#include <stdint.h>

struct sdisk;

/*
 * Make data_dir/<topic>-<part> the directory of topic id: remove it first
 * when it belongs to another id, then create it and record the id, both
 * durably.  Returns 1 when an earlier topic's data was removed, 0 when the
 * directory was already this topic's or new, or -errno with err filled.
 */
int pdir_claim(const struct sdisk *d, const char *data_dir, const char *topic,
	       int32_t part, uint32_t id, char *err, size_t errlen);

/*
 * Remove data_dir/<topic>-<part> if it belongs to topic id (or records no
 * id), durably.  Returns 1 when removed, 0 when there was nothing of that
 * id, or -errno with err filled.
 */
int pdir_remove(const struct sdisk *d, const char *data_dir,
		const char *topic, int32_t part, uint32_t id, char *err,
		size_t errlen);

/*
 * Remove what earlier removals left under data_dir (trash+ directories).
 * Returns how many were removed, or -errno with err filled.
 */
int pdir_sweep(const struct sdisk *d, const char *data_dir, char *err,
	       size_t errlen);

#endif
