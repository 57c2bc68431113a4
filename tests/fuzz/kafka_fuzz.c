/*
 * libFuzzer target for the Kafka codec (proto/kafka/): what a Kafka listener
 * does with every request frame (after the 4-byte size prefix).
 *
 * Properties checked on every input:
 *   1. kc_decode_request never reads past the input (ASan) and returns the
 *      whole length or a negative INVALID_REQUEST / UNSUPPORTED_VERSION /
 *      -ENOBUFS, never anything else;
 *   2. an accepted request re-encodes, the re-encoding decodes to a request
 *      that re-encodes to the same bytes (the codec is a fixed point after
 *      one pass: unknown tags and tags at their default are dropped, bools
 *      and varints normalised on the first);
 *   3. the input taken as the body of every version Kafka defines of every
 *      generated API (served or not: flexible versions with tagged fields,
 *      uuids and struct fields included), request and response schema,
 *      flexible or not as the version says, decodes inside the input and
 *      the arena, and re-encodes when accepted, no longer than the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/kafka/kcodec.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static _Alignas(8) uint8_t arena_mem[1 << 20];
static _Alignas(8) uint8_t arena2_mem[1 << 20];
static uint8_t out1[1 << 21], out2[1 << 21];

static bool rc_ok(long rc)
{
	return rc == -SN_ERR_INVALID_REQUEST ||
	       rc == -SN_ERR_UNSUPPORTED_VERSION || rc == -ENOBUFS;
}

static void fuzz_request(const uint8_t *data, size_t len)
{
	struct kc_arena a = {arena_mem, sizeof(arena_mem), 0};
	struct kc_request_header h;
	union kc_request b;
	long rc = kc_decode_request(data, len, &h, &b, &a);
	CHECK(a.used <= a.cap);
	if (rc < 0) {
		CHECK(rc_ok(rc));
		return;
	}
	CHECK((size_t)rc == len);
	CHECK(h.client_id.len == -1 ||
	      ((const uint8_t *)h.client_id.ptr >= data &&
	       (const uint8_t *)h.client_id.ptr + h.client_id.len <= data + len));
	long n1 = kc_encode_request(&h, &b, out1, sizeof(out1));
	CHECK(n1 > 0 && (size_t)n1 <= len);
	struct kc_arena a2 = {arena2_mem, sizeof(arena2_mem), 0};
	struct kc_request_header h2;
	union kc_request b2;
	CHECK(kc_decode_request(out1, (size_t)n1, &h2, &b2, &a2) == n1);
	CHECK(h2.correlation_id == h.correlation_id);
	long n2 = kc_encode_request(&h2, &b2, out2, sizeof(out2));
	CHECK(n2 == n1 && memcmp(out1, out2, (size_t)n1) == 0);
}

static void fuzz_body(const struct kc_schema *s, int16_t v, bool flex,
		      const uint8_t *data, size_t len)
{
	static _Alignas(8) union {
		union kc_request q;
		union kc_response r;
	} body;
	struct kc_arena a = {arena_mem, sizeof(arena_mem), 0};
	long rc = kc_decode(s, v, flex, data, len, &body, &a);
	CHECK(a.used <= a.cap);
	if (rc < 0) {
		CHECK(rc_ok(rc));
		return;
	}
	CHECK((size_t)rc <= len);
	long n = kc_encode(s, v, flex, &body, out1, sizeof(out1));
	CHECK(n >= 0 && n <= rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_request(data, len);
	for (size_t i = 0; i < kc_apis_n; i++) {
		const struct kc_api *api = &kc_apis[i];
		for (int16_t v = api->kafka_min; v <= api->kafka_max; v++) {
			bool flex = v >= api->flexible_min;
			fuzz_body(api->request, v, flex, data, len);
			fuzz_body(api->response, v, flex, data, len);
		}
	}
	return 0;
}
