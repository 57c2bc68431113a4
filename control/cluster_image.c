/*
 * The cluster image: the state machine of the metadata log (see
 * cluster_image.h for the contract, docs/cluster.md for the design).
 *
 * ---- An entry: the bytes of one Raft entry, all integers big-endian ----
 *
 *   offset  size  field
 *   0       1     format version (1)
 *   1       2     record count (1 .. 65535)
 *   3       ...   the records, each:
 *                   +0 u8  type (1 .. 10)
 *                   +1 u32 body length b
 *                   +5 body, exactly b bytes
 *
 * Record bodies ("id" is a node id 1 .. 65535):
 *
 *   REGISTER_BROKER (1)     +0  i32 broker id
 *                           +4  u64 incarnation
 *                           +12 u16 Kafka port (1 .. 65535)
 *                           +14 u16 native port (1 .. 65535)
 *                           +16 u8  host length h (1 .. 255)
 *                           +17 host, h bytes of printable ASCII
 *                               (0x21 .. 0x7e)
 *                           +17+h u16 native UDP port (0: none)   } absent:
 *                           +19+h u32 its IPv4 address, network  } the
 *                                 order (0: at host)             } native
 *                                                                  port
 *   FENCE_BROKER (2)        +0  i32 broker id
 *   UNFENCE_BROKER (3)      +0  i32 broker id
 *   CREATE_TOPIC (4)        +0  u16 name length n (1 .. 200)
 *                           +2  name (a valid topic name: native.h)
 *                           +2+n   config block (64 bytes, below)
 *                           +66+n  i32 partitions c (1 .. 1024)
 *                           +70+n  u8  replication factor r (1 .. 8)
 *                           +71+n  c assignments of r replicas (below),
 *                                  partition 0 first
 *   DELETE_TOPIC (5)        +0  u32 topic id
 *   PARTITION_CHANGE (6)    +0  u32 topic id
 *                           +4  i32 partition (0 .. 1023)
 *                           +8  i32 leader (-1, or an id in the in-sync set)
 *                           +12 i32 leader epoch (>= 0)
 *                           +16 i32 partition epoch (>= 1)
 *                           +20 u8  in-sync count k (1 .. 8)
 *                           +21 k x i32 in-sync ids, distinct
 *   CREATE_PARTITIONS (7)   +0  u32 topic id
 *                           +4  i32 first new partition f (1 .. 1023)
 *                           +8  u16 new partitions c (1 .. 1024 - f)
 *                           +10 u8  replication factor r (1 .. 8)
 *                           +11 c assignments of r replicas, partition f
 *                               first
 *   ALTER_TOPIC_CONFIG (8)  +0  u32 topic id
 *                           +4  config block
 *   UNREGISTER_BROKER (10)  +0  i32 broker id
 *   PARTITION_REASSIGN (9)  +0  u32 topic id
 *                           +4  i32 partition (0 .. 1023)
 *                           +8  i32 leader (-1, or an id in the in-sync set)
 *                           +12 i32 leader epoch (>= 0)
 *                           +16 i32 partition epoch (>= 1)
 *                           +20 u8  replica count r (1 .. 8)
 *                           +21 r x i32 replica ids, distinct
 *                           +21+4r u8 adding mask   } reassignment
 *                           +22+4r u8 removing mask } masks (header)
 *                           +23+4r u8 in-sync count k (1 .. r)
 *                           +24+4r k x i32 in-sync ids
 *
 *   Config block, 64 bytes:
 *     +0 u8 durability (0 every append, 1 group commit)
 *     +1 u8 cleanup policy (1 delete, 2 compact, 3 both)
 *     +2 u8 unclean leader election (0, 1)
 *     +3 u8 0
 *     +4 i32 min insync replicas (>= 1)
 *     +8 i64 retention ms (>= -1)   +16 i64 retention bytes (>= -1)
 *     +24 i64 segment bytes (1 MiB .. 2047 MiB)
 *     +32 f64 min cleanable dirty ratio (IEEE 754 bits, 0 .. 1)
 *     +40 i64 min compaction lag ms (>= 0)
 *     +48 i64 max compaction lag ms (>= 1)
 *     +56 i64 delete retention ms (>= 0)
 *
 *   Assignment (a new partition; its leader and partition epochs are 0):
 *     r x i32 replica ids, distinct
 *     i32 leader, one of the in-sync ids
 *     u8 in-sync count k (1 .. r)
 *     k x i32 in-sync ids: replicas, in replica order
 *
 * An entry is well-formed if and only if: it is at most SL_CI_ENTRY_MAX
 * bytes, its version is 1, its count is 1 .. 65535, the records end
 * exactly at its end, every body is exactly as long as its type's layout
 * and every field is in the range written beside it.  A well-formed entry
 * is valid if and only if each record, in order, holds against the image
 * as the records before it in the same entry leave it:
 *
 *   REGISTER_BROKER   a new id needs a free broker slot (256);
 *   FENCE/UNFENCE     the broker is known;
 *   UNREGISTER_BROKER the broker is known and no partition's replica;
 *   CREATE_TOPIC      the name is not in use, a topic slot (4096), a topic
 *                     id and c partition slots (SL_CI_PARTITIONS_MAX in
 *                     all) are free, every replica is a known broker;
 *   DELETE_TOPIC      the topic exists;
 *   PARTITION_CHANGE  the topic and partition exist; the in-sync ids are
 *                     replicas, in replica order; partition epoch is the
 *                     partition's + 1; leader epoch is the partition's + 1
 *                     when the leader changes, else the partition's or
 *                     its + 1;
 *   CREATE_PARTITIONS the topic exists with f partitions; c partition
 *                     slots are free; every replica is a known broker
 *                     (r need not be the topic's replication factor: a
 *                     decision made before a reassignment changed it);
 *   ALTER_TOPIC_CONFIG the topic exists and the durability is its own
 *                     (fixed at creation, as in topics.meta);
 *   PARTITION_REASSIGN the topic and partition exist; the replicas are
 *                     known brokers; the masks are within the replicas,
 *                     disjoint, and neither covers them all; the in-sync
 *                     ids are replicas in replica order; the epochs as
 *                     PARTITION_CHANGE's.
 *
 * Effects: REGISTER_BROKER adds a broker fenced, or updates a known one's
 * endpoints, fencing it when the incarnation is new; CREATE_TOPIC takes
 * the next topic id (so the same log gives the same ids on every node);
 * DELETE_TOPIC leaves a tombstone (sl_meta_delete); PARTITION_REASSIGN
 * of partition 0 with no reassignment left running sets the topic's
 * replication factor to its replica count; the others set what they
 * carry.
 *
 * Happy path of an apply: pass 1 decodes every record and checks it is
 * well-formed, touching nothing; pass 2 checks each record against the
 * image and applies it.  Records may depend on the ones before them (a
 * partition changed twice when the controller batches, a topic created
 * and changed), so pass 2 is the only exact check; a record that fails it
 * rolls the entry back.  The rollback space is in the image: brokers are
 * saved before the first broker record, changed partitions are journaled
 * one by one (up to SL_CI_JOURNAL_MAX), and the topic table is saved
 * whole before the first record that changes its shape (create, delete,
 * alter, or the journal full), so an entry of partition changes costs
 * what it changes.
 *
 * ---- A snapshot, big-endian ----
 *
 *   offset  size  field
 *   0       4     magic "SLCI"
 *   4       2     version (3; 1 and 2 are read too)
 *   6       2     header bytes (48)
 *   8       4     length of the snapshot, trailer included
 *   12      4     next topic id (>= 1)
 *   16      8     last applied index
 *   24      4     broker count (<= 256)
 *   28      4     topic count (<= 4096)
 *   32      4     tombstone count (<= 256)
 *   36      4     partition count, all topics (<= SL_CI_PARTITIONS_MAX)
 *   40      8     0
 *   48      ...   brokers, ids ascending, each:
 *                   i32 id, u64 incarnation, u16 Kafka port, u16 native
 *                   port, u8 flags (bit 0 fenced, bit 1 registered, others
 *                   0), u8 host length h, host, u16 native UDP port and
 *                   u32 its IPv4 address, network order, 0 at host
 *                   (versions 1-2: none, the native port at host)
 *           ...   topics, ids ascending, each:
 *                   u32 id, u16 name length n, name, config block,
 *                   i32 partitions c, u8 replication factor, then c
 *                   partitions: u8 replica count r (version 1: none,
 *                   r is the replication factor), r x i32 replicas,
 *                   u8 adding mask, u8 removing mask (version 1: none,
 *                   both 0), i32 leader, i32 leader epoch, i32 partition
 *                   epoch, u8 in-sync count k, k x i32 in-sync ids
 *           ...   tombstones, oldest first: u32 id, u16 name length, name
 *   len-4   4     CRC32C of bytes [0, len-4)
 *
 * A snapshot is valid if and only if its length field is its size, the
 * CRC matches, magic, version and header bytes are these, the counts are
 * in range and the sections end exactly at the trailer, every field is in
 * its record's range, the partitions add up to the count, and the decoded
 * image passes sl_ci_check (ids unique and ascending, names valid and
 * unique, replicas known brokers, in-sync sets in replica order, leaders
 * in sync, topic and tombstone ids below the next id).  Anything else is
 * refused whole; the image is left as it was.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control/cluster_image.h"
#include "proto/record_batch.h"

#define CI_FORMAT_VERSION 1
#define CI_ENTRY_HEADER_BYTES 3
#define CI_RECORD_HEADER_BYTES 5
#define CI_CONFIG_BYTES 64
#define CI_SNAP_MAGIC 0x534C4349u
#define CI_SNAP_VERSION 3
#define CI_SNAP_HEADER_BYTES 48
#define CI_SNAP_TRAILER_BYTES 4
#define CI_SNAP_BROKER_BYTES 24    /* + host */
#define CI_SNAP_TOPIC_BYTES (6 + CI_CONFIG_BYTES + 5) /* + name, parts */
#define CI_SNAP_PART_BYTES 16      /* + replicas and in-sync ids */
#define CI_SNAP_TOMB_BYTES 6       /* + name */
#define SEGMENT_BYTES_MIN (1ll << 20) /* as control/admin.c */
#define SEGMENT_BYTES_MAX (2047ll << 20)

_Static_assert(SL_CI_PARTITIONS_MAX < SL_CI_RECORDS_MAX,
	       "fencing a broker of every partition fits one entry");
_Static_assert(SL_CI_RF_MAX <= UINT8_MAX && SL_CI_HOST_MAX <= UINT8_MAX,
	       "counts and host lengths are one byte on the wire");
_Static_assert(SL_CI_RF_MAX <= 8, "reassignment masks are one byte");
_Static_assert(SN_NAME_MAX <= UINT16_MAX, "name lengths are u16");

/* ---- bytes in ---- */

/* A reader that never passes len: past the end it returns zeros and
 * remembers that it was short. */
struct rd {
	const uint8_t *p;
	size_t len, off;
	int short_read;
};

static int rd_has(struct rd *r, size_t n)
{
	if (r->short_read || r->len - r->off < n) {
		r->short_read = 1;
		return 0;
	}
	return 1;
}

static uint8_t rd8(struct rd *r)
{
	return rd_has(r, 1) ? r->p[r->off++] : 0;
}

static uint16_t rd16(struct rd *r)
{
	if (!rd_has(r, 2))
		return 0;
	r->off += 2;
	return rb_be16(r->p + r->off - 2);
}

static uint32_t rd32(struct rd *r)
{
	if (!rd_has(r, 4))
		return 0;
	r->off += 4;
	return rb_be32(r->p + r->off - 4);
}

static uint64_t rd64(struct rd *r)
{
	if (!rd_has(r, 8))
		return 0;
	r->off += 8;
	return rb_be64(r->p + r->off - 8);
}

static const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	if (!rd_has(r, n))
		return NULL;
	r->off += n;
	return r->p + r->off - n;
}

/* ---- bytes out: appending to a batch ---- */

/* One decision's writing: where the batch was (so a refusal or a full
 * buffer leaves it as it was) and whether it ran out of room. */
struct bw {
	struct sl_ci_batch *b;
	size_t mark_len;
	uint32_t mark_count;
	int full;
};

static void bw_begin(struct bw *w, struct sl_ci_batch *b)
{
	assert(b && b->len >= CI_ENTRY_HEADER_BYTES && b->len <= b->cap);
	w->b = b;
	w->mark_len = b->len;
	w->mark_count = b->count;
	w->full = 0;
}

static void w_bytes(struct bw *w, const void *p, size_t n)
{
	if (w->full || w->b->cap - w->b->len < n) {
		w->full = 1;
		return;
	}
	memcpy(w->b->buf + w->b->len, p, n);
	w->b->len += n;
}

