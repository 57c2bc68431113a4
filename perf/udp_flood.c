/*
 * sluice-udp-flood: a raw UDP produce sender for perf/dataplane_e2e.sh.
 *
 * The `sluice` CLI cannot send its UDP somewhere else than the broker's TCP
 * address (libsluice has sl_producer_opts.udp_addr; the CLI has no flag
 * for it), and over DPDK the UDP address (dpdk_ip) is not the kernel TCP
 * address.  This sender asks the broker over TCP (libsluice) for the
 * topic id and the partition's end offset, then floods native PRODUCE
 * frames with acks=0 (no answers) through a plain kernel UDP socket to
 * --udp HOST:PORT: each datagram carries one RecordBatch v2 of as many
 * --size messages as fit in --frame bytes (default 1472: one 1500-byte
 * MTU frame, no IP fragments).  Bounded by --count messages and --seconds.
 * Afterwards it polls the end offset (LIST_OFFSETS) until it stops moving:
 * stored = messages the broker appended.  One JSON line on stdout:
 * sent and stored messages, datagrams, seconds, msgs/s and MB/s stored.
 *
 * Usage: sluice-udp-flood -b HOST:PORT --udp HOST:PORT --topic T
 *        [--size BYTES] [--count N] [--seconds S] [--frame BYTES]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *broker = NULL, *udp = NULL, *topic = NULL;
	unsigned size = 100, frame_max = 1472;
	uint64_t count = 1000000;
	double seconds = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b") && i + 1 < argc)
			broker = argv[++i];
		else if (!strcmp(argv[i], "--udp") && i + 1 < argc)
			udp = argv[++i];
		else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
			topic = argv[++i];
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--frame") && i + 1 < argc)
			frame_max = (unsigned)atoi(argv[++i]);
		else
			broker = NULL, i = argc;
	}
	if (!broker || !udp || !topic || size > 8192 || frame_max > 65507) {
		fprintf(stderr, "usage: sluice-udp-flood -b HOST:PORT --udp HOST:PORT "
				"--topic T [--size B] [--count N] [--seconds S] "
				"[--frame B]\n");
		return 2;
	}
	struct sl_client *c;
	int rc = sl_client_create(broker, 5000, &c);
	struct sl_topic_info ti;
	if (rc || (rc = sl_topic_describe(c, topic, &ti))) {
		fprintf(stderr, "broker %s / topic %s: %d\n", broker, topic, rc);
		return 1;
	}
	int64_t start = 0;
	if ((rc = sl_list_offset(c, topic, 0, SL_OFFSET_END, &start))) {
		fprintf(stderr, "list offsets: %d\n", rc);
		return 1;
	}
	/* one batch of k messages that fits in frame_max */
	static uint8_t batch[65536], val[8192], dgram[65536];
	memset(val, 'v', size);
	long bl = -1;
	unsigned k = 0;
	for (unsigned tryk = 1;; tryk++) {
		struct rb_builder b;
		rb_builder_init(&b, batch, sizeof(batch), 1700000000000);
		for (unsigned j = 0; j < tryk; j++)
			rb_builder_add(&b, NULL, 0, val, (int32_t)size, 1700000000000);
		long l = rb_builder_finish(&b);
		if (l < 0 || SN_PRODUCE_REQ_BYTES + (unsigned long)l > frame_max)
			break;
		k = tryk;
	}
	if (!k) {
		fprintf(stderr, "one %u-byte message does not fit in %u bytes\n",
			size, frame_max);
		return 2;
	}
	struct rb_builder b;
	rb_builder_init(&b, batch, sizeof(batch), 1700000000000);
	for (unsigned j = 0; j < k; j++)
		rb_builder_add(&b, NULL, 0, val, (int32_t)size, 1700000000000);
	bl = rb_builder_finish(&b);
	struct sn_produce r = { .topic_id = ti.topic_id, .partition = 0,
				.acks = 0, .timeout_ms = 1000,
				.batch = batch, .batch_len = (uint32_t)bl };
	long dl = sn_encode_produce(dgram, sizeof(dgram), 1, &r);
	if (dl < 0) {
		fprintf(stderr, "encode: %ld\n", dl);
		return 1;
	}
	char host[128];
	snprintf(host, sizeof(host), "%s", udp);
	char *colon = strrchr(host, ':');
	if (!colon)
		return 2;
	*colon = 0;
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int sb = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		perror("udp");
		return 1;
	}
	enum { V = 64 };
	struct mmsghdr mm[V];
	struct iovec iov = { dgram, (size_t)dl };
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < V; i++) {
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t dgrams_max = (count + k - 1) / k, sent = 0, send_err = 0;
	double t0 = now(), t_end = t0 + seconds;
	while (sent < dgrams_max) {
		unsigned n = dgrams_max - sent < V ? (unsigned)(dgrams_max - sent) : V;
		int s = sendmmsg(fd, mm, n, 0);
		if (s < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EPERM) {
				perror("sendmmsg");
				return 1;
			}
			send_err++;
			continue;
		}
		sent += (unsigned)s;
		if ((sent & 1023) < V && now() > t_end)
			break;
	}
	double t_sent = now();
	/* wait for the end offset to stop moving */
	int64_t end = start, last = -1;
	double t_last = t_sent;
	for (int still = 0; still < 10;) {
		usleep(50000);
		if (sl_list_offset(c, topic, 0, SL_OFFSET_END, &end))
			break;
		if (end != last) {
			if (last >= 0 && end > last)
				t_last = now();
			last = end;
			still = 0;
		} else {
			still++;
		}
		if (now() - t_sent > 30)
			break;
	}
	double el = (t_last > t_sent ? t_last : t_sent) - t0;
	uint64_t stored = (uint64_t)(end - start);
	printf("{\"size\":%u,\"messages_per_datagram\":%u,\"datagram_bytes\":%ld,"
	       "\"datagrams_sent\":%" PRIu64 ",\"messages_sent\":%" PRIu64
	       ",\"send_errors\":%" PRIu64 ",\"messages_stored\":%" PRIu64
	       ",\"send_seconds\":%.3f,\"seconds\":%.3f,\"sent_msgs_s\":%.0f,"
	       "\"msgs_s\":%.0f,\"mb_s\":%.2f,\"datagrams_s\":%.0f}\n",
	       size, k, dl, sent, sent * k, send_err, stored, t_sent - t0, el,
	       (double)(sent * k) / (t_sent - t0), (double)stored / el,
	       (double)stored * size / el / 1e6, (double)sent / (t_sent - t0));
	close(fd);
	sl_client_destroy(c);
	return 0;
}
