/*
 * Kafka's topic ids (a UUID per topic, KIP-516: Metadata v10+, Fetch v13+,
 * CreateTopics v7+, DeleteTopics v6+) for sluice's topics, whose ids are
 * numbers from 1 that are never reused (control/metadata.h): the UUID is
 * a fixed 12-byte prefix and the number, big-endian, in the last 4 bytes.
 * A topic deleted and created again gets a new number, so a new UUID, as
 * in Kafka.  The prefix is a version-4-shaped constant whose base64 form
 * does not start with '-' (Kafka avoids those) and is never Kafka's
 * reserved ids (all zeros, or zeros then 1).
 */
#ifndef SLUICE_PROTO_TOPIC_UUID_H
#define SLUICE_PROTO_TOPIC_UUID_H

#include <stdint.h>
#include <string.h>

static const uint8_t sl_topic_uuid_prefix[12] = {
	0x5a, 0x1c, 0xe0, 0x7b, 0x3d, 0x11, 0x4e, 0x96,
	0x8c, 0x51, 0x00, 0x00,
};

/* The UUID of topic id (>= 1). */
static inline void sl_topic_uuid(uint32_t id, uint8_t out[16])
{
	memcpy(out, sl_topic_uuid_prefix, sizeof(sl_topic_uuid_prefix));
	out[12] = (uint8_t)(id >> 24);
	out[13] = (uint8_t)(id >> 16);
	out[14] = (uint8_t)(id >> 8);
	out[15] = (uint8_t)id;
}

/* The topic id a UUID names, or 0 when it is not one of sluice's (then no
 * topic has it: Kafka's UNKNOWN_TOPIC_ID). */
static inline uint32_t sl_topic_uuid_id(const uint8_t in[16])
{
	if (memcmp(in, sl_topic_uuid_prefix, sizeof(sl_topic_uuid_prefix)))
		return 0;
	return (uint32_t)in[12] << 24 | (uint32_t)in[13] << 16 |
	       (uint32_t)in[14] << 8 | in[15];
}

#endif
