/*
 * The follower fetcher (fetcher.h, docs/cluster.md "Replication
 * (dataplane)"): one thread, sl-fetch, that keeps the partitions this
 * broker follows up with their leaders.
 *
 * Happy path, per followed partition (an entry, keyed by topic id and
 * partition, remembering the leader and leader epoch it follows):
 *   1. DP_REPLICA_STATE to the partition's storage core: the log end and
 *      the latest leader epoch in the log; an empty log with no epoch
 *      fetches from 0 at once;
 *   2. OffsetForLeaderEpoch(latest epoch) to the leader, then
 *      DP_REPLICA_TRUNCATE with its answer: the log is cut where the
 *      leader's history and ours part; complete says fetching may start
 *      at the new end (else 1 and 2 again, with the next older epoch);
 *   3. Fetch from the log end, on the one connection to that leader that
 *      carries every partition it leads for us: at most one Fetch in flight
 *      per connection (the leader holds it up to max_wait_ms when there is
 *      nothing new), covering every entry that is fetching, sent once the
 *      appends of the last answer are durable (so that it reports their
 *      new ends at once);
 *   4. each partition's whole, checked batches (replica_wire.h) go to its
 *      storage core as DP_REPLICA_APPEND, answered once durable with the
 *      new log end, the next fetch offset: what the leader learns of this
 *      replica is what it holds durably.
 *
 * Failure modes and what each does:
 *   - a new leader or leader epoch in the view (main kicks the fetcher):
 *     the entry starts over at 1; answers to what it asked before are
 *     ignored (its generation moved);
 *   - NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
 *     UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE from the leader or
 *     the storage core: the views disagree for now; 1 again after
 *     FT_VIEW_WAIT_MS unless a new view comes first;
 *   - OFFSET_OUT_OF_RANGE, a diverging epoch: 1 again (truncation), at
 *     once the first time, then backing off while it repeats;
 *   - KAFKA_STORAGE_ERROR on an append: the fetch is retried after 1 s;
 *   - no message memory, a full partition ring: retried after
 *     FT_RETRY_MS, counted;
 *   - the connection: refused or lost, it is made again after a backoff
 *     (100 ms doubling to 2 s); an answer that does not decode, answers a
 *     request we did not make, is larger than RW_FRAME_MAX, or does not
 *     come within FT_ANSWER_TIMEOUT_MS closes it (counted, logged);
 *   - a fetched batch that fails its check: it and what follows are
 *     dropped (counted, logged once per entry), what came before it is
 *     appended.
 *
 * Threads: the fetcher's own; main starts, kicks and stops it.  It talks
 * to the storage cores as a net core does, through a struct dp_net of its
 * own that is not in dp->net[] (its completion ring, its eventfd, the
 * seq_cst sleeping flag of net.c's Dekker pattern).  It never keeps a
 * struct dp_partition * across its cycles (topics.c frees a deleted
 * topic once dp->fetch_epoch moved): entries hold ids, and a partition is
 * looked up each time something is submitted for it.
 *
 * Bounds: FT_ENTRIES_MAX partitions followed, FT_FETCH_PARTS_MAX of them
 * per Fetch (the others in the next), FT_STORE_OUT_MAX storage requests
 * outstanding (fewer than the completion ring's slots, so that a storage
 * core never waits for room there), one Fetch and one OffsetForLeaderEpoch
 * in flight per connection, RW_FRAME_MAX per answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/fetcher.h"
#include "dataplane/net.h"
#include "dataplane/replica_wire.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

#define FT_COMPLETION_SLOTS 4096
#define FT_STORE_OUT_MAX 3072   /* < FT_COMPLETION_SLOTS */
#define FT_ENTRIES_MAX (1u << 20)
#define FT_FETCH_PARTS_MAX 4096
#define FT_EPOCH_PARTS_MAX 1024
#define FT_CONNS_MAX SIPC_BROKERS_MAX
#define FT_MAX_WAIT_MS 500
#define FT_MIN_BYTES 1
#define FT_MAX_BYTES (32 << 20)
#define FT_PART_MAX_BYTES (1 << 20)
#define FT_WBUF_BYTES (1u << 20)   /* the largest request, with room */
#define FT_RBUF_MIN (64u << 10)
#define FT_ARENA_BYTES (4u << 20)  /* a decoded answer's arrays */
#define FT_SCRATCH_BYTES (1u << 20) /* a request's arrays while encoded */
#define FT_REFRESH_MS 1000         /* the views are read again at least */
#define FT_KICK_MIN_MS 10          /* and at most this often when kicked */
#define FT_VIEW_WAIT_MS 200        /* the views disagree: ask again */
#define FT_STORAGE_RETRY_MS 1000
#define FT_RETRY_MS 20             /* memory, a full ring, a busy log */
#define FT_OOR_WAIT_MAX_MS 1000
#define FT_BAD_BATCH_WAIT_MS 1000
#define FT_BACKOFF_MIN_MS 100
#define FT_BACKOFF_MAX_MS 2000
#define FT_ANSWER_TIMEOUT_MS 30000 /* a Fetch is held FT_MAX_WAIT_MS */
#define FT_CONNECT_TIMEOUT_MS 5000
#define FT_RBUF_KEEP (8u << 20)     /* a larger read buffer shrinks back */
#define FT_SLEEP_MAX_MS 100
#define FT_DRAIN_ROUNDS 64
#define FT_READS_PER_CYCLE 16
#define FT_STOP_WAIT_MS 500

/* Kafka's, not among proto/native.h's shared ones */
#define FT_ERR_LEADER_NOT_AVAILABLE 5

#define MS (1000000ull)

enum ft_state {
	FT_STATE = 0, /* ask the storage core for the log end, latest epoch */
	FT_EPOCH,     /* ask the leader where our latest epoch ends */
	FT_TRUNCATE,  /* cut the log where the leader said */
	FT_FETCH,     /* fetch from fetch_offset */
};

/* One followed partition. */
struct ft_entry {
	uint32_t id;            /* 0: the slot is free; else never reused */
	uint32_t gen;           /* moves when it starts over */
	uint32_t topic_id;
	int32_t partition;
	uint16_t tslot;         /* its topic's slot in dp->topics (names) */
	uint16_t ci;            /* its leader's connection (conns), or
				   FT_CONNS_MAX: none (set by refresh) */
	uint8_t state;          /* enum ft_state */
	uint8_t store_busy;     /* a storage request outstanding */
	uint8_t net_busy;       /* in the request net_corr to its leader */
	uint8_t seen;           /* refresh: still followed */
	uint8_t warned;         /* a bad batch was logged */
	int32_t net_corr;
	int32_t leader, leader_epoch; /* what it follows */
	int32_t latest_epoch;   /* FT_EPOCH: the log's latest epoch */
	int32_t answer_epoch;   /* FT_TRUNCATE: the leader's answer */
	int64_t answer_end;
	int64_t state_end;      /* the log end before truncation */
	int64_t fetch_offset;   /* FT_FETCH */
	int64_t start_told;     /* the leader's log start as last handed to
				   the storage core (-1: none yet) */
	int64_t hw_told;        /* the leader's high watermark as last
				   handed to the storage core */
	uint64_t wait_until_ns; /* nothing is done before this */
	uint32_t oor;           /* OFFSET_OUT_OF_RANGE in a row */
	uint8_t start_over;     /* fetching from the leader's log start,
				   past our end: the next append starts
				   the log over at its first batch */
	uint8_t catchup;        /* this broker is not in its in-sync set:
				   its fetches are throttled */
};

enum { FC_FREE = 0, FC_IDLE, FC_CONNECTING, FC_UP };

/* A request on a connection, waiting for its answer (in order). */
struct ft_flight {
	int32_t corr;
	int16_t api;
	uint32_t nparts;        /* entries it carries, not yet answered */
	uint64_t sent_ns;
};

