/*
 * The sluice native protocol, version 1 (docs/protocol.md is the full
 * reference).  Big-endian throughout.
 *
 * Header, 16 bytes:
 *    0 u16 magic 0x534C   2 u8 version 1   3 u8 opcode (| 0x80: response)
 *    4 u32 frame length (header included)   8 u32 correlation id
 *   12 i16 error (responses)   14 u16 flags (0)
 *
 * Fixed bodies (offsets from the start of the frame):
 *   PRODUCE      16 u32 topic id, 20 i32 partition, 24 i16 acks,
 *                26 u16 0, 28 u32 timeout ms, 32 RecordBatch v2
 *   PRODUCE resp 16 u32 topic id, 20 i32 partition, 24 i64 base offset,
 *                32 i64 last offset, 40 i64 log start, 48 u32 throttle ms,
 *                52 u32 0                                      (56 bytes)
 *   FETCH        16 u32 topic id, 20 i32 partition, 24 i64 offset,
 *                32 u32 max bytes, 36 u32 max wait ms, 40 u32 min bytes,
 *                44 u8 isolation, 45 u8[3] 0                   (48 bytes)
 *   FETCH resp   16 u32 topic id, 20 i32 partition, 24 i64 high watermark,
 *                32 i64 log start, 40 i64 log end, 48 u32 records length,
 *                52 u32 0, 56 records
 *   LIST_OFFSETS 16 u32 topic id, 20 i32 partition, 24 i64 timestamp (32)
 *   LIST resp    ... 24 i64 offset, 32 i64 timestamp             (40)
 *   METADATA     16 u16 count, 18 u16 0, names: u16 length + bytes
 *   METADATA resp 16 u16 udp port, 18 u16 tcp port, 20 u32 udp max frame,
 *                24 u32 topic count, 28 entries: u32 id, i32 partitions,
 *                i16 error, u8 durability, u8 0, i64 retention ms,
 *                i64 retention bytes, i64 segment bytes, u16 name length,
 *                u16 0, name
 *   CREATE_TOPIC 16 i32 partitions, 20 u8 durability, 21 u8[3] 0,
 *                24 i64 retention ms, 32 i64 retention bytes,
 *                40 i64 segment bytes, 48 u16 name length, 50 u16 0, 52 name
 *   CREATE resp  16 u32 topic id, 20 u32 0                      (24)
 *   DELETE_TOPIC 16 u16 name length, 18 u16 0, 20 name
 *   INIT_PRODUCER_ID 16 u64 0 (24); resp 16 i64 id, 24 i16 epoch, 26 0 (32)
 *   LEADERS      as METADATA
 *   LEADERS resp 16 u32 broker count, 20 u32 topic count, 24 brokers:
 *                i32 node id, u16 tcp port, u16 udp port, u16 host
 *                length, u16 0, host (empty: the address reached); then
 *                topics: u32 id, i32 partitions, i16 error, u16 name
 *                length, name, partitions x (i32 leader, i32 leader epoch)
 *   QUEUE_RECEIVE 16 u8[16] member, 32 u32 max messages, 36 u32 max wait
 *                ms, 40 u16 group length, 42 u16 topic length, 44 u32 0,
 *                48 group, topic
 *   QUEUE_RECEIVE resp 16 u32 topic id, 20 u32 lock ms, 24 u16 partition
 *                count, 26 u16 0, 28 u32 0, 32 partitions: i32 partition,
 *                i16 error, u16 range count, u32 records length, u32 0,
 *                ranges x (i64 first, i64 last, u16 delivery count, 6 x 0),
 *                records
 *   QUEUE_ACK    16 u8[16] member, 32 u16 group length, 34 u16 topic
 *                length, 36 u32 count, 40 group, topic, count x (i64 first,
 *                i64 last, i32 partition, u32 delay ms, u8 type, 7 x 0)
 *   QUEUE_ACK resp 16 u32 count, 20 count x (i16 error, u16 0)
 *   ROUTE        16 u8 op, 17 u8 0, 18 u16 name length, 20 u16 rule
 *                length, 22 u16 0, 24 name, rule
 *   ROUTE resp   16 u32 count, 20 u16 message length, 22 u16 0, 24
 *                message, entries: u16 name length, u16 rule length, u32 0,
 *                u64 copied, name, rule
 *
 * A frame is valid if and only if its magic and version match, its length
 * covers the header and is within the transport's limit, and its body is at
 * least the opcode's fixed size with every inner length inside the frame.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "proto/native.h"
#include "proto/record_batch.h"

#define ERR(name) (-SN_ERR_##name)

const char *sn_error_name(int code)
{
	switch (code) {
#define SN_NAME_CASE(name, value, msg) \
	case value:                     \
		return #name;
		SN_ERRORS(SN_NAME_CASE)
#undef SN_NAME_CASE
	}
	return "UNKNOWN_ERROR_CODE";
}

const char *sn_error_message(int code)
{
	switch (code) {
#define SN_MSG_CASE(name, value, msg) \
	case value:                    \
		return msg;
		SN_ERRORS(SN_MSG_CASE)
#undef SN_MSG_CASE
	}
	return "unknown error code";
}

long sn_header_parse(const uint8_t *p, size_t avail, size_t max_frame,
		     struct sn_header *h)
{
	if (avail < SN_HEADER_BYTES)
		return 0;
	h->version = p[2];
	h->opcode = p[3];
	h->length = rb_be32(p + 4);
	h->corr = rb_be32(p + 8);
	h->error = (int16_t)rb_be16(p + 12);
	h->flags = rb_be16(p + 14);
	if (rb_be16(p) != SN_MAGIC)
		return ERR(INVALID_REQUEST);
	if (h->length < SN_HEADER_BYTES || h->length > max_frame)
		return ERR(INVALID_REQUEST);
	if (h->version != SN_VERSION)
		return ERR(UNSUPPORTED_VERSION);
	return (long)h->length;
}

void sn_header_put(uint8_t *p, uint8_t opcode, uint32_t length, uint32_t corr,
		   int16_t error)
{
	rb_put16(p, SN_MAGIC);
	p[2] = SN_VERSION;
	p[3] = opcode;
	rb_put32(p + 4, length);
	rb_put32(p + 8, corr);
	rb_put16(p + 12, (uint16_t)error);
	rb_put16(p + 14, 0);
}

int sn_topic_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > SN_NAME_MAX)
		return 0;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- encoders ---- */

