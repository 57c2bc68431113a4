/*
 * udp_fault_proxy: a userspace UDP proxy for tests that duplicates,
 * reorders and drops datagrams in both directions, from a seed.
 *
 *   udp_fault_proxy --listen PORT --to HOST:PORT [--seed N] [--dup PCT]
 *                   [--reorder PCT] [--drop PCT] [--duration S]
 *                   [--stats FILE]
 *
 * Each client address gets its own upstream socket, so the broker sees one
 * peer per client and its answers find their way back.  A datagram picked
 * for reordering is held back and sent after the next datagram in the same
 * direction, or after 5 ms, whichever comes first.  Prints its counters on
 * exit (SIGTERM, SIGINT, or --duration seconds, default 120: it always
 * stops by itself), and with --stats writes them to FILE as one line
 *   in N out N duplicated N reordered N dropped N clients N
 * (written to FILE.tmp and renamed: a reader sees all of it or nothing),
 * so that a test can check the faults it asked for really happened.
 * Listens on 127.0.0.1 only unless --listen-host says otherwise (a
 * namespace address in the tests).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_DGRAM 65536
#define HOLD_NS 5000000ull

struct held {
	int fd;                      /* send on this socket */
	struct sockaddr_in to;       /* to this address */
	uint8_t buf[MAX_DGRAM];
	size_t len;
	uint64_t since_ns;
	int used;
};

struct client {
	struct sockaddr_in addr;
	int up_fd; /* connected to the target */
	struct held held_up;   /* client -> target */
	struct held held_down; /* target -> client */
};

static volatile sig_atomic_t g_stop;
static uint64_t g_rng;
static unsigned g_dup, g_reorder, g_drop;
static uint64_t c_in, c_out, c_dup, c_reorder, c_drop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned pct(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (unsigned)(g_rng % 100);
}

static void out(int fd, const struct sockaddr_in *to, const uint8_t *p,
		size_t len)
{
	ssize_t n = to ? sendto(fd, p, len, 0, (const struct sockaddr *)to,
				sizeof(*to))
		       : send(fd, p, len, 0);
	if (n == (ssize_t)len)
		c_out++;
}

static void flush_held(struct held *h)
{
	if (!h->used)
		return;
	out(h->fd, h->to.sin_port ? &h->to : NULL, h->buf, h->len);
	h->used = 0;
}

/* Forward one datagram with faults; to == NULL: connected socket. */
static void forward(struct held *h, int fd, const struct sockaddr_in *to,
		    const uint8_t *p, size_t len)
{
	c_in++;
	if (pct() < g_drop) {
		c_drop++;
		return;
	}
	if (!h->used && pct() < g_reorder) {
		c_reorder++;
		h->fd = fd;
		if (to)
			h->to = *to;
		else
			memset(&h->to, 0, sizeof(h->to));
		memcpy(h->buf, p, len);
		h->len = len;
		h->since_ns = now_ns();
		h->used = 1;
		return;
	}
	out(fd, to, p, len);
	if (pct() < g_dup) {
		c_dup++;
		out(fd, to, p, len);
	}
	flush_held(h); /* the held one now arrives after this one */
}

