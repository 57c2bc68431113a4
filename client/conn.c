/*
 * The broker connection of libsluice: address parsing, a blocking TCP
 * connection that reads whole native frames (docs/protocol.md), the
 * request/answer helper the admin and consumer paths use, and error
 * sentences.
 *
 * Failure modes: connect refused or timed out (-ECONNREFUSED, -ETIMEDOUT),
 * the broker closing the stream (-ECONNRESET), a frame whose header does
 * not parse (-EPROTO: the stream can no longer be trusted; the caller
 * closes and reconnects).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/record_batch.h"

uint64_t slc_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t slc_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int slc_parse_addr(const char *addr, struct sockaddr_in *sin, char *text,
		   size_t cap)
{
	char host[256];
	long port = SL_DEFAULT_PORT;
	if (!addr || !*addr)
		addr = SL_DEFAULT_HOST;
	const char *colon = strrchr(addr, ':');
	size_t hlen = colon ? (size_t)(colon - addr) : strlen(addr);
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = 0;
	if (!hlen)
		snprintf(host, sizeof(host), "%s", SL_DEFAULT_HOST);
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port < 1 || port > 65535)
			return -EINVAL;
	}
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		struct addrinfo hints = { .ai_family = AF_INET }, *res;
		if (getaddrinfo(host, NULL, &hints, &res) || !res)
			return -EINVAL;
		sin->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
	}
	if (text) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(text, cap, "%s:%ld", ip, port);
	}
	return 0;
}

void slc_conn_init(struct slc_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_corr = 1;
}

int slc_conn_open(struct slc_conn *c, const struct sockaddr_in *sin,
		  int timeout_ms)
{
	assert(c->fd < 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sin, sizeof(*sin));
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto close_fd;
	}
	if (rc < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		rc = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 5000);
		if (rc == 0) {
			rc = -ETIMEDOUT;
			goto close_fd;
		}
		int err = 0;
		socklen_t sl = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			rc = -err;
			goto close_fd;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->rlen = c->rhead = 0;
	return 0;
close_fd:
	close(fd);
	return rc;
}

void slc_conn_close(struct slc_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rcap = c->rlen = c->rhead = 0;
}

static int wait_fd(int fd, short events, uint64_t deadline_us)
{
	for (;;) {
		uint64_t now = slc_now_us();
		int ms = now >= deadline_us ? 0 :
			 (int)((deadline_us - now + 999) / 1000);
		struct pollfd pfd = { .fd = fd, .events = events };
		int rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int slc_conn_send2(struct slc_conn *c, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, int timeout_ms)
{
	if (c->fd < 0)
		return -ENOTCONN;
	uint64_t deadline = slc_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 30000) * 1000u;
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	int n = blen ? 2 : 1;
	struct iovec *v = iov;
	while (n > 0) {
		ssize_t w = writev(c->fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int rc = wait_fd(c->fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return -ETIMEDOUT;
			continue;
		}
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (uint8_t *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int slc_conn_send(struct slc_conn *c, const uint8_t *buf, size_t len,
		  int timeout_ms)
{
	return slc_conn_send2(c, buf, len, NULL, 0, timeout_ms);
}

int slc_conn_recv(struct slc_conn *c, int timeout_ms, const uint8_t **frame,
		  size_t *len)
{
	if (c->fd < 0)
		return -ENOTCONN;
	uint64_t deadline = slc_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	for (;;) {
		struct sn_header h;
		size_t avail = c->rlen - c->rhead;
		long fl = sn_header_parse(c->rbuf + c->rhead, avail,
					  SN_TCP_MAX_FRAME, &h);
		if (fl < 0)
			return -EPROTO;
		if (fl > 0 && avail >= (size_t)fl) {
			*frame = c->rbuf + c->rhead;
			*len = (size_t)fl;
			c->rhead += (size_t)fl;
			return 1;
		}
		/* make room: move the partial frame to the front, grow */
		if (c->rhead) {
			memmove(c->rbuf, c->rbuf + c->rhead, avail);
			c->rlen = avail;
			c->rhead = 0;
		}
		size_t want = fl > 0 ? (size_t)fl : 65536;
		if (want < 65536)
			want = 65536;
		if (c->rcap < want) {
			uint8_t *nb = realloc(c->rbuf, want);
			if (!nb)
				return -ENOMEM;
			c->rbuf = nb;
			c->rcap = want;
		}
		ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (r > 0) {
			c->rlen += (size_t)r;
			continue;
		}
		if (r == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0;
	}
}

int slc_conn_call(struct slc_conn *c, uint8_t *req, size_t reqlen,
		  int timeout_ms, const uint8_t **frame, size_t *len)
{
	uint32_t corr = rb_be32(req + 8);
	uint64_t deadline = slc_now_us() + (uint64_t)timeout_ms * 1000u;
	int rc = slc_conn_send(c, req, reqlen, timeout_ms);
	if (rc < 0)
		return rc;
	for (;;) {
		uint64_t now = slc_now_us();
		if (now >= deadline)
			return -ETIMEDOUT;
		rc = slc_conn_recv(c, (int)((deadline - now) / 1000u) + 1,
				   frame, len);
		if (rc <= 0)
			return rc ? rc : -ETIMEDOUT;
		if (rb_be32(*frame + 8) == corr)
			return 1;
		if (c->other)
			c->other(c->other_arg, *frame, *len);
	}
}

