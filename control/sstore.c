/*
 * The share groups' state file (sstore.h).
 *
 * After the record log's 16-byte header (control/reclog.h; magic "SLSH",
 * version 1), records, big-endian, each:
 *
 *   +0      u32 length of the whole record, these 4 bytes and the CRC
 *               included
 *   +4      u8  type: 1 START, 2 CHANGE
 *   +5      u8  g, the share group's name length (1..255)
 *   +6      g   the group's name
 *   +6+g    u32 topic id
 *   +10+g   i32 partition
 *   (RESET, type 3, stops after the group's name:
 *           +6+g   u8 the group's share.auto.offset.reset: 0 latest,
 *                     1 earliest, 2 the broker's default
 *    then the CRC: 11 + g bytes)
 *   START   +14+g  i64 start: the window's start (>= 0)
 *   CHANGE  +14+g  i64 offset (>= 0)
 *           +22+g  u64 due_ms (AVAILABLE: not before; else 0)
 *           +30+g  u16 delivery count
 *           +32+g  u8  state: 0 AVAILABLE, 2 ACKED, 4 ARCHIVED
 *           +33+g  u8  dead-letter reason (0 none, 1 rejected, 2 the
 *                      delivery limit; 0 unless ARCHIVED), and bit 7
 *                      set once the dead letter was copied to its
 *                      dead-letter topic (only with a reason)
 *   last 4  u32 CRC32C of every byte before it
 *
 * So START records are 26 + g bytes, CHANGE records 38 + g and RESET
 * records 11 + g.  A record
 * is valid if and only if its length is the one its type and g give, it
 * fits in what is left of the file, its CRC matches, g >= 1, the
 * partition and the offsets are not negative, and a CHANGE's state and
 * reason are among those above (a reason only with ARCHIVED, due_ms only
 * with AVAILABLE).  The first record that is not valid ends the file
 * (reclog truncates there: a torn append was never acknowledged).
 *
 * What a share partition's records mean, read in order: a START moves
 * its window's start (the changes of offsets below it no longer matter);
 * a CHANGE replaces what an earlier one said of its offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/reclog.h"
#include "control/sstore.h"
#include "proto/record_batch.h" /* rb_put*, rb_be*, rb_crc32c */

#define FILE_MAGIC 0x534c5348u /* "SLSH" */
#define FILE_VERSION 1
#define T_START 1
#define T_CHANGE 2
#define T_RESET 3
#define RESET_BYTES (6 + 1 + 4)        /* + g */
#define FIXED 14                       /* up to the payload, with g */
#define START_BYTES (FIXED + 8 + 4)    /* + g */
#define CHANGE_BYTES (FIXED + 20 + 4)  /* + g */
#define REC_MAX (CHANGE_BYTES + SL_SSTORE_GROUP_MAX)

struct sl_sstore {
	struct sl_reclog *log;
	bool rewriting;
};

size_t sl_sstore_start_bytes(const struct sl_sstore_key *k)
{
	return START_BYTES + k->glen;
}

size_t sl_sstore_change_bytes(const struct sl_sstore_key *k)
{
	return CHANGE_BYTES + k->glen;
}

size_t sl_sstore_check(const uint8_t *p, size_t avail)
{
	if (avail < RESET_BYTES + 1)
		return 0; /* shorter than the shortest record */
	size_t n = rb_be32(p), g = p[5];
	size_t want = p[4] == T_START ? START_BYTES + g :
		      p[4] == T_CHANGE ? CHANGE_BYTES + g :
		      p[4] == T_RESET ? RESET_BYTES + g : 0;
	if (!want || n != want || n > avail || !g)
		return 0;
	if (rb_be32(p + n - 4) != rb_crc32c(p, n - 4))
		return 0;
	const uint8_t *q = p + 6 + g;
	if (p[4] == T_RESET)
		return q[0] <= 2 ? n : 0;
	if ((int32_t)rb_be32(q + 4) < 0 || (int64_t)rb_be64(q + 8) < 0)
		return 0;
	if (p[4] == T_CHANGE) {
		uint8_t state = q[26], dead = q[27] & 0x7f;
		if ((q[27] & 0x80) && !dead)
			return 0;
		uint64_t due = rb_be64(q + 16);
		if (state != SL_SP_AVAILABLE && state != SL_SP_ACKED &&
		    state != SL_SP_ARCHIVED)
			return 0;
		if (dead > SL_SP_DEAD_LIMIT ||
		    (dead && state != SL_SP_ARCHIVED) ||
		    (due && state != SL_SP_AVAILABLE))
			return 0;
	}
	return n;
}

