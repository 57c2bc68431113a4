/*
 * DescribeQuorum answers (contract and the Raft-to-Kafka mapping in
 * kquorum.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/kquorum.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"

#define TOPIC_LEN ((int32_t)(sizeof(SL_KQUORUM_TOPIC) - 1))

bool sl_kquorum_serves(int16_t api_key)
{
	return api_key == KC_API_DESCRIBE_QUORUM;
}

/* "host:port" into n; false when address is not that. */
static bool parse_endpoint(const char *address, struct sl_kquorum_node *n)
{
	const char *colon = strrchr(address, ':');
	if (!colon || colon == address ||
	    (size_t)(colon - address) >= sizeof(n->host))
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return false;
	memcpy(n->host, address, (size_t)(colon - address));
	n->host[colon - address] = 0;
	n->port = (uint16_t)port;
	return true;
}

void sl_kquorum_from_status(const struct sl_quorum_status *st,
			    struct sl_kquorum_view *v)
{
	assert(st->n_voters <= SL_VOTERS_MAX);
	memset(v, 0, offsetof(struct sl_kquorum_view, observers));
	v->error = st->is_leader ? 0 : SN_ERR_NOT_LEADER_OR_FOLLOWER;
	v->leader_id = st->leader_id;
	v->leader_epoch = st->term > INT32_MAX ? INT32_MAX : (int32_t)st->term;
	v->high_watermark = st->commit_index > INT64_MAX ?
				    INT64_MAX : (int64_t)st->commit_index;
	for (unsigned i = 0; i < st->n_voters; i++) {
		const struct sl_quorum_voter *q = &st->voters[i];
		v->voters[v->n_voters++] = (struct sl_kquorum_replica){
			.id = q->id,
			.log_end_offset = q->log_end,
			.last_fetch_ms = q->contact_ms,
			.last_caught_up_ms = q->caught_up_ms,
		};
		struct sl_kquorum_node *n = &v->nodes[v->n_nodes];
		n->id = q->id;
		if (parse_endpoint(q->address, n))
			v->n_nodes++;
	}
	v->n_observers = 0;
	assert(v->n_nodes <= v->n_voters);
}

void sl_kquorum_single(int32_t node_id, uint64_t hw, int64_t now_ms,
		       struct sl_kquorum_view *v)
{
	assert(node_id >= 0);
	memset(v, 0, offsetof(struct sl_kquorum_view, observers));
	v->leader_id = node_id;
	v->high_watermark = hw > INT64_MAX ? INT64_MAX : (int64_t)hw;
	v->voters[0] = (struct sl_kquorum_replica){
		.id = node_id,
		.log_end_offset = v->high_watermark,
		.last_fetch_ms = -1, /* the leader's own, as Kafka says */
		.last_caught_up_ms = now_ms,
	};
	v->n_voters = 1;
	v->n_observers = 0;
}

/* Kafka's check: exactly one topic, ours, with exactly partition 0. */
static bool names_our_partition(const struct kc_describe_quorum_req *r)
{
	if (r->topics.count != 1)
		return false;
	const struct kc_describe_quorum_req_topic_data *t = r->topics.items;
	if (!kc_str_is(t->topic_name, SL_KQUORUM_TOPIC, (size_t)TOPIC_LEN) ||
	    t->partitions.count != 1)
		return false;
	const struct kc_describe_quorum_req_partition_data *p =
		t->partitions.items;
	return p->partition_index == 0;
}

static void replicas(const struct sl_kquorum_replica *in, unsigned n,
		     struct kc_describe_quorum_resp_replica_state *out)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = (struct kc_describe_quorum_resp_replica_state){
			.replica_id = in[i].id,
			/* v2+: no directory ids (KIP-853), all zero */
			.log_end_offset = in[i].log_end_offset,
			.last_fetch_timestamp = in[i].last_fetch_ms,
			.last_caught_up_timestamp = in[i].last_caught_up_ms,
		};
}

