/*
 * sl_client: topic administration over one TCP connection, one request at
 * a time (CREATE_TOPIC, DELETE_TOPIC, METADATA, LIST_OFFSETS).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_pvt.h"
#include "proto/native.h"
#include "proto/record_batch.h"

#define ADMIN_TIMEOUT_MS 30000

struct sl_client {
	struct slc_conn conn;
	struct sockaddr_in sin;
	char addr[64];
	uint16_t udp_port, tcp_port;
	uint32_t udp_max_frame;
};

int sl_client_create(const char *addr, int timeout_ms, struct sl_client **out)
{
	struct sl_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	slc_conn_init(&c->conn);
	int rc = slc_parse_addr(addr, &c->sin, c->addr, sizeof(c->addr));
	if (rc)
		goto free_c;
	rc = slc_conn_open(&c->conn, &c->sin, timeout_ms);
	if (rc)
		goto free_c;
	*out = c;
	return 0;
free_c:
	free(c);
	return rc;
}

void sl_client_destroy(struct sl_client *c)
{
	if (!c)
		return;
	slc_conn_close(&c->conn);
	free(c);
}

const char *sl_client_addr(const struct sl_client *c)
{
	return c->addr;
}

void sl_client_ports(const struct sl_client *c, uint16_t *udp_port,
		     uint16_t *tcp_port, uint32_t *udp_max_frame)
{
	if (udp_port)
		*udp_port = c->udp_port;
	if (tcp_port)
		*tcp_port = c->tcp_port;
	if (udp_max_frame)
		*udp_max_frame = c->udp_max_frame;
}

long sl_topic_create(struct sl_client *c, const char *name,
		     const struct sl_topic_config *cfg)
{
	struct sl_topic_config def = { .partitions = 1 };
	if (!cfg)
		cfg = &def;
	size_t nl = strlen(name);
	if (!sn_topic_name_valid(name, nl))
		return -EINVAL;
	uint8_t req[SN_CREATE_REQ_BYTES + SN_NAME_MAX];
	struct sn_create_topic ct = {
		.partitions = cfg->partitions ? cfg->partitions : 1,
		.durability = (uint8_t)cfg->durability,
		.retention_ms = cfg->retention_ms,
		.retention_bytes = cfg->retention_bytes,
		.segment_bytes = cfg->segment_bytes,
		.name = name,
		.name_len = (uint16_t)nl,
	};
	long n = sn_encode_create_topic(req, sizeof(req), c->conn.next_corr++,
					&ct);
	if (n < 0)
		return -EINVAL;
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(&c->conn, req, (size_t)n, ADMIN_TIMEOUT_MS, &f,
			       &len);
	if (rc < 0)
		return rc;
	if ((rc = slc_frame_error(f)))
		return rc;
	uint32_t id;
	if ((rc = sn_decode_create_topic_resp(f, len, &id)))
		return slc_decode_error(rc);
	return (long)id;
}

int sl_topic_delete(struct sl_client *c, const char *name)
{
	size_t nl = strlen(name);
	if (!sn_topic_name_valid(name, nl))
		return -EINVAL;
	uint8_t req[SN_DELETE_REQ_BYTES + SN_NAME_MAX];
	long n = sn_encode_delete_topic(req, sizeof(req), c->conn.next_corr++,
					name, (uint16_t)nl);
	if (n < 0)
		return -EINVAL;
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(&c->conn, req, (size_t)n, ADMIN_TIMEOUT_MS, &f,
			       &len);
	if (rc < 0)
		return rc;
	return slc_frame_error(f);
}

int sl_topic_list(struct sl_client *c, struct sl_topic_info *out, int cap)
{
	uint8_t req[SN_METADATA_REQ_BYTES];
	long n = sn_encode_metadata(req, sizeof(req), c->conn.next_corr++,
				    NULL, 0);
	assert(n == SN_METADATA_REQ_BYTES);
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(&c->conn, req, (size_t)n, ADMIN_TIMEOUT_MS, &f,
			       &len);
	if (rc < 0)
		return rc;
	if ((rc = slc_frame_error(f)))
		return rc;
	struct sn_metadata_resp r;
	if ((rc = sn_decode_metadata_resp(f, len, &r)))
		return slc_decode_error(rc);
	c->udp_port = r.udp_port;
	c->tcp_port = r.tcp_port;
	c->udp_max_frame = r.udp_max_frame;
	size_t pos = 0;
	struct sn_topic_info t;
	int count = 0;
	while ((rc = sn_metadata_next(&r, &pos, &t)) == 1) {
		if (count < cap) {
			struct sl_topic_info *o = &out[count];
			memset(o, 0, sizeof(*o));
			size_t nl = t.name_len < sizeof(o->name) - 1 ?
					    t.name_len : sizeof(o->name) - 1;
			memcpy(o->name, t.name, nl);
			o->topic_id = t.topic_id;
			o->partitions = t.partitions;
			o->durability = t.durability;
			o->retention_ms = t.retention_ms;
			o->retention_bytes = t.retention_bytes;
			o->segment_bytes = t.segment_bytes;
			o->error = sl_err_broker(t.error);
		}
		count++;
	}
	if (rc < 0)
		return slc_decode_error(rc);
	return count;
}

int sl_topic_describe(struct sl_client *c, const char *name,
		      struct sl_topic_info *out)
{
	if (!sn_topic_name_valid(name, strlen(name)))
		return -EINVAL;
	uint16_t ports[2] = { 0, 0 };
	int rc = slc_metadata_one(&c->conn, name, out, ports, &c->udp_max_frame);
	if (ports[1]) {
		c->udp_port = ports[0];
		c->tcp_port = ports[1];
	}
	return rc;
}

int sl_list_offset(struct sl_client *c, const char *topic, int32_t partition,
		   int64_t timestamp, int64_t *offset)
{
	struct sl_topic_info t;
	int rc = sl_topic_describe(c, topic, &t);
	if (rc)
		return rc;
	if (partition < 0 || partition >= t.partitions)
		return sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	return slc_list_offset(&c->conn, t.topic_id, partition, timestamp,
			       offset);
}

/* ---- routing rules ---- */

