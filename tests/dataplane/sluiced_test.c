/*
 * sluiced as a real process on loopback: plays the control side over the
 * control socket (HELLO, TOPIC_PUT, SYNC_DONE per proto/ipc.h) and talks
 * raw native frames over TCP and UDP.  argv[1]: the sluiced binary.
 * Every wait is bounded (5 s per answer, 30 s for the long poll).  No
 * check depends on how fast the machine is: the long poll is shown to
 * wake on new data by a max_wait_ms far beyond the read's deadline, and
 * the produce that wakes it is sent once the broker counts the fetch as
 * parked (its telemetry socket: docs/telemetry.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/telemetry/telemetry.h"
#include "proto/ipc.h"
#include "proto/native.h"
#include "proto/record_batch.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #c);                                \
			cleanup();                                            \
			exit(1);                                              \
		}                                                             \
	} while (0)

static pid_t child = -1;
static char dir[512], bin[512];
static int tcp_port, udp_port, ctl = -1;
static const uint32_t TID = 7;

static void cleanup(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd)) {
	}
}

static int free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static void start(void)
{
	char o1[600], o2[64], o3[64], o4[600];
	snprintf(o1, sizeof(o1), "data_dir=%s/data", dir);
	snprintf(o2, sizeof(o2), "tcp_port=%d", tcp_port);
	snprintf(o3, sizeof(o3), "udp_port=%d", udp_port);
	snprintf(o4, sizeof(o4), "telemetry_socket=%s/tel.sock", dir);
	child = fork();
	if (child == 0) {
		execl(bin, bin, "-o", o1, "-o", o2, "-o", o3, "-o", o4,
		      "-o", "kafka_port=0",
		      "-o", "memory_budget_mb=64", "-o", "log_buffer_mb=4",
		      "--foreground", (char *)NULL);
		_exit(127);
	}
}

static int tcp_connect(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)tcp_port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		usleep(50000);
	}
	return -1;
}

static int read_full_ms(int fd, uint8_t *p, size_t n, int timeout_ms)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, p + got, n - got);
		if (r <= 0)
			return -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* Read one frame, waiting at most timeout_ms for each part; returns its
 * length or < 0. */
static long read_frame_ms(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	if (read_full_ms(fd, buf, 16, timeout_ms))
		return -1;
	uint32_t len = rb_be32(buf + 4);
	if (len < 16 || len > cap ||
	    read_full_ms(fd, buf + 16, len - 16, timeout_ms))
		return -1;
	return len;
}

static long read_frame(int fd, uint8_t *buf, size_t cap)
{
	return read_frame_ms(fd, buf, cap, 5000);
}

/* Fetches parked by every storage core so far (the "parked" counters of
 * /sluice/cores), or -1. */
static long long parked_total(void)
{
	static char out[TEL_MAX_OUTPUT_LEN + 1];
	char path[600];
	snprintf(path, sizeof(path), "%s/tel.sock", dir);
	int n = tel_query(path, "/sluice/cores", out, sizeof(out));
	if (n < 0) {
		fprintf(stderr, "telemetry %s: %s\n", path, strerror(-n));
		return -1;
	}
	long long sum = 0;
	int cores = 0;
	for (const char *p = out; (p = strstr(p, "\"parked\":")) != NULL;
	     cores++) {
		p += strlen("\"parked\":");
		sum += strtoll(p, NULL, 10);
	}
	return cores ? sum : -1;
}

/* A total of /sluice/msgpool (the first key of that name: the pool's
 * totals come before its classes), or -1. */