int sl_sstore_decode(const uint8_t *p, size_t len, struct sl_sstore_key *k,
		     int64_t *start, struct sl_sp_change *c)
{
	size_t g = p[5];
	(void)len;
	const uint8_t *q = p + 6 + g;
	if (p[4] == T_RESET) {
		*k = (struct sl_sstore_key){(const char *)p + 6, g, 0, 0};
		*start = q[0];
		return T_RESET;
	}
	*k = (struct sl_sstore_key){(const char *)p + 6, g, rb_be32(q),
				    (int32_t)rb_be32(q + 4)};
	if (p[4] == T_START) {
		*start = (int64_t)rb_be64(q + 8);
		return T_START;
	}
	*c = (struct sl_sp_change){
		.offset = (int64_t)rb_be64(q + 8),
		.due_ms = rb_be64(q + 16),
		.count = rb_be16(q + 24),
		.state = q[26],
		.dead = q[27] & 0x7f,
		.copied = (q[27] & 0x80) != 0,
	};
	return T_CHANGE;
}

static size_t rec_check(const uint8_t *p, size_t avail, uint16_t version)
{
	(void)version;
	return sl_sstore_check(p, avail);
}

static const struct sl_reclog_format sstore_format = {
	.file = SL_SSTORE_FILE,
	.magic = FILE_MAGIC,
	.version = FILE_VERSION,
	.record_max = REC_MAX,
	.check = rec_check,
	.damaged = "a share groups' state file (its 16-byte header is not "
		   "valid) and was left as it is: restore it from a backup, or "
		   "move it away to start the share groups afresh (their "
		   "messages are then handed out again from where "
		   "share_auto_offset_reset says)",
};

struct loading {
	sl_sstore_start_fn start;
	sl_sstore_change_fn change;
	sl_sstore_reset_fn reset;
	void *arg;
};

static int load_one(void *arg, const uint8_t *p, size_t len, uint16_t version)
{
	struct loading *l = arg;
	struct sl_sstore_key k;
	int64_t start = 0;
	struct sl_sp_change c;
	(void)version;
	int t = sl_sstore_decode(p, len, &k, &start, &c);
	if (t == T_START)
		return l->start(l->arg, &k, start);
	if (t == T_RESET)
		return l->reset(l->arg, k.group, k.glen, (int)start);
	return l->change(l->arg, &k, &c);
}

int sl_sstore_open(const struct sdisk *d, const char *dir,
		   sl_sstore_start_fn start, sl_sstore_change_fn change,
		   sl_sstore_reset_fn reset, void *arg, struct sl_sstore **out,
		   char *err, size_t errlen)
{
	struct sl_sstore *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s/%s: out of memory", dir,
			 SL_SSTORE_FILE);
		return -ENOMEM;
	}
	struct loading l = {start, change, reset, arg};
	uint16_t version;
	int rc = sl_reclog_open(d, dir, &sstore_format, load_one, &l, &s->log,
				&version, err, errlen);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void sl_sstore_close(struct sl_sstore *s)
{
	if (!s)
		return;
	sl_reclog_close(s->log);
	free(s);
}

uint64_t sl_sstore_size(const struct sl_sstore *s)
{
	return sl_reclog_size(s->log);
}

