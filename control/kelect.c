/*
 * Kafka's ElectLeaders (kelect.h has the contract).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/kelect.h"
#include "control/kreq.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"

#define ERR_ELECTION_NOT_NEEDED 84
#define MSG_BYTES 160 /* each partition's message, NUL included */
/* More partitions than a cluster can have, twice over: a request naming
 * more is refused (INVALID_REQUEST) before anything is allocated for it
 * (sluiced forwards no request over 64 KiB to control today, which keeps
 * below it; this bound does not rely on that) */
#define NAMED_MAX 65536

bool sl_kelect_serves(int16_t api_key)
{
	return api_key == KC_API_ELECT_LEADERS;
}

/* The results being built: one allocation for the partitions' results and
 * their messages (n of each at most). */
struct out {
	struct kc_elect_leaders_resp_partition_result *parts;
	char *msgs;
	uint32_t n, cap;
};

/* Elect one partition into o (room for it counted by the caller); its
 * error. */
static int16_t one(const struct sl_kelect_ops *ops, struct out *o,
		   struct kc_str topic, int32_t partition, int8_t type)
{
	assert(o->n < o->cap);
	char *msg = o->msgs + (size_t)o->n * MSG_BYTES;
	msg[0] = 0;
	int16_t err = ops->elect(ops->ctx, topic.ptr ? topic.ptr : "",
				 topic.len > 0 ? (size_t)topic.len : 0,
				 partition, type, msg, MSG_BYTES);
	msg[MSG_BYTES - 1] = 0;
	o->parts[o->n] = (struct kc_elect_leaders_resp_partition_result){
		.partition_id = partition,
		.error_code = err,
		.error_message = err ? (struct kc_str){msg, (int32_t)strlen(msg)} :
				       (struct kc_str){NULL, -1},
	};
	o->n++;
	return err;
}

static int out_init(struct out *o, uint64_t n)
{
	if (n > UINT32_MAX / MSG_BYTES)
		return -ENOMEM;
	o->n = 0;
	o->cap = (uint32_t)n;
	o->parts = calloc(n ? n : 1, sizeof(*o->parts));
	o->msgs = malloc(n ? n * MSG_BYTES : 1);
	return o->parts && o->msgs ? 0 : -ENOMEM;
}

/* The partitions a request names, topic by topic in its order. */
static int named(const struct kc_elect_leaders_req *q,
		 const struct sl_kelect_ops *ops, int8_t type, struct out *o,
		 struct kc_elect_leaders_resp_replica_election_result **res,
		 int32_t *nres)
{
	const struct kc_elect_leaders_req_topic_partitions *tp =
		q->topic_partitions.items;
	int32_t nt = q->topic_partitions.count;
	uint64_t total = 0;
	for (int32_t i = 0; i < nt; i++)
		total += tp[i].partition_id.count > 0 ?
				 (uint64_t)tp[i].partition_id.count : 0;
	if (total > NAMED_MAX)
		return -E2BIG;
	int rc = out_init(o, total);
	*res = calloc(nt > 0 ? (size_t)nt : 1, sizeof(**res));
	if (rc || !*res)
		return -ENOMEM;
	for (int32_t i = 0; i < nt; i++) {
		const int32_t *ps = tp[i].partition_id.items;
		int32_t np = tp[i].partition_id.count > 0 ?
				     tp[i].partition_id.count : 0;
		struct kc_elect_leaders_resp_partition_result *first =
			o->parts + o->n;
		for (int32_t k = 0; k < np; k++)
			one(ops, o, tp[i].topic, ps[k], type);
		(*res)[i] = (struct kc_elect_leaders_resp_replica_election_result){
			.topic = tp[i].topic,
			.partition_result = {first, np},
		};
	}
	*nres = nt;
	return 0;
}

/* Every partition of every topic; those whose election was needed. */
static int all(const struct sl_kelect_ops *ops, int8_t type, struct out *o,
	       struct kc_elect_leaders_resp_replica_election_result **res,
	       int32_t *nres)
{
	uint64_t total = 0;
	uint32_t nt = 0;
	const char *name;
	size_t len;
	int32_t parts;
	while (ops->topic(ops->ctx, nt, &name, &len, &parts)) {
		total += parts > 0 ? (uint64_t)parts : 0;
		nt++;
	}
	int rc = out_init(o, total);
	*res = calloc(nt ? nt : 1, sizeof(**res));
	if (rc || !*res)
		return -ENOMEM;
	int32_t k = 0;
	for (uint32_t i = 0; i < nt && ops->topic(ops->ctx, i, &name, &len,
						 &parts); i++) {
		struct kc_str t = {name, (int32_t)len};
		struct kc_elect_leaders_resp_partition_result *first =
			o->parts + o->n;
		uint32_t before = o->n;
		for (int32_t p = 0; p < parts && o->n < o->cap; p++)
			if (one(ops, o, t, p, type) == ERR_ELECTION_NOT_NEEDED)
				o->n--; /* left out */
		if (o->n == before)
			continue;
		(*res)[k++] = (struct kc_elect_leaders_resp_replica_election_result){
			.topic = t,
			.partition_result = {first, (int32_t)(o->n - before)},
		};
	}
	*nres = k;
	return 0;
}

long sl_kelect_handle(const uint8_t *req, size_t len,
		      const struct sl_kelect_ops *ops, uint8_t *resp,
		      size_t cap)
{
	assert(ops && ops->elect && ops->topic && (req || len == 0));
	if (len < 2 || !sl_kelect_serves((int16_t)((req[0] << 8) | req[1])))
		return -EINVAL;
	struct kc_arena in;
	struct kc_request_header h;
	union kc_request body;
	long rc = sl_kreq_decode(req, len, &h, &body, &in);
	if (rc < 0) {
		free(in.base);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	const struct kc_elect_leaders_req *q = (const void *)body.raw;
	int8_t type = h.api_version >= 1 ? q->election_type :
					   SL_KELECT_PREFERRED;
	union kc_response u;
	kc_response_init(&u, KC_API_ELECT_LEADERS);
	struct kc_elect_leaders_resp *r = (void *)u.raw;
	struct out o = {NULL, NULL, 0, 0};
	struct kc_elect_leaders_resp_replica_election_result *res = NULL;
	int32_t nres = 0;
	int brc = 0;
	if (type != SL_KELECT_PREFERRED && type != SL_KELECT_UNCLEAN)
		r->error_code = SN_ERR_INVALID_REQUEST;
	else if (q->topic_partitions.count < 0)
		brc = all(ops, type, &o, &res, &nres);
	else
		brc = named(q, ops, type, &o, &res, &nres);
	if (brc == -E2BIG) {
		r->error_code = SN_ERR_INVALID_REQUEST; /* v0: no results */
		brc = 0;
		nres = 0;
	}
	if (brc == 0) {
		r->replica_election_results = (struct kc_array){res, nres};
		struct kc_response_header rh = {h.correlation_id};
		rc = kc_encode_response(h.api_key, h.api_version, &rh, &u,
					resp, cap);
		if (rc == -ENOBUFS)
			rc = -EMSGSIZE;
	} else {
		rc = brc;
	}
	free(res);
	free(o.parts);
	free(o.msgs);
	free(in.base);
	return rc;
}
