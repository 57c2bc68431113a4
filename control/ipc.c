/*
 * The link to sluiced: connection, sync, the op queue and ADMIN requests.
 * The protocol is proto/ipc.h; the state machine is described in ipc.h.
 *
 * Failure modes and what they do:
 *   - sluiced not up (ENOENT / ECONNREFUSED): logged once, retried with
 *     backoff 100 ms doubling to 2 s;
 *   - the socket closes or errs, a message is malformed (proto/ipc.h
 *     says what is valid) or a reply late (SL_LINK_TIMEOUT_MS), the queue
 *     would overflow: the link drops, the queue is forgotten (the store is
 *     durable, so nothing is lost) and the next connection pushes
 *     everything again;
 *   - a TOPIC_PUT / TOPIC_DELETE answered with an error: logged; an ADMIN
 *     reply waiting on it carries that error to the client.  The change
 *     stays in the store and is pushed again at the next sync.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/cluster.h"
#include "control/cluster_image.h"
#include "control/groups.h"
#include "control/gtxn.h"
#include "control/txn.h"
#include "control/ipc.h"
#include "control/kadmin.h"
#include "control/kelect.h"
#include "control/kreassign.h"
#include "control/kunreg.h"
#include "control/kvoters.h"
#include "control/kquorum.h"
#include "control/log.h"
#include "control/route.h"
#include "control/share.h"
#include "proto/ipc.h"
#include "proto/kafka/kcodec.h"
#include "proto/local_socket.h"
#include "proto/native.h"
#include "proto/record_batch.h"

/* A topic of the store as the control protocol carries it. */
static struct sn_topic_info topic_info(const struct sl_topic *t)
{
	return (struct sn_topic_info){
		.topic_id = t->id,
		.partitions = t->partitions,
		.error = 0,
		.durability = t->durability,
		.retention_ms = t->retention_ms,
		.retention_bytes = t->retention_bytes,
		.segment_bytes = t->segment_bytes,
		.name = t->name,
		.name_len = t->name_len,
		.cleanup_policy = t->cleanup_policy,
		.min_cleanable_dirty_ratio = t->min_cleanable_dirty_ratio,
		.min_compaction_lag_ms = t->min_compaction_lag_ms,
		.max_compaction_lag_ms = t->max_compaction_lag_ms,
		.delete_retention_ms = t->delete_retention_ms,
	};
}

/* ---- the link ---- */

static void copy_topics(struct sl_meta *dst, const struct sl_meta *src)
{
	dst->count = src->count;
	dst->tomb_count = src->tomb_count;
	dst->next_id = src->next_id;
	memcpy(dst->topics, src->topics, sizeof(src->topics[0]) * src->count);
	memcpy(dst->tombs, src->tombs, sizeof(src->tombs[0]) * src->tomb_count);
}

int sl_link_create(struct sl_link *l, const struct sl_config *cfg,
		   struct sl_meta *meta)
{
	memset(l, 0, offsetof(struct sl_link, buf));
	memset(l->deferred, 0, sizeof(l->deferred));
	l->groups = NULL;
	l->txn = NULL;
	l->gtxn = NULL;
	l->kafka_requests = 0;
	l->fd = -1;
	l->cfg = cfg;
	l->meta = meta;
	l->state = SL_LINK_DOWN;
	l->next_corr = 1;
	l->backoff_ms = SL_LINK_BACKOFF_MIN_MS;
	snprintf(l->path, sizeof(l->path), "%s", cfg->control_socket);
	l->ops = calloc(SL_LINK_QUEUE, sizeof(*l->ops));
	l->pushed = malloc(sizeof(*l->pushed));
	l->ppushed = malloc(sizeof(*l->ppushed) * SL_CI_PARTITIONS_MAX);
	if (!l->ops || !l->pushed || !l->ppushed) {
		free(l->ops);
		free(l->pushed);
		free(l->ppushed);
		return -ENOMEM;
	}
	l->image = NULL;
	l->ppushed_count = 0;
	l->bpushed_hash = 0;
	l->pushed->count = l->pushed->tomb_count = 0;
	return 0;
}

/* Forget Kafka responses waiting for ops (the ops are gone; clients
 * time out and retry, and a retried CreateTopics sees the topic). */
static void deferred_clear(struct sl_link *l)
{
	for (unsigned i = 0; i < SL_KAFKA_DEFERRED; i++) {
		free(l->deferred[i].resp);
		l->deferred[i].resp = NULL;
	}
}

void sl_link_close(struct sl_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->state = SL_LINK_DOWN;
	l->head = l->send = l->tail = 0;
	deferred_clear(l);
	if (l->groups) /* replies for the old connection must not reach a
			  new sluiced */
		sl_groups_drop_conn(l->groups, (uint32_t)l->connects);
}

void sl_link_destroy(struct sl_link *l)
{
	sl_link_close(l);
	free(l->ops);
	free(l->pushed);
	free(l->ppushed);
	l->ops = NULL;
	l->pushed = NULL;
	l->ppushed = NULL;
}

int sl_link_fd(const struct sl_link *l)
{
	return l->fd;
}

static int outstanding(const struct sl_link *l)
{
	return l->state == SL_LINK_HELLO || l->send > l->head;
}

int sl_link_timeout_ms(const struct sl_link *l, int64_t now_ms, int max_ms)
{
	int64_t due = now_ms + max_ms;
	if (l->state == SL_LINK_DOWN && l->retry_at_ms < due)
		due = l->retry_at_ms;
	if (outstanding(l) && l->waiting_since_ms + SL_LINK_TIMEOUT_MS < due)
		due = l->waiting_since_ms + SL_LINK_TIMEOUT_MS;
	return due <= now_ms ? 0 : (int)(due - now_ms);
}

static void drop(struct sl_link *l, int64_t now_ms, const char *why)
{
	sl_log("link to sluiced at %s dropped: %s; reconnecting in %lld ms",
	       l->path, why, (long long)l->backoff_ms);
	sl_link_close(l);
	l->retry_at_ms = now_ms + l->backoff_ms;
	l->backoff_ms *= 2;
	if (l->backoff_ms > SL_LINK_BACKOFF_MAX_MS)
		l->backoff_ms = SL_LINK_BACKOFF_MAX_MS;
	l->down_logged = 1;
}