void sl_sstore_begin(struct sl_sstore *s)
{
	s->rewriting = false;
	sl_reclog_batch_begin(s->log);
}

void sl_sstore_begin_rewrite(struct sl_sstore *s)
{
	s->rewriting = true;
	sl_reclog_rewrite_begin(s->log);
}

static bool key_ok(const struct sl_sstore_key *k)
{
	return k->glen >= 1 && k->glen <= SL_SSTORE_GROUP_MAX &&
	       k->partition >= 0;
}

/* Room for one record, or NULL (a rewrite out of memory). */
static uint8_t *room(struct sl_sstore *s)
{
	return s->rewriting ? sl_reclog_rewrite_room(s->log) :
			      sl_reclog_batch_room(s->log);
}

static void add(struct sl_sstore *s, uint8_t *p, size_t n)
{
	rb_put32(p, (uint32_t)n);
	rb_put32(p + n - 4, rb_crc32c(p, n - 4));
	if (s->rewriting)
		sl_reclog_rewrite_add(s->log, n);
	else
		sl_reclog_batch_add(s->log, n);
}

static uint8_t *head(uint8_t *p, uint8_t type, const struct sl_sstore_key *k)
{
	p[4] = type;
	p[5] = (uint8_t)k->glen;
	memcpy(p + 6, k->group, k->glen);
	uint8_t *q = p + 6 + k->glen;
	rb_put32(q, k->topic_id);
	rb_put32(q + 4, (uint32_t)k->partition);
	return q;
}

int sl_sstore_put_start(struct sl_sstore *s, const struct sl_sstore_key *k,
			int64_t start)
{
	if (!key_ok(k) || start < 0)
		return -EINVAL;
	uint8_t *p = room(s);
	if (!p)
		return -ENOMEM;
	uint8_t *q = head(p, T_START, k);
	rb_put64(q + 8, (uint64_t)start);
	add(s, p, START_BYTES + k->glen);
	return 0;
}

int sl_sstore_put_change(struct sl_sstore *s, const struct sl_sstore_key *k,
			 const struct sl_sp_change *c)
{
	if (!key_ok(k) || c->offset < 0)
		return -EINVAL;
	uint8_t *p = room(s);
	if (!p)
		return -ENOMEM;
	uint8_t *q = head(p, T_CHANGE, k);
	rb_put64(q + 8, (uint64_t)c->offset);
	rb_put64(q + 16, c->state == SL_SP_AVAILABLE ? c->due_ms : 0);
	rb_put16(q + 24, c->count);
	q[26] = c->state;
	q[27] = c->state == SL_SP_ARCHIVED && c->dead ?
			(uint8_t)(c->dead | (c->copied ? 0x80 : 0)) : 0;
	add(s, p, CHANGE_BYTES + k->glen);
	return 0;
}

int sl_sstore_put_reset(struct sl_sstore *s, const char *group, size_t glen,
			int reset)
{
	if (!glen || glen > SL_SSTORE_GROUP_MAX || reset < 0 || reset > 2)
		return -EINVAL;
	uint8_t *p = room(s);
	if (!p)
		return -ENOMEM;
	p[4] = T_RESET;
	p[5] = (uint8_t)glen;
	memcpy(p + 6, group, glen);
	p[6 + glen] = (uint8_t)reset;
	add(s, p, RESET_BYTES + glen);
	return 0;
}

int sl_sstore_end(struct sl_sstore *s)
{
	return sl_reclog_batch_end(s->log);
}

bool sl_sstore_compact_due(const struct sl_sstore *s, uint64_t live_bytes)
{
	return sl_reclog_compact_due(s->log, live_bytes,
				     SL_SSTORE_COMPACT_MIN_BYTES,
				     SL_SSTORE_COMPACT_RATIO);
}

int sl_sstore_end_rewrite(struct sl_sstore *s)
{
	s->rewriting = false;
	return sl_reclog_rewrite_end(s->log);
}
