/*
 * A forwarded Kafka request decoded with an arena of its own (kreq.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "control/kreq.h"
#include "proto/native.h"

long sl_kreq_decode(const uint8_t *req, size_t len,
		    struct kc_request_header *h, union kc_request *body,
		    struct kc_arena *a)
{
	*a = (struct kc_arena){NULL, 0, 0};
	if (len > SIZE_MAX / 32)
		return -SN_ERR_INVALID_REQUEST;
	a->cap = 16 * len + 64;
	a->base = malloc(a->cap);
	if (!a->base)
		return -ENOMEM;
	return kc_decode_request(req, len, h, body, a);
}