int slc_frame_error(const uint8_t *frame)
{
	return sl_err_broker((int16_t)rb_be16(frame + 12));
}

int slc_decode_error(int rc)
{
	return rc < 0 ? sl_err_broker(-rc) : rc;
}

/* ---- requests shared by admin, producer and consumer ---- */

#define CALL_TIMEOUT_MS 10000

static void copy_info(struct sl_topic_info *o, const struct sn_topic_info *t)
{
	memset(o, 0, sizeof(*o));
	size_t n = t->name_len < sizeof(o->name) - 1 ? t->name_len :
						      sizeof(o->name) - 1;
	memcpy(o->name, t->name, n);
	o->topic_id = t->topic_id;
	o->partitions = t->partitions;
	o->durability = t->durability;
	o->retention_ms = t->retention_ms;
	o->retention_bytes = t->retention_bytes;
	o->segment_bytes = t->segment_bytes;
	o->error = sl_err_broker(t->error);
}

int slc_metadata_one(struct slc_conn *c, const char *name,
		     struct sl_topic_info *info, uint16_t ports[2],
		     uint32_t *udp_max_frame)
{
	uint8_t req[SN_METADATA_REQ_BYTES + 2 + SN_NAME_MAX + 8];
	const char *names[1] = { name };
	long n = sn_encode_metadata(req, sizeof(req), c->next_corr++, names,
				    name ? 1 : 0);
	if (n < 0)
		return -EINVAL;
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(c, req, (size_t)n, CALL_TIMEOUT_MS, &f, &len);
	if (rc < 0)
		return rc;
	if ((rc = slc_frame_error(f)))
		return rc;
	struct sn_metadata_resp r;
	if ((rc = sn_decode_metadata_resp(f, len, &r)))
		return slc_decode_error(rc);
	if (ports) {
		ports[0] = r.udp_port;
		ports[1] = r.tcp_port;
	}
	if (udp_max_frame)
		*udp_max_frame = r.udp_max_frame;
	if (!name)
		return 0;
	size_t pos = 0;
	struct sn_topic_info t;
	while ((rc = sn_metadata_next(&r, &pos, &t)) == 1) {
		if (t.name_len == strlen(name) &&
		    !memcmp(t.name, name, t.name_len)) {
			copy_info(info, &t);
			return info->error;
		}
	}
	return rc < 0 ? slc_decode_error(rc) :
			sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
}

int slc_list_offset(struct slc_conn *c, uint32_t topic_id, int32_t partition,
		    int64_t timestamp, int64_t *offset)
{
	uint8_t req[SN_LIST_OFFSETS_REQ_BYTES];
	struct sn_list_offsets lo = { .topic_id = topic_id,
				      .partition = partition,
				      .timestamp = timestamp };
	long n = sn_encode_list_offsets(req, sizeof(req), c->next_corr++, &lo);
	assert(n == SN_LIST_OFFSETS_REQ_BYTES);
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(c, req, (size_t)n, CALL_TIMEOUT_MS, &f, &len);
	if (rc < 0)
		return rc;
	if ((rc = slc_frame_error(f)))
		return rc;
	struct sn_list_offsets_resp r;
	if ((rc = sn_decode_list_offsets_resp(f, len, &r)))
		return slc_decode_error(rc);
	*offset = r.offset;
	return 0;
}

/* ---- errors ---- */

const char *sl_broker_error_message(int code)
{
	switch (code) {
	case SN_ERR_NONE: return "success";
	case SN_ERR_UNKNOWN_SERVER_ERROR:
		return "unexpected broker failure; see the broker's log";
	case SN_ERR_OFFSET_OUT_OF_RANGE:
		return "the offset is below the log start or beyond its end; seek to the beginning or the end";
	case SN_ERR_CORRUPT_MESSAGE:
		return "the broker rejected a corrupt batch (length, magic or CRC32C)";
	case SN_ERR_UNKNOWN_TOPIC_OR_PARTITION:
		return "no such topic or partition; create the topic with: sluice topic create NAME";
	case SN_ERR_REQUEST_TIMED_OUT:
		return "the broker did not reach durability in time; the batch is resent with the same sequence";
	case SN_ERR_MESSAGE_TOO_LARGE:
		return "the frame or batch is larger than the broker accepts; use smaller batches or TCP";
	case SN_ERR_INVALID_TOPIC_EXCEPTION:
		return "invalid topic name: use 1-200 characters of [A-Za-z0-9._-], not '.' or '..'";
	case SN_ERR_INVALID_REQUIRED_ACKS:
		return "acks must be 0, 1 or all (-1)";
	case SN_ERR_UNSUPPORTED_VERSION:
		return "the broker does not support this request; upgrade the broker or the client";
	case SN_ERR_TOPIC_ALREADY_EXISTS:
		return "the topic already exists";
	case SN_ERR_INVALID_PARTITIONS:
		return "invalid partition count: use 1 to 1024";
	case SN_ERR_INVALID_REQUEST:
		return "the broker found the request malformed";
	case SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
		return "out of order sequence number; the producer resends from the first unacknowledged batch";
	case SN_ERR_INVALID_PRODUCER_EPOCH:
		return "this producer was fenced by a newer one with the same id";
	case SN_ERR_KAFKA_STORAGE_ERROR:
		return "the broker's disk failed (full or I/O error); nothing was kept; retry later";
	case SN_ERR_THROTTLING_QUOTA_EXCEEDED:
		return "the broker is saturated; retry after the throttle time";
	}
	return sn_error_message(code);
}

