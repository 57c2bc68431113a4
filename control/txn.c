/*
 * The transaction coordinator (txn.h has the contract).
 *
 * Happy path of a transactional producer: InitProducerId hands out a
 * producer id (new ids from the counter kept in the log, from
 * SL_TXN_PRODUCER_ID_FIRST) and the next epoch (Empty); AddPartitionsToTxn
 * and AddOffsetsToTxn make the transaction Ongoing (its start time is
 * then); TxnOffsetCommit keeps offsets pending in it; EndTxn makes it
 * PrepareCommit or PrepareAbort, is answered, and the transaction is
 * completed (complete()): a commit's offsets go to the group coordinator,
 * the markers go to the marker writer, and when it says they are written
 * the state becomes CompleteCommit or CompleteAbort.
 *
 * Every change is decided, then written to the state log as a batch of
 * records made durable (txnlog.c), and only then made in memory and
 * answered: nothing is known in memory that a restart would not read back.
 * A failed append changes nothing and is answered NOT_COORDINATOR (what
 * Kafka's coordinator answers when its log append fails with a storage
 * error: the client looks the coordinator up again and retries); a
 * completion whose offsets or Complete record could not be written is
 * tried again SL_TXN_RETRY_MS later.
 *
 * Kafka's checks, in Kafka's order (TransactionCoordinator.scala):
 * unknown id or other producer id: INVALID_PRODUCER_ID_MAPPING; other
 * epoch: PRODUCER_FENCED (INVALID_PRODUCER_EPOCH for clients too old to
 * know it: InitProducerId v0-3, the others v0-1); PrepareCommit or
 * PrepareAbort: CONCURRENT_TRANSACTIONS; a state the request does not fit:
 * INVALID_TXN_STATE.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/groups.h"
#include "control/log.h"
#include "control/txn.h"
#include "control/txnlog.h"
#include "control/txnoff.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"
#include "storage/disk.h"
#include "storage/log.h" /* struct sl_clock */

#define ARENA_BYTES (1u << 20)
#define ERR_NONE 0
#define ERR_COORDINATOR_NOT_AVAILABLE 15
#define ERR_POLICY_VIOLATION 44
#define ERR_INVALID_REGULAR_EXPRESSION 128 /* ListTransactions v2 */
#define PATTERN_MAX 1024 /* bytes of a TransactionalIdPattern */
#define NO_PRODUCER_ID (-1)
#define NO_EPOCH (-1)
/* a single broker's coordinator epoch (sl_txn_config coordinator_epoch) */
#define COORDINATOR_EPOCH 0

enum tstate {
	TX_EMPTY, TX_ONGOING, TX_PREPARE_COMMIT, TX_PREPARE_ABORT,
	TX_COMPLETE_COMMIT, TX_COMPLETE_ABORT,
};
#define TX_STATES 6
static const char *const state_names[TX_STATES] = {
	"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit",
	"CompleteAbort",
};
/* Names Kafka knows but no id here is ever in: a ListTransactions filter
 * naming them is known (not in unknown_state_filters) and matches none. */
static const char *const other_names[] = { "Dead", "PrepareEpochFence" };

struct tpart {
	char *topic;                   /* malloc'd, topic_len bytes */
	uint16_t topic_len;
	int32_t partition;
};

struct tgroup {
	uint16_t len;
	char id[SL_TXNLOG_GROUP_MAX];
};

struct toffset {
	uint16_t group;                /* index in txn.groups */
	uint16_t topic_len;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	int32_t meta_len;              /* -1: null */
	char *blob;                    /* topic then metadata, malloc'd */
};

struct txn {
	bool used;
	uint16_t id_len;
	char *id;                      /* malloc'd */
	int64_t pid, prev_pid;
	int16_t epoch, last_epoch;
	int32_t timeout_ms;
	uint8_t state;                 /* enum tstate */
	int64_t start_ms;              /* wall; -1 when none */
	int64_t update_ms;             /* wall */
	struct tpart *parts;           /* sorted: topic, then partition */
	uint32_t nparts, parts_cap;
	struct tgroup *groups;         /* AddOffsetsToTxn, in order */
	uint32_t ngroups, groups_cap;
	struct toffset *offs;          /* TxnOffsetCommit, pending */
	uint32_t noffs, offs_cap;
	/* the completion of a PrepareCommit / PrepareAbort (memory only) */
	bool offsets_applied;          /* a commit's offsets are the groups' */
	bool markers_out;              /* handed to the marker writer */
	bool markers_done;
	uint32_t job_gen;              /* of the markers job handed */
	int64_t retry_ms;              /* now_ms of the next try, 0: none */
};

struct sl_txn {
	sl_txn_reply_fn reply;
	void *ctx;
	struct sl_txn_config cfg;      /* defaults filled in */
	struct sl_txnlog *log;
	int64_t next_pid;              /* durable: a PRODUCER_IDS record */
	int64_t pid_end;               /* this coordinator's range ends here */
	struct txn *txns;              /* SL_TXN_IDS_MAX slots */
	uint32_t ntxns;
	int64_t now_ms;                /* of the call being served */
	uint32_t job_gen;              /* of the last markers job handed */
	bool loading;                  /* sl_txn_load_record applying */
	struct kc_arena in, build;
	uint8_t out[SL_TXN_MAX_RESPONSE];
};

/* A request: where and how to answer it. */
struct req {
	uint64_t token;
	int16_t key;
	int16_t version;
	int32_t corr;
};

/* ---- small helpers ---- */

static int64_t wall_now(const struct sl_txn *t)
{
	return t->cfg.clock->wall_ms(t->cfg.clock->ctx);
}

static struct kc_str str_of(const char *p, size_t len)
{
	assert(len <= INT16_MAX);
	return (struct kc_str){p, (int32_t)len};
}

static size_t str_len_of(struct kc_str s)
{
	return s.len > 0 ? (size_t)s.len : 0;
}

static int32_t count_of(struct kc_array a)
{
	return a.count > 0 ? a.count : 0;
}

static bool epoch_exhausted(int16_t e)
{
	return e >= INT16_MAX - 1;
}

static bool is_open(uint8_t s)
{
	return s == TX_ONGOING || s == TX_PREPARE_COMMIT ||
	       s == TX_PREPARE_ABORT;
}

static bool is_prepare(uint8_t s)
{
	return s == TX_PREPARE_COMMIT || s == TX_PREPARE_ABORT;
}

/* PRODUCER_FENCED as the version can say it. */
static int16_t fenced(const struct req *rq)
{
	int16_t first = rq->key == KC_API_INIT_PRODUCER_ID ? 4 : 2;
	return rq->version < first ? SL_TXN_ERR_INVALID_PRODUCER_EPOCH :
				     SL_TXN_ERR_PRODUCER_FENCED;
}

static int tpart_cmp(const char *a, size_t alen, int32_t ap, const char *b,
		     size_t blen, int32_t bp)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c)
		return c;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return ap < bp ? -1 : ap > bp;
}

/* The index of (topic, partition) in x's partitions, or -(insertion
 * point)-1. */