long sn_encode_produce_head(uint8_t *buf, uint32_t corr,
			    const struct sn_produce *r)
{
	sn_header_put(buf, SN_PRODUCE, SN_PRODUCE_REQ_BYTES + r->batch_len, corr, 0);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put16(buf + 24, (uint16_t)r->acks);
	rb_put16(buf + 26, 0);
	rb_put32(buf + 28, r->timeout_ms);
	return SN_PRODUCE_REQ_BYTES;
}

long sn_encode_produce(uint8_t *buf, size_t cap, uint32_t corr,
		       const struct sn_produce *r)
{
	size_t len = SN_PRODUCE_REQ_BYTES + (size_t)r->batch_len;
	if (cap < len)
		return -ENOBUFS;
	sn_encode_produce_head(buf, corr, r);
	memcpy(buf + SN_PRODUCE_REQ_BYTES, r->batch, r->batch_len);
	return (long)len;
}

long sn_encode_produce_resp(uint8_t *buf, size_t cap, uint32_t corr,
			    int16_t error, const struct sn_produce_resp *r)
{
	if (cap < SN_PRODUCE_RESP_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_PRODUCE | SN_RESPONSE, SN_PRODUCE_RESP_BYTES, corr,
		      error);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put64(buf + 24, (uint64_t)r->base_offset);
	rb_put64(buf + 32, (uint64_t)r->last_offset);
	rb_put64(buf + 40, (uint64_t)r->log_start_offset);
	rb_put32(buf + 48, r->throttle_ms);
	rb_put32(buf + 52, 0);
	return SN_PRODUCE_RESP_BYTES;
}

long sn_encode_fetch(uint8_t *buf, size_t cap, uint32_t corr,
		     const struct sn_fetch *r)
{
	if (cap < SN_FETCH_REQ_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_FETCH, SN_FETCH_REQ_BYTES, corr, 0);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put64(buf + 24, (uint64_t)r->offset);
	rb_put32(buf + 32, r->max_bytes);
	rb_put32(buf + 36, r->max_wait_ms);
	rb_put32(buf + 40, r->min_bytes);
	buf[44] = r->isolation;
	buf[45] = buf[46] = buf[47] = 0;
	return SN_FETCH_REQ_BYTES;
}

long sn_encode_fetch_resp_head(uint8_t *buf, uint32_t corr, int16_t error,
			       const struct sn_fetch_resp *r)
{
	sn_header_put(buf, SN_FETCH | SN_RESPONSE,
		      SN_FETCH_RESP_BYTES + r->records_len, corr, error);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put64(buf + 24, (uint64_t)r->high_watermark);
	rb_put64(buf + 32, (uint64_t)r->log_start_offset);
	rb_put64(buf + 40, (uint64_t)r->log_end_offset);
	rb_put32(buf + 48, r->records_len);
	rb_put32(buf + 52, 0);
	return SN_FETCH_RESP_BYTES;
}

long sn_encode_list_offsets(uint8_t *buf, size_t cap, uint32_t corr,
			    const struct sn_list_offsets *r)
{
	if (cap < SN_LIST_OFFSETS_REQ_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_LIST_OFFSETS, SN_LIST_OFFSETS_REQ_BYTES, corr, 0);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put64(buf + 24, (uint64_t)r->timestamp);
	return SN_LIST_OFFSETS_REQ_BYTES;
}

long sn_encode_list_offsets_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error,
				 const struct sn_list_offsets_resp *r)
{
	if (cap < SN_LIST_OFFSETS_RESP_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_LIST_OFFSETS | SN_RESPONSE,
		      SN_LIST_OFFSETS_RESP_BYTES, corr, error);
	rb_put32(buf + 16, r->topic_id);
	rb_put32(buf + 20, (uint32_t)r->partition);
	rb_put64(buf + 24, (uint64_t)r->offset);
	rb_put64(buf + 32, (uint64_t)r->timestamp);
	return SN_LIST_OFFSETS_RESP_BYTES;
}

/* METADATA's and LEADERS' request: a count and names. */
static long encode_names(uint8_t *buf, size_t cap, uint8_t opcode,
			 uint32_t corr, const char *const *names,
			 unsigned count)
{
	_Static_assert(SN_METADATA_REQ_BYTES == SN_LEADERS_REQ_BYTES,
		       "one layout");
	size_t len = SN_METADATA_REQ_BYTES;
	if (count > 0xffff)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++)
		len += 2 + strlen(names[i]);
	if (cap < len || len > SN_TCP_MAX_FRAME)
		return -ENOBUFS;
	sn_header_put(buf, opcode, (uint32_t)len, corr, 0);
	rb_put16(buf + 16, (uint16_t)count);
	rb_put16(buf + 18, 0);
	size_t p = SN_METADATA_REQ_BYTES;
	for (unsigned i = 0; i < count; i++) {
		size_t n = strlen(names[i]);
		if (n > 0xffff)
			return -EINVAL;
		rb_put16(buf + p, (uint16_t)n);
		memcpy(buf + p + 2, names[i], n);
		p += 2 + n;
	}
	return (long)len;
}

long sn_encode_metadata(uint8_t *buf, size_t cap, uint32_t corr,
			const char *const *names, unsigned count)
{
	return encode_names(buf, cap, SN_METADATA, corr, names, count);
}

long sn_encode_leaders(uint8_t *buf, size_t cap, uint32_t corr,
		       const char *const *names, unsigned count)
{
	return encode_names(buf, cap, SN_LEADERS, corr, names, count);
}

void sn_leaders_resp_begin(struct sn_leaders_builder *b, uint8_t *buf,
			   size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = SN_LEADERS_RESP_BYTES;
	b->brokers = b->topics = 0;
	b->failed = cap < SN_LEADERS_RESP_BYTES;
}

