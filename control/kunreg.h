/*
 * Kafka's UnregisterBroker (v0, KIP-500's broker removal): the answer made
 * here, the decision the caller's (control/cluster.c's active controller:
 * an UNREGISTER_BROKER record, cluster_image.h sl_ci_unregister_broker; a
 * single broker: there is no other broker to remove).  The answer: the
 * decision's error and message, or NONE with a null message.
 *
 * Pure functions: no I/O.
 */
#ifndef SLUICE_CONTROL_KUNREG_H
#define SLUICE_CONTROL_KUNREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unregister broker id: the Kafka error (0: done), msg (NUL-terminated,
 * msglen bytes) saying why when not 0. */
typedef int16_t (*sl_kunreg_fn)(void *ctx, int32_t id, char *msg,
				size_t msglen);

bool sl_kunreg_serves(int16_t api_key);

/*
 * Answer the whole Kafka request req (len bytes, header included) into
 * resp (cap bytes): the response's length, or -EINVAL (not an
 * UnregisterBroker request that decodes), -EMSGSIZE.
 */
long sl_kunreg_handle(const uint8_t *req, size_t len, sl_kunreg_fn decide,
		      void *ctx, uint8_t *resp, size_t cap);

#endif
