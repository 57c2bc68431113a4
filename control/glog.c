/*
 * The internal topic client (glog.h has the contract).
 *
 * States: DOWN (no socket; a connect is tried once retry_at_ms has come
 * and there is something to do) -> CONNECTING -> UP.  While UP, at most
 * one request is in flight: a Produce of every partition's unsent appends
 * or a Fetch of every partition being read, taking turns when both wait.
 *
 * Each partition keeps its appends in a list, in append order: those in
 * the Produce in flight (sent) first, then those queued.  An answer for a
 * partition pops its sent appends; an error pops the queued ones too (the
 * prefix rule).  A partition's gen rises at each sl_glog_forget (its rgen
 * at each forget and each new read), and the request in flight remembers
 * the gen (a Fetch: the rgen) it carried each partition at: an answer for
 * an older one is ignored.
 *
 * The callbacks may call back in (append, read, forget): an answer is
 * first taken off the lists into a local array of results, which are
 * then reported, each only while its partition's gen is unchanged.
 *
 * Produce v7 and Fetch v11 are not flexible versions: request header v1,
 * response header v0 (the correlation id alone).  The bodies go through
 * the generated codec (proto/kafka/kcodec.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/glog.h"
#include "control/log.h"
#include "proto/compression.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

#define PRODUCE_VERSION 7
#define FETCH_VERSION 11
#define ARENA_BYTES (1u << 20)
#define PARTITION_FETCH_MAX (1u << 20)
#define RECORD_OVERHEAD 32         /* a record's framing, at most */
#define TOPIC_MAX 249
#define CLIENT_ID "__admin_client" /* internal topics take appends only
				     from it (Kafka's rule) */

#define ERR_OFFSET_OUT_OF_RANGE 1
#define ERR_CORRUPT_MESSAGE 2
#define ERR_UNKNOWN_SERVER -1

enum gstate { G_DOWN, G_CONNECTING, G_UP };
enum greq { R_NONE, R_PRODUCE, R_FETCH };

struct gapp {
	struct gapp *next;
	uint64_t seq;
	uint32_t nrec;
	bool sent;
	int64_t wall_ms;
	size_t len;
	uint8_t blob[];            /* per record: i32 klen, key, i32 vlen,
				      value (lengths -1: null, no bytes),
				      u32 headers, then each header: u32
				      name length, name, i32 value length
				      (-1: null), value */
};

struct gpart {
	struct gapp *head, *tail;
	uint32_t gen;              /* of appends: rises at each forget */
	uint32_t rgen;             /* of reads: at each forget and read */
	bool reading, read_sent;
	bool once;                 /* sl_glog_read_once: one answer ends it */
	int64_t next, end;
	int64_t hw;                /* the last answer's high watermark */
	int empty_reads;
};

/* A partition of the request in flight. */
struct inflight {
	int32_t p;
	uint32_t gen;
};

/* An append's answer, reported after the lists are updated. */
struct result {
	uint64_t seq;
	int32_t p;
	uint32_t gen;
	int16_t err;
	int64_t offset;
};

struct sl_glog {
	char topic[TOPIC_MAX + 1];
	uint16_t topic_len;
	uint16_t port;
	uint32_t addr;             /* IPv4, network order */
	int32_t read_wait_ms;      /* a Fetch's MaxWaitMs (0: answer now) */
	int fd;
	enum gstate state;
	int64_t retry_at_ms, backoff_ms;
	int64_t sent_ms;
	enum greq req;             /* in flight */
	enum greq last;            /* the last sent: turns */
	int32_t corr;
	uint64_t seq;
	sl_glog_appended_fn appended;
	sl_glog_record_fn record;
	sl_glog_read_fn read_done;
	sl_glog_marker_fn marker;
	sl_glog_batch_fn batch;
	void *ctx;
	struct gpart parts[SL_GLOG_PARTITIONS_MAX];
	struct inflight inf[SL_GLOG_PARTITIONS_MAX];
	uint32_t ninf;
	struct result *res;
	uint32_t nres, res_cap;
	struct kc_arena arena;
	uint8_t *bbuf;             /* the batches of a Produce */
	size_t bcap;
	uint8_t *wbuf;             /* the request: [woff, wlen) unsent */
	size_t woff, wlen, wcap;
	uint8_t *rbuf;             /* the response being read */
	size_t rlen, rcap;
	struct sl_glog_stats st;
};

int sl_glog_create(const char *topic, uint16_t port, struct sl_glog **out)
{
	size_t tl = topic ? strlen(topic) : 0;
	if (tl == 0 || tl > TOPIC_MAX)
		return -EINVAL;
	struct sl_glog *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	memcpy(g->topic, topic, tl);
	g->topic_len = (uint16_t)tl;
	g->port = port;
	g->addr = htonl(INADDR_LOOPBACK);
	g->fd = -1;
	g->backoff_ms = SL_GLOG_BACKOFF_MIN_MS;
	g->arena = (struct kc_arena){malloc(ARENA_BYTES), ARENA_BYTES, 0};
	if (!g->arena.base) {
		free(g);
		return -ENOMEM;
	}
	*out = g;
	return 0;
}

static void free_list(struct gpart *gp)
{
	struct gapp *a = gp->head;
	while (a) {
		struct gapp *n = a->next;
		free(a);
		a = n;
	}
	gp->head = gp->tail = NULL;
}

void sl_glog_destroy(struct sl_glog *g)
{
	if (!g)
		return;
	if (g->fd >= 0)
		close(g->fd);
	for (int i = 0; i < SL_GLOG_PARTITIONS_MAX; i++)
		free_list(&g->parts[i]);
	free(g->res);
	free(g->arena.base);
	free(g->bbuf);
	free(g->wbuf);
	free(g->rbuf);
	free(g);
}

void sl_glog_set_callbacks(struct sl_glog *g, sl_glog_appended_fn appended,
			   sl_glog_record_fn record, sl_glog_read_fn read_done,
			   void *ctx)
{
	g->appended = appended;
	g->record = record;
	g->read_done = read_done;
	g->ctx = ctx;
}

void sl_glog_set_marker_callback(struct sl_glog *g, sl_glog_marker_fn marker)
{
	g->marker = marker;
}

void sl_glog_set_batch_callback(struct sl_glog *g, sl_glog_batch_fn batch)
{
	g->batch = batch;
}

void sl_glog_set_addr(struct sl_glog *g, uint32_t addr)
{
	g->addr = addr;
}

void sl_glog_set_read_wait(struct sl_glog *g, int32_t ms)
{
	g->read_wait_ms = ms > 0 && ms < SL_GLOG_TIMEOUT_MS / 2 ? ms : 0;
}

void sl_glog_get_stats(const struct sl_glog *g, struct sl_glog_stats *out)
{
	*out = g->st;
}

/* ---- appends, reads, forgetting ---- */

int sl_glog_append(struct sl_glog *g, int32_t p,
		   const struct sl_glog_rec *recs, uint32_t n, int64_t wall_ms,
		   uint64_t *seq)
{
	if (p < 0 || p >= SL_GLOG_PARTITIONS_MAX || n == 0 ||
	    n > RB_RECORDS_MAX)
		return -EINVAL;
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (recs[i].key_len < -1 || recs[i].value_len < -1 ||
		    recs[i].nheaders > SL_GLOG_HEADERS_MAX)
			return -EINVAL;
		len += 12 + (size_t)(recs[i].key_len > 0 ? recs[i].key_len : 0) +
		       (size_t)(recs[i].value_len > 0 ? recs[i].value_len : 0);
		for (uint32_t h = 0; h < recs[i].nheaders; h++) {
			const struct rb_header_kv *hv = &recs[i].headers[h];
			if (hv->klen > 0xffff || hv->vlen < -1 ||
			    (hv->value && hv->vlen < 0))
				return -EINVAL;
			/* + 16: its varint lengths in the batch, at most */
			len += 8 + 16 + hv->klen +
			       (size_t)(hv->value && hv->vlen > 0 ? hv->vlen : 0);
		}
		if (len + (size_t)n * RECORD_OVERHEAD + RB_HEADER_BYTES >
		    SL_GLOG_BATCH_MAX)
			return -EINVAL;
	}
	struct gapp *a = malloc(sizeof(*a) + len);
	if (!a)
		return -ENOMEM;
	*a = (struct gapp){.seq = ++g->seq, .nrec = n, .wall_ms = wall_ms,
			   .len = len};
	uint8_t *q = a->blob;
	for (uint32_t i = 0; i < n; i++) {
		rb_put32(q, (uint32_t)recs[i].key_len);
		q += 4;
		if (recs[i].key_len > 0) {
			memcpy(q, recs[i].key, (size_t)recs[i].key_len);
			q += recs[i].key_len;
		}
		rb_put32(q, (uint32_t)recs[i].value_len);
		q += 4;
		if (recs[i].value_len > 0) {
			memcpy(q, recs[i].value, (size_t)recs[i].value_len);
			q += recs[i].value_len;
		}
		rb_put32(q, recs[i].nheaders);
		q += 4;
		for (uint32_t h = 0; h < recs[i].nheaders; h++) {
			const struct rb_header_kv *hv = &recs[i].headers[h];
			int32_t vl = hv->value ? hv->vlen : -1;
			rb_put32(q, (uint32_t)hv->klen);
			q += 4;
			memcpy(q, hv->key, hv->klen);
			q += hv->klen;
			rb_put32(q, (uint32_t)vl);
			q += 4;
			if (vl > 0) {
				memcpy(q, hv->value, (size_t)vl);
				q += vl;
			}
		}
	}
	struct gpart *gp = &g->parts[p];
	if (gp->tail)
		gp->tail->next = a;
	else
		gp->head = a;
	gp->tail = a;
	*seq = a->seq;
	return 0;
}

