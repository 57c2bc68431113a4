/*
 * The transaction marker writer (markers.h has the contract).
 *
 * States: DOWN (no socket; a connect is tried once retry_at_ms has come)
 * -> CONNECTING (a non-blocking connect in progress) -> UP.  While UP, at
 * most one WriteTxnMarkers request is in flight; when it is answered, the
 * answers are applied to the jobs, finished jobs are reported done, and
 * the next request is built from what is left (after a back-off when
 * everything left was answered a retriable error).  Any failure closes
 * the socket and goes DOWN with the back-off doubled.
 *
 * WriteTxnMarkers v1 is a flexible version: request header v2 (header v1
 * and an empty tagged-field section), response header v1 (the
 * correlation id and a tagged-field section).  The bodies are encoded and
 * decoded by the generated codec (proto/kafka/kcodec.h) from the schemas
 * of every Kafka version, whether or not this build's sluiced serves it.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/log.h"
#include "control/markers.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h" /* rb_be32, rb_put32 */

#define VERSION 1
#define ARENA_BYTES (1u << 20)
#define ERR_NONE 0
#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_INVALID_PRODUCER_EPOCH 47

enum mstate { M_DOWN, M_CONNECTING, M_UP };

struct mpart {
	char *topic;               /* malloc'd */
	uint16_t topic_len;
	int32_t partition;
	bool done;
};

struct mjob {
	uint64_t id;
	int64_t pid;
	int16_t epoch;
	bool commit;
	int32_t coordinator_epoch;
	uint32_t n, left;          /* partitions; those not done */
	struct mpart *parts;
	bool in_flight;            /* some of it is in the request sent */
};

struct sl_markers {
	uint16_t port;
	uint32_t addr;             /* IPv4, network order */
	int fd;
	enum mstate state;
	int64_t retry_at_ms, backoff_ms;
	int64_t sent_ms;           /* of the request in flight */
	bool in_flight;
	int32_t corr;
	sl_markers_done_fn done;
	void *done_ctx;
	struct mjob *jobs[SL_MARKERS_JOBS_MAX];
	uint32_t njobs;
	struct kc_arena arena;
	uint8_t *wbuf;             /* the request: [woff, wlen) unsent */
	size_t woff, wlen;
	uint8_t *rbuf;             /* the response being read */
	size_t rlen;
	struct sl_markers_stats st;
};

static void job_free(struct mjob *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		free(j->parts[i].topic);
	free(j->parts);
	free(j);
}