static void w8(struct bw *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w16(struct bw *w, uint16_t v)
{
	uint8_t t[2];
	rb_put16(t, v);
	w_bytes(w, t, 2);
}

static void w32(struct bw *w, uint32_t v)
{
	uint8_t t[4];
	rb_put32(t, v);
	w_bytes(w, t, 4);
}

static void w64(struct bw *w, uint64_t v)
{
	uint8_t t[8];
	rb_put64(t, v);
	w_bytes(w, t, 8);
}

/* Start a record; returns where its length goes. */
static size_t rec_open(struct bw *w, uint8_t type)
{
	if (w->b->count >= SL_CI_RECORDS_MAX)
		w->full = 1;
	w8(w, type);
	size_t at = w->b->len;
	w32(w, 0);
	return at;
}

static void rec_close(struct bw *w, size_t at)
{
	if (w->full)
		return;
	assert(at + 4 <= w->b->len);
	rb_put32(w->b->buf + at, (uint32_t)(w->b->len - at - 4));
	w->b->count++;
}

/* Undo everything this decision appended. */
static void bw_abort(struct bw *w)
{
	w->b->len = w->mark_len;
	w->b->count = w->mark_count;
	rb_put16(w->b->buf + 1, (uint16_t)w->b->count);
}

/* 0, or -ENOBUFS with the batch as it was. */
static int bw_end(struct bw *w)
{
	if (w->full) {
		bw_abort(w);
		return -ENOBUFS;
	}
	assert(w->b->count <= SL_CI_RECORDS_MAX);
	rb_put16(w->b->buf + 1, (uint16_t)w->b->count);
	return 0;
}

int sl_ci_batch_init(struct sl_ci_batch *b, uint8_t *buf, size_t cap)
{
	assert(b && (buf || cap == 0));
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->count = 0;
	if (cap < CI_ENTRY_HEADER_BYTES)
		return -ENOBUFS;
	buf[0] = CI_FORMAT_VERSION;
	rb_put16(buf + 1, 0);
	b->len = CI_ENTRY_HEADER_BYTES;
	return 0;
}

const char *sl_ci_record_name(int type)
{
	switch (type) {
	case SL_CI_REGISTER_BROKER: return "REGISTER_BROKER";
	case SL_CI_FENCE_BROKER: return "FENCE_BROKER";
	case SL_CI_UNFENCE_BROKER: return "UNFENCE_BROKER";
	case SL_CI_CREATE_TOPIC: return "CREATE_TOPIC";
	case SL_CI_DELETE_TOPIC: return "DELETE_TOPIC";
	case SL_CI_PARTITION_CHANGE: return "PARTITION_CHANGE";
	case SL_CI_CREATE_PARTITIONS: return "CREATE_PARTITIONS";
	case SL_CI_ALTER_TOPIC_CONFIG: return "ALTER_TOPIC_CONFIG";
	case SL_CI_PARTITION_REASSIGN: return "PARTITION_REASSIGN";
	case SL_CI_UNREGISTER_BROKER: return "UNREGISTER_BROKER";
	}
	return "?";
}

/* ---- small rules shared by records, snapshots and decisions ---- */

static int node_id_valid(int64_t id)
{
	return id >= 1 && id <= SL_CI_NODE_ID_MAX;
}

static int host_valid(const void *host, size_t len)
{
	const uint8_t *h = host;
	if (len < 1 || len > SL_CI_HOST_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (h[i] < 0x21 || h[i] > 0x7e)
			return 0;
	return 1;
}

/* Why a topic's configs are out of range, or NULL when they are not. */
static const char *config_problem(const struct sl_topic *t, int64_t min_isr,
				  unsigned unclean)
{
	if (t->durability > 1)
		return "durability is not 0 or 1";
	if (min_isr < 1 || min_isr > INT32_MAX)
		return "min.insync.replicas is below 1";
	if (unclean > 1)
		return "unclean.leader.election is not 0 or 1";
	if (t->retention_ms < -1 || t->retention_bytes < -1)
		return "retention is below -1";
	if (t->segment_bytes < SEGMENT_BYTES_MIN ||
	    t->segment_bytes > SEGMENT_BYTES_MAX)
		return "segment bytes are not 1 MiB .. 2047 MiB";
	if (!sl_topic_compaction_valid(t))
		return "cleanup policy or a compaction setting is out of range";
	return NULL;
}

/* The config block: t's fields, min_isr and unclean. */
struct config {
	struct sl_topic t; /* durability, retention, segment, compaction */
	int32_t min_isr;
	uint8_t unclean;
};

static void w_config(struct bw *w, const struct sl_topic *t, int32_t min_isr,
		     uint8_t unclean)
{
	uint64_t ratio;
	memcpy(&ratio, &t->min_cleanable_dirty_ratio, sizeof(ratio));
	w8(w, t->durability);
	w8(w, t->cleanup_policy);
	w8(w, unclean);
	w8(w, 0);
	w32(w, (uint32_t)min_isr);
	w64(w, (uint64_t)t->retention_ms);
	w64(w, (uint64_t)t->retention_bytes);
	w64(w, (uint64_t)t->segment_bytes);
	w64(w, ratio);
	w64(w, (uint64_t)t->min_compaction_lag_ms);
	w64(w, (uint64_t)t->max_compaction_lag_ms);
	w64(w, (uint64_t)t->delete_retention_ms);
}

/* Read a config block; NULL or why it is out of range. */
static const char *rd_config(struct rd *r, struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->t.durability = rd8(r);
	c->t.cleanup_policy = rd8(r);
	c->unclean = rd8(r);
	uint8_t zero = rd8(r);
	c->min_isr = (int32_t)rd32(r);
	c->t.retention_ms = (int64_t)rd64(r);
	c->t.retention_bytes = (int64_t)rd64(r);
	c->t.segment_bytes = (int64_t)rd64(r);
	uint64_t ratio = rd64(r);
	memcpy(&c->t.min_cleanable_dirty_ratio, &ratio, sizeof(ratio));
	c->t.min_compaction_lag_ms = (int64_t)rd64(r);
	c->t.max_compaction_lag_ms = (int64_t)rd64(r);
	c->t.delete_retention_ms = (int64_t)rd64(r);
	if (r->short_read)
		return "config block cut short";
	if (zero)
		return "config block's reserved byte is not 0";
	return config_problem(&c->t, c->min_isr, c->unclean);
}

static int in_list(const int32_t *ids, unsigned n, int32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* 1 when isr[0..k) are distinct members of replicas[0..r) listed in
 * replica order. */
static int isr_in_replica_order(const int32_t *replicas, unsigned r,
				const int32_t *isr, unsigned k)
{
	unsigned j = 0;
	for (unsigned i = 0; i < r && j < k; i++)
		if (replicas[i] == isr[j])
			j++;
	return j == k;
}

static int part_in_isr(const struct sl_ci_partition *p, int32_t id)
{
	return in_list(p->isr, p->isr_count, id);
}

/* NULL when p's reassignment masks fit its replicas (within them,
 * disjoint, neither covering them all), else why not. */
static const char *masks_problem(const struct sl_ci_partition *p)
{
	unsigned all = (1u << p->replica_count) - 1;
	if ((p->adding | p->removing) & ~all)
		return "a reassignment mask names no replica";
	if (p->adding & p->removing)
		return "a replica is both adding and removing";
	if ((p->adding && p->adding == all) ||
	    (p->removing && p->removing == all))
		return "a reassignment leaves no original or no target replica";
	return NULL;
}

/* Read one assignment of r replicas into p (epochs 0); NULL or why it is
 * malformed. */
static const char *rd_assignment(struct rd *r, unsigned rf,
				 struct sl_ci_partition *p)
{
	memset(p, 0, sizeof(*p));
	p->replica_count = (uint8_t)rf;
	for (unsigned i = 0; i < rf; i++) {
		int32_t id = (int32_t)rd32(r);
		if (!r->short_read && !node_id_valid(id))
			return "a replica id is not 1..65535";
		if (in_list(p->replicas, i, id))
			return "a replica is listed twice";
		p->replicas[i] = id;
	}
	p->leader = (int32_t)rd32(r);
	unsigned k = rd8(r);
	if (r->short_read)
		return "assignment cut short";
	if (k < 1 || k > rf)
		return "in-sync count is not 1..replication factor";
	p->isr_count = (uint8_t)k;
	for (unsigned i = 0; i < k; i++)
		p->isr[i] = (int32_t)rd32(r);
	if (r->short_read)
		return "assignment cut short";
	if (!isr_in_replica_order(p->replicas, rf, p->isr, k))
		return "in-sync ids are not replicas in replica order";
	if (!part_in_isr(p, p->leader))
		return "leader is not in the in-sync set";
	return NULL;
}

static void w_assignment(struct bw *w, const struct sl_ci_partition *p)
{
	for (unsigned i = 0; i < p->replica_count; i++)
		w32(w, (uint32_t)p->replicas[i]);
	w32(w, (uint32_t)p->leader);
	w8(w, p->isr_count);
	for (unsigned i = 0; i < p->isr_count; i++)
		w32(w, (uint32_t)p->isr[i]);
}

/* ---- records decoded ---- */

struct rec {
	uint8_t type;
	/* brokers */
	int32_t broker_id;
	uint64_t incarnation;
	uint16_t kafka_port, native_port, udp_port;
	uint32_t udp_addr;
	uint8_t host_len;
	const uint8_t *host;
	/* topics */
	uint32_t topic_id;
	uint16_t name_len;
	const uint8_t *name;
	struct config cfg;
	int32_t partitions;  /* CREATE_TOPIC: count; CREATE_PARTITIONS: first */
	uint16_t new_count;  /* CREATE_PARTITIONS */
	uint8_t rf;
	const uint8_t *assign; /* the assignments, checked by decode */
	size_t assign_len;
	/* PARTITION_CHANGE, PARTITION_REASSIGN */
	int32_t partition;
	struct sl_ci_partition change; /* leader, epochs, isr (REASSIGN:
					  replicas and masks too) */
};

/* Read `count` assignments, checking each; NULL or why not. */
static const char *rd_assignments(struct rd *r, unsigned count, unsigned rf,
				  struct rec *out)
{
	size_t start = r->off;
	struct sl_ci_partition p;
	for (unsigned i = 0; i < count; i++) {
		const char *why = rd_assignment(r, rf, &p);
		if (why)
			return why;
	}
	out->assign = r->p + start;
	out->assign_len = r->off - start;
	return NULL;
}

/* Decode one record body of this type (pass 1: the bytes alone).
 * NULL, or why it is malformed. */
static const char *rec_decode(uint8_t type, const uint8_t *body, size_t len,
			      struct rec *out)
{
	struct rd r = { body, len, 0, 0 };
	const char *why = NULL;
	memset(out, 0, sizeof(*out));
	out->type = type;
	switch (type) {
	case SL_CI_REGISTER_BROKER:
		out->broker_id = (int32_t)rd32(&r);
		out->incarnation = rd64(&r);
		out->kafka_port = rd16(&r);
		out->native_port = rd16(&r);
		out->host_len = rd8(&r);
		out->host = rd_bytes(&r, out->host_len);
		out->udp_port = out->native_port;
		if (!r.short_read && r.off < len) { /* the UDP endpoint */
			out->udp_port = rd16(&r);
			const uint8_t *a = rd_bytes(&r, 4);
			if (a)
				memcpy(&out->udp_addr, a, 4);
		}
		if (r.short_read)
			return "body cut short";
		if (!node_id_valid(out->broker_id))
			return "broker id is not 1..65535";
		if (!out->kafka_port || !out->native_port)
			return "a port is 0";
		if (!host_valid(out->host, out->host_len))
			return "host is empty or not printable ASCII";
		break;
	case SL_CI_FENCE_BROKER:
	case SL_CI_UNFENCE_BROKER:
	case SL_CI_UNREGISTER_BROKER:
		out->broker_id = (int32_t)rd32(&r);
		if (r.short_read)
			return "body cut short";
		if (!node_id_valid(out->broker_id))
			return "broker id is not 1..65535";
		break;
	case SL_CI_CREATE_TOPIC:
		out->name_len = rd16(&r);
		out->name = rd_bytes(&r, out->name_len);
		if (r.short_read)
			return "body cut short";
		if (out->name_len > SN_NAME_MAX ||
		    !sn_topic_name_valid((const char *)out->name,
					 out->name_len))
			return "not a valid topic name";
		if ((why = rd_config(&r, &out->cfg)))
			return why;
		out->partitions = (int32_t)rd32(&r);
		out->rf = rd8(&r);
		if (r.short_read)
			return "body cut short";
		if (out->partitions < 1 || out->partitions > SN_PARTITIONS_MAX)
			return "partitions are not 1..1024";
		if (out->rf < 1 || out->rf > SL_CI_RF_MAX)
			return "replication factor is not 1..8";
		if ((why = rd_assignments(&r, (unsigned)out->partitions,
					  out->rf, out)))
			return why;
		break;
	case SL_CI_DELETE_TOPIC:
		out->topic_id = rd32(&r);
		if (r.short_read)
			return "body cut short";
		break;
	case SL_CI_PARTITION_CHANGE:
	case SL_CI_PARTITION_REASSIGN: {
		struct sl_ci_partition *c = &out->change;
		out->topic_id = rd32(&r);
		out->partition = (int32_t)rd32(&r);
		c->leader = (int32_t)rd32(&r);
		c->leader_epoch = (int32_t)rd32(&r);
		c->partition_epoch = (int32_t)rd32(&r);
		if (type == SL_CI_PARTITION_REASSIGN) {
			unsigned rc = rd8(&r);
			if (r.short_read)
				return "body cut short";
			if (rc < 1 || rc > SL_CI_RF_MAX)
				return "replica count is not 1..8";
			c->replica_count = (uint8_t)rc;
			for (unsigned i = 0; i < rc; i++) {
				int32_t id = (int32_t)rd32(&r);
				if (!r.short_read && !node_id_valid(id))
					return "a replica id is not 1..65535";
				if (in_list(c->replicas, i, id))
					return "a replica is listed twice";
				c->replicas[i] = id;
			}
			c->adding = rd8(&r);
			c->removing = rd8(&r);
			if (r.short_read)
				return "body cut short";
			if ((why = masks_problem(c)))
				return why;
		}
		unsigned k = rd8(&r);
		if (r.short_read)
			return "body cut short";
		if (out->partition < 0 || out->partition >= SN_PARTITIONS_MAX)
			return "partition is not 0..1023";
		if (c->leader_epoch < 0 || c->partition_epoch < 1)
			return "an epoch is out of range";
		if (k < 1 || k > SL_CI_RF_MAX ||
		    (type == SL_CI_PARTITION_REASSIGN && k > c->replica_count))
			return "in-sync count is not 1..8 (1..replicas)";
		c->isr_count = (uint8_t)k;
		for (unsigned i = 0; i < k; i++) {
			int32_t id = (int32_t)rd32(&r);
			if (!r.short_read && !node_id_valid(id))
				return "an in-sync id is not 1..65535";
			if (in_list(c->isr, i, id))
				return "an in-sync id is listed twice";
			c->isr[i] = id;
		}
		if (r.short_read)
			return "body cut short";
		if (c->leader != -1 && !part_in_isr(c, c->leader))
			return "leader is neither -1 nor in the in-sync set";
		if (type == SL_CI_PARTITION_REASSIGN &&
		    !isr_in_replica_order(c->replicas, c->replica_count, c->isr,
					  c->isr_count))
			return "in-sync ids are not replicas in replica order";
		break;
	}
	case SL_CI_CREATE_PARTITIONS:
		out->topic_id = rd32(&r);
		out->partitions = (int32_t)rd32(&r);
		out->new_count = rd16(&r);
		out->rf = rd8(&r);
		if (r.short_read)
			return "body cut short";
		if (out->partitions < 1 || out->partitions >= SN_PARTITIONS_MAX ||
		    out->new_count < 1 ||
		    out->new_count > SN_PARTITIONS_MAX - out->partitions)
			return "partitions pass 1024";
		if (out->rf < 1 || out->rf > SL_CI_RF_MAX)
			return "replication factor is not 1..8";
		if ((why = rd_assignments(&r, out->new_count, out->rf, out)))
			return why;
		break;
	case SL_CI_ALTER_TOPIC_CONFIG:
		out->topic_id = rd32(&r);
		if ((why = rd_config(&r, &out->cfg)))
			return why;
		break;
	default:
		return "unknown record type";
	}
	if (r.short_read)
		return "body cut short";
	if (r.off != len)
		return "body longer than its fields";
	return NULL;
}

/* ---- lookups ---- */

/* Index of broker id, or -1; *at gets where it would go. */
static long broker_index(const struct sl_ci_image *img, int32_t id,
			 uint32_t *at)
{
	uint32_t lo = 0, hi = img->broker_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->brokers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	if (lo < img->broker_count && img->brokers[lo].id == id)
		return lo;
	return -1;
}

/* Index of the topic with this id (ids ascending), or -1. */
static long topic_index(const struct sl_ci_image *img, uint32_t id)
{
	uint32_t lo = 0, hi = img->meta.count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->meta.topics[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->meta.count && img->meta.topics[lo].id == id)
		return lo;
	return -1;
}

const struct sl_ci_broker *sl_ci_broker_find(const struct sl_ci_image *img,
					     int32_t id)
{
	long i = broker_index(img, id, NULL);
	return i < 0 ? NULL : &img->brokers[i];
}

int sl_ci_broker_live(const struct sl_ci_image *img, int32_t id)
{
	const struct sl_ci_broker *b = sl_ci_broker_find(img, id);
	return b && b->registered && !b->fenced;
}

size_t sl_ci_active_brokers(const struct sl_ci_image *img, int32_t *ids,
			    size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < img->broker_count; i++) {
		const struct sl_ci_broker *b = &img->brokers[i];
		if (!b->registered || b->fenced)
			continue;
		if (n < max)
			ids[n] = b->id;
		n++;
	}
	return n;
}

const struct sl_ci_topic *sl_ci_topic_find(const struct sl_ci_image *img,
					   const char *name, size_t name_len)
{
	const struct sl_topic *t = sl_meta_find(&img->meta, name, name_len);
	return t ? &img->topics[t - img->meta.topics] : NULL;
}

const struct sl_ci_topic *sl_ci_topic_find_id(const struct sl_ci_image *img,
					      uint32_t id)
{
	long i = topic_index(img, id);
	return i < 0 ? NULL : &img->topics[i];
}

const struct sl_topic *sl_ci_topic_meta(const struct sl_ci_image *img,
					const struct sl_ci_topic *t)
{
	size_t i = (size_t)(t - img->topics);
	assert(i < img->meta.count && img->meta.topics[i].id == t->id);
	return &img->meta.topics[i];
}

const struct sl_ci_partition *
sl_ci_partition_find(const struct sl_ci_image *img, uint32_t topic_id,
		     int32_t partition)
{
	const struct sl_ci_topic *t = sl_ci_topic_find_id(img, topic_id);
	if (!t || partition < 0 || partition >= t->partitions)
		return NULL;
	return &img->parts[t->part_first + (uint32_t)partition];
}

/* ---- the image as a whole ---- */

void sl_ci_init(struct sl_ci_image *img)
{
	assert(img);
	memset(img, 0, offsetof(struct sl_ci_image, undo));
	sl_meta_init(&img->meta);
	img->undo.brokers_saved = img->undo.topics_saved = 0;
	img->undo.journal_count = 0;
	assert(img->meta.next_id == 1 && img->meta.count == 0);
}

void sl_ci_copy(struct sl_ci_image *dst, const struct sl_ci_image *src)
{
	assert(dst && src && dst != src);
	dst->applied_index = src->applied_index;
	dst->broker_count = src->broker_count;
	dst->part_count = src->part_count;
	memcpy(dst->brokers, src->brokers,
	       sizeof(src->brokers[0]) * src->broker_count);
	memcpy(&dst->meta, &src->meta, offsetof(struct sl_meta, topics));
	memcpy(dst->meta.topics, src->meta.topics,
	       sizeof(src->meta.topics[0]) * src->meta.count);
	memcpy(dst->meta.tombs, src->meta.tombs,
	       sizeof(src->meta.tombs[0]) * src->meta.tomb_count);
	memcpy(dst->topics, src->topics,
	       sizeof(src->topics[0]) * src->meta.count);
	memcpy(dst->parts, src->parts, sizeof(src->parts[0]) * src->part_count);
	dst->undo.brokers_saved = dst->undo.topics_saved = 0;
	dst->undo.journal_count = 0;
}

/* ---- rollback ---- */

static void undo_begin(struct sl_ci_image *img)
{
	img->undo.brokers_saved = 0;
	img->undo.topics_saved = 0;
	img->undo.journal_count = 0;
}

static void save_brokers(struct sl_ci_image *img)
{
	struct sl_ci_undo *u = &img->undo;
	if (u->brokers_saved)
		return;
	u->broker_count = img->broker_count;
	memcpy(u->brokers, img->brokers,
	       sizeof(img->brokers[0]) * img->broker_count);
	u->brokers_saved = 1;
}

/* The topic table whole: configs, tombstones, next id, partitions. */
static void save_topics(struct sl_ci_image *img)
{
	struct sl_ci_undo *u = &img->undo;
	if (u->topics_saved)
		return;
	u->next_id = img->meta.next_id;
	u->topic_count = img->meta.count;
	u->tomb_count = img->meta.tomb_count;
	u->part_count = img->part_count;
	memcpy(u->meta_topics, img->meta.topics,
	       sizeof(img->meta.topics[0]) * img->meta.count);
	memcpy(u->tombs, img->meta.tombs,
	       sizeof(img->meta.tombs[0]) * img->meta.tomb_count);
	memcpy(u->topics, img->topics, sizeof(img->topics[0]) * img->meta.count);
	memcpy(u->parts, img->parts, sizeof(img->parts[0]) * img->part_count);
	u->topics_saved = 1;
}

/* Before parts[index] changes.  Partition indexes stay put until the
 * topic table is saved (only create, delete and alter move them, and they
 * save it first), so the journal's indexes hold when it is unwound. */
static void save_partition(struct sl_ci_image *img, uint32_t index)
{
	struct sl_ci_undo *u = &img->undo;
	if (u->topics_saved)
		return;
	if (u->journal_count == SL_CI_JOURNAL_MAX) {
		save_topics(img);
		return;
	}
	u->journal[u->journal_count].index = index;
	u->journal[u->journal_count].old = img->parts[index];
	u->journal_count++;
}

static void undo_rollback(struct sl_ci_image *img)
{
	struct sl_ci_undo *u = &img->undo;
	if (u->brokers_saved) {
		img->broker_count = u->broker_count;
		memcpy(img->brokers, u->brokers,
		       sizeof(img->brokers[0]) * u->broker_count);
	}
	if (u->topics_saved) {
		img->meta.next_id = u->next_id;
		img->meta.count = u->topic_count;
		img->meta.tomb_count = u->tomb_count;
		img->part_count = u->part_count;
		memcpy(img->meta.topics, u->meta_topics,
		       sizeof(img->meta.topics[0]) * u->topic_count);
		memcpy(img->meta.tombs, u->tombs,
		       sizeof(img->meta.tombs[0]) * u->tomb_count);
		memcpy(img->topics, u->topics,
		       sizeof(img->topics[0]) * u->topic_count);
		memcpy(img->parts, u->parts,
		       sizeof(img->parts[0]) * u->part_count);
	}
	/* changes journaled before the table was saved, newest first */
	for (uint32_t i = u->journal_count; i-- > 0;) {
		assert(u->journal[i].index < img->part_count);
		img->parts[u->journal[i].index] = u->journal[i].old;
	}
	undo_begin(img);
}

/* ---- pass 2: each record against the image ---- */

#define FAIL(...) \
	do { \
		snprintf(why, whylen, __VA_ARGS__); \
		return -EINVAL; \
	} while (0)

/* Every replica of the assignments is a known broker (they were checked
 * for form in pass 1). */
static int assignments_known(const struct sl_ci_image *img,
			     const struct rec *r, unsigned count, char *why,
			     size_t whylen)
{
	struct rd in = { r->assign, r->assign_len, 0, 0 };
	struct sl_ci_partition p;
	for (unsigned i = 0; i < count; i++) {
		const char *bad = rd_assignment(&in, r->rf, &p);
		assert(!bad);
		(void)bad;
		for (unsigned j = 0; j < p.replica_count; j++)
			if (broker_index(img, p.replicas[j], NULL) < 0)
				FAIL("partition %u: replica %d is not a known "
				     "broker", i, (int)p.replicas[j]);
	}
	return 0;
}

/* Append `count` partitions from r's assignments at parts[at]. */
static void put_assignments(struct sl_ci_image *img, const struct rec *r,
			    unsigned count, uint32_t at)
{
	struct rd in = { r->assign, r->assign_len, 0, 0 };
	for (unsigned i = 0; i < count; i++) {
		const char *bad = rd_assignment(&in, r->rf, &img->parts[at + i]);
		assert(!bad);
		(void)bad;
	}
	assert(in.off == in.len);
}

static int apply_register(struct sl_ci_image *img, const struct rec *r,
			  char *why, size_t whylen)
{
	uint32_t at;
	long i = broker_index(img, r->broker_id, &at);
	if (i < 0 && img->broker_count >= SL_CI_BROKERS_MAX)
		FAIL("%d brokers are registered, at most %d",
		     (int)img->broker_count, SL_CI_BROKERS_MAX);
	save_brokers(img);
	struct sl_ci_broker *b;
	if (i < 0) {
		memmove(&img->brokers[at + 1], &img->brokers[at],
			sizeof(img->brokers[0]) * (img->broker_count - at));
		img->broker_count++;
		b = &img->brokers[at];
		memset(b, 0, sizeof(*b));
		b->id = r->broker_id;
		b->fenced = 1;
	} else {
		b = &img->brokers[i];
		if (b->incarnation != r->incarnation || !b->registered)
			b->fenced = 1;
	}
	b->registered = 1;
	b->incarnation = r->incarnation;
	b->kafka_port = r->kafka_port;
	b->native_port = r->native_port;
	b->udp_port = r->udp_port;
	b->udp_addr = r->udp_addr;
	memset(b->host, 0, sizeof(b->host));
	memcpy(b->host, r->host, r->host_len);
	b->host_len = r->host_len;
	return 0;
}

/* A partition of which broker id is a replica, or NULL. */
static const struct sl_ci_partition *replica_of(const struct sl_ci_image *img,
						int32_t id, uint32_t *topic_id,
						int32_t *partition)
{
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_ci_topic *t = &img->topics[i];
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *x =
				&img->parts[t->part_first + (uint32_t)p];
			if (in_list(x->replicas, x->replica_count, id)) {
				*topic_id = t->id;
				*partition = p;
				return x;
			}
		}
	}
	return NULL;
}