int sn_leaders_resp_broker(struct sn_leaders_builder *b,
			   const struct sn_leaders_broker *br)
{
	size_t need = SN_LEADERS_BROKER_BYTES + br->host_len +
		      br->udp_host_len;
	/* brokers come before the first topic */
	if (b->failed || b->topics || br->host_len > SN_HOST_MAX ||
	    br->udp_host_len > SN_HOST_MAX || b->len + need > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	rb_put32(p, (uint32_t)br->node_id);
	rb_put16(p + 4, br->tcp_port);
	rb_put16(p + 6, br->udp_port);
	rb_put16(p + 8, br->host_len);
	rb_put16(p + 10, br->udp_host_len);
	if (br->host_len)
		memcpy(p + 12, br->host, br->host_len);
	if (br->udp_host_len)
		memcpy(p + 12 + br->host_len, br->udp_host, br->udp_host_len);
	b->len += need;
	b->brokers++;
	return 0;
}

int sn_leaders_resp_topic(struct sn_leaders_builder *b,
			  const struct sn_leaders_topic *t,
			  const int32_t *leaders, const int32_t *epochs)
{
	int32_t n = t->error || !leaders ? 0 : t->partitions;
	if (n < 0 || n > SN_PARTITIONS_MAX) {
		b->failed = 1;
		return -ENOBUFS;
	}
	size_t need = SN_LEADERS_TOPIC_BYTES + t->name_len + 8 * (size_t)n;
	if (b->failed || b->len + need > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	rb_put32(p, t->error ? 0 : t->topic_id);
	rb_put32(p + 4, (uint32_t)n);
	rb_put16(p + 8, (uint16_t)t->error);
	rb_put16(p + 10, t->name_len);
	memcpy(p + 12, t->name, t->name_len);
	p += 12 + t->name_len;
	for (int32_t i = 0; i < n; i++, p += 8) {
		rb_put32(p, (uint32_t)leaders[i]);
		rb_put32(p + 4, (uint32_t)epochs[i]);
	}
	b->len += need;
	b->topics++;
	return 0;
}

long sn_leaders_resp_finish(struct sn_leaders_builder *b, uint32_t corr,
			    int16_t error)
{
	if (b->failed)
		return -ENOBUFS;
	sn_header_put(b->buf, SN_LEADERS | SN_RESPONSE, (uint32_t)b->len, corr,
		      error);
	rb_put32(b->buf + 16, b->brokers);
	rb_put32(b->buf + 20, b->topics);
	return (long)b->len;
}

void sn_metadata_resp_begin(struct sn_metadata_builder *b, uint8_t *buf,
			    size_t cap, uint16_t udp_port, uint16_t tcp_port,
			    uint32_t udp_max_frame)
{
	b->buf = buf;
	b->cap = cap;
	b->len = SN_METADATA_RESP_BYTES;
	b->count = 0;
	b->failed = cap < SN_METADATA_RESP_BYTES;
	if (b->failed)
		return;
	rb_put16(buf + 16, udp_port);
	rb_put16(buf + 18, tcp_port);
	rb_put32(buf + 20, udp_max_frame);
}

int sn_metadata_resp_add(struct sn_metadata_builder *b,
			 const struct sn_topic_info *t)
{
	size_t need = SN_TOPIC_ENTRY_BYTES + t->name_len;
	if (b->failed || b->len + need > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	rb_put32(p, t->topic_id);
	rb_put32(p + 4, (uint32_t)t->partitions);
	rb_put16(p + 8, (uint16_t)t->error);
	p[10] = t->durability;
	p[11] = 0;
	rb_put64(p + 12, (uint64_t)t->retention_ms);
	rb_put64(p + 20, (uint64_t)t->retention_bytes);
	rb_put64(p + 28, (uint64_t)t->segment_bytes);
	rb_put16(p + 36, t->name_len);
	rb_put16(p + 38, 0);
	memcpy(p + 40, t->name, t->name_len);
	b->len += need;
	b->count++;
	return 0;
}

long sn_metadata_resp_finish(struct sn_metadata_builder *b, uint32_t corr,
			     int16_t error)
{
	if (b->failed)
		return -ENOBUFS;
	sn_header_put(b->buf, SN_METADATA | SN_RESPONSE, (uint32_t)b->len, corr,
		      error);
	rb_put32(b->buf + 24, b->count);
	return (long)b->len;
}

long sn_encode_create_topic(uint8_t *buf, size_t cap, uint32_t corr,
			    const struct sn_create_topic *r)
{
	size_t len = SN_CREATE_REQ_BYTES + (size_t)r->name_len;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_CREATE_TOPIC, (uint32_t)len, corr, 0);
	rb_put32(buf + 16, (uint32_t)r->partitions);
	buf[20] = r->durability;
	buf[21] = buf[22] = buf[23] = 0;
	rb_put64(buf + 24, (uint64_t)r->retention_ms);
	rb_put64(buf + 32, (uint64_t)r->retention_bytes);
	rb_put64(buf + 40, (uint64_t)r->segment_bytes);
	rb_put16(buf + 48, r->name_len);
	rb_put16(buf + 50, 0);
	memcpy(buf + 52, r->name, r->name_len);
	return (long)len;
}

long sn_encode_create_topic_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error, uint32_t topic_id)
{
	if (cap < SN_CREATE_RESP_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_CREATE_TOPIC | SN_RESPONSE, SN_CREATE_RESP_BYTES,
		      corr, error);
	rb_put32(buf + 16, topic_id);
	rb_put32(buf + 20, 0);
	return SN_CREATE_RESP_BYTES;
}

long sn_encode_delete_topic(uint8_t *buf, size_t cap, uint32_t corr,
			    const char *name, uint16_t name_len)
{
	size_t len = SN_DELETE_REQ_BYTES + (size_t)name_len;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_DELETE_TOPIC, (uint32_t)len, corr, 0);
	rb_put16(buf + 16, name_len);
	rb_put16(buf + 18, 0);
	memcpy(buf + 20, name, name_len);
	return (long)len;
}

long sn_encode_delete_topic_resp(uint8_t *buf, size_t cap, uint32_t corr,
				 int16_t error)
{
	if (cap < SN_HEADER_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_DELETE_TOPIC | SN_RESPONSE, SN_HEADER_BYTES, corr,
		      error);
	return SN_HEADER_BYTES;
}

long sn_encode_init_pid(uint8_t *buf, size_t cap, uint32_t corr)
{
	if (cap < SN_INIT_PID_REQ_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_INIT_PRODUCER_ID, SN_INIT_PID_REQ_BYTES, corr, 0);
	memset(buf + 16, 0, 8);
	return SN_INIT_PID_REQ_BYTES;
}

long sn_encode_init_pid_resp(uint8_t *buf, size_t cap, uint32_t corr,
			     int16_t error, int64_t producer_id, int16_t epoch)
{
	if (cap < SN_INIT_PID_RESP_BYTES)
		return -ENOBUFS;
	sn_header_put(buf, SN_INIT_PRODUCER_ID | SN_RESPONSE,
		      SN_INIT_PID_RESP_BYTES, corr, error);
	rb_put64(buf + 16, (uint64_t)producer_id);
	rb_put16(buf + 24, (uint16_t)epoch);
	memset(buf + 26, 0, 6);
	return SN_INIT_PID_RESP_BYTES;
}

