/*
 * drivers/netstack.c: every validity rule of netstack.h on hand-built
 * frames: ARP request/reply, ICMP echo reply, IPv4/UDP checksums
 * (checked against an independent byte-wise RFC 1071 sum), fragments
 * refused, truncated frames at every length, the drop reason of each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "drivers/netstack.h"

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static struct ns_self self_addr(void)
{
	struct ns_self s = { .mac = { 0x02, 0, 0, 0, 0, 0x02 } };
	s.ip = htonl(0x0a580002);       /* 10.88.0.2 */
	s.udp_port = htons(9093);
	return s;
}

/* The reference checksum: big-endian words, byte by byte. */
static uint16_t ref_cksum(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A datagram from the peer to us, built with ns_build_udp (roles swapped). */
static size_t peer_datagram(uint8_t *f, const uint8_t *payload, size_t n)
{
	struct ns_self us = self_addr();
	struct ns_self peer = { .ip = htonl(0x0a580001), .udp_port = htons(40000) };
	memcpy(peer.mac, peer_mac, 6);
	memcpy(f + NS_UDP_HDRS, payload, n);
	return ns_build_udp(&peer, us.mac, us.ip, us.udp_port, f, n, 7,
			    NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM);
}

static void test_udp_roundtrip(void **state)
{
	(void)state;
	struct ns_self s = self_addr();
	uint8_t f[2048], payload[1001];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	size_t len = peer_datagram(f, payload, sizeof(payload));
	assert_int_equal(len, NS_UDP_HDRS + sizeof(payload));
	/* both checksums verify with the reference */
	assert_int_equal(ref_cksum(f + 14, 20, 0), 0);
	uint32_t ph = 0;
	ph += 0x0a58 + 0x0001 + 0x0a58 + 0x0002 + 17 + (8 + 1001);
	assert_int_equal(ref_cksum(f + 34, 8 + 1001, ph), 0);
	struct ns_rx rx;
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_UDP);
	assert_int_equal(rx.payload_len, sizeof(payload));
	assert_memory_equal(rx.payload, payload, sizeof(payload));
	assert_int_equal(rx.src_ip, htonl(0x0a580001));
	assert_int_equal(rx.src_port, htons(40000));
	assert_memory_equal(rx.src_mac, peer_mac, 6);
	/* Ethernet padding past the IP total length is ignored */
	uint8_t small[64] = { 0 };
	size_t sl = peer_datagram(small, (const uint8_t *)"ab", 2);
	assert_int_equal(sl, 44);
	assert_int_equal(ns_parse(&s, small, 60, 0, &rx), NS_UDP);
	assert_int_equal(rx.payload_len, 2);
	/* checksum 0 means none */
	f[40] = f[41] = 0;
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_UDP);
}

static void test_checksums_bad(void **state)
{
	(void)state;
	struct ns_self s = self_addr();
	uint8_t f[256], p[100] = { 1, 2, 3 };
	struct ns_rx rx;
	size_t len = peer_datagram(f, p, sizeof(p));
	f[14 + 10] ^= 0x55; /* IP checksum */
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_DROP);
	assert_int_equal(rx.reason, NS_DROP_BAD_IP_CHECKSUM);
	/* the NIC vouched: not re-checked */
	assert_int_equal(ns_parse(&s, f, len, NS_RX_IP_CKSUM_GOOD, &rx), NS_UDP);
	len = peer_datagram(f, p, sizeof(p));
	f[NS_UDP_HDRS + 50] ^= 1; /* payload bit flip */
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_DROP);
	assert_int_equal(rx.reason, NS_DROP_BAD_UDP_CHECKSUM);
	assert_int_equal(ns_parse(&s, f, len, NS_RX_L4_CKSUM_GOOD, &rx), NS_UDP);
	/* odd lengths: every payload size 0..300 verifies */
	for (size_t n = 0; n <= 300; n++) {
		uint8_t g[512], q[300];
		for (size_t i = 0; i < n; i++)
			q[i] = (uint8_t)(0xff - i);
		size_t gl = peer_datagram(g, q, n);
		assert_int_equal(ns_parse(&s, g, gl, 0, &rx), NS_UDP);
		assert_int_equal(rx.payload_len, n);
	}
	/* offload mode: the pseudo-header sum only (what the NIC completes) */
	struct ns_self peer = { .ip = htonl(0x0a580001), .udp_port = htons(1) };
	size_t gl = ns_build_udp(&peer, s.mac, s.ip, s.udp_port, f, 10, 1,
				 NS_TX_UDP_PHDR);
	assert_int_equal(gl, NS_UDP_HDRS + 10);
	assert_int_equal(f[24] | f[25], 0); /* no IP checksum: the NIC's job */
	uint32_t ph = 0x0a58 + 0x0001 + 0x0a58 + 0x0002 + 17 + 18;
	while (ph >> 16)
		ph = (ph & 0xffff) + (ph >> 16);
	assert_int_equal(f[40] << 8 | f[41], ph);
}

