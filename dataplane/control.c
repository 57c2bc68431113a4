/*
 * The control socket (proto/ipc.h), served by the main thread: one
 * sluice-control connection at a time on a SOCK_SEQPACKET Unix socket.
 * HELLO, TOPIC_PUT, TOPIC_DELETE, SYNC_DONE from control; ADMIN to control
 * (client CREATE_TOPIC / DELETE_TOPIC frames taken from the net core's
 * admin ring), whose reply frame goes back to the client; KAFKA to control
 * (Kafka group, offset and admin requests, dataplane/kafka.c), answered
 * whenever control is done (a JoinGroup waits for its rebalance).
 *
 * Messages are read and built with proto/ipc.c's decoders and encoders.
 * One that breaks proto/ipc.h's rule is refused: a TOPIC_PUT/DELETE is
 * answered INVALID_REQUEST, a HELLO UNSUPPORTED_VERSION (then the
 * connection drops), a SYNC_DONE drops the connection, an ADMIN/KAFKA
 * reply answers the client with an error (Kafka: closes it).
 *
 * Requests waiting for control sit in a table of ADMIN_PENDING slots; the
 * correlation id sent to control is the slot plus a generation above it,
 * so a late reply never reaches a newer request.
 *
 * The loop also watches the signalfd (SIGTERM/SIGINT: return) and the
 * main wake eventfd (admin requests waiting).  Bounded: poll() with a
 * 1 s timeout, at most 64 messages per wake-up.
 *
 * Access (proto/local_socket.h): the socket is 0600 in a 0700 directory,
 * and a connection whose peer is neither our uid nor root is closed before
 * anything is read from it, counted in peers_refused.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/fetcher.h"
#include "proto/ipc.h"
#include "proto/local_socket.h"
#include "proto/record_batch.h"

#define ADMIN_PENDING 4096 /* a power of two */

/* connections refused by the peer check; written by the main thread,
 * read by telemetry (relaxed: a counter) */
static _Atomic uint64_t peers_refused;

uint64_t dp_control_peers_refused(void)
{
	return atomic_load_explicit(&peers_refused, memory_order_relaxed);
}

/* A new connection on the control socket: 1 to serve it, 0 when it was
 * refused (closed, counted). */
static int control_peer_ok(int fd)
{
	uid_t uid = 0;
	int ok = lsock_peer_allowed(fd, &uid);
	if (ok == 1)
		return 1;
	uint64_t n = atomic_fetch_add_explicit(&peers_refused, 1,
					       memory_order_relaxed) + 1;
	if ((n & (n - 1)) == 0) /* the 1st, 2nd, 4th ...: no log flood */
		dp_log("control socket: refused a connection from uid %d "
		       "(%s; %llu refused so far)", ok < 0 ? -1 : (int)uid,
		       ok < 0 ? strerror(-ok) : "not our uid nor root",
		       (unsigned long long)n);
	close(fd);
	return 0;
}

static struct dp_msg *pending[ADMIN_PENDING];
static uint32_t pending_gen[ADMIN_PENDING];

/* A reply coming in pieces (proto/ipc.h): what has come of it.  One at a
 * time: control sends a reply's pieces back to back. */
static struct {
	uint32_t corr;
	uint8_t *buf;
	size_t len, cap;
	bool failed;       /* too long, or memory: the request fails */
} joining;

static void join_reset(void)
{
	free(joining.buf);
	memset(&joining, 0, sizeof(joining));
}

/* Add a piece of the reply corr.  A piece of another reply drops what
 * was there (its request is failed when its last piece comes). */
static void join_add(uint32_t corr, const uint8_t *p, size_t n)
{
	if (joining.corr != corr) {
		join_reset();
		joining.corr = corr;
	}
	if (joining.failed)
		return;
	if (joining.len + n > SIPC_REPLY_MAX) {
		joining.failed = true;
		return;
	}
	if (joining.len + n > joining.cap) {
		size_t c = joining.cap ? joining.cap : 256 * 1024;
		while (c < joining.len + n)
			c *= 2;
		uint8_t *b = realloc(joining.buf, c);
		if (!b) {
			joining.failed = true;
			return;
		}
		joining.buf = b;
		joining.cap = c;
	}
	memcpy(joining.buf + joining.len, p, n);
	joining.len += n;
}
static uint32_t slot_cursor;