static long long msgpool_value(const char *key)
{
	static char out[TEL_MAX_OUTPUT_LEN + 1];
	char path[600], k[64];
	snprintf(path, sizeof(path), "%s/tel.sock", dir);
	int n = tel_query(path, "/sluice/msgpool", out, sizeof(out));
	if (n < 0) {
		fprintf(stderr, "telemetry %s: %s\n", path, strerror(-n));
		return -1;
	}
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(out, k);
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

static long rpc(int fd, const uint8_t *req, size_t len, uint8_t *resp,
		size_t cap)
{
	if (write(fd, req, len) != (ssize_t)len)
		return -1;
	return read_frame(fd, resp, cap);
}

static void ctl_connect(void)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/data/run/sluiced.ctl", dir);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path);
	for (int i = 0; i < 100; i++) {
		ctl = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (connect(ctl, (struct sockaddr *)&a, sizeof(a)) == 0)
			return;
		close(ctl);
		ctl = -1;
		usleep(50000);
	}
	CHECK(!"control socket");
}

static void ctl_sync(void)
{
	uint8_t m[512], r[512];
	sn_header_put(m, SIPC_HELLO, SIPC_HELLO_BYTES, 1, 0);
	rb_put32(m + 16, SIPC_VERSION);
	rb_put32(m + 20, (uint32_t)getpid());
	CHECK(send(ctl, m, SIPC_HELLO_BYTES, 0) == SIPC_HELLO_BYTES);
	CHECK(recv(ctl, r, sizeof(r), 0) == SIPC_HELLO_REPLY_BYTES);
	CHECK(r[3] == (SIPC_HELLO | 0x80));
	CHECK(rb_be16(r + 26) == tcp_port);
	struct sn_metadata_builder b;
	uint8_t tmp[512];
	sn_metadata_resp_begin(&b, tmp, sizeof(tmp), 0, 0, 0);
	struct sn_topic_info ti = { .topic_id = TID, .partitions = 2,
				    .retention_ms = -1, .retention_bytes = -1,
				    .segment_bytes = 1 << 20, .name = "events",
				    .name_len = 6 };
	sn_metadata_resp_add(&b, &ti);
	long n = sn_metadata_resp_finish(&b, 0, 0);
	size_t elen = (size_t)n - SN_METADATA_RESP_BYTES;
	/* a byte after the entry: refused (proto/ipc.h), nothing created */
	sn_header_put(m, SIPC_TOPIC_PUT, (uint32_t)(16 + elen + 1), 2, 0);
	memcpy(m + 16, tmp + SN_METADATA_RESP_BYTES, elen);
	m[16 + elen] = 0;
	CHECK(send(ctl, m, 16 + elen + 1, 0) == (ssize_t)(16 + elen + 1));
	CHECK(recv(ctl, r, sizeof(r), 0) == 16);
	CHECK(r[3] == (SIPC_TOPIC_PUT | 0x80) &&
	      rb_be16(r + 12) == SN_ERR_INVALID_REQUEST);
	sn_header_put(m, SIPC_TOPIC_PUT, (uint32_t)(16 + elen), 2, 0);
	CHECK(send(ctl, m, 16 + elen, 0) == (ssize_t)(16 + elen));
	CHECK(recv(ctl, r, sizeof(r), 0) == 16);
	CHECK(r[3] == (SIPC_TOPIC_PUT | 0x80) && rb_be16(r + 12) == 0);
	sn_header_put(m, SIPC_SYNC_DONE, 16, 3, 0);
	CHECK(send(ctl, m, 16, 0) == 16);
}

static long make_batch(uint8_t *buf, size_t cap, int i, int64_t pid,
		       int32_t seq, int nrec)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, 1700000000000 + i);
	if (pid >= 0)
		rb_builder_set_producer(&b, pid, 0, seq);
	for (int k = 0; k < nrec; k++) {
		char v[64];
		int vl = snprintf(v, sizeof(v), "value-%d-%d", i, k);
		rb_builder_add(&b, "k", 1, v, vl, 1700000000000 + i);
	}
	return rb_builder_finish(&b);
}

static int produce(int fd, uint32_t corr, int32_t part, int16_t acks,
		   uint8_t *batch, long blen, struct sn_produce_resp *pr,
		   int16_t *err)
{
	uint8_t req[70000], resp[256];
	struct sn_produce r = { TID, part, acks, 5000, batch, (uint32_t)blen };
	long n = sn_encode_produce(req, sizeof(req), corr, &r);
	if (acks == 0)
		return write(fd, req, (size_t)n) == n ? 0 : -1;
	long m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
	if (m < 0 || rb_be32(resp + 8) != corr)
		return -1;
	*err = (int16_t)rb_be16(resp + 12);
	return sn_decode_produce_resp(resp, (size_t)m, pr) == 0 || *err ? 0 : -1;
}

