/*
 * The transaction marker writer (markers.h has the contract).
 *
 * Each pass first routes every pending marker (the route callback: its
 * partition's leader) to a connection, one per listener.  A connection's
 * states: DOWN (no socket; a connect is tried once retry_at_ms has come
 * and a marker goes there) -> CONNECTING (a non-blocking connect in
 * progress) -> UP.  While UP, at most one WriteTxnMarkers request is in
 * flight on it; when it is answered, the
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
	int8_t dest;               /* the connection it goes to now, -1 */
	int8_t conn;               /* the connection it is in flight on, -1 */
};

struct mjob {
	uint64_t id;
	int64_t pid;
	int16_t epoch;
	bool commit;
	int32_t coordinator_epoch;
	uint32_t n, left;          /* partitions; those not done */
	struct mpart *parts;
	bool cancelled;            /* dropped when nothing is in flight */
};

/* One broker's Kafka listener. */
struct mconn {
	bool used;
	uint32_t addr;             /* IPv4, network order */
	uint16_t port;
	bool want;                 /* some marker goes here now */
	int fd;
	enum mstate state;
	int64_t retry_at_ms, backoff_ms;
	int64_t sent_ms;           /* of the request in flight */
	bool in_flight;
	int32_t corr;
	uint8_t *wbuf;             /* the request: [woff, wlen) unsent */
	size_t woff, wlen;
	uint8_t *rbuf;             /* the response being read */
	size_t rlen;
};

struct sl_markers {
	uint16_t port;             /* where markers go without a route */
	uint32_t addr;
	sl_markers_route_fn route;
	void *route_ctx;
	struct mconn conns[SL_MARKERS_CONNS_MAX];
	sl_markers_done_fn done;
	void *done_ctx;
	struct mjob *jobs[SL_MARKERS_JOBS_MAX];
	uint32_t njobs;
	struct kc_arena arena;
	bool unrouted;             /* a marker has nowhere to go now */
	struct sl_markers_stats st;
};

static void job_free(struct mjob *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		free(j->parts[i].topic);
	free(j->parts);
	free(j);
}

static bool job_in_flight(const struct mjob *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		if (j->parts[i].conn >= 0)
			return true;
	return false;
}

int sl_markers_create(uint16_t port, struct sl_markers **out)
{
	struct sl_markers *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->port = port;
	m->addr = htonl(INADDR_LOOPBACK);
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++)
		m->conns[c].fd = -1;
	m->arena = (struct kc_arena){malloc(ARENA_BYTES), ARENA_BYTES, 0};
	if (!m->arena.base) {
		sl_markers_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

/* Connection c closed; the markers in flight on it go back to pending;
 * after a failure the next connect waits for the doubled back-off. */
static void drop(struct sl_markers *m, unsigned c, int64_t now_ms,
		 bool failed)
{
	struct mconn *k = &m->conns[c];
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->state = M_DOWN;
	k->in_flight = false;
	k->woff = k->wlen = k->rlen = 0;
	for (uint32_t i = 0; i < m->njobs; i++)
		for (uint32_t q = 0; q < m->jobs[i]->n; q++)
			if (m->jobs[i]->parts[q].conn == (int8_t)c)
				m->jobs[i]->parts[q].conn = -1;
	if (failed) {
		m->st.failures++;
		k->retry_at_ms = now_ms + k->backoff_ms;
		k->backoff_ms = k->backoff_ms * 2 > SL_MARKERS_BACKOFF_MAX_MS ?
				SL_MARKERS_BACKOFF_MAX_MS : k->backoff_ms * 2;
	}
}

void sl_markers_destroy(struct sl_markers *m)
{
	if (!m)
		return;
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++) {
		drop(m, c, 0, false);
		free(m->conns[c].wbuf);
		free(m->conns[c].rbuf);
	}
	for (uint32_t i = 0; i < m->njobs; i++)
		job_free(m->jobs[i]);
	free(m->arena.base);
	free(m);
}

void sl_markers_set_addr(struct sl_markers *m, uint32_t addr)
{
	m->addr = addr;
}

