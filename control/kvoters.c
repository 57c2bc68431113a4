/*
 * Kafka's AddRaftVoter and RemoveRaftVoter (kvoters.h has the contract).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/kvoters.h"
#include "control/quorum.h"
#include "proto/config.h"
#include "proto/kafka/kcodec.h"

bool sl_kvoters_serves(int16_t api_key)
{
	return api_key == KC_API_ADD_RAFT_VOTER ||
	       api_key == KC_API_REMOVE_RAFT_VOTER;
}

static bool cluster_ok(struct kc_str id)
{
	return id.len < 0 || !id.ptr ||
	       ((size_t)id.len == strlen(SL_KVOTERS_CLUSTER_ID) &&
		!memcmp(id.ptr, SL_KVOTERS_CLUSTER_ID, (size_t)id.len));
}

/* The Raft address of an AddRaftVoter: its CONTROLLER listener, else
 * the first; false with r->msg when none is usable. */
static bool listener_address(const struct kc_add_raft_voter_req *q,
			     struct sl_kvoters_req *r)
{
	const struct kc_add_raft_voter_req_listener *ls = q->listeners.items;
	const struct kc_add_raft_voter_req_listener *l = NULL;
	for (int32_t i = 0; i < q->listeners.count; i++)
		if (ls[i].name.len == 10 && ls[i].name.ptr &&
		    !memcmp(ls[i].name.ptr, "CONTROLLER", 10))
			l = &ls[i];
	if (!l && q->listeners.count > 0)
		l = &ls[0];
	if (!l) {
		snprintf(r->msg, sizeof(r->msg), "no listener given: the new "
			 "voter's Raft address (CONTROLLER host:port) is "
			 "needed");
		return false;
	}
	if (l->host.len <= 0 || l->host.len > 63 || !l->host.ptr) {
		snprintf(r->msg, sizeof(r->msg), "listener host missing or "
			 "over 63 bytes");
		return false;
	}
	snprintf(r->address, sizeof(r->address), "%.*s:%u",
		 (int)l->host.len, l->host.ptr, (unsigned)l->port);
	struct sl_voter v;
	if (sl_config_voter_address(r->address, &v) != 0) {
		snprintf(r->msg, sizeof(r->msg), "listener %s: the Raft "
			 "address must be an IPv4 address and a port 1 to "
			 "65534", r->address);
		r->address[0] = 0;
		return false;
	}
	return true;
}

