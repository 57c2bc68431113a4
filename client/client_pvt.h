/*
 * libsluice internals: the TCP connection, address parsing, clocks, and
 * the pure pieces of the producer (batch accounting, sequence numbers,
 * produce frame building) that tests/client exercises without a broker.
 */
#ifndef SLUICE_CLIENT_PVT_H
#define SLUICE_CLIENT_PVT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "sluice/sluice.h"

/* ---- time ---- */
uint64_t slc_now_us(void);   /* CLOCK_MONOTONIC */
int64_t slc_wall_ms(void);   /* CLOCK_REALTIME */

/* ---- addresses ---- */

/* "host:port", "host", ":port" or NULL into sin (IPv4, numeric or resolved).
 * text (cap bytes) receives the normalised "a.b.c.d:port".  0 or -EINVAL. */
int slc_parse_addr(const char *addr, struct sockaddr_in *sin, char *text,
		   size_t cap);

/* ---- the TCP connection: frames back to back ---- */

struct slc_conn {
	int fd;
	uint8_t *rbuf;     /* received bytes; frames are parsed in place */
	size_t rcap, rlen; /* allocated, filled */
	size_t rhead;      /* start of the unconsumed bytes */
	uint32_t next_corr;
	/* slc_conn_call hands frames with another correlation id here
	 * (a producer's answers arriving while it waits for METADATA);
	 * NULL drops them */
	void (*other)(void *arg, const uint8_t *frame, size_t len);
	void *other_arg;
};

void slc_conn_init(struct slc_conn *c);
/* Connect with a timeout; TCP_NODELAY.  0 or -errno. */
int slc_conn_open(struct slc_conn *c, const struct sockaddr_in *sin,
		  int timeout_ms);
void slc_conn_close(struct slc_conn *c);
/* Send all len bytes (blocking, bounded by timeout_ms).  0 or -errno. */
int slc_conn_send(struct slc_conn *c, const uint8_t *buf, size_t len,
		  int timeout_ms);
/* Send gather: two pieces. */
int slc_conn_send2(struct slc_conn *c, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, int timeout_ms);
/*
 * The next whole frame: 1 with *frame and *len (valid until the next recv),
 * 0 when none arrived within timeout_ms, -ECONNRESET when the broker
 * closed, -EPROTO for a frame that cannot be parsed, -errno.
 */
int slc_conn_recv(struct slc_conn *c, int timeout_ms, const uint8_t **frame,
		  size_t *len);
/* Send a request whose correlation id is at bytes 8..11 and wait for the
 * answer with that id (others are dropped).  Returns 1 with frame/len, or
 * -ETIMEDOUT / -errno. */
int slc_conn_call(struct slc_conn *c, uint8_t *req, size_t reqlen,
		  int timeout_ms, const uint8_t **frame, size_t *len);

/* The error in a response header as a library code (0 when none). */
int slc_frame_error(const uint8_t *frame);
/* A decoder's negative protocol error as a library code. */
int slc_decode_error(int rc);

/* METADATA for one name (NULL: all) over c: fills *info for name.  Returns
 * 0, sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION), -errno.  ports may be
 * NULL. */
int slc_metadata_one(struct slc_conn *c, const char *name,
		     struct sl_topic_info *info, uint16_t ports[2],
		     uint32_t *udp_max_frame);
int slc_list_offset(struct slc_conn *c, uint32_t topic_id, int32_t partition,
		    int64_t timestamp, int64_t *offset);

/* ---- routing to partition leaders (LEADERS) ---- */

#define SLC_BROKERS_MAX 64
#define SLC_PARTITIONS_MAX 1024 /* = SN_PARTITIONS_MAX */

/* Where a topic's partitions are led: the brokers' addresses and each
 * partition's leader (an index into brokers, -1 when it has none). */
struct slc_route {
	int nbrokers;
	struct slc_broker {
		int32_t node_id;
		struct sockaddr_in tcp, udp;
	} brokers[SLC_BROKERS_MAX];
	int32_t partitions;
	int16_t leader[SLC_PARTITIONS_MAX];
};

/*
 * LEADERS for topic over c, whose broker is at `reached` (a broker that
 * names no host is at that address).  0 with *r filled; -EOPNOTSUPP when
 * the broker does not serve LEADERS (an older one: send everything to
 * it); sl_err_broker(UNKNOWN_TOPIC_OR_PARTITION); -errno.
 */
int slc_route_get(struct slc_conn *c, const struct sockaddr_in *reached,
		  const char *topic, struct slc_route *r);

/* Whether a broker error means "ask LEADERS again and resend". */
int slc_not_leader(int broker_code);

/* m's headers are r's. */
struct rb_record;
void slc_message_headers(struct sl_message *m, const struct rb_record *r);

/* ---- producer pure pieces ---- */

/* Kafka sequences: add count, wrap at 2^31. */
static inline int32_t slc_seq_add(int32_t seq, int32_t count)
{
	return (int32_t)(((uint32_t)seq + (uint32_t)count) & 0x7fffffffu);
}

/* Bytes a record adds to a batch, an upper bound (varint headers at their
 * largest); the batch's own header is RB_HEADER_BYTES. */
size_t slc_record_bound(size_t klen, size_t vlen);

/* A batch is due when it would overflow with the next record, has reached
 * batch_bytes, or is linger_ms old (0: at once). */
int slc_batch_due(size_t bytes, size_t batch_bytes, uint64_t age_us,
		  uint32_t linger_ms);

/* Null-key partition choice: round robin (or sticky) over partitions from
 * *counter. */
int32_t slc_next_rr(uint32_t *counter, int32_t partitions);

/* Produce frame header in place: the batch at buf + SN_PRODUCE_REQ_BYTES
 * (batch_len bytes) already built; writes the 32-byte head.  Returns the
 * frame length. */
long slc_produce_frame(uint8_t *buf, uint32_t corr, uint32_t topic_id,
		       int32_t partition, int16_t acks, uint32_t timeout_ms,
		       size_t batch_len);

/* Whether an error is worth resending with the same sequence. */
int slc_retriable(int broker_code);

#endif
