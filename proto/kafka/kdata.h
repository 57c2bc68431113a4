/*
 * Kafka message bodies for produce, fetch, producer ids, topics and configs
 * (Produce, Fetch, FindCoordinator, InitProducerId, CreateTopics,
 * DeleteTopics, DescribeConfigs): the decoded C structs (field order and
 * names follow Kafka's JSON); their schemas and supported versions are in
 * schemas_data.c.  Included by kcodec.h.
 *
 * Every top-level body struct here fits in union kc_request / kc_response
 * (a _Static_assert in schemas_data.c checks it): decode into the union and
 * read it through the struct, e.g. (struct kc_produce_req *)body.raw.
 *
 * Arrays of int32 are laid out as int32_t items, arrays of strings as
 * struct kc_str items.  A comment gives the versions of every field that
 * is not in all versions ("v3+", "v0-12"); fields absent from a version
 * decode to the default named in the comment (0 / empty when none).
 * Records fields stay opaque byte ranges (record_batch.h reads them).
 */
#ifndef SLUICE_PROTO_KAFKA_KDATA_H
#define SLUICE_PROTO_KAFKA_KDATA_H

#include "proto/kafka/kcodec.h"

enum kc_data_api_key {
	KC_API_PRODUCE = 0,
	KC_API_FETCH = 1,
	KC_API_FIND_COORDINATOR = 10,
	KC_API_CREATE_TOPICS = 19,
	KC_API_DELETE_TOPICS = 20,
	KC_API_INIT_PRODUCER_ID = 22,
	KC_API_DESCRIBE_CONFIGS = 32,
};

/* ---- Produce (key 0): ProduceRequest.json, ProduceResponse.json ---- */

struct kc_produce_req_partition {
	int32_t index;
	struct kc_bytes records;       /* nullable; record batches, opaque */
};
struct kc_produce_req_topic {
	struct kc_str name;
	struct kc_array partition_data; /* of kc_produce_req_partition */
};
struct kc_produce_req {                /* ProduceRequest v3-7 */
	struct kc_str transactional_id; /* v3+, nullable, default null */
	int16_t acks;                  /* 0, 1 or -1 */
	int32_t timeout_ms;
	struct kc_array topic_data;    /* of kc_produce_req_topic */
};

struct kc_produce_record_error {
	int32_t batch_index;           /* v8+ */
	struct kc_str batch_index_error_message; /* v8+, nullable, default null */
};
struct kc_produce_resp_partition {
	int32_t index;
	int16_t error_code;
	int64_t base_offset;
	int64_t log_append_time_ms;    /* v2+, default -1 */
	int64_t log_start_offset;      /* v5+, default -1 */
	struct kc_array record_errors; /* of kc_produce_record_error, v8+ */
	struct kc_str error_message;   /* v8+, nullable, default null */
};
struct kc_produce_resp_topic {
	struct kc_str name;
	struct kc_array partition_responses; /* of kc_produce_resp_partition */
};
struct kc_produce_resp {               /* ProduceResponse v3-7 */
	struct kc_array responses;     /* of kc_produce_resp_topic */
	int32_t throttle_time_ms;      /* v1+ */
};

/* ---- Fetch (key 1): FetchRequest.json, FetchResponse.json ---- */

struct kc_fetch_req_partition {
	int32_t partition;
	int32_t current_leader_epoch;  /* v9+, default -1 */
	int64_t fetch_offset;
	int32_t last_fetched_epoch;    /* v12+, default -1 */
	int64_t log_start_offset;      /* v5+, default -1 */
	int32_t partition_max_bytes;
};
struct kc_fetch_req_topic {
	struct kc_str topic;           /* v0-12 (v13+ names topics by id) */
	struct kc_array partitions;    /* of kc_fetch_req_partition */
};
struct kc_fetch_forgotten_topic {
	struct kc_str topic;           /* v7-12 */
	struct kc_array partitions;    /* of int32_t, v7+ */
};
struct kc_fetch_req {                  /* FetchRequest v4-11 */
	int32_t replica_id;            /* v0-14, default -1 (consumer) */
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;             /* v3+, default 0x7fffffff */
	int8_t isolation_level;        /* v4+; 0 read uncommitted, 1 committed */
	int32_t session_id;            /* v7+ */
	int32_t session_epoch;         /* v7+, default -1 */
	struct kc_array topics;        /* of kc_fetch_req_topic */
	struct kc_array forgotten_topics_data; /* of kc_fetch_forgotten_topic, v7+ */
	struct kc_str rack_id;         /* v11+, default "" */
};