static size_t resp_size(uint8_t opcode)
{
	switch (opcode) {
	case SN_PRODUCE: return SN_PRODUCE_RESP_BYTES;
	case SN_FETCH: return SN_FETCH_RESP_BYTES;
	case SN_LIST_OFFSETS: return SN_LIST_OFFSETS_RESP_BYTES;
	case SN_METADATA: return SN_METADATA_RESP_BYTES;
	case SN_CREATE_TOPIC: return SN_CREATE_RESP_BYTES;
	case SN_INIT_PRODUCER_ID: return SN_INIT_PID_RESP_BYTES;
	case SN_LEADERS: return SN_LEADERS_RESP_BYTES;
	case SN_QUEUE_RECEIVE: return SN_QRECV_RESP_BYTES;
	case SN_QUEUE_ACK: return SN_QACK_RESP_BYTES;
	case SN_ROUTE: return SN_ROUTE_RESP_BYTES;
	default: return SN_HEADER_BYTES;
	}
}

long sn_encode_error_resp(uint8_t *buf, size_t cap, uint8_t opcode,
			  uint32_t corr, int16_t error)
{
	size_t len = resp_size(opcode & ~SN_RESPONSE);
	if (cap < len)
		return -ENOBUFS;
	memset(buf, 0, len);
	sn_header_put(buf, (uint8_t)(opcode | SN_RESPONSE), (uint32_t)len, corr,
		      error);
	if (len >= 32 && (opcode & ~SN_RESPONSE) != SN_METADATA &&
	    (opcode & ~SN_RESPONSE) != SN_INIT_PRODUCER_ID &&
	    (opcode & ~SN_RESPONSE) != SN_CREATE_TOPIC &&
	    (opcode & ~SN_RESPONSE) != SN_QUEUE_RECEIVE &&
	    (opcode & ~SN_RESPONSE) != SN_ROUTE)
		rb_put64(buf + 24, (uint64_t)-1); /* offset fields: -1 */
	return (long)len;
}

/* ---- decoders ---- */