int sl_kvoters_decode(const uint8_t *req, size_t len,
		      struct sl_kvoters_req *out)
{
	if (!req || len < 2 ||
	    !sl_kvoters_serves((int16_t)((req[0] << 8) | req[1])) ||
	    len > 8192)
		return -EINVAL;
	uint64_t mem[1024];
	struct kc_arena in = {(uint8_t *)mem, sizeof(mem), 0};
	struct kc_request_header h;
	union kc_request body;
	if (kc_decode_request(req, len, &h, &body, &in) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->api_key = h.api_key;
	out->api_version = h.api_version;
	out->correlation_id = h.correlation_id;
	struct kc_str cluster;
	if (h.api_key == KC_API_ADD_RAFT_VOTER) {
		const struct kc_add_raft_voter_req *q = (const void *)body.raw;
		out->voter_id = q->voter_id;
		cluster = q->cluster_id;
		if (cluster_ok(cluster) && !listener_address(q, out))
			out->error = SL_KVOTERS_INVALID_REQUEST;
	} else {
		const struct kc_remove_raft_voter_req *q =
			(const void *)body.raw;
		out->voter_id = q->voter_id;
		cluster = q->cluster_id;
	}
	if (!cluster_ok(cluster)) {
		out->error = SL_KVOTERS_INCONSISTENT_CLUSTER_ID;
		snprintf(out->msg, sizeof(out->msg), "cluster id '%.*s' is not "
			 "this cluster's ('%s')",
			 cluster.len > 64 ? 64 : (int)cluster.len, cluster.ptr,
			 SL_KVOTERS_CLUSTER_ID);
	} else if (!out->error && (out->voter_id < 1 ||
				   out->voter_id > 65535)) {
		out->error = SL_KVOTERS_INVALID_REQUEST;
		snprintf(out->msg, sizeof(out->msg), "voter id %d: node ids "
			 "are 1 to 65535", (int)out->voter_id);
	}
	return 0;
}

int16_t sl_kvoters_error(int status, const struct sl_kvoters_req *r,
			 char *msg, size_t msglen)
{
	bool add = r->api_key == KC_API_ADD_RAFT_VOTER;
	int id = (int)r->voter_id;
	switch (status) {
	case 0:
		msg[0] = 0;
		return 0;
	case SL_QUORUM_ENOTLEADER:
		snprintf(msg, msglen, "this node is not the active controller "
			 "(or lost the lead): retry");
		return SL_KVOTERS_NOT_LEADER_OR_FOLLOWER;
	case -EBUSY:
		snprintf(msg, msglen, "another voter change is under way: "
			 "retry once it is done");
		return SL_KVOTERS_REQUEST_TIMED_OUT;
	case -ETIMEDOUT:
		snprintf(msg, msglen, "node %d at %s did not catch up with the "
			 "metadata log (is it running with controller_address "
			 "%s?): it stays a non-voting spare; add it again to "
			 "retry", id, r->address, r->address);
		return SL_KVOTERS_REQUEST_TIMED_OUT;
	case -EEXIST:
		snprintf(msg, msglen, add ? "node %d is already a voter, or "
			 "another node has the address %s" : "node %d: %s",
			 id, add ? r->address : "exists");
		return SL_KVOTERS_DUPLICATE_VOTER;
	case -EADDRINUSE:
		snprintf(msg, msglen, "node %d is a spare at another address "
			 "from an earlier add: remove it first", id);
		return SL_KVOTERS_DUPLICATE_VOTER;
	case -ENOENT:
		snprintf(msg, msglen, "node %d is not in the metadata log's "
			 "configuration", id);
		return SL_KVOTERS_VOTER_NOT_FOUND;
	case -ERANGE:
		snprintf(msg, msglen, "node %d is the last voter: add another "
			 "first", id);
		return SL_KVOTERS_INVALID_REQUEST;
	case -ENOSPC:
		snprintf(msg, msglen, "the quorum already has its %d voters",
			 SL_VOTERS_MAX);
		return SL_KVOTERS_INVALID_REQUEST;
	case -EINVAL:
		snprintf(msg, msglen, "node %d at '%s': not a usable id or "
			 "address", id, r->address);
		return SL_KVOTERS_INVALID_REQUEST;
	default:
		snprintf(msg, msglen, "%s", sl_quorum_strerror(status));
		return SL_KVOTERS_UNKNOWN_SERVER_ERROR;
	}
}

long sl_kvoters_answer(const struct sl_kvoters_req *q, int16_t err,
		       const char *msg, uint8_t *resp, size_t cap)
{
	assert(sl_kvoters_serves(q->api_key));
	union kc_response u;
	kc_response_init(&u, q->api_key);
	/* both responses have the same fields */
	_Static_assert(sizeof(struct kc_add_raft_voter_resp) ==
		       sizeof(struct kc_remove_raft_voter_resp), "same shape");
	struct kc_add_raft_voter_resp *r = (void *)u.raw;
	r->error_code = err;
	r->error_message = msg && msg[0] ?
		(struct kc_str){msg, (int32_t)strlen(msg)} :
		(struct kc_str){NULL, -1};
	struct kc_response_header rh = {q->correlation_id};
	long n = kc_encode_response(q->api_key, q->api_version, &rh, &u, resp,
				    cap);
	return n == -ENOBUFS ? -EMSGSIZE : n;
}