static int apply_unregister(struct sl_ci_image *img, const struct rec *r,
			    char *why, size_t whylen)
{
	long i = broker_index(img, r->broker_id, NULL);
	if (i < 0)
		FAIL("broker %d is not registered", (int)r->broker_id);
	uint32_t tid;
	int32_t p;
	if (replica_of(img, r->broker_id, &tid, &p))
		FAIL("broker %d is a replica of topic %u partition %d",
		     (int)r->broker_id, tid, (int)p);
	save_brokers(img);
	memmove(&img->brokers[i], &img->brokers[i + 1],
		sizeof(img->brokers[0]) * (img->broker_count - (uint32_t)i - 1));
	img->broker_count--;
	return 0;
}

static int apply_fencing(struct sl_ci_image *img, const struct rec *r,
			 char *why, size_t whylen)
{
	long i = broker_index(img, r->broker_id, NULL);
	if (i < 0)
		FAIL("broker %d is not registered", (int)r->broker_id);
	save_brokers(img);
	img->brokers[i].fenced = r->type == SL_CI_FENCE_BROKER;
	return 0;
}

/* The topic's replication as its sl_topic shows it to the topic rules
 * (control/kadmin.c: DescribeConfigs, AlterConfigs): the factor, the
 * min.insync.replicas and unclean.leader.election.enable (2 true, 1
 * false: metadata.h). */
static void meta_replication(struct sl_topic *mt, const struct sl_ci_topic *t)
{
	mt->replication_factor = (int16_t)t->replication_factor;
	mt->min_insync_replicas = (int16_t)t->min_insync_replicas;
	mt->unclean_leader_election = t->unclean_leader_election ? 2 : 1;
}

