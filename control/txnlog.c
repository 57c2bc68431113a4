/*
 * The transaction state log (txnlog.h has the contract).
 *
 * <dir>/txn.log is appended to by the transaction coordinator (txn.c): one
 * batch per request or timer that changes a transactional id, made durable
 * (fdatasync) before the request is answered or the change acted on; it
 * is read back whole at the open and rewritten compactly once it has grown
 * to SL_TXNLOG_COMPACT_RATIO times its live size.
 *
 * The log is a sequence of self-contained records, each keyed by a
 * transactional id (or, for the producer id counter, by no id), applied in
 * order: that is what lets a cluster replicate it as it replicates any
 * partition (the same records, in the same order, on every replica; a
 * follower applies them as the open does), and compact it as Kafka
 * compacts __transaction_state (the last STATE of each id and what
 * follows it are all that matter).
 *
 * All integers big-endian; times are ms of the wall clock.
 *
 *   file header, 16 bytes:
 *     0   4  magic "SLTX"
 *     4   2  version (1)
 *     6   2  header bytes (16)
 *     8   4  reserved, 0
 *     12  4  CRC32C of bytes [0, 12)
 *   then records of N bytes, each starting
 *     0   4  N, the record's length, this field and the CRC included
 *     4   1  type
 *     5   1  reserved, 0
 *     6   2  I, transactional id length: 1..512 (type 5: 0)
 *   and ending with the CRC32C of bytes [0, N-4) in its last 4 bytes:
 *   type 1, an id's state, N = 56 + I:
 *     8   8  producer id, >= 0
 *     16  8  previous producer id (before the last rotation), >= -1
 *     24  2  producer epoch, >= -1
 *     26  2  last producer epoch (KIP-360 retries), >= -1
 *     28  4  transaction timeout ms, > 0
 *     32  1  state: 0 Empty, 1 Ongoing, 2 PrepareCommit, 3 PrepareAbort,
 *            4 CompleteCommit, 5 CompleteAbort
 *     33  3  reserved, 0
 *     36  8  when the transaction began (-1: none)
 *     44  8  when this change was made
 *     52  I  transactional id
 *   type 2, a partition joined the id's transaction, N = 20 + I + T:
 *     8   2  T, topic name length, 1..249
 *     10  2  reserved, 0
 *     12  4  partition, >= 0
 *     16  I  transactional id
 *     ..  T  topic name
 *   type 3, a group's offsets joined it (AddOffsetsToTxn), N = 16 + I + G:
 *     8   2  G, group id length, 1..255
 *     10  2  reserved, 0
 *     12  I  transactional id
 *     ..  G  group id
 *   type 4, an offset committed in the transaction (TxnOffsetCommit),
 *   N = 36 + I + G + T + (M or 0):
 *     8   2  G, group id length, 1..255
 *     10  2  T, topic name length, 1..249
 *     12  2  M, metadata length, 0..4096, or 0xffff: null metadata
 *     14  2  reserved, 0
 *     16  4  partition, >= 0
 *     20  8  offset
 *     28  4  leader epoch (-1: none)
 *     32  I  transactional id
 *     ..  G  group id
 *     ..  T  topic name
 *     ..  M  metadata (absent when null)
 *   type 5, the producer id counter, N = 20, I = 0:
 *     8   8  the next producer id to hand out, >= 0
 *   type 6, the id is forgotten (its state, partitions, offsets), N = 12 + I:
 *     8   I  transactional id
 *
 * The header is valid if and only if the file is at least 16 bytes long and
 * every header field is as above; otherwise the file is not ours and is
 * left alone (-EBADMSG).  A record is valid if and only if its N is within
 * 12..5148 and within the file, its CRC matches, its type is 1 to 6, every
 * reserved byte is 0, its lengths are within their bounds and add up to N
 * as its type says, and its other fields are within the ranges above.  The
 * first record that is not valid ends the log: the file is truncated there
 * and the truncation fdatasync'ed (a torn append was never acknowledged;
 * the truncation keeps whole records of an unacknowledged batch beyond a
 * torn one from being read after the next append overwrote the torn one).
 *
 * What applying means is the coordinator's (txn.c): a STATE replaces the
 * id's state, and one of state Empty, CompleteCommit or CompleteAbort also
 * empties its transaction (partitions, groups, offsets); PARTITION, GROUP
 * and OFFSET add to the id's transaction (an OFFSET replaces the pending
 * one of the same group, topic and partition); PRODUCER_IDS raises the
 * counter; DELETE forgets the id.
 *
 * Files are created and rewritten by sd_replace (txn.log.tmp, fdatasync,
 * rename, fsync of the directory): after a crash the old file or the new
 * one, never a mix (a stale .tmp is deleted at the open).  An append is
 * sd_pwrite at the end then sd_fdatasync; a failed append is truncated
 * away and that fdatasync'ed.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/reclog.h"
#include "control/txnlog.h"
#include "proto/record_batch.h" /* rb_put*, rb_be*, rb_crc32c */
#include "storage/disk.h"

