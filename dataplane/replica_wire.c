/*
 * A follower's requests and its leader's answers: dataplane/replica_wire.h.
 *
 * The bytes are Kafka's (proto/kafka/messages/FetchRequest.json and
 * OffsetForLeaderEpochRequest.json, and their responses), written and read
 * by kcodec; only the choices are made here: which versions, which fields
 * a follower sets, and how a partition's records become the batches its
 * storage core appends.  The records rule, as a follower applies it:
 *
 *   records = batch* [cut]
 *   batch   = a RecordBatch whose 12-byte log overhead and batch length
 *             say it ends inside the records, that passes rb_check_stored,
 *             whose base offset is not negative and not below the end of
 *             the batch before it, and whose last offset is below
 *             INT64_MAX;
 *   cut     = the bytes left when the next batch would end past the
 *             records (fewer than 12 bytes, or a length past the end).
 * The first batch that breaks a rule ends the walk: it and the bytes after
 * it are dropped (a leader never sends one: a damaged transfer or a bug).
 */
#include <errno.h>
#include <string.h>

#include "dataplane/replica_wire.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

_Static_assert(sizeof(struct kc_fetch_req) <= sizeof(union kc_request),
	       "a Fetch request fits the codec's body storage");
_Static_assert(sizeof(struct kc_offset_for_leader_epoch_req) <=
		       sizeof(union kc_request),
	       "an OffsetForLeaderEpoch request fits the codec's body storage");
_Static_assert(sizeof(struct kc_fetch_resp) <= sizeof(union kc_response),
	       "a Fetch answer fits the codec's body storage");
_Static_assert(sizeof(struct kc_offset_for_leader_epoch_resp) <=
		       sizeof(union kc_response),
	       "an OffsetForLeaderEpoch answer fits the codec's body storage");

/* The topic runs of parts: -EINVAL when a name is empty or too long. */
static long count_topics(const struct rw_part_req *parts, size_t n)
{
	long runs = 0;
	for (size_t i = 0; i < n; i++) {
		if (!parts[i].topic || parts[i].topic_len == 0 ||
		    parts[i].topic_len > SN_NAME_MAX)
			return -EINVAL;
		if (i == 0 || parts[i].topic_len != parts[i - 1].topic_len ||
		    memcmp(parts[i].topic, parts[i - 1].topic,
			   parts[i].topic_len) != 0)
			runs++;
	}
	return runs;
}

static int same_topic(const struct rw_part_req *a, const struct rw_part_req *b)
{
	return a->topic_len == b->topic_len &&
	       memcmp(a->topic, b->topic, a->topic_len) == 0;
}

/* Header h and body u as a frame: the size prefix, then kcodec's bytes. */
static long frame(uint8_t *buf, size_t cap, const struct kc_request_header *h,
		  const union kc_request *u)
{
	if (cap < RW_SIZE_BYTES)
		return -ENOBUFS;
	long n = kc_encode_request(h, u, buf + RW_SIZE_BYTES,
				   cap - RW_SIZE_BYTES);
	if (n < 0)
		return n;
	if ((unsigned long)n > RW_FRAME_MAX)
		return -ENOBUFS;
	rb_put32(buf, (uint32_t)n);
	return n + RW_SIZE_BYTES;
}

static struct kc_str str_of(const char *s)
{
	return (struct kc_str){ s, s ? (int32_t)strlen(s) : -1 };
}

long rw_encode_fetch(uint8_t *buf, size_t cap, int32_t corr,
		     const char *client_id, const struct rw_fetch_params *fp,
		     const struct rw_part_req *parts, size_t n,
		     struct kc_arena *scratch)
{
	if (n == 0 || n > INT32_MAX)
		return -EINVAL;
	long ntopics = count_topics(parts, n);
	if (ntopics < 0)
		return ntopics;
	struct kc_fetch_req_topic *ts =
		kc_arena_take(scratch, (size_t)ntopics, sizeof(*ts));
	struct kc_fetch_req_partition *ps =
		kc_arena_take(scratch, n, sizeof(*ps));
	if (!ts || !ps)
		return -ENOBUFS;
	union kc_request u;
	struct kc_fetch_req *q = (struct kc_fetch_req *)u.raw;
	kc_defaults(kc_api_spec(KC_API_FETCH)->request, q);
	q->replica_id = fp->replica_id;
	q->max_wait_ms = fp->max_wait_ms;
	q->min_bytes = fp->min_bytes;
	q->max_bytes = fp->max_bytes;
	q->isolation_level = 0;
	/* no fetch session: every request names all its partitions */
	q->session_id = 0;
	q->session_epoch = -1;
	long t = -1;
	for (size_t i = 0; i < n; i++) {
		const struct rw_part_req *r = &parts[i];
		if (i == 0 || !same_topic(r, &parts[i - 1])) {
			t++;
			memset(&ts[t], 0, sizeof(ts[t]));
			ts[t].topic = (struct kc_str){ r->topic, r->topic_len };
			ts[t].partitions = (struct kc_array){ &ps[i], 0 };
		}
		ts[t].partitions.count++;
		ps[i] = (struct kc_fetch_req_partition){
			.partition = r->partition,
			.current_leader_epoch = r->current_leader_epoch,
			.fetch_offset = r->fetch_offset,
			.last_fetched_epoch = -1,
			.log_start_offset = -1,
			.partition_max_bytes = fp->partition_max_bytes,
			.high_watermark = INT64_MAX, /* v18+: not sent */
		};
	}
	q->topics = (struct kc_array){ ts, (int32_t)ntopics };
	struct kc_request_header h = { KC_API_FETCH, RW_FETCH_VERSION, corr,
				       str_of(client_id) };
	return frame(buf, cap, &h, &u);
}