static int64_t part_find(const struct txn *x, const char *topic, size_t len,
			 int32_t partition)
{
	int64_t lo = 0, hi = (int64_t)x->nparts - 1;
	while (lo <= hi) { /* bounded: halves each pass */
		int64_t mid = (lo + hi) / 2;
		const struct tpart *p = &x->parts[mid];
		int c = tpart_cmp(p->topic, p->topic_len, p->partition, topic,
				  len, partition);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static int part_add(struct txn *x, const char *topic, size_t len,
		    int32_t partition)
{
	int64_t at = part_find(x, topic, len, partition);
	if (at >= 0)
		return 0;
	at = -at - 1;
	if (x->nparts == x->parts_cap) {
		uint32_t cap = x->parts_cap ? x->parts_cap * 2 : 8;
		struct tpart *p = realloc(x->parts, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->parts = p;
		x->parts_cap = cap;
	}
	char *name = malloc(len);
	if (!name)
		return -ENOMEM;
	memcpy(name, topic, len);
	memmove(&x->parts[at + 1], &x->parts[at],
		(x->nparts - (size_t)at) * sizeof(*x->parts));
	x->parts[at] = (struct tpart){name, (uint16_t)len, partition};
	x->nparts++;
	return 0;
}

static int32_t group_idx(const struct txn *x, const char *id, size_t len)
{
	for (uint32_t i = 0; i < x->ngroups; i++)
		if (x->groups[i].len == len && !memcmp(x->groups[i].id, id, len))
			return (int32_t)i;
	return -1;
}

static int group_add(struct txn *x, const char *id, size_t len)
{
	assert(len > 0 && len <= SL_TXNLOG_GROUP_MAX);
	if (group_idx(x, id, len) >= 0)
		return 0;
	if (x->ngroups == x->groups_cap) {
		uint32_t cap = x->groups_cap ? x->groups_cap * 2 : 2;
		struct tgroup *g = realloc(x->groups, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		x->groups = g;
		x->groups_cap = cap;
	}
	x->groups[x->ngroups].len = (uint16_t)len;
	memcpy(x->groups[x->ngroups].id, id, len);
	x->ngroups++;
	return 0;
}

static int32_t off_find(const struct txn *x, uint32_t group,
			const char *topic, size_t len, int32_t partition)
{
	for (uint32_t i = 0; i < x->noffs; i++) {
		const struct toffset *o = &x->offs[i];
		if (o->group == group && o->partition == partition &&
		    o->topic_len == len && !memcmp(o->blob, topic, len))
			return (int32_t)i;
	}
	return -1;
}

/* A pending offset of group (added first when new), replacing the one of
 * the same partition. */
static int off_put(struct txn *x, const char *group, size_t glen,
		   const char *topic, size_t tlen, int32_t partition,
		   int64_t offset, int32_t leader_epoch, const char *meta,
		   int32_t meta_len)
{
	int rc = group_add(x, group, glen);
	if (rc)
		return rc;
	uint32_t gi = (uint32_t)group_idx(x, group, glen);
	size_t mlen = meta_len > 0 ? (size_t)meta_len : 0;
	char *blob = malloc(tlen + mlen);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, topic, tlen);
	if (mlen)
		memcpy(blob + tlen, meta, mlen);
	struct toffset o = {(uint16_t)gi, (uint16_t)tlen, partition, offset,
			    leader_epoch, meta_len, blob};
	int32_t at = off_find(x, gi, topic, tlen, partition);
	if (at >= 0) {
		free(x->offs[at].blob);
		x->offs[at] = o;
		return 0;
	}
	if (x->noffs == x->offs_cap) {
		uint32_t cap = x->offs_cap ? x->offs_cap * 2 : 8;
		struct toffset *p = realloc(x->offs, cap * sizeof(*p));
		if (!p) {
			free(blob);
			return -ENOMEM;
		}
		x->offs = p;
		x->offs_cap = cap;
	}
	x->offs[x->noffs++] = o;
	return 0;
}

/* Forget x's transaction: partitions, groups, offsets. */
static void txn_clear(struct txn *x)
{
	for (uint32_t i = 0; i < x->nparts; i++)
		free(x->parts[i].topic);
	for (uint32_t i = 0; i < x->noffs; i++)
		free(x->offs[i].blob);
	x->nparts = x->ngroups = x->noffs = 0;
	x->offsets_applied = x->markers_out = x->markers_done = false;
	x->retry_ms = 0;
}

static void txn_free(struct sl_txn *t, struct txn *x)
{
	assert(x->used && t->ntxns > 0);
	txn_clear(x);
	free(x->parts);
	free(x->groups);
	free(x->offs);
	free(x->id);
	memset(x, 0, sizeof(*x));
	t->ntxns--;
}

static struct txn *txn_find(struct sl_txn *t, const char *id, size_t len)
{
	if (len == 0 || len > SL_TXNLOG_ID_MAX)
		return NULL;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		struct txn *x = &t->txns[i];
		if (x->used && x->id_len == len && !memcmp(x->id, id, len))
			return x;
	}
	return NULL;
}

/* A new slot for id (state Empty, epoch -1), or NULL: -ENOMEM or full
 * (*rc says which). */
static struct txn *txn_create(struct sl_txn *t, const char *id, size_t len,
			      int *rc)
{
	assert(len > 0 && len <= SL_TXNLOG_ID_MAX);
	*rc = -EOVERFLOW;
	if (t->ntxns >= SL_TXN_IDS_MAX)
		return NULL;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		struct txn *x = &t->txns[i];
		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		*rc = -ENOMEM;
		if (!(x->id = malloc(len)))
			return NULL;
		memcpy(x->id, id, len);
		x->id_len = (uint16_t)len;
		x->used = true;
		x->pid = NO_PRODUCER_ID;
		x->prev_pid = NO_PRODUCER_ID;
		x->epoch = x->last_epoch = NO_EPOCH;
		x->start_ms = -1;
		t->ntxns++;
		*rc = 0;
		return x;
	}
	assert(!"ntxns out of step with the slots");
	return NULL;
}

/* ---- records ---- */

/* A batch of records: PRODUCER_IDS to the file, the rest to the sink when
 * there is one (a cluster's), to the file otherwise.  The file's part is
 * durable before the sink is asked to take the rest. */
static void log_begin(struct sl_txn *t)
{
	sl_txnlog_batch_begin(t->log);
	if (t->cfg.sink)
		t->cfg.sink->begin(t->cfg.sink->ctx);
}

static void log_add(struct sl_txn *t, const struct sl_txnlog_rec *r)
{
	if (!t->cfg.sink || r->type == SL_TXNLOG_PRODUCER_IDS) {
		sl_txnlog_batch_add(t->log, r);
		return;
	}
	t->cfg.sink->add(t->cfg.sink->ctx, r);
}

static int log_end(struct sl_txn *t)
{
	int rc = sl_txnlog_batch_end(t->log);
	if (rc < 0 || !t->cfg.sink)
		return rc;
	return t->cfg.sink->end(t->cfg.sink->ctx);
}

/* What a STATE record of x would say after a change to these values. */
struct change {
	int64_t pid, prev_pid;
	int16_t epoch, last_epoch;
	int32_t timeout_ms;
	uint8_t state;
	int64_t start_ms, update_ms;
};

static struct change change_of(const struct txn *x)
{
	return (struct change){x->pid, x->prev_pid, x->epoch, x->last_epoch,
			       x->timeout_ms, x->state, x->start_ms,
			       x->update_ms};
}

static void add_state(struct sl_txn *t, const struct txn *x,
		      const struct change *c)
{
	struct sl_txnlog_rec r = {
		.type = SL_TXNLOG_STATE, .id_len = x->id_len, .id = x->id,
		.producer_id = c->pid, .prev_producer_id = c->prev_pid,
		.epoch = c->epoch, .last_epoch = c->last_epoch,
		.timeout_ms = c->timeout_ms, .state = c->state,
		.start_ms = c->start_ms, .update_ms = c->update_ms};
	log_add(t, &r);
}

static void add_pids(struct sl_txn *t, int64_t next)
{
	struct sl_txnlog_rec r = {.type = SL_TXNLOG_PRODUCER_IDS,
				  .next_producer_id = next};
	log_add(t, &r);
}

/* Make c x's state in memory (its records durable); a state that ends
 * the transaction forgets it. */
static void apply_change(struct txn *x, const struct change *c)
{
	x->pid = c->pid;
	x->prev_pid = c->prev_pid;
	x->epoch = c->epoch;
	x->last_epoch = c->last_epoch;
	x->timeout_ms = c->timeout_ms;
	x->state = c->state;
	x->start_ms = c->start_ms;
	x->update_ms = c->update_ms;
	if (!is_open(c->state))
		txn_clear(x);
}

/* Every record a rewrite of the log holds, to the store (rewrite: true) or
 * counted; returns the bytes. */
static uint64_t live_records(struct sl_txn *t, bool rewrite)
{
	uint64_t bytes = 0;
	struct sl_txnlog_rec r = {.type = SL_TXNLOG_PRODUCER_IDS,
				  .next_producer_id = t->next_pid};
#define LIVE(rec) do { bytes += sl_txnlog_rec_bytes(&(rec)); \
		       if (rewrite) sl_txnlog_rewrite_add(t->log, &(rec)); \
		  } while (0)
	LIVE(r);
	/* a cluster's file holds the producer ids alone */
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX && !t->cfg.sink; i++) {
		const struct txn *x = &t->txns[i];
		if (!x->used || x->pid < 0)
			continue;
		struct change c = change_of(x);
		r = (struct sl_txnlog_rec){
			.type = SL_TXNLOG_STATE, .id_len = x->id_len,
			.id = x->id, .producer_id = c.pid,
			.prev_producer_id = c.prev_pid, .epoch = c.epoch,
			.last_epoch = c.last_epoch, .timeout_ms = c.timeout_ms,
			.state = c.state, .start_ms = c.start_ms,
			.update_ms = c.update_ms};
		LIVE(r);
		for (uint32_t k = 0; k < x->nparts; k++) {
			r = (struct sl_txnlog_rec){
				.type = SL_TXNLOG_PARTITION,
				.id_len = x->id_len, .id = x->id,
				.topic_len = x->parts[k].topic_len,
				.topic = x->parts[k].topic,
				.partition = x->parts[k].partition};
			LIVE(r);
		}
		for (uint32_t k = 0; k < x->ngroups; k++) {
			r = (struct sl_txnlog_rec){
				.type = SL_TXNLOG_GROUP, .id_len = x->id_len,
				.id = x->id, .group_len = x->groups[k].len,
				.group = x->groups[k].id};
			LIVE(r);
		}
		for (uint32_t k = 0; k < x->noffs; k++) {
			const struct toffset *o = &x->offs[k];
			const struct tgroup *g = &x->groups[o->group];
			r = (struct sl_txnlog_rec){
				.type = SL_TXNLOG_OFFSET, .id_len = x->id_len,
				.id = x->id, .group_len = g->len,
				.group = g->id, .topic_len = o->topic_len,
				.topic = o->blob, .partition = o->partition,
				.offset = o->offset,
				.leader_epoch = o->leader_epoch,
				.meta_len = o->meta_len,
				.meta = o->blob + o->topic_len};
			LIVE(r);
		}
	}
#undef LIVE
	return bytes;
}

/* Rewrite the log compactly once it is due (a failure leaves the old
 * file, which is still right). */
