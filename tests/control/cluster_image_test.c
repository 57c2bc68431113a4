/*
 * Unit tests of the cluster image (control/cluster_image.c): every record
 * kind, by decision and by hand-written bytes (the format as its opening
 * comment spells it); every decision's errors; Kafka's placement and its
 * spread; fencing and unfencing leaders (clean and unclean); partition
 * reassignment (moves, cancels, replacements, the topic's factor
 * following partition 0); entries refused whole (a bad record after good
 * ones, past the rollback journal); snapshots round trip, version 1
 * snapshots still decode, and every torn or flipped snapshot is
 * refused; and a seeded random run of decisions applied one entry at a
 * time to one image and in random batches to another (one of them
 * restarted from a snapshot midway) gives byte-identical snapshots.
 * sl_ci_check and sl_ci_check_step run after every apply.
 *
 * SLUICE_SEED replays the random run; SLUICE_LONG=1 makes it longer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "control/cluster_image.h"
#include "proto/record_batch.h"

static struct sl_ci_image *g_img, *g_before, *g_tmp;
static uint8_t *g_buf, *g_snap1, *g_snap2;
static struct sl_ci_batch g_b;
static char g_msg[512], g_err[512];

static struct sl_ci_image *img_alloc(void)
{
	struct sl_ci_image *img = malloc(sizeof(*img));
	assert_non_null(img);
	sl_ci_init(img);
	return img;
}

static int setup(void **state)
{
	(void)state;
	g_img = img_alloc();
	g_before = img_alloc();
	g_tmp = img_alloc();
	g_buf = malloc(SL_CI_ENTRY_MAX);
	g_snap1 = malloc(8u << 20);
	g_snap2 = malloc(8u << 20);
	return g_buf && g_snap1 && g_snap2 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(g_img);
	free(g_before);
	free(g_tmp);
	free(g_buf);
	free(g_snap1);
	free(g_snap2);
	return 0;
}

/* A fresh image for the test (the shared one, emptied). */
static struct sl_ci_image *fresh(void)
{
	sl_ci_init(g_img);
	return g_img;
}

static void batch(void)
{
	TL_OK(sl_ci_batch_init(&g_b, g_buf, SL_CI_ENTRY_MAX));
	g_msg[0] = 0;
}

static void check(const struct sl_ci_image *img)
{
	char err[512];
	if (sl_ci_check(img, err, sizeof(err)))
		fail_msg("invariant broken: %s", err);
}

/* Apply bytes at the next index; expect rc.  Checks the invariants, and
 * that a refused entry changed nothing but the applied index. */
static void apply_bytes(struct sl_ci_image *img, const uint8_t *p,
			size_t len, int expect)
{
	char err[512];
	sl_ci_copy(g_before, img);
	uint64_t index = img->applied_index + 1;
	int rc = sl_ci_apply(img, index, p, len, g_err, sizeof(g_err));
	if (rc != expect)
		fail_msg("apply: %d, expected %d: %s", rc, expect, g_err);
	TL_EQ(img->applied_index, index);
	check(img);
	if (sl_ci_check_step(g_before, img, err, sizeof(err)))
		fail_msg("step: %s", err);
	if (rc) {
		sl_ci_copy(g_tmp, img);
		g_tmp->applied_index = g_before->applied_index;
		long a = sl_ci_snapshot_encode(g_before, g_snap1, 8u << 20);
		long b = sl_ci_snapshot_encode(g_tmp, g_snap2, 8u << 20);
		TL_EQ(a, b);
		TL_TRUE(!memcmp(g_snap1, g_snap2, (size_t)a));
	}
}

static void apply_ok(struct sl_ci_image *img)
{
	apply_bytes(img, g_b.buf, g_b.len, 0);
}

/* Decide into a fresh batch; expect the Kafka code (0: an entry, then
 * applied). */
#define DECIDE(img, expect, call)                                           \
	do {                                                                 \
		batch();                                                     \
		int rc_ = (call);                                            \
		if (rc_ != (expect))                                         \
			fail_msg("%s:%d: %s = %d, expected %d (%s)",         \
				 __FILE__, __LINE__, #call, rc_,             \
				 (int)(expect), g_msg);                       \
		if (rc_ == 0 && g_b.count > 0)                               \
			apply_ok(img);                                       \
		if (rc_ > 0) {                                               \
			TL_TRUE(g_msg[0] != 0);                              \
			TL_EQ(g_b.count, 0);                                 \
		}                                                            \
	} while (0)

static void add_broker(struct sl_ci_image *img, int32_t id, int live)
{
	char host[32];
	int n = snprintf(host, sizeof(host), "10.0.0.%d", (int)id);
	DECIDE(img, 0, sl_ci_register_broker(img, id, 1000 + (uint64_t)id,
					     host, (size_t)n,
					     (uint16_t)(9000 + id),
					     (uint16_t)(9500 + id), &g_b,
					     g_msg, sizeof(g_msg)));
	if (live)
		DECIDE(img, 0, sl_ci_unfence_broker(img, id, &g_b, g_msg,
						    sizeof(g_msg)));
}

static struct sl_ci_topic_req req_of(const char *name, int32_t parts,
				     int32_t rf)
{
	struct sl_ci_topic_req r;
	memset(&r, 0, sizeof(r));
	r.name = name;
	r.name_len = strlen(name);
	r.partitions = parts;
	r.replication_factor = rf;
	r.default_partitions = 3;
	r.default_replication_factor = 1;
	r.config.retention_ms = -1;
	r.config.retention_bytes = -1;
	r.config.segment_bytes = 1 << 26;
	r.min_insync_replicas = 1;
	return r;
}