static void expect_drop(const uint8_t *f, size_t len, int reason)
{
	struct ns_self s = self_addr();
	struct ns_rx rx;
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_DROP);
	if (rx.reason != reason)
		fail_msg("expected %s got %s", ns_drop_name(reason),
			 ns_drop_name(rx.reason));
}

static void fix_ip_cksum(uint8_t *f)
{
	f[24] = f[25] = 0;
	uint16_t c = ref_cksum(f + 14, (size_t)(f[14] & 15) * 4, 0);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
}

static void test_drops(void **state)
{
	(void)state;
	uint8_t f[256], g[256], p[40] = { 9 };
	size_t len = peer_datagram(f, p, sizeof(p));
	/* truncated at every length short of the IP total length */
	for (size_t n = 0; n < len; n++) {
		struct ns_self s = self_addr();
		struct ns_rx rx;
		assert_int_equal(ns_parse(&s, f, n, 0, &rx), NS_DROP);
		assert_int_equal(rx.reason, NS_DROP_TRUNCATED);
	}
	memcpy(g, f, len);
	g[12] = 0x86; g[13] = 0xdd; /* IPv6 */
	expect_drop(g, len, NS_DROP_NON_IPV4);
	memcpy(g, f, len);
	g[0] = 0x04; /* another unicast MAC */
	expect_drop(g, len, NS_DROP_WRONG_DST_MAC);
	memcpy(g, f, len);
	g[14] = 0x65; /* version 6 */
	expect_drop(g, len, NS_DROP_BAD_IP_HEADER);
	memcpy(g, f, len);
	g[14] = 0x44; /* IHL 4 */
	expect_drop(g, len, NS_DROP_BAD_IP_HEADER);
	memcpy(g, f, len);
	g[16] = 0; g[17] = 10; /* total length < IHL */
	fix_ip_cksum(g);
	expect_drop(g, len, NS_DROP_BAD_IP_HEADER);
	memcpy(g, f, len);
	g[33] = 3; /* 10.88.0.3 */
	fix_ip_cksum(g);
	expect_drop(g, len, NS_DROP_WRONG_DST_IP);
	/* fragments: MF, and a non-zero offset */
	memcpy(g, f, len);
	g[20] = 0x20; g[21] = 0; /* MF */
	fix_ip_cksum(g);
	expect_drop(g, len, NS_DROP_FRAGMENT);
	memcpy(g, f, len);
	g[20] = 0; g[21] = 0x10; /* offset 128 */
	fix_ip_cksum(g);
	expect_drop(g, len, NS_DROP_FRAGMENT);
	memcpy(g, f, len);
	g[23] = 6; /* TCP */
	fix_ip_cksum(g);
	expect_drop(g, len, NS_DROP_OTHER_IP_PROTO);
	memcpy(g, f, len);
	g[36] = 0x23; g[37] = 0x29; /* port 9001 */
	expect_drop(g, len, NS_DROP_WRONG_UDP_PORT);
	memcpy(g, f, len);
	g[38] = 0; g[39] = 100; /* UDP length > IP payload */
	expect_drop(g, len, NS_DROP_BAD_UDP_LENGTH);
	memcpy(g, f, len);
	g[38] = 0; g[39] = 4; /* UDP length < 8 */
	expect_drop(g, len, NS_DROP_BAD_UDP_LENGTH);
	assert_string_equal(ns_drop_name(NS_DROP_FRAGMENT), "fragment");
	assert_string_equal(ns_drop_name(NS_DROP_MAX), "?");
}