/* The connection to one leader. */
struct ft_conn {
	uint8_t state;          /* FC_* */
	uint8_t used;           /* refresh: an entry follows this leader */
	uint8_t failing;        /* a connect failure was logged */
	int32_t node;
	int fd;                 /* -1: none */
	char host[SIPC_HOST_MAX + 1];
	uint16_t port;
	uint32_t backoff_ms;
	uint64_t retry_at_ns;   /* FC_IDLE: connect again then */
	uint8_t *wbuf;          /* FT_WBUF_BYTES */
	size_t wlen, woff;
	uint8_t *rbuf;
	size_t rcap, rlen;
	struct ft_flight flight[2]; /* at most one Fetch, one epoch query */
	unsigned nflight;
	/* this cycle's picks (slots of entries) */
	uint32_t *fetch_pick, nfetch;
	uint32_t *epoch_pick, nepoch;
	uint32_t appending;     /* its fetched partitions' appends not yet
				   durable (act) */
};

/* A topic's name, by its slot in dp->topics (read at refresh). */
struct ft_name {
	uint32_t id;            /* 0: none */
	uint16_t len;
	char name[SN_NAME_MAX + 1];
};

struct dp_fetcher {
	/* first: the storage cores complete into its ring (net.h) */
	struct dp_net net;
	struct dp *dp;
	pthread_t thread;
	_Atomic int quit;
	uint64_t kick_seen;
	uint64_t next_refresh_ns, last_refresh_ns;
	int32_t node_id;
	char client_id[32];
	int32_t corr;
	uint32_t next_id;
	uint32_t store_out;     /* storage requests outstanding */
	/* entries: slots [0, nslots), free ones listed in free_slots */
	struct ft_entry *e;
	uint32_t ecap, nslots, nlive;
	uint32_t *free_slots, nfree;
	/* (topic id, partition) -> slot + 1, open addressing */
	uint32_t *hash, hcap;
	struct ft_name *names;  /* DP_MAX_TOPICS */
	struct ft_conn conns[FT_CONNS_MAX];
	uint64_t wake_at_ns;    /* the nearest entry or connection deadline */
	/* follower_replication_throttled_rate: a token bucket of bytes for
	 * the partitions caught up on (at most a second's worth saved up;
	 * an answer may take it below 0, and they wait until it refills) */
	uint64_t throttle_rate; /* bytes/s, 0: none */
	int64_t throttle_tokens;
	uint64_t throttle_ns;   /* when it was last filled */
	/* a request's parts while it is built */
	struct rw_part_req *parts;
	uint64_t *order;        /* sort keys: (tslot, partition, slot) */
	_Alignas(8) uint8_t scratch_mem[FT_SCRATCH_BYTES];
	_Alignas(8) uint8_t arena_mem[FT_ARENA_BYTES];
};

/* Counters: single writer (the fetcher thread), read by any thread
 * (relaxed: each is a count on its own).  Kept outside struct dp_fetcher
 * so that telemetry may read them while the fetcher stops; since the
 * process started. */
static struct {
	_Atomic uint64_t fetches, fetch_errors, records_bytes, appends,
		truncations, connects, connect_failures, malformed_responses,
		partitions, malformed_batches, alloc_failures, ring_full,
		timeouts, disconnects, starts_over, throttled_bytes,
		throttle_waits;
} ft_st;
/* Main's kicks; the fetcher compares it at the top of its cycles. */
static _Atomic uint64_t ft_kick_gen;

static void st_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t later(uint64_t now, uint32_t ms)
{
	return now + (uint64_t)ms * MS;
}

/* ---- entries ---- */

