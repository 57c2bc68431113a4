/*
 * Kafka's AddRaftVoter and RemoveRaftVoter (v0, KIP-853): the metadata
 * log's voters changed at run time, as `kafka-metadata-quorum.sh
 * add-controller` / `remove-controller` and `sluice cluster add-voter` /
 * `remove-voter` ask.  Decoding and answering here; the change is the
 * active controller's (control/cluster.c: sl_quorum_add_voter and
 * sl_quorum_remove_voter), a single broker refuses (no quorum to change).
 *
 * The mapping: VoterId is the node id; the Raft address added is the
 * listener named CONTROLLER (else the first listed), host an IPv4
 * address; VoterDirectoryId is not used (sluice keys a voter by its id
 * alone: a node whose dir was lost is removed and added again).  A
 * ClusterId other than null or the cluster's ("sluice") is
 * INCONSISTENT_CLUSTER_ID, as KRaft answers.  TimeoutMs bounds nothing
 * here: the answer comes once the new configuration is committed or the
 * change failed (libraft's catch-up rounds bound an add).
 *
 * Pure functions: no I/O.
 */
#ifndef SLUICE_CONTROL_KVOTERS_H
#define SLUICE_CONTROL_KVOTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_KVOTERS_ADDRESS_MAX 80 /* = SL_QUORUM_ADDRESS_MAX */
#define SL_KVOTERS_CLUSTER_ID "sluice"

/* Kafka error codes of these APIs that no other table here names. */
enum {
	SL_KVOTERS_NOT_LEADER_OR_FOLLOWER = 6,
	SL_KVOTERS_REQUEST_TIMED_OUT = 7,
	SL_KVOTERS_INVALID_REQUEST = 42,
	SL_KVOTERS_INCONSISTENT_CLUSTER_ID = 104,
	SL_KVOTERS_DUPLICATE_VOTER = 126,
	SL_KVOTERS_VOTER_NOT_FOUND = 127,
	SL_KVOTERS_UNKNOWN_SERVER_ERROR = -1,
};

struct sl_kvoters_req {
	int16_t api_key;     /* KC_API_ADD_RAFT_VOTER or ..._REMOVE_... */
	int16_t api_version;
	int32_t correlation_id;
	int32_t voter_id;
	char address[SL_KVOTERS_ADDRESS_MAX]; /* add: "host:port", else "" */
	int16_t error;       /* 0, or what the request itself gets (bad
				cluster id, no usable listener) */
	char msg[256];       /* with error: why */
};

bool sl_kvoters_serves(int16_t api_key);

/* Decode req (len bytes, header included): 0 with *out, or -EINVAL (not
 * one of these requests, or it does not decode). */
int sl_kvoters_decode(const uint8_t *req, size_t len,
		      struct sl_kvoters_req *out);

/* The Kafka error (and msg) for a quorum.h change status: 0 for 0. */
int16_t sl_kvoters_error(int status, const struct sl_kvoters_req *r,
			 char *msg, size_t msglen);

/* Answer the request r decoded with err and msg (NULL or "": a null
 * message): the response's length in resp, or -EMSGSIZE. */
long sl_kvoters_answer(const struct sl_kvoters_req *r, int16_t err,
		       const char *msg, uint8_t *resp, size_t cap);

#endif