static void maybe_compact(struct sl_txn *t)
{
	if (sl_txnlog_size(t->log) < SL_TXNLOG_COMPACT_MIN_BYTES ||
	    !sl_txnlog_compact_due(t->log, live_records(t, false)))
		return;
	sl_txnlog_rewrite_begin(t->log);
	live_records(t, true);
	(void)sl_txnlog_rewrite_end(t->log);
}

/* ---- answering ---- */

/* Encode body as the response to rq and send it: 0 or -EMSGSIZE. */
static int send_body(struct sl_txn *t, const struct req *rq, const void *body)
{
	struct kc_response_header h = {rq->corr};
	long n = kc_encode_response(rq->key, rq->version, &h,
				    (const union kc_response *)body, t->out,
				    sizeof(t->out));
	if (n == -ENOBUFS)
		return -EMSGSIZE;
	assert(n > 0 && n <= (long)sizeof(t->out)); /* -EINVAL: built wrong */
	t->reply(t->ctx, rq->token, t->out, (size_t)n);
	return 0;
}

/* ---- completing a transaction ---- */

static void complete(struct sl_txn *t, struct txn *x);

static uint64_t job_id(const struct sl_txn *t, const struct txn *x)
{
	return (uint64_t)(x - t->txns) << 32 | x->job_gen;
}

/* A commit's pending offsets become the groups': 0, or -errno (try
 * again).  Offsets a group can never take (its limits) are dropped, as a
 * commit of them would be refused. */
static int apply_offsets(struct sl_txn *t, struct txn *x)
{
	if (x->noffs == 0)
		return 0;
	if (!t->cfg.groups)
		return 0; /* TxnOffsetCommit was refused: none are here */
	struct sl_groups_txn_offset *o = malloc(x->noffs * sizeof(*o));
	if (!o)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t g = 0; g < x->ngroups && rc == 0; g++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < x->noffs; i++) {
			const struct toffset *p = &x->offs[i];
			if (p->group != g)
				continue;
			o[n++] = (struct sl_groups_txn_offset){
				p->blob, p->topic_len, p->partition, p->offset,
				p->leader_epoch, p->blob + p->topic_len,
				p->meta_len};
		}
		rc = sl_groups_txn_commit(t->cfg.groups, x->groups[g].id,
					  x->groups[g].len, o, n);
		if (rc == -EOVERFLOW)
			rc = 0;
	}
	free(o);
	return rc;
}

/* Hand x's markers to the writer. */
static void send_markers(struct sl_txn *t, struct txn *x)
{
	struct sl_txn_partition *p = malloc(x->nparts * sizeof(*p));
	if (!p) {
		x->retry_ms = t->now_ms + SL_TXN_RETRY_MS;
		return;
	}
	for (uint32_t i = 0; i < x->nparts; i++)
		p[i] = (struct sl_txn_partition){x->parts[i].topic,
						 x->parts[i].topic_len,
						 x->parts[i].partition};
	x->job_gen = ++t->job_gen; /* never one a freed slot's had */
	x->markers_out = true;
	int32_t ce = t->cfg.coordinator_epoch ?
		t->cfg.coordinator_epoch(t->cfg.coordinates_ctx, x->id,
					 x->id_len) : COORDINATOR_EPOCH;
	struct sl_txn_markers m = {job_id(t, x), x->pid, x->epoch,
				   x->state == TX_PREPARE_COMMIT, ce,
				   x->nparts, p, x->id, x->id_len};
	t->cfg.markers(t->cfg.markers_ctx, &m);
	free(p);
}

/* Move a PrepareCommit / PrepareAbort on as far as it can go now:
 * offsets, markers, then Complete*. */
static void complete(struct sl_txn *t, struct txn *x)
{
	assert(x->used);
	if (!is_prepare(x->state))
		return;
	x->retry_ms = 0;
	if (x->state == TX_PREPARE_COMMIT && !x->offsets_applied) {
		if (apply_offsets(t, x) < 0) {
			x->retry_ms = t->now_ms + SL_TXN_RETRY_MS;
			return;
		}
		x->offsets_applied = true;
	}
	if (x->nparts > 0 && t->cfg.markers && !x->markers_done) {
		if (!x->markers_out)
			send_markers(t, x);
		return; /* sl_txn_markers_done goes on */
	}
	struct change c = change_of(x);
	c.state = x->state == TX_PREPARE_COMMIT ? TX_COMPLETE_COMMIT :
						  TX_COMPLETE_ABORT;
	c.last_epoch = x->epoch;
	c.update_ms = wall_now(t);
	log_begin(t);
	add_state(t, x, &c);
	if (log_end(t) < 0) {
		x->retry_ms = t->now_ms + SL_TXN_RETRY_MS;
		return;
	}
	apply_change(x, &c);
	maybe_compact(t);
}

/* End x's transaction with an abort decided here (a timeout, or a new
 * producer's InitProducerId): the epoch goes up, so the producer that
 * began it is fenced.  Returns 0 or the append's -errno. */
static int fence_abort(struct sl_txn *t, struct txn *x)
{
	assert(x->state == TX_ONGOING);
	struct change c = change_of(x);
	/* InitProducerId rotates the producer id before the epoch can get
	 * there; the check keeps a damaged log from overflowing it */
	if (x->epoch < INT16_MAX)
		c.epoch = (int16_t)(x->epoch + 1);
	c.last_epoch = NO_EPOCH;
	c.state = TX_PREPARE_ABORT;
	c.update_ms = wall_now(t);
	log_begin(t);
	add_state(t, x, &c);
	int rc = log_end(t);
	if (rc < 0)
		return rc;
	apply_change(x, &c);
	complete(t, x);
	return 0;
}

/* Timeouts, expiry and retries due. */
static void run_timers(struct sl_txn *t)
{
	int64_t wall = wall_now(t);
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		struct txn *x = &t->txns[i];
		if (!x->used)
			continue;
		if (x->state == TX_ONGOING &&
		    x->start_ms + x->timeout_ms < wall &&
		    (x->retry_ms == 0 || x->retry_ms <= t->now_ms)) {
			if (fence_abort(t, x) < 0)
				x->retry_ms = t->now_ms + SL_TXN_RETRY_MS;
		} else if (is_prepare(x->state) && x->retry_ms &&
			   x->retry_ms <= t->now_ms) {
			complete(t, x);
		} else if (!is_open(x->state) &&
			   x->update_ms <= wall - t->cfg.id_expiration_ms &&
			   (x->retry_ms == 0 || x->retry_ms <= t->now_ms)) {
			struct sl_txnlog_rec r = {.type = SL_TXNLOG_DELETE,
						  .id_len = x->id_len,
						  .id = x->id};
			log_begin(t);
			log_add(t, &r);
			if (log_end(t) < 0)
				x->retry_ms = t->now_ms + SL_TXN_RETRY_MS;
			else
				txn_free(t, x);
		}
	}
}

/* The wall ms of the next timeout or expiry, and the now_ms of the next
 * retry. */
static void next_deadlines(const struct sl_txn *t, int64_t *wall_at,
			   int64_t *now_at)
{
	*wall_at = *now_at = INT64_MAX;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		const struct txn *x = &t->txns[i];
		if (!x->used)
			continue;
		if (x->retry_ms) { /* its next step waits for the retry */
			if (x->retry_ms < *now_at)
				*now_at = x->retry_ms;
			continue;
		}
		int64_t at = INT64_MAX;
		if (x->state == TX_ONGOING)
			at = x->start_ms + x->timeout_ms + 1;
		else if (!is_open(x->state))
			at = x->update_ms > INT64_MAX - t->cfg.id_expiration_ms ?
			     INT64_MAX : x->update_ms + t->cfg.id_expiration_ms;
		if (at < *wall_at)
			*wall_at = at;
	}
}

/* ---- InitProducerId ---- */

static void init_answer(struct sl_txn *t, const struct req *rq, int16_t err,
			int64_t pid, int16_t epoch)
{
	union kc_response u;
	struct kc_init_producer_id_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_INIT_PRODUCER_ID);
	r->error_code = err;
	r->producer_id = err ? NO_PRODUCER_ID : pid;
	r->producer_epoch = err ? NO_EPOCH : epoch;
	/* v6 (KIP-939): no prepared transaction is ever kept */
	r->ongoing_txn_producer_id = NO_PRODUCER_ID;
	r->ongoing_txn_producer_epoch = NO_EPOCH;
	if (err == SL_TXN_ERR_PRODUCER_FENCED)
		r->error_code = fenced(rq);
	int rc = send_body(t, rq, r);
	assert(rc == 0); /* small */
	(void)rc;
}

/* Kafka's isValidProducerId: a producer id and epoch given (KIP-360) must
 * be this id's current one, or its previous one with the epoch exhausted
 * (a retry of a rotation), or the id was never initialized. */
static bool expected_ok(const struct txn *x, int64_t pid, int16_t epoch)
{
	return x->epoch == NO_EPOCH || pid == x->pid ||
	       (pid == x->prev_pid && epoch_exhausted(epoch));
}