/* A free slot's correlation id, or 0 when every slot is taken. */
static uint32_t slot_take(void)
{
	for (unsigned i = 0; i < ADMIN_PENDING; i++) {
		unsigned slot = (slot_cursor + i) % ADMIN_PENDING;
		if (pending[slot])
			continue;
		slot_cursor = slot + 1;
		uint32_t gen = ++pending_gen[slot] & 0xfffff;
		if (gen == 0)
			gen = pending_gen[slot] = 1;
		return gen << 12 | slot;
	}
	return 0;
}

static struct dp_msg *slot_claim(uint32_t corr)
{
	unsigned slot = corr % ADMIN_PENDING;
	struct dp_msg *m = pending[slot];
	if (!m || (pending_gen[slot] & 0xfffff) != corr >> 12)
		return NULL;
	pending[slot] = NULL;
	return m;
}

static void fail_pending(struct dp *dp)
{
	join_reset();
	for (unsigned i = 0; i < ADMIN_PENDING; i++)
		if (pending[i]) {
			dp_admin_complete(dp, pending[i], NULL, 0,
				     SN_ERR_UNKNOWN_SERVER_ERROR);
			pending[i] = NULL;
		}
}

static void send_admin(struct dp *dp, int cfd)
{
	void *objs[DP_BURST];
	unsigned n = dp_ring_dequeue_burst(dp->admin_ring, objs, DP_BURST);
	for (unsigned i = 0; i < n; i++) {
		struct dp_msg *m = objs[i];
		uint32_t corr = slot_take();
		if (cfd < 0 || !corr ||
		    !atomic_load(&dp->control_synced) ||
		    m->req_len + SN_HEADER_BYTES > SIPC_MAX_MESSAGE) {
			if (m->req_len + SN_HEADER_BYTES > SIPC_MAX_MESSAGE)
				dp_log("control: a %u-byte request is too big "
				       "to forward (limit %u)", m->req_len,
				       SIPC_MAX_MESSAGE - SN_HEADER_BYTES);
			dp_admin_complete(dp, m, NULL, 0,
				     SN_ERR_UNKNOWN_SERVER_ERROR);
			continue;
		}
		unsigned slot = corr % ADMIN_PENDING;
		uint8_t buf[SIPC_MAX_MESSAGE];
		long len = m->rq.admin.protocol == DP_ADMIN_KAFKA
			? sipc_encode_kafka(buf, sizeof(buf), corr, m->req,
					    m->req_len)
			: sipc_encode_admin(buf, sizeof(buf), corr, m->req,
					    m->req_len);
		if (len < 0 ||
		    send(cfd, buf, (size_t)len, MSG_NOSIGNAL) != (ssize_t)len) {
			dp_admin_complete(dp, m, NULL, 0,
				     SN_ERR_UNKNOWN_SERVER_ERROR);
			continue;
		}
		pending[slot] = m;
	}
}

/* ---- the cluster's view (cluster.h), from control ---- */