int sl_glog_read(struct sl_glog *g, int32_t p, int64_t end)
{
	if (p < 0 || p >= SL_GLOG_PARTITIONS_MAX || end < 0)
		return -EINVAL;
	struct gpart *gp = &g->parts[p];
	if (gp->read_sent)
		gp->rgen++; /* the answer in flight is for the read replaced */
	gp->reading = true;
	gp->read_sent = false;
	gp->once = false;
	gp->next = 0;
	gp->end = end;
	gp->empty_reads = 0;
	return 0;
}

int sl_glog_read_once(struct sl_glog *g, int32_t p, int64_t from)
{
	if (sl_glog_read(g, p, INT64_MAX) < 0 || from < 0)
		return -EINVAL;
	struct gpart *gp = &g->parts[p];
	gp->once = true;
	gp->next = from;
	gp->hw = -1;
	return 0;
}

int64_t sl_glog_read_next(const struct sl_glog *g, int32_t p)
{
	return p < 0 || p >= SL_GLOG_PARTITIONS_MAX ? -1 : g->parts[p].next;
}

int64_t sl_glog_high_watermark(const struct sl_glog *g, int32_t p)
{
	return p < 0 || p >= SL_GLOG_PARTITIONS_MAX ? -1 : g->parts[p].hw;
}