/* Send one message.  Returns 0 or -errno (the caller drops the link). */
static int send_msg(struct sl_link *l, const uint8_t *p, size_t len)
{
	assert(l->fd >= 0 && len <= SIPC_MAX_MESSAGE);
	for (int tries = 0; tries < 2; tries++) {
		ssize_t n = send(l->fd, p, len, MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return -EMSGSIZE;
		if (errno == EINTR) {
			tries--;
			continue;
		}
		if (errno != EAGAIN)
			return -errno;
		/* the window keeps this rare: wait a bounded second */
		struct pollfd pfd = { .fd = l->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 1000) <= 0)
			return -ETIMEDOUT;
	}
	return -ETIMEDOUT;
}

static struct sl_link_op *enqueue(struct sl_link *l, uint8_t opcode)
{
	if (l->tail - l->head >= SL_LINK_QUEUE)
		return NULL;
	struct sl_link_op *op = &l->ops[l->tail++ % SL_LINK_QUEUE];
	memset(op, 0, offsetof(struct sl_link_op, topic));
	op->opcode = opcode;
	return op;
}

static int queue_put(struct sl_link *l, const struct sl_topic *t)
{
	struct sl_link_op *op = enqueue(l, SIPC_TOPIC_PUT);
	if (!op)
		return -ENOSPC;
	op->topic = *t;
	return 0;
}

static int queue_delete(struct sl_link *l, uint32_t id, const char *name,
			uint16_t name_len)
{
	struct sl_link_op *op = enqueue(l, SIPC_TOPIC_DELETE);
	if (!op)
		return -ENOSPC;
	op->topic.id = id;
	op->topic.name_len = name_len;
	memcpy(op->topic.name, name, name_len);
	op->topic.name[name_len] = 0;
	return 0;
}

/* ---- a cluster's brokers and partition states ---- */

static struct sl_link_pstate pstate_of(const struct sl_ci_image *img,
				       const struct sl_ci_topic *t, int32_t p)
{
	const struct sl_ci_partition *cp = &img->parts[t->part_first +
						       (uint32_t)p];
	struct sl_link_pstate s = {
		.topic_id = t->id, .partition = p, .leader = cp->leader,
		.leader_epoch = cp->leader_epoch,
		.partition_epoch = cp->partition_epoch,
		.min_isr = t->min_insync_replicas,
		.nreplicas = cp->replica_count, .nisr = cp->isr_count,
	};
	memcpy(s.replicas, cp->replicas, sizeof(s.replicas));
	memcpy(s.isr, cp->isr, sizeof(s.isr));
	return s;
}

static uint64_t brokers_hash(const struct sl_ci_image *img)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < img->broker_count; i++) {
		const struct sl_ci_broker *b = &img->brokers[i];
		uint64_t v[6] = {(uint64_t)b->id, b->kafka_port,
				 b->native_port, b->fenced, b->udp_port,
				 b->udp_addr};
		for (unsigned k = 0; k < 6; k++)
			h = (h ^ v[k]) * 1099511628211ull;
		for (unsigned k = 0; k < b->host_len; k++)
			h = (h ^ (uint8_t)b->host[k]) * 1099511628211ull;
	}
	return h ^ img->broker_count;
}

static int pstate_cmp(const void *a, const void *b)
{
	const struct sl_link_pstate *x = a, *y = b;
	if (x->topic_id != y->topic_id)
		return x->topic_id < y->topic_id ? -1 : 1;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Queue BROKERS when the list changed (always when all), and
 * PARTITION_STATE for every partition whose state differs from what was
 * pushed (every one when all); remember what was queued. */
static int queue_cluster(struct sl_link *l, int all)
{
	const struct sl_ci_image *img = l->image;
	uint64_t bh = brokers_hash(img) ^ (uint64_t)l->self_fenced;
	if (all || bh != l->bpushed_hash) {
		if (!enqueue(l, SIPC_BROKERS))
			return -ENOSPC;
		l->bpushed_hash = bh;
	}
	uint32_t n = 0;
	int rc = 0;
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_ci_topic *t =
			sl_ci_topic_find_id(img, img->meta.topics[i].id);
		if (!t)
			continue;
		for (int32_t p = 0; p < t->partitions &&
				    n < SL_CI_PARTITIONS_MAX; p++) {
			struct sl_link_pstate s = pstate_of(img, t, p);
			const struct sl_link_pstate *o = all ? NULL :
				bsearch(&s, l->ppushed, l->ppushed_count,
					sizeof(s), pstate_cmp);
			if (!o || memcmp(o, &s, sizeof(s))) {
				struct sl_link_op *op =
					enqueue(l, SIPC_PARTITION_STATE);
				if (!op) {
					rc = -ENOSPC;
					break;
				}
				op->topic_id = s.topic_id;
				op->partition = p;
			}
			n++;
		}
	}
	return rc;
}

/* The pushed copy, rebuilt from the image (after queue_cluster). */
static void cluster_pushed(struct sl_link *l)
{
	const struct sl_ci_image *img = l->image;
	uint32_t n = 0;
	for (uint32_t i = 0; i < img->meta.count; i++) {
		const struct sl_ci_topic *t =
			sl_ci_topic_find_id(img, img->meta.topics[i].id);
		for (int32_t p = 0; t && p < t->partitions &&
				    n < SL_CI_PARTITIONS_MAX; p++)
			l->ppushed[n++] = pstate_of(img, t, p);
	}
	qsort(l->ppushed, n, sizeof(l->ppushed[0]), pstate_cmp);
	l->ppushed_count = n;
}

/* Encode a cluster op from the image as it is now; 0 when there is
 * nothing to send any more (the partition is gone). */
