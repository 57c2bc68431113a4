/*
 * libFuzzer target for the controller RPC's messages (control/cmsg.c):
 * the bodies one sluice-control reads from another over TCP.
 *
 * Each input is given to every decoder.  Properties:
 *   1. a decoder answers 0 or -EINVAL and never reads past the input
 *      (ASan);
 *   2. a heartbeat or heartbeat reply that decodes encodes again to the
 *      same bytes (the decoder accepts exactly what the encoder writes);
 *      a heartbeat without the UDP endpoint (an older broker's) to the
 *      same bytes and then its native port at host (u16, then a u32 0);
 *   3. a forwarded reply's response lies inside the input.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "control/cmsg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[256];
	struct sl_cmsg_heartbeat h;
	int rc = sl_cmsg_decode_heartbeat(data, size, &h);
	assert(rc == 0 || rc == -EINVAL);
	if (!rc) {
		long n = sl_cmsg_encode_heartbeat(out, sizeof(out), &h);
		size_t hl = data[17];
		if (size == 18 + hl) {
			static const uint8_t zero[4];
			assert(n == (long)size + 6 &&
			       !memcmp(out, data, size) &&
			       !memcmp(out + size, data + 14, 2) &&
			       !memcmp(out + size + 2, zero, 4));
		} else {
			assert(n == (long)size && !memcmp(out, data, size));
		}
	}
	struct sl_cmsg_heartbeat_reply r;
	rc = sl_cmsg_decode_heartbeat_reply(data, size, &r);
	assert(rc == 0 || rc == -EINVAL);
	if (!rc) {
		long n = sl_cmsg_encode_heartbeat_reply(out, sizeof(out), &r);
		assert(n == (long)size && !memcmp(out, data, size));
	}
	uint64_t index;
	const uint8_t *resp;
	size_t resp_len;
	rc = sl_cmsg_decode_forward_reply(data, size, &index, &resp, &resp_len);
	assert(rc == 0 || rc == -EINVAL);
	if (!rc)
		assert(resp >= data && resp + resp_len == data + size &&
		       resp_len > 0);
	struct sl_cmsg_alter_isr a;
	rc = sl_cmsg_decode_alter_isr(data, size, &a);
	assert(rc == 0 || rc == -EINVAL);
	if (!rc) {
		long n = sl_cmsg_encode_alter_isr(out, sizeof(out), &a);
		assert(n == (long)size && !memcmp(out, data, size));
	}
	int32_t leader;
	char address[SL_CMSG_ADDRESS_MAX];
	rc = sl_cmsg_decode_leader(data, size, &leader, address);
	assert(rc == 0 || rc == -EINVAL);
	if (!rc) {
		/* what decodes encodes back to the same bytes */
		uint8_t back[4 + SL_CMSG_ADDRESS_MAX];
		size_t n = sl_cmsg_put_leader(back, leader, address);
		assert(n == size && !memcmp(back, data, size));
	}
	return 0;
}
