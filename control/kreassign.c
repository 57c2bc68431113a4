/*
 * Kafka's AlterPartitionReassignments and ListPartitionReassignments
 * (kreassign.h has the contract).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/cluster_image.h"
#include "control/kreassign.h"
#include "control/kreq.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"

#define MSG_BYTES 200   /* each partition's message, NUL included */
#define NAMED_MAX 65536 /* as kelect.c: more is refused before allocating */

bool sl_kreassign_alters(int16_t api_key)
{
	return api_key == KC_API_ALTER_PARTITION_REASSIGNMENTS;
}

bool sl_kreassign_serves(int16_t api_key)
{
	return api_key == KC_API_ALTER_PARTITION_REASSIGNMENTS ||
	       api_key == KC_API_LIST_PARTITION_REASSIGNMENTS;
}

_Static_assert(SL_KREASSIGN_REPLICAS_MAX == SL_CI_RF_MAX,
	       "a partition's replicas fit the answer");

bool sl_kreassign_image_topic(const struct sl_ci_image *img, uint32_t i,
			      const char **name, size_t *len,
			      int32_t *partitions)
{
	if (i >= img->meta.count)
		return false;
	*name = img->meta.topics[i].name;
	*len = img->meta.topics[i].name_len;
	*partitions = img->topics[i].partitions;
	return true;
}

int sl_kreassign_image_ongoing(const struct sl_ci_image *img,
			       const char *topic, size_t len,
			       int32_t partition,
			       struct sl_kreassign_state *out)
{
	const struct sl_ci_topic *t = sl_ci_topic_find(img, topic, len);
	if (!t || partition < 0 || partition >= t->partitions)
		return 0;
	const struct sl_ci_partition *p =
		&img->parts[t->part_first + (uint32_t)partition];
	if (!p->adding && !p->removing)
		return 0;
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < p->replica_count; i++) {
		out->replicas[out->nreplicas++] = p->replicas[i];
		if (p->adding & (1u << i))
			out->adding[out->nadding++] = p->replicas[i];
		if (p->removing & (1u << i))
			out->removing[out->nremoving++] = p->replicas[i];
	}
	return 1;
}

/* ---- AlterPartitionReassignments ---- */

/* One named partition, for finding the ones named twice. */
struct named {
	struct kc_str topic;
	int32_t partition;
	uint32_t seq; /* its place in the request */
};

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int32_t xl = x->topic.len > 0 ? x->topic.len : 0;
	int32_t yl = y->topic.len > 0 ? y->topic.len : 0;
	int32_t m = xl < yl ? xl : yl;
	int c = m ? memcmp(x->topic.ptr, y->topic.ptr, (size_t)m) : 0;
	if (c)
		return c;
	if (xl != yl)
		return xl < yl ? -1 : 1;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* dup[seq] = 1 for every entry naming a partition an earlier one named. */
static int find_twice(const struct kc_alter_partition_reassignments_req *q,
		      uint32_t total, uint8_t *dup)
{
	struct named *v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	const struct kc_alter_partition_reassignments_req_reassignable_topic
		*tp = q->topics.items;
	uint32_t k = 0;
	for (int32_t i = 0; i < q->topics.count; i++) {
		const struct
		kc_alter_partition_reassignments_req_reassignable_partition *ps =
			tp[i].partitions.items;
		for (int32_t j = 0; j < tp[i].partitions.count; j++, k++)
			v[k] = (struct named){tp[i].name, ps[j].partition_index,
					      k};
	}
	assert(k == total);
	qsort(v, total, sizeof(*v), named_cmp);
	for (uint32_t i = 1; i < total; i++) {
		struct named a = v[i - 1], b = v[i];
		a.seq = b.seq = 0;
		if (!named_cmp(&a, &b))
			dup[v[i].seq] = 1;
	}
	free(v);
	return 0;
}