int sl_markers_create(uint16_t port, struct sl_markers **out)
{
	struct sl_markers *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->port = port;
	m->addr = htonl(INADDR_LOOPBACK);
	m->fd = -1;
	m->state = M_DOWN;
	m->backoff_ms = SL_MARKERS_BACKOFF_MIN_MS;
	m->arena = (struct kc_arena){malloc(ARENA_BYTES), ARENA_BYTES, 0};
	m->wbuf = malloc(SL_MARKERS_REQUEST_MAX);
	m->rbuf = malloc(SL_MARKERS_RESPONSE_MAX);
	if (!m->arena.base || !m->wbuf || !m->rbuf) {
		sl_markers_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

static void drop(struct sl_markers *m, int64_t now_ms, bool failed)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->state = M_DOWN;
	m->in_flight = false;
	m->woff = m->wlen = m->rlen = 0;
	for (uint32_t i = 0; i < m->njobs; i++)
		m->jobs[i]->in_flight = false;
	if (failed) {
		m->st.failures++;
		m->retry_at_ms = now_ms + m->backoff_ms;
		m->backoff_ms = m->backoff_ms * 2 > SL_MARKERS_BACKOFF_MAX_MS ?
				SL_MARKERS_BACKOFF_MAX_MS : m->backoff_ms * 2;
	}
}

void sl_markers_destroy(struct sl_markers *m)
{
	if (!m)
		return;
	drop(m, 0, false);
	for (uint32_t i = 0; i < m->njobs; i++)
		job_free(m->jobs[i]);
	free(m->arena.base);
	free(m->wbuf);
	free(m->rbuf);
	free(m);
}

void sl_markers_set_addr(struct sl_markers *m, uint32_t addr)
{
	m->addr = addr;
}

void sl_markers_set_done(struct sl_markers *m, sl_markers_done_fn done,
			 void *ctx)
{
	m->done = done;
	m->done_ctx = ctx;
}

static void job_remove(struct sl_markers *m, uint32_t i)
{
	assert(i < m->njobs);
	job_free(m->jobs[i]);
	m->jobs[i] = m->jobs[--m->njobs];
}

void sl_markers_submit(void *ctx, const struct sl_txn_markers *job)
{
	struct sl_markers *m = ctx;
	assert(m && job && (job->partitions || job->n == 0));
	for (uint32_t i = 0; i < m->njobs; i++)
		if (m->jobs[i]->pid == job->producer_id && !m->jobs[i]->in_flight) {
			job_remove(m, i);
			break;
		}
	struct mjob *j = calloc(1, sizeof(*j));
	if (!j || m->njobs >= SL_MARKERS_JOBS_MAX)
		goto fail;
	*j = (struct mjob){job->id, job->producer_id, job->producer_epoch,
			   job->commit, job->coordinator_epoch, job->n, job->n,
			   calloc(job->n ? job->n : 1, sizeof(struct mpart)),
			   false};
	if (!j->parts)
		goto fail;
	for (uint32_t i = 0; i < job->n; i++) {
		const struct sl_txn_partition *p = &job->partitions[i];
		char *t = malloc(p->topic_len);
		if (!t) {
			j->n = i;
			goto fail;
		}
		memcpy(t, p->topic, p->topic_len);
		j->parts[i] = (struct mpart){t, p->topic_len, p->partition,
					     false};
	}
	m->jobs[m->njobs++] = j;
	return;
fail:
	sl_log("transaction markers of producer %lld: cannot be queued (out "
	       "of memory or %d transactions pending); they are written "
	       "after the next restart", (long long)job->producer_id,
	       SL_MARKERS_JOBS_MAX);
	if (j) {
		if (j->parts)
			for (uint32_t i = 0; i < j->n; i++)
				free(j->parts[i].topic);
		free(j->parts);
		free(j);
	}
}

int sl_markers_fd(const struct sl_markers *m)
{
	return m->fd;
}

short sl_markers_events(const struct sl_markers *m)
{
	if (m->fd < 0)
		return 0;
	if (m->state == M_CONNECTING || m->woff < m->wlen)
		return POLLIN | POLLOUT;
	return POLLIN;
}

int sl_markers_timeout_ms(const struct sl_markers *m, int64_t now_ms)
{
	int64_t at = INT64_MAX;
	if (m->state == M_DOWN && m->njobs)
		at = m->retry_at_ms;
	else if (m->state == M_UP && !m->in_flight && m->njobs)
		at = m->retry_at_ms;
	else if (m->in_flight || m->state == M_CONNECTING)
		at = m->sent_ms + SL_MARKERS_TIMEOUT_MS;
	if (at == INT64_MAX)
		return -1;
	return at <= now_ms ? 0 : at - now_ms > INT32_MAX ? INT32_MAX :
							     (int)(at - now_ms);
}

uint32_t sl_markers_pending(const struct sl_markers *m)
{
	return m->njobs;
}

void sl_markers_get_stats(const struct sl_markers *m,
			  struct sl_markers_stats *out)
{
	*out = m->st;
}

/* ---- the connection ---- */

static void try_connect(struct sl_markers *m, int64_t now_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		drop(m, now_ms, true);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(m->port),
				.sin_addr.s_addr = m->addr};
	m->fd = fd;
	m->sent_ms = now_ms;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		m->state = M_UP;
	} else if (errno == EINPROGRESS) {
		m->state = M_CONNECTING;
	} else {
		drop(m, now_ms, true);
		return;
	}
	if (m->state == M_UP)
		m->st.connects++;
}

/* A connect in progress: done, failed or still going. */
static void check_connect(struct sl_markers *m, int64_t now_ms)
{
	struct pollfd p = {m->fd, POLLOUT, 0};
	if (poll(&p, 1, 0) <= 0)
		return;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		drop(m, now_ms, true);
		return;
	}
	m->state = M_UP;
	m->st.connects++;
}

/* Build the next request from what is not written yet: false when there
 * is nothing to send. */
