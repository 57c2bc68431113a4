/*
 * sluice-tcp-loopback: the loopback TCP limit of this machine, the
 * physical ceiling of any broker benchmark that runs on loopback.  One
 * sender and one receiver thread move --mib MiB (default 4096) through
 * one TCP connection on 127.0.0.1 with 1 MiB writes and reads, and print
 * MB/s (10^6 bytes/s).  --json prints {"tcp_loopback_mb_per_s": N}.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static int g_listen;
static unsigned long long g_bytes;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *receiver(void *arg)
{
	(void)arg;
	int fd = accept(g_listen, NULL, NULL);
	char *buf = malloc(CHUNK);
	unsigned long long got = 0;
	while (fd >= 0 && got < g_bytes) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n <= 0)
			break;
		got += (unsigned long long)n;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int json = 0;
	unsigned long long mib = 4096;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: sluice-tcp-loopback [--mib N] "
					"[--json]\n");
			return 2;
		}
	}
	g_bytes = mib << 20;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	g_listen = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(g_listen, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(g_listen, 1) < 0 ||
	    getsockname(g_listen, (struct sockaddr *)&a, &al) < 0) {
		perror("sluice-tcp-loopback: listen");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, receiver, NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("sluice-tcp-loopback: connect");
		return 1;
	}
	char *buf = calloc(1, CHUNK);
	double t0 = now_s();
	unsigned long long sent = 0;
	while (sent < g_bytes) {
		ssize_t n = write(fd, buf, CHUNK);
		if (n <= 0)
			break;
		sent += (unsigned long long)n;
	}
	close(fd);
	pthread_join(th, NULL);
	double mbps = (double)sent / (now_s() - t0) / 1e6;
	if (json)
		printf("{\"tcp_loopback_mb_per_s\": %.1f}\n", mbps);
	else
		printf("loopback TCP: %llu MiB in one connection: %.1f MB/s\n",
		       mib, mbps);
	free(buf);
	return 0;
}