static void on_init_producer_id(struct sl_txn *t, const struct req *rq,
				const struct kc_init_producer_id_req *q)
{
	bool no_pid = q->producer_id == NO_PRODUCER_ID;
	bool no_epoch = q->producer_epoch == NO_EPOCH;
	if (no_pid != no_epoch || q->transactional_id.len == 0 ||
	    q->transactional_id.len > SL_TXNLOG_ID_MAX)
		return init_answer(t, rq, SN_ERR_INVALID_REQUEST, 0, 0);
	if (t->next_pid >= t->pid_end) {
		sl_log("transactions: this coordinator handed out every "
		       "producer id of its range (%lld); InitProducerId is "
		       "refused", (long long)SL_TXN_NODE_SPAN);
		return init_answer(t, rq, SN_ERR_UNKNOWN_SERVER_ERROR, 0, 0);
	}
	if (q->transactional_id.len < 0) {
		/* an idempotent producer (sluiced answers those itself) */
		log_begin(t);
		add_pids(t, t->next_pid + 1);
		if (log_end(t) < 0)
			return init_answer(t, rq, SL_TXN_ERR_NOT_COORDINATOR,
					   0, 0);
		return init_answer(t, rq, ERR_NONE, t->next_pid++, 0);
	}
	/* v6 (KIP-939): two-phase commit is not enabled here (Kafka's
	 * transaction.two.phase.commit.enable=false): INVALID_TXN_STATE, as
	 * Kafka's coordinator; keeping a prepared transaction is not
	 * implemented by Kafka 4.3's either: UNSUPPORTED_VERSION */
	if (q->enable2_pc)
		return init_answer(t, rq, SL_TXN_ERR_INVALID_TXN_STATE, 0, 0);
	if (q->keep_prepared_txn)
		return init_answer(t, rq, SN_ERR_UNSUPPORTED_VERSION, 0, 0);
	if (q->transaction_timeout_ms <= 0 ||
	    q->transaction_timeout_ms > t->cfg.timeout_max_ms)
		return init_answer(t, rq,
				   SL_TXN_ERR_INVALID_TRANSACTION_TIMEOUT, 0,
				   0);
	const char *id = q->transactional_id.ptr;
	size_t id_len = (size_t)q->transactional_id.len;
	struct txn *x = txn_find(t, id, id_len);
	bool made = false;
	if (!x) {
		int rc;
		if (!(x = txn_create(t, id, id_len, &rc)))
			return init_answer(t, rq, rc == -EOVERFLOW ?
					   ERR_POLICY_VIOLATION :
					   SN_ERR_UNKNOWN_SERVER_ERROR, 0, 0);
		made = true;
		x->timeout_ms = q->transaction_timeout_ms;
	}
	int16_t err = ERR_NONE;
	struct change c = change_of(x);
	bool new_pid = made;
	if (!no_pid && !expected_ok(x, q->producer_id, q->producer_epoch)) {
		err = SL_TXN_ERR_PRODUCER_FENCED;
	} else if (is_prepare(x->state)) {
		err = SL_TXN_ERR_CONCURRENT_TRANSACTIONS;
	} else if (x->state == TX_ONGOING) {
		/* abort it first, fencing its producer; the client retries */
		err = fence_abort(t, x) < 0 ?
		      SL_TXN_ERR_NOT_COORDINATOR :
		      SL_TXN_ERR_CONCURRENT_TRANSACTIONS;
	} else if (epoch_exhausted(x->epoch) &&
		   (no_pid || q->producer_epoch == x->epoch)) {
		/* a new producer id, epoch 0 */
		c.prev_pid = x->pid;
		c.last_epoch = no_pid ? NO_EPOCH : x->epoch;
		c.epoch = 0;
		new_pid = true;
	} else if (no_pid) {
		c.epoch = (int16_t)(x->epoch + 1);
		c.last_epoch = NO_EPOCH;
	} else if (x->epoch == NO_EPOCH || q->producer_epoch == x->epoch) {
		c.epoch = (int16_t)(x->epoch + 1);
		c.last_epoch = x->epoch;
	} else if (q->producer_epoch == x->last_epoch) {
		/* a retry of the call that bumped it: the same answer */
	} else {
		err = SL_TXN_ERR_PRODUCER_FENCED;
	}
	if (err) {
		if (made)
			txn_free(t, x);
		return init_answer(t, rq, err, 0, 0);
	}
	if (new_pid)
		c.pid = t->next_pid;
	c.state = TX_EMPTY;
	c.timeout_ms = q->transaction_timeout_ms;
	c.start_ms = -1;
	c.update_ms = wall_now(t);
	log_begin(t);
	if (new_pid)
		add_pids(t, t->next_pid + 1);
	add_state(t, x, &c);
	if (log_end(t) < 0) {
		if (made)
			txn_free(t, x);
		return init_answer(t, rq, SL_TXN_ERR_NOT_COORDINATOR, 0, 0);
	}
	if (new_pid)
		t->next_pid++;
	apply_change(x, &c);
	init_answer(t, rq, ERR_NONE, x->pid, x->epoch);
	maybe_compact(t);
}

/* ---- AddPartitionsToTxn, AddOffsetsToTxn ---- */

/* The checks every request of a transaction's producer passes first:
 * *out is its id.  Returns the Kafka error (PRODUCER_FENCED unmapped). */
static int16_t producer_check(struct sl_txn *t, struct kc_str id,
			      int64_t pid, int16_t epoch, struct txn **out)
{
	if (id.len <= 0 || id.len > SL_TXNLOG_ID_MAX)
		return id.len > 0 ? SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING :
				    SN_ERR_INVALID_REQUEST;
	struct txn *x = txn_find(t, id.ptr, (size_t)id.len);
	if (!x || x->pid != pid)
		return SL_TXN_ERR_INVALID_PRODUCER_ID_MAPPING;
	if (x->epoch != epoch)
		return SL_TXN_ERR_PRODUCER_FENCED;
	*out = x;
	return ERR_NONE;
}

/* A STATE record making x Ongoing (its start now when it was not), to the
 * batch being built; c is what memory becomes. */
static void add_ongoing(struct sl_txn *t, struct txn *x, struct change *c)
{
	*c = change_of(x);
	int64_t wall = wall_now(t);
	if (x->state != TX_ONGOING)
		c->start_ms = wall;
	c->state = TX_ONGOING;
	c->update_ms = wall;
	add_state(t, x, c);
}

static bool valid_topic(struct kc_str s, int32_t partition)
{
	return s.len > 0 && s.len <= SL_TXNLOG_TOPIC_MAX && partition >= 0;
}

static bool exists(const struct sl_txn *t, struct kc_str topic,
		   int32_t partition)
{
	if (!valid_topic(topic, partition))
		return false;
	return !t->cfg.exists ||
	       t->cfg.exists(t->cfg.exists_ctx, topic.ptr, (size_t)topic.len,
			     partition);
}

static bool topic_exists(void *ctx, struct kc_str topic, int32_t partition)
{
	return exists(ctx, topic, partition);
}

/* 0 when this broker coordinates transactional id, else the error to
 * answer (struct sl_txn_config coordinates); an id that is not valid is
 * answered as the API answers it. */
static int16_t not_mine(const struct sl_txn *t, struct kc_str id)
{
	if (!t->cfg.coordinates || id.len <= 0)
		return ERR_NONE;
	return t->cfg.coordinates(t->cfg.coordinates_ctx, id.ptr,
				  (size_t)id.len);
}

/* One transaction of an AddPartitionsToTxn: topics (of struct
 * kc_add_partitions_to_txn_req_topic) answered into *out (of struct
 * kc_add_partitions_to_txn_resp_topic_result), built in t->build.
 * Returns 0 or -EMSGSIZE (the arena). */
static int add_partitions(struct sl_txn *t, const struct req *rq,
			  struct kc_str id, int64_t pid, int16_t epoch,
			  bool verify_only, struct kc_array topics,
			  struct kc_array *out)
{
	int32_t nt = count_of(topics);
	const struct kc_add_partitions_to_txn_req_topic *qt = topics.items;
	struct kc_add_partitions_to_txn_resp_topic_result *rt =
		kc_arena_take(&t->build, (size_t)nt, sizeof(*rt));
	if (nt && !rt)
		return -EMSGSIZE;
	uint32_t unknown = 0, fresh = 0, total = 0;
	for (int32_t i = 0; i < nt; i++) {
		int32_t np = count_of(qt[i].partitions);
		const int32_t *qp = qt[i].partitions.items;
		struct kc_add_partitions_to_txn_resp_partition_result *rp =
			kc_arena_take(&t->build, (size_t)np, sizeof(*rp));
		if (np && !rp)
			return -EMSGSIZE;
		rt[i].name = qt[i].name;
		rt[i].results_by_partition = (struct kc_array){rp, np};
		for (int32_t j = 0; j < np; j++) {
			rp[j].partition_index = qp[j];
			rp[j].partition_error_code = ERR_NONE;
			if (!exists(t, qt[i].name, qp[j])) {
				rp[j].partition_error_code =
					SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				unknown++;
			}
			total++;
		}
	}
	*out = (struct kc_array){rt, nt};

