/*
 * The consumer-group offsets store (offsets.h has the contract).
 *
 * <dir>/offsets.log is appended to by the group coordinator (through its
 * committed-offsets table, commits.c): by every OffsetCommit (one record
 * per partition, one write and one fdatasync per request, then the
 * reply), by DeleteGroups and offset expiry (tombstones, made durable
 * before anything is forgotten) and by a group's becoming Empty (a state
 * record: when it did); it is read back whole at the open and rewritten
 * compactly when it has grown to SL_OFFSETS_COMPACT_RATIO times its live
 * size.  All integers big-endian; times are ms of the wall clock.
 *
 *   file header, 16 bytes:
 *     0   4  magic "SLGO"
 *     4   2  version (2; 1 is read, see below)
 *     6   2  header bytes (16)
 *     8   4  reserved, 0
 *     12  4  CRC32C of bytes [0, 12)
 *   then records of N bytes, each starting
 *     0   4  N, the record's length, this field and the CRC included
 *     4   1  type
 *     5   1  reserved, 0
 *     6   2  G, group id length, 1..255
 *   and ending with the CRC32C of bytes [0, N-4) in its last 4 bytes:
 *   type 1, an offset commit, N = 40 + G + T + (M or 0), 42 <= N <= 4640:
 *     8   2  T, topic name length, 1..249
 *     10  2  M, metadata length, 0..4096, or 0xffff: null metadata
 *     12  4  partition, >= 0
 *     16  8  committed offset (any value the client sent)
 *     24  4  committed leader epoch (-1: none)
 *     28  8  commit time
 *     36  G  group id
 *     ..  T  topic name
 *     ..  M  metadata (absent when null)
 *   type 2, a group's state, N = 20 + G: the group has had members (it is
 *   managed by the group protocol, and its offsets expire together):
 *     8   8  when it last became Empty, or -1: it had members
 *     16  G  group id
 *   type 3, an offset expired, N = 20 + G + T:
 *     8   2  T, topic name length, 1..249
 *     10  2  reserved, 0
 *     12  4  partition, >= 0
 *     16  G  group id
 *     ..  T  topic name
 *   type 4, a group deleted (DeleteGroups, or all its offsets expired), with
 *   its offsets and its state, N = 12 + G:
 *     8   G  group id
 *
 * The header is valid if and only if the file is at least 16 bytes long and
 * magic, version (1 or 2), header bytes, reserved and CRC are as above;
 * otherwise the file is not ours and is left alone (-EBADMSG, and a message
 * saying so).  A record is valid if and only if its N is within 13..4640
 * and within the file, its CRC matches, its type is 1 (version 1: only 1)
 * to 4, the reserved bytes are 0, G, T and M are within their bounds and
 * add up to N as the type says, the partition is >= 0 and a state's time
 * is >= -1.  Records are applied in file order (what applying means is the
 * coordinator's: a later commit for the same group, topic and partition
 * replaces the earlier; a tombstone removes what it names, if present; a
 * later state replaces the earlier); the first record that is not valid
 * ends the log and the file is truncated there, the truncation
 * fdatasync'ed (a torn append or a damaged tail: what it held was never
 * acknowledged, or the damage took it).  The truncation is what keeps
 * whole records of an unacknowledged batch that lie beyond a torn one from
 * being read after the next append has overwritten the torn one.  Version
 * 1 files hold commit times of a monotonic clock, meaningless after a
 * reboot: their commits are handed over as committed at the open, and the
 * file must be rewritten as version 2 before anything is appended.
 *
 * Every file operation goes through the struct sdisk given at the open.
 * The file is created by sd_replace (offsets.log.tmp holding the header,
 * fdatasync, rename, fsync of the directory), and a rewrite writes every
 * live record the same way, so a crash or power cut leaves the old file or
 * the new one, never a mix (a stale .tmp is deleted at the open);
 * tombstones and replaced commits are not copied, so what was deleted or
 * expired is then gone from the disk too.  An append is sd_pwrite at the
 * end, then sd_fdatasync (which makes the new size durable too).  A failed
 * append is truncated away and that fdatasync'ed; after a failed
 * fdatasync, a failed truncation, or a failed rewrite whose rename may
 * have happened (sd_replace does not say which step failed: the file now
 * at the path is looked at), what is on disk is unknown and the store is
 * broken until it is reopened.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/offsets.h"
#include "control/reclog.h"
#include "proto/record_batch.h" /* rb_put*, rb_be*, rb_crc32c */
#include "storage/disk.h"