long rw_encode_epoch_query(uint8_t *buf, size_t cap, int32_t corr,
			   const char *client_id, int32_t replica_id,
			   const struct rw_part_req *parts, size_t n,
			   struct kc_arena *scratch)
{
	if (n == 0 || n > INT32_MAX)
		return -EINVAL;
	long ntopics = count_topics(parts, n);
	if (ntopics < 0)
		return ntopics;
	struct kc_offset_for_leader_epoch_req_offset_for_leader_topic *ts =
		kc_arena_take(scratch, (size_t)ntopics, sizeof(*ts));
	struct kc_offset_for_leader_epoch_req_offset_for_leader_partition *ps =
		kc_arena_take(scratch, n, sizeof(*ps));
	if (!ts || !ps)
		return -ENOBUFS;
	union kc_request u;
	struct kc_offset_for_leader_epoch_req *q =
		(struct kc_offset_for_leader_epoch_req *)u.raw;
	kc_defaults(kc_api_spec(KC_API_OFFSET_FOR_LEADER_EPOCH)->request, q);
	q->replica_id = replica_id;
	long t = -1;
	for (size_t i = 0; i < n; i++) {
		const struct rw_part_req *r = &parts[i];
		if (i == 0 || !same_topic(r, &parts[i - 1])) {
			t++;
			memset(&ts[t], 0, sizeof(ts[t]));
			ts[t].topic = (struct kc_str){ r->topic, r->topic_len };
			ts[t].partitions = (struct kc_array){ &ps[i], 0 };
		}
		ts[t].partitions.count++;
		ps[i] = (struct kc_offset_for_leader_epoch_req_offset_for_leader_partition){
			.partition = r->partition,
			.current_leader_epoch = r->current_leader_epoch,
			.leader_epoch = r->leader_epoch,
		};
	}
	q->topics = (struct kc_array){ ts, (int32_t)ntopics };
	struct kc_request_header h = { KC_API_OFFSET_FOR_LEADER_EPOCH,
				       RW_EPOCH_VERSION, corr,
				       str_of(client_id) };
	return frame(buf, cap, &h, &u);
}

long rw_frame_size(const uint8_t *p, size_t avail)
{
	if (avail < RW_SIZE_BYTES)
		return 0;
	int32_t size = (int32_t)rb_be32(p);
	if (size < 0 || (uint32_t)size > RW_FRAME_MAX)
		return -EMSGSIZE;
	return (long)size + RW_SIZE_BYTES;
}

/* kcodec's answer as this file's: the arena's shortage apart, anything
 * that does not decode is malformed. */
static int decoded(long rc, const struct kc_response_header *h, int32_t corr)
{
	if (rc == -ENOBUFS)
		return -ENOBUFS;
	if (rc < 0 || h->correlation_id != corr)
		return -EPROTO;
	return 0;
}

static uint16_t name_len(struct kc_str s)
{
	return s.ptr && s.len > 0 && s.len <= SN_NAME_MAX ? (uint16_t)s.len : 0;
}

int rw_decode_fetch(const uint8_t *frame_bytes, size_t len, int32_t corr,
		    struct kc_arena *a, struct rw_fetch_resp *r)
{
	union kc_response u;
	struct kc_response_header h = { 0 };
	long rc = kc_decode_response(KC_API_FETCH, RW_FETCH_VERSION,
				     frame_bytes, len, &h, &u, a);
	int err = decoded(rc, &h, corr);
	if (err)
		return err;
	memcpy(&r->body, u.raw, sizeof(r->body));
	r->topic = 0;
	r->part = 0;
	return 0;
}