static uint32_t hash_of(uint32_t topic_id, int32_t partition)
{
	uint64_t x = (uint64_t)topic_id << 32 | (uint32_t)partition;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static struct ft_entry *entry_find(struct dp_fetcher *f, uint32_t topic_id,
				   int32_t partition)
{
	if (!f->hcap)
		return NULL;
	uint32_t mask = f->hcap - 1;
	/* bounded: the table is at most half full */
	for (uint32_t i = hash_of(topic_id, partition) & mask, k = 0;
	     k < f->hcap; i = (i + 1) & mask, k++) {
		uint32_t s = f->hash[i];
		if (!s)
			return NULL;
		struct ft_entry *e = &f->e[s - 1];
		if (e->topic_id == topic_id && e->partition == partition)
			return e;
	}
	return NULL;
}

static void hash_put(struct dp_fetcher *f, uint32_t slot)
{
	uint32_t mask = f->hcap - 1;
	const struct ft_entry *e = &f->e[slot];
	uint32_t i = hash_of(e->topic_id, e->partition) & mask;
	/* bounded: the table is at most half full */
	for (uint32_t k = 0; k < f->hcap && f->hash[i]; k++)
		i = (i + 1) & mask;
	f->hash[i] = slot + 1;
}

/* The table again for the live entries, with room for twice want.
 * 0 or -ENOMEM (the old table stays). */
static int hash_rebuild(struct dp_fetcher *f, uint32_t want)
{
	uint32_t cap = 64;
	while (cap < 2 * want)
		cap *= 2;
	uint32_t *h = calloc(cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	free(f->hash);
	f->hash = h;
	f->hcap = cap;
	for (uint32_t s = 0; s < f->nslots; s++)
		if (f->e[s].id)
			hash_put(f, s);
	return 0;
}

/* A new entry (not yet in the hash), or NULL at the bound / no memory. */
static struct ft_entry *entry_new(struct dp_fetcher *f)
{
	uint32_t slot;
	if (f->nfree) {
		slot = f->free_slots[--f->nfree];
	} else {
		if (f->nslots == f->ecap) {
			if (f->ecap >= FT_ENTRIES_MAX)
				return NULL;
			uint32_t cap = f->ecap ? f->ecap * 2 : 256;
			struct ft_entry *e = realloc(f->e, cap * sizeof(*e));
			if (!e)
				return NULL;
			f->e = e;
			uint32_t *fs = realloc(f->free_slots,
					       cap * sizeof(*fs));
			if (!fs)
				return NULL;
			f->free_slots = fs;
			f->ecap = cap;
		}
		slot = f->nslots++;
	}
	struct ft_entry *e = &f->e[slot];
	memset(e, 0, sizeof(*e));
	/* 0 means free */
	if (++f->next_id == 0)
		f->next_id = 1;
	e->id = f->next_id;
	f->nlive++;
	return e;
}

/* e starts over at step 1 after ms (0: at once). */
static void restart(struct dp_fetcher *f, struct ft_entry *e, uint32_t ms)
{
	e->state = FT_STATE;
	e->gen++;
	e->net_busy = 0;
	e->hw_told = -1;
	e->start_told = -1;
	e->start_over = 0;
	e->wait_until_ns = ms ? later(dp_now_ns(f->dp), ms) : 0;
}

static const char *entry_topic(const struct dp_fetcher *f,
			       const struct ft_entry *e)
{
	const struct ft_name *n = &f->names[e->tslot];
	return n->id == e->topic_id ? n->name : "?";
}

/* ---- connections ---- */

static struct ft_conn *conn_of(struct dp_fetcher *f, int32_t node)
{
	for (unsigned i = 0; i < FT_CONNS_MAX; i++)
		if (f->conns[i].state != FC_FREE && f->conns[i].node == node)
			return &f->conns[i];
	return NULL;
}

static struct ft_conn *conn_get(struct dp_fetcher *f, int32_t node)
{
	struct ft_conn *c = conn_of(f, node);
	if (c)
		return c;
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		c = &f->conns[i];
		if (c->state != FC_FREE)
			continue;
		uint8_t *wbuf = malloc(FT_WBUF_BYTES);
		uint8_t *rbuf = malloc(FT_RBUF_MIN);
		uint32_t *fp = malloc(FT_FETCH_PARTS_MAX * sizeof(*fp));
		uint32_t *ep = malloc(FT_EPOCH_PARTS_MAX * sizeof(*ep));
		if (!wbuf || !rbuf || !fp || !ep) {
			free(wbuf);
			free(rbuf);
			free(fp);
			free(ep);
			return NULL;
		}
		memset(c, 0, sizeof(*c));
		c->state = FC_IDLE;
		c->node = node;
		c->fd = -1;
		c->wbuf = wbuf;
		c->rbuf = rbuf;
		c->rcap = FT_RBUF_MIN;
		c->fetch_pick = fp;
		c->epoch_pick = ep;
		c->backoff_ms = FT_BACKOFF_MIN_MS;
		return c;
	}
	return NULL;
}

/* The requests c carried are not answered: their entries ask again. */
static void conn_forget_flights(struct dp_fetcher *f, struct ft_conn *c)
{
	if (c->nflight == 0)
		return;
	for (uint32_t s = 0; s < f->nslots; s++) {
		struct ft_entry *e = &f->e[s];
		if (e->id && e->net_busy && e->leader == c->node)
			e->net_busy = 0;
	}
	c->nflight = 0;
}

/* Close c's socket (why: logged); connect again after the backoff. */
static void conn_close(struct dp_fetcher *f, struct ft_conn *c,
		       const char *why)
{
	if (c->fd < 0)
		return;
	if (c->state == FC_UP) {
		dp_log("follower: connection to leader %d at %s:%u closed: %s",
		       c->node, c->host, c->port, why);
		st_add(&ft_st.disconnects, 1);
	}
	close(c->fd);
	c->fd = -1;
	c->state = FC_IDLE;
	c->wlen = c->woff = c->rlen = 0;
	c->retry_at_ns = later(dp_now_ns(f->dp), c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > FT_BACKOFF_MAX_MS ?
				FT_BACKOFF_MAX_MS :
				c->backoff_ms * 2;
	conn_forget_flights(f, c);
}

static void conn_free(struct dp_fetcher *f, struct ft_conn *c,
		      const char *why)
{
	conn_close(f, c, why);
	free(c->wbuf);
	free(c->rbuf);
	free(c->fetch_pick);
	free(c->epoch_pick);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = FC_FREE;
}

static void connect_failed(struct dp_fetcher *f, struct ft_conn *c, int err)
{
	st_add(&ft_st.connect_failures, 1);
	if (!c->failing)
		dp_log("follower: cannot connect to leader %d at %s:%u: %s "
		       "(retrying, %u ms apart at most)", c->node, c->host,
		       c->port, strerror(err), FT_BACKOFF_MAX_MS);
	c->failing = 1;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->state = FC_IDLE;
	c->retry_at_ns = later(dp_now_ns(f->dp), c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > FT_BACKOFF_MAX_MS ?
				FT_BACKOFF_MAX_MS :
				c->backoff_ms * 2;
}

static void conn_up(struct ft_conn *c)
{
	c->state = FC_UP;
	c->failing = 0;
	c->backoff_ms = FT_BACKOFF_MIN_MS;
	st_add(&ft_st.connects, 1);
	dp_log("follower: connected to leader %d at %s:%u", c->node, c->host,
	       c->port);
}

/* Start a non-blocking connect to c's leader, as the views name it. */
static void conn_start(struct dp_fetcher *f, struct ft_conn *c)
{
	struct dp_broker b;
	if (dp_broker_get(f->dp, c->node, &b) < 0 || b.kafka_port == 0) {
		/* not known yet: the next BROKERS kicks us */
		c->retry_at_ns = later(dp_now_ns(f->dp), FT_BACKOFF_MAX_MS);
		return;
	}
	memcpy(c->host, b.host, sizeof(c->host));
	c->port = b.kafka_port;
	char port[8];
	snprintf(port, sizeof(port), "%u", c->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	/* a name is resolved here, on this thread (a numeric address, as
	 * brokers are usually configured, costs nothing) */
	int rc = getaddrinfo(c->host, port, &hints, &ai);
	if (rc || !ai) {
		st_add(&ft_st.connect_failures, 1);
		if (!c->failing)
			dp_log("follower: leader %d's host %s: %s (retrying)",
			       c->node, c->host, gai_strerror(rc));
		c->failing = 1;
		c->retry_at_ns = later(dp_now_ns(f->dp), c->backoff_ms);
		if (ai)
			freeaddrinfo(ai);
		return;
	}
	int fd = socket(ai->ai_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		freeaddrinfo(ai);
		connect_failed(f, c, err);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->wlen = c->woff = c->rlen = 0;
	c->nflight = 0;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	int err = errno;
	freeaddrinfo(ai);
	if (rc == 0) {
		conn_up(c);
	} else if (err == EINPROGRESS) {
		c->state = FC_CONNECTING;
		c->retry_at_ns = later(dp_now_ns(f->dp), FT_CONNECT_TIMEOUT_MS);
	} else {
		connect_failed(f, c, err);
	}
}

/* Write what c has pending.  0, or -1 when c was closed. */
static int conn_flush(struct dp_fetcher *f, struct ft_conn *c)
{
	/* bounded: each round writes something or stops */
	for (unsigned i = 0; i < 64 && c->woff < c->wlen; i++) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return 0;
			conn_close(f, c, strerror(errno));
			return -1;
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen)
		c->wlen = c->woff = 0;
	return 0;
}

/* ---- storage requests ---- */

static void store_done(struct dp_net *n, struct dp_msg *m);

/* Submit op for e to its partition's storage core with data bytes of
 * request (copied from req).  0, or -1 (e waits FT_RETRY_MS). */
static int store_submit(struct dp_fetcher *f, struct ft_entry *e, int op,
			const void *req, size_t len, struct dp_msg *m)
{
	struct dp_partition *p = dp_partition_get(f->dp, e->topic_id,
						  e->partition);
	if (!p) {
		/* deleted: the next refresh drops the entry */
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_VIEW_WAIT_MS);
		dp_msg_free(m);
		return -1;
	}
	if (!m)
		m = dp_msg_alloc(f->dp, len);
	if (!m) {
		st_add(&ft_st.alloc_failures, 1);
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_RETRY_MS);
		return -1;
	}
	m->op = (uint8_t)op;
	m->net = &f->net;
	m->done = store_done;
	m->owner = f;
	m->owner_idx = (uint32_t)(e - f->e);
	m->conn = e->id;
	m->seq = e->gen;
	if (req && len) {
		memcpy(m->data, req, len);
		m->req = m->data;
		m->req_len = (uint32_t)len;
	}
	if (dp_store_submit(&f->net, p, m) < 0) {
		st_add(&ft_st.ring_full, 1);
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_RETRY_MS);
		dp_msg_free(m);
		return -1;
	}
	e->store_busy = 1;
	f->store_out++;
	return 0;
}

static void send_state(struct dp_fetcher *f, struct ft_entry *e)
{
	store_submit(f, e, DP_REPLICA_STATE, NULL, 0, NULL);
}

static void send_truncate(struct dp_fetcher *f, struct ft_entry *e)
{
	struct dp_msg *m = dp_msg_alloc(f->dp, 0);
	if (!m) {
		st_add(&ft_st.alloc_failures, 1);
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_RETRY_MS);
		return;
	}
	m->rq.rtrunc = (struct dp_replica_truncate){
		.state_epoch = e->leader_epoch,
		.leader_epoch = e->answer_epoch,
		.leader_end = e->answer_end,
	};
	store_submit(f, e, DP_REPLICA_TRUNCATE, NULL, 0, m);
}

/* The errors that say the views disagree for now. */
static int view_error(int16_t err)
{
	return err == SN_ERR_NOT_LEADER_OR_FOLLOWER ||
	       err == SN_ERR_FENCED_LEADER_EPOCH ||
	       err == SN_ERR_UNKNOWN_LEADER_EPOCH ||
	       err == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
	       err == FT_ERR_LEADER_NOT_AVAILABLE;
}

/* OFFSET_OUT_OF_RANGE or a diverging epoch: truncation again, at once
 * the first time, backing off while it repeats. */
static void out_of_range(struct dp_fetcher *f, struct ft_entry *e)
{
	uint32_t ms = 0;
	if (e->oor) {
		ms = FT_RETRY_MS << (e->oor < 6 ? e->oor : 6);
		if (ms > FT_OOR_WAIT_MAX_MS)
			ms = FT_OOR_WAIT_MAX_MS;
	}
	e->oor++;
	restart(f, e, ms);
}