static const struct sl_ci_topic *create(struct sl_ci_image *img,
					const char *name, int32_t parts,
					int32_t rf, uint8_t unclean)
{
	struct sl_ci_topic_req r = req_of(name, parts, rf);
	r.unclean_leader_election = unclean;
	DECIDE(img, 0, sl_ci_create_topic(img, &r, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_topic *t = sl_ci_topic_find(img, name,
						       strlen(name));
	assert_non_null(t);
	return t;
}

static const struct sl_ci_partition *part(const struct sl_ci_image *img,
					  uint32_t tid, int32_t p)
{
	const struct sl_ci_partition *x = sl_ci_partition_find(img, tid, p);
	assert_non_null(x);
	return x;
}

static void expect_isr(const struct sl_ci_partition *p, unsigned n, ...)
{
	va_list ap;
	TL_EQ(p->isr_count, n);
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		TL_EQ(p->isr[i], va_arg(ap, int));
	va_end(ap);
}

/* ---- hand-written entries, as the format says ---- */

struct hw {
	uint8_t b[1 << 16];
	size_t n;
	uint16_t count;
	size_t rec_at;
};

static void hw_begin(struct hw *h)
{
	h->n = 3;
	h->count = 0;
	h->b[0] = 1;
}
static void h8(struct hw *h, uint8_t v) { h->b[h->n++] = v; }
static void h16(struct hw *h, uint16_t v) { rb_put16(h->b + h->n, v); h->n += 2; }
static void h32(struct hw *h, uint32_t v) { rb_put32(h->b + h->n, v); h->n += 4; }
static void h64(struct hw *h, uint64_t v) { rb_put64(h->b + h->n, v); h->n += 8; }
static void hrec(struct hw *h, uint8_t type)
{
	h8(h, type);
	h->rec_at = h->n;
	h32(h, 0);
}
static void hend(struct hw *h)
{
	rb_put32(h->b + h->rec_at, (uint32_t)(h->n - h->rec_at - 4));
	h->count++;
	rb_put16(h->b + 1, h->count);
}

static void h_config(struct hw *h, uint8_t durability, uint8_t unclean,
		     int32_t min_isr, int64_t retention_ms)
{
	double ratio = 0.5;
	uint64_t bits;
	memcpy(&bits, &ratio, sizeof(bits));
	h8(h, durability);
	h8(h, 1);
	h8(h, unclean);
	h8(h, 0);
	h32(h, (uint32_t)min_isr);
	h64(h, (uint64_t)retention_ms);
	h64(h, (uint64_t)-1);
	h64(h, 1 << 26);
	h64(h, bits);
	h64(h, 0);
	h64(h, INT64_MAX);
	h64(h, 86400000);
}

static void h_register(struct hw *h, int32_t id, uint64_t inc,
		       const char *host)
{
	hrec(h, SL_CI_REGISTER_BROKER);
	h32(h, (uint32_t)id);
	h64(h, inc);
	h16(h, 9092);
	h16(h, 9093);
	h8(h, (uint8_t)strlen(host));
	memcpy(h->b + h->n, host, strlen(host));
	h->n += strlen(host);
	hend(h);
}

static void h_broker(struct hw *h, uint8_t type, int32_t id)
{
	hrec(h, type);
	h32(h, (uint32_t)id);
	hend(h);
}

/* An assignment: replicas r[0..rf), leader, isr = first k replicas. */
static void h_assign(struct hw *h, const int32_t *r, unsigned rf,
		     int32_t leader, unsigned k)
{
	for (unsigned i = 0; i < rf; i++)
		h32(h, (uint32_t)r[i]);
	h32(h, (uint32_t)leader);
	h8(h, (uint8_t)k);
	for (unsigned i = 0; i < k; i++)
		h32(h, (uint32_t)r[i]);
}

static void h_create(struct hw *h, const char *name, int32_t parts,
		     const int32_t *r, unsigned rf)
{
	hrec(h, SL_CI_CREATE_TOPIC);
	h16(h, (uint16_t)strlen(name));
	memcpy(h->b + h->n, name, strlen(name));
	h->n += strlen(name);
	h_config(h, 1, 0, 2, 3600000);
	h32(h, (uint32_t)parts);
	h8(h, (uint8_t)rf);
	for (int32_t p = 0; p < parts; p++)
		h_assign(h, r, rf, r[0], rf);
	hend(h);
}

static void h_change(struct hw *h, uint32_t tid, int32_t p, int32_t leader,
		     int32_t le, int32_t pe, const int32_t *isr, unsigned k)
{
	hrec(h, SL_CI_PARTITION_CHANGE);
	h32(h, tid);
	h32(h, (uint32_t)p);
	h32(h, (uint32_t)leader);
	h32(h, (uint32_t)le);
	h32(h, (uint32_t)pe);
	h8(h, (uint8_t)k);
	for (unsigned i = 0; i < k; i++)
		h32(h, (uint32_t)isr[i]);
	hend(h);
}

/* ---- tests ---- */

static void test_empty(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	check(img);
	TL_EQ(img->applied_index, 0);
	TL_EQ(img->meta.next_id, 1);
	TL_EQ(sl_ci_active_brokers(img, NULL, 0), 0);
	TL_EQ(sl_meta_changed(&img->meta), 0);
	/* index rules */
	struct hw h;
	hw_begin(&h);
	h_register(&h, 1, 1, "a");
	TL_EQ(sl_ci_apply(img, 0, h.b, h.n, g_err, sizeof(g_err)), -ERANGE);
	TL_OK(sl_ci_apply(img, 7, h.b, h.n, g_err, sizeof(g_err)));
	TL_EQ(sl_ci_apply(img, 7, h.b, h.n, g_err, sizeof(g_err)), -ERANGE);
	TL_EQ(img->applied_index, 7);
	TL_EQ(sl_ci_batch_init(&g_b, g_buf, 2), -ENOBUFS);
}

static void test_brokers(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	add_broker(img, 3, 0);
	add_broker(img, 1, 1);
	add_broker(img, 2, 1);
	TL_EQ(img->broker_count, 3);
	TL_EQ(img->brokers[0].id, 1);
	TL_EQ(img->brokers[2].id, 3);
	const struct sl_ci_broker *b = sl_ci_broker_find(img, 3);
	assert_non_null(b);
	TL_EQ(b->fenced, 1);
	TL_EQ(b->registered, 1);
	assert_string_equal(b->host, "10.0.0.3");
	TL_EQ(b->kafka_port, 9003);
	TL_EQ(b->native_port, 9503);
	int32_t ids[4];
	TL_EQ(sl_ci_active_brokers(img, ids, 4), 2);
	TL_EQ(ids[0], 1);
	TL_EQ(ids[1], 2);
	TL_EQ(sl_ci_active_brokers(img, ids, 1), 2);
	/* the same incarnation retries: endpoints change, still live */
	DECIDE(img, 0, sl_ci_register_broker(img, 1, 1001, "h1", 2, 1, 2,
					     &g_b, g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 1);
	b = sl_ci_broker_find(img, 1);
	TL_EQ(b->fenced, 0);
	assert_string_equal(b->host, "h1");
	TL_EQ(b->kafka_port, 1);
	/* registered without a UDP endpoint: the native port, at host */
	TL_EQ(b->udp_port, 2);
	TL_EQ(b->udp_addr, 0);
	/* with one (a DPDK broker: another address, another port), kept
	 * through a snapshot; none (port 0) too */
	const uint8_t dpdk_ip[4] = {192, 168, 7, 1};
	uint32_t addr;
	memcpy(&addr, dpdk_ip, 4);
	DECIDE(img, 0, sl_ci_register_broker_udp(img, 1, 1001, "h1", 2, 1, 2,
						 9777, addr, &g_b, g_msg,
						 sizeof(g_msg)));
	b = sl_ci_broker_find(img, 1);
	TL_EQ(b->udp_port, 9777);
	TL_OK(memcmp(&b->udp_addr, dpdk_ip, 4));
	TL_EQ(b->native_port, 2);
	TL_EQ(b->fenced, 0);
	DECIDE(img, 0, sl_ci_register_broker_udp(img, 2, 1002, "10.0.0.2", 8,
						 9002, 9502, 0, 0, &g_b, g_msg,
						 sizeof(g_msg)));
	TL_EQ(sl_ci_broker_find(img, 2)->udp_port, 0);
	{
		size_t sn = sl_ci_snapshot_bytes(img);
		TL_EQ(sl_ci_snapshot_encode(img, g_snap1, sn), (long)sn);
		struct sl_ci_image *back = img_alloc();
		TL_OK(sl_ci_snapshot_decode(back, g_snap1, sn, g_err,
					    sizeof(g_err)));
		TL_EQ(sl_ci_broker_find(back, 1)->udp_port, 9777);
		TL_OK(memcmp(&sl_ci_broker_find(back, 1)->udp_addr, dpdk_ip,
			     4));
		TL_EQ(sl_ci_broker_find(back, 2)->udp_port, 0);
		free(back);
	}
	/* a new incarnation is a restart: fenced */
	DECIDE(img, 0, sl_ci_register_broker(img, 1, 77, "h1", 2, 1, 2, &g_b,
					     g_msg, sizeof(g_msg)));
	TL_EQ(sl_ci_broker_find(img, 1)->fenced, 1);
	TL_EQ(sl_ci_broker_find(img, 1)->incarnation, 77);
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(sl_ci_broker_live(img, 2), 0);
	DECIDE(img, 0, sl_ci_unfence_broker(img, 2, &g_b, g_msg,
					    sizeof(g_msg)));
	TL_EQ(sl_ci_broker_live(img, 2), 1);
	/* errors */
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 0, 1, "h", 1, 1, 1, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 65536, 1, "h", 1, 1, 1, &g_b,
				     g_msg, sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 5, 1, "", 0, 1, 1, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 5, 1, "a b", 3, 1, 1, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 5, 1, "h", 1, 0, 1, &g_b, g_msg,
				     sizeof(g_msg)));
	char longhost[300];
	memset(longhost, 'a', sizeof(longhost));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 5, 1, longhost, 256, 1, 1, &g_b,
				     g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_register_broker(img, 5, 1, longhost, 255, 1, 1,
					     &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_BROKER_ID_NOT_REGISTERED,
	       sl_ci_fence_broker(img, 9, &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_BROKER_ID_NOT_REGISTERED,
	       sl_ci_unfence_broker(img, 9, &g_b, g_msg, sizeof(g_msg)));
	/* the table fills at SL_CI_BROKERS_MAX */
	for (int32_t id = 100; img->broker_count < SL_CI_BROKERS_MAX; id++)
		add_broker(img, id, 0);
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_register_broker(img, 9, 1, "h", 1, 1, 1, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_register_broker(img, 5, 2, "h", 1, 1, 1, &g_b,
					     g_msg, sizeof(g_msg)));
	/* a batch too small for the record leaves it as it was */
	TL_OK(sl_ci_batch_init(&g_b, g_buf, 10));
	TL_EQ(sl_ci_fence_broker(img, 1, &g_b, g_msg, sizeof(g_msg)),
	      -ENOBUFS);
	TL_EQ(g_b.len, 3);
	TL_EQ(g_b.count, 0);
}

static void test_create_topic(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	add_broker(img, 1, 1);
	add_broker(img, 2, 1);
	add_broker(img, 3, 0);
	const struct sl_ci_topic *t = create(img, "orders", 4, 2, 0);
	TL_EQ(t->id, 1);
	TL_EQ(t->partitions, 4);
	TL_EQ(t->replication_factor, 2);
	const struct sl_topic *mt = sl_ci_topic_meta(img, t);
	assert_string_equal(mt->name, "orders");
	TL_EQ(mt->segment_bytes, 1 << 26);
	TL_EQ(mt->cleanup_policy, SN_CLEANUP_DELETE);
	TL_TRUE(sl_meta_find(&img->meta, "orders", 6) == mt);
	for (int32_t p = 0; p < 4; p++) {
		const struct sl_ci_partition *x = part(img, 1, p);
		TL_EQ(x->leader, x->replicas[0]);
		TL_EQ(x->isr_count, 2);
		TL_EQ(x->leader_epoch, 0);
		TL_EQ(x->partition_epoch, 0);
		TL_TRUE(x->replicas[0] != 3 && x->replicas[1] != 3);
	}
	TL_TRUE(sl_ci_partition_find(img, 1, 4) == NULL);
	TL_TRUE(sl_ci_partition_find(img, 2, 0) == NULL);
	/* defaults: -1 takes the caller's */
	struct sl_ci_topic_req r = req_of("dflt", -1, -1);
	r.default_partitions = 5;
	r.default_replication_factor = 2;
	DECIDE(img, 0, sl_ci_create_topic(img, &r, &g_b, g_msg,
					  sizeof(g_msg)));
	t = sl_ci_topic_find(img, "dflt", 4);
	TL_EQ(t->id, 2);
	TL_EQ(t->partitions, 5);
	TL_EQ(t->replication_factor, 2);

	struct {
		struct sl_ci_topic_req r;
		int code;
	} bad[] = {
		{ req_of("orders", 1, 1), SN_ERR_TOPIC_ALREADY_EXISTS },
		{ req_of("a b", 1, 1), SN_ERR_INVALID_TOPIC_EXCEPTION },
		{ req_of("..", 1, 1), SN_ERR_INVALID_TOPIC_EXCEPTION },
		{ req_of("x", 0, 1), SN_ERR_INVALID_PARTITIONS },
		{ req_of("x", 1025, 1), SN_ERR_INVALID_PARTITIONS },
		{ req_of("x", 1, 3), SL_CI_ERR_INVALID_REPLICATION_FACTOR },
		{ req_of("x", 1, 9), SL_CI_ERR_INVALID_REPLICATION_FACTOR },
		{ req_of("x", 1, 0), SL_CI_ERR_INVALID_REPLICATION_FACTOR },
		{ req_of("x", 1, 1), SL_CI_ERR_INVALID_CONFIG },
		{ req_of("x", 1, 1), SL_CI_ERR_INVALID_CONFIG },
	};
	bad[8].r.min_insync_replicas = 0;
	bad[9].r.config.segment_bytes = 100;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		DECIDE(img, bad[i].code,
		       sl_ci_create_topic(img, &bad[i].r, &g_b, g_msg,
					  sizeof(g_msg)));
	/* manual assignments */
	static const int32_t l12[] = { 1, 2 }, l21[] = { 2, 1 },
			     l11[] = { 1, 1 }, l19[] = { 1, 9 },
			     l3[] = { 3 }, l31[] = { 3, 1 }, l1[] = { 1 },
			     l9x[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct sl_ci_assignment ok[] = { { 1, 2, l21 }, { 0, 2, l31 } };
	r = req_of("manual", -1, -1);
	r.assignment = ok;
	r.assignment_count = 2;
	DECIDE(img, 0, sl_ci_create_topic(img, &r, &g_b, g_msg,
					  sizeof(g_msg)));
	t = sl_ci_topic_find(img, "manual", 6);
	const struct sl_ci_partition *x = part(img, t->id, 0);
	TL_EQ(x->replicas[0], 3); /* fenced: not in sync, not the leader */
	TL_EQ(x->leader, 1);
	expect_isr(x, 1, 1);
	x = part(img, t->id, 1);
	TL_EQ(x->leader, 2);
	expect_isr(x, 2, 2, 1);
	struct {
		struct sl_ci_assignment a[2];
		int32_t n;
		int code;
	} badm[] = {
		{ { { 0, 2, l12 }, { 0, 2, l21 } }, 2,
		  SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT }, /* 0 twice */
		{ { { 0, 2, l12 }, { 2, 2, l21 } }, 2,
		  SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT }, /* no partition 1 */
		{ { { 0, 2, l11 } }, 1, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT },
		{ { { 0, 2, l19 } }, 1, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT },
		{ { { 0, 1, l3 } }, 1, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT },
		{ { { 0, 2, l12 }, { 1, 1, l1 } }, 2,
		  SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT }, /* uneven */
		{ { { 0, 0, l1 } }, 1, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT },
		{ { { 0, 9, l9x } }, 1, SL_CI_ERR_INVALID_REPLICATION_FACTOR },
		{ { { 0, 1, l1 } }, 0, SN_ERR_INVALID_PARTITIONS },
	};
	for (size_t i = 0; i < sizeof(badm) / sizeof(badm[0]); i++) {
		r = req_of("manual2", -1, -1);
		r.assignment = badm[i].a;
		r.assignment_count = badm[i].n;
		DECIDE(img, badm[i].code,
		       sl_ci_create_topic(img, &r, &g_b, g_msg,
					  sizeof(g_msg)));
	}
	r = req_of("manual2", 1, -1);
	r.assignment = ok;
	r.assignment_count = 2;
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_create_topic(img, &r, &g_b, g_msg, sizeof(g_msg)));
	/* the cluster's partition bound */
	int n = 0;
	while (img->part_count + 1024 <= SL_CI_PARTITIONS_MAX) {
		char name[32];
		snprintf(name, sizeof(name), "big%d", n++);
		create(img, name, 1024, 1, 0);
	}
	r = req_of("onemore", 1024, 1);
	DECIDE(img, SN_ERR_INVALID_PARTITIONS,
	       sl_ci_create_topic(img, &r, &g_b, g_msg, sizeof(g_msg)));
}

static void test_placement(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 5; id++)
		add_broker(img, id, 1);
	add_broker(img, 6, 0); /* fenced: never placed */
	const struct sl_ci_topic *t = create(img, "k", 10, 3, 0);
	/* Kafka's documented example (brokers 0-4 there, 1-5 here) */
	static const int32_t want[10][3] = {
		{ 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 5 }, { 4, 5, 1 },
		{ 5, 1, 2 }, { 1, 3, 4 }, { 2, 4, 5 }, { 3, 5, 1 },
		{ 4, 1, 2 }, { 5, 2, 3 },
	};
	for (int32_t p = 0; p < 10; p++) {
		const struct sl_ci_partition *x = part(img, t->id, p);
		for (int j = 0; j < 3; j++)
			TL_EQ(x->replicas[j], want[p][j]);
		TL_EQ(x->leader, want[p][0]);
		expect_isr(x, 3, want[p][0], want[p][1], want[p][2]);
	}
	/* any start and shift: leaders and replicas spread evenly */
	for (uint32_t start = 0; start < 7; start++) {
		for (uint32_t shift = 0; shift < 7; shift++) {
			char name[32];
			snprintf(name, sizeof(name), "s%u-%u", start, shift);
			struct sl_ci_topic_req r = req_of(name, 20, 3);
			r.start = start;
			r.shift = shift * 1000003u;
			DECIDE(img, 0, sl_ci_create_topic(img, &r, &g_b, g_msg,
							  sizeof(g_msg)));
			t = sl_ci_topic_find(img, name, strlen(name));
			int leads[7] = { 0 }, holds[7] = { 0 };
			for (int32_t p = 0; p < 20; p++) {
				const struct sl_ci_partition *x =
					part(img, t->id, p);
				leads[x->leader]++;
				for (int j = 0; j < 3; j++)
					holds[x->replicas[j]]++;
			}
			for (int id = 1; id <= 5; id++) {
				TL_EQ(leads[id], 4);
				TL_EQ(holds[id], 12);
			}
			TL_EQ(leads[6] + holds[6], 0);
		}
	}
}

static void test_fence_leader(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	const struct sl_ci_topic *t = create(img, "t", 1, 3, 0);
	uint32_t tid = t->id;
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, 1);
	/* fencing the leader elects the next in-sync replica */
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(g_b.count, 2);
	x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	TL_EQ(x->partition_epoch, 1);
	expect_isr(x, 2, 2, 3);
	/* fencing a follower shrinks the set; the leader stays */
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg,
					  sizeof(g_msg)));
	x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	TL_EQ(x->partition_epoch, 2);
	expect_isr(x, 1, 2);
	/* the last in-sync replica stays in the set; no leader */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	x = part(img, tid, 0);
	TL_EQ(x->leader, -1);
	TL_EQ(x->leader_epoch, 2);
	TL_EQ(x->partition_epoch, 3);
	expect_isr(x, 1, 2);
	/* a replica out of sync coming back does not lead (clean) */
	DECIDE(img, 0, sl_ci_unfence_broker(img, 1, &g_b, g_msg,
					    sizeof(g_msg)));
	TL_EQ(g_b.count, 1);
	TL_EQ(part(img, tid, 0)->leader, -1);
	/* fencing it again: nothing of the partition changes */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(g_b.count, 1);
	/* the in-sync replica back: it leads, epoch + 1 */
	DECIDE(img, 0, sl_ci_unfence_broker(img, 2, &g_b, g_msg,
					    sizeof(g_msg)));
	TL_EQ(g_b.count, 2);
	x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 3);
	TL_EQ(x->partition_epoch, 4);
	expect_isr(x, 1, 2);
	/* a restart (new incarnation) of the leader acts as a fence */
	DECIDE(img, 0, sl_ci_register_broker(img, 2, 5, "h", 1, 1, 1, &g_b,
					     g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 2);
	x = part(img, tid, 0);
	TL_EQ(x->leader, -1);
	TL_EQ(x->leader_epoch, 4);
	TL_EQ(sl_ci_broker_find(img, 2)->fenced, 1);
}

