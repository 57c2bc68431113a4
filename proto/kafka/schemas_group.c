/*
 * Kafka schemas for consumer groups and committed offsets (OffsetCommit,
 * OffsetFetch, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups,
 * ListGroups, DeleteGroups), transcribed field by field from Kafka's message JSON like
 * schemas.c: names, order, "versions", "nullableVersions" and "default",
 * with each field's whole Kafka version range even where it reaches past
 * the supported window (OffsetFetch's v0-7 fields), so that widening a
 * window is a change to the API table at the bottom plus the fields that
 * newer versions add.  Fields that exist only above every supported window
 * are left out (kgroup.h names them).
 *
 * Every window here but DeleteGroups' ends below the API's first flexible
 * version (flexible_min below is Kafka's "flexibleVersions").
 */
#include "proto/kafka/schemas_pvt.h"

/* ---- OffsetCommit (key 8): OffsetCommitRequest.json, OffsetCommitResponse.json ---- */

static const struct kc_field oc_req_partition_f[] = {
	F(kc_offset_commit_req_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_req_partition, committed_offset, KC_INT64, 0, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_req_partition, committed_leader_epoch, KC_INT32, 6, ANY, NEVER, -1, NULL),
	F(kc_offset_commit_req_partition, commit_timestamp, KC_INT64, 1, 1, NEVER, -1, NULL),
	F(kc_offset_commit_req_partition, committed_metadata, KC_STRING, 0, ANY, 0, 0, NULL),
};
static SCHEMA(oc_req_partition, kc_offset_commit_req_partition, oc_req_partition_f);

static const struct kc_field oc_req_topic_f[] = {
	/* TopicId (uuid) is 9+, where Name becomes nullable */
	F(kc_offset_commit_req_topic, name, KC_STRING, 0, ANY, 9, 0, NULL),
	F(kc_offset_commit_req_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &oc_req_partition),
};
static SCHEMA(oc_req_topic, kc_offset_commit_req_topic, oc_req_topic_f);

static const struct kc_field oc_req_f[] = {
	F(kc_offset_commit_req, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_req, generation_id, KC_INT32, 1, ANY, NEVER, -1, NULL),
	F(kc_offset_commit_req, member_id, KC_STRING, 1, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_req, group_instance_id, KC_STRING, 7, ANY, 7, -1, NULL),
	F(kc_offset_commit_req, retention_time_ms, KC_INT64, 2, 4, NEVER, -1, NULL),
	F(kc_offset_commit_req, topics, KC_ARRAY, 0, ANY, NEVER, 0, &oc_req_topic),
};
static SCHEMA(oc_req, kc_offset_commit_req, oc_req_f);

