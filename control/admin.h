/*
 * Topic administration: the rules for creating and deleting a topic, shared
 * by the native CREATE_TOPIC / DELETE_TOPIC requests that sluiced forwards
 * (SIPC_ADMIN) and the local `sluice-control topic ...` commands.
 *
 * Every change is a transaction on the metadata store (lock, re-read,
 * apply, save atomically, unlock), so it is durable before anyone is told.
 * Control-plane thread only.
 */
#ifndef SLUICE_CONTROL_ADMIN_H
#define SLUICE_CONTROL_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "control/metadata.h"
#include "proto/config.h"
#include "proto/native.h"

/*
 * A topic from a decoded CREATE_TOPIC request: 0 fields take the config's
 * defaults (retention ms and bytes, segment bytes).  Returns 0 or a
 * negative protocol error: -SN_ERR_INVALID_TOPIC_EXCEPTION (name),
 * -SN_ERR_INVALID_PARTITIONS (not 1..1024), -SN_ERR_INVALID_REQUEST
 * (retention below -1, segment bytes outside 1 MiB .. 2047 MiB,
 * durability not 0/1).
 */
int sl_admin_topic_from(const struct sl_config *c,
			const struct sn_create_topic *r, struct sl_topic *t);

/*
 * Create / delete as a transaction.  Return the topic id (create) or 0
 * (delete), or a negative protocol error: -SN_ERR_TOPIC_ALREADY_EXISTS,
 * -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, -SN_ERR_INVALID_PARTITIONS (too many
 * topics), -SN_ERR_KAFKA_STORAGE_ERROR (the store could not be read or
 * saved: err says why).  *out gets the created/deleted topic.
 */
long sl_admin_create(struct sl_meta *m, const struct sl_topic *t,
		     struct sl_topic *out, char *err, size_t errlen);
long sl_admin_delete(struct sl_meta *m, const char *name, size_t name_len,
		     struct sl_topic *out, char *err, size_t errlen);

/*
 * Change one topic as a transaction: lock and re-read the store, copy the
 * topic called name, let fn change the copy (partitions, retention,
 * segment and compaction fields; fn returns 0 or a positive protocol error
 * and may write err), then save it unless validate_only.  Returns 0 or a
 * negative protocol error: fn's, -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
 * -SN_ERR_KAFKA_STORAGE_ERROR (err says why).  *out (may be NULL) gets
 * the topic as changed.
 */
long sl_admin_modify(struct sl_meta *m, const char *name, size_t name_len,
		     int (*fn)(struct sl_topic *t, void *ctx, char *err,
			       size_t errlen),
		     void *ctx, int validate_only, struct sl_topic *out,
		     char *err, size_t errlen);

/*
 * Handle one client request frame (CREATE_TOPIC or DELETE_TOPIC) and write
 * the native response frame (same correlation id) into resp.  Returns its
 * length (> 0), or -ENOBUFS when cap < 64.  *changed_id is the id of the
 * topic created/deleted, 0 when nothing changed.  err gets a log line.
 */
long sl_admin_handle(struct sl_meta *m, const struct sl_config *c,
		     const uint8_t *req, size_t len, uint8_t *resp, size_t cap,
		     uint32_t *changed_id, char *err, size_t errlen);

#endif
