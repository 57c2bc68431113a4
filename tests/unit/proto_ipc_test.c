/*
 * proto/ipc.c: the control protocol's encoders and decoders.
 *
 * Each encoder's bytes are compared with the layout of proto/ipc.h written
 * out by hand here (so an encoder and a decoder that agree on a wrong
 * layout still fail); every message goes encode -> decode with its fields
 * intact; and each decoder refuses what the rule in proto/ipc.h refuses:
 * every shorter cut of a valid message (with the header's length field
 * left alone and set to the cut), a byte more where the size is exact, a
 * flipped magic, version, opcode or length field, and the cases particular
 * to each message.  Those refusals run on a copy that ends where an
 * unmapped page begins, so a decoder that reads past the length it was
 * given crashes the test.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl.h"
#include "proto/ipc.h"
#include "proto/native.h"

#define BAD (-SN_ERR_INVALID_REQUEST)
#define BAD_VERSION (-SN_ERR_UNSUPPORTED_VERSION)

static uint8_t msg[SIPC_MAX_MESSAGE + 64];

/* GUARDED bytes of memory followed by an unmapped page. */
#define GUARDED (16u * 4096)
static uint8_t *guarded;

static int map_guard(void **state)
{
	(void)state;
	guarded = tl_guarded(GUARDED);
	return guarded ? 0 : -1;
}

/* n bytes of src copied to end right before the unmapped page. */
static uint8_t *at_edge(const uint8_t *src, size_t n)
{
	assert_true(n <= GUARDED);
	return tl_at_edge(guarded, GUARDED, src, n);
}

/* The 16-byte header as proto/native.h lays it out. */
static void header(uint8_t *p, uint8_t opcode, uint32_t length, uint32_t corr,
		   int16_t error)
{
	tl_native_header(p, opcode, length, corr, error);
}

static void set_length(uint8_t *p, uint32_t length)
{
	p[4] = (uint8_t)(length >> 24);
	p[5] = (uint8_t)(length >> 16);
	p[6] = (uint8_t)(length >> 8);
	p[7] = (uint8_t)length;
}

/* ---- decoders behind one signature, for the table of refusals ---- */

static int dec_hello(const uint8_t *f, size_t len)
{
	uint32_t pid;
	return sipc_decode_hello(f, len, &pid);
}

static int dec_hello_reply(const uint8_t *f, size_t len)
{
	struct sipc_hello_reply r;
	return sipc_decode_hello_reply(f, len, &r);
}

static int dec_topic_put(const uint8_t *f, size_t len)
{
	struct sn_topic_info t;
	return sipc_decode_topic_put(f, len, &t);
}

static int dec_topic_delete(const uint8_t *f, size_t len)
{
	struct sipc_topic_delete d;
	return sipc_decode_topic_delete(f, len, &d);
}

static int dec_sync_done(const uint8_t *f, size_t len)
{
	return sipc_decode_sync_done(f, len);
}

static int dec_put_reply(const uint8_t *f, size_t len)
{
	return sipc_decode_reply(f, len, SIPC_TOPIC_PUT);
}

static int dec_alter_reply(const uint8_t *f, size_t len)
{
	return sipc_decode_reply(f, len, SIPC_ALTER_ISR);
}

static int dec_admin(const uint8_t *f, size_t len)
{
	const uint8_t *b;
	size_t n;
	return sipc_decode_admin(f, len, &b, &n);
}

static int dec_admin_reply(const uint8_t *f, size_t len)
{
	const uint8_t *b;
	size_t n;
	return sipc_decode_admin_reply(f, len, &b, &n);
}

static int dec_kafka(const uint8_t *f, size_t len)
{
	const uint8_t *b;
	size_t n;
	return sipc_decode_kafka(f, len, &b, &n);
}

static int dec_kafka_reply(const uint8_t *f, size_t len)
{
	const uint8_t *b;
	size_t n;
	return sipc_decode_kafka_reply(f, len, &b, &n);
}

static int dec_brokers(const uint8_t *f, size_t len)
{
	static struct sipc_broker b[SIPC_BROKERS_MAX];
	unsigned n;
	return sipc_decode_brokers(f, len, b, &n);
}

static int dec_partition_state(const uint8_t *f, size_t len)
{
	struct sipc_partition_state st;
	return sipc_decode_partition_state(f, len, &st);
}

static int dec_alter_isr(const uint8_t *f, size_t len)
{
	struct sipc_alter_isr a;
	return sipc_decode_alter_isr(f, len, &a);
}

/* ---- layouts ---- */

static void test_hello_layout(void **state)
{
	(void)state;
	uint8_t want[SIPC_HELLO_BYTES];
	header(want, 0x41, 24, 7, 0);
	const uint8_t body[8] = { 0, 0, 0, 1, 0x01, 0x02, 0x03, 0x04 };
	memcpy(want + 16, body, 8);
	TL_EQ(sipc_encode_hello(msg, sizeof(msg), 7, 0x01020304), 24);
	TL_OK(memcmp(msg, want, 24));
	uint32_t pid = 0;
	TL_OK(sipc_decode_hello(want, 24, &pid));
	TL_EQ(pid, 0x01020304);
	TL_EQ(sipc_encode_hello(msg, 23, 7, 1), -ENOBUFS);
}