static const struct kc_field oc_resp_partition_f[] = {
	F(kc_offset_commit_resp_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_resp_partition, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(oc_resp_partition, kc_offset_commit_resp_partition, oc_resp_partition_f);

static const struct kc_field oc_resp_topic_f[] = {
	/* TopicId (uuid) is 9+, where Name becomes nullable */
	F(kc_offset_commit_resp_topic, name, KC_STRING, 0, ANY, 9, 0, NULL),
	F(kc_offset_commit_resp_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &oc_resp_partition),
};
static SCHEMA(oc_resp_topic, kc_offset_commit_resp_topic, oc_resp_topic_f);

static const struct kc_field oc_resp_f[] = {
	F(kc_offset_commit_resp, throttle_time_ms, KC_INT32, 3, ANY, NEVER, 0, NULL),
	F(kc_offset_commit_resp, topics, KC_ARRAY, 0, ANY, NEVER, 0, &oc_resp_topic),
};
static SCHEMA(oc_resp, kc_offset_commit_resp, oc_resp_f);

/* ---- OffsetFetch (key 9): OffsetFetchRequest.json, OffsetFetchResponse.json ---- */

static const struct kc_field of_req_topic_f[] = {
	F(kc_offset_fetch_req_topic, name, KC_STRING, 0, 7, NEVER, 0, NULL),
	F(kc_offset_fetch_req_topic, partition_indexes, KC_ARRAY, 0, 7, NEVER, 0, &kc_i32_schema),
};
static SCHEMA(of_req_topic, kc_offset_fetch_req_topic, of_req_topic_f);

static const struct kc_field of_req_f[] = {
	F(kc_offset_fetch_req, group_id, KC_STRING, 0, 7, NEVER, 0, NULL),
	F(kc_offset_fetch_req, topics, KC_ARRAY, 0, 7, 2, 0, &of_req_topic),
	/* Groups (8+) and RequireStable (7+) */
};
static SCHEMA(of_req, kc_offset_fetch_req, of_req_f);

static const struct kc_field of_resp_partition_f[] = {
	F(kc_offset_fetch_resp_partition, partition_index, KC_INT32, 0, 7, NEVER, 0, NULL),
	F(kc_offset_fetch_resp_partition, committed_offset, KC_INT64, 0, 7, NEVER, 0, NULL),
	F(kc_offset_fetch_resp_partition, committed_leader_epoch, KC_INT32, 5, 7, NEVER, -1, NULL),
	F(kc_offset_fetch_resp_partition, metadata, KC_STRING, 0, 7, 0, 0, NULL),
	F(kc_offset_fetch_resp_partition, error_code, KC_INT16, 0, 7, NEVER, 0, NULL),
};
static SCHEMA(of_resp_partition, kc_offset_fetch_resp_partition, of_resp_partition_f);

static const struct kc_field of_resp_topic_f[] = {
	F(kc_offset_fetch_resp_topic, name, KC_STRING, 0, 7, NEVER, 0, NULL),
	F(kc_offset_fetch_resp_topic, partitions, KC_ARRAY, 0, 7, NEVER, 0, &of_resp_partition),
};
static SCHEMA(of_resp_topic, kc_offset_fetch_resp_topic, of_resp_topic_f);

static const struct kc_field of_resp_f[] = {
	F(kc_offset_fetch_resp, throttle_time_ms, KC_INT32, 3, ANY, NEVER, 0, NULL),
	F(kc_offset_fetch_resp, topics, KC_ARRAY, 0, 7, NEVER, 0, &of_resp_topic),
	F(kc_offset_fetch_resp, error_code, KC_INT16, 2, 7, NEVER, 0, NULL),
	/* GroupIds (8+) */
};
static SCHEMA(of_resp, kc_offset_fetch_resp, of_resp_f);

/* ---- JoinGroup (key 11): JoinGroupRequest.json, JoinGroupResponse.json ---- */

static const struct kc_field jg_req_protocol_f[] = {
	F(kc_join_group_req_protocol, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_req_protocol, metadata, KC_BYTES, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(jg_req_protocol, kc_join_group_req_protocol, jg_req_protocol_f);

static const struct kc_field jg_req_f[] = {
	F(kc_join_group_req, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_req, session_timeout_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_req, rebalance_timeout_ms, KC_INT32, 1, ANY, NEVER, -1, NULL),
	F(kc_join_group_req, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_req, group_instance_id, KC_STRING, 5, ANY, 5, -1, NULL),
	F(kc_join_group_req, protocol_type, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_req, protocols, KC_ARRAY, 0, ANY, NEVER, 0, &jg_req_protocol),
	/* Reason (8+) */
};
static SCHEMA(jg_req, kc_join_group_req, jg_req_f);

static const struct kc_field jg_resp_member_f[] = {
	F(kc_join_group_resp_member, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_resp_member, group_instance_id, KC_STRING, 5, ANY, 5, -1, NULL),
	F(kc_join_group_resp_member, metadata, KC_BYTES, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(jg_resp_member, kc_join_group_resp_member, jg_resp_member_f);

static const struct kc_field jg_resp_f[] = {
	F(kc_join_group_resp, throttle_time_ms, KC_INT32, 2, ANY, NEVER, 0, NULL),
	F(kc_join_group_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_resp, generation_id, KC_INT32, 0, ANY, NEVER, -1, NULL),
	/* ProtocolType (7+) */
	F(kc_join_group_resp, protocol_name, KC_STRING, 0, ANY, 7, 0, NULL),
	F(kc_join_group_resp, leader, KC_STRING, 0, ANY, NEVER, 0, NULL),
	/* SkipAssignment (9+) */
	F(kc_join_group_resp, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_join_group_resp, members, KC_ARRAY, 0, ANY, NEVER, 0, &jg_resp_member),
};
static SCHEMA(jg_resp, kc_join_group_resp, jg_resp_f);

/* ---- Heartbeat (key 12): HeartbeatRequest.json, HeartbeatResponse.json ---- */

static const struct kc_field hb_req_f[] = {
	F(kc_heartbeat_req, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_heartbeat_req, generation_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_heartbeat_req, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_heartbeat_req, group_instance_id, KC_STRING, 3, ANY, 3, -1, NULL),
};
static SCHEMA(hb_req, kc_heartbeat_req, hb_req_f);

static const struct kc_field hb_resp_f[] = {
	F(kc_heartbeat_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_heartbeat_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(hb_resp, kc_heartbeat_resp, hb_resp_f);

/* ---- LeaveGroup (key 13): LeaveGroupRequest.json, LeaveGroupResponse.json ---- */

static const struct kc_field lg_req_member_f[] = {
	F(kc_leave_group_req_member, member_id, KC_STRING, 3, ANY, NEVER, 0, NULL),
	F(kc_leave_group_req_member, group_instance_id, KC_STRING, 3, ANY, 3, -1, NULL),
	/* Reason (5+) */
};
static SCHEMA(lg_req_member, kc_leave_group_req_member, lg_req_member_f);

static const struct kc_field lg_req_f[] = {
	F(kc_leave_group_req, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_leave_group_req, member_id, KC_STRING, 0, 2, NEVER, 0, NULL),
	F(kc_leave_group_req, members, KC_ARRAY, 3, ANY, NEVER, 0, &lg_req_member),
};
static SCHEMA(lg_req, kc_leave_group_req, lg_req_f);

static const struct kc_field lg_resp_member_f[] = {
	F(kc_leave_group_resp_member, member_id, KC_STRING, 3, ANY, NEVER, 0, NULL),
	F(kc_leave_group_resp_member, group_instance_id, KC_STRING, 3, ANY, 3, 0, NULL),
	F(kc_leave_group_resp_member, error_code, KC_INT16, 3, ANY, NEVER, 0, NULL),
};
static SCHEMA(lg_resp_member, kc_leave_group_resp_member, lg_resp_member_f);

static const struct kc_field lg_resp_f[] = {
	F(kc_leave_group_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_leave_group_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_leave_group_resp, members, KC_ARRAY, 3, ANY, NEVER, 0, &lg_resp_member),
};
static SCHEMA(lg_resp, kc_leave_group_resp, lg_resp_f);

/* ---- SyncGroup (key 14): SyncGroupRequest.json, SyncGroupResponse.json ---- */

static const struct kc_field sg_req_assignment_f[] = {
	F(kc_sync_group_req_assignment, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_sync_group_req_assignment, assignment, KC_BYTES, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(sg_req_assignment, kc_sync_group_req_assignment, sg_req_assignment_f);

static const struct kc_field sg_req_f[] = {
	F(kc_sync_group_req, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_sync_group_req, generation_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_sync_group_req, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_sync_group_req, group_instance_id, KC_STRING, 3, ANY, 3, -1, NULL),
	/* ProtocolType, ProtocolName (5+) */
	F(kc_sync_group_req, assignments, KC_ARRAY, 0, ANY, NEVER, 0, &sg_req_assignment),
};
static SCHEMA(sg_req, kc_sync_group_req, sg_req_f);

static const struct kc_field sg_resp_f[] = {
	F(kc_sync_group_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_sync_group_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	/* ProtocolType, ProtocolName (5+) */
	F(kc_sync_group_resp, assignment, KC_BYTES, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(sg_resp, kc_sync_group_resp, sg_resp_f);

/* ---- DescribeGroups (key 15): DescribeGroupsRequest.json, DescribeGroupsResponse.json ---- */

static const struct kc_field dg_req_f[] = {
	F(kc_describe_groups_req, groups, KC_ARRAY, 0, ANY, NEVER, 0, &kc_str_schema),
	F(kc_describe_groups_req, include_authorized_operations, KC_BOOL, 3, ANY, NEVER, 0, NULL),
};
static SCHEMA(dg_req, kc_describe_groups_req, dg_req_f);

static const struct kc_field dg_member_f[] = {
	F(kc_described_group_member, member_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group_member, group_instance_id, KC_STRING, 4, ANY, 4, -1, NULL),
	F(kc_described_group_member, client_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group_member, client_host, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group_member, member_metadata, KC_BYTES, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group_member, member_assignment, KC_BYTES, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(dg_member, kc_described_group_member, dg_member_f);

static const struct kc_field dg_group_f[] = {
	F(kc_described_group, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	/* ErrorMessage (6+) */
	F(kc_described_group, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group, group_state, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group, protocol_type, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group, protocol_data, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_described_group, members, KC_ARRAY, 0, ANY, NEVER, 0, &dg_member),
	F(kc_described_group, authorized_operations, KC_INT32, 3, ANY, NEVER, INT32_MIN, NULL),
};
static SCHEMA(dg_group, kc_described_group, dg_group_f);

static const struct kc_field dg_resp_f[] = {
	F(kc_describe_groups_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_describe_groups_resp, groups, KC_ARRAY, 0, ANY, NEVER, 0, &dg_group),
};
static SCHEMA(dg_resp, kc_describe_groups_resp, dg_resp_f);

/* ---- ListGroups (key 16): ListGroupsRequest.json, ListGroupsResponse.json ---- */

/* No fields before v4 (whose States is tagged): nothing to read or write. */
static const struct kc_schema lgs_req = {"kc_list_groups_req", 0, 0, NULL,
					  false};

static const struct kc_field lgs_group_f[] = {
	F(kc_listed_group, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_listed_group, protocol_type, KC_STRING, 0, ANY, NEVER, 0, NULL),
	/* GroupState (4+), GroupType (5+) */
};
static SCHEMA(lgs_group, kc_listed_group, lgs_group_f);

static const struct kc_field lgs_resp_f[] = {
	F(kc_list_groups_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_list_groups_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_list_groups_resp, groups, KC_ARRAY, 0, ANY, NEVER, 0, &lgs_group),
};
static SCHEMA(lgs_resp, kc_list_groups_resp, lgs_resp_f);

/* ---- DeleteGroups (key 42): DeleteGroupsRequest.json, DeleteGroupsResponse.json ---- */

static const struct kc_field dlg_req_f[] = {
	F(kc_delete_groups_req, groups_names, KC_ARRAY, 0, ANY, NEVER, 0, &kc_str_schema),
};
static SCHEMA(dlg_req, kc_delete_groups_req, dlg_req_f);

static const struct kc_field dlg_result_f[] = {
	F(kc_deletable_group_result, group_id, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_deletable_group_result, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	/* ErrorMessage (3+) */
};
static SCHEMA(dlg_result, kc_deletable_group_result, dlg_result_f);

static const struct kc_field dlg_resp_f[] = {
	F(kc_delete_groups_resp, throttle_time_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_delete_groups_resp, results, KC_ARRAY, 0, ANY, NEVER, 0, &dlg_result),
};
static SCHEMA(dlg_resp, kc_delete_groups_resp, dlg_resp_f);

/* ---- the API table ---- */

static const struct kc_api apis[] = {
	{KC_API_OFFSET_COMMIT, "OffsetCommit", 2, 7, 8, &oc_req, &oc_resp},
	{KC_API_OFFSET_FETCH, "OffsetFetch", 1, 5, 6, &of_req, &of_resp},
	{KC_API_JOIN_GROUP, "JoinGroup", 0, 5, 6, &jg_req, &jg_resp},
	{KC_API_HEARTBEAT, "Heartbeat", 0, 3, 4, &hb_req, &hb_resp},
	{KC_API_LEAVE_GROUP, "LeaveGroup", 0, 3, 4, &lg_req, &lg_resp},
	{KC_API_SYNC_GROUP, "SyncGroup", 0, 3, 4, &sg_req, &sg_resp},
	{KC_API_DESCRIBE_GROUPS, "DescribeGroups", 0, 4, 5, &dg_req, &dg_resp},
	{KC_API_LIST_GROUPS, "ListGroups", 0, 2, 3, &lgs_req, &lgs_resp},
	{KC_API_DELETE_GROUPS, "DeleteGroups", 0, 2, 2, &dlg_req, &dlg_resp},
};

#define FITS(st) _Static_assert(sizeof(struct st) <= KC_BODY_MAX, \
				#st " fits in union kc_request/kc_response")
FITS(kc_offset_commit_req);
FITS(kc_offset_commit_resp);
FITS(kc_offset_fetch_req);
FITS(kc_offset_fetch_resp);
FITS(kc_join_group_req);
FITS(kc_join_group_resp);
FITS(kc_heartbeat_req);
FITS(kc_heartbeat_resp);
FITS(kc_leave_group_req);
FITS(kc_leave_group_resp);
FITS(kc_sync_group_req);
FITS(kc_sync_group_resp);
FITS(kc_describe_groups_req);
FITS(kc_describe_groups_resp);
FITS(kc_list_groups_resp);
FITS(kc_delete_groups_req);
FITS(kc_delete_groups_resp);

const struct kc_api_table kc_group_table = {apis, sizeof(apis) / sizeof(apis[0])};