static void test_unclean(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t clean = create(img, "clean", 1, 3, 0)->id;
	uint32_t dirty = create(img, "dirty", 1, 3, 1)->id;
	static const int32_t only1[] = { 1 };
	/* the leader shrinks both in-sync sets to itself */
	DECIDE(img, 0, sl_ci_alter_isr(img, clean, 0, 1, 0, 0, only1, 1,
				       &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_alter_isr(img, dirty, 0, 1, 0, 0, only1, 1,
				       &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, clean, 0);
	TL_EQ(x->leader, -1);
	expect_isr(x, 1, 1);
	x = part(img, dirty, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	expect_isr(x, 1, 2);
	/* unclean turned on later elects the leaderless partition */
	struct sl_topic cfg = *sl_ci_topic_meta(img,
						sl_ci_topic_find_id(img, clean));
	DECIDE(img, 0, sl_ci_alter_topic_config(img, "clean", 5, &cfg, 1, 1,
						&g_b, g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 2);
	x = part(img, clean, 0);
	TL_EQ(x->leader, 2);
	expect_isr(x, 1, 2);
	TL_EQ(sl_ci_topic_find_id(img, clean)->unclean_leader_election, 1);
	/* every replica fenced: unclean cannot help; back one at a time */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	x = part(img, dirty, 0);
	TL_EQ(x->leader, 3);
	expect_isr(x, 1, 3);
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(part(img, dirty, 0)->leader, -1);
	expect_isr(part(img, dirty, 0), 1, 3);
	/* the first replica back leads, out of sync as it was (unclean) */
	DECIDE(img, 0, sl_ci_unfence_broker(img, 1, &g_b, g_msg,
					    sizeof(g_msg)));
	x = part(img, dirty, 0);
	TL_EQ(x->leader, 1);
	expect_isr(x, 1, 1);
	TL_EQ(part(img, clean, 0)->leader, 1);
}

static void test_alter_isr(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 4; id++)
		add_broker(img, id, 1);
	uint32_t tid = create(img, "t", 2, 3, 0)->id;
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, 1);
	expect_isr(x, 3, 1, 2, 3);
	static const int32_t s13[] = { 3, 1 }, s123[] = { 2, 1, 3 },
			     s23[] = { 2, 3 }, s14[] = { 1, 4 },
			     s11[] = { 1, 1 }, s1[] = { 1 };
	/* shrink (any order given; kept in replica order) */
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 0, s13, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	x = part(img, tid, 0);
	expect_isr(x, 2, 1, 3);
	TL_EQ(x->partition_epoch, 1);
	TL_EQ(x->leader_epoch, 0);
	/* unchanged: nothing appended */
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s13, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 0);
	/* errors, in their order */
	DECIDE(img, SL_CI_ERR_UNKNOWN_TOPIC_ID,
	       sl_ci_alter_isr(img, 99, 0, 1, 0, 1, s13, 2, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
	       sl_ci_alter_isr(img, tid, 2, 1, 0, 1, s13, 2, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_FENCED_LEADER_EPOCH,
	       sl_ci_alter_isr(img, tid, 0, 1, 1, 1, s13, 2, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_NOT_LEADER_OR_FOLLOWER,
	       sl_ci_alter_isr(img, tid, 0, 3, 0, 1, s13, 2, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_INVALID_UPDATE_VERSION,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 0, s123, 3, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s23, 2, &g_b, g_msg,
			       sizeof(g_msg))); /* lacks the leader */
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s14, 2, &g_b, g_msg,
			       sizeof(g_msg))); /* 4 is no replica */
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s11, 2, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s1, 0, &g_b, g_msg,
			       sizeof(g_msg)));
	/* adding a fenced broker is refused; keeping one is not */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_INELIGIBLE_REPLICA,
	       sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s123, 3, &g_b, g_msg,
			       sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_unfence_broker(img, 2, &g_b, g_msg,
					    sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s123, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	expect_isr(part(img, tid, 0), 3, 1, 2, 3);
	TL_EQ(part(img, tid, 0)->partition_epoch, 2);
	/* a decision made before another committed: refused at apply */
	batch();
	TL_OK(sl_ci_alter_isr(img, tid, 0, 1, 0, 2, s13, 2, &g_b, g_msg,
			      sizeof(g_msg)));
	static struct hw stale;
	memcpy(stale.b, g_b.buf, g_b.len);
	stale.n = g_b.len;
	apply_ok(img);
	apply_bytes(img, stale.b, stale.n, -EINVAL);
	TL_TRUE(strstr(g_err, "stale") != NULL);
}

static void test_elect_preferred(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t tid = create(img, "t", 1, 3, 0)->id;
	DECIDE(img, SL_CI_ERR_ELECTION_NOT_NEEDED,
	       sl_ci_elect_preferred(img, tid, 0, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_UNKNOWN_TOPIC_ID,
	       sl_ci_elect_preferred(img, 42, 0, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
	       sl_ci_elect_preferred(img, tid, -1, &g_b, g_msg,
				     sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(part(img, tid, 0)->leader, 2);
	DECIDE(img, 0, sl_ci_unfence_broker(img, 1, &g_b, g_msg,
					    sizeof(g_msg)));
	/* 1 is live but out of sync */
	DECIDE(img, SL_CI_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
	       sl_ci_elect_preferred(img, tid, 0, &g_b, g_msg,
				     sizeof(g_msg)));
	static const int32_t all[] = { 1, 2, 3 };
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 2, 1, 1, all, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	/* a follower fenced: the leader stays though 1 comes first */
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	TL_EQ(x->partition_epoch, 3);
	expect_isr(x, 2, 1, 2);
	DECIDE(img, 0, sl_ci_unfence_broker(img, 3, &g_b, g_msg,
					    sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_elect_preferred(img, tid, 0, &g_b, g_msg,
					     sizeof(g_msg)));
	x = part(img, tid, 0);
	TL_EQ(x->leader, 1);
	TL_EQ(x->leader_epoch, 2);
	TL_EQ(x->partition_epoch, 4);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 2, 4, all, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 2, 5, all, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 0);
	/* fenced, so out of sync again */
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
	       sl_ci_elect_preferred(img, tid, 0, &g_b, g_msg,
				     sizeof(g_msg)));
}

/* ElectLeaders type 1: only a partition without a leader, which gets a
 * live replica even out of sync (its in-sync set then itself alone). */
static void test_elect_unclean(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t tid = create(img, "t", 1, 3, 0)->id;
	TL_EQ(part(img, tid, 0)->leader, 1);
	DECIDE(img, SL_CI_ERR_ELECTION_NOT_NEEDED,
	       sl_ci_elect_unclean(img, tid, 0, &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_UNKNOWN_TOPIC_ID,
	       sl_ci_elect_unclean(img, 42, 0, &g_b, g_msg, sizeof(g_msg)));
	static const int32_t one[] = { 1 };
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 0, one, 1, &g_b,
				       g_msg, sizeof(g_msg)));
	/* the only in-sync replica fenced, the topic clean: no leader */
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, -1);
	int32_t le = x->leader_epoch, pe = x->partition_epoch;
	DECIDE(img, 0, sl_ci_elect_unclean(img, tid, 0, &g_b, g_msg,
					   sizeof(g_msg)));
	x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	expect_isr(x, 1, 2);
	TL_TRUE(x->leader_epoch > le && x->partition_epoch > pe);
	/* nothing live: none to elect */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_EQ(part(img, tid, 0)->leader, -1);
	DECIDE(img, SL_CI_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
	       sl_ci_elect_unclean(img, tid, 0, &g_b, g_msg, sizeof(g_msg)));
}

static void test_delete_and_partitions(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t a = create(img, "a", 2, 2, 0)->id;
	uint32_t b = create(img, "b", 3, 1, 0)->id;
	uint32_t c = create(img, "c", 1, 3, 0)->id;
	TL_EQ(a, 1);
	TL_EQ(c, 3);
	/* partitions added in the middle of the table */
	DECIDE(img, 0, sl_ci_create_partitions(img, "b", 1, 5, NULL, 0, 0, 0,
					       &g_b, g_msg, sizeof(g_msg)));
	TL_EQ(sl_ci_topic_find_id(img, b)->partitions, 5);
	TL_EQ(sl_meta_find_id(&img->meta, b)->partitions, 5);
	TL_EQ(img->part_count, 2 + 5 + 1);
	TL_EQ(part(img, c, 0)->replica_count, 3);
	static const int32_t l2[] = { 2 }, l23[] = { 2, 3 }, l9[] = { 9 };
	struct sl_ci_assignment one[] = { { 0, 1, l2 } };
	DECIDE(img, 0, sl_ci_create_partitions(img, "b", 1, 6, one, 1, 0, 0,
					       &g_b, g_msg, sizeof(g_msg)));
	TL_EQ(part(img, b, 5)->leader, 2);
	DECIDE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
	       sl_ci_create_partitions(img, "zz", 2, 6, NULL, 0, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_PARTITIONS,
	       sl_ci_create_partitions(img, "b", 1, 6, NULL, 0, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_PARTITIONS,
	       sl_ci_create_partitions(img, "b", 1, 1025, NULL, 0, 0, 0,
				       &g_b, g_msg, sizeof(g_msg)));
	struct sl_ci_assignment two[] = { { 0, 2, l23 } };
	DECIDE(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT,
	       sl_ci_create_partitions(img, "b", 1, 7, two, 1, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	struct sl_ci_assignment unknown[] = { { 0, 1, l9 } };
	DECIDE(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT,
	       sl_ci_create_partitions(img, "b", 1, 7, unknown, 1, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT,
	       sl_ci_create_partitions(img, "b", 1, 8, one, 1, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg,
					  sizeof(g_msg)));
	DECIDE(img, SL_CI_ERR_INVALID_REPLICATION_FACTOR,
	       sl_ci_create_partitions(img, "c", 1, 2, NULL, 0, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	/* delete: the table closes up, the id is never reused */
	DECIDE(img, 0, sl_ci_delete_topic(img, "b", 1, &g_b, g_msg,
					  sizeof(g_msg)));
	TL_TRUE(sl_ci_topic_find(img, "b", 1) == NULL);
	TL_EQ(img->part_count, 2 + 1);
	TL_EQ(img->meta.tomb_count, 1);
	TL_EQ(img->meta.tombs[0].id, b);
	TL_EQ(part(img, c, 0)->replica_count, 3);
	DECIDE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
	       sl_ci_delete_topic(img, "b", 1, &g_b, g_msg, sizeof(g_msg)));
	TL_EQ(create(img, "b", 1, 1, 0)->id, 4);
	/* alter config */
	struct sl_topic cfg = *sl_meta_find(&img->meta, "a", 1);
	cfg.retention_ms = 5000;
	cfg.cleanup_policy = SN_CLEANUP_COMPACT;
	DECIDE(img, 0, sl_ci_alter_topic_config(img, "a", 1, &cfg, 2, 0,
						&g_b, g_msg, sizeof(g_msg)));
	TL_EQ(sl_meta_find(&img->meta, "a", 1)->retention_ms, 5000);
	TL_EQ(sl_meta_find(&img->meta, "a", 1)->cleanup_policy,
	      SN_CLEANUP_COMPACT);
	TL_EQ(sl_ci_topic_find_id(img, a)->min_insync_replicas, 2);
	DECIDE(img, SL_CI_ERR_INVALID_CONFIG,
	       sl_ci_alter_topic_config(img, "a", 1, &cfg, 0, 0, &g_b, g_msg,
					sizeof(g_msg)));
	cfg.durability ^= 1;
	DECIDE(img, SL_CI_ERR_INVALID_CONFIG,
	       sl_ci_alter_topic_config(img, "a", 1, &cfg, 1, 0, &g_b, g_msg,
					sizeof(g_msg)));
	DECIDE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
	       sl_ci_alter_topic_config(img, "q", 1, &cfg, 1, 0, &g_b, g_msg,
					sizeof(g_msg)));
}

/* Every record kind as bytes written here from the format's description,
 * then malformed and invalid entries refused whole. */
static void test_records_by_hand(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	static struct hw h;
	static const int32_t r12[] = { 1, 2 }, r21[] = { 2, 1 },
			     i2[] = { 2 }, i12[] = { 1, 2 }, i21[] = { 2, 1 };
	hw_begin(&h);
	h_register(&h, 2, 7, "b2.example");
	h_register(&h, 1, 9, "[::1]");
	h_broker(&h, SL_CI_UNFENCE_BROKER, 1);
	h_broker(&h, SL_CI_UNFENCE_BROKER, 2);
	h_broker(&h, SL_CI_FENCE_BROKER, 2);
	h_create(&h, "hand", 2, r12, 2);
	/* the new topic (id 1) changed in the same entry, twice */
	h_change(&h, 1, 1, 2, 1, 1, i2, 1);
	h_change(&h, 1, 1, 2, 1, 2, i12, 2);
	apply_bytes(img, h.b, h.n, 0);
	TL_EQ(img->broker_count, 2);
	TL_EQ(sl_ci_broker_find(img, 2)->fenced, 1);
	TL_EQ(sl_ci_broker_find(img, 1)->fenced, 0);
	assert_string_equal(sl_ci_broker_find(img, 1)->host, "[::1]");
	const struct sl_ci_partition *x = part(img, 1, 1);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	TL_EQ(x->partition_epoch, 2);
	expect_isr(x, 2, 1, 2);
	const struct sl_topic *mt = sl_meta_find_id(&img->meta, 1);
	TL_EQ(mt->durability, 1);
	TL_EQ(mt->retention_ms, 3600000);
	TL_EQ(sl_ci_topic_find_id(img, 1)->min_insync_replicas, 2);

	hw_begin(&h);
	hrec(&h, SL_CI_CREATE_PARTITIONS);
	h32(&h, 1);
	h32(&h, 2);
	h16(&h, 2);
	h8(&h, 2);
	h_assign(&h, r21, 2, 2, 2);
	h_assign(&h, r12, 2, 1, 1);
	hend(&h);
	hrec(&h, SL_CI_ALTER_TOPIC_CONFIG);
	h32(&h, 1);
	h_config(&h, 1, 1, 1, 77);
	hend(&h);
	apply_bytes(img, h.b, h.n, 0);
	TL_EQ(sl_ci_topic_find_id(img, 1)->partitions, 4);
	expect_isr(part(img, 1, 3), 1, 1);
	TL_EQ(sl_meta_find_id(&img->meta, 1)->retention_ms, 77);
	TL_EQ(sl_ci_topic_find_id(img, 1)->unclean_leader_election, 1);

	/* malformed: refused before anything is looked at */
	uint8_t tiny[] = { 1, 0 };
	apply_bytes(img, tiny, sizeof(tiny), -EINVAL);
	uint8_t none[] = { 1, 0, 0 };
	apply_bytes(img, none, sizeof(none), -EINVAL);
	hw_begin(&h);
	h_broker(&h, SL_CI_FENCE_BROKER, 1);
	h.b[0] = 2; /* version */
	apply_bytes(img, h.b, h.n, -EINVAL);
	h.b[0] = 1;
	rb_put16(h.b + 1, 2); /* count above the records */
	apply_bytes(img, h.b, h.n, -EINVAL);
	rb_put16(h.b + 1, 1);
	for (size_t cut = 0; cut < h.n; cut++)
		apply_bytes(img, h.b, cut, -EINVAL);
	h.b[h.n] = 0; /* a byte past the last record */
	apply_bytes(img, h.b, h.n + 1, -EINVAL);
	h.b[3] = 10; /* unknown type */
	apply_bytes(img, h.b, h.n, -EINVAL);
	h.b[3] = SL_CI_FENCE_BROKER;
	rb_put32(h.b + 4, 5); /* body longer than its fields */
	h.b[h.n] = 0;
	apply_bytes(img, h.b, h.n + 1, -EINVAL);
	/* well-formed, each invalid against the image */
	hw_begin(&h);
	h_broker(&h, SL_CI_FENCE_BROKER, 3); /* unknown broker */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_broker(&h, SL_CI_FENCE_BROKER, 0); /* id 0 */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_create(&h, "hand", 1, r12, 2); /* exists */
	apply_bytes(img, h.b, h.n, -EINVAL);
	static const int32_t r13[] = { 1, 3 };
	hw_begin(&h);
	h_create(&h, "other", 1, r13, 2); /* broker 3 unknown */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 1, 0, 1, 0, 2, i12, 2); /* partition epoch + 2 */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 1, 0, 2, 0, 1, i12, 2); /* new leader, same epoch */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 1, 0, 1, 0, 1, i21, 2); /* not in replica order */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 1, 0, 3, 1, 1, i12, 2); /* leader not in sync */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 1, 4, 1, 0, 1, i12, 2); /* no partition 4 */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_change(&h, 2, 0, 1, 0, 1, i12, 2); /* no topic 2 */
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	hrec(&h, SL_CI_DELETE_TOPIC);
	h32(&h, 5);
	hend(&h);
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	hrec(&h, SL_CI_ALTER_TOPIC_CONFIG);
	h32(&h, 1);
	h_config(&h, 0, 0, 1, 77); /* durability changed */
	hend(&h);
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	hrec(&h, SL_CI_CREATE_PARTITIONS);
	h32(&h, 1);
	h32(&h, 3); /* it has 4 */
	h16(&h, 1);
	h8(&h, 2);
	h_assign(&h, r12, 2, 1, 2);
	hend(&h);
	apply_bytes(img, h.b, h.n, -EINVAL);

	/* all or nothing: good records, then a bad one */
	hw_begin(&h);
	h_register(&h, 3, 1, "c");
	h_broker(&h, SL_CI_UNFENCE_BROKER, 3);
	h_create(&h, "later", 1, r13, 2);
	h_change(&h, 1, 0, 1, 0, 1, i12, 2);
	hrec(&h, SL_CI_DELETE_TOPIC);
	h32(&h, 1);
	hend(&h);
	h_change(&h, 1, 1, 2, 1, 3, i12, 2); /* topic 1 is gone */
	apply_bytes(img, h.b, h.n, -EINVAL);
	TL_TRUE(strstr(g_err, "record 5") != NULL);
	TL_TRUE(sl_ci_broker_find(img, 3) == NULL);
	TL_TRUE(sl_ci_topic_find(img, "later", 5) == NULL);
	TL_TRUE(sl_ci_topic_find_id(img, 1) != NULL);
	TL_EQ(img->meta.next_id, 2);
}

/* Append the records of entry e to b (as a controller batching
 * decisions would). */
static void append_entry(struct sl_ci_batch *b, const uint8_t *e, size_t n)
{
	TL_TRUE(n >= 3 && b->len + n - 3 <= b->cap);
	memcpy(b->buf + b->len, e + 3, n - 3);
	b->len += n - 3;
	b->count += rb_be16(e + 1);
	rb_put16(b->buf + 1, (uint16_t)b->count);
}

/* Entries past the rollback journal, refused at their last record. */
static void test_rollback_journal(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	add_broker(img, 1, 1);
	add_broker(img, 2, 1);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "j%d", i);
		create(img, name, 1000, 2, 0);
	}
	/* 5000 partition changes (past SL_CI_JOURNAL_MAX), then one that
	 * reuses an epoch the batch already took: all of it rolls back */
	batch();
	for (uint32_t tid = 1; tid <= 5; tid++)
		for (int32_t p = 0; p < 1000; p++) {
			const struct sl_ci_partition *x = part(img, tid, p);
			int32_t me = x->leader;
			TL_OK(sl_ci_alter_isr(img, tid, p, me, x->leader_epoch,
					      x->partition_epoch, &me, 1, &g_b,
					      g_msg, sizeof(g_msg)));
		}
	TL_EQ(g_b.count, 5000);
	static struct hw h;
	int32_t lead = part(img, 3, 7)->leader;
	hw_begin(&h);
	h_change(&h, 3, 7, lead, 0, 1, &lead, 1);
	append_entry(&g_b, h.b, h.n);
	apply_bytes(img, g_b.buf, g_b.len, -EINVAL);
	TL_TRUE(strstr(g_err, "record 5000") != NULL);
	/* a fence of every partition, a topic created in the same entry
	 * (the table saved after the journal filled), then a bad record */
	batch();
	TL_OK(sl_ci_fence_broker(img, 2, &g_b, g_msg, sizeof(g_msg)));
	TL_EQ(g_b.count, 5001);
	struct sl_ci_topic_req r = req_of("inside", 3, 1);
	TL_OK(sl_ci_create_topic(img, &r, &g_b, g_msg, sizeof(g_msg)));
	size_t good = g_b.len;
	uint32_t good_count = g_b.count;
	hw_begin(&h);
	h_broker(&h, SL_CI_UNFENCE_BROKER, 3);
	append_entry(&g_b, h.b, h.n);
	apply_bytes(img, g_b.buf, g_b.len, -EINVAL);
	TL_TRUE(sl_ci_topic_find(img, "inside", 6) == NULL);
	/* without it, the entry applies */
	g_b.len = good;
	g_b.count = good_count;
	rb_put16(g_b.buf + 1, (uint16_t)good_count);
	apply_ok(img);
	TL_EQ(sl_ci_topic_find(img, "inside", 6)->id, 6);
	TL_EQ(sl_ci_broker_live(img, 2), 0);
	for (uint32_t tid = 1; tid <= 5; tid++)
		TL_EQ(part(img, tid, 999)->leader, 1);
}