void sl_glog_forget(struct sl_glog *g, int32_t p)
{
	if (p < 0 || p >= SL_GLOG_PARTITIONS_MAX)
		return;
	struct gpart *gp = &g->parts[p];
	free_list(gp);
	gp->gen++;
	gp->rgen++;
	gp->reading = gp->read_sent = false;
}

/* ---- the event loop's view ---- */

static bool want_produce(const struct sl_glog *g)
{
	for (int i = 0; i < SL_GLOG_PARTITIONS_MAX; i++)
		if (g->parts[i].head)
			for (const struct gapp *a = g->parts[i].head; a;
			     a = a->next)
				if (!a->sent)
					return true;
	return false;
}

static bool want_fetch(const struct sl_glog *g)
{
	for (int i = 0; i < SL_GLOG_PARTITIONS_MAX; i++)
		if (g->parts[i].reading && !g->parts[i].read_sent)
			return true;
	return false;
}

int sl_glog_fd(const struct sl_glog *g)
{
	return g->fd;
}

bool sl_glog_pollfd(const struct sl_glog *g, struct pollfd *out)
{
	int fd = sl_glog_fd(g);
	if (fd < 0)
		return false;
	*out = (struct pollfd){fd, sl_glog_events(g), 0};
	return true;
}

short sl_glog_events(const struct sl_glog *g)
{
	if (g->fd < 0)
		return 0;
	if (g->state == G_CONNECTING || g->woff < g->wlen)
		return POLLIN | POLLOUT;
	return POLLIN;
}

int sl_glog_timeout_ms(const struct sl_glog *g, int64_t now_ms)
{
	int64_t at = INT64_MAX;
	if (g->state == G_CONNECTING || g->req != R_NONE)
		at = g->sent_ms + SL_GLOG_TIMEOUT_MS;
	else if (want_produce(g) || want_fetch(g))
		at = g->retry_at_ms;
	if (at == INT64_MAX)
		return -1;
	return at <= now_ms ? 0 : at - now_ms > INT32_MAX ? INT32_MAX :
							     (int)(at - now_ms);
}

/* ---- answers ---- */

