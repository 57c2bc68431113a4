/*
 * The Kafka-enabled test broker (kbroker.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kbroker.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

int kb_init(struct kb *k, const char *name)
{
	memset(k, 0, sizeof(*k));
	int rc = tb_init(&k->tb, name);
	if (rc)
		return rc;
	/* tb_init chose both ports from the kernel's free ephemeral ones,
	 * and passes kafka_port to both processes */
	k->kafka_port = k->tb.kport;
	if (k->kafka_port <= 0 || k->kafka_port == 9092 || k->kafka_port == 9093 ||
	    k->tb.port == 9092 || k->tb.port == 9093)
		return -EADDRINUSE;
	snprintf(k->kafka_addr, sizeof(k->kafka_addr), "127.0.0.1:%d",
		 k->kafka_port);
	snprintf(k->opt, sizeof(k->opt), "kafka_port=%d", k->kafka_port);
	return 0;
}

/* A request's size prefix and header v1 (client id "kbroker") for a body
 * of body_len bytes, at req: the bytes written. */
static size_t put_header(uint8_t *req, uint16_t api_key, uint16_t version,
			 uint32_t corr, size_t body_len)
{
	static const char client_id[] = "kbroker";
	size_t n = 0;
	uint32_t be32 = htonl((uint32_t)(2 + 2 + 4 + 2 + sizeof(client_id) - 1 +
					 body_len));
	memcpy(req + n, &be32, 4), n += 4;
	uint16_t be16 = htons(api_key);
	memcpy(req + n, &be16, 2), n += 2;
	be16 = htons(version);
	memcpy(req + n, &be16, 2), n += 2;
	be32 = htonl(corr);
	memcpy(req + n, &be32, 4), n += 4;
	be16 = htons(sizeof(client_id) - 1);
	memcpy(req + n, &be16, 2), n += 2;
	memcpy(req + n, client_id, sizeof(client_id) - 1);
	return n + sizeof(client_id) - 1;
}

/* One ApiVersions v0 exchange on a connected socket: 0 when an answer
 * with our correlation id arrives before the socket's receive timeout. */
static int api_versions(int s, const char **why)
{
	uint8_t req[64];
	uint32_t corr = 0x6b62, be32;
	size_t len = put_header(req, 18, 0, corr, 0); /* ApiVersions */
	if (send(s, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		*why = "sending ApiVersions v0 failed";
		return -EIO;
	}
	uint8_t hdr[8];
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t r = recv(s, hdr + got, sizeof(hdr) - got, 0);
		if (r <= 0) {
			*why = r == 0 ? "the Kafka port closed the connection "
					"instead of answering ApiVersions v0" :
					"the Kafka port accepted but did not "
					"answer ApiVersions v0 within 3 s";
			return -EIO;
		}
		got += (size_t)r;
	}
	memcpy(&be32, hdr + 4, 4);
	if (ntohl(be32) != corr) {
		*why = "the ApiVersions v0 answer has the wrong correlation id";
		return -EPROTO;
	}
	return 0;
}

int kb_wait_kafka(struct kb *k, int timeout_ms, const char **why)
{
	int64_t deadline = now_ms() + timeout_ms;
	*why = "nothing listens on the Kafka port (connection refused): the "
	       "broker has no Kafka listener yet, or it did not open kafka_port";
	while (now_ms() < deadline) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return -errno;
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)k->kafka_port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { 3, 0 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			int rc = api_versions(s, why);
			close(s);
			return rc;
		}
		close(s);
		sleep_ms(100);
	}
	return -ETIMEDOUT;
}

int kb_launch(struct kb *k)
{
	int rc = tb_start_sluiced(&k->tb);
	if (rc == 0)
		rc = tb_start_control(&k->tb);
	if (rc)
		fprintf(stderr, "kbroker: cannot start sluiced / sluice-control: %s\n",
			strerror(-rc));
	return rc;
}

int kb_ready(struct kb *k, int timeout_ms)
{
	int64_t t0 = now_ms();
	int rc = tb_wait_ready(&k->tb, timeout_ms);
	if (rc) {
		fprintf(stderr, "kbroker: the native protocol on %s did not get "
			"ready (sluiced up, sluice-control synced) within %d ms\n",
			k->tb.addr, timeout_ms);
		kb_print_logs(k, 20);
		return rc;
	}
	int left = timeout_ms - (int)(now_ms() - t0);
	const char *why = "";
	rc = kb_wait_kafka(k, left < 5000 ? 5000 : left > 10000 ? 10000 : left, &why);
	if (rc) {
		fprintf(stderr, "kbroker: Kafka listener on %s (sluiced/sluice-control "
			"-o %s): %s\n", k->kafka_addr, k->opt, why);
		kb_print_logs(k, 20);
		return rc;
	}
	return 0;
}

int kb_start(struct kb *k, int timeout_ms)
{
	int rc = kb_launch(k);
	return rc ? rc : kb_ready(k, timeout_ms);
}

/* Read exactly len bytes, or fail (the socket's receive timeout bounds
 * each recv). */
static int recv_all(int s, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = recv(s, buf + got, len - got, 0);
		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* One Metadata v1 exchange for no topic (an empty array): the number of
 * brokers the answer lists, or a negative error. */
static int metadata_brokers(int port)
{
	uint8_t req[64];
	uint32_t corr = 0x6b63, be32;
	size_t n = put_header(req, 3, 1, corr, 4); /* Metadata v1 */
	be32 = htonl(0); /* no topics */
	memcpy(req + n, &be32, 4), n += 4;

	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 3, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = -EIO;
	uint8_t hdr[12];
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    send(s, req, n, MSG_NOSIGNAL) == (ssize_t)n &&
	    recv_all(s, hdr, sizeof(hdr)) == 0) {
		memcpy(&be32, hdr + 4, 4);
		uint32_t count;
		memcpy(&count, hdr + 8, 4);
		if (ntohl(be32) == corr && ntohl(count) < 1024)
			rc = (int)ntohl(count);
	}
	close(s);
	return rc;
}

int kb_wait_brokers(struct kb *k, int want, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int seen = -1;
	while (now_ms() < deadline) {
		seen = metadata_brokers(k->kafka_port);
		if (seen == want)
			return 0;
		sleep_ms(100);
	}
	fprintf(stderr, "kbroker: the broker on %s lists %d brokers in Metadata "
		"after %d ms, not %d\n", k->kafka_addr, seen, timeout_ms, want);
	return -ETIMEDOUT;
}

int kb_stop(struct kb *k)
{
	return tb_stop(&k->tb);
}

void kb_print_logs(const struct kb *k, int lines)
{
	DIR *d = opendir(k->tb.dir);
	if (!d)
		return;
	struct dirent *e;
	unsigned shown = 0;
	while ((e = readdir(d)) && shown < 16) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".log"))
			continue;
		fprintf(stderr, "---- last %d lines of %s/%s\n", lines, k->tb.dir,
			e->d_name);
		fflush(stderr);
		tb_sh("tail -n %d '%s/%s' >&2", lines, k->tb.dir, e->d_name);
		shown++;
	}
	closedir(d);
}

int kb_destroy(struct kb *k, int keep)
{
	const char *env = getenv("SLUICE_KEEP");
	return tb_destroy(&k->tb, keep || (env && *env == '1'));
}