long sl_kquorum_handle(const struct sl_kquorum_view *v, const uint8_t *req,
		       size_t len, uint8_t *resp, size_t cap)
{
	assert(v && (req || len == 0) && (resp || cap == 0));
	assert(v->n_voters <= SL_VOTERS_MAX && v->n_nodes <= SL_VOTERS_MAX &&
	       v->n_observers <= SL_KQUORUM_OBSERVERS_MAX);
	if (len < 2 || !sl_kquorum_serves((int16_t)((req[0] << 8) | req[1])))
		return -EINVAL;
	if (len > SIZE_MAX / 32)
		return -SN_ERR_INVALID_REQUEST;
	struct kc_request_header h;
	union kc_request body;
	/* 16 x len holds any request of this schema (each element costs
	 * at most 16 times its bytes on the wire) */
	size_t in_cap = 16 * len + 64;
	struct kc_arena in = {malloc(in_cap), in_cap, 0};
	if (!in.base)
		return -ENOBUFS;
	long rc = kc_decode_request(req, len, &h, &body, &in);
	if (rc < 0) {
		if (rc == -ENOBUFS)
			rc = -SN_ERR_INVALID_REQUEST;
		goto out_in;
	}
	const struct kc_describe_quorum_req *r = (const void *)body.raw;

	struct kc_describe_quorum_resp_replica_state
		voters[SL_VOTERS_MAX],
		observers[SL_KQUORUM_OBSERVERS_MAX];
	struct kc_describe_quorum_resp_listener listeners[SL_VOTERS_MAX];
	struct kc_describe_quorum_resp_node nodes[SL_VOTERS_MAX];
	replicas(v->voters, v->n_voters, voters);
	replicas(v->observers, v->n_observers, observers);
	for (unsigned i = 0; i < v->n_nodes; i++) {
		const struct sl_kquorum_node *n = &v->nodes[i];
		listeners[i] = (struct kc_describe_quorum_resp_listener){
			.name = {SL_KQUORUM_LISTENER,
				 (int32_t)strlen(SL_KQUORUM_LISTENER)},
			.host = {n->host,
				 (int32_t)strnlen(n->host, sizeof(n->host))},
			.port = n->port,
		};
		nodes[i] = (struct kc_describe_quorum_resp_node){
			.node_id = n->id,
			.listeners = {&listeners[i], 1},
		};
	}
	struct kc_describe_quorum_resp_partition_data part = {
		.partition_index = 0,
		.error_code = v->error,
		.error_message = {NULL, -1},
		.leader_id = v->leader_id,
		.leader_epoch = v->leader_epoch,
		.high_watermark = v->high_watermark,
		.current_voters = {voters, (int32_t)v->n_voters},
		.observers = {observers, (int32_t)v->n_observers},
	};
	struct kc_describe_quorum_resp_topic_data topic = {
		.topic_name = {SL_KQUORUM_TOPIC, TOPIC_LEN},
		.partitions = {&part, 1},
	};
	union kc_response u;
	kc_response_init(&u, KC_API_DESCRIBE_QUORUM);
	struct kc_describe_quorum_resp *out = (void *)u.raw;
	out->error_message = (struct kc_str){NULL, -1}; /* v2+: no error */
	if (names_our_partition(r)) {
		out->topics = (struct kc_array){&topic, 1};
		out->nodes = (struct kc_array){nodes, (int32_t)v->n_nodes};
	} else {
		out->error_code = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		out->topics = (struct kc_array){NULL, 0};
		out->nodes = (struct kc_array){NULL, 0};
	}
	struct kc_response_header rh = {h.correlation_id};
	rc = kc_encode_response(h.api_key, h.api_version, &rh, &u, resp, cap);
	assert(rc > 0 || rc == -ENOBUFS); /* every value fits its field */
out_in:
	free(in.base);
	return rc;
}