#define FILE_MAGIC 0x534C474Fu /* "SLGO" */
#define FILE_VERSION 2
#define FILE_VERSION_MONO 1 /* commit times of a monotonic clock */
#define REC_COMMIT_FIXED 40 /* N of a commit without group id, topic and
			       metadata */
#define REC_STATE_FIXED 20  /* N of a state without the group id */
#define REC_EXPIRE_FIXED 20 /* ... of an expired offset without G and T */
#define REC_DELETE_FIXED 12 /* ... of a deleted group without G */
#define REC_META_NULL 0xffff
#define REC_MIN_BYTES (REC_DELETE_FIXED + 1)
#define REC_MAX_BYTES (REC_COMMIT_FIXED + SL_OFFSETS_GROUP_MAX + \
		       SL_OFFSETS_TOPIC_MAX + SL_OFFSETS_META_MAX)

_Static_assert(SL_OFFSETS_META_MAX < REC_META_NULL,
	       "metadata length leaves 0xffff for null");
_Static_assert(REC_MAX_BYTES == 4640, "the format's largest record");
_Static_assert(REC_MAX_BYTES <= SL_RECLOG_IO_BYTES, "a record fits a read");
_Static_assert(SL_OFFSETS_HEADER_BYTES == SL_RECLOG_HEADER_BYTES,
	       "the file's header is the record log's");

struct sl_offsets {
	struct sl_reclog *log;         /* the file (control/reclog.h) */
	bool must_rewrite;             /* a version 1 file was read */
};

/* ---- records ---- */

/* What a record to be written must be (offsets.h); the caller checked
 * every field that came from a client. */
static bool rec_ok(const struct sl_offsets_rec *r)
{
	if (r->group_len == 0 || r->group_len > SL_OFFSETS_GROUP_MAX ||
	    !r->group)
		return false;
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
		return r->topic && r->topic_len > 0 &&
		       r->topic_len <= SL_OFFSETS_TOPIC_MAX &&
		       r->partition >= 0 && r->meta_len >= -1 &&
		       r->meta_len <= SL_OFFSETS_META_MAX &&
		       (r->meta_len <= 0 || r->meta);
	case SL_OFFSETS_STATE:
		return r->time_ms >= -1;
	case SL_OFFSETS_EXPIRE:
		return r->topic && r->topic_len > 0 &&
		       r->topic_len <= SL_OFFSETS_TOPIC_MAX &&
		       r->partition >= 0;
	case SL_OFFSETS_DELETE:
		return true;
	}
	return false;
}

size_t sl_offsets_rec_bytes(const struct sl_offsets_rec *r)
{
	assert(rec_ok(r));
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
		return REC_COMMIT_FIXED + (size_t)r->group_len + r->topic_len +
		       (r->meta_len > 0 ? (size_t)r->meta_len : 0);
	case SL_OFFSETS_STATE:
		return REC_STATE_FIXED + (size_t)r->group_len;
	case SL_OFFSETS_EXPIRE:
		return REC_EXPIRE_FIXED + (size_t)r->group_len + r->topic_len;
	default:
		return REC_DELETE_FIXED + (size_t)r->group_len;
	}
}