static int apply_create_topic(struct sl_ci_image *img, const struct rec *r,
			      char *why, size_t whylen)
{
	if (sl_meta_find(&img->meta, (const char *)r->name, r->name_len))
		FAIL("topic '%.*s' exists", (int)r->name_len, r->name);
	if (img->meta.count >= SL_META_TOPICS_MAX)
		FAIL("%d topics exist, at most %d", (int)img->meta.count,
		     SL_META_TOPICS_MAX);
	if (img->meta.next_id == UINT32_MAX)
		FAIL("topic ids ran out");
	if ((uint32_t)r->partitions > SL_CI_PARTITIONS_MAX - img->part_count)
		FAIL("%u partitions exist; %d more pass the bound of %d",
		     img->part_count, (int)r->partitions, SL_CI_PARTITIONS_MAX);
	if (assignments_known(img, r, (unsigned)r->partitions, why, whylen))
		return -EINVAL;
	save_topics(img);
	struct sl_topic t = r->cfg.t;
	t.partitions = r->partitions;
	t.name_len = r->name_len;
	memcpy(t.name, r->name, r->name_len);
	t.name[r->name_len] = 0;
	uint32_t expect = img->meta.next_id;
	long id = sl_meta_create(&img->meta, &t);
	assert(id == (long)expect);
	(void)expect;
	uint32_t i = img->meta.count - 1;
	assert(img->meta.topics[i].id == (uint32_t)id);
	struct sl_ci_topic *ct = &img->topics[i];
	memset(ct, 0, sizeof(*ct));
	ct->id = (uint32_t)id;
	ct->partitions = r->partitions;
	ct->part_first = img->part_count;
	ct->min_insync_replicas = r->cfg.min_isr;
	ct->replication_factor = r->rf;
	ct->unclean_leader_election = r->cfg.unclean;
	meta_replication(&img->meta.topics[i], ct);
	put_assignments(img, r, (unsigned)r->partitions, img->part_count);
	img->part_count += (uint32_t)r->partitions;
	return 0;
}

static int apply_delete_topic(struct sl_ci_image *img, const struct rec *r,
			      char *why, size_t whylen)
{
	long i = topic_index(img, r->topic_id);
	if (i < 0)
		FAIL("no topic has id %u", r->topic_id);
	save_topics(img);
	const struct sl_ci_topic gone = img->topics[i];
	uint32_t end = gone.part_first + (uint32_t)gone.partitions;
	assert(end <= img->part_count);
	memmove(&img->parts[gone.part_first], &img->parts[end],
		sizeof(img->parts[0]) * (img->part_count - end));
	img->part_count -= (uint32_t)gone.partitions;
	uint32_t count = img->meta.count;
	for (uint32_t j = (uint32_t)i + 1; j < count; j++)
		img->topics[j].part_first -= (uint32_t)gone.partitions;
	memmove(&img->topics[i], &img->topics[i + 1],
		sizeof(img->topics[0]) * (count - (uint32_t)i - 1));
	char name[SN_NAME_MAX + 1];
	uint16_t name_len = img->meta.topics[i].name_len;
	memcpy(name, img->meta.topics[i].name, name_len);
	int rc = sl_meta_delete(&img->meta, name, name_len, NULL);
	assert(rc == 0 && img->meta.count == count - 1);
	(void)rc;
	return 0;
}

/* The partition a PARTITION_CHANGE or PARTITION_REASSIGN names: its
 * index in parts[] and its topic's, or -EINVAL with why. */
static int changed_partition(const struct sl_ci_image *img,
			     const struct rec *r, uint32_t *at, long *ti,
			     char *why, size_t whylen)
{
	long i = topic_index(img, r->topic_id);
	if (i < 0)
		FAIL("no topic has id %u", r->topic_id);
	const struct sl_ci_topic *t = &img->topics[i];
	if (r->partition >= t->partitions)
		FAIL("topic %u has no partition %d", r->topic_id,
		     (int)r->partition);
	*at = t->part_first + (uint32_t)r->partition;
	*ti = i;
	return 0;
}

/* A change's epochs against the partition's: partition + 1, leader + 1
 * when the leader changes, else + 0 or + 1. */
static int epochs_follow(const struct sl_ci_partition *p, const struct rec *r,
			 char *why, size_t whylen)
{
	const struct sl_ci_partition *c = &r->change;
	if ((int64_t)c->partition_epoch != (int64_t)p->partition_epoch + 1)
		FAIL("topic %u partition %d: partition epoch %d, expected %lld "
		     "(a stale decision)", r->topic_id, (int)r->partition,
		     (int)c->partition_epoch,
		     (long long)p->partition_epoch + 1);
	int64_t le = c->leader_epoch, cur = p->leader_epoch;
	if (c->leader != p->leader ? le != cur + 1 : le != cur && le != cur + 1)
		FAIL("topic %u partition %d: leader epoch %d after %d (+1 "
		     "when the leader changes, else +0 or +1)", r->topic_id,
		     (int)r->partition, (int)c->leader_epoch,
		     (int)p->leader_epoch);
	return 0;
}

static int apply_partition_change(struct sl_ci_image *img,
				  const struct rec *r, char *why,
				  size_t whylen)
{
	uint32_t at;
	long ti;
	if (changed_partition(img, r, &at, &ti, why, whylen))
		return -EINVAL;
	struct sl_ci_partition *p = &img->parts[at];
	const struct sl_ci_partition *c = &r->change;
	if (!isr_in_replica_order(p->replicas, p->replica_count, c->isr,
				  c->isr_count))
		FAIL("topic %u partition %d: the in-sync set is not replicas "
		     "in replica order", r->topic_id, (int)r->partition);
	if (epochs_follow(p, r, why, whylen))
		return -EINVAL;
	save_partition(img, at);
	p->leader = c->leader;
	p->leader_epoch = c->leader_epoch;
	p->partition_epoch = c->partition_epoch;
	p->isr_count = c->isr_count;
	memset(p->isr, 0, sizeof(p->isr));
	memcpy(p->isr, c->isr, sizeof(c->isr[0]) * c->isr_count);
	return 0;
}

static int apply_partition_reassign(struct sl_ci_image *img,
				    const struct rec *r, char *why,
				    size_t whylen)
{
	uint32_t at;
	long ti;
	if (changed_partition(img, r, &at, &ti, why, whylen))
		return -EINVAL;
	const struct sl_ci_partition *c = &r->change;
	if (epochs_follow(&img->parts[at], r, why, whylen))
		return -EINVAL;
	for (unsigned j = 0; j < c->replica_count; j++)
		if (broker_index(img, c->replicas[j], NULL) < 0)
			FAIL("topic %u partition %d: replica %d is not a known "
			     "broker", r->topic_id, (int)r->partition,
			     (int)c->replicas[j]);
	int sets_rf = r->partition == 0 && !c->adding && !c->removing &&
		      img->topics[ti].replication_factor != c->replica_count;
	if (sets_rf)
		save_topics(img);
	else
		save_partition(img, at);
	img->parts[at] = *c;
	if (sets_rf) {
		img->topics[ti].replication_factor = c->replica_count;
		meta_replication(&img->meta.topics[ti], &img->topics[ti]);
	}
	return 0;
}

static int apply_create_partitions(struct sl_ci_image *img,
				   const struct rec *r, char *why,
				   size_t whylen)
{
	long i = topic_index(img, r->topic_id);
	if (i < 0)
		FAIL("no topic has id %u", r->topic_id);
	struct sl_ci_topic *t = &img->topics[i];
	if (r->partitions != t->partitions)
		FAIL("topic %u has %d partitions, not %d", r->topic_id,
		     (int)t->partitions, (int)r->partitions);
	if (r->new_count > SL_CI_PARTITIONS_MAX - img->part_count)
		FAIL("%u partitions exist; %d more pass the bound of %d",
		     img->part_count, (int)r->new_count, SL_CI_PARTITIONS_MAX);
	if (assignments_known(img, r, r->new_count, why, whylen))
		return -EINVAL;
	save_topics(img);
	uint32_t at = t->part_first + (uint32_t)t->partitions;
	memmove(&img->parts[at + r->new_count], &img->parts[at],
		sizeof(img->parts[0]) * (img->part_count - at));
	put_assignments(img, r, r->new_count, at);
	img->part_count += r->new_count;
	for (uint32_t j = (uint32_t)i + 1; j < img->meta.count; j++)
		img->topics[j].part_first += r->new_count;
	t->partitions += r->new_count;
	struct sl_topic mt = img->meta.topics[i];
	mt.partitions = t->partitions;
	int rc = sl_meta_update(&img->meta, &mt);
	assert(rc == 0);
	(void)rc;
	return 0;
}

static int apply_alter_config(struct sl_ci_image *img, const struct rec *r,
			      char *why, size_t whylen)
{
	long i = topic_index(img, r->topic_id);
	if (i < 0)
		FAIL("no topic has id %u", r->topic_id);
	if (r->cfg.t.durability != img->meta.topics[i].durability)
		FAIL("topic %u: durability is fixed at creation", r->topic_id);
	save_topics(img);
	struct sl_topic mt = r->cfg.t;
	mt.id = r->topic_id;
	mt.partitions = img->meta.topics[i].partitions;
	int rc = sl_meta_update(&img->meta, &mt);
	assert(rc == 0);
	(void)rc;
	img->topics[i].min_insync_replicas = r->cfg.min_isr;
	img->topics[i].unclean_leader_election = r->cfg.unclean;
	meta_replication(&img->meta.topics[i], &img->topics[i]);
	return 0;
}

static int rec_apply(struct sl_ci_image *img, const struct rec *r, char *why,
		     size_t whylen)
{
	switch (r->type) {
	case SL_CI_REGISTER_BROKER:
		return apply_register(img, r, why, whylen);
	case SL_CI_FENCE_BROKER:
	case SL_CI_UNFENCE_BROKER:
		return apply_fencing(img, r, why, whylen);
	case SL_CI_CREATE_TOPIC:
		return apply_create_topic(img, r, why, whylen);
	case SL_CI_DELETE_TOPIC:
		return apply_delete_topic(img, r, why, whylen);
	case SL_CI_PARTITION_CHANGE:
		return apply_partition_change(img, r, why, whylen);
	case SL_CI_CREATE_PARTITIONS:
		return apply_create_partitions(img, r, why, whylen);
	case SL_CI_ALTER_TOPIC_CONFIG:
		return apply_alter_config(img, r, why, whylen);
	case SL_CI_PARTITION_REASSIGN:
		return apply_partition_reassign(img, r, why, whylen);
	case SL_CI_UNREGISTER_BROKER:
		return apply_unregister(img, r, why, whylen);
	}
	assert(0 && "pass 1 lets no unknown type through");
	return -EINVAL;
}

#undef FAIL

/* The next record of an entry: its type and body; 0 when the entry ends
 * first (in->short_read then says so). */
static int next_record(struct rd *in, uint8_t *type, const uint8_t **body,
		       size_t *len)
{
	*type = rd8(in);
	uint32_t n = rd32(in);
	*body = rd_bytes(in, n);
	*len = n;
	return !in->short_read;
}

int sl_ci_apply(struct sl_ci_image *img, uint64_t index, const uint8_t *buf,
		size_t len, char *err, size_t errlen)
{
	char why[256];
	struct rec r;
	uint8_t type = 0;
	const uint8_t *body;
	size_t blen;
	assert(img && (buf || len == 0));
	if (index <= img->applied_index) {
		snprintf(err, errlen, "entry %llu is not after the last "
			 "applied, %llu", (unsigned long long)index,
			 (unsigned long long)img->applied_index);
		return -ERANGE;
	}
	/* pass 1: the bytes alone */
	struct rd in = { buf, len, 0, 0 };
	uint8_t version = rd8(&in);
	uint16_t count = rd16(&in);
	const char *bad = NULL;
	long rec_no = -1;
	if (len > SL_CI_ENTRY_MAX)
		bad = "longer than SL_CI_ENTRY_MAX";
	else if (in.short_read)
		bad = "shorter than its header";
	else if (version != CI_FORMAT_VERSION)
		bad = "unknown format version";
	else if (count == 0)
		bad = "no records";
	for (uint32_t i = 0; !bad; i++) {
		if (in.off == len) {
			if (i != count)
				bad = "fewer records than its count";
			break;
		}
		if (i == count) {
			bad = "bytes after its last record";
			break;
		}
		rec_no = i;
		if (!next_record(&in, &type, &body, &blen))
			bad = "runs past the end of the entry";
		else
			bad = rec_decode(type, body, blen, &r);
	}
	if (bad) {
		if (rec_no >= 0 && in.off != len)
			snprintf(err, errlen, "entry %llu refused: record %ld "
				 "(%s): %s", (unsigned long long)index, rec_no,
				 sl_ci_record_name(type), bad);
		else
			snprintf(err, errlen, "entry %llu refused: %s",
				 (unsigned long long)index, bad);
		img->applied_index = index;
		return -EINVAL;
	}
	/* pass 2: each record against the image its predecessors left */
	undo_begin(img);
	in = (struct rd){ buf, len, CI_ENTRY_HEADER_BYTES, 0 };
	for (uint32_t i = 0; i < count; i++) {
		int whole = next_record(&in, &type, &body, &blen);
		assert(whole);
		(void)whole;
		bad = rec_decode(type, body, blen, &r);
		assert(!bad);
		if (rec_apply(img, &r, why, sizeof(why))) {
			undo_rollback(img);
			snprintf(err, errlen, "entry %llu refused: record %u "
				 "(%s): %s", (unsigned long long)index, i,
				 sl_ci_record_name(type), why);
			img->applied_index = index;
			return -EINVAL;
		}
	}
	assert(in.off == len);
	undo_begin(img);
	img->applied_index = index;
	return 0;
}

/* ---- invariants ---- */

#define BROKEN(...) \
	do { \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1; \
	} while (0)