static int add_result(struct sl_glog *g, uint64_t seq, int32_t p,
		      int16_t err, int64_t offset)
{
	if (g->nres == g->res_cap) {
		uint32_t cap = g->res_cap ? g->res_cap * 2 : 64;
		struct result *n = realloc(g->res, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->res = n;
		g->res_cap = cap;
	}
	g->res[g->nres++] = (struct result){seq, p, g->parts[p].gen, err,
					    offset};
	return 0;
}

/* Take p's sent appends off its list as answered err (base offset base
 * when err is 0); an error takes the queued ones too. */
static void answer_partition(struct sl_glog *g, int32_t p, int16_t err,
			     int64_t base)
{
	struct gpart *gp = &g->parts[p];
	int64_t off = base;
	while (gp->head && (gp->head->sent || err)) {
		struct gapp *a = gp->head;
		if (add_result(g, a->seq, p, err, err ? -1 : off) < 0)
			sl_log("%.*s-%d: out of memory: the answer to an "
			       "append is lost", (int)g->topic_len, g->topic,
			       (int)p);
		off += a->nrec;
		gp->head = a->next;
		free(a);
	}
	if (!gp->head)
		gp->tail = NULL;
}

static void report(struct sl_glog *g)
{
	/* callbacks may append: the array is read by index */
	for (uint32_t i = 0; i < g->nres; i++) {
		struct result r = g->res[i];
		if (g->parts[r.p].gen != r.gen)
			continue;
		if (r.err)
			g->st.appends_failed++;
		else
			g->st.appends_done++;
		if (g->appended)
			g->appended(g->ctx, r.seq, r.p, r.err, r.offset);
	}
	g->nres = 0;
}

/* Reads of the request in flight end with err. */
static void end_reads(struct sl_glog *g, int16_t err)
{
	for (uint32_t i = 0; i < g->ninf; i++) {
		struct gpart *gp = &g->parts[g->inf[i].p];
		if (gp->rgen != g->inf[i].gen || !gp->read_sent)
			continue;
		gp->reading = gp->read_sent = false;
		if (g->read_done)
			g->read_done(g->ctx, g->inf[i].p, err);
	}
}

static void drop(struct sl_glog *g, int64_t now_ms, bool failed)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	g->state = G_DOWN;
	g->woff = g->wlen = g->rlen = 0;
	enum greq req = g->req;
	g->req = R_NONE;
	if (failed) {
		g->st.failures++;
		g->retry_at_ms = now_ms + g->backoff_ms;
		g->backoff_ms = g->backoff_ms * 2 > SL_GLOG_BACKOFF_MAX_MS ?
				SL_GLOG_BACKOFF_MAX_MS : g->backoff_ms * 2;
	}
	if (req == R_PRODUCE) {
		for (uint32_t i = 0; i < g->ninf; i++)
			if (g->parts[g->inf[i].p].gen == g->inf[i].gen)
				answer_partition(g, g->inf[i].p,
						 SL_GLOG_ERR_NETWORK, -1);
		g->ninf = 0;
		report(g);
	} else if (req == R_FETCH) {
		end_reads(g, SL_GLOG_ERR_NETWORK);
		g->ninf = 0;
	}
}

static const struct inflight *find_inflight(const struct sl_glog *g,
					    int32_t p)
{
	for (uint32_t i = 0; i < g->ninf; i++)
		if (g->inf[i].p == p)
			return &g->inf[i];
	return NULL;
}

static int apply_produce(struct sl_glog *g, const uint8_t *p, size_t len)
{
	struct kc_produce_resp r;
	g->arena.used = 0;
	long n = kc_decode(kc_api_spec(KC_API_PRODUCE)->response,
			   PRODUCE_VERSION, false, p, len, &r, &g->arena);
	if (n < 0 || (size_t)n != len)
		return -EBADMSG;
	const struct kc_produce_resp_topic *t = r.responses.items;
	for (int32_t i = 0; i < r.responses.count; i++) {
		if (!kc_str_is(t[i].name, g->topic, g->topic_len))
			continue;
		const struct kc_produce_resp_partition *pr =
			t[i].partition_responses.items;
		for (int32_t k = 0; k < t[i].partition_responses.count; k++) {
			int32_t q = pr[k].index;
			const struct inflight *f = find_inflight(g, q);
			if (!f || g->parts[q].gen != f->gen)
				continue;
			int16_t err = pr[k].error_code;
			if (!err && pr[k].base_offset < 0)
				err = ERR_UNKNOWN_SERVER;
			answer_partition(g, q, err, pr[k].base_offset);
		}
	}
	/* partitions the answer left out: failed */
	for (uint32_t i = 0; i < g->ninf; i++) {
		struct gpart *gp = &g->parts[g->inf[i].p];
		if (gp->gen == g->inf[i].gen && gp->head && gp->head->sent)
			answer_partition(g, g->inf[i].p, ERR_UNKNOWN_SERVER,
					 -1);
	}
	g->ninf = 0;
	report(g);
	return 0;
}