/* One ROUTE call: 0, or the broker's error with its explanation in err;
 * each listed rule to cb. */
static int route_call(struct sl_client *c, uint8_t op, const char *name,
		      const char *rule, sl_route_cb cb, void *arg, char *err,
		      size_t errlen)
{
	size_t nl = name ? strlen(name) : 0, rl = rule ? strlen(rule) : 0;
	if (err && errlen)
		err[0] = 0;
	if (nl > SN_ROUTE_NAME_MAX || rl > SN_ROUTE_RULE_MAX)
		return -EINVAL;
	uint8_t req[SN_ROUTE_REQ_BYTES + SN_ROUTE_NAME_MAX +
		    SN_ROUTE_RULE_MAX];
	struct sn_route r = {op, name, (uint16_t)nl, rule, (uint16_t)rl};
	long n = sn_encode_route(req, sizeof(req), c->conn.next_corr++, &r);
	if (n < 0)
		return -EINVAL;
	const uint8_t *f;
	size_t len;
	int rc = slc_conn_call(&c->conn, req, (size_t)n, ADMIN_TIMEOUT_MS, &f,
			       &len);
	if (rc < 0)
		return rc;
	int ferr = slc_frame_error(f);
	struct sn_route_resp resp;
	if (len == SN_ROUTE_RESP_BYTES && ferr)
		return ferr; /* an error frame alone */
	if ((rc = sn_decode_route_resp(f, len, &resp)))
		return ferr ? ferr : slc_decode_error(rc);
	if (err && errlen && resp.message_len)
		snprintf(err, errlen, "%.*s", (int)resp.message_len,
			 resp.message);
	if (ferr)
		return ferr;
	size_t pos = 0;
	struct sn_route_entry e;
	int count = 0;
	while (sn_route_next(&resp, &pos, &e) == 1) {
		char en[SN_ROUTE_NAME_MAX + 1], er[SN_ROUTE_RULE_MAX + 1];
		snprintf(en, sizeof(en), "%.*s", (int)e.name_len, e.name);
		snprintf(er, sizeof(er), "%.*s", (int)e.rule_len, e.rule);
		if (cb)
			cb(arg, en, er, e.copied);
		count++;
	}
	return count;
}

int sl_route_put(struct sl_client *c, const char *name, const char *rule,
		 char *err, size_t errlen)
{
	int rc = route_call(c, SN_ROUTE_PUT, name, rule, NULL, NULL, err,
			    errlen);
	return rc > 0 ? 0 : rc;
}

int sl_route_delete(struct sl_client *c, const char *name, char *err,
		    size_t errlen)
{
	int rc = route_call(c, SN_ROUTE_DELETE, name, NULL, NULL, NULL, err,
			    errlen);
	return rc > 0 ? 0 : rc;
}

int sl_route_list(struct sl_client *c, sl_route_cb cb, void *arg)
{
	return route_call(c, SN_ROUTE_LIST, NULL, NULL, cb, arg, NULL, 0);
}
