/*
 * libFuzzer target for the cluster image (control/cluster_image.c): the
 * metadata log's entries and snapshots arrive from disk and from other
 * controllers, so any bytes must be refused cleanly.
 *
 * Input: one flags byte, then
 *   - flags bit 0 set: a snapshot (bit 1 also: its length field and CRC32C
 *     trailer repaired first, so the checks behind them are reached);
 *   - else a program of operations on an image that starts with four
 *     brokers (1..3 live, 4 fenced) and two topics, each operation one byte
 *     and its operands:
 *       0  an entry: u16 length, the bytes; applied at the next index;
 *       1  a decision (register, fence, unfence, create topic, delete,
 *          create partitions, alter ISR, elect, alter config, reassign
 *          or cancel, end a reassignment, unregister a broker) with
 *          operands read from the input; its entry applied;
 *       2  the image's snapshot decoded into a second image;
 *       3  a snapshot: u16 length, the bytes; decoded into a second image;
 *       4  a Kafka request as a broker forwards it to the controller: u16
 *          length, the bytes; AlterPartitionReassignments and
 *          UnregisterBroker answered against the image (control/kreassign.h,
 *          control/kunreg.h), ListPartitionReassignments from it; the
 *          records decided applied as one entry; AddRaftVoter and
 *          RemoveRaftVoter decoded and answered (control/kvoters.h).
 *
 * Properties:
 *   1. nothing crashes, reads past its bytes or leaks (ASan, UBSan);
 *   2. an accepted entry leaves an image that passes sl_ci_check, and
 *      sl_ci_check_step holds from the image before it;
 *   3. a refused entry (-EINVAL) changes nothing but the applied index;
 *   4. every entry a decision makes is accepted;
 *   5. a snapshot that decodes passes sl_ci_check and encodes back to the
 *      same bytes (formats 1 and 2, which are read but not written: to
 *      format 3 bytes that decode to the same image); a refused one leaves the
 *      image as it was;
 *   6. the image's own snapshot decodes to the same image;
 *   7. a forwarded request is answered (or refused as undecodable) and
 *      the entry its decisions make is accepted; a voter change that
 *      decodes names an id, and an add without an error an IPv4
 *      host:port.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/cluster_image.h"
#include "control/kreassign.h"
#include "control/kunreg.h"
#include "control/kvoters.h"
#include "control/quorum.h"
#include "proto/record_batch.h"
#include "fuzz_util.h"

#define INPUT_MAX (1u << 20)
#define SNAP_MAX (8u << 20)
#define OPS_MAX 256

static struct sl_ci_image *base, *img, *before, *other, *tmp;
static uint8_t *entry, *snap1, *snap2;
static char err[1024], msg[512];

/* Apply len bytes at the next index; properties 2 and 3, and 4 when
 * must. */
static void apply(const uint8_t *p, size_t len, int must)
{
	char why[512];
	sl_ci_copy(before, img);
	uint64_t index = img->applied_index + 1;
	int rc = sl_ci_apply(img, index, p, len, err, sizeof(err));
	if (must && rc)
		fprintf(stderr, "a decision's entry refused: %s\n", err);
	FUZZ_CHECK(rc == 0 || (!must && rc == -EINVAL));
	FUZZ_CHECK(img->applied_index == index);
	if (sl_ci_check(img, why, sizeof(why))) {
		fprintf(stderr, "invariant: %s\n", why);
		FUZZ_CHECK(0);
	}
	if (sl_ci_check_step(before, img, why, sizeof(why))) {
		fprintf(stderr, "step: %s\n", why);
		FUZZ_CHECK(0);
	}
	if (rc == 0)
		return;
	sl_ci_copy(tmp, img);
	tmp->applied_index = before->applied_index;
	long a = sl_ci_snapshot_encode(before, snap1, SNAP_MAX);
	long b = sl_ci_snapshot_encode(tmp, snap2, SNAP_MAX);
	FUZZ_CHECK(a > 0 && a == b && !memcmp(snap1, snap2, (size_t)a));
}

static void decide(struct sl_ci_batch *b, int rc)
{
	FUZZ_CHECK(rc >= 0 || rc == -ENOBUFS);
	if (rc == 0 && b->count > 0)
		apply(b->buf, b->len, 1);
	if (rc > 0)
		FUZZ_CHECK(b->count == 0 && msg[0]);
}

static const char *const names[] = { "a", "b", "c", "d.e", "f_g" };