static long fetch(int fd, uint32_t corr, int32_t part, int64_t off,
		  uint32_t wait_ms, uint8_t isolation, uint8_t *resp,
		  size_t cap, struct sn_fetch_resp *fr)
{
	uint8_t req[64];
	struct sn_fetch f = { TID, part, off, 1 << 20, wait_ms, 1, isolation };
	long n = sn_encode_fetch(req, sizeof(req), corr, &f);
	long m = rpc(fd, req, (size_t)n, resp, cap);
	if (m < 0 || sn_decode_fetch_resp(resp, (size_t)m, fr)) {
		fprintf(stderr, "fetch: frame %ld error %d\n", m,
			m >= 16 ? (int16_t)rb_be16(resp + 12) : 0);
		return -1;
	}
	return m;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sluiced_test SLUICED\n");
		return 2;
	}
	snprintf(bin, sizeof(bin), "%s", argv[1]);
	const char *base = getenv("SLUICE_TEST_TMPDIR");
	snprintf(dir, sizeof(dir), "%s/tl-sluiced-XXXXXX", base ? base : "/var/tmp");
	if (!mkdtemp(dir))
		return 1;
	tcp_port = free_port(SOCK_STREAM);
	udp_port = free_port(SOCK_DGRAM);
	printf("sluiced_test: dir %s tcp %d udp %d\n", dir, tcp_port, udp_port);
	start();
	ctl_connect();
	ctl_sync();
	int fd = tcp_connect();
	CHECK(fd >= 0);
	static uint8_t batch[70000], resp[1 << 21], batches[10][4096];
	long blen[10];
	struct sn_produce_resp pr;
	int16_t err;

	/* metadata */
	{
		uint8_t req[64];
		long n = sn_encode_metadata(req, sizeof(req), 9, NULL, 0);
		long m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
		struct sn_metadata_resp mr;
		CHECK(m > 0 && sn_decode_metadata_resp(resp, (size_t)m, &mr) == 0);
		CHECK(mr.topic_count == 1 && mr.tcp_port == tcp_port);
		size_t pos = 0;
		struct sn_topic_info ti;
		CHECK(sn_metadata_next(&mr, &pos, &ti) == 1);
		CHECK(ti.topic_id == TID && ti.partitions == 2);
		printf("ok metadata\n");
	}
	/* produce acks=-1, 1, 0 on partition 0 */
	for (int i = 0; i < 6; i++) {
		blen[i] = make_batch(batches[i], sizeof(batches[i]), i, -1, 0, 3);
		int16_t acks = i < 2 ? -1 : i < 4 ? 1 : 0;
		memcpy(batch, batches[i], (size_t)blen[i]);
		CHECK(produce(fd, 100 + i, 0, acks, batch, blen[i], &pr, &err) == 0);
		if (acks)
			CHECK(err == 0 && pr.base_offset == 3 * i &&
			      pr.last_offset == 3 * i + 2);
	}
	printf("ok produce acks=-1/1/0\n");
	/* fetch everything (isolation 1), compare bytes (base offset stamped) */
	{
		struct sn_fetch_resp fr;
		long m = 0;
		for (int t = 0; t < 50; t++) {
			m = fetch(fd, 200, 0, 0, 0, 1, resp, sizeof(resp), &fr);
			CHECK(m > 0);
			if (fr.log_end_offset == 18)
				break;
			usleep(20000);
		}
		CHECK(fr.log_end_offset == 18);
		size_t pos = 0;
		for (int i = 0; i < 6; i++) {
			rb_put64(batches[i], (uint64_t)(3 * i));
			CHECK(pos + (size_t)blen[i] <= fr.records_len);
			CHECK(memcmp(fr.records + pos, batches[i], 12) == 0);
			CHECK(memcmp(fr.records + pos + 16, batches[i] + 16,
				     (size_t)blen[i] - 16) == 0);
			pos += (size_t)blen[i];
		}
		CHECK(pos == fr.records_len);
		printf("ok fetch byte-identical (%u bytes)\n", fr.records_len);
	}
	/* long poll wakes on produce: the fetch may wait 10 minutes, so
	 * only the new batch can answer it within the read's 30 s; the
	 * produce goes once the fetch is parked, so that it is the wake-up
	 * that answers, not the first read */
	{
		int fd2 = tcp_connect();
		CHECK(fd2 >= 0);
		uint8_t req[64];
		struct sn_fetch f = { TID, 1, 0, 1 << 20, 600000, 1, 1 };
		long n = sn_encode_fetch(req, sizeof(req), 300, &f);
		long long parked = parked_total();
		CHECK(parked >= 0);
		double t0 = now_s();
		CHECK(write(fd2, req, (size_t)n) == n);
		long long now_parked = parked;
		while (now_parked <= parked && now_s() - t0 < 30) {
			usleep(2000);
			now_parked = parked_total();
		}
		CHECK(now_parked == parked + 1);
		/* still waiting: nothing to read yet */
		struct pollfd pfd = { fd2, POLLIN, 0 };
		CHECK(poll(&pfd, 1, 0) == 0);
		blen[6] = make_batch(batch, sizeof(batch), 6, -1, 0, 1);
		CHECK(produce(fd, 301, 1, 1, batch, blen[6], &pr, &err) == 0 && err == 0);
		long m = read_frame_ms(fd2, resp, sizeof(resp), 30000);
		double dt = now_s() - t0;
		struct sn_fetch_resp fr;
		CHECK(m > 0 && rb_be32(resp + 8) == 300);
		CHECK(sn_decode_fetch_resp(resp, (size_t)m, &fr) == 0);
		CHECK(fr.records_len == (uint32_t)blen[6]);
		CHECK(memcmp(fr.records + 16, batch + 16, (size_t)blen[6] - 16) == 0);
		printf("ok long poll parked, then woken by the batch (after "
		       "%.3f s)\n", dt);
		close(fd2);
	}
	/* list offsets */
	{
		uint8_t req[64];
		struct sn_list_offsets lo = { TID, 0, -2 };
		long n = sn_encode_list_offsets(req, sizeof(req), 400, &lo);
		struct sn_list_offsets_resp lr;
		long m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
		CHECK(m > 0 && sn_decode_list_offsets_resp(resp, (size_t)m, &lr) == 0);
		CHECK(lr.offset == 0);
		lo.timestamp = -1;
		n = sn_encode_list_offsets(req, sizeof(req), 401, &lo);
		m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
		CHECK(m > 0 && sn_decode_list_offsets_resp(resp, (size_t)m, &lr) == 0);
		CHECK(lr.offset == 18);
		lo.timestamp = 1700000000003;
		n = sn_encode_list_offsets(req, sizeof(req), 402, &lo);
		m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
		CHECK(m > 0 && sn_decode_list_offsets_resp(resp, (size_t)m, &lr) == 0);
		CHECK(lr.offset == 9);
		printf("ok list offsets\n");
	}
	/* idempotence: init pid, seq 0, duplicate, out of order */
	int64_t pid;
	{
		uint8_t req[64];
		int16_t ep;
		long n = sn_encode_init_pid(req, sizeof(req), 500);
		long m = rpc(fd, req, (size_t)n, resp, sizeof(resp));
		CHECK(m > 0 && sn_decode_init_pid_resp(resp, (size_t)m, &pid, &ep) == 0);
		blen[7] = make_batch(batches[7], sizeof(batches[7]), 7, pid, 0, 2);
		memcpy(batch, batches[7], (size_t)blen[7]);
		CHECK(produce(fd, 501, 0, -1, batch, blen[7], &pr, &err) == 0 && err == 0);
		int64_t first = pr.base_offset;
		CHECK(first == 18);
		memcpy(batch, batches[7], (size_t)blen[7]);
		CHECK(produce(fd, 502, 0, -1, batch, blen[7], &pr, &err) == 0 && err == 0);
		CHECK(pr.base_offset == first && pr.last_offset == first + 1);
		blen[8] = make_batch(batch, sizeof(batch), 8, pid, 5, 1);
		CHECK(produce(fd, 503, 0, 1, batch, blen[8], &pr, &err) == 0);
		CHECK(err == SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
		blen[8] = make_batch(batch, sizeof(batch), 8, pid, 2, 1);
		CHECK(produce(fd, 504, 0, -1, batch, blen[8], &pr, &err) == 0);
		CHECK(err == 0 && pr.base_offset == 20);
		printf("ok idempotence (pid %lld): duplicate answered with "
		       "original offsets, out-of-order refused\n", (long long)pid);
	}
	/* UDP: produce, bad CRC, truncated */
	{
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)udp_port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		connect(u, (struct sockaddr *)&a, sizeof(a));
		uint8_t req[4096];
		blen[9] = make_batch(batch, sizeof(batch), 9, -1, 0, 1);
		struct sn_produce r = { TID, 1, 1, 5000, batch, (uint32_t)blen[9] };
		long n = sn_encode_produce(req, sizeof(req), 600, &r);
		CHECK(send(u, req, (size_t)n, 0) == n);
		struct pollfd pfd = { u, POLLIN, 0 };
		CHECK(poll(&pfd, 1, 5000) == 1);
		long m = recv(u, resp, 65536, 0);
		CHECK(m == SN_PRODUCE_RESP_BYTES && rb_be16(resp + 12) == 0);
		CHECK(sn_decode_produce_resp(resp, (size_t)m, &pr) == 0 &&
		      pr.base_offset == 1);
		req[n - 1] ^= 0xff; /* CRC now wrong */
		rb_put32(req + 8, 601);
		CHECK(send(u, req, (size_t)n, 0) == n);
		CHECK(poll(&pfd, 1, 5000) == 1);
		m = recv(u, resp, 65536, 0);
		CHECK(m > 16 && rb_be16(resp + 12) == SN_ERR_CORRUPT_MESSAGE);
		rb_put32(req + 8, 602);
		CHECK(send(u, req, (size_t)n - 5, 0) == n - 5); /* truncated */
		CHECK(poll(&pfd, 1, 5000) == 1);
		m = recv(u, resp, 65536, 0);
		CHECK(m >= 16 && rb_be16(resp + 12) == SN_ERR_INVALID_REQUEST);
		close(u);
		printf("ok udp produce, bad crc, truncated datagram\n");
	}
	/* TCP garbage: error response, then closed */
	{
		int g = tcp_connect();
		uint8_t junk[64];
		memset(junk, 0x5a, sizeof(junk));
		CHECK(write(g, junk, sizeof(junk)) == sizeof(junk));
		long m = read_frame(g, resp, sizeof(resp));
		CHECK(m >= 16 && rb_be16(resp + 12) == SN_ERR_INVALID_REQUEST);
		struct pollfd pfd = { g, POLLIN, 0 };
		CHECK(poll(&pfd, 1, 5000) == 1);
		CHECK(read(g, junk, sizeof(junk)) == 0);
		close(g);
		/* a stalled half frame on another connection blocks nobody */
		int s = tcp_connect();
		CHECK(write(s, junk, 3) == 3);
		uint8_t req[64];
		long n = sn_encode_metadata(req, sizeof(req), 700, NULL, 0);
		CHECK(rpc(fd, req, (size_t)n, resp, sizeof(resp)) > 0);
		close(s);
		printf("ok tcp garbage answered and closed; stalled client "
		       "harmless\n");
	}
	/* every message given back once its answer is out: the pool's
	 * in_use returns to 0 (sends complete on the net core: bounded
	 * wait), from the pool, not the heap */
	{
		long long in_use = -1;
		for (int t = 0; t < 100 && in_use != 0; t++) {
			in_use = msgpool_value("in_use");
			if (in_use)
				usleep(50000);
		}
		CHECK(in_use == 0);
		CHECK(msgpool_value("carved_bytes") > 0);
		CHECK(msgpool_value("carved_bytes") <=
		      msgpool_value("bytes_max"));
		CHECK(msgpool_value("gets") > 20);
		CHECK(msgpool_value("heap_exhausted") == 0);
		CHECK(msgpool_value("heap_in_use") == 0);
		printf("ok message pool: nothing out, nothing from the heap\n");
	}
	/* SIGKILL + restart: acked data kept (topics from topics.cache) */
	close(fd);
	close(ctl);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	start();
	fd = tcp_connect();
	CHECK(fd >= 0);
	{
		struct sn_fetch_resp fr;
		long m = -1;
		for (int t = 0; t < 100 && m < 0; t++) {
			m = fetch(fd, 800, 0, 0, 0, 0, resp, sizeof(resp), &fr);
			if (m < 0 || rb_be16(resp + 12)) {
				m = -1;
				close(fd);
				usleep(50000);
				fd = tcp_connect();
			}
		}
		CHECK(m > 0 && fr.log_end_offset == 21);
		CHECK(memcmp(fr.records + 16, batches[0] + 16, (size_t)blen[0] - 16) == 0);
		/* duplicate of the idempotent batch after restart: original
		 * offsets (state rebuilt from the log) */
		memcpy(batch, batches[7], (size_t)blen[7]);
		CHECK(produce(fd, 801, 0, -1, batch, blen[7], &pr, &err) == 0);
		CHECK(err == 0 && pr.base_offset == 18);
		printf("ok SIGKILL + restart: data and producer state kept\n");
	}
	/* SIGTERM + restart: clean */
	close(fd);
	kill(child, SIGTERM);
	int st;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	start();
	fd = tcp_connect();
	{
		struct sn_fetch_resp fr;
		long m = -1;
		/* the old process's listener may linger a moment: retry */
		for (int t = 0; t < 100 && m < 0; t++) {
			m = fetch(fd, 900, 0, 0, 0, 0, resp, sizeof(resp), &fr);
			if (m < 0) {
				close(fd);
				usleep(50000);
				fd = tcp_connect();
			}
		}
		CHECK(m > 0 && fr.log_end_offset == 21 && fr.high_watermark == 21);
		printf("ok SIGTERM + restart clean\n");
	}
	/* a SYNC_DONE with a body closes the control connection (within
	 * 5 s), and the next one is served */
	{
		close(ctl);
		ctl_connect();
		uint8_t m[17] = { 0 }, r[64];
		sn_header_put(m, SIPC_SYNC_DONE, sizeof(m), 4, 0);
		CHECK(send(ctl, m, sizeof(m), 0) == (ssize_t)sizeof(m));
		struct pollfd p = { .fd = ctl, .events = POLLIN };
		CHECK(poll(&p, 1, 5000) == 1);
		CHECK(recv(ctl, r, sizeof(r), MSG_DONTWAIT) == 0);
		close(ctl);
		ctl_connect();
		uint8_t h[SIPC_HELLO_BYTES];
		sn_header_put(h, SIPC_HELLO, sizeof(h), 5, 0);
		rb_put32(h + 16, SIPC_VERSION);
		rb_put32(h + 20, (uint32_t)getpid());
		CHECK(send(ctl, h, sizeof(h), 0) == (ssize_t)sizeof(h));
		p = (struct pollfd){ .fd = ctl, .events = POLLIN };
		CHECK(poll(&p, 1, 5000) == 1);
		CHECK(recv(ctl, r, sizeof(r), 0) == SIPC_HELLO_REPLY_BYTES);
		printf("ok a malformed SYNC_DONE drops the control connection\n");
	}
	close(fd);
	kill(child, SIGTERM);
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	child = -1;
	cleanup();
	printf("sluiced_test: all passed\n");
	return 0;
}