#define FILE_MAGIC 0x534C5458u /* "SLTX" */
#define FILE_VERSION 1
#define REC_STATE_FIXED 56
#define REC_PARTITION_FIXED 20
#define REC_GROUP_FIXED 16
#define REC_OFFSET_FIXED 36
#define REC_PIDS_BYTES 20
#define REC_DELETE_FIXED 12
#define REC_META_NULL 0xffff
#define REC_MIN_BYTES 12
#define REC_MAX_BYTES (REC_OFFSET_FIXED + SL_TXNLOG_ID_MAX + \
		       SL_TXNLOG_GROUP_MAX + SL_TXNLOG_TOPIC_MAX + \
		       SL_TXNLOG_META_MAX)
#define STATE_MAX 5

_Static_assert(REC_MAX_BYTES == 5148, "the format's largest record");
_Static_assert(REC_MAX_BYTES <= SL_RECLOG_IO_BYTES, "a record fits a read");
_Static_assert(SL_TXNLOG_HEADER_BYTES == SL_RECLOG_HEADER_BYTES,
	       "the file's header is the record log's");
_Static_assert(SL_TXNLOG_META_MAX < REC_META_NULL, "0xffff means null");

struct sl_txnlog {
	struct sl_reclog *log;         /* the file (control/reclog.h) */
};

/* ---- records ---- */

static bool id_ok(const struct sl_txnlog_rec *r)
{
	return r->id && r->id_len > 0 && r->id_len <= SL_TXNLOG_ID_MAX;
}

static bool topic_ok(const struct sl_txnlog_rec *r)
{
	return r->topic && r->topic_len > 0 &&
	       r->topic_len <= SL_TXNLOG_TOPIC_MAX && r->partition >= 0;
}

static bool group_ok(const struct sl_txnlog_rec *r)
{
	return r->group && r->group_len > 0 &&
	       r->group_len <= SL_TXNLOG_GROUP_MAX;
}

/* What a record to be written must be (txnlog.h). */
static bool rec_ok(const struct sl_txnlog_rec *r)
{
	switch (r->type) {
	case SL_TXNLOG_STATE:
		return id_ok(r) && r->producer_id >= 0 &&
		       r->prev_producer_id >= -1 && r->epoch >= -1 &&
		       r->last_epoch >= -1 && r->timeout_ms > 0 &&
		       r->state <= STATE_MAX;
	case SL_TXNLOG_PARTITION:
		return id_ok(r) && topic_ok(r);
	case SL_TXNLOG_GROUP:
		return id_ok(r) && group_ok(r);
	case SL_TXNLOG_OFFSET:
		return id_ok(r) && group_ok(r) && topic_ok(r) &&
		       r->meta_len >= -1 && r->meta_len <= SL_TXNLOG_META_MAX &&
		       (r->meta_len <= 0 || r->meta);
	case SL_TXNLOG_PRODUCER_IDS:
		return r->id_len == 0 && r->next_producer_id >= 0;
	case SL_TXNLOG_DELETE:
		return id_ok(r);
	}
	return false;
}

size_t sl_txnlog_rec_bytes(const struct sl_txnlog_rec *r)
{
	assert(rec_ok(r));
	size_t i = r->id_len;
	switch (r->type) {
	case SL_TXNLOG_STATE:
		return REC_STATE_FIXED + i;
	case SL_TXNLOG_PARTITION:
		return REC_PARTITION_FIXED + i + r->topic_len;
	case SL_TXNLOG_GROUP:
		return REC_GROUP_FIXED + i + r->group_len;
	case SL_TXNLOG_OFFSET:
		return REC_OFFSET_FIXED + i + r->group_len + r->topic_len +
		       (r->meta_len > 0 ? (size_t)r->meta_len : 0);
	case SL_TXNLOG_PRODUCER_IDS:
		return REC_PIDS_BYTES;
	default:
		return REC_DELETE_FIXED + i;
	}
}

