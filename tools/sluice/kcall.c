/*
 * The CLI's Kafka requests (contract in kcall.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proto/record_batch.h"
#include "tools/sluice/kcall.h"

#define CLIENT_ID "sluice-cli"
#define ARENA_BYTES (4 * (size_t)KCALL_RESP_MAX)

/* "host:port" or "[v6]:port" into host and port. */
static int split(const char *hp, char *host, size_t cap, char port[8])
{
	const char *colon = strrchr(hp, ':');
	if (!colon || !colon[1] || strlen(colon + 1) > 5)
		return -EINVAL;
	const char *h = hp;
	size_t n = (size_t)(colon - hp);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = 0;
	strcpy(port, colon + 1);
	return 0;
}

/* A connected socket to one address within timeout_ms, or -errno. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
					       SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		rc = -errno;
		goto out_close;
	}
	struct pollfd p = {fd, POLLOUT, 0};
	int ready;
	do
		ready = poll(&p, 1, timeout_ms);
	while (ready < 0 && errno == EINTR);
	if (ready <= 0) {
		rc = ready ? -errno : -ETIMEDOUT;
		goto out_close;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		rc = err ? -err : -errno;
		goto out_close;
	}
	/* blocking from now on, each send and receive bounded */
	if (fcntl(fd, F_SETFL, 0)) {
		rc = -errno;
		goto out_close;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
out_close:
	close(fd);
	return rc;
}

int kcall_connect(struct kcall *k, const char *host_port, int timeout_ms)
{
	assert(timeout_ms > 0);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->timeout_ms = timeout_ms;
	char host[256], port[8];
	if (split(host_port, host, sizeof(host), port))
		return -EINVAL;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	int rc = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai && k->fd < 0; ai = ai->ai_next) {
		rc = connect_one(ai, timeout_ms);
		if (rc >= 0)
			k->fd = rc;
	}
	freeaddrinfo(res);
	if (k->fd < 0)
		return rc;
	k->buf = malloc(KCALL_RESP_MAX);
	k->arena_bytes = ARENA_BYTES;
	k->arena = malloc(k->arena_bytes);
	if (!k->buf || !k->arena) {
		kcall_close(k);
		return -ENOMEM;
	}
	for (size_t i = 0; i < 128; i++)
		k->max_version[i] = -1;
	struct kc_api_versions_req q = {{NULL, -1}, {NULL, -1}};
	union kc_response u;
	rc = kcall_call(k, KC_API_API_VERSIONS, 0, &q, sizeof(q), &u);
	if (rc || u.api_versions.error_code) {
		kcall_close(k);
		return rc ? rc : -EPROTO;
	}
	const struct kc_api_version_key *keys = u.api_versions.api_keys.items;
	for (int32_t i = 0; i < u.api_versions.api_keys.count; i++) {
		if (keys[i].api_key < 0 || keys[i].api_key >= 128)
			continue;
		k->min_version[keys[i].api_key] = keys[i].min_version;
		k->max_version[keys[i].api_key] = keys[i].max_version;
	}
	return 0;
}

int16_t kcall_version(const struct kcall *k, int16_t key, int16_t min,
		      int16_t want_max)
{
	const struct kc_api *api = kc_api_spec(key);
	if (!api || key < 0 || key >= 128 || k->max_version[key] < 0)
		return -1;
	int16_t v = want_max;
	if (v > k->max_version[key])
		v = k->max_version[key];
	if (v > api->kafka_max)
		v = api->kafka_max;
	if (v < min || v < k->min_version[key] || v < api->kafka_min)
		return -1;
	return v;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ?
				       -ETIMEDOUT : -EPIPE;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ?
				       -ETIMEDOUT : -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int kcall_call(struct kcall *k, int16_t key, int16_t version,
	       const void *body, size_t body_size, union kc_response *out)
{
	assert(body_size <= sizeof(union kc_request));
	if (k->fd < 0)
		return -EPIPE;
	union kc_request q;
	memset(&q, 0, sizeof(q));
	memcpy(q.raw, body, body_size);
	struct kc_request_header h = {key, version, ++k->corr,
				      {CLIENT_ID, (int32_t)strlen(CLIENT_ID)}};
	long n = kc_encode_request(&h, &q, k->buf + 4, KCALL_RESP_MAX - 4);
	if (n < 0)
		return -EMSGSIZE;
	rb_put32(k->buf, (uint32_t)n);
	int rc = send_all(k->fd, k->buf, (size_t)n + 4);
	if (rc)
		return rc;
	uint8_t size[4];
	rc = recv_all(k->fd, size, 4);
	if (rc)
		return rc;
	uint32_t len = rb_be32(size);
	if (len > KCALL_RESP_MAX)
		return -EMSGSIZE;
	rc = recv_all(k->fd, k->buf, len);
	if (rc)
		return rc;
	struct kc_arena a = {(uint8_t *)k->arena, k->arena_bytes, 0};
	struct kc_response_header rh;
	long d = kc_decode_response(key, version, k->buf, len, &rh, out, &a);
	if (d == -ENOBUFS)
		return -EMSGSIZE;
	if (d < 0 || rh.correlation_id != k->corr)
		return -EPROTO;
	return 0;
}

void kcall_close(struct kcall *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	free(k->buf);
	free(k->arena);
	k->buf = NULL;
	k->arena = NULL;
}