static void on_state(struct dp_fetcher *f, struct ft_entry *e,
		     const struct dp_result *r)
{
	if (r->error) {
		restart(f, e, view_error(r->error) ? FT_VIEW_WAIT_MS :
						     FT_STORAGE_RETRY_MS);
		return;
	}
	e->state_end = r->log_end_offset;
	if (r->offset < 0 && r->log_end_offset == 0) {
		e->state = FT_FETCH; /* nothing to agree on */
		e->fetch_offset = 0;
		return;
	}
	e->latest_epoch = (int32_t)r->offset;
	e->state = FT_EPOCH;
}

static void on_truncate(struct dp_fetcher *f, struct ft_entry *e,
			const struct dp_result *r)
{
	if (r->error) {
		uint32_t ms = view_error(r->error) ? FT_VIEW_WAIT_MS :
			      r->error == SN_ERR_REQUEST_TIMED_OUT ?
							 FT_RETRY_MS : /* an append */
							 FT_STORAGE_RETRY_MS;
		restart(f, e, ms);
		return;
	}
	if (r->offset < e->state_end) {
		st_add(&ft_st.truncations, 1);
		dp_log("follower: %s-%d truncated to %lld (leader %d epoch %d)",
		       entry_topic(f, e), e->partition, (long long)r->offset,
		       e->leader, e->leader_epoch);
	}
	if (!r->complete) {
		restart(f, e, 0); /* again, from the new latest epoch */
		return;
	}
	e->state = FT_FETCH;
	e->fetch_offset = r->offset;
}

static void on_append(struct dp_fetcher *f, struct ft_entry *e,
		      const struct dp_msg *m)
{
	const struct dp_result *r = &m->res;
	uint64_t now = dp_now_ns(f->dp);
	switch (r->error) {
	case 0:
		if (m->req_len) {
			st_add(&ft_st.appends, 1);
			st_add(&ft_st.records_bytes, m->req_len);
		}
		/* progress ends a run of OFFSET_OUT_OF_RANGE (a start over
		 * that did not reach the leader's start is none) */
		if (!e->start_over || r->log_end_offset >= e->fetch_offset)
			e->oor = 0;
		e->fetch_offset = r->log_end_offset;
		e->start_over = 0;
		return;
	case SN_ERR_OFFSET_OUT_OF_RANGE:
		out_of_range(f, e);
		return;
	case SN_ERR_KAFKA_STORAGE_ERROR:
		e->wait_until_ns = later(now, FT_STORAGE_RETRY_MS);
		return;
	case SN_ERR_THROTTLING_QUOTA_EXCEEDED: /* the write buffer is full */
		e->wait_until_ns = later(now, FT_RETRY_MS);
		return;
	default:
		restart(f, e, FT_VIEW_WAIT_MS);
	}
}

/* A storage core's answer (called by the fetcher as it drains its
 * completion ring). */
static void store_done(struct dp_net *n, struct dp_msg *m)
{
	struct dp_fetcher *f = (struct dp_fetcher *)n;
	f->store_out--;
	uint32_t slot = m->owner_idx;
	struct ft_entry *e = slot < f->nslots ? &f->e[slot] : NULL;
	if (!e || e->id != m->conn) {
		dp_msg_free(m); /* no longer followed */
		return;
	}
	e->store_busy = 0;
	if (e->gen != m->seq) {
		dp_msg_free(m); /* it started over since */
		return;
	}
	switch (m->op) {
	case DP_REPLICA_STATE:
		on_state(f, e, &m->res);
		break;
	case DP_REPLICA_TRUNCATE:
		on_truncate(f, e, &m->res);
		break;
	case DP_REPLICA_APPEND:
		on_append(f, e, m);
		break;
	default:
		break;
	}
	dp_msg_free(m);
}

static int drain_completions(struct dp_fetcher *f)
{
	void *objs[DP_BURST];
	int work = 0;
	for (unsigned round = 0; round < FT_DRAIN_ROUNDS; round++) {
		unsigned k = dp_ring_dequeue_burst(f->net.completions, objs,
						   DP_BURST);
		for (unsigned i = 0; i < k; i++) {
			struct dp_msg *m = objs[i];
			m->done(&f->net, m);
		}
		work += (int)k;
		if (k < DP_BURST)
			break;
	}
	return work;
}

/* ---- the follow set ---- */

static int is_replica(const struct dp_pview *v, int32_t node)
{
	for (unsigned i = 0; i < v->nreplicas && i < DP_REPLICAS_MAX; i++)
		if (v->replicas[i] == node)
			return 1;
	return 0;
}

static int in_isr(const struct dp_pview *v, int32_t node)
{
	for (unsigned i = 0; i < v->nisr && i < DP_REPLICAS_MAX; i++)
		if (v->isr[i] == node)
			return 1;
	return 0;
}

/* Read every live topic's views: entries made, moved to a new leader or
 * epoch, dropped; connections made for new leaders, closed for gone
 * ones. */
static void refresh(struct dp_fetcher *f)
{
	struct dp *dp = f->dp;
	for (uint32_t s = 0; s < f->nslots; s++)
		f->e[s].seen = 0;
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		/* acquire: pairs with the release store in dp_topic_put */
		struct dp_topic *t = atomic_load_explicit(&dp->topics[i],
							  memory_order_acquire);
		f->names[i].id = 0;
		if (!t || !atomic_load_explicit(&t->live, memory_order_acquire))
			continue;
		struct ft_name *nm = &f->names[i];
		size_t len = strnlen(t->name, SN_NAME_MAX);
		memcpy(nm->name, t->name, len);
		nm->name[len] = '\0';
		nm->len = (uint16_t)len;
		nm->id = t->id;
		for (int32_t p = 0; p < t->partitions; p++) {
			struct dp_pview v;
			dp_pview_get(dp, &t->parts[p], &v);
			if (v.leader < 0 || v.leader == f->node_id ||
			    !is_replica(&v, f->node_id))
				continue;
			struct ft_entry *e = entry_find(f, t->id, p);
			if (!e) {
				if (f->nlive * 2 + 2 > f->hcap &&
				    hash_rebuild(f, f->nlive + 1) < 0)
					continue;
				e = entry_new(f);
				if (!e)
					continue; /* FT_ENTRIES_MAX: counted
						     as not followed */
				e->topic_id = t->id;
				e->partition = p;
				e->leader = v.leader;
				e->leader_epoch = v.leader_epoch;
				e->latest_epoch = -1;
				e->hw_told = -1;
				e->start_told = -1;
				hash_put(f, (uint32_t)(e - f->e));
			} else if (e->leader != v.leader ||
				   e->leader_epoch != v.leader_epoch) {
				e->leader = v.leader;
				e->leader_epoch = v.leader_epoch;
				e->oor = 0;
				restart(f, e, 0);
			}
			e->tslot = (uint16_t)i;
			e->seen = 1;
			e->catchup = !in_isr(&v, f->node_id);
		}
	}
	uint32_t dropped = 0;
	for (uint32_t s = 0; s < f->nslots; s++) {
		struct ft_entry *e = &f->e[s];
		if (!e->id || e->seen)
			continue;
		e->id = 0; /* a late answer for it is ignored */
		f->free_slots[f->nfree++] = s;
		f->nlive--;
		dropped++;
	}
	if (dropped)
		hash_rebuild(f, f->nlive);
	for (unsigned i = 0; i < FT_CONNS_MAX; i++)
		f->conns[i].used = 0;
	struct ft_conn *last = NULL;
	for (uint32_t s = 0; s < f->nslots; s++) {
		struct ft_entry *e = &f->e[s];
		if (!e->id)
			continue;
		/* entries come topic by topic: mostly the same leader as
		 * the one before */
		struct ft_conn *c = last && last->node == e->leader ?
					    last :
					    conn_get(f, e->leader);
		e->ci = c ? (uint16_t)(c - f->conns) : FT_CONNS_MAX;
		if (c)
			c->used = 1;
		last = c;
	}
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		struct ft_conn *c = &f->conns[i];
		if (c->state != FC_FREE && !c->used)
			conn_free(f, c, "no partition follows this leader now");
	}
	atomic_store_explicit(&ft_st.partitions, f->nlive,
			      memory_order_relaxed);
}