/* r at p (REC_MAX_BYTES of room); returns its N. */
static size_t rec_put(uint8_t *p, const struct sl_txnlog_rec *r)
{
	size_t n = sl_txnlog_rec_bytes(r);
	assert(n >= REC_MIN_BYTES && n <= REC_MAX_BYTES);
	memset(p, 0, n);
	rb_put32(p, (uint32_t)n);
	p[4] = r->type;
	rb_put16(p + 6, r->id_len);
	uint8_t *v;
	switch (r->type) {
	case SL_TXNLOG_STATE:
		rb_put64(p + 8, (uint64_t)r->producer_id);
		rb_put64(p + 16, (uint64_t)r->prev_producer_id);
		rb_put16(p + 24, (uint16_t)r->epoch);
		rb_put16(p + 26, (uint16_t)r->last_epoch);
		rb_put32(p + 28, (uint32_t)r->timeout_ms);
		p[32] = r->state;
		rb_put64(p + 36, (uint64_t)r->start_ms);
		rb_put64(p + 44, (uint64_t)r->update_ms);
		memcpy(p + 52, r->id, r->id_len);
		break;
	case SL_TXNLOG_PARTITION:
		rb_put16(p + 8, r->topic_len);
		rb_put32(p + 12, (uint32_t)r->partition);
		memcpy(p + 16, r->id, r->id_len);
		memcpy(p + 16 + r->id_len, r->topic, r->topic_len);
		break;
	case SL_TXNLOG_GROUP:
		rb_put16(p + 8, r->group_len);
		memcpy(p + 12, r->id, r->id_len);
		memcpy(p + 12 + r->id_len, r->group, r->group_len);
		break;
	case SL_TXNLOG_OFFSET:
		rb_put16(p + 8, r->group_len);
		rb_put16(p + 10, r->topic_len);
		rb_put16(p + 12, r->meta_len < 0 ? REC_META_NULL :
						   (uint16_t)r->meta_len);
		rb_put32(p + 16, (uint32_t)r->partition);
		rb_put64(p + 20, (uint64_t)r->offset);
		rb_put32(p + 28, (uint32_t)r->leader_epoch);
		v = p + 32;
		memcpy(v, r->id, r->id_len);
		v += r->id_len;
		memcpy(v, r->group, r->group_len);
		v += r->group_len;
		memcpy(v, r->topic, r->topic_len);
		v += r->topic_len;
		if (r->meta_len > 0)
			memcpy(v, r->meta, (size_t)r->meta_len);
		break;
	case SL_TXNLOG_PRODUCER_IDS:
		rb_put64(p + 8, (uint64_t)r->next_producer_id);
		break;
	case SL_TXNLOG_DELETE:
		memcpy(p + 8, r->id, r->id_len);
		break;
	}
	rb_put32(p + n - 4, rb_crc32c(p, n - 4));
	return n;
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The record at p (avail bytes there) decoded into r (pointing into p):
 * its length, or 0 when it is not valid (the rule at the top). */
static size_t rec_get(const uint8_t *p, size_t avail, struct sl_txnlog_rec *r)
{
	if (avail < 4)
		return 0;
	uint32_t n = rb_be32(p);
	if (n < REC_MIN_BYTES || n > REC_MAX_BYTES || n > avail ||
	    rb_be32(p + n - 4) != rb_crc32c(p, n - 4) || p[5] != 0)
		return 0;
	memset(r, 0, sizeof(*r));
	r->type = p[4];
	r->id_len = rb_be16(p + 6);
	size_t i = r->id_len, want;
	const char *v;
	switch (r->type) {
	case SL_TXNLOG_STATE:
		want = REC_STATE_FIXED + i;
		if (n != want || !zero(p + 33, 3))
			return 0;
		r->producer_id = (int64_t)rb_be64(p + 8);
		r->prev_producer_id = (int64_t)rb_be64(p + 16);
		r->epoch = (int16_t)rb_be16(p + 24);
		r->last_epoch = (int16_t)rb_be16(p + 26);
		r->timeout_ms = (int32_t)rb_be32(p + 28);
		r->state = p[32];
		r->start_ms = (int64_t)rb_be64(p + 36);
		r->update_ms = (int64_t)rb_be64(p + 44);
		r->id = (const char *)p + 52;
		break;
	case SL_TXNLOG_PARTITION:
		r->topic_len = rb_be16(p + 8);
		want = REC_PARTITION_FIXED + i + r->topic_len;
		if (n != want || !zero(p + 10, 2))
			return 0;
		r->partition = (int32_t)rb_be32(p + 12);
		r->id = (const char *)p + 16;
		r->topic = r->id + i;
		break;
	case SL_TXNLOG_GROUP:
		r->group_len = rb_be16(p + 8);
		want = REC_GROUP_FIXED + i + r->group_len;
		if (n != want || !zero(p + 10, 2))
			return 0;
		r->id = (const char *)p + 12;
		r->group = r->id + i;
		break;
	case SL_TXNLOG_OFFSET: {
		r->group_len = rb_be16(p + 8);
		r->topic_len = rb_be16(p + 10);
		uint16_t ml = rb_be16(p + 12);
		r->meta_len = ml == REC_META_NULL ? -1 : ml;
		want = REC_OFFSET_FIXED + i + r->group_len + r->topic_len +
		       (ml == REC_META_NULL ? 0 : ml);
		if (n != want || !zero(p + 14, 2))
			return 0;
		r->partition = (int32_t)rb_be32(p + 16);
		r->offset = (int64_t)rb_be64(p + 20);
		r->leader_epoch = (int32_t)rb_be32(p + 28);
		v = (const char *)p + 32;
		r->id = v;
		r->group = v + i;
		r->topic = r->group + r->group_len;
		r->meta = r->topic + r->topic_len;
		break;
	}
	case SL_TXNLOG_PRODUCER_IDS:
		if (n != REC_PIDS_BYTES)
			return 0;
		r->next_producer_id = (int64_t)rb_be64(p + 8);
		break;
	case SL_TXNLOG_DELETE:
		if (n != REC_DELETE_FIXED + i)
			return 0;
		r->id = (const char *)p + 8;
		break;
	default:
		return 0;
	}
	if (!rec_ok(r))
		return 0;
	assert(sl_txnlog_rec_bytes(r) == n);
	return n;
}

/* ---- the file ---- */

static size_t rec_check(const uint8_t *p, size_t avail, uint16_t version)
{
	struct sl_txnlog_rec r;
	(void)version;
	return rec_get(p, avail, &r);
}

static const struct sl_reclog_format txnlog_format = {
	.file = SL_TXNLOG_FILE,
	.magic = FILE_MAGIC,
	.version = FILE_VERSION,
	.record_max = REC_MAX_BYTES,
	.check = rec_check,
	.damaged = "a transaction log (its 16-byte header is not valid) and "
		   "was left as it is: restore it from a backup, or move it "
		   "away to start with no transactional ids (transactional "
		   "producers then initialize again)",
};

struct loading {
	sl_txnlog_apply_fn apply;
	void *arg;
};

static int load_one(void *arg, const uint8_t *p, size_t len, uint16_t version)
{
	struct loading *l = arg;
	struct sl_txnlog_rec r;
	(void)version;
	size_t n = rec_get(p, len, &r);
	assert(n == len);
	(void)n;
	return l->apply(l->arg, &r);
}

int sl_txnlog_open(const struct sdisk *d, const char *dir,
		   sl_txnlog_apply_fn apply, void *arg,
		   struct sl_txnlog **out, char *err, size_t errlen)
{
	assert(d && dir && apply && out && err && errlen > 0);
	struct sl_txnlog *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s/%s: out of memory", dir,
			 SL_TXNLOG_FILE);
		return -ENOMEM;
	}
	struct loading l = { apply, arg };
	uint16_t version;
	int rc = sl_reclog_open(d, dir, &txnlog_format, load_one, &l, &s->log,
				&version, err, errlen);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void sl_txnlog_close(struct sl_txnlog *s)
{
	if (!s)
		return;
	sl_reclog_close(s->log);
	free(s);
}

