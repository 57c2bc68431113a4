/*
 * Kafka message schemas for the table-driven codec (kcodec.c), transcribed
 * field by field from Apache Kafka's message definitions
 * (clients/src/main/resources/common/message/<Name>.json): names, order,
 * "versions", "nullableVersions" and "default".  A field's version range is
 * kept even outside what is supported here (e.g. ListOffsets MaxNumOffsets,
 * v0 only), so that widening an API's supported range is a one-line change
 * in the API table at the bottom, plus new fields for newer versions.
 *
 * Tagged fields ("taggedVersions") are not listed: the codec skips them.
 */
#include "proto/kafka/schemas_pvt.h"

/* ---- headers ---- */

static const struct kc_field request_header_f[] = {
	F(kc_request_header, api_key, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_request_header, api_version, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_request_header, correlation_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_request_header, client_id, KC_STRING, 1, ANY, 1, 0, NULL),
};
SCHEMA(kc_request_header_schema, kc_request_header, request_header_f);

static const struct kc_field response_header_f[] = {
	F(kc_response_header, correlation_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
};
SCHEMA(kc_response_header_schema, kc_response_header, response_header_f);

static const struct kc_field i32_f[] = {
	F(kc_i32, v, KC_INT32, 0, ANY, NEVER, 0, NULL),
};
PLAIN_SCHEMA(kc_i32_schema, kc_i32, i32_f);
static const struct kc_field i64_f[] = {
	F(kc_i64, v, KC_INT64, 0, ANY, NEVER, 0, NULL),
};
PLAIN_SCHEMA(kc_i64_schema, kc_i64, i64_f);
static const struct kc_field str_f[] = {
	F(kc_strv, v, KC_STRING, 0, ANY, NEVER, 0, NULL),
};
PLAIN_SCHEMA(kc_str_schema, kc_strv, str_f);

/* ---- ApiVersions (key 18): ApiVersionsRequest.json, ApiVersionsResponse.json ---- */

static const struct kc_field api_versions_req_f[] = {
	F(kc_api_versions_req, client_software_name, KC_STRING, 3, ANY, NEVER, 0, NULL),
	F(kc_api_versions_req, client_software_version, KC_STRING, 3, ANY, NEVER, 0, NULL),
};
static SCHEMA(api_versions_req, kc_api_versions_req, api_versions_req_f);

static const struct kc_field api_version_key_f[] = {
	F(kc_api_version_key, api_key, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_api_version_key, min_version, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_api_version_key, max_version, KC_INT16, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(api_version_key, kc_api_version_key, api_version_key_f);

static const struct kc_field api_versions_resp_f[] = {
	F(kc_api_versions_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_api_versions_resp, api_keys, KC_ARRAY, 0, ANY, NEVER, 0, &api_version_key),
	F(kc_api_versions_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
};
static SCHEMA(api_versions_resp, kc_api_versions_resp, api_versions_resp_f);

/* ---- Metadata (key 3): MetadataRequest.json, MetadataResponse.json ---- */

static const struct kc_field metadata_req_topic_f[] = {
	/* TopicId (uuid) is 10+; Name becomes nullable in 10+ */
	F(kc_metadata_req_topic, name, KC_STRING, 0, ANY, 10, 0, NULL),
};
static SCHEMA(metadata_req_topic, kc_metadata_req_topic, metadata_req_topic_f);

static const struct kc_field metadata_req_f[] = {
	F(kc_metadata_req, topics, KC_ARRAY, 0, ANY, 1, 0, &metadata_req_topic),
	F(kc_metadata_req, allow_auto_topic_creation, KC_BOOL, 4, ANY, NEVER, 1, NULL),
	F(kc_metadata_req, include_cluster_authorized_operations, KC_BOOL, 8, 10, NEVER, 0, NULL),
	F(kc_metadata_req, include_topic_authorized_operations, KC_BOOL, 8, ANY, NEVER, 0, NULL),
};
static SCHEMA(metadata_req, kc_metadata_req, metadata_req_f);

static const struct kc_field metadata_broker_f[] = {
	F(kc_metadata_broker, node_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_broker, host, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_broker, port, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_broker, rack, KC_STRING, 1, ANY, 1, -1, NULL),
};
static SCHEMA(metadata_broker, kc_metadata_broker, metadata_broker_f);

static const struct kc_field metadata_partition_f[] = {
	F(kc_metadata_partition, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_partition, leader_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_metadata_partition, leader_epoch, KC_INT32, 7, ANY, NEVER, -1, NULL),
	F(kc_metadata_partition, replica_nodes, KC_ARRAY, 0, ANY, NEVER, 0, &kc_i32_schema),
	F(kc_metadata_partition, isr_nodes, KC_ARRAY, 0, ANY, NEVER, 0, &kc_i32_schema),
	F(kc_metadata_partition, offline_replicas, KC_ARRAY, 5, ANY, NEVER, 0, &kc_i32_schema),
};
static SCHEMA(metadata_partition, kc_metadata_partition, metadata_partition_f);

static const struct kc_field metadata_topic_f[] = {
	F(kc_metadata_topic, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	/* TopicId (uuid) appears in 10+, Name becomes nullable in 12+ */
	F(kc_metadata_topic, name, KC_STRING, 0, ANY, 12, 0, NULL),
	F(kc_metadata_topic, is_internal, KC_BOOL, 1, ANY, NEVER, 0, NULL),
	F(kc_metadata_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &metadata_partition),
	F(kc_metadata_topic, topic_authorized_operations, KC_INT32, 8, ANY, NEVER, INT32_MIN, NULL),
};
static SCHEMA(metadata_topic, kc_metadata_topic, metadata_topic_f);

static const struct kc_field metadata_resp_f[] = {
	F(kc_metadata_resp, throttle_time_ms, KC_INT32, 3, ANY, NEVER, 0, NULL),
	F(kc_metadata_resp, brokers, KC_ARRAY, 0, ANY, NEVER, 0, &metadata_broker),
	F(kc_metadata_resp, cluster_id, KC_STRING, 2, ANY, 2, -1, NULL),
	F(kc_metadata_resp, controller_id, KC_INT32, 1, ANY, NEVER, -1, NULL),
	F(kc_metadata_resp, topics, KC_ARRAY, 0, ANY, NEVER, 0, &metadata_topic),
	F(kc_metadata_resp, cluster_authorized_operations, KC_INT32, 8, 10, NEVER, INT32_MIN, NULL),
};
static SCHEMA(metadata_resp, kc_metadata_resp, metadata_resp_f);

/* ---- ListOffsets (key 2): ListOffsetsRequest.json, ListOffsetsResponse.json ---- */

static const struct kc_field lo_req_partition_f[] = {
	F(kc_list_offsets_req_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_req_partition, current_leader_epoch, KC_INT32, 4, ANY, NEVER, -1, NULL),
	F(kc_list_offsets_req_partition, timestamp, KC_INT64, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_req_partition, max_num_offsets, KC_INT32, 0, 0, NEVER, 1, NULL),
};
static SCHEMA(lo_req_partition, kc_list_offsets_req_partition, lo_req_partition_f);

static const struct kc_field lo_req_topic_f[] = {
	F(kc_list_offsets_req_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_req_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &lo_req_partition),
};
static SCHEMA(lo_req_topic, kc_list_offsets_req_topic, lo_req_topic_f);

static const struct kc_field lo_req_f[] = {
	F(kc_list_offsets_req, replica_id, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_req, isolation_level, KC_INT8, 2, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_req, topics, KC_ARRAY, 0, ANY, NEVER, 0, &lo_req_topic),
};
static SCHEMA(lo_req, kc_list_offsets_req, lo_req_f);

static const struct kc_field lo_resp_partition_f[] = {
	F(kc_list_offsets_resp_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_resp_partition, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_resp_partition, old_style_offsets, KC_ARRAY, 0, 0, NEVER, 0, &kc_i64_schema),
	F(kc_list_offsets_resp_partition, timestamp, KC_INT64, 1, ANY, NEVER, -1, NULL),
	F(kc_list_offsets_resp_partition, offset, KC_INT64, 1, ANY, NEVER, -1, NULL),
	F(kc_list_offsets_resp_partition, leader_epoch, KC_INT32, 4, ANY, NEVER, -1, NULL),
};
static SCHEMA(lo_resp_partition, kc_list_offsets_resp_partition, lo_resp_partition_f);

static const struct kc_field lo_resp_topic_f[] = {
	F(kc_list_offsets_resp_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_resp_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &lo_resp_partition),
};
static SCHEMA(lo_resp_topic, kc_list_offsets_resp_topic, lo_resp_topic_f);

static const struct kc_field lo_resp_f[] = {
	F(kc_list_offsets_resp, throttle_time_ms, KC_INT32, 2, ANY, NEVER, 0, NULL),
	F(kc_list_offsets_resp, topics, KC_ARRAY, 0, ANY, NEVER, 0, &lo_resp_topic),
};
static SCHEMA(lo_resp, kc_list_offsets_resp, lo_resp_f);

/* ---- the API table: what this codec supports ---- */

static const struct kc_api apis[] = {
	{KC_API_LIST_OFFSETS, "ListOffsets", 1, 5, 6, &lo_req, &lo_resp},
	{KC_API_METADATA, "Metadata", 1, 8, 9, &metadata_req, &metadata_resp},
	{KC_API_API_VERSIONS, "ApiVersions", 0, 3, 3, &api_versions_req,
	 &api_versions_resp},
};

_Static_assert(sizeof(union kc_request) >= sizeof(struct kc_metadata_req),
	       "request union holds every body");

const struct kc_api_table kc_core_table = {apis, sizeof(apis) / sizeof(apis[0])};

static const struct kc_api_table *const tables[] = {
	&kc_core_table, &kc_data_table, &kc_group_table,
};

const struct kc_api *kc_api_at(size_t i)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		if (i < tables[t]->n)
			return &tables[t]->apis[i];
		i -= tables[t]->n;
	}
	return NULL;
}

const struct kc_api *kc_api_find(int16_t key)
{
	const struct kc_api *api;
	for (size_t i = 0; (api = kc_api_at(i)); i++)
		if (api->key == key)
			return api;
	return NULL;
}
