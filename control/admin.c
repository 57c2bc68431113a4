/*
 * Topic administration rules and transactions (see admin.h).
 *
 * Error mapping: a request that cannot be decoded gets the decoder's error
 * (INVALID_REQUEST, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
 * UNSUPPORTED_VERSION); an existing name TOPIC_ALREADY_EXISTS; an unknown
 * name UNKNOWN_TOPIC_OR_PARTITION; a store that cannot be read or written
 * KAFKA_STORAGE_ERROR, with the reason in the log line.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/admin.h"
#include "proto/record_batch.h"

#define SEGMENT_BYTES_MIN (1ll << 20)
#define SEGMENT_BYTES_MAX (2047ll << 20)

int sl_admin_topic_from(const struct sl_config *c,
			const struct sn_create_topic *r, struct sl_topic *t)
{
	memset(t, 0, sizeof(*t));
	if (!sn_topic_name_valid(r->name, r->name_len))
		return -SN_ERR_INVALID_TOPIC_EXCEPTION;
	if (r->partitions < 1 || r->partitions > SN_PARTITIONS_MAX)
		return -SN_ERR_INVALID_PARTITIONS;
	if (r->durability > 1)
		return -SN_ERR_INVALID_REQUEST;
	t->partitions = r->partitions;
	t->durability = r->durability;
	t->retention_ms = r->retention_ms ? r->retention_ms : c->retention_ms;
	t->retention_bytes = r->retention_bytes ? r->retention_bytes
						: c->retention_bytes;
	t->segment_bytes = r->segment_bytes ? r->segment_bytes
					    : c->segment_bytes;
	if (t->retention_ms < -1 || t->retention_bytes < -1 ||
	    t->segment_bytes < SEGMENT_BYTES_MIN ||
	    t->segment_bytes > SEGMENT_BYTES_MAX)
		return -SN_ERR_INVALID_REQUEST;
	t->name_len = r->name_len;
	memcpy(t->name, r->name, r->name_len);
	t->name[r->name_len] = 0;
	return 0;
}

long sl_admin_create(struct sl_meta *m, const struct sl_topic *t,
		     struct sl_topic *out, char *err, size_t errlen)
{
	assert(t->partitions >= 1 && t->partitions <= SN_PARTITIONS_MAX);
	if (sl_meta_begin(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	long id = sl_meta_create(m, t);
	if (id < 0) {
		sl_meta_abort(m);
		if (id == -EEXIST) {
			snprintf(err, errlen, "topic '%s' already exists",
				 t->name);
			return -SN_ERR_TOPIC_ALREADY_EXISTS;
		}
		snprintf(err, errlen, "cannot create topic '%s': %s", t->name,
			 id == -ENOSPC ? "too many topics (4096)"
				       : "topic ids exhausted");
		return -SN_ERR_INVALID_PARTITIONS;
	}
	if (out)
		*out = *sl_meta_find_id(m, (uint32_t)id);
	if (sl_meta_commit(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	assert(id > 0);
	return id;
}

long sl_admin_delete(struct sl_meta *m, const char *name, size_t name_len,
		     struct sl_topic *out, char *err, size_t errlen)
{
	if (sl_meta_begin(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	if (sl_meta_delete(m, name, name_len, out)) {
		sl_meta_abort(m);
		snprintf(err, errlen, "topic '%.*s' does not exist",
			 (int)name_len, name);
		return -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (sl_meta_commit(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	return 0;
}

long sl_admin_modify(struct sl_meta *m, const char *name, size_t name_len,
		     int (*fn)(struct sl_topic *t, void *ctx, char *err,
			       size_t errlen),
		     void *ctx, int validate_only, struct sl_topic *out,
		     char *err, size_t errlen)
{
	if (sl_meta_begin(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	const struct sl_topic *t = sl_meta_find(m, name, name_len);
	if (!t) {
		sl_meta_abort(m);
		snprintf(err, errlen, "topic '%.*s' does not exist",
			 (int)name_len, name);
		return -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	struct sl_topic copy = *t;
	int rc = fn(&copy, ctx, err, errlen);
	assert(rc >= 0);
	assert(copy.id == t->id && !strcmp(copy.name, t->name));
	if (rc || validate_only) {
		sl_meta_abort(m);
		if (out && !rc)
			*out = copy;
		return -rc;
	}
	rc = sl_meta_update(m, &copy);
	assert(rc == 0); /* found above, under the lock */
	if (out)
		*out = copy;
	if (sl_meta_commit(m, err, errlen))
		return -SN_ERR_KAFKA_STORAGE_ERROR;
	return 0;
}