bool sl_txnlog_broken(const struct sl_txnlog *s)
{
	return sl_reclog_broken(s->log);
}

uint64_t sl_txnlog_size(const struct sl_txnlog *s)
{
	return sl_reclog_size(s->log);
}

/* ---- appends ---- */

void sl_txnlog_batch_begin(struct sl_txnlog *s)
{
	sl_reclog_batch_begin(s->log);
}

void sl_txnlog_batch_add(struct sl_txnlog *s, const struct sl_txnlog_rec *r)
{
	sl_reclog_batch_add(s->log, rec_put(sl_reclog_batch_room(s->log), r));
}

int sl_txnlog_batch_end(struct sl_txnlog *s)
{
	return sl_reclog_batch_end(s->log);
}

/* ---- rewrites ---- */

bool sl_txnlog_compact_due(const struct sl_txnlog *s, uint64_t live_bytes)
{
	return sl_reclog_compact_due(s->log, live_bytes,
				     SL_TXNLOG_COMPACT_MIN_BYTES,
				     SL_TXNLOG_COMPACT_RATIO);
}

void sl_txnlog_rewrite_begin(struct sl_txnlog *s)
{
	sl_reclog_rewrite_begin(s->log);
}

void sl_txnlog_rewrite_add(struct sl_txnlog *s, const struct sl_txnlog_rec *r)
{
	uint8_t *p = sl_reclog_rewrite_room(s->log);
	if (p)
		sl_reclog_rewrite_add(s->log, rec_put(p, r));
}

int sl_txnlog_rewrite_end(struct sl_txnlog *s)
{
	return sl_reclog_rewrite_end(s->log);
}