static long encode_cluster_op(struct sl_link *l, struct sl_link_op *op)
{
	const struct sl_ci_image *img = l->image;
	if (op->opcode == SIPC_BROKERS) {
		static struct sipc_broker b[SIPC_BROKERS_MAX];
		unsigned n = 0;
		for (uint32_t i = 0; i < img->broker_count &&
				     n < SIPC_BROKERS_MAX; i++) {
			const struct sl_ci_broker *x = &img->brokers[i];
			b[n++] = (struct sipc_broker){
				.node_id = x->id, .kafka_port = x->kafka_port,
				.native_port = x->native_port,
				.fenced = x->fenced ||
					  (l->self_fenced &&
					   x->id == l->cfg->node_id),
				.host = x->host, .host_len = x->host_len,
				.udp_port = x->udp_port,
				.udp_addr = x->udp_addr};
		}
		return sipc_encode_brokers(l->buf, sizeof(l->buf), op->corr, b,
					   n);
	}
	const struct sl_ci_topic *t = sl_ci_topic_find_id(img, op->topic_id);
	if (!t || op->partition >= t->partitions)
		return 0;
	struct sl_link_pstate s = pstate_of(img, t, op->partition);
	struct sipc_partition_state ps = {
		.topic_id = s.topic_id, .partition = s.partition,
		.leader = s.leader, .leader_epoch = s.leader_epoch,
		.partition_epoch = s.partition_epoch,
		.nreplicas = s.nreplicas, .nisr = s.nisr,
		.min_isr = (uint8_t)(s.min_isr > 255 ? 255 : s.min_isr),
	};
	memcpy(ps.replicas, s.replicas, sizeof(int32_t) * s.nreplicas);
	memcpy(ps.isr, s.isr, sizeof(int32_t) * s.nisr);
	return sipc_encode_partition_state(l->buf, sizeof(l->buf), op->corr,
					   &ps);
}

static void start_sync(struct sl_link *l, int64_t now_ms)
{
	/* the store as it is on disk now: a topic deleted (and perhaps
	 * created again) by another process while sluiced was away must
	 * not be pushed as it was */
	char err[512];
	if (sl_meta_changed(l->meta) > 0 &&
	    sl_meta_reload(l->meta, err, sizeof(err)))
		sl_log("re-reading metadata before syncing sluiced failed, "
		       "pushing the previous topics: %s", err);
	const struct sl_meta *m = l->meta;
	unsigned deletes = 0;
	l->head = l->send = l->tail = 0;
	deferred_clear(l);
	copy_topics(l->pushed, m);
	/* Every tombstone whose id is not live: sluiced may still hold the
	 * deleted topic, also when a topic of the same name was created
	 * again while it was down (the delete must come before the put of
	 * the new id, which would otherwise find the name taken). */
	for (uint32_t i = 0; i < m->tomb_count; i++) {
		const struct sl_tombstone *t = &m->tombs[i];
		if (sl_meta_find_id(m, t->id))
			continue;
		(void)queue_delete(l, t->id, t->name, t->name_len);
		deletes++;
	}
	for (uint32_t i = 0; i < m->count; i++)
		(void)queue_put(l, &m->topics[i]);
	if (l->image) {
		(void)queue_cluster(l, 1);
		cluster_pushed(l);
	}
	struct sl_link_op *op = enqueue(l, SIPC_SYNC_DONE);
	assert(op); /* SL_LINK_QUEUE > topics + tombstones + 1 */
	(void)op;
	l->state = SL_LINK_SYNC;
	l->syncs++;
	sl_log("syncing sluiced: %u topics, %u deleted topics", m->count,
	       deletes);
	(void)now_ms;
}

static int same_topic(const struct sl_topic *a, const struct sl_topic *b)
{
	return a->id == b->id && a->partitions == b->partitions &&
	       a->durability == b->durability &&
	       a->retention_ms == b->retention_ms &&
	       a->retention_bytes == b->retention_bytes &&
	       a->segment_bytes == b->segment_bytes &&
	       a->cleanup_policy == b->cleanup_policy &&
	       a->min_cleanable_dirty_ratio == b->min_cleanable_dirty_ratio &&
	       a->min_compaction_lag_ms == b->min_compaction_lag_ms &&
	       a->max_compaction_lag_ms == b->max_compaction_lag_ms &&
	       a->delete_retention_ms == b->delete_retention_ms &&
	       a->name_len == b->name_len && !strcmp(a->name, b->name);
}

void sl_link_changed(struct sl_link *l, int64_t now_ms)
{
	if (l->state == SL_LINK_DOWN || l->state == SL_LINK_HELLO)
		return; /* the next sync sends the current store */
	const struct sl_meta *m = l->meta, *old = l->pushed;
	int rc = 0;
	for (uint32_t i = 0; i < old->count && rc == 0; i++) {
		const struct sl_topic *t = &old->topics[i];
		if (!sl_meta_find_id(m, t->id)) {
			sl_log("pushing delete of topic '%s' id %u", t->name,
			       t->id);
			rc = queue_delete(l, t->id, t->name, t->name_len);
		}
	}
	for (uint32_t i = 0; i < m->count && rc == 0; i++) {
		const struct sl_topic *t = &m->topics[i];
		const struct sl_topic *o = sl_meta_find_id(old, t->id);
		if (!o || !same_topic(o, t)) {
			sl_log("pushing topic '%s' id %u", t->name, t->id);
			rc = queue_put(l, t);
		}
	}
	copy_topics(l->pushed, m);
	if (!rc && l->image) {
		rc = queue_cluster(l, 0);
		cluster_pushed(l);
	}
	if (rc)
		drop(l, now_ms, "op queue full; resyncing");
}

static int send_admin_reply(struct sl_link *l, uint32_t corr,
			    const uint8_t *resp, size_t len, int64_t now_ms);
static int send_kafka_reply(struct sl_link *l, uint32_t corr,
			    const uint8_t *resp, size_t len, int16_t err,
			    int64_t now_ms);

/* The done ops at the head leave the queue; the answers that waited for
 * them go out.  An answer waits for the last op its change queued, and
 * leaves once every op up to it is done, whether sluiced replied to that
 * op or it was done without a reply (a partition gone by the time it was
 * sent): waiting for that op's reply alone would keep such an answer
 * forever. */