/* r at p (REC_MAX_BYTES of room); returns its N. */
static size_t rec_put(uint8_t *p, const struct sl_offsets_rec *r)
{
	size_t n = sl_offsets_rec_bytes(r);
	assert(n >= REC_MIN_BYTES && n <= REC_MAX_BYTES);
	rb_put32(p, (uint32_t)n);
	p[4] = r->type;
	p[5] = 0;
	rb_put16(p + 6, r->group_len);
	switch (r->type) {
	case SL_OFFSETS_COMMIT: {
		size_t mlen = r->meta_len > 0 ? (size_t)r->meta_len : 0;
		rb_put16(p + 8, r->topic_len);
		rb_put16(p + 10, r->meta_len < 0 ? REC_META_NULL :
						   (uint16_t)r->meta_len);
		rb_put32(p + 12, (uint32_t)r->partition);
		rb_put64(p + 16, (uint64_t)r->offset);
		rb_put32(p + 24, (uint32_t)r->leader_epoch);
		rb_put64(p + 28, (uint64_t)r->time_ms);
		memcpy(p + 36, r->group, r->group_len);
		memcpy(p + 36 + r->group_len, r->topic, r->topic_len);
		if (mlen)
			memcpy(p + 36 + r->group_len + r->topic_len, r->meta,
			       mlen);
		break;
	}
	case SL_OFFSETS_STATE:
		rb_put64(p + 8, (uint64_t)r->time_ms);
		memcpy(p + 16, r->group, r->group_len);
		break;
	case SL_OFFSETS_EXPIRE:
		rb_put16(p + 8, r->topic_len);
		rb_put16(p + 10, 0);
		rb_put32(p + 12, (uint32_t)r->partition);
		memcpy(p + 16, r->group, r->group_len);
		memcpy(p + 16 + r->group_len, r->topic, r->topic_len);
		break;
	case SL_OFFSETS_DELETE:
		memcpy(p + 8, r->group, r->group_len);
		break;
	}
	rb_put32(p + n - 4, rb_crc32c(p, n - 4));
	return n;
}

/* The length of the valid record at p (avail bytes there) in a file of
 * version, or 0 (the rule at the top). */
static size_t rec_check(const uint8_t *p, size_t avail, uint16_t version)
{
	if (avail < 4)
		return 0;
	uint32_t n = rb_be32(p);
	if (n < REC_MIN_BYTES || n > REC_MAX_BYTES || n > avail)
		return 0;
	if (rb_be32(p + n - 4) != rb_crc32c(p, n - 4))
		return 0;
	uint16_t gl = rb_be16(p + 6), tl = rb_be16(p + 8), ml = rb_be16(p + 10);
	size_t m = ml == REC_META_NULL ? 0 : ml;
	if (p[5] != 0 || gl == 0 || gl > SL_OFFSETS_GROUP_MAX)
		return 0;
	if (p[4] != SL_OFFSETS_COMMIT && version == FILE_VERSION_MONO)
		return 0;
	switch (p[4]) {
	case SL_OFFSETS_COMMIT:
		if (tl == 0 || tl > SL_OFFSETS_TOPIC_MAX ||
		    (ml != REC_META_NULL && ml > SL_OFFSETS_META_MAX) ||
		    REC_COMMIT_FIXED + gl + tl + m != n ||
		    (int32_t)rb_be32(p + 12) < 0)
			return 0;
		return n;
	case SL_OFFSETS_STATE:
		if ((size_t)REC_STATE_FIXED + gl != n ||
		    (int64_t)rb_be64(p + 8) < -1)
			return 0;
		return n;
	case SL_OFFSETS_EXPIRE:
		if (tl == 0 || tl > SL_OFFSETS_TOPIC_MAX || ml != 0 ||
		    (size_t)REC_EXPIRE_FIXED + gl + tl != n ||
		    (int32_t)rb_be32(p + 12) < 0)
			return 0;
		return n;
	case SL_OFFSETS_DELETE:
		if ((size_t)REC_DELETE_FIXED + gl != n)
			return 0;
		return n;
	}
	return 0;
}

/* The valid record at p, decoded into r (pointing into p); commits of a
 * version 1 file get time_ms v1_ms. */
static void rec_decode(const uint8_t *p, uint16_t version, int64_t v1_ms,
		       struct sl_offsets_rec *r)
{
	uint16_t gl = rb_be16(p + 6), tl = rb_be16(p + 8), ml = rb_be16(p + 10);
	memset(r, 0, sizeof(*r));
	r->type = p[4];
	r->group_len = gl;
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
		r->group = (const char *)p + 36;
		r->topic = r->group + gl;
		r->topic_len = tl;
		r->meta = r->topic + tl;
		r->meta_len = ml == REC_META_NULL ? -1 : ml;
		r->partition = (int32_t)rb_be32(p + 12);
		r->offset = (int64_t)rb_be64(p + 16);
		r->leader_epoch = (int32_t)rb_be32(p + 24);
		r->time_ms = version == FILE_VERSION_MONO ?
			     v1_ms : (int64_t)rb_be64(p + 28);
		break;
	case SL_OFFSETS_STATE:
		r->group = (const char *)p + 16;
		r->time_ms = (int64_t)rb_be64(p + 8);
		break;
	case SL_OFFSETS_EXPIRE:
		r->group = (const char *)p + 16;
		r->topic = r->group + gl;
		r->topic_len = tl;
		r->partition = (int32_t)rb_be32(p + 12);
		break;
	case SL_OFFSETS_DELETE:
		r->group = (const char *)p + 8;
		break;
	}
	assert(rec_ok(r) && sl_offsets_rec_bytes(r) == rb_be32(p));
}

