/*
 * Kafka schemas for produce, fetch, producer ids, topics and configs
 * (Produce, Fetch, FindCoordinator, InitProducerId, CreateTopics,
 * DeleteTopics, DescribeConfigs), transcribed from Kafka's message JSON like
 * schemas.c: names, order, "versions", "nullableVersions" and "default",
 * each field's whole version range even where it lies outside the versions
 * supported here (the API table at the bottom).
 *
 * Not listed: tagged fields (the codec skips them) and uuid fields (TopicId
 * in Fetch v13+, CreateTopics responses v7+, DeleteTopics v6+), which no
 * supported version carries; a comment marks where they sit.
 *
 * "records" (Produce and Fetch) is a nullable bytes field: the record
 * batches stay one opaque byte range.
 */
#include "proto/kafka/schemas_pvt.h"

/* ---- Produce (key 0) ---- */

static const struct kc_field produce_req_partition_f[] = {
	F(kc_produce_req_partition, index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_req_partition, records, KC_BYTES, 0, ANY, 0, 0, NULL),
};
static SCHEMA(produce_req_partition, kc_produce_req_partition, produce_req_partition_f);

static const struct kc_field produce_req_topic_f[] = {
	F(kc_produce_req_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_req_topic, partition_data, KC_ARRAY, 0, ANY, NEVER, 0, &produce_req_partition),
};
static SCHEMA(produce_req_topic, kc_produce_req_topic, produce_req_topic_f);

static const struct kc_field produce_req_f[] = {
	F(kc_produce_req, transactional_id, KC_STRING, 3, ANY, 3, -1, NULL),
	F(kc_produce_req, acks, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_req, timeout_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_req, topic_data, KC_ARRAY, 0, ANY, NEVER, 0, &produce_req_topic),
};
static SCHEMA(produce_req, kc_produce_req, produce_req_f);

static const struct kc_field produce_record_error_f[] = {
	F(kc_produce_record_error, batch_index, KC_INT32, 8, ANY, NEVER, 0, NULL),
	F(kc_produce_record_error, batch_index_error_message, KC_STRING, 8, ANY, 8, -1, NULL),
};
static SCHEMA(produce_record_error, kc_produce_record_error, produce_record_error_f);

static const struct kc_field produce_resp_partition_f[] = {
	F(kc_produce_resp_partition, index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_resp_partition, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_resp_partition, base_offset, KC_INT64, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_resp_partition, log_append_time_ms, KC_INT64, 2, ANY, NEVER, -1, NULL),
	F(kc_produce_resp_partition, log_start_offset, KC_INT64, 5, ANY, NEVER, -1, NULL),
	F(kc_produce_resp_partition, record_errors, KC_ARRAY, 8, ANY, NEVER, 0, &produce_record_error),
	F(kc_produce_resp_partition, error_message, KC_STRING, 8, ANY, 8, -1, NULL),
	/* CurrentLeader is tagged (v10+) */
};
static SCHEMA(produce_resp_partition, kc_produce_resp_partition, produce_resp_partition_f);

static const struct kc_field produce_resp_topic_f[] = {
	F(kc_produce_resp_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_produce_resp_topic, partition_responses, KC_ARRAY, 0, ANY, NEVER, 0, &produce_resp_partition),
};
static SCHEMA(produce_resp_topic, kc_produce_resp_topic, produce_resp_topic_f);