	/* one code for every partition, or UNKNOWN_TOPIC_OR_PARTITION for
	 * those and OPERATION_NOT_ATTEMPTED for the rest (as Kafka) */
	int16_t err = ERR_NONE;
	struct txn *x = NULL;
	if (id.len <= 0)
		err = SN_ERR_INVALID_REQUEST;
	else if (not_mine(t, id))
		err = not_mine(t, id);
	else if (unknown)
		err = SL_TXN_ERR_OPERATION_NOT_ATTEMPTED;
	else
		err = producer_check(t, id, pid, epoch, &x);
	if (err == ERR_NONE && is_prepare(x->state))
		err = SL_TXN_ERR_CONCURRENT_TRANSACTIONS;
	if (err == ERR_NONE) {
		for (int32_t i = 0; i < nt; i++) {
			const int32_t *qp = qt[i].partitions.items;
			for (int32_t j = 0; j < count_of(qt[i].partitions); j++)
				fresh += part_find(x, qt[i].name.ptr,
						   (size_t)qt[i].name.len,
						   qp[j]) < 0;
		}
	}
	if (err == ERR_NONE && verify_only) {
		/* Kafka's verification: each partition on its own */
		for (int32_t i = 0; i < nt; i++) {
			struct kc_add_partitions_to_txn_resp_partition_result
				*rp = (void *)rt[i].results_by_partition.items;
			for (int32_t j = 0; j < rt[i].results_by_partition.count;
			     j++)
				rp[j].partition_error_code =
					part_find(x, qt[i].name.ptr,
						  (size_t)qt[i].name.len,
						  rp[j].partition_index) >= 0 ?
					ERR_NONE :
					SL_TXN_ERR_TRANSACTION_ABORTABLE;
		}
		return 0;
	}
	if (err == ERR_NONE && (fresh || x->state != TX_ONGOING) &&
	    x->nparts + fresh > SL_TXN_PARTITIONS_MAX)
		err = ERR_POLICY_VIOLATION;
	if (err == ERR_NONE && (fresh || x->state != TX_ONGOING)) {
		struct change c;
		log_begin(t);
		add_ongoing(t, x, &c);
		for (int32_t i = 0; i < nt; i++) {
			const int32_t *qp = qt[i].partitions.items;
			for (int32_t j = 0; j < count_of(qt[i].partitions);
			     j++) {
				if (part_find(x, qt[i].name.ptr,
					      (size_t)qt[i].name.len,
					      qp[j]) >= 0)
					continue;
				struct sl_txnlog_rec r = {
					.type = SL_TXNLOG_PARTITION,
					.id_len = x->id_len, .id = x->id,
					.topic_len = (uint16_t)qt[i].name.len,
					.topic = qt[i].name.ptr,
					.partition = qp[j]};
				log_add(t, &r);
			}
		}
		if (log_end(t) < 0) {
			err = SL_TXN_ERR_NOT_COORDINATOR;
		} else {
			apply_change(x, &c);
			for (int32_t i = 0; i < nt && err == ERR_NONE; i++) {
				const int32_t *qp = qt[i].partitions.items;
				for (int32_t j = 0;
				     j < count_of(qt[i].partitions); j++)
					if (part_add(x, qt[i].name.ptr,
						     (size_t)qt[i].name.len,
						     qp[j]) < 0)
						/* durable: a reopen has it */
						err = SN_ERR_UNKNOWN_SERVER_ERROR;
			}
			maybe_compact(t);
		}
	}
	if (err == SL_TXN_ERR_PRODUCER_FENCED)
		err = fenced(rq);
	for (int32_t i = 0; i < nt; i++) {
		struct kc_add_partitions_to_txn_resp_partition_result *rp =
			(void *)rt[i].results_by_partition.items;
		for (int32_t j = 0; j < rt[i].results_by_partition.count; j++)
			if (err != SL_TXN_ERR_OPERATION_NOT_ATTEMPTED ||
			    rp[j].partition_error_code == ERR_NONE)
				rp[j].partition_error_code = err;
	}
	(void)total;
	return 0;
}

static int on_add_partitions(struct sl_txn *t, const struct req *rq,
			     const struct kc_add_partitions_to_txn_req *q)
{
	union kc_response u;
	struct kc_add_partitions_to_txn_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_ADD_PARTITIONS_TO_TXN);
	t->build.used = 0;
	if (rq->version < 4) {
		if (add_partitions(t, rq, q->v3_and_below_transactional_id,
				   q->v3_and_below_producer_id,
				   q->v3_and_below_producer_epoch, false,
				   q->v3_and_below_topics,
				   &r->results_by_topic_v3_and_below) < 0)
			return -EMSGSIZE;
		return send_body(t, rq, r);
	}
	int32_t n = count_of(q->transactions);
	const struct kc_add_partitions_to_txn_req_transaction *qt =
		q->transactions.items;
	struct kc_add_partitions_to_txn_resp_result *rr =
		kc_arena_take(&t->build, (size_t)n, sizeof(*rr));
	if (n && !rr)
		return -EMSGSIZE;
	for (int32_t i = 0; i < n; i++) {
		rr[i].transactional_id = qt[i].transactional_id;
		if (add_partitions(t, rq, qt[i].transactional_id,
				   qt[i].producer_id, qt[i].producer_epoch,
				   qt[i].verify_only, qt[i].topics,
				   &rr[i].topic_results) < 0)
			return -EMSGSIZE;
	}
	r->results_by_transaction = (struct kc_array){rr, n};
	return send_body(t, rq, r);
}

static bool valid_group(struct kc_str g)
{
	return g.len > 0 && g.len <= SL_TXNLOG_GROUP_MAX;
}

/* Group (valid) joins x's transaction (x passed producer_check and is not
 * being ended): durable, then in memory, the transaction Ongoing.
 * Returns the Kafka error. */
static int16_t add_group(struct sl_txn *t, struct txn *x, struct kc_str group)
{
	int16_t err = ERR_NONE;
	bool fresh = group_idx(x, group.ptr, (size_t)group.len) < 0;
	if (fresh && x->ngroups >= SL_TXN_GROUPS_MAX)
		err = ERR_POLICY_VIOLATION;
	/* a cluster: the group's partition of __consumer_offsets too */
	int32_t op = -1;
	bool add_op = false;
	if (err == ERR_NONE && t->cfg.offsets_partition) {
		op = t->cfg.offsets_partition(t->cfg.offsets_ctx, group.ptr,
					      (size_t)group.len);
		if (op < 0)
			err = SL_TXN_ERR_COORDINATOR_NOT_AVAILABLE;
		else
			add_op = part_find(x, SL_OFFSETS_TOPIC,
					   strlen(SL_OFFSETS_TOPIC), op) < 0;
		if (add_op && x->nparts + 1 > SL_TXN_PARTITIONS_MAX)
			err = ERR_POLICY_VIOLATION;
	}
	if (err == ERR_NONE && (fresh || add_op || x->state != TX_ONGOING)) {
		struct change c;
		struct sl_txnlog_rec g = {
			.type = SL_TXNLOG_GROUP, .id_len = x->id_len,
			.id = x->id, .group_len = (uint16_t)group.len,
			.group = group.ptr};
		struct sl_txnlog_rec pr = {
			.type = SL_TXNLOG_PARTITION, .id_len = x->id_len,
			.id = x->id,
			.topic_len = (uint16_t)strlen(SL_OFFSETS_TOPIC),
			.topic = SL_OFFSETS_TOPIC, .partition = op};
		log_begin(t);
		add_ongoing(t, x, &c);
		if (fresh)
			log_add(t, &g);
		if (add_op)
			log_add(t, &pr);
		if (log_end(t) < 0) {
			err = SL_TXN_ERR_NOT_COORDINATOR;
		} else {
			apply_change(x, &c);
			if (fresh && group_add(x, group.ptr,
					       (size_t)group.len) < 0)
				err = SN_ERR_UNKNOWN_SERVER_ERROR;
			if (add_op && part_add(x, SL_OFFSETS_TOPIC,
					       strlen(SL_OFFSETS_TOPIC),
					       op) < 0)
				/* durable: a reopen has it */
				err = SN_ERR_UNKNOWN_SERVER_ERROR;
			maybe_compact(t);
		}
	}
	return err;
}

static void on_add_offsets(struct sl_txn *t, const struct req *rq,
			   const struct kc_add_offsets_to_txn_req *q)
{
	union kc_response u;
	struct kc_add_offsets_to_txn_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_ADD_OFFSETS_TO_TXN);
	struct txn *x = NULL;
	int16_t err = q->transactional_id.len <= 0 ? SN_ERR_INVALID_REQUEST :
		      !valid_group(q->group_id) ? SL_TXN_ERR_INVALID_GROUP_ID :
		      producer_check(t, q->transactional_id, q->producer_id,
				     q->producer_epoch, &x);
	if (err == ERR_NONE && is_prepare(x->state))
		err = SL_TXN_ERR_CONCURRENT_TRANSACTIONS;
	if (err == ERR_NONE)
		err = add_group(t, x, q->group_id);
	r->error_code = err == SL_TXN_ERR_PRODUCER_FENCED ? fenced(rq) : err;
	int rc = send_body(t, rq, r);
	assert(rc == 0);
	(void)rc;
}

/* ---- TxnOffsetCommit ---- */