static void test_hello_reply_layout(void **state)
{
	(void)state;
	uint8_t want[SIPC_HELLO_REPLY_BYTES];
	header(want, 0xC1, 28, 9, 0);
	const uint8_t body[12] = { 0, 0, 0, 1, 0, 0, 0x30, 0x39,
				   0x23, 0x85, 0x23, 0x86 };
	memcpy(want + 16, body, 12);
	struct sipc_hello_reply r = { 12345, 9093, 9094 }, back;
	TL_EQ(sipc_encode_hello_reply(msg, sizeof(msg), 9, &r), 28);
	TL_OK(memcmp(msg, want, 28));
	TL_OK(sipc_decode_hello_reply(want, 28, &back));
	TL_EQ(back.pid, 12345);
	TL_EQ(back.udp_port, 9093);
	TL_EQ(back.tcp_port, 9094);
	TL_EQ(sipc_encode_hello_reply(msg, 27, 9, &r), -ENOBUFS);
}

static void test_topic_put_layout(void **state)
{
	(void)state;
	uint8_t want[SIPC_TOPIC_PUT_BYTES + 6];
	header(want, 0x42, sizeof(want), 3, 0);
	const uint8_t entry[40] = {
		0, 0, 0, 5,              /* topic id */
		0, 0, 0, 4,              /* partitions */
		0, 0,                    /* error */
		1, 0,                    /* durability, 0 */
		0, 0, 0, 0, 0, 0, 0x03, 0xE8,             /* retention ms */
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* bytes -1 */
		0, 0, 0, 0, 0x40, 0, 0, 0,                /* segment 1 GiB */
		0, 6, 0, 0,              /* name length, 0 */
	};
	memcpy(want + 16, entry, 40);
	memcpy(want + 56, "orders", 6);
	struct sn_topic_info t = { .topic_id = 5, .partitions = 4,
				   .durability = 1, .retention_ms = 1000,
				   .retention_bytes = -1,
				   .segment_bytes = 1ll << 30,
				   .name = "orders", .name_len = 6 }, back;
	TL_EQ(sipc_encode_topic_put(msg, sizeof(msg), 3, &t), sizeof(want));
	TL_OK(memcmp(msg, want, sizeof(want)));
	TL_OK(sipc_decode_topic_put(want, sizeof(want), &back));
	TL_EQ(back.topic_id, 5);
	TL_EQ(back.partitions, 4);
	TL_EQ(back.error, 0);
	TL_EQ(back.durability, 1);
	TL_EQ(back.retention_ms, 1000);
	TL_EQ(back.retention_bytes, -1);
	TL_EQ(back.segment_bytes, 1ll << 30);
	TL_EQ(back.name_len, 6);
	TL_TRUE(back.name == (const char *)want + 56);
	TL_EQ(sipc_encode_topic_put(msg, sizeof(want) - 1, 3, &t), -ENOBUFS);
	/* a name that does not fit a message */
	static char big[SIPC_MAX_MESSAGE];
	memset(big, 'a', sizeof(big));
	t.name = big;
	t.name_len = UINT16_MAX;
	TL_EQ(sipc_encode_topic_put(msg, sizeof(msg), 3, &t), -EMSGSIZE);
}

static void test_topic_delete_layout(void **state)
{
	(void)state;
	uint8_t want[SIPC_TOPIC_DELETE_BYTES + 3];
	header(want, 0x43, sizeof(want), 4, 0);
	const uint8_t body[11] = { 0, 0, 0x01, 0x02, 0, 3, 0, 0, 'a', 'b',
				   'c' };
	memcpy(want + 16, body, sizeof(body));
	TL_EQ(sipc_encode_topic_delete(msg, sizeof(msg), 4, 0x102, "abc", 3),
	      sizeof(want));
	TL_OK(memcmp(msg, want, sizeof(want)));
	struct sipc_topic_delete d;
	TL_OK(sipc_decode_topic_delete(want, sizeof(want), &d));
	TL_EQ(d.topic_id, 0x102);
	TL_EQ(d.name_len, 3);
	TL_TRUE(d.name == (const char *)want + 24);
	TL_EQ(sipc_encode_topic_delete(msg, sizeof(want) - 1, 4, 1, "abc", 3),
	      -ENOBUFS);
}

static void test_header_only_layouts(void **state)
{
	(void)state;
	uint8_t want[16];
	header(want, 0x44, 16, 11, 0);
	TL_EQ(sipc_encode_sync_done(msg, sizeof(msg), 11), 16);
	TL_OK(memcmp(msg, want, 16));
	TL_OK(sipc_decode_sync_done(want, 16));
	TL_EQ(sipc_encode_sync_done(msg, 15, 11), -ENOBUFS);
	/* a reply: the request's opcode with bit 7, the error */
	header(want, 0xC3, 16, 12, SN_ERR_KAFKA_STORAGE_ERROR);
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_TOPIC_DELETE, 12,
				SN_ERR_KAFKA_STORAGE_ERROR), 16);
	TL_OK(memcmp(msg, want, 16));
	TL_OK(sipc_decode_reply(want, 16, SIPC_TOPIC_DELETE));
	TL_EQ(sipc_decode_reply(want, 16, SIPC_TOPIC_PUT), BAD);
	TL_EQ(sipc_encode_reply(msg, 15, SIPC_TOPIC_DELETE, 12, 0), -ENOBUFS);
}

