/*
 * The controller RPC's messages (formats in cmsg.h).
 */
#include <errno.h>
#include <string.h>

#include "control/cmsg.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

long sl_cmsg_encode_heartbeat(uint8_t *buf, size_t cap,
			      const struct sl_cmsg_heartbeat *h)
{
	size_t hl = strnlen(h->host, sizeof(h->host));
	if (h->node_id < 1 || h->node_id > 65535 || !h->incarnation ||
	    hl == 0 || hl > SL_CMSG_HOST_MAX ||
	    (h->flags & ~(SL_CMSG_READY | SL_CMSG_SHUTDOWN)))
		return -EINVAL;
	if (cap < 24 + hl)
		return -ENOBUFS;
	put32(buf, (uint32_t)h->node_id);
	put64(buf + 4, h->incarnation);
	put16(buf + 12, h->kafka_port);
	put16(buf + 14, h->native_port);
	buf[16] = h->flags;
	buf[17] = (uint8_t)hl;
	memcpy(buf + 18, h->host, hl);
	put16(buf + 18 + hl, h->udp_port);
	memcpy(buf + 20 + hl, &h->udp_addr, 4); /* network order as given */
	return (long)(24 + hl);
}

int sl_cmsg_decode_heartbeat(const uint8_t *b, size_t len,
			     struct sl_cmsg_heartbeat *h)
{
	if (len < 19)
		return -EINVAL;
	size_t hl = b[17];
	/* the UDP endpoint after the host; a heartbeat without one (an
	 * older broker's): its native port, at host */
	if (hl == 0 || hl > SL_CMSG_HOST_MAX ||
	    (len != 18 + hl && len != 24 + hl))
		return -EINVAL;
	h->node_id = (int32_t)get32(b);
	h->incarnation = get64(b + 4);
	h->kafka_port = get16(b + 12);
	h->native_port = get16(b + 14);
	h->flags = b[16];
	if (h->node_id < 1 || h->node_id > 65535 || !h->incarnation ||
	    (h->flags & ~(SL_CMSG_READY | SL_CMSG_SHUTDOWN)))
		return -EINVAL;
	memcpy(h->host, b + 18, hl);
	h->host[hl] = 0;
	h->udp_port = h->native_port;
	h->udp_addr = 0;
	if (len == 24 + hl) {
		h->udp_port = get16(b + 18 + hl);
		memcpy(&h->udp_addr, b + 20 + hl, 4);
	}
	if (memchr(h->host, 0, hl))
		return -EINVAL;
	return 0;
}

long sl_cmsg_encode_heartbeat_reply(uint8_t *buf, size_t cap,
				    const struct sl_cmsg_heartbeat_reply *r)
{
	if (r->fenced > 1)
		return -EINVAL;
	if (cap < 13)
		return -ENOBUFS;
	put32(buf, (uint32_t)r->controller_id);
	buf[4] = r->fenced;
	put64(buf + 5, r->applied_index);
	return 13;
}

int sl_cmsg_decode_heartbeat_reply(const uint8_t *b, size_t len,
				   struct sl_cmsg_heartbeat_reply *r)
{
	if (len != 13 || b[4] > 1)
		return -EINVAL;
	r->controller_id = (int32_t)get32(b);
	r->fenced = b[4];
	r->applied_index = get64(b + 5);
	return 0;
}

long sl_cmsg_encode_alter_isr(uint8_t *buf, size_t cap,
			      const struct sl_cmsg_alter_isr *a)
{
	if (a->n < 1 || a->n > SL_CMSG_ISR_MAX)
		return -EINVAL;
	size_t len = 21 + 4 * (size_t)a->n;
	if (cap < len)
		return -ENOBUFS;
	put32(buf, a->topic_id);
	put32(buf + 4, (uint32_t)a->partition);
	put32(buf + 8, (uint32_t)a->from);
	put32(buf + 12, (uint32_t)a->leader_epoch);
	put32(buf + 16, (uint32_t)a->partition_epoch);
	buf[20] = a->n;
	for (unsigned i = 0; i < a->n; i++)
		put32(buf + 21 + 4 * i, (uint32_t)a->isr[i]);
	return (long)len;
}

int sl_cmsg_decode_alter_isr(const uint8_t *b, size_t len,
			     struct sl_cmsg_alter_isr *a)
{
	if (len < 25)
		return -EINVAL;
	a->n = b[20];
	if (a->n < 1 || a->n > SL_CMSG_ISR_MAX || len != 21 + 4 * (size_t)a->n)
		return -EINVAL;
	a->topic_id = get32(b);
	a->partition = (int32_t)get32(b + 4);
	a->from = (int32_t)get32(b + 8);
	a->leader_epoch = (int32_t)get32(b + 12);
	a->partition_epoch = (int32_t)get32(b + 16);
	for (unsigned i = 0; i < a->n; i++)
		a->isr[i] = (int32_t)get32(b + 21 + 4 * i);
	return 0;
}

void sl_cmsg_put_index(uint8_t *buf, uint64_t index)
{
	put64(buf, index);
}

size_t sl_cmsg_put_leader(uint8_t *buf, int32_t leader_id,
			  const char *address)
{
	put32(buf, (uint32_t)leader_id);
	size_t n = address ? strnlen(address, SL_CMSG_ADDRESS_MAX - 1) : 0;
	if (n)
		memcpy(buf + 4, address, n);
	return 4 + n;
}

int sl_cmsg_decode_forward_reply(const uint8_t *b, size_t len,
				 uint64_t *index, const uint8_t **resp,
				 size_t *resp_len)
{
	if (len < 9)
		return -EINVAL; /* an index and at least one byte */
	*index = get64(b);
	*resp = b + 8;
	*resp_len = len - 8;
	return 0;
}

int sl_cmsg_decode_leader(const uint8_t *b, size_t len, int32_t *leader_id,
			  char *address)
{
	if (len < 4 || len > 4 + SL_CMSG_ADDRESS_MAX - 1)
		return -EINVAL;
	*leader_id = (int32_t)get32(b);
	if (*leader_id < -1 || *leader_id > 65535)
		return -EINVAL;
	for (size_t i = 4; i < len; i++)
		if (!((b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == ':'))
			return -EINVAL; /* "a.b.c.d:port" only */
	memcpy(address, b + 4, len - 4);
	address[len - 4] = 0;
	return 0;
}
