/*
 * libFuzzer target for the DPDK driver's network stack (drivers/netstack.c):
 * every Ethernet frame a port receives goes through ns_parse, and the ARP
 * and ICMP answers are built in place in the received buffer.
 *
 * Input: one flags byte, then the frame.  Flags bits 0-1 are ns_parse's
 * NS_RX_* (what the NIC vouched for); bit 2 makes the frame ours where it
 * is long enough (destination MAC, IPv4 destination address, UDP port)
 * and bit 3 repairs the IPv4 header checksum and the ICMP or UDP checksum,
 * so that the fuzzer gets past the address and checksum checks into the
 * deeper rules as often as it likes.
 *
 * Properties, on every input:
 *   1. ns_parse reads only the frame (ASan: the frame is a heap copy of
 *      exactly len bytes) and classifies it: a verdict in range, a drop
 *      reason in range with a name;
 *   2. NS_UDP: the payload lies inside the frame, the offsets agree with
 *      the headers, and the same payload sent back with ns_build_udp
 *      parses, at the peer, as a datagram with the same bytes;
 *   3. NS_ARP_REQUEST: the reply built in place is an ARP reply that the
 *      asker learns our addresses from;
 *   4. NS_ICMP_ECHO: the reply built in place carries a valid IPv4 header
 *      checksum and a valid ICMP checksum (checked with an independent
 *      byte-wise RFC 1071 sum), swaps the addresses, and is an echo reply
 *      (ICMP_OTHER to the asker);
 *   5. a frame parsed twice gives the same answer (no hidden state).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/netstack.h"
#include "fuzz_util.h"

#define FRAME_MAX 9216 /* a jumbo frame */

