/*
 * The one check of a produced record batch, for every front-end: a batch
 * that passes is stored byte for byte (the storage core only re-checks the
 * shape its own offsets depend on).
 */
#ifndef SLUICE_DATAPLANE_BATCH_H
#define SLUICE_DATAPLANE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/dp.h"

/*
 * Check the len bytes at b as one producer batch: at most
 * DP_BATCH_MAX_BYTES (MESSAGE_TOO_LARGE), at least a header
 * (CORRUPT_MESSAGE), magic 2 (UNSUPPORTED_FOR_MESSAGE_FORMAT), exactly one
 * batch (INVALID_RECORD), then every rule of rb_validate (its
 * rb_error_code).  Returns 0 or that error; *why is the counter of the
 * refusal (dp_bad_names).
 */
int16_t dp_batch_check(const uint8_t *b, size_t len, enum dp_bad *why);

/*
 * A batch (checked by dp_batch_check) for a compacted topic: every record
 * must have a key, as Kafka requires.  Returns 0, INVALID_RECORD when a
 * record's key is null (control batches are not looked at), or
 * CORRUPT_MESSAGE when the records cannot be decoded (a compressed batch
 * is decompressed into a temporary buffer of at most
 * DP_KEYS_RECORDS_MAX bytes).  Storage core (any thread).
 */
#define DP_KEYS_RECORDS_MAX (32u << 20)
int16_t dp_batch_check_keys(const uint8_t *b, size_t len);

#endif