static void advance(struct sl_link *l, int64_t now_ms)
{
	while (l->head < l->send && l->ops[l->head % SL_LINK_QUEUE].done)
		l->head++;
	for (unsigned i = 0; i < SL_KAFKA_DEFERRED && l->fd >= 0; i++) {
		struct sl_kafka_deferred *d = &l->deferred[i];
		if (!d->resp || d->op_seq >= l->head)
			continue;
		if (d->native)
			send_admin_reply(l, d->corr, d->resp, d->len, now_ms);
		else
			send_kafka_reply(l, d->corr, d->resp, d->len, 0,
					 now_ms);
		free(d->resp);
		d->resp = NULL;
	}
}

/* Send queued ops while the window allows. */
static int pump(struct sl_link *l, int64_t now_ms)
{
	int work = 0;
	while (l->fd >= 0 && l->send < l->tail &&
	       l->send - l->head < SL_LINK_WINDOW) {
		struct sl_link_op *op = &l->ops[l->send % SL_LINK_QUEUE];
		long len;
		op->corr = l->next_corr++;
		if (op->opcode == SIPC_TOPIC_PUT) {
			struct sn_topic_info info = topic_info(&op->topic);
			len = sipc_encode_topic_put(l->buf, sizeof(l->buf),
						    op->corr, &info);
		} else if (op->opcode == SIPC_TOPIC_DELETE) {
			len = sipc_encode_topic_delete(l->buf, sizeof(l->buf),
						       op->corr, op->topic.id,
						       op->topic.name,
						       op->topic.name_len);
		} else if (op->opcode == SIPC_BROKERS ||
			   op->opcode == SIPC_PARTITION_STATE) {
			len = encode_cluster_op(l, op);
			if (len == 0) { /* gone meanwhile: nothing to say */
				op->sent = op->done = 1;
				l->send++;
				continue;
			}
		} else {
			len = sipc_encode_sync_done(l->buf, sizeof(l->buf),
						    op->corr);
		}
		assert(len > 0);
		int rc = send_msg(l, l->buf, (size_t)len);
		if (rc) {
			drop(l, now_ms, strerror(-rc));
			return work;
		}
		if (l->send == l->head)
			l->waiting_since_ms = now_ms;
		op->sent = 1;
		l->send++;
		work++;
		if (op->opcode == SIPC_SYNC_DONE) {
			op->done = 1; /* no reply */
			l->state = SL_LINK_READY;
			sl_log("sluiced synced (%u topics); serving admin "
			       "requests", l->pushed->count);
		}
	}
	advance(l, now_ms);
	return work;
}

static void try_connect(struct sl_link *l, int64_t now_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(l->path) >= sizeof(sa.sun_path)) {
		if (!l->down_logged)
			sl_log("control_socket %s is longer than %zu bytes; "
			       "set a shorter control_socket", l->path,
			       sizeof(sa.sun_path) - 1);
		l->down_logged = 1;
		l->retry_at_ms = now_ms + SL_LINK_BACKOFF_MAX_MS;
		return;
	}
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (!l->down_logged)
			sl_log("sluiced not reachable at %s (%s); retrying "
			       "every %d..%d ms", l->path, strerror(e),
			       SL_LINK_BACKOFF_MIN_MS, SL_LINK_BACKOFF_MAX_MS);
		l->down_logged = 1;
		l->retry_at_ms = now_ms + l->backoff_ms;
		l->backoff_ms *= 2;
		if (l->backoff_ms > SL_LINK_BACKOFF_MAX_MS)
			l->backoff_ms = SL_LINK_BACKOFF_MAX_MS;
		return;
	}
	/* the other end must be sluiced running as our user (or root), not
	 * whoever managed to bind the path (proto/local_socket.h) */
	uid_t uid = 0;
	int ok = lsock_peer_allowed(fd, &uid);
	if (ok != 1) {
		close(fd);
		l->peers_refused++;
		if (!l->down_logged)
			sl_log("control_socket %s is served by uid %d, not by "
			       "our uid %d or root; not connecting (retrying "
			       "every %d ms)", l->path, ok < 0 ? -1 : (int)uid,
			       (int)geteuid(), SL_LINK_BACKOFF_MAX_MS);
		l->down_logged = 1;
		l->retry_at_ms = now_ms + SL_LINK_BACKOFF_MAX_MS;
		return;
	}
	l->fd = fd;
	l->connects++;
	l->hello_corr = l->next_corr++;
	long len = sipc_encode_hello(l->buf, sizeof(l->buf), l->hello_corr,
				     (uint32_t)getpid());
	assert(len == SIPC_HELLO_BYTES);
	int rc = send_msg(l, l->buf, (size_t)len);
	if (rc) {
		drop(l, now_ms, strerror(-rc));
		return;
	}
	l->state = SL_LINK_HELLO;
	l->waiting_since_ms = now_ms;
}

static struct sl_link_op *find_sent(struct sl_link *l, uint32_t corr,
				    uint64_t *seq)
{
	for (uint64_t i = l->head; i < l->send; i++) {
		struct sl_link_op *op = &l->ops[i % SL_LINK_QUEUE];
		if (op->corr == corr && !op->done) {
			*seq = i;
			return op;
		}
	}
	return NULL;
}

/* Send a KAFKA reply: the response bytes, or (err) a close of the
 * client's connection. */
/* An answer longer than a message: in pieces (proto/ipc.h), all but
 * the last with SIPC_FLAG_MORE.  0 or -errno (the link is then broken:
 * sluiced fails the request when the link drops). */
static int send_pieces(struct sl_link *l, uint8_t opcode, uint32_t corr,
		       const uint8_t *resp, size_t len)
{
	static uint8_t out[SIPC_MAX_MESSAGE]; /* one thread: the loop's */
	for (size_t at = 0; at < len;) {
		size_t n = len - at < SIPC_PIECE_MAX ? len - at :
						       SIPC_PIECE_MAX;
		long m = sipc_encode_reply_piece(out, sizeof(out), opcode, corr,
						 resp + at, n, at + n < len);
		assert(m > 0);
		int rc = send_msg(l, out, (size_t)m);
		if (rc)
			return rc;
		at += n;
	}
	return 0;
}