/* Hand the records of one stored batch (whole, checked) to the record
 * callback.  Returns 0 or a Kafka error code. */
static int16_t read_batch(struct sl_glog *g, int32_t p, uint32_t gen,
			  const uint8_t *b, size_t len)
{
	struct gpart *gp = &g->parts[p];
	struct rb_header h;
	rb_header_decode(b, &h);
	if (h.attributes & RB_ATTR_CONTROL) {
		/* a transaction's marker: one record whose key is int16
		 * version 0, int16 type (0 ABORT, 1 COMMIT) */
		struct rb_iter mi;
		struct rb_record rec;
		if ((h.attributes & RB_ATTR_COMPRESSION_MASK) ||
		    rb_iter_init(&mi, b, len) < 0)
			return ERR_CORRUPT_MESSAGE;
		if (rb_iter_next(&mi, &rec) != 1)
			return 0;
		if (rec.offset < gp->next || rec.offset >= gp->end ||
		    !rec.key || rec.klen < 4 || h.producer_id < 0)
			return 0;
		int16_t type = (int16_t)rb_be16(rec.key + 2);
		if (g->marker && (type == 0 || type == 1))
			g->marker(g->ctx, p, rec.offset, h.producer_id,
				  h.producer_epoch, type == 1);
		return 0;
	}
	struct rb_iter it;
	uint8_t *plain;
	if (sl_batch_records(&it, b, len, SL_GLOG_RESPONSE_MAX, &plain))
		return ERR_CORRUPT_MESSAGE;
	int16_t err = 0;
	struct rb_record rec;
	int rc;
	while ((rc = rb_iter_next(&it, &rec)) == 1) {
		if (rec.offset < gp->next)
			continue;
		if (rec.offset >= gp->end)
			break;
		struct sl_glog_rec r = {rec.key, rec.key ? rec.klen : -1,
					rec.value, rec.value ? rec.vlen : -1,
					NULL, 0};
		g->st.records_read++;
		if (g->record)
			g->record(g->ctx, p, rec.offset, &r);
		if (gp->rgen != gen)
			break; /* forgotten or replaced meanwhile */
	}
	if (rc < 0)
		err = ERR_CORRUPT_MESSAGE;
	free(plain);
	return err;
}

/* One partition's answer to the Fetch: 0 when the read goes on, else
 * the read ended (done: err 0) and *err says how. */
static bool read_partition(struct sl_glog *g, int32_t p, uint32_t gen,
			   const struct kc_fetch_resp_partition *pr,
			   int16_t *err)
{
	struct gpart *gp = &g->parts[p];
	*err = pr->error_code;
	if (!*err || *err == ERR_OFFSET_OUT_OF_RANGE)
		gp->hw = pr->high_watermark;
	if (*err == ERR_OFFSET_OUT_OF_RANGE && pr->log_start_offset > gp->next) {
		/* the start of the log moved on (retention): read from it */
		gp->next = pr->log_start_offset;
		*err = 0;
		return gp->once || gp->next >= gp->end;
	}
	if (*err == ERR_OFFSET_OUT_OF_RANGE && gp->once &&
	    pr->high_watermark >= 0 && gp->next > pr->high_watermark) {
		/* asked past the end (the log was truncated below it) */
		gp->next = pr->high_watermark;
		*err = 0;
		return true;
	}
	if (*err)
		return true;
	const uint8_t *q = pr->records.ptr;
	size_t left = pr->records.len > 0 ? (size_t)pr->records.len : 0;
	int64_t before = gp->next;
	while (left >= RB_LOG_OVERHEAD && gp->next < gp->end) {
		long sz = rb_frame_size(q, left, SL_GLOG_RESPONSE_MAX);
		if (sz <= 0 || (size_t)sz > left)
			break; /* a batch cut at the size limit: fetched next */
		if (rb_check_stored(q, (size_t)sz)) {
			*err = ERR_CORRUPT_MESSAGE;
			return true;
		}
		int64_t last = rb_last_offset(q);
		if (last >= gp->next) {
			if (g->batch) {
				g->batch(g->ctx, p, q, (size_t)sz);
				if (gp->rgen != gen)
					return false;
			}
			*err = read_batch(g, p, gen, q, (size_t)sz);
			if (gp->rgen != gen)
				return false; /* forgotten: nothing to say */
			if (*err)
				return true;
			gp->next = last + 1;
		}
		q += sz;
		left -= (size_t)sz;
	}
	if (gp->next >= gp->end || gp->once)
		return true;
	if (gp->next == before && ++gp->empty_reads > SL_GLOG_EMPTY_READS_MAX) {
		/* the log does not reach end (the end was not below its high
		 * watermark, or the leader changed): the caller starts over */
		*err = ERR_UNKNOWN_SERVER;
		return true;
	}
	if (gp->next != before)
		gp->empty_reads = 0;
	return false;
}

