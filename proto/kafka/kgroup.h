/*
 * Kafka message bodies for consumer groups and committed offsets
 * (OffsetCommit, OffsetFetch, JoinGroup, Heartbeat, LeaveGroup, SyncGroup,
 * DescribeGroups, ListGroups, DeleteGroups): the API keys, the error codes these APIs
 * answer with, and the decoded C structs (field order and names follow
 * Kafka's JSON); their schemas are in schemas_group.c.  Included by
 * kcodec.h.
 *
 * Every supported window but DeleteGroups' is below Kafka's first flexible
 * version of the API, so those travel with int16/int32 lengths and no
 * tagged fields; DeleteGroups v2 is flexible (compact lengths, empty
 * tagged-field sections, request header v2, response header v1).
 * Fields that exist only in newer versions (uuids, tagged fields, KIP-848
 * additions) are not listed; the comment on each struct says which.
 */
#ifndef SLUICE_PROTO_KAFKA_KGROUP_H
#define SLUICE_PROTO_KAFKA_KGROUP_H

#include "proto/kafka/kcodec.h"

enum kc_group_api_key {
	KC_API_OFFSET_COMMIT = 8,
	KC_API_OFFSET_FETCH = 9,
	KC_API_JOIN_GROUP = 11,
	KC_API_HEARTBEAT = 12,
	KC_API_LEAVE_GROUP = 13,
	KC_API_SYNC_GROUP = 14,
	KC_API_DESCRIBE_GROUPS = 15,
	KC_API_LIST_GROUPS = 16,
	KC_API_DELETE_GROUPS = 42,
};

/* Kafka error codes of the group APIs that proto/native.h's SN_ERRORS does
 * not name (it has the shared ones: INVALID_REQUEST, MESSAGE_TOO_LARGE,
 * UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR...). */
enum kc_group_error {
	KC_ERR_OFFSET_METADATA_TOO_LARGE = 12,
	KC_ERR_ILLEGAL_GENERATION = 22,
	KC_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KC_ERR_INVALID_GROUP_ID = 24,
	KC_ERR_UNKNOWN_MEMBER_ID = 25,
	KC_ERR_INVALID_SESSION_TIMEOUT = 26,
	KC_ERR_REBALANCE_IN_PROGRESS = 27,
	KC_ERR_POLICY_VIOLATION = 44,
	KC_ERR_NON_EMPTY_GROUP = 68,
	KC_ERR_GROUP_ID_NOT_FOUND = 69,
	KC_ERR_MEMBER_ID_REQUIRED = 79,
	KC_ERR_GROUP_MAX_SIZE_REACHED = 81,
};

/* ---- OffsetCommit (key 8) ---- */

struct kc_offset_commit_req_partition {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch;  /* v6+, default -1 */
	int64_t commit_timestamp;        /* v1 only, default -1 */
	struct kc_str committed_metadata; /* nullable */
};
struct kc_offset_commit_req_topic {
	struct kc_str name;              /* nullable in v9+ (TopicId, a uuid) */
	struct kc_array partitions;      /* of kc_offset_commit_req_partition */
};
struct kc_offset_commit_req {          /* OffsetCommitRequest v2-7 */
	struct kc_str group_id;
	int32_t generation_id;           /* v1+, default -1 */
	struct kc_str member_id;         /* v1+ */
	struct kc_str group_instance_id; /* v7+, nullable, default null */
	int64_t retention_time_ms;       /* v2-4, default -1 */
	struct kc_array topics;          /* of kc_offset_commit_req_topic */
};

struct kc_offset_commit_resp_partition {
	int32_t partition_index;
	int16_t error_code;
};
struct kc_offset_commit_resp_topic {
	struct kc_str name;              /* nullable in v9+ */
	struct kc_array partitions;      /* of kc_offset_commit_resp_partition */
};
struct kc_offset_commit_resp {         /* OffsetCommitResponse v2-7 */
	int32_t throttle_time_ms;        /* v3+ */
	struct kc_array topics;          /* of kc_offset_commit_resp_topic */
};

/* ---- OffsetFetch (key 9) ---- */

struct kc_offset_fetch_req_topic {
	struct kc_str name;              /* v0-7 */
	struct kc_array partition_indexes; /* of int32_t, v0-7 */
};
struct kc_offset_fetch_req {           /* OffsetFetchRequest v1-5 */
	struct kc_str group_id;          /* v0-7 */
	struct kc_array topics;          /* of kc_offset_fetch_req_topic, v0-7;
					    null (v2+): every committed offset */
	/* Groups (v8+) and RequireStable (v7+) are not listed. */
};

struct kc_offset_fetch_resp_partition {
	int32_t partition_index;         /* v0-7 */
	int64_t committed_offset;        /* v0-7; -1: none committed */
	int32_t committed_leader_epoch;  /* v5-7, default -1 */
	struct kc_str metadata;          /* v0-7, nullable */
	int16_t error_code;              /* v0-7 */
};
struct kc_offset_fetch_resp_topic {
	struct kc_str name;              /* v0-7 */
	struct kc_array partitions;      /* of kc_offset_fetch_resp_partition, v0-7 */
};
struct kc_offset_fetch_resp {          /* OffsetFetchResponse v1-5 */
	int32_t throttle_time_ms;        /* v3+ */
	struct kc_array topics;          /* of kc_offset_fetch_resp_topic, v0-7 */
	int16_t error_code;              /* v2-7, default 0 */
	/* GroupIds (v8+) is not listed. */
};

/* ---- JoinGroup (key 11) ---- */