static int on_txn_offset_commit(struct sl_txn *t, const struct req *rq,
				const struct kc_txn_offset_commit_req *q)
{
	union kc_response u;
	struct kc_txn_offset_commit_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_TXN_OFFSET_COMMIT);
	t->build.used = 0;
	long good = sl_txnoff_answer(q, r, &t->build, topic_exists, t,
				     SL_TXNLOG_META_MAX);
	if (good < 0)
		return (int)good;
	int32_t nt = r->topics.count;
	const struct kc_txn_offset_commit_req_topic *qt = q->topics.items;
	const struct kc_txn_offset_commit_resp_topic *rt = r->topics.items;

	/* one code for every partition that passed */
	struct txn *x = NULL;
	int16_t err = ERR_NONE;
	if (!t->cfg.groups)
		err = ERR_COORDINATOR_NOT_AVAILABLE;
	else if (!valid_group(q->group_id))
		err = SL_TXN_ERR_INVALID_GROUP_ID;
	else if (q->transactional_id.len <= 0)
		err = SN_ERR_INVALID_REQUEST;
	else
		err = producer_check(t, q->transactional_id, q->producer_id,
				     q->producer_epoch, &x);
	if (err == ERR_NONE && is_prepare(x->state))
		err = SL_TXN_ERR_CONCURRENT_TRANSACTIONS;
	/* v5 (KIP-890) carries AddOffsetsToTxn's function: Kafka's group
	 * coordinator verifies it with the addPartition operation, which adds
	 * the group to the transaction, whatever the transaction version */
	if (err == ERR_NONE && rq->version >= 5 && good)
		err = add_group(t, x, q->group_id);
	/* the group must be in the transaction (Kafka's verification) */
	if (err == ERR_NONE &&
	    (x->state != TX_ONGOING ||
	     group_idx(x, q->group_id.ptr, (size_t)q->group_id.len) < 0))
		err = SL_TXN_ERR_INVALID_TXN_STATE;
	if (err == ERR_NONE && rq->version >= 3)
		err = sl_groups_txn_check(t->cfg.groups, q->group_id.ptr,
					  (size_t)q->group_id.len,
					  q->generation_id, q->member_id.ptr,
					  str_len_of(q->member_id));
	uint32_t fresh = 0;
	if (err == ERR_NONE) {
		int32_t gi = group_idx(x, q->group_id.ptr,
				       (size_t)q->group_id.len);
		for (int32_t i = 0; i < nt; i++) {
			const struct kc_txn_offset_commit_req_partition *qp =
				qt[i].partitions.items;
			for (int32_t j = 0; j < count_of(qt[i].partitions); j++)
				fresh += valid_topic(qt[i].name,
						     qp[j].partition_index) &&
					 off_find(x, (uint32_t)gi,
						  qt[i].name.ptr,
						  (size_t)qt[i].name.len,
						  qp[j].partition_index) < 0;
		}
		if (x->noffs + fresh > SL_TXN_OFFSETS_MAX)
			err = ERR_POLICY_VIOLATION;
	}
	if (err == ERR_NONE && good) {
		log_begin(t);
		for (int32_t i = 0; i < nt; i++) {
			const struct kc_txn_offset_commit_req_partition *qp =
				qt[i].partitions.items;
			const struct kc_txn_offset_commit_resp_partition *rp =
				rt[i].partitions.items;
			for (int32_t j = 0; j < rt[i].partitions.count; j++) {
				if (rp[j].error_code != ERR_NONE)
					continue;
				struct sl_txnlog_rec o = {
					.type = SL_TXNLOG_OFFSET,
					.id_len = x->id_len, .id = x->id,
					.group_len = (uint16_t)q->group_id.len,
					.group = q->group_id.ptr,
					.topic_len = (uint16_t)qt[i].name.len,
					.topic = qt[i].name.ptr,
					.partition = qp[j].partition_index,
					.offset = qp[j].committed_offset,
					.leader_epoch =
						qp[j].committed_leader_epoch,
					.meta_len = qp[j].committed_metadata.len,
					.meta = qp[j].committed_metadata.ptr};
				log_add(t, &o);
			}
		}
		if (log_end(t) < 0) {
			err = SL_TXN_ERR_NOT_COORDINATOR;
		} else {
			for (int32_t i = 0; i < nt; i++) {
				const struct kc_txn_offset_commit_req_partition
					*qp = qt[i].partitions.items;
				struct kc_txn_offset_commit_resp_partition *rp =
					(void *)rt[i].partitions.items;
				for (int32_t j = 0; j < rt[i].partitions.count;
				     j++) {
					if (rp[j].error_code != ERR_NONE)
						continue;
					if (off_put(x, q->group_id.ptr,
						    (size_t)q->group_id.len,
						    qt[i].name.ptr,
						    (size_t)qt[i].name.len,
						    qp[j].partition_index,
						    qp[j].committed_offset,
						    qp[j].committed_leader_epoch,
						    qp[j].committed_metadata.ptr,
						    qp[j].committed_metadata.len))
						rp[j].error_code =
						    SN_ERR_UNKNOWN_SERVER_ERROR;
				}
			}
			maybe_compact(t);
		}
	}
	if (err == SL_TXN_ERR_PRODUCER_FENCED)
		err = fenced(rq);
	sl_txnoff_fail(r, err);
	return send_body(t, rq, r);
}

/* ---- EndTxn ---- */

static void on_end_txn(struct sl_txn *t, const struct req *rq,
		       const struct kc_end_txn_req *q)
{
	union kc_response u;
	struct kc_end_txn_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_END_TXN);
	struct txn *x = NULL;
	int16_t err = q->transactional_id.len <= 0 ? SN_ERR_INVALID_REQUEST :
		      producer_check(t, q->transactional_id, q->producer_id,
				     q->producer_epoch, &x);
	bool commit = q->committed;
	bool prepare = false;
	if (err == ERR_NONE) {
		switch (x->state) {
		case TX_ONGOING:
			prepare = true;
			break;
		case TX_COMPLETE_COMMIT:
			err = commit ? ERR_NONE : SL_TXN_ERR_INVALID_TXN_STATE;
			break;
		case TX_COMPLETE_ABORT:
			err = !commit ? ERR_NONE : SL_TXN_ERR_INVALID_TXN_STATE;
			break;
		case TX_PREPARE_COMMIT:
			err = commit ? SL_TXN_ERR_CONCURRENT_TRANSACTIONS :
				       SL_TXN_ERR_INVALID_TXN_STATE;
			break;
		case TX_PREPARE_ABORT:
			err = !commit ? SL_TXN_ERR_CONCURRENT_TRANSACTIONS :
					SL_TXN_ERR_INVALID_TXN_STATE;
			break;
		default:
			err = SL_TXN_ERR_INVALID_TXN_STATE;
		}
	}
	if (prepare) {
		struct change c = change_of(x);
		c.state = commit ? TX_PREPARE_COMMIT : TX_PREPARE_ABORT;
		c.update_ms = wall_now(t);
		log_begin(t);
		add_state(t, x, &c);
		if (log_end(t) < 0) {
			err = SL_TXN_ERR_NOT_COORDINATOR;
			prepare = false;
		} else {
			apply_change(x, &c);
		}
	}
	r->error_code = err == SL_TXN_ERR_PRODUCER_FENCED ? fenced(rq) : err;
	if (err == ERR_NONE) {
		r->producer_id = x->pid;
		r->producer_epoch = x->epoch;
	}
	int rc = send_body(t, rq, r);
	assert(rc == 0);
	(void)rc;
	if (prepare) {
		complete(t, x);
		maybe_compact(t);
	}
}

/* ---- DescribeTransactions, ListTransactions ---- */

static int on_describe(struct sl_txn *t, const struct req *rq,
		       const struct kc_describe_transactions_req *q)
{
	union kc_response u;
	struct kc_describe_transactions_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_DESCRIBE_TRANSACTIONS);
	t->build.used = 0;
	int32_t n = count_of(q->transactional_ids);
	const struct kc_str *ids = q->transactional_ids.items;
	struct kc_describe_transactions_resp_transaction_state *s =
		kc_arena_take(&t->build, (size_t)n, sizeof(*s));
	if (n && !s)
		return -EMSGSIZE;
	for (int32_t i = 0; i < n; i++) {
		s[i] = (struct kc_describe_transactions_resp_transaction_state){
			.transactional_id = ids[i],
			.transaction_state = str_of("", 0),
			.transaction_start_time_ms = -1,
			.producer_id = -1, .producer_epoch = -1};
		const struct txn *x = ids[i].len > 0 ?
			txn_find(t, ids[i].ptr, (size_t)ids[i].len) : NULL;
		if (ids[i].len <= 0) {
			s[i].error_code = SN_ERR_INVALID_REQUEST;
			continue;
		}
		if (not_mine(t, ids[i])) {
			s[i].error_code = not_mine(t, ids[i]);
			continue;
		}
		if (!x || x->pid < 0) {
			s[i].error_code =
				SL_TXN_ERR_TRANSACTIONAL_ID_NOT_FOUND;
			continue;
		}
		const char *name = state_names[x->state];
		s[i].transaction_state = str_of(name, strlen(name));
		s[i].transaction_timeout_ms = x->timeout_ms;
		s[i].transaction_start_time_ms = x->start_ms;
		s[i].producer_id = x->pid;
		s[i].producer_epoch = x->epoch;
		/* partitions by topic (they are sorted) */
		uint32_t ntop = 0;
		for (uint32_t k = 0; k < x->nparts; k++)
			ntop += k == 0 || tpart_cmp(x->parts[k - 1].topic,
						    x->parts[k - 1].topic_len,
						    0, x->parts[k].topic,
						    x->parts[k].topic_len, 0);
		struct kc_describe_transactions_resp_topic_data *td =
			kc_arena_take(&t->build, ntop, sizeof(*td));
		int32_t *parts = kc_arena_take(&t->build, x->nparts, sizeof(*parts));
		if ((ntop && !td) || (x->nparts && !parts))
			return -EMSGSIZE;
		int32_t at = -1;
		for (uint32_t k = 0; k < x->nparts; k++) {
			const struct tpart *p = &x->parts[k];
			if (at < 0 || !kc_str_is(td[at].topic, p->topic,
					      p->topic_len)) {
				at++;
				td[at].topic = str_of(p->topic, p->topic_len);
				td[at].partitions =
					(struct kc_array){&parts[k], 0};
			}
			parts[k] = p->partition;
			td[at].partitions.count++;
		}
		s[i].topics = (struct kc_array){td, (int32_t)ntop};
	}
	r->transaction_states = (struct kc_array){s, n};
	return send_body(t, rq, r);
}

