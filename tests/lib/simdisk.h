/*
 * The simulated disk: storage/disk.h's interface over files and
 * directories in memory, keeping what was synced apart from what was not,
 * so that a power cut drops or tears exactly what a real one may.
 *
 * The model (storage/disk.h states the contract it enforces):
 *   - a file has its current bytes and its synced bytes; sd_fsync and
 *     sd_fdatasync make the current ones synced.  At a power cut each
 *     4 KiB block written since the last sync comes back, independently
 *     and as the seeded random source decides, new or old (zeros where
 *     the old file was shorter), and the size comes back old or new;
 *   - a directory has its current entries, its synced entries, and the
 *     list of changes (create, unlink, rename in, rename out, mkdir,
 *     rmdir) made since its last sd_fsync_dir.  At a power cut it comes
 *     back as its synced entries plus a random prefix of that list: a
 *     rename within one directory is one change (atomic), across two it
 *     is two;
 *   - after simdisk_power_cut() every call fails with -EIO until
 *     simdisk_power_on(): the process that held the handles is gone, and
 *     whatever it does while it is torn down must not reach the disk.
 *     simdisk_power_on() also gives a new boot id;
 *   - a handle opened with O_DIRECT only accepts reads and writes whose
 *     offset and length are multiples of 512, as the kernel insists;
 *   - optional faults: after a countdown of writes and syncs, one (or
 *     every following) write or sync fails with a chosen error.
 *
 * Paths are absolute ("/data/t-0/..."); "." and ".." components are not
 * understood.  Single-threaded.
 */
#ifndef SLUICE_TESTS_SIMDISK_H
#define SLUICE_TESTS_SIMDISK_H

#include <stdint.h>

#include "storage/disk.h"

struct simdisk;

/* A new empty disk (only "/") drawing its random choices from seed. */
struct simdisk *simdisk_create(uint64_t seed);
void simdisk_destroy(struct simdisk *s);

/* The interface to hand to the code under test (valid until destroy). */
const struct sdisk *simdisk_disk(struct simdisk *s);

/* Cut the power: drop and tear what was not synced (see above); every
 * later call fails with -EIO until simdisk_power_on(). */
void simdisk_power_cut(struct simdisk *s);
/* The process dies (SIGKILL): its handles are gone and every later call
 * fails with -EIO until simdisk_power_on(), but everything written stays,
 * synced or not (the page cache survives), and the boot id is kept. */
void simdisk_crash(struct simdisk *s);
/* Power (or the process) back: a new boot id after a cut. */
void simdisk_power_on(struct simdisk *s);

/* Cut the power just before the (countdown + 1)-th write, sync or
 * namespace change from now: inside whatever operation is running, which
 * then sees -EIO.  0 turns it off. */
void simdisk_cut_after(struct simdisk *s, uint64_t countdown);
/* 1 between a power cut and simdisk_power_on(). */
int simdisk_dead(const struct simdisk *s);

/* Make every write, sync and namespace change fail with err after
 * countdown more of them succeed; repeat: every one after that fails too.
 * err 0 turns the fault off. */
void simdisk_fail_after(struct simdisk *s, uint64_t countdown, int err,
			int repeat);

/* Counters for the test's report. */
struct simdisk_stats {
	uint64_t writes, syncs, dir_syncs, cuts;
	uint64_t blocks_torn;     /* unsynced blocks that came back old */
	uint64_t blocks_kept;     /* unsynced blocks that came back new */
	uint64_t dir_changes_lost;
	uint64_t dir_changes_kept;
	uint64_t faults;
};
void simdisk_get_stats(const struct simdisk *s, struct simdisk_stats *out);

/* Open handles (a test checks for leaks after closing everything). */
unsigned simdisk_open_handles(const struct simdisk *s);

#endif