static int send_kafka_reply(struct sl_link *l, uint32_t corr,
			    const uint8_t *resp, size_t len, int16_t err,
			    int64_t now_ms)
{
	if (l->fd < 0)
		return -ENOTCONN;
	if (!err && len > SIPC_PIECE_MAX && len <= SIPC_REPLY_MAX) {
		int rc = send_pieces(l, SIPC_KAFKA, corr, resp, len);
		if (rc && !l->broken)
			l->broken = rc;
		return rc;
	}
	long n = -ENOBUFS;
	if (!err && len)
		n = sipc_encode_kafka_reply(l->buf, sizeof(l->buf), corr, resp,
					    len);
	if (n < 0) /* an error, nothing, or too big for a message: close */
		n = sipc_encode_reply(l->buf, sizeof(l->buf), SIPC_KAFKA, corr,
				      err ? err : SN_ERR_UNKNOWN_SERVER_ERROR);
	assert(n >= SN_HEADER_BYTES);
	int rc = send_msg(l, l->buf, (size_t)n);
	if (rc && !l->broken)
		l->broken = rc; /* dropped by the next duty cycle: the group
				   coordinator may be the caller */
	(void)now_ms;
	return rc;
}

void sl_link_kafka_reply(void *ctx, uint64_t token, const uint8_t *resp,
			 size_t len)
{
	struct sl_link *l = ctx;
	if ((uint32_t)(token >> 32) != (uint32_t)l->connects ||
	    l->state == SL_LINK_DOWN)
		return; /* for a connection that is gone */
	send_kafka_reply(l, (uint32_t)token, resp, len, 0, sl_now_ms());
}

static int send_admin_reply(struct sl_link *l, uint32_t corr,
			    const uint8_t *resp, size_t len, int64_t now_ms);

void sl_link_cluster_reply(void *ctx, uint64_t token, int native,
			   const uint8_t *resp, size_t len)
{
	struct sl_link *l = ctx;
	int64_t now = sl_now_ms();
	if ((uint32_t)(token >> 32) != (uint32_t)l->connects ||
	    l->state == SL_LINK_DOWN || l->fd < 0)
		return; /* for a connection that is gone */
	uint32_t corr = (uint32_t)token;
	if (!len || (native && len > 64)) {
		if (native) /* no answer: the client's connection closes */
			drop(l, now, "the controller did not answer an admin "
			     "request");
		else
			send_kafka_reply(l, corr, NULL, 0,
					 SN_ERR_UNKNOWN_SERVER_ERROR, now);
		return;
	}
	if (l->tail > l->head) {
		/* topic changes are on their way to sluiced: answer after
		 * the last of them */
		for (unsigned i = 0; i < SL_KAFKA_DEFERRED; i++) {
			struct sl_kafka_deferred *d = &l->deferred[i];
			if (d->resp)
				continue;
			d->resp = malloc(len);
			if (!d->resp)
				break;
			memcpy(d->resp, resp, len);
			d->len = (uint32_t)len;
			d->corr = corr;
			d->native = (uint8_t)native;
			d->op_seq = l->tail - 1;
			return;
		}
	}
	if (native)
		send_admin_reply(l, corr, resp, len, now);
	else
		send_kafka_reply(l, corr, resp, len, 0, now);
}

void sl_link_native_reply(void *ctx, uint64_t token, const uint8_t *resp,
			  size_t len)
{
	struct sl_link *l = ctx;
	if ((uint32_t)(token >> 32) != (uint32_t)l->connects ||
	    l->state == SL_LINK_DOWN || l->fd < 0)
		return; /* for a connection that is gone */
	if (!len || len > SIPC_REPLY_MAX) {
		drop(l, sl_now_ms(), "a queue answer was empty or too long");
		return;
	}
	send_admin_reply(l, (uint32_t)token, resp, len, sl_now_ms());
}

void sl_link_self_fenced(void *ctx, int fenced)
{
	struct sl_link *l = ctx;
	l->self_fenced = fenced ? 1 : 0;
	sl_link_changed(l, sl_now_ms());
}

void sl_link_alter_isr_reply(void *ctx, uint64_t token, int16_t error)
{
	struct sl_link *l = ctx;
	if ((uint32_t)(token >> 32) != (uint32_t)l->connects ||
	    l->state == SL_LINK_DOWN || l->fd < 0)
		return;
	uint8_t out[SN_HEADER_BYTES];
	long n = sipc_encode_reply(out, sizeof(out), SIPC_ALTER_ISR,
				   (uint32_t)token, error);
	assert(n > 0);
	int rc = send_msg(l, out, (size_t)n);
	if (rc && !l->broken)
		l->broken = rc;
}

/* The answer made in l->kbuf (n bytes), or INVALID_REQUEST when n < 0
 * (the request did not decode). */
static void send_kbuf_reply(struct sl_link *l, uint32_t corr, long n,
			    int64_t now_ms)
{
	if (n < 0)
		send_kafka_reply(l, corr, NULL, 0, SN_ERR_INVALID_REQUEST,
				 now_ms);
	else
		send_kafka_reply(l, corr, l->kbuf, (size_t)n, 0, now_ms);
}

