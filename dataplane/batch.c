/*
 * The one check of a produced batch (batch.h).
 */
#include <stdlib.h>

#include "dataplane/batch.h"
#include "proto/compression.h"
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

int16_t dp_batch_check_keys(const uint8_t *b, size_t len)
{
	if (len < RB_HEADER_BYTES)
		return SN_ERR_CORRUPT_MESSAGE;
	int16_t attributes = (int16_t)rb_be16(b + RB_OFF_ATTRIBUTES);
	if (attributes & RB_ATTR_CONTROL)
		return 0;
	int codec = attributes & RB_ATTR_COMPRESSION_MASK;
	uint8_t *records = NULL;
	size_t records_len = 0;
	struct rb_iter it;
	if (codec == 0) {
		if (rb_iter_init(&it, b, len))
			return SN_ERR_CORRUPT_MESSAGE;
	} else {
		if (sl_decompress(codec, b + RB_HEADER_BYTES,
				  len - RB_HEADER_BYTES, DP_KEYS_RECORDS_MAX,
				  &records, &records_len))
			return SN_ERR_CORRUPT_MESSAGE;
		rb_iter_init_records(&it, b, records, records_len);
	}
	struct rb_record r;
	int rc;
	int16_t err = 0;
	/* bounded: one step per record of the batch's count */
	while ((rc = rb_iter_next(&it, &r)) == 1)
		if (!r.key) {
			err = SN_ERR_INVALID_RECORD;
			break;
		}
	if (rc < 0)
		err = SN_ERR_CORRUPT_MESSAGE;
	free(records);
	return err;
}
