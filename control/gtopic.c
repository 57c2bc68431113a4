/*
 * The records of __consumer_offsets (gtopic.h has the contract): Kafka's
 * own keys and values, so that the topic means the same to sluice and to
 * Kafka.  Integers big-endian and signed; times are ms of the wall clock.
 *
 * Kafka's primitives, as its message definitions use them:
 *   string         int16 N, then N bytes; N = -1 is null (only where the
 *                  field is nullable), other N < 0 are invalid
 *   bytes          int32 N, then N bytes (none here is nullable)
 *   array          int32 N, then N elements (none here is nullable)
 *   uvarint        unsigned LEB128: 7 bits a byte, low first, the high bit
 *                  set on every byte but the last; at most 5 bytes, 32 bits
 *   compact string uvarint N+1, then N bytes; 0 is null (flexible
 *   compact bytes  versions use these three instead of the above)
 *   compact array
 *   tagged fields  uvarint count, then count times: uvarint tag, uvarint
 *                  size, size bytes.  None is known here: all are skipped.
 *
 * Keys, all starting with an int16 key version:
 *   0, 1  OffsetCommitKey: group string, topic string, partition int32
 *   2     GroupMetadataKey: group string
 *   3+    Kafka's newer coordinators' records: skipped
 *
 * OffsetCommitValue (the value of a key of version 0 or 1), int16 version:
 *   0  offset int64, metadata string, commit_timestamp int64
 *   1  offset int64, metadata string, commit_timestamp int64,
 *      expire_timestamp int64 (ignored: expiry is the coordinator's)
 *   2  offset int64, metadata string, commit_timestamp int64
 *   3  offset int64, leader_epoch int32, metadata string,
 *      commit_timestamp int64
 *   4  as 3, flexible: metadata a compact string, then tagged fields
 *
 * GroupMetadataValue (the value of a key of version 2), int16 version:
 *   protocol_type string, generation int32, protocol nullable string,
 *   leader nullable string, [2+] current_state_timestamp int64, members
 *   array of:
 *     member_id string, [3+] group_instance_id nullable string, client_id
 *     string, client_host string, [1+] rebalance_timeout int32,
 *     session_timeout int32, subscription bytes, assignment bytes
 *   and from version 4 on flexible: compact strings, bytes and array, and
 *   tagged fields after each member and at the end of the value.
 *
 * A null value is a tombstone: of an OffsetCommitKey, that offset was
 * expired or deleted; of a GroupMetadataKey, the group was deleted.
 *
 * What this writes, byte by byte (G, T, M: the lengths of the group id,
 * topic and metadata):
 *   COMMIT key, 10 + G + T bytes      COMMIT value, 24 + M bytes
 *     0   2  1 (key version)            0   2  3 (value version)
 *     2   2  G                          2   8  offset
 *     4   G  group id                   10  4  leader epoch (-1: none)
 *     ..  2  T                          14  2  M (a null metadata: 0)
 *     ..  T  topic                      16  M  metadata
 *     ..  4  partition                  ..  8  commit time (time_ms)
 *   STATE key, 4 + G bytes            STATE value, 32 bytes
 *     0   2  2 (key version)            0   2  3 (value version)
 *     2   2  G                          2   2  8, then "consumer"
 *     4   G  group id                   12  4  generation 0
 *   EXPIRE: the COMMIT key,             16  2  -1 (protocol: null)
 *   DELETE: the STATE key,              18  2  -1 (leader: null)
 *   each with a null value              20  8  when the group became
 *                                              Empty (-1: it has members)
 *                                       28  4  0 members
 *
 * A record is read (gtopic.h: 0) if and only if its key is one of the
 * versions 0 to 2, exactly as long as its fields say, its group id 1..255
 * bytes, its topic 1..249 bytes and its partition >= 0, and its value is
 * null or one of the versions above, exactly as long as its fields say
 * (every member parsed), with no null where the schema has none, metadata
 * of at most 4096 bytes and a current_state_timestamp >= -1.  A key of a
 * later version, or a value of a later version behind a valid key, is
 * another kind of record and skipped; anything else is refused.  Kafka's
 * current_state_timestamp is the time of the group's last change of state,
 * whatever the state, so only a group without members says by it when it
 * became Empty: a group with members is read as having members (time_ms
 * -1), and the coordinator treats it as Empty from the end of the load on,
 * as after a restart.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "control/gtopic.h"
#include "control/krd.h"
#include "proto/record_batch.h" /* rb_put*, rb_be* */