/* ADMIN, KAFKA and their replies: the header, then the bytes given. */
static void test_body_layouts(void **state)
{
	(void)state;
	uint8_t inner[24];
	TL_EQ(sn_encode_create_topic_resp(inner, sizeof(inner), 77, 0, 9), 24);
	struct {
		long (*enc)(uint8_t *, size_t, uint32_t, const uint8_t *,
			    size_t);
		int (*dec)(const uint8_t *, size_t, const uint8_t **,
			   size_t *);
		uint8_t opcode;
	} kinds[] = {
		{ sipc_encode_admin, sipc_decode_admin, 0x45 },
		{ sipc_encode_admin_reply, sipc_decode_admin_reply, 0xC5 },
		{ sipc_encode_kafka, sipc_decode_kafka, 0x46 },
		{ sipc_encode_kafka_reply, sipc_decode_kafka_reply, 0xC6 },
	};
	for (unsigned k = 0; k < 4; k++) {
		uint8_t want[16 + sizeof(inner)];
		header(want, kinds[k].opcode, sizeof(want), 100 + k, 0);
		memcpy(want + 16, inner, sizeof(inner));
		TL_EQ(kinds[k].enc(msg, sizeof(msg), 100 + k, inner,
				   sizeof(inner)), sizeof(want));
		TL_OK(memcmp(msg, want, sizeof(want)));
		const uint8_t *b = NULL;
		size_t n = 0;
		TL_OK(kinds[k].dec(want, sizeof(want), &b, &n));
		TL_TRUE(b == want + 16);
		TL_EQ(n, sizeof(inner));
		TL_EQ(kinds[k].enc(msg, sizeof(want) - 1, 1, inner,
				   sizeof(inner)), -ENOBUFS);
	}
	/* the largest message, and one byte more */
	static uint8_t big[SIPC_MAX_MESSAGE];
	TL_EQ(sipc_encode_kafka(msg, sizeof(msg), 1, big,
				SIPC_MAX_MESSAGE - 16), SIPC_MAX_MESSAGE);
	TL_EQ(sipc_encode_kafka(msg, sizeof(msg), 1, big,
				SIPC_MAX_MESSAGE - 15), -EMSGSIZE);
	const uint8_t *b;
	size_t n;
	TL_OK(sipc_decode_kafka(msg, SIPC_MAX_MESSAGE, &b, &n));
	TL_EQ(n, SIPC_MAX_MESSAGE - 16);
	header(msg, SIPC_KAFKA, SIPC_MAX_MESSAGE + 1, 1, 0);
	TL_EQ(sipc_decode_kafka(msg, SIPC_MAX_MESSAGE + 1, &b, &n), BAD);
}

/* BROKERS: a u16 count, then entries of i32 id, u16 Kafka port, u16
 * native port, u8 fenced, u16 host length, u16 native UDP port, its u32
 * IPv4 address (network order, 0: at host) and the host, unpadded. */
static void test_brokers_layout(void **state)
{
	(void)state;
	const uint8_t body[] = {
		0, 2,                          /* count */
		0, 0, 0, 1, 0x23, 0x84, 0x23, 0x85, 0, 0, 9,
		0x23, 0x85, 0, 0, 0, 0,
		'1', '2', '7', '.', '0', '.', '0', '.', '1',
		0, 0, 0, 2, 0x23, 0xE8, 0x23, 0xE9, 1, 0, 2,
		0x27, 0x0f, 10, 0, 0, 2, 'h', '2',
	};
	uint8_t want[16 + sizeof(body)];
	header(want, 0x47, sizeof(want), 21, 0);
	memcpy(want + 16, body, sizeof(body));
	struct sipc_broker b[2] = {
		{ 1, 9092, 9093, 0, "127.0.0.1", 9, 9093, 0 },
		{ 2, 9192, 9193, 1, "h2", 2, 9999, 0 },
	}, back[SIPC_BROKERS_MAX];
	const uint8_t ten_0_0_2[4] = {10, 0, 0, 2};
	memcpy(&b[1].udp_addr, ten_0_0_2, 4);
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 21, b, 2), sizeof(want));
	TL_OK(memcmp(msg, want, sizeof(want)));
	unsigned n = 0;
	TL_OK(sipc_decode_brokers(want, sizeof(want), back, &n));
	TL_EQ(n, 2);
	TL_EQ(back[0].node_id, 1);
	TL_EQ(back[0].kafka_port, 9092);
	TL_EQ(back[0].native_port, 9093);
	TL_EQ(back[0].fenced, 0);
	TL_EQ(back[0].host_len, 9);
	TL_TRUE(back[0].host == (const char *)want + 16 + 2 + 17);
	TL_EQ(back[0].udp_port, 9093);
	TL_EQ(back[0].udp_addr, 0);
	TL_EQ(back[1].udp_port, 9999);
	TL_OK(memcmp(&back[1].udp_addr, ten_0_0_2, 4));
	TL_EQ(back[1].node_id, 2);
	TL_EQ(back[1].kafka_port, 9192);
	TL_EQ(back[1].fenced, 1);
	TL_OK(memcmp(back[1].host, "h2", 2));
	TL_EQ(sipc_encode_brokers(msg, sizeof(want) - 1, 21, b, 2), -ENOBUFS);
	/* none at all: an empty list */
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 3, b, 0), 18);
	TL_OK(sipc_decode_brokers(msg, 18, back, &n));
	TL_EQ(n, 0);
	/* values the layout cannot carry */
	b[1].fenced = 2;
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 3, b, 2), -EINVAL);
	b[1].fenced = 0;
	b[1].host_len = 0;
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 3, b, 2), -EINVAL);
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 3, b,
				  SIPC_BROKERS_MAX + 1), -EINVAL);
	/* the most brokers with the longest hosts do not fit a message */
	static struct sipc_broker many[SIPC_BROKERS_MAX];
	static char host[SIPC_HOST_MAX];
	memset(host, 'h', sizeof(host));
	for (unsigned i = 0; i < SIPC_BROKERS_MAX; i++)
		many[i] = (struct sipc_broker){ (int32_t)i, 1, 2, 0, host,
						SIPC_HOST_MAX, 2, 0 };
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 3, many,
				  SIPC_BROKERS_MAX), -EMSGSIZE);
	for (unsigned i = 0; i < SIPC_BROKERS_MAX; i++)
		many[i].host_len = 16;
	long len = sipc_encode_brokers(msg, sizeof(msg), 3, many,
				       SIPC_BROKERS_MAX);
	TL_EQ(len, 18 + SIPC_BROKERS_MAX * (17 + 16));
	TL_OK(sipc_decode_brokers(msg, (size_t)len, back, &n));
	TL_EQ(n, SIPC_BROKERS_MAX);
	TL_EQ(back[255].node_id, 255);
}