static long alter(const struct kc_request_header *h,
		  const struct kc_alter_partition_reassignments_req *q,
		  const struct sl_kreassign_ops *ops, uint8_t *resp,
		  size_t cap)
{
	union kc_response u;
	kc_response_init(&u, KC_API_ALTER_PARTITION_REASSIGNMENTS);
	struct kc_alter_partition_reassignments_resp *r = (void *)u.raw;
	bool allow = h->api_version >= 1 ? q->allow_replication_factor_change :
					   true;
	r->allow_replication_factor_change = allow;
	r->error_message = (struct kc_str){NULL, -1};
	const struct kc_alter_partition_reassignments_req_reassignable_topic
		*tp = q->topics.items;
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	uint64_t total = 0;
	for (int32_t i = 0; i < nt; i++)
		total += tp[i].partitions.count > 0 ?
				 (uint64_t)tp[i].partitions.count : 0;
	struct kc_alter_partition_reassignments_resp_reassignable_topic_response
		*tr = NULL;
	struct kc_alter_partition_reassignments_resp_reassignable_partition_response
		*pr = NULL;
	char *msgs = NULL;
	uint8_t *dup = NULL;
	long rc = 0;
	if (total > NAMED_MAX) {
		r->error_code = SN_ERR_INVALID_REQUEST;
		r->error_message = (struct kc_str){
			"more partitions named than a cluster can have",
			(int32_t)strlen("more partitions named than a cluster "
					"can have")};
		nt = 0;
		total = 0;
	}
	tr = calloc(nt ? (size_t)nt : 1, sizeof(*tr));
	pr = calloc(total ? total : 1, sizeof(*pr));
	msgs = calloc(total ? total : 1, MSG_BYTES);
	dup = calloc(total ? total : 1, 1);
	if (!tr || !pr || !msgs || !dup ||
	    (nt && find_twice(q, (uint32_t)total, dup))) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t k = 0;
	for (int32_t i = 0; i < nt; i++) {
		const struct
		kc_alter_partition_reassignments_req_reassignable_partition *ps =
			tp[i].partitions.items;
		int32_t np = tp[i].partitions.count > 0 ?
				     tp[i].partitions.count : 0;
		tr[i] = (struct
		kc_alter_partition_reassignments_resp_reassignable_topic_response){
			.name = tp[i].name,
			.partitions = {pr + k, np},
		};
		for (int32_t j = 0; j < np; j++, k++) {
			char *msg = msgs + (size_t)k * MSG_BYTES;
			int16_t err;
			if (dup[k]) {
				strcpy(msg, "the partition is named twice in "
					    "the request");
				err = SN_ERR_INVALID_REQUEST;
			} else {
				const struct kc_array *rep = &ps[j].replicas;
				/* an empty list is not a cancel */
				static const int32_t none[1];
				const int32_t *ids = rep->count < 0 ? NULL :
						     rep->count == 0 ? none :
						     rep->items;
				err = ops->reassign(
					ops->ctx,
					tp[i].name.ptr ? tp[i].name.ptr : "",
					tp[i].name.len > 0 ?
						(size_t)tp[i].name.len : 0,
					ps[j].partition_index,
					ids, rep->count < 0 ? -1 : rep->count,
					allow, msg, MSG_BYTES);
				msg[MSG_BYTES - 1] = 0;
			}
			pr[k] = (struct
			kc_alter_partition_reassignments_resp_reassignable_partition_response){
				.partition_index = ps[j].partition_index,
				.error_code = err,
				.error_message = err ?
					(struct kc_str){msg,
							(int32_t)strlen(msg)} :
					(struct kc_str){NULL, -1},
			};
		}
	}
	r->responses = (struct kc_array){tr, nt};
	struct kc_response_header rh = {h->correlation_id};
	rc = kc_encode_response(h->api_key, h->api_version, &rh, &u, resp,
				cap);
	if (rc == -ENOBUFS)
		rc = -EMSGSIZE;
out:
	free(tr);
	free(pr);
	free(msgs);
	free(dup);
	return rc;
}

/* ---- ListPartitionReassignments ---- */

/* The partitions being reassigned, and the topics they close, as they
 * are found (the answer's arrays are made once all are found). */
struct found {
	struct hit {
		int32_t partition;
		struct sl_kreassign_state st;
	} *hits;
	struct topic_hits {
		struct kc_str name;
		uint32_t first, count; /* in hits */
	} *topics;
	uint32_t ntopics, nhits, cap_topics, cap_hits;
};

static int grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint32_t n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, (size_t)n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Partition p of topic, when it is being reassigned, into f. */
static int look(const struct sl_kreassign_ops *ops, struct found *f,
		struct kc_str topic, int32_t p)
{
	struct hit h = {p, {{0}, {0}, {0}, 0, 0, 0}};
	if (ops->ongoing(ops->ctx, topic.ptr ? topic.ptr : "",
			 topic.len > 0 ? (size_t)topic.len : 0, p, &h.st) != 1)
		return 0;
	if (grow((void **)&f->hits, &f->cap_hits, f->nhits + 1,
		 sizeof(*f->hits)))
		return -ENOMEM;
	f->hits[f->nhits++] = h;
	return 0;
}

