/*
 * The DPDK driver's network stack: Ethernet II, ARP (IPv4 over Ethernet),
 * IPv4, UDP and ICMP echo, as pure functions over byte buffers (no DPDK,
 * no allocation, no global state), so that every parse and build rule is
 * unit-tested (tests/dpdk/netstack_test.c) and benchmarked
 * (perf/dataplane_bench.c) without a NIC.
 *
 * Wire formats (all multi-byte fields big-endian):
 *   Ethernet  0 dst mac[6] | 6 src mac[6] | 12 ethertype u16
 *             (0x0800 IPv4, 0x0806 ARP; VLAN tags are not accepted)
 *   ARP       14: htype u16 = 1 | ptype u16 = 0x0800 | hlen u8 = 6 |
 *             plen u8 = 4 | op u16 (1 request, 2 reply) | sha[6] | spa[4] |
 *             tha[6] | tpa[4]                              (28 bytes)
 *   IPv4      14: ver/ihl u8 | tos u8 | total_len u16 | id u16 |
 *             flags/frag_off u16 | ttl u8 | proto u8 | cksum u16 | src[4] |
 *             dst[4] | options (ihl*4 - 20 bytes)
 *   UDP       sport u16 | dport u16 | len u16 | cksum u16 (0: none)
 *   ICMP echo type u8 (8 request, 0 reply) | code u8 | cksum u16 | id u16 |
 *             seq u16 | data
 *
 * Validity rules (ns_parse), checked in this order, first failure wins:
 *   1. at least 14 bytes, else TRUNCATED;
 *   2. ethertype ARP or IPv4, else NON_IPV4;
 *   3. destination MAC ours, broadcast, or (ARP only) anything, else
 *      WRONG_DST_MAC (a promiscuous port sees its neighbours' traffic);
 *   4. ARP: 28 bytes present (TRUNCATED), htype/ptype/hlen/plen as above
 *      (BAD_ARP); a request for our IP -> NS_ARP_REQUEST, a reply or a
 *      request for another IP from a sender -> NS_ARP_LEARN (the sender is
 *      still learned), else BAD_ARP;
 *   5. IPv4: 20 bytes present (TRUNCATED), version 4 and IHL >= 5
 *      (BAD_IP_HEADER), IHL*4 <= total_len <= frame bytes - 14 (TRUNCATED
 *      when the frame is shorter than total_len, BAD_IP_HEADER otherwise;
 *      Ethernet padding past total_len is ignored), header checksum
 *      (BAD_IP_CHECKSUM, skipped when the NIC vouched for it);
 *   6. destination IP ours, else WRONG_DST_IP;
 *   7. MF set or fragment offset non-zero: FRAGMENT (never reassembled);
 *   8. ICMP: echo request with a valid checksum -> NS_ICMP_ECHO; a bad
 *      checksum BAD_ICMP; other ICMP types ICMP_OTHER;
 *   9. UDP: 8 bytes (TRUNCATED), 8 <= udp len <= IP payload (BAD_UDP_LENGTH),
 *      destination port ours (WRONG_UDP_PORT), checksum when non-zero
 *      (BAD_UDP_CHECKSUM; skipped when the NIC vouched) -> NS_UDP with the
 *      payload of udp len - 8 bytes;
 *  10. any other IP protocol: OTHER_IP_PROTO.
 */
#ifndef SLUICE_DRIVERS_NETSTACK_H
#define SLUICE_DRIVERS_NETSTACK_H

#include <stddef.h>
#include <stdint.h>

#define NS_ETH_LEN 14u
#define NS_ARP_LEN 28u
#define NS_IP_LEN 20u
#define NS_UDP_LEN 8u
#define NS_ICMP_LEN 8u
/* Eth + IPv4 (no options) + UDP: what ns_build_udp writes before the payload */
#define NS_UDP_HDRS (NS_ETH_LEN + NS_IP_LEN + NS_UDP_LEN)
#define NS_ETHERTYPE_IPV4 0x0800
#define NS_ETHERTYPE_ARP 0x0806

/* Drop reasons: enum and labels from one table. */
#define NS_DROP_REASONS(X)                                 \
	X(TRUNCATED, "truncated")                          \
	X(NON_IPV4, "non_ipv4")                            \
	X(WRONG_DST_MAC, "wrong_dst_mac")                  \
	X(BAD_ARP, "bad_arp")                              \
	X(BAD_IP_HEADER, "bad_ip_header")                  \
	X(BAD_IP_CHECKSUM, "bad_ip_checksum")              \
	X(WRONG_DST_IP, "wrong_dst_ip")                    \
	X(FRAGMENT, "fragment")                            \
	X(BAD_ICMP, "bad_icmp")                            \
	X(ICMP_OTHER, "icmp_other")                        \
	X(BAD_UDP_LENGTH, "bad_udp_length")                \
	X(WRONG_UDP_PORT, "wrong_udp_port")                \
	X(BAD_UDP_CHECKSUM, "bad_udp_checksum")            \
	X(OTHER_IP_PROTO, "other_ip_proto")