static void test_partition_state_layout(void **state)
{
	(void)state;
	const uint8_t body[] = {
		0, 0, 0, 7,              /* topic id */
		0, 0, 0, 2,              /* partition */
		0, 0, 0, 3,              /* leader */
		0, 0, 0, 5,              /* leader epoch */
		0, 0, 1, 0,              /* partition epoch 256 */
		3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, /* replicas */
		2, 0, 0, 0, 3, 0, 0, 0, 1,             /* in-sync */
		2,                       /* min.insync.replicas */
	};
	uint8_t want[16 + sizeof(body)];
	header(want, 0x48, sizeof(want), 8, 0);
	memcpy(want + 16, body, sizeof(body));
	TL_EQ(sizeof(want), SIPC_PARTITION_STATE_BYTES + 4 * 5);
	struct sipc_partition_state st = {
		.topic_id = 7, .partition = 2, .leader = 3, .leader_epoch = 5,
		.partition_epoch = 256, .nreplicas = 3, .nisr = 2,
		.min_isr = 2, .replicas = { 1, 2, 3 }, .isr = { 3, 1 },
	}, back;
	TL_EQ(sipc_encode_partition_state(msg, sizeof(msg), 8, &st),
	      sizeof(want));
	TL_OK(memcmp(msg, want, sizeof(want)));
	memset(&back, 0xa5, sizeof(back));
	TL_OK(sipc_decode_partition_state(want, sizeof(want), &back));
	TL_EQ(back.topic_id, 7);
	TL_EQ(back.partition, 2);
	TL_EQ(back.leader, 3);
	TL_EQ(back.leader_epoch, 5);
	TL_EQ(back.partition_epoch, 256);
	TL_EQ(back.nreplicas, 3);
	TL_EQ(back.replicas[0], 1);
	TL_EQ(back.replicas[2], 3);
	TL_EQ(back.nisr, 2);
	TL_EQ(back.isr[0], 3);
	TL_EQ(back.isr[1], 1);
	TL_EQ(back.min_isr, 2);
	TL_EQ(sipc_encode_partition_state(msg, sizeof(want) - 1, 8, &st),
	      -ENOBUFS);
	/* no leader, no replicas at all: the smallest */
	st = (struct sipc_partition_state){ .topic_id = 1, .leader = -1,
					    .leader_epoch = -1 };
	TL_EQ(sipc_encode_partition_state(msg, sizeof(msg), 8, &st), 39);
	TL_OK(sipc_decode_partition_state(msg, 39, &back));
	TL_EQ(back.leader, -1);
	TL_EQ(back.nreplicas, 0);
	TL_EQ(back.nisr, 0);
	/* the largest */
	st.nreplicas = st.nisr = SIPC_REPLICAS_MAX;
	for (int i = 0; i < SIPC_REPLICAS_MAX; i++)
		st.replicas[i] = st.isr[i] = i;
	TL_EQ(sipc_encode_partition_state(msg, sizeof(msg), 8, &st),
	      39 + 8 * SIPC_REPLICAS_MAX);
	TL_OK(sipc_decode_partition_state(msg, 39 + 8 * SIPC_REPLICAS_MAX,
					  &back));
	TL_EQ(back.isr[254], 254);
}

static void test_alter_isr_layout(void **state)
{
	(void)state;
	const uint8_t body[] = {
		0, 0, 0, 7,              /* topic id */
		0, 0, 0, 1,              /* partition */
		0, 0, 0, 4,              /* leader epoch */
		0xFF, 0xFF, 0xFF, 0xFE,  /* partition epoch -2 (the receiver
					    judges it) */
		2, 0, 0, 0, 1, 0, 0, 0, 3,
	};
	uint8_t want[16 + sizeof(body)];
	header(want, 0x49, sizeof(want), 30, 0);
	memcpy(want + 16, body, sizeof(body));
	struct sipc_alter_isr a = { .topic_id = 7, .partition = 1,
				    .leader_epoch = 4, .partition_epoch = -2,
				    .nisr = 2, .isr = { 1, 3 } }, back;
	TL_EQ(sipc_encode_alter_isr(msg, sizeof(msg), 30, &a), sizeof(want));
	TL_OK(memcmp(msg, want, sizeof(want)));
	TL_OK(sipc_decode_alter_isr(want, sizeof(want), &back));
	TL_EQ(back.topic_id, 7);
	TL_EQ(back.partition, 1);
	TL_EQ(back.leader_epoch, 4);
	TL_EQ(back.partition_epoch, -2);
	TL_EQ(back.nisr, 2);
	TL_EQ(back.isr[0], 1);
	TL_EQ(back.isr[1], 3);
	TL_EQ(sipc_encode_alter_isr(msg, sizeof(want) - 1, 30, &a), -ENOBUFS);
	/* the reply: header only, with control's error */
	uint8_t r[16];
	header(r, 0xC9, 16, 30, 108);
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_ALTER_ISR, 30, 108), 16);
	TL_OK(memcmp(msg, r, 16));
	TL_OK(sipc_decode_reply(r, 16, SIPC_ALTER_ISR));
}