/* The counters as one line, into path (via path.tmp); 0 or -1. */
static int write_stats(const char *path, int nclients)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "in %llu out %llu duplicated %llu reordered %llu dropped "
		   "%llu clients %d\n", (unsigned long long)c_in,
		(unsigned long long)c_out, (unsigned long long)c_dup,
		(unsigned long long)c_reorder, (unsigned long long)c_drop,
		nclients);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int parse_hostport(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct client clients[MAX_CLIENTS];
	static uint8_t buf[MAX_DGRAM];
	struct sockaddr_in target, listen_addr;
	const char *listen_host = "127.0.0.1";
	int listen_port = -1, nclients = 0;
	double duration = 120;
	g_rng = 88172645463325252ull;
	const char *to = NULL, *stats = NULL;
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-host", required_argument, NULL, 'H' },
		{ "to", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "dup", required_argument, NULL, 'd' },
		{ "reorder", required_argument, NULL, 'r' },
		{ "drop", required_argument, NULL, 'x' },
		{ "duration", required_argument, NULL, 'D' },
		{ "stats", required_argument, NULL, 'S' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_port = atoi(optarg); break;
		case 'H': listen_host = optarg; break;
		case 't': to = optarg; break;
		case 's': g_rng = strtoull(optarg, NULL, 10) | 1; break;
		case 'd': g_dup = (unsigned)atoi(optarg); break;
		case 'r': g_reorder = (unsigned)atoi(optarg); break;
		case 'x': g_drop = (unsigned)atoi(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 'S': stats = optarg; break;
		default:
			fprintf(stderr, "usage: udp_fault_proxy --listen PORT --to "
					"HOST:PORT [--seed N] [--dup PCT] "
					"[--reorder PCT] [--drop PCT] "
					"[--duration S] [--stats FILE]\n");
			return 2;
		}
	}
	if (listen_port < 0 || !to || parse_hostport(to, &target) < 0) {
		fprintf(stderr, "udp_fault_proxy: --listen PORT and --to "
				"HOST:PORT are required\n");
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_port = htons((uint16_t)listen_port);
	inet_pton(AF_INET, listen_host, &listen_addr.sin_addr);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&listen_addr,
			    sizeof(listen_addr)) < 0) {
		perror("udp_fault_proxy: bind");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	uint64_t deadline = now_ns() + (uint64_t)(duration * 1e9);
	while (!g_stop && now_ns() < deadline) {
		struct pollfd pfd[1 + MAX_CLIENTS];
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < nclients; i++)
			pfd[1 + i] = (struct pollfd){ .fd = clients[i].up_fd,
						      .events = POLLIN };
		int n = poll(pfd, (nfds_t)(1 + nclients), 1);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t len = recvfrom(lfd, buf, sizeof(buf), 0,
					       (struct sockaddr *)&from, &fl);
			if (len > 0) {
				int i;
				for (i = 0; i < nclients; i++)
					if (clients[i].addr.sin_port == from.sin_port &&
					    clients[i].addr.sin_addr.s_addr ==
						    from.sin_addr.s_addr)
						break;
				if (i == nclients && nclients < MAX_CLIENTS) {
					int ufd = socket(AF_INET, SOCK_DGRAM, 0);
					if (ufd >= 0 &&
					    connect(ufd, (struct sockaddr *)&target,
						    sizeof(target)) == 0) {
						clients[i].addr = from;
						clients[i].up_fd = ufd;
						nclients++;
					} else if (ufd >= 0) {
						close(ufd);
					}
				}
				if (i < nclients)
					forward(&clients[i].held_up,
						clients[i].up_fd, NULL, buf,
						(size_t)len);
			}
		}
		for (int i = 0; n > 0 && i < nclients; i++) {
			if (!(pfd[1 + i].revents & POLLIN))
				continue;
			ssize_t len = recv(clients[i].up_fd, buf, sizeof(buf), 0);
			if (len > 0)
				forward(&clients[i].held_down, lfd,
					&clients[i].addr, buf, (size_t)len);
		}
		uint64_t t = now_ns();
		for (int i = 0; i < nclients; i++) {
			if (clients[i].held_up.used &&
			    t - clients[i].held_up.since_ns > HOLD_NS)
				flush_held(&clients[i].held_up);
			if (clients[i].held_down.used &&
			    t - clients[i].held_down.since_ns > HOLD_NS)
				flush_held(&clients[i].held_down);
		}
	}
	printf("udp_fault_proxy: in %llu out %llu duplicated %llu reordered "
	       "%llu dropped %llu clients %d\n", (unsigned long long)c_in,
	       (unsigned long long)c_out, (unsigned long long)c_dup,
	       (unsigned long long)c_reorder, (unsigned long long)c_drop,
	       nclients);
	if (stats && write_stats(stats, nclients) < 0) {
		fprintf(stderr, "udp_fault_proxy: cannot write %s: %s\n", stats,
			strerror(errno));
		return 1;
	}
	return 0;
}