static void op_decision(struct fz_reader *r)
{
	struct sl_ci_batch b;
	FUZZ_CHECK(sl_ci_batch_init(&b, entry, SL_CI_ENTRY_MAX) == 0);
	msg[0] = 0;
	uint8_t what = fz_u8(r);
	int32_t id = (int32_t)(fz_u8(r) % 8); /* 0 and unknown ids too */
	const char *name = names[fz_u8(r) % 5];
	size_t name_len = strlen(name);
	const struct sl_ci_topic *t = sl_ci_topic_find(img, name, name_len);
	uint32_t tid = t ? t->id : fz_u8(r);
	int32_t p = (int32_t)(fz_u8(r) % 8) - 1;
	const struct sl_ci_partition *x = sl_ci_partition_find(img, tid, p);
	int rc;
	switch (what % 12) {
	case 0: {
		char host[8];
		int n = snprintf(host, sizeof(host), "h%u", fz_u8(r) % 100);
		rc = sl_ci_register_broker(img, id, fz_u8(r) % 3, host,
					   (size_t)n, 1, 2, &b, msg,
					   sizeof(msg));
		break;
	}
	case 1:
		rc = sl_ci_fence_broker(img, id, &b, msg, sizeof(msg));
		break;
	case 2:
		rc = sl_ci_unfence_broker(img, id, &b, msg, sizeof(msg));
		break;
	case 3: {
		struct sl_ci_topic_req q;
		int32_t ids[2][2] = { { 1, 2 }, { 3, id } };
		struct sl_ci_assignment as[2] = { { 0, 2, ids[0] },
						  { 1, 2, ids[1] } };
		memset(&q, 0, sizeof(q));
		q.name = name;
		q.name_len = name_len;
		q.partitions = (int32_t)(fz_u8(r) % 6) - 1;
		q.replication_factor = (int32_t)(fz_u8(r) % 6) - 1;
		q.default_partitions = 2;
		q.default_replication_factor = 2;
		q.config.retention_ms = -1;
		q.config.retention_bytes = -1;
		q.config.segment_bytes = 1 << 20;
		q.min_insync_replicas = fz_u8(r) % 3;
		q.unclean_leader_election = fz_u8(r) % 2;
		q.start = fz_u32(r);
		q.shift = fz_u32(r);
		if (fz_u8(r) % 4 == 0) {
			q.partitions = q.replication_factor = -1;
			q.assignment = as;
			q.assignment_count = 2;
		}
		rc = sl_ci_create_topic(img, &q, &b, msg, sizeof(msg));
		break;
	}
	case 4:
		rc = sl_ci_delete_topic(img, name, name_len, &b, msg,
					sizeof(msg));
		break;
	case 5:
		rc = sl_ci_create_partitions(img, name, name_len,
					     (int32_t)(fz_u8(r) % 8), NULL, 0,
					     fz_u32(r), fz_u32(r), &b, msg,
					     sizeof(msg));
		break;
	case 6: {
		int32_t isr[SL_CI_RF_MAX + 1];
		uint8_t mask = fz_u8(r);
		int32_t n = 0;
		for (unsigned i = 0; x && i < x->replica_count; i++)
			if (mask & (1u << i))
				isr[n++] = x->replicas[i];
		if (mask & 0x80)
			isr[n++] = id;
		uint8_t lie = fz_u8(r);
		rc = sl_ci_alter_isr(img, tid, p,
				     x && !(lie & 1) ? x->leader : id,
				     x ? x->leader_epoch - (lie >> 1 & 1) : 0,
				     x ? x->partition_epoch - (lie >> 2 & 1)
				       : 0,
				     isr, n, &b, msg, sizeof(msg));
		break;
	}
	case 7:
		rc = sl_ci_elect_preferred(img, tid, p, &b, msg, sizeof(msg));
		break;
	case 9: {
		/* a target of up to 9 ids of 0..7 (0 and unknown ones too, a
		 * broker twice, more than SL_CI_RF_MAX), or a cancel */
		int32_t target[9];
		uint8_t n = fz_u8(r);
		for (unsigned i = 0; i < 9; i++)
			target[i] = (int32_t)(fz_u8(r) % 8);
		rc = sl_ci_reassign(img, tid, p, n & 0x80 ? NULL : target,
				    n & 0x80 ? -1 : (int32_t)(n % 10),
				    n & 0x40 ? 0 : 1, &b, msg, sizeof(msg));
		break;
	}
	case 10:
		rc = sl_ci_reassign_complete(img, tid, p, &b, msg,
					     sizeof(msg));
		break;
	case 11:
		rc = sl_ci_unregister_broker(img, id, &b, msg, sizeof(msg));
		break;
	default: {
		struct sl_topic cfg;
		memset(&cfg, 0, sizeof(cfg));
		if (t)
			cfg = *sl_ci_topic_meta(img, t);
		cfg.retention_ms = (int64_t)fz_u16(r) - 2;
		rc = sl_ci_alter_topic_config(img, name, name_len, &cfg,
					      (int32_t)(fz_u8(r) % 3),
					      fz_u8(r) % 2, &b, msg,
					      sizeof(msg));
		break;
	}
	}
	decide(&b, rc);
}