/* ElectLeaders on a single broker: it leads every partition it has. */
static int16_t single_elect(void *ctx, const char *topic, size_t len,
			    int32_t partition, int8_t type, char *msg,
			    size_t msglen)
{
	const struct sl_meta *m = ctx;
	(void)type;
	const struct sl_topic *t = sl_meta_find(m, topic, len);
	if (!t || partition < 0 || partition >= t->partitions) {
		snprintf(msg, msglen, "no such topic or partition");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	snprintf(msg, msglen, "this broker, its only replica, leads it");
	return 84; /* ELECTION_NOT_NEEDED */
}

static bool single_topic(void *ctx, uint32_t i, const char **name,
			 size_t *len, int32_t *partitions)
{
	const struct sl_meta *m = ctx;
	if (i >= m->count)
		return false;
	*name = m->topics[i].name;
	*len = m->topics[i].name_len;
	*partitions = m->topics[i].partitions;
	return true;
}

/* AlterPartitionReassignments on a single broker: its node is the only
 * broker there is, so a partition can only stay where it is. */
struct single_reassign {
	const struct sl_meta *m;
	int32_t node;
};

static int16_t single_reassign_one(void *ctx, const char *topic, size_t len,
				   int32_t partition, const int32_t *replicas,
				   int32_t n, bool allow_rf_change, char *msg,
				   size_t msglen)
{
	const struct single_reassign *s = ctx;
	(void)allow_rf_change;
	const struct sl_topic *t = sl_meta_find(s->m, topic, len);
	if (!t || partition < 0 || partition >= t->partitions) {
		snprintf(msg, msglen, "no such topic or partition");
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (!replicas) {
		snprintf(msg, msglen, "no reassignment of it is running");
		return 85; /* NO_REASSIGNMENT_IN_PROGRESS */
	}
	if (n < 1) {
		snprintf(msg, msglen, "an empty replica list");
		return 39; /* INVALID_REPLICA_ASSIGNMENT */
	}
	for (int32_t i = 0; i < n; i++)
		if (replicas[i] != s->node) {
			snprintf(msg, msglen, "broker %d is not registered "
				 "(this broker, %d, is the only one)",
				 (int)replicas[i], (int)s->node);
			return 39;
		}
	if (n > 1) {
		snprintf(msg, msglen, "broker %d is listed twice",
			 (int)s->node);
		return 39;
	}
	return 0; /* where it is already */
}

static bool single_reassign_topic(void *ctx, uint32_t i, const char **name,
				  size_t *len, int32_t *partitions)
{
	const struct single_reassign *s = ctx;
	return single_topic((void *)s->m, i, name, len, partitions);
}

static int single_reassign_ongoing(void *ctx, const char *topic, size_t len,
				   int32_t partition,
				   struct sl_kreassign_state *out)
{
	(void)ctx, (void)topic, (void)len, (void)partition, (void)out;
	return 0; /* never */
}

/* UnregisterBroker on a single broker: the only broker is this one. */
static int16_t single_unregister(void *ctx, int32_t id, char *msg,
				 size_t msglen)
{
	int32_t self = *(const int32_t *)ctx;
	if (id != self) {
		snprintf(msg, msglen, "broker %d is not registered (this "
			 "broker, %d, is the only one)", (int)id, (int)self);
		return 102; /* BROKER_ID_NOT_REGISTERED */
	}
	snprintf(msg, msglen, "broker %d is this single broker: it cannot "
		 "leave itself", (int)id);
	return SN_ERR_INVALID_REQUEST;
}

static bool image_topic(void *ctx, uint32_t i, const char **name,
			size_t *len, int32_t *partitions)
{
	return sl_kreassign_image_topic(ctx, i, name, len, partitions);
}

static int image_ongoing(void *ctx, const char *topic, size_t len,
			 int32_t partition, struct sl_kreassign_state *out)
{
	return sl_kreassign_image_ongoing(ctx, topic, len, partition, out);
}

/* A KAFKA request: req is the client's Kafka request (rlen bytes). */
static void on_kafka(struct sl_link *l, const struct sn_header *h,
		     const uint8_t *req, size_t rlen, int64_t now_ms)
{
	l->kafka_requests++;
	int16_t key = rlen >= 8 ? (int16_t)rb_be16(req) : -1;
	if (l->share &&
	    sl_share_configs(l->share, (uint64_t)(uint32_t)l->connects << 32 |
					       h->corr,
			     req, rlen, now_ms) == 0)
		return; /* groups' configs: the share groups' */
	if (l->cluster && sl_cluster_takes_kafka(key)) {
		uint64_t token = (uint64_t)(uint32_t)l->connects << 32 | h->corr;
		sl_cluster_kafka(l->cluster, token, req, rlen, now_ms);
		return;
	}
	if (sl_kquorum_serves(key)) {
		/* a single broker: a quorum of one (a cluster's went to
		 * sl_cluster_kafka above) */
		static struct sl_kquorum_view v;
		sl_kquorum_single(l->cfg->node_id, l->meta->generation,
				  sl_wall_ms(), &v);
		long n = sl_kquorum_handle(&v, req, rlen, l->kbuf,
					   sizeof(l->kbuf) - SN_HEADER_BYTES);
		send_kbuf_reply(l, h->corr, n, now_ms);
		return;
	}
	if (sl_kvoters_serves(key)) {
		/* a single broker: no Raft quorum to change */
		struct sl_kvoters_req v;
		long n = sl_kvoters_decode(req, rlen, &v) < 0 ? -EINVAL :
			 sl_kvoters_answer(&v, SL_KVOTERS_INVALID_REQUEST,
					   "a single broker has no metadata "
					   "quorum (controller_quorum_voters is "
					   "empty)", l->kbuf,
					   sizeof(l->kbuf) - SN_HEADER_BYTES);
		send_kbuf_reply(l, h->corr, n, now_ms);
		return;
	}
	if (sl_kunreg_serves(key)) {
		/* a single broker (a cluster's went to sl_cluster_kafka) */
		int32_t self = l->cfg->node_id;
		long n = sl_kunreg_handle(req, rlen, single_unregister, &self,
					  l->kbuf,
					  sizeof(l->kbuf) - SN_HEADER_BYTES);
		send_kbuf_reply(l, h->corr, n, now_ms);
		return;
	}
	if (sl_kreassign_serves(key)) {
		/* a cluster's ListPartitionReassignments from this node's
		 * image (a client that altered through this broker was
		 * answered once the image held it); a single broker's both */
		struct single_reassign one = {l->meta, l->cfg->node_id};
		struct sl_kreassign_ops ops = {single_reassign_one,
					       single_reassign_topic,
					       single_reassign_ongoing, &one};
		if (l->cluster)
			ops = (struct sl_kreassign_ops){
				NULL, image_topic, image_ongoing,
				(void *)sl_cluster_image(l->cluster)};
		long n = sl_kreassign_handle(req, rlen, &ops, l->kbuf,
					     sizeof(l->kbuf) - SN_HEADER_BYTES);
		send_kbuf_reply(l, h->corr, n, now_ms);
		return;
	}
	if (sl_kelect_serves(key)) {
		/* a single broker (a cluster's went to sl_cluster_kafka) */
		struct sl_kelect_ops ops = {single_elect, single_topic,
					    (void *)l->meta};
		long n = sl_kelect_handle(req, rlen, &ops, l->kbuf,
					  sizeof(l->kbuf) - SN_HEADER_BYTES);
		send_kbuf_reply(l, h->corr, n, now_ms);
		return;
	}
	if (sl_kadmin_serves(key)) {
		int changed = 0;
		long n = sl_kadmin_handle(l->meta, l->cfg, req, rlen, l->kbuf,
					  sizeof(l->kbuf) - SN_HEADER_BYTES,
					  &changed);
		if (n < 0) {
			send_kafka_reply(l, h->corr, NULL, 0,
					 SN_ERR_INVALID_REQUEST, now_ms);
			return;
		}
		uint64_t before = l->tail;
		if (changed)
			sl_link_changed(l, now_ms);
		if (l->fd < 0)
			return; /* dropped: the client will retry */
		if (changed && l->tail > before) {
			/* the answer waits for sluiced to apply the last
			 * change this request made */
			for (unsigned i = 0; i < SL_KAFKA_DEFERRED; i++) {
				struct sl_kafka_deferred *d = &l->deferred[i];
				if (d->resp)
					continue;
				d->resp = malloc((size_t)n);
				if (!d->resp)
					break;
				memcpy(d->resp, l->kbuf, (size_t)n);
				d->len = (uint32_t)n;
				d->corr = h->corr;
				d->native = 0;
				d->op_seq = l->tail - 1;
				return;
			}
		}
		send_kafka_reply(l, h->corr, l->kbuf, (size_t)n, 0, now_ms);
		return;
	}
	uint64_t token = (uint64_t)(uint32_t)l->connects << 32 | h->corr;
	if (sl_share_serves(key)) {
		if (!l->share ||
		    sl_share_request(l->share, token, req, rlen, now_ms) < 0)
			send_kafka_reply(l, h->corr, NULL, 0,
					 SN_ERR_INVALID_REQUEST, now_ms);
		return;
	}
	if (l->gtxn && sl_gtxn_serves(key)) {
		if (sl_gtxn_request(l->gtxn, token, req, rlen) < 0)
			send_kafka_reply(l, h->corr, NULL, 0,
					 SN_ERR_INVALID_REQUEST, now_ms);
		return;
	}
	if (l->txn && sl_txn_serves(key)) {
		if (sl_txn_request(l->txn, token, req, rlen, now_ms) < 0)
			send_kafka_reply(l, h->corr, NULL, 0,
					 SN_ERR_INVALID_REQUEST, now_ms);
		return;
	}
	if (!l->groups || key < 0) {
		send_kafka_reply(l, h->corr, NULL, 0,
				 SN_ERR_UNKNOWN_SERVER_ERROR, now_ms);
		return;
	}
	if (sl_groups_request(l->groups, token, req, rlen, now_ms) < 0)
		send_kafka_reply(l, h->corr, NULL, 0, SN_ERR_INVALID_REQUEST,
				 now_ms);
}

static int send_admin_reply(struct sl_link *l, uint32_t corr,
			    const uint8_t *resp, size_t len, int64_t now_ms)
{
	static uint8_t out[SIPC_MAX_MESSAGE]; /* one thread: the loop's */
	if (len > SIPC_PIECE_MAX) {
		int rc = send_pieces(l, SIPC_ADMIN, corr, resp, len);
		if (rc)
			drop(l, now_ms, strerror(-rc));
		return rc;
	}
	long n = sipc_encode_admin_reply(out, sizeof(out), corr, resp, len);
	assert(n > 0);
	int rc = send_msg(l, out, (size_t)n);
	if (rc)
		drop(l, now_ms, strerror(-rc));
	return rc;
}

/* An ADMIN request: req is the client's native frame (rlen bytes). */
static void on_admin(struct sl_link *l, const struct sn_header *h,
		     const uint8_t *req, size_t rlen, int64_t now_ms)
{
	uint8_t resp[64];
	char line[1024] = "";
	uint32_t changed = 0;
	l->admin_requests++;
	if (rlen > 3 && sl_route_serves(req[3])) {
		if (!l->route) {
			static const char why[] =
				"routing rules are served by a single broker "
				"(not a cluster's) with its Kafka listener on: "
				"docs/queues.md#routing-rules";
			uint8_t e[SN_ROUTE_RESP_BYTES + sizeof(why)];
			struct sn_route_builder b;
			sn_route_resp_begin(&b, e, sizeof(e), why,
					    (uint16_t)(sizeof(why) - 1));
			long n = sn_route_resp_finish(&b, h->corr,
						      SN_ERR_UNSUPPORTED_VERSION);
			send_admin_reply(l, h->corr, e, (size_t)n, now_ms);
			return;
		}
		(void)sl_route_request(l->route,
				       (uint64_t)(uint32_t)l->connects << 32 |
				       h->corr, req, rlen, now_ms);
		return;
	}
	if (rlen > 3 && sl_share_native_serves(req[3])) {
		/* queue operations: the share groups' (answered now or
		 * later through sl_link_native_reply) */
		uint64_t token = (uint64_t)(uint32_t)l->connects << 32 | h->corr;
		if (!l->share) {
			uint8_t e[SN_QRECV_RESP_BYTES];
			long n = sn_encode_error_resp(
				e, sizeof(e), req[3], h->corr,
				SN_ERR_COORDINATOR_NOT_AVAILABLE);
			send_admin_reply(l, h->corr, e, (size_t)n, now_ms);
			return;
		}
		(void)sl_share_native(l->share, token, req, rlen, now_ms);
		return;
	}
	if (l->cluster) {
		uint64_t token = (uint64_t)(uint32_t)l->connects << 32 | h->corr;
		sl_cluster_admin(l->cluster, token, req, rlen, now_ms);
		return;
	}
	long n = sl_admin_handle(l->meta, l->cfg, req, rlen, resp, sizeof(resp),
				 &changed, line, sizeof(line));
	assert(n > 0 && n <= (long)sizeof(resp));
	sl_log("admin request: %s", line);
	uint64_t before = l->tail;
	sl_link_changed(l, now_ms);
	if (l->fd < 0)
		return; /* dropped: the client will retry */
	if (changed) {
		/* the reply waits for sluiced to apply the change */
		for (uint64_t i = before; i < l->tail; i++) {
			struct sl_link_op *op = &l->ops[i % SL_LINK_QUEUE];
			if (op->topic.id != changed)
				continue;
			op->has_admin = 1;
			op->admin_corr = h->corr;
			op->admin_len = (uint16_t)n;
			memcpy(op->admin_resp, resp, (size_t)n);
			return;
		}
	}
	send_admin_reply(l, h->corr, resp, (size_t)n, now_ms);
}

static void on_reply(struct sl_link *l, const struct sn_header *h,
		     int64_t now_ms)
{
	uint64_t seq = 0;
	struct sl_link_op *op = find_sent(l, h->corr, &seq);
	if (!op || (op->opcode | SN_RESPONSE) != h->opcode) {
		l->bad_messages++;
		sl_log("sluiced sent a reply 0x%02x corr %u that matches no "
		       "request; ignored", h->opcode, h->corr);
		return;
	}
	op->done = 1;
	l->waiting_since_ms = now_ms;
	if (h->error && op->opcode == SIPC_PARTITION_STATE)
		sl_log("sluiced refused the state of partition %u/%d: %s",
		       op->topic_id, (int)op->partition,
		       sn_error_name(h->error));
	else if (h->error && op->opcode == SIPC_BROKERS)
		sl_log("sluiced refused the broker list: %s",
		       sn_error_name(h->error));
	else if (h->error)
		sl_log("sluiced could not %s topic '%s' id %u: %s; it is "
		       "pushed again at the next sync",
		       op->opcode == SIPC_TOPIC_PUT ? "apply" : "delete",
		       op->topic.name, op->topic.id, sn_error_name(h->error));
	if (op->has_admin) {
		if (h->error) /* the client learns that the logs failed */
			rb_put16(op->admin_resp + 12, (uint16_t)h->error);
		send_admin_reply(l, op->admin_corr, op->admin_resp,
				 op->admin_len, now_ms);
	}
	(void)seq;
	advance(l, now_ms);
}

static void on_message(struct sl_link *l, const uint8_t *msg, size_t len,
		       int64_t now_ms)
{
	struct sn_header h;
	long flen = sn_header_parse(msg, len, SIPC_MAX_MESSAGE, &h);
	if (flen <= 0 || (size_t)flen != len) {
		l->bad_messages++;
		drop(l, now_ms, "malformed message from sluiced");
		return;
	}
	const uint8_t *body = NULL;
	size_t body_len = 0;
	struct sipc_hello_reply hr;
	switch (h.opcode) {
	case SIPC_HELLO | SN_RESPONSE:
		if (l->state != SL_LINK_HELLO || h.corr != l->hello_corr ||
		    h.error || sipc_decode_hello_reply(msg, len, &hr)) {
			drop(l, now_ms, h.error ? sn_error_name(h.error)
						: "bad HELLO reply (ipc "
						  "version?)");
			return;
		}
		l->peer_pid = hr.pid;
		sl_log("connected to sluiced pid %u at %s (udp %u, tcp %u)",
		       l->peer_pid, l->path, hr.udp_port, hr.tcp_port);
		l->backoff_ms = SL_LINK_BACKOFF_MIN_MS;
		l->down_logged = 0;
		start_sync(l, now_ms);
		return;
	case SIPC_TOPIC_PUT | SN_RESPONSE:
	case SIPC_TOPIC_DELETE | SN_RESPONSE:
	case SIPC_BROKERS | SN_RESPONSE:
	case SIPC_PARTITION_STATE | SN_RESPONSE:
		if (sipc_decode_reply(msg, len, h.opcode & ~SN_RESPONSE))
			break;
		on_reply(l, &h, now_ms);
		return;
	case SIPC_ALTER_ISR: {
		static struct sipc_alter_isr a;
		if (sipc_decode_alter_isr(msg, len, &a))
			break;
		uint64_t token = (uint64_t)(uint32_t)l->connects << 32 | h.corr;
		if (!l->cluster) {
			sl_link_alter_isr_reply(l, token, SN_ERR_INVALID_REQUEST);
			return;
		}
		sl_cluster_alter_isr(l->cluster, token, a.topic_id, a.partition,
				     a.leader_epoch, a.partition_epoch, a.isr,
				     a.nisr, now_ms);
		return;
	}
	case SIPC_ADMIN:
		if (sipc_decode_admin(msg, len, &body, &body_len))
			break;
		on_admin(l, &h, body, body_len, now_ms);
		return;
	case SIPC_KAFKA:
		if (sipc_decode_kafka(msg, len, &body, &body_len))
			break;
		on_kafka(l, &h, body, body_len, now_ms);
		return;
	default:
		l->bad_messages++;
		sl_log("sluiced sent opcode 0x%02x, not in ipc version %d; "
		       "ignored", h.opcode, SIPC_VERSION);
		return;
	}
	/* a known opcode whose body breaks proto/ipc.h's rules */
	char why[96];
	snprintf(why, sizeof(why), "malformed message from sluiced (opcode "
		 "0x%02x, %zu bytes)", h.opcode, len);
	l->bad_messages++;
	drop(l, now_ms, why);
}

int sl_link_do_work(struct sl_link *l, int64_t now_ms)
{
	int work = 0;
	if (l->broken) {
		int rc = l->broken;
		l->broken = 0;
		if (l->fd >= 0)
			drop(l, now_ms, strerror(-rc));
	}
	if (l->state == SL_LINK_DOWN) {
		if (now_ms < l->retry_at_ms)
			return 0;
		try_connect(l, now_ms);
		work++;
	}
	for (int i = 0; i < SL_LINK_BURST && l->fd >= 0; i++) {
		ssize_t n = recv(l->fd, l->rbuf, sizeof(l->rbuf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			drop(l, now_ms, n == 0 ? "sluiced closed the connection"
					       : strerror(errno));
			break;
		}
		on_message(l, l->rbuf, (size_t)n, now_ms);
		work++;
	}
	if (l->fd >= 0)
		work += pump(l, now_ms);
	if (l->fd >= 0 && outstanding(l) &&
	    now_ms - l->waiting_since_ms > SL_LINK_TIMEOUT_MS)
		drop(l, now_ms, "no reply within 10 s");
	return work;
}