/* Fill img with something of everything. */
static void populate(struct sl_ci_image *img)
{
	for (int32_t id = 1; id <= 4; id++)
		add_broker(img, id, id != 4);
	create(img, "one", 3, 3, 0);
	create(img, "two", 2, 1, 1);
	create(img, "gone", 1, 2, 0);
	DECIDE(img, 0, sl_ci_delete_topic(img, "gone", 4, &g_b, g_msg,
					  sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg,
					  sizeof(g_msg)));
	struct sl_topic cfg = *sl_meta_find(&img->meta, "two", 3);
	cfg.cleanup_policy = SN_CLEANUP_COMPACT | SN_CLEANUP_DELETE;
	cfg.min_cleanable_dirty_ratio = 0.125;
	DECIDE(img, 0, sl_ci_alter_topic_config(img, "two", 3, &cfg, 1, 1,
						&g_b, g_msg, sizeof(g_msg)));
}

static void expect_same(const struct sl_ci_image *a,
			const struct sl_ci_image *b)
{
	TL_EQ(a->applied_index, b->applied_index);
	TL_EQ(a->broker_count, b->broker_count);
	TL_TRUE(!memcmp(a->brokers, b->brokers,
			sizeof(a->brokers[0]) * a->broker_count));
	TL_EQ(a->meta.count, b->meta.count);
	TL_EQ(a->meta.next_id, b->meta.next_id);
	TL_EQ(a->meta.tomb_count, b->meta.tomb_count);
	for (uint32_t i = 0; i < a->meta.count; i++) {
		const struct sl_topic *x = &a->meta.topics[i],
				      *y = &b->meta.topics[i];
		TL_EQ(x->id, y->id);
		TL_EQ(x->partitions, y->partitions);
		TL_EQ(x->durability, y->durability);
		TL_EQ(x->retention_ms, y->retention_ms);
		TL_EQ(x->retention_bytes, y->retention_bytes);
		TL_EQ(x->segment_bytes, y->segment_bytes);
		TL_EQ(x->cleanup_policy, y->cleanup_policy);
		TL_TRUE(x->min_cleanable_dirty_ratio ==
			y->min_cleanable_dirty_ratio);
		TL_EQ(x->min_compaction_lag_ms, y->min_compaction_lag_ms);
		TL_EQ(x->max_compaction_lag_ms, y->max_compaction_lag_ms);
		TL_EQ(x->delete_retention_ms, y->delete_retention_ms);
		assert_string_equal(x->name, y->name);
	}
	for (uint32_t i = 0; i < a->meta.tomb_count; i++) {
		TL_EQ(a->meta.tombs[i].id, b->meta.tombs[i].id);
		assert_string_equal(a->meta.tombs[i].name,
				    b->meta.tombs[i].name);
	}
	TL_TRUE(!memcmp(a->topics, b->topics,
			sizeof(a->topics[0]) * a->meta.count));
	TL_EQ(a->part_count, b->part_count);
	TL_TRUE(!memcmp(a->parts, b->parts,
			sizeof(a->parts[0]) * a->part_count));
}

static void test_snapshot(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	populate(img);
	size_t n = sl_ci_snapshot_bytes(img);
	TL_EQ(sl_ci_snapshot_encode(img, g_snap1, n - 1), -ENOBUFS);
	TL_EQ(sl_ci_snapshot_encode(img, g_snap1, n), (long)n);
	struct sl_ci_image *back = img_alloc();
	TL_OK(sl_ci_snapshot_decode(back, g_snap1, n, g_err, sizeof(g_err)));
	check(back);
	expect_same(img, back);
	TL_EQ(sl_ci_snapshot_encode(back, g_snap2, n), (long)n);
	TL_TRUE(!memcmp(g_snap1, g_snap2, n));
	/* decisions on the restored image make the same entries */
	uint8_t *e2 = malloc(1 << 16);
	struct sl_ci_batch b2;
	batch();
	TL_OK(sl_ci_fence_broker(img, 1, &g_b, g_msg, sizeof(g_msg)));
	TL_OK(sl_ci_batch_init(&b2, e2, 1 << 16));
	TL_OK(sl_ci_fence_broker(back, 1, &b2, g_msg, sizeof(g_msg)));
	TL_EQ(g_b.len, b2.len);
	TL_TRUE(!memcmp(g_b.buf, e2, b2.len));
	free(e2);

	/* every cut and every flipped bit refused, the image untouched */
	struct sl_ci_image *keep = img_alloc();
	sl_ci_copy(keep, back);
	for (size_t cut = 0; cut < n; cut++)
		TL_EQ(sl_ci_snapshot_decode(back, g_snap1, cut, g_err,
					    sizeof(g_err)), -EINVAL);
	for (size_t i = 0; i < n; i++) {
		g_snap1[i] ^= (uint8_t)(1u << (i % 8));
		TL_EQ(sl_ci_snapshot_decode(back, g_snap1, n, g_err,
					    sizeof(g_err)), -EINVAL);
		g_snap1[i] ^= (uint8_t)(1u << (i % 8));
	}
	expect_same(keep, back);
	/* damage behind a good CRC: what the decoder checks by itself.
	 * Topic "one" comes first; its partition 0 (version 3): u8 replica
	 * count, 3 replicas, two masks, leader, epochs, in-sync count and
	 * ids (1 and 3: broker 2 is fenced). */
	size_t brokers_at = 48, topic_at = brokers_at;
	for (uint32_t i = 0; i < img->broker_count; i++)
		topic_at += 24 + img->brokers[i].host_len;
	size_t part_at = topic_at + 6 + 3 + 64 + 5;
	struct {
		size_t at;
		uint8_t v;
		const char *what;
	} dmg[] = {
		{ 4 + 1, 4, "version" },
		{ 24 + 3, 9, "broker count" },
		{ brokers_at + 3, 2, "broker ids not ascending" },
		{ brokers_at + 16, 4, "broker flag" },
		{ topic_at + 3, 9, "topic id past next id" },
		{ topic_at + 6, '#', "topic name" },
		{ topic_at + 6 + 3 + 1, 7, "cleanup policy" },
		{ topic_at + 6 + 3 + 64 + 4, 9, "replication factor" },
		{ part_at, 0, "replica count 0" },
		{ part_at, 9, "replica count 9" },
		{ part_at + 1 + 3, 9, "replica not a broker" },
		{ part_at + 1 + 12, 7, "adding every replica" },
		{ part_at + 1 + 13, 7, "removing every replica" },
		{ part_at + 1 + 12, 8, "a mask bit past the replicas" },
		{ part_at + 15 + 3, 4, "leader not in sync" },
		{ part_at + 27, 0, "in-sync count 0" },
		{ part_at + 28 + 3, 3, "in-sync twice" },
	};
	for (size_t i = 0; i < sizeof(dmg) / sizeof(dmg[0]); i++) {
		memcpy(g_snap2, g_snap1, n);
		g_snap2[dmg[i].at] = dmg[i].v;
		rb_put32(g_snap2 + n - 4, rb_crc32c(g_snap2, n - 4));
		int rc = sl_ci_snapshot_decode(back, g_snap2, n, g_err,
					       sizeof(g_err));
		if (rc != -EINVAL)
			fail_msg("damage '%s' accepted", dmg[i].what);
		expect_same(keep, back);
	}
	/* the empty image too */
	struct sl_ci_image *e = img_alloc();
	n = (size_t)sl_ci_snapshot_encode(e, g_snap1, 8u << 20);
	TL_EQ(n, 52);
	TL_OK(sl_ci_snapshot_decode(back, g_snap1, n, g_err, sizeof(g_err)));
	expect_same(e, back);
	free(e);
	free(keep);
	free(back);
}

/* ---- reassignment ---- */