static void test_arp(void **state)
{
	(void)state;
	struct ns_self s = self_addr();
	struct ns_self peer = { .ip = htonl(0x0a580001) };
	memcpy(peer.mac, peer_mac, 6);
	uint8_t f[64];
	struct ns_rx rx;
	/* the peer asks for our IP */
	assert_int_equal(ns_build_arp_request(&peer, s.ip, f, sizeof(f)), 60);
	assert_int_equal(ns_build_arp_request(&peer, s.ip, f, 59), 0);
	assert_int_equal(ns_parse(&s, f, 60, 0, &rx), NS_ARP_REQUEST);
	assert_memory_equal(rx.src_mac, peer_mac, 6);
	assert_int_equal(rx.src_ip, peer.ip);
	assert_int_equal(ns_arp_reply_in_place(&s, f, 60), 60);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 6, s.mac, 6);
	assert_int_equal(f[20] << 8 | f[21], 2);
	assert_memory_equal(f + 22, s.mac, 6);
	assert_memory_equal(f + 28, &s.ip, 4);
	assert_memory_equal(f + 32, peer_mac, 6);
	assert_memory_equal(f + 38, &peer.ip, 4);
	/* our reply, seen by the peer, is a reply it learns from */
	assert_int_equal(ns_parse(&peer, f, 60, 0, &rx), NS_ARP_LEARN);
	assert_memory_equal(rx.src_mac, s.mac, 6);
	assert_int_equal(rx.src_ip, s.ip);
	/* a request for another IP: learn the sender, do not answer */
	ns_build_arp_request(&peer, htonl(0x0a580009), f, sizeof(f));
	assert_int_equal(ns_parse(&s, f, 60, 0, &rx), NS_ARP_LEARN);
	/* malformed: hlen 8, truncated */
	ns_build_arp_request(&peer, s.ip, f, sizeof(f));
	f[18] = 8;
	expect_drop(f, 60, NS_DROP_BAD_ARP);
	ns_build_arp_request(&peer, s.ip, f, sizeof(f));
	expect_drop(f, 41, NS_DROP_TRUNCATED);
}

static void test_icmp_echo(void **state)
{
	(void)state;
	struct ns_self s = self_addr();
	uint8_t f[128] = { 0 };
	/* echo request: 10.88.0.1 -> 10.88.0.2, id 0x1234 seq 1, 20 bytes */
	memcpy(f, s.mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 8;
	uint8_t *ip = f + 14;
	ip[0] = 0x45; ip[3] = 28 + 20; ip[8] = 64; ip[9] = 1;
	uint32_t src = htonl(0x0a580001);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &s.ip, 4);
	fix_ip_cksum(f);
	uint8_t *ic = ip + 20;
	ic[0] = 8; ic[4] = 0x12; ic[5] = 0x34; ic[7] = 1;
	for (int i = 0; i < 20; i++)
		ic[8 + i] = (uint8_t)i;
	uint16_t c = ref_cksum(ic, 28, 0);
	ic[2] = (uint8_t)(c >> 8); ic[3] = (uint8_t)c;
	size_t len = 14 + 48;
	struct ns_rx rx;
	assert_int_equal(ns_parse(&s, f, len, 0, &rx), NS_ICMP_ECHO);
	assert_int_equal(ns_icmp_echo_reply_in_place(f, len, &rx), 62);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 6, s.mac, 6);
	assert_memory_equal(ip + 12, &s.ip, 4);
	assert_memory_equal(ip + 16, &src, 4);
	assert_int_equal(ic[0], 0);
	assert_int_equal(ref_cksum(ip, 20, 0), 0);
	assert_int_equal(ref_cksum(ic, 28, 0), 0);
	assert_int_equal(ic[8 + 19], 19);
	/* corrupted ICMP checksum; other ICMP types */
	ic[0] = 8;
	ic[2] ^= 1;
	memcpy(ip + 16, &s.ip, 4);
	memcpy(ip + 12, &src, 4);
	fix_ip_cksum(f);
	memcpy(f, s.mac, 6);
	expect_drop(f, len, NS_DROP_BAD_ICMP);
	ic[0] = 13; /* timestamp */
	expect_drop(f, len, NS_DROP_ICMP_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_roundtrip),
		cmocka_unit_test(test_checksums_bad),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_icmp_echo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