/* Counts that say more or less than the bytes hold. */
static void test_cluster_refusals(void **state)
{
	(void)state;
	static struct sipc_broker back[SIPC_BROKERS_MAX];
	struct sipc_broker b[2] = {
		{ 1, 9092, 9093, 0, "a", 1, 9093, 0 },
		{ 2, 9192, 9193, 0, "bb", 2, 9193, 0 },
	};
	unsigned n;
	long len = sipc_encode_brokers(msg, sizeof(msg), 1, b, 2);
	TL_EQ(len, 18 + 18 + 19);
	msg[17] = 1; /* one entry, bytes after it */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[17] = 3; /* three, two there */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[17] = 2;
	msg[18 + 8] = 2; /* fenced 2 */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[18 + 8] = 0;
	msg[18 + 10] = 0; /* host length 0 */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[18 + 10] = 2; /* longer than it is: the next entry shifts */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[18 + 10] = 1;
	msg[18 + 18 + 10] = 3; /* the last host runs past the end */
	TL_EQ(sipc_decode_brokers(msg, (size_t)len, back, &n), BAD);
	msg[18 + 18 + 10] = 2;
	TL_OK(sipc_decode_brokers(msg, (size_t)len, back, &n));
	/* a count above the limit */
	TL_EQ(sipc_encode_brokers(msg, sizeof(msg), 1, b, 0), 18);
	msg[16] = 0x01;
	msg[17] = 0x01; /* 257 */
	TL_EQ(sipc_decode_brokers(msg, 18, back, &n), BAD);

	struct sipc_partition_state st = {
		.topic_id = 1, .leader = 1, .nreplicas = 2, .nisr = 1,
		.replicas = { 1, 2 }, .isr = { 1 }, .min_isr = 1 }, sb;
	len = sipc_encode_partition_state(msg, sizeof(msg), 1, &st);
	TL_EQ(len, 39 + 12);
	msg[36] = 3; /* replicas: the in-sync count read from elsewhere */
	TL_EQ(sipc_decode_partition_state(msg, (size_t)len, &sb), BAD);
	msg[36] = 1;
	TL_EQ(sipc_decode_partition_state(msg, (size_t)len, &sb), BAD);
	msg[36] = 2;
	msg[37 + 8] = 2; /* in-sync */
	TL_EQ(sipc_decode_partition_state(msg, (size_t)len, &sb), BAD);
	msg[37 + 8] = 0;
	TL_EQ(sipc_decode_partition_state(msg, (size_t)len, &sb), BAD);
	msg[37 + 8] = 1;
	msg[36] = 255; /* more replicas than the message holds */
	TL_EQ(sipc_decode_partition_state(msg, (size_t)len, &sb), BAD);
	msg[36] = 2;
	TL_OK(sipc_decode_partition_state(msg, (size_t)len, &sb));

	struct sipc_alter_isr a = { .topic_id = 1, .nisr = 2,
				    .isr = { 1, 2 } }, ab;
	len = sipc_encode_alter_isr(msg, sizeof(msg), 1, &a);
	TL_EQ(len, 33 + 8);
	msg[32] = 3;
	TL_EQ(sipc_decode_alter_isr(msg, (size_t)len, &ab), BAD);
	msg[32] = 1;
	TL_EQ(sipc_decode_alter_isr(msg, (size_t)len, &ab), BAD);
	msg[32] = 2;
	TL_OK(sipc_decode_alter_isr(msg, (size_t)len, &ab));
}

/* ---- refusals common to every message ---- */

struct kind {
	const char *name;
	int (*dec)(const uint8_t *, size_t);
	int exact;   /* the body's size is fixed by its contents */
	size_t len;  /* of the sample in msg */
};

/* Every cut, a byte more, and each garbled header field of a valid
 * message (in msg, len bytes) is refused. */
