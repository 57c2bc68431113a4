/*
 * The CLI's Kafka requests: one blocking TCP connection to a broker's
 * Kafka listener, a request encoded with the generated codec
 * (proto/kafka/kcodec.h), its answer read whole and decoded.  For admin
 * commands that ask a few questions and exit; nothing is pipelined.
 *
 * Memory: the answer's strings and arrays point into the connection's
 * buffers (answer bytes and decode arena), valid until its next call.
 * One thread.
 */
#ifndef SLUICE_TOOLS_KCALL_H
#define SLUICE_TOOLS_KCALL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

#define KCALL_RESP_MAX (16u << 20) /* an answer larger than this fails */

struct kcall {
	int fd;                /* -1: closed */
	int timeout_ms;        /* connect, and each send or receive */
	int32_t corr;          /* of the last request */
	uint8_t *buf;          /* KCALL_RESP_MAX: requests, then answers */
	uint64_t *arena;       /* decode memory */
	size_t arena_bytes;
	/* the broker's served versions (ApiVersions), by API key */
	int16_t min_version[128], max_version[128]; /* max -1: not served */
};

/*
 * Connect to host:port (a name or an IPv4/IPv6 address; IPv6 as
 * [addr]:port) within timeout_ms and ask ApiVersions (v0).  Returns 0,
 * -EINVAL (not host:port), -ENOMEM, -errno of the connection (e.g.
 * -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH), -EPROTO (the answer did not
 * decode or carried an error).  On failure k is closed.
 */
int kcall_connect(struct kcall *k, const char *host_port, int timeout_ms);

/* The highest version of key both we and the broker serve, up to
 * want_max, at least min; -1 when none. */
int16_t kcall_version(const struct kcall *k, int16_t key, int16_t min,
		      int16_t want_max);

/*
 * One round trip: body (a struct kc_<api>_req, up to KC_BODY_MAX bytes)
 * sent as key/version, the answer decoded into out.  Returns 0, -EPIPE /
 * -ECONNRESET (the broker closed), -ETIMEDOUT, -EPROTO (undecodable, or
 * not our correlation id), -EMSGSIZE (the request does not encode into
 * KCALL_RESP_MAX, or the answer is larger).
 */
int kcall_call(struct kcall *k, int16_t key, int16_t version,
	       const void *body, size_t body_size, union kc_response *out);

/* Close and free; a closed (or zeroed) k is fine. */
void kcall_close(struct kcall *k);

#endif