static const struct ns_self self = {
	.mac = { 0x02, 0, 0, 0, 0, 0x02 },
	.ip = 0x0200580au,     /* 10.88.0.2 in network order on x86 */
	.udp_port = 0x8523u,   /* 9093 in network order on x86 */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The reference checksum: big-endian words, byte by byte, complemented. */
static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Make the frame ours and (mode 2) its checksums right, where its length
 * allows; the parser decides the rest. */
static void repair(uint8_t *f, size_t len, unsigned flags)
{
	if (len < NS_ETH_LEN)
		return;
	if (flags & 4)
		memcpy(f, self.mac, 6);
	if (be16(f + 12) != NS_ETHERTYPE_IPV4 || len < NS_ETH_LEN + NS_IP_LEN)
		return;
	uint8_t *ip = f + NS_ETH_LEN;
	size_t ihl = (ip[0] & 0x0fu) * 4u, avail = len - NS_ETH_LEN;
	if (flags & 4)
		memcpy(ip + 16, &self.ip, 4);
	if (ihl < NS_IP_LEN || ihl > avail)
		return;
	size_t tot = be16(ip + 2);
	uint8_t *l4 = ip + ihl;
	if ((flags & 4) && ip[9] == 17 && tot >= ihl + NS_UDP_LEN &&
	    tot <= avail)
		memcpy(l4 + 2, &self.udp_port, 2);
	if (!(flags & 8))
		return;
	ip[10] = ip[11] = 0;
	uint16_t c = ns_cksum(ip, ihl, 0);
	memcpy(ip + 10, &c, 2);
	if (tot < ihl || tot > avail)
		return;
	size_t l4_len = tot - ihl;
	if (ip[9] == 1 && l4_len >= NS_ICMP_LEN) {
		l4[2] = l4[3] = 0;
		c = ns_cksum(l4, l4_len, 0);
		memcpy(l4 + 2, &c, 2);
	} else if (ip[9] == 17 && l4_len >= NS_UDP_LEN) {
		size_t ulen = be16(l4 + 4);
		if (ulen < NS_UDP_LEN || ulen > l4_len)
			return;
		uint32_t src, dst;
		memcpy(&src, ip + 12, 4);
		memcpy(&dst, ip + 16, 4);
		l4[6] = l4[7] = 0;
		c = ns_cksum(l4, ulen, ns_pseudo_sum(src, dst, 17,
						     (uint16_t)ulen));
		if (c == 0)
			c = 0xffff;
		memcpy(l4 + 6, &c, 2);
	}
}

static void check_udp(const uint8_t *f, size_t len, const struct ns_rx *rx)
{
	FUZZ_CHECK(rx->payload >= f && rx->payload + rx->payload_len <= f + len);
	FUZZ_CHECK(rx->l3_off == NS_ETH_LEN && rx->l4_off >= NS_ETH_LEN +
		   NS_IP_LEN && rx->l4_off + NS_UDP_LEN <= len);
	FUZZ_CHECK(rx->payload == f + rx->l4_off + NS_UDP_LEN);
	FUZZ_CHECK(be16(f + rx->l4_off + 4) == rx->payload_len + NS_UDP_LEN);
	FUZZ_CHECK(rx->l3_off + (size_t)rx->ip_len <= len);
	/* answer with the same bytes: the peer must read them back */
	struct ns_self peer = { .ip = rx->src_ip, .udp_port = rx->src_port };
	memcpy(peer.mac, rx->src_mac, 6);
	uint8_t *out = malloc(NS_UDP_HDRS + rx->payload_len);
	FUZZ_CHECK(out != NULL);
	memcpy(out + NS_UDP_HDRS, rx->payload, rx->payload_len);
	size_t n = ns_build_udp(&self, peer.mac, peer.ip, peer.udp_port, out,
				rx->payload_len, 1,
				NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM);
	if (rx->payload_len > 65507) {
		FUZZ_CHECK(n == 0);
	} else {
		FUZZ_CHECK(n == NS_UDP_HDRS + rx->payload_len);
		struct ns_rx back;
		int v = ns_parse(&peer, out, n, 0, &back);
		/* a peer at a broadcast or zero address is answered all the
		 * same; it parses its own datagram unless its MAC is one it
		 * would not accept (it is always its own: accepted) */
		FUZZ_CHECK(v == NS_UDP);
		FUZZ_CHECK(back.payload_len == rx->payload_len &&
			   !memcmp(back.payload, rx->payload, rx->payload_len));
		FUZZ_CHECK(back.src_ip == self.ip &&
			   back.src_port == self.udp_port &&
			   !memcmp(back.src_mac, self.mac, 6));
	}
	free(out);
}

static void check_arp(const uint8_t *f, size_t len, const struct ns_rx *rx)
{
	FUZZ_CHECK(len >= NS_ETH_LEN + NS_ARP_LEN);
	uint8_t *r = malloc(len);
	FUZZ_CHECK(r != NULL);
	memcpy(r, f, len);
	size_t n = ns_arp_reply_in_place(&self, r, len);
	FUZZ_CHECK(n >= NS_ETH_LEN + NS_ARP_LEN && n <= len && n <= 60);
	FUZZ_CHECK(!memcmp(r, rx->src_mac, 6) && !memcmp(r + 6, self.mac, 6));
	struct ns_self asker = { .ip = rx->src_ip };
	memcpy(asker.mac, rx->src_mac, 6);
	struct ns_rx back;
	int v = ns_parse(&asker, r, n, 0, &back);
	if (self.ip != 0) {
		FUZZ_CHECK(v == NS_ARP_LEARN);
		FUZZ_CHECK(back.src_ip == self.ip &&
			   !memcmp(back.src_mac, self.mac, 6));
	}
	free(r);
}

static void check_icmp(const uint8_t *f, size_t len, const struct ns_rx *rx)
{
	FUZZ_CHECK(rx->l3_off == NS_ETH_LEN && rx->l4_off > rx->l3_off &&
		   rx->l3_off + (size_t)rx->ip_len <= len &&
		   rx->l4_off + NS_ICMP_LEN <= rx->l3_off + (size_t)rx->ip_len);
	/* room for the Ethernet minimum the reply may claim */
	size_t cap = len < 60 ? 60 : len;
	uint8_t *r = calloc(1, cap);
	FUZZ_CHECK(r != NULL);
	memcpy(r, f, len);
	size_t n = ns_icmp_echo_reply_in_place(r, len, rx);
	size_t ip_end = rx->l3_off + (size_t)rx->ip_len;
	FUZZ_CHECK(n == (ip_end < 60 ? 60 : ip_end));
	const uint8_t *ip = r + rx->l3_off, *icmp = r + rx->l4_off;
	size_t ihl = rx->l4_off - rx->l3_off;
	FUZZ_CHECK(ref_sum(ip, ihl, 0) == 0);
	FUZZ_CHECK(ref_sum(icmp, rx->ip_len - ihl, 0) == 0);
	FUZZ_CHECK(icmp[0] == 0 && icmp[1] == 0);
	FUZZ_CHECK(!memcmp(r, f + 6, 6) && !memcmp(r + 6, f, 6));
	FUZZ_CHECK(!memcmp(ip + 12, f + rx->l3_off + 16, 4) &&
		   !memcmp(ip + 16, f + rx->l3_off + 12, 4));
	/* the asker sees an echo reply: not a request it would answer */
	struct ns_self asker = { .ip = rx->src_ip };
	memcpy(asker.mac, rx->src_mac, 6);
	struct ns_rx back;
	int v = ns_parse(&asker, r, ip_end, 0, &back);
	FUZZ_CHECK(v == NS_DROP && back.reason == NS_DROP_ICMP_OTHER);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FRAME_MAX + 1)
		return 0;
	unsigned flags = data[0];
	size_t len = size - 1;
	/* a heap copy of exactly len bytes: ASan sees any read past it */
	uint8_t *f = malloc(len ? len : 1);
	FUZZ_CHECK(f != NULL);
	memcpy(f, data + 1, len);
	repair(f, len, flags);

	struct ns_rx rx, again;
	unsigned rx_flags = flags & (NS_RX_IP_CKSUM_GOOD | NS_RX_L4_CKSUM_GOOD);
	int v = ns_parse(&self, f, len, rx_flags, &rx);
	FUZZ_CHECK(v == rx.verdict);
	FUZZ_CHECK(v >= NS_DROP && v <= NS_ICMP_ECHO);
	FUZZ_CHECK(ns_parse(&self, f, len, rx_flags, &again) == v &&
		   again.reason == rx.reason &&
		   again.payload_len == rx.payload_len);
	switch (v) {
	case NS_DROP:
		FUZZ_CHECK(rx.reason >= 0 && rx.reason < NS_DROP_MAX);
		FUZZ_CHECK(strcmp(ns_drop_name(rx.reason), "?") != 0);
		break;
	case NS_UDP:
		check_udp(f, len, &rx);
		break;
	case NS_ARP_REQUEST:
		check_arp(f, len, &rx);
		break;
	case NS_ARP_LEARN:
		FUZZ_CHECK(rx.src_ip != 0 && len >= NS_ETH_LEN + NS_ARP_LEN);
		break;
	case NS_ICMP_ECHO:
		check_icmp(f, len, &rx);
		break;
	}
	free(f);
	return 0;
}