/* Close the topic whose hits start at first (left out if none). */
static int close_topic(struct found *f, struct kc_str topic, uint32_t first)
{
	if (f->nhits == first)
		return 0;
	if (grow((void **)&f->topics, &f->cap_topics, f->ntopics + 1,
		 sizeof(*f->topics)))
		return -ENOMEM;
	f->topics[f->ntopics++] =
		(struct topic_hits){topic, first, f->nhits - first};
	return 0;
}

/* The answer from f into resp: as sl_kreassign_handle. */
static long list_answer(const struct kc_request_header *h,
			const struct found *f, uint8_t *resp, size_t cap)
{
	struct kc_list_partition_reassignments_resp_ongoing_topic_reassignment
		*ts = calloc(f->ntopics ? f->ntopics : 1, sizeof(*ts));
	struct kc_list_partition_reassignments_resp_ongoing_partition_reassignment
		*ps = calloc(f->nhits ? f->nhits : 1, sizeof(*ps));
	long n = -ENOMEM;
	if (ts && ps) {
		for (uint32_t i = 0; i < f->nhits; i++) {
			const struct sl_kreassign_state *s = &f->hits[i].st;
			ps[i].partition_index = f->hits[i].partition;
			ps[i].replicas = (struct kc_array){
				(void *)s->replicas, s->nreplicas};
			ps[i].adding_replicas = (struct kc_array){
				(void *)s->adding, s->nadding};
			ps[i].removing_replicas = (struct kc_array){
				(void *)s->removing, s->nremoving};
		}
		for (uint32_t i = 0; i < f->ntopics; i++) {
			ts[i].name = f->topics[i].name;
			ts[i].partitions = (struct kc_array){
				ps + f->topics[i].first,
				(int32_t)f->topics[i].count};
		}
		union kc_response u;
		kc_response_init(&u, KC_API_LIST_PARTITION_REASSIGNMENTS);
		struct kc_list_partition_reassignments_resp *r = (void *)u.raw;
		r->error_message = (struct kc_str){NULL, -1};
		r->topics = (struct kc_array){ts, (int32_t)f->ntopics};
		struct kc_response_header rh = {h->correlation_id};
		n = kc_encode_response(h->api_key, h->api_version, &rh, &u,
				       resp, cap);
		if (n == -ENOBUFS)
			n = -EMSGSIZE;
	}
	free(ts);
	free(ps);
	return n;
}

static long list(const struct kc_request_header *h,
		 const struct kc_list_partition_reassignments_req *q,
		 const struct sl_kreassign_ops *ops, uint8_t *resp,
		 size_t cap)
{
	struct found f;
	memset(&f, 0, sizeof(f));
	int rc = 0;
	if (q->topics.count < 0) {
		const char *name;
		size_t len;
		int32_t parts;
		for (uint32_t i = 0; !rc && ops->topic(ops->ctx, i, &name, &len,
						       &parts); i++) {
			struct kc_str t = {name, (int32_t)len};
			uint32_t first = f.nhits;
			for (int32_t p = 0; !rc && p < parts; p++)
				rc = look(ops, &f, t, p);
			if (!rc)
				rc = close_topic(&f, t, first);
		}
	} else {
		const struct kc_list_partition_reassignments_req_topics *tp =
			q->topics.items;
		for (int32_t i = 0; !rc && i < q->topics.count; i++) {
			const int32_t *ps = tp[i].partition_indexes.items;
			uint32_t first = f.nhits;
			for (int32_t j = 0;
			     !rc && j < tp[i].partition_indexes.count; j++)
				rc = look(ops, &f, tp[i].name, ps[j]);
			if (!rc)
				rc = close_topic(&f, tp[i].name, first);
		}
	}
	long n = rc ? rc : list_answer(h, &f, resp, cap);
	free(f.topics);
	free(f.hits);
	return n;
}

long sl_kreassign_handle(const uint8_t *req, size_t len,
			 const struct sl_kreassign_ops *ops, uint8_t *resp,
			 size_t cap)
{
	assert(ops && ops->topic && ops->ongoing && (req || len == 0));
	if (len < 2 || !sl_kreassign_serves((int16_t)((req[0] << 8) | req[1])))
		return -EINVAL;
	struct kc_arena in;
	struct kc_request_header h;
	union kc_request body;
	long rc = sl_kreq_decode(req, len, &h, &body, &in);
	if (rc < 0)
		rc = rc == -ENOMEM ? rc : -EINVAL;
	else if (h.api_key == KC_API_ALTER_PARTITION_REASSIGNMENTS)
		rc = ops->reassign ? alter(&h, (const void *)body.raw, ops,
					   resp, cap) :
				     -EINVAL;
	else
		rc = list(&h, (const void *)body.raw, ops, resp, cap);
	free(in.base);
	return rc;
}