void sl_markers_set_route(struct sl_markers *m, sl_markers_route_fn route,
			  void *ctx)
{
	m->route = route;
	m->route_ctx = ctx;
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

void sl_markers_cancel(void *ctx, uint64_t id)
{
	struct sl_markers *m = ctx;
	for (uint32_t i = 0; i < m->njobs; i++) {
		struct mjob *j = m->jobs[i];
		if (j->id != id)
			continue;
		if (!job_in_flight(j)) {
			job_remove(m, i);
			return;
		}
		/* what is on the wire lands or not; nothing more is sent */
		for (uint32_t q = 0; q < j->n; q++)
			if (!j->parts[q].done && j->parts[q].conn < 0) {
				j->parts[q].done = true;
				j->left--;
			}
		j->cancelled = true;
		return;
	}
}

void sl_markers_submit(void *ctx, const struct sl_txn_markers *job)
{
	struct sl_markers *m = ctx;
	assert(m && job && (job->partitions || job->n == 0));
	for (uint32_t i = 0; i < m->njobs; i++)
		if (m->jobs[i]->pid == job->producer_id &&
		    !job_in_flight(m->jobs[i])) {
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
					     false, -1, -1};
	}
	m->jobs[m->njobs++] = j;
	m->unrouted = true; /* until the next pass routes it */
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

unsigned sl_markers_pollfds(const struct sl_markers *m, struct pollfd *out,
			    unsigned cap)
{
	unsigned n = 0;
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX && n < cap; c++) {
		const struct mconn *k = &m->conns[c];
		if (k->fd < 0)
			continue;
		short ev = POLLIN;
		if (k->state == M_CONNECTING || k->woff < k->wlen)
			ev |= POLLOUT;
		out[n++] = (struct pollfd){.fd = k->fd, .events = ev};
	}
	return n;
}

int sl_markers_timeout_ms(const struct sl_markers *m, int64_t now_ms)
{
	int64_t at = INT64_MAX;
	if (m->njobs == 0)
		return -1;
	/* a marker waiting for its partition's leader is looked at again
	 * after the shortest back-off */
	if (m->unrouted)
		at = now_ms + SL_MARKERS_BACKOFF_MIN_MS;
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++) {
		const struct mconn *k = &m->conns[c];
		int64_t t = INT64_MAX;
		if (!k->used)
			continue;
		if ((k->state == M_DOWN && k->want) ||
		    (k->state == M_UP && !k->in_flight && k->want))
			t = k->retry_at_ms;
		else if (k->in_flight || k->state == M_CONNECTING)
			t = k->sent_ms + SL_MARKERS_TIMEOUT_MS;
		if (t < at)
			at = t;
	}
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

/* ---- routing ---- */

/* The connection to addr:port: an existing one, a new one in a free slot,
 * or one whose broker no marker needs now (closed and reused); -1 when
 * every slot is busy. */
static int conn_for(struct sl_markers *m, uint32_t addr, uint16_t port,
		    int64_t now_ms)
{
	int spare = -1;
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++) {
		struct mconn *k = &m->conns[c];
		if (k->used && k->addr == addr && k->port == port)
			return (int)c;
		if (!k->used && spare < 0)
			spare = (int)c;
	}
	for (unsigned c = 0; spare < 0 && c < SL_MARKERS_CONNS_MAX; c++)
		if (!m->conns[c].want && !m->conns[c].in_flight)
			spare = (int)c;
	if (spare < 0)
		return -1;
	struct mconn *k = &m->conns[spare];
	if (!k->wbuf)
		k->wbuf = malloc(SL_MARKERS_REQUEST_MAX);
	if (!k->rbuf)
		k->rbuf = malloc(SL_MARKERS_RESPONSE_MAX);
	if (!k->wbuf || !k->rbuf)
		return -1; /* tried again at the next pass */
	drop(m, (unsigned)spare, now_ms, false);
	k->used = true;
	k->addr = addr;
	k->port = port;
	k->backoff_ms = SL_MARKERS_BACKOFF_MIN_MS;
	k->retry_at_ms = now_ms;
	return spare;
}

/* Where each pending marker goes now (its partition's leader may have
 * moved since the last pass), and which connections have work. */
static void route_all(struct sl_markers *m, int64_t now_ms)
{
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++)
		m->conns[c].want = m->conns[c].in_flight;
	m->unrouted = false;
	for (uint32_t i = 0; i < m->njobs; i++) {
		struct mjob *j = m->jobs[i];
		for (uint32_t q = 0; q < j->n; q++) {
			struct mpart *p = &j->parts[q];
			p->dest = -1;
			if (p->done || p->conn >= 0)
				continue;
			uint32_t addr = m->addr;
			uint16_t port = m->port;
			if (m->route) {
				int rc = m->route(m->route_ctx, p->topic,
						  p->topic_len, p->partition,
						  &addr, &port);
				if (rc == -EAGAIN) {
					m->unrouted = true; /* no leader now */
					continue;
				}
				if (rc < 0) {
					/* the topic is unknown here: the
					 * local broker answers for it */
					addr = m->addr;
					port = m->port;
				}
			}
			int c = conn_for(m, addr, port, now_ms);
			if (c < 0) {
				m->unrouted = true;
				continue;
			}
			p->dest = (int8_t)c;
			m->conns[c].want = true;
		}
	}
}