static int check_partition(const struct sl_ci_image *img, uint32_t tid,
			   int32_t pi, const struct sl_ci_partition *p,
			   char *err, size_t errlen)
{
	unsigned rf = p->replica_count;
	if (rf < 1 || rf > SL_CI_RF_MAX)
		BROKEN("topic %u partition %d: %u replicas", tid, (int)pi, rf);
	const char *bad = masks_problem(p);
	if (bad)
		BROKEN("topic %u partition %d: %s", tid, (int)pi, bad);
	for (unsigned i = 0; i < SL_CI_RF_MAX; i++) {
		int32_t id = p->replicas[i];
		if (i >= rf) {
			if (id)
				BROKEN("topic %u partition %d: unused replica "
				       "slot not 0", tid, (int)pi);
			continue;
		}
		if (broker_index(img, id, NULL) < 0)
			BROKEN("topic %u partition %d: replica %d is not a "
			       "known broker", tid, (int)pi, (int)id);
		if (in_list(p->replicas, i, id))
			BROKEN("topic %u partition %d: replica %d twice", tid,
			       (int)pi, (int)id);
	}
	if (p->isr_count < 1 || p->isr_count > rf)
		BROKEN("topic %u partition %d: %u in sync", tid, (int)pi,
		       p->isr_count);
	for (unsigned i = p->isr_count; i < SL_CI_RF_MAX; i++)
		if (p->isr[i])
			BROKEN("topic %u partition %d: unused in-sync slot not "
			       "0", tid, (int)pi);
	if (!isr_in_replica_order(p->replicas, rf, p->isr, p->isr_count))
		BROKEN("topic %u partition %d: the in-sync set is not replicas "
		       "in replica order", tid, (int)pi);
	if (p->leader != -1 && !part_in_isr(p, p->leader))
		BROKEN("topic %u partition %d: leader %d is not in sync", tid,
		       (int)pi, (int)p->leader);
	if (p->leader_epoch < 0 || p->partition_epoch < 0)
		BROKEN("topic %u partition %d: a negative epoch", tid, (int)pi);
	return 0;
}

int sl_ci_check(const struct sl_ci_image *img, char *err, size_t errlen)
{
	const struct sl_meta *m = &img->meta;
	if (img->broker_count > SL_CI_BROKERS_MAX)
		BROKEN("%u brokers", img->broker_count);
	for (uint32_t i = 0; i < img->broker_count; i++) {
		const struct sl_ci_broker *b = &img->brokers[i];
		if (!node_id_valid(b->id))
			BROKEN("broker id %d out of range", (int)b->id);
		if (i > 0 && b->id <= img->brokers[i - 1].id)
			BROKEN("broker ids not unique and ascending at %d",
			       (int)b->id);
		if (!host_valid(b->host, b->host_len) || b->host[b->host_len])
			BROKEN("broker %d: bad host", (int)b->id);
		if (!b->kafka_port || !b->native_port || b->fenced > 1 ||
		    b->registered > 1)
			BROKEN("broker %d: a port 0 or a flag not 0/1",
			       (int)b->id);
	}
	if (m->count > SL_META_TOPICS_MAX ||
	    m->tomb_count > SL_META_TOMBSTONES_MAX || m->next_id < 1)
		BROKEN("topic counts or next id out of range");
	if (img->part_count > SL_CI_PARTITIONS_MAX)
		BROKEN("%u partitions", img->part_count);
	uint32_t parts = 0;
	for (uint32_t i = 0; i < m->count; i++) {
		const struct sl_topic *t = &m->topics[i];
		const struct sl_ci_topic *c = &img->topics[i];
		if (t->id == 0 || t->id >= m->next_id ||
		    (i > 0 && t->id <= m->topics[i - 1].id))
			BROKEN("topic id %u: not unique, ascending and below "
			       "the next id %u", t->id, m->next_id);
		if (t->name_len > SN_NAME_MAX ||
		    !sn_topic_name_valid(t->name, t->name_len) ||
		    t->name[t->name_len])
			BROKEN("topic %u: bad name", t->id);
		for (uint32_t j = 0; j < i; j++)
			if (m->topics[j].name_len == t->name_len &&
			    !memcmp(m->topics[j].name, t->name, t->name_len))
				BROKEN("topic name '%s' twice", t->name);
		const char *why = config_problem(t, c->min_insync_replicas,
						 c->unclean_leader_election);
		if (why)
			BROKEN("topic %u: %s", t->id, why);
		if (c->id != t->id || c->partitions != t->partitions)
			BROKEN("topic %u: cluster state of topic %u beside it",
			       t->id, c->id);
		if (t->partitions < 1 || t->partitions > SN_PARTITIONS_MAX)
			BROKEN("topic %u: %d partitions", t->id,
			       (int)t->partitions);
		if (c->replication_factor < 1 ||
		    c->replication_factor > SL_CI_RF_MAX)
			BROKEN("topic %u: replication factor %u", t->id,
			       c->replication_factor);
		if (c->part_first != parts ||
		    (uint32_t)t->partitions > img->part_count - parts)
			BROKEN("topic %u: partitions not where they belong",
			       t->id);
		for (int32_t p = 0; p < t->partitions; p++)
			if (check_partition(img, t->id, p,
					    &img->parts[parts + (uint32_t)p],
					    err, errlen))
				return -1;
		parts += (uint32_t)t->partitions;
	}
	if (parts != img->part_count)
		BROKEN("%u partitions counted, %u held", parts,
		       img->part_count);
	for (uint32_t i = 0; i < m->tomb_count; i++) {
		const struct sl_tombstone *t = &m->tombs[i];
		if (t->id == 0 || t->id >= m->next_id ||
		    topic_index(img, t->id) >= 0)
			BROKEN("tombstone id %u: zero, not below the next id, "
			       "or a live topic's", t->id);
		if (t->name_len > SN_NAME_MAX ||
		    !sn_topic_name_valid(t->name, t->name_len) ||
		    t->name[t->name_len])
			BROKEN("tombstone %u: bad name", t->id);
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(m->tombs[j].name, t->name))
				BROKEN("tombstone name '%s' twice", t->name);
	}
	return 0;
}

int sl_ci_check_step(const struct sl_ci_image *before,
		     const struct sl_ci_image *after, char *err,
		     size_t errlen)
{
	if (after->applied_index < before->applied_index)
		BROKEN("applied index went down");
	if (after->meta.next_id < before->meta.next_id)
		BROKEN("next topic id went down");
	for (uint32_t i = 0; i < after->meta.count; i++) {
		const struct sl_topic *a = &after->meta.topics[i];
		long j = topic_index(before, a->id);
		if (j < 0) {
			if (a->id < before->meta.next_id)
				BROKEN("topic id %u reused", a->id);
			continue;
		}
		const struct sl_topic *b = &before->meta.topics[j];
		const struct sl_ci_topic *ca = &after->topics[i];
		const struct sl_ci_topic *cb = &before->topics[j];
		if (a->name_len != b->name_len ||
		    memcmp(a->name, b->name, a->name_len))
			BROKEN("topic %u changed name", a->id);
		if (ca->partitions < cb->partitions)
			BROKEN("topic %u lost partitions", a->id);
		for (int32_t p = 0; p < cb->partitions; p++) {
			const struct sl_ci_partition *x =
				&before->parts[cb->part_first + (uint32_t)p];
			const struct sl_ci_partition *y =
				&after->parts[ca->part_first + (uint32_t)p];
			if (y->leader_epoch < x->leader_epoch ||
			    y->partition_epoch < x->partition_epoch)
				BROKEN("topic %u partition %d: an epoch went "
				       "down", a->id, (int)p);
			if (y->partition_epoch == x->partition_epoch &&
			    (y->leader != x->leader ||
			     y->replica_count != x->replica_count ||
			     memcmp(y->replicas, x->replicas,
				    sizeof(x->replicas)) ||
			     y->adding != x->adding ||
			     y->removing != x->removing ||
			     y->leader_epoch != x->leader_epoch ||
			     y->isr_count != x->isr_count ||
			     memcmp(y->isr, x->isr, sizeof(x->isr))))
				BROKEN("topic %u partition %d: changed without "
				       "a new partition epoch", a->id, (int)p);
		}
	}
	return 0;
}

#undef BROKEN

/* ---- decisions ---- */

static void say(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;
	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

/* Live, with one broker's liveness overridden (flip_id: 0 for none). */
static int live_as(const struct sl_ci_image *img, int32_t id, int32_t flip_id,
		   int flip_live)
{
	if (id == flip_id)
		return flip_live;
	return sl_ci_broker_live(img, id);
}

/* Elect for n (its isr already the proposed one): a leader still live and
 * in sync stays; else the first replica in sync and live; else, unclean
 * allowed, the first live replica with an in-sync set of itself; else -1.
 * Sets n->leader and, on an unclean election, n->isr. */
static void elect(const struct sl_ci_image *img, struct sl_ci_partition *n,
		  int unclean, int32_t flip_id, int flip_live)
{
	if (n->leader != -1 && part_in_isr(n, n->leader) &&
	    live_as(img, n->leader, flip_id, flip_live))
		return;
	for (unsigned i = 0; i < n->replica_count; i++) {
		int32_t r = n->replicas[i];
		if (part_in_isr(n, r) && live_as(img, r, flip_id, flip_live)) {
			n->leader = r;
			return;
		}
	}
	n->leader = -1;
	if (!unclean)
		return;
	for (unsigned i = 0; i < n->replica_count; i++) {
		int32_t r = n->replicas[i];
		if (live_as(img, r, flip_id, flip_live)) {
			n->leader = r;
			memset(n->isr, 0, sizeof(n->isr));
			n->isr[0] = r;
			n->isr_count = 1;
			return;
		}
	}
}

static int same_state(const struct sl_ci_partition *a,
		      const struct sl_ci_partition *b)
{
	return a->leader == b->leader && a->isr_count == b->isr_count &&
	       !memcmp(a->isr, b->isr, sizeof(a->isr));
}

/* n's epochs after old: partition + 1, leader + 1 when the leader changed.
 * -EOVERFLOW when an epoch would pass INT32_MAX. */
static int next_epochs(const struct sl_ci_partition *old,
		       struct sl_ci_partition *n)
{
	if (old->partition_epoch == INT32_MAX ||
	    (n->leader != old->leader && old->leader_epoch == INT32_MAX))
		return -EOVERFLOW;
	n->partition_epoch = old->partition_epoch + 1;
	n->leader_epoch = old->leader_epoch + (n->leader != old->leader);
	return 0;
}

/* A PARTITION_CHANGE's or PARTITION_REASSIGN's first fields; where its
 * length goes. */
static size_t w_partition_head(struct bw *w, uint8_t type, uint32_t topic_id,
			       int32_t partition,
			       const struct sl_ci_partition *n)
{
	size_t at = rec_open(w, type);
	w32(w, topic_id);
	w32(w, (uint32_t)partition);
	w32(w, (uint32_t)n->leader);
	w32(w, (uint32_t)n->leader_epoch);
	w32(w, (uint32_t)n->partition_epoch);
	return at;
}

static void w_partition_change(struct bw *w, uint32_t topic_id,
			       int32_t partition,
			       const struct sl_ci_partition *n)
{
	size_t at = w_partition_head(w, SL_CI_PARTITION_CHANGE, topic_id,
				     partition, n);
	w8(w, n->isr_count);
	for (unsigned i = 0; i < n->isr_count; i++)
		w32(w, (uint32_t)n->isr[i]);
	rec_close(w, at);
}

/* Broker id goes away (fenced, or restarted): for every partition it
 * leads or is in sync for, the change fence_broker describes. */
static int w_departure(const struct sl_ci_image *img, int32_t id,
		       struct bw *w)
{
	for (uint32_t i = 0; i < img->meta.count && !w->full; i++) {
		const struct sl_ci_topic *t = &img->topics[i];
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *o =
				&img->parts[t->part_first + (uint32_t)p];
			int in = part_in_isr(o, id);
			if (o->leader != id && !in)
				continue;
			struct sl_ci_partition n = *o;
			if (in && n.isr_count > 1) {
				unsigned k = 0;
				for (unsigned j = 0; j < o->isr_count; j++)
					if (o->isr[j] != id)
						n.isr[k++] = o->isr[j];
				n.isr[k] = 0;
				n.isr_count = (uint8_t)k;
			}
			elect(img, &n, t->unclean_leader_election, id, 0);
			if (same_state(&n, o))
				continue;
			if (next_epochs(o, &n))
				return -EOVERFLOW;
			w_partition_change(w, t->id, p, &n);
		}
	}
	return 0;
}

static int refuse_overflow(struct bw *w, char *msg, size_t msglen)
{
	bw_abort(w);
	say(msg, msglen, "a partition's epoch would pass 2^31-1");
	return -EOVERFLOW;
}

int sl_ci_fence_broker(const struct sl_ci_image *img, int32_t id,
		       struct sl_ci_batch *out, char *msg, size_t msglen)
{
	if (!sl_ci_broker_find(img, id)) {
		say(msg, msglen, "broker %d is not registered", (int)id);
		return SL_CI_ERR_BROKER_ID_NOT_REGISTERED;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_FENCE_BROKER);
	w32(&w, (uint32_t)id);
	rec_close(&w, at);
	if (w_departure(img, id, &w))
		return refuse_overflow(&w, msg, msglen);
	return bw_end(&w);
}

int sl_ci_unfence_broker(const struct sl_ci_image *img, int32_t id,
			 struct sl_ci_batch *out, char *msg, size_t msglen)
{
	if (!sl_ci_broker_find(img, id)) {
		say(msg, msglen, "broker %d is not registered", (int)id);
		return SL_CI_ERR_BROKER_ID_NOT_REGISTERED;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_UNFENCE_BROKER);
	w32(&w, (uint32_t)id);
	rec_close(&w, at);
	for (uint32_t i = 0; i < img->meta.count && !w.full; i++) {
		const struct sl_ci_topic *t = &img->topics[i];
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *o =
				&img->parts[t->part_first + (uint32_t)p];
			if (o->leader != -1)
				continue;
			struct sl_ci_partition n = *o;
			elect(img, &n, t->unclean_leader_election, id, 1);
			if (n.leader == -1)
				continue;
			if (next_epochs(o, &n))
				return refuse_overflow(&w, msg, msglen);
			w_partition_change(&w, t->id, p, &n);
		}
	}
	return bw_end(&w);
}