#define KEY_COMMIT_OLD 0   /* OffsetCommitKey, its first version */
#define KEY_COMMIT 1       /* OffsetCommitKey */
#define KEY_GROUP 2        /* GroupMetadataKey */
#define KEY_TXN SL_GTOPIC_KEY_TXN
#define TXN_VALUE 0
#define COMMIT_VALUE_WRITTEN 3
#define COMMIT_VALUE_MAX 4
#define GROUP_VALUE_WRITTEN 3
#define GROUP_VALUE_MAX 4
#define FLEXIBLE_FROM 4    /* both values' first flexible version */
#define PROTOCOL_TYPE "consumer"
#define STRING_MAX 0x7fff  /* Kafka's strings: an int16 length */
#define GROUP_VALUE_BYTES (2 + 2 + (int)sizeof(PROTOCOL_TYPE) - 1 + 4 + \
			   2 + 2 + 8 + 4)

_Static_assert(SL_GTOPIC_KEY_MAX == 522, "the transactional key, longest");
_Static_assert(SL_GTOPIC_VALUE_MAX == 4122, "the transactional value, longest");
_Static_assert(GROUP_VALUE_BYTES == 32 &&
	       GROUP_VALUE_BYTES <= SL_GTOPIC_VALUE_MAX,
	       "the state's value fits");
_Static_assert(2 + 2 + SL_OFFSETS_GROUP_MAX <= SL_GTOPIC_KEY_MAX,
	       "GroupMetadataKey fits");
_Static_assert(SL_OFFSETS_META_MAX <= STRING_MAX &&
	       SL_OFFSETS_GROUP_MAX <= STRING_MAX &&
	       SL_OFFSETS_TOPIC_MAX <= STRING_MAX, "lengths fit an int16");

/* ---- encoding ---- */

static uint8_t *put_str(uint8_t *p, const char *s, uint16_t len)
{
	rb_put16(p, len);
	if (len)
		memcpy(p + 2, s, len);
	return p + 2 + len;
}

static bool is_txn(uint8_t type)
{
	return type == SL_OFFSETS_TXN || type == SL_OFFSETS_TXN_END;
}

static int32_t key_put(uint8_t *key, const struct sl_offsets_rec *r)
{
	uint8_t *p = key;
	bool txn = is_txn(r->type);
	bool commit = r->type == SL_OFFSETS_COMMIT ||
		      r->type == SL_OFFSETS_EXPIRE || txn;
	rb_put16(p, txn ? KEY_TXN : commit ? KEY_COMMIT : KEY_GROUP);
	p += 2;
	if (txn) {
		rb_put64(p, (uint64_t)r->producer_id);
		p += 8;
	}
	p = put_str(p, r->group, r->group_len);
	if (commit) {
		p = put_str(p, r->topic, r->topic_len);
		rb_put32(p, (uint32_t)r->partition);
		p += 4;
	}
	assert(p - key <= SL_GTOPIC_KEY_MAX);
	return (int32_t)(p - key);
}

static int32_t commit_value_put(uint8_t *value,
				const struct sl_offsets_rec *r)
{
	uint16_t ml = r->meta_len > 0 ? (uint16_t)r->meta_len : 0;
	uint8_t *p = value;
	rb_put16(p, COMMIT_VALUE_WRITTEN);
	rb_put64(p + 2, (uint64_t)r->offset);
	rb_put32(p + 10, (uint32_t)r->leader_epoch);
	p = put_str(p + 14, r->meta, ml);
	rb_put64(p, (uint64_t)r->time_ms);
	p += 8;
	assert(p - value == 24 + ml && p - value <= SL_GTOPIC_VALUE_MAX);
	return (int32_t)(p - value);
}

/* The transactional offset's value: version 0, producer epoch, offset,
 * leader epoch, metadata (null: length -1), commit time. */
static int32_t txn_value_put(uint8_t *value, const struct sl_offsets_rec *r)
{
	uint8_t *p = value;
	rb_put16(p, TXN_VALUE);
	rb_put16(p + 2, (uint16_t)r->producer_epoch);
	rb_put64(p + 4, (uint64_t)r->offset);
	rb_put32(p + 12, (uint32_t)r->leader_epoch);
	if (r->meta_len < 0) {
		rb_put16(p + 16, 0xffff);
		p += 18;
	} else {
		p = put_str(p + 16, r->meta, (uint16_t)r->meta_len);
	}
	rb_put64(p, (uint64_t)r->time_ms);
	p += 8;
	assert(p - value <= SL_GTOPIC_VALUE_MAX);
	return (int32_t)(p - value);
}