/* ---- requests to the leaders ---- */

static int order_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int32_t next_corr(struct dp_fetcher *f)
{
	f->corr = f->corr == INT32_MAX ? 1 : f->corr + 1;
	return f->corr;
}

/* The picks (slots) as request parts, topic by topic (sorted by topic
 * slot and partition); the slots sorted the same way in picks. */
static void parts_of(struct dp_fetcher *f, uint32_t *picks, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct ft_entry *e = &f->e[picks[i]];
		/* tslot: 10 bits, partition: 31, slot: 20 */
		f->order[i] = (uint64_t)e->tslot << 52 |
			      (uint64_t)(uint32_t)e->partition << 21 |
			      picks[i];
	}
	qsort(f->order, n, sizeof(f->order[0]), order_cmp);
	for (uint32_t i = 0; i < n; i++) {
		picks[i] = (uint32_t)(f->order[i] & ((1u << 21) - 1));
		const struct ft_entry *e = &f->e[picks[i]];
		const struct ft_name *nm = &f->names[e->tslot];
		f->parts[i] = (struct rw_part_req){
			.topic = nm->name,
			.topic_len = nm->len,
			.partition = e->partition,
			.current_leader_epoch = e->leader_epoch,
			.fetch_offset = e->fetch_offset,
			.leader_epoch = e->latest_epoch,
		};
	}
}

/* Send c's picked Fetch or epoch query (api): 1 when sent (or given
 * up), 0 when c is still writing the one before. */
static int send_request(struct dp_fetcher *f, struct ft_conn *c, int16_t api)
{
	uint32_t *picks = api == KC_API_FETCH ? c->fetch_pick : c->epoch_pick;
	uint32_t n = api == KC_API_FETCH ? c->nfetch : c->nepoch;
	if (n == 0 || c->nflight >= 2 || c->wlen)
		return 0;
	parts_of(f, picks, n);
	struct kc_arena s = { f->scratch_mem, sizeof(f->scratch_mem), 0 };
	int32_t corr = next_corr(f);
	long len;
	if (api == KC_API_FETCH) {
		struct rw_fetch_params fp = {
			.replica_id = f->node_id,
			.max_wait_ms = FT_MAX_WAIT_MS,
			.min_bytes = FT_MIN_BYTES,
			.max_bytes = FT_MAX_BYTES,
			.partition_max_bytes = FT_PART_MAX_BYTES,
		};
		len = rw_encode_fetch(c->wbuf, FT_WBUF_BYTES, corr,
				      f->client_id, &fp, f->parts, n, &s);
	} else {
		len = rw_encode_epoch_query(c->wbuf, FT_WBUF_BYTES, corr,
					    f->client_id, f->node_id, f->parts,
					    n, &s);
	}
	if (len < 0) {
		/* the bounds above make this unreachable; were it reached,
		 * the entries wait and ask again */
		dp_log("follower: a request to leader %d could not be built: "
		       "%s", c->node, sl_strerror((int)len));
		for (uint32_t i = 0; i < n; i++)
			f->e[picks[i]].wait_until_ns =
				later(dp_now_ns(f->dp), FT_STORAGE_RETRY_MS);
		return 1;
	}
	c->wlen = (size_t)len;
	c->woff = 0;
	c->flight[c->nflight++] = (struct ft_flight){
		.corr = corr, .api = api, .nparts = n,
		.sent_ns = dp_now_ns(f->dp) };
	for (uint32_t i = 0; i < n; i++) {
		struct ft_entry *e = &f->e[picks[i]];
		e->net_busy = 1;
		e->net_corr = corr;
	}
	conn_flush(f, c);
	return 1;
}

static int flight_of(const struct ft_conn *c, int16_t api)
{
	for (unsigned i = 0; i < c->nflight; i++)
		if (c->flight[i].api == api)
			return 1;
	return 0;
}

/* The throttle's bucket filled up to now. */
static void throttle_fill(struct dp_fetcher *f, uint64_t now)
{
	if (!f->throttle_rate || now <= f->throttle_ns)
		return;
	uint64_t ns = now - f->throttle_ns;
	int64_t cap = (int64_t)f->throttle_rate;
	/* ns < 2^64 and rate <= 2^40: in 128 bits, then capped */
	unsigned __int128 add = (unsigned __int128)ns * f->throttle_rate /
				1000000000u;
	f->throttle_tokens = add >= (unsigned __int128)(cap - f->throttle_tokens)
				     ? cap :
				     f->throttle_tokens + (int64_t)add;
	f->throttle_ns = now;
}

/* Whether e may be fetched now as the throttle sees it; when not, the
 * time it may is a deadline of the pass. */
static int throttle_allows(struct dp_fetcher *f, const struct ft_entry *e,
			   uint64_t now)
{
	if (!f->throttle_rate || !e->catchup || f->throttle_tokens > 0)
		return 1;
	uint64_t wait = (uint64_t)(1 - f->throttle_tokens) * 1000000000u /
			f->throttle_rate + 1;
	if (wait > 1000000000u)
		wait = 1000000000u; /* looked at again within a second */
	if (now + wait < f->wake_at_ns)
		f->wake_at_ns = now + wait;
	st_add(&ft_st.throttle_waits, 1);
	return 0;
}

/* One pass over the entries: storage requests sent, the leaders'
 * requests picked and sent; the nearest deadline noted.  Returns the
 * work done. */
static int act(struct dp_fetcher *f, uint64_t now)
{
	int work = 0;
	f->wake_at_ns = later(now, FT_SLEEP_MAX_MS);
	throttle_fill(f, now);
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		f->conns[i].nfetch = 0;
		f->conns[i].nepoch = 0;
		f->conns[i].appending = 0;
	}
	for (uint32_t s = 0; s < f->nslots; s++) {
		struct ft_entry *e = &f->e[s];
		if (e->id && e->store_busy && e->state == FT_FETCH &&
		    e->ci < FT_CONNS_MAX)
			f->conns[e->ci].appending++;
		if (!e->id || e->store_busy || e->net_busy)
			continue;
		if (e->wait_until_ns > now) {
			if (e->wait_until_ns < f->wake_at_ns)
				f->wake_at_ns = e->wait_until_ns;
			continue;
		}
		if (e->state == FT_STATE || e->state == FT_TRUNCATE) {
			if (f->store_out >= FT_STORE_OUT_MAX)
				continue;
			if (e->state == FT_STATE)
				send_state(f, e);
			else
				send_truncate(f, e);
			work++;
			continue;
		}
		struct ft_conn *c = e->ci < FT_CONNS_MAX ? &f->conns[e->ci] :
							   NULL;
		if (!c || c->node != e->leader || c->state != FC_UP)
			continue;
		if (e->state == FT_FETCH && c->nfetch < FT_FETCH_PARTS_MAX &&
		    !flight_of(c, KC_API_FETCH) && throttle_allows(f, e, now))
			c->fetch_pick[c->nfetch++] = s;
		else if (e->state == FT_EPOCH &&
			 c->nepoch < FT_EPOCH_PARTS_MAX &&
			 !flight_of(c, KC_API_OFFSET_FOR_LEADER_EPOCH))
			c->epoch_pick[c->nepoch++] = s;
	}
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		struct ft_conn *c = &f->conns[i];
		if (c->state != FC_UP)
			continue;
		/* the epoch query first: it is short, the Fetch is held */
		work += send_request(f, c, KC_API_OFFSET_FOR_LEADER_EPOCH);
		/* the next Fetch waits for the appends of the last answer: it
		 * then carries their partitions at their new ends, which is how
		 * the leader learns they are durable here (acks=all); sent
		 * without them it would be held up to FT_MAX_WAIT_MS while they
		 * wait for it */
		if (c->state == FC_UP && !c->appending)
			work += send_request(f, c, KC_API_FETCH);
	}
	return work;
}

