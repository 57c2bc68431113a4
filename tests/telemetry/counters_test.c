/*
 * The telemetry counters' values after a known workload, through the
 * whole broker (tests/lib/broker.h: sluiced and sluice-control as
 * processes) and its telemetry socket (docs/telemetry.md):
 *
 *   - N valid produce batches of known sizes (native, UDP, acks=1):
 *     storage0 batches / batch_bytes / appends, the partition's batches,
 *     bytes and end offset, net0 produce / frames / frame_bytes;
 *   - K frames of every malformed-input reason (native over UDP and TCP,
 *     Kafka over TCP): each bad_<reason> counter of net0 moves by exactly
 *     K, and the frames counters by exactly what the accepted ones add;
 *   - `sluice status` (SLUICE_CLI) prints the same values.
 *
 * Every counter is compared as a difference from a snapshot taken once
 * the broker is ready, so the harness's own probes do not matter; nothing
 * else talks to this broker.  The checks wait (bounded) for the counters
 * to reach the expected values, then check once more after a pause that
 * they did not go past them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

#define K 3      /* frames of each malformed-input reason */
#define NBATCH 10
#define REPLY_MAX 65536

/* The reasons, in the order of dataplane/dp.h's DP_BAD_REASONS (the
 * telemetry key is "bad_" + name). */
enum {
	R_MAGIC, R_VERSION, R_UDP_LEN, R_TRUNC, R_OPCODE, R_ACKS, R_BATCH,
	R_TOO_LARGE, R_TOPIC, R_ORDER, R_FENCED, R_RESPONSE, R_KFRAME,
	R_KREQUEST, R_KVERSION, R_KFORWARD, R_COUNT
};
static const char *const reason[R_COUNT] = {
	"bad_magic_or_length", "bad_version", "udp_length_mismatch",
	"truncated_body", "unknown_opcode", "bad_acks", "bad_batch",
	"batch_too_large", "unknown_topic", "out_of_order_sequence",
	"fenced_epoch", "response_frame", "kafka_bad_frame_size",
	"kafka_malformed_request", "kafka_unsupported_version",
	"kafka_control_unavailable",
};

/* net0 counters besides the bad_ ones, and storage0's */
enum { N_FRAMES, N_FRAME_BYTES, N_PRODUCE, N_METADATA, N_KAFKA, N_COUNT };
static const char *const net_key[N_COUNT] = {
	"frames", "frame_bytes", "produce", "metadata", "kafka_requests",
};
enum { S_BATCHES, S_BATCH_BYTES, S_COUNT };
static const char *const store_key[S_COUNT] = { "batches", "batch_bytes" };

struct counters {
	uint64_t net[N_COUNT];
	uint64_t bad[R_COUNT];
	uint64_t store[S_COUNT];
};

static struct tb b;
static int failed;
static char tel_path[PATH_MAX];
static struct counters base, want;
static uint32_t topic_id;
static int udp = -1;
static uint32_t corr = 1;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			failed = 1;                                        \
			goto out;                                          \
		}                                                          \
	} while (0)

/* ---- the telemetry socket ---- */

/* One command's reply into out (NUL-terminated); 0 or -errno. */
static int tel_ask(const char *cmd, char *out, size_t cap)
{
	return tb_tel_ask(tel_path, cmd, out, cap);
}


static int read_counters(struct counters *c)
{
	static char buf[REPLY_MAX];
	if (tel_ask("/sluice/cores", buf, sizeof(buf)))
		return -1;
	for (int i = 0; i < N_COUNT; i++)
		if ((int64_t)(c->net[i] = (uint64_t)tb_json_i64(buf, "net0",
							     net_key[i])) < 0)
			return -1;
	for (int i = 0; i < R_COUNT; i++) {
		char k[64];
		snprintf(k, sizeof(k), "bad_%s", reason[i]);
		if ((int64_t)(c->bad[i] = (uint64_t)tb_json_i64(buf, "net0", k)) < 0)
			return -1;
	}
	for (int i = 0; i < S_COUNT; i++)
		if ((int64_t)(c->store[i] = (uint64_t)tb_json_i64(buf, "storage0",
							       store_key[i])) < 0)
			return -1;
	return 0;
}

/* Name of the first counter whose difference from base is not want's;
 * NULL when all match.  *got / *exp get its values. */