int sl_ci_register_broker(const struct sl_ci_image *img, int32_t id,
			  uint64_t incarnation, const char *host,
			  size_t host_len, uint16_t kafka_port,
			  uint16_t native_port, struct sl_ci_batch *out,
			  char *msg, size_t msglen)
{
	return sl_ci_register_broker_udp(img, id, incarnation, host, host_len,
					 kafka_port, native_port, native_port,
					 0, out, msg, msglen);
}

int sl_ci_register_broker_udp(const struct sl_ci_image *img, int32_t id,
			      uint64_t incarnation, const char *host,
			      size_t host_len, uint16_t kafka_port,
			      uint16_t native_port, uint16_t udp_port,
			      uint32_t udp_addr, struct sl_ci_batch *out,
			      char *msg, size_t msglen)
{
	if (!node_id_valid(id)) {
		say(msg, msglen, "broker id %d: give 1..%d", (int)id,
		    SL_CI_NODE_ID_MAX);
		return SN_ERR_INVALID_REQUEST;
	}
	if (!host || !host_valid(host, host_len)) {
		say(msg, msglen, "broker %d: the Kafka host is 1..%d printable "
		    "characters without spaces", (int)id, SL_CI_HOST_MAX);
		return SN_ERR_INVALID_REQUEST;
	}
	if (!kafka_port || !native_port) {
		say(msg, msglen, "broker %d: a port is 0", (int)id);
		return SN_ERR_INVALID_REQUEST;
	}
	const struct sl_ci_broker *b = sl_ci_broker_find(img, id);
	if (!b && img->broker_count >= SL_CI_BROKERS_MAX) {
		say(msg, msglen, "broker %d: %d brokers are registered, at "
		    "most %d", (int)id, (int)img->broker_count,
		    SL_CI_BROKERS_MAX);
		return SN_ERR_INVALID_REQUEST;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_REGISTER_BROKER);
	w32(&w, (uint32_t)id);
	w64(&w, incarnation);
	w16(&w, kafka_port);
	w16(&w, native_port);
	w8(&w, (uint8_t)host_len);
	w_bytes(&w, host, host_len);
	w16(&w, udp_port);
	w_bytes(&w, &udp_addr, 4); /* network order as given */
	rec_close(&w, at);
	/* a restarted process: what the old one held ends with it */
	if (b && (b->incarnation != incarnation || !b->registered) &&
	    w_departure(img, id, &w))
		return refuse_overflow(&w, msg, msglen);
	return bw_end(&w);
}

/* The live brokers, ascending; their count. */
static uint32_t live_brokers(const struct sl_ci_image *img,
			     int32_t ids[SL_CI_BROKERS_MAX])
{
	return (uint32_t)sl_ci_active_brokers(img, ids, SL_CI_BROKERS_MAX);
}

/* Placement (Kafka's rack-unaware assignment) of partitions p0 .. p0 +
 * count - 1 with rf replicas over the n live brokers, written as
 * assignments: every replica in sync, the first leads. */
static void w_placement(struct bw *w, const int32_t *live, uint32_t n,
			unsigned rf, int32_t p0, int32_t count, uint32_t start,
			uint32_t shift)
{
	assert(n >= rf && rf >= 1);
	uint64_t s = shift % n;
	start %= n;
	for (int32_t p = p0; p < p0 + count; p++) {
		if (p > 0 && (uint32_t)p % n == 0)
			s++;
		struct sl_ci_partition a;
		memset(&a, 0, sizeof(a));
		uint32_t first = ((uint32_t)p + start) % n;
		a.replica_count = (uint8_t)rf;
		a.replicas[0] = live[first];
		for (unsigned j = 1; j < rf; j++)
			a.replicas[j] = live[(first + 1 +
					      (uint32_t)((s + j - 1) % (n - 1))) %
					     n];
		a.leader = a.replicas[0];
		a.isr_count = (uint8_t)rf;
		memcpy(a.isr, a.replicas, sizeof(a.isr));
		w_assignment(w, &a);
	}
}

/* Check one manual list; fill a (in-sync: the live replicas, the first
 * leads).  0 or a Kafka error with msg. */