/* ---- the leaders' answers ---- */

/* The entry an answer's partition names, if it waits for answer corr on
 * connection c. */
static struct ft_entry *answered(struct dp_fetcher *f, struct ft_conn *c,
				 int32_t corr, const char *topic,
				 uint16_t topic_len, int32_t partition,
				 unsigned *tslot_hint)
{
	if (topic_len == 0)
		return NULL;
	unsigned t = *tslot_hint;
	if (f->names[t].len != topic_len ||
	    memcmp(f->names[t].name, topic, topic_len) != 0) {
		t = DP_MAX_TOPICS;
		for (unsigned i = 0; i < DP_MAX_TOPICS; i++)
			if (f->names[i].id && f->names[i].len == topic_len &&
			    !memcmp(f->names[i].name, topic, topic_len)) {
				t = i;
				break;
			}
		if (t == DP_MAX_TOPICS)
			return NULL;
		*tslot_hint = t;
	}
	struct ft_entry *e = entry_find(f, f->names[t].id, partition);
	if (!e || !e->net_busy || e->net_corr != corr || e->leader != c->node)
		return NULL;
	return e;
}

/* The fetched batches of e as a DP_REPLICA_APPEND. */
static void append(struct dp_fetcher *f, struct ft_entry *e,
		   const struct rw_part_outcome *o)
{
	if (f->store_out >= FT_STORE_OUT_MAX) {
		st_add(&ft_st.ring_full, 1);
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_RETRY_MS);
		return; /* fetched again */
	}
	struct dp_msg *m = dp_msg_alloc(f->dp, o->records_len);
	if (!m) {
		st_add(&ft_st.alloc_failures, 1);
		e->wait_until_ns = later(dp_now_ns(f->dp), FT_RETRY_MS);
		return;
	}
	m->rq.rappend = (struct dp_replica_append){
		.state_epoch = e->leader_epoch,
		.fetch_offset = e->fetch_offset,
		.leader_hw = o->high_watermark,
		.leader_start = o->log_start_offset,
		.start_over = e->start_over,
	};
	if (store_submit(f, e, DP_REPLICA_APPEND, o->records, o->records_len,
			 m) == 0) {
		if (o->high_watermark > e->hw_told)
			e->hw_told = o->high_watermark;
		if (o->log_start_offset > e->start_told)
			e->start_told = o->log_start_offset;
	}
}

static void fetch_outcome(struct dp_fetcher *f, struct ft_entry *e,
			  const struct rw_part_outcome *o)
{
	uint64_t now = dp_now_ns(f->dp);
	e->net_busy = 0;
	if (o->error) {
		st_add(&ft_st.fetch_errors, 1);
		if (o->error == SN_ERR_OFFSET_OUT_OF_RANGE &&
		    o->log_start_offset > e->fetch_offset) {
			/* the leader no longer has what we would fetch next
			 * (retention, DeleteRecords): fetch from its log
			 * start, and the log starts over at the first batch
			 * fetched (which may begin below that start) */
			st_add(&ft_st.starts_over, 1);
			if (!e->oor)
				dp_log("follower: %s-%d starts over at the "
				       "leader's log start %lld (it has nothing "
				       "from %lld)", entry_topic(f, e),
				       e->partition,
				       (long long)o->log_start_offset,
				       (long long)e->fetch_offset);
			/* again without progress (a first batch that
			 * begins below our own start): backing off, as
			 * out_of_range does */
			uint32_t ms = e->oor ? FT_RETRY_MS << (e->oor < 6 ?
							       e->oor : 6) : 0;
			e->oor++;
			e->fetch_offset = o->log_start_offset;
			e->start_over = 1;
			e->wait_until_ns = later(now, ms < FT_OOR_WAIT_MAX_MS ?
							      ms :
							      FT_OOR_WAIT_MAX_MS);
		} else if (o->error == SN_ERR_OFFSET_OUT_OF_RANGE)
			out_of_range(f, e);
		else if (view_error(o->error))
			restart(f, e, FT_VIEW_WAIT_MS);
		else
			e->wait_until_ns = later(now, FT_STORAGE_RETRY_MS);
		return;
	}
	if (o->diverging_epoch >= 0) {
		/* we fetch with last_fetched_epoch -1, so a leader should
		 * not say it; if one does, truncation decides */
		restart(f, e, 0);
		return;
	}
	if (o->bad_rc) {
		st_add(&ft_st.malformed_batches, 1);
		if (!e->warned)
			dp_log("follower: %s-%d: a batch fetched from leader %d "
			       "at offset %lld failed its check (%s); dropped "
			       "with the %u bytes after it",
			       entry_topic(f, e), e->partition, e->leader,
			       (long long)(o->next_offset >= 0 ?
						   o->next_offset :
						   e->fetch_offset),
			       sl_strerror(o->bad_rc), o->dropped_bytes);
		e->warned = 1;
		if (!o->records_len)
			e->wait_until_ns = later(now, FT_BAD_BATCH_WAIT_MS);
	}
	if (e->catchup && f->throttle_rate) {
		f->throttle_tokens -= (int64_t)o->records_len;
		st_add(&ft_st.throttled_bytes, o->records_len);
	}
	/* no records: an append of none still hands the storage core the
	 * leader's high watermark when it moved (a follower's moves with
	 * every answer, as Kafka's, so that it is close behind the
	 * leader's should it lead next), and its log start when that moved
	 * (DeleteRecords, retention: the follower deletes the same records
	 * without waiting for another record or watermark) */
	if (o->records_len || o->high_watermark > e->hw_told ||
	    o->log_start_offset > e->start_told)
		append(f, e, o);
}

static int frame_fetch(struct dp_fetcher *f, struct ft_conn *c,
		       const struct ft_flight *fl, const uint8_t *p, size_t n)
{
	struct kc_arena a = { f->arena_mem, sizeof(f->arena_mem), 0 };
	struct rw_fetch_resp r;
	int rc = rw_decode_fetch(p, n, fl->corr, &a, &r);
	if (rc < 0)
		return rc;
	st_add(&ft_st.fetches, 1);
	unsigned hint = 0;
	uint32_t left = fl->nparts;
	struct rw_part_outcome o;
	/* bounded: the answer's partitions, which the arena holds */
	while (rw_fetch_next(&r, &o)) {
		struct ft_entry *e = answered(f, c, fl->corr, o.topic,
					      o.topic_len, o.partition, &hint);
		if (!e)
			continue;
		left--;
		if (r.body.error_code) {
			/* the whole request failed (a session we never
			 * asked for...): every partition waits */
			o.error = r.body.error_code;
		}
		fetch_outcome(f, e, &o);
	}
	if (r.body.error_code)
		st_add(&ft_st.fetch_errors, 1);
	if (left) {
		/* partitions the answer left out: asked again */
		uint64_t wait = r.body.error_code ?
					later(dp_now_ns(f->dp), FT_VIEW_WAIT_MS) :
					0;
		for (uint32_t s = 0; s < f->nslots; s++) {
			struct ft_entry *e = &f->e[s];
			if (e->id && e->net_busy && e->net_corr == fl->corr) {
				e->net_busy = 0;
				e->wait_until_ns = wait;
			}
		}
	}
	return 0;
}

static int frame_epoch(struct dp_fetcher *f, struct ft_conn *c,
		       const struct ft_flight *fl, const uint8_t *p, size_t n)
{
	struct kc_arena a = { f->arena_mem, sizeof(f->arena_mem), 0 };
	struct rw_epoch_resp r;
	int rc = rw_decode_epoch(p, n, fl->corr, &a, &r);
	if (rc < 0)
		return rc;
	unsigned hint = 0;
	uint32_t left = fl->nparts;
	struct rw_epoch_outcome o;
	/* bounded: the answer's partitions */
	while (rw_epoch_next(&r, &o)) {
		struct ft_entry *e = answered(f, c, fl->corr, o.topic,
					      o.topic_len, o.partition, &hint);
		if (!e || e->state != FT_EPOCH)
			continue;
		left--;
		e->net_busy = 0;
		if (o.error) {
			restart(f, e, FT_VIEW_WAIT_MS);
			continue;
		}
		e->answer_epoch = o.leader_epoch;
		e->answer_end = o.end_offset;
		e->state = FT_TRUNCATE;
	}
	if (left)
		for (uint32_t s = 0; s < f->nslots; s++) {
			struct ft_entry *e = &f->e[s];
			if (e->id && e->net_busy && e->net_corr == fl->corr)
				e->net_busy = 0;
		}
	return 0;
}