static void refusals(const struct kind *k)
{
	static uint8_t tmp[SIPC_MAX_MESSAGE + 64];
	size_t len = k->len;
	uint8_t *f;
	TL_OK(k->dec(at_edge(msg, len), len));
	for (size_t cut = 0; cut < len; cut++) {
		memcpy(tmp, msg, len);
		TL_TRUE(k->dec(at_edge(tmp, cut), cut) < 0); /* header: len */
		if (cut < SN_HEADER_BYTES || !k->exact)
			continue;
		set_length(tmp, (uint32_t)cut);
		if (k->dec(at_edge(tmp, cut), cut) >= 0)
			fail_msg("%s: accepted a cut to %zu bytes", k->name,
				 cut);
	}
	memcpy(tmp, msg, len);
	tmp[len] = 0;
	f = at_edge(tmp, len + 1);
	TL_TRUE(k->dec(f, len + 1) < 0); /* header says len */
	if (k->exact) {
		set_length(f, (uint32_t)len + 1);
		TL_EQ(k->dec(f, len + 1), BAD);
	}
	const struct {
		size_t at;
		uint8_t x;
		int want;
	} flips[] = {
		{ 0, 0x01, BAD },         /* magic */
		{ 1, 0x80, BAD },
		{ 2, 0x03, BAD_VERSION }, /* native version 2 */
		{ 3, 0x80, BAD },         /* request <-> reply */
		{ 3, 0x01, BAD },         /* another opcode */
		{ 3, 0x0F, BAD },
		{ 4, 0x01, BAD },         /* length field */
		{ 7, 0x01, BAD },
	};
	for (unsigned i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		f = at_edge(msg, len);
		f[flips[i].at] ^= flips[i].x;
		int rc = k->dec(f, len);
		if (rc != flips[i].want)
			fail_msg("%s: byte %zu ^ 0x%02x gave %d, not %d",
				 k->name, flips[i].at, flips[i].x, rc,
				 flips[i].want);
	}
	TL_EQ(k->dec(NULL, 0), BAD);
}

static void test_refusals_common(void **state)
{
	(void)state;
	uint8_t inner[24];
	TL_EQ(sn_encode_create_topic_resp(inner, sizeof(inner), 77, 0, 9), 24);
	struct sn_topic_info t = { .topic_id = 5, .partitions = 4,
				   .name = "orders", .name_len = 6 };
	struct sipc_hello_reply hr = { 1, 2, 3 };
	struct kind k;

	k = (struct kind){ "HELLO", dec_hello, 1,
			   (size_t)sipc_encode_hello(msg, sizeof(msg), 1, 2) };
	refusals(&k);
	k = (struct kind){ "HELLO reply", dec_hello_reply, 1,
			   (size_t)sipc_encode_hello_reply(msg, sizeof(msg), 1,
							   &hr) };
	refusals(&k);
	k = (struct kind){ "TOPIC_PUT", dec_topic_put, 1,
			   (size_t)sipc_encode_topic_put(msg, sizeof(msg), 1,
							 &t) };
	refusals(&k);
	k = (struct kind){ "TOPIC_DELETE", dec_topic_delete, 1,
			   (size_t)sipc_encode_topic_delete(msg, sizeof(msg),
							    1, 5, "orders",
							    6) };
	refusals(&k);
	k = (struct kind){ "SYNC_DONE", dec_sync_done, 1,
			   (size_t)sipc_encode_sync_done(msg, sizeof(msg),
							 1) };
	refusals(&k);
	k = (struct kind){ "TOPIC_PUT reply", dec_put_reply, 1,
			   (size_t)sipc_encode_reply(msg, sizeof(msg),
						     SIPC_TOPIC_PUT, 1, 0) };
	refusals(&k);
	k = (struct kind){ "ADMIN", dec_admin, 0,
			   (size_t)sipc_encode_admin(msg, sizeof(msg), 1,
						     inner, sizeof(inner)) };
	refusals(&k);
	/* its body is a frame whose own length fixes the size */
	k = (struct kind){ "ADMIN reply", dec_admin_reply, 1,
			   (size_t)sipc_encode_admin_reply(msg, sizeof(msg), 1,
							   inner,
							   sizeof(inner)) };
	refusals(&k);
	k = (struct kind){ "KAFKA", dec_kafka, 0,
			   (size_t)sipc_encode_kafka(msg, sizeof(msg), 1,
						     inner, sizeof(inner)) };
	refusals(&k);
	k = (struct kind){ "KAFKA reply", dec_kafka_reply, 0,
			   (size_t)sipc_encode_kafka_reply(msg, sizeof(msg), 1,
							   inner,
							   sizeof(inner)) };
	refusals(&k);
	struct sipc_broker br[2] = { { 1, 9092, 9093, 0, "a", 1, 9093, 0 },
				     { 2, 9192, 9193, 1, "host2", 5, 0, 0 } };
	k = (struct kind){ "BROKERS", dec_brokers, 1,
			   (size_t)sipc_encode_brokers(msg, sizeof(msg), 1, br,
						       2) };
	refusals(&k);
	struct sipc_partition_state st = {
		.topic_id = 1, .partition = 3, .leader = 2, .leader_epoch = 1,
		.nreplicas = 3, .nisr = 2, .min_isr = 2,
		.replicas = { 1, 2, 3 }, .isr = { 2, 3 } };
	k = (struct kind){ "PARTITION_STATE", dec_partition_state, 1,
			   (size_t)sipc_encode_partition_state(msg,
							       sizeof(msg), 1,
							       &st) };
	refusals(&k);
	struct sipc_alter_isr ai = { .topic_id = 1, .leader_epoch = 1,
				     .nisr = 2, .isr = { 2, 3 } };
	k = (struct kind){ "ALTER_ISR", dec_alter_isr, 1,
			   (size_t)sipc_encode_alter_isr(msg, sizeof(msg), 1,
							 &ai) };
	refusals(&k);
	k = (struct kind){ "ALTER_ISR reply", dec_alter_reply, 1,
			   (size_t)sipc_encode_reply(msg, sizeof(msg),
						     SIPC_ALTER_ISR, 1, 0) };
	refusals(&k);
}