/* A topic whose partitions have the replica lists given (list i for
 * partition i, each of n[i] brokers); its id. */
static uint32_t create_assigned(struct sl_ci_image *img, const char *name,
				int32_t parts, const int32_t *const *lists,
				const int32_t *n)
{
	struct sl_ci_assignment as[8];
	TL_TRUE(parts >= 1 && parts <= 8);
	for (int32_t p = 0; p < parts; p++)
		as[p] = (struct sl_ci_assignment){ p, n[p], lists[p] };
	struct sl_ci_topic_req r = req_of(name, -1, -1);
	r.assignment = as;
	r.assignment_count = parts;
	DECIDE(img, 0, sl_ci_create_topic(img, &r, &g_b, g_msg,
					  sizeof(g_msg)));
	return sl_ci_topic_find(img, name, strlen(name))->id;
}

/* A topic of one partition on broker `id` alone. */
static uint32_t create_on(struct sl_ci_image *img, const char *name,
			  int32_t id)
{
	const int32_t *lists[] = { &id };
	const int32_t n[] = { 1 };
	return create_assigned(img, name, 1, lists, n);
}

static void expect_replicas(const struct sl_ci_partition *p, unsigned n, ...)
{
	va_list ap;
	TL_EQ(p->replica_count, n);
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		TL_EQ(p->replicas[i], va_arg(ap, int));
	va_end(ap);
	for (unsigned i = n; i < SL_CI_RF_MAX; i++)
		TL_EQ(p->replicas[i], 0);
}

/* The batch's one record, a PARTITION_REASSIGN read as the format at
 * the top of cluster_image.c spells it: its topic id, partition and the
 * state it carries. */
static void read_reassign(uint32_t *tid, int32_t *p,
			  struct sl_ci_partition *x)
{
	const uint8_t *e = g_b.buf;
	TL_EQ(g_b.count, 1);
	TL_EQ(e[0], 1);
	TL_EQ(rb_be16(e + 1), 1);
	TL_EQ(e[3], SL_CI_PARTITION_REASSIGN);
	const uint8_t *b = e + 8;
	size_t len = rb_be32(e + 4);
	TL_EQ(8 + len, g_b.len);
	memset(x, 0, sizeof(*x));
	*tid = rb_be32(b);
	*p = (int32_t)rb_be32(b + 4);
	x->leader = (int32_t)rb_be32(b + 8);
	x->leader_epoch = (int32_t)rb_be32(b + 12);
	x->partition_epoch = (int32_t)rb_be32(b + 16);
	unsigned r = b[20];
	TL_TRUE(r >= 1 && r <= SL_CI_RF_MAX);
	x->replica_count = (uint8_t)r;
	for (unsigned i = 0; i < r; i++)
		x->replicas[i] = (int32_t)rb_be32(b + 21 + 4 * i);
	x->adding = b[21 + 4 * r];
	x->removing = b[22 + 4 * r];
	unsigned k = b[23 + 4 * r];
	TL_TRUE(k >= 1 && k <= r);
	x->isr_count = (uint8_t)k;
	for (unsigned i = 0; i < k; i++)
		x->isr[i] = (int32_t)rb_be32(b + 24 + 4 * r + 4 * i);
	TL_EQ(len, 24 + 4 * r + 4 * k);
}

#define REASSIGN(img, expect, tid, p, target, n, allow)                      \
	DECIDE(img, expect, sl_ci_reassign(img, tid, p, target, n, allow,     \
					   &g_b, g_msg, sizeof(g_msg)))
#define COMPLETE(img, expect, tid, p)                                        \
	DECIDE(img, expect, sl_ci_reassign_complete(img, tid, p, &g_b, g_msg, \
						    sizeof(g_msg)))

/* [1] -> [2,3]: the target first, then the original; the new replicas
 * join the in-sync set as the leader says, and only then does it end. */
static void test_reassign_move(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 4; id++)
		add_broker(img, id, 1);
	uint32_t tid = create_on(img, "move", 1);
	static const int32_t t1[] = { 1 }, t23[] = { 2, 3 },
			     s12[] = { 1, 2 }, s123[] = { 3, 2, 1 };
	/* the replicas as they are, and nothing to end: nothing */
	REASSIGN(img, 0, tid, 0, t1, 1, 1);
	TL_EQ(g_b.count, 0);
	COMPLETE(img, 0, tid, 0);
	TL_EQ(g_b.count, 0);
	TL_EQ(part(img, tid, 0)->partition_epoch, 0);

	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, t23, 2, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	uint32_t rt;
	int32_t rp;
	struct sl_ci_partition rec;
	read_reassign(&rt, &rp, &rec);
	TL_EQ(rt, tid);
	TL_EQ(rp, 0);
	expect_replicas(&rec, 3, 2, 3, 1);
	TL_EQ(rec.adding, 0x3);
	TL_EQ(rec.removing, 0x4);
	expect_isr(&rec, 1, 1);
	TL_EQ(rec.leader, 1);
	TL_EQ(rec.leader_epoch, 0);
	TL_EQ(rec.partition_epoch, 1);
	apply_ok(img);
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_TRUE(!memcmp(x, &rec, sizeof(rec)));
	/* the factor follows partition 0 only once it ends */
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);

	/* the same target again while it runs: nothing */
	REASSIGN(img, 0, tid, 0, t23, 2, 1);
	TL_EQ(g_b.count, 0);
	/* 2 and 3 not in sync: not yet */
	COMPLETE(img, 0, tid, 0);
	TL_EQ(g_b.count, 0);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s12, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	x = part(img, tid, 0);
	expect_isr(x, 2, 2, 1);
	TL_EQ(x->adding, 0x3);
	COMPLETE(img, 0, tid, 0);
	TL_EQ(g_b.count, 0);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 2, s123, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	expect_isr(part(img, tid, 0), 3, 2, 3, 1);
	/* every target replica in sync: it ends; the removed leader gives
	 * way to the first target replica in sync and live */
	batch();
	TL_OK(sl_ci_reassign_complete(img, tid, 0, &g_b, g_msg,
				      sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	expect_replicas(&rec, 2, 2, 3);
	expect_isr(&rec, 2, 2, 3);
	TL_EQ(rec.adding, 0);
	TL_EQ(rec.removing, 0);
	TL_EQ(rec.leader, 2);
	TL_EQ(rec.leader_epoch, 1);
	TL_EQ(rec.partition_epoch, 4);
	apply_ok(img);
	x = part(img, tid, 0);
	TL_TRUE(!memcmp(x, &rec, sizeof(rec)));
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	TL_EQ(sl_meta_find_id(&img->meta, tid)->replication_factor, 2);
	/* ended: nothing more to end */
	COMPLETE(img, 0, tid, 0);
	TL_EQ(g_b.count, 0);
}

/* A target wholly in sync already (a reorder, a smaller set) ends in
 * the one record. */
static void test_reassign_at_once(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t tid = create(img, "s", 1, 3, 0)->id;
	const struct sl_ci_partition *x = part(img, tid, 0);
	expect_replicas(x, 3, 1, 2, 3);
	TL_EQ(x->leader, 1);
	static const int32_t t312[] = { 3, 1, 2 }, t23[] = { 2, 3 },
			     t3[] = { 3 };
	uint32_t rt;
	int32_t rp;
	struct sl_ci_partition rec;
	/* a reorder keeps the factor, so it passes without the change
	 * allowed; the leader is in the target and stays */
	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, t312, 3, 0, &g_b, g_msg,
			     sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	expect_replicas(&rec, 3, 3, 1, 2);
	expect_isr(&rec, 3, 3, 1, 2);
	TL_EQ(rec.adding | rec.removing, 0);
	TL_EQ(rec.leader, 1);
	TL_EQ(rec.leader_epoch, 0);
	TL_EQ(rec.partition_epoch, 1);
	apply_ok(img);
	/* a smaller set without the leader: the first of the target leads */
	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, t23, 2, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	expect_replicas(&rec, 2, 2, 3);
	expect_isr(&rec, 2, 2, 3);
	TL_EQ(rec.adding | rec.removing, 0);
	TL_EQ(rec.leader, 2);
	TL_EQ(rec.leader_epoch, 1);
	TL_EQ(rec.partition_epoch, 2);
	apply_ok(img);
	TL_TRUE(!memcmp(part(img, tid, 0), &rec, sizeof(rec)));
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICATION_FACTOR, tid, 0, t3, 1, 0);
	REASSIGN(img, 0, tid, 0, t3, 1, 1);
	TL_EQ(g_b.count, 1);
	x = part(img, tid, 0);
	expect_replicas(x, 1, 3);
	expect_isr(x, 1, 3);
	TL_EQ(x->leader, 3);
	TL_EQ(x->leader_epoch, 2);
	TL_EQ(x->partition_epoch, 3);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
}

/* Cancel: back to the original replicas, the in-sync ones among them;
 * refused when none runs or none of them is in sync. */
static void test_reassign_cancel(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 4; id++)
		add_broker(img, id, 1);
	uint32_t tid = create_on(img, "c", 1);
	static const int32_t t23[] = { 2, 3 }, t4[] = { 4 },
			     s12[] = { 1, 2 };
	REASSIGN(img, SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS, tid, 0, NULL, -1,
		 1);
	REASSIGN(img, 0, tid, 0, t23, 2, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s12, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	uint32_t rt;
	int32_t rp;
	struct sl_ci_partition rec;
	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, NULL, -1, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	TL_EQ(rt, tid);
	TL_EQ(rp, 0);
	expect_replicas(&rec, 1, 1);
	expect_isr(&rec, 1, 1);
	TL_EQ(rec.adding | rec.removing, 0);
	TL_EQ(rec.leader, 1);
	TL_EQ(rec.leader_epoch, 0);
	TL_EQ(rec.partition_epoch, 3);
	apply_ok(img);
	TL_TRUE(!memcmp(part(img, tid, 0), &rec, sizeof(rec)));
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	REASSIGN(img, SL_CI_ERR_NO_REASSIGNMENT_IN_PROGRESS, tid, 0, NULL, -1,
		 1);

	/* again; 2 joins, then 1 is fenced: 2 (an adding replica) leads
	 * and 1, the original, is out of sync */
	REASSIGN(img, 0, tid, 0, t23, 2, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 4, s12, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	expect_isr(x, 1, 2);
	/* a cancel, or a target without 2, would leave no in-sync replica */
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, tid, 0, NULL, -1,
		 1);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, tid, 0, t4, 1, 1);
	/* 1 back and in sync: the cancel passes, and the leader, an adding
	 * replica, gives way to 1 */
	DECIDE(img, 0, sl_ci_unfence_broker(img, 1, &g_b, g_msg,
					    sizeof(g_msg)));
	static const int32_t s21[] = { 2, 1 };
	x = part(img, tid, 0);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 2, x->leader_epoch,
				       x->partition_epoch, s21, 2, &g_b, g_msg,
				       sizeof(g_msg)));
	int32_t pe = part(img, tid, 0)->partition_epoch;
	REASSIGN(img, 0, tid, 0, NULL, -1, 1);
	x = part(img, tid, 0);
	expect_replicas(x, 1, 1);
	expect_isr(x, 1, 1);
	TL_EQ(x->adding | x->removing, 0);
	TL_EQ(x->leader, 1);
	TL_EQ(x->leader_epoch, 2);
	TL_EQ(x->partition_epoch, pe + 1);
}

/* A new target replaces the running one: its adding replicas that the
 * new target lacks leave at once, a leader among them too. */
static void test_reassign_replace(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 5; id++)
		add_broker(img, id, 1);
	uint32_t tid = create_on(img, "r", 1);
	static const int32_t t23[] = { 2, 3 }, t24[] = { 2, 4 },
			     t45[] = { 4, 5 }, t1[] = { 1 }, s12[] = { 1, 2 },
			     s24[] = { 2, 4 };
	REASSIGN(img, 0, tid, 0, t23, 2, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s12, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	uint32_t rt;
	int32_t rp;
	struct sl_ci_partition rec;
	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, t24, 2, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	expect_replicas(&rec, 3, 2, 4, 1); /* 3 gone */
	TL_EQ(rec.adding, 0x3);
	TL_EQ(rec.removing, 0x4);
	expect_isr(&rec, 2, 2, 1);
	TL_EQ(rec.leader, 1);
	TL_EQ(rec.leader_epoch, 0);
	TL_EQ(rec.partition_epoch, 3);
	apply_ok(img);
	/* 1 fenced: 2 leads; it takes 4 in */
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg,
					  sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, tid, 0);
	TL_EQ(x->leader, 2);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 2, x->leader_epoch,
				       x->partition_epoch, s24, 2, &g_b, g_msg,
				       sizeof(g_msg)));
	x = part(img, tid, 0);
	expect_isr(x, 2, 2, 4);
	int32_t le = x->leader_epoch, pe = x->partition_epoch;
	/* -> [4,5]: 2, leading, leaves; 4 (in sync, live) leads */
	batch();
	TL_OK(sl_ci_reassign(img, tid, 0, t45, 2, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	read_reassign(&rt, &rp, &rec);
	expect_replicas(&rec, 3, 4, 5, 1);
	TL_EQ(rec.adding, 0x3);
	TL_EQ(rec.removing, 0x4);
	expect_isr(&rec, 1, 4);
	TL_EQ(rec.leader, 4);
	TL_EQ(rec.leader_epoch, le + 1);
	TL_EQ(rec.partition_epoch, pe + 1);
	apply_ok(img);
	/* back to [1] alone: 1 is out of sync, 4 would leave: refused */
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, tid, 0, t1, 1, 1);
	TL_EQ(part(img, tid, 0)->partition_epoch, pe + 1);
}

/* UnregisterBroker: refused for an unknown, a live broker and one that
 * is a replica; a fenced broker without partitions goes (and a record
 * made stale by a reassignment onto it is refused at apply). */