long sl_admin_handle(struct sl_meta *m, const struct sl_config *c,
		     const uint8_t *req, size_t len, uint8_t *resp, size_t cap,
		     uint32_t *changed_id, char *err, size_t errlen)
{
	struct sn_header h;
	struct sl_topic t, done;
	long rc;
	*changed_id = 0;
	if (cap < 64)
		return -ENOBUFS;
	long flen = sn_header_parse(req, len, SN_TCP_MAX_FRAME, &h);
	if (flen <= 0 || (size_t)flen != len) {
		/* not even a frame: answer with whatever opcode was there */
		snprintf(err, errlen, "admin: malformed frame (%zu bytes)", len);
		return sn_encode_error_resp(resp, cap,
					    len >= 4 ? (req[3] & 0x7f) : 0,
					    len >= 12 ? rb_be32(req + 8) : 0,
					    flen == -SN_ERR_UNSUPPORTED_VERSION
						    ? SN_ERR_UNSUPPORTED_VERSION
						    : SN_ERR_INVALID_REQUEST);
	}
	if (h.opcode == SN_CREATE_TOPIC) {
		struct sn_create_topic r = { .name = "" };
		rc = sn_decode_create_topic(req, len, &r);
		if (rc == 0)
			rc = sl_admin_topic_from(c, &r, &t);
		if (rc == 0) {
			rc = sl_admin_create(m, &t, &done, err, errlen);
		} else {
			int show = r.name_len <= SN_NAME_MAX &&
				   (size_t)SN_CREATE_REQ_BYTES + r.name_len <= len;
			snprintf(err, errlen, "CREATE_TOPIC '%.*s' refused: %s",
				 show ? (int)r.name_len : 0, r.name,
				 sn_error_name((int)-rc));
		}
		if (rc > 0) {
			*changed_id = (uint32_t)rc;
			snprintf(err, errlen, "created topic '%s' id %u, %d "
				 "partitions, retention %lld ms / %lld bytes, "
				 "segment %lld bytes, durability %s", done.name,
				 done.id, done.partitions,
				 (long long)done.retention_ms,
				 (long long)done.retention_bytes,
				 (long long)done.segment_bytes,
				 done.durability ? "group" : "every_append");
		}
		return sn_encode_create_topic_resp(resp, cap, h.corr,
						   (int16_t)(rc < 0 ? -rc : 0),
						   rc > 0 ? (uint32_t)rc : 0);
	}
	if (h.opcode == SN_DELETE_TOPIC) {
		const char *name = NULL;
		uint16_t name_len = 0;
		rc = sn_decode_delete_topic(req, len, &name, &name_len);
		if (rc == 0) {
			rc = sl_admin_delete(m, name, name_len, &done, err,
					     errlen);
		} else {
			snprintf(err, errlen, "DELETE_TOPIC refused: %s",
				 sn_error_name((int)-rc));
		}
		if (rc == 0) {
			*changed_id = done.id;
			snprintf(err, errlen, "deleted topic '%s' id %u",
				 done.name, done.id);
		}
		return sn_encode_delete_topic_resp(resp, cap, h.corr,
						   (int16_t)(rc < 0 ? -rc : 0));
	}
	snprintf(err, errlen, "admin: opcode 0x%02x is not CREATE_TOPIC or "
		 "DELETE_TOPIC", h.opcode);
	return sn_encode_error_resp(resp, cap, h.opcode & 0x7f, h.corr,
				    SN_ERR_UNSUPPORTED_VERSION);
}