void rw_split_records(const uint8_t *records, size_t len,
		      struct rw_part_outcome *o)
{
	o->records = records;
	o->records_len = 0;
	o->batches = 0;
	o->next_offset = -1;
	o->fetched_bytes = (uint32_t)len;
	o->partial_bytes = 0;
	o->dropped_bytes = 0;
	o->bad_rc = 0;
	size_t pos = 0;
	/* bounded: each step moves past a batch of at least RB_HEADER_BYTES
	 * or ends the walk */
	while (pos < len) {
		size_t left = len - pos;
		const uint8_t *b = records + pos;
		if (left < RB_LOG_OVERHEAD) {
			o->partial_bytes = (uint32_t)left;
			break;
		}
		uint64_t size = (uint64_t)rb_be32(b + RB_OFF_LENGTH) +
				RB_LOG_OVERHEAD;
		if ((int32_t)rb_be32(b + RB_OFF_LENGTH) >= 0 && size > left) {
			o->partial_bytes = (uint32_t)left;
			break;
		}
		int rc = (int32_t)rb_be32(b + RB_OFF_LENGTH) < 0 ?
				 SL_ELENGTH :
				 rb_check_stored(b, (size_t)size);
		int64_t base = (int64_t)rb_be64(b + RB_OFF_BASE_OFFSET);
		if (!rc && (base < 0 || (o->next_offset >= 0 &&
					 base < o->next_offset)))
			rc = SL_EOFFSETS;
		/* last offset delta >= 0 (rb_check_stored): no wrap below */
		if (!rc && rb_last_offset(b) < base)
			rc = SL_EOFFSETS;
		if (!rc && rb_last_offset(b) == INT64_MAX)
			rc = SL_EOFFSETS;
		if (rc) {
			o->bad_rc = rc;
			o->dropped_bytes = (uint32_t)left;
			break;
		}
		o->next_offset = rb_last_offset(b) + 1;
		o->batches++;
		pos += (size_t)size;
		o->records_len = (uint32_t)pos;
	}
}

int rw_fetch_next(struct rw_fetch_resp *r, struct rw_part_outcome *o)
{
	const struct kc_fetch_resp_topic *ts = r->body.responses.items;
	/* bounded: every step moves part or topic forward */
	while (r->topic < r->body.responses.count) {
		const struct kc_fetch_resp_topic *t = &ts[r->topic];
		if (r->part >= t->partitions.count) {
			r->topic++;
			r->part = 0;
			continue;
		}
		const struct kc_fetch_resp_partition *p =
			(const struct kc_fetch_resp_partition *)t->partitions.items +
			r->part++;
		o->topic = t->topic.ptr;
		o->topic_len = name_len(t->topic);
		o->partition = p->partition_index;
		o->error = p->error_code;
		o->high_watermark = p->high_watermark;
		o->log_start_offset = p->log_start_offset;
		o->diverging_epoch = p->diverging_epoch.epoch;
		o->diverging_end_offset = p->diverging_epoch.end_offset;
		if (p->records.ptr && p->records.len > 0)
			rw_split_records(p->records.ptr, (size_t)p->records.len,
					 o);
		else
			rw_split_records(NULL, 0, o);
		return 1;
	}
	return 0;
}

int rw_decode_epoch(const uint8_t *frame_bytes, size_t len, int32_t corr,
		    struct kc_arena *a, struct rw_epoch_resp *r)
{
	union kc_response u;
	struct kc_response_header h = { 0 };
	long rc = kc_decode_response(KC_API_OFFSET_FOR_LEADER_EPOCH,
				     RW_EPOCH_VERSION, frame_bytes, len, &h,
				     &u, a);
	int err = decoded(rc, &h, corr);
	if (err)
		return err;
	memcpy(&r->body, u.raw, sizeof(r->body));
	r->topic = 0;
	r->part = 0;
	return 0;
}

int rw_epoch_next(struct rw_epoch_resp *r, struct rw_epoch_outcome *o)
{
	const struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result
		*ts = r->body.topics.items;
	/* bounded: every step moves part or topic forward */
	while (r->topic < r->body.topics.count) {
		const struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result
			*t = &ts[r->topic];
		if (r->part >= t->partitions.count) {
			r->topic++;
			r->part = 0;
			continue;
		}
		const struct kc_offset_for_leader_epoch_resp_epoch_end_offset *p =
			(const struct kc_offset_for_leader_epoch_resp_epoch_end_offset *)
				t->partitions.items +
			r->part++;
		o->topic = t->topic.ptr;
		o->topic_len = name_len(t->topic);
		o->partition = p->partition;
		o->error = p->error_code;
		o->leader_epoch = p->leader_epoch;
		o->end_offset = p->end_offset;
		return 1;
	}
	return 0;
}