static void malformed(struct dp_fetcher *f, struct ft_conn *c,
		      const char *what)
{
	st_add(&ft_st.malformed_responses, 1);
	char why[96];
	snprintf(why, sizeof(why), "malformed answer (%s)", what);
	conn_close(f, c, why);
}

/* The whole frames in c's read buffer.  0, or -1 when c was closed. */
static int conn_frames(struct dp_fetcher *f, struct ft_conn *c)
{
	size_t pos = 0;
	int rc = 0;
	/* bounded: each round consumes one frame */
	while (c->rlen - pos >= RW_SIZE_BYTES) {
		long size = rw_frame_size(c->rbuf + pos, c->rlen - pos);
		if (size < 0) {
			malformed(f, c, "frame size over 64 MiB or negative");
			return -1;
		}
		if ((size_t)size > c->rlen - pos)
			break;
		if (c->nflight == 0) {
			malformed(f, c, "an answer to no request");
			return -1;
		}
		struct ft_flight fl = c->flight[0];
		c->nflight--;
		memmove(&c->flight[0], &c->flight[1],
			c->nflight * sizeof(c->flight[0]));
		const uint8_t *p = c->rbuf + pos + RW_SIZE_BYTES;
		size_t n = (size_t)size - RW_SIZE_BYTES;
		rc = fl.api == KC_API_FETCH ? frame_fetch(f, c, &fl, p, n) :
					      frame_epoch(f, c, &fl, p, n);
		if (rc < 0) {
			/* put back: its entries are released on close */
			c->flight[c->nflight++] = fl;
			malformed(f, c, rc == -ENOBUFS ?
					       "more partitions than asked for" :
					       "does not decode as the answer "
					       "to the request it follows");
			return -1;
		}
		pos += (size_t)size;
	}
	if (pos) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	/* a buffer grown for a large answer goes back to its first size */
	if (c->rcap > FT_RBUF_KEEP && c->rlen <= FT_RBUF_MIN) {
		uint8_t *b = realloc(c->rbuf, FT_RBUF_MIN);
		if (b) {
			c->rbuf = b;
			c->rcap = FT_RBUF_MIN;
		}
	}
	/* room for the frame under way */
	if (c->rlen >= RW_SIZE_BYTES) {
		long size = rw_frame_size(c->rbuf, c->rlen);
		if (size > 0 && (size_t)size > c->rcap) {
			uint8_t *b = realloc(c->rbuf, (size_t)size);
			if (!b) {
				conn_close(f, c, "no memory for an answer");
				return -1;
			}
			c->rbuf = b;
			c->rcap = (size_t)size;
		}
	}
	return 0;
}

static void conn_read(struct dp_fetcher *f, struct ft_conn *c)
{
	/* bounded: FT_READS_PER_CYCLE reads, the rest on the next cycle */
	for (unsigned i = 0; i < FT_READS_PER_CYCLE; i++) {
		if (c->rlen == c->rcap && conn_frames(f, c) < 0)
			return;
		if (c->rlen == c->rcap) {
			malformed(f, c, "a frame larger than its buffer");
			return;
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
				 MSG_DONTWAIT);
		if (n == 0) {
			conn_close(f, c, "closed by the leader");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				conn_close(f, c, strerror(errno));
			return;
		}
		c->rlen += (size_t)n;
		if (conn_frames(f, c) < 0)
			return;
	}
}

/* What poll said of c. */
static void conn_events(struct dp_fetcher *f, struct ft_conn *c, short ev)
{
	if (c->state == FC_CONNECTING) {
		if (!(ev & (POLLOUT | POLLERR | POLLHUP)))
			return;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			connect_failed(f, c, err);
			return;
		}
		conn_up(c);
		return;
	}
	if (c->state != FC_UP)
		return;
	if ((ev & POLLOUT) && conn_flush(f, c) < 0)
		return;
	if (ev & (POLLIN | POLLERR | POLLHUP))
		conn_read(f, c);
}

/* Connections due to connect, and answers overdue. */
static int conns_tick(struct dp_fetcher *f, uint64_t now)
{
	int work = 0;
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		struct ft_conn *c = &f->conns[i];
		if (c->state == FC_IDLE && now >= c->retry_at_ns) {
			conn_start(f, c);
			work++;
		} else if (c->state == FC_CONNECTING &&
			   now >= c->retry_at_ns) {
			connect_failed(f, c, ETIMEDOUT);
		} else if (c->state == FC_UP && c->nflight &&
			   now > c->flight[0].sent_ns +
					 (uint64_t)FT_ANSWER_TIMEOUT_MS * MS) {
			st_add(&ft_st.timeouts, 1);
			conn_close(f, c, "no answer in time");
		}
		if (c->state == FC_IDLE && c->retry_at_ns < f->wake_at_ns)
			f->wake_at_ns = c->retry_at_ns;
	}
	return work;
}

/* ---- the thread ---- */

static void wake_cores(struct dp_fetcher *f)
{
	struct dp *dp = f->dp;
	for (uint32_t i = 0; i < dp->nstore; i++)
		if (f->net.core_touched[i]) {
			f->net.core_touched[i] = 0;
			dp_store_wake(dp->store[i]);
		}
}

static int stopping(struct dp_fetcher *f)
{
	return atomic_load_explicit(&f->quit, memory_order_relaxed) ||
	       atomic_load_explicit(&f->dp->stop, memory_order_relaxed);
}

/* Sleep in poll() on the wake fd and the connections until something
 * happens or timeout_ms, then handle what the connections said. */
