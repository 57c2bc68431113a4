/*
 * A record log: the durable file under each of sluice-control's stores
 * that are a sequence of records applied in order (the committed offsets,
 * control/offsets.h; the transaction state, control/txnlog.h).  This
 * module is the file; the store says what a record is.
 *
 * The file is a 16-byte header (u32 magic, u16 version, u16 16, u32 0,
 * u32 CRC32C of the 12 bytes before it; big-endian) and then records, each
 * as long as the store's check says (the stores start each record with its
 * length and end it with its CRC).
 *
 *   - open: a missing file is created (the header alone, durably); an
 *     existing one is read whole, every record handed to apply in order;
 *     the first record the check refuses ends the log, and the file is
 *     truncated there and the truncation fdatasync'ed (a torn append was
 *     never acknowledged, and a whole record of that batch beyond the torn
 *     one must not be read after the next append overwrote it).  A header
 *     that is not valid, or of a version the format does not read, leaves
 *     the file alone and fails with -EBADMSG and the store's advice.
 *   - append: a batch of records is written at the end and fdatasync'ed
 *     before batch_end returns 0; a failed append is truncated away again
 *     and that fdatasync'ed (else the log is broken: every later append
 *     fails until it is reopened).
 *   - rewrite: the store writes its live records into an image in memory,
 *     which replaces the file atomically (sd_replace: <file>.tmp,
 *     fdatasync, rename, fsync of the directory); after a crash the old
 *     file or the new one, never a mix.  A stale .tmp is deleted at the
 *     open.  A failed rewrite leaves the old file and is not tried again
 *     until the file has doubled.
 *
 * Every file operation goes through storage/disk.h.  Single-threaded.
 */
#ifndef SLUICE_CONTROL_RECLOG_H
#define SLUICE_CONTROL_RECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_RECLOG_HEADER_BYTES 16
#define SL_RECLOG_IO_BYTES (64 * 1024) /* the largest record fits */

struct sdisk;
struct sl_reclog;

struct sl_reclog_format {
	const char *file;         /* the file's name in its directory */
	uint32_t magic;
	uint16_t version;         /* written */
	uint16_t old_version;     /* also read (0: none) */
	size_t record_max;        /* bytes, <= SL_RECLOG_IO_BYTES */
	/* The length of the valid record at p (avail bytes there; at least
	 * record_max unless the file ends sooner) in a file of version, or
	 * 0 when it is not one. */
	size_t (*check)(const uint8_t *p, size_t avail, uint16_t version);
	/* The end of the message for a header that is not valid: what the
	 * file is and what to do ("an offsets file ... and was left ...") */
	const char *damaged;
};

/* A valid record read at the open (len bytes, a file of version): 0, or
 * -errno to stop the open. */
typedef int (*sl_reclog_apply_fn)(void *arg, const uint8_t *rec, size_t len,
				  uint16_t version);

/*
 * Open (creating dir and its parents if needed, durably) dir/<file>, apply
 * every record, and return 0 with *out and the version read in *version
 * (a new file: the format's), or -errno with err holding one line a person
 * can act on.
 */
int sl_reclog_open(const struct sdisk *d, const char *dir,
		   const struct sl_reclog_format *f, sl_reclog_apply_fn apply,
		   void *arg, struct sl_reclog **out, uint16_t *version,
		   char *err, size_t errlen);
void sl_reclog_close(struct sl_reclog *s);

bool sl_reclog_broken(const struct sl_reclog *s);
uint64_t sl_reclog_size(const struct sl_reclog *s); /* header included */
const char *sl_reclog_path(const struct sl_reclog *s);

/* A batch: begin, then for each record reserve room for record_max
 * bytes, write the record there and add its length; end writes what is
 * left and fdatasyncs: 0, or -errno (nothing of the batch counts). */
void sl_reclog_batch_begin(struct sl_reclog *s);
uint8_t *sl_reclog_batch_room(struct sl_reclog *s);
void sl_reclog_batch_add(struct sl_reclog *s, size_t len);
int sl_reclog_batch_end(struct sl_reclog *s);

/* Whether a rewrite is due: the file is at least min_bytes and ratio
 * times the header and live_bytes, and not within a failed rewrite's
 * back-off. */
bool sl_reclog_compact_due(const struct sl_reclog *s, uint64_t live_bytes,
			   uint64_t min_bytes, uint64_t ratio);

/* A rewrite: begin, then room/add per live record as for a batch (room is
 * NULL once memory ran out: the rewrite then fails), end replaces the
 * file: 0 or -errno. */
void sl_reclog_rewrite_begin(struct sl_reclog *s);
uint8_t *sl_reclog_rewrite_room(struct sl_reclog *s);
void sl_reclog_rewrite_add(struct sl_reclog *s, size_t len);
int sl_reclog_rewrite_end(struct sl_reclog *s);

#endif
