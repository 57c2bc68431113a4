/*
 * Kafka's UnregisterBroker (kunreg.h has the contract).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/kunreg.h"
#include "proto/kafka/kcodec.h"

bool sl_kunreg_serves(int16_t api_key)
{
	return api_key == KC_API_UNREGISTER_BROKER;
}

long sl_kunreg_handle(const uint8_t *req, size_t len, sl_kunreg_fn decide,
		      void *ctx, uint8_t *resp, size_t cap)
{
	assert(decide && (req || len == 0));
	if (len < 2 || !sl_kunreg_serves((int16_t)((req[0] << 8) | req[1])) ||
	    len > 4096)
		return -EINVAL;
	uint64_t mem[1024];
	struct kc_arena in = {(uint8_t *)mem, sizeof(mem), 0};
	struct kc_request_header h;
	union kc_request body;
	if (kc_decode_request(req, len, &h, &body, &in) < 0)
		return -EINVAL;
	const struct kc_unregister_broker_req *q = (const void *)body.raw;
	char msg[256] = "";
	int16_t err = decide(ctx, q->broker_id, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = 0;
	union kc_response u;
	kc_response_init(&u, KC_API_UNREGISTER_BROKER);
	struct kc_unregister_broker_resp *r = (void *)u.raw;
	r->error_code = err;
	r->error_message = err ? (struct kc_str){msg, (int32_t)strlen(msg)} :
				 (struct kc_str){NULL, -1};
	struct kc_response_header rh = {h.correlation_id};
	long n = kc_encode_response(h.api_key, h.api_version, &rh, &u, resp,
				    cap);
	return n == -ENOBUFS ? -EMSGSIZE : n;
}
