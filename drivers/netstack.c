/*
 * Ethernet/ARP/IPv4/UDP/ICMP parsing and building for the DPDK driver
 * (formats and validity rules in netstack.h).  Pure functions: byte buffers
 * in, verdicts and lengths out.
 */
#include <assert.h>
#include <string.h>

#include "drivers/netstack.h"

static const char *const drop_names[] = {
#define NS_X(e, s) s,
	NS_DROP_REASONS(NS_X)
#undef NS_X
};
_Static_assert(sizeof(drop_names) / sizeof(drop_names[0]) == NS_DROP_MAX,
	       "drop_names in sync with NS_DROP_REASONS");

const char *ns_drop_name(int reason)
{
	if (reason < 0 || reason >= NS_DROP_MAX)
		return "?";
	return drop_names[reason];
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* 32-bit address fields are copied as-is: callers keep network order. */
static inline uint32_t rd32n(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint32_t sum_bytes(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;
	while (len >= 8) {
		uint32_t a, b;
		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		s += a;
		s += b;
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* the odd byte is the high byte of a big-endian word, which in
		 * the native (little-endian) sum is the low byte */
		uint16_t w = 0;
		memcpy(&w, p, 1);
		s += w;
	}
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

static uint16_t fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sums are taken over native-endian 16-bit loads (RFC 1071 is byte-order
 * independent); the result is returned so that memcpy'ing it into the
 * packet gives the right bytes. */
uint16_t ns_cksum(const void *p, size_t len, uint32_t sum)
{
	return (uint16_t)~fold(sum_bytes(p, len, sum));
}

uint32_t ns_pseudo_sum(uint32_t src_ip, uint32_t dst_ip, uint8_t proto,
		       uint16_t l4_len)
{
	uint8_t ph[12];
	memcpy(ph, &src_ip, 4);
	memcpy(ph + 4, &dst_ip, 4);
	ph[8] = 0;
	ph[9] = proto;
	wr16(ph + 10, l4_len);
	return sum_bytes(ph, sizeof(ph), 0);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int drop(struct ns_rx *rx, int reason)
{
	rx->verdict = NS_DROP;
	rx->reason = reason;
	return NS_DROP;
}

static int parse_arp(const struct ns_self *self, const uint8_t *f, size_t len,
		     struct ns_rx *rx)
{
	const uint8_t *a = f + NS_ETH_LEN;
	rx->l3_off = NS_ETH_LEN;
	if (len < NS_ETH_LEN + NS_ARP_LEN)
		return drop(rx, NS_DROP_TRUNCATED);
	if (rd16(a) != 1 || rd16(a + 2) != NS_ETHERTYPE_IPV4 || a[4] != 6 ||
	    a[5] != 4)
		return drop(rx, NS_DROP_BAD_ARP);
	uint16_t op = rd16(a + 6);
	memcpy(rx->src_mac, a + 8, 6);
	rx->src_ip = rd32n(a + 14);
	if (op == 1 && rd32n(a + 24) == self->ip) {
		rx->verdict = NS_ARP_REQUEST;
		return NS_ARP_REQUEST;
	}
	if ((op == 1 || op == 2) && rx->src_ip != 0) {
		rx->verdict = NS_ARP_LEARN;
		return NS_ARP_LEARN;
	}
	return drop(rx, NS_DROP_BAD_ARP);
}

int ns_parse(const struct ns_self *self, const uint8_t *f, size_t len,
	     unsigned flags, struct ns_rx *rx)
{
	assert(self && f && rx);
	memset(rx, 0, sizeof(*rx));
	if (len < NS_ETH_LEN)
		return drop(rx, NS_DROP_TRUNCATED);
	uint16_t et = rd16(f + 12);
	if (et != NS_ETHERTYPE_IPV4 && et != NS_ETHERTYPE_ARP)
		return drop(rx, NS_DROP_NON_IPV4);
	if (et == NS_ETHERTYPE_ARP)
		return parse_arp(self, f, len, rx);
	if (memcmp(f, self->mac, 6) && memcmp(f, bcast, 6))
		return drop(rx, NS_DROP_WRONG_DST_MAC);
	memcpy(rx->src_mac, f + 6, 6);

	const uint8_t *ip = f + NS_ETH_LEN;
	size_t avail = len - NS_ETH_LEN;
	rx->l3_off = NS_ETH_LEN;
	if (avail < NS_IP_LEN)
		return drop(rx, NS_DROP_TRUNCATED);
	unsigned ihl = (ip[0] & 0x0fu) * 4u;
	if ((ip[0] >> 4) != 4 || ihl < NS_IP_LEN)
		return drop(rx, NS_DROP_BAD_IP_HEADER);
	uint16_t tot = rd16(ip + 2);
	if (tot < ihl)
		return drop(rx, NS_DROP_BAD_IP_HEADER);
	if (tot > avail || ihl > avail)
		return drop(rx, NS_DROP_TRUNCATED);
	if (!(flags & NS_RX_IP_CKSUM_GOOD) && ns_cksum(ip, ihl, 0) != 0)
		return drop(rx, NS_DROP_BAD_IP_CHECKSUM);
	rx->ip_len = tot;
	rx->src_ip = rd32n(ip + 12);
	if (rd32n(ip + 16) != self->ip)
		return drop(rx, NS_DROP_WRONG_DST_IP);
	if (rd16(ip + 6) & 0x3fffu) /* MF or a fragment offset */
		return drop(rx, NS_DROP_FRAGMENT);

	const uint8_t *l4 = ip + ihl;
	size_t l4_len = tot - ihl;
	rx->l4_off = (uint16_t)(NS_ETH_LEN + ihl);
	switch (ip[9]) {
	case 1: /* ICMP */
		if (l4_len < NS_ICMP_LEN)
			return drop(rx, NS_DROP_TRUNCATED);
		if (l4[0] != 8)
			return drop(rx, NS_DROP_ICMP_OTHER);
		if (l4[1] != 0 || ns_cksum(l4, l4_len, 0) != 0)
			return drop(rx, NS_DROP_BAD_ICMP);
		rx->verdict = NS_ICMP_ECHO;
		return NS_ICMP_ECHO;
	case 17: { /* UDP */
		if (l4_len < NS_UDP_LEN)
			return drop(rx, NS_DROP_TRUNCATED);
		uint16_t ulen = rd16(l4 + 4);
		if (ulen < NS_UDP_LEN || ulen > l4_len)
			return drop(rx, NS_DROP_BAD_UDP_LENGTH);
		uint16_t dport;
		memcpy(&dport, l4 + 2, 2);
		if (dport != self->udp_port)
			return drop(rx, NS_DROP_WRONG_UDP_PORT);
		if (!(flags & NS_RX_L4_CKSUM_GOOD) && rd16(l4 + 6) != 0) {
			uint32_t ps = ns_pseudo_sum(rx->src_ip, self->ip, 17,
						    ulen);
			if (ns_cksum(l4, ulen, ps) != 0)
				return drop(rx, NS_DROP_BAD_UDP_CHECKSUM);
		}
		memcpy(&rx->src_port, l4, 2);
		rx->payload = l4 + NS_UDP_LEN;
		rx->payload_len = ulen - NS_UDP_LEN;
		rx->verdict = NS_UDP;
		return NS_UDP;
	}
	default:
		return drop(rx, NS_DROP_OTHER_IP_PROTO);
	}
}

size_t ns_arp_reply_in_place(const struct ns_self *self, uint8_t *f,
			     size_t len)
{
	assert(len >= NS_ETH_LEN + NS_ARP_LEN);
	uint8_t *a = f + NS_ETH_LEN;
	assert(rd16(a + 6) == 1 && rd32n(a + 24) == self->ip);
	uint8_t sha[6], spa[4];
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	memcpy(f, sha, 6);            /* to the asker */
	memcpy(f + 6, self->mac, 6);
	wr16(a + 6, 2);
	memcpy(a + 8, self->mac, 6);
	memcpy(a + 14, &self->ip, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	return len < 60 ? len : 60;
}

size_t ns_build_arp_request(const struct ns_self *self, uint32_t target_ip,
			    uint8_t *out, size_t cap)
{
	if (cap < 60)
		return 0;
	memset(out, 0, 60);
	memcpy(out, bcast, 6);
	memcpy(out + 6, self->mac, 6);
	wr16(out + 12, NS_ETHERTYPE_ARP);
	uint8_t *a = out + NS_ETH_LEN;
	wr16(a, 1);
	wr16(a + 2, NS_ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, self->mac, 6);
	memcpy(a + 14, &self->ip, 4);
	memcpy(a + 24, &target_ip, 4);
	return 60;
}

size_t ns_icmp_echo_reply_in_place(uint8_t *f, size_t len,
				   const struct ns_rx *rx)
{
	assert(rx->verdict == NS_ICMP_ECHO && rx->l4_off > rx->l3_off);
	uint8_t *ip = f + rx->l3_off;
	uint8_t *icmp = f + rx->l4_off;
	uint8_t tmp[6];
	memcpy(tmp, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, tmp, 6);
	memcpy(tmp, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, tmp, 4);
	ip[8] = 64;
	ip[10] = ip[11] = 0;
	uint16_t c = ns_cksum(ip, rx->l4_off - rx->l3_off, 0);
	memcpy(ip + 10, &c, 2);
	/* type 8 -> 0: the checksum rises by 0x0800 (RFC 1624) */
	icmp[0] = 0;
	uint16_t old;
	memcpy(&old, icmp + 2, 2);
	uint32_t s = (uint16_t)~old;
	uint16_t neg = (uint16_t)~0x0800u;
	uint8_t nb[2];
	wr16(nb, neg);
	uint16_t negn;
	memcpy(&negn, nb, 2);
	s += negn;
	uint16_t nc = (uint16_t)~fold(s);
	/* RFC 1624's equation gives 0x0000 where the message sums to +0
	 * (an all-zero reply: id 0, seq 0, no data), which the asker's check
	 * rejects; 0xffff is the same zero and right in every case where
	 * 0x0000 is. */
	if (nc == 0)
		nc = 0xffff;
	memcpy(icmp + 2, &nc, 2);
	size_t out = (size_t)rx->l3_off + rx->ip_len;
	(void)len;
	return out < 60 ? 60 : out;
}

size_t ns_build_udp(const struct ns_self *self, const uint8_t dst_mac[6],
		    uint32_t dst_ip, uint16_t dst_port, uint8_t *out,
		    size_t payload_len, uint16_t ip_id, unsigned mode)
{
	if (payload_len > 65507)
		return 0;
	memcpy(out, dst_mac, 6);
	memcpy(out + 6, self->mac, 6);
	wr16(out + 12, NS_ETHERTYPE_IPV4);
	uint8_t *ip = out + NS_ETH_LEN;
	uint16_t tot = (uint16_t)(NS_IP_LEN + NS_UDP_LEN + payload_len);
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, tot);
	wr16(ip + 4, ip_id);
	wr16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &self->ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	if (mode & NS_TX_IP_CKSUM) {
		uint16_t c = ns_cksum(ip, NS_IP_LEN, 0);
		memcpy(ip + 10, &c, 2);
	}
	uint8_t *u = ip + NS_IP_LEN;
	uint16_t ulen = (uint16_t)(NS_UDP_LEN + payload_len);
	memcpy(u, &self->udp_port, 2);
	memcpy(u + 2, &dst_port, 2);
	wr16(u + 4, ulen);
	u[6] = u[7] = 0;
	uint32_t ps = ns_pseudo_sum(self->ip, dst_ip, 17, ulen);
	if (mode & NS_TX_UDP_CKSUM) {
		uint16_t c = ns_cksum(u, ulen, ps);
		if (c == 0)
			c = 0xffff; /* 0 means "no checksum" */
		memcpy(u + 6, &c, 2);
	} else if (mode & NS_TX_UDP_PHDR) {
		uint16_t c = fold(ps); /* not complemented: the NIC finishes */
		memcpy(u + 6, &c, 2);
	}
	return NS_UDP_HDRS + payload_len;
}