/* ---- a connection ---- */

static void try_connect(struct sl_markers *m, unsigned c, int64_t now_ms)
{
	struct mconn *k = &m->conns[c];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		drop(m, c, now_ms, true);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(k->port),
				.sin_addr.s_addr = k->addr};
	k->fd = fd;
	k->sent_ms = now_ms;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		k->state = M_UP;
	} else if (errno == EINPROGRESS) {
		k->state = M_CONNECTING;
	} else {
		drop(m, c, now_ms, true);
		return;
	}
	if (k->state == M_UP)
		m->st.connects++;
}

/* A connect in progress: done, failed or still going. */
static void check_connect(struct sl_markers *m, unsigned c, int64_t now_ms)
{
	struct mconn *k = &m->conns[c];
	struct pollfd p = {k->fd, POLLOUT, 0};
	if (poll(&p, 1, 0) <= 0)
		return;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		drop(m, c, now_ms, true);
		return;
	}
	k->state = M_UP;
	m->st.connects++;
}

/* Build connection c's next request from the markers routed to it and
 * not written yet: false when there is nothing to send. */
static bool build(struct sl_markers *m, unsigned c)
{
	struct mconn *k = &m->conns[c];
	struct kc_arena *a = &m->arena;
	a->used = 0;
	uint32_t nm = 0;
	struct kc_write_txn_markers_req_writable_txn_marker *mk =
		(void *)a->base;
	a->used = m->njobs * sizeof(*mk);
	size_t bytes = 64; /* headers, counts */
	for (uint32_t i = 0; i < m->njobs; i++) {
		struct mjob *j = m->jobs[i];
		/* topics: runs of equal names (the coordinator sorts them) */
		size_t need = 32;
		uint32_t mine = 0;
		for (uint32_t q = 0; q < j->n; q++) {
			const struct mpart *p = &j->parts[q];
			if (p->done || p->conn >= 0 || p->dest != (int8_t)c)
				continue;
			need += 4 + 8 + p->topic_len;
			mine++;
		}
		if (mine == 0)
			continue;
		if (bytes + need > SL_MARKERS_REQUEST_MAX / 2)
			break;
		bytes += need;
		size_t at = (a->used + 7) & ~(size_t)7;
		struct kc_write_txn_markers_req_writable_txn_marker_topic *tp =
			(void *)(a->base + at);
		a->used = at + mine * sizeof(*tp);
		int32_t *parts = (void *)(a->base + a->used);
		a->used += mine * sizeof(*parts);
		assert(a->used <= a->cap);
		uint32_t np = 0, nt = 0;
		const struct mpart *prev = NULL;
		for (uint32_t q = 0; q < j->n; q++) {
			struct mpart *p = &j->parts[q];
			if (p->done || p->conn >= 0 || p->dest != (int8_t)c)
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
			p->conn = (int8_t)c;
			prev = p;
		}
		mk[nm++] = (struct kc_write_txn_markers_req_writable_txn_marker){
			j->pid, j->epoch, j->commit, {tp, (int32_t)nt},
			j->coordinator_epoch, 0};
	}
	if (nm == 0)
		return false;
	struct kc_write_txn_markers_req body = {{mk, (int32_t)nm}};
	struct kc_request_header h = {KC_API_WRITE_TXN_MARKERS, VERSION,
				      ++k->corr, {"sluice-control", 14}};
	uint8_t *p = k->wbuf + 4;
	size_t cap = SL_MARKERS_REQUEST_MAX - 4;
	long n = kc_encode(&kc_request_header_schema, 1, false, &h, p, cap);
	assert(n > 0 && (size_t)n < cap);
	p[n++] = 0; /* request header v2: no tagged fields */
	long b = kc_encode(kc_api_spec(KC_API_WRITE_TXN_MARKERS)->request,
			   VERSION, true, &body, p + n, cap - (size_t)n);
	assert(b > 0); /* the bound above keeps it within the buffer */
	rb_put32(k->wbuf, (uint32_t)(n + b));
	k->woff = 0;
	k->wlen = 4 + (size_t)(n + b);
	return true;
}

/* The answer to connection c's request in flight (len bytes at p,
 * without the size prefix): 0, or -EBADMSG when it cannot be read. */