static void test_unregister(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t one = create_on(img, "one", 1);
	DECIDE(img, SL_CI_ERR_BROKER_ID_NOT_REGISTERED,
	       sl_ci_unregister_broker(img, 9, &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_unregister_broker(img, 3, &g_b, g_msg, sizeof(g_msg)));
	TL_TRUE(strstr(g_msg, "live") != NULL);
	DECIDE(img, 0, sl_ci_fence_broker(img, 1, &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, SN_ERR_INVALID_REQUEST,
	       sl_ci_unregister_broker(img, 1, &g_b, g_msg, sizeof(g_msg)));
	TL_TRUE(strstr(g_msg, "one-0") != NULL);
	/* broker 3 fenced: its record, then (before it applies) the
	 * partition moved onto it: the record is stale and refused */
	DECIDE(img, 0, sl_ci_fence_broker(img, 3, &g_b, g_msg, sizeof(g_msg)));
	batch();
	TL_OK(sl_ci_unregister_broker(img, 3, &g_b, g_msg, sizeof(g_msg)));
	uint8_t stale[64];
	size_t stale_len = g_b.len;
	TL_TRUE(stale_len <= sizeof(stale));
	memcpy(stale, g_b.buf, stale_len);
	static const int32_t t13[] = { 1, 3 };
	DECIDE(img, 0, sl_ci_reassign(img, one, 0, t13, 2, 1, &g_b, g_msg,
				      sizeof(g_msg)));
	apply_bytes(img, stale, stale_len, -EINVAL);
	TL_TRUE(strstr(g_err, "replica") != NULL);
	TL_TRUE(sl_ci_broker_find(img, 3) != NULL);
	/* broker 2 fenced and on no partition: gone */
	DECIDE(img, 0, sl_ci_fence_broker(img, 2, &g_b, g_msg, sizeof(g_msg)));
	DECIDE(img, 0, sl_ci_unregister_broker(img, 2, &g_b, g_msg,
					       sizeof(g_msg)));
	TL_TRUE(sl_ci_broker_find(img, 2) == NULL);
	TL_EQ(img->broker_count, 2);
	DECIDE(img, SL_CI_ERR_BROKER_ID_NOT_REGISTERED,
	       sl_ci_unregister_broker(img, 2, &g_b, g_msg, sizeof(g_msg)));
	/* it heartbeats again: it registers anew */
	add_broker(img, 2, 1);
	TL_EQ(img->broker_count, 3);
}

static void test_reassign_errors(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 9; id++)
		add_broker(img, id, 1);
	add_broker(img, 10, 0);
	static const int32_t l1234[] = { 1, 2, 3, 4 };
	const int32_t *lists[] = { l1234 };
	const int32_t n4[] = { 4 };
	uint32_t four = create_assigned(img, "four", 1, lists, n4);
	uint32_t one = create_on(img, "one", 1);
	static const int32_t t22[] = { 2, 2 }, t177[] = { 1, 77 },
			     t9[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 },
			     t56789[] = { 5, 6, 7, 8, 9 },
			     t5678[] = { 5, 6, 7, 8 }, t23[] = { 2, 3 },
			     t2[] = { 2 }, t10[] = { 10, 1 };
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, one, 0, t2, 0, 1);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, one, 0, t22, 2, 1);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, one, 0, t177, 2,
		 1);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, one, 0, t9, 9, 1);
	/* the target and the original together pass 8 */
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT, four, 0, t56789,
		 5, 1);
	REASSIGN(img, SL_CI_ERR_INVALID_REPLICATION_FACTOR, one, 0, t23, 2, 0);
	REASSIGN(img, SL_CI_ERR_UNKNOWN_TOPIC_ID, 99, 0, t2, 1, 1);
	REASSIGN(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, one, 1, t2, 1, 1);
	REASSIGN(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, one, -1, t2, 1, 1);
	REASSIGN(img, SL_CI_ERR_UNKNOWN_TOPIC_ID, 99, 0, NULL, -1, 1);
	COMPLETE(img, SL_CI_ERR_UNKNOWN_TOPIC_ID, 99, 0);
	COMPLETE(img, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, one, 1);
	/* exactly 8 together is fine */
	REASSIGN(img, 0, four, 0, t5678, 4, 0);
	const struct sl_ci_partition *x = part(img, four, 0);
	expect_replicas(x, 8, 5, 6, 7, 8, 1, 2, 3, 4);
	TL_EQ(x->adding, 0x0f);
	TL_EQ(x->removing, 0xf0);
	/* a registered broker may be a target though fenced */
	REASSIGN(img, 0, one, 0, t10, 2, 1);
	x = part(img, one, 0);
	expect_replicas(x, 2, 10, 1);
	TL_EQ(x->adding, 0x1);
	TL_EQ(x->removing, 0);
	/* a batch too small leaves it as it was */
	TL_OK(sl_ci_batch_init(&g_b, g_buf, 20));
	TL_EQ(sl_ci_reassign(img, one, 0, NULL, -1, 1, &g_b, g_msg,
			     sizeof(g_msg)), -ENOBUFS);
	TL_EQ(g_b.len, 3);
	TL_EQ(g_b.count, 0);
}

/* The topic's factor is partition 0's once its reassignment ends, and
 * new partitions get it. */
static void test_reassign_replication_factor(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	static const int32_t l1[] = { 1 }, l2[] = { 2 };
	const int32_t *lists[] = { l1, l2 };
	const int32_t n[] = { 1, 1 };
	uint32_t tid = create_assigned(img, "g", 2, lists, n);
	static const int32_t t12[] = { 1, 2 }, t23[] = { 2, 3 },
			     s21[] = { 2, 1 }, s123[] = { 1, 2, 3 };
	/* partition 1 grows: the factor stays */
	REASSIGN(img, 0, tid, 1, t12, 2, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 1, 2, 0, 1, s21, 2, &g_b,
				       g_msg, sizeof(g_msg)));
	COMPLETE(img, 0, tid, 1);
	TL_EQ(g_b.count, 1);
	expect_replicas(part(img, tid, 1), 2, 1, 2);
	TL_EQ(part(img, tid, 1)->leader, 2);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	/* partition 0 grows: the factor follows when it ends */
	REASSIGN(img, 0, tid, 0, t23, 2, 1);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	DECIDE(img, 0, sl_ci_alter_isr(img, tid, 0, 1, 0, 1, s123, 3, &g_b,
				       g_msg, sizeof(g_msg)));
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	/* CreatePartitions decided now (factor 1), applied after the end */
	static uint8_t early[256];
	batch();
	TL_OK(sl_ci_create_partitions(img, "g", 1, 3, NULL, 0, 0, 0, &g_b,
				      g_msg, sizeof(g_msg)));
	TL_TRUE(g_b.len <= sizeof(early));
	size_t early_len = g_b.len;
	memcpy(early, g_b.buf, early_len);
	COMPLETE(img, 0, tid, 0);
	TL_EQ(g_b.count, 1);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	TL_EQ(sl_meta_find_id(&img->meta, tid)->replication_factor, 2);
	apply_bytes(img, early, early_len, 0);
	TL_EQ(part(img, tid, 2)->replica_count, 1);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	/* decided now: two replicas each */
	DECIDE(img, 0, sl_ci_create_partitions(img, "g", 1, 4, NULL, 0, 0, 0,
					       &g_b, g_msg, sizeof(g_msg)));
	const struct sl_ci_partition *x = part(img, tid, 3);
	TL_EQ(x->replica_count, 2);
	expect_isr(x, 2, x->replicas[0], x->replicas[1]);
	struct sl_ci_assignment one[] = { { 0, 1, l1 } };
	DECIDE(img, SL_CI_ERR_INVALID_REPLICA_ASSIGNMENT,
	       sl_ci_create_partitions(img, "g", 1, 5, one, 1, 0, 0, &g_b,
				       g_msg, sizeof(g_msg)));
	struct sl_ci_assignment two[] = { { 0, 2, t12 } };
	DECIDE(img, 0, sl_ci_create_partitions(img, "g", 1, 5, two, 1, 0, 0,
					       &g_b, g_msg, sizeof(g_msg)));
	expect_replicas(part(img, tid, 4), 2, 1, 2);
}

static void h_reassign(struct hw *h, uint32_t tid, int32_t p, int32_t leader,
		       int32_t le, int32_t pe, const int32_t *r, unsigned rc,
		       uint8_t adding, uint8_t removing, const int32_t *isr,
		       unsigned k)
{
	hrec(h, SL_CI_PARTITION_REASSIGN);
	h32(h, tid);
	h32(h, (uint32_t)p);
	h32(h, (uint32_t)leader);
	h32(h, (uint32_t)le);
	h32(h, (uint32_t)pe);
	h8(h, (uint8_t)rc);
	for (unsigned i = 0; i < rc; i++)
		h32(h, (uint32_t)r[i]);
	h8(h, adding);
	h8(h, removing);
	h8(h, (uint8_t)k);
	for (unsigned i = 0; i < k; i++)
		h32(h, (uint32_t)isr[i]);
	hend(h);
}

/* PARTITION_REASSIGN written here from the format's description; every
 * malformed or invalid one refused. */
static void test_reassign_by_hand(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t tid = create_on(img, "h", 1);
	static struct hw h;
	static const int32_t r21[] = { 2, 1 }, r91[] = { 9, 1 },
			     r11[] = { 1, 1 }, r1[] = { 1 }, r23[] = { 2, 3 },
			     i1[] = { 1 }, i2[] = { 2 }, i12[] = { 1, 2 },
			     i21[] = { 2, 1 }, i23[] = { 2, 3 };
	hw_begin(&h);
	h_reassign(&h, tid, 0, 1, 0, 1, r21, 2, 0x1, 0x2, i1, 1);
	apply_bytes(img, h.b, h.n, 0);
	const struct sl_ci_partition *x = part(img, tid, 0);
	expect_replicas(x, 2, 2, 1);
	TL_EQ(x->adding, 0x1);
	TL_EQ(x->removing, 0x2);
	expect_isr(x, 1, 1);
	TL_EQ(x->leader, 1);
	TL_EQ(x->partition_epoch, 1);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);

	/* each refused against partition epoch 1 */
	struct {
		int32_t leader, le, pe;
		const int32_t *r;
		unsigned rc;
		uint8_t adding, removing;
		const int32_t *isr;
		unsigned k;
		const char *what;
	} bad[] = {
		{ 1, 0, 2, r21, 2, 0x1, 0x1, i1, 1, "masks overlap" },
		{ 1, 0, 2, r21, 2, 0x4, 0x0, i1, 1, "adding past replicas" },
		{ 1, 0, 2, r21, 2, 0x1, 0x4, i1, 1, "removing past replicas" },
		{ 1, 0, 2, r21, 2, 0x3, 0x0, i1, 1, "adding all" },
		{ 1, 0, 2, r21, 2, 0x0, 0x3, i1, 1, "removing all" },
		{ 1, 0, 2, r21, 2, 0x1, 0x2, i12, 2, "isr out of order" },
		{ 1, 0, 2, r91, 2, 0x1, 0x2, i1, 1, "unknown broker" },
		{ 1, 0, 1, r21, 2, 0x1, 0x2, i1, 1, "stale partition epoch" },
		{ 1, 0, 3, r21, 2, 0x1, 0x2, i1, 1, "partition epoch + 2" },
		{ 2, 0, 2, r21, 2, 0x1, 0x2, i21, 2, "new leader, same epoch" },
		{ 2, 1, 2, r21, 2, 0x1, 0x2, i1, 1, "leader not in sync" },
		{ 1, 0, 2, r11, 2, 0x1, 0x2, i1, 1, "replica twice" },
		{ 1, 0, 2, r1, 1, 0x0, 0x0, i12, 2, "more in sync than there" },
		{ 1, 0, 2, r21, 0, 0x0, 0x0, i1, 1, "no replicas" },
		{ 1, -1, 2, r21, 2, 0x1, 0x2, i1, 1, "negative leader epoch" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hw_begin(&h);
		h_reassign(&h, tid, 0, bad[i].leader, bad[i].le, bad[i].pe,
			   bad[i].r, bad[i].rc, bad[i].adding, bad[i].removing,
			   bad[i].isr, bad[i].k);
		sl_ci_copy(g_tmp, img);
		int rc = sl_ci_apply(img, img->applied_index + 1, h.b, h.n,
				     g_err, sizeof(g_err));
		if (rc != -EINVAL)
			fail_msg("'%s' applied", bad[i].what);
		g_tmp->applied_index = img->applied_index;
		expect_same(g_tmp, img);
	}
	/* nine replicas; no topic 9; no partition 1; cut short; longer */
	hw_begin(&h);
	hrec(&h, SL_CI_PARTITION_REASSIGN);
	h32(&h, tid);
	h32(&h, 0);
	h32(&h, 1);
	h32(&h, 0);
	h32(&h, 2);
	h8(&h, 9);
	for (int32_t id = 1; id <= 9; id++)
		h32(&h, (uint32_t)id);
	h8(&h, 0);
	h8(&h, 0);
	h8(&h, 1);
	h32(&h, 1);
	hend(&h);
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_reassign(&h, 9, 0, 1, 0, 2, r21, 2, 0x1, 0x2, i1, 1);
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_reassign(&h, tid, 1, 1, 0, 2, r21, 2, 0x1, 0x2, i1, 1);
	apply_bytes(img, h.b, h.n, -EINVAL);
	hw_begin(&h);
	h_reassign(&h, tid, 0, 1, 0, 2, r21, 2, 0x1, 0x2, i1, 1);
	for (size_t cut = 8; cut < h.n; cut++) {
		rb_put32(h.b + 4, (uint32_t)(cut - 8));
		apply_bytes(img, h.b, cut, -EINVAL);
	}
	rb_put32(h.b + 4, (uint32_t)(h.n - 8 + 1));
	h.b[h.n] = 0;
	apply_bytes(img, h.b, h.n + 1, -EINVAL);
	TL_EQ(part(img, tid, 0)->partition_epoch, 1);

	/* it ends by hand: [2,3], masks 0, 2 leads; partition 0's count
	 * becomes the topic's factor */
	hw_begin(&h);
	h_reassign(&h, tid, 0, 2, 1, 2, r23, 2, 0, 0, i23, 2);
	apply_bytes(img, h.b, h.n, 0);
	x = part(img, tid, 0);
	expect_replicas(x, 2, 2, 3);
	TL_EQ(x->adding | x->removing, 0);
	TL_EQ(x->leader, 2);
	TL_EQ(x->leader_epoch, 1);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	/* a CREATE_PARTITIONS whose factor is not the topic's (decided
	 * before the change) applies */
	hw_begin(&h);
	hrec(&h, SL_CI_CREATE_PARTITIONS);
	h32(&h, tid);
	h32(&h, 1);
	h16(&h, 1);
	h8(&h, 1);
	h_assign(&h, i2, 1, 2, 1);
	hend(&h);
	apply_bytes(img, h.b, h.n, 0);
	expect_replicas(part(img, tid, 1), 1, 2);
	/* a partition other than 0 leaves the factor alone */
	hw_begin(&h);
	h_reassign(&h, tid, 1, 2, 0, 1, r23, 2, 0, 0, i2, 1);
	apply_bytes(img, h.b, h.n, 0);
	expect_replicas(part(img, tid, 1), 2, 2, 3);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	/* and so does partition 0 while a reassignment runs */
	hw_begin(&h);
	h_reassign(&h, tid, 0, 2, 1, 3, r21, 2, 0x2, 0x0, i2, 1);
	apply_bytes(img, h.b, h.n, 0);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
	hw_begin(&h);
	h_reassign(&h, tid, 0, 3, 1, 4, r23 + 1, 1, 0, 0, r23 + 1, 1);
	apply_bytes(img, h.b, h.n, -EINVAL); /* 3 leads, same epoch */
	hw_begin(&h);
	h_reassign(&h, tid, 0, 3, 2, 4, r23 + 1, 1, 0, 0, r23 + 1, 1);
	h_reassign(&h, tid, 0, 3, 2, 4, r23 + 1, 1, 0, 0, r23 + 1, 1);
	apply_bytes(img, h.b, h.n, -EINVAL); /* two records at epoch 4 */
	hw_begin(&h);
	h_reassign(&h, tid, 0, 3, 2, 4, r23 + 1, 1, 0, 0, r23 + 1, 1);
	apply_bytes(img, h.b, h.n, 0);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	TL_EQ(sl_meta_find_id(&img->meta, tid)->replication_factor, 1);

	/* all or nothing: a change of partition 1, partition 0 ending with
	 * two replicas (the factor 2), then a bad record; apply_bytes
	 * checks that the image, factor included, is as it was */
	static const int32_t r13[] = { 1, 3 }, i3[] = { 3 };
	hw_begin(&h);
	h_change(&h, tid, 1, 2, 0, 2, i2, 1);
	h_reassign(&h, tid, 0, 3, 2, 5, r13, 2, 0, 0, i3, 1);
	h_broker(&h, SL_CI_FENCE_BROKER, 9);
	apply_bytes(img, h.b, h.n, -EINVAL);
	TL_TRUE(strstr(g_err, "record 2") != NULL); /* from 0 */
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 1);
	TL_EQ(sl_meta_find_id(&img->meta, tid)->replication_factor, 1);
	/* without it, the entry applies */
	h.n -= 1 + 4 + 4;
	h.count--;
	rb_put16(h.b + 1, h.count);
	apply_bytes(img, h.b, h.n, 0);
	expect_replicas(part(img, tid, 0), 2, 1, 3);
	TL_EQ(part(img, tid, 1)->partition_epoch, 2);
	TL_EQ(sl_ci_topic_find_id(img, tid)->replication_factor, 2);
}