/* ---- the file ---- */

static const struct sl_reclog_format offsets_format = {
	.file = SL_OFFSETS_FILE,
	.magic = FILE_MAGIC,
	.version = FILE_VERSION,
	.old_version = FILE_VERSION_MONO,
	.record_max = REC_MAX_BYTES,
	.check = rec_check,
	.damaged = "an offsets file (its 16-byte header is not valid) and "
		   "was left as it is: restore it from a backup, or move it "
		   "away to start with no committed offsets (consumers then "
		   "start where their auto.offset.reset says)",
};

struct loading {
	sl_offsets_apply_fn apply;
	void *arg;
	int64_t now_wall_ms;
};

static int load_one(void *arg, const uint8_t *p, size_t len, uint16_t version)
{
	struct loading *l = arg;
	struct sl_offsets_rec rec;
	(void)len;
	rec_decode(p, version, l->now_wall_ms, &rec);
	return l->apply(l->arg, &rec);
}

int sl_offsets_open(const struct sdisk *d, const char *dir,
		    int64_t now_wall_ms, sl_offsets_apply_fn apply, void *arg,
		    struct sl_offsets **out, char *err, size_t errlen)
{
	assert(d && dir && apply && out && err && errlen > 0);
	struct sl_offsets *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s/%s: out of memory", dir,
			 SL_OFFSETS_FILE);
		return -ENOMEM;
	}
	struct loading l = { apply, arg, now_wall_ms };
	uint16_t version;
	int rc = sl_reclog_open(d, dir, &offsets_format, load_one, &l, &s->log,
				&version, err, errlen);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->must_rewrite = version == FILE_VERSION_MONO;
	*out = s;
	return 0;
}

void sl_offsets_close(struct sl_offsets *s)
{
	if (!s)
		return;
	sl_reclog_close(s->log);
	free(s);
}

bool sl_offsets_must_rewrite(const struct sl_offsets *s)
{
	return s->must_rewrite;
}

bool sl_offsets_broken(const struct sl_offsets *s)
{
	return sl_reclog_broken(s->log);
}

uint64_t sl_offsets_size(const struct sl_offsets *s)
{
	return sl_reclog_size(s->log);
}

/* ---- appends ---- */

void sl_offsets_batch_begin(struct sl_offsets *s)
{
	assert(!s->must_rewrite);
	sl_reclog_batch_begin(s->log);
}

void sl_offsets_batch_add(struct sl_offsets *s, const struct sl_offsets_rec *r)
{
	sl_reclog_batch_add(s->log, rec_put(sl_reclog_batch_room(s->log), r));
}

int sl_offsets_batch_end(struct sl_offsets *s)
{
	return sl_reclog_batch_end(s->log);
}

/* ---- rewrites ---- */

bool sl_offsets_compact_due(const struct sl_offsets *s, uint64_t live_bytes)
{
	return sl_reclog_compact_due(s->log, live_bytes,
				     SL_OFFSETS_COMPACT_MIN_BYTES,
				     SL_OFFSETS_COMPACT_RATIO);
}

void sl_offsets_rewrite_begin(struct sl_offsets *s)
{
	sl_reclog_rewrite_begin(s->log);
}

void sl_offsets_rewrite_add(struct sl_offsets *s,
			    const struct sl_offsets_rec *r)
{
	uint8_t *p = sl_reclog_rewrite_room(s->log);
	if (p)
		sl_reclog_rewrite_add(s->log, rec_put(p, r));
}

int sl_offsets_rewrite_end(struct sl_offsets *s)
{
	int rc = sl_reclog_rewrite_end(s->log);
	if (rc == 0)
		s->must_rewrite = false;
	return rc;
}