static int apply_fetch(struct sl_glog *g, const uint8_t *p, size_t len)
{
	struct kc_fetch_resp r;
	g->arena.used = 0;
	long n = kc_decode(kc_api_spec(KC_API_FETCH)->response, FETCH_VERSION,
			   false, p, len, &r, &g->arena);
	if (n < 0 || (size_t)n != len)
		return -EBADMSG;
	if (r.error_code) {
		end_reads(g, r.error_code);
		g->ninf = 0;
		return 0;
	}
	const struct kc_fetch_resp_topic *t = r.responses.items;
	for (int32_t i = 0; i < r.responses.count; i++) {
		if (!kc_str_is(t[i].topic, g->topic, g->topic_len))
			continue;
		const struct kc_fetch_resp_partition *pr =
			t[i].partitions.items;
		for (int32_t k = 0; k < t[i].partitions.count; k++) {
			int32_t q = pr[k].partition_index;
			const struct inflight *f = find_inflight(g, q);
			if (!f)
				continue;
			uint32_t gen = f->gen;
			struct gpart *gp = &g->parts[q];
			if (gp->rgen != gen || !gp->read_sent)
				continue;
			gp->read_sent = false;
			int16_t err;
			if (!read_partition(g, q, gen, &pr[k], &err))
				continue;
			if (gp->rgen != gen)
				continue;
			gp->reading = false;
			if (g->read_done)
				g->read_done(g->ctx, q, err);
		}
	}
	/* partitions the answer left out are fetched again */
	for (uint32_t i = 0; i < g->ninf; i++) {
		struct gpart *gp = &g->parts[g->inf[i].p];
		if (gp->rgen == g->inf[i].gen)
			gp->read_sent = false;
	}
	g->ninf = 0;
	return 0;
}

/* ---- requests ---- */

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	size_t c = *cap ? *cap : 64 * 1024;
	while (c < need)
		c *= 2;
	uint8_t *n = realloc(*buf, c);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = c;
	return 0;
}

/* The request header v1 and body into wbuf, size-prefixed. */
static int frame(struct sl_glog *g, int16_t api, int16_t version,
		 const void *body, size_t body_bound)
{
	size_t need = 4 + 64 + body_bound;
	if (reserve(&g->wbuf, &g->wcap, need) < 0)
		return -ENOMEM;
	struct kc_request_header h = {api, version, ++g->corr,
				      {CLIENT_ID, sizeof(CLIENT_ID) - 1}};
	uint8_t *p = g->wbuf + 4;
	size_t cap = g->wcap - 4;
	long n = kc_encode(&kc_request_header_schema, 1, false, &h, p, cap);
	if (n < 0)
		return -EINVAL;
	long b = kc_encode(kc_api_spec(api)->request, version, false, body,
			   p + n, cap - (size_t)n);
	if (b < 0)
		return -EINVAL;
	rb_put32(g->wbuf, (uint32_t)(n + b));
	g->woff = 0;
	g->wlen = 4 + (size_t)(n + b);
	return 0;
}

/* A Produce of every partition's queued appends (merged per partition up
 * to SL_GLOG_BATCH_MAX): false when there is nothing to send. */