/* ---- refusals particular to each message ---- */

static void test_hello_refusals(void **state)
{
	(void)state;
	uint32_t pid;
	struct sipc_hello_reply r;
	TL_EQ(sipc_encode_hello(msg, sizeof(msg), 1, 2), SIPC_HELLO_BYTES);
	msg[19] = 2; /* ipc version 2 */
	TL_EQ(sipc_decode_hello(msg, SIPC_HELLO_BYTES, &pid), BAD_VERSION);
	msg[19] = 0;
	TL_EQ(sipc_decode_hello(msg, SIPC_HELLO_BYTES, &pid), BAD_VERSION);
	r.pid = 1;
	TL_EQ(sipc_encode_hello_reply(msg, sizeof(msg), 1, &r),
	      SIPC_HELLO_REPLY_BYTES);
	msg[16] = 1; /* ipc version 0x01000001 */
	TL_EQ(sipc_decode_hello_reply(msg, SIPC_HELLO_REPLY_BYTES, &r),
	      BAD_VERSION);
	msg[16] = 0;
	TL_OK(sipc_decode_hello_reply(msg, SIPC_HELLO_REPLY_BYTES, &r));
	/* a refusal is a header-only reply, not an accepted HELLO */
	msg[13] = SN_ERR_UNSUPPORTED_VERSION;
	TL_EQ(sipc_decode_hello_reply(msg, SIPC_HELLO_REPLY_BYTES, &r), BAD);
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_HELLO, 1,
				SN_ERR_UNSUPPORTED_VERSION), 16);
	TL_EQ(sipc_decode_hello_reply(msg, 16, &r), BAD);
	TL_OK(sipc_decode_reply(msg, 16, SIPC_HELLO));
}

static void test_topic_refusals(void **state)
{
	(void)state;
	struct sn_topic_info t = { .topic_id = 5, .partitions = 4,
				   .name = "orders", .name_len = 6 }, back;
	long n = sipc_encode_topic_put(msg, sizeof(msg), 1, &t);
	TL_EQ(n, SIPC_TOPIC_PUT_BYTES + 6);
	/* the entry's name length says more, or less, than there is */
	msg[16 + 37] = 7;
	TL_EQ(sipc_decode_topic_put(msg, (size_t)n, &back), BAD);
	msg[16 + 37] = 5;
	TL_EQ(sipc_decode_topic_put(msg, (size_t)n, &back), BAD);
	msg[16 + 37] = 6;
	TL_OK(sipc_decode_topic_put(msg, (size_t)n, &back));
	/* two entries in one TOPIC_PUT */
	memcpy(msg + n, msg + 16, (size_t)n - 16);
	set_length(msg, (uint32_t)(2 * n - 16));
	TL_EQ(sipc_decode_topic_put(msg, (size_t)(2 * n - 16), &back), BAD);
	/* no entry at all */
	set_length(msg, 16);
	TL_EQ(sipc_decode_topic_put(msg, 16, &back), BAD);

	struct sipc_topic_delete d;
	n = sipc_encode_topic_delete(msg, sizeof(msg), 1, 5, "orders", 6);
	TL_EQ(n, SIPC_TOPIC_DELETE_BYTES + 6);
	msg[21] = 7;
	TL_EQ(sipc_decode_topic_delete(msg, (size_t)n, &d), BAD);
	msg[21] = 5;
	TL_EQ(sipc_decode_topic_delete(msg, (size_t)n, &d), BAD);
	msg[20] = 1; /* 261 */
	TL_EQ(sipc_decode_topic_delete(msg, (size_t)n, &d), BAD);
	msg[20] = 0;
	msg[21] = 6;
	TL_OK(sipc_decode_topic_delete(msg, (size_t)n, &d));
	/* an empty name is the receiver's business: the layout holds */
	n = sipc_encode_topic_delete(msg, sizeof(msg), 1, 5, "", 0);
	TL_OK(sipc_decode_topic_delete(msg, (size_t)n, &d));
	TL_EQ(d.name_len, 0);
}

