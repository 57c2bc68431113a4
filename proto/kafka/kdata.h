/*
 * Kafka message bodies for produce, fetch, producer ids, topics and configs (Produce, Fetch, InitProducerId, FindCoordinator, CreateTopics, DeleteTopics, DescribeConfigs): the decoded C structs (field order and names
 * follow Kafka's JSON); their schemas are in schemas_data.c.  Included by
 * kcodec.h.
 */
#ifndef SLUICE_PROTO_KAFKA_KDATA_H
#define SLUICE_PROTO_KAFKA_KDATA_H

#include "proto/kafka/kcodec.h"

#endif
