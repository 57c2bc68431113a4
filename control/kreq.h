/*
 * A Kafka request that sluice-control answers (forwarded by its sluiced,
 * or by a broker to the active controller), decoded with an arena of its
 * own: the codec allocates nothing (proto/kafka/kcodec.h), so the handlers
 * that take whole requests size and free the arena here.
 */
#ifndef SLUICE_CONTROL_KREQ_H
#define SLUICE_CONTROL_KREQ_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

/*
 * kc_decode_request of req (len bytes) into an arena allocated here, 16
 * times the request's bytes and a little more, which holds any request of
 * the generated schemas (each element costs at most 16 times its bytes on
 * the wire).  Returns kc_decode_request's result, or -ENOMEM; a->base is
 * the caller's to free either way (NULL after -ENOMEM).
 */
long sl_kreq_decode(const uint8_t *req, size_t len,
		    struct kc_request_header *h, union kc_request *body,
		    struct kc_arena *a);

#endif