static bool str_is(struct kc_str s, const char *name)
{
	return kc_str_is(s, name, strlen(name));
}

static int list_matching(struct sl_txn *t, const struct req *rq,
			 const struct kc_list_transactions_req *q,
			 const regex_t *re,
			 struct kc_list_transactions_resp *r);

/* v2's TransactionalIdPattern (KIP-1152) compiled into *re, anchored at
 * both ends (Kafka matches the whole id).  A null or empty pattern keeps
 * every id: *on false.  Returns false when it does not compile (or is
 * longer than PATTERN_MAX). */
static bool pattern_compile(struct kc_str p, regex_t *re, bool *on)
{
	*on = false;
	if (p.len <= 0)
		return true;
	if (p.len > PATTERN_MAX)
		return false;
	char src[PATTERN_MAX + 8];
	int n = snprintf(src, sizeof(src), "^(%.*s)$", (int)p.len, p.ptr);
	assert(n > 0 && (size_t)n < sizeof(src));
	/* a NUL inside the pattern would cut it short: refuse it */
	if (memchr(p.ptr, 0, (size_t)p.len))
		return false;
	if (regcomp(re, src, REG_EXTENDED | REG_NOSUB))
		return false;
	*on = true;
	return true;
}

static int on_list(struct sl_txn *t, const struct req *rq,
		   const struct kc_list_transactions_req *q)
{
	union kc_response u;
	struct kc_list_transactions_resp *r = (void *)u.raw;
	kc_response_init(&u, KC_API_LIST_TRANSACTIONS);
	t->build.used = 0;
	regex_t re;
	bool use_re;
	if (!pattern_compile(q->transactional_id_pattern, &re, &use_re)) {
		r->error_code = ERR_INVALID_REGULAR_EXPRESSION;
		return send_body(t, rq, r);
	}
	int rc = list_matching(t, rq, q, use_re ? &re : NULL, r);
	if (use_re)
		regfree(&re);
	return rc;
}

/* The rest of on_list: the transactions that pass every filter (re NULL:
 * no pattern) into r, sent. */
static int list_matching(struct sl_txn *t, const struct req *rq,
			 const struct kc_list_transactions_req *q,
			 const regex_t *re,
			 struct kc_list_transactions_resp *r)
{
	int32_t nf = count_of(q->state_filters);
	const struct kc_str *sf = q->state_filters.items;
	bool want[TX_STATES] = {false};
	struct kc_str *unknown = kc_arena_take(&t->build, (size_t)nf, sizeof(*unknown));
	if (nf && !unknown)
		return -EMSGSIZE;
	int32_t nu = 0;
	size_t bytes = 64; /* the fixed part, generously */
	for (int32_t i = 0; i < nf; i++) {
		bool known = false;
		for (int s = 0; s < TX_STATES; s++)
			if (str_is(sf[i], state_names[s]))
				want[s] = known = true;
		for (size_t s = 0; s < sizeof(other_names) /
				       sizeof(other_names[0]); s++)
			known |= str_is(sf[i], other_names[s]);
		if (!known) {
			unknown[nu++] = sf[i];
			bytes += 3 + (size_t)(sf[i].len > 0 ? sf[i].len : 0);
		}
	}
	int32_t npf = count_of(q->producer_id_filters);
	const int64_t *pf = q->producer_id_filters.items;
	int64_t wall = wall_now(t);
	struct kc_list_transactions_resp_transaction_state *ls =
		kc_arena_take(&t->build, t->ntxns, sizeof(*ls));
	if (t->ntxns && !ls)
		return -EMSGSIZE;
	int32_t n = 0;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		const struct txn *x = &t->txns[i];
		if (!x->used || x->pid < 0)
			continue;
		if (nf && !want[x->state])
			continue;
		bool pid_ok = npf == 0;
		for (int32_t k = 0; k < npf && !pid_ok; k++)
			pid_ok = pf[k] == x->pid;
		if (!pid_ok)
			continue;
		if (q->duration_filter >= 0 &&
		    wall - x->start_ms <= q->duration_filter)
			continue;
		if (re) { /* the id NUL-terminated for regexec */
			char id[SL_TXNLOG_ID_MAX + 1];
			memcpy(id, x->id, x->id_len);
			id[x->id_len] = 0;
			if (regexec(re, id, 0, NULL, 0))
				continue;
		}
		const char *name = state_names[x->state];
		size_t b = 3 + x->id_len + 8 + 3 + strlen(name) + 1;
		if (bytes + b > SL_TXN_MAX_RESPONSE)
			break; /* what fits (txn.h) */
		bytes += b;
		ls[n++] = (struct kc_list_transactions_resp_transaction_state){
			str_of(x->id, x->id_len), x->pid,
			str_of(name, strlen(name))};
	}
	r->unknown_state_filters = (struct kc_array){unknown, nu};
	r->transaction_states = (struct kc_array){ls, n};
	return send_body(t, rq, r);
}

/* ---- loading the log ---- */

static int apply_record(void *arg, const struct sl_txnlog_rec *r)
{
	struct sl_txn *t = arg;
	if (r->type == SL_TXNLOG_PRODUCER_IDS) {
		if (r->next_producer_id > t->next_pid)
			t->next_pid = r->next_producer_id;
		return 0;
	}
	if (t->cfg.sink && !t->loading)
		return 0; /* a cluster's state is its topic's, not the file's */
	struct txn *x = txn_find(t, r->id, r->id_len);
	int rc = 0;
	switch (r->type) {
	case SL_TXNLOG_STATE: {
		if (!x && !(x = txn_create(t, r->id, r->id_len, &rc)))
			return rc;
		struct change c = {r->producer_id, r->prev_producer_id,
				   r->epoch, r->last_epoch, r->timeout_ms,
				   r->state, r->start_ms, r->update_ms};
		apply_change(x, &c);
		/* never handed twice (ids of other brokers' ranges, loaded
		 * from a partition they coordinated, are theirs) */
		if (r->producer_id >= t->next_pid &&
		    r->producer_id < t->pid_end)
			t->next_pid = r->producer_id + 1;
		return 0;
	}
	case SL_TXNLOG_DELETE:
		if (x)
			txn_free(t, x);
		return 0;
	}
	/* what joins a transaction: only of an id whose state is known */
	if (!x || !is_open(x->state))
		return 0;
	switch (r->type) {
	case SL_TXNLOG_PARTITION:
		if (part_find(x, r->topic, r->topic_len, r->partition) < 0 &&
		    x->nparts >= SL_TXN_PARTITIONS_MAX)
			return -EOVERFLOW;
		return part_add(x, r->topic, r->topic_len, r->partition);
	case SL_TXNLOG_GROUP:
		return group_add(x, r->group, r->group_len);
	case SL_TXNLOG_OFFSET:
		return off_put(x, r->group, r->group_len, r->topic,
			       r->topic_len, r->partition, r->offset,
			       r->leader_epoch, r->meta, r->meta_len);
	}
	return 0;
}

/* ---- the contract ---- */

int sl_txn_open(const char *dir, const struct sl_txn_config *cfg,
		sl_txn_reply_fn reply, void *ctx, int64_t now_ms,
		struct sl_txn **out, char *err, size_t errlen)
{
	assert(dir && reply && out && err && errlen > 0);
	err[0] = 0;
	int rc = -ENOMEM;
	struct sl_txn *t = calloc(1, sizeof(*t));
	if (!t)
		goto out_nomem;
	t->reply = reply;
	t->ctx = ctx;
	t->now_ms = now_ms;
	if (cfg)
		t->cfg = *cfg;
	if (!t->cfg.timeout_max_ms)
		t->cfg.timeout_max_ms = SL_TXN_TIMEOUT_MAX_MS;
	if (!t->cfg.id_expiration_ms)
		t->cfg.id_expiration_ms = SL_TXN_ID_EXPIRATION_MS;
	if (!t->cfg.clock)
		t->cfg.clock = &sl_clock_system;
	if (!t->cfg.disk)
		t->cfg.disk = &sdisk_posix;
	t->next_pid = SL_TXN_PRODUCER_ID_FIRST;
	t->pid_end = INT64_MAX;
	if (t->cfg.node_id > 0) {
		t->next_pid += (int64_t)t->cfg.node_id * SL_TXN_NODE_SPAN;
		t->pid_end = t->next_pid + SL_TXN_NODE_SPAN;
	}
	t->txns = calloc(SL_TXN_IDS_MAX, sizeof(*t->txns));
	uint8_t *in = malloc(ARENA_BYTES), *build = malloc(ARENA_BYTES);
	t->in = (struct kc_arena){in, ARENA_BYTES, 0};
	t->build = (struct kc_arena){build, ARENA_BYTES, 0};
	if (!t->txns || !in || !build)
		goto out_free;
	rc = sl_txnlog_open(t->cfg.disk, dir, apply_record, t, &t->log, err,
			    errlen);
	if (rc == -EOVERFLOW)
		snprintf(err, errlen, "%s/%s holds more than the %d "
			 "transactional ids or %d partitions of a transaction "
			 "this sluice-control keeps: run the build that wrote "
			 "it, or move the file away (transactional producers "
			 "then initialize again)", dir, SL_TXNLOG_FILE,
			 SL_TXN_IDS_MAX, SL_TXN_PARTITIONS_MAX);
	if (rc < 0)
		goto out_txns;
	/* ids created by records that never gave them a state */
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++)
		if (t->txns[i].used && t->txns[i].pid < 0)
			txn_free(t, &t->txns[i]);
	/* what was being ended when the coordinator stopped ends now */
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++)
		if (t->txns[i].used)
			complete(t, &t->txns[i]);
	*out = t;
	return 0;