static int32_t group_value_put(uint8_t *value,
			       const struct sl_offsets_rec *r)
{
	uint8_t *p = value;
	rb_put16(p, GROUP_VALUE_WRITTEN);
	p = put_str(p + 2, PROTOCOL_TYPE, sizeof(PROTOCOL_TYPE) - 1);
	rb_put32(p, 0);              /* generation */
	rb_put16(p + 4, 0xffff);     /* protocol: null */
	rb_put16(p + 6, 0xffff);     /* leader: null */
	rb_put64(p + 8, (uint64_t)r->time_ms);
	rb_put32(p + 16, 0);         /* members */
	p += 20;
	assert(p - value == GROUP_VALUE_BYTES);
	return (int32_t)(p - value);
}

void sl_gtopic_encode(const struct sl_offsets_rec *r, uint8_t *key,
		      int32_t *klen, uint8_t *value, int32_t *vlen)
{
	assert(r->group && r->group_len > 0 &&
	       r->group_len <= SL_OFFSETS_GROUP_MAX);
	if (r->type == SL_OFFSETS_COMMIT || r->type == SL_OFFSETS_EXPIRE ||
	    is_txn(r->type))
		assert(r->topic && r->topic_len > 0 &&
		       r->topic_len <= SL_OFFSETS_TOPIC_MAX &&
		       r->partition >= 0);
	*klen = key_put(key, r);
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
		assert(r->meta_len >= -1 && r->meta_len <= SL_OFFSETS_META_MAX &&
		       (r->meta_len <= 0 || r->meta));
		*vlen = commit_value_put(value, r);
		break;
	case SL_OFFSETS_STATE:
		assert(r->time_ms >= -1);
		*vlen = group_value_put(value, r);
		break;
	case SL_OFFSETS_TXN:
		assert(r->meta_len >= -1 && r->meta_len <= SL_OFFSETS_META_MAX &&
		       (r->meta_len <= 0 || r->meta) && r->producer_id >= 0);
		*vlen = txn_value_put(value, r);
		break;
	case SL_OFFSETS_EXPIRE:
	case SL_OFFSETS_DELETE:
	case SL_OFFSETS_TXN_END:
		*vlen = -1;
		break;
	default:
		assert(!"a record type of offsets.h");
		*vlen = -1;
	}
}

/* ---- decoding ---- */

/* An OffsetCommitValue into out (a COMMIT whose key is decoded). */
static int commit_value(struct krd *r, struct sl_offsets_rec *out)
{
	int16_t version = krd_i16(r);
	if (r->bad || version < 0)
		return -EBADMSG;
	if (version > COMMIT_VALUE_MAX)
		return 1;
	bool flexible = version >= FLEXIBLE_FROM;
	out->offset = krd_i64(r);
	out->leader_epoch = version >= 3 ? krd_i32(r) : -1;
	out->meta_len = krd_str(r, flexible, false, &out->meta);
	out->time_ms = krd_i64(r);
	if (version == 1)
		(void)krd_i64(r); /* expire_timestamp */
	if (flexible)
		krd_tags(r);
	if (!krd_done(r) || out->meta_len > SL_OFFSETS_META_MAX)
		return -EBADMSG;
	assert(out->meta_len >= 0 && out->meta);
	return 0;
}

/* A GroupMetadataValue's member: parsed to be checked, nothing kept. */
static void member(struct krd *r, int16_t version, bool flexible)
{
	const char *s;
	(void)krd_str(r, flexible, false, &s); /* member_id */
	if (version >= 3)
		(void)krd_str(r, flexible, true, &s); /* group_instance_id */
	(void)krd_str(r, flexible, false, &s); /* client_id */
	(void)krd_str(r, flexible, false, &s); /* client_host */
	if (version >= 1)
		(void)krd_i32(r); /* rebalance_timeout */
	(void)krd_i32(r); /* session_timeout */
	krd_bytes(r, flexible); /* subscription */
	krd_bytes(r, flexible); /* assignment */
	if (flexible)
		krd_tags(r);
}