/* A snapshot of an image with reassignments running round trips, and
 * damage to a partition's count or masks is refused. */
static void test_reassign_snapshot(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	populate(img);
	const struct sl_ci_topic *t = sl_ci_topic_find(img, "one", 3);
	uint32_t one = t->id, two = sl_ci_topic_find(img, "two", 3)->id;
	static const int32_t t41[] = { 4, 1 }, t4[] = { 4 };
	/* 4 is fenced: never in sync, so these stay running */
	REASSIGN(img, 0, one, 1, t41, 2, 1);
	REASSIGN(img, 0, two, 0, t4, 1, 1);
	const struct sl_ci_partition *x = part(img, one, 1);
	TL_TRUE(x->adding && x->removing && x->replica_count == 4);
	TL_TRUE(part(img, two, 0)->adding == 0x1);
	size_t n = sl_ci_snapshot_bytes(img);
	TL_EQ(sl_ci_snapshot_encode(img, g_snap1, n), (long)n);
	TL_EQ(rb_be16(g_snap1 + 4), 3);
	struct sl_ci_image *back = img_alloc();
	TL_OK(sl_ci_snapshot_decode(back, g_snap1, n, g_err, sizeof(g_err)));
	check(back);
	expect_same(img, back);
	sl_ci_copy(g_tmp, img);
	TL_TRUE(!memcmp(g_tmp->parts, back->parts,
			sizeof(back->parts[0]) * back->part_count));
	TL_EQ(sl_ci_snapshot_encode(back, g_snap2, n), (long)n);
	TL_TRUE(!memcmp(g_snap1, g_snap2, n));
	/* the restored image decides as the original does */
	uint8_t *e2 = malloc(1 << 16);
	struct sl_ci_batch b2;
	batch();
	TL_OK(sl_ci_reassign(img, one, 1, NULL, -1, 1, &g_b, g_msg,
			     sizeof(g_msg)));
	TL_OK(sl_ci_batch_init(&b2, e2, 1 << 16));
	TL_OK(sl_ci_reassign(back, one, 1, NULL, -1, 1, &b2, g_msg,
			     sizeof(g_msg)));
	TL_EQ(g_b.len, b2.len);
	TL_TRUE(!memcmp(g_b.buf, e2, b2.len));
	free(e2);

	/* one's partition 1, found by walking the snapshot's layout */
	size_t at = 48;
	for (uint32_t i = 0; i < img->broker_count; i++)
		at += 24 + img->brokers[i].host_len;
	at += 6 + 3 + 64 + 5; /* topic "one", to its partition 0 */
	const struct sl_ci_partition *p0 = part(img, one, 0);
	TL_EQ(g_snap1[at], p0->replica_count);
	at += 1 + 4u * p0->replica_count + 2 + 12 + 1 + 4u * p0->isr_count;
	TL_EQ(g_snap1[at], 4);
	size_t masks = at + 1 + 16;
	TL_EQ(g_snap1[masks], x->adding);
	TL_EQ(g_snap1[masks + 1], x->removing);
	struct {
		size_t at;
		uint8_t v;
		const char *what;
	} dmg[] = {
		{ masks, 0x0f, "adding every replica" },
		{ masks + 1, x->adding, "masks overlap" },
		{ masks, 0x10, "a mask bit past the replicas" },
		{ masks + 1, 0x80, "a mask bit past the replicas" },
		{ at, 9, "nine replicas" },
	};
	struct sl_ci_image *keep = img_alloc();
	sl_ci_copy(keep, back);
	for (size_t i = 0; i < sizeof(dmg) / sizeof(dmg[0]); i++) {
		memcpy(g_snap2, g_snap1, n);
		g_snap2[dmg[i].at] = dmg[i].v;
		rb_put32(g_snap2 + n - 4, rb_crc32c(g_snap2, n - 4));
		if (sl_ci_snapshot_decode(back, g_snap2, n, g_err,
					  sizeof(g_err)) != -EINVAL)
			fail_msg("damage '%s' accepted", dmg[i].what);
		expect_same(keep, back);
	}
	/* version 2 bytes called version 1: refused (the layout differs) */
	memcpy(g_snap2, g_snap1, n);
	rb_put16(g_snap2 + 4, 1);
	rb_put32(g_snap2 + n - 4, rb_crc32c(g_snap2, n - 4));
	TL_EQ(sl_ci_snapshot_decode(back, g_snap2, n, g_err, sizeof(g_err)),
	      -EINVAL);
	expect_same(keep, back);
	free(keep);
	free(back);
}

/* The config block of topic t, as the format writes it. */
static void h_config_of(struct hw *h, const struct sl_topic *mt,
			const struct sl_ci_topic *t)
{
	uint64_t bits;
	memcpy(&bits, &mt->min_cleanable_dirty_ratio, sizeof(bits));
	h8(h, mt->durability);
	h8(h, mt->cleanup_policy);
	h8(h, t->unclean_leader_election);
	h8(h, 0);
	h32(h, (uint32_t)t->min_insync_replicas);
	h64(h, (uint64_t)mt->retention_ms);
	h64(h, (uint64_t)mt->retention_bytes);
	h64(h, (uint64_t)mt->segment_bytes);
	h64(h, bits);
	h64(h, (uint64_t)mt->min_compaction_lag_ms);
	h64(h, (uint64_t)mt->max_compaction_lag_ms);
	h64(h, (uint64_t)mt->delete_retention_ms);
}

/* img (no reassignment running) as a version 1 snapshot, written here
 * from the format's description: partitions without a replica count
 * (the topic's factor) and without masks. */
static size_t snapshot_v1(const struct sl_ci_image *img, struct hw *h)
{
	h->n = 0;
	h32(h, 0x534C4349u);
	h16(h, 1);
	h16(h, 48);
	h32(h, 0); /* length, below */
	h32(h, img->meta.next_id);
	h64(h, img->applied_index);
	h32(h, img->broker_count);
	h32(h, img->meta.count);
	h32(h, img->meta.tomb_count);
	h32(h, img->part_count);
	h64(h, 0);
	for (uint32_t i = 0; i < img->broker_count; i++) {
		const struct sl_ci_broker *b = &img->brokers[i];
		h32(h, (uint32_t)b->id);
		h64(h, b->incarnation);
		h16(h, b->kafka_port);
		h16(h, b->native_port);
		h8(h, (uint8_t)(b->fenced | b->registered << 1));
		h8(h, b->host_len);
		memcpy(h->b + h->n, b->host, b->host_len);
		h->n += b->host_len;
	}
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_topic *mt = &img->meta.topics[i];
		const struct sl_ci_topic *t = &img->topics[i];
		h32(h, mt->id);
		h16(h, mt->name_len);
		memcpy(h->b + h->n, mt->name, mt->name_len);
		h->n += mt->name_len;
		h_config_of(h, mt, t);
		h32(h, (uint32_t)t->partitions);
		h8(h, t->replication_factor);
		for (int32_t p = 0; p < t->partitions; p++) {
			const struct sl_ci_partition *x =
				&img->parts[t->part_first + (uint32_t)p];
			TL_EQ(x->replica_count, t->replication_factor);
			TL_EQ(x->adding | x->removing, 0);
			for (unsigned j = 0; j < x->replica_count; j++)
				h32(h, (uint32_t)x->replicas[j]);
			h32(h, (uint32_t)x->leader);
			h32(h, (uint32_t)x->leader_epoch);
			h32(h, (uint32_t)x->partition_epoch);
			h8(h, x->isr_count);
			for (unsigned j = 0; j < x->isr_count; j++)
				h32(h, (uint32_t)x->isr[j]);
		}
	}
	for (uint32_t i = 0; i < img->meta.tomb_count; i++) {
		const struct sl_tombstone *t = &img->meta.tombs[i];
		h32(h, t->id);
		h16(h, t->name_len);
		memcpy(h->b + h->n, t->name, t->name_len);
		h->n += t->name_len;
	}
	rb_put32(h->b + 8, (uint32_t)(h->n + 4));
	h32(h, rb_crc32c(h->b, h->n));
	return h->n;
}

/* A snapshot written before reassignment (version 1) still decodes:
 * each partition's replicas are its topic's factor, no masks. */
static void test_snapshot_v1(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	populate(img);
	static struct hw h;
	size_t n = snapshot_v1(img, &h);
	struct sl_ci_image *back = img_alloc();
	TL_OK(sl_ci_snapshot_decode(back, h.b, n, g_err, sizeof(g_err)));
	check(back);
	expect_same(img, back);
	const struct sl_ci_topic *t = sl_ci_topic_find(back, "one", 3);
	for (int32_t p = 0; p < t->partitions; p++) {
		const struct sl_ci_partition *x = part(back, t->id, p);
		TL_EQ(x->replica_count, 3);
		TL_EQ(x->adding | x->removing, 0);
	}
	/* re-encoded, it is version 3 and what the image encodes */
	long m = sl_ci_snapshot_encode(back, g_snap2, 8u << 20);
	TL_EQ(sl_ci_snapshot_encode(img, g_snap1, 8u << 20), m);
	TL_TRUE(!memcmp(g_snap1, g_snap2, (size_t)m));
	TL_EQ(rb_be16(g_snap2 + 4), 3);
	/* each partition's replica count and masks, each broker's UDP
	 * endpoint (read as its native port, at its host) */
	TL_EQ((size_t)m, n + 3u * img->part_count + 6u * img->broker_count);
	for (uint32_t i = 0; i < back->broker_count; i++) {
		TL_EQ(back->brokers[i].udp_port, back->brokers[i].native_port);
		TL_EQ(back->brokers[i].udp_addr, 0);
	}
	/* version 1 bytes called version 2: refused */
	sl_ci_init(back);
	rb_put16(h.b + 4, 2);
	rb_put32(h.b + n - 4, rb_crc32c(h.b, n - 4));
	TL_EQ(sl_ci_snapshot_decode(back, h.b, n, g_err, sizeof(g_err)),
	      -EINVAL);
	TL_EQ(back->meta.count, 0);
	free(back);
}

/* Replicas and masks may change only with a new partition epoch; the
 * masks' rules hold in sl_ci_check. */