out_txns:
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++)
		if (t->txns[i].used)
			txn_free(t, &t->txns[i]);
out_free:
	free(t->in.base);
	free(t->build.base);
	free(t->txns);
	free(t);
out_nomem:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "transactions in %s: out of memory", dir);
	return rc;
}

void sl_txn_close(struct sl_txn *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++)
		if (t->txns[i].used)
			txn_free(t, &t->txns[i]);
	assert(t->ntxns == 0);
	sl_txnlog_close(t->log);
	free(t->in.base);
	free(t->build.base);
	free(t->txns);
	free(t);
}

bool sl_txn_serves(int16_t key)
{
	switch (key) {
	case KC_API_INIT_PRODUCER_ID:
	case KC_API_ADD_PARTITIONS_TO_TXN:
	case KC_API_ADD_OFFSETS_TO_TXN:
	case KC_API_TXN_OFFSET_COMMIT:
	case KC_API_END_TXN:
	case KC_API_DESCRIBE_TRANSACTIONS:
	case KC_API_LIST_TRANSACTIONS:
		return true;
	}
	return false;
}

/* The API's response carrying code alone (a request that could not be
 * read).  AddPartitionsToTxn and TxnOffsetCommit answer partition by
 * partition: they have no field for it. */
static int send_error(struct sl_txn *t, const struct req *rq, int16_t code)
{
	union kc_response u;
	kc_response_init(&u, rq->key);
	switch (rq->key) {
	case KC_API_INIT_PRODUCER_ID: {
		/* no producer, as Kafka's answer to an error */
		struct kc_init_producer_id_resp *r = (void *)u.raw;
		r->error_code = code;
		r->producer_id = -1;
		r->producer_epoch = -1;
		break;
	}
	case KC_API_ADD_OFFSETS_TO_TXN:
		((struct kc_add_offsets_to_txn_resp *)(void *)u.raw)->error_code =
			code;
		break;
	case KC_API_END_TXN:
		((struct kc_end_txn_resp *)(void *)u.raw)->error_code = code;
		break;
	case KC_API_LIST_TRANSACTIONS:
		((struct kc_list_transactions_resp *)(void *)u.raw)->error_code =
			code;
		break;
	case KC_API_DESCRIBE_TRANSACTIONS:
		break; /* no top-level code: an empty answer */
	default:
		return -EINVAL;
	}
	return send_body(t, rq, u.raw);
}

int sl_txn_request(struct sl_txn *t, uint64_t token, const uint8_t *req,
		   size_t len, int64_t now_ms)
{
	assert(t && (req || len == 0));
	t->now_ms = now_ms;
	run_timers(t);
	struct kc_request_header h;
	union kc_request body;
	t->in.used = 0;
	long n = kc_decode_request(req, len, &h, &body, &t->in);
	if (len < 8 || !sl_txn_serves(h.api_key) ||
	    n == -SN_ERR_UNSUPPORTED_VERSION)
		return -EINVAL;
	struct req rq = {token, h.api_key, h.api_version, h.correlation_id};
	if (n < 0)
		return send_error(t, &rq, n == -ENOBUFS ?
				  SN_ERR_MESSAGE_TOO_LARGE :
				  SN_ERR_INVALID_REQUEST);
	assert(n == (long)len);
	const void *b = body.raw;
	/* an id of another broker (a cluster's): the APIs about one id say
	 * so at once, the others id by id */
	struct kc_str one = {NULL, -1};
	if (h.api_key == KC_API_INIT_PRODUCER_ID)
		one = ((const struct kc_init_producer_id_req *)b)
			->transactional_id;
	else if (h.api_key == KC_API_ADD_OFFSETS_TO_TXN)
		one = ((const struct kc_add_offsets_to_txn_req *)b)
			->transactional_id;
	else if (h.api_key == KC_API_END_TXN)
		one = ((const struct kc_end_txn_req *)b)->transactional_id;
	int16_t other = not_mine(t, one);
	if (other)
		return send_error(t, &rq, other);
	switch (h.api_key) {
	case KC_API_INIT_PRODUCER_ID:
		on_init_producer_id(t, &rq, b);
		return 0;
	case KC_API_ADD_PARTITIONS_TO_TXN:
		return on_add_partitions(t, &rq, b);
	case KC_API_ADD_OFFSETS_TO_TXN:
		on_add_offsets(t, &rq, b);
		return 0;
	case KC_API_TXN_OFFSET_COMMIT:
		return on_txn_offset_commit(t, &rq, b);
	case KC_API_END_TXN:
		on_end_txn(t, &rq, b);
		return 0;
	case KC_API_DESCRIBE_TRANSACTIONS:
		return on_describe(t, &rq, b);
	case KC_API_LIST_TRANSACTIONS:
		return on_list(t, &rq, b);
	}
	return -EINVAL;
}

int sl_txn_tick(struct sl_txn *t, int64_t now_ms)
{
	assert(t);
	t->now_ms = now_ms;
	run_timers(t);
	int64_t wall_at, now_at;
	next_deadlines(t, &wall_at, &now_at);
	int64_t wait = INT64_MAX;
	if (wall_at != INT64_MAX)
		wait = wall_at - wall_now(t);
	if (now_at != INT64_MAX && now_at - now_ms < wait)
		wait = now_at - now_ms;
	if (wait == INT64_MAX)
		return -1;
	if (wait <= 0)
		return 0;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

void sl_txn_markers_done(struct sl_txn *t, uint64_t id, int64_t now_ms)
{
	assert(t);
	uint64_t slot = id >> 32;
	if (slot >= SL_TXN_IDS_MAX)
		return;
	struct txn *x = &t->txns[slot];
	if (!x->used || !x->markers_out || job_id(t, x) != id ||
	    !is_prepare(x->state))
		return;
	t->now_ms = now_ms;
	x->markers_done = true;
	complete(t, x);
}

int sl_txn_load_record(void *arg, const struct sl_txnlog_rec *r)
{
	struct sl_txn *t = arg;
	if (r->type == SL_TXNLOG_PRODUCER_IDS)
		return 0; /* the file's alone */
	t->loading = true;
	int rc = apply_record(t, r);
	t->loading = false;
	return rc;
}

void sl_txn_loaded(struct sl_txn *t, sl_txn_match_fn match, void *ctx,
		   int64_t now_ms)
{
	t->now_ms = now_ms;
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		struct txn *x = &t->txns[i];
		if (!x->used || !match(ctx, x->id, x->id_len))
			continue;
		if (x->pid < 0) { /* records that never gave it a state */
			txn_free(t, x);
			continue;
		}
		complete(t, x);
	}
}

void sl_txn_unload(struct sl_txn *t, sl_txn_match_fn match, void *ctx)
{
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		struct txn *x = &t->txns[i];
		if (!x->used || !match(ctx, x->id, x->id_len))
			continue;
		/* its markers are the next coordinator's to write: a late
		 * one of ours could land in the producer's next transaction */
		if (x->markers_out && !x->markers_done &&
		    t->cfg.markers_cancel)
			t->cfg.markers_cancel(t->cfg.markers_ctx,
					      job_id(t, x));
		txn_free(t, x);
	}
}

bool sl_txn_offset_pending(const struct sl_txn *t, const char *group,
			   size_t group_len, const char *topic,
			   size_t topic_len, int32_t partition)
{
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++) {
		const struct txn *x = &t->txns[i];
		if (!x->used || x->noffs == 0 || x->offsets_applied ||
		    x->state == TX_PREPARE_ABORT)
			continue;
		int32_t g = group_idx(x, group, group_len);
		if (g >= 0 && off_find(x, (uint32_t)g, topic, topic_len,
				       partition) >= 0)
			return true;
	}
	return false;
}

void sl_txn_counts(const struct sl_txn *t, uint32_t counts[6])
{
	memset(counts, 0, 6 * sizeof(counts[0]));
	for (uint32_t i = 0; i < SL_TXN_IDS_MAX; i++)
		if (t->txns[i].used)
			counts[t->txns[i].state]++;
}
