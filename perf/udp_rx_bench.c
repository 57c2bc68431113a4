/*
 * sluice-udp-rx-bench: how the socket driver should receive UDP, measured.
 * The same kernel sender (sendmmsg bursts of 64 on loopback, its own
 * thread) feeds two receivers in turn:
 *   recvmmsg   blocking recvmmsg() of up to 64 datagrams per call
 *   multishot  one io_uring multishot recvmsg with a provided-buffer ring
 *              (what drivers/socket.c does), completions reaped in batches
 * for 64-byte and 1 KiB datagrams, --count datagrams each (default
 * 2,000,000).  Prints datagrams/s received, loss (the sender outruns the
 * receiver: the socket buffer overflows) and the receiver's CPU time per
 * datagram (its thread's getrusage), so the two are compared on work done
 * and not only on rate.  --json prints one object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 64
#define NBUF 4096
#define BUF_BYTES 2048
#define BGID 7

struct run {
	int size;
	long count;
	int rx_fd;
	struct sockaddr_in to;
	_Atomic int sending;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void *sender(void *arg)
{
	struct run *r = arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	static uint8_t payload[2048];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){ payload, (size_t)r->size };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &r->to;
		msgs[i].msg_hdr.msg_namelen = sizeof(r->to);
	}
	for (long sent = 0; sent < r->count;) {
		int n = sendmmsg(fd, msgs, BURST, 0);
		if (n > 0)
			sent += n;
	}
	/* a few end markers (size 1), in case some are lost */
	iov[0].iov_len = 1;
	for (int i = 0; i < 50; i++) {
		sendmmsg(fd, msgs, 1, 0);
		usleep(1000);
	}
	close(fd);
	atomic_store(&r->sending, 0);
	return NULL;
}

static int bind_rx(struct run *r)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int sz = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	r->to = a;
	r->rx_fd = fd;
	return 0;
}

static long rx_recvmmsg(struct run *r)
{
	static uint8_t bufs[BURST][BUF_BYTES];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	struct timeval tv = { 0, 200000 };
	setsockopt(r->rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	long got = 0;
	for (;;) {
		for (int i = 0; i < BURST; i++) {
			iov[i] = (struct iovec){ bufs[i], BUF_BYTES };
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(r->rx_fd, msgs, BURST, 0, NULL);
		if (n <= 0) {
			if (!atomic_load(&r->sending))
				break;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_len == 1)
				return got;
			got++;
		}
	}
	return got;
}

static long rx_multishot(struct run *r)
{
	struct io_uring ring;
	if (io_uring_queue_init(256, &ring, 0) < 0)
		return -1;
	size_t ring_bytes = NBUF * sizeof(struct io_uring_buf);
	struct io_uring_buf_ring *br;
	if (posix_memalign((void **)&br, 4096, ring_bytes))
		return -1;
	uint8_t *mem = malloc((size_t)NBUF * BUF_BYTES);
	struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br,
					.ring_entries = NBUF, .bgid = BGID };
	if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
		fprintf(stderr, "udp-rx-bench: buffer ring not supported\n");
		return -1;
	}
	io_uring_buf_ring_init(br);
	int mask = io_uring_buf_ring_mask(NBUF);
	for (int i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(br, mem + (size_t)i * BUF_BYTES, BUF_BYTES,
				      (unsigned short)i, mask, i);
	io_uring_buf_ring_advance(br, NBUF);
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	long got = 0;
	int armed = 0, done = 0;
	while (!done) {
		if (!armed) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_recvmsg_multishot(sqe, r->rx_fd, &mh, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = BGID;
			armed = 1;
		}
		struct __kernel_timespec ts = { 0, 200000000 };
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		if (rc == -ETIME && !atomic_load(&r->sending))
			break;
		struct io_uring_cqe *cqes[256];
		unsigned n = io_uring_peek_batch_cqe(&ring, cqes, 256);
		int returned = 0;
		for (unsigned i = 0; i < n; i++) {
			struct io_uring_cqe *c = cqes[i];
			if (!(c->flags & IORING_CQE_F_MORE))
				armed = 0;
			if (c->res < 0)
				continue;
			unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
			uint8_t *buf = mem + (size_t)bid * BUF_BYTES;
			struct io_uring_recvmsg_out *o =
				io_uring_recvmsg_validate(buf, c->res, &mh);
			if (o && o->payloadlen == 1)
				done = 1;
			else if (o)
				got++;
			io_uring_buf_ring_add(br, buf, BUF_BYTES, (unsigned short)bid,
					      mask, returned++);
		}
		io_uring_buf_ring_advance(br, returned);
		io_uring_cq_advance(&ring, n);
	}
	io_uring_queue_exit(&ring);
	free(mem);
	free(br);
	return got;
}

struct result {
	double rate, loss, cpu_ns;
};

static struct result run_one(int size, long count, int multishot)
{
	struct run r = { .size = size, .count = count };
	struct result res = { 0 };
	if (bind_rx(&r) < 0)
		return res;
	atomic_store(&r.sending, 1);
	pthread_t th;
	double c0 = thread_cpu_s(), t0 = now_s();
	pthread_create(&th, NULL, sender, &r);
	long got = multishot ? rx_multishot(&r) : rx_recvmmsg(&r);
	double t1 = now_s(), c1 = thread_cpu_s();
	pthread_join(th, NULL);
	close(r.rx_fd);
	if (got <= 0)
		return res;
	res.rate = (double)got / (t1 - t0);
	res.loss = 1.0 - (double)got / (double)count;
	res.cpu_ns = (c1 - c0) * 1e9 / (double)got;
	return res;
}

int main(int argc, char **argv)
{
	long count = 2000000;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: sluice-udp-rx-bench [--count N] "
					"[--json]\n");
			return 2;
		}
	}
	static const int sizes[] = { 64, 1024 };
	struct result res[2][2];
	for (int s = 0; s < 2; s++)
		for (int m = 0; m < 2; m++)
			res[s][m] = run_one(sizes[s], count, m);
	if (json) {
		printf("{");
		for (int s = 0; s < 2; s++)
			for (int m = 0; m < 2; m++)
				printf("%s\"%s_%d\":{\"datagrams_per_s\":%.0f,"
				       "\"loss\":%.4f,\"rx_cpu_ns_per_datagram\":"
				       "%.0f}", s || m ? "," : "",
				       m ? "multishot" : "recvmmsg", sizes[s],
				       res[s][m].rate, res[s][m].loss,
				       res[s][m].cpu_ns);
		printf("}\n");
		return 0;
	}
	printf("UDP receive on loopback, %ld datagrams per case, one sender "
	       "thread (sendmmsg x%d)\n", count, BURST);
	printf("%-10s %6s %14s %8s %16s\n", "receiver", "bytes", "datagrams/s",
	       "loss", "rx CPU ns/dgram");
	for (int s = 0; s < 2; s++)
		for (int m = 0; m < 2; m++)
			printf("%-10s %6d %14.0f %7.1f%% %16.0f\n",
			       m ? "multishot" : "recvmmsg", sizes[s],
			       res[s][m].rate, res[s][m].loss * 100,
			       res[s][m].cpu_ns);
	return 0;
}