static int broker_cmp(const void *a, const void *b)
{
	const struct dp_broker *x = a, *y = b;
	return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

static int put_brokers(struct dp *dp, const struct sipc_broker *b,
			   unsigned n)
{
	if (!dp->brokers || n > SIPC_BROKERS_MAX)
		return SN_ERR_INVALID_REQUEST;
	static struct dp_broker next[SIPC_BROKERS_MAX]; /* main only */
	for (unsigned i = 0; i < n; i++) {
		if (!b[i].host_len || b[i].host_len > SIPC_HOST_MAX)
			return SN_ERR_INVALID_REQUEST;
		next[i] = (struct dp_broker){ .node_id = b[i].node_id,
					      .kafka_port = b[i].kafka_port,
					      .native_port = b[i].native_port,
					      .fenced = b[i].fenced,
					      .udp_port = b[i].udp_port };
		struct in_addr ua = {.s_addr = b[i].udp_addr};
		if (b[i].udp_addr)
			inet_ntop(AF_INET, &ua, next[i].udp_host,
				  sizeof(next[i].udp_host));
		memcpy(next[i].host, b[i].host, b[i].host_len);
		next[i].host[b[i].host_len] = '\0';
	}
	qsort(next, n, sizeof(next[0]), broker_cmp);
	for (unsigned i = 1; i < n; i++)
		if (next[i].node_id == next[i - 1].node_id)
			return SN_ERR_INVALID_REQUEST;
	pthread_rwlock_wrlock(&dp->cluster_lock);
	memcpy(dp->brokers, next, n * sizeof(next[0]));
	dp->nbrokers = n;
	pthread_rwlock_unlock(&dp->cluster_lock);
	int fenced = 0;
	for (unsigned i = 0; i < n; i++)
		if (next[i].node_id == dp->cfg.node_id)
			fenced = next[i].fenced;
	if (atomic_exchange(&dp->self_fenced, fenced) != fenced)
		dp_log("cluster: this broker is %s", fenced ?
		       "fenced: it leads no partition until unfenced" :
		       "unfenced");
	dp_fetcher_kick(dp);
	return 0;
}

/* s is one that isr_apply would take: nodes in range, none twice, the
 * in-sync ones and the leader among the replicas. */
static bool state_valid(const struct sipc_partition_state *s)
{
	if (s->nreplicas > DP_REPLICAS_MAX || s->nisr > s->nreplicas)
		return false;
	for (unsigned i = 0; i < s->nreplicas; i++)
		for (unsigned j = 0; j < i; j++)
			if (s->replicas[i] == s->replicas[j])
				return false;
	for (unsigned i = 0; i < s->nisr; i++) {
		bool found = false;
		for (unsigned j = 0; j < s->nreplicas; j++)
			found |= s->isr[i] == s->replicas[j];
		for (unsigned j = 0; j < i; j++)
			if (s->isr[i] == s->isr[j])
				return false;
		if (!found)
			return false;
	}
	if (s->leader >= 0) {
		bool found = false;
		for (unsigned j = 0; j < s->nisr; j++)
			found |= s->leader == s->isr[j];
		if (!found)
			return false;
	}
	return true;
}

static int put_state(struct dp *dp, const struct sipc_partition_state *s)
{
	struct dp_partition *p = dp_partition_get(dp, s->topic_id,
						  s->partition);
	if (!p)
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (!state_valid(s))
		return SN_ERR_INVALID_REQUEST;
	/* main is the view's only writer: reading it needs no lock */
	if (s->leader_epoch < p->view.leader_epoch ||
	    (s->leader_epoch == p->view.leader_epoch &&
	     s->partition_epoch < p->view.partition_epoch))
		return 74; /* FENCED_LEADER_EPOCH: older than what we have */
	struct dp_pview v = { .leader = s->leader,
			      .leader_epoch = s->leader_epoch,
			      .partition_epoch = s->partition_epoch,
			      .nreplicas = s->nreplicas,
			      .nisr = s->nisr,
			      .min_isr = s->min_isr ? s->min_isr : 1 };
	memcpy(v.replicas, s->replicas, s->nreplicas * sizeof(int32_t));
	memcpy(v.isr, s->isr, s->nisr * sizeof(int32_t));
	pthread_rwlock_wrlock(&dp->cluster_lock);
	p->view = v;
	pthread_rwlock_unlock(&dp->cluster_lock);
	int rc = dp_store_cmd(dp, p->core, DPC_STATE, p);
	/* not a replica here (any more): a copy it holds is removed (the
	 * core leaves an empty log alone: 0) */
	bool replica = false;
	for (unsigned i = 0; i < v.nreplicas; i++)
		replica |= v.replicas[i] == dp->cfg.node_id;
	if (rc >= 0 && !replica && v.nreplicas &&
	    dp_store_cmd(dp, p->core, DPC_WIPE, p) == 1)
		rc = dp_store_cmd(dp, p->core, DPC_STATE, p);
	dp_fetcher_kick(dp);
	return rc < 0 ? SN_ERR_INVALID_REQUEST : 0;
}

/* The in-sync set changes asked of control, by correlation id, so that
 * a refusal reaches the partition it is about (main thread only). */
#define ALTERS_SENT 256
static struct {
	uint32_t corr;        /* 0: free */
	uint32_t topic_id;
	int32_t partition;
	int32_t leader_epoch, partition_epoch; /* the request's */
} alters_sent[ALTERS_SENT];
static uint32_t alter_corr;

/* The storage cores' in-sync set changes, to control. */
static void send_alter_isr(struct dp *dp, int cfd)
{
	struct sipc_alter_isr a;
	/* bounded: the queue's slots */
	for (unsigned i = 0; i < 1024 && dp_cluster_next_alter(dp, &a); i++) {
		if (cfd < 0)
			continue; /* dropped: the core asks again */
		if (++alter_corr == 0)
			alter_corr = 1;
		alters_sent[alter_corr % ALTERS_SENT].corr = alter_corr;
		alters_sent[alter_corr % ALTERS_SENT].topic_id = a.topic_id;
		alters_sent[alter_corr % ALTERS_SENT].partition = a.partition;
		alters_sent[alter_corr % ALTERS_SENT].leader_epoch =
			a.leader_epoch;
		alters_sent[alter_corr % ALTERS_SENT].partition_epoch =
			a.partition_epoch;
		uint8_t buf[SIPC_ALTER_ISR_BYTES + 4 * SIPC_REPLICAS_MAX];
		long len = sipc_encode_alter_isr(buf, sizeof(buf), alter_corr,
						 &a);
		if (len < 0 ||
		    send(cfd, buf, (size_t)len, MSG_NOSIGNAL) != (ssize_t)len)
			dp_log("control: in-sync set change of topic %u "
			       "partition %d not sent", a.topic_id, a.partition);
	}
}

/* Send a reply of len bytes (an encoder's result) to control. */
static void send_reply(int cfd, const uint8_t *buf, long len)
{
	assert(len >= SN_HEADER_BYTES);
	if (send(cfd, buf, (size_t)len, MSG_NOSIGNAL) < 0)
		dp_log("control: reply failed: %s", strerror(errno));
}

/* The header-only reply to a request: its outcome. */
static void reply(int cfd, uint8_t opcode, uint32_t corr, int16_t err)
{
	uint8_t buf[SN_HEADER_BYTES];
	send_reply(cfd, buf,
		   sipc_encode_reply(buf, sizeof(buf), opcode, corr, err));
}

/* Control refused an in-sync set change.  Refused at the partition's
 * current epochs for what it asked (a replica fenced, INELIGIBLE_REPLICA;
 * a malformed set, INVALID_REQUEST): the controller's set is the one the
 * partition has, and a replica the leader counted in at once (KIP-497)
 * is taken back by applying that state again (when the partition still
 * has the state the request was made at: a newer one settled it, and
 * may have a newer request pending).  Refused for stale epochs
 * (or no controller): a newer state is on its way, or the leader asks
 * again; what it counts stays (the controller may have taken it). */
static void alter_refused(struct dp *dp, uint32_t corr, int16_t error)
{
	dp_log("control: in-sync set change refused: Kafka error %d (%s); "
	       "the leader asks again later", error, sn_error_name(error));
	if (error != 107 /* INELIGIBLE_REPLICA */ &&
	    error != SN_ERR_INVALID_REQUEST)
		return;
	if (corr == 0 || alters_sent[corr % ALTERS_SENT].corr != corr)
		return;
	unsigned k = corr % ALTERS_SENT;
	alters_sent[k].corr = 0;
	struct dp_partition *p = dp_partition_get(dp, alters_sent[k].topic_id,
						  alters_sent[k].partition);
	/* main is the view's only writer: reading it needs no lock */
	if (p && p->view.leader_epoch == alters_sent[k].leader_epoch &&
	    p->view.partition_epoch == alters_sent[k].partition_epoch)
		(void)dp_store_cmd(dp, p->core, DPC_STATE, p);
}

int dp_control_handle(struct dp *dp, int cfd, const uint8_t *f, size_t len)
{
	struct sn_header h;
	long n = sn_header_parse(f, len, SIPC_MAX_MESSAGE, &h);
	if (n <= 0 || (size_t)n != len) {
		dp_log("control: malformed message (%zu bytes); dropping the "
		       "connection", len);
		return -1;
	}
	switch (h.opcode) {
	case SIPC_HELLO: {
		uint32_t pid = 0;
		if (sipc_decode_hello(f, len, &pid)) {
			/* short, long or another ipc version alike */
			reply(cfd, SIPC_HELLO, h.corr,
			      SN_ERR_UNSUPPORTED_VERSION);
			return -1;
		}
		struct sipc_hello_reply r = { .pid = (uint32_t)getpid(),
					      .udp_port = dp->udp_port,
					      .tcp_port = dp->tcp_port };
		uint8_t buf[SIPC_HELLO_REPLY_BYTES];
		send_reply(cfd, buf,
			   sipc_encode_hello_reply(buf, sizeof(buf), h.corr, &r));
		dp_log("control: hello from pid %u", pid);
		atomic_store(&dp->control_synced, 0);
		return 0;
	}
	case SIPC_TOPIC_PUT: {
		struct sn_topic_info ti;
		int rc = sipc_decode_topic_put(f, len, &ti);
		if (rc == 0)
			rc = dp_topic_put(dp, &ti);
		/* a grown topic's partitions are new objects (topics.c),
		 * with the states they had: the follower looks again */
		if (rc == 0)
			dp_fetcher_kick(dp);
		reply(cfd, SIPC_TOPIC_PUT, h.corr, rc < 0 ? (int16_t)-rc : 0);
		return 0;
	}
	case SIPC_TOPIC_DELETE: {
		struct sipc_topic_delete td;
		int rc = sipc_decode_topic_delete(f, len, &td);
		if (rc == 0)
			rc = dp_topic_delete(dp, td.topic_id);
		reply(cfd, SIPC_TOPIC_DELETE, h.corr,
		      rc < 0 ? (int16_t)-rc : 0);
		return 0;
	}
	case SIPC_SYNC_DONE:
		if (sipc_decode_sync_done(f, len)) {
			dp_log("control: malformed SYNC_DONE (%zu bytes); "
			       "dropping the connection", len);
			return -1;
		}
		/* release: pairs with the net core's acquire in
		 * handle_admin */
		atomic_store_explicit(&dp->control_synced, 1,
				      memory_order_release);
		dp_log("control: synchronised");
		return 0;
	case SIPC_BROKERS: {
		static struct sipc_broker b[SIPC_BROKERS_MAX];
		unsigned nb = 0;
		int rc = sipc_decode_brokers(f, len, b, &nb);
		if (rc == 0)
			rc = put_brokers(dp, b, nb);
		else
			rc = SN_ERR_INVALID_REQUEST;
		reply(cfd, SIPC_BROKERS, h.corr, (int16_t)rc);
		return 0;
	}
	case SIPC_PARTITION_STATE: {
		struct sipc_partition_state ps;
		int rc = sipc_decode_partition_state(f, len, &ps);
		if (rc == 0)
			rc = put_state(dp, &ps);
		else
			rc = SN_ERR_INVALID_REQUEST;
		reply(cfd, SIPC_PARTITION_STATE, h.corr, (int16_t)rc);
		return 0;
	}
	case SIPC_ALTER_ISR | SN_RESPONSE:
		/* the new state, if any, comes as PARTITION_STATE; the
		 * leader asks again later when refused */
		if (h.error)
			alter_refused(dp, h.corr, h.error);
		return 0;
	case SIPC_ADMIN | SN_RESPONSE:
	case SIPC_KAFKA | SN_RESPONSE: {
		uint8_t op = h.opcode & (uint8_t)~SN_RESPONSE;
		const uint8_t *body = NULL;
		size_t body_len = 0;
		int more = 0, rc;
		if (h.flags & SIPC_FLAG_MORE) {
			/* a piece: kept until the last one */
			if (sipc_decode_reply_piece(f, len, op, &body,
						    &body_len, &more) == 0)
				join_add(h.corr, body, body_len);
			else
				joining.failed = true;
			return 0;
		}
		struct dp_msg *m = slot_claim(h.corr);
		bool joined = joining.corr == h.corr && joining.corr;
		if (!m) {
			if (joined)
				join_reset();
			return 0; /* late: failed over already */
		}
		if (joined) {
			/* the last piece: the answer is the pieces joined,
			 * judged as one message's body */
			rc = sipc_decode_reply_piece(f, len, op, &body,
						     &body_len, &more);
			if (!rc)
				join_add(h.corr, body, body_len);
			struct sn_header in;
			long il = 0;
			if (!rc && !joining.failed && op == SIPC_ADMIN)
				il = sn_header_parse(joining.buf, joining.len,
						     SIPC_REPLY_MAX, &in);
			if (rc || joining.failed ||
			    (op == SIPC_ADMIN &&
			     (il <= 0 || (size_t)il != joining.len ||
			      !(in.opcode & SN_RESPONSE)))) {
				dp_log("control: a reply of %zu bytes in pieces "
				       "could not be joined", joining.len);
				dp_admin_complete(dp, m, NULL, 0,
						  SN_ERR_UNKNOWN_SERVER_ERROR);
			} else {
				dp_admin_complete(dp, m, joining.buf,
						  joining.len, 0);
			}
			join_reset();
			return 0;
		}
		rc = h.opcode == (SIPC_ADMIN | SN_RESPONSE)
			? sipc_decode_admin_reply(f, len, &body, &body_len)
			: sipc_decode_kafka_reply(f, len, &body, &body_len);
		if (rc) {
			/* the client hears an error (or, Kafka, is closed) */
			dp_log("control: malformed reply 0x%02x (%zu bytes)",
			       h.opcode, len);
			body = NULL;
			body_len = 0;
		}
		dp_admin_complete(dp, m, body, body_len, h.error);
		return 0;
	}
	default:
		dp_log("control: unknown opcode 0x%02x", h.opcode);
		reply(cfd, h.opcode, h.corr, SN_ERR_UNSUPPORTED_VERSION);
		return 0;
	}
}

int dp_control_run(struct dp *dp, int signal_fd)
{
	const char *path = dp->cfg.control_socket;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		dp_log("control_socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	int e = lsock_prepare_dir(path);
	if (e < 0) {
		dp_log("control socket %s: its directory: %s", path, strerror(-e));
		return e;
	}
	unlink(path); /* a stale socket from an earlier run */
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	e = lfd < 0 ? -errno : lsock_bind_listen(lfd, &a, 4);
	if (e < 0) {
		dp_log("control socket %s: %s", path, strerror(-e));
		if (lfd >= 0)
			close(lfd);
		return e;
	}
	dp_log("control socket %s", path);
	int cfd = -1;
	static uint8_t buf[SIPC_MAX_MESSAGE];
	for (;;) {
		struct pollfd pfd[4] = {
			{ signal_fd, POLLIN, 0 },
			{ lfd, POLLIN, 0 },
			{ dp->main_wake_fd, POLLIN, 0 },
			{ cfd, POLLIN, 0 },
		};
		int r = poll(pfd, cfd >= 0 ? 4 : 3, 1000);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			if (read(signal_fd, &si, sizeof(si)) > 0)
				dp_log("signal %u: shutting down", si.ssi_signo);
			break;
		}
		if (pfd[1].revents & POLLIN) {
			int nfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (nfd >= 0 && control_peer_ok(nfd)) {
				if (cfd >= 0) {
					/* the newest control wins */
					close(cfd);
					fail_pending(dp);
				}
				cfd = nfd;
				atomic_store(&dp->control_synced, 0);
				dp_log("control: connected");
			}
		}
		if (pfd[2].revents & POLLIN) {
			uint64_t v;
			if (read(dp->main_wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing */
			}
		}
		send_admin(dp, cfd);
		send_alter_isr(dp, cfd);
		if (cfd >= 0 && pfd[3].revents) {
			int drop = 0;
			for (unsigned k = 0; k < 64; k++) {
				ssize_t n = recv(cfd, buf, sizeof(buf),
						 MSG_DONTWAIT);
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (n <= 0 || dp_control_handle(dp, cfd, buf, (size_t)n)) {
					drop = 1;
					break;
				}
			}
			if (drop) {
				close(cfd);
				cfd = -1;
				atomic_store(&dp->control_synced, 0);
				fail_pending(dp);
				dp_log("control: disconnected");
			}
		}
	}
	if (cfd >= 0)
		close(cfd);
	fail_pending(dp);
	close(lfd);
	unlink(path);
	return 0;
}