static const struct kc_field produce_resp_f[] = {
	F(kc_produce_resp, responses, KC_ARRAY, 0, ANY, NEVER, 0, &produce_resp_topic),
	F(kc_produce_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	/* NodeEndpoints is tagged (v10+) */
};
static SCHEMA(produce_resp, kc_produce_resp, produce_resp_f);

/* ---- Fetch (key 1) ---- */

static const struct kc_field fetch_req_partition_f[] = {
	F(kc_fetch_req_partition, partition, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_req_partition, current_leader_epoch, KC_INT32, 9, ANY, NEVER, -1, NULL),
	F(kc_fetch_req_partition, fetch_offset, KC_INT64, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_req_partition, last_fetched_epoch, KC_INT32, 12, ANY, NEVER, -1, NULL),
	F(kc_fetch_req_partition, log_start_offset, KC_INT64, 5, ANY, NEVER, -1, NULL),
	F(kc_fetch_req_partition, partition_max_bytes, KC_INT32, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(fetch_req_partition, kc_fetch_req_partition, fetch_req_partition_f);

static const struct kc_field fetch_req_topic_f[] = {
	F(kc_fetch_req_topic, topic, KC_STRING, 0, 12, NEVER, 0, NULL),
	/* TopicId (uuid) is v13+ */
	F(kc_fetch_req_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &fetch_req_partition),
};
static SCHEMA(fetch_req_topic, kc_fetch_req_topic, fetch_req_topic_f);

static const struct kc_field fetch_forgotten_topic_f[] = {
	F(kc_fetch_forgotten_topic, topic, KC_STRING, 7, 12, NEVER, 0, NULL),
	/* TopicId (uuid) is v13+ */
	F(kc_fetch_forgotten_topic, partitions, KC_ARRAY, 7, ANY, NEVER, 0, &kc_i32_schema),
};
static SCHEMA(fetch_forgotten_topic, kc_fetch_forgotten_topic, fetch_forgotten_topic_f);

static const struct kc_field fetch_req_f[] = {
	/* ClusterId is tagged (v12+) */
	F(kc_fetch_req, replica_id, KC_INT32, 0, 14, NEVER, -1, NULL),
	/* ReplicaState is tagged (v15+) */
	F(kc_fetch_req, max_wait_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_req, min_bytes, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_req, max_bytes, KC_INT32, 3, ANY, NEVER, 0x7fffffff, NULL),
	F(kc_fetch_req, isolation_level, KC_INT8, 4, ANY, NEVER, 0, NULL),
	F(kc_fetch_req, session_id, KC_INT32, 7, ANY, NEVER, 0, NULL),
	F(kc_fetch_req, session_epoch, KC_INT32, 7, ANY, NEVER, -1, NULL),
	F(kc_fetch_req, topics, KC_ARRAY, 0, ANY, NEVER, 0, &fetch_req_topic),
	F(kc_fetch_req, forgotten_topics_data, KC_ARRAY, 7, ANY, NEVER, 0, &fetch_forgotten_topic),
	F(kc_fetch_req, rack_id, KC_STRING, 11, ANY, NEVER, 0, NULL),
};
static SCHEMA(fetch_req, kc_fetch_req, fetch_req_f);

static const struct kc_field fetch_aborted_txn_f[] = {
	F(kc_fetch_aborted_txn, producer_id, KC_INT64, 4, ANY, NEVER, 0, NULL),
	F(kc_fetch_aborted_txn, first_offset, KC_INT64, 4, ANY, NEVER, 0, NULL),
};
static SCHEMA(fetch_aborted_txn, kc_fetch_aborted_txn, fetch_aborted_txn_f);

static const struct kc_field fetch_resp_partition_f[] = {
	F(kc_fetch_resp_partition, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp_partition, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp_partition, high_watermark, KC_INT64, 0, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp_partition, last_stable_offset, KC_INT64, 4, ANY, NEVER, -1, NULL),
	F(kc_fetch_resp_partition, log_start_offset, KC_INT64, 5, ANY, NEVER, -1, NULL),
	/* DivergingEpoch, CurrentLeader, SnapshotId are tagged (v12+) */
	F(kc_fetch_resp_partition, aborted_transactions, KC_ARRAY, 4, ANY, 4, 0, &fetch_aborted_txn),
	F(kc_fetch_resp_partition, preferred_read_replica, KC_INT32, 11, ANY, NEVER, -1, NULL),
	F(kc_fetch_resp_partition, records, KC_BYTES, 0, ANY, 0, 0, NULL),
};
static SCHEMA(fetch_resp_partition, kc_fetch_resp_partition, fetch_resp_partition_f);

static const struct kc_field fetch_resp_topic_f[] = {
	F(kc_fetch_resp_topic, topic, KC_STRING, 0, 12, NEVER, 0, NULL),
	/* TopicId (uuid) is v13+ */
	F(kc_fetch_resp_topic, partitions, KC_ARRAY, 0, ANY, NEVER, 0, &fetch_resp_partition),
};
static SCHEMA(fetch_resp_topic, kc_fetch_resp_topic, fetch_resp_topic_f);

static const struct kc_field fetch_resp_f[] = {
	F(kc_fetch_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp, error_code, KC_INT16, 7, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp, session_id, KC_INT32, 7, ANY, NEVER, 0, NULL),
	F(kc_fetch_resp, responses, KC_ARRAY, 0, ANY, NEVER, 0, &fetch_resp_topic),
	/* NodeEndpoints is tagged (v16+) */
};
static SCHEMA(fetch_resp, kc_fetch_resp, fetch_resp_f);

/* ---- FindCoordinator (key 10) ---- */

static const struct kc_field find_coordinator_req_f[] = {
	F(kc_find_coordinator_req, key, KC_STRING, 0, 3, NEVER, 0, NULL),
	F(kc_find_coordinator_req, key_type, KC_INT8, 1, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_req, coordinator_keys, KC_ARRAY, 4, ANY, NEVER, 0, &kc_str_schema),
};
static SCHEMA(find_coordinator_req, kc_find_coordinator_req, find_coordinator_req_f);

static const struct kc_field find_coordinator_coordinator_f[] = {
	F(kc_find_coordinator_coordinator, key, KC_STRING, 4, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_coordinator, node_id, KC_INT32, 4, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_coordinator, host, KC_STRING, 4, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_coordinator, port, KC_INT32, 4, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_coordinator, error_code, KC_INT16, 4, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_coordinator, error_message, KC_STRING, 4, ANY, 4, 0, NULL),
};
static SCHEMA(find_coordinator_coordinator, kc_find_coordinator_coordinator,
       find_coordinator_coordinator_f);

static const struct kc_field find_coordinator_resp_f[] = {
	F(kc_find_coordinator_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_find_coordinator_resp, error_code, KC_INT16, 0, 3, NEVER, 0, NULL),
	/* nullable "1-3": the field itself ends at 3 */
	F(kc_find_coordinator_resp, error_message, KC_STRING, 1, 3, 1, 0, NULL),
	F(kc_find_coordinator_resp, node_id, KC_INT32, 0, 3, NEVER, 0, NULL),
	F(kc_find_coordinator_resp, host, KC_STRING, 0, 3, NEVER, 0, NULL),
	F(kc_find_coordinator_resp, port, KC_INT32, 0, 3, NEVER, 0, NULL),
	F(kc_find_coordinator_resp, coordinators, KC_ARRAY, 4, ANY, NEVER, 0, &find_coordinator_coordinator),
};
static SCHEMA(find_coordinator_resp, kc_find_coordinator_resp, find_coordinator_resp_f);

/* ---- InitProducerId (key 22) ---- */

static const struct kc_field init_producer_id_req_f[] = {
	F(kc_init_producer_id_req, transactional_id, KC_STRING, 0, ANY, 0, 0, NULL),
	F(kc_init_producer_id_req, transaction_timeout_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_init_producer_id_req, producer_id, KC_INT64, 3, ANY, NEVER, -1, NULL),
	F(kc_init_producer_id_req, producer_epoch, KC_INT16, 3, ANY, NEVER, -1, NULL),
};
static SCHEMA(init_producer_id_req, kc_init_producer_id_req, init_producer_id_req_f);

static const struct kc_field init_producer_id_resp_f[] = {
	F(kc_init_producer_id_resp, throttle_time_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_init_producer_id_resp, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_init_producer_id_resp, producer_id, KC_INT64, 0, ANY, NEVER, -1, NULL),
	F(kc_init_producer_id_resp, producer_epoch, KC_INT16, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(init_producer_id_resp, kc_init_producer_id_resp, init_producer_id_resp_f);

/* ---- CreateTopics (key 19) ---- */

static const struct kc_field create_topics_assignment_f[] = {
	F(kc_create_topics_assignment, partition_index, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_assignment, broker_ids, KC_ARRAY, 0, ANY, NEVER, 0, &kc_i32_schema),
};
static SCHEMA(create_topics_assignment, kc_create_topics_assignment, create_topics_assignment_f);

static const struct kc_field create_topics_req_config_f[] = {
	F(kc_create_topics_req_config, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_req_config, value, KC_STRING, 0, ANY, 0, 0, NULL),
};
static SCHEMA(create_topics_req_config, kc_create_topics_req_config, create_topics_req_config_f);

static const struct kc_field create_topics_req_topic_f[] = {
	F(kc_create_topics_req_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_req_topic, num_partitions, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_req_topic, replication_factor, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_req_topic, assignments, KC_ARRAY, 0, ANY, NEVER, 0, &create_topics_assignment),
	F(kc_create_topics_req_topic, configs, KC_ARRAY, 0, ANY, NEVER, 0, &create_topics_req_config),
};
static SCHEMA(create_topics_req_topic, kc_create_topics_req_topic, create_topics_req_topic_f);

static const struct kc_field create_topics_req_f[] = {
	F(kc_create_topics_req, topics, KC_ARRAY, 0, ANY, NEVER, 0, &create_topics_req_topic),
	F(kc_create_topics_req, timeout_ms, KC_INT32, 0, ANY, NEVER, 60000, NULL),
	F(kc_create_topics_req, validate_only, KC_BOOL, 1, ANY, NEVER, 0, NULL),
};
static SCHEMA(create_topics_req, kc_create_topics_req, create_topics_req_f);

static const struct kc_field create_topics_resp_config_f[] = {
	F(kc_create_topics_resp_config, name, KC_STRING, 5, ANY, NEVER, 0, NULL),
	F(kc_create_topics_resp_config, value, KC_STRING, 5, ANY, 5, 0, NULL),
	F(kc_create_topics_resp_config, read_only, KC_BOOL, 5, ANY, NEVER, 0, NULL),
	F(kc_create_topics_resp_config, config_source, KC_INT8, 5, ANY, NEVER, -1, NULL),
	F(kc_create_topics_resp_config, is_sensitive, KC_BOOL, 5, ANY, NEVER, 0, NULL),
};
static SCHEMA(create_topics_resp_config, kc_create_topics_resp_config, create_topics_resp_config_f);

static const struct kc_field create_topics_resp_topic_f[] = {
	F(kc_create_topics_resp_topic, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	/* TopicId (uuid) is v7+ */
	F(kc_create_topics_resp_topic, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_create_topics_resp_topic, error_message, KC_STRING, 1, ANY, 0, 0, NULL),
	/* TopicConfigErrorCode is tagged (v5+) */
	F(kc_create_topics_resp_topic, num_partitions, KC_INT32, 5, ANY, NEVER, -1, NULL),
	F(kc_create_topics_resp_topic, replication_factor, KC_INT16, 5, ANY, NEVER, -1, NULL),
	F(kc_create_topics_resp_topic, configs, KC_ARRAY, 5, ANY, 5, 0, &create_topics_resp_config),
};
static SCHEMA(create_topics_resp_topic, kc_create_topics_resp_topic, create_topics_resp_topic_f);

static const struct kc_field create_topics_resp_f[] = {
	F(kc_create_topics_resp, throttle_time_ms, KC_INT32, 2, ANY, NEVER, 0, NULL),
	F(kc_create_topics_resp, topics, KC_ARRAY, 0, ANY, NEVER, 0, &create_topics_resp_topic),
};
static SCHEMA(create_topics_resp, kc_create_topics_resp, create_topics_resp_f);

/* ---- DeleteTopics (key 20) ---- */

static const struct kc_field delete_topics_req_topic_f[] = {
	F(kc_delete_topics_req_topic, name, KC_STRING, 6, ANY, 6, -1, NULL),
	/* TopicId (uuid) is v6+ */
};
static SCHEMA(delete_topics_req_topic, kc_delete_topics_req_topic, delete_topics_req_topic_f);

static const struct kc_field delete_topics_req_f[] = {
	F(kc_delete_topics_req, topics, KC_ARRAY, 6, ANY, NEVER, 0, &delete_topics_req_topic),
	F(kc_delete_topics_req, topic_names, KC_ARRAY, 0, 5, NEVER, 0, &kc_str_schema),
	F(kc_delete_topics_req, timeout_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
};
static SCHEMA(delete_topics_req, kc_delete_topics_req, delete_topics_req_f);

static const struct kc_field delete_topics_resp_topic_f[] = {
	F(kc_delete_topics_resp_topic, name, KC_STRING, 0, ANY, 6, 0, NULL),
	/* TopicId (uuid) is v6+ */
	F(kc_delete_topics_resp_topic, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_delete_topics_resp_topic, error_message, KC_STRING, 5, ANY, 5, -1, NULL),
};
static SCHEMA(delete_topics_resp_topic, kc_delete_topics_resp_topic, delete_topics_resp_topic_f);

static const struct kc_field delete_topics_resp_f[] = {
	F(kc_delete_topics_resp, throttle_time_ms, KC_INT32, 1, ANY, NEVER, 0, NULL),
	F(kc_delete_topics_resp, responses, KC_ARRAY, 0, ANY, NEVER, 0, &delete_topics_resp_topic),
};
static SCHEMA(delete_topics_resp, kc_delete_topics_resp, delete_topics_resp_f);

/* ---- DescribeConfigs (key 32) ---- */

static const struct kc_field describe_configs_resource_f[] = {
	F(kc_describe_configs_resource, resource_type, KC_INT8, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_resource, resource_name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_resource, configuration_keys, KC_ARRAY, 0, ANY, 0, 0, &kc_str_schema),
};
static SCHEMA(describe_configs_resource, kc_describe_configs_resource, describe_configs_resource_f);

static const struct kc_field describe_configs_req_f[] = {
	F(kc_describe_configs_req, resources, KC_ARRAY, 0, ANY, NEVER, 0, &describe_configs_resource),
	F(kc_describe_configs_req, include_synonyms, KC_BOOL, 1, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_req, include_documentation, KC_BOOL, 3, ANY, NEVER, 0, NULL),
};
static SCHEMA(describe_configs_req, kc_describe_configs_req, describe_configs_req_f);

static const struct kc_field describe_configs_synonym_f[] = {
	F(kc_describe_configs_synonym, name, KC_STRING, 1, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_synonym, value, KC_STRING, 1, ANY, 0, 0, NULL),
	F(kc_describe_configs_synonym, source, KC_INT8, 1, ANY, NEVER, 0, NULL),
};
static SCHEMA(describe_configs_synonym, kc_describe_configs_synonym, describe_configs_synonym_f);

static const struct kc_field describe_configs_entry_f[] = {
	F(kc_describe_configs_entry, name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_entry, value, KC_STRING, 0, ANY, 0, 0, NULL),
	F(kc_describe_configs_entry, read_only, KC_BOOL, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_entry, is_default, KC_BOOL, 0, 0, NEVER, 0, NULL),
	F(kc_describe_configs_entry, config_source, KC_INT8, 1, ANY, NEVER, -1, NULL),
	F(kc_describe_configs_entry, is_sensitive, KC_BOOL, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_entry, synonyms, KC_ARRAY, 1, ANY, NEVER, 0, &describe_configs_synonym),
	F(kc_describe_configs_entry, config_type, KC_INT8, 3, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_entry, documentation, KC_STRING, 3, ANY, 0, 0, NULL),
};
static SCHEMA(describe_configs_entry, kc_describe_configs_entry, describe_configs_entry_f);

static const struct kc_field describe_configs_result_f[] = {
	F(kc_describe_configs_result, error_code, KC_INT16, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_result, error_message, KC_STRING, 0, ANY, 0, 0, NULL),
	F(kc_describe_configs_result, resource_type, KC_INT8, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_result, resource_name, KC_STRING, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_result, configs, KC_ARRAY, 0, ANY, NEVER, 0, &describe_configs_entry),
};
static SCHEMA(describe_configs_result, kc_describe_configs_result, describe_configs_result_f);

static const struct kc_field describe_configs_resp_f[] = {
	F(kc_describe_configs_resp, throttle_time_ms, KC_INT32, 0, ANY, NEVER, 0, NULL),
	F(kc_describe_configs_resp, results, KC_ARRAY, 0, ANY, NEVER, 0, &describe_configs_result),
};
static SCHEMA(describe_configs_resp, kc_describe_configs_resp, describe_configs_resp_f);

/* ---- the API table: what this codec supports of these APIs ---- */

#define FITS(st) \
	_Static_assert(sizeof(struct st) <= KC_BODY_MAX, #st " fits a body")
FITS(kc_produce_req);
FITS(kc_produce_resp);
FITS(kc_fetch_req);
FITS(kc_fetch_resp);
FITS(kc_find_coordinator_req);
FITS(kc_find_coordinator_resp);
FITS(kc_init_producer_id_req);
FITS(kc_init_producer_id_resp);
FITS(kc_create_topics_req);
FITS(kc_create_topics_resp);
FITS(kc_delete_topics_req);
FITS(kc_delete_topics_resp);
FITS(kc_describe_configs_req);
FITS(kc_describe_configs_resp);

/* key, name, supported min and max, Kafka's first flexible version */
static const struct kc_api apis[] = {
	{KC_API_PRODUCE, "Produce", 3, 7, 9, &produce_req, &produce_resp},
	{KC_API_FETCH, "Fetch", 4, 11, 12, &fetch_req, &fetch_resp},
	{KC_API_FIND_COORDINATOR, "FindCoordinator", 0, 2, 3,
	 &find_coordinator_req, &find_coordinator_resp},
	{KC_API_CREATE_TOPICS, "CreateTopics", 0, 4, 5, &create_topics_req,
	 &create_topics_resp},
	{KC_API_DELETE_TOPICS, "DeleteTopics", 0, 3, 4, &delete_topics_req,
	 &delete_topics_resp},
	{KC_API_INIT_PRODUCER_ID, "InitProducerId", 0, 1, 2,
	 &init_producer_id_req, &init_producer_id_resp},
	{KC_API_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 3, 4,
	 &describe_configs_req, &describe_configs_resp},
};

const struct kc_api_table kc_data_table = {apis, sizeof(apis) / sizeof(apis[0])};