static const char *mismatch(const struct counters *now, uint64_t *got,
			    uint64_t *exp)
{
	for (int i = 0; i < N_COUNT; i++)
		if (now->net[i] - base.net[i] != want.net[i]) {
			*got = now->net[i] - base.net[i];
			*exp = want.net[i];
			return net_key[i];
		}
	for (int i = 0; i < R_COUNT; i++)
		if (now->bad[i] - base.bad[i] != want.bad[i]) {
			*got = now->bad[i] - base.bad[i];
			*exp = want.bad[i];
			return reason[i];
		}
	for (int i = 0; i < S_COUNT; i++)
		if (now->store[i] - base.store[i] != want.store[i]) {
			*got = now->store[i] - base.store[i];
			*exp = want.store[i];
			return store_key[i];
		}
	return NULL;
}

/* ---- native frames ---- */

/* Send a datagram; with answered, wait for the reply to corr c and
 * return its error code (>= -1), else 0.  -1000 on no reply. */
static int udp_send(const uint8_t *f, size_t len, int answered, uint32_t c)
{
	uint8_t r[2048];
	if (send(udp, f, len, 0) != (ssize_t)len)
		return -1000;
	if (!answered)
		return 0;
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(udp, r, sizeof(r), 0);
		struct sn_header h;
		if (n < 0)
			return -1000;
		if (n >= SN_HEADER_BYTES &&
		    sn_header_parse(r, (size_t)n, sizeof(r), &h) > 0 &&
		    h.corr == c)
			return h.error;
	}
	return -1000;
}

/* A valid batch of nrec records (value sizes vary with seed). */
static long make_batch(uint8_t *buf, size_t cap, int nrec, int seed,
		       int64_t pid, int16_t epoch, int32_t seq)
{
	struct rb_builder bb;
	uint8_t v[600];
	rb_builder_init(&bb, buf, cap, 1700000000000ll);
	if (pid >= 0)
		rb_builder_set_producer(&bb, pid, epoch, seq);
	for (int i = 0; i < nrec; i++) {
		size_t vl = (size_t)(17 * seed + 31 * i) % sizeof(v);
		memset(v, 'a' + (seed + i) % 26, vl);
		if (rb_builder_add(&bb, "k", 1, v, (int32_t)vl,
				   1700000000000ll + i))
			return -1;
	}
	return rb_builder_finish(&bb);
}

/* A produce frame around batch; returns the frame length. */
static long produce_frame(uint8_t *f, size_t cap, uint32_t tid, int16_t acks,
			  const uint8_t *batch, size_t blen, uint32_t c)
{
	struct sn_produce r = { .topic_id = tid, .partition = 0, .acks = acks,
				.timeout_ms = 5000, .batch = batch,
				.batch_len = (uint32_t)blen };
	return sn_encode_produce(f, cap, c, &r);
}

/* Count an accepted native frame of len bytes. */
static void count_frame(size_t len, int is_produce)
{
	want.net[N_FRAMES]++;
	want.net[N_FRAME_BYTES] += len;
	if (is_produce)
		want.net[N_PRODUCE]++;
}

/* ---- Kafka frames ---- */

static int tcp_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 3, 0 };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the broker closes the connection (bounded); 0 when it did. */
static int wait_closed(int fd)
{
	uint8_t buf[4096];
	for (int i = 0; i < 100; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0)
			return -1;
	}
	return -1;
}

/* A Kafka request: size, api key, version, correlation id, client id
 * "t", then body. */
static size_t kafka_req(uint8_t *f, int16_t api, int16_t ver, int32_t c,
			const uint8_t *body, size_t blen)
{
	size_t n = 4;
	f[n++] = (uint8_t)(api >> 8);
	f[n++] = (uint8_t)api;
	f[n++] = (uint8_t)(ver >> 8);
	f[n++] = (uint8_t)ver;
	for (int i = 3; i >= 0; i--)
		f[n++] = (uint8_t)(c >> (8 * i));
	f[n++] = 0;
	f[n++] = 1;
	f[n++] = 't';
	if (blen)
		memcpy(f + n, body, blen);
	n += blen;
	uint32_t size = (uint32_t)(n - 4);
	for (int i = 0; i < 4; i++)
		f[i] = (uint8_t)(size >> (8 * (3 - i)));
	return n;
}

/* ---- the workload ---- */

static int64_t produced_records;