const char *sl_error_message(int rc)
{
	if (sl_is_broker_err(rc))
		return sl_broker_error_message(sl_broker_code(rc));
	switch (rc) {
	case -ECONNREFUSED:
		return "connection refused: is the broker running? start it with ./tools/run";
	case -ETIMEDOUT:
		return "timed out waiting for the broker";
	case -ECONNRESET:
		return "the broker closed the connection";
	case -EPROTO:
		return "the broker sent a frame that cannot be parsed";
	case -EAGAIN:
		return "the producer's buffer is full (backpressure); poll and retry";
	case -EMSGSIZE:
		return "the message is larger than one batch may be; raise batch_bytes or use TCP";
	}
	return sl_strerror(rc);
}

/* ---- routing to partition leaders ---- */

_Static_assert(SLC_PARTITIONS_MAX == SN_PARTITIONS_MAX, "one bound");

int slc_not_leader(int broker_code)
{
	return broker_code == SN_ERR_NOT_LEADER_OR_FOLLOWER ||
	       broker_code == SN_ERR_FENCED_LEADER_EPOCH ||
	       broker_code == SN_ERR_UNKNOWN_LEADER_EPOCH ||
	       broker_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* A broker's address: host (empty: reached's) and port. */
static int broker_addr(const struct sockaddr_in *reached, const char *host,
		       uint16_t host_len, uint16_t port,
		       struct sockaddr_in *out)
{
	*out = *reached;
	if (host_len) {
		char text[SN_HOST_MAX + 8];
		snprintf(text, sizeof(text), "%.*s:%u", (int)host_len, host,
			 (unsigned)port);
		if (slc_parse_addr(text, out, NULL, 0))
			return -EINVAL;
	}
	out->sin_port = htons(port);
	return 0;
}

int slc_route_get(struct slc_conn *c, const struct sockaddr_in *reached,
		  const char *topic, struct slc_route *r)
{
	uint8_t req[SN_LEADERS_REQ_BYTES + 2 + SN_NAME_MAX + 8];
	const char *names[1] = { topic };
	long n = sn_encode_leaders(req, sizeof(req), c->next_corr++, names, 1);
	if (n < 0)
		return -EINVAL;
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(c, req, (size_t)n, CALL_TIMEOUT_MS, &f, &len);
	if (rc < 0)
		return rc;
	if ((int16_t)rb_be16(f + 12) == SN_ERR_UNSUPPORTED_VERSION)
		return -EOPNOTSUPP;
	if ((rc = slc_frame_error(f)))
		return rc;
	struct sn_leaders_resp lr;
	if ((rc = sn_decode_leaders_resp(f, len, &lr)))
		return slc_decode_error(rc);
	memset(r, 0, offsetof(struct slc_route, leader));
	size_t pos = 0;
	struct sn_leaders_broker b;
	while (sn_leaders_next_broker(&lr, &pos, &b) == 1 &&
	       r->nbrokers < SLC_BROKERS_MAX) {
		struct slc_broker *sb = &r->brokers[r->nbrokers];
		if (broker_addr(reached, b.host, b.host_len, b.tcp_port,
				&sb->tcp) ||
		    broker_addr(reached, b.udp_host_len ? b.udp_host : b.host,
				b.udp_host_len ? b.udp_host_len : b.host_len,
				b.udp_port, &sb->udp))
			continue; /* a host we cannot resolve: not routed to */
		sb->node_id = b.node_id;
		r->nbrokers++;
	}
	pos = 0;
	struct sn_leaders_topic t;
	while (sn_leaders_next_topic(&lr, &pos, &t) == 1) {
		if (t.name_len != strlen(topic) ||
		    memcmp(t.name, topic, t.name_len))
			continue;
		if (t.error)
			return sl_err_broker(t.error);
		r->partitions = t.partitions;
		for (int32_t p = 0; p < t.partitions; p++) {
			int32_t leader, epoch;
			sn_leaders_partition(&t, p, &leader, &epoch);
			r->leader[p] = -1;
			for (int i = 0; i < r->nbrokers; i++)
				if (r->brokers[i].node_id == leader)
					r->leader[p] = (int16_t)i;
		}
		return 0;
	}
	return sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
}
