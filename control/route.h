/*
 * Routing rules: messages of the topics whose names match a rule's
 * pattern, and whose headers match its conditions, are copied to the
 * rule's destination topic (what RabbitMQ's topic and headers exchanges
 * and ActiveMQ's selectors give).  docs/queues.md#routing-rules is the
 * reference.
 *
 * A rule is text: space-separated words
 *
 *   from=PATTERN       topic names: words between dots, `*` one word,
 *                      `#` zero or more words (orders.*.eu, logs.#); a
 *                      name starting with '_' (internal topics) only
 *                      when the pattern's first word is the name's
 *   to=TOPIC           where the copies go (an existing topic)
 *   header:KEY=VALUE   a header KEY with exactly VALUE
 *   header:KEY         a header KEY, any value
 *   any                any one header condition suffices (default: all)
 *   direct             a message goes to the first direct rule (by name)
 *                      that matches it and to no other direct rule; copy
 *                      rules (the default) each get every message that
 *                      matches them
 *
 * The router reads each source partition through the local sluiced's
 * Kafka listener (control/glog.h) from a position shared by all rules
 * (a rule routes what is produced after it is made; a topic made after
 * the rule from its start), and appends each match to the destination
 * (acks=all) with the message's key, value and headers plus
 * "sl-routed-from" (topic/partition/offset) and "sl-route-hops"; a
 * message that has been routed 8 times is not routed again (a loop of
 * rules).  A destination partition: the key's murmur2 hash, else the
 * source partition, modulo the destination's partitions.  The position
 * moves past a read only once every copy of it is durable, so a copy is
 * never missing; the positions are saved every second (routes.pos), so
 * a crash copies at most the last second's messages again.
 *
 * Rules are kept in <dir>/routes.conf (replaced atomically and durably
 * before a change is answered).
 *
 * Single-threaded: the control plane's event loop owns it.
 */
#ifndef SLUICE_CONTROL_ROUTE_H
#define SLUICE_CONTROL_ROUTE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ROUTE_RULES_MAX 256
#define SL_ROUTE_MATCH_MAX 16
#define SL_ROUTE_HOPS_MAX 8
#define SL_ROUTE_SAVE_MS 1000
#define SL_ROUTE_POLL_MS 100     /* a read at the log's end waits this
				    long for more */

struct sdisk;
struct sl_route;

/* Topic i of the broker's (0 ..): true with its id, name and partition
 * count; false past the last. */
typedef bool (*sl_route_topic_at_fn)(void *ctx, uint32_t i, uint32_t *id,
				     const char **name, size_t *len,
				     int32_t *partitions);
/* A whole native answer frame for token. */
typedef void (*sl_route_reply_fn)(void *ctx, uint64_t token,
				  const uint8_t *resp, size_t len);

struct sl_route_config {
	const struct sdisk *disk; /* NULL: sdisk_posix */
	const char *dir;          /* where routes.conf and routes.pos live */
	uint16_t kafka_port;      /* the local sluiced's Kafka listener */
	uint32_t kafka_addr;      /* its IPv4 address (0: 127.0.0.1) */
	sl_route_topic_at_fn topic_at;
	void *topic_ctx;
	sl_route_reply_fn reply;
	void *reply_ctx;
};

struct sl_route_stats {
	uint64_t copied;        /* copies made durable */
	uint64_t hops_dropped;  /* not routed: routed SL_ROUTE_HOPS_MAX times */
	uint64_t append_failures;
	uint64_t read_failures;
};

/* The rule text parsed: 0, or -EINVAL with why in err.  (For the CLI's
 * checks and the tests; the router parses what it is given.) */
int sl_route_parse(const char *text, size_t len, char *err, size_t errlen);

/* Topic pattern matching (`*` one word, `#` zero or more). */
bool sl_route_pattern_match(const char *pattern, const char *name,
			    size_t len);

/* 0 with *out, or -errno with err saying what to do (the rules file). */
int sl_route_create(const struct sl_route_config *cfg, int64_t now_ms,
		    struct sl_route **out, char *err, size_t errlen);
/* Saves the positions.  NULL allowed. */
void sl_route_destroy(struct sl_route *r);

bool sl_route_serves(uint8_t opcode);
/* One whole ROUTE frame (proto/native.h), answered through reply: now,
 * except a PUT that was saved, answered by sl_route_do_work once every
 * partition its rule matches has a position (at most 10 s later;
 * sl_route_destroy drops such answers: the client's connection goes with
 * the process).  Returns 0, or -EINVAL when it is not one (nothing
 * replied). */
int sl_route_request(struct sl_route *r, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms);

uint32_t sl_route_pollfds(const struct sl_route *r, struct pollfd *pfd,
			  uint32_t max);
int sl_route_timeout_ms(const struct sl_route *r, int64_t now_ms);
void sl_route_do_work(struct sl_route *r, int64_t now_ms);

void sl_route_get_stats(const struct sl_route *r, struct sl_route_stats *out);

#endif