static int workload_valid(void)
{
	static uint8_t batch[65536], f[65536 + 64];
	for (int i = 0; i < NBATCH; i++) {
		long bl = make_batch(batch, sizeof(batch), 1 + i * 7, i, -1, 0, 0);
		long fl = produce_frame(f, sizeof(f), topic_id, 1, batch,
					(size_t)bl, corr);
		if (bl <= 0 || fl <= 0)
			return -1;
		int e = udp_send(f, (size_t)fl, 1, corr++);
		if (e) {
			fprintf(stderr, "valid batch %d answered %d\n", i, e);
			return -1;
		}
		count_frame((size_t)fl, 1);
		want.store[S_BATCHES]++;
		want.store[S_BATCH_BYTES] += (uint64_t)bl;
		produced_records += 1 + i * 7;
	}
	return 0;
}

static int workload_native_bad(void)
{
	static uint8_t batch[65536], f[(1u << 20) + 4096];
	long bl, fl;
	int e;
	for (int k = 0; k < K; k++) {
		/* bad magic: not ours, not answered */
		memset(f, 0, 16);
		if (udp_send(f, 16, 0, 0))
			return -1;
		want.bad[R_MAGIC]++;
		/* bad version: answered */
		sn_header_put(f, SN_METADATA, 16, corr, 0);
		f[2] = 9;
		if ((e = udp_send(f, 16, 1, corr++)) != SN_ERR_UNSUPPORTED_VERSION)
			return fprintf(stderr, "bad version: %d\n", e), -1;
		want.bad[R_VERSION]++;
		/* length says 32, the datagram has 40 */
		memset(f, 0, 40);
		sn_header_put(f, SN_METADATA, 32, corr, 0);
		if ((e = udp_send(f, 40, 1, corr++)) != SN_ERR_INVALID_REQUEST)
			return fprintf(stderr, "udp length: %d\n", e), -1;
		want.bad[R_UDP_LEN]++;
		/* a produce with no body */
		sn_header_put(f, SN_PRODUCE, 16, corr, 0);
		if ((e = udp_send(f, 16, 1, corr++)) != SN_ERR_INVALID_REQUEST)
			return fprintf(stderr, "truncated: %d\n", e), -1;
		count_frame(16, 1);
		want.bad[R_TRUNC]++;
		/* an opcode nobody knows */
		sn_header_put(f, 0x3f, 16, corr, 0);
		if ((e = udp_send(f, 16, 1, corr++)) != SN_ERR_UNSUPPORTED_VERSION)
			return fprintf(stderr, "opcode: %d\n", e), -1;
		count_frame(16, 0);
		want.bad[R_OPCODE]++;
		/* a response sent to the broker */
		sn_header_put(f, SN_METADATA | SN_RESPONSE, 16, corr, 0);
		if ((e = udp_send(f, 16, 1, corr++)) != SN_ERR_INVALID_REQUEST)
			return fprintf(stderr, "response: %d\n", e), -1;
		count_frame(16, 0);
		want.bad[R_RESPONSE]++;
		/* acks 7 */
		bl = make_batch(batch, sizeof(batch), 2, 100 + k, -1, 0, 0);
		fl = produce_frame(f, sizeof(f), topic_id, 1, batch, (size_t)bl,
				   corr);
		f[24] = 0;
		f[25] = 7;
		if ((e = udp_send(f, (size_t)fl, 1, corr++)) !=
		    SN_ERR_INVALID_REQUIRED_ACKS)
			return fprintf(stderr, "acks: %d\n", e), -1;
		count_frame((size_t)fl, 1);
		want.bad[R_ACKS]++;
		/* a batch whose CRC does not match */
		fl = produce_frame(f, sizeof(f), topic_id, 1, batch, (size_t)bl,
				   corr);
		f[fl - 1] ^= 0x55;
		if ((e = udp_send(f, (size_t)fl, 1, corr++)) !=
		    SN_ERR_CORRUPT_MESSAGE)
			return fprintf(stderr, "crc: %d\n", e), -1;
		count_frame((size_t)fl, 1);
		want.bad[R_BATCH]++;
		/* a topic that does not exist */
		fl = produce_frame(f, sizeof(f), topic_id + 1000, 1, batch,
				   (size_t)bl, corr);
		if ((e = udp_send(f, (size_t)fl, 1, corr++)) !=
		    SN_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			return fprintf(stderr, "topic: %d\n", e), -1;
		count_frame((size_t)fl, 1);
		want.bad[R_TOPIC]++;
	}
	/* idempotence: one batch of producer 777 at epoch 5, then K out of
	 * order and K from an older epoch */
	bl = make_batch(batch, sizeof(batch), 1, 7, 777, 5, 0);
	fl = produce_frame(f, sizeof(f), topic_id, 1, batch, (size_t)bl, corr);
	if ((e = udp_send(f, (size_t)fl, 1, corr++)) != 0)
		return fprintf(stderr, "idempotent batch: %d\n", e), -1;
	count_frame((size_t)fl, 1);
	want.store[S_BATCHES]++;
	want.store[S_BATCH_BYTES] += (uint64_t)bl;
	produced_records++;
	for (int k = 0; k < K; k++) {
		bl = make_batch(batch, sizeof(batch), 1, 8, 777, 5, 10 + k);
		fl = produce_frame(f, sizeof(f), topic_id, 1, batch, (size_t)bl,
				   corr);
		if ((e = udp_send(f, (size_t)fl, 1, corr++)) !=
		    SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)
			return fprintf(stderr, "out of order: %d\n", e), -1;
		count_frame((size_t)fl, 1);
		want.bad[R_ORDER]++;
		bl = make_batch(batch, sizeof(batch), 1, 9, 777, 3, 1);
		fl = produce_frame(f, sizeof(f), topic_id, 1, batch, (size_t)bl,
				   corr);
		if ((e = udp_send(f, (size_t)fl, 1, corr++)) !=
		    SN_ERR_INVALID_PRODUCER_EPOCH)
			return fprintf(stderr, "fenced: %d\n", e), -1;
		count_frame((size_t)fl, 1);
		want.bad[R_FENCED]++;
	}
	/* a batch larger than the broker takes (DP_BATCH_MAX_BYTES), over
	 * TCP: one record of 1 MiB + 64 */
	static uint8_t big[(1u << 20) + 64];
	struct rb_builder bb;
	memset(big, 'x', sizeof(big));
	static uint8_t bigbatch[(1u << 20) + 1024];
	rb_builder_init(&bb, bigbatch, sizeof(bigbatch), 1700000000000ll);
	if (rb_builder_add(&bb, NULL, 0, big, (int32_t)sizeof(big),
			   1700000000000ll))
		return -1;
	bl = rb_builder_finish(&bb);
	int fd = tcp_open(b.port);
	if (fd < 0 || bl <= 0)
		return -1;
	for (int k = 0; k < K; k++) {
		fl = produce_frame(f, sizeof(f), topic_id, 1, bigbatch, (size_t)bl,
				   corr);
		uint8_t r[SN_PRODUCE_RESP_BYTES];
		struct sn_header h;
		size_t got = 0;
		if (fl <= 0 || send_all(fd, f, (size_t)fl))
			break;
		while (got < sizeof(r)) {
			ssize_t n = recv(fd, r + got, sizeof(r) - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < SN_HEADER_BYTES ||
		    sn_header_parse(r, got, sizeof(r), &h) <= 0 ||
		    h.corr != corr || h.error != SN_ERR_MESSAGE_TOO_LARGE) {
			fprintf(stderr, "batch too large: no MESSAGE_TOO_LARGE\n");
			close(fd);
			return -1;
		}
		corr++;
		count_frame((size_t)fl, 1);
		want.bad[R_TOO_LARGE]++;
	}
	close(fd);
	return 0;
}

/* The metadata round trip that ends the UDP part: answered after every
 * datagram sent before it (one net core, in order). */
static int udp_barrier(void)
{
	uint8_t f[64];
	long n = sn_encode_metadata(f, sizeof(f), corr, NULL, 0);
	if (n <= 0)
		return -1;
	/* over UDP an answer longer than its request is cut to its header
	 * with MESSAGE_TOO_LARGE (docs/protocol.md): still the barrier */
	int e = udp_send(f, (size_t)n, 1, corr++);
	if (e != 0 && e != SN_ERR_MESSAGE_TOO_LARGE)
		return -1;
	count_frame((size_t)n, 0);
	want.net[N_METADATA]++;
	return 0;
}

static int workload_kafka_bad(void)
{
	uint8_t f[256];
	size_t n;
	for (int k = 0; k < K; k++) {
		/* a size below the smallest request: closed */
		int fd = tcp_open(b.kport);
		static const uint8_t tiny[4] = { 0, 0, 0, 3 };
		if (fd < 0 || send_all(fd, tiny, 4) || wait_closed(fd))
			return fprintf(stderr, "kafka frame size\n"), -1;
		close(fd);
		want.bad[R_KFRAME]++;
		/* Metadata v1 without its topics array: closed */
		fd = tcp_open(b.kport);
		n = kafka_req(f, 3, 1, 100 + k, NULL, 0);
		if (fd < 0 || send_all(fd, f, n) || wait_closed(fd))
			return fprintf(stderr, "kafka malformed\n"), -1;
		close(fd);
		want.net[N_FRAMES]++;
		want.net[N_FRAME_BYTES] += n;
		want.net[N_KAFKA]++;
		want.bad[R_KREQUEST]++;
		/* ApiVersions v99: answered UNSUPPORTED_VERSION */
		fd = tcp_open(b.kport);
		n = kafka_req(f, 18, 99, 200 + k, NULL, 0);
		uint8_t r[64];
		ssize_t got = fd < 0 || send_all(fd, f, n) ? -1 :
			      recv(fd, r, sizeof(r), 0);
		if (got < 10 || r[8] != 0 || r[9] != SN_ERR_UNSUPPORTED_VERSION)
			return fprintf(stderr, "kafka version: %zd bytes\n", got), -1;
		close(fd);
		want.net[N_FRAMES]++;
		want.net[N_FRAME_BYTES] += n;
		want.net[N_KAFKA]++;
		want.bad[R_KVERSION]++;
	}
	return 0;
}

/* With sluice-control stopped: ListGroups v0 (forwarded to control) is
 * refused and the connection closed. */
static int workload_kafka_forward(void)
{
	uint8_t f[64];
	for (int k = 0; k < K; k++) {
		int fd = tcp_open(b.kport);
		size_t n = kafka_req(f, 16, 0, 300 + k, NULL, 0);
		if (fd < 0 || send_all(fd, f, n) || wait_closed(fd))
			return fprintf(stderr, "kafka forward\n"), -1;
		close(fd);
		want.net[N_FRAMES]++;
		want.net[N_FRAME_BYTES] += n;
		want.net[N_KAFKA]++;
		want.bad[R_KFORWARD]++;
	}
	return 0;
}

/* Wait until the counters are want (up to 5 s), then check they stay. */
static int settle(const char *when)
{
	struct counters now;
	const char *bad = "telemetry unreadable";
	uint64_t got = 0, exp = 0;
	for (uint64_t end = tb_now_ms() + 5000; tb_now_ms() < end;) {
		if (read_counters(&now) == 0 &&
		    !(bad = mismatch(&now, &got, &exp)))
			break;
		usleep(50000);
	}
	if (!bad) {
		usleep(300000);
		if (read_counters(&now))
			bad = "telemetry unreadable";
		else
			bad = mismatch(&now, &got, &exp);
	}
	if (bad) {
		fprintf(stderr, "%s: counter %s moved by %" PRIu64 ", expected %"
			PRIu64 "\n", when, bad, got, exp);
		for (int i = 0; i < R_COUNT; i++)
			if (now.bad[i] - base.bad[i] != want.bad[i])
				fprintf(stderr, "  bad_%s moved by %" PRIu64
					", expected %" PRIu64 "\n", reason[i],
					now.bad[i] - base.bad[i], want.bad[i]);
		return -1;
	}
	return 0;
}

/* `sluice status` prints each value as "key: value" at its depth. */
static int check_status(void)
{
	const char *cli = getenv("SLUICE_CLI");
	char cmd[PATH_MAX * 2 + 64], line[512];
	static char out[1 << 18];
	size_t len = 0;
	struct counters now;
	if (!cli) {
		fprintf(stderr, "SLUICE_CLI is not set (meson test sets it)\n");
		return -1;
	}
	if (read_counters(&now))
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' status --telemetry '%s'", cli,
		 tel_path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len),
					       p))
		len += strlen(out + len);
	int st = pclose(p);
	if (st != 0) {
		fprintf(stderr, "sluice status exited with %d\n", st);
		return -1;
	}
	/* net0 and storage0 entries sit at depth 3, under "/sluice/cores" */
	for (int i = 0; i < R_COUNT; i++) {
		snprintf(line, sizeof(line), "\n      bad_%s: %" PRIu64 "\n",
			 reason[i], now.bad[i]);
		if (!strstr(out, line))
			return fprintf(stderr, "sluice status lacks '%s' in:\n%s",
				       line + 1, out), -1;
	}
	for (int i = 0; i < N_COUNT; i++) {
		snprintf(line, sizeof(line), "\n      %s: %" PRIu64 "\n",
			 net_key[i], now.net[i]);
		if (!strstr(out, line))
			return fprintf(stderr, "sluice status lacks '%s' in:\n%s",
				       line + 1, out), -1;
	}
	for (int i = 0; i < S_COUNT; i++) {
		snprintf(line, sizeof(line), "\n      %s: %" PRIu64 "\n",
			 store_key[i], now.store[i]);
		if (!strstr(out, line))
			return fprintf(stderr, "sluice status lacks '%s' in:\n%s",
				       line + 1, out), -1;
	}
	/* and the partition line of /sluice/partitions */
	snprintf(line, sizeof(line), "tc_0: start=0 end=%" PRId64 " durable=%"
		 PRId64 " hw=%" PRId64 " batches=%" PRIu64 " core=0 leader=1 "
		 "epoch=0 isr=1", produced_records, produced_records,
		 produced_records, want.store[S_BATCHES]);
	if (!strstr(out, line))
		return fprintf(stderr, "sluice status lacks '%s' in:\n%s", line,
			       out), -1;
	return 0;
}