struct kc_join_group_req_protocol {
	struct kc_str name;
	struct kc_bytes metadata;        /* opaque to the coordinator */
};
struct kc_join_group_req {             /* JoinGroupRequest v0-5 */
	struct kc_str group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;    /* v1+, default -1 (v0: the session
					    timeout) */
	struct kc_str member_id;         /* empty: a new member */
	struct kc_str group_instance_id; /* v5+, nullable, default null */
	struct kc_str protocol_type;
	struct kc_array protocols;       /* of kc_join_group_req_protocol */
	/* Reason (v8+) is not listed. */
};

struct kc_join_group_resp_member {
	struct kc_str member_id;
	struct kc_str group_instance_id; /* v5+, nullable, default null */
	struct kc_bytes metadata;
};
struct kc_join_group_resp {            /* JoinGroupResponse v0-5 */
	int32_t throttle_time_ms;        /* v2+ */
	int16_t error_code;
	int32_t generation_id;           /* default -1 */
	struct kc_str protocol_name;     /* nullable in v7+ */
	struct kc_str leader;
	struct kc_str member_id;
	struct kc_array members;         /* of kc_join_group_resp_member; the
					    leader's response only */
	/* ProtocolType (v7+) and SkipAssignment (v9+) are not listed. */
};

/* ---- Heartbeat (key 12) ---- */

struct kc_heartbeat_req {              /* HeartbeatRequest v0-3 */
	struct kc_str group_id;
	int32_t generation_id;
	struct kc_str member_id;
	struct kc_str group_instance_id; /* v3+, nullable, default null */
};
struct kc_heartbeat_resp {             /* HeartbeatResponse v0-3 */
	int32_t throttle_time_ms;        /* v1+ */
	int16_t error_code;
};

/* ---- LeaveGroup (key 13) ---- */

struct kc_leave_group_req_member {
	struct kc_str member_id;         /* v3+ */
	struct kc_str group_instance_id; /* v3+, nullable, default null */
};
struct kc_leave_group_req {            /* LeaveGroupRequest v0-3 */
	struct kc_str group_id;
	struct kc_str member_id;         /* v0-2 */
	struct kc_array members;         /* of kc_leave_group_req_member, v3+ */
};

struct kc_leave_group_resp_member {
	struct kc_str member_id;         /* v3+ */
	struct kc_str group_instance_id; /* v3+, nullable */
	int16_t error_code;              /* v3+ */
};
struct kc_leave_group_resp {           /* LeaveGroupResponse v0-3 */
	int32_t throttle_time_ms;        /* v1+ */
	int16_t error_code;
	struct kc_array members;         /* of kc_leave_group_resp_member, v3+ */
};

/* ---- SyncGroup (key 14) ---- */

struct kc_sync_group_req_assignment {
	struct kc_str member_id;
	struct kc_bytes assignment;      /* opaque to the coordinator */
};
struct kc_sync_group_req {             /* SyncGroupRequest v0-3 */
	struct kc_str group_id;
	int32_t generation_id;
	struct kc_str member_id;
	struct kc_str group_instance_id; /* v3+, nullable, default null */
	struct kc_array assignments;     /* of kc_sync_group_req_assignment;
					    the leader's request only */
	/* ProtocolType and ProtocolName (v5+) are not listed. */
};
struct kc_sync_group_resp {            /* SyncGroupResponse v0-3 */
	int32_t throttle_time_ms;        /* v1+ */
	int16_t error_code;
	struct kc_bytes assignment;
	/* ProtocolType and ProtocolName (v5+) are not listed. */
};

/* ---- DescribeGroups (key 15) ---- */

struct kc_describe_groups_req {        /* DescribeGroupsRequest v0-4 */
	struct kc_array groups;          /* of struct kc_str */
	bool include_authorized_operations; /* v3+, default false */
};

struct kc_described_group_member {
	struct kc_str member_id;
	struct kc_str group_instance_id; /* v4+, nullable, default null */
	struct kc_str client_id;
	struct kc_str client_host;
	struct kc_bytes member_metadata;
	struct kc_bytes member_assignment;
};
struct kc_described_group {
	int16_t error_code;
	/* ErrorMessage (v6+) is not listed. */
	struct kc_str group_id;
	struct kc_str group_state;       /* "Stable", "Empty"... */
	struct kc_str protocol_type;
	struct kc_str protocol_data;     /* the protocol name when Stable */
	struct kc_array members;         /* of kc_described_group_member */
	int32_t authorized_operations;   /* v3+, default INT32_MIN */
};
struct kc_describe_groups_resp {       /* DescribeGroupsResponse v0-4 */
	int32_t throttle_time_ms;        /* v1+ */
	struct kc_array groups;          /* of kc_described_group */
};

/* ---- ListGroups (key 16) ---- */

/* ListGroupsRequest v0-2 has no fields (States, v4+, is a tagged field):
 * its schema is empty and the body is never read, so there is no struct. */

struct kc_listed_group {
	struct kc_str group_id;
	struct kc_str protocol_type;
	/* GroupState (v4+) and GroupType (v5+) are not listed. */
};
struct kc_list_groups_resp {           /* ListGroupsResponse v0-2 */
	int32_t throttle_time_ms;        /* v1+ */
	int16_t error_code;
	struct kc_array groups;          /* of kc_listed_group */
};

/* ---- DeleteGroups (key 42) ---- */

struct kc_delete_groups_req {          /* DeleteGroupsRequest v0-2 */
	struct kc_array groups_names;    /* of struct kc_str */
};

struct kc_deletable_group_result {
	struct kc_str group_id;
	int16_t error_code;
	/* ErrorMessage (v3+) is not listed. */
};
struct kc_delete_groups_resp {         /* DeleteGroupsResponse v0-2 */
	int32_t throttle_time_ms;
	struct kc_array results;         /* of kc_deletable_group_result */
};

#endif