struct kc_fetch_aborted_txn {
	int64_t producer_id;           /* v4+ */
	int64_t first_offset;          /* v4+ */
};
struct kc_fetch_resp_partition {
	int32_t partition_index;
	int16_t error_code;
	int64_t high_watermark;
	int64_t last_stable_offset;    /* v4+, default -1 */
	int64_t log_start_offset;      /* v5+, default -1 */
	struct kc_array aborted_transactions; /* of kc_fetch_aborted_txn, v4+,
						 nullable */
	int32_t preferred_read_replica; /* v11+, default -1 */
	struct kc_bytes records;       /* nullable; record batches, opaque */
};
struct kc_fetch_resp_topic {
	struct kc_str topic;           /* v0-12 */
	struct kc_array partitions;    /* of kc_fetch_resp_partition */
};
struct kc_fetch_resp {                 /* FetchResponse v4-11 */
	int32_t throttle_time_ms;      /* v1+ */
	int16_t error_code;            /* v7+ */
	int32_t session_id;            /* v7+ */
	struct kc_array responses;     /* of kc_fetch_resp_topic */
};

/* ---- FindCoordinator (key 10): FindCoordinatorRequest.json,
 * FindCoordinatorResponse.json ---- */

struct kc_find_coordinator_req {       /* FindCoordinatorRequest v0-2 */
	struct kc_str key;             /* v0-3 */
	int8_t key_type;               /* v1+; 0 group, 1 transaction */
	struct kc_array coordinator_keys; /* of kc_str, v4+ */
};

struct kc_find_coordinator_coordinator {
	struct kc_str key;             /* v4+ */
	int32_t node_id;               /* v4+ */
	struct kc_str host;            /* v4+ */
	int32_t port;                  /* v4+ */
	int16_t error_code;            /* v4+ */
	struct kc_str error_message;   /* v4+, nullable */
};
struct kc_find_coordinator_resp {      /* FindCoordinatorResponse v0-2 */
	int32_t throttle_time_ms;      /* v1+ */
	int16_t error_code;            /* v0-3 */
	struct kc_str error_message;   /* v1-3, nullable */
	int32_t node_id;               /* v0-3 */
	struct kc_str host;            /* v0-3 */
	int32_t port;                  /* v0-3 */
	struct kc_array coordinators;  /* of kc_find_coordinator_coordinator, v4+ */
};

/* ---- InitProducerId (key 22): InitProducerIdRequest.json,
 * InitProducerIdResponse.json ---- */

struct kc_init_producer_id_req {       /* InitProducerIdRequest v0-1 */
	struct kc_str transactional_id; /* nullable */
	int32_t transaction_timeout_ms;
	int64_t producer_id;           /* v3+, default -1 */
	int16_t producer_epoch;        /* v3+, default -1 */
};
struct kc_init_producer_id_resp {      /* InitProducerIdResponse v0-1 */
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t producer_id;           /* default -1 */
	int16_t producer_epoch;
};

/* ---- CreateTopics (key 19): CreateTopicsRequest.json,
 * CreateTopicsResponse.json ---- */

struct kc_create_topics_assignment {
	int32_t partition_index;
	struct kc_array broker_ids;    /* of int32_t */
};
struct kc_create_topics_req_config {
	struct kc_str name;
	struct kc_str value;           /* nullable */
};
struct kc_create_topics_req_topic {
	struct kc_str name;
	int32_t num_partitions;        /* -1: default (or manual assignment) */
	int16_t replication_factor;    /* -1: default (or manual assignment) */
	struct kc_array assignments;   /* of kc_create_topics_assignment */
	struct kc_array configs;       /* of kc_create_topics_req_config */
};
struct kc_create_topics_req {          /* CreateTopicsRequest v0-4 */
	struct kc_array topics;        /* of kc_create_topics_req_topic */
	int32_t timeout_ms;            /* default 60000 */
	bool validate_only;            /* v1+ */
};