static bool build_produce(struct sl_glog *g)
{
	struct kc_arena *ar = &g->arena;
	ar->used = 0;
	struct kc_produce_req_partition *pd = (void *)ar->base;
	g->ninf = 0;
	size_t total = 0;
	/* first pass: the batches, into bbuf (offsets, then pointers) */
	size_t *at = (void *)(ar->base + SL_GLOG_PARTITIONS_MAX *
				       sizeof(*pd));
	for (int32_t p = 0; p < SL_GLOG_PARTITIONS_MAX; p++) {
		struct gpart *gp = &g->parts[p];
		if (!gp->head || gp->head->sent)
			continue;
		if (total >= 16 * SL_GLOG_BATCH_MAX)
			break; /* the rest in the next request */
		if (reserve(&g->bbuf, &g->bcap, total + SL_GLOG_BATCH_MAX) < 0)
			break;
		struct rb_builder b;
		rb_builder_init(&b, g->bbuf + total, SL_GLOG_BATCH_MAX,
				gp->head->wall_ms);
		size_t est = RB_HEADER_BYTES;
		for (struct gapp *a = gp->head; a; a = a->next) {
			size_t need = a->len + (size_t)a->nrec * RECORD_OVERHEAD;
			if (a != gp->head && est + need > SL_GLOG_BATCH_MAX)
				break;
			est += need;
			const uint8_t *q = a->blob;
			for (uint32_t i = 0; i < a->nrec; i++) {
				int32_t kl = (int32_t)rb_be32(q);
				q += 4;
				const uint8_t *k = kl >= 0 ? q : NULL;
				q += kl > 0 ? kl : 0;
				int32_t vl = (int32_t)rb_be32(q);
				q += 4;
				const uint8_t *v = vl >= 0 ? q : NULL;
				q += vl > 0 ? vl : 0;
				struct rb_header_kv hs[SL_GLOG_HEADERS_MAX];
				uint32_t nh = rb_be32(q);
				q += 4;
				for (uint32_t h = 0; h < nh; h++) {
					hs[h].klen = rb_be32(q);
					hs[h].key = (const char *)q + 4;
					q += 4 + hs[h].klen;
					hs[h].vlen = (int32_t)rb_be32(q);
					hs[h].value = hs[h].vlen >= 0 ? q + 4
								      : NULL;
					q += 4 + (hs[h].vlen > 0 ? hs[h].vlen
								 : 0);
				}
				(void)rb_builder_add_h(&b, k, kl, v, vl,
						       gp->head->wall_ms, hs,
						       nh);
			}
			a->sent = true;
		}
		long len = rb_builder_finish(&b);
		if (len < 0) {
			/* cannot happen within the estimate; fail them */
			sl_log("%.*s-%d: a batch could not be built (%ld)",
			       (int)g->topic_len, g->topic, (int)p, len);
			answer_partition(g, p, ERR_UNKNOWN_SERVER, -1);
			continue;
		}
		pd[g->ninf] = (struct kc_produce_req_partition){p, {NULL,
								   (int32_t)len}};
		at[g->ninf] = total;
		g->inf[g->ninf++] = (struct inflight){p, gp->gen};
		total += (size_t)len;
	}
	ar->used = SL_GLOG_PARTITIONS_MAX * (sizeof(*pd) + sizeof(*at));
	if (g->nres)
		report(g);
	if (g->ninf == 0)
		return false;
	for (uint32_t i = 0; i < g->ninf; i++)
		pd[i].records.ptr = g->bbuf + at[i];
	struct kc_produce_req_topic t = {
		.name = {g->topic, g->topic_len},
		.partition_data = {pd, (int32_t)g->ninf}};
	struct kc_produce_req body = {.transactional_id = {NULL, -1},
				      .acks = -1,
				      .timeout_ms = SL_GLOG_PRODUCE_TIMEOUT_MS,
				      .topic_data = {&t, 1}};
	if (frame(g, KC_API_PRODUCE, PRODUCE_VERSION, &body,
		  total + 16 * (size_t)g->ninf + 64 + g->topic_len) < 0) {
		for (uint32_t i = 0; i < g->ninf; i++)
			answer_partition(g, g->inf[i].p, ERR_UNKNOWN_SERVER,
					 -1);
		g->ninf = 0;
		report(g);
		return false;
	}
	return true;
}

/* A Fetch of every partition being read: false when there is none. */
static bool build_fetch(struct sl_glog *g)
{
	struct kc_arena *ar = &g->arena;
	ar->used = 0;
	struct kc_fetch_req_partition *fp = (void *)ar->base;
	g->ninf = 0;
	for (int32_t p = 0; p < SL_GLOG_PARTITIONS_MAX; p++) {
		struct gpart *gp = &g->parts[p];
		if (!gp->reading || gp->read_sent)
			continue;
		fp[g->ninf] = (struct kc_fetch_req_partition){
			.partition = p, .current_leader_epoch = -1,
			.fetch_offset = gp->next, .last_fetched_epoch = -1,
			.log_start_offset = -1,
			.partition_max_bytes = PARTITION_FETCH_MAX};
		g->inf[g->ninf++] = (struct inflight){p, gp->rgen};
		gp->read_sent = true;
	}
	if (g->ninf == 0)
		return false;
	ar->used = g->ninf * sizeof(*fp);
	struct kc_fetch_req_topic t = {.topic = {g->topic, g->topic_len},
				       .partitions = {fp, (int32_t)g->ninf}};
	struct kc_fetch_req body = {
		.cluster_id = {NULL, -1}, .replica_id = -1,
		.replica_state = {-1, -1}, .max_wait_ms = g->read_wait_ms,
		.min_bytes = g->read_wait_ms ? 1 : 0,
		.max_bytes = SL_GLOG_FETCH_MAX, .isolation_level = 0,
		.session_id = 0, .session_epoch = -1, .topics = {&t, 1},
		.forgotten_topics_data = {NULL, 0}, .rack_id = {"", 0}};
	if (frame(g, KC_API_FETCH, FETCH_VERSION, &body,
		  64 * (size_t)g->ninf + 128 + g->topic_len) < 0) {
		end_reads(g, ERR_UNKNOWN_SERVER);
		g->ninf = 0;
		return false;
	}
	return true;
}