int main(void)
{
	struct sl_client *c = NULL;
	static char buf[REPLY_MAX];
	int rc = tb_available();
	if (rc)
		return rc;
	CHECK(tb_init(&b, "counters") == 0, "tb_init");
	snprintf(tel_path, sizeof(tel_path), "%.4000s/run/telemetry.sock", b.dir);
	CHECK(tb_start(&b) == 0, "broker did not start (logs in %s)", b.dir);
	CHECK(sl_client_create(b.addr, 5000, &c) == 0, "connect");
	long id = sl_topic_create(c, "tc", NULL);
	CHECK(id >= 0, "create: %s", sl_error_message((int)id));
	topic_id = (uint32_t)id;
	sl_client_destroy(c);
	c = NULL;
	/* the client's own requests are counted before the snapshot */
	usleep(200000);
	CHECK(read_counters(&base) == 0, "reading %s", tel_path);
	udp = tb_udp_open(&b);
	CHECK(udp >= 0, "udp socket");

	CHECK(workload_valid() == 0, "the valid batches");
	CHECK(workload_native_bad() == 0, "the malformed native frames");
	CHECK(udp_barrier() == 0, "the closing metadata request");
	CHECK(workload_kafka_bad() == 0, "the malformed Kafka frames");
	CHECK(settle("native and Kafka") == 0, "counters");

	/* the partition's own counters */
	CHECK(tel_ask("/sluice/partition,tc-0", buf, sizeof(buf)) == 0,
	      "/sluice/partition");
	CHECK(tb_json_i64(buf, "/sluice/partition", "batches") ==
	      (int64_t)want.store[S_BATCHES] &&
	      tb_json_i64(buf, "/sluice/partition", "bytes") ==
	      (int64_t)want.store[S_BATCH_BYTES] &&
	      tb_json_i64(buf, "/sluice/partition", "appends") ==
	      (int64_t)want.store[S_BATCHES] &&
	      tb_json_i64(buf, "/sluice/partition", "log_end_offset") ==
	      produced_records, "partition counters %s, expected %" PRIu64
	      " batches, %" PRIu64 " bytes, end %" PRId64, buf,
	      want.store[S_BATCHES], want.store[S_BATCH_BYTES],
	      produced_records);
	CHECK(check_status() == 0, "sluice status");

	/* sluice-control gone: forwarded Kafka requests are refused */
	tb_stop_pid(&b.control, SIGTERM);
	int synced = 1;
	for (uint64_t end = tb_now_ms() + 5000; synced && tb_now_ms() < end;) {
		if (tel_ask("/sluice/info", buf, sizeof(buf)) == 0 &&
		    strstr(buf, "\"control_synced\":0"))
			synced = 0;
		else
			usleep(50000);
	}
	CHECK(!synced, "sluiced still reports control_synced after 5 s");
	CHECK(workload_kafka_forward() == 0, "Kafka requests for control");
	CHECK(settle("without control") == 0, "counters");
	printf("every counter moved by exactly the workload: %d batches "
	       "(%" PRIu64 " bytes), %d frames of each of %d reasons\n",
	       (int)want.store[S_BATCHES], want.store[S_BATCH_BYTES], K,
	       R_COUNT);
out:
	if (udp >= 0)
		close(udp);
	sl_client_destroy(c);
	if (tb_destroy(&b, failed) != 0)
		failed = 1; /* a broker process failed at exit */
	return failed;
}