static void wait_and_read(struct dp_fetcher *f, int timeout_ms)
{
	struct pollfd pfd[1 + FT_CONNS_MAX];
	struct ft_conn *who[1 + FT_CONNS_MAX];
	unsigned n = 0;
	pfd[n++] = (struct pollfd){ f->net.wake_fd, POLLIN, 0 };
	for (unsigned i = 0; i < FT_CONNS_MAX; i++) {
		struct ft_conn *c = &f->conns[i];
		if (c->fd < 0 || c->state == FC_FREE || c->state == FC_IDLE)
			continue;
		short ev = c->state == FC_CONNECTING ? POLLOUT : POLLIN;
		if (c->state == FC_UP && c->woff < c->wlen)
			ev |= POLLOUT;
		who[n] = c;
		pfd[n++] = (struct pollfd){ c->fd, ev, 0 };
	}
	if (timeout_ms > 0) {
		/* seq_cst: pairs with dp_complete's load of sleeping
		 * (Dekker): either it sees us asleep and writes the fd, or we
		 * see its message in the ring */
		atomic_store(&f->net.sleeping, 1);
		if (dp_ring_count(f->net.completions) > 0)
			timeout_ms = 0;
	}
	int k = poll(pfd, n, timeout_ms);
	atomic_store(&f->net.sleeping, 0);
	if (k <= 0)
		return;
	if (pfd[0].revents & POLLIN) {
		uint64_t v;
		if (read(f->net.wake_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: another read took it */
		}
	}
	for (unsigned i = 1; i < n; i++)
		if (pfd[i].revents)
			conn_events(f, who[i], pfd[i].revents);
}

static void *fetcher_main(void *arg)
{
	struct dp_fetcher *f = arg;
	struct dp *dp = f->dp;
	int work = 1;
	/* bounded by the stop flags, checked every cycle (a cycle sleeps
	 * FT_SLEEP_MAX_MS at most) */
	while (!stopping(f)) {
		/* release: every partition pointer of the cycles before is
		 * dropped; pairs with topics.c net_grace's acquire load */
		atomic_fetch_add_explicit(&dp->fetch_epoch, 1,
					  memory_order_release);
		uint64_t now = dp_now_ns(dp);
		/* acquire: pairs with dp_fetcher_kick's release add (the
		 * views it announced are under cluster_lock anyway) */
		uint64_t kick = atomic_load_explicit(&ft_kick_gen,
						     memory_order_acquire);
		if (now >= f->next_refresh_ns ||
		    (kick != f->kick_seen &&
		     now >= f->last_refresh_ns + FT_KICK_MIN_MS * MS)) {
			f->kick_seen = kick;
			refresh(f);
			f->last_refresh_ns = now;
			f->next_refresh_ns = later(now, FT_REFRESH_MS);
		}
		work = drain_completions(f);
		work += act(f, now);
		work += conns_tick(f, now);
		wake_cores(f);
		int timeout_ms = 0;
		if (!work) {
			uint64_t at = f->wake_at_ns;
			/* a kick that came too soon after the last refresh */
			if (f->kick_seen != kick &&
			    at > f->last_refresh_ns + FT_KICK_MIN_MS * MS)
				at = f->last_refresh_ns + FT_KICK_MIN_MS * MS;
			if (at > f->next_refresh_ns)
				at = f->next_refresh_ns;
			timeout_ms = at > now ? (int)((at - now + MS - 1) / MS) :
						0;
			if (timeout_ms > FT_SLEEP_MAX_MS)
				timeout_ms = FT_SLEEP_MAX_MS;
		}
		wait_and_read(f, timeout_ms);
	}
	return NULL;
}

/* ---- start, stop ---- */

/* Wait (bounded) for the storage cores to answer what is outstanding.
 * Returns what is still outstanding. */
static uint32_t settle(struct dp_fetcher *f)
{
	for (unsigned i = 0; i < FT_STOP_WAIT_MS && f->store_out; i++) {
		drain_completions(f);
		if (f->store_out)
			usleep(1000);
	}
	return f->store_out;
}

static void fetcher_free(struct dp_fetcher *f)
{
	for (unsigned i = 0; i < FT_CONNS_MAX; i++)
		if (f->conns[i].state != FC_FREE)
			conn_free(f, &f->conns[i], "stopping");
	free(f->e);
	free(f->free_slots);
	free(f->hash);
	free(f->names);
	free(f->parts);
	free(f->order);
	if (f->net.completions)
		dp_ring_destroy(f->net.completions);
	if (f->net.wake_fd >= 0)
		close(f->net.wake_fd);
	free(f);
}

int dp_fetcher_start(struct dp *dp)
{
	if (dp->fetcher)
		return 0;
	struct dp_fetcher *f;
	if (posix_memalign((void **)&f, 64, sizeof(*f)))
		return -ENOMEM;
	memset(f, 0, offsetof(struct dp_fetcher, scratch_mem));
	f->dp = dp;
	f->net.dp = dp;
	f->net.id = DP_MAX_NET_CORES; /* not one of dp->net[] */
	f->net.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (unsigned i = 0; i < FT_CONNS_MAX; i++)
		f->conns[i].fd = -1;
	f->node_id = dp->cfg.node_id;
	f->throttle_rate = dp->cfg.follower_replication_throttled_rate;
	f->throttle_tokens = (int64_t)f->throttle_rate;
	f->throttle_ns = dp_now_ns(dp);
	snprintf(f->client_id, sizeof(f->client_id), "sluice-follower-%d",
		 f->node_id);
	f->next_refresh_ns = 0;
	int rc = f->net.wake_fd < 0 ? -errno : 0;
	if (!rc)
		rc = dp_ring_create(FT_COMPLETION_SLOTS, &f->net.completions);
	f->names = calloc(DP_MAX_TOPICS, sizeof(*f->names));
	f->parts = calloc(FT_FETCH_PARTS_MAX, sizeof(*f->parts));
	f->order = calloc(FT_FETCH_PARTS_MAX, sizeof(*f->order));
	if (!rc && (!f->names || !f->parts || !f->order))
		rc = -ENOMEM;
	if (!rc)
		rc = hash_rebuild(f, 0);
	if (rc) {
		fetcher_free(f);
		return rc;
	}
	dp->fetch_wake_fd = f->net.wake_fd;
	dp->fetcher = f;
	rc = pthread_create(&f->thread, NULL, fetcher_main, f);
	if (rc) {
		dp->fetcher = NULL;
		dp->fetch_wake_fd = -1;
		fetcher_free(f);
		return -rc;
	}
	pthread_setname_np(f->thread, "sl-fetch");
	dp_log("follower fetcher: started (node %d)", f->node_id);
	return 0;
}

void dp_fetcher_kick(struct dp *dp)
{
	/* release: pairs with the fetcher's acquire load at the top of its
	 * cycle */
	atomic_fetch_add_explicit(&ft_kick_gen, 1, memory_order_release);
	if (dp->fetcher)
		dp_wake_fd(dp->fetch_wake_fd);
}

void dp_fetcher_stop(struct dp *dp)
{
	struct dp_fetcher *f = dp->fetcher;
	if (!f)
		return;
	atomic_store_explicit(&f->quit, 1, memory_order_relaxed);
	dp_wake_fd(f->net.wake_fd);
	pthread_join(f->thread, NULL);
	dp->fetcher = NULL;
	uint32_t left = settle(f);
	if (left) {
		/* a storage core may still complete into the ring: keep it
		 * (and the eventfd) for the life of the process */
		dp_log("follower fetcher: %u storage request(s) unanswered at "
		       "stop; its completion ring is kept", left);
		for (unsigned i = 0; i < FT_CONNS_MAX; i++)
			if (f->conns[i].state != FC_FREE)
				conn_free(f, &f->conns[i], "stopping");
		return;
	}
	dp->fetch_wake_fd = -1;
	fetcher_free(f);
	dp_log("follower fetcher: stopped");
}

void dp_fetcher_stats(struct dp *dp, struct dp_fetcher_stats *out)
{
	(void)dp;
	memset(out, 0, sizeof(*out));
	out->fetches = atomic_load_explicit(&ft_st.fetches,
					    memory_order_relaxed);
	out->fetch_errors = atomic_load_explicit(&ft_st.fetch_errors,
						 memory_order_relaxed);
	out->records_bytes = atomic_load_explicit(&ft_st.records_bytes,
						  memory_order_relaxed);
	out->appends = atomic_load_explicit(&ft_st.appends,
					    memory_order_relaxed);
	out->truncations = atomic_load_explicit(&ft_st.truncations,
						memory_order_relaxed);
	out->connects = atomic_load_explicit(&ft_st.connects,
					     memory_order_relaxed);
	out->connect_failures = atomic_load_explicit(&ft_st.connect_failures,
						     memory_order_relaxed);
	out->malformed_responses = atomic_load_explicit(
		&ft_st.malformed_responses, memory_order_relaxed);
	out->partitions = atomic_load_explicit(&ft_st.partitions,
					       memory_order_relaxed);
	out->malformed_batches = atomic_load_explicit(&ft_st.malformed_batches,
						      memory_order_relaxed);
	out->alloc_failures = atomic_load_explicit(&ft_st.alloc_failures,
						   memory_order_relaxed);
	out->ring_full = atomic_load_explicit(&ft_st.ring_full,
					      memory_order_relaxed);
	out->timeouts = atomic_load_explicit(&ft_st.timeouts,
					     memory_order_relaxed);
	out->disconnects = atomic_load_explicit(&ft_st.disconnects,
						memory_order_relaxed);
	out->starts_over = atomic_load_explicit(&ft_st.starts_over,
						memory_order_relaxed);
	out->throttled_bytes = atomic_load_explicit(&ft_st.throttled_bytes,
						    memory_order_relaxed);
	out->throttle_waits = atomic_load_explicit(&ft_st.throttle_waits,
						   memory_order_relaxed);
}