/* A GroupMetadataValue into out (a STATE whose key is decoded). */
static int group_value(struct krd *r, struct sl_offsets_rec *out)
{
	const char *s;
	int16_t version = krd_i16(r);
	if (r->bad || version < 0)
		return -EBADMSG;
	if (version > GROUP_VALUE_MAX)
		return 1;
	bool flexible = version >= FLEXIBLE_FROM;
	(void)krd_str(r, flexible, false, &s); /* protocol_type */
	(void)krd_i32(r); /* generation */
	(void)krd_str(r, flexible, true, &s); /* protocol */
	(void)krd_str(r, flexible, true, &s); /* leader */
	int64_t state_ms = version >= 2 ? krd_i64(r) : -1;
	int32_t n = krd_len(r, flexible, true, false, INT32_MAX - 1);
	/* each member takes at least 4 bytes: a bound the loop keeps to
	 * even before it runs out of bytes */
	if (r->bad || (uint32_t)n > krd_left(r) / 4)
		return -EBADMSG;
	for (int32_t i = 0; i < n && !r->bad; i++)
		member(r, version, flexible);
	if (flexible)
		krd_tags(r);
	if (!krd_done(r) || state_ms < -1)
		return -EBADMSG;
	out->time_ms = n > 0 ? -1 : state_ms;
	return 0;
}

static int txn_value(struct krd *r, struct sl_offsets_rec *out)
{
	int16_t version = krd_i16(r);
	if (r->bad || version < 0)
		return -EBADMSG;
	if (version > TXN_VALUE)
		return 1;
	out->producer_epoch = krd_i16(r);
	out->offset = krd_i64(r);
	out->leader_epoch = krd_i32(r);
	out->meta_len = krd_str(r, false, true, &out->meta);
	out->time_ms = krd_i64(r);
	if (!krd_done(r) || out->producer_epoch < 0 ||
	    out->meta_len > SL_OFFSETS_META_MAX)
		return -EBADMSG;
	return 0;
}

static int refuse(struct sl_offsets_rec *out, int rc)
{
	assert(rc == 1 || rc == -EBADMSG);
	memset(out, 0, sizeof(*out));
	return rc;
}

int sl_gtopic_decode(const uint8_t *key, int32_t klen, const uint8_t *value,
		     int32_t vlen, struct sl_offsets_rec *out)
{
	memset(out, 0, sizeof(*out));
	out->partition = -1;
	out->offset = -1;
	out->leader_epoch = -1;
	out->meta_len = -1;
	out->time_ms = -1;
	if (klen < 0 || !key || vlen < -1 || (vlen > 0 && !value))
		return refuse(out, -EBADMSG);

	struct krd r;
	krd_init(&r, key, klen);
	int16_t version = krd_i16(&r);
	if (r.bad || version < 0)
		return refuse(out, -EBADMSG);
	bool txn = version == KEY_TXN;
	if (version > KEY_GROUP && !txn)
		return refuse(out, 1);
	bool commit = version == KEY_COMMIT || version == KEY_COMMIT_OLD || txn;
	if (txn) {
		out->producer_id = krd_i64(&r);
		if (out->producer_id < 0)
			return refuse(out, -EBADMSG);
	}
	int32_t gl = krd_str(&r, false, false, &out->group);
	int32_t tl = 0;
	if (commit) {
		tl = krd_str(&r, false, false, &out->topic);
		out->partition = krd_i32(&r);
	}
	if (!krd_done(&r) || gl < 1 || gl > SL_OFFSETS_GROUP_MAX ||
	    (commit && (tl < 1 || tl > SL_OFFSETS_TOPIC_MAX ||
			out->partition < 0)))
		return refuse(out, -EBADMSG);
	out->group_len = (uint16_t)gl;
	out->topic_len = (uint16_t)tl;

	if (vlen < 0) {
		out->type = txn ? SL_OFFSETS_TXN_END :
			    commit ? SL_OFFSETS_EXPIRE : SL_OFFSETS_DELETE;
		return 0;
	}
	krd_init(&r, value, vlen);
	int rc;
	if (txn) {
		out->type = SL_OFFSETS_TXN;
		rc = txn_value(&r, out);
	} else if (commit) {
		out->type = SL_OFFSETS_COMMIT;
		rc = commit_value(&r, out);
	} else {
		out->type = SL_OFFSETS_STATE;
		rc = group_value(&r, out);
	}
	if (rc)
		return refuse(out, rc);
	assert(out->group && out->group_len > 0);
	return 0;
}