/* ---- the connection ---- */

static void try_connect(struct sl_glog *g, int64_t now_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		drop(g, now_ms, true);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(g->port),
				.sin_addr.s_addr = g->addr};
	g->fd = fd;
	g->sent_ms = now_ms;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		g->state = G_UP;
		g->st.connects++;
	} else if (errno == EINPROGRESS) {
		g->state = G_CONNECTING;
	} else {
		drop(g, now_ms, true);
	}
}

static void check_connect(struct sl_glog *g, int64_t now_ms)
{
	struct pollfd p = {g->fd, POLLOUT, 0};
	if (poll(&p, 1, 0) <= 0)
		return;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		drop(g, now_ms, true);
		return;
	}
	g->state = G_UP;
	g->st.connects++;
}

int sl_glog_do_work(struct sl_glog *g, int64_t now_ms)
{
	int work = 0;
	if (g->state == G_DOWN) {
		if (now_ms < g->retry_at_ms ||
		    (!want_produce(g) && !want_fetch(g)))
			return 0;
		try_connect(g, now_ms);
		work++;
	}
	if (g->state == G_CONNECTING) {
		check_connect(g, now_ms);
		if (g->state == G_CONNECTING &&
		    now_ms - g->sent_ms > SL_GLOG_TIMEOUT_MS)
			drop(g, now_ms, true);
		if (g->state != G_UP)
			return work;
	}
	if (g->req == R_NONE) {
		/* idle: the peer may have closed (then poll says readable) */
		char c;
		ssize_t r = recv(g->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR)) {
			drop(g, now_ms, r != 0);
			return work;
		}
		bool wp = want_produce(g), wf = want_fetch(g);
		enum greq next = wp && (!wf || g->last != R_PRODUCE) ?
					 R_PRODUCE : wf ? R_FETCH : R_NONE;
		if (next == R_PRODUCE && build_produce(g)) {
			g->st.produces++;
		} else if (next != R_NONE && wf && build_fetch(g)) {
			next = R_FETCH;
			g->st.fetches++;
		} else {
			next = R_NONE;
		}
		if (next != R_NONE) {
			g->req = g->last = next;
			g->sent_ms = now_ms;
			work++;
		}
	}
	/* bounded: each pass writes or ends */
	while (g->woff < g->wlen) {
		ssize_t w = send(g->fd, g->wbuf + g->woff, g->wlen - g->woff,
				 MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w <= 0) {
			drop(g, now_ms, true);
			return work;
		}
		g->woff += (size_t)w;
		work++;
	}
	/* bounded: each pass reads or ends */
	while (g->req != R_NONE) {
		size_t want = g->rlen < 4 ? 4 : 4 + (size_t)rb_be32(g->rbuf);
		if (g->rlen >= 4 && (want > SL_GLOG_RESPONSE_MAX || want < 8)) {
			drop(g, now_ms, true);
			return work;
		}
		if (reserve(&g->rbuf, &g->rcap, want) < 0) {
			drop(g, now_ms, true);
			return work;
		}
		if (g->rlen == want && g->rlen >= 4) {
			enum greq req = g->req;
			g->req = R_NONE;
			g->rlen = 0;
			int rc = -EBADMSG;
			if ((int32_t)rb_be32(g->rbuf + 4) == g->corr)
				rc = req == R_PRODUCE ?
					     apply_produce(g, g->rbuf + 8,
							   want - 8) :
					     apply_fetch(g, g->rbuf + 8,
							 want - 8);
			if (rc < 0) {
				g->req = req; /* its partitions fail */
				drop(g, now_ms, true);
				return work;
			}
			g->backoff_ms = SL_GLOG_BACKOFF_MIN_MS;
			work++;
			break;
		}
		ssize_t r = recv(g->fd, g->rbuf + g->rlen, want - g->rlen, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			drop(g, now_ms, true);
			return work;
		}
		g->rlen += (size_t)r;
	}
	if (g->req != R_NONE && now_ms - g->sent_ms > SL_GLOG_TIMEOUT_MS)
		drop(g, now_ms, true);
	return work;
}