struct kc_create_topics_resp_config {
	struct kc_str name;            /* v5+ */
	struct kc_str value;           /* v5+, nullable */
	bool read_only;                /* v5+ */
	int8_t config_source;          /* v5+, default -1 */
	bool is_sensitive;             /* v5+ */
};
struct kc_create_topics_resp_topic {
	struct kc_str name;
	/* TopicId (uuid) is v7+ */
	int16_t error_code;
	struct kc_str error_message;   /* v1+, nullable */
	int32_t num_partitions;        /* v5+, default -1 */
	int16_t replication_factor;    /* v5+, default -1 */
	struct kc_array configs;       /* of kc_create_topics_resp_config, v5+,
					  nullable */
};
struct kc_create_topics_resp {         /* CreateTopicsResponse v0-4 */
	int32_t throttle_time_ms;      /* v2+ */
	struct kc_array topics;        /* of kc_create_topics_resp_topic */
};

/* ---- DeleteTopics (key 20): DeleteTopicsRequest.json,
 * DeleteTopicsResponse.json ---- */

struct kc_delete_topics_req_topic {
	struct kc_str name;            /* v6+, nullable, default null */
	/* TopicId (uuid) is v6+ */
};
struct kc_delete_topics_req {          /* DeleteTopicsRequest v0-3 */
	struct kc_array topics;        /* of kc_delete_topics_req_topic, v6+ */
	struct kc_array topic_names;   /* of kc_str, v0-5 */
	int32_t timeout_ms;
};

struct kc_delete_topics_resp_topic {
	struct kc_str name;            /* nullable v6+ */
	/* TopicId (uuid) is v6+ */
	int16_t error_code;
	struct kc_str error_message;   /* v5+, nullable, default null */
};
struct kc_delete_topics_resp {         /* DeleteTopicsResponse v0-3 */
	int32_t throttle_time_ms;      /* v1+ */
	struct kc_array responses;     /* of kc_delete_topics_resp_topic */
};

/* ---- DescribeConfigs (key 32): DescribeConfigsRequest.json,
 * DescribeConfigsResponse.json ---- */

/* Resource types (Kafka's ConfigResource.Type) and config sources. */
#define KC_RESOURCE_TOPIC 2
#define KC_RESOURCE_BROKER 4
#define KC_CONFIG_SOURCE_TOPIC 1         /* DYNAMIC_TOPIC_CONFIG */
#define KC_CONFIG_SOURCE_STATIC_BROKER 4 /* STATIC_BROKER_CONFIG */
#define KC_CONFIG_SOURCE_DEFAULT 5       /* DEFAULT_CONFIG */

struct kc_describe_configs_resource {
	int8_t resource_type;          /* KC_RESOURCE_* */
	struct kc_str resource_name;
	struct kc_array configuration_keys; /* of kc_str; nullable: null = all */
};
struct kc_describe_configs_req {       /* DescribeConfigsRequest v0-3 */
	struct kc_array resources;     /* of kc_describe_configs_resource */
	bool include_synonyms;         /* v1+ */
	bool include_documentation;    /* v3+ */
};

struct kc_describe_configs_synonym {
	struct kc_str name;            /* v1+ */
	struct kc_str value;           /* v1+, nullable */
	int8_t source;                 /* v1+ */
};
struct kc_describe_configs_entry {
	struct kc_str name;
	struct kc_str value;           /* nullable */
	bool read_only;
	bool is_default;               /* v0 only */
	int8_t config_source;          /* v1+, default -1; KC_CONFIG_SOURCE_* */
	bool is_sensitive;
	struct kc_array synonyms;      /* of kc_describe_configs_synonym, v1+ */
	int8_t config_type;            /* v3+; 1 boolean, 2 string, 3 int,
					  5 long, 7 list (Kafka's ConfigType) */
	struct kc_str documentation;   /* v3+, nullable */
};
struct kc_describe_configs_result {
	int16_t error_code;
	struct kc_str error_message;   /* nullable */
	int8_t resource_type;
	struct kc_str resource_name;
	struct kc_array configs;       /* of kc_describe_configs_entry */
};
struct kc_describe_configs_resp {      /* DescribeConfigsResponse v0-3 */
	int32_t throttle_time_ms;
	struct kc_array results;       /* of kc_describe_configs_result */
};

#endif