static void test_reassign_check(void **state)
{
	(void)state;
	struct sl_ci_image *img = fresh();
	for (int32_t id = 1; id <= 3; id++)
		add_broker(img, id, 1);
	uint32_t tid = create(img, "k", 2, 2, 0)->id;
	struct sl_ci_image *after = img_alloc();
	char err[512];
	struct sl_ci_partition *x;
	uint32_t at = sl_ci_topic_find_id(img, tid)->part_first + 1;
	expect_replicas(&img->parts[at], 2, 2, 3);

	/* a real reorder passes both checks (apply_ok runs them) */
	static const int32_t t32[] = { 3, 2 };
	REASSIGN(img, 0, tid, 1, t32, 2, 0);
	expect_replicas(&img->parts[at], 2, 3, 2);

	/* replicas reordered */
	sl_ci_copy(after, img);
	x = &after->parts[at];
	x->replicas[0] = 2;
	x->replicas[1] = 3;
	TL_EQ(sl_ci_check_step(img, after, err, sizeof(err)), -1);
	x->partition_epoch++;
	TL_OK(sl_ci_check_step(img, after, err, sizeof(err)));
	/* one more replica */
	sl_ci_copy(after, img);
	x = &after->parts[at];
	x->replicas[x->replica_count++] = 1;
	TL_OK(sl_ci_check(after, err, sizeof(err)));
	TL_EQ(sl_ci_check_step(img, after, err, sizeof(err)), -1);
	x->partition_epoch++;
	TL_OK(sl_ci_check_step(img, after, err, sizeof(err)));
	/* one more, being removed */
	x->removing = 0x4;
	TL_OK(sl_ci_check(after, err, sizeof(err)));
	TL_OK(sl_ci_check_step(img, after, err, sizeof(err)));
	sl_ci_copy(img, after);
	/* only the masks change */
	x->removing = 0;
	x->adding = 0x4;
	TL_OK(sl_ci_check(after, err, sizeof(err)));
	TL_EQ(sl_ci_check_step(img, after, err, sizeof(err)), -1);
	x->partition_epoch++;
	TL_OK(sl_ci_check_step(img, after, err, sizeof(err)));

	/* masks against the rules (three replicas) */
	struct {
		uint8_t adding, removing;
	} bad[] = { { 0x1, 0x1 }, { 0x8, 0 }, { 0, 0x10 }, { 0x7, 0 },
		    { 0, 0x7 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sl_ci_copy(after, img);
		x = &after->parts[at];
		TL_EQ(x->replica_count, 3);
		x->adding = bad[i].adding;
		x->removing = bad[i].removing;
		if (!sl_ci_check(after, err, sizeof(err)))
			fail_msg("masks %#x/%#x pass", bad[i].adding,
				 bad[i].removing);
	}
	free(after);
}

/* ---- the random run ---- */

struct run {
	struct tl_rng rng;
	struct sl_ci_image *a;
	uint8_t *entries; /* every accepted entry, length-prefixed */
	size_t used, cap;
	uint32_t count;
	uint64_t *index; /* of each */
};

/* How many records of this type the batch g_b holds. */
static uint32_t records_of(uint8_t type)
{
	uint32_t n = 0;
	size_t off = 3;
	for (uint32_t i = 0; i < g_b.count; i++) {
		n += g_b.buf[off] == type;
		off += 5 + rb_be32(g_b.buf + off + 1);
	}
	TL_EQ(off, g_b.len);
	return n;
}

/* One random decision on r->a into g_b; 1 when it made an entry. */
static int random_decision(struct run *r)
{
	struct sl_ci_image *img = r->a;
	struct tl_rng *g = &r->rng;
	int32_t id = (int32_t)tl_rng_range(g, 1, 7);
	int rc = 1; /* nothing decided */
	batch();
	switch (tl_rng_below(g, 12)) {
	case 0: {
		char host[16];
		int n = snprintf(host, sizeof(host), "h%d", (int)id);
		rc = sl_ci_register_broker(img, id, tl_rng_below(g, 3), host,
					   (size_t)n, 9092, 9093, &g_b, g_msg,
					   sizeof(g_msg));
		break;
	}
	case 1:
		rc = sl_ci_fence_broker(img, id, &g_b, g_msg, sizeof(g_msg));
		break;
	case 2:
	case 3:
		rc = sl_ci_unfence_broker(img, id, &g_b, g_msg,
					  sizeof(g_msg));
		break;
	case 4: {
		char name[16];
		snprintf(name, sizeof(name), "t%d", (int)tl_rng_below(g, 12));
		struct sl_ci_topic_req q = req_of(name,
			(int32_t)tl_rng_range(g, 1, 6),
			(int32_t)tl_rng_range(g, 1, 4));
		q.unclean_leader_election = (uint8_t)tl_rng_below(g, 2);
		q.start = (uint32_t)tl_rng_next(g);
		q.shift = (uint32_t)tl_rng_next(g);
		rc = sl_ci_create_topic(img, &q, &g_b, g_msg, sizeof(g_msg));
		break;
	}
	case 5: {
		if (!img->meta.count)
			break;
		const struct sl_topic *t =
			&img->meta.topics[tl_rng_below(g, img->meta.count)];
		if (tl_rng_below(g, 4) == 0)
			rc = sl_ci_delete_topic(img, t->name, t->name_len,
						&g_b, g_msg, sizeof(g_msg));
		else
			rc = sl_ci_create_partitions(
				img, t->name, t->name_len,
				t->partitions + (int32_t)tl_rng_range(g, 1, 3),
				NULL, 0, (uint32_t)tl_rng_next(g),
				(uint32_t)tl_rng_next(g), &g_b, g_msg,
				sizeof(g_msg));
		break;
	}
	case 6:
	case 7:
	case 8: {
		if (!img->part_count)
			break;
		uint32_t k = (uint32_t)tl_rng_below(g, img->meta.count);
		const struct sl_ci_topic *t = &img->topics[k];
		int32_t p = (int32_t)tl_rng_below(g, (uint64_t)t->partitions);
		const struct sl_ci_partition *x =
			&img->parts[t->part_first + (uint32_t)p];
		if (tl_rng_below(g, 4) == 0) {
			rc = sl_ci_elect_preferred(img, t->id, p, &g_b, g_msg,
						   sizeof(g_msg));
			break;
		}
		int32_t isr[SL_CI_RF_MAX];
		int32_t n = 0;
		for (unsigned j = 0; j < x->replica_count; j++)
			if (x->replicas[j] == x->leader ||
			    tl_rng_below(g, 2))
				isr[n++] = x->replicas[j];
		rc = sl_ci_alter_isr(img, t->id, p, x->leader,
				     x->leader_epoch, x->partition_epoch, isr,
				     n, &g_b, g_msg, sizeof(g_msg));
		break;
	}
	case 9: {
		if (!img->meta.count)
			break;
		const struct sl_topic *t =
			&img->meta.topics[tl_rng_below(g, img->meta.count)];
		struct sl_topic cfg = *t;
		cfg.retention_ms = (int64_t)tl_rng_below(g, 100000);
		rc = sl_ci_alter_topic_config(img, t->name, t->name_len, &cfg,
					      (int32_t)tl_rng_range(g, 1, 3),
					      (uint8_t)tl_rng_below(g, 2),
					      &g_b, g_msg, sizeof(g_msg));
		break;
	}
	case 10: {
		/* a reassignment: a new target of 1..4 of the ids, or a
		 * cancel */
		if (!img->part_count)
			break;
		const struct sl_ci_topic *t =
			&img->topics[tl_rng_below(g, img->meta.count)];
		int32_t p = (int32_t)tl_rng_below(g, (uint64_t)t->partitions);
		if (tl_rng_below(g, 4) == 0) {
			rc = sl_ci_reassign(img, t->id, p, NULL, -1, 1, &g_b,
					    g_msg, sizeof(g_msg));
			break;
		}
		int32_t target[4];
		int32_t n = (int32_t)tl_rng_range(g, 1, 4);
		for (int32_t j = 0; j < n; j++) {
			target[j] = (int32_t)tl_rng_range(g, 1, 7);
			for (int32_t i = 0; i < j; i++)
				if (target[i] == target[j]) {
					j--;
					break;
				}
		}
		rc = sl_ci_reassign(img, t->id, p, target, n,
				    (int)tl_rng_below(g, 2), &g_b, g_msg,
				    sizeof(g_msg));
		break;
	}
	case 11: {
		/* end a running reassignment, when one of the topic's
		 * partitions has one */
		if (!img->part_count)
			break;
		const struct sl_ci_topic *t =
			&img->topics[tl_rng_below(g, img->meta.count)];
		int32_t p = (int32_t)tl_rng_below(g, (uint64_t)t->partitions);
		for (int32_t j = 0; j < t->partitions; j++) {
			const struct sl_ci_partition *x =
				&img->parts[t->part_first + (uint32_t)j];
			if (x->adding || x->removing)
				p = j;
		}
		rc = sl_ci_reassign_complete(img, t->id, p, &g_b, g_msg,
					     sizeof(g_msg));
		break;
	}
	}
	TL_TRUE(rc >= 0);
	return rc == 0 && g_b.count > 0;
}

static void test_random_batchings(void **state)
{
	(void)state;
	uint64_t seed = tl_seed("cluster_image random_batchings");
	struct run r;
	memset(&r, 0, sizeof(r));
	tl_rng_init(&r.rng, seed);
	r.a = fresh();
	uint32_t steps = tl_long() ? 20000 : 3000;
	r.cap = 64u << 20;
	r.entries = malloc(r.cap);
	r.index = malloc(sizeof(r.index[0]) * steps);
	assert_non_null(r.entries);
	uint64_t index = 0;
	uint32_t moves = 0;
	for (uint32_t s = 0; s < steps; s++) {
		if (!random_decision(&r))
			continue;
		moves += records_of(SL_CI_PARTITION_REASSIGN);
		/* Raft indexes skip now and then (barriers) */
		index = r.a->applied_index + 1 + tl_rng_below(&r.rng, 2);
		char err[512];
		sl_ci_copy(g_before, r.a);
		if (sl_ci_apply(r.a, index, g_b.buf, g_b.len, err,
				sizeof(err)))
			fail_msg("seed %llu step %u: a decision's entry "
				 "refused: %s", (unsigned long long)seed, s,
				 err);
		check(r.a);
		if (sl_ci_check_step(g_before, r.a, err, sizeof(err)))
			fail_msg("seed %llu step %u: %s",
				 (unsigned long long)seed, s, err);
		TL_TRUE(r.used + 4 + g_b.len <= r.cap);
		rb_put32(r.entries + r.used, (uint32_t)g_b.len);
		memcpy(r.entries + r.used + 4, g_b.buf, g_b.len);
		r.used += 4 + g_b.len;
		r.index[r.count++] = index;
	}
	TL_TRUE(r.count > steps / 4);
	TL_TRUE(moves > 0);
	TL_TRUE(r.a->meta.count > 0 && r.a->broker_count > 0);

	/* b: the same entries in random batches; restarted from its own
	 * snapshot midway */
	struct sl_ci_image *b = img_alloc();
	uint8_t *big = malloc(SL_CI_ENTRY_MAX);
	size_t off = 0;
	uint32_t i = 0, restarted = 0;
	while (i < r.count) {
		uint32_t k = (uint32_t)tl_rng_range(&r.rng, 1, 6);
		size_t len = 3;
		uint32_t records = 0;
		big[0] = 1;
		for (uint32_t j = 0; j < k && i < r.count; j++, i++) {
			uint32_t n = rb_be32(r.entries + off);
			const uint8_t *e = r.entries + off + 4;
			if (len + n - 3 > SL_CI_ENTRY_MAX ||
			    records + rb_be16(e + 1) > SL_CI_RECORDS_MAX)
				break;
			memcpy(big + len, e + 3, n - 3);
			len += n - 3;
			records += rb_be16(e + 1);
			off += 4 + n;
		}
		rb_put16(big + 1, (uint16_t)records);
		apply_bytes(b, big, len, 0); /* at applied + 1 */
		b->applied_index = r.index[i - 1]; /* as a wholly applied
						     run would say */
		if (!restarted && i > r.count / 2) {
			long n = sl_ci_snapshot_encode(b, g_snap2, 8u << 20);
			TL_TRUE(n > 0);
			sl_ci_init(b);
			TL_OK(sl_ci_snapshot_decode(b, g_snap2, (size_t)n,
						    g_err, sizeof(g_err)));
			restarted = 1;
		}
	}
	TL_EQ(off, r.used);
	long na = sl_ci_snapshot_encode(r.a, g_snap1, 8u << 20);
	long nb = sl_ci_snapshot_encode(b, g_snap2, 8u << 20);
	TL_TRUE(na > 0);
	if (na != nb || memcmp(g_snap1, g_snap2, (size_t)na))
		fail_msg("seed %llu: the images differ",
			 (unsigned long long)seed);
	expect_same(r.a, b);
	printf("# %u entries (%u reassignment records), %u brokers, %u "
	       "topics, %u partitions\n", r.count, moves, r.a->broker_count,
	       r.a->meta.count, r.a->part_count);
	free(big);
	free(b);
	free(r.entries);
	free(r.index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_brokers),
		cmocka_unit_test(test_create_topic),
		cmocka_unit_test(test_placement),
		cmocka_unit_test(test_fence_leader),
		cmocka_unit_test(test_unclean),
		cmocka_unit_test(test_alter_isr),
		cmocka_unit_test(test_elect_preferred),
		cmocka_unit_test(test_elect_unclean),
		cmocka_unit_test(test_delete_and_partitions),
		cmocka_unit_test(test_records_by_hand),
		cmocka_unit_test(test_rollback_journal),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_reassign_move),
		cmocka_unit_test(test_reassign_at_once),
		cmocka_unit_test(test_reassign_cancel),
		cmocka_unit_test(test_reassign_replace),
		cmocka_unit_test(test_reassign_errors),
		cmocka_unit_test(test_unregister),
		cmocka_unit_test(test_reassign_replication_factor),
		cmocka_unit_test(test_reassign_by_hand),
		cmocka_unit_test(test_reassign_snapshot),
		cmocka_unit_test(test_snapshot_v1),
		cmocka_unit_test(test_reassign_check),
		cmocka_unit_test(test_random_batchings),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