/* ---- op 4: a forwarded Kafka request (property 7) ---- */

static struct sl_ci_batch fwd_b;

static int16_t fwd_reassign(void *ctx, const char *topic, size_t len,
			    int32_t partition, const int32_t *replicas,
			    int32_t n, bool allow, char *m, size_t mlen)
{
	(void)ctx;
	const struct sl_ci_topic *t = sl_ci_topic_find(img, topic, len);
	if (!t || partition < 0 || partition >= t->partitions) {
		snprintf(m, mlen, "no such topic or partition");
		return 3;
	}
	int rc = sl_ci_reassign(img, t->id, partition, replicas, n,
				allow ? 1 : 0, &fwd_b, m, mlen);
	FUZZ_CHECK(rc >= 0 || rc == -ENOBUFS);
	return rc < 0 ? -1 : (int16_t)rc;
}

static bool fwd_topic(void *ctx, uint32_t i, const char **name, size_t *len,
		      int32_t *partitions)
{
	(void)ctx;
	return sl_kreassign_image_topic(img, i, name, len, partitions);
}

static int fwd_ongoing(void *ctx, const char *topic, size_t len,
		       int32_t partition, struct sl_kreassign_state *out)
{
	(void)ctx;
	return sl_kreassign_image_ongoing(img, topic, len, partition, out);
}

static int16_t fwd_unregister(void *ctx, int32_t id, char *m, size_t mlen)
{
	(void)ctx;
	int rc = sl_ci_unregister_broker(img, id, &fwd_b, m, mlen);
	FUZZ_CHECK(rc >= 0 || rc == -ENOBUFS);
	return rc < 0 ? -1 : (int16_t)rc;
}

static void op_forwarded(const uint8_t *p, size_t len)
{
	static uint8_t resp[1 << 20];
	FUZZ_CHECK(sl_ci_batch_init(&fwd_b, entry, SL_CI_ENTRY_MAX) == 0);
	struct sl_kreassign_ops ops = { fwd_reassign, fwd_topic, fwd_ongoing,
					NULL };
	long n = sl_kreassign_handle(p, len, &ops, resp, sizeof(resp));
	FUZZ_CHECK(n > 0 || n == -EINVAL || n == -EMSGSIZE || n == -ENOMEM);
	if (n <= 0)
		n = sl_kunreg_handle(p, len, fwd_unregister, NULL, resp,
				     sizeof(resp));
	FUZZ_CHECK(n > 0 || n == -EINVAL || n == -EMSGSIZE);
	if (fwd_b.count > 0)
		apply(fwd_b.buf, fwd_b.len, 1);
	struct sl_kvoters_req v;
	if (sl_kvoters_decode(p, len, &v) == 0) {
		FUZZ_CHECK(v.error || (v.voter_id >= 1 && v.voter_id <= 65535));
		FUZZ_CHECK(v.api_key != 80 || v.error ||
			   (strchr(v.address, ':') && strlen(v.address) <
			    SL_KVOTERS_ADDRESS_MAX));
		char m[256];
		int16_t e = v.error ? v.error :
			    sl_kvoters_error(SL_QUORUM_ENOTLEADER, &v, m,
					     sizeof(m));
		n = sl_kvoters_answer(&v, e, v.error ? v.msg : m, resp,
				      sizeof(resp));
		FUZZ_CHECK(n > 0);
	}
}