static bool build(struct sl_markers *m)
{
	struct kc_arena *a = &m->arena;
	a->used = 0;
	uint32_t nm = 0;
	struct kc_write_txn_markers_req_writable_txn_marker *mk =
		(void *)a->base;
	a->used = m->njobs * sizeof(*mk);
	size_t bytes = 64; /* headers, counts */
	for (uint32_t i = 0; i < m->njobs; i++) {
		struct mjob *j = m->jobs[i];
		if (j->left == 0)
			continue;
		/* topics: runs of equal names (the coordinator sorts them) */
		size_t need = 32;
		uint32_t nt = 0;
		for (uint32_t k = 0; k < j->n; k++) {
			if (j->parts[k].done)
				continue;
			need += 4 + 8 + j->parts[k].topic_len;
		}
		if (bytes + need > SL_MARKERS_REQUEST_MAX / 2)
			break;
		bytes += need;
		size_t at = (a->used + 7) & ~(size_t)7;
		struct kc_write_txn_markers_req_writable_txn_marker_topic *tp =
			(void *)(a->base + at);
		a->used = at + j->left * sizeof(*tp);
		int32_t *parts = (void *)(a->base + a->used);
		a->used += j->left * sizeof(*parts);
		assert(a->used <= a->cap);
		uint32_t np = 0;
		const struct mpart *prev = NULL;
		for (uint32_t k = 0; k < j->n; k++) {
			const struct mpart *p = &j->parts[k];
			if (p->done)
				continue;
			if (!prev || prev->topic_len != p->topic_len ||
			    memcmp(prev->topic, p->topic, p->topic_len)) {
				tp[nt].name = (struct kc_str){p->topic,
							      p->topic_len};
				tp[nt].partition_indexes =
					(struct kc_array){&parts[np], 0};
				nt++;
			}
			parts[np++] = p->partition;
			tp[nt - 1].partition_indexes.count++;
			prev = p;
		}
		mk[nm++] = (struct kc_write_txn_markers_req_writable_txn_marker){
			j->pid, j->epoch, j->commit, {tp, (int32_t)nt},
			j->coordinator_epoch, 0};
		j->in_flight = true;
	}
	if (nm == 0)
		return false;
	struct kc_write_txn_markers_req body = {{mk, (int32_t)nm}};
	struct kc_request_header h = {KC_API_WRITE_TXN_MARKERS, VERSION,
				      ++m->corr, {"sluice-control", 14}};
	uint8_t *p = m->wbuf + 4;
	size_t cap = SL_MARKERS_REQUEST_MAX - 4;
	long n = kc_encode(&kc_request_header_schema, 1, false, &h, p, cap);
	assert(n > 0 && (size_t)n < cap);
	p[n++] = 0; /* request header v2: no tagged fields */
	long b = kc_encode(kc_api_spec(KC_API_WRITE_TXN_MARKERS)->request,
			   VERSION, true, &body, p + n, cap - (size_t)n);
	assert(b > 0); /* the bound above keeps it within the buffer */
	rb_put32(m->wbuf, (uint32_t)(n + b));
	m->woff = 0;
	m->wlen = 4 + (size_t)(n + b);
	return true;
}

/* The answer to the request in flight (len bytes at p, without the size
 * prefix): 0, or -EBADMSG when it cannot be read. */