static int apply(struct sl_markers *m, unsigned c, const uint8_t *p,
		 size_t len, int64_t now_ms)
{
	struct mconn *k = &m->conns[c];
	if (len < 5 || (int32_t)rb_be32(p) != k->corr)
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
		for (uint32_t q = 0; q < m->njobs && !j; q++) {
			if (m->jobs[q]->pid != mr[i].producer_id)
				continue;
			for (uint32_t x = 0; x < m->jobs[q]->n && !j; x++)
				if (m->jobs[q]->parts[x].conn == (int8_t)c)
					j = m->jobs[q];
		}
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
					/* NOT_LEADER_OR_FOLLOWER among them:
					 * routed again at the next pass.
					 * TRANSACTION_COORDINATOR_FENCED: a
					 * newer coordinator has the id; sent
					 * again until this one's store drops
					 * the id and cancels the job (it
					 * never counts as written) */
					m->st.retries++;
					retry = true;
					continue;
				}
				for (uint32_t x = 0; x < j->n; x++) {
					struct mpart *mp = &j->parts[x];
					if (mp->done || mp->conn != (int8_t)c ||
					    mp->partition != pr[q].partition_index ||
					    tr[t].name.len != mp->topic_len ||
					    memcmp(tr[t].name.ptr, mp->topic,
						   mp->topic_len))
						continue;
					mp->done = true;
					mp->conn = -1;
					j->left--;
					m->st.partitions_done++;
					break;
				}
			}
		}
	}
	/* what this answer did not settle is sent again; finished jobs are
	 * reported (the callback may submit new ones) */
	for (uint32_t q = 0; q < m->njobs;) {
		struct mjob *j = m->jobs[q];
		for (uint32_t x = 0; x < j->n; x++)
			if (j->parts[x].conn == (int8_t)c)
				j->parts[x].conn = -1;
		if (j->cancelled && !job_in_flight(j)) {
			job_remove(m, q); /* not reported: nobody waits */
			continue;
		}
		if (j->left) {
			q++;
			continue;
		}
		uint64_t id = j->id;
		job_remove(m, q);
		if (m->done)
			m->done(m->done_ctx, id, now_ms);
	}
	k->backoff_ms = SL_MARKERS_BACKOFF_MIN_MS;
	k->retry_at_ms = retry ? now_ms + SL_MARKERS_BACKOFF_MIN_MS : now_ms;
	return 0;
}

/* One duty cycle of connection c. */
static int conn_work(struct sl_markers *m, unsigned c, int64_t now_ms)
{
	struct mconn *k = &m->conns[c];
	int work = 0;
	if (k->state == M_DOWN) {
		if (!k->want || now_ms < k->retry_at_ms)
			return 0;
		try_connect(m, c, now_ms);
		work++;
	}
	if (k->state == M_CONNECTING) {
		check_connect(m, c, now_ms);
		if (k->state == M_CONNECTING &&
		    now_ms - k->sent_ms > SL_MARKERS_TIMEOUT_MS)
			drop(m, c, now_ms, true);
		if (k->state != M_UP)
			return work;
	}
	if (!k->in_flight) {
		/* idle: the peer may have closed (then poll says readable) */
		char ch;
		ssize_t r = recv(k->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR)) {
			drop(m, c, now_ms, r != 0);
			return work;
		}
	}
	if (!k->in_flight && now_ms >= k->retry_at_ms && build(m, c)) {
		k->in_flight = true;
		k->sent_ms = now_ms;
		m->st.requests++;
		work++;
	}
	/* bounded: each pass writes or ends */
	while (k->woff < k->wlen) {
		ssize_t w = send(k->fd, k->wbuf + k->woff, k->wlen - k->woff,
				 MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w <= 0) {
			drop(m, c, now_ms, true);
			return work;
		}
		k->woff += (size_t)w;
		work++;
	}
	/* bounded: each pass reads or ends */
	while (k->in_flight) {
		size_t want = k->rlen < 4 ? 4 : 4 + rb_be32(k->rbuf);
		if (k->rlen >= 4 && (want > SL_MARKERS_RESPONSE_MAX ||
				     want < 9)) {
			drop(m, c, now_ms, true);
			return work;
		}
		if (k->rlen == want && k->rlen >= 4) {
			int rc = apply(m, c, k->rbuf + 4, want - 4, now_ms);
			k->in_flight = false;
			k->rlen = 0;
			if (rc < 0) {
				drop(m, c, now_ms, true);
				return work;
			}
			work++;
			break;
		}
		ssize_t r = recv(k->fd, k->rbuf + k->rlen, want - k->rlen, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			drop(m, c, now_ms, true);
			return work;
		}
		k->rlen += (size_t)r;
	}
	if (k->in_flight && now_ms - k->sent_ms > SL_MARKERS_TIMEOUT_MS)
		drop(m, c, now_ms, true);
	return work;
}

int sl_markers_do_work(struct sl_markers *m, int64_t now_ms)
{
	int work = 0;
	route_all(m, now_ms);
	for (unsigned c = 0; c < SL_MARKERS_CONNS_MAX; c++)
		if (m->conns[c].used)
			work += conn_work(m, c, now_ms);
	return work;
}