enum ns_drop {
#define NS_X(e, s) NS_DROP_##e,
	NS_DROP_REASONS(NS_X)
#undef NS_X
	NS_DROP_MAX
};

/* "truncated", ...; "?" out of range. */
const char *ns_drop_name(int reason);

enum ns_verdict {
	NS_DROP = 0,      /* rx.reason says why */
	NS_UDP,           /* a datagram for us: rx.payload, rx.src_* */
	NS_ARP_REQUEST,   /* someone asks for our MAC: answer it */
	NS_ARP_LEARN,     /* an ARP reply (or a request for someone else) */
	NS_ICMP_ECHO,     /* an echo request for us: answer it */
};

/* Our addresses (ip and port in network byte order). */
struct ns_self {
	uint8_t mac[6];
	uint32_t ip;
	uint16_t udp_port;
};

/* Flags to ns_parse: checks the NIC already did (mbuf ol_flags). */
#define NS_RX_IP_CKSUM_GOOD 1u
#define NS_RX_L4_CKSUM_GOOD 2u

struct ns_rx {
	int verdict;              /* enum ns_verdict */
	int reason;               /* enum ns_drop when NS_DROP */
	uint8_t src_mac[6];       /* Ethernet source (ARP: sender hardware) */
	uint32_t src_ip;          /* network order (ARP: sender protocol) */
	uint16_t src_port;        /* network order (UDP) */
	uint16_t l3_off;          /* offset of the IPv4 / ARP header */
	uint16_t l4_off;          /* offset of the UDP / ICMP header */
	uint16_t ip_len;          /* IPv4 total length */
	const uint8_t *payload;   /* UDP payload (inside the frame) */
	uint32_t payload_len;
};

/*
 * Classify one frame of len bytes (rules in the opening comment).  Never
 * reads past frame + len.  Returns rx->verdict.
 */
int ns_parse(const struct ns_self *self, const uint8_t *frame, size_t len,
	     unsigned flags, struct ns_rx *rx);

/* Internet checksum (RFC 1071) of len bytes, folded and complemented,
 * starting from a partial 32-bit sum (0, or ns_pseudo_sum()). */
uint16_t ns_cksum(const void *p, size_t len, uint32_t sum);
/* Partial sum of the IPv4 pseudo-header (addresses network order, length
 * host order). */
uint32_t ns_pseudo_sum(uint32_t src_ip, uint32_t dst_ip, uint8_t proto,
		       uint16_t l4_len);

/*
 * Turn the ARP request at frame (verdict NS_ARP_REQUEST) into our reply,
 * in place (same length).  Returns the frame length to send (>= 42).
 */
size_t ns_arp_reply_in_place(const struct ns_self *self, uint8_t *frame,
			     size_t len);

/* Write a broadcast ARP request for target_ip (network order) into out
 * (cap >= 60: padded to the Ethernet minimum).  Returns 60, or 0 if cap is
 * too small. */
size_t ns_build_arp_request(const struct ns_self *self, uint32_t target_ip,
			    uint8_t *out, size_t cap);

/*
 * Turn the echo request at frame (verdict NS_ICMP_ECHO, rx from ns_parse)
 * into the echo reply, in place: MACs and IPs swapped, type 0, TTL 64,
 * checksums recomputed (incrementally for ICMP).  Returns the length to
 * send (Ethernet padding dropped, at least 60).
 */
size_t ns_icmp_echo_reply_in_place(uint8_t *frame, size_t len,
				   const struct ns_rx *rx);

/* ns_build_udp modes for the two checksums. */
#define NS_TX_IP_CKSUM 1u     /* compute the IPv4 header checksum */
#define NS_TX_UDP_CKSUM 2u    /* compute the UDP checksum over the payload */
#define NS_TX_UDP_PHDR 4u     /* write only the pseudo-header sum (offload) */

/*
 * Write Ethernet + IPv4 + UDP headers (NS_UDP_HDRS bytes) at out for a
 * payload of payload_len bytes that the caller has placed (or will place,
 * unless NS_TX_UDP_CKSUM) at out + NS_UDP_HDRS.  ip_id: the IPv4 id.
 * Returns the frame length (headers + payload), or 0 if payload_len is over
 * 65507.
 */
size_t ns_build_udp(const struct ns_self *self, const uint8_t dst_mac[6],
		    uint32_t dst_ip, uint16_t dst_port, uint8_t *out,
		    size_t payload_len, uint16_t ip_id, unsigned mode);

#endif