static int apply(struct sl_markers *m, const uint8_t *p, size_t len,
		 int64_t now_ms)
{
	if (len < 5 || (int32_t)rb_be32(p) != m->corr)
		return -EBADMSG;
	size_t at = 4;
	/* response header v1's tagged fields: skipped */
	uint64_t ntags = 0;
	for (int shift = 0; at < len && shift < 35; shift += 7) {
		ntags |= (uint64_t)(p[at] & 0x7f) << shift;
		if (!(p[at++] & 0x80))
			break;
	}
	for (uint64_t i = 0; i < ntags && i < 64; i++) {
		uint64_t v[2] = {0, 0};
		for (int f = 0; f < 2; f++)
			for (int shift = 0; at < len && shift < 35;
			     shift += 7) {
				v[f] |= (uint64_t)(p[at] & 0x7f) << shift;
				if (!(p[at++] & 0x80))
					break;
			}
		if (v[1] > len - at)
			return -EBADMSG;
		at += v[1];
	}
	struct kc_write_txn_markers_resp r;
	m->arena.used = 0;
	long n = kc_decode(kc_api_spec(KC_API_WRITE_TXN_MARKERS)->response,
			   VERSION, true, p + at, len - at, &r, &m->arena);
	if (n < 0 || (size_t)n != len - at)
		return -EBADMSG;
	bool retry = false;
	const struct kc_write_txn_markers_resp_writable_txn_marker_result *mr =
		r.markers.items;
	for (int32_t i = 0; i < r.markers.count; i++) {
		struct mjob *j = NULL;
		for (uint32_t k = 0; k < m->njobs && !j; k++)
			if (m->jobs[k]->pid == mr[i].producer_id &&
			    m->jobs[k]->in_flight)
				j = m->jobs[k];
		if (!j)
			continue;
		const struct kc_write_txn_markers_resp_writable_txn_marker_topic_result
			*tr = mr[i].topics.items;
		for (int32_t t = 0; t < mr[i].topics.count; t++) {
			const struct kc_write_txn_markers_resp_writable_txn_marker_partition_result
				*pr = tr[t].partitions.items;
			for (int32_t q = 0; q < tr[t].partitions.count; q++) {
				int16_t e = pr[q].error_code;
				if (e != ERR_NONE &&
				    e != ERR_UNKNOWN_TOPIC_OR_PARTITION &&
				    e != ERR_INVALID_PRODUCER_EPOCH) {
					m->st.retries++;
					retry = true;
					continue;
				}
				for (uint32_t k = 0; k < j->n; k++) {
					struct mpart *mp = &j->parts[k];
					if (mp->done ||
					    mp->partition != pr[q].partition_index ||
					    tr[t].name.len != mp->topic_len ||
					    memcmp(tr[t].name.ptr, mp->topic,
						   mp->topic_len))
						continue;
					mp->done = true;
					j->left--;
					m->st.partitions_done++;
					break;
				}
			}
		}
	}
	/* finished jobs: reported (the callback may submit new ones) */
	for (uint32_t k = 0; k < m->njobs;) {
		struct mjob *j = m->jobs[k];
		j->in_flight = false;
		if (j->left) {
			k++;
			continue;
		}
		uint64_t id = j->id;
		job_remove(m, k);
		if (m->done)
			m->done(m->done_ctx, id, now_ms);
	}
	m->backoff_ms = SL_MARKERS_BACKOFF_MIN_MS;
	m->retry_at_ms = retry ? now_ms + SL_MARKERS_BACKOFF_MIN_MS : now_ms;
	return 0;
}

int sl_markers_do_work(struct sl_markers *m, int64_t now_ms)
{
	int work = 0;
	if (m->state == M_DOWN) {
		if (m->njobs == 0 || now_ms < m->retry_at_ms)
			return 0;
		try_connect(m, now_ms);
		work++;
	}
	if (m->state == M_CONNECTING) {
		check_connect(m, now_ms);
		if (m->state == M_CONNECTING &&
		    now_ms - m->sent_ms > SL_MARKERS_TIMEOUT_MS)
			drop(m, now_ms, true);
		if (m->state != M_UP)
			return work;
	}
	if (!m->in_flight) {
		/* idle: the peer may have closed (then poll says readable) */
		char c;
		ssize_t r = recv(m->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR)) {
			drop(m, now_ms, r != 0);
			return work;
		}
	}
	if (!m->in_flight && now_ms >= m->retry_at_ms && build(m)) {
		m->in_flight = true;
		m->sent_ms = now_ms;
		m->st.requests++;
		work++;
	}
	/* bounded: each pass writes or ends */
	while (m->woff < m->wlen) {
		ssize_t w = send(m->fd, m->wbuf + m->woff, m->wlen - m->woff,
				 MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w <= 0) {
			drop(m, now_ms, true);
			return work;
		}
		m->woff += (size_t)w;
		work++;
	}
	/* bounded: each pass reads or ends */
	while (m->in_flight) {
		size_t want = m->rlen < 4 ? 4 : 4 + rb_be32(m->rbuf);
		if (m->rlen >= 4 && (want > SL_MARKERS_RESPONSE_MAX ||
				     want < 9)) {
			drop(m, now_ms, true);
			return work;
		}
		if (m->rlen == want && m->rlen >= 4) {
			int rc = apply(m, m->rbuf + 4, want - 4, now_ms);
			m->in_flight = false;
			m->rlen = 0;
			if (rc < 0) {
				drop(m, now_ms, true);
				return work;
			}
			work++;
			break;
		}
		ssize_t r = recv(m->fd, m->rbuf + m->rlen, want - m->rlen, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			drop(m, now_ms, true);
			return work;
		}
		m->rlen += (size_t)r;
	}
	if (m->in_flight && now_ms - m->sent_ms > SL_MARKERS_TIMEOUT_MS)
		drop(m, now_ms, true);
	return work;
}