/* The frame's own length must match len and cover the fixed body. */
static int check_frame(const uint8_t *f, size_t len, uint8_t opcode,
		       size_t fixed)
{
	if (len < SN_HEADER_BYTES || len < fixed)
		return ERR(INVALID_REQUEST);
	if (rb_be16(f) != SN_MAGIC || rb_be32(f + 4) != len)
		return ERR(INVALID_REQUEST);
	if (f[2] != SN_VERSION)
		return ERR(UNSUPPORTED_VERSION);
	if (f[3] != opcode)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_decode_produce(const uint8_t *f, size_t len, struct sn_produce *r)
{
	int rc = check_frame(f, len, SN_PRODUCE, SN_PRODUCE_REQ_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->acks = (int16_t)rb_be16(f + 24);
	r->timeout_ms = rb_be32(f + 28);
	r->batch = f + SN_PRODUCE_REQ_BYTES;
	r->batch_len = (uint32_t)(len - SN_PRODUCE_REQ_BYTES);
	if (r->acks != 0 && r->acks != 1 && r->acks != -1)
		return ERR(INVALID_REQUIRED_ACKS);
	if (r->batch_len < RB_HEADER_BYTES)
		return ERR(CORRUPT_MESSAGE);
	return 0;
}

int sn_decode_produce_resp(const uint8_t *f, size_t len,
			   struct sn_produce_resp *r)
{
	int rc = check_frame(f, len, SN_PRODUCE | SN_RESPONSE,
			     SN_PRODUCE_RESP_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->base_offset = (int64_t)rb_be64(f + 24);
	r->last_offset = (int64_t)rb_be64(f + 32);
	r->log_start_offset = (int64_t)rb_be64(f + 40);
	r->throttle_ms = rb_be32(f + 48);
	return 0;
}

int sn_decode_fetch(const uint8_t *f, size_t len, struct sn_fetch *r)
{
	int rc = check_frame(f, len, SN_FETCH, SN_FETCH_REQ_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->offset = (int64_t)rb_be64(f + 24);
	r->max_bytes = rb_be32(f + 32);
	r->max_wait_ms = rb_be32(f + 36);
	r->min_bytes = rb_be32(f + 40);
	r->isolation = f[44];
	if (r->isolation > 1)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_decode_fetch_resp(const uint8_t *f, size_t len,
			 struct sn_fetch_resp *r)
{
	int rc = check_frame(f, len, SN_FETCH | SN_RESPONSE, SN_FETCH_RESP_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->high_watermark = (int64_t)rb_be64(f + 24);
	r->log_start_offset = (int64_t)rb_be64(f + 32);
	r->log_end_offset = (int64_t)rb_be64(f + 40);
	r->records_len = rb_be32(f + 48);
	r->records = f + SN_FETCH_RESP_BYTES;
	if ((size_t)r->records_len != len - SN_FETCH_RESP_BYTES)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_decode_list_offsets(const uint8_t *f, size_t len,
			   struct sn_list_offsets *r)
{
	int rc = check_frame(f, len, SN_LIST_OFFSETS, SN_LIST_OFFSETS_REQ_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->timestamp = (int64_t)rb_be64(f + 24);
	if (r->timestamp < -2)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_decode_list_offsets_resp(const uint8_t *f, size_t len,
				struct sn_list_offsets_resp *r)
{
	int rc = check_frame(f, len, SN_LIST_OFFSETS | SN_RESPONSE,
			     SN_LIST_OFFSETS_RESP_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->partition = (int32_t)rb_be32(f + 20);
	r->offset = (int64_t)rb_be64(f + 24);
	r->timestamp = (int64_t)rb_be64(f + 32);
	return 0;
}

static int decode_names(const uint8_t *f, size_t len, uint8_t opcode,
			uint16_t *count)
{
	int rc = check_frame(f, len, opcode, SN_METADATA_REQ_BYTES);
	if (rc)
		return rc;
	*count = rb_be16(f + 16);
	/* every name must be inside the frame */
	size_t pos = SN_METADATA_REQ_BYTES;
	const char *name;
	uint16_t n;
	for (unsigned i = 0; i < *count; i++)
		if (sn_metadata_req_next(f, len, &pos, &name, &n) != 1)
			return ERR(INVALID_REQUEST);
	return pos == len ? 0 : ERR(INVALID_REQUEST);
}

int sn_decode_metadata(const uint8_t *f, size_t len, uint16_t *count)
{
	return decode_names(f, len, SN_METADATA, count);
}

int sn_decode_leaders(const uint8_t *f, size_t len, uint16_t *count)
{
	return decode_names(f, len, SN_LEADERS, count);
}

int sn_decode_leaders_resp(const uint8_t *f, size_t len,
			   struct sn_leaders_resp *r)
{
	int rc = check_frame(f, len, SN_LEADERS | SN_RESPONSE,
			     SN_LEADERS_RESP_BYTES);
	if (rc)
		return rc;
	memset(r, 0, sizeof(*r));
	r->broker_count = rb_be32(f + 16);
	r->topic_count = rb_be32(f + 20);
	size_t pos = SN_LEADERS_RESP_BYTES;
	r->brokers = f + pos;
	for (uint32_t i = 0; i < r->broker_count; i++) {
		if (len - pos < SN_LEADERS_BROKER_BYTES)
			return ERR(INVALID_REQUEST);
		size_t h = rb_be16(f + pos + 8), u = rb_be16(f + pos + 10);
		if (h > SN_HOST_MAX || u > SN_HOST_MAX ||
		    len - pos - SN_LEADERS_BROKER_BYTES < h + u)
			return ERR(INVALID_REQUEST);
		pos += SN_LEADERS_BROKER_BYTES + h + u;
	}
	r->brokers_len = (size_t)(f + pos - r->brokers);
	r->topics = f + pos;
	for (uint32_t i = 0; i < r->topic_count; i++) {
		if (len - pos < SN_LEADERS_TOPIC_BYTES)
			return ERR(INVALID_REQUEST);
		uint32_t n = rb_be32(f + pos + 4);
		size_t nl = rb_be16(f + pos + 10);
		if (n > SN_PARTITIONS_MAX ||
		    len - pos - SN_LEADERS_TOPIC_BYTES < nl + 8 * (size_t)n)
			return ERR(INVALID_REQUEST);
		pos += SN_LEADERS_TOPIC_BYTES + nl + 8 * (size_t)n;
	}
	r->topics_len = (size_t)(f + pos - r->topics);
	return pos == len ? 0 : ERR(INVALID_REQUEST);
}

int sn_leaders_next_broker(const struct sn_leaders_resp *r, size_t *pos,
			   struct sn_leaders_broker *b)
{
	if (*pos >= r->brokers_len)
		return 0;
	const uint8_t *p = r->brokers + *pos;
	b->node_id = (int32_t)rb_be32(p);
	b->tcp_port = rb_be16(p + 4);
	b->udp_port = rb_be16(p + 6);
	b->host_len = rb_be16(p + 8);
	b->udp_host_len = rb_be16(p + 10);
	b->host = (const char *)p + SN_LEADERS_BROKER_BYTES;
	b->udp_host = b->host + b->host_len;
	*pos += SN_LEADERS_BROKER_BYTES + b->host_len + b->udp_host_len;
	return 1;
}

int sn_leaders_next_topic(const struct sn_leaders_resp *r, size_t *pos,
			  struct sn_leaders_topic *t)
{
	if (*pos >= r->topics_len)
		return 0;
	const uint8_t *p = r->topics + *pos;
	t->topic_id = rb_be32(p);
	t->partitions = (int32_t)rb_be32(p + 4);
	t->error = (int16_t)rb_be16(p + 8);
	t->name_len = rb_be16(p + 10);
	t->name = (const char *)p + SN_LEADERS_TOPIC_BYTES;
	t->leaders = p + SN_LEADERS_TOPIC_BYTES + t->name_len;
	*pos += SN_LEADERS_TOPIC_BYTES + t->name_len +
		8 * (size_t)t->partitions;
	return 1;
}

void sn_leaders_partition(const struct sn_leaders_topic *t, int32_t i,
			  int32_t *leader, int32_t *leader_epoch)
{
	assert(i >= 0 && i < t->partitions);
	*leader = (int32_t)rb_be32(t->leaders + 8 * (size_t)i);
	*leader_epoch = (int32_t)rb_be32(t->leaders + 8 * (size_t)i + 4);
}

int sn_metadata_req_next(const uint8_t *f, size_t len, size_t *pos,
			 const char **name, uint16_t *name_len)
{
	if (*pos == len)
		return 0;
	if (*pos + 2 > len)
		return ERR(INVALID_REQUEST);
	uint16_t n = rb_be16(f + *pos);
	if (*pos + 2 + n > len)
		return ERR(INVALID_REQUEST);
	*name = (const char *)f + *pos + 2;
	*name_len = n;
	*pos += 2 + (size_t)n;
	return 1;
}

int sn_decode_metadata_resp(const uint8_t *f, size_t len,
			    struct sn_metadata_resp *r)
{
	int rc = check_frame(f, len, SN_METADATA | SN_RESPONSE,
			     SN_METADATA_RESP_BYTES);
	if (rc)
		return rc;
	r->udp_port = rb_be16(f + 16);
	r->tcp_port = rb_be16(f + 18);
	r->udp_max_frame = rb_be32(f + 20);
	r->topic_count = rb_be32(f + 24);
	r->entries = f + SN_METADATA_RESP_BYTES;
	r->entries_len = len - SN_METADATA_RESP_BYTES;
	return 0;
}

int sn_metadata_next(const struct sn_metadata_resp *r, size_t *pos,
		     struct sn_topic_info *t)
{
	if (*pos == r->entries_len)
		return 0;
	if (*pos + SN_TOPIC_ENTRY_BYTES > r->entries_len)
		return ERR(INVALID_REQUEST);
	const uint8_t *p = r->entries + *pos;
	t->topic_id = rb_be32(p);
	t->partitions = (int32_t)rb_be32(p + 4);
	t->error = (int16_t)rb_be16(p + 8);
	t->durability = p[10];
	t->retention_ms = (int64_t)rb_be64(p + 12);
	t->retention_bytes = (int64_t)rb_be64(p + 20);
	t->segment_bytes = (int64_t)rb_be64(p + 28);
	t->name_len = rb_be16(p + 36);
	if (*pos + SN_TOPIC_ENTRY_BYTES + t->name_len > r->entries_len)
		return ERR(INVALID_REQUEST);
	t->name = (const char *)p + SN_TOPIC_ENTRY_BYTES;
	*pos += SN_TOPIC_ENTRY_BYTES + (size_t)t->name_len;
	return 1;
}

int sn_decode_create_topic(const uint8_t *f, size_t len,
			   struct sn_create_topic *r)
{
	int rc = check_frame(f, len, SN_CREATE_TOPIC, SN_CREATE_REQ_BYTES);
	if (rc)
		return rc;
	r->partitions = (int32_t)rb_be32(f + 16);
	r->durability = f[20];
	r->retention_ms = (int64_t)rb_be64(f + 24);
	r->retention_bytes = (int64_t)rb_be64(f + 32);
	r->segment_bytes = (int64_t)rb_be64(f + 40);
	r->name_len = rb_be16(f + 48);
	r->name = (const char *)f + SN_CREATE_REQ_BYTES;
	if ((size_t)SN_CREATE_REQ_BYTES + r->name_len != len)
		return ERR(INVALID_REQUEST);
	if (!sn_topic_name_valid(r->name, r->name_len))
		return ERR(INVALID_TOPIC_EXCEPTION);
	if (r->partitions < 1 || r->partitions > SN_PARTITIONS_MAX)
		return ERR(INVALID_PARTITIONS);
	if (r->durability > 1)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_decode_create_topic_resp(const uint8_t *f, size_t len,
				uint32_t *topic_id)
{
	int rc = check_frame(f, len, SN_CREATE_TOPIC | SN_RESPONSE,
			     SN_CREATE_RESP_BYTES);
	if (rc)
		return rc;
	*topic_id = rb_be32(f + 16);
	return 0;
}

int sn_decode_delete_topic(const uint8_t *f, size_t len, const char **name,
			   uint16_t *name_len)
{
	int rc = check_frame(f, len, SN_DELETE_TOPIC, SN_DELETE_REQ_BYTES);
	if (rc)
		return rc;
	*name_len = rb_be16(f + 16);
	*name = (const char *)f + SN_DELETE_REQ_BYTES;
	if ((size_t)SN_DELETE_REQ_BYTES + *name_len != len)
		return ERR(INVALID_REQUEST);
	if (!sn_topic_name_valid(*name, *name_len))
		return ERR(INVALID_TOPIC_EXCEPTION);
	return 0;
}

int sn_decode_init_pid_resp(const uint8_t *f, size_t len,
			    int64_t *producer_id, int16_t *epoch)
{
	int rc = check_frame(f, len, SN_INIT_PRODUCER_ID | SN_RESPONSE,
			     SN_INIT_PID_RESP_BYTES);
	if (rc)
		return rc;
	*producer_id = (int64_t)rb_be64(f + 16);
	*epoch = (int16_t)rb_be16(f + 24);
	return 0;
}

/* ---- queues ---- */

/* A queue request's names: group 1..SN_GROUP_MAX bytes, a valid topic. */
static int check_names(const char *group, uint16_t glen, const char *topic,
		       uint16_t tlen)
{
	(void)group;
	if (glen < 1 || glen > SN_GROUP_MAX)
		return ERR(INVALID_GROUP_ID);
	if (!sn_topic_name_valid(topic, tlen))
		return ERR(INVALID_TOPIC_EXCEPTION);
	return 0;
}

static int member_valid(const uint8_t *m)
{
	for (unsigned i = 0; i < SN_MEMBER_BYTES; i++)
		if (m[i])
			return 1;
	return 0;
}

long sn_encode_queue_receive(uint8_t *buf, size_t cap, uint32_t corr,
			     const struct sn_queue_receive *r)
{
	size_t len = SN_QRECV_REQ_BYTES + (size_t)r->group_len + r->topic_len;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_QUEUE_RECEIVE, (uint32_t)len, corr, 0);
	memcpy(buf + 16, r->member, SN_MEMBER_BYTES);
	rb_put32(buf + 32, r->max_messages);
	rb_put32(buf + 36, r->max_wait_ms);
	rb_put16(buf + 40, r->group_len);
	rb_put16(buf + 42, r->topic_len);
	rb_put32(buf + 44, 0);
	if (r->group_len)
		memcpy(buf + SN_QRECV_REQ_BYTES, r->group, r->group_len);
	if (r->topic_len)
		memcpy(buf + SN_QRECV_REQ_BYTES + r->group_len, r->topic,
		       r->topic_len);
	return (long)len;
}

int sn_decode_queue_receive(const uint8_t *f, size_t len,
			    struct sn_queue_receive *r)
{
	int rc = check_frame(f, len, SN_QUEUE_RECEIVE, SN_QRECV_REQ_BYTES);
	if (rc)
		return rc;
	memcpy(r->member, f + 16, SN_MEMBER_BYTES);
	r->max_messages = rb_be32(f + 32);
	r->max_wait_ms = rb_be32(f + 36);
	r->group_len = rb_be16(f + 40);
	r->topic_len = rb_be16(f + 42);
	if ((size_t)SN_QRECV_REQ_BYTES + r->group_len + r->topic_len != len)
		return ERR(INVALID_REQUEST);
	r->group = (const char *)f + SN_QRECV_REQ_BYTES;
	r->topic = r->group + r->group_len;
	rc = check_names(r->group, r->group_len, r->topic, r->topic_len);
	if (rc)
		return rc;
	if (!member_valid(r->member) || r->max_messages < 1 ||
	    r->max_messages > SN_QRECV_MAX)
		return ERR(INVALID_REQUEST);
	return 0;
}

void sn_qrecv_resp_begin(struct sn_qrecv_builder *b, uint8_t *buf,
			 size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = SN_QRECV_RESP_BYTES;
	b->count = 0;
	b->failed = cap < SN_QRECV_RESP_BYTES;
}

int sn_qrecv_resp_part(struct sn_qrecv_builder *b, int32_t partition,
		       int16_t error, const struct sn_qrange *ranges,
		       uint16_t nranges, const uint8_t *records,
		       uint32_t records_len)
{
	size_t need = SN_QRECV_PART_BYTES +
		      (size_t)nranges * SN_QRANGE_BYTES + records_len;
	if (b->failed || b->count == UINT16_MAX || b->len + need > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	rb_put32(p, (uint32_t)partition);
	rb_put16(p + 4, (uint16_t)error);
	rb_put16(p + 6, nranges);
	rb_put32(p + 8, records_len);
	rb_put32(p + 12, 0);
	p += SN_QRECV_PART_BYTES;
	for (uint16_t i = 0; i < nranges; i++, p += SN_QRANGE_BYTES) {
		rb_put64(p, (uint64_t)ranges[i].first);
		rb_put64(p + 8, (uint64_t)ranges[i].last);
		rb_put16(p + 16, ranges[i].delivery_count);
		rb_put16(p + 18, 0);
		rb_put32(p + 20, 0);
	}
	if (records_len)
		memcpy(p, records, records_len);
	b->len += need;
	b->count++;
	return 0;
}

long sn_qrecv_resp_finish(struct sn_qrecv_builder *b, uint32_t corr,
			  int16_t error, uint32_t topic_id, uint32_t lock_ms)
{
	if (b->failed)
		return -ENOBUFS;
	sn_header_put(b->buf, SN_QUEUE_RECEIVE | SN_RESPONSE,
		      (uint32_t)b->len, corr, error);
	rb_put32(b->buf + 16, topic_id);
	rb_put32(b->buf + 20, lock_ms);
	rb_put16(b->buf + 24, b->count);
	rb_put16(b->buf + 26, 0);
	rb_put32(b->buf + 28, 0);
	return (long)b->len;
}

int sn_decode_qrecv_resp(const uint8_t *f, size_t len,
			 struct sn_qrecv_resp *r)
{
	int rc = check_frame(f, len, SN_QUEUE_RECEIVE | SN_RESPONSE,
			     SN_QRECV_RESP_BYTES);
	if (rc)
		return rc;
	r->topic_id = rb_be32(f + 16);
	r->lock_ms = rb_be32(f + 20);
	r->npartitions = rb_be16(f + 24);
	r->parts = f + SN_QRECV_RESP_BYTES;
	r->parts_len = len - SN_QRECV_RESP_BYTES;
	size_t pos = 0;
	struct sn_qrecv_part p;
	uint32_t n = 0;
	uint64_t offsets = 0;
	while ((rc = sn_qrecv_next(r, &pos, &p)) == 1) {
		n++;
		for (uint16_t i = 0; i < p.nranges; i++) {
			struct sn_qrange g;
			sn_qrecv_range(&p, i, &g);
			if (g.first < 0 || g.last < g.first ||
			    (uint64_t)(g.last - g.first) >= SN_QRECV_MAX)
				return ERR(INVALID_REQUEST);
			offsets += (uint64_t)(g.last - g.first) + 1;
			if (offsets > SN_QRECV_MAX)
				return ERR(INVALID_REQUEST);
		}
	}
	if (rc < 0 || n != r->npartitions)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_qrecv_next(const struct sn_qrecv_resp *r, size_t *pos,
		  struct sn_qrecv_part *p)
{
	if (*pos == r->parts_len)
		return 0;
	if (*pos > r->parts_len || r->parts_len - *pos < SN_QRECV_PART_BYTES)
		return ERR(INVALID_REQUEST);
	const uint8_t *q = r->parts + *pos;
	p->partition = (int32_t)rb_be32(q);
	p->error = (int16_t)rb_be16(q + 4);
	p->nranges = rb_be16(q + 6);
	p->records_len = rb_be32(q + 8);
	size_t need = SN_QRECV_PART_BYTES +
		      (size_t)p->nranges * SN_QRANGE_BYTES + p->records_len;
	if (r->parts_len - *pos < need)
		return ERR(INVALID_REQUEST);
	p->ranges = q + SN_QRECV_PART_BYTES;
	p->records = p->ranges + (size_t)p->nranges * SN_QRANGE_BYTES;
	*pos += need;
	return 1;
}

void sn_qrecv_range(const struct sn_qrecv_part *p, uint16_t i,
		    struct sn_qrange *out)
{
	const uint8_t *q = p->ranges + (size_t)i * SN_QRANGE_BYTES;
	out->first = (int64_t)rb_be64(q);
	out->last = (int64_t)rb_be64(q + 8);
	out->delivery_count = rb_be16(q + 16);
}

long sn_encode_queue_ack(uint8_t *buf, size_t cap, uint32_t corr,
			 const struct sn_queue_ack *r,
			 const struct sn_qack_entry *entries)
{
	size_t at = SN_QACK_REQ_BYTES + (size_t)r->group_len + r->topic_len;
	size_t len = at + (size_t)r->count * SN_QACK_ENTRY_BYTES;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_QUEUE_ACK, (uint32_t)len, corr, 0);
	memcpy(buf + 16, r->member, SN_MEMBER_BYTES);
	rb_put16(buf + 32, r->group_len);
	rb_put16(buf + 34, r->topic_len);
	rb_put32(buf + 36, r->count);
	if (r->group_len)
		memcpy(buf + SN_QACK_REQ_BYTES, r->group, r->group_len);
	if (r->topic_len)
		memcpy(buf + SN_QACK_REQ_BYTES + r->group_len, r->topic,
		       r->topic_len);
	for (uint32_t i = 0; i < r->count; i++) {
		uint8_t *p = buf + at + (size_t)i * SN_QACK_ENTRY_BYTES;
		const struct sn_qack_entry *e = &entries[i];
		rb_put64(p, (uint64_t)e->first);
		rb_put64(p + 8, (uint64_t)e->last);
		rb_put32(p + 16, (uint32_t)e->partition);
		rb_put32(p + 20, e->delay_ms);
		p[24] = e->type;
		memset(p + 25, 0, 7);
	}
	return (long)len;
}

int sn_decode_queue_ack(const uint8_t *f, size_t len, struct sn_queue_ack *r)
{
	int rc = check_frame(f, len, SN_QUEUE_ACK, SN_QACK_REQ_BYTES);
	if (rc)
		return rc;
	memcpy(r->member, f + 16, SN_MEMBER_BYTES);
	r->group_len = rb_be16(f + 32);
	r->topic_len = rb_be16(f + 34);
	r->count = rb_be32(f + 36);
	size_t at = SN_QACK_REQ_BYTES + (size_t)r->group_len + r->topic_len;
	if (r->count < 1 || r->count > SN_QACK_MAX ||
	    at + (size_t)r->count * SN_QACK_ENTRY_BYTES != len)
		return ERR(INVALID_REQUEST);
	r->group = (const char *)f + SN_QACK_REQ_BYTES;
	r->topic = r->group + r->group_len;
	r->entries = f + at;
	rc = check_names(r->group, r->group_len, r->topic, r->topic_len);
	if (rc)
		return rc;
	if (!member_valid(r->member))
		return ERR(INVALID_REQUEST);
	return 0;
}

void sn_qack_get(const struct sn_queue_ack *r, uint32_t i,
		 struct sn_qack_entry *e)
{
	const uint8_t *p = r->entries + (size_t)i * SN_QACK_ENTRY_BYTES;
	e->first = (int64_t)rb_be64(p);
	e->last = (int64_t)rb_be64(p + 8);
	e->partition = (int32_t)rb_be32(p + 16);
	e->delay_ms = rb_be32(p + 20);
	e->type = p[24];
}

long sn_encode_queue_ack_resp(uint8_t *buf, size_t cap, uint32_t corr,
			      int16_t error, const int16_t *errors,
			      uint32_t count)
{
	size_t len = SN_QACK_RESP_BYTES + (size_t)count * 4;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_QUEUE_ACK | SN_RESPONSE, (uint32_t)len, corr,
		      error);
	rb_put32(buf + 16, count);
	for (uint32_t i = 0; i < count; i++) {
		rb_put16(buf + SN_QACK_RESP_BYTES + i * 4, (uint16_t)errors[i]);
		rb_put16(buf + SN_QACK_RESP_BYTES + i * 4 + 2, 0);
	}
	return (long)len;
}

int sn_decode_queue_ack_resp(const uint8_t *f, size_t len, uint32_t *count,
			     const uint8_t **errors)
{
	int rc = check_frame(f, len, SN_QUEUE_ACK | SN_RESPONSE,
			     SN_QACK_RESP_BYTES);
	if (rc)
		return rc;
	*count = rb_be32(f + 16);
	if (*count > SN_QACK_MAX ||
	    (uint64_t)SN_QACK_RESP_BYTES + (uint64_t)*count * 4 != len)
		return ERR(INVALID_REQUEST);
	if (errors)
		*errors = f + SN_QACK_RESP_BYTES;
	return 0;
}

/* ---- routing rules ---- */

long sn_encode_route(uint8_t *buf, size_t cap, uint32_t corr,
		     const struct sn_route *r)
{
	size_t len = SN_ROUTE_REQ_BYTES + (size_t)r->name_len + r->rule_len;
	if (cap < len)
		return -ENOBUFS;
	sn_header_put(buf, SN_ROUTE, (uint32_t)len, corr, 0);
	buf[16] = r->op;
	buf[17] = 0;
	rb_put16(buf + 18, r->name_len);
	rb_put16(buf + 20, r->rule_len);
	rb_put16(buf + 22, 0);
	if (r->name_len)
		memcpy(buf + SN_ROUTE_REQ_BYTES, r->name, r->name_len);
	if (r->rule_len)
		memcpy(buf + SN_ROUTE_REQ_BYTES + r->name_len, r->rule,
		       r->rule_len);
	return (long)len;
}

int sn_decode_route(const uint8_t *f, size_t len, struct sn_route *r)
{
	int rc = check_frame(f, len, SN_ROUTE, SN_ROUTE_REQ_BYTES);
	if (rc)
		return rc;
	r->op = f[16];
	r->name_len = rb_be16(f + 18);
	r->rule_len = rb_be16(f + 20);
	if ((size_t)SN_ROUTE_REQ_BYTES + r->name_len + r->rule_len != len)
		return ERR(INVALID_REQUEST);
	r->name = (const char *)f + SN_ROUTE_REQ_BYTES;
	r->rule = r->name + r->name_len;
	switch (r->op) {
	case SN_ROUTE_PUT:
		if (r->rule_len < 1 || r->rule_len > SN_ROUTE_RULE_MAX)
			return ERR(INVALID_REQUEST);
		/* fall through */
	case SN_ROUTE_DELETE:
		if (r->name_len < 1 || r->name_len > SN_ROUTE_NAME_MAX)
			return ERR(INVALID_REQUEST);
		break;
	case SN_ROUTE_LIST:
		break;
	default:
		return ERR(INVALID_REQUEST);
	}
	return 0;
}

void sn_route_resp_begin(struct sn_route_builder *b, uint8_t *buf,
			 size_t cap, const char *message, uint16_t len)
{
	b->buf = buf;
	b->cap = cap;
	b->count = 0;
	b->len = SN_ROUTE_RESP_BYTES + (size_t)len;
	b->failed = cap < b->len;
	if (!b->failed) {
		rb_put16(buf + 20, len);
		if (len)
			memcpy(buf + SN_ROUTE_RESP_BYTES, message, len);
	}
}

int sn_route_resp_add(struct sn_route_builder *b,
		      const struct sn_route_entry *e)
{
	size_t need = SN_ROUTE_ENTRY_BYTES + (size_t)e->name_len + e->rule_len;
	if (b->failed || b->len + need > b->cap) {
		b->failed = 1;
		return -ENOBUFS;
	}
	uint8_t *p = b->buf + b->len;
	rb_put16(p, e->name_len);
	rb_put16(p + 2, e->rule_len);
	rb_put32(p + 4, 0);
	rb_put64(p + 8, e->copied);
	memcpy(p + SN_ROUTE_ENTRY_BYTES, e->name, e->name_len);
	memcpy(p + SN_ROUTE_ENTRY_BYTES + e->name_len, e->rule, e->rule_len);
	b->len += need;
	b->count++;
	return 0;
}

long sn_route_resp_finish(struct sn_route_builder *b, uint32_t corr,
			  int16_t error)
{
	if (b->failed)
		return -ENOBUFS;
	sn_header_put(b->buf, SN_ROUTE | SN_RESPONSE, (uint32_t)b->len, corr,
		      error);
	rb_put32(b->buf + 16, b->count);
	rb_put16(b->buf + 22, 0);
	return (long)b->len;
}

int sn_decode_route_resp(const uint8_t *f, size_t len,
			 struct sn_route_resp *r)
{
	int rc = check_frame(f, len, SN_ROUTE | SN_RESPONSE,
			     SN_ROUTE_RESP_BYTES);
	if (rc)
		return rc;
	r->count = rb_be32(f + 16);
	r->message_len = rb_be16(f + 20);
	if ((size_t)SN_ROUTE_RESP_BYTES + r->message_len > len)
		return ERR(INVALID_REQUEST);
	r->message = (const char *)f + SN_ROUTE_RESP_BYTES;
	r->entries = f + SN_ROUTE_RESP_BYTES + r->message_len;
	r->entries_len = len - SN_ROUTE_RESP_BYTES - r->message_len;
	size_t pos = 0;
	struct sn_route_entry e;
	uint32_t n = 0;
	while ((rc = sn_route_next(r, &pos, &e)) == 1)
		n++;
	if (rc < 0 || n != r->count)
		return ERR(INVALID_REQUEST);
	return 0;
}

int sn_route_next(const struct sn_route_resp *r, size_t *pos,
		  struct sn_route_entry *e)
{
	if (*pos == r->entries_len)
		return 0;
	if (*pos > r->entries_len ||
	    r->entries_len - *pos < SN_ROUTE_ENTRY_BYTES)
		return ERR(INVALID_REQUEST);
	const uint8_t *p = r->entries + *pos;
	e->name_len = rb_be16(p);
	e->rule_len = rb_be16(p + 2);
	e->copied = rb_be64(p + 8);
	size_t need = SN_ROUTE_ENTRY_BYTES + (size_t)e->name_len + e->rule_len;
	if (r->entries_len - *pos < need)
		return ERR(INVALID_REQUEST);
	e->name = (const char *)p + SN_ROUTE_ENTRY_BYTES;
	e->rule = e->name + e->name_len;
	*pos += need;
	return 1;
}