static void test_reply_refusals(void **state)
{
	(void)state;
	const uint8_t *b;
	size_t n;
	uint8_t inner[24];
	TL_EQ(sn_encode_create_topic_resp(inner, sizeof(inner), 77, 0, 9), 24);

	/* ADMIN reply: an error and no body is valid, ... */
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_ADMIN, 1,
				SN_ERR_KAFKA_STORAGE_ERROR), 16);
	TL_OK(sipc_decode_admin_reply(msg, 16, &b, &n));
	TL_EQ(n, 0);
	/* ... no error and no body is not */
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_ADMIN, 1, 0), 16);
	TL_EQ(sipc_decode_admin_reply(msg, 16, &b, &n), BAD);
	/* an error and a body */
	long len = sipc_encode_admin_reply(msg, sizeof(msg), 1, inner,
					   sizeof(inner));
	TL_EQ(len, 40);
	msg[13] = 1;
	TL_EQ(sipc_decode_admin_reply(msg, 40, &b, &n), BAD);
	msg[13] = 0;
	TL_OK(sipc_decode_admin_reply(msg, 40, &b, &n));
	/* the inner frame: bad magic, a length that lies, not a response */
	msg[16] ^= 1;
	TL_EQ(sipc_decode_admin_reply(msg, 40, &b, &n), BAD);
	msg[16] ^= 1;
	msg[16 + 7] = 23;
	TL_EQ(sipc_decode_admin_reply(msg, 40, &b, &n), BAD);
	msg[16 + 7] = 24;
	msg[16 + 3] &= 0x7f;
	TL_EQ(sipc_decode_admin_reply(msg, 40, &b, &n), BAD);
	msg[16 + 3] |= 0x80;
	TL_OK(sipc_decode_admin_reply(msg, 40, &b, &n));

	/* KAFKA reply: an answer xor an error */
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_KAFKA, 1,
				SN_ERR_INVALID_REQUEST), 16);
	TL_OK(sipc_decode_kafka_reply(msg, 16, &b, &n));
	TL_EQ(n, 0);
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_KAFKA, 1, 0), 16);
	TL_EQ(sipc_decode_kafka_reply(msg, 16, &b, &n), BAD);
	TL_EQ(sipc_encode_kafka_reply(msg, sizeof(msg), 1, inner, 1), 17);
	TL_OK(sipc_decode_kafka_reply(msg, 17, &b, &n));
	TL_EQ(n, 1);
	msg[12] = 0xff;
	msg[13] = 0xff; /* UNKNOWN_SERVER_ERROR, with a body */
	TL_EQ(sipc_decode_kafka_reply(msg, 17, &b, &n), BAD);

	/* header-only replies carry nothing more */
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_TOPIC_PUT, 1, 0), 16);
	msg[16] = 0;
	set_length(msg, 17);
	TL_EQ(sipc_decode_reply(msg, 17, SIPC_TOPIC_PUT), BAD);
}

/* A reply too long for one message: pieces with SIPC_FLAG_MORE, the
 * last without. */
static void test_reply_pieces(void **state)
{
	(void)state;
	static uint8_t body[SIPC_PIECE_MAX + 1];
	const uint8_t *b;
	size_t n;
	int more;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	/* layout: the header's flags at 14 */
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_KAFKA, 9, body,
				      100, 1), 116);
	TL_EQ(msg[3], SIPC_KAFKA | SN_RESPONSE);
	TL_EQ(rb_be16(msg + 14), SIPC_FLAG_MORE);
	TL_EQ(rb_be32(msg + 8), 9);
	TL_OK(sipc_decode_reply_piece(msg, 116, SIPC_KAFKA, &b, &n, &more));
	TL_EQ(n, 100);
	TL_EQ(more, 1);
	TL_TRUE(b == msg + 16 && !memcmp(b, body, 100));
	/* the last piece: no flag; an ADMIN piece need not be a frame */
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_ADMIN, 9, body,
				      SIPC_PIECE_MAX, 0), SIPC_MAX_MESSAGE);
	TL_EQ(rb_be16(msg + 14), 0);
	TL_OK(sipc_decode_reply_piece(msg, SIPC_MAX_MESSAGE, SIPC_ADMIN, &b,
				      &n, &more));
	TL_EQ(n, SIPC_PIECE_MAX);
	TL_EQ(more, 0);
	/* refusals */
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_KAFKA, 9, body,
				      SIPC_PIECE_MAX + 1, 1), -EINVAL);
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_KAFKA, 9, body,
				      0, 1), -EINVAL);
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_HELLO, 9, body,
				      1, 1), -EINVAL);
	TL_EQ(sipc_encode_reply_piece(msg, 50, SIPC_KAFKA, 9, body, 100, 1),
	      -ENOBUFS);
	TL_EQ(sipc_encode_reply_piece(msg, sizeof(msg), SIPC_KAFKA, 9, body,
				      10, 1), 26);
	TL_EQ(sipc_decode_reply_piece(msg, 26, SIPC_ADMIN, &b, &n, &more),
	      BAD); /* another opcode */
	TL_EQ(sipc_decode_reply_piece(msg, 26, SIPC_TOPIC_PUT, &b, &n,
				      &more), BAD);
	rb_put16(msg + 14, 2); /* an unknown flag */
	TL_EQ(sipc_decode_reply_piece(msg, 26, SIPC_KAFKA, &b, &n, &more),
	      BAD);
	rb_put16(msg + 14, SIPC_FLAG_MORE);
	rb_put16(msg + 12, (uint16_t)SN_ERR_INVALID_REQUEST); /* an error */
	TL_EQ(sipc_decode_reply_piece(msg, 26, SIPC_KAFKA, &b, &n, &more),
	      BAD);
	TL_EQ(sipc_encode_reply(msg, sizeof(msg), SIPC_KAFKA, 9, 0), 16);
	TL_EQ(sipc_decode_reply_piece(msg, 16, SIPC_KAFKA, &b, &n, &more),
	      BAD); /* no body */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_layout),
		cmocka_unit_test(test_hello_reply_layout),
		cmocka_unit_test(test_topic_put_layout),
		cmocka_unit_test(test_topic_delete_layout),
		cmocka_unit_test(test_header_only_layouts),
		cmocka_unit_test(test_body_layouts),
		cmocka_unit_test(test_brokers_layout),
		cmocka_unit_test(test_partition_state_layout),
		cmocka_unit_test(test_alter_isr_layout),
		cmocka_unit_test(test_cluster_refusals),
		cmocka_unit_test(test_refusals_common),
		cmocka_unit_test(test_hello_refusals),
		cmocka_unit_test(test_topic_refusals),
		cmocka_unit_test(test_reply_refusals),
		cmocka_unit_test(test_reply_pieces),
	};
	return cmocka_run_group_tests(tests, map_guard, NULL);
}
