/*
 * The one check of a produced batch (batch.h).
 */
#include "dataplane/batch.h"
#include "proto/record_batch.h"

int16_t dp_batch_check(const uint8_t *b, size_t len, enum dp_bad *why)
{
	int rc;
	if (len > DP_BATCH_MAX_BYTES) {
		*why = DP_BAD_BATCH_TOO_LARGE;
		return SN_ERR_MESSAGE_TOO_LARGE;
	}
	if (len < RB_HEADER_BYTES) {
		*why = DP_BAD_BAD_BATCH;
		return SN_ERR_CORRUPT_MESSAGE;
	}
	if (b[RB_OFF_MAGIC] != RB_MAGIC) {
		*why = DP_BAD_BAD_BATCH;
		return SN_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	}
	if (rb_frame_size(b, len, len) != (long)len) {
		*why = DP_BAD_BAD_BATCH;
		return SN_ERR_INVALID_RECORD; /* not one batch */
	}
	rc = rb_validate(b, len);
	if (rc < 0) {
		*why = dp_bad_of_batch(rc);
		return rb_error_code(rc);
	}
	return 0;
}