static int manual_partition(const struct sl_ci_image *img, int32_t p,
			    const struct sl_ci_assignment *as, int32_t rf,
			    struct sl_ci_partition *a, char *msg,
			    size_t msglen)
{
	if (as->count < 1 || !as->broker_ids) {
		say(msg, msglen, "partition %d: an empty replica list",
		    (int)p);
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (as->count > SL_CI_RF_MAX) {
		say(msg, msglen, "partition %d: %d replicas, at most %d",
		    (int)p, (int)as->count, SL_CI_RF_MAX);
		return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
	}
	if (as->count != rf) {
		say(msg, msglen, "partition %d: %d replicas, but the "
		    "replication factor is %d", (int)p, (int)as->count,
		    (int)rf);
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	memset(a, 0, sizeof(*a));
	a->replica_count = (uint8_t)rf;
	a->leader = -1;
	for (int32_t i = 0; i < rf; i++) {
		int32_t id = as->broker_ids[i];
		const struct sl_ci_broker *b = sl_ci_broker_find(img, id);
		if (in_list(a->replicas, (unsigned)i, id)) {
			say(msg, msglen, "partition %d: broker %d twice",
			    (int)p, (int)id);
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		if (!b || !b->registered) {
			say(msg, msglen, "partition %d: broker %d is not "
			    "registered", (int)p, (int)id);
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		a->replicas[i] = id;
		if (!b->fenced)
			a->isr[a->isr_count++] = id;
	}
	if (!a->isr_count) {
		say(msg, msglen, "partition %d: every broker of its replica "
		    "list is fenced", (int)p);
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	a->leader = a->isr[0];
	return 0;
}

/* The request's configs with defaults filled; 0 or INVALID_CONFIG. */
static int req_config(const struct sl_topic *in, int32_t min_isr,
		      uint8_t unclean, struct sl_topic *out, char *msg,
		      size_t msglen)
{
	*out = *in;
	if (out->cleanup_policy == 0)
		sl_topic_compaction_defaults(out);
	const char *why = config_problem(out, min_isr, unclean);
	if (why) {
		say(msg, msglen, "%s", why);
		return SL_CI_ERR_INVALID_CONFIG;
	}
	return 0;
}

static int room_for(const struct sl_ci_image *img, int32_t partitions,
		    int new_topic, char *msg, size_t msglen)
{
	if (new_topic && (img->meta.count >= SL_META_TOPICS_MAX ||
			  img->meta.next_id == UINT32_MAX)) {
		say(msg, msglen, "%d topics exist, at most %d",
		    (int)img->meta.count, SL_META_TOPICS_MAX);
		return SN_ERR_INVALID_PARTITIONS;
	}
	if ((uint32_t)partitions > SL_CI_PARTITIONS_MAX - img->part_count) {
		say(msg, msglen, "the cluster holds %u partitions; %d more "
		    "pass its bound of %d", img->part_count, (int)partitions,
		    SL_CI_PARTITIONS_MAX);
		return SN_ERR_INVALID_PARTITIONS;
	}
	return 0;
}

int sl_ci_create_topic(const struct sl_ci_image *img,
		       const struct sl_ci_topic_req *req,
		       struct sl_ci_batch *out, char *msg, size_t msglen)
{
	int32_t live[SL_CI_BROKERS_MAX];
	struct sl_topic cfg;
	int rc;
	if (!req->name || req->name_len < 1 || req->name_len > SN_NAME_MAX ||
	    !sn_topic_name_valid(req->name, req->name_len)) {
		say(msg, msglen, "a topic name is 1 to %d characters of "
		    "[A-Za-z0-9._-], and not '.' or '..'", SN_NAME_MAX);
		return SN_ERR_INVALID_TOPIC_EXCEPTION;
	}
	if (sl_meta_find(&img->meta, req->name, req->name_len)) {
		say(msg, msglen, "topic '%.*s' already exists",
		    (int)req->name_len, req->name);
		return SN_ERR_TOPIC_ALREADY_EXISTS;
	}
	int32_t parts, rf;
	if (req->assignment) {
		if (req->partitions != -1 || req->replication_factor != -1) {
			say(msg, msglen, "give either partitions and "
			    "replication factor or a manual assignment (with "
			    "both -1), not both");
			return SN_ERR_INVALID_REQUEST;
		}
		parts = req->assignment_count;
		if (parts < 1 || parts > SN_PARTITIONS_MAX) {
			say(msg, msglen, "%d partitions assigned: give 1 to %d",
			    (int)parts, SN_PARTITIONS_MAX);
			return SN_ERR_INVALID_PARTITIONS;
		}
		rf = req->assignment[0].count;
	} else {
		parts = req->partitions == -1 ? req->default_partitions
					      : req->partitions;
		if (parts < 1 || parts > SN_PARTITIONS_MAX) {
			say(msg, msglen, "%d partitions: give 1 to %d, or -1 "
			    "for the default", (int)parts, SN_PARTITIONS_MAX);
			return SN_ERR_INVALID_PARTITIONS;
		}
		rf = req->replication_factor == -1
			     ? req->default_replication_factor
			     : req->replication_factor;
		if (rf < 1 || rf > SL_CI_RF_MAX) {
			say(msg, msglen, "replication factor %d: give 1 to %d, "
			    "or -1 for the default", (int)rf, SL_CI_RF_MAX);
			return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
		}
		uint32_t n = live_brokers(img, live);
		if ((uint32_t)rf > n) {
			say(msg, msglen, "replication factor %d: only %u "
			    "brokers are registered and unfenced", (int)rf, n);
			return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
		}
	}
	if ((rc = req_config(&req->config, req->min_insync_replicas,
			     req->unclean_leader_election, &cfg, msg, msglen)))
		return rc;
	if ((rc = room_for(img, parts, 1, msg, msglen)))
		return rc;
	struct sl_ci_partition manual;
	int16_t where[SN_PARTITIONS_MAX]; /* partition -> assignment index */
	if (req->assignment) {
		/* every list first, so that a refusal writes nothing */
		memset(where, 0xff, sizeof(where));
		for (int32_t i = 0; i < parts; i++) {
			int32_t p = req->assignment[i].partition;
			if (p < 0 || p >= parts || where[p] >= 0) {
				say(msg, msglen, "the assignment must list "
				    "partitions 0 to %d once each (partition "
				    "%d)", (int)parts - 1, (int)p);
				return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
			}
			where[p] = (int16_t)i;
			if ((rc = manual_partition(img, p, &req->assignment[i],
						   rf, &manual, msg, msglen)))
				return rc;
		}
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_CREATE_TOPIC);
	w16(&w, (uint16_t)req->name_len);
	w_bytes(&w, req->name, req->name_len);
	w_config(&w, &cfg, req->min_insync_replicas,
		 req->unclean_leader_election);
	w32(&w, (uint32_t)parts);
	w8(&w, (uint8_t)rf);
	if (req->assignment) {
		for (int32_t p = 0; p < parts && !w.full; p++) {
			rc = manual_partition(img, p,
					      &req->assignment[where[p]], rf,
					      &manual, msg, msglen);
			assert(rc == 0);
			w_assignment(&w, &manual);
		}
	} else {
		uint32_t n = live_brokers(img, live);
		w_placement(&w, live, n, (unsigned)rf, 0, parts, req->start,
			    req->shift);
	}
	rec_close(&w, at);
	return bw_end(&w);
}

int sl_ci_delete_topic(const struct sl_ci_image *img, const char *name,
		       size_t name_len, struct sl_ci_batch *out, char *msg,
		       size_t msglen)
{
	const struct sl_ci_topic *t =
		name ? sl_ci_topic_find(img, name, name_len) : NULL;
	if (!t) {
		say(msg, msglen, "no topic '%.*s'",
		    name ? (int)(name_len > SN_NAME_MAX ? SN_NAME_MAX
							: name_len) : 0,
		    name ? name : "");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_DELETE_TOPIC);
	w32(&w, t->id);
	rec_close(&w, at);
	return bw_end(&w);
}

int sl_ci_create_partitions(const struct sl_ci_image *img, const char *name,
			    size_t name_len, int32_t count,
			    const struct sl_ci_assignment *assignment,
			    int32_t assignment_count, uint32_t start,
			    uint32_t shift, struct sl_ci_batch *out,
			    char *msg, size_t msglen)
{
	int32_t live[SL_CI_BROKERS_MAX];
	struct sl_ci_partition a;
	int rc;
	const struct sl_ci_topic *t =
		name ? sl_ci_topic_find(img, name, name_len) : NULL;
	if (!t) {
		say(msg, msglen, "no topic '%.*s'",
		    name ? (int)(name_len > SN_NAME_MAX ? SN_NAME_MAX
							: name_len) : 0,
		    name ? name : "");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (count <= t->partitions) {
		say(msg, msglen, "topic has %d partitions; give more than "
		    "that (partitions are never removed)", (int)t->partitions);
		return SN_ERR_INVALID_PARTITIONS;
	}
	if (count > SN_PARTITIONS_MAX) {
		say(msg, msglen, "%d partitions: at most %d", (int)count,
		    SN_PARTITIONS_MAX);
		return SN_ERR_INVALID_PARTITIONS;
	}
	int32_t more = count - t->partitions;
	if ((rc = room_for(img, more, 0, msg, msglen)))
		return rc;
	uint32_t n = live_brokers(img, live);
	if (assignment) {
		if (assignment_count != more) {
			say(msg, msglen, "%d replica lists for %d new "
			    "partitions", (int)assignment_count, (int)more);
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		for (int32_t i = 0; i < more; i++)
			if ((rc = manual_partition(img, t->partitions + i,
						   &assignment[i],
						   t->replication_factor, &a,
						   msg, msglen)))
				return rc;
	} else if (n < t->replication_factor) {
		say(msg, msglen, "replication factor %d: only %u brokers are "
		    "registered and unfenced", (int)t->replication_factor, n);
		return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_CREATE_PARTITIONS);
	w32(&w, t->id);
	w32(&w, (uint32_t)t->partitions);
	w16(&w, (uint16_t)more);
	w8(&w, t->replication_factor);
	if (assignment) {
		for (int32_t i = 0; i < more && !w.full; i++) {
			rc = manual_partition(img, t->partitions + i,
					      &assignment[i],
					      t->replication_factor, &a, msg,
					      msglen);
			assert(rc == 0);
			w_assignment(&w, &a);
		}
	} else {
		w_placement(&w, live, n, t->replication_factor, t->partitions,
			    more, start, shift);
	}
	rec_close(&w, at);
	return bw_end(&w);
}

int sl_ci_alter_topic_config(const struct sl_ci_image *img, const char *name,
			     size_t name_len, const struct sl_topic *config,
			     int32_t min_insync_replicas,
			     uint8_t unclean_leader_election,
			     struct sl_ci_batch *out, char *msg,
			     size_t msglen)
{
	struct sl_topic cfg;
	int rc;
	const struct sl_ci_topic *t =
		name ? sl_ci_topic_find(img, name, name_len) : NULL;
	if (!t) {
		say(msg, msglen, "no topic '%.*s'",
		    name ? (int)(name_len > SN_NAME_MAX ? SN_NAME_MAX
							: name_len) : 0,
		    name ? name : "");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if ((rc = req_config(config, min_insync_replicas,
			     unclean_leader_election, &cfg, msg, msglen)))
		return rc;
	if (cfg.durability != sl_ci_topic_meta(img, t)->durability) {
		say(msg, msglen, "durability is fixed when a topic is created");
		return SL_CI_ERR_INVALID_CONFIG;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_ALTER_TOPIC_CONFIG);
	w32(&w, t->id);
	w_config(&w, &cfg, min_insync_replicas, unclean_leader_election);
	rec_close(&w, at);
	if (unclean_leader_election && !t->unclean_leader_election)
		for (int32_t p = 0; p < t->partitions && !w.full; p++) {
			const struct sl_ci_partition *o =
				&img->parts[t->part_first + (uint32_t)p];
			if (o->leader != -1)
				continue;
			struct sl_ci_partition n = *o;
			elect(img, &n, 1, 0, 0);
			if (n.leader == -1)
				continue;
			if (next_epochs(o, &n))
				return refuse_overflow(&w, msg, msglen);
			w_partition_change(&w, t->id, p, &n);
		}
	return bw_end(&w);
}

/* The partition, or a Kafka error with msg. */
static int find_partition(const struct sl_ci_image *img, uint32_t topic_id,
			  int32_t partition,
			  const struct sl_ci_partition **out, char *msg,
			  size_t msglen)
{
	const struct sl_ci_topic *t = sl_ci_topic_find_id(img, topic_id);
	if (!t) {
		say(msg, msglen, "no topic has id %u", topic_id);
		return SL_CI_ERR_UNKNOWN_TOPIC_ID;
	}
	if (partition < 0 || partition >= t->partitions) {
		say(msg, msglen, "topic %u has no partition %d", topic_id,
		    (int)partition);
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	*out = &img->parts[t->part_first + (uint32_t)partition];
	return 0;
}

int sl_ci_alter_isr(const struct sl_ci_image *img, uint32_t topic_id,
		    int32_t partition, int32_t from, int32_t leader_epoch,
		    int32_t partition_epoch, const int32_t *isr,
		    int32_t isr_count, struct sl_ci_batch *out, char *msg,
		    size_t msglen)
{
	const struct sl_ci_partition *o;
	int rc = find_partition(img, topic_id, partition, &o, msg, msglen);
	if (rc)
		return rc;
	if (leader_epoch != o->leader_epoch) {
		say(msg, msglen, "leader epoch %d, the partition's is %d",
		    (int)leader_epoch, (int)o->leader_epoch);
		return SL_CI_ERR_FENCED_LEADER_EPOCH;
	}
	if (from != o->leader) {
		say(msg, msglen, "broker %d does not lead it (%d does)",
		    (int)from, (int)o->leader);
		return SL_CI_ERR_NOT_LEADER_OR_FOLLOWER;
	}
	if (partition_epoch != o->partition_epoch) {
		say(msg, msglen, "partition epoch %d, the partition's is %d",
		    (int)partition_epoch, (int)o->partition_epoch);
		return SL_CI_ERR_INVALID_UPDATE_VERSION;
	}
	if (!isr || isr_count < 1 || isr_count > o->replica_count) {
		say(msg, msglen, "%d in sync: give 1..%u of its replicas",
		    (int)isr_count, o->replica_count);
		return SN_ERR_INVALID_REQUEST;
	}
	for (int32_t i = 0; i < isr_count; i++) {
		if (!in_list(o->replicas, o->replica_count, isr[i]) ||
		    in_list(isr, (unsigned)i, isr[i])) {
			say(msg, msglen, "in-sync broker %d is not a replica, "
			    "or listed twice", (int)isr[i]);
			return SN_ERR_INVALID_REQUEST;
		}
	}
	if (!in_list(isr, (unsigned)isr_count, o->leader)) {
		say(msg, msglen, "the in-sync set lacks its leader %d",
		    (int)o->leader);
		return SN_ERR_INVALID_REQUEST;
	}
	for (int32_t i = 0; i < isr_count; i++)
		if (!part_in_isr(o, isr[i]) && !sl_ci_broker_live(img, isr[i])) {
			say(msg, msglen, "broker %d is fenced or not "
			    "registered: it cannot join the in-sync set",
			    (int)isr[i]);
			return SL_CI_ERR_INELIGIBLE_REPLICA;
		}
	struct sl_ci_partition n = *o;
	memset(n.isr, 0, sizeof(n.isr));
	n.isr_count = 0;
	for (unsigned i = 0; i < o->replica_count; i++)
		if (in_list(isr, (unsigned)isr_count, o->replicas[i]))
			n.isr[n.isr_count++] = o->replicas[i];
	assert(n.isr_count == isr_count);
	struct bw w;
	bw_begin(&w, out);
	if (same_state(&n, o))
		return bw_end(&w);
	if (next_epochs(o, &n))
		return refuse_overflow(&w, msg, msglen);
	w_partition_change(&w, topic_id, partition, &n);
	return bw_end(&w);
}

/* An election's outcome n of partition o, with the next epochs, as a
 * PARTITION_CHANGE: 0, or the error (the batch as it was). */
static int elected(const struct sl_ci_partition *o, struct sl_ci_partition *n,
		   uint32_t topic_id, int32_t partition,
		   struct sl_ci_batch *out, char *msg, size_t msglen)
{
	struct bw w;
	bw_begin(&w, out);
	if (next_epochs(o, n))
		return refuse_overflow(&w, msg, msglen);
	w_partition_change(&w, topic_id, partition, n);
	return bw_end(&w);
}

int sl_ci_elect_preferred(const struct sl_ci_image *img, uint32_t topic_id,
			  int32_t partition, struct sl_ci_batch *out,
			  char *msg, size_t msglen)
{
	const struct sl_ci_partition *o;
	int rc = find_partition(img, topic_id, partition, &o, msg, msglen);
	if (rc)
		return rc;
	int32_t pref = o->replicas[0];
	if (o->leader == pref) {
		say(msg, msglen, "its preferred replica %d leads already",
		    (int)pref);
		return SL_CI_ERR_ELECTION_NOT_NEEDED;
	}
	if (!part_in_isr(o, pref) || !sl_ci_broker_live(img, pref)) {
		say(msg, msglen, "its preferred replica %d is not in sync or "
		    "not live", (int)pref);
		return SL_CI_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
	}
	struct sl_ci_partition n = *o;
	n.leader = pref;
	return elected(o, &n, topic_id, partition, out, msg, msglen);
}

int sl_ci_elect_unclean(const struct sl_ci_image *img, uint32_t topic_id,
			int32_t partition, struct sl_ci_batch *out,
			char *msg, size_t msglen)
{
	const struct sl_ci_partition *o;
	int rc = find_partition(img, topic_id, partition, &o, msg, msglen);
	if (rc)
		return rc;
	if (o->leader != -1) {
		say(msg, msglen, "it has a leader (%d)", (int)o->leader);
		return SL_CI_ERR_ELECTION_NOT_NEEDED;
	}
	struct sl_ci_partition n = *o;
	elect(img, &n, 1, -1, 0);
	if (n.leader == -1) {
		say(msg, msglen, "none of its replicas is live");
		return SL_CI_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
	}
	return elected(o, &n, topic_id, partition, out, msg, msglen);
}

int sl_ci_unregister_broker(const struct sl_ci_image *img, int32_t id,
			    struct sl_ci_batch *out, char *msg,
			    size_t msglen)
{
	const struct sl_ci_broker *b = sl_ci_broker_find(img, id);
	if (!b) {
		say(msg, msglen, "broker %d is not registered", (int)id);
		return SL_CI_ERR_BROKER_ID_NOT_REGISTERED;
	}
	if (b->registered && !b->fenced) {
		say(msg, msglen, "broker %d is live: stop it first (a broker "
		    "that heartbeats registers again)", (int)id);
		return SN_ERR_INVALID_REQUEST;
	}
	uint32_t tid;
	int32_t p;
	if (replica_of(img, id, &tid, &p)) {
		const struct sl_ci_topic *t = sl_ci_topic_find_id(img, tid);
		const struct sl_topic *m = sl_ci_topic_meta(img, t);
		say(msg, msglen, "broker %d is still a replica of %s-%d (and "
		    "maybe others): reassign its partitions to other brokers "
		    "first", (int)id, m->name, (int)p);
		return SN_ERR_INVALID_REQUEST;
	}
	struct bw w;
	bw_begin(&w, out);
	size_t at = rec_open(&w, SL_CI_UNREGISTER_BROKER);
	w32(&w, (uint32_t)id);
	rec_close(&w, at);
	return bw_end(&w);
}

/* ---- reassignment ---- */

static void w_partition_reassign(struct bw *w, uint32_t topic_id,
				 int32_t partition,
				 const struct sl_ci_partition *n)
{
	size_t at = w_partition_head(w, SL_CI_PARTITION_REASSIGN, topic_id,
				     partition, n);
	w8(w, n->replica_count);
	for (unsigned i = 0; i < n->replica_count; i++)
		w32(w, (uint32_t)n->replicas[i]);
	w8(w, n->adding);
	w8(w, n->removing);
	w8(w, n->isr_count);
	for (unsigned i = 0; i < n->isr_count; i++)
		w32(w, (uint32_t)n->isr[i]);
	rec_close(w, at);
}

/* n keeps the replicas whose bit is clear in drop (in their order), the
 * in-sync ids among them, masks 0. */
static void keep_replicas(struct sl_ci_partition *n, unsigned drop)
{
	struct sl_ci_partition o = *n;
	memset(n->replicas, 0, sizeof(n->replicas));
	memset(n->isr, 0, sizeof(n->isr));
	n->replica_count = n->isr_count = 0;
	for (unsigned i = 0; i < o.replica_count; i++) {
		if (drop & (1u << i))
			continue;
		int32_t id = o.replicas[i];
		n->replicas[n->replica_count++] = id;
		if (part_in_isr(&o, id))
			n->isr[n->isr_count++] = id;
	}
	n->adding = n->removing = 0;
}

/* 1 when every replica of p's target (not removing) is in sync. */
static int target_in_sync(const struct sl_ci_partition *p)
{
	for (unsigned i = 0; i < p->replica_count; i++)
		if (!(p->removing & (1u << i)) &&
		    !part_in_isr(p, p->replicas[i]))
			return 0;
	return 1;
}

/* n (a reassignment whose target is all in sync) ended: the target
 * alone, a removed leader replaced as fencing replaces it. */
static void finish(const struct sl_ci_image *img, struct sl_ci_partition *n,
		   int unclean)
{
	keep_replicas(n, n->removing);
	if (n->leader != -1 && !part_in_isr(n, n->leader))
		n->leader = -1;
	if (n->leader == -1)
		elect(img, n, unclean, 0, 0);
}

/* The reassignment decision's outcome as a record: 0 or the error. */
static int reassigned(const struct sl_ci_partition *o,
		      struct sl_ci_partition *n, uint32_t topic_id,
		      int32_t partition, struct sl_ci_batch *out, char *msg,
		      size_t msglen)
{
	struct bw w;
	bw_begin(&w, out);
	if (next_epochs(o, n))
		return refuse_overflow(&w, msg, msglen);
	w_partition_reassign(&w, topic_id, partition, n);
	return bw_end(&w);
}

int sl_ci_reassign(const struct sl_ci_image *img, uint32_t topic_id,
		   int32_t partition, const int32_t *target, int32_t count,
		   int allow_rf_change, struct sl_ci_batch *out, char *msg,
		   size_t msglen)
{
	const struct sl_ci_partition *o;
	int rc = find_partition(img, topic_id, partition, &o, msg, msglen);
	if (rc)
		return rc;
	const struct sl_ci_topic *t = sl_ci_topic_find_id(img, topic_id);
	struct sl_ci_partition n = *o;
	if (!target) {
		if (!o->adding && !o->removing) {
			say(msg, msglen, "no reassignment of it is running");
			return SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS;
		}
		keep_replicas(&n, o->adding);
		if (!n.isr_count) {
			say(msg, msglen, "none of its original replicas is in "
			    "sync: cancelling would lose acknowledged records; "
			    "let the reassignment finish, or assign it again");
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		if (n.leader != -1 && !part_in_isr(&n, n.leader))
			n.leader = -1;
		if (n.leader == -1)
			elect(img, &n, t->unclean_leader_election, 0, 0);
		return reassigned(o, &n, topic_id, partition, out, msg,
				  msglen);
	}
	if (count < 1) {
		say(msg, msglen, "an empty replica list");
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (count > SL_CI_RF_MAX) {
		say(msg, msglen, "%d replicas, at most %d", (int)count,
		    SL_CI_RF_MAX);
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	for (int32_t i = 0; i < count; i++) {
		const struct sl_ci_broker *b = sl_ci_broker_find(img, target[i]);
		if (in_list(target, (unsigned)i, target[i])) {
			say(msg, msglen, "broker %d is listed twice",
			    (int)target[i]);
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		if (!b || !b->registered) {
			say(msg, msglen, "broker %d is not registered",
			    (int)target[i]);
			return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	/* a reassignment that runs is replaced: its adding replicas that
	 * the new target lacks leave at once (KIP-455) */
	struct sl_ci_partition orig = *o;
	keep_replicas(&orig, o->adding);
	if (!allow_rf_change && (unsigned)count != orig.replica_count) {
		say(msg, msglen, "%d replicas would change its replication "
		    "factor %u, and the request does not allow that",
		    (int)count, orig.replica_count);
		return SL_CI_ERR_INVALID_REPLICATION_FACTOR;
	}
	unsigned merged = (unsigned)count;
	for (unsigned i = 0; i < orig.replica_count; i++)
		merged += !in_list(target, (unsigned)count, orig.replicas[i]);
	if (merged > SL_CI_RF_MAX) {
		say(msg, msglen, "%u replicas while the move runs (the target "
		    "and the current ones), at most %d: move it in steps",
		    merged, SL_CI_RF_MAX);
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	/* the target first, then the original replicas it lacks */
	memset(n.replicas, 0, sizeof(n.replicas));
	n.replica_count = 0;
	n.adding = n.removing = 0;
	for (int32_t i = 0; i < count; i++) {
		if (!in_list(orig.replicas, orig.replica_count, target[i]))
			n.adding |= (uint8_t)(1u << n.replica_count);
		n.replicas[n.replica_count++] = target[i];
	}
	for (unsigned i = 0; i < orig.replica_count; i++) {
		if (in_list(target, (unsigned)count, orig.replicas[i]))
			continue;
		n.removing |= (uint8_t)(1u << n.replica_count);
		n.replicas[n.replica_count++] = orig.replicas[i];
	}
	memset(n.isr, 0, sizeof(n.isr));
	n.isr_count = 0;
	for (unsigned i = 0; i < n.replica_count; i++)
		if (part_in_isr(o, n.replicas[i]))
			n.isr[n.isr_count++] = n.replicas[i];
	if (!n.isr_count) {
		say(msg, msglen, "its in-sync replicas are all ones the running "
		    "reassignment adds and this target drops: that would "
		    "lose acknowledged records; include one of them");
		return SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (n.leader != -1 && !part_in_isr(&n, n.leader))
		n.leader = -1;
	if (target_in_sync(&n))
		finish(img, &n, t->unclean_leader_election);
	else if (n.leader == -1 && o->leader != -1)
		elect(img, &n, t->unclean_leader_election, 0, 0);
	if (n.replica_count == o->replica_count && n.adding == o->adding &&
	    n.removing == o->removing &&
	    !memcmp(n.replicas, o->replicas, sizeof(n.replicas)) &&
	    same_state(&n, o)) {
		struct bw w;
		bw_begin(&w, out);
		return bw_end(&w); /* asked already, or there already */
	}
	return reassigned(o, &n, topic_id, partition, out, msg, msglen);
}

int sl_ci_reassign_complete(const struct sl_ci_image *img, uint32_t topic_id,
			    int32_t partition, struct sl_ci_batch *out,
			    char *msg, size_t msglen)
{
	const struct sl_ci_partition *o;
	int rc = find_partition(img, topic_id, partition, &o, msg, msglen);
	if (rc)
		return rc;
	if ((!o->adding && !o->removing) || !target_in_sync(o))
		return 0;
	const struct sl_ci_topic *t = sl_ci_topic_find_id(img, topic_id);
	struct sl_ci_partition n = *o;
	finish(img, &n, t->unclean_leader_election);
	return reassigned(o, &n, topic_id, partition, out, msg, msglen);
}

/* ---- snapshot ---- */

size_t sl_ci_snapshot_bytes(const struct sl_ci_image *img)
{
	size_t n = CI_SNAP_HEADER_BYTES + CI_SNAP_TRAILER_BYTES;
	for (uint32_t i = 0; i < img->broker_count; i++)
		n += CI_SNAP_BROKER_BYTES + img->brokers[i].host_len;
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_ci_topic *t = &img->topics[i];
		n += CI_SNAP_TOPIC_BYTES + img->meta.topics[i].name_len;
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *x =
				&img->parts[t->part_first + (uint32_t)p];
			n += CI_SNAP_PART_BYTES +
			     4u * (x->replica_count + x->isr_count);
		}
	}
	for (uint32_t i = 0; i < img->meta.tomb_count; i++)
		n += CI_SNAP_TOMB_BYTES + img->meta.tombs[i].name_len;
	return n;
}

long sl_ci_snapshot_encode(const struct sl_ci_image *img, uint8_t *buf,
			   size_t cap)
{
	size_t len = sl_ci_snapshot_bytes(img);
	if (cap < len)
		return -ENOBUFS;
	assert(len <= UINT32_MAX);
	struct sl_ci_batch b = { buf, len - CI_SNAP_TRAILER_BYTES, 0, 0 };
	struct bw w = { &b, 0, 0, 0 };
	w32(&w, CI_SNAP_MAGIC);
	w16(&w, CI_SNAP_VERSION);
	w16(&w, CI_SNAP_HEADER_BYTES);
	w32(&w, (uint32_t)len);
	w32(&w, img->meta.next_id);
	w64(&w, img->applied_index);
	w32(&w, img->broker_count);
	w32(&w, img->meta.count);
	w32(&w, img->meta.tomb_count);
	w32(&w, img->part_count);
	w64(&w, 0);
	for (uint32_t i = 0; i < img->broker_count; i++) {
		const struct sl_ci_broker *x = &img->brokers[i];
		w32(&w, (uint32_t)x->id);
		w64(&w, x->incarnation);
		w16(&w, x->kafka_port);
		w16(&w, x->native_port);
		w8(&w, (uint8_t)((x->fenced ? 1 : 0) |
				 (x->registered ? 2 : 0)));
		w8(&w, x->host_len);
		w_bytes(&w, x->host, x->host_len);
		w16(&w, x->udp_port);
		w_bytes(&w, &x->udp_addr, 4);
	}
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_topic *mt = &img->meta.topics[i];
		const struct sl_ci_topic *t = &img->topics[i];
		w32(&w, mt->id);
		w16(&w, mt->name_len);
		w_bytes(&w, mt->name, mt->name_len);
		w_config(&w, mt, t->min_insync_replicas,
			 t->unclean_leader_election);
		w32(&w, (uint32_t)t->partitions);
		w8(&w, t->replication_factor);
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *x =
				&img->parts[t->part_first + (uint32_t)p];
			w8(&w, x->replica_count);
			for (unsigned j = 0; j < x->replica_count; j++)
				w32(&w, (uint32_t)x->replicas[j]);
			w8(&w, x->adding);
			w8(&w, x->removing);
			w32(&w, (uint32_t)x->leader);
			w32(&w, (uint32_t)x->leader_epoch);
			w32(&w, (uint32_t)x->partition_epoch);
			w8(&w, x->isr_count);
			for (unsigned j = 0; j < x->isr_count; j++)
				w32(&w, (uint32_t)x->isr[j]);
		}
	}
	for (uint32_t i = 0; i < img->meta.tomb_count; i++) {
		const struct sl_tombstone *t = &img->meta.tombs[i];
		w32(&w, t->id);
		w16(&w, t->name_len);
		w_bytes(&w, t->name, t->name_len);
	}
	assert(!w.full && b.len == len - CI_SNAP_TRAILER_BYTES);
	rb_put32(buf + b.len, rb_crc32c(buf, b.len));
	return (long)len;
}

/* Decode a snapshot into img (its arrays; counts checked before they are
 * used as bounds).  NULL or why it is damaged. */
static const char *snap_decode(struct sl_ci_image *img, const uint8_t *buf,
			       size_t len)
{
	if (len < CI_SNAP_HEADER_BYTES + CI_SNAP_TRAILER_BYTES)
		return "shorter than its header";
	struct rd r = { buf, len - CI_SNAP_TRAILER_BYTES, 0, 0 };
	if (rd32(&r) != CI_SNAP_MAGIC)
		return "bad magic (not a cluster image snapshot)";
	unsigned version = rd16(&r);
	if (version < 1 || version > CI_SNAP_VERSION ||
	    rd16(&r) != CI_SNAP_HEADER_BYTES)
		return "unknown version";
	if (rd32(&r) != len)
		return "length field does not match its size";
	if (rb_be32(buf + len - 4) != rb_crc32c(buf, len - 4))
		return "CRC32C mismatch";
	uint32_t next_id = rd32(&r);
	uint64_t applied = rd64(&r);
	uint32_t brokers = rd32(&r), topics = rd32(&r), tombs = rd32(&r);
	uint32_t parts = rd32(&r);
	if (rd64(&r) != 0)
		return "reserved header bytes are not 0";
	if (next_id < 1 || brokers > SL_CI_BROKERS_MAX ||
	    topics > SL_META_TOPICS_MAX || tombs > SL_META_TOMBSTONES_MAX ||
	    parts > SL_CI_PARTITIONS_MAX)
		return "a count is out of range";
	img->applied_index = applied;
	img->meta.next_id = next_id;
	img->broker_count = brokers;
	for (uint32_t i = 0; i < brokers; i++) {
		struct sl_ci_broker *b = &img->brokers[i];
		memset(b, 0, sizeof(*b));
		b->id = (int32_t)rd32(&r);
		b->incarnation = rd64(&r);
		b->kafka_port = rd16(&r);
		b->native_port = rd16(&r);
		uint8_t flags = rd8(&r);
		b->host_len = rd8(&r);
		const uint8_t *host = rd_bytes(&r, b->host_len);
		b->udp_port = b->native_port;
		if (version >= 3) {
			b->udp_port = rd16(&r);
			const uint8_t *a = rd_bytes(&r, 4);
			if (a)
				memcpy(&b->udp_addr, a, 4);
		}
		if (r.short_read)
			return "brokers run past the end";
		if (flags & ~3u)
			return "a broker's flags are unknown";
		b->fenced = flags & 1;
		b->registered = (flags >> 1) & 1;
		memcpy(b->host, host, b->host_len);
	}
	uint32_t at = 0;
	img->meta.count = topics;
	for (uint32_t i = 0; i < topics; i++) {
		struct sl_topic *mt = &img->meta.topics[i];
		struct sl_ci_topic *t = &img->topics[i];
		struct config c;
		uint32_t id = rd32(&r);
		uint16_t name_len = rd16(&r);
		const uint8_t *name = rd_bytes(&r, name_len);
		if (r.short_read)
			return "topics run past the end";
		if (name_len > SN_NAME_MAX)
			return "a topic name is too long";
		const char *why = rd_config(&r, &c);
		if (why)
			return why;
		*mt = c.t;
		mt->id = id;
		mt->name_len = name_len;
		memcpy(mt->name, name, name_len);
		mt->name[name_len] = 0;
		memset(t, 0, sizeof(*t));
		t->id = id;
		t->min_insync_replicas = c.min_isr;
		t->unclean_leader_election = c.unclean;
		t->partitions = mt->partitions = (int32_t)rd32(&r);
		t->replication_factor = rd8(&r);
		t->part_first = at;
		meta_replication(mt, t);
		if (r.short_read)
			return "topics run past the end";
		if (t->partitions < 1 || t->partitions > SN_PARTITIONS_MAX ||
		    (uint32_t)t->partitions > parts - at)
			return "partitions out of range or past their count";
		unsigned rf = t->replication_factor;
		if (rf < 1 || rf > SL_CI_RF_MAX)
			return "a replication factor is out of range";
		for (int32_t p = 0; p < t->partitions; p++) {
			struct sl_ci_partition *x = &img->parts[at++];
			memset(x, 0, sizeof(*x));
			unsigned n = version == 1 ? rf : rd8(&r);
			if (n < 1 || n > SL_CI_RF_MAX)
				return "a replica count is out of range";
			x->replica_count = (uint8_t)n;
			for (unsigned j = 0; j < n; j++)
				x->replicas[j] = (int32_t)rd32(&r);
			if (version > 1) {
				x->adding = rd8(&r);
				x->removing = rd8(&r);
			}
			x->leader = (int32_t)rd32(&r);
			x->leader_epoch = (int32_t)rd32(&r);
			x->partition_epoch = (int32_t)rd32(&r);
			x->isr_count = rd8(&r);
			if (x->isr_count < 1 || x->isr_count > n)
				return "an in-sync count is out of range";
			for (unsigned j = 0; j < x->isr_count; j++)
				x->isr[j] = (int32_t)rd32(&r);
			if (r.short_read)
				return "partitions run past the end";
		}
	}
	if (at != parts)
		return "partitions do not add up to their count";
	img->part_count = parts;
	img->meta.tomb_count = tombs;
	for (uint32_t i = 0; i < tombs; i++) {
		struct sl_tombstone *t = &img->meta.tombs[i];
		t->id = rd32(&r);
		t->name_len = rd16(&r);
		const uint8_t *name = rd_bytes(&r, t->name_len);
		if (r.short_read)
			return "tombstones run past the end";
		if (t->name_len > SN_NAME_MAX)
			return "a tombstone name is too long";
		memcpy(t->name, name, t->name_len);
		t->name[t->name_len] = 0;
	}
	if (r.off != r.len)
		return "bytes left over before the trailer";
	return NULL;
}

int sl_ci_snapshot_decode(struct sl_ci_image *img, const uint8_t *buf,
			  size_t len, char *err, size_t errlen)
{
	char why[256];
	assert(img && (buf || len == 0));
	uint64_t applied = img->applied_index;
	undo_begin(img);
	save_brokers(img);
	save_topics(img);
	const char *bad = snap_decode(img, buf, len);
	if (!bad && sl_ci_check(img, why, sizeof(why)))
		bad = why;
	if (bad) {
		snprintf(err, errlen, "cluster image snapshot refused: %s",
			 bad);
		undo_rollback(img);
		img->applied_index = applied;
		return -EINVAL;
	}
	undo_begin(img);
	return 0;
}
