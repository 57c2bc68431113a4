/*
 * Kafka message bodies for consumer groups and committed offsets (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups): the decoded C structs (field order and names
 * follow Kafka's JSON); their schemas are in schemas_group.c.  Included by
 * kcodec.h.
 */
#ifndef SLUICE_PROTO_KAFKA_KGROUP_H
#define SLUICE_PROTO_KAFKA_KGROUP_H

#include "proto/kafka/kcodec.h"

#endif