/* Decode len bytes of snapshot into other (a copy of img): property 5. */
static void snapshot_in(const uint8_t *p, size_t len)
{
	char why[512];
	sl_ci_copy(other, img);
	int rc = sl_ci_snapshot_decode(other, p, len, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL);
		long a = sl_ci_snapshot_encode(img, snap1, SNAP_MAX);
		long b = sl_ci_snapshot_encode(other, snap2, SNAP_MAX);
		FUZZ_CHECK(a > 0 && a == b && !memcmp(snap1, snap2, (size_t)a));
		return;
	}
	if (sl_ci_check(other, why, sizeof(why))) {
		fprintf(stderr, "snapshot decoded to a broken image: %s\n", why);
		FUZZ_CHECK(0);
	}
	long n = sl_ci_snapshot_encode(other, snap2, SNAP_MAX);
	if (len >= 6 && rb_be16(p + 4) < 3) {
		/* formats 1 and 2 are read, format 3 written: the image it
		 * gave comes back from its format 3 bytes */
		FUZZ_CHECK(n > 0);
		sl_ci_copy(tmp, img);
		FUZZ_CHECK(sl_ci_snapshot_decode(tmp, snap2, (size_t)n, err,
						 sizeof(err)) == 0);
		long m = sl_ci_snapshot_encode(tmp, snap1, SNAP_MAX);
		FUZZ_CHECK(m == n && !memcmp(snap1, snap2, (size_t)n));
		return;
	}
	FUZZ_CHECK(n > 0 && (size_t)n == len && !memcmp(snap2, p, len));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	base = malloc(sizeof(*base));
	img = malloc(sizeof(*img));
	before = malloc(sizeof(*before));
	other = malloc(sizeof(*other));
	tmp = malloc(sizeof(*tmp));
	entry = malloc(SL_CI_ENTRY_MAX);
	snap1 = malloc(SNAP_MAX);
	snap2 = malloc(SNAP_MAX);
	FUZZ_CHECK(base && img && before && other && tmp && entry && snap1 &&
		   snap2);
	sl_ci_init(img);
	sl_ci_init(before);
	sl_ci_init(other);
	sl_ci_init(tmp);
	/* the base: brokers 1..3 live, 4 fenced; "a" 2 x 3, "b" 1 x 1
	 * unclean */
	struct sl_ci_batch b;
	for (int32_t id = 1; id <= 4; id++) {
		FUZZ_CHECK(sl_ci_batch_init(&b, entry, SL_CI_ENTRY_MAX) == 0);
		FUZZ_CHECK(sl_ci_register_broker(img, id, 1, "host", 4, 9092,
						 9093, &b, msg,
						 sizeof(msg)) == 0);
		apply(b.buf, b.len, 1);
		if (id == 4)
			continue;
		FUZZ_CHECK(sl_ci_batch_init(&b, entry, SL_CI_ENTRY_MAX) == 0);
		FUZZ_CHECK(sl_ci_unfence_broker(img, id, &b, msg,
						sizeof(msg)) == 0);
		apply(b.buf, b.len, 1);
	}
	for (int i = 0; i < 2; i++) {
		struct sl_ci_topic_req q;
		memset(&q, 0, sizeof(q));
		q.name = names[i];
		q.name_len = 1;
		q.partitions = 2 - i;
		q.replication_factor = 3 - 2 * i;
		q.config.retention_ms = -1;
		q.config.retention_bytes = -1;
		q.config.segment_bytes = 1 << 20;
		q.min_insync_replicas = 1;
		q.unclean_leader_election = (uint8_t)i;
		FUZZ_CHECK(sl_ci_batch_init(&b, entry, SL_CI_ENTRY_MAX) == 0);
		FUZZ_CHECK(sl_ci_create_topic(img, &q, &b, msg,
					      sizeof(msg)) == 0);
		apply(b.buf, b.len, 1);
	}
	sl_ci_init(base);
	sl_ci_copy(base, img);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	sl_ci_copy(img, base);
	if (data[0] & 1) {
		size_t len = size - 1;
		uint8_t *s = malloc(len + 1);
		FUZZ_CHECK(s != NULL);
		memcpy(s, data + 1, len);
		if ((data[0] & 2) && len >= 12) {
			rb_put32(s + 8, (uint32_t)len);
			rb_put32(s + len - 4, rb_crc32c(s, len - 4));
		}
		snapshot_in(s, len);
		free(s);
		return 0;
	}
	struct fz_reader r;
	fz_init(&r, data + 1, size - 1);
	for (unsigned n = 0; n < OPS_MAX && fz_left(&r) > 0; n++) {
		uint8_t op = fz_u8(&r);
		switch (op % 5) {
		case 0:
		case 3:
		case 4: {
			size_t got;
			size_t want = fz_u16(&r);
			const uint8_t *p = fz_bytes(&r, want, &got);
			if (op % 5 == 0)
				apply(p, got, 0);
			else if (op % 5 == 3)
				snapshot_in(p, got);
			else
				op_forwarded(p, got);
			break;
		}
		case 1:
			op_decision(&r);
			break;
		case 2: {
			long len = sl_ci_snapshot_encode(img, snap1, SNAP_MAX);
			FUZZ_CHECK(len > 0);
			FUZZ_CHECK(sl_ci_snapshot_decode(other, snap1,
							 (size_t)len, err,
							 sizeof(err)) == 0);
			long again = sl_ci_snapshot_encode(other, snap2,
							   SNAP_MAX);
			FUZZ_CHECK(again == len &&
				   !memcmp(snap1, snap2, (size_t)len));
			break;
		}
		}
	}
	return 0;
}
